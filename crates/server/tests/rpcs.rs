//! The read and operator RPCs as an operator sees them, against the service in demo mode (the
//! built-in emulator with the demo seed: `reseller-one.example`, which resells to
//! `acme.example` and `globex.example`, and `reseller-two.example`, which resells to
//! `initech.example`): the status of a domain check by check before and after provisioning,
//! manual steps confirmed turning their checks OK, support accounts listed across domains,
//! everyone whose roles open the portal (managed or not), which account opens a customer, and
//! the errors a caller gets for bad input, unknown resources and other people's domains.
//!
//! Needs PostgreSQL at `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! each test gets a database of its own.

mod rpcs_support;

use std::sync::Arc;

use rpcs_support::*;
use support_access_google::model::{NewRoleAssignment, ScopeType};
use support_access_google::{
    DomainClient, DomainSpec, GoogleClient, GoogleConfig, ServiceAccountCredential,
};
use support_access_proto::v1;
use tonic::Code;

const DEMO_SERVICE_ACCOUNT: &str = "support-access@demo-project.iam.gserviceaccount.com";
const PORTAL_ROLE: &str = "Customer Care Portal Access";

fn check(checks: &[v1::Check], kind: v1::CheckKind) -> &v1::Check {
    checks
        .iter()
        .find(|c| c.kind() == kind)
        .unwrap_or_else(|| panic!("no {kind:?} check in {checks:#?}"))
}

fn states(checks: &[v1::Check]) -> Vec<(v1::CheckKind, v1::CheckState)> {
    checks.iter().map(|c| (c.kind(), c.state())).collect()
}

async fn status(api: &mut Api, domain: &str, refresh: bool) -> v1::DomainStatus {
    api.get_domain_status(v1::GetDomainStatusRequest {
        name: format!("domains/{domain}/status"),
        refresh,
    })
    .await
    .expect("get domain status")
    .into_inner()
}

async fn confirm(
    api: &mut Api,
    domain: &str,
    step: v1::ManualStep,
    staff_member: &str,
    request_id: &str,
) -> Result<v1::ManualStepConfirmation, tonic::Status> {
    api.confirm_manual_step(v1::ConfirmManualStepRequest {
        domain: format!("domains/{domain}"),
        step: step as i32,
        staff_member: staff_member.to_owned(),
        note: "routed in the Admin console, ticket OPS-42".to_owned(),
        request_id: request_id.to_owned(),
    })
    .await
    .map(tonic::Response::into_inner)
}

/// A Google client acting as the demo domain's super admin, as an administrator working in the
/// Admin console would: changes made with it are made behind the service's back.
async fn console(server: &TestServer, domain: &str) -> DomainClient {
    let base = server.emulator_url.clone().expect("demo mode");
    let key = reqwest::get(format!(
        "{base}emulator/v1/serviceAccounts/{DEMO_SERVICE_ACCOUNT}/key"
    ))
    .await
    .expect("emulator control API")
    .text()
    .await
    .expect("key file");
    let credential = ServiceAccountCredential::from_json(&key).expect("demo key");
    let google = GoogleClient::new(GoogleConfig::all_apis_at(
        &url::Url::parse(&base).expect("emulator URL"),
    ))
    .expect("google client");
    google
        .domain(DomainSpec {
            domain: domain.to_owned(),
            delegated_admin: format!("admin@{domain}"),
            credential: Arc::new(credential),
            customer_id: None,
        })
        .await
        .expect("domain client")
}

