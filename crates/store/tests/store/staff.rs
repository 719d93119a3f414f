//! Staff members: round trip, both unique keys, etag guards, keyset paging by username.

use sqlx::PgPool;
use support_access_store::staff::{self, StaffChanges};
use support_access_store::{Result, StoreError};

use crate::new_staff;

#[sqlx::test(migrations = "../../migrations")]
async fn insert_get_update_delete_round_trip(pool: PgPool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    let created = staff::insert(&mut conn, &new_staff("ana", "ana.silva")).await?;
    assert_eq!(created.username, "ana.silva");
    assert_eq!(staff::get(&mut conn, "ana").await?.as_ref(), Some(&created));
    assert_eq!(
        staff::get_by_username(&mut conn, "ana.silva")
            .await?
            .as_ref(),
        Some(&created)
    );

    let changes = StaffChanges {
        workspace_email: Some("ana@elsewhere.example".to_owned()),
        ..Default::default()
    };
    let updated = staff::update(&mut conn, "ana", Some(&created.etag()), &changes).await?;
    assert_eq!(updated.workspace_email, "ana@elsewhere.example");
    assert_eq!(updated.given_name, "Ana");
    assert_eq!(updated.revision, 2);

    let err = staff::update(&mut conn, "ana", Some(&created.etag()), &changes).await;
    assert!(matches!(err, Err(StoreError::EtagMismatch)), "{err:?}");
    let err = staff::delete(&mut conn, "ana", Some(&created.etag())).await;
    assert!(matches!(err, Err(StoreError::EtagMismatch)), "{err:?}");

    staff::delete(&mut conn, "ana", Some(&updated.etag())).await?;
    assert_eq!(staff::get(&mut conn, "ana").await?, None);
    let err = staff::delete(&mut conn, "ana", None).await;
    assert!(matches!(err, Err(StoreError::NotFound)), "{err:?}");
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn id_and_username_are_each_unique(pool: PgPool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    staff::insert(&mut conn, &new_staff("ana", "ana.silva")).await?;
    let err = staff::insert(&mut conn, &new_staff("ana", "other"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::AlreadyExists(c) if c == "staff_members_pkey"),
        "{err:?}"
    );
    let err = staff::insert(&mut conn, &new_staff("ana2", "ana.silva"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::AlreadyExists(c) if c == "staff_members_username_key"),
        "{err:?}"
    );
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn paging_orders_by_username_not_id(pool: PgPool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    // Ids and usernames sort in opposite orders.
    for (id, username) in [
        ("a", "zoe"),
        ("b", "yuri"),
        ("c", "xavier"),
        ("d", "walter"),
        ("e", "vera"),
    ] {
        staff::insert(&mut conn, &new_staff(id, username)).await?;
    }
    let first = staff::list(&mut conn, 2, None).await?;
    let names: Vec<_> = first.items.iter().map(|s| s.username.as_str()).collect();
    assert_eq!(names, ["vera", "walter"]);
    assert_eq!(first.next_key.as_deref(), Some("walter"));
    let second = staff::list(&mut conn, 2, first.next_key.as_deref()).await?;
    let names: Vec<_> = second.items.iter().map(|s| s.username.as_str()).collect();
    assert_eq!(names, ["xavier", "yuri"]);
    let third = staff::list(&mut conn, 2, second.next_key.as_deref()).await?;
    let names: Vec<_> = third.items.iter().map(|s| s.username.as_str()).collect();
    assert_eq!(names, ["zoe"]);
    assert_eq!(third.next_key, None);
    assert_eq!(staff::all(&mut conn).await?.len(), 5);
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn get_many_reads_in_the_order_asked_and_skips_unknown_ids(pool: PgPool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    let ana = staff::insert(&mut conn, &new_staff("ana", "ana.silva")).await?;
    let bo = staff::insert(&mut conn, &new_staff("bo", "bo.berg")).await?;
    let ids = ["bo", "nobody", "ana"].map(String::from);
    assert_eq!(staff::get_many(&mut conn, &ids).await?, vec![bo, ana]);
    assert!(staff::get_many(&mut conn, &[]).await?.is_empty());
    Ok(())
}
