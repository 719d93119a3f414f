//! The provisioning engine: workers that claim one domain of one operation at a time (a lease in
//! Postgres with a fencing token; siblings of one customer together), observe the domain in Google with list calls, plan what is
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
//! fresh domain takes two observations; a pass that plans nothing ends the domain. A claim takes
//! the operation's other domains of the same Google customer along (a reseller account's
//! secondary domains): one observation per pass serves them all (`claim`).
//!
//! Where things are: `worker` (the loop, claims, release, reconcile scheduling), `lease` (the
//! heartbeat and the guard every Google request asks), `claim` (the passes of one claim),
//! `pipeline` (the plan of a pass, shared with `validate_only`), `chains` (carrying out a pass),
//! `journal` (the `Journal` of a claimed domain: its steps in Postgres), `effect` (what a
//! step did in Google, [`effect::StepEffect`]), `ownership` and `drift` (what the engine records
//! besides steps), `observe`, `execute` and `confirm` (reading Google, writing it, checking a
//! step's effect), `desired` (the decisions as the planner reads them), `outcome` (an operation's
//! result, encoded for callers by the API's [`outcome::ResultEncoder`]), `audit`, `trace` (one
//! trace from the RPC that starts an operation through every claim on it).

mod chains;
mod claim;
mod drift;
pub mod effect;
mod journal;
mod ownership;
mod worker;

pub mod audit;
pub mod confirm;
pub mod desired;
pub mod execute;
pub mod google_access;
pub mod lease;
pub mod observe;
pub mod outcome;
pub mod pipeline;
pub mod quota_pacer;
pub mod trace;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use support_access_domain::StaffMemberId;
use support_access_domain::drift::Drift;
use support_access_domain::lifecycle::OperationKind;
use support_access_domain::ownership::{
    AccountOwnership, classify as classify_ownership, marker_value,
};
use support_access_domain::plan::Step;
use support_access_domain::plan::{PlannedStep, PlannerConfig, StepKind};
use support_access_domain::revoke::RevokeOptions;
use support_access_store::accounts::Ownership;
use support_access_store::operations::{
    self, Lease, NewStep, RawJson, RunState, StepRecord, StepStart, StepState, StepUpdate,
};
use support_access_store::wake::WakeListener;
use support_access_store::{Store, StoreError, accounts, domains, observations};
use tokio::sync::Notify;

use effect::StepEffect;
use execute::{Resolver, StepFailure};
use google_access::GoogleAccess;

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
            workers: 8,
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
    encoder: Arc<dyn outcome::ResultEncoder>,
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
            StoreError::Fenced => Interrupted::Fenced,
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
#[derive(Clone)]
enum ClaimEnd {
    Finished(RunState, String),
    RetryLater(String, Duration),
}

impl Engine {
    /// An engine over `store` and `google`; `encoder` spells finished operations' results as
    /// the API returns them.
    pub fn new(
        store: Store,
        google: Arc<GoogleAccess>,
        config: EngineConfig,
        encoder: Arc<dyn outcome::ResultEncoder>,
    ) -> Arc<Self> {
        Arc::new(Engine {
            store,
            google,
            config,
            owner: format!("{}-{}", hostname(), uuid::Uuid::new_v4().simple()),
            wake: Arc::new(Notify::new()),
            authors: audit::OperationAuthors::default(),
            encoder,
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

    /// Starts the workers and the Postgres listener that wakes them on `runtime`; they stop
    /// when `shutdown` is cancelled. Everything they spawn in turn runs there too.
    pub fn spawn(
        self: &Arc<Self>,
        runtime: &tokio::runtime::Handle,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        for worker in 0..self.config.workers {
            let engine = self.clone();
            let shutdown = shutdown.clone();
            runtime.spawn(async move { engine.worker_loop(worker, shutdown).await });
        }
        if let Some(interval) = self.config.reconcile_interval {
            // A task of its own: busy workers never delay a domain's reconciliation.
            let engine = self.clone();
            let shutdown = shutdown.clone();
            let tick = (interval / 4).clamp(Duration::from_millis(100), Duration::from_secs(10));
            runtime.spawn(async move {
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(tick) => engine.schedule_reconciles().await,
                    }
                }
            });
        }
        let engine = self.clone();
        runtime.spawn(async move { engine.listen(shutdown).await });
    }

    async fn listen(&self, shutdown: tokio_util::sync::CancellationToken) {
        loop {
            let mut listener = match WakeListener::connect(self.store.pool()).await {
                Ok(listener) => listener,
                Err(error) => {
                    tracing::warn!(error = %error, "cannot listen for work notifications");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_secs(2)) => continue,
                    }
                }
            };
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
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "replica".to_owned())
}
