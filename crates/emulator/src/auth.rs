//! OAuth 2.0: the token endpoint and bearer-token checks on API calls.
//!
//! The token endpoint accepts two grants. The JWT-bearer grant
//! (`urn:ietf:params:oauth:grant-type:jwt-bearer`) takes an RS256 assertion signed by a seeded
//! service account, as google-auth and yup-oauth2 send it: signature, `iss`, `aud` (the
//! emulator's token URL or Google's constant), `iat`/`exp` (at most one hour, not expired) are
//! checked; with `sub` the token acts as that user, and the user's customer must have delegated
//! every requested scope to the service account (domain-wide delegation); without `sub` it acts
//! as the service account itself. The refresh-token grant of installed-app OAuth clients lives in
//! [`crate::oauth_clients`]. Failures use Google's `invalid_grant` / `unauthorized_client` shapes.
//!
//! An API call's bearer token is either an access token this endpoint issued or a service
//! account's self-signed JWT ([`crate::self_signed`]).
//!
//! JWTs are read and verified with `jsonwebtoken`. yup-oauth2 pads its base64url segments and
//! Google accepts that, so padding is stripped before decoding while the signature is checked
//! over the segments exactly as sent (that is what the signer signed).

use jsonwebtoken::Header;
use serde::Deserialize;
use tokio::time::Instant;

use crate::discovery::Query;
use crate::error::{GoogleError, OAuthError};
use crate::world::{AccessGrant, World};

/// The JWT-bearer grant type.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The refresh-token grant type.
pub const REFRESH_TOKEN_GRANT: &str = "refresh_token";
/// Google's token endpoint, accepted as `aud` besides the emulator's own URL.
pub const GOOGLE_TOKEN_AUDIENCE: &str = "https://oauth2.googleapis.com/token";
/// Older audience some clients still use.
const LEGACY_TOKEN_AUDIENCE: &str = "https://accounts.google.com/o/oauth2/token";
/// Longest lifetime Google accepts for a JWT (assertion or self-signed token).
pub const MAX_JWT_SECONDS: i64 = 3600;
/// Clock skew tolerated on `iat`.
pub const CLOCK_SKEW_SECONDS: i64 = 300;

/// The claims Google reads from a service account's JWT.
#[derive(Deserialize)]
pub struct JwtClaims {
    /// The service account's email.
    pub iss: Option<String>,
    /// Space-separated scopes.
    #[serde(default)]
    pub scope: Option<String>,
    /// Audience.
    pub aud: Option<String>,
    /// Issued at (seconds since the epoch).
    pub iat: Option<i64>,
    /// Expiry (seconds since the epoch).
    pub exp: Option<i64>,
    /// Subject: a user to impersonate, or the service account itself.
    #[serde(default)]
    pub sub: Option<String>,
}

impl JwtClaims {
    /// Whether `iat`/`exp` are present, `exp` is in the future, `iat` not too far ahead, and the
    /// lifetime at most an hour.
    pub fn timeframe_ok(&self, now: i64) -> bool {
        match (self.iat, self.exp) {
            (Some(iat), Some(exp)) => {
                exp > now
                    && iat <= now + CLOCK_SKEW_SECONDS
                    && exp > iat
                    && exp - iat <= MAX_JWT_SECONDS
            }
            _ => false,
        }
    }

    /// The `scope` claim split on whitespace.
    pub fn scopes(&self) -> Vec<String> {
        self.scope
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }
}

/// What is wrong with a JWT that could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtDefect {
    /// Not three dot-separated segments.
    Malformed,
    /// The header is not JSON naming a known algorithm.
    Header,
    /// The claim set is not JSON of the expected shape.
    Claims,
}

/// A JWT read but not yet verified: its header and claims, and what its signature covers.
pub struct UnverifiedJwt {
    /// The header (`alg`, `kid`, …).
    pub header: Header,
    /// The claims.
    pub claims: JwtClaims,
    /// `header.claims` exactly as sent (padded or not): what the signer signed.
    signing_input: String,
    /// The signature segment without padding.
    signature: String,
}

impl UnverifiedJwt {
    /// Splits and decodes a compact JWT, tolerating `=` padding in its segments.
    pub fn parse(token: &str) -> Result<Self, JwtDefect> {
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtDefect::Malformed);
        };
        let unpadded = |segment: &str| segment.trim_end_matches('=').to_owned();
        let normalized = format!(
            "{}.{}.{}",
            unpadded(header),
            unpadded(claims),
            unpadded(signature)
        );
        let header_value =
            jsonwebtoken::decode_header(&normalized).map_err(|_| JwtDefect::Header)?;
        let claims_value = jsonwebtoken::dangerous::insecure_decode::<JwtClaims>(&normalized)
            .map_err(|_| JwtDefect::Claims)?
            .claims;
        Ok(Self {
            header: header_value,
            claims: claims_value,
            signing_input: format!("{header}.{claims}"),
            signature: unpadded(signature),
        })
    }

    /// Whether the JWT is RS256 and signed by `key`.
    pub fn signed_by(&self, key: &crate::keys::AccountKey) -> bool {
        self.header.alg == jsonwebtoken::Algorithm::RS256
            && key.verify_rs256(self.signing_input.as_bytes(), &self.signature)
    }
}

