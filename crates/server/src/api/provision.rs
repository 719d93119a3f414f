//! `ProvisionSupportAccess` and `RevokeSupportAccess` (and the operation machinery that
//! `RegrantSupportAccess` and `AdoptSupportAccount` share): validate, claim the request id, then
//! — in that one transaction — resolve which domains and staff members the request covers,
//! record the decision and create the operation, and wake the workers.
//!
//! Provisioning records ACTIVE only where no decision exists: it never re-grants a REVOKED
//! (domain, staff member). A revocation is checked against the mass-change limit once, in the
//! transaction that records it, with the domains' rows locked (see [`check_mass_change`]).
//! With `validate_only` the domains are observed and planned now, and the plan is returned as a
//! finished operation without anything being written anywhere (a revocation's limit is checked
//! the same way in a transaction that is rolled back).

use prost::Message;
use sqlx::PgConnection;
use support_access_domain::lifecycle::OperationKind;
use support_access_domain::revoke::{MassChangeLimit, RevokeMode, RevokeOptions};
use support_access_domain::validation::Violations;
use support_access_domain::{
    DomainName, RequestId, StaffMemberId, parse_domain_resource, parse_staff_member_resource,
};
use support_access_proto::google::longrunning::{Operation, operation};
use support_access_proto::v1;
use support_access_store::accounts::{self, Desired};
use support_access_store::operations::{self, NewOperation};
use support_access_store::{audit, domains, staff};

use super::mutation::{AuditTarget, Begin, Mutation};
use crate::api::convert::{operation_kind_to_proto, step_action_to_proto};
use crate::api::operation_view::{operation_name, operation_view};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use support_access_engine::{OperationRequest, desired, observe};

/// The domains and staff members a request names, validated but not yet looked up.
#[derive(Clone, Debug, Default)]
pub struct ScopeRequest {
    /// Bare domain names, deduplicated; empty means every domain the principal may access.
    pub domains: Vec<String>,
    /// Staff member ids, deduplicated; empty means every staff member.
    pub staff: Vec<String>,
    /// The request id.
    pub request_id: Option<RequestId>,
}

/// What a provisioning or revoking request resolved to.
pub struct Scope {
    /// Domain records, by name.
    pub domains: Vec<domains::DomainRecord>,
    /// Staff records.
    pub staff: Vec<staff::StaffRecord>,
    /// The request id.
    pub request_id: Option<RequestId>,
}

impl Scope {
    /// Every (domain, staff member) pair of the scope.
    pub fn pairs(&self) -> Vec<accounts::NewAccount> {
        let mut pairs = Vec::new();
        for d in &self.domains {
            for s in &self.staff {
                pairs.push(accounts::NewAccount {
                    domain_name: d.domain_name.clone(),
                    staff_member_id: s.id.clone(),
                    email: format!("{}@{}", s.username, d.domain_name),
                });
            }
        }
        pairs
    }
}

/// Parses the domains, staff members and request id of a request (every violation at once)
/// and checks the principal may touch the domains named. `staff_required`: the violation's
/// description when a request must name staff members and names none.
pub fn parse_scope(
    principal: &Principal,
    raw_domains: &[String],
    raw_staff: &[String],
    raw_request_id: &str,
    staff_required: Option<&str>,
) -> Result<ScopeRequest, ApiError> {
    let mut v = Violations::default();
    let domain_names: Vec<DomainName> = raw_domains
        .iter()
        .enumerate()
        .filter_map(|(i, d)| v.check(&format!("domains[{i}]"), parse_domain_resource(d)))
        .collect();
    let staff_ids: Vec<StaffMemberId> = raw_staff
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            v.check(
                &format!("staff_members[{i}]"),
                parse_staff_member_resource(s),
            )
        })
        .collect();
    if let Some(description) = staff_required
        && raw_staff.is_empty()
    {
        v.add("staff_members", description);
    }
    let request_id = v
        .check("request_id", super::parse_request_id(raw_request_id))
        .flatten();
    v.finish().map_err(ApiError::InvalidArgument)?;
    for d in &domain_names {
        principal.check_domain(d.as_str())?;
    }
    Ok(ScopeRequest {
        domains: dedup(domain_names.iter().map(|d| d.as_str().to_owned())),
        staff: dedup(staff_ids.iter().map(|s| s.as_str().to_owned())),
        request_id,
    })
}

