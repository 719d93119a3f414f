//! One observation pass of a reseller domain: a constant number of list calls (never one read per
//! account) turned into the domain crate's [`ObservedDomain`], which the planner and the status
//! checks read. Reads only: nothing here changes Google.

use std::collections::{BTreeSet, HashSet};

use support_access_domain::access::AccessConfig;
use support_access_domain::desired::DesiredDomain;
use support_access_domain::observed::{
    AdminObservation, LicenseAssignment, ManualConfirmation, ObservedDomain, ObservedRole,
    ObservedRoleAssignment, ObservedUser, PrivilegeNode, RoleAssignmentId, RoleId, RolePrivilege,
    ScopeType, Sku, SubscriptionObservation, UserId,
};
use support_access_domain::ownership::MARKER_CUSTOM_TYPE;
use support_access_domain::{EmailAddress, OrgUnitPath, PersonName};
use support_access_google::model::{self, Privilege, User};
use support_access_google::products::{
    CLOUD_IDENTITY_FREE_PRODUCT, CLOUD_IDENTITY_FREE_SKU, GOOGLE_WORKSPACE_PRODUCT,
};
use support_access_google::{
    DomainClient, ErrorClass, GoogleError, Pages, RoleAssignmentsQuery, UsersListQuery,
};

/// Observes `desired`'s domain through `client`. `confirmations` come from Postgres; `access`
/// says which roles open the portal (their holders are observed too, managed or not).
pub async fn observe_domain(
    client: &DomainClient,
    desired: &DesiredDomain,
    confirmations: Vec<ManualConfirmation>,
    access: &AccessConfig,
) -> Result<ObservedDomain, GoogleError> {
    let mut observed = observe_customer(client, desired, &[], access).await?;
    observed.confirmations = confirmations;
    Ok(observed)
}

