//! Verification of JWTs that platform services already hold: signature against the issuer's
//! JWKS (a file or an URL, loaded again every `--jwks-refresh` and when a token names an unknown
//! key), issuer, audience, expiry and not-before. The token's subject names a principal of the
//! principals file.
//!
//! Only asymmetric keys are used (RSA, ECDSA P-256/P-384, Ed25519), each with one algorithm fixed
//! by the key, so a token cannot choose how it is checked (no `none`, no HMAC with a public key).

use std::path::PathBuf;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use tokio::sync::Notify;

use super::Denial;

/// Largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// How long fetching the JWKS may take.
const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Shortest time between two loads, however many unknown key ids arrive.
const MIN_RELOAD_INTERVAL: Duration = Duration::from_secs(10);
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;

/// Where the issuer's public keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A JWKS file.
    File(PathBuf),
    /// A JWKS URL (https, or http on loopback).
    Url(String),
}

/// What a token must satisfy.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    /// The expected `iss`.
    pub issuer: String,
    /// The expected `aud`.
    pub audience: String,
    /// The issuer's keys.
    pub source: JwksSource,
    /// How often the keys are loaded again.
    pub refresh: Duration,
}

/// Why the JWKS cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The file cannot be read.
    #[error("cannot read the JWKS file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The URL cannot be used or fetched.
    #[error("cannot fetch the JWKS from {url}: {message}")]
    Fetch { url: String, message: String },
    /// Too large to be a key set.
    #[error("the JWKS is larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    /// Not a JWKS document.
    #[error("the JWKS is not valid JSON Web Key Set: {0}")]
    Syntax(String),
    /// No key in it can verify signatures.
    #[error("the JWKS holds no usable signature key (RSA, EC P-256/P-384 or Ed25519)")]
    NoUsableKeys,
}

/// Why a token is refused. Never contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not a JWT.
    #[error("it is not a well-formed JWT")]
    Malformed,
    /// `exp` is past.
    #[error("it has expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("it is not valid yet")]
    NotYetValid,
    /// Signed by someone else, or altered.
    #[error("its signature does not verify")]
    BadSignature,
    /// Another issuer.
    #[error("it was issued by another issuer")]
    WrongIssuer,
    /// For another service.
    #[error("it was issued for another audience")]
    WrongAudience,
    /// A required claim is absent.
    #[error("it lacks the {0} claim")]
    MissingClaim(String),
    /// The header names a key the issuer does not publish.
    #[error("it names an unknown signing key")]
    UnknownKey,
    /// Several keys are published and the token names none.
    #[error("it names no signing key (kid) and the issuer publishes several")]
    KeyIdRequired,
    /// The header's algorithm is not the key's.
    #[error("its algorithm does not match its signing key")]
    WrongAlgorithm,
    /// The issuer's keys could not be loaded yet.
    #[error("the identity provider's keys are not available yet")]
    KeysUnavailable,
}

impl From<JwtError> for Denial {
    fn from(error: JwtError) -> Denial {
        match error {
            JwtError::KeysUnavailable => Denial::Unavailable(error.to_string()),
            JwtError::Expired => Denial::unauthenticated(
                "TOKEN_EXPIRED",
                "the identity token has expired: get a fresh one",
            ),
            other => Denial::unauthenticated(
                "TOKEN_INVALID",
                format!("the identity token is refused: {other}"),
            ),
        }
    }
}

