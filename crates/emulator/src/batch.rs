//! Google's batch endpoint: `POST {root}batch` (and `batch/{api}/{version}`) with a
//! `multipart/mixed` body of `application/http` parts, answered part by part.
//!
//! Each inner request is sent through the same router as a direct call, so it is authorized,
//! counted against quotas, delayed, fault-injected and recorded in the ledger individually, as
//! Google counts each inner call. Inner requests without `Authorization` inherit the outer one.
//! At most 1000 parts, as Google allows.
//!
//! Licensing has no batch endpoint: `licensing.googleapis.com/batch` answers 404 (GAMADV-XTD3
//! issue #100, 2020; GAM dropped licensing batches), so `batch/licensing/v1`, a Licensing root
//! of its own, and Licensing parts inside another API's batch all get 404 here.

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use crate::error::GoogleError;
use crate::server::DropConnection;

/// Most inner requests in one batch.
pub const MAX_PARTS: usize = 1000;

/// Whether `path` is a batch endpoint under one of `roots` (`/`, `/admin-api/`, …).
pub fn is_batch_path(path: &str, roots: &[String]) -> bool {
    roots.iter().any(|root| {
        let base = format!("{root}batch");
        path == base || path.starts_with(&format!("{base}/"))
    })
}

/// Where batch requests are served: under every API root but Licensing's.
#[derive(Debug, Clone)]
pub struct BatchRoutes {
    /// Roots with a batch endpoint (Directory's and Reseller's; Licensing's too when it shares
    /// one of them, as the default `/` does).
    roots: Vec<String>,
    /// Licensing's root, whose calls no batch may carry.
    licensing_root: String,
}

impl BatchRoutes {
    /// The batch routes for these API roots.
    pub fn new(api_roots: &crate::seed::ApiRoots) -> Self {
        let mut roots = vec![api_roots.directory.clone(), api_roots.reseller.clone()];
        roots.sort();
        roots.dedup();
        Self {
            roots,
            licensing_root: api_roots.licensing.clone(),
        }
    }

    /// Whether `path` is a batch endpoint (one that Google serves).
    pub fn is_batch_path(&self, path: &str) -> bool {
        is_batch_path(path, &self.roots)
    }

    /// Whether `path` (a batch endpoint) names Licensing: `batch/licensing/v1`.
    fn names_licensing(&self, path: &str) -> bool {
        self.roots
            .iter()
            .any(|root| path.starts_with(&format!("{root}batch/licensing/")))
    }

    /// Whether an inner request's path is a Licensing call.
    fn is_licensing_call(&self, path_and_query: &str) -> bool {
        path_and_query.starts_with(&format!("{}apps/licensing/", self.licensing_root))
    }
}

/// One parsed inner request.
struct Part {
    content_id: Option<String>,
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn boundary_of(headers: &HeaderMap) -> Option<String> {
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    if !content_type
        .to_ascii_lowercase()
        .starts_with("multipart/mixed")
    {
        return None;
    }
    content_type.split(';').find_map(|param| {
        let (key, value) = param.trim().split_once('=')?;
        key.eq_ignore_ascii_case("boundary")
            .then(|| value.trim_matches('"').to_owned())
    })
}

/// Splits `text` at its first blank line (CRLF or LF), returning (head, rest).
fn split_blank_line(text: &str) -> (&str, &str) {
    let crlf = text.find("\r\n\r\n").map(|i| (i, 4));
    let lf = text.find("\n\n").map(|i| (i, 2));
    let split = match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    };
    match split {
        Some((index, len)) => (&text[..index], &text[index + len..]),
        None => (text, ""),
    }
}

fn header_lines(head: &str) -> Vec<(String, String)> {
    head.lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

fn parse_parts(body: &str, boundary: &str) -> Result<Vec<Part>, GoogleError> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    for chunk in body.split(&delimiter).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let chunk = chunk.trim_start_matches(['\r', '\n']);
        let (part_head, http) = split_blank_line(chunk);
        let content_id = header_lines(part_head)
            .into_iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-id"))
            .map(|(_, value)| value);
        let (request_head, request_body) = split_blank_line(http);
        let mut lines = request_head.lines();
        let request_line = lines.next().unwrap_or_default();
        let mut words = request_line.split_whitespace();
        let (Some(method), Some(target)) = (words.next(), words.next()) else {
            return Err(GoogleError::invalid("Invalid batch part: no request line"));
        };
        let headers = header_lines(&lines.collect::<Vec<_>>().join("\n"));
        let body = request_body
            .trim_end_matches(['\r', '\n'])
            .as_bytes()
            .to_vec();
        parts.push(Part {
            content_id,
            method: method.to_owned(),
            target: target.to_owned(),
            headers,
            body,
        });
    }
    Ok(parts)
}

/// The path and query of a part's target (absolute URLs are cut to their path).
fn path_and_query(target: &str) -> String {
    match url::Url::parse(target) {
        Ok(url) => match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        },
        Err(_) if target.starts_with('/') => target.to_owned(),
        Err(_) => format!("/{target}"),
    }
}

