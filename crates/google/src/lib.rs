//! The REST adapter to Google: the only code of support-access that speaks HTTP to Google's
//! Admin SDK Directory, Enterprise License Manager (Licensing) and Reseller APIs.
//!
//! [`GoogleClient`] is built once per process from [`GoogleConfig`]; it hands out a
//! [`DomainClient`] per reseller domain (service-account key + delegated super admin). Its
//! methods are named after Google's (`users_insert`, `role_assignments_list`, …), take and return
//! the typed bodies of [`model`], and fail with a [`GoogleError`] whose [`ErrorClass`] the
//! engine switches on. Requests are built in [`request`] and checked against Google's discovery
//! documents by the conformance test; [`portal`] finds the roles and privileges that open the
//! Customer Care Portal, which Google does not document.

mod auth;
mod client;
mod config;
mod error;
pub mod method;
mod metrics;
pub mod model;
mod paging;
pub mod portal;
mod ratelimit;
pub mod request;
mod secret;

pub use auth::ServiceAccountCredential;
pub use client::{DomainClient, DomainSpec, GoogleClient, MY_CUSTOMER};
pub use config::{GoogleConfig, QuotaConfig, Rate, RetryPolicy};
pub use error::{AuthFailure, ErrorClass, GoogleError};
pub use method::{Api, GoogleMethod, RetrySafety};
pub use metrics::{Counted, GoogleMetrics, MetricsSnapshot, QuotaCounters};
pub use paging::Pages;
pub use request::{RoleAssignmentsQuery, SubscriptionsQuery, UsersListQuery};
pub use secret::{Secret, SecretString};

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
