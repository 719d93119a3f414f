//! Taking portal access away (`RevokeSupportAccess`, and reconciliation keeping revoked accounts
//! revoked): per account, remove the role assignments that open the portal, then suspend or
//! delete the account, as the mode says. Only accounts the service owns are touched (see
//! [`crate::ownership`]); anything else at a staff member's address is left alone with a note.
//!
//! The mass-change limit is a separate check, [`check_mass_change`], that the server runs once,
//! in the transaction that creates the operation, over counts from the store (the domain's owned
//! active accounts and those revoked within a rolling window), so that one mistaken request, or
//! a series of them, cannot lock a whole support team out. Planning never refuses.
//!
//! Legacy support roles are never removed: the service never assigns them and could not give
//! them back. Super administrators are never touched.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::access::{AccessConfig, PortalAccessKind};
use crate::desired::{DesiredAccount, DesiredDomain};
use crate::names::{DomainName, StaffMemberId};
use crate::observed::ObservedDomain;
use crate::ownership::{AccountOwnership, classify};
use crate::plan::{PlannedStep, Step};

pub use crate::lifecycle::RevokeMode;

/// The largest revocation allowed without `force`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MassChangeLimit {
    /// Share, in percent, of the domain's owned support accounts (active, plus those revoked
    /// within the window) that may be revoked within the window.
    pub max_percent: u32,
    /// This many accounts may always be revoked within the window, whatever the share (so that
    /// a small team can lose one member without `force`).
    pub always_allowed: u32,
    /// The rolling window over which revocations add up.
    #[serde(default = "default_window")]
    pub window: Duration,
}

fn default_window() -> Duration {
    Duration::from_secs(24 * 60 * 60)
}

impl Default for MassChangeLimit {
    fn default() -> Self {
        Self {
            max_percent: 20,
            always_allowed: 1,
            window: default_window(),
        }
    }
}

/// How to revoke.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeOptions {
    /// What to do with the accounts.
    pub mode: RevokeMode,
    /// Skip the mass-change limit (the server does not call [`check_mass_change`]).
    pub force: bool,
    /// The limit [`check_mass_change`] applies.
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
    /// Owned accounts that get at least one step.
    pub accounts_touched: u32,
    /// Active support accounts of the domain (for people reading the plan).
    pub support_accounts: u32,
}

/// Why a revocation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevokeError {
    /// The revocation would take the revocations within the window over the limit.
    #[error(
        "revoking access would make {touched} of the {total} owned support accounts of {domain} revoked within {} ({revoked_in_window} of them already were), more than the mass-change limit of {max_percent}% (beyond {always_allowed} account(s)); check the request and set force to revoke anyway",
        window_text(*.window)
    )]
    MassChangeRefused {
        /// The domain.
        domain: DomainName,
        /// Accounts revoked within the window once this request is done (this request's
        /// accounts plus those already revoked within it).
        touched: u32,
        /// The base: owned active accounts plus those revoked within the window.
        total: u32,
        /// Accounts already revoked within the window.
        revoked_in_window: u32,
        /// The limit's share.
        max_percent: u32,
        /// The limit's floor.
        always_allowed: u32,
        /// The window.
        window: Duration,
    },
}

