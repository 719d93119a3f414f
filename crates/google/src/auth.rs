//! Service-account credentials and per-domain delegated authentication.
//!
//! A [`ServiceAccountCredential`] is a key file (named in the server's configuration) held in a
//! redacting wrapper. A [`DelegatedAuth`] turns it into access tokens through yup-oauth2's
//! `ServiceAccountAuthenticator`, in one of two ways: impersonating one reseller domain's
//! super admin (`sub`, domain-wide delegation), or, when the admin named is the service account
//! itself, as the service account (no `sub`): a *delegated admin service account* that holds an
//! admin role in the customer and needs no domain-wide delegation. The key's `token_uri` is honoured, so tests point it at the
//! emulator. Each call asks for the one scope it needs; tokens are cached per scope by
//! yup-oauth2 until a minute before they expire; concurrent callers of one scope share one fetch,
//! and different scopes are fetched concurrently.
//!
//! yup-oauth2 logs token responses at `debug` level through the `log` crate: whoever installs a
//! `log` → `tracing` bridge must keep [`crate::LOG_FILTER_DIRECTIVES`] in the filter.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use yup_oauth2::authenticator::Authenticator;
use yup_oauth2::error::AuthErrorCode;
use yup_oauth2::{
    DefaultHyperClientBuilder, HyperClientBuilder, ServiceAccountAuthenticator, ServiceAccountKey,
};

use crate::error::{AuthFailure, ErrorClass, GoogleError};
use crate::method::{GoogleMethod, scopes};
use secrecy::SecretString;

type Connector = <DefaultHyperClientBuilder as HyperClientBuilder>::Connector;

/// A service-account key. `Debug` shows who it is, never the private key (yup-oauth2's key type
/// cannot be zeroed, so it is kept as is and only this type's `Debug` is ever reachable).
#[derive(Clone)]
pub struct ServiceAccountCredential {
    key: ServiceAccountKey,
}

impl fmt::Debug for ServiceAccountCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountCredential")
            .field("client_email", &self.client_email())
            .field("client_id", &self.client_id())
            .field("project_id", &self.project_id())
            .field("token_uri", &self.token_uri())
            .field("private_key", &"[redacted]")
            .finish()
    }
}

fn key_unusable(message: String) -> GoogleError {
    GoogleError::new(None, ErrorClass::Auth(AuthFailure::KeyUnusable), message)
}

impl ServiceAccountCredential {
    /// Parses a key file's JSON (as downloaded from the Cloud console).
    pub fn from_json(json: &str) -> Result<Self, GoogleError> {
        // serde_json's messages can quote the input: report only the position.
        let key: ServiceAccountKey = serde_json::from_str(json).map_err(|e| {
            key_unusable(format!(
                "the service-account key is not a key file (JSON error at line {} column {}); download a JSON key from the Cloud console",
                e.line(),
                e.column()
            ))
        })?;
        if key
            .key_type
            .as_deref()
            .is_some_and(|t| t != "service_account")
        {
            return Err(key_unusable(
                "the key file is not of type service_account".to_owned(),
            ));
        }
        if !key.private_key.contains("PRIVATE KEY-----") {
            return Err(key_unusable(format!(
                "the key of {} has no PEM private key",
                key.client_email
            )));
        }
        Ok(Self { key })
    }

    /// Reads and parses a key file.
    pub async fn from_file(path: impl AsRef<Path>) -> Result<Self, GoogleError> {
        let path = path.as_ref();
        let json = tokio::fs::read_to_string(path).await.map_err(|e| {
            key_unusable(format!(
                "cannot read the service-account key file {}: {e}",
                path.display()
            ))
        })?;
        Self::from_json(&json)
    }

    /// The service account's address.
    pub fn client_email(&self) -> &str {
        &self.key.client_email
    }

    /// True when `admin` is this service account itself: calls made for it carry no `sub` and
    /// act with the admin roles the service account holds (no domain-wide delegation).
    pub fn is_itself(&self, admin: &str) -> bool {
        admin.eq_ignore_ascii_case(&self.key.client_email)
    }

    /// The numeric client id an admin enters in the domain-wide delegation grant.
    pub fn client_id(&self) -> Option<&str> {
        self.key.client_id.as_deref()
    }

    /// The Cloud project the key belongs to (quota buckets are per project).
    pub fn project_id(&self) -> Option<&str> {
        self.key.project_id.as_deref()
    }

    /// Where tokens are requested.
    pub fn token_uri(&self) -> &str {
        &self.key.token_uri
    }
}

/// Tokens for one delegated admin of one domain.
pub(crate) struct DelegatedAuth {
    authenticator: Authenticator<Connector>,
    credential: Arc<ServiceAccountCredential>,
    /// The admin the calls act as: a super admin impersonated, or the service account itself.
    subject: String,
    /// One per scope (in [`scopes::ALL`] order), held while asking yup-oauth2 for that scope's
    /// token: concurrent calls with a cold cache wait for one token request instead of each
    /// sending their own, while tokens of different scopes are fetched at the same time.
    fetch: [Mutex<()>; scopes::ALL.len()],
}

