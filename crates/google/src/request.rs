//! Request builders: one function per Google method, turning typed arguments into an
//! [`ApiRequest`] (method, encoded path, query parameters, JSON body).
//!
//! Every request the adapter sends is built here, and nowhere else, so the conformance test can
//! check them all against the discovery documents: path segments are percent-encoded as URI
//! template simple expansion (`{userKey}`: `@` becomes `%40`, `/` becomes `%2F`), `{+orgUnitPath}`
//! as reserved expansion (slashes stay literal, spaces become `%20`).

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;

use crate::method::GoogleMethod;
use crate::model::{
    LicenseAssignmentInsert, NewOrgUnit, NewRole, NewRoleAssignment, NewUser, UserChanges,
};

/// Characters left alone by simple expansion: RFC 3986 unreserved.
const SIMPLE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// Reserved expansion for a path: like simple, but `/` stays a separator.
const PATH: &AsciiSet = &SIMPLE.remove(b'/');

/// A JSON request body. Its `Debug` shows only the top-level field names, because bodies can
/// hold a password.
#[derive(Clone, PartialEq)]
pub struct JsonBody(serde_json::Value);

impl JsonBody {
    /// The JSON to send.
    pub fn json(&self) -> &serde_json::Value {
        &self.0
    }
}

impl fmt::Debug for JsonBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            serde_json::Value::Object(map) => f.debug_set().entries(map.keys()).finish(),
            _ => f.write_str("[body]"),
        }
    }
}

/// One HTTP request to Google, before authentication.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    /// The Google method.
    pub method: GoogleMethod,
    /// Percent-encoded path relative to the API's base URL (no leading slash).
    pub path: String,
    /// Query parameters, unencoded.
    pub query: Vec<(&'static str, String)>,
    /// JSON body, for inserts and updates.
    pub body: Option<JsonBody>,
    /// The user the call is about (e-mail or id), so that a 404 for a user this process has
    /// just created is read as "not yet consistent" rather than "not found".
    pub subject_user: Option<String>,
}

impl ApiRequest {
    fn new(method: GoogleMethod, path: String) -> Self {
        Self {
            method,
            path,
            query: Vec::new(),
            body: None,
            subject_user: None,
        }
    }

    fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    fn query_opt(self, name: &'static str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.query(name, v),
            None => self,
        }
    }

    fn body(mut self, body: &impl Serialize) -> Self {
        // Serialising our own plain structs to a Value cannot fail.
        let json = serde_json::to_value(body).expect("request bodies serialise to JSON");
        self.body = Some(JsonBody(json));
        self
    }

    fn about_user(mut self, user: &str) -> Self {
        self.subject_user = Some(user.to_owned());
        self
    }

    fn page(self, max_results: u32, page_token: Option<&str>) -> Self {
        let max = self
            .method
            .max_page_size()
            .map_or(max_results, |m| max_results.clamp(1, m));
        self.query("maxResults", max.to_string())
            .query_opt("pageToken", page_token)
    }
}

/// Simple expansion of one path parameter.
fn seg(value: &str) -> String {
    utf8_percent_encode(value, SIMPLE).to_string()
}

/// Reserved expansion of a slash-separated path parameter.
fn path_param(value: &str) -> String {
    utf8_percent_encode(value, PATH).to_string()
}

/// Filters of `users.list` besides customer and paging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsersListQuery {
    /// Google search syntax, e.g. `orgUnitPath='/Customer Care Portal'`. Search is eventually
    /// consistent (minutes to hours): never use it to decide whether a user exists.
    pub query: Option<String>,
    /// Also list deleted users (`showDeleted=true`).
    pub show_deleted: bool,
}

impl UsersListQuery {
    /// Users in `org_unit_path` (Google also matches the units below it). The value is quoted so
    /// paths with spaces work: single quotes, or double quotes when the path holds a single
    /// quote (Google documents no escape character).
    pub fn in_org_unit(org_unit_path: &str) -> Self {
        let quote = if org_unit_path.contains('\'') {
            '"'
        } else {
            '\''
        };
        Self {
            query: Some(format!("orgUnitPath={quote}{org_unit_path}{quote}")),
            show_deleted: false,
        }
    }
}

