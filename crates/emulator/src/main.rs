//! `workspace-emulator`: the command line around the library — `serve` runs the emulated Google
//! APIs on an address, `keygen` writes a service-account key file whose `token_uri` points at
//! the emulator.

use std::path::PathBuf;

use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use support_access_emulator::{Knobs, Profile, Seed};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Google's Directory, Licensing and Reseller APIs and OAuth token endpoint on loopback.
#[derive(Parser)]
#[command(name = "workspace-emulator", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the emulated APIs until interrupted (Ctrl-C or SIGTERM).
    ///
    /// Prints `workspace-emulator listening on http://HOST:PORT/` on stdout once ready. APIs live
    /// under that base URL (`admin/directory/v1/…`, `apps/licensing/v1/…`,
    /// `apps/reseller/v1/…`), the token endpoint at `token`, discovery documents at
    /// `discovery/v1/apis/{api}/{version}/rest`, the control API at `emulator/v1/…`.
    Serve(ServeArgs),
    /// Write a service-account key file for a seeded service account.
    ///
    /// With `--emulator URL` the key of a running emulator is fetched (so it is the key that
    /// emulator verifies). Otherwise a fresh RSA 2048 key is generated for `--token-uri`; name
    /// the written file as the account's `key_file` in the seed so `serve` uses that key.
    Keygen(KeygenArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(
        long,
        default_value = "127.0.0.1:8085",
        env = "WORKSPACE_EMULATOR_LISTEN"
    )]
    listen: String,
    /// Seed file (JSON, or YAML with .yaml/.yml) describing customers, admins, org units,
    /// subscriptions, service accounts and knobs.
    #[arg(long, env = "WORKSPACE_EMULATOR_SEED", conflicts_with = "demo")]
    seed: Option<PathBuf>,
    /// Use the built-in demo seed (two reseller domains, one service account).
    #[arg(long)]
    demo: bool,
    /// Write a key file for every seeded service account into this folder, named
    /// `<client_email>.json`, and an authorized-user file for every user holding a refresh token,
    /// named `authorized-user-<email>.json`, each with `token_uri` pointing at this emulator.
    #[arg(long, value_name = "DIR")]
    write_keys: Option<PathBuf>,
    /// Turn on Google's documented quotas (Directory 2,400 queries/min per user, Licensing
    /// 1 QPS) on top of the seed's knobs.
    #[arg(long)]
    google_quotas: bool,
    /// Extra latency per API call in milliseconds (replaces the seed's base latency).
    #[arg(long, value_name = "MS")]
    latency_ms: Option<u64>,
    /// Eventual-consistency window after users.insert in milliseconds (replaces the seed's).
    #[arg(long, value_name = "MS")]
    propagation_ms: Option<u64>,
    /// Named realism profile: `realistic` draws each new user's propagation to Licensing and
    /// role assignment from Google-like delays and answers Google's transient errors meanwhile;
    /// `idle` keeps the knobs as set. Replaces the seed's profile.
    #[arg(long, value_enum, value_name = "PROFILE")]
    profile: Option<ProfileArg>,
    /// Divide every propagation delay by this factor (100: a 60 s delay lasts 0.6 s).
    #[arg(long, value_name = "FACTOR")]
    time_scale: Option<f64>,
    /// Seed of the propagation generator, for reproducible runs.
    #[arg(long, value_name = "N")]
    rng_seed: Option<u64>,
    /// Knobs as a JSON or YAML file, replacing the seed's knobs entirely.
    #[arg(long, value_name = "FILE")]
    knobs: Option<PathBuf>,
}

/// `--profile` values.
#[derive(Clone, Copy, clap::ValueEnum)]
enum ProfileArg {
    Idle,
    Realistic,
}

