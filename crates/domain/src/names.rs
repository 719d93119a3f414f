//! The validated vocabulary: one newtype per kind of value the service accepts from callers or
//! from Google. Each is built only by `parse`, which normalises (lower case, IDNA to ASCII, trimmed
//! names) and refuses what Google or our API would refuse, so a value of these types is valid by
//! construction. All of them serialize as their plain string and re-check it on deserialization.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::validation::InvalidValue;

/// Domains that belong to Google's consumer accounts. They can never be a reseller domain, and no
/// address in them can be a super administrator of one. Their subdomains are refused as well:
/// Google owns them, so none can be a Workspace customer.
pub const CONSUMER_DOMAINS: [&str; 2] = ["gmail.com", "googlemail.com"];

/// The org unit that holds the support accounts when a domain names none.
pub const DEFAULT_SUPPORT_OU: &str = "/Customer Care Portal";

/// The custom admin role name used when a domain names none.
pub const DEFAULT_CUSTOM_ROLE: &str = "Customer Care Portal Access";

/// Usernames Google reserves in every domain.
const RESERVED_USERNAMES: [&str; 2] = ["abuse", "postmaster"];

/// Implements the shared surface of a string newtype whose inner `String` is already valid.
macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            /// The normalised value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;
            fn from_str(raw: &str) -> Result<Self, InvalidValue> {
                Self::parse(raw)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                Self::parse(&raw).map_err(|error| {
                    serde::de::Error::custom(format!(
                        "invalid {} {raw:?}: {error}",
                        stringify!($name)
                    ))
                })
            }
        }
    };
}

fn invalid(description: impl Into<String>) -> InvalidValue {
    InvalidValue::new(description)
}

/// Shortens a value quoted in an error so a huge input cannot make a huge message.
fn quote(value: &str) -> String {
    const MAX: usize = 40;
    if value.chars().count() <= MAX {
        format!("'{value}'")
    } else {
        let head: String = value.chars().take(MAX).collect();
        format!("'{head}…'")
    }
}

fn check_not_empty(raw: &str) -> Result<(), InvalidValue> {
    if raw.is_empty() {
        Err(invalid("must not be empty"))
    } else {
        Ok(())
    }
}

fn check_max_chars(raw: &str, max: usize) -> Result<(), InvalidValue> {
    let count = raw.chars().count();
    if count > max {
        Err(invalid(format!(
            "must be at most {max} characters, got {count}"
        )))
    } else {
        Ok(())
    }
}

fn check_no_control(raw: &str) -> Result<(), InvalidValue> {
    match raw.chars().find(|c| c.is_control()) {
        Some(c) => Err(invalid(format!(
            "must not contain control characters, found {c:?}"
        ))),
        None => Ok(()),
    }
}

fn check_no_surrounding_whitespace(raw: &str) -> Result<(), InvalidValue> {
    if raw.trim() != raw {
        Err(invalid("must not start or end with whitespace"))
    } else {
        Ok(())
    }
}

/// Parses a DNS host name the way Google stores domains: IDNA to ASCII (punycode), lower case,
/// at most 253 characters, at least two labels of 1..=63 letters, digits and hyphens that neither
/// start nor end with a hyphen, and a top-level label that is not all digits (so IP addresses are
/// refused).
fn parse_hostname(raw: &str) -> Result<String, InvalidValue> {
    check_not_empty(raw)?;
    if raw.chars().any(char::is_whitespace) {
        return Err(invalid("must not contain whitespace"));
    }
    check_no_control(raw)?;
    if raw.ends_with('.') {
        return Err(invalid("must not end with '.'"));
    }
    if raw.starts_with('.') || raw.contains("..") {
        return Err(invalid(
            "must not contain empty labels (a leading '.' or '..')",
        ));
    }
    let ascii = if raw.is_ascii() {
        raw.to_ascii_lowercase()
    } else {
        to_ascii(raw)
            .map_err(|()| invalid("is not a valid internationalized domain name (IDNA)"))?
    };
    check_ldh(&ascii)?;
    // Labels written directly in punycode (`xn--…`) must decode to a valid IDNA label; the
    // conversion of an already valid ASCII name gives the same name back.
    match to_ascii(&ascii) {
        Ok(again) if again == ascii => Ok(ascii),
        _ => Err(invalid(
            "contains a label that is not valid punycode ('xn--' labels must be valid IDNA)",
        )),
    }
}

