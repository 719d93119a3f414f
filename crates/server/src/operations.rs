//! `google.longrunning.Operations` over the operations journal in Postgres: get, list (newest
//! first, filtered by `done` and `kind`), wait (until done or the timeout) and cancel (an
//! operation no worker holds a lease on ends CANCELLED at once; otherwise the worker stops before
//! its next step, and the operation ends CANCELLED with a consistent journal either way).
//! Operations are kept as history: DeleteOperation is not offered.

use std::sync::Arc;
use std::time::Duration;

use support_access_domain::lifecycle::OperationKind;
use support_access_proto::google::longrunning::operations_server::Operations;
use support_access_proto::google::longrunning::{
    CancelOperationRequest, DeleteOperationRequest, GetOperationRequest, ListOperationsRequest,
    ListOperationsResponse, Operation, WaitOperationRequest,
};
use support_access_store::StoreError;
use support_access_store::operations::{
    self, Cancellation, OperationFilter, OperationRecord, Outcome,
};
use tonic::{Request, Response, Status};

use crate::api::operation_view::{encoded_error, operation_view};
use crate::api::page_token;
use crate::auth::{self, Principal};
use crate::error::ApiError;
use crate::state::AppState;
use support_access_engine::OperationRequest;
use support_access_engine::outcome::Failure;

/// Longest a WaitOperation call waits.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// WaitOperation's wait when the request gives none.
const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// The Operations service over the operations journal in Postgres.
#[derive(Clone)]
pub struct OperationsApi {
    state: Arc<AppState>,
}

impl OperationsApi {
    /// A service over the shared application state.
    pub fn new(state: Arc<AppState>) -> Self {
        OperationsApi { state }
    }

    async fn load(&self, principal: &Principal, name: &str) -> Result<OperationRecord, ApiError> {
        let id = parse_name(name)?;
        let mut conn = self.state.conn().await?;
        let record = operations::get(&mut conn, id)
            .await?
            .ok_or_else(|| not_found(name))?;
        check_domains(principal, &record)?;
        self.forget_status_if_finished(&record);
        Ok(record)
    }

    /// A caller who sees an operation finished here then sees its effect in this replica's
    /// `GetDomainStatus`, without waiting for Postgres's announcement of the finish. Once per
    /// operation: one whose view is kept was seen finished before.
    fn forget_status_if_finished(&self, record: &OperationRecord) {
        if record.done && self.state.finished_operations().get(record.id).is_none() {
            for domain in request_domains(record) {
                self.state.status_cache().forget(&domain);
            }
        }
    }

    /// Keeps the view of a finished operation (once its statuses were forgotten) and returns it.
    fn keep_if_finished(&self, record: &OperationRecord, view: Operation) -> Operation {
        if !record.done {
            return view;
        }
        self.state
            .finished_operations()
            .put(record.id, request_domains(record), view)
            .operation
            .clone()
    }

    async fn view(&self, record: &OperationRecord) -> Result<Operation, ApiError> {
        let mut conn = self.state.conn().await?;
        Ok(operation_view(&mut conn, record).await?)
    }
}

fn database(error: sqlx::Error) -> ApiError {
    ApiError::from(StoreError::Database(error))
}

/// The encoded error of an operation cancelled before any worker got to it, read from the
/// journal in the cancelling transaction: CANCELLED, with the operation's result (every account
/// and step, as far as they got) in its details, as the engine's finish writes it for a cancel.
async fn cancelled_outcome(
    conn: &mut sqlx::PgConnection,
    record: &OperationRecord,
) -> Result<Vec<u8>, ApiError> {
    let (result, _) = support_access_engine::outcome::journal_result(conn, record).await?;
    Ok(encoded_error(
        Failure::Cancelled,
        "the operation was cancelled".into(),
        &result,
    ))
}

fn parse_name(name: &str) -> Result<uuid::Uuid, ApiError> {
    name.strip_prefix("operations/")
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
        .ok_or_else(|| ApiError::invalid("name", "must be operations/{id}, as returned by ProvisionSupportAccess or RevokeSupportAccess"))
}

