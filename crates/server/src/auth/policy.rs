//! The access policy of every RPC: the role it needs, and how the reseller domains it touches are
//! found. The gate enforces both before any handler runs; a method missing from [`POLICIES`] is
//! refused, and a test walks the service descriptors so that no method can be added without one.
//!
//! Roles: viewer reads; operator also provisions, revokes, issues sign-in credentials and
//! confirms manual steps; admin also declares, changes and forgets domains and staff members.
//! Everything above viewer mutates, and its refusals are audited.

use prost::{DecodeError, Message};
use support_access_domain::names::DomainName;
use support_access_domain::{
    parse_domain_resource, parse_domain_status_resource, parse_support_account_resource,
};
use support_access_proto::v1;

use super::Role;

/// What the gate needs to know about a method.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// The least role that may call it.
    pub role: Role,
    /// How the reseller domains it touches are found.
    pub domains: DomainRule,
}

impl Policy {
    /// Whether the method changes anything (its refusals are audited).
    pub fn mutates(&self) -> bool {
        self.role > Role::Viewer
    }
}

/// Reads the request message and says which domains it touches.
pub type Extractor = fn(&[u8]) -> Result<RequestFacts, DecodeError>;

/// How the reseller domains a method touches are found.
#[derive(Clone, Copy)]
pub enum DomainRule {
    /// Touches no reseller domain: staff members are shared by every domain, and reading them
    /// is open to every viewer.
    NoDomain,
    /// Lists domains or what is in them: the handler shows only the principal's domains
    /// ([`super::Principal::may_access`]).
    FilteredList,
    /// The request names its domains: the gate decodes it and checks each before the handler
    /// runs. A domain name that does not parse is refused for principals limited to some
    /// domains (fail closed).
    Request(Extractor),
    /// Changes what every domain gets (staff members are provisioned everywhere): only
    /// principals allowed every domain.
    EveryDomain,
    /// The domain is known only after a lookup (the domains of a stored operation, the reseller
    /// domain of a customer): the handler checks it with [`super::Principal::check_domain`] and
    /// filters lists with [`super::Principal::may_access`].
    Handler,
}

impl std::fmt::Debug for DomainRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DomainRule::NoDomain => "NoDomain",
            DomainRule::FilteredList => "FilteredList",
            DomainRule::Request(_) => "Request",
            DomainRule::EveryDomain => "EveryDomain",
            DomainRule::Handler => "Handler",
        })
    }
}

/// What the gate learned from a request message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFacts {
    /// The request id, for the audit log of a refusal.
    pub request_id: Option<String>,
    /// The domains it touches.
    pub touches: Touches,
}

/// The domains a request touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Touches {
    /// These, each from the field named.
    Named(Vec<NamedDomain>),
    /// Every domain (an empty domain list means all of them).
    Every,
    /// Whatever the principal may see (`domains/-`, no domain filter): the handler filters.
    Filtered,
}

/// A domain named in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedDomain {
    /// The request field it came from.
    pub field: &'static str,
    /// The normalized domain, or `None` when the field does not hold a valid one.
    pub domain: Option<DomainName>,
}

const API: &str = "/supportaccess.v1.SupportAccessService/";
const OPERATIONS: &str = "/google.longrunning.Operations/";

/// A policy of `supportaccess.v1.SupportAccessService`.
macro_rules! api {
    ($method:ident, $role:ident, $rule:expr) => {
        (
            concat!(
                "/supportaccess.v1.SupportAccessService/",
                stringify!($method)
            ),
            Policy {
                role: Role::$role,
                domains: $rule,
            },
        )
    };
}

/// A policy of `google.longrunning.Operations`.
macro_rules! operations {
    ($method:ident, $role:ident, $rule:expr) => {
        (
            concat!("/google.longrunning.Operations/", stringify!($method)),
            Policy {
                role: Role::$role,
                domains: $rule,
            },
        )
    };
}

