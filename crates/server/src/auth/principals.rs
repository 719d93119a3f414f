//! The principals file: who may call the service, with which role, on which reseller domains, and
//! the credentials that name each of them. Bearer tokens are stored only as SHA-256 hashes, so
//! the file (and this process's memory) never holds a usable token.
//!
//! ```yaml
//! principals:
//!   - id: alice@reseller.example          # written in the audit log
//!     role: admin                          # viewer | operator | admin
//!     token_sha256:                        # printf %s "$TOKEN" | sha256sum
//!       - 3f0a…64 hex digits…
//!   - id: emea-operators
//!     role: operator
//!     domains: [reseller-emea.example]     # omitted: every domain
//!     client_cert_sans: [emea-ops.support.internal, "spiffe://corp.example/emea-ops"]
//!   - id: billing-service
//!     role: viewer
//!     jwt_subjects: [billing@platform.example]
//! ```

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use support_access_domain::names::DomainName;

use super::{DomainScope, Principal, Role};

/// Ids that the service writes itself into the audit log, so no principal may take them.
const RESERVED_IDS: &[&str] = &["system", "unauthenticated"];
/// Longest principal id.
const MAX_ID_CHARS: usize = 200;

/// Why the principals file cannot be used. Never quotes a token or hash value.
#[derive(Debug, thiserror::Error)]
pub enum PrincipalsError {
    /// The file cannot be read.
    #[error("cannot read the principals file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not the expected YAML.
    #[error("the principals file {path} is not valid: {message}")]
    Syntax { path: PathBuf, message: String },
    /// An entry breaks a rule.
    #[error("the principals file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PrincipalsFile {
    principals: Vec<Entry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    role: Role,
    #[serde(default)]
    domains: Option<Vec<String>>,
    #[serde(default)]
    token_sha256: Vec<String>,
    #[serde(default)]
    client_cert_sans: Vec<String>,
    #[serde(default)]
    jwt_subjects: Vec<String>,
}

/// The loaded principals, indexed by each kind of credential.
#[derive(Debug)]
pub struct Principals {
    entries: Vec<Principal>,
    by_token_hash: HashMap<[u8; 32], usize>,
    by_cert_san: HashMap<String, usize>,
    by_jwt_subject: HashMap<String, usize>,
}

/// The SHA-256 of a bearer token, in hex: what the principals file stores.
pub fn token_sha256_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Principals {
    /// Reads and checks the principals file.
    pub fn load(path: &Path) -> Result<Principals, PrincipalsError> {
        let text = std::fs::read_to_string(path).map_err(|source| PrincipalsError::Read {
            path: path.to_owned(),
            source,
        })?;
        let principals = Self::parse(&text).map_err(|error| match error {
            ParseError::Syntax(message) => PrincipalsError::Syntax {
                path: path.to_owned(),
                message,
            },
            ParseError::Invalid(message) => PrincipalsError::Invalid {
                path: path.to_owned(),
                message,
            },
        })?;
        tracing::info!(
            path = %path.display(),
            principals = principals.entries.len(),
            "principals loaded"
        );
        Ok(principals)
    }

    fn parse(text: &str) -> Result<Principals, ParseError> {
        let file: PrincipalsFile =
            serde_yaml::from_str(text).map_err(|e| ParseError::Syntax(e.to_string()))?;
        let mut principals = Principals {
            entries: Vec::new(),
            by_token_hash: HashMap::new(),
            by_cert_san: HashMap::new(),
            by_jwt_subject: HashMap::new(),
        };
        let mut ids = BTreeSet::new();
        for entry in file.principals {
            let index = principals.entries.len();
            let id = check_id(&entry.id)?;
            if !ids.insert(id.clone()) {
                return Err(invalid(format!("principal {id:?} is listed twice")));
            }
            let domains = match &entry.domains {
                None => DomainScope::All,
                Some(names) => DomainScope::Only(
                    names
                        .iter()
                        .map(|name| {
                            DomainName::parse(name)
                                .map(|d| d.as_str().to_owned())
                                .map_err(|e| {
                                    invalid(format!("principal {id:?}: domain {name:?} {}", e.0))
                                })
                        })
                        .collect::<Result<_, _>>()?,
                ),
            };
            for (position, hash) in entry.token_sha256.iter().enumerate() {
                let digest = parse_sha256(hash).ok_or_else(|| {
                    invalid(format!(
                        "principal {id:?}: token_sha256[{position}] must be 64 hexadecimal digits, the SHA-256 of the token (never the token itself)"
                    ))
                })?;
                if principals.by_token_hash.insert(digest, index).is_some() {
                    return Err(invalid(format!(
                        "principal {id:?}: token_sha256[{position}] is also listed for another principal"
                    )));
                }
            }
            for san in &entry.client_cert_sans {
                let key = normalize_san(san);
                if key.is_empty() {
                    return Err(invalid(format!(
                        "principal {id:?}: an empty client_cert_sans entry"
                    )));
                }
                if principals.by_cert_san.insert(key, index).is_some() {
                    return Err(invalid(format!(
                        "principal {id:?}: client certificate SAN {san:?} is listed for another principal too"
                    )));
                }
            }
            for subject in &entry.jwt_subjects {
                if subject.is_empty() {
                    return Err(invalid(format!(
                        "principal {id:?}: an empty jwt_subjects entry"
                    )));
                }
                if principals
                    .by_jwt_subject
                    .insert(subject.clone(), index)
                    .is_some()
                {
                    return Err(invalid(format!(
                        "principal {id:?}: JWT subject {subject:?} is listed for another principal too"
                    )));
                }
            }
            principals.entries.push(Principal {
                id,
                role: entry.role,
                domains,
            });
        }
        Ok(principals)
    }

    /// The principal a bearer token belongs to.
    pub fn by_token(&self, token: &str) -> Option<&Principal> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.by_token_hash.get(&digest).map(|&i| &self.entries[i])
    }

    /// The principal a client certificate SAN (DNS name or URI) names.
    pub fn by_client_cert_san(&self, san: &str) -> Option<&Principal> {
        self.by_cert_san
            .get(&normalize_san(san))
            .map(|&i| &self.entries[i])
    }

    /// The principal a verified JWT's subject names.
    pub fn by_jwt_subject(&self, subject: &str) -> Option<&Principal> {
        self.by_jwt_subject.get(subject).map(|&i| &self.entries[i])
    }

    /// How many principals there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the file lists nobody.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

