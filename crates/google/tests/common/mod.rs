//! Test harness: the workspace emulator in-process on 127.0.0.1:0 and a [`GoogleClient`] pointed
//! at it, with retry windows shortened so fault tests stay fast.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::sync::Arc;
use std::time::Duration;

use support_access_emulator::{EmulatorHandle, Seed};
use support_access_google::{
    DomainClient, DomainSpec, GoogleClient, GoogleConfig, PropagationRetry, Rate, RetryPolicy,
    ServiceAccountCredential,
};
use url::Url;

/// The demo seed's service account.
pub const SERVICE_ACCOUNT: &str = "support-access@demo-project.iam.gserviceaccount.com";
/// The demo seed's first reseller domain.
pub const RESELLER_ONE: &str = "reseller-one.example";
/// The demo seed's second reseller domain.
pub const RESELLER_TWO: &str = "reseller-two.example";

/// A running emulator and a client configured for it.
pub struct Harness {
    pub emulator: EmulatorHandle,
    pub client: GoogleClient,
    pub credential: Arc<ServiceAccountCredential>,
}

/// Fast retries and quotas far above what tests need, unless a test says otherwise.
pub fn test_config(base: &Url) -> GoogleConfig {
    let mut config = GoogleConfig::all_apis_at(base);
    config.retry = RetryPolicy {
        max_attempts: 6,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        deadline: Duration::from_secs(10),
    };
    config.propagation = PropagationRetry {
        budget: Duration::from_secs(10),
        first_wait: Duration::from_millis(20),
        max_wait: Duration::from_millis(200),
        jitter: Duration::from_millis(20),
    };
    config.request_timeout = Duration::from_secs(5);
    config.token_timeout = Duration::from_secs(5);
    let fast = Rate::new(10_000, Duration::from_secs(1), 1_000);
    config.quotas.directory_per_admin = fast;
    config.quotas.user_creates_per_domain = fast;
    config.quotas.licensing_per_project = fast;
    config.quotas.reseller_per_project = fast;
    config
}

impl Harness {
    /// The demo seed with default test configuration.
    pub async fn demo() -> Self {
        Self::start(Seed::demo(), |_| {}).await
    }

    /// `seed`, with `tweak` applied to the test configuration.
    pub async fn start(seed: Seed, tweak: impl FnOnce(&mut GoogleConfig)) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let emulator = support_access_emulator::start(listener, seed)
            .await
            .expect("emulator starts");
        let base = Url::parse(&emulator.base_url()).expect("emulator base url");
        let mut config = test_config(&base);
        tweak(&mut config);
        let key = emulator
            .service_account_key_json(SERVICE_ACCOUNT)
            .expect("demo key");
        let credential =
            Arc::new(ServiceAccountCredential::from_json(&key).expect("demo key parses"));
        let client = GoogleClient::new(config).expect("client builds");
        Self {
            emulator,
            client,
            credential,
        }
    }

    /// A client for `admin@{domain}`.
    pub async fn domain(&self, domain: &str) -> DomainClient {
        self.domain_as(domain, &format!("admin@{domain}")).await
    }

    /// A client for `domain` impersonating `admin`.
    pub async fn domain_as(&self, domain: &str, admin: &str) -> DomainClient {
        self.client
            .domain(DomainSpec {
                domain: domain.to_owned(),
                delegated_admin: admin.to_owned(),
                credential: self.credential.clone(),
                customer_id: None,
            })
            .await
            .expect("domain client builds")
    }

    /// Ledger call outcomes of `method` (e.g. `200`, `409 duplicate`).
    pub fn outcomes(&self, method: &str) -> Vec<String> {
        self.emulator
            .ledger()
            .into_iter()
            .filter(|e| e.kind == support_access_emulator::EntryKind::Call && e.method == method)
            .map(|e| e.outcome)
            .collect()
    }

    /// How many calls the emulator answered with a quota error (403 rate reasons, 429, 503).
    pub fn quota_errors(&self) -> usize {
        self.emulator
            .ledger()
            .into_iter()
            .filter(|e| e.kind == support_access_emulator::EntryKind::Call)
            .filter(|e| {
                [
                    "userRateLimitExceeded",
                    "rateLimitExceeded",
                    "quotaExceeded",
                ]
                .iter()
                .any(|r| e.outcome.contains(r))
                    || e.outcome.starts_with("429")
                    || e.outcome.starts_with("503")
            })
            .count()
    }
}

/// A valid new user for `domain`.
pub fn new_user(local: &str, domain: &str) -> support_access_google::model::NewUser {
    use support_access_google::model::{NewUser, NewUserName};
    NewUser {
        primary_email: format!("{local}@{domain}"),
        name: NewUserName {
            given_name: "Test".into(),
            family_name: local.into(),
        },
        password: support_access_google::SecretString::new("correct-horse-battery-staple".into()),
        hash_function: None,
        change_password_at_next_login: Some(true),
        org_unit_path: Some("/".into()),
        suspended: None,
        recovery_email: None,
        include_in_global_address_list: None,
        external_ids: Vec::new(),
    }
}