/// Looks the scope up: explicit domains and staff members must exist; none means every domain
/// the principal may touch and every staff member.
pub async fn resolve(
    conn: &mut PgConnection,
    principal: &Principal,
    request: &ScopeRequest,
) -> Result<Scope, ApiError> {
    let mut domains = Vec::new();
    if request.domains.is_empty() {
        for name in domains::names(conn).await? {
            if principal.may_access(&name)
                && let Some(record) = domains::get(conn, &name).await?
            {
                domains.push(record);
            }
        }
    } else {
        for name in &request.domains {
            let record = domains::get(conn, name)
                .await?
                .ok_or_else(|| ApiError::NotFound {
                    resource_type: super::domains::RESOURCE_TYPE,
                    name: format!("domains/{name}"),
                })?;
            domains.push(record);
        }
    }
    let mut members = Vec::new();
    if request.staff.is_empty() {
        members = staff::all(conn).await?;
    } else {
        for id in &request.staff {
            let record = staff::get(conn, id)
                .await?
                .ok_or_else(|| ApiError::NotFound {
                    resource_type: super::staff::RESOURCE_TYPE,
                    name: format!("staffMembers/{id}"),
                })?;
            members.push(record);
        }
    }
    if domains.is_empty() {
        return Err(ApiError::FailedPrecondition {
            reason: "NO_DOMAINS",
            message: "no reseller domain is declared (or none you may access): create one with CreateDomain first".into(),
        });
    }
    if members.is_empty() {
        return Err(ApiError::FailedPrecondition {
            reason: "NO_STAFF",
            message: "no staff member is declared: create one with CreateStaffMember first".into(),
        });
    }
    Ok(Scope {
        domains,
        staff: members,
        request_id: request.request_id.clone(),
    })
}

/// [`parse_scope`] then [`resolve`] on a connection of its own (for `validate_only`, which
/// claims no request id).
pub async fn resolve_scope(
    state: &AppState,
    principal: &Principal,
    raw_domains: &[String],
    raw_staff: &[String],
    raw_request_id: &str,
    staff_required: Option<&str>,
) -> Result<Scope, ApiError> {
    let request = parse_scope(
        principal,
        raw_domains,
        raw_staff,
        raw_request_id,
        staff_required,
    )?;
    let mut conn = state.conn().await?;
    resolve(&mut conn, principal, &request).await
}

fn dedup(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    items.filter(|i| seen.insert(i.clone())).collect()
}

/// The revoke options of a request.
pub fn revoke_options(
    request: &v1::RevokeSupportAccessRequest,
    limit: MassChangeLimit,
) -> Result<RevokeOptions, ApiError> {
    let mode = match v1::RevokeMode::try_from(request.mode) {
        Ok(v1::RevokeMode::Unspecified | v1::RevokeMode::Suspend) => RevokeMode::Suspend,
        Ok(v1::RevokeMode::RemoveRole) => RevokeMode::RemoveRole,
        Ok(v1::RevokeMode::Delete) => RevokeMode::Delete,
        Err(_) => {
            return Err(ApiError::invalid(
                "mode",
                format!(
                    "unknown revoke mode {}; use REVOKE_MODE_REMOVE_ROLE, REVOKE_MODE_SUSPEND or REVOKE_MODE_DELETE",
                    request.mode
                ),
            ));
        }
    };
    Ok(RevokeOptions {
        mode,
        force: request.force,
        limit,
    })
}

/// The decision a mutating request records before its operation starts.
#[derive(Clone, Copy, Debug)]
pub enum Decision<'a> {
    /// `ProvisionSupportAccess`: ACTIVE where no decision exists yet.
    Provision,
    /// `RevokeSupportAccess`: REVOKED, after the mass-change limit.
    Revoke(RevokeOptions),
    /// `RegrantSupportAccess`: REVOKED back to ACTIVE, with the reason.
    Regrant {
        /// Why (required).
        reason: &'a str,
    },
}

