//! Client-side rate limiting per Google quota bucket, with adaptive slow-down.
//!
//! Google counts Directory calls per delegated admin per Cloud project, Licensing and Reseller
//! calls per project (facts section g). Each bucket is a `governor` limiter at the configured
//! rate, shared by every call that draws on the same Google quota, so a clean run never sees a
//! quota error. If Google still answers 403/429 with a rate reason, the bucket pauses every caller
//! until `Retry-After` (at least a second) and halves its rate (down to `1/max_slowdown_factor`);
//! after `recovery_after_successes` good calls the rate doubles again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

use crate::config::{QuotaConfig, Rate};
use crate::method::Api;

/// Which Google quota a call draws on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum BucketKey {
    /// Directory API calls of one delegated admin in one project.
    Directory { project: String, admin: String },
    /// `users.insert` in one domain.
    UserCreates { domain: String },
    /// Licensing API calls of one project.
    Licensing { project: String },
    /// Reseller API calls of one project.
    Reseller { project: String },
}

/// Every bucket of the process, created on first use.
#[derive(Debug)]
pub(crate) struct QuotaBuckets {
    config: QuotaConfig,
    buckets: Mutex<HashMap<BucketKey, Arc<Bucket>>>,
}

impl QuotaBuckets {
    pub(crate) fn new(config: QuotaConfig) -> Self {
        Self {
            config,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn bucket(&self, key: BucketKey) -> Arc<Bucket> {
        let rate = match &key {
            BucketKey::Directory { .. } => self.config.directory_per_admin,
            BucketKey::UserCreates { .. } => self.config.user_creates_per_domain,
            BucketKey::Licensing { .. } => self.config.licensing_per_project,
            BucketKey::Reseller { .. } => self.config.reseller_per_project,
        };
        let mut buckets = self.buckets.lock().expect("quota bucket map poisoned");
        buckets
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Bucket::new(
                    rate,
                    self.config.max_slowdown_factor,
                    self.config.recovery_after_successes,
                ))
            })
            .clone()
    }
}

/// One quota bucket.
#[derive(Debug)]
pub(crate) struct Bucket {
    rate: Rate,
    max_factor: u32,
    recovery_after: u32,
    /// The limiter in force and the adaptive state; replaced whole when the rate changes.
    state: Mutex<BucketState>,
}

#[derive(Debug)]
struct BucketState {
    factor: u32,
    limiter: Arc<DefaultDirectRateLimiter>,
    /// Nobody starts a request before this (Google's Retry-After after a quota error).
    paused_until: Option<Instant>,
    successes_at_factor: u32,
}

fn limiter(rate: Rate, factor: u32) -> Arc<DefaultDirectRateLimiter> {
    let period = rate
        .interval()
        .saturating_mul(factor)
        .max(Duration::from_nanos(1));
    let quota = Quota::with_period(period).expect("period is positive");
    // Slowed down: no bursts, so the reduced rate holds from the first request.
    let quota = if factor > 1 {
        quota
    } else {
        quota.allow_burst(rate.burst)
    };
    Arc::new(RateLimiter::direct(quota))
}

impl Bucket {
    fn new(rate: Rate, max_factor: u32, recovery_after: u32) -> Self {
        Self {
            rate,
            max_factor: max_factor.max(1),
            recovery_after: recovery_after.max(1),
            state: Mutex::new(BucketState {
                factor: 1,
                limiter: limiter(rate, 1),
                paused_until: None,
                successes_at_factor: 0,
            }),
        }
    }

    /// Waits until a request may start; returns how long that took.
    pub(crate) async fn acquire(&self) -> Duration {
        let started = Instant::now();
        loop {
            let (pause, limiter) = {
                let state = self.state.lock().expect("bucket poisoned");
                (state.paused_until, state.limiter.clone())
            };
            if let Some(until) = pause.filter(|until| *until > Instant::now()) {
                tokio::time::sleep_until(until).await;
                continue;
            }
            limiter.until_ready().await;
            // A pause may have begun while we waited for a cell: honour it too.
            let paused = self.state.lock().expect("bucket poisoned").paused_until;
            if paused.is_none_or(|until| until <= Instant::now()) {
                return started.elapsed();
            }
        }
    }

    /// Google said "too fast": pause everyone and slow down.
    pub(crate) fn penalize(&self, retry_after: Option<Duration>) {
        let mut state = self.state.lock().expect("bucket poisoned");
        let until = Instant::now()
            + retry_after
                .unwrap_or(Duration::from_secs(1))
                .max(Duration::from_secs(1));
        state.paused_until = Some(state.paused_until.map_or(until, |p| p.max(until)));
        let factor = (state.factor * 2).min(self.max_factor);
        if factor != state.factor {
            state.factor = factor;
            state.limiter = limiter(self.rate, factor);
        }
        state.successes_at_factor = 0;
    }

    /// A call went through: after enough of them, speed up again.
    pub(crate) fn record_success(&self) {
        let mut state = self.state.lock().expect("bucket poisoned");
        if state.factor == 1 {
            return;
        }
        state.successes_at_factor += 1;
        if state.successes_at_factor >= self.recovery_after {
            state.factor /= 2;
            state.limiter = limiter(self.rate, state.factor);
            state.successes_at_factor = 0;
        }
    }

    /// The current slow-down factor (1 = configured rate).
    pub(crate) fn slowdown_factor(&self) -> u32 {
        self.state.lock().expect("bucket poisoned").factor
    }
}

/// The buckets one domain client draws on.
#[derive(Debug, Clone)]
pub(crate) struct DomainBuckets {
    pub directory: Arc<Bucket>,
    pub user_creates: Arc<Bucket>,
    pub licensing: Arc<Bucket>,
    pub reseller: Arc<Bucket>,
}

impl DomainBuckets {
    pub(crate) fn for_api(&self, api: Api) -> &Arc<Bucket> {
        match api {
            Api::Directory => &self.directory,
            Api::Licensing => &self.licensing,
            Api::Reseller => &self.reseller,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bucket_holds_the_configured_rate() {
        let bucket = Bucket::new(Rate::new(20, Duration::from_secs(1), 1), 8, 5);
        let started = std::time::Instant::now();
        for _ in 0..6 {
            bucket.acquire().await;
        }
        // 6 requests at 20/s with burst 1: the last starts 5 × 50 ms after the first.
        assert!(
            started.elapsed() >= Duration::from_millis(240),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn penalty_pauses_and_slows_then_recovers() {
        let bucket = Bucket::new(Rate::new(100, Duration::from_secs(1), 1), 4, 2);
        bucket.acquire().await;
        let started = std::time::Instant::now();
        bucket.penalize(Some(Duration::from_millis(1200)));
        assert_eq!(bucket.slowdown_factor(), 2);
        bucket.acquire().await;
        assert!(
            started.elapsed() >= Duration::from_millis(1000),
            "{:?}",
            started.elapsed()
        );
        bucket.penalize(None);
        bucket.penalize(None);
        assert_eq!(bucket.slowdown_factor(), 4, "capped at max_slowdown_factor");
        for _ in 0..2 {
            bucket.record_success();
        }
        assert_eq!(bucket.slowdown_factor(), 2);
        for _ in 0..2 {
            bucket.record_success();
        }
        assert_eq!(bucket.slowdown_factor(), 1);
    }
}
