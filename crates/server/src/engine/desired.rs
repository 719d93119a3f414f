//! Building the domain crate's desired state from what Postgres holds: a domain's declaration
//! and the staff members whose accounts an operation (or a status report) covers.

use sqlx::PgConnection;
use support_access_domain::desired::{DesiredAccount, DesiredDomain};
use support_access_domain::names::RoleMode;
use support_access_domain::observed::{ManualConfirmation, ManualStep};
use support_access_domain::{
    DomainName, EmailAddress, OrgUnitPath, PersonName, RoleName, StaffMemberId, Username,
};
use support_access_store::domains::{self, DomainRecord};
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
