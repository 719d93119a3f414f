//! Long-running operations: their creation with the plan (per-domain work items and journal
//! steps) in the caller's transaction, listing, cancellation and outcome; the leases through which
//! workers of any replica claim one domain of one operation at a time; and the fenced journal.
//!
//! Leases and fencing. [`claim_next_domain`] picks the oldest claimable work item with
//! `FOR UPDATE SKIP LOCKED`, leases it to the caller for a while and increments its fencing token.
//! A domain is worked on by one lease at a time, across operations, in operation order. A worker
//! that stalls past its lease loses the item to the next claimer, and every later write it makes
//! with its old token ([`record_step`], [`append_steps`], [`renew_lease`], [`release`]) fails with
//! [`StoreError::Fenced`]. Journal writes take a share lock on the work item, so a
//! takeover waits for a write in flight and a write never lands after a takeover.
//!
//! Lock order, to stay free of deadlocks: work item, then operation, then steps.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

use support_access_domain::lifecycle::OperationKind;
use support_access_domain::plan::StepKind;

use crate::text_enum::text_enum;
use crate::{Page, Result, StoreError, fetch_limit, into_page, millis};

/// Claims tried per call of [`claim_next_domain`] before giving up for now (each skips a domain
/// that another worker is claiming at the same moment).
const CLAIM_ROUNDS: usize = 8;

text_enum! {
    /// Where an operation, or one domain of it, is.
    pub enum RunState {
        /// Not started (for a domain: never claimed).
        Pending => "PENDING",
        /// Started; for a domain, claimed at least once and not finished.
        Running => "RUNNING",
        /// Finished, everything done.
        Succeeded => "SUCCEEDED",
        /// Finished with an error.
        Failed => "FAILED",
        /// Finished by cancellation.
        Cancelled => "CANCELLED",
    }
}

impl RunState {
    /// True for the three final states.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunState::Succeeded | RunState::Failed | RunState::Cancelled
        )
    }
}

text_enum! {
    /// Where a step is (the `StepState` enum of the API without its prefix).
    pub enum StepState {
        /// Waiting to run.
        Pending => "PENDING",
        /// Running, or waiting to retry.
        Running => "RUNNING",
        /// Carried out and confirmed.
        Done => "DONE",
        /// Not needed: Google already showed the desired state.
        Skipped => "SKIPPED",
        /// Failed for good.
        Failed => "FAILED",
        /// Not run because the operation was cancelled.
        Cancelled => "CANCELLED",
    }
}

/// A stored operation.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct OperationRecord {
    /// The id of `operations/{id}`.
    pub id: Uuid,
    /// Creation order; the key of [`list`] pages.
    pub seq: i64,
    /// What it does.
    #[sqlx(try_from = "crate::text_enum::EnumText")]
    pub kind: OperationKind,
    /// Who started it.
    pub principal: String,
    /// The caller's request id, when given.
    pub request_id: Option<String>,
    /// The parameters the engine needs, as given to [`create`].
    pub request: Value,
    /// Plan only: nothing is done in Google.
    pub validate_only: bool,
    /// Where it is.
    #[sqlx(try_from = "String")]
    pub state: RunState,
    /// True once `state` is terminal.
    pub done: bool,
    /// True once cancellation was asked for.
    pub cancel_requested: bool,
    /// The encoded response, for a succeeded operation.
    pub result: Option<Vec<u8>>,
    /// The encoded error, for a failed or cancelled operation.
    pub error: Option<Vec<u8>>,
    /// When it was created.
    pub create_time: DateTime<Utc>,
    /// When it last changed.
    pub update_time: DateTime<Utc>,
    /// When it finished.
    pub end_time: Option<DateTime<Utc>>,
}

/// JSON kept as the text the database holds (a step's parameters, Google's answer): a domain's
/// journal of thousands of steps is read back whole on every pass, and a parsed
/// `serde_json::Value` weighs several times its text.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct RawJson(Box<serde_json::value::RawValue>);

impl RawJson {
    /// `value`, serialized once.
    pub fn of<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<Self> {
        serde_json::value::to_raw_value(value).map(RawJson)
    }

    /// The value, parsed as `T`.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_str(self.0.get())
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }
}

impl PartialEq for RawJson {
    /// The same JSON value, whatever the spacing and order of keys.
    fn eq(&self, other: &Self) -> bool {
        self.parse::<Value>().ok() == other.parse::<Value>().ok()
    }
}

/// A step of a plan, to store with [`create`] or [`append_steps`].
#[derive(Clone, Debug, PartialEq)]
pub struct NewStep {
    /// The domain the step acts in; one of the operation's domains.
    pub domain_name: String,
    /// The account concerned; `None` for domain-level steps.
    pub account_email: Option<String>,
    /// The staff member owning the account; `None` for domain-level steps.
    pub staff_member_id: Option<String>,
    /// What it does.
    pub action: StepKind,
    /// Why it is needed.
    pub reason: String,
    /// Parameters for the engine.
    pub payload: RawJson,
    /// Initial state: usually [`StepState::Pending`]; [`StepState::Skipped`] for what Google
    /// already shows.
    pub state: StepState,
    /// Initial detail, usually empty.
    pub detail: String,
}

/// An operation to create with its plan.
#[derive(Clone, Debug, PartialEq)]
pub struct NewOperation {
    /// The id (the caller chooses it, for example a UUID v7).
    pub id: Uuid,
    /// What it does.
    pub kind: OperationKind,
    /// Who starts it.
    pub principal: String,
    /// The caller's request id, when given.
    pub request_id: Option<String>,
    /// The parameters the engine needs.
    pub request: Value,
    /// Plan only.
    pub validate_only: bool,
    /// The domains it works in: one work item each.
    pub domains: Vec<String>,
    /// The plan, in order; `seq` is the position from 1.
    pub steps: Vec<NewStep>,
    /// The W3C `traceparent` of the request that starts it, when that request is traced: the
    /// engine's work on the operation joins that trace.
    pub trace_parent: Option<String>,
}

/// A stored step of the journal.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct StepRecord {
    /// Surrogate key.
    pub id: i64,
    /// The operation.
    pub operation_id: Uuid,
    /// The domain.
    pub domain_name: String,
    /// Position in the plan, from 1.
    pub seq: i32,
    /// The account concerned.
    pub account_email: Option<String>,
    /// The staff member owning the account.
    pub staff_member_id: Option<String>,
    /// What it does.
    #[sqlx(try_from = "crate::text_enum::EnumText")]
    pub action: StepKind,
    /// Why.
    pub reason: String,
    /// Parameters.
    #[sqlx(json)]
    pub payload: RawJson,
    /// Where it is.
    #[sqlx(try_from = "String")]
    pub state: StepState,
    /// Calls made to Google for it.
    pub attempts: i32,
    /// Outcome detail.
    pub detail: String,
    /// What Google returned for the effect.
    #[sqlx(json(nullable))]
    pub google_effect: Option<RawJson>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// What an operation's result needs of a step: not its parameters, its reason nor Google's
