//! The provisioning planner: from a domain's desired state and one observation of Google, the
//! steps still needed, in an order that puts dependencies first, each with the account it
//! concerns and a human reason; plus the blockers that a person must clear first.
//!
//! The plan is minimal: a domain that already matches gives no step, and a new account takes at
//! most three writes (create the user with its org unit and recovery e-mail in the insert, the
//! Cloud Identity Free license when Google does not show it, the role assignment). Ids that only
//! exist once an earlier step ran (a created user's id, a created role's id) are not known when
//! planning: such steps name the account by e-mail ([`Step::AssignRole`] with `user_id: None`)
//! and the role by name ([`RoleRef::Planned`]); the engine resolves them when it executes.
//!
//! Only accounts the service owns are written (see [`crate::ownership`]): an address where nothing
//! is gets a [`Step::CreateUser`] that writes the support-access marker with the insert; an owned
//! account gets its fixes; an account an operator approved for adoption gets its marker in a
//! [`Step::UpdateUser`] with its fixes; anything else is a [`BlockerKind::Conflict`] of that
//! account alone, with no step, while the domain and the other accounts go on.
//!
//! Everything serializes to JSON so that the engine can journal steps in Postgres, and the plan
//! is explainable (`validate_only`) through [`DomainPlan::explain`].
//!
//! How the engine drives it, per domain: observe, plan, run the runnable steps in order, observe
//! again, until a pass plans nothing (or stops on a blocker). A second pass is needed anyway to
//! catch what Google does on its own, such as a paid license that automatic licensing adds to a
//! new account.
//!
//! ```
//! use support_access_domain::desired::{DesiredAccount, DesiredDomain};
//! use support_access_domain::observed::*;
//! use support_access_domain::plan::{PlannerConfig, Step, plan_domain};
//! use support_access_domain::*;
//!
//! let domain = DomainName::parse("reseller.example")?;
//! let ana = DesiredAccount::new(
//!     StaffMemberId::parse("ana")?,
//!     Username::parse("ana.silva")?,
//!     PersonName::parse("Ana")?,
//!     PersonName::parse("Silva")?,
//!     EmailAddress::parse("ana@work.example")?,
//!     &domain,
//! )?;
//! let desired = DesiredDomain::new(
//!     domain,
//!     EmailAddress::parse("admin@reseller.example")?,
//!     default_support_ou(),
//!     RoleMode::ResellerAdmin,
//!     default_custom_role(),
//!     vec![ana],
//! )?;
//! // What one observation pass saw: a fresh reseller domain.
//! let observed = ObservedDomain {
//!     admin: AdminObservation::Found { is_super_admin: true, suspended: false },
//!     existing_org_units: vec![],
//!     subscription: SubscriptionObservation::Present { seat_cap: Some(50), seats_used: Some(2) },
//!     roles: vec![ObservedRole {
//!         id: RoleId::new("91"),
//!         name: "_RESELLER_ADMIN_ROLE".into(),
//!         is_system: true,
//!         privileges: vec![],
//!     }],
//!     privilege_tree: vec![],
//!     users: vec![],
//!     cloud_identity_licenses: vec![],
//!     paid_licenses: vec![],
//!     role_assignments: vec![],
//!     confirmations: vec![],
//! };
//! let plan = plan_domain(&desired, &observed, &PlannerConfig::default());
//! assert!(!plan.is_blocked());
//! let actions: Vec<&str> = plan.steps.iter().map(|s| s.step.kind().as_str()).collect();
//! assert_eq!(actions, ["CREATE_ORG_UNIT", "CREATE_USER", "ASSIGN_LICENSE", "ASSIGN_ROLE"]);
//! for planned in plan.runnable_steps() {
//!     // Journal: action, account, staff member, reason, and the step itself as the payload.
//!     let _payload = serde_json::to_value(&planned.step)?;
//!     match &planned.step {
//!         // The user was created earlier in this plan: look its id up by e-mail now.
//!         Step::AssignRole { user_id: None, account, .. } => assert_eq!(account.as_str(), "ana.silva@reseller.example"),
//!         // The new account carries the marker that makes it the service's.
//!         Step::CreateUser { marker, .. } => assert_eq!(marker, "staffMembers/ana"),
//!         _ => {}
//!     }
//! }
//! // validate_only: the plan in words.
//! assert_eq!(plan.explain()[0], "1. CREATE_ORG_UNIT: the support org unit /Customer Care Portal does not exist");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::access::{AccessConfig, PortalAccessKind};
use crate::check::CheckKind;
use crate::desired::{DesiredAccount, DesiredDomain};
use crate::instructions;
use crate::names::{
    DomainName, EmailAddress, OrgUnitPath, PersonName, RoleMode, RoleName, StaffMemberId,
};
use crate::observed::{
    AdminObservation, ManualStep, ObservedDomain, ObservedRole, ObservedUser, RoleAssignmentId,
    RoleId, RolePrivilege, Sku, SubscriptionObservation, UserId,
};
use crate::ownership::{AccountOwnership, ConflictKind, classify, marker_value};

