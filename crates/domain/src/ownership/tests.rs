//! Unit tests of ownership: one scenario per rule of `classify`, asserting the outcome and what a
//! person reads.

use super::*;
use crate::fixtures::*;
use crate::observed::LicenseAssignment;

fn admin() -> EmailAddress {
    email("admin@reseller.example")
}

/// ana's account in a correct domain, and the observation.
fn setup() -> (DesiredAccount, ObservedDomain) {
    let desired = desired(&["ana"]);
    let observed = correct_observation(&desired);
    (desired.accounts()[0].clone(), observed)
}

fn conflict_of(ownership: AccountOwnership) -> Conflict {
    match ownership {
        AccountOwnership::Conflict(conflict) => conflict,
        other => panic!("not a conflict: {other:?}"),
    }
}

#[test]
fn marker_names_the_staff_member() {
    assert_eq!(marker_value(&staff("ana")), "staffMembers/ana");
    assert_eq!(MARKER_CUSTOM_TYPE, "support-access");
}

#[test]
fn nothing_at_the_address_is_absent() {
    let (ana, _) = setup();
    assert_eq!(
        classify(&ana, &fresh_observation(), &admin()),
        AccountOwnership::Absent
    );
}

#[test]
fn recorded_id_and_marker_make_it_owned() {
    let (ana, observed) = setup();
    let ownership = classify(&ana, &observed, &admin());
    assert_eq!(
        ownership,
        AccountOwnership::Owned {
            user: &observed.users[0],
            rediscovered: false
        }
    );
    assert!(ownership.is_owned());
    assert_eq!(ownership.writable_user().unwrap().id, user_id("ana"));
}

#[test]
fn marker_alone_rediscovers_the_account_after_a_lost_database() {
    let (_, observed) = setup();
    let ana = unrecorded_account("ana");
    assert_eq!(
        classify(&ana, &observed, &admin()),
        AccountOwnership::Owned {
            user: &observed.users[0],
            rediscovered: true
        }
    );
}

#[test]
fn a_plain_account_someone_else_made_is_a_conflict() {
    let (_, mut observed) = setup();
    observed.users[0].marker = None;
    let conflict = conflict_of(classify(&unrecorded_account("ana"), &observed, &admin()));
    assert_eq!(conflict.kind, ConflictKind::NotCreatedByService);
    assert_eq!(conflict.account, email("ana@reseller.example"));
    assert_eq!(conflict.user_id, Some(user_id("ana")));
    assert_eq!(
        conflict.reason,
        "ana@reseller.example exists (user id u-ana) but support-access did not create it: it carries no support-access marker and no adoption of it was approved"
    );
    assert_eq!(
        conflict.what_to_do,
        "if ana@reseller.example (user id u-ana) really is staff member ana's support account, adopt it with AdoptSupportAccount for domains/reseller.example/supportAccounts/ana with a reason; otherwise to give the person another address, create a new staff member with another username (CreateStaffMember) and provision it instead of staff member ana"
    );
    assert_eq!(
        conflict.to_string(),
        format!("{}; {}", conflict.reason, conflict.what_to_do)
    );
}

#[test]
fn an_approved_adoption_is_adopted_once() {
    let (_, mut observed) = setup();
    observed.users[0].marker = None;
    let ana = unrecorded_account("ana").with_ownership(None, Some(user_id("ana")));
    assert_eq!(
        classify(&ana, &observed, &admin()),
        AccountOwnership::AdoptionApproved {
            user: &observed.users[0]
        }
    );
    // An approval of another id does not adopt this one, and says so.
    let other = unrecorded_account("ana").with_ownership(None, Some(user_id("zed")));
    let conflict = conflict_of(classify(&other, &observed, &admin()));
    assert_eq!(conflict.kind, ConflictKind::NotCreatedByService);
    assert!(
        conflict
            .reason
            .ends_with("; the adoption an operator approved was for user id u-zed"),
        "{}",
        conflict.reason
    );
}

