//! Metrics, exported through OpenTelemetry (OTLP) next to the traces: RPC latency by method and
//! code (with one span per RPC whose trace id the logs carry), Google calls by method and
//! outcome, retries, quota waits and quota refusals, and the gauges only Postgres knows (steps of
//! live work by state, open drift and reconcile lag per domain). The engine records its own
//! instruments (operation durations, lease takeovers) on the same global meter.
//!
//! Names follow OpenTelemetry's semantic conventions where one exists (`rpc.server.duration`);
//! the service's own are under `support_access.`.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, Meter};
use support_access_google::GoogleMetrics;
use support_access_store::Store;
use support_access_store::gauges::{self, GaugeReading};
use tracing::Instrument;

/// How often the database-backed gauges are read: as often as metrics are exported
/// (`OTEL_METRIC_EXPORT_INTERVAL`, milliseconds, 60 s by default), at least every second.
pub fn gauge_refresh() -> Duration {
    let millis = std::env::var("OTEL_METRIC_EXPORT_INTERVAL")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(60_000);
    Duration::from_millis(millis.max(1000))
}

/// The meter every instrument of the service is created on.
pub fn meter() -> Meter {
    opentelemetry::global::meter("support-access")
}

/// The tower layer that times every RPC and opens its span.
#[derive(Clone)]
pub struct RpcMetricsLayer {
    duration: Histogram<f64>,
}

impl RpcMetricsLayer {
    /// Instruments on the global meter.
    pub fn new() -> Self {
        Self {
            duration: meter()
                .f64_histogram("rpc.server.duration")
                .with_unit("ms")
                .with_description("Duration of inbound RPCs, by method and gRPC status code")
                .build(),
        }
    }
}

impl Default for RpcMetricsLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> tower::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics {
            inner,
            duration: self.duration.clone(),
        }
    }
}

/// See [`RpcMetricsLayer`].
#[derive(Clone)]
pub struct RpcMetrics<S> {
    inner: S,
    duration: Histogram<f64>,
}

/// The gRPC status code of a response: in the headers for a refusal (trailers-only response),
/// otherwise OK (unary handlers put their errors in the headers too).
fn grpc_code<B>(response: &http::Response<B>) -> i64 {
    response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The names of one RPC as its span and its `rpc.server.duration` points carry them.
struct RpcNames {
    /// `service/method`: the span's name.
    name: &'static str,
    service: &'static str,
    method: &'static str,
    /// `rpc.system`, `rpc.service` and `rpc.method`.
    attributes: [KeyValue; 3],
}

impl RpcNames {
    fn new(service: &'static str, method: &'static str, name: &'static str) -> RpcNames {
        RpcNames {
            name,
            service,
            method,
            attributes: [
                KeyValue::new("rpc.system", "grpc"),
                KeyValue::new("rpc.service", service),
                KeyValue::new("rpc.method", method),
            ],
        }
    }
}

/// The RPCs this server serves (its API, health and reflection), by request path, named once
/// per process: a call to one of them formats and allocates no name. The strings live as long as
/// the process, like the table.
static KNOWN_RPCS: LazyLock<HashMap<&'static str, RpcNames>> = LazyLock::new(|| {
    use prost::Message;
    let sets = [
        support_access_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ];
    let mut known = HashMap::new();
    for set in sets {
        let Ok(set) = prost_types::FileDescriptorSet::decode(set) else {
            continue;
        };
        for file in &set.file {
            for service in &file.service {
                for method in &service.method {
                    let path: &'static str = String::leak(format!(
                        "/{}.{}/{}",
                        file.package(),
                        service.name(),
                        method.name()
                    ));
                    let name = &path[1..];
                    let (service, method) = name.split_once('/').expect("service/method");
                    known.insert(path, RpcNames::new(service, method, name));
                }
            }
        }
    }
    known
});

