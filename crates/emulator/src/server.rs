//! The HTTP side: Google's routes, the request pipeline every API call goes through, the token
//! endpoint, discovery documents, the control API, and the accept loop.
//!
//! Pipeline of an API call: bearer token → scopes (from the discovery document) → the subject
//! is an admin → parameter and required-field checks → quotas (token buckets, in-flight limit
//! per customer) → latency → injected faults → the operation under the world lock → ledger →
//! faults that apply first and then fail or drop the response. A response carrying the
//! [`DropConnection`] marker makes the accept loop close the connection without answering,
//! which is how resets and dropped responses are emulated.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, get, on};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;
use tower::ServiceExt as _;

use crate::api::{Ctx, Op};
use crate::discovery::{Api, Query, Specs, rewritten_document};
use crate::error::GoogleError;
use crate::fields::FieldSelection;
use crate::knobs::{FaultAction, FaultState, Knobs, QuotaState};
use crate::ledger::Ledger;
use crate::seed::{ApiRoots, SeedSubscription};
use crate::world::{AccessGrant, World};
use crate::{directory, domains, licensing, reseller};

/// State shared by every request. Each field has its own lock; none is held across an await.
pub struct Shared {
    /// The world; operations run with it locked, so each call is atomic.
    pub world: Mutex<World>,
    /// Every call and effect.
    pub ledger: Mutex<Ledger>,
    /// Knobs in force (cloned per call).
    pub knobs: Mutex<Knobs>,
    /// Fault rule and script counters.
    pub faults: Mutex<FaultState>,
    /// Token buckets and in-flight counts.
    pub quotas: Mutex<QuotaState>,
    /// Discovery specs.
    pub specs: Specs,
    /// `http://127.0.0.1:PORT/`.
    pub base_url: String,
    /// Path prefixes of the three APIs.
    pub roots: ApiRoots,
}

/// Locks a mutex, recovering the data if a panicking holder poisoned it (the emulator must
/// keep answering in tests).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// Root URL of an API (`{base}` plus its prefix).
    pub fn root_url(&self, api: Api) -> String {
        let prefix = match api {
            Api::Directory => &self.roots.directory,
            Api::Licensing => &self.roots.licensing,
            Api::Reseller => &self.roots.reseller,
        };
        format!("{}{}", self.base_url, prefix.trim_start_matches('/'))
    }

    /// The token endpoint URL.
    pub fn token_url(&self) -> String {
        format!("{}token", self.base_url)
    }

    /// Replaces the knobs; fault counters and buckets restart when their knobs changed.
    pub fn set_knobs(&self, knobs: Knobs) {
        let mut current = lock(&self.knobs);
        if current.faults != knobs.faults || current.scripts != knobs.scripts {
            lock(&self.faults).reset();
        }
        if current.quotas != knobs.quotas {
            lock(&self.quotas).reset_buckets();
        }
        // Setting a seed (again) restarts the sequence, so a test can repeat a run.
        if let Some(seed) = knobs.propagation.rng_seed
            && current.propagation.rng_seed != Some(seed)
        {
            lock(&self.world).rng = crate::world::propagation_rng(Some(seed));
        }
        *current = knobs;
    }
}

/// Marker on a response: close the connection instead of sending it.
#[derive(Clone, Copy, Debug)]
pub struct DropConnection;

/// The error the connection service returns to make hyper close the connection.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped on purpose by an injected fault")]
struct ConnectionDropped;

fn dropped_response() -> Response {
    let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    response.extensions_mut().insert(DropConnection);
    response
}

/// One Google method the emulator serves.
pub struct Route {
    /// Discovery method id.
    pub id: &'static str,
    /// HTTP verb.
    pub verb: Method,
    /// Path under the API root, in axum syntax (`{*orgUnitPath}` for `{+orgUnitPath}`).
    pub path: &'static str,
    /// The operation.
    pub op: Op,
}

