//! The tower layer in front of every gRPC service: limits concurrency, authenticates the caller,
//! enforces the method's policy (role, domains) and hands the request on with its [`Principal`],
//! or answers the refusal itself so that no handler runs.
//!
//! Order of checks: route (health open; reflection open unless disabled), in-flight limit
//! (tower's global concurrency limit under its load shedder: no slot left means RESOURCE_EXHAUSTED
//! at once, never a queue), credentials, policy exists, role, domains. For a method whose domains are named in the
//! request, a principal limited to some domains has its request message read here (at most
//! [`MAX_REQUEST_BYTES`]) and decoded with the same types the handler uses; the message then goes
//! on unchanged. The `authorization` header is removed before the handler sees the request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::AUTHORIZATION;
use http_body_util::{BodyExt, Full, Limited};
use support_access_store::audit::NewAuditEvent;
use tonic::body::Body;
use tonic::codegen::Bytes;
use tower::ServiceExt;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;

use super::denials::{Denials, UNAUTHENTICATED_PRINCIPAL};
use super::jwt::JwtVerifier;
use super::policy::{self, DomainRule, Policy, RequestFacts, Route, Touches};
use super::principals::Principals;
use super::{AfterWrite, Denial, Principal, tls};
use crate::app::MAX_REQUEST_BYTES;
use secrecy::{ExposeSecret, SecretString};

/// gRPC's message prefix: a compression flag and a 4-byte length.
const GRPC_FRAME_HEADER: usize = 5;

/// Everything the gate decides with; shared by every connection.
pub struct Gate {
    principals: Option<Principals>,
    jwt: Option<Arc<JwtVerifier>>,
    dev_mode: bool,
    reflection: bool,
    /// One slot per API call being served, held until its response is ready; shared by every
    /// connection.
    in_flight: GlobalConcurrencyLimitLayer,
    max_in_flight: usize,
    denials: Denials,
    /// Called when a mutating call's handler returned, before its response leaves.
    after_write: AfterWrite,
}

impl Gate {
    /// A gate over the loaded credentials.
    pub fn new(
        principals: Option<Principals>,
        jwt: Option<Arc<JwtVerifier>>,
        dev_mode: bool,
        reflection: bool,
        max_in_flight: usize,
        denials: Denials,
        after_write: AfterWrite,
    ) -> Gate {
        Gate {
            principals,
            jwt,
            dev_mode,
            reflection,
            in_flight: GlobalConcurrencyLimitLayer::new(max_in_flight),
            max_in_flight,
            denials,
            after_write,
        }
    }
}

/// The layer; cheap to clone.
#[derive(Clone)]
pub struct AuthLayer {
    gate: Arc<Gate>,
}

impl AuthLayer {
    pub(super) fn new(gate: Gate) -> AuthLayer {
        AuthLayer {
            gate: Arc::new(gate),
        }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            gate: self.gate.clone(),
        }
    }
}

/// The service wrapping the gRPC routes.
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    gate: Arc<Gate>,
}

impl<S> tower::Service<http::Request<Body>> for AuthService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // The ready inner service goes with this call; the clone waits for the next one.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        // Health and reflection go straight on, without the API's bookkeeping.
        let policy = match policy::route(request.uri().path()) {
            Route::Health => return Box::pin(inner.call(request)),
            Route::Reflection if self.gate.reflection => return Box::pin(inner.call(request)),
            Route::Reflection => {
                return Box::pin(std::future::ready(Ok(Denial::Unimplemented(
                    "server reflection is disabled on this server".into(),
                )
                .into_http())));
            }
            Route::Api(policy) => policy,
        };
        let gate = self.gate.clone();
        let max_in_flight = gate.max_in_flight;
        Box::pin(async move {
            let method = request.uri().path().to_owned();
            // The call holds an in-flight slot from here until its response is ready; the load
            // shedder refuses it when none is free. What runs in the slot never fails (a refusal
            // is a response), so the only error out of the stack is the shedder's.
            let limits = tower::ServiceBuilder::new()
                .layer(LoadShedLayer::new())
                .layer(gate.in_flight.clone());
            // The inner service polled ready for this call goes into the slot (called once).
            let mut ready_inner = Some(inner);
            let admitted = limits.service_fn(move |request| {
                let gate = gate.clone();
                let method = method.clone();
                let inner = ready_inner.take();
                async move {
                    let Some(mut inner) = inner else {
                        unreachable!("oneshot calls the service once");
                    };
                    let response = match gate.admit(request, &method, policy).await {
                        Ok(request) => {
                            let response = inner.call(request).await;
                            if policy.is_some_and(Policy::mutates) {
                                (gate.after_write)();
                            }
                            response
                        }
                        Err(denial) => Ok(denial.into_http()),
                    };
                    Ok::<_, std::convert::Infallible>(response)
                }
            });
            match admitted.oneshot(request).await {
                Ok(response) => response,
                Err(_overloaded) => Ok(Denial::ResourceExhausted {
                    reason: "OVERLOADED",
                    message: format!(
                        "the server is already serving {} requests: retry shortly",
                        max_in_flight
                    ),
                }
                .into_http()),
            }
        })
    }
}

