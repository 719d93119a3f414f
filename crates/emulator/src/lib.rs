//! workspace-emulator: Google's Directory, Licensing and Reseller REST APIs and the OAuth 2.0
//! token endpoint on loopback, faithful enough that a real Google client works against it.
//!
//! Use it in-process from tests — bind port 0, [`start`], point the client at
//! [`EmulatorHandle::base_url`] with a key from [`EmulatorHandle::service_account_key_json`] —
//! or as the `workspace-emulator` binary (`serve`, `keygen`). The world it emulates comes from a
//! [`Seed`]; realism knobs ([`Knobs`]: latency, quotas, eventual consistency, faults) are set in
//! the seed, at run time through [`EmulatorHandle::set_knobs`] or the control API under
//! `/emulator/v1/`; every call and applied effect lands in a [`LedgerEntry`] ledger.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let emulator = support_access_emulator::start(listener, support_access_emulator::Seed::demo()).await?;
//! let key_json = emulator.service_account_key_json("support-access@demo-project.iam.gserviceaccount.com")?;
//! // … build a client with key_json, subject admin@reseller-one.example, root emulator.base_url() …
//! emulator.shutdown().await;
//! # Ok(()) }
//! ```

pub mod api;
pub mod auth;
pub mod batch;
pub mod control;
pub mod directory;
pub mod discovery;
pub mod domains;
pub mod error;
pub mod fields;
pub mod keys;
pub mod knobs;
pub mod ledger;
pub mod licensing;
pub mod oauth_clients;
pub mod reseller;
pub mod seed;
pub mod self_signed;
pub mod server;
pub mod world;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, anyhow};
use serde_json::Value;

pub use error::GoogleError;
pub use knobs::{
    Consistency, DelayDistribution, DuplicateRoleAssignment, FaultAction, FaultRule, FaultScript,
    Knobs, Latency, NotReadyResponse, Profile, Propagation, QuotaResponse, Quotas, Tokens,
};
pub use ledger::{Counters, EntryKind, LedgerEntry};
pub use seed::{
    ApiRoots, Seed, SeedAuthorizedUser, SeedCustomer, SeedDelegation, SeedOAuthClient, SeedOrgUnit,
    SeedPrivilege, SeedReseller, SeedResoldCustomer, SeedResoldSubscription, SeedRole,
    SeedRoleAssignment, SeedServiceAccount, SeedServiceAccountRole, SeedSubscription, SeedUser,
};
pub use server::routes;

use crate::discovery::{Api, Specs};
use crate::knobs::{FaultState, QuotaState};
use crate::ledger::Ledger;
use crate::server::{SeatsChange, Shared, lock};
use crate::world::World;