impl DelegatedAuth {
    /// Builds the authenticator; fails if the private key cannot be used.
    pub(crate) async fn new(
        credential: Arc<ServiceAccountCredential>,
        subject: &str,
        timeout: Duration,
    ) -> Result<Self, GoogleError> {
        let mut builder = ServiceAccountAuthenticator::builder(credential.key.clone());
        if !credential.is_itself(subject) {
            builder = builder.subject(subject);
        }
        let authenticator = builder.with_timeout(timeout).build().await.map_err(|e| {
            key_unusable(format!(
                "the private key of {} cannot be used for signing: {e}",
                credential.client_email()
            ))
        })?;
        Ok(Self {
            authenticator,
            credential,
            subject: subject.to_owned(),
            fetch: std::array::from_fn(|_| Mutex::new(())),
        })
    }

    /// True when the tokens are the service account's own (no `sub`).
    pub(crate) fn acts_as_itself(&self) -> bool {
        self.credential.is_itself(&self.subject)
    }

    /// An access token for `method`'s scope; `fresh` skips the cache (after a 401).
    pub(crate) async fn token(
        &self,
        method: GoogleMethod,
        fresh: bool,
    ) -> Result<SecretString, GoogleError> {
        let scope = [method.scope()];
        let lock = scopes::ALL
            .iter()
            .position(|s| *s == method.scope())
            .unwrap_or(0);
        let _one_fetch = self.fetch[lock].lock().await;
        let result = if fresh {
            self.authenticator.force_refreshed_token(&scope).await
        } else {
            self.authenticator.token(&scope).await
        };
        match result {
            Ok(token) => match token.token() {
                Some(t) if !t.is_empty() => Ok(SecretString::from(t.to_owned())),
                _ => Err(self.failure(
                    method,
                    AuthFailure::TokenEndpointRejected,
                    "the token endpoint returned no access token".into(),
                )),
            },
            Err(error) => Err(self.classify(method, error)),
        }
    }

    fn failure(&self, method: GoogleMethod, failure: AuthFailure, message: String) -> GoogleError {
        GoogleError::new(Some(method), ErrorClass::Auth(failure), message)
    }

    fn delegation_advice(&self) -> String {
        if self.credential.is_itself(&self.subject) {
            return format!(
                "the service account {} acts as itself: enable the Admin SDK API in its Cloud project and assign it an admin role in the customer (Admin console > Account > Admin roles > the role > Admins assigned > Assign service accounts)",
                self.subject
            );
        }
        let domain = self.subject.rsplit('@').next().unwrap_or(&self.subject);
        format!(
            "grant domain-wide delegation for client id {} with scopes {} (Admin console of {domain} > Security > API controls > Domain-wide delegation)",
            self.credential
                .client_id()
                .unwrap_or("(missing client_id in the key file)"),
            scopes::ALL.join(",")
        )
    }

    /// Turns a yup-oauth2 error into an actionable one, without quoting anything secret.
    fn classify(&self, method: GoogleMethod, error: yup_oauth2::Error) -> GoogleError {
        use yup_oauth2::Error as E;
        let email = self.credential.client_email();
        match error {
            E::AuthError(auth) => {
                let said = format!(
                    "token endpoint said {}: {}",
                    auth.error.as_str(),
                    auth.error_description.as_deref().unwrap_or("")
                );
                let description = auth
                    .error_description
                    .as_deref()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                match auth.error {
                    AuthErrorCode::UnauthorizedClient | AuthErrorCode::AccessDenied => self.failure(
                        method,
                        AuthFailure::DelegationNotGranted,
                        format!("{}; {said}", self.delegation_advice()),
                    ),
                    AuthErrorCode::InvalidGrant
                        if description.contains("email") || description.contains("user id") || description.contains("subject") =>
                    {
                        self.failure(
                            method,
                            AuthFailure::AdminInvalid,
                            format!(
                                "the delegated admin {} does not exist or cannot be impersonated; name an existing super admin of the domain; {said}",
                                self.subject
                            ),
                        )
                    }
                    AuthErrorCode::InvalidGrant | AuthErrorCode::InvalidClient => self.failure(
                        method,
                        AuthFailure::KeyRejected,
                        format!(
                            "google rejected the key of {email}: it was deleted or disabled, or the service account no longer exists; create a new key; {said}"
                        ),
                    ),
                    _ => self.failure(method, AuthFailure::TokenEndpointRejected, said),
                }
            }
            E::HttpError(e) => GoogleError::new(
                Some(method),
                ErrorClass::Transient,
                format!(
                    "could not reach the token endpoint {}: {e}",
                    self.credential.token_uri()
                ),
            ),
            E::HttpClientError(e) => GoogleError::new(
                Some(method),
                ErrorClass::Transient,
                format!(
                    "could not reach the token endpoint {}: {e}",
                    self.credential.token_uri()
                ),
            ),
            // The body is not quoted: it may be a token in an unexpected shape.
            E::JSONError(_) => GoogleError::new(
                Some(method),
                ErrorClass::Transient,
                format!(
                    "the token endpoint {} answered something that is not a token response",
                    self.credential.token_uri()
                ),
            ),
            E::LowLevelError(e) => self.failure(
                method,
                AuthFailure::TokenEndpointRejected,
                format!("token request for {email} failed: {e}"),
            ),
            E::MissingAccessToken => self.failure(
                method,
                AuthFailure::TokenEndpointRejected,
                "the token endpoint returned no access token".into(),
            ),
            _ => self.failure(
                method,
                AuthFailure::TokenEndpointRejected,
                format!("token request for {email} failed"),
            ),
        }
    }
}
