//! Postgres state of support-access through sqlx: the declared domains and staff members, the
//! desired support accounts, long-running operations with their per-domain leases and journal of
//! steps, observations, manual confirmations, idempotency keys and the audit log.
//!
//! [`Store`] owns the pool and applies `migrations/` at start-up. Every repository function takes
//! `&mut PgConnection`, so the server composes several of them in one transaction
//! (`let mut tx = store.pool().begin().await?; domains::insert(&mut tx, ..)`). Records are plain
//! Rust types (no protobuf): enums spell the same upper-case values the CHECK constraints allow,
//! and responses kept for replay are opaque bytes.
//!
//! Listing functions page by keyset and return a [`Page`]: the items plus the key to pass as the
//! `after`/`before` argument of the next call, `None` on the last page.

pub mod accounts;
pub mod audit;
pub mod domains;
pub mod drift;
mod error;
mod etag;
pub mod idempotency;
pub mod manual;
pub mod observations;
pub mod operations;
pub mod staff;
mod text_enum;

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

/// Handle to the database: a connection pool. Cheap to clone; every clone shares the pool.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

/// Shows the pool's size only: connection options may hold a password.
impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("connections", &self.pool.size())
            .field("idle", &self.pool.num_idle())
            .finish()
    }
}

impl Store {
    /// Connects with default pool settings (10 connections, 5 s acquire timeout); see
    /// [`Store::connect_with`].
    pub async fn connect(database_url: &str) -> Result<Store> {
        let pool_options = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(5));
        Self::connect_with(database_url, pool_options).await
    }

    /// Creates the database named in `database_url` when it is missing (through the `postgres`
    /// database of the same server; a concurrent creation by another replica is fine), opens a
    /// pool and applies the pending migrations under sqlx's advisory lock, so replicas starting
    /// together migrate once.
    pub async fn connect_with(database_url: &str, pool_options: PgPoolOptions) -> Result<Store> {
        let options: PgConnectOptions = database_url.parse()?;
        create_database_if_missing(&options).await?;
        let pool = pool_options.connect_with(options).await?;
        MIGRATOR.run(&pool).await?;
        Ok(Store { pool })
    }

    /// Wraps an existing pool whose database is already migrated (as `#[sqlx::test]` gives).
    pub fn from_pool(pool: PgPool) -> Store {
        Store { pool }
    }

    /// The pool, to begin transactions or acquire connections.
    pub fn pool(&self) -> &PgPool {
        &self.pool
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
