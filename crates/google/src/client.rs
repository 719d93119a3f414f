//! The HTTP client: [`GoogleClient`] (one per process: connection pool, metrics, quota buckets)
//! and [`DomainClient`] (one per reseller domain: credential, delegated admin, customer), whose
//! methods are named after Google's and return typed results or a classified [`GoogleError`].
//!
//! Every call goes through [`DomainClient::execute`]: wait for quota, get a token for the
//! method's scope, send, classify, and retry what is safe (exponential backoff with full jitter,
//! never before `Retry-After`, bounded by attempts and a deadline). One tracing span per call
//! (`google.call`, with method, domain, attempts, outcome); every retry is a `warn` event and a
//! counter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::HeaderValue;
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;
use tokio::time::Instant;
use tracing::{Instrument, field};

use crate::auth::{DelegatedAuth, ServiceAccountCredential};
use crate::config::GoogleConfig;
use crate::error::{CallContext, ErrorClass, GoogleError, classify_response, classify_transport};
use crate::method::{Api, GoogleMethod, RetrySafety, Verb};
use crate::metrics::GoogleMetrics;
use crate::model::*;
use crate::paging::Pages;
use crate::ratelimit::{BucketKey, DomainBuckets, QuotaBuckets, SharedPacer};
use crate::request::{self, ApiRequest, RoleAssignmentsQuery, SubscriptionsQuery, UsersListQuery};
use secrecy::{ExposeSecret, SecretString};

/// The customer alias Google accepts for "the delegated admin's own customer" in Directory calls.
pub const MY_CUSTOMER: &str = "my_customer";

/// Shared by every domain client of a process.
#[derive(Debug)]
struct Shared {
    http: reqwest::Client,
    config: GoogleConfig,
    metrics: Arc<GoogleMetrics>,
    quotas: QuotaBuckets,
}

/// The adapter's entry point: owns the HTTP connection pool, the quota buckets and the metrics,
/// and hands out one [`DomainClient`] per reseller domain. Cheap to clone.
#[derive(Debug, Clone)]
pub struct GoogleClient {
    shared: Arc<Shared>,
}

/// What identifies a reseller domain to Google.
#[derive(Debug, Clone)]
pub struct DomainSpec {
    /// The reseller domain, e.g. `reseller-one.example` (for logs and the user-create bucket).
    pub domain: String,
    /// The super admin to impersonate (`sub`).
    pub delegated_admin: String,
    /// The service-account key.
    pub credential: Arc<ServiceAccountCredential>,
    /// The real customer id (`C0…`) when already known; otherwise learnt with `customers.get`.
    pub customer_id: Option<String>,
}

impl GoogleClient {
    /// Builds the HTTP client (rustls) from configuration; it paces every quota on its own.
    pub fn new(config: GoogleConfig) -> Result<Self, GoogleError> {
        Self::build(config, None)
    }

    /// As [`GoogleClient::new`], with the quotas Google counts for the whole Cloud project
    /// (Licensing, Reseller) paced by `pacer`, which every replica of the deployment shares.
    pub fn with_shared_pacer(
        config: GoogleConfig,
        pacer: Arc<dyn SharedPacer>,
    ) -> Result<Self, GoogleError> {
        Self::build(config, Some(pacer))
    }

