//! Shared helpers for the emulator's integration tests: start the demo world on port 0, sign
//! JWT assertions with a key file the way google-auth does, get tokens, and call the APIs over
//! real HTTP.

#![allow(dead_code)]

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use support_access_emulator::{EmulatorHandle, Seed};

/// The demo service account.
pub const SA: &str = "support-access@demo-project.iam.gserviceaccount.com";
/// Super admin of reseller-one.example (automatic licensing on).
pub const ADMIN_ONE: &str = "admin@reseller-one.example";
/// Super admin of reseller-two.example (automatic licensing off).
pub const ADMIN_TWO: &str = "admin@reseller-two.example";

/// Every scope the demo grants.
pub fn all_scopes() -> Vec<&'static str> {
    support_access_emulator::seed::ALL_SCOPES.to_vec()
}

/// Starts an emulator with `seed` on a free loopback port.
pub async fn start(seed: Seed) -> EmulatorHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    support_access_emulator::start(listener, seed)
        .await
        .expect("emulator starts")
}

/// Starts the demo world.
pub async fn demo() -> EmulatorHandle {
    start(Seed::demo()).await
}

/// Signs a JWT (RS256) with the private key of a key file JSON.
pub fn sign_jwt(key_json: &str, header: Value, claims: Value) -> String {
    let key: Value = serde_json::from_str(key_json).expect("key file JSON");
    let pem = key["private_key"].as_str().expect("private_key");
    let der = support_access_emulator::keys::pem_decode(pem, "PRIVATE KEY").expect("PEM");
    let pair = KeyPair::from_pkcs8(&der).expect("PKCS#8 RSA key");
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0u8; pair.public_modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .expect("sign");
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The claims google-auth sends: `aud` is Google's constant, lifetime 3600 s.
pub fn claims(key_json: &str, subject: &str, scopes: &[&str]) -> Value {
    let key: Value = serde_json::from_str(key_json).expect("key JSON");
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": key["client_email"],
        "scope": scopes.join(" "),
        "aud": "https://oauth2.googleapis.com/token",
        "iat": now,
        "exp": now + 3600,
        "sub": subject,
    })
}

/// POSTs an assertion to the token endpoint; returns status and JSON body.
pub async fn post_assertion(emulator: &EmulatorHandle, assertion: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(emulator.token_url())
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion),
        ])
        .send()
        .await
        .expect("token request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("token JSON"))
}

/// An access token for `subject` with `scopes`, through the real token endpoint.
pub async fn token_for(emulator: &EmulatorHandle, subject: &str, scopes: &[&str]) -> String {
    let key = emulator.service_account_key_json(SA).expect("key file");
    let assertion = sign_jwt(
        &key,
        json!({"alg": "RS256", "typ": "JWT"}),
        claims(&key, subject, scopes),
    );
    let (status, body) = post_assertion(emulator, &assertion).await;
    assert_eq!(status, 200, "token request failed: {body}");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// A caller of the Google APIs as one admin.
pub struct Api {
    /// Base URL of the emulator.
    pub base: String,
    /// Bearer token.
    pub token: String,
    http: reqwest::Client,
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// JSON body (`Null` when empty).
    pub body: Value,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    /// `error.errors[0].reason`.
    pub fn reason(&self) -> &str {
        self.body["error"]["errors"][0]["reason"]
            .as_str()
            .unwrap_or_default()
    }
}

impl Api {
    /// A caller impersonating `subject` with every demo scope.
    pub async fn new(emulator: &EmulatorHandle, subject: &str) -> Self {
        let token = token_for(emulator, subject, &all_scopes()).await;
        Self::with_token(emulator, token)
    }

    /// A caller with a given token.
    pub fn with_token(emulator: &EmulatorHandle, token: String) -> Self {
        Self {
            base: emulator.base_url(),
            token,
            http: reqwest::Client::new(),
        }
    }

    /// Sends a request to `{base}{path}`; `path` may carry a query string.
    pub async fn send(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.try_send(method, path, body)
            .await
            .expect("HTTP exchange")
    }

    /// Like [`Api::send`] but returns transport errors (resets, dropped responses).
    pub async fn try_send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Answer, reqwest::Error> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Answer {
            status,
            body,
            headers,
        })
    }

    /// GET.
    pub async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None).await
    }

    /// POST with a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send("POST", path, Some(body)).await
    }

    /// Creates a user in `domain` and returns its JSON (asserting 200).
    pub async fn create_user(&self, email: &str, org_unit_path: &str) -> Value {
        let answer = self
            .post(
                "admin/directory/v1/users",
                json!({
                    "primaryEmail": email,
                    "name": {"givenName": "Test", "familyName": "User"},
                    "password": "correct horse battery",
                    "orgUnitPath": org_unit_path,
                }),
            )
            .await;
        assert_eq!(answer.status, 200, "users.insert: {:?}", answer.body);
        answer.body
    }
}
