//! Logging, tracing and metrics: `tracing` to stderr (text or JSON, filtered by `RUST_LOG`), and
//! OpenTelemetry OTLP export of spans and metrics when `OTEL_EXPORTER_OTLP_ENDPOINT` is set
//! (metrics every `OTEL_METRIC_EXPORT_INTERVAL` milliseconds, 60 s by default). Log lines inside
//! an RPC or a claim of the engine carry the span's `trace_id`, so a log line leads to its trace;
//! an operation's claims join the trace of the RPC that started it (see the engine's `trace`).
//! Text lines are coloured only when stderr is a terminal.

use std::io::IsTerminal as _;

use opentelemetry::trace::TracerProvider as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

/// Flushes exported spans and metrics when dropped.
pub struct TelemetryGuard {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
    meter_provider: Option<opentelemetry_sdk::metrics::SdkMeterProvider>,
}

impl TelemetryGuard {
    /// True when spans and metrics are exported (an OTLP endpoint is configured).
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.meter_provider.take() {
            let _ = provider.shutdown();
        }
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

fn resource() -> opentelemetry_sdk::Resource {
    opentelemetry_sdk::Resource::builder()
        .with_service_name("support-access")
        .build()
}

/// `filter` with the directives that keep secrets out: yup-oauth2 logs token responses (with
/// the access token) at debug level, and they must never get through, whatever RUST_LOG says.
fn keeping_secrets(mut filter: EnvFilter) -> EnvFilter {
    for directive in support_access_google::LOG_FILTER_DIRECTIVES {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// Installs the global subscriber. Keep the guard alive for the life of the process.
pub fn init(format: LogFormat) -> anyhow::Result<TelemetryGuard> {
    let filter = || {
        keeping_secrets(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
    };
    let fmt_layer = match format {
        // Colours only for a person at a terminal: in a file or a collector they are noise,
        // and formatting them cost ~6 % of a trivial RPC's CPU (BENCHMARKS.md, "Read path").
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .with_filter(filter())
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_filter(filter())
            .boxed(),
    };
    let exporting = std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some();
    let provider = if exporting {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()?;
        Some(
            opentelemetry_sdk::trace::SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(resource())
                .build(),
        )
    } else {
        None
    };
    let meter_provider = if exporting {
        let exporter = opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .build()?;
        let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
            .with_periodic_exporter(exporter)
            .with_resource(resource())
            .build();
        opentelemetry::global::set_meter_provider(provider.clone());
        Some(provider)
    } else {
        None
    };
    // Spans are exported at `info` whatever RUST_LOG says about log lines: quiet logs must not
    // blind the traces.
    let otel_layer = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("support-access"))
            .with_filter(keeping_secrets(EnvFilter::new("info")))
    });
    tracing_subscriber::registry()
        .with(fmt_layer)
        .with(otel_layer)
        .try_init()?;
    Ok(TelemetryGuard {
        provider,
        meter_provider,
    })
}
