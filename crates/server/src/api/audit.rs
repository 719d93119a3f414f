//! `ListAuditEvents`: the audit log, newest first, filtered by method, domain and principal. A
//! principal limited to some domains sees only the events of those domains (events without a
//! domain, such as staff changes, are hidden from it), and asking for another domain's events is
//! PERMISSION_DENIED.

use support_access_domain::parse_domain_resource;
use support_access_domain::parse_page_size;
use support_access_domain::validation::Violations;
use support_access_proto::v1;
use support_access_store::audit::{self, AuditFilter, AuditRecord};

use super::convert::timestamp;
use super::page_token;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// The list kind that page tokens are bound to.
const PAGE_KIND: &str = "auditEvents";
/// Longest method or principal filter accepted.
const MAX_FILTER_CHARS: usize = 500;
/// Store pages read at most per call when events of other domains are filtered out; the page
/// returned may then be short, with a token to continue (AIP-158 allows that).
const MAX_SCANNED_PAGES: usize = 10;

/// A validated request.
struct Query {
    filter: AuditFilter,
    page_size: u32,
    before_id: Option<i64>,
}

/// Lists audit events for `principal`.
pub async fn list_audit_events(
    state: &AppState,
    principal: &Principal,
    request: &v1::ListAuditEventsRequest,
) -> Result<v1::ListAuditEventsResponse, ApiError> {
    let query = validate(request)?;
    if let Some(domain) = &query.filter.domain_name {
        principal.check_domain(domain)?;
    }
    // Only principals limited to some domains, listing without a domain filter, lose events.
    let filtered = !principal.has_every_domain() && query.filter.domain_name.is_none();
    let mut conn = state.conn().await?;
    let mut events = Vec::new();
    let mut before_id = query.before_id;
    let mut next_key = None;
    for _ in 0..(if filtered { MAX_SCANNED_PAGES } else { 1 }) {
        let wanted = query.page_size - events.len() as u32;
        let page = audit::list(&mut conn, &query.filter, wanted, before_id)
            .await
            .map_err(ApiError::from)?;
        events.extend(
            page.items
                .into_iter()
                .filter(|event| visible_to(principal, event)),
        );
        next_key = page.next_key;
        match next_key {
            Some(key) if events.len() < query.page_size as usize => before_id = Some(key),
            _ => break,
        }
    }
    Ok(v1::ListAuditEventsResponse {
        audit_events: events.iter().map(to_proto).collect(),
        next_page_token: next_key
            .map(|key| page_token::encode(PAGE_KIND, &key.to_string()))
            .unwrap_or_default(),
    })
}

fn validate(request: &v1::ListAuditEventsRequest) -> Result<Query, ApiError> {
    let mut v = Violations::default();
    let page_size = v.check("page_size", parse_page_size(request.page_size));
    let before_id = v
        .check(
            "page_token",
            page_token::decode(PAGE_KIND, &request.page_token),
        )
        .and_then(|key| match key {
            None => Some(None),
            Some(key) => match key.parse::<i64>() {
                Ok(id) => Some(Some(id)),
                Err(_) => {
                    v.add("page_token", "is not a page token returned by this list");
                    None
                }
            },
        });
    let domain_name = if request.domain.is_empty() {
        Some(None)
    } else {
        v.check("domain", parse_domain_resource(&request.domain))
            .map(|d| Some(d.as_str().to_owned()))
    };
    for (field, value) in [
        ("method", &request.method),
        ("principal", &request.principal),
    ] {
        if value.chars().count() > MAX_FILTER_CHARS {
            v.add(
                field,
                format!("must be at most {MAX_FILTER_CHARS} characters"),
            );
        }
    }
    match (v.finish(), page_size, before_id, domain_name) {
        (Ok(()), Some(page_size), Some(before_id), Some(domain_name)) => Ok(Query {
            filter: AuditFilter {
                method: Some(request.method.clone()).filter(|m| !m.is_empty()),
                domain_name,
                principal: Some(request.principal.clone()).filter(|p| !p.is_empty()),
            },
            page_size,
            before_id,
        }),
        (Err(violations), ..) => Err(ApiError::InvalidArgument(violations)),
        _ => Err(ApiError::internal(anyhow::anyhow!(
            "audit query validation lost a violation"
        ))),
    }
}

fn visible_to(principal: &Principal, event: &AuditRecord) -> bool {
    principal.has_every_domain()
        || event
            .domain_name
            .as_deref()
            .is_some_and(|domain| principal.may_access(domain))
}

fn to_proto(event: &AuditRecord) -> v1::AuditEvent {
    v1::AuditEvent {
        name: format!("auditEvents/{}", event.id),
        event_time: Some(timestamp(event.event_time)),
        principal: event.principal.clone(),
        method: event.method.clone(),
        request_id: event.request_id.clone().unwrap_or_default(),
        domain: event
            .domain_name
            .as_deref()
            .map(|d| format!("domains/{d}"))
            .unwrap_or_default(),
        target: event.target.clone(),
        outcome: event.outcome.clone(),
        detail: event.detail.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_invalid_field_is_reported_at_once() {
        let request = v1::ListAuditEventsRequest {
            page_size: -1,
            page_token: "forged".into(),
            domain: "reseller.example".into(),
            method: "m".repeat(MAX_FILTER_CHARS + 1),
            principal: String::new(),
        };
        let Err(ApiError::InvalidArgument(violations)) = validate(&request) else {
            panic!("expected INVALID_ARGUMENT");
        };
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["page_size", "page_token", "domain", "method"]);
    }

    #[test]
    fn filters_and_tokens_become_a_store_query() {
        let token = page_token::encode(PAGE_KIND, "42");
        let query = validate(&v1::ListAuditEventsRequest {
            page_size: 0,
            page_token: token,
            domain: "domains/Reseller.example".into(),
            method: "/supportaccess.v1.SupportAccessService/CreateDomain".into(),
            principal: String::new(),
        })
        .unwrap();
        assert_eq!(query.page_size, 50);
        assert_eq!(query.before_id, Some(42));
        assert_eq!(
            query.filter.domain_name.as_deref(),
            Some("reseller.example")
        );
        assert_eq!(query.filter.principal, None);
        let other_list = page_token::encode("domains", "42");
        assert!(
            validate(&v1::ListAuditEventsRequest {
                page_token: other_list,
                ..Default::default()
            })
            .is_err()
        );
    }
}
