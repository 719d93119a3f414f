//! Scale: two replicas provisioning many domains against Google's quotas. A benchmark, not a
//! test: it prints numbers and asserts nothing about time.
//!
//! It runs the scenario of [`support_access_e2e::scale`] with the release build of the service:
//! the emulator in-process with Google's quotas and no latency, two `support-access serve`
//! processes on one fresh PostgreSQL database, `--domains` domains of `--accounts` accounts
//! (default 200 × 500 = 100,000), and a 500-account status domain provisioned first, whose
//! `GetDomainStatus` is measured before and during the load. It prints the time against the quota
//! bound T* ([`support_access_e2e::bench::QuotaBound`]), the API calls and refused calls per
//! account from the emulator's ledger, each replica's peak RSS, and `GetDomainStatus` p50/p99
//! idle and under load.
//!
//! Run (PostgreSQL at `DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`):
//!
//! ```sh
//! cargo build --release -p support-access-server --bin support-access
//! cargo run --release -p support-access-e2e --bin bench-scale -- --domains 200 --accounts 500
//! ```
//!
//! `--workers W` passes `--workers W` to both replicas (default: the server's own default);
//! `--status-calls K` is the size of the idle baseline (default 1000); `--status-pause MS` the pause
//! after each status call (default 20). `SUPPORT_ACCESS_BINARY=PATH` measures another build;
//! `BENCH_LEDGER_OUT=FILE` writes the ledger of the load as JSON.

use std::time::Duration;

use anyhow::{Context, bail};
use support_access_e2e::bench::{self, mib, quantile};
use support_access_e2e::scale::{self, ScaleConfig, ScaleReport};

/// Targets from issue 14.
const TARGET_RATIO: f64 = 0.9;
const TARGET_RSS_MIB: f64 = 256.0;

