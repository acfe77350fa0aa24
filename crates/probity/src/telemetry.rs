//! Logging and tracing of the process (ADR 0027).
//!
//! Logs go to stderr through `tracing`'s formatter, filtered by `RUST_LOG` (default
//! `info`). When `OTEL_EXPORTER_OTLP_ENDPOINT` is set (e.g. `http://collector:4318`),
//! the same spans are also exported as OpenTelemetry traces over OTLP/HTTP (protobuf,
//! to `<endpoint>/v1/traces`, batched); the other standard `OTEL_*` variables of the
//! exporter and the batch processor apply (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
//! `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_SERVICE_NAME`). When it
//! is unset nothing is exported and no span has a trace context.
//!
//! A request's span records its trace id (`trace_id`), so every log line written while
//! serving it carries the id of its trace.

use std::io::IsTerminal;

use anyhow::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The variable that switches the export on.
pub const OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// Flushes and stops the trace export when dropped (at the end of `main`).
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(error) = provider.shutdown() {
                eprintln!("probity: flushing the trace export failed: {error}");
            }
        }
    }
}

/// Whether `OTEL_EXPORTER_OTLP_ENDPOINT` asks for the trace export.
pub fn export_requested() -> bool {
    std::env::var(OTLP_ENDPOINT).is_ok_and(|v| !v.trim().is_empty())
}

/// Installs the global subscriber: the stderr log, plus the OpenTelemetry layer when
/// [`export_requested`].
pub fn init() -> anyhow::Result<Telemetry> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: a log file or journal gets plain `key=value` text.
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if !export_requested() {
        tracing_subscriber::registry().with(filter).with(fmt).init();
        return Ok(Telemetry { provider: None });
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .context("building the OTLP span exporter (OTEL_EXPORTER_OTLP_ENDPOINT)")?;
    let service = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "probity".to_string());
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service)
                .build(),
        )
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("probity"));
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(layer)
        .init();
    Ok(Telemetry {
        provider: Some(provider),
    })
}
