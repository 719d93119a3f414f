//! Property tests of the planner, the status and revocation over random domains: every
//! combination of admin state, org units, subscription, roles, privilege tree, users (in the org
//! unit, elsewhere, suspended, super admins, other administrators, wrong recovery e-mail, other
//! names, every kind of ownership: owned, marked only, foreign, approved for adoption, marker
//! removed or of another staff member, another id at the address, an alias), licenses, role
//! assignments and confirmations. They check that a plan is complete (planning again after its
//! effects gives no step), minimal (no duplicate, at most three writes per new account), ordered
//! (dependencies first), consistent with the status, that nothing is ever planned for an account
//! the service does not own, that revocation converges, touches only owned accounts and keeps
//! revoked accounts revoked, and that the mass-change limit follows its formula.

use proptest::prelude::*;
use support_access_domain::access::AccessConfig;
use support_access_domain::access::PortalAccessKind;
use support_access_domain::desired::{DesiredAccount, DesiredDomain};
use support_access_domain::drift::{DriftKind, detect_drift};
use support_access_domain::observed::*;
use support_access_domain::ownership::{AccountOwnership, classify, marker_value};
use support_access_domain::plan::{
    DomainPlan, PlannerConfig, RoleRef, Step, StepKind, plan_domain,
};
use support_access_domain::revoke::{
    MassChangeLimit, RevokeMode, RevokeOptions, check_mass_change, plan_revoke,
    plan_revoked_accounts,
};
use support_access_domain::simulate::apply_steps;
use support_access_domain::status::{Activity, CheckKind, CheckState, domain_status};
use support_access_domain::*;

const POOL: [&str; 5] = ["ana", "bo", "cy", "di", "ed"];
const CUSTOM_ROLE_ID: &str = "r-custom";
const RESELLER_ADMIN_ID: &str = "r-reseller";
const LEGACY_ID: &str = "r-legacy";
const HELPDESK_ID: &str = "r-help";
const PAID: [(&str, &str); 2] = [("Google-Apps", "1010020028"), ("Google-Apps", "1010020020")];

fn domain() -> DomainName {
    DomainName::parse("reseller.example").unwrap()
}

fn email(local: &str) -> EmailAddress {
    EmailAddress::parse(&format!("{local}@reseller.example")).unwrap()
}

fn privilege(name: &str) -> RolePrivilege {
    RolePrivilege {
        privilege_name: name.to_owned(),
        service_id: "svc".to_owned(),
    }
}

fn node(name: &str, children: Vec<PrivilegeNode>) -> PrivilegeNode {
    PrivilegeNode {
        privilege_name: name.to_owned(),
        service_id: "svc".to_owned(),
        service_name: "reseller".to_owned(),
        children,
    }
}

fn tree() -> Vec<PrivilegeNode> {
    vec![node(
        "RESELLER_TOOLS",
        vec![node(
            "RESELLER_CUSTOMERS",
            vec![
                node("RESELLER_VIEW_CUSTOMERS", vec![]),
                node("RESELLER_ACCESS_CUSTOMER_SUPPORT_CASES", vec![]),
            ],
        )],
    )]
}

#[derive(Debug, Clone)]
struct UserSpec {
    org_unit: u8,
    suspended: bool,
    super_admin: bool,
    recovery: u8,
    names: u8,
    cloud_identity: bool,
    paid: (bool, bool),
    assignments: Vec<(u8, bool)>,
    ownership: Ownership,
    delegated_admin: bool,
}

/// How the account at a staff member's address relates to the service.
#[derive(Debug, Clone, Copy)]
enum Ownership {
    /// Marker and recorded id: created by the service.
    Owned,
    /// Marker, nothing recorded: a lost database.
    MarkedOnly,
    /// Neither: someone else's.
    Foreign,
    /// No marker, an operator approved adopting it.
    AdoptionApproved,
    /// Recorded id, marker removed.
    MarkerRemoved,
    /// The marker of another staff member.
    OtherMarker,
    /// The recorded id is another account's.
    DifferentId,
}

