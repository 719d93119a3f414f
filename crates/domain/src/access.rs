//! Which admin roles open the Customer Care Portal. Google names neither the Reseller Admin
//! system role nor the two reseller privileges in any public source (api-facts §a.3, §a.4), so
//! every name is configuration, matched against what `roles.list` and `privileges.list` return:
//!
//! - the **Reseller Admin** system role: a system role whose name is in
//!   [`AccessConfig::reseller_admin_role_names`];
//! - a **custom role** holding both *View Customers* and *Access Customer Support Cases*
//!   (or an ancestor of them in the privilege tree, which grants its whole subtree);
//! - a **legacy** role (*Legacy Enterprise Support*, *Legacy Resold Enterprise Support*): counts
//!   as access where it still exists, but is never assigned.
//!
//! Only customer-wide assignments count: reseller privileges are not scoped to an org unit.

use serde::{Deserialize, Serialize};

use crate::desired::DesiredDomain;
use crate::names::{EmailAddress, StaffMemberId};
use crate::observed::{
    ObservedDomain, ObservedRole, PrivilegeNode, RolePrivilege, ScopeType, UserId,
};

/// The names that identify portal-opening roles and privileges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccessConfig {
    /// `roleName`s of the prebuilt Reseller Admin role (matched only on system roles).
    pub reseller_admin_role_names: Vec<String>,
    /// `privilegeName` of *Reseller tools > Customers > View Customers*.
    pub view_customers_privilege: String,
    /// `privilegeName` of *Reseller tools > Customers > Access Customer Support Cases*.
    pub support_cases_privilege: String,
    /// `roleName`s of the legacy support roles.
    pub legacy_role_names: Vec<String>,
}

impl Default for AccessConfig {
    fn default() -> Self {
        Self {
            reseller_admin_role_names: vec!["_RESELLER_ADMIN_ROLE".to_owned()],
            view_customers_privilege: "RESELLER_VIEW_CUSTOMERS".to_owned(),
            support_cases_privilege: "RESELLER_ACCESS_CUSTOMER_SUPPORT_CASES".to_owned(),
            // Google's pages spell the second one "Resold"; the procedure we follow says
            // "Reseller". Both are accepted: they are only ever recognised, never assigned.
            legacy_role_names: vec![
                "Legacy Enterprise Support".to_owned(),
                "Legacy Resold Enterprise Support".to_owned(),
                "Legacy Reseller Enterprise Support".to_owned(),
            ],
        }
    }
}

/// Why a role opens the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PortalAccessKind {
    /// The Reseller Admin system role.
    ResellerAdmin,
    /// A role holding both portal privileges.
    CustomRole,
    /// A legacy support role.
    Legacy,
}

/// The two privileges a custom role needs, as found in the privilege tree (name and service id,
/// ready for `roles.insert`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalPrivileges {
    /// *View Customers*.
    pub view_customers: RolePrivilege,
    /// *Access Customer Support Cases*.
    pub support_cases: RolePrivilege,
}

impl PortalPrivileges {
    /// Both privileges, in the order `roles.insert` gets them.
    pub fn to_vec(&self) -> Vec<RolePrivilege> {
        vec![self.view_customers.clone(), self.support_cases.clone()]
    }
}

impl AccessConfig {
    /// The configured privilege names, View Customers first.
    pub fn portal_privilege_names(&self) -> [&str; 2] {
        [
            &self.view_customers_privilege,
            &self.support_cases_privilege,
        ]
    }

    /// Finds both portal privileges anywhere in the tree; `Err` lists the names not found.
    pub fn find_portal_privileges(
        &self,
        tree: &[PrivilegeNode],
    ) -> Result<PortalPrivileges, Vec<String>> {
        let find = |name: &str| {
            find_path(tree, name).map(|path| {
                let node = path[path.len() - 1];
                RolePrivilege {
                    privilege_name: node.privilege_name.clone(),
                    service_id: node.service_id.clone(),
                }
            })
        };
        match (
            find(&self.view_customers_privilege),
            find(&self.support_cases_privilege),
        ) {
            (Some(view_customers), Some(support_cases)) => Ok(PortalPrivileges {
                view_customers,
                support_cases,
            }),
            (view, cases) => {
                let mut missing = Vec::new();
                if view.is_none() {
                    missing.push(self.view_customers_privilege.clone());
                }
                if cases.is_none() {
                    missing.push(self.support_cases_privilege.clone());
                }
                Err(missing)
            }
        }
    }

    /// The portal privileges `role` lacks (empty when it holds both). A privilege counts as held
    /// when the role holds it or one of its ancestors in `tree`.
    pub fn missing_privileges(&self, role: &ObservedRole, tree: &[PrivilegeNode]) -> Vec<String> {
        self.portal_privilege_names()
            .into_iter()
            .filter(|needed| {
                let granting = granting_names(tree, needed);
                !role
                    .privileges
                    .iter()
                    .any(|held| granting.iter().any(|name| *name == held.privilege_name))
            })
            .map(str::to_owned)
            .collect()
    }

