//! Reads that stay small whatever the size of a domain, as a caller sees them on a domain of
//! 1,200 accounts provisioned through the in-process demo emulator: `GetDomainStatus` is a
//! summary of constant size with the right counts, `ListSupportAccounts` with
//! `filter: "state != OK"` pages exactly the accounts that are not OK, `GetOperation` of the
//! 1,200-account operation is bounded with its counts, and `ListOperationAccounts` pages every
//! account exactly once. Bad filters are INVALID_ARGUMENT naming `filter`. A filter that matches
//! nothing in an operation of two 1,001-account domains costs two calls of one domain each, not
//! one call reading both.
//!
//! Prints the encoded sizes and times (run with `--nocapture` to see them).
//! Needs PostgreSQL at `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).

mod rpcs_support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use prost::Message;
use rpcs_support::*;
use support_access_proto::google::longrunning::{GetOperationRequest, operation};
use support_access_proto::v1;

/// Accounts in the domain.
const ACCOUNTS: usize = 1200;
/// Staff members whose mail routing is confirmed: their accounts are OK, the others wait for a
/// person.
const ROUTED: usize = 150;

fn staff_id(i: usize) -> String {
    format!("member-{i:04}")
}

fn username(i: usize) -> String {
    format!("member.{i:04}")
}

async fn declare_team(api: &mut Api, members: usize) {
    let ids: Vec<usize> = (0..members).collect();
    for chunk in ids.chunks(600) {
        api.batch_create_staff_members(v1::BatchCreateStaffMembersRequest {
            requests: chunk
                .iter()
                .map(|&i| v1::CreateStaffMemberRequest {
                    staff_member: Some(v1::StaffMember {
                        username: username(i),
                        given_name: "Given".into(),
                        family_name: "Family".into(),
                        workspace_email: format!("{}@workspace.example", username(i)),
                        ..Default::default()
                    }),
                    staff_member_id: staff_id(i),
                    ..Default::default()
                })
                .collect(),
            request_id: request_id(),
            validate_only: false,
        })
        .await
        .expect("batch create staff members");
    }
}

/// Every account `ListSupportAccounts` lists for `filter`, page by page.
async fn list_all(api: &mut Api, filter: &str, page_size: i32) -> Vec<v1::SupportAccount> {
    let mut accounts = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = api
            .list_support_accounts(v1::ListSupportAccountsRequest {
                parent: format!("domains/{TWO}"),
                page_size,
                page_token: page_token.clone(),
                filter: filter.to_owned(),
                ..Default::default()
            })
            .await
            .expect("list support accounts")
            .into_inner();
        assert!(page.support_accounts.len() <= page_size as usize);
        accounts.extend(page.support_accounts);
        if page.next_page_token.is_empty() {
            return accounts;
        }
        page_token = page.next_page_token;
    }
}

/// Pages every account of `operation` that `filter` selects; returns the accounts (e-mails) of
/// each page.
async fn operation_pages(
    api: &mut Api,
    operation: &str,
    filter: &str,
    page_size: i32,
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = api
            .list_operation_accounts(v1::ListOperationAccountsRequest {
                parent: operation.to_owned(),
                page_size,
                page_token: page_token.clone(),
                filter: filter.to_owned(),
            })
            .await
            .expect("list operation accounts")
            .into_inner();
        assert!(page.accounts.len() <= page_size as usize);
        pages.push(page.accounts.into_iter().map(|a| a.email).collect());
        if page.next_page_token.is_empty() {
            return pages;
        }
        page_token = page.next_page_token;
    }
}

async fn timed_status(api: &mut Api) -> (v1::DomainStatus, Duration) {
    let started = Instant::now();
    let status = api
        .get_domain_status(v1::GetDomainStatusRequest {
            name: format!("domains/{TWO}/status"),
            refresh: false,
        })
        .await
        .expect("get domain status")
        .into_inner();
    (status, started.elapsed())
}

