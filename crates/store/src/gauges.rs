//! The numbers the service's gauges show that only Postgres knows, each read in one bounded
//! query: steps of unfinished work by state, open drift per domain, and how overdue each
//! domain's reconciliation is. Every query touches live work or an index, never the whole
//! history.

use sqlx::PgConnection;

use crate::Result;

/// One reading of the database-backed gauges.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GaugeReading {
    /// Steps of operations still being worked on, by state (`PENDING`, `RUNNING`, …).
    pub live_steps_by_state: Vec<(String, i64)>,
    /// Open drift events per domain (domains without open drift are absent).
    pub open_drift_by_domain: Vec<(String, i64)>,
    /// Seconds past each domain's due reconciliation (0 when not yet due).
    pub reconcile_lag_by_domain: Vec<(String, f64)>,
}

/// Reads every gauge (three queries).
pub async fn read(conn: &mut PgConnection) -> Result<GaugeReading> {
    let live_steps_by_state = sqlx::query_as(
        "SELECT s.state, count(*) FROM operation_domains od \
         JOIN steps s ON s.operation_id = od.operation_id AND s.domain_name = od.domain_name \
         WHERE od.state IN ('PENDING', 'RUNNING') GROUP BY s.state ORDER BY s.state",
    )
    .fetch_all(&mut *conn)
    .await?;
    let open_drift_by_domain = sqlx::query_as(
        "SELECT domain_name, count(*) FROM drift_events WHERE resolve_time IS NULL \
         GROUP BY domain_name ORDER BY domain_name",
    )
    .fetch_all(&mut *conn)
    .await?;
    let reconcile_lag_by_domain = sqlx::query_as(
        "SELECT domain_name, \
         greatest(0, extract(epoch FROM now() - coalesce(next_reconcile_time, now())))::float8 \
         FROM domains ORDER BY domain_name",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(GaugeReading {
        live_steps_by_state,
        open_drift_by_domain,
        reconcile_lag_by_domain,
    })
}
