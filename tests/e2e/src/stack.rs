//! The stack the end-to-end tests drive, and the questions they ask of it: a `workspace-emulator`
//! process with the key it verifies and a `support-access` server pointed at both (or several
//! servers on one database), the declarations and RPCs of a provisioning run, and what Google
//! (the emulator) holds afterwards. Shared by `tests/provisioning.rs` and `tests/faults.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use prost::Message;
use support_access_proto::google::longrunning::{Operation, WaitOperationRequest, operation};
use support_access_proto::google::rpc;
use support_access_proto::v1;
use support_access_proto::v1::support_access_service_client::SupportAccessServiceClient;
use tonic::transport::Channel;

use crate::{Emulator, Ledger, Service, seed_path};

pub const SERVICE_ACCOUNT: &str = "support-access@e2e-project.iam.gserviceaccount.com";
pub const SUPPORT_ORG_UNIT: &str = "/Customer Care Portal";
pub const PORTAL_ROLE: &str = "Customer Care Portal Access";
pub const CLOUD_IDENTITY_FREE: (&str, &str) = ("101001", "1010010001");

/// The seeded reseller domains and their customer ids (`tests/e2e/seeds/resellers.yaml`).
pub const DOMAIN_A: (&str, &str) = ("reseller-a.example", "C0e2eresa");
pub const DOMAIN_B: (&str, &str) = ("reseller-b.example", "C0e2eresb");
pub const DOMAIN_C: (&str, &str) = ("reseller-c.example", "C0e2eresc");
pub const DOMAIN_D: (&str, &str) = ("reseller-d.example", "C0e2eresd");

/// The emulator, the key it verifies, and a server pointed at both.
pub struct Stack {
    /// The emulator.
    pub emulator: Emulator,
    /// The service-account key file the emulator verifies.
    pub key: PathBuf,
    /// The server.
    pub service: Service,
}

impl Stack {
    /// The emulator on `seeds/resellers.yaml` and a server with `server_flags`.
    pub async fn start(server_flags: &[&str]) -> Stack {
        Stack::start_with_seed("resellers.yaml", server_flags).await
    }

    /// The emulator on `seeds/{seed}` and a server with `server_flags`.
    pub async fn start_with_seed(seed: &str, server_flags: &[&str]) -> Stack {
        Stack::start_with_emulator_flags(seed, &[], server_flags).await
    }

    /// The emulator on `seeds/{seed}` with `emulator_flags` after `serve` (for example
    /// `--profile realistic`), and a server with `server_flags`.
    pub async fn start_with_emulator_flags(
        seed: &str,
        emulator_flags: &[&str],
        server_flags: &[&str],
    ) -> Stack {
        let emulator = Emulator::start(&seed_path(seed), emulator_flags)
            .await
            .unwrap();
        let key = emulator.keygen(SERVICE_ACCOUNT).unwrap();
        let service = start_service(&emulator, &key, None, server_flags).await;
        Stack {
            emulator,
            key,
            service,
        }
    }

    /// A client of the server.
    pub async fn client(&self) -> SupportAccessServiceClient<Channel> {
        self.service.client().await.unwrap()
    }
}

pub async fn start_service(
    emulator: &Emulator,
    key: &Path,
    database: Option<&str>,
    extra: &[&str],
) -> Service {
    let mut args = emulator.server_args(key);
    args.push("--insecure-dev-mode".into());
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match database {
        Some(name) => Service::start_with_database(name, &args).await.unwrap(),
        None => Service::start(&args).await.unwrap(),
    }
}

pub fn staff_id(i: usize) -> String {
    format!("agent-{i:02}")
}

pub fn account(i: usize, domain: &str) -> String {
    format!("agent.{i:02}@{domain}")
}

