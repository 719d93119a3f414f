//! Postgres state of support-access through sqlx: the declared domains and staff members, the
//! desired support accounts, long-running operations with their per-domain leases and journal of
//! steps, observations, status snapshots (what `GetDomainStatus` counts and `ListSupportAccounts`
//! filters in SQL), manual confirmations, idempotency keys and the audit log.
//!
//! [`Store`] owns the pool and applies `migrations/` at start-up. Every repository function takes
//! `&mut PgConnection`, so the server composes several of them in one transaction
//! (`let mut tx = store.pool().begin().await?; domains::insert(&mut tx, ..)`). Records are plain
//! Rust types (no protobuf): the domain crate's enums (operation kind, step kind, role and revoke
//! modes, manual steps) are stored as they are, spelled by their own `as_str` in the upper-case
//! values the CHECK constraints allow; the store's own enums (run and step states, ownership,
//! repair policy) live here. Responses kept for replay are opaque bytes.
//!
//! Listing functions page by keyset and return a [`Page`]: the items plus the key to pass as the
//! `after`/`before` argument of the next call, `None` on the last page.

pub mod accounts;
pub mod audit;
pub mod domains;
pub mod drift;
mod error;
mod etag;
pub mod gauges;
pub mod idempotency;
pub mod manual;
pub mod observations;
pub mod operations;
pub mod quota_slots;
pub mod staff;
pub mod status;
mod text_enum;
pub mod wake;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

pub use error::{Result, StoreError};
pub use text_enum::UnknownValue;

/// The largest page any listing returns; larger requests are cut to it.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// The migrations of `migrations/`, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Postgres error code `invalid_catalog_name`: the database does not exist.
const DATABASE_MISSING: &str = "3D000";
/// Postgres error code `duplicate_database`.
const DATABASE_EXISTS: &str = "42P04";
/// `unique_violation`: two concurrent `CREATE DATABASE` of one name can collide on the catalog.
const UNIQUE_VIOLATION: &str = "23505";

/// How the store connects: pool sizes, how long a caller waits for a connection, and the
/// session settings every connection gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreSettings {
    /// Connections of the main pool (RPCs, engine work).
    pub max_connections: u32,
    /// Connections of the heartbeat pool ([`Store::heartbeat_pool`]), kept apart so that lease
    /// renewals never queue behind RPCs and engine work on the main pool.
    pub heartbeat_connections: u32,
    /// Longest wait for a pooled connection, including the liveness check (`SELECT 1`-like ping)
    /// of an idle one and the opening of a new one. When Postgres is down or hangs, every caller
    /// fails with [`sqlx::Error::PoolTimedOut`] after this (RPCs answer UNAVAILABLE) instead of
    /// waiting on TCP's own timeouts (minutes).
    pub acquire_timeout: Duration,
    /// Postgres `statement_timeout` of every connection of the main pool: no statement runs
    /// longer (a lock wait included). `idle_in_transaction_session_timeout` is twice this, so a
    /// transaction left open by a paused or partitioned process releases its locks.
    pub statement_timeout: Duration,
    /// Idle time before Postgres sends TCP keepalive probes on a connection, then every
    /// `keepalive_idle / 3` (at least 1 s), giving up after 3 unanswered probes. Set as the
    /// session's `tcp_keepalives_*` settings: the server side of every connection drops a client
    /// that vanished (crash, VM freeze, lost network) and ends its transactions and locks.
    pub keepalive_idle: Duration,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            max_connections: 10,
            heartbeat_connections: 2,
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(30),
            keepalive_idle: Duration::from_secs(30),
        }
    }
}

/// `statement_timeout` of the heartbeat pool: a lease renewal is one indexed `UPDATE`; one that
/// takes longer than this is failing, and the worker must learn it well within its lease.
pub const HEARTBEAT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

impl StoreSettings {
    /// The connection options of `database_url` with the session settings of this pool.
    fn session(&self, options: &PgConnectOptions, statement_timeout: Duration) -> PgConnectOptions {
        let keepalive = self.keepalive_idle.as_secs().max(1);
        options.clone().options([
            ("statement_timeout", millis(statement_timeout)),
            (
                "idle_in_transaction_session_timeout",
                millis(self.statement_timeout.saturating_mul(2)),
            ),
            ("tcp_keepalives_idle", keepalive as i64),
            ("tcp_keepalives_interval", (keepalive / 3).max(1) as i64),
            ("tcp_keepalives_count", 3),
        ])
    }
}

/// Handle to the database: a connection pool, and a small pool of its own for lease heartbeats.
/// Cheap to clone; every clone shares the pools.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    heartbeat: PgPool,
}

/// Shows the pool's size only: connection options may hold a password.
impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("connections", &self.pool.size())
            .field("idle", &self.pool.num_idle())
            .field("heartbeat_connections", &self.heartbeat.size())
            .finish()
    }
}