/// Creates the operation (or replays the first one for this request id). The request id is
/// claimed first, so a replay returns the first operation even when a domain or staff member it
/// named was deleted since; then, in the same transaction, the scope is looked up, the decision
/// recorded (the mass-change limit checked for a revocation) and the operation created.
pub async fn start_operation<Req: Message>(
    state: &AppState,
    principal: Principal,
    method: &'static str,
    request: &Req,
    scope_request: &ScopeRequest,
    decision: Decision<'_>,
) -> Result<Operation, ApiError> {
    let store = state.store()?;
    let mut m = match Mutation::begin(
        store,
        principal.clone(),
        method,
        scope_request.request_id.clone(),
        request,
    )
    .await?
    {
        Begin::Replay(operation) => return Ok(operation),
        Begin::Proceed(m) => m,
    };
    let scope = resolve(m.conn(), &principal, scope_request).await?;
    let pairs = scope.pairs();
    let (kind, revoke) = match decision {
        Decision::Provision => {
            accounts::declare_active(
                m.conn(),
                &pairs,
                accounts::Decision {
                    principal: &principal.id,
                    reason: "",
                },
            )
            .await?;
            (OperationKind::Provision, None)
        }
        Decision::Revoke(options) => {
            check_mass_change(m.conn(), &scope, &options).await?;
            accounts::revoke(
                m.conn(),
                &pairs,
                options.mode,
                accounts::Decision {
                    principal: &principal.id,
                    reason: "",
                },
            )
            .await?;
            (OperationKind::Revoke, Some(options))
        }
        Decision::Regrant { reason } => {
            accounts::regrant(
                m.conn(),
                &pairs,
                accounts::Decision {
                    principal: &principal.id,
                    reason,
                },
            )
            .await?;
            // The reason goes in the audit log with the decision, per staff member.
            let domain_list = scope
                .domains
                .iter()
                .map(|d| d.domain_name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            for member in &scope.staff {
                audit::append(
                    m.conn(),
                    &audit::NewAuditEvent {
                        principal: principal.id.clone(),
                        method: method.to_owned(),
                        request_id: scope.request_id.as_ref().map(|r| r.as_str().to_owned()),
                        domain_name: (scope.domains.len() == 1)
                            .then(|| scope.domains[0].domain_name.clone()),
                        target: format!("staffMembers/{}", member.id),
                        outcome: "OK".to_owned(),
                        detail: format!("access given back in {domain_list}: {reason}"),
                    },
                )
                .await?;
            }
            (OperationKind::Provision, None)
        }
    };
    let domain_names: Vec<String> = scope
        .domains
        .iter()
        .map(|d| d.domain_name.clone())
        .collect();
    let staff_ids: Vec<String> = scope.staff.iter().map(|s| s.id.clone()).collect();
    let operation = create_operation(
        &mut m,
        &principal,
        kind,
        scope.request_id.as_ref(),
        domain_names,
        staff_ids,
        revoke,
    )
    .await?;
    let domain = (scope.domains.len() == 1).then(|| scope.domains[0].domain_name.clone());
    let target = operation.name.clone();
    m.commit(&operation, AuditTarget { domain, target }).await?;
    state.wake_engine();
    Ok(operation)
}

/// Creates the operation for `domains` × `staff_ids` in the mutation's transaction and wakes
/// the workers of every replica once it commits; returns its API view.
pub async fn create_operation(
    m: &mut Mutation,
    principal: &Principal,
    kind: OperationKind,
    request_id: Option<&RequestId>,
    domains: Vec<String>,
    staff_ids: Vec<String>,
    revoke: Option<RevokeOptions>,
) -> Result<Operation, ApiError> {
    let id = uuid::Uuid::now_v7();
    let stored_request = OperationRequest {
        domains: domains.clone(),
        staff_members: staff_ids,
        revoke,
    };
    let record = operations::create(
        m.conn(),
        &NewOperation {
            id,
            kind,
            principal: principal.id.clone(),
            request_id: request_id.map(|r| r.as_str().to_owned()),
            request: serde_json::to_value(&stored_request).map_err(ApiError::internal)?,
            validate_only: false,
            domains,
            steps: Vec::new(),
            trace_parent: support_access_engine::trace::current_trace_parent(),
        },
    )
    .await?;
    support_access_store::wake::notify_work_available(m.conn(), id).await?;
    let operation = operation_view(m.conn(), &record).await?;
    debug_assert_eq!(operation.name, operation_name(id));
    Ok(operation)
}

/// `validate_only` of a revocation: the mass-change limit exactly as the real request checks
/// it (same locks, same counts, same function), in a transaction that is rolled back.
pub async fn validate_mass_change(
    state: &AppState,
    scope: &Scope,
    options: &RevokeOptions,
) -> Result<(), ApiError> {
    let store = state.store()?;
    let mut tx = store
        .pool()
        .begin()
        .await
        .map_err(|e| ApiError::from(support_access_store::StoreError::Database(e)))?;
    let checked = check_mass_change(&mut tx, scope, options).await;
    tx.rollback()
        .await
        .map_err(|e| ApiError::from(support_access_store::StoreError::Database(e)))?;
    checked
}

/// Refuses a revocation that touches more than the mass-change limit of a domain, checked once,
/// in the transaction that records the revocation: the scope's domain rows are locked
/// `FOR UPDATE` in name order (two concurrent revocations serialize and count each other), then
/// per domain the accounts the service owns that are ACTIVE and the accounts revoked within
/// the limit's window are counted; touched are the owned ACTIVE accounts of the request's
/// staff members (a domain where the request touches none is not checked). `force` skips the
/// check (the locks are still taken, so a forced revocation still serializes with others).
pub async fn check_mass_change(
    conn: &mut PgConnection,
    scope: &Scope,
    options: &RevokeOptions,
) -> Result<(), ApiError> {
    let names: Vec<String> = scope
        .domains
        .iter()
        .map(|d| d.domain_name.clone())
        .collect();
    let locked = domains::lock_many(conn, &names).await?;
    if options.force {
        return Ok(());
    }
    for record in &locked {
        let (active_owned, revoked_in_window) =
            accounts::mass_change_counts(conn, &record.domain_name, options.limit.window).await?;
        let touched = accounts::list_by_domain(conn, &record.domain_name)
            .await?
            .iter()
            .filter(|a| {
                a.desired == Desired::Active
                    && a.ownership.is_owned()
                    && scope.staff.iter().any(|s| s.id == a.staff_member_id)
            })
            .count() as u32;
        // A request that takes no owned access away in the domain cannot be a mass change
        // there (the window alone does not refuse it).
        if touched == 0 {
            continue;
        }
        let domain = DomainName::parse(&record.domain_name).map_err(|e| {
            ApiError::internal(anyhow::anyhow!(
                "stored domain name {:?}: {e}",
                record.domain_name
            ))
        })?;
        if let Err(refused) = support_access_domain::revoke::check_mass_change(
            &domain,
            touched,
            active_owned,
            revoked_in_window,
            &options.limit,
        ) {
            return Err(ApiError::FailedPrecondition {
                reason: "MASS_CHANGE_REFUSED",
                message: refused.to_string(),
            });
        }
    }
    Ok(())
}

/// `validate_only`: the plan the operation would run, from the same decisions and the same
/// pipeline as the worker. The request's decision is applied to the stored decisions in a
/// transaction that is rolled back (so the desired state is exactly what the real request would
/// record), then Google is observed, with no transaction open, and
/// [`pipeline::plan_pass`](support_access_engine::pipeline::plan_pass) plans each domain. Nothing is
/// written to Google or Postgres.
pub async fn plan_only(
    state: &AppState,
    kind: OperationKind,
    scope: &Scope,
    revoke: Option<RevokeOptions>,
) -> Result<Operation, ApiError> {
    let google = state.google();
    let planner = state.planner();
    let mut steps = Vec::new();
    let mut notes = Vec::new();
    let staff_ids: Vec<String> = scope.staff.iter().map(|s| s.id.clone()).collect();
    let mut planned_domains = Vec::new();
    {
        let store = state.store()?;
        let mut tx = store
            .pool()
            .begin()
            .await
            .map_err(|e| ApiError::from(support_access_store::StoreError::Database(e)))?;
        let decision = accounts::Decision {
            principal: "validate-only",
            reason: "",
        };
        match revoke {
            Some(options) => {
                accounts::revoke(&mut tx, &scope.pairs(), options.mode, decision).await?;
            }
            None => {
                accounts::declare_active(&mut tx, &scope.pairs(), decision).await?;
            }
        }
        for record in &scope.domains {
            match desired::from_decisions(&mut tx, record, kind, &staff_ids).await {
                Ok(desired) => planned_domains.push((record, desired)),
                Err(desired::DesiredError::Store(e)) => return Err(e.into()),
                Err(desired::DesiredError::Invalid(message)) => {
                    notes.push(format!("{}: {message}", record.domain_name));
                }
            }
        }
        tx.rollback()
            .await
            .map_err(|e| ApiError::from(support_access_store::StoreError::Database(e)))?;
    }
    let mut conn = state.conn().await?;
    for (record, desired) in planned_domains {
        let domain = format!("domains/{}", record.domain_name);
        let client = match google.domain(record).await {
            Ok(client) => client,
            Err(e) => {
                notes.push(format!("{}: {e}", record.domain_name));
                continue;
            }
        };
        // The operator's confirmations count here as in the real run, so the plan shown is the
        // plan that would run.
        let confirmations = desired::confirmations(&mut conn, &record.domain_name).await?;
        let observed = match observe::observe_domain(
            &client,
            &desired,
            confirmations,
            &planner.access,
        )
        .await
        {
            Ok(observed) => observed,
            Err(e) => {
                notes.push(format!(
                    "{}: cannot observe Google: {e}",
                    record.domain_name
                ));
                continue;
            }
        };
        let pass = support_access_engine::pipeline::plan_pass(
            kind,
            &desired,
            &observed,
            planner,
            record.repair_policy,
        );
        let name = &record.domain_name;
        notes.extend(pass.blocked.iter().map(|b| format!("{name}: blocked: {b}")));
        notes.extend(pass.verdicts.iter().map(|(account, verdict)| {
            format!(
                "{name}: {account}: {}: {}",
                verdict["result"].as_str().unwrap_or_default(),
                verdict["detail"].as_str().unwrap_or_default()
            )
        }));
        notes.extend(pass.notes.iter().map(|n| format!("{name}: {n}")));
        steps.extend(pass.steps.into_iter().map(|p| {
            v1::PlannedStep {
                domain: domain.clone(),
                account: p
                    .step
                    .account()
                    .map(|a| a.as_str().to_owned())
                    .unwrap_or_default(),
                action: step_action_to_proto(p.step.kind()) as i32,
                reason: p.reason,
                state: v1::StepState::Pending as i32,
                detail: String::new(),
                attempts: 0,
            }
        }));
    }
    let result = crate::api::operation_view::plan_view(steps, &notes);
    let metadata = v1::OperationMetadata {
        kind: operation_kind_to_proto(kind) as i32,
        create_time: Some(crate::api::convert::timestamp(chrono::Utc::now())),
        end_time: Some(crate::api::convert::timestamp(chrono::Utc::now())),
        ..Default::default()
    };
    Ok(Operation {
        name: "operations/validate-only".into(),
        metadata: Some(prost_types::Any {
            type_url: "type.googleapis.com/supportaccess.v1.OperationMetadata".into(),
            value: metadata.encode_to_vec(),
        }),
        done: true,
        result: Some(operation::Result::Response(prost_types::Any {
            type_url: "type.googleapis.com/supportaccess.v1.OperationResult".into(),
            value: result.encode_to_vec(),
        })),
    })
}
