//! The security flags of `serve` (each with its environment variable), and the start-up rules:
//! no unauthenticated service except an explicit dev mode on loopback, no plaintext on a
//! non-loopback address unless a proxy in front is declared to terminate TLS.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::parse_duration;

use super::jwt::{JwksSource, JwtSettings};

/// Default of `--max-concurrent-requests`.
const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 256;
/// Default of `--max-streams-per-connection`.
const DEFAULT_MAX_STREAMS_PER_CONNECTION: u32 = 64;
/// Default of `--request-timeout`.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default of `--tls-handshake-timeout`.
const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of `--jwks-refresh`.
const DEFAULT_JWKS_REFRESH: Duration = Duration::from_secs(300);

/// Authentication, TLS and request-limit settings of `serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct AuthConfig {
    /// Accept callers without credentials as admins of every domain. Only allowed on a loopback
    /// listener; for local development and demos.
    #[arg(long = "insecure-dev-mode", env = "SUPPORT_ACCESS_INSECURE_DEV_MODE")]
    pub insecure_dev_mode: bool,

    /// YAML file of the principals: their role, their domains, and the credentials that name
    /// them (SHA-256 of bearer tokens, client-certificate SANs, JWT subjects).
    #[arg(long, env = "SUPPORT_ACCESS_PRINCIPALS_FILE")]
    pub principals_file: Option<PathBuf>,

    /// Accept JWTs from this issuer (`iss`); needs --jwt-audience and a JWKS.
    #[arg(long, env = "SUPPORT_ACCESS_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// The audience (`aud`) JWTs must be issued for.
    #[arg(long, env = "SUPPORT_ACCESS_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// The issuer's public keys as a JWKS file (re-read every --jwks-refresh).
    #[arg(long, env = "SUPPORT_ACCESS_JWKS_FILE", conflicts_with = "jwks_url")]
    pub jwks_file: Option<PathBuf>,

    /// The issuer's JWKS URL (https, or http on loopback), fetched every --jwks-refresh.
    #[arg(long, env = "SUPPORT_ACCESS_JWKS_URL")]
    pub jwks_url: Option<String>,

    /// How often the JWKS is loaded again.
    #[arg(long, env = "SUPPORT_ACCESS_JWKS_REFRESH", default_value = "5m", value_parser = parse_duration)]
    pub jwks_refresh: Duration,

    /// The server's certificate chain (PEM). Enables TLS.
    #[arg(long, env = "SUPPORT_ACCESS_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The server's private key (PEM).
    #[arg(long, env = "SUPPORT_ACCESS_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// CA certificates (PEM) that sign client certificates: enables mTLS. A verified client
    /// certificate whose SAN (DNS name or URI) is listed in the principals file authenticates.
    #[arg(long, env = "SUPPORT_ACCESS_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,

    /// Refuse TLS connections without a client certificate (by default a bearer token over TLS
    /// is accepted too).
    #[arg(
        long,
        env = "SUPPORT_ACCESS_REQUIRE_CLIENT_CERT",
        requires = "tls_client_ca"
    )]
    pub require_client_cert: bool,

    /// Serve plaintext on a non-loopback address, because a proxy in front terminates TLS.
    #[arg(long, env = "SUPPORT_ACCESS_ALLOW_PLAINTEXT")]
    pub allow_plaintext: bool,

    /// Do not serve gRPC server reflection.
    #[arg(long, env = "SUPPORT_ACCESS_DISABLE_REFLECTION")]
    pub disable_reflection: bool,

    /// RPCs served at once by this replica; more are refused at once with RESOURCE_EXHAUSTED.
    #[arg(long, env = "SUPPORT_ACCESS_MAX_CONCURRENT_REQUESTS", default_value_t = DEFAULT_MAX_CONCURRENT_REQUESTS)]
    pub max_concurrent_requests: usize,

    /// HTTP/2 streams one connection may have open at once.
    #[arg(long, env = "SUPPORT_ACCESS_MAX_STREAMS_PER_CONNECTION", default_value_t = DEFAULT_MAX_STREAMS_PER_CONNECTION)]
    pub max_streams_per_connection: u32,

    /// The longest an RPC may run, whatever deadline the client sets (shorter client deadlines
    /// are honoured).
    #[arg(long, env = "SUPPORT_ACCESS_REQUEST_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// The longest a TLS handshake may take.
    #[arg(long, env = "SUPPORT_ACCESS_TLS_HANDSHAKE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub tls_handshake_timeout: Duration,
}

