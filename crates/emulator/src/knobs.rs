//! Realism knobs: latency, Google's quotas, eventual consistency, duplicate variants and faults.
//!
//! [`Knobs`] is plain data, set in the seed, replaced or merge-patched at run time through the
//! control API (`/emulator/v1/knobs`) or [`crate::EmulatorHandle::set_knobs`]. Everything is off by
//! default, so a plain seed behaves like an idle Google; [`Knobs::google_defaults`] turns on the
//! numbers Google documents (2,400 Directory queries/min per user per project, Licensing 1 QPS).
//! The runtime side ([`QuotaState`], [`FaultState`]) keeps the token buckets, in-flight counts
//! and fault counters that the knobs drive.

use std::collections::{BTreeMap, HashMap};

use rand::Rng as _;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::error::GoogleError;

/// All realism knobs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Knobs {
    /// Added delay per call.
    pub latency: Latency,
    /// Google's quotas as token buckets and concurrency limits.
    pub quotas: Quotas,
    /// Eventual consistency after `users.insert`.
    pub consistency: Consistency,
    /// Which error a duplicate `roleAssignments.insert` gets.
    pub role_assignment_duplicate: DuplicateRoleAssignment,
    /// Fault rules, matched in order; the first that fires decides.
    pub faults: Vec<FaultRule>,
    /// Fault scripts: the n-th matching call takes step n; after the last step calls pass.
    pub scripts: Vec<FaultScript>,
    /// Access tokens.
    pub tokens: Tokens,
    /// Named realism profile: `idle` (default, knobs as set) or `realistic` (Google's
    /// propagation delays and the transient errors peers retry; see [`Propagation`]).
    pub profile: Profile,
    /// Propagation of a new user to Licensing and role assignment under the `realistic`
    /// profile.
    pub propagation: Propagation,
}

/// A named realism profile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// Only the knobs set explicitly: a new user is usable at once unless
    /// `consistency.user_propagation_ms` says otherwise.
    #[default]
    Idle,
    /// Google as resellers meet it: each new user reaches Licensing and role assignment after
    /// its own delay drawn from [`Propagation`], answering Google's transient errors until then.
    Realistic,
}

/// A log-normal delay: `median_ms` and `p95_ms` fix its two parameters, `cap_ms` cuts the tail.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelayDistribution {
    /// Median delay in milliseconds.
    pub median_ms: u64,
    /// 95th percentile in milliseconds (≥ median).
    pub p95_ms: u64,
    /// No draw is longer than this.
    pub cap_ms: u64,
}

/// z of the standard normal distribution's 95th percentile.
const Z_95: f64 = 1.644_853_626_951_472_2;

impl DelayDistribution {
    /// One draw, in real (unscaled) milliseconds.
    pub fn sample(&self, rng: &mut impl rand::Rng) -> f64 {
        let median = (self.median_ms.max(1)) as f64;
        let p95 = (self.p95_ms.max(self.median_ms).max(1)) as f64;
        // ln X ~ N(mu, sigma): median = e^mu, p95 = e^(mu + z95·sigma).
        let mu = median.ln();
        let sigma = (p95 / median).ln() / Z_95;
        // Box–Muller: one standard normal draw from two uniform ones.
        let u1: f64 = rng.random_range(f64::EPSILON..1.0);
        let u2: f64 = rng.random();
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        (mu + sigma * z).exp().min(self.cap_ms as f64)
    }
}

/// How long a user created by `users.insert` stays invisible to Licensing and to role
/// assignment under the `realistic` profile, and what Google answers meanwhile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Propagation {
    /// Delay until Licensing sees the user. Default: median 8 s, p95 60 s, cap 5 min.
    pub licensing: DelayDistribution,
    /// Delay until role assignment sees the user. Default: median 5 s, p95 45 s, cap 4 min.
    pub roles: DelayDistribution,
    /// Every drawn delay is divided by this, so tests run the same shape faster (100 = a
    /// 60 s delay lasts 0.6 s). 1 = real time.
    pub time_scale: f64,
    /// Seed of the generator behind delays and transient-error choices; absent = random.
    /// Setting it (again) restarts the sequence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rng_seed: Option<u64>,
}

