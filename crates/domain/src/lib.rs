//! Pure logic of support-access: the validated vocabulary (domain names, usernames, org unit
//! paths, …), request validation that reports every violation with its field, resource names,
//! and the provisioning logic the engine drives: desired and observed state, the planner, the
//! rules of which roles open the Customer Care Portal, the status checks and revocation, which
//! accounts the service owns (ownership) and what reconciliation finds drifted (drift). No I/O,
//! no async: everything here is a function of its inputs, so the server, the store and the tests
//! can share it.
//!
//! The vocabulary is re-exported at the crate root; the provisioning types live in their modules.

pub mod access;
pub mod check;
pub mod desired;
pub mod drift;
pub mod instructions;
pub mod lifecycle;
pub mod names;
pub mod observed;
pub mod ownership;
pub mod plan;
pub mod resources;
pub mod revoke;
pub mod simulate;
pub mod status;
pub mod validation;

#[cfg(test)]
mod fixtures;

pub use names::{
    AdminPlacement, CONSUMER_DOMAINS, CredentialName, DEFAULT_CUSTOM_ROLE, DEFAULT_SUPPORT_OU,
    DisplayName, DomainName, EmailAddress, OrgUnitPath, PersonName, RequestId, RoleMode, RoleName,
    StaffMemberId, Username, default_custom_role, default_support_ou, validate_delegated_admin,
    validate_support_org_unit,
};
pub use resources::{
    DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, domain_resource, domain_status_resource,
    parse_domain_resource, parse_domain_status_resource, parse_page_size,
    parse_staff_member_resource, parse_support_account_resource, staff_member_resource,
    support_account_resource,
};
pub use validation::{FieldViolation, InvalidValue, Violations};
