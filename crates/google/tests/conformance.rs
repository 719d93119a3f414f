//! Conformance of every request the adapter can make with Google's discovery documents.
//!
//! For each [`GoogleMethod`] it builds requests through the public builders of
//! `support_access_google::request` (the only place the client gets requests from) with every
//! optional parameter and body field set, then checks against the discovery document: the method
//! id exists, verb, path template and the encoded path, query parameter names and values (type,
//! enum, range, required), the scope, the JSON field names of the body (no unknown and no
//! output-only fields, required ones present), and the field names of the typed response.
//! The documents are the repository's copy in `crates/emulator/discovery/`.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use percent_encoding::percent_decode_str;
use serde_json::{Value, json};
use support_access_google::method::{Api, GoogleMethod, Verb};
use support_access_google::model::*;
use support_access_google::request::{
    self, ApiRequest, RoleAssignmentsQuery, SubscriptionsQuery, UsersListQuery,
};
use support_access_google::{MY_CUSTOMER, SecretString};

struct Discovery {
    docs: HashMap<Api, Value>,
}

impl Discovery {
    fn load() -> Self {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../emulator/discovery");
        let read = |file: &str| -> Value {
            let path = dir.join(file);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            serde_json::from_str(&text).expect("discovery document is JSON")
        };
        let docs = HashMap::from([
            (Api::Directory, read("admin.directory_v1.json")),
            (Api::Licensing, read("licensing.v1.json")),
            (Api::Reseller, read("reseller.v1.json")),
        ]);
        Self { docs }
    }

    fn doc(&self, api: Api) -> &Value {
        &self.docs[&api]
    }

    /// The method description whose `id` is `id`, searched through nested resources.
    fn method(&self, api: Api, id: &str) -> &Value {
        fn find<'a>(resources: &'a Value, id: &str) -> Option<&'a Value> {
            for resource in resources.as_object()?.values() {
                if let Some(methods) = resource.get("methods").and_then(Value::as_object)
                    && let Some(m) = methods.values().find(|m| m["id"] == id)
                {
                    return Some(m);
                }
                if let Some(nested) = resource.get("resources")
                    && let Some(m) = find(nested, id)
                {
                    return Some(m);
                }
            }
            None
        }
        find(&self.doc(api)["resources"], id)
            .unwrap_or_else(|| panic!("{id} is not in the discovery document"))
    }

    fn schema(&self, api: Api, name: &str) -> &Value {
        self.doc(api)["schemas"]
            .get(name)
            .unwrap_or_else(|| panic!("schema {name} missing"))
    }
}

/// Resolves `$ref` to the schema it names.
fn resolve<'a>(discovery: &'a Discovery, api: Api, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(name) => discovery.schema(api, name),
        None => schema,
    }
}

/// Checks every key of `value` against `schema`, recursively. `request_of` is the method id
/// when checking a request body (then output-only fields are refused).
fn check_json(
    discovery: &Discovery,
    api: Api,
    schema: &Value,
    value: &Value,
    at: &str,
    request_of: Option<&str>,
    problems: &mut Vec<String>,
) {
    let schema = resolve(discovery, api, schema);
    match schema.get("type").and_then(Value::as_str) {
        Some("any") => {}
        Some("array") => match value {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    check_json(
                        discovery,
                        api,
                        &schema["items"],
                        item,
                        &format!("{at}[{i}]"),
                        request_of,
                        problems,
                    );
                }
            }
            other => problems.push(format!("{at}: expected an array, got {other}")),
        },
        Some("object") | None if schema.get("properties").is_some() => {
            let Value::Object(map) = value else {
                problems.push(format!("{at}: expected an object, got {value}"));
                return;
            };
            let properties = schema["properties"]
                .as_object()
                .expect("properties is an object");
            for (key, field) in map {
                let Some(property) = properties.get(key) else {
                    problems.push(format!("{at}.{key}: not a field of the schema"));
                    continue;
                };
                if request_of.is_some() && property.get("readOnly") == Some(&Value::Bool(true)) {
                    problems.push(format!("{at}.{key}: output-only field sent in a request"));
                }
                check_json(
                    discovery,
                    api,
                    property,
                    field,
                    &format!("{at}.{key}"),
                    request_of,
                    problems,
                );
            }
            if let Some(method_id) = request_of {
                for (key, property) in properties {
                    let required = property["annotations"]["required"]
                        .as_array()
                        .is_some_and(|ids| ids.iter().any(|id| id == method_id));
                    if required && !map.contains_key(key) {
                        problems.push(format!("{at}.{key}: required by {method_id} but absent"));
                    }
                }
            }
        }
        Some("object") => {
            // Free-form object (additionalProperties): keys are data.
        }
        Some("string") => {
            if !value.is_string() {
                problems.push(format!("{at}: expected a string, got {value}"));
            } else if let Some(values) = schema.get("enum").and_then(Value::as_array)
                && !values.contains(value)
            {
                problems.push(format!("{at}: {value} is not one of {values:?}"));
            }
        }
        Some("boolean") => {
            if !value.is_boolean() {
                problems.push(format!("{at}: expected a boolean, got {value}"));
            }
        }
        Some("integer") | Some("number") => {
            if !value.is_number() {
                problems.push(format!("{at}: expected a number, got {value}"));
            }
        }
        other => problems.push(format!("{at}: unhandled schema type {other:?}")),
    }
}

