//! `GetDomainStatus` and `ListSupportAccounts`: how far a reseller domain is, check by check
//! (delegated admin, org unit, subscription and seats, automatic licensing, portal role; per
//! support account: exists, in the org unit, license, no paid license, role, not suspended, mail
//! routing), with details, manual instructions and when Google was observed.
//!
//! Every account also shows the decision about it (ACTIVE or REVOKED, by whom, when) and whether
//! the service owns it; REVOKED accounts are listed without checks. The domain status adds the
//! reconcile times, the repair policy, the open drift and the recent repairs.
//!
//! The checks come from the domain crate's status logic over the desired state (the domain's
//! ACTIVE support accounts) and the last observation the engine stored, with today's manual
//! confirmations and the steps of unfinished operations laid over it. `refresh` observes Google
//! first (and stores that observation). A domain never observed reports every check
//! `CHECK_STATE_UNSPECIFIED` with how to observe it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use support_access_domain::desired::DesiredDomain;
use support_access_domain::status::{
    AccountStatus, Check, CheckKind, CheckState, DomainStatus, domain_status, unobserved_status,
};
use support_access_domain::validation::Violations;
use support_access_domain::{
    parse_domain_resource, parse_domain_status_resource, parse_staff_member_resource,
    support_account_resource,
};
use support_access_proto::v1;
use support_access_store::accounts::{
    self, AccountFilter, AccountKey, AccountRecord, Desired, Ownership,
};
use support_access_store::domains::DomainRecord;
use support_access_store::drift;

use super::convert::{revoke_mode_to_proto, timestamp};
use super::observation;
use super::page_token;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// At most this many open drift events in a domain status (`ListDriftEvents` has all).
const MAX_OPEN_DRIFT: u32 = 100;

/// At most this many recent repairs in a domain status.
const MAX_RECENT_REPAIRS: u32 = 20;

/// The page-token kind of `ListSupportAccounts`.
const PAGE_KIND: &str = "supportAccounts";

/// The detail of every check of a domain that was never observed.
const NOT_OBSERVED: &str = "not observed yet: call GetDomainStatus with refresh set, or provision access, to observe Google";

/// A domain's checks and when Google was observed for them (`None`: never).
pub struct DomainReport {
    /// The desired state the checks are about.
    pub desired: DesiredDomain,
    /// Every decision recorded in the domain (ACTIVE and REVOKED), by e-mail.
    pub records: Vec<AccountRecord>,
    /// The checks.
    pub status: DomainStatus,
    /// When Google was observed; `None` when it never was.
    pub observe_time: Option<DateTime<Utc>>,
}

/// The report of a declared domain: from its last observation, or from a fresh one.
pub async fn domain_report(
    state: &AppState,
    conn: &mut PgConnection,
    record: &DomainRecord,
    refresh: bool,
) -> Result<DomainReport, ApiError> {
    let desired = observation::desired_domain(conn, record).await?;
    let records = accounts::list_by_domain(conn, &record.domain_name).await?;
    let observed = if refresh {
        Some(observation::observe_now(state, conn, record, &desired).await?)
    } else {
        observation::last_observation(conn, &record.domain_name).await?
    };
    let (status, observe_time) = match observed {
        Some((observed, observe_time)) => {
            let activity = observation::activity(conn, &record.domain_name).await?;
            let status = domain_status(&desired, &observed, &activity, state.planner());
            (status, Some(observe_time))
        }
        None => (unobserved_status(&desired, NOT_OBSERVED), None),
    };
    Ok(DomainReport {
        desired,
        records,
        status,
        observe_time,
    })
}

