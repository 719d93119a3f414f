//! Audit log: append, newest-first paging, filters.

use sqlx::PgPool;
use support_access_store::Result;
use support_access_store::audit::{self, AuditFilter, NewAuditEvent};

fn event(principal: &str, method: &str, domain: Option<&str>) -> NewAuditEvent {
    NewAuditEvent {
        principal: principal.to_owned(),
        method: method.to_owned(),
        request_id: Some("r".to_owned()),
        domain_name: domain.map(str::to_owned),
        target: "domains/x".to_owned(),
        outcome: "OK".to_owned(),
        detail: String::new(),
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn lists_newest_first_with_filters_and_pages(pool: PgPool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    let mut ids = Vec::new();
    for (principal, method, domain) in [
        ("alice", "CreateDomain", Some("a.example")),
        ("bob", "CreateDomain", Some("b.example")),
        ("alice", "DeleteDomain", Some("a.example")),
        ("system", "directory.users.insert", Some("a.example")),
        ("alice", "CreateStaffMember", None),
    ] {
        ids.push(
            audit::append(&mut conn, &event(principal, method, domain))
                .await?
                .id,
        );
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase");

    let all = audit::list(&mut conn, &AuditFilter::default(), 100, None).await?;
    let listed: Vec<i64> = all.items.iter().map(|e| e.id).collect();
    let newest_first: Vec<i64> = ids.iter().rev().copied().collect();
    assert_eq!(listed, newest_first);
    assert_eq!(all.next_key, None);

    let by = |method: Option<&str>, domain: Option<&str>, principal: Option<&str>| AuditFilter {
        method: method.map(str::to_owned),
        domain_name: domain.map(str::to_owned),
        principal: principal.map(str::to_owned),
    };
    let ids_of = |page: support_access_store::Page<audit::AuditRecord, i64>| {
        page.items.into_iter().map(|e| e.id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids_of(audit::list(&mut conn, &by(Some("CreateDomain"), None, None), 100, None).await?),
        [ids[1], ids[0]]
    );
    assert_eq!(
        ids_of(audit::list(&mut conn, &by(None, Some("a.example"), None), 100, None).await?),
        [ids[3], ids[2], ids[0]]
    );
    assert_eq!(
        ids_of(
            audit::list(
                &mut conn,
                &by(None, Some("a.example"), Some("alice")),
                100,
                None
            )
            .await?
        ),
        [ids[2], ids[0]]
    );

    // Pages of two over the alice events: 3 events, 2 pages.
    let alice = by(None, None, Some("alice"));
    let first = audit::list(&mut conn, &alice, 2, None).await?;
    assert_eq!(
        first.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        [ids[4], ids[2]]
    );
    assert_eq!(first.next_key, Some(ids[2]));
    let second = audit::list(&mut conn, &alice, 2, first.next_key).await?;
    assert_eq!(ids_of(second.clone()), [ids[0]]);
    assert_eq!(second.next_key, None);

    let stored = audit::get(&mut conn, ids[3]).await?.unwrap();
    assert_eq!(stored.method, "directory.users.insert");
    assert_eq!(stored.domain_name.as_deref(), Some("a.example"));
    assert_eq!(stored.request_id.as_deref(), Some("r"));
    Ok(())
}
