//! Drift: what reconciliation finds different in Google from the desired state, each finding with
//! its evidence (what Google showed). Only what the service owns can drift (a desired account
//! with a recorded owned id); besides, anyone else who opens the portal, and an operator's
//! confirmation that Google contradicts, are reported. The engine records these as drift events
//! (at most one open per domain, kind and account) and, under the REPAIR policy, plans the
//! repair with the planner and [`crate::revoke::plan_revoked_accounts`]; nothing here decides
//! what to write.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::access::{AccessConfig, PortalAccessKind};
use crate::desired::{DesiredAccount, DesiredDomain};
use crate::lifecycle::RevokeMode;
use crate::names::{EmailAddress, StaffMemberId};
use crate::observed::{ManualStep, ObservedDomain, ObservedUser, Sku, UserId};
use crate::ownership::{AccountOwnership, classify};
use crate::validation::InvalidValue;

/// What drifted (the API's `DriftKind`, the `drift_events.kind` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DriftKind {
    /// An owned active account left the support org unit.
    AccountMoved,
    /// An owned active account no longer holds a role that opens the portal.
    AccountRoleRemoved,
    /// An owned active account holds a paid Workspace license.
    AccountPaidLicenseAdded,
    /// An owned active account no longer holds Cloud Identity Free.
    AccountLicenseRemoved,
    /// An owned active account is suspended.
    AccountSuspended,
    /// An owned active account no longer exists.
    AccountDeleted,
    /// A revoked account (suspend or delete) is active again.
    RevokedAccountReenabled,
    /// A revoked account holds a portal role again.
    RevokedAccountRegainedAccess,
    /// Someone who is not a support account of the domain opens the portal.
    UnmanagedPortalAccess,
    /// Google contradicts an operator's confirmation (automatic licensing off).
    ConfirmationContradicted,
    /// The account at an owned address is no longer the service's.
    OwnershipLost,
}

impl DriftKind {
    /// Every kind, in declaration order.
    pub const ALL: [DriftKind; 11] = [
        DriftKind::AccountMoved,
        DriftKind::AccountRoleRemoved,
        DriftKind::AccountPaidLicenseAdded,
        DriftKind::AccountLicenseRemoved,
        DriftKind::AccountSuspended,
        DriftKind::AccountDeleted,
        DriftKind::RevokedAccountReenabled,
        DriftKind::RevokedAccountRegainedAccess,
        DriftKind::UnmanagedPortalAccess,
        DriftKind::ConfirmationContradicted,
        DriftKind::OwnershipLost,
    ];

    /// The name stored in Postgres and used in the API without its `DRIFT_KIND_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::AccountMoved => "ACCOUNT_MOVED",
            DriftKind::AccountRoleRemoved => "ACCOUNT_ROLE_REMOVED",
            DriftKind::AccountPaidLicenseAdded => "ACCOUNT_PAID_LICENSE_ADDED",
            DriftKind::AccountLicenseRemoved => "ACCOUNT_LICENSE_REMOVED",
            DriftKind::AccountSuspended => "ACCOUNT_SUSPENDED",
            DriftKind::AccountDeleted => "ACCOUNT_DELETED",
            DriftKind::RevokedAccountReenabled => "REVOKED_ACCOUNT_REENABLED",
            DriftKind::RevokedAccountRegainedAccess => "REVOKED_ACCOUNT_REGAINED_ACCESS",
            DriftKind::UnmanagedPortalAccess => "UNMANAGED_PORTAL_ACCESS",
            DriftKind::ConfirmationContradicted => "CONFIRMATION_CONTRADICTED",
            DriftKind::OwnershipLost => "OWNERSHIP_LOST",
        }
    }
}

impl fmt::Display for DriftKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DriftKind {
    type Err = InvalidValue;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let name = raw.strip_prefix("DRIFT_KIND_").unwrap_or(raw);
        DriftKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = DriftKind::ALL.iter().map(|k| k.as_str()).collect();
                InvalidValue::new(format!("must be one of {}", names.join(", ")))
            })
    }
}

/// One difference between Google and the desired state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    /// What drifted.
    pub kind: DriftKind,
    /// The account concerned; `None` for a domain-level finding.
    pub account: Option<EmailAddress>,
    /// The staff member of a support account of the domain.
    pub staff_member: Option<StaffMemberId>,
    /// What was found; user-facing, names the account.
    pub detail: String,
    /// What Google showed: ids, org unit, SKUs, role names (lists comma-separated).
    pub evidence: BTreeMap<String, String>,
}

