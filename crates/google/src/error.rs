//! The adapter's error: a class the engine can switch on, plus what Google said.
//!
//! Classification follows the facts (section f): what counts as "already exists" (409
//! `duplicate`, 500 "Role assignment exists"), "not yet consistent" (412 "User creation is not
//! complete", a 404 for a user this process created moments ago, and, within the propagation
//! budget of such a user, the Licensing and role-assignment answers Google gives before it has
//! propagated the user: any 412, 400 "Invalid Input: resource_id", 400 naming `userId`, 403
//! "Not Authorized to access this resource/api"; past the budget they settle as the permission
//! or input errors they also are), "rate limited" (403
//! `userRateLimitExceeded`/`rateLimitExceeded`/`quotaExceeded`, 429, 503 from Licensing and
//! Reseller), "licenses exhausted" (412 "not enough available licenses", the user cap on
//! `users.insert`), and so on. Messages never contain keys or tokens: they are built from
//! Google's error text and from our own words only.

use std::time::Duration;

use http::HeaderMap;
use serde::Deserialize;

use crate::method::{Api, GoogleMethod};

/// What kind of failure, for the engine to decide what to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorClass {
    /// The thing to create exists already (409 `duplicate`, 500 "Role assignment exists", an org
    /// unit found by the confirming read). Confirm with a read and count the step as done.
    AlreadyExists,
    /// No such resource.
    NotFound,
    /// Google has not finished propagating something just created (412 "User creation is not
    /// complete", 404 for a user created moments ago). Retry later.
    NotYetConsistent,
    /// A quota was hit (403 rate/quota reasons, 429, 503 from Licensing/Reseller).
    RateLimited {
        /// Google's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// Worth retrying later: 5xx, connection reset, timeout, 409 "Conflicting requests".
    Transient,
    /// 403: the delegated admin lacks a privilege, the token a scope, or the API is disabled.
    PermissionDenied,
    /// 400 and other rejections of the request itself; retrying the same request cannot help.
    Invalid,
    /// No licenses left (412 "not enough available licenses") or the user cap is reached.
    LicensesExhausted,
    /// The service account could not get a token, or the API refused it.
    Auth(AuthFailure),
    /// Google answered something this adapter does not understand (an API change or a bug).
    Unexpected,
    /// Not sent: the caller's [`SendGuard`](crate::SendGuard) refused it (the worker's lease is
    /// lost or about to lapse, or its operation was cancelled). Nothing reached Google.
    NotSent,
}

impl ErrorClass {
    /// Stable lowercase label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            ErrorClass::AlreadyExists => "already_exists",
            ErrorClass::NotFound => "not_found",
            ErrorClass::NotYetConsistent => "not_yet_consistent",
            ErrorClass::RateLimited { .. } => "rate_limited",
            ErrorClass::Transient => "transient",
            ErrorClass::PermissionDenied => "permission_denied",
            ErrorClass::Invalid => "invalid",
            ErrorClass::LicensesExhausted => "licenses_exhausted",
            ErrorClass::Auth(_) => "auth",
            ErrorClass::Unexpected => "unexpected",
            ErrorClass::NotSent => "not_sent",
        }
    }

    /// Whether repeating the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ErrorClass::NotYetConsistent | ErrorClass::RateLimited { .. } | ErrorClass::Transient
        )
    }
}

/// Why authentication failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// The key file is missing, unreadable, not a service-account key, or its private key is
    /// not an RSA PEM key.
    KeyUnusable,
    /// Google does not know or no longer accepts the key (`invalid_grant: Invalid JWT…`,
    /// `invalid_client`): it was deleted, disabled or belongs to another account.
    KeyRejected,
    /// Domain-wide delegation is not granted for this client id and these scopes
    /// (`unauthorized_client`, `access_denied`).
    DelegationNotGranted,
    /// The delegated admin to impersonate does not exist or is not a valid address
    /// (`invalid_grant: Invalid email or User ID`).
    AdminInvalid,
    /// The token endpoint refused for another reason (its code is in the message).
    TokenEndpointRejected,
    /// The API answered 401 even to a freshly minted token.
    TokenRejected,
}

