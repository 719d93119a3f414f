//! Harness of the RPC tests (`tests/rpcs*.rs`): starts the real service in-process on
//! 127.0.0.1:0 with a database of its own and a principals file (an admin of every domain, an
//! operator of `reseller-one.example` only, a viewer), waits until health says SERVING, and
//! offers tonic clients carrying a principal's bearer token plus the few calls every test
//! needs (declare a domain and a staff member, provision and wait for the operation).

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support_access_proto::google::longrunning::operations_client::OperationsClient;
use support_access_proto::google::longrunning::{Operation, WaitOperationRequest};
use support_access_proto::v1;
use support_access_proto::v1::support_access_service_client::SupportAccessServiceClient;
use support_access_server::app::Application;
use support_access_server::auth::principals::token_sha256_hex;
use support_access_server::config::{Cli, Command};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The two reseller domains of the demo seed.
pub const ONE: &str = "reseller-one.example";
pub const TWO: &str = "reseller-two.example";

/// Principals of the test principals file: (id, role, domains or every domain).
const PRINCIPALS: &[(&str, &str, Option<&str>)] = &[
    ("admin", "admin", None),
    ("one-operator", "operator", Some(ONE)),
    ("viewer", "viewer", None),
];

/// Adds the principal's bearer token to every call.
#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// The API as one principal.
pub type Api = SupportAccessServiceClient<InterceptedService<Channel, Bearer>>;
/// Operations as one principal.
pub type Ops = OperationsClient<InterceptedService<Channel, Bearer>>;

/// A running in-process service.
pub struct TestServer {
    pub addr: SocketAddr,
    pub database_url: String,
    pub database_name: String,
    /// The demo emulator's base URL (demo mode only).
    pub emulator_url: Option<String>,
    tokens: Vec<(&'static str, String)>,
    pub dir: TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// The PostgreSQL server of the tests.
pub fn admin_database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn database_url_for(name: &str) -> String {
    let admin = admin_database_url();
    match admin.rfind('/') {
        Some(i) => format!("{}/{name}", &admin[..i]),
        None => format!("{admin}/{name}"),
    }
}

/// A fresh request id.
pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl TestServer {
    /// Starts a server with the default flags plus `extra` (demo mode when `extra` names no
    /// credential) and waits until it serves.
    pub async fn start(extra: &[String]) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut tokens = Vec::new();
        let mut yaml = String::from("principals:\n");
        for (id, role, domain) in PRINCIPALS {
            let token = format!("rpcs-{id}-{}", uuid::Uuid::new_v4().simple());
            yaml.push_str(&format!("  - id: {id}\n    role: {role}\n"));
            if let Some(domain) = domain {
                yaml.push_str(&format!("    domains: [{domain}]\n"));
            }
            yaml.push_str(&format!(
                "    token_sha256: [{}]\n",
                token_sha256_hex(&token)
            ));
            tokens.push((*id, token));
        }
        let principals = dir.path().join("principals.yaml");
        std::fs::write(&principals, yaml).expect("write principals file");
        let database_name = format!("sa_rpcs_{}", uuid::Uuid::new_v4().simple());
        let database_url = database_url_for(&database_name);
        let mut args: Vec<String> = [
            "support-access",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &database_url,
            "--principals-file",
            &principals.display().to_string(),
        ]
        .map(str::to_owned)
        .to_vec();
        args.extend(extra.iter().cloned());
        let Command::Serve(config) = <Cli as clap::Parser>::try_parse_from(args)
            .expect("test flags parse")
            .command;
        let app = Application::build(config)
            .await
            .expect("application builds");
        let addr = app.local_addr();
        let emulator_url = app.demo_emulator_url();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        let server = TestServer {
            addr,
            database_url,
            database_name,
            emulator_url,
            tokens,
            dir,
            stop: Some(stop),
            task: Some(task),
        };
        server.wait_until_serving().await;
        server
    }

    /// Starts a server in demo mode (the built-in emulator with the demo seed).
    pub async fn demo() -> TestServer {
        TestServer::start(&["--demo".to_owned()]).await
    }

    async fn wait_until_serving(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.task.as_ref().is_some_and(JoinHandle::is_finished) {
                panic!("the server stopped while starting");
            }
            if let Ok(channel) = self.channel().await {
                let serving = HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .is_ok_and(|r| r.into_inner().status() == ServingStatus::Serving);
                if serving {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the server did not become healthy"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn channel(&self) -> Result<Channel, tonic::transport::Error> {
        Channel::from_shared(format!("http://{}", self.addr))
            .expect("endpoint")
            .connect()
            .await
    }

    fn bearer(&self, principal: &str) -> Bearer {
        let token = &self
            .tokens
            .iter()
            .find(|(id, _)| *id == principal)
            .unwrap_or_else(|| panic!("no test principal {principal}"))
            .1;
        Bearer(format!("Bearer {token}").parse().expect("header value"))
    }

    /// The API as `principal` (`admin`, `one-operator`, `viewer`).
    pub async fn api(&self, principal: &str) -> Api {
        let channel = self.channel().await.expect("connect");
        SupportAccessServiceClient::with_interceptor(channel, self.bearer(principal))
    }

    /// Operations as `principal`.
    pub async fn ops(&self, principal: &str) -> Ops {
        let channel = self.channel().await.expect("connect");
        OperationsClient::with_interceptor(channel, self.bearer(principal))
    }

    /// A connection to the server's database.
    pub async fn database(&self) -> sqlx::PgConnection {
        use sqlx::Connection;
        sqlx::PgConnection::connect(&self.database_url)
            .await
            .expect("connect to the test database")
    }

    /// Stops the server (waiting for it) and drops its database.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
        use sqlx::Connection;
        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_database_url()).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.database_name
            )))
            .execute(&mut conn)
            .await;
        }
    }
}

