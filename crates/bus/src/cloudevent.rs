//! The bus message: a [`StoredEvent`] as a CloudEvents 1.0 JSON document (structured
//! content mode), and back.
//!
//! Besides the required and optional core attributes, the message carries the extensions
//! a consumer needs to rebuild the `StoredEvent` a projector handles: `sequence` and
//! `position` (JSON integers), `txid` (a decimal string: Postgres transaction ids can
//! exceed CloudEvents' 32-bit Integer), `aggregatetype`, `aggregateid`, `eventtype`,
//! `eventversion`, and `metadata` (the command metadata — actor, role, unit, request and
//! correlation ids — as compact JSON text, since extension values must be scalars), and,
//! for a traced command, the distributed-tracing extension's `traceparent` and
//! `tracestate` (ADR 0027).
//! `data` is the event in its wire form ([`probity_domain::wire`]): every sealed personal
//! block replaced by its redaction marker, so not even the ciphertext of personal data
//! leaves the store. The wire form is versioned on its own: `dataschema` names it
//! ([`WIRE_SCHEMA`]); a consumer refuses a version it does not know, and reads a message
//! without `dataschema` (published before the attribute existed) as version 1, whose JSON
//! it is.

use chrono::{DateTime, Utc};
use probity_domain::wire::WIRE_SCHEMA;
use probity_store::{trace, StoredEvent};
use serde::{Deserialize, Serialize};

use crate::BusError;

/// The CloudEvents `source` of every Probity event.
pub const CLOUDEVENT_SOURCE: &str = "/probity";
/// `Content-Type` header of a bus message (structured content mode).
pub const CLOUDEVENT_CONTENT_TYPE: &str = "application/cloudevents+json";
const SPEC_VERSION: &str = "1.0";
const DATA_CONTENT_TYPE: &str = "application/json";

/// `<aggregate_type>:<aggregate_id>:<sequence>`: the CloudEvents `id` and the
/// `Nats-Msg-Id`, so a re-published event is recognised as the same message.
pub fn message_id(event: &StoredEvent) -> String {
    format!(
        "{}:{}:{}",
        event.aggregate_type, event.aggregate_id, event.sequence
    )
}

/// One Probity event as a CloudEvents 1.0 JSON document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudEvent {
    /// Always `1.0`.
    pub specversion: String,
    /// [`message_id`].
    pub id: String,
    /// [`CLOUDEVENT_SOURCE`].
    pub source: String,
    /// `probity.<aggregate_type>.<event_type>.v<event_version>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `<aggregate_type>/<aggregate_id>`.
    pub subject: String,
    /// When the event was recorded (RFC 3339).
    pub time: DateTime<Utc>,
    /// Always `application/json`.
    pub datacontenttype: String,
    /// The version of the wire form of `data` ([`WIRE_SCHEMA`]). Absent in messages
    /// published before it was introduced (read as version 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataschema: Option<String>,
    /// Per-aggregate sequence, 1..n.
    pub sequence: i64,
    /// Global position in the log.
    pub position: i64,
    /// Commit-order key of the log, as a decimal string.
    pub txid: String,
    /// The aggregate's cqrs-es type (`complaint`, `access_log`).
    pub aggregatetype: String,
    /// The aggregate's id, exactly (the subject token may be sanitised).
    pub aggregateid: String,
    /// The event's stable type name (`ComplaintReceived`).
    pub eventtype: String,
    /// The event's schema version (`1`).
    pub eventversion: String,
    /// Command metadata as compact JSON text (never personal data).
    pub metadata: String,
    /// The W3C `traceparent` of the publish (CloudEvents distributed-tracing extension):
    /// the relay's span for this message, in the trace of the command that recorded the
    /// event. Absent when the command was not traced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// The W3C `tracestate` that goes with `traceparent`, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
    /// The event's payload in wire form (personal blocks redacted).
    pub data: serde_json::Value,
}

