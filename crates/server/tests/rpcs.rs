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
    assert_eq!(
        never.account_counts.as_ref().map(|c| c.total),
        Some(0),
        "no account is declared yet"
    );

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
    let counts = after.account_counts.clone().unwrap_or_default();
    assert_eq!((counts.total, counts.active, counts.revoked), (1, 1, 0));
    assert_eq!(
        counts
            .states
            .iter()
            .map(|c| (c.state(), c.count))
            .collect::<Vec<_>>(),
        vec![(S::ManualActionRequired, 1)]
    );
    assert_eq!(
        after
            .manual_steps
            .iter()
            .map(|m| (m.check(), m.account_count))
            .collect::<Vec<_>>(),
        vec![(K::AutomaticLicensing, 0), (K::AccountMailRouting, 1)]
    );
    let listed = accounts_of(&mut admin, TWO).await;
    assert_eq!(listed.len(), 1);
    let account = &listed[0];
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
    let routed_accounts = accounts_of(&mut admin, TWO).await;
    assert_eq!(
        check(&routed_accounts[0].checks, K::AccountMailRouting).state(),
        S::Ok
    );
    assert_eq!(routed_accounts[0].state(), S::Ok);
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
        filter: String::new(),
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
            // The seed's super administrator reaches the portal whatever roles they hold.
            v1::PortalAccessEntry {
                email: format!("admin@{ONE}"),
                roles: Vec::new(),
                managed: false,
                staff_member: String::new(),
                suspended: false,
                super_admin: true,
                owned: false,
                reasons: vec!["super administrator".to_owned()],
            },
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
            filter: "state = SOMETIMES".into(),
        })
        .await
        .expect_err("bad list");
    assert_eq!(
        violations(&bad_list),
        vec![
            "parent",
            "staff_member",
            "page_size",
            "page_token",
            "filter"
        ]
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
        let current = accounts_of(&mut admin, TWO).await;
        if let Some(account) = current.first()
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
    let after = accounts_of(&mut admin, TWO).await;
    assert_eq!(
        check(&after[0].checks, v1::CheckKind::AccountExists).state(),
        v1::CheckState::Ok
    );
    server.stop().await;
}

fn revoke_request(domain: &str, staff: &[&str], force: bool) -> v1::RevokeSupportAccessRequest {
    v1::RevokeSupportAccessRequest {
        domains: vec![format!("domains/{domain}")],
        staff_members: staff.iter().map(|s| format!("staffMembers/{s}")).collect(),
        mode: v1::RevokeMode::Suspend as i32,
        force,
        request_id: request_id(),
        validate_only: false,
    }
}

async fn accounts_of(api: &mut Api, domain: &str) -> Vec<v1::SupportAccount> {
    api.list_support_accounts(v1::ListSupportAccountsRequest {
        parent: format!("domains/{domain}"),
        ..Default::default()
    })
    .await
    .expect("list support accounts")
    .into_inner()
    .support_accounts
}

