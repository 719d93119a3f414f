//! Finding, at run time, what Google does not document: the Reseller Admin system role, the
//! legacy support roles, and the two reseller privileges (*View Customers*, *Access Customer
//! Support Cases*) that a custom role needs to open the Customer Care Portal (facts a.3, a.4).
//!
//! Names are matched loosely — lowercase, letters and digits only, so `View Customers`,
//! `VIEW_CUSTOMERS` and `RESELLER_VIEW_CUSTOMERS` can all be configured the same way — and every
//! matcher is configuration. [`PortalAccessDiscovery::report`] prints what was found together
//! with the whole privilege tree: the operator's tool when Google renames something.

use std::fmt::Write as _;

use crate::client::DomainClient;
use crate::error::GoogleError;
use crate::model::{Privilege, Role, RolePrivilege};

/// Lowercase letters and digits only.
fn normalize(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// How to recognise one privilege in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivilegeMatcher {
    /// Exact names (compared normalised); preferred over keywords.
    pub names: Vec<String>,
    /// Alternatives, each a list of words that must all appear in the normalised name.
    pub keyword_sets: Vec<Vec<String>>,
    /// Words that disqualify a keyword match (e.g. "support" for *View Customers*).
    pub exclude: Vec<String>,
}

impl PrivilegeMatcher {
    fn matches_name(&self, name: &str) -> bool {
        let name = normalize(name);
        self.names.iter().any(|n| normalize(n) == name)
    }

    fn matches_keywords(&self, name: &str) -> bool {
        let name = normalize(name);
        !self.exclude.iter().any(|x| name.contains(&normalize(x)))
            && self
                .keyword_sets
                .iter()
                .any(|set| !set.is_empty() && set.iter().all(|k| name.contains(&normalize(k))))
    }
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Every name and pattern used to recognise portal access. Defaults follow the facts; all of
/// them are UNVERIFIED at Google and belong in the server's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalAccessMatchers {
    /// `roleName`s of the Reseller Admin system role.
    pub reseller_admin_role_names: Vec<String>,
    /// `roleDescription`s that identify it too (compared normalised, whole text).
    pub reseller_admin_role_descriptions: Vec<String>,
    /// Names or descriptions of legacy roles that also open the portal (never assigned).
    pub legacy_role_names: Vec<String>,
    /// Words identifying the reseller subtree by `serviceName` or top `privilegeName`; matches
    /// inside it are preferred over matches elsewhere.
    pub reseller_service_keywords: Vec<String>,
    /// *Reseller tools > Customers > View Customers*.
    pub view_customers: PrivilegeMatcher,
    /// *Reseller tools > Customers > Access Customer Support Cases*.
    pub access_support_cases: PrivilegeMatcher,
}

impl Default for PortalAccessMatchers {
    fn default() -> Self {
        Self {
            reseller_admin_role_names: words(&["_RESELLER_ADMIN_ROLE"]),
            reseller_admin_role_descriptions: words(&["Reseller Admin", "Reseller Administrator"]),
            legacy_role_names: words(&[
                "Legacy Enterprise Support",
                "Legacy Resold Enterprise Support",
                "Legacy Reseller Enterprise Support",
            ]),
            reseller_service_keywords: words(&["reseller"]),
            view_customers: PrivilegeMatcher {
                names: words(&[
                    "VIEW_CUSTOMERS",
                    "RESELLER_VIEW_CUSTOMERS",
                    "View Customers",
                ]),
                keyword_sets: vec![words(&["view", "customer"])],
                exclude: words(&["support", "case", "subscription"]),
            },
            access_support_cases: PrivilegeMatcher {
                names: words(&[
                    "ACCESS_CUSTOMER_SUPPORT_CASES",
                    "RESELLER_ACCESS_CUSTOMER_SUPPORT_CASES",
                    "Access Customer Support Cases",
                    "Access customers' support cases",
                ]),
                keyword_sets: vec![words(&["support", "case"])],
                exclude: Vec::new(),
            },
        }
    }
}

/// What was found in one domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortalAccessDiscovery {
    /// The Reseller Admin system role, if recognised.
    pub reseller_admin_role: Option<Role>,
    /// Legacy roles that also open the portal.
    pub legacy_roles: Vec<Role>,
    /// The *View Customers* privilege.
    pub view_customers: Option<Privilege>,
    /// The *Access Customer Support Cases* privilege.
    pub access_support_cases: Option<Privilege>,
    /// Ambiguities and gaps, in words.
    pub notes: Vec<String>,
    /// The privilege tree as listed.
    pub privilege_tree: Vec<Privilege>,
    /// All roles as listed.
    pub roles: Vec<Role>,
}

