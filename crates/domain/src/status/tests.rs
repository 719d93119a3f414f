//! Unit tests of the domain status.

use super::*;
use crate::fixtures::*;
use crate::observed::{
    AdminObservation, LicenseAssignment, ManualConfirmation, Sku, SubscriptionObservation,
};

fn status(desired: &DesiredDomain, observed: &ObservedDomain) -> DomainStatus {
    domain_status(
        desired,
        observed,
        &Activity::default(),
        &PlannerConfig::default(),
    )
}

fn state_of(checks: &[Check], kind: CheckKind) -> (CheckState, &str) {
    let check = checks.iter().find(|c| c.kind == kind).unwrap();
    (check.state, check.detail.as_str())
}

fn states(checks: &[Check]) -> Vec<(CheckKind, CheckState)> {
    checks.iter().map(|c| (c.kind, c.state)).collect()
}

#[test]
fn correct_and_confirmed_domain_is_ok_everywhere() {
    let desired = desired(&["ana", "bo"]);
    let status = status(&desired, &correct_observation(&desired));
    assert_eq!(status.state, CheckState::Ok, "{status:#?}");
    assert!(status.manual_actions().is_empty());
    assert_eq!(status.accounts.len(), 2);
    for account in &status.accounts {
        assert_eq!(account.checks.len(), 7);
        assert!(account.checks.iter().all(|c| c.state == CheckState::Ok));
    }
    assert_eq!(
        state_of(&status.checks, CheckKind::CloudIdentitySubscription),
        (
            CheckState::Ok,
            "Cloud Identity Free is subscribed: 3 of 50 seats used, 47 free, 0 account(s) to create"
        )
    );
    assert_eq!(
        state_of(&status.accounts[0].checks, CheckKind::AccountRole),
        (
            CheckState::Ok,
            "the portal opens through Customer Care Portal Access"
        )
    );
}

#[test]
fn fresh_domain_shows_what_is_missing_and_what_needs_a_person() {
    let desired = desired(&["ana"]);
    let status = status(&desired, &fresh_observation());
    assert_eq!(
        states(&status.checks),
        [
            (CheckKind::DelegatedAdmin, CheckState::Ok),
            (CheckKind::OrgUnit, CheckState::Missing),
            (CheckKind::CloudIdentitySubscription, CheckState::Ok),
            (
                CheckKind::AutomaticLicensing,
                CheckState::ManualActionRequired
            ),
            (CheckKind::PortalRole, CheckState::Missing),
        ]
    );
    assert_eq!(
        states(&status.accounts[0].checks),
        [
            (CheckKind::AccountExists, CheckState::Missing),
            (CheckKind::AccountInOrgUnit, CheckState::Missing),
            (CheckKind::AccountLicense, CheckState::Missing),
            (CheckKind::AccountNoPaidLicense, CheckState::Ok),
            (CheckKind::AccountRole, CheckState::Missing),
            (CheckKind::AccountNotSuspended, CheckState::Ok),
            (CheckKind::AccountMailRouting, CheckState::Missing),
        ]
    );
    assert_eq!(status.accounts[0].state, CheckState::Missing);
    assert_eq!(status.state, CheckState::ManualActionRequired);
    let automatic = status
        .checks
        .iter()
        .find(|c| c.kind == CheckKind::AutomaticLicensing)
        .unwrap();
    assert!(
        automatic
            .detail
            .starts_with("Google offers no API to read automatic licensing")
    );
    assert!(
        automatic
            .manual_action
            .as_ref()
            .unwrap()
            .contains("Billing > Subscriptions")
    );
    assert!(
        automatic
            .manual_action
            .as_ref()
            .unwrap()
            .ends_with("ConfirmManualStep (step AUTOMATIC_LICENSING_OFF)")
    );
}