fn ownership() -> impl Strategy<Value = Ownership> {
    prop_oneof![
        6 => Just(Ownership::Owned),
        1 => Just(Ownership::MarkedOnly),
        2 => Just(Ownership::Foreign),
        1 => Just(Ownership::AdoptionApproved),
        1 => Just(Ownership::MarkerRemoved),
        1 => Just(Ownership::OtherMarker),
        1 => Just(Ownership::DifferentId),
    ]
}

fn user_spec() -> impl Strategy<Value = UserSpec> {
    (
        0u8..3,
        any::<bool>(),
        prop::bool::weighted(0.1),
        0u8..3,
        0u8..3,
        any::<bool>(),
        (prop::bool::weighted(0.2), prop::bool::weighted(0.1)),
        prop::collection::vec((0u8..4, prop::bool::weighted(0.8)), 0..3),
        (ownership(), prop::bool::weighted(0.1)),
    )
        .prop_map(
            |(
                org_unit,
                suspended,
                super_admin,
                recovery,
                names,
                cloud_identity,
                paid,
                assignments,
                (ownership, delegated_admin),
            )| {
                UserSpec {
                    org_unit,
                    suspended,
                    super_admin,
                    recovery,
                    names,
                    cloud_identity,
                    paid,
                    assignments,
                    ownership,
                    delegated_admin,
                }
            },
        )
}

#[derive(Debug, Clone)]
struct Scenario {
    desired: DesiredDomain,
    observed: ObservedDomain,
    config: PlannerConfig,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let domain_part = (
        any::<bool>(),                                                // reseller admin mode
        any::<bool>(),                                                // nested org unit
        0u8..4,                                                       // which org units exist
        0u8..4,                                                       // admin
        (0u8..4, 0u32..8, 0u32..8),                                   // subscription
        (0u8..4, any::<bool>(), any::<bool>(), any::<bool>()), // custom role, reseller admin role, legacy role, tree
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()), // confirmations + strict config
    );
    let users = (
        prop::collection::vec(any::<bool>(), POOL.len()),
        prop::collection::vec(prop::option::weighted(0.6, user_spec()), POOL.len()),
        prop::collection::vec(prop::bool::weighted(0.1), POOL.len()),
    );
    (domain_part, users).prop_map(|(d, (wanted, specs, aliased))| build(d, wanted, specs, aliased))
}

type DomainPart = (
    bool,
    bool,
    u8,
    u8,
    (u8, u32, u32),
    (u8, bool, bool, bool),
    (bool, bool, bool, bool),
);

