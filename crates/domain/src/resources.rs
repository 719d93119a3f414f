//! Resource names of the API (AIP-122) and list paging (AIP-158): building names from the
//! validated vocabulary, and parsing the names callers send back into it.

use crate::names::{DomainName, StaffMemberId, Username};
use crate::validation::InvalidValue;

/// Page size used when a request leaves `page_size` at 0.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest page size served; larger requests are coerced to it.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// AIP-158 page size: negative values are refused, 0 means [`DEFAULT_PAGE_SIZE`], values above
/// [`MAX_PAGE_SIZE`] are coerced to it.
pub fn parse_page_size(raw: i32) -> Result<u32, InvalidValue> {
    match u32::try_from(raw) {
        Err(_) => Err(InvalidValue::new(format!(
            "must not be negative, got {raw}"
        ))),
        Ok(0) => Ok(DEFAULT_PAGE_SIZE),
        Ok(size) => Ok(size.min(MAX_PAGE_SIZE)),
    }
}

/// `domains/{domain}`.
pub fn domain_resource(domain: &DomainName) -> String {
    format!("domains/{domain}")
}

/// `domains/{domain}/status`.
pub fn domain_status_resource(domain: &DomainName) -> String {
    format!("domains/{domain}/status")
}

/// `staffMembers/{id}`.
pub fn staff_member_resource(id: &StaffMemberId) -> String {
    format!("staffMembers/{id}")
}

/// `domains/{domain}/supportAccounts/{username}`.
pub fn support_account_resource(domain: &DomainName, username: &Username) -> String {
    format!("domains/{domain}/supportAccounts/{username}")
}

fn shape_error(pattern: &str, name: &str) -> InvalidValue {
    let shown: String = name.chars().take(80).collect();
    let ellipsis = if name.chars().count() > 80 { "…" } else { "" };
    InvalidValue::new(format!(
        "must have the form {pattern}, got '{shown}{ellipsis}'"
    ))
}

/// Splits `name` into its segments and checks the literal collection ids; returns the variable
/// segments, in order.
fn match_pattern<'a>(name: &'a str, pattern: &str) -> Result<Vec<&'a str>, InvalidValue> {
    let expected: Vec<&str> = pattern.split('/').collect();
    let got: Vec<&str> = name.split('/').collect();
    if got.len() != expected.len() {
        return Err(shape_error(pattern, name));
    }
    let mut variables = Vec::new();
    for (want, have) in expected.iter().zip(&got) {
        if want.starts_with('{') {
            if have.is_empty() {
                return Err(shape_error(pattern, name));
            }
            variables.push(*have);
        } else if want != have {
            return Err(shape_error(pattern, name));
        }
    }
    Ok(variables)
}

fn in_segment<T>(what: &str, result: Result<T, InvalidValue>) -> Result<T, InvalidValue> {
    result.map_err(|error| InvalidValue::new(format!("{what} {error}")))
}

/// Parses `domains/{domain}`. The domain is normalised like [`DomainName::parse`].
pub fn parse_domain_resource(name: &str) -> Result<DomainName, InvalidValue> {
    let vars = match_pattern(name, "domains/{domain}")?;
    in_segment("domain", DomainName::parse(vars[0]))
}

/// Parses `domains/{domain}/status`.
pub fn parse_domain_status_resource(name: &str) -> Result<DomainName, InvalidValue> {
    let vars = match_pattern(name, "domains/{domain}/status")?;
    in_segment("domain", DomainName::parse(vars[0]))
}

/// Parses `staffMembers/{id}`.
pub fn parse_staff_member_resource(name: &str) -> Result<StaffMemberId, InvalidValue> {
    let vars = match_pattern(name, "staffMembers/{staff_member}")?;
    in_segment("staff member id", StaffMemberId::parse(vars[0]))
}

