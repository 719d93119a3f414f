//! Declaring a secondary domain of a reseller account: its delegated admin lives in another
//! domain (usually the primary), so before anything is written Google must confirm, with the
//! admin's own `domains.list`, that the admin's customer owns the declared domain, that Google
//! verified it, and that it is a domain rather than an alias; and, with `users.get`, that the
//! admin is a super admin. Each refusal is a field violation naming the exact reason.
//!
//! The delegated admin may also be the key's own service account (a *delegated admin service
//! account*: no domain-wide delegation, the service account holds an admin role in the
//! customer). Its `domains.list`, read as itself, is the confirmation; there is no user to
//! check.

use support_access_google::model::Domain;
use support_access_google::{ErrorClass, GoogleError};
use support_access_store::domains::DomainRecord;

use crate::error::ApiError;
use support_access_engine::google_access::{AccessError, GoogleAccess};

const DOMAIN_FIELD: &str = "domain.domain_name";
const ADMIN_FIELD: &str = "domain.delegated_admin";

/// Confirms with Google that `record`'s delegated admin is a super admin of the customer that
/// owns `record.domain_name` as a verified primary or secondary domain.
pub async fn confirm_customer_domain(
    google: &GoogleAccess,
    record: &DomainRecord,
) -> Result<(), ApiError> {
    let admin = record.delegated_admin.as_str();
    let client = google.domain(record).await.map_err(|e| match e {
        AccessError::UnknownCredential(_) => ApiError::invalid("domain.credential", e.to_string()),
        AccessError::Google(e) => refused(admin, &e),
    })?;
    let is_service_account = admin.to_ascii_lowercase().ends_with(".gserviceaccount.com");
    if is_service_account && !client.acts_as_itself() {
        return Err(ApiError::invalid(
            ADMIN_FIELD,
            format!(
                "{admin} is a service account other than the one of key '{}': a service account                  acts only as itself, so name the key's own service account (a delegated admin                  service account) or a super admin of the customer",
                record.credential
            ),
        ));
    }
    let domains = client
        .domains_list()
        .await
        .map_err(|e| refused(admin, &e))?;
    check_domain_standing(&domains, &record.domain_name, admin)?;
    if client.acts_as_itself() {
        // The service account read the customer's domains as itself: it holds an admin role
        // there. What that role allows, Google says step by step.
        return Ok(());
    }
    let user = client
        .users_get(admin)
        .await
        .map_err(|e| refused(admin, &e))?;
    if !user.is_admin {
        return Err(ApiError::invalid(
            ADMIN_FIELD,
            format!(
                "{admin} is not a super administrator of its Google customer: make it one, or \
                 name one of the customer's super admins"
            ),
        ));
    }
    Ok(())
}

/// What the admin's `domains.list` says of `domain`: a verified domain of the customer passes;
/// an unverified one, an alias or an absent one is refused with its reason.
fn check_domain_standing(domains: &[Domain], domain: &str, admin: &str) -> Result<(), ApiError> {
    if let Some(found) = domains
        .iter()
        .find(|d| d.domain_name.eq_ignore_ascii_case(domain))
    {
        if found.verified {
            return Ok(());
        }
        return Err(ApiError::invalid(
            DOMAIN_FIELD,
            format!(
                "{domain} is a secondary domain of the Google customer of {admin}, but Google has \
                 not verified it: users cannot be created there until it is verified (Admin \
                 console > Account > Domains > Manage domains)"
            ),
        ));
    }
    if let Some(alias) = domains
        .iter()
        .flat_map(|d| &d.domain_aliases)
        .find(|a| a.domain_alias_name.eq_ignore_ascii_case(domain))
    {
        return Err(ApiError::invalid(
            DOMAIN_FIELD,
            format!(
                "{domain} is a domain alias of {}, not a domain: Google creates no accounts in \
                 an alias; declare {} instead",
                alias.parent_domain_name, alias.parent_domain_name
            ),
        ));
    }
    let names: Vec<&str> = domains.iter().map(|d| d.domain_name.as_str()).collect();
    Err(ApiError::invalid(
        DOMAIN_FIELD,
        format!(
            "{domain} is not a domain of the Google customer of {admin} (its domains: {}): a \
             domain of another customer needs a delegated admin of that customer",
            names.join(", ")
        ),
    ))
}

/// A Google refusal while confirming: the admin or the key cannot be used (a field violation),
/// or Google could not be reached (UNAVAILABLE, retry later).
fn refused(admin: &str, error: &GoogleError) -> ApiError {
    match error.class() {
        ErrorClass::Auth(_) | ErrorClass::PermissionDenied | ErrorClass::NotFound => {
            ApiError::invalid(
                ADMIN_FIELD,
                format!(
                    "Google refused to confirm the domain as {admin}, who must be a super admin \
                     of the customer that owns it: {error}"
                ),
            )
        }
        _ => ApiError::Unavailable {
            message: format!("cannot confirm the domain with Google now: {error}"),
            retry_after: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use support_access_google::model::{Domain, DomainAlias};

    use super::check_domain_standing;
    use crate::error::ApiError;

    fn domains() -> Vec<Domain> {
        let domain = |name: &str, is_primary, verified| Domain {
            domain_name: name.into(),
            is_primary,
            verified,
            ..Domain::default()
        };
        let mut primary = domain("one.example", true, true);
        primary.domain_aliases = vec![DomainAlias {
            domain_alias_name: "mail.example".into(),
            parent_domain_name: "one.example".into(),
            verified: true,
            ..DomainAlias::default()
        }];
        vec![
            primary,
            domain("eu.example", false, true),
            domain("new.example", false, false),
        ]
    }

    fn violation(domain: &str) -> String {
        match check_domain_standing(&domains(), domain, "admin@one.example") {
            Err(ApiError::InvalidArgument(v)) => {
                assert_eq!(v[0].field, "domain.domain_name");
                v[0].description.clone()
            }
            other => panic!("{domain}: {other:?}"),
        }
    }

    #[test]
    fn verified_domains_of_the_customer_pass() {
        for ok in ["one.example", "EU.example"] {
            assert!(check_domain_standing(&domains(), ok, "admin@one.example").is_ok());
        }
    }

    #[test]
    fn unverified_alias_and_foreign_domains_are_refused_with_their_reason() {
        assert!(violation("new.example").contains("Google has not verified it"));
        assert!(violation("mail.example").contains("is a domain alias of one.example"));
        let foreign = violation("two.example");
        assert!(
            foreign.contains("not a domain of the Google customer of admin@one.example"),
            "{foreign}"
        );
        assert!(foreign.contains("one.example, eu.example, new.example"));
    }
}