/// What a successful token request yields.
pub struct IssuedToken {
    /// The access token (secret).
    pub access_token: String,
    /// Seconds of validity.
    pub expires_in: u64,
    /// The granted scopes, space-separated, when the grant reports them (refresh grant).
    pub scope: Option<String>,
}

/// What the ledger records of a token request.
pub struct TokenRequestFacts {
    /// `iss` or the OAuth client id, when parsed.
    pub client_email: Option<String>,
    /// `sub`, or the authorized user, when present.
    pub subject: Option<String>,
    /// The subject's customer, when known.
    pub customer_id: Option<String>,
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
    match grant_type {
        JWT_BEARER_GRANT => jwt_bearer_grant(world, &form, token_url, lifetime_secs, facts),
        REFRESH_TOKEN_GRANT => {
            crate::oauth_clients::refresh_token_grant(world, &form, lifetime_secs, facts)
        }
        other => Err(OAuthError::unsupported_grant_type(other)),
    }
}

fn jwt_bearer_grant(
    world: &mut World,
    form: &Query,
    token_url: &str,
    lifetime_secs: u64,
    facts: &mut TokenRequestFacts,
) -> Result<IssuedToken, OAuthError> {
    let assertion = form
        .get("assertion")
        .ok_or_else(|| OAuthError::invalid_request("Missing required parameter: assertion"))?;
    let jwt = UnverifiedJwt::parse(assertion).map_err(|defect| {
        OAuthError::invalid_grant(match defect {
            JwtDefect::Malformed => "Invalid JWT: malformed assertion.",
            // An algorithm jsonwebtoken does not know (`none`, …) lands here too.
            JwtDefect::Header => "Invalid JWT Signature.",
            JwtDefect::Claims => "Invalid JWT: malformed claim set.",
        })
    })?;
    let claims = &jwt.claims;
    facts.client_email = claims.iss.clone();
    facts.subject = claims.sub.clone();
    let issuer = claims
        .iss
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_grant("Invalid JWT: iss is missing."))?;
    let account = world
        .account(issuer)
        .ok_or_else(|| OAuthError::invalid_grant("Invalid grant: account not found"))?;
    if !jwt.signed_by(&account.key) {
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
    if !claims.timeframe_ok(chrono::Utc::now().timestamp()) {
        return Err(OAuthError::invalid_grant(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable \
             timeframe. Check your iat and exp values in the JWT claim.",
        ));
    }
    let scopes = claims.scopes();
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
        // Without `sub` (or with the account's own email, as google-auth's self-signed tokens
        // put it) the token acts as the service account itself: a delegated admin wherever it
        // holds a role, and no admin anywhere else.
        None => world.service_account_identity(&client_id),
        Some(sub) if sub.eq_ignore_ascii_case(&client_email) => {
            world.service_account_identity(&client_id)
        }
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
    if facts.customer_id.is_none() && !customer_id.is_empty() {
        facts.customer_id = Some(customer_id.clone());
    }
    let access_token = issue_access_token(
        world,
        AccessGrant {
            client_email,
            subject_user_id,
            subject_email,
            customer_id,
            scopes,
            expires: Instant::now() + std::time::Duration::from_secs(lifetime_secs),
        },
    );
    Ok(IssuedToken {
        access_token,
        expires_in: lifetime_secs,
        scope: None,
    })
}

/// Stores a grant under a fresh opaque access token (dropping expired ones) and returns it.
pub fn issue_access_token(world: &mut World, grant: AccessGrant) -> String {
    let access_token = format!("ya29.emu-{}", crate::world::random_alnum(48));
    let now = Instant::now();
    world.tokens.retain(|_, grant| grant.expires > now);
    world.tokens.insert(access_token.clone(), grant);
    access_token
}

/// Finds the grant behind the request's bearer token (header, or `access_token` parameter):
/// an access token issued by the token endpoint, or a service account's self-signed JWT whose
/// `aud` may be any of `audiences`.
pub fn bearer_grant(
    world: &World,
    authorization: Option<&str>,
    query: &Query,
    audiences: &crate::self_signed::Audiences,
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
    let Some(grant) = world.tokens.get(&token) else {
        return crate::self_signed::grant(world, &token, audiences)
            .ok_or_else(GoogleError::invalid_credentials);
    };
    if grant.expires <= Instant::now() {
        return Err(GoogleError::invalid_credentials());
    }
    Ok(grant.clone())
}
