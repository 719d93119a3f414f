//! Every error class, produced by the emulator over real HTTP: what Google answers, how the
//! adapter classifies it, what it retries (and what it must not), and token failures.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Harness, RESELLER_ONE, RESELLER_TWO, SERVICE_ACCOUNT, new_user};
use support_access_emulator::{
    DuplicateRoleAssignment, FaultAction, FaultRule, NotReadyResponse, QuotaResponse, Seed,
};
use support_access_google::model::*;
use support_access_google::products::{
    CLOUD_IDENTITY_FREE_PRODUCT, CLOUD_IDENTITY_FREE_SKU, GOOGLE_WORKSPACE_PRODUCT,
};
use support_access_google::{
    Api, AuthFailure, DomainSpec, ErrorClass, GoogleClient, GoogleMethod, RetryPolicy,
    ServiceAccountCredential,
};

const BUSINESS_STANDARD: &str = "1010020028";

fn no_retries(config: &mut support_access_google::GoogleConfig) {
    config.retry.max_attempts = 1;
}

fn fault(method: &str, times: u32, action: FaultAction) -> FaultRule {
    FaultRule {
        method: method.into(),
        customer: None,
        probability: 1.0,
        skip: 0,
        times: Some(times),
        action,
    }
}

fn error(code: u16, reason: &str, message: &str) -> FaultAction {
    FaultAction::Error {
        code,
        reason: reason.into(),
        message: message.into(),
    }
}

#[tokio::test]
async fn duplicates_are_already_exists_and_are_not_retried() {
    let h = Harness::demo().await;
    let google = h.domain(RESELLER_ONE).await;

    let mut admin = new_user("admin", RESELLER_ONE);
    admin.primary_email = "admin@reseller-one.example".into();
    let e = google.users_insert(&admin).await.unwrap_err();
    assert_eq!(e.class(), &ErrorClass::AlreadyExists, "{e}");
    assert_eq!((e.status(), e.reason()), (Some(409), Some("duplicate")));

    let ou = NewOrgUnit {
        name: "Staff".into(),
        parent_org_unit_path: "/".into(),
        description: None,
    };
    let e = google.orgunits_insert(&ou).await.unwrap_err();
    assert_eq!(e.class(), &ErrorClass::AlreadyExists, "{e}");

    let user = google
        .users_get("sales@reseller-one.example")
        .await
        .unwrap();
    let role = google
        .roles_list()
        .collect_all()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.role_name == "_RESELLER_ADMIN_ROLE")
        .unwrap();
    let assignment = NewRoleAssignment {
        role_id: role.role_id,
        assigned_to: user.id,
        scope_type: ScopeType::Customer,
        org_unit_id: None,
    };
    google
        .role_assignments_insert(&assignment)
        .await
        .expect("first assignment");
    for variant in [
        DuplicateRoleAssignment::Conflict,
        DuplicateRoleAssignment::InternalError,
    ] {
        h.emulator
            .update_knobs(|k| k.role_assignment_duplicate = variant);
        let before = h.outcomes("directory.roleAssignments.insert").len();
        let e = google
            .role_assignments_insert(&assignment)
            .await
            .unwrap_err();
        assert_eq!(e.class(), &ErrorClass::AlreadyExists, "{variant:?}: {e}");
        assert_eq!(
            h.outcomes("directory.roleAssignments.insert").len(),
            before + 1,
            "{variant:?} must not be retried"
        );
    }
    assert_eq!(
        h.outcomes("directory.roleAssignments.insert")[1..],
        ["409 duplicate".to_owned(), "500 internalError".to_owned()]
    );
}

#[tokio::test]
async fn missing_things_are_not_found() {
    let h = Harness::demo().await;
    let google = h.domain(RESELLER_ONE).await;
    let cases = [
        google
            .users_get("nobody@reseller-one.example")
            .await
            .map(drop),
        google.orgunits_get("/No Such Unit").await.map(drop),
        google
            .license_assignments_get(
                GOOGLE_WORKSPACE_PRODUCT,
                BUSINESS_STANDARD,
                "nobody@reseller-one.example",
            )
            .await
            .map(drop),
        google.role_assignments_delete("123456789").await,
        google
            .reseller_customers_get("unknown-customer.example")
            .await
            .map(drop),
    ];
    for result in cases {
        let e = result.unwrap_err();
        assert_eq!(e.class(), &ErrorClass::NotFound, "{e}");
        assert_eq!(e.attempts(), 1, "not found is final: {e}");
    }
}

