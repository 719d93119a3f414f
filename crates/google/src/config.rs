//! Configuration of the adapter: base URL per API, timeouts, retry policy and client-side
//! quotas. Defaults are Google's production endpoints and published quotas; tests point every
//! API at the emulator with [`GoogleConfig::all_apis_at`].

use std::num::NonZeroU32;
use std::time::Duration;

use url::Url;

use crate::method::Api;

/// Everything the adapter can be told.
#[derive(Debug, Clone)]
pub struct GoogleConfig {
    /// Root URL of the Directory API (`https://admin.googleapis.com/`).
    pub directory_base_url: Url,
    /// Root URL of the Licensing API (`https://licensing.googleapis.com/`).
    pub licensing_base_url: Url,
    /// Root URL of the Reseller API (`https://reseller.googleapis.com/`).
    pub reseller_base_url: Url,
    /// Time limit of one HTTP attempt.
    pub request_timeout: Duration,
    /// Time limit of one token request.
    pub token_timeout: Duration,
    /// When and how long to retry.
    pub retry: RetryPolicy,
    /// Client-side rate limits.
    pub quotas: QuotaConfig,
    /// For how long after this process created a user a 404 about that user means "not yet
    /// consistent" rather than "not found".
    pub consistency_window: Duration,
    /// How calls about a user Google has not finished propagating are retried.
    pub propagation: PropagationRetry,
    /// Sent as `User-Agent`.
    pub user_agent: String,
}

impl Default for GoogleConfig {
    fn default() -> Self {
        let parse =
            |api: Api| Url::parse(api.default_base_url()).expect("default base URLs are valid");
        Self {
            directory_base_url: parse(Api::Directory),
            licensing_base_url: parse(Api::Licensing),
            reseller_base_url: parse(Api::Reseller),
            request_timeout: Duration::from_secs(30),
            token_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            quotas: QuotaConfig::default(),
            consistency_window: Duration::from_secs(10 * 60),
            propagation: PropagationRetry::default(),
            user_agent: concat!("support-access/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

impl GoogleConfig {
    /// Defaults, with all three APIs served under one root (the emulator's base URL).
    pub fn all_apis_at(base: &Url) -> Self {
        let mut base = base.clone();
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Self {
            directory_base_url: base.clone(),
            licensing_base_url: base.clone(),
            reseller_base_url: base,
            ..Self::default()
        }
    }

    /// The root URL of `api`.
    pub fn base_url(&self, api: Api) -> &Url {
        match api {
            Api::Directory => &self.directory_base_url,
            Api::Licensing => &self.licensing_base_url,
            Api::Reseller => &self.reseller_base_url,
        }
    }
}

/// Exponential backoff with full jitter, bounded by attempts and a deadline per call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 disables retries). Waiting for a new user to
    /// propagate is bounded by [`PropagationRetry::budget`] instead (but 1 disables it too).
    pub max_attempts: u32,
    /// Upper bound of the first backoff; doubles per retry.
    pub initial_backoff: Duration,
    /// Upper bound of any backoff (Retry-After may still ask for longer).
    pub max_backoff: Duration,
    /// No retry starts later than this after the call began.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 7,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(32),
            deadline: Duration::from_secs(180),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based): a uniform draw from
    /// `[0, min(max_backoff, initial_backoff × 2^(retry-1))]`, never shorter than Google's
    /// `Retry-After`.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exponent = retry.saturating_sub(1).min(20);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1 << exponent)
            .min(self.max_backoff);
        let jittered = ceiling.mul_f64(rand::random::<f64>());
        match retry_after {
            Some(wait) => jittered.max(wait),
            None => jittered,
        }
    }
}

/// Retries of calls about a user this process created moments ago, while Google propagates it
/// to Licensing and role assignment (seconds to minutes: Admin Help says "within minutes", peers
/// wait 25 s (GAM) to 180 s (a maintained Terraform fork)).
///
/// Right after `users.insert`, Licensing and role assignment answer 412 (any reason), 400
/// "Invalid Input: resource_id", 400 `invalid` naming `userId`, or 403 "Not Authorized to access
/// this resource/api". Each also has a permanent meaning, so they read as "not yet consistent"
/// only within `budget` of the user's creation, and are retried with Google's truncated
/// exponential backoff (1 s, 2 s, 4 s … up to 32 s, each plus up to 1 s of jitter); after the
/// budget they are what they say (a real permission error is never retried forever).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropagationRetry {
    /// How long after the user's creation its ambiguous answers count as "not yet consistent".
    pub budget: Duration,
    /// The first wait; doubles per retry.
    pub first_wait: Duration,
    /// Longest wait before jitter (Google: 32 s or 64 s).
    pub max_wait: Duration,
    /// Each wait gets a uniform random extra in `[0, jitter]` (Google: up to 1,000 ms), so that
    /// callers that failed together do not retry together.
    pub jitter: Duration,
}

