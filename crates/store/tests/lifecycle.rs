//! What keeps work from getting stuck or piling up: operations stranded between the release of
//! their last domain and their finish, a cancel that finishes an operation nobody is working on,
//! the bounded purge of idempotency keys past their retention, and the connection settings of
//! [`Store`] (statement timeout, keepalive, a separate pool for lease heartbeats).
//!
//! Each `#[sqlx::test]` gets a fresh database with `migrations/` applied. Run with
//! `DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo test -p support-access-store`.

use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;
use support_access_domain::lifecycle::OperationKind;
use support_access_domain::plan::StepKind;
use support_access_store::operations::{
    self, Cancellation, NewOperation, NewStep, Outcome, RawJson, RunState, StepState,
};
use support_access_store::{Result, StoreError};
use uuid::Uuid;

const LONG: Duration = Duration::from_secs(60);

/// An operation over `domains` with two steps per domain.
fn operation(domains: &[&str]) -> NewOperation {
    let step = |domain: &str, action: StepKind| NewStep {
        domain_name: domain.to_owned(),
        account_email: Some(format!("ana@{domain}")),
        staff_member_id: Some("ana".to_owned()),
        action,
        reason: "needed".to_owned(),
        payload: RawJson::of(&json!({})).expect("json"),
        state: StepState::Pending,
        detail: String::new(),
    };
    NewOperation {
        id: Uuid::now_v7(),
        kind: OperationKind::Provision,
        principal: "alice".to_owned(),
        request_id: None,
        request: json!({ "domains": domains }),
        validate_only: false,
        domains: domains.iter().map(|d| d.to_string()).collect(),
        steps: domains
            .iter()
            .flat_map(|d| {
                [
                    step(d, StepKind::CreateOrgUnit),
                    step(d, StepKind::CreateUser),
                ]
            })
            .collect(),
        trace_parent: None,
    }
}

async fn create(pool: &PgPool, op: &NewOperation) -> Result<()> {
    let mut conn = pool.acquire().await?;
    operations::create(&mut conn, op).await?;
    Ok(())
}

