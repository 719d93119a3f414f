//! Unit tests of the planner: one scenario per rule, asserting the steps, their order and what a
//! person reading the plan sees.

use super::*;
use crate::fixtures::*;
use crate::names::default_support_ou;
use crate::observed::{LicenseAssignment, ManualConfirmation, ObservedRoleAssignment, ScopeType};
use crate::simulate::apply_steps;

fn plan(desired: &DesiredDomain, observed: &ObservedDomain) -> DomainPlan {
    plan_domain(desired, observed, &PlannerConfig::default())
}

fn keys(plan: &DomainPlan) -> Vec<String> {
    plan.steps.iter().map(|s| s.step.key()).collect()
}

fn blocker_codes(plan: &DomainPlan) -> Vec<&BlockerKind> {
    plan.blockers.iter().map(|b| &b.kind).collect()
}

#[test]
fn fresh_domain_gets_org_unit_role_then_three_steps_per_account() {
    let desired = desired(&["bo", "ana"]);
    let plan = plan(&desired, &fresh_observation());
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    assert_eq!(
        keys(&plan),
        [
            "CREATE_ORG_UNIT:/Customer Care Portal",
            "ENSURE_ROLE:Customer Care Portal Access",
            "CREATE_USER:ana@reseller.example",
            "ASSIGN_LICENSE:ana@reseller.example:101001/1010010001",
            "ASSIGN_ROLE:ana@reseller.example",
            "CREATE_USER:bo@reseller.example",
            "ASSIGN_LICENSE:bo@reseller.example:101001/1010010001",
            "ASSIGN_ROLE:bo@reseller.example",
        ]
    );
    assert_eq!(
        plan.steps[1].step,
        Step::CreateCustomRole {
            role_name: crate::names::default_custom_role(),
            privileges: vec![
                privilege("RESELLER_VIEW_CUSTOMERS"),
                privilege("RESELLER_ACCESS_CUSTOMER_SUPPORT_CASES")
            ],
        }
    );
    assert_eq!(
        plan.steps[2].step,
        Step::CreateUser {
            account: email("ana@reseller.example"),
            names: PersonNames {
                given_name: PersonName::parse("Ana").unwrap(),
                family_name: PersonName::parse("Silva").unwrap(),
            },
            org_unit: default_support_ou(),
            recovery_email: email("ana@work.example"),
            marker: "staffMembers/ana".into(),
        }
    );
    assert_eq!(plan.steps[2].staff_member, Some(staff("ana")));
    assert_eq!(
        plan.steps[2].reason,
        "ana@reseller.example does not exist: create it in /Customer Care Portal with recovery e-mail ana@work.example and a random password nobody keeps"
    );
    // The role assignment names the user by e-mail (its id is unknown) and the role by name.
    assert_eq!(
        plan.steps[4].step,
        Step::AssignRole {
            account: email("ana@reseller.example"),
            user_id: None,
            role: RoleRef::Planned {
                role_name: crate::names::default_custom_role()
            },
        }
    );
    assert_eq!(plan.steps[0].staff_member, None);
    assert!(!plan.is_blocked());
    assert_eq!(plan.runnable_steps().len(), 8);
}

#[test]
fn correct_domain_needs_nothing() {
    let desired = desired(&["ana", "bo"]);
    let plan = plan(&desired, &correct_observation(&desired));
    assert!(plan.is_complete(), "{:#?}", plan);
    assert!(plan.notes.is_empty());
    assert_eq!(
        plan.explain(),
        ["reseller.example is as desired: nothing to do"]
    );
}

#[test]
fn applying_a_fresh_plan_leaves_nothing_to_do() {
    let desired = desired(&["ana", "bo", "cy"]);
    let observed = fresh_observation();
    let first = plan(&desired, &observed);
    let after = apply_steps(&observed, first.steps.iter().map(|s| &s.step));
    let second = plan(&desired, &after);
    assert!(second.steps.is_empty(), "{:#?}", second.steps);
}