impl PortalAccessDiscovery {
    /// The two privileges for a custom portal role, when both were found.
    pub fn custom_role_privileges(&self) -> Option<Vec<RolePrivilege>> {
        Some(vec![
            self.view_customers.as_ref()?.as_role_privilege(),
            self.access_support_cases.as_ref()?.as_role_privilege(),
        ])
    }

    /// A human-readable diagnostic: the findings, the notes, the roles and the privilege tree.
    pub fn report(&self) -> String {
        let mut out = String::new();
        let role = |r: &Option<Role>| {
            r.as_ref().map_or("NOT FOUND".to_owned(), |r| {
                format!("{} (roleId {})", r.role_name, r.role_id)
            })
        };
        let privilege = |p: &Option<Privilege>| {
            p.as_ref().map_or("NOT FOUND".to_owned(), |p| {
                format!("{} (serviceId {})", p.privilege_name, p.service_id)
            })
        };
        let _ = writeln!(
            out,
            "reseller admin role: {}",
            role(&self.reseller_admin_role)
        );
        let legacy: Vec<&str> = self
            .legacy_roles
            .iter()
            .map(|r| r.role_name.as_str())
            .collect();
        let _ = writeln!(
            out,
            "legacy support roles: {}",
            if legacy.is_empty() {
                "none".to_owned()
            } else {
                legacy.join(", ")
            }
        );
        let _ = writeln!(
            out,
            "view customers privilege: {}",
            privilege(&self.view_customers)
        );
        let _ = writeln!(
            out,
            "access customer support cases privilege: {}",
            privilege(&self.access_support_cases)
        );
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        let _ = writeln!(out, "roles ({}):", self.roles.len());
        for r in &self.roles {
            let _ = writeln!(
                out,
                "  {}{}{}  id={}  {}",
                r.role_name,
                if r.is_system_role { " [system]" } else { "" },
                if r.is_super_admin_role {
                    " [super admin]"
                } else {
                    ""
                },
                r.role_id,
                r.role_description.as_deref().unwrap_or("")
            );
        }
        let _ = writeln!(out, "privilege tree:");
        out.push_str(&render_privilege_tree(&self.privilege_tree));
        out
    }
}

/// The privilege tree, one node per line, children indented.
pub fn render_privilege_tree(items: &[Privilege]) -> String {
    fn walk(out: &mut String, nodes: &[Privilege], depth: usize) {
        for node in nodes {
            let _ = writeln!(
                out,
                "{:indent$}{}  service={} ({}){}",
                "",
                node.privilege_name,
                node.service_name.as_deref().unwrap_or("?"),
                node.service_id,
                if node.is_ou_scopable {
                    " ou-scopable"
                } else {
                    ""
                },
                indent = 2 + depth * 2
            );
            walk(out, &node.child_privileges, depth + 1);
        }
    }
    let mut out = String::new();
    walk(&mut out, items, 0);
    out
}

/// Every node with whether it lies in the reseller subtree.
fn flatten<'a>(
    nodes: &'a [Privilege],
    in_reseller: bool,
    keywords: &[String],
    out: &mut Vec<(&'a Privilege, bool)>,
) {
    for node in nodes {
        let here = in_reseller
            || keywords.iter().any(|k| {
                let k = normalize(k);
                node.service_name
                    .as_deref()
                    .is_some_and(|s| normalize(s).contains(&k))
                    || normalize(&node.privilege_name).contains(&k)
            });
        out.push((node, here));
        flatten(&node.child_privileges, here, keywords, out);
    }
}

