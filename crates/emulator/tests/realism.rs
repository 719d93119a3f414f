//! The `realistic` profile: each new user reaches Licensing and role assignment after its own
//! log-normal delay, and until then Google's transient errors come back with their exact bodies.
//! A large time scale keeps the same shape fast; a fixed generator seed makes the delays known
//! in advance, so the tests check the moment each call starts to succeed.

mod common;

use std::time::{Duration, Instant};

use common::{ADMIN_TWO, Api};
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use serde_json::{Value, json};
use support_access_emulator::{Profile, Propagation, Seed};

const LICENSE: &str = "apps/licensing/v1/product/Google-Apps/sku/1010020028/user";
const ASSIGNMENTS: &str = "admin/directory/v1/customer/my_customer/roleassignments";
const TIME_SCALE: f64 = 50.0;

/// The first generator seed whose two draws (licensing, roles) both lie in `range`, and those
/// draws: the emulator draws them in this order for the first user created after the seed is set.
fn seed_with_delays(range: std::ops::Range<Duration>) -> (u64, Duration, Duration) {
    let settings = Propagation {
        time_scale: TIME_SCALE,
        ..Propagation::default()
    };
    (0..10_000)
        .find_map(|seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            let licensing = settings.draw(&settings.licensing, &mut rng);
            let roles = settings.draw(&settings.roles, &mut rng);
            (range.contains(&licensing) && range.contains(&roles))
                .then_some((seed, licensing, roles))
        })
        .expect("some seed gives delays in range")
}

/// Whether `body` is one of Google's answers for a user that has not propagated yet.
fn assert_transient(body: &Value, allowed: &[(u64, &str, &str)]) {
    let error = &body["error"];
    let found = (
        error["code"].as_u64().unwrap_or_default(),
        error["errors"][0]["reason"].as_str().unwrap_or_default(),
        error["message"].as_str().unwrap_or_default(),
    );
    assert!(
        allowed.contains(&found),
        "unexpected answer while propagating: {body}"
    );
    assert_eq!(error["errors"][0]["message"], error["message"], "{body}");
    assert_eq!(error["errors"][0]["domain"], "global", "{body}");
    let status = match found.0 {
        400 => "INVALID_ARGUMENT",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        _ => "FAILED_PRECONDITION",
    };
    assert_eq!(error["status"], status, "{body}");
}

