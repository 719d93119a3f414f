//! Drift events of a reconciliation: opened when seen, closed when Google matches again.

use super::*;

impl Engine {
    /// Opens a drift event for each drift not open already.
    pub(super) async fn record_drift(
        &self,
        domain: &str,
        drift: &[Drift],
    ) -> Result<(), Interrupted> {
        let new: Vec<support_access_store::drift::NewDrift> =
            drift.iter().map(|d| new_drift(domain, d)).collect();
        let mut conn = self.store.pool().acquire().await?;
        let opened = support_access_store::drift::record_open(&mut conn, domain, &new).await?;
        for event in &opened {
            tracing::warn!(domain, kind = %event.kind, account = %event.account_email, detail = %event.detail, "drift found");
        }
        Ok(())
    }

    /// At the end of a reconciliation: closes the open events Google no longer shows
    /// (attributed to this operation when its writes repaired them) and records the time.
    pub(super) async fn close_drift(
        &self,
        lease: &Lease,
        remaining: &[Drift],
        repaired: bool,
    ) -> Result<(), Interrupted> {
        let keys: Vec<(String, String)> = remaining
            .iter()
            .map(|d| {
                (
                    d.kind.as_str().to_owned(),
                    d.account
                        .as_ref()
                        .map(|a| a.as_str().to_owned())
                        .unwrap_or_default(),
                )
            })
            .collect();
        let mut conn = self.store.pool().acquire().await?;
        support_access_store::drift::resolve_missing(
            &mut conn,
            &lease.domain_name,
            &keys,
            repaired.then_some(lease.operation_id),
        )
        .await?;
        operations::reconciled(&mut conn, &lease.domain_name).await?;
        Ok(())
    }
}

/// A drift as the store records it.
pub(super) fn new_drift(domain: &str, drift: &Drift) -> support_access_store::drift::NewDrift {
    support_access_store::drift::NewDrift {
        domain_name: domain.to_owned(),
        kind: drift.kind.as_str().to_owned(),
        account_email: drift
            .account
            .as_ref()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default(),
        staff_member_id: drift.staff_member.as_ref().map(|s| s.as_str().to_owned()),
        detail: drift.detail.clone(),
        evidence: serde_json::to_value(&drift.evidence).unwrap_or_default(),
    }
}