/// Declares `domains` (custom-role mode, the default) and `staff` staff members.
pub async fn declare(
    client: &mut SupportAccessServiceClient<Channel>,
    domains: &[&str],
    staff: usize,
) {
    for domain in domains {
        client
            .create_domain(v1::CreateDomainRequest {
                domain: Some(v1::Domain {
                    domain_name: (*domain).to_owned(),
                    credential: "default".into(),
                    delegated_admin: format!("admin@{domain}"),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    for i in 0..staff {
        client
            .create_staff_member(v1::CreateStaffMemberRequest {
                staff_member: Some(v1::StaffMember {
                    username: format!("agent.{i:02}"),
                    given_name: "Agent".into(),
                    family_name: format!("Number {i:02}"),
                    workspace_email: format!("agent{i:02}@partner.example"),
                    ..Default::default()
                }),
                staff_member_id: staff_id(i),
                ..Default::default()
            })
            .await
            .unwrap();
    }
}

pub async fn provision(
    client: &mut SupportAccessServiceClient<Channel>,
    domains: &[&str],
    staff: &[String],
    request_id: &str,
) -> Operation {
    client
        .provision_support_access(v1::ProvisionSupportAccessRequest {
            domains: domains.iter().map(|d| format!("domains/{d}")).collect(),
            staff_members: staff.iter().map(|s| format!("staffMembers/{s}")).collect(),
            request_id: request_id.to_owned(),
            validate_only: false,
        })
        .await
        .unwrap()
        .into_inner()
}

/// Waits (with WaitOperation) until the operation is done.
pub async fn wait_done(service: &Service, name: &str, limit: Duration) -> Operation {
    let mut operations = service.operations().await.unwrap();
    let deadline = Instant::now() + limit;
    loop {
        let operation = operations
            .wait_operation(WaitOperationRequest {
                name: name.to_owned(),
                timeout: Some(prost_types::Duration {
                    seconds: 5,
                    nanos: 0,
                }),
            })
            .await
            .unwrap()
            .into_inner();
        if operation.done {
            return operation;
        }
        assert!(
            Instant::now() < deadline,
            "{name} not done after {limit:?}; metadata: {:?}",
            metadata(&operation)
        );
    }
}

pub fn metadata(operation: &Operation) -> v1::OperationMetadata {
    let any = operation.metadata.as_ref().expect("operation metadata");
    v1::OperationMetadata::decode(any.value.as_slice()).unwrap()
}

/// The operation's error (if it failed) and its result (the response, or the error's detail).
pub fn outcome(operation: &Operation) -> (Option<rpc::Status>, v1::OperationResult) {
    match operation
        .result
        .as_ref()
        .expect("a done operation has a result")
    {
        operation::Result::Response(any) => (
            None,
            v1::OperationResult::decode(any.value.as_slice()).unwrap(),
        ),
        operation::Result::Error(status) => {
            let detail = status
                .details
                .iter()
                .find(|d| d.type_url.ends_with("supportaccess.v1.OperationResult"))
                .expect("a failed operation carries its result");
            (
                Some(status.clone()),
                v1::OperationResult::decode(detail.value.as_slice()).unwrap(),
            )
        }
    }
}

/// What the emulator holds for one support account.
#[derive(Debug, PartialEq, Eq)]
pub struct AccountInGoogle {
    /// `orgUnitPath`.
    pub org_unit: String,
    /// `suspended`.
    pub suspended: bool,
    /// (productId, skuId) of every license.
    pub licenses: BTreeSet<(String, String)>,
    /// Names of the roles assigned to the account.
    pub roles: Vec<String>,
}

/// Every user of a customer as the emulator holds it, by e-mail.
pub async fn accounts_in_google(
    emulator: &Emulator,
    customer: &str,
) -> BTreeMap<String, AccountInGoogle> {
    let state = emulator.customer_state(customer).await.unwrap();
    let role_names: BTreeMap<String, String> = state["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["roleId"].as_str().unwrap().to_owned(),
                r["roleName"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut accounts: BTreeMap<String, AccountInGoogle> = state["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["primaryEmail"].as_str().unwrap().to_owned(),
                AccountInGoogle {
                    org_unit: u["orgUnitPath"].as_str().unwrap_or("/").to_owned(),
                    suspended: u["suspended"].as_bool().unwrap_or(false),
                    licenses: BTreeSet::new(),
                    roles: Vec::new(),
                },
            )
        })
        .collect();
    for license in state["licenseAssignments"].as_array().unwrap() {
        if let Some(account) = accounts.get_mut(license["userId"].as_str().unwrap()) {
            account.licenses.insert((
                license["productId"].as_str().unwrap().to_owned(),
                license["skuId"].as_str().unwrap().to_owned(),
            ));
        }
    }
    for assignment in state["roleAssignments"].as_array().unwrap() {
        if let Some(account) = accounts.get_mut(assignment["assignedToEmail"].as_str().unwrap()) {
            account
                .roles
                .push(role_names[assignment["roleId"].as_str().unwrap()].clone());
        }
    }
    accounts
}

/// Asserts that `ledger` shows exactly one user creation and one portal-role assignment for
/// each of the `staff` accounts of `domain`.
pub fn assert_created_once(ledger: &Ledger, domain: &str, staff: usize) {
    let users = ledger.effects_by_key("user", "created");
    let roles = ledger.effects_by_key("roleAssignment", "created");
    for i in 0..staff {
        let email = account(i, domain);
        assert_eq!(
            users.get(&email),
            Some(&1),
            "users.insert effects of {email}"
        );
        assert_eq!(
            roles.get(&format!("{PORTAL_ROLE}/{email}")),
            Some(&1),
            "role assignments of {email}"
        );
    }
}

/// Asserts that Google holds exactly the desired state for `staff` accounts of `domain`.
pub async fn assert_provisioned(
    emulator: &Emulator,
    (domain, customer): (&str, &str),
    staff: usize,
) {
    let accounts = accounts_in_google(emulator, customer).await;
    let ci_free = BTreeSet::from([(
        CLOUD_IDENTITY_FREE.0.to_owned(),
        CLOUD_IDENTITY_FREE.1.to_owned(),
    )]);
    for i in 0..staff {
        let email = account(i, domain);
        let found = accounts
            .get(&email)
            .unwrap_or_else(|| panic!("{email} does not exist in Google"));
        assert_eq!(
            found,
            &AccountInGoogle {
                org_unit: SUPPORT_ORG_UNIT.into(),
                suspended: false,
                licenses: ci_free.clone(),
                roles: vec![PORTAL_ROLE.into()],
            },
            "{email}"
        );
    }
}

/// Per-customer reads by method, writes, and effects, for the report in assertion messages.
pub fn summary(ledger: &Ledger, customer: &str) -> String {
    format!(
        "reads {:?}\nwrites {:?}",
        ledger.reads_by_method(customer),
        ledger.writes_by_method(customer)
    )
}
