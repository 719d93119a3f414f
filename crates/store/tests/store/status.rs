//! Status snapshots: when a stored snapshot is still the status of its inputs. Every change the
//! computation could not see makes it stale, including one made by a transaction that started
//! before the inputs were read and committed after the snapshot was saved; the snapshot's own
//! write of the accounts' states does not.

use serde_json::json;
use sqlx::{Connection, PgConnection, PgPool};
use support_access_domain::lifecycle::{OperationKind, RevokeMode};
use support_access_domain::observed::ManualStep;
use support_access_store::accounts::{self, Decision, NewAccount};
use support_access_store::manual::{self, NewConfirmation};
use support_access_store::operations::{self, NewOperation, Outcome};
use support_access_store::status::{self as snapshots, AccountSnapshot, Freshness, SnapshotRecord};
use support_access_store::{Result, domains, staff};
use uuid::Uuid;

use crate::{new_domain, new_staff};

const DOMAIN: &str = "a.example";

const DECISION: Decision<'static> = Decision {
    principal: "alice",
    reason: "",
};

fn account(staff_id: &str) -> NewAccount {
    NewAccount {
        domain_name: DOMAIN.to_owned(),
        staff_member_id: staff_id.to_owned(),
        email: format!("{staff_id}@{DOMAIN}"),
    }
}

/// Declares the domain and staff `ana`, `bo` with ACTIVE accounts in it.
async fn declare(conn: &mut PgConnection) -> Result<()> {
    domains::insert(conn, &new_domain(DOMAIN)).await?;
    for id in ["ana", "bo"] {
        staff::insert(conn, &new_staff(id, id)).await?;
    }
    accounts::declare_active(conn, &[account("ana"), account("bo")], DECISION).await?;
    Ok(())
}

/// A change to staff member `ana` (a status input of every domain).
async fn rename_ana(conn: &mut PgConnection) -> Result<()> {
    staff::update(
        conn,
        "ana",
        None,
        &staff::StaffChanges {
            given_name: Some("Anabela".to_owned()),
            family_name: None,
            workspace_email: None,
        },
    )
    .await?;
    Ok(())
}

async fn freshness(conn: &mut PgConnection) -> Result<Freshness> {
    let mut all = snapshots::fingerprints(conn, Some(DOMAIN)).await?;
    assert_eq!(all.len(), 1);
    Ok(all.remove(0))
}

/// Saves a snapshot computed after `freshness` was read, writing every account's state as a
/// real computation does; returns whether it was stored.
async fn save(conn: &mut PgConnection, freshness: &Freshness, state: &str) -> Result<bool> {
    let snapshot = SnapshotRecord {
        domain_name: DOMAIN.to_owned(),
        fingerprint: freshness.current.clone(),
        inputs_snapshot: freshness.inputs_snapshot.clone(),
        state: Some(state.to_owned()),
        checks: json!([]),
        observe_time: None,
        compute_time: chrono::Utc::now(),
        account_counts: Default::default(),
        manual_counts: Default::default(),
    };
    let accounts: Vec<AccountSnapshot> = ["ana", "bo"]
        .iter()
        .map(|id| AccountSnapshot {
            email: format!("{id}@{DOMAIN}"),
            state: Some(state.to_owned()),
            checks: Some(json!([{ "kind": "EXISTS" }])),
        })
        .collect();
    let mut tx = conn.begin().await?;
    let saved = snapshots::save(&mut tx, &snapshot, &accounts).await?;
    tx.commit().await?;
    Ok(saved)
}

