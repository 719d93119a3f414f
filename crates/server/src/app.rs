//! Building and running the service: the listener, Postgres, health, reflection and the gRPC
//! services, with graceful shutdown. Tests build an [`Application`] on port 0 and talk real TCP.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use support_access_proto::google::longrunning::operations_server::OperationsServer;
use support_access_proto::v1::support_access_service_server::SupportAccessServiceServer;
use support_access_store::{Store, StoreSettings};
use tokio::net::TcpListener;
use tokio::sync::OnceCell;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::api::SupportAccessApi;
use crate::api::operation_view::ProtoResultEncoder;
use crate::config::ServeConfig;
use crate::engine_runtime::EngineRuntime;
use crate::operations::OperationsApi;
use crate::state::AppState;
use support_access_domain::access::AccessConfig;
use support_access_domain::plan::PlannerConfig;
use support_access_domain::revoke::MassChangeLimit;
use support_access_engine::google_access::GoogleAccess;
use support_access_engine::quota_pacer::PostgresPacer;
use support_access_engine::{Engine, EngineConfig};
use support_access_google::{GoogleClient, GoogleConfig, ServiceAccountCredential};
use tokio_util::sync::CancellationToken;

/// Largest request message accepted, in bytes.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// How often Postgres is pinged to keep the readiness status true.
const HEALTH_PING_INTERVAL: Duration = Duration::from_secs(2);
/// Longest a readiness ping may take, on top of the pool's acquire timeout: a connection that
/// was acquired and then hangs must not keep readiness SERVING.
const HEALTH_PING_TIMEOUT: Duration = Duration::from_secs(2);

/// The gRPC health service name of liveness: SERVING while the process can still do its job
/// without a restart (its runtime answers and its database supervisor runs), whether or not
/// PostgreSQL answers. A Kubernetes livenessProbe asks for it, so a PostgreSQL outage does not
/// restart every pod; only a wedged process is restarted.
pub const LIVENESS_SERVICE: &str = "liveness";

/// The gRPC health service names of readiness: SERVING exactly while PostgreSQL answers (and not
/// while shutting down). `""` is what a client asks by default; a Kubernetes readinessProbe asks
/// for it, so a replica without its database gets no traffic.
pub const READINESS_SERVICES: [&str; 3] = [
    "",
    crate::api::methods::SERVICE,
    "google.longrunning.Operations",
];

/// A built service, bound to its listener but not yet serving.
pub struct Application {
    listener: TcpListener,
    config: ServeConfig,
    state: Arc<AppState>,
    store: Arc<OnceCell<Store>>,
    google: Arc<GoogleAccess>,
    /// Paces Google's project-wide quotas with the other replicas, once Postgres answers.
    quota_pacer: Arc<PostgresPacer>,
    engine: Arc<OnceCell<Arc<Engine>>>,
    /// The in-process Google emulator of demo mode, kept alive with the service.
    demo_emulator: Option<DemoEmulator>,
}

