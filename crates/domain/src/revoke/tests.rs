//! Unit tests of revocation, re-applying revocations, and the mass-change limit.

use super::*;
use crate::fixtures::*;
use crate::observed::{ObservedRoleAssignment, ObservedUser, RoleAssignmentId, RoleId, ScopeType};
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
    );
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
    );
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
    );
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
    );
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
    );
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
    );
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
        &options(RevokeMode::Delete),
        &AccessConfig::default(),
    );
    assert!(plan.steps.is_empty());
    assert_eq!(
        plan.notes,
        [
            "staff member zed has no support account in reseller.example",
            "ana@reseller.example does not exist: nothing to revoke",
            "bo@reseller.example is not owned by support-access: nothing changed; bo@reseller.example exists (user id u-bo) and is a super administrator: support-access never changes a super administrator",
        ]
    );
}

#[test]
fn accounts_the_service_does_not_own_are_never_touched() {
    let desired = desired(&["ana", "bo", "cy"]);
    let mut observed = correct_observation(&desired);
    // ana: someone else's account now; bo: the marker was removed; cy: still ours.
    observed.users[0].id = crate::observed::UserId::new("u-someone");
    observed.role_assignments[0].assignee = crate::observed::UserId::new("u-someone");
    observed.users[1].marker = None;
    let plan = plan_revoke(
        &desired,
        &[staff("ana"), staff("bo"), staff("cy")],
        &observed,
        &options(RevokeMode::Delete),
        &AccessConfig::default(),
    );
    assert_eq!(
        keys(&plan),
        ["REMOVE_ROLE:ra-cy", "DELETE_USER:cy@reseller.example"]
    );
    assert_eq!(plan.accounts_touched, 1);
    assert_eq!(plan.notes.len(), 2);
    assert!(
        plan.notes[0].starts_with("ana@reseller.example is not owned by support-access: nothing changed; ana@reseller.example is user id u-someone, not the account support-access owns"),
        "{}",
        plan.notes[0]
    );
    assert!(
        plan.notes[1].starts_with("bo@reseller.example is not owned by support-access: nothing changed; bo@reseller.example (user id u-bo) is the account support-access owns for staff member bo, but its support-access marker"),
        "{}",
        plan.notes[1]
    );
}

#[test]
fn rediscovered_accounts_count_as_owned() {
    let desired = DesiredDomain::new(
        domain(),
        email("admin@reseller.example"),
        crate::names::default_support_ou(),
        crate::names::RoleMode::CustomRole,
        crate::names::default_custom_role(),
        vec![unrecorded_account("ana")],
    )
    .unwrap();
    let observed = correct_observation(&desired);
    let plan = plan_revoke(
        &desired,
        &[staff("ana")],
        &observed,
        &options(RevokeMode::Suspend),
        &AccessConfig::default(),
    );
    assert_eq!(
        keys(&plan),
        ["REMOVE_ROLE:ra-ana", "SUSPEND_USER:ana@reseller.example"]
    );
}

#[test]
fn revoking_an_already_revoked_staff_member_uses_the_new_mode() {
    let desired = desired(&["ana"]).with_revoked(vec![(account("bo"), RevokeMode::Suspend)]);
    let mut observed = correct_observation(&desired);
    let bo = correct_user(&desired, &account("bo"));
    observed.users.push(ObservedUser {
        suspended: true,
        ..bo
    });
    let plan = plan_revoke(
        &desired,
        &[staff("bo")],
        &observed,
        &options(RevokeMode::Delete),
        &AccessConfig::default(),
    );
    assert_eq!(keys(&plan), ["DELETE_USER:bo@reseller.example"]);
}

