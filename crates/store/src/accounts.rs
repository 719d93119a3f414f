//! Desired support accounts: one per (domain, staff member) that access was provisioned or
//! revoked for, with Google's user id once known and the account's last observed checks.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, Row};

use crate::text_enum::text_enum;
use crate::{Page, Result, StoreError, fetch_limit, into_page};

text_enum! {
    /// What revoking does after the role is removed.
    pub enum RevokeMode {
        /// Remove the portal role only.
        RemoveRole => "REMOVE_ROLE",
        /// Remove the role and suspend the account.
        Suspend => "SUSPEND",
        /// Remove the role and delete the account.
        Delete => "DELETE",
    }
}

/// What the account should be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Desired {
    /// The account exists and opens the portal.
    Active,
    /// Access is taken away, as the mode says.
    Revoked(RevokeMode),
}

impl Desired {
    /// The stored `desired` text.
    fn desired_text(self) -> &'static str {
        match self {
            Desired::Active => "ACTIVE",
            Desired::Revoked(_) => "REVOKED",
        }
    }

    /// The stored `revoke_mode` text.
    fn revoke_mode_text(self) -> Option<&'static str> {
        match self {
            Desired::Active => None,
            Desired::Revoked(mode) => Some(mode.as_str()),
        }
    }
}

/// A stored desired account.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountRecord {
    /// The domain.
    pub domain_name: String,
    /// The staff member.
    pub staff_member_id: String,
    /// `{username}@{domain_name}`.
    pub email: String,
    /// Google's user id, once created or found.
    pub google_user_id: Option<String>,
    /// What the account should be.
    pub desired: Desired,
    /// Account checks as last observed (JSON chosen by the server).
    pub checks: Option<Value>,
    /// When `checks` were observed.
    pub observe_time: Option<DateTime<Utc>>,
    /// When the account was first desired.
    pub create_time: DateTime<Utc>,
    /// When the desired state or Google id last changed.
    pub update_time: DateTime<Utc>,
}

impl<'r> FromRow<'r, PgRow> for AccountRecord {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        let decode = |column: &str, e: crate::UnknownValue| sqlx::Error::ColumnDecode {
            index: column.to_owned(),
            source: Box::new(e),
        };
        let revoke_mode: Option<String> = row.try_get("revoke_mode")?;
        let desired = match (row.try_get::<String, _>("desired")?.as_str(), revoke_mode) {
            ("ACTIVE", None) => Desired::Active,
            ("REVOKED", Some(mode)) => {
                Desired::Revoked(mode.parse().map_err(|e| decode("revoke_mode", e))?)
            }
            _ => {
                return Err(decode(
                    "desired",
                    crate::UnknownValue {
                        enum_name: "Desired",
                    },
                ));
            }
        };
        Ok(AccountRecord {
            domain_name: row.try_get("domain_name")?,
            staff_member_id: row.try_get("staff_member_id")?,
            email: row.try_get("email")?,
            google_user_id: row.try_get("google_user_id")?,
            desired,
            checks: row.try_get("checks")?,
            observe_time: row.try_get("observe_time")?,
            create_time: row.try_get("create_time")?,
            update_time: row.try_get("update_time")?,
        })
    }
}

/// The desired state of one account, to record with [`upsert`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredAccount {
    /// The domain (must be declared).
    pub domain_name: String,
    /// The staff member (must be declared).
    pub staff_member_id: String,
    /// `{username}@{domain_name}`, lower case.
    pub email: String,
    /// What the account should be.
    pub desired: Desired,
}

/// Key of a [`list`] page: accounts are ordered by domain, then e-mail.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccountKey {
    /// The domain of the last account listed.
    pub domain_name: String,
    /// Its e-mail.
    pub email: String,
}

/// Which accounts to list; `None` fields do not filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountFilter {
    /// Only this domain.
    pub domain_name: Option<String>,
    /// Only this staff member.
    pub staff_member_id: Option<String>,
}

/// Records the desired state of an account, creating it or changing what it should be (its
/// e-mail, Google id and observation stay). [`StoreError::ReferenceNotFound`] when the domain
/// (`support_accounts_domain_fkey`) or staff member (`support_accounts_staff_member_fkey`) is not
/// declared; [`StoreError::AlreadyExists`]`("support_accounts_email_key")` when another pair
/// holds the e-mail.
pub async fn upsert(conn: &mut PgConnection, account: &DesiredAccount) -> Result<AccountRecord> {
    let record = sqlx::query_as(
        "INSERT INTO support_accounts (domain_name, staff_member_id, email, desired, revoke_mode) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (domain_name, staff_member_id) DO UPDATE \
             SET desired = EXCLUDED.desired, revoke_mode = EXCLUDED.revoke_mode, \
                 update_time = now() \
         RETURNING *",
    )
    .bind(&account.domain_name)
    .bind(&account.staff_member_id)
    .bind(&account.email)
    .bind(account.desired.desired_text())
    .bind(account.desired.revoke_mode_text())
    .fetch_one(conn)
    .await?;
    Ok(record)
}

