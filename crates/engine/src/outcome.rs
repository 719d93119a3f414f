//! What became of an operation, in the engine's own terms: each account's outcome and the steps,
//! read from the journal and what the engine recorded per domain one domain at a time (counts of
//! everything, the first accounts and steps listed), and finishing an operation once its last
//! domain is done. How the result is encoded for callers (the API's
//! `google.longrunning.Operation`) is the job of a [`ResultEncoder`] the API supplies.

use std::collections::BTreeMap;

use support_access_store::operations::{
    self, DomainWorkRecord, OperationRecord, Outcome, RunState, StepOutline, StepRecord, StepState,
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

/// At most this many accounts and steps are listed in an [`OperationResult`]; its counts cover
/// every one, and the API pages the accounts ([`ResultReader::domain`]).
pub const LISTED: usize = 100;

/// An operation's result, bounded whatever the number of accounts: counts over every account
/// and step, the first [`LISTED`] accounts (by domain and address) and steps (by domain and plan
/// order), and a note per domain.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OperationResult {
    /// The first accounts, ordered by domain and address.
    pub accounts: Vec<AccountOutcome>,
    /// The first journal steps, by domain and plan order.
    pub steps: Vec<StepRecord>,
    /// `domain: message` of every domain with something to say.
    pub domain_notes: Vec<String>,
    /// How many accounts the operation concerns.
    pub total_accounts: usize,
    /// How many steps its journal holds.
    pub total_steps: usize,
    /// Accounts per result, in order of first appearance.
    pub account_results: Vec<(AccountResult, usize)>,
    /// Accounts per state, in order of first appearance.
    pub account_states: Vec<(StepState, usize)>,
    /// Steps per state, in order of first appearance.
    pub step_states: Vec<(StepState, usize)>,
}

impl OperationResult {
    /// How many of the first [`LISTED`] steps are still to be listed.
    fn steps_room(&self) -> usize {
        LISTED.saturating_sub(self.steps.len())
    }

    /// Adds one domain's accounts, counts of steps and first steps (domains in name order).
    fn add_domain(&mut self, domain: DomainResult, first_steps: Vec<StepRecord>) {
        self.total_accounts += domain.accounts.len();
        self.total_steps += domain.total_steps;
        for account in &domain.accounts {
            bump(&mut self.account_results, account.result, 1);
            bump(&mut self.account_states, account.state, 1);
        }
        for (state, n) in domain.step_states {
            bump(&mut self.step_states, state, n);
        }
        let room = LISTED.saturating_sub(self.accounts.len());
        self.accounts.extend(domain.accounts.into_iter().take(room));
        let room = self.steps_room();
        self.steps.extend(first_steps.into_iter().take(room));
    }
}

fn bump<K: PartialEq>(counts: &mut Vec<(K, usize)>, key: K, by: usize) {
    match counts.iter_mut().find(|(k, _)| *k == key) {
        Some((_, n)) => *n += by,
        None => counts.push((key, by)),
    }
}

/// One domain's part of an operation's result: every account's outcome and its steps counted.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainResult {
    /// Every account's outcome, by address.
    pub accounts: Vec<AccountOutcome>,
    /// How many steps the domain's journal holds.
    pub total_steps: usize,
    /// Steps per state, in order of first appearance in the plan.
    pub step_states: Vec<(StepState, usize)>,
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