impl Default for PropagationRetry {
    fn default() -> Self {
        Self {
            budget: Duration::from_secs(180),
            first_wait: Duration::from_secs(1),
            max_wait: Duration::from_secs(32),
            jitter: Duration::from_secs(1),
        }
    }
}

impl PropagationRetry {
    /// The wait before retry number `retry` (1-based): `min(first_wait × 2^(retry-1), max_wait)`
    /// plus a uniform draw from `[0, jitter]`.
    pub fn delay(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(20);
        let base = self
            .first_wait
            .saturating_mul(1 << exponent)
            .min(self.max_wait);
        base + self.jitter.mul_f64(rand::random::<f64>())
    }
}

/// A rate: `requests` per `per`, with bursts of up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// How many requests…
    pub requests: NonZeroU32,
    /// …per this period.
    pub per: Duration,
    /// How many may go at once after a quiet period.
    pub burst: NonZeroU32,
}

impl Rate {
    /// `requests` per `per` with the given burst.
    pub fn new(requests: u32, per: Duration, burst: u32) -> Self {
        Self {
            requests: NonZeroU32::new(requests.max(1)).expect("max(1) is non-zero"),
            per,
            burst: NonZeroU32::new(burst.max(1)).expect("max(1) is non-zero"),
        }
    }

    /// The time one request costs.
    pub fn interval(&self) -> Duration {
        self.per / self.requests.get()
    }
}

/// Client-side quotas, one bucket per Google quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaConfig {
    /// Directory API, per delegated admin per Cloud project: Google's default is 2,400 queries
    /// per minute per user per project.
    pub directory_per_admin: Rate,
    /// `users.insert`, per domain: "no more than 10 users created per domain per second".
    pub user_creates_per_domain: Rate,
    /// Licensing API, per Cloud project: Google's limits page gives a QPS quota of 1.
    pub licensing_per_project: Rate,
    /// Reseller API, per Cloud project: no published number (UNVERIFIED), so a modest default.
    pub reseller_per_project: Rate,
    /// After a quota error, divide the bucket's rate by 2 (up to this factor), restoring it
    /// step by step after calls succeed again. 1 disables adaptive slow-down.
    pub max_slowdown_factor: u32,
    /// Successful calls at a reduced rate before the rate doubles again.
    pub recovery_after_successes: u32,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        Self {
            directory_per_admin: Rate::new(2400, Duration::from_secs(60), 20),
            user_creates_per_domain: Rate::new(10, Duration::from_secs(1), 10),
            // 25 ms a call below Google's 1 QPS: scheduling jitter must not push two calls
            // closer than Google counts them.
            licensing_per_project: Rate::new(39, Duration::from_secs(40), 1),
            reseller_per_project: Rate::new(5, Duration::from_secs(1), 5),
            max_slowdown_factor: 8,
            recovery_after_successes: 20,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_and_respects_retry_after() {
        let policy = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            deadline: Duration::from_secs(5),
        };
        for retry in 1..10 {
            let ceiling = Duration::from_millis(100 * (1 << (retry - 1).min(10)))
                .min(Duration::from_millis(500));
            for _ in 0..50 {
                assert!(policy.delay(retry, None) <= ceiling);
            }
        }
        for _ in 0..50 {
            assert!(policy.delay(1, Some(Duration::from_secs(3))) >= Duration::from_secs(3));
        }
    }

    #[test]
    fn propagation_backoff_doubles_up_to_its_cap_with_bounded_jitter() {
        let policy = PropagationRetry::default();
        for (retry, base) in [
            (1, 1),
            (2, 2),
            (3, 4),
            (4, 8),
            (5, 16),
            (6, 32),
            (7, 32),
            (30, 32),
        ] {
            for _ in 0..50 {
                let delay = policy.delay(retry);
                let base = Duration::from_secs(base);
                assert!(
                    delay >= base && delay <= base + Duration::from_secs(1),
                    "retry {retry}: {delay:?}"
                );
            }
        }
        // Jitter spreads the waits: 50 draws are not all equal.
        let draws: std::collections::BTreeSet<Duration> =
            (0..50).map(|_| policy.delay(3)).collect();
        assert!(draws.len() > 1);
    }

    #[test]
    fn emulator_config_puts_every_api_under_one_root() {
        let config = GoogleConfig::all_apis_at(&Url::parse("http://127.0.0.1:9/x").unwrap());
        for api in Api::ALL {
            assert_eq!(config.base_url(api).as_str(), "http://127.0.0.1:9/x/");
        }
    }
}
