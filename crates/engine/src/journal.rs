//! The journal of a claimed domain as one type, [`Journal`]: every read and write of the
//! domain's steps goes through it, fenced by the claim's lease: reading the steps, matching them
//! with a fresh plan, appending new ones, starting and finishing a step, closing the ones the
//! plan no longer needs, and recording what became of the accounts no step tells about.

use super::*;

/// The journal of the domain a lease holds.
#[derive(Clone, Copy)]
pub(crate) struct Journal<'a> {
    lease: &'a Lease,
}

/// The key of a journaled step (from its payload), to match it with a fresh plan.
fn journal_key(record: &StepRecord) -> Option<String> {
    record.payload.parse::<Step>().ok().map(|s| s.key())
}

fn is_open(state: StepState) -> bool {
    matches!(state, StepState::Pending | StepState::Running)
}

impl<'a> Journal<'a> {
    /// The journal of the domain `lease` holds.
    pub(crate) fn of(lease: &'a Lease) -> Self {
        Journal { lease }
    }

    /// Every step journaled for the domain in this operation, in order.
    pub(crate) async fn steps(
        &self,
        conn: &mut sqlx::PgConnection,
    ) -> Result<Vec<StepRecord>, Interrupted> {
        Ok(
            operations::domain_steps(conn, self.lease.operation_id, &self.lease.domain_name)
                .await?,
        )
    }

    /// Journals step `seq` as RUNNING (one more attempt), only while the lease outlives
    /// `min_remaining` and the operation is not cancelled.
    pub(crate) async fn start_step(
        &self,
        conn: &mut sqlx::PgConnection,
        seq: i32,
        min_remaining: Duration,
    ) -> Result<StepStart, Interrupted> {
        Ok(operations::start_step(conn, self.lease, seq, min_remaining).await?)
    }

    /// Journals where step `seq` stands now, with what it did in Google when it is done
    /// (attempts are counted when a step starts, not here).
    pub(crate) async fn finish_step(
        &self,
        conn: &mut sqlx::PgConnection,
        seq: i32,
        state: StepState,
        detail: &str,
        effect: Option<&StepEffect>,
    ) -> Result<StepRecord, Interrupted> {
        let effect = effect.map(|e| serde_json::to_value(e).expect("effects serialize"));
        Ok(operations::record_step(
            conn,
            self.lease,
            seq,
            &StepUpdate {
                state,
                detail,
                google_effect: effect.as_ref(),
                add_attempts: 0,
            },
        )
        .await?)
    }

    /// Open journal steps that the fresh plan no longer needs: their effect is in Google (a
    /// worker died after Google applied it, before journaling it), or it became unnecessary. A
    /// running one is "confirmed by observation" only when the observation shows its effect.
    pub(crate) async fn confirm_vanished_steps(
        &self,
        conn: &mut sqlx::PgConnection,
        journal: &[StepRecord],
        planned_keys: &BTreeSet<String>,
        observed: &support_access_domain::observed::ObservedDomain,
        access: &support_access_domain::access::AccessConfig,
    ) -> Result<(), Interrupted> {
        for record in journal.iter().filter(|r| is_open(r.state)) {
            if journal_key(record).is_some_and(|k| planned_keys.contains(&k)) {
                continue;
            }
            let landed = record
                .payload
                .parse::<Step>()
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
            self.finish_step(conn, record.seq, state, detail, None)
                .await?;
        }
        Ok(())
    }

    /// Journals a batch: open journal rows with the same key are reused (a resumed claim), the
    /// rest are appended. Returns (seq, attempts so far, step) for each.
    pub(crate) async fn append_batch(
        &self,
        conn: &mut sqlx::PgConnection,
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
                        domain_name: self.lease.domain_name.clone(),
                        account_email: planned.step.account().map(|a| a.as_str().to_owned()),
                        staff_member_id: planned
                            .staff_member
                            .as_ref()
                            .map(|s| s.as_str().to_owned()),
                        action: planned.step.kind(),
                        reason: planned.reason.clone(),
                        payload: RawJson::of(&planned.step).expect("steps serialize"),
                        state: StepState::Pending,
                        detail: String::new(),
                    });
                    new_planned.push(planned.clone());
                }
            }
        }
        if !new_steps.is_empty() {
            let seqs = operations::append_steps(conn, self.lease, &new_steps).await?;
            for (seq, planned) in seqs.into_iter().zip(new_planned) {
                out.push((seq, 0, planned));
            }
        }
        Ok(out)
    }

    /// Fails every open step of the domain with `detail`.
    pub(crate) async fn fail_open_steps(
        &self,
        conn: &mut sqlx::PgConnection,
        detail: &str,
    ) -> Result<(), Interrupted> {
        let journal = self.steps(conn).await?;
        for record in journal.iter().filter(|r| is_open(r.state)) {
            self.finish_step(conn, record.seq, StepState::Failed, detail, None)
                .await?;
        }
        Ok(())
    }

    /// Marks every open step of the domain cancelled with `detail`.
    pub(crate) async fn cancel_open_steps(
        &self,
        conn: &mut sqlx::PgConnection,
        detail: &str,
    ) -> Result<(), Interrupted> {
        operations::cancel_open_steps(conn, self.lease, detail).await?;
        Ok(())
    }

    /// Records what became of the accounts no step tells about (`verdicts` by address).
    pub(crate) async fn record_account_results(
        &self,
        conn: &mut sqlx::PgConnection,
        verdicts: &BTreeMap<String, serde_json::Value>,
    ) -> Result<(), Interrupted> {
        operations::record_account_results(conn, self.lease, verdicts).await?;
        Ok(())
    }
}
