//! How an operation looks from outside: the `google.longrunning.Operation` built from the
//! journal (metadata with progress per domain; the response with every account's outcome and
//! every step), and finishing an operation once its last domain is done.

use std::collections::BTreeMap;

use prost::Message;
use support_access_proto::google::longrunning::{Operation, operation};
use support_access_proto::google::rpc;
use support_access_proto::v1;
use support_access_store::operations::{
    self, DomainWorkRecord, OperationKind, OperationRecord, Outcome, RunState, StepRecord,
    StepState,
};
use support_access_store::{Store, StoreError};

use super::OperationRequest;
use crate::api::convert::timestamp;

const TYPE_PREFIX: &str = "type.googleapis.com/";

/// `operations/{id}`.
pub fn operation_name(id: uuid::Uuid) -> String {
    format!("operations/{id}")
}

fn any<M: Message>(type_name: &str, message: &M) -> prost_types::Any {
    prost_types::Any {
        type_url: format!("{TYPE_PREFIX}{type_name}"),
        value: message.encode_to_vec(),
    }
}

/// The API view of a stored operation.
pub async fn operation_view(
    conn: &mut sqlx::PgConnection,
    record: &OperationRecord,
) -> Result<Operation, StoreError> {
    let progress = operations::progress(conn, record.id).await?;
    let metadata = v1::OperationMetadata {
        kind: match record.kind {
            OperationKind::Provision => v1::OperationKind::Provision,
            OperationKind::Revoke => v1::OperationKind::Revoke,
            OperationKind::Reconcile => v1::OperationKind::Reconcile,
        } as i32,
        create_time: Some(timestamp(record.create_time)),
        end_time: record.end_time.map(timestamp),
        cancel_requested: record.cancel_requested,
        principal: record.principal.clone(),
        domains: progress
            .into_iter()
            .map(|p| v1::DomainProgress {
                domain: format!("domains/{}", p.domain_name),
                pending: p.pending as i32,
                running: p.running as i32,
                done: p.done as i32,
                skipped: p.skipped as i32,
                failed: p.failed as i32,
                cancelled: p.cancelled as i32,
                message: p.message,
            })
            .collect(),
    };
    let result = if !record.done {
        None
    } else if let Some(error) = &record.error {
        Some(operation::Result::Error(
            rpc::Status::decode(error.as_slice()).unwrap_or_else(|_| rpc::Status {
                code: tonic::Code::Internal as i32,
                message: "the stored error could not be read".into(),
                details: Vec::new(),
            }),
        ))
    } else {
        record.result.as_ref().map(|bytes| {
            operation::Result::Response(prost_types::Any {
                type_url: format!("{TYPE_PREFIX}supportaccess.v1.OperationResult"),
                value: bytes.clone(),
            })
        })
    };
    Ok(Operation {
        name: operation_name(record.id),
        metadata: Some(any("supportaccess.v1.OperationMetadata", &metadata)),
        done: record.done,
        result,
    })
}