/// Every Google method served.
pub fn routes() -> Vec<Route> {
    let route = |id, verb, path, op| Route { id, verb, path, op };
    const USERS: &str = "admin/directory/v1/users";
    const USER: &str = "admin/directory/v1/users/{userKey}";
    const ORGUNITS: &str = "admin/directory/v1/customer/{customerId}/orgunits";
    const ORGUNIT: &str = "admin/directory/v1/customer/{customerId}/orgunits/{*orgUnitPath}";
    const ROLES: &str = "admin/directory/v1/customer/{customer}/roles";
    const ROLE: &str = "admin/directory/v1/customer/{customer}/roles/{roleId}";
    const ASSIGNMENTS: &str = "admin/directory/v1/customer/{customer}/roleassignments";
    const ASSIGNMENT: &str =
        "admin/directory/v1/customer/{customer}/roleassignments/{roleAssignmentId}";
    const DOMAINS: &str = "admin/directory/v1/customer/{customer}/domains";
    const DOMAIN: &str = "admin/directory/v1/customer/{customer}/domains/{domainName}";
    const LICENSE: &str = "apps/licensing/v1/product/{productId}/sku/{skuId}/user/{userId}";
    vec![
        route(
            "directory.users.insert",
            Method::POST,
            USERS,
            directory::users_insert as Op,
        ),
        route(
            "directory.users.list",
            Method::GET,
            USERS,
            directory::users_list,
        ),
        route(
            "directory.users.get",
            Method::GET,
            USER,
            directory::users_get,
        ),
        route(
            "directory.users.update",
            Method::PUT,
            USER,
            directory::users_update,
        ),
        route(
            "directory.users.patch",
            Method::PATCH,
            USER,
            directory::users_update,
        ),
        route(
            "directory.users.delete",
            Method::DELETE,
            USER,
            directory::users_delete,
        ),
        route(
            "directory.users.makeAdmin",
            Method::POST,
            "admin/directory/v1/users/{userKey}/makeAdmin",
            directory::users_make_admin,
        ),
        route(
            "directory.customers.get",
            Method::GET,
            "admin/directory/v1/customers/{customerKey}",
            directory::customers_get,
        ),
        route(
            "directory.orgunits.insert",
            Method::POST,
            ORGUNITS,
            directory::orgunits_insert,
        ),
        route(
            "directory.orgunits.list",
            Method::GET,
            ORGUNITS,
            directory::orgunits_list,
        ),
        route(
            "directory.orgunits.get",
            Method::GET,
            ORGUNIT,
            directory::orgunits_get,
        ),
        route(
            "directory.orgunits.update",
            Method::PUT,
            ORGUNIT,
            directory::orgunits_patch,
        ),
        route(
            "directory.orgunits.patch",
            Method::PATCH,
            ORGUNIT,
            directory::orgunits_patch,
        ),
        route(
            "directory.orgunits.delete",
            Method::DELETE,
            ORGUNIT,
            directory::orgunits_delete,
        ),
        route(
            "directory.roles.list",
            Method::GET,
            ROLES,
            directory::roles_list,
        ),
        route(
            "directory.roles.insert",
            Method::POST,
            ROLES,
            directory::roles_insert,
        ),
        route(
            "directory.roles.get",
            Method::GET,
            ROLE,
            directory::roles_get,
        ),
        route(
            "directory.roles.delete",
            Method::DELETE,
            ROLE,
            directory::roles_delete,
        ),
        route(
            "directory.privileges.list",
            Method::GET,
            "admin/directory/v1/customer/{customer}/roles/ALL/privileges",
            directory::privileges_list,
        ),
        route(
            "directory.roleAssignments.insert",
            Method::POST,
            ASSIGNMENTS,
            directory::role_assignments_insert,
        ),
        route(
            "directory.roleAssignments.list",
            Method::GET,
            ASSIGNMENTS,
            directory::role_assignments_list,
        ),
        route(
            "directory.roleAssignments.get",
            Method::GET,
            ASSIGNMENT,
            directory::role_assignments_get,
        ),
        route(
            "directory.roleAssignments.delete",
            Method::DELETE,
            ASSIGNMENT,
            directory::role_assignments_delete,
        ),
        route(
            "directory.domains.list",
            Method::GET,
            DOMAINS,
            domains::domains_list,
        ),
        route(
            "directory.domains.insert",
            Method::POST,
            DOMAINS,
            domains::domains_insert,
        ),
        route(
            "directory.domains.get",
            Method::GET,
            DOMAIN,
            domains::domains_get,
        ),
        route(
            "directory.domains.delete",
            Method::DELETE,
            DOMAIN,
            domains::domains_delete,
        ),
        route(
            "directory.domainAliases.list",
            Method::GET,
            "admin/directory/v1/customer/{customer}/domainaliases",
            domains::domain_aliases_list,
        ),
        route(
            "directory.domainAliases.get",
            Method::GET,
            "admin/directory/v1/customer/{customer}/domainaliases/{domainAliasName}",
            domains::domain_aliases_get,
        ),
        route(
            "licensing.licenseAssignments.insert",
            Method::POST,
            "apps/licensing/v1/product/{productId}/sku/{skuId}/user",
            licensing::insert,
        ),
        route(
            "licensing.licenseAssignments.get",
            Method::GET,
            LICENSE,
            licensing::get,
        ),
        route(
            "licensing.licenseAssignments.delete",
            Method::DELETE,
            LICENSE,
            licensing::delete,
        ),
        route(
            "licensing.licenseAssignments.listForProduct",
            Method::GET,
            "apps/licensing/v1/product/{productId}/users",
            licensing::list,
        ),
        route(
            "licensing.licenseAssignments.listForProductAndSku",
            Method::GET,
            "apps/licensing/v1/product/{productId}/sku/{skuId}/users",
            licensing::list,
        ),
        route(
            "reseller.subscriptions.list",
            Method::GET,
            "apps/reseller/v1/subscriptions",
            reseller::subscriptions_list,
        ),
        route(
            "reseller.subscriptions.get",
            Method::GET,
            "apps/reseller/v1/customers/{customerId}/subscriptions/{subscriptionId}",
            reseller::subscriptions_get,
        ),
        route(
            "reseller.customers.get",
            Method::GET,
            "apps/reseller/v1/customers/{customerId}",
            reseller::customers_get,
        ),
    ]
}