fn build(
    d: DomainPart,
    wanted: Vec<bool>,
    specs: Vec<Option<UserSpec>>,
    aliased: Vec<bool>,
) -> Scenario {
    let (reseller_mode, nested, existing, admin, subscription, roles, confirm) = d;
    let support_ou = if nested {
        OrgUnitPath::parse("/Support/Care").unwrap()
    } else {
        default_support_ou()
    };
    let accounts: Vec<DesiredAccount> = POOL
        .iter()
        .zip(&wanted)
        .zip(&specs)
        .filter(|((_, w), _)| **w)
        .map(|((name, _), spec)| {
            let id = UserId::new(format!("u-{name}"));
            let (owned, adopt) = match spec.as_ref().map(|s| s.ownership) {
                Some(Ownership::Owned | Ownership::MarkerRemoved) => (Some(id), None),
                Some(Ownership::AdoptionApproved) => (None, Some(id)),
                Some(Ownership::DifferentId) => (Some(UserId::new(format!("gone-{name}"))), None),
                _ => (None, None),
            };
            DesiredAccount::new(
                StaffMemberId::parse(name).unwrap(),
                Username::parse(name).unwrap(),
                PersonName::parse("Given").unwrap(),
                PersonName::parse("Family").unwrap(),
                EmailAddress::parse(&format!("{name}@work.example")).unwrap(),
                &domain(),
            )
            .unwrap()
            .with_ownership(owned, adopt)
        })
        .collect();
    let desired = DesiredDomain::new(
        domain(),
        email("admin"),
        support_ou.clone(),
        if reseller_mode {
            RoleMode::ResellerAdmin
        } else {
            RoleMode::CustomRole
        },
        default_custom_role(),
        accounts,
    )
    .unwrap();

    let existing_org_units = match existing {
        0 => vec![],
        1 => vec![support_ou.parent()],
        2 => vec![support_ou.clone()],
        _ => vec![support_ou.parent(), support_ou.clone()],
    };
    let admin = match admin {
        0 => AdminObservation::NotFound,
        1 => AdminObservation::Found {
            is_super_admin: false,
            suspended: false,
        },
        2 => AdminObservation::Found {
            is_super_admin: true,
            suspended: true,
        },
        _ => AdminObservation::Found {
            is_super_admin: true,
            suspended: false,
        },
    };
    let subscription = match subscription {
        (0, ..) => SubscriptionObservation::Absent,
        (1, ..) => SubscriptionObservation::Unknown,
        (2, ..) => SubscriptionObservation::Present {
            seat_cap: None,
            seats_used: None,
        },
        (_, free, used) => SubscriptionObservation::Present {
            seat_cap: Some(used + free),
            seats_used: Some(used),
        },
    };
    let (custom, reseller_admin, legacy, has_tree) = roles;
    let mut observed_roles = vec![ObservedRole {
        id: RoleId::new(HELPDESK_ID),
        name: "_HELP_DESK_ADMIN_ROLE".into(),
        is_system: true,
        privileges: vec![],
    }];
    let custom_privileges = match custom {
        0 => None,
        1 => Some(vec![
            privilege("RESELLER_VIEW_CUSTOMERS"),
            privilege("RESELLER_ACCESS_CUSTOMER_SUPPORT_CASES"),
        ]),
        2 => Some(vec![privilege("RESELLER_VIEW_CUSTOMERS")]),
        _ => Some(vec![privilege("RESELLER_CUSTOMERS")]),
    };
    if let Some(privileges) = custom_privileges {
        observed_roles.push(ObservedRole {
            id: RoleId::new(CUSTOM_ROLE_ID),
            name: DEFAULT_CUSTOM_ROLE.into(),
            is_system: false,
            privileges,
        });
    }
    if reseller_admin {
        observed_roles.push(ObservedRole {
            id: RoleId::new(RESELLER_ADMIN_ID),
            name: "_RESELLER_ADMIN_ROLE".into(),
            is_system: true,
            privileges: vec![],
        });
    }
    if legacy {
        observed_roles.push(ObservedRole {
            id: RoleId::new(LEGACY_ID),
            name: "Legacy Enterprise Support".into(),
            is_system: true,
            privileges: vec![],
        });
    }
    let role_ids = [CUSTOM_ROLE_ID, RESELLER_ADMIN_ID, LEGACY_ID, HELPDESK_ID];

    let mut observed = ObservedDomain {
        admin,
        existing_org_units,
        subscription,
        roles: observed_roles,
        privilege_tree: if has_tree { tree() } else { vec![] },
        users: vec![],
        cloud_identity_licenses: vec![],
        paid_licenses: vec![],
        role_assignments: vec![],
        confirmations: vec![],
    };
    for (name, spec) in POOL.iter().zip(specs) {
        let Some(spec) = spec else { continue };
        let address = email(name);
        let id = UserId::new(format!("u-{name}"));
        observed.users.push(ObservedUser {
            id: id.clone(),
            email: address.clone(),
            org_unit: match spec.org_unit {
                0 => support_ou.clone(),
                1 => OrgUnitPath::root(),
                _ => OrgUnitPath::parse("/Sales").unwrap(),
            },
            suspended: spec.suspended,
            is_super_admin: spec.super_admin,
            recovery_email: match spec.recovery {
                0 => None,
                1 => Some(format!("{}@WORK.example", name.to_uppercase())),
                _ => Some("someone@else.example".into()),
            },
            names: match spec.names {
                0 => None,
                1 => Some((
                    PersonName::parse("Given").unwrap(),
                    PersonName::parse("Family").unwrap(),
                )),
                _ => Some((
                    PersonName::parse("Other").unwrap(),
                    PersonName::parse("Family").unwrap(),
                )),
            },
            marker: match spec.ownership {
                Ownership::Owned | Ownership::MarkedOnly | Ownership::DifferentId => {
                    Some(marker_value(&StaffMemberId::parse(name).unwrap()))
                }
                Ownership::OtherMarker => Some("staffMembers/someone-else".into()),
                _ => None,
            },
            is_delegated_admin: spec.delegated_admin,
            aliases: vec![],
        });
        if spec.cloud_identity {
            observed.cloud_identity_licenses.push(address.clone());
        }
        for (held, (product, sku)) in [spec.paid.0, spec.paid.1].into_iter().zip(PAID) {
            if held {
                observed.paid_licenses.push(LicenseAssignment {
                    sku: Sku::new(product, sku),
                    user: address.clone(),
                });
            }
        }
        for (i, (role, customer_scope)) in spec.assignments.iter().enumerate() {
            observed.role_assignments.push(ObservedRoleAssignment {
                id: RoleAssignmentId::new(format!("ra-{name}-{i}")),
                role_id: RoleId::new(role_ids[usize::from(*role)]),
                assignee: id.clone(),
                scope: if *customer_scope {
                    ScopeType::Customer
                } else {
                    ScopeType::OrgUnit
                },
            });
        }
    }
    // Someone else's account answering at a pool address that has no user of its own.
    for (name, _) in POOL.iter().zip(&aliased).filter(|(_, a)| **a) {
        if observed.user(&email(name)).is_none() {
            observed.users.push(ObservedUser {
                id: UserId::new(format!("alias-holder-{name}")),
                email: email(&format!("{name}.holder")),
                org_unit: OrgUnitPath::parse("/Sales").unwrap(),
                suspended: false,
                is_super_admin: false,
                recovery_email: None,
                names: None,
                marker: None,
                is_delegated_admin: false,
                aliases: vec![email(name).to_string()],
            });
        }
    }
    let (ci_confirmed, auto_confirmed, mail_confirmed, strict) = confirm;
    for (yes, step) in [
        (ci_confirmed, ManualStep::CloudIdentityFreeSubscribed),
        (auto_confirmed, ManualStep::AutomaticLicensingOff),
        (mail_confirmed, ManualStep::MailRouting),
    ] {
        if yes {
            observed.confirmations.push(ManualConfirmation {
                step,
                staff_member: None,
            });
        }
    }
    Scenario {
        desired,
        observed,
        config: PlannerConfig {
            access: AccessConfig::default(),
            require_automatic_licensing_confirmation: strict,
        },
    }
}

