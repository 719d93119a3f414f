//! The explicit decisions about one staff member's access beyond provisioning and revoking:
//! `RegrantSupportAccess` (the only way a REVOKED (domain, staff member) becomes ACTIVE again)
//! and `AdoptSupportAccount` (an operator approves that the service manages an account it did not
//! create). Both require a reason, which is kept with the decision (`decision_reason`) and
//! written in the audit log, and both start a PROVISION operation for exactly the pairs decided.
//!
//! Like provisioning, the request id is claimed before anything is looked up, so a retried call
//! returns its first operation even when the staff member or domain is gone since.

use support_access_domain::lifecycle::OperationKind;
use support_access_domain::names::RequestId;
use support_access_domain::parse_support_account_resource;
use support_access_domain::validation::Violations;
use support_access_google::ErrorClass;
use support_access_google::products::GOOGLE_WORKSPACE_PRODUCT;
use support_access_proto::google::longrunning::{Operation, operation};
use support_access_proto::v1;
use support_access_store::accounts::{self, Decision};
use support_access_store::{audit, domains, staff};

use super::methods;
use super::mutation::{AuditTarget, Begin, Mutation};
use super::observation;
use super::provision::{self, ScopeRequest};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// The longest reason accepted (characters).
pub const MAX_REASON_CHARS: usize = 1000;

/// Checks a required reason.
fn check_reason(v: &mut Violations, reason: &str, what: &str) {
    if reason.trim().is_empty() {
        v.add("reason", format!("is required: say why {what}"));
    } else if reason.chars().count() > MAX_REASON_CHARS {
        v.add(
            "reason",
            format!("is longer than {MAX_REASON_CHARS} characters"),
        );
    }
}

/// Writes the decision with its reason in the audit log, in the mutation's transaction (the
/// mutation's own event names the operation started).
async fn audit_decision(
    m: &mut Mutation,
    method: &str,
    request_id: Option<&RequestId>,
    domain: Option<String>,
    target: String,
    detail: String,
) -> Result<(), ApiError> {
    let principal = m.principal().id.clone();
    audit::append(
        m.conn(),
        &audit::NewAuditEvent {
            principal,
            method: method.to_owned(),
            request_id: request_id.map(|r| r.as_str().to_owned()),
            domain_name: domain,
            target,
            outcome: "OK".to_owned(),
            detail,
        },
    )
    .await?;
    Ok(())
}

/// `RegrantSupportAccess`.
pub async fn regrant_support_access(
    state: &AppState,
    principal: Principal,
    request: &v1::RegrantSupportAccessRequest,
) -> Result<Operation, ApiError> {
    let mut v = Violations::default();
    check_reason(&mut v, &request.reason, "access is given back");
    let scope = provision::parse_scope(
        &principal,
        &request.domains,
        &request.staff_members,
        &request.request_id,
        Some("name at least one staff member whose access to give back"),
    );
    let scope = match (scope, v.finish()) {
        (Ok(scope), Ok(())) => scope,
        (Err(ApiError::InvalidArgument(mut a)), Err(b)) => {
            a.extend(b);
            return Err(ApiError::InvalidArgument(a));
        }
        (Ok(_), Err(b)) => return Err(ApiError::InvalidArgument(b)),
        (Err(e), _) => return Err(e),
    };
    provision::start_operation(
        state,
        principal,
        methods::REGRANT_SUPPORT_ACCESS,
        request,
        &scope,
        provision::Decision::Regrant {
            reason: request.reason.trim(),
        },
    )
    .await
}

/// Why an account may not be adopted, or `Ok` with its Google user id.
async fn check_adoptable(
    state: &AppState,
    record: &domains::DomainRecord,
    existing: Option<&accounts::AccountRecord>,
    email: &str,
    name: &str,
) -> Result<String, ApiError> {
    let client = observation::google_client(state, record).await?;
    let user = match client.users_get(email).await {
        Ok(user) => user,
        Err(e) if matches!(e.class(), ErrorClass::NotFound) => {
            return Err(ApiError::NotFound {
                resource_type: super::credential::RESOURCE_TYPE,
                name: name.to_owned(),
            });
        }
        Err(e) => return Err(observation::google_error(&record.domain_name, e)),
    };
    let refused = |reason: &'static str, why: String| ApiError::FailedPrecondition {
        reason,
        message: format!("{email} cannot be adopted: {why}"),
    };
    if !user.primary_email.eq_ignore_ascii_case(email) {
        return Err(refused(
            "ADOPTION_REFUSED_ALIAS",
            format!(
                "it is an alias of {}; free the address or choose another username",
                user.primary_email
            ),
        ));
    }
    if user.is_admin {
        return Err(refused(
            "ADOPTION_REFUSED_SUPER_ADMIN",
            "it is a super administrator; the service never manages one".into(),
        ));
    }
    if user.is_delegated_admin {
        return Err(refused(
            "ADOPTION_REFUSED_DELEGATED_ADMIN",
            "it holds administrator roles; remove them in the Admin console first".into(),
        ));
    }
    let paid = client
        .license_assignments_list_for_product(GOOGLE_WORKSPACE_PRODUCT)
        .collect_all()
        .await
        .map_err(|e| observation::google_error(&record.domain_name, e))?;
    if let Some(license) = paid.iter().find(|l| l.user_id.eq_ignore_ascii_case(email)) {
        return Err(refused(
            "ADOPTION_REFUSED_PAID_LICENSE",
            format!(
                "it holds the paid Google Workspace license {} ({}); remove it first",
                license.sku_id,
                license.sku_name.as_deref().unwrap_or("Google Workspace")
            ),
        ));
    }
    if let Some(existing) = existing
        && existing.ownership.is_owned()
        && existing.google_user_id.as_deref() == Some(user.id.as_str())
    {
        return Err(ApiError::FailedPrecondition {
            reason: "ALREADY_OWNED",
            message: format!(
                "{email} is already the service's ({})",
                existing.ownership.as_str()
            ),
        });
    }
    Ok(user.id)
}