/// Picks the one node `matcher` designates: exact names before keywords, reseller subtree
/// before elsewhere; several equally good candidates are reported, and none is chosen.
fn pick(
    nodes: &[(&Privilege, bool)],
    matcher: &PrivilegeMatcher,
    what: &str,
    notes: &mut Vec<String>,
) -> Option<Privilege> {
    // (by exact name, only inside the reseller subtree), best first.
    let tiers = [(true, true), (true, false), (false, true), (false, false)];
    for tier in tiers {
        let (by_name, reseller_only) = tier;
        let mut found: Vec<&Privilege> = nodes
            .iter()
            .filter(|(p, in_reseller)| {
                (*in_reseller || !reseller_only)
                    && if by_name {
                        matcher.matches_name(&p.privilege_name)
                    } else {
                        matcher.matches_keywords(&p.privilege_name)
                    }
            })
            .map(|(p, _)| *p)
            .collect();
        found.dedup_by(|a, b| a.privilege_name == b.privilege_name && a.service_id == b.service_id);
        match found.len() {
            0 => continue,
            1 => return Some(found[0].clone()),
            _ => {
                let names: Vec<&str> = found.iter().map(|p| p.privilege_name.as_str()).collect();
                notes.push(format!(
                    "{what}: several privileges match ({}); configure the exact name",
                    names.join(", ")
                ));
                return None;
            }
        }
    }
    notes.push(format!(
        "{what}: no privilege matches; see the tree below and configure its name"
    ));
    None
}

/// Matches roles and the privilege tree against `matchers`.
pub fn discover(
    roles: Vec<Role>,
    privilege_tree: Vec<Privilege>,
    matchers: &PortalAccessMatchers,
) -> PortalAccessDiscovery {
    let mut notes = Vec::new();
    let admin_names: Vec<String> = matchers
        .reseller_admin_role_names
        .iter()
        .map(|n| normalize(n))
        .collect();
    let admin_descriptions: Vec<String> = matchers
        .reseller_admin_role_descriptions
        .iter()
        .map(|n| normalize(n))
        .collect();
    let by_name: Vec<&Role> = roles
        .iter()
        .filter(|r| r.is_system_role && admin_names.contains(&normalize(&r.role_name)))
        .collect();
    let candidates: Vec<&Role> = if by_name.is_empty() {
        roles
            .iter()
            .filter(|r| {
                r.is_system_role
                    && r.role_description
                        .as_deref()
                        .is_some_and(|d| admin_descriptions.contains(&normalize(d)))
            })
            .collect()
    } else {
        by_name
    };
    let reseller_admin_role = match candidates.as_slice() {
        [] => {
            notes.push(
                "reseller admin role: no system role matches; the custom-role path is needed"
                    .to_owned(),
            );
            None
        }
        [one] => Some((*one).clone()),
        many => {
            let names: Vec<&str> = many.iter().map(|r| r.role_name.as_str()).collect();
            notes.push(format!(
                "reseller admin role: several roles match ({}); configure the exact name",
                names.join(", ")
            ));
            None
        }
    };

    let legacy: Vec<String> = matchers
        .legacy_role_names
        .iter()
        .map(|n| normalize(n))
        .collect();
    let legacy_roles = roles
        .iter()
        .filter(|r| {
            let name = normalize(&r.role_name);
            let description = r
                .role_description
                .as_deref()
                .map(normalize)
                .unwrap_or_default();
            legacy
                .iter()
                .any(|l| name.contains(l.as_str()) || description == *l)
        })
        .cloned()
        .collect();

    let mut nodes = Vec::new();
    flatten(
        &privilege_tree,
        false,
        &matchers.reseller_service_keywords,
        &mut nodes,
    );
    let view_customers = pick(
        &nodes,
        &matchers.view_customers,
        "view customers",
        &mut notes,
    );
    let access_support_cases = pick(
        &nodes,
        &matchers.access_support_cases,
        "access customer support cases",
        &mut notes,
    );

    PortalAccessDiscovery {
        reseller_admin_role,
        legacy_roles,
        view_customers,
        access_support_cases,
        notes,
        privilege_tree,
        roles,
    }
}

impl DomainClient {
    /// Lists roles and privileges (`roles.list`, `privileges.list`) and matches them.
    pub async fn discover_portal_access(
        &self,
        matchers: &PortalAccessMatchers,
    ) -> Result<PortalAccessDiscovery, GoogleError> {
        let roles = self.roles_list().collect_all().await?;
        let privileges = self.privileges_list().await?;
        let discovery = discover(roles, privileges, matchers);
        tracing::info!(
            domain = self.domain(),
            reseller_admin_role = discovery
                .reseller_admin_role
                .as_ref()
                .map(|r| r.role_name.as_str()),
            view_customers = discovery
                .view_customers
                .as_ref()
                .map(|p| p.privilege_name.as_str()),
            access_support_cases = discovery
                .access_support_cases
                .as_ref()
                .map(|p| p.privilege_name.as_str()),
            notes = discovery.notes.len(),
            "portal access discovered"
        );
        Ok(discovery)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, service: &str, children: Vec<Privilege>) -> Privilege {
        Privilege {
            privilege_name: name.into(),
            service_id: format!("id-{service}"),
            service_name: Some(service.into()),
            child_privileges: children,
            ..Privilege::default()
        }
    }

