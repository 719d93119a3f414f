//! Client-side rate limiting per Google quota bucket, with adaptive slow-down.
//!
//! Google counts Directory calls per delegated admin per Cloud project, Licensing and Reseller
//! calls per project (facts section g). Each bucket is a `governor` limiter at the configured
//! rate, shared by every call that draws on the same Google quota, so a clean run never sees a
//! quota error. If Google still answers 403/429 with a rate reason, the bucket pauses every caller
//! until `Retry-After` (at least a second) and halves its rate (down to `1/max_slowdown_factor`);
//! after `recovery_after_successes` good calls the rate doubles again.
//!
//! A quota Google counts for the whole Cloud project (Licensing, Reseller) is shared by every
//! replica of a deployment, so a [`SharedPacer`] given to the client paces those buckets for all
//! of them: each call reserves the project's next slot there instead of the local limiter's, and
//! a refusal pushes every replica's next slot back. When the shared pacer cannot answer, the
//! bucket paces locally, as a single replica would.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

use crate::config::{QuotaConfig, Rate};
use crate::method::Api;

/// Why a [`SharedPacer`] could not answer.
pub type PacerError = Box<dyn std::error::Error + Send + Sync>;

/// Paces a Google quota counted for the whole Cloud project across every process that calls
/// Google with the project's keys (the replicas of a deployment). `quota` names the quota
/// (`licensing/PROJECT`, `reseller/PROJECT`).
pub trait SharedPacer: Send + Sync + std::fmt::Debug {
    /// Reserves the next slot of `quota` for one request that uses `interval` of it; answers
    /// how long from now until that slot.
    fn reserve<'a>(
        &'a self,
        quota: &'a str,
        interval: Duration,
    ) -> BoxFuture<'a, Result<Duration, PacerError>>;

    /// Google refused a request of `quota` as too fast: no slot before `pause` from now.
    fn pause<'a>(
        &'a self,
        quota: &'a str,
        pause: Duration,
    ) -> BoxFuture<'a, Result<(), PacerError>>;
}

/// A call that wakes up later than `interval / LATE_SLOT_DIVISOR` (at least [`LATE_SLOT_FLOOR`])
/// after its shared slot gives the slot up and reserves another (the configured Licensing rate
/// keeps 25 ms of each second below Google's, for the rest of the way to Google)…
const LATE_SLOT_DIVISOR: u32 = 80;
/// …(timer wake-ups are not more precise than this)…
const LATE_SLOT_FLOOR: Duration = Duration::from_millis(10);
/// …up to this many times per call; then it goes late rather than not at all.
const MAX_MISSED_SLOTS: u32 = 3;

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

impl BucketKey {
    /// The name of a quota Google counts for the whole project, which every replica shares;
    /// `None` for quotas of one admin or one domain (a domain is worked on by one replica at a
    /// time).
    fn project_quota(&self) -> Option<String> {
        match self {
            BucketKey::Licensing { project } => Some(format!("licensing/{project}")),
            BucketKey::Reseller { project } => Some(format!("reseller/{project}")),
            BucketKey::Directory { .. } | BucketKey::UserCreates { .. } => None,
        }
    }
}

/// Every bucket of the process, created on first use.
#[derive(Debug)]
pub(crate) struct QuotaBuckets {
    config: QuotaConfig,
    shared: Option<Arc<dyn SharedPacer>>,
    buckets: Mutex<HashMap<BucketKey, Arc<Bucket>>>,
}