#[test]
fn admin_that_is_not_super_admin_blocks_the_domain_but_the_plan_is_still_shown() {
    let desired = desired(&["ana"]);
    let mut observed = fresh_observation();
    observed.admin = AdminObservation::Found {
        is_super_admin: false,
        suspended: false,
    };
    let plan = plan(&desired, &observed);
    assert_eq!(blocker_codes(&plan), [&BlockerKind::AdminNotSuperAdmin]);
    assert!(plan.is_blocked());
    assert!(plan.runnable_steps().is_empty());
    assert_eq!(plan.steps.len(), 5);
    let blocker = &plan.blockers[0];
    assert_eq!(
        blocker.reason,
        "the delegated admin admin@reseller.example is not a super administrator"
    );
    assert!(
        blocker
            .what_to_do
            .starts_with("assign the Super Admin role to admin@reseller.example")
    );
    assert_eq!(plan.blocked_message().unwrap(), blocker.to_string());
    assert!(plan.explain()[0].starts_with(
        "blocked: the delegated admin admin@reseller.example is not a super administrator; assign"
    ));
}

#[test]
fn missing_or_suspended_admin_blocks() {
    let desired = desired(&[]);
    let mut observed = fresh_observation();
    observed.admin = AdminObservation::NotFound;
    assert_eq!(
        blocker_codes(&plan(&desired, &observed)),
        [&BlockerKind::AdminNotFound]
    );
    observed.admin = AdminObservation::Found {
        is_super_admin: true,
        suspended: true,
    };
    assert_eq!(
        blocker_codes(&plan(&desired, &observed)),
        [&BlockerKind::AdminSuspended]
    );
}

#[test]
fn missing_subscription_blocks_only_when_accounts_are_to_be_created() {
    let desired = desired(&["ana"]);
    let mut observed = fresh_observation();
    observed.subscription = SubscriptionObservation::Absent;
    let blocked = plan(&desired, &observed);
    assert_eq!(blocker_codes(&blocked), [&BlockerKind::SubscriptionMissing]);
    assert!(
        blocked.blockers[0]
            .what_to_do
            .contains("Cloud Identity Free > Get started")
    );

    let mut existing = correct_observation(&desired);
    existing.subscription = SubscriptionObservation::Absent;
    assert!(plan(&desired, &existing).blockers.is_empty());
}

#[test]
fn unknown_subscription_needs_an_operator_confirmation() {
    let desired = desired(&["ana"]);
    let mut observed = fresh_observation();
    observed.subscription = SubscriptionObservation::Unknown;
    assert_eq!(
        blocker_codes(&plan(&desired, &observed)),
        [&BlockerKind::SubscriptionUnconfirmed]
    );
    observed.confirmations.push(ManualConfirmation {
        step: ManualStep::CloudIdentityFreeSubscribed,
        staff_member: None,
    });
    assert!(plan(&desired, &observed).blockers.is_empty());
}

#[test]
fn too_few_free_seats_block_with_the_numbers() {
    let desired = desired(&["ana", "bo"]);
    let mut observed = fresh_observation();
    observed.subscription = SubscriptionObservation::Present {
        seat_cap: Some(50),
        seats_used: Some(49),
    };
    let plan_short = plan(&desired, &observed);
    assert_eq!(
        blocker_codes(&plan_short),
        [&BlockerKind::SeatsExhausted { needed: 2, free: 1 }]
    );
    assert_eq!(
        plan_short.blockers[0].reason,
        "2 account(s) to create but only 1 free Cloud Identity Free seat(s) in reseller.example"
    );
    observed.subscription = SubscriptionObservation::Present {
        seat_cap: Some(50),
        seats_used: Some(48),
    };
    assert!(plan(&desired, &observed).blockers.is_empty());
}

#[test]
fn automatic_licensing_confirmation_is_required_only_when_configured() {
    let desired = desired(&["ana"]);
    let observed = fresh_observation();
    let strict = PlannerConfig {
        require_automatic_licensing_confirmation: true,
        ..PlannerConfig::default()
    };
    let blocked = plan_domain(&desired, &observed, &strict);
    assert_eq!(
        blocker_codes(&blocked),
        [&BlockerKind::AutomaticLicensingUnconfirmed]
    );
    assert!(blocked.blockers[0].what_to_do.contains(
        "turn automatic licensing OFF for the organizational unit /Customer Care Portal"
    ));
    assert!(plan(&desired, &observed).blockers.is_empty());
    let mut confirmed = observed.clone();
    confirmed.confirmations.push(ManualConfirmation {
        step: ManualStep::AutomaticLicensingOff,
        staff_member: None,
    });
    assert!(
        plan_domain(&desired, &confirmed, &strict)
            .blockers
            .is_empty()
    );
}

