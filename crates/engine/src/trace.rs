//! Traces across the database: an operation keeps the W3C `traceparent` of the RPC that started
//! it ([`current_trace_parent`]), and every claim on its domains opens a span under that parent
//! ([`claim_span`]). So the RPC, the engine's work minutes later on another replica, its Google
//! calls and its log lines share one trace id. Log lines show the id through the span's
//! `trace_id` field (the log formatter prints the fields of the spans a line is in).
//!
//! Without an OpenTelemetry layer (no exporter configured) spans have no trace context: nothing
//! is stored and no id is printed.

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The trace id of `span` as logs show it (32 hex digits), when OpenTelemetry traces it.
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let id = context.span().span_context().trace_id();
    (id != TraceId::INVALID).then(|| id.to_string())
}

/// The W3C `traceparent` of the current span (`00-{trace id}-{span id}-{flags}`), when it is
/// traced: what an operation stores so that its work joins the trace of the request.
pub fn current_trace_parent() -> Option<String> {
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    span_context.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            span_context.trace_id(),
            span_context.span_id(),
            span_context.trace_flags().to_u8()
        )
    })
}

/// The remote span context a `traceparent` names; `None` for anything that is not version 00
/// with a valid trace and span id.
fn parse_trace_parent(header: &str) -> Option<SpanContext> {
    let mut parts = header.split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version != "00" || parts.next().is_some() || trace.len() != 32 || span.len() != 16 {
        return None;
    }
    let context = SpanContext::new(
        TraceId::from_hex(trace).ok()?,
        SpanId::from_hex(span).ok()?,
        TraceFlags::new(u8::from_str_radix(flags, 16).ok()?),
        true,
        TraceState::default(),
    );
    context.is_valid().then_some(context)
}

/// The span of one claim: `domains` of `operation`, a child of the request that started the
/// operation when `trace_parent` names it (a new trace otherwise), with its `trace_id` recorded
/// for the log lines inside it.
pub fn claim_span(
    operation: impl std::fmt::Display,
    domains: &str,
    trace_parent: Option<&str>,
) -> tracing::Span {
    let span = tracing::info_span!(
        "claim",
        otel.name = "engine.claim",
        otel.kind = "internal",
        operation = %operation,
        domains = %domains,
        trace_id = tracing::field::Empty,
    );
    if let Some(parent) = trace_parent.and_then(parse_trace_parent) {
        // Before anything reads the span's context: the parent is fixed when it starts.
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(parent));
    }
    if let Some(id) = trace_id(&span) {
        span.record("trace_id", tracing::field::display(id));
    }
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_names_its_trace_and_span() {
        let context =
            parse_trace_parent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").unwrap();
        assert_eq!(
            context.trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(context.span_id().to_string(), "b7ad6b7169203331");
        assert!(context.is_sampled());
        assert!(context.is_remote());
    }

    #[test]
    fn malformed_or_invalid_traceparents_name_nothing() {
        for header in [
            "",
            "00-0af7651916cd43dd8448eb211c80319c",
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
            "00-zzf7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ] {
            assert!(parse_trace_parent(header).is_none(), "{header:?}");
        }
    }
}
