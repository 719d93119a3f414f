//! The desired state of one reseller domain: its settings and, for every staff member to
//! provision there, the support account that must exist. Built from the stored declarations by
//! [`DesiredDomain::new`], which refuses combinations the planner must never see (a support
//! account that is the delegated admin, two staff members with the same username, the root org
//! unit as support org unit).

use serde::{Deserialize, Serialize};

use crate::names::{
    DomainName, EmailAddress, OrgUnitPath, PersonName, RoleMode, RoleName, StaffMemberId, Username,
    validate_delegated_admin, validate_support_org_unit,
};
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
}

#[derive(Deserialize)]
struct DesiredAccountFields {
    staff_member: StaffMemberId,
    username: Username,
    email: EmailAddress,
    given_name: PersonName,
    family_name: PersonName,
    workspace_email: EmailAddress,
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
        )?;
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
        })
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
}

#[derive(Deserialize)]
struct DesiredDomainFields {
    domain: DomainName,
    delegated_admin: EmailAddress,
    org_unit: OrgUnitPath,
    role_mode: RoleMode,
    custom_role_name: RoleName,
    accounts: Vec<DesiredAccount>,
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
        )
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
        })
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
}
