//! Unit tests of the vocabulary: one test per rule, asserting the exact user-facing description.

use super::*;

fn err<T: fmt::Debug>(result: Result<T, InvalidValue>) -> String {
    result.unwrap_err().0
}

// ---------------------------------------------------------------- DomainName

#[test]
fn domain_is_lower_cased() {
    assert_eq!(
        DomainName::parse("Reseller.EXAMPLE").unwrap().as_str(),
        "reseller.example"
    );
}

#[test]
fn domain_accepts_hyphens_inside_labels_and_digits() {
    for ok in [
        "a-b.example",
        "ab--cd.example",
        "1password.com",
        "a.b.c.d.example",
        "x.io",
    ] {
        assert_eq!(DomainName::parse(ok).unwrap().as_str(), ok);
    }
}

#[test]
fn domain_converts_unicode_to_punycode() {
    assert_eq!(
        DomainName::parse("bücher.example").unwrap().as_str(),
        "xn--bcher-kva.example"
    );
    assert_eq!(
        DomainName::parse("BÜCHER.example").unwrap().as_str(),
        "xn--bcher-kva.example"
    );
    // Already in ASCII form: kept.
    assert_eq!(
        DomainName::parse("xn--bcher-kva.example").unwrap().as_str(),
        "xn--bcher-kva.example"
    );
}

#[test]
fn domain_refuses_invalid_punycode() {
    assert_eq!(
        err(DomainName::parse("xn--a.example")),
        "contains a label that is not valid punycode ('xn--' labels must be valid IDNA)"
    );
}

#[test]
fn domain_refuses_empty_and_whitespace() {
    assert_eq!(err(DomainName::parse("")), "must not be empty");
    assert_eq!(
        err(DomainName::parse(" reseller.example")),
        "must not contain whitespace"
    );
    assert_eq!(
        err(DomainName::parse("res eller.example")),
        "must not contain whitespace"
    );
}

#[test]
fn domain_refuses_empty_labels_and_trailing_dot() {
    assert_eq!(
        err(DomainName::parse("reseller.example.")),
        "must not end with '.'"
    );
    assert_eq!(
        err(DomainName::parse(".reseller.example")),
        "must not contain empty labels (a leading '.' or '..')"
    );
    assert_eq!(
        err(DomainName::parse("reseller..example")),
        "must not contain empty labels (a leading '.' or '..')"
    );
}

#[test]
fn domain_needs_two_labels() {
    assert_eq!(
        err(DomainName::parse("localhost")),
        "must have at least two labels, such as example.com"
    );
}

#[test]
fn domain_refuses_characters_outside_ldh() {
    assert_eq!(
        err(DomainName::parse("re_seller.example")),
        "may contain only letters, digits, '-' and '.', found '_'"
    );
    assert_eq!(
        err(DomainName::parse("ana@reseller.example")),
        "may contain only letters, digits, '-' and '.', found '@'"
    );
}

#[test]
fn domain_refuses_hyphen_at_label_edges() {
    assert_eq!(
        err(DomainName::parse("-reseller.example")),
        "label '-reseller' must not start or end with '-'"
    );
    assert_eq!(
        err(DomainName::parse("reseller-.example")),
        "label 'reseller-' must not start or end with '-'"
    );
}

#[test]
fn domain_limits_label_and_total_length() {
    let label63 = "a".repeat(63);
    assert!(DomainName::parse(&format!("{label63}.example")).is_ok());
    assert_eq!(
        err(DomainName::parse(&format!("{}.example", "a".repeat(64)))),
        format!(
            "label '{}…' must be at most 63 characters, got 64",
            "a".repeat(40)
        )
    );
    // 4 labels of 63 + 3 dots = 255.
    let long = [label63.as_str(); 4].join(".");
    assert_eq!(
        err(DomainName::parse(&long)),
        "must be at most 253 characters, got 255"
    );
    let exactly253 = format!("{}.{}.{}.{}", label63, label63, label63, "a".repeat(61));
    assert_eq!(exactly253.len(), 253);
    assert!(DomainName::parse(&exactly253).is_ok());
}

