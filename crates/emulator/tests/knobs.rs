//! Each realism knob shows Google's behaviour: quotas as token buckets (403
//! userRateLimitExceeded, 429 and 503 with Retry-After, 403 quotaExceeded for concurrency),
//! latency, the eventual-consistency window after users.insert, injected faults (errors,
//! hangs, resets, apply-then-fail, apply-then-drop, scripts), and the 500 variant of a
//! duplicate role assignment. Windows are a few hundred milliseconds to keep the suite fast.

mod common;

use std::time::{Duration, Instant};

use common::{ADMIN_ONE, ADMIN_TWO, Api};
use serde_json::{Value, json};
use support_access_emulator::{
    DuplicateRoleAssignment, EntryKind, FaultAction, FaultRule, FaultScript, NotReadyResponse,
    QuotaResponse,
};

const ME: &str = "admin/directory/v1/customers/my_customer";

fn error_rule(method: &str, code: u16, reason: &str) -> FaultRule {
    FaultRule {
        method: method.to_owned(),
        customer: None,
        probability: 1.0,
        skip: 0,
        times: None,
        action: FaultAction::Error {
            code,
            reason: reason.to_owned(),
            message: "Backend Error".to_owned(),
        },
    }
}

fn new_user(email: &str) -> Value {
    json!({
        "primaryEmail": email,
        "name": {"givenName": "New", "familyName": "User"},
        "password": "0123456789abcdef",
    })
}