#[tokio::test]
async fn a_large_domain_reads_in_bounded_messages() {
    let server = TestServer::demo().await;
    let mut admin = server.api("admin").await;
    let mut ops = server.ops("admin").await;
    // The demo seed caps Cloud Identity Free at 50 users: raise the cap for this domain.
    let base = server.emulator_url.clone().expect("demo mode");
    let seats = reqwest::Client::new()
        .put(format!("{base}emulator/v1/customers/{TWO}/subscriptions"))
        .json(&serde_json::json!({"productId": "101001", "skuId": "1010010001", "seats": 5000}))
        .send()
        .await
        .expect("set seats");
    assert!(seats.status().is_success(), "{seats:?}");
    create_domain(&mut admin, TWO).await;
    declare_team(&mut admin, ACCOUNTS).await;

    let started = Instant::now();
    let operation = admin
        .provision_support_access(v1::ProvisionSupportAccessRequest {
            domains: vec![format!("domains/{TWO}")],
            request_id: request_id(),
            ..Default::default()
        })
        .await
        .expect("provision")
        .into_inner();
    wait_done(&mut ops, &operation.name, Duration::from_secs(900)).await;
    println!(
        "provisioned {ACCOUNTS} accounts in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // GetOperation: bounded, with the counts of everything.
    let started = Instant::now();
    let done = ops
        .get_operation(GetOperationRequest {
            name: operation.name.clone(),
        })
        .await
        .expect("get operation")
        .into_inner();
    let get_operation_time = started.elapsed();
    let operation_bytes = done.encoded_len();
    let Some(operation::Result::Response(any)) = &done.result else {
        panic!("provisioning failed: {done:?}");
    };
    let result = v1::OperationResult::decode(any.value.as_slice()).expect("result");
    assert_eq!(result.total_accounts, ACCOUNTS as i32);
    assert_eq!(result.accounts.len(), 100, "the first 100 accounts");
    assert!(result.steps.len() <= 100);
    assert!(
        result.total_steps as usize >= ACCOUNTS,
        "{}",
        result.total_steps
    );
    assert_eq!(
        result
            .account_results
            .iter()
            .map(|c| (c.result(), c.count))
            .collect::<Vec<_>>(),
        vec![(v1::AccountResult::Done, ACCOUNTS as i32)]
    );
    assert_eq!(
        result.step_states.iter().map(|c| c.count).sum::<i32>(),
        result.total_steps
    );
    assert!(
        operation_bytes < 64 * 1024,
        "GetOperation is {operation_bytes} bytes"
    );

    // ListOperationAccounts pages every account exactly once.
    let pages = operation_pages(&mut admin, &operation.name, "", 250).await;
    assert_eq!(pages.len(), ACCOUNTS.div_ceil(250));
    let listed: Vec<String> = pages.into_iter().flatten().collect();
    let expected: Vec<String> = (0..ACCOUNTS)
        .map(|i| format!("{}@{TWO}", username(i)))
        .collect();
    assert_eq!(listed, expected, "every account once, by e-mail");
    let not_done = admin
        .list_operation_accounts(v1::ListOperationAccountsRequest {
            parent: operation.name.clone(),
            filter: "result != DONE".into(),
            ..Default::default()
        })
        .await
        .expect("filtered")
        .into_inner();
    assert!(not_done.accounts.is_empty(), "{not_done:?}");
    let bad = admin
        .list_operation_accounts(v1::ListOperationAccountsRequest {
            parent: operation.name.clone(),
            filter: "result = done".into(),
            ..Default::default()
        })
        .await
        .expect_err("a bad filter");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert_eq!(violations(&bad), vec!["filter".to_owned()]);

    // Mail routing confirmed for the first staff members: their accounts turn OK.
    for i in 0..ROUTED {
        admin
            .confirm_manual_step(v1::ConfirmManualStepRequest {
                domain: format!("domains/{TWO}"),
                step: v1::ManualStep::MailRouting as i32,
                staff_member: format!("staffMembers/{}", staff_id(i)),
                note: "routed".into(),
                request_id: request_id(),
            })
            .await
            .expect("confirm mail routing");
    }

    // GetDomainStatus: a summary of constant size with the right counts.
    let (first, first_time) = timed_status(&mut admin).await;
    let (status, again_time) = timed_status(&mut admin).await;
    assert_eq!(first, status, "nothing changed between the two reads");
    let status_bytes = status.encoded_len();
    assert!(
        status_bytes < 8 * 1024,
        "GetDomainStatus is {status_bytes} bytes"
    );
    let counts = status.account_counts.clone().expect("counts");
    assert_eq!(
        (counts.total, counts.active, counts.revoked),
        (ACCOUNTS as i32, ACCOUNTS as i32, 0)
    );
    assert_eq!(
        counts
            .states
            .iter()
            .map(|c| (c.state(), c.count))
            .collect::<Vec<_>>(),
        vec![
            (v1::CheckState::Ok, ROUTED as i32),
            (
                v1::CheckState::ManualActionRequired,
                (ACCOUNTS - ROUTED) as i32
            ),
        ]
    );
    let routing = status
        .manual_steps
        .iter()
        .find(|m| m.check() == v1::CheckKind::AccountMailRouting)
        .expect("mail routing waits for a person");
    assert_eq!(routing.account_count, (ACCOUNTS - ROUTED) as i32);
    let first_waiting = format!("{}@{TWO}", username(ROUTED));
    assert_eq!(routing.example_account, first_waiting);
    assert!(
        routing.manual_action.contains(&first_waiting),
        "{}",
        routing.manual_action
    );

    // "Who is not OK" is one filtered, paged list: exactly the accounts not routed.
    let started = Instant::now();
    let not_ok = list_all(&mut admin, "state != OK", 400).await;
    let not_ok_time = started.elapsed();
    let not_ok_emails: Vec<&str> = not_ok.iter().map(|a| a.email.as_str()).collect();
    let expected_not_ok: Vec<String> = (ROUTED..ACCOUNTS)
        .map(|i| format!("{}@{TWO}", username(i)))
        .collect();
    assert_eq!(not_ok_emails, expected_not_ok);
    assert!(
        not_ok
            .iter()
            .all(|a| a.state() == v1::CheckState::ManualActionRequired && a.checks.len() == 7)
    );
    let ok = list_all(&mut admin, "state = OK AND desired_access = ACTIVE", 1000).await;
    assert_eq!(
        ok.iter().map(|a| a.email.clone()).collect::<BTreeSet<_>>(),
        (0..ROUTED)
            .map(|i| format!("{}@{TWO}", username(i)))
            .collect::<BTreeSet<_>>()
    );
    let everyone = list_all(&mut admin, "", 1000).await;
    assert_eq!(everyone.len(), ACCOUNTS);
    for bad in [
        "state = FINE",
        "state",
        "email = x",
        "ownership != CREATED",
        "desired_access = active",
    ] {
        let error = admin
            .list_support_accounts(v1::ListSupportAccountsRequest {
                parent: format!("domains/{TWO}"),
                filter: bad.into(),
                ..Default::default()
            })
            .await
            .expect_err(bad);
        assert_eq!(error.code(), tonic::Code::InvalidArgument, "{bad}");
        assert_eq!(violations(&error), vec!["filter".to_owned()], "{bad}");
    }

    // What the status carried before it became a summary: every account with its checks.
    let accounts_bytes: usize = everyone
        .iter()
        .map(|a| {
            let len = a.encoded_len();
            1 + prost::encoding::encoded_len_varint(len as u64) as usize + len
        })
        .sum();
    println!(
        "GetDomainStatus ({ACCOUNTS} accounts): {status_bytes} bytes; first read (computes the snapshot) {:.1} ms, next read {:.1} ms; the accounts the status used to carry: {accounts_bytes} bytes",
        first_time.as_secs_f64() * 1e3,
        again_time.as_secs_f64() * 1e3,
    );
    println!(
        "GetOperation ({ACCOUNTS} accounts): {operation_bytes} bytes in {:.1} ms; ListSupportAccounts state != OK ({} accounts, pages of 400): {:.1} ms",
        get_operation_time.as_secs_f64() * 1e3,
        not_ok.len(),
        not_ok_time.as_secs_f64() * 1e3,
    );
    server.stop().await;
}

#[tokio::test]
async fn a_filter_matching_nothing_reads_a_few_domains_per_call() {
    // Two domains of 1,001 accounts each (over the 1,000 a call looks at), blocked by the demo
    // seed's 50 Cloud Identity seats: the operation's accounts exist, and no Google write is
    // needed to get them.
    const MEMBERS: usize = 1001;
    let server = TestServer::demo().await;
    let mut admin = server.api("admin").await;
    let mut ops = server.ops("admin").await;
    create_domain(&mut admin, ONE).await;
    create_domain(&mut admin, TWO).await;
    declare_team(&mut admin, MEMBERS).await;
    let operation = admin
        .provision_support_access(v1::ProvisionSupportAccessRequest {
            domains: vec![format!("domains/{ONE}"), format!("domains/{TWO}")],
            request_id: request_id(),
            ..Default::default()
        })
        .await
        .expect("provision")
        .into_inner();
    wait_done(&mut ops, &operation.name, Duration::from_secs(300)).await;

    // Nothing was revoked: a call stops after the first domain with an empty page and a token,
    // the next reads the second and ends the list.
    let nothing =
        operation_pages(&mut admin, &operation.name, "result = SKIPPED_REVOKED", 50).await;
    assert_eq!(nothing, vec![Vec::<String>::new(), Vec::new()]);

    // Every account exactly once, in order, whatever the page size and the short pages.
    let expected: Vec<String> = [ONE, TWO]
        .iter()
        .flat_map(|domain| (0..MEMBERS).map(move |i| format!("{}@{domain}", username(i))))
        .collect();
    for page_size in [1000, 700] {
        let pages = operation_pages(&mut admin, &operation.name, "", page_size).await;
        let listed: Vec<String> = pages.into_iter().flatten().collect();
        assert_eq!(listed, expected, "pages of {page_size}");
    }
    // Resuming after a whole domain and within one go together: the pages of 700 end in the
    // middle of the second domain after a short page at the end of the first.
    let pages = operation_pages(&mut admin, &operation.name, "", 700).await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![700, 301, 700, 301]
    );
    server.stop().await;
}
