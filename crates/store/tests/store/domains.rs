//! Domains: round trip, natural-key uniqueness, etag guards, keyset paging.

use sqlx::PgPool;
use support_access_domain::RoleMode;
use support_access_store::domains::{self, DomainChanges};
use support_access_store::{Result, StoreError};

use crate::new_domain;

#[sqlx::test(migrations = "../../migrations")]
async fn insert_get_update_delete_round_trip(pool: PgPool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    let created = domains::insert(&mut conn, &new_domain("reseller.example")).await?;
    assert_eq!(created.domain_name, "reseller.example");
    assert_eq!(created.role_mode, RoleMode::CustomRole);
    assert_eq!(created.customer_id, None);
    assert_eq!(created.revision, 1);
    assert_eq!(created.create_time, created.update_time);

    let fetched = domains::get(&mut conn, "reseller.example").await?;
    assert_eq!(fetched.as_ref(), Some(&created));
    assert_eq!(domains::get(&mut conn, "other.example").await?, None);

    let changes = DomainChanges {
        display_name: Some("Renamed".to_owned()),
        role_mode: Some(RoleMode::ResellerAdmin),
        ..DomainChanges::default()
    };
    let updated = domains::update(
        &mut conn,
        "reseller.example",
        Some(&created.etag()),
        &changes,
    )
    .await?;
    assert_eq!(updated.display_name, "Renamed");
    assert_eq!(updated.role_mode, RoleMode::ResellerAdmin);
    assert_eq!(
        updated.credential, created.credential,
        "fields not named stay"
    );
    assert_eq!(updated.revision, 2);
    assert_ne!(updated.etag(), created.etag());

    // The customer id is observed, not declared: the etag stays.
    domains::set_customer_id(&mut conn, "reseller.example", Some("C0123abc")).await?;
    let observed = domains::get(&mut conn, "reseller.example").await?.unwrap();
    assert_eq!(observed.customer_id.as_deref(), Some("C0123abc"));
    assert_eq!(observed.etag(), updated.etag());

    domains::delete(&mut conn, "reseller.example", Some(&updated.etag())).await?;
    assert_eq!(domains::get(&mut conn, "reseller.example").await?, None);
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn duplicate_name_is_already_exists(pool: PgPool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    domains::insert(&mut conn, &new_domain("reseller.example")).await?;
    let err = domains::insert(&mut conn, &new_domain("reseller.example"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::AlreadyExists(c) if c == "domains_pkey"),
        "{err:?}"
    );
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn stale_or_foreign_etag_is_refused(pool: PgPool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    let created = domains::insert(&mut conn, &new_domain("reseller.example")).await?;
    let rename = DomainChanges {
        display_name: Some("A".to_owned()),
        ..Default::default()
    };
    domains::update(
        &mut conn,
        "reseller.example",
        Some(&created.etag()),
        &rename,
    )
    .await?;

    // The first etag is stale now, for update and for delete.
    let stale = created.etag();
    let err = domains::update(&mut conn, "reseller.example", Some(&stale), &rename).await;
    assert!(matches!(err, Err(StoreError::EtagMismatch)), "{err:?}");
    let err = domains::delete(&mut conn, "reseller.example", Some(&stale)).await;
    assert!(matches!(err, Err(StoreError::EtagMismatch)), "{err:?}");
    let err = domains::delete(&mut conn, "reseller.example", Some("\"garbage\"")).await;
    assert!(matches!(err, Err(StoreError::EtagMismatch)), "{err:?}");
    assert!(
        domains::get(&mut conn, "reseller.example").await?.is_some(),
        "still there"
    );

    // Without an etag the write is unconditional; a missing domain is NotFound either way.
    domains::update(&mut conn, "reseller.example", None, &rename).await?;
    let err = domains::update(&mut conn, "missing.example", Some(&stale), &rename).await;
    assert!(matches!(err, Err(StoreError::NotFound)), "{err:?}");
    let err = domains::delete(&mut conn, "missing.example", None).await;
    assert!(matches!(err, Err(StoreError::NotFound)), "{err:?}");
    let err = domains::set_customer_id(&mut conn, "missing.example", Some("C1")).await;
    assert!(matches!(err, Err(StoreError::NotFound)), "{err:?}");
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn recreated_domain_has_a_new_etag(pool: PgPool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    let first = domains::insert(&mut conn, &new_domain("reseller.example")).await?;
    domains::delete(&mut conn, "reseller.example", None).await?;
    let second = domains::insert(&mut conn, &new_domain("reseller.example")).await?;
    assert_eq!(second.revision, first.revision);
    assert_ne!(second.etag(), first.etag());
    let err = domains::delete(&mut conn, "reseller.example", Some(&first.etag())).await;
    assert!(matches!(err, Err(StoreError::EtagMismatch)), "{err:?}");
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn keyset_paging_visits_every_domain_once_in_order(pool: PgPool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    let mut expected: Vec<String> = (0..7).map(|i| format!("d{i}.example")).collect();
    // Insert out of order: the listing orders by name, not by insertion.
    for name in expected.iter().rev() {
        domains::insert(&mut conn, &new_domain(name)).await?;
    }
    expected.sort();

    let mut seen = Vec::new();
    let mut pages = 0;
    let mut after: Option<String> = None;
    loop {
        let page = domains::list(&mut conn, 3, after.as_deref()).await?;
        assert!(page.items.len() <= 3);
        pages += 1;
        seen.extend(page.items.into_iter().map(|d| d.domain_name));
        match page.next_key {
            Some(key) => after = Some(key),
            None => break,
        }
    }
    assert_eq!(seen, expected);
    assert_eq!(pages, 3, "7 items in pages of 3");

    // A page that ends exactly at the last item says there is no next page.
    let exact = domains::list(&mut conn, 7, None).await?;
    assert_eq!(exact.items.len(), 7);
    assert_eq!(exact.next_key, None);
    assert_eq!(domains::names(&mut conn).await?, expected);
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn repair_policy_is_declared_and_reconcile_times_are_not(pool: PgPool) -> Result<()> {
    use support_access_store::domains::RepairPolicy;
    let mut conn = pool.acquire().await?;
    let mut new = new_domain("reseller.example");
    new.repair_policy = RepairPolicy::ReportOnly;
    let created = domains::insert(&mut conn, &new).await?;
    assert_eq!(created.repair_policy, RepairPolicy::ReportOnly);
    assert_eq!(
        (created.last_reconcile_time, created.next_reconcile_time),
        (None, None)
    );
    let updated = domains::update(
        &mut conn,
        "reseller.example",
        Some(&created.etag()),
        &DomainChanges {
            repair_policy: Some(RepairPolicy::Repair),
            ..Default::default()
        },
    )
    .await?;
    assert_eq!(updated.repair_policy, RepairPolicy::Repair);
    assert_eq!(updated.revision, 2);
    // Other changes leave it.
    let renamed = domains::update(
        &mut conn,
        "reseller.example",
        None,
        &DomainChanges {
            display_name: Some("B".into()),
            ..Default::default()
        },
    )
    .await?;
    assert_eq!(renamed.repair_policy, RepairPolicy::Repair);
    // The schedule is not part of the declaration: the etag stays.
    sqlx::query("UPDATE domains SET next_reconcile_time = now(), last_reconcile_time = now()")
        .execute(&mut *conn)
        .await?;
    let scheduled = domains::get(&mut conn, "reseller.example").await?.unwrap();
    assert!(scheduled.next_reconcile_time.is_some() && scheduled.last_reconcile_time.is_some());
    assert_eq!(scheduled.etag(), renamed.etag());

    // Locking many returns the declared ones, by name.
    domains::insert(&mut conn, &new_domain("a.example")).await?;
    let locked = domains::lock_many(
        &mut conn,
        &[
            "reseller.example".into(),
            "zz.example".into(),
            "a.example".into(),
        ],
    )
    .await?;
    assert_eq!(
        locked
            .iter()
            .map(|d| d.domain_name.as_str())
            .collect::<Vec<_>>(),
        vec!["a.example", "reseller.example"]
    );
    Ok(())
}
