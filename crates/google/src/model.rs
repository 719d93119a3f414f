//! Typed request and response bodies, with serde names exactly as Google's JSON (checked against
//! the discovery schemas by the conformance test).
//!
//! Responses keep only the fields the service reads and ignore the rest, so a field Google adds
//! later never breaks decoding. Request bodies are separate types that carry only writable fields,
//! so an output-only field (`id`, `isAdmin`, …) can never be sent by mistake. Booleans Google
//! omits when false default to `false`.

use serde::{Deserialize, Serialize};

use secrecy::{ExposeSecret, SecretString};

// ---------------------------------------------------------------- Directory: users

/// A user as returned by `users.get`, `users.list`, `users.insert`, `users.update`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct User {
    /// Immutable numeric id (what role assignments refer to).
    pub id: String,
    /// Primary e-mail address.
    pub primary_email: String,
    /// Given/family/full name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<UserName>,
    /// Full org unit path, `/` for the root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_unit_path: Option<String>,
    /// Whether the account is suspended.
    pub suspended: bool,
    /// Why it is suspended (output only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspension_reason: Option<String>,
    /// Whether the account is archived.
    pub archived: bool,
    /// Super admin (output only).
    pub is_admin: bool,
    /// Delegated admin, i.e. holds some admin role (output only).
    pub is_delegated_admin: bool,
    /// Must change its password at next sign-in.
    pub change_password_at_next_login: bool,
    /// Has signed in and accepted the terms (output only).
    pub agreed_to_terms: bool,
    /// Whether a Gmail mailbox exists (output only).
    pub is_mailbox_setup: bool,
    /// The customer the user belongs to (output only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// RFC 3339 creation time (output only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<String>,
    /// RFC 3339 last sign-in time (output only; `1970-01-01T00:00:00.000Z` when never).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_login_time: Option<String>,
    /// Recovery e-mail address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_email: Option<String>,
    /// All e-mail addresses (typed `any` in discovery; an array of objects in practice).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<UserEmail>,
    /// Alias addresses (output only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// External ids (typed `any` in discovery; an array of objects in practice). support-access
    /// marks the accounts it owns with one of type `custom`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_ids: Vec<ExternalId>,
    /// `admin#directory#user`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Entity tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// `name` of a user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserName {
    /// First name (required on insert, at most 60 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Last name (required on insert, at most 60 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// Derived full name (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
}

/// One entry of a user's `emails`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserEmail {
    /// The address.
    #[serde(default)]
    pub address: String,
    /// `home`, `work`, `other`, `custom`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub email_type: Option<String>,
    /// The label when `type` is `custom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_type: Option<String>,
    /// Whether this is the primary address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

/// One entry of a user's `externalIds`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalId {
    /// The id.
    #[serde(default)]
    pub value: String,
    /// `account`, `customer`, `network`, `organization`, `login_id` or `custom`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub id_type: Option<String>,
    /// The label when `type` is `custom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_type: Option<String>,
}

impl ExternalId {
    /// An id of type `custom` with the label `custom_type`.
    pub fn custom(custom_type: &str, value: &str) -> Self {
        ExternalId {
            value: value.to_owned(),
            id_type: Some("custom".to_owned()),
            custom_type: Some(custom_type.to_owned()),
        }
    }

    /// True for an id of type `custom` labelled `custom_type`.
    pub fn is_custom(&self, custom_type: &str) -> bool {
        self.id_type.as_deref() == Some("custom")
            && self.custom_type.as_deref() == Some(custom_type)
    }
}

/// How `password` is encoded (`hashFunction`). Omitted for a clear-text password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HashFunction {
    /// Hex MD5.
    #[serde(rename = "MD5")]
    Md5,
    /// Hex SHA-1.
    #[serde(rename = "SHA-1")]
    Sha1,
    /// C crypt (`$6$` SHA-512 is what the service sends).
    #[serde(rename = "crypt")]
    Crypt,
}

