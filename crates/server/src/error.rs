//! The one closed set of errors the API returns, and their conversion to `tonic::Status`.
//!
//! Every handler returns [`ApiError`]; the authentication gate's refusals
//! ([`Denial`](crate::auth::Denial)) and the resolver's typed errors convert into it. The
//! conversion to a gRPC status with AIP-193 details (`google.rpc.BadRequest`, `ErrorInfo`,
//! `RetryInfo`, `ResourceInfo`) happens here and nowhere else. Messages are lowercase without a trailing period and never carry secrets; internal
//! errors are logged with their whole chain and reach the caller only as an opaque message.

use std::collections::HashMap;
use std::time::Duration;

use support_access_domain::validation::FieldViolation;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of every error this service raises.
pub const ERROR_DOMAIN: &str = "supportaccess.googleapis.com";

/// How long a caller refused for load should wait before retrying.
const RESOURCE_EXHAUSTED_RETRY: Duration = Duration::from_secs(1);

/// An API error, closed over what a caller can act upon.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed; every offending field is listed.
    #[error("the request has {} invalid field(s)", .0.len())]
    InvalidArgument(Vec<FieldViolation>),
    /// The named resource does not exist.
    #[error("{resource_type} {name:?} not found")]
    NotFound {
        resource_type: &'static str,
        name: String,
    },
    /// Nothing matches what the caller named, for a reason worth its own `ErrorInfo.reason` and
    /// a message that says what to check.
    #[error("{message}")]
    NotFoundBecause {
        resource_type: &'static str,
        name: String,
        reason: &'static str,
        message: String,
    },
    /// The resource already exists, or a request id was reused for another request.
    #[error("{message}")]
    AlreadyExists {
        resource_type: &'static str,
        name: String,
        reason: &'static str,
        message: String,
    },
    /// The etag given does not match the resource's current one.
    #[error("{resource_type} {name:?} was changed by someone else: read it again and retry")]
    EtagMismatch {
        resource_type: &'static str,
        name: String,
    },
    /// The system is not in a state that allows the operation.
    #[error("{message}")]
    FailedPrecondition {
        reason: &'static str,
        message: String,
    },
    /// The caller is authenticated but not allowed to do this.
    #[error("{message}")]
    PermissionDenied {
        reason: &'static str,
        message: String,
        /// `ErrorInfo.metadata` (the role required, the domain refused).
        metadata: Vec<(&'static str, String)>,
    },
    /// The caller is not authenticated.
    #[error("{message}")]
    Unauthenticated {
        reason: &'static str,
        message: String,
    },
    /// Too many requests at once, or a message too large; retrying later may succeed.
    #[error("{message}")]
    ResourceExhausted {
        reason: &'static str,
        message: String,
    },
    /// The method is in the contract but this server does not serve it.
    #[error("{0}")]
    Unimplemented(String),
    /// A dependency (Postgres, Google) is unavailable; retrying later may succeed.
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// A bug or an unexpected failure; details are in the server log only.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// One invalid field.
    pub fn invalid(field: &str, description: impl Into<String>) -> Self {
        ApiError::InvalidArgument(vec![FieldViolation {
            field: field.to_owned(),
            description: description.into(),
        }])
    }

    /// PERMISSION_DENIED with a reason and no metadata.
    pub fn permission_denied(reason: &'static str, message: impl Into<String>) -> Self {
        ApiError::PermissionDenied {
            reason,
            message: message.into(),
            metadata: Vec::new(),
        }
    }

    /// Wraps an unexpected failure.
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(error.into())
    }

    /// The stable `ErrorInfo.reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::InvalidArgument(_) => "INVALID_ARGUMENT",
            ApiError::NotFound { .. } => "NOT_FOUND",
            ApiError::NotFoundBecause { reason, .. } => reason,
            ApiError::AlreadyExists { reason, .. } => reason,
            ApiError::EtagMismatch { .. } => "ETAG_MISMATCH",
            ApiError::FailedPrecondition { reason, .. } => reason,
            ApiError::PermissionDenied { reason, .. } => reason,
            ApiError::Unauthenticated { reason, .. } => reason,
            ApiError::ResourceExhausted { reason, .. } => reason,
            ApiError::Unimplemented(_) => "NOT_IMPLEMENTED",
            ApiError::Unavailable { .. } => "UNAVAILABLE",
            ApiError::Internal(_) => "INTERNAL",
        }
    }

    /// The gRPC code.
    pub fn code(&self) -> Code {
        match self {
            ApiError::InvalidArgument(_) => Code::InvalidArgument,
            ApiError::NotFound { .. } | ApiError::NotFoundBecause { .. } => Code::NotFound,
            ApiError::AlreadyExists { .. } => Code::AlreadyExists,
            ApiError::EtagMismatch { .. } => Code::Aborted,
            ApiError::FailedPrecondition { .. } => Code::FailedPrecondition,
            ApiError::PermissionDenied { .. } => Code::PermissionDenied,
            ApiError::Unauthenticated { .. } => Code::Unauthenticated,
            ApiError::ResourceExhausted { .. } => Code::ResourceExhausted,
            ApiError::Unimplemented(_) => Code::Unimplemented,
            ApiError::Unavailable { .. } => Code::Unavailable,
            ApiError::Internal(_) => Code::Internal,
        }
    }
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Status {
        let mut details = ErrorDetails::new();
        let metadata: HashMap<String, String> = match &error {
            ApiError::PermissionDenied { metadata, .. } => metadata
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            _ => HashMap::new(),
        };
        details.set_error_info(error.reason(), ERROR_DOMAIN, metadata);
        let message = match &error {
            ApiError::InvalidArgument(violations) => {
                for v in violations {
                    details.add_bad_request_violation(v.field.clone(), v.description.clone());
                }
                let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
                format!(
                    "invalid argument: {}",
                    describe_violations(violations, &fields)
                )
            }
            ApiError::NotFound {
                resource_type,
                name,
            }
            | ApiError::EtagMismatch {
                resource_type,
                name,
            } => {
                details.set_resource_info(*resource_type, name.clone(), "", error.to_string());
                error.to_string()
            }
            ApiError::AlreadyExists {
                resource_type,
                name,
                message,
                ..
            }
            | ApiError::NotFoundBecause {
                resource_type,
                name,
                message,
                ..
            } => {
                details.set_resource_info(*resource_type, name.clone(), "", message.clone());
                error.to_string()
            }
            ApiError::Unavailable { retry_after, .. } => {
                details.set_retry_info(*retry_after);
                error.to_string()
            }
            ApiError::ResourceExhausted { .. } => {
                details.set_retry_info(Some(RESOURCE_EXHAUSTED_RETRY));
                error.to_string()
            }
            ApiError::Internal(source) => {
                tracing::error!(error = ?source, "internal error");
                error.to_string()
            }
            _ => error.to_string(),
        };
        Status::with_error_details(error.code(), message, details)
    }
}