/// What became of each account of one domain of an operation, from the domain's journal steps
/// and what the engine recorded for the domain (`work`), ordered by address. `staff` is the
/// request's staff members as (id, username). An account is DONE only when nothing is left for
/// it: a conflict, a blocker, a revoked account left alone, a failed, cancelled or unfinished
/// step, or a domain that failed before reaching it all say so instead.
pub fn domain_outcomes(
    domain: &str,
    staff: &[(String, String)],
    steps: &[StepOutline],
    work: Option<&DomainWorkRecord>,
    account_results: &serde_json::Value,
) -> Vec<AccountOutcome> {
    // Pending until decided below; every account gets a result before this returns.
    let new_outcome = |staff_member: Option<String>, email: &str| AccountOutcome {
        domain: domain.to_owned(),
        staff_member,
        email: email.to_owned(),
        state: StepState::Done,
        result: AccountResult::Pending,
        actions: Vec::new(),
        error: String::new(),
    };
    let mut accounts: BTreeMap<String, AccountOutcome> = BTreeMap::new();
    for (id, username) in staff {
        let email = format!("{username}@{domain}");
        accounts.insert(email.clone(), new_outcome(Some(id.clone()), &email));
    }
    for step in steps {
        let Some(email) = &step.account_email else {
            continue;
        };
        let outcome = accounts
            .entry(email.clone())
            .or_insert_with(|| new_outcome(step.staff_member_id.clone(), email));
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
    for (email, outcome) in accounts.iter_mut() {
        let verdict = account_results.get(email);
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
    accounts.into_values().collect()
}

/// Reads an operation's result from its journal one domain at a time, so that what it holds
/// is bounded by the largest domain, not by the operation.
pub struct ResultReader {
    operation_id: uuid::Uuid,
    /// The request's staff members as (id, username).
    staff: Vec<(String, String)>,
    /// Every domain's work record, by name.
    works: Vec<DomainWorkRecord>,
}

impl ResultReader {
    /// The reader of `record`: its staff members' usernames and its domains' records.
    pub async fn new(
        conn: &mut sqlx::PgConnection,
        record: &OperationRecord,
    ) -> Result<Self, StoreError> {
        let request: OperationRequest =
            serde_json::from_value(record.request.clone()).unwrap_or_default();
        let usernames: BTreeMap<String, String> =
            support_access_store::staff::get_many(&mut *conn, &request.staff_members)
                .await?
                .into_iter()
                .map(|member| (member.id, member.username))
                .collect();
        let staff = request
            .staff_members
            .iter()
            .filter_map(|id| usernames.get(id).map(|u| (id.clone(), u.clone())))
            .collect();
        let works = operations::domains(&mut *conn, record.id).await?;
        Ok(ResultReader {
            operation_id: record.id,
            staff,
            works,
        })
    }

    /// The operation's domains, in name order.
    pub fn domains(&self) -> impl Iterator<Item = &str> {
        self.works.iter().map(|w| w.domain_name.as_str())
    }

    /// The domains' work records, in name order.
    pub fn works(&self) -> &[DomainWorkRecord] {
        &self.works
    }

    /// One domain's accounts (by address) with its steps counted: what it holds is the
    /// outline of the domain's steps, not their parameters nor Google's answers.
    pub async fn domain(
        &self,
        conn: &mut sqlx::PgConnection,
        domain: &str,
    ) -> Result<DomainResult, StoreError> {
        let steps = operations::domain_step_outlines(&mut *conn, self.operation_id, domain).await?;
        let account_results = operations::account_results(conn, self.operation_id, domain).await?;
        let work = self.works.iter().find(|w| w.domain_name == domain);
        let mut step_states = Vec::new();
        for step in &steps {
            bump(&mut step_states, step.state, 1);
        }
        Ok(DomainResult {
            accounts: domain_outcomes(domain, &self.staff, &steps, work, &account_results),
            total_steps: steps.len(),
            step_states,
        })
    }

    /// The first `limit` journal steps of one domain, in plan order.
    pub async fn first_steps(
        &self,
        conn: &mut sqlx::PgConnection,
        domain: &str,
        limit: usize,
    ) -> Result<Vec<StepRecord>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        operations::first_domain_steps(conn, self.operation_id, domain, limit).await
    }
}

/// The result of `record` as its journal and domains tell it now, with the domains: a few
/// queries per domain, holding the outline of one domain's steps at a time.
pub async fn journal_result(
    conn: &mut sqlx::PgConnection,
    record: &OperationRecord,
) -> Result<(OperationResult, Vec<DomainWorkRecord>), StoreError> {
    let reader = ResultReader::new(&mut *conn, record).await?;
    let mut result = OperationResult {
        domain_notes: reader
            .works()
            .iter()
            .filter(|d| !d.message.is_empty())
            .map(|d| format!("{}: {}", d.domain_name, d.message))
            .collect(),
        ..Default::default()
    };
    for domain in reader.domains() {
        let part = reader.domain(&mut *conn, domain).await?;
        let first_steps = reader
            .first_steps(&mut *conn, domain, result.steps_room())
            .await?;
        result.add_domain(part, first_steps);
    }
    Ok((result, reader.works))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn work(domain: &str, state: RunState) -> DomainWorkRecord {
        DomainWorkRecord {
            operation_id: uuid::Uuid::nil(),
            domain_name: domain.to_owned(),
            state,
            message: String::new(),
            lease_owner: None,
            lease_expires_at: None,
            fencing_token: 0,
            not_before: None,
            update_time: chrono::Utc::now(),
            claims: 1,
        }
    }

    fn staff(n: usize) -> Vec<(String, String)> {
        (0..n)
            .map(|i| (format!("s{i:03}"), format!("user{i:03}")))
            .collect()
    }

    #[test]
    fn accounts_without_steps_take_the_domains_verdict() {
        let results = serde_json::json!({
            "user001@a.example": {"result": "CONFLICT", "detail": "an unmanaged account holds the address"},
        });
        let succeeded = work("a.example", RunState::Succeeded);
        let outcomes = domain_outcomes("a.example", &staff(3), &[], Some(&succeeded), &results);
        let summary: Vec<(&str, AccountResult, StepState)> = outcomes
            .iter()
            .map(|o| (o.email.as_str(), o.result, o.state))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("user000@a.example", AccountResult::Done, StepState::Done),
                (
                    "user001@a.example",
                    AccountResult::Conflict,
                    StepState::Failed
                ),
                ("user002@a.example", AccountResult::Done, StepState::Done),
            ]
        );
        assert_eq!(outcomes[1].error, "an unmanaged account holds the address");

        let none = serde_json::json!({});
        let failed = work("a.example", RunState::Failed);
        let outcomes = domain_outcomes("a.example", &staff(1), &[], Some(&failed), &none);
        assert_eq!(outcomes[0].result, AccountResult::Blocked);
        let running = work("a.example", RunState::Running);
        let outcomes = domain_outcomes("a.example", &staff(1), &[], Some(&running), &none);
        assert_eq!(outcomes[0].result, AccountResult::Pending);
    }

    #[test]
    fn a_result_counts_every_account_and_lists_the_first_hundred() {
        let mut result = OperationResult::default();
        for domain in ["a.example", "b.example", "c.example"] {
            let state = if domain == "c.example" {
                RunState::Running
            } else {
                RunState::Succeeded
            };
            let work = work(domain, state);
            let accounts =
                domain_outcomes(domain, &staff(60), &[], Some(&work), &serde_json::json!({}));
            result.add_domain(
                DomainResult {
                    accounts,
                    total_steps: 0,
                    step_states: Vec::new(),
                },
                Vec::new(),
            );
        }
        assert_eq!(result.total_accounts, 180);
        assert_eq!(result.accounts.len(), LISTED);
        assert_eq!(result.accounts[0].email, "user000@a.example");
        assert_eq!(result.accounts[LISTED - 1].email, "user039@b.example");
        assert_eq!(
            result.account_results,
            vec![(AccountResult::Done, 120), (AccountResult::Pending, 60)]
        );
    }
}
