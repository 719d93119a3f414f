//! What an OpenTelemetry collector receives from the service: the real binary exports to a real
//! OTLP receiver (a tonic server on `opentelemetry-proto`'s collector services), and one
//! provisioning must show up as RPC spans and metrics with the documented names and attributes:
//! RPC latency by method and code, Google calls by method and outcome, reconcile lag per domain;
//! the engine's work on the operation in the trace of the RPC that started it, and its log lines
//! (written to a file, without colour codes) with that trace id.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::trace::v1::Span;
use support_access_e2e::Service;
use support_access_proto::google::longrunning::WaitOperationRequest;
use support_access_proto::v1;

/// Attributes as (key, value) text pairs.
type Attributes = Vec<(String, String)>;

/// A named check of what the receiver got.
type Expectation = (&'static str, Box<dyn Fn(&Received) -> bool>);

/// Everything the receiver was sent.
#[derive(Default, Clone)]
struct Received {
    spans: Arc<Mutex<Vec<Span>>>,
    /// (metric name, data point attributes) pairs.
    points: Arc<Mutex<Vec<(String, Attributes)>>>,
}

fn text(value: &Option<AnyValue>) -> String {
    match value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        _ => String::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn pairs(attributes: &[KeyValue]) -> Attributes {
    attributes
        .iter()
        .map(|kv| (kv.key.clone(), text(&kv.value)))
        .collect()
}

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let mut points = self.points.lock().unwrap();
        for resource in request.into_inner().resource_metrics {
            for scope in resource.scope_metrics {
                for metric in scope.metrics {
                    let attributes: Vec<Vec<KeyValue>> = match metric.data {
                        Some(Data::Sum(s)) => {
                            s.data_points.into_iter().map(|p| p.attributes).collect()
                        }
                        Some(Data::Gauge(g)) => {
                            g.data_points.into_iter().map(|p| p.attributes).collect()
                        }
                        Some(Data::Histogram(h)) => {
                            h.data_points.into_iter().map(|p| p.attributes).collect()
                        }
                        _ => Vec::new(),
                    };
                    for a in attributes {
                        points.push((metric.name.clone(), pairs(&a)));
                    }
                }
            }
        }
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

impl Received {
    fn has_point(&self, name: &str, wanted: &[(&str, &str)]) -> bool {
        self.points.lock().unwrap().iter().any(|(n, attributes)| {
            n == name
                && wanted
                    .iter()
                    .all(|(k, v)| attributes.iter().any(|(ak, av)| ak == k && av == v))
        })
    }

    fn has_span(&self, name: &str, wanted: &[(&str, &str)]) -> bool {
        self.spans.lock().unwrap().iter().any(|s| {
            let attributes = pairs(&s.attributes);
            s.name == name
                && wanted
                    .iter()
                    .all(|(k, v)| attributes.iter().any(|(ak, av)| ak == k && av == v))
        })
    }

    /// The trace id (hex) of the first span named `name`.
    fn trace_of(&self, name: &str) -> Option<String> {
        self.spans
            .lock()
            .unwrap()
            .iter()
            .find(|s| s.name == name)
            .map(|s| hex(&s.trace_id))
    }

    /// The (name, attributes) of every span of trace `trace` (hex).
    fn spans_in(&self, trace: &str) -> Vec<(String, Attributes)> {
        self.spans
            .lock()
            .unwrap()
            .iter()
            .filter(|s| hex(&s.trace_id) == trace)
            .map(|s| (s.name.clone(), pairs(&s.attributes)))
            .collect()
    }

    fn summary(&self) -> String {
        let metrics: BTreeSet<String> = self
            .points
            .lock()
            .unwrap()
            .iter()
            .map(|(n, a)| format!("{n} {a:?}"))
            .collect();
        let spans: BTreeSet<String> = self
            .spans
            .lock()
            .unwrap()
            .iter()
            .map(|s| format!("{} {:?}", s.name, pairs(&s.attributes)))
            .collect();
        format!("metrics:\n{metrics:#?}\nspans:\n{spans:#?}")
    }
}

#[tokio::test]
async fn one_provisioning_arrives_as_spans_and_metrics_at_an_otlp_receiver() {
    let received = Received::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let receiver = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(received.clone()))
            .add_service(MetricsServiceServer::new(received.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let database = format!("sa_e2e_{}", uuid::Uuid::new_v4().simple());
    let log_dir = tempfile::tempdir().unwrap();
    let log_path = log_dir.path().join("support-access.log");
    let service = Service::start_logging_to(
        &database,
        &["--demo", "--insecure-dev-mode"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_METRIC_EXPORT_INTERVAL", "1000"),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
            ("RUST_LOG", "info"),
        ],
        &log_path,
    )
    .await
    .unwrap();
    let mut api = service.client().await.unwrap();
    let mut ops = service.operations().await.unwrap();
    api.create_domain(v1::CreateDomainRequest {
        domain: Some(v1::Domain {
            domain_name: "reseller-two.example".into(),
            credential: "default".into(),
            delegated_admin: "admin@reseller-two.example".into(),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    // A refused request: its code must show in the metrics too.
    let refused = api
        .create_domain(v1::CreateDomainRequest {
            domain: Some(v1::Domain {
                domain_name: "gmail.com".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    api.create_staff_member(v1::CreateStaffMemberRequest {
        staff_member: Some(v1::StaffMember {
            username: "ana.silva".into(),
            given_name: "Ana".into(),
            family_name: "Silva".into(),
            workspace_email: "ana@partner.example".into(),
            ..Default::default()
        }),
        staff_member_id: "ana".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let operation = api
        .provision_support_access(v1::ProvisionSupportAccessRequest::default())
        .await
        .unwrap()
        .into_inner();
    let done = ops
        .wait_operation(WaitOperationRequest {
            name: operation.name.clone(),
            timeout: Some(prost_types::Duration {
                seconds: 30,
                nanos: 0,
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(done.done, "{done:?}");

    let svc = "supportaccess.v1.SupportAccessService";
    let expectations: Vec<Expectation> = vec![
        (
            "a span per RPC, named after it, with the gRPC status code",
            Box::new(move |r| {
                r.has_span(
                    &format!("{svc}/ProvisionSupportAccess"),
                    &[
                        ("rpc.system", "grpc"),
                        ("rpc.service", svc),
                        ("rpc.method", "ProvisionSupportAccess"),
                        ("rpc.grpc.status_code", "0"),
                    ],
                )
            }),
        ),
        (
            "RPC latency of a successful call, by method and code",
            Box::new(move |r| {
                r.has_point(
                    "rpc.server.duration",
                    &[
                        ("rpc.service", svc),
                        ("rpc.method", "CreateDomain"),
                        ("rpc.grpc.status_code", "0"),
                    ],
                )
            }),
        ),
        (
            "RPC latency of a refused call carries INVALID_ARGUMENT (3)",
            Box::new(|r| {
                r.has_point(
                    "rpc.server.duration",
                    &[
                        ("rpc.method", "CreateDomain"),
                        ("rpc.grpc.status_code", "3"),
                    ],
                )
            }),
        ),
        (
            "Google calls by method and outcome",
            Box::new(|r| {
                r.has_point(
                    "support_access.google.calls",
                    &[
                        ("google.method", "directory.users.insert"),
                        ("outcome", "ok"),
                    ],
                )
            }),
        ),
        (
            "the operation's duration, by kind and final state",
            Box::new(|r| {
                r.has_point(
                    "support_access.operation.duration",
                    &[("kind", "PROVISION"), ("state", "SUCCEEDED")],
                )
            }),
        ),
        (
            "the engine's claim on the domain joins the trace of the RPC that started the operation",
            Box::new(|r| {
                let provision =
                    r.trace_of("supportaccess.v1.SupportAccessService/ProvisionSupportAccess");
                provision.is_some_and(|trace| {
                    r.spans_in(&trace).iter().any(|(name, attributes)| {
                        name == "engine.claim"
                            && attributes
                                .iter()
                                .any(|(k, v)| k == "domains" && v == "reseller-two.example")
                    })
                })
            }),
        ),
        (
            "the claim's Google calls are in that trace too",
            Box::new(|r| {
                let provision =
                    r.trace_of("supportaccess.v1.SupportAccessService/ProvisionSupportAccess");
                provision.is_some_and(|trace| {
                    r.spans_in(&trace).iter().any(|(name, attributes)| {
                        name == "google.call"
                            && attributes
                                .iter()
                                .any(|(k, v)| k == "method" && v == "directory.users.insert")
                    })
                })
            }),
        ),
        (
            "reconcile lag per declared domain",
            Box::new(|r| {
                r.has_point(
                    "support_access.reconcile.lag",
                    &[("domain", "reseller-two.example")],
                )
            }),
        ),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let missing: Vec<&str> = expectations
            .iter()
            .filter(|(_, check)| !check(&received))
            .map(|(what, _)| *what)
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never received: {missing:#?}\n{}",
            received.summary()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    drop(service);
    receiver.abort();

    // The log, as an operator's collector reads it (a file, not a terminal).
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        !log.contains('\u{1b}'),
        "log lines written to a file carry no terminal colour codes:\n{log}"
    );
    let trace = received
        .trace_of("supportaccess.v1.SupportAccessService/ProvisionSupportAccess")
        .unwrap();
    let converged: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("domain converged"))
        .collect();
    assert!(
        !converged.is_empty(),
        "the engine logs the domain's convergence:\n{log}"
    );
    assert!(
        converged
            .iter()
            .any(|line| line.contains(&format!("trace_id={trace}"))),
        "the engine's log line carries the trace id {trace} of the RPC that started its work:\n{}",
        converged.join("\n")
    );
}
