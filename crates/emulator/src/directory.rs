//! Directory API (`admin/directory/v1`) operations: users, customers, org units, roles,
//! privileges and role assignments, with Google's validation, errors and side effects.
//!
//! Side effects modelled: a new user gets the Cloud Identity Free site license (when the customer
//! subscribes to it, and the user cap is not reached) and, when automatic licensing is on for its
//! org unit, a paid Workspace license; deleting a user drops its licenses and role assignments;
//! renaming or moving an org unit moves its descendants and their users.

use serde_json::{Map, Value, json};

use crate::api::{Ctx, Reply, directory_customer, paginate, put_list};
use crate::error::GoogleError;
use crate::knobs::{DuplicateRoleAssignment, Profile, Propagation, UnpropagatedCall};
use crate::ledger::Effect;
use crate::seed::{CLOUD_IDENTITY_FREE_SKU_ID, CLOUD_IDENTITY_PRODUCT_ID, WORKSPACE_PRODUCT_ID};
use crate::world::{
    Customer, DomainStanding, License, OrgUnit, Role, RoleAssignment, User, World, body_str,
    expect_bool, flatten_privileges, new_int64_id, new_org_unit_id, new_user_id, normalize_path,
    with_etag,
};

/// User fields stored as given and returned as stored (`null` clears them on update).
const PASS_THROUGH_USER_FIELDS: &[&str] = &[
    "addresses",
    "customSchemas",
    "emails",
    "externalIds",
    "gender",
    "ims",
    "keywords",
    "languages",
    "locations",
    "notes",
    "organizations",
    "phones",
    "posixAccounts",
    "recoveryEmail",
    "recoveryPhone",
    "relations",
    "sshPublicKeys",
    "websites",
];

const MAX_NAME_LENGTH: usize = 60;
const HASH_FUNCTIONS: &[&str] = &["MD5", "SHA-1", "crypt"];

fn customer_mut<'w>(world: &'w mut World, id: &str) -> Result<&'w mut Customer, GoogleError> {
    world
        .customer_mut(id)
        .ok_or_else(|| GoogleError::invalid("Invalid Customer Id"))
}

fn user_key_not_found() -> GoogleError {
    GoogleError::not_found("Resource Not Found: userKey")
}

/// Finds a user by key in the caller's customer: `(customer id, index)`. A user of another
/// customer is 403, an unknown user 404.
fn caller_user(world: &World, ctx: &Ctx<'_>, key: &str) -> Result<(String, usize), GoogleError> {
    let (customer_id, index) = world
        .find_user_anywhere(key)
        .ok_or_else(user_key_not_found)?;
    if customer_id != ctx.grant.customer_id {
        return Err(GoogleError::forbidden());
    }
    Ok((customer_id, index))
}

/// The customer in which an address at `domain` may be a user's primary email: the caller's,
/// when `domain` is its primary domain or one of its verified secondary domains. An unknown
/// domain is 404, another customer's 403; an unverified secondary domain or a domain alias
/// holds no users, so it is refused like a bad address (400).
fn customer_of_address(world: &World, ctx: &Ctx<'_>, domain: &str) -> Result<String, GoogleError> {
    let (customer, standing) = world
        .domain_owner(domain)
        .ok_or_else(|| GoogleError::not_found("Domain not found."))?;
    if customer.id != ctx.grant.customer_id {
        return Err(GoogleError::forbidden());
    }
    if !standing.holds_users() {
        return Err(GoogleError::invalid_input("primary_user_email"));
    }
    Ok(customer.id.clone())
}

fn check_name(value: Option<&str>, label: &str) -> Result<(), GoogleError> {
    if let Some(name) = value
        && (name.trim().is_empty() || name.chars().count() > MAX_NAME_LENGTH)
    {
        return Err(GoogleError::invalid(format!(
            "Invalid Given/Family Name: {label}"
        )));
    }
    Ok(())
}

fn check_password(body: &Value) -> Result<(), GoogleError> {
    let hash_function = body_str(body, "hashFunction");
    if let Some(function) = hash_function
        && !HASH_FUNCTIONS.contains(&function)
    {
        return Err(GoogleError::invalid_input("hashFunction"));
    }
    if let Some(password) = body_str(body, "password")
        && hash_function.is_none()
        && !(8..=100).contains(&password.chars().count())
    {
        return Err(GoogleError::invalid("Invalid Password"));
    }
    Ok(())
}

