//! `google.longrunning.Operations` for the provisioning and revoking operations.

use std::sync::Arc;

use support_access_proto::google::longrunning::operations_server::Operations;
use support_access_proto::google::longrunning::{
    CancelOperationRequest, DeleteOperationRequest, GetOperationRequest, ListOperationsRequest,
    ListOperationsResponse, Operation, WaitOperationRequest,
};
use tonic::{Request, Response, Status};

use crate::auth;
use crate::error::ApiError;
use crate::state::AppState;

/// The Operations service over the operations journal in Postgres.
#[derive(Clone)]
pub struct OperationsApi {
    #[allow(dead_code)]
    state: Arc<AppState>,
}

impl OperationsApi {
    /// A service over the shared application state.
    pub fn new(state: Arc<AppState>) -> Self {
        OperationsApi { state }
    }
}

#[tonic::async_trait]
impl Operations for OperationsApi {
    async fn list_operations(
        &self,
        request: Request<ListOperationsRequest>,
    ) -> Result<Response<ListOperationsResponse>, Status> {
        auth::principal(request.extensions())?;
        Err(ApiError::Unimplemented("ListOperations").into())
    }

    async fn get_operation(
        &self,
        request: Request<GetOperationRequest>,
    ) -> Result<Response<Operation>, Status> {
        auth::principal(request.extensions())?;
        Err(ApiError::Unimplemented("GetOperation").into())
    }

    async fn delete_operation(
        &self,
        request: Request<DeleteOperationRequest>,
    ) -> Result<Response<()>, Status> {
        auth::principal(request.extensions())?;
        Err(ApiError::Unimplemented("DeleteOperation").into())
    }

    async fn cancel_operation(
        &self,
        request: Request<CancelOperationRequest>,
    ) -> Result<Response<()>, Status> {
        auth::principal(request.extensions())?;
        Err(ApiError::Unimplemented("CancelOperation").into())
    }

    async fn wait_operation(
        &self,
        request: Request<WaitOperationRequest>,
    ) -> Result<Response<Operation>, Status> {
        auth::principal(request.extensions())?;
        Err(ApiError::Unimplemented("WaitOperation").into())
    }
}
