//! TLS with rustls (through tonic), mTLS when a client CA is configured, and the client
//! certificate's subject alternative names, which name principals of the principals file.

use std::path::Path;

use anyhow::Context;
use rustls::pki_types::CertificateDer;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use super::AuthConfig;
use secrecy::{ExposeSecret, SecretSlice};

/// The server's TLS settings, or `None` to serve plaintext.
pub fn server_tls_config(config: &AuthConfig) -> anyhow::Result<Option<ServerTlsConfig>> {
    let (Some(cert_path), Some(key_path)) = (&config.tls_cert, &config.tls_key) else {
        return Ok(None);
    };
    // tonic builds rustls from the process default provider: make it aws-lc-rs, explicitly.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cert = read_pem(cert_path, "TLS certificate")?;
    let key = SecretSlice::from(read_pem(key_path, "TLS private key")?);
    let mut tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(cert, key.expose_secret()))
        .timeout(config.tls_handshake_timeout);
    if let Some(ca_path) = &config.tls_client_ca {
        let ca = read_pem(ca_path, "client CA certificate")?;
        tls = tls
            .client_ca_root(Certificate::from_pem(ca))
            .client_auth_optional(!config.require_client_cert);
    }
    Ok(Some(tls))
}

fn read_pem(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the {what} {}", path.display()))?;
    anyhow::ensure!(
        bytes.windows(11).any(|w| w == b"-----BEGIN "),
        "the {what} {} is not PEM",
        path.display()
    );
    Ok(bytes)
}

/// The verified client certificate of the connection a request came on, if any. rustls has
/// already checked it against the client CA during the handshake.
pub fn peer_certificate(extensions: &http::Extensions) -> Option<CertificateDer<'static>> {
    extensions
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(TlsConnectInfo::peer_certs)
        .and_then(|chain| chain.first().cloned())
}

/// The DNS names (lower case) and URIs in a certificate's subject alternative names.
pub fn subject_alt_names(certificate: &CertificateDer<'_>) -> Vec<String> {
    let Ok(parsed) = webpki::EndEntityCert::try_from(certificate) else {
        return Vec::new();
    };
    parsed
        .valid_dns_names()
        .map(str::to_ascii_lowercase)
        .chain(parsed.valid_uri_names().map(str::to_owned))
        .collect()
}