impl Default for AuthConfig {
    /// The same values as the command line without any of these flags.
    fn default() -> Self {
        AuthConfig {
            insecure_dev_mode: false,
            principals_file: None,
            jwt_issuer: None,
            jwt_audience: None,
            jwks_file: None,
            jwks_url: None,
            jwks_refresh: DEFAULT_JWKS_REFRESH,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            require_client_cert: false,
            allow_plaintext: false,
            disable_reflection: false,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            max_streams_per_connection: DEFAULT_MAX_STREAMS_PER_CONNECTION,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            tls_handshake_timeout: DEFAULT_TLS_HANDSHAKE_TIMEOUT,
        }
    }
}

/// Why the service refuses to start with a configuration.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Dev mode was asked for on an address other machines can reach.
    #[error(
        "refusing to start: --insecure-dev-mode is only allowed on a loopback address, not {0}"
    )]
    DevModeNotLoopback(SocketAddr),
    /// No way to authenticate callers was configured.
    #[error(
        "refusing to start without authentication: set --principals-file (bearer tokens, client certificates, JWT subjects), or --insecure-dev-mode on a loopback address for local development"
    )]
    NoAuthentication,
    /// Plaintext on a non-loopback address without a TLS-terminating proxy declared.
    #[error(
        "refusing to serve plaintext on {0}: set --tls-cert and --tls-key, or --allow-plaintext when a proxy in front terminates TLS"
    )]
    PlaintextNotLoopback(SocketAddr),
    /// Some but not all of the JWT settings were given.
    #[error(
        "JWT verification needs --jwt-issuer, --jwt-audience and one of --jwks-file or --jwks-url (missing: {0})"
    )]
    JwtIncomplete(String),
    /// JWTs name principals of the principals file.
    #[error("JWT verification maps subjects to principals: set --principals-file too")]
    JwtWithoutPrincipals,
    /// Limits that would refuse every request.
    #[error("--{0} must be greater than zero")]
    ZeroLimit(&'static str),
}

impl AuthConfig {
    /// Checks that the settings are complete and safe for a listener on `listen`.
    pub fn check(&self, listen: SocketAddr) -> Result<(), StartupError> {
        let loopback = listen.ip().is_loopback();
        if self.insecure_dev_mode && !loopback {
            return Err(StartupError::DevModeNotLoopback(listen));
        }
        if !self.insecure_dev_mode && self.principals_file.is_none() {
            return Err(StartupError::NoAuthentication);
        }
        if !loopback && self.tls_cert.is_none() && !self.allow_plaintext {
            return Err(StartupError::PlaintextNotLoopback(listen));
        }
        if self.jwt_settings()?.is_some() && self.principals_file.is_none() {
            return Err(StartupError::JwtWithoutPrincipals);
        }
        if self.max_concurrent_requests == 0 {
            return Err(StartupError::ZeroLimit("max-concurrent-requests"));
        }
        if self.max_streams_per_connection == 0 {
            return Err(StartupError::ZeroLimit("max-streams-per-connection"));
        }
        if self.request_timeout.is_zero() {
            return Err(StartupError::ZeroLimit("request-timeout"));
        }
        Ok(())
    }

