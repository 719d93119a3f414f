//! The read path: what the layers every request crosses cost, and how the large reads behave on a
//! big domain. A benchmark, not a test: it prints numbers and asserts nothing about time.
//!
//! In one run it starts
//! - a plain tonic server serving only the standard gRPC health service (this binary again, as
//!   `bench-read-path baseline-server`: a separate process built with the same release profile),
//!   the baseline;
//! - `workspace-emulator` in-process, without quotas or latency, seeded with two reseller domains
//!   whose Cloud Identity Free subscription holds every account;
//! - the real `support-access` release binary (`target/release/support-access`, refused when
//!   missing) on a fresh PostgreSQL database, authenticating callers with a bearer token from a
//!   principals file as in production, with its default log level;
//!
//! declares `--accounts` staff members with `BatchCreateStaffMembers` and provisions them into
//! each of `--domains` domains (one `ProvisionSupportAccess` per domain, started together), while
//! sampling the server's RSS. Then it drives, with `h2load` (Debian: `apt-get install -y
//! nghttp2-client`), each RPC at 1 request in flight (p50 and p99 from h2load's per-request log)
//! and at 64 in flight (4 connections x 16 streams; requests/s):
//! the baseline's health `Check`, the service's health `Check` (exempt from authentication but
//! through every other layer), `GetDomain` (the cheapest authenticated RPC: auth gate, in-flight
//! limit, one indexed read), `GetDomainStatus` of the first domain and `GetOperation` of its
//! provisioning. Every RPC is first called once with a tonic client to check that it answers OK
//! (h2load only sees HTTP statuses). The baseline and the service's health run alternately
//! `--rounds` times and the best round of each is kept, so that the other builds on a shared
//! machine blur the ratio less.
//!
//! Run (PostgreSQL at `DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`):
//!
//! ```sh
//! cargo build --release -p support-access-server --bin support-access
//! cargo run --release -p support-access-e2e --bin bench-read-path -- --accounts 5000 --domains 2
//! ```
//!
//! `--seconds S` is the length of each h2load run (default 10). `SUPPORT_ACCESS_BINARY=PATH`
//! measures another build of the service. `BENCH_KEEP_DATABASE=1` keeps the provisioned database
//! (its name is printed), to study its queries afterwards.
//!
//! `--provision-only` stops after the provisioning: the memory of the service while it
//! provisions (printed every 15 s), when it is done, and 5 s and 30 s after, with neither the
//! baseline nor h2load. The client paces user creation at Google's 10 per second per domain, so
//! 10,000 accounts in two domains take over 8 minutes; `--domains D` beyond the seed's two adds
//! copies of its first customer (`reseller-NNN.example`), and `--workers W` (the service's
//! `--workers`, default 4) lets that many domains provision at once: `--domains 20 --accounts
//! 500 --workers 20` provisions 10,000 accounts in about a minute of creations.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use prost::Message;
use support_access_e2e::bench::{
    self, CLOUD_IDENTITY_FREE, Process, authed, connect, load_average, mib, release_service_binary,
    rss_kib,
};
use support_access_e2e::{database_url_for, seed_path};
use support_access_emulator::Seed;
use support_access_proto::google::longrunning::GetOperationRequest;
use support_access_proto::google::longrunning::operations_client::OperationsClient;
use support_access_proto::v1;
use support_access_proto::v1::support_access_service_client::SupportAccessServiceClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const SERVICE_ACCOUNT: &str = "support-access@e2e-project.iam.gserviceaccount.com";
/// The seed's first two domains; the others are copies of the first customer named
/// `reseller-NNN.example` (see [`domain_names`]).
const DOMAINS: [&str; 2] = ["reseller-a.example", "reseller-b.example"];
const MAX_DOMAINS: usize = 999;
/// Staff members per `BatchCreateStaffMembers` (the RPC's maximum).
const BATCH: usize = 1000;
/// Connections and streams per connection of the 64-in-flight runs.
const CONNECTIONS: usize = 4;
const STREAMS: usize = 16;
/// Longest the provisioning may take before the benchmark gives up.
const PROVISION_LIMIT: Duration = Duration::from_secs(1800);
/// Largest response the checking client accepts (the unbounded reads are megabytes).
const MAX_RESPONSE: usize = 256 * 1024 * 1024;
const HEALTH_CHECK: &str = "/grpc.health.v1.Health/Check";
/// How often the RSS is printed while provisioning.
const TIMELINE: Duration = Duration::from_secs(15);