    fn build(
        config: GoogleConfig,
        pacer: Option<Arc<dyn SharedPacer>>,
    ) -> Result<Self, GoogleError> {
        let http = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| {
                GoogleError::new(
                    None,
                    ErrorClass::Unexpected,
                    format!("cannot build the http client: {e}"),
                )
            })?;
        let quotas = QuotaBuckets::new(config.quotas.clone(), pacer);
        Ok(Self {
            shared: Arc::new(Shared {
                http,
                config,
                metrics: Arc::new(GoogleMetrics::default()),
                quotas,
            }),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &GoogleConfig {
        &self.shared.config
    }

    /// Call, retry and quota counters.
    pub fn metrics(&self) -> &Arc<GoogleMetrics> {
        &self.shared.metrics
    }

    /// A client for one reseller domain. Fails (class `Auth(KeyUnusable)`) when the private key
    /// cannot sign; token problems surface on the first call.
    pub async fn domain(&self, spec: DomainSpec) -> Result<DomainClient, GoogleError> {
        let auth = DelegatedAuth::new(
            spec.credential.clone(),
            &spec.delegated_admin,
            self.shared.config.token_timeout,
        )
        .await?;
        let project = spec
            .credential
            .project_id()
            .unwrap_or(spec.credential.client_email())
            .to_owned();
        let quotas = &self.shared.quotas;
        let buckets = DomainBuckets {
            directory: quotas.bucket(BucketKey::Directory {
                project: project.clone(),
                admin: spec.delegated_admin.to_ascii_lowercase(),
            }),
            user_creates: quotas.bucket(BucketKey::UserCreates {
                domain: spec.domain.to_ascii_lowercase(),
            }),
            licensing: quotas.bucket(BucketKey::Licensing {
                project: project.clone(),
            }),
            reseller: quotas.bucket(BucketKey::Reseller { project }),
        };
        let customer_id = OnceCell::new_with(spec.customer_id.clone());
        Ok(DomainClient {
            inner: Arc::new(DomainInner {
                shared: self.shared.clone(),
                domain: spec.domain,
                delegated_admin: spec.delegated_admin,
                auth,
                customer_id,
                recently_created: Mutex::new(HashMap::new()),
                buckets,
            }),
            guard: None,
        })
    }
}

struct DomainInner {
    shared: Arc<Shared>,
    domain: String,
    delegated_admin: String,
    auth: DelegatedAuth,
    customer_id: OnceCell<String>,
    /// Users this process created, by lowercased e-mail and id, with when and a number shared
    /// by the keys of one user (so deleting by either key forgets both). A 404 about them inside
    /// the consistency window is classified as not yet consistent.
    recently_created: Mutex<HashMap<String, (Instant, u64)>>,
    buckets: DomainBuckets,
}

/// Google, as seen by one reseller domain's delegated admin. Cheap to clone.
#[derive(Clone)]
pub struct DomainClient {
    inner: Arc<DomainInner>,
    /// Consulted right before every attempt is sent (see [`DomainClient::guarded`]).
    guard: Option<Arc<dyn SendGuard>>,
}

/// Decides, right before each HTTP attempt (first try and every retry, after the quota wait and
/// the token), whether it may be sent and by when it must be over. The engine implements it over
/// its lease: a request is sent only while the lease is valid for longer than the request's own
/// deadline, and a cancelled operation sends no further write.
pub trait SendGuard: Send + Sync {
    /// `Ok(deadline)`: send, and give up on the attempt at `deadline` (the adapter also keeps its
    /// own request timeout). `Err(why)`: do not send; the call fails with
    /// [`ErrorClass::NotSent`].
    fn permit(&self, method: GoogleMethod) -> Result<Instant, String>;
}

impl std::fmt::Debug for DomainClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DomainClient")
            .field("domain", &self.inner.domain)
            .field("delegated_admin", &self.inner.delegated_admin)
            .finish_non_exhaustive()
    }
}

/// Most attempts of one call waiting for a user to propagate, whatever the budget: with
/// Google's backoff 180 s take about ten, so this only guards against a tiny configured wait.
const MAX_PROPAGATION_ATTEMPTS: u32 = 40;

/// What one HTTP attempt produced.
enum Attempt {
    Success(Vec<u8>),
    Failure(GoogleError),
}

impl DomainClient {
    /// The same client, whose every attempt must first be permitted by `guard`.
    pub fn guarded(&self, guard: Arc<dyn SendGuard>) -> DomainClient {
        DomainClient {
            inner: self.inner.clone(),
            guard: Some(guard),
        }
    }

    /// The reseller domain.
    pub fn domain(&self) -> &str {
        &self.inner.domain
    }

    /// The impersonated admin.
    pub fn delegated_admin(&self) -> &str {
        &self.inner.delegated_admin
    }

    /// True when the calls act as the service account itself (the domain's delegated admin is
    /// the service account: a delegated admin service account, no domain-wide delegation).
    pub fn acts_as_itself(&self) -> bool {
        self.inner.auth.acts_as_itself()
    }

    /// The real customer id (`C0…`), from the spec or learnt once with `customers.get`.
    pub async fn customer_id(&self) -> Result<String, GoogleError> {
        self.inner
            .customer_id
            .get_or_try_init(|| async { self.customers_get(MY_CUSTOMER).await.map(|c| c.id) })
            .await
            .cloned()
    }

