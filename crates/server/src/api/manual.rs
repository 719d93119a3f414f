//! `ConfirmManualStep`: an operator records that a step Google offers no API for was done
//! (automatic licensing turned off, Cloud Identity Free subscribed, case e-mail routed). The
//! confirmation is stored per (domain, step, staff member), replacing an earlier one, in one
//! transaction with the audit event and the request id (a retry replays the first answer). The
//! next status report and plan read it from the store.

use support_access_domain::observed::ManualStep;
use support_access_domain::validation::Violations;
use support_access_domain::{parse_domain_resource, parse_staff_member_resource};
use support_access_proto::v1;
use support_access_store::manual::{self, ConfirmationRecord, NewConfirmation};

use super::convert::timestamp;
use super::methods::CONFIRM_MANUAL_STEP;
use super::mutation::{AuditTarget, Begin, Mutation};
use super::observation;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// Longest operator note, in characters.
pub const MAX_NOTE_CHARS: usize = 1000;

/// `ConfirmManualStep`.
pub async fn confirm_manual_step(
    state: &AppState,
    principal: Principal,
    request: &v1::ConfirmManualStepRequest,
) -> Result<v1::ManualStepConfirmation, ApiError> {
    let mut v = Violations::default();
    let domain = v.check("domain", parse_domain_resource(&request.domain));
    let step = match v1::ManualStep::try_from(request.step) {
        Ok(v1::ManualStep::AutomaticLicensingOff) => Some(ManualStep::AutomaticLicensingOff),
        Ok(v1::ManualStep::CloudIdentityFreeSubscribed) => {
            Some(ManualStep::CloudIdentityFreeSubscribed)
        }
        Ok(v1::ManualStep::MailRouting) => Some(ManualStep::MailRouting),
        Ok(v1::ManualStep::Unspecified) | Err(_) => {
            v.add(
                "step",
                "must be MANUAL_STEP_AUTOMATIC_LICENSING_OFF, MANUAL_STEP_CLOUD_IDENTITY_FREE_SUBSCRIBED or MANUAL_STEP_MAIL_ROUTING",
            );
            None
        }
    };
    let staff_member = if request.staff_member.is_empty() {
        None
    } else if step.is_some_and(|s| s != ManualStep::MailRouting) {
        v.add(
            "staff_member",
            "only MANUAL_STEP_MAIL_ROUTING concerns one staff member; leave it empty for the other steps, which concern the whole domain",
        );
        None
    } else {
        v.check(
            "staff_member",
            parse_staff_member_resource(&request.staff_member),
        )
    };
    let note_chars = request.note.chars().count();
    if note_chars > MAX_NOTE_CHARS {
        v.add(
            "note",
            format!("must be at most {MAX_NOTE_CHARS} characters, got {note_chars}"),
        );
    }
    let request_id = v
        .check("request_id", super::parse_request_id(&request.request_id))
        .flatten();
    v.finish().map_err(ApiError::InvalidArgument)?;
    let (Some(domain), Some(step)) = (domain, step) else {
        unreachable!("violations were reported above");
    };
    principal.check_domain(domain.as_str())?;

    {
        let mut conn = state.conn().await?;
        observation::domain_record(&mut conn, domain.as_str()).await?;
        if let Some(id) = &staff_member
            && support_access_store::staff::get(&mut conn, id.as_str())
                .await?
                .is_none()
        {
            return Err(ApiError::NotFound {
                resource_type: super::staff::RESOURCE_TYPE,
                name: request.staff_member.clone(),
            });
        }
    }

    let store = state.store()?;
    let mut m = match Mutation::begin(
        store,
        principal.clone(),
        CONFIRM_MANUAL_STEP,
        request_id,
        request,
    )
    .await?
    {
        Begin::Replay(confirmation) => return Ok(confirmation),
        Begin::Proceed(m) => m,
    };
    let record = manual::confirm(
        m.conn(),
        &NewConfirmation {
            domain_name: domain.as_str().to_owned(),
            step,
            staff_member_id: staff_member.as_ref().map(|s| s.as_str().to_owned()),
            note: request.note.clone(),
            principal: principal.id.clone(),
        },
    )
    .await
    .map_err(|e| match e {
        // The domain or staff member was deleted since it was read.
        support_access_store::StoreError::ReferenceNotFound(_) => ApiError::FailedPrecondition {
            reason: "DELETED_MEANWHILE",
            message: format!(
                "{} or the staff member was deleted while the confirmation was recorded",
                request.domain
            ),
        },
        other => other.into(),
    })?;
    let confirmation = to_proto(&record);
    let mut target = format!("domains/{}/manualSteps/{}", domain.as_str(), step.as_str());
    if let Some(staff) = &staff_member {
        target.push_str(&format!("/staffMembers/{staff}"));
    }
    m.commit(
        &confirmation,
        AuditTarget {
            domain: Some(domain.as_str().to_owned()),
            target,
        },
    )
    .await?;
    tracing::info!(domain = %domain, step = step.as_str(), principal = %principal.id, "manual step confirmed");
    Ok(confirmation)
}

/// The API view of a stored confirmation.
pub fn to_proto(record: &ConfirmationRecord) -> v1::ManualStepConfirmation {
    v1::ManualStepConfirmation {
        domain: format!("domains/{}", record.domain_name),
        step: match record.step {
            ManualStep::AutomaticLicensingOff => v1::ManualStep::AutomaticLicensingOff,
            ManualStep::CloudIdentityFreeSubscribed => v1::ManualStep::CloudIdentityFreeSubscribed,
            ManualStep::MailRouting => v1::ManualStep::MailRouting,
        } as i32,
        staff_member: record
            .staff_member_id
            .as_ref()
            .map(|id| format!("staffMembers/{id}"))
            .unwrap_or_default(),
        note: record.note.clone(),
        principal: record.principal.clone(),
        confirm_time: Some(timestamp(record.confirm_time)),
    }
}