/// A running emulator. Dropping it leaves the server running until the runtime ends; call
/// [`EmulatorHandle::shutdown`] to stop it.
pub struct EmulatorHandle {
    shared: Arc<Shared>,
    address: SocketAddr,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Starts serving on `listener` in a background task, with the world described by `seed`.
/// Service accounts whose seed names a `key_file` that does not exist yet get a fresh key
/// written there, with `token_uri` pointing at this emulator.
pub async fn start(
    listener: tokio::net::TcpListener,
    seed: Seed,
) -> anyhow::Result<EmulatorHandle> {
    let address = listener.local_addr().context("listener address")?;
    let host = if address.ip().is_unspecified() {
        match address {
            SocketAddr::V4(_) => "127.0.0.1".to_owned(),
            SocketAddr::V6(_) => "[::1]".to_owned(),
        }
    } else {
        match address {
            SocketAddr::V4(v4) => v4.ip().to_string(),
            SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
        }
    };
    let base_url = format!("http://{host}:{}/", address.port());
    for root in [
        &seed.roots.directory,
        &seed.roots.licensing,
        &seed.roots.reseller,
    ] {
        if !root.starts_with('/') || !root.ends_with('/') {
            return Err(anyhow!("API root {root:?} must start and end with '/'"));
        }
    }
    let world = World::from_seed(&seed).context("building the world from the seed")?;
    let shared = Arc::new(Shared {
        world: Mutex::new(world),
        ledger: Mutex::new(Ledger::new()),
        knobs: Mutex::new(seed.knobs_in_force()),
        faults: Mutex::new(FaultState::default()),
        quotas: Mutex::new(QuotaState::default()),
        specs: Specs::load(),
        base_url,
        roots: seed.roots.clone(),
    });
    write_pending_key_files(&shared)?;
    let router = server::router(Arc::clone(&shared));
    let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
    let batch_routes = batch::BatchRoutes::new(&seed.roots);
    let task = tokio::spawn(server::serve(listener, router, batch_routes, shutdown_rx));
    tracing::info!(%address, "workspace-emulator serving");
    Ok(EmulatorHandle {
        shared,
        address,
        shutdown,
        task,
    })
}

fn write_pending_key_files(shared: &Shared) -> anyhow::Result<()> {
    let world = lock(&shared.world);
    for account in &world.accounts {
        if let Some(path) = &account.write_key_file {
            world::check_key_file_parent(path)?;
            account
                .key
                .key_file(
                    &world.project_id,
                    &account.client_email,
                    &account.client_id,
                    &shared.token_url(),
                )?
                .write(path)?;
            tracing::info!(path = %path.display(), account = %account.client_email, "wrote key file");
        }
    }
    Ok(())
}

/// The key file JSON of a service account (shared by the handle and the control API).
pub(crate) fn key_file_json(shared: &Shared, client_email: &str) -> anyhow::Result<String> {
    let world = lock(&shared.world);
    let account = world
        .account(client_email)
        .ok_or_else(|| anyhow!("no service account {client_email} in the seed"))?;
    let file = account.key.key_file(
        &world.project_id,
        &account.client_email,
        &account.client_id,
        &shared.token_url(),
    )?;
    Ok(serde_json::to_string_pretty(&file)?)
}

/// The authorized-user JSON of a user holding a refresh token (shared by the handle and the
/// control API).
pub(crate) fn authorized_user_json(shared: &Shared, user_email: &str) -> anyhow::Result<String> {
    let world = lock(&shared.world);
    let file = world
        .installed_apps
        .authorized_user_file(user_email, &shared.token_url())
        .ok_or_else(|| anyhow!("{user_email} holds no live refresh token"))?;
    Ok(serde_json::to_string_pretty(&file)?)
}

/// A customer's state JSON, by id or domain.
pub(crate) fn customer_state_of(shared: &Shared, key: &str) -> Option<Value> {
    let world = lock(&shared.world);
    world.customer_by_key(key).map(|c| c.state_json())
}

/// Sets (or with `None` clears) automatic licensing of an org unit.
pub(crate) fn set_automatic_licensing_of(
    shared: &Shared,
    key: &str,
    org_unit_path: &str,
    enabled: Option<bool>,
) -> Result<(), String> {
    let mut world = lock(&shared.world);
    let id = world
        .customer_by_key(key)
        .map(|c| c.id.clone())
        .ok_or_else(|| format!("no customer {key}"))?;
    let customer = world
        .customer_mut(&id)
        .ok_or_else(|| format!("no customer {key}"))?;
    let path = world::normalize_path(org_unit_path)
        .ok_or_else(|| format!("bad org unit path {org_unit_path:?}"))?;
    if path == "/" {
        customer.root_automatic_licensing = enabled.unwrap_or(false);
        return Ok(());
    }
    let unit = customer
        .org_units
        .iter_mut()
        .find(|u| u.path == path)
        .ok_or_else(|| format!("no org unit {path} in {key}"))?;
    unit.automatic_licensing = enabled;
    Ok(())
}

/// The propagation delays one user drew (see [`EmulatorHandle::propagation_delays`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropagationDelay {
    /// The user's primary address.
    pub email: String,
    /// When `users.insert` created it.
    pub created: tokio::time::Instant,
    /// How long Licensing could not see it.
    pub licensing: std::time::Duration,
    /// How long role assignment could not see it.
    pub roles: std::time::Duration,
}

impl EmulatorHandle {
    /// `http://127.0.0.1:PORT/`: every API and the token endpoint live under it.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The socket address served.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// `{base}token`.
    pub fn token_url(&self) -> String {
        self.shared.token_url()
    }

    /// Root URL of the Directory API (`{base}` unless the seed moved it).
    pub fn directory_root(&self) -> String {
        self.shared.root_url(Api::Directory)
    }

    /// Root URL of the Licensing API.
    pub fn licensing_root(&self) -> String {
        self.shared.root_url(Api::Licensing)
    }

    /// Root URL of the Reseller API.
    pub fn reseller_root(&self) -> String {
        self.shared.root_url(Api::Reseller)
    }

    /// A Google service-account key file (JSON) for a seeded service account, `token_uri`
    /// pointing at this emulator.
    pub fn service_account_key_json(&self, client_email: &str) -> anyhow::Result<String> {
        key_file_json(&self.shared, client_email)
    }

    /// The `authorized_user` JSON (`client_id`, `client_secret`, `refresh_token`, `token_uri`
    /// pointing at this emulator) of a seeded user who authorized an OAuth client.
    pub fn authorized_user_json(&self, user_email: &str) -> anyhow::Result<String> {
        authorized_user_json(&self.shared, user_email)
    }

    /// Emails of the users holding a live refresh token.
    pub fn authorized_users(&self) -> Vec<String> {
        lock(&self.shared.world)
            .installed_apps
            .authorized_user_emails()
    }

