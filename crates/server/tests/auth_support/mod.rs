//! Shared harness of the security tests (`tests/auth*.rs`): starts the real service in-process on
//! 127.0.0.1:0 with a fresh database, a principals file and (optionally) JWT verification, waits
//! until health says SERVING, and offers raw gRPC calls by method path, so that a test can walk
//! every method of the service descriptors without knowing their types.

#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod canary;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use prost::Message;
use prost_types::FileDescriptorSet;
use support_access_server::app::Application;
use support_access_server::auth::principals::token_sha256_hex;
use support_access_server::config::{Cli, Command};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The JWT issuer and audience the test server trusts.
pub const ISSUER: &str = "https://idp.test";
pub const AUDIENCE: &str = "support-access-test";

/// The domain that limited principals may access, and one they may not.
pub const OWN_DOMAIN: &str = "own.example";
pub const FOREIGN_DOMAIN: &str = "foreign.example";

/// A principal of the test principals file.
pub struct TestPrincipal {
    pub id: &'static str,
    pub role: &'static str,
    pub domains: Option<&'static [&'static str]>,
    pub token: String,
    pub jwt_subject: Option<&'static str>,
    pub client_cert_san: Option<&'static str>,
}

/// The principals every test server knows.
pub fn principals() -> Vec<TestPrincipal> {
    let token = |id: &str| format!("test-token-{id}-{}", uuid::Uuid::new_v4().simple());
    vec![
        TestPrincipal {
            id: "root-admin",
            role: "admin",
            domains: None,
            token: token("root-admin"),
            jwt_subject: Some("root-admin@platform.test"),
            client_cert_san: None,
        },
        TestPrincipal {
            id: "own-admin",
            role: "admin",
            domains: Some(&[OWN_DOMAIN]),
            token: token("own-admin"),
            jwt_subject: None,
            client_cert_san: Some("own-admin.clients.test"),
        },
        TestPrincipal {
            id: "own-operator",
            role: "operator",
            domains: Some(&[OWN_DOMAIN]),
            token: token("own-operator"),
            jwt_subject: None,
            client_cert_san: Some("spiffe://clients.test/own-operator"),
        },
        TestPrincipal {
            id: "viewer",
            role: "viewer",
            domains: None,
            token: token("viewer"),
            jwt_subject: Some("viewer@platform.test"),
            client_cert_san: None,
        },
        TestPrincipal {
            id: "own-viewer",
            role: "viewer",
            domains: Some(&[OWN_DOMAIN]),
            token: token("own-viewer"),
            jwt_subject: None,
            client_cert_san: None,
        },
    ]
}

/// Writes the principals file (token hashes only).
pub fn write_principals_file(dir: &Path, principals: &[TestPrincipal]) -> PathBuf {
    let mut yaml = String::from("principals:\n");
    for p in principals {
        yaml.push_str(&format!("  - id: {}\n    role: {}\n", p.id, p.role));
        if let Some(domains) = p.domains {
            yaml.push_str(&format!("    domains: [{}]\n", domains.join(", ")));
        }
        yaml.push_str(&format!(
            "    token_sha256: [{}]\n",
            token_sha256_hex(&p.token)
        ));
        if let Some(subject) = p.jwt_subject {
            yaml.push_str(&format!("    jwt_subjects: [\"{subject}\"]\n"));
        }
        if let Some(san) = p.client_cert_san {
            yaml.push_str(&format!("    client_cert_sans: [\"{san}\"]\n"));
        }
    }
    let path = dir.join("principals.yaml");
    std::fs::write(&path, yaml).expect("write principals file");
    path
}

/// An ES256 key of the test identity provider.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    encoding: EncodingKey,
    /// The public key as a JWK (JSON).
    pub jwk: serde_json::Value,
}

impl SigningKey {
    pub fn generate(kid: &str) -> SigningKey {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("EC key");
        let encoding = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).expect("PEM key");
        // The raw public key is the uncompressed point 0x04 || X || Y.
        let point = pair.public_key_raw();
        assert_eq!(point.len(), 65);
        let jwk = serde_json::json!({
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        SigningKey {
            kid: kid.to_owned(),
            encoding,
            jwk,
        }
    }

    /// A token for `subject` that expires `expires_in_seconds` from now (negative: expired).
    pub fn token(&self, subject: &str, audience: &str, expires_in_seconds: i64) -> String {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let claims = serde_json::json!({
            "iss": ISSUER, "aud": audience, "sub": subject,
            "iat": now, "exp": now + expires_in_seconds,
        });
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding).expect("sign JWT")
    }
}

