//! `GetDomainStatus` and `ListSupportAccounts`: how far a reseller domain is, check by check
//! (delegated admin, org unit, subscription and seats, automatic licensing, portal role; per
//! support account: exists, in the org unit, license, no paid license, role, not suspended, mail
//! routing), with details, manual instructions and when Google was observed.
//!
//! Both reads stay small and fast whatever the size of a domain. `GetDomainStatus` is a summary:
//! the domain checks, the accounts counted by decision and by state, the checks that wait for a
//! person, the reconcile times, the open drift and the recent repairs. The accounts themselves
//! come paged from `ListSupportAccounts`, filtered in SQL (AIP-160 subset `state = X`,
//! `state != X`, `desired_access = X`, `ownership = X`, joined by AND): "who is not OK" is one
//! call. Every account shows the decision about it (ACTIVE or REVOKED, by whom, when) and whether
//! the service owns it; REVOKED accounts are listed without checks.
//!
//! The checks come from the domain crate's status logic over the desired state (the domain's
//! ACTIVE support accounts) and the last observation the engine stored, with today's manual
//! confirmations and the steps of unfinished operations laid over it. That computation reads
//! every account, so its result is kept as a snapshot in Postgres (the store's `status` module)
//! with a fingerprint of its inputs: a read checks the fingerprint in one query and computes the
//! status again only when an input changed; the answer is then the snapshot's row (with the
//! accounts' counts, computed with it) or one keyset page of accounts. Each replica keeps the
//! `GetDomainStatus` answers it built until Postgres announces a change to what they were built
//! from (`crate::status_cache`), so a domain read again and again between changes costs no
//! query. `refresh` observes Google first (and stores that observation). A domain never observed
//! reports every check `CHECK_STATE_UNSPECIFIED` with how to observe it.

use chrono::{DateTime, Utc};
use sqlx::{Connection, PgConnection};
use support_access_domain::desired::DesiredDomain;
use support_access_domain::status::{
    Check, CheckKind, CheckState, DomainStatus, domain_status, unobserved_status,
};
use support_access_domain::validation::{InvalidValue, Violations};
use support_access_domain::{
    parse_domain_resource, parse_domain_status_resource, parse_staff_member_resource,
};
use support_access_proto::v1;
use support_access_store::accounts::{
    self, AccountFilter, AccountKey, AccountRecord, Desired, Ownership, StateCondition,
};
use support_access_store::domains::DomainRecord;
use support_access_store::{drift, status as snapshots};

use super::convert::{revoke_mode_to_proto, timestamp};
use super::observation;
use super::page_token;
use crate::auth::{DomainScope, Principal};
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