fn revoke_mode() -> impl Strategy<Value = RevokeMode> {
    prop_oneof![
        Just(RevokeMode::RemoveRole),
        Just(RevokeMode::Suspend),
        Just(RevokeMode::Delete)
    ]
}

fn plan(s: &Scenario, observed: &ObservedDomain) -> DomainPlan {
    plan_domain(&s.desired, observed, &s.config)
}

fn blocked_accounts(plan: &DomainPlan) -> Vec<EmailAddress> {
    plan.blockers
        .iter()
        .filter_map(|b| b.account.clone())
        .collect()
}

fn role_available(plan: &DomainPlan) -> bool {
    !plan
        .blockers
        .iter()
        .any(|b| b.account.is_none() && b.kind.check() == CheckKind::PortalRole)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, .. ProptestConfig::default() })]

    #[test]
    fn applying_the_plan_leaves_nothing_to_do(s in scenario()) {
        let first = plan(&s, &s.observed);
        let after = apply_steps(&s.observed, first.steps.iter().map(|p| &p.step));
        let second = plan(&s, &after);
        prop_assert!(second.steps.is_empty(), "first: {:#?}\nsecond: {:#?}", first.steps, second.steps);
        // The blockers that concern accounts stay; nothing new appears for the domain's role.
        prop_assert_eq!(blocked_accounts(&first), blocked_accounts(&second));
    }

    #[test]
    fn no_step_is_duplicated(s in scenario()) {
        let plan = plan(&s, &s.observed);
        let mut keys: Vec<String> = plan.steps.iter().map(|p| p.step.key()).collect();
        let count = keys.len();
        keys.sort();
        keys.dedup();
        prop_assert_eq!(keys.len(), count);
    }

    #[test]
    fn dependencies_come_first(s in scenario()) {
        let plan = plan(&s, &s.observed);
        let steps: Vec<&Step> = plan.steps.iter().map(|p| &p.step).collect();
        let first_account = steps.iter().position(|s| s.account().is_some()).unwrap_or(steps.len());
        prop_assert!(steps[first_account..].iter().all(|s| s.account().is_some()), "domain step after an account step");
        for (i, step) in steps.iter().enumerate() {
            let before = &steps[..i];
            match step {
                Step::CreateOrgUnit { path } => {
                    let parent = path.parent();
                    let parent_ready = s.observed.org_unit_exists(&parent)
                        || before.iter().any(|b| matches!(b, Step::CreateOrgUnit { path } if *path == parent));
                    prop_assert!(parent_ready, "parent of {} not created first", path);
                }
                Step::AssignRole { account, user_id, role } => {
                    if let RoleRef::Planned { role_name } = role {
                        let created = before.iter().any(|b| matches!(b, Step::CreateCustomRole { role_name: n, .. } if n == role_name));
                        prop_assert!(created, "role {} assigned before it is created", role_name);
                    }
                    if user_id.is_none() {
                        let created = before.iter().any(|b| matches!(b, Step::CreateUser { account: a, .. } if a == account));
                        prop_assert!(created, "{} has no id and is not created first", account);
                    }
                }
                Step::CreateUser { account, .. } => {
                    prop_assert!(!before.iter().any(|b| b.account() == Some(account)), "CreateUser is not the account's first step");
                }
                _ => {}
            }
        }
    }

    #[test]
    fn new_accounts_take_at_most_three_writes(s in scenario()) {
        let plan = plan(&s, &s.observed);
        for created in plan.steps.iter().filter_map(|p| match &p.step {
            Step::CreateUser { account, .. } => Some(account),
            _ => None,
        }) {
            let kinds: Vec<StepKind> = plan.steps.iter()
                .filter(|p| p.step.account() == Some(created))
                .map(|p| p.step.kind())
                .collect();
            prop_assert!(kinds.len() <= 3);
            prop_assert_eq!(kinds[0], StepKind::CreateUser);
            prop_assert_eq!(kinds[1], StepKind::AssignLicense);
            prop_assert_eq!(kinds.len() == 3, role_available(&plan));
        }
    }

    #[test]
    fn steps_only_touch_desired_unblocked_accounts(s in scenario()) {
        let plan = plan(&s, &s.observed);
        let blocked = blocked_accounts(&plan);
        for planned in &plan.steps {
            match planned.step.account() {
                Some(account) => {
                    let desired = s.desired.account(account);
                    prop_assert!(desired.is_some());
                    prop_assert!(!blocked.contains(account));
                    prop_assert_eq!(planned.staff_member.as_ref(), desired.map(|d| d.staff_member()));
                    // Never a super admin, never the delegated admin.
                    prop_assert!(s.observed.user(account).is_none_or(|u| !u.is_super_admin));
                    prop_assert_ne!(account, s.desired.delegated_admin());
                }
                None => prop_assert!(planned.staff_member.is_none()),
            }
            prop_assert!(!planned.reason.is_empty());
            let revoking = matches!(planned.step, Step::RemoveRole { .. } | Step::SuspendUser { .. } | Step::DeleteUser { .. });
            prop_assert!(!revoking, "provisioning plans a revocation step: {}", planned);
        }
        prop_assert_eq!(plan.runnable_steps().is_empty(), plan.is_blocked() || plan.steps.is_empty());
    }

    #[test]
    fn the_planner_never_plans_a_step_for_an_account_it_does_not_own(s in scenario()) {
        let plan = plan(&s, &s.observed);
        for planned in &plan.steps {
            let Some(address) = planned.step.account() else { continue };
            let account = s.desired.account(address).unwrap();
            let ownership = classify(account, &s.observed, s.desired.delegated_admin());
            match (&planned.step, &ownership) {
                (Step::CreateUser { marker, .. }, AccountOwnership::Absent) => {
                    prop_assert_eq!(marker, &marker_value(account.staff_member()));
                }
                (Step::CreateUser { .. }, other) => prop_assert!(false, "creates over {:?}", other),
                (_, AccountOwnership::Owned { user, .. }) => {
                    prop_assert!(!user.is_super_admin && !user.is_delegated_admin);
                    let marks = matches!(&planned.step, Step::UpdateUser { set_marker: Some(_), .. });
                    prop_assert!(!marks, "marks an owned account");
                }
                (Step::UpdateUser { set_marker, .. }, AccountOwnership::AdoptionApproved { user }) => {
                    prop_assert!(!user.is_super_admin && !user.is_delegated_admin);
                    prop_assert!(s.observed.paid_skus(address).is_empty());
                    prop_assert!(set_marker.is_none() || user.marker.is_none());
                }
                (_, AccountOwnership::AdoptionApproved { .. }) => {}
                // Steps of an account created by this plan come after its CreateUser.
                (_, AccountOwnership::Absent) => {
                    let created = plan.steps.iter().any(|p| matches!(&p.step, Step::CreateUser { account, .. } if account == address));
                    prop_assert!(created, "{} is absent and not created", address);
                }
                (_, AccountOwnership::Conflict(conflict)) => prop_assert!(false, "writes to a conflict: {}", conflict),
            }
        }
        // Every conflict is an account blocker of its own, never a domain blocker.
        for account in s.desired.accounts() {
            if let AccountOwnership::Conflict(conflict) = classify(account, &s.observed, s.desired.delegated_admin()) {
                prop_assert!(plan.blockers.iter().any(|b| b.account.as_ref() == Some(account.email()) && b.reason == conflict.reason));
            }
        }
    }

    #[test]
    fn plans_round_trip_through_json(s in scenario()) {
        let plan = plan(&s, &s.observed);
        let json = serde_json::to_string(&plan).unwrap();
        prop_assert_eq!(serde_json::from_str::<DomainPlan>(&json).unwrap(), plan);
        let observed_json = serde_json::to_string(&s.observed).unwrap();
        prop_assert_eq!(serde_json::from_str::<ObservedDomain>(&observed_json).unwrap(), s.observed.clone());
    }

    #[test]
    fn status_agrees_with_the_plan(s in scenario()) {
        let plan = plan(&s, &s.observed);
        let status = domain_status(&s.desired, &s.observed, &Activity::default(), &s.config);
        // Every step works on a check that is not OK.
        for planned in &plan.steps {
            let checks = match planned.step.account() {
                None => &status.checks,
                Some(account) => &status.account(account).unwrap().checks,
            };
            for kind in planned.step.checks() {
                let check = checks.iter().find(|c| c.kind == kind).unwrap();
                prop_assert_ne!(check.state, CheckState::Ok, "{} works on {:?} which is OK", planned, kind);
            }
        }
        // Every MISSING or DRIFTED check has a step working on it (the portal role aside when it
        // is not available, and accounts a person must sort out).
        let blocked = blocked_accounts(&plan);
        for check in &status.checks {
            if matches!(check.state, CheckState::Missing | CheckState::Drifted) {
                prop_assert!(plan.steps.iter().any(|p| p.step.account().is_none() && p.step.checks().contains(&check.kind)), "{:?}", check);
            }
        }
        for account in status.accounts.iter().filter(|a| !blocked.contains(&a.email)) {
            for check in &account.checks {
                if !matches!(check.state, CheckState::Missing | CheckState::Drifted) {
                    continue;
                }
                if check.kind == CheckKind::AccountRole && !role_available(&plan) {
                    continue;
                }
                let covered = plan.steps.iter().any(|p| p.step.account() == Some(&account.email) && p.step.checks().contains(&check.kind))
                    // A new account gets its license and role from later steps of the same plan.
                    || plan.steps.iter().any(|p| matches!(&p.step, Step::CreateUser { account: a, .. } if *a == account.email));
                prop_assert!(covered, "{} {:?} has no step", account.email, check);
            }
        }
        prop_assert_eq!(status.state == CheckState::Ok, plan.is_complete() && status.manual_actions().is_empty());
    }

    #[test]
    fn revocation_converges_and_touches_only_owned_accounts(
        s in scenario(),
        who in prop::collection::vec(any::<bool>(), POOL.len()),
        mode in revoke_mode(),
    ) {
        let staff: Vec<StaffMemberId> = POOL.iter().zip(&who).filter(|(_, w)| **w)
            .map(|(n, _)| StaffMemberId::parse(n).unwrap()).collect();
        let options = RevokeOptions { mode, ..RevokeOptions::default() };
        let access = AccessConfig::default();
        let revoke = plan_revoke(&s.desired, &staff, &s.observed, &options, &access);
        let after = apply_steps(&s.observed, revoke.steps.iter().map(|p| &p.step));
        let again = plan_revoke(&s.desired, &staff, &after, &options, &access);
        prop_assert!(again.steps.is_empty(), "{:#?}", again.steps);
        for account in s.desired.accounts().iter().filter(|a| staff.contains(a.staff_member())) {
            let ownership = classify(account, &s.observed, s.desired.delegated_admin());
            if !ownership.is_owned() {
                prop_assert!(revoke.steps.iter().all(|p| p.step.account() != Some(account.email())), "{:?}", ownership);
                prop_assert_eq!(after.user(account.email()), s.observed.user(account.email()));
                continue;
            }
            let Some(user) = after.user(account.email()) else { continue };
            prop_assert!(mode != RevokeMode::Delete);
            prop_assert!(mode != RevokeMode::Suspend || user.suspended);
            let roles = access.portal_roles_of(&after, &user.id);
            prop_assert!(roles.iter().all(|(_, kind)| *kind == PortalAccessKind::Legacy));
        }
        // Only the requested staff members' accounts are touched.
        for planned in &revoke.steps {
            prop_assert!(planned.staff_member.as_ref().is_some_and(|m| staff.contains(m)));
        }
    }

    #[test]
    fn revoked_accounts_stay_revoked_and_are_never_provisioned(
        s in scenario(),
        who in prop::collection::vec(any::<bool>(), POOL.len()),
        mode in revoke_mode(),
    ) {
        let (active, revoked): (Vec<DesiredAccount>, Vec<DesiredAccount>) = s.desired.accounts().iter().cloned()
            .partition(|a| !POOL.iter().zip(&who).any(|(n, w)| *w && a.staff_member().as_str() == *n));
        let desired = DesiredDomain::new(
            s.desired.domain().clone(),
            s.desired.delegated_admin().clone(),
            s.desired.org_unit().clone(),
            s.desired.role_mode(),
            s.desired.custom_role_name().clone(),
            active,
        ).unwrap().with_revoked(revoked.into_iter().map(|a| (a, mode)).collect());
        let access = AccessConfig::default();
        let provision = plan_domain(&desired, &s.observed, &s.config);
        for planned in &provision.steps {
            prop_assert!(planned.step.account().is_none_or(|a| desired.revoked_account(a).is_none()));
        }
        let keep = plan_revoked_accounts(&desired, &s.observed, &access);
        for planned in &keep.steps {
            let account = planned.step.account().unwrap();
            let (revoked, _) = desired.revoked_account(account).unwrap();
            prop_assert!(classify(revoked, &s.observed, desired.delegated_admin()).is_owned());
        }
        let after = apply_steps(&s.observed, keep.steps.iter().map(|p| &p.step));
        prop_assert!(plan_revoked_accounts(&desired, &after, &access).steps.is_empty());
    }

    #[test]
    fn mass_change_limit_follows_its_formula(
        touched in 0u32..40,
        active_owned in 0u32..40,
        revoked_in_window in 0u32..40,
        max_percent in 0u32..101,
        always_allowed in 0u32..3,
    ) {
        let limit = MassChangeLimit { max_percent, always_allowed, ..MassChangeLimit::default() };
        let check = |t| check_mass_change(&domain(), t, active_owned, revoked_in_window, &limit);
        let total = touched + revoked_in_window;
        let base = active_owned + revoked_in_window;
        let allowed = total <= always_allowed || total * 100 <= base * max_percent;
        prop_assert_eq!(check(touched).is_ok(), allowed);
        // Touching more never turns a refusal into an allowance.
        if !allowed {
            prop_assert!(check(touched + 1).is_err());
        }
    }

    #[test]
    fn drift_is_sorted_unique_and_every_repairable_drift_has_a_step(s in scenario()) {
        let access = AccessConfig::default();
        let drifts = detect_drift(&s.desired, &s.observed, &access);
        if !s.observed.admin_is_usable() {
            prop_assert!(drifts.is_empty());
        }
        let keys: Vec<_> = drifts.iter().map(|d| (d.account.clone(), d.kind)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        sorted.dedup();
        prop_assert_eq!(&keys, &sorted);
        prop_assert_eq!(detect_drift(&s.desired, &s.observed, &access), drifts.clone());
        let plan = plan(&s, &s.observed);
        for d in &drifts {
            let Some(address) = &d.account else { continue };
            let steps: Vec<&Step> = plan.steps.iter().map(|p| &p.step).filter(|st| st.account() == Some(address)).collect();
            let has = |kind: StepKind| steps.iter().any(|st| st.kind() == kind);
            let repairable = match d.kind {
                DriftKind::AccountMoved => has(StepKind::UpdateUser),
                DriftKind::AccountSuspended => has(StepKind::UpdateUser),
                DriftKind::AccountLicenseRemoved => has(StepKind::AssignLicense),
                DriftKind::AccountPaidLicenseAdded => has(StepKind::RemovePaidLicense),
                DriftKind::AccountRoleRemoved => has(StepKind::AssignRole) || !role_available(&plan),
                DriftKind::AccountDeleted => has(StepKind::CreateUser),
                // Not the planner's to repair: conflicts, revoked accounts, people.
                _ => true,
            };
            prop_assert!(repairable, "{:?} has no repair step in {:#?}", d, plan.steps);
            // Only owned accounts drift, unless the finding is about someone else.
            if !matches!(d.kind, DriftKind::UnmanagedPortalAccess | DriftKind::ConfirmationContradicted) {
                let account = s.desired.account(address).unwrap();
                prop_assert!(account.owned_user_id().is_some());
            }
        }
    }
}
