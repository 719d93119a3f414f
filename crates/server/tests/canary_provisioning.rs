//! Canary test of secret hygiene over a full provisioning run: the service-account key (its id
//! and a line of its private key), the callers' bearer tokens and the password that
//! `IssueSignInCredential` returns are marker strings; after provisioning two accounts against the
//! emulator, issuing a credential and revoking access, none of them appears in the logs and spans
//! of every crate (captured at TRACE level, the emulator's included), in any response or error the
//! client received, or anywhere in the database. It also checks that every Google write the run
//! made is in the audit log, in the name of the caller who started it. This file holds one test: it installs the
//! process-wide `tracing` subscriber.

mod auth_support;

use std::time::Duration;

use auth_support::canary::{Canaries, CapturedLogs, describe, dump_database};
use auth_support::*;
use support_access_proto::google::longrunning::operations_client::OperationsClient;
use support_access_proto::google::longrunning::{Operation, WaitOperationRequest};
use support_access_proto::v1;
use support_access_proto::v1::support_access_service_client::SupportAccessServiceClient;
use tonic::transport::Channel;
use tracing_subscriber::fmt::format::FmtSpan;

const DOMAIN: &str = "reseller-two.example";
const SERVICE_ACCOUNT: &str = "support-access@demo-project.iam.gserviceaccount.com";

async fn wait(channel: Channel, token: &str, operation: Operation) -> Operation {
    let mut operations = OperationsClient::new(channel);
    let mut current = operation;
    for _ in 0..12 {
        if current.done {
            return current;
        }
        current = operations
            .wait_operation(with_token(
                tonic::Request::new(WaitOperationRequest {
                    name: current.name.clone(),
                    timeout: Some(prost_types::Duration {
                        seconds: 10,
                        nanos: 0,
                    }),
                }),
                token,
            ))
            .await
            .expect("wait")
            .into_inner();
    }
    panic!("the operation did not finish: {current:?}");
}

