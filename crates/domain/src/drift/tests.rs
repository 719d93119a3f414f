//! Unit tests of drift detection: one scenario per kind, with its detail and evidence.

use super::*;
use crate::fixtures::*;
use crate::observed::{
    AdminObservation, LicenseAssignment, ObservedRoleAssignment, RoleAssignmentId, RoleId,
    ScopeType,
};

fn detect(desired: &DesiredDomain, observed: &ObservedDomain) -> Vec<Drift> {
    detect_drift(desired, observed, &AccessConfig::default())
}

fn kinds(drifts: &[Drift]) -> Vec<(DriftKind, Option<&str>)> {
    drifts
        .iter()
        .map(|d| (d.kind, d.account.as_ref().map(EmailAddress::as_str)))
        .collect()
}

#[test]
fn kinds_have_the_schema_names() {
    let names: Vec<&str> = DriftKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "ACCOUNT_MOVED",
            "ACCOUNT_ROLE_REMOVED",
            "ACCOUNT_PAID_LICENSE_ADDED",
            "ACCOUNT_LICENSE_REMOVED",
            "ACCOUNT_SUSPENDED",
            "ACCOUNT_DELETED",
            "REVOKED_ACCOUNT_REENABLED",
            "REVOKED_ACCOUNT_REGAINED_ACCESS",
            "UNMANAGED_PORTAL_ACCESS",
            "CONFIRMATION_CONTRADICTED",
            "OWNERSHIP_LOST"
        ]
    );
    for kind in DriftKind::ALL {
        assert_eq!(kind.as_str().parse::<DriftKind>(), Ok(kind));
        assert_eq!(format!("DRIFT_KIND_{kind}").parse::<DriftKind>(), Ok(kind));
        assert_eq!(
            serde_json::to_string(&kind).unwrap(),
            format!("\"{}\"", kind.as_str())
        );
    }
    assert!("DRIFT_KIND_UNSPECIFIED".parse::<DriftKind>().is_err());
}

#[test]
fn a_domain_as_desired_has_no_drift() {
    let desired = desired(&["ana", "bo"]);
    assert!(detect(&desired, &correct_observation(&desired)).is_empty());
}

#[test]
fn an_unusable_admin_sees_nothing_so_nothing_drifted() {
    let desired = desired(&["ana"]);
    let mut observed = correct_observation(&desired);
    observed.users.clear();
    observed.admin = AdminObservation::Found {
        is_super_admin: false,
        suspended: false,
    };
    assert!(detect(&desired, &observed).is_empty());
    observed.admin = AdminObservation::NotFound;
    assert!(detect(&desired, &observed).is_empty());
}

#[test]
fn accounts_without_a_recorded_id_cannot_drift() {
    let desired = DesiredDomain::new(
        domain(),
        email("admin@reseller.example"),
        crate::names::default_support_ou(),
        crate::names::RoleMode::CustomRole,
        crate::names::default_custom_role(),
        vec![unrecorded_account("ana")],
    )
    .unwrap();
    let mut observed = correct_observation(&desired);
    observed.users[0].suspended = true;
    assert!(detect(&desired, &observed).is_empty());
    observed.users.clear();
    assert!(detect(&desired, &observed).is_empty());
}

#[test]
fn every_property_of_an_owned_account_drifts_once() {
    let desired = desired(&["ana", "bo"]);
    let mut observed = correct_observation(&desired);
    let ana = &mut observed.users[0];
    ana.org_unit = crate::names::OrgUnitPath::parse("/Sales").unwrap();
    ana.suspended = true;
    observed
        .role_assignments
        .retain(|a| a.assignee != user_id("ana"));
    observed
        .cloud_identity_licenses
        .retain(|e| e.as_str() != "ana@reseller.example");
    observed.paid_licenses.push(LicenseAssignment {
        sku: Sku::new("Google-Apps", "1010020028"),
        user: email("ana@reseller.example"),
    });
    let drifts = detect(&desired, &observed);
    let ana = Some("ana@reseller.example");
    assert_eq!(
        kinds(&drifts),
        [
            (DriftKind::AccountMoved, ana),
            (DriftKind::AccountRoleRemoved, ana),
            (DriftKind::AccountPaidLicenseAdded, ana),
            (DriftKind::AccountLicenseRemoved, ana),
            (DriftKind::AccountSuspended, ana),
        ]
    );
    let moved = &drifts[0];
    assert_eq!(moved.staff_member, Some(staff("ana")));
    assert_eq!(
        moved.detail,
        "ana@reseller.example was moved to /Sales, out of the support org unit /Customer Care Portal"
    );
    assert_eq!(
        moved.evidence,
        BTreeMap::from([
            ("user_id".to_owned(), "u-ana".to_owned()),
            ("org_unit".to_owned(), "/Sales".to_owned()),
            (
                "expected_org_unit".to_owned(),
                "/Customer Care Portal".to_owned()
            ),
            ("suspended".to_owned(), "true".to_owned()),
            ("skus".to_owned(), "Google-Apps/1010020028".to_owned()),
            ("roles".to_owned(), String::new()),
        ])
    );
    assert_eq!(
        drifts[2].detail,
        "ana@reseller.example holds the paid Google Workspace license(s) Google-Apps/1010020028"
    );
}