#[test]
fn unconfirmed_mail_routing_gives_exact_instructions() {
    let desired = desired(&["ana"]);
    let mut observed = correct_observation(&desired);
    observed
        .confirmations
        .retain(|c| c.step != ManualStep::MailRouting);
    let status = status(&desired, &observed);
    let check = status.accounts[0]
        .checks
        .iter()
        .find(|c| c.kind == CheckKind::AccountMailRouting)
        .unwrap();
    assert_eq!(check.state, CheckState::ManualActionRequired);
    assert_eq!(
        check.manual_action.as_deref(),
        Some(
            "make case e-mail for ana@reseller.example reach ana@work.example: route mail addressed to ana@reseller.example to ana@work.example (Google Admin console of reseller.example > Apps > Google Workspace > Gmail > Routing, a recipient address map or routing rule), or sign in to the Customer Care Portal as ana@reseller.example and enter ana@work.example in the Case Sharing field; then confirm it with ConfirmManualStep (step MAIL_ROUTING, staff member ana)"
        )
    );
    assert_eq!(
        status.manual_actions(),
        [check.manual_action.as_deref().unwrap()]
    );
    assert_eq!(status.state, CheckState::ManualActionRequired);

    // Confirmed for this staff member only.
    observed.confirmations.push(ManualConfirmation {
        step: ManualStep::MailRouting,
        staff_member: Some(staff("ana")),
    });
    assert_eq!(status_state(&desired, &observed), CheckState::Ok);
}

fn status_state(desired: &DesiredDomain, observed: &ObservedDomain) -> CheckState {
    status(desired, observed).state
}

#[test]
fn wrong_recovery_email_is_drifted_not_manual() {
    let desired = desired(&["ana"]);
    let mut observed = correct_observation(&desired);
    observed.users[0].recovery_email = Some("old@x.example".into());
    let status = status(&desired, &observed);
    assert_eq!(
        state_of(&status.accounts[0].checks, CheckKind::AccountMailRouting),
        (
            CheckState::Drifted,
            "recovery e-mail is old@x.example instead of ana@work.example; the service sets it"
        )
    );
}

#[test]
fn paid_license_shows_automatic_licensing_on() {
    let desired = desired(&["ana"]);
    let mut observed = correct_observation(&desired);
    observed.paid_licenses.push(LicenseAssignment {
        sku: Sku::new("Google-Apps", "1010020028"),
        user: email("ana@reseller.example"),
    });
    let status = status(&desired, &observed);
    assert_eq!(
        state_of(&status.checks, CheckKind::AutomaticLicensing),
        (
            CheckState::ManualActionRequired,
            "automatic licensing appears to be on for /Customer Care Portal although an operator confirmed it off: paid Google Workspace licenses were found on ana@reseller.example"
        )
    );
    assert_eq!(
        state_of(&status.accounts[0].checks, CheckKind::AccountNoPaidLicense),
        (
            CheckState::Drifted,
            "holds the paid license(s) Google-Apps/1010020028"
        )
    );
}

#[test]
fn blockers_become_manual_actions_on_their_check() {
    let desired = desired(&["ana"]);
    let mut observed = fresh_observation();
    observed.admin = AdminObservation::NotFound;
    observed.subscription = SubscriptionObservation::Present {
        seat_cap: Some(50),
        seats_used: Some(50),
    };
    observed.privilege_tree.clear();
    let status = status(&desired, &observed);
    assert_eq!(
        states(&status.checks),
        [
            (CheckKind::DelegatedAdmin, CheckState::ManualActionRequired),
            (CheckKind::OrgUnit, CheckState::Missing),
            (
                CheckKind::CloudIdentitySubscription,
                CheckState::ManualActionRequired
            ),
            (
                CheckKind::AutomaticLicensing,
                CheckState::ManualActionRequired
            ),
            (CheckKind::PortalRole, CheckState::ManualActionRequired),
        ]
    );
    assert_eq!(
        state_of(&status.checks, CheckKind::DelegatedAdmin).1,
        "the delegated admin admin@reseller.example does not exist in reseller.example"
    );
    assert_eq!(
        state_of(&status.accounts[0].checks, CheckKind::AccountRole).1,
        "ana@reseller.example does not exist yet, and the portal role is not available (see the PORTAL_ROLE check)"
    );
    assert_eq!(status.manual_actions().len(), 4);
}