    /// The JWT settings, when JWT verification is configured.
    pub fn jwt_settings(&self) -> Result<Option<JwtSettings>, StartupError> {
        let source = match (&self.jwks_file, &self.jwks_url) {
            (Some(path), _) => Some(JwksSource::File(path.clone())),
            (None, Some(url)) => Some(JwksSource::Url(url.clone())),
            (None, None) => None,
        };
        match (&self.jwt_issuer, &self.jwt_audience, source) {
            (None, None, None) => Ok(None),
            (Some(issuer), Some(audience), Some(source)) => Ok(Some(JwtSettings {
                issuer: issuer.clone(),
                audience: audience.clone(),
                source,
                refresh: self.jwks_refresh,
            })),
            (issuer, audience, source) => {
                let missing: Vec<&str> = [
                    issuer.is_none().then_some("--jwt-issuer"),
                    audience.is_none().then_some("--jwt-audience"),
                    source.is_none().then_some("--jwks-file or --jwks-url"),
                ]
                .into_iter()
                .flatten()
                .collect();
                Err(StartupError::JwtIncomplete(missing.join(", ")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Flags {
        #[command(flatten)]
        auth: AuthConfig,
    }

    fn parse(args: &[&str]) -> AuthConfig {
        Flags::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
            .expect("flags parse")
            .auth
    }

    fn addr(raw: &str) -> SocketAddr {
        raw.parse().expect("socket address")
    }

    #[test]
    fn default_matches_the_command_line_without_flags() {
        assert_eq!(
            format!("{:?}", parse(&[])),
            format!("{:?}", AuthConfig::default())
        );
    }

    #[test]
    fn refuses_to_start_unauthenticated() {
        assert!(matches!(
            AuthConfig::default().check(addr("127.0.0.1:50051")),
            Err(StartupError::NoAuthentication)
        ));
        assert!(matches!(
            AuthConfig::default().check(addr("0.0.0.0:50051")),
            Err(StartupError::NoAuthentication)
        ));
    }

    #[test]
    fn dev_mode_only_on_loopback() {
        let dev = parse(&["--insecure-dev-mode"]);
        assert!(dev.check(addr("127.0.0.1:0")).is_ok());
        assert!(dev.check(addr("[::1]:0")).is_ok());
        let refused = dev.check(addr("0.0.0.0:50051")).unwrap_err();
        assert!(matches!(refused, StartupError::DevModeNotLoopback(_)));
        assert!(refused.to_string().contains("loopback"));
    }

    #[test]
    fn plaintext_off_loopback_needs_tls_or_an_explicit_proxy() {
        let tokens = parse(&["--principals-file", "/etc/sa/principals.yaml"]);
        assert!(tokens.check(addr("127.0.0.1:50051")).is_ok());
        assert!(matches!(
            tokens.check(addr("10.0.0.5:50051")),
            Err(StartupError::PlaintextNotLoopback(_))
        ));
        let behind_proxy = parse(&["--principals-file", "p.yaml", "--allow-plaintext"]);
        assert!(behind_proxy.check(addr("10.0.0.5:50051")).is_ok());
        let tls = parse(&[
            "--principals-file",
            "p.yaml",
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
        ]);
        assert!(tls.check(addr("0.0.0.0:50051")).is_ok());
    }

    #[test]
    fn jwt_settings_must_be_complete() {
        let partial = parse(&["--principals-file", "p.yaml", "--jwt-issuer", "https://idp"]);
        let error = partial.check(addr("127.0.0.1:0")).unwrap_err();
        assert!(error.to_string().contains("--jwt-audience"), "{error}");
        let complete = parse(&[
            "--principals-file",
            "p.yaml",
            "--jwt-issuer",
            "https://idp",
            "--jwt-audience",
            "support-access",
            "--jwks-url",
            "https://idp/jwks.json",
        ]);
        assert!(complete.check(addr("127.0.0.1:0")).is_ok());
        let no_principals = parse(&[
            "--insecure-dev-mode",
            "--jwt-issuer",
            "i",
            "--jwt-audience",
            "a",
            "--jwks-file",
            "k.json",
        ]);
        assert!(matches!(
            no_principals.check(addr("127.0.0.1:0")),
            Err(StartupError::JwtWithoutPrincipals)
        ));
    }

    #[test]
    fn tls_flags_come_in_pairs() {
        assert!(Flags::try_parse_from(["serve", "--tls-cert", "c.pem"]).is_err());
        assert!(Flags::try_parse_from(["serve", "--tls-client-ca", "ca.pem"]).is_err());
        assert!(Flags::try_parse_from(["serve", "--jwks-file", "a", "--jwks-url", "b"]).is_err());
    }
}
