//! Building the domain crate's desired state from what Postgres holds: a domain's declaration
//! and the staff members whose accounts an operation (or a status report) covers.

use sqlx::PgConnection;
use std::collections::HashMap;
use support_access_domain::desired::{DesiredAccount, DesiredDomain};
use support_access_domain::names::RoleMode;
use support_access_domain::observed::{ManualConfirmation, ManualStep};
use support_access_domain::{
    DomainName, EmailAddress, OrgUnitPath, PersonName, RoleName, StaffMemberId, Username,
};
use support_access_store::domains::{self, DomainRecord};

use support_access_domain::lifecycle::RevokeMode;
use support_access_domain::observed::UserId;
use support_access_store::accounts::{self, AccountRecord, Desired};
use support_access_store::staff::StaffRecord;
use support_access_store::{StoreError, manual, staff};

/// Why a desired state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DesiredError {
    /// Postgres failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored declaration is not valid anymore (for example a staff member whose username
    /// clashes with the delegated admin).
    #[error("{0}")]
    Invalid(String),
}

/// The desired state of `record`'s domain for the given staff members (those that no longer
/// exist are skipped).
pub async fn desired_domain(
    conn: &mut PgConnection,
    record: &DomainRecord,
    staff_ids: &[String],
) -> Result<DesiredDomain, DesiredError> {
    let members = staff::get_many(conn, staff_ids).await?;
    build(record, &members)
}

/// The desired state of `record`'s domain for `members`.
pub fn build(
    record: &DomainRecord,
    members: &[StaffRecord],
) -> Result<DesiredDomain, DesiredError> {
    let invalid = |what: &str, e: support_access_domain::InvalidValue| {
        DesiredError::Invalid(format!("{what}: {e}"))
    };
    let domain = DomainName::parse(&record.domain_name).map_err(|e| invalid("domain", e))?;
    let mut accounts = Vec::with_capacity(members.len());
    for m in members {
        let account = DesiredAccount::new(
            StaffMemberId::parse(&m.id).map_err(|e| invalid("staff member id", e))?,
            Username::parse(&m.username).map_err(|e| invalid("username", e))?,
            PersonName::parse(&m.given_name).map_err(|e| invalid("given name", e))?,
            PersonName::parse(&m.family_name).map_err(|e| invalid("family name", e))?,
            EmailAddress::parse(&m.workspace_email).map_err(|e| invalid("workspace e-mail", e))?,
            &domain,
        )
        .map_err(|e| invalid(&format!("staff member {}", m.id), e))?;
        accounts.push(account);
    }
    DesiredDomain::new(
        domain,
        EmailAddress::parse(&record.delegated_admin).map_err(|e| invalid("delegated admin", e))?,
        OrgUnitPath::parse(&record.org_unit_path).map_err(|e| invalid("org unit", e))?,
        match record.role_mode {
            domains::RoleMode::ResellerAdmin => RoleMode::ResellerAdmin,
            domains::RoleMode::CustomRole => RoleMode::CustomRole,
        },
        RoleName::parse(&record.custom_role_name).map_err(|e| invalid("custom role name", e))?,
        accounts,
    )
    .map_err(|e| DesiredError::Invalid(e.to_string()))
}

/// Which stored decisions an operation works towards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Provisioning: the ACTIVE accounts converge; REVOKED ones are known (never re-granted).
    Provision,
    /// Revocation: the REVOKED accounts are revoked, each as its own decision says.
    Revoke,
    /// Reconciliation: every account of the domain, ACTIVE and REVOKED.
    Reconcile,
}

