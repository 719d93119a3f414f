//! The seed: what the emulated Google world holds when it starts.
//!
//! A seed is plain data (serde), read from JSON or YAML ([`Seed::from_file`]). It describes the
//! service accounts that may ask for tokens, and the customers (Google Workspace / Cloud Identity
//! tenants): their domain, admins and other users, org units, own subscriptions (the seat cap of
//! Cloud Identity Free, Workspace SKUs), automatic licensing per org unit, which service accounts
//! hold domain-wide delegation for which scopes, and — for reseller domains — the Reseller Admin
//! role name, the reseller privilege subtree and the customers they resell to. [`Seed::demo`] is
//! the example shipped as `seeds/demo.yaml`. Every field but a customer's `domain` has a default,
//! so a minimal seed is short:
//!
//! ```yaml
//! service_accounts:
//!   - client_email: sa@proj.iam.gserviceaccount.com
//! customers:
//!   - domain: example.com
//!     users: [{primary_email: admin@example.com, given_name: Ada, family_name: Admin, super_admin: true}]
//!     delegations: [{client: sa@proj.iam.gserviceaccount.com, scopes: [https://www.googleapis.com/auth/admin.directory.user]}]
//! ```

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::knobs::{Knobs, Profile};

/// Google's product id of Cloud Identity (Free and Premium).
pub const CLOUD_IDENTITY_PRODUCT_ID: &str = "101001";
/// Google's SKU id of Cloud Identity Free.
pub const CLOUD_IDENTITY_FREE_SKU_ID: &str = "1010010001";
/// Google's product id of Google Workspace.
pub const WORKSPACE_PRODUCT_ID: &str = "Google-Apps";
/// SKU id of Google Workspace Business Standard.
pub const BUSINESS_STANDARD_SKU_ID: &str = "1010020028";

/// Every scope this emulator knows, as a service needs them for the three APIs.
pub const ALL_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/admin.directory.user",
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
    "https://www.googleapis.com/auth/admin.directory.orgunit",
    "https://www.googleapis.com/auth/admin.directory.orgunit.readonly",
    "https://www.googleapis.com/auth/admin.directory.rolemanagement",
    "https://www.googleapis.com/auth/admin.directory.rolemanagement.readonly",
    "https://www.googleapis.com/auth/admin.directory.customer",
    "https://www.googleapis.com/auth/admin.directory.customer.readonly",
    "https://www.googleapis.com/auth/admin.directory.domain",
    "https://www.googleapis.com/auth/admin.directory.domain.readonly",
    "https://www.googleapis.com/auth/apps.licensing",
    "https://www.googleapis.com/auth/apps.order",
    "https://www.googleapis.com/auth/apps.order.readonly",
];

/// The whole seed file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Google Cloud project that owns the service accounts (`project_id` in key files, and the
    /// "project" of the per-user-per-project Directory quota). Default `emulator-project`.
    #[serde(default = "default_project_id")]
    pub project_id: String,
    /// Service accounts that may sign JWTs for the token endpoint.
    #[serde(default)]
    pub service_accounts: Vec<SeedServiceAccount>,
    /// Customers (tenants). Reseller domains have a `reseller` section.
    #[serde(default)]
    pub customers: Vec<SeedCustomer>,
    /// Realism knobs at start (latency, quotas, eventual consistency, faults). Default: all off.
    #[serde(default)]
    pub knobs: Knobs,
    /// Named realism profile (`idle` or `realistic`); when given, it replaces `knobs.profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// Path prefix under the base URL at which each API is served (its `rootUrl`).
    #[serde(default)]
    pub roots: ApiRoots,
    /// OAuth clients (installed-app "Desktop" clients) that may use the refresh-token grant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub oauth_clients: Vec<SeedOAuthClient>,
    /// Users who consented to an OAuth client: each holds a refresh token for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorized_users: Vec<SeedAuthorizedUser>,
}

fn default_project_id() -> String {
    "emulator-project".to_owned()
}

/// Where each API lives under the emulator's base URL. Each value is a path prefix that starts
/// and ends with `/`; `/` (the default) serves e.g. Directory at `{base}admin/directory/v1/…`,
/// and `/directory/` would serve it at `{base}directory/admin/directory/v1/…` with that root in
/// its discovery document's `rootUrl`. The token endpoint is always `{base}token`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiRoots {
    /// Root of `admin/directory/v1`.
    #[serde(default = "root_slash")]
    pub directory: String,
    /// Root of `apps/licensing/v1`.
    #[serde(default = "root_slash")]
    pub licensing: String,
    /// Root of `apps/reseller/v1`.
    #[serde(default = "root_slash")]
    pub reseller: String,
}

