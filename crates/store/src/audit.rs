//! The append-only audit log: who called which mutating RPC, and which writes the service made in
//! Google, with the outcome. Listed newest first, filtered by method, domain and principal.
//!
//! An event appended inside the call's transaction vanishes if that transaction rolls back;
//! audit refusals and failures on a separate connection (the pool) to keep them.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::{Page, Result, fetch_limit, into_page};

/// An event to record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewAuditEvent {
    /// The authenticated principal, or `system` for the service's own Google writes.
    pub principal: String,
    /// The full gRPC method or the Google method (`directory.users.insert`).
    pub method: String,
    /// The caller's request id, when given.
    pub request_id: Option<String>,
    /// The reseller domain concerned (bare name, `reseller.example`), when there is one.
    pub domain_name: Option<String>,
    /// The resource or account acted on.
    pub target: String,
    /// `OK`, or the gRPC / Google error code.
    pub outcome: String,
    /// More detail; never a secret.
    pub detail: String,
}

/// A recorded event.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRecord {
    /// Increasing id (`auditEvents/{id}`).
    pub id: i64,
    /// When it was recorded.
    pub event_time: DateTime<Utc>,
    /// Who.
    pub principal: String,
    /// Which method.
    pub method: String,
    /// The caller's request id.
    pub request_id: Option<String>,
    /// The domain concerned.
    pub domain_name: Option<String>,
    /// What was acted on.
    pub target: String,
    /// The outcome.
    pub outcome: String,
    /// More detail.
    pub detail: String,
}

/// Which events to list; `None` fields do not filter. Values match exactly.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this method.
    pub method: Option<String>,
    /// Only this domain (bare name).
    pub domain_name: Option<String>,
    /// Only this principal.
    pub principal: Option<String>,
}

/// Records an event.
pub async fn append(conn: &mut PgConnection, event: &NewAuditEvent) -> Result<AuditRecord> {
    let record = sqlx::query_as(
        "INSERT INTO audit_events \
             (principal, method, request_id, domain_name, target, outcome, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
    )
    .bind(&event.principal)
    .bind(&event.method)
    .bind(event.request_id.as_deref())
    .bind(event.domain_name.as_deref())
    .bind(&event.target)
    .bind(&event.outcome)
    .bind(&event.detail)
    .fetch_one(conn)
    .await?;
    Ok(record)
}

/// The event with that id.
pub async fn get(conn: &mut PgConnection, id: i64) -> Result<Option<AuditRecord>> {
    let record = sqlx::query_as("SELECT * FROM audit_events WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(record)
}

/// Events matching `filter`, newest first, older than the id `before_id` (the `next_key` of the
/// previous page).
pub async fn list(
    conn: &mut PgConnection,
    filter: &AuditFilter,
    page_size: u32,
    before_id: Option<i64>,
) -> Result<Page<AuditRecord, i64>> {
    let rows = sqlx::query_as(
        "SELECT * FROM audit_events \
         WHERE ($1::text IS NULL OR method = $1) \
           AND ($2::text IS NULL OR domain_name = $2) \
           AND ($3::text IS NULL OR principal = $3) \
           AND ($4::bigint IS NULL OR id < $4) \
         ORDER BY id DESC LIMIT $5",
    )
    .bind(filter.method.as_deref())
    .bind(filter.domain_name.as_deref())
    .bind(filter.principal.as_deref())
    .bind(before_id)
    .bind(fetch_limit(page_size))
    .fetch_all(conn)
    .await?;
    Ok(into_page(rows, page_size, |e: &AuditRecord| e.id))
}