/// `GetDomainStatus`.
pub async fn get_domain_status(
    state: &AppState,
    principal: &Principal,
    request: &v1::GetDomainStatusRequest,
) -> Result<v1::DomainStatus, ApiError> {
    let domain =
        parse_domain_status_resource(&request.name).map_err(|e| ApiError::invalid("name", e.0))?;
    principal.check_domain(domain.as_str())?;
    let mut conn = state.conn().await?;
    let record = observation::domain_record(&mut conn, domain.as_str()).await?;
    let report = domain_report(state, &mut conn, &record, request.refresh).await?;
    let mut status = domain_status_to_proto(&report);
    status.reconcile_time = record.last_reconcile_time.map(timestamp);
    status.next_reconcile_time = record.next_reconcile_time.map(timestamp);
    status.repair_policy = super::domains::repair_policy_to_proto(record.repair_policy) as i32;
    status.open_drift = drift::open_for_domain(&mut conn, &record.domain_name, MAX_OPEN_DRIFT)
        .await?
        .iter()
        .map(super::drift::to_proto)
        .collect();
    status.recent_repairs =
        drift::recent_repairs(&mut conn, &record.domain_name, MAX_RECENT_REPAIRS)
            .await?
            .iter()
            .map(super::drift::to_proto)
            .collect();
    status.repairs_total = drift::repairs_total(&mut conn, &record.domain_name).await?;
    Ok(status)
}

/// `ListSupportAccounts`: the declared support accounts of one domain or of every domain the
/// principal may access, with the checks of their domain's last observation (ACTIVE ones) and
/// the decision about each (REVOKED ones are listed too, without checks).
pub async fn list_support_accounts(
    state: &AppState,
    principal: &Principal,
    request: &v1::ListSupportAccountsRequest,
) -> Result<v1::ListSupportAccountsResponse, ApiError> {
    let mut v = Violations::default();
    let domain = if request.parent == "domains/-" {
        None
    } else {
        v.check("parent", parse_domain_resource(&request.parent))
    };
    let staff_member = if request.staff_member.is_empty() {
        None
    } else {
        v.check(
            "staff_member",
            parse_staff_member_resource(&request.staff_member),
        )
    };
    let page_size = v.check(
        "page_size",
        support_access_domain::parse_page_size(request.page_size),
    );
    let after = v
        .check(
            "page_token",
            page_token::decode(PAGE_KIND, &request.page_token),
        )
        .flatten();
    v.finish().map_err(ApiError::InvalidArgument)?;
    let page_size = page_size.unwrap_or(support_access_domain::DEFAULT_PAGE_SIZE);
    let after = match after.as_deref().map(decode_key) {
        Some(Some(key)) => Some(key),
        Some(None) => {
            return Err(ApiError::invalid(
                "page_token",
                "is not a page token returned by this list",
            ));
        }
        None => None,
    };

    let mut conn = state.conn().await?;
    if let Some(domain) = &domain {
        principal.check_domain(domain.as_str())?;
        observation::domain_record(&mut conn, domain.as_str()).await?;
    }
    let page = accounts::list(
        &mut conn,
        &AccountFilter {
            domain_name: domain.as_ref().map(|d| d.as_str().to_owned()),
            staff_member_id: staff_member.as_ref().map(|s| s.as_str().to_owned()),
        },
        page_size,
        after.as_ref(),
    )
    .await?;

    // One report per domain on the page, from its last observation.
    let mut reports: HashMap<String, Option<DomainReport>> = HashMap::new();
    let mut support_accounts = Vec::new();
    for account in &page.items {
        if !principal.may_access(&account.domain_name) {
            continue;
        }
        if !reports.contains_key(&account.domain_name) {
            let report = match observation::domain_record(&mut conn, &account.domain_name).await {
                Ok(record) => Some(domain_report(state, &mut conn, &record, false).await?),
                // Deleted between the two reads: its accounts go with it.
                Err(ApiError::NotFound { .. }) => None,
                Err(e) => return Err(e),
            };
            reports.insert(account.domain_name.clone(), report);
        }
        let Some(report) = &reports[&account.domain_name] else {
            continue;
        };
        if account.desired != Desired::Active {
            support_accounts.push(decided_account_to_proto(account));
        } else if let Some(status) = report
            .status
            .accounts
            .iter()
            .find(|a| a.email.as_str() == account.email)
        {
            support_accounts.push(account_to_proto(report, status));
        }
    }
    Ok(v1::ListSupportAccountsResponse {
        support_accounts,
        next_page_token: page
            .next_key
            .as_ref()
            .map(|k| page_token::encode(PAGE_KIND, &encode_key(k)))
            .unwrap_or_default(),
    })
}

