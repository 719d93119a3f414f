//! `Store::connect`: creates a missing database, migrates it once even when replicas start
//! together, and answers pings.

use sqlx::{Connection, PgConnection};
use support_access_store::{Result, Store};

/// `DATABASE_URL` with its database replaced by `database`.
fn url_for(database: &str) -> String {
    let base = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let server = base
        .rsplit_once('/')
        .map_or(base.as_str(), |(server, _)| server);
    format!("{server}/{database}")
}

#[tokio::test]
async fn connect_creates_the_missing_database_and_migrates_it() -> Result<()> {
    let database = format!("sa_store_connect_{}", uuid::Uuid::new_v4().simple());
    let url = url_for(&database);

    // Two replicas starting at once: both create-or-find the database and migrate under the lock.
    let (first, second) = tokio::join!(Store::connect(&url), Store::connect(&url));
    let outcome = async {
        let (first, second) = (first?, second?);
        first.ping().await?;
        second.ping().await?;
        let domains: i64 = sqlx::query_scalar("SELECT count(*) FROM domains")
            .fetch_one(first.pool())
            .await?;
        assert_eq!(domains, 0);
        let applied: i64 =
            sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(first.pool())
                .await?;
        assert_eq!(
            applied,
            support_access_store::MIGRATOR.iter().count() as i64
        );
        first.pool().close().await;
        second.pool().close().await;

        // A third start finds everything in place.
        let again = Store::connect(&url).await?;
        again.ping().await?;
        again.pool().close().await;
        Ok(())
    }
    .await;

    // Clean up on the server's `postgres` database (never migrated by this test).
    let mut admin = PgConnection::connect(&url_for("postgres")).await?;
    let drop = format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
    sqlx::query(sqlx::AssertSqlSafe(drop))
        .execute(&mut admin)
        .await?;
    outcome
}
