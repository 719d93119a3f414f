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
use support_access_store::Result;
use support_access_store::operations::{
    self, NewOperation, NewStep, OperationKind, Outcome, RunState, StepAction, StepState,
};
use uuid::Uuid;

/// An operation over `domains` with two steps per domain.
fn operation(domains: &[&str]) -> NewOperation {
    let step = |domain: &str, action: StepAction| NewStep {
        domain_name: domain.to_owned(),
        account_email: Some(format!("ana@{domain}")),
        staff_member_id: Some("ana".to_owned()),
        action,
        reason: "needed".to_owned(),
        payload: json!({}),
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
                    step(d, StepAction::CheckDelegatedAdmin),
                    step(d, StepAction::CreateUser),
                ]
            })
            .collect(),
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
