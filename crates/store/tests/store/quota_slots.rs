//! Slots of a project-wide Google quota reserved by several replicas at once: every slot is a
//! full interval after the previous one, whoever reserved it, and a refusal pushes them all back.

use std::time::Duration;

use sqlx::PgPool;
use support_access_store::quota_slots;

const INTERVAL: Duration = Duration::from_millis(1025);

#[sqlx::test(migrations = "../../migrations")]
async fn concurrent_reservations_get_slots_one_interval_apart(pool: PgPool) {
    // Two "replicas": reservations from 16 connections at once, as fast as they can.
    let mut reservations = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let pool = pool.clone();
        reservations.spawn(async move {
            let mut conn = pool.acquire().await.unwrap();
            quota_slots::reserve(&mut conn, "licensing/p1", INTERVAL)
                .await
                .unwrap()
        });
    }
    let mut slots = reservations.join_all().await;
    slots.sort_by_key(|slot| slot.at_micros);
    assert_eq!(
        slots[0].wait,
        Duration::ZERO,
        "an idle quota's first slot is now"
    );
    for pair in slots.windows(2) {
        assert_eq!(
            pair[1].at_micros - pair[0].at_micros,
            1_025_000,
            "each slot one interval after the previous one"
        );
    }
    // The last of 16 waits about 15 intervals (less the time the reservations took).
    let last = slots[15].wait;
    assert!(
        last > INTERVAL * 14 && last <= INTERVAL * 15,
        "the 16th slot is {last:?} away"
    );

    // Another quota is paced on its own.
    let mut conn = pool.acquire().await.unwrap();
    let other = quota_slots::reserve(&mut conn, "reseller/p1", INTERVAL)
        .await
        .unwrap();
    assert_eq!(other.wait, Duration::ZERO);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_pause_moves_the_next_slot_back_but_never_forward(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    quota_slots::pause(&mut conn, "licensing/p1", Duration::from_secs(5))
        .await
        .unwrap();
    let slot = quota_slots::reserve(&mut conn, "licensing/p1", INTERVAL)
        .await
        .unwrap();
    assert!(
        slot.wait > Duration::from_millis(4900) && slot.wait <= Duration::from_secs(5),
        "{:?}",
        slot.wait
    );
    // A shorter pause does not bring the slots already given out closer.
    quota_slots::pause(&mut conn, "licensing/p1", Duration::from_secs(1))
        .await
        .unwrap();
    let next = quota_slots::reserve(&mut conn, "licensing/p1", INTERVAL)
        .await
        .unwrap();
    assert_eq!(next.at_micros - slot.at_micros, 1_025_000);
}
