//! The desired state of one reseller domain: its settings and, for every staff member to
//! provision there, the support account that must exist. Built from the stored declarations by
//! [`DesiredDomain::new`], which refuses combinations the planner must never see (a support
//! account that is the delegated admin, two staff members with the same username, the root org
//! unit as support org unit).
//!
//! Each account also carries what the store knows of its ownership (the Google id of the account
//! the service created or adopted, an operator's approval to adopt one), and the domain carries
//! the accounts whose access was revoked, each with its mode: they are not provisioned, and
//! reconciliation keeps them revoked.

use serde::{Deserialize, Serialize};

use crate::lifecycle::RevokeMode;
use crate::names::{
    DomainName, EmailAddress, OrgUnitPath, PersonName, RoleMode, RoleName, StaffMemberId, Username,
    validate_delegated_admin, validate_support_org_unit,
};
use crate::observed::UserId;
use crate::validation::InvalidValue;

/// The account one staff member must have in one reseller domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "DesiredAccountFields")]
pub struct DesiredAccount {
    staff_member: StaffMemberId,
    username: Username,
    email: EmailAddress,
    given_name: PersonName,
    family_name: PersonName,
    workspace_email: EmailAddress,
    owned_user_id: Option<UserId>,
    adopt_user_id: Option<UserId>,
}

#[derive(Deserialize)]
struct DesiredAccountFields {
    staff_member: StaffMemberId,
    username: Username,
    email: EmailAddress,
    given_name: PersonName,
    family_name: PersonName,
    workspace_email: EmailAddress,
    // Absent from plans and declarations journaled before ownership existed.
    #[serde(default)]
    owned_user_id: Option<UserId>,
    #[serde(default)]
    adopt_user_id: Option<UserId>,
}

impl TryFrom<DesiredAccountFields> for DesiredAccount {
    type Error = InvalidValue;

    fn try_from(fields: DesiredAccountFields) -> Result<Self, InvalidValue> {
        let domain = DomainName::parse(fields.email.domain())?;
        let account = DesiredAccount::new(
            fields.staff_member,
            fields.username,
            fields.given_name,
            fields.family_name,
            fields.workspace_email,
            &domain,
        )?
        .with_ownership(fields.owned_user_id, fields.adopt_user_id);
        if account.email != fields.email {
            return Err(InvalidValue::new(format!(
                "email must be {}, got {}",
                account.email, fields.email
            )));
        }
        Ok(account)
    }
}

impl DesiredAccount {
    /// The account `username@domain` of a staff member. Its recovery e-mail, and where case
    /// e-mail must arrive, is the person's own Workspace address, which must not be the support
    /// account itself.
    pub fn new(
        staff_member: StaffMemberId,
        username: Username,
        given_name: PersonName,
        family_name: PersonName,
        workspace_email: EmailAddress,
        domain: &DomainName,
    ) -> Result<Self, InvalidValue> {
        let email = EmailAddress::for_account(&username, domain)?;
        if workspace_email == email {
            return Err(InvalidValue::new(format!(
                "workspace e-mail must be the person's own address, not the support account {email} itself"
            )));
        }
        Ok(Self {
            staff_member,
            username,
            email,
            given_name,
            family_name,
            workspace_email,
            owned_user_id: None,
            adopt_user_id: None,
        })
    }

    /// The same account with what the store records of its ownership: `owned_user_id` is the
    /// Google id of the account the service created or adopted (`google_user_id` when ownership
    /// is CREATED or ADOPTED), `adopt_user_id` the id an operator approved for adoption and the
    /// engine has not marked yet.
    pub fn with_ownership(
        mut self,
        owned_user_id: Option<UserId>,
        adopt_user_id: Option<UserId>,
    ) -> Self {
        self.owned_user_id = owned_user_id;
        self.adopt_user_id = adopt_user_id;
        self
    }

    /// The Google id of the account the service owns at this address, when the store recorded
    /// one.
    pub fn owned_user_id(&self) -> Option<&UserId> {
        self.owned_user_id.as_ref()
    }

