//! Canary test of secret hygiene: the secrets the service handles — bearer tokens, JWTs, the
//! service-account key named by `--credential` — are unique marker strings, and after a run of
//! the API (successes, refusals, invalid requests, audit reads) none of them appears in the logs
//! and spans (captured from `tracing` at TRACE level), in any error the clients received, in the
//! `Debug` output of the configuration, or anywhere in the database.
//!
//! Extend it as the service grows: add the steps to [`run_scenario`] (provisioning against the
//! emulator, revocation) and add the password returned by `IssueSignInCredential` to the
//! [`Canaries`] once that RPC lands. This file holds one test: it installs the process-wide
//! `tracing` subscriber.

mod auth_support;

use auth_support::canary::{Canaries, CapturedLogs, describe, dump_database};
use auth_support::*;
use prost::Message;
use prost_types::FieldMask;
use support_access_proto::v1;
use support_access_proto::v1::support_access_service_client::SupportAccessServiceClient;
use tonic::Status;
use tonic::transport::Channel;
use tracing_subscriber::fmt::format::FmtSpan;

/// A service-account key file shaped like Google's, with marker strings in its secret parts.
fn write_canary_key(dir: &std::path::Path) -> (std::path::PathBuf, Vec<(&'static str, String)>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let pem = key.serialize_pem();
    // A line of the key's base64 body: unique, and what a leak of the key would show.
    let body_line = pem
        .lines()
        .find(|l| !l.starts_with("-----") && l.len() >= 40)
        .expect("PEM body")
        .to_owned();
    let key_id = format!("CANARY-KEY-ID-{}", uuid::Uuid::new_v4().simple());
    let json = serde_json::json!({
        "type": "service_account",
        "project_id": "canary-project",
        "private_key_id": key_id,
        "private_key": pem,
        "client_email": "support-access@canary-project.iam.gserviceaccount.com",
        "client_id": "100000000000000000001",
        "token_uri": "https://oauth2.googleapis.com/token",
    });
    let path = dir.join("service-account.json");
    std::fs::write(&path, json.to_string()).expect("write key");
    (
        path,
        vec![
            ("the private key", body_line),
            ("the private key id", key_id),
        ],
    )
}

/// Drives the API through successes and failures; returns everything the clients received.
async fn run_scenario(channel: Channel, tokens: &Tokens) -> Vec<String> {
    let mut seen = Vec::new();
    let mut client = SupportAccessServiceClient::new(channel.clone());
    let mut record = |label: &str, result: Result<String, Status>| match result {
        Ok(body) => seen.push(format!("{label}: {body}")),
        Err(status) => seen.push(format!("{label}: {}", describe(&status))),
    };

    let created = client
        .create_domain(with_token(
            tonic::Request::new(v1::CreateDomainRequest {
                domain: Some(new_domain(OWN_DOMAIN)),
                request_id: uuid::Uuid::new_v4().to_string(),
                ..Default::default()
            }),
            &tokens.root_admin,
        ))
        .await
        .map(|r| r.into_inner());
    let created = created.expect("create domain");
    record("create domain", Ok(format!("{created:?}")));
    let staff = client
        .create_staff_member(with_token(
            tonic::Request::new(v1::CreateStaffMemberRequest {
                staff_member: Some(v1::StaffMember {
                    username: "alice".into(),
                    given_name: "Alice".into(),
                    family_name: "Example".into(),
                    workspace_email: "alice@workspace.example".into(),
                    ..Default::default()
                }),
                staff_member_id: "alice".into(),
                ..Default::default()
            }),
            &tokens.jwt,
        ))
        .await
        .map(|r| format!("{:?}", r.into_inner()));
    record("create staff member with a JWT", staff);
    let updated = client
        .update_domain(with_token(
            tonic::Request::new(v1::UpdateDomainRequest {
                domain: Some(v1::Domain {
                    name: created.name.clone(),
                    display_name: "Own reseller".into(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["display_name".into()],
                }),
                ..Default::default()
            }),
            &tokens.root_admin,
        ))
        .await
        .map(|r| format!("{:?}", r.into_inner()));
    record("update domain", updated);
    let listed = client
        .list_domains(with_token(
            tonic::Request::new(v1::ListDomainsRequest::default()),
            &tokens.jwt,
        ))
        .await
        .map(|r| format!("{:?}", r.into_inner()));
    record("list domains", listed);

    // Refusals and invalid requests, each carrying a secret (or most of one) in the call.
    let near_misses = [
        (
            "a token with a character appended",
            format!("{}x", tokens.root_admin),
        ),
        (
            "a token cut short",
            tokens.root_admin[..tokens.root_admin.len() - 1].to_owned(),
        ),
        (
            "a tampered JWT",
            format!("{}A", &tokens.jwt[..tokens.jwt.len() - 1]),
        ),
        ("an expired JWT", tokens.expired_jwt.clone()),
    ];
    for (label, token) in near_misses {
        let result = call_raw(
            channel.clone(),
            "/supportaccess.v1.SupportAccessService/DeleteDomain",
            Vec::new(),
            Some(&token),
        )
        .await;
        record(label, result.map(|()| "accepted".into()));
    }
    let foreign = v1::GetDomainRequest {
        name: format!("domains/{FOREIGN_DOMAIN}"),
    };
    let result = call_raw(
        channel.clone(),
        "/supportaccess.v1.SupportAccessService/GetDomain",
        foreign.encode_to_vec(),
        Some(&tokens.own_admin),
    )
    .await;
    record("another domain", result.map(|()| "accepted".into()));
    let invalid = client
        .create_domain(with_token(
            tonic::Request::new(v1::CreateDomainRequest {
                domain: Some(v1::Domain {
                    domain_name: "gmail.com".into(),
                    credential: "missing-key".into(),
                    delegated_admin: "someone@gmail.com".into(),
                    ..Default::default()
                }),
                request_id: "not-a-uuid".into(),
                ..Default::default()
            }),
            &tokens.root_admin,
        ))
        .await
        .map(|r| format!("{:?}", r.into_inner()));
    record("an invalid domain", invalid);
    let audit = client
        .list_audit_events(with_token(
            tonic::Request::new(v1::ListAuditEventsRequest::default()),
            &tokens.root_admin,
        ))
        .await
        .map(|r| format!("{:?}", r.into_inner()));
    record("the audit log", audit);
    seen
}

/// The secrets the scenario uses.
struct Tokens {
    root_admin: String,
    own_admin: String,
    jwt: String,
    expired_jwt: String,
}

#[tokio::test]
async fn secrets_never_reach_logs_errors_or_the_database() {
    let logs = CapturedLogs::default();
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::FULL)
        .with_current_span(true)
        .with_span_list(true)
        .with_writer(logs.clone())
        .init();

    let idp = SigningKey::generate("canary-idp");
    let jwt = idp.token("root-admin@platform.test", AUDIENCE, 600);
    let expired_jwt = idp.token("root-admin@platform.test", AUDIENCE, -600);
    let key_dir = tempfile::tempdir().expect("temp dir");
    let (key_path, key_canaries) = write_canary_key(key_dir.path());
    let credential_flag = format!("default={}", key_path.display());
    let server = TestServer::start(Options {
        extra_args: vec!["--credential".into(), credential_flag.clone()],
        jwt_keys: vec![idp],
        ..Default::default()
    })
    .await;
    let tokens = Tokens {
        root_admin: server.token("root-admin"),
        own_admin: server.token("own-admin"),
        jwt: jwt.clone(),
        expired_jwt: expired_jwt.clone(),
    };
    let mut markers = vec![
        ("the root admin's bearer token", tokens.root_admin.clone()),
        ("a limited admin's bearer token", tokens.own_admin.clone()),
        ("the viewer's bearer token", server.token("viewer")),
        ("a JWT", jwt.clone()),
        (
            "a JWT's signature",
            jwt.rsplit('.').next().expect("signature").to_owned(),
        ),
        ("an expired JWT", expired_jwt.clone()),
    ];
    markers.extend(key_canaries);
    let canaries = Canaries(markers);

    let channel = server.channel().await.expect("connect");
    let responses = run_scenario(channel, &tokens).await;
    // Let the background writer of refusals finish.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let database = dump_database(&server.database_url).await;
    let configuration = format!(
        "{:?}",
        serve_config(&["--credential".into(), credential_flag])
    );
    server.stop().await;
    let log_text = logs.text();

    // The places searched hold what they should: the scenario ran and was observed.
    assert!(log_text.contains("call refused"), "no refusal was logged");
    assert!(
        database.contains(OWN_DOMAIN) && database.contains("alice"),
        "the database dump is empty"
    );
    assert!(
        responses.iter().any(|r| r.contains("Unauthenticated")),
        "{responses:?}"
    );
    assert!(
        responses.iter().any(|r| r.contains("PermissionDenied")),
        "{responses:?}"
    );
    // The search finds a canary where one is.
    let planted = format!("token={}", tokens.root_admin);
    assert_eq!(canaries.find_in("a planted line", &planted).len(), 1);
    let planted_hex = hex::encode(&tokens.own_admin);
    assert_eq!(canaries.find_in("planted hex", &planted_hex).len(), 1);

    let mut leaks = Vec::new();
    leaks.extend(canaries.find_in("the logs", &log_text));
    leaks.extend(canaries.find_in("the database", &database));
    leaks.extend(canaries.find_in("the configuration's Debug output", &configuration));
    for response in &responses {
        leaks.extend(canaries.find_in("a response", response));
    }
    assert!(leaks.is_empty(), "secrets leaked: {leaks:#?}");
}