#[derive(Args)]
struct KeygenArgs {
    /// The service account's client_email.
    #[arg(long)]
    client_email: String,
    /// Where to write the key file.
    #[arg(long)]
    out: PathBuf,
    /// Base URL of a running emulator to fetch the account's key from.
    #[arg(long, value_name = "URL", conflicts_with = "token_uri")]
    emulator: Option<String>,
    /// Token URI to write into a freshly generated key (e.g. http://127.0.0.1:8085/token).
    #[arg(long, value_name = "URL")]
    token_uri: Option<String>,
    /// Seed naming the account (for its project_id and client_id) when generating.
    #[arg(long)]
    seed: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WORKSPACE_EMULATOR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match Cli::parse().command {
        Command::Serve(args) => serve(args).await,
        Command::Keygen(args) => keygen(args).await,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut seed = match (&args.seed, args.demo) {
        (Some(path), _) => Seed::from_file(path)?,
        (None, true) => Seed::demo(),
        (None, false) => bail!("give --seed FILE or --demo"),
    };
    if let Some(path) = &args.knobs {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading knobs {}", path.display()))?;
        seed.knobs = serde_yaml::from_str::<Knobs>(&text)
            .with_context(|| format!("parsing knobs {}", path.display()))?;
    }
    if args.google_quotas {
        seed.knobs.quotas.enabled = true;
    }
    if let Some(ms) = args.latency_ms {
        seed.knobs.latency.base_ms = ms;
    }
    if let Some(ms) = args.propagation_ms {
        seed.knobs.consistency.user_propagation_ms = ms;
    }
    if let Some(profile) = args.profile {
        seed.profile = Some(match profile {
            ProfileArg::Idle => Profile::Idle,
            ProfileArg::Realistic => Profile::Realistic,
        });
    }
    if let Some(scale) = args.time_scale {
        if !(scale.is_finite() && scale > 0.0) {
            bail!("--time-scale must be a positive number, not {scale}");
        }
        seed.knobs.propagation.time_scale = scale;
    }
    if let Some(rng_seed) = args.rng_seed {
        seed.knobs.propagation.rng_seed = Some(rng_seed);
    }
    let accounts: Vec<String> = seed
        .service_accounts
        .iter()
        .map(|a| a.client_email.clone())
        .collect();
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let emulator = support_access_emulator::start(listener, seed).await?;
    if let Some(dir) = &args.write_keys {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for email in &accounts {
            let path = dir.join(format!("{email}.json"));
            match emulator.service_account_key_json(email) {
                Ok(json) => write_private(&path, &json)?,
                Err(error) => tracing::warn!(account = %email, %error, "no key file written"),
            }
        }
        for email in emulator.authorized_users() {
            let path = dir.join(format!("authorized-user-{email}.json"));
            write_private(&path, &emulator.authorized_user_json(&email)?)?;
        }
    }
    println!("workspace-emulator listening on {}", emulator.base_url());
    wait_for_stop().await;
    emulator.shutdown().await;
    Ok(())
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, format!("{text}\n"))
        .with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

async fn keygen(args: KeygenArgs) -> anyhow::Result<()> {
    if let Some(base) = &args.emulator {
        let encoded = percent_encoding::utf8_percent_encode(
            &args.client_email,
            percent_encoding::NON_ALPHANUMERIC,
        );
        let json = http_get(base, &format!("emulator/v1/serviceAccounts/{encoded}/key")).await?;
        write_private(&args.out, &json)?;
        eprintln!("wrote {}", args.out.display());
        return Ok(());
    }
    let token_uri = args
        .token_uri
        .clone()
        .ok_or_else(|| anyhow!("give --emulator URL, or --token-uri URL to generate a key"))?;
    let (project_id, client_id) = match &args.seed {
        Some(path) => {
            let seed = Seed::from_file(path)?;
            let account = seed
                .service_accounts
                .iter()
                .find(|a| a.client_email.eq_ignore_ascii_case(&args.client_email))
                .ok_or_else(|| anyhow!("{} is not in the seed", args.client_email))?;
            (seed.project_id.clone(), account.client_id.clone())
        }
        None => ("emulator-project".to_owned(), None),
    };
    support_access_emulator::generate_key_file(
        &args.out,
        &project_id,
        &args.client_email,
        client_id.as_deref(),
        &token_uri,
    )?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

/// A minimal HTTP/1.1 GET over plain TCP (the control API is loopback HTTP).
async fn http_get(base: &str, path: &str) -> anyhow::Result<String> {
    let url = url::Url::parse(base).with_context(|| format!("bad URL {base}"))?;
    if url.scheme() != "http" {
        bail!("only http:// emulator URLs are supported");
    }
    let host = url.host_str().ok_or_else(|| anyhow!("no host in {base}"))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let full_path = format!(
        "{}{path}",
        url.path().trim_end_matches('/').to_owned() + "/"
    );
    let mut stream = tokio::net::TcpStream::connect((host, port))
        .await
        .with_context(|| format!("connecting to {host}:{port}"))?;
    let request = format!(
        "GET {full_path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\nAccept: application/json\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8(response).context("response is not UTF-8")?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("malformed HTTP response"))?;
    let status_ok = head
        .lines()
        .next()
        .is_some_and(|line| line.split_whitespace().nth(1) == Some("200"));
    if !status_ok {
        bail!(
            "emulator answered {}: {body}",
            head.lines().next().unwrap_or_default()
        );
    }
    Ok(body.to_owned())
}