struct Args {
    accounts: usize,
    domains: usize,
    seconds: u64,
    rounds: usize,
    /// Stop after the provisioning and its memory figures (no baseline, no h2load).
    provision_only: bool,
    /// `--workers` of the service; its default when absent.
    workers: Option<usize>,
}

fn parse_args(args: &[String]) -> anyhow::Result<Args> {
    let mut parsed = Args {
        accounts: 5000,
        domains: 2,
        seconds: 10,
        rounds: 3,
        provision_only: false,
        workers: None,
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--provision-only" {
            parsed.provision_only = true;
            continue;
        }
        let value = iter
            .next()
            .with_context(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--accounts" => parsed.accounts = value.parse()?,
            "--domains" => parsed.domains = value.parse()?,
            "--seconds" => parsed.seconds = value.parse()?,
            "--rounds" => parsed.rounds = value.parse()?,
            "--workers" => parsed.workers = Some(value.parse()?),
            other => bail!(
                "unknown argument {other}: use --accounts N, --domains D, --seconds S, --rounds R, --workers W, --provision-only"
            ),
        }
    }
    if parsed.domains == 0
        || parsed.domains > MAX_DOMAINS
        || parsed.accounts == 0
        || parsed.seconds == 0
        || parsed.rounds == 0
        || parsed.workers == Some(0)
    {
        bail!(
            "--domains is 1 to {MAX_DOMAINS}; --accounts, --seconds, --rounds and --workers are at least 1"
        );
    }
    Ok(parsed)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("baseline-server") {
        return serve_baseline();
    }
    if cfg!(debug_assertions) {
        bail!(
            "this is a debug build: run `cargo run --release -p support-access-e2e --bin bench-read-path`"
        );
    }
    let args = parse_args(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

/// The baseline: tonic's health service and nothing else, on a runtime like `#[tokio::main]`'s.
/// Prints its address on stdout, serves until killed.
fn serve_baseline() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // What `Server::serve(addr)` binds (with its default TCP_NODELAY), on a free port.
        let incoming = tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse()?)?
            .with_nodelay(Some(true));
        println!("baseline listening on {}", incoming.local_addr()?);
        let (reporter, service) = tonic_health::server::health_reporter();
        reporter
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(incoming)
            .await?;
        Ok(())
    })
}

