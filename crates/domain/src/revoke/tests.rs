//! Unit tests of revocation and its mass-change limit.

use super::*;
use crate::fixtures::*;
use crate::observed::{ObservedRoleAssignment, RoleAssignmentId, RoleId, ScopeType};
use crate::simulate::apply_steps;

fn options(mode: RevokeMode) -> RevokeOptions {
    RevokeOptions {
        mode,
        force: false,
        limit: MassChangeLimit::default(),
    }
}

fn keys(plan: &RevokePlan) -> Vec<String> {
    plan.steps.iter().map(|s| s.step.key()).collect()
}

#[test]
fn suspend_removes_the_portal_role_then_suspends() {
    let desired = desired(&["ana", "bo", "cy", "di", "ed"]);
    let observed = correct_observation(&desired);
    let plan = plan_revoke(
        &desired,
        &[staff("bo")],
        &observed,
        &options(RevokeMode::Suspend),
        &AccessConfig::default(),
    )
    .unwrap();
    assert_eq!(
        keys(&plan),
        ["REMOVE_ROLE:ra-bo", "SUSPEND_USER:bo@reseller.example"]
    );
    assert_eq!(
        plan.steps[0].reason,
        "'Customer Care Portal Access' opens the Customer Care Portal for bo@reseller.example"
    );
    assert_eq!(plan.steps[1].staff_member, Some(staff("bo")));
    assert_eq!(plan.accounts_touched, 1);
    assert_eq!(plan.support_accounts, 5);
    assert!(plan.notes.is_empty());

    // Revoking again finds nothing left to do.
    let after = apply_steps(&observed, plan.steps.iter().map(|s| &s.step));
    let again = plan_revoke(
        &desired,
        &[staff("bo")],
        &after,
        &options(RevokeMode::Suspend),
        &AccessConfig::default(),
    )
    .unwrap();
    assert!(again.steps.is_empty());
    assert_eq!(again.accounts_touched, 0);
}

#[test]
fn delete_mode_deletes_and_remove_role_mode_keeps_the_account() {
    let desired = desired(&["ana", "bo"]);
    let observed = correct_observation(&desired);
    let delete = plan_revoke(
        &desired,
        &[staff("ana")],
        &observed,
        &options(RevokeMode::Delete),
        &AccessConfig::default(),
    )
    .unwrap();
    assert_eq!(
        keys(&delete),
        ["REMOVE_ROLE:ra-ana", "DELETE_USER:ana@reseller.example"]
    );
    let remove = plan_revoke(
        &desired,
        &[staff("ana")],
        &observed,
        &options(RevokeMode::RemoveRole),
        &AccessConfig::default(),
    )
    .unwrap();
    assert_eq!(keys(&remove), ["REMOVE_ROLE:ra-ana"]);
}

#[test]
fn legacy_roles_are_left_with_a_note() {
    let desired = desired(&["ana"]);
    let mut observed = correct_observation(&desired);
    observed.roles.push(legacy_role());
    observed.role_assignments.push(ObservedRoleAssignment {
        id: RoleAssignmentId::new("legacy-ana"),
        role_id: RoleId::new(LEGACY_ROLE_ID),
        assignee: user_id("ana"),
        scope: ScopeType::Customer,
    });
    let plan = plan_revoke(
        &desired,
        &[staff("ana")],
        &observed,
        &options(RevokeMode::RemoveRole),
        &AccessConfig::default(),
    )
    .unwrap();
    assert_eq!(keys(&plan), ["REMOVE_ROLE:ra-ana"]);
    assert_eq!(
        plan.notes,
        [
            "ana@reseller.example still opens the portal through the legacy role(s) Legacy Resold Enterprise Support, which the service never removes; suspend or delete the account to take access away"
        ]
    );
}

#[test]
fn org_unit_scoped_portal_roles_are_removed_too_and_other_roles_are_kept() {
    let desired = desired(&["ana"]);
    let mut observed = correct_observation(&desired);
    observed.role_assignments[0].scope = ScopeType::OrgUnit;
    observed.roles.push(crate::observed::ObservedRole {
        id: RoleId::new("help"),
        name: "_HELP_DESK_ADMIN_ROLE".into(),
        is_system: true,
        privileges: vec![],
    });
    observed.role_assignments.push(ObservedRoleAssignment {
        id: RoleAssignmentId::new("help-ana"),
        role_id: RoleId::new("help"),
        assignee: user_id("ana"),
        scope: ScopeType::Customer,
    });
    let plan = plan_revoke(
        &desired,
        &[staff("ana")],
        &observed,
        &options(RevokeMode::RemoveRole),
        &AccessConfig::default(),
    )
    .unwrap();
    assert_eq!(keys(&plan), ["REMOVE_ROLE:ra-ana"]);
}