    /// The Google id an operator approved for adoption (`AdoptSupportAccount`), until the
    /// engine marked it and recorded its ownership.
    pub fn adopt_user_id(&self) -> Option<&UserId> {
        self.adopt_user_id.as_ref()
    }

    /// The staff member the account belongs to.
    pub fn staff_member(&self) -> &StaffMemberId {
        &self.staff_member
    }

    /// The local part of the account.
    pub fn username(&self) -> &Username {
        &self.username
    }

    /// The account's primary e-mail, `username@domain`.
    pub fn email(&self) -> &EmailAddress {
        &self.email
    }

    /// Given name.
    pub fn given_name(&self) -> &PersonName {
        &self.given_name
    }

    /// Family name.
    pub fn family_name(&self) -> &PersonName {
        &self.family_name
    }

    /// The person's own Workspace address: recovery e-mail and destination of case e-mail.
    pub fn workspace_email(&self) -> &EmailAddress {
        &self.workspace_email
    }
}

/// A reseller domain and the support accounts it must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "DesiredDomainFields")]
pub struct DesiredDomain {
    domain: DomainName,
    delegated_admin: EmailAddress,
    org_unit: OrgUnitPath,
    role_mode: RoleMode,
    custom_role_name: RoleName,
    accounts: Vec<DesiredAccount>,
    revoked: Vec<(DesiredAccount, RevokeMode)>,
}

#[derive(Deserialize)]
struct DesiredDomainFields {
    domain: DomainName,
    delegated_admin: EmailAddress,
    org_unit: OrgUnitPath,
    role_mode: RoleMode,
    custom_role_name: RoleName,
    accounts: Vec<DesiredAccount>,
    #[serde(default)]
    revoked: Vec<(DesiredAccount, RevokeMode)>,
}

impl TryFrom<DesiredDomainFields> for DesiredDomain {
    type Error = InvalidValue;

    fn try_from(f: DesiredDomainFields) -> Result<Self, InvalidValue> {
        DesiredDomain::new(
            f.domain,
            f.delegated_admin,
            f.org_unit,
            f.role_mode,
            f.custom_role_name,
            f.accounts,
        )?
        .try_with_revoked(f.revoked)
    }
}

impl DesiredDomain {
    /// Checks the combination and sorts the accounts by e-mail (the planner's order).
    pub fn new(
        domain: DomainName,
        delegated_admin: EmailAddress,
        org_unit: OrgUnitPath,
        role_mode: RoleMode,
        custom_role_name: RoleName,
        mut accounts: Vec<DesiredAccount>,
    ) -> Result<Self, InvalidValue> {
        validate_delegated_admin(&delegated_admin, &domain)
            .map_err(|e| InvalidValue::new(format!("delegated admin {e}")))?;
        validate_support_org_unit(&org_unit)
            .map_err(|e| InvalidValue::new(format!("org unit {e}")))?;
        accounts.sort_by(|a, b| a.email.cmp(&b.email));
        for account in &accounts {
            if account.email.domain() != domain.as_str() {
                return Err(InvalidValue::new(format!(
                    "account {} is not in {domain}",
                    account.email
                )));
            }
            if account.email == delegated_admin {
                return Err(InvalidValue::new(format!(
                    "account {} is the delegated admin: a support account must be an account of its own",
                    account.email
                )));
            }
        }
        if let Some(pair) = accounts.windows(2).find(|w| w[0].email == w[1].email) {
            return Err(InvalidValue::new(format!(
                "staff members {} and {} both want the account {}",
                pair[0].staff_member, pair[1].staff_member, pair[0].email
            )));
        }
        Ok(Self {
            domain,
            delegated_admin,
            org_unit,
            role_mode,
            custom_role_name,
            accounts,
            revoked: Vec::new(),
        })
    }

