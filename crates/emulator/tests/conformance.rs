//! Conformance against Google's discovery documents: every method the emulator serves has the
//! discovery path, verb and path parameters; a walk through every method returns only JSON
//! fields (of the right JSON type) that the response schema declares; every field the schema
//! marks required for a request is enforced; and the served discovery documents point at the
//! emulator.

mod common;

use std::collections::BTreeSet;

use common::{ADMIN_TWO, Api};
use serde_json::{Value, json};
use support_access_emulator::discovery::{Api as GoogleApi, Specs};

fn document(api: GoogleApi) -> Value {
    serde_json::from_str(api.document()).expect("discovery JSON")
}

fn document_of(method_id: &str) -> Value {
    document(GoogleApi::of_method(method_id).expect("known API"))
}

/// Checks `value` against `schema` of `doc`; pushes one message per mismatch.
fn check_schema(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(reference) = schema["$ref"].as_str() {
        let resolved = &doc["schemas"][reference];
        assert!(resolved.is_object(), "unknown schema {reference}");
        return check_schema(doc, resolved, value, at, errors);
    }
    let kind = schema["type"].as_str().unwrap_or("any");
    match kind {
        "any" => {}
        "object" => {
            let Some(object) = value.as_object() else {
                errors.push(format!("{at}: expected object, got {value}"));
                return;
            };
            let properties = schema["properties"].as_object();
            let additional = &schema["additionalProperties"];
            for (key, item) in object {
                let path = format!("{at}.{key}");
                match properties.and_then(|p| p.get(key)) {
                    Some(property) => check_schema(doc, property, item, &path, errors),
                    None if additional.is_object() => {
                        check_schema(doc, additional, item, &path, errors)
                    }
                    None if properties.is_none() => {}
                    None => errors.push(format!("{path}: not in the schema")),
                }
            }
        }
        "array" => match value.as_array() {
            Some(items) => {
                for (index, item) in items.iter().enumerate() {
                    check_schema(
                        doc,
                        &schema["items"],
                        item,
                        &format!("{at}[{index}]"),
                        errors,
                    );
                }
            }
            None => errors.push(format!("{at}: expected array, got {value}")),
        },
        "string" => {
            if !value.is_string() {
                errors.push(format!(
                    "{at}: expected string (format {:?}), got {value}",
                    schema["format"]
                ));
            }
        }
        "boolean" => {
            if !value.is_boolean() {
                errors.push(format!("{at}: expected boolean, got {value}"));
            }
        }
        "integer" | "number" => {
            if !value.is_number() {
                errors.push(format!("{at}: expected number, got {value}"));
            }
        }
        other => errors.push(format!("{at}: unhandled schema type {other}")),
    }
}

#[test]
fn every_served_method_matches_discovery_path_verb_and_parameters() {
    let specs = Specs::load();
    let served = support_access_emulator::supported_methods();
    assert!(
        served.len() >= 30,
        "expected the full surface, got {}",
        served.len()
    );
    for (id, verb, path) in &served {
        let spec = specs
            .get(id)
            .unwrap_or_else(|| panic!("{id} is not a discovery method"));
        assert_eq!(&spec.http_method, verb, "{id}: verb");
        assert_eq!(&spec.path, path, "{id}: path");
        let doc = document_of(id);
        let flat_path = find_method(&doc["resources"], id)
            .and_then(|m| m["flatPath"].as_str().map(str::to_owned));
        assert!(flat_path.is_some(), "{id}: no flatPath");
        let in_path: BTreeSet<String> = path
            .split('{')
            .skip(1)
            .filter_map(|part| part.split('}').next())
            .map(|name| name.trim_start_matches('+').to_owned())
            .collect();
        let declared: BTreeSet<String> = spec
            .params
            .iter()
            .filter(|(_, p)| p.location == "path")
            .map(|(name, _)| name.clone())
            .collect();
        assert_eq!(in_path, declared, "{id}: path parameters");
    }
    let ids: BTreeSet<&str> = served.iter().map(|(id, _, _)| *id).collect();
    assert_eq!(ids.len(), served.len(), "a method is served twice");
}

fn find_method<'a>(resources: &'a Value, id: &str) -> Option<&'a Value> {
    for resource in resources.as_object()?.values() {
        if let Some(methods) = resource["methods"].as_object() {
            for method in methods.values() {
                if method["id"] == id {
                    return Some(method);
                }
            }
        }
        if let Some(found) = find_method(&resource["resources"], id) {
            return Some(found);
        }
    }
    None
}