impl QuotaBuckets {
    /// Buckets at `config`'s rates; project-wide quotas paced by `shared` when given.
    pub(crate) fn new(config: QuotaConfig, shared: Option<Arc<dyn SharedPacer>>) -> Self {
        Self {
            config,
            shared,
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
            .or_insert_with_key(|key| {
                let bucket = Bucket::new(
                    rate,
                    self.config.max_slowdown_factor,
                    self.config.recovery_after_successes,
                );
                let shared = self.shared.clone().zip(key.project_quota());
                Arc::new(match shared {
                    Some((pacer, quota)) => bucket.shared(pacer, quota),
                    None => bucket,
                })
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
    /// The pacer every replica shares, and the quota's name there (project-wide quotas only).
    shared: Option<(Arc<dyn SharedPacer>, String)>,
    /// The limiter in force and the adaptive state; replaced whole when the rate changes.
    state: Mutex<BucketState>,
}

#[derive(Debug)]
struct BucketState {
    factor: u32,
    limiter: Arc<DefaultDirectRateLimiter>,
    /// Nobody starts a request before this (Google's Retry-After after a quota error).
    paused_until: Option<Instant>,
    /// Calls that went through since the rate last changed (or since the last refusal).
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
            shared: None,
            state: Mutex::new(BucketState {
                factor: 1,
                limiter: limiter(rate, 1),
                paused_until: None,
                successes_at_factor: 0,
            }),
        }
    }

    /// The same bucket, its slots reserved from `pacer` under the name `quota`.
    fn shared(self, pacer: Arc<dyn SharedPacer>, quota: String) -> Self {
        Self {
            shared: Some((pacer, quota)),
            ..self
        }
    }

    /// Waits until a request may start; returns how long that took.
    pub(crate) async fn acquire(&self) -> Duration {
        let started = Instant::now();
        let mut missed_slots = 0;
        loop {
            let (pause, limiter, factor) = {
                let state = self.state.lock().expect("bucket poisoned");
                (state.paused_until, state.limiter.clone(), state.factor)
            };
            if let Some(until) = pause.filter(|until| *until > Instant::now()) {
                tokio::time::sleep_until(until).await;
                continue;
            }
            match &self.shared {
                Some((pacer, quota)) => {
                    // Shared slots have no burst: the interval (slowed down as locally) is
                    // what one request takes of the project's quota.
                    let interval = self.rate.interval().saturating_mul(factor);
                    match pacer.reserve(quota, interval).await {
                        Ok(wait) => {
                            if !wait_for_slot(quota, wait, interval, &mut missed_slots).await {
                                continue;
                            }
                        }
                        Err(error) => {
                            tracing::warn!(quota = %quota, error = %error, "the shared quota pacer did not answer: pacing this call locally");
                            limiter.until_ready().await;
                        }
                    }
                }
                None => limiter.until_ready().await,
            }
            // A pause may have begun while we waited for a cell: honour it too.
            let paused = self.state.lock().expect("bucket poisoned").paused_until;
            if paused.is_none_or(|until| until <= Instant::now()) {
                return started.elapsed();
            }
        }
    }

    /// Google said "too fast": pause everyone and slow down.
    pub(crate) fn penalize(&self, retry_after: Option<Duration>) {
        let pause = retry_after
            .unwrap_or(Duration::from_secs(1))
            .max(Duration::from_secs(1));
        if let Some((pacer, quota)) = &self.shared {
            // Every replica waits too: they share the quota Google just enforced.
            let (pacer, quota) = (pacer.clone(), quota.clone());
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if let Err(error) = pacer.pause(&quota, pause).await {
                        tracing::warn!(quota = %quota, error = %error, "could not pause the shared quota pacer");
                    }
                });
            }
        }
        let mut state = self.state.lock().expect("bucket poisoned");
        let until = Instant::now() + pause;
        state.paused_until = Some(state.paused_until.map_or(until, |p| p.max(until)));
        if self.shared.is_some()
            && state.factor == 1
            && state.successes_at_factor >= self.recovery_after
        {
            // Shared slots are already the quota's pace: one refusal after a clean streak is a
            // call that reached Google late (a busy machine), not a rate Google lowered. The
            // next refusal within `recovery_after` calls slows down as usual.
            state.successes_at_factor = 0;
            return;
        }
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
        state.successes_at_factor = state.successes_at_factor.saturating_add(1);
        if state.factor == 1 {
            return;
        }
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

/// Sleeps until a shared slot `wait` from now; false when it woke too late to use it (a busy
/// machine: the call would go out closer to the next replica's slot than the quota allows), so
/// the caller reserves another, at most [`MAX_MISSED_SLOTS`] times per call.
async fn wait_for_slot(
    quota: &str,
    wait: Duration,
    interval: Duration,
    missed_slots: &mut u32,
) -> bool {
    let due = Instant::now() + wait;
    tokio::time::sleep_until(due).await;
    let late = Instant::now().saturating_duration_since(due);
    let tolerance = (interval / LATE_SLOT_DIVISOR).max(LATE_SLOT_FLOOR);
    if late <= tolerance || *missed_slots >= MAX_MISSED_SLOTS {
        return true;
    }
    *missed_slots += 1;
    tracing::debug!(
        quota = %quota,
        late_ms = u64::try_from(late.as_millis()).unwrap_or(u64::MAX),
        "woke too late for a shared quota slot: reserving another"
    );
    false
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

    /// Asserts that `bucket`, at 20 requests a second with burst 1, spaces 6 requests: the last
    /// starts 5 × 50 ms after the first.
    async fn assert_paces_20_a_second(bucket: &Bucket) {
        let started = std::time::Instant::now();
        for _ in 0..6 {
            bucket.acquire().await;
        }
        assert!(
            started.elapsed() >= Duration::from_millis(240),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn bucket_holds_the_configured_rate() {
        let bucket = Bucket::new(Rate::new(20, Duration::from_secs(1), 1), 8, 5);
        assert_paces_20_a_second(&bucket).await;
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

    /// A pacer in memory, as two replicas would share one in Postgres.
    #[derive(Debug, Default)]
    struct MemoryPacer {
        next: Mutex<Option<Instant>>,
        reserved: Mutex<Vec<(String, Duration)>>,
        pauses: Mutex<Vec<(String, Duration)>>,
        down: bool,
    }

    impl SharedPacer for MemoryPacer {
        fn reserve<'a>(
            &'a self,
            quota: &'a str,
            interval: Duration,
        ) -> BoxFuture<'a, Result<Duration, PacerError>> {
            let answer = if self.down {
                Err(PacerError::from("postgres is down"))
            } else {
                self.reserved
                    .lock()
                    .unwrap()
                    .push((quota.to_owned(), interval));
                let mut next = self.next.lock().unwrap();
                let now = Instant::now();
                let slot = next.map_or(now, |next| next.max(now));
                *next = Some(slot + interval);
                Ok(slot - now)
            };
            Box::pin(async move { answer })
        }

        fn pause<'a>(
            &'a self,
            quota: &'a str,
            pause: Duration,
        ) -> BoxFuture<'a, Result<(), PacerError>> {
            self.pauses.lock().unwrap().push((quota.to_owned(), pause));
            Box::pin(async { Ok(()) })
        }
    }

