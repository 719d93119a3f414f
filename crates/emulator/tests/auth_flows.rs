//! The auth flows besides domain-wide delegation: a service account's self-signed JWT used as
//! the bearer token (a delegated admin service account), the JWT-bearer grant without `sub`,
//! the refresh-token grant of an installed-app OAuth client, `/revoke`, and padded JWTs.

mod common;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use common::{ADMIN_ONE, ADMIN_TWO, Api, SA, all_scopes, post_assertion, sign_jwt};
use serde_json::{Value, json};
use support_access_emulator::EmulatorHandle;

const USERS_OF_MY_CUSTOMER: &str = "admin/directory/v1/users?customer=my_customer";
const DIRECTORY_USER: &str = "https://www.googleapis.com/auth/admin.directory.user";

/// A self-signed JWT as google-auth makes it with `always_use_jwt_access`: `iss` = `sub` = the
/// account, `kid` = its key id, then `extra` claims (`scope` or `aud`).
fn self_signed(key_json: &str, extra: Value) -> String {
    let key: Value = serde_json::from_str(key_json).unwrap();
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": key["client_email"],
        "sub": key["client_email"],
        "iat": now,
        "exp": now + 3600,
    });
    for (name, value) in extra.as_object().unwrap() {
        claims[name] = value.clone();
    }
    sign_jwt(
        key_json,
        json!({"alg": "RS256", "typ": "JWT", "kid": key["private_key_id"]}),
        claims,
    )
}

