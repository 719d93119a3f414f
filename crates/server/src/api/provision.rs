//! `ProvisionSupportAccess` and `RevokeSupportAccess`: validate, resolve which domains and staff
//! members the request covers, then — in one transaction keyed by the request id — record the
//! desired state and create the operation, and wake the workers. With `validate_only` the
//! domains are observed and planned now, and the plan is returned as a finished operation
//! without anything being written anywhere.

use prost::Message;
use support_access_domain::revoke::{MassChangeLimit, RevokeMode, RevokeOptions};
use support_access_domain::validation::Violations;
use support_access_domain::{
    DomainName, RequestId, StaffMemberId, parse_domain_resource, parse_staff_member_resource,
};
use support_access_proto::google::longrunning::{Operation, operation};
use support_access_proto::v1;
use support_access_store::accounts::{self, Desired};
use support_access_store::operations::{self, NewOperation, OperationKind};
use support_access_store::{domains, staff};

use super::mutation::{AuditTarget, Begin, Mutation};
use crate::auth::Principal;
use crate::engine::outcome::{operation_name, operation_view};
use crate::engine::{OperationRequest, WAKE_CHANNEL, desired, observe, step_action};
use crate::error::ApiError;
use crate::state::AppState;

/// What a provisioning or revoking request resolved to.
pub struct Scope {
    /// Domain records, by name.
    pub domains: Vec<domains::DomainRecord>,
    /// Staff records.
    pub staff: Vec<staff::StaffRecord>,
    /// The request id.
    pub request_id: Option<RequestId>,
}

