//! The `supportaccess.v1.SupportAccessService` gRPC service: request validation, authorization
//! of the domains a request touches, and the calls into the store. Each handler is thin: parse
//! the request into domain values (every violation reported at once), check the principal's
//! domains, then read or mutate in one transaction.

pub mod audit;
pub mod convert;
pub mod credential;
pub mod crud;
pub mod domain_ownership;
pub mod domains;
pub mod drift;
pub mod filter;
pub mod lifecycle;
pub mod manual;
pub mod mutation;
pub mod observation;
pub mod operation_accounts;
pub mod operation_view;
pub mod page_token;
pub mod portal;
pub mod provision;
pub mod resolve;
pub mod sha512_crypt;
pub mod staff;
pub mod status;

use std::sync::Arc;

use support_access_domain::lifecycle::OperationKind;
use support_access_domain::names::{DomainName, RequestId};
use support_access_domain::validation::{FieldViolation, InvalidValue};
use support_access_domain::{parse_domain_resource, parse_page_size, parse_staff_member_resource};
use support_access_proto::v1;
use support_access_proto::v1::support_access_service_server::SupportAccessService;
use tonic::{Request, Response, Status};

use crate::auth;
use crate::error::ApiError;
use crate::state::AppState;
use domains::DomainResource;
use staff::StaffResource;

/// Full gRPC method names, as written in the audit log.
pub mod methods {
    /// The service's full name.
    pub const SERVICE: &str = "supportaccess.v1.SupportAccessService";
    macro_rules! method {
        ($constant:ident, $name:literal) => {
            #[doc = concat!("`/supportaccess.v1.SupportAccessService/", $name, "`")]
            pub const $constant: &str = concat!("/supportaccess.v1.SupportAccessService/", $name);
        };
    }
    method!(CREATE_DOMAIN, "CreateDomain");
    method!(UPDATE_DOMAIN, "UpdateDomain");
    method!(DELETE_DOMAIN, "DeleteDomain");
    method!(CREATE_STAFF_MEMBER, "CreateStaffMember");
    method!(BATCH_CREATE_STAFF_MEMBERS, "BatchCreateStaffMembers");
    method!(UPDATE_STAFF_MEMBER, "UpdateStaffMember");
    method!(DELETE_STAFF_MEMBER, "DeleteStaffMember");
    method!(PROVISION_SUPPORT_ACCESS, "ProvisionSupportAccess");
    method!(REVOKE_SUPPORT_ACCESS, "RevokeSupportAccess");
    method!(REGRANT_SUPPORT_ACCESS, "RegrantSupportAccess");
    method!(ADOPT_SUPPORT_ACCOUNT, "AdoptSupportAccount");
    method!(ISSUE_SIGN_IN_CREDENTIAL, "IssueSignInCredential");
    method!(CONFIRM_MANUAL_STEP, "ConfirmManualStep");
}

/// The service implementation.
#[derive(Clone)]
pub struct SupportAccessApi {
    state: Arc<AppState>,
}

impl SupportAccessApi {
    /// A service over the shared application state.
    pub fn new(state: Arc<AppState>) -> Self {
        SupportAccessApi { state }
    }

    /// One mutating call, for the shared mutation path.
    fn call<'a, Req>(
        &'a self,
        principal: auth::Principal,
        request_id: Option<RequestId>,
        request: &'a Req,
        validate_only: bool,
    ) -> crud::Call<'a, Req> {
        crud::Call {
            state: &self.state,
            principal,
            request_id,
            request,
            validate_only,
        }
    }
}

type RpcResult<T> = Result<Response<T>, Status>;

/// Parses an optional AIP-155 request id.
pub(super) fn parse_request_id(raw: &str) -> Result<Option<RequestId>, InvalidValue> {
    if raw.is_empty() {
        Ok(None)
    } else {
        RequestId::parse(raw).map(Some)
    }
}