    /// For every user created through `users.insert` under the realistic profile, in creation
    /// order: how long after its creation Licensing and role assignment could see it (the
    /// drawn propagation delays, already divided by the time scale). Benchmarks build their
    /// lower bound from these: no license or role of a user can land earlier.
    pub fn propagation_delays(&self) -> Vec<PropagationDelay> {
        let world = lock(&self.shared.world);
        let mut delays: Vec<PropagationDelay> = world
            .customers
            .iter()
            .flat_map(|c| c.users.iter())
            .filter_map(|u| {
                let created = u.created_at?;
                let since = |at: Option<tokio::time::Instant>| {
                    at.map(|at| at.saturating_duration_since(created))
                        .unwrap_or_default()
                };
                (u.licensing_visible_at.is_some() || u.roles_visible_at.is_some()).then(|| {
                    PropagationDelay {
                        email: u.primary_email.clone(),
                        created,
                        licensing: since(u.licensing_visible_at),
                        roles: since(u.roles_visible_at),
                    }
                })
            })
            .collect();
        delays.sort_by_key(|d| d.created);
        delays
    }

    /// Every ledger entry.
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        lock(&self.shared.ledger).entries_after(0)
    }

    /// Ledger entries with `seq > after`.
    pub fn ledger_after(&self, after: u64) -> Vec<LedgerEntry> {
        lock(&self.shared.ledger).entries_after(after)
    }

    /// Empties the ledger (sequence numbers go on).
    pub fn clear_ledger(&self) {
        lock(&self.shared.ledger).clear();
    }

    /// Counters over the ledger.
    pub fn counters(&self) -> Counters {
        lock(&self.shared.ledger).counters()
    }

    /// A customer's whole state (users, org units with automatic licensing, roles, role
    /// assignments, licenses, subscriptions, resold customers), by id or primary domain;
    /// `Value::Null` when there is no such customer.
    pub fn customer_state(&self, customer_id_or_domain: &str) -> Value {
        customer_state_of(&self.shared, customer_id_or_domain).unwrap_or(Value::Null)
    }

    /// The id (`C0…`) of the customer with this primary domain.
    pub fn customer_id(&self, domain: &str) -> Option<String> {
        lock(&self.shared.world)
            .customer_by_domain(domain)
            .map(|c| c.id.clone())
    }

    /// The knobs in force.
    pub fn knobs(&self) -> Knobs {
        lock(&self.shared.knobs).clone()
    }

    /// Replaces the knobs (fault counters restart when faults change, buckets when quotas do).
    pub fn set_knobs(&self, knobs: Knobs) {
        self.shared.set_knobs(knobs);
    }

    /// Changes the knobs in place.
    pub fn update_knobs(&self, change: impl FnOnce(&mut Knobs)) {
        let mut knobs = self.knobs();
        change(&mut knobs);
        self.shared.set_knobs(knobs);
    }

    /// Sets automatic licensing of an org unit (`None` = inherit; at `/`, `None` = off).
    pub fn set_automatic_licensing(
        &self,
        customer_id_or_domain: &str,
        org_unit_path: &str,
        enabled: Option<bool>,
    ) -> anyhow::Result<()> {
        set_automatic_licensing_of(&self.shared, customer_id_or_domain, org_unit_path, enabled)
            .map_err(|e| anyhow!(e))
    }

    /// Sets the seat cap of a customer's own subscription (adds the subscription if missing).
    pub fn set_seats(
        &self,
        customer_id_or_domain: &str,
        product_id: &str,
        sku_id: &str,
        seats: u32,
    ) -> anyhow::Result<()> {
        let mut world = lock(&self.shared.world);
        let id = world
            .customer_by_key(customer_id_or_domain)
            .map(|c| c.id.clone())
            .ok_or_else(|| anyhow!("no customer {customer_id_or_domain}"))?;
        let customer = world
            .customer_mut(&id)
            .ok_or_else(|| anyhow!("no customer {customer_id_or_domain}"))?;
        SeatsChange {
            product_id: product_id.to_owned(),
            sku_id: sku_id.to_owned(),
            seats,
        }
        .apply(customer);
        Ok(())
    }

    /// Stops accepting, closes every connection and waits for the server task.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

/// Writes a key file for `client_email` with a fresh RSA 2048 key (what `keygen` does without
/// a running emulator). A seed naming this file as `key_file` then uses the same key.
pub fn generate_key_file(
    path: &std::path::Path,
    project_id: &str,
    client_email: &str,
    client_id: Option<&str>,
    token_uri: &str,
) -> anyhow::Result<()> {
    let key = keys::AccountKey::generate()?;
    let client_id = client_id
        .map(str::to_owned)
        .unwrap_or_else(world::new_user_id);
    key.key_file(project_id, client_email, &client_id, token_uri)?
        .write(path)
}

/// The discovery method ids served, with their HTTP verb and path in discovery syntax
/// (`{+orgUnitPath}`), for conformance checks.
pub fn supported_methods() -> Vec<(&'static str, String, String)> {
    routes()
        .into_iter()
        .map(|route| {
            (
                route.id,
                route.verb.to_string(),
                route.path.replace("{*", "{+"),
            )
        })
        .collect()
}
