//! The status of a domain, check by check (`GetDomainStatus`): for every precondition of the
//! procedure and every account property, its state (OK, MISSING, DRIFTED, PENDING,
//! MANUAL_ACTION_REQUIRED, ERROR, CONFLICT) with a user-facing detail, and for the steps Google has no API
//! for (automatic licensing, signing up for Cloud Identity Free, mail routing) the exact manual
//! instructions and how to confirm them. Computed from the same analysis as the planner, so the
//! status and the plan never disagree; steps still running or failed (from the journal) turn
//! their checks PENDING or ERROR.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::desired::DesiredDomain;
use crate::instructions;
use crate::names::{DomainName, EmailAddress, StaffMemberId};
use crate::observed::{AdminObservation, ManualStep, ObservedDomain, SubscriptionObservation};
use crate::ownership::{AccountOwnership, marker_value};
use crate::plan::{AccountFacts, PlannerConfig, RoleState, Step, analyse};

pub use crate::check::CheckKind;

/// The outcome of a check. The order is severity: the summary of several checks is the greatest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CheckState {
    /// As desired.
    Ok,
    /// Being worked on, or waiting for Google.
    Pending,
    /// Does not exist yet.
    Missing,
    /// Exists but differs from the desired state.
    Drifted,
    /// A person must act (see the check's `manual_action`).
    ManualActionRequired,
    /// The account at the staff member's address is not the service's (see
    /// [`crate::ownership`]): nothing is done to it until a person decides. More severe than a
    /// manual action (the account cannot be provisioned at all), less than a failure.
    Conflict,
    /// The last observation or action failed.
    Error,
}

impl CheckState {
    /// The API name without its `CHECK_STATE_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckState::Ok => "OK",
            CheckState::Pending => "PENDING",
            CheckState::Missing => "MISSING",
            CheckState::Drifted => "DRIFTED",
            CheckState::ManualActionRequired => "MANUAL_ACTION_REQUIRED",
            CheckState::Error => "ERROR",
            CheckState::Conflict => "CONFLICT",
        }
    }

    /// The summary of several states: OK when there are none.
    pub fn summary(states: impl IntoIterator<Item = CheckState>) -> CheckState {
        states.into_iter().max().unwrap_or(CheckState::Ok)
    }
}

impl fmt::Display for CheckState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check with what is known about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// What is checked.
    pub kind: CheckKind,
    /// The outcome.
    pub state: CheckState,
    /// What was seen, or why it failed; user-facing.
    pub detail: String,
    /// Exact instructions when a person must act.
    pub manual_action: Option<String>,
}

impl Check {
    fn new(kind: CheckKind, state: CheckState, detail: impl Into<String>) -> Self {
        Self {
            kind,
            state,
            detail: detail.into(),
            manual_action: None,
        }
    }

    fn manual(kind: CheckKind, detail: impl Into<String>, action: impl Into<String>) -> Self {
        Self {
            kind,
            state: CheckState::ManualActionRequired,
            detail: detail.into(),
            manual_action: Some(action.into()),
        }
    }
}

/// The checks of one support account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountStatus {
    /// The staff member.
    pub staff_member: StaffMemberId,
    /// The account's primary e-mail.
    pub email: EmailAddress,
    /// Summary of the checks.
    pub state: CheckState,
    /// The account-level checks, in [`CheckKind`] order.
    pub checks: Vec<Check>,
}

/// The status of a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainStatus {
    /// The domain.
    pub domain: DomainName,
    /// Summary of every check.
    pub state: CheckState,
    /// The domain-level checks, in [`CheckKind`] order.
    pub checks: Vec<Check>,
    /// Every desired account, by e-mail.
    pub accounts: Vec<AccountStatus>,
}

impl DomainStatus {
    /// Every manual instruction, domain-level first, without duplicates.
    pub fn manual_actions(&self) -> Vec<&str> {
        let mut actions: Vec<&str> = Vec::new();
        let all = self
            .checks
            .iter()
            .chain(self.accounts.iter().flat_map(|a| a.checks.iter()));
        for check in all {
            if let Some(action) = check.manual_action.as_deref()
                && !actions.contains(&action)
            {
                actions.push(action);
            }
        }
        actions
    }

