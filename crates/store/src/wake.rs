//! The channels between replicas. Work: a new operation (or a cancellation) is announced with
//! `pg_notify` in the transaction that creates it, so every replica's workers hear of it when it
//! commits, and a [`WakeListener`] receives those announcements. Status: the triggers of
//! migration `20261205100000_status_change_notify.sql` announce the domain of every write to
//! what a domain's status is built from, and a [`StatusListener`] receives the domains.

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

/// The Postgres channel on which writes announce the domain whose status they change.
pub const STATUS_CHANNEL: &str = "support_access_status";

/// The domain announced on [`STATUS_CHANNEL`] by a change to every domain's status (a staff
/// member's).
pub const EVERY_DOMAIN: &str = "*";

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

/// A connection listening on [`STATUS_CHANNEL`].
pub struct StatusListener {
    listener: PgListener,
}

impl StatusListener {
    /// Connects a listener of its own from `pool` and subscribes it to the channel: every change
    /// committed from then on is announced to it.
    pub async fn connect(pool: &PgPool) -> Result<Self> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(STATUS_CHANNEL).await?;
        Ok(StatusListener { listener })
    }

    /// The next announced domain ([`EVERY_DOMAIN`] for all); `None` when the connection was
    /// lost, and with it what was announced meanwhile (connect again).
    pub async fn next_domain(&mut self) -> Result<Option<String>> {
        Ok(self
            .listener
            .try_recv()
            .await?
            .map(|notification| notification.payload().to_owned()))
    }
}