/// `users.insert`.
pub fn users_insert(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    // Drawn first, while the world is not borrowed: when Licensing and role assignment will
    // see the new user (realistic profile only).
    let propagation = (ctx.knobs.profile == Profile::Realistic).then(|| {
        let settings = &ctx.knobs.propagation;
        (
            settings.draw(&settings.licensing, &mut world.rng),
            settings.draw(&settings.roles, &mut world.rng),
        )
    });
    let body = ctx.body;
    let email = body_str(body, "primaryEmail")
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let Some((local, domain)) = email.split_once('@') else {
        return Err(GoogleError::invalid_input("primary_user_email"));
    };
    if local.is_empty() || domain.contains('@') || !domain.contains('.') {
        return Err(GoogleError::invalid_input("primary_user_email"));
    }
    let customer_id = customer_of_address(world, ctx, domain)?;
    if world.find_user_anywhere(&email).is_some() {
        return Err(GoogleError::duplicate());
    }
    let given_name = body["name"]["givenName"].as_str().unwrap_or_default();
    let family_name = body["name"]["familyName"].as_str().unwrap_or_default();
    check_name(Some(given_name), "GivenName")?;
    check_name(Some(family_name), "FamilyName")?;
    check_password(body)?;
    let org_unit_path = match body_str(body, "orgUnitPath") {
        Some(path) => {
            normalize_path(path).ok_or_else(|| GoogleError::invalid_input("INVALID_OU_ID"))?
        }
        None => "/".to_owned(),
    };
    let suspended = expect_bool(body, "suspended")?.unwrap_or(false);
    let change_password = expect_bool(body, "changePasswordAtNextLogin")?.unwrap_or(false);
    let archived = expect_bool(body, "archived")?.unwrap_or(false);
    let in_gal = expect_bool(body, "includeInGlobalAddressList")?.unwrap_or(true);
    let customer = customer_mut(world, &customer_id)?;
    if !customer.org_unit_exists(&org_unit_path) {
        return Err(GoogleError::invalid_input("INVALID_OU_ID"));
    }
    let site_license = customer.site_license().cloned();
    if let Some(site) = &site_license
        && customer.licenses_used(&site.product_id, &site.sku_id) >= site.seats as usize
    {
        return Err(GoogleError::new(
            403,
            "limitExceeded",
            "User creation failed: the domain has reached its Cloud Identity user limit.",
        ));
    }
    let mut extra = Map::new();
    for field in PASS_THROUGH_USER_FIELDS {
        if let Some(value) = body.get(*field)
            && !value.is_null()
        {
            extra.insert((*field).to_owned(), value.clone());
        }
    }
    let user = User {
        id: new_user_id(),
        primary_email: email.clone(),
        given_name: given_name.to_owned(),
        family_name: family_name.to_owned(),
        org_unit_path: org_unit_path.clone(),
        suspended,
        archived,
        change_password_at_next_login: change_password,
        include_in_global_address_list: in_gal,
        creation_time: chrono::Utc::now(),
        created_at: Some(ctx.now),
        licensing_visible_at: propagation.map(|(licensing, _)| ctx.now + licensing),
        roles_visible_at: propagation.map(|(_, roles)| ctx.now + roles),
        aliases: Vec::new(),
        extra,
    };
    let user_id = user.id.clone();
    let mut effects = vec![Effect::new("user", "created", email.clone())];
    customer.users.push(user);
    if let Some(site) = &site_license {
        customer.licenses.push(License {
            product_id: site.product_id.clone(),
            sku_id: site.sku_id.clone(),
            user_id: user_id.clone(),
        });
        effects.push(Effect::caused(
            "licenseAssignment",
            "created",
            format!("{}/{}/{email}", site.product_id, site.sku_id),
            "site license",
        ));
    }
    if customer.automatic_licensing_of(&org_unit_path) {
        let paid = customer
            .subscriptions
            .iter()
            .find(|s| {
                s.product_id == WORKSPACE_PRODUCT_ID
                    && customer.licenses_used(&s.product_id, &s.sku_id) < s.seats as usize
            })
            .cloned();
        if let Some(paid) = paid {
            customer.licenses.push(License {
                product_id: paid.product_id.clone(),
                sku_id: paid.sku_id.clone(),
                user_id: user_id.clone(),
            });
            effects.push(Effect::caused(
                "licenseAssignment",
                "created",
                format!("{}/{}/{email}", paid.product_id, paid.sku_id),
                "automatic licensing",
            ));
        }
    }
    let index = customer.users.len() - 1;
    let json = customer.user_json(&customer.users[index]);
    Ok(Reply::changed(json, effects))
}

/// `users.get`.
pub fn users_get(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let key = ctx.path_param("userKey");
    let (customer_id, index) = caller_user(world, ctx, key)?;
    let customer = customer_mut(world, &customer_id)?;
    let user = &customer.users[index];
    let consistency = &ctx.knobs.consistency;
    if consistency.hide_from_users_get
        && user.is_propagating(ctx.now, consistency.user_propagation_ms)
    {
        return Err(user_key_not_found());
    }
    Ok(Reply::ok(customer.user_json(user)))
}

/// One term of a `users.list` query: `field`, operator (`:` or `=`), value.
struct QueryTerm {
    field: String,
    exact: bool,
    value: String,
}

fn parse_user_query(query: &str) -> Result<Vec<QueryTerm>, GoogleError> {
    let mut terms = Vec::new();
    let chars: Vec<char> = query.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let start = i;
        while i < chars.len() && chars[i] != ':' && chars[i] != '=' && !chars[i].is_whitespace() {
            i += 1;
        }
        if i >= chars.len() || chars[i].is_whitespace() {
            return Err(GoogleError::invalid_input(&format!(
                "query term {:?} has no operator",
                chars[start..i].iter().collect::<String>()
            )));
        }
        let field: String = chars[start..i].iter().collect();
        let exact = chars[i] == '=';
        i += 1;
        let value = if i < chars.len() && (chars[i] == '\'' || chars[i] == '"') {
            let quote = chars[i];
            i += 1;
            let value_start = i;
            while i < chars.len() && chars[i] != quote {
                i += 1;
            }
            if i >= chars.len() {
                return Err(GoogleError::invalid_input("unterminated quote in query"));
            }
            let value: String = chars[value_start..i].iter().collect();
            i += 1;
            value
        } else {
            let value_start = i;
            while i < chars.len() && !chars[i].is_whitespace() {
                i += 1;
            }
            chars[value_start..i].iter().collect()
        };
        terms.push(QueryTerm {
            field,
            exact,
            value,
        });
    }
    Ok(terms)
}

