//! The emulated Google world: customers and everything in them, service accounts and tokens.
//!
//! [`World`] is built from a [`Seed`] and lives behind one mutex in the server; API operations
//! (in `directory`, `licensing`, `reseller`) read and change it while holding that lock, so each
//! call is atomic. This module holds the data types, the lookups shared by the APIs, id and etag
//! generation, and the JSON renderings Google returns for each resource.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context as _, anyhow, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};
use tokio::time::Instant;

use crate::error::GoogleError;
use crate::keys::AccountKey;
use crate::seed::{
    CLOUD_IDENTITY_FREE_SKU_ID, CLOUD_IDENTITY_PRODUCT_ID, Seed, SeedDelegation, SeedPrivilege,
    SeedSubscription, WORKSPACE_PRODUCT_ID,
};

/// Service id of the Admin console's own privileges (seen in real tenants).
pub const ADMIN_APIS_SERVICE_ID: &str = "00haapch16h1ysv";
/// `roleName` of the super admin system role.
pub const SUPER_ADMIN_ROLE_NAME: &str = "_SEED_ADMIN_ROLE";

/// Everything the emulator knows. Its `Debug` leaves out the access tokens.
pub struct World {
    /// Project of the service accounts.
    pub project_id: String,
    /// Tenants.
    pub customers: Vec<Customer>,
    /// Service accounts allowed to use the token endpoint.
    pub accounts: Vec<ServiceAccount>,
    /// Issued access tokens. Key: the token itself (never logged).
    pub tokens: HashMap<String, AccessGrant>,
    /// OAuth clients and the refresh tokens of the users who authorized them.
    pub installed_apps: crate::oauth_clients::InstalledApps,
    /// Draws propagation delays and transient errors (seeded by `propagation.rng_seed`, so a
    /// run can be repeated).
    pub rng: StdRng,
}

/// A generator from `seed`, or from the OS when there is none.
pub fn propagation_rng(seed: Option<u64>) -> StdRng {
    match seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_os_rng(),
    }
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("project_id", &self.project_id)
            .field("customers", &self.customers)
            .field("accounts", &self.accounts)
            .field("tokens", &format_args!("<{} issued>", self.tokens.len()))
            .field("installed_apps", &self.installed_apps)
            .finish()
    }
}

/// A service account and its key.
#[derive(Debug, Clone)]
pub struct ServiceAccount {
    /// `client_email`.
    pub client_email: String,
    /// Numeric client id.
    pub client_id: String,
    /// Key material.
    pub key: AccountKey,
    /// Key file to write at start when it does not exist yet.
    pub write_key_file: Option<PathBuf>,
}

/// What an access token stands for.
#[derive(Debug, Clone)]
pub struct AccessGrant {
    /// Service account that asked.
    pub client_email: String,
    /// Impersonated user (`sub`), by id.
    pub subject_user_id: String,
    /// Primary email of the subject at grant time.
    pub subject_email: String,
    /// Customer of the subject.
    pub customer_id: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// End of validity.
    pub expires: Instant,
}

/// A tenant.
#[derive(Debug)]
pub struct Customer {
    /// `C0…`.
    pub id: String,
    /// Primary domain.
    pub domain: String,
    /// `alternateEmail`.
    pub alternate_email: String,
    /// `customerCreationTime`.
    pub creation_time: DateTime<Utc>,
    /// Id of the root org unit `/`.
    pub root_org_unit_id: String,
    /// Automatic licensing of `/`.
    pub root_automatic_licensing: bool,
    /// Org units other than `/`.
    pub org_units: Vec<OrgUnit>,
    /// Users.
    pub users: Vec<User>,
    /// System and custom roles.
    pub roles: Vec<Role>,
    /// Role assignments.
    pub role_assignments: Vec<RoleAssignment>,
    /// License assignments.
    pub licenses: Vec<License>,
    /// Own subscriptions (Licensing view).
    pub subscriptions: Vec<SeedSubscription>,
    /// `roles/ALL/privileges`.
    pub privileges: Vec<SeedPrivilege>,
    /// Domain-wide delegation grants.
    pub delegations: Vec<SeedDelegation>,
    /// Reseller data, for reseller domains.
    pub reseller: Option<Reseller>,
    /// When the primary domain was added (its `creationTime`).
    pub domain_creation_time: DateTime<Utc>,
    /// Secondary domains (the primary is `domain`).
    pub secondary_domains: Vec<SecondaryDomain>,
    /// Domain aliases of the primary or a secondary domain.
    pub domain_aliases: Vec<DomainAlias>,
}

/// A secondary domain of a customer.
#[derive(Debug, Clone)]
pub struct SecondaryDomain {
    /// `domainName`, lowercase.
    pub name: String,
    /// `verified`.
    pub verified: bool,
    /// `creationTime`.
    pub creation_time: DateTime<Utc>,
}

/// A domain alias of a customer.
#[derive(Debug, Clone)]
pub struct DomainAlias {
    /// `domainAliasName`, lowercase.
    pub name: String,
    /// `parentDomainName`: the primary or a secondary domain.
    pub parent: String,
    /// `verified`.
    pub verified: bool,
    /// `creationTime`.
    pub creation_time: DateTime<Utc>,
}

/// What a domain name is to the customer that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainStanding {
    /// The customer's primary domain.
    Primary,
    /// A secondary domain, verified or not.
    Secondary {
        /// Whether Google verified it.
        verified: bool,
    },
    /// A domain alias.
    Alias,
}

impl DomainStanding {
    /// Whether users may have addresses in the domain: the primary and verified secondaries.
    pub fn holds_users(self) -> bool {
        matches!(self, Self::Primary | Self::Secondary { verified: true })
    }
}

/// An org unit below `/`.
#[derive(Debug, Clone)]
pub struct OrgUnit {
    /// `id:…`.
    pub id: String,
    /// Full path, `/A/B`.
    pub path: String,
    /// Last path segment.
    pub name: String,
    /// `description`.
    pub description: Option<String>,
    /// Automatic licensing; `None` inherits.
    pub automatic_licensing: Option<bool>,
}

impl OrgUnit {
    /// The parent's path (`/` for a top-level unit).
    pub fn parent_path(&self) -> String {
        parent_path(&self.path)
    }
}

