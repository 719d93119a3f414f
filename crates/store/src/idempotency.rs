//! Request ids of mutating calls (AIP-155). A call claims its id in the same transaction that
//! makes its effect and stores its response before committing; a retry then replays that
//! response, and the same id with another request is refused. A transaction that rolls back
//! takes its claim with it, so a failed call can be retried under the same id.
//!
//! Two concurrent calls with one id: the second `INSERT` waits on the unique index until the
//! first transaction ends, then sees its committed row (replay) or, after a rollback, inserts
//! its own (new).
//!
//! Keys are kept for a documented retention ([`DEFAULT_RETENTION`], seven days, configurable but
//! never below [`MIN_RETENTION`]) and then purged in bounded batches ([`purge_expired`]); a
//! request id reused after its purge counts as new.

use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use crate::{Result, StoreError, millis};

/// Keys younger than this are never purged, whatever age the caller asks for.
pub const MIN_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// How long keys are kept by default (AIP-155 asks for a documented retention): seven days, so a
/// client that retries after a weekend or a long incident still gets its first answer replayed,
/// while the table stays small (one row per mutating call).
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// What a claim found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The id is new and now claimed by the caller's transaction: carry out the call, then
    /// [`complete`] it before committing.
    New,
    /// A call with this id, method and request completed before: return its response unchanged.
    Replay {
        /// The response as given to [`complete`].
        response: Vec<u8>,
    },
    /// The id was used with another method or another request: refuse the call.
    Mismatch,
    /// The same call was accepted before but left no response to replay (its transaction
    /// committed without [`complete`], as a method that never replays does, for example
    /// `IssueSignInCredential`).
    Pending,
}

/// SHA-256, hex, of the canonical request bytes (for example the encoded protobuf request with
/// `request_id` cleared).
pub fn fingerprint(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Claims `request_id` for `method` and the request with `fingerprint` (from [`fingerprint`]).
pub async fn claim(
    conn: &mut PgConnection,
    request_id: &str,
    method: &str,
    fingerprint: &str,
) -> Result<Claim> {
    // Two rounds: a key purged between our conflict and our read is simply claimed again.
    for _ in 0..2 {
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (request_id, method, request_fingerprint) \
             VALUES ($1, $2, $3) ON CONFLICT (request_id) DO NOTHING",
        )
        .bind(request_id)
        .bind(method)
        .bind(fingerprint)
        .execute(&mut *conn)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Claim::New);
        }
        let existing: Option<(String, String, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT method, request_fingerprint, response FROM idempotency_keys \
             WHERE request_id = $1",
        )
        .bind(request_id)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some((stored_method, stored_fingerprint, response)) = existing {
            if stored_method != method || stored_fingerprint != fingerprint {
                return Ok(Claim::Mismatch);
            }
            return Ok(match response {
                Some(response) => Claim::Replay { response },
                None => Claim::Pending,
            });
        }
    }
    Err(StoreError::Conflict(
        "idempotency key vanished while claimed".to_owned(),
    ))
}

/// Stores the response of the call that claimed `request_id`, for replay. A second completion
/// is a [`StoreError::Conflict`]; an unclaimed id is [`StoreError::NotFound`].
pub async fn complete(conn: &mut PgConnection, request_id: &str, response: &[u8]) -> Result<()> {
    let updated = sqlx::query(
        "UPDATE idempotency_keys SET response = $2, complete_time = now() \
         WHERE request_id = $1 AND response IS NULL",
    )
    .bind(request_id)
    .bind(response)
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() == 1 {
        return Ok(());
    }
    let exists = sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM idempotency_keys WHERE request_id = $1)",
    )
    .bind(request_id)
    .fetch_one(conn)
    .await?;
    if exists {
        Err(StoreError::Conflict("request already completed".to_owned()))
    } else {
        Err(StoreError::NotFound)
    }
}

/// Gives back a claim that has no response yet: the call that claimed `request_id` (with this
/// method and request) failed without an effect, so a retry with the same id may run as new. For
/// methods that claim in a short transaction of their own and make their effect outside it (an
/// external call that must not hold a transaction open). Returns whether a claim was removed; a
/// completed claim, or one of another call, is left alone.
pub async fn release(
    conn: &mut PgConnection,
    request_id: &str,
    method: &str,
    fingerprint: &str,
) -> Result<bool> {
    let deleted = sqlx::query(
        "DELETE FROM idempotency_keys \
         WHERE request_id = $1 AND method = $2 AND request_fingerprint = $3 \
           AND response IS NULL",
    )
    .bind(request_id)
    .bind(method)
    .bind(fingerprint)
    .execute(conn)
    .await?;
    Ok(deleted.rows_affected() == 1)
}

/// Deletes keys claimed more than `age` ago (at least [`MIN_RETENTION`]); returns how many.
pub async fn purge_older_than(conn: &mut PgConnection, age: Duration) -> Result<u64> {
    let age = age.max(MIN_RETENTION);
    let deleted = sqlx::query(
        "DELETE FROM idempotency_keys WHERE create_time < now() - $1 * interval '1 millisecond'",
    )
    .bind(millis(age))
    .execute(conn)
    .await?;
    Ok(deleted.rows_affected())
}

/// Deletes at most `limit` of the keys claimed more than `retention` ago (at least
/// [`MIN_RETENTION`]), oldest first; returns how many. Call it again while it returns `limit`:
/// small batches keep each transaction and its locks short, and replicas purging at the same time
/// skip each other's rows instead of waiting.
pub async fn purge_expired(
    conn: &mut PgConnection,
    retention: Duration,
    limit: i64,
) -> Result<u64> {
    let retention = retention.max(MIN_RETENTION);
    let deleted = sqlx::query(
        "DELETE FROM idempotency_keys WHERE request_id IN ( \
             SELECT request_id FROM idempotency_keys \
             WHERE create_time < now() - $1 * interval '1 millisecond' \
             ORDER BY create_time LIMIT $2 FOR UPDATE SKIP LOCKED)",
    )
    .bind(millis(retention))
    .bind(limit.max(1))
    .execute(conn)
    .await?;
    Ok(deleted.rows_affected())
}