/// The names of the RPC at `path`: from [`KNOWN_RPCS`], or made for this call (a path this
/// server does not serve, which the router answers UNIMPLEMENTED).
enum Names {
    Known(&'static RpcNames),
    Unknown { service: String, method: String },
}

impl Names {
    fn of(path: &str) -> Names {
        if let Some(known) = KNOWN_RPCS.get(path) {
            return Names::Known(known);
        }
        let (service, method) = path
            .trim_start_matches('/')
            .split_once('/')
            .map(|(s, m)| (s.to_owned(), m.to_owned()))
            .unwrap_or_else(|| (String::new(), path.to_owned()));
        Names::Unknown { service, method }
    }

    fn service(&self) -> &str {
        match self {
            Names::Known(known) => known.service,
            Names::Unknown { service, .. } => service,
        }
    }

    fn method(&self) -> &str {
        match self {
            Names::Known(known) => known.method,
            Names::Unknown { method, .. } => method,
        }
    }

    fn span(&self) -> tracing::Span {
        let unknown_name;
        let name = match self {
            Names::Known(known) => known.name,
            Names::Unknown { service, method } => {
                unknown_name = format!("{service}/{method}");
                &unknown_name
            }
        };
        tracing::info_span!(
            "rpc",
            otel.name = %name,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = %self.service(),
            rpc.method = %self.method(),
            rpc.grpc.status_code = tracing::field::Empty,
            trace_id = tracing::field::Empty,
        )
    }

    fn attributes(self, code: i64) -> [KeyValue; 4] {
        let code = KeyValue::new("rpc.grpc.status_code", code);
        match self {
            Names::Known(known) => {
                let [system, service, method] = known.attributes.clone();
                [system, service, method, code]
            }
            Names::Unknown { service, method } => [
                KeyValue::new("rpc.system", "grpc"),
                KeyValue::new("rpc.service", service),
                KeyValue::new("rpc.method", method),
                code,
            ],
        }
    }
}

impl<S, B, R> tower::Service<http::Request<B>> for RpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Send,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let names = Names::of(request.uri().path());
        let span = names.span();
        if let Some(id) = support_access_engine::trace::trace_id(&span) {
            span.record("trace_id", tracing::field::display(id));
        }
        let start = Instant::now();
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        let duration = self.duration.clone();
        Box::pin(
            async move {
                let result = future.await;
                let code = result.as_ref().map(grpc_code).unwrap_or(2);
                tracing::Span::current().record("rpc.grpc.status_code", code);
                duration.record(
                    start.elapsed().as_secs_f64() * 1000.0,
                    &names.attributes(code),
                );
                result
            }
            .instrument(span),
        )
    }
}

/// Registers the Google call counters (read from the adapter's own atomics at each export).
pub fn register_google(google: Arc<GoogleMetrics>) {
    let meter = meter();
    let calls = google.clone();
    meter
        .u64_observable_counter("support_access.google.calls")
        .with_description("Google API calls, by method and outcome (after retries)")
        .with_callback(move |observer| {
            for c in calls.snapshot().calls {
                observer.observe(
                    c.count,
                    &[
                        KeyValue::new("google.method", c.method.id()),
                        KeyValue::new("outcome", c.outcome),
                    ],
                );
            }
        })
        .build();
    let retries = google.clone();
    meter
        .u64_observable_counter("support_access.google.retries")
        .with_description("Retried Google API attempts, by method")
        .with_callback(move |observer| {
            for (method, count) in retries.snapshot().retries {
                observer.observe(count, &[KeyValue::new("google.method", method.id())]);
            }
        })
        .build();
    let waits = google.clone();
    meter
        .f64_observable_counter("support_access.google.quota.wait_time")
        .with_unit("s")
        .with_description("Time calls waited for client-side quota, by API")
        .with_callback(move |observer| {
            for q in waits.snapshot().quota {
                observer.observe(
                    q.waited.as_secs_f64(),
                    &[KeyValue::new("google.api", q.api.label())],
                );
            }
        })
        .build();
    meter
        .u64_observable_counter("support_access.google.quota.refusals")
        .with_description("Quota errors (429 and rate-limit 403) Google answered, by API")
        .with_callback(move |observer| {
            for q in google.snapshot().quota {
                observer.observe(q.penalties, &[KeyValue::new("google.api", q.api.label())]);
            }
        })
        .build();
}