impl AuthFailure {
    /// Stable lowercase label.
    pub fn label(self) -> &'static str {
        match self {
            AuthFailure::KeyUnusable => "key_unusable",
            AuthFailure::KeyRejected => "key_rejected",
            AuthFailure::DelegationNotGranted => "delegation_not_granted",
            AuthFailure::AdminInvalid => "admin_invalid",
            AuthFailure::TokenEndpointRejected => "token_endpoint_rejected",
            AuthFailure::TokenRejected => "token_rejected",
        }
    }
}

/// A failed Google call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.render())]
pub struct GoogleError {
    method: Option<GoogleMethod>,
    class: ErrorClass,
    status: Option<u16>,
    reason: Option<String>,
    message: String,
    retry_after: Option<Duration>,
    attempts: u32,
    /// For an answer read as "not yet consistent" only because its user is new (a 403 or 400
    /// that may also be permanent): what it is if the user's propagation budget runs out, and
    /// the message then.
    if_propagated: Option<Box<(ErrorClass, String)>>,
}

impl GoogleError {
    /// A new error of `class` with our own explanation.
    pub(crate) fn new(
        method: Option<GoogleMethod>,
        class: ErrorClass,
        message: impl Into<String>,
    ) -> Self {
        Self {
            method,
            class,
            status: None,
            reason: None,
            message: message.into(),
            retry_after: None,
            attempts: 1,
            if_propagated: None,
        }
    }

    /// The class to switch on.
    pub fn class(&self) -> &ErrorClass {
        &self.class
    }

    /// The Google method that failed (none for failures before any call, e.g. reading a key).
    pub fn method(&self) -> Option<GoogleMethod> {
        self.method
    }

    /// HTTP status, when Google answered.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Google's `errors[0].reason` (e.g. `duplicate`, `conditionNotMet`), when given.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// Google's message, or ours, with advice for permission and auth failures.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// How long Google asked us to wait (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// How many attempts were made before giving up.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }

    /// The answer taken at its word: the user's propagation budget is spent, so a 403 is a
    /// permission error and a 400 an invalid request. `age` is the user's age.
    pub(crate) fn settle(mut self, age: Duration) -> Self {
        if let Some(settled) = self.if_propagated.take() {
            let (class, message) = *settled;
            self.class = class;
            self.message = format!(
                "{message}; still refused {}s after the user was created, longer than Google takes to propagate a new user",
                age.as_secs()
            );
        }
        self
    }

    pub(crate) fn reclassify(mut self, class: ErrorClass, note: &str) -> Self {
        self.class = class;
        self.message = format!("{}; {note}", self.message);
        self
    }

    fn render(&self) -> String {
        let mut out = String::new();
        match self.method {
            Some(m) => out.push_str(m.id()),
            None => out.push_str("google"),
        }
        out.push_str(": ");
        out.push_str(self.class.label());
        if let ErrorClass::Auth(failure) = &self.class {
            out.push_str(" (");
            out.push_str(failure.label());
            out.push(')');
        }
        if let Some(status) = self.status {
            out.push_str(&format!(" (http {status}"));
            if let Some(reason) = &self.reason {
                out.push(' ');
                out.push_str(reason);
            }
            out.push(')');
        }
        if self.attempts > 1 {
            out.push_str(&format!(" after {} attempts", self.attempts));
        }
        out.push_str(": ");
        out.push_str(&self.message);
        out
    }
}

/// Google's error envelope: `{"error": {"code", "message", "errors": [{"reason", …}], "status"}}`.
#[derive(Debug, Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct ErrorBody {
    message: String,
    errors: Vec<ErrorItem>,
    status: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct ErrorItem {
    reason: Option<String>,
    message: Option<String>,
}

/// What the caller knows about the request, for classification.
pub(crate) struct CallContext<'a> {
    pub method: GoogleMethod,
    /// The call concerns a user this process created within the consistency window.
    pub user_recently_created: bool,
    /// The call concerns a user this process created this long ago, still within the
    /// propagation budget ([`crate::PropagationRetry::budget`]).
    pub user_propagating: bool,
    pub delegated_admin: &'a str,
    /// The calls act as the service account itself (a delegated admin service account), not
    /// as an impersonated super admin.
    pub as_service_account: bool,
}