/// Every drift of `desired` that `observed` shows, sorted by account (domain-level first), then
/// kind; at most one per kind and account. Empty when the delegated admin is not a usable super
/// administrator: such an observation saw nothing, and absence in it proves nothing.
pub fn detect_drift(
    desired: &DesiredDomain,
    observed: &ObservedDomain,
    access: &AccessConfig,
) -> Vec<Drift> {
    if !observed.admin_is_usable() {
        return Vec::new();
    }
    let mut drifts = Vec::new();
    for account in desired.accounts() {
        if let Some(owned) = account.owned_user_id() {
            active_drift(&mut drifts, desired, account, owned, observed, access);
        }
    }
    for (account, mode) in desired.revoked() {
        if account.owned_user_id().is_some() {
            revoked_drift(&mut drifts, desired, account, *mode, observed, access);
        }
    }
    unmanaged_access(&mut drifts, desired, observed, access);
    contradicted_confirmation(&mut drifts, desired, observed);
    drifts.sort_by(|a, b| (&a.account, a.kind).cmp(&(&b.account, b.kind)));
    drifts.dedup_by(|a, b| a.kind == b.kind && a.account == b.account);
    drifts
}

/// What Google shows of a user, for evidence.
fn user_evidence(
    observed: &ObservedDomain,
    access: &AccessConfig,
    user: &ObservedUser,
) -> BTreeMap<String, String> {
    let mut skus: Vec<String> = Vec::new();
    if observed.holds_cloud_identity(&user.email) {
        skus.push(Sku::cloud_identity_free().to_string());
    }
    skus.extend(observed.paid_skus(&user.email).iter().map(Sku::to_string));
    let roles: Vec<String> = access
        .portal_roles_of(observed, &user.id)
        .into_iter()
        .map(|(role, _)| role.name.clone())
        .collect();
    BTreeMap::from([
        ("user_id".to_owned(), user.id.to_string()),
        ("org_unit".to_owned(), user.org_unit.to_string()),
        ("suspended".to_owned(), user.suspended.to_string()),
        ("skus".to_owned(), skus.join(",")),
        ("roles".to_owned(), roles.join(",")),
    ])
}

fn drift(
    kind: DriftKind,
    account: &DesiredAccount,
    detail: String,
    evidence: BTreeMap<String, String>,
) -> Drift {
    Drift {
        kind,
        account: Some(account.email().clone()),
        staff_member: Some(account.staff_member().clone()),
        detail,
        evidence,
    }
}

fn active_drift(
    drifts: &mut Vec<Drift>,
    desired: &DesiredDomain,
    account: &DesiredAccount,
    owned: &UserId,
    observed: &ObservedDomain,
    access: &AccessConfig,
) {
    let email = account.email();
    let staff = account.staff_member();
    let user = match classify(account, observed, desired.delegated_admin()) {
        AccountOwnership::Owned { user, .. } => user,
        // Nothing at the address, no alias, and the owned id nowhere else (a rename is a
        // conflict): the account is gone.
        AccountOwnership::Absent => {
            drifts.push(drift(
                DriftKind::AccountDeleted,
                account,
                format!(
                    "{email} (user id {owned}), the support account of staff member {staff}, no longer exists in Google"
                ),
                BTreeMap::from([("user_id".to_owned(), owned.to_string())]),
            ));
            return;
        }
        AccountOwnership::Conflict(conflict) => {
            let mut evidence = match observed.user(email) {
                Some(user) => user_evidence(observed, access, user),
                None => BTreeMap::new(),
            };
            evidence.insert("owned_user_id".to_owned(), owned.to_string());
            evidence.insert("conflict".to_owned(), conflict.kind.as_str().to_owned());
            if let Some(found) = &conflict.user_id {
                evidence.insert("user_id".to_owned(), found.to_string());
            }
            if let Some(marker) = observed.user(email).and_then(|u| u.marker.clone()) {
                evidence.insert("marker".to_owned(), marker);
            }
            drifts.push(drift(
                DriftKind::OwnershipLost,
                account,
                format!(
                    "{email} is no longer owned by support-access: {}",
                    conflict.reason
                ),
                evidence,
            ));
            return;
        }
        // An operator approved another account at the address; adopting it is under way.
        AccountOwnership::AdoptionApproved { .. } => return,
    };
    let evidence = user_evidence(observed, access, user);
    let ou = desired.org_unit();
    if &user.org_unit != ou {
        let mut evidence = evidence.clone();
        evidence.insert("expected_org_unit".to_owned(), ou.to_string());
        drifts.push(drift(
            DriftKind::AccountMoved,
            account,
            format!(
                "{email} was moved to {}, out of the support org unit {ou}",
                user.org_unit
            ),
            evidence,
        ));
    }
    if user.suspended {
        drifts.push(drift(
            DriftKind::AccountSuspended,
            account,
            format!("{email}, the support account of staff member {staff}, is suspended"),
            evidence.clone(),
        ));
    }
    if access.portal_roles_of(observed, &user.id).is_empty() {
        drifts.push(drift(
            DriftKind::AccountRoleRemoved,
            account,
            format!("{email} no longer holds a role that opens the Customer Care Portal"),
            evidence.clone(),
        ));
    }
    if !observed.holds_cloud_identity(email) {
        drifts.push(drift(
            DriftKind::AccountLicenseRemoved,
            account,
            format!(
                "Google no longer shows the Cloud Identity Free license ({}) on {email}",
                Sku::cloud_identity_free()
            ),
            evidence.clone(),
        ));
    }
    let paid = observed.paid_skus(email);
    if !paid.is_empty() {
        let skus: Vec<String> = paid.iter().map(Sku::to_string).collect();
        drifts.push(drift(
            DriftKind::AccountPaidLicenseAdded,
            account,
            format!(
                "{email} holds the paid Google Workspace license(s) {}",
                skus.join(", ")
            ),
            evidence,
        ));
    }
}