/// `AdoptSupportAccount`.
pub async fn adopt_support_account(
    state: &AppState,
    principal: Principal,
    request: &v1::AdoptSupportAccountRequest,
) -> Result<Operation, ApiError> {
    let mut v = Violations::default();
    let target = v.check("name", parse_support_account_resource(&request.name));
    check_reason(
        &mut v,
        &request.reason,
        "the service may manage the account",
    );
    let request_id = v
        .check("request_id", super::parse_request_id(&request.request_id))
        .flatten();
    v.finish().map_err(ApiError::InvalidArgument)?;
    let Some((domain, username)) = target else {
        unreachable!("violations were reported above");
    };
    principal.check_domain(domain.as_str())?;
    let email = format!("{username}@{domain}");
    let not_found = || ApiError::NotFound {
        resource_type: super::credential::RESOURCE_TYPE,
        name: request.name.clone(),
    };

    let store = state.store()?;
    let begin = || {
        Mutation::begin(
            store,
            principal.clone(),
            methods::ADOPT_SUPPORT_ACCOUNT,
            request_id.clone(),
            request,
        )
    };
    // A replay answers before anything is read (the domain may be gone since); the claim taken
    // here is rolled back with its transaction, and taken again below.
    if !request.validate_only
        && request_id.is_some()
        && let Begin::Replay(operation) = begin().await?
    {
        return Ok(operation);
    }
    // Google is read with no transaction open.
    let (member, user_id) = {
        let mut conn = state.conn().await?;
        let record = observation::domain_record(&mut conn, domain.as_str()).await?;
        let member = staff::get_by_username(&mut conn, username.as_str())
            .await?
            .ok_or_else(not_found)?;
        let existing = accounts::get(&mut conn, domain.as_str(), &member.id).await?;
        drop(conn);
        let user_id =
            check_adoptable(state, &record, existing.as_ref(), &email, &request.name).await?;
        (member, user_id)
    };
    if request.validate_only {
        return Ok(validated(format!(
            "{domain}: {email} (Google user {user_id}) may be adopted for staffMembers/{}",
            member.id
        )));
    }

    let mut m = match begin().await? {
        Begin::Replay(operation) => return Ok(operation),
        Begin::Proceed(m) => m,
    };
    let reason = request.reason.trim();
    accounts::approve_adoption(
        m.conn(),
        domain.as_str(),
        &member.id,
        &user_id,
        Decision {
            principal: &principal.id,
            reason,
        },
    )
    .await?;
    audit_decision(
        &mut m,
        methods::ADOPT_SUPPORT_ACCOUNT,
        request_id.as_ref(),
        Some(domain.as_str().to_owned()),
        request.name.clone(),
        format!("adoption of Google user {user_id} approved: {reason}"),
    )
    .await?;
    let scope = ScopeRequest {
        domains: vec![domain.as_str().to_owned()],
        staff: vec![member.id.clone()],
        request_id: request_id.clone(),
    };
    let operation = provision::create_operation(
        &mut m,
        &principal,
        OperationKind::Provision,
        scope.request_id.as_ref(),
        scope.domains,
        scope.staff,
        None,
    )
    .await?;
    let target = operation.name.clone();
    m.commit(
        &operation,
        AuditTarget {
            domain: Some(domain.as_str().to_owned()),
            target,
        },
    )
    .await?;
    state.wake_engine();
    Ok(operation)
}

/// The answer of a `validate_only` adoption: a finished operation with what was checked.
fn validated(note: String) -> Operation {
    use prost::Message;
    let now = super::convert::timestamp(chrono::Utc::now());
    let metadata = v1::OperationMetadata {
        kind: v1::OperationKind::Provision as i32,
        create_time: Some(now),
        end_time: Some(now),
        ..Default::default()
    };
    let result = v1::OperationResult {
        domain_notes: vec![note],
        ..Default::default()
    };
    Operation {
        name: "operations/validate-only".into(),
        metadata: Some(prost_types::Any {
            type_url: "type.googleapis.com/supportaccess.v1.OperationMetadata".into(),
            value: metadata.encode_to_vec(),
        }),
        done: true,
        result: Some(operation::Result::Response(prost_types::Any {
            type_url: "type.googleapis.com/supportaccess.v1.OperationResult".into(),
            value: result.encode_to_vec(),
        })),
    }
}
