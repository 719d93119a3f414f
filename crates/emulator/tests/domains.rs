//! Secondary domains and domain aliases: what `domains` and `domainAliases` show of the demo's
//! multi-domain reseller-one, which of its domains may hold users, how insert and delete
//! behave, and that another customer's domains stay out of reach.

mod common;

use common::{ADMIN_ONE, ADMIN_TWO, Api};
use serde_json::{Value, json};

const DOMAINS: &str = "admin/directory/v1/customer/my_customer/domains";
const ALIASES: &str = "admin/directory/v1/customer/my_customer/domainaliases";
const USERS: &str = "admin/directory/v1/users";

fn user(email: &str) -> Value {
    json!({"primaryEmail": email, "name": {"givenName": "Ana", "familyName": "Silva"},
           "password": "correct horse battery"})
}

#[tokio::test]
async fn domains_list_and_get_show_primary_secondaries_and_aliases() {
    let emulator = common::demo().await;
    let api = Api::new(&emulator, ADMIN_ONE).await;
    let listed = api.get(DOMAINS).await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(listed.body["kind"], "admin#directory#domains");
    let summary: Vec<(String, bool, bool)> = listed.body["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["domainName"].as_str().unwrap().to_owned(),
                d["isPrimary"].as_bool().unwrap(),
                d["verified"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("reseller-one.example".to_owned(), true, true),
            ("reseller-one-eu.example".to_owned(), false, true),
            ("reseller-one-apac.example".to_owned(), false, true),
            ("reseller-one-new.example".to_owned(), false, false),
        ]
    );
    // The alias is listed under its parent, not as a domain of its own.
    let primary = &listed.body["domains"][0];
    assert_eq!(
        primary["domainAliases"][0]["domainAliasName"],
        "reseller-one-mail.example"
    );
    assert!(
        primary["creationTime"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .is_ok()
    );

    let got = api.get(&format!("{DOMAINS}/reseller-one-eu.example")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["kind"], "admin#directory#domain");
    assert_eq!(got.body["isPrimary"], false);
    for missing in [
        "reseller-one-mail.example",
        "reseller-two.example",
        "nowhere.example",
    ] {
        let answer = api.get(&format!("{DOMAINS}/{missing}")).await;
        assert_eq!(
            (answer.status, answer.reason()),
            (404, "notFound"),
            "{missing}"
        );
    }

    let aliases = api.get(ALIASES).await;
    assert_eq!(aliases.body["kind"], "admin#directory#domainAliases");
    assert_eq!(
        aliases.body["domainAliases"][0]["parentDomainName"],
        "reseller-one.example"
    );
    let of_eu = api
        .get(&format!(
            "{ALIASES}?parentDomainName=reseller-one-eu.example"
        ))
        .await;
    assert_eq!(of_eu.status, 200);
    assert!(
        of_eu.body.get("domainAliases").is_none(),
        "no aliases of eu"
    );
    let alias = api
        .get(&format!("{ALIASES}/reseller-one-mail.example"))
        .await;
    assert_eq!(
        (alias.status, alias.body["verified"].as_bool()),
        (200, Some(true))
    );
    assert_eq!(
        api.get(&format!("{ALIASES}/reseller-one-eu.example"))
            .await
            .status,
        404
    );

    // reseller-two sees only its own primary domain, and may not read reseller-one's customer.
    let two = Api::new(&emulator, ADMIN_TWO).await;
    let listed = two.get(DOMAINS).await;
    assert_eq!(listed.body["domains"].as_array().unwrap().len(), 1);
    let other = two
        .get("admin/directory/v1/customer/C01r1demo/domains")
        .await;
    assert_eq!(other.status, 403);
    emulator.shutdown().await;
}

#[tokio::test]
async fn users_live_in_verified_domains_only() {
    let emulator = common::demo().await;
    let api = Api::new(&emulator, ADMIN_ONE).await;
    for email in [
        "ana@reseller-one-eu.example",
        "ana@reseller-one-apac.example",
    ] {
        let answer = api.post(USERS, user(email)).await;
        assert_eq!(answer.status, 200, "{email}: {:?}", answer.body);
        assert_eq!(answer.body["customerId"], "C01r1demo");
    }
    for email in [
        "ana@reseller-one-new.example",
        "ana@reseller-one-mail.example",
    ] {
        let answer = api.post(USERS, user(email)).await;
        assert_eq!(
            (answer.status, answer.body["error"]["message"].as_str()),
            (400, Some("Invalid Input: primary_user_email")),
            "{email}"
        );
    }
    let foreign = api.post(USERS, user("ana@reseller-two.example")).await;
    assert_eq!(foreign.status, 403);
    let unknown = api.post(USERS, user("ana@nowhere.example")).await;
    assert_eq!((unknown.status, unknown.reason()), (404, "notFound"));

    // users.list by a secondary domain shows its users only; an alias is no user domain.
    let listed = api
        .get(&format!("{USERS}?domain=reseller-one-eu.example"))
        .await;
    let emails: Vec<&str> = listed.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["primaryEmail"].as_str().unwrap())
        .collect();
    assert_eq!(emails, vec!["ana@reseller-one-eu.example"]);
    let by_alias = api
        .get(&format!("{USERS}?domain=reseller-one-mail.example"))
        .await;
    assert_eq!(by_alias.status, 404);

    // A rename into an unverified domain is refused like an insert.
    let moved = api
        .send(
            "PATCH",
            &format!("{USERS}/ana@reseller-one-eu.example"),
            Some(json!({"primaryEmail": "ana@reseller-one-new.example"})),
        )
        .await;
    assert_eq!(moved.status, 400);
    emulator.shutdown().await;
}

