//! Tracing end to end (issue 13 item 5, ADR 0027): the real `probity serve` exports its
//! spans over OTLP/HTTP to a collector run by this test (an axum server decoding the
//! protobuf export requests with `opentelemetry-proto`), on Postgres with NATS JetStream
//! (relay and consumers) and on the embedded store with the in-process bus.
//!
//! A client files a complaint with a W3C `traceparent`; then one trace, the client's,
//! holds the HTTP request's span (child of the client's span), the command's span, its
//! commit, the relay's publish of the event (NATS) and the projector's apply of it, each
//! a child of the one before it; and the server's log lines of the request carry the
//! trace id.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use probity_app::tokens::{create_token, Role};
use prost::Message;
use serde_json::json;

mod common;
use common::{serve_with, store, Kind};

const TEST_TIMEOUT: Duration = Duration::from_secs(180);

on_both_backends!(one_trace_shows_http_command_commit_relay_and_projector);

/// A span as the collector received it.
#[derive(Debug, Clone)]
struct Received {
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
}

type Spans = Arc<Mutex<Vec<Received>>>;

async fn export(State(spans): State<Spans>, body: Bytes) -> impl axum::response::IntoResponse {
    let request = match ExportTraceServiceRequest::decode(body) {
        Ok(request) => request,
        Err(_) => return (axum::http::StatusCode::BAD_REQUEST, Vec::new()),
    };
    let mut received = spans.lock().unwrap();
    for resource in request.resource_spans {
        for scope in resource.scope_spans {
            for span in scope.spans {
                received.push(Received {
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                });
            }
        }
    }
    (
        axum::http::StatusCode::OK,
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An OTLP/HTTP collector on a free loopback port: its endpoint and what it received.
async fn collector() -> anyhow::Result<(String, Spans)> {
    let spans: Spans = Arc::default();
    let app = axum::Router::new()
        .route("/v1/traces", post(export))
        .with_state(spans.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((endpoint, spans))
}

async fn one_trace_shows_http_command_commit_relay_and_projector(kind: Kind) -> anyhow::Result<()> {
    let (endpoint, spans) = collector().await?;
    let store = store(kind).await?;
    let token = create_token(&store.db, Role::Intake, None, Some("tracing".into())).await?;
    let log = store.dir.0.join("server.log");
    let mut env = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_string()),
        ("RUST_LOG", "info,tower_http=debug".to_string()),
    ];
    if kind == Kind::Postgres {
        // The real bus: relay and JetStream consumers, on subjects of this test only.
        env.push(("NATS_URL", probity_testkit::nats::nats_url().await?));
        env.push((
            "PROBITY_NATS_PREFIX",
            probity_testkit::nats::unique_prefix(),
        ));
    }
    let (_server, url) = serve_with(&store.args, &env, Some(&log)).await?;

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let client_span = "00f067aa0ba902b7";
    let response = reqwest::Client::new()
        .post(format!("{url}/api/v1/complaints"))
        .bearer_auth(&token)
        .header("traceparent", format!("00-{trace_id}-{client_span}-01"))
        .json(&json!({
            "category": "help",
            "channel": "web",
            "title": "Permit delayed",
            "description": "The permit office has not answered for two months.",
            "reporter": {"anonymous": true}
        }))
        .send()
        .await?;
    ensure!(
        response.status().as_u16() == 201,
        "filing answered {}: {}",
        response.status(),
        response.text().await?
    );

    // The spans of the trace, by name, once every expected one arrived.
    let mut wanted = vec!["http", "command", "commit", "projector.apply"];
    if kind == Kind::Postgres {
        wanted.push("relay.publish");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let by_name: BTreeMap<String, Received> = loop {
        let by_name: BTreeMap<String, Received> = spans
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .map(|s| (s.name.clone(), s.clone()))
            .collect();
        if wanted.iter().all(|name| by_name.contains_key(*name)) {
            break by_name;
        }
        ensure!(
            Instant::now() < deadline,
            "after 60 s the trace has only {:?} (want {wanted:?}); all received: {:?}",
            by_name.keys().collect::<Vec<_>>(),
            spans.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // Each a child of the one before it, from the client's span down to the projector.
    let span = |name: &str| &by_name[name];
    ensure!(
        span("http").parent_span_id == client_span,
        "the HTTP span does not continue the client's: {:?}",
        span("http")
    );
    let command_ancestry = ancestry(&by_name, "command");
    ensure!(
        command_ancestry.contains(&span("http").span_id),
        "the command span is not under the HTTP span: {command_ancestry:?}"
    );
    ensure!(
        span("commit").parent_span_id == span("command").span_id,
        "the commit is not a child of the command"
    );
    let producer = if kind == Kind::Postgres {
        ensure!(
            span("relay.publish").parent_span_id == span("command").span_id,
            "the relay's publish is not a child of the command"
        );
        "relay.publish"
    } else {
        // The in-process bus reads the log itself: no relay between.
        "command"
    };
    ensure!(
        span("projector.apply").parent_span_id == span(producer).span_id,
        "the projector's apply is not a child of {producer}: {:?}",
        span("projector.apply")
    );

    // The log lines of the request carry the trace id.
    let text = std::fs::read_to_string(&log).context("reading the server log")?;
    ensure!(
        text.lines()
            .any(|line| line.contains(&format!("trace_id={trace_id}"))),
        "no log line carries trace_id={trace_id}:\n{text}"
    );
    Ok(())
}

/// The span ids above `name` in the received spans (its parent, that one's parent, ...).
fn ancestry(spans: &BTreeMap<String, Received>, name: &str) -> Vec<String> {
    let by_id: BTreeMap<&str, &Received> =
        spans.values().map(|s| (s.span_id.as_str(), s)).collect();
    let mut out = Vec::new();
    let mut parent = spans[name].parent_span_id.clone();
    while let Some(span) = by_id.get(parent.as_str()) {
        out.push(parent.clone());
        parent = span.parent_span_id.clone();
    }
    out.push(parent);
    out
}