fn describe_violations(violations: &[FieldViolation], fields: &[&str]) -> String {
    match violations {
        // A violation of the request as a whole (it cannot be decoded) names no field.
        [one] if one.field.is_empty() => one.description.clone(),
        [one] => format!("{}: {}", one.field, one.description),
        _ => format!(
            "{} fields are invalid: {}",
            violations.len(),
            fields.join(", ")
        ),
    }
}

impl From<support_access_store::StoreError> for ApiError {
    fn from(error: support_access_store::StoreError) -> Self {
        use support_access_store::StoreError;
        match error {
            StoreError::Database(e) if is_connection_error(&e) => ApiError::Unavailable {
                message: "the database is unavailable".into(),
                retry_after: Some(Duration::from_secs(1)),
            },
            other => ApiError::internal(other),
        }
    }
}

fn is_connection_error(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_carries_every_field_violation() {
        let error = ApiError::InvalidArgument(vec![
            FieldViolation {
                field: "domain.domain_name".into(),
                description: "must not be empty".into(),
            },
            FieldViolation {
                field: "domain.delegated_admin".into(),
                description: "must not be a gmail.com address".into(),
            },
        ]);
        let status: Status = error.into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let violations = &details.bad_request().expect("bad request").field_violations;
        assert_eq!(violations.len(), 2);
        assert_eq!(violations[1].field, "domain.delegated_admin");
        assert_eq!(
            details.error_info().expect("error info").domain,
            ERROR_DOMAIN
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let status: Status =
            ApiError::internal(anyhow::anyhow!("password=hunter2 leaked by a bug")).into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
    }

    #[test]
    fn unavailable_carries_retry_info() {
        let status: Status = ApiError::Unavailable {
            message: "the database is unavailable".into(),
            retry_after: Some(Duration::from_secs(2)),
        }
        .into();
        let details = status.get_error_details();
        assert_eq!(
            details.retry_info().and_then(|r| r.retry_delay),
            Some(Duration::from_secs(2))
        );
    }
}