#[tokio::test]
async fn the_consistency_window_after_users_insert_is_not_yet_consistent_and_retried_through() {
    let window = Duration::from_millis(600);
    let h = Harness::start(Seed::demo(), no_retries).await;
    h.emulator.update_knobs(|k| {
        k.consistency.user_propagation_ms = window.as_millis() as u64;
        k.consistency.licensing_response = NotReadyResponse::NotFound;
        k.consistency.role_response = NotReadyResponse::ConditionNotMet;
        k.consistency.user_update_response = NotReadyResponse::ConditionNotMet;
        k.consistency.hide_from_users_get = true;
    });
    let google = h.domain(RESELLER_ONE).await;
    let created = google
        .users_insert(&new_user("fresh", RESELLER_ONE))
        .await
        .unwrap();
    let email = created.primary_email.clone();

    // Without retries: each call about the new user says "not yet", whatever Google's code.
    let get = google.users_get(&email).await.unwrap_err();
    assert_eq!(
        (get.class(), get.status()),
        (&ErrorClass::NotYetConsistent, Some(404)),
        "{get}"
    );
    let patch = google
        .users_patch(
            &email,
            &UserChanges {
                suspended: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        (patch.class(), patch.status()),
        (&ErrorClass::NotYetConsistent, Some(412)),
        "{patch}"
    );
    let license = google
        .license_assignments_get(CLOUD_IDENTITY_FREE_PRODUCT, CLOUD_IDENTITY_FREE_SKU, &email)
        .await
        .unwrap_err();
    assert_eq!(
        (license.class(), license.status()),
        (&ErrorClass::NotYetConsistent, Some(404)),
        "{license}"
    );
    let role = google
        .roles_list()
        .collect_all()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.role_name == "_RESELLER_ADMIN_ROLE")
        .unwrap();
    let assignment = NewRoleAssignment {
        role_id: role.role_id.clone(),
        assigned_to: created.id.clone(),
        scope_type: ScopeType::Customer,
        org_unit_id: None,
    };
    let assign = google
        .role_assignments_insert(&assignment)
        .await
        .unwrap_err();
    assert_eq!(
        (assign.class(), assign.status()),
        (&ErrorClass::NotYetConsistent, Some(412)),
        "{assign}"
    );
    // A user this process did not create: a 404 stays "not found".
    assert_eq!(
        google
            .users_get("stranger@reseller-one.example")
            .await
            .unwrap_err()
            .class(),
        &ErrorClass::NotFound
    );

    // With retries, the same calls go through once Google has caught up.
    let patient = Harness::start(Seed::demo(), |c| {
        c.retry = RetryPolicy {
            max_attempts: 30,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            deadline: Duration::from_secs(8),
        }
    })
    .await;
    patient.emulator.set_knobs(h.emulator.knobs());
    let google = patient.domain(RESELLER_ONE).await;
    let started = Instant::now();
    let created = google
        .users_insert(&new_user("fresh", RESELLER_ONE))
        .await
        .unwrap();
    let fetched = google
        .users_get(&created.primary_email)
        .await
        .expect("users.get retried through the window");
    assert_eq!(fetched.id, created.id);
    let role = google
        .roles_list()
        .collect_all()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.role_name == "_RESELLER_ADMIN_ROLE")
        .unwrap();
    google
        .role_assignments_insert(&NewRoleAssignment {
            role_id: role.role_id,
            assigned_to: created.id,
            ..assignment
        })
        .await
        .expect("assignment retried through the window");
    assert!(
        started.elapsed() >= window,
        "the window was really waited out"
    );
    let retries = patient.client.metrics().snapshot().total_retries();
    assert!(retries >= 1, "retries are counted");
    assert!(
        patient
            .outcomes("directory.users.get")
            .iter()
            .any(|o| o.starts_with("404"))
    );
}