fn check_h2load() -> anyhow::Result<()> {
    match Command::new("h2load").arg("--version").output() {
        Ok(output) if output.status.success() => Ok(()),
        _ => bail!("h2load is missing: `apt-get install -y nghttp2-client` (Debian, Ubuntu)"),
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let binary = release_service_binary()?;
    if !args.provision_only {
        check_h2load()?;
    }
    let work = tempfile::tempdir()?;
    let (load_1, load_5, _) = load_average();
    println!(
        "read-path benchmark: {} staff members x {} domain(s) = {} accounts; h2load runs of {} s; load average before: {load_1} (1 min), {load_5} (5 min) on {} CPUs",
        args.accounts,
        args.domains,
        args.accounts * args.domains,
        args.seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // The baseline.
    let baseline = if args.provision_only {
        None
    } else {
        Some(start_baseline()?)
    };

    // The emulator, without quotas or latency, with room for every account.
    let mut seed = Seed::from_file(seed_path("resellers.yaml"))?;
    seed.knobs.quotas.enabled = false;
    seed.knobs.latency.base_ms = 0;
    seed.knobs.consistency.user_propagation_ms = 0;
    let first = seed
        .customers
        .first()
        .context("the seed has no customer")?
        .clone();
    for (at, name) in domain_names(args.domains)
        .iter()
        .enumerate()
        .skip(DOMAINS.len())
    {
        let mut customer = first.clone();
        customer.id = Some(format!("C0bench{at:03}"));
        customer.domain = name.clone();
        for user in &mut customer.users {
            let local = user.primary_email.split('@').next().unwrap_or("admin");
            user.primary_email = format!("{local}@{name}");
        }
        seed.customers.push(customer);
    }
    for customer in &mut seed.customers {
        for subscription in &mut customer.subscriptions {
            if (
                subscription.product_id.as_str(),
                subscription.sku_id.as_str(),
            ) == CLOUD_IDENTITY_FREE
            {
                subscription.seats = (args.accounts + 100) as u32;
            }
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let emulator = support_access_emulator::start(listener, seed).await?;
    let key_path = work.path().join("key.json");
    std::fs::write(
        &key_path,
        emulator.service_account_key_json(SERVICE_ACCOUNT)?,
    )?;

    // The service, with one admin principal holding a bearer token.
    let token = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let principals = work.path().join("principals.yaml");
    std::fs::write(
        &principals,
        format!(
            "principals:\n  - id: bench\n    role: admin\n    token_sha256: [{}]\n",
            support_access_server::auth::principals::token_sha256_hex(&token)
        ),
    )?;
    let database_name = format!("sa_bench_{}", uuid::Uuid::new_v4().simple());
    let result = async {
        let (service, address) = start_service(
            &binary,
            &database_name,
            &principals,
            &key_path,
            &emulator.base_url(),
            args.workers,
            work.path(),
        )
        .await?;
        measure(
            &args,
            &service,
            &address,
            baseline.as_ref(),
            &token,
            work.path(),
        )
        .await
    }
    .await;
    emulator.shutdown().await;
    if std::env::var_os("BENCH_KEEP_DATABASE").is_some() {
        println!("kept database {database_name} (BENCH_KEEP_DATABASE)");
    } else {
        drop_database(&database_name).await;
    }
    result
}

/// The names of the first `count` domains: the seed's two, then copies of its first customer.
fn domain_names(count: usize) -> Vec<String> {
    (0..count)
        .map(|at| match DOMAINS.get(at) {
            Some(name) => (*name).to_owned(),
            None => format!("reseller-{at:03}.example"),
        })
        .collect()
}

fn start_baseline() -> anyhow::Result<(Process, String)> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("baseline-server")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start the baseline server")?;
    let stdout = child.stdout.take().context("baseline stdout")?;
    let process = Process(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let address = line
        .trim()
        .strip_prefix("baseline listening on ")
        .with_context(|| format!("the baseline server did not start: {line:?}"))?
        .to_owned();
    Ok((process, address))
}

async fn start_service(
    binary: &Path,
    database_name: &str,
    principals: &Path,
    key: &Path,
    emulator: &str,
    workers: Option<usize>,
    work: &Path,
) -> anyhow::Result<(Process, String)> {
    let mut args: Vec<String> = Vec::new();
    if let Some(workers) = workers {
        args.extend(["--workers".into(), workers.to_string()]);
    }
    args.extend([
        "--database-url".into(),
        database_url_for(database_name),
        "--principals-file".into(),
        principals.display().to_string(),
        "--credential".into(),
        format!("default={}", key.display()),
    ]);
    for root in ["--directory-root", "--licensing-root", "--reseller-root"] {
        args.extend([root.into(), emulator.to_owned()]);
    }
    bench::start_service(
        binary,
        &args,
        &[],
        &work.join("support-access.log"),
        Duration::from_secs(60),
    )
    .await
}

/// One RPC to drive with h2load.
struct Target {
    label: &'static str,
    address: String,
    path: String,
    /// The request message, protobuf-encoded.
    message: Vec<u8>,
    authenticated: bool,
    /// Bytes of the response message, from the checking call.
    response_bytes: usize,
}

/// What h2load measured.
#[derive(Clone, Copy, Default)]
struct Run {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    completed: usize,
}

async fn measure(
    args: &Args,
    service: &Process,
    address: &str,
    baseline: Option<&(Process, String)>,
    token: &str,
    work: &Path,
) -> anyhow::Result<()> {
    let (idle_kib, _) = rss_kib(service.pid());
    println!(
        "support-access RSS when idle after start: {:.1} MiB{}",
        mib(idle_kib),
        baseline.map_or(String::new(), |(baseline, _)| format!(
            " (baseline server: {:.1} MiB)",
            mib(rss_kib(baseline.pid()).0)
        ))
    );
    let domains = domain_names(args.domains);

    let channel = connect(address).await?;
    let mut client =
        SupportAccessServiceClient::new(channel.clone()).max_decoding_message_size(MAX_RESPONSE);
    let mut operations =
        OperationsClient::new(channel.clone()).max_decoding_message_size(MAX_RESPONSE);

    for domain in &domains {
        client
            .create_domain(authed(
                token,
                v1::CreateDomainRequest {
                    domain: Some(v1::Domain {
                        domain_name: (*domain).to_owned(),
                        credential: "default".into(),
                        delegated_admin: format!("admin@{domain}"),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ))
            .await?;
    }
    let declaring = Instant::now();
    for first in (0..args.accounts).step_by(BATCH) {
        let requests = (first..(first + BATCH).min(args.accounts))
            .map(|i| v1::CreateStaffMemberRequest {
                staff_member: Some(v1::StaffMember {
                    username: format!("agent.{i:05}"),
                    given_name: "Agent".into(),
                    family_name: format!("Number {i:05}"),
                    workspace_email: format!("agent{i:05}@partner.example"),
                    ..Default::default()
                }),
                staff_member_id: format!("agent-{i:05}"),
                ..Default::default()
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
            .await?;
    }
    println!(
        "declared {} staff members with BatchCreateStaffMembers in {:.1} s",
        args.accounts,
        declaring.elapsed().as_secs_f64()
    );

    // Provision every domain at once, sampling the RSS meanwhile (and printing it every
    // `TIMELINE` to show how it follows the accounts).
    let peak = Arc::new(AtomicU64::new(0));
    let provisioning = Instant::now();
    let sampler = {
        let peak = peak.clone();
        let pid = service.pid();
        tokio::spawn(async move {
            let mut next_line = TIMELINE;
            loop {
                let rss = rss_kib(pid).0;
                peak.fetch_max(rss, Ordering::Relaxed);
                if provisioning.elapsed() >= next_line {
                    println!(
                        "  {:>5.0} s: RSS {:.1} MiB, peak so far {:.1} MiB",
                        provisioning.elapsed().as_secs_f64(),
                        mib(rss),
                        mib(peak.load(Ordering::Relaxed))
                    );
                    next_line += TIMELINE;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let mut names = Vec::new();
    for domain in &domains {
        let operation = client
            .provision_support_access(authed(
                token,
                v1::ProvisionSupportAccessRequest {
                    domains: vec![format!("domains/{domain}")],
                    ..Default::default()
                },
            ))
            .await?
            .into_inner();
        names.push(operation.name);
    }
    let mut done = vec![None; names.len()];
    while done.iter().any(Option::is_none) {
        if provisioning.elapsed() > PROVISION_LIMIT {
            bail!("provisioning not done after {PROVISION_LIMIT:?}: giving up");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        for (name, done) in names.iter().zip(done.iter_mut()) {
            if done.is_some() {
                continue;
            }
            let operation = operations
                .get_operation(authed(token, GetOperationRequest { name: name.clone() }))
                .await?
                .into_inner();
            if operation.done {
                *done = Some(provisioning.elapsed());
                if let Some(support_access_proto::google::longrunning::operation::Result::Error(
                    status,
                )) = operation.result
                {
                    bail!("{name} failed: {}", status.message);
                }
            }
        }
    }
    sampler.abort();
    let (done_kib, hwm_kib) = rss_kib(service.pid());
    let peak_kib = peak.load(Ordering::Relaxed).max(hwm_kib);
    let mut slowest = Duration::ZERO;
    for (name, done) in names.iter().zip(&done) {
        let done = done.unwrap_or_default();
        slowest = slowest.max(done);
        if names.len() <= 4 {
            println!(
                "{name}: {} accounts provisioned in {:.1} s",
                args.accounts,
                done.as_secs_f64()
            );
        }
    }
    println!(
        "{} operation(s) of {} accounts done after {:.1} s",
        names.len(),
        args.accounts,
        slowest.as_secs_f64()
    );
    println!(
        "support-access RSS while provisioning {} accounts: peak {:.1} MiB (VmHWM); {:.1} MiB when the last operation was seen done",
        args.accounts * args.domains,
        mib(peak_kib),
        mib(done_kib)
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    println!(
        "support-access RSS 5 s after the provisioning: {:.1} MiB",
        mib(rss_kib(service.pid()).0)
    );
    if args.provision_only {
        tokio::time::sleep(Duration::from_secs(25)).await;
        println!(
            "support-access RSS 30 s after the provisioning: {:.1} MiB",
            mib(rss_kib(service.pid()).0)
        );
        let (load_1, load_5, _) = load_average();
        println!("load average after: {load_1} (1 min), {load_5} (5 min)");
        return Ok(());
    }
    let Some((baseline, baseline_address)) = baseline else {
        bail!("no baseline server");
    };

    // The RPCs, each checked once with tonic.
    let domain = &domains[0];
    let mut health = HealthClient::new(channel.clone());
    let mut baseline_health = HealthClient::new(connect(baseline_address).await?);
    let health_request = HealthCheckRequest::default();
    let baseline_answer = baseline_health.check(health_request.clone()).await?;
    let service_answer = health.check(health_request.clone()).await?;
    let get_domain = v1::GetDomainRequest {
        name: format!("domains/{domain}"),
    };
    let domain_answer = client.get_domain(authed(token, get_domain.clone())).await?;
    let status_request = v1::GetDomainStatusRequest {
        name: format!("domains/{domain}/status"),
        refresh: false,
    };
    let started = Instant::now();
    let status_answer = client
        .get_domain_status(authed(token, status_request.clone()))
        .await?;
    let status_once = started.elapsed();
    let operation_request = GetOperationRequest {
        name: names[0].clone(),
    };
    let started = Instant::now();
    let operation_answer = operations
        .get_operation(authed(token, operation_request.clone()))
        .await?;
    let operation_once = started.elapsed();
    println!(
        "one call with tonic: GetDomainStatus {:.1} ms, GetOperation {:.1} ms",
        status_once.as_secs_f64() * 1000.0,
        operation_once.as_secs_f64() * 1000.0
    );

    let api = "/supportaccess.v1.SupportAccessService";
    let baseline_target = Target {
        label: "baseline tonic health Check",
        address: baseline_address.to_owned(),
        path: HEALTH_CHECK.into(),
        message: health_request.encode_to_vec(),
        authenticated: false,
        response_bytes: baseline_answer.get_ref().encoded_len(),
    };
    let health_target = Target {
        label: "support-access health Check",
        address: address.to_owned(),
        path: HEALTH_CHECK.into(),
        message: health_request.encode_to_vec(),
        authenticated: false,
        response_bytes: service_answer.get_ref().encoded_len(),
    };
    let others = [
        Target {
            label: "GetDomain (authenticated)",
            address: address.to_owned(),
            path: format!("{api}/GetDomain"),
            message: get_domain.encode_to_vec(),
            authenticated: true,
            response_bytes: domain_answer.get_ref().encoded_len(),
        },
        Target {
            label: "GetDomainStatus",
            address: address.to_owned(),
            path: format!("{api}/GetDomainStatus"),
            message: status_request.encode_to_vec(),
            authenticated: true,
            response_bytes: status_answer.get_ref().encoded_len(),
        },
        Target {
            label: "GetOperation",
            address: address.to_owned(),
            path: "/google.longrunning.Operations/GetOperation".into(),
            message: operation_request.encode_to_vec(),
            authenticated: true,
            response_bytes: operation_answer.get_ref().encoded_len(),
        },
    ];

    let seconds = args.seconds;
    // The baseline and the service's health alternate; the best round of each counts.
    let mut best_baseline = (Run::default(), Run::default());
    let mut best_health = (Run::default(), Run::default());
    for round in 1..=args.rounds {
        for (target, best) in [
            (&baseline_target, &mut best_baseline),
            (&health_target, &mut best_health),
        ] {
            let one = h2load(target, token, work, 1, 1, seconds)?;
            let many = h2load(target, token, work, CONNECTIONS, STREAMS, seconds)?;
            println!(
                "  round {round}: {:<32} 1 in flight p50 {:.3} ms p99 {:.3} ms; 64 in flight {:.0} req/s (load {})",
                target.label,
                one.p50_ms,
                one.p99_ms,
                many.requests_per_second,
                load_average().0
            );
            if one.p99_ms < best.0.p99_ms || best.0.completed == 0 {
                best.0 = one;
            }
            if many.requests_per_second > best.1.requests_per_second {
                best.1 = many;
            }
        }
    }
    let mut rows = vec![
        (&baseline_target, best_baseline),
        (&health_target, best_health),
    ];
    for target in &others {
        let one = h2load(target, token, work, 1, 1, seconds)?;
        let many = h2load(target, token, work, CONNECTIONS, STREAMS, seconds)?;
        rows.push((target, (one, many)));
    }
    let (rss_after, hwm_after) = rss_kib(service.pid());

    let trivial = best_health.1.requests_per_second;
    println!(
        "\n{:<32} {:>10} {:>9} {:>9} {:>9} {:>12} {:>18} {:>14}",
        "RPC",
        "response",
        "n @1",
        "p50 @1",
        "p99 @1",
        "req/s @64",
        "ratio to health",
        "ratio to base"
    );
    for (target, (one, many)) in &rows {
        println!(
            "{:<32} {:>8} B {:>9} {:>6.3} ms {:>6.3} ms {:>12.0} {:>18.2} {:>14.2}",
            target.label,
            target.response_bytes,
            one.completed,
            one.p50_ms,
            one.p99_ms,
            many.requests_per_second,
            many.requests_per_second / trivial,
            many.requests_per_second / best_baseline.1.requests_per_second
        );
    }
    println!(
        "\ntargets: support-access health >= 0.80 of the baseline (measured {:.2}); p99 <= 2 ms at 1 in flight; GetDomainStatus >= 0.3 and GetOperation >= 0.5 of health at 64 in flight",
        trivial / best_baseline.1.requests_per_second
    );
    println!(
        "support-access RSS at the end: {:.1} MiB (peak over the whole run {:.1} MiB); baseline server: {:.1} MiB",
        mib(rss_after),
        mib(hwm_after),
        mib(rss_kib(baseline.pid()).0)
    );
    let (load_1, load_5, _) = load_average();
    println!("load average after: {load_1} (1 min), {load_5} (5 min)");
    Ok(())
}

/// Drives `target` with h2load: `connections` x `streams` requests in flight for `seconds`.
fn h2load(
    target: &Target,
    token: &str,
    work: &Path,
    connections: usize,
    streams: usize,
    seconds: u64,
) -> anyhow::Result<Run> {
    // One gRPC message: uncompressed, 4-byte big-endian length, the protobuf.
    let mut body = vec![0u8];
    body.extend_from_slice(&(target.message.len() as u32).to_be_bytes());
    body.extend_from_slice(&target.message);
    let body_path = work.join("body.bin");
    std::fs::write(&body_path, &body)?;
    let log_path = work.join("h2load.log");
    let _ = std::fs::remove_file(&log_path);
    let mut command = Command::new("h2load");
    command
        .args(["-t", "1"])
        .args(["-c", &connections.to_string()])
        .args(["-m", &streams.to_string()])
        .args(["-D", &seconds.to_string()])
        .arg("--data")
        .arg(&body_path)
        .arg("--log-file")
        .arg(&log_path)
        .args(["-H", "content-type: application/grpc"])
        .args(["-H", "te: trailers"]);
    if target.authenticated {
        command.args(["-H", &format!("authorization: Bearer {token}")]);
    }
    let output = command
        .arg(format!("http://{}{}", target.address, target.path))
        .output()
        .context("cannot run h2load")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "h2load failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // "finished in 10.00s, 12345.60 req/s, 1.2MB/s"
    let requests_per_second = stdout
        .lines()
        .find_map(|line| line.strip_prefix("finished in "))
        .and_then(|rest| rest.split(", ").nth(1))
        .and_then(|rate| rate.strip_suffix(" req/s"))
        .and_then(|rate| rate.parse::<f64>().ok())
        .with_context(|| format!("no request rate in h2load's output: {stdout}"))?;
    let failed = stdout
        .lines()
        .find(|line| line.starts_with("status codes:"))
        .is_some_and(|line| !line.contains(" 0 4xx, 0 5xx"));
    if failed {
        bail!("{}: answers other than 2xx: {stdout}", target.label);
    }
    let mut durations: Vec<u64> = std::fs::read_to_string(&log_path)?
        .lines()
        .filter_map(|line| {
            let mut columns = line.split('\t');
            let status = columns.nth(1)?;
            let micros = columns.next()?.trim().parse().ok()?;
            (status == "200").then_some(micros)
        })
        .collect();
    durations.sort_unstable();
    let quantile = |q: f64| -> f64 {
        if durations.is_empty() {
            return f64::NAN;
        }
        let index = ((durations.len() as f64 * q).ceil() as usize).clamp(1, durations.len()) - 1;
        durations[index] as f64 / 1000.0
    };
    Ok(Run {
        requests_per_second,
        p50_ms: quantile(0.50),
        p99_ms: quantile(0.99),
        completed: durations.len(),
    })
}

async fn drop_database(name: &str) {
    // Best effort: a database left behind only takes disk space.
    let _ = support_access_e2e::drop_database(name).await;
}
