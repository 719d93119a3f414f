//! The state every RPC handler shares: the store (once Postgres answered) and the names of the
//! configured service-account keys.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use sqlx::Postgres;
use sqlx::pool::PoolConnection;
use support_access_store::{Store, StoreError};
use tokio::sync::OnceCell;

use crate::error::ApiError;

/// Shared by every handler.
pub struct AppState {
    /// Set once Postgres answered and migrations ran; until then RPCs are UNAVAILABLE.
    store: Arc<OnceCell<Store>>,
    /// Names of the configured service-account keys (never the keys themselves).
    credential_names: BTreeSet<String>,
}

impl AppState {
    /// State over a store that may not be connected yet.
    pub fn new(store: Arc<OnceCell<Store>>, credential_names: BTreeSet<String>) -> Self {
        AppState {
            store,
            credential_names,
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
        self.credential_names.contains(name)
    }
}