#[tokio::test]
async fn no_secret_reaches_logs_responses_or_the_database_after_provisioning() {
    let logs = CapturedLogs::default();
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::FULL)
        .with_current_span(true)
        .with_span_list(true)
        .with_writer(logs.clone())
        .init();

    // Google is the emulator; the key the service uses carries a marker in its id, and a line of
    // its private key is a marker of its own.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let emulator = support_access_emulator::start(listener, support_access_emulator::Seed::demo())
        .await
        .expect("emulator");
    let mut key: serde_json::Value = serde_json::from_str(
        &emulator
            .service_account_key_json(SERVICE_ACCOUNT)
            .expect("key"),
    )
    .expect("key json");
    let key_id = format!("CANARY-KEY-ID-{}", uuid::Uuid::new_v4().simple());
    key["private_key_id"] = serde_json::Value::String(key_id.clone());
    let pem_line = key["private_key"]
        .as_str()
        .expect("pem")
        .lines()
        .find(|l| !l.starts_with("-----") && l.len() >= 40)
        .expect("PEM body")
        .to_owned();
    let key_dir = tempfile::tempdir().expect("temp dir");
    let key_path = key_dir.path().join("key.json");
    std::fs::write(&key_path, key.to_string()).expect("write key");

    let base = emulator.base_url();
    let server = TestServer::start(Options {
        extra_args: [
            "--credential",
            &format!("default={}", key_path.display()),
            "--directory-root",
            &base,
            "--licensing-root",
            &base,
            "--reseller-root",
            &base,
        ]
        .map(str::to_owned)
        .to_vec(),
        ..Default::default()
    })
    .await;
    let admin = server.token("root-admin");
    let channel = server.channel().await.expect("connect");
    let mut client = SupportAccessServiceClient::new(channel.clone());
    let mut responses = Vec::new();

    client
        .create_domain(with_token(
            tonic::Request::new(v1::CreateDomainRequest {
                domain: Some(new_domain(DOMAIN)),
                ..Default::default()
            }),
            &admin,
        ))
        .await
        .expect("create domain");
    for (id, username) in [("ana", "ana.silva"), ("bruno", "bruno")] {
        client
            .create_staff_member(with_token(
                tonic::Request::new(v1::CreateStaffMemberRequest {
                    staff_member: Some(v1::StaffMember {
                        username: username.into(),
                        given_name: "Canary".into(),
                        family_name: "Tester".into(),
                        workspace_email: format!("{id}@partner.example"),
                        ..Default::default()
                    }),
                    staff_member_id: id.into(),
                    ..Default::default()
                }),
                &admin,
            ))
            .await
            .expect("create staff member");
    }

    let started = client
        .provision_support_access(with_token(
            tonic::Request::new(v1::ProvisionSupportAccessRequest {
                request_id: uuid::Uuid::new_v4().to_string(),
                ..Default::default()
            }),
            &admin,
        ))
        .await
        .expect("provision")
        .into_inner();
    let provisioned = wait(channel.clone(), &admin, started).await;
    assert!(
        matches!(
            provisioned.result,
            Some(support_access_proto::google::longrunning::operation::Result::Response(_))
        ),
        "provisioning succeeded: {provisioned:?}"
    );
    responses.push(format!("{provisioned:?}"));

    let credential = client
        .issue_sign_in_credential(with_token(
            tonic::Request::new(v1::IssueSignInCredentialRequest {
                name: format!("domains/{DOMAIN}/supportAccounts/ana.silva"),
                request_id: uuid::Uuid::new_v4().to_string(),
            }),
            &admin,
        ))
        .await
        .expect("credential")
        .into_inner();
    assert!(credential.password.len() >= 16);
    let password = credential.password.clone();

    let revoked = client
        .revoke_support_access(with_token(
            tonic::Request::new(v1::RevokeSupportAccessRequest {
                staff_members: vec!["staffMembers/bruno".into()],
                mode: v1::RevokeMode::Suspend as i32,
                force: true,
                request_id: uuid::Uuid::new_v4().to_string(),
                ..Default::default()
            }),
            &admin,
        ))
        .await
        .expect("revoke")
        .into_inner();
    let revoked = wait(channel.clone(), &admin, revoked).await;
    responses.push(format!("{revoked:?}"));
    let status = client
        .get_domain_status(with_token(
            tonic::Request::new(v1::GetDomainStatusRequest {
                name: format!("domains/{DOMAIN}/status"),
                refresh: true,
            }),
            &admin,
        ))
        .await;
    responses.push(match status {
        Ok(r) => format!("{:?}", r.into_inner()),
        Err(e) => describe(&e),
    });
    let audit = client
        .list_audit_events(with_token(
            tonic::Request::new(v1::ListAuditEventsRequest {
                page_size: 1000,
                ..Default::default()
            }),
            &admin,
        ))
        .await
        .expect("audit")
        .into_inner();
    // Every Google write is audited in the name of whoever started the operation: its intent
    // before the call, its outcome after (the log is newest first).
    for account in ["ana.silva", "bruno"] {
        let created: Vec<&v1::AuditEvent> = audit
            .audit_events
            .iter()
            .filter(|e| {
                e.method == "google:directory.users.insert"
                    && e.target == format!("{account}@{DOMAIN}")
            })
            .collect();
        assert_eq!(created.len(), 2, "{account}: {:#?}", audit.audit_events);
        let outcomes: Vec<&str> = created.iter().map(|e| e.outcome.as_str()).collect();
        assert_eq!(outcomes, ["OK", "INTENT"], "{account}");
        for event in created {
            assert_eq!(event.principal, "root-admin");
            assert_eq!(event.domain, format!("domains/{DOMAIN}"));
        }
    }
    assert!(
        audit
            .audit_events
            .iter()
            .any(|e| e.method == "google:directory.users.update"
                && e.target == format!("bruno@{DOMAIN}")),
        "the suspension of bruno is audited"
    );
    responses.push(format!("{audit:?}"));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let database = dump_database(&server.database_url).await;
    let canaries = Canaries(vec![
        ("the service-account key id", key_id),
        ("a line of the private key", pem_line),
        ("the admin's bearer token", admin.clone()),
        ("the issued password", password),
    ]);
    server.stop().await;
    emulator.shutdown().await;
    let log_text = logs.text();

    // The places searched hold what they should: accounts were created in Google and the
    // journal and the logs saw them.
    assert!(
        database.contains("ana.silva@reseller-two.example"),
        "the journal is empty"
    );
    assert!(
        log_text.contains("ana.silva@reseller-two.example"),
        "the logs did not see the run"
    );
    let mut leaks = Vec::new();
    leaks.extend(canaries.find_in("the logs", &log_text));
    leaks.extend(canaries.find_in("the database", &database));
    for response in &responses {
        leaks.extend(canaries.find_in("a response", response));
    }
    assert!(leaks.is_empty(), "secrets leaked: {leaks:#?}");
}