    /// The same domain with the accounts whose access was revoked, each with its mode, sorted
    /// by e-mail. The store holds one decision per (domain, staff member), so a staff member is
    /// never both active and revoked; should it happen anyway, the active account wins and the
    /// revoked entry is dropped here (see [`DesiredDomain::try_with_revoked`] to refuse it), as
    /// are a second revoked entry of the same staff member and an account of another domain.
    pub fn with_revoked(mut self, revoked: Vec<(DesiredAccount, RevokeMode)>) -> Self {
        let mut kept: Vec<(DesiredAccount, RevokeMode)> = Vec::with_capacity(revoked.len());
        for (account, mode) in revoked {
            let active = self
                .accounts
                .iter()
                .any(|a| a.staff_member == account.staff_member);
            let twice = kept
                .iter()
                .any(|(a, _)| a.staff_member == account.staff_member);
            if !active && !twice && account.email.domain() == self.domain.as_str() {
                kept.push((account, mode));
            }
        }
        kept.sort_by(|a, b| (&a.0.email, &a.0.staff_member).cmp(&(&b.0.email, &b.0.staff_member)));
        self.revoked = kept;
        self
    }

    /// Like [`DesiredDomain::with_revoked`], but refuses a staff member that is both active and
    /// revoked, revoked twice, or an account of another domain.
    pub fn try_with_revoked(
        self,
        revoked: Vec<(DesiredAccount, RevokeMode)>,
    ) -> Result<Self, InvalidValue> {
        for (i, (account, _)) in revoked.iter().enumerate() {
            let staff = &account.staff_member;
            if account.email.domain() != self.domain.as_str() {
                return Err(InvalidValue::new(format!(
                    "revoked account {} is not in {}",
                    account.email, self.domain
                )));
            }
            if self.accounts.iter().any(|a| &a.staff_member == staff) {
                return Err(InvalidValue::new(format!(
                    "staff member {staff} is both active and revoked in {}",
                    self.domain
                )));
            }
            if revoked[..i].iter().any(|(a, _)| &a.staff_member == staff) {
                return Err(InvalidValue::new(format!(
                    "staff member {staff} is revoked twice in {}",
                    self.domain
                )));
            }
        }
        Ok(self.with_revoked(revoked))
    }

    /// The domain.
    pub fn domain(&self) -> &DomainName {
        &self.domain
    }

    /// The super admin the service account impersonates.
    pub fn delegated_admin(&self) -> &EmailAddress {
        &self.delegated_admin
    }

    /// The support org unit (never the root).
    pub fn org_unit(&self) -> &OrgUnitPath {
        &self.org_unit
    }

    /// Which role opens the portal.
    pub fn role_mode(&self) -> RoleMode {
        self.role_mode
    }

    /// The custom role's name (used in [`RoleMode::CustomRole`]).
    pub fn custom_role_name(&self) -> &RoleName {
        &self.custom_role_name
    }

    /// The support accounts, sorted by e-mail, no two with the same e-mail.
    pub fn accounts(&self) -> &[DesiredAccount] {
        &self.accounts
    }

    /// The desired account with this e-mail.
    pub fn account(&self, email: &EmailAddress) -> Option<&DesiredAccount> {
        self.accounts.iter().find(|a| &a.email == email)
    }

    /// The accounts whose access was revoked, with their modes, sorted by e-mail. They are not
    /// in [`DesiredDomain::accounts`].
    pub fn revoked(&self) -> &[(DesiredAccount, RevokeMode)] {
        &self.revoked
    }

    /// The revoked account with this e-mail (the first, should two staff members share it).
    pub fn revoked_account(&self, email: &EmailAddress) -> Option<(&DesiredAccount, RevokeMode)> {
        self.revoked
            .iter()
            .find(|(a, _)| &a.email == email)
            .map(|(a, mode)| (a, *mode))
    }

