//! What one observation pass of a reseller domain saw in Google. The engine fills an
//! [`ObservedDomain`] from a handful of list calls (users of the org unit and the desired users
//! found elsewhere, license assignments per SKU, roles, role assignments, the privilege tree) and
//! the operator's manual confirmations from Postgres; the planner and the status checks read it.
//! Nothing here talks to Google: values are taken as Google returned them, ids included.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::names::{EmailAddress, OrgUnitPath, PersonName, StaffMemberId};

macro_rules! google_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// Wraps an id as Google returned it.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as Google spells it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

google_id!(
    /// A user's immutable Google id (`User.id`), what role assignments name in `assignedTo`.
    UserId
);
google_id!(
    /// An admin role's id (`Role.roleId`, an int64 as a string).
    RoleId
);
google_id!(
    /// A role assignment's id (`RoleAssignment.roleAssignmentId`).
    RoleAssignmentId
);

/// A product and SKU of the Licensing API.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Sku {
    /// `productId`, e.g. `101001` or `Google-Apps`.
    pub product_id: String,
    /// `skuId`, e.g. `1010010001`.
    pub sku_id: String,
}

impl Sku {
    /// Builds a SKU from its two ids.
    pub fn new(product_id: impl Into<String>, sku_id: impl Into<String>) -> Self {
        Self {
            product_id: product_id.into(),
            sku_id: sku_id.into(),
        }
    }

    /// Cloud Identity Free: productId `101001`, skuId `1010010001`.
    pub fn cloud_identity_free() -> Self {
        Self::new(CLOUD_IDENTITY_FREE_PRODUCT, CLOUD_IDENTITY_FREE_SKU)
    }

    /// True for Cloud Identity Free.
    pub fn is_cloud_identity_free(&self) -> bool {
        self.product_id == CLOUD_IDENTITY_FREE_PRODUCT && self.sku_id == CLOUD_IDENTITY_FREE_SKU
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.product_id, self.sku_id)
    }
}

/// Licensing `productId` of Cloud Identity Free.
pub const CLOUD_IDENTITY_FREE_PRODUCT: &str = "101001";
/// Licensing `skuId` of Cloud Identity Free.
pub const CLOUD_IDENTITY_FREE_SKU: &str = "1010010001";

/// The delegated admin as Google showed it (`users.get` of the admin's address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AdminObservation {
    /// No such user in the domain.
    NotFound,
    /// The user exists.
    Found {
        /// `isAdmin`: true for a super administrator.
        is_super_admin: bool,
        /// `suspended`.
        suspended: bool,
    },
    /// The delegated admin is the service account itself, acting with the admin role it holds
    /// in the customer (a delegated admin service account): no user to look at; Google tells
    /// step by step what its role allows.
    ServiceAccount,
}

impl AdminObservation {
    /// True for a usable admin: a super administrator who is not suspended, or the service
    /// account acting as itself.
    pub fn is_usable(&self) -> bool {
        matches!(
            self,
            AdminObservation::Found {
                is_super_admin: true,
                suspended: false
            } | AdminObservation::ServiceAccount
        )
    }
}

/// Whether Cloud Identity Free is subscribed in the reseller domain. Google offers no reliable
/// way to read the reseller's own subscription (api-facts §d.ii), hence `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubscriptionObservation {
    /// Google showed the subscription; seat numbers when it showed them too.
    Present {
        /// How many Cloud Identity Free users the domain may have.
        seat_cap: Option<u32>,
        /// How many it has.
        seats_used: Option<u32>,
    },
    /// Google said there is none.
    Absent,
    /// Google could not tell.
    Unknown,
}

impl SubscriptionObservation {
    /// Free seats when both numbers are known.
    pub fn free_seats(&self) -> Option<u32> {
        match self {
            SubscriptionObservation::Present {
                seat_cap: Some(cap),
                seats_used: Some(used),
            } => Some(cap.saturating_sub(*used)),
            _ => None,
        }
    }
}