#[test]
fn domain_refuses_numeric_top_level_domain_and_ip_addresses() {
    assert_eq!(
        err(DomainName::parse("192.168.0.1")),
        "top-level domain '1' must not be all digits"
    );
    assert_eq!(
        err(DomainName::parse("reseller.123")),
        "top-level domain '123' must not be all digits"
    );
}

#[test]
fn domain_refuses_consumer_domains_and_their_subdomains() {
    for consumer in ["gmail.com", "GMail.com", "googlemail.com", "mail.gmail.com"] {
        let error = err(DomainName::parse(consumer));
        assert!(error.ends_with("is a consumer domain and cannot be a reseller domain; use the reseller's own Workspace domain"), "{consumer}: {error}");
    }
    // Only the exact domain and its subdomains: a name that merely ends in the same letters is fine.
    assert!(DomainName::parse("notgmail.com").is_ok());
    assert!(DomainName::parse("gmail.com.example").is_ok());
}

#[test]
fn domain_subdomain_relation() {
    let parent = DomainName::parse("reseller.example").unwrap();
    let child = DomainName::parse("eu.reseller.example").unwrap();
    let other = DomainName::parse("xreseller.example").unwrap();
    assert!(child.is_same_or_subdomain_of(&parent));
    assert!(parent.is_same_or_subdomain_of(&parent));
    assert!(!parent.is_same_or_subdomain_of(&child));
    assert!(!other.is_same_or_subdomain_of(&parent));
}

// ---------------------------------------------------------------- Username

#[test]
fn username_is_lower_cased_and_accepts_googles_characters() {
    assert_eq!(Username::parse("Ana.Silva").unwrap().as_str(), "ana.silva");
    for ok in ["a", "0", "o'brien", "ana_silva", "ana-silva", "a.b.c", "x1"] {
        assert_eq!(Username::parse(ok).unwrap().as_str(), ok);
    }
}

#[test]
fn username_refuses_other_characters() {
    for (bad, found) in [
        ("ana+x", "'+'"),
        ("ana silva", "' '"),
        ("anã", "'ã'"),
        ("a=b", "'='"),
        ("a,b", "','"),
    ] {
        assert_eq!(
            err(Username::parse(bad)),
            format!(
                "may contain only letters (a-z), digits (0-9), '.', '_', '-' and apostrophes, found {found}"
            )
        );
    }
}

#[test]
fn username_must_start_and_end_with_letter_or_digit() {
    assert_eq!(
        err(Username::parse(".ana")),
        "must start with a letter or digit"
    );
    assert_eq!(
        err(Username::parse("_ana")),
        "must start with a letter or digit"
    );
    assert_eq!(
        err(Username::parse("ana.")),
        "must end with a letter or digit"
    );
    assert_eq!(
        err(Username::parse("ana'")),
        "must end with a letter or digit"
    );
}

#[test]
fn username_refuses_double_period_empty_long_and_reserved() {
    assert_eq!(
        err(Username::parse("ana..silva")),
        "must not contain two periods in a row"
    );
    assert_eq!(err(Username::parse("")), "must not be empty");
    assert!(Username::parse(&"a".repeat(64)).is_ok());
    assert_eq!(
        err(Username::parse(&"a".repeat(65))),
        "must be at most 64 characters, got 65"
    );
    assert_eq!(
        err(Username::parse("Postmaster")),
        "'postmaster' is reserved by Google and cannot be a username"
    );
    assert!(err(Username::parse("abuse")).contains("reserved"));
}

// ---------------------------------------------------------------- PersonName