/// Matches an encoded path against a discovery template; returns the decoded parameters.
fn match_path(template: &str, path: &str) -> Result<HashMap<String, String>, String> {
    let mut params = HashMap::new();
    let template_segments: Vec<&str> = template.split('/').collect();
    let path_segments: Vec<&str> = path.split('/').collect();
    let mut p = 0;
    for (t_index, t) in template_segments.iter().enumerate() {
        if let Some(name) = t.strip_prefix("{+").and_then(|n| n.strip_suffix('}')) {
            // Reserved expansion: the rest of the path (it is the last template segment here).
            assert_eq!(
                t_index,
                template_segments.len() - 1,
                "{{+}} only at the end"
            );
            let rest = &path_segments[p..];
            if rest.is_empty() || rest.iter().any(|s| s.is_empty()) {
                return Err(format!("{name}: empty"));
            }
            for s in rest {
                if s.contains(|c: char| !(c.is_ascii_alphanumeric() || "-._~%".contains(c))) {
                    return Err(format!("{name}: segment {s} is not percent-encoded"));
                }
            }
            let decoded = rest
                .iter()
                .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
                .collect::<Vec<_>>();
            params.insert(name.to_owned(), decoded.join("/"));
            return Ok(params);
        }
        let Some(s) = path_segments.get(p) else {
            return Err(format!("path too short for {template}"));
        };
        if let Some(name) = t.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
            if s.is_empty()
                || s.contains(|c: char| !(c.is_ascii_alphanumeric() || "-._~%".contains(c)))
            {
                return Err(format!("{name}: segment {s} is not simple-expanded"));
            }
            params.insert(
                name.to_owned(),
                percent_decode_str(s)
                    .decode_utf8()
                    .map_err(|e| e.to_string())?
                    .into_owned(),
            );
        } else if t != s {
            return Err(format!("literal {t} != {s}"));
        }
        p += 1;
    }
    if p != path_segments.len() {
        return Err(format!("path longer than {template}"));
    }
    Ok(params)
}

/// A request plus the path parameter values it was built from.
struct Example {
    request: ApiRequest,
    path_params: Vec<(&'static str, &'static str)>,
}

fn ex(request: ApiRequest, path_params: &[(&'static str, &'static str)]) -> Example {
    Example {
        request,
        path_params: path_params.to_vec(),
    }
}

fn full_user_changes() -> UserChanges {
    UserChanges {
        primary_email: Some("new@r.example".into()),
        name: Some(NewUserName {
            given_name: "Ada".into(),
            family_name: "Lovelace".into(),
        }),
        password: Some(SecretString::new("$6$rounds=10000$salt$hash".into())),
        hash_function: Some(HashFunction::Crypt),
        change_password_at_next_login: Some(true),
        org_unit_path: Some("/Customer Care Portal".into()),
        suspended: Some(false),
        archived: Some(false),
        recovery_email: Some("ada@staff.example".into()),
        external_ids: Some(vec![ExternalId::custom(
            "support-access",
            "staffMembers/ada",
        )]),
    }
}

