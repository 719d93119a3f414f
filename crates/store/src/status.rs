//! Status snapshots: the last status the server computed for a domain, kept so that
//! `GetDomainStatus` answers from one row and `ListSupportAccounts` filters by state in SQL,
//! whatever the number of accounts.
//!
//! The domain-level part (summary state, domain checks, observation time) is one row of
//! `domain_status_snapshots`; the accounts' part is `support_accounts.state` and `.checks`,
//! written with it in one statement. The snapshot row also holds the accounts' counts by state
//! and the checks waiting for a person, computed with it, so a read of an unchanged domain costs
//! the same whatever its size. Whether the snapshot is still the status of its inputs is one
//! query of a few index probes ([`fingerprints`], [`read`]): the one-row inputs are compared
//! with the snapshot's, the others carry the id of the transaction that last changed them, which
//! must be visible in the database snapshot taken before the status's inputs were read. A reader
//! that finds the status stale computes it again and [`save`]s it. States are stored as the API
//! shows them, without their `CHECK_STATE_` prefix, NULL for UNSPECIFIED.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

use crate::Result;

/// Whether a domain's stored snapshot is the status of its inputs now.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Freshness {
    /// The domain.
    pub domain_name: String,
    /// The one-row inputs now (declaration revision, observation time).
    pub current: String,
    /// The one-row inputs the stored snapshot was computed from; `None` without a snapshot.
    pub stored: Option<String>,
    /// Whether a decision, staff member, confirmation or unfinished step the snapshot read was
    /// written or deleted by a transaction it could not see (true without a snapshot).
    pub changed: bool,
    /// The transactions visible when this was read (`pg_current_snapshot()`, as text): a
    /// snapshot computed from inputs read after this is stored with it (see [`save`]).
    pub inputs_snapshot: String,
}

impl Freshness {
    /// Whether the stored snapshot is the status of the current inputs.
    pub fn is_fresh(&self) -> bool {
        !self.changed && self.stored.as_deref() == Some(self.current.as_str())
    }
}

/// The columns of [`Freshness`] for each domain `d` and its snapshot `snap`, with the joins
/// they need: one query of a few index probes per domain whatever its size. The one-row inputs
/// are compared with the snapshot's fingerprint; for the others (decisions, staff,
/// confirmations, steps, and the markers their deletions and finished operations leave) the
/// query asks whether any carries the id of a transaction the snapshot's `inputs_snapshot` could
/// not see. Only ids at or after that snapshot's xmin can be such, so each probe is an index
/// range that is empty for a domain nothing wrote to since (see the migration
/// `status_change_marker`).
macro_rules! freshness_query {
    ($extra_columns:literal, $conditions:literal) => {
        concat!(
        "SELECT d.domain_name, \
                concat_ws('|', d.revision, o.observe_time) AS current, \
                snap.fingerprint AS stored, \
                (snap.inputs_snapshot IS NULL \
                 OR EXISTS (SELECT FROM support_accounts sa \
                            WHERE sa.domain_name = d.domain_name \
                              AND sa.status_xid >= pg_snapshot_xmin(snap.inputs_snapshot) \
                              AND NOT pg_visible_in_snapshot(sa.status_xid, snap.inputs_snapshot)) \
                 OR EXISTS (SELECT FROM staff_members sm \
                            WHERE sm.status_xid >= pg_snapshot_xmin(snap.inputs_snapshot) \
                              AND NOT pg_visible_in_snapshot(sm.status_xid, snap.inputs_snapshot)) \
                 OR EXISTS (SELECT FROM manual_confirmations mc \
                            WHERE mc.domain_name = d.domain_name \
                              AND mc.status_xid >= pg_snapshot_xmin(snap.inputs_snapshot) \
                              AND NOT pg_visible_in_snapshot(mc.status_xid, snap.inputs_snapshot)) \
                 OR EXISTS (SELECT FROM steps st \
                            WHERE st.domain_name = d.domain_name \
                              AND st.status_xid >= pg_snapshot_xmin(snap.inputs_snapshot) \
                              AND NOT pg_visible_in_snapshot(st.status_xid, snap.inputs_snapshot)) \
                 OR EXISTS (SELECT FROM status_input_changes c \
                            WHERE c.domain_name = d.domain_name \
                              AND c.xid >= pg_snapshot_xmin(snap.inputs_snapshot) \
                              AND NOT pg_visible_in_snapshot(c.xid, snap.inputs_snapshot))) \
                    AS changed, \
                pg_current_snapshot()::text AS inputs_snapshot",
            $extra_columns,
            " FROM domains d \
             LEFT JOIN domain_observations o ON o.domain_name = d.domain_name \
             LEFT JOIN domain_status_snapshots snap ON snap.domain_name = d.domain_name ",
            $conditions
        )
    };
}