#[test]
fn subscription_states() {
    let desired = desired(&[]);
    let mut observed = correct_observation(&desired);
    observed.subscription = SubscriptionObservation::Unknown;
    assert_eq!(
        state_of(
            &status(&desired, &observed).checks,
            CheckKind::CloudIdentitySubscription
        )
        .0,
        CheckState::Ok
    );
    observed.confirmations.clear();
    let unknown = status(&desired, &observed);
    let check = unknown
        .checks
        .iter()
        .find(|c| c.kind == CheckKind::CloudIdentitySubscription)
        .unwrap();
    assert_eq!(check.state, CheckState::ManualActionRequired);
    assert!(
        check
            .manual_action
            .as_ref()
            .unwrap()
            .contains("CLOUD_IDENTITY_FREE_SUBSCRIBED")
    );
    observed.subscription = SubscriptionObservation::Absent;
    assert_eq!(
        state_of(
            &status(&desired, &observed).checks,
            CheckKind::CloudIdentitySubscription
        ),
        (
            CheckState::ManualActionRequired,
            "Google shows no Cloud Identity Free subscription"
        )
    );
}

#[test]
fn account_blockers_show_on_the_account() {
    let desired = desired(&["ana"]);
    let mut observed = correct_observation(&desired);
    observed.users[0].is_super_admin = true;
    let status = status(&desired, &observed);
    let check = &status.accounts[0].checks[0];
    assert_eq!(check.kind, CheckKind::AccountExists);
    assert_eq!(check.state, CheckState::Conflict);
    assert!(
        check.detail.starts_with(
            "ana@reseller.example exists (user id u-ana) and is a super administrator: support-access never changes a super administrator; "
        ),
        "{}",
        check.detail
    );
    assert!(
        check
            .detail
            .ends_with(check.manual_action.as_deref().unwrap())
    );
}

#[test]
fn a_conflict_is_its_own_state_and_the_account_is_not_checked_further() {
    let desired = desired(&["ana", "bo"]);
    let mut observed = correct_observation(&desired);
    observed.users[0].marker = None;
    observed.users[0].suspended = true;
    let status = status(&desired, &observed);
    let ana = status.account(&email("ana@reseller.example")).unwrap();
    assert_eq!(ana.state, CheckState::Conflict);
    assert!(ana.checks.iter().all(|c| c.state == CheckState::Conflict));
    assert_eq!(ana.checks.len(), 7);
    assert_eq!(
        state_of(&ana.checks, CheckKind::AccountNotSuspended).1,
        "not checked: ana@reseller.example is not owned by support-access (see ACCOUNT_EXISTS)"
    );
    let exists = &ana.checks[0];
    assert_eq!(
        exists.detail,
        format!(
            "ana@reseller.example (user id u-ana) is the account support-access owns for staff member ana, but its support-access marker (externalIds entry of custom type support-access, value staffMembers/ana) was removed; {}",
            exists.manual_action.as_deref().unwrap()
        )
    );
    // bo is unaffected; the domain shows the conflict.
    let bo = status.account(&email("bo@reseller.example")).unwrap();
    assert_eq!(bo.state, CheckState::Ok);
    assert_eq!(status.state, CheckState::Conflict);
    assert_eq!(CheckState::Conflict.as_str(), "CONFLICT");
    // A failed step is worse than a conflict; a conflict worse than a manual action.
    assert_eq!(
        CheckState::summary([CheckState::Conflict, CheckState::ManualActionRequired]),
        CheckState::Conflict
    );
    assert_eq!(
        CheckState::summary([CheckState::Conflict, CheckState::Error]),
        CheckState::Error
    );
}

#[test]
fn an_approved_adoption_shows_as_drifted_until_marked() {
    let account = unrecorded_account("ana").with_ownership(None, Some(user_id("ana")));
    let desired = DesiredDomain::new(
        domain(),
        email("admin@reseller.example"),
        crate::names::default_support_ou(),
        crate::names::RoleMode::CustomRole,
        crate::names::default_custom_role(),
        vec![account],
    )
    .unwrap();
    let mut observed = correct_observation(&desired);
    observed.users[0].marker = None;
    assert_eq!(
        state_of(
            &status(&desired, &observed).accounts[0].checks,
            CheckKind::AccountExists
        ),
        (
            CheckState::Drifted,
            "ana@reseller.example exists (id u-ana) and an operator approved adopting it; the service marks it as staff member ana's support account"
        )
    );
    observed.users[0].marker = Some("staffMembers/ana".into());
    assert_eq!(status(&desired, &observed).state, CheckState::Ok);
}