/// Body of `users.insert`: only writable fields.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewUser {
    /// The new account's address (required).
    pub primary_email: String,
    /// Given and family name (both required).
    pub name: NewUserName,
    /// The password, clear or hashed per `hash_function` (required; never logged).
    #[serde(serialize_with = "expose")]
    pub password: SecretString,
    /// Encoding of `password`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash_function: Option<HashFunction>,
    /// Force a password change at first sign-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_password_at_next_login: Option<bool>,
    /// Org unit to create it in (full path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_unit_path: Option<String>,
    /// Create it suspended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspended: Option<bool>,
    /// Recovery e-mail address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_email: Option<String>,
    /// Show in the global address list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_in_global_address_list: Option<bool>,
    /// External ids (support-access's ownership marker).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external_ids: Vec<ExternalId>,
}

/// Serialises a secret into a request body, the one place its value is written out (request
/// bodies are never logged by this crate).
fn expose<S: serde::Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

/// [`expose`] of an optional secret.
fn expose_optional<S: serde::Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => serializer.serialize_some(secret.expose_secret()),
        None => serializer.serialize_none(),
    }
}

/// `name` on insert: both parts required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewUserName {
    /// First name.
    pub given_name: String,
    /// Last name.
    pub family_name: String,
}

/// Body of `users.update` / `users.patch`: every field optional; absent fields are kept.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserChanges {
    /// New primary address (renames the account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_email: Option<String>,
    /// New names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<NewUserName>,
    /// New password (never logged).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose_optional"
    )]
    pub password: Option<SecretString>,
    /// Encoding of `password`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash_function: Option<HashFunction>,
    /// Force a password change at next sign-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_password_at_next_login: Option<bool>,
    /// Move to this org unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_unit_path: Option<String>,
    /// Suspend or reinstate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspended: Option<bool>,
    /// Archive or unarchive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
    /// Recovery e-mail address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_email: Option<String>,
    /// Replaces every external id (send the ones to keep too).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_ids: Option<Vec<ExternalId>>,
}

/// `users.list` envelope.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Users {
    /// This page of users (absent when empty).
    pub users: Vec<User>,
    /// Token of the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// `admin#directory#users`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Entity tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

// ---------------------------------------------------------------- Directory: customers

/// A Directory customer (`customers.get`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Customer {
    /// The real customer id, `C0…` (Licensing needs it).
    pub id: String,
    /// Primary domain.
    pub customer_domain: String,
    /// Secondary contact address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alternate_email: Option<String>,
    /// Creation time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_creation_time: Option<String>,
    /// Language code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Phone number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// `admin#directory#customer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Entity tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

// ---------------------------------------------------------------- Directory: domains

/// A domain of a customer (`domains` resource, schema `Domains`): its primary domain or a
/// secondary one. Users live in verified domains; aliases only add addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Domain {
    /// The domain name.
    pub domain_name: String,
    /// Whether it is the customer's primary domain.
    pub is_primary: bool,
    /// Whether Google verified it (users can be created only in verified domains).
    pub verified: bool,
    /// Its aliases.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub domain_aliases: Vec<DomainAlias>,
    /// Creation time, epoch milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<String>,
    /// `admin#directory#domain`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Entity tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// A domain alias (schema `DomainAlias`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DomainAlias {
    /// The alias.
    pub domain_alias_name: String,
    /// The primary or secondary domain it is an alias of.
    pub parent_domain_name: String,
    /// Whether Google verified it.
    pub verified: bool,
    /// Creation time, epoch milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<String>,
    /// `admin#directory#domainAlias`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Entity tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// `domains.list` envelope (schema `Domains2`, not paged).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Domains {
    /// The domains.
    pub domains: Vec<Domain>,
    /// `admin#directory#domains`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Entity tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

// ---------------------------------------------------------------- Directory: org units

