//! PostgreSQL restarted in the middle of an operation (issue 11's fault suite), end to end: the
//! real `support-access` binary, with a service-account key, provisions accounts on a real
//! `workspace-emulator` process and reaches PostgreSQL through a TCP proxy on loopback that the
//! test cuts (every connection closed, new ones refused: what a restart does to its clients)
//! and later restores. Judged by what the service answers during the outage, what the
//! emulator holds afterwards and what its ledger recorded. Prints its figures.
//!
//! Needs PostgreSQL at `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! and the workspace's binaries (`cargo build --workspace --bins`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;
use support_access_e2e::proxy::{PostgresProxy, database_url_via, postgres_addr};
use support_access_e2e::stack::{
    DOMAIN_A, PORTAL_ROLE, SERVICE_ACCOUNT, account, assert_provisioned, declare, outcome,
    provision, wait_done,
};
use support_access_e2e::{Emulator, Ledger, Service, admin_database_url, seed_path};
use support_access_proto::v1;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The readiness name of the API (a readinessProbe may ask for it, or for `""`).
const READINESS: &str = "supportaccess.v1.SupportAccessService";
/// The liveness name (what a livenessProbe asks for).
const LIVENESS: &str = "liveness";

async fn health(channel: &Channel, service: &str) -> Option<ServingStatus> {
    let mut health = HealthClient::new(channel.clone());
    let check = health.check(HealthCheckRequest {
        service: service.to_owned(),
    });
    // A health answer never waits for the database: a slow one counts as no answer.
    match tokio::time::timeout(Duration::from_secs(2), check).await {
        Ok(Ok(response)) => Some(response.into_inner().status()),
        _ => None,
    }
}

/// Successful `users.insert` calls per account.
fn inserts_ok(ledger: &Ledger) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for entry in ledger.entries.iter().filter(|e| {
        e.is_call() && e.method == "directory.users.insert" && e.outcome.starts_with("200")
    }) {
        *counts
            .entry(entry.natural_key.clone().unwrap_or_default())
            .or_default() += 1;
    }
    counts
}