fn to_ascii(raw: &str) -> Result<String, ()> {
    use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
    Uts46::new()
        .to_ascii(
            raw.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::CheckFirstLast,
            DnsLength::Ignore,
        )
        .map(|cow| cow.into_owned())
        .map_err(|_| ())
}

/// The letter-digit-hyphen rules on an ASCII, lower-case host name.
fn check_ldh(ascii: &str) -> Result<(), InvalidValue> {
    let length = ascii.len();
    if length > 253 {
        return Err(invalid(format!(
            "must be at most 253 characters, got {length}"
        )));
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.iter().any(|label| label.is_empty()) {
        return Err(invalid(
            "must not contain empty labels (a leading '.' or '..')",
        ));
    }
    if labels.len() < 2 {
        return Err(invalid(
            "must have at least two labels, such as example.com",
        ));
    }
    for label in &labels {
        if label.len() > 63 {
            return Err(invalid(format!(
                "label {} must be at most 63 characters, got {}",
                quote(label),
                label.len()
            )));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(invalid(format!(
                "may contain only letters, digits, '-' and '.', found {c:?}"
            )));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(invalid(format!(
                "label {} must not start or end with '-'",
                quote(label)
            )));
        }
    }
    let top = labels[labels.len() - 1];
    if top.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid(format!(
            "top-level domain {} must not be all digits",
            quote(top)
        )));
    }
    Ok(())
}

/// True when `host` (ASCII, lower case) is a consumer domain or one of its subdomains.
fn is_consumer_host(host: &str) -> bool {
    CONSUMER_DOMAINS.iter().any(|consumer| {
        host == *consumer
            || host
                .strip_suffix(consumer)
                .is_some_and(|rest| rest.ends_with('.'))
    })
}

/// The primary DNS name of a reseller domain, lower case, internationalized names in their ASCII
/// (punycode) form. Consumer domains (`gmail.com`, `googlemail.com`) and their subdomains are
/// refused: they can never be a Workspace customer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(String);
string_newtype!(DomainName);

impl DomainName {
    /// Parses and normalises a domain name.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let host = parse_hostname(raw)?;
        if is_consumer_host(&host) {
            return Err(invalid(format!(
                "{} is a consumer domain and cannot be a reseller domain; use the reseller's own Workspace domain",
                quote(&host)
            )));
        }
        Ok(Self(host))
    }

    /// True when this domain is `other` or one of its subdomains.
    pub fn is_same_or_subdomain_of(&self, other: &DomainName) -> bool {
        self == other
            || self
                .0
                .strip_suffix(other.as_str())
                .is_some_and(|rest| rest.ends_with('.'))
    }
}

/// The local part of a Google account (`ana.silva` in `ana.silva@reseller.example`): ASCII
/// letters, digits, `.`, `_`, `-` and `'`, 1..=64 characters, starting and ending with a letter or
/// digit, never two periods in a row, stored lower case (Google lower-cases usernames). `abuse`
/// and `postmaster` are reserved by Google and refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);
string_newtype!(Username);

impl Username {
    /// Parses and lower-cases a username.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        check_not_empty(raw)?;
        check_max_chars(raw, 64)?;
        if let Some(c) = raw
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '\'')))
        {
            return Err(invalid(format!(
                "may contain only letters (a-z), digits (0-9), '.', '_', '-' and apostrophes, found {c:?}"
            )));
        }
        if !raw.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(invalid("must start with a letter or digit"));
        }
        if !raw.ends_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(invalid("must end with a letter or digit"));
        }
        if raw.contains("..") {
            return Err(invalid("must not contain two periods in a row"));
        }
        let lower = raw.to_ascii_lowercase();
        if RESERVED_USERNAMES.contains(&lower.as_str()) {
            return Err(invalid(format!(
                "{} is reserved by Google and cannot be a username",
                quote(&lower)
            )));
        }
        Ok(Self(lower))
    }
}

/// A given or family name as Google stores it: surrounding whitespace trimmed, 1..=60 characters
/// (Unicode scalar values, not bytes), no control characters and none of `<`, `>`, `=` (Google's
/// name guidelines refuse angle brackets; `=` is refused by its older guidelines and by us).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonName(String);
string_newtype!(PersonName);

