//! `ListDriftEvents`: the differences reconciliation found between Google and the desired state,
//! newest first, of one domain or of every domain the caller may see (`domains/-`), with the
//! AIP-160 filter subset `open=true|false`, `kind=ACCOUNT_ROLE_REMOVED` (a `DriftKind` without
//! its prefix) and `account="ana@reseller.example"`, joined by `AND`. Also the API view of a
//! drift event, shared with `GetDomainStatus`.

use std::collections::HashMap;

use support_access_domain::parse_domain_resource;
use support_access_domain::validation::{InvalidValue, Violations};
use support_access_proto::v1;
use support_access_store::drift::{self, DriftFilter, DriftRecord};

use super::convert::timestamp;
use super::observation;
use super::page_token;
use crate::api::operation_view::operation_name;
use crate::auth::{DomainScope, Principal};
use crate::error::ApiError;
use crate::state::AppState;

/// The page-token kind of `ListDriftEvents`.
const PAGE_KIND: &str = "driftEvents";

/// The conditions of a parsed filter.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Conditions {
    /// `open=`.
    pub open: Option<bool>,
    /// `kind=`, without the `DRIFT_KIND_` prefix.
    pub kind: Option<String>,
    /// `account=`, lower case.
    pub account: Option<String>,
}

/// Parses the filter subset; empty means no condition.
pub fn parse_filter(filter: &str) -> Result<Conditions, InvalidValue> {
    let mut conditions = Conditions::default();
    if filter.trim().is_empty() {
        return Ok(conditions);
    }
    let usage = "conditions are `open=true|false`, `kind=<DriftKind without DRIFT_KIND_>` and `account=\"<e-mail>\"`, joined by AND";
    for term in filter.split(" AND ") {
        let Some((key, value)) = term.split_once('=') else {
            return Err(InvalidValue(format!(
                "{:?} is not a condition; {usage}",
                term.trim()
            )));
        };
        let (key, value) = (key.trim(), value.trim());
        let duplicate = || InvalidValue(format!("{key} appears twice; {usage}"));
        match key {
            "open" => {
                let open = match value {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(InvalidValue(format!(
                            "open must be true or false, not {value:?}"
                        )));
                    }
                };
                if conditions.open.replace(open).is_some() {
                    return Err(duplicate());
                }
            }
            "kind" => {
                let known = v1::DriftKind::from_str_name(&format!("DRIFT_KIND_{value}"))
                    .filter(|k| *k != v1::DriftKind::Unspecified);
                if known.is_none() {
                    return Err(InvalidValue(format!(
                        "kind {value:?} is not a drift kind (for example ACCOUNT_ROLE_REMOVED)"
                    )));
                }
                if conditions.kind.replace(value.to_owned()).is_some() {
                    return Err(duplicate());
                }
            }
            "account" => {
                let Some(account) = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .filter(|v| !v.is_empty() && !v.contains('"'))
                else {
                    return Err(InvalidValue(format!(
                        "account must be a quoted e-mail address, for example account=\"ana@reseller.example\", not {value}"
                    )));
                };
                if conditions
                    .account
                    .replace(account.to_ascii_lowercase())
                    .is_some()
                {
                    return Err(duplicate());
                }
            }
            _ => {
                return Err(InvalidValue(format!("cannot filter on {key:?}; {usage}")));
            }
        }
    }
    Ok(conditions)
}

/// `ListDriftEvents`.
pub async fn list_drift_events(
    state: &AppState,
    principal: &Principal,
    request: &v1::ListDriftEventsRequest,
) -> Result<v1::ListDriftEventsResponse, ApiError> {
    let mut v = Violations::default();
    let domain = if request.parent == "domains/-" {
        None
    } else {
        v.check("parent", parse_domain_resource(&request.parent))
    };
    let page_size = v.check(
        "page_size",
        support_access_domain::parse_page_size(request.page_size),
    );
    let after = v
        .check(
            "page_token",
            page_token::decode(PAGE_KIND, &request.page_token).and_then(|key| {
                key.map(|k| {
                    k.parse::<i64>().map_err(|_| {
                        InvalidValue("is not a page token returned by this list".into())
                    })
                })
                .transpose()
            }),
        )
        .flatten();
    let conditions = v.check("filter", parse_filter(&request.filter));
    v.finish().map_err(ApiError::InvalidArgument)?;
    let page_size = page_size.unwrap_or(support_access_domain::DEFAULT_PAGE_SIZE);
    let conditions = conditions.unwrap_or_default();

    let mut conn = state.conn().await?;
    if let Some(domain) = &domain {
        principal.check_domain(domain.as_str())?;
        observation::domain_record(&mut conn, domain.as_str()).await?;
    }
    let allowed_domains = match &principal.domains {
        DomainScope::All => None,
        DomainScope::Only(domains) => Some(domains.iter().cloned().collect()),
    };
    let page = drift::list(
        &mut conn,
        &DriftFilter {
            domain_name: domain.map(|d| d.as_str().to_owned()),
            open: conditions.open,
            kind: conditions.kind,
            account: conditions.account,
            allowed_domains,
        },
        page_size,
        after,
    )
    .await?;
    Ok(v1::ListDriftEventsResponse {
        drift_events: page.items.iter().map(to_proto).collect(),
        next_page_token: page
            .next_key
            .map(|k| page_token::encode(PAGE_KIND, &k.to_string()))
            .unwrap_or_default(),
    })
}

/// The API view of a drift event.
pub fn to_proto(record: &DriftRecord) -> v1::DriftEvent {
    let evidence: HashMap<String, String> = match &record.evidence {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), value)
            })
            .collect(),
        _ => HashMap::new(),
    };
    v1::DriftEvent {
        name: format!("domains/{}/driftEvents/{}", record.domain_name, record.id),
        kind: v1::DriftKind::from_str_name(&format!("DRIFT_KIND_{}", record.kind))
            .unwrap_or(v1::DriftKind::Unspecified) as i32,
        account: record.account_email.clone(),
        staff_member: record
            .staff_member_id
            .as_ref()
            .map(|id| format!("staffMembers/{id}"))
            .unwrap_or_default(),
        detail: record.detail.clone(),
        evidence,
        detect_time: Some(timestamp(record.detect_time)),
        resolve_time: record.resolve_time.map(timestamp),
        open: record.is_open(),
        repair_operation: record
            .repair_operation
            .map(operation_name)
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_subset_parses_and_refuses_the_rest() {
        assert_eq!(parse_filter("").unwrap(), Conditions::default());
        assert_eq!(
            parse_filter("open=true AND kind=ACCOUNT_ROLE_REMOVED AND account=\"Ana@R.example\"")
                .unwrap(),
            Conditions {
                open: Some(true),
                kind: Some("ACCOUNT_ROLE_REMOVED".into()),
                account: Some("ana@r.example".into()),
            }
        );
        assert_eq!(parse_filter("open = false").unwrap().open, Some(false));
        for bad in [
            "open=yes",
            "kind=NOPE",
            "kind=UNSPECIFIED",
            "account=ana@r.example",
            "detail=\"x\"",
            "open=true OR open=false",
            "open=true AND open=false",
            "open",
        ] {
            assert!(parse_filter(bad).is_err(), "{bad}");
        }
    }
}