impl Default for Propagation {
    fn default() -> Self {
        Self {
            licensing: DelayDistribution {
                median_ms: 8_000,
                p95_ms: 60_000,
                cap_ms: 300_000,
            },
            roles: DelayDistribution {
                median_ms: 5_000,
                p95_ms: 45_000,
                cap_ms: 240_000,
            },
            time_scale: 1.0,
            rng_seed: None,
        }
    }
}

impl Propagation {
    /// A delay drawn from `distribution`, divided by the time scale.
    pub fn draw(
        &self,
        distribution: &DelayDistribution,
        rng: &mut impl rand::Rng,
    ) -> std::time::Duration {
        let scale = if self.time_scale.is_finite() && self.time_scale > 0.0 {
            self.time_scale
        } else {
            1.0
        };
        std::time::Duration::from_secs_f64(distribution.sample(rng) / scale / 1000.0)
    }

    /// Google's answer to a call about a user that has not reached the API yet, chosen at
    /// random among those peers report for that call.
    pub fn transient_error(call: UnpropagatedCall, rng: &mut impl rand::Rng) -> GoogleError {
        let choices: &[fn() -> GoogleError] = match call {
            UnpropagatedCall::LicenseInsert => &[
                || GoogleError::user_creation_not_complete(),
                || GoogleError::invalid_input("userId"),
                || GoogleError::forbidden(),
            ],
            UnpropagatedCall::RoleAssignmentInsert => &[
                || GoogleError::user_creation_not_complete(),
                || GoogleError::invalid_input("resource_id"),
                || GoogleError::forbidden(),
            ],
            UnpropagatedCall::RoleAssignmentList => &[
                || GoogleError::user_creation_not_complete(),
                || GoogleError::forbidden(),
            ],
            // Licensing cannot see the user, so it has no license for it either.
            UnpropagatedCall::LicenseRead => &[|| {
                GoogleError::not_found("User does not have a license for specified sku and product")
            }],
        };
        choices[rng.random_range(0..choices.len())]()
    }
}

/// Which call met a user that has not propagated yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnpropagatedCall {
    /// `licenseAssignments.insert`.
    LicenseInsert,
    /// `licenseAssignments.get` / `delete`.
    LicenseRead,
    /// `roleAssignments.insert`.
    RoleAssignmentInsert,
    /// `roleAssignments.list?userKey=`.
    RoleAssignmentList,
}

/// Access-token settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tokens {
    /// Lifetime of issued access tokens (`expires_in`), in seconds. Google: 3599.
    pub lifetime_secs: u64,
}

impl Default for Tokens {
    fn default() -> Self {
        Self {
            lifetime_secs: 3599,
        }
    }
}

impl Knobs {
    /// Google's documented quotas switched on; no latency, no faults, no consistency window.
    pub fn google_defaults() -> Self {
        Self {
            quotas: Quotas {
                enabled: true,
                ..Quotas::default()
            },
            ..Self::default()
        }
    }
}

/// Latency added before a call is handled.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Latency {
    /// Fixed delay for every Google API call, in milliseconds.
    pub base_ms: u64,
    /// Extra random delay, uniform in `0..=jitter_ms`.
    pub jitter_ms: u64,
    /// Delay for one method (discovery id such as `directory.users.insert`), replacing `base_ms`.
    pub per_method_ms: BTreeMap<String, u64>,
}

impl Latency {
    /// The delay for one call of `method`.
    pub fn delay_for(&self, method: &str) -> std::time::Duration {
        let base = self
            .per_method_ms
            .get(method)
            .copied()
            .unwrap_or(self.base_ms);
        let jitter = if self.jitter_ms > 0 {
            rand::rng().random_range(0..=self.jitter_ms)
        } else {
            0
        };
        std::time::Duration::from_millis(base + jitter)
    }
}

/// How a quota breach is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaResponse {
    /// 403 `userRateLimitExceeded` (domain `usageLimits`), as the Directory API does.
    UserRateLimitExceeded,
    /// 403 `quotaExceeded` (domain `usageLimits`), Google's answer to too many concurrent calls.
    QuotaExceeded,
    /// 429 `rateLimitExceeded` / `RESOURCE_EXHAUSTED` with `Retry-After`.
    TooManyRequests,
    /// 503 `backendError` with `Retry-After`, as the Reseller API documents.
    ServiceUnavailable,
}

