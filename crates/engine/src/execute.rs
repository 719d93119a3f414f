//! Carrying out one planned step in Google. Each step is idempotent: Google refuses a duplicate
//! (409 `duplicate`, "Role assignment exists", an existing org unit) and the adapter reports it as
//! [`ErrorClass::AlreadyExists`], which counts as done; a delete of what is already gone counts
//! as done too. What Google returned (ids) is the step's effect, journaled in Postgres.

use std::collections::HashMap;
use std::time::Duration;

use rand::Rng;
use rand::distr::Alphanumeric;
use support_access_domain::observed::ObservedDomain;
use support_access_domain::ownership::MARKER_CUSTOM_TYPE;
use support_access_domain::plan::{RoleRef, Step};
use support_access_google::model::{
    ExternalId, NewOrgUnit, NewRole, NewRoleAssignment, NewUser, NewUserName, RolePrivilege,
    ScopeType, UserChanges,
};
use support_access_google::{DomainClient, ErrorClass, GoogleError, SecretString};

use crate::effect::{EffectIds, StepEffect};

/// Ids learned while a domain is worked on: from the observation and from the steps that
/// created users and roles.
#[derive(Debug, Default, Clone)]
pub struct Resolver {
    user_ids: HashMap<String, String>,
    role_ids: HashMap<String, String>,
}

impl Resolver {
    /// Ids known from an observation.
    pub fn from_observation(observed: &ObservedDomain) -> Self {
        Resolver {
            user_ids: observed
                .users
                .iter()
                .map(|u| (u.email.as_str().to_owned(), u.id.as_str().to_owned()))
                .collect(),
            role_ids: observed
                .roles
                .iter()
                .map(|r| (r.name.clone(), r.id.as_str().to_owned()))
                .collect(),
        }
    }

    /// Learns the ids in a step's effect.
    pub fn learn(&mut self, step: &Step, effect: &StepEffect) {
        match step {
            Step::CreateUser { account, .. } => {
                if let Some(id) = effect.user_id() {
                    self.user_ids
                        .insert(account.as_str().to_owned(), id.as_str().to_owned());
                }
            }
            Step::CreateCustomRole { role_name, .. } => {
                if let Some(id) = effect.role_id() {
                    self.role_ids
                        .insert(role_name.as_str().to_owned(), id.to_owned());
                }
            }
            _ => {}
        }
    }
}

/// How a step ended when it did not succeed.
#[derive(Debug)]
pub enum StepFailure {
    /// Worth trying again later (rate limit, transient error, Google not consistent yet).
    Retry {
        /// What happened.
        detail: String,
        /// Not before this long.
        after: Duration,
    },
    /// This account cannot go on until a person acts; other accounts can.
    Account(String),
    /// Google refused to create or license this account for want of Cloud Identity Free seats
    /// (the user cap); other accounts that exist can go on, new ones would be refused too.
    SeatsExhausted(String),
    /// The whole domain cannot go on (credentials, delegation, privileges).
    Domain(String),
    /// Nothing was sent: the worker's lease is lost or lapsing, or the operation was cancelled.
    NotSent(String),
}

