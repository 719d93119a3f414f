//! Client-side rate limiting against the emulator's quotas: a run at the configured quota sees
//! no quota error at all (while the same run without the limiter does), and when Google still
//! says 429 the bucket slows down and the run completes.

mod common;

use std::time::{Duration, Instant};

use common::{Harness, RESELLER_ONE, RESELLER_TWO};
use futures::future::join_all;
use support_access_emulator::{QuotaResponse, Seed};
use support_access_google::{Api, DomainClient, GoogleConfig, Rate};

const LICENSING_CALLS: usize = 60;
const RESELLER_CALLS: usize = 40;
const DIRECTORY_CALLS: usize = 100;

fn emulator_quotas(h: &Harness) {
    h.emulator.update_knobs(|k| {
        k.quotas.enabled = true;
        k.quotas.directory_per_user_per_minute = 2400;
        k.quotas.licensing_per_second = 20.0;
        k.quotas.licensing_burst = 10;
        k.quotas.licensing_response = QuotaResponse::TooManyRequests;
        k.quotas.reseller_per_second = 20.0;
        k.quotas.reseller_burst = 10;
        k.quotas.reseller_response = QuotaResponse::ServiceUnavailable;
    });
}

/// Licensing, Reseller and Directory calls from two domains at once (one Cloud project, so
/// Licensing and Reseller share their quota). Returns how many failed.
async fn workload(one: &DomainClient, two: &DomainClient) -> usize {
    let mut calls: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>> =
        Vec::new();
    for i in 0..LICENSING_CALLS {
        let (google, admin) = if i % 2 == 0 {
            (one.clone(), "admin@reseller-one.example")
        } else {
            (two.clone(), "admin@reseller-two.example")
        };
        calls.push(Box::pin(async move {
            google
                .license_assignments_get("Google-Apps", "1010020028", admin)
                .await
                .is_ok()
        }));
    }
    for i in 0..RESELLER_CALLS {
        let (google, customer) = if i % 2 == 0 {
            (one.clone(), "acme.example")
        } else {
            (two.clone(), "initech.example")
        };
        calls.push(Box::pin(async move {
            google.reseller_customers_get(customer).await.is_ok()
        }));
    }
    for _ in 0..DIRECTORY_CALLS {
        let google = one.clone();
        calls.push(Box::pin(async move {
            google.users_get("sales@reseller-one.example").await.is_ok()
        }));
    }
    join_all(calls).await.into_iter().filter(|ok| !ok).count()
}

#[tokio::test]
async fn a_run_at_the_configured_quota_sees_no_quota_errors() {
    // Control: without client-side limits and without retries, the emulator refuses calls.
    let unlimited = Harness::start(Seed::demo(), |c| c.retry.max_attempts = 1).await;
    emulator_quotas(&unlimited);
    let failed = workload(
        &unlimited.domain(RESELLER_ONE).await,
        &unlimited.domain(RESELLER_TWO).await,
    )
    .await;
    assert!(
        failed > 0 && unlimited.quota_errors() > 0,
        "the control run must hit the quota"
    );
    eprintln!(
        "control run without client-side limits: {failed} calls failed, {} quota errors",
        unlimited.quota_errors()
    );

    // The same run with the client configured at the emulator's quota.
    let limited = Harness::start(Seed::demo(), |c: &mut GoogleConfig| {
        c.retry.max_attempts = 1;
        c.quotas = Default::default();
        c.quotas.licensing_per_project = Rate::new(20, Duration::from_secs(1), 5);
        c.quotas.reseller_per_project = Rate::new(20, Duration::from_secs(1), 5);
    })
    .await;
    emulator_quotas(&limited);
    let started = Instant::now();
    let failed = workload(
        &limited.domain(RESELLER_ONE).await,
        &limited.domain(RESELLER_TWO).await,
    )
    .await;
    let elapsed = started.elapsed();
    assert_eq!(failed, 0);
    assert_eq!(limited.quota_errors(), 0, "no quota error at all");
    let snapshot = limited.client.metrics().snapshot();
    assert_eq!(snapshot.total_retries(), 0);
    assert!(
        snapshot.quota(Api::Licensing).waits > 0,
        "licensing calls waited for quota: {snapshot:?}"
    );
    // 60 licensing calls at 20/s after a burst of 5: at least (60 - 5) / 20 s.
    assert!(elapsed >= Duration::from_millis(2_700), "{elapsed:?}");
    eprintln!(
        "clean run: {} calls in {elapsed:?}; licensing waited {:?} over {} calls",
        LICENSING_CALLS + RESELLER_CALLS + DIRECTORY_CALLS,
        snapshot.quota(Api::Licensing).waited,
        snapshot.quota(Api::Licensing).waits
    );
}

#[tokio::test]
async fn the_bucket_slows_down_when_google_still_says_429() {
    let h = Harness::start(Seed::demo(), |c| {
        c.retry.max_attempts = 10;
        c.retry.deadline = Duration::from_secs(20);
        c.quotas.licensing_per_project = Rate::new(40, Duration::from_secs(1), 1);
        c.quotas.max_slowdown_factor = 8;
        c.quotas.recovery_after_successes = 1_000;
    })
    .await;
    h.emulator.update_knobs(|k| {
        k.quotas.enabled = true;
        k.quotas.licensing_per_second = 10.0;
        k.quotas.licensing_burst = 1;
        k.quotas.licensing_response = QuotaResponse::TooManyRequests;
    });
    let google = h.domain(RESELLER_ONE).await;
    for _ in 0..15 {
        google
            .license_assignments_get("Google-Apps", "1010020028", "admin@reseller-one.example")
            .await
            .expect("every call completes");
    }
    let penalties = h
        .client
        .metrics()
        .snapshot()
        .quota(Api::Licensing)
        .penalties;
    assert!(penalties >= 1, "Google said 429 at the start");
    assert!(
        google.quota_slowdown(Api::Licensing) >= 4,
        "40/s halved at least twice to get under 10/s"
    );
    assert!(
        h.quota_errors() as u64 == penalties && penalties <= 4,
        "{penalties} quota errors, then none"
    );
}
