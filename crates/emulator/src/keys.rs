//! Service-account keys: generating RSA 2048 keys (aws-lc-rs), writing and reading Google key
//! files, PEM armour (the `pem` crate) and RS256 JWT verification keys (`jsonwebtoken`).
//!
//! A key file is the JSON Google hands out for a service account (`type`, `project_id`,
//! `private_key_id`, `private_key` as PKCS#8 PEM, `client_email`, `client_id`, `token_uri`, …).
//! The private key never appears in `Debug` output or errors.

use std::path::Path;

use anyhow::{Context as _, anyhow, bail};
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::{Deserialize, Serialize};

/// A service account's key material: always the public key, the private key when known.
#[derive(Clone)]
pub struct AccountKey {
    /// `private_key_id` (40 hex digits).
    pub private_key_id: String,
    /// PKCS#8 PEM of the private key, when the emulator has it.
    private_key_pem: Option<String>,
    /// The public key, as jsonwebtoken verifies RS256 signatures with it.
    verifier: DecodingKey,
}

impl std::fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountKey")
            .field("private_key_id", &self.private_key_id)
            .field("has_private_key", &self.private_key_pem.is_some())
            .finish()
    }
}

impl AccountKey {
    /// Generates a fresh RSA 2048 key.
    pub fn generate() -> anyhow::Result<Self> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| anyhow!("RSA keygen failed"))?;
        let pkcs8 = pair.as_der().map_err(|_| anyhow!("PKCS#8 export failed"))?;
        let private_key_pem = pem_encode("PRIVATE KEY", pkcs8.as_ref());
        let mut id_bytes = [0u8; 20];
        rand::Rng::fill(&mut rand::rng(), &mut id_bytes);
        Ok(Self {
            private_key_id: hex::encode(id_bytes),
            // aws-lc-rs hands out the public key as PKCS#1 `RSAPublicKey` DER.
            verifier: DecodingKey::from_rsa_der(pair.public_key().as_ref()),
            private_key_pem: Some(private_key_pem),
        })
    }

    /// From a PKCS#8 private key PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_private_key_pem(pem: &str, private_key_id: String) -> anyhow::Result<Self> {
        let der = pem_decode(pem, "PRIVATE KEY")?;
        let pair = KeyPair::from_pkcs8(&der).map_err(|e| anyhow!("not an RSA PKCS#8 key: {e}"))?;
        Ok(Self {
            private_key_id,
            verifier: DecodingKey::from_rsa_der(pair.public_key().as_ref()),
            private_key_pem: Some(pem.to_owned()),
        })
    }

    /// From a public key PEM (`-----BEGIN PUBLIC KEY-----` or `-----BEGIN RSA PUBLIC KEY-----`).
    pub fn from_public_key_pem(pem: &str) -> anyhow::Result<Self> {
        // jsonwebtoken reads both SPKI (`PUBLIC KEY`) and PKCS#1 (`RSA PUBLIC KEY`) armour.
        let verifier = DecodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|e| anyhow!("not an RSA public key PEM: {e}"))?;
        Ok(Self {
            private_key_id: String::new(),
            verifier,
            private_key_pem: None,
        })
    }

    /// Whether the private key is known (so a key file can be written).
    pub fn has_private_key(&self) -> bool {
        self.private_key_pem.is_some()
    }

    /// Verifies an RS256 (PKCS#1 v1.5, SHA-256) signature given as a JWT segment (unpadded
    /// base64url) over `message` (the JWT's `header.claims`, exactly as signed).
    pub fn verify_rs256(&self, message: &[u8], signature_b64: &str) -> bool {
        jsonwebtoken::crypto::verify(signature_b64, message, &self.verifier, Algorithm::RS256)
            .unwrap_or(false)
    }

    /// The key file JSON for this key.
    pub fn key_file(
        &self,
        project_id: &str,
        client_email: &str,
        client_id: &str,
        token_uri: &str,
    ) -> anyhow::Result<KeyFile> {
        let private_key = self
            .private_key_pem
            .clone()
            .ok_or_else(|| anyhow!("only the public key of {client_email} is known"))?;
        let encoded_email: String =
            percent_encoding::utf8_percent_encode(client_email, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        Ok(KeyFile {
            kind: "service_account".to_owned(),
            project_id: project_id.to_owned(),
            private_key_id: self.private_key_id.clone(),
            private_key,
            client_email: client_email.to_owned(),
            client_id: client_id.to_owned(),
            auth_uri: "https://accounts.google.com/o/oauth2/auth".to_owned(),
            token_uri: token_uri.to_owned(),
            auth_provider_x509_cert_url: "https://www.googleapis.com/oauth2/v1/certs".to_owned(),
            client_x509_cert_url: format!(
                "https://www.googleapis.com/robot/v1/metadata/x509/{encoded_email}"
            ),
            universe_domain: "googleapis.com".to_owned(),
        })
    }
}