impl QuotaResponse {
    /// The error for this answer; `retry_after_secs` goes into `Retry-After` for 429 and 503.
    pub fn error(self, api_host: &str, retry_after_secs: u64) -> GoogleError {
        match self {
            Self::UserRateLimitExceeded => GoogleError::new(
                403,
                "userRateLimitExceeded",
                format!(
                    "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute \
                     per user' of service '{api_host}'."
                ),
            )
            .with_domain("usageLimits"),
            Self::QuotaExceeded => GoogleError::new(
                403,
                "quotaExceeded",
                "Quota exceeded: too many concurrent requests for this customer.",
            )
            .with_domain("usageLimits"),
            Self::TooManyRequests => GoogleError::new(
                429,
                "rateLimitExceeded",
                format!("Quota exceeded for quota metric 'Queries' of service '{api_host}'."),
            )
            .with_domain("usageLimits")
            .with_retry_after(retry_after_secs.max(1)),
            Self::ServiceUnavailable => {
                GoogleError::new(503, "backendError", "Service unavailable. Please try again")
                    .with_retry_after(retry_after_secs.max(1))
            }
        }
    }
}

/// Quotas. A bucket holds `capacity` tokens and refills `refill_per_second`; a call takes one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quotas {
    /// Master switch; off by default.
    pub enabled: bool,
    /// Directory API: queries per minute per user (the impersonated admin) per project.
    /// Google: 2,400.
    pub directory_per_user_per_minute: u32,
    /// Answer to a Directory rate breach. Google: 403 `userRateLimitExceeded`.
    pub directory_response: QuotaResponse,
    /// Licensing API: queries per second per project. Google: 1.
    pub licensing_per_second: f64,
    /// Licensing bucket capacity (calls allowed at once before the rate applies).
    pub licensing_burst: u32,
    /// Answer to a Licensing rate breach.
    pub licensing_response: QuotaResponse,
    /// Reseller API: queries per second per project (Google does not publish it).
    pub reseller_per_second: f64,
    /// Reseller bucket capacity.
    pub reseller_burst: u32,
    /// Answer to a Reseller rate breach. Google documents 503.
    pub reseller_response: QuotaResponse,
    /// Calls in flight at once per customer; 0 = unlimited.
    pub max_concurrent_per_customer: u32,
    /// Answer to a concurrency breach. Google: 403 `quotaExceeded`.
    pub concurrency_response: QuotaResponse,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            enabled: false,
            directory_per_user_per_minute: 2400,
            directory_response: QuotaResponse::UserRateLimitExceeded,
            licensing_per_second: 1.0,
            licensing_burst: 1,
            licensing_response: QuotaResponse::UserRateLimitExceeded,
            reseller_per_second: 10.0,
            reseller_burst: 10,
            reseller_response: QuotaResponse::ServiceUnavailable,
            max_concurrent_per_customer: 0,
            concurrency_response: QuotaResponse::QuotaExceeded,
        }
    }
}

/// How a just-created user answers during the propagation window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotReadyResponse {
    /// 404 `notFound` (the user seems not to exist yet).
    NotFound,
    /// 412 `conditionNotMet` "User creation is not complete.".
    ConditionNotMet,
}

impl NotReadyResponse {
    /// The error for a user that is not yet visible.
    pub fn error(self, user_key: &str) -> GoogleError {
        match self {
            Self::NotFound => GoogleError::not_found(format!("Resource Not Found: {user_key}")),
            Self::ConditionNotMet => GoogleError::user_creation_not_complete(),
        }
    }
}

/// Eventual consistency after `users.insert`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Consistency {
    /// For this long after `users.insert`, licensing and role calls about the new user fail.
    /// 0 = off.
    pub user_propagation_ms: u64,
    /// Answer of licensing calls (insert, get, delete) about the new user.
    pub licensing_response: NotReadyResponse,
    /// Answer of `roleAssignments.insert` (and `list?userKey=`) about the new user.
    pub role_response: NotReadyResponse,
    /// Answer of `users.update`, `users.patch` and `users.makeAdmin` on the new user.
    pub user_update_response: NotReadyResponse,
    /// Also make `users.get` answer 404 during the window (Terraform's reports).
    pub hide_from_users_get: bool,
    /// For this long after `users.insert`, `users.list` with a `query` does not find the new
    /// user (Google's search index lags: "most changes within 1 h, up to 36 h"). 0 = off.
    pub search_lag_ms: u64,
}

