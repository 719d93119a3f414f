//! Staff member CRUD: validation of `supportaccess.v1.StaffMember` requests into store records,
//! and back.

use sqlx::PgConnection;
use support_access_domain::names::{EmailAddress, PersonName, StaffMemberId, Username};
use support_access_domain::validation::Violations;
use support_access_domain::{parse_staff_member_resource, staff_member_resource};
use support_access_proto::v1;
use support_access_store::StoreError;
use support_access_store::staff::{self as store, NewStaffMember, StaffChanges, StaffRecord};

use super::convert::{required, timestamp};
use super::crud::Resource;
use super::domains::{PopulatedFields, mask_paths};
use super::methods;
use crate::error::ApiError;

/// The resource type named in errors.
pub const RESOURCE_TYPE: &str = "supportaccess.googleapis.com/StaffMember";

/// The fields `UpdateStaffMember` may change.
pub const UPDATABLE_FIELDS: &[&str] = &["given_name", "family_name", "workspace_email"];

/// Validates a `CreateStaffMember` request into a record to insert.
pub fn validate_new(request: &v1::CreateStaffMemberRequest) -> Result<NewStaffMember, ApiError> {
    let mut v = Violations::default();
    let Some(s) = request.staff_member.as_ref() else {
        return Err(ApiError::invalid("staff_member", "is required"));
    };
    let id = if request.staff_member_id.is_empty() {
        Some(generated_id())
    } else {
        v.check(
            "staff_member_id",
            StaffMemberId::parse(&request.staff_member_id),
        )
    };
    let username = v.check(
        "staff_member.username",
        required(&s.username).and_then(Username::parse),
    );
    let given = v.check(
        "staff_member.given_name",
        required(&s.given_name).and_then(PersonName::parse),
    );
    let family = v.check(
        "staff_member.family_name",
        required(&s.family_name).and_then(PersonName::parse),
    );
    let email = v.check(
        "staff_member.workspace_email",
        required(&s.workspace_email).and_then(EmailAddress::parse),
    );
    v.finish().map_err(ApiError::InvalidArgument)?;
    Ok(NewStaffMember {
        id: id.expect("validated").as_str().to_owned(),
        username: username.expect("validated").as_str().to_owned(),
        given_name: given.expect("validated").as_str().to_owned(),
        family_name: family.expect("validated").as_str().to_owned(),
        workspace_email: email.expect("validated").as_str().to_owned(),
    })
}

/// The most staff members one `BatchCreateStaffMembers` declares.
pub const MAX_BATCH: usize = 1000;

/// Validates a `BatchCreateStaffMembers` request: every item as `CreateStaffMember` would, its
/// violations under `requests[i].`, plus ids and usernames repeated inside the batch.
pub fn validate_batch(
    request: &v1::BatchCreateStaffMembersRequest,
) -> Result<Vec<NewStaffMember>, ApiError> {
    let mut v = Violations::default();
    if request.requests.is_empty() {
        v.add("requests", "is required: at least one staff member");
    } else if request.requests.len() > MAX_BATCH {
        v.add(
            "requests",
            format!(
                "must hold at most {MAX_BATCH} staff members, got {}; send several batches",
                request.requests.len()
            ),
        );
    }
    let mut news = Vec::with_capacity(request.requests.len().min(MAX_BATCH));
    let mut first_with_id = std::collections::HashMap::new();
    let mut first_with_username = std::collections::HashMap::new();
    for (index, item) in request.requests.iter().enumerate().take(MAX_BATCH) {
        let prefix = format!("requests[{index}]");
        if !item.request_id.is_empty() {
            v.add(
                &format!("{prefix}.request_id"),
                "must be empty: set request_id once, on the batch",
            );
        }
        if item.validate_only {
            v.add(
                &format!("{prefix}.validate_only"),
                "must be false: set validate_only once, on the batch",
            );
        }
        match validate_new(item) {
            Err(ApiError::InvalidArgument(found)) => v.extend_nested(&prefix, found),
            Err(other) => return Err(other),
            Ok(new) => {
                if let Some(first) = first_with_id.insert(new.id.clone(), index) {
                    v.add(
                        &format!("{prefix}.staff_member_id"),
                        format!("{:?} is also requests[{first}]'s id", new.id),
                    );
                }
                if let Some(first) = first_with_username.insert(new.username.clone(), index) {
                    v.add(
                        &format!("{prefix}.staff_member.username"),
                        format!("{:?} is also requests[{first}]'s username", new.username),
                    );
                }
                news.push(new);
            }
        }
    }
    v.finish().map_err(ApiError::InvalidArgument)?;
    Ok(news)
}

