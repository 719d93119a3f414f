//! Provisioning throughput against Google's quotas: a benchmark, not a test (it prints numbers
//! and asserts nothing about time).
//!
//! For each scenario it starts `workspace-emulator` in-process with Google's default quotas
//! switched on and 100 ms of latency on every call, and the `support-access` service in-process
//! on a fresh PostgreSQL database (the real `Application`, configured with a service-account key
//! as in production, pointed at the emulator), declares the domains and staff members, provisions
//! every account with one `ProvisionSupportAccess`, and times it until the operation is done. It
//! then prints the throughput as a share of the bound that Google's quotas put on it (the
//! shortest time any provisioning that checks its work could take: [`Report::bound_seconds`]),
//! with the formula and the quotas' steady-state ceiling beside it, and the API calls per
//! account from the emulator's ledger.
//!
//! Each scenario runs twice: on the emulator's default profile, and on its `realistic` profile
//! (a new user reaches Licensing and role assignment only after a drawn propagation delay, and
//! Google's transient errors answer until then), at a time scale of [`REALISTIC_TIME_SCALE`] with
//! a fixed generator seed. There the bound also holds each account's role back until role
//! assignment knows the account ([`Report::bound_seconds`]), and the report prints the retries per
//! account, to show that the service waits instead of spinning.
//!
//! Run: `cargo run --release -p support-access-e2e --bin bench-provisioning` (PostgreSQL at
//! `DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`; everything else stays on
//! 127.0.0.1). `-- --domains D --accounts N` runs one scenario of D domains with N accounts each
//! (D ≤ 4) instead of the two default ones; `--profile idle|realistic` runs only one profile.
//!
//! Diagnostics: `BENCH_LEDGER_OUT=FILE` writes the emulator's ledger of the last scenario as JSON
//! (every call with its time, to see where the time went); `BENCH_LICENSING_BURST=N` lets the
//! emulator's Licensing bucket hold N calls instead of Google's 1, to tell the engine's own
//! limits from the client's quota pacing (the client still paces itself at Google's rate).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser as _;
use prost::Message;
use support_access_e2e::bench::{
    self, DIRECTORY_PER_ADMIN_PER_SECOND, LICENSE_PAGE, LICENSING_PER_PROJECT_PER_SECOND,
    QuotaBound, USER_CREATES_PER_DOMAIN_PER_SECOND,
};
use support_access_e2e::{database_url_for, seed_path};
use support_access_emulator::{EmulatorHandle, LedgerEntry, Seed};
use support_access_proto::google::longrunning::operations_client::OperationsClient;
use support_access_proto::google::longrunning::{GetOperationRequest, operation};
use support_access_proto::v1;
use support_access_proto::v1::support_access_service_client::SupportAccessServiceClient;
use support_access_server::app::Application;
use support_access_server::config::{Cli, Command};
use tonic::transport::Channel;

