//! Paging across several pages for every paged method, at each method's page-size maximum.

mod common;

use std::collections::BTreeSet;

use common::{Harness, RESELLER_ONE};
use futures::TryStreamExt;
use support_access_emulator::{
    Seed, SeedResoldCustomer, SeedResoldSubscription, SeedRole, SeedUser,
};
use support_access_google::products::{
    CLOUD_IDENTITY_FREE_PRODUCT, CLOUD_IDENTITY_FREE_SKU, GOOGLE_WORKSPACE_PRODUCT,
};
use support_access_google::{
    GoogleMethod, RoleAssignmentsQuery, SubscriptionsQuery, UsersListQuery,
};

const USERS: usize = 1100;
const SUPER_ADMINS: usize = 450;
const LICENSED: usize = 230;
const CUSTOM_ROLES: usize = 230;
const RESOLD: usize = 150;

fn big_seed() -> Seed {
    let mut seed = Seed::demo();
    let customer = &mut seed.customers[0];
    for subscription in &mut customer.subscriptions {
        subscription.seats = 5_000;
    }
    for i in 0..USERS {
        customer.users.push(SeedUser {
            primary_email: format!("user{i:04}@{RESELLER_ONE}"),
            given_name: "Many".into(),
            family_name: format!("User {i}"),
            org_unit_path: "/Many".into(),
            super_admin: i < SUPER_ADMINS,
            suspended: false,
            licenses: if i < LICENSED {
                vec!["Google-Apps/1010020028".into()]
            } else {
                Vec::new()
            },
        });
    }
    for i in 0..CUSTOM_ROLES {
        customer.custom_roles.push(SeedRole {
            name: format!("Custom role {i}"),
            description: None,
            privileges: vec!["USERS_RETRIEVE".into()],
        });
    }
    let reseller = customer.reseller.as_mut().expect("demo reseller");
    for i in 0..RESOLD {
        reseller.customers.push(SeedResoldCustomer {
            id: Some(format!("C09many{i:03}")),
            domain: format!("customer{i:03}.example"),
            alternate_email: None,
            subscriptions: vec![SeedResoldSubscription {
                sku_id: "1010020027".into(),
                plan: "FLEXIBLE".into(),
                seats: 5,
                status: "ACTIVE".into(),
            }],
        });
    }
    seed
}

#[tokio::test]
async fn every_paged_method_walks_all_pages_at_its_maximum_page_size() {
    let h = Harness::start(big_seed(), |_| {}).await;
    let google = h.domain(RESELLER_ONE).await;

    let mut users = google.users_list(UsersListQuery::in_org_unit("/Many"));
    let mut emails = BTreeSet::new();
    assert!(users.has_more(), "before the first page nothing is known");
    while let Some(page) = users.next_page().await.expect("users.list page") {
        assert!(page.len() <= 500);
        emails.extend(page.into_iter().map(|u| u.primary_email));
        assert_eq!(
            users.has_more(),
            emails.len() < USERS,
            "a next page is announced exactly while users remain"
        );
    }
    assert_eq!(emails.len(), USERS);
    assert_eq!(users.pages_fetched(), 3, "1100 users in pages of 500");

    let streamed: Vec<_> = google
        .users_list(UsersListQuery::in_org_unit("/Many"))
        .into_stream()
        .try_collect()
        .await
        .expect("users.list stream");
    assert_eq!(
        streamed
            .into_iter()
            .map(|u| u.primary_email)
            .collect::<BTreeSet<_>>(),
        emails
    );

    let roles = google.roles_list().collect_all().await.expect("roles.list");
    let custom = roles
        .iter()
        .filter(|r| r.role_name.starts_with("Custom role "))
        .count();
    assert_eq!(custom, CUSTOM_ROLES);
    let seed_admin = roles
        .iter()
        .find(|r| r.role_name == "_SEED_ADMIN_ROLE")
        .expect("super admin role");

    let assignments = google
        .role_assignments_list(RoleAssignmentsQuery {
            role_id: Some(seed_admin.role_id.clone()),
            ..Default::default()
        })
        .collect_all()
        .await
        .expect("roleAssignments.list");
    // The seeded admin@ is a super admin too.
    assert_eq!(assignments.len(), SUPER_ADMINS + 1);
    assert_eq!(
        assignments
            .iter()
            .map(|a| &a.role_assignment_id)
            .collect::<BTreeSet<_>>()
            .len(),
        SUPER_ADMINS + 1
    );

    let workspace = google
        .license_assignments_list_for_product(GOOGLE_WORKSPACE_PRODUCT)
        .collect_all()
        .await
        .expect("listForProduct");
    // admin@ and sales@ hold Business Standard in the demo seed.
    assert_eq!(workspace.len(), LICENSED + 2);

    let cloud_identity = google
        .license_assignments_list_for_product_and_sku(
            CLOUD_IDENTITY_FREE_PRODUCT,
            CLOUD_IDENTITY_FREE_SKU,
        )
        .collect_all()
        .await
        .expect("listForProductAndSku");
    assert_eq!(
        cloud_identity.len(),
        USERS + 2,
        "Cloud Identity Free is a site license: every user holds it"
    );

    let subscriptions = google
        .reseller_subscriptions_list(SubscriptionsQuery::default())
        .collect_all()
        .await
        .expect("subscriptions.list");
    let customers: BTreeSet<_> = subscriptions
        .iter()
        .map(|s| s.customer_id.as_str())
        .collect();
    assert_eq!(customers.len(), RESOLD + 2);

    // Pages per method, as the emulator saw them: ceil(items / page maximum) (+1 for the stream).
    let pages = |method: GoogleMethod| h.outcomes(method.id()).len();
    assert_eq!(pages(GoogleMethod::UsersList), 3 + 3);
    assert_eq!(pages(GoogleMethod::RolesList), roles.len().div_ceil(100));
    assert_eq!(
        pages(GoogleMethod::RoleAssignmentsList),
        (SUPER_ADMINS + 1).div_ceil(200)
    );
    assert_eq!(
        pages(GoogleMethod::LicenseAssignmentsListForProduct),
        (LICENSED + 2).div_ceil(100)
    );
    assert_eq!(
        pages(GoogleMethod::LicenseAssignmentsListForProductAndSku),
        (USERS + 2).div_ceil(100)
    );
    assert_eq!(
        pages(GoogleMethod::ResellerSubscriptionsList),
        subscriptions.len().div_ceil(100)
    );
    assert!(
        roles.len() > 200 && subscriptions.len() > 100,
        "several pages each"
    );
}
