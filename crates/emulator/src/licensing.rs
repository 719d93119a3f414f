//! Licensing API (`apps/licensing/v1`) operations: license assignments per product and SKU.
//!
//! `userId` is the user's primary email (or id); responses name the current primary email.
//! Seats are capped by the customer's own subscription; Cloud Identity Free is a site license
//! that `users.insert` assigns by itself, so inserting it again is a duplicate. A customer
//! without a subscription to the product and SKU gets 400 `invalid` (Google's exact answer is
//! unverified). `customerId` must be the real id or primary domain, not `my_customer`.

use serde_json::{Value, json};

use crate::api::{Ctx, Reply, paginate, put_list};
use crate::error::GoogleError;
use crate::knobs::{Propagation, UnpropagatedCall};
use crate::ledger::Effect;
use crate::world::{Customer, License, World, body_str, product_name, sku_name, with_etag};

/// Characters escaped in a `selfLink`'s user segment (an email keeps `@`, `.`, `-`, `_`).
const SELF_LINK_ESCAPES: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'@')
    .remove(b'.')
    .remove(b'-')
    .remove(b'_');

fn user_does_not_exist() -> GoogleError {
    GoogleError::not_found("User does not exist.")
}

fn no_subscription() -> GoogleError {
    GoogleError::invalid("Customer does not have a subscription to the specified product and SKU.")
}

fn license_json(ctx: &Ctx<'_>, license: &License, email: &str) -> Value {
    let encoded = percent_encoding::utf8_percent_encode(email, SELF_LINK_ESCAPES);
    let value = json!({
        "kind": "licensing#licenseAssignment",
        "productId": license.product_id,
        "productName": product_name(&license.product_id),
        "skuId": license.sku_id,
        "skuName": sku_name(&license.sku_id),
        "userId": email,
        "selfLink": format!(
            "{}apps/licensing/v1/product/{}/sku/{}/user/{encoded}",
            ctx.licensing_root, license.product_id, license.sku_id
        ),
    });
    let etag = crate::world::etag_of(&value);
    let mut value = value;
    value["etags"] = json!(etag);
    value
}

/// Finds the user a licensing call is about: `(customer id, user id, email)`. Unknown users
/// are 404, another customer's 403, a user in its propagation window gets the configured answer.
fn licensed_user(
    world: &mut World,
    ctx: &Ctx<'_>,
    key: &str,
    call: UnpropagatedCall,
) -> Result<(String, String, String), GoogleError> {
    let (customer_id, index) = world
        .find_user_anywhere(key)
        .ok_or_else(user_does_not_exist)?;
    if customer_id != ctx.grant.customer_id {
        return Err(GoogleError::forbidden());
    }
    let customer = world
        .customer(&customer_id)
        .ok_or_else(user_does_not_exist)?;
    let user = &customer.users[index];
    let consistency = &ctx.knobs.consistency;
    if user.is_propagating(ctx.now, consistency.user_propagation_ms) {
        return Err(match consistency.licensing_response {
            crate::knobs::NotReadyResponse::NotFound => user_does_not_exist(),
            other => other.error(key),
        });
    }
    if user.hidden_from_licensing(ctx.now) {
        return Err(Propagation::transient_error(call, &mut world.rng));
    }
    Ok((customer_id, user.id.clone(), user.primary_email.clone()))
}

fn customer_mut<'w>(world: &'w mut World, id: &str) -> Result<&'w mut Customer, GoogleError> {
    world.customer_mut(id).ok_or_else(user_does_not_exist)
}

