//! Manual confirmations: an operator's record that a step without a Google API was done
//! (`ConfirmManualStep`). One per (domain, step, staff member); confirming again replaces the
//! note, principal and time.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use support_access_domain::observed::ManualStep;

use crate::Result;

/// A confirmation to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewConfirmation {
    /// The domain (must be declared).
    pub domain_name: String,
    /// The step.
    pub step: ManualStep,
    /// For [`ManualStep::MailRouting`] of one account: its staff member. Must be `None` for the
    /// other steps (`InvalidValue("manual_confirmations_scope_check")`).
    pub staff_member_id: Option<String>,
    /// What the operator did.
    pub note: String,
    /// Who confirmed.
    pub principal: String,
}

/// A stored confirmation.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ConfirmationRecord {
    /// Surrogate key.
    pub id: i64,
    /// The domain.
    pub domain_name: String,
    /// The step.
    #[sqlx(try_from = "crate::text_enum::EnumText")]
    pub step: ManualStep,
    /// The staff member, for one account's mail routing.
    pub staff_member_id: Option<String>,
    /// The operator's note.
    pub note: String,
    /// Who confirmed.
    pub principal: String,
    /// When.
    pub confirm_time: DateTime<Utc>,
}

/// Records a confirmation, replacing an earlier one of the same (domain, step, staff member).
pub async fn confirm(
    conn: &mut PgConnection,
    confirmation: &NewConfirmation,
) -> Result<ConfirmationRecord> {
    let record = sqlx::query_as(
        "INSERT INTO manual_confirmations (domain_name, step, staff_member_id, note, principal) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT ON CONSTRAINT manual_confirmations_step_key DO UPDATE \
             SET note = EXCLUDED.note, principal = EXCLUDED.principal, confirm_time = now() \
         RETURNING *",
    )
    .bind(&confirmation.domain_name)
    .bind(confirmation.step.as_str())
    .bind(confirmation.staff_member_id.as_deref())
    .bind(&confirmation.note)
    .bind(&confirmation.principal)
    .fetch_one(conn)
    .await?;
    Ok(record)
}

/// The confirmations of a domain, by step then staff member (domain-wide first).
pub async fn list(conn: &mut PgConnection, domain_name: &str) -> Result<Vec<ConfirmationRecord>> {
    let rows = sqlx::query_as(
        "SELECT * FROM manual_confirmations WHERE domain_name = $1 \
         ORDER BY step, staff_member_id NULLS FIRST",
    )
    .bind(domain_name)
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// Withdraws a confirmation (for example when an observation shows the step undone). Returns
/// whether there was one.
pub async fn withdraw(
    conn: &mut PgConnection,
    domain_name: &str,
    step: ManualStep,
    staff_member_id: Option<&str>,
) -> Result<bool> {
    let deleted = sqlx::query(
        "DELETE FROM manual_confirmations \
         WHERE domain_name = $1 AND step = $2 AND staff_member_id IS NOT DISTINCT FROM $3",
    )
    .bind(domain_name)
    .bind(step.as_str())
    .bind(staff_member_id)
    .execute(conn)
    .await?;
    Ok(deleted.rows_affected() == 1)
}
