//! Drift events: one open event per (domain, kind, account), closing, listing with filters and
//! pages, and the status summaries.

use serde_json::json;
use sqlx::PgPool;
use support_access_store::drift::{self, DriftFilter, NewDrift};
use support_access_store::{Result, domains};

use crate::new_domain;

fn drift(domain: &str, kind: &str, account: &str) -> NewDrift {
    NewDrift {
        domain_name: domain.to_owned(),
        kind: kind.to_owned(),
        account_email: account.to_owned(),
        staff_member_id: Some("ana".to_owned()),
        detail: format!("{kind} of {account}"),
        evidence: json!({"role": "Customer Care Portal Access"}),
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn one_open_event_per_kind_and_account_until_resolved(pool: PgPool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    domains::insert(&mut conn, &new_domain("a.example")).await?;
    domains::insert(&mut conn, &new_domain("b.example")).await?;
    let seen = [
        drift("a.example", "ACCOUNT_ROLE_REMOVED", "ana@a.example"),
        drift("a.example", "ACCOUNT_SUSPENDED", "ana@a.example"),
        drift("b.example", "ACCOUNT_SUSPENDED", "ana@b.example"),
    ];
    let opened = drift::record_open(&mut conn, "a.example", &seen).await?;
    assert_eq!(opened.len(), 2, "only a.example's drift");
    assert!(
        opened
            .iter()
            .all(|d| d.is_open() && d.repair_operation.is_none())
    );
    assert_eq!(
        opened[0].evidence,
        json!({"role": "Customer Care Portal Access"})
    );
    // Seen again: nothing new opens.
    assert!(
        drift::record_open(&mut conn, "a.example", &seen)
            .await?
            .is_empty()
    );
    drift::record_open(&mut conn, "b.example", &seen).await?;

    // The role is back (repaired by an operation); the suspension is still there.
    let repair = uuid::Uuid::now_v7();
    let still = [("ACCOUNT_SUSPENDED".to_owned(), "ana@a.example".to_owned())];
    assert_eq!(
        drift::resolve_missing(&mut conn, "a.example", &still, Some(repair)).await?,
        1
    );
    let status = drift::for_domain_status(&mut conn, "a.example", 100, 20).await?;
    assert_eq!(status.open.len(), 1);
    assert_eq!(status.open[0].kind, "ACCOUNT_SUSPENDED");
    assert_eq!(status.recent_repairs.len(), 1);
    assert_eq!(status.recent_repairs[0].repair_operation, Some(repair));
    assert!(status.recent_repairs[0].resolve_time.is_some());
    assert_eq!(status.repairs_total, 1);
    let other = drift::for_domain_status(&mut conn, "b.example", 100, 20).await?;
    assert_eq!(
        (
            other.open.len(),
            other.recent_repairs.len(),
            other.repairs_total
        ),
        (1, 0, 0)
    );

    // The role goes again: a new event opens next to the closed one.
    let reopened = drift::record_open(&mut conn, "a.example", &seen[..1]).await?;
    assert_eq!(reopened.len(), 1);
    assert!(reopened[0].id > opened[1].id);
    // Nothing seen anymore and nothing repaired by the service: closed without an operation.
    assert_eq!(
        drift::resolve_missing(&mut conn, "a.example", &[], None).await?,
        2
    );
    let status = drift::for_domain_status(&mut conn, "a.example", 100, 20).await?;
    assert_eq!(
        (
            status.open.len(),
            status.recent_repairs.len(),
            status.repairs_total
        ),
        (0, 1, 1)
    );
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn listing_filters_and_pages_newest_first(pool: PgPool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    for d in ["a.example", "b.example"] {
        domains::insert(&mut conn, &new_domain(d)).await?;
        drift::record_open(
            &mut conn,
            d,
            &[
                drift(d, "ACCOUNT_ROLE_REMOVED", &format!("ana@{d}")),
                drift(d, "ACCOUNT_ROLE_REMOVED", &format!("bo@{d}")),
                drift(d, "ACCOUNT_SUSPENDED", &format!("bo@{d}")),
            ],
        )
        .await?;
    }
    drift::resolve_missing(
        &mut conn,
        "b.example",
        &[("ACCOUNT_SUSPENDED".to_owned(), "bo@b.example".to_owned())],
        None,
    )
    .await?;

    let mut after = None;
    let mut ids = Vec::new();
    loop {
        let page = drift::list(&mut conn, &DriftFilter::default(), 4, after).await?;
        ids.extend(page.items.iter().map(|d| d.id));
        after = page.next_key;
        if after.is_none() {
            break;
        }
    }
    assert_eq!(ids.len(), 6);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");

    let count = |filter: DriftFilter| {
        let pool = pool.clone();
        async move {
            let mut conn = pool.acquire().await?;
            Ok::<_, support_access_store::StoreError>(
                drift::list(&mut conn, &filter, 100, None).await?.items,
            )
        }
    };
    let closed = count(DriftFilter {
        open: Some(false),
        ..Default::default()
    })
    .await?;
    assert_eq!(
        closed
            .iter()
            .map(|d| d.account_email.as_str())
            .collect::<Vec<_>>(),
        vec!["bo@b.example", "ana@b.example"]
    );
    let role_a = count(DriftFilter {
        domain_name: Some("a.example".into()),
        kind: Some("ACCOUNT_ROLE_REMOVED".into()),
        open: Some(true),
        ..Default::default()
    })
    .await?;
    assert_eq!(role_a.len(), 2);
    let bo = count(DriftFilter {
        account: Some("bo@a.example".into()),
        ..Default::default()
    })
    .await?;
    assert_eq!(bo.len(), 2);
    let allowed = count(DriftFilter {
        allowed_domains: Some(vec!["b.example".into()]),
        ..Default::default()
    })
    .await?;
    assert!(allowed.iter().all(|d| d.domain_name == "b.example") && allowed.len() == 3);
    let none = count(DriftFilter {
        allowed_domains: Some(Vec::new()),
        ..Default::default()
    })
    .await?;
    assert!(none.is_empty());
    Ok(())
}