/// Methods whose answers about a brand-new user include Google's propagation errors.
fn meets_propagation(method: GoogleMethod) -> bool {
    matches!(
        method,
        GoogleMethod::LicenseAssignmentsInsert
            | GoogleMethod::LicenseAssignmentsGet
            | GoogleMethod::LicenseAssignmentsDelete
            | GoogleMethod::RoleAssignmentsInsert
            | GoogleMethod::RoleAssignmentsList
    )
}

/// Whether an answer is one Google gives a call about a user it has not propagated yet, though
/// it also has a permanent meaning: any 412 (but "not enough licenses", sorted out before),
/// 400 "Invalid Input: resource_id" on `roleAssignments.insert`, Licensing's 400 `invalid`
/// naming `userId`, 403 `forbidden` "Not Authorized to access this resource/api".
fn looks_unpropagated(
    method: GoogleMethod,
    status: u16,
    reason: Option<&str>,
    lower_message: &str,
) -> bool {
    if !meets_propagation(method) {
        return false;
    }
    match status {
        412 => true,
        400 => {
            (method == GoogleMethod::RoleAssignmentsInsert && lower_message.contains("resource_id"))
                || (method.api() == Api::Licensing
                    && reason.is_none_or(|r| r == "invalid")
                    && lower_message.contains("userid"))
        }
        403 => {
            reason.is_none_or(|r| r == "forbidden")
                && lower_message.contains("not authorized to access this resource/api")
        }
        _ => false,
    }
}

const MAX_MESSAGE: usize = 400;