/// A JWT whose segments keep base64 `=` padding (as yup-oauth2 writes them), signed over the
/// padded text.
fn sign_padded(key_json: &str, header: Value, claims: Value) -> String {
    let key: Value = serde_json::from_str(key_json).unwrap();
    let der = support_access_emulator::keys::pem_decode(
        key["private_key"].as_str().unwrap(),
        "PRIVATE KEY",
    )
    .unwrap();
    let pair = KeyPair::from_pkcs8(&der).unwrap();
    let signing_input = format!(
        "{}.{}",
        URL_SAFE.encode(header.to_string()),
        URL_SAFE.encode(claims.to_string())
    );
    let mut signature = vec![0u8; pair.public_modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .unwrap();
    format!("{signing_input}.{}", URL_SAFE.encode(signature))
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| {
            format!(
                "{name}={}",
                percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

async fn post_form(emulator: &EmulatorHandle, path: &str, body: String) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", emulator.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The demo admin-one's authorized-user file as JSON.
fn authorized_user(emulator: &EmulatorHandle, user: &str) -> Value {
    serde_json::from_str(&emulator.authorized_user_json(user).unwrap()).unwrap()
}

async fn refresh(
    emulator: &EmulatorHandle,
    file: &Value,
    overrides: &[(&str, &str)],
) -> (u16, Value) {
    let mut fields: Vec<(&str, &str)> = vec![
        ("grant_type", "refresh_token"),
        ("client_id", file["client_id"].as_str().unwrap()),
        ("client_secret", file["client_secret"].as_str().unwrap()),
        ("refresh_token", file["refresh_token"].as_str().unwrap()),
    ];
    for (name, value) in overrides {
        fields.retain(|(n, _)| n != name);
        fields.push((name, value));
    }
    post_form(emulator, "token", form(&fields)).await
}

#[tokio::test]
async fn a_self_signed_jwt_acts_as_the_service_account_with_its_own_role() {
    let emulator = common::demo().await;
    let key = emulator.service_account_key_json(SA).unwrap();
    let token = self_signed(&key, json!({"scope": all_scopes().join(" ")}));
    let sa = Api::with_token(&emulator, token);
    // reseller-one: the account holds the automation role, so it lists and creates users.
    let listed = sa.get(USERS_OF_MY_CUSTOMER).await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert!(
        listed.body["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["primaryEmail"] == ADMIN_ONE)
    );
    sa.create_user("made-by-sa@reseller-one.example", "/Staff")
        .await;
    let subscriptions = sa.get("apps/reseller/v1/subscriptions").await;
    assert_eq!(subscriptions.status, 200, "{:?}", subscriptions.body);
    // The role is the account's own: an assignment naming its unique id.
    let assignments = sa
        .get("admin/directory/v1/customer/my_customer/roleassignments")
        .await;
    let client_id: Value = serde_json::from_str::<Value>(&key).unwrap()["client_id"].clone();
    assert!(
        assignments.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["assignedTo"] == client_id),
        "{:?}",
        assignments.body
    );
    // It holds no super-admin privilege: makeAdmin is refused, as for a delegated admin user.
    let make_admin = sa
        .post(
            "admin/directory/v1/users/made-by-sa@reseller-one.example/makeAdmin",
            json!({"status": true}),
        )
        .await;
    assert_eq!((make_admin.status, make_admin.reason()), (403, "forbidden"));
    // reseller-two: no role there, so no access.
    let other = sa
        .get("admin/directory/v1/users?domain=reseller-two.example")
        .await;
    assert_eq!(other.status, 403);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_self_signed_jwt_with_aud_covers_that_api_only() {
    let emulator = common::demo().await;
    let key = emulator.service_account_key_json(SA).unwrap();
    let directory = Api::with_token(
        &emulator,
        self_signed(&key, json!({"aud": "https://admin.googleapis.com/"})),
    );
    assert_eq!(directory.get(USERS_OF_MY_CUSTOMER).await.status, 200);
    let licensing = directory
        .get("apps/licensing/v1/product/Google-Apps/sku/1010020028/users?customerId=reseller-one.example")
        .await;
    assert_eq!(
        (licensing.status, licensing.reason()),
        (403, "insufficientPermissions")
    );
    let licensing_token = Api::with_token(
        &emulator,
        self_signed(&key, json!({"aud": "https://licensing.googleapis.com/"})),
    );
    let answer = licensing_token
        .get("apps/licensing/v1/product/Google-Apps/sku/1010020028/users?customerId=reseller-one.example")
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    // The emulator's own host stands for all three APIs.
    let own_host = emulator.base_url().replace("http://", "https://");
    let everything = Api::with_token(&emulator, self_signed(&key, json!({"aud": own_host})));
    assert_eq!(everything.get(USERS_OF_MY_CUSTOMER).await.status, 200);
    emulator.shutdown().await;
}

#[tokio::test]
async fn bad_self_signed_jwts_get_googles_401() {
    let emulator = common::demo().await;
    let key = emulator.service_account_key_json(SA).unwrap();
    let now = chrono::Utc::now().timestamp();
    let foreign = serde_json::to_string(
        &support_access_emulator::keys::AccountKey::generate()
            .unwrap()
            .key_file("p", SA, "1", "http://x/token")
            .unwrap(),
    )
    .unwrap();
    let scope = json!(DIRECTORY_USER);
    let cases = [
        (
            "foreign key",
            self_signed(&foreign, json!({"scope": scope})),
        ),
        (
            "expired",
            self_signed(
                &key,
                json!({"scope": scope, "iat": now - 7200, "exp": now - 3600}),
            ),
        ),
        (
            "longer than an hour",
            self_signed(&key, json!({"scope": scope, "exp": now + 7200})),
        ),
        (
            "impersonating a user",
            self_signed(&key, json!({"scope": scope, "sub": ADMIN_ONE})),
        ),
        (
            "foreign audience",
            self_signed(&key, json!({"aud": "https://example.com/"})),
        ),
        ("neither aud nor scope", self_signed(&key, json!({}))),
    ];
    for (case, token) in cases {
        let answer = Api::with_token(&emulator, token)
            .get(USERS_OF_MY_CUSTOMER)
            .await;
        assert_eq!(
            (answer.status, answer.reason()),
            (401, "authError"),
            "{case}"
        );
        assert_eq!(answer.body["error"]["status"], "UNAUTHENTICATED", "{case}");
    }
    let wrong_kid = {
        let key_value: Value = serde_json::from_str(&key).unwrap();
        sign_jwt(
            &key,
            json!({"alg": "RS256", "typ": "JWT", "kid": "0".repeat(40)}),
            json!({"iss": SA, "sub": SA, "scope": scope, "iat": now, "exp": now + 600,
                   "aud": key_value["token_uri"]}),
        )
    };
    let answer = Api::with_token(&emulator, wrong_kid)
        .get(USERS_OF_MY_CUSTOMER)
        .await;
    assert_eq!(answer.status, 401);
    emulator.shutdown().await;
}

#[tokio::test]
async fn padded_jwts_are_accepted_as_google_accepts_them() {
    let emulator = common::demo().await;
    let key = emulator.service_account_key_json(SA).unwrap();
    let assertion = sign_padded(
        &key,
        json!({"alg": "RS256", "typ": "JWT"}),
        common::claims(&key, ADMIN_ONE, &all_scopes()),
    );
    assert!(
        assertion.contains('='),
        "the test needs padding: {assertion}"
    );
    let (status, body) = post_assertion(&emulator, &assertion).await;
    assert_eq!(status, 200, "{body}");
    let now = chrono::Utc::now().timestamp();
    let padded_self_signed = sign_padded(
        &key,
        json!({"alg": "RS256", "typ": "JWT"}),
        json!({"iss": SA, "sub": SA, "scope": DIRECTORY_USER, "iat": now, "exp": now + 3600}),
    );
    let answer = Api::with_token(&emulator, padded_self_signed)
        .get(USERS_OF_MY_CUSTOMER)
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    // Tampering with a padded segment still breaks the signature.
    let mut parts: Vec<String> = assertion.split('.').map(str::to_owned).collect();
    let tampered_claims = common::claims(&key, ADMIN_TWO, &all_scopes());
    parts[1] = URL_SAFE_NO_PAD.encode(tampered_claims.to_string());
    let (status, body) = post_assertion(&emulator, &parts.join(".")).await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (400, Some("Invalid JWT Signature."))
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_jwt_bearer_grant_without_sub_acts_as_the_service_account() {
    let emulator = common::demo().await;
    let key = emulator.service_account_key_json(SA).unwrap();
    let mut claims = common::claims(&key, ADMIN_ONE, &all_scopes());
    claims.as_object_mut().unwrap().remove("sub");
    let assertion = sign_jwt(&key, json!({"alg": "RS256", "typ": "JWT"}), claims);
    let (status, body) = post_assertion(&emulator, &assertion).await;
    assert_eq!(status, 200, "{body}");
    let sa = Api::with_token(&emulator, body["access_token"].as_str().unwrap().to_owned());
    assert_eq!(sa.get(USERS_OF_MY_CUSTOMER).await.status, 200);
    let ledger = emulator.ledger();
    let last = ledger.last().unwrap();
    assert_eq!(last.subject.as_deref(), Some(SA));
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_refresh_token_grant_acts_as_the_authorized_admin() {
    let emulator = common::demo().await;
    assert_eq!(emulator.authorized_users(), vec![ADMIN_ONE, ADMIN_TWO]);
    let file = authorized_user(&emulator, ADMIN_TWO);
    assert_eq!(file["type"], "authorized_user");
    assert_eq!(file["token_uri"], emulator.token_url());
    let (status, body) = refresh(&emulator, &file, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_u64().unwrap() > 0);
    assert_eq!(body["scope"], all_scopes().join(" "));
    let admin = Api::with_token(&emulator, body["access_token"].as_str().unwrap().to_owned());
    let listed = admin.get(USERS_OF_MY_CUSTOMER).await;
    assert_eq!(listed.status, 200);
    assert!(listed.body["users"].as_array().unwrap().iter().all(|u| {
        u["primaryEmail"]
            .as_str()
            .unwrap()
            .ends_with("@reseller-two.example")
    }));
    // `scope` narrows the grant.
    let (status, body) = refresh(&emulator, &file, &[("scope", DIRECTORY_USER)]).await;
    assert_eq!(
        (status, body["scope"].as_str()),
        (200, Some(DIRECTORY_USER))
    );
    let narrow = Api::with_token(&emulator, body["access_token"].as_str().unwrap().to_owned());
    let orgunits = narrow
        .get("admin/directory/v1/customer/my_customer/orgunits")
        .await;
    assert_eq!(orgunits.status, 403);
    emulator.shutdown().await;
}

#[tokio::test]
async fn bad_refresh_requests_get_googles_answers() {
    let emulator = common::demo().await;
    let file = authorized_user(&emulator, ADMIN_ONE);
    let other = authorized_user(&emulator, ADMIN_TWO);
    let expect = |answer: (u16, Value), status: u16, error: &str, description: &str| {
        assert_eq!(answer.0, status, "{}", answer.1);
        assert_eq!(
            answer.1,
            json!({"error": error, "error_description": description})
        );
    };
    expect(
        refresh(&emulator, &file, &[("client_secret", "GOCSPX-wrong")]).await,
        401,
        "invalid_client",
        "Unauthorized",
    );
    expect(
        refresh(
            &emulator,
            &file,
            &[("client_id", "nobody.apps.googleusercontent.com")],
        )
        .await,
        401,
        "invalid_client",
        "The OAuth client was not found.",
    );
    expect(
        refresh(&emulator, &file, &[("refresh_token", "1//made-up")]).await,
        400,
        "invalid_grant",
        "Bad Request",
    );
    expect(
        refresh(
            &emulator,
            &file,
            &[("scope", "https://www.googleapis.com/auth/drive")],
        )
        .await,
        400,
        "invalid_scope",
        "Bad Request",
    );
    let (status, body) = refresh(&emulator, &file, &[]).await;
    assert_eq!(status, 200);
    let access_token = body["access_token"].as_str().unwrap().to_owned();

    // Revoking the refresh token revokes its access tokens too; another user's stays valid.
    let refresh_token = file["refresh_token"].as_str().unwrap();
    let (status, _) = post_form(&emulator, "revoke", form(&[("token", refresh_token)])).await;
    assert_eq!(status, 200);
    expect(
        refresh(&emulator, &file, &[]).await,
        400,
        "invalid_grant",
        "Token has been expired or revoked.",
    );
    let revoked = Api::with_token(&emulator, access_token)
        .get(USERS_OF_MY_CUSTOMER)
        .await;
    assert_eq!((revoked.status, revoked.reason()), (401, "authError"));
    assert_eq!(refresh(&emulator, &other, &[]).await.0, 200);
    expect(
        post_form(&emulator, "revoke", form(&[("token", refresh_token)])).await,
        400,
        "invalid_token",
        "Token expired or revoked",
    );
    assert!(emulator.authorized_user_json(ADMIN_ONE).is_err());
    emulator.shutdown().await;
}

#[tokio::test]
async fn revoking_an_access_token_revokes_its_refresh_token() {
    let emulator = common::demo().await;
    let file = authorized_user(&emulator, ADMIN_ONE);
    let (_, body) = refresh(&emulator, &file, &[]).await;
    let access_token = body["access_token"].as_str().unwrap();
    let response = reqwest::Client::new()
        .post(format!(
            "{}revoke?token={access_token}",
            emulator.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(refresh(&emulator, &file, &[]).await.0, 400);
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_control_api_lists_authorized_users_and_their_files() {
    let emulator = common::demo().await;
    let http = reqwest::Client::new();
    let listed: Value = http
        .get(format!(
            "{}emulator/v1/authorizedUsers",
            emulator.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let users = listed["authorizedUsers"].as_array().unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(users[0]["user"], ADMIN_ONE);
    assert_eq!(users[0]["revoked"], false);
    let file: Value = http
        .get(format!(
            "{}emulator/v1/authorizedUsers/{ADMIN_ONE}/file",
            emulator.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(file["refresh_token"], users[0]["refreshToken"]);
    let missing = http
        .get(format!(
            "{}emulator/v1/authorizedUsers/sales@reseller-one.example/file",
            emulator.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_role_can_be_assigned_to_a_service_account_through_the_api() {
    let emulator = common::demo().await;
    let key: Value = serde_json::from_str(&emulator.service_account_key_json(SA).unwrap()).unwrap();
    let admin = Api::new(&emulator, ADMIN_TWO).await;
    let roles = admin
        .get("admin/directory/v1/customer/my_customer/roles")
        .await;
    let help_desk = roles.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["roleName"] == "_HELP_DESK_ADMIN_ROLE")
        .unwrap()["roleId"]
        .clone();
    let assigned = admin
        .post(
            "admin/directory/v1/customer/my_customer/roleassignments",
            json!({"roleId": help_desk, "assignedTo": key["client_id"], "scopeType": "CUSTOMER"}),
        )
        .await;
    assert_eq!(assigned.status, 200, "{:?}", assigned.body);
    assert_eq!(assigned.body["assignedTo"], key["client_id"]);
    // An id that is neither a user nor a service account is refused as before.
    let unknown = admin
        .post(
            "admin/directory/v1/customer/my_customer/roleassignments",
            json!({"roleId": help_desk, "assignedTo": "123456789", "scopeType": "CUSTOMER"}),
        )
        .await;
    assert_eq!(unknown.status, 400);
    emulator.shutdown().await;
}