#[test]
fn person_name_is_trimmed_and_keeps_unicode() {
    assert_eq!(PersonName::parse("  Ana ").unwrap().as_str(), "Ana");
    assert_eq!(
        PersonName::parse("Zoë O'Brien-Ñúñez").unwrap().as_str(),
        "Zoë O'Brien-Ñúñez"
    );
    assert_eq!(PersonName::parse("李").unwrap().as_str(), "李");
}

#[test]
fn person_name_counts_characters_not_bytes() {
    let sixty = "é".repeat(60);
    assert_eq!(sixty.len(), 120);
    assert!(PersonName::parse(&sixty).is_ok());
    assert_eq!(
        err(PersonName::parse(&"é".repeat(61))),
        "must be at most 60 characters, got 61"
    );
}

#[test]
fn person_name_refuses_empty_control_and_forbidden_characters() {
    assert_eq!(err(PersonName::parse("")), "must not be empty");
    assert_eq!(err(PersonName::parse("   ")), "must not be empty");
    assert_eq!(
        err(PersonName::parse("Ana\u{7}")),
        "must not contain control characters, found '\\u{7}'"
    );
    assert_eq!(
        err(PersonName::parse("A\nna")),
        "must not contain control characters, found '\\n'"
    );
    for c in ['<', '>', '='] {
        assert_eq!(
            err(PersonName::parse(&format!("An{c}a"))),
            format!("must not contain '<', '>' or '=', found '{c}'")
        );
    }
}

// ---------------------------------------------------------------- EmailAddress

#[test]
fn email_is_lower_cased_and_split() {
    let email = EmailAddress::parse("Ana.Silva@Reseller.Example").unwrap();
    assert_eq!(email.as_str(), "ana.silva@reseller.example");
    assert_eq!(email.local_part(), "ana.silva");
    assert_eq!(email.domain(), "reseller.example");
    assert!(!email.is_consumer());
}

#[test]
fn email_accepts_consumer_domains_and_dot_atom_characters() {
    assert!(
        EmailAddress::parse("someone@gmail.com")
            .unwrap()
            .is_consumer()
    );
    assert!(
        EmailAddress::parse("someone@googlemail.com")
            .unwrap()
            .is_consumer()
    );
    for ok in [
        "a+tag@x.example",
        "o'brien@x.example",
        "a!#$%&'*+-/=?^_`{|}~@x.example",
    ] {
        assert!(EmailAddress::parse(ok).is_ok(), "{ok}");
    }
}

#[test]
fn email_converts_idna_domains() {
    assert_eq!(
        EmailAddress::parse("ana@bücher.example").unwrap().as_str(),
        "ana@xn--bcher-kva.example"
    );
}

#[test]
fn email_refuses_wrong_shapes() {
    let one_at = "must contain exactly one '@', as in name@example.com";
    assert_eq!(err(EmailAddress::parse("ana")), one_at);
    assert_eq!(err(EmailAddress::parse("a@b@example.com")), one_at);
    assert_eq!(err(EmailAddress::parse("")), "must not be empty");
    assert_eq!(
        err(EmailAddress::parse("ana @x.example")),
        "must not contain whitespace"
    );
    assert_eq!(
        err(EmailAddress::parse("@x.example")),
        "must have a non-empty part before the '@'"
    );
    assert_eq!(err(EmailAddress::parse("ana@")), "domain must not be empty");
    assert_eq!(
        err(EmailAddress::parse("ana@localhost")),
        "domain must have at least two labels, such as example.com"
    );
}

#[test]
fn email_local_part_rules() {
    let dots = "the part before the '@' must not start or end with '.' nor contain '..'";
    assert_eq!(err(EmailAddress::parse(".ana@x.example")), dots);
    assert_eq!(err(EmailAddress::parse("ana.@x.example")), dots);
    assert_eq!(err(EmailAddress::parse("a..na@x.example")), dots);
    assert!(err(EmailAddress::parse("a(b)@x.example")).ends_with("found '('"));
    assert!(err(EmailAddress::parse("anã@x.example")).ends_with("found 'ã'"));
    assert!(EmailAddress::parse(&format!("{}@x.example", "a".repeat(64))).is_ok());
    assert_eq!(
        err(EmailAddress::parse(&format!(
            "{}@x.example",
            "a".repeat(65)
        ))),
        "the part before the '@' must be at most 64 characters, got 65"
    );
}

