//! Idempotency keys: claim, replay, mismatch, rollback, concurrent claims, purge.

use std::time::Duration;

use sqlx::PgPool;
use support_access_store::idempotency::{self, Claim};
use support_access_store::{Result, StoreError};

const CREATE: &str = "/supportaccess.v1.SupportAccessService/CreateDomain";
const DELETE: &str = "/supportaccess.v1.SupportAccessService/DeleteDomain";

#[test]
fn fingerprint_is_sha256_hex() {
    assert_eq!(
        idempotency::fingerprint(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn claim_then_replay_then_mismatch(pool: PgPool) -> Result<()> {
    let request = idempotency::fingerprint(b"create reseller.example");
    let other_request = idempotency::fingerprint(b"create other.example");

    let mut tx = pool.begin().await?;
    assert_eq!(
        idempotency::claim(&mut tx, "req-1", CREATE, &request).await?,
        Claim::New
    );
    idempotency::complete(&mut tx, "req-1", b"response-1").await?;
    tx.commit().await?;

    let mut conn = pool.acquire().await?;
    assert_eq!(
        idempotency::claim(&mut conn, "req-1", CREATE, &request).await?,
        Claim::Replay {
            response: b"response-1".to_vec()
        }
    );
    assert_eq!(
        idempotency::claim(&mut conn, "req-1", CREATE, &other_request).await?,
        Claim::Mismatch
    );
    assert_eq!(
        idempotency::claim(&mut conn, "req-1", DELETE, &request).await?,
        Claim::Mismatch
    );

    let err = idempotency::complete(&mut conn, "req-1", b"again").await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    let err = idempotency::complete(&mut conn, "never-claimed", b"x").await;
    assert!(matches!(err, Err(StoreError::NotFound)), "{err:?}");
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn committed_claim_without_response_is_pending(pool: PgPool) -> Result<()> {
    let request = idempotency::fingerprint(b"issue credential");
    let mut conn = pool.acquire().await?;
    assert_eq!(
        idempotency::claim(&mut conn, "req-2", CREATE, &request).await?,
        Claim::New
    );
    assert_eq!(
        idempotency::claim(&mut conn, "req-2", CREATE, &request).await?,
        Claim::Pending
    );
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn rolled_back_claim_leaves_no_key(pool: PgPool) -> Result<()> {
    let request = idempotency::fingerprint(b"r");
    let mut tx = pool.begin().await?;
    assert_eq!(
        idempotency::claim(&mut tx, "req-3", CREATE, &request).await?,
        Claim::New
    );
    idempotency::complete(&mut tx, "req-3", b"lost").await?;
    tx.rollback().await?;

    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM idempotency_keys")
        .fetch_one(&pool)
        .await?;
    assert_eq!(count, 0);
    let mut conn = pool.acquire().await?;
    assert_eq!(
        idempotency::claim(&mut conn, "req-3", CREATE, &request).await?,
        Claim::New
    );
    Ok(())
}

/// Starts a second claim of `request_id` on its own transaction and checks that it waits.
async fn blocked_second_claim(
    pool: &PgPool,
    request_id: &'static str,
    fingerprint: String,
) -> tokio::task::JoinHandle<Result<Claim>> {
    let pool = pool.clone();
    let mut second = tokio::spawn(async move {
        let mut tx = pool.begin().await?;
        let claim = idempotency::claim(&mut tx, request_id, CREATE, &fingerprint).await?;
        tx.commit().await?;
        Ok(claim)
    });
    let waited = tokio::time::timeout(Duration::from_millis(300), &mut second).await;
    assert!(
        waited.is_err(),
        "the second claim must wait for the first transaction"
    );
    second
}

#[sqlx::test(migrations = "../../migrations")]
async fn concurrent_claim_waits_and_replays_after_commit(pool: PgPool) -> Result<()> {
    let request = idempotency::fingerprint(b"concurrent");
    let mut first = pool.begin().await?;
    assert_eq!(
        idempotency::claim(&mut first, "req-4", CREATE, &request).await?,
        Claim::New
    );

    let second = blocked_second_claim(&pool, "req-4", request.clone()).await;
    idempotency::complete(&mut first, "req-4", b"first response").await?;
    first.commit().await?;

    let claim = second.await.expect("task")?;
    assert_eq!(
        claim,
        Claim::Replay {
            response: b"first response".to_vec()
        }
    );
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn concurrent_claim_wins_after_rollback(pool: PgPool) -> Result<()> {
    let request = idempotency::fingerprint(b"concurrent");
    let mut first = pool.begin().await?;
    assert_eq!(
        idempotency::claim(&mut first, "req-5", CREATE, &request).await?,
        Claim::New
    );

    let second = blocked_second_claim(&pool, "req-5", request.clone()).await;
    first.rollback().await?;

    assert_eq!(second.await.expect("task")?, Claim::New);
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn purge_removes_only_keys_past_the_retention(pool: PgPool) -> Result<()> {
    let request = idempotency::fingerprint(b"p");
    let mut conn = pool.acquire().await?;
    for id in ["old", "two-hours", "fresh"] {
        idempotency::claim(&mut conn, id, CREATE, &request).await?;
    }
    sqlx::query(
        "UPDATE idempotency_keys SET create_time = now() - CASE request_id \
             WHEN 'old' THEN interval '25 hours' ELSE interval '2 hours' END \
         WHERE request_id <> 'fresh'",
    )
    .execute(&mut *conn)
    .await?;

    // One hour is below the 24-hour minimum: only the 25-hour-old key goes.
    let purged = idempotency::purge_older_than(&mut conn, Duration::from_secs(3600)).await?;
    assert_eq!(purged, 1);
    let left: Vec<String> =
        sqlx::query_scalar("SELECT request_id FROM idempotency_keys ORDER BY request_id")
            .fetch_all(&mut *conn)
            .await?;
    assert_eq!(left, ["fresh", "two-hours"]);
    Ok(())
}
