//! Status snapshots: the last status the server computed for a domain, kept so that
//! `GetDomainStatus` answers from one row and `ListSupportAccounts` filters by state in SQL,
//! whatever the number of accounts.
//!
//! The domain-level part (summary state, domain checks, observation time) is one row of
//! `domain_status_snapshots`; the accounts' part is `support_accounts.state` and `.checks`,
//! written with it in one statement. The snapshot row also holds the accounts' counts by state
//! and the checks waiting for a person, computed with it, so a read of an unchanged domain costs
//! the same whatever its size. The snapshot carries the [`fingerprints`] of what it was
//! computed from: a reader that finds a different fingerprint computes the status again and
//! [`save`]s it. States are stored as the API shows them, without their `CHECK_STATE_` prefix,
//! NULL for UNSPECIFIED.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

use crate::Result;

/// The inputs of a domain's status now, and the fingerprint its snapshot was computed from.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Freshness {
    /// The domain.
    pub domain_name: String,
    /// What the status would be computed from now.
    pub current: String,
    /// What the stored snapshot was computed from; `None` without a snapshot.
    pub stored: Option<String>,
}

impl Freshness {
    /// Whether the stored snapshot is the status of the current inputs.
    pub fn is_fresh(&self) -> bool {
        self.stored.as_deref() == Some(self.current.as_str())
    }
}

/// The fingerprint of one domain's status inputs (or of every domain's, `None`), with the stored
/// one, in one query: the declaration's revision, the observation's time, the decisions (count,
/// last change and a sum of the hashes of what the status reads of each, stored with the row, so
/// that a change made in a transaction that started before the last one still shows), every
/// staff member's revision, the confirmations, and which steps of unfinished operations in the
/// domain are pending or running and which failed (counts and sums of step ids), with which
/// operations. Index-only scans of narrow indexes: about a millisecond for 5,000 accounts.
pub async fn fingerprints(
    conn: &mut PgConnection,
    domain_name: Option<&str>,
) -> Result<Vec<Freshness>> {
    let rows = sqlx::query_as(
        "SELECT d.domain_name, \
                concat_ws('|', d.revision, o.observe_time, a.n, a.t, a.h, sm.n, sm.r, m.n, m.t, \
                          m.ids, s.n, s.active, s.failed, s.ops) AS current, \
                snap.fingerprint AS stored \
         FROM domains d \
         LEFT JOIN domain_observations o ON o.domain_name = d.domain_name \
         LEFT JOIN domain_status_snapshots snap ON snap.domain_name = d.domain_name \
         CROSS JOIN (SELECT count(*) AS n, sum(revision) AS r FROM staff_members) sm \
         CROSS JOIN LATERAL (SELECT count(*) AS n, max(sa.update_time) AS t, \
                                    sum(sa.status_input_hash) AS h \
                             FROM support_accounts sa \
                             WHERE sa.domain_name = d.domain_name) a \
         CROSS JOIN LATERAL (SELECT count(*) AS n, max(confirm_time) AS t, sum(mc.id) AS ids \
                             FROM manual_confirmations mc \
                             WHERE mc.domain_name = d.domain_name) m \
         CROSS JOIN LATERAL (SELECT count(*) AS n, \
                                    concat(count(*) FILTER (WHERE st.state IN ('PENDING', 'RUNNING')), \
                                           ':', sum(st.id) FILTER (WHERE st.state IN ('PENDING', 'RUNNING'))) \
                                        AS active, \
                                    concat(count(*) FILTER (WHERE st.state = 'FAILED'), \
                                           ':', sum(st.id) FILTER (WHERE st.state = 'FAILED')) \
                                        AS failed, \
                                    string_agg(DISTINCT st.operation_id::text, ',') AS ops \
                             FROM operations op \
                             JOIN steps st ON st.operation_id = op.id \
                                          AND st.domain_name = d.domain_name \
                             WHERE NOT op.done) s \
         WHERE ($1::text IS NULL OR d.domain_name = $1) \
         ORDER BY d.domain_name",
    )
    .bind(domain_name)
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// A domain's stored snapshot.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct SnapshotRecord {
    /// The domain.
    pub domain_name: String,
    /// What it was computed from.
    pub fingerprint: String,
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

/// Stores a domain's snapshot and its accounts' part: two statements whatever the number of
/// accounts. Accounts of the domain not in `accounts` keep what they had; call it in a
/// transaction with every account of the domain.
pub async fn save(
    conn: &mut PgConnection,
    snapshot: &SnapshotRecord,
    accounts: &[AccountSnapshot],
) -> Result<()> {
    sqlx::query(
        "INSERT INTO domain_status_snapshots \
             (domain_name, fingerprint, state, checks, observe_time, compute_time, \
              account_counts, manual_counts) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (domain_name) DO UPDATE \
             SET fingerprint = EXCLUDED.fingerprint, state = EXCLUDED.state, \
                 checks = EXCLUDED.checks, observe_time = EXCLUDED.observe_time, \
                 compute_time = EXCLUDED.compute_time, \
                 account_counts = EXCLUDED.account_counts, \
                 manual_counts = EXCLUDED.manual_counts",
    )
    .bind(&snapshot.domain_name)
    .bind(&snapshot.fingerprint)
    .bind(&snapshot.state)
    .bind(&snapshot.checks)
    .bind(snapshot.observe_time)
    .bind(snapshot.compute_time)
    .bind(&snapshot.account_counts)
    .bind(&snapshot.manual_counts)
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
    Ok(())
}

/// A domain's stored snapshot, if any.
pub async fn get(conn: &mut PgConnection, domain_name: &str) -> Result<Option<SnapshotRecord>> {
    let record = sqlx::query_as("SELECT * FROM domain_status_snapshots WHERE domain_name = $1")
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