/// An organisational unit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OrgUnit {
    /// `id:03ph8a2z…`.
    pub org_unit_id: String,
    /// Full path, e.g. `/Customer Care Portal`.
    pub org_unit_path: String,
    /// Last path segment.
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Parent's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_org_unit_id: Option<String>,
    /// Parent's path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_org_unit_path: Option<String>,
    /// `admin#directory#orgUnit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Entity tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// Body of `orgunits.insert`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewOrgUnit {
    /// Name (last path segment).
    pub name: String,
    /// Parent path, `/` for the root.
    pub parent_org_unit_path: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

// ---------------------------------------------------------------- Directory: roles

/// A role (system or custom).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Role {
    /// int64 id as a string.
    pub role_id: String,
    /// Name; system roles look like `_SEED_ADMIN_ROLE`.
    pub role_name: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_description: Option<String>,
    /// Privileges granted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub role_privileges: Vec<RolePrivilege>,
    /// Prebuilt by Google (omitted by Google when false).
    pub is_system_role: bool,
    /// The super admin role (omitted by Google when false).
    pub is_super_admin_role: bool,
    /// `admin#directory#role`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Entity tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// A privilege held by a role: name plus the obfuscated service id from `privileges.list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RolePrivilege {
    /// E.g. `USERS_RETRIEVE`.
    pub privilege_name: String,
    /// E.g. `00haapch16h1ysv`.
    pub service_id: String,
}

/// Body of `roles.insert`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewRole {
    /// Name (required).
    pub role_name: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_description: Option<String>,
    /// Privileges (required).
    pub role_privileges: Vec<RolePrivilege>,
}

/// `roles.list` envelope.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Roles {
    /// This page.
    pub items: Vec<Role>,
    /// Next page token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// `admin#directory#roles`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Entity tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// A node of the privilege tree returned by `privileges.list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Privilege {
    /// E.g. `USERS_ALL`.
    pub privilege_name: String,
    /// Obfuscated service id.
    pub service_id: String,
    /// Service name, e.g. `admin_apis`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// Whether it can be scoped to an org unit.
    pub is_ou_scopable: bool,
    /// Children.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub child_privileges: Vec<Privilege>,
    /// `admin#directory#privilege`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Entity tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

impl Privilege {
    /// The `{privilegeName, serviceId}` pair to put in a role.
    pub fn as_role_privilege(&self) -> RolePrivilege {
        RolePrivilege {
            privilege_name: self.privilege_name.clone(),
            service_id: self.service_id.clone(),
        }
    }
}

/// `privileges.list` envelope (not paged).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Privileges {
    /// Top-level privileges.
    pub items: Vec<Privilege>,
    /// `admin#directory#privileges`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Entity tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

// ---------------------------------------------------------------- Directory: role assignments

/// Where a role assignment applies (`scopeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScopeType {
    /// The whole customer.
    Customer,
    /// One org unit (`orgUnitId` required).
    OrgUnit,
}

/// A role assignment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RoleAssignment {
    /// int64 id as a string.
    pub role_assignment_id: String,
    /// The role.
    pub role_id: String,
    /// The user's (or group's) unique id, never an e-mail.
    pub assigned_to: String,
    /// `user` or `group` (output only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee_type: Option<String>,
    /// `CUSTOMER` or `ORG_UNIT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope_type: Option<ScopeType>,
    /// Org unit id when scoped to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_unit_id: Option<String>,
    /// Condition (only for some group roles).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// `admin#directory#roleAssignment`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Entity tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// Body of `roleAssignments.insert`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewRoleAssignment {
    /// The role.
    pub role_id: String,
    /// The user's unique id (not the e-mail).
    pub assigned_to: String,
    /// `CUSTOMER` for reseller roles.
    pub scope_type: ScopeType,
    /// Required with `ORG_UNIT`, without the `id:` prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_unit_id: Option<String>,
}

/// `roleAssignments.list` envelope.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RoleAssignments {
    /// This page.
    pub items: Vec<RoleAssignment>,
    /// Next page token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// `admin#directory#roleAssignments`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Entity tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

// ---------------------------------------------------------------- Licensing

