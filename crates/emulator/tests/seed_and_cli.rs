//! Seeds and the command line: `seeds/demo.yaml` is `Seed::demo()`, key files written by the
//! emulator or by `keygen` are the keys it verifies, bad seeds are refused, and the binary's
//! `serve`, `keygen` and `--help` behave as the README says.

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use common::{ADMIN_ONE, Api, SA};
use serde_json::Value;
use support_access_emulator::Seed;

const BIN: &str = env!("CARGO_BIN_EXE_workspace-emulator");

#[test]
fn demo_yaml_equals_seed_demo() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/seeds/demo.yaml");
    assert_eq!(Seed::from_file(path).unwrap(), Seed::demo());
}

#[test]
fn json_seeds_work_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.json");
    std::fs::write(&path, serde_json::to_string(&Seed::demo()).unwrap()).unwrap();
    assert_eq!(Seed::from_file(&path).unwrap(), Seed::demo());
}

#[tokio::test]
async fn a_missing_key_file_is_written_at_start_and_reused_later() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("sa.json");
    let mut seed = Seed::demo();
    seed.service_accounts[0].key_file = Some(key_path.clone());
    let emulator = common::start(seed.clone()).await;
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&key_path).unwrap()).unwrap();
    assert_eq!(written["token_uri"], emulator.token_url());
    assert_eq!(written["client_id"], "108886453372197465014");
    let served: Value =
        serde_json::from_str(&emulator.service_account_key_json(SA).unwrap()).unwrap();
    assert_eq!(written["private_key_id"], served["private_key_id"]);
    emulator.shutdown().await;

    // A second start with the same seed loads the file instead of generating a key.
    let emulator = common::start(seed).await;
    let served: Value =
        serde_json::from_str(&emulator.service_account_key_json(SA).unwrap()).unwrap();
    assert_eq!(written["private_key"], served["private_key"]);
    let api = Api::new(&emulator, ADMIN_ONE).await;
    assert_eq!(
        api.get("admin/directory/v1/customers/my_customer")
            .await
            .status,
        200
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_public_key_seed_verifies_but_cannot_hand_out_the_key() {
    let key = support_access_emulator::keys::AccountKey::generate().unwrap();
    let file = key.key_file("p", SA, "42", "http://unused/token").unwrap();
    let key_json = serde_json::to_string(&file).unwrap();
    // Derive the public key PEM through aws-lc-rs, as a seed author would with openssl.
    let der = support_access_emulator::keys::pem_decode(&file.private_key, "PRIVATE KEY").unwrap();
    let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).unwrap();
    let public_der = aws_lc_rs::signature::KeyPair::public_key(&pair)
        .as_ref()
        .to_vec();
    let public_pem = support_access_emulator::keys::pem_encode("RSA PUBLIC KEY", &public_der);
    let mut seed = Seed::demo();
    seed.service_accounts[0].public_key_pem = Some(public_pem);
    let emulator = common::start(seed).await;
    assert!(emulator.service_account_key_json(SA).is_err());
    let assertion = common::sign_jwt(
        &key_json,
        serde_json::json!({"alg": "RS256", "typ": "JWT"}),
        common::claims(&key_json, ADMIN_ONE, &common::all_scopes()),
    );
    assert_eq!(common::post_assertion(&emulator, &assertion).await.0, 200);
    emulator.shutdown().await;
}