/// The report of a declared domain from its last stored observation: reads every account.
pub async fn domain_report(
    state: &AppState,
    conn: &mut PgConnection,
    record: &DomainRecord,
) -> Result<DomainReport, ApiError> {
    let desired = observation::desired_domain(conn, record).await?;
    let records = accounts::list_by_domain(conn, &record.domain_name).await?;
    let observed = observation::last_observation(conn, &record.domain_name).await?;
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

/// Makes the status snapshots of `domain` (or of every domain `principal` may see) current: one
/// query when they are; the status of a domain whose inputs changed is computed again from
/// every account and stored, in one transaction, tagged with the freshness read before its
/// inputs (so a change during the computation makes the next read compute again).
pub async fn ensure_fresh(
    state: &AppState,
    conn: &mut PgConnection,
    principal: &Principal,
    domain: Option<&str>,
) -> Result<(), ApiError> {
    for freshness in snapshots::fingerprints(conn, domain).await? {
        if freshness.is_fresh() || !principal.may_access(&freshness.domain_name) {
            continue;
        }
        recompute(state, conn, &freshness).await?;
    }
    Ok(())
}

/// Computes a stale domain's status again from every account and stores it, tagged with
/// `freshness`, which was read before the inputs.
async fn recompute(
    state: &AppState,
    conn: &mut PgConnection,
    freshness: &snapshots::Freshness,
) -> Result<(), ApiError> {
    let record = match observation::domain_record(conn, &freshness.domain_name).await {
        Ok(record) => record,
        // Deleted since: its accounts went with it.
        Err(ApiError::NotFound { .. }) => return Ok(()),
        Err(e) => return Err(e),
    };
    let report = domain_report(state, conn, &record).await?;
    save_snapshot(conn, &report, freshness).await
}

/// Stores a report as the domain's snapshot (domain row and every account's state and checks).
async fn save_snapshot(
    conn: &mut PgConnection,
    report: &DomainReport,
    freshness: &snapshots::Freshness,
) -> Result<(), ApiError> {
    let observed = report.observe_time.is_some();
    let stored_state = |s: CheckState| observed.then(|| state_name(state_to_proto(s)).to_owned());
    let to_json = |checks: &[Check]| serde_json::to_value(checks).map_err(ApiError::internal);
    let snapshot = snapshots::SnapshotRecord {
        domain_name: report.status.domain.as_str().to_owned(),
        fingerprint: freshness.current.clone(),
        inputs_snapshot: freshness.inputs_snapshot.clone(),
        state: stored_state(report.status.state),
        checks: to_json(&report.status.checks)?,
        observe_time: report.observe_time,
        compute_time: Utc::now(),
        account_counts: Default::default(),
        manual_counts: Default::default(),
    };
    let statuses: std::collections::HashMap<&str, &support_access_domain::status::AccountStatus> =
        report
            .status
            .accounts
            .iter()
            .map(|a| (a.email.as_str(), a))
            .collect();
    let mut accounts = Vec::with_capacity(report.records.len());
    let mut account_counts: Vec<snapshots::StateCount> = Vec::new();
    // Per kind: how many accounts, and the first of them by address with its instructions.
    let mut manual: std::collections::BTreeMap<String, (i64, &str, String)> =
        std::collections::BTreeMap::new();
    for record in &report.records {
        let status = (record.desired == Desired::Active)
            .then(|| statuses.get(record.email.as_str()).copied())
            .flatten();
        let state = status.and_then(|a| stored_state(a.state));
        let desired = match record.desired {
            Desired::Active => "ACTIVE",
            Desired::Revoked(_) => "REVOKED",
        };
        match account_counts
            .iter_mut()
            .find(|c| c.state == state && c.desired == desired)
        {
            Some(count) => count.count += 1,
            None => account_counts.push(snapshots::StateCount {
                state: state.clone(),
                desired: desired.to_owned(),
                count: 1,
            }),
        }
        for check in status.iter().flat_map(|a| &a.checks) {
            if check.state != CheckState::ManualActionRequired {
                continue;
            }
            let kind = serde_json::to_value(check.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let action = check.manual_action.clone().unwrap_or_default();
            let entry = manual
                .entry(kind)
                .or_insert((0, record.email.as_str(), action.clone()));
            entry.0 += 1;
            if record.email.as_str() < entry.1 {
                (entry.1, entry.2) = (record.email.as_str(), action);
            }
        }
        accounts.push(snapshots::AccountSnapshot {
            email: record.email.clone(),
            state,
            checks: status.map(|a| to_json(&a.checks)).transpose()?,
        });
    }
    account_counts.sort_by(|a, b| (&a.state, &a.desired).cmp(&(&b.state, &b.desired)));
    let manual_counts = manual
        .into_iter()
        .map(
            |(kind, (count, first_email, manual_action))| snapshots::ManualCount {
                kind,
                count,
                first_email: first_email.to_owned(),
                manual_action,
            },
        )
        .collect();
    let snapshot = snapshots::SnapshotRecord {
        account_counts: sqlx::types::Json(account_counts),
        manual_counts: sqlx::types::Json(manual_counts),
        ..snapshot
    };
    let mut tx = conn.begin().await.map_err(database)?;
    // false: another read stored a snapshot of later inputs meanwhile; it stands.
    snapshots::save(&mut tx, &snapshot, &accounts).await?;
    tx.commit().await.map_err(database)?;
    Ok(())
}

fn database(error: sqlx::Error) -> ApiError {
    ApiError::from(support_access_store::StoreError::Database(error))
}

/// `GetDomainStatus`: the domain's summary. An answer this replica built is served from memory
/// until Postgres announces a change to what it was built from (the `status_cache` module);
/// otherwise it is built in three queries whatever the size of the domain when nothing changed
/// since the last read: the declaration, the freshness with the snapshot, the drift.
pub async fn get_domain_status(
    state: &AppState,
    principal: &Principal,
    request: &v1::GetDomainStatusRequest,
) -> Result<v1::DomainStatus, ApiError> {
    let domain =
        parse_domain_status_resource(&request.name).map_err(|e| ApiError::invalid("name", e.0))?;
    principal.check_domain(domain.as_str())?;
    let cache = state.status_cache();
    if !request.refresh
        && let Some(answer) = cache.get(domain.as_str())
    {
        return Ok((*answer).clone());
    }
    // Taken before the first query: a change committed after it is announced after it, and
    // the answer is then not kept.
    let ticket = cache.ticket(domain.as_str());
    let answer = build_domain_status(state, request, &domain).await?;
    if let Some(ticket) = ticket {
        cache.put(domain.as_str(), ticket, std::sync::Arc::new(answer.clone()));
    }
    Ok(answer)
}

/// Builds the answer of `GetDomainStatus` from Postgres (observing Google first on `refresh`).
async fn build_domain_status(
    state: &AppState,
    request: &v1::GetDomainStatusRequest,
    domain: &support_access_domain::names::DomainName,
) -> Result<v1::DomainStatus, ApiError> {
    let mut conn = state.conn().await?;
    let record = observation::domain_record(&mut conn, domain.as_str()).await?;
    if request.refresh {
        let desired = observation::desired_domain(&mut conn, &record).await?;
        observation::observe_now(state, &mut conn, &record, &desired).await?;
    }
    // An unchanged domain: one round trip for its freshness and snapshot together.
    let snapshot = match snapshots::read(&mut conn, &record.domain_name).await? {
        Some(snapshots::StatusRead {
            freshness,
            snapshot: Some(snapshot),
        }) if freshness.is_fresh() => Some(snapshot),
        Some(snapshots::StatusRead { freshness, .. }) => {
            recompute(state, &mut conn, &freshness).await?;
            snapshots::get(&mut conn, &record.domain_name).await?
        }
        None => None,
    }
    .ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!(
            "the status snapshot of {} is missing",
            record.domain_name
        ))
    })?;
    let checks: Vec<Check> =
        serde_json::from_value(snapshot.checks.clone()).map_err(ApiError::internal)?;
    let observe_time = snapshot.observe_time;

    let mut counts = v1::AccountCounts::default();
    let mut states: Vec<(v1::CheckState, i32)> = Vec::new();
    for row in &snapshot.account_counts.0 {
        let count = i32::try_from(row.count).unwrap_or(i32::MAX);
        counts.total += count;
        match row.desired.as_str() {
            "ACTIVE" => counts.active += count,
            _ => counts.revoked += count,
        }
        let state = parse_state(row.state.as_deref());
        match states.iter_mut().find(|(s, _)| *s == state) {
            Some((_, n)) => *n += count,
            None => states.push((state, count)),
        }
    }
    states.sort_by_key(|(s, _)| *s as i32);
    counts.states = states
        .into_iter()
        .map(|(state, count)| v1::AccountStateCount {
            state: state as i32,
            count,
        })
        .collect();

    let mut manual_steps: Vec<v1::ManualStepSummary> = if observe_time.is_some() {
        checks
            .iter()
            .filter(|c| c.state == CheckState::ManualActionRequired)
            .map(|c| v1::ManualStepSummary {
                check: kind_to_proto(c.kind) as i32,
                account_count: 0,
                manual_action: c.manual_action.clone().unwrap_or_default(),
                example_account: String::new(),
            })
            .collect()
    } else {
        Vec::new()
    };
    for row in &snapshot.manual_counts.0 {
        let Ok(kind) =
            serde_json::from_value::<CheckKind>(serde_json::Value::String(row.kind.clone()))
        else {
            continue;
        };
        manual_steps.push(v1::ManualStepSummary {
            check: kind_to_proto(kind) as i32,
            account_count: i32::try_from(row.count).unwrap_or(i32::MAX),
            manual_action: row.manual_action.clone(),
            example_account: row.first_email.clone(),
        });
    }

    let drift = drift::for_domain_status(
        &mut conn,
        &record.domain_name,
        MAX_OPEN_DRIFT,
        MAX_RECENT_REPAIRS,
    )
    .await?;
    Ok(v1::DomainStatus {
        name: support_access_domain::domain_status_resource(domain),
        state: parse_state(snapshot.state.as_deref()) as i32,
        checks: checks
            .iter()
            .map(|c| check_to_proto(c, observe_time))
            .collect(),
        observe_time: observe_time.map(timestamp),
        reconcile_time: record.last_reconcile_time.map(timestamp),
        next_reconcile_time: record.next_reconcile_time.map(timestamp),
        repair_policy: super::domains::repair_policy_to_proto(record.repair_policy) as i32,
        open_drift: drift.open.iter().map(super::drift::to_proto).collect(),
        recent_repairs: drift
            .recent_repairs
            .iter()
            .map(super::drift::to_proto)
            .collect(),
        repairs_total: drift.repairs_total,
        account_counts: Some(counts),
        manual_steps,
    })
}

