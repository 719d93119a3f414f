//! One claim: the domains of one Google customer in one operation (usually one domain; a reseller
//! account's primary and secondary domains together), in passes of observe → plan
//! ([`super::pipeline`]) → act until a pass plans nothing, over the decisions as Postgres holds
//! them at each pass, with the bounds that keep a domain from being retried forever.
//!
//! The customer is observed once per pass, whatever the number of its domains: the org unit, the
//! custom role, the subscription and the users are the customer's. Each domain keeps its own
//! lease, journal, plan and outcome; within a pass the domains act one after the other, and a
//! domain-level step (the shared org unit or custom role) that an earlier domain of the pass
//! carried out is not planned again by the next.

use support_access_domain::desired::DesiredDomain;
use support_access_domain::observed::{ManualConfirmation, ObservedDomain};
use support_access_google::DomainClient;
use support_access_store::domains::DomainRecord;

use super::chains::{LICENSE_PHASE, phase};
use super::journal::Journal;
use super::*;

/// One domain of a claim and what the claim knows of it.
struct ClaimedDomain<'a> {
    lease: &'a Lease,
    record: DomainRecord,
    client: DomainClient,
    confirmations: Vec<ManualConfirmation>,
    /// Accounts that cannot go on in this operation, with why.
    failed_accounts: BTreeMap<String, String>,
    notes: Vec<String>,
}

/// What one domain's share of a pass came to.
enum DomainPass {
    /// Went on: observe again.
    Continue,
    /// Went on, and every domain-level step it planned was carried out: a later domain of the
    /// customer does not plan them again this pass.
    CarriedOut(BTreeSet<String>),
    /// This claim of the domain is over.
    End(ClaimEnd),
}