/// Planner settings that come from the server's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlannerConfig {
    /// Names of portal-opening roles and privileges.
    pub access: AccessConfig,
    /// When true, no account is created until an operator confirmed that automatic licensing is
    /// off (`AUTOMATIC_LICENSING_OFF`). When false (the default) accounts are created anyway,
    /// and a paid license that automatic licensing adds is detected and removed on the next pass.
    pub require_automatic_licensing_confirmation: bool,
}

/// The role a [`Step::AssignRole`] assigns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RoleRef {
    /// A role Google showed, by id.
    Existing {
        /// `roleId`.
        role_id: RoleId,
        /// `roleName`, for people reading the plan.
        role_name: String,
    },
    /// The custom role that a [`Step::CreateCustomRole`] of the same plan creates: the engine
    /// resolves its id by name once it exists.
    Planned {
        /// The role's name.
        role_name: RoleName,
    },
}

impl RoleRef {
    /// The role's name.
    pub fn role_name(&self) -> &str {
        match self {
            RoleRef::Existing { role_name, .. } => role_name,
            RoleRef::Planned { role_name } => role_name.as_str(),
        }
    }
}

/// Given and family name, set together.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PersonNames {
    /// `name.givenName`.
    pub given_name: PersonName,
    /// `name.familyName`.
    pub family_name: PersonName,
}

/// One write to Google. Account-level steps carry the account's primary e-mail.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Step {
    /// `orgunits.insert` of `path` (its parent exists or is created by an earlier step).
    CreateOrgUnit {
        /// The org unit to create.
        path: OrgUnitPath,
    },
    /// `roles.insert` of the custom role with both portal privileges.
    CreateCustomRole {
        /// `roleName`.
        role_name: RoleName,
        /// `rolePrivileges`, as found in the privilege tree.
        privileges: Vec<RolePrivilege>,
    },
    /// `users.insert` with a random password that nobody keeps (the engine generates it and
    /// forgets it; `IssueSignInCredential` sets a usable one later), already in the org unit and
    /// with the recovery e-mail set.
    CreateUser {
        /// `primaryEmail`.
        account: EmailAddress,
        /// `name`.
        names: PersonNames,
        /// `orgUnitPath`.
        org_unit: OrgUnitPath,
        /// `recoveryEmail`: the person's Workspace address.
        recovery_email: EmailAddress,
        /// The value of the support-access `externalIds` entry
        /// ([`marker_value`] of the staff member), written with
        /// the insert so that the account is ours from its first moment. Empty only in steps
        /// journaled before markers existed.
        #[serde(default)]
        marker: String,
    },
    /// `users.update` of an existing account; only the fields that are `Some`/`true` change.
    UpdateUser {
        /// The account.
        account: EmailAddress,
        /// Its Google id.
        user_id: UserId,
        /// Move it to this org unit.
        move_to_org_unit: Option<OrgUnitPath>,
        /// Set `suspended: false`.
        unsuspend: bool,
        /// Set `recoveryEmail`.
        recovery_email: Option<EmailAddress>,
        /// Set `name`.
        names: Option<PersonNames>,
        /// Write the support-access `externalIds` entry with this value: `Some` when adopting an
        /// account an operator approved (keeping the user's other external ids).
        #[serde(default)]
        set_marker: Option<String>,
    },
    /// `licenseAssignments.insert` (Cloud Identity Free).
    AssignLicense {
        /// The account (`userId` is its e-mail).
        account: EmailAddress,
        /// The SKU.
        sku: Sku,
    },
    /// `licenseAssignments.delete` of a paid Workspace SKU.
    RemovePaidLicense {
        /// The account.
        account: EmailAddress,
        /// The paid SKU.
        sku: Sku,
    },
    /// `roleAssignments.insert` at customer scope.
    AssignRole {
        /// The account.
        account: EmailAddress,
        /// Its Google id; `None` when the account is created by this plan (resolve by e-mail).
        user_id: Option<UserId>,
        /// The role.
        role: RoleRef,
    },
    /// `roleAssignments.delete`.
    RemoveRole {
        /// The account.
        account: EmailAddress,
        /// The assignment to delete.
        assignment_id: RoleAssignmentId,
        /// The role's name, for people reading the plan.
        role_name: String,
    },
    /// `users.update` with `suspended: true`.
    SuspendUser {
        /// The account.
        account: EmailAddress,
        /// Its Google id.
        user_id: UserId,
    },
    /// `users.delete`.
    DeleteUser {
        /// The account.
        account: EmailAddress,
        /// Its Google id.
        user_id: UserId,
    },
}