#[test]
fn email_limits_total_length() {
    let domain = format!(
        "{}.{}.{}.{}",
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(57)
    );
    assert_eq!(domain.len(), 249);
    assert!(EmailAddress::parse(&format!("abcd@{domain}")).is_ok()); // 254
    assert_eq!(
        err(EmailAddress::parse(&format!("abcde@{domain}"))),
        "must be at most 254 characters, got 255"
    );
}

#[test]
fn email_for_account_joins_username_and_domain() {
    let username = Username::parse("ana.silva").unwrap();
    let domain = DomainName::parse("reseller.example").unwrap();
    let email = EmailAddress::for_account(&username, &domain).unwrap();
    assert_eq!(email.as_str(), "ana.silva@reseller.example");
}

// ---------------------------------------------------------------- OrgUnitPath

#[test]
fn org_unit_root_and_nested() {
    let root = OrgUnitPath::parse("/").unwrap();
    assert!(root.is_root());
    assert_eq!(root.name(), "");
    assert_eq!(root.parent(), root);
    assert_eq!(root.api_path(), "");
    assert_eq!(root.segments().count(), 0);

    let nested = OrgUnitPath::parse("/Support/Customer Care Portal").unwrap();
    assert!(!nested.is_root());
    assert_eq!(nested.name(), "Customer Care Portal");
    assert_eq!(nested.parent().as_str(), "/Support");
    assert_eq!(nested.parent().parent(), root);
    assert_eq!(nested.api_path(), "Support/Customer Care Portal");
    assert_eq!(
        nested.segments().collect::<Vec<_>>(),
        ["Support", "Customer Care Portal"]
    );
}

#[test]
fn org_unit_containment() {
    let support = OrgUnitPath::parse("/Support").unwrap();
    let below = OrgUnitPath::parse("/Support/Team").unwrap();
    let sibling = OrgUnitPath::parse("/Supporters").unwrap();
    assert!(below.is_within(&support));
    assert!(support.is_within(&support));
    assert!(!sibling.is_within(&support));
    assert!(support.is_within(&OrgUnitPath::root()));
}

#[test]
fn org_unit_refuses_bad_paths() {
    assert_eq!(err(OrgUnitPath::parse("")), "must not be empty");
    assert_eq!(
        err(OrgUnitPath::parse("Support")),
        "must start with '/', as in /Customer Care Portal"
    );
    assert_eq!(
        err(OrgUnitPath::parse("/Support/")),
        "must not end with '/'"
    );
    assert_eq!(
        err(OrgUnitPath::parse("/A//B")),
        "must not contain empty segments ('//')"
    );
    assert_eq!(
        err(OrgUnitPath::parse("/A\tB")),
        "must not contain control characters, found '\\t'"
    );
    assert_eq!(
        err(OrgUnitPath::parse("/A/ B")),
        "segment ' B' must not start or end with whitespace"
    );
    let long = "x".repeat(256);
    assert_eq!(
        err(OrgUnitPath::parse(&format!("/{long}"))),
        format!(
            "segment '{}…' must be at most 255 characters, got 256",
            "x".repeat(40)
        )
    );
    let too_long = format!("/{}", ["y"; 1100].join("/"));
    assert_eq!(
        err(OrgUnitPath::parse(&too_long)),
        "must be at most 2048 characters, got 2200"
    );
}

#[test]
fn default_support_ou_is_valid_and_not_root() {
    let ou = default_support_ou();
    assert_eq!(ou.as_str(), "/Customer Care Portal");
    assert_eq!(OrgUnitPath::parse(DEFAULT_SUPPORT_OU), Ok(ou.clone()));
    assert_eq!(validate_support_org_unit(&ou), Ok(()));
    assert!(
        err(validate_support_org_unit(&OrgUnitPath::root()))
            .starts_with("must not be the root org unit '/'")
    );
}

