//! `ResolveSupportAccount`: which of a staff member's accounts opens a given customer's cases.
//!
//! The Customer Care Portal shows only the customers of the reseller domain one signed in with,
//! and the Reseller API lists only the customers of the reseller whose admin is impersonated. So
//! every declared reseller domain the principal may access is asked, through its own delegated
//! admin, for the customer's subscriptions (`subscriptions.list?customerId=…`, which takes the
//! customer's id or primary domain); the first domain that resells to the customer answers, with
//! the staff member's account `{username}@{domain}` and whether the last observation shows that
//! account opening the portal.

use support_access_domain::observed::ObservedDomain;
use support_access_domain::validation::{InvalidValue, Violations};
use support_access_domain::{DomainName, EmailAddress, parse_staff_member_resource};
use support_access_google::{ErrorClass, SubscriptionsQuery};
use support_access_proto::v1;
use support_access_store::{domains, staff};

use super::observation;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// Why a customer could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// Every declared domain the principal may access was asked, and none resells to it.
    #[error(
        "no declared reseller domain resells to customer {customer:?} (asked: {asked}); check the customer's primary domain or id, or declare the reseller domain that resells to it"
    )]
    NotResold {
        /// The customer as the caller named it.
        customer: String,
        /// The domains asked, comma-separated (or a note that there were none).
        asked: String,
    },
    /// Anything else, as the API reports it.
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<ResolveError> for ApiError {
    fn from(error: ResolveError) -> ApiError {
        match error {
            ResolveError::Api(e) => e,
            ResolveError::NotResold { ref customer, .. } => ApiError::NotFoundBecause {
                resource_type: "supportaccess.googleapis.com/Customer",
                name: customer.clone(),
                reason: "CUSTOMER_NOT_RESOLD",
                message: error.to_string(),
            },
        }
    }
}

/// How the caller named the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CustomerKey {
    /// Google's customer id, `C…`.
    Id(String),
    /// The customer's primary domain.
    Domain(DomainName),
}

impl CustomerKey {
    fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(InvalidValue::new(
                "must name the customer: its primary domain (customer.example) or its Google customer id (C…)",
            ));
        }
        let looks_like_id = raw.starts_with('C')
            && raw.len() <= 20
            && raw.len() >= 2
            && raw.chars().all(|c| c.is_ascii_alphanumeric());
        if looks_like_id {
            return Ok(CustomerKey::Id(raw.to_owned()));
        }
        DomainName::parse(raw).map(CustomerKey::Domain).map_err(|e| {
            InvalidValue::new(format!(
                "must be the customer's primary domain (customer.example) or its Google customer id (C…): {e}"
            ))
        })
    }

    fn as_query(&self) -> &str {
        match self {
            CustomerKey::Id(id) => id,
            CustomerKey::Domain(domain) => domain.as_str(),
        }
    }
}

