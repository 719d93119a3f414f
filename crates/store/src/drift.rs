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

/// What a domain's status shows of its drift: the open events (newest first, at most
/// `open_limit`), the ones the service repaired (most recently resolved first, at most
/// `repair_limit`), and how many it repaired ever.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DomainDrift {
    /// The open events.
    pub open: Vec<DriftRecord>,
    /// The events the service repaired, most recent first.
    pub recent_repairs: Vec<DriftRecord>,
    /// How many events the service repaired, ever.
    pub repairs_total: i64,
}

/// One row of [`for_domain_status`]: an event, which list it is in, and the repairs' total.
#[derive(sqlx::FromRow)]
struct TaggedDrift {
    repaired: bool,
    repairs_total: i64,
    #[sqlx(flatten)]
    event: DriftRecord,
}

/// A domain's [`DomainDrift`] in one round trip. The total rides on the repaired rows: when
/// there is none, it is 0.
pub async fn for_domain_status(
    conn: &mut PgConnection,
    domain_name: &str,
    open_limit: u32,
    repair_limit: u32,
) -> Result<DomainDrift> {
    let rows: Vec<TaggedDrift> = sqlx::query_as(
        "SELECT * FROM ( \
             (SELECT false AS repaired, 0::bigint AS repairs_total, e.* FROM drift_events e \
              WHERE e.domain_name = $1 AND e.resolve_time IS NULL ORDER BY e.id DESC LIMIT $2) \
             UNION ALL \
             (SELECT true, (SELECT count(*) FROM drift_events t \
                            WHERE t.domain_name = $1 AND t.repair_operation IS NOT NULL), e.* \
              FROM drift_events e \
              WHERE e.domain_name = $1 AND e.repair_operation IS NOT NULL \
              ORDER BY e.resolve_time DESC, e.id DESC LIMIT $3)) u \
         ORDER BY repaired, resolve_time DESC, id DESC",
    )
    .bind(domain_name)
    .bind(i64::from(open_limit))
    .bind(i64::from(repair_limit))
    .fetch_all(conn)
    .await?;
    let mut drift = DomainDrift::default();
    for row in rows {
        if row.repaired {
            drift.repairs_total = row.repairs_total;
            drift.recent_repairs.push(row.event);
        } else {
            drift.open.push(row.event);
        }
    }
    Ok(drift)
}