#[test]
fn reseller_admin_mode_assigns_the_system_role_by_id() {
    let desired = desired_with(RoleMode::ResellerAdmin, default_support_ou(), &["ana"]);
    let plan = plan(&desired, &fresh_observation());
    assert!(!keys(&plan).iter().any(|k| k.starts_with("ENSURE_ROLE")));
    assert_eq!(
        plan.steps.last().unwrap().step,
        Step::AssignRole {
            account: email("ana@reseller.example"),
            user_id: None,
            role: RoleRef::Existing {
                role_id: RoleId::new(RESELLER_ADMIN_ROLE_ID),
                role_name: "_RESELLER_ADMIN_ROLE".into()
            },
        }
    );
}

#[test]
fn reseller_admin_mode_without_the_role_blocks() {
    let desired = desired_with(RoleMode::ResellerAdmin, default_support_ou(), &["ana"]);
    let mut observed = fresh_observation();
    observed.roles.clear();
    // A non-system role with the same name is not the prebuilt role.
    observed.roles.push(ObservedRole {
        is_system: false,
        ..reseller_admin_role()
    });
    let plan = plan(&desired, &observed);
    assert_eq!(
        blocker_codes(&plan),
        [&BlockerKind::ResellerAdminRoleNotFound]
    );
    assert!(!keys(&plan).iter().any(|k| k.starts_with("ASSIGN_ROLE")));
}

#[test]
fn custom_role_without_both_privileges_blocks() {
    let desired = desired(&["ana"]);
    let mut observed = fresh_observation();
    observed.roles.push(custom_role(
        &crate::names::default_custom_role(),
        &["RESELLER_VIEW_CUSTOMERS"],
    ));
    let plan = plan(&desired, &observed);
    assert_eq!(
        blocker_codes(&plan),
        [&BlockerKind::CustomRoleLacksPrivileges {
            role_id: RoleId::new(CUSTOM_ROLE_ID),
            missing: vec!["RESELLER_ACCESS_CUSTOMER_SUPPORT_CASES".into()],
        }]
    );
    assert_eq!(
        plan.blockers[0].reason,
        "the role 'Customer Care Portal Access' exists but lacks RESELLER_ACCESS_CUSTOMER_SUPPORT_CASES"
    );
}

#[test]
fn custom_role_holding_a_parent_privilege_is_enough() {
    let desired = desired(&["ana"]);
    let mut observed = fresh_observation();
    observed.roles.push(custom_role(
        &crate::names::default_custom_role(),
        &["RESELLER_CUSTOMERS"],
    ));
    let plan = plan(&desired, &observed);
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    assert!(matches!(
        &plan.steps.last().unwrap().step,
        Step::AssignRole { role: RoleRef::Existing { role_id, .. }, .. } if role_id.as_str() == CUSTOM_ROLE_ID
    ));
}

#[test]
fn privileges_missing_from_the_tree_block() {
    let desired = desired(&["ana"]);
    let mut observed = fresh_observation();
    observed.privilege_tree.truncate(1);
    let plan = plan(&desired, &observed);
    assert_eq!(
        blocker_codes(&plan),
        [&BlockerKind::PrivilegesNotFound {
            missing: vec![
                "RESELLER_VIEW_CUSTOMERS".into(),
                "RESELLER_ACCESS_CUSTOMER_SUPPORT_CASES".into()
            ]
        }]
    );
    assert!(
        !keys(&plan)
            .iter()
            .any(|k| k.starts_with("ASSIGN_ROLE") || k.starts_with("ENSURE_ROLE"))
    );
}

