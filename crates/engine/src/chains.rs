//! Carrying out one pass: the domain-level steps, then one chain per account, chains running
//! concurrently; each step journaled RUNNING (checking the lease and the cancel flag in the same
//! transaction), sent to Google under the lease guard, audited before and after, journaled with
//! its outcome.

use super::journal::Journal;
use super::*;

impl Engine {
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
    pub(super) async fn run_pass(
        &self,
        lease: &Lease,
        client: &support_access_google::DomainClient,
        resolver: &tokio::sync::Mutex<Resolver>,
        steps: Vec<(i32, i32, PlannedStep)>,
        failed_accounts: &mut BTreeMap<String, String>,
    ) -> Result<Option<ClaimEnd>, Interrupted> {
        let (domain_steps, account_steps): (Vec<_>, Vec<_>) = steps
            .into_iter()
            .partition(|(_, _, planned)| planned.step.account().is_none());

        if !domain_steps.is_empty() {
            type StepResult = Result<(PlannedStep, Result<(), StepFailure>), Interrupted>;
            let results: Vec<StepResult> = futures::stream::iter(domain_steps.into_iter().map(
                |(seq, attempts, planned)| async move {
                    let result = self
                        .run_step(lease, client, resolver, seq, attempts, &planned)
                        .await?;
                    Ok((planned, result))
                },
            ))
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
                        Journal::of(lease)
                            .fail_open_steps(&mut conn, &detail)
                            .await?;
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
        // Two waves: every account's user step first, then the rest of every chain. Google
        // makes a new user known to role assignment and Licensing only seconds to minutes after
        // creating it; creating everyone first lets that time pass while the other accounts are
        // created, instead of a chain holding one of the `step_concurrency` slots while the
        // adapter waits for its user to propagate.
        let (heads, tails): (Vec<_>, Vec<_>) = chains
            .into_iter()
            .map(|chain| {
                chain.into_iter().partition::<Vec<_>, _>(|(_, _, planned)| {
                    phase(planned.step.kind()) <= USER_PHASE
                })
            })
            .unzip();
        let run_wave = |wave: Vec<Vec<(i32, i32, PlannedStep)>>| {
            let seats_exhausted = &seats_exhausted;
            let domain_failed = &domain_failed;
            futures::stream::iter(wave.into_iter().map(move |chain| async move {
                if chain.is_empty() {
                    return Ok(ChainEnd::Completed);
                }
                self.run_chain(
                    lease,
                    client,
                    resolver,
                    chain,
                    seats_exhausted,
                    domain_failed,
                )
                .await
            }))
            .buffered(self.config.step_concurrency.max(1))
            .collect::<Vec<Result<ChainEnd, Interrupted>>>()
        };
        let head_results = run_wave(heads).await;
        let mut results = Vec::with_capacity(head_results.len());
        let mut continued = Vec::new();
        let mut continued_at = Vec::new();
        for (head, tail) in head_results.into_iter().zip(tails) {
            match head {
                Ok(ChainEnd::Completed) => {
                    continued_at.push(results.len());
                    continued.push(tail);
                    results.push(Ok(ChainEnd::Completed));
                }
                Ok(ChainEnd::AccountFailed { account, detail }) => {
                    let not_attempted = format!("not attempted: {detail}");
                    for (seq, _, _) in tail {
                        self.finish_step(lease, seq, StepState::Failed, &not_attempted, None)
                            .await?;
                    }
                    results.push(Ok(ChainEnd::AccountFailed { account, detail }));
                }
                // A retry leaves the rest of the chain pending for the next claim; a domain
                // failure fails every open step below.
                other => results.push(other),
            }
        }
        for (at, result) in continued_at.into_iter().zip(run_wave(continued).await) {
            results[at] = result;
        }

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
            Journal::of(lease)
                .fail_open_steps(&mut conn, &detail)
                .await?;
            return Ok(Some(ClaimEnd::Finished(RunState::Failed, detail)));
        }
        Ok(retry.end())
    }