/// The kind of a step, as the API's `StepAction` and the journal's `steps.action` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StepKind {
    /// [`Step::CreateOrgUnit`].
    CreateOrgUnit,
    /// [`Step::CreateCustomRole`] (the API calls it `ENSURE_ROLE`).
    CreateCustomRole,
    /// [`Step::CreateUser`].
    CreateUser,
    /// [`Step::UpdateUser`].
    UpdateUser,
    /// [`Step::AssignLicense`].
    AssignLicense,
    /// [`Step::RemovePaidLicense`].
    RemovePaidLicense,
    /// [`Step::AssignRole`].
    AssignRole,
    /// [`Step::RemoveRole`].
    RemoveRole,
    /// [`Step::SuspendUser`].
    SuspendUser,
    /// [`Step::DeleteUser`].
    DeleteUser,
}

impl StepKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [StepKind] = &[
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
    ];

    /// The `StepAction` name without its prefix, as stored in `steps.action`.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::CreateOrgUnit => "CREATE_ORG_UNIT",
            StepKind::CreateCustomRole => "ENSURE_ROLE",
            StepKind::CreateUser => "CREATE_USER",
            StepKind::UpdateUser => "UPDATE_USER",
            StepKind::AssignLicense => "ASSIGN_LICENSE",
            StepKind::RemovePaidLicense => "REMOVE_PAID_LICENSE",
            StepKind::AssignRole => "ASSIGN_ROLE",
            StepKind::RemoveRole => "REMOVE_ROLE",
            StepKind::SuspendUser => "SUSPEND_USER",
            StepKind::DeleteUser => "DELETE_USER",
        }
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Step {
    /// The kind of the step.
    pub fn kind(&self) -> StepKind {
        match self {
            Step::CreateOrgUnit { .. } => StepKind::CreateOrgUnit,
            Step::CreateCustomRole { .. } => StepKind::CreateCustomRole,
            Step::CreateUser { .. } => StepKind::CreateUser,
            Step::UpdateUser { .. } => StepKind::UpdateUser,
            Step::AssignLicense { .. } => StepKind::AssignLicense,
            Step::RemovePaidLicense { .. } => StepKind::RemovePaidLicense,
            Step::AssignRole { .. } => StepKind::AssignRole,
            Step::RemoveRole { .. } => StepKind::RemoveRole,
            Step::SuspendUser { .. } => StepKind::SuspendUser,
            Step::DeleteUser { .. } => StepKind::DeleteUser,
        }
    }

    /// The account the step concerns; `None` for domain-level steps.
    pub fn account(&self) -> Option<&EmailAddress> {
        match self {
            Step::CreateOrgUnit { .. } | Step::CreateCustomRole { .. } => None,
            Step::CreateUser { account, .. }
            | Step::UpdateUser { account, .. }
            | Step::AssignLicense { account, .. }
            | Step::RemovePaidLicense { account, .. }
            | Step::AssignRole { account, .. }
            | Step::RemoveRole { account, .. }
            | Step::SuspendUser { account, .. }
            | Step::DeleteUser { account, .. } => Some(account),
        }
    }

    /// A key that identifies what the step changes: two steps with the same key would do the
    /// same thing, so a plan never holds both. The engine may use it to match journal entries.
    pub fn key(&self) -> String {
        let kind = self.kind().as_str();
        match self {
            Step::CreateOrgUnit { path } => format!("{kind}:{path}"),
            Step::CreateCustomRole { role_name, .. } => format!("{kind}:{role_name}"),
            Step::AssignLicense { account, sku } | Step::RemovePaidLicense { account, sku } => {
                format!("{kind}:{account}:{sku}")
            }
            Step::RemoveRole { assignment_id, .. } => format!("{kind}:{assignment_id}"),
            Step::CreateUser { account, .. }
            | Step::UpdateUser { account, .. }
            | Step::AssignRole { account, .. }
            | Step::SuspendUser { account, .. }
            | Step::DeleteUser { account, .. } => format!("{kind}:{account}"),
        }
    }

    /// The checks of the domain status that this step works on.
    pub fn checks(&self) -> Vec<CheckKind> {
        match self {
            Step::CreateOrgUnit { .. } => vec![CheckKind::OrgUnit],
            Step::CreateCustomRole { .. } => vec![CheckKind::PortalRole],
            // The insert already places the account in its org unit with its recovery e-mail.
            Step::CreateUser { .. } => vec![
                CheckKind::AccountExists,
                CheckKind::AccountInOrgUnit,
                CheckKind::AccountMailRouting,
            ],
            Step::UpdateUser {
                move_to_org_unit,
                unsuspend,
                recovery_email,
                names,
                set_marker,
                ..
            } => {
                let mut checks = Vec::new();
                // Adoption makes the account ours: it works on "the account exists as ours".
                if names.is_some() || set_marker.is_some() {
                    checks.push(CheckKind::AccountExists);
                }
                if move_to_org_unit.is_some() {
                    checks.push(CheckKind::AccountInOrgUnit);
                }
                if *unsuspend {
                    checks.push(CheckKind::AccountNotSuspended);
                }
                if recovery_email.is_some() {
                    checks.push(CheckKind::AccountMailRouting);
                }
                checks
            }
            Step::AssignLicense { .. } => vec![CheckKind::AccountLicense],
            Step::RemovePaidLicense { .. } => vec![CheckKind::AccountNoPaidLicense],
            Step::AssignRole { .. } | Step::RemoveRole { .. } => vec![CheckKind::AccountRole],
            Step::SuspendUser { .. } => vec![CheckKind::AccountNotSuspended],
            Step::DeleteUser { .. } => vec![CheckKind::AccountExists],
        }
    }
}

