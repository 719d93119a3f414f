//! Domain CRUD: validation of `supportaccess.v1.Domain` requests into store records, and back.

use prost_types::FieldMask;
use sqlx::PgConnection;
use support_access_domain::names::{
    CredentialName, DisplayName, DomainName, EmailAddress, OrgUnitPath, RoleName,
};
use support_access_domain::validation::{InvalidValue, Violations};
use support_access_domain::{domain_resource, parse_domain_resource, validate_delegated_admin};
use support_access_proto::v1;
use support_access_store::StoreError;
use support_access_store::domains::{
    self as store, DomainChanges, DomainRecord, NewDomain, RepairPolicy,
};

use super::convert::{required, role_mode_from_proto, role_mode_to_proto, timestamp};
use super::crud::Resource;
use super::methods;
use crate::error::ApiError;

/// The resource type named in errors.
pub const RESOURCE_TYPE: &str = "supportaccess.googleapis.com/Domain";

/// The fields `UpdateDomain` may change.
pub const UPDATABLE_FIELDS: &[&str] = &[
    "display_name",
    "credential",
    "delegated_admin",
    "org_unit_path",
    "role_mode",
    "custom_role_name",
    "repair_policy",
];

/// Validates a `CreateDomain` request's domain into a record to insert. `known_credential`
/// says whether the server has a key of that name.
pub fn validate_new(
    domain: Option<&v1::Domain>,
    known_credential: &dyn Fn(&str) -> bool,
) -> Result<NewDomain, ApiError> {
    let mut v = Violations::default();
    let Some(d) = domain else {
        v.add("domain", "is required");
        return Err(finish_err(v));
    };
    let domain_name = v.check(
        "domain.domain_name",
        required(&d.domain_name).and_then(DomainName::parse),
    );
    let display_name = v.check("domain.display_name", DisplayName::parse(&d.display_name));
    let credential = v.check(
        "domain.credential",
        parse_credential(&d.credential, known_credential),
    );
    let admin = v.check(
        "domain.delegated_admin",
        required(&d.delegated_admin).and_then(EmailAddress::parse),
    );
    if let (Some(admin), Some(domain_name)) = (&admin, &domain_name) {
        v.check(
            "domain.delegated_admin",
            validate_delegated_admin(admin, domain_name),
        );
    }
    let org_unit = v.check("domain.org_unit_path", parse_org_unit(&d.org_unit_path));
    let role_mode = v.check("domain.role_mode", role_mode_from_proto(d.role_mode));
    let role_name = v.check(
        "domain.custom_role_name",
        parse_role_name(&d.custom_role_name),
    );
    let repair_policy = v.check(
        "domain.repair_policy",
        repair_policy_from_proto(d.repair_policy),
    );
    v.finish().map_err(ApiError::InvalidArgument)?;
    // Every value is Some once `finish` passed.
    Ok(NewDomain {
        domain_name: domain_name.expect("validated").as_str().to_owned(),
        display_name: display_name.expect("validated").as_str().to_owned(),
        credential: credential.expect("validated").as_str().to_owned(),
        delegated_admin: admin.expect("validated").as_str().to_owned(),
        org_unit_path: org_unit.expect("validated").as_str().to_owned(),
        role_mode: role_mode.expect("validated"),
        custom_role_name: role_name.expect("validated").as_str().to_owned(),
        repair_policy: repair_policy.expect("validated"),
    })
}