// ---------------------------------------------------------------- small identifiers

#[test]
fn credential_name_rules() {
    for ok in ["default", "0", "key_1-eu", &"a".repeat(63)] {
        assert!(CredentialName::parse(ok).is_ok(), "{ok}");
    }
    assert_eq!(err(CredentialName::parse("")), "must not be empty");
    assert_eq!(
        err(CredentialName::parse("_x")),
        "must start with a lower-case letter or digit"
    );
    assert_eq!(
        err(CredentialName::parse("Default")),
        "may contain only lower-case letters, digits, '_' and '-', found 'D'"
    );
    assert_eq!(
        err(CredentialName::parse(&"a".repeat(64))),
        "must be at most 63 characters, got 64"
    );
}

#[test]
fn staff_member_id_rules() {
    for ok in ["a", "ana", "ana-silva-2", &format!("a{}", "b".repeat(62))] {
        assert!(StaffMemberId::parse(ok).is_ok(), "{ok}");
    }
    assert_eq!(err(StaffMemberId::parse("")), "must not be empty");
    assert_eq!(
        err(StaffMemberId::parse("1ana")),
        "must start with a lower-case letter"
    );
    assert_eq!(
        err(StaffMemberId::parse("-ana")),
        "must start with a lower-case letter"
    );
    assert_eq!(err(StaffMemberId::parse("ana-")), "must not end with '-'");
    assert_eq!(
        err(StaffMemberId::parse("ana_silva")),
        "may contain only lower-case letters, digits and '-', found '_'"
    );
    assert_eq!(
        err(StaffMemberId::parse(&"a".repeat(64))),
        "must be at most 63 characters, got 64"
    );
}

#[test]
fn display_name_rules() {
    assert!(DisplayName::parse("").unwrap().is_empty());
    assert_eq!(
        DisplayName::parse(" Reseller EU ").unwrap().as_str(),
        " Reseller EU "
    );
    assert!(DisplayName::parse(&"ü".repeat(200)).is_ok());
    assert_eq!(
        err(DisplayName::parse(&"ü".repeat(201))),
        "must be at most 200 characters, got 201"
    );
    assert_eq!(
        err(DisplayName::parse("a\u{0}b")),
        "must not contain control characters, found '\\0'"
    );
}

#[test]
fn role_name_rules() {
    assert_eq!(
        default_custom_role().as_str(),
        "Customer Care Portal Access"
    );
    assert_eq!(
        RoleName::parse(DEFAULT_CUSTOM_ROLE),
        Ok(default_custom_role())
    );
    assert!(RoleName::parse(&"r".repeat(100)).is_ok());
    assert_eq!(err(RoleName::parse("")), "must not be empty");
    assert_eq!(
        err(RoleName::parse(&"r".repeat(101))),
        "must be at most 100 characters, got 101"
    );
    assert_eq!(
        err(RoleName::parse(" Role")),
        "must not start or end with whitespace"
    );
    assert_eq!(
        err(RoleName::parse("Ro\u{1b}le")),
        "must not contain control characters, found '\\u{1b}'"
    );
}