/// Every builder, with every optional parameter and field set.
fn examples() -> Vec<Example> {
    let user_key = "ada.lovelace+x@reseller-one.example";
    let new_user = NewUser {
        primary_email: user_key.into(),
        name: NewUserName {
            given_name: "Ada".into(),
            family_name: "Lovelace".into(),
        },
        password: SecretString::new("$6$rounds=10000$salt$hash".into()),
        hash_function: Some(HashFunction::Crypt),
        change_password_at_next_login: Some(true),
        org_unit_path: Some("/Customer Care Portal".into()),
        suspended: Some(false),
        recovery_email: Some("ada@staff.example".into()),
        include_in_global_address_list: Some(false),
        external_ids: Vec::new(),
    };
    let users_filter = UsersListQuery {
        query: UsersListQuery::in_org_unit("/Customer Care Portal").query,
        show_deleted: true,
    };
    let by_user = RoleAssignmentsQuery {
        user_key: Some(user_key.into()),
        role_id: None,
        include_indirect_role_assignments: true,
    };
    let by_role = RoleAssignmentsQuery {
        user_key: None,
        role_id: Some("9170516996784129".into()),
        include_indirect_role_assignments: false,
    };
    let subscriptions = SubscriptionsQuery {
        customer_id: Some("C01abcd".into()),
        customer_name_prefix: Some("acme".into()),
    };
    let role = NewRole {
        role_name: "Customer Care Portal Access".into(),
        role_description: Some("View customers and their support cases".into()),
        role_privileges: vec![RolePrivilege {
            privilege_name: "RESELLER_VIEW_CUSTOMERS".into(),
            service_id: "01rvwp1q4axizdr".into(),
        }],
    };
    let assignment = NewRoleAssignment {
        role_id: "9170516996784129".into(),
        assigned_to: "104857600000000000001".into(),
        scope_type: ScopeType::OrgUnit,
        org_unit_id: Some("03ph8a2z1".into()),
    };
    let org_unit = NewOrgUnit {
        name: "Customer Care Portal".into(),
        parent_org_unit_path: "/".into(),
        description: Some("support staff".into()),
    };
    let (p, s) = ("101001", "1010010001");
    vec![
        ex(request::users_insert(&new_user), &[]),
        ex(request::users_get(user_key), &[("userKey", user_key)]),
        ex(
            request::users_list(MY_CUSTOMER, &users_filter, u32::MAX, Some("page-2")),
            &[],
        ),
        ex(
            request::users_list(MY_CUSTOMER, &UsersListQuery::default(), 0, None),
            &[],
        ),
        ex(
            request::users_update(user_key, &full_user_changes()),
            &[("userKey", user_key)],
        ),
        ex(
            request::users_patch(user_key, &full_user_changes()),
            &[("userKey", user_key)],
        ),
        ex(request::users_delete(user_key), &[("userKey", user_key)]),
        ex(
            request::customers_get(MY_CUSTOMER),
            &[("customerKey", MY_CUSTOMER)],
        ),
        ex(
            request::orgunits_get(MY_CUSTOMER, "/Customer Care Portal/Tier 2"),
            &[
                ("customerId", MY_CUSTOMER),
                ("orgUnitPath", "Customer Care Portal/Tier 2"),
            ],
        ),
        ex(
            request::orgunits_insert("C01abcd", &org_unit),
            &[("customerId", "C01abcd")],
        ),
        ex(
            request::roles_list(MY_CUSTOMER, u32::MAX, Some("t")),
            &[("customer", MY_CUSTOMER)],
        ),
        ex(
            request::roles_insert(MY_CUSTOMER, &role),
            &[("customer", MY_CUSTOMER)],
        ),
        ex(
            request::privileges_list(MY_CUSTOMER),
            &[("customer", MY_CUSTOMER)],
        ),
        ex(
            request::domains_list(MY_CUSTOMER),
            &[("customer", MY_CUSTOMER)],
        ),
        ex(
            request::role_assignments_list(MY_CUSTOMER, &by_user, u32::MAX, Some("t")),
            &[("customer", MY_CUSTOMER)],
        ),
        ex(
            request::role_assignments_list(MY_CUSTOMER, &by_role, 1, None),
            &[("customer", MY_CUSTOMER)],
        ),
        ex(
            request::role_assignments_insert(MY_CUSTOMER, &assignment),
            &[("customer", MY_CUSTOMER)],
        ),
        ex(
            request::role_assignments_delete(MY_CUSTOMER, "5551212"),
            &[("customer", MY_CUSTOMER), ("roleAssignmentId", "5551212")],
        ),
        ex(
            request::license_assignments_list_for_product_and_sku(
                p,
                s,
                "C01abcd",
                u32::MAX,
                Some("t"),
            ),
            &[("productId", p), ("skuId", s)],
        ),
        ex(
            request::license_assignments_list_for_product(
                "Google-Apps",
                "C01abcd",
                u32::MAX,
                Some("t"),
            ),
            &[("productId", "Google-Apps")],
        ),
        ex(
            request::license_assignments_get(p, s, user_key),
            &[("productId", p), ("skuId", s), ("userId", user_key)],
        ),
        ex(
            request::license_assignments_insert(
                p,
                s,
                &LicenseAssignmentInsert {
                    user_id: user_key.into(),
                },
            ),
            &[("productId", p), ("skuId", s)],
        ),
        ex(
            request::license_assignments_delete(p, s, user_key),
            &[("productId", p), ("skuId", s), ("userId", user_key)],
        ),
        ex(
            request::reseller_subscriptions_list(&subscriptions, u32::MAX, Some("t")),
            &[],
        ),
        ex(
            request::reseller_customers_get("acme.example"),
            &[("customerId", "acme.example")],
        ),
    ]
}

