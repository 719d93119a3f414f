//! The scale scenario: many domains provisioned by two `support-access` replicas on one
//! PostgreSQL database, against the emulator enforcing Google's quotas. Run in release by the
//! `bench-scale` benchmark (200 domains × 500 accounts, which prints the figures) and in debug,
//! smaller, by `tests/scale.rs` (which asserts that everything converged).
//!
//! [`run`] starts `workspace-emulator` in-process (Google's quotas on, no latency) seeded with
//! one customer per domain (its own super admin, Cloud Identity Free with a seat for every
//! account) plus one more, the *status domain*; starts two `serve` processes of the given build
//! on a fresh database, authenticating callers with a bearer token as in production; declares
//! the domains and the staff members (`BatchCreateStaffMembers`); provisions the status domain
//! alone and measures `GetDomainStatus` on it with nothing else running (the baseline); then
//! provisions the other domains with one `ProvisionSupportAccess` and, until that operation is
//! done, samples each replica's RSS and measures `GetDomainStatus` on the status domain again,
//! alternating between the replicas, at the same pace as the baseline. Afterwards it reads
//! every domain's status and the emulator's ledger of the load, and returns a [`ScaleReport`].

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use prost::Message;
use support_access_emulator::{LedgerEntry, Seed};
use support_access_proto::google::longrunning::operations_client::OperationsClient;
use support_access_proto::google::longrunning::{GetOperationRequest, operation};
use support_access_proto::v1;
use support_access_proto::v1::support_access_service_client::SupportAccessServiceClient;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::bench::{self, CLOUD_IDENTITY_FREE, Process, QuotaBound, authed, connect, rss_kib};
use crate::{database_url_for, seed_path};

const SERVICE_ACCOUNT: &str = "support-access@e2e-project.iam.gserviceaccount.com";
/// Staff members per `BatchCreateStaffMembers` (the RPC's maximum).
const BATCH: usize = 1000;
/// The domain whose status is measured, provisioned before the load and not part of it.
pub const STATUS_DOMAIN: &str = "status.example";
/// How often each replica's RSS is sampled.
const RSS_SAMPLE: Duration = Duration::from_millis(250);

/// The replicas' flags beyond the scenario's own: reconciliation every 30 minutes instead of
/// the default 5. Reconciling a domain of 500 accounts reads 7 pages of licenses, and Licensing
/// allows 1 query per second for the whole project, so a deployment of 200 such domains cannot
/// reconcile each more often than every 200 × 7 s ≈ 23 minutes; at 5 minutes the status domain's
/// reconciliations would also take Licensing reads from the load being measured.
pub fn default_server_flags() -> Vec<String> {
    vec!["--reconcile-interval".into(), "30m".into()]
}

/// What to run.
#[derive(Clone, Debug)]
pub struct ScaleConfig {
    /// Domains provisioned by the load (the status domain comes on top).
    pub domains: usize,
    /// Staff members, hence accounts per domain.
    pub accounts: usize,
    /// The `support-access` build the replicas run.
    pub service_binary: PathBuf,
    /// Flags after `serve` for both replicas beyond those the scenario sets (e.g. `--workers`).
    pub server_flags: Vec<String>,
    /// Calls of `GetDomainStatus` in the baseline, before the load (each followed by a health
    /// `Check`).
    pub idle_status_calls: usize,
    /// Pause after each call of the status probe, before and during the load.
    pub status_pause: Duration,
    /// Longest the load may run before the scenario gives up.
    pub limit: Duration,
    /// Print a progress line now and then (the benchmark; the test stays quiet).
    pub progress: bool,
    /// Where the replicas' logs go.
    pub log_dir: PathBuf,
}

/// One replica's memory, in KiB.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReplicaMemory {
    /// RSS after the baseline, just before the load.
    pub before_load_kib: u64,
    /// Highest RSS sampled during the load.
    pub peak_load_kib: u64,
    /// The kernel's high-water mark over the replica's whole life (`VmHWM`).
    pub hwm_kib: u64,
    /// RSS when the load was done.
    pub after_load_kib: u64,
}

