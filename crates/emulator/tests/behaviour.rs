//! Google's behaviour beyond shapes: several customers with their own data, the Cloud Identity
//! Free user cap, automatic licensing, duplicates, paging, queries, org unit paths with spaces
//! and slashes, cascades, system roles and the privilege tree, the Reseller API's view, and the
//! ledger a test uses to count writes.

mod common;

use common::{ADMIN_ONE, ADMIN_TWO, Api};
use serde_json::{Value, json};
use support_access_emulator::{EntryKind, Seed};

const USERS: &str = "admin/directory/v1/users";
const OUS: &str = "admin/directory/v1/customer/my_customer/orgunits";
const ROLES: &str = "admin/directory/v1/customer/my_customer/roles";
const ASSIGNMENTS: &str = "admin/directory/v1/customer/my_customer/roleassignments";

fn licenses_of(state: &Value, email: &str) -> Vec<String> {
    state["licenseAssignments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["userId"] == email)
        .map(|l| {
            format!(
                "{}/{}",
                l["productId"].as_str().unwrap(),
                l["skuId"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn cloud_identity_free_caps_users_like_a_site_license() {
    let emulator = common::demo().await;
    emulator
        .set_seats("reseller-two.example", "101001", "1010010001", 3)
        .unwrap();
    let api = Api::new(&emulator, ADMIN_TWO).await;
    let user = api.create_user("third@reseller-two.example", "/").await;
    let state = emulator.customer_state("reseller-two.example");
    assert_eq!(
        licenses_of(&state, "third@reseller-two.example"),
        ["101001/1010010001"]
    );
    let refused = api
        .post(
            USERS,
            json!({"primaryEmail": "fourth@reseller-two.example",
                   "name": {"givenName": "F", "familyName": "Ourth"}, "password": "0123456789"}),
        )
        .await;
    assert_eq!((refused.status, refused.reason()), (403, "limitExceeded"));
    // Deleting a user frees a seat.
    let deleted = api
        .send(
            "DELETE",
            &format!("{USERS}/{}", user["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204);
    api.create_user("fourth@reseller-two.example", "/").await;
    emulator.shutdown().await;
}

#[tokio::test]
async fn automatic_licensing_gives_new_users_a_paid_license_where_on() {
    let emulator = common::demo().await;
    let one = Api::new(&emulator, ADMIN_ONE).await;
    let two = Api::new(&emulator, ADMIN_TWO).await;
    one.create_user("auto@reseller-one.example", "/").await;
    two.create_user("manual@reseller-two.example", "/").await;
    let state = emulator.customer_state("reseller-one.example");
    assert_eq!(
        licenses_of(&state, "auto@reseller-one.example"),
        ["101001/1010010001", "Google-Apps/1010020028"]
    );
    let state = emulator.customer_state("reseller-two.example");
    assert_eq!(
        licenses_of(&state, "manual@reseller-two.example"),
        ["101001/1010010001"]
    );
    let effect = emulator
        .ledger()
        .into_iter()
        .find(|e| e.cause.as_deref() == Some("automatic licensing"))
        .unwrap();
    assert_eq!(
        effect.natural_key.as_deref(),
        Some("Google-Apps/1010020028/auto@reseller-one.example")
    );
    // The paid license shows through the Licensing API, where a service would detect it.
    let answer = one
        .get("apps/licensing/v1/product/Google-Apps/sku/1010020028/user/auto@reseller-one.example")
        .await;
    assert_eq!(answer.status, 200);
    // Turned off for one org unit (Google has no API; the control API does it), new users
    // there get no paid license, while the rest of the domain still does.
    assert_eq!(
        one.post(
            OUS,
            json!({"name": "Customer Care Portal", "parentOrgUnitPath": "/"})
        )
        .await
        .status,
        200
    );
    emulator
        .set_automatic_licensing("reseller-one.example", "/Customer Care Portal", Some(false))
        .unwrap();
    one.create_user("portal@reseller-one.example", "/Customer Care Portal")
        .await;
    let state = emulator.customer_state("reseller-one.example");
    assert_eq!(
        licenses_of(&state, "portal@reseller-one.example"),
        ["101001/1010010001"]
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn duplicates_answer_as_google_does() {
    let emulator = common::demo().await;
    let api = Api::new(&emulator, ADMIN_TWO).await;
    let user = json!({"primaryEmail": "sales@reseller-two.example",
                      "name": {"givenName": "A", "familyName": "B"}, "password": "0123456789"});
    let answer = api.post(USERS, user).await;
    assert_eq!((answer.status, answer.reason()), (409, "duplicate"));
    assert_eq!(answer.body["error"]["status"], "ALREADY_EXISTS");
    assert_eq!(answer.body["error"]["errors"][0]["domain"], "global");
    let answer = api
        .post(OUS, json!({"name": "Staff", "parentOrgUnitPath": "/"}))
        .await;
    assert_eq!(
        (answer.status, answer.body["error"]["message"].as_str()),
        (400, Some("Invalid Ou Id"))
    );
    let role = json!({"roleName": "Dup", "rolePrivileges": [
        {"privilegeName": "RESELLER_VIEW_CUSTOMERS", "serviceId": "01rvwp1q4axizdr"}]});
    assert_eq!(api.post(ROLES, role.clone()).await.status, 200);
    assert_eq!(api.post(ROLES, role).await.status, 409);
    let answer = api
        .post(
            "apps/licensing/v1/product/101001/sku/1010010001/user",
            json!({"userId": "sales@reseller-two.example"}),
        )
        .await;
    assert_eq!(answer.status, 409, "the site license is already held");
    emulator.shutdown().await;
}

#[tokio::test]
async fn workspace_seats_run_out_with_conditionnotmet() {
    let emulator = common::demo().await;
    emulator
        .set_seats("reseller-two.example", "Google-Apps", "1010020028", 2)
        .unwrap();
    let api = Api::new(&emulator, ADMIN_TWO).await;
    api.create_user("noseat@reseller-two.example", "/").await;
    let answer = api
        .post(
            "apps/licensing/v1/product/Google-Apps/sku/1010020028/user",
            json!({"userId": "noseat@reseller-two.example"}),
        )
        .await;
    assert_eq!((answer.status, answer.reason()), (412, "conditionNotMet"));
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("there aren't enough available licenses")
    );
    let answer = api
        .post(
            "apps/licensing/v1/product/101005/sku/1010050001/user",
            json!({"userId": "noseat@reseller-two.example"}),
        )
        .await;
    assert_eq!(answer.status, 400, "no Cloud Identity Premium subscription");
    let answer = api
        .get(
            "apps/licensing/v1/product/Google-Apps/sku/1010020028/user/noseat@reseller-two.example",
        )
        .await;
    assert_eq!((answer.status, answer.reason()), (404, "notFound"));
    let answer = api
        .get("apps/licensing/v1/product/Google-Apps/users?customerId=my_customer")
        .await;
    assert_eq!(answer.status, 400, "Licensing wants the real customer id");
    let answer = api
        .get("apps/licensing/v1/product/Google-Apps/users?customerId=reseller-two.example")
        .await;
    assert_eq!(answer.status, 200, "or the primary domain");
    emulator.shutdown().await;
}

#[tokio::test]
async fn users_list_pages_and_queries() {
    let emulator = common::demo().await;
    let api = Api::new(&emulator, ADMIN_TWO).await;
    assert_eq!(
        api.post(
            OUS,
            json!({"name": "Customer Care Portal", "parentOrgUnitPath": "/"})
        )
        .await
        .status,
        200
    );
    assert_eq!(
        api.post(
            OUS,
            json!({"name": "Tier 1", "parentOrgUnitPath": "/Customer Care Portal"})
        )
        .await
        .status,
        200
    );
    for n in 0..5 {
        api.create_user(
            &format!("ccp{n}@reseller-two.example"),
            "/Customer Care Portal",
        )
        .await;
    }
    api.create_user("deep@reseller-two.example", "/Customer Care Portal/Tier 1")
        .await;
    let mut emails = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("{USERS}?customer=my_customer&maxResults=3");
        if let Some(token) = &token {
            path.push_str(&format!("&pageToken={token}"));
        }
        let page = api.get(&path).await;
        assert_eq!(page.status, 200);
        pages += 1;
        for user in page.body["users"].as_array().unwrap() {
            emails.push(user["primaryEmail"].as_str().unwrap().to_owned());
        }
        match page.body["nextPageToken"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!((emails.len(), pages), (8, 3));
    let mut sorted = emails.clone();
    sorted.sort();
    assert_eq!(emails, sorted, "ordered by email");

    let query = |q: &str| format!("{USERS}?customer=my_customer&query={}", percent_encode(q));
    let under = api.get(&query("orgUnitPath='/Customer Care Portal'")).await;
    assert_eq!(
        under.body["users"].as_array().unwrap().len(),
        6,
        "descendants included"
    );
    let deep = api
        .get(&query("orgUnitPath='/Customer Care Portal/Tier 1'"))
        .await;
    assert_eq!(deep.body["users"].as_array().unwrap().len(), 1);
    let one = api.get(&query("email:ccp3@reseller-two.example")).await;
    assert_eq!(
        one.body["users"][0]["primaryEmail"],
        "ccp3@reseller-two.example"
    );
    let prefix = api.get(&query("email:ccp*")).await;
    assert_eq!(prefix.body["users"].as_array().unwrap().len(), 5);
    assert_eq!(
        api.send(
            "PATCH",
            &format!("{USERS}/ccp0@reseller-two.example"),
            Some(json!({"suspended": true}))
        )
        .await
        .status,
        200
    );
    let suspended = api.get(&query("isSuspended=true")).await;
    assert_eq!(suspended.body["users"].as_array().unwrap().len(), 1);
    let none = api.get(&query("email:nobody@reseller-two.example")).await;
    assert!(none.body.get("users").is_none(), "empty lists are omitted");
    assert_eq!(
        api.get(&format!("{USERS}?customer=my_customer&pageToken=garbage"))
            .await
            .status,
        400
    );
    assert_eq!(
        api.get(USERS).await.status,
        400,
        "customer or domain is required"
    );
    emulator.shutdown().await;
}

fn percent_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn org_units_with_spaces_and_slashes_rename_and_move() {
    let emulator = common::demo().await;
    let api = Api::new(&emulator, ADMIN_TWO).await;
    let top = api
        .post(
            OUS,
            json!({"name": "Lost or Stolen", "parentOrgUnitPath": "/"}),
        )
        .await;
    assert_eq!(top.status, 200);
    assert!(top.body["orgUnitId"].as_str().unwrap().starts_with("id:"));
    let child = api
        .post(
            OUS,
            json!({"name": "Chromebooks", "parentOrgUnitId": top.body["orgUnitId"]}),
        )
        .await;
    assert_eq!(child.body["orgUnitPath"], "/Lost or Stolen/Chromebooks");
    assert_eq!(child.body["parentOrgUnitId"], top.body["orgUnitId"]);
    api.create_user("device@reseller-two.example", "/Lost or Stolen/Chromebooks")
        .await;
    let fetched = api
        .get(&format!("{OUS}/Lost%20or%20Stolen/Chromebooks"))
        .await;
    assert_eq!(fetched.status, 200);
    let by_id = api
        .get(&format!(
            "{OUS}/{}",
            child.body["orgUnitId"].as_str().unwrap()
        ))
        .await;
    assert_eq!(by_id.body["orgUnitPath"], "/Lost or Stolen/Chromebooks");
    assert_eq!(api.get(&format!("{OUS}/Nope")).await.status, 404);
    let renamed = api
        .send(
            "PATCH",
            &format!("{OUS}/Lost%20or%20Stolen"),
            Some(json!({"name": "Found"})),
        )
        .await;
    assert_eq!(renamed.body["orgUnitPath"], "/Found");
    let user = api
        .get(&format!("{USERS}/device@reseller-two.example"))
        .await;
    assert_eq!(user.body["orgUnitPath"], "/Found/Chromebooks");
    let blocked = api
        .send("DELETE", &format!("{OUS}/Found/Chromebooks"), None)
        .await;
    assert_eq!(blocked.status, 400, "not empty");
    let children = api.get(&format!("{OUS}?orgUnitPath=/Found")).await;
    assert_eq!(
        children.body["organizationUnits"].as_array().unwrap().len(),
        1
    );
    let missing_parent = api
        .post(OUS, json!({"name": "X", "parentOrgUnitPath": "/Nowhere"}))
        .await;
    assert_eq!(
        missing_parent.body["error"]["message"],
        "Invalid Parent Orgunit Id"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn system_roles_privilege_tree_and_role_assignments() {
    let emulator = common::demo().await;
    let api = Api::new(&emulator, ADMIN_ONE).await;
    let roles = api.get(&format!("{ROLES}?maxResults=100")).await;
    let items = roles.body["items"].as_array().unwrap();
    let by_name = |name: &str| items.iter().find(|r| r["roleName"] == name).cloned();
    let seed_admin = by_name("_SEED_ADMIN_ROLE").unwrap();
    assert_eq!(seed_admin["isSuperAdminRole"], true);
    assert_eq!(seed_admin["isSystemRole"], true);
    let reseller_admin = by_name("_RESELLER_ADMIN_ROLE").unwrap();
    assert!(
        reseller_admin.get("isSuperAdminRole").is_none(),
        "false booleans are omitted"
    );
    assert!(by_name("_LEGACY_ENTERPRISE_SUPPORT_ROLE").is_some());
    for role in items {
        let id = role["roleId"].as_str().unwrap();
        assert!(id.parse::<i64>().is_ok(), "roleId is an int64 string: {id}");
    }
    let tree = api.get(&format!("{ROLES}/ALL/privileges")).await;
    let reseller_tools = tree.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["privilegeName"] == "RESELLER_TOOLS")
        .unwrap();
    let customers = &reseller_tools["childPrivileges"][0];
    assert_eq!(customers["privilegeName"], "RESELLER_CUSTOMERS");
    assert_eq!(
        customers["childPrivileges"][0]["privilegeName"],
        "RESELLER_VIEW_CUSTOMERS"
    );

    let unknown = api
        .post(
            ROLES,
            json!({"roleName": "Bad", "rolePrivileges": [
            {"privilegeName": "NOT_A_PRIVILEGE", "serviceId": "01rvwp1q4axizdr"}]}),
        )
        .await;
    assert_eq!(unknown.status, 400);
    let system_delete = api
        .send(
            "DELETE",
            &format!("{ROLES}/{}", seed_admin["roleId"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(system_delete.status, 400);

    // makeAdmin shows as a _SEED_ADMIN_ROLE assignment and isAdmin.
    let user = api.create_user("boss@reseller-one.example", "/").await;
    let user_id = user["id"].as_str().unwrap();
    assert_eq!(user_id.len(), 21);
    assert!(user_id.chars().all(|c| c.is_ascii_digit()));
    let made = api
        .post(
            &format!("{USERS}/{user_id}/makeAdmin"),
            json!({"status": true}),
        )
        .await;
    assert_eq!(made.status, 204);
    let fetched = api.get(&format!("{USERS}/boss@reseller-one.example")).await;
    assert_eq!(fetched.body["isAdmin"], true);
    let held = api
        .get(&format!("{ASSIGNMENTS}?userKey=boss@reseller-one.example"))
        .await;
    assert_eq!(held.body["items"][0]["roleId"], seed_admin["roleId"]);
    assert_eq!(held.body["items"][0]["assigneeType"], "user");

    // A role with non-OU-scopable privileges cannot be scoped to an org unit.
    let scoped = api
        .post(
            ASSIGNMENTS,
            json!({"roleId": reseller_admin["roleId"], "assignedTo": user_id,
                                 "scopeType": "ORG_UNIT", "orgUnitId": "id:whatever"}),
        )
        .await;
    assert_eq!(scoped.status, 400);
    let email_instead_of_id = api
        .post(ASSIGNMENTS, json!({"roleId": reseller_admin["roleId"],
                                 "assignedTo": "boss@reseller-one.example", "scopeType": "CUSTOMER"}))
        .await;
    assert_eq!(email_instead_of_id.status, 400, "assignedTo is the user id");
    let both = api
        .get(&format!(
            "{ASSIGNMENTS}?userKey={user_id}&roleId={}",
            seed_admin["roleId"].as_str().unwrap()
        ))
        .await;
    assert_eq!(both.status, 400);

    // Deleting the user drops its assignments and licenses.
    assert_eq!(
        api.send("DELETE", &format!("{USERS}/{user_id}"), None)
            .await
            .status,
        204
    );
    let state = emulator.customer_state("reseller-one.example");
    assert!(
        !state["roleAssignments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["assignedTo"] == user_id)
    );
    assert!(licenses_of(&state, "boss@reseller-one.example").is_empty());
    let cascade: Vec<_> = emulator
        .ledger()
        .into_iter()
        .filter(|e| e.cause.as_deref() == Some("user deleted"))
        .collect();
    assert_eq!(
        cascade.len(),
        3,
        "site license, automatic license, super admin assignment"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn user_updates_keep_absent_fields_and_renames_leave_an_alias() {
    let emulator = common::demo().await;
    let api = Api::new(&emulator, ADMIN_TWO).await;
    api.create_user("old@reseller-two.example", "/").await;
    let updated = api
        .send(
            "PUT",
            &format!("{USERS}/old@reseller-two.example"),
            Some(json!({"primaryEmail": "new@reseller-two.example", "recoveryEmail": "me@home.example"})),
        )
        .await;
    assert_eq!(updated.status, 200);
    assert_eq!(
        updated.body["name"]["givenName"], "Test",
        "absent fields are kept"
    );
    assert_eq!(updated.body["recoveryEmail"], "me@home.example");
    assert_eq!(updated.body["aliases"][0], "old@reseller-two.example");
    let by_alias = api.get(&format!("{USERS}/old@reseller-two.example")).await;
    assert_eq!(by_alias.body["primaryEmail"], "new@reseller-two.example");
    let cleared = api
        .send(
            "PATCH",
            &format!("{USERS}/new@reseller-two.example"),
            Some(json!({"recoveryEmail": null})),
        )
        .await;
    assert!(cleared.body.get("recoveryEmail").is_none());
    let bad_ou = api
        .send(
            "PATCH",
            &format!("{USERS}/new@reseller-two.example"),
            Some(json!({"orgUnitPath": "/Nope"})),
        )
        .await;
    assert_eq!(bad_ou.status, 400);
    let short_password = api
        .post(
            USERS,
            json!({"primaryEmail": "pw@reseller-two.example",
                            "name": {"givenName": "P", "familyName": "W"}, "password": "short"}),
        )
        .await;
    assert_eq!(short_password.status, 400);
    let hashed = api
        .post(
            USERS,
            json!({"primaryEmail": "pw@reseller-two.example",
                            "name": {"givenName": "P", "familyName": "W"},
                            "password": "$6$rounds=5000$salt$hash", "hashFunction": "crypt"}),
        )
        .await;
    assert_eq!(hashed.status, 200);
    assert!(
        hashed.body.get("password").is_none(),
        "passwords are never returned"
    );
    let other_domain = api
        .post(USERS, json!({"primaryEmail": "x@reseller-one.example",
                            "name": {"givenName": "X", "familyName": "Y"}, "password": "0123456789"}))
        .await;
    assert_eq!(other_domain.status, 403);
    emulator.shutdown().await;
}

#[tokio::test]
async fn reseller_api_shows_only_the_callers_customers() {
    let mut seed = Seed::demo();
    seed.customers.push(support_access_emulator::SeedCustomer {
        reseller: None,
        domain: "plain.example".to_owned(),
        users: vec![support_access_emulator::SeedUser {
            primary_email: "admin@plain.example".to_owned(),
            given_name: "Plain".to_owned(),
            family_name: "Admin".to_owned(),
            org_unit_path: "/".to_owned(),
            super_admin: true,
            suspended: false,
            licenses: vec![],
        }],
        ..seed.customers[1].clone()
    });
    seed.customers[2].id = None;
    let emulator = common::start(seed).await;
    let one = Api::new(&emulator, ADMIN_ONE).await;
    let two = Api::new(&emulator, ADMIN_TWO).await;
    let list = one.get("apps/reseller/v1/subscriptions").await;
    let domains: Vec<&str> = list.body["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["customerDomain"].as_str().unwrap())
        .collect();
    assert_eq!(
        domains,
        ["acme.example", "globex.example", "globex.example"]
    );
    let annual = &list.body["subscriptions"][0];
    assert_eq!(annual["plan"]["planName"], "ANNUAL");
    assert_eq!(annual["seats"]["numberOfSeats"], 25);
    let free = &list.body["subscriptions"][2];
    assert_eq!(free["plan"]["planName"], "FREE");
    assert_eq!(free["seats"]["maximumNumberOfSeats"], 50);
    let paged = one.get("apps/reseller/v1/subscriptions?maxResults=2").await;
    assert_eq!(paged.body["subscriptions"].as_array().unwrap().len(), 2);
    assert!(paged.body["nextPageToken"].is_string());
    let filtered = one
        .get("apps/reseller/v1/subscriptions?customerId=acme.example")
        .await;
    assert_eq!(filtered.body["subscriptions"].as_array().unwrap().len(), 1);
    let prefixed = one
        .get("apps/reseller/v1/subscriptions?customerNamePrefix=glo")
        .await;
    assert_eq!(prefixed.body["subscriptions"].as_array().unwrap().len(), 2);

    let customer = one.get("apps/reseller/v1/customers/acme.example").await;
    assert_eq!(customer.body["customerId"], "C03acme01");
    assert_eq!(customer.body["postalAddress"]["kind"], "customers#address");
    let foreign = two.get("apps/reseller/v1/customers/acme.example").await;
    assert_eq!(foreign.status, 200);
    assert!(
        foreign.body.get("alternateEmail").is_none(),
        "minimal record only"
    );
    let subscription_id = annual["subscriptionId"].as_str().unwrap();
    let denied = two
        .get(&format!(
            "apps/reseller/v1/customers/acme.example/subscriptions/{subscription_id}"
        ))
        .await;
    assert_eq!(denied.status, 403);

    let plain = Api::new(&emulator, "admin@plain.example").await;
    let refused = plain.get("apps/reseller/v1/subscriptions").await;
    assert_eq!((refused.status, refused.reason()), (403, "forbidden"));
    emulator.shutdown().await;
}

#[tokio::test]
async fn ledger_counts_writes_per_provisioned_user() {
    let emulator = common::demo().await;
    let api = Api::new(&emulator, ADMIN_TWO).await;
    let roles = api.get(ROLES).await;
    let role_id = roles.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["roleName"] == "_RESELLER_ADMIN_ROLE")
        .unwrap()["roleId"]
        .clone();
    emulator.clear_ledger();
    let staff = ["ana", "bo", "cy"];
    for name in staff {
        let email = format!("{name}@reseller-two.example");
        let user = api.create_user(&email, "/").await;
        let answer = api
            .post(
                "apps/licensing/v1/product/Google-Apps/sku/1010020028/user",
                json!({"userId": email}),
            )
            .await;
        assert_eq!(answer.status, 200);
        let answer = api
            .post(
                ASSIGNMENTS,
                json!({"roleId": role_id, "assignedTo": user["id"], "scopeType": "CUSTOMER"}),
            )
            .await;
        assert_eq!(answer.status, 200);
    }
    let counters = emulator.counters();
    let writes: u64 = [
        "directory.users.insert",
        "licensing.licenseAssignments.insert",
        "directory.roleAssignments.insert",
    ]
    .iter()
    .map(|m| counters.calls_by_method.get(*m).copied().unwrap_or(0))
    .sum();
    assert_eq!(
        writes,
        3 * staff.len() as u64,
        "3 writes per provisioned user"
    );
    for name in staff {
        let key =
            format!("roleAssignment created _RESELLER_ADMIN_ROLE/{name}@reseller-two.example");
        assert_eq!(
            counters.effects_by_key.get(&key),
            Some(&1),
            "exactly one role assignment for {name}"
        );
    }
    let ledger = emulator.ledger();
    let insert = ledger
        .iter()
        .find(|e| e.kind == EntryKind::Call && e.method == "directory.users.insert")
        .unwrap();
    assert_eq!(insert.customer_id.as_deref(), Some("C02r2demo"));
    assert_eq!(insert.subject.as_deref(), Some(ADMIN_TWO));
    assert_eq!(
        insert.natural_key.as_deref(),
        Some("ana@reseller-two.example")
    );
    assert_eq!(insert.outcome, "200");
    assert_eq!(counters.effects_by_kind.get("user created"), Some(&3));
    emulator.shutdown().await;
}

#[tokio::test]
async fn delegated_admins_may_only_do_what_their_roles_allow() {
    let mut seed = Seed::demo();
    for (email, role) in [
        ("helpdesk@reseller-one.example", "_HELP_DESK_ADMIN_ROLE"),
        ("portal@reseller-one.example", "_RESELLER_ADMIN_ROLE"),
    ] {
        seed.customers[0]
            .users
            .push(support_access_emulator::SeedUser {
                primary_email: email.to_owned(),
                given_name: "Del".to_owned(),
                family_name: "Egated".to_owned(),
                org_unit_path: "/".to_owned(),
                super_admin: false,
                suspended: false,
                licenses: vec![],
            });
        seed.customers[0]
            .role_assignments
            .push(support_access_emulator::SeedRoleAssignment {
                user: email.to_owned(),
                role: role.to_owned(),
            });
    }
    let emulator = common::start(seed).await;
    let helpdesk = Api::new(&emulator, "helpdesk@reseller-one.example").await;
    assert_eq!(
        helpdesk
            .get(&format!("{USERS}/sales@reseller-one.example"))
            .await
            .status,
        200
    );
    assert_eq!(
        helpdesk
            .get(&format!("{USERS}?customer=my_customer"))
            .await
            .status,
        200
    );
    let refused = helpdesk
        .post(USERS, json!({"primaryEmail": "x@reseller-one.example",
                            "name": {"givenName": "X", "familyName": "Y"}, "password": "0123456789"}))
        .await;
    assert_eq!((refused.status, refused.reason()), (403, "forbidden"));
    assert_eq!(helpdesk.get(ROLES).await.status, 403);
    assert_eq!(
        helpdesk.get("apps/reseller/v1/subscriptions").await.status,
        403
    );
    let fetched = helpdesk
        .get(&format!("{USERS}/helpdesk@reseller-one.example"))
        .await;
    assert_eq!(fetched.body["isDelegatedAdmin"], true);
    assert_eq!(fetched.body["isAdmin"], false);

    let portal = Api::new(&emulator, "portal@reseller-one.example").await;
    assert_eq!(
        portal.get("apps/reseller/v1/subscriptions").await.status,
        200
    );
    assert_eq!(
        portal
            .get(&format!("{USERS}?customer=my_customer"))
            .await
            .status,
        403
    );
    let held = Api::new(&emulator, ADMIN_ONE)
        .await
        .get(&format!(
            "{ASSIGNMENTS}?userKey=portal@reseller-one.example"
        ))
        .await;
    assert_eq!(
        held.body["items"].as_array().unwrap().len(),
        1,
        "seeded role assignment"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn batch_requests_run_each_part_through_the_api() {
    let emulator = common::demo().await;
    let token = common::token_for(&emulator, ADMIN_TWO, &common::all_scopes()).await;
    let part = |id: u32, request: &str| {
        format!(
            "--XYZ\r\nContent-Type: application/http\r\nContent-ID: <b + {id}>\r\n\r\n{request}\r\n"
        )
    };
    let body = [
        part(1, "GET /admin/directory/v1/users/sales@reseller-two.example HTTP/1.1\r\n"),
        part(
            2,
            "POST /admin/directory/v1/customer/my_customer/orgunits HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{\"name\": \"Batched\", \"parentOrgUnitPath\": \"/\"}",
        ),
        part(3, "GET /admin/directory/v1/users/nobody@reseller-two.example HTTP/1.1\r\n"),
        "--XYZ--\r\n".to_owned(),
    ]
    .concat();
    let response = reqwest::Client::new()
        .post(format!("{}batch/admin/directory_v1", emulator.base_url()))
        .bearer_auth(&token)
        .header("Content-Type", "multipart/mixed; boundary=XYZ")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("multipart/mixed; boundary="));
    let text = response.text().await.unwrap();
    assert!(text.contains("Content-ID: <response-b + 1>\r\n\r\nHTTP/1.1 200 OK"));
    assert!(text.contains("Content-ID: <response-b + 3>\r\n\r\nHTTP/1.1 404 Not Found"));
    assert!(text.contains("\"orgUnitPath\":\"/Batched\""));
    let state = emulator.customer_state("reseller-two.example");
    assert!(
        state["orgUnits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["orgUnitPath"] == "/Batched")
    );
    let calls = emulator.counters().calls_by_method;
    assert_eq!(
        calls.get("directory.users.get"),
        Some(&2),
        "each part is its own call"
    );

    // Without any credentials every part is refused on its own.
    let response = reqwest::Client::new()
        .post(format!("{}batch", emulator.base_url()))
        .header("Content-Type", "multipart/mixed; boundary=XYZ")
        .body(format!(
            "{}--XYZ--\r\n",
            part(
                1,
                "GET /admin/directory/v1/customers/my_customer HTTP/1.1\r\n"
            )
        ))
        .send()
        .await
        .unwrap();
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("HTTP/1.1 401 Unauthorized")
    );
    emulator.shutdown().await;
}
