//! Which Google account at a staff member's address the service may write to. The service owns
//! an account when it created it (the store recorded its Google id, and the account carries the
//! support-access marker naming the staff member) or when an operator adopted it
//! (`AdoptSupportAccount`). A lost database loses no ownership: an account whose marker names the
//! staff member is re-discovered. Anything else at the address is a [`Conflict`], reported with
//! its reason and remedy and never written: super administrators and other administrators always,
//! whatever the marker or the record says.
//!
//! The marker is a Directory `externalIds` entry `{"type": "custom", "customType":
//! "support-access", "value": "staffMembers/<id>"}`: Google returns it in the default projection
//! of `users.get` and `users.list`, it is searchable, and no custom schema has to be created in
//! every customer for it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::desired::DesiredAccount;
use crate::names::{EmailAddress, StaffMemberId};
use crate::observed::{ObservedDomain, ObservedUser, Sku, UserId};
use crate::resources::staff_member_resource;

/// `customType` of the support-access `externalIds` entry.
pub const MARKER_CUSTOM_TYPE: &str = "support-access";

/// The marker's value for a staff member: its resource name, `staffMembers/<id>`.
pub fn marker_value(staff: &StaffMemberId) -> String {
    staff_member_resource(staff)
}

/// Why an account at a staff member's address is not the service's to change.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConflictKind {
    /// A plain account that someone else made: no marker, no record, no approved adoption.
    NotCreatedByService,
    /// The account is a super administrator.
    SuperAdmin,
    /// The account administers the customer (another admin role), or is the domain's delegated
    /// admin.
    DelegatedAdmin,
    /// The account holds a paid Google Workspace license: someone's working account, which is
    /// never re-discovered nor adopted.
    PaidLicense,
    /// The address is an alias of another user.
    AliasOfAnotherUser {
        /// That user's primary e-mail.
        primary: String,
    },
    /// The account the service owns was renamed: its Google id now has another primary e-mail,
    /// and nothing is at the address.
    Renamed {
        /// Its primary e-mail now.
        primary: String,
    },
    /// The recorded owned id is not the id of the account at the address.
    DifferentAccount {
        /// The id the service owns.
        expected: UserId,
        /// The id Google shows at the address.
        found: UserId,
    },
    /// The recorded id matches, but the support-access marker was removed.
    MarkerMissing,
    /// The account carries the marker of another staff member.
    MarkerOfAnotherStaffMember {
        /// The marker's value.
        marker: String,
    },
}

impl ConflictKind {
    /// A stable name for logs, evidence and the API.
    pub fn as_str(&self) -> &'static str {
        match self {
            ConflictKind::NotCreatedByService => "NOT_CREATED_BY_SERVICE",
            ConflictKind::SuperAdmin => "SUPER_ADMIN",
            ConflictKind::DelegatedAdmin => "DELEGATED_ADMIN",
            ConflictKind::PaidLicense => "PAID_LICENSE",
            ConflictKind::AliasOfAnotherUser { .. } => "ALIAS_OF_ANOTHER_USER",
            ConflictKind::Renamed { .. } => "RENAMED",
            ConflictKind::DifferentAccount { .. } => "DIFFERENT_ACCOUNT",
            ConflictKind::MarkerMissing => "MARKER_MISSING",
            ConflictKind::MarkerOfAnotherStaffMember { .. } => "MARKER_OF_ANOTHER_STAFF_MEMBER",
        }
    }
}

/// An account the service must not change, with why and what a person can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// Why.
    pub kind: ConflictKind,
    /// The staff member's address.
    pub account: EmailAddress,
    /// The Google id of the account in the way, when there is one.
    pub user_id: Option<UserId>,
    /// What was observed; user-facing, names the account.
    pub reason: String,
    /// What a person can do; user-facing, exact.
    pub what_to_do: String,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; {}", self.reason, self.what_to_do)
    }
}

/// Where a desired account stands with respect to ownership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountOwnership<'a> {
    /// Nothing is at the address: the service may create the account.
    Absent,
    /// The service owns the account at the address.
    Owned {
        /// The account.
        user: &'a ObservedUser,
        /// True when the store has no record of it and the marker alone tied it to the staff
        /// member (a lost database): the engine records its ownership again, audited.
        rediscovered: bool,
    },
    /// An operator approved adopting this account: the service marks it, then owns it.
    AdoptionApproved {
        /// The account.
        user: &'a ObservedUser,
    },
    /// Not the service's: nothing is written to it.
    Conflict(Conflict),
}

