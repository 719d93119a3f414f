//! What a person does to clear a blocker: the operator instructions ("what to do") that the
//! planner, the status checks and the engine show, each written once.

use std::fmt::Display;

/// Subscribing the domain to Cloud Identity Free, then confirming it.
pub fn subscription(domain: impl Display) -> String {
    format!(
        "sign in to the Google Admin console of {domain} as a super administrator, open Billing > Get more services > Cloud Identity > Cloud Identity Free > Get started and complete the checkout; then confirm it with ConfirmManualStep (step CLOUD_IDENTITY_FREE_SUBSCRIBED)"
    )
}

/// Getting more Cloud Identity Free seats for a domain that has none left.
pub fn seats(domain: impl Display) -> String {
    format!(
        "as a super administrator of {domain}, ask Google for more Cloud Identity Free licenses with the Cloud Identity license request form (Admin console > Billing > Subscriptions > Cloud Identity Free), or remove unused Cloud Identity users"
    )
}

/// Turning automatic licensing off for the support org unit `ou`, then confirming it.
pub fn automatic_licensing(domain: impl Display, ou: impl Display) -> String {
    format!(
        "sign in to the Google Admin console of {domain} as a super administrator, open Billing > Subscriptions, and for every Google Workspace subscription open License settings and turn automatic licensing OFF for the organizational unit {ou} (a reseller can also do it in the Partner Sales Console, customer {domain} > License settings); then confirm it with ConfirmManualStep (step AUTOMATIC_LICENSING_OFF)"
    )
}