/// Validates an `UpdateDomain` request against the current record: the changes to apply.
pub fn validate_update(
    request: &v1::UpdateDomainRequest,
    current: &DomainRecord,
    known_credential: &dyn Fn(&str) -> bool,
) -> Result<DomainChanges, ApiError> {
    let mut v = Violations::default();
    let d = request.domain.as_ref().expect("checked by caller");
    let paths = mask_paths(request.update_mask.as_ref(), UPDATABLE_FIELDS, d, &mut v);
    let mut changes = DomainChanges::default();
    // The stored name was valid when declared: one that no longer parses is a server fault, not
    // a reason to skip the delegated admin's check.
    let domain_name = DomainName::parse(&current.domain_name).map_err(|e| {
        ApiError::internal(anyhow::anyhow!(
            "stored domain name {:?}: {e}",
            current.domain_name
        ))
    })?;
    for path in paths {
        match path.as_str() {
            "display_name" => {
                changes.display_name = v
                    .check("domain.display_name", DisplayName::parse(&d.display_name))
                    .map(|x| x.as_str().to_owned());
            }
            "credential" => {
                changes.credential = v
                    .check(
                        "domain.credential",
                        parse_credential(&d.credential, known_credential),
                    )
                    .map(|x| x.as_str().to_owned());
            }
            "delegated_admin" => {
                let admin = v.check(
                    "domain.delegated_admin",
                    required(&d.delegated_admin).and_then(EmailAddress::parse),
                );
                if let Some(admin) = &admin {
                    v.check(
                        "domain.delegated_admin",
                        validate_delegated_admin(admin, &domain_name),
                    );
                }
                changes.delegated_admin = admin.map(|x| x.as_str().to_owned());
            }
            "org_unit_path" => {
                changes.org_unit_path = v
                    .check("domain.org_unit_path", parse_org_unit(&d.org_unit_path))
                    .map(|x| x.as_str().to_owned());
            }
            "role_mode" => {
                changes.role_mode = v.check("domain.role_mode", role_mode_from_proto(d.role_mode));
            }
            "custom_role_name" => {
                changes.custom_role_name = v
                    .check(
                        "domain.custom_role_name",
                        parse_role_name(&d.custom_role_name),
                    )
                    .map(|x| x.as_str().to_owned());
            }
            "repair_policy" => {
                changes.repair_policy = v.check(
                    "domain.repair_policy",
                    repair_policy_from_proto(d.repair_policy),
                );
            }
            _ => unreachable!("mask_paths returns only updatable fields"),
        }
    }
    v.finish().map_err(ApiError::InvalidArgument)?;
    Ok(changes)
}

/// The domain name of an update request, validated.
pub fn update_target(request: &v1::UpdateDomainRequest) -> Result<DomainName, ApiError> {
    let Some(d) = request.domain.as_ref() else {
        return Err(ApiError::invalid("domain", "is required"));
    };
    parse_domain_resource(&d.name).map_err(|e| ApiError::invalid("domain.name", e.0))
}

/// The record as the API shows it.
pub fn to_proto(r: &DomainRecord) -> v1::Domain {
    let name = DomainName::parse(&r.domain_name)
        .map(|d| domain_resource(&d))
        .unwrap_or_else(|_| format!("domains/{}", r.domain_name));
    v1::Domain {
        name,
        domain_name: r.domain_name.clone(),
        display_name: r.display_name.clone(),
        credential: r.credential.clone(),
        delegated_admin: r.delegated_admin.clone(),
        org_unit_path: r.org_unit_path.clone(),
        role_mode: role_mode_to_proto(r.role_mode) as i32,
        custom_role_name: r.custom_role_name.clone(),
        customer_id: r.customer_id.clone().unwrap_or_default(),
        create_time: Some(timestamp(r.create_time)),
        update_time: Some(timestamp(r.update_time)),
        etag: r.etag(),
        repair_policy: repair_policy_to_proto(r.repair_policy) as i32,
    }
}

/// The stored repair policy of the API's; UNSPECIFIED is `REPAIR`.
pub fn repair_policy_from_proto(value: i32) -> Result<RepairPolicy, InvalidValue> {
    match v1::RepairPolicy::try_from(value) {
        Ok(v1::RepairPolicy::Unspecified | v1::RepairPolicy::Repair) => Ok(RepairPolicy::Repair),
        Ok(v1::RepairPolicy::ReportOnly) => Ok(RepairPolicy::ReportOnly),
        Err(_) => Err(InvalidValue(format!(
            "unknown repair policy {value}; use REPAIR_POLICY_REPAIR or REPAIR_POLICY_REPORT_ONLY"
        ))),
    }
}