/// 20 accounts provisioned on one domain (`users.insert` held 800 ms by the emulator, two Google
/// calls in flight per domain, so the operation takes several seconds); once four accounts
/// exist and the next two inserts are half-way through, PostgreSQL goes away for 8 s (the proxy
/// closes every connection and refuses new ones) and comes back. Those two inserts land in
/// Google while the database is away, so their outcome cannot be journaled: the resumed work
/// must find them done rather than insert again. Proves, while the database is away: an RPC
/// (`GetDomain`) answers UNAVAILABLE within the pool's acquire timeout (plus slack), readiness
/// (`supportaccess.v1.SupportAccessService` and `""`) turns NOT_SERVING, liveness stays SERVING
/// at every probe, and Google receives no write but those already in flight when it went away
/// (at most the step concurrency); once it is back: readiness is SERVING again, and the
/// operation finishes successfully with every account as desired in Google, exactly one
/// successful `users.insert`, one user created and one portal role assigned per account. Leases
/// are 5 s (`OUTAGE_LEASE` to change it), shorter than the outage, so the interrupted work is
/// free to resume as soon as the database answers again. Also prints the audit trail of the
/// inserts (those whose outcome event was lost with the database, and what followed).
#[tokio::test]
async fn postgres_restart_mid_provisioning_answers_unavailable_and_the_operation_completes() {
    const STAFF: usize = 20;
    const STEP_CONCURRENCY: usize = 2;
    const OUTAGE: Duration = Duration::from_secs(8);
    /// The service's default `--database-acquire-timeout`.
    const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
    // `OUTAGE_LEASE=30s` (the service's default) replays it with a lease that outlives the
    // outage: the interrupted work then waits for its own lease to lapse before it resumes.
    let lease = std::env::var("OUTAGE_LEASE").unwrap_or_else(|_| "5s".to_owned());
    let concurrency = STEP_CONCURRENCY.to_string();
    let flags = [
        "--lease",
        &lease,
        "--step-concurrency",
        &concurrency,
        "--reconcile-interval",
        "0s",
    ];

    let emulator = Emulator::start(&seed_path("resellers.yaml"), &[])
        .await
        .unwrap();
    let key = emulator.keygen(SERVICE_ACCOUNT).unwrap();
    let admin_url = admin_database_url();
    let proxy = PostgresProxy::start(postgres_addr(&admin_url)).await;
    let database = format!("sa_e2e_{}", uuid::Uuid::new_v4().simple());
    let mut args = emulator.server_args(&key);
    args.push("--insecure-dev-mode".into());
    args.extend(flags.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let service = Service::start_reaching_database(
        &database,
        &database_url_via(&admin_url, proxy.addr(), &database),
        &args,
        &[],
    )
    .await
    .unwrap();
    let channel = Channel::from_shared(format!("http://{}", service.address))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = service.client().await.unwrap();
    let (domain, customer) = DOMAIN_A;
    declare(&mut client, &[domain], STAFF).await;
    emulator
        .patch_knobs(json!({"latency": {"per_method_ms": {"directory.users.insert": 800}}}))
        .await
        .unwrap();
    let started = Instant::now();
    let operation = provision(
        &mut client,
        &[domain],
        &[],
        &uuid::Uuid::new_v4().to_string(),
    )
    .await;

    // In the middle of it: a few accounts exist, most do not.
    let deadline = Instant::now() + Duration::from_secs(60);
    let created_before = loop {
        let created = emulator
            .ledger()
            .await
            .unwrap()
            .effects_by_key("user", "created")
            .len();
        if created >= 4 {
            break created;
        }
        assert!(Instant::now() < deadline, "no account created within 60 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(created_before < STAFF, "the operation is already over");
    // Half an insert later: the next inserts are in the middle of their 800 ms.
    tokio::time::sleep(Duration::from_millis(400)).await;

    // PostgreSQL goes away.
    let connections_cut = proxy.open_connections();
    proxy.cut();
    let cut_at = Instant::now();
    let into_operation = started.elapsed();
    let cut_seq = emulator.ledger().await.unwrap().last_seq();

    let asked = Instant::now();
    let refused = tokio::time::timeout(
        Duration::from_secs(30),
        client.get_domain(v1::GetDomainRequest {
            name: format!("domains/{domain}"),
        }),
    )
    .await
    .expect("GetDomain hangs while PostgreSQL is away")
    .expect_err("GetDomain cannot answer without PostgreSQL");
    let unavailable_after = asked.elapsed();
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    assert!(
        unavailable_after < ACQUIRE_TIMEOUT + Duration::from_secs(2),
        "UNAVAILABLE took {unavailable_after:?}"
    );

    // Readiness turns NOT_SERVING; liveness stays SERVING at every probe of the outage.
    let mut not_ready_after = None;
    let mut liveness_probes = 0;
    while cut_at.elapsed() < OUTAGE {
        assert_eq!(
            health(&channel, LIVENESS).await,
            Some(ServingStatus::Serving),
            "liveness must not follow the database ({:?} into the outage)",
            cut_at.elapsed()
        );
        liveness_probes += 1;
        if not_ready_after.is_none()
            && health(&channel, READINESS).await == Some(ServingStatus::NotServing)
        {
            assert_eq!(health(&channel, "").await, Some(ServingStatus::NotServing));
            not_ready_after = Some(cut_at.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let not_ready_after = not_ready_after.expect("readiness stayed SERVING through the outage");
    let asked = Instant::now();
    let refused_later = client
        .get_domain(v1::GetDomainRequest {
            name: format!("domains/{domain}"),
        })
        .await
        .expect_err("still no PostgreSQL");
    let unavailable_later = asked.elapsed();
    assert_eq!(refused_later.code(), tonic::Code::Unavailable);

    // PostgreSQL is back.
    let restore_seq = emulator.ledger().await.unwrap().last_seq();
    proxy.restore();
    let restored_at = Instant::now();
    let ready_after = loop {
        if health(&channel, READINESS).await == Some(ServingStatus::Serving) {
            break restored_at.elapsed();
        }
        assert!(
            restored_at.elapsed() < Duration::from_secs(30),
            "readiness not back within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(health(&channel, "").await, Some(ServingStatus::Serving));
    client
        .get_domain(v1::GetDomainRequest {
            name: format!("domains/{domain}"),
        })
        .await
        .expect("GetDomain answers again");

    let done = wait_done(&service, &operation.name, Duration::from_secs(120)).await;
    let done_after = restored_at.elapsed();
    let (error, result) = outcome(&done);
    assert_eq!(error, None, "the operation failed: {:?}", result.accounts);
    assert_eq!(result.accounts.len(), STAFF);
    assert!(
        result
            .accounts
            .iter()
            .all(|a| a.state == v1::StepState::Done as i32),
        "{:?}",
        result.accounts
    );

    // Google: every account as desired, no duplicated effect.
    assert_provisioned(&emulator, (domain, customer), STAFF).await;
    let ledger = emulator.ledger().await.unwrap();
    let inserts = inserts_ok(&ledger);
    let users = ledger.effects_by_key("user", "created");
    let roles = ledger.effects_by_key("roleAssignment", "created");
    for i in 0..STAFF {
        let email = account(i, domain);
        assert_eq!(
            inserts.get(&email),
            Some(&1),
            "successful users.insert: {email}"
        );
        assert_eq!(users.get(&email), Some(&1), "users created: {email}");
        assert_eq!(
            roles.get(&format!("{PORTAL_ROLE}/{email}")),
            Some(&1),
            "role assignments: {email}"
        );
    }
    assert_eq!(
        inserts.len(),
        STAFF,
        "users.insert of other accounts: {inserts:?}"
    );
    let in_window = |from: u64, to: u64| {
        ledger
            .entries
            .iter()
            .filter(|e| e.seq > from && e.seq <= to && e.is_write_call())
            .count()
    };
    let writes_during = in_window(cut_seq, restore_seq);
    let writes_after = in_window(restore_seq, u64::MAX);
    assert!(
        writes_during <= STEP_CONCURRENCY,
        "{writes_during} Google writes while PostgreSQL was away: more than were in flight"
    );
    assert!(writes_after > 0, "no work was left for after the outage");

    // The audit trail of the `users.insert` calls (the intent before, the outcome after; a
    // failure to audit is logged and not fatal, by design): printed, not judged here.
    let every_audit: Vec<(String, String, String)> = {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&service.database_url)
            .await
            .unwrap();
        sqlx::query_as("SELECT method, target, outcome FROM audit_events ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .unwrap()
    };
    let audit: Vec<(String, String)> = every_audit
        .iter()
        .filter(|(method, _, _)| method == "google:directory.users.insert")
        .map(|(_, target, outcome)| (target.clone(), outcome.clone()))
        .collect();
    let mut audit_outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, outcome) in &audit {
        *audit_outcomes.entry(outcome.as_str()).or_default() += 1;
    }
    let unaudited: Vec<String> = (0..STAFF)
        .map(|i| account(i, domain))
        .filter(|email| {
            !audit
                .iter()
                .any(|(target, outcome)| target.contains(email.as_str()) && outcome == "OK")
        })
        .collect();
    let unaudited_events: Vec<String> = every_audit
        .iter()
        .filter(|(_, target, _)| {
            unaudited
                .iter()
                .any(|email| target.contains(email.as_str()))
        })
        .map(|(method, target, outcome)| format!("{method} {target} {outcome}"))
        .collect();

    println!(
        "lease {lease}; postgres cut {into_operation:?} into a {STAFF}-account provisioning ({created_before} \
         accounts created, {connections_cut} connections closed) for {OUTAGE:?}: GetDomain \
         UNAVAILABLE after {unavailable_after:?} (first) and {unavailable_later:?} (at the end), \
         readiness NOT_SERVING after {not_ready_after:?}, liveness SERVING at all \
         {liveness_probes} probes; {writes_during} Google writes during the outage (in flight); \
         restored: readiness SERVING after {ready_after:?}, operation done after {done_after:?} \
         ({writes_after} writes after); audit of users.insert {audit_outcomes:?}, successful \
         inserts without an OK audit event: {unaudited:?} (their audit events: \
         {unaudited_events:?}); outcomes {:?}",
        ledger.outcomes()
    );
}