#[test]
fn existing_user_elsewhere_is_moved_in_one_update() {
    let desired = desired(&["ana"]);
    let mut observed = correct_observation(&desired);
    observed.users[0].org_unit = OrgUnitPath::parse("/Staff").unwrap();
    let plan = plan(&desired, &observed);
    assert_eq!(keys(&plan), ["UPDATE_USER:ana@reseller.example"]);
    assert_eq!(
        plan.steps[0].step,
        Step::UpdateUser {
            account: email("ana@reseller.example"),
            user_id: user_id("ana"),
            move_to_org_unit: Some(default_support_ou()),
            unsuspend: false,
            recovery_email: None,
            names: None,
            set_marker: None,
        }
    );
    assert_eq!(
        plan.steps[0].reason,
        "ana@reseller.example is in /Staff instead of /Customer Care Portal"
    );
}

#[test]
fn drifted_user_is_fixed_in_a_single_update() {
    let desired = desired(&["ana"]);
    let mut observed = correct_observation(&desired);
    let user = &mut observed.users[0];
    user.suspended = true;
    user.recovery_email = Some("old@elsewhere.example".into());
    user.names = Some((
        PersonName::parse("Anna").unwrap(),
        PersonName::parse("Silva").unwrap(),
    ));
    let plan = plan(&desired, &observed);
    assert_eq!(plan.steps.len(), 1);
    let Step::UpdateUser {
        unsuspend,
        recovery_email,
        names,
        move_to_org_unit,
        ..
    } = &plan.steps[0].step
    else {
        panic!("{:?}", plan.steps[0]);
    };
    assert!(*unsuspend);
    assert_eq!(move_to_org_unit, &None);
    assert_eq!(
        recovery_email.as_ref().unwrap().as_str(),
        "ana@work.example"
    );
    assert_eq!(names.as_ref().unwrap().given_name.as_str(), "Ana");
    assert_eq!(
        plan.steps[0].reason,
        "ana@reseller.example is suspended, has recovery e-mail old@elsewhere.example instead of ana@work.example, is named differently from Ana Silva"
    );
}

#[test]
fn recovery_email_is_compared_without_case() {
    let desired = desired(&["ana"]);
    let mut observed = correct_observation(&desired);
    observed.users[0].recovery_email = Some("ANA@Work.Example".into());
    assert!(plan(&desired, &observed).steps.is_empty());
    observed.users[0].recovery_email = None;
    let plan = plan(&desired, &observed);
    assert_eq!(
        plan.steps[0].reason,
        "ana@reseller.example has no recovery e-mail (want ana@work.example)"
    );
}

#[test]
fn unobserved_names_are_left_alone() {
    let desired = desired(&["ana"]);
    let mut observed = correct_observation(&desired);
    observed.users[0].names = None;
    assert!(plan(&desired, &observed).steps.is_empty());
}

#[test]
fn paid_license_in_the_org_unit_is_removed_and_flags_automatic_licensing() {
    let desired = desired(&["ana", "bo"]);
    let mut observed = correct_observation(&desired);
    let sku = Sku::new("Google-Apps", "1010020028");
    observed.paid_licenses.push(LicenseAssignment {
        sku: sku.clone(),
        user: email("bo@reseller.example"),
    });
    let plan = plan(&desired, &observed);
    assert_eq!(
        plan.steps.iter().map(|s| &s.step).collect::<Vec<_>>(),
        [&Step::RemovePaidLicense {
            account: email("bo@reseller.example"),
            sku
        }]
    );
    assert!(plan.automatic_licensing_detected);
    assert_eq!(plan.notes.len(), 1);
    assert!(
        plan.notes[0].starts_with("automatic licensing appears to be on for /Customer Care Portal: Google shows paid Google Workspace licenses on 1 account(s) of it: bo@reseller.example (Google-Apps/1010020028)"),
        "{}",
        plan.notes[0]
    );
}

/// ana's address holds an account support-access did not create: no marker, no record.
fn with_foreign_ana() -> (DesiredDomain, ObservedDomain) {
    let desired = DesiredDomain::new(
        domain(),
        email("admin@reseller.example"),
        default_support_ou(),
        RoleMode::CustomRole,
        crate::names::default_custom_role(),
        vec![unrecorded_account("ana"), account("bo")],
    )
    .unwrap();
    let mut observed = correct_observation(&desired);
    observed.users[0].marker = None;
    (desired, observed)
}

