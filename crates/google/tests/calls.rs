//! Every Google call the adapter makes, against the workspace emulator over real HTTP: the
//! happy path of each method, what comes back, and what the emulator recorded.

mod common;

use common::{Harness, RESELLER_ONE, new_user};
use futures::StreamExt;
use support_access_google::model::*;
use support_access_google::products::{
    CLOUD_IDENTITY_FREE_PRODUCT, CLOUD_IDENTITY_FREE_SKU, GOOGLE_WORKSPACE_PRODUCT,
};
use support_access_google::{
    ErrorClass, GoogleMethod, RoleAssignmentsQuery, SubscriptionsQuery, UsersListQuery,
};

const BUSINESS_STANDARD: &str = "1010020028";

#[tokio::test]
async fn every_call_round_trips_against_the_emulator() {
    let h = Harness::demo().await;
    let google = h.domain(RESELLER_ONE).await;

    // customers.get: the real id, learnt once and cached.
    let customer = google
        .customers_get("my_customer")
        .await
        .expect("customers.get");
    assert_eq!(
        Some(customer.id.clone()),
        h.emulator.customer_id(RESELLER_ONE)
    );
    assert_eq!(customer.customer_domain, RESELLER_ONE);
    assert_eq!(google.customer_id().await.unwrap(), customer.id);

    // domains.list: the primary domain, the secondaries with their verification, the aliases.
    let domains = google.domains_list().await.expect("domains.list");
    let summary: Vec<(&str, bool, bool)> = domains
        .iter()
        .map(|d| (d.domain_name.as_str(), d.is_primary, d.verified))
        .collect();
    assert_eq!(
        summary,
        [
            (RESELLER_ONE, true, true),
            ("reseller-one-eu.example", false, true),
            ("reseller-one-apac.example", false, true),
            ("reseller-one-new.example", false, false),
        ]
    );
    assert_eq!(
        domains[0].domain_aliases[0].domain_alias_name,
        "reseller-one-mail.example"
    );

    // orgunits.insert / get.
    let created_ou = google
        .orgunits_insert(&NewOrgUnit {
            name: "Customer Care Portal".into(),
            parent_org_unit_path: "/".into(),
            description: Some("support staff".into()),
        })
        .await
        .expect("orgunits.insert");
    assert_eq!(created_ou.org_unit_path, "/Customer Care Portal");
    let fetched_ou = google
        .orgunits_get("/Customer Care Portal")
        .await
        .expect("orgunits.get");
    assert_eq!(fetched_ou.org_unit_id, created_ou.org_unit_id);
    assert_eq!(fetched_ou.parent_org_unit_path.as_deref(), Some("/"));

    // users.insert / get / list / patch / update.
    let mut ada = new_user("ada", RESELLER_ONE);
    ada.org_unit_path = Some("/Customer Care Portal".into());
    let created = google.users_insert(&ada).await.expect("users.insert");
    assert_eq!(created.primary_email, "ada@reseller-one.example");
    assert!(!created.id.is_empty());
    let fetched = google
        .users_get("ada@reseller-one.example")
        .await
        .expect("users.get");
    assert_eq!(fetched.id, created.id);
    assert_eq!(
        fetched.org_unit_path.as_deref(),
        Some("/Customer Care Portal")
    );
    assert_eq!(
        fetched.name.as_ref().and_then(|n| n.given_name.as_deref()),
        Some("Test")
    );
    let in_ou = google
        .users_list(UsersListQuery::in_org_unit("/Customer Care Portal"))
        .collect_all()
        .await
        .expect("users.list");
    assert_eq!(
        in_ou
            .iter()
            .map(|u| u.primary_email.as_str())
            .collect::<Vec<_>>(),
        ["ada@reseller-one.example"]
    );
    let patched = google
        .users_patch(
            &created.id,
            &UserChanges {
                suspended: Some(true),
                ..UserChanges::default()
            },
        )
        .await
        .expect("users.patch");
    assert!(patched.suspended);
    let updated = google
        .users_update(
            "ada@reseller-one.example",
            &UserChanges {
                suspended: Some(false),
                name: Some(NewUserName {
                    given_name: "Ada".into(),
                    family_name: "Lovelace".into(),
                }),
                ..UserChanges::default()
            },
        )
        .await
        .expect("users.update");
    assert!(!updated.suspended);
    assert_eq!(
        updated.name.and_then(|n| n.family_name).as_deref(),
        Some("Lovelace")
    );

    // roles.list / privileges.list / roles.insert.
    let roles = google.roles_list().collect_all().await.expect("roles.list");
    let reseller_admin = roles
        .iter()
        .find(|role| role.role_name == "_RESELLER_ADMIN_ROLE")
        .expect("reseller admin role listed");
    assert!(reseller_admin.is_system_role);
    let tree = google.privileges_list().await.expect("privileges.list");
    fn flatten(tree: &[Privilege]) -> Vec<&Privilege> {
        tree.iter()
            .flat_map(|p| std::iter::once(p).chain(flatten(&p.child_privileges)))
            .collect()
    }
    let every_privilege = flatten(&tree);
    let privileges: Vec<RolePrivilege> = [
        "RESELLER_VIEW_CUSTOMERS",
        "RESELLER_ACCESS_CUSTOMER_SUPPORT_CASES",
    ]
    .into_iter()
    .map(|name| {
        let found = every_privilege
            .iter()
            .find(|p| p.privilege_name == name)
            .unwrap_or_else(|| panic!("{name} in privileges.list"));
        RolePrivilege {
            privilege_name: found.privilege_name.clone(),
            service_id: found.service_id.clone(),
        }
    })
    .collect();
    let custom = google
        .roles_insert(&NewRole {
            role_name: "Customer Care Portal Access".into(),
            role_description: Some("View customers and open their support cases".into()),
            role_privileges: privileges.clone(),
        })
        .await
        .expect("roles.insert");
    assert_eq!(custom.role_privileges, privileges);
    assert!(!custom.is_system_role);

    // roleAssignments.insert / list (by role, by user) / delete.
    let assignment = google
        .role_assignments_insert(&NewRoleAssignment {
            role_id: custom.role_id.clone(),
            assigned_to: created.id.clone(),
            scope_type: ScopeType::Customer,
            org_unit_id: None,
        })
        .await
        .expect("roleAssignments.insert");
    assert_eq!(assignment.assigned_to, created.id);
    let of_role = google
        .role_assignments_list(RoleAssignmentsQuery {
            role_id: Some(custom.role_id.clone()),
            ..Default::default()
        })
        .collect_all()
        .await
        .expect("roleAssignments.list by role");
    assert_eq!(
        of_role
            .iter()
            .map(|a| &a.role_assignment_id)
            .collect::<Vec<_>>(),
        [&assignment.role_assignment_id]
    );
    let of_user: Vec<RoleAssignment> = google
        .role_assignments_list(RoleAssignmentsQuery {
            user_key: Some(created.primary_email.clone()),
            ..Default::default()
        })
        .into_stream()
        .map(|a| a.expect("roleAssignments.list by user"))
        .collect()
        .await;
    assert!(of_user.iter().any(|a| a.role_id == custom.role_id));

    // Licensing: get / insert / lists / delete.
    let ci = google
        .license_assignments_get(
            CLOUD_IDENTITY_FREE_PRODUCT,
            CLOUD_IDENTITY_FREE_SKU,
            &created.primary_email,
        )
        .await;
    match ci {
        Ok(license) => assert_eq!(license.user_id, created.primary_email),
        Err(e) => assert_eq!(e.class(), &ErrorClass::NotFound, "{e}"),
    }
    match google
        .license_assignments_insert(
            CLOUD_IDENTITY_FREE_PRODUCT,
            CLOUD_IDENTITY_FREE_SKU,
            &created.primary_email,
        )
        .await
    {
        Ok(license) => assert_eq!(license.sku_id, CLOUD_IDENTITY_FREE_SKU),
        Err(e) => assert_eq!(e.class(), &ErrorClass::AlreadyExists, "{e}"),
    }
    let ci_holders = google
        .license_assignments_list_for_product_and_sku(
            CLOUD_IDENTITY_FREE_PRODUCT,
            CLOUD_IDENTITY_FREE_SKU,
        )
        .collect_all()
        .await
        .expect("listForProductAndSku");
    assert!(
        ci_holders
            .iter()
            .any(|l| l.user_id == created.primary_email)
    );
    let workspace = google
        .license_assignments_list_for_product(GOOGLE_WORKSPACE_PRODUCT)
        .collect_all()
        .await
        .expect("listForProduct");
    let holders: Vec<&str> = workspace.iter().map(|l| l.user_id.as_str()).collect();
    assert!(
        holders.contains(&"sales@reseller-one.example"),
        "{holders:?}"
    );
    google
        .license_assignments_delete(
            GOOGLE_WORKSPACE_PRODUCT,
            BUSINESS_STANDARD,
            "sales@reseller-one.example",
        )
        .await
        .expect("licenseAssignments.delete");
    let gone = google
        .license_assignments_get(
            GOOGLE_WORKSPACE_PRODUCT,
            BUSINESS_STANDARD,
            "sales@reseller-one.example",
        )
        .await;
    assert_eq!(gone.unwrap_err().class(), &ErrorClass::NotFound);

    // Reseller: subscriptions.list and customers.get.
    let subscriptions = google
        .reseller_subscriptions_list(SubscriptionsQuery::default())
        .collect_all()
        .await
        .expect("subscriptions.list");
    let domains: std::collections::BTreeSet<&str> = subscriptions
        .iter()
        .map(|s| s.customer_domain.as_str())
        .collect();
    assert_eq!(
        domains.into_iter().collect::<Vec<_>>(),
        ["acme.example", "globex.example"]
    );
    let free = subscriptions
        .iter()
        .find(|s| s.sku_id == "1010010001")
        .expect("globex has Cloud Identity Free");
    assert_eq!(
        free.plan.as_ref().map(|p| p.plan_name.as_str()),
        Some("FREE")
    );
    let acme = google
        .reseller_customers_get("acme.example")
        .await
        .expect("reseller customers.get");
    assert_eq!(acme.customer_id, "C03acme01");

    // Clean-up calls: roleAssignments.delete and users.delete.
    google
        .role_assignments_delete(&assignment.role_assignment_id)
        .await
        .expect("roleAssignments.delete");
    google
        .users_delete(&created.primary_email)
        .await
        .expect("users.delete");
    assert_eq!(
        google
            .users_get(&created.primary_email)
            .await
            .unwrap_err()
            .class(),
        &ErrorClass::NotFound
    );
    // Deleting by e-mail also forgets the id: its 404 is final, not "not yet consistent".
    let by_id = google.users_get(&created.id).await.unwrap_err();
    assert_eq!(
        (by_id.class(), by_id.attempts()),
        (&ErrorClass::NotFound, 1)
    );

    // Every method was called, each exactly as often as the client reports.
    let snapshot = h.client.metrics().snapshot();
    for method in GoogleMethod::ALL {
        let ledger_calls = h.outcomes(method.id()).len() as u64;
        assert!(ledger_calls > 0, "{method} never reached the emulator");
        let client_attempts: u64 = snapshot
            .attempts
            .iter()
            .filter(|c| c.method == *method)
            .map(|c| c.count)
            .sum();
        assert_eq!(client_attempts, ledger_calls, "{method}");
    }
    // One token per scope: they are cached.
    assert_eq!(
        h.outcomes("oauth2.token").len(),
        7,
        "{:?}",
        h.outcomes("oauth2.token")
    );
}