/// One step of the walk: the method id it exercises, the HTTP call, the expected status.
struct Step {
    id: &'static str,
    verb: &'static str,
    path: String,
    body: Option<Value>,
    status: u16,
}

fn step(
    id: &'static str,
    verb: &'static str,
    path: impl Into<String>,
    body: Option<Value>,
    status: u16,
) -> Step {
    Step {
        id,
        verb,
        path: path.into(),
        body,
        status,
    }
}

async fn run(api: &Api, specs: &Specs, step: Step, errors: &mut Vec<String>) -> Value {
    let answer = api.send(step.verb, &step.path, step.body).await;
    assert_eq!(
        answer.status, step.status,
        "{} {} {}: {}",
        step.id, step.verb, step.path, answer.body
    );
    let spec = specs.get(step.id).unwrap();
    if answer.status == 204 {
        assert!(answer.body.is_null(), "{}: 204 with a body", step.id);
    } else if let Some(response) = &spec.response {
        let doc = document_of(step.id);
        check_schema(
            &doc,
            &json!({"$ref": response}),
            &answer.body,
            step.id,
            errors,
        );
        if let Some(kind) =
            doc["schemas"][response.as_str()]["properties"]["kind"]["default"].as_str()
        {
            assert_eq!(answer.body["kind"], kind, "{}: kind", step.id);
        }
    }
    answer.body
}