#[tokio::test]
async fn domains_insert_and_delete() {
    let emulator = common::demo().await;
    let api = Api::new(&emulator, ADMIN_ONE).await;
    let added = api
        .post(DOMAINS, json!({"domainName": "Reseller-One-LatAm.example"}))
        .await;
    assert_eq!(added.status, 200, "{:?}", added.body);
    assert_eq!(added.body["domainName"], "reseller-one-latam.example");
    assert_eq!(added.body["verified"], false, "verification is a DNS step");
    // Not verified yet: no users there.
    let answer = api.post(USERS, user("x@reseller-one-latam.example")).await;
    assert_eq!(answer.status, 400);
    for taken in [
        "reseller-one-latam.example",
        "reseller-two.example",
        "reseller-one-mail.example",
    ] {
        let answer = api.post(DOMAINS, json!({"domainName": taken})).await;
        assert_eq!(
            (answer.status, answer.reason()),
            (409, "duplicate"),
            "{taken}"
        );
    }
    let bad = api
        .post(DOMAINS, json!({"domainName": "not a domain"}))
        .await;
    assert_eq!((bad.status, bad.reason()), (400, "invalid"));
    let missing = api.post(DOMAINS, json!({})).await;
    assert_eq!(missing.status, 400, "domainName is required");

    let delete = |name: &str| format!("{DOMAINS}/{name}");
    assert_eq!(
        api.send("DELETE", &delete("reseller-one-latam.example"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        api.get(&delete("reseller-one-latam.example")).await.status,
        404
    );
    let primary = api
        .send("DELETE", &delete("reseller-one.example"), None)
        .await;
    assert_eq!((primary.status, primary.reason()), (400, "invalid"));
    api.create_user("bo@reseller-one-apac.example", "/").await;
    let in_use = api
        .send("DELETE", &delete("reseller-one-apac.example"), None)
        .await;
    assert_eq!((in_use.status, in_use.reason()), (400, "invalid"));
    emulator.shutdown().await;
}

#[tokio::test]
async fn domain_calls_need_a_domain_scope() {
    let emulator = common::demo().await;
    let user_scope = ["https://www.googleapis.com/auth/admin.directory.user"];
    let token = common::token_for(&emulator, ADMIN_ONE, &user_scope).await;
    let api = Api::with_token(&emulator, token);
    assert_eq!(api.get(DOMAINS).await.status, 403);
    let readonly = ["https://www.googleapis.com/auth/admin.directory.domain.readonly"];
    let token = common::token_for(&emulator, ADMIN_ONE, &readonly).await;
    let api = Api::with_token(&emulator, token);
    assert_eq!(api.get(DOMAINS).await.status, 200);
    let write = api.post(DOMAINS, json!({"domainName": "x.example"})).await;
    assert_eq!(write.status, 403, "insert needs the read-write scope");
    emulator.shutdown().await;
}
