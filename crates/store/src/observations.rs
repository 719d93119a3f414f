//! The last observation of each domain in Google (its domain-level checks), which
//! `GetDomainStatus` serves without asking Google again. An older observation never replaces a
//! newer one, so concurrent observers cannot roll the status back.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use sqlx::types::Json;

use crate::Result;

/// A stored observation.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct ObservationRecord {
    /// The domain.
    pub domain_name: String,
    /// The domain-level checks (JSON chosen by the server).
    pub observed: Value,
    /// When Google was observed.
    pub observe_time: DateTime<Utc>,
}

/// Stores an observation unless a newer one is stored; returns whether it was stored.
/// [`crate::StoreError::ReferenceNotFound`]`("domain_observations_domain_fkey")` when the domain
/// is not declared. `observed` is serialized straight into the query (a whole domain's
/// observation need not be built as a `serde_json::Value` first).
pub async fn save(
    conn: &mut PgConnection,
    domain_name: &str,
    observed: &(impl Serialize + Sync),
    observe_time: DateTime<Utc>,
) -> Result<bool> {
    let saved = sqlx::query(
        "INSERT INTO domain_observations (domain_name, observed, observe_time) \
         VALUES ($1, $2, $3) \
         ON CONFLICT (domain_name) DO UPDATE \
             SET observed = EXCLUDED.observed, observe_time = EXCLUDED.observe_time \
             WHERE domain_observations.observe_time <= EXCLUDED.observe_time",
    )
    .bind(domain_name)
    .bind(Json(observed))
    .bind(observe_time)
    .execute(conn)
    .await?;
    Ok(saved.rows_affected() == 1)
}

/// The last observation of the domain, if any.
pub async fn get(conn: &mut PgConnection, domain_name: &str) -> Result<Option<ObservationRecord>> {
    let record = sqlx::query_as("SELECT * FROM domain_observations WHERE domain_name = $1")
        .bind(domain_name)
        .fetch_optional(conn)
        .await?;
    Ok(record)
}