pub(crate) fn not_found(name: &str) -> ApiError {
    ApiError::NotFound {
        resource_type: "longrunning.googleapis.com/Operation",
        name: name.to_owned(),
    }
}

/// A principal limited to some domains sees only operations that stay within them.
pub(crate) fn check_domains(
    principal: &Principal,
    record: &OperationRecord,
) -> Result<(), ApiError> {
    check_domain_names(principal, &request_domains(record))
}

fn check_domain_names(principal: &Principal, domains: &[String]) -> Result<(), ApiError> {
    for domain in domains {
        principal.check_domain(domain)?;
    }
    Ok(())
}

fn request_domains(record: &OperationRecord) -> Vec<String> {
    serde_json::from_value::<OperationRequest>(record.request.clone())
        .map(|r| r.domains)
        .unwrap_or_default()
}

/// Parses the `filter` of ListOperations: `done=true`, `done=false`, `kind=PROVISION`,
/// `kind=REVOKE`, `kind=RECONCILE`, joined with ` AND `.
fn parse_filter(filter: &str) -> Result<OperationFilter, ApiError> {
    let mut parsed = OperationFilter::default();
    for term in filter
        .split(" AND ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let (key, value) = term
            .split_once('=')
            .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
            .ok_or_else(|| ApiError::invalid("filter", format!("cannot read {term:?}: use done=true|false and kind=PROVISION|REVOKE|RECONCILE joined with AND")))?;
        match (key, value) {
            ("done", "true") => parsed.done = Some(true),
            ("done", "false") => parsed.done = Some(false),
            ("kind", "PROVISION" | "OPERATION_KIND_PROVISION") => {
                parsed.kind = Some(OperationKind::Provision)
            }
            ("kind", "REVOKE" | "OPERATION_KIND_REVOKE") => {
                parsed.kind = Some(OperationKind::Revoke)
            }
            ("kind", "RECONCILE" | "OPERATION_KIND_RECONCILE") => {
                parsed.kind = Some(OperationKind::Reconcile)
            }
            _ => {
                return Err(ApiError::invalid(
                    "filter",
                    format!(
                        "unsupported term {term:?}: use done=true|false and kind=PROVISION|REVOKE|RECONCILE joined with AND"
                    ),
                ));
            }
        }
    }
    Ok(parsed)
}

#[tonic::async_trait]
impl Operations for OperationsApi {
    async fn list_operations(
        &self,
        request: Request<ListOperationsRequest>,
    ) -> Result<Response<ListOperationsResponse>, Status> {
        let principal = auth::principal(request.extensions())?;
        let req = request.into_inner();
        let filter = parse_filter(&req.filter)?;
        let page_size = support_access_domain::parse_page_size(req.page_size)
            .map_err(|e| ApiError::invalid("page_size", e.0))?;
        let before = page_token::decode("operations", &req.page_token)
            .map_err(|e| ApiError::invalid("page_token", e.0))?
            .map(|k| {
                k.parse::<i64>().map_err(|_| {
                    ApiError::invalid("page_token", "is not a page token returned by this list")
                })
            })
            .transpose()?;
        let mut conn = self.state.conn().await?;
        let page = operations::list(&mut conn, &filter, page_size, before)
            .await
            .map_err(ApiError::from)?;
        let mut views = Vec::with_capacity(page.items.len());
        for record in page
            .items
            .iter()
            .filter(|r| check_domains(&principal, r).is_ok())
        {
            self.forget_status_if_finished(record);
            let view = operation_view(&mut conn, record)
                .await
                .map_err(ApiError::from)?;
            views.push(self.keep_if_finished(record, view));
        }
        Ok(Response::new(ListOperationsResponse {
            operations: views,
            next_page_token: page
                .next_key
                .map(|k| page_token::encode("operations", &k.to_string()))
                .unwrap_or_default(),
            unreachable: Vec::new(),
        }))
    }

