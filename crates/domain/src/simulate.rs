//! Predicts what Google would show after steps succeed: the observation with each step's effect
//! applied. The planner's tests use it to prove that a plan is complete (planning again over the
//! predicted observation gives nothing to do); the engine may use it to preview a plan. Objects a
//! step creates get placeholder ids of the form `planned:…`, since only Google assigns real ones.

use crate::observed::{
    LicenseAssignment, ObservedDomain, ObservedRole, ObservedRoleAssignment, ObservedUser,
    RoleAssignmentId, RoleId, ScopeType, SubscriptionObservation, UserId,
};
use crate::plan::{RoleRef, Step};

/// The observation after `steps` succeeded, in order, on top of `observed`.
pub fn apply_steps<'a>(
    observed: &ObservedDomain,
    steps: impl IntoIterator<Item = &'a Step>,
) -> ObservedDomain {
    let mut after = observed.clone();
    for step in steps {
        apply(&mut after, step);
    }
    after
}

fn change_seats_used(observed: &mut ObservedDomain, delta: i64) {
    if let SubscriptionObservation::Present {
        seats_used: Some(used),
        ..
    } = &mut observed.subscription
    {
        *used = u32::try_from((i64::from(*used) + delta).max(0)).unwrap_or(u32::MAX);
    }
}

fn apply(observed: &mut ObservedDomain, step: &Step) {
    match step {
        Step::CreateOrgUnit { path } => {
            if !observed.existing_org_units.contains(path) {
                observed.existing_org_units.push(path.clone());
            }
        }
        Step::CreateCustomRole {
            role_name,
            privileges,
        } => observed.roles.push(ObservedRole {
            id: RoleId::new(format!("planned:{role_name}")),
            name: role_name.to_string(),
            is_system: false,
            privileges: privileges.clone(),
        }),
        Step::CreateUser {
            account,
            names,
            org_unit,
            recovery_email,
            marker,
        } => {
            observed.users.push(ObservedUser {
                id: UserId::new(format!("planned:{account}")),
                email: account.clone(),
                org_unit: org_unit.clone(),
                suspended: false,
                is_super_admin: false,
                recovery_email: Some(recovery_email.to_string()),
                names: Some((names.given_name.clone(), names.family_name.clone())),
                marker: (!marker.is_empty()).then(|| marker.clone()),
                is_delegated_admin: false,
                aliases: vec![],
            });
            change_seats_used(observed, 1);
        }
        Step::UpdateUser {
            account,
            move_to_org_unit,
            unsuspend,
            recovery_email,
            names,
            set_marker,
            ..
        } => {
            if let Some(user) = observed.users.iter_mut().find(|u| &u.email == account) {
                if let Some(marker) = set_marker {
                    user.marker = Some(marker.clone());
                }
                if let Some(org_unit) = move_to_org_unit {
                    user.org_unit = org_unit.clone();
                }
                if *unsuspend {
                    user.suspended = false;
                }
                if let Some(recovery) = recovery_email {
                    user.recovery_email = Some(recovery.to_string());
                }
                if let Some(names) = names {
                    user.names = Some((names.given_name.clone(), names.family_name.clone()));
                }
            }
        }
        Step::AssignLicense { account, sku } => {
            if sku.is_cloud_identity_free() {
                if !observed.cloud_identity_licenses.contains(account) {
                    observed.cloud_identity_licenses.push(account.clone());
                }
            } else {
                observed.paid_licenses.push(LicenseAssignment {
                    sku: sku.clone(),
                    user: account.clone(),
                });
            }
        }
        Step::RemovePaidLicense { account, sku } => observed
            .paid_licenses
            .retain(|l| !(&l.user == account && &l.sku == sku)),
        Step::AssignRole {
            account,
            user_id,
            role,
        } => {
            let assignee = user_id
                .clone()
                .or_else(|| observed.user(account).map(|u| u.id.clone()));
            let role_id = match role {
                RoleRef::Existing { role_id, .. } => Some(role_id.clone()),
                RoleRef::Planned { role_name } => observed
                    .roles
                    .iter()
                    .find(|r| !r.is_system && r.name == role_name.as_str())
                    .map(|r| r.id.clone()),
            };
            if let (Some(assignee), Some(role_id)) = (assignee, role_id) {
                observed.role_assignments.push(ObservedRoleAssignment {
                    id: RoleAssignmentId::new(format!("planned:{account}:{role_id}")),
                    role_id,
                    assignee,
                    scope: ScopeType::Customer,
                });
            }
        }
        Step::RemoveRole { assignment_id, .. } => {
            observed.role_assignments.retain(|a| &a.id != assignment_id)
        }
        Step::SuspendUser { account, .. } => {
            if let Some(user) = observed.users.iter_mut().find(|u| &u.email == account) {
                user.suspended = true;
            }
        }
        Step::DeleteUser { account, user_id } => {
            let before = observed.users.len();
            observed.users.retain(|u| &u.email != account);
            if observed.users.len() < before {
                change_seats_used(observed, -1);
            }
            observed.role_assignments.retain(|a| &a.assignee != user_id);
            observed.cloud_identity_licenses.retain(|e| e != account);
            observed.paid_licenses.retain(|l| &l.user != account);
        }
    }
}
