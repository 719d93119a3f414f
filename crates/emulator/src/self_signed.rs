//! Self-signed JWTs used directly as bearer tokens: how a service account calls an API without
//! the token endpoint, and how a *delegated admin service account* (one that holds an admin role
//! itself, no domain-wide delegation) usually authenticates.
//!
//! Google's rules ("Addendum: Service account authorization without OAuth", Google Identity
//! docs): header `alg` RS256 and `kid` = the key's `private_key_id`; claims `iss` = `sub` = the
//! service account's email, `iat`, `exp` (at most one hour later), and either `aud` =
//! `https://SERVICE.googleapis.com/` (the token then covers that API) or a `scope` claim (the
//! token covers those scopes). The token acts as the service account itself. Anything else is
//! answered like an unknown access token: 401 `authError`.

use tokio::time::Instant;

use crate::auth::UnverifiedJwt;
use crate::discovery::{Api, Specs};
use crate::world::{AccessGrant, World};

/// The audiences a self-signed JWT may name, and the scopes each one stands for.
pub struct Audiences<'a> {
    specs: &'a Specs,
    /// The emulator's base URL (`http://127.0.0.1:PORT/`).
    base_url: &'a str,
}

impl<'a> Audiences<'a> {
    /// The audiences of an emulator serving `specs` at `base_url`.
    pub fn new(specs: &'a Specs, base_url: &'a str) -> Self {
        Self { specs, base_url }
    }

    /// The scopes an `aud` stands for: every scope of the API whose Google host it names, or
    /// every scope of every API for the emulator's own host (where all three APIs live; client
    /// libraries derive `https://HOST/` from the endpoint they call). `None` for anything else.
    pub fn scopes_for(&self, audience: &str) -> Option<Vec<String>> {
        let audience = audience.trim_end_matches('/');
        let emulator_host = self
            .base_url
            .trim_end_matches('/')
            .trim_start_matches("http://")
            .trim_start_matches("https://");
        let apis: Vec<Api> = if audience == format!("http://{emulator_host}")
            || audience == format!("https://{emulator_host}")
        {
            Api::ALL.to_vec()
        } else {
            let api = Api::ALL
                .into_iter()
                .find(|api| audience == format!("https://{}", api.host()))?;
            vec![api]
        };
        let mut scopes: Vec<String> = Vec::new();
        for id in self.specs.ids() {
            let Some(spec) = self.specs.get(id) else {
                continue;
            };
            if apis.contains(&spec.api) {
                for scope in &spec.scopes {
                    if !scopes.contains(scope) {
                        scopes.push(scope.clone());
                    }
                }
            }
        }
        Some(scopes)
    }
}

/// The grant of a valid self-signed JWT, or `None` when `token` is not one (not a JWT, unknown
/// issuer, bad signature or `kid`, expired or too long-lived, `sub` not the issuer, neither an
/// accepted `aud` nor a `scope` claim).
pub fn grant(world: &World, token: &str, audiences: &Audiences<'_>) -> Option<AccessGrant> {
    let jwt = UnverifiedJwt::parse(token).ok()?;
    let claims = &jwt.claims;
    let account = world.account(claims.iss.as_deref()?)?;
    if !jwt.signed_by(&account.key) {
        return None;
    }
    // Google picks the verifying key by `kid`; a `kid` naming another key of the account fails.
    if let Some(kid) = &jwt.header.kid
        && !account.key.private_key_id.is_empty()
        && kid != &account.key.private_key_id
    {
        return None;
    }
    if claims
        .sub
        .as_deref()
        .is_some_and(|sub| !sub.eq_ignore_ascii_case(&account.client_email))
    {
        // Self-signed JWTs cannot impersonate: domain-wide delegation needs the token endpoint.
        return None;
    }
    let now = chrono::Utc::now().timestamp();
    if !claims.timeframe_ok(now) {
        return None;
    }
    let scopes = match claims.scopes() {
        scopes if !scopes.is_empty() => scopes,
        _ => audiences.scopes_for(claims.aud.as_deref()?)?,
    };
    let remaining = u64::try_from(claims.exp? - now).ok()?;
    let (subject_user_id, subject_email, customer_id) =
        world.service_account_identity(&account.client_id);
    Some(AccessGrant {
        client_email: account.client_email.clone(),
        subject_user_id,
        subject_email,
        customer_id,
        scopes,
        expires: Instant::now() + std::time::Duration::from_secs(remaining),
    })
}
