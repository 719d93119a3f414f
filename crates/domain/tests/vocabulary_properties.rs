//! Property tests of the validated vocabulary: valid inputs round-trip through `parse`/`as_str`,
//! `parse` is idempotent, arbitrary strings never panic, and every accepted value satisfies the
//! documented constraints (checked here by independent, deliberately naive predicates).

use proptest::prelude::*;
use support_access_domain::*;

fn is_ldh_host(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    s.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && !labels.last().unwrap().bytes().all(|b| b.is_ascii_digit())
}

fn label() -> impl Strategy<Value = String> {
    // Labels with `--` in the third and fourth place are reserved for IDNA (`xn--…` must be
    // valid punycode, RFC 5891 §4.2.3.1): not valid plain labels.
    "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?"
        .prop_filter("reserved for IDNA", |l| l.get(2..4) != Some("--"))
}

fn valid_domain() -> impl Strategy<Value = String> {
    (prop::collection::vec(label(), 1..4), "[a-z]{2,8}")
        .prop_map(|(labels, tld)| format!("{}.{tld}", labels.join(".")))
        .prop_filter("not consumer", |d| {
            !(d == "gmail.com"
                || d == "googlemail.com"
                || d.ends_with(".gmail.com")
                || d.ends_with(".googlemail.com"))
        })
}

fn valid_username() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9]([a-zA-Z0-9._'-]{0,30}[a-zA-Z0-9])?".prop_filter(
        "no double period, not reserved",
        |u| {
            !u.contains("..") && !["abuse", "postmaster"].contains(&u.to_ascii_lowercase().as_str())
        },
    )
}