/// Parses and resolves the domains and staff members of a request: explicit ones must exist
/// and be allowed; none means every domain the principal may touch and every staff member.
pub async fn resolve_scope(
    state: &AppState,
    principal: &Principal,
    raw_domains: &[String],
    raw_staff: &[String],
    raw_request_id: &str,
    staff_required: bool,
) -> Result<Scope, ApiError> {
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
    if staff_required && raw_staff.is_empty() {
        v.add(
            "staff_members",
            "name at least one staff member whose access to revoke",
        );
    }
    let request_id = if raw_request_id.is_empty() {
        None
    } else {
        v.check("request_id", RequestId::parse(raw_request_id))
    };
    v.finish().map_err(ApiError::InvalidArgument)?;
    for d in &domain_names {
        principal.check_domain(d.as_str())?;
    }

    let mut conn = state.conn().await?;
    let mut domains = Vec::new();
    if domain_names.is_empty() {
        for name in domains::names(&mut conn).await? {
            if principal.may_access(&name)
                && let Some(record) = domains::get(&mut conn, &name).await?
            {
                domains.push(record);
            }
        }
    } else {
        for name in dedup(domain_names.iter().map(|d| d.as_str().to_owned())) {
            let record =
                domains::get(&mut conn, &name)
                    .await?
                    .ok_or_else(|| ApiError::NotFound {
                        resource_type: super::domains::RESOURCE_TYPE,
                        name: format!("domains/{name}"),
                    })?;
            domains.push(record);
        }
    }
    let mut members = Vec::new();
    if staff_ids.is_empty() {
        members = staff::all(&mut conn).await?;
    } else {
        for id in dedup(staff_ids.iter().map(|s| s.as_str().to_owned())) {
            let record = staff::get(&mut conn, &id)
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
        request_id,
    })
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

/// Creates the operation (or replays the first one for this request id).
pub async fn start_operation<Req: Message>(
    state: &AppState,
    principal: Principal,
    method: &'static str,
    kind: OperationKind,
    request: &Req,
    scope: Scope,
    revoke: Option<RevokeOptions>,
) -> Result<Operation, ApiError> {
    let store = state.store()?;
    let mut m = match Mutation::begin(
        store,
        principal.clone(),
        method,
        scope.request_id.clone(),
        request,
    )
    .await?
    {
        Begin::Replay(operation) => return Ok(operation),
        Begin::Proceed(m) => m,
    };
    let domain_names: Vec<String> = scope
        .domains
        .iter()
        .map(|d| d.domain_name.clone())
        .collect();
    let staff_ids: Vec<String> = scope.staff.iter().map(|s| s.id.clone()).collect();
    let desired = match revoke {
        None => Desired::Active,
        Some(options) => Desired::Revoked(match options.mode {
            RevokeMode::RemoveRole => accounts::RevokeMode::RemoveRole,
            RevokeMode::Suspend => accounts::RevokeMode::Suspend,
            RevokeMode::Delete => accounts::RevokeMode::Delete,
        }),
    };
    let mut desired_accounts = Vec::new();
    for d in &scope.domains {
        for s in &scope.staff {
            desired_accounts.push(accounts::DesiredAccount {
                domain_name: d.domain_name.clone(),
                staff_member_id: s.id.clone(),
                email: format!("{}@{}", s.username, d.domain_name),
                desired,
            });
        }
    }
    accounts::upsert_many(m.conn(), &desired_accounts).await?;
    let id = uuid::Uuid::now_v7();
    let stored_request = OperationRequest {
        domains: domain_names.clone(),
        staff_members: staff_ids,
        revoke,
    };
    let record = operations::create(
        m.conn(),
        &NewOperation {
            id,
            kind,
            principal: principal.id.clone(),
            request_id: scope.request_id.as_ref().map(|r| r.as_str().to_owned()),
            request: serde_json::to_value(&stored_request).map_err(ApiError::internal)?,
            validate_only: false,
            domains: domain_names.clone(),
            steps: Vec::new(),
        },
    )
    .await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(WAKE_CHANNEL)
        .bind(id.to_string())
        .execute(&mut *m.conn())
        .await
        .map_err(|e| ApiError::from(support_access_store::StoreError::Database(e)))?;
    let operation = operation_view(m.conn(), &record).await?;
    m.commit(
        &operation,
        AuditTarget {
            domain: (domain_names.len() == 1).then(|| domain_names[0].clone()),
            target: operation_name(id),
        },
    )
    .await?;
    state.wake_engine();
    Ok(operation)
}

/// `validate_only`: observes every domain now and returns the plan as a finished operation.
/// Nothing is written to Google or Postgres.
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
    let mut conn = state.conn().await?;
    for record in &scope.domains {
        let domain = format!("domains/{}", record.domain_name);
        let staff_ids: Vec<String> = match kind {
            OperationKind::Provision | OperationKind::Reconcile => {
                scope.staff.iter().map(|s| s.id.clone()).collect()
            }
            OperationKind::Revoke => {
                revoke_population(&mut conn, &record.domain_name, &scope.staff).await?
            }
        };
        let desired = match desired::desired_domain(&mut conn, record, &staff_ids).await {
            Ok(desired) => desired,
            Err(desired::DesiredError::Store(e)) => return Err(e.into()),
            Err(desired::DesiredError::Invalid(message)) => {
                notes.push(format!("{}: {message}", record.domain_name));
                continue;
            }
        };
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
        let planned = match (kind, revoke) {
            (OperationKind::Revoke, Some(options)) => {
                let staff: Vec<StaffMemberId> = scope
                    .staff
                    .iter()
                    .filter_map(|s| StaffMemberId::parse(&s.id).ok())
                    .collect();
                let plan = support_access_domain::revoke::plan_revoke(
                    &desired,
                    &staff,
                    &observed,
                    &options,
                    &planner.access,
                );
                notes.extend(
                    plan.notes
                        .iter()
                        .map(|n| format!("{}: {n}", record.domain_name)),
                );
                plan.steps
            }
            _ => {
                let plan = support_access_domain::plan::plan_domain(&desired, &observed, planner);
                notes.extend(
                    plan.explain()
                        .into_iter()
                        .map(|line| format!("{}: {line}", record.domain_name)),
                );
                plan.steps
            }
        };
        steps.extend(planned.into_iter().map(|p| {
            v1::PlannedStep {
                domain: domain.clone(),
                account: p
                    .step
                    .account()
                    .map(|a| a.as_str().to_owned())
                    .unwrap_or_default(),
                action: crate::engine::outcome::step_action(step_action(p.step.kind()).as_str())
                    as i32,
                reason: p.reason,
                state: v1::StepState::Pending as i32,
                detail: String::new(),
                attempts: 0,
            }
        }));
    }
    let result = v1::OperationResult {
        accounts: Vec::new(),
        steps,
        domain_notes: notes,
    };
    let metadata = v1::OperationMetadata {
        kind: match kind {
            OperationKind::Provision => v1::OperationKind::Provision,
            OperationKind::Revoke => v1::OperationKind::Revoke,
            OperationKind::Reconcile => v1::OperationKind::Reconcile,
        } as i32,
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

/// The staff whose accounts a revocation in `domain` weighs against: every declared account
/// of the domain, plus the ones being revoked.
pub async fn revoke_population(
    conn: &mut sqlx::PgConnection,
    domain: &str,
    revoked: &[staff::StaffRecord],
) -> Result<Vec<String>, ApiError> {
    let mut ids: Vec<String> = accounts::list_by_domain(conn, domain)
        .await?
        .into_iter()
        .map(|a| a.staff_member_id)
        .collect();
    for s in revoked {
        if !ids.contains(&s.id) {
            ids.push(s.id.clone());
        }
    }
    Ok(ids)
}

/// Refuses a revocation that touches more than the mass-change limit of a domain's declared
/// support accounts, before anything is created.
pub async fn check_mass_change(
    state: &AppState,
    scope: &Scope,
    options: &RevokeOptions,
) -> Result<(), ApiError> {
    if options.force {
        return Ok(());
    }
    let mut conn = state.conn().await?;
    for record in &scope.domains {
        let declared = accounts::list_by_domain(&mut conn, &record.domain_name).await?;
        let total = declared
            .iter()
            .filter(|a| a.desired == Desired::Active)
            .count() as u32;
        let touched = scope
            .staff
            .iter()
            .filter(|s| {
                declared
                    .iter()
                    .any(|a| a.staff_member_id == s.id && a.desired == Desired::Active)
            })
            .count() as u32;
        let limit = options.limit;
        if touched > limit.always_allowed && touched * 100 > total * limit.max_percent {
            return Err(ApiError::FailedPrecondition {
                reason: "MASS_CHANGE_REFUSED",
                message: format!(
                    "revoking access would touch {touched} of the {total} support accounts of {}, more than the mass-change limit of {}%; check the request and set force to revoke anyway",
                    record.domain_name, limit.max_percent
                ),
            });
        }
    }
    Ok(())
}
