//! `BatchCreateStaffMembers` as a caller declaring a whole team sees it (AIP-233): all or none,
//! every bad item named by its index, conflicts with existing staff found before anything is
//! written (also by `validate_only`), a replayed `request_id` answered with the first result, and
//! one audit event per staff member created.
//!
//! Needs PostgreSQL at `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).

mod rpcs_support;

use rpcs_support::*;
use support_access_proto::v1;
use tonic::Code;

fn item(id: &str, username: &str) -> v1::CreateStaffMemberRequest {
    v1::CreateStaffMemberRequest {
        staff_member: Some(v1::StaffMember {
            username: username.to_owned(),
            given_name: "Given".to_owned(),
            family_name: "Family".to_owned(),
            workspace_email: format!("{username}@partner.example"),
            ..Default::default()
        }),
        staff_member_id: id.to_owned(),
        ..Default::default()
    }
}

fn team(size: usize) -> Vec<v1::CreateStaffMemberRequest> {
    (0..size)
        .map(|i| item(&format!("member-{i}"), &format!("member.{i}")))
        .collect()
}

async fn batch(
    api: &mut Api,
    requests: Vec<v1::CreateStaffMemberRequest>,
    request_id: &str,
    validate_only: bool,
) -> Result<v1::BatchCreateStaffMembersResponse, tonic::Status> {
    api.batch_create_staff_members(v1::BatchCreateStaffMembersRequest {
        requests,
        request_id: request_id.to_owned(),
        validate_only,
    })
    .await
    .map(tonic::Response::into_inner)
}

async fn staff_count(api: &mut Api) -> usize {
    let mut count = 0;
    let mut page_token = String::new();
    loop {
        let page = api
            .list_staff_members(v1::ListStaffMembersRequest {
                page_size: 1000,
                page_token: page_token.clone(),
            })
            .await
            .expect("list staff")
            .into_inner();
        count += page.staff_members.len();
        if page.next_page_token.is_empty() {
            return count;
        }
        page_token = page.next_page_token;
    }
}

#[tokio::test]
async fn a_team_is_declared_in_one_call_all_or_none() {
    let server = TestServer::demo().await;
    let mut admin = server.api("admin").await;

    // Validation: every bad item is reported by index, and nothing is created.
    let mut bad = team(5);
    bad[1].staff_member.as_mut().unwrap().username = "Not A Username".into();
    bad[3] = item("member-0", "member.3"); // the id of requests[0]
    bad[4] = item("member-4", "member.2"); // the username of requests[2]
    bad[2].request_id = request_id();
    let status = batch(&mut admin, bad, "", false).await.unwrap_err();
    assert_eq!(
        violations(&status),
        [
            "requests[1].staff_member.username",
            "requests[2].request_id",
            "requests[3].staff_member_id",
            "requests[4].staff_member.username",
        ],
        "{status:?}"
    );
    assert_eq!(staff_count(&mut admin).await, 0);

    let status = batch(&mut admin, Vec::new(), "", false).await.unwrap_err();
    assert_eq!(violations(&status), ["requests"]);
    let status = batch(&mut admin, team(1001), "", false).await.unwrap_err();
    assert_eq!(violations(&status), ["requests"]);

    // A conflict with an existing staff member: nothing of the batch is created, the error names
    // the conflicting item; validate_only finds the same conflict.
    create_staff(&mut admin, "existing", "member.7").await;
    for validate_only in [true, false] {
        let status = batch(&mut admin, team(10), &request_id(), validate_only)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
        assert!(
            status.message().contains("staffMembers/member-7"),
            "{status:?}"
        );
    }
    assert_eq!(staff_count(&mut admin).await, 1);

    // validate_only of a good batch shows the would-be members and creates none.
    let preview = batch(&mut admin, team(3), "", true).await.expect("preview");
    assert_eq!(preview.staff_members.len(), 3);
    assert_eq!(preview.staff_members[2].name, "staffMembers/member-2");
    assert_eq!(staff_count(&mut admin).await, 1);

    // The real thing: 500 members in one call, in request order; a retry with the same
    // request_id returns the same response and creates nothing more.
    let mut requests: Vec<_> = team(501);
    requests.remove(7); // member.7 exists already
    let id = request_id();
    let created = batch(&mut admin, requests.clone(), &id, false)
        .await
        .expect("batch create");
    assert_eq!(created.staff_members.len(), 500);
    assert_eq!(created.staff_members[0].name, "staffMembers/member-0");
    assert_eq!(created.staff_members[7].name, "staffMembers/member-8");
    assert!(created.staff_members.iter().all(|s| !s.etag.is_empty()));
    let replayed = batch(&mut admin, requests, &id, false)
        .await
        .expect("replay");
    assert_eq!(replayed, created);
    assert_eq!(staff_count(&mut admin).await, 501);

    // One audit event per member created.
    let mut events = 0;
    let mut page_token = String::new();
    loop {
        let page = admin
            .list_audit_events(v1::ListAuditEventsRequest {
                page_size: 1000,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .expect("audit")
            .into_inner();
        events += page
            .audit_events
            .iter()
            .filter(|e| e.method.ends_with("/BatchCreateStaffMembers") && e.outcome == "OK")
            .count();
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(events, 500);
    server.stop().await;
}