/// The conditions of a `ListSupportAccounts` filter.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AccountConditions {
    /// `state = X` / `state != X`.
    pub state: Option<StateCondition>,
    /// `desired_access = X`: `ACTIVE` or `REVOKED`.
    pub desired: Option<String>,
    /// `ownership = X`.
    pub ownership: Option<Ownership>,
}

/// Parses the AIP-160 subset of `ListSupportAccounts`; empty means no condition.
pub fn parse_account_filter(filter: &str) -> Result<AccountConditions, InvalidValue> {
    let mut conditions = AccountConditions::default();
    let usage = "conditions are `state = <CheckState without CHECK_STATE_>`, `state != <…>`, `desired_access = ACTIVE|REVOKED` and `ownership = NOT_OWNED|CREATED|ADOPTED`, joined by AND";
    for super::filter::Term {
        key,
        negated,
        value,
    } in super::filter::terms(filter, usage)?
    {
        let duplicate = || InvalidValue(format!("{key} appears twice; {usage}"));
        if negated && key != "state" {
            return Err(InvalidValue(format!(
                "{key} takes `=` only; `!=` is for state; {usage}"
            )));
        }
        match key {
            "state" => {
                let Some(state) = v1::CheckState::from_str_name(&format!("CHECK_STATE_{value}"))
                else {
                    return Err(InvalidValue(format!(
                        "state {value:?} is not a check state (OK, PENDING, MISSING, DRIFTED, MANUAL_ACTION_REQUIRED, ERROR, CONFLICT or UNSPECIFIED)"
                    )));
                };
                let stored = stored_state(state);
                let condition = if negated {
                    StateCondition::IsNot(stored)
                } else {
                    StateCondition::Is(stored)
                };
                if conditions.state.replace(condition).is_some() {
                    return Err(duplicate());
                }
            }
            "desired_access" => {
                let desired = match value {
                    "ACTIVE" | "REVOKED" => value.to_owned(),
                    _ => {
                        return Err(InvalidValue(format!(
                            "desired_access must be ACTIVE or REVOKED, not {value:?}"
                        )));
                    }
                };
                if conditions.desired.replace(desired).is_some() {
                    return Err(duplicate());
                }
            }
            "ownership" => {
                let ownership = match value {
                    "NOT_OWNED" => Ownership::NotOwned,
                    "CREATED" => Ownership::Created,
                    "ADOPTED" => Ownership::Adopted,
                    _ => {
                        return Err(InvalidValue(format!(
                            "ownership must be NOT_OWNED, CREATED or ADOPTED, not {value:?}"
                        )));
                    }
                };
                if conditions.ownership.replace(ownership).is_some() {
                    return Err(duplicate());
                }
            }
            _ => return Err(InvalidValue(format!("cannot filter on {key:?}; {usage}"))),
        }
    }
    Ok(conditions)
}

