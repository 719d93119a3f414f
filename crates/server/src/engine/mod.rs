//! The provisioning engine: workers that claim one domain of one operation at a time (a lease in
//! Postgres with a fencing token), observe the domain in Google with list calls, plan what is
//! still needed, carry it out step by step, and journal every step before and after it touches
//! Google. A crash anywhere is resumed by whichever worker claims the domain next: it observes
//! again, so a step whose effect already landed is confirmed rather than repeated.
//!
//! Per domain the work goes in passes: observe, plan, run the plan's domain-level steps (org
//! unit, custom role), then one chain per account (create or update, licenses, role; or role
//! removal, then suspension or deletion), chains concurrently; observe again. The licenses of an
//! account created in a pass wait for the next observation, which keeps writes minimal (a
//! license Google assigned on its own is seen before assigning it); a role assignment follows
//! its account's creation at once (the adapter rides out Google's short consistency window). A
//! fresh domain takes two observations; a pass that plans nothing ends the domain.

pub mod audit;
pub mod confirm;
pub mod desired;
pub mod execute;
pub mod google_access;
pub mod lease;
pub mod observe;
pub mod outcome;
pub mod pipeline;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use support_access_domain::StaffMemberId;
use support_access_domain::drift::{Drift, detect_drift};
use support_access_domain::ownership::{
    AccountOwnership, classify as classify_ownership, marker_value,
};
use support_access_domain::plan::Step;
use support_access_domain::plan::{PlannedStep, PlannerConfig, StepKind};
use support_access_domain::revoke::RevokeOptions;
use support_access_store::accounts::Ownership;
use support_access_store::operations::{
    self, Lease, NewStep, OperationKind, RunState, StepAction, StepRecord, StepStart, StepState,
    StepUpdate,
};
use support_access_store::{Store, StoreError, accounts, domains, observations};
use tokio::sync::Notify;

use execute::{Resolver, StepFailure};
use google_access::GoogleAccess;

/// The Postgres channel on which a new operation wakes the workers of every replica.
pub const WAKE_CHANNEL: &str = "support_access_work";

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Worker tasks in this replica (each works on one domain at a time).
    pub workers: usize,
    /// How long a claim lasts without renewal; another replica takes a dead one's domain over
    /// after this.
    pub lease: Duration,
    /// Google calls in flight at once within one domain.
    pub step_concurrency: usize,
    /// Observation passes per claim before the domain is declared not converging.
    pub max_passes: usize,
    /// Claims of one domain of an operation (each after a wait) before it fails for good.
    pub max_claims: i32,
    /// How often every domain is reconciled; `None` switches reconciliation off.
    pub reconcile_interval: Option<Duration>,
    /// Attempts of one step (across retries and claims) before it fails for good.
    pub max_step_attempts: i32,
    /// How often idle workers look for work that no notification announced (retries whose
    /// backoff ended, leases that expired).
    pub idle_poll: Duration,
    /// Planner settings.
    pub planner: PlannerConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            workers: 4,
            lease: Duration::from_secs(30),
            step_concurrency: 8,
            max_passes: 8,
            max_claims: 20,
            reconcile_interval: None,
            max_step_attempts: 12,
            idle_poll: Duration::from_millis(500),
            planner: PlannerConfig::default(),
        }
    }
}

/// What an operation asks for, as stored in `operations.request`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OperationRequest {
    /// Bare domain names.
    pub domains: Vec<String>,
    /// Staff member ids.
    pub staff_members: Vec<String>,
    /// For revocations.
    #[serde(default)]
    pub revoke: Option<RevokeOptions>,
}

/// The engine of one replica.
pub struct Engine {
    store: Store,
    google: Arc<GoogleAccess>,
    config: EngineConfig,
    owner: String,
    wake: Arc<Notify>,
    authors: audit::OperationAuthors,
}

/// A claim that cannot continue (the lease was taken over or is lapsing, the operation was
/// cancelled, or Postgres failed).
#[derive(Debug, thiserror::Error)]
enum Interrupted {
    #[error("the lease was lost to another worker")]
    Fenced,
    #[error("the lease is lapsing: no request could finish before it does")]
    LeaseLapsing,
    #[error("the operation was cancelled")]
    Cancelled,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for Interrupted {
    fn from(error: StoreError) -> Self {
        match &error {
            StoreError::Conflict(message) if message == operations::FENCED => Interrupted::Fenced,
            _ => Interrupted::Store(error),
        }
    }
}

impl From<sqlx::Error> for Interrupted {
    fn from(error: sqlx::Error) -> Self {
        Interrupted::Store(StoreError::Database(error))
    }
}

/// How one claim of a domain ended.
enum ClaimEnd {
    Finished(RunState, String),
    RetryLater(String, Duration),
}

impl Engine {
    /// An engine over `store` and `google`.
    pub fn new(store: Store, google: Arc<GoogleAccess>, config: EngineConfig) -> Arc<Self> {
        Arc::new(Engine {
            store,
            google,
            config,
            owner: format!("{}-{}", hostname(), uuid::Uuid::new_v4().simple()),
            wake: Arc::new(Notify::new()),
            authors: audit::OperationAuthors::default(),
        })
    }

    /// The engine's settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The Google access the engine uses.
    pub fn google(&self) -> &Arc<GoogleAccess> {
        &self.google
    }

    /// Wakes the local workers (a new operation or a cancellation).
    pub fn wake(&self) {
        self.wake.notify_waiters();
    }

