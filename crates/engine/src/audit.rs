//! The audit trail of the service's own writes to Google: one event per write attempt, in the
//! name of the principal who started the operation, with the operation's request id, the domain,
//! the account or object written, and how it ended. Secrets never enter it: steps carry no
//! password and Google's error texts hold none.

use std::collections::HashMap;
use std::sync::Mutex;

use support_access_domain::plan::{Step, StepKind};
use support_access_store::audit::{self, NewAuditEvent};
use support_access_store::operations::{self, Lease};
use support_access_store::{Store, StoreError};
use uuid::Uuid;

/// Who started each operation and with which request id, read once per operation.
#[derive(Default)]
pub struct OperationAuthors {
    known: Mutex<HashMap<Uuid, (String, Option<String>)>>,
}

impl OperationAuthors {
    async fn of(
        &self,
        store: &Store,
        operation: Uuid,
    ) -> Result<(String, Option<String>), StoreError> {
        if let Some(known) = self.known.lock().expect("not poisoned").get(&operation) {
            return Ok(known.clone());
        }
        let mut conn = store.pool().acquire().await?;
        let author = operations::get(&mut conn, operation)
            .await?
            .map(|o| (o.principal, o.request_id))
            .unwrap_or_else(|| ("system".to_owned(), None));
        self.known
            .lock()
            .expect("not poisoned")
            .insert(operation, author.clone());
        Ok(author)
    }
}

/// Google's name of the method a step writes with.
pub fn google_method(kind: StepKind) -> &'static str {
    match kind {
        StepKind::CreateOrgUnit => "directory.orgunits.insert",
        StepKind::CreateCustomRole => "directory.roles.insert",
        StepKind::CreateUser => "directory.users.insert",
        StepKind::UpdateUser | StepKind::SuspendUser => "directory.users.update",
        StepKind::DeleteUser => "directory.users.delete",
        StepKind::AssignLicense => "licensing.licenseAssignments.insert",
        StepKind::RemovePaidLicense => "licensing.licenseAssignments.delete",
        StepKind::AssignRole => "directory.roleAssignments.insert",
        StepKind::RemoveRole => "directory.roleAssignments.delete",
    }
}

fn target(step: &Step) -> String {
    match step {
        Step::CreateOrgUnit { path } => format!("orgUnit {path}"),
        Step::CreateCustomRole { role_name, .. } => format!("role {role_name}"),
        Step::AssignLicense { account, sku } | Step::RemovePaidLicense { account, sku } => {
            format!("{account} license {sku}")
        }
        Step::RemoveRole {
            account, role_name, ..
        } => format!("{account} role {role_name}"),
        Step::AssignRole { account, role, .. } => format!("{account} role {}", role.role_name()),
        other => other
            .account()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default(),
    }
}

/// Audits one Google write of the engine (its intent before the call, its outcome after), in
/// the name of the operation's caller. Failing to audit is logged, never fatal: the journal
/// holds the same facts.
pub async fn record_google_write(
    store: &Store,
    authors: &OperationAuthors,
    lease: &Lease,
    step: &Step,
    outcome: &str,
    detail: &str,
) {
    let method = format!("google:{}", google_method(step.kind()));
    append(store, authors, lease, method, target(step), outcome, detail).await;
}

/// Audits a change of what the service owns that no Google write made (an account found again
/// by its marker, an adoption whose marker was already in Google), in the name of the
/// operation's caller.
pub async fn record_ownership(
    store: &Store,
    authors: &OperationAuthors,
    lease: &Lease,
    account: &str,
    outcome: &str,
    detail: &str,
) {
    let method = "engine:RecordOwnership".to_owned();
    append(
        store,
        authors,
        lease,
        method,
        account.to_owned(),
        outcome,
        detail,
    )
    .await;
}

/// Appends one event of the leased operation.
async fn append(
    store: &Store,
    authors: &OperationAuthors,
    lease: &Lease,
    method: String,
    target: String,
    outcome: &str,
    detail: &str,
) {
    let written = async {
        let (principal, request_id) = authors.of(store, lease.operation_id).await?;
        let mut conn = store.pool().acquire().await?;
        audit::append(
            &mut conn,
            &NewAuditEvent {
                principal,
                method,
                request_id,
                domain_name: Some(lease.domain_name.clone()),
                target,
                outcome: outcome.to_owned(),
                detail: format!("operations/{}: {detail}", lease.operation_id),
            },
        )
        .await?;
        Ok::<_, StoreError>(())
    }
    .await;
    if let Err(error) = written {
        tracing::warn!(error = %error, "cannot audit an engine event");
    }
}
