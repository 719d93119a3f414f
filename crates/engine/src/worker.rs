//! The workers of one replica: each claims one domain of one operation at a time, works on it
//! under its lease (the heartbeat runs beside it, see [`super::lease`]) and releases it; a task of
//! its own starts the reconciliations that are due.

use tracing::Instrument as _;

use super::journal::Journal;
use super::*;

impl Engine {
    pub(super) async fn worker_loop(
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
                    // The other domains of the same customer in this operation come along:
                    // one observation of Google serves them all.
                    let siblings = match operations::claim_customer_siblings(
                        self.store.pool(),
                        &lease,
                        self.config.lease,
                    )
                    .await
                    {
                        Ok(siblings) => siblings,
                        Err(error) => {
                            tracing::warn!(error = %error, "cannot claim the customer's other domains; working on one");
                            Vec::new()
                        }
                    };
                    let mut leases = vec![lease];
                    leases.extend(siblings);
                    let span = self.claim_span(&leases).await;
                    async {
                        record_takeovers(&leases);
                        self.work_on(leases, claimed_at).await;
                    }
                    .instrument(span)
                    .await;
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

    /// The span of a claim on `leases` (domains of one operation), under the trace of the
    /// request that started the operation. A trace is not worth delaying the work for: when
    /// Postgres does not say, the claim starts a trace of its own.
    async fn claim_span(&self, leases: &[Lease]) -> tracing::Span {
        let operation_id = leases[0].operation_id;
        let parent = async {
            let mut conn = self.store.pool().acquire().await?;
            operations::trace_parent(&mut conn, operation_id).await
        }
        .await
        .unwrap_or_else(|error| {
            tracing::debug!(operation = %operation_id, error = %error, "cannot read the operation's trace parent");
            None
        });
        let domains: Vec<&str> = leases.iter().map(|l| l.domain_name.as_str()).collect();
        super::trace::claim_span(operation_id, &domains.join(","), parent.as_deref())
    }

    /// Works on the claimed domains (one, or several of one customer) until each is finished,
    /// must wait, or the leases are lost. The leases are renewed in the background for as long as
    /// the claim runs: one observation or one batch of steps can outlast a lease (hundreds of
    /// accounts at Google's quotas), and a lapsed lease lets another worker start on the same
    /// domain.
    pub(super) async fn work_on(&self, leases: Vec<Lease>, claimed_at: tokio::time::Instant) {
        let guard = Arc::new(lease::LeaseGuard::new(claimed_at, self.config.lease));
        // The heartbeat is a task of its own: nothing the work does can delay it.
        let heartbeat = tokio::spawn(lease::keep_leases(
            self.store.clone(),
            leases.clone(),
            guard.clone(),
            self.config.lease,
        ));
        let result = tokio::select! {
            biased;
            () = guard.lost() => Err(Interrupted::Fenced),
            result = self.run_claim(&leases, &guard) => result,
        };
        heartbeat.abort();
        let ends: Vec<Result<ClaimEnd, Interrupted>> = match result {
            Ok(ends) => ends.into_iter().map(Ok).collect(),
            Err(Interrupted::Cancelled) => {
                let mut ends = Vec::with_capacity(leases.len());
                for lease in &leases {
                    ends.push(self.end_cancelled(lease).await);
                }
                ends
            }
            Err(interrupted) => {
                self.interrupted(&leases, &guard, interrupted).await;
                return;
            }
        };
        for (lease, end) in leases.iter().zip(ends) {
            match end {
                Ok(end) => self.release(lease, end).await,
                Err(interrupted) => {
                    self.interrupted(std::slice::from_ref(lease), &guard, interrupted)
                        .await
                }
            }
        }
    }

    /// Leaves claimed domains whose work stopped half-way: a lost or lapsing lease drops the
    /// work (another claim resumes it); a Postgres failure hands the domains back.
    async fn interrupted(
        &self,
        leases: &[Lease],
        guard: &lease::LeaseGuard,
        interrupted: Interrupted,
    ) {
        for lease in leases {
            match &interrupted {
                Interrupted::Fenced => {
                    tracing::warn!(operation = %lease.operation_id, domain = %lease.domain_name, "lease lost: the claim's work was dropped");
                }
                Interrupted::LeaseLapsing => {
                    tracing::warn!(operation = %lease.operation_id, domain = %lease.domain_name, "lease lapsing: the work stops and resumes under a new claim");
                }
                Interrupted::Cancelled => {
                    tracing::warn!(operation = %lease.operation_id, domain = %lease.domain_name, "cancelled, and the steps could not be marked so");
                }
                Interrupted::Store(error) => {
                    tracing::warn!(operation = %lease.operation_id, domain = %lease.domain_name, error = %error, "postgres failed while working; the domain is handed back as soon as postgres answers");
                    self.hand_back(lease, guard).await;
                }
            }
        }
    }

    /// Gives one domain back with how its claim ended, and finishes the operation when it was
    /// the last.
    async fn release(&self, lease: &Lease, end: ClaimEnd) {
        let (state, message, retry_after) = match end {
            ClaimEnd::Finished(state, message) => (state, message, None),
            ClaimEnd::RetryLater(message, after) => (RunState::Running, message, Some(after)),
        };
        let released = async {
            let mut conn = self.store.pool().acquire().await?;
            operations::release(&mut conn, lease, state, &message, retry_after).await
        }
        .await;
        match released {
            Ok(true) => {
                if let Err(error) = outcome::finish_operation(
                    &self.store,
                    self.encoder.as_ref(),
                    lease.operation_id,
                )
                .await
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
    pub(super) async fn schedule_reconciles(&self) {
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
    pub(super) async fn hand_back(&self, lease: &Lease, guard: &lease::LeaseGuard) {
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
                Err(StoreError::Fenced) => return,
                Err(_) => tokio::time::sleep(retry).await,
            }
        }
    }

    /// Ends a cancelled claim: its open steps are marked cancelled.
    pub(super) async fn end_cancelled(&self, lease: &Lease) -> Result<ClaimEnd, Interrupted> {
        let mut conn = self.store.pool().acquire().await?;
        Journal::of(lease)
            .cancel_open_steps(&mut conn, "the operation was cancelled")
            .await?;
        Ok(ClaimEnd::Finished(RunState::Cancelled, "cancelled".into()))
    }
}

/// Counts the claims that took a domain over from a worker whose lease had lapsed (metric
/// `support_access.lease.takeovers`, without attributes): a
/// replica that died or stalled mid-claim. Each is logged with who held the lease.
fn record_takeovers(leases: &[Lease]) {
    use std::sync::OnceLock;
    static TAKEOVERS: OnceLock<opentelemetry::metrics::Counter<u64>> = OnceLock::new();
    for lease in leases {
        let Some(previous) = &lease.took_over_from else {
            continue;
        };
        tracing::warn!(operation = %lease.operation_id, domain = %lease.domain_name, previous_owner = %previous, "took the domain over: the previous worker's lease had lapsed");
        TAKEOVERS
            .get_or_init(|| {
                opentelemetry::global::meter("support-access")
                    .u64_counter("support_access.lease.takeovers")
                    .with_description(
                        "Claims that took a domain over from a worker whose lease had lapsed",
                    )
                    .build()
            })
            .add(1, &[]);
    }
}