fn truncate(text: &str) -> String {
    let text = text.trim();
    if text.len() <= MAX_MESSAGE {
        return text.to_owned();
    }
    let mut end = MAX_MESSAGE;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Parses `Retry-After` as delta-seconds or an HTTP date.
pub(crate) fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

const RATE_REASONS: [&str; 5] = [
    "userRateLimitExceeded",
    "rateLimitExceeded",
    "quotaExceeded",
    "dailyLimitExceeded",
    "concurrentLimitExceeded",
];

/// Classifies a non-success HTTP response.
pub(crate) fn classify_response(
    ctx: &CallContext<'_>,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> GoogleError {
    let (message, reason, canonical) = match serde_json::from_slice::<ErrorEnvelope>(body) {
        Ok(envelope) => {
            let first = envelope.error.errors.into_iter().next().unwrap_or_default();
            let message = if envelope.error.message.is_empty() {
                first.message.unwrap_or_default()
            } else {
                envelope.error.message
            };
            (truncate(&message), first.reason, envelope.error.status)
        }
        Err(_) => (truncate(&String::from_utf8_lossy(body)), None, None),
    };
    let retry_after = parse_retry_after(headers);
    let lower = message.to_ascii_lowercase();
    let reason_is = |r: &str| reason.as_deref() == Some(r);
    let method = ctx.method;
    let api = method.api();
    let mut if_propagated = None;

    let class = if status == 401 {
        ErrorClass::Auth(AuthFailure::TokenRejected)
    } else if lower.contains("enough available licenses") || lower.contains("not enough licenses") {
        ErrorClass::LicensesExhausted
    } else if method == GoogleMethod::UsersInsert && reason_is("limitExceeded") {
        // The Cloud Identity user cap: "hitting the cap produces an error when adding users".
        ErrorClass::LicensesExhausted
    } else if status == 429
        || canonical.as_deref() == Some("RESOURCE_EXHAUSTED")
        || reason.as_deref().is_some_and(|r| RATE_REASONS.contains(&r))
        || (status == 503 && matches!(api, Api::Licensing | Api::Reseller))
    {
        ErrorClass::RateLimited { retry_after }
    } else if status == 412 && lower.contains("user creation is not complete") {
        ErrorClass::NotYetConsistent
    } else if ctx.user_propagating && looks_unpropagated(method, status, reason.as_deref(), &lower)
    {
        let settled = if status == 403 {
            ErrorClass::PermissionDenied
        } else {
            ErrorClass::Invalid
        };
        let settled_message = if settled == ErrorClass::PermissionDenied {
            format!(
                "{message}; {}",
                permission_hint(ctx, reason.as_deref(), &lower)
            )
        } else {
            message.clone()
        };
        if_propagated = Some(Box::new((settled, settled_message)));
        ErrorClass::NotYetConsistent
    } else if status == 409 && (lower.contains("conflicting requests") || reason_is("conflict")) {
        ErrorClass::Transient
    } else if status == 409 || reason_is("duplicate") || lower.contains("role assignment exists") {
        ErrorClass::AlreadyExists
    } else if status == 404
        || reason_is("notFound")
        || reason_is("userNotFound")
        || reason_is("resourceNotFound")
    {
        if ctx.user_recently_created {
            ErrorClass::NotYetConsistent
        } else {
            ErrorClass::NotFound
        }
    } else if status == 403 {
        ErrorClass::PermissionDenied
    } else if status == 408 || status >= 500 {
        ErrorClass::Transient
    } else if (400..500).contains(&status) {
        ErrorClass::Invalid
    } else {
        ErrorClass::Unexpected
    };

    let message = if class == ErrorClass::PermissionDenied {
        format!(
            "{message}; {}",
            permission_hint(ctx, reason.as_deref(), &lower)
        )
    } else {
        message
    };
    GoogleError {
        method: Some(method),
        class,
        status: Some(status),
        reason,
        message,
        retry_after,
        attempts: 1,
        if_propagated,
    }
}

/// Tells the operator what is missing for a 403.
fn permission_hint(ctx: &CallContext<'_>, reason: Option<&str>, lower_message: &str) -> String {
    let method = ctx.method;
    let scope = method.scope();
    match reason {
        Some("accessNotConfigured") => format!(
            "enable the {} API in the service account's Google Cloud project",
            method.api().label()
        ),
        Some("domainCannotUseApis") => {
            "the customer has API access turned off (Admin console > Security > API controls)"
                .to_owned()
        }
        Some("insufficientPermissions") | Some("ACCESS_TOKEN_SCOPE_INSUFFICIENT") => {
            format!("the token lacks scope {scope}: add it to the domain-wide delegation grant")
        }
        _ if lower_message.contains("scope") => {
            format!("the token lacks scope {scope}: add it to the domain-wide delegation grant")
        }
        _ if ctx.as_service_account => format!(
            "the service account {} acts as a delegated admin, and Google refused it {}: either its admin role lacks the privilege that call needs (Admin console > Account > Admin roles > the service account's role > Privileges), or Google lets only a super administrator do it; for this domain, use domain-wide delegation with a super admin as the delegated admin instead",
            ctx.delegated_admin,
            method.id()
        ),
        _ => format!(
            "the delegated admin {} lacks the admin privilege that {} needs (scope {scope}); make it a super admin of this domain",
            ctx.delegated_admin,
            method.id()
        ),
    }
}

/// A transport failure (connect, reset, timeout, unreadable body).
pub(crate) fn classify_transport(method: GoogleMethod, error: &reqwest::Error) -> GoogleError {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "connection failed"
    };
    // reqwest's Display names the URL (no secrets: tokens travel in a header) and the cause.
    GoogleError::new(
        Some(method),
        ErrorClass::Transient,
        format!("{what}: {error}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(method: GoogleMethod, status: u16, body: &str) -> GoogleError {
        let ctx = CallContext {
            method,
            user_recently_created: false,
            user_propagating: false,
            delegated_admin: "admin@r.example",
            as_service_account: false,
        };
        classify_response(&ctx, status, &HeaderMap::new(), body.as_bytes())
    }

    fn google(code: u16, reason: &str, message: &str) -> String {
        serde_json::json!({"error": {"code": code, "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}]}})
        .to_string()
    }

    #[test]
    fn catalogue_of_google_errors_maps_to_classes() {
        use ErrorClass::*;
        let cases = [
            (
                GoogleMethod::UsersInsert,
                409,
                google(409, "duplicate", "Entity already exists."),
                AlreadyExists,
            ),
            (
                GoogleMethod::RoleAssignmentsInsert,
                500,
                google(
                    500,
                    "internalError",
                    "Role assignment exists: roleAssignment",
                ),
                AlreadyExists,
            ),
            (
                GoogleMethod::UsersPatch,
                409,
                google(409, "conflict", "Conflicting requests"),
                Transient,
            ),
            (
                GoogleMethod::UsersGet,
                404,
                google(404, "notFound", "Resource Not Found: userKey"),
                NotFound,
            ),
            (
                GoogleMethod::UsersPatch,
                412,
                google(412, "conditionNotMet", "User creation is not complete."),
                NotYetConsistent,
            ),
            (
                GoogleMethod::LicenseAssignmentsInsert,
                412,
                google(
                    412,
                    "conditionNotMet",
                    "Sorry, there aren't enough available licenses",
                ),
                LicensesExhausted,
            ),
            (
                GoogleMethod::UsersInsert,
                412,
                google(412, "limitExceeded", "User limit reached"),
                LicensesExhausted,
            ),
            (
                GoogleMethod::UsersGet,
                403,
                google(403, "userRateLimitExceeded", "Rate"),
                RateLimited { retry_after: None },
            ),
            (
                GoogleMethod::UsersGet,
                403,
                google(403, "quotaExceeded", "Quota"),
                RateLimited { retry_after: None },
            ),
            (
                GoogleMethod::UsersGet,
                429,
                "Quota exceeded for quota metric".to_owned(),
                RateLimited { retry_after: None },
            ),
            (
                GoogleMethod::LicenseAssignmentsGet,
                503,
                google(
                    503,
                    "serviceNotAvailable",
                    "The service is currently unavailable.",
                ),
                RateLimited { retry_after: None },
            ),
            (
                GoogleMethod::UsersList,
                503,
                google(503, "backendError", "Service unavailable. Please try again"),
                Transient,
            ),
            (
                GoogleMethod::UsersGet,
                500,
                google(500, "backendError", "Backend Error"),
                Transient,
            ),
            (
                GoogleMethod::UsersGet,
                403,
                google(
                    403,
                    "forbidden",
                    "Not Authorized to access this resource/api",
                ),
                PermissionDenied,
            ),
            (
                GoogleMethod::OrgunitsInsert,
                400,
                google(400, "invalid", "Invalid Parent Orgunit Id"),
                Invalid,
            ),
            (
                GoogleMethod::UsersGet,
                401,
                google(401, "authError", "Invalid Credentials"),
                Auth(AuthFailure::TokenRejected),
            ),
        ];
        for (method, status, body, expected) in cases {
            let error = classify(method, status, &body);
            assert_eq!(error.class(), &expected, "{method} {status} {body}");
        }
    }

    #[test]
    fn recently_created_user_404_is_not_yet_consistent() {
        let ctx = CallContext {
            method: GoogleMethod::UsersGet,
            user_recently_created: true,
            user_propagating: true,
            delegated_admin: "a@r.example",
            as_service_account: false,
        };
        let error = classify_response(
            &ctx,
            404,
            &HeaderMap::new(),
            google(404, "notFound", "Resource Not Found: userKey").as_bytes(),
        );
        assert_eq!(error.class(), &ErrorClass::NotYetConsistent);
    }

    #[test]
    fn propagation_answers_about_a_new_user_are_not_yet_consistent_and_settle_later() {
        use ErrorClass::*;
        let fresh = |method, status, body: String| {
            let ctx = CallContext {
                method,
                user_recently_created: true,
                user_propagating: true,
                delegated_admin: "admin@r.example",
                as_service_account: false,
            };
            classify_response(&ctx, status, &HeaderMap::new(), body.as_bytes())
        };
        let not_authorized = || {
            google(
                403,
                "forbidden",
                "Not Authorized to access this resource/api",
            )
        };
        let cases = [
            (
                GoogleMethod::LicenseAssignmentsInsert,
                412,
                google(412, "conditionNotMet", "Precondition Failed"),
                NotYetConsistent,
                Invalid,
            ),
            (
                GoogleMethod::LicenseAssignmentsInsert,
                400,
                google(400, "invalid", "Invalid Input: userId"),
                NotYetConsistent,
                Invalid,
            ),
            (
                GoogleMethod::RoleAssignmentsInsert,
                400,
                google(400, "invalid", "Invalid Input: resource_id"),
                NotYetConsistent,
                Invalid,
            ),
            (
                GoogleMethod::RoleAssignmentsInsert,
                403,
                not_authorized(),
                NotYetConsistent,
                PermissionDenied,
            ),
            // Not propagation answers, even about a new user.
            (
                GoogleMethod::LicenseAssignmentsInsert,
                403,
                google(
                    403,
                    "insufficientPermissions",
                    "Request had insufficient authentication scopes.",
                ),
                PermissionDenied,
                PermissionDenied,
            ),
            (
                GoogleMethod::LicenseAssignmentsInsert,
                403,
                google(403, "userRateLimitExceeded", "Quota exceeded"),
                RateLimited { retry_after: None },
                RateLimited { retry_after: None },
            ),
            (
                GoogleMethod::LicenseAssignmentsInsert,
                412,
                google(
                    412,
                    "conditionNotMet",
                    "there aren't enough available licenses",
                ),
                LicensesExhausted,
                LicensesExhausted,
            ),
            (
                GoogleMethod::RoleAssignmentsInsert,
                400,
                google(400, "invalid", "Invalid Input: roleId"),
                Invalid,
                Invalid,
            ),
            (
                GoogleMethod::UsersPatch,
                403,
                not_authorized(),
                PermissionDenied,
                PermissionDenied,
            ),
        ];
        for (method, status, body, now, later) in cases {
            let error = fresh(method, status, body.clone());
            assert_eq!(error.class(), &now, "{method} {status} {body}");
            let settled = error.settle(Duration::from_secs(200));
            assert_eq!(settled.class(), &later, "{method} {status} {body}");
            if now != later {
                assert!(
                    settled.message().contains("still refused 200s"),
                    "{settled}"
                );
            }
        }
        // The same answers about a user that is not new are what they say.
        let old = classify(GoogleMethod::RoleAssignmentsInsert, 403, &not_authorized());
        assert_eq!(old.class(), &PermissionDenied);
        assert!(old.message().contains("admin@r.example"), "{old}");
    }

    #[test]
    fn permission_denied_names_admin_and_scope() {
        let error = classify(
            GoogleMethod::RoleAssignmentsInsert,
            403,
            &google(
                403,
                "forbidden",
                "Not Authorized to access this resource/api",
            ),
        );
        let text = error.to_string();
        assert!(text.contains("admin@r.example"), "{text}");
        assert!(text.contains("admin.directory.rolemanagement"), "{text}");
        assert!(
            text.starts_with(
                "directory.roleAssignments.insert: permission_denied (http 403 forbidden)"
            ),
            "{text}"
        );
    }

    #[test]
    fn retry_after_seconds_and_dates_are_read() {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(parse_retry_after(&headers), Some(Duration::from_secs(7)));
        let later = chrono::Utc::now() + chrono::Duration::seconds(30);
        headers.insert(
            http::header::RETRY_AFTER,
            later.to_rfc2822().replace("+0000", "GMT").parse().unwrap(),
        );
        let parsed = parse_retry_after(&headers).unwrap();
        assert!(
            parsed > Duration::from_secs(27) && parsed <= Duration::from_secs(30),
            "{parsed:?}"
        );
    }

    #[test]
    fn a_refusal_to_a_delegated_admin_service_account_names_both_ways_out() {
        let ctx = CallContext {
            method: GoogleMethod::RolesInsert,
            user_recently_created: false,
            user_propagating: false,
            delegated_admin: "sa@p.iam.gserviceaccount.com",
            as_service_account: true,
        };
        let body = r#"{"error":{"code":403,"message":"Not Authorized to access this resource/api","errors":[{"reason":"forbidden","domain":"global","message":"Not Authorized to access this resource/api"}]}}"#;
        let error = classify_response(&ctx, 403, &HeaderMap::new(), body.as_bytes());
        assert_eq!(*error.class(), ErrorClass::PermissionDenied);
        let text = error.to_string();
        for expected in [
            "sa@p.iam.gserviceaccount.com acts as a delegated admin",
            "directory.roles.insert",
            "lacks the privilege",
            "only a super administrator",
            "domain-wide delegation with a super admin",
        ] {
            assert!(text.contains(expected), "{expected:?} not in {text}");
        }
    }
}
