//! The scale scenario, small, in CI: the same run as the `bench-scale` benchmark
//! ([`support_access_e2e::scale`]: two replicas on one database, the emulator enforcing Google's
//! quotas, staff declared in batches, every domain in one operation, status measured meanwhile)
//! with the debug build `cargo build --workspace --bins` made, on 20 domains × 500 accounts.
//! It asserts that everything converged, never how long it took: the operation succeeded with
//! every account DONE, every account of every domain converged (OK, or waiting
//! only for the manual mail-routing step that Google offers no API for), Google holds each account once and
//! got exactly one `users.insert` for it, both replicas did part of the work, and their Licensing
//! calls kept apart (the replicas pace its project-wide quota of 1 query per second together,
//! through Postgres; each pacing it alone, 8 × 100 saw 7 refusals and took 144 s instead of
//! 59 s).

use std::time::Duration;

use support_access_e2e::scale::{self, ScaleConfig};
use support_access_e2e::workspace_binary;

const DOMAINS: usize = 20;
const ACCOUNTS: usize = 500;

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_provision_twenty_domains_of_500_accounts_under_google_quotas() {
    let binary = workspace_binary("support-access");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build --workspace --bins` first",
        binary.display()
    );
    let logs = tempfile::tempdir().unwrap();
    let config = ScaleConfig {
        domains: DOMAINS,
        accounts: ACCOUNTS,
        service_binary: binary,
        server_flags: scale::default_server_flags(),
        idle_status_calls: 50,
        status_pause: Duration::from_millis(100),
        // A limit to fail rather than hang; no claim about time.
        limit: Duration::from_secs(1200),
        progress: false,
        log_dir: logs.path().to_owned(),
    };
    let report = scale::run(&config).await.unwrap();

    assert_eq!(report.operation_error, None);
    let expected = (DOMAINS * ACCOUNTS) as i32;
    assert_eq!(report.operation_accounts, (expected, expected));
    assert_eq!(report.domain_counts.len(), DOMAINS);
    for counts in &report.domain_counts {
        assert!(
            counts.converged(ACCOUNTS),
            "every account of {} converged: {counts:?}",
            counts.domain
        );
    }

    // Google's side: one users.insert per account, each account created once.
    let inserts = report
        .calls_by_method()
        .get("directory.users.insert")
        .copied()
        .unwrap_or(0);
    assert_eq!(inserts, DOMAINS * ACCOUNTS, "one users.insert per account");
    let created = report.users_created();
    assert_eq!(created.len(), DOMAINS * ACCOUNTS);
    assert!(created.values().all(|n| *n == 1));
    for i in [0, ACCOUNTS - 1] {
        let (_, username) = scale::staff(i);
        for d in [1, DOMAINS] {
            let email = format!("{username}@{}", scale::domain_name(d));
            assert_eq!(created.get(email.as_str()), Some(&1), "{email} created");
        }
    }

    // The replicas share Google's project-wide Licensing quota (1 query per second, no burst)
    // through one pacer: no two Licensing calls of theirs reach Google less than half a second
    // apart. (Calls can still reach it a little closer than a second when one of them was
    // delayed on its way, on a busy machine, and Google refuses that one; each replica pacing
    // alone, their calls interleaved at random and 7 were refused on 8 x 100.)
    let licensing: Vec<_> = report
        .ledger
        .iter()
        .filter(|e| e.method.starts_with("licensing."))
        .collect();
    let too_close: Vec<String> = licensing
        .windows(2)
        .filter(|pair| pair[1].at_ms < pair[0].at_ms + 500)
        .map(|pair| {
            format!(
                "{} {} ms after the previous Licensing call",
                pair[1].outcome,
                pair[1].at_ms - pair[0].at_ms
            )
        })
        .collect();
    assert_eq!(too_close, Vec::<String>::new(), "Licensing calls too close");
    let refused = licensing
        .iter()
        .filter(|e| !e.outcome.starts_with('2'))
        .count();
    eprintln!(
        "{} Licensing calls, {refused} refused as too fast",
        licensing.len()
    );

    // Both replicas worked.
    let [a, b] = report.leases.domains_per_replica;
    assert!(a > 0 && b > 0, "domains worked on per replica: {a} and {b}");

    // The status was measured under the load, and answered every time.
    assert!(!report.probe_load.status.is_empty());
    assert!(!report.probe_load.health.is_empty());
    assert_eq!(report.probe_load.errors, 0);
}
