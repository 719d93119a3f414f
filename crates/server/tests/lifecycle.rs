//! Operations that must end even when no worker ends them: one stranded between its last
//! domain's release and its finish is finished by the sweep, and a cancel of an operation nobody
//! is working on (its domain waits to retry) finishes it at once as CANCELLED. The states are
//! written straight into Postgres, as a crash or a stuck domain would leave them.
//!
//! Needs PostgreSQL at `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).

mod rpcs_support;

use std::time::{Duration, Instant};

use prost::Message;
use rpcs_support::*;
use support_access_proto::google::longrunning::{
    CancelOperationRequest, GetOperationRequest, WaitOperationRequest, operation,
};
use uuid::Uuid;

/// Inserts an operation on `ONE` with one account step, its domain in `domain_state` (last
/// changed `age_seconds` ago, claimable again only after `not_before_seconds` from now) and its
/// step in `step_state`.
async fn insert_operation(
    server: &TestServer,
    domain_state: &str,
    step_state: &str,
    age_seconds: i64,
    not_before_seconds: Option<i64>,
) -> Uuid {
    let id = Uuid::now_v7();
    let mut conn = server.database().await;
    sqlx::query(
        "INSERT INTO operations (id, kind, principal, request, validate_only, state) \
         VALUES ($1, 'PROVISION', 'admin', $2, false, 'RUNNING')",
    )
    .bind(id)
    .bind(serde_json::json!({ "domains": [ONE], "staff_members": [] }))
    .execute(&mut conn)
    .await
    .expect("insert operation");
    sqlx::query(
        "INSERT INTO operation_domains (operation_id, domain_name, state, update_time, not_before) \
         VALUES ($1, $2, $3, now() - $4 * interval '1 second', \
                 now() + $5 * interval '1 second')",
    )
    .bind(id)
    .bind(ONE)
    .bind(domain_state)
    .bind(age_seconds)
    .bind(not_before_seconds)
    .execute(&mut conn)
    .await
    .expect("insert work item");
    sqlx::query(
        "INSERT INTO steps (operation_id, seq, domain_name, account_email, action, reason, state) \
         VALUES ($1, 1, $2, $3, 'CREATE_USER', 'the account is missing', $4)",
    )
    .bind(id)
    .bind(ONE)
    .bind(format!("ana.silva@{ONE}"))
    .bind(step_state)
    .execute(&mut conn)
    .await
    .expect("insert step");
    id
}

#[tokio::test]
async fn a_stranded_operation_is_finished_by_the_sweep() {
    let server = TestServer::demo().await;
    let mut ops = server.ops("admin").await;
    // The worker released the domain a minute ago and died before finishing the operation.
    let id = insert_operation(&server, "SUCCEEDED", "DONE", 60, None).await;
    let name = format!("operations/{id}");
    let started = Instant::now();
    let finished = loop {
        let current = ops
            .wait_operation(WaitOperationRequest {
                name: name.clone(),
                timeout: Some(prost_types::Duration {
                    seconds: 5,
                    nanos: 0,
                }),
            })
            .await
            .expect("wait operation")
            .into_inner();
        if current.done {
            break current;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the stranded operation was never finished"
        );
    };
    println!(
        "stranded operation finished by the sweep after {:?}",
        started.elapsed()
    );
    let Some(operation::Result::Response(response)) = finished.result else {
        panic!("expected a response: {finished:?}");
    };
    assert!(
        response
            .type_url
            .ends_with("supportaccess.v1.OperationResult")
    );
    let mut conn = server.database().await;
    let state: String = sqlx::query_scalar("SELECT state FROM operations WHERE id = $1")
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .expect("state");
    assert_eq!(state, "SUCCEEDED");
    server.stop().await;
}

#[tokio::test]
async fn a_cancel_finishes_an_operation_nobody_works_on_at_once() {
    let server = TestServer::demo().await;
    let mut ops = server.ops("admin").await;
    // The domain waits an hour before its next try: no worker will look at it before then.
    let id = insert_operation(&server, "RUNNING", "RUNNING", 0, Some(3600)).await;
    let name = format!("operations/{id}");
    let started = Instant::now();
    ops.cancel_operation(CancelOperationRequest { name: name.clone() })
        .await
        .expect("cancel");
    let current = ops
        .get_operation(GetOperationRequest { name: name.clone() })
        .await
        .expect("get operation")
        .into_inner();
    println!("cancel acknowledged and done in {:?}", started.elapsed());
    assert!(current.done, "done as soon as the cancel is acknowledged");
    let Some(operation::Result::Error(status)) = current.result else {
        panic!("expected an error: {current:?}");
    };
    assert_eq!(status.code, tonic::Code::Cancelled as i32);
    let detail = &status.details[0];
    assert!(
        detail
            .type_url
            .ends_with("supportaccess.v1.OperationResult")
    );
    let result =
        support_access_proto::v1::OperationResult::decode(detail.value.as_slice()).expect("result");
    assert_eq!(
        result.steps[0].state,
        support_access_proto::v1::StepState::Cancelled as i32
    );

    let mut conn = server.database().await;
    let (operation_state, domain_state, step_state, step_detail): (String, String, String, String) =
        sqlx::query_as(
            "SELECT o.state, od.state, s.state, s.detail FROM operations o \
             JOIN operation_domains od ON od.operation_id = o.id \
             JOIN steps s ON s.operation_id = o.id WHERE o.id = $1",
        )
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .expect("states");
    assert_eq!(
        (
            operation_state.as_str(),
            domain_state.as_str(),
            step_state.as_str()
        ),
        ("CANCELLED", "CANCELLED", "CANCELLED")
    );
    assert_eq!(step_detail, "cancelled by admin");
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events \
         WHERE method = '/google.longrunning.Operations/CancelOperation' AND target = $1",
    )
    .bind(&name)
    .fetch_one(&mut conn)
    .await
    .expect("audit");
    assert_eq!(audited, 1);
    // Cancelling again changes nothing and is not an error.
    ops.cancel_operation(CancelOperationRequest { name })
        .await
        .expect("cancel again");
    server.stop().await;
}
