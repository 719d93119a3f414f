//! Desired support accounts: one per (domain, staff member) that access was provisioned or
//! revoked for, with Google's user id once known and the account's last observed checks.
//!
//! The row is a durable decision: ACTIVE or REVOKED(mode), with who decided it, when and why.
//! [`declare_active`] (provisioning) only inserts rows that do not exist yet and never turns a
//! REVOKED row back; only [`regrant`] does. Ownership says whether the service owns the Google
//! account at the address ([`record_ownership`], [`forget_ownership`]); an operator's approval to
//! adopt an account is kept in `adopt_user_id` ([`approve_adoption`]) until the engine marks it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, Row};

use support_access_domain::lifecycle::RevokeMode;

use crate::text_enum::text_enum;
use crate::{Page, Result, StoreError, fetch_limit, into_page, millis};

text_enum! {
    /// Whether the service owns the Google account at the address.
    pub enum Ownership {
        /// No account of the service's (none yet, or someone else's: a conflict).
        NotOwned => "NOT_OWNED",
        /// The service created it (and marked it in Google).
        Created => "CREATED",
        /// An operator adopted it.
        Adopted => "ADOPTED",
    }
}

impl Ownership {
    /// True for [`Ownership::Created`] and [`Ownership::Adopted`].
    pub fn is_owned(self) -> bool {
        self != Ownership::NotOwned
    }
}

/// Who makes a decision about accounts, and why (written with the rows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision<'a> {
    /// The principal whose request decides.
    pub principal: &'a str,
    /// Why; empty when the request did not say.
    pub reason: &'a str,
}

/// One (domain, staff member) a decision is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NewAccount {
    /// The domain (must be declared).
    pub domain_name: String,
    /// The staff member (must be declared).
    pub staff_member_id: String,
    /// `{username}@{domain_name}`, lower case (used when the row is inserted).
    pub email: String,
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
    /// The account-level checks of the last status snapshot (JSON chosen by the server).
    pub checks: Option<Value>,
    /// The summary state of the last status snapshot, as the API spells it without its
    /// `CHECK_STATE_` prefix; `None` for UNSPECIFIED (revoked, or never observed).
    pub state: Option<String>,
    /// When `checks` were observed.
    pub observe_time: Option<DateTime<Utc>>,
    /// When the account was first desired.
    pub create_time: DateTime<Utc>,
    /// When the desired state or Google id last changed.
    pub update_time: DateTime<Utc>,
    /// Whether the service owns the Google account (`google_user_id` is set when it does).
    pub ownership: Ownership,
    /// The principal who made the current decision (`system` for rows older than decisions).
    pub decided_by: String,
    /// When the current decision was made (for REVOKED rows: the start of the mass-change
    /// window).
    pub decide_time: DateTime<Utc>,
    /// Why, when the request said.
    pub decision_reason: String,
    /// The Google user id an operator approved for adoption, until the engine marked it.
    pub adopt_user_id: Option<String>,
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
            ("REVOKED", Some(mode)) => Desired::Revoked(
                crate::text_enum::decode(&mode).map_err(|e| decode("revoke_mode", e))?,
            ),
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
            state: row.try_get("state")?,
            observe_time: row.try_get("observe_time")?,
            create_time: row.try_get("create_time")?,
            update_time: row.try_get("update_time")?,
            ownership: row
                .try_get::<String, _>("ownership")?
                .parse()
                .map_err(|e| decode("ownership", e))?,
            decided_by: row.try_get("decided_by")?,
            decide_time: row.try_get("decide_time")?,
            decision_reason: row.try_get("decision_reason")?,
            adopt_user_id: row.try_get("adopt_user_id")?,
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
    /// Only accounts whose snapshot state is (`Is`) or is not (`IsNot`) this one.
    pub state: Option<StateCondition>,
    /// Only accounts with this decision: `ACTIVE` or `REVOKED`.
    pub desired: Option<String>,
    /// Only accounts with this ownership.
    pub ownership: Option<Ownership>,
    /// Only accounts of these domains (the caller's scope); `None` for every domain.
    pub allowed_domains: Option<Vec<String>>,
}

