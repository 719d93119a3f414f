//! What became of an operation, in the engine's own terms: every account's outcome and every
//! step, read from the journal and what the engine recorded per domain, and finishing an
//! operation once its last domain is done. How the result is encoded for callers (the API's
//! `google.longrunning.Operation`) is the job of a [`ResultEncoder`] the API supplies.

use std::collections::BTreeMap;

use support_access_store::operations::{
    self, DomainWorkRecord, OperationRecord, Outcome, RunState, StepRecord, StepState,
};
use support_access_store::{Store, StoreError};

use super::OperationRequest;

/// What became of one account, as the operation's result reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountResult {
    /// Google shows the desired state for the account.
    Done,
    /// Work on the account is still under way.
    Pending,
    /// A step failed.
    Failed,
    /// An account the service does not own is at the address.
    Conflict,
    /// A precondition a person must clear blocks the account.
    Blocked,
    /// Access was revoked for this account: provisioning leaves it alone.
    SkippedRevoked,
    /// The operation was cancelled before the account was finished.
    Cancelled,
}

impl AccountResult {
    /// The name recorded in `operation_domains.account_results` (and the API's, without its
    /// `ACCOUNT_RESULT_` prefix).
    pub fn as_str(self) -> &'static str {
        match self {
            AccountResult::Done => "DONE",
            AccountResult::Pending => "PENDING",
            AccountResult::Failed => "FAILED",
            AccountResult::Conflict => "CONFLICT",
            AccountResult::Blocked => "BLOCKED",
            AccountResult::SkippedRevoked => "SKIPPED_REVOKED",
            AccountResult::Cancelled => "CANCELLED",
        }
    }

    /// The result of a recorded name.
    pub fn parse(name: &str) -> Option<Self> {
        [
            AccountResult::Done,
            AccountResult::Pending,
            AccountResult::Failed,
            AccountResult::Conflict,
            AccountResult::Blocked,
            AccountResult::SkippedRevoked,
            AccountResult::Cancelled,
        ]
        .into_iter()
        .find(|r| r.as_str() == name)
    }
}

/// One account of an operation: its state, what was done and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountOutcome {
    /// The bare domain name.
    pub domain: String,
    /// The staff member's id, when the account is one of the request's staff members.
    pub staff_member: Option<String>,
    /// The account's address.
    pub email: String,
    /// Where the account's work stands.
    pub state: StepState,
    /// What became of the account.
    pub result: AccountResult,
    /// `action: detail` of every step carried out for the account.
    pub actions: Vec<String>,
    /// Why the account is not done; empty when it is.
    pub error: String,
}

/// An operation's result: every account, every step, and a note per domain.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationResult {
    /// Every account the operation concerns, ordered by domain and address.
    pub accounts: Vec<AccountOutcome>,
    /// Every journal step.
    pub steps: Vec<StepRecord>,
    /// `domain: message` of every domain with something to say.
    pub domain_notes: Vec<String>,
}

/// Why a finished operation did not succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The operation was cancelled.
    Cancelled,
    /// Some domains failed and need attention.
    NeedsAttention,
}

/// Encodes a finished operation's result for storage, as the API returns it later: the
/// engine decides what the result is, the API how it is spelled on the wire.
pub trait ResultEncoder: Send + Sync {
    /// The encoded response of an operation that succeeded.
    fn response(&self, result: &OperationResult) -> Vec<u8>;
    /// The encoded error of an operation that failed or was cancelled, carrying `result` so the
    /// caller sees both what failed and what was done.
    fn error(&self, failure: Failure, message: String, result: &OperationResult) -> Vec<u8>;
}

