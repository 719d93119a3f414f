//! Reseller API (`apps/reseller/v1`) operations: subscriptions list/get and customers get, as the
//! reseller domain of the impersonated admin sees them.
//!
//! Only a reseller domain's admin may call these (others get 403 `forbidden`); a reseller sees
//! only the customers it resells to. `customerId` accepts the id or the primary domain.
//! `customers.get` of a customer known to the emulator but not resold by the caller answers the
//! minimal record Google gives for customers one does not manage.

use chrono::{Datelike as _, TimeZone as _, Utc};
use serde_json::{Value, json};

use crate::api::{Ctx, Reply, paginate, put_list};
use crate::error::GoogleError;
use crate::world::{ResoldCustomer, ResoldSubscription, World, sku_name};

fn reseller_of<'w>(
    world: &'w World,
    ctx: &Ctx<'_>,
) -> Result<&'w crate::world::Reseller, GoogleError> {
    world
        .customer(&ctx.grant.customer_id)
        .and_then(|c| c.reseller.as_ref())
        .ok_or_else(GoogleError::forbidden)
}

fn subscription_json(customer: &ResoldCustomer, subscription: &ResoldSubscription) -> Value {
    let plan_name = match subscription.plan.as_str() {
        // Google returns the monthly-pay annual plan as `ANNUAL`.
        "ANNUAL_MONTHLY_PAY" => "ANNUAL",
        other => other,
    };
    let annual = subscription.plan.starts_with("ANNUAL");
    let mut plan = json!({"planName": plan_name});
    let mut seats = json!({"kind": "subscriptions#seats", "licensedNumberOfSeats": 0});
    if annual {
        plan["isCommitmentPlan"] = json!(true);
        let start = subscription.creation_time;
        let end = Utc
            .with_ymd_and_hms(
                start.year() + 1,
                start.month(),
                start.day().min(28),
                0,
                0,
                0,
            )
            .single()
            .unwrap_or(start);
        plan["commitmentInterval"] = json!({
            "startTime": start.timestamp_millis().to_string(),
            "endTime": end.timestamp_millis().to_string(),
        });
        seats["numberOfSeats"] = json!(subscription.seats);
    } else {
        seats["maximumNumberOfSeats"] = json!(subscription.seats);
    }
    let mut value = json!({
        "kind": "reseller#subscription",
        "customerId": customer.id,
        "customerDomain": customer.domain,
        "subscriptionId": subscription.id,
        "skuId": subscription.sku_id,
        "skuName": sku_name(&subscription.sku_id),
        "plan": plan,
        "seats": seats,
        "status": subscription.status,
        "creationTime": subscription.creation_time.timestamp_millis().to_string(),
        "billingMethod": "ONLINE",
        "resourceUiUrl": format!(
            "https://admin.google.com/ac/billing/subscriptions?domain={}",
            customer.domain
        ),
    });
    if annual {
        value["renewalSettings"] = json!({
            "kind": "subscriptions#renewalSettings",
            "renewalType": "AUTO_RENEW_MONTHLY_PAY",
        });
    }
    if subscription.plan == "TRIAL" {
        value["trialSettings"] = json!({
            "isInTrial": true,
            "trialEndTime": (subscription.creation_time + chrono::Duration::days(30))
                .timestamp_millis()
                .to_string(),
        });
    }
    if subscription.status == "SUSPENDED" {
        value["suspensionReasons"] = json!(["RESELLER_INITIATED"]);
    }
    value
}

fn resold_customer<'r>(
    reseller: &'r crate::world::Reseller,
    key: &str,
) -> Option<&'r ResoldCustomer> {
    reseller
        .customers
        .iter()
        .find(|c| c.id == key || c.domain.eq_ignore_ascii_case(key))
}

/// `subscriptions.list`.
pub fn subscriptions_list(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let reseller = reseller_of(world, ctx)?;
    let customer_filter = ctx.param("customerId").filter(|c| !c.is_empty());
    let prefix = ctx.param("customerNamePrefix").map(str::to_ascii_lowercase);
    let mut rows = Vec::new();
    for customer in &reseller.customers {
        if customer_filter
            .is_some_and(|key| customer.id != key && !customer.domain.eq_ignore_ascii_case(key))
        {
            continue;
        }
        if prefix
            .as_ref()
            .is_some_and(|prefix| !customer.domain.starts_with(prefix.as_str()))
        {
            continue;
        }
        for subscription in &customer.subscriptions {
            rows.push(subscription_json(customer, subscription));
        }
    }
    let (page, next) = paginate(rows, ctx, 20)?;
    let mut envelope = json!({"kind": "reseller#subscriptions"});
    put_list(&mut envelope, "subscriptions", page);
    if let Some(token) = next {
        envelope["nextPageToken"] = json!(token);
    }
    Ok(Reply::ok(envelope))
}

/// `subscriptions.get`.
pub fn subscriptions_get(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let reseller = reseller_of(world, ctx)?;
    let customer = resold_customer(reseller, ctx.path_param("customerId"))
        .ok_or_else(GoogleError::forbidden)?;
    let subscription = customer
        .subscriptions
        .iter()
        .find(|s| s.id == ctx.path_param("subscriptionId"))
        .ok_or_else(|| GoogleError::not_found("Resource not found"))?;
    Ok(Reply::ok(subscription_json(customer, subscription)))
}

/// `customers.get`.
pub fn customers_get(world: &mut World, ctx: &Ctx<'_>) -> Result<Reply, GoogleError> {
    let reseller = reseller_of(world, ctx)?;
    let key = ctx.path_param("customerId");
    if let Some(customer) = resold_customer(reseller, key) {
        return Ok(Reply::ok(json!({
            "kind": "reseller#customer",
            "customerId": customer.id,
            "customerDomain": customer.domain,
            "customerDomainVerified": true,
            "customerType": "domain",
            "alternateEmail": customer.alternate_email,
            "phoneNumber": "+1 650-253-0000",
            "postalAddress": {
                "kind": "customers#address",
                "contactName": "IT Department",
                "organizationName": customer.domain,
                "countryCode": "US",
                "postalCode": "94043",
                "region": "CA",
                "locality": "Mountain View",
                "addressLine1": "1600 Amphitheatre Parkway",
            },
            "resourceUiUrl": format!(
                "https://admin.google.com/ac/home?domain={}",
                customer.domain
            ),
        })));
    }
    let other = world
        .customers
        .iter()
        .map(|c| (c.id.clone(), c.domain.clone()))
        .chain(
            world
                .customers
                .iter()
                .filter_map(|c| c.reseller.as_ref())
                .flat_map(|r| r.customers.iter().map(|c| (c.id.clone(), c.domain.clone()))),
        )
        .find(|(id, domain)| id == key || domain.eq_ignore_ascii_case(key));
    match other {
        Some((id, domain)) => Ok(Reply::ok(json!({
            "kind": "reseller#customer",
            "customerId": id,
            "customerDomain": domain,
        }))),
        None => Err(GoogleError::not_found("Resource not found")),
    }
}