impl Engine {
    /// Runs the claim of `leases` (one operation; one domain, or several of one customer) and
    /// says how it ended for each, in the order of `leases`.
    pub(super) async fn run_claim(
        &self,
        leases: &[Lease],
        guard: &Arc<lease::LeaseGuard>,
    ) -> Result<Vec<ClaimEnd>, Interrupted> {
        let every =
            |end: ClaimEnd| -> Vec<ClaimEnd> { leases.iter().map(|_| end.clone()).collect() };
        let Some(first) = leases.first() else {
            return Ok(Vec::new());
        };
        let mut conn = self.store.pool().acquire().await?;
        let Some(operation) = operations::get(&mut conn, first.operation_id).await? else {
            return Ok(every(ClaimEnd::Finished(
                RunState::Failed,
                "the operation no longer exists".into(),
            )));
        };
        if operation.cancel_requested {
            return Err(Interrupted::Cancelled);
        }
        let request: OperationRequest = match serde_json::from_value(operation.request.clone()) {
            Ok(request) => request,
            Err(e) => {
                return Ok(every(ClaimEnd::Finished(
                    RunState::Failed,
                    format!("unreadable request: {e}"),
                )));
            }
        };

        let mut ends: Vec<Option<ClaimEnd>> = Vec::with_capacity(leases.len());
        let mut claimed: Vec<Option<ClaimedDomain>> = Vec::with_capacity(leases.len());
        for lease in leases {
            match self.start_domain(&mut conn, lease, guard).await? {
                Ok(domain) => {
                    claimed.push(Some(domain));
                    ends.push(None);
                }
                Err(end) => {
                    claimed.push(None);
                    ends.push(Some(end));
                }
            }
        }
        drop(conn);

        for _pass in 0..self.config.max_passes {
            // The decisions are read again every pass: a revocation decided while this
            // operation runs takes effect at once, and is never undone by it.
            let mut desired: Vec<Option<DesiredDomain>> = Vec::with_capacity(leases.len());
            for (at, domain) in claimed.iter().enumerate() {
                let Some(domain) = domain.as_ref().filter(|_| ends[at].is_none()) else {
                    desired.push(None);
                    continue;
                };
                let mut conn = self.store.pool().acquire().await?;
                match desired::from_decisions(
                    &mut conn,
                    &domain.record,
                    operation.kind,
                    &request.staff_members,
                )
                .await
                {
                    Ok(domain_desired) => desired.push(Some(domain_desired)),
                    Err(desired::DesiredError::Store(e)) => return Err(e.into()),
                    Err(desired::DesiredError::Invalid(message)) => {
                        Journal::of(domain.lease)
                            .fail_open_steps(&mut conn, &message)
                            .await?;
                        ends[at] = Some(ClaimEnd::Finished(RunState::Failed, message));
                        desired.push(None);
                    }
                }
            }
            let active: Vec<usize> = (0..leases.len())
                .filter(|&at| desired[at].is_some())
                .collect();
            let Some(&observer) = active.first() else {
                break;
            };

            // One observation of the customer for all of its domains.
            let client = &claimed[observer].as_ref().expect("active").client;
            let siblings: Vec<&DesiredDomain> = active[1..]
                .iter()
                .filter_map(|&at| desired[at].as_ref())
                .collect();
            let mut observed = match observe::observe_customer(
                client,
                desired[observer].as_ref().expect("active"),
                &siblings,
                &self.config.planner.access,
            )
            .await
            {
                Ok(observed) => observed,
                Err(error) => {
                    let end = match execute::classify(error) {
                        StepFailure::NotSent(_) => return Err(not_sent(guard)),
                        StepFailure::Retry { detail, after } => {
                            ClaimEnd::RetryLater(format!("observing Google: {detail}"), after)
                        }
                        StepFailure::Account(detail)
                        | StepFailure::SeatsExhausted(detail)
                        | StepFailure::Domain(detail) => {
                            let mut conn = self.store.pool().acquire().await?;
                            for &at in &active {
                                Journal::of(&leases[at])
                                    .fail_open_steps(&mut conn, &detail)
                                    .await?;
                            }
                            ClaimEnd::Finished(RunState::Failed, detail)
                        }
                    };
                    for &at in &active {
                        ends[at] = Some(end.clone());
                    }
                    break;
                }
            };

            // The domains act one after the other, sharing what the pass learns of Google's ids
            // (a custom role created for the first is assigned in the next).
            let resolver = tokio::sync::Mutex::new(Resolver::from_observation(&observed));
            let mut carried_out: BTreeSet<String> = BTreeSet::new();
            let mut cancelled = false;
            for &at in &active {
                let domain = claimed[at].as_mut().expect("active");
                let domain_desired = desired[at].as_ref().expect("active");
                // The customer's observation with this domain's own confirmations (the domains
                // act one after the other: no copy of the observation per domain).
                observed.confirmations = domain.confirmations.clone();
                match self
                    .domain_pass(
                        &operation,
                        domain,
                        domain_desired,
                        &observed,
                        &resolver,
                        &carried_out,
                    )
                    .await
                {
                    Ok(DomainPass::Continue) => {}
                    Ok(DomainPass::CarriedOut(keys)) => carried_out.extend(keys),
                    Ok(DomainPass::End(end)) => ends[at] = Some(end),
                    Err(Interrupted::Cancelled) => {
                        cancelled = true;
                        break;
                    }
                    Err(interrupted) => return Err(interrupted),
                }
            }

            let mut conn = self.store.pool().acquire().await?;
            if cancelled || operations::cancel_requested(&mut conn, first.operation_id).await? {
                // The domains that finished in this claim keep their end; the others stop
                // here, their open steps cancelled.
                drop(conn);
                for (at, end) in ends.iter_mut().enumerate() {
                    if end.is_none() {
                        *end = Some(self.end_cancelled(&leases[at]).await?);
                    }
                }
                break;
            }
            // A revocation never waits behind a long provision: yield the domain to it and
            // come back after.
            if operation.kind != OperationKind::Revoke {
                for &at in &active {
                    if ends[at].is_none()
                        && operations::revoke_waiting(&mut conn, &leases[at]).await?
                    {
                        ends[at] = Some(ClaimEnd::RetryLater(
                            "yielded the domain to a revocation; continues after it".into(),
                            Duration::ZERO,
                        ));
                    }
                }
            }
        }
        Ok(ends
            .into_iter()
            .map(|end| {
                end.unwrap_or_else(|| {
                    ClaimEnd::RetryLater(
                        format!(
                            "the domain did not converge after {} observation passes; the last steps are in the journal",
                            self.config.max_passes
                        ),
                        Duration::from_secs(30),
                    )
                })
            })
            .collect())
    }