/// Observes, with one set of reads, the Google customer of `desired`'s domain and of its
/// `siblings`: domains of one customer with one delegated admin, support org unit and portal
/// role (a reseller account's primary and secondary domains). The observation is the customer's
/// (its org unit, roles and licenses) with the users that matter to any of the domains, and
/// serves each of them. The confirmations are left empty: they are each domain's own.
pub async fn observe_customer(
    client: &DomainClient,
    desired: &DesiredDomain,
    siblings: &[&DesiredDomain],
    access: &AccessConfig,
) -> Result<ObservedDomain, GoogleError> {
    let confirmations = Vec::new();
    let admin = async {
        if client.acts_as_itself() {
            // A delegated admin service account is no user: nothing to read about it.
            return Ok(AdminObservation::ServiceAccount);
        }
        match client.users_get(desired.delegated_admin().as_str()).await {
            Ok(user) => Ok(AdminObservation::Found {
                is_super_admin: user.is_admin,
                suspended: user.suspended,
            }),
            Err(e) if matches!(e.class(), ErrorClass::NotFound) => Ok(AdminObservation::NotFound),
            Err(e) => Err(e),
        }
    };
    let support_ou = desired.org_unit();
    // Every read starts at once, in strands of dependent reads: the delegated admin; the
    // Directory's org unit and users; Licensing's first page of Cloud Identity Free assignments
    // (Licensing has a quota of its own, one query per second for the whole project, so its
    // reads start as early as they can rather than queue behind the Directory's); and the
    // roles. The users decide which licenses matter, so the rest of the license reads follow
    // them.
    let users_and_licenses = async {
        let org_unit = async {
            match client.orgunits_get(support_ou.as_str()).await {
                Ok(_) => Ok(vec![support_ou.clone()]),
                Err(e) if matches!(e.class(), ErrorClass::NotFound) => Ok(Vec::new()),
                Err(e) => Err(e),
            }
        };
        let all_users = client.users_list(UsersListQuery::default()).collect_all();
        let mut cloud_identity_pages = client.license_assignments_list_for_product_and_sku(
            CLOUD_IDENTITY_FREE_PRODUCT,
            CLOUD_IDENTITY_FREE_SKU,
        );
        let (directory, first_cloud_identity_page) = tokio::join!(
            async { tokio::try_join!(org_unit, all_users) },
            cloud_identity_pages.next_page()
        );
        let (existing_org_units, all_users) = directory?;

        // The support org unit's users and the desired accounts wherever they are (search is
        // not used, so a just-created user is never missed).
        // Active and revoked accounts alike: whoever holds one of their addresses (as primary
        // address or alias) decides whether the service may touch it.
        let desired_emails: HashSet<&str> = std::iter::once(&desired)
            .chain(siblings)
            .flat_map(|desired| {
                desired
                    .accounts()
                    .iter()
                    .chain(desired.revoked().iter().map(|(account, _)| account))
            })
            .map(|a| a.email().as_str())
            .collect();
        let users: Vec<ObservedUser> = all_users
            .iter()
            .filter(|u| {
                desired_emails.contains(u.primary_email.to_ascii_lowercase().as_str())
                    || u.aliases
                        .iter()
                        .any(|a| desired_emails.contains(a.to_ascii_lowercase().as_str()))
                    || marker(u).is_some()
                    || u.org_unit_path
                        .as_deref()
                        .and_then(|p| OrgUnitPath::parse(p).ok())
                        .is_some_and(|p| p.is_within(support_ou))
            })
            // A user created by an earlier process (before a restart, or by another replica)
            // is still propagating for a while: the adapter must wait Google's answers about it
            // out as it does for users it created itself.
            .inspect(|u| client.note_user_created(u))
            .filter_map(observed_user)
            .collect();
        let observed_emails: BTreeSet<String> =
            users.iter().map(|u| u.email.as_str().to_owned()).collect();
        let licenses = observe_licenses(
            client,
            cloud_identity_pages,
            first_cloud_identity_page,
            &observed_emails,
        )
        .await?;
        Ok::<_, GoogleError>((existing_org_units, users, licenses, all_users))
    };

    let (admin, everything_else) = tokio::join!(admin, async {
        tokio::try_join!(users_and_licenses, observe_roles(client, desired))
    });
    let admin = admin?;
    // Without a super admin the other reads mean nothing (Google refuses them); the planner
    // blocks on the admin alone.
    if !admin.is_usable() {
        return Ok(empty_observation(admin, confirmations));
    }
    let (
        (
            existing_org_units,
            mut users,
            (subscription, cloud_identity_licenses, paid_licenses),
            all_users,
        ),
        (roles, privilege_tree, role_assignments),
    ) = everything_else?;

    let mut observed = ObservedDomain {
        admin,
        existing_org_units,
        subscription,
        roles,
        privilege_tree,
        users: Vec::new(),
        cloud_identity_licenses,
        paid_licenses,
        role_assignments,
        confirmations: Vec::new(),
    };
    // Everyone else who reaches the portal through a role (an unmanaged holder is drift, and
    // the portal-access review lists them), and which users administer beyond the portal.
    let holders: HashSet<UserId> = observed
        .role_assignments
        .iter()
        .filter(|a| {
            observed
                .role(&a.role_id)
                .is_some_and(|role| access.role_access(role, &observed.privilege_tree).is_some())
        })
        .map(|a| a.assignee.clone())
        .collect();
    let known: HashSet<UserId> = users.iter().map(|u| u.id.clone()).collect();
    users.extend(
        all_users
            .iter()
            .filter(|u| {
                let id = UserId::new(u.id.clone());
                holders.contains(&id) && !known.contains(&id)
            })
            .filter_map(observed_user),
    );
    let delegated: HashSet<String> = all_users
        .iter()
        .filter(|u| u.is_delegated_admin)
        .map(|u| u.id.clone())
        .collect();
    observed.users = users;
    let beyond: Vec<bool> = observed
        .users
        .iter()
        .map(|u| {
            access.administers_beyond_portal(delegated.contains(u.id.as_str()), &observed, &u.id)
        })
        .collect();
    for (user, beyond) in observed.users.iter_mut().zip(beyond) {
        user.is_delegated_admin = beyond;
    }
    observed.confirmations = confirmations;
    Ok(observed)
}