/// answer, which weigh most of a journal. Read for every step of a domain when an operation's
/// result is put together ([`domain_step_outlines`]).
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct StepOutline {
    /// The account concerned.
    pub account_email: Option<String>,
    /// The staff member owning the account.
    pub staff_member_id: Option<String>,
    /// What it does.
    #[sqlx(try_from = "crate::text_enum::EnumText")]
    pub action: StepKind,
    /// Where it is.
    #[sqlx(try_from = "String")]
    pub state: StepState,
    /// Outcome detail.
    pub detail: String,
}

/// A stored work item: one domain of one operation, with its lease.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct DomainWorkRecord {
    /// The operation.
    pub operation_id: Uuid,
    /// The domain.
    pub domain_name: String,
    /// Where the domain is.
    #[sqlx(try_from = "String")]
    pub state: RunState,
    /// Why it is blocked or failed.
    pub message: String,
    /// Who holds the lease.
    pub lease_owner: Option<String>,
    /// When the lease lapses.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Incremented on every claim.
    pub fencing_token: i64,
    /// Not claimable before this time.
    pub not_before: Option<DateTime<Utc>>,
    /// When it last changed.
    pub update_time: DateTime<Utc>,
    /// How many times it was claimed.
    pub claims: i32,
}

/// Progress of one domain: its state and how many steps are in each state.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct DomainProgress {
    /// The domain.
    pub domain_name: String,
    /// Where the domain is.
    #[sqlx(try_from = "String")]
    pub state: RunState,
    /// Why it is blocked or failed.
    pub message: String,
    /// Steps waiting.
    pub pending: i64,
    /// Steps running.
    pub running: i64,
    /// Steps done.
    pub done: i64,
    /// Steps skipped.
    pub skipped: i64,
    /// Steps failed.
    pub failed: i64,
    /// Steps cancelled.
    pub cancelled: i64,
}

/// Which operations to list; `None` fields do not filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OperationFilter {
    /// Only this kind.
    pub kind: Option<OperationKind>,
    /// Only finished (`true`) or unfinished (`false`) operations.
    pub done: Option<bool>,
}

/// How an operation ended, with its opaque encoded outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// Succeeded, with the encoded response.
    Succeeded(&'a [u8]),
    /// Failed, with the encoded error.
    Failed(&'a [u8]),
    /// Cancelled, with the encoded error.
    Cancelled(&'a [u8]),
}

/// A lease on one domain of one operation, held by a worker. Every journal write presents it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The operation.
    pub operation_id: Uuid,
    /// The domain.
    pub domain_name: String,
    /// The worker holding it.
    pub owner: String,
    /// The token given by this claim; writes with an older token are refused.
    pub fencing_token: i64,
    /// When the lease lapses unless renewed.
    pub expires_at: DateTime<Utc>,
    /// How many times the item was claimed, this claim included.
    pub claims: i32,
    /// The worker whose lease had lapsed when this claim took the item over; `None` when the
    /// item was free (never claimed, or released).
    pub took_over_from: Option<String>,
}

/// The change to one step, written with [`record_step`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepUpdate<'a> {
    /// The new state.
    pub state: StepState,
    /// The new detail (replaces the old).
    pub detail: &'a str,
    /// What Google returned, when the call had an effect; `None` keeps the stored one.
    pub google_effect: Option<&'a Value>,
    /// Calls made to Google since the last update, added to `attempts`.
    pub add_attempts: i32,
}

/// Creates an operation with one work item per domain and its plan, in the caller's
/// transaction. A step whose domain is not among `domains` is
/// [`StoreError::ReferenceNotFound`]`("steps_operation_domain_fkey")`.
pub async fn create(conn: &mut PgConnection, operation: &NewOperation) -> Result<OperationRecord> {
    let mut tx = conn.begin().await?;
    let record: OperationRecord = sqlx::query_as(
        "INSERT INTO operations (id, kind, principal, request_id, request, validate_only, \
                                 trace_parent) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
    )
    .bind(operation.id)
    .bind(operation.kind.as_str())
    .bind(&operation.principal)
    .bind(operation.request_id.as_deref())
    .bind(&operation.request)
    .bind(operation.validate_only)
    .bind(operation.trace_parent.as_deref())
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO operation_domains (operation_id, domain_name) \
         SELECT $1, d FROM unnest($2::text[]) AS d",
    )
    .bind(operation.id)
    .bind(&operation.domains)
    .execute(&mut *tx)
    .await?;
    insert_steps(&mut tx, operation.id, 1, &operation.steps).await?;
    tx.commit().await?;
    Ok(record)
}

/// The W3C `traceparent` an operation was started under, if it was traced.
pub async fn trace_parent(conn: &mut PgConnection, operation_id: Uuid) -> Result<Option<String>> {
    let parent: Option<Option<String>> =
        sqlx::query_scalar("SELECT trace_parent FROM operations WHERE id = $1")
            .bind(operation_id)
            .fetch_optional(conn)
            .await?;
    Ok(parent.flatten())
}

/// Inserts `steps` with consecutive `seq` from `first_seq`.
async fn insert_steps(
    conn: &mut PgConnection,
    operation_id: Uuid,
    first_seq: i32,
    steps: &[NewStep],
) -> Result<()> {
    let column = |f: fn(&NewStep) -> Option<String>| steps.iter().map(f).collect::<Vec<_>>();
    let domains = column(|s| Some(s.domain_name.clone()));
    let emails = column(|s| s.account_email.clone());
    let staff = column(|s| s.staff_member_id.clone());
    let actions = column(|s| Some(s.action.as_str().to_owned()));
    let reasons = column(|s| Some(s.reason.clone()));
    let states = column(|s| Some(s.state.as_str().to_owned()));
    let details = column(|s| Some(s.detail.clone()));
    let payloads: Vec<&str> = steps.iter().map(|s| s.payload.as_str()).collect();
    sqlx::query(
        "INSERT INTO steps (operation_id, seq, domain_name, account_email, staff_member_id, \
                            action, reason, state, detail, payload) \
         SELECT $1, $2 + n::int - 1, d, e, s, a, r, st, dt, p::jsonb \
         FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], \
                     $9::text[], $10::text[]) WITH ORDINALITY AS t(d, e, s, a, r, st, dt, p, n)",
    )
    .bind(operation_id)
    .bind(first_seq)
    .bind(domains)
    .bind(emails)
    .bind(staff)
    .bind(actions)
    .bind(reasons)
    .bind(states)
    .bind(details)
    .bind(payloads)
    .execute(conn)
    .await?;
    Ok(())
}