const SERVICE_ACCOUNT: &str = "support-access@e2e-project.iam.gserviceaccount.com";
const DOMAINS: [&str; 4] = [
    "reseller-a.example",
    "reseller-b.example",
    "reseller-c.example",
    "reseller-d.example",
];
const LATENCY_MS: u64 = 100;
/// Drawn propagation delays are divided by this on the realistic profile (10: a median of 8 s
/// lasts 0.8 s, the 5-minute cap 30 s), so a scenario keeps Google's shape and stays short.
const REALISTIC_TIME_SCALE: f64 = 10.0;
/// The realistic profile's generator seed: every run draws the same delays and errors.
const REALISTIC_RNG_SEED: u64 = 20261203;
/// Longest a scenario may run before the benchmark gives up on it.
const SCENARIO_LIMIT: Duration = Duration::from_secs(240);

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (scenario, profiles) = parse_args(&args)?;
    let shapes = match scenario {
        Some(scenario) => vec![scenario],
        None => vec![(1, 300), (3, 100)],
    };
    let scenarios: Vec<(usize, usize, bool)> = profiles
        .iter()
        .flat_map(|realistic| shapes.iter().map(move |(d, n)| (*d, *n, *realistic)))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!(
        "provisioning benchmark: workspace-emulator with Google's default quotas and {LATENCY_MS} ms per call, support-access with default settings\n"
    );
    let mut reports = Vec::new();
    for (domains, accounts, realistic) in scenarios {
        let report = runtime.block_on(run_scenario(domains, accounts, realistic))?;
        report.print();
        reports.push(report);
    }
    println!("summary:");
    for report in &reports {
        println!(
            "  {:<9} {} domain(s) x {} accounts: {:.1} s, {:.2} accounts/s, {:.2} of the bound (T* = {:.1} s, {:.2} accounts/s), {:.2} API calls and {:.2} refused (retried) calls per account",
            report.profile(),
            report.domains,
            report.accounts_per_domain,
            report.elapsed.as_secs_f64(),
            report.throughput(),
            report.ratio(),
            report.bound_seconds(),
            report.bound_throughput(),
            report.calls_per_account(),
            report.retries_per_account()
        );
    }
    Ok(())
}

/// `--domains D --accounts N` (one scenario instead of the defaults) and `--profile P` (one
/// profile instead of both); the profiles are `false` for idle, `true` for realistic.
type Args = (Option<(usize, usize)>, Vec<bool>);

fn parse_args(args: &[String]) -> anyhow::Result<Args> {
    let mut domains = None;
    let mut accounts = None;
    let mut profiles = vec![false, true];
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let value = iter.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--domains" => domains = Some(value?.parse::<usize>()?),
            "--accounts" => accounts = Some(value?.parse::<usize>()?),
            "--profile" => {
                profiles = match value?.as_str() {
                    "idle" => vec![false],
                    "realistic" => vec![true],
                    other => bail!("unknown profile {other}: idle or realistic"),
                }
            }
            other => bail!(
                "unknown argument {other}: use --domains D --accounts N and/or --profile idle|realistic"
            ),
        }
    }
    let scenario = match (domains, accounts) {
        (None, None) => None,
        (Some(d), Some(n)) if (1..=DOMAINS.len()).contains(&d) && (1..=400).contains(&n) => {
            Some((d, n))
        }
        _ => bail!(
            "give both --domains (1 to {}) and --accounts (1 to 400 per domain)",
            DOMAINS.len()
        ),
    };
    Ok((scenario, profiles))
}

/// What one scenario measured.
struct Report {
    domains: usize,
    accounts_per_domain: usize,
    elapsed: Duration,
    ledger: Vec<LedgerEntry>,
    failed_accounts: usize,
    /// The quota bound T* of this scenario, with the Cloud Identity Free holders at the end and,
    /// on the realistic profile, the delay before role assignment knew each user the emulator
    /// created. (Role assignment is the step that must wait for it; Cloud Identity Free is a
    /// site license Google assigns by itself, so Licensing's own delay gates no call of the
    /// service.)
    bound: QuotaBound,
}

impl Report {
    fn accounts(&self) -> usize {
        self.domains * self.accounts_per_domain
    }

    fn throughput(&self) -> f64 {
        self.accounts() as f64 / self.elapsed.as_secs_f64()
    }

    /// T*: see [`QuotaBound`].
    fn bound_seconds(&self) -> f64 {
        self.bound.bound_seconds()
    }

    fn bound_throughput(&self) -> f64 {
        self.bound.bound_throughput()
    }

    fn ratio(&self) -> f64 {
        self.throughput() / self.bound_throughput()
    }

