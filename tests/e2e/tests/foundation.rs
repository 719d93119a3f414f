//! The foundation, as an operator sees it: the real binary on real PostgreSQL, driven with
//! grpcurl (reflection only, no proto files) and a tonic client.

use prost_types::FieldMask;
use support_access_e2e::{Service, free_port};
use support_access_proto::v1;
use tonic::Code;
use tonic_types::StatusExt;

const REQUEST_ID: &str = "0b7c6a8e-3f0d-4c1e-9a55-2f6f1d2c9e01";

fn stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "grpcurl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

fn domain(name: &str) -> v1::Domain {
    v1::Domain {
        domain_name: name.into(),
        credential: "default".into(),
        delegated_admin: format!("admin@{name}"),
        ..Default::default()
    }
}

#[tokio::test]
async fn grpcurl_lists_and_describes_the_documented_api() {
    let service = Service::start(&["--demo", "--insecure-dev-mode"])
        .await
        .unwrap();
    let list = stdout(&service.grpcurl(&[], &["list"]).unwrap());
    for expected in [
        "supportaccess.v1.SupportAccessService",
        "google.longrunning.Operations",
        "grpc.health.v1.Health",
    ] {
        assert!(
            list.lines().any(|l| l == expected),
            "{expected} missing from:\n{list}"
        );
    }
    let described = stdout(
        &service
            .grpcurl(&[], &["describe", "supportaccess.v1.Domain"])
            .unwrap(),
    );
    assert!(
        described.contains("// The super administrator of this domain"),
        "{described}"
    );
    let rpc = stdout(
        &service
            .grpcurl(
                &[],
                &[
                    "describe",
                    "supportaccess.v1.SupportAccessService.ProvisionSupportAccess",
                ],
            )
            .unwrap(),
    );
    assert!(
        rpc.contains("returns ( .google.longrunning.Operation )"),
        "{rpc}"
    );
}

