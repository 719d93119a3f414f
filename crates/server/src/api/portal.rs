//! `ListPortalAccess`: everyone in a reseller domain who reaches the Customer Care Portal — super
//! administrators, and holders of a customer-wide role that opens it (Reseller Admin, a custom
//! role with both portal privileges, a legacy support role) — whether this service manages the
//! account or not, ordered by e-mail, each with the reasons (`super administrator`,
//! `role '<name>'`, `legacy role '<name>'`) and whether the service owns the account (its
//! recorded Google user id is this user's). Observes Google now
//! (the observation is stored for `GetDomainStatus` too): an unmanaged admin holding the Reseller
//! Admin role is exactly what an operator wants to find.

use std::collections::HashMap;

use support_access_domain::access::{PortalAccessKind, portal_access};
use support_access_domain::parse_domain_resource;
use support_access_google::UsersListQuery;
use support_access_proto::v1;
use support_access_store::accounts::AccountRecord;

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
    // acts on them. Roles are customer-wide, so the listing also shows the support accounts of
    // the domain's siblings (the other domains of its Google customer), managed as well.
    let mut declared: HashMap<String, AccountRecord> = HashMap::new();
    let siblings = support_access_store::domains::siblings(&mut conn, domain.as_str()).await?;
    for name in std::iter::once(domain.as_str()).chain(siblings.iter().map(String::as_str)) {
        for account in support_access_store::accounts::list_by_domain(&mut conn, name).await? {
            declared.insert(account.email.clone(), account);
        }
    }
    drop(conn);

    let access = &state.planner().access;
    let client = observation::google_client(state, &record).await?;
    let mut entries: Vec<(String, v1::PortalAccessEntry)> = Vec::new();
    for entry in portal_access(&desired, &observed, access) {
        // The observation holds every user who holds a portal role; one it does not know was
        // deleted between the listing of users and of role assignments: no access left.
        let (Some(email), Some(suspended)) = (&entry.email, entry.suspended) else {
            continue;
        };
        let email = email.as_str().to_owned();
        let reasons = access
            .portal_roles_of(&observed, &entry.user_id)
            .into_iter()
            .map(|(role, kind)| match kind {
                PortalAccessKind::Legacy => format!("legacy role '{}'", role.name),
                _ => format!("role '{}'", role.name),
            })
            .collect();
        entries.push((
            entry.user_id.as_str().to_owned(),
            v1::PortalAccessEntry {
                email,
                roles: entry.roles,
                suspended,
                reasons,
                ..Default::default()
            },
        ));
    }
    // Super administrators reach the portal whatever roles they hold (read-only listing of the
    // customer's super admins; search is eventually consistent, which is fine for a report).
    let super_admins = client
        .users_list(UsersListQuery {
            query: Some("isAdmin=true".to_owned()),
            show_deleted: false,
        })
        .collect_all()
        .await
        .map_err(|e| observation::google_error(domain.as_str(), e))?;
    for user in super_admins.into_iter().filter(|u| u.is_admin) {
        let email = user.primary_email.to_ascii_lowercase();
        let entry = match entries.iter_mut().find(|(id, _)| *id == user.id) {
            Some((_, entry)) => entry,
            None => {
                entries.push((
                    user.id.clone(),
                    v1::PortalAccessEntry {
                        email,
                        suspended: user.suspended,
                        ..Default::default()
                    },
                ));
                &mut entries.last_mut().expect("just pushed").1
            }
        };
        entry.super_admin = true;
        entry.reasons.insert(0, "super administrator".to_owned());
    }
    let mut entries: Vec<v1::PortalAccessEntry> = entries
        .into_iter()
        .map(|(user_id, mut entry)| {
            if let Some(account) = declared.get(&entry.email) {
                entry.managed = true;
                entry.staff_member = format!("staffMembers/{}", account.staff_member_id);
                entry.owned = account.ownership.is_owned()
                    && account.google_user_id.as_deref() == Some(user_id.as_str());
            }
            entry
        })
        .collect();
    entries.sort_by(|a, b| a.email.cmp(&b.email));
    Ok(v1::ListPortalAccessResponse { entries })
}