/// A license assignment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LicenseAssignment {
    /// E.g. `101001`, `Google-Apps`.
    pub product_id: String,
    /// E.g. `1010010001`.
    pub sku_id: String,
    /// The user's primary e-mail.
    pub user_id: String,
    /// Product display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    /// SKU display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku_name: Option<String>,
    /// Link to itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub self_link: Option<String>,
    /// Entity tag (Google spells it `etags`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etags: Option<String>,
    /// `licensing#licenseAssignment`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// Body of `licenseAssignments.insert`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseAssignmentInsert {
    /// The user's primary e-mail.
    pub user_id: String,
}

/// `licenseAssignments.listFor…` envelope.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LicenseAssignmentList {
    /// This page.
    pub items: Vec<LicenseAssignment>,
    /// Next page token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// `licensing#licenseAssignmentList`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Entity tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

// ---------------------------------------------------------------- Reseller

/// A resold subscription.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Subscription {
    /// The customer's Google id.
    pub customer_id: String,
    /// The customer's primary domain.
    pub customer_domain: String,
    /// Changes when the subscription changes: never persist it.
    pub subscription_id: String,
    /// SKU id.
    pub sku_id: String,
    /// SKU name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku_name: Option<String>,
    /// Plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<SubscriptionPlan>,
    /// Seats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seats: Option<Seats>,
    /// E.g. `ACTIVE`, `SUSPENDED`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Why suspended.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suspension_reasons: Vec<String>,
    /// Milliseconds since the epoch, as a string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<String>,
    /// `ONLINE` or `OFFLINE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_method: Option<String>,
    /// Link to the customer's subscription page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_ui_url: Option<String>,
    /// `reseller#subscription`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// `plan` of a subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionPlan {
    /// `ANNUAL`, `ANNUAL_YEARLY_PAY`, `FLEXIBLE`, `TRIAL`, `FREE`.
    pub plan_name: String,
    /// Annual commitment.
    pub is_commitment_plan: bool,
}

/// `seats` of a subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Seats {
    /// Seats bought (annual plans).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_seats: Option<i32>,
    /// Seat cap (flexible, trial, free).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_number_of_seats: Option<i32>,
    /// Seats in use (read only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub licensed_number_of_seats: Option<i32>,
    /// `subscriptions#seats`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// `subscriptions.list` envelope.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Subscriptions {
    /// This page.
    pub subscriptions: Vec<Subscription>,
    /// Next page token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// `reseller#subscriptions`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// A reseller's customer (`reseller.customers.get`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResellerCustomer {
    /// Google id.
    pub customer_id: String,
    /// Primary domain.
    pub customer_domain: String,
    /// Whether the domain is verified.
    pub customer_domain_verified: bool,
    /// `domain` or `team`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_type: Option<String>,
    /// Secondary contact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alternate_email: Option<String>,
    /// Phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Admin console link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_ui_url: Option<String>,
    /// `reseller#customer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// The empty response of deletes (`{}` or no body at all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct Empty {}

/// A list response: a page of items and the token of the next page.
pub trait ListEnvelope: serde::de::DeserializeOwned + Send + 'static {
    /// The listed resource.
    type Item: Send + 'static;
    /// Splits the page.
    fn into_page(self) -> (Vec<Self::Item>, Option<String>);
}

macro_rules! list_envelope {
    ($ty:ty, $item:ty, $field:ident) => {
        impl ListEnvelope for $ty {
            type Item = $item;
            fn into_page(self) -> (Vec<$item>, Option<String>) {
                (self.$field, self.next_page_token.filter(|t| !t.is_empty()))
            }
        }
    };
}

list_envelope!(Users, User, users);
list_envelope!(Roles, Role, items);
list_envelope!(RoleAssignments, RoleAssignment, items);
list_envelope!(LicenseAssignmentList, LicenseAssignment, items);
list_envelope!(Subscriptions, Subscription, subscriptions);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_value() {
        let secret = SecretString::from("hunter2-canary".to_owned());
        let printed = format!("{secret:?} {:?}", Some(&secret));
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("[REDACTED]"));
        assert_eq!(secret.expose_secret(), "hunter2-canary");
    }
}
