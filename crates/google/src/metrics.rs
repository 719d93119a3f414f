//! Counters of Google calls, by method and outcome, of retries, and of waits for client-side
//! quota. Plain atomics, cheap to bump from any task; the server reads a [`MetricsSnapshot`]
//! and exports it (OpenTelemetry is wired there, not here).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::ErrorClass;
use crate::method::{Api, GoogleMethod};

/// Outcome labels, "ok" first, then every [`ErrorClass`] label.
pub const OUTCOMES: [&str; 11] = [
    "ok",
    "already_exists",
    "not_found",
    "not_yet_consistent",
    "rate_limited",
    "transient",
    "permission_denied",
    "invalid",
    "licenses_exhausted",
    "auth",
    "unexpected",
];

fn outcome_index(label: &str) -> usize {
    OUTCOMES
        .iter()
        .position(|o| *o == label)
        .unwrap_or(OUTCOMES.len() - 1)
}

fn api_index(api: Api) -> usize {
    match api {
        Api::Directory => 0,
        Api::Licensing => 1,
        Api::Reseller => 2,
    }
}

/// Live counters, shared by every domain client of one [`crate::GoogleClient`].
#[derive(Debug)]
pub struct GoogleMetrics {
    /// Finished calls (after all retries) per method and outcome.
    calls: Vec<[AtomicU64; OUTCOMES.len()]>,
    /// HTTP attempts per method and outcome (each retry counts).
    attempts: Vec<[AtomicU64; OUTCOMES.len()]>,
    /// Retries per method.
    retries: Vec<AtomicU64>,
    /// Requests that had to wait for client-side quota, per API.
    quota_waits: [AtomicU64; 3],
    /// Total time spent waiting for client-side quota, per API, in microseconds.
    quota_wait_micros: [AtomicU64; 3],
    /// Quota errors from Google that slowed a bucket down, per API.
    quota_penalties: [AtomicU64; 3],
}

impl Default for GoogleMetrics {
    fn default() -> Self {
        let table = || {
            (0..GoogleMethod::ALL.len())
                .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                .collect()
        };
        Self {
            calls: table(),
            attempts: table(),
            retries: (0..GoogleMethod::ALL.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            quota_waits: Default::default(),
            quota_wait_micros: Default::default(),
            quota_penalties: Default::default(),
        }
    }
}

impl GoogleMetrics {
    pub(crate) fn call_finished(&self, method: GoogleMethod, outcome: Option<&ErrorClass>) {
        let label = outcome.map_or("ok", ErrorClass::label);
        self.calls[method.index()][outcome_index(label)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn attempt_finished(&self, method: GoogleMethod, outcome: Option<&ErrorClass>) {
        let label = outcome.map_or("ok", ErrorClass::label);
        self.attempts[method.index()][outcome_index(label)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn retried(&self, method: GoogleMethod) {
        self.retries[method.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn quota_waited(&self, api: Api, waited: Duration) {
        self.quota_waits[api_index(api)].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
        self.quota_wait_micros[api_index(api)].fetch_add(micros, Ordering::Relaxed);
    }

    pub(crate) fn quota_penalty(&self, api: Api) {
        self.quota_penalties[api_index(api)].fetch_add(1, Ordering::Relaxed);
    }

    /// A copy of every non-zero counter.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let mut snapshot = MetricsSnapshot::default();
        for method in GoogleMethod::ALL {
            for (i, outcome) in OUTCOMES.iter().enumerate() {
                let calls = self.calls[method.index()][i].load(Ordering::Relaxed);
                if calls > 0 {
                    snapshot.calls.push(Counted {
                        method: *method,
                        outcome,
                        count: calls,
                    });
                }
                let attempts = self.attempts[method.index()][i].load(Ordering::Relaxed);
                if attempts > 0 {
                    snapshot.attempts.push(Counted {
                        method: *method,
                        outcome,
                        count: attempts,
                    });
                }
            }
            let retries = self.retries[method.index()].load(Ordering::Relaxed);
            if retries > 0 {
                snapshot.retries.push((*method, retries));
            }
        }
        for api in Api::ALL {
            let i = api_index(api);
            snapshot.quota.push(QuotaCounters {
                api,
                waits: self.quota_waits[i].load(Ordering::Relaxed),
                waited: Duration::from_micros(self.quota_wait_micros[i].load(Ordering::Relaxed)),
                penalties: self.quota_penalties[i].load(Ordering::Relaxed),
            });
        }
        snapshot
    }
}

/// One counter of calls or attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// The method.
    pub method: GoogleMethod,
    /// `ok` or an [`ErrorClass`] label.
    pub outcome: &'static str,
    /// How many.
    pub count: u64,
}

/// Quota counters of one API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaCounters {
    /// The API.
    pub api: Api,
    /// Requests that waited for client-side quota.
    pub waits: u64,
    /// Total time waited.
    pub waited: Duration,
    /// Quota errors that slowed a bucket down.
    pub penalties: u64,
}

/// Counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Finished calls by method and outcome.
    pub calls: Vec<Counted>,
    /// HTTP attempts by method and outcome.
    pub attempts: Vec<Counted>,
    /// Retries by method.
    pub retries: Vec<(GoogleMethod, u64)>,
    /// Quota counters per API.
    pub quota: Vec<QuotaCounters>,
}

impl MetricsSnapshot {
    /// Finished calls of `method` with `outcome`.
    pub fn calls(&self, method: GoogleMethod, outcome: &str) -> u64 {
        self.calls
            .iter()
            .filter(|c| c.method == method && c.outcome == outcome)
            .map(|c| c.count)
            .sum()
    }

    /// HTTP attempts answered with `outcome`, over all methods.
    pub fn attempts_with(&self, outcome: &str) -> u64 {
        self.attempts
            .iter()
            .filter(|c| c.outcome == outcome)
            .map(|c| c.count)
            .sum()
    }

    /// Retries of all methods.
    pub fn total_retries(&self) -> u64 {
        self.retries.iter().map(|(_, n)| n).sum()
    }

    /// Quota counters of `api`.
    pub fn quota(&self, api: Api) -> QuotaCounters {
        self.quota
            .iter()
            .copied()
            .find(|q| q.api == api)
            .unwrap_or(QuotaCounters {
                api,
                waits: 0,
                waited: Duration::ZERO,
                penalties: 0,
            })
    }
}