/// Filters of `roleAssignments.list`. Google does not support `user_key` and `role_id`
/// together (facts a.5): set at most one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleAssignmentsQuery {
    /// Only assignments of this user (e-mail, alias or id).
    pub user_key: Option<String>,
    /// Only assignments of this role.
    pub role_id: Option<String>,
    /// With `user_key`: also roles held through groups.
    pub include_indirect_role_assignments: bool,
}

/// Filters of `reseller.subscriptions.list`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionsQuery {
    /// Only this customer's subscriptions (id or primary domain).
    pub customer_id: Option<String>,
    /// Only customers whose domain starts with this.
    pub customer_name_prefix: Option<String>,
}

/// `users.insert`.
pub fn users_insert(user: &NewUser) -> ApiRequest {
    ApiRequest::new(GoogleMethod::UsersInsert, "admin/directory/v1/users".into())
        .body(user)
        .about_user(&user.primary_email)
}

/// `users.get` by e-mail, alias or id.
pub fn users_get(user_key: &str) -> ApiRequest {
    ApiRequest::new(
        GoogleMethod::UsersGet,
        format!("admin/directory/v1/users/{}", seg(user_key)),
    )
    .about_user(user_key)
}

/// `users.list` of a customer (`my_customer` for the delegated admin's own).
pub fn users_list(
    customer: &str,
    filter: &UsersListQuery,
    max_results: u32,
    page_token: Option<&str>,
) -> ApiRequest {
    let mut request = ApiRequest::new(GoogleMethod::UsersList, "admin/directory/v1/users".into())
        .query("customer", customer)
        .query_opt("query", filter.query.as_deref());
    if filter.show_deleted {
        request = request.query("showDeleted", "true");
    }
    request.page(max_results, page_token)
}

/// `users.update` (PUT; Google applies it with patch semantics).
pub fn users_update(user_key: &str, changes: &UserChanges) -> ApiRequest {
    ApiRequest::new(
        GoogleMethod::UsersUpdate,
        format!("admin/directory/v1/users/{}", seg(user_key)),
    )
    .body(changes)
    .about_user(user_key)
}

/// `users.patch`.
pub fn users_patch(user_key: &str, changes: &UserChanges) -> ApiRequest {
    ApiRequest::new(
        GoogleMethod::UsersPatch,
        format!("admin/directory/v1/users/{}", seg(user_key)),
    )
    .body(changes)
    .about_user(user_key)
}

/// `users.delete`.
pub fn users_delete(user_key: &str) -> ApiRequest {
    ApiRequest::new(
        GoogleMethod::UsersDelete,
        format!("admin/directory/v1/users/{}", seg(user_key)),
    )
    .about_user(user_key)
}

/// `customers.get` (`my_customer` for the delegated admin's own customer).
pub fn customers_get(customer_key: &str) -> ApiRequest {
    ApiRequest::new(
        GoogleMethod::CustomersGet,
        format!("admin/directory/v1/customers/{}", seg(customer_key)),
    )
}

/// `domains.list`: the customer's primary and secondary domains, each with its aliases.
pub fn domains_list(customer: &str) -> ApiRequest {
    ApiRequest::new(
        GoogleMethod::DomainsList,
        format!("admin/directory/v1/customer/{}/domains", seg(customer)),
    )
}

/// `orgunits.get` of a full path such as `/Customer Care Portal` (the leading `/` is dropped, as
/// Google wants).
pub fn orgunits_get(customer_id: &str, org_unit_path: &str) -> ApiRequest {
    let relative = org_unit_path.trim_start_matches('/');
    ApiRequest::new(
        GoogleMethod::OrgunitsGet,
        format!(
            "admin/directory/v1/customer/{}/orgunits/{}",
            seg(customer_id),
            path_param(relative)
        ),
    )
}