    /// The status of one account.
    pub fn account(&self, email: &EmailAddress) -> Option<&AccountStatus> {
        self.accounts.iter().find(|a| &a.email == email)
    }
}

/// A step of the journal that failed for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedStep {
    /// The step.
    pub step: Step,
    /// Why it failed and what to do; user-facing, never a secret.
    pub detail: String,
}

/// What the engine is doing in the domain, from the journal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// Steps pending or running.
    pub pending: Vec<Step>,
    /// Steps failed for good, latest attempt.
    pub failed: Vec<FailedStep>,
}

impl Activity {
    /// Turns a check that is not OK into ERROR (a step working on it failed) or PENDING (one is
    /// planned or running).
    fn overlay(&self, account: Option<&EmailAddress>, check: Check) -> Check {
        if check.state == CheckState::Ok {
            return check;
        }
        let concerns =
            |step: &Step| step.account() == account && step.checks().contains(&check.kind);
        if let Some(failed) = self.failed.iter().find(|f| concerns(&f.step)) {
            return Check {
                state: CheckState::Error,
                detail: format!(
                    "{}; {} failed: {}",
                    check.detail,
                    failed.step.kind(),
                    failed.detail
                ),
                ..check
            };
        }
        if let Some(step) = self.pending.iter().find(|s| concerns(s)) {
            // A manual action stays the headline while a person is needed.
            if check.state != CheckState::ManualActionRequired {
                return Check {
                    state: CheckState::Pending,
                    detail: format!("{}; {} is under way", check.detail, step.kind()),
                    ..check
                };
            }
        }
        check
    }
}

/// The status of `desired` as `observed` shows it, with the engine's `activity` over it.
pub fn domain_status(
    desired: &DesiredDomain,
    observed: &ObservedDomain,
    activity: &Activity,
    config: &PlannerConfig,
) -> DomainStatus {
    let analysis = analyse(desired, observed, config);
    let domain = desired.domain();
    let ou = desired.org_unit();
    let admin = desired.delegated_admin();

    let admin_check = match &analysis.admin_blocker {
        Some(blocker) => Check::manual(
            CheckKind::DelegatedAdmin,
            blocker.reason.clone(),
            blocker.what_to_do.clone(),
        ),
        None if observed.admin == AdminObservation::ServiceAccount => Check::new(
            CheckKind::DelegatedAdmin,
            CheckState::Ok,
            format!(
                "{admin} is the service account itself, acting with the admin role it holds (no domain-wide delegation); a step its role does not allow fails naming the privilege, or that Google wants a super administrator"
            ),
        ),
        None => Check::new(
            CheckKind::DelegatedAdmin,
            CheckState::Ok,
            format!("{admin} is a super administrator"),
        ),
    };

    let org_unit_check = if analysis.missing_org_units.is_empty() {
        Check::new(CheckKind::OrgUnit, CheckState::Ok, format!("{ou} exists"))
    } else {
        Check::new(
            CheckKind::OrgUnit,
            CheckState::Missing,
            format!("{ou} does not exist; the service creates it"),
        )
    };

    let subscription_check = subscription_check(
        desired,
        observed,
        &analysis.subscription_blocker,
        analysis.to_create,
    );

    let automatic_licensing_check = if !analysis.paid_in_org_unit.is_empty() {
        let accounts: Vec<String> = analysis
            .paid_in_org_unit
            .iter()
            .map(|(e, _)| e.to_string())
            .collect();
        let confirmed = if observed.is_confirmed(ManualStep::AutomaticLicensingOff) {
            " although an operator confirmed it off"
        } else {
            ""
        };
        Check::manual(
            CheckKind::AutomaticLicensing,
            format!(
                "automatic licensing appears to be on for {ou}{confirmed}: paid Google Workspace licenses were found on {}",
                accounts.join(", ")
            ),
            instructions::automatic_licensing(domain, ou),
        )
    } else if observed.is_confirmed(ManualStep::AutomaticLicensingOff) {
        Check::new(
            CheckKind::AutomaticLicensing,
            CheckState::Ok,
            format!(
                "an operator confirmed automatic licensing off for {ou}, and no paid license was seen on its accounts"
            ),
        )
    } else {
        Check::manual(
            CheckKind::AutomaticLicensing,
            format!(
                "Google offers no API to read automatic licensing; no paid license was seen on the accounts of {ou}, but nobody confirmed it is off"
            ),
            instructions::automatic_licensing(domain, ou),
        )
    };

    let role_check = match &analysis.role {
        RoleState::Ready(role) => Check::new(
            CheckKind::PortalRole,
            CheckState::Ok,
            format!("role '{}' (id {}) opens the portal", role.name, role.id),
        ),
        RoleState::ToCreate(_) => Check::new(
            CheckKind::PortalRole,
            CheckState::Missing,
            format!(
                "the custom role '{}' does not exist; the service creates it",
                desired.custom_role_name()
            ),
        ),
        RoleState::Blocked(blocker) => Check::manual(
            CheckKind::PortalRole,
            blocker.reason.clone(),
            blocker.what_to_do.clone(),
        ),
    };

    let checks: Vec<Check> = [
        admin_check,
        org_unit_check,
        subscription_check,
        automatic_licensing_check,
        role_check,
    ]
    .into_iter()
    .map(|check| activity.overlay(None, check))
    .collect();

    let role_name = match &analysis.role {
        RoleState::Ready(role) => Some(role.name.clone()),
        RoleState::ToCreate(_) => Some(desired.custom_role_name().to_string()),
        RoleState::Blocked(_) => None,
    };
    let accounts: Vec<AccountStatus> = analysis
        .accounts
        .iter()
        .map(|facts| account_status(desired, observed, facts, role_name.as_deref(), activity))
        .collect();

    let state = CheckState::summary(
        checks
            .iter()
            .map(|c| c.state)
            .chain(accounts.iter().map(|a| a.state)),
    );
    DomainStatus {
        domain: domain.clone(),
        state,
        checks,
        accounts,
    }
}

