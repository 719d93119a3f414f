//! `ListOperationAccounts`: every account of an operation with what became of it, paged, so that
//! `GetOperation` can stay bounded (its result holds counts and the first accounts). Read from
//! the journal as the engine reads it to finish the operation (the same outcomes, whether the
//! operation runs or is done), one domain at a time from the page token's on, with the AIP-160
//! subset `result = X`, `result != X`, `state = X`, `state != X` joined by AND. Ordered by domain
//! and e-mail; the page token is the last (domain, e-mail) listed, or a domain every account of
//! which was looked at (`domain ` with no e-mail).
//!
//! A call stops at the end of a domain once it has looked at [`SCAN_LIMIT`] accounts and answers
//! what it found, perhaps nothing, with a page token (AIP-158 lets a page be short, and callers
//! page until the token is empty): a filter that matches nothing in an operation of 200 domains
//! costs each call a few domains' reads, not all 200.

use support_access_domain::validation::{InvalidValue, Violations};
use support_access_engine::outcome::ResultReader;
use support_access_proto::v1;
use support_access_store::operations;

use super::operation_view::account_view;
use super::page_token;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::operations::{check_domains, not_found};
use crate::state::AppState;

/// The page-token kind of `ListOperationAccounts`.
const PAGE_KIND: &str = "operationAccounts";

/// Accounts a call looks at before it stops at the end of a domain (it always reads at least
/// one domain, so every call makes progress).
pub const SCAN_LIMIT: usize = 1000;

/// One condition: the field, whether it is negated, and the value's proto number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// `result = X` (false) or `result != X` (true).
    Result(bool, v1::AccountResult),
    /// `state = X` (false) or `state != X` (true).
    State(bool, v1::StepState),
}

impl Condition {
    fn holds(self, outcome: &v1::AccountOutcome) -> bool {
        match self {
            Condition::Result(negated, result) => (outcome.result() == result) != negated,
            Condition::State(negated, state) => (outcome.state() == state) != negated,
        }
    }
}

/// Parses the filter subset; empty means every account.
pub fn parse_filter(filter: &str) -> Result<Vec<Condition>, InvalidValue> {
    let usage = "conditions are `result = <AccountResult without ACCOUNT_RESULT_>`, `result != …`, `state = <StepState without STEP_STATE_>` and `state != …`, joined by AND";
    let mut conditions = Vec::new();
    for super::filter::Term {
        key,
        negated,
        value,
    } in super::filter::terms(filter, usage)?
    {
        let condition = match key {
            "result" => v1::AccountResult::from_str_name(&format!("ACCOUNT_RESULT_{value}"))
                .map(|r| Condition::Result(negated, r))
                .ok_or_else(|| {
                    InvalidValue(format!(
                        "result {value:?} is not an account result (DONE, PENDING, FAILED, CONFLICT, BLOCKED, SKIPPED_REVOKED or CANCELLED)"
                    ))
                })?,
            "state" => v1::StepState::from_str_name(&format!("STEP_STATE_{value}"))
                .map(|s| Condition::State(negated, s))
                .ok_or_else(|| {
                    InvalidValue(format!(
                        "state {value:?} is not a step state (PENDING, RUNNING, DONE, SKIPPED, FAILED or CANCELLED)"
                    ))
                })?,
            _ => return Err(InvalidValue(format!("cannot filter on {key:?}; {usage}"))),
        };
        conditions.push(condition);
    }
    Ok(conditions)
}

/// `ListOperationAccounts`.
pub async fn list_operation_accounts(
    state: &AppState,
    principal: &Principal,
    request: &v1::ListOperationAccountsRequest,
) -> Result<v1::ListOperationAccountsResponse, ApiError> {
    let mut v = Violations::default();
    let id = v.check(
        "parent",
        request
            .parent
            .strip_prefix("operations/")
            .and_then(|id| uuid::Uuid::parse_str(id).ok())
            .ok_or_else(|| {
                InvalidValue(
                    "must be operations/{id}, as returned by ProvisionSupportAccess or RevokeSupportAccess"
                        .into(),
                )
            }),
    );
    let page_size = v.check(
        "page_size",
        support_access_domain::parse_page_size(request.page_size),
    );
    let after = v
        .check(
            "page_token",
            page_token::decode(PAGE_KIND, &request.page_token).and_then(|key| {
                key.map(|k| {
                    k.split_once(' ')
                        .map(|(d, e)| (d.to_owned(), e.to_owned()))
                        .ok_or_else(|| {
                            InvalidValue("is not a page token returned by this list".into())
                        })
                })
                .transpose()
            }),
        )
        .flatten();
    let conditions = v.check("filter", parse_filter(&request.filter));
    v.finish().map_err(ApiError::InvalidArgument)?;
    // Both are set once the checks passed.
    let (Some(id), Some(conditions)) = (id, conditions) else {
        return Err(ApiError::invalid("parent", "must be operations/{id}"));
    };
    let page_size = page_size.unwrap_or(support_access_domain::DEFAULT_PAGE_SIZE) as usize;

    let mut conn = state.conn().await?;
    let record = operations::get(&mut conn, id)
        .await?
        .ok_or_else(|| not_found(&request.parent))?;
    check_domains(principal, &record)?;
    // One domain at a time from the page token's domain on: what is held is bounded by the
    // largest domain, whatever the size of the operation.
    let reader = ResultReader::new(&mut conn, &record).await?;
    let domains: Vec<String> = reader
        .domains()
        .filter(|d| match &after {
            None => true,
            // Every account of the token's domain was looked at.
            Some((start, email)) if email.is_empty() => *d > start.as_str(),
            Some((start, _)) => *d >= start.as_str(),
        })
        .map(str::to_owned)
        .collect();
    let mut accounts = Vec::new();
    let mut last_listed = None;
    let mut resume_after = None;
    let mut examined = 0;
    'domains: for (i, domain) in domains.iter().enumerate() {
        if examined >= SCAN_LIMIT {
            // A short page: every account of the domains before this one was looked at.
            resume_after = Some((domains[i - 1].clone(), String::new()));
            break;
        }
        let outcomes = reader.domain(&mut conn, domain).await?.accounts;
        examined += outcomes.len();
        for outcome in &outcomes {
            let key = (outcome.domain.clone(), outcome.email.clone());
            if after.as_ref().is_some_and(|a| key <= *a) {
                continue;
            }
            let view = account_view(outcome);
            if !conditions.iter().all(|c| c.holds(&view)) {
                continue;
            }
            if accounts.len() == page_size {
                // The page is full and another account matches: resume after the last listed.
                resume_after = last_listed;
                break 'domains;
            }
            last_listed = Some(key);
            accounts.push(view);
        }
    }
    Ok(v1::ListOperationAccountsResponse {
        accounts,
        next_page_token: resume_after.map_or_else(String::new, |(domain, email)| {
            page_token::encode(PAGE_KIND, &format!("{domain} {email}"))
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_subset_parses_and_refuses_the_rest() {
        assert_eq!(parse_filter(" ").unwrap(), Vec::new());
        assert_eq!(
            parse_filter("result != DONE AND state = FAILED").unwrap(),
            vec![
                Condition::Result(true, v1::AccountResult::Done),
                Condition::State(false, v1::StepState::Failed),
            ]
        );
        for bad in ["result = done", "email = x", "result", "state = WAITING"] {
            assert!(parse_filter(bad).is_err(), "{bad}");
        }
    }
}
