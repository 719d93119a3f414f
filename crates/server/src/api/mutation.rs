//! One mutating RPC as one Postgres transaction: request-id replay (AIP-155), the change itself,
//! the stored response and the audit event commit together, so a rejected or failed request
//! leaves nothing behind and a retried one returns the first result.

use prost::Message;
use sqlx::{PgConnection, Postgres, Transaction};
use support_access_domain::names::RequestId;
use support_access_store::{Store, audit, idempotency};

use crate::auth::Principal;
use crate::error::ApiError;

/// What to write in the audit log about a mutation.
pub struct AuditTarget {
    /// The reseller domain concerned, when there is one.
    pub domain: Option<String>,
    /// The resource acted on.
    pub target: String,
}

/// How a mutation starts: either it was already done (replay) or it may proceed.
pub enum Begin<R> {
    /// The same request id was already used for the same request: this was its response.
    Replay(R),
    /// A fresh transaction in which to make the change.
    Proceed(Mutation),
}

/// An open mutation: the transaction, and what to record when it commits.
pub struct Mutation {
    tx: Transaction<'static, Postgres>,
    method: &'static str,
    request_id: Option<RequestId>,
    principal: Principal,
}

impl Mutation {
    /// Opens the transaction and claims the request id, if any. `request` is the whole request
    /// message: its encoding fingerprints the request so that a reused id with a different
    /// request is refused.
    pub async fn begin<Req: Message, R: Message + Default>(
        store: &Store,
        principal: Principal,
        method: &'static str,
        request_id: Option<RequestId>,
        request: &Req,
    ) -> Result<Begin<R>, ApiError> {
        let mut tx = store.pool().begin().await.map_err(store_unavailable)?;
        if let Some(id) = &request_id {
            let fingerprint = idempotency::fingerprint(&request.encode_to_vec());
            match idempotency::claim(&mut tx, id.as_str(), method, &fingerprint).await? {
                idempotency::Claim::New => {}
                idempotency::Claim::Replay { response } => {
                    let replayed = R::decode(response.as_slice()).map_err(ApiError::internal)?;
                    return Ok(Begin::Replay(replayed));
                }
                idempotency::Claim::Mismatch | idempotency::Claim::Pending => {
                    return Err(ApiError::AlreadyExists {
                        resource_type: "request",
                        name: id.as_str().to_owned(),
                        reason: "REQUEST_ID_REUSED",
                        message: format!(
                            "request_id {:?} was already used for a different request",
                            id.as_str()
                        ),
                    });
                }
            }
        }
        Ok(Begin::Proceed(Mutation {
            tx,
            method,
            request_id,
            principal,
        }))
    }

    /// The connection to make the change on.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// The caller.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// Stores the response for replays, appends the audit event and commits.
    pub async fn commit<R: Message>(
        self,
        response: &R,
        audit_target: AuditTarget,
    ) -> Result<(), ApiError> {
        self.commit_all(response, [audit_target]).await
    }

    /// Like [`Mutation::commit`], with one audit event per resource a batch changed.
    pub async fn commit_all<R: Message>(
        mut self,
        response: &R,
        audit_targets: impl IntoIterator<Item = AuditTarget>,
    ) -> Result<(), ApiError> {
        if let Some(id) = &self.request_id {
            idempotency::complete(&mut self.tx, id.as_str(), &response.encode_to_vec()).await?;
        }
        for audit_target in audit_targets {
            audit::append(
                &mut self.tx,
                &audit::NewAuditEvent {
                    principal: self.principal.id.clone(),
                    method: self.method.to_owned(),
                    request_id: self.request_id.as_ref().map(|id| id.as_str().to_owned()),
                    domain_name: audit_target.domain,
                    target: audit_target.target,
                    outcome: "OK".to_owned(),
                    detail: String::new(),
                },
            )
            .await?;
        }
        self.tx.commit().await.map_err(store_unavailable)?;
        Ok(())
    }
}

pub(super) fn store_unavailable(error: sqlx::Error) -> ApiError {
    ApiError::from(support_access_store::StoreError::Database(error))
}
