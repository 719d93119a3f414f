//! Secrets never reach a log line or an error: canary markers are placed in the service-account
//! key (its id, text before the PEM, and the PEM body itself), in a user's password, and in every
//! access token (the emulator's tokens all start with `ya29.emu-`). A run with successes,
//! retries, token failures, a 401 refresh, permission and quota errors is captured at TRACE
//! level — our spans and events, and `log` records of dependencies (yup-oauth2, reqwest) bridged
//! into tracing — with the filter directives this crate asks for. No canary may appear in the
//! capture, nor in any error text or `Debug` output. A control run without the directive shows
//! the capture would have caught yup-oauth2's token logging.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{Harness, RESELLER_ONE, RESELLER_TWO, new_user, test_config};
use support_access_emulator::{FaultAction, FaultRule, QuotaResponse, Seed};
use support_access_google::{
    DomainSpec, ErrorClass, GoogleClient, LOG_FILTER_DIRECTIVES, SecretString,
    ServiceAccountCredential,
};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::util::SubscriberInitExt;

const KEY_CANARY: &str = "CANARY-KEY-b7e1c0";
const PASSWORD_CANARY: &str = "CANARY-PASSWORD-5d2f";
const TOKEN_MARKER: &str = "ya29.emu-";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn subscriber(capture: &Capture, filter: EnvFilter) -> impl tracing::Subscriber + Send + Sync {
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish()
}

/// The demo key with canaries: in `private_key_id`, before the PEM, and the PEM body itself.
fn canary_key(key_json: &str) -> (String, Vec<String>) {
    let mut key: serde_json::Value = serde_json::from_str(key_json).unwrap();
    let pem = key["private_key"].as_str().unwrap().to_owned();
    let body_line = pem.lines().nth(1).unwrap().to_owned();
    key["private_key_id"] = KEY_CANARY.into();
    key["private_key"] = format!("{KEY_CANARY}\n{pem}").into();
    (key.to_string(), vec![KEY_CANARY.to_owned(), body_line])
}

fn fault(method: &str, times: u32, code: u16, reason: &str) -> FaultRule {
    FaultRule {
        method: method.into(),
        customer: None,
        probability: 1.0,
        skip: 0,
        times: Some(times),
        action: FaultAction::Error {
            code,
            reason: reason.into(),
            message: "injected".into(),
        },
    }
}