/// The router: Google's APIs under their roots, `token`, discovery, and `/emulator/v1`.
pub fn router(shared: Arc<Shared>) -> Router {
    let mut by_path: BTreeMap<String, MethodRouter<Arc<Shared>>> = BTreeMap::new();
    for route in routes() {
        let api = Api::of_method(route.id).unwrap_or(Api::Directory);
        let prefix = match api {
            Api::Directory => &shared.roots.directory,
            Api::Licensing => &shared.roots.licensing,
            Api::Reseller => &shared.roots.reseller,
        };
        let full_path =
            format!("/{}{}", prefix.trim_matches('/'), "/").replace("//", "/") + route.path;
        let (id, op) = (route.id, route.op);
        let handler = move |State(shared): State<Arc<Shared>>,
                            params: Option<Path<HashMap<String, String>>>,
                            RawQuery(raw_query): RawQuery,
                            headers: HeaderMap,
                            body: Bytes| async move {
            let params = params.map(|Path(p)| p).unwrap_or_default();
            api_call(shared, id, op, params, raw_query, headers, body).await
        };
        let filter = MethodFilter::try_from(route.verb.clone()).unwrap_or(MethodFilter::GET);
        let entry = by_path.remove(&full_path);
        let method_router = match entry {
            Some(existing) => existing.on(filter, handler),
            None => on(filter, handler),
        };
        by_path.insert(full_path, method_router);
    }
    let mut router = Router::new();
    for (path, method_router) in by_path {
        router = router.route(&path, method_router);
    }
    router
        .route("/token", axum::routing::post(token_endpoint))
        .route("/revoke", axum::routing::post(revoke_endpoint))
        .route(
            "/discovery/v1/apis/{api}/{version}/rest",
            get(discovery_document),
        )
        .merge(crate::control::router())
        .fallback(not_found)
        .with_state(shared)
}