#[test]
fn running_and_failed_steps_overlay_their_checks() {
    let desired = desired(&["ana", "bo"]);
    let observed = fresh_observation();
    let plan = crate::plan::plan_domain(&desired, &observed, &PlannerConfig::default());
    let create_ana = plan.steps[2].step.clone();
    let role_bo = plan.steps.last().unwrap().step.clone();
    assert_eq!(role_bo.kind().as_str(), "ASSIGN_ROLE");
    let activity = Activity {
        pending: vec![plan.steps[0].step.clone(), create_ana],
        failed: vec![FailedStep {
            step: role_bo,
            detail: "403 forbidden: Not Authorized to access this resource/api".into(),
        }],
    };
    let status = domain_status(&desired, &observed, &activity, &PlannerConfig::default());
    assert_eq!(
        state_of(&status.checks, CheckKind::OrgUnit),
        (
            CheckState::Pending,
            "/Customer Care Portal does not exist; the service creates it; CREATE_ORG_UNIT is under way"
        )
    );
    let ana = status.account(&email("ana@reseller.example")).unwrap();
    assert_eq!(
        state_of(&ana.checks, CheckKind::AccountExists).0,
        CheckState::Pending
    );
    assert_eq!(
        state_of(&ana.checks, CheckKind::AccountInOrgUnit).0,
        CheckState::Pending
    );
    assert_eq!(
        state_of(&ana.checks, CheckKind::AccountRole).0,
        CheckState::Missing
    );
    let bo = status.account(&email("bo@reseller.example")).unwrap();
    assert_eq!(
        state_of(&bo.checks, CheckKind::AccountRole),
        (
            CheckState::Error,
            "bo@reseller.example does not exist yet; it will get 'Customer Care Portal Access'; ASSIGN_ROLE failed: 403 forbidden: Not Authorized to access this resource/api"
        )
    );
    assert_eq!(bo.state, CheckState::Error);
    assert_eq!(status.state, CheckState::Error);
}

#[test]
fn unobserved_domain_is_error_everywhere() {
    let desired = desired(&["ana"]);
    let status = unobserved_status(&desired, "unauthorized_client: Client is unauthorized");
    assert_eq!(status.state, CheckState::Error);
    assert_eq!(status.checks.len(), 5);
    assert_eq!(status.accounts[0].checks.len(), 7);
    assert!(
        status
            .checks
            .iter()
            .chain(&status.accounts[0].checks)
            .all(|c| c.state == CheckState::Error
                && c.detail
                    == "Google could not be observed: unauthorized_client: Client is unauthorized")
    );
}

#[test]
fn summary_takes_the_most_severe_state() {
    use CheckState::*;
    assert_eq!(CheckState::summary([]), Ok);
    assert_eq!(CheckState::summary([Ok, Pending]), Pending);
    assert_eq!(CheckState::summary([Missing, Pending, Ok]), Missing);
    assert_eq!(CheckState::summary([Missing, Drifted]), Drifted);
    assert_eq!(
        CheckState::summary([ManualActionRequired, Drifted]),
        ManualActionRequired
    );
    assert_eq!(
        CheckState::summary([ManualActionRequired, Error, Ok]),
        Error
    );
    assert_eq!(ManualActionRequired.as_str(), "MANUAL_ACTION_REQUIRED");
    assert_eq!(
        CheckKind::AccountMailRouting.as_str(),
        "ACCOUNT_MAIL_ROUTING"
    );
    assert!(CheckKind::AccountRole.is_account_level());
    assert!(!CheckKind::PortalRole.is_account_level());
}

#[test]
fn status_serializes() {
    let desired = desired(&["ana"]);
    let status = status(&desired, &fresh_observation());
    let json = serde_json::to_string(&status).unwrap();
    assert!(
        json.contains(r#""kind":"ORG_UNIT","state":"MISSING""#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<DomainStatus>(&json).unwrap(), status);
}
