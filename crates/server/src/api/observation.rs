//! What the read RPCs (`GetDomainStatus`, `ListSupportAccounts`, `ListPortalAccess`,
//! `ResolveSupportAccount`) and `IssueSignInCredential` share: a declared domain's record and
//! desired state (its ACTIVE support accounts), the operator's manual confirmations, the last
//! observation stored by the engine or a fresh one (saved for the next reader), the engine's
//! current activity in the domain, and how a Google failure reads to a caller.

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::PgConnection;
use support_access_domain::desired::DesiredDomain;
use support_access_domain::lifecycle::OperationKind;
use support_access_domain::observed::{ManualConfirmation, ObservedDomain};
use support_access_domain::plan::Step;
use support_access_domain::status::{Activity, FailedStep};
use support_access_google::{DomainClient, ErrorClass, GoogleError};
use support_access_store::domains::{self, DomainRecord};
use support_access_store::observations;
use support_access_store::operations::{self, OperationFilter, StepState};

use crate::error::ApiError;
use crate::state::AppState;
use support_access_engine::desired::{self, DesiredError};
use support_access_engine::google_access::AccessError;
use support_access_engine::observe;

/// The domain record, or NOT_FOUND naming `domains/{domain}`.
pub async fn domain_record(
    conn: &mut PgConnection,
    domain: &str,
) -> Result<DomainRecord, ApiError> {
    domains::get(conn, domain)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            resource_type: super::domains::RESOURCE_TYPE,
            name: format!("domains/{domain}"),
        })
}

/// The desired state of the domain as its stored decisions say (ACTIVE and REVOKED accounts,
/// with what the service owns), as the engine's reconciliation sees it.
pub async fn desired_domain(
    conn: &mut PgConnection,
    record: &DomainRecord,
) -> Result<DesiredDomain, ApiError> {
    desired::from_decisions(conn, record, OperationKind::Reconcile, &[])
        .await
        .map_err(|e| match e {
            DesiredError::Store(e) => e.into(),
            DesiredError::Invalid(message) => ApiError::FailedPrecondition {
                reason: "DECLARATION_INVALID",
                message: format!(
                    "the declaration of {} is not valid anymore: {message}",
                    record.domain_name
                ),
            },
        })
}

/// The operator's manual confirmations of the domain, as the planner and status read them.
pub async fn confirmations(
    conn: &mut PgConnection,
    domain: &str,
) -> Result<Vec<ManualConfirmation>, ApiError> {
    Ok(desired::confirmations(conn, domain).await?)
}

/// The last stored observation with today's confirmations, and when Google was observed;
/// `None` when the domain was never observed (or the stored form is no longer readable).
pub async fn last_observation(
    conn: &mut PgConnection,
    domain: &str,
) -> Result<Option<(ObservedDomain, DateTime<Utc>)>, ApiError> {
    let Some(record) = observations::get(conn, domain).await? else {
        return Ok(None);
    };
    match serde_json::from_value::<ObservedDomain>(record.observed) {
        Ok(mut observed) => {
            // Confirmations made since the observation count at once.
            observed.confirmations = confirmations(conn, domain).await?;
            Ok(Some((observed, record.observe_time)))
        }
        Err(error) => {
            tracing::warn!(domain, error = %error, "the stored observation is unreadable; treating the domain as not observed");
            Ok(None)
        }
    }
}

/// The client acting as the domain's delegated admin.
pub async fn google_client(
    state: &AppState,
    record: &DomainRecord,
) -> Result<DomainClient, ApiError> {
    state.google().domain(record).await.map_err(|e| match e {
        AccessError::UnknownCredential(name) => ApiError::FailedPrecondition {
            reason: "CREDENTIAL_NOT_CONFIGURED",
            message: format!(
                "domain {} names the service-account key {name:?}, which is not configured on the server: configure it or update the domain's credential",
                record.domain_name
            ),
        },
        AccessError::Google(e) => google_error(&record.domain_name, e),
    })
}

