//! The plan of one pass, the same for every caller: the worker of each operation kind and
//! `validate_only` call [`plan_pass`] with the desired state built from the stored decisions and
//! one observation, so the plan an operator is shown is the plan that runs.
//!
//! - PROVISION converges the ACTIVE accounts; REVOKED ones are left alone and said so.
//! - REVOKE takes access away from the REVOKED accounts, each as its own decision says; only
//!   owned accounts get steps, the others are conflicts.
//! - RECONCILE finds the drift, and (policy `REPAIR`) converges the ACTIVE accounts and re-applies
//!   the revocations that someone undid.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use support_access_domain::desired::DesiredDomain;
use support_access_domain::drift::{Drift, detect_drift};
use support_access_domain::lifecycle::OperationKind;
use support_access_domain::observed::ObservedDomain;
use support_access_domain::ownership::classify as classify_ownership;
use support_access_domain::plan::{BlockerKind, PlannedStep, PlannerConfig, plan_domain};
use support_access_domain::revoke::plan_revoked_accounts;
use support_access_store::domains::RepairPolicy;

/// What one pass is to do, and what it found.
#[derive(Debug, Default)]
pub struct PassPlan {
    /// The steps, in plan order.
    pub steps: Vec<PlannedStep>,
    /// Why the whole domain cannot go on (a person must act), if it cannot.
    pub blocked: Option<String>,
    /// Findings for the operator.
    pub notes: Vec<String>,
    /// Per account e-mail, what became of accounts that no step tells about:
    /// `{"result": CONFLICT|BLOCKED|SKIPPED_REVOKED, "detail": …}`.
    pub verdicts: BTreeMap<String, Value>,
    /// The drift found (reconciliation only).
    pub drift: Vec<Drift>,
}

/// The plan of one pass of an operation of `kind`.
pub fn plan_pass(
    kind: OperationKind,
    desired: &DesiredDomain,
    observed: &ObservedDomain,
    planner: &PlannerConfig,
    repair_policy: RepairPolicy,
) -> PassPlan {
    let access = &planner.access;
    let domain_plan = plan_domain(desired, observed, planner);
    let mut pass = PassPlan::default();
    for blocker in &domain_plan.blockers {
        if let Some(account) = &blocker.account {
            let result = if matches!(blocker.kind, BlockerKind::Conflict { .. }) {
                "CONFLICT"
            } else {
                "BLOCKED"
            };
            pass.verdicts.insert(
                account.as_str().to_owned(),
                json!({ "result": result, "detail": blocker.to_string() }),
            );
        }
    }
    match kind {
        OperationKind::Provision => {
            for (account, _) in desired.revoked() {
                pass.verdicts.insert(
                    account.email().as_str().to_owned(),
                    json!({
                        "result": "SKIPPED_REVOKED",
                        "detail": format!("access of staff member {} was revoked: provisioning leaves {} alone; RegrantSupportAccess gives it back", account.staff_member(), account.email()),
                    }),
                );
            }
            pass.blocked = domain_plan.blocked_message();
            pass.notes = domain_plan.notes;
            pass.steps = domain_plan.steps;
        }
        OperationKind::Revoke => {
            let plan = plan_revoked_accounts(desired, observed, access);
            for (account, _) in desired.revoked() {
                if let Some(conflict) =
                    classify_ownership(account, observed, desired.delegated_admin()).conflict()
                {
                    pass.verdicts.insert(
                        account.email().as_str().to_owned(),
                        json!({ "result": "CONFLICT", "detail": conflict.to_string() }),
                    );
                }
            }
            // Nothing can be revoked without a usable admin: that must not read as done.
            pass.blocked = (!observed.admin_is_usable())
                .then(|| domain_plan.blocked_message())
                .flatten();
            pass.notes = plan.notes;
            pass.steps = plan.steps;
        }
        OperationKind::Reconcile => {
            pass.drift = detect_drift(desired, observed, access);
            if repair_policy == RepairPolicy::Repair {
                let revocations = plan_revoked_accounts(desired, observed, access);
                pass.blocked = domain_plan.blocked_message();
                pass.steps = domain_plan.steps;
                pass.steps.extend(revocations.steps);
            }
        }
    }
    pass
}