#[tokio::test]
async fn provision_never_regrants_a_revoked_account_and_regrant_does_with_a_reason() {
    let server = TestServer::demo().await;
    let mut admin = server.api("admin").await;
    let mut ops = server.ops("admin").await;
    create_domain(&mut admin, TWO).await;
    create_staff(&mut admin, "ana", "ana.silva").await;
    provision(&mut admin, &mut ops, &[TWO], &["ana"]).await;
    let active = accounts_of(&mut admin, TWO).await;
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].desired_access(), v1::DesiredAccess::Active);
    assert_eq!(active[0].ownership(), v1::Ownership::Created);
    assert!(!active[0].google_user_id.is_empty());
    assert_eq!(active[0].decided_by, "admin");

    // One of one may always be revoked.
    let revoke = revoke_request(TWO, &["ana"], false);
    let revoked_op = admin
        .revoke_support_access(revoke.clone())
        .await
        .expect("revoke")
        .into_inner();
    wait_done(
        &mut ops,
        &revoked_op.name,
        std::time::Duration::from_secs(60),
    )
    .await;

    // Provisioning everyone again leaves ana revoked: listed, REVOKED, without checks.
    provision(&mut admin, &mut ops, &[TWO], &[]).await;
    let listed = accounts_of(&mut admin, TWO).await;
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0].desired_access(), v1::DesiredAccess::Revoked);
    assert_eq!(listed[0].revoke_mode(), v1::RevokeMode::Suspend);
    assert!(listed[0].checks.is_empty());
    let status = status(&mut admin, TWO, false).await;
    let counts = status.account_counts.unwrap_or_default();
    assert_eq!((counts.total, counts.active, counts.revoked), (1, 0, 1));
    assert_eq!(
        counts
            .states
            .iter()
            .map(|c| (c.state(), c.count))
            .collect::<Vec<_>>(),
        vec![(v1::CheckState::Unspecified, 1)],
        "a revoked account has no checks"
    );

    // Re-granting needs staff members and a reason.
    let missing = admin
        .regrant_support_access(v1::RegrantSupportAccessRequest {
            domains: vec![format!("domains/{TWO}")],
            reason: "  ".into(),
            ..Default::default()
        })
        .await
        .expect_err("no staff, no reason");
    assert_eq!(violations(&missing), vec!["staff_members", "reason"]);

    let regrant = v1::RegrantSupportAccessRequest {
        domains: vec![format!("domains/{TWO}")],
        staff_members: vec!["staffMembers/ana".into()],
        reason: "back from leave, ticket OPS-7".into(),
        request_id: request_id(),
    };
    let operation = admin
        .regrant_support_access(regrant.clone())
        .await
        .expect("regrant")
        .into_inner();
    let replayed = admin
        .regrant_support_access(regrant.clone())
        .await
        .expect("replay")
        .into_inner();
    assert_eq!(replayed.name, operation.name);
    let back = accounts_of(&mut admin, TWO).await;
    assert_eq!(back[0].desired_access(), v1::DesiredAccess::Active);
    assert_eq!(back[0].revoke_mode(), v1::RevokeMode::Unspecified);
    let audit = admin
        .list_audit_events(v1::ListAuditEventsRequest {
            method: "/supportaccess.v1.SupportAccessService/RegrantSupportAccess".into(),
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_inner()
        .audit_events;
    assert!(
        audit
            .iter()
            .any(|e| e.target == "staffMembers/ana" && e.detail.contains("ticket OPS-7")),
        "{audit:#?}"
    );
    wait_done(
        &mut ops,
        &operation.name,
        std::time::Duration::from_secs(60),
    )
    .await;

    // The revocation's request id still answers with its operation after ana was deleted.
    let revoke_again = admin
        .revoke_support_access(revoke_request(TWO, &["ana"], true))
        .await
        .expect("revoke again")
        .into_inner();
    wait_done(
        &mut ops,
        &revoke_again.name,
        std::time::Duration::from_secs(60),
    )
    .await;
    admin
        .delete_staff_member(v1::DeleteStaffMemberRequest {
            name: "staffMembers/ana".into(),
            ..Default::default()
        })
        .await
        .expect("revoked: may be deleted");
    let replayed = admin
        .revoke_support_access(revoke)
        .await
        .expect("replay after the staff member was deleted")
        .into_inner();
    assert_eq!(replayed.name, revoked_op.name);
    server.stop().await;
}

#[tokio::test]
async fn adoption_is_refused_for_admins_and_paid_licenses_and_recorded_otherwise() {
    let server = TestServer::demo().await;
    let mut admin = server.api("admin").await;
    create_domain(&mut admin, TWO).await;
    create_staff(&mut admin, "boss", "admin").await;
    create_staff(&mut admin, "sam", "sales").await;
    create_staff(&mut admin, "carla", "carla").await;
    create_staff(&mut admin, "dan", "dan").await;
    let adopt =
        |username: &str, reason: &str, validate_only: bool| v1::AdoptSupportAccountRequest {
            name: format!("domains/{TWO}/supportAccounts/{username}"),
            reason: reason.to_owned(),
            request_id: request_id(),
            validate_only,
        };
    const WHY: &str = "carla's account predates the service, ticket OPS-9";

    let no_reason = admin
        .adopt_support_account(adopt("carla", "", false))
        .await
        .expect_err("reason required");
    assert_eq!(violations(&no_reason), vec!["reason"]);
    let unknown = admin
        .adopt_support_account(adopt("nobody", WHY, false))
        .await
        .expect_err("not a staff member's username");
    assert_eq!(unknown.code(), Code::NotFound);
    let no_user = admin
        .adopt_support_account(adopt("dan", WHY, false))
        .await
        .expect_err("no Google user");
    assert_eq!(no_user.code(), Code::NotFound);

    for validate_only in [true, false] {
        let super_admin = admin
            .adopt_support_account(adopt("admin", WHY, validate_only))
            .await
            .expect_err("super admin");
        assert_eq!(super_admin.code(), Code::FailedPrecondition);
        assert_eq!(reason(&super_admin), "ADOPTION_REFUSED_SUPER_ADMIN");
        let paid = admin
            .adopt_support_account(adopt("sales", WHY, validate_only))
            .await
            .expect_err("paid license");
        assert_eq!(reason(&paid), "ADOPTION_REFUSED_PAID_LICENSE");
        assert!(paid.message().contains("1010020028"), "{}", paid.message());
    }

    // Someone created carla's account by hand (no license: automatic licensing is off).
    let google = console(&server, TWO).await;
    let carla = google
        .users_insert(&support_access_google::model::NewUser {
            primary_email: format!("carla@{TWO}"),
            name: support_access_google::model::NewUserName {
                given_name: "Carla".into(),
                family_name: "Costa".into(),
            },
            password: support_access_google::SecretString::new("a long enough password".into()),
            hash_function: None,
            change_password_at_next_login: None,
            org_unit_path: None,
            suspended: None,
            recovery_email: None,
            include_in_global_address_list: None,
            external_ids: Vec::new(),
        })
        .await
        .expect("create carla by hand");

    // Eve's old address is an alias of her renamed account: never adopted as the address.
    create_staff(&mut admin, "eve", "eve").await;
    let eve = google
        .users_insert(&support_access_google::model::NewUser {
            primary_email: format!("eve@{TWO}"),
            name: support_access_google::model::NewUserName {
                given_name: "Eve".into(),
                family_name: "Evans".into(),
            },
            password: support_access_google::SecretString::new("a long enough password".into()),
            hash_function: None,
            change_password_at_next_login: None,
            org_unit_path: None,
            suspended: None,
            recovery_email: None,
            include_in_global_address_list: None,
            external_ids: Vec::new(),
        })
        .await
        .expect("create eve by hand");
    google
        .users_update(
            &eve.id,
            &support_access_google::model::UserChanges {
                primary_email: Some(format!("eve.evans@{TWO}")),
                ..Default::default()
            },
        )
        .await
        .expect("rename eve");
    let alias = admin
        .adopt_support_account(adopt("eve", WHY, false))
        .await
        .expect_err("an alias");
    assert_eq!(reason(&alias), "ADOPTION_REFUSED_ALIAS");
    assert!(
        alias.message().contains(&format!("eve.evans@{TWO}")),
        "{}",
        alias.message()
    );

    let checked = admin
        .adopt_support_account(adopt("carla", WHY, true))
        .await
        .expect("validate only")
        .into_inner();
    assert!(checked.done);
    let mut db = server.database().await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM support_accounts")
        .fetch_one(&mut db)
        .await
        .expect("count");
    assert_eq!(rows, 0, "validate_only records nothing");

    let request = adopt("carla", WHY, false);
    let operation = admin
        .adopt_support_account(request.clone())
        .await
        .expect("adopt")
        .into_inner();
    assert!(operation.name.starts_with("operations/"));
    let replayed = admin
        .adopt_support_account(request)
        .await
        .expect("replay")
        .into_inner();
    assert_eq!(replayed.name, operation.name);
    let (adopt_user_id, reason_text, decided_by, desired): (
        Option<String>,
        String,
        String,
        String,
    ) = sqlx::query_as(
        "SELECT adopt_user_id, decision_reason, decided_by, desired FROM support_accounts \
             WHERE staff_member_id = 'carla'",
    )
    .fetch_one(&mut db)
    .await
    .expect("carla's row");
    // The engine may already have marked it (then the approval is consumed into ownership).
    let owned: Option<String> = sqlx::query_scalar(
        "SELECT google_user_id FROM support_accounts \
         WHERE staff_member_id = 'carla' AND ownership <> 'NOT_OWNED'",
    )
    .fetch_optional(&mut db)
    .await
    .expect("ownership")
    .flatten();
    assert!(
        adopt_user_id.as_deref() == Some(carla.id.as_str())
            || owned.as_deref() == Some(carla.id.as_str()),
        "{adopt_user_id:?} {owned:?}"
    );
    assert_eq!(
        (reason_text.as_str(), decided_by.as_str(), desired.as_str()),
        (WHY, "admin", "ACTIVE")
    );
    // Once the service owns it, adopting it again is refused.
    sqlx::query(
        "UPDATE support_accounts SET ownership = 'ADOPTED', google_user_id = $1, adopt_user_id = NULL \
         WHERE staff_member_id = 'carla'",
    )
    .bind(&carla.id)
    .execute(&mut db)
    .await
    .expect("owned");
    let again = admin
        .adopt_support_account(adopt("carla", WHY, false))
        .await
        .expect_err("already owned");
    assert_eq!(reason(&again), "ALREADY_OWNED");
    let audit = admin
        .list_audit_events(v1::ListAuditEventsRequest {
            method: "/supportaccess.v1.SupportAccessService/AdoptSupportAccount".into(),
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_inner()
        .audit_events;
    assert!(
        audit.iter().any(
            |e| e.target == format!("domains/{TWO}/supportAccounts/carla")
                && e.detail.contains("OPS-9")
                && e.detail.contains(&carla.id)
        ),
        "{audit:#?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_staff_member_with_access_cannot_be_deleted() {
    let server = TestServer::demo().await;
    let mut admin = server.api("admin").await;
    let mut ops = server.ops("admin").await;
    create_domain(&mut admin, TWO).await;
    create_staff(&mut admin, "ana", "ana.silva").await;
    provision(&mut admin, &mut ops, &[TWO], &["ana"]).await;
    for validate_only in [true, false] {
        let refused = admin
            .delete_staff_member(v1::DeleteStaffMemberRequest {
                name: "staffMembers/ana".into(),
                validate_only,
                ..Default::default()
            })
            .await
            .expect_err("still has access");
        assert_eq!(refused.code(), Code::FailedPrecondition);
        assert_eq!(reason(&refused), "STAFF_MEMBER_HAS_ACCESS");
        assert!(
            refused.message().contains(&format!("domains/{TWO}"))
                && refused.message().contains("RevokeSupportAccess"),
            "{}",
            refused.message()
        );
    }
    let revoked = admin
        .revoke_support_access(revoke_request(TWO, &["ana"], false))
        .await
        .expect("revoke")
        .into_inner();
    wait_done(&mut ops, &revoked.name, std::time::Duration::from_secs(60)).await;
    admin
        .delete_staff_member(v1::DeleteStaffMemberRequest {
            name: "staffMembers/ana".into(),
            ..Default::default()
        })
        .await
        .expect("deleted once revoked");
    server.stop().await;
}

#[tokio::test]
async fn drift_events_are_listed_with_a_checked_filter_and_shown_in_status() {
    let server = TestServer::demo().await;
    let mut admin = server.api("admin").await;
    create_domain(&mut admin, ONE).await;
    create_domain(&mut admin, TWO).await;
    let list = |parent: &str, filter: &str| v1::ListDriftEventsRequest {
        parent: parent.to_owned(),
        filter: filter.to_owned(),
        ..Default::default()
    };
    let bad = admin
        .list_drift_events(list("domains/-", "open=maybe"))
        .await
        .expect_err("bad filter");
    assert_eq!(violations(&bad), vec!["filter"]);
    let bad = admin
        .list_drift_events(list("domains", "kind=NOT_A_KIND AND open=true"))
        .await
        .expect_err("bad parent and filter");
    assert_eq!(violations(&bad), vec!["parent", "filter"]);
    assert!(
        admin
            .list_drift_events(list("domains/-", ""))
            .await
            .expect("empty")
            .into_inner()
            .drift_events
            .is_empty()
    );

    // Reconciliation found ana's role gone in both domains; the one in ONE was repaired.
    let mut db = server.database().await;
    for (domain, resolved) in [(ONE, true), (TWO, false)] {
        sqlx::query(
            "INSERT INTO drift_events (domain_name, kind, account_email, staff_member_id, detail, \
                                       evidence, resolve_time, repair_operation) \
             VALUES ($1, 'ACCOUNT_ROLE_REMOVED', $2, 'ana', 'the role is gone', \
                     '{\"role\": \"Customer Care Portal Access\"}', \
                     CASE WHEN $3 THEN now() END, CASE WHEN $3 THEN gen_random_uuid() END)",
        )
        .bind(domain)
        .bind(format!("ana.silva@{domain}"))
        .bind(resolved)
        .execute(&mut db)
        .await
        .expect("insert drift");
    }
    let open = admin
        .list_drift_events(list(
            "domains/-",
            &format!("open=true AND kind=ACCOUNT_ROLE_REMOVED AND account=\"ana.silva@{TWO}\""),
        ))
        .await
        .expect("open drift")
        .into_inner()
        .drift_events;
    assert_eq!(open.len(), 1, "{open:#?}");
    assert!(
        open[0]
            .name
            .starts_with(&format!("domains/{TWO}/driftEvents/"))
    );
    assert_eq!(open[0].kind(), v1::DriftKind::AccountRoleRemoved);
    assert_eq!(open[0].staff_member, "staffMembers/ana");
    assert_eq!(open[0].evidence["role"], PORTAL_ROLE);
    assert!(open[0].open && open[0].resolve_time.is_none());
    // Paging: one at a time, newest first.
    let first = admin
        .list_drift_events(v1::ListDriftEventsRequest {
            parent: "domains/-".into(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("page")
        .into_inner();
    assert_eq!(first.drift_events[0].account, format!("ana.silva@{TWO}"));
    let second = admin
        .list_drift_events(v1::ListDriftEventsRequest {
            parent: "domains/-".into(),
            page_size: 1,
            page_token: first.next_page_token,
            ..Default::default()
        })
        .await
        .expect("page 2")
        .into_inner();
    assert_eq!(second.drift_events[0].account, format!("ana.silva@{ONE}"));
    assert!(second.next_page_token.is_empty());
    // An operator of ONE sees ONE's only.
    let mut one_operator = server.api("one-operator").await;
    let own = one_operator
        .list_drift_events(list("domains/-", ""))
        .await
        .expect("own domains")
        .into_inner()
        .drift_events;
    assert_eq!(own.len(), 1);
    assert!(!own[0].open && own[0].repair_operation.starts_with("operations/"));

    let one = status(&mut admin, ONE, false).await;
    assert!(one.open_drift.is_empty());
    assert_eq!(one.recent_repairs.len(), 1);
    assert_eq!(one.repairs_total, 1);
    assert_eq!(one.repair_policy(), v1::RepairPolicy::Repair);
    let two = status(&mut admin, TWO, false).await;
    assert_eq!(two.open_drift.len(), 1);
    assert_eq!(two.repairs_total, 0);
    server.stop().await;
}

#[tokio::test]
async fn a_domain_repair_policy_round_trips() {
    let server = TestServer::demo().await;
    let mut admin = server.api("admin").await;
    let created = admin
        .create_domain(v1::CreateDomainRequest {
            domain: Some(v1::Domain {
                domain_name: TWO.into(),
                credential: "default".into(),
                delegated_admin: format!("admin@{TWO}"),
                repair_policy: v1::RepairPolicy::ReportOnly as i32,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("create")
        .into_inner();
    assert_eq!(created.repair_policy(), v1::RepairPolicy::ReportOnly);
    let got = admin
        .get_domain(v1::GetDomainRequest {
            name: format!("domains/{TWO}"),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(got.repair_policy(), v1::RepairPolicy::ReportOnly);
    assert_eq!(
        status(&mut admin, TWO, false).await.repair_policy(),
        v1::RepairPolicy::ReportOnly
    );
    let updated = admin
        .update_domain(v1::UpdateDomainRequest {
            domain: Some(v1::Domain {
                name: format!("domains/{TWO}"),
                repair_policy: v1::RepairPolicy::Repair as i32,
                etag: got.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["repair_policy".into()],
            }),
            ..Default::default()
        })
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.repair_policy(), v1::RepairPolicy::Repair);
    assert_eq!(updated.display_name, got.display_name);
    let bad = admin
        .update_domain(v1::UpdateDomainRequest {
            domain: Some(v1::Domain {
                name: format!("domains/{TWO}"),
                repair_policy: 42,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["repair_policy".into()],
            }),
            ..Default::default()
        })
        .await
        .expect_err("unknown policy");
    assert_eq!(violations(&bad), vec!["domain.repair_policy"]);
    // Not set on create: REPAIR.
    let default = create_domain(&mut admin, ONE).await;
    assert_eq!(default.repair_policy(), v1::RepairPolicy::Repair);
    server.stop().await;
}

#[tokio::test]
async fn mass_change_counts_owned_active_accounts_and_the_window() {
    let server = TestServer::start(&[
        "--demo".to_owned(),
        "--mass-change-limit-percent".to_owned(),
        "10".to_owned(),
    ])
    .await;
    let mut admin = server.api("admin").await;
    let mut ops = server.ops("admin").await;
    create_domain(&mut admin, TWO).await;
    let ids: Vec<String> = (0..10).map(|i| format!("s{i}")).collect();
    for id in &ids {
        create_staff(&mut admin, id, &format!("staff.{id}")).await;
    }
    let staff: Vec<&str> = ids.iter().map(String::as_str).collect();
    provision(&mut admin, &mut ops, &[TWO], &staff).await;
    let owned = accounts_of(&mut admin, TWO)
        .await
        .iter()
        .filter(|a| a.ownership() == v1::Ownership::Created)
        .count();
    assert_eq!(owned, 10);

    // 2 of 10 is more than 10 %.
    let two = revoke_request(TWO, &["s0", "s1"], false);
    let refused = admin
        .revoke_support_access(two.clone())
        .await
        .expect_err("2 of 10");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "MASS_CHANGE_REFUSED");
    assert!(
        refused.message().contains("2 of the 10"),
        "{}",
        refused.message()
    );
    // validate_only answers the same, through the same check.
    let validated = admin
        .revoke_support_access(v1::RevokeSupportAccessRequest {
            validate_only: true,
            ..two.clone()
        })
        .await
        .expect_err("validate only: 2 of 10");
    assert_eq!(
        (validated.code(), reason(&validated), validated.message()),
        (refused.code(), reason(&refused), refused.message())
    );
    // Nothing was recorded.
    assert!(
        accounts_of(&mut admin, TWO)
            .await
            .iter()
            .all(|a| a.desired_access() == v1::DesiredAccess::Active)
    );

    // 1 of 10 is always allowed, but not twice within the window: two single revocations at
    // the same time serialize on the domain, and the second counts the first (2 of 10 again).
    let mut other = server.api("admin").await;
    let (a, b) = tokio::join!(
        admin.revoke_support_access(revoke_request(TWO, &["s0"], false)),
        other.revoke_support_access(revoke_request(TWO, &["s1"], false)),
    );
    let (allowed, second) = match (a, b) {
        (Ok(op), Err(refused)) | (Err(refused), Ok(op)) => (op.into_inner(), refused),
        other => panic!("exactly one single revocation may pass: {other:?}"),
    };
    assert!(allowed.name.starts_with("operations/"));
    assert_eq!(reason(&second), "MASS_CHANGE_REFUSED");
    assert!(
        second.message().contains("2 of the 10")
            && second
                .message()
                .contains("revoked within 24h (1 of them already were)"),
        "{}",
        second.message()
    );
    // And later still, within the window.
    let third = admin
        .revoke_support_access(revoke_request(TWO, &["s2"], false))
        .await
        .expect_err("the window still counts the first");
    assert_eq!(reason(&third), "MASS_CHANGE_REFUSED");
    // force skips the limit.
    admin
        .revoke_support_access(revoke_request(TWO, &["s3", "s4"], true))
        .await
        .expect("forced");
    let revoked = accounts_of(&mut admin, TWO)
        .await
        .iter()
        .filter(|a| a.desired_access() == v1::DesiredAccess::Revoked)
        .count();
    assert_eq!(revoked, 3);
    server.stop().await;
}