/// The result of an operation from its journal and what the engine recorded per domain. An
/// account is DONE only when nothing is left for it: a conflict, a blocker, a revoked account
/// left alone, a failed, cancelled or unfinished step, or a domain that failed before reaching it
/// all say so instead.
pub fn result_from_journal(
    request: &OperationRequest,
    staff_usernames: &BTreeMap<String, String>,
    steps: &[StepRecord],
    domains: &[DomainWorkRecord],
    domain_notes: Vec<String>,
) -> v1::OperationResult {
    let mut accounts: BTreeMap<(String, String), v1::AccountOutcome> = BTreeMap::new();
    for domain in &request.domains {
        for staff in &request.staff_members {
            let Some(username) = staff_usernames.get(staff) else {
                continue;
            };
            let email = format!("{username}@{domain}");
            accounts.insert(
                (domain.clone(), email.clone()),
                v1::AccountOutcome {
                    domain: format!("domains/{domain}"),
                    staff_member: format!("staffMembers/{staff}"),
                    email,
                    state: v1::StepState::Done as i32,
                    ..Default::default()
                },
            );
        }
    }
    for step in steps {
        let Some(email) = &step.account_email else {
            continue;
        };
        let outcome = accounts
            .entry((step.domain_name.clone(), email.clone()))
            .or_insert_with(|| v1::AccountOutcome {
                domain: format!("domains/{}", step.domain_name),
                staff_member: step
                    .staff_member_id
                    .as_ref()
                    .map(|s| format!("staffMembers/{s}"))
                    .unwrap_or_default(),
                email: email.clone(),
                state: v1::StepState::Done as i32,
                ..Default::default()
            });
        match step.state {
            StepState::Done => {
                outcome
                    .actions
                    .push(format!("{}: {}", step.action.as_str(), step.detail))
            }
            // The first failure is the account's error; later steps failed because of it.
            StepState::Failed if outcome.state != v1::StepState::Failed as i32 => {
                outcome.state = v1::StepState::Failed as i32;
                outcome.error = format!("{}: {}", step.action.as_str(), step.detail);
            }
            StepState::Cancelled if outcome.state != v1::StepState::Failed as i32 => {
                outcome.state = v1::StepState::Cancelled as i32;
            }
            StepState::Pending | StepState::Running
                if outcome.state == v1::StepState::Done as i32 =>
            {
                outcome.state = step_state(step.state) as i32;
            }
            _ => {}
        }
    }
    for ((domain, email), outcome) in accounts.iter_mut() {
        let work = domains.iter().find(|d| &d.domain_name == domain);
        let verdict = work.and_then(|d| d.account_results.get(email));
        let verdict_result = verdict
            .and_then(|v| v["result"].as_str())
            .and_then(|r| v1::AccountResult::from_str_name(&format!("ACCOUNT_RESULT_{r}")));
        outcome.result = match (outcome.state, verdict_result) {
            (s, _) if s == v1::StepState::Failed as i32 => v1::AccountResult::Failed,
            (s, _) if s == v1::StepState::Cancelled as i32 => v1::AccountResult::Cancelled,
            (_, Some(v1::AccountResult::Done)) => v1::AccountResult::Done,
            (_, Some(result)) => {
                outcome.error = verdict
                    .and_then(|v| v["detail"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                // A revoked account left alone on purpose is not a failure of the operation.
                outcome.state = if result == v1::AccountResult::SkippedRevoked {
                    v1::StepState::Skipped
                } else {
                    v1::StepState::Failed
                } as i32;
                result
            }
            (s, None) if s == v1::StepState::Done as i32 => match work.map(|d| d.state) {
                // Nothing planned for it in a domain that converged.
                Some(RunState::Succeeded) => v1::AccountResult::Done,
                Some(RunState::Cancelled) => {
                    outcome.state = v1::StepState::Cancelled as i32;
                    v1::AccountResult::Cancelled
                }
                Some(RunState::Failed) => {
                    outcome.state = v1::StepState::Failed as i32;
                    outcome.error = format!(
                        "not reached: the domain failed: {}",
                        work.map(|d| d.message.as_str()).unwrap_or_default()
                    );
                    v1::AccountResult::Blocked
                }
                _ => v1::AccountResult::Pending,
            },
            _ => v1::AccountResult::Pending,
        } as i32;
    }
    v1::OperationResult {
        accounts: accounts.into_values().collect(),
        steps: steps.iter().map(planned_step).collect(),
        domain_notes,
    }
}

/// The API view of a journal step.
pub fn planned_step(step: &StepRecord) -> v1::PlannedStep {
    v1::PlannedStep {
        domain: format!("domains/{}", step.domain_name),
        account: step.account_email.clone().unwrap_or_default(),
        action: step_action(step.action.as_str()) as i32,
        reason: step.reason.clone(),
        state: step_state(step.state) as i32,
        detail: step.detail.clone(),
        attempts: step.attempts,
    }
}

/// The API's step action of a stored one.
pub fn step_action(stored: &str) -> v1::StepAction {
    v1::StepAction::from_str_name(&format!("STEP_ACTION_{stored}"))
        .unwrap_or(v1::StepAction::Unspecified)
}

/// The API's step state of a stored one.
pub fn step_state(state: StepState) -> v1::StepState {
    match state {
        StepState::Pending => v1::StepState::Pending,
        StepState::Running => v1::StepState::Running,
        StepState::Done => v1::StepState::Done,
        StepState::Skipped => v1::StepState::Skipped,
        StepState::Failed => v1::StepState::Failed,
        StepState::Cancelled => v1::StepState::Cancelled,
    }
}

/// The result of `record` as its journal and domains tell it now, with the domains.
pub async fn journal_result(
    conn: &mut sqlx::PgConnection,
    record: &OperationRecord,
) -> Result<(v1::OperationResult, Vec<DomainWorkRecord>), StoreError> {
    let request: OperationRequest =
        serde_json::from_value(record.request.clone()).unwrap_or_default();
    let usernames: BTreeMap<String, String> =
        support_access_store::staff::get_many(&mut *conn, &request.staff_members)
            .await?
            .into_iter()
            .map(|member| (member.id, member.username))
            .collect();
    let steps = operations::steps(&mut *conn, record.id).await?;
    let domains = operations::domains(&mut *conn, record.id).await?;
    let notes: Vec<String> = domains
        .iter()
        .filter(|d| !d.message.is_empty())
        .map(|d| format!("{}: {}", d.domain_name, d.message))
        .collect();
    let result = result_from_journal(&request, &usernames, &steps, &domains, notes);
    Ok((result, domains))
}

/// Finishes an operation whose domains are all finished: the response lists every account; a
/// domain that failed makes the operation fail with a status whose details carry that same
/// result, so the caller sees both what failed and what was done.
pub async fn finish_operation(store: &Store, id: uuid::Uuid) -> Result<(), StoreError> {
    let mut conn = store.pool().acquire().await?;
    let Some(record) = operations::get(&mut conn, id).await? else {
        return Ok(());
    };
    if record.done {
        return Ok(());
    }
    let (result, domains) = journal_result(&mut conn, &record).await?;
    let failed: Vec<&str> = domains
        .iter()
        .filter(|d| d.state == RunState::Failed)
        .map(|d| d.domain_name.as_str())
        .collect();
    let cancelled = domains.iter().any(|d| d.state == RunState::Cancelled);
    let encoded_result = result.encode_to_vec();
    let status = |code: tonic::Code, message: String| {
        rpc::Status {
            code: code as i32,
            message,
            details: vec![any("supportaccess.v1.OperationResult", &result)],
        }
        .encode_to_vec()
    };
    let error;
    let outcome = if cancelled {
        error = status(tonic::Code::Cancelled, "the operation was cancelled".into());
        Outcome::Cancelled(&error)
    } else if !failed.is_empty() {
        let reasons: Vec<String> = domains
            .iter()
            .filter(|d| d.state == RunState::Failed)
            .map(|d| format!("{}: {}", d.domain_name, d.message))
            .collect();
        error = status(
            tonic::Code::FailedPrecondition,
            format!(
                "{} of {} domains need attention: {}",
                failed.len(),
                domains.len(),
                reasons.join("; ")
            ),
        );
        Outcome::Failed(&error)
    } else {
        Outcome::Succeeded(&encoded_result)
    };
    match operations::finish(&mut conn, id, outcome).await {
        Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}