/// One domain's accounts at the end, from `GetDomainStatus`.
#[derive(Clone, Debug)]
pub struct DomainCounts {
    /// The domain.
    pub domain: String,
    /// Support accounts declared.
    pub total: i32,
    /// Accounts per state (`CheckState` names).
    pub states: BTreeMap<String, i32>,
    /// Accounts waiting for a person, per check kind (`CheckKind` names).
    pub manual: BTreeMap<String, i32>,
}

impl DomainCounts {
    /// Whether every account converged: each check OK except mail routing, which Google offers
    /// no API for and which waits for an operator's confirmation (MANUAL_ACTION_REQUIRED), so an
    /// account is OK, or waits for that step and no other.
    pub fn converged(&self, accounts: usize) -> bool {
        let ok = self.states.get("CHECK_STATE_OK").copied().unwrap_or(0);
        let manual = self
            .states
            .get("CHECK_STATE_MANUAL_ACTION_REQUIRED")
            .copied()
            .unwrap_or(0);
        let mail_routing_only = self
            .manual
            .iter()
            .all(|(kind, _)| kind == "CHECK_KIND_ACCOUNT_MAIL_ROUTING");
        self.total == accounts as i32 && ok + manual == self.total && mail_routing_only
    }
}

/// The leases of the load, sampled every second from `operation_domains`.
#[derive(Clone, Debug, Default)]
pub struct LeaseSummary {
    /// Domains each replica was seen working on.
    pub domains_per_replica: [usize; 2],
    /// Most domains leased at once.
    pub most_at_once: usize,
    /// Samples taken.
    pub samples: usize,
}

