//! Masks personal fields in an event payload for the bus, history and logs.
//!
//! Personal data only ever enters an event sealed (a [`SealedReporter`]-shaped object:
//! `key_id` + `ciphertext`), so masking is structural: every object with a `ciphertext`
//! field, at any depth, is replaced by a marker that keeps only the key id.
//!
//! [`SealedReporter`]: probity_domain::reporter::SealedReporter
use serde_json::{json, Value};

/// Replaces every sealed personal block (an object with a `ciphertext` field) by
/// `{"key_id": .., "sealed": true}` so not even ciphertext leaves the store.
pub fn redact_personal(payload: &mut Value) {
    match payload {
        Value::Object(map) => {
            if map.contains_key("ciphertext") {
                let key_id = map.get("key_id").cloned().unwrap_or(Value::Null);
                *payload = json!({ "key_id": key_id, "sealed": true });
            } else {
                map.values_mut().for_each(redact_personal);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_personal),
        _ => {}
    }
}

/// Whether `payload` holds a sealed personal block (an object with a `ciphertext` field)
/// at any depth: what [`redact_personal`] would change.
pub fn contains_personal(payload: &Value) -> bool {
    match payload {
        Value::Object(map) => map.contains_key("ciphertext") || map.values().any(contains_personal),
        Value::Array(items) => items.iter().any(contains_personal),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_replaces_a_sealed_block_nested_in_an_event() {
        let mut payload = json!({
            "ComplaintReceived": {
                "title": "t",
                "reporter": { "key_id": "k1", "ciphertext": "AAAA" }
            }
        });
        redact_personal(&mut payload);
        assert_eq!(
            payload,
            json!({
                "ComplaintReceived": {
                    "title": "t",
                    "reporter": { "key_id": "k1", "sealed": true }
                }
            })
        );
    }

    #[test]
    fn it_replaces_sealed_blocks_inside_arrays_and_drops_their_other_fields() {
        let mut payload = json!({
            "list": [
                { "key_id": "a", "ciphertext": "x", "extra": "secret" },
                { "plain": 1 },
                [ { "ciphertext": "y" } ]
            ]
        });
        redact_personal(&mut payload);
        assert_eq!(
            payload,
            json!({
                "list": [
                    { "key_id": "a", "sealed": true },
                    { "plain": 1 },
                    [ { "key_id": null, "sealed": true } ]
                ]
            })
        );
    }

    #[test]
    fn it_replaces_a_payload_that_is_itself_sealed() {
        let mut payload = json!({ "key_id": "k", "ciphertext": "c" });
        redact_personal(&mut payload);
        assert_eq!(payload, json!({ "key_id": "k", "sealed": true }));
    }

    #[test]
    fn it_leaves_payloads_without_sealed_blocks_unchanged() {
        let original =
            json!({ "a": [1, "two", null, { "b": { "c": true } }], "key_id": "not sealed" });
        let mut payload = original.clone();
        redact_personal(&mut payload);
        assert_eq!(payload, original);
    }

    #[test]
    fn it_finds_a_sealed_block_at_any_depth_and_nothing_where_there_is_none() {
        assert!(contains_personal(
            &json!({ "E": { "list": [ { "r": { "key_id": "k", "ciphertext": "c" } } ] } })
        ));
        assert!(!contains_personal(
            &json!({ "E": { "reporter": { "key_id": "k", "sealed": true }, "n": [1, 2] } })
        ));
    }

    #[test]
    fn it_is_idempotent() {
        let mut payload = json!({ "r": { "key_id": "k", "ciphertext": "c" } });
        redact_personal(&mut payload);
        let once = payload.clone();
        redact_personal(&mut payload);
        assert_eq!(payload, once);
    }
}
