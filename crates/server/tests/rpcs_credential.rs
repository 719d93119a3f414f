//! `IssueSignInCredential` end to end, with what Google receives on the wire: the service runs
//! with a real service-account key (not in demo mode) against the emulator, through a recording
//! HTTP proxy, so the test sees the very `users.update` body Google got. The password comes back
//! once; Google gets only a salted SHA-512 crypt hash that the password verifies against, with
//! `changePasswordAtNextLogin`; a reused request id is refused instead of replayed; an account
//! moved out of the support org unit is not touched; and the password appears in no log line
//! (everything at TRACE is captured) and no database row.
//!
//! Needs PostgreSQL at `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).

mod rpcs_support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use rpcs_support::*;
use support_access_google::model::UserChanges;
use support_access_google::{DomainSpec, GoogleClient, GoogleConfig, ServiceAccountCredential};
use support_access_proto::v1;
use support_access_server::api::sha512_crypt;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tonic::Code;

const SERVICE_ACCOUNT: &str = "support-access@demo-project.iam.gserviceaccount.com";

/// Every log line of the process, whatever its level.
#[derive(Clone, Default)]
struct LogSink(Arc<Mutex<Vec<u8>>>);

impl Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log sink").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogSink {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log sink")).into_owned()
    }
}

/// One request that went through the proxy.
#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    body: Vec<u8>,
}

/// An HTTP/1.1 proxy on loopback that records every request and forwards it to `upstream`.
async fn recording_proxy(upstream: String) -> (String, Arc<Mutex<Vec<Recorded>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let base = format!("http://{}/", listener.local_addr().expect("proxy address"));
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let log = recorded.clone();
    let client = reqwest::Client::new();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let (upstream, client, log) = (upstream.clone(), client.clone(), log.clone());
            tokio::spawn(async move {
                let _ = forward_connection(socket, &upstream, &client, &log).await;
            });
        }
    });
    (base, recorded)
}

async fn forward_connection(
    socket: tokio::net::TcpStream,
    upstream: &str,
    client: &reqwest::Client,
    log: &Mutex<Vec<Recorded>>,
) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await? == 0 {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).await?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').expect("header line");
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
            assert_ne!(
                name, "transfer-encoding",
                "the proxy handles sized bodies only"
            );
            if name == "content-length" {
                length = value.parse().expect("content length");
            } else if name != "host" && name != "connection" {
                headers.push((name, value));
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;
        log.lock().expect("proxy log").push(Recorded {
            method: method.clone(),
            path: path.clone(),
            body: body.clone(),
        });
        let mut forwarded = client.request(
            reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
            format!("{upstream}{}", path.trim_start_matches('/')),
        );
        for (name, value) in headers {
            forwarded = forwarded.header(name, value);
        }
        let response = forwarded
            .body(body)
            .send()
            .await
            .map_err(std::io::Error::other)?;
        let status = response.status();
        let response_headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(std::io::Error::other)?;
        let mut head = format!(
            "HTTP/1.1 {} {}\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        for (name, value) in &response_headers {
            if !matches!(
                name.as_str(),
                "content-length" | "transfer-encoding" | "connection"
            ) {
                head.push_str(&format!(
                    "{name}: {}\r\n",
                    value.to_str().unwrap_or_default()
                ));
            }
        }
        head.push_str(&format!("content-length: {}\r\n\r\n", bytes.len()));
        write.write_all(head.as_bytes()).await?;
        write.write_all(&bytes).await?;
    }
}

/// The password-changing `users.update` calls recorded since `from`, as JSON bodies.
fn password_updates(recorded: &Mutex<Vec<Recorded>>, from: usize) -> Vec<serde_json::Value> {
    recorded.lock().expect("proxy log")[from..]
        .iter()
        .filter(|r| r.method == "PUT" && r.path.starts_with("/admin/directory/v1/users/"))
        .map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).expect("JSON body"))
        .filter(|body| body.get("password").is_some())
        .collect()
}