/// A step with the staff member it serves and why it is needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStep {
    /// What to do.
    pub step: Step,
    /// The staff member whose account the step concerns; `None` for domain-level steps and for
    /// accounts no staff member owns.
    pub staff_member: Option<StaffMemberId>,
    /// Why, from what was observed; user-facing.
    pub reason: String,
}

impl fmt::Display for PlannedStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.step.account() {
            Some(account) => write!(f, "{} {account}: {}", self.step.kind(), self.reason),
            None => write!(f, "{}: {}", self.step.kind(), self.reason),
        }
    }
}

/// What stops a domain (or one account) until a person acts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BlockerKind {
    /// The delegated admin does not exist.
    AdminNotFound,
    /// The delegated admin is not a super administrator.
    AdminNotSuperAdmin,
    /// The delegated admin is suspended.
    AdminSuspended,
    /// Google says Cloud Identity Free is not subscribed.
    SubscriptionMissing,
    /// Google cannot tell whether Cloud Identity Free is subscribed, and no operator confirmed it.
    SubscriptionUnconfirmed,
    /// Fewer free Cloud Identity seats than accounts to create.
    SeatsExhausted {
        /// Accounts to create.
        needed: u32,
        /// Free seats.
        free: u32,
    },
    /// Automatic licensing must be confirmed off before creating accounts (configuration).
    AutomaticLicensingUnconfirmed,
    /// No system role matches the configured Reseller Admin names.
    ResellerAdminRoleNotFound,
    /// The portal privileges are not in the privilege tree, so the custom role cannot be built.
    PrivilegesNotFound {
        /// The configured names not found.
        missing: Vec<String>,
    },
    /// A role with the custom role's name exists without both privileges.
    CustomRoleLacksPrivileges {
        /// The role's id.
        role_id: RoleId,
        /// The privileges it lacks.
        missing: Vec<String>,
    },
    /// The account at the staff member's address is not the service's (see
    /// [`crate::ownership`]): nothing is planned for it; the domain and the other accounts go on.
    Conflict {
        /// Why.
        conflict: ConflictKind,
        /// The Google id of the account in the way, when there is one.
        user_id: Option<UserId>,
    },
}

impl BlockerKind {
    /// The status check the blocker belongs to.
    pub fn check(&self) -> CheckKind {
        match self {
            BlockerKind::AdminNotFound
            | BlockerKind::AdminNotSuperAdmin
            | BlockerKind::AdminSuspended => CheckKind::DelegatedAdmin,
            BlockerKind::SubscriptionMissing
            | BlockerKind::SubscriptionUnconfirmed
            | BlockerKind::SeatsExhausted { .. } => CheckKind::CloudIdentitySubscription,
            BlockerKind::AutomaticLicensingUnconfirmed => CheckKind::AutomaticLicensing,
            BlockerKind::ResellerAdminRoleNotFound
            | BlockerKind::PrivilegesNotFound { .. }
            | BlockerKind::CustomRoleLacksPrivileges { .. } => CheckKind::PortalRole,
            BlockerKind::Conflict { .. } => CheckKind::AccountExists,
        }
    }
}

/// A blocker with its explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocker {
    /// What blocks.
    pub kind: BlockerKind,
    /// The account it concerns; `None` when it stops the whole domain.
    pub account: Option<EmailAddress>,
    /// What was observed; user-facing.
    pub reason: String,
    /// What a person must do; user-facing, exact.
    pub what_to_do: String,
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; {}", self.reason, self.what_to_do)
    }
}

/// The plan for one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainPlan {
    /// The domain.
    pub domain: DomainName,
    /// Every step still needed, dependencies first. Listed even when the domain is blocked, so
    /// that `validate_only` shows the whole picture; see [`DomainPlan::runnable_steps`].
    pub steps: Vec<PlannedStep>,
    /// Domain blockers (`account: None`) stop every step; account blockers mean that account has
    /// no step.
    pub blockers: Vec<Blocker>,
    /// Findings an operator must know, e.g. that automatic licensing is on.
    pub notes: Vec<String>,
    /// True when a paid Workspace license was seen on an account of the support org unit: the
    /// sign that automatic licensing is on for it.
    pub automatic_licensing_detected: bool,
}

