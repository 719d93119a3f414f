//! Secondary domains of a reseller account, end to end (real server, real PostgreSQL, real
//! emulator process on `seeds/secondary-domains.yaml`): a secondary domain is declared with the
//! primary domain's super admin and accepted only after Google's `domains.list` confirms it;
//! another customer's domain, an unverified domain and an alias are refused at declaration with
//! a field violation naming the reason, and nothing is written to Google or Postgres; then a
//! primary and two secondary domains get 10 staff members' 30 accounts in the customer's one
//! support org unit, and a re-run writes nothing.

use std::time::Duration;

use support_access_e2e::stack::{
    Stack, account, accounts_in_google, assert_provisioned, outcome, provision, staff_id, summary,
    wait_done,
};
use support_access_proto::v1;
use support_access_proto::v1::support_access_service_client::SupportAccessServiceClient;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

const SEED: &str = "secondary-domains.yaml";
const CUSTOMER: &str = "C0e2eresm";
const PRIMARY: &str = "reseller-m.example";
const EU: &str = "reseller-m-eu.example";
const APAC: &str = "reseller-m-apac.example";
const ADMIN: &str = "admin@reseller-m.example";

/// The reads of one observation of a customer (the delegated admin, then lists that each cover
/// all of the customer's domains).
const CUSTOMER_WIDE_READS: [&str; 6] = [
    "directory.users.get",
    "directory.users.list",
    "directory.roles.list",
    "directory.roleAssignments.list",
    "directory.orgunits.get",
    "licensing.licenseAssignments.listForProductAndSku",
];