/// Observes the domain in Google now and stores the observation for the next reader.
pub async fn observe_now(
    state: &AppState,
    conn: &mut PgConnection,
    record: &DomainRecord,
    desired: &DesiredDomain,
) -> Result<(ObservedDomain, DateTime<Utc>), ApiError> {
    let client = google_client(state, record).await?;
    let confirmations = confirmations(conn, &record.domain_name).await?;
    let observed =
        observe::observe_domain(&client, desired, confirmations, &state.planner().access)
            .await
            .map_err(|e| google_error(&record.domain_name, e))?;
    // Postgres keeps microseconds: the time reported now is the time served later.
    let observe_time = Utc::now().trunc_subsecs(6);
    let value = serde_json::to_value(&observed).map_err(ApiError::internal)?;
    observations::save(conn, &record.domain_name, &value, observe_time).await?;
    Ok((observed, observe_time))
}

/// What the engine is doing in the domain: steps pending, running or failed in operations that
/// have not finished.
pub async fn activity(conn: &mut PgConnection, domain: &str) -> Result<Activity, ApiError> {
    let unfinished = operations::list(
        conn,
        &OperationFilter {
            done: Some(false),
            ..OperationFilter::default()
        },
        support_access_domain::MAX_PAGE_SIZE,
        None,
    )
    .await?;
    let mut activity = Activity::default();
    for operation in unfinished.items {
        for record in operations::domain_steps(conn, operation.id, domain).await? {
            let Ok(step) = record.payload.parse::<Step>() else {
                continue;
            };
            match record.state {
                StepState::Pending | StepState::Running => activity.pending.push(step),
                StepState::Failed => activity.failed.push(FailedStep {
                    step,
                    detail: record.detail,
                }),
                StepState::Done | StepState::Skipped | StepState::Cancelled => {}
            }
        }
    }
    Ok(activity)
}

/// How a failed Google call in `domain` reads to a caller: UNAVAILABLE when trying again later
/// may help, FAILED_PRECONDITION with what to fix otherwise.
pub fn google_error(domain: &str, error: GoogleError) -> ApiError {
    let detail = error.to_string();
    match error.class() {
        ErrorClass::RateLimited { retry_after } => ApiError::Unavailable {
            message: format!("Google is rate limiting {domain}: {detail}"),
            retry_after: Some(retry_after.unwrap_or(std::time::Duration::from_secs(5))),
        },
        ErrorClass::Transient | ErrorClass::NotYetConsistent => ApiError::Unavailable {
            message: format!("Google did not answer for {domain}: {detail}"),
            retry_after: Some(std::time::Duration::from_secs(2)),
        },
        ErrorClass::Auth(_) => ApiError::FailedPrecondition {
            reason: "GOOGLE_AUTH_FAILED",
            message: format!(
                "cannot act as the delegated admin of {domain}: {detail}; check the service-account key and its domain-wide delegation"
            ),
        },
        ErrorClass::PermissionDenied => ApiError::FailedPrecondition {
            reason: "GOOGLE_PERMISSION_DENIED",
            message: format!(
                "Google refused the delegated admin of {domain}: {detail}; make sure it is a super administrator and the service account has domain-wide delegation for every scope support-access needs"
            ),
        },
        ErrorClass::LicensesExhausted => ApiError::FailedPrecondition {
            reason: "GOOGLE_LICENSES_EXHAUSTED",
            message: format!("{domain} has no free license left: {detail}"),
        },
        ErrorClass::NotFound
        | ErrorClass::Invalid
        | ErrorClass::AlreadyExists
        | ErrorClass::Unexpected
        | ErrorClass::NotSent => ApiError::FailedPrecondition {
            reason: "GOOGLE_REJECTED",
            message: format!("Google refused a call for {domain}: {detail}"),
        },
    }
}
