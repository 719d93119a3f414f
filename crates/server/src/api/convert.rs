//! Every conversion between proto values and domain/store/engine values, in one place.

use support_access_domain::names::RoleMode;
use support_access_domain::validation::InvalidValue;
use support_access_proto::v1;
use support_access_store::domains::RoleMode as StoredRoleMode;
use support_access_store::operations::{OperationKind, StepAction, StepState};

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

/// The proto role mode of a stored one.
pub fn role_mode_to_proto(stored: StoredRoleMode) -> v1::RoleMode {
    match stored {
        StoredRoleMode::ResellerAdmin => v1::RoleMode::ResellerAdmin,
        StoredRoleMode::CustomRole => v1::RoleMode::CustomRole,
    }
}

/// The stored role mode of a validated one.
pub fn role_mode_to_store(mode: RoleMode) -> StoredRoleMode {
    match mode {
        RoleMode::ResellerAdmin => StoredRoleMode::ResellerAdmin,
        RoleMode::CustomRole => StoredRoleMode::CustomRole,
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

/// The API's operation kind of a stored one.
pub fn operation_kind_to_proto(kind: OperationKind) -> v1::OperationKind {
    match kind {
        OperationKind::Provision => v1::OperationKind::Provision,
        OperationKind::Revoke => v1::OperationKind::Revoke,
        OperationKind::Reconcile => v1::OperationKind::Reconcile,
    }
}

/// The API's step action of a stored one.
pub fn step_action_to_proto(action: StepAction) -> v1::StepAction {
    match action {
        StepAction::CheckDelegatedAdmin => v1::StepAction::CheckDelegatedAdmin,
        StepAction::CreateOrgUnit => v1::StepAction::CreateOrgUnit,
        StepAction::CheckSubscription => v1::StepAction::CheckSubscription,
        StepAction::EnsureRole => v1::StepAction::EnsureRole,
        StepAction::CreateUser => v1::StepAction::CreateUser,
        StepAction::UpdateUser => v1::StepAction::UpdateUser,
        StepAction::AssignLicense => v1::StepAction::AssignLicense,
        StepAction::RemovePaidLicense => v1::StepAction::RemovePaidLicense,
        StepAction::AssignRole => v1::StepAction::AssignRole,
        StepAction::RemoveRole => v1::StepAction::RemoveRole,
        StepAction::SuspendUser => v1::StepAction::SuspendUser,
        StepAction::DeleteUser => v1::StepAction::DeleteUser,
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