/// Runs `step`; on success returns its effect (what Google returned that later steps or a
/// person need).
pub async fn execute(
    client: &DomainClient,
    step: &Step,
    resolver: &mut Resolver,
) -> Result<StepEffect, StepFailure> {
    let effect = match step {
        Step::CreateOrgUnit { path } => {
            let request = NewOrgUnit {
                name: path.name().to_owned(),
                parent_org_unit_path: path.parent().as_str().to_owned(),
                description: Some("Cloud Identity accounts for the Customer Care Portal (managed by support-access)".into()),
            };
            match client.orgunits_insert(&request).await {
                Ok(unit) => StepEffect::Applied(EffectIds {
                    org_unit_id: Some(unit.org_unit_id),
                    ..EffectIds::default()
                }),
                Err(e) if already(&e) => StepEffect::AlreadyExisted(EffectIds::default()),
                Err(e) => return Err(classify(e)),
            }
        }
        Step::CreateCustomRole {
            role_name,
            privileges,
        } => {
            let request = NewRole {
                role_name: role_name.as_str().to_owned(),
                role_description: Some(
                    "Opens the Customer Care Portal: View Customers and Access Customer Support Cases (managed by support-access)".into(),
                ),
                role_privileges: privileges
                    .iter()
                    .map(|p| RolePrivilege {
                        privilege_name: p.privilege_name.clone(),
                        service_id: p.service_id.clone(),
                    })
                    .collect(),
            };
            match client.roles_insert(&request).await {
                Ok(role) => StepEffect::Applied(role_ids(role.role_id)),
                Err(e) if already(&e) => {
                    let roles = client.roles_list().collect_all().await.map_err(classify)?;
                    match roles
                        .into_iter()
                        .find(|r| r.role_name == role_name.as_str())
                    {
                        Some(role) => StepEffect::AlreadyExisted(role_ids(role.role_id)),
                        None => return Err(classify(e)),
                    }
                }
                Err(e) => return Err(classify(e)),
            }
        }
        Step::CreateUser {
            account,
            names,
            org_unit,
            recovery_email,
            marker,
        } => {
            let request = NewUser {
                primary_email: account.as_str().to_owned(),
                name: NewUserName {
                    given_name: names.given_name.as_str().to_owned(),
                    family_name: names.family_name.as_str().to_owned(),
                },
                // Nobody keeps this password: IssueSignInCredential sets a usable one.
                password: throwaway_password(),
                hash_function: None,
                change_password_at_next_login: Some(true),
                org_unit_path: Some(org_unit.as_str().to_owned()),
                suspended: None,
                recovery_email: Some(recovery_email.as_str().to_owned()),
                include_in_global_address_list: None,
                // The ownership marker: the account says in Google itself that it is ours.
                external_ids: vec![ExternalId::custom(MARKER_CUSTOM_TYPE, marker)],
            };
            match client.users_insert(&request).await {
                Ok(user) => StepEffect::Applied(user_ids(user.id)),
                Err(e) if already(&e) => {
                    // Created by an earlier attempt whose answer was lost, or someone else's
                    // account (or an alias of one): only ours if the address is its primary
                    // address and it carries our marker for this staff member.
                    let user = client.users_get(account.as_str()).await.map_err(classify)?;
                    let ours = user.primary_email.eq_ignore_ascii_case(account.as_str())
                        && user
                            .external_ids
                            .iter()
                            .any(|id| id.is_custom(MARKER_CUSTOM_TYPE) && id.value == *marker);
                    if !ours {
                        return Err(StepFailure::Account(format!(
                            "conflict: {account} already exists and support-access did not create it (Google's account {} is {}); nothing was changed; give the staff member another username, or adopt the account with AdoptSupportAccount",
                            user.id, user.primary_email
                        )));
                    }
                    // Created moments ago by the attempt whose answer was lost: still
                    // propagating, like a user this process created.
                    client.note_user_created(&user);
                    StepEffect::AlreadyExisted(user_ids(user.id))
                }
                Err(e) => return Err(classify(e)),
            }
        }
        Step::UpdateUser {
            user_id,
            move_to_org_unit,
            unsuspend,
            recovery_email,
            names,
            set_marker,
            ..
        } => {
            // Google replaces the whole list: keep the account's other external ids.
            let external_ids = match set_marker {
                Some(marker) => {
                    let user = client.users_get(user_id.as_str()).await.map_err(classify)?;
                    let mut ids: Vec<ExternalId> = user
                        .external_ids
                        .into_iter()
                        .filter(|id| !id.is_custom(MARKER_CUSTOM_TYPE))
                        .collect();
                    ids.push(ExternalId::custom(MARKER_CUSTOM_TYPE, marker));
                    Some(ids)
                }
                None => None,
            };
            let changes = UserChanges {
                external_ids,
                org_unit_path: move_to_org_unit.as_ref().map(|p| p.as_str().to_owned()),
                suspended: unsuspend.then_some(false),
                recovery_email: recovery_email.as_ref().map(|e| e.as_str().to_owned()),
                name: names.as_ref().map(|n| NewUserName {
                    given_name: n.given_name.as_str().to_owned(),
                    family_name: n.family_name.as_str().to_owned(),
                }),
                ..UserChanges::default()
            };
            client
                .users_update(user_id.as_str(), &changes)
                .await
                .map_err(classify)?;
            StepEffect::Applied(user_ids(user_id.as_str().to_owned()))
        }
        Step::AssignLicense { account, sku } => {
            match client
                .license_assignments_insert(&sku.product_id, &sku.sku_id, account.as_str())
                .await
            {
                Ok(_) => StepEffect::applied(),
                Err(e) if already(&e) => StepEffect::AlreadyExisted(EffectIds::default()),
                Err(e) => return Err(classify(e)),
            }
        }
        Step::RemovePaidLicense { account, sku } => {
            match client
                .license_assignments_delete(&sku.product_id, &sku.sku_id, account.as_str())
                .await
            {
                Ok(()) => StepEffect::applied(),
                Err(e) if matches!(e.class(), ErrorClass::NotFound) => StepEffect::AlreadyGone,
                Err(e) => return Err(classify(e)),
            }
        }
        Step::AssignRole {
            account,
            user_id,
            role,
        } => {
            let user_id = match user_id {
                Some(id) => id.as_str().to_owned(),
                None => match resolver.user_ids.get(account.as_str()) {
                    Some(id) => id.clone(),
                    None => {
                        client
                            .users_get(account.as_str())
                            .await
                            .map_err(classify)?
                            .id
                    }
                },
            };
            let role_id = match role {
                RoleRef::Existing { role_id, .. } => role_id.as_str().to_owned(),
                RoleRef::Planned { role_name } => resolver
                    .role_ids
                    .get(role_name.as_str())
                    .cloned()
                    .ok_or_else(|| {
                        StepFailure::Domain(format!(
                            "the custom role {role_name:?} was not created; see the ENSURE_ROLE step"
                        ))
                    })?,
            };
            let request = NewRoleAssignment {
                role_id: role_id.clone(),
                assigned_to: user_id.clone(),
                scope_type: ScopeType::Customer,
                org_unit_id: None,
            };
            match client.role_assignments_insert(&request).await {
                Ok(assignment) => StepEffect::Applied(EffectIds {
                    role_assignment_id: Some(assignment.role_assignment_id),
                    role_id: Some(role_id),
                    user_id: Some(user_id),
                    ..EffectIds::default()
                }),
                Err(e) if already(&e) => StepEffect::AlreadyExisted(EffectIds {
                    role_id: Some(role_id),
                    user_id: Some(user_id),
                    ..EffectIds::default()
                }),
                Err(e) => return Err(classify(e)),
            }
        }
        Step::RemoveRole { assignment_id, .. } => {
            match client.role_assignments_delete(assignment_id.as_str()).await {
                Ok(()) => StepEffect::applied(),
                Err(e) if matches!(e.class(), ErrorClass::NotFound) => StepEffect::AlreadyGone,
                Err(e) => return Err(classify(e)),
            }
        }
        Step::SuspendUser { user_id, .. } => {
            let changes = UserChanges {
                suspended: Some(true),
                ..UserChanges::default()
            };
            client
                .users_update(user_id.as_str(), &changes)
                .await
                .map_err(classify)?;
            StepEffect::applied()
        }
        Step::DeleteUser { user_id, .. } => match client.users_delete(user_id.as_str()).await {
            Ok(()) => StepEffect::applied(),
            Err(e) if matches!(e.class(), ErrorClass::NotFound) => StepEffect::AlreadyGone,
            Err(e) => return Err(classify(e)),
        },
    };
    resolver.learn(step, &effect);
    Ok(effect)
}