/// Calls `call` every 20 ms until it answers 200; returns when it did (since `created`) and
/// every earlier answer.
async fn poll_until_ok<F, Fut>(created: Instant, mut call: F) -> (Duration, Vec<Value>)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = common::Answer>,
{
    let mut failures = Vec::new();
    loop {
        let answer = call().await;
        if answer.status == 200 {
            return (created.elapsed(), failures);
        }
        failures.push(answer.body);
        assert!(
            created.elapsed() < Duration::from_secs(10),
            "never propagated"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn reseller_admin_role_id(api: &Api) -> String {
    let roles = api
        .get("admin/directory/v1/customer/my_customer/roles")
        .await;
    roles.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["roleName"] == "_RESELLER_ADMIN_ROLE")
        .unwrap()["roleId"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_new_user_reaches_licensing_and_roles_after_its_drawn_delay() {
    let (seed, licensing_delay, roles_delay) =
        seed_with_delays(Duration::from_millis(400)..Duration::from_millis(1500));
    let emulator = common::demo().await;
    emulator.update_knobs(|k| {
        k.profile = Profile::Realistic;
        k.propagation.time_scale = TIME_SCALE;
        k.propagation.rng_seed = Some(seed);
    });
    let api = Api::new(&emulator, ADMIN_TWO).await;
    let role_id = reseller_admin_role_id(&api).await;
    let before_create = Instant::now();
    let user = api.create_user("slow@reseller-two.example", "/").await;
    let created = Instant::now();
    let user_id = user["id"].as_str().unwrap().to_owned();

    // A license that is not there (yet) reads as Google's 404, never as another answer.
    let get = api
        .get(&format!("{LICENSE}/slow@reseller-two.example"))
        .await;
    assert_transient(
        &get.body,
        &[(
            404,
            "notFound",
            "User does not have a license for specified sku and product",
        )],
    );

    let (licensed_after, license_failures) = poll_until_ok(created, || {
        api.post(LICENSE, json!({"userId": "slow@reseller-two.example"}))
    })
    .await;
    let (assigned_after, role_failures) = poll_until_ok(created, || {
        api.post(
            ASSIGNMENTS,
            json!({"roleId": role_id, "assignedTo": user_id, "scopeType": "CUSTOMER"}),
        )
    })
    .await;

    // Not before the drawn delay (measured from before the create, so never too late), and not
    // much after it (20 ms polling plus scheduling on a busy machine).
    let slack = Duration::from_millis(600);
    assert!(
        licensed_after + (created - before_create) >= licensing_delay,
        "licensed after {licensed_after:?}, drawn {licensing_delay:?}"
    );
    assert!(
        licensed_after <= licensing_delay + slack,
        "licensed after {licensed_after:?}, drawn {licensing_delay:?}"
    );
    assert!(
        assigned_after <= roles_delay.max(licensed_after) + slack,
        "assigned after {assigned_after:?}, drawn {roles_delay:?}"
    );
    assert!(!license_failures.is_empty(), "no transient licensing error");
    for body in &license_failures {
        assert_transient(
            body,
            &[
                (412, "conditionNotMet", "User creation is not complete."),
                (400, "invalid", "Invalid Input: userId"),
                (
                    403,
                    "forbidden",
                    "Not Authorized to access this resource/api",
                ),
            ],
        );
    }
    if roles_delay > licensed_after + slack {
        assert!(!role_failures.is_empty(), "no transient role error");
    }
    for body in &role_failures {
        assert_transient(
            body,
            &[
                (412, "conditionNotMet", "User creation is not complete."),
                (400, "invalid", "Invalid Input: resource_id"),
                (
                    403,
                    "forbidden",
                    "Not Authorized to access this resource/api",
                ),
            ],
        );
    }
    // Every answer Google gives here shows up over enough calls.
    let reasons: std::collections::BTreeSet<&str> = license_failures
        .iter()
        .map(|b| b["error"]["errors"][0]["reason"].as_str().unwrap())
        .collect();
    if license_failures.len() >= 10 {
        assert!(reasons.len() >= 2, "always the same answer: {reasons:?}");
    }
    // The effects land once each.
    let counters = emulator.counters();
    assert_eq!(
        counters.effects_by_key["licenseAssignment created Google-Apps/1010020028/slow@reseller-two.example"],
        1
    );
    assert_eq!(
        counters.effects_by_key["roleAssignment created _RESELLER_ADMIN_ROLE/slow@reseller-two.example"],
        1
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_same_generator_seed_gives_the_same_delays() {
    let mut seen = Vec::new();
    for _ in 0..2 {
        let emulator = common::demo().await;
        emulator.update_knobs(|k| {
            k.profile = Profile::Realistic;
            k.propagation.time_scale = 1000.0;
            k.propagation.rng_seed = Some(42);
        });
        let api = Api::new(&emulator, ADMIN_TWO).await;
        api.create_user("repeat@reseller-two.example", "/").await;
        let created = Instant::now();
        let (after, _) = poll_until_ok(created, || {
            api.post(LICENSE, json!({"userId": "repeat@reseller-two.example"}))
        })
        .await;
        seen.push(after);
        emulator.shutdown().await;
    }
    let mut rng = StdRng::seed_from_u64(42);
    let settings = Propagation {
        time_scale: 1000.0,
        ..Propagation::default()
    };
    let drawn = settings.draw(&settings.licensing, &mut rng);
    for after in seen {
        assert!(
            after <= drawn + Duration::from_millis(200),
            "{after:?} vs drawn {drawn:?}"
        );
    }
}

#[tokio::test]
async fn seeded_users_and_the_idle_profile_are_not_delayed() {
    let emulator = common::demo().await;
    let api = Api::new(&emulator, ADMIN_TWO).await;
    // Idle (the default): a new user is licensable at once.
    api.create_user("quick@reseller-two.example", "/").await;
    let answer = api
        .post(LICENSE, json!({"userId": "quick@reseller-two.example"}))
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    // Realistic applies to users created from then on, never to users that already exist.
    emulator.update_knobs(|k| k.profile = Profile::Realistic);
    let answer = api
        .post(LICENSE, json!({"userId": "admin@reseller-two.example"}))
        .await;
    assert_ne!(answer.status, 412, "{:?}", answer.body);
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_profile_is_set_from_the_seed_and_the_control_api() {
    let mut seed = Seed::demo();
    seed.profile = Some(Profile::Realistic);
    let emulator = common::start(seed).await;
    assert_eq!(emulator.knobs().profile, Profile::Realistic);
    let http = reqwest::Client::new();
    let url = format!("{}emulator/v1/knobs", emulator.base_url());
    let answer = http
        .patch(&url)
        .json(&json!({"profile": "idle", "propagation": {"time_scale": 10.0, "rng_seed": 5}}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
    let knobs = emulator.knobs();
    assert_eq!(knobs.profile, Profile::Idle);
    assert_eq!(knobs.propagation.time_scale, 10.0);
    assert_eq!(knobs.propagation.rng_seed, Some(5));
    assert_eq!(
        knobs.propagation.licensing.median_ms, 8_000,
        "untouched fields keep Google's figures"
    );
    let answer = http
        .patch(&url)
        .json(&json!({"profile": "chaotic"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400, "an unknown profile is refused");
    emulator.shutdown().await;

    let yaml = "customers: [{domain: a.example}]\nprofile: realistic\n";
    let seed = Seed::from_yaml_str(yaml).unwrap();
    assert_eq!(seed.knobs_in_force().profile, Profile::Realistic);
}

#[tokio::test]
async fn licensing_has_no_batch_endpoint() {
    let part = |id: u32, request: &str| {
        format!(
            "--XYZ\r\nContent-Type: application/http\r\nContent-ID: <b + {id}>\r\n\r\n{request}\r\n"
        )
    };
    let body = [
        part(
            1,
            "GET /apps/licensing/v1/product/Google-Apps/sku/1010020028/user/admin@reseller-two.example HTTP/1.1\r\n",
        ),
        part(2, "GET /admin/directory/v1/users/sales@reseller-two.example HTTP/1.1\r\n"),
        "--XYZ--\r\n".to_owned(),
    ]
    .concat();
    let mut seed = Seed::demo();
    seed.roots.licensing = "/lic/".to_owned();
    let emulator = common::start(seed).await;
    let token = common::token_for(&emulator, ADMIN_TWO, &common::all_scopes()).await;
    let post = |path: &str| {
        reqwest::Client::new()
            .post(format!("{}{path}", emulator.base_url()))
            .bearer_auth(&token)
            .header("Content-Type", "multipart/mixed; boundary=XYZ")
            .body(body.clone())
            .send()
    };
    // Licensing's own batch paths do not exist.
    for path in ["lic/batch", "batch/licensing/v1"] {
        let response = post(path).await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["message"], "Not Found", "{path}");
    }
    // Directory's batch carries Directory calls only; a Licensing part is not routed.
    let lic_part = part(
        1,
        "GET /lic/apps/licensing/v1/product/Google-Apps/sku/1010020028/user/admin@reseller-two.example HTTP/1.1\r\n",
    );
    let directory_part = part(
        2,
        "GET /admin/directory/v1/users/sales@reseller-two.example HTTP/1.1\r\n",
    );
    let response = reqwest::Client::new()
        .post(format!("{}batch/admin/directory_v1", emulator.base_url()))
        .bearer_auth(&token)
        .header("Content-Type", "multipart/mixed; boundary=XYZ")
        .body(format!("{lic_part}{directory_part}--XYZ--\r\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(
        text.contains("Content-ID: <response-b + 1>\r\n\r\nHTTP/1.1 404 Not Found"),
        "{text}"
    );
    assert!(
        text.contains("Content-ID: <response-b + 2>\r\n\r\nHTTP/1.1 200 OK"),
        "{text}"
    );
    assert_eq!(
        emulator
            .counters()
            .calls_by_method
            .get("licensing.licenseAssignments.get"),
        None,
        "the licensing part never reached Licensing"
    );
    emulator.shutdown().await;
}