impl CloudEvent {
    /// The bus form of `event`: the event in wire form (personal blocks in payload and
    /// metadata redacted). Its trace context is the current span's (the relay's publish
    /// span) when that is traced, else the one in the event's metadata, if any.
    pub fn from_stored(event: &StoredEvent) -> Self {
        let data = StoredEvent::wire_payload(&event.payload).into_owned();
        let metadata = StoredEvent::wire_payload(&event.metadata);
        let mut trace = trace::current();
        if trace.is_empty() {
            for key in [trace::TRACEPARENT, trace::TRACESTATE] {
                if let Some(value) = event.metadata.get(key).and_then(|v| v.as_str()) {
                    trace.insert(key.to_string(), value.to_string());
                }
            }
        }
        Self {
            specversion: SPEC_VERSION.into(),
            id: message_id(event),
            source: CLOUDEVENT_SOURCE.into(),
            kind: format!(
                "probity.{}.{}.v{}",
                event.aggregate_type, event.event_type, event.event_version
            ),
            subject: format!("{}/{}", event.aggregate_type, event.aggregate_id),
            time: event.recorded_at,
            datacontenttype: DATA_CONTENT_TYPE.into(),
            dataschema: Some(WIRE_SCHEMA.into()),
            sequence: event.sequence,
            position: event.position,
            txid: event.tx_id.to_string(),
            aggregatetype: event.aggregate_type.clone(),
            aggregateid: event.aggregate_id.clone(),
            eventtype: event.event_type.clone(),
            eventversion: event.event_version.clone(),
            metadata: metadata.to_string(),
            traceparent: trace.remove(trace::TRACEPARENT),
            tracestate: trace.remove(trace::TRACESTATE),
            data,
        }
    }

    /// Rebuilds the `StoredEvent` in wire form after checking that the document is
    /// consistent with itself and its wire form is one this reader knows.
    pub fn into_stored(self) -> Result<StoredEvent, BusError> {
        if self.specversion != SPEC_VERSION {
            return Err(BusError::Codec(format!(
                "unsupported specversion {:?}",
                self.specversion
            )));
        }
        if let Some(schema) = self.dataschema.as_deref().filter(|s| *s != WIRE_SCHEMA) {
            return Err(BusError::Codec(format!(
                "unsupported wire schema {schema:?} (this reader knows {WIRE_SCHEMA:?})"
            )));
        }
        let expected_id = format!(
            "{}:{}:{}",
            self.aggregatetype, self.aggregateid, self.sequence
        );
        if self.id != expected_id {
            return Err(BusError::Codec(format!(
                "id {:?} does not match aggregate and sequence {expected_id:?}",
                self.id
            )));
        }
        if self.sequence < 1 {
            return Err(BusError::Codec(format!(
                "sequence {} is not positive",
                self.sequence
            )));
        }
        let tx_id = self
            .txid
            .parse::<i64>()
            .map_err(|e| BusError::Codec(format!("txid {:?}: {e}", self.txid)))?;
        let mut metadata: serde_json::Value = serde_json::from_str(&self.metadata)
            .map_err(|e| BusError::Codec(format!("metadata is not JSON: {e}")))?;
        // A consumer continues the trace of the publish: the message's trace context
        // takes the place of the command's in the metadata the projector sees.
        if let (Some(traceparent), Some(map)) = (self.traceparent, metadata.as_object_mut()) {
            map.insert(trace::TRACEPARENT.into(), traceparent.into());
            match self.tracestate {
                Some(state) => map.insert(trace::TRACESTATE.into(), state.into()),
                None => map.remove(trace::TRACESTATE),
            };
        }
        Ok(StoredEvent {
            position: self.position,
            tx_id,
            aggregate_type: self.aggregatetype,
            aggregate_id: self.aggregateid,
            sequence: self.sequence,
            event_type: self.eventtype,
            event_version: self.eventversion,
            payload: self.data,
            metadata,
            recorded_at: self.time,
        })
    }

    /// The message body.
    pub fn to_json_bytes(&self) -> Result<bytes::Bytes, BusError> {
        serde_json::to_vec(self)
            .map(bytes::Bytes::from)
            .map_err(|e| BusError::Codec(e.to_string()))
    }

    /// Parses a message body.
    pub fn from_json_slice(body: &[u8]) -> Result<Self, BusError> {
        serde_json::from_slice(body).map_err(|e| BusError::Codec(e.to_string()))
    }
}

/// Encodes `event` as a message body.
pub fn encode(event: &StoredEvent) -> Result<bytes::Bytes, BusError> {
    CloudEvent::from_stored(event).to_json_bytes()
}