/// What is known about a refused call, for the audit log.
#[derive(Default)]
struct Attempt {
    principal: Option<String>,
    domain: Option<String>,
    request_id: Option<String>,
}

impl Gate {
    /// An API call holding an in-flight slot: authorized and handed on, or refused (logged, and
    /// audited when the method mutates).
    async fn admit(
        &self,
        request: http::Request<Body>,
        method: &str,
        policy: Option<&'static Policy>,
    ) -> Result<http::Request<Body>, Denial> {
        let mut attempt = Attempt::default();
        match self.authorize(request, method, policy, &mut attempt).await {
            Ok(request) => Ok(request),
            Err(denial) => {
                tracing::info!(
                    method,
                    principal = attempt
                        .principal
                        .as_deref()
                        .unwrap_or(UNAUTHENTICATED_PRINCIPAL),
                    code = denial.outcome(),
                    reason = denial.reason(),
                    "call refused"
                );
                if policy.is_some_and(Policy::mutates) {
                    self.denials
                        .record(refusal_event(method.to_owned(), attempt, &denial));
                }
                Err(denial)
            }
        }
    }

    async fn authorize(
        &self,
        request: http::Request<Body>,
        method: &str,
        policy: Option<&Policy>,
        attempt: &mut Attempt,
    ) -> Result<http::Request<Body>, Denial> {
        let principal = self.authenticate(&request)?;
        attempt.principal = Some(principal.id.clone());
        let Some(policy) = policy else {
            tracing::error!(method, "refusing a method without an access policy");
            return Err(Denial::permission_denied(
                "NO_ACCESS_POLICY",
                format!("{method} has no access policy on this server"),
            ));
        };
        if principal.role < policy.role {
            return Err(Denial::PermissionDenied {
                reason: "ROLE_REQUIRED",
                message: format!(
                    "principal {:?} has the {} role and {method} needs the {} role",
                    principal.id, principal.role, policy.role
                ),
                metadata: vec![("required_role", policy.role.to_string())],
            });
        }
        let mut request = match policy.domains {
            _ if principal.has_every_domain() => request,
            DomainRule::NoDomain | DomainRule::FilteredList | DomainRule::Handler => request,
            DomainRule::EveryDomain => {
                return Err(Denial::permission_denied(
                    "ALL_DOMAINS_REQUIRED",
                    format!(
                        "{method} changes what every reseller domain gets, and principal {:?} may only access some domains",
                        principal.id
                    ),
                ));
            }
            DomainRule::Request(extract) => {
                let (parts, body) = request.into_parts();
                let framed = read_unary_request(body).await?;
                let facts = extract(&framed[GRPC_FRAME_HEADER..]).map_err(|_| {
                    Denial::InvalidArgument("the request message cannot be decoded".into())
                })?;
                attempt.request_id.clone_from(&facts.request_id);
                check_domains(&principal, method, &facts, attempt)?;
                http::Request::from_parts(parts, Body::new(Full::new(framed)))
            }
        };
        request.headers_mut().remove(AUTHORIZATION);
        request.extensions_mut().insert(principal);
        Ok(request)
    }

    /// The caller: a bearer token (from the principals file, else a JWT), else a client
    /// certificate, else the dev principal in dev mode.
    fn authenticate(&self, request: &http::Request<Body>) -> Result<Principal, Denial> {
        let mut values = request.headers().get_all(AUTHORIZATION).iter();
        if let Some(value) = values.next() {
            if values.next().is_some() {
                return Err(Denial::unauthenticated(
                    "CREDENTIALS_AMBIGUOUS",
                    "send one authorization header",
                ));
            }
            let token = bearer_token(value)?;
            return self.principal_for_token(&token);
        }
        if let Some(certificate) = tls::peer_certificate(request.extensions()) {
            return self.principal_for_certificate(&certificate);
        }
        if self.dev_mode {
            return Ok(Principal::dev());
        }
        Err(Denial::unauthenticated(
            "CREDENTIALS_MISSING",
            "no credentials were presented: send `authorization: Bearer <token>` or connect with a client certificate",
        ))
    }