/// A privilege of a role (`Role.rolePrivileges[]`), or of the privilege tree.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RolePrivilege {
    /// `privilegeName`.
    pub privilege_name: String,
    /// `serviceId`.
    pub service_id: String,
}

/// One node of `privileges.list`, a tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivilegeNode {
    /// `privilegeName`.
    pub privilege_name: String,
    /// `serviceId`.
    pub service_id: String,
    /// `serviceName`.
    #[serde(default)]
    pub service_name: String,
    /// `childPrivileges`.
    #[serde(default)]
    pub children: Vec<PrivilegeNode>,
}

/// An admin role (`roles.list`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedRole {
    /// `roleId`.
    pub id: RoleId,
    /// `roleName`.
    pub name: String,
    /// `isSystemRole` (prebuilt by Google).
    #[serde(default)]
    pub is_system: bool,
    /// `rolePrivileges`.
    #[serde(default)]
    pub privileges: Vec<RolePrivilege>,
}

/// Where a role assignment applies (`RoleAssignment.scopeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScopeType {
    /// The whole customer: what reseller privileges need.
    Customer,
    /// One org unit.
    OrgUnit,
}

/// A role assignment (`roleAssignments.list`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedRoleAssignment {
    /// `roleAssignmentId`.
    pub id: RoleAssignmentId,
    /// `roleId`.
    pub role_id: RoleId,
    /// `assignedTo`: the user's id.
    pub assignee: UserId,
    /// `scopeType`.
    pub scope: ScopeType,
}

/// A user (`users.list` of the org unit, or `users.get` of a desired address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedUser {
    /// `id`.
    pub id: UserId,
    /// `primaryEmail`.
    pub email: EmailAddress,
    /// `orgUnitPath`.
    pub org_unit: OrgUnitPath,
    /// `suspended`.
    #[serde(default)]
    pub suspended: bool,
    /// `isAdmin`: a super administrator.
    #[serde(default)]
    pub is_super_admin: bool,
    /// `recoveryEmail` as Google returned it (not validated: it is Google's data).
    #[serde(default)]
    pub recovery_email: Option<String>,
    /// `name.givenName` and `name.familyName`, when the observation read them (Google may omit
    /// them right after creation); `None` means "not observed", never "empty".
    #[serde(default)]
    pub names: Option<(PersonName, PersonName)>,
    /// The value of the user's `externalIds` entry `{"type": "custom", "customType":
    /// "support-access"}` (see [`crate::ownership`]), e.g. `staffMembers/ana`; `None` when the
    /// user has none. It ties an account to the staff member it was made for, in Google itself.
    #[serde(default)]
    pub marker: Option<String>,
    /// The user administers the customer through an admin role other than the portal-opening
    /// ones. Google's `isDelegatedAdmin` is true for every support account once it holds its
    /// portal role, so the observation must not copy it blindly: see
    /// [`crate::access::AccessConfig::administers_beyond_portal`].
    #[serde(default)]
    pub is_delegated_admin: bool,
    /// The user's alias addresses (`aliases`, `nonEditableAliases`), lower-case.
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// A license assignment of one user (`licenseAssignments.listForProductAndSku`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LicenseAssignment {
    /// The product and SKU.
    pub sku: Sku,
    /// `userId`: the user's primary e-mail.
    pub user: EmailAddress,
}

/// A step that Google offers no API for (api-facts §d), as `ConfirmManualStep` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ManualStep {
    /// Automatic licensing is off for the support org unit.
    AutomaticLicensingOff,
    /// Cloud Identity Free is subscribed in the reseller domain.
    CloudIdentityFreeSubscribed,
    /// Case e-mail reaches the person (routing or the portal's Case Sharing field).
    MailRouting,
}

impl ManualStep {
    /// Every step, in declaration order.
    pub const ALL: &'static [ManualStep] = &[
        ManualStep::AutomaticLicensingOff,
        ManualStep::CloudIdentityFreeSubscribed,
        ManualStep::MailRouting,
    ];

    /// The name stored in Postgres and used in the API without its `MANUAL_STEP_` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            ManualStep::AutomaticLicensingOff => "AUTOMATIC_LICENSING_OFF",
            ManualStep::CloudIdentityFreeSubscribed => "CLOUD_IDENTITY_FREE_SUBSCRIBED",
            ManualStep::MailRouting => "MAIL_ROUTING",
        }
    }
}