enum ParseError {
    Syntax(String),
    Invalid(String),
}

fn invalid(message: String) -> ParseError {
    ParseError::Invalid(message)
}

fn check_id(raw: &str) -> Result<String, ParseError> {
    let id = raw.trim();
    if id.is_empty() || id.chars().count() > MAX_ID_CHARS || id.chars().any(char::is_control) {
        return Err(invalid(format!(
            "principal id {raw:?} must be 1 to {MAX_ID_CHARS} printable characters"
        )));
    }
    if RESERVED_IDS.contains(&id) {
        return Err(invalid(format!(
            "principal id {id:?} is reserved for the service's own audit entries"
        )));
    }
    Ok(id.to_owned())
}

fn parse_sha256(raw: &str) -> Option<[u8; 32]> {
    let raw = raw.trim();
    if raw.len() != 64 {
        return None;
    }
    let mut digest = [0u8; 32];
    hex::decode_to_slice(raw.to_ascii_lowercase(), &mut digest).ok()?;
    Some(digest)
}

/// DNS names compare case-insensitively; URIs (SPIFFE ids) exactly.
fn normalize_san(san: &str) -> String {
    let san = san.trim();
    if san.contains(':') {
        san.to_owned()
    } else {
        san.to_ascii_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Principals, String> {
        Principals::parse(text).map_err(|e| match e {
            ParseError::Syntax(m) | ParseError::Invalid(m) => m,
        })
    }

    #[test]
    fn maps_each_credential_to_its_principal() {
        let alice_token = "alice-secret-token";
        let text = format!(
            "principals:\n\
             - id: alice\n  role: admin\n  token_sha256: [{}]\n\
             - id: emea\n  role: operator\n  domains: [Reseller-EMEA.example]\n  client_cert_sans: [EMEA.ops.example, 'spiffe://corp/emea']\n\
             - id: billing\n  role: viewer\n  jwt_subjects: [billing@platform]\n",
            token_sha256_hex(alice_token).to_uppercase()
        );
        let principals = parse(&text).expect("valid file");
        assert_eq!(principals.len(), 3);
        let alice = principals.by_token(alice_token).expect("alice by token");
        assert_eq!((alice.id.as_str(), alice.role), ("alice", Role::Admin));
        assert!(alice.has_every_domain());
        assert!(principals.by_token("alice-secret-token ").is_none());
        let emea = principals
            .by_client_cert_san("emea.OPS.example")
            .expect("by DNS SAN");
        assert_eq!(emea.id, "emea");
        assert!(emea.may_access("reseller-emea.example"));
        assert!(!emea.may_access("reseller-us.example"));
        assert_eq!(
            principals
                .by_client_cert_san("spiffe://corp/emea")
                .unwrap()
                .id,
            "emea"
        );
        assert!(
            principals
                .by_client_cert_san("spiffe://corp/EMEA")
                .is_none()
        );
        assert_eq!(
            principals.by_jwt_subject("billing@platform").unwrap().role,
            Role::Viewer
        );
        assert!(principals.by_jwt_subject("someone-else").is_none());
    }

    #[test]
    fn refuses_plain_tokens_without_quoting_them() {
        let error =
            parse("principals:\n- id: a\n  role: admin\n  token_sha256: [my-plain-token-value]\n")
                .unwrap_err();
        assert!(error.contains("64 hexadecimal digits"), "{error}");
        assert!(!error.contains("my-plain-token-value"), "{error}");
    }

    #[test]
    fn refuses_ambiguous_or_malformed_entries() {
        let hash = token_sha256_hex("t");
        let cases = [
            (format!("principals:\n- {{id: a, role: admin, token_sha256: [{hash}]}}\n- {{id: b, role: viewer, token_sha256: [{hash}]}}\n"), "another principal"),
            ("principals:\n- {id: a, role: admin}\n- {id: a, role: viewer}\n".into(), "listed twice"),
            ("principals:\n- {id: system, role: admin}\n".into(), "reserved"),
            ("principals:\n- {id: a, role: root}\n".into(), "unknown variant"),
            ("principals:\n- {id: a, role: admin, domains: [gmail.com]}\n".into(), "consumer domain"),
            ("principals:\n- {id: a, role: admin, tokens: []}\n".into(), "unknown field"),
            ("principals:\n- {id: a, role: admin, client_cert_sans: [x.example]}\n- {id: b, role: admin, client_cert_sans: [X.example]}\n".into(), "another principal"),
        ];
        for (text, expected) in cases {
            let error = parse(&text)
                .err()
                .unwrap_or_else(|| panic!("accepted: {text}"));
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn empty_domain_list_allows_no_domain() {
        let principals =
            parse("principals:\n- {id: a, role: viewer, domains: [], jwt_subjects: [a]}\n")
                .unwrap();
        let a = principals.by_jwt_subject("a").unwrap();
        assert!(!a.has_every_domain());
        assert!(!a.may_access("reseller.example"));
    }
}