/// [`upsert`] for many accounts in one statement; returns how many rows were written.
pub async fn upsert_many(conn: &mut PgConnection, accounts: &[DesiredAccount]) -> Result<u64> {
    let column =
        |f: fn(&DesiredAccount) -> Option<String>| accounts.iter().map(f).collect::<Vec<_>>();
    let written = sqlx::query(
        "INSERT INTO support_accounts (domain_name, staff_member_id, email, desired, revoke_mode) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
         ON CONFLICT (domain_name, staff_member_id) DO UPDATE \
             SET desired = EXCLUDED.desired, revoke_mode = EXCLUDED.revoke_mode, \
                 update_time = now()",
    )
    .bind(column(|a| Some(a.domain_name.clone())))
    .bind(column(|a| Some(a.staff_member_id.clone())))
    .bind(column(|a| Some(a.email.clone())))
    .bind(column(|a| Some(a.desired.desired_text().to_owned())))
    .bind(column(|a| a.desired.revoke_mode_text().map(str::to_owned)))
    .execute(conn)
    .await?;
    Ok(written.rows_affected())
}

/// The account of that staff member in that domain.
pub async fn get(
    conn: &mut PgConnection,
    domain_name: &str,
    staff_member_id: &str,
) -> Result<Option<AccountRecord>> {
    let record = sqlx::query_as(
        "SELECT * FROM support_accounts WHERE domain_name = $1 AND staff_member_id = $2",
    )
    .bind(domain_name)
    .bind(staff_member_id)
    .fetch_optional(conn)
    .await?;
    Ok(record)
}

/// The account with that e-mail.
pub async fn get_by_email(conn: &mut PgConnection, email: &str) -> Result<Option<AccountRecord>> {
    let record = sqlx::query_as("SELECT * FROM support_accounts WHERE email = $1")
        .bind(email)
        .fetch_optional(conn)
        .await?;
    Ok(record)
}

/// Accounts matching `filter`, ordered by domain then e-mail, after `after` (the `next_key` of
/// the previous page).
pub async fn list(
    conn: &mut PgConnection,
    filter: &AccountFilter,
    page_size: u32,
    after: Option<&AccountKey>,
) -> Result<Page<AccountRecord, AccountKey>> {
    let rows = sqlx::query_as(
        "SELECT * FROM support_accounts \
         WHERE ($1::text IS NULL OR domain_name = $1) \
           AND ($2::text IS NULL OR staff_member_id = $2) \
           AND ($3::text IS NULL OR (domain_name, email) > ($3, $4)) \
         ORDER BY domain_name, email LIMIT $5",
    )
    .bind(filter.domain_name.as_deref())
    .bind(filter.staff_member_id.as_deref())
    .bind(after.map(|k| k.domain_name.as_str()))
    .bind(after.map(|k| k.email.as_str()))
    .bind(fetch_limit(page_size))
    .fetch_all(conn)
    .await?;
    Ok(into_page(rows, page_size, |a: &AccountRecord| AccountKey {
        domain_name: a.domain_name.clone(),
        email: a.email.clone(),
    }))
}

/// Every account of a domain, by e-mail (for status reports and planning).
pub async fn list_by_domain(
    conn: &mut PgConnection,
    domain_name: &str,
) -> Result<Vec<AccountRecord>> {
    let rows =
        sqlx::query_as("SELECT * FROM support_accounts WHERE domain_name = $1 ORDER BY email")
            .bind(domain_name)
            .fetch_all(conn)
            .await?;
    Ok(rows)
}

/// Every account of a staff member, by domain.
pub async fn list_by_staff_member(
    conn: &mut PgConnection,
    staff_member_id: &str,
) -> Result<Vec<AccountRecord>> {
    let rows = sqlx::query_as(
        "SELECT * FROM support_accounts WHERE staff_member_id = $1 ORDER BY domain_name",
    )
    .bind(staff_member_id)
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// Records Google's user id of the account (or forgets it, after deletion in Google).
pub async fn set_google_user_id(
    conn: &mut PgConnection,
    domain_name: &str,
    staff_member_id: &str,
    google_user_id: Option<&str>,
) -> Result<()> {
    let updated = sqlx::query(
        "UPDATE support_accounts SET google_user_id = $3, update_time = now() \
         WHERE domain_name = $1 AND staff_member_id = $2",
    )
    .bind(domain_name)
    .bind(staff_member_id)
    .bind(google_user_id)
    .execute(conn)
    .await?;
    if updated.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}

/// Stores the account's observed checks unless a newer observation is already stored; returns
/// whether it was stored. [`StoreError::NotFound`] when the account is not desired.
pub async fn save_observation(
    conn: &mut PgConnection,
    domain_name: &str,
    staff_member_id: &str,
    checks: &Value,
    observe_time: DateTime<Utc>,
) -> Result<bool> {
    let stored: Option<bool> = sqlx::query_scalar(
        "WITH target AS (SELECT domain_name, staff_member_id FROM support_accounts \
                         WHERE domain_name = $1 AND staff_member_id = $2), \
              saved AS (UPDATE support_accounts SET checks = $3, observe_time = $4 \
                        WHERE domain_name = $1 AND staff_member_id = $2 \
                          AND (observe_time IS NULL OR observe_time <= $4) \
                        RETURNING 1) \
         SELECT EXISTS (SELECT 1 FROM saved) FROM target",
    )
    .bind(domain_name)
    .bind(staff_member_id)
    .bind(checks)
    .bind(observe_time)
    .fetch_optional(conn)
    .await?;
    stored.ok_or(StoreError::NotFound)
}

/// Forgets the account's desired state. Returns whether there was one.
pub async fn delete(
    conn: &mut PgConnection,
    domain_name: &str,
    staff_member_id: &str,
) -> Result<bool> {
    let deleted =
        sqlx::query("DELETE FROM support_accounts WHERE domain_name = $1 AND staff_member_id = $2")
            .bind(domain_name)
            .bind(staff_member_id)
            .execute(conn)
            .await?;
    Ok(deleted.rows_affected() == 1)
}