async fn not_found() -> Response {
    GoogleError::not_found("Not Found").into_response()
}

async fn discovery_document(
    State(shared): State<Arc<Shared>>,
    Path((api, version)): Path<(String, String)>,
) -> Response {
    match Api::ALL
        .into_iter()
        .find(|a| a.discovery_name() == (api.as_str(), version.as_str()))
    {
        Some(api) => axum::Json(rewritten_document(api, &shared.root_url(api))).into_response(),
        None => GoogleError::not_found(format!("No discovery document for {api} {version}"))
            .into_response(),
    }
}

async fn token_endpoint(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let knobs = lock(&shared.knobs).clone();
    tokio::time::sleep(knobs.latency.delay_for("oauth2.token")).await;
    let fault = lock(&shared.faults).pick(&knobs, "oauth2.token", &[]);
    if let Some(fault) = &fault
        && !fault.applies()
    {
        return injected_before(&shared, "oauth2.token", None, None, None, fault).await;
    }
    let mut facts = crate::auth::TokenRequestFacts {
        client_email: None,
        subject: None,
        customer_id: None,
    };
    let result = {
        let mut world = lock(&shared.world);
        crate::auth::token_request(
            &mut world,
            &body,
            &shared.token_url(),
            knobs.tokens.lifetime_secs,
            &mut facts,
        )
    };
    let outcome = match &result {
        Ok(_) => "200".to_owned(),
        Err(error) => format!("{} {}", error.http_status, error.error),
    };
    lock(&shared.ledger).record(
        "oauth2.token",
        facts.customer_id.as_deref(),
        facts.client_email.as_deref(),
        facts.subject.as_deref(),
        outcome,
        &[],
    );
    if let Some(fault) = fault {
        return injected_after(&shared, "oauth2.token", &fault);
    }
    match result {
        Ok(token) => {
            let mut body = json!({
                "access_token": token.access_token,
                "expires_in": token.expires_in,
                "token_type": "Bearer",
            });
            if let Some(scope) = token.scope {
                body["scope"] = json!(scope);
            }
            axum::Json(body).into_response()
        }
        Err(error) => error.into_response(),
    }
}

/// `POST /revoke`: the token to revoke comes as `token` in the query or the form body.
async fn revoke_endpoint(
    State(shared): State<Arc<Shared>>,
    RawQuery(raw_query): RawQuery,
    body: Bytes,
) -> Response {
    let query = Query::parse(raw_query.as_deref());
    let form = Query::parse(std::str::from_utf8(&body).ok());
    let result = match query.get("token").or_else(|| form.get("token")) {
        Some(token) => crate::oauth_clients::revoke(&mut lock(&shared.world), token),
        None => Err(crate::error::OAuthError::invalid_request(
            "Missing required parameter: token",
        )),
    };
    let outcome = match &result {
        Ok(()) => "200".to_owned(),
        Err(error) => format!("{} {}", error.http_status, error.error),
    };
    lock(&shared.ledger).record("oauth2.revoke", None, None, None, outcome, &[]);
    match result {
        Ok(()) => axum::Json(json!({})).into_response(),
        Err(error) => error.into_response(),
    }
}

/// Answers a fault that fires before the call is applied (error, hang, reset).
async fn injected_before(
    shared: &Shared,
    method: &str,
    customer_id: Option<&str>,
    subject: Option<&str>,
    natural_key: Option<&str>,
    fault: &FaultAction,
) -> Response {
    let (outcome, response) = match fault {
        FaultAction::Error {
            code,
            reason,
            message,
        } => {
            let error = GoogleError::new(*code, reason, message.clone());
            (error.outcome(), error.into_response())
        }
        FaultAction::Hang { ms } => {
            tokio::time::sleep(std::time::Duration::from_millis(*ms)).await;
            ("hang then reset".to_owned(), dropped_response())
        }
        _ => ("reset".to_owned(), dropped_response()),
    };
    lock(&shared.ledger).record(
        method,
        customer_id,
        subject,
        natural_key,
        format!("{outcome} (injected)"),
        &[],
    );
    response
}