/// The result of an operation from its journal and what the engine recorded per domain. An
/// account is DONE only when nothing is left for it: a conflict, a blocker, a revoked account
/// left alone, a failed, cancelled or unfinished step, or a domain that failed before reaching it
/// all say so instead.
pub fn result_from_journal(
    request: &OperationRequest,
    staff_usernames: &BTreeMap<String, String>,
    steps: Vec<StepRecord>,
    domains: &[DomainWorkRecord],
    domain_notes: Vec<String>,
) -> OperationResult {
    // Pending until decided below; every account gets a result before this returns.
    let new_outcome = |domain: &str, staff_member: Option<String>, email: &str| AccountOutcome {
        domain: domain.to_owned(),
        staff_member,
        email: email.to_owned(),
        state: StepState::Done,
        result: AccountResult::Pending,
        actions: Vec::new(),
        error: String::new(),
    };
    let mut accounts: BTreeMap<(String, String), AccountOutcome> = BTreeMap::new();
    for domain in &request.domains {
        for staff in &request.staff_members {
            let Some(username) = staff_usernames.get(staff) else {
                continue;
            };
            let email = format!("{username}@{domain}");
            accounts.insert(
                (domain.clone(), email.clone()),
                new_outcome(domain, Some(staff.clone()), &email),
            );
        }
    }
    for step in &steps {
        let Some(email) = &step.account_email else {
            continue;
        };
        let outcome = accounts
            .entry((step.domain_name.clone(), email.clone()))
            .or_insert_with(|| new_outcome(&step.domain_name, step.staff_member_id.clone(), email));
        match step.state {
            StepState::Done => {
                outcome
                    .actions
                    .push(format!("{}: {}", step.action.as_str(), step.detail))
            }
            // The first failure is the account's error; later steps failed because of it.
            StepState::Failed if outcome.state != StepState::Failed => {
                outcome.state = StepState::Failed;
                outcome.error = format!("{}: {}", step.action.as_str(), step.detail);
            }
            StepState::Cancelled if outcome.state != StepState::Failed => {
                outcome.state = StepState::Cancelled;
            }
            StepState::Pending | StepState::Running if outcome.state == StepState::Done => {
                outcome.state = step.state;
            }
            _ => {}
        }
    }
    for ((domain, email), outcome) in accounts.iter_mut() {
        let work = domains.iter().find(|d| &d.domain_name == domain);
        let verdict = work.and_then(|d| d.account_results.get(email));
        let verdict_result = verdict
            .and_then(|v| v["result"].as_str())
            .and_then(AccountResult::parse);
        outcome.result = match (outcome.state, verdict_result) {
            (StepState::Failed, _) => AccountResult::Failed,
            (StepState::Cancelled, _) => AccountResult::Cancelled,
            (_, Some(AccountResult::Done)) => AccountResult::Done,
            (_, Some(result)) => {
                outcome.error = verdict
                    .and_then(|v| v["detail"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                // A revoked account left alone on purpose is not a failure of the operation.
                outcome.state = if result == AccountResult::SkippedRevoked {
                    StepState::Skipped
                } else {
                    StepState::Failed
                };
                result
            }
            (StepState::Done, None) => match work.map(|d| d.state) {
                // Nothing planned for it in a domain that converged.
                Some(RunState::Succeeded) => AccountResult::Done,
                Some(RunState::Cancelled) => {
                    outcome.state = StepState::Cancelled;
                    AccountResult::Cancelled
                }
                Some(RunState::Failed) => {
                    outcome.state = StepState::Failed;
                    outcome.error = format!(
                        "not reached: the domain failed: {}",
                        work.map(|d| d.message.as_str()).unwrap_or_default()
                    );
                    AccountResult::Blocked
                }
                _ => AccountResult::Pending,
            },
            _ => AccountResult::Pending,
        };
    }
    OperationResult {
        accounts: accounts.into_values().collect(),
        steps,
        domain_notes,
    }
}

/// The result of `record` as its journal and domains tell it now, with the domains.
pub async fn journal_result(
    conn: &mut sqlx::PgConnection,
    record: &OperationRecord,
) -> Result<(OperationResult, Vec<DomainWorkRecord>), StoreError> {
    let request: OperationRequest =
        serde_json::from_value(record.request.clone()).unwrap_or_default();
    let usernames: BTreeMap<String, String> =
        support_access_store::staff::get_many(&mut *conn, &request.staff_members)
            .await?
            .into_iter()
            .map(|member| (member.id, member.username))
            .collect();
    let steps = operations::steps(&mut *conn, record.id).await?;
    let domains = operations::domains(&mut *conn, record.id).await?;
    let notes: Vec<String> = domains
        .iter()
        .filter(|d| !d.message.is_empty())
        .map(|d| format!("{}: {}", d.domain_name, d.message))
        .collect();
    let result = result_from_journal(&request, &usernames, steps, &domains, notes);
    Ok((result, domains))
}

/// Finishes an operation whose domains are all finished: the response lists every account; a
/// domain that failed makes the operation fail with an error that carries that same result, so
/// the caller sees both what failed and what was done.
pub async fn finish_operation(
    store: &Store,
    encoder: &dyn ResultEncoder,
    id: uuid::Uuid,
) -> Result<(), StoreError> {
    let mut conn = store.pool().acquire().await?;
    let Some(record) = operations::get(&mut conn, id).await? else {
        return Ok(());
    };
    if record.done {
        return Ok(());
    }
    let (result, domains) = journal_result(&mut conn, &record).await?;
    let failed: Vec<&str> = domains
        .iter()
        .filter(|d| d.state == RunState::Failed)
        .map(|d| d.domain_name.as_str())
        .collect();
    let cancelled = domains.iter().any(|d| d.state == RunState::Cancelled);
    let encoded;
    let outcome = if cancelled {
        encoded = encoder.error(
            Failure::Cancelled,
            "the operation was cancelled".into(),
            &result,
        );
        Outcome::Cancelled(&encoded)
    } else if !failed.is_empty() {
        let reasons: Vec<String> = domains
            .iter()
            .filter(|d| d.state == RunState::Failed)
            .map(|d| format!("{}: {}", d.domain_name, d.message))
            .collect();
        encoded = encoder.error(
            Failure::NeedsAttention,
            format!(
                "{} of {} domains need attention: {}",
                failed.len(),
                domains.len(),
                reasons.join("; ")
            ),
            &result,
        );
        Outcome::Failed(&encoded)
    } else {
        encoded = encoder.response(&result);
        Outcome::Succeeded(&encoded)
    };
    let state = match outcome {
        Outcome::Cancelled(_) => "CANCELLED",
        Outcome::Failed(_) => "FAILED",
        Outcome::Succeeded(_) => "SUCCEEDED",
    };
    match operations::finish(&mut conn, id, outcome).await {
        Ok(_) => {
            record_duration(&record, state);
            Ok(())
        }
        Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Records how long a finished operation took, from its creation (metric
/// `support_access.operation.duration`, by kind and final state).
fn record_duration(record: &operations::OperationRecord, state: &'static str) {
    use std::sync::OnceLock;
    static DURATION: OnceLock<opentelemetry::metrics::Histogram<f64>> = OnceLock::new();
    let histogram = DURATION.get_or_init(|| {
        opentelemetry::global::meter("support-access")
            .f64_histogram("support_access.operation.duration")
            .with_unit("s")
            .with_description(
                "How long operations took, from creation to finish, by kind and state",
            )
            .build()
    });
    let seconds = (chrono::Utc::now() - record.create_time)
        .to_std()
        .unwrap_or_default()
        .as_secs_f64();
    histogram.record(
        seconds,
        &[
            opentelemetry::KeyValue::new("kind", record.kind.as_str()),
            opentelemetry::KeyValue::new("state", state),
        ],
    );
}