#[test]
fn request_id_rules() {
    let id = RequestId::parse("3F2504E0-4F89-11D3-9A0C-0305E82C3301").unwrap();
    assert_eq!(id.as_str(), "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
    let shape =
        "must be a UUID in the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hexadecimal digits)";
    for bad in [
        "3f2504e04f8911d39a0c0305e82c3301",
        "{3f2504e0-4f89-11d3-9a0c-0305e82c3301}",
        "3f2504e0-4f89-11d3-9a0c-0305e82c330",
        "3f2504e0-4f89-11d3-9a0c-0305e82c330g",
        "3f2504e0-4f89-11d3-9a0c0-305e82c3301",
        "+f2504e0-4f89-11d3-9a0c-0305e82c3301",
    ] {
        assert_eq!(err(RequestId::parse(bad)), shape, "{bad}");
    }
    assert_eq!(err(RequestId::parse("")), "must not be empty");
    assert_eq!(
        err(RequestId::parse("00000000-0000-0000-0000-000000000000")),
        "must not be the nil UUID"
    );
}

// ---------------------------------------------------------------- RoleMode

#[test]
fn role_mode_strings() {
    assert_eq!(RoleMode::default(), RoleMode::CustomRole);
    assert_eq!(RoleMode::ResellerAdmin.as_str(), "RESELLER_ADMIN");
    assert_eq!(RoleMode::CustomRole.to_string(), "CUSTOM_ROLE");
    assert_eq!("RESELLER_ADMIN".parse(), Ok(RoleMode::ResellerAdmin));
    assert_eq!("ROLE_MODE_CUSTOM_ROLE".parse(), Ok(RoleMode::CustomRole));
    assert_eq!(
        err("custom_role".parse::<RoleMode>()),
        "must be RESELLER_ADMIN or CUSTOM_ROLE, got 'custom_role'"
    );
    assert_eq!(
        err("ROLE_MODE_UNSPECIFIED".parse::<RoleMode>()),
        "must be RESELLER_ADMIN or CUSTOM_ROLE, got 'ROLE_MODE_UNSPECIFIED'"
    );
}

// ---------------------------------------------------------------- delegated admin

#[test]
fn delegated_admin_outside_the_domain_needs_google_to_confirm() {
    let domain = DomainName::parse("reseller.example").unwrap();
    let ok = EmailAddress::parse("Admin@Reseller.Example").unwrap();
    assert_eq!(
        validate_delegated_admin(&ok, &domain),
        Ok(AdminPlacement::InDomain)
    );
    // A secondary domain's admin is an admin of the primary domain: only Google knows.
    for elsewhere in ["admin@other.example", "admin@eu.reseller.example"] {
        let other = EmailAddress::parse(elsewhere).unwrap();
        assert_eq!(
            validate_delegated_admin(&other, &domain),
            Ok(AdminPlacement::ElsewhereNeedsGoogle),
            "{elsewhere}"
        );
    }
}

#[test]
fn delegated_admin_is_never_a_consumer_address() {
    let domain = DomainName::parse("reseller.example").unwrap();
    let gmail = EmailAddress::parse("boss@gmail.com").unwrap();
    assert_eq!(
        err(validate_delegated_admin(&gmail, &domain)),
        "must not be an @gmail.com address: a consumer account can never be a super administrator"
    );
    let googlemail = EmailAddress::parse("boss@googlemail.com").unwrap();
    assert!(err(validate_delegated_admin(&googlemail, &domain)).contains("@googlemail.com"));
}

// ---------------------------------------------------------------- serde

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Sample {
    domain: DomainName,
    mode: RoleMode,
    ou: OrgUnitPath,
}

#[test]
fn newtypes_serialize_as_plain_strings_and_are_rechecked() {
    let sample = Sample {
        domain: DomainName::parse("reseller.example").unwrap(),
        mode: RoleMode::ResellerAdmin,
        ou: default_support_ou(),
    };
    let json = serde_json::to_string(&sample).unwrap();
    assert_eq!(
        json,
        r#"{"domain":"reseller.example","mode":"RESELLER_ADMIN","ou":"/Customer Care Portal"}"#
    );
    assert_eq!(serde_json::from_str::<Sample>(&json).unwrap(), sample);

    let bad = r#"{"domain":"gmail.com","mode":"CUSTOM_ROLE","ou":"/"}"#;
    let error = serde_json::from_str::<Sample>(bad).unwrap_err().to_string();
    assert!(
        error.contains("invalid DomainName \"gmail.com\""),
        "{error}"
    );
}
