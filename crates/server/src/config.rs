//! Command line and environment configuration (12-factor: every flag has an environment
//! variable). Secrets are never values here: service-account keys are named by file path.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use support_access_engine::EngineConfig;

/// support-access: Customer Care Portal access for a reseller's support staff, in every
/// reseller domain.
#[derive(Debug, Parser)]
#[command(name = "support-access", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gRPC service.
    Serve(ServeConfig),
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Configuration of `support-access serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address of the gRPC listener.
    #[arg(long, env = "SUPPORT_ACCESS_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// PostgreSQL URL; the database is created if missing and migrated at start-up.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/support_access",
        hide_env_values = true
    )]
    pub database_url: String,

    /// A service-account key with domain-wide delegation, as NAME=PATH (repeatable, or
    /// comma-separated in the environment). Domains name the key they use. Required, unless
    /// `--demo` is given.
    #[arg(
        long = "credential",
        env = "SUPPORT_ACCESS_CREDENTIALS",
        value_delimiter = ',',
        value_parser = parse_credential
    )]
    pub credentials: Vec<(String, PathBuf)>,

    /// Run the demo: against the built-in Google emulator seeded with two example reseller
    /// domains, never against Google (an explicit choice; builds without the `demo` feature
    /// refuse it).
    #[arg(long, env = "SUPPORT_ACCESS_DEMO")]
    pub demo: bool,

    /// Where the demo emulator listens (port 0: any free port).
    #[arg(
        long,
        env = "SUPPORT_ACCESS_EMULATOR_LISTEN",
        default_value = "127.0.0.1:0"
    )]
    pub emulator_listen: SocketAddr,

    /// Root URL of the Admin SDK Directory API.
    #[arg(
        long,
        env = "SUPPORT_ACCESS_DIRECTORY_ROOT",
        default_value = "https://admin.googleapis.com/"
    )]
    pub directory_root: String,

    /// Root URL of the Enterprise License Manager API.
    #[arg(
        long,
        env = "SUPPORT_ACCESS_LICENSING_ROOT",
        default_value = "https://licensing.googleapis.com/"
    )]
    pub licensing_root: String,

    /// Root URL of the Reseller API.
    #[arg(
        long,
        env = "SUPPORT_ACCESS_RESELLER_ROOT",
        default_value = "https://reseller.googleapis.com/"
    )]
    pub reseller_root: String,

    /// Log line format.
    #[arg(
        long,
        env = "SUPPORT_ACCESS_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,

    /// How long in-flight RPCs may run after SIGTERM/SIGINT before the server stops anyway.
    #[arg(long, env = "SUPPORT_ACCESS_SHUTDOWN_GRACE", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_grace: std::time::Duration,

    /// Provisioning worker tasks in this replica (each works on one domain at a time). Google
    /// paces user creation per domain (10 a second), so domains in flight add up until the
    /// project's Licensing quota is busy; each holds about 14 KB per account while it runs.
    #[arg(long, env = "SUPPORT_ACCESS_WORKERS", default_value_t = EngineConfig::default().workers)]
    pub workers: usize,

    /// Google calls in flight at once within one domain.
    #[arg(
        long,
        env = "SUPPORT_ACCESS_STEP_CONCURRENCY",
        default_value_t = EngineConfig::default().step_concurrency
    )]
    pub step_concurrency: usize,

    /// How long a worker's claim on a domain lasts without renewal (renewed while it works);
    /// after a crash, any replica resumes the domain once the claim has lapsed.
    #[arg(long, env = "SUPPORT_ACCESS_LEASE", default_value = "30s", value_parser = parse_duration)]
    pub lease: std::time::Duration,

    /// How often every declared domain is observed and its drift recorded (and repaired, per
    /// the domain's repair policy), with ±20 % jitter; `0s` switches reconciliation off.
    #[arg(long, env = "SUPPORT_ACCESS_RECONCILE_INTERVAL", default_value = "5m", value_parser = parse_duration)]
    pub reconcile_interval: std::time::Duration,

    /// Name of the prebuilt Reseller Admin role as `roles.list` shows it (repeatable; Google
    /// does not document it).
    #[arg(
        long = "reseller-admin-role-name",
        env = "SUPPORT_ACCESS_RESELLER_ADMIN_ROLE_NAMES",
        value_delimiter = ',',
        default_value = "_RESELLER_ADMIN_ROLE"
    )]
    pub reseller_admin_role_names: Vec<String>,

    /// `privilegeName` of *View Customers* in `privileges.list` (not documented by Google).
    #[arg(
        long,
        env = "SUPPORT_ACCESS_VIEW_CUSTOMERS_PRIVILEGE",
        default_value = "RESELLER_VIEW_CUSTOMERS"
    )]
    pub view_customers_privilege: String,

    /// `privilegeName` of *Access Customer Support Cases* in `privileges.list`.
    #[arg(
        long,
        env = "SUPPORT_ACCESS_SUPPORT_CASES_PRIVILEGE",
        default_value = "RESELLER_ACCESS_CUSTOMER_SUPPORT_CASES"
    )]
    pub support_cases_privilege: String,

    /// Largest share (percent) of a domain's support accounts one revocation may touch without
    /// `force`.
    #[arg(
        long,
        env = "SUPPORT_ACCESS_MASS_CHANGE_LIMIT_PERCENT",
        default_value_t = 20
    )]
    pub mass_change_limit_percent: u32,

    /// Connections to PostgreSQL in this replica's main pool (RPCs and engine work); lease
    /// heartbeats have two more of their own.
    #[arg(
        long,
        env = "SUPPORT_ACCESS_DATABASE_MAX_CONNECTIONS",
        default_value_t = 10
    )]
    pub database_max_connections: u32,

    /// Longest wait for a database connection (opening one and checking it included); when
    /// PostgreSQL is down or hangs, RPCs answer UNAVAILABLE after this instead of hanging.
    #[arg(long, env = "SUPPORT_ACCESS_DATABASE_ACQUIRE_TIMEOUT", default_value = "3s", value_parser = parse_duration)]
    pub database_acquire_timeout: std::time::Duration,

    /// PostgreSQL `statement_timeout` of every connection (a transaction left idle is ended
    /// after twice this).
    #[arg(long, env = "SUPPORT_ACCESS_DATABASE_STATEMENT_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub database_statement_timeout: std::time::Duration,

    /// Idle time before TCP keepalive probes on every database connection (then every third
    /// of it, 3 probes), so a vanished peer is noticed and its locks are released.
    #[arg(long, env = "SUPPORT_ACCESS_DATABASE_KEEPALIVE", default_value = "30s", value_parser = parse_duration)]
    pub database_keepalive: std::time::Duration,

    /// How long a request_id is remembered (AIP-155): a retry within this time replays the
    /// first answer, after it the id is purged and counts as new. At least 24h.
    #[arg(long, env = "SUPPORT_ACCESS_IDEMPOTENCY_RETENTION", default_value = "7d", value_parser = parse_duration)]
    pub idempotency_retention: std::time::Duration,

    /// Caller authentication.
    #[command(flatten)]
    pub auth: crate::auth::AuthConfig,
}

impl ServeConfig {
    /// Whether the service runs against the built-in emulator.
    pub fn demo_mode(&self) -> bool {
        self.demo
    }

    /// How the store connects to PostgreSQL.
    pub fn store_settings(&self) -> support_access_store::StoreSettings {
        support_access_store::StoreSettings {
            max_connections: self.database_max_connections.max(1),
            acquire_timeout: self
                .database_acquire_timeout
                .max(std::time::Duration::from_millis(100)),
            statement_timeout: self.database_statement_timeout,
            keepalive_idle: self.database_keepalive,
            ..support_access_store::StoreSettings::default()
        }
    }

    /// The configured keys by name.
    pub fn credential_paths(&self) -> BTreeMap<String, PathBuf> {
        self.credentials.iter().cloned().collect()
    }
}

fn parse_credential(raw: &str) -> Result<(String, PathBuf), String> {
    let (name, path) = raw
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=PATH, got {raw:?}"))?;
    let name = name.trim();
    support_access_domain::names::CredentialName::parse(name)
        .map_err(|e| format!("credential name {name:?} {e}"))?;
    Ok((name.to_owned(), PathBuf::from(path.trim())))
}

/// Parses `500ms`, `30s`, `5m`, `12h`, `7d` or a plain number of seconds.
pub fn parse_duration(raw: &str) -> Result<std::time::Duration, String> {
    let raw = raw.trim();
    let (number, unit) = raw
        .find(|c: char| !c.is_ascii_digit())
        .map_or((raw, "s"), |i| raw.split_at(i));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {raw:?}"))?;
    let seconds_per_unit = match unit {
        "ms" => return Ok(std::time::Duration::from_millis(n)),
        "s" => 1,
        "m" => 60,
        "h" => 60 * 60,
        "d" => 24 * 60 * 60,
        _ => {
            return Err(format!(
                "invalid duration unit in {raw:?}: use ms, s, m, h or d"
            ));
        }
    };
    n.checked_mul(seconds_per_unit)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("duration {raw:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(
            parse_duration("30s"),
            Ok(std::time::Duration::from_secs(30))
        );
        assert_eq!(
            parse_duration("250ms"),
            Ok(std::time::Duration::from_millis(250))
        );
        assert_eq!(
            parse_duration("2m"),
            Ok(std::time::Duration::from_secs(120))
        );
        assert_eq!(
            parse_duration("2h"),
            Ok(std::time::Duration::from_secs(7200))
        );
        assert_eq!(
            parse_duration("7d"),
            Ok(std::time::Duration::from_secs(7 * 86400))
        );
        assert!(parse_duration("2w").is_err());
    }

    #[test]
    fn database_and_retention_defaults_are_the_stores() {
        let Command::Serve(config) = Cli::try_parse_from(["support-access", "serve"])
            .unwrap()
            .command;
        assert_eq!(
            config.store_settings(),
            support_access_store::StoreSettings::default()
        );
        assert_eq!(
            config.idempotency_retention,
            support_access_store::idempotency::DEFAULT_RETENTION
        );
        let Command::Serve(config) = Cli::try_parse_from([
            "support-access",
            "serve",
            "--idempotency-retention",
            "30d",
            "--database-acquire-timeout",
            "1500ms",
        ])
        .unwrap()
        .command;
        assert_eq!(
            config.idempotency_retention,
            std::time::Duration::from_secs(30 * 86400)
        );
        assert_eq!(
            config.store_settings().acquire_timeout,
            std::time::Duration::from_millis(1500)
        );
    }

    #[test]
    fn credentials_parse_name_and_path() {
        let cli = Cli::try_parse_from([
            "support-access",
            "serve",
            "--credential",
            "default=/keys/a.json",
        ])
        .unwrap();
        let Command::Serve(config) = cli.command;
        assert_eq!(
            config.credential_paths()["default"],
            PathBuf::from("/keys/a.json")
        );
        assert!(!config.demo_mode());
        assert!(
            Cli::try_parse_from(["support-access", "serve", "--credential", "nopath"]).is_err()
        );
    }
}