struct VerificationKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// Verifies tokens against the issuer's current keys.
pub struct JwtVerifier {
    issuer: String,
    audience: String,
    source: JwksSource,
    /// Replaced as a whole by each successful load; readers clone the `Arc`.
    keys: RwLock<Arc<Vec<VerificationKey>>>,
    /// Wakes the reload task early (a token named an unknown key).
    reload_now: Arc<Notify>,
    http: reqwest::Client,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier {
    /// Loads the keys once and starts reloading them in the background. A JWKS file that cannot
    /// be loaded is a configuration error; an URL that does not answer yet is retried, and
    /// tokens are refused with UNAVAILABLE meanwhile.
    pub async fn start(settings: JwtSettings) -> anyhow::Result<Arc<JwtVerifier>> {
        if let JwksSource::Url(url) = &settings.source {
            check_url(url)?;
        }
        let http = reqwest::Client::builder()
            .timeout(JWKS_FETCH_TIMEOUT)
            .build()?;
        let verifier = Arc::new(JwtVerifier {
            issuer: settings.issuer,
            audience: settings.audience,
            source: settings.source,
            keys: RwLock::new(Arc::new(Vec::new())),
            reload_now: Arc::new(Notify::new()),
            http,
        });
        match verifier.reload().await {
            Ok(()) => {}
            Err(error) if matches!(verifier.source, JwksSource::Url(_)) => {
                tracing::warn!(error = %error, "JWKS not loaded yet; retrying in the background");
            }
            Err(error) => return Err(error.into()),
        }
        tokio::spawn(reload_periodically(
            Arc::downgrade(&verifier),
            verifier.reload_now.clone(),
            settings.refresh,
        ));
        Ok(verifier)
    }

    /// Checks a token and returns its subject.
    pub fn verify(&self, token: &str) -> Result<String, JwtError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Malformed)?;
        let keys = self.keys.read().expect("JWKS lock poisoned").clone();
        if keys.is_empty() {
            self.reload_now.notify_one();
            return Err(JwtError::KeysUnavailable);
        }
        let key = match &header.kid {
            Some(kid) => match keys.iter().find(|k| k.kid.as_deref() == Some(kid.as_str())) {
                Some(key) => key,
                None => {
                    self.reload_now.notify_one();
                    return Err(JwtError::UnknownKey);
                }
            },
            None if keys.len() == 1 => &keys[0],
            None => return Err(JwtError::KeyIdRequired),
        };
        if header.alg != key.algorithm {
            return Err(JwtError::WrongAlgorithm);
        }
        let mut validation = Validation::new(key.algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        let data = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            .map_err(|e| classify(e.kind()))?;
        if data.claims.sub.is_empty() {
            return Err(JwtError::MissingClaim("sub".into()));
        }
        Ok(data.claims.sub)
    }

    async fn reload(&self) -> Result<(), JwksError> {
        let bytes = match &self.source {
            JwksSource::File(path) => {
                let bytes = tokio::fs::read(path)
                    .await
                    .map_err(|source| JwksError::Read {
                        path: path.clone(),
                        source,
                    })?;
                if bytes.len() > MAX_JWKS_BYTES {
                    return Err(JwksError::TooLarge);
                }
                bytes
            }
            JwksSource::Url(url) => fetch(&self.http, url).await?,
        };
        let set: JwkSet =
            serde_json::from_slice(&bytes).map_err(|e| JwksError::Syntax(e.to_string()))?;
        let keys: Vec<VerificationKey> = set.keys.iter().filter_map(verification_key).collect();
        if keys.is_empty() {
            return Err(JwksError::NoUsableKeys);
        }
        tracing::debug!(keys = keys.len(), "JWKS loaded");
        *self.keys.write().expect("JWKS lock poisoned") = Arc::new(keys);
        Ok(())
    }
}

#[derive(serde::Deserialize)]
struct Claims {
    #[serde(default)]
    sub: String,
}

fn classify(kind: &jsonwebtoken::errors::ErrorKind) -> JwtError {
    use jsonwebtoken::errors::ErrorKind;
    match kind {
        ErrorKind::ExpiredSignature => JwtError::Expired,
        ErrorKind::ImmatureSignature => JwtError::NotYetValid,
        ErrorKind::InvalidSignature => JwtError::BadSignature,
        ErrorKind::InvalidIssuer => JwtError::WrongIssuer,
        ErrorKind::InvalidAudience => JwtError::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) => JwtError::MissingClaim(claim.clone()),
        ErrorKind::InvalidAlgorithm => JwtError::WrongAlgorithm,
        _ => JwtError::Malformed,
    }
}