#[test]
fn no_secret_reaches_logs_errors_or_debug_output() {
    let capture = Capture::default();
    let directives = std::iter::once("trace")
        .chain(LOG_FILTER_DIRECTIVES.iter().copied())
        .collect::<Vec<_>>()
        .join(",");
    // The emulator is test infrastructure: its own logs are not under test here.
    let filter = EnvFilter::new(format!("{directives},support_access_emulator=off"));
    // Also installs the `log` → `tracing` bridge (tracing-subscriber's `tracing-log` feature).
    subscriber(&capture, filter).try_init().unwrap();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut texts: Vec<String> = Vec::new();
    let canaries = runtime.block_on(async {
        let mut seed = Seed::demo();
        seed.customers[1].delegations[0].scopes =
            vec!["https://www.googleapis.com/auth/admin.directory.user".into()];
        let h = Harness::start(seed, |c| c.retry.max_attempts = 3).await;
        let (key_json, mut canaries) = canary_key(
            &h.emulator
                .service_account_key_json(common::SERVICE_ACCOUNT)
                .unwrap(),
        );
        let credential = Arc::new(ServiceAccountCredential::from_json(&key_json).unwrap());
        texts.push(format!("{credential:?}"));
        let domain = |domain: &str, admin: &str| DomainSpec {
            domain: domain.into(),
            delegated_admin: admin.into(),
            credential: credential.clone(),
            customer_id: None,
        };
        let one = h
            .client
            .domain(domain(RESELLER_ONE, "admin@reseller-one.example"))
            .await
            .unwrap();
        texts.push(format!("{one:?} {:?}", h.client));

        // Successes, with a password.
        let mut user = new_user("canary", RESELLER_ONE);
        user.password = SecretString::new(PASSWORD_CANARY.into());
        texts.push(format!(
            "{user:?} {:?}",
            support_access_google::request::users_insert(&user)
        ));
        one.users_insert(&user).await.unwrap();
        one.users_get("canary@reseller-one.example").await.unwrap();
        one.license_assignments_list_for_product("Google-Apps")
            .collect_all()
            .await
            .unwrap();

        // Retries, a 401 refresh, a final transient error, quota errors.
        h.emulator.update_knobs(|k| {
            k.faults = vec![
                fault("directory.users.get", 1, 503, "backendError"),
                fault("directory.roles.list", 1, 401, "authError"),
                fault("directory.privileges.list", 10, 500, "backendError"),
            ];
            k.quotas.enabled = true;
            k.quotas.reseller_per_second = 0.1;
            k.quotas.reseller_burst = 1;
            k.quotas.reseller_response = QuotaResponse::TooManyRequests;
        });
        one.users_get("admin@reseller-one.example").await.unwrap();
        one.roles_list().collect_all().await.unwrap();
        let errors = vec![
            one.privileges_list().await.unwrap_err(),
            {
                one.reseller_customers_get("acme.example").await.unwrap();
                let quick = GoogleClient::new({
                    let mut c = test_config(&url::Url::parse(&h.emulator.base_url()).unwrap());
                    c.retry.max_attempts = 1;
                    c
                })
                .unwrap();
                let again = quick
                    .domain(domain(RESELLER_ONE, "admin@reseller-one.example"))
                    .await
                    .unwrap();
                again
                    .reseller_customers_get("acme.example")
                    .await
                    .unwrap_err()
            },
            // Token failures: delegation missing for a scope, unknown admin.
            h.client
                .domain(domain(RESELLER_TWO, "admin@reseller-two.example"))
                .await
                .unwrap()
                .roles_list()
                .collect_all()
                .await
                .unwrap_err(),
            h.client
                .domain(domain(RESELLER_TWO, "ghost@reseller-two.example"))
                .await
                .unwrap()
                .users_get("x")
                .await
                .unwrap_err(),
            // Permission denied, already exists.
            h.client
                .domain(domain(RESELLER_ONE, "sales@reseller-one.example"))
                .await
                .unwrap()
                .users_get("admin@reseller-one.example")
                .await
                .unwrap_err(),
            one.users_insert(&user).await.unwrap_err(),
            // An unusable key.
            ServiceAccountCredential::from_json(
                &key_json.replace("PRIVATE KEY-----\\n", "PRIVATE KEY-----\\nAAAA"),
            )
            .map_or_else(
                |e| e,
                |c| {
                    futures::executor::block_on(async {
                        h.client
                            .domain(DomainSpec {
                                credential: Arc::new(c),
                                ..domain(RESELLER_ONE, "admin@reseller-one.example")
                            })
                            .await
                    })
                    .unwrap_err()
                },
            ),
        ];
        let classes: Vec<&ErrorClass> = errors.iter().map(|e| e.class()).collect();
        assert!(matches!(classes[0], ErrorClass::Transient), "{classes:?}");
        assert!(
            matches!(classes[1], ErrorClass::RateLimited { .. }),
            "{classes:?}"
        );
        assert!(
            matches!(classes[2], ErrorClass::Auth(_)) && matches!(classes[3], ErrorClass::Auth(_)),
            "{classes:?}"
        );
        assert!(
            matches!(classes[4], ErrorClass::PermissionDenied)
                && matches!(classes[5], ErrorClass::AlreadyExists),
            "{classes:?}"
        );
        assert!(matches!(classes[6], ErrorClass::Auth(_)), "{classes:?}");
        for e in &errors {
            texts.push(format!("{e} {e:?}"));
        }
        texts.push(format!("{:?}", h.client.metrics().snapshot()));
        canaries.push(PASSWORD_CANARY.to_owned());
        canaries.push(TOKEN_MARKER.to_owned());
        assert!(h.outcomes("oauth2.token").len() >= 5, "tokens were issued");
        canaries
    });

    let logs = capture.text();
    // Positive controls: the capture holds our spans, retries and errors.
    for expected in [
        "google.call",
        "retrying google call",
        "google call failed",
        "directory.privileges.list",
    ] {
        assert!(
            logs.contains(expected),
            "capture lacks {expected:?}:\n{logs}"
        );
    }
    for canary in &canaries {
        assert!(
            !logs.contains(canary.as_str()),
            "{canary:?} leaked into the logs:\n{}",
            leak_context(&logs, canary)
        );
        for text in &texts {
            assert!(
                !text.contains(canary.as_str()),
                "{canary:?} leaked into an error or Debug output:\n{text}"
            );
        }
    }
    if std::env::var_os("CANARY_DUMP").is_some() {
        eprintln!("{logs}");
    }
    eprintln!(
        "captured {} log lines, {} error/Debug texts, no canary",
        logs.lines().count(),
        texts.len()
    );

    // Control: without LOG_FILTER_DIRECTIVES, yup-oauth2's debug logging carries the token, and
    // this capture would have caught it.
    let leaky = Capture::default();
    tracing::subscriber::with_default(
        subscriber(&leaky, EnvFilter::new("yup_oauth2=trace")),
        || {
            runtime.block_on(async {
                let h = Harness::start(Seed::demo(), |_| {}).await;
                let google = h.domain(RESELLER_ONE).await;
                google
                    .users_get("admin@reseller-one.example")
                    .await
                    .unwrap();
            })
        },
    );
    assert!(
        leaky.text().contains(TOKEN_MARKER),
        "the control run should show yup-oauth2 logging the token"
    );
}

fn leak_context(logs: &str, canary: &str) -> String {
    logs.lines()
        .filter(|l| l.contains(canary))
        .take(5)
        .collect::<Vec<_>>()
        .join("\n")
}
