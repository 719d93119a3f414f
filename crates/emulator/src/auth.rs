//! OAuth 2.0: the JWT-bearer token endpoint and bearer-token checks on API calls.
//!
//! The token endpoint accepts `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with an
//! RS256 assertion signed by a seeded service account, as google-auth and yup-oauth2 send it.
//! It checks the signature, `iss`, `aud` (the emulator's token URL or Google's constant),
//! `iat`/`exp` (at most one hour, not expired), that `sub` is a user, and that the subject's
//! customer delegated every requested scope to that service account (domain-wide delegation).
//! Failures use Google's `invalid_grant` / `unauthorized_client` shapes.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use tokio::time::Instant;

use crate::discovery::Query;
use crate::error::{GoogleError, OAuthError};
use crate::world::{AccessGrant, World};

/// The JWT-bearer grant type.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Google's token endpoint, accepted as `aud` besides the emulator's own URL.
pub const GOOGLE_TOKEN_AUDIENCE: &str = "https://oauth2.googleapis.com/token";
/// Older audience some clients still use.
const LEGACY_TOKEN_AUDIENCE: &str = "https://accounts.google.com/o/oauth2/token";
/// Longest lifetime Google accepts for an assertion.
const MAX_ASSERTION_SECONDS: i64 = 3600;
/// Clock skew tolerated on `iat`.
const CLOCK_SKEW_SECONDS: i64 = 300;

#[derive(Deserialize)]
struct JwtHeader {
    alg: String,
}

#[derive(Deserialize)]
struct JwtClaims {
    iss: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    aud: Option<String>,
    iat: Option<i64>,
    exp: Option<i64>,
    #[serde(default)]
    sub: Option<String>,
}

/// What a successful token request yields.
pub struct IssuedToken {
    /// The access token (secret).
    pub access_token: String,
    /// Seconds of validity.
    pub expires_in: u64,
}

/// What the ledger records of a token request.
pub struct TokenRequestFacts {
    /// `iss`, when parsed.
    pub client_email: Option<String>,
    /// `sub`, when present.
    pub subject: Option<String>,
    /// The subject's customer, when known.
    pub customer_id: Option<String>,
}

fn decode_part(part: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()
}

