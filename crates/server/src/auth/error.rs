//! Why the gate refused a call, and the gRPC status the caller sees for it.
//!
//! Messages say what to do and never carry a credential: not the token, not the JWT, not
//! certificate bytes. Each carries a `google.rpc.ErrorInfo` with a stable reason.

use support_access_domain::validation::FieldViolation;
use tonic::{Code, Status};

use crate::error::ApiError;

/// A refused call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    /// The caller did not prove who it is.
    #[error("{message}")]
    Unauthenticated {
        /// Stable `ErrorInfo.reason`.
        reason: &'static str,
        /// What went wrong, for the caller.
        message: String,
    },
    /// The caller is known but may not do this.
    #[error("{message}")]
    PermissionDenied {
        /// Stable `ErrorInfo.reason`.
        reason: &'static str,
        /// What went wrong, for the caller.
        message: String,
        /// `ErrorInfo.metadata` (required role, refused domain).
        metadata: Vec<(&'static str, String)>,
    },
    /// The request cannot be read well enough to tell what it touches.
    #[error("{0}")]
    InvalidArgument(String),
    /// Too many requests at once, or a message too large.
    #[error("{message}")]
    ResourceExhausted {
        /// Stable `ErrorInfo.reason`.
        reason: &'static str,
        /// What went wrong, for the caller.
        message: String,
    },
    /// Credentials cannot be checked right now (the identity provider's keys are not loaded).
    #[error("{0}")]
    Unavailable(String),
    /// The service is switched off (server reflection with `--disable-reflection`).
    #[error("{0}")]
    Unimplemented(String),
}

impl From<Denial> for ApiError {
    fn from(denial: Denial) -> Self {
        match denial {
            Denial::Unauthenticated { reason, message } => {
                ApiError::Unauthenticated { reason, message }
            }
            Denial::PermissionDenied {
                reason,
                message,
                metadata,
            } => ApiError::PermissionDenied {
                reason,
                message,
                metadata,
            },
            // The request as a whole is unreadable: a violation that names no field.
            Denial::InvalidArgument(description) => {
                ApiError::InvalidArgument(vec![FieldViolation {
                    field: String::new(),
                    description,
                }])
            }
            Denial::ResourceExhausted { reason, message } => {
                ApiError::ResourceExhausted { reason, message }
            }
            Denial::Unavailable(message) => ApiError::Unavailable {
                message,
                retry_after: Some(std::time::Duration::from_secs(1)),
            },
            Denial::Unimplemented(message) => ApiError::Unimplemented(message),
        }
    }
}

impl Denial {
    /// UNAUTHENTICATED with a reason.
    pub fn unauthenticated(reason: &'static str, message: impl Into<String>) -> Self {
        Denial::Unauthenticated {
            reason,
            message: message.into(),
        }
    }

    /// PERMISSION_DENIED with a reason and no metadata.
    pub fn permission_denied(reason: &'static str, message: impl Into<String>) -> Self {
        Denial::PermissionDenied {
            reason,
            message: message.into(),
            metadata: Vec::new(),
        }
    }

    /// The gRPC code.
    pub fn code(&self) -> Code {
        match self {
            Denial::Unauthenticated { .. } => Code::Unauthenticated,
            Denial::PermissionDenied { .. } => Code::PermissionDenied,
            Denial::InvalidArgument(_) => Code::InvalidArgument,
            Denial::ResourceExhausted { .. } => Code::ResourceExhausted,
            Denial::Unavailable(_) => Code::Unavailable,
            Denial::Unimplemented(_) => Code::Unimplemented,
        }
    }

    /// The stable reason, as in `ErrorInfo.reason` and the audit log's detail.
    pub fn reason(&self) -> &'static str {
        match self {
            Denial::Unauthenticated { reason, .. }
            | Denial::PermissionDenied { reason, .. }
            | Denial::ResourceExhausted { reason, .. } => reason,
            Denial::InvalidArgument(_) => "INVALID_ARGUMENT",
            Denial::Unavailable(_) => "UNAVAILABLE",
            Denial::Unimplemented(_) => "NOT_IMPLEMENTED",
        }
    }

    /// The audit log's outcome: the gRPC code's name.
    pub fn outcome(&self) -> &'static str {
        match self.code() {
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::Unavailable => "UNAVAILABLE",
            _ => "UNIMPLEMENTED",
        }
    }

    /// The status the caller receives: through [`ApiError`], the one mapping to gRPC.
    pub fn to_status(&self) -> Status {
        ApiError::from(self.clone()).into()
    }

    /// The HTTP response carrying the status (a trailers-only gRPC response).
    pub fn into_http(self) -> http::Response<tonic::body::Body> {
        self.to_status().into_http()
    }
}

#[cfg(test)]
mod tests {
    use tonic_types::StatusExt;

    use super::*;
    use crate::error::ERROR_DOMAIN;

    #[test]
    fn statuses_carry_code_reason_and_metadata() {
        let denial = Denial::PermissionDenied {
            reason: "ROLE_REQUIRED",
            message: "needs operator".into(),
            metadata: vec![("required_role", "operator".into())],
        };
        let status = denial.to_status();
        assert_eq!(status.code(), Code::PermissionDenied);
        assert_eq!(status.message(), "needs operator");
        let details = status.get_error_details();
        let info = details.error_info().expect("error info");
        assert_eq!(info.reason, "ROLE_REQUIRED");
        assert_eq!(info.domain, ERROR_DOMAIN);
        assert_eq!(info.metadata["required_role"], "operator");
        assert_eq!(denial.outcome(), "PERMISSION_DENIED");
    }

    #[test]
    fn overload_says_when_to_retry() {
        let status = Denial::ResourceExhausted {
            reason: "OVERLOADED",
            message: "busy".into(),
        }
        .to_status();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert!(status.get_error_details().retry_info().is_some());
    }
}