impl Application {
    /// Binds the listener and prepares the services. Postgres is connected in the background
    /// once serving starts, so health can say NOT_SERVING while it is unreachable.
    pub async fn build(config: ServeConfig) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let store = Arc::new(OnceCell::new());
        let quota_pacer = Arc::new(PostgresPacer::default());
        let (google, demo_emulator) = google_access(&config, quota_pacer.clone()).await?;
        let engine = Arc::new(OnceCell::new());
        let state = Arc::new(AppState::new(
            store.clone(),
            google.clone(),
            engine.clone(),
            planner_config(&config),
            MassChangeLimit {
                max_percent: config.mass_change_limit_percent,
                ..MassChangeLimit::default()
            },
        ));
        Ok(Application {
            listener,
            config,
            state,
            store,
            google,
            quota_pacer,
            engine,
            demo_emulator,
        })
    }

    /// The demo emulator's base URL, in demo mode.
    pub fn demo_emulator_url(&self) -> Option<String> {
        self.demo_emulator.as_ref().map(|e| e.base_url())
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
        let status_cache = self.state.status_cache().clone();
        let auth_layer = crate::auth::layer(
            &self.config.auth,
            self.config.listen,
            self.store.clone(),
            Arc::new(move || status_cache.forget_all()),
        )
        .await?;
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        set_readiness(&health_reporter, ServingStatus::NotServing).await;
        health_reporter
            .set_service_status(LIVENESS_SERVICE, ServingStatus::Serving)
            .await;
        let engine_shutdown = CancellationToken::new();
        let engine_runtime = EngineRuntime::start().context("cannot start the engine's runtime")?;
        let supervisor = tokio::spawn(supervise_database(
            self.config.database_url.clone(),
            self.config.store_settings(),
            self.config.idempotency_retention,
            self.store.clone(),
            health_reporter.clone(),
            EngineStart {
                runtime: engine_runtime.handle().clone(),
                google: self.google.clone(),
                quota_pacer: self.quota_pacer.clone(),
                config: engine_config(&self.config),
                cell: self.engine.clone(),
                shutdown: engine_shutdown.clone(),
                status_cache: self.state.status_cache().clone(),
            },
        ));

        // The supervisor never returns by itself: if it ends (a panic), nothing reconnects or
        // keeps readiness true any more, and only a restart helps, so liveness says so.
        let supervisor_abort = supervisor.abort_handle();
        let liveness = health_reporter.clone();
        tokio::spawn(async move {
            if let Err(error) = supervisor.await
                && !error.is_cancelled()
            {
                tracing::error!(error = %error, "the database supervisor died: liveness is NOT_SERVING");
                liveness
                    .set_service_status(LIVENESS_SERVICE, ServingStatus::NotServing)
                    .await;
            }
        });

        let reflection = reflection_builder();
        let reflection_v1 = reflection_builder().build_v1()?;
        let reflection_v1alpha = reflection.build_v1alpha()?;
        let api = SupportAccessServiceServer::new(SupportAccessApi::new(self.state.clone()))
            .max_decoding_message_size(MAX_REQUEST_BYTES);
        let operations = OperationsServer::new(OperationsApi::new(self.state.clone()))
            .max_decoding_message_size(MAX_REQUEST_BYTES);

        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let grace = self.config.shutdown_grace;
        crate::metrics::register_google(self.state.google().client().metrics().clone());
        let gauges = std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").map(|_| {
            crate::metrics::register_database_gauges(
                self.store.clone(),
                crate::metrics::gauge_refresh(),
            )
        });
        let server = crate::auth::server_builder(&self.config.auth)?
            .layer(crate::metrics::RpcMetricsLayer::new())
            .layer(crate::limits::MessageSizeStatusLayer)
            .layer(auth_layer)
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(api)
            .add_service(operations)
            .serve_with_incoming_shutdown(incoming(self.listener), async move {
                let _ = stop_rx.await;
            });
        tokio::pin!(server);
        let result = tokio::select! {
            result = &mut server => result,
            () = shutdown => {
                tracing::info!("shutting down: finishing in-flight requests");
                // Stop new traffic first (the supervisor goes first, so that its next ping cannot
                // turn readiness back on); liveness stays SERVING so the pod is not killed while
                // it drains.
                supervisor_abort.abort();
                set_readiness(&health_reporter, ServingStatus::NotServing).await;
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
        supervisor_abort.abort();
        engine_shutdown.cancel();
        drop(engine_runtime);
        if let Some(gauges) = gauges {
            gauges.abort();
        }
        if let Some(emulator) = self.demo_emulator {
            emulator.shutdown().await;
        }
        result.context("gRPC server failed")
    }
}

/// The accepted connections of `listener`, with TCP_NODELAY on each. tonic sets it only on the
/// listeners it binds itself (`Server::serve`), not on an incoming stream it is given; without it,
/// Nagle's algorithm holds the small HTTP/2 frames of a response back until the client
/// acknowledges the previous ones, which adds latency and costs throughput.
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