/// Parses `domains/{domain}/supportAccounts/{username}`.
pub fn parse_support_account_resource(name: &str) -> Result<(DomainName, Username), InvalidValue> {
    let vars = match_pattern(name, "domains/{domain}/supportAccounts/{username}")?;
    let domain = in_segment("domain", DomainName::parse(vars[0]))?;
    let username = in_segment("username", Username::parse(vars[1]))?;
    Ok((domain, username))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_defaults_coerces_and_refuses_negative() {
        assert_eq!(parse_page_size(0), Ok(50));
        assert_eq!(parse_page_size(1), Ok(1));
        assert_eq!(parse_page_size(1000), Ok(1000));
        assert_eq!(parse_page_size(1001), Ok(1000));
        assert_eq!(parse_page_size(i32::MAX), Ok(1000));
        assert_eq!(
            parse_page_size(-1).unwrap_err().to_string(),
            "must not be negative, got -1"
        );
        assert!(parse_page_size(i32::MIN).is_err());
    }

    #[test]
    fn domain_resource_round_trips() {
        let domain = DomainName::parse("reseller.example").unwrap();
        let name = domain_resource(&domain);
        assert_eq!(name, "domains/reseller.example");
        assert_eq!(parse_domain_resource(&name), Ok(domain.clone()));
        assert_eq!(
            domain_status_resource(&domain),
            "domains/reseller.example/status"
        );
        assert_eq!(
            parse_domain_status_resource("domains/reseller.example/status"),
            Ok(domain)
        );
    }

    #[test]
    fn domain_resource_normalises_the_domain() {
        assert_eq!(
            parse_domain_resource("domains/Reseller.EXAMPLE")
                .unwrap()
                .as_str(),
            "reseller.example"
        );
    }

    #[test]
    fn domain_resource_refuses_wrong_shapes() {
        for bad in [
            "",
            "domains",
            "domains/",
            "domain/reseller.example",
            "domains/reseller.example/x",
            "/domains/reseller.example",
            "staffMembers/ana",
        ] {
            let error = parse_domain_resource(bad).unwrap_err();
            assert!(
                error
                    .0
                    .starts_with("must have the form domains/{domain}, got '"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn domain_resource_reports_an_invalid_domain() {
        assert_eq!(
            parse_domain_resource("domains/gmail.com").unwrap_err().0,
            "domain 'gmail.com' is a consumer domain and cannot be a reseller domain; use the reseller's own Workspace domain"
        );
        assert_eq!(
            parse_domain_resource("domains/localhost").unwrap_err().0,
            "domain must have at least two labels, such as example.com"
        );
    }

    #[test]
    fn staff_member_resource_round_trips_and_refuses() {
        let id = StaffMemberId::parse("ana-silva").unwrap();
        assert_eq!(staff_member_resource(&id), "staffMembers/ana-silva");
        assert_eq!(
            parse_staff_member_resource("staffMembers/ana-silva"),
            Ok(id)
        );
        assert_eq!(
            parse_staff_member_resource("staffMembers/Ana")
                .unwrap_err()
                .0,
            "staff member id may contain only lower-case letters, digits and '-', found 'A'"
        );
        assert!(parse_staff_member_resource("staffmembers/ana").is_err());
    }

    #[test]
    fn support_account_resource_round_trips_and_refuses() {
        let domain = DomainName::parse("reseller.example").unwrap();
        let username = Username::parse("ana.silva").unwrap();
        let name = support_account_resource(&domain, &username);
        assert_eq!(name, "domains/reseller.example/supportAccounts/ana.silva");
        assert_eq!(
            parse_support_account_resource(&name),
            Ok((domain, username))
        );
        assert_eq!(
            parse_support_account_resource("domains/reseller.example/supportAccounts/.ana")
                .unwrap_err()
                .0,
            "username must start with a letter or digit"
        );
        assert!(parse_support_account_resource("domains/reseller.example/accounts/ana").is_err());
        assert!(
            parse_support_account_resource("domains/reseller.example/supportAccounts/").is_err()
        );
    }

    #[test]
    fn long_names_are_shortened_in_errors() {
        let long = "x".repeat(500);
        let error = parse_domain_resource(&long).unwrap_err();
        assert!(error.0.chars().count() < 150, "{error}");
        assert!(error.0.ends_with("…'"));
    }
}