fn main() -> anyhow::Result<()> {
    if cfg!(debug_assertions) {
        bail!(
            "this is a debug build: run `cargo run --release -p support-access-e2e --bin bench-scale`"
        );
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let work = tempfile::tempdir()?;
    let mut config = ScaleConfig {
        domains: 200,
        accounts: 500,
        service_binary: bench::release_service_binary()?,
        server_flags: scale::default_server_flags(),
        idle_status_calls: 1000,
        status_pause: Duration::from_millis(20),
        limit: Duration::from_secs(3 * 3600),
        progress: true,
        log_dir: work.path().to_owned(),
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let value = iter
            .next()
            .with_context(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--domains" => config.domains = value.parse()?,
            "--accounts" => config.accounts = value.parse()?,
            "--workers" => config
                .server_flags
                .extend(["--workers".into(), value.clone()]),
            "--status-calls" => config.idle_status_calls = value.parse()?,
            "--status-pause" => config.status_pause = Duration::from_millis(value.parse()?),
            other => bail!(
                "unknown argument {other}: --domains D --accounts N [--workers W] [--status-calls K] [--status-pause MS]"
            ),
        }
    }
    let (load_1, load_5, _) = bench::load_average();
    println!(
        "scale benchmark: {} domains x {} accounts = {} accounts, two replicas ({}) on one PostgreSQL, workspace-emulator in-process with Google's quotas and no latency; load average before: {load_1} (1 min), {load_5} (5 min) on {} CPUs",
        config.domains,
        config.accounts,
        config.domains * config.accounts,
        if config.server_flags.is_empty() {
            "default flags".to_owned()
        } else {
            config.server_flags.join(" ")
        },
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(scale::run(&config));
    let report = match report {
        Ok(report) => report,
        Err(e) => {
            for name in ["replica-a", "replica-b"] {
                let log = work.path().join(format!("{name}.log"));
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(20).collect();
                eprintln!("--- last lines of {name}'s log:");
                for line in tail.iter().rev() {
                    eprintln!("{line}");
                }
            }
            return Err(e);
        }
    };
    print(&report);
    Ok(())
}

fn ms(duration: Option<Duration>) -> f64 {
    duration.map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
}

fn print(report: &ScaleReport) {
    let accounts = report.total_accounts() as f64;
    let bound = &report.bound;
    println!(
        "\n== {} domains x {} accounts = {} accounts",
        report.domains,
        report.accounts,
        report.total_accounts()
    );
    println!(
        "  declared {} staff members with BatchCreateStaffMembers in {:.1} s; the {}-account status domain alone took {:.1} s",
        report.accounts,
        report.declare_time.as_secs_f64(),
        report.accounts,
        report.status_domain_time.as_secs_f64()
    );
    let converged = report
        .domain_counts
        .iter()
        .filter(|d| d.converged(report.accounts))
        .count();
    println!(
        "  provisioned in {:.1} s ({:.1} accounts/s); operation {}: {} of {} accounts DONE; {} of {} domains with every account converged (OK, or waiting only for the manual mail-routing step)",
        report.elapsed.as_secs_f64(),
        accounts / report.elapsed.as_secs_f64(),
        report.operation_error.as_deref().unwrap_or("succeeded"),
        report.operation_accounts.1,
        report.operation_accounts.0,
        converged,
        report.domains
    );
    if let Some(first) = report.domain_counts.first() {
        println!(
            "  {}: {} accounts by state {:?}, waiting for a person {:?}",
            first.domain, first.total, first.states, first.manual
        );
    }
    println!(
        "  quota bound T* (see QuotaBound): creating {:.1} s + checking R = {} Licensing reads at 1 QPS after it ({:.1} s) = {:.1} s",
        bound.creating_seconds(),
        bound.checking_reads(),
        bound.checking_seconds(),
        bound.bound_seconds()
    );
    println!(
        "  ratio T* / measured: {:.3} (target >= {TARGET_RATIO}); the quotas' steady-state ceiling would be {:.1} s",
        report.ratio(),
        bound.steady_state_seconds()
    );
    // Every fresh domain reads one page of Cloud Identity Free assignments before creating: the
    // subscription check that gates creation (BENCHMARKS.md, "one pacer for the project's
    // quotas"). T* leaves those reads out; Licensing alone needs them too.
    let licensing_reads = bound.checking_reads() + report.domains;
    let probing_floor = licensing_reads.saturating_sub(1) as f64;
    println!(
        "  with the {} subscription checks before creating, Licensing alone needs {licensing_reads} reads at 1 QPS = {:.0} s: T* / that = {:.3} is this design's ceiling; measured = {:.3} of that floor",
        report.domains,
        probing_floor,
        bound.bound_seconds() / probing_floor,
        probing_floor / report.elapsed.as_secs_f64()
    );
    if report.ledger_truncated {
        let span = report
            .ledger
            .first()
            .zip(report.ledger.last())
            .map_or(0.0, |(first, last)| {
                (last.at_ms - first.at_ms) as f64 / 1000.0
            });
        println!(
            "  the emulator kept only its newest {} ledger entries, the last {span:.0} s of the load: the calls and users counted below are those of that window",
            support_access_emulator::ledger::MAX_ENTRIES
        );
    }
    let api = report.api_calls();
    let by_method = report.calls_by_method();
    println!(
        "  API calls: {api} = {:.3} per account; answered other than 2xx (retried): {} = {:.4} per account",
        api as f64 / accounts,
        report.refused_calls(),
        report.refused_calls() as f64 / accounts
    );
    for (method, count) in &by_method {
        println!(
            "    {method:<52} {count:>7}  ({:.3} per account)",
            *count as f64 / accounts
        );
    }
    let refusals = report.refusals();
    if !refusals.is_empty() {
        println!("  answers other than 2xx: {refusals:?}");
    }
    let licensing: usize = by_method
        .iter()
        .filter(|(m, _)| m.starts_with("licensing."))
        .map(|(_, c)| c)
        .sum();
    println!(
        "  Licensing calls: {licensing} (at 1 QPS for the project, at least {licensing} s of the {:.0} s; T* counts {} of them)",
        report.elapsed.as_secs_f64(),
        bound.checking_reads()
    );
    let created = report.users_created();
    println!(
        "  users created in Google: {} distinct, {} created more than once",
        created.len(),
        created.values().filter(|n| **n > 1).count()
    );
    for (i, (memory, idle)) in report.replicas.iter().zip(report.idle_kib).enumerate() {
        println!(
            "  replica {}: RSS idle {:.1} MiB, before the load {:.1} MiB, peak during the load {:.1} MiB (VmHWM {:.1} MiB; target <= {TARGET_RSS_MIB}), after it {:.1} MiB",
            ["a", "b"][i],
            mib(idle),
            mib(memory.before_load_kib),
            mib(memory.peak_load_kib),
            mib(memory.hwm_kib),
            mib(memory.after_load_kib)
        );
    }
    println!(
        "  leases (sampled every second): replica a worked on {} domains, replica b on {}; at most {} domains at once",
        report.leases.domains_per_replica[0],
        report.leases.domains_per_replica[1],
        report.leases.most_at_once
    );
    let (idle, load) = (&report.probe_idle, &report.probe_load);
    let p50 = |latencies: &[Duration]| ms(quantile(latencies, 0.5));
    let p99 = |latencies: &[Duration]| ms(quantile(latencies, 0.99));
    println!(
        "  GetDomainStatus of the {}-account status domain: idle p50 {:.2} ms p99 {:.2} ms ({} calls); under load p50 {:.2} ms p99 {:.2} ms ({} calls); p99 ratio load/idle {:.2}",
        report.accounts,
        p50(&idle.status),
        p99(&idle.status),
        idle.status.len(),
        p50(&load.status),
        p99(&load.status),
        load.status.len(),
        p99(&load.status) / p99(&idle.status)
    );
    println!(
        "  control, health Check of the same replica after each: idle p50 {:.2} ms p99 {:.2} ms; under load p50 {:.2} ms p99 {:.2} ms ({} calls); p99 ratio load/idle {:.2}; {} probe calls failed under load",
        p50(&idle.health),
        p99(&idle.health),
        p50(&load.health),
        p99(&load.health),
        load.health.len(),
        p99(&load.health) / p99(&idle.health),
        load.errors
    );
    println!(
        "  under load, GetDomainStatus p99 / health Check p99 = {:.2} (idle: {:.2})",
        p99(&load.status) / p99(&load.health),
        p99(&idle.status) / p99(&idle.health)
    );
    println!(
        "  load average: before the load {} / {} / {}, after it {} / {} / {}",
        report.load_before.0,
        report.load_before.1,
        report.load_before.2,
        report.load_after.0,
        report.load_after.1,
        report.load_after.2
    );
}