    /// Starts the workers and the Postgres listener that wakes them; they stop when
    /// `shutdown` is cancelled.
    pub fn spawn(self: &Arc<Self>, shutdown: tokio_util::sync::CancellationToken) {
        for worker in 0..self.config.workers {
            let engine = self.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move { engine.worker_loop(worker, shutdown).await });
        }
        if let Some(interval) = self.config.reconcile_interval {
            // A task of its own: busy workers never delay a domain's reconciliation.
            let engine = self.clone();
            let shutdown = shutdown.clone();
            let tick = (interval / 4).clamp(Duration::from_millis(100), Duration::from_secs(10));
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(tick) => engine.schedule_reconciles().await,
                    }
                }
            });
        }
        let engine = self.clone();
        tokio::spawn(async move { engine.listen(shutdown).await });
    }

    async fn listen(&self, shutdown: tokio_util::sync::CancellationToken) {
        loop {
            let mut listener =
                match sqlx::postgres::PgListener::connect_with(self.store.pool()).await {
                    Ok(listener) => listener,
                    Err(error) => {
                        tracing::warn!(error = %error, "cannot listen for work notifications");
                        tokio::select! {
                            () = shutdown.cancelled() => return,
                            () = tokio::time::sleep(Duration::from_secs(2)) => continue,
                        }
                    }
                };
            if let Err(error) = listener.listen(WAKE_CHANNEL).await {
                tracing::warn!(error = %error, "cannot listen for work notifications");
                continue;
            }
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    received = listener.recv() => match received {
                        Ok(_) => self.wake.notify_waiters(),
                        Err(error) => {
                            tracing::warn!(error = %error, "work notifications interrupted");
                            break;
                        }
                    }
                }
            }
        }
    }

    async fn worker_loop(
        self: Arc<Self>,
        worker: usize,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let owner = format!("{}/{worker}", self.owner);
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            // Register interest before looking, so a notification between the look and the
            // wait is not lost.
            let notified = self.wake.notified();
            // Taken before the claim is sent: the lease surely lasts from here.
            let claimed_at = tokio::time::Instant::now();
            match operations::claim_next_domain(self.store.pool(), &owner, self.config.lease).await
            {
                Ok(Some(lease)) => {
                    let span = tracing::info_span!("domain", operation = %lease.operation_id, domain = %lease.domain_name);
                    let _enter = span.enter();
                    drop(_enter);
                    self.work_on(lease, claimed_at).await;
                    continue;
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(error = %error, "cannot claim work"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = notified => {}
                () = tokio::time::sleep(self.config.idle_poll) => {}
            }
        }
    }

    /// Works on one claimed domain until it is finished, must wait, or the lease is lost. The
    /// lease is renewed in the background for as long as the claim runs: one observation or
    /// one batch of steps can outlast a lease (hundreds of accounts at Google's quotas), and a
    /// lapsed lease lets another worker start on the same domain.
    async fn work_on(&self, lease: Lease, claimed_at: tokio::time::Instant) {
        let guard = Arc::new(lease::LeaseGuard::new(claimed_at, self.config.lease));
        // The heartbeat is a task of its own: nothing the work does can delay it.
        let heartbeat = tokio::spawn(lease::keep_lease(
            self.store.clone(),
            lease.clone(),
            guard.clone(),
            self.config.lease,
        ));
        let result = tokio::select! {
            biased;
            () = guard.lost() => Err(Interrupted::Fenced),
            result = self.run_claim(&lease, &guard) => result,
        };
        heartbeat.abort();
        let result = match result {
            Err(Interrupted::Cancelled) => self.end_cancelled(&lease).await,
            other => other,
        };
        let (state, message, retry_after) = match result {
            Ok(ClaimEnd::Finished(state, message)) => (state, message, None),
            Ok(ClaimEnd::RetryLater(message, after)) => (RunState::Running, message, Some(after)),
            Err(Interrupted::Fenced) => {
                tracing::warn!(operation = %lease.operation_id, domain = %lease.domain_name, "lease lost: the claim's work was dropped");
                return;
            }
            Err(Interrupted::LeaseLapsing) => {
                tracing::warn!(operation = %lease.operation_id, domain = %lease.domain_name, "lease lapsing: the work stops and resumes under a new claim");
                return;
            }
            Err(Interrupted::Cancelled) => unreachable!("handled above"),
            Err(Interrupted::Store(error)) => {
                tracing::warn!(operation = %lease.operation_id, domain = %lease.domain_name, error = %error, "postgres failed while working; the domain is handed back as soon as postgres answers");
                self.hand_back(&lease, &guard).await;
                return;
            }
        };
        let released = async {
            let mut conn = self.store.pool().acquire().await?;
            operations::release(&mut conn, &lease, state, &message, retry_after).await
        }
        .await;
        match released {
            Ok(true) => {
                if let Err(error) = outcome::finish_operation(&self.store, lease.operation_id).await
                {
                    tracing::error!(operation = %lease.operation_id, error = %error, "cannot finish the operation");
                }
            }
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(error = %error, "cannot release the domain; the lease will lapse")
            }
        }
        tracing::info!(operation = %lease.operation_id, domain = %lease.domain_name, state = state.as_str(), "domain released");
    }

    /// Starts the reconcile operations that are due.
    async fn schedule_reconciles(&self) {
        let Some(interval) = self.config.reconcile_interval else {
            return;
        };
        let scheduled = async {
            let mut conn = self.store.pool().acquire().await?;
            operations::schedule_due_reconciles(&mut conn, interval, 16).await
        }
        .await;
        match scheduled {
            Ok(created) if !created.is_empty() => {
                tracing::debug!(operations = created.len(), "reconciliation scheduled");
                self.wake();
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(error = %error, "cannot schedule reconciliation"),
        }
    }

    /// After Postgres failed mid-claim: gives the domain back as soon as Postgres answers again
    /// (claimable at once), instead of leaving it idle until the lease lapses. Gives up when the
    /// lease lapses anyway (then anyone may claim it).
    async fn hand_back(&self, lease: &Lease, guard: &lease::LeaseGuard) {
        let retry = (self.config.lease / 30).max(Duration::from_millis(200));
        while tokio::time::Instant::now() < guard.valid_until() {
            let released = async {
                let mut conn = self.store.pool().acquire().await?;
                operations::release(
                    &mut conn,
                    lease,
                    RunState::Running,
                    "postgres failed while working; resumed",
                    Some(Duration::ZERO),
                )
                .await
            }
            .await;
            match released {
                Ok(_) => {
                    self.wake();
                    return;
                }
                Err(StoreError::Conflict(message)) if message == operations::FENCED => return,
                Err(_) => tokio::time::sleep(retry).await,
            }
        }
    }

    /// Ends a cancelled claim: its open steps are marked cancelled.
    async fn end_cancelled(&self, lease: &Lease) -> Result<ClaimEnd, Interrupted> {
        let mut conn = self.store.pool().acquire().await?;
        operations::cancel_open_steps(&mut conn, lease, "the operation was cancelled").await?;
        Ok(ClaimEnd::Finished(RunState::Cancelled, "cancelled".into()))
    }

    async fn run_claim(
        &self,
        lease: &Lease,
        guard: &Arc<lease::LeaseGuard>,
    ) -> Result<ClaimEnd, Interrupted> {
        let mut conn = self.store.pool().acquire().await?;
        let Some(operation) = operations::get(&mut conn, lease.operation_id).await? else {
            return Ok(ClaimEnd::Finished(
                RunState::Failed,
                "the operation no longer exists".into(),
            ));
        };
        if operation.cancel_requested {
            operations::cancel_open_steps(&mut conn, lease, "the operation was cancelled").await?;
            return Ok(ClaimEnd::Finished(RunState::Cancelled, "cancelled".into()));
        }
        let request: OperationRequest = match serde_json::from_value(operation.request.clone()) {
            Ok(request) => request,
            Err(e) => {
                return Ok(ClaimEnd::Finished(
                    RunState::Failed,
                    format!("unreadable request: {e}"),
                ));
            }
        };
        let Some(record) = domains::get(&mut conn, &lease.domain_name).await? else {
            let message = "the domain was deleted while the operation ran".to_owned();
            fail_open_steps(&mut conn, lease, &message).await?;
            return Ok(ClaimEnd::Finished(RunState::Failed, message));
        };
        let scope = match operation.kind {
            OperationKind::Provision => desired::Scope::Provision,
            OperationKind::Revoke => desired::Scope::Revoke,
            OperationKind::Reconcile => desired::Scope::Reconcile,
        };
        if lease.claims > self.config.max_claims {
            let last = operations::domains(&mut conn, lease.operation_id)
                .await?
                .into_iter()
                .find(|d| d.domain_name == lease.domain_name)
                .map(|d| d.message)
                .unwrap_or_default();
            let message = format!(
                "gave up after {} attempts to bring the domain about; the last one ended with: {last}",
                lease.claims - 1
            );
            fail_open_steps(&mut conn, lease, &message).await?;
            return Ok(ClaimEnd::Finished(RunState::Failed, message));
        }
        let client = match self.google.domain(&record).await {
            // Every request of this claim is sent only under the claim's lease.
            Ok(client) => client.guarded(guard.clone()),
            Err(e) => {
                let message = e.to_string();
                fail_open_steps(&mut conn, lease, &message).await?;
                return Ok(ClaimEnd::Finished(RunState::Failed, message));
            }
        };
        let confirmations = desired::confirmations(&mut conn, &record.domain_name).await?;
        drop(conn);

        // Accounts that cannot go on in this operation, with why.
        let mut failed_accounts: BTreeMap<String, String> = BTreeMap::new();
        let mut notes: Vec<String> = Vec::new();
        // What became of accounts that no step tells about (conflicts, blockers, revoked).
        let mut verdicts: BTreeMap<String, serde_json::Value>;
        for pass in 0..self.config.max_passes {
            // The decisions are read again every pass: a revocation decided while this
            // operation runs takes effect at once, and is never undone by it.
            let desired = {
                let mut conn = self.store.pool().acquire().await?;
                match desired::from_decisions(&mut conn, &record, scope, &request.staff_members)
                    .await
                {
                    Ok(desired) => desired,
                    Err(desired::DesiredError::Store(e)) => return Err(e.into()),
                    Err(desired::DesiredError::Invalid(message)) => {
                        fail_open_steps(&mut conn, lease, &message).await?;
                        return Ok(ClaimEnd::Finished(RunState::Failed, message));
                    }
                }
            };
            let observed = match observe::observe_domain(
                &client,
                &desired,
                confirmations.clone(),
                &self.config.planner.access,
            )
            .await
            {
                Ok(observed) => observed,
                Err(error) => match execute::classify(error) {
                    StepFailure::NotSent(_) => return Err(not_sent(guard)),
                    StepFailure::Retry { detail, after } => {
                        return Ok(ClaimEnd::RetryLater(
                            format!("observing Google: {detail}"),
                            after,
                        ));
                    }
                    StepFailure::Account(detail)
                    | StepFailure::SeatsExhausted(detail)
                    | StepFailure::Domain(detail) => {
                        let mut conn = self.store.pool().acquire().await?;
                        fail_open_steps(&mut conn, lease, &detail).await?;
                        return Ok(ClaimEnd::Finished(RunState::Failed, detail));
                    }
                },
            };
            self.remember_observation(&record.domain_name, &client, &observed)
                .await;
            self.record_discovered_ownership(lease, &desired, &observed)
                .await?;

            let access = &self.config.planner.access;
            let pass_plan = pipeline::plan_pass(
                operation.kind,
                &desired,
                &observed,
                &self.config.planner,
                record.repair_policy,
            );
            // A reconciliation records drift every pass, before the pass repairs it: a change
            // made behind the service's back while it runs is not lost.
            if operation.kind == OperationKind::Reconcile {
                self.record_drift(&record.domain_name, &pass_plan.drift)
                    .await?;
            }
            push_new(&mut notes, &pass_plan.notes);
            verdicts = pass_plan.verdicts;
            let (steps, blocked) = (pass_plan.steps, pass_plan.blocked);

            let mut conn = self.store.pool().acquire().await?;
            operations::record_account_results(
                &mut conn,
                lease,
                &serde_json::Value::Object(verdicts.clone().into_iter().collect()),
            )
            .await?;
            let journal =
                operations::domain_steps(&mut conn, lease.operation_id, &lease.domain_name).await?;
            let planned_keys: BTreeSet<String> = steps.iter().map(|s| s.step.key()).collect();
            confirm_vanished_steps(
                &mut conn,
                lease,
                &journal,
                &planned_keys,
                &observed,
                &self.config.planner.access,
            )
            .await?;

            if let Some(message) = blocked {
                fail_open_steps(&mut conn, lease, &message).await?;
                return Ok(ClaimEnd::Finished(RunState::Failed, message));
            }
            // Accounts that failed for good in this operation (in this claim or an earlier
            // one) are not tried again: a person has to act first.
            for record in journal.iter().filter(|r| r.state == StepState::Failed) {
                if let Some(account) = &record.account_email {
                    failed_accounts
                        .entry(account.clone())
                        .or_insert_with(|| record.detail.clone());
                }
            }
            let runnable: Vec<PlannedStep> = steps
                .into_iter()
                .filter(|s| {
                    s.step
                        .account()
                        .is_none_or(|a| !failed_accounts.contains_key(a.as_str()))
                })
                .collect();
            if runnable.is_empty() {
                // Every account the operation worked towards that nothing else is said of is
                // as desired now: Google shows it after this last observation.
                let worked_on: Vec<&support_access_domain::desired::DesiredAccount> =
                    match operation.kind {
                        OperationKind::Revoke => desired
                            .revoked()
                            .iter()
                            .map(|(account, _)| account)
                            .collect(),
                        _ => desired.accounts().iter().collect(),
                    };
                for account in worked_on {
                    let email = account.email().as_str();
                    if !failed_accounts.contains_key(email) {
                        verdicts
                            .entry(email.to_owned())
                            .or_insert_with(|| serde_json::json!({ "result": "DONE" }));
                    }
                }
                operations::record_account_results(
                    &mut conn,
                    lease,
                    &serde_json::Value::Object(verdicts.clone().into_iter().collect()),
                )
                .await?;
                // Conflicts and blockers need a person, like failed accounts.
                let needs_person: Vec<String> = verdicts
                    .iter()
                    .filter(|(_, v)| matches!(v["result"].as_str(), Some("CONFLICT" | "BLOCKED")))
                    .map(|(account, v)| {
                        format!("{account}: {}", v["detail"].as_str().unwrap_or_default())
                    })
                    .collect();
                // A reconciliation reports them as drift and status instead of failing.
                let needs_person = if operation.kind == OperationKind::Reconcile {
                    Vec::new()
                } else {
                    needs_person
                };
                let state = if failed_accounts.is_empty() && needs_person.is_empty() {
                    RunState::Succeeded
                } else {
                    RunState::Failed
                };
                let mut message = failure_message(&lease.domain_name, &failed_accounts);
                if !needs_person.is_empty() {
                    if !message.is_empty() {
                        message.push('\n');
                    }
                    message.push_str(&format!(
                        "accounts left alone until a person acts: {}",
                        needs_person.join("; ")
                    ));
                }
                for note in &notes {
                    if !message.is_empty() {
                        message.push('\n');
                    }
                    message.push_str(note);
                }
                if operation.kind == OperationKind::Reconcile {
                    let drift = detect_drift(&desired, &observed, access);
                    let repaired = journal.iter().any(|r| r.state == StepState::Done);
                    self.close_drift(lease, &drift, repaired).await?;
                }
                tracing::info!(domain = %lease.domain_name, passes = pass + 1, "domain converged");
                return Ok(ClaimEnd::Finished(state, message));
            }
            let pass_steps = steps_of_pass(runnable);
            let journaled = journal_batch(&mut conn, lease, &journal, &pass_steps).await?;
            drop(conn);

            let resolver = Resolver::from_observation(&observed);
            let end = self
                .run_pass(lease, &client, resolver, journaled, &mut failed_accounts)
                .await?;
            if let Some(end) = end {
                return Ok(end);
            }
            let mut conn = self.store.pool().acquire().await?;
            if operations::cancel_requested(&mut conn, lease.operation_id).await? {
                return Err(Interrupted::Cancelled);
            }
            // A revocation never waits behind a long provision: yield the domain to it and
            // come back after.
            if operation.kind != OperationKind::Revoke
                && operations::revoke_waiting(&mut conn, lease).await?
            {
                return Ok(ClaimEnd::RetryLater(
                    "yielded the domain to a revocation; continues after it".into(),
                    Duration::ZERO,
                ));
            }
        }
        let message = format!(
            "the domain did not converge after {} observation passes; the last steps are in the journal",
            self.config.max_passes
        );
        Ok(ClaimEnd::RetryLater(message, Duration::from_secs(30)))
    }

    /// Runs the steps of one pass: the domain-level steps first (org unit, custom role), then
    /// one chain per account (its steps in phase order: create or update, licenses, role; or
    /// role removal, then suspension or deletion), chains running concurrently up to the step
    /// concurrency. A chain stops at its first step that does not succeed. Returns how the claim
    /// ends when a step stops the whole domain or asks to wait.
    ///
    /// Chaining an account's role assignment right behind its creation keeps Google's quotas
    /// busy with useful work (the Directory quota has room for both while user creation is held
    /// to its own, lower, rate) instead of waiting for every account of the domain to be
    /// created first; the adapter rides out the short window in which Google does not know a
    /// new user yet. Licenses of accounts created in this pass are left to the next pass, whose
    /// observation shows what Google assigned on its own.
    async fn run_pass(
        &self,
        lease: &Lease,
        client: &support_access_google::DomainClient,
        resolver: Resolver,
        steps: Vec<(i32, i32, PlannedStep)>,
        failed_accounts: &mut BTreeMap<String, String>,
    ) -> Result<Option<ClaimEnd>, Interrupted> {
        let resolver = tokio::sync::Mutex::new(resolver);
        let (domain_steps, account_steps): (Vec<_>, Vec<_>) = steps
            .into_iter()
            .partition(|(_, _, planned)| planned.step.account().is_none());

        if !domain_steps.is_empty() {
            type StepResult = Result<(PlannedStep, Result<(), StepFailure>), Interrupted>;
            let results: Vec<StepResult> =
                futures::stream::iter(domain_steps.into_iter().map(|(seq, attempts, planned)| {
                    let resolver = &resolver;
                    async move {
                        let result = self
                            .run_step(lease, client, resolver, seq, attempts, &planned)
                            .await?;
                        Ok((planned, result))
                    }
                }))
                .buffer_unordered(self.config.step_concurrency.max(1))
                .collect()
                .await;
            let mut retry = RetryAfter::default();
            for result in results {
                let (planned, outcome) = result?;
                match outcome {
                    Ok(()) => {}
                    Err(StepFailure::NotSent(_)) => return Err(Interrupted::Fenced),
                    Err(StepFailure::Retry { detail, after }) => retry.add(detail, after),
                    // Every account depends on the org unit and the role: a domain-level step
                    // that cannot be done stops the domain.
                    Err(
                        StepFailure::Account(detail)
                        | StepFailure::SeatsExhausted(detail)
                        | StepFailure::Domain(detail),
                    ) => {
                        let detail = format!("{}: {detail}", planned.step.kind());
                        let mut conn = self.store.pool().acquire().await?;
                        fail_open_steps(&mut conn, lease, &detail).await?;
                        return Ok(Some(ClaimEnd::Finished(RunState::Failed, detail)));
                    }
                }
            }
            if let Some(end) = retry.end() {
                return Ok(Some(end));
            }
        }

        // One chain per account, in plan order; each chain's steps in phase order.
        let mut chains: Vec<Vec<(i32, i32, PlannedStep)>> = Vec::new();
        let mut chain_of: HashMap<String, usize> = HashMap::new();
        for step in account_steps {
            let account = step.2.step.account().map(|a| a.as_str().to_owned());
            let index = *chain_of
                .entry(account.unwrap_or_default())
                .or_insert_with(|| {
                    chains.push(Vec::new());
                    chains.len() - 1
                });
            chains[index].push(step);
        }
        for chain in &mut chains {
            chain.sort_by_key(|(_, _, planned)| phase(planned.step.kind()));
        }
        // Set once Google refuses a user for want of Cloud Identity Free seats: the accounts
        // still to be created are then not sent (each would be refused the same way).
        let seats_exhausted: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
        // Set when a step stops the whole domain: chains stop before their next step.
        let domain_failed = std::sync::atomic::AtomicBool::new(false);
        let results: Vec<Result<ChainEnd, Interrupted>> =
            futures::stream::iter(chains.into_iter().map(|chain| {
                let resolver = &resolver;
                let seats_exhausted = &seats_exhausted;
                let domain_failed = &domain_failed;
                async move {
                    self.run_chain(
                        lease,
                        client,
                        resolver,
                        chain,
                        seats_exhausted,
                        domain_failed,
                    )
                    .await
                }
            }))
            .buffer_unordered(self.config.step_concurrency.max(1))
            .collect()
            .await;

        let mut retry = RetryAfter::default();
        let mut domain_failure = None;
        for result in results {
            match result? {
                ChainEnd::Completed => {}
                ChainEnd::Retry { detail, after } => retry.add(detail, after),
                ChainEnd::AccountFailed { account, detail } => {
                    failed_accounts.insert(account, detail);
                }
                ChainEnd::DomainFailed(detail) => domain_failure = Some(detail),
            }
        }
        if let Some(detail) = domain_failure {
            let mut conn = self.store.pool().acquire().await?;
            fail_open_steps(&mut conn, lease, &detail).await?;
            return Ok(Some(ClaimEnd::Finished(RunState::Failed, detail)));
        }
        Ok(retry.end())
    }

    /// Runs one account's steps in order until one does not succeed; the steps after a failed
    /// one are journaled as failed (not attempted), those after a retry stay pending for the
    /// next claim.
    async fn run_chain(
        &self,
        lease: &Lease,
        client: &support_access_google::DomainClient,
        resolver: &tokio::sync::Mutex<Resolver>,
        chain: Vec<(i32, i32, PlannedStep)>,
        seats_exhausted: &std::sync::Mutex<Option<String>>,
        domain_failed: &std::sync::atomic::AtomicBool,
    ) -> Result<ChainEnd, Interrupted> {
        use std::sync::atomic::Ordering;
        let mut steps = chain.into_iter();
        while let Some((seq, attempts, planned)) = steps.next() {
            if domain_failed.load(Ordering::SeqCst) {
                return Ok(ChainEnd::Completed);
            }
            let account = planned
                .step
                .account()
                .map(|a| a.as_str().to_owned())
                .unwrap_or_default();
            let refused_before = matches!(planned.step, Step::CreateUser { .. })
                .then(|| seats_exhausted.lock().expect("not poisoned").clone())
                .flatten();
            let outcome = match refused_before {
                Some(reason) => {
                    let detail =
                        format!("not sent: Google refused another account of the domain: {reason}");
                    self.record(lease, seq, StepState::Failed, &detail, None, 0)
                        .await?;
                    Err(StepFailure::SeatsExhausted(reason))
                }
                None => {
                    self.run_step(lease, client, resolver, seq, attempts, &planned)
                        .await?
                }
            };
            let detail = match outcome {
                Ok(()) => continue,
                Err(StepFailure::NotSent(_)) => return Err(Interrupted::Fenced),
                Err(StepFailure::Retry { detail, after }) => {
                    return Ok(ChainEnd::Retry { detail, after });
                }
                Err(StepFailure::Domain(detail)) => {
                    domain_failed.store(true, Ordering::SeqCst);
                    return Ok(ChainEnd::DomainFailed(detail));
                }
                Err(StepFailure::SeatsExhausted(detail)) => {
                    seats_exhausted
                        .lock()
                        .expect("not poisoned")
                        .get_or_insert_with(|| detail.clone());
                    detail
                }
                Err(StepFailure::Account(detail)) => detail,
            };
            let detail = format!("{}: {detail}", planned.step.kind());
            let not_attempted = format!("not attempted: {detail}");
            for (seq, _, _) in steps {
                self.record(lease, seq, StepState::Failed, &not_attempted, None, 0)
                    .await?;
            }
            return Ok(ChainEnd::AccountFailed { account, detail });
        }
        Ok(ChainEnd::Completed)
    }

    /// Journals a step as running, calls Google, journals the outcome.
    async fn run_step(
        &self,
        lease: &Lease,
        client: &support_access_google::DomainClient,
        resolver: &tokio::sync::Mutex<Resolver>,
        seq: i32,
        attempts: i32,
        planned: &PlannedStep,
    ) -> Result<Result<(), StepFailure>, Interrupted> {
        if attempts >= self.config.max_step_attempts {
            let detail = format!("gave up after {attempts} attempts");
            self.record(lease, seq, StepState::Failed, &detail, None, 0)
                .await?;
            return Ok(Err(StepFailure::Account(detail)));
        }
        // Journaled RUNNING only while the lease outlives a request and the operation is not
        // cancelled (one statement): a cancel acknowledged before this point stops the write.
        let start = {
            let mut conn = self.store.pool().acquire().await?;
            let min_remaining =
                lease::LeaseGuard::new(tokio::time::Instant::now(), self.config.lease)
                    .min_remaining();
            operations::start_step(&mut conn, lease, seq, min_remaining).await?
        };
        match start {
            StepStart::Started(_) => {}
            StepStart::Cancelled => return Err(Interrupted::Cancelled),
            StepStart::LeaseTooShort => return Err(Interrupted::LeaseLapsing),
        }
        // The intent is audited before the call, the outcome after it.
        audit::record_google_write(
            &self.store,
            &self.authors,
            lease,
            &planned.step,
            "INTENT",
            "calling Google",
        )
        .await;
        let mut local = resolver.lock().await.clone();
        let started = Instant::now();
        let result = execute::execute(client, &planned.step, &mut local).await;
        if let Err(StepFailure::NotSent(_)) = &result {
            let mut conn = self.store.pool().acquire().await?;
            return Err(
                if operations::cancel_requested(&mut conn, lease.operation_id).await? {
                    Interrupted::Cancelled
                } else {
                    Interrupted::Fenced
                },
            );
        }
        tracing::debug!(
            seq,
            action = planned.step.kind().as_str(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            ok = result.is_ok(),
            "step ran"
        );
        let (outcome, audit_detail) = match &result {
            Ok(effect) if effect.get("already_existed").is_some() => {
                ("ALREADY_DONE", "already done")
            }
            Ok(effect) if effect.get("already_gone").is_some() => ("ALREADY_GONE", "already gone"),
            Ok(_) => ("OK", "done"),
            Err(StepFailure::Retry { detail, .. }) => ("WILL_RETRY", detail.as_str()),
            Err(
                StepFailure::Account(detail)
                | StepFailure::SeatsExhausted(detail)
                | StepFailure::Domain(detail)
                | StepFailure::NotSent(detail),
            ) => ("FAILED", detail.as_str()),
        };
        audit::record_google_write(
            &self.store,
            &self.authors,
            lease,
            &planned.step,
            outcome,
            audit_detail,
        )
        .await;
        match result {
            Ok(effect) => {
                resolver.lock().await.learn(&planned.step, &effect);
                let detail = if effect.get("already_existed").is_some() {
                    "already done in Google (confirmed)"
                } else if effect.get("already_gone").is_some() {
                    "already gone in Google (confirmed)"
                } else {
                    "done"
                };
                self.record(lease, seq, StepState::Done, detail, Some(&effect), 0)
                    .await?;
                if let Some(staff) = &planned.staff_member {
                    self.record_step_ownership(lease, staff, &planned.step, &effect)
                        .await?;
                }
                Ok(Ok(()))
            }
            Err(StepFailure::Retry { detail, after }) => {
                self.record(
                    lease,
                    seq,
                    StepState::Running,
                    &format!("will retry: {detail}"),
                    None,
                    0,
                )
                .await?;
                Ok(Err(StepFailure::Retry { detail, after }))
            }
            Err(StepFailure::Account(detail)) => {
                self.record(lease, seq, StepState::Failed, &detail, None, 0)
                    .await?;
                Ok(Err(StepFailure::Account(detail)))
            }
            Err(StepFailure::SeatsExhausted(detail)) => {
                self.record(lease, seq, StepState::Failed, &detail, None, 0)
                    .await?;
                Ok(Err(StepFailure::SeatsExhausted(detail)))
            }
            Err(StepFailure::Domain(detail)) => {
                self.record(lease, seq, StepState::Failed, &detail, None, 0)
                    .await?;
                Ok(Err(StepFailure::Domain(detail)))
            }
            Err(StepFailure::NotSent(_)) => Err(Interrupted::Fenced),
        }
    }

    async fn record(
        &self,
        lease: &Lease,
        seq: i32,
        state: StepState,
        detail: &str,
        effect: Option<&serde_json::Value>,
        add_attempts: i32,
    ) -> Result<StepRecord, Interrupted> {
        let mut conn = self.store.pool().acquire().await?;
        Ok(operations::record_step(
            &mut conn,
            lease,
            seq,
            &StepUpdate {
                state,
                detail,
                google_effect: effect,
                add_attempts,
            },
        )
        .await?)
    }

    /// What a successful step changes in what the service owns: a created account is owned
    /// (its id recorded), an adopted one marked in Google is owned, a deleted one no longer.
    async fn record_step_ownership(
        &self,
        lease: &Lease,
        staff: &StaffMemberId,
        step: &Step,
        effect: &serde_json::Value,
    ) -> Result<(), Interrupted> {
        let mut conn = self.store.pool().acquire().await?;
        match step {
            Step::CreateUser { account, .. } => {
                if let Some(user_id) = execute::effect_user_id(effect) {
                    accounts::record_ownership(
                        &mut conn,
                        &lease.domain_name,
                        staff.as_str(),
                        user_id.as_str(),
                        Ownership::Created,
                    )
                    .await?;
                    tracing::info!(account = %account, user_id = %user_id, "account created");
                }
            }
            Step::UpdateUser {
                user_id,
                set_marker: Some(_),
                ..
            } => {
                // An account the service created before it marked its accounts stays created.
                let ownership =
                    match accounts::get(&mut conn, &lease.domain_name, staff.as_str()).await? {
                        Some(row) if row.ownership == Ownership::Created => Ownership::Created,
                        _ => Ownership::Adopted,
                    };
                accounts::record_ownership(
                    &mut conn,
                    &lease.domain_name,
                    staff.as_str(),
                    user_id.as_str(),
                    ownership,
                )
                .await?;
            }
            Step::DeleteUser { .. } => {
                accounts::forget_ownership(&mut conn, &lease.domain_name, staff.as_str()).await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Records what the observation proves the service owns without Postgres knowing it yet:
    /// an account that carries this staff member's marker (found again after the database was
    /// lost: re-discovered as created by the service), and an approved adoption whose marker is
    /// already in Google. Audited.
    async fn record_discovered_ownership(
        &self,
        lease: &Lease,
        desired: &support_access_domain::desired::DesiredDomain,
        observed: &support_access_domain::observed::ObservedDomain,
    ) -> Result<(), Interrupted> {
        let mut found = Vec::new();
        let accounts = desired
            .accounts()
            .iter()
            .chain(desired.revoked().iter().map(|(account, _)| account));
        for account in accounts {
            match classify_ownership(account, observed, desired.delegated_admin()) {
                AccountOwnership::Owned {
                    user,
                    rediscovered: true,
                } => found.push((account, user, Ownership::Created, "REDISCOVERED")),
                AccountOwnership::AdoptionApproved { user }
                    if user.marker.as_deref()
                        == Some(marker_value(account.staff_member()).as_str()) =>
                {
                    found.push((account, user, Ownership::Adopted, "ADOPTED"))
                }
                _ => {}
            }
        }
        if found.is_empty() {
            return Ok(());
        }
        let mut conn = self.store.pool().acquire().await?;
        for (account, user, ownership, outcome) in found {
            accounts::record_ownership(
                &mut conn,
                &lease.domain_name,
                account.staff_member().as_str(),
                user.id.as_str(),
                ownership,
            )
            .await?;
            audit::record_ownership(
                &self.store,
                &self.authors,
                lease,
                account.email().as_str(),
                outcome,
                &format!(
                    "Google account {} carries the support-access marker of staff member {}",
                    user.id,
                    account.staff_member()
                ),
            )
            .await;
            tracing::info!(account = %account.email(), user_id = %user.id, outcome, "ownership recorded");
        }
        Ok(())
    }

    /// Opens a drift event for each drift not open already.
    async fn record_drift(&self, domain: &str, drift: &[Drift]) -> Result<(), Interrupted> {
        let new: Vec<support_access_store::drift::NewDrift> =
            drift.iter().map(|d| new_drift(domain, d)).collect();
        let mut conn = self.store.pool().acquire().await?;
        let opened = support_access_store::drift::record_open(&mut conn, domain, &new).await?;
        for event in &opened {
            tracing::warn!(domain, kind = %event.kind, account = %event.account_email, detail = %event.detail, "drift found");
        }
        Ok(())
    }

    /// At the end of a reconciliation: closes the open events Google no longer shows
    /// (attributed to this operation when its writes repaired them) and records the time.
    async fn close_drift(
        &self,
        lease: &Lease,
        remaining: &[Drift],
        repaired: bool,
    ) -> Result<(), Interrupted> {
        let keys: Vec<(String, String)> = remaining
            .iter()
            .map(|d| {
                (
                    d.kind.as_str().to_owned(),
                    d.account
                        .as_ref()
                        .map(|a| a.as_str().to_owned())
                        .unwrap_or_default(),
                )
            })
            .collect();
        let mut conn = self.store.pool().acquire().await?;
        support_access_store::drift::resolve_missing(
            &mut conn,
            &lease.domain_name,
            &keys,
            repaired.then_some(lease.operation_id),
        )
        .await?;
        operations::reconciled(&mut conn, &lease.domain_name).await?;
        Ok(())
    }

    /// Keeps the last observation for `GetDomainStatus` and learns the customer id.
    async fn remember_observation(
        &self,
        domain_name: &str,
        client: &support_access_google::DomainClient,
        observed: &support_access_domain::observed::ObservedDomain,
    ) {
        let saved = async {
            let mut conn = self.store.pool().acquire().await?;
            let value =
                serde_json::to_value(observed).map_err(|e| StoreError::Conflict(e.to_string()))?;
            observations::save(&mut conn, domain_name, &value, chrono::Utc::now()).await?;
            if let Ok(customer_id) = client.customer_id().await {
                domains::set_customer_id(&mut conn, domain_name, Some(&customer_id)).await?;
            }
            Ok::<_, StoreError>(())
        }
        .await;
        if let Err(error) = saved {
            tracing::warn!(domain = domain_name, error = %error, "cannot save the observation");
        }
    }
}

/// How one account's chain of steps ended.
enum ChainEnd {
    /// Every step succeeded (or the domain failed elsewhere and the chain stopped).
    Completed,
    /// A step is worth trying again later.
    Retry { detail: String, after: Duration },
    /// The account cannot go on until a person acts.
    AccountFailed { account: String, detail: String },
    /// The whole domain cannot go on.
    DomainFailed(String),
}

/// The longest wait asked for by the steps of a pass that must be retried.
#[derive(Default)]
struct RetryAfter(Option<(String, Duration)>);

impl RetryAfter {
    fn add(&mut self, detail: String, after: Duration) {
        if self.0.as_ref().is_none_or(|(_, longest)| after >= *longest) {
            self.0 = Some((detail, after));
        }
    }

    fn end(self) -> Option<ClaimEnd> {
        self.0.map(|(detail, after)| {
            ClaimEnd::RetryLater(format!("waiting to retry: {detail}"), after)
        })
    }
}

/// The steps one pass carries out: every runnable step, except the license steps of accounts
/// that this pass creates. Google may assign licenses to a new user on its own (Cloud Identity
/// Free is a site license; automatic licensing adds a paid one), so they are planned again
/// from the next observation rather than sent blind.
fn steps_of_pass(runnable: Vec<PlannedStep>) -> Vec<PlannedStep> {
    let created: BTreeSet<String> = runnable
        .iter()
        .filter(|s| matches!(s.step, Step::CreateUser { .. }))
        .filter_map(|s| s.step.account().map(|a| a.as_str().to_owned()))
        .collect();
    runnable
        .into_iter()
        .filter(|s| {
            !(phase(s.step.kind()) == LICENSE_PHASE
                && s.step
                    .account()
                    .is_some_and(|a| created.contains(a.as_str())))
        })
        .collect()
}

/// The domain's message for accounts that failed: those refused for want of Cloud Identity
/// Free seats together, with what to do, then the others with their reasons.
fn failure_message(domain: &str, failed: &BTreeMap<String, String>) -> String {
    let (no_seat, other): (Vec<_>, Vec<_>) = failed
        .iter()
        .partition(|(_, detail)| detail.contains(execute::NO_FREE_SEAT));
    let mut lines = Vec::new();
    if !no_seat.is_empty() {
        let accounts: Vec<&str> = no_seat.iter().map(|(a, _)| a.as_str()).collect();
        lines.push(format!(
            "{domain} has no free Cloud Identity Free seat left: {} account(s) could not be created: {}; {}",
            accounts.len(),
            accounts.join(", "),
            execute::seats_instructions(domain)
        ));
    }
    if !other.is_empty() {
        let accounts: Vec<String> = other
            .iter()
            .map(|(account, detail)| format!("{account} ({detail})"))
            .collect();
        lines.push(format!("failed accounts: {}", accounts.join("; ")));
    }
    lines.join("\n")
}

/// The phase of license steps.
const LICENSE_PHASE: u8 = 2;

/// The order of the phases a plan is carried out in.
fn phase(kind: StepKind) -> u8 {
    match kind {
        StepKind::CreateOrgUnit | StepKind::CreateCustomRole => 0,
        StepKind::CreateUser | StepKind::UpdateUser => 1,
        StepKind::RemovePaidLicense | StepKind::AssignLicense => 2,
        StepKind::AssignRole => 3,
        StepKind::RemoveRole => 4,
        StepKind::SuspendUser | StepKind::DeleteUser => 5,
    }
}

/// The journal's action for a step.
pub fn step_action(kind: StepKind) -> StepAction {
    match kind {
        StepKind::CreateOrgUnit => StepAction::CreateOrgUnit,
        StepKind::CreateCustomRole => StepAction::EnsureRole,
        StepKind::CreateUser => StepAction::CreateUser,
        StepKind::UpdateUser => StepAction::UpdateUser,
        StepKind::AssignLicense => StepAction::AssignLicense,
        StepKind::RemovePaidLicense => StepAction::RemovePaidLicense,
        StepKind::AssignRole => StepAction::AssignRole,
        StepKind::RemoveRole => StepAction::RemoveRole,
        StepKind::SuspendUser => StepAction::SuspendUser,
        StepKind::DeleteUser => StepAction::DeleteUser,
    }
}

/// The key of a journaled step (from its payload), to match it with a fresh plan.
fn journal_key(record: &StepRecord) -> Option<String> {
    serde_json::from_value::<Step>(record.payload.clone())
        .ok()
        .map(|s| s.key())
}

fn is_open(state: StepState) -> bool {
    matches!(state, StepState::Pending | StepState::Running)
}

/// Open journal steps that the fresh plan no longer needs: their effect is in Google (a worker
/// died after Google applied it, before journaling it), or it became unnecessary. A running one
/// is "confirmed by observation" only when the observation shows its effect.
async fn confirm_vanished_steps(
    conn: &mut sqlx::PgConnection,
    lease: &Lease,
    journal: &[StepRecord],
    planned_keys: &BTreeSet<String>,
    observed: &support_access_domain::observed::ObservedDomain,
    access: &support_access_domain::access::AccessConfig,
) -> Result<(), Interrupted> {
    for record in journal.iter().filter(|r| is_open(r.state)) {
        if journal_key(record).is_some_and(|k| planned_keys.contains(&k)) {
            continue;
        }
        let landed = serde_json::from_value::<Step>(record.payload.clone())
            .is_ok_and(|step| confirm::effect_observed(&step, observed, access));
        let (state, detail) = if record.state == StepState::Running && landed {
            (
                StepState::Done,
                "confirmed by observation: Google already shows the effect",
            )
        } else if record.state == StepState::Running {
            (
                StepState::Skipped,
                "no longer needed: the plan changed and Google does not show this step's effect",
            )
        } else {
            (
                StepState::Skipped,
                "not needed: Google already shows the desired state",
            )
        };
        operations::record_step(
            conn,
            lease,
            record.seq,
            &StepUpdate {
                state,
                detail,
                google_effect: None,
                add_attempts: 0,
            },
        )
        .await?;
    }
    Ok(())
}

/// Journals a batch: open journal rows with the same key are reused (a resumed claim), the rest
/// are appended. Returns (seq, attempts so far, step) for each.
async fn journal_batch(
    conn: &mut sqlx::PgConnection,
    lease: &Lease,
    journal: &[StepRecord],
    batch: &[PlannedStep],
) -> Result<Vec<(i32, i32, PlannedStep)>, Interrupted> {
    let open: HashMap<String, &StepRecord> = journal
        .iter()
        .filter(|r| is_open(r.state))
        .filter_map(|r| Some((journal_key(r)?, r)))
        .collect();
    let mut out = Vec::with_capacity(batch.len());
    let mut new_steps = Vec::new();
    let mut new_planned = Vec::new();
    for planned in batch {
        match open.get(&planned.step.key()) {
            Some(record) => out.push((record.seq, record.attempts, planned.clone())),
            None => {
                new_steps.push(NewStep {
                    domain_name: lease.domain_name.clone(),
                    account_email: planned.step.account().map(|a| a.as_str().to_owned()),
                    staff_member_id: planned.staff_member.as_ref().map(|s| s.as_str().to_owned()),
                    action: step_action(planned.step.kind()),
                    reason: planned.reason.clone(),
                    payload: serde_json::to_value(&planned.step).expect("steps serialize"),
                    state: StepState::Pending,
                    detail: String::new(),
                });
                new_planned.push(planned.clone());
            }
        }
    }
    if !new_steps.is_empty() {
        let records = operations::append_steps(conn, lease, &new_steps).await?;
        for (record, planned) in records.into_iter().zip(new_planned) {
            out.push((record.seq, 0, planned));
        }
    }
    Ok(out)
}

/// Fails every open step of the leased domain with `detail`.
async fn fail_open_steps(
    conn: &mut sqlx::PgConnection,
    lease: &Lease,
    detail: &str,
) -> Result<(), Interrupted> {
    let journal = operations::domain_steps(conn, lease.operation_id, &lease.domain_name).await?;
    for record in journal.iter().filter(|r| is_open(r.state)) {
        operations::record_step(
            conn,
            lease,
            record.seq,
            &StepUpdate {
                state: StepState::Failed,
                detail,
                google_effect: None,
                add_attempts: 0,
            },
        )
        .await?;
    }
    Ok(())
}

/// Why nothing was sent, as the claim's interruption.
fn not_sent(guard: &lease::LeaseGuard) -> Interrupted {
    if guard.is_lost() {
        Interrupted::Fenced
    } else if guard.is_cancelled() {
        Interrupted::Cancelled
    } else {
        Interrupted::LeaseLapsing
    }
}

/// Adds the notes not yet in `notes`.
fn push_new(notes: &mut Vec<String>, new: &[String]) {
    for note in new {
        if !notes.contains(note) {
            notes.push(note.clone());
        }
    }
}

/// A drift as the store records it.
fn new_drift(domain: &str, drift: &Drift) -> support_access_store::drift::NewDrift {
    support_access_store::drift::NewDrift {
        domain_name: domain.to_owned(),
        kind: drift.kind.as_str().to_owned(),
        account_email: drift
            .account
            .as_ref()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default(),
        staff_member_id: drift.staff_member.as_ref().map(|s| s.as_str().to_owned()),
        detail: drift.detail.clone(),
        evidence: serde_json::to_value(&drift.evidence).unwrap_or_default(),
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "replica".to_owned())
}