/// Every RPC the service serves, by full method path.
pub static POLICIES: &[(&str, Policy)] = {
    use DomainRule::*;
    &[
        api!(CreateDomain, Admin, Request(create_domain)),
        api!(GetDomain, Viewer, Request(get_domain)),
        api!(ListDomains, Viewer, FilteredList),
        api!(UpdateDomain, Admin, Request(update_domain)),
        api!(DeleteDomain, Admin, Request(delete_domain)),
        api!(CreateStaffMember, Admin, EveryDomain),
        api!(BatchCreateStaffMembers, Admin, EveryDomain),
        api!(GetStaffMember, Viewer, NoDomain),
        api!(ListStaffMembers, Viewer, NoDomain),
        api!(UpdateStaffMember, Admin, EveryDomain),
        api!(DeleteStaffMember, Admin, EveryDomain),
        api!(
            ProvisionSupportAccess,
            Operator,
            Request(provision_support_access)
        ),
        api!(
            RevokeSupportAccess,
            Operator,
            Request(revoke_support_access)
        ),
        api!(
            AdoptSupportAccount,
            Operator,
            Request(adopt_support_account)
        ),
        api!(
            RegrantSupportAccess,
            Operator,
            Request(regrant_support_access)
        ),
        api!(ListDriftEvents, Viewer, Request(list_drift_events)),
        api!(GetDomainStatus, Viewer, Request(get_domain_status)),
        api!(ListSupportAccounts, Viewer, Request(list_support_accounts)),
        api!(ListOperationAccounts, Viewer, Handler),
        api!(ListPortalAccess, Viewer, Request(list_portal_access)),
        api!(ResolveSupportAccount, Viewer, Handler),
        api!(
            IssueSignInCredential,
            Operator,
            Request(issue_sign_in_credential)
        ),
        api!(ConfirmManualStep, Operator, Request(confirm_manual_step)),
        api!(ListAuditEvents, Viewer, Request(list_audit_events)),
        operations!(ListOperations, Viewer, FilteredList),
        operations!(GetOperation, Viewer, Handler),
        operations!(DeleteOperation, Operator, Handler),
        operations!(CancelOperation, Operator, Handler),
        operations!(WaitOperation, Viewer, Handler),
    ]
};

/// The policy of a method path (`/package.Service/Method`).
pub fn lookup(method: &str) -> Option<&'static Policy> {
    POLICIES
        .iter()
        .find(|(path, _)| *path == method)
        .map(|(_, policy)| policy)
}