fn subscription_check(
    desired: &DesiredDomain,
    observed: &ObservedDomain,
    blocker: &Option<crate::plan::Blocker>,
    to_create: u32,
) -> Check {
    let kind = CheckKind::CloudIdentitySubscription;
    if let Some(blocker) = blocker {
        return Check::manual(kind, blocker.reason.clone(), blocker.what_to_do.clone());
    }
    let confirmed = observed.is_confirmed(ManualStep::CloudIdentityFreeSubscribed);
    match observed.subscription {
        SubscriptionObservation::Present {
            seat_cap: Some(cap),
            seats_used: Some(used),
        } => Check::new(
            kind,
            CheckState::Ok,
            format!(
                "Cloud Identity Free is subscribed: {used} of {cap} seats used, {} free, {to_create} account(s) to create",
                cap.saturating_sub(used)
            ),
        ),
        SubscriptionObservation::Present { .. } => Check::new(
            kind,
            CheckState::Ok,
            "Cloud Identity Free is subscribed; Google shows no seat numbers",
        ),
        SubscriptionObservation::Unknown if confirmed => Check::new(
            kind,
            CheckState::Ok,
            "an operator confirmed the Cloud Identity Free subscription; Google cannot show it",
        ),
        SubscriptionObservation::Absent => Check::manual(
            kind,
            "Google shows no Cloud Identity Free subscription",
            instructions::subscription(desired.domain()),
        ),
        SubscriptionObservation::Unknown => Check::manual(
            kind,
            "Google cannot tell whether Cloud Identity Free is subscribed, and nobody confirmed it",
            instructions::subscription(desired.domain()),
        ),
    }
}

fn mail_routing_instructions(desired: &DesiredDomain, facts: &AccountFacts) -> String {
    let account = facts.desired;
    format!(
        "make case e-mail for {email} reach {work}: route mail addressed to {email} to {work} (Google Admin console of {domain} > Apps > Google Workspace > Gmail > Routing, a recipient address map or routing rule), or sign in to the Customer Care Portal as {email} and enter {work} in the Case Sharing field; then confirm it with ConfirmManualStep (step MAIL_ROUTING, staff member {staff})",
        email = account.email(),
        work = account.workspace_email(),
        domain = desired.domain(),
        staff = account.staff_member(),
    )
}