/// A page key as one string: neither domain names nor e-mails hold a space.
fn encode_key(key: &AccountKey) -> String {
    format!("{} {}", key.domain_name, key.email)
}

fn decode_key(raw: &str) -> Option<AccountKey> {
    let (domain_name, email) = raw.split_once(' ')?;
    Some(AccountKey {
        domain_name: domain_name.to_owned(),
        email: email.to_owned(),
    })
}

/// The API view of a domain report.
pub fn domain_status_to_proto(report: &DomainReport) -> v1::DomainStatus {
    let observed = report.observe_time.is_some();
    v1::DomainStatus {
        name: support_access_domain::domain_status_resource(&report.status.domain),
        state: summary_state(report.status.state, observed) as i32,
        checks: report
            .status
            .checks
            .iter()
            .map(|c| check_to_proto(c, report.observe_time))
            .collect(),
        accounts: {
            let mut accounts: Vec<v1::SupportAccount> = report
                .status
                .accounts
                .iter()
                .map(|a| account_to_proto(report, a))
                .chain(
                    report
                        .records
                        .iter()
                        .filter(|r| r.desired != Desired::Active)
                        .map(decided_account_to_proto),
                )
                .collect();
            accounts.sort_by(|a, b| a.email.cmp(&b.email));
            accounts
        },
        observe_time: report.observe_time.map(timestamp),
        ..Default::default()
    }
}

/// The decision about an account (desired access, by whom, when, ownership) into its view.
fn set_decision(account: &mut v1::SupportAccount, record: &AccountRecord) {
    let (desired, mode) = match record.desired {
        Desired::Active => (v1::DesiredAccess::Active, v1::RevokeMode::Unspecified),
        Desired::Revoked(mode) => (v1::DesiredAccess::Revoked, revoke_mode_to_proto(mode)),
    };
    account.desired_access = desired as i32;
    account.revoke_mode = mode as i32;
    account.decided_by.clone_from(&record.decided_by);
    account.decide_time = Some(timestamp(record.decide_time));
    account.ownership = match record.ownership {
        Ownership::NotOwned => v1::Ownership::NotOwned,
        Ownership::Created => v1::Ownership::Created,
        Ownership::Adopted => v1::Ownership::Adopted,
    } as i32;
    account.google_user_id = if record.ownership.is_owned() {
        record.google_user_id.clone().unwrap_or_default()
    } else {
        String::new()
    };
}

/// The view of an account that is not ACTIVE (revoked): its decision, no checks (the domain's
/// checks are about the accounts that must open the portal).
pub fn decided_account_to_proto(record: &AccountRecord) -> v1::SupportAccount {
    let username = record.email.split('@').next().unwrap_or_default();
    let mut account = v1::SupportAccount {
        name: format!("domains/{}/supportAccounts/{username}", record.domain_name),
        staff_member: format!("staffMembers/{}", record.staff_member_id),
        email: record.email.clone(),
        state: v1::CheckState::Unspecified as i32,
        checks: Vec::new(),
        ..Default::default()
    };
    set_decision(&mut account, record);
    account
}

/// The API view of one account's checks.
pub fn account_to_proto(report: &DomainReport, account: &AccountStatus) -> v1::SupportAccount {
    let name = report
        .desired
        .account(&account.email)
        .map(|a| support_account_resource(&report.status.domain, a.username()))
        .unwrap_or_default();
    let mut proto = v1::SupportAccount {
        name,
        staff_member: support_access_domain::staff_member_resource(&account.staff_member),
        email: account.email.as_str().to_owned(),
        state: summary_state(account.state, report.observe_time.is_some()) as i32,
        checks: account
            .checks
            .iter()
            .map(|c| check_to_proto(c, report.observe_time))
            .collect(),
        ..Default::default()
    };
    if let Some(record) = report
        .records
        .iter()
        .find(|r| r.email == account.email.as_str())
    {
        set_decision(&mut proto, record);
    }
    proto
}

