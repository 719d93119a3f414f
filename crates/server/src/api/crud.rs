//! The one path by which a declared resource (a domain, a staff member) is created, updated or
//! deleted: `validate_only` previews, the etag check, request-id replay, the store write, the
//! stored response and the audit event. A resource says how it is stored and shown by
//! implementing [`Resource`]; the handlers in `api/mod.rs` only parse the request and call
//! [`create`], [`update`] or [`delete`].

use std::future::Future;

use prost::Message;
use sqlx::PgConnection;
use support_access_domain::names::RequestId;
use support_access_store::StoreError;

use super::mutation::{AuditTarget, Begin, Mutation, store_unavailable};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// A resource the API declares in Postgres, seen by the shared mutation path.
pub trait Resource {
    /// The resource type named in errors (`supportaccess.googleapis.com/…`).
    const TYPE: &'static str;
    /// The field that names the resource in a create request, for ALREADY_EXISTS.
    const KEY_FIELD: &'static str;
    /// The full gRPC method names, as written in the audit log.
    const CREATE_METHOD: &'static str;
    /// See [`Resource::CREATE_METHOD`].
    const UPDATE_METHOD: &'static str;
    /// See [`Resource::CREATE_METHOD`].
    const DELETE_METHOD: &'static str;

    /// What the store holds.
    type Record: Send;
    /// A validated record to insert.
    type New: Send + Sync;
    /// Validated changes to apply.
    type Changes: Send + Sync;
    /// The API's message.
    type Proto: Message + Default + Send;

    /// The resource name (`domains/x`, `staffMembers/y`) of a key.
    fn name(key: &str) -> String;
    /// The key of a record to insert.
    fn key_of(new: &Self::New) -> &str;
    /// The reseller domain the audit event concerns, if any.
    fn audit_domain(key: &str) -> Option<String>;
    /// The record's current etag.
    fn etag(record: &Self::Record) -> String;
    /// The record as the API shows it.
    fn to_proto(record: &Self::Record) -> Self::Proto;
    /// What `validate_only` of a create shows.
    fn preview(new: &Self::New) -> Self::Proto;
    /// What `validate_only` of an update shows: the record as it would be after the changes,
    /// without an etag (no such version exists).
    fn preview_update(record: Self::Record, changes: &Self::Changes) -> Self::Proto;

