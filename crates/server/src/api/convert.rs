//! Every conversion between proto values and domain/store/engine values, in one place.

use support_access_domain::lifecycle::{OperationKind, RevokeMode};
use support_access_domain::names::RoleMode;
use support_access_domain::plan::StepKind;
use support_access_domain::validation::InvalidValue;
use support_access_proto::v1;
use support_access_store::operations::StepState;

/// A proto timestamp from a chrono one.
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// The role mode of a request; unset means the default (custom role).
pub fn role_mode_from_proto(value: i32) -> Result<RoleMode, InvalidValue> {
    match v1::RoleMode::try_from(value) {
        Ok(v1::RoleMode::Unspecified) => Ok(RoleMode::default()),
        Ok(v1::RoleMode::ResellerAdmin) => Ok(RoleMode::ResellerAdmin),
        Ok(v1::RoleMode::CustomRole) => Ok(RoleMode::CustomRole),
        Err(_) => Err(InvalidValue(format!(
            "unknown role mode {value}; use ROLE_MODE_RESELLER_ADMIN or ROLE_MODE_CUSTOM_ROLE"
        ))),
    }
}

/// The API's role mode.
pub fn role_mode_to_proto(mode: RoleMode) -> v1::RoleMode {
    match mode {
        RoleMode::ResellerAdmin => v1::RoleMode::ResellerAdmin,
        RoleMode::CustomRole => v1::RoleMode::CustomRole,
    }
}

/// The API's revoke mode.
pub fn revoke_mode_to_proto(mode: RevokeMode) -> v1::RevokeMode {
    match mode {
        RevokeMode::RemoveRole => v1::RevokeMode::RemoveRole,
        RevokeMode::Suspend => v1::RevokeMode::Suspend,
        RevokeMode::Delete => v1::RevokeMode::Delete,
    }
}

/// A required string field: refused when empty or only white space.
pub fn required(value: &str) -> Result<&str, InvalidValue> {
    if value.trim().is_empty() {
        Err(InvalidValue("is required".into()))
    } else {
        Ok(value)
    }
}

/// The API's operation kind.
pub fn operation_kind_to_proto(kind: OperationKind) -> v1::OperationKind {
    match kind {
        OperationKind::Provision => v1::OperationKind::Provision,
        OperationKind::Revoke => v1::OperationKind::Revoke,
        OperationKind::Reconcile => v1::OperationKind::Reconcile,
    }
}

/// The API's step action of a step kind (the API still lists `CHECK_*` actions that no step
/// kind produces).
pub fn step_action_to_proto(kind: StepKind) -> v1::StepAction {
    match kind {
        StepKind::CreateOrgUnit => v1::StepAction::CreateOrgUnit,
        StepKind::CreateCustomRole => v1::StepAction::EnsureRole,
        StepKind::CreateUser => v1::StepAction::CreateUser,
        StepKind::UpdateUser => v1::StepAction::UpdateUser,
        StepKind::AssignLicense => v1::StepAction::AssignLicense,
        StepKind::RemovePaidLicense => v1::StepAction::RemovePaidLicense,
        StepKind::AssignRole => v1::StepAction::AssignRole,
        StepKind::RemoveRole => v1::StepAction::RemoveRole,
        StepKind::SuspendUser => v1::StepAction::SuspendUser,
        StepKind::DeleteUser => v1::StepAction::DeleteUser,
    }
}

/// The API's step state of a stored one.
pub fn step_state_to_proto(state: StepState) -> v1::StepState {
    match state {
        StepState::Pending => v1::StepState::Pending,
        StepState::Running => v1::StepState::Running,
        StepState::Done => v1::StepState::Done,
        StepState::Skipped => v1::StepState::Skipped,
        StepState::Failed => v1::StepState::Failed,
        StepState::Cancelled => v1::StepState::Cancelled,
    }
}
