//! The journal of a claimed domain: matching journaled steps with a fresh plan, appending new
//! ones, and closing the ones the plan no longer needs.

use super::*;

/// The key of a journaled step (from its payload), to match it with a fresh plan.
pub(super) fn journal_key(record: &StepRecord) -> Option<String> {
    serde_json::from_value::<Step>(record.payload.clone())
        .ok()
        .map(|s| s.key())
}

pub(super) fn is_open(state: StepState) -> bool {
    matches!(state, StepState::Pending | StepState::Running)
}

/// Open journal steps that the fresh plan no longer needs: their effect is in Google (a worker
/// died after Google applied it, before journaling it), or it became unnecessary. A running one
/// is "confirmed by observation" only when the observation shows its effect.
pub(super) async fn confirm_vanished_steps(
    conn: &mut sqlx::PgConnection,
    lease: &Lease,
    journal: &[StepRecord],
    planned_keys: &BTreeSet<String>,
    observed: &support_access_domain::observed::ObservedDomain,
    access: &support_access_domain::access::AccessConfig,
) -> Result<(), Interrupted> {
    for record in journal.iter().filter(|r| is_open(r.state)) {
        if journal_key(record).is_some_and(|k| planned_keys.contains(&k)) {
            continue;
        }
        let landed = serde_json::from_value::<Step>(record.payload.clone())
            .is_ok_and(|step| confirm::effect_observed(&step, observed, access));
        let (state, detail) = if record.state == StepState::Running && landed {
            (
                StepState::Done,
                "confirmed by observation: Google already shows the effect",
            )
        } else if record.state == StepState::Running {
            (
                StepState::Skipped,
                "no longer needed: the plan changed and Google does not show this step's effect",
            )
        } else {
            (
                StepState::Skipped,
                "not needed: Google already shows the desired state",
            )
        };
        operations::record_step(
            conn,
            lease,
            record.seq,
            &StepUpdate {
                state,
                detail,
                google_effect: None,
                add_attempts: 0,
            },
        )
        .await?;
    }
    Ok(())
}

/// Journals a batch: open journal rows with the same key are reused (a resumed claim), the rest
/// are appended. Returns (seq, attempts so far, step) for each.
pub(super) async fn journal_batch(
    conn: &mut sqlx::PgConnection,
    lease: &Lease,
    journal: &[StepRecord],
    batch: &[PlannedStep],
) -> Result<Vec<(i32, i32, PlannedStep)>, Interrupted> {
    let open: HashMap<String, &StepRecord> = journal
        .iter()
        .filter(|r| is_open(r.state))
        .filter_map(|r| Some((journal_key(r)?, r)))
        .collect();
    let mut out = Vec::with_capacity(batch.len());
    let mut new_steps = Vec::new();
    let mut new_planned = Vec::new();
    for planned in batch {
        match open.get(&planned.step.key()) {
            Some(record) => out.push((record.seq, record.attempts, planned.clone())),
            None => {
                new_steps.push(NewStep {
                    domain_name: lease.domain_name.clone(),
                    account_email: planned.step.account().map(|a| a.as_str().to_owned()),
                    staff_member_id: planned.staff_member.as_ref().map(|s| s.as_str().to_owned()),
                    action: step_action(planned.step.kind()),
                    reason: planned.reason.clone(),
                    payload: serde_json::to_value(&planned.step).expect("steps serialize"),
                    state: StepState::Pending,
                    detail: String::new(),
                });
                new_planned.push(planned.clone());
            }
        }
    }
    if !new_steps.is_empty() {
        let records = operations::append_steps(conn, lease, &new_steps).await?;
        for (record, planned) in records.into_iter().zip(new_planned) {
            out.push((record.seq, 0, planned));
        }
    }
    Ok(out)
}

/// Fails every open step of the leased domain with `detail`.
pub(super) async fn fail_open_steps(
    conn: &mut sqlx::PgConnection,
    lease: &Lease,
    detail: &str,
) -> Result<(), Interrupted> {
    let journal = operations::domain_steps(conn, lease.operation_id, &lease.domain_name).await?;
    for record in journal.iter().filter(|r| is_open(r.state)) {
        operations::record_step(
            conn,
            lease,
            record.seq,
            &StepUpdate {
                state: StepState::Failed,
                detail,
                google_effect: None,
                add_attempts: 0,
            },
        )
        .await?;
    }
    Ok(())
}
