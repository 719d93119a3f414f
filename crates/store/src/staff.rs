//! Staff members as declared through the API: create, read, keyset listing by username, update
//! and delete guarded by etags.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::{Page, Result, StoreError, etag, fetch_limit, into_page};

/// A stored staff member.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StaffRecord {
    /// The id ending `staffMembers/{id}`; the key.
    pub id: String,
    /// Local part of the person's account in every domain; unique, immutable.
    pub username: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// The person's own Workspace address.
    pub workspace_email: String,
    /// When the staff member was declared.
    pub create_time: DateTime<Utc>,
    /// When the declaration last changed.
    pub update_time: DateTime<Utc>,
    /// Incremented on every change.
    pub revision: i64,
}

impl StaffRecord {
    /// The quoted etag (AIP-154) of this version.
    pub fn etag(&self) -> String {
        etag::format(self.revision, self.update_time)
    }
}

/// A staff member to declare; the caller has validated every field and chosen the id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewStaffMember {
    /// The id.
    pub id: String,
    /// Username, lower case.
    pub username: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Workspace address.
    pub workspace_email: String,
}

/// Changes to a staff member: `Some` fields are set, `None` fields are left alone. The username
/// is immutable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StaffChanges {
    /// New given name.
    pub given_name: Option<String>,
    /// New family name.
    pub family_name: Option<String>,
    /// New Workspace address.
    pub workspace_email: Option<String>,
}

/// Declares a staff member. [`StoreError::AlreadyExists`] with `staff_members_pkey` when the id is
/// taken, `staff_members_username_key` when the username is.
pub async fn insert(conn: &mut PgConnection, staff: &NewStaffMember) -> Result<StaffRecord> {
    let record = sqlx::query_as(
        "INSERT INTO staff_members (id, username, given_name, family_name, workspace_email) \
         VALUES ($1, $2, $3, $4, $5) RETURNING *",
    )
    .bind(&staff.id)
    .bind(&staff.username)
    .bind(&staff.given_name)
    .bind(&staff.family_name)
    .bind(&staff.workspace_email)
    .fetch_one(conn)
    .await?;
    Ok(record)
}

/// The staff member with that id.
pub async fn get(conn: &mut PgConnection, id: &str) -> Result<Option<StaffRecord>> {
    let record = sqlx::query_as("SELECT * FROM staff_members WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(record)
}

/// The staff members with these ids, in the order of `ids` (one query); ids without a staff
/// member are skipped, and an id given twice is returned twice.
pub async fn get_many(conn: &mut PgConnection, ids: &[String]) -> Result<Vec<StaffRecord>> {
    let records = sqlx::query_as(
        "SELECT s.* FROM unnest($1::text[]) WITH ORDINALITY AS wanted(id, position) \
         JOIN staff_members s ON s.id = wanted.id ORDER BY wanted.position",
    )
    .bind(ids)
    .fetch_all(conn)
    .await?;
    Ok(records)
}

/// The staff member with that username.
pub async fn get_by_username(
    conn: &mut PgConnection,
    username: &str,
) -> Result<Option<StaffRecord>> {
    let record = sqlx::query_as("SELECT * FROM staff_members WHERE username = $1")
        .bind(username)
        .fetch_optional(conn)
        .await?;
    Ok(record)
}

/// Staff members ordered by username, starting after the username `after` (the `next_key` of
/// the previous page).
pub async fn list(
    conn: &mut PgConnection,
    page_size: u32,
    after: Option<&str>,
) -> Result<Page<StaffRecord, String>> {
    let rows = sqlx::query_as(
        "SELECT * FROM staff_members WHERE ($1::text IS NULL OR username > $1) \
         ORDER BY username LIMIT $2",
    )
    .bind(after)
    .bind(fetch_limit(page_size))
    .fetch_all(conn)
    .await?;
    Ok(into_page(rows, page_size, |s: &StaffRecord| {
        s.username.clone()
    }))
}

/// Every staff member, ordered by username (for "every staff member" requests).
pub async fn all(conn: &mut PgConnection) -> Result<Vec<StaffRecord>> {
    let rows = sqlx::query_as("SELECT * FROM staff_members ORDER BY username")
        .fetch_all(conn)
        .await?;
    Ok(rows)
}

/// Applies `changes`, bumping the revision; with `expected_etag`, only when it matches
/// ([`StoreError::EtagMismatch`] otherwise).
pub async fn update(
    conn: &mut PgConnection,
    id: &str,
    expected_etag: Option<&str>,
    changes: &StaffChanges,
) -> Result<StaffRecord> {
    let expected = match expected_etag.map(etag::parse) {
        None => None,
        Some(Some(parsed)) => Some(parsed),
        Some(None) => return Err(missing_or_mismatch(conn, id).await),
    };
    let record = sqlx::query_as(
        "UPDATE staff_members SET \
             given_name = COALESCE($2, given_name), \
             family_name = COALESCE($3, family_name), \
             workspace_email = COALESCE($4, workspace_email), \
             revision = revision + 1, \
             update_time = now() \
         WHERE id = $1 AND ($5::bigint IS NULL OR (revision = $5 AND update_time = $6)) \
         RETURNING *",
    )
    .bind(id)
    .bind(changes.given_name.as_deref())
    .bind(changes.family_name.as_deref())
    .bind(changes.workspace_email.as_deref())
    .bind(expected.map(|(revision, _)| revision))
    .bind(expected.map(|(_, time)| time))
    .fetch_optional(&mut *conn)
    .await?;
    match record {
        Some(record) => Ok(record),
        None => Err(missing_or_mismatch(conn, id).await),
    }
}

/// Locks a staff member's row until the transaction ends, so that what a check read about
/// them (their access, the operations covering them) stays true until a deletion commits.
pub async fn lock(conn: &mut PgConnection, id: &str) -> Result<()> {
    sqlx::query("SELECT 1 FROM staff_members WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Forgets a staff member; the desired accounts and confirmations go with it. With
/// `expected_etag`, only when it matches.
pub async fn delete(conn: &mut PgConnection, id: &str, expected_etag: Option<&str>) -> Result<()> {
    let expected = match expected_etag.map(etag::parse) {
        None => None,
        Some(Some(parsed)) => Some(parsed),
        Some(None) => return Err(missing_or_mismatch(conn, id).await),
    };
    let deleted = sqlx::query(
        "DELETE FROM staff_members \
         WHERE id = $1 AND ($2::bigint IS NULL OR (revision = $2 AND update_time = $3))",
    )
    .bind(id)
    .bind(expected.map(|(revision, _)| revision))
    .bind(expected.map(|(_, time)| time))
    .execute(&mut *conn)
    .await?;
    if deleted.rows_affected() == 1 {
        Ok(())
    } else {
        Err(missing_or_mismatch(conn, id).await)
    }
}

/// After a guarded write touched no row: tells a missing staff member from a stale etag.
async fn missing_or_mismatch(conn: &mut PgConnection, id: &str) -> StoreError {
    let exists =
        sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM staff_members WHERE id = $1)")
            .bind(id)
            .fetch_one(conn)
            .await;
    match exists {
        Ok(true) => StoreError::EtagMismatch,
        Ok(false) => StoreError::NotFound,
        Err(e) => e.into(),
    }
}