/// Answers a fault that fires after the call was applied and recorded.
fn injected_after(shared: &Shared, method: &str, fault: &FaultAction) -> Response {
    let _ = (shared, method);
    match fault {
        FaultAction::ApplyThenError {
            code,
            reason,
            message,
        } => GoogleError::new(*code, reason, message.clone()).into_response(),
        _ => dropped_response(),
    }
}

/// The natural key of a call, for the ledger: what it is about, in words a test can match.
fn natural_key(
    id: &str,
    params: &HashMap<String, String>,
    query: &Query,
    body: &Value,
) -> Option<String> {
    let param = |name: &str| params.get(name).cloned();
    let body_field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
    if id.starts_with("licensing.licenseAssignments.") {
        let product = param("productId").unwrap_or_default();
        let mut key = product;
        if let Some(sku) = param("skuId") {
            key = format!("{key}/{sku}");
        }
        if let Some(user) = param("userId").or_else(|| body_field("userId")) {
            key = format!("{key}/{}", user.to_ascii_lowercase());
        }
        return Some(key);
    }
    match id {
        "directory.users.insert" => body_field("primaryEmail").map(|e| e.to_ascii_lowercase()),
        "directory.orgunits.insert" => {
            let parent = body_field("parentOrgUnitPath")
                .or_else(|| body_field("parentOrgUnitId"))
                .unwrap_or_default();
            let name = body_field("name").unwrap_or_default();
            Some(format!("{}/{name}", parent.trim_end_matches('/')))
        }
        "directory.roles.insert" => body_field("roleName"),
        "directory.roleAssignments.insert" => Some(format!(
            "{}/{}",
            body_field("roleId").unwrap_or_default(),
            body_field("assignedTo").unwrap_or_default()
        )),
        _ => param("userKey")
            .map(|k| k.to_ascii_lowercase())
            .or_else(|| param("orgUnitPath").map(|p| format!("/{}", p.trim_start_matches('/'))))
            .or_else(|| param("roleAssignmentId"))
            .or_else(|| param("roleId"))
            .or_else(|| param("subscriptionId"))
            .or_else(|| query.get("userKey").map(str::to_owned))
            .or_else(|| query.get("customerId").map(str::to_owned))
            .or_else(|| param("customerId"))
            .or_else(|| param("customerKey")),
    }
}

/// Leaves the in-flight count of a customer when the call ends, however it ends.
struct InFlight {
    shared: Arc<Shared>,
    customer_id: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        lock(&self.shared.quotas).leave(&self.customer_id);
    }
}

/// Checks the caller's token, scopes, and that the subject is an admin allowed this method.
fn authorize(
    shared: &Shared,
    method_id: &str,
    spec_scopes: &[String],
    headers: &HeaderMap,
    query: &Query,
) -> Result<AccessGrant, GoogleError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let world = lock(&shared.world);
    let audiences = crate::self_signed::Audiences::new(&shared.specs, &shared.base_url);
    let grant = crate::auth::bearer_grant(&world, authorization, query, &audiences)?;
    if !spec_scopes.iter().any(|scope| grant.scopes.contains(scope)) {
        return Err(GoogleError::insufficient_scopes());
    }
    // The subject is a user, or a service account acting as itself: both need a role allowing
    // the method, checked by the same rules.
    let is_admin = world.customer(&grant.customer_id).is_some_and(|customer| {
        match customer
            .users
            .iter()
            .find(|u| u.id == grant.subject_user_id)
        {
            Some(user) => !user.suspended && customer.may_call(&user.id, method_id),
            None => {
                world.account(&grant.subject_user_id).is_some()
                    && customer.may_call(&grant.subject_user_id, method_id)
            }
        }
    });
    if !is_admin {
        return Err(GoogleError::forbidden());
    }
    Ok(grant)
}

