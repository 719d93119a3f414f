//! Unit tests of the access rules.

use super::*;
use crate::fixtures::*;
use crate::names::default_custom_role;
use crate::observed::{ObservedRoleAssignment, RoleAssignmentId, RoleId};

#[test]
fn defaults_match_the_documented_names() {
    let config = AccessConfig::default();
    assert_eq!(config.reseller_admin_role_names, ["_RESELLER_ADMIN_ROLE"]);
    assert_eq!(
        config.portal_privilege_names(),
        [
            "RESELLER_VIEW_CUSTOMERS",
            "RESELLER_ACCESS_CUSTOMER_SUPPORT_CASES"
        ]
    );
    assert!(
        config
            .legacy_role_names
            .contains(&"Legacy Enterprise Support".to_owned())
    );
    assert!(
        config
            .legacy_role_names
            .contains(&"Legacy Resold Enterprise Support".to_owned())
    );
}

#[test]
fn config_deserializes_with_defaults_for_missing_fields() {
    let config: AccessConfig =
        serde_json::from_str(r#"{"reseller_admin_role_names": ["Reseller Admin"]}"#).unwrap();
    assert_eq!(config.reseller_admin_role_names, ["Reseller Admin"]);
    assert_eq!(config.view_customers_privilege, "RESELLER_VIEW_CUSTOMERS");
}

#[test]
fn reseller_admin_must_be_a_system_role() {
    let config = AccessConfig::default();
    assert_eq!(
        config.role_access(&reseller_admin_role(), &[]),
        Some(PortalAccessKind::ResellerAdmin)
    );
    let impostor = ObservedRole {
        is_system: false,
        ..reseller_admin_role()
    };
    assert_eq!(config.role_access(&impostor, &[]), None);
}

#[test]
fn legacy_roles_count() {
    let config = AccessConfig::default();
    assert_eq!(
        config.role_access(&legacy_role(), &[]),
        Some(PortalAccessKind::Legacy)
    );
}

#[test]
fn custom_role_needs_both_privileges_or_an_ancestor() {
    let config = AccessConfig::default();
    let tree = privilege_tree();
    let both = portal_custom_role();
    assert_eq!(
        config.role_access(&both, &tree),
        Some(PortalAccessKind::CustomRole)
    );
    assert_eq!(
        config.role_access(&both, &[]),
        Some(PortalAccessKind::CustomRole)
    );

    let one = custom_role(&default_custom_role(), &["RESELLER_VIEW_CUSTOMERS"]);
    assert_eq!(config.role_access(&one, &tree), None);
    assert_eq!(
        config.missing_privileges(&one, &tree),
        ["RESELLER_ACCESS_CUSTOMER_SUPPORT_CASES"]
    );

    let top = custom_role(&default_custom_role(), &["RESELLER_TOOLS"]);
    assert_eq!(
        config.role_access(&top, &tree),
        Some(PortalAccessKind::CustomRole)
    );
    // Without the tree nothing says RESELLER_TOOLS contains them.
    assert_eq!(config.role_access(&top, &[]), None);

    let unrelated = custom_role(&default_custom_role(), &["USERS_ALL"]);
    assert_eq!(config.missing_privileges(&unrelated, &tree).len(), 2);
}

#[test]
fn portal_privileges_are_found_anywhere_in_the_tree() {
    let config = AccessConfig::default();
    let found = config.find_portal_privileges(&privilege_tree()).unwrap();
    assert_eq!(found.view_customers, privilege("RESELLER_VIEW_CUSTOMERS"));
    assert_eq!(
        found.support_cases,
        privilege("RESELLER_ACCESS_CUSTOMER_SUPPORT_CASES")
    );
    assert_eq!(found.to_vec().len(), 2);

    let renamed = AccessConfig {
        support_cases_privilege: "CASES".into(),
        ..AccessConfig::default()
    };
    assert_eq!(
        renamed.find_portal_privileges(&privilege_tree()),
        Err(vec!["CASES".to_owned()])
    );
    assert_eq!(
        config.find_portal_privileges(&[]),
        Err(vec![
            "RESELLER_VIEW_CUSTOMERS".to_owned(),
            "RESELLER_ACCESS_CUSTOMER_SUPPORT_CASES".to_owned()
        ])
    );
}

#[test]
fn reseller_admin_role_is_found_by_configured_name() {
    let roles = vec![portal_custom_role(), reseller_admin_role()];
    assert_eq!(
        AccessConfig::default()
            .reseller_admin_role(&roles)
            .map(|r| r.id.as_str()),
        Some(RESELLER_ADMIN_ROLE_ID)
    );
    let other = AccessConfig {
        reseller_admin_role_names: vec!["Reseller Admin".into()],
        ..AccessConfig::default()
    };
    assert!(other.reseller_admin_role(&roles).is_none());
}

#[test]
fn portal_access_lists_everyone_with_a_portal_role() {
    let desired = desired(&["ana"]);
    let mut observed = correct_observation(&desired);
    observed.roles.push(legacy_role());
    // Someone the service does not manage, holding the legacy role and the custom role.
    let mut boss = correct_user(&desired, &account("zed"));
    boss.org_unit = crate::names::OrgUnitPath::root();
    boss.suspended = true;
    observed.users.push(boss);
    for (id, role) in [("z1", LEGACY_ROLE_ID), ("z2", CUSTOM_ROLE_ID)] {
        observed.role_assignments.push(ObservedRoleAssignment {
            id: RoleAssignmentId::new(id),
            role_id: RoleId::new(role),
            assignee: user_id("zed"),
            scope: ScopeType::Customer,
        });
    }
    // A user the observation does not include.
    observed.role_assignments.push(ObservedRoleAssignment {
        id: RoleAssignmentId::new("x"),
        role_id: RoleId::new(RESELLER_ADMIN_ROLE_ID),
        assignee: UserId::new("u-unknown"),
        scope: ScopeType::Customer,
    });
    // An org-unit scoped assignment opens nothing.
    observed.role_assignments.push(ObservedRoleAssignment {
        id: RoleAssignmentId::new("y"),
        role_id: RoleId::new(RESELLER_ADMIN_ROLE_ID),
        assignee: UserId::new("u-scoped"),
        scope: ScopeType::OrgUnit,
    });

    let entries = portal_access(&desired, &observed, &AccessConfig::default());
    type Row<'a> = (Option<&'a str>, Vec<&'a str>, bool, Option<bool>);
    let summary: Vec<Row> = entries
        .iter()
        .map(|e| {
            (
                e.email.as_ref().map(|m| m.as_str()),
                e.roles.iter().map(String::as_str).collect(),
                e.managed(),
                e.suspended,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                Some("ana@reseller.example"),
                vec!["Customer Care Portal Access"],
                true,
                Some(false)
            ),
            (
                Some("zed@reseller.example"),
                vec![
                    "Customer Care Portal Access",
                    "Legacy Resold Enterprise Support"
                ],
                false,
                Some(true)
            ),
            (None, vec!["_RESELLER_ADMIN_ROLE"], false, None),
        ]
    );
    assert_eq!(entries[0].staff_member, Some(staff("ana")));
}

#[test]
fn portal_roles_do_not_make_a_delegated_admin() {
    let desired = desired(&["ana"]);
    let mut observed = correct_observation(&desired);
    let config = AccessConfig::default();
    let ana = user_id("ana");
    // Google calls every support account a delegated admin once it holds its portal role.
    assert!(!config.administers_beyond_portal(true, &observed, &ana));
    assert!(!config.administers_beyond_portal(false, &observed, &ana));
    // Another admin role makes it one.
    observed.roles.push(crate::observed::ObservedRole {
        id: RoleId::new("help"),
        name: "_HELP_DESK_ADMIN_ROLE".into(),
        is_system: true,
        privileges: vec![],
    });
    observed.role_assignments.push(ObservedRoleAssignment {
        id: RoleAssignmentId::new("help-ana"),
        role_id: RoleId::new("help"),
        assignee: ana.clone(),
        scope: crate::observed::ScopeType::OrgUnit,
    });
    assert!(config.administers_beyond_portal(true, &observed, &ana));
    // Google says admin and nothing observed explains it: an admin role we do not see.
    observed.role_assignments.clear();
    assert!(config.administers_beyond_portal(true, &observed, &ana));
}