    /// Reads what one claimed domain needs before its first pass, or says why its claim is
    /// over already (deleted, claimed too often, no credential).
    async fn start_domain<'a>(
        &self,
        conn: &mut sqlx::PgConnection,
        lease: &'a Lease,
        guard: &Arc<lease::LeaseGuard>,
    ) -> Result<Result<ClaimedDomain<'a>, ClaimEnd>, Interrupted> {
        let Some(record) = domains::get(&mut *conn, &lease.domain_name).await? else {
            let message = "the domain was deleted while the operation ran".to_owned();
            Journal::of(lease)
                .fail_open_steps(&mut *conn, &message)
                .await?;
            return Ok(Err(ClaimEnd::Finished(RunState::Failed, message)));
        };
        if lease.claims > self.config.max_claims {
            let last = operations::domains(&mut *conn, lease.operation_id)
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
                .fail_open_steps(&mut *conn, &message)
                .await?;
            return Ok(Err(ClaimEnd::Finished(RunState::Failed, message)));
        }
        let client = match self.google.domain(&record).await {
            // Every request of this claim is sent only under the claim's leases.
            Ok(client) => client.guarded(guard.clone()),
            Err(e) => {
                let message = e.to_string();
                Journal::of(lease)
                    .fail_open_steps(&mut *conn, &message)
                    .await?;
                return Ok(Err(ClaimEnd::Finished(RunState::Failed, message)));
            }
        };
        let confirmations = desired::confirmations(&mut *conn, &record.domain_name).await?;
        Ok(Ok(ClaimedDomain {
            lease,
            record,
            client,
            confirmations,
            failed_accounts: BTreeMap::new(),
            notes: Vec::new(),
        }))
    }

    /// One domain's share of a pass over the customer's observation: plan, journal, and carry
    /// out the steps, leaving out the domain-level steps `carried_out` by an earlier domain of
    /// the pass.
    async fn domain_pass(
        &self,
        operation: &operations::OperationRecord,
        domain: &mut ClaimedDomain<'_>,
        desired: &DesiredDomain,
        observed: &ObservedDomain,
        resolver: &tokio::sync::Mutex<Resolver>,
        carried_out: &BTreeSet<String>,
    ) -> Result<DomainPass, Interrupted> {
        let lease = domain.lease;
        let record = &domain.record;
        self.remember_observation(record, &domain.client, observed)
            .await;
        self.record_discovered_ownership(lease, desired, observed)
            .await?;

        let pass_plan = pipeline::plan_pass(
            operation.kind,
            desired,
            observed,
            &self.config.planner,
            record.repair_policy,
        );
        // A reconciliation records drift every pass, before the pass repairs it: a change
        // made behind the service's back while it runs is not lost. But not while a revocation
        // waits for the domain: its decision is already read, and Google not yet changed, so
        // the revoked accounts would read as "re-enabled" (a false drift that stays open when
        // the next look comes after a real change). The domain goes to the revocation first.
        if operation.kind == OperationKind::Reconcile {
            let mut conn = self.store.pool().acquire().await?;
            if operations::revoke_waiting(&mut conn, lease).await? {
                return Ok(DomainPass::End(ClaimEnd::RetryLater(
                    "yielded the domain to a revocation; continues after it".into(),
                    Duration::ZERO,
                )));
            }
            drop(conn);
            self.record_drift(&record.domain_name, &pass_plan.drift)
                .await?;
        }
        push_new(&mut domain.notes, &pass_plan.notes);
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
                observed,
                &self.config.planner.access,
            )
            .await?;

        // Accounts that failed for good in this operation (in this claim or an earlier
        // one) are not tried again: a person has to act first.
        let failed_accounts = &mut domain.failed_accounts;
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
            .record_account_results(&mut conn, &verdicts)
            .await?;
        if let Some(message) = blocked {
            Journal::of(lease)
                .fail_open_steps(&mut conn, &message)
                .await?;
            return Ok(DomainPass::End(ClaimEnd::Finished(
                RunState::Failed,
                message,
            )));
        }
        if converged {
            // Conflicts and blockers need a person, like failed accounts; a reconciliation
            // reports them as drift and status instead of failing.
            let needs_person: Vec<String> = if operation.kind == OperationKind::Reconcile {
                Vec::new()
            } else {
                verdicts
                    .iter()
                    .filter(|(_, v)| matches!(v["result"].as_str(), Some("CONFLICT" | "BLOCKED")))
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
            let mut message = failure_message(&lease.domain_name, failed_accounts);
            if !needs_person.is_empty() {
                if !message.is_empty() {
                    message.push('\n');
                }
                message.push_str(&format!(
                    "accounts left alone until a person acts: {}",
                    needs_person.join("; ")
                ));
            }
            for note in &domain.notes {
                if !message.is_empty() {
                    message.push('\n');
                }
                message.push_str(note);
            }
            if operation.kind == OperationKind::Reconcile {
                let repaired = journal.iter().any(|r| r.state == StepState::Done);
                self.close_drift(lease, &drift, repaired).await?;
            }
            tracing::info!(domain = %lease.domain_name, "domain converged");
            return Ok(DomainPass::End(ClaimEnd::Finished(state, message)));
        }
        // The customer's org unit and custom role are created once: an earlier domain of this
        // pass did it, and this domain's steps find the new role's id in the shared resolver.
        let runnable: Vec<PlannedStep> = runnable
            .into_iter()
            .filter(|s| s.step.account().is_some() || !carried_out.contains(&s.step.key()))
            .collect();
        if runnable.is_empty() {
            return Ok(DomainPass::Continue);
        }
        let domain_level: BTreeSet<String> = runnable
            .iter()
            .filter(|s| s.step.account().is_none())
            .map(|s| s.step.key())
            .collect();
        let pass_steps = steps_of_pass(runnable);
        let journaled = journal_of_domain
            .append_batch(&mut conn, &journal, &pass_steps)
            .await?;
        drop(conn);
        // The pass's Google calls take minutes on a large domain: what planned them (the whole
        // journal, the plan's keys and verdicts) is not held through them.
        drop((journal, planned_keys, verdicts, pass_steps));

        let end = self
            .run_pass(lease, &domain.client, resolver, journaled, failed_accounts)
            .await?;
        Ok(match end {
            Some(end) => DomainPass::End(end),
            None if domain_level.is_empty() => DomainPass::Continue,
            None => DomainPass::CarriedOut(domain_level),
        })
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
            // Serialized straight into the query: no `serde_json::Value` of every user.
            observations::save(&mut conn, domain_name, observed, chrono::Utc::now()).await?;
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
