//! Taking portal access away (`RevokeSupportAccess`): per account, remove the role assignments
//! that open the portal, then suspend or delete the account, as the mode says. A mass-change
//! limit refuses a revocation that would touch more than a set share of a domain's support
//! accounts unless the caller forces it, so that one mistaken request cannot lock a whole support
//! team out.
//!
//! Legacy support roles are never removed: the service never assigns them and could not give
//! them back. Super administrators are never touched.

use serde::{Deserialize, Serialize};

use crate::access::{AccessConfig, PortalAccessKind};
use crate::desired::DesiredDomain;
use crate::names::{DomainName, StaffMemberId};
use crate::observed::ObservedDomain;
use crate::plan::{PlannedStep, Step};

pub use crate::lifecycle::RevokeMode;

/// The largest revocation allowed without `force`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MassChangeLimit {
    /// Share of the domain's support accounts, in percent, that one request may touch.
    pub max_percent: u32,
    /// This many accounts may always be touched, whatever the share (so that a small team can
    /// lose one member without `force`).
    pub always_allowed: u32,
}

impl Default for MassChangeLimit {
    fn default() -> Self {
        Self {
            max_percent: 20,
            always_allowed: 1,
        }
    }
}

/// How to revoke.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeOptions {
    /// What to do with the accounts.
    pub mode: RevokeMode,
    /// Ignore the mass-change limit.
    pub force: bool,
    /// The limit.
    pub limit: MassChangeLimit,
}

/// The steps that revoke access in one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokePlan {
    /// The domain.
    pub domain: DomainName,
    /// The steps, account by account (by e-mail): role removals, then suspension or deletion.
    pub steps: Vec<PlannedStep>,
    /// What was left alone and why.
    pub notes: Vec<String>,
    /// Accounts that get at least one step.
    pub accounts_touched: u32,
    /// Support accounts of the domain (the base of the mass-change share).
    pub support_accounts: u32,
}

/// Why a revocation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevokeError {
    /// The revocation touches more accounts than the limit allows.
    #[error(
        "revoking access would touch {touched} of the {total} support accounts of {domain}, more than the mass-change limit of {max_percent}%; check the request and set force to revoke anyway"
    )]
    MassChangeRefused {
        /// The domain.
        domain: DomainName,
        /// Accounts the revocation would touch.
        touched: u32,
        /// Support accounts of the domain.
        total: u32,
        /// The limit.
        max_percent: u32,
    },
}

/// Plans the revocation of `staff`'s accounts in `desired`'s domain.
pub fn plan_revoke(
    desired: &DesiredDomain,
    staff: &[StaffMemberId],
    observed: &ObservedDomain,
    options: &RevokeOptions,
    access: &AccessConfig,
) -> Result<RevokePlan, RevokeError> {
    let domain = desired.domain();
    let mut steps = Vec::new();
    let mut notes = Vec::new();
    let mut touched = 0u32;

    let mut wanted: Vec<&StaffMemberId> = staff.iter().collect();
    wanted.sort();
    wanted.dedup();
    for id in &wanted {
        if !desired.accounts().iter().any(|a| a.staff_member() == *id) {
            notes.push(format!(
                "staff member {id} has no support account in {domain}"
            ));
        }
    }

    for account in desired
        .accounts()
        .iter()
        .filter(|a| wanted.contains(&a.staff_member()))
    {
        let email = account.email();
        let Some(user) = observed.user(email) else {
            notes.push(format!("{email} does not exist: nothing to revoke"));
            continue;
        };
        if user.is_super_admin {
            notes.push(format!(
                "{email} is a super administrator: the service never changes it; revoke its access by hand"
            ));
            continue;
        }
        let staff_member = Some(account.staff_member().clone());
        let before = steps.len();
        let mut assignments: Vec<_> = observed.assignments_of(&user.id).collect();
        assignments.sort_by(|a, b| a.id.cmp(&b.id));
        let mut legacy = Vec::new();
        for assignment in assignments {
            let Some(role) = observed.role(&assignment.role_id) else {
                continue;
            };
            match access.role_access(role, &observed.privilege_tree) {
                Some(PortalAccessKind::Legacy) => legacy.push(role.name.clone()),
                Some(_) => steps.push(PlannedStep {
                    step: Step::RemoveRole {
                        account: email.clone(),
                        assignment_id: assignment.id.clone(),
                        role_name: role.name.clone(),
                    },
                    staff_member: staff_member.clone(),
                    reason: format!("'{}' opens the Customer Care Portal for {email}", role.name),
                }),
                None => {}
            }
        }
        match options.mode {
            RevokeMode::RemoveRole => {
                if !legacy.is_empty() {
                    notes.push(format!(
                        "{email} still opens the portal through the legacy role(s) {}, which the service never removes; suspend or delete the account to take access away",
                        legacy.join(", ")
                    ));
                }
            }
            RevokeMode::Suspend if !user.suspended => steps.push(PlannedStep {
                step: Step::SuspendUser {
                    account: email.clone(),
                    user_id: user.id.clone(),
                },
                staff_member: staff_member.clone(),
                reason: format!(
                    "revoking access of staff member {}: suspend {email}",
                    account.staff_member()
                ),
            }),
            RevokeMode::Suspend => {}
            RevokeMode::Delete => steps.push(PlannedStep {
                step: Step::DeleteUser {
                    account: email.clone(),
                    user_id: user.id.clone(),
                },
                staff_member: staff_member.clone(),
                reason: format!(
                    "revoking access of staff member {}: delete {email}",
                    account.staff_member()
                ),
            }),
        }
        if steps.len() > before {
            touched += 1;
        }
    }

    let total = u32::try_from(desired.accounts().len()).unwrap_or(u32::MAX);
    let limit = options.limit;
    let over_share = u64::from(touched) * 100 > u64::from(limit.max_percent) * u64::from(total);
    if !options.force && touched > limit.always_allowed && over_share {
        return Err(RevokeError::MassChangeRefused {
            domain: domain.clone(),
            touched,
            total,
            max_percent: limit.max_percent,
        });
    }
    Ok(RevokePlan {
        domain: domain.clone(),
        steps,
        notes,
        accounts_touched: touched,
        support_accounts: total,
    })
}

#[cfg(test)]
mod tests;