/// The operation with that id.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<OperationRecord>> {
    let record = sqlx::query_as("SELECT * FROM operations WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(record)
}

/// Operations matching `filter`, newest first, created before the one whose `seq` is
/// `before_seq` (the `next_key` of the previous page).
pub async fn list(
    conn: &mut PgConnection,
    filter: &OperationFilter,
    page_size: u32,
    before_seq: Option<i64>,
) -> Result<Page<OperationRecord, i64>> {
    let rows = sqlx::query_as(
        "SELECT * FROM operations \
         WHERE ($1::text IS NULL OR kind = $1) AND ($2::boolean IS NULL OR done = $2) \
           AND ($3::bigint IS NULL OR seq < $3) \
         ORDER BY seq DESC LIMIT $4",
    )
    .bind(filter.kind.map(OperationKind::as_str))
    .bind(filter.done)
    .bind(before_seq)
    .bind(fetch_limit(page_size))
    .fetch_all(conn)
    .await?;
    Ok(into_page(rows, page_size, |o: &OperationRecord| o.seq))
}

/// Asks for cancellation; workers stop before their next step. Returns the operation, unchanged
/// when it is already done. [`StoreError::NotFound`] for an unknown id.
pub async fn request_cancel(conn: &mut PgConnection, id: Uuid) -> Result<OperationRecord> {
    let record = sqlx::query_as(
        "UPDATE operations SET cancel_requested = true, update_time = now() \
         WHERE id = $1 AND NOT done RETURNING *",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    match record {
        Some(record) => Ok(record),
        None => get(conn, id).await?.ok_or(StoreError::NotFound),
    }
}

/// Finishes an operation with its outcome. [`StoreError::Conflict`] when it is already done.
pub async fn finish(
    conn: &mut PgConnection,
    id: Uuid,
    outcome: Outcome<'_>,
) -> Result<OperationRecord> {
    let (state, result, error) = match outcome {
        Outcome::Succeeded(result) => (RunState::Succeeded, Some(result), None),
        Outcome::Failed(error) => (RunState::Failed, None, Some(error)),
        Outcome::Cancelled(error) => (RunState::Cancelled, None, Some(error)),
    };
    let mut tx = conn.begin().await?;
    let record = sqlx::query_as(
        "UPDATE operations SET state = $2, result = $3, error = $4, end_time = now(), \
                               update_time = now() \
         WHERE id = $1 AND NOT done RETURNING *",
    )
    .bind(id)
    .bind(state.as_str())
    .bind(result)
    .bind(error)
    .fetch_optional(&mut *tx)
    .await?;
    if record.is_some() {
        // The journal of a finished operation is final: its counts are kept for reads.
        sqlx::query(
            "UPDATE operation_domains od SET step_counts = ( \
                 SELECT jsonb_build_object( \
                     'pending', count(*) FILTER (WHERE s.state = 'PENDING'), \
                     'running', count(*) FILTER (WHERE s.state = 'RUNNING'), \
                     'done', count(*) FILTER (WHERE s.state = 'DONE'), \
                     'skipped', count(*) FILTER (WHERE s.state = 'SKIPPED'), \
                     'failed', count(*) FILTER (WHERE s.state = 'FAILED'), \
                     'cancelled', count(*) FILTER (WHERE s.state = 'CANCELLED')) \
                 FROM steps s \
                 WHERE s.operation_id = od.operation_id AND s.domain_name = od.domain_name) \
             WHERE od.operation_id = $1",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    match record {
        Some(record) => Ok(record),
        None => match get(conn, id).await? {
            Some(_) => Err(StoreError::Conflict(
                "operation already finished".to_owned(),
            )),
            None => Err(StoreError::NotFound),
        },
    }
}

/// Claims the oldest claimable work item for `owner` for `lease_duration`, in its own
/// transaction; `None` when there is nothing to do now.
///
/// Claimable: the item is pending or running, its operation is not done, its lease is free or
/// lapsed, its `not_before` has passed, no other operation holds a live lease on the same domain,
/// no other domain with the same delegated admin (the same Google customer) holds a live lease,
/// and no older unfinished operation still has unfinished work in the same domain.
pub async fn claim_next_domain(
    pool: &PgPool,
    owner: &str,
    lease_duration: Duration,
) -> Result<Option<Lease>> {
    let mut skipped: Vec<String> = Vec::new();
    for _ in 0..CLAIM_ROUNDS {
        let mut tx = pool.begin().await?;
        let candidate: Option<(Uuid, String, Option<String>)> = sqlx::query_as(
            "SELECT od.operation_id, od.domain_name, od.lease_owner \
             FROM operation_domains od JOIN operations o ON o.id = od.operation_id \
             WHERE od.state IN ('PENDING', 'RUNNING') AND NOT o.done \
               AND (od.lease_expires_at IS NULL OR od.lease_expires_at <= clock_timestamp()) \
               AND (od.not_before IS NULL OR od.not_before <= clock_timestamp()) \
               AND NOT (od.domain_name = ANY($1::text[])) \
               AND NOT EXISTS (SELECT 1 FROM operation_domains busy \
                   WHERE busy.domain_name = od.domain_name \
                     AND busy.operation_id <> od.operation_id \
                     AND busy.lease_expires_at > clock_timestamp()) \
               AND NOT EXISTS (SELECT 1 FROM operation_domains busy \
                   JOIN domains busy_d ON busy_d.domain_name = busy.domain_name \
                   JOIN domains this_d ON this_d.domain_name = od.domain_name \
                   WHERE busy.domain_name <> od.domain_name \
                     AND lower(busy_d.delegated_admin) = lower(this_d.delegated_admin) \
                     AND busy.lease_expires_at > clock_timestamp()) \
               AND NOT EXISTS (SELECT 1 FROM operation_domains older \
                   JOIN operations older_op ON older_op.id = older.operation_id \
                   WHERE older.domain_name = od.domain_name \
                     AND older.state IN ('PENDING', 'RUNNING') AND NOT older_op.done \
                     AND older_op.seq < o.seq \
                     AND (o.kind <> 'REVOKE' OR older_op.kind = 'REVOKE')) \
             ORDER BY (o.kind = 'REVOKE') DESC, o.seq, od.domain_name \
             LIMIT 1 \
             FOR UPDATE OF od SKIP LOCKED",
        )
        .bind(&skipped)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((operation_id, domain_name, took_over_from)) = candidate else {
            return Ok(None);
        };

        // Another worker may be claiming an item of the same domain in another operation right
        // now (a different row, so SKIP LOCKED does not see it). The advisory lock serializes
        // claims per domain; the checks are repeated under it, on a fresh snapshot.
        let locked: bool = sqlx::query_scalar(
            "SELECT pg_try_advisory_xact_lock(hashtextextended('support-access/domain/' || $1, 0))",
        )
        .bind(&domain_name)
        .fetch_one(&mut *tx)
        .await?;
        // Domains with one delegated admin are one Google customer (a reseller account's
        // primary and secondary domains): they share its org unit, custom role and
        // subscription, so one of them is worked on at a time and the first creates what the
        // customer lacks while the others find it. A second advisory lock, per admin,
        // serializes their claims.
        let locked = locked
            && sqlx::query_scalar::<_, bool>(
                "SELECT COALESCE((SELECT pg_try_advisory_xact_lock(hashtextextended( \
                     'support-access/customer-admin/' || lower(delegated_admin), 0)) \
                     FROM domains WHERE domain_name = $1), true)",
            )
            .bind(&domain_name)
            .fetch_one(&mut *tx)
            .await?;
        let free = locked
            && sqlx::query_scalar::<_, bool>(
                "SELECT NOT EXISTS (SELECT 1 FROM operation_domains busy \
                     WHERE busy.domain_name = $2 AND busy.operation_id <> $1 \
                       AND busy.lease_expires_at > clock_timestamp()) \
                 AND NOT EXISTS (SELECT 1 FROM operation_domains busy \
                     JOIN domains busy_d ON busy_d.domain_name = busy.domain_name \
                     JOIN domains this_d ON this_d.domain_name = $2 \
                     WHERE busy.domain_name <> $2 \
                       AND lower(busy_d.delegated_admin) = lower(this_d.delegated_admin) \
                       AND busy.lease_expires_at > clock_timestamp()) \
                 AND NOT EXISTS (SELECT 1 FROM operation_domains older \
                     JOIN operations older_op ON older_op.id = older.operation_id \
                     JOIN operations this_op ON this_op.id = $1 \
                     WHERE older.domain_name = $2 \
                       AND older.state IN ('PENDING', 'RUNNING') AND NOT older_op.done \
                       AND older_op.seq < this_op.seq \
                       AND (this_op.kind <> 'REVOKE' OR older_op.kind = 'REVOKE'))",
            )
            .bind(operation_id)
            .bind(&domain_name)
            .fetch_one(&mut *tx)
            .await?;
        if !free {
            tx.rollback().await?;
            skipped.push(domain_name);
            continue;
        }

        let (fencing_token, expires_at, claims): (i64, DateTime<Utc>, i32) = sqlx::query_as(
            "UPDATE operation_domains SET lease_owner = $3, \
                 lease_expires_at = clock_timestamp() + $4 * interval '1 millisecond', \
                 fencing_token = fencing_token + 1, state = 'RUNNING', not_before = NULL, \
                 claims = claims + 1, update_time = now() \
             WHERE operation_id = $1 AND domain_name = $2 \
             RETURNING fencing_token, lease_expires_at, claims",
        )
        .bind(operation_id)
        .bind(&domain_name)
        .bind(owner)
        .bind(millis(lease_duration))
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE operations SET state = 'RUNNING', update_time = now() \
             WHERE id = $1 AND state = 'PENDING'",
        )
        .bind(operation_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::debug!(%operation_id, domain = %domain_name, fencing_token, "claimed domain");
        return Ok(Some(Lease {
            operation_id,
            domain_name,
            owner: owner.to_owned(),
            fencing_token,
            expires_at,
            claims,
            took_over_from,
        }));
    }
    Ok(None)
}

/// Most domains one claim takes of one customer (see [`claim_customer_siblings`]).
pub const MAX_DOMAINS_PER_CLAIM: i64 = 32;

/// After `lease` was claimed: claims, for the same owner and duration, the other claimable work
/// items of the same operation whose domains are the same Google customer set up the same way
/// (one delegated admin and credential, one support org unit and portal role: a reseller
/// account's primary and secondary domains). Their org unit, custom role, subscription and users
/// are the customer's, so one observation of Google serves them all; claiming them together lets
/// the engine read the customer once per pass instead of once per domain.
///
/// Nobody else can claim them meanwhile: a live lease on a domain of the same delegated admin
/// keeps every other worker off the customer ([`claim_next_domain`]); a worker that is trying
/// anyway at this moment is waited for (the per-admin advisory lock, then its row locks). Claimable as in [`claim_next_domain`]; at most
/// [`MAX_DOMAINS_PER_CLAIM`] − 1 more. Empty when `lease` is no longer held.
pub async fn claim_customer_siblings(
    pool: &PgPool,
    lease: &Lease,
    lease_duration: Duration,
) -> Result<Vec<Lease>> {
    let mut tx = pool.begin().await?;
    // Waits (briefly) for a worker that is trying to claim one of the siblings right now: it
    // will find the customer busy and give up, and its row locks go with it. Claimers only ever
    // try these locks, so waiting here cannot deadlock.
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended( \
             'support-access/customer-admin/' || lower(delegated_admin), 0)) \
         FROM domains WHERE domain_name = $1",
    )
    .bind(&lease.domain_name)
    .execute(&mut *tx)
    .await?;
    #[derive(sqlx::FromRow)]
    struct Claimed {
        domain_name: String,
        fencing_token: i64,
        lease_expires_at: DateTime<Utc>,
        claims: i32,
        previous_owner: Option<String>,
    }
    let rows: Vec<Claimed> = sqlx::query_as(
        "WITH held AS ( \
             SELECT d.* FROM operation_domains mine \
             JOIN domains d ON d.domain_name = mine.domain_name \
             WHERE mine.operation_id = $1 AND mine.domain_name = $2 \
               AND mine.fencing_token = $3 AND mine.lease_owner = $4 \
               AND mine.lease_expires_at > clock_timestamp()), \
         siblings AS ( \
             SELECT od.domain_name, od.lease_owner AS previous_owner FROM operation_domains od \
             JOIN operations o ON o.id = od.operation_id \
             JOIN domains d ON d.domain_name = od.domain_name \
             JOIN held ON lower(held.delegated_admin) = lower(d.delegated_admin) \
                      AND held.credential = d.credential \
                      AND held.org_unit_path = d.org_unit_path \
                      AND held.role_mode = d.role_mode \
                      AND held.custom_role_name = d.custom_role_name \
             WHERE od.operation_id = $1 AND od.domain_name <> $2 \
               AND od.state IN ('PENDING', 'RUNNING') AND NOT o.done \
               AND (od.lease_expires_at IS NULL OR od.lease_expires_at <= clock_timestamp()) \
               AND (od.not_before IS NULL OR od.not_before <= clock_timestamp()) \
               AND NOT EXISTS (SELECT 1 FROM operation_domains busy \
                   WHERE busy.domain_name = od.domain_name \
                     AND busy.operation_id <> od.operation_id \
                     AND busy.lease_expires_at > clock_timestamp()) \
               AND NOT EXISTS (SELECT 1 FROM operation_domains older \
                   JOIN operations older_op ON older_op.id = older.operation_id \
                   WHERE older.domain_name = od.domain_name \
                     AND older.state IN ('PENDING', 'RUNNING') AND NOT older_op.done \
                     AND older_op.seq < o.seq \
                     AND (o.kind <> 'REVOKE' OR older_op.kind = 'REVOKE')) \
             ORDER BY od.domain_name \
             LIMIT $6 \
             FOR UPDATE OF od) \
         UPDATE operation_domains od SET lease_owner = $4, \
             lease_expires_at = clock_timestamp() + $5 * interval '1 millisecond', \
             fencing_token = fencing_token + 1, state = 'RUNNING', not_before = NULL, \
             claims = claims + 1, update_time = now() \
         FROM siblings \
         WHERE od.operation_id = $1 AND od.domain_name = siblings.domain_name \
         RETURNING od.domain_name, od.fencing_token, od.lease_expires_at, od.claims, \
             siblings.previous_owner",
    )
    .bind(lease.operation_id)
    .bind(&lease.domain_name)
    .bind(lease.fencing_token)
    .bind(&lease.owner)
    .bind(millis(lease_duration))
    .bind(MAX_DOMAINS_PER_CLAIM - 1)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut siblings: Vec<Lease> = rows
        .into_iter()
        .map(|row| Lease {
            operation_id: lease.operation_id,
            domain_name: row.domain_name,
            owner: lease.owner.clone(),
            fencing_token: row.fencing_token,
            expires_at: row.lease_expires_at,
            claims: row.claims,
            took_over_from: row.previous_owner,
        })
        .collect();
    siblings.sort_by(|a, b| a.domain_name.cmp(&b.domain_name));
    Ok(siblings)
}

/// Extends the lease by `lease_duration` from now and records the new expiry in `lease`.
/// [`StoreError::Fenced`] when another worker took the item over (or it was
/// released).
pub async fn renew_lease(
    conn: &mut PgConnection,
    lease: &mut Lease,
    lease_duration: Duration,
) -> Result<()> {
    let expires_at: Option<DateTime<Utc>> = sqlx::query_scalar(
        "UPDATE operation_domains \
         SET lease_expires_at = clock_timestamp() + $5 * interval '1 millisecond', \
             update_time = now() \
         WHERE operation_id = $1 AND domain_name = $2 AND fencing_token = $3 \
           AND lease_owner = $4 \
         RETURNING lease_expires_at",
    )
    .bind(lease.operation_id)
    .bind(&lease.domain_name)
    .bind(lease.fencing_token)
    .bind(&lease.owner)
    .bind(millis(lease_duration))
    .fetch_optional(conn)
    .await?;
    lease.expires_at = expires_at.ok_or_else(fenced)?;
    Ok(())
}

/// Gives the work item back. With a terminal `state` the domain is finished; with
/// [`RunState::Running`] (or `Pending`) it returns to the queue, claimable again after
/// `retry_after`. Returns true when this made every domain of the operation finished: the caller
/// then builds the outcome and calls [`finish`]. Exactly one of several workers releasing the
/// last domains of an operation at once sees true.
pub async fn release(
    conn: &mut PgConnection,
    lease: &Lease,
    state: RunState,
    message: &str,
    retry_after: Option<Duration>,
) -> Result<bool> {
    let mut tx = conn.begin().await?;
    let released = sqlx::query(
        "UPDATE operation_domains SET state = $4, message = $5, lease_owner = NULL, \
             lease_expires_at = NULL, \
             not_before = CASE WHEN $6::bigint IS NULL THEN NULL \
                               ELSE clock_timestamp() + $6 * interval '1 millisecond' END, \
             update_time = now() \
         WHERE operation_id = $1 AND domain_name = $2 AND fencing_token = $3 \
           AND lease_owner IS NOT NULL",
    )
    .bind(lease.operation_id)
    .bind(&lease.domain_name)
    .bind(lease.fencing_token)
    .bind(state.as_str())
    .bind(message)
    .bind(retry_after.map(millis))
    .execute(&mut *tx)
    .await?;
    if released.rows_affected() != 1 {
        return Err(fenced());
    }
    // Serializes releases of one operation: whoever releases last sees every domain finished.
    sqlx::query("SELECT 1 FROM operations WHERE id = $1 FOR NO KEY UPDATE")
        .bind(lease.operation_id)
        .execute(&mut *tx)
        .await?;
    let all_finished: bool = sqlx::query_scalar(
        "SELECT NOT EXISTS (SELECT 1 FROM operation_domains \
                            WHERE operation_id = $1 AND state IN ('PENDING', 'RUNNING'))",
    )
    .bind(lease.operation_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(all_finished && state.is_terminal())
}

/// Records what became of step `seq` of the leased domain. [`StoreError::Fenced`]
/// when the lease was taken over or released; [`StoreError::NotFound`] when the domain has no
/// such step. A lease that lapsed but was not taken over still writes.
pub async fn record_step(
    conn: &mut PgConnection,
    lease: &Lease,
    seq: i32,
    update: &StepUpdate<'_>,
) -> Result<StepRecord> {
    let record = sqlx::query_as(
        "WITH fence AS (SELECT 1 FROM operation_domains \
                        WHERE operation_id = $1 AND domain_name = $2 AND fencing_token = $3 \
                          AND lease_owner IS NOT NULL \
                        FOR SHARE) \
         UPDATE steps SET state = $5, detail = $6, \
                          google_effect = COALESCE($7, google_effect), \
                          attempts = attempts + $8, updated_at = now() \
         WHERE operation_id = $1 AND domain_name = $2 AND seq = $4 \
           AND EXISTS (SELECT 1 FROM fence) \
         RETURNING *",
    )
    .bind(lease.operation_id)
    .bind(&lease.domain_name)
    .bind(lease.fencing_token)
    .bind(seq)
    .bind(update.state.as_str())
    .bind(update.detail)
    .bind(update.google_effect)
    .bind(update.add_attempts)
    .fetch_optional(&mut *conn)
    .await?;
    match record {
        Some(record) => Ok(record),
        None => {
            check_fence(conn, lease).await?;
            Err(StoreError::NotFound)
        }
    }
}

/// What [`start_step`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepStart {
    /// The step is journaled RUNNING (one more attempt): its Google call may be sent.
    Started,
    /// The operation was cancelled: no further write may be sent.
    Cancelled,
    /// The lease lapses within `min_remaining`: a request started now could outlive it.
    LeaseTooShort,
}

/// Journals step `seq` RUNNING right before its Google call, only when the lease is still held,
/// will not lapse within `min_remaining` (by the database's clock), and the operation was not
/// cancelled: the check and the journal write are one statement, so a cancel acknowledged before
/// it stops this write. [`StoreError::Fenced`] when the lease was taken over.
pub async fn start_step(
    conn: &mut PgConnection,
    lease: &Lease,
    seq: i32,
    min_remaining: Duration,
) -> Result<StepStart> {
    let mut tx = conn.begin().await?;
    // Share locks: a claim (which updates the item) and a cancel (which updates the operation)
    // wait for this transaction, so they are ordered strictly before or after this write.
    let item: Option<(bool, bool)> = sqlx::query_as(
        "SELECT od.lease_expires_at > clock_timestamp() + $4 * interval '1 millisecond', \
                o.cancel_requested \
         FROM operation_domains od JOIN operations o ON o.id = od.operation_id \
         WHERE od.operation_id = $1 AND od.domain_name = $2 AND od.fencing_token = $3 \
           AND od.lease_owner = $5 \
         FOR SHARE OF od, o",
    )
    .bind(lease.operation_id)
    .bind(&lease.domain_name)
    .bind(lease.fencing_token)
    .bind(millis(min_remaining))
    .bind(&lease.owner)
    .fetch_optional(&mut *tx)
    .await?;
    let outcome = match item {
        None => return Err(fenced()),
        Some((_, true)) => StepStart::Cancelled,
        Some((false, false)) => StepStart::LeaseTooShort,
        Some((true, false)) => {
            let started = sqlx::query(
                "UPDATE steps SET state = 'RUNNING', detail = 'calling Google', \
                                  attempts = attempts + 1, updated_at = now() \
                 WHERE operation_id = $1 AND domain_name = $2 AND seq = $3",
            )
            .bind(lease.operation_id)
            .bind(&lease.domain_name)
            .bind(seq)
            .execute(&mut *tx)
            .await?;
            if started.rows_affected() != 1 {
                return Err(StoreError::NotFound);
            }
            StepStart::Started
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

/// Whether `CancelOperation` was called for the operation.
pub async fn cancel_requested(conn: &mut PgConnection, operation_id: Uuid) -> Result<bool> {
    let cancelled: Option<bool> =
        sqlx::query_scalar("SELECT cancel_requested FROM operations WHERE id = $1")
            .bind(operation_id)
            .fetch_optional(conn)
            .await?;
    Ok(cancelled.unwrap_or(true))
}

/// Whether a revocation waits for `domain` behind the leased item (the engine then yields the
/// domain between passes, so that a revoke never waits behind a long provision).
pub async fn revoke_waiting(conn: &mut PgConnection, lease: &Lease) -> Result<bool> {
    let waiting: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM operation_domains od JOIN operations o ON o.id = od.operation_id \
                        WHERE od.domain_name = $1 AND od.operation_id <> $2 AND o.kind = 'REVOKE' \
                          AND od.state IN ('PENDING', 'RUNNING') AND NOT o.done)",
    )
    .bind(&lease.domain_name)
    .bind(lease.operation_id)
    .fetch_one(conn)
    .await?;
    Ok(waiting)
}

/// Records, for the leased domain, what became of the accounts that no journal step tells
/// about (a JSON object by account e-mail, chosen by the engine). Fenced like [`record_step`].
pub async fn record_account_results(
    conn: &mut PgConnection,
    lease: &Lease,
    results: &(impl serde::Serialize + Sync),
) -> Result<()> {
    let updated = sqlx::query(
        "UPDATE operation_domains SET account_results = $4, update_time = now() \
         WHERE operation_id = $1 AND domain_name = $2 AND fencing_token = $3 \
           AND lease_owner IS NOT NULL",
    )
    .bind(lease.operation_id)
    .bind(&lease.domain_name)
    .bind(lease.fencing_token)
    .bind(sqlx::types::Json(results))
    .execute(conn)
    .await?;
    if updated.rows_affected() == 1 {
        Ok(())
    } else {
        Err(fenced())
    }
}

/// The principal of the operations the service starts on its own reconcile interval.
pub const RECONCILER: &str = "system:reconciler";

/// Starts a RECONCILE operation for up to `limit` domains that are due: their
/// `next_reconcile_time` passed (a domain never reconciled is due `interval` after it was
/// declared) and no unfinished operation covers them. Each gets its next time `interval` from now
/// with ±20 % jitter, so replicas and domains spread out. Safe to call from every replica at
/// once (`FOR UPDATE SKIP LOCKED`). Returns the operations created.
pub async fn schedule_due_reconciles(
    conn: &mut PgConnection,
    interval: Duration,
    limit: i64,
) -> Result<Vec<Uuid>> {
    let mut tx = conn.begin().await?;
    let due: Vec<String> = sqlx::query_scalar(
        "SELECT d.domain_name FROM domains d \
         WHERE COALESCE(d.next_reconcile_time, d.create_time + $1 * interval '1 millisecond') \
               <= clock_timestamp() \
           AND NOT EXISTS (SELECT 1 FROM operation_domains od \
                           JOIN operations o ON o.id = od.operation_id \
                           WHERE od.domain_name = d.domain_name AND NOT o.done) \
         ORDER BY d.next_reconcile_time NULLS FIRST, d.domain_name \
         LIMIT $2 \
         FOR UPDATE OF d SKIP LOCKED",
    )
    .bind(millis(interval))
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let mut created = Vec::with_capacity(due.len());
    for domain in due {
        let id = Uuid::now_v7();
        create(
            &mut tx,
            &NewOperation {
                id,
                kind: OperationKind::Reconcile,
                principal: RECONCILER.to_owned(),
                request_id: None,
                request: serde_json::json!({ "domains": [domain], "staff_members": [] }),
                validate_only: false,
                domains: vec![domain.clone()],
                steps: Vec::new(),
                trace_parent: None,
            },
        )
        .await?;
        sqlx::query(
            "UPDATE domains SET next_reconcile_time = clock_timestamp() \
                 + $2 * (0.8 + 0.4 * random()) * interval '1 millisecond' \
             WHERE domain_name = $1",
        )
        .bind(&domain)
        .bind(millis(interval))
        .execute(&mut *tx)
        .await?;
        created.push(id);
    }
    tx.commit().await?;
    Ok(created)
}

/// Records that a reconcile operation finished for `domain`.
pub async fn reconciled(conn: &mut PgConnection, domain: &str) -> Result<()> {
    sqlx::query(
        "UPDATE domains SET last_reconcile_time = clock_timestamp() WHERE domain_name = $1",
    )
    .bind(domain)
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds steps found while working (for example removing a paid license that appeared) at the end
/// of the plan. Every step must be in the leased domain. Fenced like [`record_step`]. Returns
/// the steps' `seq`, in order.
pub async fn append_steps(
    conn: &mut PgConnection,
    lease: &Lease,
    steps: &[NewStep],
) -> Result<Vec<i32>> {
    if steps.iter().any(|s| s.domain_name != lease.domain_name) {
        return Err(StoreError::InvalidValue(
            "step outside the leased domain".to_owned(),
        ));
    }
    let mut tx = conn.begin().await?;
    check_fence_locked(&mut tx, lease).await?;
    // The operation's row lock makes `seq` allocation safe against other domains appending.
    let next_seq: i32 = sqlx::query_scalar(
        "WITH locked AS (SELECT id FROM operations WHERE id = $1 FOR NO KEY UPDATE) \
         SELECT COALESCE(max(seq), 0) + 1 FROM steps \
         WHERE operation_id = (SELECT id FROM locked)",
    )
    .bind(lease.operation_id)
    .fetch_one(&mut *tx)
    .await?;
    insert_steps(&mut tx, lease.operation_id, next_seq, steps).await?;
    tx.commit().await?;
    let count = i32::try_from(steps.len())
        .map_err(|_| StoreError::InvalidValue("too many steps".to_owned()))?;
    Ok((next_seq..next_seq + count).collect())
}

/// Marks every pending or running step of the leased domain cancelled, with `detail`; returns
/// how many. Fenced like [`record_step`].
pub async fn cancel_open_steps(
    conn: &mut PgConnection,
    lease: &Lease,
    detail: &str,
) -> Result<u64> {
    let mut tx = conn.begin().await?;
    check_fence_locked(&mut tx, lease).await?;
    let cancelled = sqlx::query(
        "UPDATE steps SET state = 'CANCELLED', detail = $3, updated_at = now() \
         WHERE operation_id = $1 AND domain_name = $2 AND state IN ('PENDING', 'RUNNING')",
    )
    .bind(lease.operation_id)
    .bind(&lease.domain_name)
    .bind(detail)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(cancelled.rows_affected())
}

/// Every step of the operation, in plan order.
pub async fn steps(conn: &mut PgConnection, operation_id: Uuid) -> Result<Vec<StepRecord>> {
    let rows = sqlx::query_as("SELECT * FROM steps WHERE operation_id = $1 ORDER BY seq")
        .bind(operation_id)
        .fetch_all(conn)
        .await?;
    Ok(rows)
}

/// The steps of one domain of the operation, in plan order.
pub async fn domain_steps(
    conn: &mut PgConnection,
    operation_id: Uuid,
    domain_name: &str,
) -> Result<Vec<StepRecord>> {
    let rows = sqlx::query_as(
        "SELECT * FROM steps WHERE operation_id = $1 AND domain_name = $2 ORDER BY seq",
    )
    .bind(operation_id)
    .bind(domain_name)
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// The outline of every step of one domain of an operation, in plan order.
pub async fn domain_step_outlines(
    conn: &mut PgConnection,
    operation_id: Uuid,
    domain_name: &str,
) -> Result<Vec<StepOutline>> {
    let rows = sqlx::query_as(
        "SELECT account_email, staff_member_id, action, state, detail FROM steps \
         WHERE operation_id = $1 AND domain_name = $2 ORDER BY seq",
    )
    .bind(operation_id)
    .bind(domain_name)
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// The first `limit` steps of one domain of an operation, in plan order.
pub async fn first_domain_steps(
    conn: &mut PgConnection,
    operation_id: Uuid,
    domain_name: &str,
    limit: usize,
) -> Result<Vec<StepRecord>> {
    let rows = sqlx::query_as(
        "SELECT * FROM steps WHERE operation_id = $1 AND domain_name = $2 ORDER BY seq LIMIT $3",
    )
    .bind(operation_id)
    .bind(domain_name)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// The work items of the operation, by domain name.
pub async fn domains(conn: &mut PgConnection, operation_id: Uuid) -> Result<Vec<DomainWorkRecord>> {
    // Not the account results: an operation of 200 domains x 500 accounts holds 100,000 of
    // them; [`account_results`] reads one domain's.
    let rows = sqlx::query_as(
        "SELECT operation_id, domain_name, state, message, lease_owner, lease_expires_at, \
                fencing_token, not_before, update_time, claims \
         FROM operation_domains WHERE operation_id = $1 ORDER BY domain_name",
    )
    .bind(operation_id)
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// What became of the accounts of one domain of an operation that no journal step tells about
/// (recorded by [`record_account_results`]): a JSON object by account e-mail, empty when none
/// was recorded.
pub async fn account_results(
    conn: &mut PgConnection,
    operation_id: Uuid,
    domain_name: &str,
) -> Result<Value> {
    let results: Option<Value> = sqlx::query_scalar(
        "SELECT account_results FROM operation_domains \
         WHERE operation_id = $1 AND domain_name = $2",
    )
    .bind(operation_id)
    .bind(domain_name)
    .fetch_optional(conn)
    .await?;
    Ok(results.unwrap_or_else(|| Value::Object(Default::default())))
}

/// Per domain of the operation (by name): its state and step counts per state.
pub async fn progress(conn: &mut PgConnection, operation_id: Uuid) -> Result<Vec<DomainProgress>> {
    // A finished operation's counts were kept when it finished: no step is read then.
    let rows = sqlx::query_as(
        "SELECT od.domain_name, od.state, od.message, \
                coalesce((od.step_counts->>'pending')::bigint, c.pending) AS pending, \
                coalesce((od.step_counts->>'running')::bigint, c.running) AS running, \
                coalesce((od.step_counts->>'done')::bigint, c.done) AS done, \
                coalesce((od.step_counts->>'skipped')::bigint, c.skipped) AS skipped, \
                coalesce((od.step_counts->>'failed')::bigint, c.failed) AS failed, \
                coalesce((od.step_counts->>'cancelled')::bigint, c.cancelled) AS cancelled \
         FROM operation_domains od \
         LEFT JOIN LATERAL ( \
             SELECT count(*) FILTER (WHERE s.state = 'PENDING') AS pending, \
                    count(*) FILTER (WHERE s.state = 'RUNNING') AS running, \
                    count(*) FILTER (WHERE s.state = 'DONE') AS done, \
                    count(*) FILTER (WHERE s.state = 'SKIPPED') AS skipped, \
                    count(*) FILTER (WHERE s.state = 'FAILED') AS failed, \
                    count(*) FILTER (WHERE s.state = 'CANCELLED') AS cancelled \
             FROM steps s \
             WHERE od.step_counts IS NULL \
               AND s.operation_id = od.operation_id AND s.domain_name = od.domain_name) c ON true \
         WHERE od.operation_id = $1 \
         ORDER BY od.domain_name",
    )
    .bind(operation_id)
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

fn fenced() -> StoreError {
    StoreError::Fenced
}

/// Fails with `fenced` unless `lease` still holds the item: its token is the current one and the
/// item was not released since.
async fn check_fence(conn: &mut PgConnection, lease: &Lease) -> Result<()> {
    let held: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM operation_domains \
                        WHERE operation_id = $1 AND domain_name = $2 AND fencing_token = $3 \
                          AND lease_owner IS NOT NULL)",
    )
    .bind(lease.operation_id)
    .bind(&lease.domain_name)
    .bind(lease.fencing_token)
    .fetch_one(conn)
    .await?;
    if held { Ok(()) } else { Err(fenced()) }
}

/// Like [`check_fence`], holding a share lock on the work item until the transaction ends.
async fn check_fence_locked(conn: &mut PgConnection, lease: &Lease) -> Result<()> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM operation_domains \
         WHERE operation_id = $1 AND domain_name = $2 AND fencing_token = $3 \
           AND lease_owner IS NOT NULL \
         FOR SHARE",
    )
    .bind(lease.operation_id)
    .bind(&lease.domain_name)
    .bind(lease.fencing_token)
    .fetch_optional(conn)
    .await?;
    found.map(|_| ()).ok_or_else(fenced)
}

/// Operations left unfinished although every work item is finished: the worker that released
/// the last domain failed (crash, lost connection) before it finished the operation, which is a
/// separate transaction. Without a sweep such an operation would stay undone forever and
/// `WaitOperation` would never complete. Returns up to `limit` ids, oldest first, whose last work
/// item changed more than `grace` ago, so that a sweep does not race the worker that is finishing
/// the operation right now (finishing twice is harmless, only wasted work).
pub async fn stranded(conn: &mut PgConnection, grace: Duration, limit: i64) -> Result<Vec<Uuid>> {
    let ids = sqlx::query_scalar(
        "SELECT o.id FROM operations o \
         WHERE NOT o.done \
           AND EXISTS (SELECT 1 FROM operation_domains od WHERE od.operation_id = o.id) \
           AND NOT EXISTS (SELECT 1 FROM operation_domains od \
                           WHERE od.operation_id = o.id \
                             AND (od.state IN ('PENDING', 'RUNNING') \
                                  OR od.update_time > now() - $1 * interval '1 millisecond')) \
         ORDER BY o.seq LIMIT $2",
    )
    .bind(millis(grace))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(ids)
}

/// What [`cancel_now_or_flag`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum Cancellation {
    /// The operation was already finished: nothing changed.
    AlreadyDone(OperationRecord),
    /// A worker holds a live lease on one of its domains: only `cancel_requested` was set, and
    /// that worker stops before its next write.
    Flagged(OperationRecord),
    /// No worker held a live lease: every unfinished domain and every pending or running step
    /// is now CANCELLED in the caller's transaction, and `cancel_requested` is set. The caller
    /// finishes the operation ([`finish`] with [`Outcome::Cancelled`]) in the same transaction.
    Cancelled(OperationRecord),
}

/// Cancels an operation: at once when none of its domains is leased right now, else by setting
/// `cancel_requested` for the worker that holds the lease. Run it in a transaction and, on
/// [`Cancellation::Cancelled`], finish the operation before committing, so that nobody ever sees
/// cancelled domains under an unfinished operation (the sweep of [`stranded`] covers a crash in
/// between anyway). [`StoreError::NotFound`] for an unknown id.
///
/// Waiting for a worker would let a cancel hang behind a domain that is waiting to retry, or
/// behind an older operation on the same domain. A lapsed lease that nobody took over counts as
/// not running: its holder is paused or gone, so its claim is dropped and its fencing token
/// raised, and any write it still tries is refused as fenced.
pub async fn cancel_now_or_flag(
    conn: &mut PgConnection,
    id: Uuid,
    detail: &str,
) -> Result<Cancellation> {
    let mut tx = conn.begin().await?;
    // Lock order of the module: work items, then the operation, then steps. The item locks wait
    // for a journal write in flight (it holds a share lock) and keep claimers away until commit.
    let live_leases: Vec<bool> = sqlx::query_scalar(
        "SELECT lease_owner IS NOT NULL AND lease_expires_at > clock_timestamp() \
         FROM operation_domains WHERE operation_id = $1 ORDER BY domain_name FOR UPDATE",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let Some(record) = sqlx::query_as::<_, OperationRecord>(
        "SELECT * FROM operations WHERE id = $1 FOR NO KEY UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Err(StoreError::NotFound);
    };
    if record.done {
        tx.commit().await?;
        return Ok(Cancellation::AlreadyDone(record));
    }
    let running = live_leases.iter().any(|live| *live);
    let closed = if running {
        0
    } else {
        sqlx::query(
            "UPDATE operation_domains SET state = 'CANCELLED', message = $2, \
                 fencing_token = fencing_token + CASE WHEN lease_owner IS NULL THEN 0 ELSE 1 END, \
                 lease_owner = NULL, lease_expires_at = NULL, not_before = NULL, \
                 update_time = now() \
             WHERE operation_id = $1 AND state IN ('PENDING', 'RUNNING')",
        )
        .bind(id)
        .bind(detail)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    };
    let record: OperationRecord = sqlx::query_as(
        "UPDATE operations SET cancel_requested = true, update_time = now() \
         WHERE id = $1 RETURNING *",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if closed == 0 {
        // Running, or every domain already finished (an operation waiting for its finish, which
        // the worker or the sweep of `stranded` completes from the journal).
        tx.commit().await?;
        return Ok(Cancellation::Flagged(record));
    }
    sqlx::query(
        "UPDATE steps SET state = 'CANCELLED', detail = $2, updated_at = now() \
         WHERE operation_id = $1 AND state IN ('PENDING', 'RUNNING')",
    )
    .bind(id)
    .bind(detail)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Cancellation::Cancelled(record))
}
