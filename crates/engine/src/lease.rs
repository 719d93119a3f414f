//! Keeping a claim on a domain honest in time. A [`LeaseGuard`] knows, by this process's monotonic
//! clock, until when the worker's lease is surely valid (the instant a renewal was *sent*, plus
//! the lease: never later than the database's expiry), and the Google adapter asks it before every
//! HTTP attempt ([`SendGuard`]): a request is sent only while the lease outlives the request's own
//! deadline, and a cancelled operation sends no further write. The heartbeat runs as its own task,
//! so a busy or paused worker cannot delay it; when it learns the lease is lost (another worker
//! took it over, or renewals failed until the lease lapsed) it trips the guard, and the claim's
//! work is dropped with its in-flight calls.
//!
//! A worker paused (SIGSTOP, a frozen VM) past its lease wakes up with a guard whose validity is
//! in the past: its next attempt is refused before anything reaches Google, whatever the
//! heartbeat has not yet noticed.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use support_access_google::method::Verb;
use support_access_google::{GoogleMethod, SendGuard};
use support_access_store::operations::{self, Lease};
use support_access_store::{Store, StoreError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The validity of one claim, shared by the heartbeat and the work.
#[derive(Debug)]
pub struct LeaseGuard {
    /// Until when the lease is surely held (renewal send time + lease duration).
    valid_until: Mutex<Instant>,
    /// Tripped when the lease is lost: the work stops and no request is sent any more.
    lost: CancellationToken,
    /// Set when the operation is known to be cancelled: no further write is sent.
    cancelled: AtomicBool,
    /// Kept free at the end of the lease: an attempt must be over this long before it lapses.
    margin: Duration,
    /// The shortest attempt worth sending.
    min_attempt: Duration,
}

impl LeaseGuard {
    /// A guard for a lease of `duration` whose claim was sent at `claimed_at`.
    pub fn new(claimed_at: Instant, duration: Duration) -> Self {
        LeaseGuard {
            valid_until: Mutex::new(claimed_at + duration),
            lost: CancellationToken::new(),
            cancelled: AtomicBool::new(false),
            margin: margin(duration),
            min_attempt: min_attempt(duration),
        }
    }

    /// Until when the lease is surely held.
    pub fn valid_until(&self) -> Instant {
        *self.valid_until.lock().expect("not poisoned")
    }

    fn extend(&self, until: Instant) {
        let mut valid = self.valid_until.lock().expect("not poisoned");
        if until > *valid {
            *valid = until;
        }
    }

    /// Resolves when the lease is lost.
    pub async fn lost(&self) {
        self.lost.cancelled().await
    }

    /// True once the lease is lost.
    pub fn is_lost(&self) -> bool {
        self.lost.is_cancelled()
    }

    /// Marks the lease lost (the work stops).
    pub fn trip(&self) {
        self.lost.cancel();
    }

    /// Records that the operation was cancelled.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    /// True once the operation is known to be cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

/// Kept free at the end of a lease of `duration`: an attempt must be over this long before it
/// lapses.
fn margin(duration: Duration) -> Duration {
    duration / 6
}

/// The shortest attempt worth sending under a lease of `duration`.
fn min_attempt(duration: Duration) -> Duration {
    (duration / 10).min(Duration::from_secs(2))
}

/// How long a lease of `duration` must still run, by the database's clock, for a step to start:
/// the margin and one shortest attempt.
pub fn min_remaining(duration: Duration) -> Duration {
    margin(duration) + min_attempt(duration)
}

impl SendGuard for LeaseGuard {
    fn permit(&self, method: GoogleMethod) -> Result<Instant, String> {
        if self.is_lost() {
            return Err("the worker lost its lease on the domain".to_owned());
        }
        if method.verb() != Verb::Get && self.is_cancelled() {
            return Err("the operation was cancelled".to_owned());
        }
        let deadline = self.valid_until() - self.margin;
        if deadline <= Instant::now() + self.min_attempt {
            return Err(
                "the worker's lease would lapse before the request could finish".to_owned(),
            );
        }
        Ok(deadline)
    }
}

/// Renews the `leases` of one claim every third of `duration` until the guard trips or the task
/// is aborted. The guard stands for all of them: the claim's domains are one customer, worked on
/// together. A renewal refused (an item was taken over or released) trips the guard at once;
/// renewals that fail for another reason (Postgres down) are retried until the leases lapse by
/// this process's clock, then the guard trips. Each renewal also reads the operation's cancel
/// flag.
pub async fn keep_leases(
    store: Store,
    mut leases: Vec<Lease>,
    guard: std::sync::Arc<LeaseGuard>,
    duration: Duration,
) {
    let Some(first) = leases.first() else {
        return;
    };
    let (operation_id, domain) = (first.operation_id, first.domain_name.clone());
    let period = duration / 3;
    loop {
        tokio::time::sleep(period).await;
        if guard.is_lost() {
            return;
        }
        let sent = Instant::now();
        let renewed = tokio::time::timeout(period, async {
            // A pool of its own: work that holds every connection cannot starve the heartbeat.
            let mut conn = store.heartbeat_pool().acquire().await?;
            for lease in &mut leases {
                operations::renew_lease(&mut conn, lease, duration).await?;
            }
            operations::cancel_requested(&mut conn, operation_id).await
        })
        .await;
        match renewed {
            Ok(Ok(cancelled)) => {
                guard.extend(sent + duration);
                if cancelled {
                    guard.cancel();
                }
            }
            Ok(Err(StoreError::Fenced)) => {
                tracing::warn!(operation = %operation_id, domain, "lease lost: another worker took the domain over");
                guard.trip();
                return;
            }
            failed => {
                let error = match failed {
                    Ok(Err(error)) => error.to_string(),
                    _ => "renewal timed out".to_owned(),
                };
                if Instant::now() + period >= guard.valid_until() {
                    tracing::warn!(operation = %operation_id, domain, error, "lease lapsing: renewals keep failing; the work stops");
                    guard.trip();
                    return;
                }
                tracing::warn!(operation = %operation_id, domain, error, "cannot renew the lease; trying again");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(30);

    #[tokio::test(start_paused = true)]
    async fn a_request_is_permitted_only_while_the_lease_outlives_its_deadline() {
        let guard = LeaseGuard::new(Instant::now(), LEASE);
        let deadline = guard.permit(GoogleMethod::UsersUpdate).unwrap();
        // The attempt must be over a margin before the lease lapses.
        assert_eq!(deadline, guard.valid_until() - LEASE / 6);

        // A worker paused past its lease wakes up refused, whatever its heartbeat knows.
        tokio::time::advance(LEASE).await;
        let refused = guard.permit(GoogleMethod::UsersUpdate).unwrap_err();
        assert!(refused.contains("lapse"), "{refused}");
        assert!(guard.permit(GoogleMethod::UsersGet).is_err());

        // A renewal sent now extends it again; an older one never shortens it.
        guard.extend(Instant::now() + LEASE);
        guard.extend(Instant::now());
        assert!(guard.permit(GoogleMethod::UsersUpdate).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_operation_sends_no_write_and_a_lost_lease_nothing() {
        let guard = LeaseGuard::new(Instant::now(), LEASE);
        guard.cancel();
        let refused = guard.permit(GoogleMethod::UsersUpdate).unwrap_err();
        assert!(refused.contains("cancelled"), "{refused}");
        assert!(
            guard.permit(GoogleMethod::UsersGet).is_ok(),
            "reads may finish"
        );

        guard.trip();
        assert!(guard.is_lost());
        assert!(guard.permit(GoogleMethod::UsersGet).is_err());
    }
}