/// Reloads every `refresh`, or sooner when asked (at most every [`MIN_RELOAD_INTERVAL`]); stops
/// when the verifier is dropped.
async fn reload_periodically(
    verifier: Weak<JwtVerifier>,
    reload_now: Arc<Notify>,
    refresh: Duration,
) {
    loop {
        tokio::time::sleep(MIN_RELOAD_INTERVAL.min(refresh)).await;
        let wait = refresh.saturating_sub(MIN_RELOAD_INTERVAL);
        let _ = tokio::time::timeout(wait, reload_now.notified()).await;
        let Some(verifier) = verifier.upgrade() else {
            return;
        };
        if let Err(error) = verifier.reload().await {
            tracing::warn!(error = %error, "JWKS reload failed; keeping the keys loaded before");
        }
    }
}

fn check_url(url: &str) -> Result<(), JwksError> {
    let fail = |message: &str| JwksError::Fetch {
        url: url.to_owned(),
        message: message.to_owned(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| fail(&e.to_string()))?;
    let host = parsed.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(fail("use https (http only on loopback)")),
    }
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, JwksError> {
    let fail = |message: String| JwksError::Fetch {
        url: url.to_owned(),
        message,
    };
    let mut response = http
        .get(url)
        .header(http::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !response.status().is_success() {
        return Err(fail(format!("HTTP {}", response.status())));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
    {
        return Err(JwksError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| fail(e.to_string()))? {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The key and its one algorithm, or `None` (with a warning) for keys that cannot verify
/// signatures safely.
fn verification_key(jwk: &Jwk) -> Option<VerificationKey> {
    let kid = jwk.common.key_id.clone();
    let skip = |why: &str| {
        tracing::warn!(kid = kid.as_deref().unwrap_or(""), why, "JWKS key skipped");
        None
    };
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return skip("an encryption key");
    }
    let declared = match jwk.common.key_algorithm {
        None => None,
        Some(alg) => match signature_algorithm(alg) {
            Some(alg) => Some(alg),
            None => return skip("not an asymmetric signature algorithm"),
        },
    };
    let allowed: &[Algorithm] = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => &[
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => &[Algorithm::ES256],
            EllipticCurve::P384 => &[Algorithm::ES384],
            _ => return skip("unsupported elliptic curve"),
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            &[Algorithm::EdDSA]
        }
        _ => return skip("not an RSA, EC or Ed25519 public key"),
    };
    let algorithm = declared.unwrap_or(allowed[0]);
    if !allowed.contains(&algorithm) {
        return skip("its algorithm does not fit its key type");
    }
    match DecodingKey::from_jwk(jwk) {
        Ok(key) => Some(VerificationKey {
            kid,
            algorithm,
            key,
        }),
        Err(_) => skip("malformed key parameters"),
    }
}

fn signature_algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_and_encryption_keys_are_never_used() {
        let set: JwkSet = serde_json::from_str(
            r#"{"keys":[
                {"kty":"oct","k":"c2VjcmV0","alg":"HS256","kid":"hmac"},
                {"kty":"EC","crv":"P-256","use":"enc","kid":"enc",
                 "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                 "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
                {"kty":"EC","crv":"P-256","alg":"RS256","kid":"confused",
                 "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                 "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
                {"kty":"EC","crv":"P-256","kid":"good",
                 "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                 "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
            ]}"#,
        )
        .unwrap();
        let usable: Vec<(Option<String>, Algorithm)> = set
            .keys
            .iter()
            .filter_map(verification_key)
            .map(|k| (k.kid, k.algorithm))
            .collect();
        assert_eq!(usable, vec![(Some("good".into()), Algorithm::ES256)]);
    }

    #[test]
    fn jwks_urls_must_be_https_except_on_loopback() {
        assert!(check_url("https://idp.example/.well-known/jwks.json").is_ok());
        assert!(check_url("http://127.0.0.1:8080/jwks").is_ok());
        assert!(check_url("http://localhost/jwks").is_ok());
        assert!(check_url("http://idp.example/jwks").is_err());
        assert!(check_url("file:///etc/jwks.json").is_err());
    }

    #[test]
    fn denials_never_quote_the_token() {
        for error in [
            JwtError::Malformed,
            JwtError::Expired,
            JwtError::BadSignature,
        ] {
            let status = Denial::from(error).to_status();
            assert_eq!(status.code(), tonic::Code::Unauthenticated);
            assert!(status.message().starts_with("the identity token"));
        }
        assert_eq!(
            Denial::from(JwtError::KeysUnavailable).code(),
            tonic::Code::Unavailable
        );
    }
}