impl PersonName {
    /// The characters Google refuses in names.
    pub const FORBIDDEN: [char; 3] = ['<', '>', '='];

    /// Trims and checks a name.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let trimmed = raw.trim();
        check_not_empty(trimmed)?;
        check_max_chars(trimmed, 60)?;
        check_no_control(trimmed)?;
        if let Some(c) = trimmed.chars().find(|c| Self::FORBIDDEN.contains(c)) {
            return Err(invalid(format!(
                "must not contain '<', '>' or '=', found {c:?}"
            )));
        }
        Ok(Self(trimmed.to_owned()))
    }
}

/// An e-mail address `local@domain`: the local part is an RFC 5322 dot-atom of at most 64
/// characters, the domain a valid host name (consumer domains allowed here), at most 254
/// characters in all. The whole address is stored lower case: every address this service handles
/// is a Google account or a Google Workspace address, and Google compares them without case, so
/// lower case makes equality checks against what Google returns reliable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress(String);
string_newtype!(EmailAddress);

impl EmailAddress {
    /// Parses and lower-cases an address.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        check_not_empty(raw)?;
        if raw.chars().any(char::is_whitespace) {
            return Err(invalid("must not contain whitespace"));
        }
        let (local, domain) = match raw.split_once('@') {
            Some((local, domain)) if !domain.contains('@') => (local, domain),
            _ => {
                return Err(invalid(
                    "must contain exactly one '@', as in name@example.com",
                ));
            }
        };
        check_local_part(local)?;
        let host = parse_hostname(domain).map_err(|error| invalid(format!("domain {error}")))?;
        let address = format!("{}@{host}", local.to_ascii_lowercase());
        let count = address.chars().count();
        if count > 254 {
            return Err(invalid(format!(
                "must be at most 254 characters, got {count}"
            )));
        }
        Ok(Self(address))
    }

    /// The address of `username` in `domain`, as the support account's primary e-mail.
    pub fn for_account(username: &Username, domain: &DomainName) -> Result<Self, InvalidValue> {
        Self::parse(&format!("{username}@{domain}"))
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        self.split().0
    }

    /// The domain after the `@`, lower case and in ASCII form.
    pub fn domain(&self) -> &str {
        self.split().1
    }

    /// True when the domain is a consumer domain (`gmail.com`, `googlemail.com` or a subdomain).
    pub fn is_consumer(&self) -> bool {
        is_consumer_host(self.domain())
    }

    fn split(&self) -> (&str, &str) {
        // Valid by construction: exactly one '@'.
        self.0.split_once('@').unwrap_or((&self.0, ""))
    }
}

fn check_local_part(local: &str) -> Result<(), InvalidValue> {
    if local.is_empty() {
        return Err(invalid("must have a non-empty part before the '@'"));
    }
    let count = local.chars().count();
    if count > 64 {
        return Err(invalid(format!(
            "the part before the '@' must be at most 64 characters, got {count}"
        )));
    }
    let is_atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    if let Some(c) = local.chars().find(|c| !(is_atext(*c) || *c == '.')) {
        return Err(invalid(format!(
            "the part before the '@' may contain only letters, digits, '.' and !#$%&'*+-/=?^_`{{|}}~, found {c:?}"
        )));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(invalid(
            "the part before the '@' must not start or end with '.' nor contain '..'",
        ));
    }
    Ok(())
}

/// A full org unit path: `/` (the root) or `/A/B`. It starts with `/`, has no trailing `/` and no
/// empty segments, no control characters, segments of at most 255 characters without surrounding
/// whitespace, and at most 2048 characters in all. Case is kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgUnitPath(String);
string_newtype!(OrgUnitPath);

impl OrgUnitPath {
    /// Longest segment (one org unit name) accepted.
    pub const MAX_SEGMENT_CHARS: usize = 255;
    /// Longest path accepted.
    pub const MAX_PATH_CHARS: usize = 2048;

