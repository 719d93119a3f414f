//! The audit trail of refused calls to mutating methods (who tried what, on which domain, and why
//! it was refused), written on a connection of its own since the call never opens a transaction.
//!
//! Refusals go through a bounded queue to one writer task, so a flood of bad calls costs at most
//! one insert at a time and cannot exhaust the pool: when the queue is full, refusals are counted
//! and the count is logged instead.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use support_access_store::Store;
use support_access_store::audit::{self, NewAuditEvent};
use tokio::sync::{OnceCell, mpsc};

/// Refusals waiting to be written.
const QUEUE: usize = 256;

/// The principal recorded for callers who did not authenticate.
pub const UNAUTHENTICATED_PRINCIPAL: &str = "unauthenticated";

/// Sends refusals to the writer task.
#[derive(Debug, Clone)]
pub struct Denials {
    queue: mpsc::Sender<NewAuditEvent>,
    /// Refusals dropped because the queue was full, since the last one written.
    dropped: Arc<AtomicU64>,
}

impl Denials {
    /// Starts the writer; it ends when every sender is dropped (the server stopped).
    pub fn spawn(store: Arc<OnceCell<Store>>) -> Denials {
        let (queue, events) = mpsc::channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        tokio::spawn(write_all(events, store, dropped.clone()));
        Denials { queue, dropped }
    }

    /// Queues a refusal, or counts it when the queue is full.
    pub fn record(&self, event: NewAuditEvent) {
        if self.queue.try_send(event).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn write_all(
    mut events: mpsc::Receiver<NewAuditEvent>,
    store: Arc<OnceCell<Store>>,
    dropped: Arc<AtomicU64>,
) {
    while let Some(event) = events.recv().await {
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            tracing::warn!(lost, "refused calls were not audited: too many at once");
        }
        let Some(store) = store.get() else {
            tracing::warn!(method = %event.method, "refused call not audited: the database is not connected yet");
            continue;
        };
        let written = match store.pool().acquire().await {
            Ok(mut conn) => audit::append(&mut conn, &event).await.map(|_| ()),
            Err(error) => Err(support_access_store::StoreError::Database(error)),
        };
        if let Err(error) = written {
            tracing::warn!(error = %error, method = %event.method, "refused call not audited");
        }
    }
}
