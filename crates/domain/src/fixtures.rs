//! Test fixtures shared by the unit tests of the planner, status, access rules and revocation: a
//! reseller domain with a few staff members, an observation of a fresh domain, and an
//! observation of a domain that is already exactly as desired. The desired accounts record the
//! ids of the accounts the service owns, and those accounts carry its marker, as after a normal
//! provisioning.

use crate::desired::{DesiredAccount, DesiredDomain};
use crate::names::{
    DomainName, EmailAddress, OrgUnitPath, PersonName, RoleMode, RoleName, StaffMemberId, Username,
    default_custom_role, default_support_ou,
};
use crate::observed::{
    AdminObservation, ManualConfirmation, ManualStep, ObservedDomain, ObservedRole,
    ObservedRoleAssignment, ObservedUser, PrivilegeNode, RoleAssignmentId, RoleId, RolePrivilege,
    ScopeType, SubscriptionObservation, UserId,
};
use crate::ownership::marker_value;

pub const RESELLER_SERVICE: &str = "01rvwp1q4axizdr";
pub const CUSTOM_ROLE_ID: &str = "9001";
pub const RESELLER_ADMIN_ROLE_ID: &str = "9002";
pub const LEGACY_ROLE_ID: &str = "9003";

pub fn email(s: &str) -> EmailAddress {
    EmailAddress::parse(s).unwrap()
}

pub fn staff(s: &str) -> StaffMemberId {
    StaffMemberId::parse(s).unwrap()
}

pub fn domain() -> DomainName {
    DomainName::parse("reseller.example").unwrap()
}

/// The account of staff member `id` with username `id` (`{id}@reseller.example`, working
/// address `{id}@work.example`), owned by the service as user [`user_id`]`(id)`.
pub fn account(id: &str) -> DesiredAccount {
    unrecorded_account(id).with_ownership(Some(user_id(id)), None)
}

/// [`account`] without a recorded owned id (a new account, or a lost database).
pub fn unrecorded_account(id: &str) -> DesiredAccount {
    DesiredAccount::new(
        staff(id),
        Username::parse(id).unwrap(),
        PersonName::parse(&format!("{}{}", id[..1].to_uppercase(), &id[1..])).unwrap(),
        PersonName::parse("Silva").unwrap(),
        email(&format!("{id}@work.example")),
        &domain(),
    )
    .unwrap()
}

pub fn desired_with(mode: RoleMode, org_unit: OrgUnitPath, ids: &[&str]) -> DesiredDomain {
    DesiredDomain::new(
        domain(),
        email("admin@reseller.example"),
        org_unit,
        mode,
        default_custom_role(),
        ids.iter().map(|id| account(id)).collect(),
    )
    .unwrap()
}

pub fn desired(ids: &[&str]) -> DesiredDomain {
    desired_with(RoleMode::CustomRole, default_support_ou(), ids)
}

fn leaf(name: &str) -> PrivilegeNode {
    PrivilegeNode {
        privilege_name: name.to_owned(),
        service_id: RESELLER_SERVICE.to_owned(),
        service_name: "reseller".to_owned(),
        children: vec![],
    }
}

/// The reseller privilege subtree, as the emulator seeds it, next to an unrelated admin one.
pub fn privilege_tree() -> Vec<PrivilegeNode> {
    vec![
        PrivilegeNode {
            privilege_name: "USERS_ALL".to_owned(),
            service_id: "00haapch16h1ysv".to_owned(),
            service_name: "admin_apis".to_owned(),
            children: vec![],
        },
        PrivilegeNode {
            children: vec![PrivilegeNode {
                children: vec![
                    leaf("RESELLER_VIEW_CUSTOMERS"),
                    leaf("RESELLER_ACCESS_CUSTOMER_SUPPORT_CASES"),
                    leaf("RESELLER_ADD_CUSTOMERS"),
                ],
                ..leaf("RESELLER_CUSTOMERS")
            }],
            ..leaf("RESELLER_TOOLS")
        },
    ]
}

