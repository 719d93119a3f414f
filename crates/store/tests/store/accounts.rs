//! Desired support accounts, domain observations and manual confirmations.

use chrono::{Duration, Utc};
use serde_json::json;
use sqlx::PgPool;
use support_access_store::accounts::{self, AccountFilter, Desired, DesiredAccount, RevokeMode};
use support_access_store::manual::{self, ManualStep, NewConfirmation};
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
        staff_member_id: None,
    };
    let page = accounts::list(&mut conn, &only_b, 1, None).await?;
    assert_eq!(page.items[0].email, "ana@b.example");
    let page = accounts::list(&mut conn, &only_b, 1, page.next_key.as_ref()).await?;
    assert_eq!(
        (page.items[0].email.as_str(), page.next_key),
        ("bo@b.example", None)
    );

    let bo = AccountFilter {
        domain_name: None,
        staff_member_id: Some("bo".to_owned()),
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