    /// Takes the customer id that a client of the same delegated admin learnt (one admin is one
    /// customer), so this client does not ask Google again; an id already known is kept.
    pub fn seed_customer_id(&self, customer_id: &str) {
        // An error only says the id was known already.
        let _ = self.inner.customer_id.set(customer_id.to_owned());
    }

    /// Fetches (or finds cached) the access token `method` needs, so that a later call does not
    /// wait for it. A failure is left for that call to report.
    pub(crate) async fn warm_token(&self, method: GoogleMethod) {
        let _ = self.inner.auth.token(method, false).await;
    }

    /// The current slow-down factor of this domain's bucket for `api` (1 = configured rate).
    pub fn quota_slowdown(&self, api: Api) -> u32 {
        self.inner.buckets.for_api(api).slowdown_factor()
    }

    // ------------------------------------------------------------------ users

    /// `users.insert`. On success (and on "already exists") the user is remembered as recently
    /// created, so 404s about it during the consistency window read as not yet consistent.
    pub async fn users_insert(&self, user: &NewUser) -> Result<User, GoogleError> {
        let result: Result<User, GoogleError> = self.execute(request::users_insert(user)).await;
        match &result {
            Ok(created) => {
                self.remember_created(&[&created.primary_email, &created.id, &user.primary_email])
            }
            Err(e) if *e.class() == ErrorClass::AlreadyExists => {
                self.remember_created(&[&user.primary_email])
            }
            Err(_) => {}
        }
        result
    }

    /// `users.get` by e-mail, alias or id: the idempotency check (search is eventually consistent).
    pub async fn users_get(&self, user_key: &str) -> Result<User, GoogleError> {
        let user: User = self.execute(request::users_get(user_key)).await?;
        Ok(user)
    }

    /// `users.list` of this customer, `maxResults=500`.
    pub fn users_list(&self, filter: UsersListQuery) -> Pages<Users> {
        Pages::new(self.clone(), false, move |_, token| {
            request::users_list(MY_CUSTOMER, &filter, 500, token)
        })
    }

    /// `users.update` (PUT, patch semantics in practice).
    pub async fn users_update(
        &self,
        user_key: &str,
        changes: &UserChanges,
    ) -> Result<User, GoogleError> {
        self.execute(request::users_update(user_key, changes)).await
    }

    /// `users.patch`.
    pub async fn users_patch(
        &self,
        user_key: &str,
        changes: &UserChanges,
    ) -> Result<User, GoogleError> {
        self.execute(request::users_patch(user_key, changes)).await
    }

    /// `users.delete`.
    pub async fn users_delete(&self, user_key: &str) -> Result<(), GoogleError> {
        let _: Empty = self.execute(request::users_delete(user_key)).await?;
        self.forget_created(user_key);
        Ok(())
    }

    // ------------------------------------------------------------------ customers

    /// `customers.get` (`my_customer` for the delegated admin's own customer).
    pub async fn customers_get(&self, customer_key: &str) -> Result<Customer, GoogleError> {
        self.execute(request::customers_get(customer_key)).await
    }

    // ------------------------------------------------------------------ domains

    /// `domains.list` of the delegated admin's customer (not paged: Google's list has no page
    /// parameters).
    pub async fn domains_list(&self) -> Result<Vec<Domain>, GoogleError> {
        let domains: Domains = self.execute(request::domains_list(MY_CUSTOMER)).await?;
        Ok(domains.domains)
    }

    // ------------------------------------------------------------------ org units

    /// `orgunits.get` of a full path such as `/Customer Care Portal`.
    pub async fn orgunits_get(&self, org_unit_path: &str) -> Result<OrgUnit, GoogleError> {
        self.execute(request::orgunits_get(MY_CUSTOMER, org_unit_path))
            .await
    }

