//! Reseller domains as declared through the API: create, read, keyset listing by name, update and
//! delete guarded by etags, and the Google customer id learned on observation. A domain's repair
//! policy is part of its declaration; its reconcile times are not (they change neither the
//! revision nor the etag).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use support_access_domain::RoleMode;

use crate::text_enum::text_enum;
use crate::{Page, Result, StoreError, etag, fetch_limit, into_page};

text_enum! {
    /// What reconciliation does when it finds drift in the domain.
    pub enum RepairPolicy {
        /// Repair owned accounts and record the drift.
        Repair => "REPAIR",
        /// Record the drift only.
        ReportOnly => "REPORT_ONLY",
    }
}

/// A stored domain.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct DomainRecord {
    /// Primary DNS name, lower case; the key.
    pub domain_name: String,
    /// Human-readable label; empty when not given.
    pub display_name: String,
    /// Name of the server-side service-account key (never the key).
    pub credential: String,
    /// The super administrator impersonated through domain-wide delegation.
    pub delegated_admin: String,
    /// Org unit of the support accounts, starting with `/`.
    pub org_unit_path: String,
    /// Which role opens the portal.
    #[sqlx(try_from = "crate::text_enum::EnumText")]
    pub role_mode: RoleMode,
    /// The custom role's name (used in [`RoleMode::CustomRole`]).
    pub custom_role_name: String,
    /// Google customer id, once observed.
    pub customer_id: Option<String>,
    /// When the domain was declared.
    pub create_time: DateTime<Utc>,
    /// When the declaration last changed.
    pub update_time: DateTime<Utc>,
    /// Incremented on every change of the declaration.
    pub revision: i64,
    /// What reconciliation does with drift.
    #[sqlx(try_from = "String")]
    pub repair_policy: RepairPolicy,
    /// When a reconcile operation last finished for the domain.
    pub last_reconcile_time: Option<DateTime<Utc>>,
    /// When the next reconcile operation is due; `None`: at once.
    pub next_reconcile_time: Option<DateTime<Utc>>,
}

impl DomainRecord {
    /// The quoted etag (AIP-154) of this version of the declaration.
    pub fn etag(&self) -> String {
        etag::format(self.revision, self.update_time)
    }
}

/// A domain to declare; the caller has validated and defaulted every field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDomain {
    /// Primary DNS name, lower case.
    pub domain_name: String,
    /// Human-readable label, possibly empty.
    pub display_name: String,
    /// Name of the server-side key.
    pub credential: String,
    /// The delegated super administrator.
    pub delegated_admin: String,
    /// Org unit path.
    pub org_unit_path: String,
    /// Role mode.
    pub role_mode: RoleMode,
    /// Custom role name.
    pub custom_role_name: String,
    /// Repair policy.
    pub repair_policy: RepairPolicy,
}

/// Changes to a declared domain: `Some` fields are set, `None` fields are left as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DomainChanges {
    /// New label.
    pub display_name: Option<String>,
    /// New key name.
    pub credential: Option<String>,
    /// New delegated administrator.
    pub delegated_admin: Option<String>,
    /// New org unit path.
    pub org_unit_path: Option<String>,
    /// New role mode.
    pub role_mode: Option<RoleMode>,
    /// New custom role name.
    pub custom_role_name: Option<String>,
    /// New repair policy.
    pub repair_policy: Option<RepairPolicy>,
}

/// Declares a domain. [`StoreError::AlreadyExists`]`("domains_pkey")` when the name is taken.
pub async fn insert(conn: &mut PgConnection, domain: &NewDomain) -> Result<DomainRecord> {
    let record = sqlx::query_as(
        "INSERT INTO domains (domain_name, display_name, credential, delegated_admin, \
                              org_unit_path, role_mode, custom_role_name, repair_policy) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *",
    )
    .bind(&domain.domain_name)
    .bind(&domain.display_name)
    .bind(&domain.credential)
    .bind(&domain.delegated_admin)
    .bind(&domain.org_unit_path)
    .bind(domain.role_mode.as_str())
    .bind(&domain.custom_role_name)
    .bind(domain.repair_policy.as_str())
    .fetch_one(conn)
    .await?;
    Ok(record)
}

/// The domain of that name, if declared.
pub async fn get(conn: &mut PgConnection, domain_name: &str) -> Result<Option<DomainRecord>> {
    let record = sqlx::query_as("SELECT * FROM domains WHERE domain_name = $1")
        .bind(domain_name)
        .fetch_optional(conn)
        .await?;
    Ok(record)
}

/// The other declared domains with the same delegated admin as `domain_name` (case-insensitive):
/// the same Google customer, e.g. a reseller account's primary and secondary domains.
pub async fn siblings(conn: &mut PgConnection, domain_name: &str) -> Result<Vec<String>> {
    let names = sqlx::query_scalar(
        "SELECT other.domain_name FROM domains this \
         JOIN domains other ON lower(other.delegated_admin) = lower(this.delegated_admin) \
         WHERE this.domain_name = $1 AND other.domain_name <> this.domain_name \
         ORDER BY other.domain_name",
    )
    .bind(domain_name)
    .fetch_all(conn)
    .await?;
    Ok(names)
}

/// The domains of those names that are declared, by name, locked `FOR UPDATE` in that order
/// until the caller's transaction ends (so that two transactions locking overlapping sets
/// serialize without deadlock).
pub async fn lock_many(
    conn: &mut PgConnection,
    domain_names: &[String],
) -> Result<Vec<DomainRecord>> {
    let records = sqlx::query_as(
        "SELECT * FROM domains WHERE domain_name = ANY($1) ORDER BY domain_name FOR UPDATE",
    )
    .bind(domain_names)
    .fetch_all(conn)
    .await?;
    Ok(records)
}

