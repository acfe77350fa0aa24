//! The W3C trace context (`traceparent`, `tracestate`) of a command, carried from the
//! HTTP request into the metadata of the events it records, from there onto the bus (the
//! CloudEvents distributed-tracing extension) and into the projectors (ADR 0027).
//!
//! Spans are `tracing` spans; the OpenTelemetry layer the binary installs when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set gives each one an OpenTelemetry context. Without
//! that layer no span has one: [`current`] is `None`, nothing is written into metadata,
//! and [`follow`] does nothing.

use std::collections::HashMap;
use std::sync::Arc;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::{Applied, Projector, StoreError, StoredEvent};

/// The metadata key (and CloudEvents attribute) of the W3C `traceparent`.
pub const TRACEPARENT: &str = "traceparent";
/// The metadata key (and CloudEvents attribute) of the W3C `tracestate`.
pub const TRACESTATE: &str = "tracestate";

/// The W3C trace context of the current `tracing` span: `traceparent` and, when not
/// empty, `tracestate`. Empty when the span has no valid OpenTelemetry context.
pub fn current() -> HashMap<String, String> {
    let context = tracing::Span::current().context();
    let mut carrier = HashMap::new();
    if context.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&context, &mut carrier);
        carrier.retain(|_, v: &mut String| !v.is_empty());
    }
    carrier
}

/// The trace id (32 hex digits) of `span`, for logs; `None` without an OpenTelemetry
/// context.
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let otel_span = context.span();
    let span_context = otel_span.span_context();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// Makes `span` a child of the remote span named by `traceparent` (and `tracestate`),
/// as read from a request's headers, an event's metadata or a bus message. An absent or
/// malformed `traceparent` leaves `span` as it is (a root of its own trace).
pub fn follow_remote(span: &tracing::Span, traceparent: Option<&str>, tracestate: Option<&str>) {
    let Some(traceparent) = traceparent else {
        return;
    };
    let mut carrier = HashMap::new();
    carrier.insert(TRACEPARENT.to_string(), traceparent.to_string());
    if let Some(state) = tracestate {
        carrier.insert(TRACESTATE.to_string(), state.to_string());
    }
    let parent = TraceContextPropagator::new().extract(&carrier);
    if parent.span().span_context().is_valid() {
        // Fails only when no OpenTelemetry layer is installed: nothing to link then.
        let _ = span.set_parent(parent);
    }
}

/// Makes `span` a child of the command that recorded an event with `metadata` (its
/// `traceparent` and `tracestate` keys), if the command was traced.
pub fn follow(span: &tracing::Span, metadata: &serde_json::Value) {
    follow_remote(
        span,
        metadata.get(TRACEPARENT).and_then(|v| v.as_str()),
        metadata.get(TRACESTATE).and_then(|v| v.as_str()),
    );
}

/// A projector whose every applied event gets a `projector.apply` span in the trace of
/// the command that recorded it (or of the bus message that carried it: see
/// [`follow`]), from before its batch is applied until the batch's transaction ended.
/// The projector itself is unchanged: name, types and outcomes are the inner one's.
pub struct Traced(pub Arc<dyn Projector>);

/// `projector` with a span per applied event ([`Traced`]).
pub fn traced(projector: Arc<dyn Projector>) -> Arc<dyn Projector> {
    Arc::new(Traced(projector))
}

impl Traced {
    fn spans(&self, events: &[StoredEvent]) -> Vec<tracing::Span> {
        let wanted = self.0.aggregate_types();
        events
            .iter()
            .filter(|e| wanted.contains(&e.aggregate_type.as_str()))
            .map(|event| {
                let span = tracing::info_span!(
                    "projector.apply",
                    projector = self.0.name(),
                    event_type = %event.event_type,
                    sequence = event.sequence,
                    position = event.position,
                );
                follow(&span, &event.metadata);
                span
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl Projector for Traced {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        self.0.aggregate_types()
    }

    async fn handle(&self, event: &StoredEvent) -> Result<Applied, StoreError> {
        let spans = self.spans(std::slice::from_ref(event));
        let outcome = self.0.handle(event).await;
        drop(spans);
        outcome
    }

    async fn handle_batch(&self, events: &[StoredEvent]) -> Result<Vec<Applied>, StoreError> {
        let spans = self.spans(events);
        let outcome = self.0.handle_batch(events).await;
        drop(spans);
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_an_opentelemetry_layer_a_command_carries_no_trace_context() {
        let span = tracing::info_span!("command");
        let _entered = span.enter();
        assert!(current().is_empty());
        assert_eq!(trace_id(&span), None);
    }

    #[test]
    fn following_a_malformed_or_missing_traceparent_changes_nothing() {
        let span = tracing::info_span!("apply");
        follow_remote(&span, None, None);
        follow_remote(&span, Some("not-a-traceparent"), None);
        follow(&span, &serde_json::json!({"actor": "intake"}));
        assert!(!span.context().span().span_context().is_valid());
    }
}