/// Registers the gauges read from Postgres, and starts the task that refreshes them every
/// `every` (the callbacks only read the last reading: an export never waits on the database).
pub fn register_database_gauges(
    store: Arc<tokio::sync::OnceCell<Store>>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    let reading = Arc::new(Mutex::new(GaugeReading::default()));
    let meter = meter();
    let steps = reading.clone();
    meter
        .i64_observable_gauge("support_access.steps.live")
        .with_description("Steps of operations still being worked on, by state")
        .with_callback(move |observer| {
            for (state, count) in &steps.lock().expect("gauge reading").live_steps_by_state {
                observer.observe(*count, &[KeyValue::new("state", state.clone())]);
            }
        })
        .build();
    let drift = reading.clone();
    meter
        .i64_observable_gauge("support_access.drift.open")
        .with_description("Open drift events, by domain")
        .with_callback(move |observer| {
            for (domain, count) in &drift.lock().expect("gauge reading").open_drift_by_domain {
                observer.observe(*count, &[KeyValue::new("domain", domain.clone())]);
            }
        })
        .build();
    let lag = reading.clone();
    meter
        .f64_observable_gauge("support_access.reconcile.lag")
        .with_unit("s")
        .with_description("How far past its due time each domain's reconciliation is")
        .with_callback(move |observer| {
            for (domain, seconds) in &lag.lock().expect("gauge reading").reconcile_lag_by_domain {
                observer.observe(*seconds, &[KeyValue::new("domain", domain.clone())]);
            }
        })
        .build();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            // Not connected yet: nothing to read.
            let Some(store) = store.get() else { continue };
            let fresh = match store.pool().acquire().await {
                Ok(mut conn) => gauges::read(&mut conn).await,
                Err(error) => Err(support_access_store::StoreError::Database(error)),
            };
            match fresh {
                Ok(fresh) => *reading.lock().expect("gauge reading") = fresh,
                Err(error) => tracing::debug!(error = %error, "gauges not refreshed"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_rpc_has_its_names_ready() {
        for (path, service, method) in [
            (
                "/grpc.health.v1.Health/Check",
                "grpc.health.v1.Health",
                "Check",
            ),
            (
                "/supportaccess.v1.SupportAccessService/GetDomain",
                "supportaccess.v1.SupportAccessService",
                "GetDomain",
            ),
            (
                "/google.longrunning.Operations/GetOperation",
                "google.longrunning.Operations",
                "GetOperation",
            ),
            (
                "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                "grpc.reflection.v1.ServerReflection",
                "ServerReflectionInfo",
            ),
        ] {
            let Names::Known(names) = Names::of(path) else {
                panic!("{path} is not a known RPC");
            };
            assert_eq!(names.name, &path[1..]);
            assert_eq!((names.service, names.method), (service, method));
            let attributes = Names::of(path).attributes(0);
            let values: Vec<String> = attributes.iter().map(|kv| kv.value.to_string()).collect();
            assert_eq!(values, ["grpc", service, method, "0"]);
        }
    }

    #[test]
    fn an_unknown_path_is_named_from_the_path() {
        let names = Names::of("/no.Such/Method");
        assert!(matches!(names, Names::Unknown { .. }));
        assert_eq!((names.service(), names.method()), ("no.Such", "Method"));
        let values: Vec<String> = names
            .attributes(12)
            .iter()
            .map(|kv| kv.value.to_string())
            .collect();
        assert_eq!(values, ["grpc", "no.Such", "Method", "12"]);
    }
}