/// Whether the snapshot of one domain (or of every domain, `None`) is fresh (see
/// [`freshness_query`]).
pub async fn fingerprints(
    conn: &mut PgConnection,
    domain_name: Option<&str>,
) -> Result<Vec<Freshness>> {
    let rows = sqlx::query_as(freshness_query!(
        "",
        "WHERE ($1::text IS NULL OR d.domain_name = $1) ORDER BY d.domain_name"
    ))
    .bind(domain_name)
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// A domain's freshness and its stored snapshot, read together.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusRead {
    /// Whether `snapshot` is the status of the domain's inputs now.
    pub freshness: Freshness,
    /// The stored snapshot; `None` when there is none.
    pub snapshot: Option<SnapshotRecord>,
}

#[derive(sqlx::FromRow)]
struct StatusReadRow {
    #[sqlx(flatten)]
    freshness: Freshness,
    snap_inputs_snapshot: Option<String>,
    snap_state: Option<String>,
    snap_checks: Option<Value>,
    snap_observe_time: Option<DateTime<Utc>>,
    snap_compute_time: Option<DateTime<Utc>>,
    snap_account_counts: Option<sqlx::types::Json<Vec<StateCount>>>,
    snap_manual_counts: Option<sqlx::types::Json<Vec<ManualCount>>>,
}

/// [`fingerprints`] of one domain with its stored snapshot, in one round trip: what a read of
/// an unchanged domain needs. `None` when the domain is not declared.
pub async fn read(conn: &mut PgConnection, domain_name: &str) -> Result<Option<StatusRead>> {
    let row: Option<StatusReadRow> = sqlx::query_as(freshness_query!(
        ", snap.inputs_snapshot::text AS snap_inputs_snapshot, snap.state AS snap_state, \
         snap.checks AS snap_checks, snap.observe_time AS snap_observe_time, \
         snap.compute_time AS snap_compute_time, snap.account_counts AS snap_account_counts, \
         snap.manual_counts AS snap_manual_counts",
        "WHERE d.domain_name = $1"
    ))
    .bind(domain_name)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|row| {
        let snapshot = match (
            row.freshness.stored.clone(),
            row.snap_inputs_snapshot,
            row.snap_checks,
            row.snap_compute_time,
        ) {
            (Some(fingerprint), Some(inputs_snapshot), Some(checks), Some(compute_time)) => {
                Some(SnapshotRecord {
                    domain_name: row.freshness.domain_name.clone(),
                    fingerprint,
                    inputs_snapshot,
                    state: row.snap_state,
                    checks,
                    observe_time: row.snap_observe_time,
                    compute_time,
                    account_counts: row.snap_account_counts.unwrap_or_default(),
                    manual_counts: row.snap_manual_counts.unwrap_or_default(),
                })
            }
            _ => None,
        };
        StatusRead {
            freshness: row.freshness,
            snapshot,
        }
    }))
}

/// A domain's stored snapshot.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct SnapshotRecord {
    /// The domain.
    pub domain_name: String,
    /// The one-row inputs it was computed from ([`Freshness::current`]).
    pub fingerprint: String,
    /// [`Freshness::inputs_snapshot`], read before its inputs.
    pub inputs_snapshot: String,
    /// The summary state; `None` for UNSPECIFIED.
    pub state: Option<String>,
    /// The domain-level checks (JSON chosen by the server).
    pub checks: Value,
    /// When Google was observed for them; `None` when never.
    pub observe_time: Option<DateTime<Utc>>,
    /// When the snapshot was computed.
    pub compute_time: DateTime<Utc>,
    /// The domain's accounts counted by (state, desired).
    pub account_counts: sqlx::types::Json<Vec<StateCount>>,
    /// The account-level checks waiting for a person, per kind.
    pub manual_counts: sqlx::types::Json<Vec<ManualCount>>,
}

/// One account's part of a snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountSnapshot {
    /// The account's e-mail.
    pub email: String,
    /// Its summary state; `None` for UNSPECIFIED.
    pub state: Option<String>,
    /// Its checks (JSON chosen by the server); `None` for an account without checks.
    pub checks: Option<Value>,
}