/// The API's repair policy.
pub fn repair_policy_to_proto(policy: RepairPolicy) -> v1::RepairPolicy {
    match policy {
        RepairPolicy::Repair => v1::RepairPolicy::Repair,
        RepairPolicy::ReportOnly => v1::RepairPolicy::ReportOnly,
    }
}

/// Whether the delegated admin's address is outside the declared domain, so that Google must
/// confirm the domain belongs to the admin's customer (a secondary domain of a reseller account).
pub fn admin_outside_domain(delegated_admin: &str, domain_name: &str) -> bool {
    delegated_admin
        .rsplit_once('@')
        .is_none_or(|(_, admin_domain)| !admin_domain.eq_ignore_ascii_case(domain_name))
}

/// What a record would look like, for `validate_only` creates.
pub fn preview(new: &NewDomain) -> v1::Domain {
    let mut proto = to_proto(&draft_record(new));
    proto.etag.clear();
    proto
}

/// The record a create would insert, as far as it is known before the insert.
pub fn draft_record(new: &NewDomain) -> DomainRecord {
    let now = chrono::Utc::now();
    DomainRecord {
        domain_name: new.domain_name.clone(),
        display_name: new.display_name.clone(),
        credential: new.credential.clone(),
        delegated_admin: new.delegated_admin.clone(),
        org_unit_path: new.org_unit_path.clone(),
        role_mode: new.role_mode,
        custom_role_name: new.custom_role_name.clone(),
        customer_id: None,
        create_time: now,
        update_time: now,
        revision: 0,
        repair_policy: new.repair_policy,
        last_reconcile_time: None,
        next_reconcile_time: None,
    }
}

/// Applies changes to a record in memory, for `validate_only` updates.
pub fn apply_preview(mut r: DomainRecord, c: &DomainChanges) -> DomainRecord {
    let set = |field: &mut String, value: &Option<String>| {
        if let Some(value) = value {
            field.clone_from(value);
        }
    };
    set(&mut r.display_name, &c.display_name);
    set(&mut r.credential, &c.credential);
    set(&mut r.delegated_admin, &c.delegated_admin);
    set(&mut r.org_unit_path, &c.org_unit_path);
    set(&mut r.custom_role_name, &c.custom_role_name);
    if let Some(mode) = c.role_mode {
        r.role_mode = mode;
    }
    if let Some(policy) = c.repair_policy {
        r.repair_policy = policy;
    }
    r
}

fn parse_credential(
    value: &str,
    known_credential: &dyn Fn(&str) -> bool,
) -> Result<CredentialName, InvalidValue> {
    let name = CredentialName::parse(required(value)?)?;
    if known_credential(name.as_str()) {
        Ok(name)
    } else {
        Err(InvalidValue(format!(
            "no service-account key named {:?} is configured on the server",
            name.as_str()
        )))
    }
}

fn parse_org_unit(value: &str) -> Result<OrgUnitPath, InvalidValue> {
    if value.is_empty() {
        Ok(support_access_domain::default_support_ou())
    } else {
        let path = OrgUnitPath::parse(value)?;
        support_access_domain::validate_support_org_unit(&path)?;
        Ok(path)
    }
}

fn parse_role_name(value: &str) -> Result<RoleName, InvalidValue> {
    if value.is_empty() {
        Ok(support_access_domain::default_custom_role())
    } else {
        RoleName::parse(value)
    }
}

