//! Least privilege: a domain whose delegated admin is the key's own service account (a
//! *delegated admin service account*: no domain-wide delegation, the service account holds an
//! admin role in the customer). In the demo, `support-access@demo-project.iam.gserviceaccount.com`
//! holds the custom role "Support Access Automation" in reseller-one. Declared that way, the
//! whole procedure runs with the service account's own tokens (no `sub`, nobody impersonated),
//! the status says so, and a service account other than the key's is refused at declaration.
//!
//! Needs PostgreSQL at `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).

mod rpcs_support;

use prost::Message;
use rpcs_support::*;
use support_access_proto::google::longrunning::operation;
use support_access_proto::v1;

const SERVICE_ACCOUNT: &str = "support-access@demo-project.iam.gserviceaccount.com";

fn domain(admin: &str) -> v1::CreateDomainRequest {
    v1::CreateDomainRequest {
        domain: Some(v1::Domain {
            domain_name: ONE.to_owned(),
            credential: "default".to_owned(),
            delegated_admin: admin.to_owned(),
            ..Default::default()
        }),
        request_id: request_id(),
        ..Default::default()
    }
}

#[tokio::test]
async fn the_procedure_runs_as_a_delegated_admin_service_account() {
    let server = TestServer::demo().await;
    let mut admin = server.api("admin").await;
    let mut ops = server.ops("admin").await;

    // Another service account cannot be acted as.
    let refused = admin
        .create_domain(domain("someone-else@demo-project.iam.gserviceaccount.com"))
        .await
        .unwrap_err();
    assert_eq!(
        violations(&refused),
        ["domain.delegated_admin"],
        "{refused:?}"
    );
    assert!(
        refused.message().contains("acts only as itself"),
        "{}",
        refused.message()
    );

    admin
        .create_domain(domain(SERVICE_ACCOUNT))
        .await
        .expect("the key's own service account is accepted");
    create_staff(&mut admin, "ana", "ana.silva").await;
    create_staff(&mut admin, "bruno", "bruno").await;
    let done = provision(&mut admin, &mut ops, &[ONE], &["ana", "bruno"]).await;
    let result = match done.result {
        Some(operation::Result::Response(any)) => {
            v1::OperationResult::decode(any.value.as_slice()).unwrap()
        }
        other => panic!("provisioning failed: {other:?}"),
    };
    assert_eq!(result.accounts.len(), 2);
    for account in &result.accounts {
        assert_eq!(
            account.result(),
            v1::AccountResult::Done,
            "{}: {}",
            account.email,
            account.error
        );
    }

    // The status names the mode.
    let status = admin
        .get_domain_status(v1::GetDomainStatusRequest {
            name: format!("domains/{ONE}/status"),
            refresh: true,
        })
        .await
        .unwrap()
        .into_inner();
    let check = status
        .checks
        .iter()
        .find(|c| c.kind() == v1::CheckKind::DelegatedAdmin)
        .expect("admin check");
    assert_eq!(check.state(), v1::CheckState::Ok, "{check:?}");
    assert!(check.detail.contains("service account itself"), "{check:?}");

    // Google saw the service account act as itself: no call impersonated anyone.
    let base = server.emulator_url.clone().expect("demo mode");
    let ledger: Vec<support_access_emulator::LedgerEntry> =
        reqwest::get(format!("{base}emulator/v1/ledger"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let calls: Vec<_> = ledger
        .iter()
        .filter(|e| {
            e.kind == support_access_emulator::EntryKind::Call && e.method != "oauth2.token"
        })
        .collect();
    assert!(!calls.is_empty());
    for call in &calls {
        assert_eq!(call.subject.as_deref(), Some(SERVICE_ACCOUNT), "{call:?}");
    }
    server.stop().await;
}
