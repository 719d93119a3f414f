//! One claim of a domain: passes of observe → plan ([`super::pipeline`]) → act until a pass plans
//! nothing, over the decisions as Postgres holds them at each pass, with the bounds that keep a
//! domain from being retried forever.

use super::chains::{LICENSE_PHASE, phase};
use super::journal::Journal;
use super::*;

impl Engine {
    pub(super) async fn run_claim(
        &self,
        lease: &Lease,
        guard: &Arc<lease::LeaseGuard>,
    ) -> Result<ClaimEnd, Interrupted> {
        let mut conn = self.store.pool().acquire().await?;
        let Some(operation) = operations::get(&mut conn, lease.operation_id).await? else {
            return Ok(ClaimEnd::Finished(
                RunState::Failed,
                "the operation no longer exists".into(),
            ));
        };
        if operation.cancel_requested {
            return Err(Interrupted::Cancelled);
        }
        let request: OperationRequest = match serde_json::from_value(operation.request.clone()) {
            Ok(request) => request,
            Err(e) => {
                return Ok(ClaimEnd::Finished(
                    RunState::Failed,
                    format!("unreadable request: {e}"),
                ));
            }
        };
        let Some(record) = domains::get(&mut conn, &lease.domain_name).await? else {
            let message = "the domain was deleted while the operation ran".to_owned();
            Journal::of(lease)
                .fail_open_steps(&mut conn, &message)
                .await?;
            return Ok(ClaimEnd::Finished(RunState::Failed, message));
        };
        if lease.claims > self.config.max_claims {
            let last = operations::domains(&mut conn, lease.operation_id)
                .await?
                .into_iter()
                .find(|d| d.domain_name == lease.domain_name)
                .map(|d| d.message)
                .unwrap_or_default();
            let message = format!(
                "gave up after {} attempts to bring the domain about; the last one ended with: {last}",
                lease.claims - 1
            );
            Journal::of(lease)
                .fail_open_steps(&mut conn, &message)
                .await?;
            return Ok(ClaimEnd::Finished(RunState::Failed, message));
        }
        let client = match self.google.domain(&record).await {
            // Every request of this claim is sent only under the claim's lease.
            Ok(client) => client.guarded(guard.clone()),
            Err(e) => {
                let message = e.to_string();
                Journal::of(lease)
                    .fail_open_steps(&mut conn, &message)
                    .await?;
                return Ok(ClaimEnd::Finished(RunState::Failed, message));
            }
        };
        let confirmations = desired::confirmations(&mut conn, &record.domain_name).await?;
        drop(conn);

        // Accounts that cannot go on in this operation, with why.
        let mut failed_accounts: BTreeMap<String, String> = BTreeMap::new();
        let mut notes: Vec<String> = Vec::new();
        for pass in 0..self.config.max_passes {
            // The decisions are read again every pass: a revocation decided while this
            // operation runs takes effect at once, and is never undone by it.
            let desired = {
                let mut conn = self.store.pool().acquire().await?;
                match desired::from_decisions(
                    &mut conn,
                    &record,
                    operation.kind,
                    &request.staff_members,
                )
                .await
                {
                    Ok(desired) => desired,
                    Err(desired::DesiredError::Store(e)) => return Err(e.into()),
                    Err(desired::DesiredError::Invalid(message)) => {
                        Journal::of(lease)
                            .fail_open_steps(&mut conn, &message)
                            .await?;
                        return Ok(ClaimEnd::Finished(RunState::Failed, message));
                    }
                }
            };
            let observed = match observe::observe_domain(
                &client,
                &desired,
                confirmations.clone(),
                &self.config.planner.access,
            )
            .await
            {
                Ok(observed) => observed,
                Err(error) => match execute::classify(error) {
                    StepFailure::NotSent(_) => return Err(not_sent(guard)),
                    StepFailure::Retry { detail, after } => {
                        return Ok(ClaimEnd::RetryLater(
                            format!("observing Google: {detail}"),
                            after,
                        ));
                    }
                    StepFailure::Account(detail)
                    | StepFailure::SeatsExhausted(detail)
                    | StepFailure::Domain(detail) => {
                        let mut conn = self.store.pool().acquire().await?;
                        Journal::of(lease)
                            .fail_open_steps(&mut conn, &detail)
                            .await?;
                        return Ok(ClaimEnd::Finished(RunState::Failed, detail));
                    }
                },
            };
            self.remember_observation(&record, &client, &observed).await;
            self.record_discovered_ownership(lease, &desired, &observed)
                .await?;

            let pass_plan = pipeline::plan_pass(
                operation.kind,
                &desired,
                &observed,
                &self.config.planner,
                record.repair_policy,
            );
            // A reconciliation records drift every pass, before the pass repairs it: a change
            // made behind the service's back while it runs is not lost.
            if operation.kind == OperationKind::Reconcile {
                self.record_drift(&record.domain_name, &pass_plan.drift)
                    .await?;
            }
            push_new(&mut notes, &pass_plan.notes);
            let (steps, blocked, drift) = (pass_plan.steps, pass_plan.blocked, pass_plan.drift);
            let mut verdicts = pass_plan.verdicts;

            let mut conn = self.store.pool().acquire().await?;
            let journal_of_domain = Journal::of(lease);
            let journal = journal_of_domain.steps(&mut conn).await?;
            let planned_keys: BTreeSet<String> = steps.iter().map(|s| s.step.key()).collect();
            journal_of_domain
                .confirm_vanished_steps(
                    &mut conn,
                    &journal,
                    &planned_keys,
                    &observed,
                    &self.config.planner.access,
                )
                .await?;

            // Accounts that failed for good in this operation (in this claim or an earlier
            // one) are not tried again: a person has to act first.
            for record in journal.iter().filter(|r| r.state == StepState::Failed) {
                if let Some(account) = &record.account_email {
                    failed_accounts
                        .entry(account.clone())
                        .or_insert_with(|| record.detail.clone());
                }
            }
            let runnable: Vec<PlannedStep> = steps
                .into_iter()
                .filter(|s| {
                    s.step
                        .account()
                        .is_none_or(|a| !failed_accounts.contains_key(a.as_str()))
                })
                .collect();
            let converged = blocked.is_none() && runnable.is_empty();
            if converged {
                // Every account the operation worked towards that nothing else is said of is
                // as desired now: Google shows it after this last observation.
                let worked_on: Vec<&support_access_domain::desired::DesiredAccount> =
                    match operation.kind {
                        OperationKind::Revoke => desired
                            .revoked()
                            .iter()
                            .map(|(account, _)| account)
                            .collect(),
                        _ => desired.accounts().iter().collect(),
                    };
                for account in worked_on {
                    let email = account.email().as_str();
                    if !failed_accounts.contains_key(email) {
                        verdicts
                            .entry(email.to_owned())
                            .or_insert_with(|| serde_json::json!({ "result": "DONE" }));
                    }
                }
            }
            journal_of_domain
                .record_account_results(
                    &mut conn,
                    &serde_json::Value::Object(verdicts.clone().into_iter().collect()),
                )
                .await?;
            if let Some(message) = blocked {
                Journal::of(lease)
                    .fail_open_steps(&mut conn, &message)
                    .await?;
                return Ok(ClaimEnd::Finished(RunState::Failed, message));
            }
            if converged {
                // Conflicts and blockers need a person, like failed accounts; a reconciliation
                // reports them as drift and status instead of failing.
                let needs_person: Vec<String> = if operation.kind == OperationKind::Reconcile {
                    Vec::new()
                } else {
                    verdicts
                        .iter()
                        .filter(|(_, v)| {
                            matches!(v["result"].as_str(), Some("CONFLICT" | "BLOCKED"))
                        })
                        .map(|(account, v)| {
                            format!("{account}: {}", v["detail"].as_str().unwrap_or_default())
                        })
                        .collect()
                };
                let state = if failed_accounts.is_empty() && needs_person.is_empty() {
                    RunState::Succeeded
                } else {
                    RunState::Failed
                };
                let mut message = failure_message(&lease.domain_name, &failed_accounts);
                if !needs_person.is_empty() {
                    if !message.is_empty() {
                        message.push('\n');
                    }
                    message.push_str(&format!(
                        "accounts left alone until a person acts: {}",
                        needs_person.join("; ")
                    ));
                }
                for note in &notes {
                    if !message.is_empty() {
                        message.push('\n');
                    }
                    message.push_str(note);
                }
                if operation.kind == OperationKind::Reconcile {
                    let repaired = journal.iter().any(|r| r.state == StepState::Done);
                    self.close_drift(lease, &drift, repaired).await?;
                }
                tracing::info!(domain = %lease.domain_name, passes = pass + 1, "domain converged");
                return Ok(ClaimEnd::Finished(state, message));
            }
            let pass_steps = steps_of_pass(runnable);
            let journaled = journal_of_domain
                .append_batch(&mut conn, &journal, &pass_steps)
                .await?;
            drop(conn);

            let resolver = Resolver::from_observation(&observed);
            let end = self
                .run_pass(lease, &client, resolver, journaled, &mut failed_accounts)
                .await?;
            if let Some(end) = end {
                return Ok(end);
            }
            let mut conn = self.store.pool().acquire().await?;
            if operations::cancel_requested(&mut conn, lease.operation_id).await? {
                return Err(Interrupted::Cancelled);
            }
            // A revocation never waits behind a long provision: yield the domain to it and
            // come back after.
            if operation.kind != OperationKind::Revoke
                && operations::revoke_waiting(&mut conn, lease).await?
            {
                return Ok(ClaimEnd::RetryLater(
                    "yielded the domain to a revocation; continues after it".into(),
                    Duration::ZERO,
                ));
            }
        }
        let message = format!(
            "the domain did not converge after {} observation passes; the last steps are in the journal",
            self.config.max_passes
        );
        Ok(ClaimEnd::RetryLater(message, Duration::from_secs(30)))
    }

