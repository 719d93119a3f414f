//! Google's propagation of a new user, against the emulator's `realistic` profile: Licensing and
//! role assignment answer 412, 400 "Invalid Input: resource_id", 400 naming `userId` or 403 until
//! they see the user; the adapter waits them out with Google's backoff, within a budget counted
//! from the user's creation, and takes the same answers at their word once the budget is spent
//! (a real permission error is never retried forever).

mod common;

use std::time::{Duration, Instant};

use common::{Harness, RESELLER_ONE, RESELLER_TWO, new_user};
use support_access_emulator::{FaultAction, FaultRule, Profile, Seed};
use support_access_google::model::*;
use support_access_google::products::GOOGLE_WORKSPACE_PRODUCT;
use support_access_google::{ErrorClass, GoogleConfig, PropagationRetry};

const BUSINESS_STANDARD: &str = "1010020028";

fn budget(config: &mut GoogleConfig, budget: Duration) {
    config.propagation = PropagationRetry {
        budget,
        first_wait: Duration::from_millis(20),
        max_wait: Duration::from_millis(100),
        jitter: Duration::from_millis(20),
    };
}

fn not_authorized(method: &str) -> FaultRule {
    FaultRule {
        method: method.to_owned(),
        customer: None,
        probability: 1.0,
        skip: 0,
        times: None,
        action: FaultAction::Error {
            code: 403,
            reason: "forbidden".to_owned(),
            message: "Not Authorized to access this resource/api".to_owned(),
        },
    }
}

async fn reseller_admin_role(google: &support_access_google::DomainClient) -> String {
    google
        .roles_list()
        .collect_all()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.role_name == "_RESELLER_ADMIN_ROLE")
        .unwrap()
        .role_id
}

#[tokio::test]
async fn a_new_user_is_licensed_and_assigned_through_googles_propagation_errors() {
    let h = Harness::start(Seed::demo(), |c| budget(c, Duration::from_secs(20))).await;
    // A 50× time scale: licensing median 160 ms, p95 1.2 s, cap 6 s.
    h.emulator.update_knobs(|k| {
        k.profile = Profile::Realistic;
        k.propagation.time_scale = 50.0;
        k.propagation.rng_seed = Some(11);
    });
    let google = h.domain(RESELLER_TWO).await;
    let role_id = reseller_admin_role(&google).await;
    let mut emails = Vec::new();
    for n in 0..6 {
        let user = google
            .users_insert(&new_user(&format!("staff{n}"), RESELLER_TWO))
            .await
            .unwrap();
        emails.push((user.primary_email, user.id));
    }
    for (email, id) in &emails {
        google
            .license_assignments_insert(GOOGLE_WORKSPACE_PRODUCT, BUSINESS_STANDARD, email)
            .await
            .unwrap_or_else(|e| panic!("license for {email}: {e}"));
        google
            .role_assignments_insert(&NewRoleAssignment {
                role_id: role_id.clone(),
                assigned_to: id.clone(),
                scope_type: ScopeType::Customer,
                org_unit_id: None,
            })
            .await
            .unwrap_or_else(|e| panic!("role for {email}: {e}"));
    }
    let counters = h.emulator.counters();
    let transient: u64 = counters
        .outcomes
        .iter()
        .filter(|(key, _)| {
            (key.starts_with("licensing.licenseAssignments.insert ")
                || key.starts_with("directory.roleAssignments.insert "))
                && !key.ends_with(" 200")
        })
        .map(|(_, n)| *n)
        .sum();
    assert!(
        transient > 0,
        "the profile produced no transient error: {:?}",
        counters.outcomes
    );
    // Each landed once, and waiting cost a bounded number of calls (backoff, not a hot loop).
    for (email, _) in &emails {
        assert_eq!(
            counters.effects_by_key
                [&format!("licenseAssignment created Google-Apps/1010020028/{email}")],
            1
        );
    }
    let license_calls = counters.calls_by_method["licensing.licenseAssignments.insert"];
    assert!(
        license_calls <= 6 * 12,
        "{license_calls} license calls for 6 users"
    );
}

