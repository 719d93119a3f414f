//! Liveness and readiness apart, with PostgreSQL that stops answering: the service reaches its
//! database through a TCP proxy the test controls, and the proxy freezes (every byte held, new
//! connections never answered: a hung server or a network partition, the worst case). Readiness
//! (`""` and the API's service names) turns NOT_SERVING, liveness (`liveness`) stays SERVING,
//! RPCs answer UNAVAILABLE within the acquire timeout instead of hanging, and everything comes
//! back when the proxy thaws. The figures are printed.
//!
//! Needs PostgreSQL at `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).

mod rpcs_support;
// The proxy of the end-to-end harness, shared as a file: this crate cannot depend on that one.
#[allow(dead_code)]
#[path = "../../../tests/e2e/src/proxy.rs"]
mod proxy;

use std::time::{Duration, Instant};

use proxy::{PostgresProxy, database_url_via, postgres_addr};
use rpcs_support::admin_database_url;
use support_access_proto::google::longrunning::ListOperationsRequest;
use support_access_proto::google::longrunning::operations_client::OperationsClient;
use support_access_server::app::{Application, LIVENESS_SERVICE, READINESS_SERVICES};
use support_access_server::auth::principals::token_sha256_hex;
use support_access_server::config::{Cli, Command};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

async fn status(channel: &Channel, service: &str) -> Result<ServingStatus, tonic::Status> {
    HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .map(|r| r.into_inner().status())
}

/// Polls `service` until it reports `wanted`; returns how long that took.
async fn wait_for(channel: &Channel, service: &str, wanted: ServingStatus) -> Duration {
    let started = Instant::now();
    loop {
        if status(channel, service).await.ok() == Some(wanted) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{service:?} never became {wanted:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn readiness_follows_postgres_while_liveness_does_not() {
    let proxy = PostgresProxy::start(postgres_addr(&admin_database_url())).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let token = format!("health-{}", uuid::Uuid::new_v4().simple());
    let principals = dir.path().join("principals.yaml");
    std::fs::write(
        &principals,
        format!(
            "principals:\n  - id: admin\n    role: admin\n    token_sha256: [{}]\n",
            token_sha256_hex(&token)
        ),
    )
    .expect("principals file");
    let database = format!("sa_health_{}", uuid::Uuid::new_v4().simple());
    let args = [
        "support-access",
        "serve",
        "--demo",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &database_url_via(&admin_database_url(), proxy.addr(), &database),
        "--principals-file",
        &principals.display().to_string(),
    ];
    let Command::Serve(config) = <Cli as clap::Parser>::try_parse_from(args)
        .expect("flags parse")
        .command;
    let acquire_timeout = config.database_acquire_timeout;
    let app = Application::build(config).await.expect("builds");
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    wait_for(&channel, "", ServingStatus::Serving).await;
    for service in READINESS_SERVICES {
        assert_eq!(
            status(&channel, service).await.expect("readiness"),
            ServingStatus::Serving
        );
    }
    assert_eq!(
        status(&channel, LIVENESS_SERVICE).await.expect("liveness"),
        ServingStatus::Serving
    );
    let bearer: tonic::metadata::MetadataValue<_> =
        format!("Bearer {token}").parse().expect("header");
    let list = |channel: Channel| {
        let bearer = bearer.clone();
        async move {
            let mut request = tonic::Request::new(ListOperationsRequest::default());
            request.metadata_mut().insert("authorization", bearer);
            OperationsClient::new(channel)
                .list_operations(request)
                .await
        }
    };
    list(channel.clone()).await.expect("ListOperations answers");

    // PostgreSQL stops answering.
    proxy.freeze(true);
    let frozen_at = Instant::now();
    let started = Instant::now();
    let refused = list(channel.clone()).await.expect_err("no database");
    let rpc_answer = started.elapsed();
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    assert!(
        rpc_answer < acquire_timeout + Duration::from_secs(2),
        "UNAVAILABLE took {rpc_answer:?}"
    );
    let readiness_flip = wait_for(&channel, "", ServingStatus::NotServing).await + rpc_answer;
    for service in READINESS_SERVICES {
        assert_eq!(
            status(&channel, service).await.expect("readiness"),
            ServingStatus::NotServing
        );
    }
    // Liveness stays SERVING through the outage (checked for a while, as a probe would).
    while frozen_at.elapsed() < Duration::from_secs(12) {
        assert_eq!(
            status(&channel, LIVENESS_SERVICE).await.expect("liveness"),
            ServingStatus::Serving,
            "liveness must not follow the database"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let started = Instant::now();
    let refused = list(channel.clone()).await.expect_err("still no database");
    let rpc_answer_later = started.elapsed();
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");

    // PostgreSQL answers again.
    proxy.freeze(false);
    let readiness_back = wait_for(&channel, "", ServingStatus::Serving).await;
    list(channel.clone())
        .await
        .expect("ListOperations answers again");
    println!(
        "postgres frozen: RPC UNAVAILABLE after {rpc_answer:?} (first) and {rpc_answer_later:?} \
         (10 s into the outage), readiness NOT_SERVING after {readiness_flip:?}, liveness SERVING \
         throughout; thawed: readiness SERVING after {readiness_back:?} (acquire timeout \
         {acquire_timeout:?})"
    );

    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(30), server).await;
    use sqlx::Connection;
    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_database_url()).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
    }
}