#[tokio::test]
async fn quota_errors_are_rate_limited_and_retry_after_is_honoured() {
    let h = Harness::start(Seed::demo(), no_retries).await;
    h.emulator.update_knobs(|k| {
        k.quotas.enabled = true;
        k.quotas.directory_per_user_per_minute = 2;
        k.quotas.licensing_per_second = 0.5;
        k.quotas.licensing_burst = 1;
        k.quotas.licensing_response = QuotaResponse::TooManyRequests;
        k.quotas.reseller_per_second = 0.5;
        k.quotas.reseller_burst = 1;
        k.quotas.reseller_response = QuotaResponse::ServiceUnavailable;
    });
    let google = h.domain(RESELLER_ONE).await;

    // Directory: 403 userRateLimitExceeded after the bucket of 2 is spent.
    google
        .users_get("admin@reseller-one.example")
        .await
        .unwrap();
    google
        .users_get("admin@reseller-one.example")
        .await
        .unwrap();
    let e = google
        .users_get("admin@reseller-one.example")
        .await
        .unwrap_err();
    assert!(matches!(e.class(), ErrorClass::RateLimited { .. }), "{e}");
    assert_eq!(
        (e.status(), e.reason()),
        (Some(403), Some("userRateLimitExceeded"))
    );

    // Licensing: 429 with Retry-After.
    let lic = |g: &support_access_google::DomainClient| {
        let g = g.clone();
        async move {
            g.license_assignments_get(
                GOOGLE_WORKSPACE_PRODUCT,
                BUSINESS_STANDARD,
                "admin@reseller-one.example",
            )
            .await
        }
    };
    lic(&google).await.unwrap();
    let e = lic(&google).await.unwrap_err();
    assert_eq!(
        e.class(),
        &ErrorClass::RateLimited {
            retry_after: Some(Duration::from_secs(2))
        },
        "{e}"
    );
    assert_eq!(e.status(), Some(429));
    assert_eq!(
        google.quota_slowdown(Api::Licensing),
        2,
        "the bucket slowed down"
    );

    // Reseller: 503 is a quota error for this API.
    google.reseller_customers_get("acme.example").await.unwrap();
    let e = google
        .reseller_customers_get("acme.example")
        .await
        .unwrap_err();
    assert!(
        matches!(
            e.class(),
            ErrorClass::RateLimited {
                retry_after: Some(_)
            }
        ),
        "{e}"
    );
    assert_eq!(e.status(), Some(503));

    // With retries, nothing is sent before Retry-After has passed.
    let patient = Harness::start(Seed::demo(), |c| {
        c.retry.max_attempts = 3;
        c.retry.deadline = Duration::from_secs(10);
    })
    .await;
    patient.emulator.set_knobs(h.emulator.knobs());
    let google = patient.domain(RESELLER_ONE).await;
    lic(&google).await.unwrap();
    let started = Instant::now();
    lic(&google).await.expect("retried after Retry-After");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "waited {:?}, Retry-After said 2 s",
        started.elapsed()
    );
    assert_eq!(
        patient.outcomes("licensing.licenseAssignments.get").len(),
        3
    );
    let snapshot = patient.client.metrics().snapshot();
    assert_eq!(snapshot.calls(GoogleMethod::LicenseAssignmentsGet, "ok"), 2);
    assert_eq!(snapshot.quota(Api::Licensing).penalties, 1);
}