fn text_matches(actual: &str, term: &QueryTerm) -> bool {
    let actual = actual.to_ascii_lowercase();
    let wanted = term.value.to_ascii_lowercase();
    match wanted.strip_suffix('*') {
        Some(prefix) if !term.exact => actual.starts_with(prefix),
        _ if term.exact => actual == wanted,
        _ => actual == wanted || actual.split(['@', ' ']).any(|word| word == wanted),
    }
}

fn user_matches(
    customer: &Customer,
    user: &User,
    terms: &[QueryTerm],
) -> Result<bool, GoogleError> {
    for term in terms {
        let bool_value = || match term.value.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(GoogleError::invalid_input(&format!(
                "{} must be true or false",
                term.field
            ))),
        };
        let matched = match term.field.as_str() {
            "email" => {
                text_matches(&user.primary_email, term)
                    || user.aliases.iter().any(|a| text_matches(a, term))
            }
            "givenName" => text_matches(&user.given_name, term),
            "familyName" => text_matches(&user.family_name, term),
            "name" => text_matches(&format!("{} {}", user.given_name, user.family_name), term),
            "orgUnitPath" => {
                // Google: "This matches all org unit chains under the target."
                let wanted = normalize_path(&term.value)
                    .ok_or_else(|| GoogleError::invalid_input("orgUnitPath"))?;
                wanted == "/"
                    || user.org_unit_path == wanted
                    || user.org_unit_path.starts_with(&format!("{wanted}/"))
            }
            "isSuspended" => user.suspended == bool_value()?,
            "isArchived" => user.archived == bool_value()?,
            "isAdmin" => customer.is_super_admin(&user.id) == bool_value()?,
            "isDelegatedAdmin" => customer.is_delegated_admin(&user.id) == bool_value()?,
            "id" => user.id == term.value,
            other => {
                return Err(GoogleError::invalid_input(&format!(
                    "unknown query field {other}"
                )));
            }
        };
        if !matched {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `users.list`.
pub fn users_list(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let customer_id = match (ctx.param("customer"), ctx.param("domain")) {
        (None, None) => return Err(GoogleError::bad_request()),
        (Some(customer), _) => directory_customer(world, ctx.grant, customer)?,
        (None, Some(domain)) => {
            // Any domain of the customer but an alias (whose addresses are only aliases).
            let customer = match world.domain_owner(domain) {
                Some((customer, standing)) if standing != DomainStanding::Alias => customer,
                _ => return Err(GoogleError::not_found("Domain not found.")),
            };
            if customer.id != ctx.grant.customer_id {
                return Err(GoogleError::forbidden());
            }
            customer.id.clone()
        }
    };
    let domain_filter = ctx.param("domain").map(str::to_ascii_lowercase);
    let terms = parse_user_query(ctx.param("query").unwrap_or_default())?;
    let customer = customer_mut(world, &customer_id)?;
    let mut users: Vec<&User> = Vec::new();
    for user in &customer.users {
        if let Some(domain) = &domain_filter
            && !user.primary_email.ends_with(&format!("@{domain}"))
        {
            continue;
        }
        let indexed =
            terms.is_empty() || !user.is_propagating(ctx.now, ctx.knobs.consistency.search_lag_ms);
        if indexed && user_matches(customer, user, &terms)? {
            users.push(user);
        }
    }
    match ctx.param("orderBy") {
        Some("givenName") => users.sort_by(|a, b| a.given_name.cmp(&b.given_name)),
        Some("familyName") => users.sort_by(|a, b| a.family_name.cmp(&b.family_name)),
        _ => users.sort_by(|a, b| a.primary_email.cmp(&b.primary_email)),
    }
    if ctx.param("sortOrder") == Some("DESCENDING") {
        users.reverse();
    }
    let (page, next) = paginate(users, ctx, 100)?;
    let mut envelope = json!({"kind": "admin#directory#users"});
    put_list(
        &mut envelope,
        "users",
        page.into_iter().map(|u| customer.user_json(u)).collect(),
    );
    if let Some(token) = next {
        envelope["nextPageToken"] = json!(token);
    }
    Ok(Reply::ok(with_etag(envelope)))
}

/// `users.update` (PUT) and `users.patch`: both keep absent fields, as Google does.
pub fn users_update(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let key = ctx.path_param("userKey");
    let (customer_id, index) = caller_user(world, ctx, key)?;
    let consistency = &ctx.knobs.consistency;
    let body = ctx.body;
    if !body.is_object() {
        return Err(GoogleError::invalid("Invalid JSON payload received."));
    }
    let new_email = match body_str(body, "primaryEmail") {
        Some(email) => {
            let email = email.trim().to_ascii_lowercase();
            let Some((_, domain)) = email.split_once('@') else {
                return Err(GoogleError::invalid_input("primary_user_email"));
            };
            customer_of_address(world, ctx, domain)?;
            if let Some(holder) = world.find_user_anywhere(&email)
                && holder != (customer_id.clone(), index)
            {
                return Err(GoogleError::duplicate());
            }
            Some(email)
        }
        None => None,
    };
    check_name(body["name"]["givenName"].as_str(), "GivenName")?;
    check_name(body["name"]["familyName"].as_str(), "FamilyName")?;
    check_password(body)?;
    let suspended = expect_bool(body, "suspended")?;
    let change_password = expect_bool(body, "changePasswordAtNextLogin")?;
    let archived = expect_bool(body, "archived")?;
    let in_gal = expect_bool(body, "includeInGlobalAddressList")?;
    let customer = customer_mut(world, &customer_id)?;
    if customer.users[index].is_propagating(ctx.now, consistency.user_propagation_ms) {
        return Err(consistency.user_update_response.error(key));
    }
    let org_unit_path = match body_str(body, "orgUnitPath") {
        Some(path) => {
            let path =
                normalize_path(path).ok_or_else(|| GoogleError::invalid_input("INVALID_OU_ID"))?;
            if !customer.org_unit_exists(&path) {
                return Err(GoogleError::invalid_input("INVALID_OU_ID"));
            }
            Some(path)
        }
        None => None,
    };
    let user = &mut customer.users[index];
    let old_email = user.primary_email.clone();
    if let Some(email) = new_email
        && email != user.primary_email
    {
        // Google keeps the old address as an alias after a rename.
        user.aliases.push(user.primary_email.clone());
        user.primary_email = email;
    }
    if let Some(given) = body["name"]["givenName"].as_str() {
        user.given_name = given.to_owned();
    }
    if let Some(family) = body["name"]["familyName"].as_str() {
        user.family_name = family.to_owned();
    }
    if let Some(path) = org_unit_path {
        user.org_unit_path = path;
    }
    if let Some(value) = suspended {
        user.suspended = value;
    }
    if let Some(value) = change_password {
        user.change_password_at_next_login = value;
    }
    if let Some(value) = archived {
        user.archived = value;
    }
    if let Some(value) = in_gal {
        user.include_in_global_address_list = value;
    }
    for field in PASS_THROUGH_USER_FIELDS {
        match body.get(*field) {
            Some(Value::Null) => {
                user.extra.remove(*field);
            }
            Some(value) => {
                user.extra.insert((*field).to_owned(), value.clone());
            }
            None => {}
        }
    }
    let json = customer.user_json(&customer.users[index]);
    Ok(Reply::changed(
        json,
        vec![Effect::new("user", "updated", old_email)],
    ))
}

/// `users.delete`: also drops the user's licenses and role assignments.
pub fn users_delete(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let key = ctx.path_param("userKey");
    let (customer_id, index) = caller_user(world, ctx, key)?;
    let customer = customer_mut(world, &customer_id)?;
    let user = customer.users.remove(index);
    let mut effects = vec![Effect::new("user", "deleted", user.primary_email.clone())];
    let role_names: std::collections::HashMap<String, String> = customer
        .roles
        .iter()
        .map(|r| (r.id.clone(), r.name.clone()))
        .collect();
    customer.licenses.retain(|license| {
        let keep = license.user_id != user.id;
        if !keep {
            effects.push(Effect::caused(
                "licenseAssignment",
                "deleted",
                format!(
                    "{}/{}/{}",
                    license.product_id, license.sku_id, user.primary_email
                ),
                "user deleted",
            ));
        }
        keep
    });
    customer.role_assignments.retain(|assignment| {
        let keep = assignment.assigned_to != user.id;
        if !keep {
            effects.push(Effect::caused(
                "roleAssignment",
                "deleted",
                format!(
                    "{}/{}",
                    role_names
                        .get(&assignment.role_id)
                        .cloned()
                        .unwrap_or_default(),
                    user.primary_email
                ),
                "user deleted",
            ));
        }
        keep
    });
    Ok(Reply::no_content(effects))
}

/// `users.makeAdmin`: grants or removes `_SEED_ADMIN_ROLE`.
pub fn users_make_admin(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let key = ctx.path_param("userKey");
    let status = expect_bool(ctx.body, "status")?.ok_or_else(|| GoogleError::required("status"))?;
    let (customer_id, index) = caller_user(world, ctx, key)?;
    let consistency = &ctx.knobs.consistency;
    let customer = customer_mut(world, &customer_id)?;
    let user = customer.users[index].clone();
    if user.is_propagating(ctx.now, consistency.user_propagation_ms) {
        return Err(consistency.user_update_response.error(key));
    }
    let role_id = customer.super_admin_role_id();
    let effect_key = format!(
        "{}/{}",
        crate::world::SUPER_ADMIN_ROLE_NAME,
        user.primary_email
    );
    let mut effects = Vec::new();
    let holds = customer.is_super_admin(&user.id);
    if status && !holds {
        customer.role_assignments.push(RoleAssignment {
            id: new_int64_id(),
            role_id,
            assigned_to: user.id.clone(),
            scope_type: "CUSTOMER".to_owned(),
            org_unit_id: None,
            condition: None,
        });
        effects.push(Effect::new("roleAssignment", "created", effect_key));
    } else if !status && holds {
        customer
            .role_assignments
            .retain(|a| !(a.assigned_to == user.id && a.role_id == role_id));
        effects.push(Effect::new("roleAssignment", "deleted", effect_key));
    }
    Ok(Reply::no_content(effects))
}

/// `customers.get`.
pub fn customers_get(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let key = ctx.path_param("customerKey");
    if key != "my_customer" && key != ctx.grant.customer_id {
        if world.customer_by_key(key).is_some() {
            return Err(GoogleError::forbidden());
        }
        return Err(GoogleError::not_found("Resource Not Found: customerKey"));
    }
    let customer = customer_mut(world, &ctx.grant.customer_id)?;
    Ok(Reply::ok(customer.customer_json()))
}

/// The org unit path named by an `{+orgUnitPath}` value (`A/B`, `/A/B` or `id:…`).
fn org_unit_path_param(customer: &Customer, raw: &str) -> Result<String, GoogleError> {
    if raw.starts_with("id:") {
        return customer
            .org_unit_path_by_id(raw)
            .ok_or_else(|| GoogleError::not_found("Org unit not found"));
    }
    let path = normalize_path(&format!("/{}", raw.trim_start_matches('/')))
        .ok_or_else(|| GoogleError::invalid("Invalid Org Unit"))?;
    if customer.org_unit_exists(&path) {
        Ok(path)
    } else {
        Err(GoogleError::not_found("Org unit not found"))
    }
}

/// Resolves a parent given as `parentOrgUnitPath` or `parentOrgUnitId`.
fn parent_from_body(customer: &Customer, body: &Value) -> Result<Option<String>, GoogleError> {
    if let Some(id) = body_str(body, "parentOrgUnitId") {
        return customer
            .org_unit_path_by_id(id)
            .map(Some)
            .ok_or_else(|| GoogleError::invalid("Invalid Parent Orgunit Id"));
    }
    if let Some(path) = body_str(body, "parentOrgUnitPath") {
        let path = normalize_path(path)
            .ok_or_else(|| GoogleError::invalid("Invalid Parent Orgunit Id"))?;
        if !customer.org_unit_exists(&path) {
            return Err(GoogleError::invalid("Invalid Parent Orgunit Id"));
        }
        return Ok(Some(path));
    }
    Ok(None)
}

fn check_org_unit_name(name: &str) -> Result<(), GoogleError> {
    if name.trim().is_empty() || name.contains('/') || name.chars().count() > 255 {
        return Err(GoogleError::invalid("Invalid Org Unit"));
    }
    Ok(())
}

/// `orgunits.insert`. An existing path answers 400 "Invalid Ou Id" (what GAM reads as
/// "already exists").
pub fn orgunits_insert(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let customer_id = directory_customer(world, ctx.grant, ctx.path_param("customerId"))?;
    let customer = customer_mut(world, &customer_id)?;
    let name = body_str(ctx.body, "name").unwrap_or_default().to_owned();
    check_org_unit_name(&name)?;
    let parent = parent_from_body(customer, ctx.body)?
        .ok_or_else(|| GoogleError::invalid("Invalid Parent Orgunit Id"))?;
    let path = if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    };
    if customer.org_unit(&path).is_some() {
        return Err(GoogleError::invalid("Invalid Ou Id"));
    }
    let unit = OrgUnit {
        id: new_org_unit_id(),
        path: path.clone(),
        name,
        description: body_str(ctx.body, "description").map(str::to_owned),
        automatic_licensing: None,
    };
    customer.org_units.push(unit.clone());
    Ok(Reply::changed(
        customer.org_unit_json(Some(&unit)),
        vec![Effect::new("orgUnit", "created", path)],
    ))
}

/// `orgunits.get`.
pub fn orgunits_get(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let customer_id = directory_customer(world, ctx.grant, ctx.path_param("customerId"))?;
    let customer = customer_mut(world, &customer_id)?;
    let path = org_unit_path_param(customer, ctx.path_param("orgUnitPath"))?;
    Ok(Reply::ok(customer.org_unit_json(customer.org_unit(&path))))
}

/// `orgunits.list` (`type` = `children` by default, `all`, `allIncludingParent`).
pub fn orgunits_list(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let customer_id = directory_customer(world, ctx.grant, ctx.path_param("customerId"))?;
    let customer = customer_mut(world, &customer_id)?;
    let parent = match ctx.param("orgUnitPath").filter(|p| !p.is_empty()) {
        Some(raw) => org_unit_path_param(customer, raw)?,
        None => "/".to_owned(),
    };
    let kind = ctx.param("type").unwrap_or("children");
    let prefix = if parent == "/" {
        "/".to_owned()
    } else {
        format!("{parent}/")
    };
    let mut units: Vec<&OrgUnit> = customer
        .org_units
        .iter()
        .filter(|u| match kind {
            "children" => u.parent_path() == parent,
            _ => u.path.starts_with(&prefix),
        })
        .collect();
    units.sort_by(|a, b| a.path.cmp(&b.path));
    let mut items: Vec<Value> = Vec::new();
    if kind == "allIncludingParent" {
        items.push(customer.org_unit_json(customer.org_unit(&parent)));
    }
    items.extend(units.into_iter().map(|u| customer.org_unit_json(Some(u))));
    let mut envelope = json!({"kind": "admin#directory#orgUnits"});
    put_list(&mut envelope, "organizationUnits", items);
    Ok(Reply::ok(with_etag(envelope)))
}

/// `orgunits.update` and `orgunits.patch`: rename, move, describe.
pub fn orgunits_patch(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let customer_id = directory_customer(world, ctx.grant, ctx.path_param("customerId"))?;
    let customer = customer_mut(world, &customer_id)?;
    let old_path = org_unit_path_param(customer, ctx.path_param("orgUnitPath"))?;
    if old_path == "/" {
        return Err(GoogleError::invalid("Invalid Org Unit"));
    }
    let unit = customer
        .org_unit(&old_path)
        .cloned()
        .ok_or_else(|| GoogleError::not_found("Org unit not found"))?;
    let name = match body_str(ctx.body, "name") {
        Some(name) => {
            check_org_unit_name(name)?;
            name.to_owned()
        }
        None => unit.name.clone(),
    };
    let parent = parent_from_body(customer, ctx.body)?.unwrap_or_else(|| unit.parent_path());
    if parent == old_path || parent.starts_with(&format!("{old_path}/")) {
        return Err(GoogleError::invalid("Invalid Parent Orgunit Id"));
    }
    let new_path = if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    };
    if new_path != old_path && customer.org_unit(&new_path).is_some() {
        return Err(GoogleError::invalid("Invalid Ou Id"));
    }
    let rebase = |path: &str| -> Option<String> {
        if path == old_path {
            Some(new_path.clone())
        } else {
            path.strip_prefix(&format!("{old_path}/"))
                .map(|rest| format!("{new_path}/{rest}"))
        }
    };
    for other in &mut customer.org_units {
        if let Some(path) = rebase(&other.path) {
            other.path = path;
        }
    }
    for user in &mut customer.users {
        if let Some(path) = rebase(&user.org_unit_path) {
            user.org_unit_path = path;
        }
    }
    let updated = customer
        .org_units
        .iter_mut()
        .find(|u| u.id == unit.id)
        .ok_or_else(|| GoogleError::not_found("Org unit not found"))?;
    updated.name = name;
    if let Some(description) = ctx.body.get("description") {
        updated.description = description.as_str().map(str::to_owned);
    }
    let updated = updated.clone();
    Ok(Reply::changed(
        customer.org_unit_json(Some(&updated)),
        vec![Effect::new("orgUnit", "updated", old_path)],
    ))
}