impl Default for Consistency {
    fn default() -> Self {
        Self {
            user_propagation_ms: 0,
            licensing_response: NotReadyResponse::NotFound,
            role_response: NotReadyResponse::ConditionNotMet,
            user_update_response: NotReadyResponse::ConditionNotMet,
            hide_from_users_get: false,
            search_lag_ms: 0,
        }
    }
}

/// Which error a duplicate role assignment gets (Google has been seen returning both).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateRoleAssignment {
    /// 409 `duplicate` "Entity already exists.".
    #[default]
    Conflict,
    /// 500 `duplicate` "Role assignment exists: roleassignment …" (what GAM handles).
    InternalError,
}

/// What an injected fault does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// Answer an error without applying the call.
    Error {
        /// HTTP code; default 503.
        #[serde(default = "default_fault_code")]
        code: u16,
        /// Reason; default `backendError`.
        #[serde(default = "default_fault_reason")]
        reason: String,
        /// Message; default "Backend Error".
        #[serde(default = "default_fault_message")]
        message: String,
    },
    /// Apply the call, then answer an error instead of its result.
    ApplyThenError {
        /// HTTP code; default 503.
        #[serde(default = "default_fault_code")]
        code: u16,
        /// Reason; default `backendError`.
        #[serde(default = "default_fault_reason")]
        reason: String,
        /// Message; default "Backend Error".
        #[serde(default = "default_fault_message")]
        message: String,
    },
    /// Hold the request for `ms`, then reset the connection (the call is not applied).
    Hang {
        /// How long to hold the request before the reset.
        ms: u64,
    },
    /// Reset the connection without answering (the call is not applied).
    Reset,
    /// Apply the call, then reset the connection instead of answering.
    ApplyThenDrop,
}

fn default_fault_code() -> u16 {
    503
}

fn default_fault_reason() -> String {
    "backendError".to_owned()
}

fn default_fault_message() -> String {
    "Backend Error".to_owned()
}

impl FaultAction {
    /// Whether the call is applied before the fault shows.
    pub fn applies(&self) -> bool {
        matches!(self, Self::ApplyThenError { .. } | Self::ApplyThenDrop)
    }
}

/// Fires `action` on calls of `method` with probability `probability`, after letting `skip`
/// matching calls through, at most `times` times.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Discovery method id (`directory.users.insert`), an API prefix with `*`
    /// (`licensing.*`), or `*` for every Google API call.
    pub method: String,
    /// Only calls addressing this customer (id or domain); absent = any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// Chance that a matching call gets the fault, 0.0..=1.0; default 1.
    #[serde(default = "one")]
    pub probability: f64,
    /// Matching calls let through before the rule may fire.
    #[serde(default)]
    pub skip: u32,
    /// Most times the rule fires; absent = unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// What happens.
    pub action: FaultAction,
}

fn one() -> f64 {
    1.0
}

/// A scripted sequence of outcomes for successive calls of `method`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultScript {
    /// Method pattern, as in [`FaultRule::method`].
    pub method: String,
    /// One step per matching call: `null` lets the call pass, an action injects it.
    pub steps: Vec<Option<FaultAction>>,
}

/// Whether `pattern` (`*`, `licensing.*`, or an exact id) matches `method`.
pub fn method_matches(pattern: &str, method: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix('*') {
        Some(prefix) => method.starts_with(prefix),
        None => pattern == method,
    }
}

/// Counters behind fault rules and scripts: how many matching calls each has seen and fired.
#[derive(Debug, Default)]
pub struct FaultState {
    /// Per rule index: (matching calls seen, times fired). Reset when the knobs change.
    rule_counts: HashMap<usize, (u32, u32)>,
    /// Per script index: matching calls seen.
    script_counts: HashMap<usize, usize>,
}