fn reflection_builder() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(support_access_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

async fn set_readiness(reporter: &HealthReporter, status: ServingStatus) {
    for service in READINESS_SERVICES {
        reporter.set_service_status(service, status).await;
    }
}

/// What the database supervisor needs to start the engine once Postgres answers.
struct EngineStart {
    /// Where the engine's tasks (and the sweep, which finishes operations as the engine does) run.
    runtime: tokio::runtime::Handle,
    google: Arc<GoogleAccess>,
    quota_pacer: Arc<PostgresPacer>,
    config: EngineConfig,
    cell: Arc<OnceCell<Arc<Engine>>>,
    shutdown: CancellationToken,
    /// Kept `GetDomainStatus` answers, forgotten as Postgres announces changes.
    status_cache: Arc<crate::status_cache::StatusCache>,
}

/// Connects to Postgres (retrying until it answers), starts the engine and the maintenance
/// tasks, then keeps readiness in step with whether Postgres still answers.
async fn supervise_database(
    database_url: String,
    settings: StoreSettings,
    idempotency_retention: Duration,
    store: Arc<OnceCell<Store>>,
    health: HealthReporter,
    engine: EngineStart,
) {
    let mut delay = Duration::from_millis(200);
    let connected = loop {
        match Store::connect_with_settings(&database_url, &settings).await {
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
    engine.quota_pacer.attach(store.clone());
    let started = Engine::new(
        store.clone(),
        engine.google,
        engine.config,
        Arc::new(ProtoResultEncoder),
    );
    started.spawn(&engine.runtime, engine.shutdown.clone());
    let _ = engine.cell.set(started);
    tokio::spawn(crate::status_cache::listen(
        engine.status_cache,
        store.pool().clone(),
        engine.shutdown.clone(),
    ));
    engine.runtime.spawn(sweep_stranded_operations(
        store.clone(),
        engine.shutdown.clone(),
    ));
    tokio::spawn(purge_idempotency_keys(
        store.clone(),
        idempotency_retention,
        engine.shutdown,
    ));
    let mut serving = None;
    loop {
        let status = match tokio::time::timeout(
            HEALTH_PING_TIMEOUT + settings.acquire_timeout,
            store.ping(),
        )
        .await
        {
            Ok(Ok(())) => ServingStatus::Serving,
            Ok(Err(error)) => {
                tracing::warn!(error = %error, "postgres stopped answering");
                ServingStatus::NotServing
            }
            Err(_) => {
                tracing::warn!("postgres stopped answering (ping timed out)");
                ServingStatus::NotServing
            }
        };
        if serving != Some(status) {
            set_readiness(&health, status).await;
            serving = Some(status);
        }
        tokio::time::sleep(HEALTH_PING_INTERVAL).await;
    }
}

/// How often every replica looks for operations stranded between their last release and their
/// finish. Cheap (an index scan of unfinished operations), so often enough that `WaitOperation`
/// callers hardly notice the crash that stranded one.
const SWEEP_INTERVAL: Duration = Duration::from_secs(5);
/// How long after its last domain's release an operation counts as stranded: the releasing
/// worker normally finishes it within milliseconds, and the sweep should not do that work twice.
const SWEEP_GRACE: Duration = Duration::from_secs(10);
/// Operations finished per sweep, so one sweep stays short after a long outage.
const SWEEP_BATCH: i64 = 100;

/// Finishes, from their journal and through the engine's own code, the operations whose domains
/// are all finished but which were never finished themselves (the last release and the finish
/// are separate transactions; an error between them is only logged by the worker). Every replica
/// sweeps; finishing twice is harmless, the second finish sees the operation done.
async fn sweep_stranded_operations(store: Store, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(SWEEP_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let stranded = match store.pool().acquire().await {
            Ok(mut conn) => {
                support_access_store::operations::stranded(&mut conn, SWEEP_GRACE, SWEEP_BATCH)
                    .await
            }
            Err(error) => Err(error.into()),
        };
        let ids = match stranded {
            Ok(ids) => ids,
            Err(error) => {
                tracing::warn!(error = %error, "cannot look for stranded operations");
                continue;
            }
        };
        for id in ids {
            match support_access_engine::outcome::finish_operation(&store, &ProtoResultEncoder, id)
                .await
            {
                Ok(()) => tracing::info!(operation = %id, "finished a stranded operation"),
                Err(error) => {
                    tracing::warn!(operation = %id, error = %error, "cannot finish a stranded operation")
                }
            }
        }
    }
}

/// How often every replica purges request ids past their retention.
const PURGE_INTERVAL: Duration = Duration::from_secs(10 * 60);
/// Request ids deleted per purge transaction: short transactions, short locks.
const PURGE_BATCH: i64 = 1000;

/// Deletes request ids older than the retention (AIP-155), in batches until none is left, every
/// [`PURGE_INTERVAL`]. Every replica purges; batches skip each other's rows.
async fn purge_idempotency_keys(store: Store, retention: Duration, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(PURGE_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let mut purged = 0;
        loop {
            let batch = match store.pool().acquire().await {
                Ok(mut conn) => {
                    support_access_store::idempotency::purge_expired(
                        &mut conn,
                        retention,
                        PURGE_BATCH,
                    )
                    .await
                }
                Err(error) => Err(error.into()),
            };
            match batch {
                Ok(deleted) => {
                    purged += deleted;
                    if deleted < PURGE_BATCH as u64 || shutdown.is_cancelled() {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %error, "cannot purge expired request ids");
                    break;
                }
            }
        }
        if purged > 0 {
            tracing::info!(
                purged,
                retention_hours = retention.as_secs() / 3600,
                "purged expired request ids"
            );
        }
    }
}

/// The service account of the demo seed.
#[cfg(feature = "demo")]
const DEMO_SERVICE_ACCOUNT: &str = "support-access@demo-project.iam.gserviceaccount.com";

/// The built-in emulator of a demo.
#[cfg(feature = "demo")]
type DemoEmulator = support_access_emulator::EmulatorHandle;

/// Builds without the `demo` feature have no emulator: nothing can hold one.
#[cfg(not(feature = "demo"))]
enum DemoEmulator {}

#[cfg(not(feature = "demo"))]
impl DemoEmulator {
    fn base_url(&self) -> String {
        match *self {}
    }

    async fn shutdown(self) {
        match self {}
    }
}

/// The built-in emulator for `--demo`.
#[cfg(feature = "demo")]
async fn demo_google(
    config: &ServeConfig,
    quota_pacer: Arc<PostgresPacer>,
) -> anyhow::Result<(Arc<GoogleAccess>, DemoEmulator)> {
    let listener = TcpListener::bind(config.emulator_listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} for the demo emulator",
                config.emulator_listen
            )
        })?;
    let emulator =
        support_access_emulator::start(listener, support_access_emulator::Seed::demo()).await?;
    let key = emulator.service_account_key_json(DEMO_SERVICE_ACCOUNT)?;
    let credential = ServiceAccountCredential::from_json(&key)?;
    let base = url::Url::parse(&emulator.base_url())?;
    let client = GoogleClient::with_shared_pacer(GoogleConfig::all_apis_at(&base), quota_pacer)?;
    tracing::info!(emulator = %emulator.base_url(), "demo mode: Google is the built-in emulator (domains reseller-one.example and reseller-two.example, credential \"default\")");
    let credentials = [("default".to_owned(), Arc::new(credential))].into();
    Ok((Arc::new(GoogleAccess::new(client, credentials)), emulator))
}