/// The value of support-access's ownership marker on `user`, if it carries one.
fn marker(user: &User) -> Option<&str> {
    user.external_ids
        .iter()
        .find(|id| id.is_custom(MARKER_CUSTOM_TYPE))
        .map(|id| id.value.as_str())
}

/// The Cloud Identity Free subscription and the licenses of the observed users, from the first
/// page of Cloud Identity Free assignments (already asked for) and the pages after it. Only the
/// licenses of `observed` users matter: when there is none (a domain with no support account
/// yet) the first page shows the subscription, and neither the other pages nor the paid
/// licenses are read.
async fn observe_licenses(
    client: &DomainClient,
    mut cloud_identity_pages: Pages<model::LicenseAssignmentList>,
    first_page: Result<Option<Vec<model::LicenseAssignment>>, GoogleError>,
    observed: &BTreeSet<String>,
) -> Result<
    (
        SubscriptionObservation,
        Vec<EmailAddress>,
        Vec<LicenseAssignment>,
    ),
    GoogleError,
> {
    // Every page's error, not only the first's, goes through the classification below.
    let cloud_identity = async {
        let mut items = first_page?.unwrap_or_default();
        if observed.is_empty() {
            // The count of assignments is known only when the first page was the last.
            return Ok((items, !cloud_identity_pages.has_more()));
        }
        while let Some(page) = cloud_identity_pages.next_page().await? {
            items.extend(page);
        }
        Ok::<_, GoogleError>((items, true))
    }
    .await;
    let (subscription, cloud_identity_licenses) = match cloud_identity {
        Ok((items, complete)) => {
            let holders: Vec<EmailAddress> = items
                .iter()
                .filter_map(|l| EmailAddress::parse(&l.user_id).ok())
                .filter(|e| observed.contains(e.as_str()))
                .collect();
            let used = complete.then(|| u32::try_from(items.len()).unwrap_or(u32::MAX));
            (
                SubscriptionObservation::Present {
                    seat_cap: None,
                    seats_used: used,
                },
                holders,
            )
        }
        // Google answers a SKU the customer does not hold with 404 or 400 (facts b.3).
        Err(e) if matches!(e.class(), ErrorClass::NotFound | ErrorClass::Invalid) => {
            (SubscriptionObservation::Absent, Vec::new())
        }
        Err(e) if matches!(e.class(), ErrorClass::PermissionDenied) => {
            (SubscriptionObservation::Unknown, Vec::new())
        }
        Err(e) => return Err(e),
    };
    if observed.is_empty() {
        return Ok((subscription, cloud_identity_licenses, Vec::new()));
    }

    let paid_licenses = match client
        .license_assignments_list_for_product(GOOGLE_WORKSPACE_PRODUCT)
        .collect_all()
        .await
    {
        Ok(items) => items
            .into_iter()
            .filter_map(|l| {
                let user = EmailAddress::parse(&l.user_id).ok()?;
                observed.contains(user.as_str()).then(|| LicenseAssignment {
                    sku: Sku::new(l.product_id, l.sku_id),
                    user,
                })
            })
            .collect(),
        Err(e) if matches!(e.class(), ErrorClass::NotFound | ErrorClass::Invalid) => Vec::new(),
        Err(e) => return Err(e),
    };
    Ok((subscription, cloud_identity_licenses, paid_licenses))
}

/// The roles of the customer, the privilege tree when the custom role still has to be built,
/// and every role assignment.
async fn observe_roles(
    client: &DomainClient,
    desired: &DesiredDomain,
) -> Result<
    (
        Vec<ObservedRole>,
        Vec<PrivilegeNode>,
        Vec<ObservedRoleAssignment>,
    ),
    GoogleError,