    /// Why `role` opens the portal, if it does.
    pub fn role_access(
        &self,
        role: &ObservedRole,
        tree: &[PrivilegeNode],
    ) -> Option<PortalAccessKind> {
        if role.is_system && self.reseller_admin_role_names.contains(&role.name) {
            Some(PortalAccessKind::ResellerAdmin)
        } else if self.legacy_role_names.contains(&role.name) {
            Some(PortalAccessKind::Legacy)
        } else if self.missing_privileges(role, tree).is_empty() {
            Some(PortalAccessKind::CustomRole)
        } else {
            None
        }
    }

    /// The Reseller Admin system role of the customer, if Google shows one.
    pub fn reseller_admin_role<'a>(&self, roles: &'a [ObservedRole]) -> Option<&'a ObservedRole> {
        roles
            .iter()
            .find(|role| role.is_system && self.reseller_admin_role_names.contains(&role.name))
    }

    /// What [`ObservedUser::is_delegated_admin`](crate::observed::ObservedUser) must say, from
    /// Google's `isDelegatedAdmin` of the user and its role assignments in `observed` (which
    /// must then hold every assignment of the user, not only those of the portal roles): true
    /// when the user holds an admin role that does not open the portal, or when Google calls it
    /// a delegated admin and no assignment explains why. The portal roles do not count: every
    /// support account holds one, and Google reports it as a delegated admin for it.
    pub fn administers_beyond_portal(
        &self,
        google_is_delegated_admin: bool,
        observed: &ObservedDomain,
        user: &UserId,
    ) -> bool {
        if !google_is_delegated_admin {
            return false;
        }
        let mut assignments = observed.assignments_of(user).peekable();
        if assignments.peek().is_none() {
            return true;
        }
        assignments.any(|assignment| {
            observed
                .role(&assignment.role_id)
                .is_none_or(|role| self.role_access(role, &observed.privilege_tree).is_none())
        })
    }

    /// The portal-opening roles a user holds at customer scope, with why each opens it.
    pub fn portal_roles_of<'a>(
        &self,
        observed: &'a ObservedDomain,
        user: &UserId,
    ) -> Vec<(&'a ObservedRole, PortalAccessKind)> {
        let mut roles: Vec<(&ObservedRole, PortalAccessKind)> = observed
            .role_assignments
            .iter()
            .filter(|a| &a.assignee == user && a.scope == ScopeType::Customer)
            .filter_map(|a| observed.role(&a.role_id))
            .filter_map(|role| {
                self.role_access(role, &observed.privilege_tree)
                    .map(|kind| (role, kind))
            })
            .collect();
        roles.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        roles.dedup_by(|a, b| a.0.id == b.0.id);
        roles
    }
}

/// The path from a root of `tree` to the node named `name`, if any.
fn find_path<'a>(tree: &'a [PrivilegeNode], name: &str) -> Option<Vec<&'a PrivilegeNode>> {
    for node in tree {
        if node.privilege_name == name {
            return Some(vec![node]);
        }
        if let Some(mut path) = find_path(&node.children, name) {
            path.insert(0, node);
            return Some(path);
        }
    }
    None
}

/// The privilege names that grant `needed`: itself and its ancestors in the tree.
fn granting_names<'a>(tree: &'a [PrivilegeNode], needed: &'a str) -> Vec<&'a str> {
    match find_path(tree, needed) {
        Some(path) => path
            .iter()
            .map(|node| node.privilege_name.as_str())
            .collect(),
        None => vec![needed],
    }
}

/// Someone in a reseller domain whose roles open the portal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalAccessEntry {
    /// The user's Google id.
    pub user_id: UserId,
    /// The user's primary e-mail, when the observation includes the user.
    pub email: Option<EmailAddress>,
    /// Names of the roles that open the portal for the user, sorted.
    pub roles: Vec<String>,
    /// The staff member, when the account is one of the domain's support accounts.
    pub staff_member: Option<StaffMemberId>,
    /// Whether the account is suspended, when the observation includes the user.
    pub suspended: Option<bool>,
}

impl PortalAccessEntry {
    /// True when this service manages the account.
    pub fn managed(&self) -> bool {
        self.staff_member.is_some()
    }
}

/// Everyone whose customer-wide role assignments open the portal, ordered by e-mail (users the
/// observation does not include come last, by id).
pub fn portal_access(
    desired: &DesiredDomain,
    observed: &ObservedDomain,
    config: &AccessConfig,
) -> Vec<PortalAccessEntry> {
    let mut users: Vec<&UserId> = observed
        .role_assignments
        .iter()
        .map(|a| &a.assignee)
        .collect();
    users.sort();
    users.dedup();
    let mut entries: Vec<PortalAccessEntry> = users
        .into_iter()
        .filter_map(|id| {
            let roles = config.portal_roles_of(observed, id);
            if roles.is_empty() {
                return None;
            }
            let user = observed.user_by_id(id);
            let email = user.map(|u| u.email.clone());
            Some(PortalAccessEntry {
                user_id: id.clone(),
                staff_member: email
                    .as_ref()
                    .and_then(|e| desired.account(e))
                    .map(|a| a.staff_member().clone()),
                email,
                roles: roles
                    .into_iter()
                    .map(|(role, _)| role.name.clone())
                    .collect(),
                suspended: user.map(|u| u.suspended),
            })
        })
        .collect();
    entries.sort_by(|a, b| match (&a.email, &b.email) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.user_id.cmp(&b.user_id),
    });
    entries
}

#[cfg(test)]
mod tests;