/// The staff member id of an update request, validated.
pub fn update_target(request: &v1::UpdateStaffMemberRequest) -> Result<StaffMemberId, ApiError> {
    let Some(s) = request.staff_member.as_ref() else {
        return Err(ApiError::invalid("staff_member", "is required"));
    };
    parse_staff_member_resource(&s.name).map_err(|e| ApiError::invalid("staff_member.name", e.0))
}

/// Validates an `UpdateStaffMember` request: the changes to apply.
pub fn validate_update(request: &v1::UpdateStaffMemberRequest) -> Result<StaffChanges, ApiError> {
    let mut v = Violations::default();
    let s = request.staff_member.as_ref().expect("checked by caller");
    let paths = mask_paths(request.update_mask.as_ref(), UPDATABLE_FIELDS, s, &mut v);
    let mut changes = StaffChanges::default();
    for path in paths {
        match path.as_str() {
            "given_name" => {
                changes.given_name = v
                    .check(
                        "staff_member.given_name",
                        required(&s.given_name).and_then(PersonName::parse),
                    )
                    .map(|n| n.as_str().to_owned());
            }
            "family_name" => {
                changes.family_name = v
                    .check(
                        "staff_member.family_name",
                        required(&s.family_name).and_then(PersonName::parse),
                    )
                    .map(|n| n.as_str().to_owned());
            }
            "workspace_email" => {
                changes.workspace_email = v
                    .check(
                        "staff_member.workspace_email",
                        required(&s.workspace_email).and_then(EmailAddress::parse),
                    )
                    .map(|e| e.as_str().to_owned());
            }
            _ => unreachable!("mask_paths returns only updatable fields"),
        }
    }
    v.finish().map_err(ApiError::InvalidArgument)?;
    Ok(changes)
}

impl PopulatedFields for v1::StaffMember {
    fn populated_fields(&self) -> Vec<String> {
        [
            (!self.given_name.is_empty(), "given_name"),
            (!self.family_name.is_empty(), "family_name"),
            (!self.workspace_email.is_empty(), "workspace_email"),
        ]
        .into_iter()
        .filter(|(set, _)| *set)
        .map(|(_, name)| name.to_owned())
        .collect()
    }
}

/// The record as the API shows it.
pub fn to_proto(r: &StaffRecord) -> v1::StaffMember {
    let name = StaffMemberId::parse(&r.id)
        .map(|id| staff_member_resource(&id))
        .unwrap_or_else(|_| format!("staffMembers/{}", r.id));
    v1::StaffMember {
        name,
        username: r.username.clone(),
        given_name: r.given_name.clone(),
        family_name: r.family_name.clone(),
        workspace_email: r.workspace_email.clone(),
        create_time: Some(timestamp(r.create_time)),
        update_time: Some(timestamp(r.update_time)),
        etag: r.etag(),
    }
}

/// What a record would look like, for `validate_only` creates.
pub fn preview(new: &NewStaffMember) -> v1::StaffMember {
    let now = chrono::Utc::now();
    let mut proto = to_proto(&StaffRecord {
        id: new.id.clone(),
        username: new.username.clone(),
        given_name: new.given_name.clone(),
        family_name: new.family_name.clone(),
        workspace_email: new.workspace_email.clone(),
        create_time: now,
        update_time: now,
        revision: 0,
    });
    proto.etag.clear();
    proto
}

/// Applies changes to a record in memory, for `validate_only` updates.
pub fn apply_preview(mut r: StaffRecord, c: &StaffChanges) -> StaffRecord {
    for (field, value) in [
        (&mut r.given_name, &c.given_name),
        (&mut r.family_name, &c.family_name),
        (&mut r.workspace_email, &c.workspace_email),
    ] {
        if let Some(value) = value {
            field.clone_from(value);
        }
    }
    r
}

/// A server-chosen id: `sm-` and 16 random hex digits (AIP-122 allows lowercase, digits, `-`).
fn generated_id() -> StaffMemberId {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    StaffMemberId::parse(&format!("sm-{}", &suffix[..16])).expect("generated ids are valid")
}