fn root_slash() -> String {
    "/".to_owned()
}

impl Default for ApiRoots {
    fn default() -> Self {
        Self {
            directory: root_slash(),
            licensing: root_slash(),
            reseller: root_slash(),
        }
    }
}

/// A service account allowed to use the JWT-bearer grant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedServiceAccount {
    /// `client_email`, e.g. `support-access@demo-project.iam.gserviceaccount.com` (the JWT `iss`).
    pub client_email: String,
    /// Numeric OAuth client id (what an admin enters for domain-wide delegation). Generated
    /// (21 digits) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// A service-account key file (as `workspace-emulator keygen` writes). When the file exists
    /// its key is used; when it does not, `serve` generates a key and writes the file there, with
    /// `token_uri` pointing at the running emulator. Absent: a fresh key is generated at start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Alternatively only the public key (`-----BEGIN PUBLIC KEY-----` PEM); then the emulator
    /// can verify JWTs but cannot hand out a key file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_pem: Option<String>,
}

/// One customer (a Google Workspace / Cloud Identity tenant).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedCustomer {
    /// Customer id (`C0…`); generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Primary domain, e.g. `reseller-one.example`.
    pub domain: String,
    /// `alternateEmail` of the customer; default `postmaster@{domain}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternate_email: Option<String>,
    /// Automatic licensing of the root org unit (`/`); other org units inherit it unless they
    /// set their own. Google has no API for it; the control API changes it at run time.
    #[serde(default)]
    pub automatic_licensing: bool,
    /// Org units below `/` (parents are created as needed).
    #[serde(default)]
    pub org_units: Vec<SeedOrgUnit>,
    /// Users. Super admins also get a `_SEED_ADMIN_ROLE` role assignment.
    #[serde(default)]
    pub users: Vec<SeedUser>,
    /// The customer's own subscriptions, as the Licensing API sees them.
    #[serde(default)]
    pub subscriptions: Vec<SeedSubscription>,
    /// Domain-wide delegation: which service account may impersonate this customer's users, and
    /// for which scopes (Admin console > Security > API controls > Domain-wide delegation).
    #[serde(default)]
    pub delegations: Vec<SeedDelegation>,
    /// Custom (non-system) roles present at start.
    #[serde(default)]
    pub custom_roles: Vec<SeedRole>,
    /// Role assignments at start (customer-wide), besides super admins' `_SEED_ADMIN_ROLE`.
    /// Holding any role makes a user a delegated admin.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub role_assignments: Vec<SeedRoleAssignment>,
    /// Roles held by service accounts (delegated admin service accounts): the assignment's
    /// `assignedTo` is the account's unique id (`client_id`), as Google shows it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_account_roles: Vec<SeedServiceAccountRole>,
    /// Whether the legacy support roles exist (`Legacy Enterprise Support`,
    /// `Legacy Resold Enterprise Support`), as system roles.
    #[serde(default)]
    pub legacy_support_roles: bool,
    /// Present for a reseller domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reseller: Option<SeedReseller>,
    /// Secondary domains (Directory `domains`, `isPrimary: false`). Users may live in the
    /// verified ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secondary_domains: Vec<SeedSecondaryDomain>,
    /// Domain aliases (Directory `domainAliases`): addresses in them reach users of their parent
    /// domain, but no user lives in them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domain_aliases: Vec<SeedDomainAlias>,
}

/// A secondary domain of a customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedSecondaryDomain {
    /// `domainName`.
    pub name: String,
    /// `verified`; default `true`. An unverified domain holds no users.
    #[serde(default = "default_true")]
    pub verified: bool,
}

/// A domain alias of a customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedDomainAlias {
    /// `domainAliasName`.
    pub name: String,
    /// `parentDomainName`: the primary or a secondary domain; default the primary domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// `verified`; default `true`.
    #[serde(default = "default_true")]
    pub verified: bool,
}

fn default_true() -> bool {
    true
}

/// An org unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedOrgUnit {
    /// Full path, e.g. `/Support/Tier 1`.
    pub path: String,
    /// `description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Automatic licensing for this org unit; absent = inherit from the parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic_licensing: Option<bool>,
}