/// A condition on the snapshot state of an account (`None` is UNSPECIFIED).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateCondition {
    /// The state is this one.
    Is(Option<String>),
    /// The state is not this one.
    IsNot(Option<String>),
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
           AND ($6::bool IS NULL \
                OR ($6 AND state IS NOT DISTINCT FROM $7::text) \
                OR (NOT $6 AND state IS DISTINCT FROM $7::text)) \
           AND ($8::text IS NULL OR desired = $8) \
           AND ($9::text IS NULL OR ownership = $9) \
           AND ($10::text[] IS NULL OR domain_name = ANY($10)) \
         ORDER BY domain_name, email LIMIT $5",
    )
    .bind(filter.domain_name.as_deref())
    .bind(filter.staff_member_id.as_deref())
    .bind(after.map(|k| k.domain_name.as_str()))
    .bind(after.map(|k| k.email.as_str()))
    .bind(fetch_limit(page_size))
    .bind(
        filter
            .state
            .as_ref()
            .map(|c| matches!(c, StateCondition::Is(_))),
    )
    .bind(filter.state.as_ref().and_then(|c| match c {
        StateCondition::Is(s) | StateCondition::IsNot(s) => s.as_deref(),
    }))
    .bind(filter.desired.as_deref())
    .bind(filter.ownership.map(|o| o.as_str()))
    .bind(filter.allowed_domains.as_deref())
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

/// Records Google's user id of the account (or forgets it, after deletion in Google): the
/// engine's call from before ownership. `Some` records the account as owned (CREATED unless it
/// is owned already: adopted stays adopted) and clears a pending adoption; `None` is
/// [`forget_ownership`]. New code calls [`record_ownership`] / [`forget_ownership`].
pub async fn set_google_user_id(
    conn: &mut PgConnection,
    domain_name: &str,
    staff_member_id: &str,
    google_user_id: Option<&str>,
) -> Result<()> {
    let updated = sqlx::query(
        "UPDATE support_accounts SET google_user_id = $3, \
             ownership = CASE WHEN $3::text IS NULL THEN 'NOT_OWNED' \
                              WHEN ownership = 'NOT_OWNED' THEN 'CREATED' \
                              ELSE ownership END, \
             adopt_user_id = CASE WHEN $3::text IS NULL THEN adopt_user_id END, \
             update_time = now() \
         WHERE domain_name = $1 AND staff_member_id = $2",
    )
    .bind(domain_name)
    .bind(staff_member_id)
    .bind(google_user_id)
    .execute(conn)
    .await?;
    one_row(updated.rows_affected())
}

fn one_row(rows: u64) -> Result<()> {
    if rows == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}

/// The three columns of `accounts`, for `unnest`.
fn columns(accounts: &[NewAccount]) -> (Vec<&str>, Vec<&str>, Vec<&str>) {
    (
        accounts.iter().map(|a| a.domain_name.as_str()).collect(),
        accounts
            .iter()
            .map(|a| a.staff_member_id.as_str())
            .collect(),
        accounts.iter().map(|a| a.email.as_str()).collect(),
    )
}

/// Provisioning's decision: records ACTIVE rows for the pairs that have no row yet, decided by
/// `decision`. Existing rows (ACTIVE or REVOKED) are never touched: provisioning never re-grants.
/// Returns how many rows were inserted. [`StoreError::ReferenceNotFound`] for an undeclared
/// domain or staff member; [`StoreError::AlreadyExists`]`("support_accounts_email_key")` when
/// another pair holds an e-mail.
pub async fn declare_active(
    conn: &mut PgConnection,
    accounts: &[NewAccount],
    decision: Decision<'_>,
) -> Result<u64> {
    let (domains, staff, emails) = columns(accounts);
    let inserted = sqlx::query(
        "INSERT INTO support_accounts \
             (domain_name, staff_member_id, email, desired, decided_by, decision_reason) \
         SELECT d, s, e, 'ACTIVE', $4, $5 FROM unnest($1::text[], $2::text[], $3::text[]) AS t(d, s, e) \
         ON CONFLICT (domain_name, staff_member_id) DO NOTHING",
    )
    .bind(domains)
    .bind(staff)
    .bind(emails)
    .bind(decision.principal)
    .bind(decision.reason)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected())
}

