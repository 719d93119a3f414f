//! The Google client's [`SharedPacer`] on Postgres: every replica of a deployment reserves the
//! slots of a project-wide Google quota (Licensing: 1 query per second, no burst) from one row
//! of `quota_slots`, so that together they never offer Google more than the quota.
//!
//! The Google client exists before Postgres answers (the service starts serving health first),
//! so the pacer is attached to the store once it is connected; until then, and whenever a
//! reservation fails, the client paces on its own (its local bucket), as a single replica would.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use support_access_google::{PacerError, SharedPacer};
use support_access_store::{Store, quota_slots};

/// Slots of project-wide quotas, reserved in Postgres.
#[derive(Default)]
pub struct PostgresPacer {
    store: OnceLock<Store>,
}

impl fmt::Debug for PostgresPacer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresPacer")
            .field("connected", &self.store.get().is_some())
            .finish()
    }
}

impl PostgresPacer {
    /// Starts reserving in `store` (the first store attached stays).
    pub fn attach(&self, store: Store) {
        let _ = self.store.set(store);
    }

    fn store(&self) -> Result<&Store, PacerError> {
        self.store
            .get()
            .ok_or_else(|| PacerError::from("not connected to postgres yet"))
    }
}

impl SharedPacer for PostgresPacer {
    fn reserve<'a>(
        &'a self,
        quota: &'a str,
        interval: Duration,
    ) -> BoxFuture<'a, Result<Duration, PacerError>> {
        async move {
            let mut conn = self.store()?.pool().acquire().await?;
            let slot = quota_slots::reserve(&mut conn, quota, interval).await?;
            Ok(slot.wait)
        }
        .boxed()
    }

    fn pause<'a>(
        &'a self,
        quota: &'a str,
        pause: Duration,
    ) -> BoxFuture<'a, Result<(), PacerError>> {
        async move {
            let mut conn = self.store()?.pool().acquire().await?;
            quota_slots::pause(&mut conn, quota, pause).await?;
            Ok(())
        }
        .boxed()
    }
}