/// `orgunits.insert`.
pub fn orgunits_insert(customer_id: &str, org_unit: &NewOrgUnit) -> ApiRequest {
    ApiRequest::new(
        GoogleMethod::OrgunitsInsert,
        format!("admin/directory/v1/customer/{}/orgunits", seg(customer_id)),
    )
    .body(org_unit)
}

/// `roles.list`.
pub fn roles_list(customer: &str, max_results: u32, page_token: Option<&str>) -> ApiRequest {
    ApiRequest::new(
        GoogleMethod::RolesList,
        format!("admin/directory/v1/customer/{}/roles", seg(customer)),
    )
    .page(max_results, page_token)
}

/// `roles.insert`.
pub fn roles_insert(customer: &str, role: &NewRole) -> ApiRequest {
    ApiRequest::new(
        GoogleMethod::RolesInsert,
        format!("admin/directory/v1/customer/{}/roles", seg(customer)),
    )
    .body(role)
}

/// `privileges.list` (the whole tree, not paged).
pub fn privileges_list(customer: &str) -> ApiRequest {
    ApiRequest::new(
        GoogleMethod::PrivilegesList,
        format!(
            "admin/directory/v1/customer/{}/roles/ALL/privileges",
            seg(customer)
        ),
    )
}

/// `roleAssignments.list`.
pub fn role_assignments_list(
    customer: &str,
    filter: &RoleAssignmentsQuery,
    max_results: u32,
    page_token: Option<&str>,
) -> ApiRequest {
    let mut request = ApiRequest::new(
        GoogleMethod::RoleAssignmentsList,
        format!(
            "admin/directory/v1/customer/{}/roleassignments",
            seg(customer)
        ),
    )
    .query_opt("userKey", filter.user_key.as_deref())
    .query_opt("roleId", filter.role_id.as_deref());
    if filter.include_indirect_role_assignments {
        request = request.query("includeIndirectRoleAssignments", "true");
    }
    if let Some(user) = &filter.user_key {
        request = request.about_user(user);
    }
    request.page(max_results, page_token)
}

/// `roleAssignments.insert`.
pub fn role_assignments_insert(customer: &str, assignment: &NewRoleAssignment) -> ApiRequest {
    ApiRequest::new(
        GoogleMethod::RoleAssignmentsInsert,
        format!(
            "admin/directory/v1/customer/{}/roleassignments",
            seg(customer)
        ),
    )
    .body(assignment)
    .about_user(&assignment.assigned_to)
}

/// `roleAssignments.delete`.
pub fn role_assignments_delete(customer: &str, role_assignment_id: &str) -> ApiRequest {
    ApiRequest::new(
        GoogleMethod::RoleAssignmentsDelete,
        format!(
            "admin/directory/v1/customer/{}/roleassignments/{}",
            seg(customer),
            seg(role_assignment_id)
        ),
    )
}

/// `licenseAssignments.listForProductAndSku` (needs the real customer id, not `my_customer`).
pub fn license_assignments_list_for_product_and_sku(
    product_id: &str,
    sku_id: &str,
    customer_id: &str,
    max_results: u32,
    page_token: Option<&str>,
) -> ApiRequest {
    ApiRequest::new(
        GoogleMethod::LicenseAssignmentsListForProductAndSku,
        format!(
            "apps/licensing/v1/product/{}/sku/{}/users",
            seg(product_id),
            seg(sku_id)
        ),
    )
    .query("customerId", customer_id)
    .page(max_results, page_token)
}

/// `licenseAssignments.listForProduct` (needs the real customer id).
pub fn license_assignments_list_for_product(
    product_id: &str,
    customer_id: &str,
    max_results: u32,
    page_token: Option<&str>,
) -> ApiRequest {
    ApiRequest::new(
        GoogleMethod::LicenseAssignmentsListForProduct,
        format!("apps/licensing/v1/product/{}/users", seg(product_id)),
    )
    .query("customerId", customer_id)
    .page(max_results, page_token)
}

/// `licenseAssignments.get` (`user_id` = the user's primary e-mail).
pub fn license_assignments_get(product_id: &str, sku_id: &str, user_id: &str) -> ApiRequest {
    ApiRequest::new(
        GoogleMethod::LicenseAssignmentsGet,
        format!(
            "apps/licensing/v1/product/{}/sku/{}/user/{}",
            seg(product_id),
            seg(sku_id),
            seg(user_id)
        ),
    )
    .about_user(user_id)
}

