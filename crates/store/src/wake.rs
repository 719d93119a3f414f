//! The wake-up channel between replicas: a new operation (or a cancellation) is announced with
//! `pg_notify` in the transaction that creates it, so every replica's workers hear of it when it
//! commits, and a [`WakeListener`] receives those announcements.

use sqlx::PgConnection;
use sqlx::postgres::{PgListener, PgPool};

use crate::Result;

/// The Postgres channel on which new work wakes the workers of every replica.
pub const WORK_CHANNEL: &str = "support_access_work";

/// Announces that `operation_id` has work; delivered to listeners when the caller's
/// transaction commits (and never if it rolls back).
pub async fn notify_work_available(
    conn: &mut PgConnection,
    operation_id: uuid::Uuid,
) -> Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(WORK_CHANNEL)
        .bind(operation_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// A connection listening on [`WORK_CHANNEL`].
pub struct WakeListener {
    listener: PgListener,
}

impl WakeListener {
    /// Connects a listener of its own from `pool` and subscribes it to the channel.
    pub async fn connect(pool: &PgPool) -> Result<Self> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(WORK_CHANNEL).await?;
        Ok(WakeListener { listener })
    }

    /// Waits for the next announcement; an error means the connection was lost (connect again).
    pub async fn recv(&mut self) -> Result<()> {
        self.listener.recv().await?;
        Ok(())
    }
}