fn already(error: &GoogleError) -> bool {
    matches!(error.class(), ErrorClass::AlreadyExists)
}

/// Sorts a Google failure into what the engine does next. Messages are Google's (never a
/// secret: the adapter keeps keys and tokens out of its errors).
pub fn classify(error: GoogleError) -> StepFailure {
    let detail = error.to_string();
    match error.class() {
        ErrorClass::RateLimited { retry_after } => StepFailure::Retry {
            detail,
            after: retry_after.unwrap_or(Duration::from_secs(5)),
        },
        ErrorClass::Transient | ErrorClass::NotYetConsistent => StepFailure::Retry {
            detail,
            after: Duration::from_secs(2),
        },
        ErrorClass::NotSent => StepFailure::NotSent(detail),
        ErrorClass::Auth(_) => StepFailure::Domain(detail),
        // The adapter's message already says what to do for a delegated admin service
        // account; an impersonated super admin gets the domain-wide delegation advice.
        ErrorClass::PermissionDenied if detail.contains("acts as a delegated admin") => {
            StepFailure::Domain(detail)
        }
        ErrorClass::PermissionDenied => StepFailure::Domain(format!(
            "{detail}; make sure the delegated admin is a super administrator and the service account has domain-wide delegation for every scope support-access needs"
        )),
        ErrorClass::LicensesExhausted => {
            StepFailure::SeatsExhausted(format!("{NO_FREE_SEAT} ({detail})"))
        }
        ErrorClass::NotFound
        | ErrorClass::Invalid
        | ErrorClass::AlreadyExists
        | ErrorClass::Unexpected => StepFailure::Account(detail),
    }
}

/// How a step refused for want of Cloud Identity Free seats is described (the engine groups
/// such accounts by it).
pub const NO_FREE_SEAT: &str = "no free Cloud Identity Free seat left";

/// A 32-character random password, for accounts whose first usable credential is issued later.
fn throwaway_password() -> SecretString {
    let password: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    SecretString::from(password)
}

fn user_ids(user_id: String) -> EffectIds {
    EffectIds {
        user_id: Some(user_id),
        ..EffectIds::default()
    }
}

fn role_ids(role_id: String) -> EffectIds {
    EffectIds {
        role_id: Some(role_id),
        ..EffectIds::default()
    }
}