    async fn get_operation(
        &self,
        request: Request<GetOperationRequest>,
    ) -> Result<Response<Operation>, Status> {
        let principal = auth::principal(request.extensions())?;
        let name = &request.get_ref().name;
        // A finished operation never changes: its view is served from memory once built.
        let id = parse_name(name)?;
        if let Some(finished) = self.state.finished_operations().get(id) {
            check_domain_names(&principal, &finished.domains)?;
            return Ok(Response::new(finished.operation.clone()));
        }
        let record = self.load(&principal, name).await?;
        let view = self.view(&record).await?;
        Ok(Response::new(self.keep_if_finished(&record, view)))
    }

    async fn delete_operation(
        &self,
        request: Request<DeleteOperationRequest>,
    ) -> Result<Response<()>, Status> {
        auth::principal(request.extensions())?;
        Err(ApiError::Unimplemented(
            "DeleteOperation is not implemented: operations are kept as the audit trail".into(),
        )
        .into())
    }

    async fn cancel_operation(
        &self,
        request: Request<CancelOperationRequest>,
    ) -> Result<Response<()>, Status> {
        let principal = auth::principal(request.extensions())?;
        let name = request.get_ref().name.clone();
        let record = self.load(&principal, &name).await?;
        let store = self.state.store()?;
        // One transaction: the cancellation, the operation's outcome when it ends at once, and
        // the audit event.
        let mut tx = store.pool().begin().await.map_err(database)?;
        let detail = format!("cancelled by {}", principal.id);
        match operations::cancel_now_or_flag(&mut tx, record.id, &detail).await {
            Ok(Cancellation::Cancelled(record)) => {
                let error = cancelled_outcome(&mut tx, &record).await?;
                operations::finish(&mut tx, record.id, Outcome::Cancelled(&error))
                    .await
                    .map_err(ApiError::from)?;
            }
            // A worker holds a lease: it stops before its next write and closes the steps.
            Ok(Cancellation::Flagged(_) | Cancellation::AlreadyDone(_)) => {}
            Err(StoreError::NotFound) => return Err(not_found(&name).into()),
            Err(e) => return Err(ApiError::from(e).into()),
        }
        support_access_store::audit::append(
            &mut tx,
            &support_access_store::audit::NewAuditEvent {
                principal: principal.id.clone(),
                method: "/google.longrunning.Operations/CancelOperation".into(),
                request_id: None,
                domain_name: None,
                target: name,
                outcome: "OK".into(),
                detail: String::new(),
            },
        )
        .await
        .map_err(ApiError::from)?;
        tx.commit().await.map_err(database)?;
        self.state.wake_engine();
        Ok(Response::new(()))
    }

    async fn wait_operation(
        &self,
        request: Request<WaitOperationRequest>,
    ) -> Result<Response<Operation>, Status> {
        let principal = auth::principal(request.extensions())?;
        let req = request.into_inner();
        let timeout = match &req.timeout {
            Some(t) if t.seconds < 0 || t.nanos < 0 => {
                return Err(ApiError::invalid("timeout", "must not be negative").into());
            }
            Some(t) => Duration::new(t.seconds as u64, t.nanos as u32).min(MAX_WAIT),
            None => DEFAULT_WAIT,
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let mut poll = Duration::from_millis(50);
        loop {
            let record = self.load(&principal, &req.name).await?;
            if record.done || tokio::time::Instant::now() >= deadline {
                let view = self.view(&record).await?;
                return Ok(Response::new(self.keep_if_finished(&record, view)));
            }
            tokio::time::sleep(poll.min(deadline - tokio::time::Instant::now())).await;
            poll = (poll * 2).min(Duration::from_millis(500));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse() {
        assert_eq!(
            parse_filter("kind=RECONCILE").unwrap().kind,
            Some(OperationKind::Reconcile)
        );
        let f = parse_filter("done=false AND kind=REVOKE").unwrap();
        assert_eq!(f.done, Some(false));
        assert_eq!(f.kind, Some(OperationKind::Revoke));
        assert!(parse_filter("state=ANY").is_err());
        assert_eq!(parse_filter("").unwrap(), OperationFilter::default());
    }
}
