//! Operations: plan creation, listing, cancellation, outcome; leases with expiry, takeover and
//! fencing; per-domain exclusivity across operations; concurrent claimers.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;
use support_access_domain::lifecycle::OperationKind;
use support_access_domain::plan::StepKind;
use support_access_store::operations::{
    self, Lease, NewOperation, NewStep, OperationFilter, Outcome, RawJson, RunState, StepState,
    StepUpdate,
};
use support_access_store::{Result, StoreError};
use uuid::Uuid;

const LONG: Duration = Duration::from_secs(60);

fn step(domain: &str, account: Option<&str>, action: StepKind) -> NewStep {
    NewStep {
        domain_name: domain.to_owned(),
        account_email: account.map(|a| format!("{a}@{domain}")),
        staff_member_id: account.map(str::to_owned),
        action,
        reason: format!("{action} needed"),
        payload: RawJson::of(&json!({ "action": action.as_str() })).expect("json"),
        state: StepState::Pending,
        detail: String::new(),
    }
}

/// An operation over `domains` with two steps per domain (admin check, then create ana).
fn operation(domains: &[&str]) -> NewOperation {
    NewOperation {
        id: Uuid::now_v7(),
        kind: OperationKind::Provision,
        principal: "alice".to_owned(),
        request_id: Some(Uuid::new_v4().to_string()),
        request: json!({ "domains": domains }),
        validate_only: false,
        domains: domains.iter().map(|d| d.to_string()).collect(),
        steps: domains
            .iter()
            .flat_map(|d| {
                [
                    step(d, None, StepKind::CreateOrgUnit),
                    step(d, Some("ana"), StepKind::CreateUser),
                ]
            })
            .collect(),
        trace_parent: None,
    }
}

async fn create(pool: &PgPool, op: &NewOperation) -> Result<()> {
    let mut tx = pool.begin().await?;
    operations::create(&mut tx, op).await?;
    tx.commit().await?;
    Ok(())
}

fn done_update(detail: &str) -> StepUpdate<'_> {
    StepUpdate {
        state: StepState::Done,
        detail,
        google_effect: None,
        add_attempts: 1,
    }
}