#[test]
fn a_deleted_owned_account_drifts() {
    let desired = desired(&["ana"]);
    let mut observed = correct_observation(&desired);
    observed.users.clear();
    let drifts = detect(&desired, &observed);
    assert_eq!(
        kinds(&drifts),
        [(DriftKind::AccountDeleted, Some("ana@reseller.example"))]
    );
    assert_eq!(
        drifts[0].detail,
        "ana@reseller.example (user id u-ana), the support account of staff member ana, no longer exists in Google"
    );
    assert_eq!(drifts[0].evidence["user_id"], "u-ana");
}

#[test]
fn another_account_at_the_address_or_a_removed_marker_is_ownership_lost() {
    let desired = desired(&["ana", "bo"]);
    let mut observed = correct_observation(&desired);
    observed.users[0].id = UserId::new("u-someone");
    observed.users[0].marker = None;
    observed.users[1].marker = None;
    let drifts = detect(&desired, &observed);
    assert_eq!(
        kinds(&drifts),
        [
            (DriftKind::OwnershipLost, Some("ana@reseller.example")),
            (DriftKind::OwnershipLost, Some("bo@reseller.example")),
        ]
    );
    assert!(drifts[0].detail.starts_with(
        "ana@reseller.example is no longer owned by support-access: ana@reseller.example is user id u-someone"
    ));
    assert_eq!(drifts[0].evidence["owned_user_id"], "u-ana");
    assert_eq!(drifts[0].evidence["user_id"], "u-someone");
    assert_eq!(drifts[0].evidence["conflict"], "DIFFERENT_ACCOUNT");
    assert_eq!(drifts[1].evidence["conflict"], "MARKER_MISSING");
    // A super administrator now: lost too, whatever its marker.
    let mut promoted = correct_observation(&desired);
    promoted.users[1].is_super_admin = true;
    assert_eq!(
        kinds(&detect(&desired, &promoted)),
        [(DriftKind::OwnershipLost, Some("bo@reseller.example"))]
    );
}

#[test]
fn revoked_accounts_that_came_back_drift() {
    let desired = desired(&["ana"]).with_revoked(vec![
        (account("bo"), RevokeMode::Suspend),
        (account("cy"), RevokeMode::RemoveRole),
        (account("di"), RevokeMode::Delete),
    ]);
    let mut observed = correct_observation(&desired);
    observed.roles.push(legacy_role());
    for (name, suspended, role) in [
        ("bo", false, CUSTOM_ROLE_ID),
        ("cy", false, CUSTOM_ROLE_ID),
        ("di", true, LEGACY_ROLE_ID),
    ] {
        let user = correct_user(&desired, &account(name));
        observed.role_assignments.push(ObservedRoleAssignment {
            id: RoleAssignmentId::new(format!("ra-{name}")),
            role_id: RoleId::new(role),
            assignee: user.id.clone(),
            scope: ScopeType::Customer,
        });
        observed.users.push(ObservedUser { suspended, ..user });
    }
    let drifts = detect(&desired, &observed);
    assert_eq!(
        kinds(&drifts),
        [
            (
                DriftKind::RevokedAccountReenabled,
                Some("bo@reseller.example")
            ),
            (
                DriftKind::RevokedAccountRegainedAccess,
                Some("bo@reseller.example")
            ),
            (
                DriftKind::RevokedAccountRegainedAccess,
                Some("cy@reseller.example")
            ),
        ]
    );
    assert_eq!(
        drifts[0].detail,
        "bo@reseller.example was revoked for staff member bo (mode SUSPEND) but is active in Google"
    );
    assert_eq!(drifts[0].evidence["revoke_mode"], "SUSPEND");
    assert_eq!(
        drifts[2].detail,
        "cy@reseller.example was revoked for staff member cy but opens the Customer Care Portal again through Customer Care Portal Access"
    );
    // A revoked account that is gone, or someone else's now, does not drift.
    let mut gone = observed.clone();
    gone.users
        .retain(|u| u.email.as_str() != "bo@reseller.example");
    gone.users
        .iter_mut()
        .filter(|u| u.email.as_str() == "cy@reseller.example")
        .for_each(|u| u.marker = Some("staffMembers/zed".into()));
    assert!(
        detect(&desired, &gone).is_empty(),
        "{:#?}",
        detect(&desired, &gone)
    );
}