#[test]
fn working_account_outside_the_org_unit_is_not_taken_over() {
    let (desired, mut observed) = with_foreign_ana();
    observed.users[0].org_unit = OrgUnitPath::parse("/Sales").unwrap();
    observed.users[0].suspended = true;
    observed.paid_licenses.push(LicenseAssignment {
        sku: Sku::new("Google-Apps", "1010020020"),
        user: email("ana@reseller.example"),
    });
    observed.cloud_identity_licenses.clear();
    let plan = plan(&desired, &observed);
    // bo's license is fixed; ana's account is not touched at all.
    assert_eq!(
        keys(&plan),
        ["ASSIGN_LICENSE:bo@reseller.example:101001/1010010001"]
    );
    assert_eq!(plan.blockers.len(), 1);
    assert_eq!(
        plan.blockers[0].account,
        Some(email("ana@reseller.example"))
    );
    assert_eq!(
        plan.blockers[0].kind,
        BlockerKind::Conflict {
            conflict: ConflictKind::NotCreatedByService,
            user_id: Some(user_id("ana")),
        }
    );
    assert_eq!(plan.blockers[0].kind.check(), CheckKind::AccountExists);
    // An account blocker does not stop the rest of the domain.
    assert!(!plan.is_blocked());
    assert_eq!(plan.runnable_steps().len(), 1);
    assert!(!plan.automatic_licensing_detected);
}

#[test]
fn an_account_someone_else_made_is_a_conflict_even_in_the_org_unit() {
    let (desired, mut observed) = with_foreign_ana();
    observed.users[0].recovery_email = None;
    let plan = plan(&desired, &observed);
    assert!(plan.steps.is_empty(), "{:?}", plan.steps);
    assert_eq!(
        plan.explain(),
        [
            "blocked ana@reseller.example: ana@reseller.example exists (user id u-ana) but support-access did not create it: it carries no support-access marker and no adoption of it was approved; if ana@reseller.example (user id u-ana) really is staff member ana's support account, adopt it with AdoptSupportAccount for domains/reseller.example/supportAccounts/ana with a reason; otherwise to give the person another address, create a new staff member with another username (CreateStaffMember) and provision it instead of staff member ana"
        ]
    );
    // A conflict is not an account to create: no seat is needed for it.
    let mut no_seats = observed.clone();
    no_seats.subscription = SubscriptionObservation::Absent;
    assert_eq!(
        plan_domain(&desired, &no_seats, &PlannerConfig::default())
            .blockers
            .len(),
        1
    );
}

#[test]
fn an_approved_adoption_marks_the_account_and_fixes_it_in_one_update() {
    let desired = DesiredDomain::new(
        domain(),
        email("admin@reseller.example"),
        default_support_ou(),
        RoleMode::CustomRole,
        crate::names::default_custom_role(),
        vec![unrecorded_account("ana").with_ownership(None, Some(user_id("ana")))],
    )
    .unwrap();
    let mut observed = correct_observation(&desired);
    observed.users[0].marker = None;
    observed.users[0].org_unit = OrgUnitPath::parse("/Staff").unwrap();
    let plan = plan(&desired, &observed);
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    assert_eq!(
        plan.steps.iter().map(|s| &s.step).collect::<Vec<_>>(),
        [&Step::UpdateUser {
            account: email("ana@reseller.example"),
            user_id: user_id("ana"),
            move_to_org_unit: Some(default_support_ou()),
            unsuspend: false,
            recovery_email: None,
            names: None,
            set_marker: Some("staffMembers/ana".into()),
        }]
    );
    assert_eq!(
        plan.steps[0].reason,
        "ana@reseller.example is adopted as the support account of staff member ana, as an operator approved: mark it, is in /Staff instead of /Customer Care Portal"
    );
    assert!(
        plan.steps[0]
            .step
            .checks()
            .contains(&CheckKind::AccountExists)
    );
    // Once marked, nothing is left to write.
    let after = apply_steps(&observed, plan.steps.iter().map(|s| &s.step));
    assert_eq!(after.users[0].marker.as_deref(), Some("staffMembers/ana"));
    assert!(self::plan(&desired, &after).is_complete());
}