/// `ResolveSupportAccount`.
pub async fn resolve_support_account(
    state: &AppState,
    principal: &Principal,
    request: &v1::ResolveSupportAccountRequest,
) -> Result<v1::ResolveSupportAccountResponse, ResolveError> {
    let mut v = Violations::default();
    let staff_id = v.check(
        "staff_member",
        parse_staff_member_resource(&request.staff_member),
    );
    let customer = v.check("customer", CustomerKey::parse(&request.customer));
    v.finish().map_err(ApiError::InvalidArgument)?;
    let (Some(staff_id), Some(customer)) = (staff_id, customer) else {
        unreachable!("violations were reported above");
    };

    let mut conn = state.conn().await?;
    let member = staff::get(&mut conn, staff_id.as_str())
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::NotFound {
            resource_type: super::staff::RESOURCE_TYPE,
            name: request.staff_member.clone(),
        })?;
    let mut records = Vec::new();
    for name in domains::names(&mut conn).await.map_err(ApiError::from)? {
        if principal.may_access(&name)
            && let Some(record) = domains::get(&mut conn, &name)
                .await
                .map_err(ApiError::from)?
        {
            records.push(record);
        }
    }
    drop(conn);

    let mut failures: Vec<(String, ApiError)> = Vec::new();
    for record in &records {
        let client = match observation::google_client(state, record).await {
            Ok(client) => client,
            Err(e) => {
                failures.push((record.domain_name.clone(), e));
                continue;
            }
        };
        let query = SubscriptionsQuery {
            customer_id: Some(customer.as_query().to_owned()),
            customer_name_prefix: None,
        };
        let subscriptions = match client
            .reseller_subscriptions_list(query)
            .collect_all()
            .await
        {
            Ok(subscriptions) => subscriptions,
            // Google answers a customer this reseller does not serve with 403 or 404.
            Err(e)
                if matches!(
                    e.class(),
                    ErrorClass::PermissionDenied | ErrorClass::NotFound | ErrorClass::Invalid
                ) =>
            {
                continue;
            }
            Err(e) => {
                failures.push((
                    record.domain_name.clone(),
                    observation::google_error(&record.domain_name, e),
                ));
                continue;
            }
        };
        let Some(subscription) = subscriptions.first() else {
            continue;
        };
        let email = format!("{}@{}", member.username, record.domain_name);
        let mut conn = state.conn().await?;
        let account_state =
            match observation::last_observation(&mut conn, &record.domain_name).await? {
                Some((observed, _)) => account_state(state, &observed, &email),
                None => v1::CheckState::Unspecified,
            };
        tracing::info!(
            customer = %customer.as_query(),
            domain = %record.domain_name,
            staff_member = %member.id,
            "customer resolved to its reseller domain"
        );
        return Ok(v1::ResolveSupportAccountResponse {
            domain: format!("domains/{}", record.domain_name),
            account_email: email,
            customer_id: subscription.customer_id.clone(),
            customer_domain: subscription.customer_domain.clone(),
            account_state: account_state as i32,
        });
    }

    // Not found anywhere: say so only if every domain could be asked.
    if let Some((domain, error)) = failures.into_iter().next() {
        return Err(match error {
            ApiError::Unavailable {
                message,
                retry_after,
            } => ApiError::Unavailable {
                message: format!("cannot tell which reseller domain resells to {}: {message}", customer.as_query()),
                retry_after,
            },
            ApiError::FailedPrecondition { reason, message } => ApiError::FailedPrecondition {
                reason,
                message: format!(
                    "cannot tell which reseller domain resells to {}: asking {domain} failed: {message}",
                    customer.as_query()
                ),
            },
            other => other,
        }
        .into());
    }
    let asked: Vec<&str> = records.iter().map(|r| r.domain_name.as_str()).collect();
    Err(ResolveError::NotResold {
        customer: customer.as_query().to_owned(),
        asked: if asked.is_empty() {
            "no reseller domain is declared, or none you may access".to_owned()
        } else {
            asked.join(", ")
        },
    })
}

/// OK when the observation shows the account active with a role that opens the portal.
fn account_state(state: &AppState, observed: &ObservedDomain, email: &str) -> v1::CheckState {
    let Ok(email) = EmailAddress::parse(email) else {
        return v1::CheckState::Unspecified;
    };
    let Some(user) = observed.user(&email) else {
        return v1::CheckState::Missing;
    };
    if user.suspended {
        return v1::CheckState::Drifted;
    }
    if state
        .planner()
        .access
        .portal_roles_of(observed, &user.id)
        .is_empty()
    {
        v1::CheckState::Missing
    } else {
        v1::CheckState::Ok
    }
}

#[cfg(test)]
mod tests {
    use tonic::Status;

    use super::*;

    #[test]
    fn customers_are_named_by_id_or_primary_domain() {
        assert_eq!(
            CustomerKey::parse("C03acme01"),
            Ok(CustomerKey::Id("C03acme01".into()))
        );
        assert_eq!(
            CustomerKey::parse(" Acme.Example ").map(|k| k.as_query().to_owned()),
            Ok("acme.example".into())
        );
        assert!(CustomerKey::parse("").is_err());
        assert!(CustomerKey::parse("not a domain").is_err());
        assert!(CustomerKey::parse("https://acme.example/").is_err());
    }

    #[test]
    fn not_resold_is_not_found_with_the_domains_asked() {
        let status = Status::from(ApiError::from(ResolveError::NotResold {
            customer: "unknown.example".into(),
            asked: "reseller-one.example, reseller-two.example".into(),
        }));
        assert_eq!(status.code(), tonic::Code::NotFound);
        assert!(status.message().contains("unknown.example"));
        assert!(status.message().contains("reseller-two.example"));
    }
}
