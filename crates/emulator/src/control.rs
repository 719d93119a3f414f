//! The control API under `/emulator/v1/`: knobs, fault rules, ledger, counters, customer state,
//! settings Google offers no API for (automatic licensing, seat caps) and key files.
//!
//! It is not Google's and needs no token: it is for tests and operators on loopback. Every
//! endpoint has an in-process twin on [`crate::EmulatorHandle`].
//!
//! | verb | path | body / answer |
//! |---|---|---|
//! | GET | `/emulator/v1/health` | `{"status":"ok"}` |
//! | GET | `/emulator/v1/knobs` | the [`Knobs`] in force |
//! | PUT | `/emulator/v1/knobs` | replace all knobs (absent fields take defaults) |
//! | PATCH | `/emulator/v1/knobs` | JSON merge patch (RFC 7396) onto the knobs in force |
//! | POST | `/emulator/v1/faults` | append one [`FaultRule`] |
//! | POST | `/emulator/v1/scripts` | append one [`FaultScript`] |
//! | DELETE | `/emulator/v1/faults` | remove every fault rule and script |
//! | GET | `/emulator/v1/ledger?after=N` | ledger entries with `seq > N` |
//! | DELETE | `/emulator/v1/ledger` | clear the ledger |
//! | GET | `/emulator/v1/counters` | [`crate::Counters`] |
//! | GET | `/emulator/v1/customers` | `[{customerId, customerDomain}]` |
//! | GET | `/emulator/v1/customers/{idOrDomain}/state` | the customer's whole state |
//! | PUT | `/emulator/v1/customers/{idOrDomain}/automaticLicensing` | `{"orgUnitPath": "/", "enabled": true}` (`null` inherits) |
//! | PUT | `/emulator/v1/customers/{idOrDomain}/subscriptions` | `{"productId", "skuId", "seats"}` |
//! | GET | `/emulator/v1/serviceAccounts/{email}/key` | the service-account key file JSON |

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::knobs::{FaultRule, FaultScript, Knobs};
use crate::server::{SeatsChange, Shared, lock};

/// Routes of the control API.
pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/emulator/v1/health",
            get(|| async { axum::Json(json!({"status": "ok"})) }),
        )
        .route(
            "/emulator/v1/knobs",
            get(get_knobs).put(put_knobs).patch(patch_knobs),
        )
        .route("/emulator/v1/faults", post(add_fault).delete(clear_faults))
        .route("/emulator/v1/scripts", post(add_script))
        .route("/emulator/v1/ledger", get(get_ledger).delete(clear_ledger))
        .route("/emulator/v1/counters", get(get_counters))
        .route("/emulator/v1/customers", get(list_customers))
        .route("/emulator/v1/customers/{key}/state", get(customer_state))
        .route(
            "/emulator/v1/customers/{key}/automaticLicensing",
            put(set_automatic_licensing),
        )
        .route("/emulator/v1/customers/{key}/subscriptions", put(set_seats))
        .route("/emulator/v1/serviceAccounts/{email}/key", get(key_file))
        .route("/emulator/v1/authorizedUsers", get(authorized_users))
        .route(
            "/emulator/v1/authorizedUsers/{email}/file",
            get(authorized_user_file),
        )
}

fn bad_request(message: impl std::fmt::Display) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": message.to_string()})),
    )
        .into_response()
}

fn not_found(message: impl std::fmt::Display) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"error": message.to_string()})),
    )
        .into_response()
}

async fn get_knobs(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(lock(&shared.knobs).clone()).into_response()
}

async fn put_knobs(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<Knobs>(&body) {
        Ok(knobs) => {
            shared.set_knobs(knobs.clone());
            axum::Json(knobs).into_response()
        }
        Err(error) => bad_request(format!("invalid knobs: {error}")),
    }
}