/// Applies the quota knobs; returns the in-flight guard.
fn check_quotas(
    shared: &Arc<Shared>,
    knobs: &Knobs,
    api: Api,
    grant: &AccessGrant,
    project_id: &str,
) -> Result<Option<InFlight>, GoogleError> {
    let quotas = &knobs.quotas;
    if !quotas.enabled {
        return Ok(None);
    }
    let mut state = lock(&shared.quotas);
    let (key, capacity, refill, response) = match api {
        Api::Directory => (
            format!("directory|{project_id}|{}", grant.subject_user_id),
            f64::from(quotas.directory_per_user_per_minute),
            f64::from(quotas.directory_per_user_per_minute) / 60.0,
            quotas.directory_response,
        ),
        Api::Licensing => (
            format!("licensing|{project_id}"),
            f64::from(quotas.licensing_burst.max(1)),
            quotas.licensing_per_second,
            quotas.licensing_response,
        ),
        Api::Reseller => (
            format!("reseller|{project_id}"),
            f64::from(quotas.reseller_burst.max(1)),
            quotas.reseller_per_second,
            quotas.reseller_response,
        ),
    };
    if let Err(wait_secs) = state.take(&key, capacity, refill) {
        return Err(response.error(api.host(), wait_secs));
    }
    if quotas.max_concurrent_per_customer > 0 {
        if !state.enter(&grant.customer_id, quotas.max_concurrent_per_customer) {
            return Err(quotas.concurrency_response.error(api.host(), 1));
        }
        return Ok(Some(InFlight {
            shared: Arc::clone(shared),
            customer_id: grant.customer_id.clone(),
        }));
    }
    Ok(None)
}

/// The pipeline every Google API call goes through.
async fn api_call(
    shared: Arc<Shared>,
    id: &'static str,
    op: Op,
    params: HashMap<String, String>,
    raw_query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(spec) = shared.specs.get(id) else {
        return GoogleError::new(501, "notImplemented", format!("{id} is not in discovery"))
            .into_response();
    };
    let query = Query::parse(raw_query.as_deref());
    let body_json: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(value) => value,
            Err(_) => {
                let error = GoogleError::new(400, "parseError", "Parse Error");
                record_call(&shared, id, None, None, None, &error.outcome());
                return error.into_response();
            }
        }
    };
    let key = natural_key(id, &params, &query, &body_json);
    let grant = match authorize(&shared, id, &spec.scopes, &headers, &query) {
        Ok(grant) => grant,
        Err(error) => {
            record_call(&shared, id, None, None, key.as_deref(), &error.outcome());
            return error.into_response();
        }
    };
    let customer_id = Some(grant.customer_id.as_str());
    let subject = Some(grant.subject_email.as_str());
    let checked = spec.check_query(&query).and_then(|()| {
        if spec.request.is_some() {
            if !body_json.is_object() {
                return Err(GoogleError::new(400, "parseError", "Parse Error"));
            }
            spec.check_required_fields(&body_json)?;
        }
        query.get("fields").map(FieldSelection::parse).transpose()
    });
    let partial_response = match checked {
        Ok(selection) => selection,
        Err(error) => {
            record_call(
                &shared,
                id,
                customer_id,
                subject,
                key.as_deref(),
                &error.outcome(),
            );
            return error.into_response();
        }
    };
    let knobs = lock(&shared.knobs).clone();
    let project_id = lock(&shared.world).project_id.clone();
    let _in_flight = match check_quotas(&shared, &knobs, spec.api, &grant, &project_id) {
        Ok(guard) => guard,
        Err(error) => {
            record_call(
                &shared,
                id,
                customer_id,
                subject,
                key.as_deref(),
                &error.outcome(),
            );
            return error.into_response();
        }
    };
    let delay = knobs.latency.delay_for(id);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let customer_domain = lock(&shared.world)
        .customer(&grant.customer_id)
        .map(|c| c.domain.clone())
        .unwrap_or_default();
    let fault = lock(&shared.faults).pick(
        &knobs,
        id,
        &[grant.customer_id.as_str(), customer_domain.as_str()],
    );
    if let Some(fault) = &fault
        && !fault.applies()
    {
        return injected_before(&shared, id, customer_id, subject, key.as_deref(), fault).await;
    }
    let licensing_root = shared.root_url(Api::Licensing);
    let ctx = Ctx {
        grant: &grant,
        spec,
        knobs: &knobs,
        now: Instant::now(),
        path: &params,
        query: &query,
        body: &body_json,
        licensing_root: &licensing_root,
    };
    let result = {
        let mut world = lock(&shared.world);
        op(&mut world, &ctx)
    };
    let (outcome, effects) = match &result {
        Ok(reply) => (reply.status.to_string(), reply.effects.as_slice()),
        Err(error) => (error.outcome(), &[][..]),
    };
    let outcome = match &fault {
        Some(FaultAction::ApplyThenError { code, reason, .. }) => {
            format!("{code} {reason} (injected after {outcome})")
        }
        Some(_) => format!("reset (injected after {outcome})"),
        None => outcome,
    };
    lock(&shared.ledger).record(id, customer_id, subject, key.as_deref(), outcome, effects);
    tracing::debug!(method = id, customer = ?customer_id, "google api call");
    if let Some(fault) = fault {
        return injected_after(&shared, id, &fault);
    }
    match result {
        Ok(reply) => match reply.body {
            Some(body) => (
                StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK),
                axum::Json(match &partial_response {
                    Some(selection) => selection.apply(body),
                    None => body,
                }),
            )
                .into_response(),
            None => StatusCode::NO_CONTENT.into_response(),
        },
        Err(error) => error.into_response(),
    }
}