/// The desired state of `record`'s domain as Postgres holds it now, for the staff members
/// `staff_scope` (every staff member when empty). Each account carries what the service owns
/// (the recorded Google id of an account it created or adopted) and an approved adoption.
pub async fn from_decisions(
    conn: &mut PgConnection,
    record: &DomainRecord,
    scope: Scope,
    staff_scope: &[String],
) -> Result<DesiredDomain, DesiredError> {
    let rows: Vec<AccountRecord> = accounts::list_by_domain(conn, &record.domain_name)
        .await?
        .into_iter()
        .filter(|row| staff_scope.is_empty() || staff_scope.contains(&row.staff_member_id))
        .collect();
    let ids: Vec<String> = rows.iter().map(|r| r.staff_member_id.clone()).collect();
    let members: HashMap<String, StaffRecord> = staff::get_many(conn, &ids)
        .await?
        .into_iter()
        .map(|m| (m.id.clone(), m))
        .collect();
    let mut active = Vec::new();
    let mut revoked = Vec::new();
    for row in &rows {
        let Some(member) = members.get(&row.staff_member_id) else {
            continue;
        };
        match row.desired {
            Desired::Active if scope != Scope::Revoke => active.push(member.clone()),
            Desired::Revoked(mode) => revoked.push((member.clone(), revoke_mode(mode))),
            Desired::Active => {}
        }
    }
    let ownership: HashMap<&str, (Option<UserId>, Option<UserId>)> = rows
        .iter()
        .map(|row| {
            let owned = row
                .ownership
                .is_owned()
                .then(|| row.google_user_id.clone().map(UserId::new))
                .flatten();
            (
                row.staff_member_id.as_str(),
                (owned, row.adopt_user_id.clone().map(UserId::new)),
            )
        })
        .collect();
    let with_ownership = |account: DesiredAccount| {
        let (owned, adopt) = ownership
            .get(account.staff_member().as_str())
            .cloned()
            .unwrap_or_default();
        account.with_ownership(owned, adopt)
    };
    let desired = build(record, &active)?;
    let domain = desired.domain().clone();
    let mut revoked_accounts = Vec::with_capacity(revoked.len());
    for (member, mode) in &revoked {
        revoked_accounts.push((with_ownership(account_of(member, &domain)?), *mode));
    }
    let accounts: Vec<DesiredAccount> = desired
        .accounts()
        .iter()
        .cloned()
        .map(with_ownership)
        .collect();
    DesiredDomain::new(
        domain,
        desired.delegated_admin().clone(),
        desired.org_unit().clone(),
        desired.role_mode(),
        desired.custom_role_name().clone(),
        accounts,
    )
    .map_err(|e| DesiredError::Invalid(e.to_string()))?
    .try_with_revoked(revoked_accounts)
    .map_err(|e| DesiredError::Invalid(e.to_string()))
}

fn revoke_mode(mode: accounts::RevokeMode) -> RevokeMode {
    match mode {
        accounts::RevokeMode::RemoveRole => RevokeMode::RemoveRole,
        accounts::RevokeMode::Suspend => RevokeMode::Suspend,
        accounts::RevokeMode::Delete => RevokeMode::Delete,
    }
}

/// The account `member` must have in `domain`.
fn account_of(member: &StaffRecord, domain: &DomainName) -> Result<DesiredAccount, DesiredError> {
    let invalid = |what: &str, e: support_access_domain::InvalidValue| {
        DesiredError::Invalid(format!("{what}: {e}"))
    };
    DesiredAccount::new(
        StaffMemberId::parse(&member.id).map_err(|e| invalid("staff member id", e))?,
        Username::parse(&member.username).map_err(|e| invalid("username", e))?,
        PersonName::parse(&member.given_name).map_err(|e| invalid("given name", e))?,
        PersonName::parse(&member.family_name).map_err(|e| invalid("family name", e))?,
        EmailAddress::parse(&member.workspace_email).map_err(|e| invalid("workspace e-mail", e))?,
        domain,
    )
    .map_err(|e| invalid(&format!("staff member {}", member.id), e))
}

/// The operator's confirmations of manual steps in `domain`, as the planner and the status
/// checks read them.
pub async fn confirmations(
    conn: &mut PgConnection,
    domain: &str,
) -> Result<Vec<ManualConfirmation>, StoreError> {
    Ok(manual::list(conn, domain)
        .await?
        .into_iter()
        .filter_map(|c| {
            Some(ManualConfirmation {
                step: c.step.as_str().parse::<ManualStep>().ok()?,
                staff_member: c
                    .staff_member_id
                    .and_then(|id| StaffMemberId::parse(&id).ok()),
            })
        })
        .collect())
}
