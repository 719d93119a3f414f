//! What every API operation shares: its context, its reply, paging and customer addressing.
//!
//! An operation is a plain function `fn(&mut World, &Ctx) -> Result<Reply, GoogleError>` run
//! under the world lock after the pipeline (auth, scopes, parameter checks, knobs) let the call
//! through. Operations validate everything before they change anything, so a failed call has no
//! effect, and they report each change as an [`Effect`] for the ledger.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use tokio::time::Instant;

use crate::discovery::{MethodSpec, Query};
use crate::error::GoogleError;
use crate::knobs::Knobs;
use crate::ledger::Effect;
use crate::world::{AccessGrant, World};

/// Everything an operation may read about its call.
pub struct Ctx<'a> {
    /// The caller's token grant.
    pub grant: &'a AccessGrant,
    /// The method's discovery spec.
    pub spec: &'a MethodSpec,
    /// Knobs in force.
    pub knobs: &'a Knobs,
    /// When the call is handled.
    pub now: Instant,
    /// Path parameters (percent-decoded).
    pub path: &'a HashMap<String, String>,
    /// Query parameters.
    pub query: &'a Query,
    /// JSON body (`Null` when none).
    pub body: &'a Value,
    /// Root URL of the Licensing API (for `selfLink`).
    pub licensing_root: &'a str,
}

impl Ctx<'_> {
    /// A path parameter. Operations read only parameters their discovery method declares
    /// (asserted in debug builds, so the conformance test catches an undeclared one).
    pub fn path_param(&self, name: &str) -> &str {
        debug_assert!(
            self.spec
                .params
                .get(name)
                .is_some_and(|p| p.location == "path"),
            "{} reads undeclared path parameter {name}",
            self.spec.id
        );
        self.path.get(name).map(String::as_str).unwrap_or_default()
    }

    /// A query parameter, declared by the discovery method (asserted in debug builds).
    pub fn param(&self, name: &str) -> Option<&str> {
        debug_assert!(
            self.spec
                .params
                .get(name)
                .is_some_and(|p| p.location == "query"),
            "{} reads undeclared query parameter {name}",
            self.spec.id
        );
        self.query.get(name)
    }
}

/// An operation's answer.
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body; `None` for 204.
    pub body: Option<Value>,
    /// Changes applied.
    pub effects: Vec<Effect>,
}

impl Reply {
    /// 200 with a body.
    pub fn ok(body: Value) -> Self {
        Self {
            status: 200,
            body: Some(body),
            effects: Vec::new(),
        }
    }

    /// 200 with a body and effects.
    pub fn changed(body: Value, effects: Vec<Effect>) -> Self {
        Self {
            status: 200,
            body: Some(body),
            effects,
        }
    }

    /// 204 with effects.
    pub fn no_content(effects: Vec<Effect>) -> Self {
        Self {
            status: 204,
            body: None,
            effects,
        }
    }
}

/// An operation.
pub type Op = fn(&mut World, &Ctx<'_>) -> Result<Reply, GoogleError>;

/// Cuts one page out of `items` per `maxResults` and `pageToken`; returns the page and the
/// next token.
pub fn paginate<T>(
    items: Vec<T>,
    ctx: &Ctx<'_>,
    default_size: usize,
) -> Result<(Vec<T>, Option<String>), GoogleError> {
    let (default_size, maximum) = ctx.spec.page_limits(default_size);
    let size = match ctx.param("maxResults") {
        Some(value) => value
            .parse::<usize>()
            .map_err(|_| GoogleError::invalid(format!("Invalid value '{value}'")))?
            .clamp(1, maximum),
        None => default_size,
    };
    let offset = match ctx.param("pageToken").filter(|t| !t.is_empty()) {
        Some(token) => decode_page_token(token, &ctx.spec.id)
            .ok_or_else(|| GoogleError::invalid("Invalid Input: pageToken"))?,
        None => 0,
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(offset).take(size).collect();
    let next = (offset + size < total).then(|| encode_page_token(offset + size, &ctx.spec.id));
    Ok((page, next))
}

fn encode_page_token(offset: usize, method: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{method}|{offset}"))
}

fn decode_page_token(token: &str, method: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (token_method, offset) = text.split_once('|')?;
    (token_method == method).then(|| offset.parse().ok())?
}

/// Resolves a Directory `customer` / `customerId` path value (`my_customer` or an id) to the
/// caller's customer id; another customer's id is 403, an unknown one 400.
pub fn directory_customer(
    world: &World,
    grant: &AccessGrant,
    key: &str,
) -> Result<String, GoogleError> {
    if key == "my_customer" || key == grant.customer_id {
        return Ok(grant.customer_id.clone());
    }
    if world.customer(key).is_some() {
        return Err(GoogleError::forbidden());
    }
    Err(GoogleError::invalid("Invalid Customer Id"))
}

/// Inserts `value` under `field` only when non-empty (Google omits empty lists).
pub fn put_list(envelope: &mut Value, field: &str, items: Vec<Value>) {
    if !items.is_empty() {
        envelope[field] = Value::Array(items);
    }
}
