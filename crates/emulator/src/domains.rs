//! Directory API `domains` (get, list, insert, delete) and `domainAliases` (get, list): a
//! customer's primary domain, its secondary domains and the aliases of either.
//!
//! Google distinguishes the three: users live in the primary domain and in verified secondary
//! domains; an alias only adds addresses to the users of its parent domain. A domain added with
//! `domains.insert` stays unverified (verification is a DNS step Google offers no API for; the
//! seed or the control API stands in for it). Which errors Google returns for a bad domain call
//! is mostly undocumented: each choice is listed in the crate README, marked as a guess.

use chrono::Utc;
use serde_json::{Value, json};

use crate::api::{Ctx, Reply, directory_customer, put_list};
use crate::error::GoogleError;
use crate::ledger::Effect;
use crate::world::{Customer, DomainStanding, SecondaryDomain, World, body_str, with_etag};

fn domain_not_found() -> GoogleError {
    GoogleError::not_found("Domain not found.")
}

fn alias_not_found() -> GoogleError {
    GoogleError::not_found("Domain alias not found.")
}

/// The caller's customer named by the `customer` path value.
fn caller_customer<'w>(world: &'w World, ctx: &Ctx<'_>) -> Result<&'w Customer, GoogleError> {
    let id = directory_customer(world, ctx.grant, ctx.path_param("customer"))?;
    world
        .customer(&id)
        .ok_or_else(|| GoogleError::invalid("Invalid Customer Id"))
}

/// A syntactically valid DNS name: two or more labels of letters, digits and inner hyphens.
fn is_domain_name(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// `domains.get`: the primary or a secondary domain. An alias, or a domain of another
/// customer, is not one of this customer's domains: 404.
pub fn domains_get(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let customer = caller_customer(world, ctx)?;
    customer
        .domain_json(ctx.path_param("domainName"))
        .map(Reply::ok)
        .ok_or_else(domain_not_found)
}

/// `domains.list`: the primary domain first, then the secondary domains in the order added.
pub fn domains_list(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let customer = caller_customer(world, ctx)?;
    let names = std::iter::once(customer.domain.as_str())
        .chain(customer.secondary_domains.iter().map(|d| d.name.as_str()));
    let items: Vec<Value> = names.filter_map(|n| customer.domain_json(n)).collect();
    let mut envelope = json!({"kind": "admin#directory#domains"});
    put_list(&mut envelope, "domains", items);
    Ok(Reply::ok(with_etag(envelope)))
}

/// `domains.insert`: adds an unverified secondary domain. A name any customer already holds
/// (as a domain or an alias) is 409.
pub fn domains_insert(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let customer_id = caller_customer(world, ctx)?.id.clone();
    let name = body_str(ctx.body, "domainName")
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if !is_domain_name(&name) {
        return Err(GoogleError::invalid_input("domainName"));
    }
    if world.domain_owner(&name).is_some() {
        return Err(GoogleError::duplicate());
    }
    let customer = world
        .customer_mut(&customer_id)
        .ok_or_else(|| GoogleError::invalid("Invalid Customer Id"))?;
    customer.secondary_domains.push(SecondaryDomain {
        name: name.clone(),
        verified: false,
        creation_time: Utc::now(),
    });
    let json = customer.domain_json(&name).ok_or_else(domain_not_found)?;
    Ok(Reply::changed(
        json,
        vec![Effect::new("domain", "created", name)],
    ))
}

/// `domains.delete`: removes a secondary domain that no user and no alias still uses. The
/// primary domain cannot be deleted.
pub fn domains_delete(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let customer_id = caller_customer(world, ctx)?.id.clone();
    let name = ctx.path_param("domainName").to_ascii_lowercase();
    let customer = world
        .customer_mut(&customer_id)
        .ok_or_else(|| GoogleError::invalid("Invalid Customer Id"))?;
    match customer.domain_standing(&name) {
        Some(DomainStanding::Primary) => {
            return Err(GoogleError::invalid("Cannot delete primary domain"));
        }
        Some(DomainStanding::Secondary { .. }) => {}
        Some(DomainStanding::Alias) | None => return Err(domain_not_found()),
    }
    let suffix = format!("@{name}");
    let in_use = customer.users.iter().any(|u| {
        u.primary_email.ends_with(&suffix) || u.aliases.iter().any(|a| a.ends_with(&suffix))
    }) || customer.domain_aliases.iter().any(|a| a.parent == name);
    if in_use {
        return Err(GoogleError::invalid(
            "Domain is in use: remove its users and domain aliases first",
        ));
    }
    customer.secondary_domains.retain(|d| d.name != name);
    Ok(Reply::no_content(vec![Effect::new(
        "domain", "deleted", name,
    )]))
}

/// `domainAliases.get`.
pub fn domain_aliases_get(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let customer = caller_customer(world, ctx)?;
    let name = ctx.path_param("domainAliasName");
    customer
        .domain_aliases
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
        .map(|a| Reply::ok(customer.domain_alias_json(a)))
        .ok_or_else(alias_not_found)
}

/// `domainAliases.list`, optionally only the aliases of `parentDomainName` (which must be the
/// primary or a secondary domain of the customer).
pub fn domain_aliases_list(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let customer = caller_customer(world, ctx)?;
    let parent = match ctx.param("parentDomainName").filter(|p| !p.is_empty()) {
        Some(parent) => match customer.domain_standing(parent) {
            Some(DomainStanding::Primary | DomainStanding::Secondary { .. }) => {
                Some(parent.to_ascii_lowercase())
            }
            Some(DomainStanding::Alias) | None => return Err(domain_not_found()),
        },
        None => None,
    };
    let items: Vec<Value> = customer
        .domain_aliases
        .iter()
        .filter(|a| parent.as_ref().is_none_or(|p| &a.parent == p))
        .map(|a| customer.domain_alias_json(a))
        .collect();
    let mut envelope = json!({"kind": "admin#directory#domainAliases"});
    put_list(&mut envelope, "domainAliases", items);
    Ok(Reply::ok(with_etag(envelope)))
}

#[cfg(test)]
mod tests {
    use super::is_domain_name;

    #[test]
    fn domain_names_need_two_clean_labels() {
        assert!(is_domain_name("reseller-one-eu.example"));
        assert!(is_domain_name("a.b.example"));
        for bad in [
            "example",
            "-a.example",
            "a-.example",
            "a..example",
            "a b.example",
            "",
        ] {
            assert!(!is_domain_name(bad), "{bad:?} accepted");
        }
    }
}