#[tokio::test]
async fn status_before_and_after_provisioning_and_manual_steps_confirmed() {
    let server = TestServer::demo().await;
    let mut admin = server.api("admin").await;
    let mut ops = server.ops("admin").await;
    create_domain(&mut admin, TWO).await;
    create_staff(&mut admin, "ana", "ana.silva").await;

    // Never observed: every check says so and how to observe.
    let never = status(&mut admin, TWO, false).await;
    assert_eq!(never.name, format!("domains/{TWO}/status"));
    assert_eq!(never.state(), v1::CheckState::Unspecified);
    assert_eq!(never.checks.len(), 5);
    assert!(
        never
            .checks
            .iter()
            .all(|c| { c.state() == v1::CheckState::Unspecified && c.detail.contains("refresh") })
    );
    assert_eq!(never.observe_time, None);
    assert!(never.accounts.is_empty(), "no account is declared yet");

    // Observed now, before anything was done: the admin is fine, the org unit and role are
    // missing, automatic licensing needs a person.
    let before = status(&mut admin, TWO, true).await;
    assert!(before.observe_time.is_some());
    use v1::CheckKind as K;
    use v1::CheckState as S;
    assert_eq!(
        states(&before.checks),
        vec![
            (K::DelegatedAdmin, S::Ok),
            (K::OrgUnit, S::Missing),
            (K::CloudIdentitySubscription, S::Ok),
            (K::AutomaticLicensing, S::ManualActionRequired),
            (K::PortalRole, S::Missing),
        ],
        "{:#?}",
        before.checks
    );
    let licensing = check(&before.checks, K::AutomaticLicensing);
    assert!(
        licensing.manual_action.contains("ConfirmManualStep"),
        "{}",
        licensing.manual_action
    );
    assert!(
        check(&before.checks, K::OrgUnit)
            .detail
            .contains("/Customer Care Portal")
    );
    assert!(
        check(&before.checks, K::DelegatedAdmin)
            .observe_time
            .is_some()
    );
    // The refreshed observation is what the next plain read serves.
    let served = status(&mut admin, TWO, false).await;
    assert_eq!(served.observe_time, before.observe_time);

    let operation = provision(&mut admin, &mut ops, &[TWO], &["ana"]).await;
    assert!(
        matches!(
            operation.result,
            Some(support_access_proto::google::longrunning::operation::Result::Response(_))
        ),
        "{operation:?}"
    );

    // After provisioning (served from the engine's last observation): everything Google can
    // do is OK; mail routing and automatic licensing wait for a person.
    let after = status(&mut admin, TWO, false).await;
    let seconds = |s: &v1::DomainStatus| s.observe_time.map(|t| (t.seconds, t.nanos));
    assert!(
        seconds(&after) > seconds(&before),
        "the engine observed again"
    );
    assert_eq!(check(&after.checks, K::OrgUnit).state(), S::Ok);
    assert_eq!(check(&after.checks, K::PortalRole).state(), S::Ok);
    assert!(
        check(&after.checks, K::PortalRole)
            .detail
            .contains(PORTAL_ROLE)
    );
    assert_eq!(after.accounts.len(), 1);
    let account = &after.accounts[0];
    assert_eq!(
        account.name,
        format!("domains/{TWO}/supportAccounts/ana.silva")
    );
    assert_eq!(account.staff_member, "staffMembers/ana");
    assert_eq!(account.email, format!("ana.silva@{TWO}"));
    assert_eq!(
        states(&account.checks),
        vec![
            (K::AccountExists, S::Ok),
            (K::AccountInOrgUnit, S::Ok),
            (K::AccountLicense, S::Ok),
            (K::AccountNoPaidLicense, S::Ok),
            (K::AccountRole, S::Ok),
            (K::AccountNotSuspended, S::Ok),
            (K::AccountMailRouting, S::ManualActionRequired),
        ],
        "{:#?}",
        account.checks
    );
    assert_eq!(account.state(), S::ManualActionRequired);
    let routing = check(&account.checks, K::AccountMailRouting);
    assert!(
        routing
            .manual_action
            .contains("ana.silva@workspace.example")
    );
    assert!(
        routing.manual_action.contains("MAIL_ROUTING"),
        "{}",
        routing.manual_action
    );

    // The operator does both manual steps and confirms them: the checks turn OK at once,
    // without observing Google again.
    let mail_id = request_id();
    let confirmed = confirm(
        &mut admin,
        TWO,
        v1::ManualStep::MailRouting,
        "staffMembers/ana",
        &mail_id,
    )
    .await
    .expect("confirm mail routing");
    assert_eq!(confirmed.domain, format!("domains/{TWO}"));
    assert_eq!(confirmed.step(), v1::ManualStep::MailRouting);
    assert_eq!(confirmed.staff_member, "staffMembers/ana");
    assert_eq!(confirmed.principal, "admin");
    assert!(confirmed.confirm_time.is_some());
    let routed = status(&mut admin, TWO, false).await;
    assert_eq!(
        check(&routed.accounts[0].checks, K::AccountMailRouting).state(),
        S::Ok
    );
    assert_eq!(routed.accounts[0].state(), S::Ok);
    assert_eq!(
        routed.observe_time, after.observe_time,
        "served from the store"
    );

    confirm(
        &mut admin,
        TWO,
        v1::ManualStep::AutomaticLicensingOff,
        "",
        &request_id(),
    )
    .await
    .expect("confirm automatic licensing");
    let done = status(&mut admin, TWO, false).await;
    assert!(
        done.checks.iter().all(|c| c.state() == S::Ok),
        "{:#?}",
        done.checks
    );
    assert_eq!(done.state(), S::Ok, "{done:#?}");

    // A retried confirmation replays the first answer; the same id for another request is
    // refused.
    let replayed = confirm(
        &mut admin,
        TWO,
        v1::ManualStep::MailRouting,
        "staffMembers/ana",
        &mail_id,
    )
    .await
    .expect("replay");
    assert_eq!(replayed, confirmed);
    let reused = confirm(
        &mut admin,
        TWO,
        v1::ManualStep::AutomaticLicensingOff,
        "",
        &mail_id,
    )
    .await
    .expect_err("reused request id");
    assert_eq!(reused.code(), Code::AlreadyExists);

    // Confirmations are audited with who did what.
    let audit = admin
        .list_audit_events(v1::ListAuditEventsRequest {
            method: "/supportaccess.v1.SupportAccessService/ConfirmManualStep".into(),
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_inner()
        .audit_events;
    let targets: Vec<&str> = audit
        .iter()
        .filter(|e| e.outcome == "OK")
        .map(|e| e.target.as_str())
        .collect();
    assert_eq!(
        targets,
        vec![
            format!("domains/{TWO}/manualSteps/AUTOMATIC_LICENSING_OFF"),
            format!("domains/{TWO}/manualSteps/MAIL_ROUTING/staffMembers/ana"),
        ],
        "{audit:#?}"
    );
    assert!(audit.iter().all(|e| e.principal == "admin"));

    // Viewers read status; an operator of another domain may not.
    let mut viewer = server.api("viewer").await;
    assert_eq!(status(&mut viewer, TWO, false).await.state(), S::Ok);
    let mut one_operator = server.api("one-operator").await;
    let denied = one_operator
        .get_domain_status(v1::GetDomainStatusRequest {
            name: format!("domains/{TWO}/status"),
            refresh: false,
        })
        .await
        .expect_err("other domain");
    assert_eq!(denied.code(), Code::PermissionDenied);
    server.stop().await;
}

#[tokio::test]
async fn support_accounts_are_listed_across_domains_with_their_checks() {
    let server = TestServer::demo().await;
    let mut admin = server.api("admin").await;
    let mut ops = server.ops("admin").await;
    create_domain(&mut admin, ONE).await;
    create_domain(&mut admin, TWO).await;
    create_staff(&mut admin, "ana", "ana.silva").await;
    create_staff(&mut admin, "bo", "bo.berg").await;
    provision(&mut admin, &mut ops, &[ONE, TWO], &["ana", "bo"]).await;

    let list = |parent: &str, staff: &str, size: i32, token: &str| v1::ListSupportAccountsRequest {
        parent: parent.to_owned(),
        page_size: size,
        page_token: token.to_owned(),
        staff_member: staff.to_owned(),
    };
    let all = admin
        .list_support_accounts(list("domains/-", "", 0, ""))
        .await
        .expect("list all")
        .into_inner();
    let emails: Vec<&str> = all
        .support_accounts
        .iter()
        .map(|a| a.email.as_str())
        .collect();
    assert_eq!(
        emails,
        vec![
            "ana.silva@reseller-one.example",
            "bo.berg@reseller-one.example",
            "ana.silva@reseller-two.example",
            "bo.berg@reseller-two.example",
        ]
    );
    assert!(all.next_page_token.is_empty());
    for account in &all.support_accounts {
        assert_eq!(account.checks.len(), 7, "{account:#?}");
        assert_eq!(
            check(&account.checks, v1::CheckKind::AccountRole).state(),
            v1::CheckState::Ok,
            "{account:#?}"
        );
        assert!(
            account
                .name
                .ends_with(account.email.split('@').next().unwrap())
        );
    }

    // Paging, one account at a time, visits the same accounts.
    let mut token = String::new();
    let mut paged = Vec::new();
    loop {
        let page = admin
            .list_support_accounts(list("domains/-", "", 1, &token))
            .await
            .expect("page")
            .into_inner();
        assert!(page.support_accounts.len() <= 1);
        paged.extend(page.support_accounts.into_iter().map(|a| a.email));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(paged, emails);

    // Filters: one domain, one staff member; an operator of one domain sees only it.
    let bo_two = admin
        .list_support_accounts(list(&format!("domains/{TWO}"), "staffMembers/bo", 0, ""))
        .await
        .expect("filtered")
        .into_inner();
    assert_eq!(
        bo_two
            .support_accounts
            .iter()
            .map(|a| a.email.as_str())
            .collect::<Vec<_>>(),
        vec!["bo.berg@reseller-two.example"]
    );
    let mut one_operator = server.api("one-operator").await;
    let own = one_operator
        .list_support_accounts(list("domains/-", "", 0, ""))
        .await
        .expect("own domains")
        .into_inner();
    assert!(
        own.support_accounts.iter().all(|a| a.email.ends_with(ONE)),
        "{own:#?}"
    );
    assert_eq!(own.support_accounts.len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn portal_access_shows_managed_accounts_and_an_unmanaged_reseller_admin() {
    let server = TestServer::demo().await;
    let mut admin = server.api("admin").await;
    let mut ops = server.ops("admin").await;
    create_domain(&mut admin, ONE).await;
    create_staff(&mut admin, "ana", "ana.silva").await;
    provision(&mut admin, &mut ops, &[ONE], &["ana"]).await;

    // Someone gives the salesperson the Reseller Admin role in the Admin console.
    let google = console(&server, ONE).await;
    let reseller_admin = google
        .roles_list()
        .collect_all()
        .await
        .expect("roles")
        .into_iter()
        .find(|r| r.role_name == "_RESELLER_ADMIN_ROLE")
        .expect("the demo seed has the Reseller Admin role");
    let sales = google
        .users_get(&format!("sales@{ONE}"))
        .await
        .expect("sales user");
    google
        .role_assignments_insert(&NewRoleAssignment {
            role_id: reseller_admin.role_id,
            assigned_to: sales.id,
            scope_type: ScopeType::Customer,
            org_unit_id: None,
        })
        .await
        .expect("assign Reseller Admin");

    let mut viewer = server.api("viewer").await;
    let entries = viewer
        .list_portal_access(v1::ListPortalAccessRequest {
            parent: format!("domains/{ONE}"),
        })
        .await
        .expect("list portal access")
        .into_inner()
        .entries;
    assert_eq!(
        entries,
        vec![
            v1::PortalAccessEntry {
                email: format!("ana.silva@{ONE}"),
                roles: vec![PORTAL_ROLE.to_owned()],
                managed: true,
                staff_member: "staffMembers/ana".to_owned(),
                suspended: false,
                super_admin: false,
                owned: true,
                reasons: vec![format!("role '{PORTAL_ROLE}'")],
            },
            v1::PortalAccessEntry {
                email: format!("sales@{ONE}"),
                roles: vec!["_RESELLER_ADMIN_ROLE".to_owned()],
                managed: false,
                staff_member: String::new(),
                suspended: false,
                super_admin: false,
                owned: false,
                reasons: vec!["role '_RESELLER_ADMIN_ROLE'".to_owned()],
            },
        ]
    );

    let unknown = viewer
        .list_portal_access(v1::ListPortalAccessRequest {
            parent: "domains/unknown.example".into(),
        })
        .await
        .expect_err("undeclared domain");
    assert_eq!(unknown.code(), Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn resolve_names_the_account_that_opens_a_customer() {
    let server = TestServer::demo().await;
    let mut admin = server.api("admin").await;
    let mut ops = server.ops("admin").await;
    create_domain(&mut admin, ONE).await;
    create_domain(&mut admin, TWO).await;
    create_staff(&mut admin, "ana", "ana.silva").await;
    provision(&mut admin, &mut ops, &[TWO], &["ana"]).await;

    let resolve = |customer: &str, staff: &str| v1::ResolveSupportAccountRequest {
        staff_member: staff.to_owned(),
        customer: customer.to_owned(),
    };
    let mut viewer = server.api("viewer").await;
    let initech = viewer
        .resolve_support_account(resolve("initech.example", "staffMembers/ana"))
        .await
        .expect("resolve initech")
        .into_inner();
    assert_eq!(
        initech,
        v1::ResolveSupportAccountResponse {
            domain: format!("domains/{TWO}"),
            account_email: format!("ana.silva@{TWO}"),
            customer_id: "C04inits3".into(),
            customer_domain: "initech.example".into(),
            account_state: v1::CheckState::Ok as i32,
        }
    );

    // By customer id; that domain was never provisioned nor observed.
    let acme = viewer
        .resolve_support_account(resolve("C03acme01", "staffMembers/ana"))
        .await
        .expect("resolve acme")
        .into_inner();
    assert_eq!(acme.domain, format!("domains/{ONE}"));
    assert_eq!(acme.account_email, format!("ana.silva@{ONE}"));
    assert_eq!(acme.customer_domain, "acme.example");
    assert_eq!(acme.account_state(), v1::CheckState::Unspecified);

    let unknown = viewer
        .resolve_support_account(resolve("unknown.example", "staffMembers/ana"))
        .await
        .expect_err("nobody resells it");
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(reason(&unknown), "CUSTOMER_NOT_RESOLD");
    assert!(
        unknown.message().contains("unknown.example")
            && unknown.message().contains(ONE)
            && unknown.message().contains(TWO),
        "{}",
        unknown.message()
    );

    // An operator of reseller-one only cannot learn about reseller-two's customers.
    let mut one_operator = server.api("one-operator").await;
    let hidden = one_operator
        .resolve_support_account(resolve("initech.example", "staffMembers/ana"))
        .await
        .expect_err("not in the operator's domains");
    assert_eq!(hidden.code(), Code::NotFound);
    assert!(!hidden.message().contains(TWO), "{}", hidden.message());

    let nobody = viewer
        .resolve_support_account(resolve("initech.example", "staffMembers/nobody"))
        .await
        .expect_err("unknown staff member");
    assert_eq!(nobody.code(), Code::NotFound);
    let bad = viewer
        .resolve_support_account(resolve("not a domain", "people/ana"))
        .await
        .expect_err("bad input");
    assert_eq!(violations(&bad), vec!["staff_member", "customer"]);
    server.stop().await;
}

#[tokio::test]
async fn bad_input_and_unknown_resources_are_reported_precisely() {
    let server = TestServer::demo().await;
    let mut admin = server.api("admin").await;
    create_domain(&mut admin, ONE).await;
    create_staff(&mut admin, "ana", "ana.silva").await;

    let bad_status = admin
        .get_domain_status(v1::GetDomainStatusRequest {
            name: format!("domains/{ONE}"),
            refresh: false,
        })
        .await
        .expect_err("not a status name");
    assert_eq!(violations(&bad_status), vec!["name"]);
    let missing = admin
        .get_domain_status(v1::GetDomainStatusRequest {
            name: "domains/unknown.example/status".into(),
            refresh: true,
        })
        .await
        .expect_err("undeclared domain");
    assert_eq!(missing.code(), Code::NotFound);

    let bad_list = admin
        .list_support_accounts(v1::ListSupportAccountsRequest {
            parent: "domains".into(),
            page_size: -1,
            page_token: "forged".into(),
            staff_member: "ana".into(),
        })
        .await
        .expect_err("bad list");
    assert_eq!(
        violations(&bad_list),
        vec!["parent", "staff_member", "page_size", "page_token"]
    );

    let bad_confirm = admin
        .confirm_manual_step(v1::ConfirmManualStepRequest {
            domain: format!("domains/{ONE}"),
            step: v1::ManualStep::AutomaticLicensingOff as i32,
            staff_member: "staffMembers/ana".into(),
            note: "x".repeat(1001),
            request_id: "not-a-uuid".into(),
        })
        .await
        .expect_err("bad confirmation");
    assert_eq!(
        violations(&bad_confirm),
        vec!["staff_member", "note", "request_id"]
    );
    let no_step = admin
        .confirm_manual_step(v1::ConfirmManualStepRequest {
            domain: "domains/".into(),
            ..Default::default()
        })
        .await
        .expect_err("nothing named");
    assert_eq!(violations(&no_step), vec!["domain", "step"]);
    let unknown_staff = confirm(
        &mut admin,
        ONE,
        v1::ManualStep::MailRouting,
        "staffMembers/nobody",
        "",
    )
    .await
    .expect_err("unknown staff member");
    assert_eq!(unknown_staff.code(), Code::NotFound);
    let unknown_domain = confirm(
        &mut admin,
        "unknown.example",
        v1::ManualStep::CloudIdentityFreeSubscribed,
        "",
        "",
    )
    .await
    .expect_err("undeclared domain");
    assert_eq!(unknown_domain.code(), Code::NotFound);
    // A note of exactly 1000 characters (not bytes) is fine.
    admin
        .confirm_manual_step(v1::ConfirmManualStepRequest {
            domain: format!("domains/{ONE}"),
            step: v1::ManualStep::CloudIdentityFreeSubscribed as i32,
            note: "é".repeat(1000),
            ..Default::default()
        })
        .await
        .expect("a note of 1000 characters");

    let bad_credential = admin
        .issue_sign_in_credential(v1::IssueSignInCredentialRequest {
            name: format!("domains/{ONE}/supportAccounts/"),
            request_id: "nope".into(),
        })
        .await
        .expect_err("bad credential request");
    assert_eq!(violations(&bad_credential), vec!["name", "request_id"]);
    // ana was never provisioned: no declared account yet.
    let undeclared = admin
        .issue_sign_in_credential(v1::IssueSignInCredentialRequest {
            name: format!("domains/{ONE}/supportAccounts/ana.silva"),
            request_id: String::new(),
        })
        .await
        .expect_err("undeclared account");
    assert_eq!(undeclared.code(), Code::NotFound);

    let bad_portal = admin
        .list_portal_access(v1::ListPortalAccessRequest {
            parent: "domains/-".into(),
        })
        .await
        .expect_err("portal access of every domain");
    assert_eq!(violations(&bad_portal), vec!["parent"]);

    // A viewer may not confirm; an operator of another domain may not either.
    let mut viewer = server.api("viewer").await;
    let viewer_confirm = confirm(&mut viewer, ONE, v1::ManualStep::MailRouting, "", "")
        .await
        .expect_err("viewer");
    assert_eq!(viewer_confirm.code(), Code::PermissionDenied);
    let mut one_operator = server.api("one-operator").await;
    create_domain(&mut admin, TWO).await;
    let other = confirm(&mut one_operator, TWO, v1::ManualStep::MailRouting, "", "")
        .await
        .expect_err("other domain");
    assert_eq!(other.code(), Code::PermissionDenied);
    confirm(&mut one_operator, ONE, v1::ManualStep::MailRouting, "", "")
        .await
        .expect("own domain, whole-domain mail routing");
    server.stop().await;
}

#[tokio::test]
async fn status_shows_work_under_way() {
    let server = TestServer::demo().await;
    let mut admin = server.api("admin").await;
    let mut ops = server.ops("admin").await;
    create_domain(&mut admin, TWO).await;
    create_staff(&mut admin, "ana", "ana.silva").await;

    // Google holds the first users.insert for three seconds, then drops the connection.
    let base = server.emulator_url.clone().expect("demo mode");
    let added = reqwest::Client::new()
        .post(format!("{base}emulator/v1/faults"))
        .json(&serde_json::json!({
            "method": "directory.users.insert",
            "times": 1,
            "action": {"kind": "hang", "ms": 3000},
        }))
        .send()
        .await
        .expect("emulator control API");
    assert!(added.status().is_success(), "{added:?}");

    let operation = admin
        .provision_support_access(v1::ProvisionSupportAccessRequest {
            domains: vec![format!("domains/{TWO}")],
            staff_members: vec!["staffMembers/ana".into()],
            request_id: request_id(),
            validate_only: false,
        })
        .await
        .expect("provision")
        .into_inner();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let under_way = loop {
        let current = status(&mut admin, TWO, false).await;
        if let Some(account) = current.accounts.first()
            && check(&account.checks, v1::CheckKind::AccountExists).state()
                == v1::CheckState::Pending
        {
            break check(&account.checks, v1::CheckKind::AccountExists).clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the account never showed as under way: {current:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(
        under_way.detail.contains("under way"),
        "{}",
        under_way.detail
    );

    let done = ops
        .wait_operation(
            support_access_proto::google::longrunning::WaitOperationRequest {
                name: operation.name,
                timeout: Some(prost_types::Duration {
                    seconds: 50,
                    nanos: 0,
                }),
            },
        )
        .await
        .expect("wait")
        .into_inner();
    assert!(done.done, "{done:?}");
    let after = status(&mut admin, TWO, false).await;
    assert_eq!(
        check(&after.accounts[0].checks, v1::CheckKind::AccountExists).state(),
        v1::CheckState::Ok
    );
    server.stop().await;
}
