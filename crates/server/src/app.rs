//! Building and running the service: the listener, Postgres, health, reflection and the gRPC
//! services, with graceful shutdown. Tests build an [`Application`] on port 0 and talk real TCP.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use support_access_proto::google::longrunning::operations_server::OperationsServer;
use support_access_proto::v1::support_access_service_server::SupportAccessServiceServer;
use support_access_store::Store;
use tokio::net::TcpListener;
use tokio::sync::OnceCell;
use tokio_stream::wrappers::TcpListenerStream;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::api::SupportAccessApi;
use crate::config::ServeConfig;
use crate::operations::OperationsApi;
use crate::state::AppState;

/// Largest request message accepted, in bytes.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// How often Postgres is pinged to keep the health status true.
const HEALTH_PING_INTERVAL: Duration = Duration::from_secs(2);

/// A built service, bound to its listener but not yet serving.
pub struct Application {
    listener: TcpListener,
    config: ServeConfig,
    state: Arc<AppState>,
    store: Arc<OnceCell<Store>>,
}

impl Application {
    /// Binds the listener and prepares the services. Postgres is connected in the background
    /// once serving starts, so health can say NOT_SERVING while it is unreachable.
    pub async fn build(config: ServeConfig) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let store = Arc::new(OnceCell::new());
        let mut credential_names: std::collections::BTreeSet<String> =
            config.credential_paths().into_keys().collect();
        if config.demo_mode() {
            credential_names.insert("default".into());
        }
        let state = Arc::new(AppState::new(store.clone(), credential_names));
        Ok(Application {
            listener,
            config,
            state,
            store,
        })
    }

    /// The address the service listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// Serves until `shutdown` resolves, then lets in-flight RPCs finish (up to the configured
    /// grace period).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let auth_layer =
            crate::auth::layer(&self.config.auth, self.config.listen, self.store.clone()).await?;
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        set_health(&health_reporter, ServingStatus::NotServing).await;
        let supervisor = tokio::spawn(supervise_database(
            self.config.database_url.clone(),
            self.store.clone(),
            health_reporter,
        ));

        let reflection = reflection_builder();
        let reflection_v1 = reflection_builder().build_v1()?;
        let reflection_v1alpha = reflection.build_v1alpha()?;
        let api = SupportAccessServiceServer::new(SupportAccessApi::new(self.state.clone()))
            .max_decoding_message_size(MAX_REQUEST_BYTES);
        let operations = OperationsServer::new(OperationsApi::new(self.state.clone()))
            .max_decoding_message_size(MAX_REQUEST_BYTES);

        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let grace = self.config.shutdown_grace;
        let server = crate::auth::server_builder(&self.config.auth)?
            .layer(crate::limits::MessageSizeStatusLayer)
            .layer(auth_layer)
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(api)
            .add_service(operations)
            .serve_with_incoming_shutdown(TcpListenerStream::new(self.listener), async move {
                let _ = stop_rx.await;
            });
        tokio::pin!(server);
        let result = tokio::select! {
            result = &mut server => result,
            () = shutdown => {
                tracing::info!("shutting down: finishing in-flight requests");
                let _ = stop_tx.send(());
                match tokio::time::timeout(grace, &mut server).await {
                    Ok(result) => result,
                    Err(_) => {
                        tracing::warn!(grace_seconds = grace.as_secs(), "in-flight requests did not finish in time");
                        Ok(())
                    }
                }
            }
        };
        supervisor.abort();
        result.context("gRPC server failed")
    }
}

fn reflection_builder() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(support_access_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

async fn set_health(reporter: &HealthReporter, status: ServingStatus) {
    reporter.set_service_status("", status).await;
    reporter
        .set_service_status(crate::api::methods::SERVICE, status)
        .await;
    reporter
        .set_service_status("google.longrunning.Operations", status)
        .await;
}

/// Connects to Postgres (retrying until it answers), then keeps the health status in step with
/// whether it still answers.
async fn supervise_database(
    database_url: String,
    store: Arc<OnceCell<Store>>,
    health: HealthReporter,
) {
    let mut delay = Duration::from_millis(200);
    let connected = loop {
        match Store::connect(&database_url).await {
            Ok(connected) => break connected,
            Err(error) => {
                tracing::warn!(error = %error, retry_in_ms = delay.as_millis() as u64, "postgres is not reachable yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    };
    tracing::info!("connected to postgres, migrations applied");
    let _ = store.set(connected);
    let store = store.get().expect("just set");
    let mut serving = None;
    loop {
        let status = match store.ping().await {
            Ok(()) => ServingStatus::Serving,
            Err(error) => {
                tracing::warn!(error = %error, "postgres stopped answering");
                ServingStatus::NotServing
            }
        };
        if serving != Some(status) {
            set_health(&health, status).await;
            serving = Some(status);
        }
        tokio::time::sleep(HEALTH_PING_INTERVAL).await;
    }
}