    fn profile(&self) -> &'static str {
        if self.bound.propagation.is_empty() {
            "idle"
        } else {
            "realistic"
        }
    }

    /// API calls Google answered with something other than 2xx: each one is a call the
    /// service had to retry (or gave up on), so this counts retries from Google's side.
    fn refused_calls(&self) -> usize {
        self.api_calls()
            .filter(|e| !e.outcome.starts_with('2'))
            .count()
    }

    fn retries_per_account(&self) -> f64 {
        self.refused_calls() as f64 / self.accounts() as f64
    }

    fn calls(&self) -> impl Iterator<Item = &LedgerEntry> {
        self.ledger
            .iter()
            .filter(|e| e.kind == support_access_emulator::EntryKind::Call)
    }

    fn api_calls(&self) -> impl Iterator<Item = &LedgerEntry> {
        bench::api_calls(&self.ledger)
    }

    fn calls_per_account(&self) -> f64 {
        self.api_calls().count() as f64 / self.accounts() as f64
    }

    fn print(&self) {
        let n = self.accounts_per_domain;
        let d = self.domains;
        println!(
            "== {d} domain(s) x {n} accounts = {} accounts, {} profile",
            self.accounts(),
            self.profile()
        );
        println!(
            "  provisioned in {:.1} s: {:.2} accounts/s{}",
            self.elapsed.as_secs_f64(),
            self.throughput(),
            if self.failed_accounts > 0 {
                format!(" ({} accounts FAILED)", self.failed_accounts)
            } else {
                String::new()
            }
        );
        println!(
            "  quota bound T* (the critical path that Google's quotas allow; see Report::bound_seconds):"
        );
        println!(
            "    creating, per domain in parallel: max(ceil(N / {USER_CREATES_PER_DOMAIN_PER_SECOND} creates/s) - 1 + {LATENCY_MS} ms, 2N / {DIRECTORY_PER_ADMIN_PER_SECOND} Directory calls/s) = {:.1} s",
            self.bound.creating_seconds()
        );
        println!(
            "    checking after the last creation: R = {} Licensing reads (per domain: ceil(Cloud Identity Free holders {:?} / {LICENSE_PAGE}) pages + 1 page of paid licenses)",
            self.bound.checking_reads(),
            self.bound.cloud_identity_holders
        );
        println!(
            "      at {LICENSING_PER_PROJECT_PER_SECOND} QPS for the project: (R - 1) s + {LATENCY_MS} ms = {:.1} s",
            self.bound.checking_seconds()
        );
        if !self.bound.propagation.is_empty() {
            let mut sorted = self.bound.propagation.clone();
            sorted.sort();
            let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q) as usize].as_secs_f64();
            println!(
                "    propagation to role assignment (time scale {REALISTIC_TIME_SCALE}): delays of {} users, median {:.1} s, p95 {:.1} s, max {:.1} s; the last role can land at {:.1} s",
                sorted.len(),
                at(0.5),
                at(0.95),
                at(1.0),
                self.bound.propagated_seconds()
            );
        }
        println!(
            "    T* = {:.1} s -> bound {:.2} accounts/s",
            self.bound_seconds(),
            self.bound_throughput()
        );
        println!(
            "  ratio to the bound: {:.2} (T* / measured time)",
            self.ratio()
        );
        println!(
            "  for comparison, the quotas' steady-state ceiling (creations and 1/{LICENSE_PAGE} Licensing page per account, nothing waiting for anything): {:.1} s, ratio {:.2}",
            self.bound.steady_state_seconds(),
            self.bound.steady_state_seconds() / self.elapsed.as_secs_f64()
        );

        let accounts = self.accounts() as f64;
        let api = self.api_calls().count();
        let writes = self
            .api_calls()
            .filter(|e| support_access_e2e::is_write_method(&e.method))
            .count();
        println!(
            "  API calls: {api} = {:.2} per account ({:.2} writes, {:.2} reads); token requests: {}; answered other than 2xx (retried): {} = {:.2} per account",
            api as f64 / accounts,
            writes as f64 / accounts,
            (api - writes) as f64 / accounts,
            self.calls().count() - api,
            self.refused_calls(),
            self.retries_per_account()
        );
        let mut by_method: BTreeMap<&str, usize> = BTreeMap::new();
        let mut refused: BTreeMap<String, usize> = BTreeMap::new();
        for call in self.api_calls() {
            *by_method.entry(call.method.as_str()).or_default() += 1;
            if !call.outcome.starts_with('2') {
                *refused
                    .entry(format!("{} {}", call.method, call.outcome))
                    .or_default() += 1;
            }
        }
        for (method, count) in &by_method {
            println!(
                "    {method:<52} {count:>5}  ({:.3} per account)",
                *count as f64 / accounts
            );
        }
        let quota_errors: usize = refused
            .iter()
            .filter(|(outcome, _)| bench::is_quota_error(outcome))
            .map(|(_, count)| count)
            .sum();
        if refused.is_empty() {
            println!("  every call answered 2xx");
        } else {
            println!("  answers other than 2xx: {refused:?}");
        }
        println!(
            "  quota errors: {quota_errors}{}",
            if quota_errors > 0 {
                " (after one, the client pauses and halves that quota's rate until 20 calls at the lower rate succeed)"
            } else {
                ""
            }
        );
        let licensing_calls = by_method
            .iter()
            .filter(|(m, _)| m.starts_with("licensing."))
            .map(|(_, c)| c)
            .sum::<usize>();
        println!(
            "  Licensing calls: {licensing_calls} (at 1 QPS at least {licensing_calls} s of the {:.1} s)\n",
            self.elapsed.as_secs_f64()
        );
    }
}