/// `licenseAssignments.insert`.
pub fn insert(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let product_id = ctx.path_param("productId");
    let sku_id = ctx.path_param("skuId");
    let key = body_str(ctx.body, "userId").unwrap_or_default();
    let (customer_id, user_id, email) =
        licensed_user(world, ctx, key, UnpropagatedCall::LicenseInsert)?;
    let customer = customer_mut(world, &customer_id)?;
    let subscription = customer
        .subscription(product_id, sku_id)
        .cloned()
        .ok_or_else(no_subscription)?;
    let license = License {
        product_id: product_id.to_owned(),
        sku_id: sku_id.to_owned(),
        user_id,
    };
    if customer.licenses.contains(&license) {
        return Err(GoogleError::duplicate());
    }
    if customer.licenses_used(product_id, sku_id) >= subscription.seats as usize {
        return Err(GoogleError::new(
            412,
            "conditionNotMet",
            "Insufficient number of licenses: there aren't enough available licenses for the \
             specified product and SKU.",
        ));
    }
    customer.licenses.push(license.clone());
    Ok(Reply::changed(
        license_json(ctx, &license, &email),
        vec![Effect::new(
            "licenseAssignment",
            "created",
            format!("{product_id}/{sku_id}/{email}"),
        )],
    ))
}

fn find_license(
    world: &mut World,
    ctx: &Ctx<'_>,
) -> Result<(String, License, String), GoogleError> {
    let product_id = ctx.path_param("productId");
    let sku_id = ctx.path_param("skuId");
    let (customer_id, user_id, email) = licensed_user(
        world,
        ctx,
        ctx.path_param("userId"),
        UnpropagatedCall::LicenseRead,
    )?;
    let license = License {
        product_id: product_id.to_owned(),
        sku_id: sku_id.to_owned(),
        user_id,
    };
    let customer = world
        .customer(&customer_id)
        .ok_or_else(user_does_not_exist)?;
    if !customer.licenses.contains(&license) {
        return Err(GoogleError::not_found(
            "User does not have a license for specified sku and product",
        ));
    }
    Ok((customer_id, license, email))
}

/// `licenseAssignments.get`.
pub fn get(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let (_, license, email) = find_license(world, ctx)?;
    Ok(Reply::ok(license_json(ctx, &license, &email)))
}

/// `licenseAssignments.delete`.
pub fn delete(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let (customer_id, license, email) = find_license(world, ctx)?;
    let customer = customer_mut(world, &customer_id)?;
    customer.licenses.retain(|l| l != &license);
    Ok(Reply::no_content(vec![Effect::new(
        "licenseAssignment",
        "deleted",
        format!("{}/{}/{email}", license.product_id, license.sku_id),
    )]))
}

/// `listForProduct` and `listForProductAndSku` (the latter when `skuId` is in the path).
pub fn list(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let product_id = ctx.path_param("productId");
    let sku_id = ctx.path.get("skuId").map(String::as_str);
    let customer_key = ctx.param("customerId").unwrap_or_default();
    if customer_key == "my_customer" {
        return Err(GoogleError::invalid("Invalid Input: customerId"));
    }
    let customer = world
        .customer_by_key(customer_key)
        .ok_or_else(|| GoogleError::invalid("Invalid Input: customerId"))?;
    if customer.id != ctx.grant.customer_id {
        return Err(GoogleError::forbidden());
    }
    let subscribed = customer
        .subscriptions
        .iter()
        .any(|s| s.product_id == product_id && sku_id.is_none_or(|sku| s.sku_id == sku));
    if !subscribed {
        return Err(no_subscription());
    }
    let mut rows: Vec<(String, &License)> = customer
        .licenses
        .iter()
        .filter(|l| l.product_id == product_id && sku_id.is_none_or(|sku| l.sku_id == sku))
        .filter_map(|l| {
            customer
                .users
                .iter()
                .find(|u| u.id == l.user_id)
                .map(|u| (u.primary_email.clone(), l))
        })
        .collect();
    rows.sort_by(|a, b| (&a.1.sku_id, &a.0).cmp(&(&b.1.sku_id, &b.0)));
    let (page, next) = paginate(rows, ctx, 100)?;
    let mut envelope = json!({"kind": "licensing#licenseAssignmentList"});
    put_list(
        &mut envelope,
        "items",
        page.into_iter()
            .map(|(email, license)| license_json(ctx, license, &email))
            .collect(),
    );
    if let Some(token) = next {
        envelope["nextPageToken"] = json!(token);
    }
    Ok(Reply::ok(with_etag(envelope)))
}