/// Any string, biased towards the characters the parsers care about.
fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9./@_'\\- \\t<>=ü\u{0}-]{0,80}",
        "[a-z.-]{0,300}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn valid_domains_round_trip(raw in valid_domain()) {
        let parsed = DomainName::parse(&raw).unwrap();
        prop_assert_eq!(parsed.as_str(), raw.as_str());
        prop_assert_eq!(DomainName::parse(parsed.as_str()).unwrap(), parsed.clone());
        let upper = DomainName::parse(&raw.to_uppercase()).unwrap();
        prop_assert_eq!(upper, parsed);
    }

    #[test]
    fn domain_parse_never_panics_and_accepted_values_are_valid(raw in nasty_string()) {
        if let Ok(domain) = DomainName::parse(&raw) {
            prop_assert!(is_ldh_host(domain.as_str()), "{:?}", domain);
            prop_assert!(!domain.as_str().ends_with("gmail.com"));
            prop_assert_eq!(DomainName::parse(domain.as_str()).unwrap(), domain);
        }
    }

    #[test]
    fn unicode_domains_become_ascii_and_stay_stable(label in "[a-zà-ÿ]{1,12}", tld in "[a-z]{2,5}") {
        let raw = format!("{label}.{tld}");
        if let Ok(domain) = DomainName::parse(&raw) {
            prop_assert!(domain.as_str().is_ascii());
            prop_assert!(is_ldh_host(domain.as_str()));
            prop_assert_eq!(DomainName::parse(domain.as_str()).unwrap(), domain);
        }
    }

    #[test]
    fn valid_usernames_round_trip_lower_case(raw in valid_username()) {
        let parsed = Username::parse(&raw).unwrap();
        prop_assert_eq!(parsed.as_str(), raw.to_ascii_lowercase());
        prop_assert_eq!(Username::parse(parsed.as_str()).unwrap(), parsed);
    }

    #[test]
    fn username_parse_never_panics_and_accepted_values_are_valid(raw in nasty_string()) {
        if let Ok(username) = Username::parse(&raw) {
            let s = username.as_str();
            prop_assert!((1..=64).contains(&s.len()));
            prop_assert!(s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-'".contains(&b)));
            prop_assert!(s.as_bytes()[0].is_ascii_alphanumeric());
            prop_assert!(s.as_bytes()[s.len() - 1].is_ascii_alphanumeric());
            prop_assert!(!s.contains(".."));
        }
    }

    #[test]
    fn person_names_are_trimmed_and_bounded(raw in nasty_string()) {
        if let Ok(name) = PersonName::parse(&raw) {
            let s = name.as_str();
            prop_assert_eq!(s, raw.trim());
            prop_assert!((1..=60).contains(&s.chars().count()));
            prop_assert!(!s.chars().any(|c| c.is_control() || "<>=".contains(c)));
            prop_assert_eq!(PersonName::parse(s).unwrap(), name.clone());
        }
    }

    #[test]
    fn valid_person_names_round_trip(raw in "[A-Za-zÀ-ÿ' .-]{0,20}[A-Za-zÀ-ÿ]") {
        let trimmed = raw.trim();
        let name = PersonName::parse(&raw).unwrap();
        prop_assert_eq!(name.as_str(), trimmed);
    }

    #[test]
    fn valid_emails_round_trip(local in "[a-zA-Z0-9+_'-]{1,20}(\\.[a-z0-9]{1,5})?", domain in valid_domain()) {
        let raw = format!("{local}@{domain}");
        let email = EmailAddress::parse(&raw).unwrap();
        prop_assert_eq!(email.as_str(), raw.to_ascii_lowercase());
        prop_assert_eq!(email.local_part(), local.to_ascii_lowercase());
        prop_assert_eq!(email.domain(), domain.as_str());
        prop_assert_eq!(EmailAddress::parse(email.as_str()).unwrap(), email);
    }

    #[test]
    fn email_parse_never_panics_and_accepted_values_are_valid(raw in nasty_string()) {
        if let Ok(email) = EmailAddress::parse(&raw) {
            let s = email.as_str();
            prop_assert!(s.len() <= 254);
            prop_assert_eq!(s.matches('@').count(), 1);
            prop_assert!(is_ldh_host(email.domain()));
            prop_assert!(!email.local_part().is_empty() && email.local_part().len() <= 64);
            prop_assert_eq!(s.to_ascii_lowercase(), s);
            prop_assert_eq!(EmailAddress::parse(s).unwrap(), email.clone());
        }
    }

    #[test]
    fn valid_org_unit_paths_round_trip(segments in prop::collection::vec("[A-Za-z0-9_]([A-Za-z0-9_ ]{0,10}[A-Za-z0-9_])?", 0..5)) {
        let raw = format!("/{}", segments.join("/"));
        let raw = if segments.is_empty() { "/".to_owned() } else { raw };
        let path = OrgUnitPath::parse(&raw).unwrap();
        prop_assert_eq!(path.as_str(), raw.as_str());
        prop_assert_eq!(path.segments().count(), segments.len());
        prop_assert_eq!(path.is_root(), segments.is_empty());
        if !path.is_root() {
            prop_assert_eq!(path.name(), segments.last().unwrap().as_str());
            prop_assert!(path.is_within(&path.parent()));
            prop_assert_eq!(format!("/{}", path.api_path()), raw);
        }
    }

    #[test]
    fn org_unit_parse_never_panics_and_accepted_values_are_valid(raw in nasty_string()) {
        if let Ok(path) = OrgUnitPath::parse(&raw) {
            let s = path.as_str();
            prop_assert!(s.starts_with('/'));
            prop_assert!(s == "/" || !s.ends_with('/'));
            prop_assert!(!s.contains("//"));
            prop_assert!(!s.chars().any(char::is_control));
            prop_assert_eq!(OrgUnitPath::parse(path.parent().as_str()).unwrap(), path.parent());
        }
    }

    #[test]
    fn small_identifiers_never_panic_and_are_valid(raw in nasty_string()) {
        if let Ok(credential) = CredentialName::parse(&raw) {
            let s = credential.as_str();
            prop_assert!((1..=63).contains(&s.len()));
            prop_assert!(s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'));
            prop_assert!(s.as_bytes()[0].is_ascii_alphanumeric());
        }
        if let Ok(id) = StaffMemberId::parse(&raw) {
            let s = id.as_str();
            prop_assert!((1..=63).contains(&s.len()));
            prop_assert!(s.as_bytes()[0].is_ascii_lowercase());
            prop_assert!(!s.ends_with('-'));
            prop_assert_eq!(parse_staff_member_resource(&staff_member_resource(&id)).unwrap(), id.clone());
        }
        if let Ok(display) = DisplayName::parse(&raw) {
            prop_assert!(display.as_str().chars().count() <= 200);
            prop_assert_eq!(display.as_str(), raw.as_str());
        }
        if let Ok(role) = RoleName::parse(&raw) {
            prop_assert!((1..=100).contains(&role.as_str().chars().count()));
            prop_assert_eq!(role.as_str().trim(), role.as_str());
        }
        if let Ok(request) = RequestId::parse(&raw) {
            prop_assert_eq!(request.as_str().len(), 36);
            prop_assert_eq!(request.as_str().to_ascii_lowercase(), request.as_str());
        }
        let _ = raw.parse::<RoleMode>();
        let _ = parse_domain_resource(&raw);
        let _ = parse_support_account_resource(&raw);
    }

    #[test]
    fn valid_staff_member_ids_round_trip(raw in "[a-z]([a-z0-9-]{0,61}[a-z0-9])?") {
        let id = StaffMemberId::parse(&raw).unwrap();
        prop_assert_eq!(id.as_str(), raw.as_str());
    }

    #[test]
    fn valid_credential_names_round_trip(raw in "[a-z0-9][a-z0-9_-]{0,62}") {
        let credential = CredentialName::parse(&raw).unwrap();
        prop_assert_eq!(credential.as_str(), raw.as_str());
    }

    #[test]
    fn valid_request_ids_round_trip(raw in "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{11}[1-9a-fA-F]") {
        let id = RequestId::parse(&raw).unwrap();
        prop_assert_eq!(id.as_str(), raw.to_ascii_lowercase());
        prop_assert_eq!(RequestId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn page_size_is_always_within_bounds(raw in any::<i32>()) {
        match parse_page_size(raw) {
            Ok(size) => {
                prop_assert!(raw >= 0);
                prop_assert!((1..=1000).contains(&size));
                if raw > 0 { prop_assert_eq!(size, (raw as u32).min(1000)); }
            }
            Err(error) => {
                prop_assert!(raw < 0);
                prop_assert_eq!(error.to_string(), format!("must not be negative, got {raw}"));
            }
        }
    }

    #[test]
    fn support_account_resources_round_trip(domain in valid_domain(), username in valid_username()) {
        let domain = DomainName::parse(&domain).unwrap();
        let username = Username::parse(&username).unwrap();
        let name = support_account_resource(&domain, &username);
        prop_assert_eq!(parse_support_account_resource(&name).unwrap(), (domain.clone(), username));
        prop_assert_eq!(parse_domain_resource(&domain_resource(&domain)).unwrap(), domain);
    }

    #[test]
    fn serde_round_trips_through_json(domain in valid_domain(), username in valid_username()) {
        let domain = DomainName::parse(&domain).unwrap();
        let username = Username::parse(&username).unwrap();
        let json = serde_json::to_string(&(domain.clone(), username.clone())).unwrap();
        let back: (DomainName, Username) = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, (domain, username));
    }

    #[test]
    fn violations_keep_every_error_in_order(fields in prop::collection::vec(("[a-z_.]{1,12}", any::<bool>()), 0..20)) {
        let mut violations = Violations::default();
        let mut expected = Vec::new();
        for (i, (field, fail)) in fields.iter().enumerate() {
            let result = if *fail { Err(InvalidValue(format!("bad {i}"))) } else { Ok(i) };
            let got = violations.check(field, result);
            prop_assert_eq!(got.is_some(), !*fail);
            if *fail {
                expected.push(FieldViolation { field: field.clone(), description: format!("bad {i}") });
            }
        }
        match violations.finish() {
            Ok(()) => prop_assert!(expected.is_empty()),
            Err(found) => prop_assert_eq!(found, expected),
        }
    }
}