/// Declares a reseller domain with the demo credential and its `admin@` delegated admin.
pub async fn create_domain(api: &mut Api, domain_name: &str) -> v1::Domain {
    api.create_domain(v1::CreateDomainRequest {
        domain: Some(v1::Domain {
            domain_name: domain_name.to_owned(),
            credential: "default".to_owned(),
            delegated_admin: format!("admin@{domain_name}"),
            ..Default::default()
        }),
        request_id: request_id(),
        validate_only: false,
    })
    .await
    .expect("create domain")
    .into_inner()
}

/// Declares a staff member `staffMembers/{id}` with username `username`.
pub async fn create_staff(api: &mut Api, id: &str, username: &str) -> v1::StaffMember {
    api.create_staff_member(v1::CreateStaffMemberRequest {
        staff_member: Some(v1::StaffMember {
            username: username.to_owned(),
            given_name: "Ana".to_owned(),
            family_name: "Silva".to_owned(),
            workspace_email: format!("{username}@workspace.example"),
            ..Default::default()
        }),
        staff_member_id: id.to_owned(),
        request_id: request_id(),
        validate_only: false,
    })
    .await
    .expect("create staff member")
    .into_inner()
}

/// Provisions `staff` in `domains` and waits until the operation is done.
pub async fn provision(
    api: &mut Api,
    ops: &mut Ops,
    domains: &[&str],
    staff: &[&str],
) -> Operation {
    let operation = api
        .provision_support_access(v1::ProvisionSupportAccessRequest {
            domains: domains.iter().map(|d| format!("domains/{d}")).collect(),
            staff_members: staff.iter().map(|s| format!("staffMembers/{s}")).collect(),
            request_id: request_id(),
            validate_only: false,
        })
        .await
        .expect("provision")
        .into_inner();
    wait_done(ops, &operation.name, Duration::from_secs(60)).await
}

/// Waits until operation `name` is done, at most `within`.
pub async fn wait_done(ops: &mut Ops, name: &str, within: Duration) -> Operation {
    let deadline = Instant::now() + within;
    loop {
        let current = ops
            .wait_operation(WaitOperationRequest {
                name: name.to_owned(),
                timeout: Some(prost_types::Duration {
                    seconds: 10,
                    nanos: 0,
                }),
            })
            .await
            .expect("wait operation")
            .into_inner();
        if current.done {
            return current;
        }
        assert!(
            Instant::now() < deadline,
            "the operation did not finish: {current:?}"
        );
    }
}

/// The field violations of an INVALID_ARGUMENT status, by field.
pub fn violations(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

/// The ErrorInfo reason of a status.
pub fn reason(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}