    /// Keeps the last observation for `GetDomainStatus` and learns the customer id (once per
    /// delegated admin, see [`GoogleAccess::customer_id`]).
    pub(super) async fn remember_observation(
        &self,
        record: &support_access_store::domains::DomainRecord,
        client: &support_access_google::DomainClient,
        observed: &support_access_domain::observed::ObservedDomain,
    ) {
        let domain_name = record.domain_name.as_str();
        let saved = async {
            let mut conn = self.store.pool().acquire().await?;
            let value =
                serde_json::to_value(observed).map_err(|e| StoreError::Conflict(e.to_string()))?;
            observations::save(&mut conn, domain_name, &value, chrono::Utc::now()).await?;
            if let Ok(customer_id) = self.google.customer_id(record, client).await {
                domains::set_customer_id(&mut conn, domain_name, Some(&customer_id)).await?;
            }
            Ok::<_, StoreError>(())
        }
        .await;
        if let Err(error) = saved {
            tracing::warn!(domain = domain_name, error = %error, "cannot save the observation");
        }
    }
}

/// The steps one pass carries out: every runnable step, except the license steps of accounts
/// that this pass creates. Google may assign licenses to a new user on its own (Cloud Identity
/// Free is a site license; automatic licensing adds a paid one), so they are planned again
/// from the next observation rather than sent blind.
pub(super) fn steps_of_pass(runnable: Vec<PlannedStep>) -> Vec<PlannedStep> {
    let created: BTreeSet<String> = runnable
        .iter()
        .filter(|s| matches!(s.step, Step::CreateUser { .. }))
        .filter_map(|s| s.step.account().map(|a| a.as_str().to_owned()))
        .collect();
    runnable
        .into_iter()
        .filter(|s| {
            !(phase(s.step.kind()) == LICENSE_PHASE
                && s.step
                    .account()
                    .is_some_and(|a| created.contains(a.as_str())))
        })
        .collect()
}