/// Joins the request-id check with the rest of a request's validation, so that every violation
/// is reported at once.
fn with_request_id<T>(
    request_id: &str,
    rest: Result<T, ApiError>,
) -> Result<(Option<RequestId>, T), ApiError> {
    match (parse_request_id(request_id), rest) {
        (Ok(id), Ok(value)) => Ok((id, value)),
        (Ok(_), Err(e)) => Err(e),
        (Err(e), Ok(_)) => Err(ApiError::invalid("request_id", e.0)),
        (Err(e), Err(ApiError::InvalidArgument(mut violations))) => {
            violations.push(FieldViolation {
                field: "request_id".into(),
                description: e.0,
            });
            Err(ApiError::InvalidArgument(violations))
        }
        (Err(_), Err(other)) => Err(other),
    }
}

fn page_args(size: i32, token: &str, kind: &str) -> Result<(u32, Option<String>), ApiError> {
    let size = parse_page_size(size).map_err(|e| ApiError::invalid("page_size", e.0));
    let after = page_token::decode(kind, token).map_err(|e| ApiError::invalid("page_token", e.0));
    match (size, after) {
        (Ok(size), Ok(after)) => Ok((size, after)),
        (Err(ApiError::InvalidArgument(mut a)), Err(ApiError::InvalidArgument(b))) => {
            a.extend(b);
            Err(ApiError::InvalidArgument(a))
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

impl SupportAccessApi {
    /// Before an update that names another delegated admin or key for a domain whose admin
    /// lives outside it, Google confirms again that the admin's customer owns the domain.
    async fn confirm_updated_domain(
        &self,
        req: &v1::UpdateDomainRequest,
        domain_name: &str,
    ) -> Result<(), ApiError> {
        let current = {
            let mut conn = self.state.conn().await?;
            support_access_store::domains::get(&mut conn, domain_name)
                .await
                .map_err(ApiError::from)?
        };
        // A missing record is reported by the update itself.
        let Some(current) = current else {
            return Ok(());
        };
        let changes = domains::validate_update(req, &current, &|c| self.state.has_credential(c))?;
        if changes.delegated_admin.is_none() && changes.credential.is_none() {
            return Ok(());
        }
        let merged = domains::apply_preview(current, &changes);
        if domains::admin_outside_domain(&merged.delegated_admin, &merged.domain_name) {
            domain_ownership::confirm_customer_domain(self.state.google(), &merged).await?;
        }
        Ok(())
    }
}

fn domain_name_arg(field: &str, name: &str) -> Result<DomainName, ApiError> {
    parse_domain_resource(name).map_err(|e| ApiError::invalid(field, e.0))
}

#[tonic::async_trait]
impl SupportAccessService for SupportAccessApi {
    async fn create_domain(
        &self,
        request: Request<v1::CreateDomainRequest>,
    ) -> RpcResult<v1::Domain> {
        let principal = auth::principal(request.extensions())?;
        let req = request.into_inner();
        let (request_id, new) = with_request_id(
            &req.request_id,
            domains::validate_new(req.domain.as_ref(), &|c| self.state.has_credential(c)),
        )?;
        principal.check_domain(&new.domain_name)?;
        if domains::admin_outside_domain(&new.delegated_admin, &new.domain_name) {
            domain_ownership::confirm_customer_domain(
                self.state.google(),
                &domains::draft_record(&new),
            )
            .await?;
        }
        let call = self.call(principal, request_id, &req, req.validate_only);
        Ok(Response::new(
            crud::create::<DomainResource, _>(call, new).await?,
        ))
    }

    async fn get_domain(&self, request: Request<v1::GetDomainRequest>) -> RpcResult<v1::Domain> {
        let principal = auth::principal(request.extensions())?;
        let domain_name = domain_name_arg("name", &request.get_ref().name)?;
        principal.check_domain(domain_name.as_str())?;
        let mut conn = self.state.conn().await?;
        let record = support_access_store::domains::get(&mut conn, domain_name.as_str())
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| crud::not_found::<DomainResource>(&request.get_ref().name))?;
        Ok(Response::new(domains::to_proto(&record)))
    }

    async fn list_domains(
        &self,
        request: Request<v1::ListDomainsRequest>,
    ) -> RpcResult<v1::ListDomainsResponse> {
        let principal = auth::principal(request.extensions())?;
        let req = request.into_inner();
        let (page_size, after) = page_args(req.page_size, &req.page_token, "domains")?;
        let mut conn = self.state.conn().await?;
        let page = support_access_store::domains::list(&mut conn, page_size, after.as_deref())
            .await
            .map_err(ApiError::from)?;
        let next_page_token = page
            .next_key
            .as_deref()
            .map(|k| page_token::encode("domains", k))
            .unwrap_or_default();
        let domains = page
            .items
            .iter()
            .filter(|d| principal.may_access(&d.domain_name))
            .map(domains::to_proto)
            .collect();
        Ok(Response::new(v1::ListDomainsResponse {
            domains,
            next_page_token,
        }))
    }

    async fn update_domain(
        &self,
        request: Request<v1::UpdateDomainRequest>,
    ) -> RpcResult<v1::Domain> {
        let principal = auth::principal(request.extensions())?;
        let req = request.into_inner();
        let (request_id, domain_name) =
            with_request_id(&req.request_id, domains::update_target(&req))?;
        principal.check_domain(domain_name.as_str())?;
        let expected_etag = req
            .domain
            .as_ref()
            .map(|d| d.etag.as_str())
            .filter(|e| !e.is_empty());
        self.confirm_updated_domain(&req, domain_name.as_str())
            .await?;
        let call = self.call(principal, request_id, &req, req.validate_only);
        let domain = crud::update::<DomainResource, _>(
            call,
            domain_name.as_str(),
            expected_etag,
            |current| domains::validate_update(&req, current, &|c| self.state.has_credential(c)),
        )
        .await?;
        Ok(Response::new(domain))
    }

    async fn delete_domain(&self, request: Request<v1::DeleteDomainRequest>) -> RpcResult<()> {
        let principal = auth::principal(request.extensions())?;
        let req = request.into_inner();
        let (request_id, domain_name) =
            with_request_id(&req.request_id, domain_name_arg("name", &req.name))?;
        principal.check_domain(domain_name.as_str())?;
        let expected_etag = Some(req.etag.as_str()).filter(|e| !e.is_empty());
        let call = self.call(principal, request_id, &req, req.validate_only);
        crud::delete::<DomainResource, _>(call, domain_name.as_str(), expected_etag).await?;
        Ok(Response::new(()))
    }

    async fn create_staff_member(
        &self,
        request: Request<v1::CreateStaffMemberRequest>,
    ) -> RpcResult<v1::StaffMember> {
        let principal = auth::principal(request.extensions())?;
        let req = request.into_inner();
        let (request_id, new) = with_request_id(&req.request_id, staff::validate_new(&req))?;
        let call = self.call(principal, request_id, &req, req.validate_only);
        Ok(Response::new(
            crud::create::<StaffResource, _>(call, new).await?,
        ))
    }

    async fn batch_create_staff_members(
        &self,
        request: Request<v1::BatchCreateStaffMembersRequest>,
    ) -> RpcResult<v1::BatchCreateStaffMembersResponse> {
        let principal = auth::principal(request.extensions())?;
        let req = request.into_inner();
        let (request_id, news) = with_request_id(&req.request_id, staff::validate_batch(&req))?;
        let call = self.call(principal, request_id, &req, req.validate_only);
        let response = crud::create_batch::<StaffResource, _, _>(
            call,
            methods::BATCH_CREATE_STAFF_MEMBERS,
            news,
            |staff_members| v1::BatchCreateStaffMembersResponse { staff_members },
        )
        .await?;
        Ok(Response::new(response))
    }

    async fn get_staff_member(
        &self,
        request: Request<v1::GetStaffMemberRequest>,
    ) -> RpcResult<v1::StaffMember> {
        auth::principal(request.extensions())?;
        let name = &request.get_ref().name;
        let id = parse_staff_member_resource(name).map_err(|e| ApiError::invalid("name", e.0))?;
        let mut conn = self.state.conn().await?;
        let record = support_access_store::staff::get(&mut conn, id.as_str())
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| crud::not_found::<StaffResource>(name))?;
        Ok(Response::new(staff::to_proto(&record)))
    }

    async fn list_staff_members(
        &self,
        request: Request<v1::ListStaffMembersRequest>,
    ) -> RpcResult<v1::ListStaffMembersResponse> {
        auth::principal(request.extensions())?;
        let req = request.into_inner();
        let (page_size, after) = page_args(req.page_size, &req.page_token, "staffMembers")?;
        let mut conn = self.state.conn().await?;
        let page = support_access_store::staff::list(&mut conn, page_size, after.as_deref())
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(v1::ListStaffMembersResponse {
            staff_members: page.items.iter().map(staff::to_proto).collect(),
            next_page_token: page
                .next_key
                .as_deref()
                .map(|k| page_token::encode("staffMembers", k))
                .unwrap_or_default(),
        }))
    }

    async fn update_staff_member(
        &self,
        request: Request<v1::UpdateStaffMemberRequest>,
    ) -> RpcResult<v1::StaffMember> {
        let principal = auth::principal(request.extensions())?;
        let req = request.into_inner();
        let (request_id, id) = with_request_id(&req.request_id, staff::update_target(&req))?;
        let changes = staff::validate_update(&req)?;
        let expected_etag = req
            .staff_member
            .as_ref()
            .map(|s| s.etag.as_str())
            .filter(|e| !e.is_empty());
        let call = self.call(principal, request_id, &req, req.validate_only);
        let member =
            crud::update::<StaffResource, _>(call, id.as_str(), expected_etag, |_| Ok(changes))
                .await?;
        Ok(Response::new(member))
    }

    async fn delete_staff_member(
        &self,
        request: Request<v1::DeleteStaffMemberRequest>,
    ) -> RpcResult<()> {
        let principal = auth::principal(request.extensions())?;
        let req = request.into_inner();
        let (request_id, id) = with_request_id(
            &req.request_id,
            parse_staff_member_resource(&req.name).map_err(|e| ApiError::invalid("name", e.0)),
        )?;
        let expected_etag = Some(req.etag.as_str()).filter(|e| !e.is_empty());
        let call = self.call(principal, request_id, &req, req.validate_only);
        crud::delete::<StaffResource, _>(call, id.as_str(), expected_etag).await?;
        Ok(Response::new(()))
    }

    async fn provision_support_access(
        &self,
        request: Request<v1::ProvisionSupportAccessRequest>,
    ) -> RpcResult<support_access_proto::google::longrunning::Operation> {
        let principal = auth::principal(request.extensions())?;
        let req = request.into_inner();
        let operation = if req.validate_only {
            let scope = provision::resolve_scope(
                &self.state,
                &principal,
                &req.domains,
                &req.staff_members,
                &req.request_id,
                None,
            )
            .await?;
            provision::plan_only(&self.state, OperationKind::Provision, &scope, None).await?
        } else {
            let scope = provision::parse_scope(
                &principal,
                &req.domains,
                &req.staff_members,
                &req.request_id,
                None,
            )?;
            provision::start_operation(
                &self.state,
                principal,
                methods::PROVISION_SUPPORT_ACCESS,
                &req,
                &scope,
                provision::Decision::Provision,
            )
            .await?
        };
        Ok(Response::new(operation))
    }

    async fn revoke_support_access(
        &self,
        request: Request<v1::RevokeSupportAccessRequest>,
    ) -> RpcResult<support_access_proto::google::longrunning::Operation> {
        let principal = auth::principal(request.extensions())?;
        let req = request.into_inner();
        let options = provision::revoke_options(&req, self.state.mass_change_limit())?;
        let required = Some("name at least one staff member whose access to revoke");
        let operation = if req.validate_only {
            let scope = provision::resolve_scope(
                &self.state,
                &principal,
                &req.domains,
                &req.staff_members,
                &req.request_id,
                required,
            )
            .await?;
            provision::validate_mass_change(&self.state, &scope, &options).await?;
            provision::plan_only(&self.state, OperationKind::Revoke, &scope, Some(options)).await?
        } else {
            let scope = provision::parse_scope(
                &principal,
                &req.domains,
                &req.staff_members,
                &req.request_id,
                required,
            )?;
            provision::start_operation(
                &self.state,
                principal,
                methods::REVOKE_SUPPORT_ACCESS,
                &req,
                &scope,
                provision::Decision::Revoke(options),
            )
            .await?
        };
        Ok(Response::new(operation))
    }

    async fn adopt_support_account(
        &self,
        request: Request<v1::AdoptSupportAccountRequest>,
    ) -> RpcResult<support_access_proto::google::longrunning::Operation> {
        let principal = auth::principal(request.extensions())?;
        let operation =
            lifecycle::adopt_support_account(&self.state, principal, request.get_ref()).await?;
        Ok(Response::new(operation))
    }

    async fn regrant_support_access(
        &self,
        request: Request<v1::RegrantSupportAccessRequest>,
    ) -> RpcResult<support_access_proto::google::longrunning::Operation> {
        let principal = auth::principal(request.extensions())?;
        let operation =
            lifecycle::regrant_support_access(&self.state, principal, request.get_ref()).await?;
        Ok(Response::new(operation))
    }

    async fn list_drift_events(
        &self,
        request: Request<v1::ListDriftEventsRequest>,
    ) -> RpcResult<v1::ListDriftEventsResponse> {
        let principal = auth::principal(request.extensions())?;
        let response = drift::list_drift_events(&self.state, &principal, request.get_ref()).await?;
        Ok(Response::new(response))
    }

    async fn get_domain_status(
        &self,
        request: Request<v1::GetDomainStatusRequest>,
    ) -> RpcResult<v1::DomainStatus> {
        let principal = auth::principal(request.extensions())?;
        let status = status::get_domain_status(&self.state, &principal, request.get_ref()).await?;
        Ok(Response::new(status))
    }

    async fn list_support_accounts(
        &self,
        request: Request<v1::ListSupportAccountsRequest>,
    ) -> RpcResult<v1::ListSupportAccountsResponse> {
        let principal = auth::principal(request.extensions())?;
        let response =
            status::list_support_accounts(&self.state, &principal, request.get_ref()).await?;
        Ok(Response::new(response))
    }

    async fn list_operation_accounts(
        &self,
        request: Request<v1::ListOperationAccountsRequest>,
    ) -> RpcResult<v1::ListOperationAccountsResponse> {
        let principal = auth::principal(request.extensions())?;
        let response =
            operation_accounts::list_operation_accounts(&self.state, &principal, request.get_ref())
                .await?;
        Ok(Response::new(response))
    }

    async fn list_portal_access(
        &self,
        request: Request<v1::ListPortalAccessRequest>,
    ) -> RpcResult<v1::ListPortalAccessResponse> {
        let principal = auth::principal(request.extensions())?;
        let response =
            portal::list_portal_access(&self.state, &principal, request.get_ref()).await?;
        Ok(Response::new(response))
    }

    async fn resolve_support_account(
        &self,
        request: Request<v1::ResolveSupportAccountRequest>,
    ) -> RpcResult<v1::ResolveSupportAccountResponse> {
        let principal = auth::principal(request.extensions())?;
        let response = resolve::resolve_support_account(&self.state, &principal, request.get_ref())
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(response))
    }

    async fn issue_sign_in_credential(
        &self,
        request: Request<v1::IssueSignInCredentialRequest>,
    ) -> RpcResult<v1::IssueSignInCredentialResponse> {
        let principal = auth::principal(request.extensions())?;
        let response =
            credential::issue_sign_in_credential(&self.state, &principal, request.get_ref())
                .await?;
        Ok(Response::new(response))
    }

    async fn confirm_manual_step(
        &self,
        request: Request<v1::ConfirmManualStepRequest>,
    ) -> RpcResult<v1::ManualStepConfirmation> {
        let principal = auth::principal(request.extensions())?;
        let confirmation =
            manual::confirm_manual_step(&self.state, principal, request.get_ref()).await?;
        Ok(Response::new(confirmation))
    }

    async fn list_audit_events(
        &self,
        request: Request<v1::ListAuditEventsRequest>,
    ) -> RpcResult<v1::ListAuditEventsResponse> {
        let principal = auth::principal(request.extensions())?;
        let response = audit::list_audit_events(&self.state, &principal, request.get_ref()).await?;
        Ok(Response::new(response))
    }
}