#[test]
fn super_admins_and_administrators_are_conflicts_whatever_the_record() {
    let (ana, mut observed) = setup();
    observed.users[0].is_super_admin = true;
    let conflict = conflict_of(classify(&ana, &observed, &admin()));
    assert_eq!(conflict.kind, ConflictKind::SuperAdmin);
    assert_eq!(
        conflict.reason,
        "ana@reseller.example exists (user id u-ana) and is a super administrator: support-access never changes a super administrator"
    );
    assert!(
        conflict
            .what_to_do
            .ends_with("; support-access then manages it again"),
        "{}",
        conflict.what_to_do
    );
    let adopting = ana.clone().with_ownership(None, Some(user_id("ana")));
    assert_eq!(
        conflict_of(classify(&adopting, &observed, &admin())).kind,
        ConflictKind::SuperAdmin
    );

    observed.users[0].is_super_admin = false;
    observed.users[0].is_delegated_admin = true;
    let conflict = conflict_of(classify(&ana, &observed, &admin()));
    assert_eq!(conflict.kind, ConflictKind::DelegatedAdmin);
    assert!(conflict.reason.contains(
        "administers reseller.example through an admin role that does not open the portal"
    ));
    assert_eq!(
        conflict_of(classify(&unrecorded_account("ana"), &observed, &admin())).kind,
        ConflictKind::DelegatedAdmin
    );
}

#[test]
fn the_delegated_admin_address_is_never_a_support_account() {
    let (ana, observed) = setup();
    let conflict = conflict_of(classify(&ana, &observed, &email("ana@reseller.example")));
    assert_eq!(conflict.kind, ConflictKind::DelegatedAdmin);
    assert!(
        conflict
            .reason
            .starts_with("ana@reseller.example is the delegated admin of reseller.example")
    );
    // Even when nothing is there: it must never be created.
    let conflict = conflict_of(classify(
        &ana,
        &fresh_observation(),
        &email("ana@reseller.example"),
    ));
    assert_eq!(conflict.user_id, None);
}

#[test]
fn paid_license_blocks_rediscovery_and_adoption_but_not_an_owned_account() {
    let (ana, mut observed) = setup();
    observed.paid_licenses.push(LicenseAssignment {
        sku: Sku::new("Google-Apps", "1010020028"),
        user: email("ana@reseller.example"),
    });
    // Owned: the planner removes the license automatic licensing added.
    assert!(classify(&ana, &observed, &admin()).is_owned());
    let conflict = conflict_of(classify(&unrecorded_account("ana"), &observed, &admin()));
    assert_eq!(conflict.kind, ConflictKind::PaidLicense);
    assert_eq!(
        conflict.reason,
        "ana@reseller.example exists (user id u-ana) and holds the paid Google Workspace license(s) Google-Apps/1010020028 although it carries the support-access marker of staff member ana: it looks like someone's working account"
    );
    observed.users[0].marker = None;
    let adopting = unrecorded_account("ana").with_ownership(None, Some(user_id("ana")));
    let conflict = conflict_of(classify(&adopting, &observed, &admin()));
    assert_eq!(conflict.kind, ConflictKind::PaidLicense);
    assert!(
        conflict
            .reason
            .contains("although an operator approved adopting it")
    );
}

#[test]
fn an_alias_of_another_user_is_a_conflict() {
    let (ana, mut observed) = setup();
    observed.users[0].email = email("ana.silva@reseller.example");
    observed.users[0].id = UserId::new("u-other");
    observed.users[0].aliases = vec!["ana@reseller.example".into()];
    let conflict = conflict_of(classify(&ana, &observed, &admin()));
    assert_eq!(
        conflict.kind,
        ConflictKind::AliasOfAnotherUser {
            primary: "ana.silva@reseller.example".into()
        }
    );
    assert_eq!(
        conflict.reason,
        "ana@reseller.example is an alias of ana.silva@reseller.example (user id u-other): Google delivers its mail to that account, so no support account can have this address"
    );
    assert!(
        conflict
            .what_to_do
            .contains("remove the alias ana@reseller.example from ana.silva@reseller.example")
    );
}