async fn declare_with_admin(
    client: &mut SupportAccessServiceClient<Channel>,
    domain: &str,
    admin: &str,
) -> Result<v1::Domain, tonic::Status> {
    client
        .create_domain(v1::CreateDomainRequest {
            domain: Some(v1::Domain {
                domain_name: domain.to_owned(),
                credential: "default".into(),
                delegated_admin: admin.to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

/// The single field violation of an INVALID_ARGUMENT: (field, description).
fn violation(status: &tonic::Status) -> (String, String) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let bad_request = status.get_details_bad_request().expect("BadRequest detail");
    assert_eq!(bad_request.field_violations.len(), 1, "{bad_request:?}");
    let v = &bad_request.field_violations[0];
    (v.field.clone(), v.description.clone())
}

#[tokio::test]
async fn foreign_unverified_and_alias_domains_are_refused_at_declaration() {
    let stack = Stack::start_with_seed(SEED, &[]).await;
    let mut client = stack.client().await;
    let before = stack.emulator.ledger().await.unwrap().last_seq();

    for (domain, reason) in [
        (
            "reseller-n.example",
            "reseller-n.example is not a domain of the Google customer of admin@reseller-m.example",
        ),
        (
            "reseller-m-new.example",
            "is a secondary domain of the Google customer of admin@reseller-m.example, but Google has not verified it",
        ),
        (
            "reseller-m-mail.example",
            "is a domain alias of reseller-m.example, not a domain",
        ),
    ] {
        let refused = declare_with_admin(&mut client, domain, ADMIN)
            .await
            .unwrap_err();
        let (field, description) = violation(&refused);
        assert_eq!(field, "domain.domain_name", "{domain}");
        assert!(description.contains(reason), "{domain}: {description}");
    }
    // Another customer's admin cannot declare reseller-m's secondary domain either.
    let refused = declare_with_admin(&mut client, EU, "admin@reseller-n.example")
        .await
        .unwrap_err();
    assert!(
        violation(&refused)
            .1
            .contains("not a domain of the Google customer of admin@reseller-n.example"),
        "{refused:?}"
    );
    // An admin Google does not know is refused on the admin field.
    let refused = declare_with_admin(&mut client, EU, "ghost@reseller-m.example")
        .await
        .unwrap_err();
    let (field, description) = violation(&refused);
    assert_eq!(field, "domain.delegated_admin");
    assert!(description.contains("Google refused"), "{description}");

    // Nothing was declared.
    let listed = client
        .list_domains(v1::ListDomainsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.domains.is_empty(), "{:?}", listed.domains);

    // A verified secondary domain with the primary domain's super admin is accepted.
    let declared = declare_with_admin(&mut client, EU, ADMIN).await.unwrap();
    assert_eq!(declared.delegated_admin, ADMIN);

    // Declaring only read Google.
    let ledger = stack.emulator.ledger_after(before).await.unwrap();
    assert_eq!(
        ledger.all_write_calls(),
        0,
        "{}",
        summary(&ledger, CUSTOMER)
    );
    assert!(
        ledger
            .reads_by_method(CUSTOMER)
            .contains_key("directory.domains.list"),
        "{}",
        summary(&ledger, CUSTOMER)
    );
}

#[tokio::test]
async fn a_primary_and_two_secondary_domains_share_one_org_unit_and_role() {
    let stack = Stack::start_with_seed(SEED, &[]).await;
    let mut client = stack.client().await;
    const STAFF: usize = 10;
    for domain in [PRIMARY, EU, APAC] {
        declare_with_admin(&mut client, domain, ADMIN)
            .await
            .unwrap();
    }
    for i in 0..STAFF {
        client
            .create_staff_member(v1::CreateStaffMemberRequest {
                staff_member: Some(v1::StaffMember {
                    username: format!("agent.{i:02}"),
                    given_name: "Agent".into(),
                    family_name: format!("Number {i:02}"),
                    workspace_email: format!("agent{i:02}@partner.example"),
                    ..Default::default()
                }),
                staff_member_id: staff_id(i),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let before = stack.emulator.ledger().await.unwrap().last_seq();
    let first = provision(
        &mut client,
        &[PRIMARY, EU, APAC],
        &[],
        "1c6e2a9b-7f3d-4e5a-8b1c-000000000001",
    )
    .await;
    let done = wait_done(&stack.service, &first.name, Duration::from_secs(120)).await;
    let (error, result) = outcome(&done);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(result.accounts.len(), 3 * STAFF);
    for account_outcome in &result.accounts {
        assert_eq!(
            account_outcome.state,
            v1::StepState::Done as i32,
            "{}: {}",
            account_outcome.email,
            account_outcome.error
        );
    }
    for domain in [PRIMARY, EU, APAC] {
        assert_provisioned(&stack.emulator, (domain, CUSTOMER), STAFF).await;
    }

    let ledger = stack.emulator.ledger_after(before).await.unwrap();
    let users = ledger.effects_by_key("user", "created");
    for domain in [PRIMARY, EU, APAC] {
        for i in 0..STAFF {
            assert_eq!(users.get(&account(i, domain)), Some(&1), "{domain} #{i}");
        }
    }
    // The org unit and the custom role are the customer's: created once for three domains.
    let writes = ledger.writes_by_method(CUSTOMER);
    assert_eq!(
        writes.get("directory.orgunits.insert"),
        Some(&1),
        "{}",
        summary(&ledger, CUSTOMER)
    );
    assert_eq!(
        writes.get("directory.roles.insert"),
        Some(&1),
        "{}",
        summary(&ledger, CUSTOMER)
    );
    // The customer id is the customer's too: asked of Google once for the three domains.
    let reads = ledger.reads_by_method(CUSTOMER);
    // The customer's lists are read once per observation pass of the customer (a pass that
    // acts, a pass that confirms), however many of its domains the operation covers.
    for method in CUSTOMER_WIDE_READS {
        let count = reads.get(method).copied().unwrap_or_default();
        assert!(
            (1..=2).contains(&count),
            "{method} read {count} times for one customer: {}",
            summary(&ledger, CUSTOMER)
        );
    }
    assert_eq!(
        reads.get("directory.customers.get"),
        Some(&1),
        "{}",
        summary(&ledger, CUSTOMER)
    );
    println!("{}", summary(&ledger, CUSTOMER));

    // A re-run writes nothing.
    let after_first = stack.emulator.ledger().await.unwrap().last_seq();
    let rerun = provision(
        &mut client,
        &[PRIMARY, EU, APAC],
        &[],
        "1c6e2a9b-7f3d-4e5a-8b1c-000000000002",
    )
    .await;
    let rerun = wait_done(&stack.service, &rerun.name, Duration::from_secs(60)).await;
    let (error, result) = outcome(&rerun);
    assert!(error.is_none(), "{error:?}");
    assert!(
        result
            .accounts
            .iter()
            .all(|a| a.state == v1::StepState::Done as i32 && a.actions.is_empty()),
        "{:?}",
        result.accounts
    );
    let rerun_ledger = stack.emulator.ledger_after(after_first).await.unwrap();
    assert_eq!(
        rerun_ledger.all_write_calls(),
        0,
        "a re-run wrote to Google: {:?}",
        rerun_ledger.outcomes()
    );
    // The three domains are one customer and are observed as one: a re-run that finds
    // everything done reads each of the customer's lists once, not once per domain.
    let rerun_reads = rerun_ledger.reads_by_method(CUSTOMER);
    for method in CUSTOMER_WIDE_READS {
        assert_eq!(
            rerun_reads.get(method),
            Some(&1),
            "{method}: {}",
            summary(&rerun_ledger, CUSTOMER)
        );
    }

    // No drift is open after provisioning the three domains.
    let drift = client
        .list_drift_events(v1::ListDriftEventsRequest {
            parent: "domains/-".into(),
            filter: "open=true".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(drift.drift_events.is_empty(), "{:?}", drift.drift_events);
    // Roles are customer-wide: each domain's portal listing shows the customer's 30 support
    // accounts, every one managed and tied to its staff member, and the super admin.
    for domain in [PRIMARY, EU] {
        let portal = client
            .list_portal_access(v1::ListPortalAccessRequest {
                parent: format!("domains/{domain}"),
            })
            .await
            .unwrap()
            .into_inner();
        let support: Vec<_> = portal
            .entries
            .iter()
            .filter(|e| e.email.starts_with("agent."))
            .collect();
        assert_eq!(support.len(), 3 * STAFF, "{domain}: {:?}", portal.entries);
        for entry in support {
            assert!(
                entry.managed && entry.staff_member.starts_with("staffMembers/agent-"),
                "{domain}: {entry:?}"
            );
        }
    }

    // A secondary domain's account gets a sign-in credential like any other.
    let credential = client
        .issue_sign_in_credential(v1::IssueSignInCredentialRequest {
            name: format!("domains/{EU}/supportAccounts/agent.00"),
            request_id: "1c6e2a9b-7f3d-4e5a-8b1c-000000000003".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(credential.email, account(0, EU));
    assert!(!credential.password.is_empty());

    // Revoking one staff member in the secondary domain suspends that account only.
    let revoke = client
        .revoke_support_access(v1::RevokeSupportAccessRequest {
            domains: vec![format!("domains/{EU}")],
            staff_members: vec![format!("staffMembers/{}", staff_id(1))],
            mode: v1::RevokeMode::Suspend as i32,
            force: true,
            request_id: "1c6e2a9b-7f3d-4e5a-8b1c-000000000004".into(),
            validate_only: false,
        })
        .await
        .unwrap()
        .into_inner();
    let revoked = wait_done(&stack.service, &revoke.name, Duration::from_secs(60)).await;
    assert!(outcome(&revoked).0.is_none(), "{:?}", outcome(&revoked));
    let accounts = accounts_in_google(&stack.emulator, CUSTOMER).await;
    for domain in [PRIMARY, EU, APAC] {
        let suspended = accounts[&account(1, domain)].suspended;
        assert_eq!(suspended, domain == EU, "{domain}");
    }
}