/// A Google service-account key file.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeyFile {
    /// Always `service_account`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `project_id`.
    pub project_id: String,
    /// `private_key_id`.
    pub private_key_id: String,
    /// PKCS#8 PEM.
    pub private_key: String,
    /// `client_email`.
    pub client_email: String,
    /// Numeric `client_id`.
    pub client_id: String,
    /// `auth_uri`.
    #[serde(default)]
    pub auth_uri: String,
    /// `token_uri`: the emulator's token endpoint.
    pub token_uri: String,
    /// `auth_provider_x509_cert_url`.
    #[serde(default)]
    pub auth_provider_x509_cert_url: String,
    /// `client_x509_cert_url`.
    #[serde(default)]
    pub client_x509_cert_url: String,
    /// `universe_domain`.
    #[serde(default)]
    pub universe_domain: String,
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFile")
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

impl KeyFile {
    /// Reads a key file.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading key file {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing key file {}", path.display()))
    }

    /// Writes the key file, readable by its owner only where the platform allows.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("writing key file {}", path.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("restricting {}", path.display()))?;
        }
        Ok(())
    }

    /// The key material in this file.
    pub fn account_key(&self) -> anyhow::Result<AccountKey> {
        AccountKey::from_private_key_pem(&self.private_key, self.private_key_id.clone())
            .with_context(|| format!("private key of {}", self.client_email))
    }
}

/// PEM-encodes DER with 64-character lines and `\n` line ends (as Google's key files).
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(label, der), config)
}

/// Decodes the first PEM block with `label`.
pub fn pem_decode(text: &str, label: &str) -> anyhow::Result<Vec<u8>> {
    let blocks = pem::parse_many(text).map_err(|e| anyhow!("{label} PEM block: {e}"))?;
    let block = blocks
        .into_iter()
        .find(|block| block.tag() == label)
        .ok_or_else(|| anyhow!("no {label} PEM block"))?;
    if block.contents().is_empty() {
        bail!("empty {label} PEM block");
    }
    Ok(block.into_contents())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::RSA_PKCS1_SHA256;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn generated_keys_sign_what_they_verify_and_survive_a_key_file() {
        let key = AccountKey::generate().unwrap();
        let file = key
            .key_file("p", "sa@p.iam.gserviceaccount.com", "1", "http://h/token")
            .unwrap();
        assert!(
            file.private_key
                .starts_with("-----BEGIN PRIVATE KEY-----\n")
        );
        assert!(
            !format!("{file:?}").contains("PRIVATE KEY"),
            "Debug hides the key"
        );
        let reloaded = file.account_key().unwrap();
        let der = pem_decode(&file.private_key, "PRIVATE KEY").unwrap();
        let pair = KeyPair::from_pkcs8(&der).unwrap();
        let mut signature = vec![0; pair.public_modulus_len()];
        pair.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            b"message",
            &mut signature,
        )
        .unwrap();
        let signature = URL_SAFE_NO_PAD.encode(signature);
        assert!(reloaded.verify_rs256(b"message", &signature));
        assert!(key.verify_rs256(b"message", &signature));
        assert!(!key.verify_rs256(b"other message", &signature));
        assert!(!key.verify_rs256(b"message", "not base64url!"));
        assert!(
            !AccountKey::generate()
                .unwrap()
                .verify_rs256(b"message", &signature)
        );
    }

    #[test]
    fn pem_decoding_rejects_garbage() {
        assert!(pem_decode("no pem here", "PRIVATE KEY").is_err());
        assert!(
            pem_decode(
                "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----",
                "PRIVATE KEY"
            )
            .is_err()
        );
        let pem = pem_encode("PUBLIC KEY", &[1, 2, 3]);
        assert_eq!(pem_decode(&pem, "PUBLIC KEY").unwrap(), vec![1, 2, 3]);
    }
}