fn account_status(
    desired: &DesiredDomain,
    observed: &ObservedDomain,
    facts: &AccountFacts,
    role_name: Option<&str>,
    activity: &Activity,
) -> AccountStatus {
    let account = facts.desired;
    let email = account.email();
    let ou = desired.org_unit();
    let mut checks = Vec::with_capacity(7);
    match (facts.user, facts.ownership.conflict()) {
        (None, Some(conflict)) => {
            checks.push(Check {
                kind: CheckKind::AccountExists,
                state: CheckState::Conflict,
                detail: conflict.to_string(),
                manual_action: Some(conflict.what_to_do.clone()),
            });
            // The rest describes an account that is not ours: not checked, nothing planned.
            for kind in [
                CheckKind::AccountInOrgUnit,
                CheckKind::AccountLicense,
                CheckKind::AccountNoPaidLicense,
                CheckKind::AccountRole,
                CheckKind::AccountNotSuspended,
                CheckKind::AccountMailRouting,
            ] {
                checks.push(Check::new(
                    kind,
                    CheckState::Conflict,
                    format!(
                        "not checked: {email} is not owned by support-access (see ACCOUNT_EXISTS)"
                    ),
                ));
            }
        }
        (None, None) => {
            let missing = |kind| {
                Check::new(
                    kind,
                    CheckState::Missing,
                    format!("{email} does not exist yet"),
                )
            };
            checks.push(Check::new(
                CheckKind::AccountExists,
                CheckState::Missing,
                format!("{email} does not exist; the service creates it in {ou}"),
            ));
            for kind in [CheckKind::AccountInOrgUnit, CheckKind::AccountLicense] {
                checks.push(missing(kind));
            }
            checks.push(Check::new(
                CheckKind::AccountNoPaidLicense,
                CheckState::Ok,
                format!("{email} does not exist yet, so it holds no paid license"),
            ));
            checks.push(match role_name {
                Some(role) => Check::new(
                    CheckKind::AccountRole,
                    CheckState::Missing,
                    format!("{email} does not exist yet; it will get '{role}'"),
                ),
                None => Check::new(
                    CheckKind::AccountRole,
                    CheckState::Missing,
                    format!("{email} does not exist yet, and the portal role is not available (see the PORTAL_ROLE check)"),
                ),
            });
            checks.push(Check::new(
                CheckKind::AccountNotSuspended,
                CheckState::Ok,
                format!("{email} does not exist yet; it is created active"),
            ));
            checks.push(missing(CheckKind::AccountMailRouting));
        }
        (Some(user), _) => {
            checks.push(match &facts.blocker {
                Some(blocker) if blocker.kind.check() == CheckKind::AccountExists => Check::manual(
                    CheckKind::AccountExists,
                    blocker.reason.clone(),
                    blocker.what_to_do.clone(),
                ),
                _ if matches!(facts.ownership, AccountOwnership::AdoptionApproved { .. })
                    && user.marker.as_deref() != Some(marker_value(account.staff_member()).as_str()) =>
                {
                    Check::new(
                        CheckKind::AccountExists,
                        CheckState::Drifted,
                        format!(
                            "{email} exists (id {}) and an operator approved adopting it; the service marks it as staff member {}'s support account",
                            user.id,
                            account.staff_member()
                        ),
                    )
                }
                _ => Check::new(
                    CheckKind::AccountExists,
                    if facts.names_drift.is_some() {
                        CheckState::Drifted
                    } else {
                        CheckState::Ok
                    },
                    if facts.names_drift.is_some() {
                        format!(
                            "{email} exists (id {}) but its name differs from {} {}",
                            user.id,
                            account.given_name(),
                            account.family_name()
                        )
                    } else {
                        format!("{email} exists (id {})", user.id)
                    },
                ),
            });
            checks.push(match &facts.blocker {
                Some(blocker) if blocker.kind.check() == CheckKind::AccountInOrgUnit => {
                    Check::manual(
                        CheckKind::AccountInOrgUnit,
                        blocker.reason.clone(),
                        blocker.what_to_do.clone(),
                    )
                }
                _ if &user.org_unit == ou => Check::new(
                    CheckKind::AccountInOrgUnit,
                    CheckState::Ok,
                    format!("in {ou}"),
                ),
                _ => Check::new(
                    CheckKind::AccountInOrgUnit,
                    CheckState::Drifted,
                    format!("in {} instead of {ou}", user.org_unit),
                ),
            });
            checks.push(if facts.has_cloud_identity {
                Check::new(
                    CheckKind::AccountLicense,
                    CheckState::Ok,
                    "holds Cloud Identity Free",
                )
            } else {
                Check::new(
                    CheckKind::AccountLicense,
                    CheckState::Missing,
                    "Google does not show Cloud Identity Free on the account",
                )
            });
            checks.push(if facts.paid_skus.is_empty() {
                Check::new(
                    CheckKind::AccountNoPaidLicense,
                    CheckState::Ok,
                    "holds no paid license",
                )
            } else {
                let skus: Vec<String> = facts.paid_skus.iter().map(ToString::to_string).collect();
                Check::new(
                    CheckKind::AccountNoPaidLicense,
                    CheckState::Drifted,
                    format!("holds the paid license(s) {}", skus.join(", ")),
                )
            });
            checks.push(if facts.portal_roles.is_empty() {
                Check::new(
                    CheckKind::AccountRole,
                    CheckState::Missing,
                    match role_name {
                        Some(role) => format!("holds no role that opens the portal; it will get '{role}'"),
                        None => "holds no role that opens the portal, and the portal role is not available (see the PORTAL_ROLE check)".to_owned(),
                    },
                )
            } else {
                let names: Vec<&str> = facts.portal_roles.iter().map(|(r, _)| r.name.as_str()).collect();
                Check::new(
                    CheckKind::AccountRole,
                    CheckState::Ok,
                    format!("the portal opens through {}", names.join(", ")),
                )
            });
            checks.push(if user.suspended {
                Check::new(
                    CheckKind::AccountNotSuspended,
                    CheckState::Drifted,
                    "suspended",
                )
            } else {
                Check::new(CheckKind::AccountNotSuspended, CheckState::Ok, "active")
            });
            checks.push(if !facts.recovery_ok {
                let (state, seen) = match user.recovery_email.as_deref() {
                    Some(current) if !current.is_empty() => (CheckState::Drifted, format!("recovery e-mail is {current}")),
                    _ => (CheckState::Missing, "no recovery e-mail".to_owned()),
                };
                Check::new(
                    CheckKind::AccountMailRouting,
                    state,
                    format!("{seen} instead of {}; the service sets it", account.workspace_email()),
                )
            } else if observed.is_mail_routing_confirmed(account.staff_member()) {
                Check::new(
                    CheckKind::AccountMailRouting,
                    CheckState::Ok,
                    format!(
                        "recovery e-mail is {} and an operator confirmed that case e-mail reaches it",
                        account.workspace_email()
                    ),
                )
            } else {
                Check::manual(
                    CheckKind::AccountMailRouting,
                    format!(
                        "recovery e-mail is {}, but Google offers no API to route case e-mail there and nobody confirmed it",
                        account.workspace_email()
                    ),
                    mail_routing_instructions(desired, facts),
                )
            });
        }
    }
    let checks: Vec<Check> = checks
        .into_iter()
        .map(|check| activity.overlay(Some(email), check))
        .collect();
    AccountStatus {
        staff_member: account.staff_member().clone(),
        email: email.clone(),
        state: CheckState::summary(checks.iter().map(|c| c.state)),
        checks,
    }
}