pub fn privilege(name: &str) -> RolePrivilege {
    RolePrivilege {
        privilege_name: name.to_owned(),
        service_id: RESELLER_SERVICE.to_owned(),
    }
}

pub fn custom_role(name: &RoleName, privileges: &[&str]) -> ObservedRole {
    ObservedRole {
        id: RoleId::new(CUSTOM_ROLE_ID),
        name: name.to_string(),
        is_system: false,
        privileges: privileges.iter().map(|p| privilege(p)).collect(),
    }
}

pub fn portal_custom_role() -> ObservedRole {
    custom_role(
        &default_custom_role(),
        &[
            "RESELLER_VIEW_CUSTOMERS",
            "RESELLER_ACCESS_CUSTOMER_SUPPORT_CASES",
        ],
    )
}

pub fn reseller_admin_role() -> ObservedRole {
    ObservedRole {
        id: RoleId::new(RESELLER_ADMIN_ROLE_ID),
        name: "_RESELLER_ADMIN_ROLE".to_owned(),
        is_system: true,
        privileges: vec![],
    }
}

pub fn legacy_role() -> ObservedRole {
    ObservedRole {
        id: RoleId::new(LEGACY_ROLE_ID),
        name: "Legacy Resold Enterprise Support".to_owned(),
        is_system: true,
        privileges: vec![],
    }
}

pub fn user_id(id: &str) -> UserId {
    UserId::new(format!("u-{id}"))
}

/// A domain where nothing exists yet but the super admin, the subscription and the privileges.
pub fn fresh_observation() -> ObservedDomain {
    ObservedDomain {
        admin: AdminObservation::Found {
            is_super_admin: true,
            suspended: false,
        },
        existing_org_units: vec![],
        subscription: SubscriptionObservation::Present {
            seat_cap: Some(50),
            seats_used: Some(3),
        },
        roles: vec![reseller_admin_role()],
        privilege_tree: privilege_tree(),
        users: vec![],
        cloud_identity_licenses: vec![],
        paid_licenses: vec![],
        role_assignments: vec![],
        confirmations: vec![],
    }
}

/// The observed user of a desired account, exactly as desired.
pub fn correct_user(desired: &DesiredDomain, account: &DesiredAccount) -> ObservedUser {
    ObservedUser {
        id: user_id(account.username().as_str()),
        email: account.email().clone(),
        org_unit: desired.org_unit().clone(),
        suspended: false,
        is_super_admin: false,
        recovery_email: Some(account.workspace_email().to_string()),
        names: Some((account.given_name().clone(), account.family_name().clone())),
        marker: Some(marker_value(account.staff_member())),
        is_delegated_admin: false,
        aliases: vec![],
    }
}

/// A domain exactly as `desired` wants it, with every manual step confirmed.
pub fn correct_observation(desired: &DesiredDomain) -> ObservedDomain {
    let mut observed = fresh_observation();
    observed.existing_org_units = vec![desired.org_unit().clone()];
    observed.roles.push(portal_custom_role());
    let role_id = match desired.role_mode() {
        RoleMode::CustomRole => RoleId::new(CUSTOM_ROLE_ID),
        RoleMode::ResellerAdmin => RoleId::new(RESELLER_ADMIN_ROLE_ID),
    };
    for account in desired.accounts() {
        let user = correct_user(desired, account);
        observed.role_assignments.push(ObservedRoleAssignment {
            id: RoleAssignmentId::new(format!("ra-{}", account.username())),
            role_id: role_id.clone(),
            assignee: user.id.clone(),
            scope: ScopeType::Customer,
        });
        observed
            .cloud_identity_licenses
            .push(account.email().clone());
        observed.users.push(user);
    }
    observed.confirmations = vec![
        ManualConfirmation {
            step: ManualStep::AutomaticLicensingOff,
            staff_member: None,
        },
        ManualConfirmation {
            step: ManualStep::CloudIdentityFreeSubscribed,
            staff_member: None,
        },
        ManualConfirmation {
            step: ManualStep::MailRouting,
            staff_member: None,
        },
    ];
    observed
}
