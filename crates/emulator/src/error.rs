//! Google's JSON error shapes, as the emulator returns them.
//!
//! The Admin SDK, Licensing and Reseller APIs answer errors in the "v1" legacy format that still
//! carries `errors[]`, plus the canonical `status` name that newer front ends add:
//! `{"error": {"code": 409, "message": "…", "errors": [{"domain": "global", "reason": "duplicate",
//! "message": "…"}], "status": "ALREADY_EXISTS"}}`. The OAuth token endpoint uses its own shape,
//! `{"error": "invalid_grant", "error_description": "…"}` ([`OAuthError`]).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// One Google API error: HTTP code, the `reason` of its single `errors[]` entry and the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoogleError {
    /// HTTP status code.
    pub code: u16,
    /// `errors[0].reason`, e.g. `duplicate`, `notFound`, `userRateLimitExceeded`.
    pub reason: String,
    /// Human-readable message (`error.message` and `errors[0].message`).
    pub message: String,
    /// Less common parts, boxed to keep the error small.
    pub details: Option<Box<ErrorDetails>>,
}

/// The less common parts of a [`GoogleError`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErrorDetails {
    /// `errors[0].domain` when not `global` (`usageLimits` for quotas).
    pub domain: Option<String>,
    /// `errors[0].location` and `locationType` (`header`, `parameter`) where Google sets them.
    pub location: Option<(String, String)>,
    /// Seconds for a `Retry-After` header (quota and overload errors).
    pub retry_after_secs: Option<u64>,
}

impl GoogleError {
    /// An error with domain `global`.
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.to_owned(),
            message: message.into(),
            details: None,
        }
    }

    fn details_mut(&mut self) -> &mut ErrorDetails {
        self.details.get_or_insert_with(Box::default)
    }

    /// Sets `errors[0].domain`.
    pub fn with_domain(mut self, domain: &str) -> Self {
        self.details_mut().domain = Some(domain.to_owned());
        self
    }

    /// Sets `errors[0].location` and `locationType`.
    pub fn with_location(mut self, location: &str, location_type: &str) -> Self {
        self.details_mut().location = Some((location.to_owned(), location_type.to_owned()));
        self
    }

    /// Adds a `Retry-After` header.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.details_mut().retry_after_secs = Some(secs);
        self
    }

    /// `errors[0].domain`.
    pub fn domain(&self) -> &str {
        self.details
            .as_ref()
            .and_then(|d| d.domain.as_deref())
            .unwrap_or("global")
    }

    /// Seconds of `Retry-After`, if any.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.details.as_ref().and_then(|d| d.retry_after_secs)
    }

    /// 400 `invalid` with Google's "Invalid Input: …" wording.
    pub fn invalid_input(what: &str) -> Self {
        Self::new(400, "invalid", format!("Invalid Input: {what}"))
    }

    /// 400 `invalid` with a message of the caller's choosing.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "invalid", message)
    }

    /// 400 `required`, naming the missing parameter or field.
    pub fn required(what: &str) -> Self {
        Self::new(400, "required", format!("Required parameter: {what}"))
    }

    /// 400 `badRequest`.
    pub fn bad_request() -> Self {
        Self::new(400, "badRequest", "Bad Request")
    }

    /// 404 `notFound`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "notFound", message)
    }

    /// 409 `duplicate` "Entity already exists.".
    pub fn duplicate() -> Self {
        Self::new(409, "duplicate", "Entity already exists.")
    }

    /// 403 `forbidden` "Not Authorized to access this resource/api".
    pub fn forbidden() -> Self {
        Self::new(
            403,
            "forbidden",
            "Not Authorized to access this resource/api",
        )
    }

    /// 412 `conditionNotMet` "User creation is not complete." (the eventual-consistency window).
    pub fn user_creation_not_complete() -> Self {
        Self::new(412, "conditionNotMet", "User creation is not complete.")
    }

    /// 401 for a request without credentials.
    pub fn login_required() -> Self {
        Self::new(
            401,
            "required",
            "Request is missing required authentication credential. Expected OAuth 2 access \
             token, login cookie or other valid authentication credential. See \
             https://developers.google.com/identity/sign-in/web/devconsole-project.",
        )
        .with_location("Authorization", "header")
    }

    /// 401 for an unknown or expired access token.
    pub fn invalid_credentials() -> Self {
        Self::new(
            401,
            "authError",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential. See \
             https://developers.google.com/identity/sign-in/web/devconsole-project.",
        )
        .with_location("Authorization", "header")
    }

    /// 403 for a token whose scopes do not cover the method.
    pub fn insufficient_scopes() -> Self {
        Self::new(
            403,
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        )
    }

    /// Canonical status name for the HTTP code, as Google's newer front ends add it.
    pub fn status(&self) -> &'static str {
        match self.code {
            400 => "INVALID_ARGUMENT",
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            409 => "ALREADY_EXISTS",
            412 => "FAILED_PRECONDITION",
            429 => "RESOURCE_EXHAUSTED",
            500 => "INTERNAL",
            501 => "UNIMPLEMENTED",
            503 => "UNAVAILABLE",
            504 => "DEADLINE_EXCEEDED",
            _ => "UNKNOWN",
        }
    }

    /// The JSON body Google sends.
    pub fn body(&self) -> serde_json::Value {
        let mut entry = json!({
            "message": self.message,
            "domain": self.domain(),
            "reason": self.reason,
        });
        if let Some((location, location_type)) =
            self.details.as_ref().and_then(|d| d.location.as_ref())
        {
            entry["location"] = json!(location);
            entry["locationType"] = json!(location_type);
        }
        json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": [entry],
                "status": self.status(),
            }
        })
    }

    /// `status reason` for the ledger, e.g. `409 duplicate`.
    pub fn outcome(&self) -> String {
        format!("{} {}", self.code, self.reason)
    }
}

impl std::fmt::Display for GoogleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for GoogleError {}

impl IntoResponse for GoogleError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after_secs()
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if self.code == 401 {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\""),
            );
        }
        response
    }
}

/// An OAuth 2.0 token-endpoint error: `{"error": "...", "error_description": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    /// HTTP status (400 for `invalid_grant`, 401 for `unauthorized_client`).
    pub http_status: u16,
    /// `error`, e.g. `invalid_grant`.
    pub error: &'static str,
    /// `error_description`.
    pub description: String,
}

impl OAuthError {
    /// 400 `invalid_grant`.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self {
            http_status: 400,
            error: "invalid_grant",
            description: description.into(),
        }
    }

    /// 401 `unauthorized_client` (domain-wide delegation missing or scope not granted).
    pub fn unauthorized_client() -> Self {
        Self {
            http_status: 401,
            error: "unauthorized_client",
            description: "Client is unauthorized to retrieve access tokens using this method, \
                          or client not authorized for any of the scopes requested."
                .to_owned(),
        }
    }

    /// 400 `unsupported_grant_type`.
    pub fn unsupported_grant_type(grant_type: &str) -> Self {
        Self {
            http_status: 400,
            error: "unsupported_grant_type",
            description: format!("Invalid grant_type: {grant_type}"),
        }
    }

    /// 400 `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self {
            http_status: 400,
            error: "invalid_request",
            description: description.into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.http_status).unwrap_or(StatusCode::BAD_REQUEST);
        (
            status,
            axum::Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response()
    }
}