#[test]
fn a_lost_database_rediscovers_marked_accounts_and_plans_as_usual() {
    let desired = DesiredDomain::new(
        domain(),
        email("admin@reseller.example"),
        default_support_ou(),
        RoleMode::CustomRole,
        crate::names::default_custom_role(),
        vec![unrecorded_account("ana")],
    )
    .unwrap();
    let mut observed = correct_observation(&desired);
    observed.role_assignments.clear();
    assert_eq!(
        keys(&plan(&desired, &observed)),
        ["ASSIGN_ROLE:ana@reseller.example"]
    );
}

#[test]
fn super_admin_accounts_are_never_managed() {
    let desired = desired(&["ana"]);
    let mut observed = fresh_observation();
    observed.users.push(ObservedUser {
        is_super_admin: true,
        suspended: true,
        ..correct_user(&desired, &desired.accounts()[0])
    });
    let plan = plan(&desired, &observed);
    assert_eq!(
        blocker_codes(&plan),
        [&BlockerKind::Conflict {
            conflict: ConflictKind::SuperAdmin,
            user_id: Some(user_id("ana"))
        }]
    );
    assert!(plan.steps.iter().all(|s| s.step.account().is_none()));
}

#[test]
fn other_administrators_are_never_managed() {
    let desired = desired(&["ana"]);
    let mut observed = correct_observation(&desired);
    observed.users[0].is_delegated_admin = true;
    observed.users[0].suspended = true;
    let plan = plan(&desired, &observed);
    assert!(matches!(
        &plan.blockers[0].kind,
        BlockerKind::Conflict {
            conflict: ConflictKind::DelegatedAdmin,
            ..
        }
    ));
    assert!(plan.steps.is_empty());
}

#[test]
fn legacy_role_counts_as_access_and_is_never_assigned() {
    let desired = desired(&["ana"]);
    let mut observed = correct_observation(&desired);
    observed.roles.push(legacy_role());
    observed.role_assignments[0].role_id = RoleId::new(LEGACY_ROLE_ID);
    assert!(plan(&desired, &observed).steps.is_empty());
}

#[test]
fn org_unit_scoped_assignment_does_not_count() {
    let desired = desired(&["ana"]);
    let mut observed = correct_observation(&desired);
    observed.role_assignments[0].scope = ScopeType::OrgUnit;
    let plan = plan(&desired, &observed);
    assert_eq!(
        plan.steps.iter().map(|s| &s.step).collect::<Vec<_>>(),
        [&Step::AssignRole {
            account: email("ana@reseller.example"),
            user_id: Some(user_id("ana")),
            role: RoleRef::Existing {
                role_id: RoleId::new(CUSTOM_ROLE_ID),
                role_name: "Customer Care Portal Access".into()
            },
        }]
    );
}

#[test]
fn another_portal_role_is_enough() {
    let desired = desired(&["ana"]);
    let mut observed = correct_observation(&desired);
    observed.role_assignments.push(ObservedRoleAssignment {
        id: RoleAssignmentId::new("other"),
        role_id: RoleId::new(RESELLER_ADMIN_ROLE_ID),
        assignee: user_id("ana"),
        scope: ScopeType::Customer,
    });
    observed.role_assignments.remove(0);
    assert!(plan(&desired, &observed).steps.is_empty());
}

#[test]
fn missing_parent_org_units_are_created_top_down() {
    let nested = OrgUnitPath::parse("/Support/Partners/Care").unwrap();
    let desired = desired_with(RoleMode::CustomRole, nested.clone(), &[]);
    let mut observed = fresh_observation();
    observed.roles.push(portal_custom_role());
    assert_eq!(
        keys(&plan(&desired, &observed)),
        [
            "CREATE_ORG_UNIT:/Support",
            "CREATE_ORG_UNIT:/Support/Partners",
            "CREATE_ORG_UNIT:/Support/Partners/Care"
        ]
    );
    observed
        .existing_org_units
        .push(OrgUnitPath::parse("/Support/Partners").unwrap());
    let plan = plan(&desired, &observed);
    assert_eq!(keys(&plan), ["CREATE_ORG_UNIT:/Support/Partners/Care"]);
    assert_eq!(
        plan.steps[0].reason,
        "the support org unit /Support/Partners/Care does not exist"
    );
}