/// RFC 7396 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(entries) => {
            if !target.is_object() {
                *target = json!({});
            }
            if let Some(object) = target.as_object_mut() {
                for (key, value) in entries {
                    if value.is_null() {
                        object.remove(key);
                    } else {
                        merge_patch(object.entry(key.clone()).or_insert(Value::Null), value);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

async fn patch_knobs(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let patch: Value = match serde_json::from_slice(&body) {
        Ok(patch) => patch,
        Err(error) => return bad_request(format!("invalid JSON: {error}")),
    };
    let mut current = match serde_json::to_value(lock(&shared.knobs).clone()) {
        Ok(value) => value,
        Err(error) => return bad_request(error),
    };
    merge_patch(&mut current, &patch);
    match serde_json::from_value::<Knobs>(current) {
        Ok(knobs) => {
            shared.set_knobs(knobs.clone());
            axum::Json(knobs).into_response()
        }
        Err(error) => bad_request(format!("invalid knobs after patch: {error}")),
    }
}

async fn add_fault(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<FaultRule>(&body) {
        Ok(rule) => {
            let mut knobs = lock(&shared.knobs).clone();
            knobs.faults.push(rule);
            shared.set_knobs(knobs.clone());
            axum::Json(knobs.faults).into_response()
        }
        Err(error) => bad_request(format!("invalid fault rule: {error}")),
    }
}

async fn add_script(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<FaultScript>(&body) {
        Ok(script) => {
            let mut knobs = lock(&shared.knobs).clone();
            knobs.scripts.push(script);
            shared.set_knobs(knobs.clone());
            axum::Json(knobs.scripts).into_response()
        }
        Err(error) => bad_request(format!("invalid fault script: {error}")),
    }
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> Response {
    let mut knobs = lock(&shared.knobs).clone();
    knobs.faults.clear();
    knobs.scripts.clear();
    shared.set_knobs(knobs);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct LedgerQuery {
    #[serde(default)]
    after: u64,
}

async fn get_ledger(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<LedgerQuery>,
) -> Response {
    axum::Json(lock(&shared.ledger).entries_after(query.after)).into_response()
}

async fn clear_ledger(State(shared): State<Arc<Shared>>) -> Response {
    lock(&shared.ledger).clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn get_counters(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(lock(&shared.ledger).counters()).into_response()
}

async fn list_customers(State(shared): State<Arc<Shared>>) -> Response {
    let world = lock(&shared.world);
    let customers: Vec<Value> = world
        .customers
        .iter()
        .map(|c| json!({"customerId": c.id, "customerDomain": c.domain}))
        .collect();
    axum::Json(customers).into_response()
}

async fn customer_state(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> Response {
    match crate::customer_state_of(&shared, &key) {
        Some(state) => axum::Json(state).into_response(),
        None => not_found(format!("no customer {key}")),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AutomaticLicensing {
    #[serde(default = "root")]
    org_unit_path: String,
    enabled: Option<bool>,
}

fn root() -> String {
    "/".to_owned()
}

async fn set_automatic_licensing(
    State(shared): State<Arc<Shared>>,
    Path(key): Path<String>,
    axum::Json(body): axum::Json<AutomaticLicensing>,
) -> Response {
    match crate::set_automatic_licensing_of(&shared, &key, &body.org_unit_path, body.enabled) {
        Ok(()) => crate::customer_state_of(&shared, &key)
            .map(|state| axum::Json(state["orgUnits"].clone()).into_response())
            .unwrap_or_else(|| not_found(format!("no customer {key}"))),
        Err(error) => bad_request(error),
    }
}

async fn set_seats(
    State(shared): State<Arc<Shared>>,
    Path(key): Path<String>,
    axum::Json(body): axum::Json<SeatsChange>,
) -> Response {
    let mut world = lock(&shared.world);
    let Some(id) = world.customer_by_key(&key).map(|c| c.id.clone()) else {
        return not_found(format!("no customer {key}"));
    };
    if let Some(customer) = world.customer_mut(&id) {
        body.apply(customer);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn key_file(State(shared): State<Arc<Shared>>, Path(email): Path<String>) -> Response {
    match crate::key_file_json(&shared, &email) {
        Ok(json) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            json,
        )
            .into_response(),
        Err(error) => not_found(error),
    }
}

/// Users who authorized an OAuth client, with their refresh tokens (loopback test harness only,
/// like the service-account keys above).
async fn authorized_users(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(lock(&shared.world).installed_apps.authorized_users_json()).into_response()
}

async fn authorized_user_file(
    State(shared): State<Arc<Shared>>,
    Path(email): Path<String>,
) -> Response {
    match crate::authorized_user_json(&shared, &email) {
        Ok(json) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            json,
        )
            .into_response(),
        Err(error) => not_found(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut target = json!({"a": {"b": 1, "c": 2}, "d": [1], "e": 3});
        merge_patch(
            &mut target,
            &json!({"a": {"b": 9, "c": null}, "d": [2, 3], "f": true}),
        );
        assert_eq!(
            target,
            json!({"a": {"b": 9}, "d": [2, 3], "e": 3, "f": true})
        );
    }
}