fn assert_fenced<T: std::fmt::Debug>(result: Result<T>) {
    assert!(
        matches!(&result, Err(StoreError::Fenced)),
        "expected fenced, got {result:?}"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn create_stores_operation_work_items_and_plan(pool: PgPool) -> Result<()> {
    let op = operation(&["a.example", "b.example"]);
    create(&pool, &op).await?;
    let mut conn = pool.acquire().await?;

    let stored = operations::get(&mut conn, op.id).await?.expect("stored");
    assert_eq!(stored.kind, OperationKind::Provision);
    assert_eq!(stored.state, RunState::Pending);
    assert!(!stored.done && !stored.cancel_requested);
    assert_eq!(stored.request, op.request);
    assert_eq!(stored.request_id, op.request_id);
    assert_eq!(
        (
            stored.result.as_ref(),
            stored.error.as_ref(),
            stored.end_time
        ),
        (None, None, None)
    );

    let steps = operations::steps(&mut conn, op.id).await?;
    assert_eq!(
        steps.iter().map(|s| s.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(steps[1].domain_name, "a.example");
    assert_eq!(steps[1].action, StepKind::CreateUser);
    assert_eq!(steps[1].account_email.as_deref(), Some("ana@a.example"));
    assert_eq!(
        steps[1].payload.parse::<serde_json::Value>().expect("json"),
        json!({ "action": "CREATE_USER" })
    );
    assert_eq!(steps[2].domain_name, "b.example");
    assert!(
        steps
            .iter()
            .all(|s| s.state == StepState::Pending && s.attempts == 0)
    );

    let b_steps = operations::domain_steps(&mut conn, op.id, "b.example").await?;
    assert_eq!(b_steps.iter().map(|s| s.seq).collect::<Vec<_>>(), [3, 4]);
    // What a result needs of every step, and the first steps in full.
    let outlines = operations::domain_step_outlines(&mut conn, op.id, "a.example").await?;
    assert_eq!(outlines.len(), 2);
    assert_eq!(outlines[1].action, StepKind::CreateUser);
    assert_eq!(outlines[1].account_email.as_deref(), Some("ana@a.example"));
    assert_eq!(outlines[1].state, StepState::Pending);
    let first = operations::first_domain_steps(&mut conn, op.id, "b.example", 1).await?;
    assert_eq!(first.iter().map(|s| s.seq).collect::<Vec<_>>(), [3]);

    let items = operations::domains(&mut conn, op.id).await?;
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .all(|i| i.state == RunState::Pending && i.fencing_token == 0)
    );
    assert!(items.iter().all(|i| i.lease_owner.is_none()));

    let progress = operations::progress(&mut conn, op.id).await?;
    assert_eq!(progress.len(), 2);
    assert_eq!(
        (
            progress[0].domain_name.as_str(),
            progress[0].pending,
            progress[0].done
        ),
        ("a.example", 2, 0)
    );
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn step_outside_the_operation_domains_is_refused_and_nothing_is_kept(
    pool: PgPool,
) -> Result<()> {
    let mut op = operation(&["a.example"]);
    op.steps
        .push(step("c.example", None, StepKind::CreateOrgUnit));
    let mut conn = pool.acquire().await?;
    let err = operations::create(&mut conn, &op).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::ReferenceNotFound(c) if c == "steps_operation_domain_fkey"),
        "{err:?}"
    );
    assert_eq!(operations::get(&mut conn, op.id).await?, None);
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn every_action_and_step_state_fits_the_schema(pool: PgPool) -> Result<()> {
    let mut op = operation(&["a.example"]);
    op.steps = StepKind::ALL
        .iter()
        .zip(StepState::ALL.iter().cycle())
        .map(|(action, state)| NewStep {
            state: *state,
            ..step("a.example", Some("ana"), *action)
        })
        .collect();
    create(&pool, &op).await?;
    let mut revoke = operation(&["a.example"]);
    revoke.kind = OperationKind::Revoke;
    create(&pool, &revoke).await?;

    let mut conn = pool.acquire().await?;
    let stored = operations::steps(&mut conn, op.id).await?;
    assert_eq!(stored.len(), StepKind::ALL.len());
    for (record, action) in stored.iter().zip(StepKind::ALL) {
        assert_eq!(record.action, *action);
    }
    let states: HashSet<StepState> = stored.iter().map(|s| s.state).collect();
    assert_eq!(states.len(), StepState::ALL.len());

    let err = sqlx::query("UPDATE steps SET state = 'WAITING' WHERE operation_id = $1")
        .bind(op.id)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::from)
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidValue(c) if c == "steps_state_check"),
        "{err:?}"
    );
    let err = sqlx::query("UPDATE operations SET kind = 'DELETE' WHERE id = $1")
        .bind(op.id)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::from)
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidValue(c) if c == "operations_kind_check"),
        "{err:?}"
    );
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn list_pages_newest_first_and_filters(pool: PgPool) -> Result<()> {
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut op = operation(&["a.example"]);
        if i % 2 == 1 {
            op.kind = OperationKind::Revoke;
        }
        create(&pool, &op).await?;
        ids.push(op.id);
    }
    let mut conn = pool.acquire().await?;
    operations::finish(&mut conn, ids[0], Outcome::Succeeded(b"ok")).await?;

    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = operations::list(&mut conn, &OperationFilter::default(), 2, before).await?;
        seen.extend(page.items.iter().map(|o| o.id));
        match page.next_key {
            Some(key) => before = Some(key),
            None => break,
        }
    }
    assert_eq!(seen, ids.iter().rev().copied().collect::<Vec<_>>());

    let revokes = OperationFilter {
        kind: Some(OperationKind::Revoke),
        done: None,
    };
    let listed = operations::list(&mut conn, &revokes, 10, None).await?;
    assert_eq!(
        listed.items.iter().map(|o| o.id).collect::<Vec<_>>(),
        [ids[3], ids[1]]
    );
    let finished = OperationFilter {
        kind: None,
        done: Some(true),
    };
    let listed = operations::list(&mut conn, &finished, 10, None).await?;
    assert_eq!(
        listed.items.iter().map(|o| o.id).collect::<Vec<_>>(),
        [ids[0]]
    );
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn lapsed_lease_is_taken_over_and_the_stale_worker_is_fenced(pool: PgPool) -> Result<()> {
    let op = operation(&["a.example"]);
    create(&pool, &op).await?;

    let mut stale = operations::claim_next_domain(&pool, "worker-a", Duration::from_millis(300))
        .await?
        .expect("claimable");
    assert_eq!(
        (stale.operation_id, stale.domain_name.as_str()),
        (op.id, "a.example")
    );
    assert_eq!(stale.fencing_token, 1);
    assert_eq!(stale.took_over_from, None, "a fresh item is nobody's");
    let mut conn = pool.acquire().await?;
    assert_eq!(
        operations::get(&mut conn, op.id).await?.unwrap().state,
        RunState::Running
    );

    // While the lease is live nobody else gets the domain.
    assert_eq!(
        operations::claim_next_domain(&pool, "worker-b", LONG).await?,
        None
    );
    operations::record_step(&mut conn, &stale, 1, &done_update("admin ok")).await?;

    tokio::time::sleep(Duration::from_millis(450)).await;
    let fresh = operations::claim_next_domain(&pool, "worker-b", LONG)
        .await?
        .expect("takeover");
    assert_eq!(
        (fresh.operation_id, fresh.domain_name.as_str()),
        (op.id, "a.example")
    );
    assert_eq!(fresh.fencing_token, 2);
    assert_eq!(fresh.owner, "worker-b");
    assert_eq!(fresh.took_over_from.as_deref(), Some("worker-a"));

    // Every write with the old token is refused.
    let update = StepUpdate {
        state: StepState::Failed,
        detail: "stale",
        google_effect: None,
        add_attempts: 1,
    };
    assert_fenced(operations::record_step(&mut conn, &stale, 2, &update).await);
    assert_fenced(operations::renew_lease(&mut conn, &mut stale, LONG).await);
    assert_fenced(
        operations::append_steps(
            &mut conn,
            &stale,
            &[step("a.example", None, StepKind::CreateCustomRole)],
        )
        .await,
    );
    assert_fenced(operations::cancel_open_steps(&mut conn, &stale, "stale").await);
    assert_fenced(operations::release(&mut conn, &stale, RunState::Failed, "stale", None).await);

    // The new holder writes; the journal keeps what the old one wrote before the takeover.
    let effect = json!({ "userId": "1234" });
    let update = StepUpdate {
        state: StepState::Done,
        detail: "created",
        google_effect: Some(&effect),
        add_attempts: 2,
    };
    let written = operations::record_step(&mut conn, &fresh, 2, &update).await?;
    assert_eq!((written.state, written.attempts), (StepState::Done, 2));
    assert_eq!(
        written
            .google_effect
            .map(|e| e.parse::<serde_json::Value>().expect("json")),
        Some(effect)
    );
    let steps = operations::steps(&mut conn, op.id).await?;
    assert_eq!(
        (steps[0].state, steps[0].detail.as_str()),
        (StepState::Done, "admin ok")
    );

    let err = operations::record_step(&mut conn, &fresh, 99, &done_update("x")).await;
    assert!(matches!(err, Err(StoreError::NotFound)), "{err:?}");
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn takeover_waits_for_a_journal_write_in_flight(pool: PgPool) -> Result<()> {
    let op = operation(&["a.example"]);
    create(&pool, &op).await?;
    let stale = operations::claim_next_domain(&pool, "worker-a", Duration::from_millis(100))
        .await?
        .expect("claimable");

    // The old holder writes in a transaction that stays open past its lease.
    let mut tx = pool.begin().await?;
    operations::record_step(&mut tx, &stale, 1, &done_update("in flight")).await?;
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        operations::claim_next_domain(&pool, "worker-b", LONG).await?,
        None,
        "the item is share-locked by the write in flight"
    );
    tx.commit().await?;

    let fresh = operations::claim_next_domain(&pool, "worker-b", LONG)
        .await?
        .expect("takeover");
    assert_eq!(fresh.fencing_token, 2);
    let mut conn = pool.acquire().await?;
    assert_eq!(
        operations::steps(&mut conn, op.id).await?[0].detail,
        "in flight"
    );
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn renewing_keeps_the_lease(pool: PgPool) -> Result<()> {
    create(&pool, &operation(&["a.example"])).await?;
    let mut lease = operations::claim_next_domain(&pool, "worker-a", Duration::from_millis(300))
        .await?
        .expect("claimable");
    let first_expiry = lease.expires_at;
    let mut conn = pool.acquire().await?;
    operations::renew_lease(&mut conn, &mut lease, LONG).await?;
    assert!(lease.expires_at > first_expiry + chrono::Duration::seconds(30));
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        operations::claim_next_domain(&pool, "worker-b", LONG).await?,
        None
    );
    operations::record_step(&mut conn, &lease, 1, &done_update("still mine")).await?;
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn last_release_reports_the_operation_finished(pool: PgPool) -> Result<()> {
    let op = operation(&["a.example", "b.example"]);
    create(&pool, &op).await?;
    let first = operations::claim_next_domain(&pool, "w1", LONG)
        .await?
        .expect("a");
    let second = operations::claim_next_domain(&pool, "w2", LONG)
        .await?
        .expect("b");
    let mut claimed = [first.domain_name.clone(), second.domain_name.clone()];
    claimed.sort();
    assert_eq!(claimed, ["a.example", "b.example"]);
    assert_eq!(
        operations::claim_next_domain(&pool, "w3", LONG).await?,
        None
    );

    // Both release at once: exactly one learns that it finished the operation.
    let release = |lease: Lease| {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut conn = pool.acquire().await?;
            operations::release(&mut conn, &lease, RunState::Succeeded, "", None).await
        })
    };
    let (a, b) = tokio::join!(release(first), release(second));
    let finished = [a.expect("task")?, b.expect("task")?];
    assert_eq!(finished.iter().filter(|f| **f).count(), 1, "{finished:?}");

    let mut conn = pool.acquire().await?;
    let progress = operations::progress(&mut conn, op.id).await?;
    assert!(progress.iter().all(|p| p.state == RunState::Succeeded));
    let record = operations::finish(&mut conn, op.id, Outcome::Succeeded(b"result")).await?;
    assert!(record.done);
    assert_eq!(record.state, RunState::Succeeded);
    assert_eq!(record.result.as_deref(), Some(&b"result"[..]));
    assert!(record.end_time.is_some());
    // A finished operation's progress is the counts kept when it finished: it reads no step
    // (here the steps are gone, and the counts stay).
    let kept = operations::progress(&mut conn, op.id).await?;
    let counts = |p: &[operations::DomainProgress]| -> Vec<(String, i64, i64)> {
        p.iter()
            .map(|p| (p.domain_name.clone(), p.pending, p.done))
            .collect()
    };
    assert_eq!(counts(&kept), counts(&progress));
    assert_eq!(
        counts(&kept),
        vec![
            ("a.example".to_owned(), 2, 0),
            ("b.example".to_owned(), 2, 0)
        ]
    );
    sqlx::query("DELETE FROM steps WHERE operation_id = $1")
        .bind(op.id)
        .execute(&mut *conn)
        .await?;
    assert_eq!(
        counts(&operations::progress(&mut conn, op.id).await?),
        counts(&kept)
    );
    let err = operations::finish(&mut conn, op.id, Outcome::Failed(b"late")).await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    let err = operations::finish(&mut conn, Uuid::now_v7(), Outcome::Failed(b"x")).await;
    assert!(matches!(err, Err(StoreError::NotFound)), "{err:?}");
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn released_for_retry_is_claimable_after_the_backoff(pool: PgPool) -> Result<()> {
    create(&pool, &operation(&["a.example"])).await?;
    let lease = operations::claim_next_domain(&pool, "w1", LONG)
        .await?
        .expect("claimable");
    let mut conn = pool.acquire().await?;
    let finished = operations::release(
        &mut conn,
        &lease,
        RunState::Running,
        "quota exceeded, retrying",
        Some(Duration::from_millis(300)),
    )
    .await?;
    assert!(!finished);
    // A released lease cannot write any more.
    assert_fenced(operations::record_step(&mut conn, &lease, 1, &done_update("late")).await);

    assert_eq!(
        operations::claim_next_domain(&pool, "w2", LONG).await?,
        None
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let again = operations::claim_next_domain(&pool, "w2", LONG)
        .await?
        .expect("after backoff");
    assert_eq!(again.fencing_token, 2);
    let item = &operations::domains(&mut conn, again.operation_id).await?[0];
    assert_eq!(item.message, "quota exceeded, retrying");
    assert_eq!(item.not_before, None);
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn one_domain_is_worked_by_one_operation_at_a_time_in_order(pool: PgPool) -> Result<()> {
    let older = operation(&["x.example"]);
    create(&pool, &older).await?;
    let newer = operation(&["x.example", "y.example"]);
    create(&pool, &newer).await?;

    let first = operations::claim_next_domain(&pool, "w1", LONG)
        .await?
        .expect("x of older");
    assert_eq!(
        (first.operation_id, first.domain_name.as_str()),
        (older.id, "x.example")
    );
    let second = operations::claim_next_domain(&pool, "w2", LONG)
        .await?
        .expect("y of newer");
    assert_eq!(
        (second.operation_id, second.domain_name.as_str()),
        (newer.id, "y.example")
    );
    assert_eq!(
        operations::claim_next_domain(&pool, "w3", LONG).await?,
        None,
        "x is busy"
    );

    let mut conn = pool.acquire().await?;
    assert!(operations::release(&mut conn, &first, RunState::Succeeded, "", None).await?);
    let third = operations::claim_next_domain(&pool, "w3", LONG)
        .await?
        .expect("x of newer");
    assert_eq!(
        (third.operation_id, third.domain_name.as_str()),
        (newer.id, "x.example")
    );
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn concurrent_claimers_never_share_an_item(pool: PgPool) -> Result<()> {
    let mut expected = HashSet::new();
    for op_index in 0..4 {
        let domains: Vec<String> = (0..3).map(|d| format!("d{op_index}-{d}.example")).collect();
        let names: Vec<&str> = domains.iter().map(String::as_str).collect();
        let op = operation(&names);
        create(&pool, &op).await?;
        expected.extend(domains.into_iter().map(|d| (op.id, d)));
    }
    let workers: Vec<_> = (0..6)
        .map(|w| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(lease) =
                    operations::claim_next_domain(&pool, &format!("w{w}"), LONG).await?
                {
                    mine.push((lease.operation_id, lease.domain_name));
                }
                Ok::<_, StoreError>(mine)
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for worker in workers {
        claimed.extend(worker.await.expect("task")?);
    }
    let unique: HashSet<_> = claimed.iter().cloned().collect();
    assert_eq!(unique.len(), claimed.len(), "an item was claimed twice");
    assert_eq!(unique, expected);
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn cancellation_and_finished_operations(pool: PgPool) -> Result<()> {
    let op = operation(&["a.example"]);
    create(&pool, &op).await?;
    let mut conn = pool.acquire().await?;
    let record = operations::request_cancel(&mut conn, op.id).await?;
    assert!(record.cancel_requested && !record.done);

    // A cancelled operation is still claimed so that a worker can close its steps.
    let lease = operations::claim_next_domain(&pool, "w1", LONG)
        .await?
        .expect("claimable");
    operations::record_step(&mut conn, &lease, 1, &done_update("ok")).await?;
    assert_eq!(
        operations::cancel_open_steps(&mut conn, &lease, "cancelled by alice").await?,
        1
    );
    let steps = operations::steps(&mut conn, op.id).await?;
    assert_eq!(
        steps.iter().map(|s| s.state).collect::<Vec<_>>(),
        [StepState::Done, StepState::Cancelled]
    );
    assert!(operations::release(&mut conn, &lease, RunState::Cancelled, "cancelled", None).await?);
    let progress = &operations::progress(&mut conn, op.id).await?[0];
    assert_eq!(
        (progress.done, progress.cancelled, progress.pending),
        (1, 1, 0)
    );

    let finished = operations::finish(&mut conn, op.id, Outcome::Cancelled(b"status")).await?;
    assert_eq!(finished.state, RunState::Cancelled);
    assert_eq!(finished.error.as_deref(), Some(&b"status"[..]));
    let again = operations::request_cancel(&mut conn, op.id).await?;
    assert_eq!(
        again, finished,
        "cancelling a finished operation changes nothing"
    );
    let err = operations::request_cancel(&mut conn, Uuid::now_v7()).await;
    assert!(matches!(err, Err(StoreError::NotFound)), "{err:?}");

    // A plan-only operation finished at creation is never claimed.
    let mut plan = operation(&["b.example"]);
    plan.validate_only = true;
    let mut tx = pool.begin().await?;
    operations::create(&mut tx, &plan).await?;
    operations::finish(&mut tx, plan.id, Outcome::Succeeded(b"plan")).await?;
    tx.commit().await?;
    assert_eq!(
        operations::claim_next_domain(&pool, "w1", LONG).await?,
        None
    );
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn appended_steps_continue_the_sequence(pool: PgPool) -> Result<()> {
    let op = operation(&["a.example", "b.example"]);
    create(&pool, &op).await?;
    let lease = operations::claim_next_domain(&pool, "w1", LONG)
        .await?
        .expect("claimable");
    let mut conn = pool.acquire().await?;
    let added = operations::append_steps(
        &mut conn,
        &lease,
        &[step(
            &lease.domain_name,
            Some("ana"),
            StepKind::RemovePaidLicense,
        )],
    )
    .await?;
    assert_eq!(added, vec![5]);
    let steps = operations::steps(&mut conn, op.id).await?;
    assert_eq!(
        (steps[4].seq, steps[4].action),
        (5, StepKind::RemovePaidLicense)
    );

    let other = if lease.domain_name == "a.example" {
        "b.example"
    } else {
        "a.example"
    };
    let err = operations::append_steps(
        &mut conn,
        &lease,
        &[step(other, None, StepKind::CreateCustomRole)],
    )
    .await;
    assert!(matches!(err, Err(StoreError::InvalidValue(_))), "{err:?}");
    assert_eq!(operations::steps(&mut conn, op.id).await?.len(), 5);
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn concurrent_claimers_get_one_lease_per_domain(pool: PgPool) -> Result<()> {
    for _ in 0..4 {
        create(&pool, &operation(&["x.example"])).await?;
    }
    let claims: Vec<_> = (0..4)
        .map(|w| {
            let pool = pool.clone();
            tokio::spawn(async move {
                operations::claim_next_domain(&pool, &format!("w{w}"), LONG).await
            })
        })
        .collect();
    let mut leases = Vec::new();
    for claim in claims {
        leases.extend(claim.await.expect("task")?);
    }
    assert_eq!(leases.len(), 1, "{leases:?}");
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn domains_of_one_delegated_admin_are_worked_one_at_a_time(pool: PgPool) -> Result<()> {
    // m.example and its secondary domain eu.example share their admin (one Google customer);
    // n.example has its own.
    let mut conn = pool.acquire().await?;
    for (name, admin) in [
        ("m.example", "admin@m.example"),
        ("eu.example", "Admin@M.example"),
        ("n.example", "admin@n.example"),
    ] {
        let mut declared = crate::new_domain(name);
        declared.delegated_admin = admin.to_owned();
        support_access_store::domains::insert(&mut conn, &declared).await?;
    }
    let op = operation(&["eu.example", "m.example", "n.example"]);
    create(&pool, &op).await?;

    let first = operations::claim_next_domain(&pool, "w1", LONG)
        .await?
        .expect("eu");
    assert_eq!(first.domain_name, "eu.example");
    let second = operations::claim_next_domain(&pool, "w2", LONG)
        .await?
        .expect("n, not m: m's admin is busy in eu");
    assert_eq!(second.domain_name, "n.example");
    assert_eq!(
        operations::claim_next_domain(&pool, "w3", LONG).await?,
        None,
        "m waits for its sibling"
    );

    assert!(!operations::release(&mut conn, &first, RunState::Succeeded, "", None).await?);
    let third = operations::claim_next_domain(&pool, "w3", LONG)
        .await?
        .expect("m once eu is released");
    assert_eq!(third.domain_name, "m.example");
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_claim_takes_the_customers_other_domains_of_the_operation_along(
    pool: PgPool,
) -> Result<()> {
    // m.example and its secondary domains eu and apac share their admin and set-up (one Google
    // customer); x.example has the same admin but another org unit; n.example is another
    // customer.
    let mut conn = pool.acquire().await?;
    for (name, admin, org_unit) in [
        ("m.example", "admin@m.example", "/Customer Care Portal"),
        ("eu.example", "Admin@M.example", "/Customer Care Portal"),
        ("apac.example", "admin@m.example", "/Customer Care Portal"),
        ("x.example", "admin@m.example", "/Elsewhere"),
        ("n.example", "admin@n.example", "/Customer Care Portal"),
    ] {
        let mut declared = crate::new_domain(name);
        declared.delegated_admin = admin.to_owned();
        declared.org_unit_path = org_unit.to_owned();
        support_access_store::domains::insert(&mut conn, &declared).await?;
    }
    let op = operation(&[
        "apac.example",
        "eu.example",
        "m.example",
        "n.example",
        "x.example",
    ]);
    create(&pool, &op).await?;

    let first = operations::claim_next_domain(&pool, "w1", LONG)
        .await?
        .expect("apac");
    assert_eq!(first.domain_name, "apac.example");
    let siblings = operations::claim_customer_siblings(&pool, &first, LONG).await?;
    let names: Vec<&str> = siblings.iter().map(|l| l.domain_name.as_str()).collect();
    assert_eq!(names, ["eu.example", "m.example"]);
    for sibling in &siblings {
        assert_eq!(sibling.owner, "w1");
        assert_eq!(sibling.operation_id, op.id);
        assert_eq!(sibling.claims, 1);
        assert_eq!(sibling.took_over_from, None);
    }

    // Only n is left for others: x has the same admin (busy), and the siblings are leased.
    let other = operations::claim_next_domain(&pool, "w2", LONG)
        .await?
        .expect("n");
    assert_eq!(other.domain_name, "n.example");
    assert_eq!(
        operations::claim_next_domain(&pool, "w3", LONG).await?,
        None
    );
    assert!(
        operations::claim_customer_siblings(&pool, &other, LONG)
            .await?
            .is_empty()
    );

    // The sibling leases are real: renewed and released like the first.
    let mut eu = siblings[0].clone();
    operations::renew_lease(&mut conn, &mut eu, LONG).await?;
    for lease in [&first, &eu, &siblings[1]] {
        operations::release(&mut conn, lease, RunState::Succeeded, "", None).await?;
    }
    // A lease no longer held takes nothing along.
    assert!(
        operations::claim_customer_siblings(&pool, &first, LONG)
            .await?
            .is_empty()
    );
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn account_results_are_read_one_domain_at_a_time(pool: PgPool) -> Result<()> {
    let op = operation(&["a.example", "b.example"]);
    create(&pool, &op).await?;
    let lease = operations::claim_next_domain(&pool, "worker-a", LONG)
        .await?
        .expect("claimable");
    let mut conn = pool.acquire().await?;
    let results = json!({ format!("ana@{}", lease.domain_name): { "result": "CONFLICT" } });
    operations::record_account_results(&mut conn, &lease, &results).await?;

    assert_eq!(
        operations::account_results(&mut conn, op.id, &lease.domain_name).await?,
        results
    );
    let other = if lease.domain_name == "a.example" {
        "b.example"
    } else {
        "a.example"
    };
    assert_eq!(
        operations::account_results(&mut conn, op.id, other).await?,
        json!({}),
        "a domain with nothing recorded"
    );
    assert_eq!(
        operations::account_results(&mut conn, op.id, "elsewhere.example").await?,
        json!({})
    );
    Ok(())
}