/// Decodes a message body into the `StoredEvent` a projector handles.
pub fn decode(body: &[u8]) -> Result<StoredEvent, BusError> {
    CloudEvent::from_json_slice(body)?.into_stored()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> StoredEvent {
        StoredEvent {
            position: 42,
            tx_id: 5_000_000_123,
            aggregate_type: "complaint".into(),
            aggregate_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
            sequence: 3,
            event_type: "ComplaintAssigned".into(),
            event_version: "1".into(),
            payload: json!({"unit": "11360400MB1234567X"}),
            metadata: json!({"actor": "token:intake-1", "role": "intake", "request_id": "r-1"}),
            recorded_at: "2026-11-29T07:01:02.123456Z".parse().unwrap(),
        }
    }

    #[test]
    fn it_maps_the_event_onto_the_cloudevents_attributes_of_the_contract() {
        let doc: serde_json::Value = serde_json::from_slice(&encode(&event()).unwrap()).unwrap();
        assert_eq!(doc["specversion"], "1.0");
        assert_eq!(
            doc["id"],
            "complaint:0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b:3"
        );
        assert_eq!(doc["source"], "/probity");
        assert_eq!(doc["type"], "probity.complaint.ComplaintAssigned.v1");
        assert_eq!(
            doc["subject"],
            "complaint/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
        );
        assert_eq!(doc["time"], "2026-11-29T07:01:02.123456Z");
        assert_eq!(doc["datacontenttype"], "application/json");
        assert_eq!(doc["dataschema"], "urn:probity:wire:v1");
        assert_eq!(doc["sequence"], 3);
        assert_eq!(doc["position"], 42);
        assert_eq!(doc["txid"], "5000000123");
        assert_eq!(doc["data"], json!({"unit": "11360400MB1234567X"}));
    }

    #[test]
    fn it_rebuilds_the_stored_event_it_was_made_from() {
        assert_eq!(decode(&encode(&event()).unwrap()).unwrap(), event());
    }

    #[test]
    fn it_rejects_a_document_whose_id_contradicts_its_sequence() {
        let mut ce = CloudEvent::from_stored(&event());
        ce.sequence = 4;
        assert!(matches!(ce.into_stored(), Err(BusError::Codec(_))));
    }

    #[test]
    fn it_reads_a_message_published_before_the_wire_schema_was_named_as_version_1() {
        let mut doc: serde_json::Value =
            serde_json::from_slice(&encode(&event()).unwrap()).unwrap();
        doc.as_object_mut().unwrap().remove("dataschema");
        let body = serde_json::to_vec(&doc).unwrap();
        assert_eq!(decode(&body).unwrap(), event());
    }

    #[test]
    fn it_refuses_a_wire_schema_it_does_not_know() {
        let mut ce = CloudEvent::from_stored(&event());
        ce.dataschema = Some("urn:probity:wire:v2".into());
        assert!(matches!(ce.into_stored(), Err(BusError::Codec(m)) if m.contains("wire schema")));
    }

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn an_untraced_event_has_no_distributed_tracing_attributes() {
        let doc: serde_json::Value = serde_json::from_slice(&encode(&event()).unwrap()).unwrap();
        assert!(doc.get("traceparent").is_none());
        assert!(doc.get("tracestate").is_none());
    }

    #[test]
    fn a_traced_command_s_event_carries_its_trace_context_as_cloudevents_attributes() {
        let mut traced = event();
        traced.metadata["traceparent"] = json!(TRACEPARENT);
        traced.metadata["tracestate"] = json!("probity=1");
        let doc: serde_json::Value = serde_json::from_slice(&encode(&traced).unwrap()).unwrap();
        assert_eq!(doc["traceparent"], TRACEPARENT);
        assert_eq!(doc["tracestate"], "probity=1");
        assert_eq!(decode(&encode(&traced).unwrap()).unwrap(), traced);
    }

    #[test]
    fn a_consumer_continues_the_trace_of_the_message_it_received() {
        let mut ce = CloudEvent::from_stored(&event());
        ce.traceparent = Some(TRACEPARENT.into());
        let stored = ce.into_stored().unwrap();
        assert_eq!(stored.metadata["traceparent"], TRACEPARENT);
        assert_eq!(stored.metadata["actor"], "token:intake-1");
    }

    #[test]
    fn it_rejects_a_body_that_is_not_a_cloudevent() {
        assert!(matches!(decode(b"{\"hello\":1}"), Err(BusError::Codec(_))));
    }
}