#[cfg(not(feature = "demo"))]
async fn demo_google(
    _config: &ServeConfig,
    _quota_pacer: Arc<PostgresPacer>,
) -> anyhow::Result<(Arc<GoogleAccess>, DemoEmulator)> {
    anyhow::bail!(
        "this build of support-access has no built-in emulator (it was built without the `demo` feature): configure a service-account key with --credential NAME=PATH"
    )
}

/// Google access from configuration: real Google with the configured keys, or (demo mode) the
/// built-in emulator seeded with two reseller domains, its key named `default`.
/// Google's project-wide quotas are paced by `quota_pacer`, shared with the other replicas.
async fn google_access(
    config: &ServeConfig,
    quota_pacer: Arc<PostgresPacer>,
) -> anyhow::Result<(Arc<GoogleAccess>, Option<DemoEmulator>)> {
    if config.demo_mode() {
        let (google, emulator) = demo_google(config, quota_pacer).await?;
        return Ok((google, Some(emulator)));
    }
    if config.credentials.is_empty() {
        anyhow::bail!(
            "no service-account key is configured, and support-access never falls back to a fake Google on its own: give the key with --credential NAME=PATH (or SUPPORT_ACCESS_CREDENTIALS=NAME=PATH), or run the demo against the built-in emulator with --demo"
        );
    }
    let google_config = GoogleConfig {
        directory_base_url: url::Url::parse(&config.directory_root).context("--directory-root")?,
        licensing_base_url: url::Url::parse(&config.licensing_root).context("--licensing-root")?,
        reseller_base_url: url::Url::parse(&config.reseller_root).context("--reseller-root")?,
        ..GoogleConfig::default()
    };
    let mut credentials = std::collections::BTreeMap::new();
    for (name, path) in config.credential_paths() {
        let credential = ServiceAccountCredential::from_file(&path)
            .await
            .with_context(|| format!("service-account key {name:?} ({})", path.display()))?;
        credentials.insert(name, Arc::new(credential));
    }
    let client = GoogleClient::with_shared_pacer(google_config, quota_pacer)?;
    Ok((Arc::new(GoogleAccess::new(client, credentials)), None))
}

fn planner_config(config: &ServeConfig) -> PlannerConfig {
    PlannerConfig {
        access: AccessConfig {
            reseller_admin_role_names: config.reseller_admin_role_names.clone(),
            view_customers_privilege: config.view_customers_privilege.clone(),
            support_cases_privilege: config.support_cases_privilege.clone(),
            ..AccessConfig::default()
        },
        ..PlannerConfig::default()
    }
}

fn engine_config(config: &ServeConfig) -> EngineConfig {
    EngineConfig {
        workers: config.workers.max(1),
        step_concurrency: config.step_concurrency.max(1),
        lease: config.lease.max(Duration::from_secs(1)),
        reconcile_interval: (!config.reconcile_interval.is_zero())
            .then_some(config.reconcile_interval),
        planner: planner_config(config),
        ..EngineConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_stream::StreamExt;

    #[tokio::test]
    async fn accepted_connections_have_tcp_nodelay() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut accepted = incoming(listener);
        let _client = tokio::net::TcpStream::connect(address).await.unwrap();
        let stream = accepted.next().await.unwrap().unwrap();
        assert!(stream.nodelay().unwrap(), "Nagle's algorithm is still on");
    }
}