fn revoked_drift(
    drifts: &mut Vec<Drift>,
    desired: &DesiredDomain,
    account: &DesiredAccount,
    mode: RevokeMode,
    observed: &ObservedDomain,
    access: &AccessConfig,
) {
    // Only what the service still owns; anything else at the address is not its to re-revoke.
    let AccountOwnership::Owned { user, .. } =
        classify(account, observed, desired.delegated_admin())
    else {
        return;
    };
    let email = account.email();
    let staff = account.staff_member();
    let mut evidence = user_evidence(observed, access, user);
    evidence.insert("revoke_mode".to_owned(), mode.as_str().to_owned());
    if matches!(mode, RevokeMode::Suspend | RevokeMode::Delete) && !user.suspended {
        drifts.push(drift(
            DriftKind::RevokedAccountReenabled,
            account,
            format!(
                "{email} was revoked for staff member {staff} (mode {}) but is active in Google",
                mode.as_str()
            ),
            evidence.clone(),
        ));
    }
    // Legacy roles are never removed by the service, so they are not a regained access.
    let regained: Vec<String> = access
        .portal_roles_of(observed, &user.id)
        .into_iter()
        .filter(|(_, kind)| *kind != PortalAccessKind::Legacy)
        .map(|(role, _)| role.name.clone())
        .collect();
    if !regained.is_empty() {
        drifts.push(drift(
            DriftKind::RevokedAccountRegainedAccess,
            account,
            format!(
                "{email} was revoked for staff member {staff} but opens the Customer Care Portal again through {}",
                regained.join(", ")
            ),
            evidence,
        ));
    }
}

fn unmanaged_access(
    drifts: &mut Vec<Drift>,
    desired: &DesiredDomain,
    observed: &ObservedDomain,
    access: &AccessConfig,
) {
    for user in &observed.users {
        if user.is_super_admin || desired.is_support_account(&user.email) {
            continue;
        }
        // A support account of another domain of the same customer (a secondary domain shares
        // the org unit and the role): it carries the service's marker, and its own domain
        // watches it.
        if user.marker.is_some() && user.email.domain() != desired.domain().as_str() {
            continue;
        }
        let roles: Vec<String> = access
            .portal_roles_of(observed, &user.id)
            .into_iter()
            .map(|(role, _)| role.name.clone())
            .collect();
        if roles.is_empty() {
            continue;
        }
        drifts.push(Drift {
            kind: DriftKind::UnmanagedPortalAccess,
            account: Some(user.email.clone()),
            staff_member: None,
            detail: format!(
                "{} (user id {}) is not a support account of {} but opens the Customer Care Portal through {}",
                user.email,
                user.id,
                desired.domain(),
                roles.join(", ")
            ),
            evidence: user_evidence(observed, access, user),
        });
    }
}

fn contradicted_confirmation(
    drifts: &mut Vec<Drift>,
    desired: &DesiredDomain,
    observed: &ObservedDomain,
) {
    if !observed.is_confirmed(ManualStep::AutomaticLicensingOff) {
        return;
    }
    let ou = desired.org_unit();
    for user in observed.users.iter().filter(|u| &u.org_unit == ou) {
        let paid = observed.paid_skus(&user.email);
        if paid.is_empty() {
            continue;
        }
        let skus: Vec<String> = paid.iter().map(Sku::to_string).collect();
        let staff_member = desired
            .account(&user.email)
            .or_else(|| desired.revoked_account(&user.email).map(|(a, _)| a))
            .map(|a| a.staff_member().clone());
        drifts.push(Drift {
            kind: DriftKind::ConfirmationContradicted,
            account: Some(user.email.clone()),
            staff_member,
            detail: format!(
                "an operator confirmed automatic licensing off for {ou}, but {} in it holds the paid Google Workspace license(s) {}",
                user.email,
                skus.join(", ")
            ),
            evidence: BTreeMap::from([
                ("user_id".to_owned(), user.id.to_string()),
                ("org_unit".to_owned(), user.org_unit.to_string()),
                ("skus".to_owned(), skus.join(",")),
                (
                    "confirmation".to_owned(),
                    ManualStep::AutomaticLicensingOff.as_str().to_owned(),
                ),
            ]),
        });
    }
}

#[cfg(test)]
mod tests;