#[tokio::test]
async fn bad_seeds_are_refused_with_a_reason() {
    let mut duplicate_domain = Seed::demo();
    duplicate_domain.customers[1].domain = "reseller-one.example".to_owned();
    let mut foreign_user = Seed::demo();
    foreign_user.customers[0].users[1].primary_email = "sales@elsewhere.example".to_owned();
    let mut unknown_privilege = Seed::demo();
    unknown_privilege.customers[0]
        .custom_roles
        .push(support_access_emulator::SeedRole {
            name: "Broken".to_owned(),
            description: None,
            privileges: vec!["NO_SUCH_PRIVILEGE".to_owned()],
        });
    let mut unsubscribed_license = Seed::demo();
    unsubscribed_license.customers[0].users[0].licenses = vec!["Google-Apps/1010020020".to_owned()];
    let mut unverified_user = Seed::demo();
    unverified_user.customers[0].users[1].primary_email =
        "sales@reseller-one-new.example".to_owned();
    let mut taken_secondary = Seed::demo();
    taken_secondary.customers[1].secondary_domains =
        vec![support_access_emulator::seed::SeedSecondaryDomain {
            name: "reseller-one-eu.example".to_owned(),
            verified: true,
        }];
    let mut orphan_alias = Seed::demo();
    orphan_alias.customers[0].domain_aliases[0].parent = Some("nowhere.example".to_owned());
    for (seed, expected) in [
        (duplicate_domain, "appears twice"),
        (unverified_user, "verified secondary domains"),
        (taken_secondary, "reseller-one-eu.example appears twice"),
        (orphan_alias, "not a domain of"),
        (foreign_user, "not in domain"),
        (unknown_privilege, "unknown privilege"),
        (unsubscribed_license, "does not subscribe"),
    ] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let error = support_access_emulator::start(listener, seed)
            .await
            .err()
            .unwrap();
        assert!(format!("{error:#}").contains(expected), "{error:#}");
    }
    assert!(Seed::from_yaml_str("customers: [{domain: x.example, surprise: 1}]").is_err());
}

#[tokio::test]
async fn custom_roles_in_a_seed_exist_at_start() {
    let mut seed = Seed::demo();
    seed.customers[0]
        .custom_roles
        .push(support_access_emulator::SeedRole {
            name: "Customer Care Portal Access".to_owned(),
            description: Some("portal".to_owned()),
            privileges: vec![
                "RESELLER_VIEW_CUSTOMERS".to_owned(),
                "RESELLER_ACCESS_CUSTOMER_SUPPORT_CASES".to_owned(),
            ],
        });
    let emulator = common::start(seed).await;
    let api = Api::new(&emulator, ADMIN_ONE).await;
    let roles = api
        .get("admin/directory/v1/customer/my_customer/roles")
        .await;
    let role = roles.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["roleName"] == "Customer Care Portal Access")
        .cloned()
        .unwrap();
    assert!(role.get("isSystemRole").is_none());
    assert_eq!(role["rolePrivileges"].as_array().unwrap().len(), 2);
    emulator.shutdown().await;
}

/// A `serve` child process; killed (by its own pid) when dropped.
struct Served {
    child: Child,
    base_url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str]) -> Served {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn workspace-emulator");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base_url = line
        .trim()
        .strip_prefix("workspace-emulator listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Served { child, base_url }
}

#[test]
fn serve_demo_writes_keys_and_keygen_fetches_the_same_key() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let served = serve(&[
        "--listen",
        "127.0.0.1:0",
        "--demo",
        "--write-keys",
        keys.to_str().unwrap(),
    ]);
    assert!(served.base_url.starts_with("http://127.0.0.1:"));
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(keys.join(format!("{SA}.json"))).unwrap())
            .unwrap();
    assert_eq!(written["token_uri"], format!("{}token", served.base_url));
    let fetched_path = dir.path().join("fetched.json");
    let status = Command::new(BIN)
        .args([
            "keygen",
            "--emulator",
            &served.base_url,
            "--client-email",
            SA,
            "--out",
        ])
        .arg(&fetched_path)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let fetched: Value =
        serde_json::from_str(&std::fs::read_to_string(&fetched_path).unwrap()).unwrap();
    assert_eq!(fetched["private_key"], written["private_key"]);
    let status = Command::new(BIN)
        .args([
            "keygen",
            "--emulator",
            &served.base_url,
            "--client-email",
            "nobody@x.iam.gserviceaccount.com",
            "--out",
        ])
        .arg(dir.path().join("nope.json"))
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "unknown account is an error");
}

