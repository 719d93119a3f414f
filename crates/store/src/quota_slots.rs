//! The slots of Google quotas shared by every replica: a quota Google counts for the whole
//! Cloud project (Licensing allows 1 query per second with no burst) is paced here, in one row
//! per quota, instead of by each replica on its own. Two replicas pacing 1 QPS each on their own
//! are two uncoordinated streams on one bucket: their calls land less than a second apart and
//! Google refuses one of them.
//!
//! A call reserves the next free slot with one statement ([`reserve`]) and sleeps until it; a
//! refusal from Google pushes every replica's next slot back ([`pause`]). Time is the database's
//! clock, the one clock every replica shares.

use std::time::Duration;

use sqlx::PgConnection;

use crate::Result;

/// One reserved slot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slot {
    /// How long from the database's "now" until the slot (zero when the quota was idle).
    pub wait: Duration,
    /// The slot, in microseconds since the Unix epoch (database clock).
    pub at_micros: i64,
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// Reserves the next slot of `quota` for a request that uses `interval` of it: the slot is the
/// later of now and the quota's next free slot, and the next free slot moves `interval` past it.
pub async fn reserve(conn: &mut PgConnection, quota: &str, interval: Duration) -> Result<Slot> {
    let (wait_micros, at_micros): (i64, i64) = sqlx::query_as(
        "WITH clock AS (SELECT clock_timestamp() AS now) \
         INSERT INTO quota_slots AS q (quota, next_slot) \
         SELECT $1, clock.now + $2 * interval '1 microsecond' FROM clock \
         ON CONFLICT (quota) DO UPDATE SET next_slot = \
           greatest(q.next_slot, (SELECT now FROM clock)) + $2 * interval '1 microsecond' \
         RETURNING \
           (extract(epoch FROM q.next_slot - (SELECT now FROM clock)) * 1000000)::bigint - $2, \
           (extract(epoch FROM q.next_slot) * 1000000)::bigint - $2",
    )
    .bind(quota)
    .bind(micros(interval))
    .fetch_one(&mut *conn)
    .await?;
    Ok(Slot {
        wait: Duration::from_micros(u64::try_from(wait_micros).unwrap_or(0)),
        at_micros,
    })
}

/// Google refused a request of `quota` as too fast: no replica gets a slot before `pause` from
/// now.
pub async fn pause(conn: &mut PgConnection, quota: &str, pause: Duration) -> Result<()> {
    sqlx::query(
        "INSERT INTO quota_slots AS q (quota, next_slot) \
         VALUES ($1, clock_timestamp() + $2 * interval '1 microsecond') \
         ON CONFLICT (quota) DO UPDATE SET next_slot = \
           greatest(q.next_slot, clock_timestamp() + $2 * interval '1 microsecond')",
    )
    .bind(quota)
    .bind(micros(pause))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
