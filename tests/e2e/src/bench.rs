//! What the benchmarks (`src/bin/bench-*.rs`) and the scale scenario ([`crate::scale`]) share:
//! child processes killed on drop, the release binaries they measure, a process's RSS from
//! `/proc`, the machine's load, quantiles, starting a release replica and talking to it with the
//! bench principal's token, and the bound Google's quotas put on provisioning ([`QuotaBound`]).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use support_access_emulator::LedgerEntry;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// Google's quotas the bound is computed from (the emulator enforces the Directory and
/// Licensing ones with these same numbers; user creation is held to its rate by our client).
pub const DIRECTORY_PER_ADMIN_PER_SECOND: f64 = 2400.0 / 60.0;
/// Google's user creations per domain per second.
pub const USER_CREATES_PER_DOMAIN_PER_SECOND: usize = 10;
/// Licensing queries per second for the whole project.
pub const LICENSING_PER_PROJECT_PER_SECOND: f64 = 1.0;
/// Page size of `licenseAssignments.listForProductAndSku` (Licensing's documented maximum).
pub const LICENSE_PAGE: usize = 100;
/// Cloud Identity Free, whose seats cap the users of a domain.
pub const CLOUD_IDENTITY_FREE: (&str, &str) = ("101001", "1010010001");

/// A child process, killed when dropped.
pub struct Process(pub Child);

