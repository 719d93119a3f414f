//! The server's way to Google: the configured service-account keys (by name, loaded from files or
//! handed over by the demo emulator) and one [`DomainClient`] per reseller domain, cached so that
//! its token and quota buckets live as long as the process; and the Google customer id of each
//! delegated admin, asked of Google once per customer rather than once per domain.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use support_access_google::{
    DomainClient, DomainSpec, GoogleClient, GoogleError, ServiceAccountCredential,
};
use support_access_store::domains::DomainRecord;

/// Keys by name and a client per domain.
pub struct GoogleAccess {
    client: GoogleClient,
    credentials: BTreeMap<String, Arc<ServiceAccountCredential>>,
    /// Keyed by (domain, credential, delegated admin): a changed declaration gets a new client.
    domains: Mutex<HashMap<(String, String, String), DomainClient>>,
    /// Keyed by (credential, lower-cased delegated admin). A user belongs to exactly one
    /// customer, and `my_customer` is the caller's: the primary and secondary domains of a
    /// reseller account (one delegated admin) share one answer.
    customer_ids: Mutex<HashMap<(String, String), String>>,
}

/// Why no client could be had for a domain.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The domain names a key the server does not have.
    #[error("no service-account key named {0:?} is configured on the server")]
    UnknownCredential(String),
    /// The adapter refused the key.
    #[error(transparent)]
    Google(#[from] GoogleError),
}

impl GoogleAccess {
    /// Access through `client` with the given keys.
    pub fn new(
        client: GoogleClient,
        credentials: BTreeMap<String, Arc<ServiceAccountCredential>>,
    ) -> Self {
        GoogleAccess {
            client,
            credentials,
            domains: Mutex::new(HashMap::new()),
            customer_ids: Mutex::new(HashMap::new()),
        }
    }

    /// The adapter (for metrics).
    pub fn client(&self) -> &GoogleClient {
        &self.client
    }

    /// The names of the configured keys.
    pub fn credential_names(&self) -> impl Iterator<Item = &str> {
        self.credentials.keys().map(String::as_str)
    }

    /// The client acting as the domain's delegated admin. It knows the customer id when
    /// another domain of the same admin learnt it.
    pub async fn domain(&self, record: &DomainRecord) -> Result<DomainClient, AccessError> {
        let client = self.client_of(record).await?;
        let known = self
            .customer_ids
            .lock()
            .expect("not poisoned")
            .get(&customer_key(record))
            .cloned();
        if let Some(customer_id) = known {
            client.seed_customer_id(&customer_id);
        }
        Ok(client)
    }

    async fn client_of(&self, record: &DomainRecord) -> Result<DomainClient, AccessError> {
        let key = (
            record.domain_name.clone(),
            record.credential.clone(),
            record.delegated_admin.clone(),
        );
        if let Some(client) = self.domains.lock().expect("not poisoned").get(&key) {
            return Ok(client.clone());
        }
        let credential = self
            .credentials
            .get(&record.credential)
            .ok_or_else(|| AccessError::UnknownCredential(record.credential.clone()))?
            .clone();
        let client = self
            .client
            .domain(DomainSpec {
                domain: record.domain_name.clone(),
                delegated_admin: record.delegated_admin.clone(),
                credential,
                customer_id: record.customer_id.clone(),
            })
            .await?;
        self.domains
            .lock()
            .expect("not poisoned")
            .entry(key)
            .or_insert(client.clone());
        Ok(client)
    }

    /// The Google customer id of `record`'s delegated admin, read through `client` (the
    /// record's client) only when no domain of the same admin has learned it yet.
    pub async fn customer_id(
        &self,
        record: &DomainRecord,
        client: &DomainClient,
    ) -> Result<String, GoogleError> {
        let key = customer_key(record);
        if let Some(id) = self.customer_ids.lock().expect("not poisoned").get(&key) {
            return Ok(id.clone());
        }
        let id = client.customer_id().await?;
        self.customer_ids
            .lock()
            .expect("not poisoned")
            .insert(key, id.clone());
        Ok(id)
    }
}

/// The key of `record`'s customer among the learnt customer ids.
fn customer_key(record: &DomainRecord) -> (String, String) {
    (
        record.credential.clone(),
        record.delegated_admin.to_ascii_lowercase(),
    )
}
