//! The state every RPC handler shares: the store (once Postgres answered) and the names of the
//! configured service-account keys.

use std::sync::Arc;
use std::time::Duration;

use sqlx::Postgres;
use sqlx::pool::PoolConnection;
use support_access_store::{Store, StoreError};
use tokio::sync::OnceCell;

use support_access_domain::plan::PlannerConfig;
use support_access_domain::revoke::MassChangeLimit;

use crate::error::ApiError;
use crate::finished_operations::FinishedOperations;
use crate::status_cache::StatusCache;
use support_access_engine::Engine;
use support_access_engine::google_access::GoogleAccess;

/// Shared by every handler.
pub struct AppState {
    /// Set once Postgres answered and migrations ran; until then RPCs are UNAVAILABLE.
    store: Arc<OnceCell<Store>>,
    /// Google, through the configured keys.
    google: Arc<GoogleAccess>,
    /// The provisioning engine, started once the store is connected.
    engine: Arc<OnceCell<Arc<Engine>>>,
    /// Planner settings (portal role and privilege names).
    planner: PlannerConfig,
    /// The share of a domain's accounts a revocation may touch without `force`.
    mass_change_limit: MassChangeLimit,
    /// The `GetDomainStatus` answers built here, until a change is announced.
    status_cache: Arc<StatusCache>,
    /// The views of finished operations served here.
    finished_operations: FinishedOperations,
}

impl AppState {
    /// State over a store that may not be connected yet.
    pub fn new(
        store: Arc<OnceCell<Store>>,
        google: Arc<GoogleAccess>,
        engine: Arc<OnceCell<Arc<Engine>>>,
        planner: PlannerConfig,
        mass_change_limit: MassChangeLimit,
    ) -> Self {
        AppState {
            store,
            google,
            engine,
            planner,
            mass_change_limit,
            status_cache: Arc::default(),
            finished_operations: FinishedOperations::default(),
        }
    }

    /// The `GetDomainStatus` answers built here.
    pub fn status_cache(&self) -> &Arc<StatusCache> {
        &self.status_cache
    }

    /// The views of finished operations served here.
    pub fn finished_operations(&self) -> &FinishedOperations {
        &self.finished_operations
    }

    /// Google, through the configured keys.
    pub fn google(&self) -> &Arc<GoogleAccess> {
        &self.google
    }

    /// Planner settings.
    pub fn planner(&self) -> &PlannerConfig {
        &self.planner
    }

    /// The mass-change limit of revocations.
    pub fn mass_change_limit(&self) -> MassChangeLimit {
        self.mass_change_limit
    }

    /// Wakes the local workers (another replica's are woken through Postgres).
    pub fn wake_engine(&self) {
        if let Some(engine) = self.engine.get() {
            engine.wake();
        }
    }

    /// The store, or UNAVAILABLE while Postgres has not answered yet.
    pub fn store(&self) -> Result<&Store, ApiError> {
        self.store.get().ok_or_else(|| ApiError::Unavailable {
            message: "the database is not reachable yet".into(),
            retry_after: Some(Duration::from_secs(1)),
        })
    }

    /// A pooled connection, or UNAVAILABLE.
    pub async fn conn(&self) -> Result<PoolConnection<Postgres>, ApiError> {
        self.store()?
            .pool()
            .acquire()
            .await
            .map_err(|e| ApiError::from(StoreError::Database(e)))
    }

    /// Whether a service-account key of that name is configured.
    pub fn has_credential(&self, name: &str) -> bool {
        self.google.credential_names().any(|n| n == name)
    }
}
