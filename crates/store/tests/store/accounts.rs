//! Desired support accounts, domain observations and manual confirmations.

use chrono::{Duration, Utc};
use serde_json::json;
use sqlx::PgPool;
use support_access_domain::lifecycle::RevokeMode;
use support_access_domain::observed::ManualStep;
use support_access_store::accounts::{self, AccountFilter, Desired, DesiredAccount};
use support_access_store::manual::{self, NewConfirmation};
use support_access_store::{Result, StoreError, domains, observations, staff};

use crate::{new_domain, new_staff};

fn desired(domain: &str, staff_id: &str, username: &str, desired: Desired) -> DesiredAccount {
    DesiredAccount {
        domain_name: domain.to_owned(),
        staff_member_id: staff_id.to_owned(),
        email: format!("{username}@{domain}"),
        desired,
    }
}

/// Declares domains `a.example`, `b.example`, `c.example` and staff `ana`, `bo`.
async fn declare(pool: &PgPool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    for d in ["a.example", "b.example", "c.example"] {
        domains::insert(&mut conn, &new_domain(d)).await?;
    }
    staff::insert(&mut conn, &new_staff("ana", "ana")).await?;
    staff::insert(&mut conn, &new_staff("bo", "bo")).await?;
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn upsert_records_and_changes_the_desired_state(pool: PgPool) -> Result<()> {
    declare(&pool).await?;
    let mut conn = pool.acquire().await?;
    let created = accounts::upsert(
        &mut conn,
        &desired("a.example", "ana", "ana", Desired::Active),
    )
    .await?;
    assert_eq!(created.email, "ana@a.example");
    assert_eq!(
        (created.desired, created.google_user_id.as_deref()),
        (Desired::Active, None)
    );

    accounts::set_google_user_id(&mut conn, "a.example", "ana", Some("10001")).await?;
    let revoked = accounts::upsert(
        &mut conn,
        &desired(
            "a.example",
            "ana",
            "ana",
            Desired::Revoked(RevokeMode::Suspend),
        ),
    )
    .await?;
    assert_eq!(revoked.desired, Desired::Revoked(RevokeMode::Suspend));
    assert_eq!(
        revoked.google_user_id.as_deref(),
        Some("10001"),
        "kept across upserts"
    );
    assert_eq!(revoked.create_time, created.create_time);
    for mode in RevokeMode::ALL {
        let account = desired("b.example", "ana", "ana", Desired::Revoked(*mode));
        assert_eq!(
            accounts::upsert(&mut conn, &account).await?.desired,
            Desired::Revoked(*mode)
        );
    }
    assert_eq!(
        accounts::get_by_email(&mut conn, "ana@a.example")
            .await?
            .unwrap()
            .staff_member_id,
        "ana"
    );
    assert_eq!(accounts::get(&mut conn, "c.example", "ana").await?, None);
    let err = accounts::set_google_user_id(&mut conn, "c.example", "ana", Some("1")).await;
    assert!(matches!(err, Err(StoreError::NotFound)), "{err:?}");
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn undeclared_references_and_taken_emails_are_refused(pool: PgPool) -> Result<()> {
    declare(&pool).await?;
    let mut conn = pool.acquire().await?;
    let err = accounts::upsert(
        &mut conn,
        &desired("z.example", "ana", "ana", Desired::Active),
    )
    .await;
    assert!(
        matches!(&err, Err(StoreError::ReferenceNotFound(c)) if c == "support_accounts_domain_fkey"),
        "{err:?}"
    );
    let err = accounts::upsert(
        &mut conn,
        &desired("a.example", "zed", "zed", Desired::Active),
    )
    .await;
    assert!(
        matches!(&err, Err(StoreError::ReferenceNotFound(c)) if c == "support_accounts_staff_member_fkey"),
        "{err:?}"
    );
    accounts::upsert(
        &mut conn,
        &desired("a.example", "ana", "ana", Desired::Active),
    )
    .await?;
    let err = accounts::upsert(
        &mut conn,
        &desired("a.example", "bo", "ana", Desired::Active),
    )
    .await;
    assert!(
        matches!(&err, Err(StoreError::AlreadyExists(c)) if c == "support_accounts_email_key"),
        "{err:?}"
    );
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn listing_pages_across_domains_and_filters(pool: PgPool) -> Result<()> {
    declare(&pool).await?;
    let mut conn = pool.acquire().await?;
    let mut all = Vec::new();
    for d in ["c.example", "a.example", "b.example"] {
        for (id, username) in [("bo", "bo"), ("ana", "ana")] {
            all.push(desired(d, id, username, Desired::Active));
        }
    }
    assert_eq!(accounts::upsert_many(&mut conn, &all).await?, 6);

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = accounts::list(&mut conn, &AccountFilter::default(), 4, after.as_ref()).await?;
        seen.extend(page.items.into_iter().map(|a| a.email));
        match page.next_key {
            Some(key) => after = Some(key),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "ana@a.example",
            "bo@a.example",
            "ana@b.example",
            "bo@b.example",
            "ana@c.example",
            "bo@c.example"
        ]
    );

    let only_b = AccountFilter {
        domain_name: Some("b.example".to_owned()),
        ..AccountFilter::default()
    };
    let page = accounts::list(&mut conn, &only_b, 1, None).await?;
    assert_eq!(page.items[0].email, "ana@b.example");
    let page = accounts::list(&mut conn, &only_b, 1, page.next_key.as_ref()).await?;
    assert_eq!(
        (page.items[0].email.as_str(), page.next_key),
        ("bo@b.example", None)
    );

    let bo = AccountFilter {
        staff_member_id: Some("bo".to_owned()),
        ..AccountFilter::default()
    };
    let listed = accounts::list(&mut conn, &bo, 10, None).await?;
    assert_eq!(
        listed
            .items
            .iter()
            .map(|a| a.domain_name.as_str())
            .collect::<Vec<_>>(),
        ["a.example", "b.example", "c.example"]
    );
    assert_eq!(
        accounts::list_by_staff_member(&mut conn, "bo").await?.len(),
        3
    );
    assert_eq!(
        accounts::list_by_domain(&mut conn, "c.example")
            .await?
            .len(),
        2
    );

    // Deleting a staff member or a domain takes their accounts along.
    staff::delete(&mut conn, "bo", None).await?;
    domains::delete(&mut conn, "c.example", None).await?;
    let left = accounts::list(&mut conn, &AccountFilter::default(), 10, None).await?;
    assert_eq!(
        left.items
            .iter()
            .map(|a| a.email.as_str())
            .collect::<Vec<_>>(),
        ["ana@a.example", "ana@b.example"]
    );
    assert!(accounts::delete(&mut conn, "a.example", "ana").await?);
    assert!(!accounts::delete(&mut conn, "a.example", "ana").await?);
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn observations_never_go_back_in_time(pool: PgPool) -> Result<()> {
    declare(&pool).await?;
    let mut conn = pool.acquire().await?;
    accounts::upsert(
        &mut conn,
        &desired("a.example", "ana", "ana", Desired::Active),
    )
    .await?;
    let now = Utc::now();
    let earlier = now - Duration::minutes(5);

    assert!(
        accounts::save_observation(&mut conn, "a.example", "ana", &json!({"exists": "OK"}), now)
            .await?
    );
    assert!(
        !accounts::save_observation(
            &mut conn,
            "a.example",
            "ana",
            &json!({"exists": "MISSING"}),
            earlier
        )
        .await?
    );
    let account = accounts::get(&mut conn, "a.example", "ana").await?.unwrap();
    assert_eq!(account.checks, Some(json!({"exists": "OK"})));
    let err = accounts::save_observation(&mut conn, "b.example", "ana", &json!({}), now).await;
    assert!(matches!(err, Err(StoreError::NotFound)), "{err:?}");

    assert_eq!(observations::get(&mut conn, "a.example").await?, None);
    assert!(observations::save(&mut conn, "a.example", &json!({"orgUnit": "OK"}), now).await?);
    assert!(
        !observations::save(
            &mut conn,
            "a.example",
            &json!({"orgUnit": "MISSING"}),
            earlier
        )
        .await?
    );
    let later = now + Duration::seconds(1);
    assert!(
        observations::save(
            &mut conn,
            "a.example",
            &json!({"orgUnit": "DRIFTED"}),
            later
        )
        .await?
    );
    let stored = observations::get(&mut conn, "a.example").await?.unwrap();
    assert_eq!(stored.observed, json!({"orgUnit": "DRIFTED"}));
    assert_eq!(
        stored.observe_time.timestamp_micros(),
        later.timestamp_micros()
    );
    let err = observations::save(&mut conn, "z.example", &json!({}), now).await;
    assert!(
        matches!(&err, Err(StoreError::ReferenceNotFound(c)) if c == "domain_observations_domain_fkey"),
        "{err:?}"
    );
    domains::delete(&mut conn, "a.example", None).await?;
    assert_eq!(observations::get(&mut conn, "a.example").await?, None);
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn manual_confirmations_are_one_per_scope(pool: PgPool) -> Result<()> {
    declare(&pool).await?;
    let mut conn = pool.acquire().await?;
    let confirm = |step, staff: Option<&str>, note: &str, principal: &str| NewConfirmation {
        domain_name: "a.example".to_owned(),
        step,
        staff_member_id: staff.map(str::to_owned),
        note: note.to_owned(),
        principal: principal.to_owned(),
    };
    manual::confirm(
        &mut conn,
        &confirm(
            ManualStep::AutomaticLicensingOff,
            None,
            "turned off",
            "alice",
        ),
    )
    .await?;
    let again = manual::confirm(
        &mut conn,
        &confirm(
            ManualStep::AutomaticLicensingOff,
            None,
            "checked again",
            "bob",
        ),
    )
    .await?;
    assert_eq!(
        (again.note.as_str(), again.principal.as_str()),
        ("checked again", "bob")
    );
    manual::confirm(
        &mut conn,
        &confirm(ManualStep::MailRouting, Some("ana"), "routed", "alice"),
    )
    .await?;
    manual::confirm(
        &mut conn,
        &confirm(
            ManualStep::MailRouting,
            None,
            "routing rule for the OU",
            "alice",
        ),
    )
    .await?;
    manual::confirm(
        &mut conn,
        &confirm(ManualStep::CloudIdentityFreeSubscribed, None, "", "alice"),
    )
    .await?;

    let err = manual::confirm(
        &mut conn,
        &confirm(ManualStep::AutomaticLicensingOff, Some("ana"), "", "alice"),
    )
    .await;
    assert!(
        matches!(&err, Err(StoreError::InvalidValue(c)) if c == "manual_confirmations_scope_check"),
        "{err:?}"
    );

    let listed = manual::list(&mut conn, "a.example").await?;
    let scopes: Vec<_> = listed
        .iter()
        .map(|c| (c.step, c.staff_member_id.as_deref()))
        .collect();
    assert_eq!(
        scopes,
        [
            (ManualStep::AutomaticLicensingOff, None),
            (ManualStep::CloudIdentityFreeSubscribed, None),
            (ManualStep::MailRouting, None),
            (ManualStep::MailRouting, Some("ana")),
        ]
    );
    assert_eq!(listed[0].note, "checked again");

    assert!(manual::withdraw(&mut conn, "a.example", ManualStep::MailRouting, Some("ana")).await?);
    assert!(!manual::withdraw(&mut conn, "a.example", ManualStep::MailRouting, Some("ana")).await?);
    assert!(manual::withdraw(&mut conn, "a.example", ManualStep::MailRouting, None).await?);
    assert_eq!(manual::list(&mut conn, "a.example").await?.len(), 2);
    Ok(())
}

fn key(domain: &str, staff_id: &str) -> accounts::NewAccount {
    accounts::NewAccount {
        domain_name: domain.to_owned(),
        staff_member_id: staff_id.to_owned(),
        email: format!("{staff_id}@{domain}"),
    }
}

const OPERATOR: accounts::Decision<'static> = accounts::Decision {
    principal: "operator",
    reason: "",
};

#[sqlx::test(migrations = "../../migrations")]
async fn provisioning_declares_active_only_where_no_row_exists(pool: PgPool) -> Result<()> {
    declare(&pool).await?;
    let mut conn = pool.acquire().await?;
    let both = [key("a.example", "ana"), key("a.example", "bo")];
    assert_eq!(
        accounts::declare_active(&mut conn, &both, OPERATOR).await?,
        2
    );
    let ana = accounts::get(&mut conn, "a.example", "ana").await?.unwrap();
    assert_eq!(ana.desired, Desired::Active);
    assert_eq!(ana.decided_by, "operator");
    assert_eq!(ana.ownership, accounts::Ownership::NotOwned);
    assert_eq!(ana.adopt_user_id, None);

    // bo is revoked; provisioning again inserts nothing and re-grants nothing.
    let revoker = accounts::Decision {
        principal: "admin",
        reason: "left the team",
    };
    assert_eq!(
        accounts::revoke(&mut conn, &both[1..], RevokeMode::Suspend, revoker).await?,
        1
    );
    assert_eq!(
        accounts::declare_active(&mut conn, &both, OPERATOR).await?,
        0
    );
    let bo = accounts::get(&mut conn, "a.example", "bo").await?.unwrap();
    assert_eq!(bo.desired, Desired::Revoked(RevokeMode::Suspend));
    assert_eq!(
        (bo.decided_by.as_str(), bo.decision_reason.as_str()),
        ("admin", "left the team")
    );
    let err = accounts::declare_active(&mut conn, &[key("z.example", "ana")], OPERATOR).await;
    assert!(
        matches!(&err, Err(StoreError::ReferenceNotFound(c)) if c == "support_accounts_domain_fkey"),
        "{err:?}"
    );
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn revoke_moves_the_window_only_when_the_decision_changes(pool: PgPool) -> Result<()> {
    declare(&pool).await?;
    let mut conn = pool.acquire().await?;
    let ana = [key("a.example", "ana")];
    accounts::declare_active(&mut conn, &ana, OPERATOR).await?;
    // Missing rows are recorded revoked too.
    let first = accounts::Decision {
        principal: "first",
        reason: "",
    };
    assert_eq!(
        accounts::revoke(
            &mut conn,
            &[key("a.example", "ana"), key("b.example", "ana")],
            RevokeMode::Suspend,
            first
        )
        .await?,
        2
    );
    let revoked = accounts::get(&mut conn, "a.example", "ana").await?.unwrap();
    assert_eq!(revoked.decided_by, "first");
    // The same revocation again changes nothing (the window stays where it started).
    let again = accounts::Decision {
        principal: "again",
        reason: "",
    };
    assert_eq!(
        accounts::revoke(&mut conn, &ana, RevokeMode::Suspend, again).await?,
        0
    );
    let same = accounts::get(&mut conn, "a.example", "ana").await?.unwrap();
    assert_eq!(
        (same.decide_time, same.decided_by.as_str()),
        (revoked.decide_time, "first")
    );
    // Another mode is a new decision.
    assert_eq!(
        accounts::revoke(&mut conn, &ana, RevokeMode::Delete, again).await?,
        1
    );
    let deleted = accounts::get(&mut conn, "a.example", "ana").await?.unwrap();
    assert_eq!(deleted.desired, Desired::Revoked(RevokeMode::Delete));
    assert_eq!(deleted.decided_by, "again");
    assert!(deleted.decide_time >= revoked.decide_time);
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn regrant_is_the_way_back_from_revoked(pool: PgPool) -> Result<()> {
    declare(&pool).await?;
    let mut conn = pool.acquire().await?;
    let keys = [key("a.example", "ana"), key("a.example", "bo")];
    accounts::declare_active(&mut conn, &keys[..1], OPERATOR).await?;
    accounts::revoke(&mut conn, &keys[..1], RevokeMode::RemoveRole, OPERATOR).await?;
    let back = accounts::Decision {
        principal: "admin",
        reason: "back from leave, ticket OPS-7",
    };
    // ana flips, bo (no row) is inserted ACTIVE.
    assert_eq!(accounts::regrant(&mut conn, &keys, back).await?, 2);
    for id in ["ana", "bo"] {
        let account = accounts::get(&mut conn, "a.example", id).await?.unwrap();
        assert_eq!(account.desired, Desired::Active, "{id}");
        assert_eq!(account.decided_by, "admin");
        assert_eq!(account.decision_reason, "back from leave, ticket OPS-7");
    }
    // Active rows are left alone.
    assert_eq!(accounts::regrant(&mut conn, &keys, OPERATOR).await?, 0);
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn ownership_is_recorded_forgotten_and_adoption_approved(pool: PgPool) -> Result<()> {
    declare(&pool).await?;
    let mut conn = pool.acquire().await?;
    let adopter = accounts::Decision {
        principal: "admin",
        reason: "pre-existing account of ana",
    };
    // Adoption of a pair without a row inserts it ACTIVE, e-mail from the username.
    accounts::approve_adoption(&mut conn, "a.example", "ana", "20001", adopter).await?;
    let approved = accounts::get(&mut conn, "a.example", "ana").await?.unwrap();
    assert_eq!(approved.email, "ana@a.example");
    assert_eq!(approved.desired, Desired::Active);
    assert_eq!(approved.adopt_user_id.as_deref(), Some("20001"));
    assert_eq!(approved.ownership, accounts::Ownership::NotOwned);
    assert_eq!(approved.decision_reason, "pre-existing account of ana");

    // The engine marks it and records it adopted: the approval is done.
    accounts::record_ownership(
        &mut conn,
        "a.example",
        "ana",
        "20001",
        accounts::Ownership::Adopted,
    )
    .await?;
    let adopted = accounts::get(&mut conn, "a.example", "ana").await?.unwrap();
    assert_eq!(
        (
            adopted.ownership,
            adopted.google_user_id.as_deref(),
            adopted.adopt_user_id.as_deref()
        ),
        (accounts::Ownership::Adopted, Some("20001"), None)
    );

    // An adoption of a revoked row keeps it revoked and its window.
    accounts::revoke(
        &mut conn,
        &[key("b.example", "ana")],
        RevokeMode::Suspend,
        OPERATOR,
    )
    .await?;
    let revoked = accounts::get(&mut conn, "b.example", "ana").await?.unwrap();
    accounts::approve_adoption(&mut conn, "b.example", "ana", "20002", adopter).await?;
    let still = accounts::get(&mut conn, "b.example", "ana").await?.unwrap();
    assert_eq!(still.desired, Desired::Revoked(RevokeMode::Suspend));
    assert_eq!(still.decide_time, revoked.decide_time);
    assert_eq!(still.adopt_user_id.as_deref(), Some("20002"));

    accounts::forget_ownership(&mut conn, "a.example", "ana").await?;
    let forgotten = accounts::get(&mut conn, "a.example", "ana").await?.unwrap();
    assert_eq!(
        (forgotten.ownership, forgotten.google_user_id),
        (accounts::Ownership::NotOwned, None)
    );
    assert!(matches!(
        accounts::record_ownership(
            &mut conn,
            "c.example",
            "ana",
            "1",
            accounts::Ownership::Created
        )
        .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        accounts::approve_adoption(&mut conn, "a.example", "nobody", "1", adopter).await,
        Err(StoreError::NotFound)
    ));
    // The engine's older call records a created account.
    accounts::set_google_user_id(&mut conn, "a.example", "ana", Some("20003")).await?;
    let created = accounts::get(&mut conn, "a.example", "ana").await?.unwrap();
    assert_eq!(created.ownership, accounts::Ownership::Created);
    accounts::set_google_user_id(&mut conn, "a.example", "ana", None).await?;
    let gone = accounts::get(&mut conn, "a.example", "ana").await?.unwrap();
    assert_eq!(gone.ownership, accounts::Ownership::NotOwned);
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn mass_change_counts_owned_active_and_revoked_in_the_window(pool: PgPool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    domains::insert(&mut conn, &new_domain("a.example")).await?;
    let mut keys = Vec::new();
    for i in 0..5 {
        let id = format!("s{i}");
        staff::insert(&mut conn, &new_staff(&id, &id)).await?;
        keys.push(key("a.example", &id));
    }
    accounts::declare_active(&mut conn, &keys, OPERATOR).await?;
    let day = std::time::Duration::from_secs(24 * 3600);
    assert_eq!(
        accounts::mass_change_counts(&mut conn, "a.example", day).await?,
        (0, 0),
        "none owned yet"
    );
    for (i, k) in keys.iter().enumerate().take(4) {
        accounts::record_ownership(
            &mut conn,
            "a.example",
            &k.staff_member_id,
            &format!("{i}"),
            accounts::Ownership::Created,
        )
        .await?;
    }
    assert_eq!(
        accounts::mass_change_counts(&mut conn, "a.example", day).await?,
        (4, 0)
    );
    accounts::revoke(&mut conn, &keys[..1], RevokeMode::Delete, OPERATOR).await?;
    // Deleted by the service: no longer owned, still in the window.
    accounts::forget_ownership(&mut conn, "a.example", "s0").await?;
    assert_eq!(
        accounts::mass_change_counts(&mut conn, "a.example", day).await?,
        (3, 1)
    );
    // A revocation older than the window does not count.
    sqlx::query("UPDATE support_accounts SET decide_time = now() - interval '25 hours' WHERE staff_member_id = 's0'")
        .execute(&mut *conn)
        .await?;
    assert_eq!(
        accounts::mass_change_counts(&mut conn, "a.example", day).await?,
        (3, 0)
    );
    assert_eq!(
        accounts::mass_change_counts(&mut conn, "b.example", day).await?,
        (0, 0)
    );
    Ok(())
}