    /// True when `email` is the address of an active or a revoked account of the domain.
    pub fn is_support_account(&self, email: &EmailAddress) -> bool {
        self.account(email).is_some() || self.revoked_account(email).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{default_custom_role, default_support_ou};

    fn domain() -> DomainName {
        DomainName::parse("reseller.example").unwrap()
    }

    fn account(id: &str, username: &str) -> DesiredAccount {
        DesiredAccount::new(
            StaffMemberId::parse(id).unwrap(),
            Username::parse(username).unwrap(),
            PersonName::parse("Ana").unwrap(),
            PersonName::parse("Silva").unwrap(),
            EmailAddress::parse(&format!("{username}@work.example")).unwrap(),
            &domain(),
        )
        .unwrap()
    }

    fn desired(accounts: Vec<DesiredAccount>) -> Result<DesiredDomain, InvalidValue> {
        DesiredDomain::new(
            domain(),
            EmailAddress::parse("admin@reseller.example").unwrap(),
            default_support_ou(),
            RoleMode::CustomRole,
            default_custom_role(),
            accounts,
        )
    }

    #[test]
    fn account_email_is_username_at_domain() {
        let a = account("ana", "Ana.Silva");
        assert_eq!(a.email().as_str(), "ana.silva@reseller.example");
        assert_eq!(a.workspace_email().as_str(), "ana.silva@work.example");
    }

    #[test]
    fn account_refuses_its_own_address_as_workspace_email() {
        let error = DesiredAccount::new(
            StaffMemberId::parse("ana").unwrap(),
            Username::parse("ana").unwrap(),
            PersonName::parse("Ana").unwrap(),
            PersonName::parse("Silva").unwrap(),
            EmailAddress::parse("ana@reseller.example").unwrap(),
            &domain(),
        )
        .unwrap_err();
        assert_eq!(
            error.0,
            "workspace e-mail must be the person's own address, not the support account ana@reseller.example itself"
        );
    }

    #[test]
    fn accounts_are_sorted_by_email() {
        let d = desired(vec![account("zoe", "zoe"), account("ana", "ana")]).unwrap();
        let emails: Vec<_> = d.accounts().iter().map(|a| a.email().as_str()).collect();
        assert_eq!(emails, ["ana@reseller.example", "zoe@reseller.example"]);
    }

    #[test]
    fn duplicate_usernames_are_refused() {
        let error = desired(vec![account("ana", "ana"), account("ana-2", "ANA")]).unwrap_err();
        assert_eq!(
            error.0,
            "staff members ana and ana-2 both want the account ana@reseller.example"
        );
    }

    #[test]
    fn the_delegated_admin_cannot_be_a_support_account() {
        let error = desired(vec![account("boss", "admin")]).unwrap_err();
        assert!(error.0.contains("is the delegated admin"), "{error}");
    }

    #[test]
    fn root_org_unit_and_foreign_admin_are_refused() {
        let root = DesiredDomain::new(
            domain(),
            EmailAddress::parse("admin@reseller.example").unwrap(),
            OrgUnitPath::root(),
            RoleMode::CustomRole,
            default_custom_role(),
            vec![],
        );
        assert!(
            root.unwrap_err()
                .0
                .starts_with("org unit must not be the root org unit")
        );
        let gmail = DesiredDomain::new(
            domain(),
            EmailAddress::parse("boss@gmail.com").unwrap(),
            default_support_ou(),
            RoleMode::CustomRole,
            default_custom_role(),
            vec![],
        );
        assert!(
            gmail
                .unwrap_err()
                .0
                .starts_with("delegated admin must not be an @gmail.com address")
        );
    }

    #[test]
    fn accounts_of_another_domain_are_refused() {
        let other = DesiredAccount::new(
            StaffMemberId::parse("ana").unwrap(),
            Username::parse("ana").unwrap(),
            PersonName::parse("Ana").unwrap(),
            PersonName::parse("Silva").unwrap(),
            EmailAddress::parse("ana@work.example").unwrap(),
            &DomainName::parse("other.example").unwrap(),
        )
        .unwrap();
        assert_eq!(
            desired(vec![other]).unwrap_err().0,
            "account ana@other.example is not in reseller.example"
        );
    }

    #[test]
    fn json_round_trip_rechecks_invariants() {
        let d = desired(vec![account("ana", "ana")]).unwrap();
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<DesiredDomain>(&json).unwrap(), d);
        let tampered = json.replace(
            "\"email\":\"ana@reseller.example\"",
            "\"email\":\"bo@reseller.example\"",
        );
        let error = serde_json::from_str::<DesiredDomain>(&tampered).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("email must be ana@reseller.example"),
            "{error}"
        );
    }

    #[test]
    fn ownership_is_carried_and_round_trips() {
        let a =
            account("ana", "ana").with_ownership(Some(UserId::new("1")), Some(UserId::new("2")));
        assert_eq!(a.owned_user_id(), Some(&UserId::new("1")));
        assert_eq!(a.adopt_user_id(), Some(&UserId::new("2")));
        assert_eq!(account("bo", "bo").owned_user_id(), None);
        let d = desired(vec![a]).unwrap();
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<DesiredDomain>(&json).unwrap(), d);
    }

    #[test]
    fn declarations_without_ownership_or_revoked_still_read() {
        let d = desired(vec![account("ana", "ana")]).unwrap();
        let mut value = serde_json::to_value(&d).unwrap();
        value.as_object_mut().unwrap().remove("revoked");
        let account = value["accounts"][0].as_object_mut().unwrap();
        account.remove("owned_user_id");
        account.remove("adopt_user_id");
        assert_eq!(serde_json::from_value::<DesiredDomain>(value).unwrap(), d);
    }

    #[test]
    fn revoked_accounts_are_kept_apart_and_sorted() {
        let d = desired(vec![account("ana", "ana")])
            .unwrap()
            .with_revoked(vec![
                (account("zoe", "zoe"), RevokeMode::Delete),
                (account("bo", "bo"), RevokeMode::Suspend),
            ]);
        assert_eq!(d.accounts().len(), 1);
        let revoked: Vec<_> = d
            .revoked()
            .iter()
            .map(|(a, mode)| (a.email().as_str(), *mode))
            .collect();
        assert_eq!(
            revoked,
            [
                ("bo@reseller.example", RevokeMode::Suspend),
                ("zoe@reseller.example", RevokeMode::Delete)
            ]
        );
        let bo = EmailAddress::parse("bo@reseller.example").unwrap();
        assert_eq!(d.revoked_account(&bo).unwrap().1, RevokeMode::Suspend);
        assert!(d.account(&bo).is_none());
        assert!(d.is_support_account(&bo));
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<DesiredDomain>(&json).unwrap(), d);
    }

    #[test]
    fn a_staff_member_is_never_both_active_and_revoked() {
        let base = || desired(vec![account("ana", "ana")]).unwrap();
        let error = base()
            .try_with_revoked(vec![(account("ana", "ana.old"), RevokeMode::Suspend)])
            .unwrap_err();
        assert_eq!(
            error.0,
            "staff member ana is both active and revoked in reseller.example"
        );
        let twice = base()
            .try_with_revoked(vec![
                (account("bo", "bo"), RevokeMode::Suspend),
                (account("bo", "bo2"), RevokeMode::Delete),
            ])
            .unwrap_err();
        assert_eq!(
            twice.0,
            "staff member bo is revoked twice in reseller.example"
        );
        // The infallible builder keeps the active decision and the first revoked entry.
        let kept = base().with_revoked(vec![
            (account("ana", "ana.old"), RevokeMode::Suspend),
            (account("bo", "bo"), RevokeMode::Suspend),
            (account("bo", "bo2"), RevokeMode::Delete),
        ]);
        assert_eq!(kept.revoked().len(), 1);
        assert_eq!(kept.revoked()[0].0.username().as_str(), "bo");
        // Deserializing refuses it.
        let mut value = serde_json::to_value(base()).unwrap();
        value["revoked"] =
            serde_json::to_value(vec![(account("ana", "x"), RevokeMode::Delete)]).unwrap();
        let error = serde_json::from_value::<DesiredDomain>(value).unwrap_err();
        assert!(
            error.to_string().contains("both active and revoked"),
            "{error}"
        );
    }
}