#[test]
fn cloud_identity_license_is_assigned_only_when_google_does_not_show_it() {
    let desired = desired(&["ana"]);
    let mut observed = correct_observation(&desired);
    observed.cloud_identity_licenses.clear();
    let plan = plan(&desired, &observed);
    assert_eq!(
        keys(&plan),
        ["ASSIGN_LICENSE:ana@reseller.example:101001/1010010001"]
    );
    assert_eq!(
        plan.steps[0].reason,
        "Google does not show the Cloud Identity Free license (101001/1010010001) on ana@reseller.example"
    );
}

#[test]
fn steps_serialize_with_their_action_name() {
    let desired = desired(&["ana"]);
    let plan = plan(&desired, &fresh_observation());
    let json = serde_json::to_value(&plan.steps[2].step).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "action": "CREATE_USER",
            "account": "ana@reseller.example",
            "names": {"given_name": "Ana", "family_name": "Silva"},
            "org_unit": "/Customer Care Portal",
            "recovery_email": "ana@work.example",
            "marker": "staffMembers/ana"
        })
    );
    let assign = serde_json::to_value(&plan.steps[4].step).unwrap();
    assert_eq!(
        assign,
        serde_json::json!({
            "action": "ASSIGN_ROLE",
            "account": "ana@reseller.example",
            "user_id": null,
            "role": {"state": "PLANNED", "role_name": "Customer Care Portal Access"}
        })
    );
    let text = serde_json::to_string(&plan).unwrap();
    assert_eq!(serde_json::from_str::<DomainPlan>(&text).unwrap(), plan);
}

#[test]
fn step_kinds_match_the_journal_names() {
    let names: Vec<&str> = [
        StepKind::CreateOrgUnit,
        StepKind::CreateCustomRole,
        StepKind::CreateUser,
        StepKind::UpdateUser,
        StepKind::AssignLicense,
        StepKind::RemovePaidLicense,
        StepKind::AssignRole,
        StepKind::RemoveRole,
        StepKind::SuspendUser,
        StepKind::DeleteUser,
    ]
    .into_iter()
    .map(StepKind::as_str)
    .collect();
    assert_eq!(
        names,
        [
            "CREATE_ORG_UNIT",
            "ENSURE_ROLE",
            "CREATE_USER",
            "UPDATE_USER",
            "ASSIGN_LICENSE",
            "REMOVE_PAID_LICENSE",
            "ASSIGN_ROLE",
            "REMOVE_ROLE",
            "SUSPEND_USER",
            "DELETE_USER"
        ]
    );
}

#[test]
fn explain_lists_blockers_steps_and_notes() {
    let desired = desired(&["ana"]);
    let mut observed = fresh_observation();
    observed.subscription = SubscriptionObservation::Absent;
    let lines = plan(&desired, &observed).explain();
    assert!(lines[0].starts_with("blocked: Google shows no Cloud Identity Free subscription in reseller.example, needed for 1 new account(s); sign in to the Google Admin console"));
    assert_eq!(
        lines[1],
        "1. CREATE_ORG_UNIT: the support org unit /Customer Care Portal does not exist"
    );
    assert!(
        lines[3].starts_with(
            "3. CREATE_USER ana@reseller.example: ana@reseller.example does not exist"
        )
    );
    assert_eq!(lines.len(), 6);
}

#[test]
fn steps_journaled_before_markers_still_read() {
    let create: Step = serde_json::from_value(serde_json::json!({
        "action": "CREATE_USER",
        "account": "ana@reseller.example",
        "names": {"given_name": "Ana", "family_name": "Silva"},
        "org_unit": "/Customer Care Portal",
        "recovery_email": "ana@work.example"
    }))
    .unwrap();
    assert!(matches!(create, Step::CreateUser { ref marker, .. } if marker.is_empty()));
    let update: Step = serde_json::from_value(serde_json::json!({
        "action": "UPDATE_USER",
        "account": "ana@reseller.example",
        "user_id": "1",
        "move_to_org_unit": null,
        "unsuspend": true,
        "recovery_email": null,
        "names": null
    }))
    .unwrap();
    assert!(matches!(
        update,
        Step::UpdateUser {
            set_marker: None,
            ..
        }
    ));
}
