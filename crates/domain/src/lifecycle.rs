//! The lifecycle vocabulary shared by the desired state, revocation and the journal: what an
//! operation does, and how a revoked account is to be left. It lives apart from `revoke` so that `desired` (which `revoke` reads) can name it
//! without the two modules depending on each other; `revoke` re-exports it.

use serde::{Deserialize, Serialize};

/// What revoking does to an account once its roles are removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RevokeMode {
    /// Remove the portal roles only; the account stays usable.
    RemoveRole,
    /// Remove the roles and suspend the account (reversible).
    #[default]
    Suspend,
    /// Remove the roles and delete the account.
    Delete,
}

impl RevokeMode {
    /// Every mode, in declaration order.
    pub const ALL: &'static [RevokeMode] = &[
        RevokeMode::RemoveRole,
        RevokeMode::Suspend,
        RevokeMode::Delete,
    ];

    /// `REMOVE_ROLE`, `SUSPEND` or `DELETE`.
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeMode::RemoveRole => "REMOVE_ROLE",
            RevokeMode::Suspend => "SUSPEND",
            RevokeMode::Delete => "DELETE",
        }
    }
}

/// What an operation does: the API's `OperationKind` and the journal's `operations.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OperationKind {
    /// `ProvisionSupportAccess`.
    Provision,
    /// `RevokeSupportAccess`.
    Revoke,
    /// Started by the service on its reconcile interval.
    Reconcile,
}

impl OperationKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [OperationKind] = &[
        OperationKind::Provision,
        OperationKind::Revoke,
        OperationKind::Reconcile,
    ];

    /// `PROVISION`, `REVOKE` or `RECONCILE`.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::Provision => "PROVISION",
            OperationKind::Revoke => "REVOKE",
            OperationKind::Reconcile => "RECONCILE",
        }
    }
}
