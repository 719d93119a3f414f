//! Whether an observation shows the effect of a step. A step journaled RUNNING that a fresh plan
//! no longer contains either landed in Google before its worker could journal it (a crash, a lost
//! lease), or left the plan for another reason (the account's access was revoked meanwhile, or
//! someone changed Google). Only the first is "confirmed by observation"; the second is journaled
//! as no longer needed, so the journal never claims an effect Google does not show.

use support_access_domain::access::AccessConfig;
use support_access_domain::observed::ObservedDomain;
use support_access_domain::plan::Step;

/// True when `observed` shows what `step` was to bring about.
pub fn effect_observed(step: &Step, observed: &ObservedDomain, access: &AccessConfig) -> bool {
    let user = |account| observed.user(account);
    match step {
        Step::CreateOrgUnit { path } => observed.org_unit_exists(path),
        Step::CreateCustomRole { role_name, .. } => observed
            .roles
            .iter()
            .any(|r| !r.is_system && r.name == role_name.as_str()),
        Step::CreateUser { account, .. } => user(account).is_some(),
        Step::UpdateUser {
            account,
            user_id,
            move_to_org_unit,
            unsuspend,
            ..
        } => observed.user_by_id(user_id).is_some_and(|u| {
            &u.email == account
                && move_to_org_unit.as_ref().is_none_or(|ou| &u.org_unit == ou)
                && (!unsuspend || !u.suspended)
        }),
        Step::AssignLicense { account, .. } => observed.holds_cloud_identity(account),
        Step::RemovePaidLicense { account, sku } => {
            user(account).is_some() && !observed.paid_skus(account).contains(sku)
        }
        Step::AssignRole { account, .. } => {
            user(account).is_some_and(|u| !access.portal_roles_of(observed, &u.id).is_empty())
        }
        Step::RemoveRole { assignment_id, .. } => !observed
            .role_assignments
            .iter()
            .any(|a| &a.id == assignment_id),
        Step::SuspendUser { user_id, .. } => {
            observed.user_by_id(user_id).is_none_or(|u| u.suspended)
        }
        Step::DeleteUser { user_id, .. } => observed.user_by_id(user_id).is_none(),
    }
}
