//! The token endpoint (JWT-bearer grant with domain-wide delegation) and bearer checks on API
//! calls: Google's success and error shapes.

mod common;

use common::{ADMIN_ONE, ADMIN_TWO, Api, SA, claims, post_assertion, sign_jwt};
use serde_json::json;
use support_access_emulator::{Seed, SeedDelegation};

const USER_SCOPE: &str = "https://www.googleapis.com/auth/admin.directory.user";
const ORGUNIT_READONLY: &str = "https://www.googleapis.com/auth/admin.directory.orgunit.readonly";

#[tokio::test]
async fn token_endpoint_issues_a_bearer_token_in_googles_shape() {
    let emulator = common::demo().await;
    let key = emulator.service_account_key_json(SA).unwrap();
    let assertion = sign_jwt(
        &key,
        json!({"alg": "RS256", "typ": "JWT", "kid": "whatever"}),
        claims(&key, ADMIN_ONE, &[USER_SCOPE]),
    );
    let (status, body) = post_assertion(&emulator, &assertion).await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert!(body["access_token"].as_str().unwrap().starts_with("ya29."));
    let key_file: serde_json::Value = serde_json::from_str(&key).unwrap();
    assert_eq!(key_file["type"], "service_account");
    assert_eq!(key_file["token_uri"], emulator.token_url());
    assert!(
        key_file["private_key"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn audience_may_be_the_emulator_token_url() {
    let emulator = common::demo().await;
    let key = emulator.service_account_key_json(SA).unwrap();
    let mut claim_set = claims(&key, ADMIN_ONE, &[USER_SCOPE]);
    claim_set["aud"] = json!(emulator.token_url());
    let assertion = sign_jwt(&key, json!({"alg": "RS256", "typ": "JWT"}), claim_set);
    assert_eq!(post_assertion(&emulator, &assertion).await.0, 200);
    emulator.shutdown().await;
}

#[tokio::test]
async fn bad_assertions_get_invalid_grant() {
    let emulator = common::demo().await;
    let key = emulator.service_account_key_json(SA).unwrap();
    let header = json!({"alg": "RS256", "typ": "JWT"});

    // A key the emulator never saw: signature check fails.
    let other_key = support_access_emulator::keys::AccountKey::generate()
        .unwrap()
        .key_file("p", SA, "1", "http://x/token")
        .unwrap();
    let foreign_json = serde_json::to_string(&other_key).unwrap();
    let forged = sign_jwt(
        &foreign_json,
        header.clone(),
        claims(&key, ADMIN_ONE, &[USER_SCOPE]),
    );
    let (status, body) = post_assertion(&emulator, &forged).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(body["error_description"], "Invalid JWT Signature.");

    let mut wrong_audience = claims(&key, ADMIN_ONE, &[USER_SCOPE]);
    wrong_audience["aud"] = json!("https://example.com/token");
    let (status, body) =
        post_assertion(&emulator, &sign_jwt(&key, header.clone(), wrong_audience)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let mut expired = claims(&key, ADMIN_ONE, &[USER_SCOPE]);
    let now = chrono::Utc::now().timestamp();
    expired["iat"] = json!(now - 7200);
    expired["exp"] = json!(now - 3600);
    let (status, body) = post_assertion(&emulator, &sign_jwt(&key, header.clone(), expired)).await;
    assert_eq!(status, 400);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("Check your iat and exp values")
    );

    let mut too_long = claims(&key, ADMIN_ONE, &[USER_SCOPE]);
    too_long["exp"] = json!(now + 7200);
    let (status, _) = post_assertion(&emulator, &sign_jwt(&key, header.clone(), too_long)).await;
    assert_eq!(status, 400);

    let unknown_subject = claims(&key, "nobody@reseller-one.example", &[USER_SCOPE]);
    let (status, body) =
        post_assertion(&emulator, &sign_jwt(&key, header.clone(), unknown_subject)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_description"], "Invalid email or User ID");

    let mut unknown_issuer = claims(&key, ADMIN_ONE, &[USER_SCOPE]);
    unknown_issuer["iss"] = json!("stranger@other.iam.gserviceaccount.com");
    let (status, body) = post_assertion(&emulator, &sign_jwt(&key, header, unknown_issuer)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let (status, body) = post_assertion(&emulator, "not.a.jwt").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn scopes_not_delegated_get_unauthorized_client() {
    let mut seed = Seed::demo();
    // reseller-two delegates only the read-only org unit scope.
    seed.customers[1].delegations = vec![SeedDelegation {
        client: SA.to_owned(),
        scopes: vec![ORGUNIT_READONLY.to_owned()],
    }];
    let emulator = common::start(seed).await;
    let key = emulator.service_account_key_json(SA).unwrap();
    let header = json!({"alg": "RS256", "typ": "JWT"});
    let (status, body) = post_assertion(
        &emulator,
        &sign_jwt(
            &key,
            header.clone(),
            claims(&key, ADMIN_TWO, &[ORGUNIT_READONLY, USER_SCOPE]),
        ),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "unauthorized_client");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("not authorized for any of the scopes requested")
    );
    // The granted scope alone works.
    let (status, _) = post_assertion(
        &emulator,
        &sign_jwt(&key, header, claims(&key, ADMIN_TWO, &[ORGUNIT_READONLY])),
    )
    .await;
    assert_eq!(status, 200);
    emulator.shutdown().await;
}

#[tokio::test]
async fn api_calls_need_a_valid_token_with_the_right_scope() {
    let emulator = common::demo().await;
    let http = reqwest::Client::new();
    let response = http
        .get(format!(
            "{}admin/directory/v1/users?customer=my_customer",
            emulator.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["errors"][0]["reason"], "required");
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");

    let bogus = Api::with_token(&emulator, "ya29.made-up".to_owned());
    let answer = bogus
        .get("admin/directory/v1/users?customer=my_customer")
        .await;
    assert_eq!((answer.status, answer.reason()), (401, "authError"));

    let token = common::token_for(&emulator, ADMIN_ONE, &[ORGUNIT_READONLY]).await;
    let narrow = Api::with_token(&emulator, token);
    let answer = narrow
        .get("admin/directory/v1/users?customer=my_customer")
        .await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.reason(), "insufficientPermissions");
    assert_eq!(
        answer.body["error"]["message"],
        "Request had insufficient authentication scopes."
    );
    let answer = narrow
        .get("admin/directory/v1/customer/my_customer/orgunits")
        .await;
    assert_eq!(answer.status, 200);
    emulator.shutdown().await;
}

#[tokio::test]
async fn an_admin_cannot_reach_another_customer() {
    let emulator = common::demo().await;
    let one = Api::new(&emulator, ADMIN_ONE).await;
    let two_id = emulator.customer_id("reseller-two.example").unwrap();
    let answer = one
        .get(&format!("admin/directory/v1/customer/{two_id}/orgunits"))
        .await;
    assert_eq!((answer.status, answer.reason()), (403, "forbidden"));
    let answer = one
        .get("admin/directory/v1/users/sales@reseller-two.example")
        .await;
    assert_eq!((answer.status, answer.reason()), (403, "forbidden"));
    let answer = one
        .get("admin/directory/v1/users?domain=reseller-two.example")
        .await;
    assert_eq!(answer.status, 403);
    let answer = one
        .get(&format!(
            "apps/licensing/v1/product/101001/sku/1010010001/users?customerId={two_id}"
        ))
        .await;
    assert_eq!(answer.status, 403);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_non_admin_subject_gets_a_token_but_no_access() {
    let emulator = common::demo().await;
    // Google issues the token for any user of the domain; the APIs refuse a non-admin.
    let api = Api::new(&emulator, "sales@reseller-one.example").await;
    let answer = api
        .get("admin/directory/v1/users?customer=my_customer")
        .await;
    assert_eq!((answer.status, answer.reason()), (403, "forbidden"));
    assert_eq!(
        answer.body["error"]["message"],
        "Not Authorized to access this resource/api"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn expired_access_tokens_are_refused() {
    let emulator = common::demo().await;
    emulator.update_knobs(|k| k.tokens.lifetime_secs = 1);
    let api = Api::new(&emulator, ADMIN_ONE).await;
    assert_eq!(
        api.get("admin/directory/v1/customers/my_customer")
            .await
            .status,
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let answer = api.get("admin/directory/v1/customers/my_customer").await;
    assert_eq!((answer.status, answer.reason()), (401, "authError"));
    emulator.shutdown().await;
}