/// Revocation's decision: every pair becomes REVOKED(`mode`) (inserted when missing). A row
/// that was ACTIVE, missing or revoked with another mode gets the new decider, reason and
/// `decide_time = now()` (the start of its mass-change window); a row already revoked with this
/// mode is left as it is. Returns how many rows changed.
pub async fn revoke(
    conn: &mut PgConnection,
    accounts: &[NewAccount],
    mode: RevokeMode,
    decision: Decision<'_>,
) -> Result<u64> {
    let (domains, staff, emails) = columns(accounts);
    let written = sqlx::query(
        "INSERT INTO support_accounts (domain_name, staff_member_id, email, desired, revoke_mode, \
                                       decided_by, decision_reason) \
         SELECT d, s, e, 'REVOKED', $4, $5, $6 \
         FROM unnest($1::text[], $2::text[], $3::text[]) AS t(d, s, e) \
         ON CONFLICT (domain_name, staff_member_id) DO UPDATE \
             SET desired = 'REVOKED', revoke_mode = EXCLUDED.revoke_mode, \
                 decided_by = EXCLUDED.decided_by, decision_reason = EXCLUDED.decision_reason, \
                 decide_time = now(), update_time = now() \
             WHERE support_accounts.desired <> 'REVOKED' \
                OR support_accounts.revoke_mode IS DISTINCT FROM EXCLUDED.revoke_mode",
    )
    .bind(domains)
    .bind(staff)
    .bind(emails)
    .bind(mode.as_str())
    .bind(decision.principal)
    .bind(decision.reason)
    .execute(conn)
    .await?;
    Ok(written.rows_affected())
}

/// Re-granting's decision, the only way back from REVOKED: REVOKED rows become ACTIVE (revoke
/// mode cleared) and missing rows are inserted ACTIVE, with the decider, reason and
/// `decide_time = now()`. Rows already ACTIVE are left as they are. Returns how many rows
/// changed.
pub async fn regrant(
    conn: &mut PgConnection,
    keys: &[NewAccount],
    decision: Decision<'_>,
) -> Result<u64> {
    let (domains, staff, emails) = columns(keys);
    let written = sqlx::query(
        "INSERT INTO support_accounts \
             (domain_name, staff_member_id, email, desired, decided_by, decision_reason) \
         SELECT d, s, e, 'ACTIVE', $4, $5 FROM unnest($1::text[], $2::text[], $3::text[]) AS t(d, s, e) \
         ON CONFLICT (domain_name, staff_member_id) DO UPDATE \
             SET desired = 'ACTIVE', revoke_mode = NULL, \
                 decided_by = EXCLUDED.decided_by, decision_reason = EXCLUDED.decision_reason, \
                 decide_time = now(), update_time = now() \
             WHERE support_accounts.desired = 'REVOKED'",
    )
    .bind(domains)
    .bind(staff)
    .bind(emails)
    .bind(decision.principal)
    .bind(decision.reason)
    .execute(conn)
    .await?;
    Ok(written.rows_affected())
}