/// Samples the live leases until `stop`: which replica (lease owner names start with its
/// `HOSTNAME`) works on which domain, and how many domains are worked on at once.
async fn watch_leases(
    database_url: String,
    replicas: [&'static str; 2],
    stop: Arc<AtomicBool>,
) -> anyhow::Result<LeaseSummary> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&database_url).await?;
    let mut seen: [std::collections::HashSet<String>; 2] = Default::default();
    let mut summary = LeaseSummary::default();
    while !stop.load(Ordering::Relaxed) {
        let leased: Vec<(String, String)> = sqlx::query_as(
            "SELECT domain_name, lease_owner FROM operation_domains \
             WHERE lease_owner IS NOT NULL AND lease_expires_at > clock_timestamp()",
        )
        .fetch_all(&mut conn)
        .await?;
        summary.most_at_once = summary.most_at_once.max(leased.len());
        summary.samples += 1;
        for (domain, owner) in leased {
            if let Some(i) = replicas.iter().position(|r| owner.starts_with(r)) {
                seen[i].insert(domain);
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    summary.domains_per_replica = [seen[0].len(), seen[1].len()];
    Ok(summary)
}

/// What the scenario measured.
pub struct ScaleReport {
    /// Domains of the load.
    pub domains: usize,
    /// Accounts per domain.
    pub accounts: usize,
    /// Declaring the staff members.
    pub declare_time: Duration,
    /// Provisioning the status domain alone, before the load.
    pub status_domain_time: Duration,
    /// Provisioning the load, from `ProvisionSupportAccess` until its operation was done.
    pub elapsed: Duration,
    /// The quota bound of the load.
    pub bound: QuotaBound,
    /// The error of the load's operation, when it failed.
    pub operation_error: Option<String>,
    /// The load's operation result: accounts in it, and of them DONE.
    pub operation_accounts: (i32, i32),
    /// Every domain of the load, at the end.
    pub domain_counts: Vec<DomainCounts>,
    /// The emulator's ledger from the start of the load to its end, the status domain's calls
    /// left out (its reconciliation may run meanwhile; it is no part of the load).
    pub ledger: Vec<LedgerEntry>,
    /// The emulator keeps its newest entries only: when true, `ledger` is the end of the load,
    /// not all of it.
    pub ledger_truncated: bool,
    /// The two replicas.
    pub replicas: [ReplicaMemory; 2],
    /// Idle RSS of each replica right after start, KiB.
    pub idle_kib: [u64; 2],
    /// The status probe before the load.
    pub probe_idle: ProbeLatencies,
    /// The status probe during the load.
    pub probe_load: ProbeLatencies,
    /// Who worked on what, from the leases.
    pub leases: LeaseSummary,
    /// Load average (1, 5, 15 min) before and after the load.
    pub load_before: (String, String, String),
    /// Load average after it.
    pub load_after: (String, String, String),
}

impl ScaleReport {
    /// Accounts provisioned by the load.
    pub fn total_accounts(&self) -> usize {
        self.domains * self.accounts
    }

    /// T* over the measured time.
    pub fn ratio(&self) -> f64 {
        self.bound.bound_seconds() / self.elapsed.as_secs_f64()
    }

    /// API calls of the load (token requests left out).
    pub fn api_calls(&self) -> usize {
        bench::api_calls(&self.ledger).count()
    }

    /// API calls Google answered other than 2xx.
    pub fn refused_calls(&self) -> usize {
        bench::api_calls(&self.ledger)
            .filter(|e| !e.outcome.starts_with('2'))
            .count()
    }

    /// API calls per method.
    pub fn calls_by_method(&self) -> BTreeMap<String, usize> {
        let mut by_method = BTreeMap::new();
        for call in bench::api_calls(&self.ledger) {
            *by_method.entry(call.method.clone()).or_default() += 1;
        }
        by_method
    }

    /// Answers other than 2xx, per `method outcome`.
    pub fn refusals(&self) -> BTreeMap<String, usize> {
        let mut refused = BTreeMap::new();
        for call in bench::api_calls(&self.ledger).filter(|e| !e.outcome.starts_with('2')) {
            *refused
                .entry(format!("{} {}", call.method, call.outcome))
                .or_default() += 1;
        }
        refused
    }

    /// How many times each user was created in Google (the ledger's `user created` effects),
    /// by email.
    pub fn users_created(&self) -> HashMap<&str, usize> {
        let mut created = HashMap::new();
        for effect in self.ledger.iter().filter(|e| {
            e.kind == support_access_emulator::EntryKind::Effect
                && e.resource.as_deref() == Some("user")
                && e.outcome == "created"
        }) {
            if let Some(key) = effect.natural_key.as_deref() {
                *created.entry(key).or_default() += 1;
            }
        }
        created
    }
}

/// The name of the `i`-th domain of the load.
pub fn domain_name(i: usize) -> String {
    format!("scale-{i:03}.example")
}

/// The staff member id and username of the `i`-th staff member.
pub fn staff(i: usize) -> (String, String) {
    (format!("agent-{i:05}"), format!("agent.{i:05}"))
}

/// Runs the scenario (see the module's documentation).
pub async fn run(config: &ScaleConfig) -> anyhow::Result<ScaleReport> {
    if config.domains == 0 || config.accounts == 0 {
        bail!("at least one domain and one account");
    }
    let mut domains: Vec<String> = (1..=config.domains).map(domain_name).collect();
    domains.insert(0, STATUS_DOMAIN.to_owned());

    // One customer per domain, from resellers.yaml's first.
    let mut seed = Seed::from_file(seed_path("resellers.yaml"))?;
    let template = seed.customers[0].clone();
    seed.customers = domains
        .iter()
        .enumerate()
        .map(|(i, domain)| {
            let mut customer = template.clone();
            customer.id = Some(format!("C0scale{i:04}"));
            customer.domain = domain.clone();
            customer.users[0].primary_email = format!("admin@{domain}");
            for subscription in &mut customer.subscriptions {
                if (
                    subscription.product_id.as_str(),
                    subscription.sku_id.as_str(),
                ) == CLOUD_IDENTITY_FREE
                {
                    // The admin and every account, with room to spare.
                    subscription.seats = u32::try_from(config.accounts + 10).unwrap_or(u32::MAX);
                }
            }
            customer
        })
        .collect();
    seed.knobs.quotas.enabled = true;
    seed.knobs.latency.base_ms = 0;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let emulator = support_access_emulator::start(listener, seed).await?;

    std::fs::create_dir_all(&config.log_dir)?;
    let key_path = config.log_dir.join("key.json");
    std::fs::write(
        &key_path,
        emulator.service_account_key_json(SERVICE_ACCOUNT)?,
    )?;
    let token = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let principals = config.log_dir.join("principals.yaml");
    std::fs::write(
        &principals,
        format!(
            "principals:\n  - id: bench\n    role: admin\n    token_sha256: [{}]\n",
            support_access_server::auth::principals::token_sha256_hex(&token)
        ),
    )?;
    let database_name = format!("sa_scale_{}", uuid::Uuid::new_v4().simple());
    let base = emulator.base_url();
    let result = async {
        let mut replicas = Vec::new();
        for name in ["replica-a", "replica-b"] {
            let mut args = vec![
                "--database-url".to_owned(),
                database_url_for(&database_name),
                "--principals-file".into(),
                principals.display().to_string(),
                "--credential".into(),
                format!("default={}", key_path.display()),
                "--directory-root".into(),
                base.clone(),
                "--licensing-root".into(),
                base.clone(),
                "--reseller-root".into(),
                base.clone(),
            ];
            args.extend(config.server_flags.iter().cloned());
            // One at a time: both would migrate the fresh database at once otherwise.
            replicas
                .push(start_replica(&config.service_binary, name, &args, &config.log_dir).await?);
        }
        measure(
            config,
            &emulator,
            &replicas,
            &domains,
            &token,
            &database_name,
        )
        .await
    }
    .await;
    emulator.shutdown().await;
    let _ = crate::drop_database(&database_name).await;
    result
}

/// A running replica.
pub struct Replica {
    process: Process,
    /// `127.0.0.1:PORT`.
    pub address: String,
    /// Its name (its `HOSTNAME`, which its lease owner names start with).
    pub name: &'static str,
}

async fn start_replica(
    binary: &Path,
    name: &'static str,
    args: &[String],
    log_dir: &Path,
) -> anyhow::Result<Replica> {
    let log = log_dir.join(format!("{name}.log"));
    let (process, address) = bench::start_service(
        binary,
        args,
        &[("HOSTNAME", name)],
        &log,
        Duration::from_secs(120),
    )
    .await
    .with_context(|| format!("replica {name}"))?;
    Ok(Replica {
        process,
        address,
        name,
    })
}

/// Provisions `domains` with one operation and waits until it is done; returns the done
/// operation. `tick` runs every poll, with the time since the start.
async fn provision(
    client: &mut SupportAccessServiceClient<Channel>,
    operations: &mut OperationsClient<Channel>,
    token: &str,
    domains: &[String],
    limit: Duration,
    mut tick: impl FnMut(Duration),
) -> anyhow::Result<support_access_proto::google::longrunning::Operation> {
    let started = Instant::now();
    let operation = client
        .provision_support_access(authed(
            token,
            v1::ProvisionSupportAccessRequest {
                domains: domains.iter().map(|d| format!("domains/{d}")).collect(),
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    loop {
        let current = operations
            .get_operation(authed(
                token,
                GetOperationRequest {
                    name: operation.name.clone(),
                },
            ))
            .await?
            .into_inner();
        if current.done {
            return Ok(current);
        }
        if started.elapsed() > limit {
            bail!("{} not done after {limit:?}: giving up", operation.name);
        }
        tick(started.elapsed());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A run of `GetDomainStatus` calls on the status domain, each followed by a health `Check` of
/// the same replica: until `stop` (or `count` rounds), alternating between the replicas at
/// `addresses`, pausing `pause` after each call.
struct StatusProbe {
    addresses: Vec<String>,
    token: String,
    pause: Duration,
    count: Option<usize>,
    stop: Arc<AtomicBool>,
}

/// What a [`StatusProbe`] measured.
#[derive(Debug, Default)]
pub struct ProbeLatencies {
    /// `GetDomainStatus` of the status domain, sorted.
    pub status: Vec<Duration>,
    /// Health `Check` (unauthenticated, answered from memory), sorted: the control. Whatever
    /// the load adds to the trivial RPC of the same replica at the same moments is the
    /// machine's (cores shared with Postgres, the emulator and the other replica), not the
    /// status path's.
    pub health: Vec<Duration>,
    /// Calls of either kind that failed.
    pub errors: usize,
}

/// Runs `probe`.
///
/// The calls run on a thread and a runtime of their own, with connections of their own, like a
/// client in another process: on the bench's runtime, the emulator's handlers (100,000 users at
/// 200 x 500) would delay the client's own work and count it as the service's latency. Each
/// replica is asked once before the clock starts, so the first answer built from Postgres is not
/// counted as the steady state the target is about.
async fn status_calls(probe: StatusProbe) -> anyhow::Result<ProbeLatencies> {
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("status-probe".into())
        .spawn(move || {
            let outcome = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("the status probe's runtime")
                .and_then(|runtime| runtime.block_on(probe_status(probe)));
            let _ = done.send(outcome);
        })
        .context("starting the status probe's thread")?;
    result.await.context("the status probe's thread died")?
}

async fn probe_status(probe: StatusProbe) -> anyhow::Result<ProbeLatencies> {
    let StatusProbe {
        addresses,
        token,
        pause,
        count,
        stop,
    } = probe;
    let mut clients = Vec::new();
    for address in &addresses {
        let channel = connect(address).await?;
        clients.push((
            SupportAccessServiceClient::new(channel.clone()),
            HealthClient::new(channel),
        ));
    }
    let request = v1::GetDomainStatusRequest {
        name: format!("domains/{STATUS_DOMAIN}/status"),
        refresh: false,
    };
    for (status, health) in &mut clients {
        status
            .get_domain_status(authed(&token, request.clone()))
            .await
            .context("the status probe's first call")?;
        health
            .check(HealthCheckRequest::default())
            .await
            .context("the status probe's first health check")?;
    }
    let mut measured = ProbeLatencies::default();
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) && count.is_none_or(|count| i < count) {
        let replicas = clients.len();
        let (status, health) = &mut clients[i % replicas];
        let started = Instant::now();
        match status
            .get_domain_status(authed(&token, request.clone()))
            .await
        {
            Ok(_) => measured.status.push(started.elapsed()),
            Err(_) => measured.errors += 1,
        }
        tokio::time::sleep(pause).await;
        let started = Instant::now();
        match health.check(HealthCheckRequest::default()).await {
            Ok(_) => measured.health.push(started.elapsed()),
            Err(_) => measured.errors += 1,
        }
        i += 1;
        tokio::time::sleep(pause).await;
    }
    measured.status.sort_unstable();
    measured.health.sort_unstable();
    Ok(measured)
}

async fn measure(
    config: &ScaleConfig,
    emulator: &support_access_emulator::EmulatorHandle,
    replicas: &[Replica],
    domains: &[String],
    token: &str,
    database_name: &str,
) -> anyhow::Result<ScaleReport> {
    let idle_kib = [
        rss_kib(replicas[0].process.pid()).0,
        rss_kib(replicas[1].process.pid()).0,
    ];
    let mut client = SupportAccessServiceClient::new(connect(&replicas[0].address).await?);
    let mut operations = OperationsClient::new(connect(&replicas[0].address).await?);

    for domain in domains {
        client
            .create_domain(authed(
                token,
                v1::CreateDomainRequest {
                    domain: Some(v1::Domain {
                        domain_name: domain.clone(),
                        credential: "default".into(),
                        delegated_admin: format!("admin@{domain}"),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ))
            .await
            .with_context(|| format!("CreateDomain {domain}"))?;
    }
    let declaring = Instant::now();
    for first in (0..config.accounts).step_by(BATCH) {
        let requests = (first..(first + BATCH).min(config.accounts))
            .map(|i| {
                let (id, username) = staff(i);
                v1::CreateStaffMemberRequest {
                    staff_member: Some(v1::StaffMember {
                        username,
                        given_name: "Agent".into(),
                        family_name: format!("Number {i:05}"),
                        workspace_email: format!("agent{i:05}@partner.example"),
                        ..Default::default()
                    }),
                    staff_member_id: id,
                    ..Default::default()
                }
            })
            .collect();
        client
            .batch_create_staff_members(authed(
                token,
                v1::BatchCreateStaffMembersRequest {
                    requests,
                    ..Default::default()
                },
            ))
            .await
            .context("BatchCreateStaffMembers")?;
    }
    let declare_time = declaring.elapsed();
    if config.progress {
        println!(
            "declared {} domains (+ the status domain) and {} staff members ({:.1} s)",
            config.domains,
            config.accounts,
            declare_time.as_secs_f64()
        );
    }

    // The status domain, alone, then the baseline of its status.
    let started = Instant::now();
    let done = provision(
        &mut client,
        &mut operations,
        token,
        &domains[..1],
        config.limit,
        |_| {},
    )
    .await?;
    if let Some(operation::Result::Error(status)) = done.result {
        bail!("provisioning the status domain failed: {}", status.message);
    }
    let status_domain_time = started.elapsed();
    if config.progress {
        println!(
            "provisioned {STATUS_DOMAIN} ({} accounts) in {:.1} s; measuring GetDomainStatus idle",
            config.accounts,
            status_domain_time.as_secs_f64()
        );
    }
    let addresses: Vec<String> = replicas.iter().map(|r| r.address.clone()).collect();
    let probe_idle = status_calls(StatusProbe {
        addresses: addresses.clone(),
        token: token.to_owned(),
        pause: config.status_pause,
        count: Some(config.idle_status_calls),
        stop: Arc::new(AtomicBool::new(false)),
    })
    .await?;
    if probe_idle.errors > 0 {
        bail!(
            "{} status probe calls failed with nothing else running",
            probe_idle.errors
        );
    }

    // The load.
    let before_load_kib = [
        rss_kib(replicas[0].process.pid()).0,
        rss_kib(replicas[1].process.pid()).0,
    ];
    let peaks = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let peaks = peaks.clone();
        let stop = stop.clone();
        let pids = [replicas[0].process.pid(), replicas[1].process.pid()];
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                for (peak, pid) in peaks.iter().zip(pids) {
                    peak.fetch_max(rss_kib(pid).0, Ordering::Relaxed);
                }
                tokio::time::sleep(RSS_SAMPLE).await;
            }
        })
    };
    let leases = tokio::spawn(watch_leases(
        database_url_for(database_name),
        [replicas[0].name, replicas[1].name],
        stop.clone(),
    ));
    let status = tokio::spawn(status_calls(StatusProbe {
        addresses,
        token: token.to_owned(),
        pause: config.status_pause,
        count: None,
        stop: stop.clone(),
    }));
    emulator.clear_ledger();
    let load_before = bench::load_average();
    let started = Instant::now();
    let mut next_progress = Duration::from_secs(60);
    let result = provision(
        &mut client,
        &mut operations,
        token,
        &domains[1..],
        config.limit,
        |elapsed| {
            if config.progress && elapsed >= next_progress {
                next_progress += Duration::from_secs(60);
                println!(
                    "  {:>5.0} s: RSS {:.1} / {:.1} MiB (peaks {:.1} / {:.1}); load {}",
                    elapsed.as_secs_f64(),
                    bench::mib(rss_kib(replicas[0].process.pid()).0),
                    bench::mib(rss_kib(replicas[1].process.pid()).0),
                    bench::mib(peaks[0].load(Ordering::Relaxed)),
                    bench::mib(peaks[1].load(Ordering::Relaxed)),
                    bench::load_average().0
                );
            }
        },
    )
    .await;
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    let probe_load = status.await??;
    let leases = leases.await??;
    let done = result?;
    let load_after = bench::load_average();

    let mut replica_memory = [ReplicaMemory::default(); 2];
    for (i, memory) in replica_memory.iter_mut().enumerate() {
        let (rss, hwm) = rss_kib(replicas[i].process.pid());
        *memory = ReplicaMemory {
            before_load_kib: before_load_kib[i],
            peak_load_kib: peaks[i].load(Ordering::Relaxed).max(rss),
            hwm_kib: hwm,
            after_load_kib: rss,
        };
    }

    let (operation_error, operation_accounts) = match done.result {
        Some(operation::Result::Response(any)) => {
            let result = v1::OperationResult::decode(any.value.as_slice())?;
            let done: i32 = result
                .account_states
                .iter()
                .filter(|c| c.state() == v1::StepState::Done)
                .map(|c| c.count)
                .sum();
            (None, (result.total_accounts, done))
        }
        Some(operation::Result::Error(status)) => (Some(status.message), (0, 0)),
        None => bail!("a done operation without a result"),
    };

    let mut domain_counts = Vec::new();
    for domain in &domains[1..] {
        let status = client
            .get_domain_status(authed(
                token,
                v1::GetDomainStatusRequest {
                    name: format!("domains/{domain}/status"),
                    refresh: false,
                },
            ))
            .await?
            .into_inner();
        let counts = status.account_counts.unwrap_or_default();
        domain_counts.push(DomainCounts {
            domain: domain.clone(),
            total: counts.total,
            states: counts
                .states
                .iter()
                .map(|s| (s.state().as_str_name().to_owned(), s.count))
                .collect(),
            manual: status
                .manual_steps
                .iter()
                .filter(|m| m.account_count > 0)
                .map(|m| (m.check().as_str_name().to_owned(), m.account_count))
                .collect(),
        });
    }

    let status_customer = emulator.customer_id(STATUS_DOMAIN);
    let full_ledger = emulator.ledger();
    let ledger_truncated = full_ledger.len() >= support_access_emulator::ledger::MAX_ENTRIES;
    let ledger: Vec<LedgerEntry> = full_ledger
        .into_iter()
        .filter(|e| e.customer_id.is_none() || e.customer_id != status_customer)
        .collect();
    if let Ok(path) = std::env::var("BENCH_LEDGER_OUT") {
        std::fs::write(path, serde_json::to_string(&ledger)?)?;
    }
    let cloud_identity_holders = domains[1..]
        .iter()
        .map(|domain| bench::cloud_identity_holders(&emulator.customer_state(domain)))
        .collect();

    Ok(ScaleReport {
        domains: config.domains,
        accounts: config.accounts,
        declare_time,
        status_domain_time,
        elapsed,
        bound: QuotaBound {
            domains: config.domains,
            accounts_per_domain: config.accounts,
            latency: Duration::ZERO,
            cloud_identity_holders,
            propagation: Vec::new(),
        },
        operation_error,
        operation_accounts,
        domain_counts,
        ledger,
        ledger_truncated,
        replicas: replica_memory,
        idle_kib,
        probe_idle,
        probe_load,
        leases,
        load_before,
        load_after,
    })
}