    fn role(name: &str, description: &str, system: bool) -> Role {
        Role {
            role_id: format!("{}", name.len()),
            role_name: name.into(),
            role_description: Some(description.into()),
            is_system_role: system,
            ..Role::default()
        }
    }

    fn tree() -> Vec<Privilege> {
        vec![
            node(
                "USERS_ALL",
                "admin_apis",
                vec![node("USERS_RETRIEVE", "admin_apis", vec![])],
            ),
            node(
                "RESELLER_TOOLS",
                "reseller",
                vec![node(
                    "RESELLER_CUSTOMERS",
                    "reseller",
                    vec![
                        node("RESELLER_VIEW_CUSTOMERS", "reseller", vec![]),
                        node("RESELLER_ACCESS_CUSTOMER_SUPPORT_CASES", "reseller", vec![]),
                        node("RESELLER_VIEW_SUBSCRIPTIONS", "reseller", vec![]),
                    ],
                )],
            ),
        ]
    }

    #[test]
    fn finds_roles_and_privileges_with_default_matchers() {
        let roles = vec![
            role("_SEED_ADMIN_ROLE", "Super Admin", true),
            role("_RESELLER_ADMIN_ROLE", "Reseller Admin", true),
            role(
                "_INDIRECT_RESELLER_ADMIN_ROLE",
                "Indirect Reseller Admin",
                true,
            ),
            role(
                "_LEGACY_RESOLD_ENTERPRISE_SUPPORT_ROLE",
                "Legacy Resold Enterprise Support",
                true,
            ),
        ];
        let found = discover(roles, tree(), &PortalAccessMatchers::default());
        assert_eq!(
            found.reseller_admin_role.unwrap().role_name,
            "_RESELLER_ADMIN_ROLE"
        );
        assert_eq!(found.legacy_roles.len(), 1);
        assert_eq!(
            found.view_customers.unwrap().privilege_name,
            "RESELLER_VIEW_CUSTOMERS"
        );
        assert_eq!(
            found.access_support_cases.unwrap().privilege_name,
            "RESELLER_ACCESS_CUSTOMER_SUPPORT_CASES"
        );
        assert!(found.notes.is_empty(), "{:?}", found.notes);
    }

    #[test]
    fn renamed_things_are_found_by_description_and_keywords() {
        let roles = vec![
            role("_SOMETHING_NEW", "Reseller Admin", true),
            role("Reseller Admin", "Reseller Admin", false),
        ];
        let privileges = vec![node(
            "PARTNER_TOOLS",
            "reseller_console",
            vec![
                node("CUSTOMERS_VIEW_ALL", "reseller_console", vec![]),
                node("CUSTOMER_SUPPORT_CASES_OPEN", "reseller_console", vec![]),
            ],
        )];
        let found = discover(roles, privileges, &PortalAccessMatchers::default());
        assert_eq!(
            found.reseller_admin_role.unwrap().role_name,
            "_SOMETHING_NEW",
            "custom roles never count"
        );
        assert_eq!(
            found.view_customers.unwrap().privilege_name,
            "CUSTOMERS_VIEW_ALL"
        );
        assert_eq!(
            found.access_support_cases.unwrap().privilege_name,
            "CUSTOMER_SUPPORT_CASES_OPEN"
        );
    }

    #[test]
    fn missing_and_ambiguous_are_reported_not_guessed() {
        let privileges = vec![node(
            "RESELLER",
            "reseller",
            vec![
                node("VIEW_CUSTOMERS_A", "reseller", vec![]),
                node("VIEW_CUSTOMERS_B", "reseller", vec![]),
            ],
        )];
        let found = discover(vec![], privileges, &PortalAccessMatchers::default());
        assert!(found.reseller_admin_role.is_none());
        assert!(found.view_customers.is_none());
        assert!(found.access_support_cases.is_none());
        assert!(found.custom_role_privileges().is_none());
        let report = found.report();
        assert!(
            report.contains("several privileges match (VIEW_CUSTOMERS_A, VIEW_CUSTOMERS_B)"),
            "{report}"
        );
        assert!(
            report.contains("    VIEW_CUSTOMERS_B  service=reseller (id-reseller)"),
            "{report}"
        );
    }
}