/// The parent path of `/A/B` (`/A`), of `/A` (`/`).
pub fn parent_path(path: &str) -> String {
    match path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(index) => path[..index].to_owned(),
    }
}

/// A user.
#[derive(Debug, Clone)]
pub struct User {
    /// 21-digit id.
    pub id: String,
    /// `primaryEmail`.
    pub primary_email: String,
    /// `name.givenName`.
    pub given_name: String,
    /// `name.familyName`.
    pub family_name: String,
    /// `orgUnitPath`.
    pub org_unit_path: String,
    /// `suspended`.
    pub suspended: bool,
    /// `archived`.
    pub archived: bool,
    /// `changePasswordAtNextLogin`.
    pub change_password_at_next_login: bool,
    /// `includeInGlobalAddressList`.
    pub include_in_global_address_list: bool,
    /// `creationTime`.
    pub creation_time: DateTime<Utc>,
    /// When `users.insert` created it (start of the propagation window); `None` for seeded users.
    pub created_at: Option<Instant>,
    /// Under the realistic profile: until when Licensing cannot see the user.
    pub licensing_visible_at: Option<Instant>,
    /// Under the realistic profile: until when role assignment cannot see the user.
    pub roles_visible_at: Option<Instant>,
    /// Alias addresses.
    pub aliases: Vec<String>,
    /// Other writable fields passed through as given (`emails`, `phones`, `recoveryEmail`, …).
    pub extra: Map<String, Value>,
}

impl User {
    /// Whether Licensing cannot see the user yet at `now` (realistic profile).
    pub fn hidden_from_licensing(&self, now: Instant) -> bool {
        self.licensing_visible_at.is_some_and(|at| now < at)
    }

    /// Whether role assignment cannot see the user yet at `now` (realistic profile).
    pub fn hidden_from_roles(&self, now: Instant) -> bool {
        self.roles_visible_at.is_some_and(|at| now < at)
    }

    /// Whether the user is still inside the propagation window at `now`.
    pub fn is_propagating(&self, now: Instant, window_ms: u64) -> bool {
        window_ms > 0
            && self.created_at.is_some_and(|created| {
                now.duration_since(created) < std::time::Duration::from_millis(window_ms)
            })
    }
}

/// A role.
#[derive(Debug, Clone)]
pub struct Role {
    /// int64 as string.
    pub id: String,
    /// `roleName`.
    pub name: String,
    /// `roleDescription`.
    pub description: Option<String>,
    /// `(privilegeName, serviceId)`.
    pub privileges: Vec<(String, String)>,
    /// `isSystemRole`.
    pub is_system: bool,
    /// `isSuperAdminRole`.
    pub is_super_admin: bool,
}

/// A role assignment.
#[derive(Debug, Clone)]
pub struct RoleAssignment {
    /// int64 as string.
    pub id: String,
    /// Role.
    pub role_id: String,
    /// User id.
    pub assigned_to: String,
    /// `CUSTOMER` or `ORG_UNIT`.
    pub scope_type: String,
    /// Org unit id without `id:` (as Google returns it) when scoped to an org unit.
    pub org_unit_id: Option<String>,
    /// `condition`.
    pub condition: Option<String>,
}

/// A license assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct License {
    /// `productId`.
    pub product_id: String,
    /// `skuId`.
    pub sku_id: String,
    /// Holder's user id (the API shows the current primary email).
    pub user_id: String,
}

/// A reseller domain's reseller data.
#[derive(Debug)]
pub struct Reseller {
    /// `roleName` of the Reseller Admin system role.
    pub admin_role_name: String,
    /// Customers it resells to.
    pub customers: Vec<ResoldCustomer>,
}

/// A resold customer.
#[derive(Debug)]
pub struct ResoldCustomer {
    /// `C0…`.
    pub id: String,
    /// Primary domain.
    pub domain: String,
    /// `alternateEmail`.
    pub alternate_email: String,
    /// Subscriptions.
    pub subscriptions: Vec<ResoldSubscription>,
}

/// A resold subscription.
#[derive(Debug)]
pub struct ResoldSubscription {
    /// `subscriptionId`.
    pub id: String,
    /// `skuId`.
    pub sku_id: String,
    /// Plan name as seeded.
    pub plan: String,
    /// Seats.
    pub seats: u32,
    /// `status`.
    pub status: String,
    /// `creationTime`.
    pub creation_time: DateTime<Utc>,
}

/// A random string of `len` lowercase letters and digits.
pub fn random_alnum(len: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// A random numeric string of `len` digits not starting with 0.
pub fn random_digits(len: usize) -> String {
    let mut rng = rand::rng();
    let mut out = String::with_capacity(len);
    out.push(char::from(b'1' + rng.random_range(0..9u8)));
    for _ in 1..len {
        out.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    out
}

/// A new customer id, `C0` and 7 characters.
pub fn new_customer_id() -> String {
    format!("C0{}", random_alnum(7))
}

/// A new user id (21 digits, as Google's).
pub fn new_user_id() -> String {
    random_digits(21)
}

/// A new org unit id, `id:03…`.
pub fn new_org_unit_id() -> String {
    format!("id:03{}", random_alnum(12))
}

/// A new int64 id for roles and role assignments (17 digits, as Google's).
pub fn new_int64_id() -> String {
    random_digits(17)
}

/// Google-style quoted etag over a resource's JSON.
pub fn etag_of(value: &Value) -> String {
    let digest = Sha256::digest(value.to_string().as_bytes());
    let encoded = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        &digest[..20],
    );
    format!("\"{encoded}\"")
}

/// Adds `etag` (computed over the rest) to a JSON object.
pub fn with_etag(mut value: Value) -> Value {
    let etag = etag_of(&value);
    if let Some(object) = value.as_object_mut() {
        object.insert("etag".to_owned(), Value::String(etag));
    }
    value
}

/// RFC 3339 with milliseconds and `Z`, as Google writes times.
pub fn google_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Human names of products and SKUs the emulator knows.
pub fn product_name(product_id: &str) -> &'static str {
    match product_id {
        CLOUD_IDENTITY_PRODUCT_ID => "Cloud Identity",
        WORKSPACE_PRODUCT_ID => "Google Workspace",
        _ => "Unknown product",
    }
}