#[tokio::test]
async fn transient_failures_are_retried_and_duplicates_of_ambiguous_writes_detected() {
    let h = Harness::start(Seed::demo(), no_retries).await;
    let google = h.domain(RESELLER_ONE).await;
    h.emulator.update_knobs(|k| {
        k.faults = vec![fault(
            "directory.users.get",
            1,
            error(503, "backendError", "Backend Error"),
        )]
    });
    let e = google
        .users_get("admin@reseller-one.example")
        .await
        .unwrap_err();
    assert_eq!(
        (e.class(), e.status()),
        (&ErrorClass::Transient, Some(503)),
        "{e}"
    );
    h.emulator
        .update_knobs(|k| k.faults = vec![fault("directory.users.get", 1, FaultAction::Reset)]);
    let e = google
        .users_get("admin@reseller-one.example")
        .await
        .unwrap_err();
    assert_eq!(
        (e.class(), e.status()),
        (&ErrorClass::Transient, None),
        "{e}"
    );

    let h = Harness::start(Seed::demo(), |c| {
        c.request_timeout = Duration::from_millis(300)
    })
    .await;
    let google = h.domain(RESELLER_ONE).await;
    h.emulator.update_knobs(|k| {
        k.faults = vec![
            fault("directory.users.get", 1, FaultAction::Hang { ms: 2_000 }),
            fault(
                "directory.users.list",
                2,
                error(500, "internalError", "Internal error encountered."),
            ),
            fault(
                "directory.users.insert",
                1,
                FaultAction::ApplyThenError {
                    code: 503,
                    reason: "backendError".into(),
                    message: "Backend Error".into(),
                },
            ),
            fault(
                "licensing.licenseAssignments.delete",
                1,
                FaultAction::ApplyThenDrop,
            ),
        ]
    });
    google
        .users_get("admin@reseller-one.example")
        .await
        .expect("retried after a timeout");
    google
        .users_list(Default::default())
        .collect_all()
        .await
        .expect("retried after two 500s");

    // The insert took effect, but its answer was lost: the retry finds the duplicate.
    let e = google
        .users_insert(&new_user("once", RESELLER_ONE))
        .await
        .unwrap_err();
    assert_eq!(e.class(), &ErrorClass::AlreadyExists, "{e}");
    let outcomes = h.outcomes("directory.users.insert");
    assert!(
        outcomes[0].starts_with("503 backendError") && outcomes[1] == "409 duplicate",
        "{outcomes:?}"
    );
    let created = h
        .emulator
        .counters()
        .effects_by_key
        .get("user created once@reseller-one.example")
        .copied();
    assert_eq!(created, Some(1), "exactly one user was created");

    // The delete took effect and the connection dropped: the retry's 404 means done.
    google
        .license_assignments_delete(
            GOOGLE_WORKSPACE_PRODUCT,
            BUSINESS_STANDARD,
            "sales@reseller-one.example",
        )
        .await
        .expect("delete after an ambiguous failure");
    assert_eq!(h.outcomes("licensing.licenseAssignments.delete").len(), 2);

    let snapshot = h.client.metrics().snapshot();
    assert_eq!(snapshot.total_retries(), 5, "{snapshot:?}");
    assert_eq!(snapshot.attempts_with("transient"), 5);
}

/// Licensing answers 503 when it is over quota (so the adapter paces down), but a 503 is a
/// server error all the same: the delete may have been applied. Its retry's 404 means done.
#[tokio::test]
async fn a_licensing_delete_answered_503_after_it_applied_is_done_when_the_retry_finds_nothing() {
    let h = Harness::start(Seed::demo(), |_| {}).await;
    let google = h.domain(RESELLER_ONE).await;
    h.emulator.update_knobs(|k| {
        k.faults = vec![fault(
            "licensing.licenseAssignments.delete",
            1,
            FaultAction::ApplyThenError {
                code: 503,
                reason: "backendError".into(),
                message: "Service unavailable. Please try again".into(),
            },
        )]
    });
    google
        .license_assignments_delete(
            GOOGLE_WORKSPACE_PRODUCT,
            BUSINESS_STANDARD,
            "sales@reseller-one.example",
        )
        .await
        .expect("delete after a 503 that applied");
    let outcomes = h.outcomes("licensing.licenseAssignments.delete");
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert!(outcomes[1].starts_with("404"), "{outcomes:?}");
}