    /// Parses a path.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        check_not_empty(raw)?;
        if !raw.starts_with('/') {
            return Err(invalid("must start with '/', as in /Customer Care Portal"));
        }
        check_max_chars(raw, Self::MAX_PATH_CHARS)?;
        check_no_control(raw)?;
        if raw == "/" {
            return Ok(Self::root());
        }
        if raw.ends_with('/') {
            return Err(invalid("must not end with '/'"));
        }
        for segment in raw[1..].split('/') {
            if segment.is_empty() {
                return Err(invalid("must not contain empty segments ('//')"));
            }
            if segment.trim() != segment {
                return Err(invalid(format!(
                    "segment {} must not start or end with whitespace",
                    quote(segment)
                )));
            }
            let count = segment.chars().count();
            if count > Self::MAX_SEGMENT_CHARS {
                return Err(invalid(format!(
                    "segment {} must be at most {} characters, got {count}",
                    quote(segment),
                    Self::MAX_SEGMENT_CHARS
                )));
            }
        }
        Ok(Self(raw.to_owned()))
    }

    /// The root org unit, `/`.
    pub fn root() -> Self {
        Self("/".to_owned())
    }

    /// True for `/`.
    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// The last segment (the org unit's own name); empty for the root.
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or("")
    }

    /// The parent org unit; the root is its own parent.
    pub fn parent(&self) -> OrgUnitPath {
        match self.0.rfind('/') {
            Some(0) | None => Self::root(),
            Some(index) => Self(self.0[..index].to_owned()),
        }
    }

    /// The path without its leading `/`, as Google's `{+orgUnitPath}` path parameter wants it
    /// (spaces still need percent-encoding by the caller); empty for the root.
    pub fn api_path(&self) -> &str {
        &self.0[1..]
    }

    /// The segments from the top, empty for the root.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.api_path().split('/').filter(|s| !s.is_empty())
    }

    /// True when this org unit is `other` or lies below it.
    pub fn is_within(&self, other: &OrgUnitPath) -> bool {
        other.is_root()
            || self == other
            || self
                .0
                .strip_prefix(other.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// The org unit that holds the support accounts when a domain names none:
/// `/Customer Care Portal`.
pub fn default_support_ou() -> OrgUnitPath {
    OrgUnitPath(DEFAULT_SUPPORT_OU.to_owned())
}

/// Checks that `path` may hold support accounts: any org unit but the root, because automatic
/// licensing must be turned off for it and that must not affect the rest of the domain.
pub fn validate_support_org_unit(path: &OrgUnitPath) -> Result<(), InvalidValue> {
    if path.is_root() {
        Err(invalid(
            "must not be the root org unit '/': support accounts need their own org unit, such as /Customer Care Portal",
        ))
    } else {
        Ok(())
    }
}

/// The name of a service-account key configured on the server: a lower-case letter or digit,
/// then up to 62 lower-case letters, digits, `_` or `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredentialName(String);
string_newtype!(CredentialName);

impl CredentialName {
    /// Parses a credential name.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        check_not_empty(raw)?;
        check_max_chars(raw, 63)?;
        if let Some(c) = raw
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-')))
        {
            return Err(invalid(format!(
                "may contain only lower-case letters, digits, '_' and '-', found {c:?}"
            )));
        }
        if !raw.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
            return Err(invalid("must start with a lower-case letter or digit"));
        }
        Ok(Self(raw.to_owned()))
    }
}

/// The id that ends a staff member's resource name (AIP-122): 1..=63 lower-case letters, digits
/// and hyphens, starting with a letter and not ending with a hyphen.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StaffMemberId(String);
string_newtype!(StaffMemberId);

impl StaffMemberId {
    /// Parses an id.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        check_not_empty(raw)?;
        check_max_chars(raw, 63)?;
        if let Some(c) = raw
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(invalid(format!(
                "may contain only lower-case letters, digits and '-', found {c:?}"
            )));
        }
        if !raw.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(invalid("must start with a lower-case letter"));
        }
        if raw.ends_with('-') {
            return Err(invalid("must not end with '-'"));
        }
        Ok(Self(raw.to_owned()))
    }
}

/// A human-readable label: at most 200 characters, no control characters; may be empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct DisplayName(String);
string_newtype!(DisplayName);

impl DisplayName {
    /// Checks a label.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        check_max_chars(raw, 200)?;
        check_no_control(raw)?;
        Ok(Self(raw.to_owned()))
    }

    /// True for the empty label.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The name of a custom admin role: 1..=100 characters, no control characters, no surrounding
/// whitespace. Compared exactly with the `roleName` Google returns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleName(String);
string_newtype!(RoleName);