/// How the gate treats a request path.
#[derive(Debug, Clone, Copy)]
pub enum Route {
    /// gRPC health: open to everyone, never limited (probes must get through).
    Health,
    /// Server reflection: open unless switched off.
    Reflection,
    /// Everything else: authenticated and authorized by its policy (refused without one).
    Api(Option<&'static Policy>),
}

/// Classifies a request path.
pub fn route(path: &str) -> Route {
    if path.starts_with("/grpc.health.v1.Health/") {
        Route::Health
    } else if path.starts_with("/grpc.reflection.v1.ServerReflection/")
        || path.starts_with("/grpc.reflection.v1alpha.ServerReflection/")
    {
        Route::Reflection
    } else {
        Route::Api(lookup(path))
    }
}

/// The service prefixes whose every method must have a policy.
pub const GUARDED_SERVICES: &[&str] = &[API, OPERATIONS];

fn facts(request_id: String, touches: Touches) -> RequestFacts {
    RequestFacts {
        request_id: Some(request_id).filter(|id| !id.is_empty()),
        touches,
    }
}

fn one<E>(field: &'static str, parsed: Result<DomainName, E>) -> Touches {
    Touches::Named(vec![NamedDomain {
        field,
        domain: parsed.ok(),
    }])
}

fn listed(field: &'static str, names: &[String]) -> Touches {
    if names.is_empty() {
        return Touches::Every;
    }
    Touches::Named(
        names
            .iter()
            .map(|name| NamedDomain {
                field,
                domain: parse_domain_resource(name).ok(),
            })
            .collect(),
    )
}

fn create_domain(body: &[u8]) -> Result<RequestFacts, DecodeError> {
    let r = v1::CreateDomainRequest::decode(body)?;
    let name = r.domain.map(|d| d.domain_name).unwrap_or_default();
    Ok(facts(
        r.request_id,
        one("domain.domain_name", DomainName::parse(&name)),
    ))
}

fn get_domain(body: &[u8]) -> Result<RequestFacts, DecodeError> {
    let r = v1::GetDomainRequest::decode(body)?;
    Ok(facts(
        String::new(),
        one("name", parse_domain_resource(&r.name)),
    ))
}

fn update_domain(body: &[u8]) -> Result<RequestFacts, DecodeError> {
    let r = v1::UpdateDomainRequest::decode(body)?;
    let name = r.domain.map(|d| d.name).unwrap_or_default();
    Ok(facts(
        r.request_id,
        one("domain.name", parse_domain_resource(&name)),
    ))
}

fn delete_domain(body: &[u8]) -> Result<RequestFacts, DecodeError> {
    let r = v1::DeleteDomainRequest::decode(body)?;
    Ok(facts(
        r.request_id,
        one("name", parse_domain_resource(&r.name)),
    ))
}

fn provision_support_access(body: &[u8]) -> Result<RequestFacts, DecodeError> {
    let r = v1::ProvisionSupportAccessRequest::decode(body)?;
    Ok(facts(r.request_id, listed("domains", &r.domains)))
}

fn revoke_support_access(body: &[u8]) -> Result<RequestFacts, DecodeError> {
    let r = v1::RevokeSupportAccessRequest::decode(body)?;
    Ok(facts(r.request_id, listed("domains", &r.domains)))
}

fn adopt_support_account(body: &[u8]) -> Result<RequestFacts, DecodeError> {
    let r = v1::AdoptSupportAccountRequest::decode(body)?;
    let domain = parse_support_account_resource(&r.name).map(|(domain, _)| domain);
    Ok(facts(r.request_id, one("name", domain)))
}

fn regrant_support_access(body: &[u8]) -> Result<RequestFacts, DecodeError> {
    let r = v1::RegrantSupportAccessRequest::decode(body)?;
    Ok(facts(r.request_id, listed("domains", &r.domains)))
}

fn list_drift_events(body: &[u8]) -> Result<RequestFacts, DecodeError> {
    let r = v1::ListDriftEventsRequest::decode(body)?;
    let touches = if r.parent == "domains/-" {
        Touches::Filtered
    } else {
        one("parent", parse_domain_resource(&r.parent))
    };
    Ok(facts(String::new(), touches))
}

fn get_domain_status(body: &[u8]) -> Result<RequestFacts, DecodeError> {
    let r = v1::GetDomainStatusRequest::decode(body)?;
    Ok(facts(
        String::new(),
        one("name", parse_domain_status_resource(&r.name)),
    ))
}

fn list_support_accounts(body: &[u8]) -> Result<RequestFacts, DecodeError> {
    let r = v1::ListSupportAccountsRequest::decode(body)?;
    let touches = if r.parent == "domains/-" {
        Touches::Filtered
    } else {
        one("parent", parse_domain_resource(&r.parent))
    };
    Ok(facts(String::new(), touches))
}

fn list_portal_access(body: &[u8]) -> Result<RequestFacts, DecodeError> {
    let r = v1::ListPortalAccessRequest::decode(body)?;
    Ok(facts(
        String::new(),
        one("parent", parse_domain_resource(&r.parent)),
    ))
}

fn issue_sign_in_credential(body: &[u8]) -> Result<RequestFacts, DecodeError> {
    let r = v1::IssueSignInCredentialRequest::decode(body)?;
    let domain = parse_support_account_resource(&r.name).map(|(domain, _)| domain);
    Ok(facts(r.request_id, one("name", domain)))
}

fn confirm_manual_step(body: &[u8]) -> Result<RequestFacts, DecodeError> {
    let r = v1::ConfirmManualStepRequest::decode(body)?;
    Ok(facts(
        r.request_id,
        one("domain", parse_domain_resource(&r.domain)),
    ))
}

fn list_audit_events(body: &[u8]) -> Result<RequestFacts, DecodeError> {
    let r = v1::ListAuditEventsRequest::decode(body)?;
    let touches = if r.domain.is_empty() {
        Touches::Filtered
    } else {
        one("domain", parse_domain_resource(&r.domain))
    };
    Ok(facts(String::new(), touches))
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use prost_types::FileDescriptorSet;

    use super::*;

    /// Every `/package.Service/Method` of the guarded services in the served descriptors.
    fn served_methods() -> Vec<String> {
        let set = FileDescriptorSet::decode(support_access_proto::FILE_DESCRIPTOR_SET).unwrap();
        let mut methods = Vec::new();
        for file in &set.file {
            for service in &file.service {
                let prefix = format!("/{}.{}/", file.package(), service.name());
                if GUARDED_SERVICES.contains(&prefix.as_str()) {
                    methods.extend(
                        service
                            .method
                            .iter()
                            .map(|m| format!("{prefix}{}", m.name())),
                    );
                }
            }
        }
        methods
    }

    #[test]
    fn no_policy_names_a_method_that_is_not_served() {
        let served = served_methods();
        for (path, _) in POLICIES {
            assert!(served.iter().any(|m| m == path), "stale policy for {path}");
        }
        let mut paths: Vec<&str> = POLICIES.iter().map(|(p, _)| *p).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), POLICIES.len(), "a method has two policies");
    }

    #[test]
    fn requests_name_their_domains() {
        let request = v1::ProvisionSupportAccessRequest {
            domains: vec!["domains/A.example".into(), "domains/".into()],
            request_id: "0b0c5a4e-5c0e-4a3e-8f8e-3d7f8d2f5b61".into(),
            ..Default::default()
        };
        let facts = provision_support_access(&request.encode_to_vec()).unwrap();
        assert_eq!(
            facts.request_id.as_deref(),
            Some("0b0c5a4e-5c0e-4a3e-8f8e-3d7f8d2f5b61")
        );
        let Touches::Named(named) = facts.touches else {
            panic!("expected named domains");
        };
        assert_eq!(
            named[0].domain.as_ref().map(|d| d.as_str()),
            Some("a.example")
        );
        assert_eq!(named[1].domain, None);

        let every = v1::RevokeSupportAccessRequest::default().encode_to_vec();
        assert_eq!(
            revoke_support_access(&every).unwrap().touches,
            Touches::Every
        );

        let wildcard = v1::ListSupportAccountsRequest {
            parent: "domains/-".into(),
            ..Default::default()
        };
        assert_eq!(
            list_support_accounts(&wildcard.encode_to_vec())
                .unwrap()
                .touches,
            Touches::Filtered
        );

        let account = v1::IssueSignInCredentialRequest {
            name: "domains/b.example/supportAccounts/alice".into(),
            ..Default::default()
        };
        let Touches::Named(named) = issue_sign_in_credential(&account.encode_to_vec())
            .unwrap()
            .touches
        else {
            panic!("expected a named domain");
        };
        assert_eq!(
            named[0].domain.as_ref().map(|d| d.as_str()),
            Some("b.example")
        );
        assert!(create_domain(b"\xff\xff").is_err());
    }

    #[test]
    fn every_mutation_needs_more_than_viewer() {
        for (path, policy) in POLICIES {
            let method = path.rsplit('/').next().unwrap();
            let reads = ["Get", "List", "Wait", "Resolve"]
                .iter()
                .any(|verb| method.starts_with(verb));
            assert_eq!(policy.mutates(), !reads, "{path}");
        }
    }

    #[test]
    fn health_and_reflection_are_routed_apart() {
        assert!(matches!(
            route("/grpc.health.v1.Health/Check"),
            Route::Health
        ));
        assert!(matches!(
            route("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"),
            Route::Reflection
        ));
        assert!(matches!(
            route("/supportaccess.v1.SupportAccessService/Nope"),
            Route::Api(None)
        ));
        assert!(matches!(
            route("/google.longrunning.Operations/GetOperation"),
            Route::Api(Some(_))
        ));
    }
}