async fn run_scenario(
    domains: usize,
    accounts_per_domain: usize,
    realistic: bool,
) -> anyhow::Result<Report> {
    let mut seed = Seed::from_file(seed_path("resellers.yaml"))?;
    seed.knobs.quotas.enabled = true;
    seed.knobs.latency.base_ms = LATENCY_MS;
    if realistic {
        seed.knobs.profile = support_access_emulator::Profile::Realistic;
        seed.knobs.propagation.time_scale = REALISTIC_TIME_SCALE;
        seed.knobs.propagation.rng_seed = Some(REALISTIC_RNG_SEED);
    }
    if let Ok(burst) = std::env::var("BENCH_LICENSING_BURST") {
        seed.knobs.quotas.licensing_burst = burst.parse()?;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let emulator = support_access_emulator::start(listener, seed).await?;
    let keys = tempfile::tempdir()?;
    let key_path = keys.path().join("key.json");
    std::fs::write(
        &key_path,
        emulator.service_account_key_json(SERVICE_ACCOUNT)?,
    )?;
    let database_name = format!("sa_bench_{}", uuid::Uuid::new_v4().simple());

    let result = async {
        let (address, stop) = start_service(&emulator, &key_path, &database_name).await?;
        let measured = measure(&emulator, address, domains, accounts_per_domain).await;
        let _ = stop.send(());
        measured
    }
    .await;
    emulator.shutdown().await;
    drop_database(&database_name).await;
    result
}

/// Starts the real service in-process on a free port; returns its address and its stop switch.
async fn start_service(
    emulator: &EmulatorHandle,
    key: &std::path::Path,
    database_name: &str,
) -> anyhow::Result<(SocketAddr, tokio::sync::oneshot::Sender<()>)> {
    let base = emulator.base_url();
    let cli = Cli::try_parse_from([
        "support-access".to_owned(),
        "serve".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--insecure-dev-mode".into(),
        "--database-url".into(),
        database_url_for(database_name),
        "--credential".into(),
        format!("default={}", key.display()),
        "--directory-root".into(),
        base.clone(),
        "--licensing-root".into(),
        base.clone(),
        "--reseller-root".into(),
        base,
    ])?;
    let Command::Serve(config) = cli.command;
    let app = Application::build(config).await?;
    let address = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    // Serving once a domain can be listed (Postgres connected and migrated).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut client) =
            SupportAccessServiceClient::connect(format!("http://{address}")).await
            && client
                .list_domains(v1::ListDomainsRequest::default())
                .await
                .is_ok()
        {
            return Ok((address, stop));
        }
        if Instant::now() > deadline {
            bail!("support-access did not start serving within a minute");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn measure(
    emulator: &EmulatorHandle,
    address: SocketAddr,
    domains: usize,
    accounts_per_domain: usize,
) -> anyhow::Result<Report> {
    let channel = Channel::from_shared(format!("http://{address}"))?
        .connect()
        .await?;
    let mut client = SupportAccessServiceClient::new(channel.clone());
    let mut operations = OperationsClient::new(channel);
    for domain in &DOMAINS[..domains] {
        client
            .create_domain(v1::CreateDomainRequest {
                domain: Some(v1::Domain {
                    domain_name: (*domain).to_owned(),
                    credential: "default".into(),
                    delegated_admin: format!("admin@{domain}"),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await?;
    }
    for i in 0..accounts_per_domain {
        client
            .create_staff_member(v1::CreateStaffMemberRequest {
                staff_member: Some(v1::StaffMember {
                    username: format!("agent.{i:03}"),
                    given_name: "Agent".into(),
                    family_name: format!("Number {i:03}"),
                    workspace_email: format!("agent{i:03}@partner.example"),
                    ..Default::default()
                }),
                staff_member_id: format!("agent-{i:03}"),
                ..Default::default()
            })
            .await?;
    }
    emulator.clear_ledger();

    let started = Instant::now();
    let operation = client
        .provision_support_access(v1::ProvisionSupportAccessRequest {
            domains: DOMAINS[..domains]
                .iter()
                .map(|d| format!("domains/{d}"))
                .collect(),
            ..Default::default()
        })
        .await?
        .into_inner();
    let done = loop {
        let current = operations
            .get_operation(GetOperationRequest {
                name: operation.name.clone(),
            })
            .await?
            .into_inner();
        if current.done {
            break current;
        }
        if started.elapsed() > SCENARIO_LIMIT {
            bail!(
                "{} not done after {SCENARIO_LIMIT:?}: giving up",
                operation.name
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let elapsed = started.elapsed();
    let failed_accounts = match done.result {
        Some(operation::Result::Response(any)) => {
            // The result lists the first accounts only; its counts cover every one.
            let result = v1::OperationResult::decode(any.value.as_slice())?;
            let done: i32 = result
                .account_states
                .iter()
                .filter(|c| c.state() == v1::StepState::Done)
                .map(|c| c.count)
                .sum();
            usize::try_from(result.total_accounts - done).unwrap_or(0)
        }
        Some(operation::Result::Error(status)) => {
            println!("  the operation failed: {}", status.message);
            domains * accounts_per_domain
        }
        None => bail!("a done operation without a result"),
    };
    let cloud_identity_holders = DOMAINS[..domains]
        .iter()
        .map(|domain| bench::cloud_identity_holders(&emulator.customer_state(domain)))
        .collect();
    if let Ok(path) = std::env::var("BENCH_LEDGER_OUT") {
        std::fs::write(path, serde_json::to_string(&emulator.ledger())?)?;
    }
    Ok(Report {
        domains,
        accounts_per_domain,
        elapsed,
        ledger: emulator.ledger(),
        failed_accounts,
        bound: QuotaBound {
            domains,
            accounts_per_domain,
            latency: Duration::from_millis(LATENCY_MS),
            cloud_identity_holders,
            propagation: emulator
                .propagation_delays()
                .iter()
                .map(|d| d.roles)
                .collect(),
        },
    })
}

async fn drop_database(name: &str) {
    // Best effort: a database left behind only takes disk space.
    let _ = support_access_e2e::drop_database(name).await;
}