/// Sets the state of one work item directly, `age` ago, as a worker's release would have.
async fn set_domain(
    pool: &PgPool,
    id: Uuid,
    domain: &str,
    state: RunState,
    age: Duration,
) -> Result<()> {
    sqlx::query(
        "UPDATE operation_domains SET state = $3, \
             update_time = now() - $4 * interval '1 millisecond' \
         WHERE operation_id = $1 AND domain_name = $2",
    )
    .bind(id)
    .bind(domain)
    .bind(state.as_str())
    .bind(age.as_millis() as i64)
    .execute(pool)
    .await?;
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn stranded_finds_unfinished_operations_whose_domains_all_finished(
    pool: PgPool,
) -> Result<()> {
    let old = Duration::from_secs(60);
    let grace = Duration::from_secs(10);
    // Stranded: every domain finished a minute ago, the operation never finished.
    let stranded = operation(&["a.example", "b.example"]);
    create(&pool, &stranded).await?;
    set_domain(&pool, stranded.id, "a.example", RunState::Succeeded, old).await?;
    set_domain(&pool, stranded.id, "b.example", RunState::Failed, old).await?;
    // Still working on one domain.
    let working = operation(&["c.example", "d.example"]);
    create(&pool, &working).await?;
    set_domain(&pool, working.id, "c.example", RunState::Succeeded, old).await?;
    // Its last domain was released just now: the releasing worker is finishing it.
    let finishing = operation(&["e.example"]);
    create(&pool, &finishing).await?;
    set_domain(
        &pool,
        finishing.id,
        "e.example",
        RunState::Cancelled,
        Duration::ZERO,
    )
    .await?;
    // Finished properly.
    let finished = operation(&["f.example"]);
    create(&pool, &finished).await?;
    set_domain(&pool, finished.id, "f.example", RunState::Succeeded, old).await?;
    let mut conn = pool.acquire().await?;
    operations::finish(&mut conn, finished.id, Outcome::Succeeded(b"ok")).await?;

    assert_eq!(
        operations::stranded(&mut conn, grace, 100).await?,
        [stranded.id]
    );
    assert_eq!(
        operations::stranded(&mut conn, Duration::ZERO, 100).await?,
        [stranded.id, finishing.id]
    );
    assert_eq!(
        operations::stranded(&mut conn, Duration::ZERO, 1).await?,
        [stranded.id],
        "oldest first, bounded"
    );
    operations::finish(&mut conn, stranded.id, Outcome::Failed(b"failed")).await?;
    assert!(
        operations::stranded(&mut conn, grace, 100)
            .await?
            .is_empty()
    );
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn cancel_finishes_at_once_when_nobody_works_on_the_operation(pool: PgPool) -> Result<()> {
    // One domain succeeded already, the other waits to retry (not leased): nobody is working.
    let op = operation(&["a.example", "b.example"]);
    create(&pool, &op).await?;
    set_domain(&pool, op.id, "a.example", RunState::Succeeded, LONG).await?;
    sqlx::query(
        "UPDATE operation_domains SET state = 'RUNNING', not_before = now() + interval '1 hour' \
         WHERE operation_id = $1 AND domain_name = 'b.example'",
    )
    .bind(op.id)
    .execute(&pool)
    .await?;
    sqlx::query(
        "UPDATE steps SET state = 'DONE' WHERE operation_id = $1 AND domain_name = 'a.example'",
    )
    .bind(op.id)
    .execute(&pool)
    .await?;

    let mut tx = pool.begin().await?;
    let cancelled = operations::cancel_now_or_flag(&mut tx, op.id, "cancelled by alice").await?;
    let Cancellation::Cancelled(record) = cancelled else {
        panic!("expected an immediate cancel, got {cancelled:?}");
    };
    assert!(record.cancel_requested && !record.done);
    operations::finish(&mut tx, op.id, Outcome::Cancelled(b"status")).await?;
    tx.commit().await?;

    let mut conn = pool.acquire().await?;
    let stored = operations::get(&mut conn, op.id).await?.expect("stored");
    assert_eq!(stored.state, RunState::Cancelled);
    assert!(stored.done);
    let domains = operations::domains(&mut conn, op.id).await?;
    assert_eq!(
        domains
            .iter()
            .map(|d| (d.domain_name.as_str(), d.state, d.not_before))
            .collect::<Vec<_>>(),
        [
            ("a.example", RunState::Succeeded, None),
            ("b.example", RunState::Cancelled, None)
        ]
    );
    let steps = operations::steps(&mut conn, op.id).await?;
    assert_eq!(
        steps.iter().map(|s| s.state).collect::<Vec<_>>(),
        [
            StepState::Done,
            StepState::Done,
            StepState::Cancelled,
            StepState::Cancelled
        ]
    );
    assert_eq!(steps[3].detail, "cancelled by alice");
    assert_eq!(
        operations::claim_next_domain(&pool, "w1", LONG).await?,
        None,
        "nothing left to claim"
    );
    let again = operations::cancel_now_or_flag(&mut conn, op.id, "again").await?;
    assert_eq!(again, Cancellation::AlreadyDone(stored));
    let unknown = operations::cancel_now_or_flag(&mut conn, Uuid::now_v7(), "x").await;
    assert!(matches!(unknown, Err(StoreError::NotFound)), "{unknown:?}");
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn cancel_of_a_running_operation_only_flags_it(pool: PgPool) -> Result<()> {
    let op = operation(&["a.example", "b.example"]);
    create(&pool, &op).await?;
    let lease = operations::claim_next_domain(&pool, "w1", LONG)
        .await?
        .expect("claimable");
    let mut conn = pool.acquire().await?;
    let flagged = operations::cancel_now_or_flag(&mut conn, op.id, "cancelled").await?;
    let Cancellation::Flagged(record) = flagged else {
        panic!("expected a flag, got {flagged:?}");
    };
    assert!(record.cancel_requested && !record.done);
    // Nothing else changed: the worker closes its own steps and still holds its lease.
    let domains = operations::domains(&mut conn, op.id).await?;
    assert!(
        domains.iter().all(|d| !d.state.is_terminal()),
        "{domains:?}"
    );
    assert!(
        operations::steps(&mut conn, op.id)
            .await?
            .iter()
            .all(|s| s.state == StepState::Pending)
    );
    operations::renew_lease(&mut conn, &mut lease.clone(), LONG).await?;
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn cancel_fences_a_lapsed_lease_nobody_took_over(pool: PgPool) -> Result<()> {
    let op = operation(&["a.example"]);
    create(&pool, &op).await?;
    let mut lease = operations::claim_next_domain(&pool, "paused", Duration::from_millis(1))
        .await?
        .expect("claimable");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut conn = pool.acquire().await?;
    let cancelled = operations::cancel_now_or_flag(&mut conn, op.id, "cancelled").await?;
    assert!(
        matches!(cancelled, Cancellation::Cancelled(_)),
        "{cancelled:?}"
    );
    // The paused worker wakes up: every write it tries is refused.
    let renewed = operations::renew_lease(&mut conn, &mut lease, LONG).await;
    assert!(matches!(&renewed, Err(StoreError::Fenced)), "{renewed:?}");
    let released = operations::release(&mut conn, &lease, RunState::Succeeded, "done", None).await;
    assert!(matches!(&released, Err(StoreError::Fenced)), "{released:?}");
    Ok(())
}

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
async fn every_connection_has_a_statement_timeout_keepalive_and_heartbeats_their_own_pool()
-> Result<()> {
    use sqlx::{Connection, PgConnection};
    use support_access_store::{Store, StoreSettings};

    let database = format!("sa_store_settings_{}", Uuid::new_v4().simple());
    let url = url_for(&database);
    let settings = StoreSettings {
        max_connections: 1,
        heartbeat_connections: 1,
        acquire_timeout: Duration::from_millis(500),
        statement_timeout: Duration::from_secs(1),
        keepalive_idle: Duration::from_secs(30),
    };
    let outcome = async {
        let store = Store::connect_with_settings(&url, &settings).await?;
        let show = |pool: &PgPool, name: &'static str| {
            let pool = pool.clone();
            async move {
                sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!("SHOW {name}")))
                    .fetch_one(&pool)
                    .await
            }
        };
        for pool in [store.pool(), store.heartbeat_pool()] {
            assert_eq!(show(pool, "statement_timeout").await?, "1s");
            assert_eq!(
                show(pool, "idle_in_transaction_session_timeout").await?,
                "2s"
            );
            assert_eq!(show(pool, "tcp_keepalives_idle").await?, "30");
            assert_eq!(show(pool, "tcp_keepalives_interval").await?, "10");
            assert_eq!(show(pool, "tcp_keepalives_count").await?, "3");
        }

        // No statement outlives the timeout.
        let slow = sqlx::query("SELECT pg_sleep(3)")
            .execute(store.pool())
            .await;
        let Err(sqlx::Error::Database(error)) = &slow else {
            panic!("expected the statement to be cancelled, got {slow:?}");
        };
        assert_eq!(error.code().as_deref(), Some("57014"), "query_canceled");

        // The main pool is exhausted: a caller gives up after the acquire timeout, while
        // heartbeats still get a connection of their own.
        let held = store.pool().acquire().await?;
        let started = std::time::Instant::now();
        let starved = store.pool().acquire().await;
        assert!(
            matches!(starved, Err(sqlx::Error::PoolTimedOut)),
            "{starved:?}"
        );
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(450) && waited < Duration::from_secs(2),
            "{waited:?}"
        );
        sqlx::query("SELECT 1")
            .execute(store.heartbeat_pool())
            .await?;
        drop(held);
        store.pool().close().await;
        store.heartbeat_pool().close().await;

        // The defaults: a 30 s statement timeout, a 3 s acquire timeout.
        assert_eq!(
            StoreSettings::default().statement_timeout,
            Duration::from_secs(30)
        );
        assert_eq!(
            StoreSettings::default().acquire_timeout,
            Duration::from_secs(3)
        );
        let store = Store::connect(&url).await?;
        assert_eq!(show(store.pool(), "statement_timeout").await?, "30s");
        assert_eq!(
            show(store.heartbeat_pool(), "statement_timeout").await?,
            "5s"
        );
        store.pool().close().await;
        store.heartbeat_pool().close().await;
        Ok::<(), StoreError>(())
    }
    .await;

    let mut admin = PgConnection::connect(&url_for("postgres")).await?;
    let drop = format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
    sqlx::query(sqlx::AssertSqlSafe(drop))
        .execute(&mut admin)
        .await?;
    outcome
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_released_claim_can_be_claimed_again_and_a_completed_one_stays(
    pool: PgPool,
) -> Result<()> {
    use support_access_store::idempotency::{self, Claim};
    const METHOD: &str = "/supportaccess.v1.SupportAccessService/IssueSignInCredential";
    let request = idempotency::fingerprint(b"issue");
    let other = idempotency::fingerprint(b"other");
    let mut conn = pool.acquire().await?;
    assert_eq!(
        idempotency::claim(&mut conn, "r1", METHOD, &request).await?,
        Claim::New
    );
    // Only the call that claimed it can give it back.
    assert!(!idempotency::release(&mut conn, "r1", METHOD, &other).await?);
    assert!(!idempotency::release(&mut conn, "r1", "/other/Method", &request).await?);
    assert_eq!(
        idempotency::claim(&mut conn, "r1", METHOD, &request).await?,
        Claim::Pending
    );
    assert!(idempotency::release(&mut conn, "r1", METHOD, &request).await?);
    assert_eq!(
        idempotency::claim(&mut conn, "r1", METHOD, &request).await?,
        Claim::New
    );
    // A completed call keeps its id.
    idempotency::complete(&mut conn, "r1", b"response").await?;
    assert!(!idempotency::release(&mut conn, "r1", METHOD, &request).await?);
    assert!(matches!(
        idempotency::claim(&mut conn, "r1", METHOD, &request).await?,
        Claim::Replay { .. }
    ));
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn expired_idempotency_keys_are_purged_in_bounded_batches(pool: PgPool) -> Result<()> {
    use support_access_store::idempotency::{self, DEFAULT_RETENTION};
    const METHOD: &str = "/supportaccess.v1.SupportAccessService/CreateDomain";
    let request = idempotency::fingerprint(b"create");
    let mut conn = pool.acquire().await?;
    for (id, age_hours) in [
        ("old-1", 24 * 9),
        ("old-2", 24 * 8),
        ("old-3", 24 * 7 + 1),
        ("six-days", 24 * 6),
        ("two-days", 48),
        ("fresh", 0),
    ] {
        idempotency::claim(&mut conn, id, METHOD, &request).await?;
        sqlx::query(
            "UPDATE idempotency_keys SET create_time = now() - $2 * interval '1 hour' \
             WHERE request_id = $1",
        )
        .bind(id)
        .bind(age_hours)
        .execute(&mut *conn)
        .await?;
    }
    // Seven days by default, two keys per batch, oldest first.
    assert_eq!(
        idempotency::purge_expired(&mut conn, DEFAULT_RETENTION, 2).await?,
        2
    );
    assert_eq!(
        left(&mut conn).await?,
        ["old-3", "six-days", "two-days", "fresh"]
    );
    assert_eq!(
        idempotency::purge_expired(&mut conn, DEFAULT_RETENTION, 2).await?,
        1
    );
    assert_eq!(
        idempotency::purge_expired(&mut conn, DEFAULT_RETENTION, 2).await?,
        0
    );
    // A retention below the 24-hour minimum is raised to it.
    assert_eq!(
        idempotency::purge_expired(&mut conn, Duration::from_secs(60), 100).await?,
        2
    );
    assert_eq!(left(&mut conn).await?, ["fresh"]);
    Ok(())
}

async fn left(conn: &mut sqlx::PgConnection) -> Result<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT request_id FROM idempotency_keys ORDER BY create_time")
            .fetch_all(conn)
            .await?,
    )
}