impl RoleName {
    /// Parses a role name.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        check_not_empty(raw)?;
        check_max_chars(raw, 100)?;
        check_no_control(raw)?;
        check_no_surrounding_whitespace(raw)?;
        Ok(Self(raw.to_owned()))
    }
}

/// The custom role name used when a domain names none: `Customer Care Portal Access`.
pub fn default_custom_role() -> RoleName {
    RoleName(DEFAULT_CUSTOM_ROLE.to_owned())
}

/// An idempotency key (AIP-155): a UUID in the canonical 8-4-4-4-12 hexadecimal form, accepted in
/// any case and stored lower case. The nil UUID is refused: it is what an unset generator gives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(String);
string_newtype!(RequestId);

impl RequestId {
    /// Parses a request id.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
        let shape_error = || {
            invalid(
                "must be a UUID in the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hexadecimal digits)",
            )
        };
        check_not_empty(raw)?;
        let groups: Vec<&str> = raw.split('-').collect();
        if groups.len() != GROUPS.len()
            || groups.iter().zip(GROUPS).any(|(group, len)| {
                group.len() != len || !group.chars().all(|c| c.is_ascii_hexdigit())
            })
        {
            return Err(shape_error());
        }
        let lower = raw.to_ascii_lowercase();
        if lower.chars().all(|c| c == '0' || c == '-') {
            return Err(invalid("must not be the nil UUID"));
        }
        Ok(Self(lower))
    }
}

/// Which role opens the portal for a domain's support accounts.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RoleMode {
    /// The prebuilt Reseller Admin system role (all reseller privileges).
    ResellerAdmin,
    /// A custom role holding only *View Customers* and *Access Customer Support Cases*: the least
    /// privilege that opens the portal, hence the default.
    #[default]
    CustomRole,
}

impl RoleMode {
    /// Every mode, in declaration order.
    pub const ALL: &'static [RoleMode] = &[RoleMode::ResellerAdmin, RoleMode::CustomRole];

    /// `RESELLER_ADMIN` or `CUSTOM_ROLE`.
    pub fn as_str(self) -> &'static str {
        match self {
            RoleMode::ResellerAdmin => "RESELLER_ADMIN",
            RoleMode::CustomRole => "CUSTOM_ROLE",
        }
    }
}

impl fmt::Display for RoleMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RoleMode {
    type Err = InvalidValue;

    /// Accepts `RESELLER_ADMIN` / `CUSTOM_ROLE`, with or without the proto prefix `ROLE_MODE_`.
    fn from_str(raw: &str) -> Result<Self, InvalidValue> {
        match raw.strip_prefix("ROLE_MODE_").unwrap_or(raw) {
            "RESELLER_ADMIN" => Ok(RoleMode::ResellerAdmin),
            "CUSTOM_ROLE" => Ok(RoleMode::CustomRole),
            _ => Err(invalid(format!(
                "must be RESELLER_ADMIN or CUSTOM_ROLE, got {}",
                quote(raw)
            ))),
        }
    }
}

/// Where a delegated admin's address lies relative to the declared domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminPlacement {
    /// In the declared domain itself.
    InDomain,
    /// In another domain: acceptable only when Google confirms that the admin's customer owns
    /// the declared domain as a verified secondary domain (a reseller account's secondary
    /// domains share the primary domain's super admins). Nothing here can tell that domain from
    /// another customer's, so the caller must ask Google (`domains.list`) before accepting it.
    ElsewhereNeedsGoogle,
}

/// Checks that `admin` can be the delegated admin of `domain`: never a consumer (`@gmail.com`,
/// `@googlemail.com`) address, and either in `domain` itself or in another domain that Google
/// must confirm belongs to the same customer ([`AdminPlacement::ElsewhereNeedsGoogle`]).
/// Whether it is a super admin only Google can tell; the planner checks that.
pub fn validate_delegated_admin(
    admin: &EmailAddress,
    domain: &DomainName,
) -> Result<AdminPlacement, InvalidValue> {
    if admin.is_consumer() {
        return Err(invalid(format!(
            "must not be an @{} address: a consumer account can never be a super administrator",
            admin.domain()
        )));
    }
    if admin.domain() == domain.as_str() {
        Ok(AdminPlacement::InDomain)
    } else {
        Ok(AdminPlacement::ElsewhereNeedsGoogle)
    }
}

#[cfg(test)]
mod tests;