/// A duration as the server's flags spell it: `24h`, `90m`, `30s`, `250ms`.
fn window_text(window: Duration) -> String {
    let secs = window.as_secs();
    if window.subsec_nanos() != 0 || secs == 0 {
        format!("{}ms", window.as_millis())
    } else if secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// The mass-change limit, checked once when a revocation is requested (without `force`):
/// `touched` accounts the request revokes (owned and currently active), `active_owned` owned
/// active accounts of the domain, `revoked_in_window` accounts revoked within the limit's window.
/// Refused when the revocations within the window would exceed both `always_allowed` and
/// `max_percent` of the base (active owned plus revoked within the window).
pub fn check_mass_change(
    domain: &DomainName,
    touched: u32,
    active_owned: u32,
    revoked_in_window: u32,
    limit: &MassChangeLimit,
) -> Result<(), RevokeError> {
    let base = u64::from(active_owned) + u64::from(revoked_in_window);
    let total_touched = u64::from(touched) + u64::from(revoked_in_window);
    let refused = total_touched > u64::from(limit.always_allowed)
        && total_touched * 100 > base * u64::from(limit.max_percent);
    if refused {
        return Err(RevokeError::MassChangeRefused {
            domain: domain.clone(),
            touched: u32::try_from(total_touched).unwrap_or(u32::MAX),
            total: u32::try_from(base).unwrap_or(u32::MAX),
            revoked_in_window,
            max_percent: limit.max_percent,
            always_allowed: limit.always_allowed,
            window: limit.window,
        });
    }
    Ok(())
}

/// Plans the revocation of `staff`'s accounts (active or already revoked) in `desired`'s domain
/// with `options.mode`. Only owned accounts get steps; the rest is noted. Never refuses: the
/// mass-change limit is [`check_mass_change`].
pub fn plan_revoke(
    desired: &DesiredDomain,
    staff: &[StaffMemberId],
    observed: &ObservedDomain,
    options: &RevokeOptions,
    access: &AccessConfig,
) -> RevokePlan {
    let domain = desired.domain();
    let mut plan = empty_plan(desired);

    let mut wanted: Vec<&StaffMemberId> = staff.iter().collect();
    wanted.sort();
    wanted.dedup();
    let mut accounts: Vec<&DesiredAccount> = desired
        .accounts()
        .iter()
        .chain(desired.revoked().iter().map(|(account, _)| account))
        .filter(|a| wanted.contains(&a.staff_member()))
        .collect();
    accounts.sort_by(|a, b| a.email().cmp(b.email()));
    for id in &wanted {
        if !accounts.iter().any(|a| a.staff_member() == *id) {
            plan.notes.push(format!(
                "staff member {id} has no support account in {domain}"
            ));
        }
    }
    for account in accounts {
        revoke_account(
            &mut plan,
            account,
            options.mode,
            desired,
            observed,
            access,
            true,
        );
    }
    plan
}

/// Plans, for every revoked account of `desired` and with its own mode, what keeps it revoked:
/// reconciliation uses it to re-apply a revocation that someone undid (a role given back, an
/// account unsuspended or restored). Only owned accounts get steps; conflicts are noted, and an
/// account that does not exist needs nothing.
pub fn plan_revoked_accounts(
    desired: &DesiredDomain,
    observed: &ObservedDomain,
    access: &AccessConfig,
) -> RevokePlan {
    let mut plan = empty_plan(desired);
    for (account, mode) in desired.revoked() {
        revoke_account(&mut plan, account, *mode, desired, observed, access, false);
    }
    plan
}

fn empty_plan(desired: &DesiredDomain) -> RevokePlan {
    RevokePlan {
        domain: desired.domain().clone(),
        steps: Vec::new(),
        notes: Vec::new(),
        accounts_touched: 0,
        support_accounts: u32::try_from(desired.accounts().len()).unwrap_or(u32::MAX),
    }
}

/// The steps that revoke one account with `mode`, appended to `plan`. `note_absent`: say so
/// when nothing is at the address (a request wants to know; reconciliation does not).
fn revoke_account(
    plan: &mut RevokePlan,
    account: &DesiredAccount,
    mode: RevokeMode,
    desired: &DesiredDomain,
    observed: &ObservedDomain,
    access: &AccessConfig,
    note_absent: bool,
) {
    let email = account.email();
    let user = match classify(account, observed, desired.delegated_admin()) {
        AccountOwnership::Owned { user, .. } => user,
        AccountOwnership::Absent => {
            if note_absent {
                plan.notes
                    .push(format!("{email} does not exist: nothing to revoke"));
            }
            return;
        }
        AccountOwnership::AdoptionApproved { user } => {
            plan.notes.push(format!(
                "{email} is not owned by support-access: nothing changed; an operator approved adopting it (user id {}), but it was never marked as staff member {}'s support account",
                user.id,
                account.staff_member()
            ));
            return;
        }
        AccountOwnership::Conflict(conflict) => {
            plan.notes.push(format!(
                "{email} is not owned by support-access: nothing changed; {}",
                conflict.reason
            ));
            return;
        }
    };
    let staff_member = Some(account.staff_member().clone());
    let before = plan.steps.len();
    let mut assignments: Vec<_> = observed.assignments_of(&user.id).collect();
    assignments.sort_by(|a, b| a.id.cmp(&b.id));
    let mut legacy = Vec::new();
    for assignment in assignments {
        let Some(role) = observed.role(&assignment.role_id) else {
            continue;
        };
        match access.role_access(role, &observed.privilege_tree) {
            Some(PortalAccessKind::Legacy) => legacy.push(role.name.clone()),
            Some(_) => plan.steps.push(PlannedStep {
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
    match mode {
        RevokeMode::RemoveRole => {
            if !legacy.is_empty() {
                plan.notes.push(format!(
                    "{email} still opens the portal through the legacy role(s) {}, which the service never removes; suspend or delete the account to take access away",
                    legacy.join(", ")
                ));
            }
        }
        RevokeMode::Suspend if !user.suspended => plan.steps.push(PlannedStep {
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
        RevokeMode::Delete => plan.steps.push(PlannedStep {
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
    if plan.steps.len() > before {
        plan.accounts_touched += 1;
    }
}

#[cfg(test)]
mod tests;