#[tokio::test]
async fn refusals_are_permission_denied_invalid_or_licenses_exhausted() {
    let h = Harness::start(Seed::demo(), no_retries).await;

    // sales@ exists and delegation is granted, but it is no admin.
    let not_admin = h
        .domain_as(RESELLER_ONE, "sales@reseller-one.example")
        .await;
    let e = not_admin
        .users_get("admin@reseller-one.example")
        .await
        .unwrap_err();
    assert_eq!(
        (e.class(), e.status()),
        (&ErrorClass::PermissionDenied, Some(403)),
        "{e}"
    );
    assert!(
        e.message().contains("sales@reseller-one.example")
            && e.message().contains("admin.directory.user"),
        "{e}"
    );

    let google = h.domain(RESELLER_ONE).await;
    let mut bad = new_user("bad", RESELLER_ONE);
    bad.name.given_name = "x".repeat(61);
    let e = google.users_insert(&bad).await.unwrap_err();
    assert_eq!(
        (e.class(), e.status()),
        (&ErrorClass::Invalid, Some(400)),
        "{e}"
    );
    let e = google
        .orgunits_insert(&NewOrgUnit {
            name: "Child".into(),
            parent_org_unit_path: "/No Parent".into(),
            description: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.class(), &ErrorClass::Invalid, "{e}");

    // 10 Business Standard seats, 2 used: fill them, then one more is refused.
    h.emulator
        .set_seats(RESELLER_ONE, GOOGLE_WORKSPACE_PRODUCT, BUSINESS_STANDARD, 2)
        .unwrap();
    google
        .users_insert(&new_user("seatless", RESELLER_ONE))
        .await
        .unwrap();
    let e = google
        .license_assignments_insert(
            GOOGLE_WORKSPACE_PRODUCT,
            BUSINESS_STANDARD,
            "seatless@reseller-one.example",
        )
        .await
        .unwrap_err();
    assert_eq!(
        (e.class(), e.status()),
        (&ErrorClass::LicensesExhausted, Some(412)),
        "{e}"
    );

    // The Cloud Identity user cap: users.insert itself is refused.
    let users = h.emulator.customer_state(RESELLER_ONE)["users"]
        .as_array()
        .unwrap()
        .len() as u32;
    h.emulator
        .set_seats(
            RESELLER_ONE,
            CLOUD_IDENTITY_FREE_PRODUCT,
            CLOUD_IDENTITY_FREE_SKU,
            users,
        )
        .unwrap();
    let e = google
        .users_insert(&new_user("capped", RESELLER_ONE))
        .await
        .unwrap_err();
    assert_eq!(e.class(), &ErrorClass::LicensesExhausted, "{e}");
}

/// A client for `domain` with `credential` and `admin`, and the token failure it gets.
async fn token_failure(
    h: &Harness,
    credential: ServiceAccountCredential,
    admin: &str,
) -> support_access_google::GoogleError {
    let google = h
        .client
        .domain(DomainSpec {
            domain: RESELLER_TWO.into(),
            delegated_admin: admin.into(),
            credential: Arc::new(credential),
            customer_id: None,
        })
        .await
        .expect("the key itself is usable");
    google.users_get(admin).await.unwrap_err()
}

#[tokio::test]
async fn token_failures_are_auth_errors_with_advice() {
    let mut seed = Seed::demo();
    // reseller-two grants only the user scope.
    seed.customers[1].delegations[0].scopes =
        vec!["https://www.googleapis.com/auth/admin.directory.user".into()];
    let h = Harness::start(seed, no_retries).await;
    let key = h
        .emulator
        .service_account_key_json(SERVICE_ACCOUNT)
        .unwrap();
    let credential = || ServiceAccountCredential::from_json(&key).unwrap();

    let google = h.domain(RESELLER_TWO).await;
    google
        .users_get("admin@reseller-two.example")
        .await
        .expect("granted scope works");
    let e = google.roles_list().collect_all().await.unwrap_err();
    assert_eq!(
        e.class(),
        &ErrorClass::Auth(AuthFailure::DelegationNotGranted),
        "{e}"
    );
    assert!(
        e.message().contains("grant domain-wide delegation for client id 108886453372197465014 with scopes https://www.googleapis.com/auth/admin.directory.user,"),
        "{e}"
    );

    let e = token_failure(&h, credential(), "nobody@reseller-two.example").await;
    assert_eq!(
        e.class(),
        &ErrorClass::Auth(AuthFailure::AdminInvalid),
        "{e}"
    );
    assert!(e.message().contains("nobody@reseller-two.example"), "{e}");

    // A key of the same account that Google does not know (deleted, or from elsewhere).
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.json");
    support_access_emulator::generate_key_file(
        &other,
        "demo-project",
        SERVICE_ACCOUNT,
        None,
        &h.emulator.token_url(),
    )
    .unwrap();
    let e = token_failure(
        &h,
        ServiceAccountCredential::from_file(&other).await.unwrap(),
        "admin@reseller-two.example",
    )
    .await;
    assert_eq!(
        e.class(),
        &ErrorClass::Auth(AuthFailure::KeyRejected),
        "{e}"
    );

    // Unusable keys fail before any call, without quoting the file.
    let mut broken: serde_json::Value = serde_json::from_str(&key).unwrap();
    broken["private_key"] =
        "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n".into();
    let e = h
        .client
        .domain(DomainSpec {
            domain: RESELLER_TWO.into(),
            delegated_admin: "admin@reseller-two.example".into(),
            credential: Arc::new(ServiceAccountCredential::from_json(&broken.to_string()).unwrap()),
            customer_id: None,
        })
        .await
        .unwrap_err();
    assert_eq!(
        e.class(),
        &ErrorClass::Auth(AuthFailure::KeyUnusable),
        "{e}"
    );
    let e = ServiceAccountCredential::from_json("{\"private_key\": \"secret-ish\", ").unwrap_err();
    assert_eq!(e.class(), &ErrorClass::Auth(AuthFailure::KeyUnusable));
    assert!(!e.to_string().contains("secret-ish"), "{e}");
    assert!(
        ServiceAccountCredential::from_file(dir.path().join("missing.json"))
            .await
            .is_err()
    );

    // An unreachable token endpoint is transient.
    let mut unreachable: serde_json::Value = serde_json::from_str(&key).unwrap();
    unreachable["token_uri"] = "http://127.0.0.1:9/token".into();
    let e = token_failure(
        &h,
        ServiceAccountCredential::from_json(&unreachable.to_string()).unwrap(),
        "admin@reseller-two.example",
    )
    .await;
    assert_eq!(e.class(), &ErrorClass::Transient, "{e}");
}

#[tokio::test]
async fn tokens_of_different_scopes_are_fetched_at_the_same_time() {
    const LATENCY_MS: u64 = 400;
    let h = Harness::demo().await;
    h.emulator.update_knobs(|k| k.latency.base_ms = LATENCY_MS);
    let google = h.domain(RESELLER_ONE).await;
    // Three scopes (users, role management, org units), two calls of the first.
    let (admin, again, roles, org_unit) = tokio::join!(
        google.users_get("admin@reseller-one.example"),
        google.users_get("admin@reseller-one.example"),
        google.roles_list().collect_all(),
        google.orgunits_get("/Does Not Exist"),
    );
    admin.unwrap();
    again.unwrap();
    roles.unwrap();
    assert_eq!(org_unit.unwrap_err().class(), &ErrorClass::NotFound);

    let tokens: Vec<u64> = h
        .emulator
        .ledger()
        .into_iter()
        .filter(|e| {
            e.kind == support_access_emulator::EntryKind::Call && e.method == "oauth2.token"
        })
        .map(|e| e.at_ms)
        .collect();
    assert_eq!(tokens.len(), 3, "one token per scope: {tokens:?}");
    // One after the other, each would be answered a whole latency after the one before.
    let spread = tokens.iter().max().unwrap() - tokens.iter().min().unwrap();
    assert!(
        spread < LATENCY_MS,
        "the three token requests overlapped: answered at {tokens:?} ms"
    );
}

#[tokio::test]
async fn tokens_are_cached_until_shortly_before_expiry_and_refreshed_after_a_401() {
    let h = Harness::demo().await;
    // yup-oauth2 renews a minute before expiry: a 61 s token is good for about 1 s.
    h.emulator.update_knobs(|k| k.tokens.lifetime_secs = 61);
    let google = h.domain(RESELLER_ONE).await;
    for _ in 0..5 {
        google
            .users_get("admin@reseller-one.example")
            .await
            .unwrap();
    }
    assert_eq!(
        h.outcomes("oauth2.token").len(),
        1,
        "one token for five calls"
    );
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    google
        .users_get("admin@reseller-one.example")
        .await
        .unwrap();
    assert_eq!(
        h.outcomes("oauth2.token").len(),
        2,
        "renewed shortly before expiry"
    );

    // The API refuses the token once: a fresh one is fetched and the call goes through.
    h.emulator.update_knobs(|k| {
        k.faults = vec![fault(
            "directory.users.get",
            1,
            error(401, "authError", "Invalid Credentials"),
        )]
    });
    google
        .users_get("admin@reseller-one.example")
        .await
        .expect("retried with a fresh token");
    assert_eq!(h.outcomes("oauth2.token").len(), 3);
    // Refused every time: an auth error after one refresh, not a loop.
    h.emulator.update_knobs(|k| {
        k.faults = vec![fault(
            "directory.users.get",
            100,
            error(401, "authError", "Invalid Credentials"),
        )]
    });
    let e = google
        .users_get("admin@reseller-one.example")
        .await
        .unwrap_err();
    assert_eq!(
        e.class(),
        &ErrorClass::Auth(AuthFailure::TokenRejected),
        "{e}"
    );
    assert_eq!(e.attempts(), 2);
    let _ = GoogleClient::new(Default::default()).expect("default config builds");
}

/// Refuses every attempt after the first `allowed`, and bounds the permitted ones by a deadline.
struct CountingGuard {
    allowed: std::sync::atomic::AtomicU32,
    deadline: tokio::time::Instant,
}

impl support_access_google::SendGuard for CountingGuard {
    fn permit(
        &self,
        _method: support_access_google::GoogleMethod,
    ) -> Result<tokio::time::Instant, String> {
        use std::sync::atomic::Ordering;
        let left = self.allowed.load(Ordering::SeqCst);
        if left == 0 {
            return Err("the lease lapsed".into());
        }
        self.allowed.store(left - 1, Ordering::SeqCst);
        Ok(self.deadline)
    }
}

#[tokio::test]
async fn a_guard_stops_retries_and_bounds_each_attempt() {
    let h = Harness::demo().await;
    let google = h.domain(RESELLER_ONE).await;
    google
        .users_get("admin@reseller-one.example")
        .await
        .unwrap();
    // A 503 first: the adapter would retry, but the guard permits only one attempt.
    h.emulator.update_knobs(|k| {
        k.faults = vec![fault(
            "directory.users.update",
            1,
            error(503, "backendError", "Backend Error"),
        )]
    });
    let guarded = google.guarded(std::sync::Arc::new(CountingGuard {
        allowed: 1.into(),
        deadline: tokio::time::Instant::now() + Duration::from_secs(30),
    }));
    let changes = UserChanges {
        suspended: Some(true),
        ..UserChanges::default()
    };
    let e = guarded
        .users_update("admin@reseller-one.example", &changes)
        .await
        .unwrap_err();
    assert_eq!(e.class(), &ErrorClass::NotSent, "{e}");
    assert!(e.to_string().contains("the lease lapsed"), "{e}");
    assert_eq!(
        h.outcomes("directory.users.update").len(),
        1,
        "the retry was never sent"
    );

    // A permitted attempt cannot outlive the guard's deadline: a hanging call is cut there.
    h.emulator.update_knobs(|k| {
        k.faults = vec![fault(
            "directory.users.get",
            1,
            FaultAction::Hang { ms: 5_000 },
        )]
    });
    let guarded = google.guarded(std::sync::Arc::new(CountingGuard {
        allowed: 1.into(),
        deadline: tokio::time::Instant::now() + Duration::from_millis(300),
    }));
    let started = std::time::Instant::now();
    let e = guarded
        .users_get("admin@reseller-one.example")
        .await
        .unwrap_err();
    assert_eq!(
        e.class(),
        &ErrorClass::NotSent,
        "the retry after the timeout is refused: {e}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