#[tokio::test]
async fn directory_quota_gives_user_rate_limit_exceeded_then_recovers() {
    let emulator = common::demo().await;
    emulator.update_knobs(|k| {
        k.quotas.enabled = true;
        // 60 per minute: a bucket of 60 that refills one per second.
        k.quotas.directory_per_user_per_minute = 60;
    });
    let api = Api::new(&emulator, ADMIN_ONE).await;
    for call in 0..60 {
        assert_eq!(api.get(ME).await.status, 200, "call {call} is within quota");
    }
    let refused = api.get(ME).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.reason(), "userRateLimitExceeded");
    assert_eq!(refused.body["error"]["errors"][0]["domain"], "usageLimits");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Queries per minute per user")
    );
    // The quota is per user: another admin is not affected.
    let other = Api::new(&emulator, ADMIN_TWO).await;
    assert_eq!(other.get(ME).await.status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        api.get(ME).await.status,
        200,
        "a token is back after a second"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn licensing_one_qps_with_429_and_retry_after() {
    let emulator = common::demo().await;
    emulator.update_knobs(|k| {
        k.quotas.enabled = true;
        k.quotas.licensing_response = QuotaResponse::TooManyRequests;
    });
    let api = Api::new(&emulator, ADMIN_TWO).await;
    let customer_id = emulator.customer_id("reseller-two.example").unwrap();
    let list = format!("apps/licensing/v1/product/101001/users?customerId={customer_id}");
    assert_eq!(api.get(&list).await.status, 200);
    let refused = api.get(&list).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.body["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(refused.headers["retry-after"], "1");
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(api.get(&list).await.status, 200);
    emulator.shutdown().await;
}

#[tokio::test]
async fn licensing_quota_defaults_to_403_user_rate_limit_exceeded() {
    let emulator = common::demo().await;
    emulator.update_knobs(|k| k.quotas.enabled = true);
    let api = Api::new(&emulator, ADMIN_TWO).await;
    let get =
        "apps/licensing/v1/product/Google-Apps/sku/1010020028/user/sales@reseller-two.example";
    assert_eq!(api.get(get).await.status, 200);
    let refused = api.get(get).await;
    assert_eq!(
        (refused.status, refused.reason()),
        (403, "userRateLimitExceeded")
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn reseller_quota_gives_503_with_retry_after() {
    let emulator = common::demo().await;
    emulator.update_knobs(|k| {
        k.quotas.enabled = true;
        k.quotas.reseller_per_second = 2.0;
        k.quotas.reseller_burst = 2;
    });
    let api = Api::new(&emulator, ADMIN_ONE).await;
    assert_eq!(api.get("apps/reseller/v1/subscriptions").await.status, 200);
    assert_eq!(api.get("apps/reseller/v1/subscriptions").await.status, 200);
    let refused = api.get("apps/reseller/v1/subscriptions").await;
    assert_eq!(refused.status, 503);
    assert!(refused.headers.contains_key("retry-after"));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(api.get("apps/reseller/v1/subscriptions").await.status, 200);
    emulator.shutdown().await;
}

#[tokio::test]
async fn per_customer_concurrency_limit_gives_quota_exceeded() {
    let emulator = common::demo().await;
    emulator.update_knobs(|k| {
        k.quotas.enabled = true;
        k.quotas.max_concurrent_per_customer = 1;
        k.latency.base_ms = 300;
    });
    let api = Api::new(&emulator, ADMIN_ONE).await;
    let (first, second) = tokio::join!(api.get(ME), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        api.get(ME).await
    });
    assert_eq!(first.status, 200);
    assert_eq!((second.status, second.reason()), (403, "quotaExceeded"));
    // Once the first call is done, the slot is free again.
    assert_eq!(api.get(ME).await.status, 200);
    emulator.shutdown().await;
}

#[tokio::test]
async fn latency_delays_every_call_and_per_method_overrides() {
    let emulator = common::demo().await;
    let api = Api::new(&emulator, ADMIN_ONE).await;
    emulator.update_knobs(|k| {
        k.latency.base_ms = 250;
        k.latency
            .per_method_ms
            .insert("directory.users.list".to_owned(), 0);
    });
    let started = Instant::now();
    assert_eq!(api.get(ME).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(250));
    let started = Instant::now();
    assert_eq!(
        api.get("admin/directory/v1/users?customer=my_customer")
            .await
            .status,
        200
    );
    assert!(started.elapsed() < Duration::from_millis(200));
    // Jitter: uniform extra delay in 0..=jitter_ms.
    emulator.update_knobs(|k| {
        k.latency.base_ms = 0;
        k.latency.jitter_ms = 100;
    });
    let mut delays = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        assert_eq!(api.get(ME).await.status, 200);
        delays.push(started.elapsed());
    }
    assert!(
        delays.iter().any(|d| *d > Duration::from_millis(5)),
        "{delays:?}"
    );
    assert!(
        delays.iter().all(|d| *d < Duration::from_millis(300)),
        "{delays:?}"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_new_user_is_invisible_to_licensing_and_roles_for_the_window() {
    let emulator = common::demo().await;
    emulator.update_knobs(|k| k.consistency.user_propagation_ms = 400);
    let api = Api::new(&emulator, ADMIN_TWO).await;
    let user = api.create_user("fresh@reseller-two.example", "/").await;
    let user_id = user["id"].as_str().unwrap();
    let license = "apps/licensing/v1/product/Google-Apps/sku/1010020028/user";
    let role_id = reseller_admin_role_id(&api).await;
    let assign = json!({"roleId": role_id, "assignedTo": user_id, "scopeType": "CUSTOMER"});
    let assignments = "admin/directory/v1/customer/my_customer/roleassignments";

    let answer = api
        .post(license, json!({"userId": "fresh@reseller-two.example"}))
        .await;
    assert_eq!((answer.status, answer.reason()), (404, "notFound"));
    let answer = api.post(assignments, assign.clone()).await;
    assert_eq!((answer.status, answer.reason()), (412, "conditionNotMet"));
    assert_eq!(
        answer.body["error"]["message"],
        "User creation is not complete."
    );
    let answer = api
        .send(
            "PATCH",
            "admin/directory/v1/users/fresh@reseller-two.example",
            Some(json!({"suspended": true})),
        )
        .await;
    assert_eq!(answer.status, 412);
    // users.get is not affected unless asked for.
    assert_eq!(
        api.get("admin/directory/v1/users/fresh@reseller-two.example")
            .await
            .status,
        200
    );

    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        api.post(license, json!({"userId": "fresh@reseller-two.example"}))
            .await
            .status,
        200
    );
    assert_eq!(api.post(assignments, assign).await.status, 200);
    emulator.shutdown().await;
}

#[tokio::test]
async fn consistency_answers_are_configurable() {
    let emulator = common::demo().await;
    emulator.update_knobs(|k| {
        k.consistency.user_propagation_ms = 5_000;
        k.consistency.licensing_response = NotReadyResponse::ConditionNotMet;
        k.consistency.hide_from_users_get = true;
    });
    let api = Api::new(&emulator, ADMIN_TWO).await;
    api.create_user("slow@reseller-two.example", "/").await;
    let answer = api
        .post(
            "apps/licensing/v1/product/Google-Apps/sku/1010020028/user",
            json!({"userId": "slow@reseller-two.example"}),
        )
        .await;
    assert_eq!((answer.status, answer.reason()), (412, "conditionNotMet"));
    let answer = api
        .get("admin/directory/v1/users/slow@reseller-two.example")
        .await;
    assert_eq!((answer.status, answer.reason()), (404, "notFound"));
    // Shortening the window at run time makes the user visible at once.
    emulator.update_knobs(|k| k.consistency.user_propagation_ms = 0);
    assert_eq!(
        api.get("admin/directory/v1/users/slow@reseller-two.example")
            .await
            .status,
        200
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn search_lags_behind_users_insert() {
    let emulator = common::demo().await;
    emulator.update_knobs(|k| k.consistency.search_lag_ms = 300);
    let api = Api::new(&emulator, ADMIN_TWO).await;
    api.create_user("indexed@reseller-two.example", "/").await;
    let search = "admin/directory/v1/users?customer=my_customer&query=email%3Aindexed%40reseller-two.example";
    let found = api.get(search).await;
    assert!(
        found.body.get("users").is_none(),
        "not in the search index yet"
    );
    let all = api
        .get("admin/directory/v1/users?customer=my_customer")
        .await;
    assert_eq!(
        all.body["users"].as_array().unwrap().len(),
        3,
        "plain listing sees it"
    );
    assert_eq!(
        api.get("admin/directory/v1/users/indexed@reseller-two.example")
            .await
            .status,
        200,
        "users.get by email sees it"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let found = api.get(search).await;
    assert_eq!(found.body["users"].as_array().unwrap().len(), 1);
    emulator.shutdown().await;
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
async fn injected_error_does_not_apply_and_stops_after_times() {
    let emulator = common::demo().await;
    let mut rule = error_rule("directory.users.insert", 503, "backendError");
    rule.times = Some(1);
    emulator.update_knobs(|k| k.faults.push(rule));
    let api = Api::new(&emulator, ADMIN_TWO).await;
    let answer = api
        .post(
            "admin/directory/v1/users",
            new_user("flaky@reseller-two.example"),
        )
        .await;
    assert_eq!((answer.status, answer.reason()), (503, "backendError"));
    assert_eq!(
        api.get("admin/directory/v1/users/flaky@reseller-two.example")
            .await
            .status,
        404,
        "the failed insert was not applied"
    );
    let answer = api
        .post(
            "admin/directory/v1/users",
            new_user("flaky@reseller-two.example"),
        )
        .await;
    assert_eq!(answer.status, 200, "the rule fired only once");
    emulator.shutdown().await;
}

#[tokio::test]
async fn fault_rate_applies_to_about_that_share_of_calls() {
    let emulator = common::demo().await;
    let mut rule = error_rule("directory.customers.*", 500, "internalError");
    rule.probability = 0.5;
    emulator.update_knobs(|k| k.faults.push(rule));
    let api = Api::new(&emulator, ADMIN_ONE).await;
    let mut failed = 0;
    for _ in 0..200 {
        if api.get(ME).await.status == 500 {
            failed += 1;
        }
    }
    assert!((60..=140).contains(&failed), "{failed} of 200 failed");
    emulator.shutdown().await;
}

#[tokio::test]
async fn apply_then_fail_leaves_the_effect_and_a_retry_sees_a_duplicate() {
    let emulator = common::demo().await;
    let api = Api::new(&emulator, ADMIN_TWO).await;
    let user = api.create_user("twice@reseller-two.example", "/").await;
    let role_id = reseller_admin_role_id(&api).await;
    emulator.update_knobs(|k| {
        k.faults.push(FaultRule {
            times: Some(1),
            action: FaultAction::ApplyThenError {
                code: 503,
                reason: "backendError".to_owned(),
                message: "Backend Error".to_owned(),
            },
            ..error_rule("directory.roleAssignments.insert", 503, "backendError")
        })
    });
    let body = json!({"roleId": role_id, "assignedTo": user["id"], "scopeType": "CUSTOMER"});
    let path = "admin/directory/v1/customer/my_customer/roleassignments";
    let answer = api.post(path, body.clone()).await;
    assert_eq!(answer.status, 503);
    let state = emulator.customer_state("reseller-two.example");
    let held: Vec<&Value> = state["roleAssignments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["assignedToEmail"] == "twice@reseller-two.example")
        .collect();
    assert_eq!(held.len(), 1, "the assignment was applied before the error");
    let answer = api.post(path, body).await;
    assert_eq!((answer.status, answer.reason()), (409, "duplicate"));
    let effects = emulator
        .counters()
        .effects_by_key
        .get("roleAssignment created _RESELLER_ADMIN_ROLE/twice@reseller-two.example")
        .copied();
    assert_eq!(effects, Some(1));
    emulator.shutdown().await;
}

#[tokio::test]
async fn reset_and_apply_then_drop_close_the_connection() {
    let emulator = common::demo().await;
    let api = Api::new(&emulator, ADMIN_TWO).await;
    emulator.update_knobs(|k| {
        k.faults.push(FaultRule {
            times: Some(1),
            action: FaultAction::Reset,
            ..error_rule("directory.users.insert", 0, "")
        })
    });
    let result = api
        .try_send(
            "POST",
            "admin/directory/v1/users",
            Some(new_user("reset@reseller-two.example")),
        )
        .await;
    assert!(result.is_err(), "a reset gives no HTTP answer: {result:?}");
    assert_eq!(
        api.get("admin/directory/v1/users/reset@reseller-two.example")
            .await
            .status,
        404
    );
    emulator.update_knobs(|k| {
        k.faults = vec![FaultRule {
            times: Some(1),
            action: FaultAction::ApplyThenDrop,
            ..error_rule("directory.users.insert", 0, "")
        }]
    });
    let result = api
        .try_send(
            "POST",
            "admin/directory/v1/users",
            Some(new_user("dropped@reseller-two.example")),
        )
        .await;
    assert!(result.is_err(), "the response was dropped");
    assert_eq!(
        api.get("admin/directory/v1/users/dropped@reseller-two.example")
            .await
            .status,
        200,
        "but the user was created"
    );
    let ledger = emulator.ledger();
    let call = ledger
        .iter()
        .find(|e| {
            e.kind == EntryKind::Call
                && e.natural_key.as_deref() == Some("dropped@reseller-two.example")
        })
        .unwrap();
    assert!(call.outcome.starts_with("reset"), "{}", call.outcome);
    assert!(ledger.iter().any(|e| e.call_seq == Some(call.seq)
        && e.resource.as_deref() == Some("user")
        && e.outcome == "created"));
    emulator.shutdown().await;
}

#[tokio::test]
async fn hang_holds_the_request_then_resets() {
    let emulator = common::demo().await;
    let api = Api::new(&emulator, ADMIN_ONE).await;
    emulator.update_knobs(|k| {
        k.faults.push(FaultRule {
            times: Some(1),
            action: FaultAction::Hang { ms: 300 },
            ..error_rule("directory.customers.get", 0, "")
        })
    });
    let started = Instant::now();
    assert!(api.try_send("GET", ME, None).await.is_err());
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(api.get(ME).await.status, 200);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_fault_script_plays_its_steps_in_order() {
    let emulator = common::demo().await;
    let api = Api::new(&emulator, ADMIN_ONE).await;
    emulator.update_knobs(|k| {
        k.scripts.push(FaultScript {
            method: "directory.orgunits.insert".to_owned(),
            steps: vec![
                None,
                Some(FaultAction::Error {
                    code: 500,
                    reason: "internalError".to_owned(),
                    message: "Internal error encountered.".to_owned(),
                }),
                Some(FaultAction::ApplyThenDrop),
            ],
        })
    });
    let path = "admin/directory/v1/customer/my_customer/orgunits";
    let ou = |name: &str| json!({"name": name, "parentOrgUnitPath": "/"});
    assert_eq!(api.post(path, ou("A")).await.status, 200);
    assert_eq!(api.post(path, ou("B")).await.status, 500);
    assert!(api.try_send("POST", path, Some(ou("C"))).await.is_err());
    assert_eq!(api.post(path, ou("D")).await.status, 200, "script is over");
    let units = api.get(&format!("{path}?type=all")).await;
    let names: Vec<&str> = units.body["organizationUnits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"A") && names.contains(&"C") && names.contains(&"D"));
    assert!(!names.contains(&"B"));
    emulator.shutdown().await;
}

#[tokio::test]
async fn fault_rules_can_target_one_customer_and_skip_calls() {
    let emulator = common::demo().await;
    emulator.update_knobs(|k| {
        k.faults.push(FaultRule {
            customer: Some("reseller-two.example".to_owned()),
            skip: 1,
            ..error_rule("*", 503, "backendError")
        })
    });
    let one = Api::new(&emulator, ADMIN_ONE).await;
    let two = Api::new(&emulator, ADMIN_TWO).await;
    assert_eq!(one.get(ME).await.status, 200);
    assert_eq!(two.get(ME).await.status, 200, "first call skipped");
    assert_eq!(two.get(ME).await.status, 503);
    assert_eq!(one.get(ME).await.status, 200);
    emulator.shutdown().await;
}

#[tokio::test]
async fn token_endpoint_faults() {
    let emulator = common::demo().await;
    emulator.update_knobs(|k| {
        k.faults.push(FaultRule {
            times: Some(1),
            ..error_rule("oauth2.token", 503, "backendError")
        })
    });
    let key = emulator.service_account_key_json(common::SA).unwrap();
    let assertion = common::sign_jwt(
        &key,
        json!({"alg": "RS256", "typ": "JWT"}),
        common::claims(&key, ADMIN_ONE, &common::all_scopes()),
    );
    assert_eq!(common::post_assertion(&emulator, &assertion).await.0, 503);
    assert_eq!(common::post_assertion(&emulator, &assertion).await.0, 200);
    emulator.shutdown().await;
}

#[tokio::test]
async fn duplicate_role_assignment_409_or_500_variant() {
    let emulator = common::demo().await;
    let api = Api::new(&emulator, ADMIN_TWO).await;
    let role_id = reseller_admin_role_id(&api).await;
    let user = api.create_user("dup@reseller-two.example", "/").await;
    let body = json!({"roleId": role_id, "assignedTo": user["id"], "scopeType": "CUSTOMER"});
    let path = "admin/directory/v1/customer/my_customer/roleassignments";
    assert_eq!(api.post(path, body.clone()).await.status, 200);
    let answer = api.post(path, body.clone()).await;
    assert_eq!((answer.status, answer.reason()), (409, "duplicate"));
    assert_eq!(answer.body["error"]["message"], "Entity already exists.");
    emulator.update_knobs(|k| k.role_assignment_duplicate = DuplicateRoleAssignment::InternalError);
    let answer = api.post(path, body).await;
    assert_eq!(answer.status, 500);
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("role assignment exists: roleassignment")
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn control_api_over_http() {
    let emulator = common::demo().await;
    let http = reqwest::Client::new();
    let base = emulator.base_url();
    let control = |path: &str| format!("{base}emulator/v1/{path}");

    let health: Value = http
        .get(control("health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");

    let patched: Value = http
        .patch(control("knobs"))
        .json(&json!({"latency": {"base_ms": 5}, "quotas": {"enabled": true}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(patched["latency"]["base_ms"], 5);
    assert_eq!(patched["quotas"]["directory_per_user_per_minute"], 2400);
    assert_eq!(emulator.knobs().latency.base_ms, 5);

    let response = http
        .post(control("faults"))
        .json(&json!({"method": "directory.customers.get", "times": 1,
                      "action": {"kind": "error", "code": 500, "reason": "internalError"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let api = Api::new(&emulator, ADMIN_ONE).await;
    assert_eq!(api.get(ME).await.status, 500);
    assert_eq!(api.get(ME).await.status, 200);
    let response = http.delete(control("faults")).send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert!(emulator.knobs().faults.is_empty());
    let bad = http
        .put(control("knobs"))
        .json(&json!({"latency": {"nonsense": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let ledger: Vec<Value> = http
        .get(control("ledger"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        ledger
            .iter()
            .any(|e| e["method"] == "directory.customers.get")
    );
    let last = ledger.last().unwrap()["seq"].as_u64().unwrap();
    let after: Vec<Value> = http
        .get(control(&format!("ledger?after={last}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(after.is_empty());
    let counters: Value = http
        .get(control("counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters["calls_by_method"]["directory.customers.get"], 2);
    assert_eq!(
        counters["outcomes"]["directory.customers.get 500 internalError (injected)"],
        1
    );

    let state: Value = http
        .get(control("customers/reseller-one.example/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["customer"]["customerDomain"], "reseller-one.example");
    assert_eq!(state["orgUnits"][0]["automaticLicensing"], true);
    let response = http
        .put(control("customers/reseller-one.example/automaticLicensing"))
        .json(&json!({"orgUnitPath": "/", "enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        emulator.customer_state("reseller-one.example")["orgUnits"][0]["automaticLicensing"],
        false
    );
    let response = http
        .put(control("customers/C01r1demo/subscriptions"))
        .json(&json!({"productId": "101001", "skuId": "1010010001", "seats": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let refused = api
        .post(
            "admin/directory/v1/users",
            new_user("capped@reseller-one.example"),
        )
        .await;
    assert_eq!(
        refused.status, 403,
        "the cap of 2 is reached: {:?}",
        refused.body
    );

    let key: Value = http
        .get(control(&format!("serviceAccounts/{}/key", common::SA)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(key["token_uri"], emulator.token_url());
    let missing = http
        .get(control("customers/nowhere.example/state"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let response = http.delete(control("ledger")).send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert!(emulator.ledger().is_empty());
    emulator.shutdown().await;
}