#[test]
fn revoked_accounts_are_kept_revoked_with_their_own_mode() {
    let desired = desired(&["ana"]).with_revoked(vec![
        (account("bo"), RevokeMode::Suspend),
        (account("cy"), RevokeMode::RemoveRole),
        (account("di"), RevokeMode::Delete),
        (account("ed"), RevokeMode::Suspend),
    ]);
    let mut observed = correct_observation(&desired);
    // bo was unsuspended by hand and got a role back; cy got a role back; di was deleted as
    // asked; ed's address now holds someone else's account.
    for name in ["bo", "cy"] {
        let user = correct_user(&desired, &account(name));
        observed.role_assignments.push(ObservedRoleAssignment {
            id: RoleAssignmentId::new(format!("ra-{name}")),
            role_id: RoleId::new(CUSTOM_ROLE_ID),
            assignee: user.id.clone(),
            scope: ScopeType::Customer,
        });
        observed.users.push(user);
    }
    observed.users.push(ObservedUser {
        id: crate::observed::UserId::new("u-stranger"),
        marker: None,
        ..correct_user(&desired, &account("ed"))
    });
    let plan = plan_revoked_accounts(&desired, &observed, &AccessConfig::default());
    assert_eq!(
        keys(&plan),
        [
            "REMOVE_ROLE:ra-bo",
            "SUSPEND_USER:bo@reseller.example",
            "REMOVE_ROLE:ra-cy"
        ]
    );
    assert_eq!(plan.accounts_touched, 2);
    assert_eq!(plan.notes.len(), 1);
    assert!(
        plan.notes[0].starts_with("ed@reseller.example is not owned by support-access: nothing changed; ed@reseller.example is user id u-stranger"),
        "{}",
        plan.notes[0]
    );
    // ana is active: never part of it.
    assert!(
        plan.steps
            .iter()
            .all(|s| s.staff_member != Some(staff("ana")))
    );
    // Once applied, nothing is left.
    let after = apply_steps(&observed, plan.steps.iter().map(|s| &s.step));
    assert!(
        plan_revoked_accounts(&desired, &after, &AccessConfig::default())
            .steps
            .is_empty()
    );
}

#[test]
fn mass_change_counts_the_window_and_the_owned_accounts() {
    let limit = MassChangeLimit::default();
    let d = domain();
    // 2 of 10 = 20%: allowed; 3 of 10: refused.
    assert_eq!(check_mass_change(&d, 2, 10, 0, &limit), Ok(()));
    assert!(check_mass_change(&d, 3, 10, 0, &limit).is_err());
    // One account is always allowed, even the last of a one-person team.
    assert_eq!(check_mass_change(&d, 1, 1, 0, &limit), Ok(()));
    assert_eq!(check_mass_change(&d, 1, 0, 0, &limit), Ok(()));
    // Revocations within the window add up: one more after one today in a team of 5 is 2 of 5.
    let error = check_mass_change(&d, 1, 4, 1, &limit).unwrap_err();
    assert_eq!(
        error,
        RevokeError::MassChangeRefused {
            domain: domain(),
            touched: 2,
            total: 5,
            revoked_in_window: 1,
            max_percent: 20,
            always_allowed: 1,
            window: std::time::Duration::from_secs(86400),
        }
    );
    assert_eq!(
        error.to_string(),
        "revoking access would make 2 of the 5 owned support accounts of reseller.example revoked within 24h (1 of them already were), more than the mass-change limit of 20% (beyond 1 account(s)); check the request and set force to revoke anyway"
    );
    // Ten accounts, one revoked today: one more is 2 of 10, allowed.
    assert_eq!(check_mass_change(&d, 1, 9, 1, &limit), Ok(()));
    // Nothing touched is always fine.
    assert_eq!(check_mass_change(&d, 0, 0, 0, &limit), Ok(()));
}

#[test]
fn mass_change_window_is_shown_as_the_flags_spell_it() {
    let refused = |window| {
        check_mass_change(
            &domain(),
            5,
            5,
            0,
            &MassChangeLimit {
                window,
                ..MassChangeLimit::default()
            },
        )
        .unwrap_err()
        .to_string()
    };
    use std::time::Duration;
    assert!(refused(Duration::from_secs(90 * 60)).contains("within 90m "));
    assert!(refused(Duration::from_secs(45)).contains("within 45s "));
    assert!(refused(Duration::from_millis(250)).contains("within 250ms "));
    let json = serde_json::json!({"max_percent": 20, "always_allowed": 1});
    assert_eq!(
        serde_json::from_value::<MassChangeLimit>(json).unwrap(),
        MassChangeLimit::default()
    );
}

#[test]
fn accounts_already_revoked_are_not_touched_again() {
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
    );
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