#[test]
fn anyone_else_with_portal_access_is_unmanaged() {
    let desired = desired(&["ana"]).with_revoked(vec![(account("bo"), RevokeMode::RemoveRole)]);
    let mut observed = correct_observation(&desired);
    observed.roles.push(legacy_role());
    for (name, is_super_admin, role) in [
        ("eve", false, RESELLER_ADMIN_ROLE_ID),
        ("old", false, LEGACY_ROLE_ID),
        ("boss", true, RESELLER_ADMIN_ROLE_ID),
    ] {
        observed.users.push(ObservedUser {
            id: UserId::new(format!("u-{name}")),
            email: email(&format!("{name}@reseller.example")),
            org_unit: crate::names::OrgUnitPath::root(),
            suspended: false,
            is_super_admin,
            recovery_email: None,
            names: None,
            marker: None,
            is_delegated_admin: true,
            aliases: vec![],
        });
        observed.role_assignments.push(ObservedRoleAssignment {
            id: RoleAssignmentId::new(format!("ra-{name}")),
            role_id: RoleId::new(role),
            assignee: UserId::new(format!("u-{name}")),
            scope: ScopeType::Customer,
        });
    }
    let drifts = detect(&desired, &observed);
    assert_eq!(
        kinds(&drifts),
        [
            (
                DriftKind::UnmanagedPortalAccess,
                Some("eve@reseller.example")
            ),
            (
                DriftKind::UnmanagedPortalAccess,
                Some("old@reseller.example")
            ),
        ]
    );
    assert_eq!(
        drifts[0].detail,
        "eve@reseller.example (user id u-eve) is not a support account of reseller.example but opens the Customer Care Portal through _RESELLER_ADMIN_ROLE"
    );
    assert_eq!(drifts[0].staff_member, None);
    assert_eq!(
        drifts[1].evidence["roles"],
        "Legacy Resold Enterprise Support"
    );
}

#[test]
fn a_sibling_domains_support_account_is_not_unmanaged_but_an_unmarked_one_is() {
    // reseller.example's customer also has the secondary domain eu.reseller.example, whose
    // support accounts share the org unit and the portal role.
    let desired = desired(&["ana"]);
    let mut observed = correct_observation(&desired);
    for (address, marker) in [
        ("ana@eu.reseller.example", Some("staffMembers/ana")),
        ("eve@eu.reseller.example", None),
        ("mallory@reseller.example", Some("staffMembers/mallory")),
    ] {
        let id = format!("u-{address}");
        observed.users.push(ObservedUser {
            id: UserId::new(id.clone()),
            email: email(address),
            org_unit: crate::names::OrgUnitPath::root(),
            suspended: false,
            is_super_admin: false,
            recovery_email: None,
            names: None,
            marker: marker.map(str::to_owned),
            is_delegated_admin: true,
            aliases: vec![],
        });
        observed.role_assignments.push(ObservedRoleAssignment {
            id: RoleAssignmentId::new(format!("ra-{address}")),
            role_id: RoleId::new(RESELLER_ADMIN_ROLE_ID),
            assignee: UserId::new(id),
            scope: ScopeType::Customer,
        });
    }
    let drifts = detect(&desired, &observed);
    let unmanaged: Vec<_> = kinds(&drifts)
        .into_iter()
        .filter(|(kind, _)| *kind == DriftKind::UnmanagedPortalAccess)
        .collect();
    assert_eq!(
        unmanaged,
        [
            (
                DriftKind::UnmanagedPortalAccess,
                Some("eve@eu.reseller.example")
            ),
            (
                DriftKind::UnmanagedPortalAccess,
                Some("mallory@reseller.example")
            ),
        ]
    );
}

#[test]
fn a_paid_license_contradicts_the_automatic_licensing_confirmation() {
    let desired = desired(&["ana"]);
    let mut observed = correct_observation(&desired);
    observed.paid_licenses.push(LicenseAssignment {
        sku: Sku::new("Google-Apps", "1010020020"),
        user: email("ana@reseller.example"),
    });
    let drifts = detect(&desired, &observed);
    assert_eq!(
        kinds(&drifts),
        [
            (
                DriftKind::AccountPaidLicenseAdded,
                Some("ana@reseller.example")
            ),
            (
                DriftKind::ConfirmationContradicted,
                Some("ana@reseller.example")
            ),
        ]
    );
    let contradicted = &drifts[1];
    assert_eq!(contradicted.staff_member, Some(staff("ana")));
    assert_eq!(
        contradicted.detail,
        "an operator confirmed automatic licensing off for /Customer Care Portal, but ana@reseller.example in it holds the paid Google Workspace license(s) Google-Apps/1010020020"
    );
    assert_eq!(
        contradicted.evidence["confirmation"],
        "AUTOMATIC_LICENSING_OFF"
    );
    // Without the confirmation there is nothing to contradict.
    observed
        .confirmations
        .retain(|c| c.step != ManualStep::AutomaticLicensingOff);
    assert_eq!(
        kinds(&detect(&desired, &observed)),
        [(
            DriftKind::AccountPaidLicenseAdded,
            Some("ana@reseller.example")
        )]
    );
}

#[test]
fn drift_serializes() {
    let desired = desired(&["ana"]);
    let mut observed = correct_observation(&desired);
    observed.users[0].suspended = true;
    let drifts = detect(&desired, &observed);
    let json = serde_json::to_value(&drifts[0]).unwrap();
    assert_eq!(json["kind"], "ACCOUNT_SUSPENDED");
    assert_eq!(json["account"], "ana@reseller.example");
    assert_eq!(json["evidence"]["suspended"], "true");
    assert_eq!(serde_json::from_value::<Drift>(json).unwrap(), drifts[0]);
}