/// A user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    /// `primaryEmail`.
    pub primary_email: String,
    /// `name.givenName`.
    pub given_name: String,
    /// `name.familyName`.
    pub family_name: String,
    /// `orgUnitPath`; default `/`.
    #[serde(default = "root_slash")]
    pub org_unit_path: String,
    /// Super admin (`isAdmin`, holds `_SEED_ADMIN_ROLE`).
    #[serde(default)]
    pub super_admin: bool,
    /// `suspended`.
    #[serde(default)]
    pub suspended: bool,
    /// License assignments at start, as `productId/skuId` (the Cloud Identity Free site license
    /// is added by itself where the customer subscribes to it).
    #[serde(default)]
    pub licenses: Vec<String>,
}

/// One of the customer's own subscriptions (seen through the Licensing API).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedSubscription {
    /// e.g. `101001` (Cloud Identity) or `Google-Apps` (Workspace).
    pub product_id: String,
    /// e.g. `1010010001` (Cloud Identity Free) or `1010020028` (Business Standard).
    pub sku_id: String,
    /// Seat cap. For a site license (Cloud Identity Free) this caps the number of users:
    /// `users.insert` beyond it fails. For other SKUs it caps license assignments.
    pub seats: u32,
}

impl SeedSubscription {
    /// Cloud Identity Free is licensed per site: every user holds it, and its cap is a user cap.
    pub fn is_site_license(&self) -> bool {
        self.product_id == CLOUD_IDENTITY_PRODUCT_ID && self.sku_id == CLOUD_IDENTITY_FREE_SKU_ID
    }
}

/// Domain-wide delegation granted to one service account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedDelegation {
    /// The service account's `client_email` or numeric `client_id`.
    pub client: String,
    /// Scope URIs granted (`https://www.googleapis.com/auth/…`).
    pub scopes: Vec<String>,
}

/// A role held by a user at start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRoleAssignment {
    /// The user's primary email.
    pub user: String,
    /// `roleName`: a system role (`_RESELLER_ADMIN_ROLE`, `_HELP_DESK_ADMIN_ROLE`, …) or a custom
    /// role of the seed.
    pub role: String,
}

/// A role held by a service account at start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedServiceAccountRole {
    /// The service account's `client_email` (one of the seed's `service_accounts`).
    pub service_account: String,
    /// `roleName`: a system role or a custom role of the customer.
    pub role: String,
}

/// An installed-app OAuth client ("Desktop app" in the Cloud console).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedOAuthClient {
    /// `client_id`, e.g. `…apps.googleusercontent.com`.
    pub client_id: String,
    /// `client_secret` (Google's start with `GOCSPX-`).
    pub client_secret: String,
    /// Display name (what the consent screen shows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl std::fmt::Debug for SeedOAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeedOAuthClient")
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A user who authorized an OAuth client (as after an installed-app consent flow).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedAuthorizedUser {
    /// The user's primary email, in any customer of the seed.
    pub user: String,
    /// The OAuth client's `client_id`.
    pub client_id: String,
    /// Scopes the user granted; default every scope the emulator knows.
    #[serde(default = "all_scopes")]
    pub scopes: Vec<String>,
    /// The refresh token; generated at start when absent (read it from the control API or the
    /// files `serve --write-keys` writes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

fn all_scopes() -> Vec<String> {
    ALL_SCOPES.iter().map(|s| (*s).to_owned()).collect()
}

impl std::fmt::Debug for SeedAuthorizedUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeedAuthorizedUser")
            .field("user", &self.user)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// A custom role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRole {
    /// `roleName`.
    pub name: String,
    /// `roleDescription`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Privilege names; each must exist in the customer's privilege tree.
    pub privileges: Vec<String>,
}

/// What makes a customer a reseller domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedReseller {
    /// `roleName` of the prebuilt Reseller Admin system role (UNVERIFIED at Google, so
    /// configurable). Default `_RESELLER_ADMIN_ROLE`.
    #[serde(default = "default_reseller_admin_role_name")]
    pub admin_role_name: String,
    /// The reseller privilege subtree added to `roles/ALL/privileges` (UNVERIFIED names, so
    /// configurable). Default: [`default_reseller_privileges`].
    #[serde(default = "default_reseller_privileges")]
    pub privileges: Vec<SeedPrivilege>,
    /// Customers this reseller resells to (what the Reseller API shows).
    #[serde(default)]
    pub customers: Vec<SeedResoldCustomer>,
}