/// Human name of a SKU.
pub fn sku_name(sku_id: &str) -> &'static str {
    match sku_id {
        CLOUD_IDENTITY_FREE_SKU_ID => "Cloud Identity Free",
        "1010050001" => "Cloud Identity Premium",
        "1010020027" => "Google Workspace Business Starter",
        "1010020028" => "Google Workspace Business Standard",
        "1010020025" => "Google Workspace Business Plus",
        "1010020029" => "Google Workspace Enterprise Starter",
        "1010020026" => "Google Workspace Enterprise Standard",
        "1010020020" => "Google Workspace Enterprise Plus",
        "1010060003" => "Google Workspace Enterprise Essentials",
        "1010060001" => "Google Workspace Essentials",
        "1010020030" => "Google Workspace Frontline Starter",
        "1010020031" => "Google Workspace Frontline Standard",
        _ => "Unknown SKU",
    }
}

/// The product a SKU belongs to (for resold subscriptions, which carry only the SKU).
pub fn product_of_sku(sku_id: &str) -> &'static str {
    if sku_id.starts_with("101001") || sku_id.starts_with("101005") {
        CLOUD_IDENTITY_PRODUCT_ID
    } else {
        WORKSPACE_PRODUCT_ID
    }
}

/// The system privileges every customer has (a subset of a real tenant's tree).
fn system_privileges() -> Vec<SeedPrivilege> {
    let node = |name: &str, ou_scopable: bool, children: Vec<SeedPrivilege>| SeedPrivilege {
        name: name.to_owned(),
        service_id: ADMIN_APIS_SERVICE_ID.to_owned(),
        service_name: "admin_apis".to_owned(),
        ou_scopable,
        children,
    };
    vec![
        node(
            "USERS_ALL",
            true,
            vec![
                node("USERS_RETRIEVE", true, vec![]),
                node("USERS_CREATE", true, vec![]),
                node("USERS_UPDATE", true, vec![]),
                node("USERS_DELETE", true, vec![]),
            ],
        ),
        node(
            "ORGANIZATION_UNITS_ALL",
            true,
            vec![node("ORGANIZATION_UNITS_RETRIEVE", true, vec![])],
        ),
        node("LICENSING", false, vec![]),
        node("SUPPORT_PRIVILEGE_GROUP", false, vec![]),
        node("ROLE_MANAGEMENT", false, vec![]),
    ]
}

/// Every node of a privilege forest, depth first.
pub fn flatten_privileges(forest: &[SeedPrivilege]) -> Vec<&SeedPrivilege> {
    let mut out = Vec::new();
    let mut stack: Vec<&SeedPrivilege> = forest.iter().rev().collect();
    while let Some(node) = stack.pop() {
        out.push(node);
        stack.extend(node.children.iter().rev());
    }
    out
}

impl World {
    /// Builds the world from a seed: keys for service accounts (loaded or generated), customers
    /// with their system roles, org units, users, licenses and resold customers.
    pub fn from_seed(seed: &Seed) -> anyhow::Result<Self> {
        let mut accounts = Vec::new();
        for account in &seed.service_accounts {
            let (key, write_key_file, client_id_from_file) =
                match (&account.key_file, &account.public_key_pem) {
                    (Some(path), _) if path.exists() => {
                        let file = crate::keys::KeyFile::read(path)?;
                        if !file
                            .client_email
                            .eq_ignore_ascii_case(&account.client_email)
                        {
                            bail!(
                                "key file {} belongs to {}, not {}",
                                path.display(),
                                file.client_email,
                                account.client_email
                            );
                        }
                        (file.account_key()?, None, Some(file.client_id))
                    }
                    (Some(path), _) => (AccountKey::generate()?, Some(path.clone()), None),
                    (None, Some(pem)) => (AccountKey::from_public_key_pem(pem)?, None, None),
                    (None, None) => (AccountKey::generate()?, None, None),
                };
            accounts.push(ServiceAccount {
                client_email: account.client_email.clone(),
                client_id: account
                    .client_id
                    .clone()
                    .or(client_id_from_file)
                    .unwrap_or_else(new_user_id),
                key,
                write_key_file,
            });
        }
        let mut world = World {
            project_id: seed.project_id.clone(),
            customers: Vec::new(),
            accounts,
            tokens: HashMap::new(),
            installed_apps: crate::oauth_clients::InstalledApps::default(),
            rng: propagation_rng(seed.knobs.propagation.rng_seed),
        };
        for seed_customer in &seed.customers {
            world.add_seed_customer(seed_customer)?;
        }
        world.installed_apps = crate::oauth_clients::InstalledApps::from_seed(seed, &world)?;
        Ok(world)
    }