/// The field paths an update touches: the mask's paths (every one checked against
/// `updatable`), `*` for all, or — without a mask — the fields the message sets (AIP-134).
pub fn mask_paths<M: PopulatedFields>(
    mask: Option<&FieldMask>,
    updatable: &[&str],
    message: &M,
    v: &mut Violations,
) -> Vec<String> {
    let Some(mask) = mask.filter(|m| !m.paths.is_empty()) else {
        return message.populated_fields();
    };
    let mut paths = Vec::new();
    for (i, path) in mask.paths.iter().enumerate() {
        if path == "*" {
            return updatable.iter().map(|s| (*s).to_owned()).collect();
        }
        if updatable.contains(&path.as_str()) {
            if !paths.contains(path) {
                paths.push(path.clone());
            }
        } else {
            v.add(
                &format!("update_mask.paths[{i}]"),
                format!(
                    "{path:?} cannot be updated; updatable fields are: {}",
                    updatable.join(", ")
                ),
            );
        }
    }
    paths
}

/// The updatable fields a message sets to a non-default value.
pub trait PopulatedFields {
    /// The names of those fields.
    fn populated_fields(&self) -> Vec<String>;
}

impl PopulatedFields for v1::Domain {
    fn populated_fields(&self) -> Vec<String> {
        let mut fields = Vec::new();
        let mut add = |set: bool, name: &str| {
            if set {
                fields.push(name.to_owned());
            }
        };
        add(!self.display_name.is_empty(), "display_name");
        add(!self.credential.is_empty(), "credential");
        add(!self.delegated_admin.is_empty(), "delegated_admin");
        add(!self.org_unit_path.is_empty(), "org_unit_path");
        add(self.role_mode != 0, "role_mode");
        add(!self.custom_role_name.is_empty(), "custom_role_name");
        add(self.repair_policy != 0, "repair_policy");
        fields
    }
}

fn finish_err(v: Violations) -> ApiError {
    match v.finish() {
        Err(violations) => ApiError::InvalidArgument(violations),
        Ok(()) => ApiError::invalid("domain", "is invalid"),
    }
}

/// Domains on the shared mutation path.
pub struct DomainResource;

impl Resource for DomainResource {
    const TYPE: &'static str = RESOURCE_TYPE;
    const KEY_FIELD: &'static str = "domain_name";
    const CREATE_METHOD: &'static str = methods::CREATE_DOMAIN;
    const UPDATE_METHOD: &'static str = methods::UPDATE_DOMAIN;
    const DELETE_METHOD: &'static str = methods::DELETE_DOMAIN;

    type Record = DomainRecord;
    type New = NewDomain;
    type Changes = DomainChanges;
    type Proto = v1::Domain;

    fn name(key: &str) -> String {
        format!("domains/{key}")
    }

    fn key_of(new: &NewDomain) -> &str {
        &new.domain_name
    }

    fn audit_domain(key: &str) -> Option<String> {
        Some(key.to_owned())
    }

    fn etag(record: &DomainRecord) -> String {
        record.etag()
    }

    fn to_proto(record: &DomainRecord) -> v1::Domain {
        to_proto(record)
    }

    fn preview(new: &NewDomain) -> v1::Domain {
        preview(new)
    }

    fn preview_update(record: DomainRecord, changes: &DomainChanges) -> v1::Domain {
        let mut proto = to_proto(&apply_preview(record, changes));
        proto.etag.clear();
        proto
    }

    async fn get(conn: &mut PgConnection, key: &str) -> Result<Option<DomainRecord>, StoreError> {
        store::get(conn, key).await
    }

    async fn insert(conn: &mut PgConnection, new: &NewDomain) -> Result<DomainRecord, StoreError> {
        store::insert(conn, new).await
    }

    async fn update(
        conn: &mut PgConnection,
        key: &str,
        expected_etag: Option<&str>,
        changes: &DomainChanges,
    ) -> Result<DomainRecord, StoreError> {
        store::update(conn, key, expected_etag, changes).await
    }

    async fn delete(
        conn: &mut PgConnection,
        key: &str,
        expected_etag: Option<&str>,
    ) -> Result<(), StoreError> {
        store::delete(conn, key, expected_etag).await
    }

    /// A domain can always be deleted: the store forgets its accounts with it.
    async fn check_deletable(
        _conn: &mut PgConnection,
        _key: &str,
        _lock: bool,
    ) -> Result<(), ApiError> {
        Ok(())
    }
}