/// A JWKS document of the keys.
pub fn jwks(keys: &[&SigningKey]) -> String {
    serde_json::json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
        .to_string()
}

/// The PostgreSQL server of the tests.
pub fn admin_database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The URL of database `name` on the test server.
pub fn database_url_for(name: &str) -> String {
    let admin = admin_database_url();
    match admin.rfind('/') {
        Some(i) => format!("{}/{name}", &admin[..i]),
        None => format!("{admin}/{name}"),
    }
}

/// A `serve` configuration from flags, as the binary would parse them.
pub fn serve_config(args: &[String]) -> support_access_server::config::ServeConfig {
    let argv = ["support-access", "serve"]
        .into_iter()
        .map(str::to_owned)
        .chain(args.iter().cloned());
    let Command::Serve(config) = <Cli as clap::Parser>::try_parse_from(argv)
        .expect("test flags parse")
        .command;
    config
}

/// A running in-process service.
pub struct TestServer {
    pub addr: SocketAddr,
    pub database_url: String,
    pub database_name: String,
    pub principals: Vec<TestPrincipal>,
    pub dir: TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// What to start a test server with.
#[derive(Default)]
pub struct Options {
    /// Extra flags after the defaults (listen, database, principals file, JWT settings).
    pub extra_args: Vec<String>,
    /// Keys of the identity provider, served as a JWKS file; none: no JWT verification.
    pub jwt_keys: Vec<SigningKey>,
    /// Connect over TLS with this client configuration to check health (TLS servers).
    pub tls_client: Option<tonic::transport::ClientTlsConfig>,
}

impl TestServer {
    /// Starts a server and waits until it serves.
    pub async fn start(options: Options) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let principals = principals();
        let principals_file = write_principals_file(dir.path(), &principals);
        let database_name = format!("sa_test_{}", uuid::Uuid::new_v4().simple());
        let database_url = database_url_for(&database_name);
        let mut args: Vec<String> = vec![
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--database-url".into(),
            database_url.clone(),
            "--principals-file".into(),
            principals_file.display().to_string(),
        ];
        if !options.jwt_keys.is_empty() {
            let jwks_file = dir.path().join("jwks.json");
            let keys: Vec<&SigningKey> = options.jwt_keys.iter().collect();
            std::fs::write(&jwks_file, jwks(&keys)).expect("write JWKS");
            args.extend(
                [
                    "--jwt-issuer",
                    ISSUER,
                    "--jwt-audience",
                    AUDIENCE,
                    "--jwks-file",
                    &jwks_file.display().to_string(),
                ]
                .map(str::to_owned),
            );
        }
        // Without a key of its own, a test server runs the demo (chosen explicitly, as the
        // binary requires).
        if !options.extra_args.iter().any(|a| a == "--credential") {
            args.push("--demo".into());
        }
        args.extend(options.extra_args);
        let app = Application::build(serve_config(&args))
            .await
            .expect("application builds");
        let addr = app.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        let server = TestServer {
            addr,
            database_url,
            database_name,
            principals,
            dir,
            stop: Some(stop),
            task: Some(task),
        };
        server.wait_until_serving(options.tls_client).await;
        server
    }