impl std::str::FromStr for ManualStep {
    type Err = crate::validation::InvalidValue;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw.strip_prefix("MANUAL_STEP_").unwrap_or(raw) {
            "AUTOMATIC_LICENSING_OFF" => Ok(ManualStep::AutomaticLicensingOff),
            "CLOUD_IDENTITY_FREE_SUBSCRIBED" => Ok(ManualStep::CloudIdentityFreeSubscribed),
            "MAIL_ROUTING" => Ok(ManualStep::MailRouting),
            _ => Err(crate::validation::InvalidValue::new(
                "must be AUTOMATIC_LICENSING_OFF, CLOUD_IDENTITY_FREE_SUBSCRIBED or MAIL_ROUTING",
            )),
        }
    }
}

/// An operator's confirmation of a manual step.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ManualConfirmation {
    /// The step.
    pub step: ManualStep,
    /// For mail routing of one account: its staff member; `None` for the whole domain.
    #[serde(default)]
    pub staff_member: Option<StaffMemberId>,
}

/// Everything one observation pass saw of one reseller domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedDomain {
    /// The delegated admin.
    pub admin: AdminObservation,
    /// The org units that exist among the support org unit and its ancestors (the root always
    /// exists and need not be listed). Listing only the support org unit itself, when it exists,
    /// is enough; an incomplete list only makes the plan create an ancestor that exists, which
    /// the engine then finds done.
    pub existing_org_units: Vec<OrgUnitPath>,
    /// Cloud Identity Free.
    pub subscription: SubscriptionObservation,
    /// Every admin role of the customer.
    pub roles: Vec<ObservedRole>,
    /// The privilege tree (`privileges.list`); may be left empty when the custom role exists.
    #[serde(default)]
    pub privilege_tree: Vec<PrivilegeNode>,
    /// The users of the support org unit, and the desired accounts found elsewhere.
    pub users: Vec<ObservedUser>,
    /// Users Google shows holding Cloud Identity Free.
    pub cloud_identity_licenses: Vec<EmailAddress>,
    /// Paid Google Workspace licenses of the observed users, any SKU.
    pub paid_licenses: Vec<LicenseAssignment>,
    /// The role assignments of the portal-opening roles (at least those of the observed users).
    pub role_assignments: Vec<ObservedRoleAssignment>,
    /// Operator-confirmed manual steps.
    #[serde(default)]
    pub confirmations: Vec<ManualConfirmation>,
}

impl ObservedDomain {
    /// The observed user with this primary e-mail.
    pub fn user(&self, email: &EmailAddress) -> Option<&ObservedUser> {
        self.users.iter().find(|user| &user.email == email)
    }

    /// The observed user (other than the one whose primary e-mail it is) that holds `email` as
    /// an alias: Google then routes the address to that user, and no account can be created
    /// with it.
    pub fn alias_owner(&self, email: &EmailAddress) -> Option<&ObservedUser> {
        self.users.iter().find(|user| {
            &user.email != email
                && user
                    .aliases
                    .iter()
                    .any(|alias| alias.eq_ignore_ascii_case(email.as_str()))
        })
    }

    /// True when Google shows the delegated admin as a usable super administrator: only then is
    /// the rest of the observation complete (an unusable admin sees nothing).
    pub fn admin_is_usable(&self) -> bool {
        self.admin.is_usable()
    }

    /// The observed user with this id.
    pub fn user_by_id(&self, id: &UserId) -> Option<&ObservedUser> {
        self.users.iter().find(|user| &user.id == id)
    }

    /// The role with this id.
    pub fn role(&self, id: &RoleId) -> Option<&ObservedRole> {
        self.roles.iter().find(|role| &role.id == id)
    }

    /// True when the org unit exists (the root always does).
    pub fn org_unit_exists(&self, path: &OrgUnitPath) -> bool {
        path.is_root() || self.existing_org_units.contains(path)
    }

