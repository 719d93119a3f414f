//! `ListPortalAccess`: everyone in a reseller domain whose customer-wide roles open the Customer
//! Care Portal (Reseller Admin, a custom role with both portal privileges, a legacy support
//! role), whether this service manages the account or not, ordered by e-mail. Observes Google now
//! (the observation is stored for `GetDomainStatus` too): an unmanaged admin holding the Reseller
//! Admin role is exactly what an operator wants to find.

use std::collections::HashMap;

use support_access_domain::access::portal_access;
use support_access_domain::parse_domain_resource;
use support_access_google::ErrorClass;
use support_access_proto::v1;

use super::observation;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// `ListPortalAccess`.
pub async fn list_portal_access(
    state: &AppState,
    principal: &Principal,
    request: &v1::ListPortalAccessRequest,
) -> Result<v1::ListPortalAccessResponse, ApiError> {
    let domain =
        parse_domain_resource(&request.parent).map_err(|e| ApiError::invalid("parent", e.0))?;
    principal.check_domain(domain.as_str())?;
    let mut conn = state.conn().await?;
    let record = observation::domain_record(&mut conn, domain.as_str()).await?;
    let desired = observation::desired_domain(&mut conn, &record).await?;
    let (observed, _) = observation::observe_now(state, &mut conn, &record, &desired).await?;
    // Every declared account counts as managed, revoked ones included: this service still
    // acts on them.
    let declared: HashMap<String, String> =
        support_access_store::accounts::list_by_domain(&mut conn, domain.as_str())
            .await?
            .into_iter()
            .map(|a| (a.email, a.staff_member_id))
            .collect();
    drop(conn);

    let mut entries = Vec::new();
    let mut client = None;
    for entry in portal_access(&desired, &observed, &state.planner().access) {
        // The observation holds the support org unit's users and the desired accounts; anyone
        // else holding a portal role is looked up by id (few people hold such roles).
        let (email, suspended) = match (&entry.email, entry.suspended) {
            (Some(email), Some(suspended)) => (email.as_str().to_owned(), suspended),
            _ => {
                if client.is_none() {
                    client = Some(observation::google_client(state, &record).await?);
                }
                let google = client.as_ref().expect("just set");
                match google.users_get(entry.user_id.as_str()).await {
                    Ok(user) => (user.primary_email.to_ascii_lowercase(), user.suspended),
                    // Deleted since the role assignments were listed: no access left.
                    Err(e) if matches!(e.class(), ErrorClass::NotFound) => continue,
                    Err(e) => return Err(observation::google_error(domain.as_str(), e)),
                }
            }
        };
        let staff_member = declared
            .get(&email)
            .map(|id| format!("staffMembers/{id}"))
            .unwrap_or_default();
        entries.push(v1::PortalAccessEntry {
            managed: !staff_member.is_empty(),
            staff_member,
            email,
            roles: entry.roles,
            suspended,
            ..Default::default()
        });
    }
    entries.sort_by(|a, b| a.email.cmp(&b.email));
    Ok(v1::ListPortalAccessResponse { entries })
}