#[test]
fn missing_accounts_unknown_staff_and_super_admins_are_noted() {
    let desired = desired(&["ana", "bo"]);
    let mut observed = correct_observation(&desired);
    observed
        .users
        .retain(|u| u.email.as_str() != "ana@reseller.example");
    observed.users[0].is_super_admin = true;
    let plan = plan_revoke(
        &desired,
        &[staff("ana"), staff("bo"), staff("zed")],
        &observed,
        &RevokeOptions {
            force: true,
            ..options(RevokeMode::Delete)
        },
        &AccessConfig::default(),
    )
    .unwrap();
    assert!(plan.steps.is_empty());
    assert_eq!(
        plan.notes,
        [
            "staff member zed has no support account in reseller.example",
            "ana@reseller.example does not exist: nothing to revoke",
            "bo@reseller.example is a super administrator: the service never changes it; revoke its access by hand",
        ]
    );
}

#[test]
fn mass_change_limit_refuses_large_revocations_without_force() {
    let desired = desired(&["ana", "bo", "cy", "di", "ed"]);
    let observed = correct_observation(&desired);
    let two = [staff("ana"), staff("bo")];
    let error = plan_revoke(
        &desired,
        &two,
        &observed,
        &options(RevokeMode::Suspend),
        &AccessConfig::default(),
    )
    .unwrap_err();
    assert_eq!(
        error,
        RevokeError::MassChangeRefused {
            domain: domain(),
            touched: 2,
            total: 5,
            max_percent: 20
        }
    );
    assert_eq!(
        error.to_string(),
        "revoking access would touch 2 of the 5 support accounts of reseller.example, more than the mass-change limit of 20%; check the request and set force to revoke anyway"
    );
    let forced = plan_revoke(
        &desired,
        &two,
        &observed,
        &RevokeOptions {
            force: true,
            ..options(RevokeMode::Suspend)
        },
        &AccessConfig::default(),
    )
    .unwrap();
    assert_eq!(forced.accounts_touched, 2);
}

#[test]
fn mass_change_limit_allows_its_share_and_one_account_always() {
    let ids: Vec<String> = (0..10).map(|i| format!("s{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let desired = desired(&refs);
    let observed = correct_observation(&desired);
    // 2 of 10 = 20%: allowed.
    assert!(
        plan_revoke(
            &desired,
            &[staff("s0"), staff("s1")],
            &observed,
            &options(RevokeMode::Suspend),
            &AccessConfig::default()
        )
        .is_ok()
    );
    // 3 of 10: refused.
    assert!(
        plan_revoke(
            &desired,
            &[staff("s0"), staff("s1"), staff("s2")],
            &observed,
            &options(RevokeMode::Suspend),
            &AccessConfig::default()
        )
        .is_err()
    );

    // A one-person team can lose its member.
    let alone = crate::fixtures::desired(&["ana"]);
    let observed = correct_observation(&alone);
    assert!(
        plan_revoke(
            &alone,
            &[staff("ana")],
            &observed,
            &options(RevokeMode::Delete),
            &AccessConfig::default()
        )
        .is_ok()
    );
}

#[test]
fn accounts_already_revoked_do_not_count_against_the_limit() {
    let desired = desired(&["ana", "bo", "cy"]);
    let mut observed = correct_observation(&desired);
    // ana and bo were suspended and lost their role before.
    observed
        .role_assignments
        .retain(|a| a.assignee == user_id("cy"));
    for user in observed.users.iter_mut().filter(|u| u.id != user_id("cy")) {
        user.suspended = true;
    }
    let plan = plan_revoke(
        &desired,
        &[staff("ana"), staff("bo"), staff("cy")],
        &observed,
        &options(RevokeMode::Suspend),
        &AccessConfig::default(),
    )
    .unwrap();
    assert_eq!(plan.accounts_touched, 1);
    assert_eq!(
        keys(&plan),
        ["REMOVE_ROLE:ra-cy", "SUSPEND_USER:cy@reseller.example"]
    );
}

#[test]
fn revoke_mode_names_and_default() {
    assert_eq!(RevokeMode::default(), RevokeMode::Suspend);
    assert_eq!(RevokeMode::RemoveRole.as_str(), "REMOVE_ROLE");
    assert_eq!(
        serde_json::to_string(&RevokeMode::Delete).unwrap(),
        "\"DELETE\""
    );
}