impl<'a> AccountOwnership<'a> {
    /// The account the service may write to: owned or approved for adoption.
    pub fn writable_user(&self) -> Option<&'a ObservedUser> {
        match self {
            AccountOwnership::Owned { user, .. } | AccountOwnership::AdoptionApproved { user } => {
                Some(user)
            }
            AccountOwnership::Absent | AccountOwnership::Conflict(_) => None,
        }
    }

    /// True for [`AccountOwnership::Owned`].
    pub fn is_owned(&self) -> bool {
        matches!(self, AccountOwnership::Owned { .. })
    }

    /// The conflict, if any.
    pub fn conflict(&self) -> Option<&Conflict> {
        match self {
            AccountOwnership::Conflict(conflict) => Some(conflict),
            _ => None,
        }
    }
}

/// Decides whether the service owns the account at `account`'s address, as `observed` shows it.
/// `delegated_admin` is the domain's delegated admin: never a support account.
pub fn classify<'a>(
    account: &DesiredAccount,
    observed: &'a ObservedDomain,
    delegated_admin: &EmailAddress,
) -> AccountOwnership<'a> {
    let email = account.email();
    let staff = account.staff_member();
    let ours = marker_value(staff);
    let words = Words::new(account);
    let conflict = |kind, user_id: Option<&UserId>, reason: String, what_to_do: String| {
        AccountOwnership::Conflict(Conflict {
            kind,
            account: email.clone(),
            user_id: user_id.cloned(),
            reason,
            what_to_do,
        })
    };
    let user = observed.user(email);

    if email == delegated_admin {
        return conflict(
            ConflictKind::DelegatedAdmin,
            user.map(|u| &u.id),
            format!(
                "{email} is the delegated admin of {}, the super administrator support-access acts as: never a support account",
                email.domain()
            ),
            words.another.clone(),
        );
    }

    let Some(user) = user else {
        if let Some(owner) = observed.alias_owner(email) {
            let renamed = account.owned_user_id() == Some(&owner.id);
            let primary = &owner.email;
            return conflict(
                ConflictKind::AliasOfAnotherUser {
                    primary: primary.to_string(),
                },
                Some(&owner.id),
                if renamed {
                    format!(
                        "{email} is now an alias of {primary}: the account support-access owns for staff member {staff} (user id {}) was renamed",
                        owner.id
                    )
                } else {
                    format!(
                        "{email} is an alias of {primary} (user id {}): Google delivers its mail to that account, so no support account can have this address",
                        owner.id
                    )
                },
                if renamed {
                    format!(
                        "rename {primary} back to {email} by hand (Admin console of {} > Directory > Users), or {}",
                        email.domain(),
                        words.another
                    )
                } else {
                    format!(
                        "{}, or remove the alias {email} from {primary} by hand (Admin console of {} > Directory > Users > {primary} > Alternate email addresses)",
                        words.another,
                        email.domain()
                    )
                },
            );
        }
        if let Some(moved) = account
            .owned_user_id()
            .and_then(|id| observed.user_by_id(id))
        {
            return conflict(
                ConflictKind::Renamed {
                    primary: moved.email.to_string(),
                },
                Some(&moved.id),
                format!(
                    "the account support-access owns for staff member {staff} (user id {}) was renamed to {}, and nothing is at {email}",
                    moved.id, moved.email
                ),
                format!(
                    "rename {} back to {email} by hand (Admin console of {} > Directory > Users), or {}",
                    moved.email,
                    email.domain(),
                    words.another
                ),
            );
        }
        return AccountOwnership::Absent;
    };

    let id = &user.id;
    let recorded = account.owned_user_id() == Some(id);
    if user.is_super_admin {
        return conflict(
            ConflictKind::SuperAdmin,
            Some(id),
            format!(
                "{email} exists (user id {id}) and is a super administrator: support-access never changes a super administrator"
            ),
            format!(
                "{}, or remove the super administrator role from {email} by hand (Admin console of {} > Account > Admin roles > Super Admin){}",
                words.another,
                email.domain(),
                words.then_manage(recorded)
            ),
        );
    }
    if user.is_delegated_admin {
        return conflict(
            ConflictKind::DelegatedAdmin,
            Some(id),
            format!(
                "{email} exists (user id {id}) and administers {} through an admin role that does not open the portal: support-access never changes an administrator",
                email.domain()
            ),
            format!(
                "{}, or remove the other admin roles from {email} by hand (Admin console of {} > Account > Admin roles){}",
                words.another,
                email.domain(),
                words.then_manage(recorded)
            ),
        );
    }

    let marker = user.marker.as_deref();
    let marked = marker == Some(ours.as_str());
    if let Some(other) = marker.filter(|m| *m != ours) {
        return conflict(
            ConflictKind::MarkerOfAnotherStaffMember {
                marker: other.to_owned(),
            },
            Some(id),
            format!(
                "{email} (user id {id}) carries the support-access marker of {other}, not {ours}: it was made for another staff member"
            ),
            format!(
                "{}, or, if {email} now belongs to staff member {staff}, set its externalIds entry of custom type {MARKER_CUSTOM_TYPE} to {ours} by hand and adopt it with AdoptSupportAccount for {} with a reason",
                words.another, words.resource
            ),
        );
    }
    if recorded && marked {
        return AccountOwnership::Owned {
            user,
            rediscovered: false,
        };
    }

    let adoption_approved = account.adopt_user_id() == Some(id);
    let paid = observed.paid_skus(email);
    // Neither the marker alone nor an approval makes a working account ours.
    if !paid.is_empty() && (marked || adoption_approved) {
        let why = if marked {
            format!(" although it carries the support-access marker of staff member {staff}")
        } else {
            " although an operator approved adopting it".to_owned()
        };
        return conflict(
            ConflictKind::PaidLicense,
            Some(id),
            format!(
                "{email} exists (user id {id}) and holds the paid Google Workspace license(s) {}{why}: it looks like someone's working account",
                sku_list(&paid)
            ),
            format!(
                "{}, or, if {email} really is a support account, remove its paid license(s) by hand (Admin console of {} > Directory > Users > {email} > Licenses); support-access then manages it",
                words.another,
                email.domain()
            ),
        );
    }
    if adoption_approved {
        return AccountOwnership::AdoptionApproved { user };
    }
    if marked && account.owned_user_id().is_none() {
        return AccountOwnership::Owned {
            user,
            rediscovered: true,
        };
    }

    let approval_note = match account.adopt_user_id() {
        Some(approved) => format!("; the adoption an operator approved was for user id {approved}"),
        None => String::new(),
    };
    match account.owned_user_id() {
        Some(expected) if expected == id => conflict(
            ConflictKind::MarkerMissing,
            Some(id),
            format!(
                "{email} (user id {id}) is the account support-access owns for staff member {staff}, but its support-access marker (externalIds entry of custom type {MARKER_CUSTOM_TYPE}, value {ours}) was removed"
            ),
            format!(
                "restore the marker by hand (users.update with the externalIds entry {{\"type\": \"custom\", \"customType\": \"{MARKER_CUSTOM_TYPE}\", \"value\": \"{ours}\"}}), or confirm the account with AdoptSupportAccount for {} with a reason",
                words.resource
            ),
        ),
        Some(expected) => conflict(
            ConflictKind::DifferentAccount {
                expected: expected.clone(),
                found: id.clone(),
            },
            Some(id),
            format!(
                "{email} is user id {id}, not the account support-access owns for staff member {staff} (user id {expected}): the address now belongs to another account{approval_note}"
            ),
            words.adopt_or_another(id),
        ),
        None => conflict(
            ConflictKind::NotCreatedByService,
            Some(id),
            format!(
                "{email} exists (user id {id}) but support-access did not create it: it carries no support-access marker and no adoption of it was approved{approval_note}"
            ),
            words.adopt_or_another(id),
        ),
    }
}