fn check_query_value(param: &Value, value: &str) -> Result<(), String> {
    match param["type"].as_str() {
        Some("integer") => {
            let n: i64 = value
                .parse()
                .map_err(|_| format!("{value} is not an integer"))?;
            let bound = |key: &str| {
                param
                    .get(key)
                    .and_then(Value::as_str)
                    .and_then(|v| v.parse::<i64>().ok())
            };
            if bound("minimum").is_some_and(|min| n < min)
                || bound("maximum").is_some_and(|max| n > max)
            {
                return Err(format!(
                    "{n} outside {:?}..{:?}",
                    param.get("minimum"),
                    param.get("maximum")
                ));
            }
        }
        Some("boolean") if value != "true" && value != "false" => {
            return Err(format!("{value} is not a boolean"));
        }
        _ => {}
    }
    if let Some(values) = param.get("enum").and_then(Value::as_array)
        && !values.iter().any(|v| v == value)
    {
        return Err(format!("{value} is not one of {values:?}"));
    }
    Ok(())
}

#[test]
fn every_request_matches_the_discovery_documents() {
    let discovery = Discovery::load();
    let mut problems = Vec::new();
    let mut covered = BTreeSet::new();
    for Example {
        request,
        path_params,
    } in examples()
    {
        let method = request.method;
        covered.insert(method.id());
        let api = method.api();
        let doc = discovery.method(api, method.id());
        let mut problem = |text: String| problems.push(format!("{}: {text}", method.id()));

        if doc["httpMethod"] != method.verb().as_str() {
            problem(format!(
                "verb {} but discovery says {}",
                method.verb().as_str(),
                doc["httpMethod"]
            ));
        }
        if doc["path"] != method.path_template() {
            problem(format!(
                "template {} but discovery says {}",
                method.path_template(),
                doc["path"]
            ));
        }
        let scopes = doc["scopes"].as_array().expect("scopes");
        if !scopes.iter().any(|s| s == method.scope()) {
            problem(format!("scope {} not among {scopes:?}", method.scope()));
        }
        match match_path(doc["path"].as_str().unwrap(), &request.path) {
            Ok(found) => {
                for (name, expected) in &path_params {
                    if found.get(*name).map(String::as_str) != Some(*expected) {
                        problem(format!(
                            "path parameter {name} decodes to {:?}, built from {expected:?}",
                            found.get(*name)
                        ));
                    }
                }
                for name in found.keys() {
                    if doc["parameters"][name]["location"] != "path" {
                        problem(format!("{name} is not a path parameter"));
                    }
                }
            }
            Err(e) => problem(format!(
                "path {} does not match {}: {e}",
                request.path, doc["path"]
            )),
        }

        let parameters = doc["parameters"].as_object().cloned().unwrap_or_default();
        let mut seen = BTreeSet::new();
        for (name, value) in &request.query {
            if !seen.insert(*name) {
                problem(format!("query parameter {name} sent twice"));
            }
            match parameters.get(*name) {
                Some(p) if p["location"] == "query" => {
                    if let Err(e) = check_query_value(p, value) {
                        problem(format!("query {name}={value}: {e}"));
                    }
                }
                _ => problem(format!(
                    "query parameter {name} is not a query parameter of the method"
                )),
            }
        }
        for (name, p) in &parameters {
            if p["location"] == "query" && p["required"] == true && !seen.contains(name.as_str()) {
                problem(format!("required query parameter {name} missing"));
            }
        }
        if method.max_page_size().is_some() {
            let max = parameters["maxResults"]["maximum"]
                .as_str()
                .and_then(|m| m.parse::<u32>().ok());
            if max.is_none_or(|m| method.max_page_size().unwrap() > m) {
                problem(format!(
                    "page size {:?} above discovery maximum {max:?}",
                    method.max_page_size()
                ));
            }
        }

        match (&request.body, doc.get("request")) {
            (Some(body), Some(schema)) => {
                let mut body_problems = Vec::new();
                check_json(
                    &discovery,
                    api,
                    schema,
                    body.json(),
                    "body",
                    Some(method.id()),
                    &mut body_problems,
                );
                problems.extend(
                    body_problems
                        .into_iter()
                        .map(|p| format!("{}: {p}", method.id())),
                );
            }
            (None, None) => {}
            (Some(_), None) => problems.push(format!(
                "{}: sends a body the method does not take",
                method.id()
            )),
            (None, Some(_)) => {
                problems.push(format!("{}: takes a body that is not sent", method.id()))
            }
        }
    }
    let all: BTreeSet<&str> = GoogleMethod::ALL.iter().map(|m| m.id()).collect();
    let missing: Vec<_> = all.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "methods without an example request: {missing:?}"
    );
    assert!(
        problems.is_empty(),
        "requests that do not match discovery:\n{}",
        problems.join("\n")
    );
}