impl FaultState {
    /// Forgets all counts (the knobs were replaced).
    pub fn reset(&mut self) {
        self.rule_counts.clear();
        self.script_counts.clear();
    }

    /// The fault for this call, if any. `customer_keys` are the id and domain addressed.
    pub fn pick(
        &mut self,
        knobs: &Knobs,
        method: &str,
        customer_keys: &[&str],
    ) -> Option<FaultAction> {
        for (index, script) in knobs.scripts.iter().enumerate() {
            if method_matches(&script.method, method) {
                let seen = self.script_counts.entry(index).or_default();
                let step = script.steps.get(*seen).cloned().flatten();
                *seen += 1;
                if step.is_some() {
                    return step;
                }
            }
        }
        for (index, rule) in knobs.faults.iter().enumerate() {
            if !method_matches(&rule.method, method) {
                continue;
            }
            if let Some(customer) = &rule.customer
                && !customer_keys
                    .iter()
                    .any(|key| key.eq_ignore_ascii_case(customer))
            {
                continue;
            }
            let (seen, fired) = self.rule_counts.entry(index).or_default();
            *seen += 1;
            if *seen <= rule.skip {
                continue;
            }
            if rule.times.is_some_and(|times| *fired >= times) {
                continue;
            }
            if rule.probability < 1.0 && rand::rng().random::<f64>() >= rule.probability {
                continue;
            }
            *fired += 1;
            return Some(rule.action.clone());
        }
        None
    }
}

/// A token bucket.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets and in-flight counts behind [`Quotas`].
#[derive(Debug, Default)]
pub struct QuotaState {
    /// Key: `api|project|user` (Directory) or `api|project` (others).
    buckets: HashMap<String, Bucket>,
    /// Calls in flight per customer id.
    in_flight: HashMap<String, u32>,
}

impl QuotaState {
    /// Forgets all buckets (the knobs were replaced); in-flight counts stay true.
    pub fn reset_buckets(&mut self) {
        self.buckets.clear();
    }