impl DomainPlan {
    /// True when a domain-level blocker stops the whole domain.
    pub fn is_blocked(&self) -> bool {
        self.blockers.iter().any(|b| b.account.is_none())
    }

    /// The steps the engine may run now: all of them, or none when the domain is blocked.
    pub fn runnable_steps(&self) -> &[PlannedStep] {
        if self.is_blocked() { &[] } else { &self.steps }
    }

    /// True when nothing is left to do and nothing blocks.
    pub fn is_complete(&self) -> bool {
        self.steps.is_empty() && self.blockers.is_empty()
    }

    /// The domain blockers, joined, for `DomainProgress.message`.
    pub fn blocked_message(&self) -> Option<String> {
        let domain: Vec<String> = self
            .blockers
            .iter()
            .filter(|b| b.account.is_none())
            .map(Blocker::to_string)
            .collect();
        (!domain.is_empty()).then(|| domain.join("\n"))
    }

    /// The plan as numbered lines for people: blockers, then steps, then notes.
    pub fn explain(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for blocker in &self.blockers {
            match &blocker.account {
                Some(account) => lines.push(format!("blocked {account}: {blocker}")),
                None => lines.push(format!("blocked: {blocker}")),
            }
        }
        for (index, step) in self.steps.iter().enumerate() {
            lines.push(format!("{}. {step}", index + 1));
        }
        for note in &self.notes {
            lines.push(format!("note: {note}"));
        }
        if lines.is_empty() {
            lines.push(format!("{} is as desired: nothing to do", self.domain));
        }
        lines
    }
}

/// Where the portal role stands in the domain.
#[derive(Debug, Clone)]
pub(crate) enum RoleState<'a> {
    /// The role exists.
    Ready(&'a ObservedRole),
    /// The custom role must be created with these privileges.
    ToCreate(Vec<RolePrivilege>),
    /// A person must act.
    Blocked(Blocker),
}

impl RoleState<'_> {
    fn role_ref(&self, desired: &DesiredDomain) -> Option<RoleRef> {
        match self {
            RoleState::Ready(role) => Some(RoleRef::Existing {
                role_id: role.id.clone(),
                role_name: role.name.clone(),
            }),
            RoleState::ToCreate(_) => Some(RoleRef::Planned {
                role_name: desired.custom_role_name().clone(),
            }),
            RoleState::Blocked(_) => None,
        }
    }
}

/// What the observation says about one desired account.
#[derive(Debug, Clone)]
pub(crate) struct AccountFacts<'a> {
    pub desired: &'a DesiredAccount,
    /// Whether the service owns what is at the address.
    pub ownership: AccountOwnership<'a>,
    /// The account the service may write to (owned, or approved for adoption); `None` when
    /// nothing is there or it is not ours.
    pub user: Option<&'a ObservedUser>,
    /// The conflict as an account blocker.
    pub blocker: Option<Blocker>,
    pub has_cloud_identity: bool,
    pub paid_skus: Vec<Sku>,
    pub portal_roles: Vec<(&'a ObservedRole, PortalAccessKind)>,
    /// The observed recovery e-mail equals the person's Workspace address.
    pub recovery_ok: bool,
    /// The names to set, when Google showed other names.
    pub names_drift: Option<PersonNames>,
}

/// The observation read against the desired state: shared by the planner and the status.
#[derive(Debug, Clone)]
pub(crate) struct Analysis<'a> {
    pub admin_blocker: Option<Blocker>,
    pub missing_org_units: Vec<OrgUnitPath>,
    pub role: RoleState<'a>,
    pub accounts: Vec<AccountFacts<'a>>,
    pub to_create: u32,
    pub subscription_blocker: Option<Blocker>,
    pub automatic_licensing_blocker: Option<Blocker>,
    /// Accounts of the support org unit holding a paid license, with their SKUs.
    pub paid_in_org_unit: Vec<(EmailAddress, Vec<Sku>)>,
}