#[tokio::test]
async fn grpcurl_crud_with_request_id_replay() {
    let service = Service::start(&["--demo", "--insecure-dev-mode"])
        .await
        .unwrap();
    let create = format!(
        r#"{{"domain":{{"domainName":"Reseller-One.example","credential":"default","delegatedAdmin":"admin@reseller-one.example"}},"requestId":"{REQUEST_ID}"}}"#
    );
    let method = "supportaccess.v1.SupportAccessService/CreateDomain";
    let first = stdout(&service.grpcurl(&["-d", &create], &[method]).unwrap());
    let second = stdout(&service.grpcurl(&["-d", &create], &[method]).unwrap());
    assert_eq!(
        first, second,
        "a replayed request id returns the first result"
    );
    let created: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(created["name"], "domains/reseller-one.example");
    assert_eq!(created["orgUnitPath"], "/Customer Care Portal");
    assert_eq!(created["roleMode"], "ROLE_MODE_CUSTOM_ROLE");

    // The same request id with another request is refused.
    let other = create
        .replace("Reseller-One.example", "reseller-two.example")
        .replace("reseller-one", "reseller-two");
    let refused = service.grpcurl(&["-d", &other], &[method]).unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("AlreadyExists"));

    let get = stdout(
        &service
            .grpcurl(
                &["-d", r#"{"name":"domains/reseller-one.example"}"#],
                &["supportaccess.v1.SupportAccessService/GetDomain"],
            )
            .unwrap(),
    );
    assert_eq!(get, first);

    let update = stdout(
        &service
            .grpcurl(
                &[
                    "-d",
                    r#"{"domain":{"name":"domains/reseller-one.example","displayName":"Reseller One"},"updateMask":{"paths":["display_name"]}}"#,
                ],
                &["supportaccess.v1.SupportAccessService/UpdateDomain"],
            )
            .unwrap(),
    );
    let updated: serde_json::Value = serde_json::from_str(&update).unwrap();
    assert_eq!(updated["displayName"], "Reseller One");
    assert_ne!(updated["etag"], created["etag"]);

    stdout(
        &service
            .grpcurl(
                &["-d", r#"{"name":"domains/reseller-one.example"}"#],
                &["supportaccess.v1.SupportAccessService/DeleteDomain"],
            )
            .unwrap(),
    );
    let gone = service
        .grpcurl(
            &["-d", r#"{"name":"domains/reseller-one.example"}"#],
            &["supportaccess.v1.SupportAccessService/GetDomain"],
        )
        .unwrap();
    assert!(String::from_utf8_lossy(&gone.stderr).contains("NotFound"));
}

#[tokio::test]
async fn domains_and_staff_page_through_every_item_once() {
    let service = Service::start(&["--demo", "--insecure-dev-mode"])
        .await
        .unwrap();
    let mut client = service.client().await.unwrap();
    for i in 0..7 {
        client
            .create_domain(v1::CreateDomainRequest {
                domain: Some(domain(&format!("reseller-{i}.example"))),
                ..Default::default()
            })
            .await
            .unwrap();
        client
            .create_staff_member(v1::CreateStaffMemberRequest {
                staff_member: Some(v1::StaffMember {
                    username: format!("agent.{i}"),
                    given_name: "Ana".into(),
                    family_name: format!("Silva {i}"),
                    workspace_email: format!("agent{i}@partner.example"),
                    ..Default::default()
                }),
                staff_member_id: format!("agent-{i}"),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_domains(v1::ListDomainsRequest {
                page_size: 3,
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.domains.len() <= 3);
        seen.extend(page.domains.into_iter().map(|d| d.domain_name));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    let expected: Vec<String> = (0..7).map(|i| format!("reseller-{i}.example")).collect();
    assert_eq!(seen, expected);

    let staff = client
        .list_staff_members(v1::ListStaffMembersRequest {
            page_size: 5,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(staff.staff_members.len(), 5);
    assert_eq!(staff.staff_members[0].name, "staffMembers/agent-0");
    let rest = client
        .list_staff_members(v1::ListStaffMembersRequest {
            page_size: 5,
            page_token: staff.next_page_token,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.staff_members.len(), 2);
    assert!(rest.next_page_token.is_empty());

    let bad_token = client
        .list_staff_members(v1::ListStaffMembersRequest {
            page_size: 5,
            page_token: "forged".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_token.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn bad_input_is_refused_with_field_violations_and_writes_nothing() {
    let service = Service::start(&["--demo", "--insecure-dev-mode"])
        .await
        .unwrap();
    let mut client = service.client().await.unwrap();

    let error = client
        .create_domain(v1::CreateDomainRequest {
            domain: Some(v1::Domain {
                domain_name: "not a domain".into(),
                credential: "default".into(),
                delegated_admin: "someone@gmail.com".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    let fields: Vec<String> = error
        .get_details_bad_request()
        .expect("bad request details")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert!(
        fields.contains(&"domain.domain_name".to_owned()),
        "{fields:?}"
    );

    // A gmail.com admin for a real domain is named precisely.
    let error = client
        .create_domain(v1::CreateDomainRequest {
            domain: Some(v1::Domain {
                delegated_admin: "boss@gmail.com".into(),
                ..domain("reseller.example")
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let violations = error.get_details_bad_request().unwrap().field_violations;
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].field, "domain.delegated_admin");

    let error = client
        .create_staff_member(v1::CreateStaffMemberRequest {
            staff_member: Some(v1::StaffMember {
                username: String::new(),
                given_name: "x".repeat(61),
                family_name: String::new(),
                workspace_email: "nobody".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    let fields: Vec<String> = error
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(
        fields,
        [
            "staff_member.username",
            "staff_member.given_name",
            "staff_member.family_name",
            "staff_member.workspace_email"
        ]
    );

    let error = client
        .list_domains(v1::ListDomainsRequest {
            page_size: -1,
            page_token: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert_eq!(
        error.get_details_bad_request().unwrap().field_violations[0].field,
        "page_size"
    );

    client
        .create_domain(v1::CreateDomainRequest {
            domain: Some(domain("reseller.example")),
            ..Default::default()
        })
        .await
        .unwrap();
    let error = client
        .update_domain(v1::UpdateDomainRequest {
            domain: Some(v1::Domain {
                name: "domains/reseller.example".into(),
                display_name: "New".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec![
                    "display_name".into(),
                    "domain_name".into(),
                    "nonsense".into(),
                ],
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    let fields: Vec<String> = error
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["update_mask.paths[1]", "update_mask.paths[2]"]);

    // A 5 MB request is refused before it reaches a handler.
    let error = client
        .create_domain(v1::CreateDomainRequest {
            domain: Some(v1::Domain {
                display_name: "x".repeat(5 * 1024 * 1024),
                ..domain("huge.example")
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::ResourceExhausted, "{error:?}");

    // Nothing of the rejected requests was written: one domain, unchanged, no staff.
    let domains = client
        .list_domains(v1::ListDomainsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .domains;
    assert_eq!(domains.len(), 1);
    assert_eq!(domains[0].display_name, "");
    let staff = client
        .list_staff_members(v1::ListStaffMembersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(staff.staff_members.is_empty());
}

#[tokio::test]
async fn stale_etag_is_aborted() {
    let service = Service::start(&["--demo", "--insecure-dev-mode"])
        .await
        .unwrap();
    let mut client = service.client().await.unwrap();
    let created = client
        .create_domain(v1::CreateDomainRequest {
            domain: Some(domain("reseller.example")),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    client
        .update_domain(v1::UpdateDomainRequest {
            domain: Some(v1::Domain {
                name: created.name.clone(),
                display_name: "First".into(),
                etag: created.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["display_name".into()],
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let error = client
        .delete_domain(v1::DeleteDomainRequest {
            name: created.name.clone(),
            etag: created.etag,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Aborted);
}

#[tokio::test]
async fn health_is_not_serving_while_postgres_is_unreachable() {
    let port = free_port();
    let dead = format!("postgres://postgres@127.0.0.1:{}/nothing", free_port());
    let binary = support_access_e2e::workspace_binary("support-access");
    let mut child = std::process::Command::new(binary)
        .args([
            "serve",
            "--demo",
            "--insecure-dev-mode",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--database-url", &dead])
        .env("RUST_LOG", "error")
        .spawn()
        .unwrap();
    let mut status = None;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if let Ok(channel) =
            tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))
                .unwrap()
                .connect()
                .await
        {
            let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
            let response = health
                .check(tonic_health::pb::HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .unwrap()
                .into_inner();
            let mut client =
                v1::support_access_service_client::SupportAccessServiceClient::new(channel);
            let rpc = client
                .list_domains(v1::ListDomainsRequest::default())
                .await
                .unwrap_err();
            status = Some((response.status(), rpc.code()));
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        status,
        Some((
            tonic_health::pb::health_check_response::ServingStatus::NotServing,
            Code::Unavailable
        ))
    );
}

#[tokio::test]
async fn sigterm_stops_the_service_cleanly() {
    let mut service = Service::start(&["--demo", "--insecure-dev-mode"])
        .await
        .unwrap();
    assert!(service.terminate().unwrap(), "exit status 0 after SIGTERM");
}

/// A production start without a service-account key refuses at once and names both ways out:
/// the key, or the demo chosen explicitly. It never falls back to a fake Google.
#[tokio::test]
async fn serve_without_a_key_refuses_and_names_the_key_and_the_demo() {
    let binary = support_access_e2e::workspace_binary("support-access");
    let output = std::process::Command::new(binary)
        .args(["serve", "--insecure-dev-mode", "--listen", "127.0.0.1:0"])
        .env_remove("SUPPORT_ACCESS_CREDENTIALS")
        .env_remove("SUPPORT_ACCESS_DEMO")
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no service-account key is configured")
            && stderr.contains("--credential NAME=PATH")
            && stderr.contains("--demo"),
        "{stderr}"
    );
}