fn record_call(
    shared: &Shared,
    id: &str,
    customer_id: Option<&str>,
    subject: Option<&str>,
    key: Option<&str>,
    outcome: &str,
) {
    lock(&shared.ledger).record(id, customer_id, subject, key, outcome.to_owned(), &[]);
}

/// Serves connections until `shutdown` turns true; then closes every connection.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    batch_routes: crate::batch::BatchRoutes,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let batch_routes = Arc::new(batch_routes);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let router = router.clone();
                let batch_routes = Arc::clone(&batch_routes);
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
                        let router = router.clone();
                        let batch_routes = Arc::clone(&batch_routes);
                        async move {
                            let request = request.map(Body::new);
                            let response = if batch_routes.is_batch_path(request.uri().path()) {
                                crate::batch::handle(router, request, &batch_routes).await
                            } else {
                                router
                                    .oneshot(request)
                                    .await
                                    .unwrap_or_else(|never: Infallible| match never {})
                            };
                            if response.extensions().get::<DropConnection>().is_some() {
                                Err(ConnectionDropped)
                            } else {
                                Ok(response)
                            }
                        }
                    });
                    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    if let Err(error) = builder.serve_connection(TokioIo::new(stream), service).await {
                        tracing::debug!(%error, "connection ended");
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
}

/// Body of `PUT /emulator/v1/customers/{key}/subscriptions`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatsChange {
    /// Product.
    pub product_id: String,
    /// SKU.
    pub sku_id: String,
    /// New seat cap; a new subscription when the customer had none.
    pub seats: u32,
}

impl SeatsChange {
    /// Applies the change to a customer.
    pub fn apply(&self, customer: &mut crate::world::Customer) {
        match customer
            .subscriptions
            .iter_mut()
            .find(|s| s.product_id == self.product_id && s.sku_id == self.sku_id)
        {
            Some(subscription) => subscription.seats = self.seats,
            None => customer.subscriptions.push(SeedSubscription {
                product_id: self.product_id.clone(),
                sku_id: self.sku_id.clone(),
                seats: self.seats,
            }),
        }
    }
}