pub(crate) fn analyse<'a>(
    desired: &'a DesiredDomain,
    observed: &'a ObservedDomain,
    config: &PlannerConfig,
) -> Analysis<'a> {
    let domain = desired.domain();
    let admin = desired.delegated_admin();
    let domain_blocker = |kind, reason: String, what_to_do: String| Blocker {
        kind,
        account: None,
        reason,
        what_to_do,
    };

    let admin_blocker = match observed.admin {
        AdminObservation::NotFound => Some(domain_blocker(
            BlockerKind::AdminNotFound,
            format!("the delegated admin {admin} does not exist in {domain}"),
            format!(
                "create {admin} as a super administrator of {domain}, or name an existing super administrator as the domain's delegated admin (UpdateDomain)"
            ),
        )),
        AdminObservation::Found {
            suspended: true, ..
        } => Some(domain_blocker(
            BlockerKind::AdminSuspended,
            format!("the delegated admin {admin} is suspended"),
            format!(
                "restore {admin} in the Admin console of {domain} (Directory > Users), or name another super administrator (UpdateDomain)"
            ),
        )),
        AdminObservation::Found {
            is_super_admin: false,
            ..
        } => Some(domain_blocker(
            BlockerKind::AdminNotSuperAdmin,
            format!("the delegated admin {admin} is not a super administrator"),
            format!(
                "assign the Super Admin role to {admin} in the Admin console of {domain} (Account > Admin roles > Super Admin > Assign users), or name another super administrator (UpdateDomain)"
            ),
        )),
        AdminObservation::Found { .. } | AdminObservation::ServiceAccount => None,
    };

    // Missing org units, top-down: ancestors before the support org unit.
    let mut missing_org_units = Vec::new();
    let mut path = desired.org_unit().clone();
    while !path.is_root() {
        if !observed.org_unit_exists(&path) {
            missing_org_units.push(path.clone());
        } else {
            // An existing org unit implies its ancestors exist.
            break;
        }
        path = path.parent();
    }
    missing_org_units.reverse();

    let role = role_state(desired, observed, &config.access);

    let support_ou = desired.org_unit();
    let accounts: Vec<AccountFacts> = desired
        .accounts()
        .iter()
        .map(|account| account_facts(account, desired, observed, &config.access))
        .collect();

    let to_create = accounts
        .iter()
        .filter(|a| a.ownership == AccountOwnership::Absent)
        .count() as u32;

    let confirmed_subscription = observed.is_confirmed(ManualStep::CloudIdentityFreeSubscribed);
    let subscription_blocker = if to_create == 0 {
        None
    } else {
        match observed.subscription {
            SubscriptionObservation::Absent => Some(domain_blocker(
                BlockerKind::SubscriptionMissing,
                format!(
                    "Google shows no Cloud Identity Free subscription in {domain}, needed for {to_create} new account(s)"
                ),
                instructions::subscription(domain),
            )),
            SubscriptionObservation::Unknown if !confirmed_subscription => Some(domain_blocker(
                BlockerKind::SubscriptionUnconfirmed,
                format!(
                    "Google cannot tell whether Cloud Identity Free is subscribed in {domain}, and no operator confirmed it; {to_create} account(s) are to be created"
                ),
                instructions::subscription(domain),
            )),
            subscription => match subscription.free_seats() {
                Some(free) if free < to_create => Some(domain_blocker(
                    BlockerKind::SeatsExhausted {
                        needed: to_create,
                        free,
                    },
                    format!(
                        "{to_create} account(s) to create but only {free} free Cloud Identity Free seat(s) in {domain}"
                    ),
                    instructions::seats(domain),
                )),
                _ => None,
            },
        }
    };

    let automatic_licensing_blocker = (config.require_automatic_licensing_confirmation
        && to_create > 0
        && !observed.is_confirmed(ManualStep::AutomaticLicensingOff))
    .then(|| {
        domain_blocker(
            BlockerKind::AutomaticLicensingUnconfirmed,
            format!("automatic licensing must be confirmed off for {support_ou} before accounts are created, and no operator confirmed it"),
            instructions::automatic_licensing(domain, support_ou),
        )
    });

    let mut paid_in_org_unit: Vec<(EmailAddress, Vec<Sku>)> = observed
        .users
        .iter()
        .filter(|u| &u.org_unit == support_ou)
        .map(|u| (u.email.clone(), observed.paid_skus(&u.email)))
        .filter(|(_, skus)| !skus.is_empty())
        .collect();
    paid_in_org_unit.sort();

    Analysis {
        admin_blocker,
        missing_org_units,
        role,
        accounts,
        to_create,
        subscription_blocker,
        automatic_licensing_blocker,
        paid_in_org_unit,
    }
}

