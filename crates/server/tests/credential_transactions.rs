//! `IssueSignInCredential` holds no database transaction while it calls Google: with a slow
//! `users.update`, no session of the service is idle in a transaction during the call, and a
//! second call with the same request id is refused at once instead of waiting for the first. A
//! call that Google refuses gives its request id back, so the same id can be retried.
//!
//! Needs PostgreSQL at `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).

mod rpcs_support;

use std::time::{Duration, Instant};

use rpcs_support::*;
use support_access_proto::v1;
use tonic::Code;

/// Merge-patches the knobs of the demo emulator.
async fn patch_knobs(server: &TestServer, patch: serde_json::Value) {
    let url = format!(
        "{}emulator/v1/knobs",
        server.emulator_url.as_deref().expect("demo mode")
    );
    let url = url.replace("//emulator", "/emulator");
    let response = reqwest::Client::new()
        .patch(url)
        .json(&patch)
        .send()
        .await
        .expect("knobs");
    assert!(response.status().is_success(), "{response:?}");
}

fn issue_request(request_id: &str) -> v1::IssueSignInCredentialRequest {
    v1::IssueSignInCredentialRequest {
        name: format!("domains/{ONE}/supportAccounts/ana.silva"),
        request_id: request_id.to_owned(),
    }
}

/// Sessions of the service's database (other than this one) idle inside a transaction.
async fn idle_in_transaction(server: &TestServer) -> i64 {
    let mut conn = server.database().await;
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() \
           AND state LIKE 'idle in transaction%'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("pg_stat_activity")
}

#[tokio::test]
async fn no_transaction_is_open_while_google_is_called() {
    let server = TestServer::demo().await;
    let mut admin = server.api("admin").await;
    let mut ops = server.ops("admin").await;
    create_domain(&mut admin, ONE).await;
    create_staff(&mut admin, "ana", "ana.silva").await;
    provision(&mut admin, &mut ops, &[ONE], &["ana"]).await;

    // Google takes 3 s to change a password.
    patch_knobs(
        &server,
        serde_json::json!({ "latency": { "per_method_ms": { "directory.users.update": 3000 } } }),
    )
    .await;
    let id = request_id();
    let mut first_api = server.api("admin").await;
    let request = issue_request(&id);
    let started = Instant::now();
    let first = tokio::spawn(async move { first_api.issue_sign_in_credential(request).await });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!first.is_finished(), "the call should still be in Google");

    let idle = idle_in_transaction(&server).await;
    assert_eq!(idle, 0, "a transaction is held open across the Google call");

    // The same id meanwhile: refused now, not after the first call ends.
    let second_started = Instant::now();
    let second = admin
        .issue_sign_in_credential(issue_request(&id))
        .await
        .expect_err("same request id");
    let second_took = second_started.elapsed();
    assert_eq!(second.code(), Code::AlreadyExists);
    assert_eq!(reason(&second), "REQUEST_ID_REUSED");
    assert!(
        second_took < Duration::from_secs(1),
        "the second call waited {second_took:?} for the first"
    );
    let issued = first.await.expect("task").expect("first call").into_inner();
    assert_eq!(issued.email, format!("ana.silva@{ONE}"));
    println!(
        "first call {:?} (Google 3 s); same id refused in {second_took:?}; {idle} sessions idle \
         in a transaction during the call",
        started.elapsed()
    );

    // Google refuses the next change: the id is given back and works on a retry.
    patch_knobs(
        &server,
        serde_json::json!({
            "latency": { "per_method_ms": null },
            "faults": [{ "method": "directory.users.update", "times": 1,
                         "action": { "kind": "error", "code": 400, "reason": "invalid",
                                     "message": "Invalid Input" } }]
        }),
    )
    .await;
    let retried_id = request_id();
    let refused = admin
        .issue_sign_in_credential(issue_request(&retried_id))
        .await
        .expect_err("Google refuses");
    assert_ne!(refused.code(), Code::Ok);
    assert_ne!(refused.code(), Code::AlreadyExists);
    let issued = admin
        .issue_sign_in_credential(issue_request(&retried_id))
        .await
        .expect("the same id, retried")
        .into_inner();
    assert_eq!(issued.email, format!("ana.silva@{ONE}"));
    let again = admin
        .issue_sign_in_credential(issue_request(&retried_id))
        .await
        .expect_err("used now");
    assert_eq!(again.code(), Code::AlreadyExists);
    server.stop().await;
}