    /// Runs one account's steps in order until one does not succeed; the steps after a failed
    /// one are journaled as failed (not attempted), those after a retry stay pending for the
    /// next claim.
    pub(super) async fn run_chain(
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
                    self.finish_step(lease, seq, StepState::Failed, &detail, None)
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
                self.finish_step(lease, seq, StepState::Failed, &not_attempted, None)
                    .await?;
            }
            return Ok(ChainEnd::AccountFailed { account, detail });
        }
        Ok(ChainEnd::Completed)
    }

    /// Journals a step as running, calls Google, journals the outcome.
    pub(super) async fn run_step(
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
            self.finish_step(lease, seq, StepState::Failed, &detail, None)
                .await?;
            return Ok(Err(StepFailure::Account(detail)));
        }
        // Journaled RUNNING only while the lease outlives a request and the operation is not
        // cancelled (one statement): a cancel acknowledged before this point stops the write.
        let start = {
            let mut conn = self.store.pool().acquire().await?;
            let min_remaining = lease::min_remaining(self.config.lease);
            Journal::of(lease)
                .start_step(&mut conn, seq, min_remaining)
                .await?
        };
        match start {
            StepStart::Started => {}
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
            Ok(StepEffect::AlreadyExisted(_)) => ("ALREADY_DONE", "already done"),
            Ok(StepEffect::AlreadyGone) => ("ALREADY_GONE", "already gone"),
            Ok(StepEffect::Applied(_)) => ("OK", "done"),
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
                let detail = match effect {
                    StepEffect::AlreadyExisted(_) => "already done in Google (confirmed)",
                    StepEffect::AlreadyGone => "already gone in Google (confirmed)",
                    StepEffect::Applied(_) => "done",
                };
                self.finish_step(lease, seq, StepState::Done, detail, Some(&effect))
                    .await?;
                if let Some(staff) = &planned.staff_member {
                    self.record_step_ownership(lease, staff, &planned.step, &effect)
                        .await?;
                }
                Ok(Ok(()))
            }
            Err(StepFailure::Retry { detail, after }) => {
                let after = retry_backoff(after, attempts, rand::random::<f64>());
                self.finish_step(
                    lease,
                    seq,
                    StepState::Running,
                    &format!("will retry in {} ms: {detail}", after.as_millis()),
                    None,
                )
                .await?;
                Ok(Err(StepFailure::Retry { detail, after }))
            }
            Err(StepFailure::Account(detail)) => {
                self.finish_step(lease, seq, StepState::Failed, &detail, None)
                    .await?;
                Ok(Err(StepFailure::Account(detail)))
            }
            Err(StepFailure::SeatsExhausted(detail)) => {
                self.finish_step(lease, seq, StepState::Failed, &detail, None)
                    .await?;
                Ok(Err(StepFailure::SeatsExhausted(detail)))
            }
            Err(StepFailure::Domain(detail)) => {
                self.finish_step(lease, seq, StepState::Failed, &detail, None)
                    .await?;
                Ok(Err(StepFailure::Domain(detail)))
            }
            Err(StepFailure::NotSent(_)) => Err(Interrupted::Fenced),
        }
    }

    /// Journals where step `seq` stands, on a connection of its own.
    pub(super) async fn finish_step(
        &self,
        lease: &Lease,
        seq: i32,
        state: StepState,
        detail: &str,
        effect: Option<&StepEffect>,
    ) -> Result<StepRecord, Interrupted> {
        let mut conn = self.store.pool().acquire().await?;
        Journal::of(lease)
            .finish_step(&mut conn, seq, state, detail, effect)
            .await
    }
}

/// How one account's chain of steps ended.
pub(super) enum ChainEnd {
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
pub(super) struct RetryAfter(Option<(String, Duration)>);

impl RetryAfter {
    pub(super) fn add(&mut self, detail: String, after: Duration) {
        if self.0.as_ref().is_none_or(|(_, longest)| after >= *longest) {
            self.0 = Some((detail, after));
        }
    }

    pub(super) fn end(self) -> Option<ClaimEnd> {
        self.0.map(|(detail, after)| {
            ClaimEnd::RetryLater(format!("waiting to retry: {detail}"), after)
        })
    }
}

/// The longest the engine waits before it tries a step again (Google's guidance caps its
/// exponential backoff at 32 to 64 seconds).
pub(super) const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(64);

/// How long to wait before the next attempt of a step that Google asked to retry: the wait the
/// answer asked for (a `Retry-After`, or the class's default) doubled for every attempt the step
/// already made, capped at [`MAX_RETRY_BACKOFF`], plus up to one second of jitter (`jitter` in
/// [0, 1)) so that the steps of many accounts do not come back at the same instant. Google's
/// guidance for 412, 429 and 5xx answers ("truncated exponential backoff").
pub(super) fn retry_backoff(asked: Duration, attempts_before: i32, jitter: f64) -> Duration {
    let doublings = attempts_before.clamp(0, 16) as u32;
    let grown = asked
        .checked_mul(1 << doublings)
        .unwrap_or(MAX_RETRY_BACKOFF)
        .min(MAX_RETRY_BACKOFF);
    grown + Duration::from_secs_f64(jitter.clamp(0.0, 1.0))
}

/// The phase of license steps.
pub(super) const LICENSE_PHASE: u8 = 2;

/// The phase of the steps that create or update the user itself (the first wave).
pub(super) const USER_PHASE: u8 = 1;

/// The order of the phases a plan is carried out in.
pub(super) fn phase(kind: StepKind) -> u8 {
    match kind {
        StepKind::CreateOrgUnit | StepKind::CreateCustomRole => 0,
        StepKind::CreateUser | StepKind::UpdateUser => 1,
        StepKind::RemovePaidLicense | StepKind::AssignLicense => 2,
        StepKind::AssignRole => 3,
        StepKind::RemoveRole => 4,
        StepKind::SuspendUser | StepKind::DeleteUser => 5,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{MAX_RETRY_BACKOFF, retry_backoff};

    #[test]
    fn retries_back_off_exponentially_with_jitter_and_a_cap() {
        let two = Duration::from_secs(2);
        assert_eq!(retry_backoff(two, 0, 0.0), two);
        assert_eq!(retry_backoff(two, 1, 0.0), Duration::from_secs(4));
        assert_eq!(retry_backoff(two, 4, 0.0), Duration::from_secs(32));
        assert_eq!(retry_backoff(two, 5, 0.0), MAX_RETRY_BACKOFF);
        assert_eq!(retry_backoff(two, 500, 0.0), MAX_RETRY_BACKOFF);
        // A Retry-After is the floor of the first wait; jitter adds at most a second.
        assert_eq!(
            retry_backoff(Duration::from_secs(5), 0, 0.5),
            Duration::from_millis(5500)
        );
        assert!(retry_backoff(two, 3, 0.999) < Duration::from_secs(17));
        // Nonsense in, sane out.
        assert_eq!(retry_backoff(two, -3, 7.0), Duration::from_secs(3));
    }
}
