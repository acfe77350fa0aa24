//! `Idempotency-Key` for creating POSTs (table `idempotency_keys`, migration 0021).
//!
//! The response of a creation is stored with the creation's events, in the same
//! transaction (see `probity_store::writes`): a key has a stored response exactly when
//! the resource it created exists, whatever crashes in between. A request with a key:
//! - finds a response stored under it for the same request: answers it again (the
//!   command is not run);
//! - finds one for another request (another method, path or body): 422
//!   `idempotency_key_reused`;
//! - otherwise runs its command with the key ([`probity_app::Once`]). If it fails, and
//!   meanwhile a twin (the client's retry racing its first try) stored its response under
//!   the key, the twin's response is the answer: the creation happened once, by the
//!   twin, and nothing of this request was written.
//!
//! A request that fails stores nothing, so the client may retry with the same key.

use probity_app::Once;
use probity_store::{IdempotencyStore, Recorded};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use probity_store::StoredResponse;

use crate::error::ApiError;

fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let mut out = serde_json::Map::new();
            for (k, v) in entries {
                out.insert(k.clone(), canonical(v));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// SHA-256 (hex) of the method, the path and the body (canonical JSON when it parses,
/// so key order and whitespace do not matter).
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b"\n");
    h.update(path.as_bytes());
    h.update(b"\n");
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => h.update(canonical(&v).to_string().as_bytes()),
        Err(_) => h.update(body),
    }
    hex::encode(h.finalize())
}

/// The key of a `POST` to `collection` with body `raw`, for the command (`None` without
/// a key).
pub fn once(actor: &str, key: Option<String>, collection: &str, raw: &[u8]) -> Option<Once> {
    key.map(|key| Once {
        actor: actor.to_string(),
        key,
        request_hash: request_hash("POST", collection, raw),
        collection: collection.to_string(),
    })
}

/// The stored response for `once`, if a request with the same key completed: `Err` when
/// it was another request.
async fn stored(state: &crate::AppState, once: &Once) -> Result<Option<StoredResponse>, ApiError> {
    let found = IdempotencyStore::new(state.db.clone())
        .find(&once.actor, &once.key)
        .await
        .map_err(ApiError::from)?;
    match found {
        Some(Recorded::Response {
            request_hash,
            response,
        }) => {
            if request_hash == once.request_hash {
                Ok(Some(response))
            } else {
                Err(ApiError::IdempotencyKeyReused)
            }
        }
        // A reservation of an earlier release whose request never finished: the
        // command takes it over.
        Some(Recorded::Abandoned) | None => Ok(None),
    }
}

/// Runs a creating request once per `Idempotency-Key` (see the module docs). `create`
/// runs the command with `once` in its context and returns the response (the same as the
/// one the command stored); `respond` turns a response into the HTTP response (the same
/// for a first answer and a replay).
pub async fn create_once<F>(
    state: &crate::AppState,
    once: Option<&Once>,
    create: F,
    respond: impl Fn(&StoredResponse) -> axum::response::Response,
) -> Result<axum::response::Response, ApiError>
where
    F: std::future::Future<Output = Result<StoredResponse, ApiError>>,
{
    let Some(once) = once else {
        return Ok(respond(&create.await?));
    };
    if let Some(response) = stored(state, once).await? {
        state.metrics.record_idempotent_replay();
        return Ok(respond(&response));
    }
    match create.await {
        Ok(response) => Ok(respond(&response)),
        Err(error) => match stored(state, once).await? {
            // A twin created it meanwhile: that is the one creation.
            Some(response) => {
                state.metrics.record_idempotent_replay();
                Ok(respond(&response))
            }
            None => Err(error),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_should_hash_equal_json_equally_whatever_the_key_order() {
        let a = request_hash(
            "POST",
            "/api/v1/complaints",
            br#"{"a":1,"b":{"y":2,"x":[1,2]}}"#,
        );
        let b = request_hash(
            "POST",
            "/api/v1/complaints",
            b"{ \"b\": {\"x\":[1,2],\"y\":2}, \"a\": 1 }",
        );
        assert_eq!(a, b);
        assert_ne!(a, request_hash("POST", "/api/v1/complaints", br#"{"a":2}"#));
        assert_ne!(
            a,
            request_hash("POST", "/api/v1/other", br#"{"a":1,"b":{"y":2,"x":[1,2]}}"#)
        );
    }
}