/// The status when Google could not be observed at all: every check ERROR with `detail`.
pub fn unobserved_status(desired: &DesiredDomain, detail: &str) -> DomainStatus {
    let error = |kind| {
        Check::new(
            kind,
            CheckState::Error,
            format!("Google could not be observed: {detail}"),
        )
    };
    DomainStatus {
        domain: desired.domain().clone(),
        state: CheckState::Error,
        checks: [
            CheckKind::DelegatedAdmin,
            CheckKind::OrgUnit,
            CheckKind::CloudIdentitySubscription,
            CheckKind::AutomaticLicensing,
            CheckKind::PortalRole,
        ]
        .into_iter()
        .map(error)
        .collect(),
        accounts: desired
            .accounts()
            .iter()
            .map(|account| AccountStatus {
                staff_member: account.staff_member().clone(),
                email: account.email().clone(),
                state: CheckState::Error,
                checks: [
                    CheckKind::AccountExists,
                    CheckKind::AccountInOrgUnit,
                    CheckKind::AccountLicense,
                    CheckKind::AccountNoPaidLicense,
                    CheckKind::AccountRole,
                    CheckKind::AccountNotSuspended,
                    CheckKind::AccountMailRouting,
                ]
                .into_iter()
                .map(error)
                .collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests;