    /// `orgunits.insert`. Google has no documented "already exists" answer for org units (facts
    /// a.2), so after a 400, 409 or 5xx the adapter reads the path: if the unit is there under the
    /// requested parent, the error is reclassified as [`ErrorClass::AlreadyExists`].
    pub async fn orgunits_insert(&self, org_unit: &NewOrgUnit) -> Result<OrgUnit, GoogleError> {
        let error = match self
            .execute::<OrgUnit>(request::orgunits_insert(MY_CUSTOMER, org_unit))
            .await
        {
            Ok(created) => return Ok(created),
            Err(e) => e,
        };
        if !matches!(
            error.class(),
            ErrorClass::Invalid | ErrorClass::Transient | ErrorClass::AlreadyExists
        ) {
            return Err(error);
        }
        let parent = org_unit.parent_org_unit_path.trim_end_matches('/');
        let path = format!("{parent}/{}", org_unit.name);
        match self.orgunits_get(&path).await {
            Ok(existing)
                if existing
                    .parent_org_unit_path
                    .as_deref()
                    .map(|p| p.trim_end_matches('/'))
                    == Some(parent)
                    || existing.org_unit_path == path =>
            {
                Err(error.reclassify(
                    ErrorClass::AlreadyExists,
                    &format!("org unit {path} exists (confirmed by orgunits.get)"),
                ))
            }
            _ => Err(error),
        }
    }

    // ------------------------------------------------------------------ roles and privileges

    /// `roles.list`, `maxResults=100`.
    pub fn roles_list(&self) -> Pages<Roles> {
        Pages::new(self.clone(), false, |_, token| {
            request::roles_list(MY_CUSTOMER, 100, token)
        })
    }

    /// `roles.insert` (a custom role).
    pub async fn roles_insert(&self, role: &NewRole) -> Result<Role, GoogleError> {
        self.execute(request::roles_insert(MY_CUSTOMER, role)).await
    }

    /// `privileges.list`: the whole privilege tree.
    pub async fn privileges_list(&self) -> Result<Vec<Privilege>, GoogleError> {
        let privileges: Privileges = self.execute(request::privileges_list(MY_CUSTOMER)).await?;
        Ok(privileges.items)
    }

    /// `roleAssignments.list`, `maxResults=200`.
    pub fn role_assignments_list(&self, filter: RoleAssignmentsQuery) -> Pages<RoleAssignments> {
        Pages::new(self.clone(), false, move |_, token| {
            request::role_assignments_list(MY_CUSTOMER, &filter, 200, token)
        })
    }

    /// `roleAssignments.insert`. 409 `duplicate` and 500 "Role assignment exists" come back as
    /// [`ErrorClass::AlreadyExists`]: confirm with `role_assignments_list`.
    pub async fn role_assignments_insert(
        &self,
        assignment: &NewRoleAssignment,
    ) -> Result<RoleAssignment, GoogleError> {
        self.execute(request::role_assignments_insert(MY_CUSTOMER, assignment))
            .await
    }

    /// `roleAssignments.delete`.
    pub async fn role_assignments_delete(
        &self,
        role_assignment_id: &str,
    ) -> Result<(), GoogleError> {
        let _: Empty = self
            .execute(request::role_assignments_delete(
                MY_CUSTOMER,
                role_assignment_id,
            ))
            .await?;
        Ok(())
    }

    // ------------------------------------------------------------------ licensing

    /// `licenseAssignments.listForProductAndSku` for this customer, `maxResults=100`.
    pub fn license_assignments_list_for_product_and_sku(
        &self,
        product_id: &str,
        sku_id: &str,
    ) -> Pages<LicenseAssignmentList> {
        let (product_id, sku_id) = (product_id.to_owned(), sku_id.to_owned());
        Pages::new(self.clone(), true, move |customer, token| {
            request::license_assignments_list_for_product_and_sku(
                &product_id,
                &sku_id,
                customer,
                100,
                token,
            )
        })
    }

    /// `licenseAssignments.listForProduct` for this customer, `maxResults=100`.
    pub fn license_assignments_list_for_product(
        &self,
        product_id: &str,
    ) -> Pages<LicenseAssignmentList> {
        let product_id = product_id.to_owned();
        Pages::new(self.clone(), true, move |customer, token| {
            request::license_assignments_list_for_product(&product_id, customer, 100, token)
        })
    }

    /// `licenseAssignments.get` (`user_id` = primary e-mail). 404 = not assigned.
    pub async fn license_assignments_get(
        &self,
        product_id: &str,
        sku_id: &str,
        user_id: &str,
    ) -> Result<LicenseAssignment, GoogleError> {
        self.execute(request::license_assignments_get(
            product_id, sku_id, user_id,
        ))
        .await
    }