/// Every row of every table of the database, as text.
async fn database_text(server: &TestServer) -> String {
    let mut conn = server.database().await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    assert!(tables.iter().any(|t| t == "audit_events"), "{tables:?}");
    let mut text = String::new();
    for table in tables {
        let rows: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT string_agg(t::text, E'\\n') FROM \"{table}\" t"
        )))
        .fetch_one(&mut conn)
        .await
        .expect("dump table");
        text.push_str(&rows.unwrap_or_default());
        text.push('\n');
    }
    text
}

async fn issue(
    api: &mut Api,
    username: &str,
    request_id: &str,
) -> Result<v1::IssueSignInCredentialResponse, tonic::Status> {
    api.issue_sign_in_credential(v1::IssueSignInCredentialRequest {
        name: format!("domains/{ONE}/supportAccounts/{username}"),
        request_id: request_id.to_owned(),
    })
    .await
    .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn a_credential_is_shown_once_and_google_gets_only_a_crypt_hash() {
    let logs = LogSink::default();
    let sink = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .try_init()
        .expect("the only subscriber of this test binary");

    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind emulator");
    let emulator = support_access_emulator::start(listener, support_access_emulator::Seed::demo())
        .await
        .expect("emulator");
    let (proxy, recorded) = recording_proxy(emulator.base_url()).await;
    let key_json = emulator
        .service_account_key_json(SERVICE_ACCOUNT)
        .expect("key");
    let dir = tempfile::tempdir().expect("temp dir");
    let key_file = dir.path().join("key.json");
    std::fs::write(&key_file, &key_json).expect("write key");
    let server = TestServer::start(
        &[
            "--credential",
            &format!("default={}", key_file.display()),
            "--directory-root",
            &proxy,
            "--licensing-root",
            &proxy,
            "--reseller-root",
            &proxy,
        ]
        .map(str::to_owned),
    )
    .await;
    assert_eq!(server.emulator_url, None, "not in demo mode");

    let mut admin = server.api("admin").await;
    let mut ops = server.ops("admin").await;
    create_domain(&mut admin, ONE).await;
    create_staff(&mut admin, "ana", "ana.silva").await;
    create_staff(&mut admin, "bo", "bo.berg").await;
    provision(&mut admin, &mut ops, &[ONE], &["ana", "bo"]).await;

    // An operator of the domain issues the credential.
    let mut operator = server.api("one-operator").await;
    let first_id = request_id();
    let before = recorded.lock().unwrap().len();
    let issued = issue(&mut operator, "ana.silva", &first_id)
        .await
        .expect("issue credential");
    assert_eq!(issued.email, format!("ana.silva@{ONE}"));
    let password = issued.password.clone();
    assert!(password.len() >= 16, "{} characters", password.len());
    assert!(password.chars().any(|c| c.is_ascii_lowercase()));
    assert!(password.chars().any(|c| c.is_ascii_uppercase()));
    assert!(password.chars().any(|c| c.is_ascii_digit()));
    assert!(password.chars().any(|c| !c.is_ascii_alphanumeric()));

    // What Google received: a crypt hash of that password, and nothing else changed.
    let updates = password_updates(&recorded, before);
    assert_eq!(updates.len(), 1, "{updates:#?}");
    let update = &updates[0];
    assert_eq!(update["hashFunction"], "crypt");
    assert_eq!(update["changePasswordAtNextLogin"], true);
    assert_eq!(update.as_object().unwrap().len(), 3, "{update}");
    let hash = update["password"].as_str().expect("hash").to_owned();
    assert!(hash.starts_with("$6$"), "{hash}");
    assert!(!hash.contains(&password));
    assert!(
        sha512_crypt::verify(&password, &hash),
        "the password opens the account"
    );
    assert!(!sha512_crypt::verify("not the password", &hash));
    let ana = emulator.customer_state(ONE)["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["primaryEmail"] == format!("ana.silva@{ONE}"))
        .cloned()
        .expect("ana in Google");
    assert_eq!(ana["changePasswordAtNextLogin"], true);

    // The password is shown once: the same request id is refused, and Google is not called.
    let before = recorded.lock().unwrap().len();
    let again = issue(&mut operator, "ana.silva", &first_id)
        .await
        .expect_err("reused request id");
    assert_eq!(again.code(), Code::AlreadyExists);
    assert_eq!(reason(&again), "REQUEST_ID_REUSED");
    assert!(!again.message().contains(&password));
    assert!(password_updates(&recorded, before).is_empty());

    // A new request gives a new password; the old one no longer matches.
    let second = issue(&mut operator, "ana.silva", &request_id())
        .await
        .expect("second credential");
    assert_ne!(second.password, password);
    let updates = password_updates(&recorded, before);
    let second_hash = updates[0]["password"].as_str().unwrap().to_owned();
    assert!(sha512_crypt::verify(&second.password, &second_hash));
    assert!(!sha512_crypt::verify(&password, &second_hash));

    // An account someone moved out of the support org unit is not touched, and neither is an
    // account that is not a declared support account (the super admin).
    let console = GoogleClient::new(GoogleConfig::all_apis_at(
        &url::Url::parse(&emulator.base_url()).unwrap(),
    ))
    .unwrap()
    .domain(DomainSpec {
        domain: ONE.into(),
        delegated_admin: format!("admin@{ONE}"),
        credential: Arc::new(ServiceAccountCredential::from_json(&key_json).unwrap()),
        customer_id: None,
    })
    .await
    .unwrap();
    console
        .users_update(
            &format!("bo.berg@{ONE}"),
            &UserChanges {
                org_unit_path: Some("/Staff".into()),
                ..UserChanges::default()
            },
        )
        .await
        .expect("move bo out of the support org unit");
    let before = recorded.lock().unwrap().len();
    let moved = issue(&mut operator, "bo.berg", &request_id())
        .await
        .expect_err("moved account");
    assert_eq!(moved.code(), Code::FailedPrecondition);
    assert_eq!(reason(&moved), "NOT_A_SUPPORT_ACCOUNT");
    assert!(moved.message().contains("/Staff"), "{}", moved.message());
    let super_admin = issue(&mut operator, "admin", &request_id())
        .await
        .expect_err("the delegated admin");
    assert_eq!(super_admin.code(), Code::NotFound);
    assert!(password_updates(&recorded, before).is_empty());
    let mut viewer = server.api("viewer").await;
    let denied = issue(&mut viewer, "ana.silva", &request_id())
        .await
        .expect_err("viewers issue nothing");
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Audited, without the password.
    let mut conn = server.database().await;
    let audited: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT principal, target, outcome FROM audit_events \
         WHERE method = '/supportaccess.v1.SupportAccessService/IssueSignInCredential' \
         ORDER BY id",
    )
    .fetch_all(&mut conn)
    .await
    .expect("audit events");
    let target = |u: &str| format!("domains/{ONE}/supportAccounts/{u}");
    assert_eq!(
        audited
            .iter()
            .filter(|(p, _, _)| p == "one-operator")
            .cloned()
            .collect::<Vec<_>>(),
        vec![
            ("one-operator".into(), target("ana.silva"), "OK".into()),
            ("one-operator".into(), target("ana.silva"), "OK".into()),
            (
                "one-operator".into(),
                target("bo.berg"),
                "NOT_A_SUPPORT_ACCOUNT".into()
            ),
        ]
    );

    // Neither password nor hash is in any row (bytea columns print as hex) or any log line.
    let stored = database_text(&server).await;
    assert!(
        stored.contains("IssueSignInCredential"),
        "the dump covers the audit log"
    );
    for secret in [&password, &second.password, &hash, &second_hash] {
        assert!(
            !stored.contains(secret.as_str()),
            "a secret is stored in Postgres"
        );
        assert!(
            !stored.contains(&hex::encode(secret.as_bytes())),
            "a secret is stored in Postgres (hex)"
        );
    }
    let logged = logs.text();
    assert!(
        logged.contains("sign-in credential issued"),
        "the log capture works"
    );
    assert!(
        logged.contains("users.update"),
        "Google calls are logged at TRACE"
    );
    for secret in [&password, &second.password, &hash, &second_hash] {
        assert!(!logged.contains(secret.as_str()), "a secret is in the log");
    }
    server.stop().await;
    emulator.shutdown().await;
}
