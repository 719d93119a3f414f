//! How an operation looks from outside: the `google.longrunning.Operation` built from the
//! journal (metadata with progress per domain; the response with counts of accounts and steps
//! and the first of each, bounded whatever the size of the operation), and the [`ProtoResultEncoder`] with which the engine stores a finished
//! operation's result in the same shape.

use prost::Message;
use support_access_engine::outcome::{
    AccountOutcome, AccountResult, Failure, OperationResult, ResultEncoder,
};
use support_access_proto::google::longrunning::{Operation, operation};
use support_access_proto::google::rpc;
use support_access_proto::v1;
use support_access_store::StoreError;
use support_access_store::operations::{self, OperationRecord, StepRecord, StepState};

use crate::api::convert::{
    operation_kind_to_proto, step_action_to_proto, step_state_to_proto, timestamp,
};

const TYPE_PREFIX: &str = "type.googleapis.com/";
const RESULT_TYPE: &str = "supportaccess.v1.OperationResult";
const METADATA_TYPE: &str = "supportaccess.v1.OperationMetadata";

/// `operations/{id}`.
pub fn operation_name(id: uuid::Uuid) -> String {
    format!("operations/{id}")
}

/// `message` packed in an `Any` of `type_name`.
pub fn any<M: Message>(type_name: &str, message: &M) -> prost_types::Any {
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
        kind: operation_kind_to_proto(record.kind) as i32,
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
                type_url: format!("{TYPE_PREFIX}{RESULT_TYPE}"),
                value: bytes.clone(),
            })
        })
    };
    Ok(Operation {
        name: operation_name(record.id),
        metadata: Some(any(METADATA_TYPE, &metadata)),
        done: record.done,
        result,
    })
}

/// At most this many accounts, steps and notes in an operation's result: the counts cover
/// everything, `ListOperationAccounts` pages every account.
pub const MAX_LISTED: usize = support_access_engine::outcome::LISTED;

/// The API view of an operation's result: bounded whatever the number of accounts (the first
/// [`MAX_LISTED`] accounts and steps, and every count).
pub fn result_view(result: &OperationResult) -> v1::OperationResult {
    let counts = |counts: &[(StepState, usize)]| {
        let mut counts: Vec<(v1::StepState, i32)> = counts
            .iter()
            .map(|(state, n)| (step_state_to_proto(*state), count(*n)))
            .collect();
        counts.sort_by_key(|(state, _)| *state as i32);
        counts
            .into_iter()
            .map(|(state, count)| v1::StepStateCount {
                state: state as i32,
                count,
            })
            .collect()
    };
    let mut account_results: Vec<(v1::AccountResult, i32)> = result
        .account_results
        .iter()
        .map(|(r, n)| (account_result_to_proto(*r), count(*n)))
        .collect();
    account_results.sort_by_key(|(r, _)| *r as i32);
    v1::OperationResult {
        accounts: result
            .accounts
            .iter()
            .take(MAX_LISTED)
            .map(account_view)
            .collect(),
        steps: result
            .steps
            .iter()
            .take(MAX_LISTED)
            .map(planned_step)
            .collect(),
        domain_notes: bounded_notes(&result.domain_notes),
        total_accounts: count(result.total_accounts),
        total_steps: count(result.total_steps),
        account_results: account_results
            .into_iter()
            .map(|(result, count)| v1::AccountResultCount {
                result: result as i32,
                count,
            })
            .collect(),
        account_states: counts(&result.account_states),
        step_states: counts(&result.step_states),
    }
}

/// The result of a `validate_only` request: the plan's first [`MAX_LISTED`] steps (every step
/// PENDING) with their count, and the notes.
pub fn plan_view(steps: Vec<v1::PlannedStep>, notes: &[String]) -> v1::OperationResult {
    let total = count(steps.len());
    v1::OperationResult {
        step_states: if total > 0 {
            vec![v1::StepStateCount {
                state: v1::StepState::Pending as i32,
                count: total,
            }]
        } else {
            Vec::new()
        },
        steps: steps.into_iter().take(MAX_LISTED).collect(),
        total_steps: total,
        domain_notes: bounded_notes(notes),
        ..Default::default()
    }
}

/// The first notes, the last one saying how many more there were.
fn bounded_notes(notes: &[String]) -> Vec<String> {
    if notes.len() <= MAX_LISTED {
        return notes.to_vec();
    }
    let mut kept = notes[..MAX_LISTED - 1].to_vec();
    kept.push(format!(
        "… and {} more notes (ListOperationAccounts has every account's outcome)",
        notes.len() - kept.len()
    ));
    kept
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The API view of one account's outcome.
pub fn account_view(outcome: &AccountOutcome) -> v1::AccountOutcome {
    v1::AccountOutcome {
        domain: format!("domains/{}", outcome.domain),
        staff_member: outcome
            .staff_member
            .as_ref()
            .map(|s| format!("staffMembers/{s}"))
            .unwrap_or_default(),
        email: outcome.email.clone(),
        state: step_state_to_proto(outcome.state) as i32,
        result: account_result_to_proto(outcome.result) as i32,
        actions: outcome.actions.clone(),
        // The engine records no manual action per account (they are the manual steps' job).
        manual_actions: Vec::new(),
        error: outcome.error.clone(),
    }
}

pub fn account_result_to_proto(result: AccountResult) -> v1::AccountResult {
    match result {
        AccountResult::Done => v1::AccountResult::Done,
        AccountResult::Pending => v1::AccountResult::Pending,
        AccountResult::Failed => v1::AccountResult::Failed,
        AccountResult::Conflict => v1::AccountResult::Conflict,
        AccountResult::Blocked => v1::AccountResult::Blocked,
        AccountResult::SkippedRevoked => v1::AccountResult::SkippedRevoked,
        AccountResult::Cancelled => v1::AccountResult::Cancelled,
    }
}

/// The API view of a journal step.
pub fn planned_step(step: &StepRecord) -> v1::PlannedStep {
    v1::PlannedStep {
        domain: format!("domains/{}", step.domain_name),
        account: step.account_email.clone().unwrap_or_default(),
        action: step_action_to_proto(step.action) as i32,
        reason: step.reason.clone(),
        state: step_state_to_proto(step.state) as i32,
        detail: step.detail.clone(),
        attempts: step.attempts,
    }
}

/// The encoded `google.rpc.Status` of a finished operation that did not succeed, with its
/// result in the details.
pub fn encoded_error(failure: Failure, message: String, result: &OperationResult) -> Vec<u8> {
    let code = match failure {
        Failure::Cancelled => tonic::Code::Cancelled,
        Failure::NeedsAttention => tonic::Code::FailedPrecondition,
    };
    rpc::Status {
        code: code as i32,
        message,
        details: vec![any(RESULT_TYPE, &result_view(result))],
    }
    .encode_to_vec()
}

/// Stores finished operations' results as the API returns them: an encoded
/// `supportaccess.v1.OperationResult`, or a `google.rpc.Status` that carries one.
pub struct ProtoResultEncoder;

impl ResultEncoder for ProtoResultEncoder {
    fn response(&self, result: &OperationResult) -> Vec<u8> {
        result_view(result).encode_to_vec()
    }

    fn error(&self, failure: Failure, message: String, result: &OperationResult) -> Vec<u8> {
        encoded_error(failure, message, result)
    }
}