#[test]
fn serve_demo_writes_an_authorized_user_file_per_super_admin() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let served = serve(&[
        "--listen",
        "127.0.0.1:0",
        "--demo",
        "--write-keys",
        keys.to_str().unwrap(),
    ]);
    let mut refresh_tokens = Vec::new();
    for admin in ["admin@reseller-one.example", "admin@reseller-two.example"] {
        let path = keys.join(format!("authorized-user-{admin}.json"));
        let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(file["type"], "authorized_user");
        assert_eq!(file["token_uri"], format!("{}token", served.base_url));
        for field in ["client_id", "client_secret", "refresh_token"] {
            assert!(
                file[field].as_str().is_some_and(|v| !v.is_empty()),
                "{field} in {file}"
            );
        }
        refresh_tokens.push(file["refresh_token"].clone());
    }
    assert_ne!(refresh_tokens[0], refresh_tokens[1]);
    let written = std::fs::read_dir(&keys).unwrap().count();
    assert_eq!(written, 3, "one key file and two authorized-user files");
}

#[test]
fn keygen_then_serve_with_the_key_file_in_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let seed_path = dir.path().join("seed.yaml");
    let key_path = dir.path().join("sa.json");
    let mut seed = Seed::demo();
    seed.service_accounts[0].key_file = Some("sa.json".into());
    std::fs::write(&seed_path, serde_yaml::to_string(&seed).unwrap()).unwrap();
    let status = Command::new(BIN)
        .args(["keygen", "--client-email", SA, "--seed"])
        .arg(&seed_path)
        .args([
            "--token-uri",
            &format!("http://127.0.0.1:{port}/token"),
            "--out",
        ])
        .arg(&key_path)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let generated: Value =
        serde_json::from_str(&std::fs::read_to_string(&key_path).unwrap()).unwrap();
    assert_eq!(generated["project_id"], "demo-project");
    let served = serve(&[
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--seed",
        seed_path.to_str().unwrap(),
    ]);
    // The running emulator verifies with the generated key: its control API hands out the same.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fetched: Value = runtime.block_on(async {
        reqwest::get(format!(
            "{}emulator/v1/serviceAccounts/{SA}/key",
            served.base_url
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
    });
    assert_eq!(fetched["private_key"], generated["private_key"]);
}

#[test]
fn profile_flags_reach_the_knobs() {
    let served = serve(&[
        "--listen",
        "127.0.0.1:0",
        "--demo",
        "--profile",
        "realistic",
        "--time-scale",
        "25",
        "--rng-seed",
        "9",
    ]);
    let url = format!("{}emulator/v1/knobs", served.base_url);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let knobs: Value =
        runtime.block_on(async { reqwest::get(&url).await.unwrap().json().await.unwrap() });
    assert_eq!(knobs["profile"], "realistic");
    assert_eq!(knobs["propagation"]["time_scale"], 25.0);
    assert_eq!(knobs["propagation"]["rng_seed"], 9);
    assert_eq!(knobs["propagation"]["licensing"]["p95_ms"], 60_000);
    let refused = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--demo",
            "--time-scale",
            "0",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success(), "a zero time scale is refused");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--time-scale"),
        "the refusal names the flag"
    );
}

#[test]
fn help_documents_every_flag() {
    let help = |args: &[&str]| {
        let output = Command::new(BIN).args(args).output().unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap()
    };
    let top = help(&["--help"]);
    for word in ["serve", "keygen"] {
        assert!(top.contains(word), "--help lacks {word}");
    }
    let serve = help(&["serve", "--help"]);
    for flag in [
        "--listen",
        "--seed",
        "--demo",
        "--write-keys",
        "--google-quotas",
        "--latency-ms",
        "--propagation-ms",
        "--profile",
        "--time-scale",
        "--rng-seed",
        "--knobs",
    ] {
        assert!(serve.contains(flag), "serve --help lacks {flag}");
    }
    let keygen = help(&["keygen", "--help"]);
    for flag in [
        "--client-email",
        "--out",
        "--emulator",
        "--token-uri",
        "--seed",
    ] {
        assert!(keygen.contains(flag), "keygen --help lacks {flag}");
    }
}
