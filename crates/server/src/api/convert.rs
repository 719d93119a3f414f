//! Small conversions between proto values and domain/store values shared by the handlers.

use support_access_domain::names::RoleMode;
use support_access_domain::validation::InvalidValue;
use support_access_proto::v1;
use support_access_store::domains::RoleMode as StoredRoleMode;

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