impl Store {
    /// Connects with [`StoreSettings::default`]; see [`Store::connect_with_settings`].
    pub async fn connect(database_url: &str) -> Result<Store> {
        Self::connect_with_settings(database_url, &StoreSettings::default()).await
    }

    /// Creates the database named in `database_url` when it is missing (through the `postgres`
    /// database of the same server; a concurrent creation by another replica is fine), opens the
    /// pools and applies the pending migrations under sqlx's advisory lock, so replicas starting
    /// together migrate once.
    pub async fn connect_with_settings(
        database_url: &str,
        settings: &StoreSettings,
    ) -> Result<Store> {
        let options: PgConnectOptions = database_url.parse()?;
        create_database_if_missing(&options).await?;
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(settings.session(&options, settings.statement_timeout))
            .await?;
        MIGRATOR.run(&pool).await?;
        // Lazy: its connections open on the first heartbeat, after the migrations.
        let heartbeat = PgPoolOptions::new()
            .max_connections(settings.heartbeat_connections.max(1))
            .acquire_timeout(settings.acquire_timeout)
            .connect_lazy_with(settings.session(
                &options,
                settings.statement_timeout.min(HEARTBEAT_STATEMENT_TIMEOUT),
            ));
        Ok(Store { pool, heartbeat })
    }

    /// Like [`Store::connect_with_settings`] with pool options of the caller's for the main pool
    /// (no session settings are added to it); the heartbeat pool gets the default settings.
    pub async fn connect_with(database_url: &str, pool_options: PgPoolOptions) -> Result<Store> {
        let options: PgConnectOptions = database_url.parse()?;
        create_database_if_missing(&options).await?;
        let pool = pool_options.connect_with(options.clone()).await?;
        MIGRATOR.run(&pool).await?;
        let settings = StoreSettings::default();
        let heartbeat = PgPoolOptions::new()
            .max_connections(settings.heartbeat_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_lazy_with(settings.session(&options, HEARTBEAT_STATEMENT_TIMEOUT));
        Ok(Store { pool, heartbeat })
    }

    /// Wraps an existing pool whose database is already migrated (as `#[sqlx::test]` gives).
    /// Heartbeats share that pool.
    pub fn from_pool(pool: PgPool) -> Store {
        Store {
            heartbeat: pool.clone(),
            pool,
        }
    }

    /// The pool, to begin transactions or acquire connections.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The pool of lease heartbeats (`operations::renew_lease`) only: a few connections no RPC
    /// or engine work can take, so a busy or starved main pool never lets a lease lapse. Keep
    /// each use to one short statement.
    pub fn heartbeat_pool(&self) -> &PgPool {
        &self.heartbeat
    }

    /// Checks that the database answers (`SELECT 1`), for health reporting.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

async fn create_database_if_missing(options: &PgConnectOptions) -> Result<()> {
    // Without a database in the URL Postgres uses the user's name; leave that case alone.
    let Some(database) = options.get_database() else {
        return Ok(());
    };
    match PgConnection::connect_with(options).await {
        Ok(conn) => return Ok(conn.close().await?),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(DATABASE_MISSING) => {}
        Err(e) => return Err(e.into()),
    }
    tracing::info!(database, "creating missing database");
    let mut admin = PgConnection::connect_with(&options.clone().database("postgres")).await?;
    // Identifiers cannot be bound as parameters: quote it, doubling embedded quotes.
    let statement = format!("CREATE DATABASE \"{}\"", database.replace('"', "\"\""));
    let created = sqlx::query(AssertSqlSafe(statement))
        .execute(&mut admin)
        .await;
    admin.close().await?;
    match created {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e))
            if matches!(
                e.code().as_deref(),
                Some(DATABASE_EXISTS | UNIQUE_VIOLATION)
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// One page of a listing, in the listing's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T, K> {
    /// The items of this page: at most the page size asked for.
    pub items: Vec<T>,
    /// The key of the last item when more items follow, to pass to the next call; `None` on the
    /// last page.
    pub next_key: Option<K>,
}

/// The `LIMIT` for a page of `page_size`: one row more than the page, to learn whether another
/// page follows. The page size is cut to 1..=[`MAX_PAGE_SIZE`].
pub(crate) fn fetch_limit(page_size: u32) -> i64 {
    i64::from(page_size.clamp(1, MAX_PAGE_SIZE)) + 1
}

/// Builds a [`Page`] from rows fetched with [`fetch_limit`].
pub(crate) fn into_page<T, K>(
    mut rows: Vec<T>,
    page_size: u32,
    key: impl Fn(&T) -> K,
) -> Page<T, K> {
    let page_size = page_size.clamp(1, MAX_PAGE_SIZE) as usize;
    let next_key = if rows.len() > page_size {
        rows.truncate(page_size);
        rows.last().map(key)
    } else {
        None
    };
    Page {
        items: rows,
        next_key,
    }
}

/// Converts a duration to whole milliseconds for SQL interval arithmetic, saturating.
pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