    fn add_seed_customer(&mut self, seed: &crate::seed::SeedCustomer) -> anyhow::Result<()> {
        let domain = seed.domain.to_ascii_lowercase();
        if self.domain_owner(&domain).is_some() {
            bail!("customer domain {domain} appears twice in the seed");
        }
        let mut privileges = system_privileges();
        let reseller = seed.reseller.as_ref();
        if let Some(reseller) = reseller {
            privileges.extend(reseller.privileges.iter().cloned());
        }
        let mut customer = Customer {
            id: seed.id.clone().unwrap_or_else(new_customer_id),
            domain: domain.clone(),
            alternate_email: seed
                .alternate_email
                .clone()
                .unwrap_or_else(|| format!("postmaster@{domain}")),
            creation_time: Utc::now() - chrono::Duration::days(400),
            root_org_unit_id: new_org_unit_id(),
            root_automatic_licensing: seed.automatic_licensing,
            org_units: Vec::new(),
            users: Vec::new(),
            roles: Vec::new(),
            role_assignments: Vec::new(),
            licenses: Vec::new(),
            subscriptions: seed.subscriptions.clone(),
            privileges,
            delegations: seed.delegations.clone(),
            reseller: None,
            domain_creation_time: Utc::now() - chrono::Duration::days(400),
            secondary_domains: Vec::new(),
            domain_aliases: Vec::new(),
        };
        self.add_seed_domains(&mut customer, seed)?;
        customer.add_system_roles(
            reseller.map(|r| r.admin_role_name.as_str()),
            seed.legacy_support_roles,
        );
        for role in &seed.custom_roles {
            let mut pairs = Vec::new();
            for name in &role.privileges {
                let node = flatten_privileges(&customer.privileges)
                    .into_iter()
                    .find(|node| &node.name == name)
                    .ok_or_else(|| anyhow!("role {} names unknown privilege {name}", role.name))?;
                pairs.push((node.name.clone(), node.service_id.clone()));
            }
            customer.roles.push(Role {
                id: new_int64_id(),
                name: role.name.clone(),
                description: role.description.clone(),
                privileges: pairs,
                is_system: false,
                is_super_admin: false,
            });
        }
        for org_unit in &seed.org_units {
            let path = normalize_path(&org_unit.path)
                .ok_or_else(|| anyhow!("bad org unit path {:?}", org_unit.path))?;
            customer.ensure_org_unit_path(&path);
            if let Some(unit) = customer.org_units.iter_mut().find(|u| u.path == path) {
                unit.description = org_unit.description.clone();
                unit.automatic_licensing = org_unit.automatic_licensing;
            }
        }
        for seed_user in &seed.users {
            let email = seed_user.primary_email.to_ascii_lowercase();
            let user_domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
            if !customer
                .domain_standing(user_domain)
                .is_some_and(DomainStanding::holds_users)
            {
                bail!(
                    "user {email} is not in domain {domain} nor in one of its verified secondary domains"
                );
            }
            if self.find_user_anywhere(&email).is_some()
                || customer.users.iter().any(|u| u.primary_email == email)
            {
                bail!("user {email} appears twice in the seed");
            }
            let path = normalize_path(&seed_user.org_unit_path)
                .ok_or_else(|| anyhow!("bad org unit path of {email}"))?;
            customer.ensure_org_unit_path(&path);
            let user = User {
                id: new_user_id(),
                primary_email: email.clone(),
                given_name: seed_user.given_name.clone(),
                family_name: seed_user.family_name.clone(),
                org_unit_path: path,
                suspended: seed_user.suspended,
                archived: false,
                change_password_at_next_login: false,
                include_in_global_address_list: true,
                creation_time: Utc::now() - chrono::Duration::days(30),
                created_at: None,
                licensing_visible_at: None,
                roles_visible_at: None,
                aliases: Vec::new(),
                extra: Map::new(),
            };
            let user_id = user.id.clone();
            customer.users.push(user);
            if seed_user.super_admin {
                let role_id = customer.super_admin_role_id();
                customer.role_assignments.push(RoleAssignment {
                    id: new_int64_id(),
                    role_id,
                    assigned_to: user_id.clone(),
                    scope_type: "CUSTOMER".to_owned(),
                    org_unit_id: None,
                    condition: None,
                });
            }
            if customer.site_license().is_some() {
                customer.licenses.push(License {
                    product_id: CLOUD_IDENTITY_PRODUCT_ID.to_owned(),
                    sku_id: CLOUD_IDENTITY_FREE_SKU_ID.to_owned(),
                    user_id: user_id.clone(),
                });
            }
            for license in &seed_user.licenses {
                let (product_id, sku_id) = license
                    .split_once('/')
                    .ok_or_else(|| anyhow!("license {license:?} is not productId/skuId"))?;
                if customer.subscription(product_id, sku_id).is_none() {
                    bail!("{email} holds {license} but {domain} does not subscribe to it");
                }
                let candidate = License {
                    product_id: product_id.to_owned(),
                    sku_id: sku_id.to_owned(),
                    user_id: user_id.clone(),
                };
                if !customer.licenses.contains(&candidate) {
                    customer.licenses.push(candidate);
                }
            }
        }
        for held in &seed.role_assignments {
            let user_id = customer
                .user_index(&held.user)
                .map(|index| customer.users[index].id.clone())
                .ok_or_else(|| anyhow!("role assignment names unknown user {}", held.user))?;
            let role_id = customer
                .roles
                .iter()
                .find(|r| r.name == held.role)
                .map(|r| r.id.clone())
                .ok_or_else(|| anyhow!("{} holds unknown role {}", held.user, held.role))?;
            customer.role_assignments.push(RoleAssignment {
                id: new_int64_id(),
                role_id,
                assigned_to: user_id,
                scope_type: "CUSTOMER".to_owned(),
                org_unit_id: None,
                condition: None,
            });
        }
        for held in &seed.service_account_roles {
            let account_id = self
                .account(&held.service_account)
                .map(|a| a.client_id.clone())
                .ok_or_else(|| {
                    anyhow!(
                        "service_account_roles names {}, which is not in service_accounts",
                        held.service_account
                    )
                })?;
            let role_id = customer
                .roles
                .iter()
                .find(|r| r.name == held.role)
                .map(|r| r.id.clone())
                .ok_or_else(|| {
                    anyhow!("{} holds unknown role {}", held.service_account, held.role)
                })?;
            customer.role_assignments.push(RoleAssignment {
                id: new_int64_id(),
                role_id,
                assigned_to: account_id,
                scope_type: "CUSTOMER".to_owned(),
                org_unit_id: None,
                condition: None,
            });
        }
        if let Some(reseller) = reseller {
            let mut resold = Vec::new();
            for seed_resold in &reseller.customers {
                let resold_domain = seed_resold.domain.to_ascii_lowercase();
                resold.push(ResoldCustomer {
                    id: seed_resold.id.clone().unwrap_or_else(new_customer_id),
                    alternate_email: seed_resold
                        .alternate_email
                        .clone()
                        .unwrap_or_else(|| format!("admin@{resold_domain}")),
                    domain: resold_domain,
                    subscriptions: seed_resold
                        .subscriptions
                        .iter()
                        .map(|sub| ResoldSubscription {
                            id: random_digits(9),
                            sku_id: sub.sku_id.clone(),
                            plan: sub.plan.clone(),
                            seats: sub.seats,
                            status: sub.status.clone(),
                            creation_time: Utc::now() - chrono::Duration::days(200),
                        })
                        .collect(),
                });
            }
            customer.reseller = Some(Reseller {
                admin_role_name: reseller.admin_role_name.clone(),
                customers: resold,
            });
        }
        self.customers.push(customer);
        Ok(())
    }