#[tokio::test]
async fn walking_every_method_returns_only_schema_fields() {
    let emulator = common::demo().await;
    let api = Api::new(&emulator, ADMIN_TWO).await;
    let specs = Specs::load();
    let mut errors = Vec::new();
    let mut exercised = BTreeSet::new();
    let customer_id = emulator.customer_id("reseller-two.example").unwrap();
    macro_rules! go {
        ($id:literal, $verb:literal, $path:expr, $body:expr, $status:expr) => {{
            exercised.insert($id);
            run(
                &api,
                &specs,
                step($id, $verb, $path, $body, $status),
                &mut errors,
            )
            .await
        }};
    }
    const D: &str = "admin/directory/v1";
    go!(
        "directory.customers.get",
        "GET",
        format!("{D}/customers/my_customer"),
        None,
        200
    );
    go!(
        "directory.orgunits.insert",
        "POST",
        format!("{D}/customer/my_customer/orgunits"),
        Some(
            json!({"name": "Customer Care Portal", "parentOrgUnitPath": "/", "description": "portal"})
        ),
        200
    );
    go!(
        "directory.orgunits.insert",
        "POST",
        format!("{D}/customer/{customer_id}/orgunits"),
        Some(json!({"name": "Tier 1", "parentOrgUnitPath": "/Customer Care Portal"})),
        200
    );
    go!(
        "directory.orgunits.get",
        "GET",
        format!("{D}/customer/my_customer/orgunits/Customer%20Care%20Portal/Tier%201"),
        None,
        200
    );
    go!(
        "directory.orgunits.list",
        "GET",
        format!("{D}/customer/my_customer/orgunits?type=all"),
        None,
        200
    );
    go!(
        "directory.orgunits.patch",
        "PATCH",
        format!("{D}/customer/my_customer/orgunits/Customer%20Care%20Portal/Tier%201"),
        Some(json!({"description": "first line"})),
        200
    );
    go!(
        "directory.orgunits.update",
        "PUT",
        format!("{D}/customer/my_customer/orgunits/Customer%20Care%20Portal/Tier%201"),
        Some(json!({"name": "Tier One"})),
        200
    );
    let user = go!(
        "directory.users.insert",
        "POST",
        format!("{D}/users"),
        Some(json!({"primaryEmail": "jane@reseller-two.example",
                    "name": {"givenName": "Jane", "familyName": "Doe"},
                    "password": "0123456789abcdef", "orgUnitPath": "/Customer Care Portal",
                    "recoveryEmail": "jane@home.example"})),
        200
    );
    let user_id = user["id"].as_str().unwrap().to_owned();
    go!(
        "directory.users.get",
        "GET",
        format!("{D}/users/jane@reseller-two.example"),
        None,
        200
    );
    go!(
        "directory.users.get",
        "GET",
        format!("{D}/users/{user_id}"),
        None,
        200
    );
    go!(
        "directory.users.list",
        "GET",
        format!("{D}/users?customer=my_customer&maxResults=1"),
        None,
        200
    );
    go!(
        "directory.users.list",
        "GET",
        format!(
            "{D}/users?domain=reseller-two.example&query=orgUnitPath%3D%27%2FCustomer%20Care%20Portal%27"
        ),
        None,
        200
    );
    go!(
        "directory.users.patch",
        "PATCH",
        format!("{D}/users/{user_id}"),
        Some(json!({"name": {"givenName": "Janet"}})),
        200
    );
    go!(
        "directory.users.update",
        "PUT",
        format!("{D}/users/{user_id}"),
        Some(json!({"suspended": false, "changePasswordAtNextLogin": true})),
        200
    );
    go!(
        "directory.users.makeAdmin",
        "POST",
        format!("{D}/users/{user_id}/makeAdmin"),
        Some(json!({"status": false})),
        204
    );
    let privileges = go!(
        "directory.privileges.list",
        "GET",
        format!("{D}/customer/my_customer/roles/ALL/privileges"),
        None,
        200
    );
    assert!(
        privileges["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["childPrivileges"].is_array())
    );
    let roles = go!(
        "directory.roles.list",
        "GET",
        format!("{D}/customer/my_customer/roles?maxResults=2"),
        None,
        200
    );
    assert!(roles["nextPageToken"].is_string());
    let role = go!(
        "directory.roles.insert",
        "POST",
        format!("{D}/customer/my_customer/roles"),
        Some(
            json!({"roleName": "Customer Care Portal Access", "roleDescription": "portal",
                    "rolePrivileges": [
                        {"privilegeName": "RESELLER_VIEW_CUSTOMERS", "serviceId": "01rvwp1q4axizdr"},
                        {"privilegeName": "RESELLER_ACCESS_CUSTOMER_SUPPORT_CASES", "serviceId": "01rvwp1q4axizdr"}]})
        ),
        200
    );
    let role_id = role["roleId"].as_str().unwrap().to_owned();
    go!(
        "directory.roles.get",
        "GET",
        format!("{D}/customer/my_customer/roles/{role_id}"),
        None,
        200
    );
    let assignment = go!(
        "directory.roleAssignments.insert",
        "POST",
        format!("{D}/customer/my_customer/roleassignments"),
        Some(json!({"roleId": role_id, "assignedTo": user_id, "scopeType": "CUSTOMER"})),
        200
    );
    let assignment_id = assignment["roleAssignmentId"].as_str().unwrap().to_owned();
    go!(
        "directory.roleAssignments.list",
        "GET",
        format!("{D}/customer/my_customer/roleassignments?userKey=jane@reseller-two.example"),
        None,
        200
    );
    go!(
        "directory.roleAssignments.list",
        "GET",
        format!("{D}/customer/my_customer/roleassignments?roleId={role_id}&maxResults=200"),
        None,
        200
    );
    go!(
        "directory.roleAssignments.get",
        "GET",
        format!("{D}/customer/my_customer/roleassignments/{assignment_id}"),
        None,
        200
    );
    const L: &str = "apps/licensing/v1/product";
    go!(
        "licensing.licenseAssignments.insert",
        "POST",
        format!("{L}/Google-Apps/sku/1010020028/user"),
        Some(json!({"userId": "jane@reseller-two.example"})),
        200
    );
    go!(
        "licensing.licenseAssignments.get",
        "GET",
        format!("{L}/Google-Apps/sku/1010020028/user/jane@reseller-two.example"),
        None,
        200
    );
    go!(
        "licensing.licenseAssignments.listForProduct",
        "GET",
        format!("{L}/Google-Apps/users?customerId={customer_id}"),
        None,
        200
    );
    go!(
        "licensing.licenseAssignments.listForProductAndSku",
        "GET",
        format!("{L}/101001/sku/1010010001/users?customerId={customer_id}&maxResults=1"),
        None,
        200
    );
    go!(
        "licensing.licenseAssignments.delete",
        "DELETE",
        format!("{L}/Google-Apps/sku/1010020028/user/jane@reseller-two.example"),
        None,
        204
    );
    go!(
        "directory.domains.insert",
        "POST",
        format!("{D}/customer/my_customer/domains"),
        Some(json!({"domainName": "reseller-two-eu.example"})),
        200
    );
    go!(
        "directory.domains.list",
        "GET",
        format!("{D}/customer/{customer_id}/domains"),
        None,
        200
    );
    go!(
        "directory.domains.get",
        "GET",
        format!("{D}/customer/my_customer/domains/reseller-two-eu.example"),
        None,
        200
    );
    go!(
        "directory.domains.delete",
        "DELETE",
        format!("{D}/customer/my_customer/domains/reseller-two-eu.example"),
        None,
        204
    );
    go!(
        "directory.domainAliases.list",
        "GET",
        format!("{D}/customer/my_customer/domainaliases"),
        None,
        200
    );
    const R: &str = "apps/reseller/v1";
    let subscriptions = go!(
        "reseller.subscriptions.list",
        "GET",
        format!("{R}/subscriptions"),
        None,
        200
    );
    let subscription_id = subscriptions["subscriptions"][0]["subscriptionId"]
        .as_str()
        .unwrap()
        .to_owned();
    go!(
        "reseller.subscriptions.get",
        "GET",
        format!("{R}/customers/initech.example/subscriptions/{subscription_id}"),
        None,
        200
    );
    go!(
        "reseller.customers.get",
        "GET",
        format!("{R}/customers/C04inits3"),
        None,
        200
    );
    go!(
        "directory.roleAssignments.delete",
        "DELETE",
        format!("{D}/customer/my_customer/roleassignments/{assignment_id}"),
        None,
        204
    );
    go!(
        "directory.roles.delete",
        "DELETE",
        format!("{D}/customer/my_customer/roles/{role_id}"),
        None,
        204
    );
    go!(
        "directory.users.delete",
        "DELETE",
        format!("{D}/users/{user_id}"),
        None,
        204
    );
    go!(
        "directory.orgunits.delete",
        "DELETE",
        format!("{D}/customer/my_customer/orgunits/Customer%20Care%20Portal/Tier%20One"),
        None,
        204
    );

    // Reseller-one has resold subscriptions of every plan shape, secondary domains and an alias.
    let one = Api::new(&emulator, common::ADMIN_ONE).await;
    for (id, path) in [
        (
            "directory.domains.list",
            format!("{D}/customer/my_customer/domains"),
        ),
        (
            "directory.domainAliases.list",
            format!("{D}/customer/my_customer/domainaliases?parentDomainName=reseller-one.example"),
        ),
    ] {
        run(&one, &specs, step(id, "GET", path, None, 200), &mut errors).await;
    }
    exercised.insert("directory.domainAliases.get");
    run(
        &one,
        &specs,
        step(
            "directory.domainAliases.get",
            "GET",
            format!("{D}/customer/my_customer/domainaliases/reseller-one-mail.example"),
            None,
            200,
        ),
        &mut errors,
    )
    .await;
    run(
        &one,
        &specs,
        step(
            "reseller.subscriptions.list",
            "GET",
            format!("{R}/subscriptions?maxResults=100"),
            None,
            200,
        ),
        &mut errors,
    )
    .await;

    assert!(
        errors.is_empty(),
        "fields outside the discovery schemas:\n{}",
        errors.join("\n")
    );
    let served: BTreeSet<&str> = support_access_emulator::supported_methods()
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    let missing: Vec<_> = served.difference(&exercised).collect();
    assert!(missing.is_empty(), "methods not exercised: {missing:?}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn required_request_fields_are_enforced() {
    let emulator = common::demo().await;
    let api = Api::new(&emulator, ADMIN_TWO).await;
    let specs = Specs::load();
    let valid: Vec<(&str, &str, String, Value)> = vec![
        (
            "directory.users.insert",
            "POST",
            "admin/directory/v1/users".to_owned(),
            json!({"primaryEmail": "req@reseller-two.example", "password": "0123456789",
                "name": {"givenName": "Re", "familyName": "Quired"}}),
        ),
        (
            "directory.orgunits.insert",
            "POST",
            "admin/directory/v1/customer/my_customer/orgunits".to_owned(),
            json!({"name": "Required", "parentOrgUnitPath": "/"}),
        ),
        (
            "directory.roles.insert",
            "POST",
            "admin/directory/v1/customer/my_customer/roles".to_owned(),
            json!({"roleName": "Required Role", "rolePrivileges": [
             {"privilegeName": "RESELLER_VIEW_CUSTOMERS", "serviceId": "01rvwp1q4axizdr"}]}),
        ),
        (
            "licensing.licenseAssignments.insert",
            "POST",
            "apps/licensing/v1/product/Google-Apps/sku/1010020028/user".to_owned(),
            json!({"userId": "sales@reseller-two.example"}),
        ),
        (
            "directory.users.makeAdmin",
            "POST",
            "admin/directory/v1/users/sales@reseller-two.example/makeAdmin".to_owned(),
            json!({"status": false}),
        ),
        (
            "directory.domains.insert",
            "POST",
            "admin/directory/v1/customer/my_customer/domains".to_owned(),
            json!({"domainName": "required.example"}),
        ),
    ];
    let mut checked = 0;
    for (id, verb, path, body) in valid {
        let spec = specs.get(id).unwrap();
        assert!(
            !spec.required_fields.is_empty(),
            "{id} has required fields in discovery"
        );
        for field in &spec.required_fields {
            let mut without = body.clone();
            remove_path(&mut without, field);
            let answer = api.send(verb, &path, Some(without)).await;
            assert_eq!(answer.status, 400, "{id} without {field}: {}", answer.body);
            checked += 1;
        }
    }
    // Every request schema field marked required for a served method was covered.
    let served: BTreeSet<&str> = support_access_emulator::supported_methods()
        .into_iter()
        .map(|(id, _, _)| id)
        .filter(|id| {
            specs
                .get(id)
                .is_some_and(|s| !s.required_fields.is_empty() && s.http_method == "POST")
        })
        .collect();
    assert_eq!(
        served,
        BTreeSet::from([
            "directory.users.insert",
            "directory.orgunits.insert",
            "directory.roles.insert",
            "licensing.licenseAssignments.insert",
            "directory.users.makeAdmin",
            "directory.domains.insert",
        ])
    );
    assert!(checked >= 8);
    emulator.shutdown().await;
}

fn remove_path(value: &mut Value, dotted: &str) {
    let mut segments: Vec<&str> = dotted.split('.').collect();
    let last = segments.pop().unwrap();
    let mut current = value;
    for segment in segments {
        current = &mut current[segment];
    }
    if let Some(object) = current.as_object_mut() {
        object.remove(last);
    }
}

#[tokio::test]
async fn max_results_outside_the_discovery_range_is_invalid() {
    let emulator = common::demo().await;
    let api = Api::new(&emulator, ADMIN_TWO).await;
    let customer_id = emulator.customer_id("reseller-two.example").unwrap();
    for (path, bad) in [
        ("admin/directory/v1/users?customer=my_customer", "501"),
        ("admin/directory/v1/users?customer=my_customer", "0"),
        ("admin/directory/v1/customer/my_customer/roles", "101"),
        (
            "admin/directory/v1/customer/my_customer/roleassignments",
            "201",
        ),
        ("apps/reseller/v1/subscriptions", "101"),
    ] {
        let answer = api
            .get(&format!(
                "{path}{}maxResults={bad}",
                if path.contains('?') { "&" } else { "?" }
            ))
            .await;
        assert_eq!(
            (answer.status, answer.reason()),
            (400, "invalid"),
            "{path} maxResults={bad}"
        );
    }
    let answer = api
        .get(&format!(
            "apps/licensing/v1/product/101001/users?customerId={customer_id}&maxResults=1001"
        ))
        .await;
    assert_eq!(answer.status, 400);
    let answer = api
        .get("admin/directory/v1/users?customer=my_customer&orderBy=nonsense")
        .await;
    assert_eq!(answer.status, 400);
    emulator.shutdown().await;
}

#[tokio::test]
async fn discovery_documents_are_served_with_the_emulator_root() {
    let emulator = common::demo().await;
    let http = reqwest::Client::new();
    for (api, version) in [
        ("admin", "directory_v1"),
        ("licensing", "v1"),
        ("reseller", "v1"),
    ] {
        let doc: Value = http
            .get(format!(
                "{}discovery/v1/apis/{api}/{version}/rest",
                emulator.base_url()
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(doc["rootUrl"], emulator.base_url());
        assert_eq!(doc["baseUrl"], emulator.base_url());
        assert!(doc["resources"].is_object());
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn each_api_can_live_at_its_own_root() {
    let mut seed = support_access_emulator::Seed::demo();
    seed.roots.directory = "/admin-api/".to_owned();
    seed.roots.licensing = "/licensing-api/".to_owned();
    let emulator = common::start(seed).await;
    assert_eq!(
        emulator.directory_root(),
        format!("{}admin-api/", emulator.base_url())
    );
    let api = Api::new(&emulator, ADMIN_TWO).await;
    assert_eq!(
        api.get("admin-api/admin/directory/v1/customers/my_customer")
            .await
            .status,
        200
    );
    assert_eq!(
        api.get("admin/directory/v1/customers/my_customer")
            .await
            .status,
        404
    );
    let customer_id = emulator.customer_id("reseller-two.example").unwrap();
    let list = api
        .get(&format!(
            "licensing-api/apps/licensing/v1/product/101001/users?customerId={customer_id}"
        ))
        .await;
    assert_eq!(list.status, 200);
    assert!(
        list.body["items"][0]["selfLink"]
            .as_str()
            .unwrap()
            .starts_with(&format!(
                "{}licensing-api/apps/licensing/v1/",
                emulator.base_url()
            ))
    );
    let doc: Value = reqwest::get(format!(
        "{}discovery/v1/apis/admin/directory_v1/rest",
        emulator.base_url()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(doc["rootUrl"], emulator.directory_root());
    emulator.shutdown().await;
}