/// Stores a domain's snapshot and its accounts' part, and prunes the domain's change markers it
/// makes useless: three statements whatever the number of accounts. Accounts of the domain not
/// in `accounts` keep what they had; call it in a transaction with every account of the domain.
/// Returns false, storing nothing, when the stored snapshot was computed from inputs read later
/// than this one's (its `inputs_snapshot` has a larger xmin or xmax).
pub async fn save(
    conn: &mut PgConnection,
    snapshot: &SnapshotRecord,
    accounts: &[AccountSnapshot],
) -> Result<bool> {
    // A computation that read its inputs before the stored snapshot's did may have missed a
    // change whose marker that save pruned: it must not replace it.
    let saved = sqlx::query(
        "INSERT INTO domain_status_snapshots \
             (domain_name, fingerprint, inputs_snapshot, state, checks, observe_time, \
              compute_time, account_counts, manual_counts) \
         VALUES ($1, $2, $3::text::pg_snapshot, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (domain_name) DO UPDATE \
             SET fingerprint = EXCLUDED.fingerprint, inputs_snapshot = EXCLUDED.inputs_snapshot, \
                 state = EXCLUDED.state, checks = EXCLUDED.checks, \
                 observe_time = EXCLUDED.observe_time, compute_time = EXCLUDED.compute_time, \
                 account_counts = EXCLUDED.account_counts, \
                 manual_counts = EXCLUDED.manual_counts \
             WHERE pg_snapshot_xmin(domain_status_snapshots.inputs_snapshot) \
                       <= pg_snapshot_xmin(EXCLUDED.inputs_snapshot) \
                   AND pg_snapshot_xmax(domain_status_snapshots.inputs_snapshot) \
                       <= pg_snapshot_xmax(EXCLUDED.inputs_snapshot)",
    )
    .bind(&snapshot.domain_name)
    .bind(&snapshot.fingerprint)
    .bind(&snapshot.inputs_snapshot)
    .bind(&snapshot.state)
    .bind(&snapshot.checks)
    .bind(snapshot.observe_time)
    .bind(snapshot.compute_time)
    .bind(&snapshot.account_counts)
    .bind(&snapshot.manual_counts)
    .execute(&mut *conn)
    .await?;
    if saved.rows_affected() == 0 {
        return Ok(false);
    }
    // Markers older than every transaction this snapshot could not see no longer matter: no
    // stored snapshot of the domain is older (see above).
    sqlx::query(
        "DELETE FROM status_input_changes \
         WHERE domain_name = $1 AND xid < pg_snapshot_xmin($2::text::pg_snapshot)",
    )
    .bind(&snapshot.domain_name)
    .bind(&snapshot.inputs_snapshot)
    .execute(&mut *conn)
    .await?;
    let emails: Vec<&str> = accounts.iter().map(|a| a.email.as_str()).collect();
    let states: Vec<Option<&str>> = accounts.iter().map(|a| a.state.as_deref()).collect();
    let checks: Vec<Option<&Value>> = accounts.iter().map(|a| a.checks.as_ref()).collect();
    // update_time stays: it is the time of the decision, part of the fingerprint.
    sqlx::query(
        "UPDATE support_accounts sa \
         SET state = u.state, checks = u.checks, \
             observe_time = CASE WHEN u.checks IS NULL THEN NULL ELSE $2 END \
         FROM unnest($3::text[], $4::text[], $5::jsonb[]) AS u(email, state, checks) \
         WHERE sa.domain_name = $1 AND sa.email = u.email \
           AND (sa.state, sa.checks, sa.observe_time) \
               IS DISTINCT FROM (u.state, u.checks, CASE WHEN u.checks IS NULL THEN NULL ELSE $2 END)",
    )
    .bind(&snapshot.domain_name)
    .bind(snapshot.observe_time)
    .bind(emails)
    .bind(states)
    .bind(checks)
    .execute(conn)
    .await?;
    Ok(true)
}

/// A domain's stored snapshot, if any.
pub async fn get(conn: &mut PgConnection, domain_name: &str) -> Result<Option<SnapshotRecord>> {
    let record = sqlx::query_as(
        "SELECT domain_name, fingerprint, inputs_snapshot::text AS inputs_snapshot, state, checks, \
                observe_time, compute_time, account_counts, manual_counts \
         FROM domain_status_snapshots WHERE domain_name = $1",
    )
    .bind(domain_name)
    .fetch_optional(conn)
    .await?;
    Ok(record)
}

/// How many accounts of a domain have one (state, desired) pair.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StateCount {
    /// The summary state; `None` for UNSPECIFIED.
    pub state: Option<String>,
    /// `ACTIVE` or `REVOKED`.
    pub desired: String,
    /// How many accounts.
    pub count: i64,
}

/// An account-level check that waits for a person in some accounts of a domain.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ManualCount {
    /// The check's kind as the server stored it in `checks`.
    pub kind: String,
    /// How many accounts wait on it.
    pub count: i64,
    /// The first of those accounts (by e-mail).
    pub first_email: String,
    /// That account's instructions.
    pub manual_action: String,
}