/// Handles a token request body (`application/x-www-form-urlencoded`).
pub fn token_request(
    world: &mut World,
    form_body: &[u8],
    token_url: &str,
    lifetime_secs: u64,
    facts: &mut TokenRequestFacts,
) -> Result<IssuedToken, OAuthError> {
    let form = Query::parse(std::str::from_utf8(form_body).ok());
    let grant_type = form
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("Missing required parameter: grant_type"))?;
    if grant_type != JWT_BEARER_GRANT {
        return Err(OAuthError::unsupported_grant_type(grant_type));
    }
    let assertion = form
        .get("assertion")
        .ok_or_else(|| OAuthError::invalid_request("Missing required parameter: assertion"))?;
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header_b64, claims_b64, signature_b64] = parts.as_slice() else {
        return Err(OAuthError::invalid_grant(
            "Invalid JWT: malformed assertion.",
        ));
    };
    let header: JwtHeader = decode_part(header_b64)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| OAuthError::invalid_grant("Invalid JWT: malformed header."))?;
    let claims: JwtClaims = decode_part(claims_b64)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| OAuthError::invalid_grant("Invalid JWT: malformed claim set."))?;
    let signature = decode_part(signature_b64)
        .ok_or_else(|| OAuthError::invalid_grant("Invalid JWT Signature."))?;
    facts.client_email = claims.iss.clone();
    facts.subject = claims.sub.clone();
    if header.alg != "RS256" {
        return Err(OAuthError::invalid_grant("Invalid JWT Signature."));
    }
    let issuer = claims
        .iss
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_grant("Invalid JWT: iss is missing."))?;
    let account = world
        .account(issuer)
        .ok_or_else(|| OAuthError::invalid_grant("Invalid grant: account not found"))?;
    let signed = format!("{header_b64}.{claims_b64}");
    if !account.key.verify_rs256(signed.as_bytes(), &signature) {
        return Err(OAuthError::invalid_grant("Invalid JWT Signature."));
    }
    let audience = claims.aud.as_deref().unwrap_or_default();
    if audience != token_url
        && audience != GOOGLE_TOKEN_AUDIENCE
        && audience != LEGACY_TOKEN_AUDIENCE
    {
        return Err(OAuthError::invalid_grant(format!(
            "Invalid JWT: Failed audience check. The expected value was {GOOGLE_TOKEN_AUDIENCE}."
        )));
    }
    let now = chrono::Utc::now().timestamp();
    let timeframe_ok = match (claims.iat, claims.exp) {
        (Some(iat), Some(exp)) => {
            exp > now
                && iat <= now + CLOCK_SKEW_SECONDS
                && exp > iat
                && exp - iat <= MAX_ASSERTION_SECONDS
        }
        _ => false,
    };
    if !timeframe_ok {
        return Err(OAuthError::invalid_grant(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable \
             timeframe. Check your iat and exp values in the JWT claim.",
        ));
    }
    let scopes: Vec<String> = claims
        .scope
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        return Err(OAuthError {
            http_status: 400,
            error: "invalid_scope",
            description: "Empty or missing scope not allowed.".to_owned(),
        });
    }
    let client_email = account.client_email.clone();
    let client_id = account.client_id.clone();
    let (subject_user_id, subject_email, customer_id) = match claims.sub.as_deref() {
        // Without `sub` the token acts as the service account itself, which is no admin of any
        // customer: API calls with it are refused, as Google refuses them.
        None => (String::new(), client_email.clone(), String::new()),
        Some(sub) => {
            let (customer_id, index) = world
                .find_user_anywhere(sub)
                .ok_or_else(|| OAuthError::invalid_grant("Invalid email or User ID"))?;
            let customer = world
                .customer(&customer_id)
                .ok_or_else(|| OAuthError::invalid_grant("Invalid email or User ID"))?;
            let delegated = customer
                .delegations
                .iter()
                .find(|d| d.client.eq_ignore_ascii_case(&client_email) || d.client == client_id);
            let all_granted = delegated.is_some_and(|d| {
                scopes
                    .iter()
                    .all(|scope| d.scopes.iter().any(|granted| granted == scope))
            });
            facts.customer_id = Some(customer_id.clone());
            if !all_granted {
                return Err(OAuthError::unauthorized_client());
            }
            let user = &customer.users[index];
            (user.id.clone(), user.primary_email.clone(), customer_id)
        }
    };
    let access_token = format!("ya29.emu-{}", crate::world::random_alnum(48));
    let now_instant = Instant::now();
    world.tokens.retain(|_, grant| grant.expires > now_instant);
    world.tokens.insert(
        access_token.clone(),
        AccessGrant {
            client_email,
            subject_user_id,
            subject_email,
            customer_id,
            scopes,
            expires: now_instant + std::time::Duration::from_secs(lifetime_secs),
        },
    );
    Ok(IssuedToken {
        access_token,
        expires_in: lifetime_secs,
    })
}

/// Finds the grant behind the request's bearer token (header, or `access_token` parameter).
pub fn bearer_grant(
    world: &World,
    authorization: Option<&str>,
    query: &Query,
) -> Result<AccessGrant, GoogleError> {
    let token = match authorization {
        Some(value) => {
            let (scheme, token) = value
                .split_once(' ')
                .ok_or_else(GoogleError::invalid_credentials)?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(GoogleError::invalid_credentials());
            }
            token.trim().to_owned()
        }
        None => query
            .get("access_token")
            .or_else(|| query.get("oauth_token"))
            .map(str::to_owned)
            .ok_or_else(GoogleError::login_required)?,
    };
    let grant = world
        .tokens
        .get(&token)
        .ok_or_else(GoogleError::invalid_credentials)?;
    if grant.expires <= Instant::now() {
        return Err(GoogleError::invalid_credentials());
    }
    Ok(grant.clone())
}