    async fn wait_until_serving(&self, tls: Option<tonic::transport::ClientTlsConfig>) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.task.as_ref().is_some_and(JoinHandle::is_finished) {
                panic!("the server stopped while starting");
            }
            let channel = match &tls {
                Some(tls) => self.tls_channel(tls.clone()).await,
                None => self.channel().await,
            };
            if let Ok(channel) = channel {
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

    /// A plaintext channel.
    pub async fn channel(&self) -> Result<Channel, tonic::transport::Error> {
        Channel::from_shared(format!("http://{}", self.addr))
            .expect("endpoint")
            .connect()
            .await
    }

    /// A TLS channel to 127.0.0.1 (the client configuration names the server, `localhost`).
    pub async fn tls_channel(
        &self,
        tls: tonic::transport::ClientTlsConfig,
    ) -> Result<Channel, tonic::transport::Error> {
        Channel::from_shared(format!("https://{}", self.addr))
            .expect("endpoint")
            .tls_config(tls)?
            .connect()
            .await
    }

    /// The token of a principal of the principals file.
    pub fn token(&self, id: &str) -> String {
        self.principals
            .iter()
            .find(|p| p.id == id)
            .unwrap_or_else(|| panic!("no test principal {id}"))
            .token
            .clone()
    }

    /// Stops the server (waiting for it) and drops its database.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
        drop_database(&self.database_name).await;
    }
}

/// Drops a test database (best effort).
pub async fn drop_database(name: &str) {
    use sqlx::Connection;
    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_database_url()).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
    }
}

/// Adds `authorization: Bearer <token>`.
pub fn with_token<T>(mut request: tonic::Request<T>, token: &str) -> tonic::Request<T> {
    let value: MetadataValue<_> = format!("Bearer {token}").parse().expect("header value");
    request.metadata_mut().insert("authorization", value);
    request
}

/// Calls any unary method by path with an already encoded request message, ignoring the
/// response's content, so that every method can be called without knowing its types.
pub async fn call_raw(
    channel: Channel,
    path: &str,
    message: Vec<u8>,
    token: Option<&str>,
) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let mut request = tonic::Request::new(RawMessage(message));
    if let Some(token) = token {
        request = with_token(request, token);
    }
    let path = path.parse().expect("method path");
    grpc.unary::<RawMessage, (), _>(request, path, tonic_prost::ProstCodec::default())
        .await
        .map(|_| ())
}

/// Already-encoded message bytes, sent as they are.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawMessage(pub Vec<u8>);

impl Message for RawMessage {
    fn encode_raw(&self, buf: &mut impl prost::bytes::BufMut) {
        buf.put_slice(&self.0);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: prost::encoding::WireType,
        buf: &mut impl prost::bytes::Buf,
        ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        prost::encoding::skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.0.len()
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

/// Every `/package.Service/Method` of SupportAccessService and Operations, from the served
/// descriptors.
pub fn guarded_methods() -> Vec<String> {
    let set = FileDescriptorSet::decode(support_access_proto::FILE_DESCRIPTOR_SET)
        .expect("descriptor set decodes");
    let wanted: BTreeSet<&str> = [
        "supportaccess.v1.SupportAccessService",
        "google.longrunning.Operations",
    ]
    .into();
    let mut methods = Vec::new();
    for file in &set.file {
        for service in &file.service {
            let full = format!("{}.{}", file.package(), service.name());
            if wanted.contains(full.as_str()) {
                methods.extend(
                    service
                        .method
                        .iter()
                        .map(|m| format!("/{full}/{}", m.name())),
                );
            }
        }
    }
    assert!(
        methods.len() >= 20,
        "the descriptors list too few methods: {methods:?}"
    );
    methods
}

/// Asserts a call failed with `code` (and `reason` in its ErrorInfo, when given).
pub fn assert_refused(result: Result<(), Status>, code: Code, reason: Option<&str>, what: &str) {
    use tonic_types::StatusExt;
    let status = match result {
        Ok(()) => panic!("{what}: expected {code:?}, the call succeeded"),
        Err(status) => status,
    };
    assert_eq!(status.code(), code, "{what}: {}", status.message());
    if let Some(reason) = reason {
        let details = status.get_error_details();
        let info = details
            .error_info()
            .unwrap_or_else(|| panic!("{what}: no ErrorInfo in {status:?}"));
        assert_eq!(info.reason, reason, "{what}: {}", status.message());
    }
}

/// A domain ready to create (demo credential `default`).
pub fn new_domain(domain_name: &str) -> support_access_proto::v1::Domain {
    support_access_proto::v1::Domain {
        domain_name: domain_name.to_owned(),
        credential: "default".to_owned(),
        delegated_admin: format!("admin@{domain_name}"),
        ..Default::default()
    }
}
