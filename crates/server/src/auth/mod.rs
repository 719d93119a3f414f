//! Who is calling, and what they may touch.
//!
//! A layer in front of every gRPC service authenticates the caller and puts a [`Principal`] into
//! the request's extensions; handlers read it with [`principal`] and check the reseller domains a
//! request touches with [`Principal::check_domain`]. Role checks per method live in the policy
//! table of this module, so no RPC can exist without a declared policy.

use std::collections::BTreeSet;

use crate::error::ApiError;

/// What a principal may do. Each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Read domains, staff, status, operations and audit events.
    Viewer,
    /// Also provision, revoke, issue sign-in credentials and confirm manual steps.
    Operator,
    /// Also declare, change and forget domains and staff members.
    Admin,
}

/// The reseller domains a principal may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainScope {
    /// Every domain.
    All,
    /// Only these domain names.
    Only(BTreeSet<String>),
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Stable identifier, as written in the audit log.
    pub id: String,
    /// The principal's role.
    pub role: Role,
    /// The domains the principal may touch.
    pub domains: DomainScope,
}

impl Principal {
    /// The principal of dev mode: every role, every domain.
    pub fn dev() -> Self {
        Principal {
            id: "dev".into(),
            role: Role::Admin,
            domains: DomainScope::All,
        }
    }

    /// Whether the principal may touch `domain_name`.
    pub fn may_access(&self, domain_name: &str) -> bool {
        match &self.domains {
            DomainScope::All => true,
            DomainScope::Only(allowed) => allowed.contains(domain_name),
        }
    }

    /// PERMISSION_DENIED unless the principal may touch `domain_name`.
    pub fn check_domain(&self, domain_name: &str) -> Result<(), ApiError> {
        if self.may_access(domain_name) {
            Ok(())
        } else {
            Err(ApiError::PermissionDenied {
                reason: "DOMAIN_NOT_ALLOWED",
                message: format!(
                    "principal {:?} may not access domain {domain_name:?}",
                    self.id
                ),
            })
        }
    }
}

/// The principal the authentication layer attached to the request.
pub fn principal(extensions: &tonic::Extensions) -> Result<Principal, ApiError> {
    extensions
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| ApiError::Unauthenticated("no credentials were presented".into()))
}

/// Authentication settings of `serve`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AuthConfig {
    /// Accept every caller as an admin without credentials. Only allowed on a loopback
    /// listener; for local development and demos.
    #[arg(long = "insecure-dev-mode", env = "SUPPORT_ACCESS_INSECURE_DEV_MODE")]
    pub insecure_dev_mode: bool,
}

/// The authentication layer put in front of every service.
pub fn layer(
    config: &AuthConfig,
    listen: std::net::SocketAddr,
) -> anyhow::Result<
    tower::util::MapRequestLayer<
        fn(http::Request<tonic::body::Body>) -> http::Request<tonic::body::Body>,
    >,
> {
    anyhow::ensure!(
        config.insecure_dev_mode && listen.ip().is_loopback(),
        "refusing to start without authentication: use --insecure-dev-mode on a loopback address"
    );
    Ok(tower::util::MapRequestLayer::new(attach_dev_principal))
}

fn attach_dev_principal(
    mut request: http::Request<tonic::body::Body>,
) -> http::Request<tonic::body::Body> {
    request.extensions_mut().insert(Principal::dev());
    request
}