fn role_state<'a>(
    desired: &DesiredDomain,
    observed: &'a ObservedDomain,
    access: &AccessConfig,
) -> RoleState<'a> {
    let domain = desired.domain();
    let blocked = |kind, reason: String, what_to_do: String| {
        RoleState::Blocked(Blocker {
            kind,
            account: None,
            reason,
            what_to_do,
        })
    };
    match desired.role_mode() {
        RoleMode::ResellerAdmin => match access.reseller_admin_role(&observed.roles) {
            Some(role) => RoleState::Ready(role),
            None => blocked(
                BlockerKind::ResellerAdminRoleNotFound,
                format!(
                    "no system role of {domain} is named {}, the configured Reseller Admin role name(s)",
                    access.reseller_admin_role_names.join(" or ")
                ),
                "set the domain's role mode to CUSTOM_ROLE (UpdateDomain), or configure the name that roles.list shows for the Reseller Admin role".to_owned(),
            ),
        },
        RoleMode::CustomRole => {
            let name = desired.custom_role_name();
            let existing = observed
                .roles
                .iter()
                .find(|role| !role.is_system && role.name == name.as_str());
            match existing {
                Some(role) => {
                    let missing = access.missing_privileges(role, &observed.privilege_tree);
                    if missing.is_empty() {
                        RoleState::Ready(role)
                    } else {
                        blocked(
                            BlockerKind::CustomRoleLacksPrivileges {
                                role_id: role.id.clone(),
                                missing: missing.clone(),
                            },
                            format!("the role '{name}' exists but lacks {}", missing.join(" and ")),
                            format!("add the privileges Reseller tools > Customers > View Customers and Access Customer Support Cases to the role '{name}' in the Admin console of {domain} (Account > Admin roles), or choose another custom role name (UpdateDomain)"),
                        )
                    }
                }
                None => match access.find_portal_privileges(&observed.privilege_tree) {
                    Ok(privileges) => RoleState::ToCreate(privileges.to_vec()),
                    Err(missing) => blocked(
                        BlockerKind::PrivilegesNotFound { missing: missing.clone() },
                        format!(
                            "the privilege tree of {domain} has no {}, so the role '{name}' cannot be built",
                            missing.join(" nor ")
                        ),
                        "check that the domain is a reseller domain, dump its privilege tree and configure the privilege names it shows for View Customers and Access Customer Support Cases, or use the RESELLER_ADMIN role mode".to_owned(),
                    ),
                },
            }
        }
    }
}

fn account_facts<'a>(
    account: &'a DesiredAccount,
    desired: &DesiredDomain,
    observed: &'a ObservedDomain,
    access: &AccessConfig,
) -> AccountFacts<'a> {
    let email = account.email();
    let ownership = classify(account, observed, desired.delegated_admin());
    let user = ownership.writable_user();
    let paid_skus = observed.paid_skus(email);
    let blocker = ownership.conflict().map(|conflict| Blocker {
        kind: BlockerKind::Conflict {
            conflict: conflict.kind.clone(),
            user_id: conflict.user_id.clone(),
        },
        account: Some(email.clone()),
        reason: conflict.reason.clone(),
        what_to_do: conflict.what_to_do.clone(),
    });
    let recovery_ok = user.is_some_and(|u| {
        u.recovery_email
            .as_deref()
            .and_then(|raw| EmailAddress::parse(raw).ok())
            .is_some_and(|r| &r == account.workspace_email())
    });
    let names_drift = user
        .and_then(|u| u.names.as_ref())
        .and_then(|(given, family)| {
            (given != account.given_name() || family != account.family_name()).then(|| {
                PersonNames {
                    given_name: account.given_name().clone(),
                    family_name: account.family_name().clone(),
                }
            })
        });
    AccountFacts {
        desired: account,
        ownership,
        user,
        blocker,
        has_cloud_identity: observed.holds_cloud_identity(email),
        paid_skus,
        portal_roles: user
            .map(|u| access.portal_roles_of(observed, &u.id))
            .unwrap_or_default(),
        recovery_ok,
        names_drift,
    }
}

/// Plans the steps that bring `desired` about, given what `observed` saw.
pub fn plan_domain(
    desired: &DesiredDomain,
    observed: &ObservedDomain,
    config: &PlannerConfig,
) -> DomainPlan {
    let analysis = analyse(desired, observed, config);
    let support_ou = desired.org_unit();
    let mut steps = Vec::new();
    let mut blockers = Vec::new();
    let mut notes = Vec::new();

    blockers.extend(analysis.admin_blocker.clone());
    blockers.extend(analysis.subscription_blocker.clone());
    blockers.extend(analysis.automatic_licensing_blocker.clone());
    if let RoleState::Blocked(blocker) = &analysis.role {
        blockers.push(blocker.clone());
    }

    for path in &analysis.missing_org_units {
        steps.push(PlannedStep {
            reason: if path == support_ou {
                format!("the support org unit {path} does not exist")
            } else {
                format!("{path}, parent of the support org unit {support_ou}, does not exist")
            },
            step: Step::CreateOrgUnit { path: path.clone() },
            staff_member: None,
        });
    }

    if let RoleState::ToCreate(privileges) = &analysis.role {
        let role_name = desired.custom_role_name().clone();
        let names: Vec<&str> = privileges
            .iter()
            .map(|p| p.privilege_name.as_str())
            .collect();
        steps.push(PlannedStep {
            reason: format!(
                "no custom role named '{role_name}' exists; it will hold {}",
                names.join(" and ")
            ),
            step: Step::CreateCustomRole {
                role_name,
                privileges: privileges.clone(),
            },
            staff_member: None,
        });
    }
    let role_ref = analysis.role.role_ref(desired);

    for facts in &analysis.accounts {
        if let Some(blocker) = &facts.blocker {
            blockers.push(blocker.clone());
            continue;
        }
        plan_account(facts, support_ou, role_ref.as_ref(), &mut steps);
    }

    let automatic_licensing_detected = !analysis.paid_in_org_unit.is_empty();
    if automatic_licensing_detected {
        let accounts: Vec<String> = analysis
            .paid_in_org_unit
            .iter()
            .map(|(email, skus)| {
                let skus: Vec<String> = skus.iter().map(Sku::to_string).collect();
                format!("{email} ({})", skus.join(", "))
            })
            .collect();
        notes.push(format!(
            "automatic licensing appears to be on for {support_ou}: Google shows paid Google Workspace licenses on {} account(s) of it: {}; paid licenses of support accounts are removed by this plan. To stop it: {}",
            accounts.len(),
            accounts.join("; "),
            instructions::automatic_licensing(desired.domain(), support_ou)
        ));
    }

    DomainPlan {
        domain: desired.domain().clone(),
        steps,
        blockers,
        notes,
        automatic_licensing_detected,
    }
}