impl Process {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Whether the process exited (and how), without waiting.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.0.try_wait().ok().flatten()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The target directory of the workspace.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// The release build of the service (`SUPPORT_ACCESS_BINARY` names another build), refused when
/// missing: benchmarks measure what is deployed.
pub fn release_service_binary() -> anyhow::Result<PathBuf> {
    let path = match std::env::var_os("SUPPORT_ACCESS_BINARY") {
        Some(path) => PathBuf::from(path),
        None => target_dir().join("release").join("support-access"),
    };
    if !path.exists() {
        bail!(
            "{} is missing: build it with `cargo build --release -p support-access-server --bin support-access`",
            path.display()
        );
    }
    Ok(path)
}

/// Starts `binary serve --listen 127.0.0.1:PORT ARGS…` with the production default log level,
/// no trace export, `env` and its stderr in `log`, and waits up to `start_up` for it to say
/// SERVING. Returns the process and its address.
pub async fn start_service(
    binary: &Path,
    args: &[String],
    env: &[(&str, &str)],
    log: &Path,
    start_up: Duration,
) -> anyhow::Result<(Process, String)> {
    let address = format!("127.0.0.1:{}", crate::free_port());
    let child = Command::new(binary)
        .arg("serve")
        .args(["--listen", &address])
        .args(args)
        .envs(env.iter().copied())
        // The production default log level, whatever the caller's environment says.
        .env_remove("RUST_LOG")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?)
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let mut process = Process(child);
    let deadline = Instant::now() + start_up;
    loop {
        if let Some(status) = process.exited() {
            bail!(
                "support-access exited during start-up ({status}); see {}",
                log.display()
            );
        }
        if let Ok(channel) = connect(&address).await
            && let Ok(response) = HealthClient::new(channel)
                .check(HealthCheckRequest::default())
                .await
            && response.into_inner().status
                == tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        {
            return Ok((process, address));
        }
        if Instant::now() > deadline {
            bail!(
                "support-access did not become SERVING within {start_up:?}; see {}",
                log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A channel to `address` (`127.0.0.1:PORT`).
pub async fn connect(address: &str) -> anyhow::Result<Channel> {
    Ok(Channel::from_shared(format!("http://{address}"))?
        .connect()
        .await?)
}

/// A request carrying the bench principal's bearer token.
pub fn authed<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    request
}

/// Resident set size of a process, and its peak so far (`VmHWM`), in KiB; zeros when the
/// process is gone.
pub fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// KiB as MiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The load average over 1, 5 and 15 minutes, as `/proc/loadavg` writes them.
pub fn load_average() -> (String, String, String) {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut fields = text.split_whitespace().map(str::to_owned);
    (
        fields.next().unwrap_or_default(),
        fields.next().unwrap_or_default(),
        fields.next().unwrap_or_default(),
    )
}

/// The `q` quantile (0 < q ≤ 1) of `sorted` (ascending): the smallest value at or above that
/// share of the samples; `None` when there is none.
pub fn quantile(sorted: &[Duration], q: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let index = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(sorted[index])
}

/// Whether a ledger outcome is Google refusing a call for a quota.
pub fn is_quota_error(outcome: &str) -> bool {
    [
        "RateLimitExceeded",
        "rateLimitExceeded",
        "quotaExceeded",
        " 429",
    ]
    .iter()
    .any(|marker| outcome.contains(marker))
}

/// The ledger's calls to Google's APIs (token requests left out).
pub fn api_calls(ledger: &[LedgerEntry]) -> impl Iterator<Item = &LedgerEntry> {
    ledger.iter().filter(|e| {
        e.kind == support_access_emulator::EntryKind::Call && e.method != "oauth2.token"
    })
}

/// How many users hold Cloud Identity Free in a customer, from the emulator's state.
pub fn cloud_identity_holders(state: &serde_json::Value) -> usize {
    state["licenseAssignments"]
        .as_array()
        .map(|licenses| {
            licenses
                .iter()
                .filter(|l| {
                    l["productId"] == CLOUD_IDENTITY_FREE.0 && l["skuId"] == CLOUD_IDENTITY_FREE.1
                })
                .count()
        })
        .unwrap_or(0)
}

/// The shortest time in which any correct provisioning of `accounts_per_domain` accounts in
/// each of `domains` domains can finish under Google's quotas and a latency per call: the quota
/// bound T*. It is a critical path of two parts, and every simplification below makes it
/// shorter, so it stays a lower bound.
///
/// 1. Creating. Every account needs a `users.insert`, and Google takes no more than 10
///    user creations per domain per second, so the last of N creations starts at least
///    ceil(N / 10) - 1 s after the first and is answered one latency later. Each account also
///    needs a `roleAssignments.insert`: 2N Directory calls at 2,400 per minute per admin.
///    Domains create in parallel, each under its own admin (how many domains a deployment works
///    on at once is its own choice, not a quota). The org unit, the role and the first
///    observation before the first creation are left out.
/// 2. Checking. A check that reads Google before the last account of a domain exists cannot
///    see that account, so at least these reads come after it: every page of the domain's
///    Cloud Identity Free assignments (to see the new license; Google's order of the list is
///    unspecified, so no page can be skipped) and the page of its paid Workspace licenses
///    (which automatic licensing may have added to any new account). Licensing allows 1 query
///    per second for the whole project, with no burst, and no domain's last creation comes
///    before part 1 is over, so the R reads of all domains take at least R - 1 s after it,
///    plus one latency.
///
/// T* = max(ceil(N / 10) - 1 + latency, 2N / 40) + (R - 1) / 1 QPS + latency, where
/// R = sum over domains of (ceil(holders / 100) + 1).
///
/// On the emulator's realistic profile part 1 also waits for role assignment to know each
/// account. Take the delays a run drew, d_k for the k-th user created: with D domains creating
/// at 10 per second each, the k-th creation starts no earlier than floor(k / 10D) s, so that
/// user's role cannot land before floor(k / 10D) + latency + d_k + latency, and the checking
/// reads follow the last of them: part 1 becomes the larger of itself and the maximum of that
/// over k.
pub struct QuotaBound {
    /// Domains provisioned.
    pub domains: usize,
    /// Accounts provisioned in each.
    pub accounts_per_domain: usize,
    /// The emulator's latency per call.
    pub latency: Duration,
    /// Users holding Cloud Identity Free in each domain at the end (the provisioned accounts
    /// and whoever held it before): the length of the list the final check reads.
    pub cloud_identity_holders: Vec<usize>,
    /// On the realistic profile, the delay before role assignment knew each user the emulator
    /// created, in creation order; empty otherwise.
    pub propagation: Vec<Duration>,
}

impl QuotaBound {
    /// T*, in seconds.
    pub fn bound_seconds(&self) -> f64 {
        self.creating_seconds().max(self.propagated_seconds()) + self.checking_seconds()
    }

    /// Part 1 without propagation: the creations of one domain.
    pub fn creating_seconds(&self) -> f64 {
        let n = self.accounts_per_domain;
        let creations = (n.div_ceil(USER_CREATES_PER_DOMAIN_PER_SECOND).max(1) - 1) as f64
            + self.latency.as_secs_f64();
        creations.max(2.0 * n as f64 / DIRECTORY_PER_ADMIN_PER_SECOND)
    }

    /// When the last account's role can have landed, given the drawn delays (0 on the default
    /// profile). Delays are in global creation order; with D domains creating in parallel, the
    /// k-th creation overall is at best the (k / D)-th of its domain.
    pub fn propagated_seconds(&self) -> f64 {
        let latency = self.latency.as_secs_f64();
        self.propagation
            .iter()
            .enumerate()
            .map(|(k, delay)| {
                let slot = (k / self.domains / USER_CREATES_PER_DOMAIN_PER_SECOND) as f64;
                slot + latency + delay.as_secs_f64() + latency
            })
            .fold(0.0, f64::max)
    }

    /// Licensing reads that must follow the last creation, over all domains.
    pub fn checking_reads(&self) -> usize {
        self.cloud_identity_holders
            .iter()
            .map(|holders| holders.div_ceil(LICENSE_PAGE) + 1)
            .sum()
    }

    /// Part 2.
    pub fn checking_seconds(&self) -> f64 {
        (self.checking_reads().max(1) - 1) as f64 / LICENSING_PER_PROJECT_PER_SECOND
            + self.latency.as_secs_f64()
    }

    /// Accounts per second at T*.
    pub fn bound_throughput(&self) -> f64 {
        (self.domains * self.accounts_per_domain) as f64 / self.bound_seconds()
    }

    /// The quotas' steady-state ceiling, for comparison: what each account costs on each quota
    /// (one creation, two Directory calls, 1/100 of a Licensing page) with nothing that has to
    /// wait for anything else. No provisioning that checks its work reaches it: the checking
    /// reads of part 2 cannot overlap the creations they check.
    pub fn steady_state_seconds(&self) -> f64 {
        let n = self.accounts_per_domain as f64;
        let per_domain = (n / USER_CREATES_PER_DOMAIN_PER_SECOND as f64)
            .max(2.0 * n / DIRECTORY_PER_ADMIN_PER_SECOND);
        let licensing = (self.domains * self.accounts_per_domain.div_ceil(LICENSE_PAGE)) as f64
            / LICENSING_PER_PROJECT_PER_SECOND;
        per_domain.max(licensing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_of_one_domain_of_300_accounts() {
        let bound = QuotaBound {
            domains: 1,
            accounts_per_domain: 300,
            latency: Duration::from_millis(100),
            cloud_identity_holders: vec![301],
            propagation: Vec::new(),
        };
        // 29 s + 100 ms of creations; 4 + 1 Licensing pages after them.
        assert!((bound.creating_seconds() - 29.1).abs() < 1e-9);
        assert_eq!(bound.checking_reads(), 5);
        assert!((bound.bound_seconds() - (29.1 + 4.0 + 0.1)).abs() < 1e-9);
    }

    #[test]
    fn quantiles_take_the_sample_at_or_above_the_share() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&samples, 0.5), Some(Duration::from_millis(50)));
        assert_eq!(quantile(&samples, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