    fn licensing() -> BucketKey {
        BucketKey::Licensing {
            project: "p1".to_owned(),
        }
    }

    fn replica(pacer: &Arc<MemoryPacer>) -> QuotaBuckets {
        let config = QuotaConfig {
            licensing_per_project: Rate::new(20, Duration::from_secs(1), 1),
            ..QuotaConfig::default()
        };
        QuotaBuckets::new(config, Some(pacer.clone() as Arc<dyn SharedPacer>))
    }

    #[tokio::test]
    async fn two_replicas_sharing_a_pacer_never_send_closer_than_the_quota_allows() {
        let pacer = Arc::new(MemoryPacer::default());
        let buckets = [replica(&pacer), replica(&pacer)].map(|b| b.bucket(licensing()));
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..3 {
            for bucket in &buckets {
                let bucket = bucket.clone();
                calls.spawn(async move {
                    bucket.acquire().await;
                    std::time::Instant::now()
                });
            }
        }
        let mut sent: Vec<std::time::Instant> = calls.join_all().await;
        sent.sort();
        // Each replica alone would let its first call go at once: two calls at the same
        // instant. Shared, 6 calls at 20/s with no burst are 50 ms apart.
        for pair in sent.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(gap >= Duration::from_millis(45), "calls {gap:?} apart");
        }
        // One reservation per call, and more when a call woke too late for its slot.
        let reserved = pacer.reserved.lock().unwrap().clone();
        assert!(reserved.len() >= 6, "{reserved:?}");
        assert!(
            reserved
                .iter()
                .all(|r| *r == ("licensing/p1".to_owned(), Duration::from_millis(50))),
            "{reserved:?}"
        );
    }

    #[tokio::test]
    async fn only_project_wide_quotas_are_shared() {
        let pacer = Arc::new(MemoryPacer::default());
        let buckets = replica(&pacer);
        for key in [
            BucketKey::Directory {
                project: "p1".to_owned(),
                admin: "admin@a.example".to_owned(),
            },
            BucketKey::UserCreates {
                domain: "a.example".to_owned(),
            },
        ] {
            buckets.bucket(key).acquire().await;
        }
        assert!(pacer.reserved.lock().unwrap().is_empty());
        buckets
            .bucket(BucketKey::Reseller {
                project: "p1".to_owned(),
            })
            .acquire()
            .await;
        assert_eq!(
            pacer.reserved.lock().unwrap()[0],
            ("reseller/p1".to_owned(), Duration::from_millis(200))
        );
    }

    #[tokio::test]
    async fn a_refusal_pauses_every_replica_and_slows_the_reservations() {
        let pacer = Arc::new(MemoryPacer::default());
        let bucket = replica(&pacer).bucket(licensing());
        bucket.penalize(Some(Duration::from_secs(1)));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            pacer.pauses.lock().unwrap().clone(),
            [("licensing/p1".to_owned(), Duration::from_secs(1))]
        );
        // Slowed down by 2 here, as a local bucket would be: each call takes twice the interval.
        bucket.acquire().await;
        assert_eq!(
            pacer.reserved.lock().unwrap().clone(),
            [("licensing/p1".to_owned(), Duration::from_millis(100))]
        );
    }

    #[tokio::test]
    async fn one_refusal_after_a_clean_streak_only_pauses_a_shared_bucket() {
        let pacer = Arc::new(MemoryPacer::default());
        let bucket = replica(&pacer).bucket(licensing());
        let recovery_after = QuotaConfig::default().recovery_after_successes;
        for _ in 0..recovery_after {
            bucket.record_success();
        }
        bucket.penalize(None);
        assert_eq!(
            bucket.slowdown_factor(),
            1,
            "a lone refusal: paused, not slowed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            pacer.pauses.lock().unwrap().len(),
            1,
            "every replica paused"
        );
        bucket.record_success();
        bucket.penalize(None);
        assert_eq!(
            bucket.slowdown_factor(),
            2,
            "a second one soon after slows down"
        );
    }

    #[tokio::test]
    async fn without_an_answer_from_the_shared_pacer_the_bucket_paces_locally() {
        let pacer = Arc::new(MemoryPacer {
            down: true,
            ..MemoryPacer::default()
        });
        // The local limiter at the configured 20/s.
        assert_paces_20_a_second(&replica(&pacer).bucket(licensing())).await;
    }
}