    /// Takes one token from the bucket `key`; on a breach returns the seconds until a token is
    /// back.
    pub fn take(&mut self, key: &str, capacity: f64, refill_per_second: f64) -> Result<(), u64> {
        let now = Instant::now();
        let bucket = self.buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * refill_per_second).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = if refill_per_second > 0.0 {
                ((1.0 - bucket.tokens) / refill_per_second).ceil() as u64
            } else {
                60
            };
            Err(wait.max(1))
        }
    }

    /// Counts a call in flight for `customer` unless `limit` (non-zero) is reached.
    pub fn enter(&mut self, customer: &str, limit: u32) -> bool {
        let count = self.in_flight.entry(customer.to_owned()).or_default();
        if limit > 0 && *count >= limit {
            return false;
        }
        *count += 1;
        true
    }

    /// Ends a call counted by [`QuotaState::enter`].
    pub fn leave(&mut self, customer: &str) {
        if let Some(count) = self.in_flight.get_mut(customer) {
            *count = count.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_patterns_match_exact_prefix_and_everything() {
        assert!(method_matches("*", "directory.users.insert"));
        assert!(method_matches(
            "licensing.*",
            "licensing.licenseAssignments.get"
        ));
        assert!(!method_matches("licensing.*", "directory.users.get"));
        assert!(method_matches("directory.users.get", "directory.users.get"));
        assert!(!method_matches(
            "directory.users.get",
            "directory.users.getx"
        ));
    }

    #[test]
    fn bucket_refills_at_its_rate() {
        let mut state = QuotaState::default();
        assert_eq!(state.take("k", 2.0, 20.0), Ok(()));
        assert_eq!(state.take("k", 2.0, 20.0), Ok(()));
        assert_eq!(
            state.take("k", 2.0, 20.0),
            Err(1),
            "empty; Retry-After at least 1 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(60));
        assert_eq!(
            state.take("k", 2.0, 20.0),
            Ok(()),
            "one token back after 50 ms"
        );
        assert!(state.take("other", 1.0, 1.0).is_ok(), "buckets are per key");
    }

    #[test]
    fn concurrency_slots_are_given_back() {
        let mut state = QuotaState::default();
        assert!(state.enter("C1", 1));
        assert!(!state.enter("C1", 1));
        assert!(state.enter("C2", 1));
        state.leave("C1");
        assert!(state.enter("C1", 1));
    }

    #[test]
    fn rules_honour_skip_times_and_customer() {
        let knobs = Knobs {
            faults: vec![FaultRule {
                method: "directory.*".to_owned(),
                customer: Some("a.example".to_owned()),
                probability: 1.0,
                skip: 1,
                times: Some(1),
                action: FaultAction::Reset,
            }],
            ..Knobs::default()
        };
        let mut state = FaultState::default();
        let pick = |state: &mut FaultState, customer: &str| {
            state.pick(&knobs, "directory.users.get", &[customer])
        };
        assert_eq!(pick(&mut state, "b.example"), None, "other customer");
        assert_eq!(pick(&mut state, "a.example"), None, "skipped");
        assert_eq!(pick(&mut state, "A.EXAMPLE"), Some(FaultAction::Reset));
        assert_eq!(pick(&mut state, "a.example"), None, "times exhausted");
    }

    #[test]
    fn propagation_delays_have_googles_median_p95_and_cap() {
        use rand::SeedableRng as _;
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let settings = Propagation::default();
        for (distribution, median, p95, cap) in [
            (settings.licensing, 8_000.0, 60_000.0, 300_000.0),
            (settings.roles, 5_000.0, 45_000.0, 240_000.0),
        ] {
            let mut draws: Vec<f64> = (0..20_000)
                .map(|_| settings.draw(&distribution, &mut rng).as_secs_f64() * 1000.0)
                .collect();
            draws.sort_by(f64::total_cmp);
            let at = |q: f64| draws[(q * draws.len() as f64) as usize];
            assert!((at(0.5) / median - 1.0).abs() < 0.08, "median {}", at(0.5));
            assert!((at(0.95) / p95 - 1.0).abs() < 0.12, "p95 {}", at(0.95));
            assert!(draws.last().copied().unwrap() <= cap, "cap");
            assert!(draws.first().copied().unwrap() > 0.0);
        }
        let fast = Propagation {
            time_scale: 100.0,
            ..Propagation::default()
        };
        let mut a = rand::rngs::StdRng::seed_from_u64(9);
        let mut b = rand::rngs::StdRng::seed_from_u64(9);
        let real = settings.draw(&settings.licensing, &mut a);
        let scaled = fast.draw(&fast.licensing, &mut b);
        assert!(
            (real.as_secs_f64() / scaled.as_secs_f64() - 100.0).abs() < 1e-6,
            "the time scale divides the same draw"
        );
    }

    #[test]
    fn transient_errors_are_googles_for_each_call() {
        use rand::SeedableRng as _;
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let error =
                Propagation::transient_error(UnpropagatedCall::RoleAssignmentInsert, &mut rng);
            seen.insert((error.code, error.reason, error.message));
        }
        let expected: std::collections::BTreeSet<_> = [
            (412, "conditionNotMet", "User creation is not complete."),
            (400, "invalid", "Invalid Input: resource_id"),
            (
                403,
                "forbidden",
                "Not Authorized to access this resource/api",
            ),
        ]
        .into_iter()
        .map(|(c, r, m)| (c, r.to_owned(), m.to_owned()))
        .collect();
        assert_eq!(seen, expected);
        let read = Propagation::transient_error(UnpropagatedCall::LicenseRead, &mut rng);
        assert_eq!(
            (read.code, read.message.as_str()),
            (
                404,
                "User does not have a license for specified sku and product"
            )
        );
    }

    #[test]
    fn knobs_round_trip_through_yaml() {
        let text =
            "quotas: {enabled: true}\nfaults:\n  - {method: '*', action: {kind: hang, ms: 5}}\n";
        let knobs: Knobs = serde_yaml::from_str(text).unwrap();
        assert!(knobs.quotas.enabled);
        assert_eq!(knobs.quotas.directory_per_user_per_minute, 2400);
        assert_eq!(knobs.faults[0].action, FaultAction::Hang { ms: 5 });
        let back: Knobs = serde_yaml::from_str(&serde_yaml::to_string(&knobs).unwrap()).unwrap();
        assert_eq!(back, knobs);
    }
}
