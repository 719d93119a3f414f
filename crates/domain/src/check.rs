//! The checks of the procedure by kind, shared by the planner (which checks a step settles) and
//! the status (which checks hold): in a module of their own so neither imports the other's.

use serde::{Deserialize, Serialize};

/// One thing the procedure needs to be true (the API's `CheckKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CheckKind {
    /// The delegated admin exists, is a super administrator and is not suspended.
    DelegatedAdmin,
    /// The support org unit exists.
    OrgUnit,
    /// Cloud Identity Free is subscribed with a free seat for every account to add.
    CloudIdentitySubscription,
    /// Automatic licensing is off for the support org unit.
    AutomaticLicensing,
    /// The portal role exists.
    PortalRole,
    /// The account exists.
    AccountExists,
    /// The account is in the support org unit.
    AccountInOrgUnit,
    /// The account holds Cloud Identity Free.
    AccountLicense,
    /// The account holds no paid Workspace license.
    AccountNoPaidLicense,
    /// The account holds a role that opens the portal.
    AccountRole,
    /// The account is not suspended.
    AccountNotSuspended,
    /// Case e-mail reaches the person.
    AccountMailRouting,
}

impl CheckKind {
    /// The API name without its `CHECK_KIND_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::DelegatedAdmin => "DELEGATED_ADMIN",
            CheckKind::OrgUnit => "ORG_UNIT",
            CheckKind::CloudIdentitySubscription => "CLOUD_IDENTITY_SUBSCRIPTION",
            CheckKind::AutomaticLicensing => "AUTOMATIC_LICENSING",
            CheckKind::PortalRole => "PORTAL_ROLE",
            CheckKind::AccountExists => "ACCOUNT_EXISTS",
            CheckKind::AccountInOrgUnit => "ACCOUNT_IN_ORG_UNIT",
            CheckKind::AccountLicense => "ACCOUNT_LICENSE",
            CheckKind::AccountNoPaidLicense => "ACCOUNT_NO_PAID_LICENSE",
            CheckKind::AccountRole => "ACCOUNT_ROLE",
            CheckKind::AccountNotSuspended => "ACCOUNT_NOT_SUSPENDED",
            CheckKind::AccountMailRouting => "ACCOUNT_MAIL_ROUTING",
        }
    }

    /// True for the checks of one account.
    pub fn is_account_level(self) -> bool {
        matches!(
            self,
            CheckKind::AccountExists
                | CheckKind::AccountInOrgUnit
                | CheckKind::AccountLicense
                | CheckKind::AccountNoPaidLicense
                | CheckKind::AccountRole
                | CheckKind::AccountNotSuspended
                | CheckKind::AccountMailRouting
        )
    }
}