/// `orgunits.delete`: only an empty unit without children.
pub fn orgunits_delete(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let customer_id = directory_customer(world, ctx.grant, ctx.path_param("customerId"))?;
    let customer = customer_mut(world, &customer_id)?;
    let path = org_unit_path_param(customer, ctx.path_param("orgUnitPath"))?;
    if path == "/" {
        return Err(GoogleError::invalid("Invalid Org Unit"));
    }
    let prefix = format!("{path}/");
    if customer.users.iter().any(|u| u.org_unit_path == path)
        || customer
            .org_units
            .iter()
            .any(|u| u.path.starts_with(&prefix))
    {
        return Err(GoogleError::new(
            400,
            "failedPrecondition",
            "Org unit is not empty: it holds users or child org units.",
        ));
    }
    customer.org_units.retain(|u| u.path != path);
    Ok(Reply::no_content(vec![Effect::new(
        "orgUnit", "deleted", path,
    )]))
}

fn role_not_found() -> GoogleError {
    GoogleError::not_found("Role not found")
}

/// `roles.list`.
pub fn roles_list(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let customer_id = directory_customer(world, ctx.grant, ctx.path_param("customer"))?;
    let customer = customer_mut(world, &customer_id)?;
    let (page, next) = paginate(customer.roles.iter().collect(), ctx, 100)?;
    let mut envelope = json!({"kind": "admin#directory#roles"});
    put_list(
        &mut envelope,
        "items",
        page.into_iter().map(Customer::role_json).collect(),
    );
    if let Some(token) = next {
        envelope["nextPageToken"] = json!(token);
    }
    Ok(Reply::ok(with_etag(envelope)))
}