    /// Adds a seed customer's secondary domains and aliases; every name must be new to the
    /// whole world, and an alias's parent must be the primary or a secondary domain.
    fn add_seed_domains(
        &self,
        customer: &mut Customer,
        seed: &crate::seed::SeedCustomer,
    ) -> anyhow::Result<()> {
        let created = Utc::now() - chrono::Duration::days(100);
        for secondary in &seed.secondary_domains {
            let name = secondary.name.to_ascii_lowercase();
            if self.domain_owner(&name).is_some() || customer.domain_standing(&name).is_some() {
                bail!("domain {name} appears twice in the seed");
            }
            customer.secondary_domains.push(SecondaryDomain {
                name,
                verified: secondary.verified,
                creation_time: created,
            });
        }
        for alias in &seed.domain_aliases {
            let name = alias.name.to_ascii_lowercase();
            if self.domain_owner(&name).is_some() || customer.domain_standing(&name).is_some() {
                bail!("domain {name} appears twice in the seed");
            }
            let parent = alias
                .parent
                .as_deref()
                .map(str::to_ascii_lowercase)
                .unwrap_or_else(|| customer.domain.clone());
            if !matches!(
                customer.domain_standing(&parent),
                Some(DomainStanding::Primary | DomainStanding::Secondary { .. })
            ) {
                bail!(
                    "alias {name} names {parent}, which is not a domain of {}",
                    customer.domain
                );
            }
            customer.domain_aliases.push(DomainAlias {
                name,
                parent,
                verified: alias.verified,
                creation_time: created,
            });
        }
        Ok(())
    }

    /// The customer holding `domain` (as primary, secondary or alias) and what it is there.
    pub fn domain_owner(&self, domain: &str) -> Option<(&Customer, DomainStanding)> {
        self.customers.iter().find_map(|customer| {
            customer
                .domain_standing(domain)
                .map(|standing| (customer, standing))
        })
    }

    /// The customer with this id (case-sensitive, as Google's ids).
    pub fn customer(&self, id: &str) -> Option<&Customer> {
        self.customers.iter().find(|c| c.id == id)
    }

    /// Mutable [`World::customer`].
    pub fn customer_mut(&mut self, id: &str) -> Option<&mut Customer> {
        self.customers.iter_mut().find(|c| c.id == id)
    }

    /// The customer whose primary domain is `domain`.
    pub fn customer_by_domain(&self, domain: &str) -> Option<&Customer> {
        self.customers
            .iter()
            .find(|c| c.domain.eq_ignore_ascii_case(domain))
    }

    /// A customer by id or primary domain.
    pub fn customer_by_key(&self, key: &str) -> Option<&Customer> {
        self.customer(key).or_else(|| self.customer_by_domain(key))
    }

    /// `(customer id, user index)` of the user with this email, alias or id, in any customer.
    pub fn find_user_anywhere(&self, key: &str) -> Option<(String, usize)> {
        self.customers.iter().find_map(|customer| {
            customer
                .user_index(key)
                .map(|index| (customer.id.clone(), index))
        })
    }

    /// The service account with this email or client id.
    pub fn account(&self, key: &str) -> Option<&ServiceAccount> {
        self.accounts
            .iter()
            .find(|a| a.client_email.eq_ignore_ascii_case(key) || a.client_id == key)
    }

    /// Who a token acting as the service account itself is: `(unique id, email, customer id)`.
    /// The customer is the first one in which the account holds a role (role assignments name
    /// it by its unique id, as Google's do); empty when it holds none, so every call is refused.
    pub fn service_account_identity(&self, client_id: &str) -> (String, String, String) {
        let email = self
            .account(client_id)
            .map(|a| a.client_email.clone())
            .unwrap_or_default();
        let customer_id = self
            .customers
            .iter()
            .find(|c| {
                c.role_assignments
                    .iter()
                    .any(|a| a.assigned_to == client_id)
            })
            .map(|c| c.id.clone())
            .unwrap_or_default();
        (client_id.to_owned(), email, customer_id)
    }
}

/// Normalizes an org unit path: leading `/`, no trailing `/`, no empty segments. `None` if
/// invalid.
pub fn normalize_path(path: &str) -> Option<String> {
    let trimmed = path.trim();
    if trimmed.is_empty() || trimmed == "/" {
        return Some("/".to_owned());
    }
    let segments: Vec<&str> = trimmed.trim_matches('/').split('/').collect();
    if segments.iter().any(|segment| segment.trim().is_empty()) {
        return None;
    }
    Some(format!("/{}", segments.join("/")))
}