/// Refuses to delete a staff member who still has access (FAILED_PRECONDITION, reason
/// `STAFF_MEMBER_HAS_ACCESS`): while any of their support accounts is ACTIVE (revoke it first),
/// or while an unfinished operation covers them (a revocation under way must finish first, so
/// that the accounts it is revoking are not forgotten half-way). REVOKED accounts do not block:
/// deleting the member forgets them. With `lock`, the member's row is locked `FOR UPDATE` first,
/// so that no provisioning of them commits between the check and the deletion.
pub async fn check_deletable(
    conn: &mut sqlx::PgConnection,
    id: &str,
    lock: bool,
) -> Result<(), ApiError> {
    use support_access_store::accounts::{self, Desired};
    use support_access_store::operations::{self, OperationFilter};
    if lock {
        store::lock(conn, id).await?;
    }
    let active: Vec<String> = accounts::list_by_staff_member(conn, id)
        .await?
        .into_iter()
        .filter(|a| a.desired == Desired::Active)
        .map(|a| format!("domains/{}", a.domain_name))
        .collect();
    if !active.is_empty() {
        return Err(ApiError::FailedPrecondition {
            reason: "STAFF_MEMBER_HAS_ACCESS",
            message: format!(
                "staffMembers/{id} still has access in {}: call RevokeSupportAccess for them there first, then delete them once it is done",
                active.join(", ")
            ),
        });
    }
    let unfinished = operations::list(
        conn,
        &OperationFilter {
            done: Some(false),
            ..OperationFilter::default()
        },
        support_access_domain::MAX_PAGE_SIZE,
        None,
    )
    .await?;
    let covering: Vec<String> = unfinished
        .items
        .iter()
        .filter(|o| {
            serde_json::from_value::<support_access_engine::OperationRequest>(o.request.clone())
                .is_ok_and(|r| r.staff_members.iter().any(|s| s == id))
        })
        .map(|o| format!("operations/{}", o.id))
        .collect();
    if !covering.is_empty() {
        return Err(ApiError::FailedPrecondition {
            reason: "STAFF_MEMBER_HAS_ACCESS",
            message: format!(
                "staffMembers/{id} is covered by unfinished operations ({}): wait until they are done (or cancel them), then delete the staff member",
                covering.join(", ")
            ),
        });
    }
    Ok(())
}

/// Staff members on the shared mutation path.
pub struct StaffResource;

impl Resource for StaffResource {
    const TYPE: &'static str = RESOURCE_TYPE;
    const KEY_FIELD: &'static str = "staff_member_id";
    const CREATE_METHOD: &'static str = methods::CREATE_STAFF_MEMBER;
    const UPDATE_METHOD: &'static str = methods::UPDATE_STAFF_MEMBER;
    const DELETE_METHOD: &'static str = methods::DELETE_STAFF_MEMBER;

    type Record = StaffRecord;
    type New = NewStaffMember;
    type Changes = StaffChanges;
    type Proto = v1::StaffMember;

    fn name(key: &str) -> String {
        format!("staffMembers/{key}")
    }

    fn key_of(new: &NewStaffMember) -> &str {
        &new.id
    }

    /// Staff members belong to no one domain.
    fn audit_domain(_key: &str) -> Option<String> {
        None
    }

    fn etag(record: &StaffRecord) -> String {
        record.etag()
    }

    fn to_proto(record: &StaffRecord) -> v1::StaffMember {
        to_proto(record)
    }

    fn preview(new: &NewStaffMember) -> v1::StaffMember {
        preview(new)
    }

    fn preview_update(record: StaffRecord, changes: &StaffChanges) -> v1::StaffMember {
        let mut proto = to_proto(&apply_preview(record, changes));
        proto.etag.clear();
        proto
    }

    async fn get(conn: &mut PgConnection, key: &str) -> Result<Option<StaffRecord>, StoreError> {
        store::get(conn, key).await
    }

    async fn insert(
        conn: &mut PgConnection,
        new: &NewStaffMember,
    ) -> Result<StaffRecord, StoreError> {
        store::insert(conn, new).await
    }

    async fn update(
        conn: &mut PgConnection,
        key: &str,
        expected_etag: Option<&str>,
        changes: &StaffChanges,
    ) -> Result<StaffRecord, StoreError> {
        store::update(conn, key, expected_etag, changes).await
    }

    async fn delete(
        conn: &mut PgConnection,
        key: &str,
        expected_etag: Option<&str>,
    ) -> Result<(), StoreError> {
        store::delete(conn, key, expected_etag).await
    }

    async fn check_deletable(
        conn: &mut PgConnection,
        key: &str,
        lock: bool,
    ) -> Result<(), ApiError> {
        check_deletable(conn, key, lock).await
    }
}