/// The remedies every conflict message draws from.
struct Words {
    email: EmailAddress,
    staff: StaffMemberId,
    /// `domains/<d>/supportAccounts/<username>`.
    resource: String,
    /// The remedy that always works: another address for the person.
    another: String,
}

impl Words {
    fn new(account: &DesiredAccount) -> Self {
        let email = account.email();
        let staff = account.staff_member();
        Self {
            email: email.clone(),
            staff: staff.clone(),
            resource: format!(
                "domains/{}/supportAccounts/{}",
                email.domain(),
                email.local_part()
            ),
            another: format!(
                "to give the person another address, create a new staff member with another username (CreateStaffMember) and provision it instead of staff member {staff}"
            ),
        }
    }

    fn then_manage(&self, recorded: bool) -> String {
        if recorded {
            "; support-access then manages it again".to_owned()
        } else {
            format!(
                ", then adopt it with AdoptSupportAccount for {} with a reason",
                self.resource
            )
        }
    }

    fn adopt_or_another(&self, id: &UserId) -> String {
        format!(
            "if {} (user id {id}) really is staff member {}'s support account, adopt it with AdoptSupportAccount for {} with a reason; otherwise {}",
            self.email, self.staff, self.resource, self.another
        )
    }
}

fn sku_list(skus: &[Sku]) -> String {
    skus.iter()
        .map(Sku::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