/// `roles.get`.
pub fn roles_get(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let customer_id = directory_customer(world, ctx.grant, ctx.path_param("customer"))?;
    let customer = customer_mut(world, &customer_id)?;
    let role = customer
        .roles
        .iter()
        .find(|r| r.id == ctx.path_param("roleId"))
        .ok_or_else(role_not_found)?;
    Ok(Reply::ok(Customer::role_json(role)))
}

/// `roles.insert`: a custom role from privileges of `roles/ALL/privileges`.
pub fn roles_insert(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let customer_id = directory_customer(world, ctx.grant, ctx.path_param("customer"))?;
    let customer = customer_mut(world, &customer_id)?;
    let name = body_str(ctx.body, "roleName")
        .unwrap_or_default()
        .to_owned();
    let requested = ctx.body["rolePrivileges"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let known = flatten_privileges(&customer.privileges);
    let mut privileges = Vec::new();
    for item in &requested {
        let privilege_name = item["privilegeName"].as_str().unwrap_or_default();
        let service_id = item["serviceId"].as_str().unwrap_or_default();
        if !known
            .iter()
            .any(|node| node.name == privilege_name && node.service_id == service_id)
        {
            return Err(GoogleError::invalid(format!(
                "Invalid Input: privilege {privilege_name} of service {service_id} does not exist"
            )));
        }
        let pair = (privilege_name.to_owned(), service_id.to_owned());
        if !privileges.contains(&pair) {
            privileges.push(pair);
        }
    }
    if customer.roles.iter().any(|r| r.name == name) {
        return Err(GoogleError::duplicate());
    }
    let role = Role {
        id: new_int64_id(),
        name: name.clone(),
        description: body_str(ctx.body, "roleDescription").map(str::to_owned),
        privileges,
        is_system: false,
        is_super_admin: false,
    };
    let json = Customer::role_json(&role);
    customer.roles.push(role);
    Ok(Reply::changed(
        json,
        vec![Effect::new("role", "created", name)],
    ))
}

/// `roles.delete`: custom roles without assignments only.
pub fn roles_delete(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let customer_id = directory_customer(world, ctx.grant, ctx.path_param("customer"))?;
    let customer = customer_mut(world, &customer_id)?;
    let role_id = ctx.path_param("roleId");
    let role = customer
        .roles
        .iter()
        .find(|r| r.id == role_id)
        .cloned()
        .ok_or_else(role_not_found)?;
    if role.is_system {
        return Err(GoogleError::invalid("Cannot delete a system role."));
    }
    if customer
        .role_assignments
        .iter()
        .any(|a| a.role_id == role_id)
    {
        return Err(GoogleError::new(
            400,
            "failedPrecondition",
            "Cannot delete a role that is still assigned.",
        ));
    }
    customer.roles.retain(|r| r.id != role_id);
    Ok(Reply::no_content(vec![Effect::new(
        "role", "deleted", role.name,
    )]))
}

/// `privileges.list`: the privilege tree.
pub fn privileges_list(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let customer_id = directory_customer(world, ctx.grant, ctx.path_param("customer"))?;
    let customer = customer_mut(world, &customer_id)?;
    let mut envelope = json!({"kind": "admin#directory#privileges"});
    put_list(
        &mut envelope,
        "items",
        customer
            .privileges
            .iter()
            .map(Customer::privilege_json)
            .collect(),
    );
    Ok(Reply::ok(with_etag(envelope)))
}

fn assignment_not_found() -> GoogleError {
    GoogleError::not_found("Does not exist")
}

/// `roleAssignments.insert`.
pub fn role_assignments_insert(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let customer_id = directory_customer(world, ctx.grant, ctx.path_param("customer"))?;
    let consistency = &ctx.knobs.consistency;
    // `assignedTo` may also be a service account's unique id (a delegated admin service account).
    let service_account_holder = body_str(ctx.body, "assignedTo")
        .and_then(|id| world.account(id).filter(|a| a.client_id == id))
        .map(|a| (a.client_id.clone(), a.client_email.clone()));
    let customer = customer_mut(world, &customer_id)?;
    let body = ctx.body;
    let role_id = body_str(body, "roleId").unwrap_or_default();
    if role_id.is_empty() {
        return Err(GoogleError::required("roleId"));
    }
    let role = customer
        .roles
        .iter()
        .find(|r| r.id == role_id)
        .cloned()
        .ok_or_else(role_not_found)?;
    let assigned_to = body_str(body, "assignedTo").unwrap_or_default();
    if assigned_to.is_empty() {
        return Err(GoogleError::required("assignedTo"));
    }
    let (holder_id, holder_email) = match customer.users.iter().find(|u| u.id == assigned_to) {
        Some(user) => {
            if user.is_propagating(ctx.now, consistency.user_propagation_ms) {
                return Err(consistency.role_response.error(assigned_to));
            }
            if user.hidden_from_roles(ctx.now) {
                return Err(Propagation::transient_error(
                    UnpropagatedCall::RoleAssignmentInsert,
                    &mut world.rng,
                ));
            }
            (user.id.clone(), user.primary_email.clone())
        }
        None => service_account_holder.ok_or_else(|| GoogleError::invalid_input("assignedTo"))?,
    };
    let scope_type = body_str(body, "scopeType").unwrap_or("CUSTOMER").to_owned();
    let org_unit_id = match scope_type.as_str() {
        "CUSTOMER" => None,
        "ORG_UNIT" => {
            let raw =
                body_str(body, "orgUnitId").ok_or_else(|| GoogleError::required("orgUnitId"))?;
            if customer.org_unit_path_by_id(raw).is_none() {
                return Err(GoogleError::invalid("Invalid Ou Id"));
            }
            let known = flatten_privileges(&customer.privileges);
            let scopable = role.privileges.iter().all(|(name, service)| {
                known
                    .iter()
                    .any(|n| &n.name == name && &n.service_id == service && n.ou_scopable)
            });
            if !scopable {
                return Err(GoogleError::invalid(
                    "Invalid Input: this role holds privileges that cannot be scoped to an org unit",
                ));
            }
            Some(raw.trim_start_matches("id:").to_owned())
        }
        _ => return Err(GoogleError::invalid_input("scopeType")),
    };
    if let Some(existing) = customer.role_assignments.iter().find(|a| {
        a.role_id == role.id && a.assigned_to == holder_id && a.org_unit_id == org_unit_id
    }) {
        return Err(match ctx.knobs.role_assignment_duplicate {
            DuplicateRoleAssignment::Conflict => GoogleError::duplicate(),
            DuplicateRoleAssignment::InternalError => GoogleError::new(
                500,
                "internalError",
                format!("Role assignment exists: roleassignment id {}", existing.id),
            ),
        });
    }
    let assignment = RoleAssignment {
        id: new_int64_id(),
        role_id: role.id.clone(),
        assigned_to: holder_id,
        scope_type,
        org_unit_id,
        condition: body_str(body, "condition").map(str::to_owned),
    };
    let json = Customer::role_assignment_json(&assignment);
    customer.role_assignments.push(assignment);
    Ok(Reply::changed(
        json,
        vec![Effect::new(
            "roleAssignment",
            "created",
            format!("{}/{holder_email}", role.name),
        )],
    ))
}

/// `roleAssignments.list` (`userKey` or `roleId`, not both).
pub fn role_assignments_list(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let customer_id = directory_customer(world, ctx.grant, ctx.path_param("customer"))?;
    let consistency = &ctx.knobs.consistency;
    let customer = customer_mut(world, &customer_id)?;
    let user_key = ctx.param("userKey").filter(|k| !k.is_empty());
    let role_id = ctx.param("roleId").filter(|k| !k.is_empty());
    if user_key.is_some() && role_id.is_some() {
        return Err(GoogleError::invalid(
            "Invalid Input: userKey and roleId cannot be used together",
        ));
    }
    if ctx.param("includeIndirectRoleAssignments") == Some("true") && user_key.is_none() {
        return Err(GoogleError::invalid(
            "Invalid Input: includeIndirectRoleAssignments requires userKey",
        ));
    }
    let user_id = match user_key {
        Some(key) => {
            let index = customer.user_index(key).ok_or_else(user_key_not_found)?;
            let user = &customer.users[index];
            if user.is_propagating(ctx.now, consistency.user_propagation_ms) {
                return Err(consistency.role_response.error(key));
            }
            if user.hidden_from_roles(ctx.now) {
                return Err(Propagation::transient_error(
                    UnpropagatedCall::RoleAssignmentList,
                    &mut world.rng,
                ));
            }
            Some(user.id.clone())
        }
        None => None,
    };
    let items: Vec<&RoleAssignment> = customer
        .role_assignments
        .iter()
        .filter(|a| user_id.as_ref().is_none_or(|id| &a.assigned_to == id))
        .filter(|a| role_id.is_none_or(|id| a.role_id == id))
        .collect();
    let (page, next) = paginate(items, ctx, 100)?;
    let mut envelope = json!({"kind": "admin#directory#roleAssignments"});
    put_list(
        &mut envelope,
        "items",
        page.into_iter()
            .map(Customer::role_assignment_json)
            .collect(),
    );
    if let Some(token) = next {
        envelope["nextPageToken"] = json!(token);
    }
    Ok(Reply::ok(with_etag(envelope)))
}

/// `roleAssignments.get`.
pub fn role_assignments_get(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let customer_id = directory_customer(world, ctx.grant, ctx.path_param("customer"))?;
    let customer = customer_mut(world, &customer_id)?;
    let assignment = customer
        .role_assignments
        .iter()
        .find(|a| a.id == ctx.path_param("roleAssignmentId"))
        .ok_or_else(assignment_not_found)?;
    Ok(Reply::ok(Customer::role_assignment_json(assignment)))
}

/// `roleAssignments.delete`.
pub fn role_assignments_delete(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let customer_id = directory_customer(world, ctx.grant, ctx.path_param("customer"))?;
    let customer = customer_mut(world, &customer_id)?;
    let id = ctx.path_param("roleAssignmentId");
    let assignment = customer
        .role_assignments
        .iter()
        .find(|a| a.id == id)
        .cloned()
        .ok_or_else(assignment_not_found)?;
    let role_name = customer
        .roles
        .iter()
        .find(|r| r.id == assignment.role_id)
        .map(|r| r.name.clone())
        .unwrap_or_default();
    let email = customer
        .users
        .iter()
        .find(|u| u.id == assignment.assigned_to)
        .map(|u| u.primary_email.clone())
        .unwrap_or_default();
    customer.role_assignments.retain(|a| a.id != id);
    Ok(Reply::no_content(vec![Effect::new(
        "roleAssignment",
        "deleted",
        format!("{role_name}/{email}"),
    )]))
}

/// Whether the Cloud Identity Free site license is what `product_id`/`sku_id` name.
pub fn is_cloud_identity_free(product_id: &str, sku_id: &str) -> bool {
    product_id == CLOUD_IDENTITY_PRODUCT_ID && sku_id == CLOUD_IDENTITY_FREE_SKU_ID
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_queries_parse_quotes_and_operators() {
        let terms =
            parse_user_query("orgUnitPath='/Customer Care Portal' email:ana* isSuspended=false")
                .unwrap();
        let parsed: Vec<(&str, bool, &str)> = terms
            .iter()
            .map(|t| (t.field.as_str(), t.exact, t.value.as_str()))
            .collect();
        assert_eq!(
            parsed,
            [
                ("orgUnitPath", true, "/Customer Care Portal"),
                ("email", false, "ana*"),
                ("isSuspended", true, "false"),
            ]
        );
        assert!(parse_user_query("orgUnitPath='/unterminated").is_err());
        assert!(parse_user_query("justaword").is_err());
        assert!(parse_user_query("").unwrap().is_empty());
    }

    #[test]
    fn text_matching_is_case_insensitive_with_prefixes() {
        let term = |value: &str, exact: bool| QueryTerm {
            field: "email".to_owned(),
            exact,
            value: value.to_owned(),
        };
        assert!(text_matches("Ana@x.example", &term("ana@x.example", true)));
        assert!(text_matches("ana@x.example", &term("an*", false)));
        assert!(!text_matches("ana@x.example", &term("an*", true)));
        assert!(text_matches("ana@x.example", &term("ana", false)));
    }
}