    fn principal_for_token(&self, token: &SecretString) -> Result<Principal, Denial> {
        let token = token.expose_secret();
        if let Some(principal) = self.principals.as_ref().and_then(|p| p.by_token(token)) {
            return Ok(principal.clone());
        }
        let Some(jwt) = self.jwt.as_ref().filter(|_| looks_like_jwt(token)) else {
            return Err(Denial::unauthenticated(
                "TOKEN_INVALID",
                "the bearer token is not valid",
            ));
        };
        let subject = jwt.verify(token)?;
        self.principals
            .as_ref()
            .and_then(|p| p.by_jwt_subject(&subject))
            .cloned()
            .ok_or_else(|| {
                Denial::permission_denied(
                    "PRINCIPAL_UNKNOWN",
                    format!("the identity token's subject {subject:?} is not a principal of this service"),
                )
            })
    }

    fn principal_for_certificate(
        &self,
        certificate: &rustls::pki_types::CertificateDer<'_>,
    ) -> Result<Principal, Denial> {
        let names = tls::subject_alt_names(certificate);
        let mut found: Option<&Principal> = None;
        for name in &names {
            let Some(principal) = self
                .principals
                .as_ref()
                .and_then(|p| p.by_client_cert_san(name))
            else {
                continue;
            };
            match found {
                Some(earlier) if earlier.id != principal.id => {
                    return Err(Denial::permission_denied(
                        "CERTIFICATE_AMBIGUOUS",
                        "the client certificate names several principals",
                    ));
                }
                _ => found = Some(principal),
            }
        }
        found.cloned().ok_or_else(|| {
            Denial::permission_denied(
                "PRINCIPAL_UNKNOWN",
                format!(
                    "the client certificate's names {names:?} are not principals of this service"
                ),
            )
        })
    }
}

fn bearer_token(value: &http::HeaderValue) -> Result<SecretString, Denial> {
    let malformed = || {
        Denial::unauthenticated(
            "CREDENTIALS_MALFORMED",
            "the authorization header must be `Bearer <token>`",
        )
    };
    let text = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = text.split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed());
    }
    Ok(SecretString::from(token))
}

