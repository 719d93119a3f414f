//! Who is calling, and what they may touch.
//!
//! A layer in front of every gRPC service ([`layer`], built into [`AuthLayer`]) authenticates
//! the caller — a bearer token from the principals file, a verified JWT, or a client certificate
//! whose SAN names a principal — and checks the method's [`policy`]: the role it needs and how the
//! reseller domains it touches are found. Only then does it put a [`Principal`] into the request's
//! extensions; handlers read it with [`principal`], check domains they find themselves with
//! [`Principal::check_domain`] and filter lists with [`Principal::may_access`]. A method without a
//! policy is refused, so no RPC can be served without a declared policy. Refusals of mutating
//! methods are written to the audit log.
//!
//! [`server_builder`] is the `tonic` server with TLS (and mTLS) and the request limits.

mod config;
mod denials;
mod error;
mod gate;
pub mod jwt;
pub mod policy;
pub mod principals;
pub mod tls;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use support_access_store::Store;
use tokio::sync::OnceCell;

use crate::error::ApiError;

pub use config::{AuthConfig, StartupError};
pub use error::Denial;
pub use gate::{AuthLayer, AuthService};

/// What a principal may do. Each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read domains, staff, status, operations and audit events.
    Viewer,
    /// Also provision, revoke, issue sign-in credentials and confirm manual steps.
    Operator,
    /// Also declare, change and forget domains and staff members.
    Admin,
}

impl Role {
    /// The role's name, as written in the principals file.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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

    /// Whether the principal may touch every domain.
    pub fn has_every_domain(&self) -> bool {
        self.domains == DomainScope::All
    }

    /// PERMISSION_DENIED unless the principal may touch `domain_name`.
    pub fn check_domain(&self, domain_name: &str) -> Result<(), ApiError> {
        if self.may_access(domain_name) {
            Ok(())
        } else {
            Err(ApiError::permission_denied(
                "DOMAIN_NOT_ALLOWED",
                format!(
                    "principal {:?} may not access domain {domain_name:?}",
                    self.id
                ),
            ))
        }
    }
}

/// The principal the authentication layer attached to the request.
pub fn principal(extensions: &tonic::Extensions) -> Result<Principal, ApiError> {
    extensions
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| ApiError::Unauthenticated {
            reason: "UNAUTHENTICATED",
            message: "no credentials were presented".into(),
        })
}

/// What runs when a mutating call's handler has returned, before its response leaves: this
/// replica forgets what it kept from before the write (`crate::status_cache`).
pub type AfterWrite = Arc<dyn Fn() + Send + Sync>;

/// The authentication and authorization layer put in front of every service.
///
/// Checks the configuration against `listen` (refusing to serve unauthenticated or plaintext
/// where that is unsafe), loads the principals file and the JWT keys, and starts the writer of
/// refused calls into the audit log (`store` once Postgres answered). Must run inside Tokio.
pub async fn layer(
    config: &AuthConfig,
    listen: SocketAddr,
    store: Arc<OnceCell<Store>>,
    after_write: AfterWrite,
) -> anyhow::Result<AuthLayer> {
    config.check(listen)?;
    let principals = match &config.principals_file {
        Some(path) => Some(principals::Principals::load(path)?),
        None => None,
    };
    let jwt = match config.jwt_settings()? {
        Some(settings) => Some(jwt::JwtVerifier::start(settings).await?),
        None => None,
    };
    if config.insecure_dev_mode {
        tracing::warn!(
            %listen,
            "insecure dev mode: callers without credentials are admins of every domain"
        );
    }
    Ok(AuthLayer::new(gate::Gate::new(
        principals,
        jwt,
        config.insecure_dev_mode,
        !config.disable_reflection,
        config.max_concurrent_requests,
        denials::Denials::spawn(store),
        after_write,
    )))
}

/// Time between HTTP/2 pings on idle connections, to find dead peers.
const HTTP2_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// How long a ping may stay unanswered before the connection is closed.
const HTTP2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest header block a client may send (tokens and JWTs fit easily).
const MAX_HEADER_LIST_BYTES: u32 = 16 * 1024;

/// The gRPC server with TLS (mTLS when a client CA is configured), a deadline on every request
/// and limits on streams per connection, so that one client cannot exhaust the service.
pub fn server_builder(config: &AuthConfig) -> anyhow::Result<tonic::transport::Server> {
    let server = tonic::transport::Server::builder()
        .timeout(config.request_timeout)
        .max_concurrent_streams(config.max_streams_per_connection)
        .http2_max_header_list_size(MAX_HEADER_LIST_BYTES)
        .http2_keepalive_interval(Some(HTTP2_KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(HTTP2_KEEPALIVE_TIMEOUT));
    match tls::server_tls_config(config)? {
        Some(tls) => server
            .tls_config(tls)
            .context("the TLS certificate, key or client CA cannot be used"),
        None => Ok(server),
    }
}
