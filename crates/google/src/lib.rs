//! The REST adapter to Google: the only code of support-access that speaks HTTP to Google's
//! Admin SDK Directory, Enterprise License Manager (Licensing) and Reseller APIs.
//!
//! [`GoogleClient`] is built once per process from [`GoogleConfig`]; it hands out a
//! [`DomainClient`] per reseller domain (service-account key + delegated super admin). Its
//! methods are named after Google's (`users_insert`, `role_assignments_list`, …), take and return
//! the typed bodies of [`model`], and fail with a [`GoogleError`] whose [`ErrorClass`] the
//! engine switches on. Requests are built in [`request`] and checked against Google's discovery
//! documents by the conformance test.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use support_access_google::model::{NewRoleAssignment, ScopeType};
//! use support_access_google::{
//!     DomainSpec, ErrorClass, GoogleClient, GoogleConfig, GoogleError, RoleAssignmentsQuery,
//!     ServiceAccountCredential, UsersListQuery,
//! };
//!
//! # async fn example() -> Result<(), GoogleError> {
//! let google = GoogleClient::new(GoogleConfig::default())?;
//! let key = Arc::new(ServiceAccountCredential::from_file("/etc/support-access/key.json").await?);
//! let domain = google
//!     .domain(DomainSpec {
//!         domain: "reseller-one.example".into(),
//!         delegated_admin: "admin@reseller-one.example".into(),
//!         credential: key,
//!         customer_id: None, // learnt with customers.get on first need
//!     })
//!     .await?;
//!
//! // Observe once per domain with list calls at the maximum page size.
//! let in_unit = domain
//!     .users_list(UsersListQuery::in_org_unit("/Customer Care Portal"))
//!     .collect_all()
//!     .await?;
//! let roles = domain.roles_list().collect_all().await?;
//! let role = roles.into_iter().find(|r| r.role_name == "_RESELLER_ADMIN_ROLE").expect("listed");
//! let holders = domain
//!     .role_assignments_list(RoleAssignmentsQuery { role_id: Some(role.role_id.clone()), ..Default::default() })
//!     .collect_all()
//!     .await?;
//!
//! // Act, then treat "already done" as done after a confirming read.
//! let user = domain.users_get("ada@reseller-one.example").await?; // search is eventually consistent
//! let assignment = NewRoleAssignment {
//!     role_id: role.role_id,
//!     assigned_to: user.id.clone(),
//!     scope_type: ScopeType::Customer,
//!     org_unit_id: None,
//! };
//! match domain.role_assignments_insert(&assignment).await {
//!     Ok(_) => {}
//!     Err(e) if *e.class() == ErrorClass::AlreadyExists => { /* confirm with role_assignments_list */ }
//!     Err(e) if e.class().is_retryable() => { /* journal, retry the step later */ }
//!     Err(e) => return Err(e), // permission, invalid, licenses exhausted, auth: needs a person
//! }
//! # let _ = (in_unit, holders);
//! # Ok(())
//! # }
//! ```

mod auth;
mod client;
mod config;
mod error;
pub mod method;
mod metrics;
pub mod model;
mod paging;
mod ratelimit;
pub mod request;

pub use auth::ServiceAccountCredential;
pub use client::{DomainClient, DomainSpec, GoogleClient, MY_CUSTOMER, SendGuard};
pub use config::{GoogleConfig, PropagationRetry, QuotaConfig, Rate, RetryPolicy};
pub use error::{AuthFailure, ErrorClass, GoogleError};
pub use method::{Api, GoogleMethod, RetrySafety};
pub use metrics::{Counted, GoogleMetrics, MetricsSnapshot, QuotaCounters};
pub use paging::Pages;
pub use ratelimit::{PacerError, SharedPacer};
pub use request::{RoleAssignmentsQuery, SubscriptionsQuery, UsersListQuery};
pub use secrecy::{ExposeSecret, SecretString};

/// Product and SKU ids the service uses (facts section b.1).
pub mod products {
    /// Cloud Identity Free: product.
    pub const CLOUD_IDENTITY_FREE_PRODUCT: &str = "101001";
    /// Cloud Identity Free: SKU.
    pub const CLOUD_IDENTITY_FREE_SKU: &str = "1010010001";
    /// Google Workspace: product of every paid Workspace SKU.
    pub const GOOGLE_WORKSPACE_PRODUCT: &str = "Google-Apps";
}

/// `tracing` filter directives that whoever installs a `log` → `tracing` bridge must add:
/// yup-oauth2 logs token requests and responses (with the access token) at `debug` level.
pub const LOG_FILTER_DIRECTIVES: &[&str] = &["yup_oauth2=info"];