/// `ListSupportAccounts`: the declared support accounts of one domain or of every domain the
/// principal may access, from their domains' status snapshots, filtered and paged in SQL.
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
    let conditions = v.check("filter", parse_account_filter(&request.filter));
    v.finish().map_err(ApiError::InvalidArgument)?;
    let page_size = page_size.unwrap_or(support_access_domain::DEFAULT_PAGE_SIZE);
    let conditions = conditions.unwrap_or_default();
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
    ensure_fresh(
        state,
        &mut conn,
        principal,
        domain.as_ref().map(|d| d.as_str()),
    )
    .await?;
    let page = accounts::list(
        &mut conn,
        &AccountFilter {
            domain_name: domain.as_ref().map(|d| d.as_str().to_owned()),
            staff_member_id: staff_member.as_ref().map(|s| s.as_str().to_owned()),
            state: conditions.state,
            desired: conditions.desired,
            ownership: conditions.ownership,
            allowed_domains: match &principal.domains {
                DomainScope::All => None,
                DomainScope::Only(domains) => Some(domains.iter().cloned().collect()),
            },
        },
        page_size,
        after.as_ref(),
    )
    .await?;
    Ok(v1::ListSupportAccountsResponse {
        support_accounts: page
            .items
            .iter()
            .map(account_to_proto)
            .collect::<Result<_, _>>()?,
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

/// The state as the snapshot stores it: the API name without its prefix, `None` for
/// UNSPECIFIED.
fn stored_state(state: v1::CheckState) -> Option<String> {
    (state != v1::CheckState::Unspecified).then(|| state_name(state).to_owned())
}

/// The API name of a state without its `CHECK_STATE_` prefix.
fn state_name(state: v1::CheckState) -> &'static str {
    let name = state.as_str_name();
    name.strip_prefix("CHECK_STATE_").unwrap_or(name)
}

/// A stored state back (`None` and unknown names are UNSPECIFIED).
fn parse_state(stored: Option<&str>) -> v1::CheckState {
    stored
        .and_then(|s| v1::CheckState::from_str_name(&format!("CHECK_STATE_{s}")))
        .unwrap_or(v1::CheckState::Unspecified)
}

/// The API view of an account from its row: the decision, and the checks of the domain's
/// status snapshot (none for a REVOKED account).
pub fn account_to_proto(record: &AccountRecord) -> Result<v1::SupportAccount, ApiError> {
    let username = record.email.split('@').next().unwrap_or_default();
    let checks: Vec<Check> = match &record.checks {
        Some(checks) if record.desired == Desired::Active => {
            serde_json::from_value(checks.clone()).map_err(ApiError::internal)?
        }
        _ => Vec::new(),
    };
    let mut account = v1::SupportAccount {
        name: format!("domains/{}/supportAccounts/{username}", record.domain_name),
        staff_member: format!("staffMembers/{}", record.staff_member_id),
        email: record.email.clone(),
        state: parse_state(record.state.as_deref()) as i32,
        checks: checks
            .iter()
            .map(|c| check_to_proto(c, record.observe_time))
            .collect(),
        ..Default::default()
    };
    set_decision(&mut account, record);
    Ok(account)
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
    fn account_filter_subset_parses_and_refuses_the_rest() {
        assert_eq!(
            parse_account_filter("").unwrap(),
            AccountConditions::default()
        );
        assert_eq!(
            parse_account_filter("state != OK AND desired_access = ACTIVE AND ownership = CREATED")
                .unwrap(),
            AccountConditions {
                state: Some(StateCondition::IsNot(Some("OK".into()))),
                desired: Some("ACTIVE".into()),
                ownership: Some(Ownership::Created),
            }
        );
        assert_eq!(
            parse_account_filter("state=UNSPECIFIED").unwrap().state,
            Some(StateCondition::Is(None))
        );
        for bad in [
            "state = ok",
            "state",
            "state = OK AND state != ERROR",
            "desired_access != ACTIVE",
            "ownership = MINE",
            "email = \"a@b.example\"",
            "state = OK OR state = ERROR",
        ] {
            assert!(parse_account_filter(bad).is_err(), "{bad}");
        }
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
