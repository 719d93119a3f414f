//! Liveness and readiness apart, with PostgreSQL that stops answering: the service reaches its
//! database through a TCP proxy the test controls, and the proxy freezes (every byte held, new
//! connections never answered: a hung server or a network partition, the worst case). Readiness
//! (`""` and the API's service names) turns NOT_SERVING, liveness (`liveness`) stays SERVING,
//! RPCs answer UNAVAILABLE within the acquire timeout instead of hanging, and everything comes
//! back when the proxy thaws. The figures are printed.
//!
//! Needs PostgreSQL at `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).

mod rpcs_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rpcs_support::admin_database_url;
use support_access_proto::google::longrunning::ListOperationsRequest;
use support_access_proto::google::longrunning::operations_client::OperationsClient;
use support_access_server::app::{Application, LIVENESS_SERVICE, READINESS_SERVICES};
use support_access_server::auth::principals::token_sha256_hex;
use support_access_server::config::{Cli, Command};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// A TCP proxy to PostgreSQL that can be frozen: while frozen, nothing is forwarded in either
/// direction and new connections wait, as if the server had stopped answering.
struct FreezingProxy {
    addr: SocketAddr,
    frozen: watch::Sender<bool>,
}

impl FreezingProxy {
    async fn start(upstream: SocketAddr) -> FreezingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (frozen, _) = watch::channel(false);
        let gate = frozen.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let gate = gate.subscribe();
                tokio::spawn(async move {
                    let mut open = gate.clone();
                    if open.wait_for(|frozen| !*frozen).await.is_err() {
                        return;
                    }
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::spawn(pump(client_read, server_write, gate.clone()));
                    tokio::spawn(pump(server_read, client_write, gate));
                });
            }
        });
        FreezingProxy { addr, frozen }
    }

    fn freeze(&self, frozen: bool) {
        self.frozen.send_replace(frozen);
    }
}

/// Copies bytes one way, holding each chunk while the proxy is frozen.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut gate: watch::Receiver<bool>,
) {
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if gate.wait_for(|frozen| !*frozen).await.is_err() {
            return;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

/// The PostgreSQL server of `DATABASE_URL`, as a socket address.
fn postgres_addr() -> SocketAddr {
    let url = url::Url::parse(&admin_database_url()).expect("DATABASE_URL");
    let host = url.host_str().unwrap_or("127.0.0.1");
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{}", url.port().unwrap_or(5432))
        .parse()
        .expect("DATABASE_URL names a numeric host")
}

/// `DATABASE_URL` pointed at `addr` and at database `name`.
fn database_url_at(addr: SocketAddr, name: &str) -> String {
    let mut url = url::Url::parse(&admin_database_url()).expect("DATABASE_URL");
    url.set_host(Some(&addr.ip().to_string())).expect("host");
    url.set_port(Some(addr.port())).expect("port");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

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
    let proxy = FreezingProxy::start(postgres_addr()).await;
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
        &database_url_at(proxy.addr, &database),
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