    /// True when Google shows the user holding Cloud Identity Free.
    pub fn holds_cloud_identity(&self, email: &EmailAddress) -> bool {
        self.cloud_identity_licenses.contains(email)
    }

    /// The paid SKUs the user holds, sorted, without duplicates.
    pub fn paid_skus(&self, email: &EmailAddress) -> Vec<Sku> {
        let mut skus: Vec<Sku> = self
            .paid_licenses
            .iter()
            .filter(|license| &license.user == email && !license.sku.is_cloud_identity_free())
            .map(|license| license.sku.clone())
            .collect();
        skus.sort();
        skus.dedup();
        skus
    }

    /// The role assignments of a user.
    pub fn assignments_of<'a>(
        &'a self,
        user: &'a UserId,
    ) -> impl Iterator<Item = &'a ObservedRoleAssignment> + 'a {
        self.role_assignments
            .iter()
            .filter(move |assignment| &assignment.assignee == user)
    }

    /// True when the operator confirmed `step` for the whole domain.
    pub fn is_confirmed(&self, step: ManualStep) -> bool {
        self.confirmations
            .iter()
            .any(|c| c.step == step && c.staff_member.is_none())
    }

    /// True when mail routing is confirmed for this staff member or for the whole domain.
    pub fn is_mail_routing_confirmed(&self, staff_member: &StaffMemberId) -> bool {
        self.confirmations.iter().any(|c| {
            c.step == ManualStep::MailRouting
                && c.staff_member.as_ref().is_none_or(|s| s == staff_member)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    fn empty() -> ObservedDomain {
        ObservedDomain {
            admin: AdminObservation::NotFound,
            existing_org_units: vec![],
            subscription: SubscriptionObservation::Unknown,
            roles: vec![],
            privilege_tree: vec![],
            users: vec![],
            cloud_identity_licenses: vec![],
            paid_licenses: vec![],
            role_assignments: vec![],
            confirmations: vec![],
        }
    }

    #[test]
    fn free_seats_only_when_both_numbers_are_known() {
        let present = |cap, used| SubscriptionObservation::Present {
            seat_cap: cap,
            seats_used: used,
        };
        assert_eq!(present(Some(50), Some(48)).free_seats(), Some(2));
        assert_eq!(present(Some(50), Some(60)).free_seats(), Some(0));
        assert_eq!(present(None, Some(1)).free_seats(), None);
        assert_eq!(SubscriptionObservation::Unknown.free_seats(), None);
    }

    #[test]
    fn paid_skus_ignore_cloud_identity_and_duplicates() {
        let mut observed = empty();
        let ana = email("ana@r.example");
        observed.paid_licenses = vec![
            LicenseAssignment {
                sku: Sku::new("Google-Apps", "1010020028"),
                user: ana.clone(),
            },
            LicenseAssignment {
                sku: Sku::new("Google-Apps", "1010020020"),
                user: ana.clone(),
            },
            LicenseAssignment {
                sku: Sku::new("Google-Apps", "1010020028"),
                user: ana.clone(),
            },
            LicenseAssignment {
                sku: Sku::cloud_identity_free(),
                user: ana.clone(),
            },
            LicenseAssignment {
                sku: Sku::new("Google-Apps", "1010020027"),
                user: email("bo@r.example"),
            },
        ];
        assert_eq!(
            observed.paid_skus(&ana),
            vec![
                Sku::new("Google-Apps", "1010020020"),
                Sku::new("Google-Apps", "1010020028")
            ]
        );
    }

    #[test]
    fn confirmations_distinguish_domain_and_account_scope() {
        let mut observed = empty();
        let ana = StaffMemberId::parse("ana").unwrap();
        let bo = StaffMemberId::parse("bo").unwrap();
        observed.confirmations = vec![ManualConfirmation {
            step: ManualStep::MailRouting,
            staff_member: Some(ana.clone()),
        }];
        assert!(observed.is_mail_routing_confirmed(&ana));
        assert!(!observed.is_mail_routing_confirmed(&bo));
        assert!(!observed.is_confirmed(ManualStep::MailRouting));
        observed.confirmations.push(ManualConfirmation {
            step: ManualStep::MailRouting,
            staff_member: None,
        });
        assert!(observed.is_mail_routing_confirmed(&bo));
    }

    #[test]
    fn users_written_before_the_ownership_fields_still_read() {
        let json = r#"{"id":"1","email":"ana@r.example","org_unit":"/"}"#;
        let user: ObservedUser = serde_json::from_str(json).unwrap();
        assert_eq!(user.marker, None);
        assert!(!user.is_delegated_admin);
        assert!(user.aliases.is_empty());
    }

    #[test]
    fn alias_owner_finds_the_user_the_address_belongs_to() {
        let mut observed = empty();
        observed.users.push(ObservedUser {
            id: UserId::new("7"),
            email: email("ana.silva@r.example"),
            org_unit: OrgUnitPath::root(),
            suspended: false,
            is_super_admin: false,
            recovery_email: None,
            names: None,
            marker: None,
            is_delegated_admin: false,
            aliases: vec!["ana@r.example".into()],
        });
        assert_eq!(
            observed
                .alias_owner(&email("ANA@r.example"))
                .map(|u| u.id.as_str()),
            Some("7")
        );
        assert!(observed.alias_owner(&email("bo@r.example")).is_none());
        // A user's own primary address is not an alias of another user.
        assert!(
            observed
                .alias_owner(&email("ana.silva@r.example"))
                .is_none()
        );
    }

    #[test]
    fn only_an_active_super_admin_is_usable() {
        let mut observed = empty();
        assert!(!observed.admin_is_usable());
        observed.admin = AdminObservation::Found {
            is_super_admin: true,
            suspended: true,
        };
        assert!(!observed.admin_is_usable());
        observed.admin = AdminObservation::Found {
            is_super_admin: true,
            suspended: false,
        };
        assert!(observed.admin_is_usable());
    }

    #[test]
    fn root_org_unit_always_exists() {
        let observed = empty();
        assert!(observed.org_unit_exists(&OrgUnitPath::root()));
        assert!(!observed.org_unit_exists(&crate::names::default_support_ou()));
    }

    #[test]
    fn manual_step_names() {
        for step in [
            ManualStep::AutomaticLicensingOff,
            ManualStep::CloudIdentityFreeSubscribed,
            ManualStep::MailRouting,
        ] {
            assert_eq!(step.as_str().parse::<ManualStep>(), Ok(step));
            assert_eq!(
                format!("MANUAL_STEP_{}", step.as_str()).parse::<ManualStep>(),
                Ok(step)
            );
            assert_eq!(
                serde_json::to_string(&step).unwrap(),
                format!("\"{}\"", step.as_str())
            );
        }
        assert!("MANUAL_STEP_UNSPECIFIED".parse::<ManualStep>().is_err());
    }

    #[test]
    fn observation_round_trips_through_json() {
        let mut observed = empty();
        observed.admin = AdminObservation::Found {
            is_super_admin: true,
            suspended: false,
        };
        observed.subscription = SubscriptionObservation::Present {
            seat_cap: Some(50),
            seats_used: None,
        };
        observed.users.push(ObservedUser {
            id: UserId::new("1"),
            email: email("ana@r.example"),
            org_unit: crate::names::default_support_ou(),
            suspended: false,
            is_super_admin: false,
            recovery_email: Some("Ana@Work.example".into()),
            names: Some((
                PersonName::parse("Ana").unwrap(),
                PersonName::parse("Silva").unwrap(),
            )),
            marker: Some("staffMembers/ana".into()),
            is_delegated_admin: false,
            aliases: vec!["ana.silva@r.example".into()],
        });
        let json = serde_json::to_string(&observed).unwrap();
        assert!(
            json.contains(r#""admin":{"state":"FOUND","is_super_admin":true,"suspended":false}"#),
            "{json}"
        );
        assert_eq!(
            serde_json::from_str::<ObservedDomain>(&json).unwrap(),
            observed
        );
    }
}