fn default_reseller_admin_role_name() -> String {
    "_RESELLER_ADMIN_ROLE".to_owned()
}

/// A node of the privilege tree (`roles/ALL/privileges`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPrivilege {
    /// `privilegeName`.
    pub name: String,
    /// `serviceId`.
    pub service_id: String,
    /// `serviceName`.
    pub service_name: String,
    /// `isOuScopable`.
    #[serde(default)]
    pub ou_scopable: bool,
    /// `childPrivileges`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<SeedPrivilege>,
}

/// Service id used for the default reseller privileges (invented; Google's is UNVERIFIED).
pub const RESELLER_SERVICE_ID: &str = "01rvwp1q4axizdr";
/// Privilege name of *Reseller tools > Customers > View Customers* in the default tree.
pub const VIEW_CUSTOMERS_PRIVILEGE: &str = "RESELLER_VIEW_CUSTOMERS";
/// Privilege name of *Access Customer Support Cases* in the default tree.
pub const SUPPORT_CASES_PRIVILEGE: &str = "RESELLER_ACCESS_CUSTOMER_SUPPORT_CASES";

/// The default reseller subtree: `RESELLER_TOOLS` > `RESELLER_CUSTOMERS` > { view customers,
/// access customer support cases, add customers, edit customers }, plus subscription privileges.
pub fn default_reseller_privileges() -> Vec<SeedPrivilege> {
    let leaf = |name: &str| SeedPrivilege {
        name: name.to_owned(),
        service_id: RESELLER_SERVICE_ID.to_owned(),
        service_name: "reseller".to_owned(),
        ou_scopable: false,
        children: Vec::new(),
    };
    vec![SeedPrivilege {
        children: vec![
            SeedPrivilege {
                children: vec![
                    leaf(VIEW_CUSTOMERS_PRIVILEGE),
                    leaf(SUPPORT_CASES_PRIVILEGE),
                    leaf("RESELLER_ADD_CUSTOMERS"),
                    leaf("RESELLER_EDIT_CUSTOMERS"),
                ],
                ..leaf("RESELLER_CUSTOMERS")
            },
            SeedPrivilege {
                children: vec![
                    leaf("RESELLER_VIEW_SUBSCRIPTIONS"),
                    leaf("RESELLER_MANAGE_SUBSCRIPTIONS"),
                ],
                ..leaf("RESELLER_SUBSCRIPTIONS")
            },
        ],
        ..leaf("RESELLER_TOOLS")
    }]
}

/// A customer of a reseller, as the Reseller API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedResoldCustomer {
    /// Customer id (`C0…`); generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Primary domain.
    pub domain: String,
    /// `alternateEmail`; default `admin@{domain}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternate_email: Option<String>,
    /// Subscriptions the reseller sold to this customer.
    #[serde(default)]
    pub subscriptions: Vec<SeedResoldSubscription>,
}

/// A resold subscription.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedResoldSubscription {
    /// `skuId`, e.g. `1010020028`.
    pub sku_id: String,
    /// `plan.planName`: `ANNUAL_MONTHLY_PAY`, `ANNUAL_YEARLY_PAY`, `FLEXIBLE`, `TRIAL` or `FREE`.
    #[serde(default = "default_plan")]
    pub plan: String,
    /// `seats.numberOfSeats` (annual plans) or `seats.maximumNumberOfSeats` (others).
    #[serde(default)]
    pub seats: u32,
    /// `status`: `ACTIVE` (default) or `SUSPENDED`.
    #[serde(default = "default_status")]
    pub status: String,
}

fn default_plan() -> String {
    "FLEXIBLE".to_owned()
}

fn default_status() -> String {
    "ACTIVE".to_owned()
}

/// The demo's custom role held by its service account in `reseller-one.example`.
pub const DEMO_AUTOMATION_ROLE: &str = "Support Access Automation";
/// Its privileges: users, org units, licences and role assignments (the procedure's writes),
/// and reading the reseller's customers and subscriptions.
pub const DEMO_AUTOMATION_PRIVILEGES: &[&str] = &[
    "USERS_ALL",
    "ORGANIZATION_UNITS_ALL",
    "LICENSING",
    "ROLE_MANAGEMENT",
    VIEW_CUSTOMERS_PRIVILEGE,
    "RESELLER_VIEW_SUBSCRIPTIONS",
];
/// The demo's installed-app OAuth client.
pub const DEMO_OAUTH_CLIENT_ID: &str =
    "108886453372-emulatordemo0000000000000000000.apps.googleusercontent.com";

