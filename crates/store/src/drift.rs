//! Drift events: differences between Google and the desired state that reconciliation found,
//! with Google's evidence (resource `domains/{domain}/driftEvents/{id}`).
//!
//! At most one event per (domain, kind, account) is open at a time (a partial unique index):
//! [`record_open`] opens the drift not already open, [`resolve_missing`] closes the open events
//! that reconciliation no longer sees, naming the operation that repaired them when the
//! service's own writes did. Events are listed newest first (by id).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{Page, Result, fetch_limit, into_page};

/// A stored drift event.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct DriftRecord {
    /// The event's id (the last segment of its resource name); increasing.
    pub id: i64,
    /// The domain.
    pub domain_name: String,
    /// What drifted: the API's `DriftKind` without its prefix, e.g. `ACCOUNT_ROLE_REMOVED`.
    pub kind: String,
    /// The account concerned; empty for a domain-level event.
    pub account_email: String,
    /// The staff member of a managed account.
    pub staff_member_id: Option<String>,
    /// What was expected and what Google showed.
    pub detail: String,
    /// Google's facts: a flat JSON object of strings.
    pub evidence: Value,
    /// When reconciliation first saw it.
    pub detect_time: DateTime<Utc>,
    /// When Google matched again; `None` while open.
    pub resolve_time: Option<DateTime<Utc>>,
    /// The operation whose writes repaired it.
    pub repair_operation: Option<Uuid>,
}

impl DriftRecord {
    /// True while Google still differs.
    pub fn is_open(&self) -> bool {
        self.resolve_time.is_none()
    }
}

/// A drift seen by reconciliation, to record with [`record_open`].
#[derive(Clone, Debug, PartialEq)]
pub struct NewDrift {
    /// The domain.
    pub domain_name: String,
    /// The kind (see [`DriftRecord::kind`]).
    pub kind: String,
    /// The account; empty for a domain-level drift.
    pub account_email: String,
    /// The staff member of a managed account.
    pub staff_member_id: Option<String>,
    /// What was expected and what Google showed.
    pub detail: String,
    /// Google's facts (a flat JSON object of strings).
    pub evidence: Value,
}

/// Which events to [`list`]; `None` fields do not filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DriftFilter {
    /// Only this domain.
    pub domain_name: Option<String>,
    /// Only open (`true`) or only closed (`false`) events.
    pub open: Option<bool>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only this account.
    pub account: Option<String>,
    /// Only these domains (the caller's allowed domains); `None`: every domain.
    pub allowed_domains: Option<Vec<String>>,
}

/// Opens an event for each drift of `domain_name` that is not open already (same kind and
/// account); returns the events opened now. Drifts of another domain are ignored.
pub async fn record_open(
    conn: &mut PgConnection,
    domain_name: &str,
    drifts: &[NewDrift],
) -> Result<Vec<DriftRecord>> {
    let mut opened = Vec::new();
    for drift in drifts.iter().filter(|d| d.domain_name == domain_name) {
        let record: Option<DriftRecord> = sqlx::query_as(
            "INSERT INTO drift_events (domain_name, kind, account_email, staff_member_id, detail, \
                                       evidence) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (domain_name, kind, account_email) WHERE resolve_time IS NULL DO NOTHING \
             RETURNING *",
        )
        .bind(domain_name)
        .bind(&drift.kind)
        .bind(&drift.account_email)
        .bind(drift.staff_member_id.as_deref())
        .bind(&drift.detail)
        .bind(&drift.evidence)
        .fetch_optional(&mut *conn)
        .await?;
        opened.extend(record);
    }
    Ok(opened)
}

/// Closes the open events of `domain_name` whose (kind, account) is not in `still_open_keys`
/// (`resolve_time = now()`, `repair_operation` as given: the operation whose writes repaired
/// them, or `None`). Returns how many were closed.
pub async fn resolve_missing(
    conn: &mut PgConnection,
    domain_name: &str,
    still_open_keys: &[(String, String)],
    repair_operation: Option<Uuid>,
) -> Result<u64> {
    let kinds: Vec<&str> = still_open_keys.iter().map(|(k, _)| k.as_str()).collect();
    let accounts: Vec<&str> = still_open_keys.iter().map(|(_, a)| a.as_str()).collect();
    let closed = sqlx::query(
        "UPDATE drift_events SET resolve_time = now(), repair_operation = $4 \
         WHERE domain_name = $1 AND resolve_time IS NULL \
           AND NOT EXISTS (SELECT 1 FROM unnest($2::text[], $3::text[]) AS k(kind, account) \
                           WHERE k.kind = drift_events.kind \
                             AND k.account = drift_events.account_email)",
    )
    .bind(domain_name)
    .bind(kinds)
    .bind(accounts)
    .bind(repair_operation)
    .execute(conn)
    .await?;
    Ok(closed.rows_affected())
}

/// Events matching `filter`, newest first (id descending), after `after` (the `next_key` of the
/// previous page).
pub async fn list(
    conn: &mut PgConnection,
    filter: &DriftFilter,
    page_size: u32,
    after: Option<i64>,
) -> Result<Page<DriftRecord, i64>> {
    let rows = sqlx::query_as(
        "SELECT * FROM drift_events \
         WHERE ($1::text IS NULL OR domain_name = $1) \
           AND ($2::bool IS NULL OR (resolve_time IS NULL) = $2) \
           AND ($3::text IS NULL OR kind = $3) \
           AND ($4::text IS NULL OR account_email = $4) \
           AND ($5::text[] IS NULL OR domain_name = ANY($5)) \
           AND ($6::bigint IS NULL OR id < $6) \
         ORDER BY id DESC LIMIT $7",
    )
    .bind(filter.domain_name.as_deref())
    .bind(filter.open)
    .bind(filter.kind.as_deref())
    .bind(filter.account.as_deref())
    .bind(filter.allowed_domains.as_deref())
    .bind(after)
    .bind(fetch_limit(page_size))
    .fetch_all(conn)
    .await?;
    Ok(into_page(rows, page_size, |d: &DriftRecord| d.id))
}

/// The open events of a domain, newest first, at most `limit`.
pub async fn open_for_domain(
    conn: &mut PgConnection,
    domain_name: &str,
    limit: u32,
) -> Result<Vec<DriftRecord>> {
    let rows = sqlx::query_as(
        "SELECT * FROM drift_events WHERE domain_name = $1 AND resolve_time IS NULL \
         ORDER BY id DESC LIMIT $2",
    )
    .bind(domain_name)
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// The events of a domain the service repaired, most recently resolved first, at most `limit`.
pub async fn recent_repairs(
    conn: &mut PgConnection,
    domain_name: &str,
    limit: u32,
) -> Result<Vec<DriftRecord>> {
    let rows = sqlx::query_as(
        "SELECT * FROM drift_events WHERE domain_name = $1 AND repair_operation IS NOT NULL \
         ORDER BY resolve_time DESC, id DESC LIMIT $2",
    )
    .bind(domain_name)
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// How many events of a domain the service repaired, ever.
pub async fn repairs_total(conn: &mut PgConnection, domain_name: &str) -> Result<i64> {
    let total = sqlx::query_scalar(
        "SELECT count(*) FROM drift_events WHERE domain_name = $1 AND repair_operation IS NOT NULL",
    )
    .bind(domain_name)
    .fetch_one(conn)
    .await?;
    Ok(total)
}
