//! The canonical form of an event and the hashes over it.
//!
//! Canonical JSON: compact, object keys sorted by their UTF-8 bytes, strings escaped as
//! serde_json escapes them, numbers as serde_json prints them. It is written here
//! explicitly, so it does not depend on whether some crate enables serde_json's
//! `preserve_order`. `recorded_at` is not hashed: Postgres (TIMESTAMPTZ) and SQLite (text)
//! keep it in different forms and precisions, and it is the store's clock, not content;
//! the global chain fixes the order instead.
use crate::StoredEvent;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// 32 zero bytes in hex: the previous hash of an aggregate's first event and the chain
/// hash before the first event.
pub const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Appends the canonical JSON of `value` to `out`.
pub fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
    }
}

/// The canonical JSON of `value`.
pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_string(s: &str, out: &mut String) {
    // serde_json's escaping of a plain string cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// SHA-256 in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `SHA-256(canonical JSON of [aggregate_type, aggregate_id, sequence, event_type,
/// event_version, payload, metadata, prev_event_hash])`, hex.
pub fn event_hash(event: &StoredEvent, prev_event_hash: &str) -> String {
    finish_event_hash(event_hash_prefix(event), prev_event_hash)
}

/// The hash state after everything of [`event_hash`] but the previous event hash: the
/// part that depends on the event alone (computed ahead, off the verifying task).
pub fn event_hash_prefix(event: &StoredEvent) -> Sha256 {
    hash_prefix(&EventParts {
        aggregate_type: &event.aggregate_type,
        aggregate_id: &event.aggregate_id,
        sequence: event.sequence,
        event_type: &event.event_type,
        event_version: &event.event_version,
        payload: &event.payload,
        metadata: &event.metadata,
    })
}

/// What an event hash covers (besides the previous event hash), borrowed from wherever
/// the event is: a stored row, or one being appended.
pub struct EventParts<'a> {
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub sequence: i64,
    pub event_type: &'a str,
    pub event_version: &'a str,
    pub payload: &'a Value,
    pub metadata: &'a Value,
}

/// [`event_hash_prefix`] of an event's parts.
pub fn hash_prefix(event: &EventParts<'_>) -> Sha256 {
    let mut out = String::with_capacity(512);
    out.push('[');
    write_string(event.aggregate_type, &mut out);
    out.push(',');
    write_string(event.aggregate_id, &mut out);
    out.push(',');
    out.push_str(&event.sequence.to_string());
    out.push(',');
    write_string(event.event_type, &mut out);
    out.push(',');
    write_string(event.event_version, &mut out);
    out.push(',');
    write_canonical(event.payload, &mut out);
    out.push(',');
    write_canonical(event.metadata, &mut out);
    out.push(',');
    let mut hasher = Sha256::new();
    hasher.update(out.as_bytes());
    hasher
}

/// Completes an [`event_hash_prefix`] with the previous event hash.
pub fn finish_event_hash(mut prefix: Sha256, prev_event_hash: &str) -> String {
    let mut tail = String::with_capacity(prev_event_hash.len() + 3);
    write_string(prev_event_hash, &mut tail);
    tail.push(']');
    prefix.update(tail.as_bytes());
    hex::encode(prefix.finalize())
}

/// `SHA-256(previous chain hash bytes || event hash bytes)`, hex; both inputs are hex.
/// Input that is not 64 hex digits hashes as its text bytes (so it never matches).
pub fn chain_hash(previous: &str, event_hash: &str) -> String {
    let mut hasher = Sha256::new();
    let mut bytes = [0u8; 32];
    for part in [previous, event_hash] {
        match hex::decode_to_slice(part, &mut bytes) {
            Ok(()) => hasher.update(bytes),
            Err(_) => hasher.update(part.as_bytes()),
        }
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_sorts_keys_at_every_level_and_is_compact() {
        let v = json!({"b": 1, "a": {"z": [1, "x"], "c": null}, "é": true});
        assert_eq!(
            canonical(&v),
            r#"{"a":{"c":null,"z":[1,"x"]},"b":1,"é":true}"#
        );
    }

    #[test]
    fn event_hash_is_sha256_of_the_canonical_array() {
        let event = StoredEvent {
            position: 1,
            tx_id: 1,
            aggregate_type: "complaint".into(),
            aggregate_id: "c-1".into(),
            sequence: 1,
            event_type: "Filed".into(),
            event_version: "1.0".into(),
            payload: json!({"b": 2, "a": "x"}),
            metadata: json!({}),
            recorded_at: chrono::Utc::now(),
        };
        let text =
            format!(r#"["complaint","c-1",1,"Filed","1.0",{{"a":"x","b":2}},{{}},"{ZERO_HASH}"]"#);
        assert_eq!(event_hash(&event, ZERO_HASH), sha256_hex(text.as_bytes()));
    }

    #[test]
    fn chain_hash_of_zero_and_a_hash_is_sha256_of_64_bytes() {
        let e = sha256_hex(b"x");
        let mut bytes = vec![0u8; 32];
        bytes.extend(hex::decode(&e).unwrap());
        assert_eq!(chain_hash(ZERO_HASH, &e), sha256_hex(&bytes));
    }
}
