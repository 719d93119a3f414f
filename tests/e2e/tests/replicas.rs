//! Two replicas on one database, each keeping the `GetDomainStatus` answers it built in memory
//! (the server's `status_cache`): a write through one replica shows in that replica's next
//! answer at once, and in the other replica's answers as soon as Postgres's announcement of
//! the change reaches it.

use std::time::{Duration, Instant};

use prost_types::FieldMask;
use support_access_e2e::stack::{
    DOMAIN_A, Stack, declare, provision, staff_id, start_service, wait_done,
};
use support_access_proto::v1;
use support_access_proto::v1::support_access_service_client::SupportAccessServiceClient;
use tonic::transport::Channel;

/// How long the other replica may take to follow: far more than the announcement needs (well
/// under a millisecond on an idle listener), so that only a lost announcement fails the test.
const FOLLOW_LIMIT: Duration = Duration::from_secs(10);

async fn status(client: &mut SupportAccessServiceClient<Channel>) -> v1::DomainStatus {
    client
        .get_domain_status(v1::GetDomainStatusRequest {
            name: format!("domains/{}/status", DOMAIN_A.0),
            refresh: false,
        })
        .await
        .unwrap()
        .into_inner()
}

fn revoked(status: &v1::DomainStatus) -> i32 {
    status.account_counts.as_ref().map_or(-1, |c| c.revoked)
}

/// Reads the status through `client` until `done` holds of it; returns it and how long that took.
async fn follow(
    client: &mut SupportAccessServiceClient<Channel>,
    what: &str,
    done: impl Fn(&v1::DomainStatus) -> bool,
) -> (v1::DomainStatus, Duration) {
    let start = Instant::now();
    loop {
        let answer = status(client).await;
        if done(&answer) {
            return (answer, start.elapsed());
        }
        assert!(
            start.elapsed() < FOLLOW_LIMIT,
            "the other replica still answers without {what} after {FOLLOW_LIMIT:?}: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_replica_answers_the_status_with_every_replicas_writes() {
    let flags = ["--reconcile-interval", "0s"];
    let stack = Stack::start(&flags).await;
    let replica_b = start_service(
        &stack.emulator,
        &stack.key,
        Some(stack.service.database_name()),
        &flags,
    )
    .await;
    let mut a = stack.client().await;
    let mut b = replica_b.client().await.unwrap();
    declare(&mut a, &[DOMAIN_A.0], 2).await;
    let staff = [staff_id(0), staff_id(1)];
    let operation = provision(
        &mut a,
        &[DOMAIN_A.0],
        &staff,
        &uuid::Uuid::new_v4().to_string(),
    )
    .await;
    wait_done(&stack.service, &operation.name, Duration::from_secs(120)).await;

    // Both replicas answer, twice each (the second answer from memory), the same.
    let first = status(&mut a).await;
    assert_eq!(revoked(&first), 0);
    assert_eq!(first.account_counts.as_ref().unwrap().active, 2);
    assert_eq!(status(&mut a).await, first);
    assert_eq!(status(&mut b).await, first);
    assert_eq!(status(&mut b).await, first);

    // A revocation through A: A's very next answer has it; B's follows.
    let revoke = a
        .revoke_support_access(v1::RevokeSupportAccessRequest {
            domains: vec![format!("domains/{}", DOMAIN_A.0)],
            staff_members: vec![format!("staffMembers/{}", staff[0])],
            mode: v1::RevokeMode::RemoveRole as i32,
            force: true,
            request_id: uuid::Uuid::new_v4().to_string(),
            validate_only: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked(&status(&mut a).await), 1, "A answers its own write");
    let (_, delay) = follow(&mut b, "the revocation", |s| revoked(s) == 1).await;
    eprintln!("replica B answered the revocation {delay:?} after replica A");

    // Its operation's finish: A's next answer is the settled one, and B comes to the same.
    wait_done(&stack.service, &revoke.name, Duration::from_secs(120)).await;
    let settled = status(&mut a).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        status(&mut a).await,
        settled,
        "A's answer after the finish is settled"
    );
    follow(&mut b, "the revocation's finish", |s| *s == settled).await;

    // A change of the declaration through A (the domain's own row).
    assert_eq!(settled.repair_policy, v1::RepairPolicy::Repair as i32);
    a.update_domain(v1::UpdateDomainRequest {
        domain: Some(v1::Domain {
            name: format!("domains/{}", DOMAIN_A.0),
            repair_policy: v1::RepairPolicy::ReportOnly as i32,
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["repair_policy".into()],
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let report_only = v1::RepairPolicy::ReportOnly as i32;
    assert_eq!(status(&mut a).await.repair_policy, report_only);
    let (_, delay) = follow(&mut b, "the new repair policy", |s| {
        s.repair_policy == report_only
    })
    .await;
    eprintln!("replica B answered the new repair policy {delay:?} after replica A");
}