/// Fully populated response values, serialised with the adapter's own field names.
fn response_examples() -> Vec<(GoogleMethod, Value)> {
    let user = User {
        id: "1".into(),
        primary_email: "a@r.example".into(),
        name: Some(UserName {
            given_name: Some("A".into()),
            family_name: Some("B".into()),
            full_name: Some("A B".into()),
        }),
        org_unit_path: Some("/".into()),
        suspended: true,
        suspension_reason: Some("ADMIN".into()),
        archived: true,
        is_admin: true,
        is_delegated_admin: true,
        change_password_at_next_login: true,
        agreed_to_terms: true,
        is_mailbox_setup: true,
        customer_id: Some("C01".into()),
        creation_time: Some("2026-01-01T00:00:00.000Z".into()),
        last_login_time: Some("2026-01-01T00:00:00.000Z".into()),
        recovery_email: Some("x@y.example".into()),
        emails: vec![UserEmail {
            address: "a@r.example".into(),
            email_type: Some("work".into()),
            custom_type: Some("c".into()),
            primary: Some(true),
        }],
        external_ids: vec![ExternalId::custom("support-access", "staffMembers/a")],
        aliases: vec!["b@r.example".into()],
        kind: Some("admin#directory#user".into()),
        etag: Some("e".into()),
    };
    let role = Role {
        role_id: "1".into(),
        role_name: "n".into(),
        role_description: Some("d".into()),
        role_privileges: vec![RolePrivilege {
            privilege_name: "P".into(),
            service_id: "s".into(),
        }],
        is_system_role: true,
        is_super_admin_role: true,
        kind: Some("k".into()),
        etag: Some("e".into()),
    };
    let privilege = Privilege {
        privilege_name: "P".into(),
        service_id: "s".into(),
        service_name: Some("n".into()),
        is_ou_scopable: true,
        child_privileges: vec![Privilege {
            privilege_name: "C".into(),
            ..Privilege::default()
        }],
        kind: Some("k".into()),
        etag: Some("e".into()),
    };
    let assignment = RoleAssignment {
        role_assignment_id: "1".into(),
        role_id: "2".into(),
        assigned_to: "3".into(),
        assignee_type: Some("user".into()),
        scope_type: Some(ScopeType::Customer),
        org_unit_id: Some("o".into()),
        condition: Some("c".into()),
        kind: Some("k".into()),
        etag: Some("e".into()),
    };
    let license = LicenseAssignment {
        product_id: "101001".into(),
        sku_id: "1010010001".into(),
        user_id: "a@r.example".into(),
        product_name: Some("p".into()),
        sku_name: Some("s".into()),
        self_link: Some("l".into()),
        etags: Some("e".into()),
        kind: Some("k".into()),
    };
    let subscription = Subscription {
        customer_id: "C01".into(),
        customer_domain: "acme.example".into(),
        subscription_id: "s".into(),
        sku_id: "1010010001".into(),
        sku_name: Some("Cloud Identity Free".into()),
        plan: Some(SubscriptionPlan {
            plan_name: "FREE".into(),
            is_commitment_plan: false,
        }),
        seats: Some(Seats {
            number_of_seats: Some(1),
            maximum_number_of_seats: Some(50),
            licensed_number_of_seats: Some(3),
            kind: Some("subscriptions#seats".into()),
        }),
        status: Some("ACTIVE".into()),
        suspension_reasons: vec!["OTHER".into()],
        creation_time: Some("1700000000000".into()),
        billing_method: Some("ONLINE".into()),
        resource_ui_url: Some("u".into()),
        kind: Some("reseller#subscription".into()),
    };
    let to = |v: &dyn erased::Json| v.json();
    vec![
        (GoogleMethod::UsersGet, to(&user)),
        (
            GoogleMethod::UsersList,
            to(&Users {
                users: vec![user.clone()],
                next_page_token: Some("t".into()),
                kind: Some("k".into()),
                etag: Some("e".into()),
            }),
        ),
        (
            GoogleMethod::CustomersGet,
            to(&Customer {
                id: "C01".into(),
                customer_domain: "r.example".into(),
                alternate_email: Some("x@y.example".into()),
                customer_creation_time: Some("2026-01-01T00:00:00.000Z".into()),
                language: Some("en".into()),
                phone_number: Some("+1".into()),
                kind: Some("k".into()),
                etag: Some("e".into()),
            }),
        ),
        (
            GoogleMethod::OrgunitsGet,
            to(&OrgUnit {
                org_unit_id: "id:1".into(),
                org_unit_path: "/a".into(),
                name: "a".into(),
                description: Some("d".into()),
                parent_org_unit_id: Some("id:0".into()),
                parent_org_unit_path: Some("/".into()),
                kind: Some("k".into()),
                etag: Some("e".into()),
            }),
        ),
        (
            GoogleMethod::RolesList,
            to(&Roles {
                items: vec![role.clone()],
                next_page_token: Some("t".into()),
                kind: Some("k".into()),
                etag: Some("e".into()),
            }),
        ),
        (GoogleMethod::RolesInsert, to(&role)),
        (
            GoogleMethod::DomainsList,
            to(&Domains {
                domains: vec![Domain {
                    domain_name: "r.example".into(),
                    is_primary: true,
                    verified: true,
                    domain_aliases: vec![DomainAlias {
                        domain_alias_name: "alias.example".into(),
                        parent_domain_name: "r.example".into(),
                        verified: true,
                        creation_time: Some("1".into()),
                        kind: Some("k".into()),
                        etag: Some("e".into()),
                    }],
                    creation_time: Some("1".into()),
                    kind: Some("k".into()),
                    etag: Some("e".into()),
                }],
                kind: Some("k".into()),
                etag: Some("e".into()),
            }),
        ),
        (
            GoogleMethod::PrivilegesList,
            to(&Privileges {
                items: vec![privilege],
                kind: Some("k".into()),
                etag: Some("e".into()),
            }),
        ),
        (
            GoogleMethod::RoleAssignmentsList,
            to(&RoleAssignments {
                items: vec![assignment.clone()],
                next_page_token: Some("t".into()),
                kind: Some("k".into()),
                etag: Some("e".into()),
            }),
        ),
        (GoogleMethod::RoleAssignmentsInsert, to(&assignment)),
        (GoogleMethod::LicenseAssignmentsGet, to(&license)),
        (
            GoogleMethod::LicenseAssignmentsListForProductAndSku,
            to(&LicenseAssignmentList {
                items: vec![license],
                next_page_token: Some("t".into()),
                kind: Some("k".into()),
                etag: Some("e".into()),
            }),
        ),
        (
            GoogleMethod::ResellerSubscriptionsList,
            to(&Subscriptions {
                subscriptions: vec![subscription],
                next_page_token: Some("t".into()),
                kind: Some("k".into()),
            }),
        ),
        (
            GoogleMethod::ResellerCustomersGet,
            to(&ResellerCustomer {
                customer_id: "C01".into(),
                customer_domain: "acme.example".into(),
                customer_domain_verified: true,
                customer_type: Some("domain".into()),
                alternate_email: Some("x@y.example".into()),
                phone_number: Some("+1".into()),
                resource_ui_url: Some("u".into()),
                kind: Some("reseller#customer".into()),
            }),
        ),
    ]
}