fn summary_state(state: CheckState, observed: bool) -> v1::CheckState {
    if observed {
        state_to_proto(state)
    } else {
        v1::CheckState::Unspecified
    }
}

/// The API view of a check; a check of a never-observed domain is UNSPECIFIED.
pub fn check_to_proto(check: &Check, observe_time: Option<DateTime<Utc>>) -> v1::Check {
    let observed = observe_time.is_some();
    v1::Check {
        kind: kind_to_proto(check.kind) as i32,
        state: summary_state(check.state, observed) as i32,
        detail: if observed {
            check.detail.clone()
        } else {
            NOT_OBSERVED.to_owned()
        },
        manual_action: check.manual_action.clone().unwrap_or_default(),
        observe_time: observe_time.map(timestamp),
    }
}

/// The API's check state.
pub fn state_to_proto(state: CheckState) -> v1::CheckState {
    match state {
        CheckState::Ok => v1::CheckState::Ok,
        CheckState::Pending => v1::CheckState::Pending,
        CheckState::Missing => v1::CheckState::Missing,
        CheckState::Drifted => v1::CheckState::Drifted,
        CheckState::ManualActionRequired => v1::CheckState::ManualActionRequired,
        CheckState::Error => v1::CheckState::Error,
        CheckState::Conflict => v1::CheckState::Conflict,
    }
}

/// The API's check kind.
pub fn kind_to_proto(kind: CheckKind) -> v1::CheckKind {
    match kind {
        CheckKind::DelegatedAdmin => v1::CheckKind::DelegatedAdmin,
        CheckKind::OrgUnit => v1::CheckKind::OrgUnit,
        CheckKind::CloudIdentitySubscription => v1::CheckKind::CloudIdentitySubscription,
        CheckKind::AutomaticLicensing => v1::CheckKind::AutomaticLicensing,
        CheckKind::PortalRole => v1::CheckKind::PortalRole,
        CheckKind::AccountExists => v1::CheckKind::AccountExists,
        CheckKind::AccountInOrgUnit => v1::CheckKind::AccountInOrgUnit,
        CheckKind::AccountLicense => v1::CheckKind::AccountLicense,
        CheckKind::AccountNoPaidLicense => v1::CheckKind::AccountNoPaidLicense,
        CheckKind::AccountRole => v1::CheckKind::AccountRole,
        CheckKind::AccountNotSuspended => v1::CheckKind::AccountNotSuspended,
        CheckKind::AccountMailRouting => v1::CheckKind::AccountMailRouting,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_keys_round_trip() {
        let key = AccountKey {
            domain_name: "reseller.example".into(),
            email: "ana.silva@reseller.example".into(),
        };
        assert_eq!(decode_key(&encode_key(&key)), Some(key));
        assert_eq!(decode_key("no-space"), None);
    }

    #[test]
    fn never_observed_checks_are_unspecified_with_how_to_observe() {
        let check = Check {
            kind: CheckKind::OrgUnit,
            state: CheckState::Error,
            detail: "Google could not be observed".into(),
            manual_action: None,
        };
        let unobserved = check_to_proto(&check, None);
        assert_eq!(unobserved.state(), v1::CheckState::Unspecified);
        assert!(
            unobserved.detail.contains("refresh"),
            "{}",
            unobserved.detail
        );
        assert_eq!(unobserved.observe_time, None);
        let observed = check_to_proto(&check, Some(Utc::now()));
        assert_eq!(observed.state(), v1::CheckState::Error);
        assert_eq!(observed.kind(), v1::CheckKind::OrgUnit);
        assert!(observed.observe_time.is_some());
    }
}