impl Customer {
    /// What `domain` is to this customer, if it holds it at all.
    pub fn domain_standing(&self, domain: &str) -> Option<DomainStanding> {
        if self.domain.eq_ignore_ascii_case(domain) {
            return Some(DomainStanding::Primary);
        }
        if let Some(secondary) = self
            .secondary_domains
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(domain))
        {
            return Some(DomainStanding::Secondary {
                verified: secondary.verified,
            });
        }
        self.domain_aliases
            .iter()
            .any(|a| a.name.eq_ignore_ascii_case(domain))
            .then_some(DomainStanding::Alias)
    }

    /// Google's `DomainAlias` resource.
    pub fn domain_alias_json(&self, alias: &DomainAlias) -> Value {
        with_etag(json!({
            "kind": "admin#directory#domainAlias",
            "domainAliasName": alias.name,
            "parentDomainName": alias.parent,
            "verified": alias.verified,
            "creationTime": alias.creation_time.timestamp_millis().to_string(),
        }))
    }

    /// Google's `Domains` resource for the primary domain or a secondary domain, with the
    /// aliases whose parent it is.
    pub fn domain_json(&self, name: &str) -> Option<Value> {
        let (is_primary, verified, created) = if self.domain.eq_ignore_ascii_case(name) {
            (true, true, self.domain_creation_time)
        } else {
            let secondary = self
                .secondary_domains
                .iter()
                .find(|d| d.name.eq_ignore_ascii_case(name))?;
            (false, secondary.verified, secondary.creation_time)
        };
        let domain_name = if is_primary {
            self.domain.clone()
        } else {
            name.to_ascii_lowercase()
        };
        let mut value = json!({
            "kind": "admin#directory#domain",
            "domainName": domain_name,
            "isPrimary": is_primary,
            "verified": verified,
            "creationTime": created.timestamp_millis().to_string(),
        });
        let aliases: Vec<Value> = self
            .domain_aliases
            .iter()
            .filter(|a| a.parent == domain_name)
            .map(|a| self.domain_alias_json(a))
            .collect();
        if !aliases.is_empty() {
            value["domainAliases"] = Value::Array(aliases);
        }
        Some(with_etag(value))
    }

    fn add_system_roles(&mut self, reseller_admin_role: Option<&str>, legacy: bool) {
        let top_level: Vec<(String, String)> = self
            .privileges
            .iter()
            .map(|p| (p.name.clone(), p.service_id.clone()))
            .collect();
        let system = |name: &str, description: &str, privileges: Vec<(String, String)>| Role {
            id: new_int64_id(),
            name: name.to_owned(),
            description: Some(description.to_owned()),
            privileges,
            is_system: true,
            is_super_admin: false,
        };
        let admin = |name: &str| vec![(name.to_owned(), ADMIN_APIS_SERVICE_ID.to_owned())];
        let mut super_admin = system(SUPER_ADMIN_ROLE_NAME, "Super Admin", top_level);
        super_admin.is_super_admin = true;
        self.roles.push(super_admin);
        self.roles.push(system(
            "_GROUPS_ADMIN_ROLE",
            "Groups Administrator",
            admin("USERS_RETRIEVE"),
        ));
        self.roles.push(system(
            "_USER_MANAGEMENT_ADMIN_ROLE",
            "User Management Administrator",
            admin("USERS_ALL"),
        ));
        self.roles.push(system(
            "_HELP_DESK_ADMIN_ROLE",
            "Help Desk Administrator",
            admin("USERS_RETRIEVE"),
        ));
        self.roles.push(system(
            "_SERVICES_ADMIN_ROLE",
            "Services Administrator",
            admin("SUPPORT_PRIVILEGE_GROUP"),
        ));
        if let Some(name) = reseller_admin_role {
            let reseller_privileges: Vec<(String, String)> = self
                .privileges
                .iter()
                .filter(|p| p.service_id != ADMIN_APIS_SERVICE_ID)
                .map(|p| (p.name.clone(), p.service_id.clone()))
                .collect();
            self.roles
                .push(system(name, "Reseller Admin", reseller_privileges));
        }
        if legacy {
            let support = admin("SUPPORT_PRIVILEGE_GROUP");
            self.roles.push(system(
                "_LEGACY_ENTERPRISE_SUPPORT_ROLE",
                "Legacy Enterprise Support",
                support.clone(),
            ));
            self.roles.push(system(
                "_LEGACY_RESOLD_ENTERPRISE_SUPPORT_ROLE",
                "Legacy Resold Enterprise Support",
                support,
            ));
        }
    }

    /// Creates missing org units along `path` (used by seeding).
    fn ensure_org_unit_path(&mut self, path: &str) {
        if path == "/" {
            return;
        }
        let mut current = String::new();
        for segment in path.trim_start_matches('/').split('/') {
            current.push('/');
            current.push_str(segment);
            if !self.org_units.iter().any(|u| u.path == current) {
                self.org_units.push(OrgUnit {
                    id: new_org_unit_id(),
                    path: current.clone(),
                    name: segment.to_owned(),
                    description: None,
                    automatic_licensing: None,
                });
            }
        }
    }

    /// The id of `_SEED_ADMIN_ROLE`.
    pub fn super_admin_role_id(&self) -> String {
        self.roles
            .iter()
            .find(|r| r.is_super_admin)
            .map(|r| r.id.clone())
            .unwrap_or_default()
    }

    /// Index of the user with this primary email, alias or id.
    pub fn user_index(&self, key: &str) -> Option<usize> {
        let key_lower = key.to_ascii_lowercase();
        self.users.iter().position(|u| {
            u.id == key
                || u.primary_email == key_lower
                || u.aliases.iter().any(|a| a.eq_ignore_ascii_case(key))
        })
    }

    /// Whether the user holds `_SEED_ADMIN_ROLE`.
    pub fn is_super_admin(&self, user_id: &str) -> bool {
        let role_id = self.super_admin_role_id();
        self.role_assignments
            .iter()
            .any(|a| a.assigned_to == user_id && a.role_id == role_id)
    }

    /// Whether the user holds any other role.
    pub fn is_delegated_admin(&self, user_id: &str) -> bool {
        let role_id = self.super_admin_role_id();
        self.role_assignments
            .iter()
            .any(|a| a.assigned_to == user_id && a.role_id != role_id)
    }

    /// Privileges a user holds through role assignments, each expanded to its descendants
    /// (holding `USERS_ALL` holds `USERS_RETRIEVE`).
    pub fn held_privileges(&self, user_id: &str) -> Vec<&SeedPrivilege> {
        let all = flatten_privileges(&self.privileges);
        let mut held: Vec<&SeedPrivilege> = Vec::new();
        for assignment in self
            .role_assignments
            .iter()
            .filter(|a| a.assigned_to == user_id)
        {
            let Some(role) = self.roles.iter().find(|r| r.id == assignment.role_id) else {
                continue;
            };
            for (name, service) in &role.privileges {
                if let Some(node) = all
                    .iter()
                    .find(|n| &n.name == name && &n.service_id == service)
                {
                    for descendant in flatten_privileges(std::slice::from_ref(*node)) {
                        if !held.iter().any(|h| std::ptr::eq(*h, descendant)) {
                            held.push(descendant);
                        }
                    }
                }
            }
        }
        held
    }

    /// Whether an admin may call `method_id`: super admins may call everything; a delegated
    /// admin needs a privilege for it (reseller methods: any reseller privilege; `makeAdmin`:
    /// super admins only).
    pub fn may_call(&self, user_id: &str, method_id: &str) -> bool {
        if self.is_super_admin(user_id) {
            return true;
        }
        let held = self.held_privileges(user_id);
        if method_id.starts_with("reseller.") {
            return held.iter().any(|p| p.service_id != ADMIN_APIS_SERVICE_ID);
        }
        let needed: &[&str] = match method_id {
            "directory.customers.get" => return !held.is_empty(),
            "directory.users.makeAdmin" => return false,
            "directory.users.get" | "directory.users.list" => &["USERS_RETRIEVE"],
            "directory.users.insert" => &["USERS_CREATE"],
            "directory.users.update" | "directory.users.patch" => &["USERS_UPDATE"],
            "directory.users.delete" => &["USERS_DELETE"],
            "directory.orgunits.get" | "directory.orgunits.list" => {
                &["ORGANIZATION_UNITS_RETRIEVE"]
            }
            id if id.starts_with("directory.orgunits.") => &["ORGANIZATION_UNITS_ALL"],
            id if id.starts_with("directory.") => &["ROLE_MANAGEMENT"],
            id if id.starts_with("licensing.") => &["LICENSING"],
            _ => return false,
        };
        held.iter().any(|p| needed.contains(&p.name.as_str()))
    }

    /// The org unit at `path` (`None` for `/`, which is not stored).
    pub fn org_unit(&self, path: &str) -> Option<&OrgUnit> {
        self.org_units.iter().find(|u| u.path == path)
    }

    /// Whether `path` names an org unit (including `/`).
    pub fn org_unit_exists(&self, path: &str) -> bool {
        path == "/" || self.org_unit(path).is_some()
    }

    /// Path of the org unit with id `id` (with or without `id:`).
    pub fn org_unit_path_by_id(&self, id: &str) -> Option<String> {
        let bare = id.strip_prefix("id:").unwrap_or(id);
        if self.root_org_unit_id.trim_start_matches("id:") == bare {
            return Some("/".to_owned());
        }
        self.org_units
            .iter()
            .find(|u| u.id.trim_start_matches("id:") == bare)
            .map(|u| u.path.clone())
    }

    /// Id of the org unit at `path` (including `/`).
    pub fn org_unit_id_of(&self, path: &str) -> Option<String> {
        if path == "/" {
            return Some(self.root_org_unit_id.clone());
        }
        self.org_unit(path).map(|u| u.id.clone())
    }

    /// Effective automatic licensing of the org unit at `path` (inherits upward).
    pub fn automatic_licensing_of(&self, path: &str) -> bool {
        let mut current = path.to_owned();
        loop {
            if current == "/" {
                return self.root_automatic_licensing;
            }
            if let Some(setting) = self.org_unit(&current).and_then(|u| u.automatic_licensing) {
                return setting;
            }
            current = parent_path(&current);
        }
    }

    /// The own subscription for a product and SKU.
    pub fn subscription(&self, product_id: &str, sku_id: &str) -> Option<&SeedSubscription> {
        self.subscriptions
            .iter()
            .find(|s| s.product_id == product_id && s.sku_id == sku_id)
    }

    /// The Cloud Identity Free subscription, when subscribed.
    pub fn site_license(&self) -> Option<&SeedSubscription> {
        self.subscriptions.iter().find(|s| s.is_site_license())
    }

    /// Licenses assigned for a product and SKU.
    pub fn licenses_used(&self, product_id: &str, sku_id: &str) -> usize {
        self.licenses
            .iter()
            .filter(|l| l.product_id == product_id && l.sku_id == sku_id)
            .count()
    }

    /// A user's JSON (`admin#directory#user`).
    pub fn user_json(&self, user: &User) -> Value {
        let mut object = Map::new();
        object.insert("kind".into(), json!("admin#directory#user"));
        object.insert("id".into(), json!(user.id));
        object.insert("primaryEmail".into(), json!(user.primary_email));
        object.insert(
            "name".into(),
            json!({
                "givenName": user.given_name,
                "familyName": user.family_name,
                "fullName": format!("{} {}", user.given_name, user.family_name),
            }),
        );
        object.insert("isAdmin".into(), json!(self.is_super_admin(&user.id)));
        object.insert(
            "isDelegatedAdmin".into(),
            json!(self.is_delegated_admin(&user.id)),
        );
        object.insert("lastLoginTime".into(), json!("1970-01-01T00:00:00.000Z"));
        object.insert(
            "creationTime".into(),
            json!(google_time(user.creation_time)),
        );
        object.insert("agreedToTerms".into(), json!(user.created_at.is_none()));
        object.insert("suspended".into(), json!(user.suspended));
        if user.suspended {
            object.insert("suspensionReason".into(), json!("ADMIN"));
        }
        object.insert("archived".into(), json!(user.archived));
        object.insert(
            "changePasswordAtNextLogin".into(),
            json!(user.change_password_at_next_login),
        );
        object.insert("ipWhitelisted".into(), json!(false));
        let mut emails = vec![json!({"address": user.primary_email, "primary": true})];
        for alias in &user.aliases {
            emails.push(json!({"address": alias}));
        }
        object.insert("emails".into(), Value::Array(emails));
        if !user.aliases.is_empty() {
            object.insert("aliases".into(), json!(user.aliases));
        }
        object.insert("customerId".into(), json!(self.id));
        object.insert("orgUnitPath".into(), json!(user.org_unit_path));
        let has_gmail = self
            .licenses
            .iter()
            .any(|l| l.user_id == user.id && l.product_id == WORKSPACE_PRODUCT_ID);
        object.insert("isMailboxSetup".into(), json!(has_gmail));
        object.insert("isEnrolledIn2Sv".into(), json!(false));
        object.insert("isEnforcedIn2Sv".into(), json!(false));
        object.insert(
            "includeInGlobalAddressList".into(),
            json!(user.include_in_global_address_list),
        );
        for (key, value) in &user.extra {
            object.insert(key.clone(), value.clone());
        }
        with_etag(Value::Object(object))
    }

    /// An org unit's JSON (`admin#directory#orgUnit`); `None` renders `/`.
    pub fn org_unit_json(&self, unit: Option<&OrgUnit>) -> Value {
        let value = match unit {
            None => json!({
                "kind": "admin#directory#orgUnit",
                "name": self.domain,
                "description": self.domain,
                "orgUnitPath": "/",
                "orgUnitId": self.root_org_unit_id,
            }),
            Some(unit) => {
                let parent = unit.parent_path();
                let mut value = json!({
                    "kind": "admin#directory#orgUnit",
                    "name": unit.name,
                    "orgUnitPath": unit.path,
                    "orgUnitId": unit.id,
                    "parentOrgUnitPath": parent,
                    "parentOrgUnitId": self.org_unit_id_of(&parent).unwrap_or_default(),
                });
                if let Some(description) = &unit.description {
                    value["description"] = json!(description);
                }
                value
            }
        };
        with_etag(value)
    }

    /// A role's JSON (`admin#directory#role`); false booleans omitted as Google does.
    pub fn role_json(role: &Role) -> Value {
        let mut value = json!({
            "kind": "admin#directory#role",
            "roleId": role.id,
            "roleName": role.name,
            "rolePrivileges": role.privileges.iter().map(|(name, service)| json!({
                "privilegeName": name,
                "serviceId": service,
            })).collect::<Vec<_>>(),
        });
        if let Some(description) = &role.description {
            value["roleDescription"] = json!(description);
        }
        if role.is_system {
            value["isSystemRole"] = json!(true);
        }
        if role.is_super_admin {
            value["isSuperAdminRole"] = json!(true);
        }
        with_etag(value)
    }

    /// A role assignment's JSON (`admin#directory#roleAssignment`).
    pub fn role_assignment_json(assignment: &RoleAssignment) -> Value {
        let mut value = json!({
            "kind": "admin#directory#roleAssignment",
            "roleAssignmentId": assignment.id,
            "roleId": assignment.role_id,
            "assignedTo": assignment.assigned_to,
            "assigneeType": "user",
            "scopeType": assignment.scope_type,
        });
        if let Some(org_unit_id) = &assignment.org_unit_id {
            value["orgUnitId"] = json!(org_unit_id);
        }
        if let Some(condition) = &assignment.condition {
            value["condition"] = json!(condition);
        }
        with_etag(value)
    }

    /// A privilege node's JSON (`admin#directory#privilege`), recursively.
    pub fn privilege_json(node: &SeedPrivilege) -> Value {
        let mut value = json!({
            "kind": "admin#directory#privilege",
            "serviceId": node.service_id,
            "serviceName": node.service_name,
            "privilegeName": node.name,
        });
        if node.ou_scopable {
            value["isOuScopable"] = json!(true);
        }
        if !node.children.is_empty() {
            value["childPrivileges"] =
                Value::Array(node.children.iter().map(Self::privilege_json).collect());
        }
        with_etag(value)
    }

    /// The customer's JSON (`admin#directory#customer`).
    pub fn customer_json(&self) -> Value {
        with_etag(json!({
            "kind": "admin#directory#customer",
            "id": self.id,
            "customerDomain": self.domain,
            "alternateEmail": self.alternate_email,
            "customerCreationTime": google_time(self.creation_time),
            "language": "en",
            "postalAddress": {
                "organizationName": self.domain,
                "countryCode": "US",
            },
        }))
    }

    /// The state for inspection: everything, in Google's JSON shapes plus emulator-only fields.
    pub fn state_json(&self) -> Value {
        let user_email = |id: &str| {
            self.users
                .iter()
                .find(|u| u.id == id)
                .map(|u| u.primary_email.clone())
                .unwrap_or_default()
        };
        let mut org_units = vec![self.org_unit_json(None)];
        org_units.extend(self.org_units.iter().map(|u| {
            let mut value = self.org_unit_json(Some(u));
            value["automaticLicensing"] = json!(self.automatic_licensing_of(&u.path));
            value
        }));
        org_units[0]["automaticLicensing"] = json!(self.root_automatic_licensing);
        json!({
            "customer": self.customer_json(),
            "users": self.users.iter().map(|u| self.user_json(u)).collect::<Vec<_>>(),
            "orgUnits": org_units,
            "roles": self.roles.iter().map(Self::role_json).collect::<Vec<_>>(),
            "roleAssignments": self.role_assignments.iter().map(|a| {
                let mut value = Self::role_assignment_json(a);
                value["assignedToEmail"] = json!(user_email(&a.assigned_to));
                value
            }).collect::<Vec<_>>(),
            "licenseAssignments": self.licenses.iter().map(|l| json!({
                "productId": l.product_id,
                "skuId": l.sku_id,
                "userId": user_email(&l.user_id),
            })).collect::<Vec<_>>(),
            "subscriptions": self.subscriptions.iter().map(|s| json!({
                "productId": s.product_id,
                "skuId": s.sku_id,
                "seats": s.seats,
                "used": self.licenses_used(&s.product_id, &s.sku_id),
                "siteLicense": s.is_site_license(),
            })).collect::<Vec<_>>(),
            "reseller": self.reseller.as_ref().map(|r| json!({
                "adminRoleName": r.admin_role_name,
                "customers": r.customers.iter().map(|c| json!({
                    "customerId": c.id,
                    "customerDomain": c.domain,
                    "subscriptions": c.subscriptions.iter().map(|s| json!({
                        "subscriptionId": s.id,
                        "skuId": s.sku_id,
                        "plan": s.plan,
                        "seats": s.seats,
                        "status": s.status,
                    })).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            })),
        })
    }
}

/// Reads a JSON body field as a string.
pub fn body_str<'a>(body: &'a Value, field: &str) -> Option<&'a str> {
    body.get(field).and_then(Value::as_str)
}

/// Errors when a JSON field has the wrong type.
pub fn expect_bool(body: &Value, field: &str) -> Result<Option<bool>, GoogleError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(Some(s == "true")),
        Some(_) => Err(GoogleError::invalid(format!(
            "Invalid value for: {field} is not a valid boolean"
        ))),
    }
}

/// Checks the key file path is writable before the server starts (fail early).
pub fn check_key_file_parent(path: &std::path::Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
        && !parent.exists()
    {
        return Err(anyhow!(
            "folder of key file {} does not exist",
            path.display()
        ))
        .context("service account key_file");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_holds_no_token_and_no_private_key() {
        let mut world = World::from_seed(&Seed::demo()).unwrap();
        world.tokens.insert(
            "ya29.secret-token".to_owned(),
            AccessGrant {
                client_email: "sa".to_owned(),
                subject_user_id: "1".to_owned(),
                subject_email: "a@b".to_owned(),
                customer_id: "C0".to_owned(),
                scopes: vec![],
                expires: Instant::now(),
            },
        );
        let debug = format!("{world:?}");
        assert!(!debug.contains("ya29.secret-token"));
        assert!(!debug.contains("PRIVATE KEY"));
        assert!(debug.contains("<1 issued>"));
    }
}