#[test]
fn a_renamed_owned_account_is_a_conflict_not_a_new_account() {
    let (ana, mut observed) = setup();
    observed.users[0].email = email("ana.silva@reseller.example");
    observed.users[0].aliases = vec!["ana@reseller.example".into()];
    let conflict = conflict_of(classify(&ana, &observed, &admin()));
    assert!(
        conflict.reason.contains("was renamed"),
        "{}",
        conflict.reason
    );
    assert!(
        conflict
            .what_to_do
            .starts_with("rename ana.silva@reseller.example back to ana@reseller.example")
    );
    // Without the alias Google usually keeps.
    observed.users[0].aliases.clear();
    let conflict = conflict_of(classify(&ana, &observed, &admin()));
    assert_eq!(
        conflict.kind,
        ConflictKind::Renamed {
            primary: "ana.silva@reseller.example".into()
        }
    );
}

#[test]
fn another_id_at_the_address_is_a_different_account() {
    let (ana, mut observed) = setup();
    observed.users[0].id = UserId::new("u-new");
    observed.users[0].marker = None;
    let conflict = conflict_of(classify(&ana, &observed, &admin()));
    assert_eq!(
        conflict.kind,
        ConflictKind::DifferentAccount {
            expected: user_id("ana"),
            found: UserId::new("u-new")
        }
    );
    assert_eq!(
        conflict.reason,
        "ana@reseller.example is user id u-new, not the account support-access owns for staff member ana (user id u-ana): the address now belongs to another account"
    );
    // Even with our marker (a copy, or a second account): the record wins.
    observed.users[0].marker = Some(marker_value(&staff("ana")));
    assert!(matches!(
        conflict_of(classify(&ana, &observed, &admin())).kind,
        ConflictKind::DifferentAccount { .. }
    ));
    // An operator may approve the new one.
    let approved = ana
        .clone()
        .with_ownership(Some(user_id("ana")), Some(UserId::new("u-new")));
    assert!(matches!(
        classify(&approved, &observed, &admin()),
        AccountOwnership::AdoptionApproved { .. }
    ));
}

#[test]
fn a_removed_marker_is_a_conflict_with_the_way_back() {
    let (ana, mut observed) = setup();
    observed.users[0].marker = None;
    let conflict = conflict_of(classify(&ana, &observed, &admin()));
    assert_eq!(conflict.kind, ConflictKind::MarkerMissing);
    assert_eq!(
        conflict.reason,
        "ana@reseller.example (user id u-ana) is the account support-access owns for staff member ana, but its support-access marker (externalIds entry of custom type support-access, value staffMembers/ana) was removed"
    );
    assert!(
        conflict
            .what_to_do
            .starts_with("restore the marker by hand")
    );
    // Confirming it through AdoptSupportAccount marks it again.
    let approved = ana
        .clone()
        .with_ownership(Some(user_id("ana")), Some(user_id("ana")));
    assert!(matches!(
        classify(&approved, &observed, &admin()),
        AccountOwnership::AdoptionApproved { .. }
    ));
}

#[test]
fn the_marker_of_another_staff_member_is_a_conflict() {
    let (ana, mut observed) = setup();
    observed.users[0].marker = Some("staffMembers/bo".into());
    for account in [
        ana.clone(),
        unrecorded_account("ana"),
        unrecorded_account("ana").with_ownership(None, Some(user_id("ana"))),
    ] {
        let conflict = conflict_of(classify(&account, &observed, &admin()));
        assert_eq!(
            conflict.kind,
            ConflictKind::MarkerOfAnotherStaffMember {
                marker: "staffMembers/bo".into()
            }
        );
        assert!(conflict.reason.contains(
            "carries the support-access marker of staffMembers/bo, not staffMembers/ana"
        ));
    }
}

#[test]
fn conflict_kinds_serialize_with_their_names() {
    let kind = ConflictKind::DifferentAccount {
        expected: UserId::new("1"),
        found: UserId::new("2"),
    };
    assert_eq!(
        serde_json::to_value(&kind).unwrap(),
        serde_json::json!({"kind": "DIFFERENT_ACCOUNT", "expected": "1", "found": "2"})
    );
    assert_eq!(kind.as_str(), "DIFFERENT_ACCOUNT");
    assert_eq!(
        serde_json::to_value(ConflictKind::NotCreatedByService).unwrap(),
        serde_json::json!({"kind": "NOT_CREATED_BY_SERVICE"})
    );
}
