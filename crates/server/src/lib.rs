//! support-access: a gRPC service that gives a Google Workspace reseller's support staff access
//! to Google's Customer Care Portal in every reseller domain, and keeps that access correct.
//!
//! The binary (`main.rs`) is a thin wrapper: [`config`] parses flags and environment,
//! [`app::Application`] binds, connects and serves.

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod engine_runtime;
pub mod error;
pub mod finished_operations;
pub mod limits;
pub mod metrics;
pub mod operations;
pub mod state;
pub mod status_cache;
pub mod telemetry;

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