/// The domain of that name, locked `FOR UPDATE` until the caller's transaction ends.
pub async fn get_for_update(
    conn: &mut PgConnection,
    domain_name: &str,
) -> Result<Option<DomainRecord>> {
    let record = sqlx::query_as("SELECT * FROM domains WHERE domain_name = $1 FOR UPDATE")
        .bind(domain_name)
        .fetch_optional(conn)
        .await?;
    Ok(record)
}

/// Domains ordered by name, starting after `after` (the `next_key` of the previous page).
pub async fn list(
    conn: &mut PgConnection,
    page_size: u32,
    after: Option<&str>,
) -> Result<Page<DomainRecord, String>> {
    let rows = sqlx::query_as(
        "SELECT * FROM domains WHERE ($1::text IS NULL OR domain_name > $1) \
         ORDER BY domain_name LIMIT $2",
    )
    .bind(after)
    .bind(fetch_limit(page_size))
    .fetch_all(conn)
    .await?;
    Ok(into_page(rows, page_size, |d: &DomainRecord| {
        d.domain_name.clone()
    }))
}

/// Every declared domain name, in order (for "every domain" requests).
pub async fn names(conn: &mut PgConnection) -> Result<Vec<String>> {
    let names = sqlx::query_scalar("SELECT domain_name FROM domains ORDER BY domain_name")
        .fetch_all(conn)
        .await?;
    Ok(names)
}

/// Applies `changes`, bumping the revision. With `expected_etag`, the change happens only when
/// it matches the current etag ([`StoreError::EtagMismatch`] otherwise).
pub async fn update(
    conn: &mut PgConnection,
    domain_name: &str,
    expected_etag: Option<&str>,
    changes: &DomainChanges,
) -> Result<DomainRecord> {
    let expected = match expected_etag.map(etag::parse) {
        None => None,
        Some(Some(parsed)) => Some(parsed),
        Some(None) => return Err(missing_or_mismatch(conn, domain_name).await),
    };
    let record = sqlx::query_as(
        "UPDATE domains SET \
             display_name = COALESCE($2, display_name), \
             credential = COALESCE($3, credential), \
             delegated_admin = COALESCE($4, delegated_admin), \
             org_unit_path = COALESCE($5, org_unit_path), \
             role_mode = COALESCE($6, role_mode), \
             custom_role_name = COALESCE($7, custom_role_name), \
             repair_policy = COALESCE($10, repair_policy), \
             revision = revision + 1, \
             update_time = now() \
         WHERE domain_name = $1 AND ($8::bigint IS NULL OR (revision = $8 AND update_time = $9)) \
         RETURNING *",
    )
    .bind(domain_name)
    .bind(changes.display_name.as_deref())
    .bind(changes.credential.as_deref())
    .bind(changes.delegated_admin.as_deref())
    .bind(changes.org_unit_path.as_deref())
    .bind(changes.role_mode.map(RoleMode::as_str))
    .bind(changes.custom_role_name.as_deref())
    .bind(expected.map(|(revision, _)| revision))
    .bind(expected.map(|(_, time)| time))
    .bind(changes.repair_policy.map(RepairPolicy::as_str))
    .fetch_optional(&mut *conn)
    .await?;
    match record {
        Some(record) => Ok(record),
        None => Err(missing_or_mismatch(conn, domain_name).await),
    }
}

/// Forgets a domain; its support accounts, observation and confirmations go with it. With
/// `expected_etag`, only when it matches.
pub async fn delete(
    conn: &mut PgConnection,
    domain_name: &str,
    expected_etag: Option<&str>,
) -> Result<()> {
    let expected = match expected_etag.map(etag::parse) {
        None => None,
        Some(Some(parsed)) => Some(parsed),
        Some(None) => return Err(missing_or_mismatch(conn, domain_name).await),
    };
    let deleted = sqlx::query(
        "DELETE FROM domains \
         WHERE domain_name = $1 AND ($2::bigint IS NULL OR (revision = $2 AND update_time = $3))",
    )
    .bind(domain_name)
    .bind(expected.map(|(revision, _)| revision))
    .bind(expected.map(|(_, time)| time))
    .execute(&mut *conn)
    .await?;
    if deleted.rows_affected() == 1 {
        // The markers its accounts' deletion left: no snapshot of the domain is left to read them.
        sqlx::query("DELETE FROM status_input_changes WHERE domain_name = $1")
            .bind(domain_name)
            .execute(&mut *conn)
            .await?;
        Ok(())
    } else {
        Err(missing_or_mismatch(conn, domain_name).await)
    }
}

/// Records the Google customer id learned from an observation. It is not part of the
/// declaration, so the etag does not change.
pub async fn set_customer_id(
    conn: &mut PgConnection,
    domain_name: &str,
    customer_id: Option<&str>,
) -> Result<()> {
    let updated = sqlx::query("UPDATE domains SET customer_id = $2 WHERE domain_name = $1")
        .bind(domain_name)
        .bind(customer_id)
        .execute(conn)
        .await?;
    if updated.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}

/// After a guarded write touched no row: tells a missing domain from a stale etag.
async fn missing_or_mismatch(conn: &mut PgConnection, domain_name: &str) -> StoreError {
    let exists = sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM domains WHERE domain_name = $1)",
    )
    .bind(domain_name)
    .fetch_one(conn)
    .await;
    match exists {
        Ok(true) => StoreError::EtagMismatch,
        Ok(false) => StoreError::NotFound,
        Err(e) => e.into(),
    }
}