    /// `licenseAssignments.insert`.
    pub async fn license_assignments_insert(
        &self,
        product_id: &str,
        sku_id: &str,
        user_id: &str,
    ) -> Result<LicenseAssignment, GoogleError> {
        let body = LicenseAssignmentInsert {
            user_id: user_id.to_owned(),
        };
        self.execute(request::license_assignments_insert(
            product_id, sku_id, &body,
        ))
        .await
    }

    /// `licenseAssignments.delete`.
    pub async fn license_assignments_delete(
        &self,
        product_id: &str,
        sku_id: &str,
        user_id: &str,
    ) -> Result<(), GoogleError> {
        let _: Empty = self
            .execute(request::license_assignments_delete(
                product_id, sku_id, user_id,
            ))
            .await?;
        Ok(())
    }

    // ------------------------------------------------------------------ reseller

    /// `reseller.subscriptions.list`, `maxResults=100`.
    pub fn reseller_subscriptions_list(&self, filter: SubscriptionsQuery) -> Pages<Subscriptions> {
        Pages::new(self.clone(), false, move |_, token| {
            request::reseller_subscriptions_list(&filter, 100, token)
        })
    }

    /// `reseller.customers.get` (id or primary domain).
    pub async fn reseller_customers_get(
        &self,
        customer_id: &str,
    ) -> Result<ResellerCustomer, GoogleError> {
        self.execute(request::reseller_customers_get(customer_id))
            .await
    }

    // ------------------------------------------------------------------ machinery

    /// Tells the adapter that `user` was created recently (by an earlier process, or found
    /// after a lost answer), so that Google's propagation answers about it are retried within
    /// the propagation budget as they are for users this process created. The age comes from
    /// the user's `creationTime`; a user older than the consistency window is not remembered.
    pub fn note_user_created(&self, user: &User) {
        let Some(created) = user
            .creation_time
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        else {
            return;
        };
        let age = (chrono::Utc::now() - created.with_timezone(&chrono::Utc))
            .to_std()
            .unwrap_or(Duration::ZERO);
        if age >= self.inner.shared.config.consistency_window {
            return;
        }
        if let Some(at) = Instant::now().checked_sub(age) {
            self.remember_created_at(&[&user.primary_email, &user.id], at);
        }
    }

    fn remember_created(&self, keys: &[&str]) {
        self.remember_created_at(keys, Instant::now());
    }

    fn remember_created_at(&self, keys: &[&str], at: Instant) {
        let now = Instant::now();
        let window = self.inner.shared.config.consistency_window;
        let mut created = self
            .inner
            .recently_created
            .lock()
            .expect("recently created map poisoned");
        created.retain(|_, (at, _)| now.duration_since(*at) < window);
        let group = keys
            .iter()
            .find_map(|k| created.get(&k.to_ascii_lowercase()).map(|(_, g)| *g))
            .unwrap_or_else(rand::random);
        for key in keys.iter().filter(|k| !k.is_empty()) {
            created.insert(key.to_ascii_lowercase(), (at, group));
        }
    }

    fn forget_created(&self, key: &str) {
        let mut created = self
            .inner
            .recently_created
            .lock()
            .expect("recently created map poisoned");
        if let Some((_, group)) = created.remove(&key.to_ascii_lowercase()) {
            created.retain(|_, (_, g)| *g != group);
        }
    }

    /// How long ago this process created (or was told of) the user `key`, if within the
    /// consistency window.
    fn created_age(&self, key: Option<&str>) -> Option<Duration> {
        let key = key?;
        let window = self.inner.shared.config.consistency_window;
        let created = self
            .inner
            .recently_created
            .lock()
            .expect("recently created map poisoned");
        created
            .get(&key.to_ascii_lowercase())
            .map(|(at, _)| at.elapsed())
            .filter(|age| *age < window)
    }