    /// Reads one record.
    fn get(
        conn: &mut PgConnection,
        key: &str,
    ) -> impl Future<Output = Result<Option<Self::Record>, StoreError>> + Send;
    /// Inserts one record.
    fn insert(
        conn: &mut PgConnection,
        new: &Self::New,
    ) -> impl Future<Output = Result<Self::Record, StoreError>> + Send;
    /// Applies changes if the etag (when given) is still the record's.
    fn update(
        conn: &mut PgConnection,
        key: &str,
        expected_etag: Option<&str>,
        changes: &Self::Changes,
    ) -> impl Future<Output = Result<Self::Record, StoreError>> + Send;
    /// Deletes the record if the etag (when given) is still the record's.
    fn delete(
        conn: &mut PgConnection,
        key: &str,
        expected_etag: Option<&str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// FAILED_PRECONDITION when the record may not be deleted now. `lock` is true inside the
    /// deleting transaction: whatever the check reads must then stay true until it commits.
    fn check_deletable(
        conn: &mut PgConnection,
        key: &str,
        lock: bool,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}

/// The caller of one mutating RPC: who, with which request id, and the request itself (whose
/// encoding fingerprints a request id's first use).
pub struct Call<'a, Req> {
    pub state: &'a AppState,
    pub principal: Principal,
    pub request_id: Option<RequestId>,
    pub request: &'a Req,
    pub validate_only: bool,
}

/// NOT_FOUND for a key of `R`.
pub fn not_found<R: Resource>(name: &str) -> ApiError {
    ApiError::NotFound {
        resource_type: R::TYPE,
        name: name.to_owned(),
    }
}

/// Maps the store's outcome of a write on a named resource to the API's errors.
pub fn write_error<R: Resource>(name: &str, error: StoreError) -> ApiError {
    match error {
        StoreError::NotFound => not_found::<R>(name),
        StoreError::AlreadyExists(what) => ApiError::AlreadyExists {
            resource_type: R::TYPE,
            name: name.to_owned(),
            reason: "RESOURCE_EXISTS",
            message: format!("{name} already exists ({what})"),
        },
        StoreError::EtagMismatch => ApiError::EtagMismatch {
            resource_type: R::TYPE,
            name: name.to_owned(),
        },
        other => other.into(),
    }
}

/// Reads a record that must exist.
async fn current<R: Resource>(state: &AppState, key: &str) -> Result<R::Record, ApiError> {
    let mut conn = state.conn().await?;
    R::get(&mut conn, key)
        .await?
        .ok_or_else(|| not_found::<R>(&R::name(key)))
}

/// ABORTED when the caller named an etag that is no longer the record's.
fn check_etag<R: Resource>(
    expected: Option<&str>,
    record: &R::Record,
    key: &str,
) -> Result<(), ApiError> {
    match expected {
        Some(expected) if expected != R::etag(record) => {
            Err(write_error::<R>(&R::name(key), StoreError::EtagMismatch))
        }
        _ => Ok(()),
    }
}

/// Opens the mutation, or returns the stored response of a replayed request id.
async fn begin<Req: Message, Resp: Message + Default>(
    call: Call<'_, Req>,
    method: &'static str,
) -> Result<Begin<Resp>, ApiError> {
    Mutation::begin(
        call.state.store()?,
        call.principal,
        method,
        call.request_id,
        call.request,
    )
    .await
}

fn audit_target<R: Resource>(key: &str) -> AuditTarget {
    AuditTarget {
        domain: R::audit_domain(key),
        target: R::name(key),
    }
}

/// Creates a record (or previews it with `validate_only`).
pub async fn create<R: Resource, Req: Message>(
    call: Call<'_, Req>,
    new: R::New,
) -> Result<R::Proto, ApiError> {
    let key = R::key_of(&new).to_owned();
    let name = R::name(&key);
    if call.validate_only {
        let mut conn = call.state.conn().await?;
        if R::get(&mut conn, &key).await?.is_some() {
            return Err(write_error::<R>(
                &name,
                StoreError::AlreadyExists(R::KEY_FIELD.into()),
            ));
        }
        return Ok(R::preview(&new));
    }
    let mut m = match begin::<_, R::Proto>(call, R::CREATE_METHOD).await? {
        Begin::Replay(response) => return Ok(response),
        Begin::Proceed(m) => m,
    };
    let record = R::insert(m.conn(), &new)
        .await
        .map_err(|e| write_error::<R>(&name, e))?;
    let response = R::to_proto(&record);
    m.commit(&response, audit_target::<R>(&key)).await?;
    Ok(response)
}

/// Creates several records in one transaction, all or none (AIP-233). With `validate_only` the
/// inserts run and are rolled back, so the preview meets every conflict a real call would.
pub async fn create_batch<R: Resource, Req: Message, Resp: Message + Default>(
    call: Call<'_, Req>,
    method: &'static str,
    news: Vec<R::New>,
    respond: impl FnOnce(Vec<R::Proto>) -> Resp,
) -> Result<Resp, ApiError> {
    if call.validate_only {
        let mut tx = call
            .state
            .store()?
            .pool()
            .begin()
            .await
            .map_err(store_unavailable)?;
        let mut previews = Vec::with_capacity(news.len());
        for new in &news {
            let key = R::key_of(new);
            R::insert(&mut tx, new)
                .await
                .map_err(|e| write_error::<R>(&R::name(key), e))?;
            previews.push(R::preview(new));
        }
        // Dropping the transaction rolls it back.
        return Ok(respond(previews));
    }
    let mut m = match begin::<_, Resp>(call, method).await? {
        Begin::Replay(response) => return Ok(response),
        Begin::Proceed(m) => m,
    };
    let mut created = Vec::with_capacity(news.len());
    for new in &news {
        let key = R::key_of(new);
        let record = R::insert(m.conn(), new)
            .await
            .map_err(|e| write_error::<R>(&R::name(key), e))?;
        created.push(R::to_proto(&record));
    }
    let response = respond(created);
    let targets: Vec<AuditTarget> = news
        .iter()
        .map(|new| audit_target::<R>(R::key_of(new)))
        .collect();
    m.commit_all(&response, targets).await?;
    Ok(response)
}

/// Updates a record (or previews the result with `validate_only`). `changes` validates the
/// request against the current record.
pub async fn update<R: Resource, Req: Message>(
    call: Call<'_, Req>,
    key: &str,
    expected_etag: Option<&str>,
    changes: impl FnOnce(&R::Record) -> Result<R::Changes, ApiError>,
) -> Result<R::Proto, ApiError> {
    let name = R::name(key);
    let record = current::<R>(call.state, key).await?;
    let changes = changes(&record)?;
    if call.validate_only {
        check_etag::<R>(expected_etag, &record, key)?;
        return Ok(R::preview_update(record, &changes));
    }
    let mut m = match begin::<_, R::Proto>(call, R::UPDATE_METHOD).await? {
        Begin::Replay(response) => return Ok(response),
        Begin::Proceed(m) => m,
    };
    let record = R::update(m.conn(), key, expected_etag, &changes)
        .await
        .map_err(|e| write_error::<R>(&name, e))?;
    let response = R::to_proto(&record);
    m.commit(&response, audit_target::<R>(key)).await?;
    Ok(response)
}

/// Deletes a record (or checks that it could be, with `validate_only`).
pub async fn delete<R: Resource, Req: Message>(
    call: Call<'_, Req>,
    key: &str,
    expected_etag: Option<&str>,
) -> Result<(), ApiError> {
    let name = R::name(key);
    if call.validate_only {
        let record = current::<R>(call.state, key).await?;
        check_etag::<R>(expected_etag, &record, key)?;
        let mut conn = call.state.conn().await?;
        return R::check_deletable(&mut conn, key, false).await;
    }
    let mut m = match begin::<_, ()>(call, R::DELETE_METHOD).await? {
        Begin::Replay(()) => return Ok(()),
        Begin::Proceed(m) => m,
    };
    R::check_deletable(m.conn(), key, true).await?;
    R::delete(m.conn(), key, expected_etag)
        .await
        .map_err(|e| write_error::<R>(&name, e))?;
    m.commit(&(), audit_target::<R>(key)).await?;
    Ok(())
}