/// `licenseAssignments.insert`.
pub fn license_assignments_insert(
    product_id: &str,
    sku_id: &str,
    body: &LicenseAssignmentInsert,
) -> ApiRequest {
    ApiRequest::new(
        GoogleMethod::LicenseAssignmentsInsert,
        format!(
            "apps/licensing/v1/product/{}/sku/{}/user",
            seg(product_id),
            seg(sku_id)
        ),
    )
    .body(body)
    .about_user(&body.user_id)
}

/// `licenseAssignments.delete`.
pub fn license_assignments_delete(product_id: &str, sku_id: &str, user_id: &str) -> ApiRequest {
    ApiRequest::new(
        GoogleMethod::LicenseAssignmentsDelete,
        format!(
            "apps/licensing/v1/product/{}/sku/{}/user/{}",
            seg(product_id),
            seg(sku_id),
            seg(user_id)
        ),
    )
    .about_user(user_id)
}

/// `reseller.subscriptions.list`.
pub fn reseller_subscriptions_list(
    filter: &SubscriptionsQuery,
    max_results: u32,
    page_token: Option<&str>,
) -> ApiRequest {
    ApiRequest::new(
        GoogleMethod::ResellerSubscriptionsList,
        "apps/reseller/v1/subscriptions".into(),
    )
    .query_opt("customerId", filter.customer_id.as_deref())
    .query_opt("customerNamePrefix", filter.customer_name_prefix.as_deref())
    .page(max_results, page_token)
}

/// `reseller.customers.get` (id or primary domain).
pub fn reseller_customers_get(customer_id: &str) -> ApiRequest {
    ApiRequest::new(
        GoogleMethod::ResellerCustomersGet,
        format!("apps/reseller/v1/customers/{}", seg(customer_id)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_expansion_encodes_at_and_slash() {
        assert_eq!(
            users_get("a.b@x.example").path,
            "admin/directory/v1/users/a.b%40x.example"
        );
        assert_eq!(users_get("a/b").path, "admin/directory/v1/users/a%2Fb");
    }

    #[test]
    fn reserved_expansion_keeps_slashes_and_encodes_spaces() {
        let request = orgunits_get("my_customer", "/Customer Care Portal/Tier 2");
        assert_eq!(
            request.path,
            "admin/directory/v1/customer/my_customer/orgunits/Customer%20Care%20Portal/Tier%202"
        );
    }

    #[test]
    fn page_size_is_clamped_to_the_method_maximum() {
        let request = roles_list("my_customer", 10_000, Some("tok"));
        assert!(request.query.contains(&("maxResults", "100".to_owned())));
        assert!(request.query.contains(&("pageToken", "tok".to_owned())));
    }

    #[test]
    fn org_unit_query_is_quoted() {
        let q = UsersListQuery::in_org_unit("/Customer Care Portal");
        assert_eq!(
            q.query.as_deref(),
            Some("orgUnitPath='/Customer Care Portal'")
        );
        let q = UsersListQuery::in_org_unit("/Rock 'n' Roll");
        assert_eq!(q.query.as_deref(), Some("orgUnitPath=\"/Rock 'n' Roll\""));
    }

    #[test]
    fn body_debug_shows_field_names_only() {
        let user = NewUser {
            primary_email: "a@x.example".into(),
            name: crate::model::NewUserName {
                given_name: "A".into(),
                family_name: "B".into(),
            },
            password: crate::SecretString::new("pw-canary".into()),
            hash_function: None,
            change_password_at_next_login: Some(true),
            org_unit_path: None,
            suspended: None,
            recovery_email: None,
            include_in_global_address_list: None,
            external_ids: Vec::new(),
        };
        let printed = format!("{:?}", users_insert(&user));
        assert!(!printed.contains("pw-canary"), "{printed}");
        assert!(printed.contains("password"));
    }
}