    /// Sends `request` with quota, auth, classification and retries, and decodes the answer.
    pub(crate) async fn execute<T: DeserializeOwned>(
        &self,
        request: ApiRequest,
    ) -> Result<T, GoogleError> {
        let method = request.method;
        let span = tracing::info_span!(
            "google.call",
            method = method.id(),
            domain = %self.inner.domain,
            attempts = field::Empty,
            outcome = field::Empty,
            status = field::Empty,
        );
        self.execute_in_span(request)
            .instrument(span)
            .await
            .and_then(|body| {
                let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
                    b"{}"
                } else {
                    &body
                };
                serde_json::from_slice(body).map_err(|e| {
                    GoogleError::new(
                        Some(method),
                        ErrorClass::Unexpected,
                        format!(
                            "the response does not match the {} schema: {e}",
                            method.id()
                        ),
                    )
                })
            })
    }

    async fn execute_in_span(&self, request: ApiRequest) -> Result<Vec<u8>, GoogleError> {
        let shared = &self.inner.shared;
        let policy = &shared.config.retry;
        let method = request.method;
        let span = tracing::Span::current();
        let started = Instant::now();
        let mut attempt = 0u32;
        let mut fresh_token = false;
        let mut refreshed_after_401 = false;
        // Retries spent waiting for a new user to propagate (their backoff has its own count).
        let mut propagation_retries = 0u32;
        // Set once an attempt failed in a way that may have taken effect at Google.
        let mut ambiguous = false;
        loop {
            attempt += 1;
            span.record("attempts", attempt);
            let outcome = self.attempt(&request, fresh_token).await;
            fresh_token = false;
            let error = match outcome {
                Attempt::Success(body) => {
                    shared.metrics.attempt_finished(method, None);
                    shared.metrics.call_finished(method, None);
                    self.inner.buckets.for_api(method.api()).record_success();
                    span.record("outcome", "ok");
                    tracing::debug!(attempts = attempt, "google call succeeded");
                    return Ok(body);
                }
                Attempt::Failure(error) => error,
            };
            shared.metrics.attempt_finished(method, Some(error.class()));
            if let Some(status) = error.status() {
                span.record("status", status);
            }

            if let ErrorClass::RateLimited { retry_after } = error.class() {
                self.inner
                    .buckets
                    .for_api(method.api())
                    .penalize(*retry_after);
                shared.metrics.quota_penalty(method.api());
            }
            // A repeated delete that finds nothing means an earlier attempt did the work (a 404
            // about a user this process created moments ago reads as "not yet consistent", but
            // after an ambiguous attempt it is the same answer: the thing is gone).
            if matches!(
                error.class(),
                ErrorClass::NotFound | ErrorClass::NotYetConsistent
            ) && method.retry_safety() == RetrySafety::Delete
                && ambiguous
            {
                shared.metrics.call_finished(method, None);
                span.record("outcome", "ok");
                tracing::info!(
                    attempts = attempt,
                    "delete found nothing after an ambiguous failure: already done"
                );
                return Ok(Vec::new());
            }

            let token_rejected = matches!(
                error.class(),
                ErrorClass::Auth(crate::AuthFailure::TokenRejected)
            );
            let may_retry = if token_rejected {
                !refreshed_after_401
            } else {
                error.class().is_retryable()
                    && (method.retry_safety() != RetrySafety::Unsafe
                        || *error.class() != ErrorClass::Transient)
            };
            // A user still propagating is waited for with Google's backoff, for as long as
            // the propagation budget since its creation allows (not a fixed number of tries);
            // an answer that only might be propagation is taken at its word once it runs out.
            let user_age = (*error.class() == ErrorClass::NotYetConsistent)
                .then(|| self.created_age(request.subject_user.as_deref()))
                .flatten();
            let propagation = &shared.config.propagation;
            let delay = if token_rejected {
                Duration::ZERO
            } else if user_age.is_some() {
                propagation_retries += 1;
                propagation.delay(propagation_retries)
            } else {
                policy.delay(attempt, error.retry_after())
            };
            let within_deadline = started.elapsed() + delay <= policy.deadline;
            let (attempts_left, error) = match user_age {
                Some(age) if age + delay > propagation.budget => (false, error.settle(age)),
                Some(_) => (
                    policy.max_attempts > 1 && attempt < MAX_PROPAGATION_ATTEMPTS,
                    error,
                ),
                None => (attempt < policy.max_attempts, error),
            };
            if may_retry && attempts_left && within_deadline {
                // No answer, or a server error (Licensing's 503 reads as a quota refusal, but it
                // is a 5xx all the same): the attempt may have taken effect.
                if *error.class() == ErrorClass::Transient
                    || error.status().is_some_and(|status| status >= 500)
                {
                    ambiguous = true;
                }
                if token_rejected {
                    refreshed_after_401 = true;
                    fresh_token = true;
                }
                shared.metrics.retried(method);
                tracing::warn!(
                    method = method.id(),
                    attempt,
                    class = error.class().label(),
                    status = error.status(),
                    delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    error = %error,
                    "retrying google call"
                );
                tokio::time::sleep(delay).await;
                continue;
            }

            shared.metrics.call_finished(method, Some(error.class()));
            span.record("outcome", error.class().label());
            let error = error.with_attempts(attempt);
            tracing::info!(attempts = attempt, class = error.class().label(), error = %error, "google call failed");
            return Err(error);
        }
    }

    /// One HTTP exchange.
    async fn attempt(&self, request: &ApiRequest, fresh_token: bool) -> Attempt {
        let shared = &self.inner.shared;
        let method = request.method;

        // The token first: a token fetch between the quota slot and the request would let two
        // requests granted an interval apart reach Google closer together than the quota allows.
        let token = match self.inner.auth.token(method, fresh_token).await {
            Ok(token) => token,
            Err(error) => return Attempt::Failure(error),
        };
        let api = method.api();
        let waited = self.inner.buckets.for_api(api).acquire().await;
        let waited = if method == GoogleMethod::UsersInsert {
            waited + self.inner.buckets.user_creates.acquire().await
        } else {
            waited
        };
        if waited >= Duration::from_millis(1) {
            shared.metrics.quota_waited(api, waited);
            tracing::debug!(
                waited_ms = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                "waited for client-side quota"
            );
        }

        let url = match self.url(request) {
            Ok(url) => url,
            Err(error) => return Attempt::Failure(error),
        };
        // Asked last, right before sending: the quota wait and the token fetch take time.
        let mut timeout = shared.config.request_timeout;
        if let Some(guard) = &self.guard {
            match guard.permit(method) {
                Ok(deadline) => {
                    timeout = timeout.min(deadline.saturating_duration_since(Instant::now()));
                }
                Err(why) => {
                    return Attempt::Failure(GoogleError::new(
                        Some(method),
                        ErrorClass::NotSent,
                        format!("not sent: {why}"),
                    ));
                }
            }
        }
        let mut builder = shared
            .http
            .request(to_reqwest_method(method.verb()), url)
            .header(http::header::AUTHORIZATION, bearer(&token))
            .timeout(timeout);
        if let Some(body) = &request.body {
            builder = builder.json(body.json());
        }
        let response = match builder.send().await {
            Ok(response) => response,
            Err(e) => return Attempt::Failure(classify_transport(method, &e)),
        };
        let status = response.status();
        let headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(body) => body.to_vec(),
            Err(e) => return Attempt::Failure(classify_transport(method, &e)),
        };
        if status.is_success() {
            return Attempt::Success(body);
        }
        let user_age = self.created_age(request.subject_user.as_deref());
        let ctx = CallContext {
            method,
            user_recently_created: user_age.is_some(),
            user_propagating: user_age.is_some_and(|age| age < shared.config.propagation.budget),
            delegated_admin: &self.inner.delegated_admin,
            as_service_account: self.acts_as_itself(),
        };
        Attempt::Failure(classify_response(&ctx, status.as_u16(), &headers, &body))
    }

    fn url(&self, request: &ApiRequest) -> Result<url::Url, GoogleError> {
        let base = self.inner.shared.config.base_url(request.method.api());
        let mut url = base.join(&request.path).map_err(|e| {
            GoogleError::new(
                Some(request.method),
                ErrorClass::Invalid,
                format!("cannot build the request url: {e}"),
            )
        })?;
        if !request.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(request.query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }
}

/// `Authorization: Bearer …`, marked sensitive so HTTP debug output hides it.
fn bearer(token: &SecretString) -> HeaderValue {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid-token"));
    value.set_sensitive(true);
    value
}

fn to_reqwest_method(verb: Verb) -> reqwest::Method {
    match verb {
        Verb::Get => reqwest::Method::GET,
        Verb::Post => reqwest::Method::POST,
        Verb::Put => reqwest::Method::PUT,
        Verb::Patch => reqwest::Method::PATCH,
        Verb::Delete => reqwest::Method::DELETE,
    }
}