async fn run_part(
    router: &Router,
    routes: &BatchRoutes,
    part: Part,
    outer_auth: Option<&HeaderValue>,
) -> String {
    let target = path_and_query(&part.target);
    if routes.is_licensing_call(&target) {
        // The batch's host does not serve Licensing: the part is not routed anywhere.
        return http_text(GoogleError::not_found("Not Found").into_response()).await;
    }
    let mut builder = Request::builder().method(part.method.as_str()).uri(target);
    let mut has_auth = false;
    for (name, value) in &part.headers {
        has_auth |= name.eq_ignore_ascii_case("authorization");
        builder = builder.header(name.as_str(), value.as_str());
    }
    if !has_auth && let Some(auth) = outer_auth {
        builder = builder.header(header::AUTHORIZATION, auth.clone());
    }
    let response = match builder.body(Body::from(part.body)) {
        Ok(request) => router
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|never: Infallible| match never {}),
        Err(_) => GoogleError::invalid("Invalid batch part").into_response(),
    };
    let response = if response.extensions().get::<DropConnection>().is_some() {
        // An inner reset cannot close the outer connection; Google reports a backend error.
        GoogleError::new(503, "backendError", "Backend Error").into_response()
    } else {
        response
    };
    http_text(response).await
}

/// A response as the `application/http` text of a batch part.
async fn http_text(response: Response) -> String {
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut text = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    if let Some(content_type) = content_type {
        text.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    text.push_str(&String::from_utf8_lossy(&body));
    text
}

/// Answers one batch request.
pub async fn handle(router: Router, request: Request<Body>, routes: &BatchRoutes) -> Response {
    if routes.names_licensing(request.uri().path()) {
        return GoogleError::not_found("Not Found").into_response();
    }
    let (parts, body) = request.into_parts();
    if parts.method != http::Method::POST {
        return GoogleError::new(405, "badRequest", "Batch requests must be POSTed")
            .into_response();
    }
    let Some(boundary) = boundary_of(&parts.headers) else {
        return GoogleError::invalid("Batch requests need a multipart/mixed body with a boundary")
            .into_response();
    };
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return GoogleError::bad_request().into_response(),
    };
    let text = String::from_utf8_lossy(&bytes);
    let inner = match parse_parts(&text, &boundary) {
        Ok(inner) => inner,
        Err(error) => return error.into_response(),
    };
    if inner.len() > MAX_PARTS {
        return GoogleError::invalid(format!("A batch may hold at most {MAX_PARTS} requests"))
            .into_response();
    }
    let outer_auth = parts.headers.get(header::AUTHORIZATION);
    let response_boundary = format!("batch_{}", crate::world::random_alnum(24));
    let mut out = String::new();
    for part in inner {
        let content_id = part.content_id.as_deref().map(|id| {
            format!(
                "<response-{}>",
                id.trim_start_matches('<').trim_end_matches('>')
            )
        });
        let answer = run_part(&router, routes, part, outer_auth).await;
        out.push_str(&format!(
            "--{response_boundary}\r\nContent-Type: application/http\r\n"
        ));
        if let Some(content_id) = content_id {
            out.push_str(&format!("Content-ID: {content_id}\r\n"));
        }
        out.push_str("\r\n");
        out.push_str(&answer);
        out.push_str("\r\n");
    }
    out.push_str(&format!("--{response_boundary}--\r\n"));
    let mut response = (StatusCode::OK, out).into_response();
    if let Ok(value) =
        HeaderValue::from_str(&format!("multipart/mixed; boundary={response_boundary}"))
    {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_parse_with_crlf_or_lf() {
        let body = "--b\r\nContent-Type: application/http\r\nContent-ID: <x + 1>\r\n\r\n\
                    POST /admin/directory/v1/users?alt=json HTTP/1.1\r\nContent-Type: application/json\r\n\r\n\
                    {\"a\":1}\r\n--b\nContent-Type: application/http\nContent-ID: <x + 2>\n\n\
                    GET /admin/directory/v1/users/u HTTP/1.1\n\n\n--b--\r\n";
        let parts = parse_parts(body, "b").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].content_id.as_deref(), Some("<x + 1>"));
        assert_eq!(parts[0].method, "POST");
        assert_eq!(parts[0].target, "/admin/directory/v1/users?alt=json");
        assert_eq!(parts[0].body, b"{\"a\":1}");
        assert_eq!(parts[1].method, "GET");
        assert!(parts[1].body.is_empty());
    }

    #[test]
    fn batch_paths_follow_the_roots() {
        let roots = vec!["/".to_owned(), "/admin-api/".to_owned()];
        assert!(is_batch_path("/batch", &roots));
        assert!(is_batch_path("/batch/admin/directory_v1", &roots));
        assert!(is_batch_path("/admin-api/batch", &roots));
        assert!(!is_batch_path("/batchy", &roots));
        assert!(!is_batch_path("/admin/directory/v1/users", &roots));
    }

    #[test]
    fn absolute_targets_are_cut_to_path_and_query() {
        assert_eq!(
            path_and_query("https://admin.googleapis.com/admin/directory/v1/users?a=b"),
            "/admin/directory/v1/users?a=b"
        );
        assert_eq!(path_and_query("/x"), "/x");
    }
}