#[tokio::test]
async fn a_real_permission_error_is_retried_only_within_the_budget() {
    let h = Harness::start(Seed::demo(), |c| budget(c, Duration::from_millis(800))).await;
    h.emulator
        .update_knobs(|k| k.faults = vec![not_authorized("licensing.licenseAssignments.insert")]);
    let google = h.domain(RESELLER_ONE).await;
    let user = google
        .users_insert(&new_user("denied", RESELLER_ONE))
        .await
        .unwrap();
    let created = Instant::now();

    // Right after the create it might be propagation: retried, then settled as what it says.
    let started = Instant::now();
    let error = google
        .license_assignments_insert(
            GOOGLE_WORKSPACE_PRODUCT,
            BUSINESS_STANDARD,
            &user.primary_email,
        )
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(error.class(), &ErrorClass::PermissionDenied, "{error}");
    assert!(error.attempts() > 2, "{error}");
    assert!(
        took < Duration::from_secs(2),
        "bounded by the budget: {took:?}"
    );
    assert!(error.message().contains("still refused"), "{error}");
    assert!(
        error.message().contains("admin@reseller-one.example"),
        "the permission hint survives: {error}"
    );

    // Past the budget, the same answer is a permission error at once. (The first call gives up
    // as soon as its next wait would overrun the budget, so the budget may not be over yet.)
    tokio::time::sleep(Duration::from_millis(800).saturating_sub(created.elapsed())).await;
    let error = google
        .license_assignments_insert(
            GOOGLE_WORKSPACE_PRODUCT,
            BUSINESS_STANDARD,
            &user.primary_email,
        )
        .await
        .unwrap_err();
    assert_eq!(
        (error.class(), error.attempts()),
        (&ErrorClass::PermissionDenied, 1),
        "{error}"
    );

    // About a user this process did not create, too.
    let error = google
        .license_assignments_insert(
            GOOGLE_WORKSPACE_PRODUCT,
            BUSINESS_STANDARD,
            "sales@reseller-one.example",
        )
        .await
        .unwrap_err();
    assert_eq!(
        (error.class(), error.attempts()),
        (&ErrorClass::PermissionDenied, 1),
        "{error}"
    );
}

#[tokio::test]
async fn each_propagation_answer_is_not_yet_consistent_only_for_a_new_user() {
    let cases = [
        (
            "licensing.licenseAssignments.insert",
            412,
            "conditionNotMet",
            "Precondition Failed",
            ErrorClass::Invalid,
        ),
        (
            "licensing.licenseAssignments.insert",
            400,
            "invalid",
            "Invalid Input: userId",
            ErrorClass::Invalid,
        ),
        (
            "directory.roleAssignments.insert",
            400,
            "invalid",
            "Invalid Input: resource_id",
            ErrorClass::Invalid,
        ),
        (
            "directory.roleAssignments.insert",
            403,
            "forbidden",
            "Not Authorized to access this resource/api",
            ErrorClass::PermissionDenied,
        ),
    ];
    for (method, code, reason, message, settled) in cases {
        let h = Harness::start(Seed::demo(), |c| {
            budget(c, Duration::from_secs(30));
            c.retry.max_attempts = 1;
        })
        .await;
        h.emulator.update_knobs(|k| {
            k.faults = vec![FaultRule {
                action: FaultAction::Error {
                    code,
                    reason: reason.to_owned(),
                    message: message.to_owned(),
                },
                ..not_authorized(method)
            }]
        });
        let google = h.domain(RESELLER_ONE).await;
        let role_id = reseller_admin_role(&google).await;
        let fresh = google
            .users_insert(&new_user("fresh", RESELLER_ONE))
            .await
            .unwrap();
        let old = google
            .users_get("sales@reseller-one.example")
            .await
            .unwrap();
        let call = |user: &User| {
            let google = google.clone();
            let role_id = role_id.clone();
            let user = user.clone();
            async move {
                if method.starts_with("licensing") {
                    google
                        .license_assignments_insert(
                            GOOGLE_WORKSPACE_PRODUCT,
                            BUSINESS_STANDARD,
                            &user.primary_email,
                        )
                        .await
                        .map(|_| ())
                } else {
                    google
                        .role_assignments_insert(&NewRoleAssignment {
                            role_id,
                            assigned_to: user.id,
                            scope_type: ScopeType::Customer,
                            org_unit_id: None,
                        })
                        .await
                        .map(|_| ())
                }
            }
        };
        let error = call(&fresh).await.unwrap_err();
        assert_eq!(
            error.class(),
            &ErrorClass::NotYetConsistent,
            "{method} {code} for a new user: {error}"
        );
        let error = call(&old).await.unwrap_err();
        assert_eq!(
            error.class(),
            &settled,
            "{method} {code} for an old user: {error}"
        );
    }
}

#[tokio::test]
async fn a_user_noted_as_new_gets_the_same_patience_in_another_client() {
    let h = Harness::start(Seed::demo(), |c| {
        budget(c, Duration::from_secs(30));
        c.retry.max_attempts = 1;
    })
    .await;
    let creator = h.domain(RESELLER_ONE).await;
    let user = creator
        .users_insert(&new_user("handed-over", RESELLER_ONE))
        .await
        .unwrap();
    h.emulator
        .update_knobs(|k| k.faults = vec![not_authorized("licensing.licenseAssignments.insert")]);
    // Another client (another worker, or this one after a restart) knows nothing of the user.
    let other = h.domain(RESELLER_ONE).await;
    let license = || {
        other.license_assignments_insert(
            GOOGLE_WORKSPACE_PRODUCT,
            BUSINESS_STANDARD,
            &user.primary_email,
        )
    };
    assert_eq!(
        license().await.unwrap_err().class(),
        &ErrorClass::PermissionDenied
    );
    let fetched = other.users_get(&user.primary_email).await.unwrap();
    assert!(fetched.creation_time.is_some());
    other.note_user_created(&fetched);
    assert_eq!(
        license().await.unwrap_err().class(),
        &ErrorClass::NotYetConsistent
    );
}