impl Seed {
    /// Reads a seed from a `.json`, `.yaml` or `.yml` file. Relative `key_file` paths are taken
    /// relative to the seed file's folder.
    pub fn from_file(path: impl AsRef<Path>) -> anyhow::Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading seed {}", path.display()))?;
        let is_json = path.extension().is_some_and(|ext| ext == "json");
        let mut seed: Seed = if is_json {
            serde_json::from_str(&text)
                .with_context(|| format!("parsing JSON seed {}", path.display()))?
        } else {
            serde_yaml::from_str(&text)
                .with_context(|| format!("parsing YAML seed {}", path.display()))?
        };
        if let Some(dir) = path.parent() {
            for account in &mut seed.service_accounts {
                if let Some(key_file) = &account.key_file
                    && key_file.is_relative()
                {
                    account.key_file = Some(dir.join(key_file));
                }
            }
        }
        Ok(seed)
    }

    /// Parses a YAML (or JSON, which is YAML) seed from a string.
    pub fn from_yaml_str(text: &str) -> anyhow::Result<Self> {
        serde_yaml::from_str(text).context("parsing seed")
    }

    /// The knobs the emulator starts with: `knobs`, with the seed's `profile` when given.
    pub fn knobs_in_force(&self) -> Knobs {
        let mut knobs = self.knobs.clone();
        if let Some(profile) = self.profile {
            knobs.profile = profile;
        }
        knobs
    }

    /// The demo world: two reseller domains, `reseller-one.example` (automatic licensing on at
    /// the root, as Google ships it) and `reseller-two.example` (automatic licensing off). Each
    /// has a super admin `admin@…`, Cloud Identity Free with a cap of 50, 10 Business Standard
    /// seats, the Reseller Admin role, the default reseller privilege subtree and a few resold
    /// customers; reseller-one also has the secondary domains `reseller-one-eu.example` and
    /// `reseller-one-apac.example` (verified), `reseller-one-new.example` (unverified) and the
    /// alias `reseller-one-mail.example`. One service account,
    /// `support-access@demo-project.iam.gserviceaccount.com`, holds domain-wide delegation for
    /// every scope in both, and in reseller-one also holds the custom role
    /// [`DEMO_AUTOMATION_ROLE`] itself (a delegated admin service account). One installed-app
    /// OAuth client has a refresh token for each super admin. Equal to `seeds/demo.yaml`.
    pub fn demo() -> Self {
        let service_account = "support-access@demo-project.iam.gserviceaccount.com";
        let reseller = |number: u32,
                        domain: &str,
                        id: &str,
                        automatic_licensing: bool,
                        resold: Vec<SeedResoldCustomer>| SeedCustomer {
            id: Some(id.to_owned()),
            domain: domain.to_owned(),
            alternate_email: Some(format!("billing@{domain}")),
            automatic_licensing,
            org_units: vec![SeedOrgUnit {
                path: "/Staff".to_owned(),
                description: Some("Reseller staff with Workspace accounts".to_owned()),
                automatic_licensing: None,
            }],
            users: vec![
                SeedUser {
                    primary_email: format!("admin@{domain}"),
                    given_name: "Reseller".to_owned(),
                    family_name: format!("Admin {number}"),
                    org_unit_path: "/".to_owned(),
                    super_admin: true,
                    suspended: false,
                    licenses: vec![format!("{WORKSPACE_PRODUCT_ID}/{BUSINESS_STANDARD_SKU_ID}")],
                },
                SeedUser {
                    primary_email: format!("sales@{domain}"),
                    given_name: "Sam".to_owned(),
                    family_name: "Sales".to_owned(),
                    org_unit_path: "/Staff".to_owned(),
                    super_admin: false,
                    suspended: false,
                    licenses: vec![format!("{WORKSPACE_PRODUCT_ID}/{BUSINESS_STANDARD_SKU_ID}")],
                },
            ],
            subscriptions: vec![
                SeedSubscription {
                    product_id: CLOUD_IDENTITY_PRODUCT_ID.to_owned(),
                    sku_id: CLOUD_IDENTITY_FREE_SKU_ID.to_owned(),
                    seats: 50,
                },
                SeedSubscription {
                    product_id: WORKSPACE_PRODUCT_ID.to_owned(),
                    sku_id: BUSINESS_STANDARD_SKU_ID.to_owned(),
                    seats: 10,
                },
            ],
            delegations: vec![SeedDelegation {
                client: service_account.to_owned(),
                scopes: ALL_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            }],
            // reseller-one also lets the service account work as a delegated admin itself.
            custom_roles: if number == 1 {
                vec![SeedRole {
                    name: DEMO_AUTOMATION_ROLE.to_owned(),
                    description: Some(
                        "Everything the support-access procedure does, for its service account"
                            .to_owned(),
                    ),
                    privileges: DEMO_AUTOMATION_PRIVILEGES
                        .iter()
                        .map(|p| (*p).to_owned())
                        .collect(),
                }]
            } else {
                Vec::new()
            },
            role_assignments: Vec::new(),
            service_account_roles: if number == 1 {
                vec![SeedServiceAccountRole {
                    service_account: service_account.to_owned(),
                    role: DEMO_AUTOMATION_ROLE.to_owned(),
                }]
            } else {
                Vec::new()
            },
            legacy_support_roles: number == 1,
            reseller: Some(SeedReseller {
                admin_role_name: default_reseller_admin_role_name(),
                privileges: default_reseller_privileges(),
                customers: resold,
            }),
            secondary_domains: Vec::new(),
            domain_aliases: Vec::new(),
        };
        let resold =
            |id: &str, domain: &str, subscriptions: Vec<(&str, &str, u32)>| SeedResoldCustomer {
                id: Some(id.to_owned()),
                domain: domain.to_owned(),
                alternate_email: Some(format!("it@{domain}")),
                subscriptions: subscriptions
                    .into_iter()
                    .map(|(sku_id, plan, seats)| SeedResoldSubscription {
                        sku_id: sku_id.to_owned(),
                        plan: plan.to_owned(),
                        seats,
                        status: default_status(),
                    })
                    .collect(),
            };
        // reseller-one.example is a multi-domain account: two verified secondary domains, one
        // still unverified, and one alias of the primary domain.
        let secondary = |name: &str, verified: bool| SeedSecondaryDomain {
            name: name.to_owned(),
            verified,
        };
        let mut reseller_one = reseller(
            1,
            "reseller-one.example",
            "C01r1demo",
            true,
            vec![
                resold(
                    "C03acme01",
                    "acme.example",
                    vec![("1010020028", "ANNUAL_MONTHLY_PAY", 25)],
                ),
                resold(
                    "C03globx2",
                    "globex.example",
                    vec![("1010020025", "FLEXIBLE", 40), ("1010010001", "FREE", 50)],
                ),
            ],
        );
        reseller_one.secondary_domains = vec![
            secondary("reseller-one-eu.example", true),
            secondary("reseller-one-apac.example", true),
            secondary("reseller-one-new.example", false),
        ];
        reseller_one.domain_aliases = vec![SeedDomainAlias {
            name: "reseller-one-mail.example".to_owned(),
            parent: None,
            verified: true,
        }];
        Seed {
            project_id: "demo-project".to_owned(),
            service_accounts: vec![SeedServiceAccount {
                client_email: service_account.to_owned(),
                client_id: Some("108886453372197465014".to_owned()),
                key_file: None,
                public_key_pem: None,
            }],
            customers: vec![
                reseller_one,
                reseller(
                    2,
                    "reseller-two.example",
                    "C02r2demo",
                    false,
                    vec![resold(
                        "C04inits3",
                        "initech.example",
                        vec![("1010020027", "FLEXIBLE", 12)],
                    )],
                ),
            ],
            knobs: Knobs::default(),
            profile: None,
            roots: ApiRoots::default(),
            oauth_clients: vec![SeedOAuthClient {
                client_id: DEMO_OAUTH_CLIENT_ID.to_owned(),
                client_secret: "GOCSPX-emulator-demo-secret".to_owned(),
                name: Some("support-access admin CLI".to_owned()),
            }],
            authorized_users: ["admin@reseller-one.example", "admin@reseller-two.example"]
                .into_iter()
                .map(|user| SeedAuthorizedUser {
                    user: user.to_owned(),
                    client_id: DEMO_OAUTH_CLIENT_ID.to_owned(),
                    scopes: all_scopes(),
                    refresh_token: None,
                })
                .collect(),
        }
    }
}