> {
    let roles_and_tree = async {
        let roles: Vec<ObservedRole> = client
            .roles_list()
            .collect_all()
            .await?
            .into_iter()
            .map(observed_role)
            .collect();
        let custom_role_exists = roles
            .iter()
            .any(|r| r.name == desired.custom_role_name().as_str());
        let privilege_tree = if custom_role_exists {
            Vec::new()
        } else {
            client
                .privileges_list()
                .await?
                .iter()
                .map(privilege_node)
                .collect()
        };
        Ok::<_, GoogleError>((roles, privilege_tree))
    };
    let role_assignments = async {
        Ok::<_, GoogleError>(
            client
                .role_assignments_list(RoleAssignmentsQuery::default())
                .collect_all()
                .await?
                .into_iter()
                .map(|a| ObservedRoleAssignment {
                    id: RoleAssignmentId::new(a.role_assignment_id),
                    role_id: RoleId::new(a.role_id),
                    assignee: UserId::new(a.assigned_to),
                    scope: match a.scope_type {
                        Some(model::ScopeType::OrgUnit) => ScopeType::OrgUnit,
                        _ => ScopeType::Customer,
                    },
                })
                .collect::<Vec<_>>(),
        )
    };
    let ((roles, privilege_tree), role_assignments) =
        tokio::try_join!(roles_and_tree, role_assignments)?;
    Ok((roles, privilege_tree, role_assignments))
}

fn empty_observation(
    admin: AdminObservation,
    confirmations: Vec<ManualConfirmation>,
) -> ObservedDomain {
    ObservedDomain {
        admin,
        existing_org_units: Vec::new(),
        subscription: SubscriptionObservation::Unknown,
        roles: Vec::new(),
        privilege_tree: Vec::new(),
        users: Vec::new(),
        cloud_identity_licenses: Vec::new(),
        paid_licenses: Vec::new(),
        role_assignments: Vec::new(),
        confirmations,
    }
}

fn observed_user(user: &User) -> Option<ObservedUser> {
    let email = EmailAddress::parse(&user.primary_email).ok()?;
    let org_unit = user
        .org_unit_path
        .as_deref()
        .and_then(|p| OrgUnitPath::parse(p).ok())
        .unwrap_or_else(OrgUnitPath::root);
    let names = user.name.as_ref().and_then(|n| {
        let given = PersonName::parse(n.given_name.as_deref()?).ok()?;
        let family = PersonName::parse(n.family_name.as_deref()?).ok()?;
        Some((given, family))
    });
    Some(ObservedUser {
        id: UserId::new(user.id.clone()),
        email,
        org_unit,
        suspended: user.suspended,
        is_super_admin: user.is_admin,
        recovery_email: user.recovery_email.clone(),
        names,
        marker: marker(user).map(str::to_owned),
        // Set once the role assignments are known (see observe_domain).
        is_delegated_admin: false,
        aliases: user
            .aliases
            .iter()
            .map(|a| a.to_ascii_lowercase())
            .collect(),
    })
}

fn observed_role(role: model::Role) -> ObservedRole {
    ObservedRole {
        id: RoleId::new(role.role_id),
        name: role.role_name,
        is_system: role.is_system_role,
        privileges: role
            .role_privileges
            .into_iter()
            .map(|p| RolePrivilege {
                privilege_name: p.privilege_name,
                service_id: p.service_id,
            })
            .collect(),
    }
}

fn privilege_node(privilege: &Privilege) -> PrivilegeNode {
    PrivilegeNode {
        privilege_name: privilege.privilege_name.clone(),
        service_id: privilege.service_id.clone(),
        service_name: privilege.service_name.clone().unwrap_or_default(),
        children: privilege
            .child_privileges
            .iter()
            .map(privilege_node)
            .collect(),
    }
}
