//! Building the domain crate's desired state from what Postgres holds: a domain's declaration,
//! the decision about each of its support accounts (ACTIVE or REVOKED, with what the service
//! owns), and the operator's confirmations of manual steps.

use sqlx::PgConnection;
use std::collections::HashMap;
use support_access_domain::desired::{DesiredAccount, DesiredDomain};
use support_access_domain::lifecycle::OperationKind;
use support_access_domain::observed::ManualConfirmation;
use support_access_domain::{
    DomainName, EmailAddress, OrgUnitPath, PersonName, RoleName, StaffMemberId, Username,
};
use support_access_store::domains::DomainRecord;

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

/// The desired state of `record`'s domain as Postgres holds it now, for the staff members
/// `staff_scope` (every staff member when empty), as an operation of `kind` works towards it:
/// a provision converges the ACTIVE accounts and knows the REVOKED ones (never re-granted), a
/// revocation works on the REVOKED ones only, a reconciliation on both. Each account carries
/// what the service owns (the recorded Google id of an account it created or adopted) and an
/// approved adoption.
pub async fn from_decisions(
    conn: &mut PgConnection,
    record: &DomainRecord,
    kind: OperationKind,
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
    let domain = DomainName::parse(&record.domain_name).map_err(|e| invalid("domain", e))?;
    let mut active = Vec::new();
    let mut revoked = Vec::new();
    for row in &rows {
        let Some(member) = members.get(&row.staff_member_id) else {
            continue;
        };
        let owned = row
            .ownership
            .is_owned()
            .then(|| row.google_user_id.clone().map(UserId::new))
            .flatten();
        let adopt = row.adopt_user_id.clone().map(UserId::new);
        let account =
            || Ok::<_, DesiredError>(account_of(member, &domain)?.with_ownership(owned, adopt));
        match row.desired {
            Desired::Active if kind != OperationKind::Revoke => active.push(account()?),
            Desired::Revoked(mode) => revoked.push((account()?, mode)),
            Desired::Active => {}
        }
    }
    DesiredDomain::new(
        domain,
        EmailAddress::parse(&record.delegated_admin).map_err(|e| invalid("delegated admin", e))?,
        OrgUnitPath::parse(&record.org_unit_path).map_err(|e| invalid("org unit", e))?,
        record.role_mode,
        RoleName::parse(&record.custom_role_name).map_err(|e| invalid("custom role name", e))?,
        active,
    )
    .and_then(|desired| desired.try_with_revoked(revoked))
    .map_err(|e| DesiredError::Invalid(e.to_string()))
}

fn invalid(what: &str, e: support_access_domain::InvalidValue) -> DesiredError {
    DesiredError::Invalid(format!("{what}: {e}"))
}

/// The account `member` must have in `domain`.
fn account_of(member: &StaffRecord, domain: &DomainName) -> Result<DesiredAccount, DesiredError> {
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
    manual::list(conn, domain)
        .await?
        .into_iter()
        .map(|c| {
            let staff_member = c
                .staff_member_id
                .map(|id| StaffMemberId::parse(&id))
                .transpose()
                // The store wrote a staff id it had accepted: one that no longer parses is a
                // stored value this code cannot read, not a confirmation to drop.
                .map_err(|e| {
                    StoreError::Database(sqlx::Error::ColumnDecode {
                        index: "staff_member_id".to_owned(),
                        source: Box::new(e),
                    })
                })?;
            Ok(ManualConfirmation {
                step: c.step,
                staff_member,
            })
        })
        .collect()
}
