//! What the engine records about ownership: an account it created, adopted or deleted, and an
//! account an observation proves it owns without Postgres knowing (found again by its marker
//! after a lost database).

use super::*;

impl Engine {
    /// What a successful step changes in what the service owns: a created account is owned
    /// (its id recorded), an adopted one marked in Google is owned, a deleted one no longer.
    pub(super) async fn record_step_ownership(
        &self,
        lease: &Lease,
        staff: &StaffMemberId,
        step: &Step,
        effect: &StepEffect,
    ) -> Result<(), Interrupted> {
        let mut conn = self.store.pool().acquire().await?;
        match step {
            Step::CreateUser { account, .. } => {
                if let Some(user_id) = effect.user_id() {
                    accounts::record_ownership(
                        &mut conn,
                        &lease.domain_name,
                        staff.as_str(),
                        user_id.as_str(),
                        Ownership::Created,
                    )
                    .await?;
                    tracing::info!(account = %account, user_id = %user_id, "account created");
                }
            }
            Step::UpdateUser {
                user_id,
                set_marker: Some(_),
                ..
            } => {
                // An account the service created before it marked its accounts stays created.
                let ownership =
                    match accounts::get(&mut conn, &lease.domain_name, staff.as_str()).await? {
                        Some(row) if row.ownership == Ownership::Created => Ownership::Created,
                        _ => Ownership::Adopted,
                    };
                accounts::record_ownership(
                    &mut conn,
                    &lease.domain_name,
                    staff.as_str(),
                    user_id.as_str(),
                    ownership,
                )
                .await?;
            }
            Step::DeleteUser { .. } => {
                accounts::forget_ownership(&mut conn, &lease.domain_name, staff.as_str()).await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Records what the observation proves the service owns without Postgres knowing it yet:
    /// an account that carries this staff member's marker (found again after the database was
    /// lost: re-discovered as created by the service), and an approved adoption whose marker is
    /// already in Google. Audited.
    pub(super) async fn record_discovered_ownership(
        &self,
        lease: &Lease,
        desired: &support_access_domain::desired::DesiredDomain,
        observed: &support_access_domain::observed::ObservedDomain,
    ) -> Result<(), Interrupted> {
        let mut found = Vec::new();
        let accounts = desired
            .accounts()
            .iter()
            .chain(desired.revoked().iter().map(|(account, _)| account));
        for account in accounts {
            match classify_ownership(account, observed, desired.delegated_admin()) {
                AccountOwnership::Owned {
                    user,
                    rediscovered: true,
                } => found.push((account, user, Ownership::Created, "REDISCOVERED")),
                AccountOwnership::AdoptionApproved { user }
                    if user.marker.as_deref()
                        == Some(marker_value(account.staff_member()).as_str()) =>
                {
                    found.push((account, user, Ownership::Adopted, "ADOPTED"))
                }
                _ => {}
            }
        }
        if found.is_empty() {
            return Ok(());
        }
        let mut conn = self.store.pool().acquire().await?;
        for (account, user, ownership, outcome) in found {
            accounts::record_ownership(
                &mut conn,
                &lease.domain_name,
                account.staff_member().as_str(),
                user.id.as_str(),
                ownership,
            )
            .await?;
            audit::record_ownership(
                &self.store,
                &self.authors,
                lease,
                account.email().as_str(),
                outcome,
                &format!(
                    "Google account {} carries the support-access marker of staff member {}",
                    user.id,
                    account.staff_member()
                ),
            )
            .await;
            tracing::info!(account = %account.email(), user_id = %user.id, outcome, "ownership recorded");
        }
        Ok(())
    }
}
