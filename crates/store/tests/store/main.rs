//! Tests of the store against the machine's PostgreSQL: each `#[sqlx::test]` gets a fresh
//! database with `migrations/` applied. Run with
//! `DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo test -p support-access-store`.

mod accounts;
mod audit;
mod connect;
mod domains;
mod drift;
mod idempotency;
mod operations;
mod quota_slots;
mod schema;
mod staff;
mod status;

use support_access_domain::RoleMode;
use support_access_store::domains::{NewDomain, RepairPolicy};
use support_access_store::staff::NewStaffMember;

/// A valid domain declaration named `name`.
pub fn new_domain(name: &str) -> NewDomain {
    NewDomain {
        domain_name: name.to_owned(),
        display_name: format!("Reseller {name}"),
        credential: "default".to_owned(),
        delegated_admin: format!("admin@{name}"),
        org_unit_path: "/Customer Care Portal".to_owned(),
        role_mode: RoleMode::CustomRole,
        custom_role_name: "Customer Care Portal Access".to_owned(),
        repair_policy: RepairPolicy::Repair,
    }
}

/// A valid staff member with id `id` and username `username`.
pub fn new_staff(id: &str, username: &str) -> NewStaffMember {
    NewStaffMember {
        id: id.to_owned(),
        username: username.to_owned(),
        given_name: "Ana".to_owned(),
        family_name: "Silva".to_owned(),
        workspace_email: format!("{username}@staff.example"),
    }
}