fn plan_account(
    facts: &AccountFacts,
    support_ou: &OrgUnitPath,
    role: Option<&RoleRef>,
    steps: &mut Vec<PlannedStep>,
) {
    let account = facts.desired;
    let email = account.email();
    let staff_member = Some(account.staff_member().clone());
    let mut push = |step: Step, reason: String| {
        steps.push(PlannedStep {
            step,
            staff_member: staff_member.clone(),
            reason,
        })
    };
    let user_id = match facts.user {
        // A conflict: the caller planned nothing for it; this is a second guard.
        None if facts.ownership != AccountOwnership::Absent => return,
        None => {
            push(
                Step::CreateUser {
                    account: email.clone(),
                    names: PersonNames {
                        given_name: account.given_name().clone(),
                        family_name: account.family_name().clone(),
                    },
                    org_unit: support_ou.clone(),
                    recovery_email: account.workspace_email().clone(),
                    marker: marker_value(account.staff_member()),
                },
                format!(
                    "{email} does not exist: create it in {support_ou} with recovery e-mail {} and a random password nobody keeps",
                    account.workspace_email()
                ),
            );
            None
        }
        Some(user) => {
            let move_to_org_unit = (&user.org_unit != support_ou).then(|| support_ou.clone());
            let recovery_email = (!facts.recovery_ok).then(|| account.workspace_email().clone());
            // An approved account that already carries the marker (a previous pass marked it)
            // needs no write: the engine records its ownership.
            let marker = marker_value(account.staff_member());
            let set_marker = (matches!(facts.ownership, AccountOwnership::AdoptionApproved { .. })
                && user.marker.as_deref() != Some(marker.as_str()))
            .then_some(marker);
            let mut why = Vec::new();
            if set_marker.is_some() {
                why.push(format!(
                    "is adopted as the support account of staff member {}, as an operator approved: mark it",
                    account.staff_member()
                ));
            }
            if move_to_org_unit.is_some() {
                why.push(format!("is in {} instead of {support_ou}", user.org_unit));
            }
            if user.suspended {
                why.push("is suspended".to_owned());
            }
            if let Some(recovery) = &recovery_email {
                match &user.recovery_email {
                    Some(current) if !current.is_empty() => why.push(format!(
                        "has recovery e-mail {current} instead of {recovery}"
                    )),
                    _ => why.push(format!("has no recovery e-mail (want {recovery})")),
                }
            }
            if facts.names_drift.is_some() {
                why.push(format!(
                    "is named differently from {} {}",
                    account.given_name(),
                    account.family_name()
                ));
            }
            if !why.is_empty() {
                push(
                    Step::UpdateUser {
                        account: email.clone(),
                        user_id: user.id.clone(),
                        move_to_org_unit,
                        unsuspend: user.suspended,
                        recovery_email,
                        names: facts.names_drift.clone(),
                        set_marker,
                    },
                    format!("{email} {}", why.join(", ")),
                );
            }
            Some(user.id.clone())
        }
    };
    if !facts.has_cloud_identity {
        let sku = Sku::cloud_identity_free();
        push(
            Step::AssignLicense {
                account: email.clone(),
                sku: sku.clone(),
            },
            format!("Google does not show the Cloud Identity Free license ({sku}) on {email}"),
        );
    }
    for sku in &facts.paid_skus {
        push(
            Step::RemovePaidLicense {
                account: email.clone(),
                sku: sku.clone(),
            },
            format!(
                "{email} holds the paid Google Workspace license {sku}, most likely added by automatic licensing; a support account needs only Cloud Identity Free"
            ),
        );
    }
    if facts.portal_roles.is_empty()
        && let Some(role) = role
    {
        push(
            Step::AssignRole {
                account: email.clone(),
                user_id,
                role: role.clone(),
            },
            format!(
                "{email} holds no role that opens the Customer Care Portal: assign '{}' at customer scope",
                role.role_name()
            ),
        );
    }
}

#[cfg(test)]
mod tests;
