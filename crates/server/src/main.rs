//! The `support-access` binary: parses the command line and runs the service.

use clap::Parser;
use support_access_server::app::Application;
use support_access_server::config::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(config) => {
            let _telemetry = support_access_server::telemetry::init(config.log_format)?;
            let app = Application::build(config).await?;
            tracing::info!(address = %app.local_addr(), "support-access listening");
            app.run_until_stopped(support_access_server::shutdown_signal())
                .await
        }
    }
}
