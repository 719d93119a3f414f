//! The workers of one replica: each claims one domain of one operation at a time, works on it
//! under its lease (the heartbeat runs beside it, see [`super::lease`]) and releases it; a task of
//! its own starts the reconciliations that are due.

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
    pub(super) async fn work_on(&self, lease: Lease, claimed_at: tokio::time::Instant) {
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