/// Records that the service owns the Google account `google_user_id` at the pair's address, as
/// `ownership` says (created, adopted, or re-discovered through its marker), and clears a
/// pending adoption. [`StoreError::NotFound`] when the pair has no row.
pub async fn record_ownership(
    conn: &mut PgConnection,
    domain_name: &str,
    staff_member_id: &str,
    google_user_id: &str,
    ownership: Ownership,
) -> Result<()> {
    let updated = sqlx::query(
        "UPDATE support_accounts SET google_user_id = $3, ownership = $4, adopt_user_id = NULL, \
                                     update_time = now() \
         WHERE domain_name = $1 AND staff_member_id = $2",
    )
    .bind(domain_name)
    .bind(staff_member_id)
    .bind(google_user_id)
    .bind(ownership.as_str())
    .execute(conn)
    .await?;
    one_row(updated.rows_affected())
}

/// Forgets the owned account (NOT_OWNED, no Google id): after the service deleted it (a DELETE
/// revocation), or when it is no longer the service's. [`StoreError::NotFound`] when the pair
/// has no row.
pub async fn forget_ownership(
    conn: &mut PgConnection,
    domain_name: &str,
    staff_member_id: &str,
) -> Result<()> {
    let updated = sqlx::query(
        "UPDATE support_accounts SET ownership = 'NOT_OWNED', google_user_id = NULL, \
                                     update_time = now() \
         WHERE domain_name = $1 AND staff_member_id = $2",
    )
    .bind(domain_name)
    .bind(staff_member_id)
    .execute(conn)
    .await?;
    one_row(updated.rows_affected())
}

/// An operator's approval to adopt the Google account `google_user_id` at the pair's address:
/// sets `adopt_user_id` (the engine marks the account and then [`record_ownership`]s it as
/// ADOPTED), with the decider and reason. The desired state stays as it is (a missing row is
/// inserted ACTIVE, its e-mail from the staff member's username); `decide_time` stays too, so an
/// adoption does not move a revocation's mass-change window. [`StoreError::NotFound`] when the
/// staff member is not declared, [`StoreError::ReferenceNotFound`] when the domain is not.
pub async fn approve_adoption(
    conn: &mut PgConnection,
    domain_name: &str,
    staff_member_id: &str,
    google_user_id: &str,
    decision: Decision<'_>,
) -> Result<()> {
    let written = sqlx::query(
        "INSERT INTO support_accounts (domain_name, staff_member_id, email, desired, decided_by, \
                                       decision_reason, adopt_user_id) \
         SELECT $1, s.id, s.username || '@' || $1, 'ACTIVE', $4, $5, $3 \
         FROM staff_members s WHERE s.id = $2 \
         ON CONFLICT (domain_name, staff_member_id) DO UPDATE \
             SET adopt_user_id = EXCLUDED.adopt_user_id, decided_by = EXCLUDED.decided_by, \
                 decision_reason = EXCLUDED.decision_reason, update_time = now()",
    )
    .bind(domain_name)
    .bind(staff_member_id)
    .bind(google_user_id)
    .bind(decision.principal)
    .bind(decision.reason)
    .execute(conn)
    .await?;
    one_row(written.rows_affected())
}

/// The counts the mass-change limit weighs in a domain: `(active_owned, revoked_in_window)`,
/// the accounts the service owns that are ACTIVE, and the accounts revoked within `window`
/// before now (the transaction's start), owned or not (an account deleted by a revocation is no
/// longer owned but still counts). Call it after locking the domain row `FOR UPDATE` so that
/// concurrent revocations count each other.
pub async fn mass_change_counts(
    conn: &mut PgConnection,
    domain_name: &str,
    window: Duration,
) -> Result<(u32, u32)> {
    let (active_owned, revoked): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE desired = 'ACTIVE' AND ownership <> 'NOT_OWNED'), \
                count(*) FILTER (WHERE desired = 'REVOKED' \
                                   AND decide_time > now() - $2 * interval '1 millisecond') \
         FROM support_accounts WHERE domain_name = $1",
    )
    .bind(domain_name)
    .bind(millis(window))
    .fetch_one(conn)
    .await?;
    let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    Ok((count(active_owned), count(revoked)))
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