mod erased {
    /// Serialises any response type to JSON (object-safe wrapper for the table above).
    pub trait Json {
        fn json(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> serde_json::Value {
            serde_json::to_value(self).expect("serialises")
        }
    }
}

#[test]
fn every_response_field_the_adapter_reads_is_in_the_discovery_schema() {
    let discovery = Discovery::load();
    let mut problems = Vec::new();
    for (method, value) in response_examples() {
        let doc = discovery.method(method.api(), method.id());
        let schema = doc
            .get("response")
            .unwrap_or_else(|| panic!("{} has no response", method.id()));
        check_json(
            &discovery,
            method.api(),
            schema,
            &value,
            method.id(),
            None,
            &mut problems,
        );
    }
    assert!(
        problems.is_empty(),
        "response fields not in discovery:\n{}",
        problems.join("\n")
    );
}

#[test]
fn deletes_and_methods_without_response_schema_decode_from_empty_bodies() {
    let discovery = Discovery::load();
    for method in [
        GoogleMethod::UsersDelete,
        GoogleMethod::RoleAssignmentsDelete,
        GoogleMethod::LicenseAssignmentsDelete,
    ] {
        let doc = discovery.method(method.api(), method.id());
        let response = doc.get("response").and_then(|r| r["$ref"].as_str());
        assert!(
            response.is_none() || response == Some("Empty"),
            "{} returns {response:?}",
            method.id()
        );
        assert_eq!(method.verb(), Verb::Delete);
    }
    let _: Empty = serde_json::from_value(json!({})).unwrap();
}

/// The checker itself must catch what Google would refuse, or the tests above prove nothing.
#[test]
fn the_checker_rejects_what_google_would_not_accept() {
    let discovery = Discovery::load();
    let doc = discovery.method(Api::Directory, "directory.users.insert");
    let mut problems = Vec::new();
    let bad_body = json!({"primaryMail": "a@r.example", "isAdmin": true, "name": {"givenName": "A", "nickName": "x"}});
    check_json(
        &discovery,
        Api::Directory,
        &doc["request"],
        &bad_body,
        "body",
        Some("directory.users.insert"),
        &mut problems,
    );
    let joined = problems.join("\n");
    for expected in [
        "body.primaryMail: not a field",
        "body.isAdmin: output-only field",
        "body.name.nickName: not a field",
        "body.password: required by directory.users.insert",
        "body.primaryEmail: required by directory.users.insert",
        "body.name.familyName: required by directory.users.insert",
    ] {
        assert!(
            joined.contains(expected),
            "missing {expected:?} in:\n{joined}"
        );
    }

    assert!(
        match_path(
            "admin/directory/v1/users/{userKey}",
            "admin/directory/v1/users/a@r.example"
        )
        .is_err()
    );
    assert!(
        match_path(
            "admin/directory/v1/users/{userKey}",
            "admin/directory/v1/users/a/b"
        )
        .is_err()
    );
    assert!(
        match_path(
            "admin/directory/v1/customer/{customerId}/orgunits/{+orgUnitPath}",
            "admin/directory/v1/customer/c/orgunits/A B"
        )
        .is_err()
    );
    assert!(
        match_path(
            "admin/directory/v1/customer/{customer}/roleassignments",
            "admin/directory/v1/customer/c/roleAssignments"
        )
        .is_err()
    );

    let users_list = discovery.method(Api::Directory, "directory.users.list");
    assert!(check_query_value(&users_list["parameters"]["maxResults"], "501").is_err());
    assert!(check_query_value(&users_list["parameters"]["orderBy"], "lastName").is_err());
    assert!(check_query_value(&users_list["parameters"]["maxResults"], "500").is_ok());
}