/// Reads the freshness, saves a snapshot from it, and checks the next read finds it fresh.
async fn refresh(conn: &mut PgConnection) -> Result<()> {
    let before = freshness(conn).await?;
    assert!(save(conn, &before, "PENDING").await?);
    assert!(
        freshness(conn).await?.is_fresh(),
        "a snapshot is fresh right after it was saved, its own account writes included"
    );
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_snapshot_goes_stale_when_a_decision_a_staff_member_or_a_confirmation_changes(
    pool: PgPool,
) -> Result<()> {
    let mut conn = pool.acquire().await?;
    declare(&mut conn).await?;
    let first = freshness(&mut conn).await?;
    assert!(first.changed && first.stored.is_none(), "{first:?}");
    refresh(&mut conn).await?;

    accounts::revoke(
        &mut conn,
        &[account("bo")],
        RevokeMode::RemoveRole,
        DECISION,
    )
    .await?;
    assert!(freshness(&mut conn).await?.changed, "after a revoke");
    refresh(&mut conn).await?;

    rename_ana(&mut conn).await?;
    assert!(freshness(&mut conn).await?.changed, "after a staff change");
    refresh(&mut conn).await?;

    let confirmation = NewConfirmation {
        domain_name: DOMAIN.to_owned(),
        step: ManualStep::AutomaticLicensingOff,
        staff_member_id: None,
        note: "turned off in the Admin console".to_owned(),
        principal: "alice".to_owned(),
    };
    manual::confirm(&mut conn, &confirmation).await?;
    assert!(freshness(&mut conn).await?.changed, "after a confirmation");
    refresh(&mut conn).await?;
    manual::withdraw(&mut conn, DOMAIN, ManualStep::AutomaticLicensingOff, None).await?;
    assert!(
        freshness(&mut conn).await?.changed,
        "after a confirmation was withdrawn"
    );
    refresh(&mut conn).await?;

    // Deleting a staff member deletes their accounts (a cascade): the deletion leaves a marker.
    staff::delete(&mut conn, "bo", None).await?;
    assert!(freshness(&mut conn).await?.changed, "after an account went");
    refresh(&mut conn).await?;

    // An operation's steps count while it runs; its finish takes them out.
    let id = Uuid::now_v7();
    let mut tx = conn.begin().await?;
    operations::create(
        &mut tx,
        &NewOperation {
            id,
            kind: OperationKind::Provision,
            principal: "alice".to_owned(),
            request_id: None,
            request: json!({}),
            validate_only: false,
            domains: vec![DOMAIN.to_owned()],
            steps: Vec::new(),
            trace_parent: None,
        },
    )
    .await?;
    tx.commit().await?;
    refresh(&mut conn).await?;
    operations::finish(&mut conn, id, Outcome::Succeeded(b"ok")).await?;
    assert!(
        freshness(&mut conn).await?.changed,
        "after an operation finished"
    );
    refresh(&mut conn).await?;

    // The one-row inputs are compared as before.
    sqlx::query("UPDATE domains SET revision = revision + 1 WHERE domain_name = $1")
        .bind(DOMAIN)
        .execute(&mut *conn)
        .await?;
    let after = freshness(&mut conn).await?;
    assert!(!after.is_fresh() && !after.changed, "{after:?}");
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_change_committed_after_the_inputs_were_read_makes_the_snapshot_stale(
    pool: PgPool,
) -> Result<()> {
    let mut conn = pool.acquire().await?;
    declare(&mut conn).await?;
    refresh(&mut conn).await?;

    // A change to a staff member starts (and writes) before the snapshot's inputs are read and
    // commits after the snapshot is saved: the computation could not see it. (Not a decision:
    // saving the snapshot writes the accounts' rows, and would wait for the writer's lock.)
    let mut writer = pool.acquire().await?;
    let mut rename = writer.begin().await?;
    rename_ana(&mut rename).await?;
    let read = freshness(&mut conn).await?;
    assert!(read.is_fresh(), "the uncommitted change is not visible yet");
    sqlx::query("UPDATE domains SET revision = revision + 1 WHERE domain_name = $1")
        .bind(DOMAIN)
        .execute(&mut *conn)
        .await?;
    let stale = freshness(&mut conn).await?;
    assert!(save(&mut conn, &stale, "OK").await?);
    assert!(freshness(&mut conn).await?.is_fresh());
    rename.commit().await?;

    assert!(
        freshness(&mut conn).await?.changed,
        "the change committed after the inputs were read must be seen"
    );
    Ok(())
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_snapshot_of_older_inputs_never_replaces_a_newer_one(pool: PgPool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    declare(&mut conn).await?;
    // Two reads compute the status at once: the slower one read its inputs first.
    let older = freshness(&mut conn).await?;
    accounts::revoke(&mut conn, &[account("bo")], RevokeMode::Delete, DECISION).await?;
    let newer = freshness(&mut conn).await?;
    assert!(save(&mut conn, &newer, "OK").await?);
    assert!(
        !save(&mut conn, &older, "ERROR").await?,
        "a snapshot of inputs read before the stored one's is refused"
    );
    let stored = snapshots::get(&mut conn, DOMAIN).await?.expect("saved");
    assert_eq!(stored.state.as_deref(), Some("OK"));
    assert_eq!(stored.inputs_snapshot, newer.inputs_snapshot);
    let states: Vec<Option<String>> =
        sqlx::query_scalar("SELECT state FROM support_accounts WHERE domain_name = $1")
            .bind(DOMAIN)
            .fetch_all(&mut *conn)
            .await?;
    assert_eq!(
        states,
        vec![Some("OK".to_owned()); 2],
        "accounts keep the newer states"
    );
    assert!(freshness(&mut conn).await?.is_fresh());
    Ok(())
}