/// The domain's message for accounts that failed: those refused for want of Cloud Identity
/// Free seats together, with what to do, then the others with their reasons.
pub(super) fn failure_message(domain: &str, failed: &BTreeMap<String, String>) -> String {
    let (no_seat, other): (Vec<_>, Vec<_>) = failed
        .iter()
        .partition(|(_, detail)| detail.contains(execute::NO_FREE_SEAT));
    let mut lines = Vec::new();
    if !no_seat.is_empty() {
        let accounts: Vec<&str> = no_seat.iter().map(|(a, _)| a.as_str()).collect();
        lines.push(format!(
            "{domain} has no free Cloud Identity Free seat left: {} account(s) could not be created: {}; to fix it, {}; then provision again",
            accounts.len(),
            accounts.join(", "),
            support_access_domain::instructions::seats(domain)
        ));
    }
    if !other.is_empty() {
        let accounts: Vec<String> = other
            .iter()
            .map(|(account, detail)| format!("{account} ({detail})"))
            .collect();
        lines.push(format!("failed accounts: {}", accounts.join("; ")));
    }
    lines.join("\n")
}

/// Why nothing was sent, as the claim's interruption.
pub(super) fn not_sent(guard: &lease::LeaseGuard) -> Interrupted {
    if guard.is_lost() {
        Interrupted::Fenced
    } else if guard.is_cancelled() {
        Interrupted::Cancelled
    } else {
        Interrupted::LeaseLapsing
    }
}

/// Adds the notes not yet in `notes`.
pub(super) fn push_new(notes: &mut Vec<String>, new: &[String]) {
    for note in new {
        if !notes.contains(note) {
            notes.push(note.clone());
        }
    }
}