/// Three base64url segments separated by dots.
fn looks_like_jwt(token: &str) -> bool {
    let segments: Vec<&str> = token.split('.').collect();
    segments.len() == 3
        && segments.iter().all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Reads a unary request body: one uncompressed gRPC message of at most
/// [`MAX_REQUEST_BYTES`], returned with its 5-byte prefix.
async fn read_unary_request(body: Body) -> Result<Bytes, Denial> {
    let too_large = || Denial::ResourceExhausted {
        reason: "MESSAGE_TOO_LARGE",
        message: format!("the request message is larger than {MAX_REQUEST_BYTES} bytes"),
    };
    let collected = Limited::new(body, GRPC_FRAME_HEADER + MAX_REQUEST_BYTES)
        .collect()
        .await
        .map_err(|error| {
            if error.is::<http_body_util::LengthLimitError>() {
                too_large()
            } else {
                Denial::InvalidArgument("the request body cannot be read".into())
            }
        })?
        .to_bytes();
    let malformed = |what: &str| Denial::InvalidArgument(format!("the request {what}"));
    let Some(header) = collected.get(..GRPC_FRAME_HEADER) else {
        return Err(malformed("carries no message"));
    };
    if header[0] != 0 {
        return Err(malformed(
            "is compressed, which this server does not accept",
        ));
    }
    let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if length > MAX_REQUEST_BYTES {
        return Err(too_large());
    }
    if collected.len() != GRPC_FRAME_HEADER + length {
        return Err(malformed("must carry exactly one message"));
    }
    Ok(collected)
}

fn check_domains(
    principal: &Principal,
    method: &str,
    facts: &RequestFacts,
    attempt: &mut Attempt,
) -> Result<(), Denial> {
    let named = match &facts.touches {
        Touches::Filtered => return Ok(()),
        Touches::Every => {
            return Err(Denial::permission_denied(
                "ALL_DOMAINS_REQUIRED",
                format!(
                    "an empty domain list means every reseller domain, and principal {:?} may only access some: name the domains",
                    principal.id
                ),
            ));
        }
        Touches::Named(named) => named,
    };
    for touched in named {
        let Some(domain) = &touched.domain else {
            return Err(Denial::permission_denied(
                "DOMAIN_UNKNOWN",
                format!(
                    "{} does not name a valid reseller domain, and principal {:?} may only access some domains",
                    touched.field, principal.id
                ),
            ));
        };
        if !principal.may_access(domain.as_str()) {
            attempt.domain = Some(domain.as_str().to_owned());
            return Err(Denial::PermissionDenied {
                reason: "DOMAIN_NOT_ALLOWED",
                message: format!(
                    "principal {:?} may not access domain {:?} ({method})",
                    principal.id,
                    domain.as_str()
                ),
                metadata: vec![("domain", domain.as_str().to_owned())],
            });
        }
    }
    Ok(())
}

fn refusal_event(method: String, attempt: Attempt, denial: &Denial) -> NewAuditEvent {
    NewAuditEvent {
        principal: attempt
            .principal
            .unwrap_or_else(|| UNAUTHENTICATED_PRINCIPAL.to_owned()),
        method,
        request_id: attempt.request_id,
        domain_name: attempt.domain.clone(),
        target: attempt
            .domain
            .map(|d| format!("domains/{d}"))
            .unwrap_or_default(),
        outcome: denial.outcome().to_owned(),
        detail: format!("{}: {denial}", denial.reason()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Moved from the auth layer's own redacting wrapper, now `secrecy`'s `SecretString`.
    #[test]
    fn debug_hides_the_value() {
        let token = SecretString::from("canary-token-value".to_owned());
        let printed = format!("{token:?} {:?}", Some(&token));
        assert!(!printed.contains("canary"), "{printed}");
        assert_eq!(token.expose_secret(), "canary-token-value");
    }

    #[test]
    fn bearer_tokens_parse_strictly_and_stay_redacted() {
        let token = bearer_token(&http::HeaderValue::from_static("Bearer abc.def")).unwrap();
        assert_eq!(token.expose_secret(), "abc.def");
        assert!(!format!("{token:?}").contains("abc"));
        assert!(bearer_token(&http::HeaderValue::from_static("bearer  x ")).is_ok());
        for bad in ["Basic abc", "Bearer", "Bearer   ", "abc"] {
            let denial = bearer_token(&http::HeaderValue::from_static(bad)).unwrap_err();
            assert_eq!(denial.reason(), "CREDENTIALS_MALFORMED");
        }
    }

    #[test]
    fn jwts_are_told_apart_from_opaque_tokens() {
        assert!(looks_like_jwt("eyJh.eyJz.c2ln"));
        assert!(!looks_like_jwt("opaque-token"));
        assert!(!looks_like_jwt("a..b"));
        assert!(!looks_like_jwt("a.b.c d"));
    }

    fn body(bytes: Vec<u8>) -> Body {
        Body::new(Full::new(Bytes::from(bytes)))
    }

    #[tokio::test]
    async fn request_bodies_are_one_bounded_message() {
        let mut framed = vec![0, 0, 0, 0, 3];
        framed.extend_from_slice(b"abc");
        assert_eq!(
            read_unary_request(body(framed.clone()))
                .await
                .unwrap()
                .len(),
            8
        );

        let mut compressed = framed.clone();
        compressed[0] = 1;
        assert!(read_unary_request(body(compressed)).await.is_err());
        assert!(
            read_unary_request(body(framed[..6].to_vec()))
                .await
                .is_err()
        );
        assert!(read_unary_request(body(Vec::new())).await.is_err());

        let huge = vec![0u8; GRPC_FRAME_HEADER + MAX_REQUEST_BYTES + 1];
        let denial = read_unary_request(body(huge)).await.unwrap_err();
        assert_eq!(denial.reason(), "MESSAGE_TOO_LARGE");
    }

    #[test]
    fn refusals_name_the_domain_but_never_credentials() {
        let event = refusal_event(
            "/supportaccess.v1.SupportAccessService/DeleteDomain".into(),
            Attempt {
                principal: Some("emea".into()),
                domain: Some("us.example".into()),
                request_id: None,
            },
            &Denial::permission_denied("DOMAIN_NOT_ALLOWED", "no"),
        );
        assert_eq!(event.outcome, "PERMISSION_DENIED");
        assert_eq!(event.domain_name.as_deref(), Some("us.example"));
        assert_eq!(event.target, "domains/us.example");
        assert_eq!(event.detail, "DOMAIN_NOT_ALLOWED: no");
        let anonymous = refusal_event(
            "/m".into(),
            Attempt::default(),
            &Denial::unauthenticated("X", "y"),
        );
        assert_eq!(anonymous.principal, "unauthenticated");
    }
}
