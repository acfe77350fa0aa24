//! `Idempotency-Key` for creating POSTs (migration 0021).
//!
//! The first request with a key inserts a *pending* row before it runs its command; a
//! concurrent twin finds the row and polls until the response is stored, then replays
//! it. The same key with another body is 422 `idempotency_key_reused`. A request that
//! fails drops its row, so the client may retry with the same key (nothing was created).
//! A pending row older than [`STALE_AFTER`] (its process died) is taken over.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use probity_store::Db;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// How long a pending row may stay pending before another request takes it over.
pub const STALE_AFTER: chrono::Duration = chrono::Duration::seconds(60);
/// How often and how many times a twin polls for the first request's response.
const POLL_EVERY: Duration = Duration::from_millis(50);
const POLL_TIMES: usize = 200;

/// A stored response, replayed for a repeated request.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: Value,
    pub location: Option<String>,
}

/// What to do with a request carrying a key.
#[derive(Debug)]
pub enum Begin {
    /// First time: run the request, then `complete` or `abandon`.
    Proceed(Pending),
    /// Seen before with the same body: answer with this.
    Replay(StoredResponse),
}

/// The pending row this request owns.
#[derive(Debug)]
pub struct Pending {
    db: Db,
    actor: String,
    key: String,
}

fn timestamp(at: chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

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

type Row = (String, Option<i64>, Option<String>, Option<String>, String);

/// Claims `key` for `actor`, or finds the response to replay.
pub async fn begin(db: &Db, actor: &str, key: &str, hash: &str) -> Result<Begin, ApiError> {
    for _ in 0..POLL_TIMES {
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (actor, idem_key, request_hash, status, response_body, location, created_at) \
             VALUES ($1, $2, $3, NULL, NULL, NULL, $4) ON CONFLICT DO NOTHING",
        )
        .bind(actor)
        .bind(key)
        .bind(hash)
        .bind(timestamp(Utc::now()))
        .execute(&db.any)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Begin::Proceed(Pending {
                db: db.clone(),
                actor: actor.to_string(),
                key: key.to_string(),
            }));
        }
        let row: Option<Row> = sqlx::query_as(
            "SELECT request_hash, status, response_body, location, created_at FROM idempotency_keys \
             WHERE actor = $1 AND idem_key = $2",
        )
        .bind(actor)
        .bind(key)
        .fetch_optional(&db.any)
        .await?;
        let Some((stored_hash, status, body, location, created_at)) = row else {
            // The owner abandoned it between our insert and select: try to claim it.
            continue;
        };
        if stored_hash != hash {
            return Err(ApiError::IdempotencyKeyReused);
        }
        if let (Some(status), Some(body)) = (status, body) {
            let body = serde_json::from_str(&body).map_err(ApiError::internal)?;
            return Ok(Begin::Replay(StoredResponse {
                status: u16::try_from(status).map_err(ApiError::internal)?,
                body,
                location,
            }));
        }
        if created_at < timestamp(Utc::now() - STALE_AFTER) {
            sqlx::query(
                "DELETE FROM idempotency_keys WHERE actor = $1 AND idem_key = $2 AND status IS NULL AND created_at = $3",
            )
            .bind(actor)
            .bind(key)
            .bind(&created_at)
            .execute(&db.any)
            .await?;
            continue;
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
    Err(ApiError::Conflict(
        "a request with this Idempotency-Key is still being processed; retry later".into(),
    ))
}

impl Pending {
    /// Stores the response for replays.
    pub async fn complete(self, response: &StoredResponse) -> Result<(), ApiError> {
        sqlx::query(
            "UPDATE idempotency_keys SET status = $1, response_body = $2, location = $3 \
             WHERE actor = $4 AND idem_key = $5",
        )
        .bind(i64::from(response.status))
        .bind(response.body.to_string())
        .bind(response.location.clone())
        .bind(&self.actor)
        .bind(&self.key)
        .execute(&self.db.any)
        .await?;
        Ok(())
    }

    /// Drops the claim after a failed request so the key can be used again.
    pub async fn abandon(self) {
        let result = sqlx::query(
            "DELETE FROM idempotency_keys WHERE actor = $1 AND idem_key = $2 AND status IS NULL",
        )
        .bind(&self.actor)
        .bind(&self.key)
        .execute(&self.db.any)
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not release an idempotency key");
        }
    }
}

/// Runs a creating request once per `Idempotency-Key`: with a key already used for the
/// same request, answers the stored response without running `create`; a key used for
/// another request is 422 `idempotency_key_reused`; otherwise runs `create`, stores its
/// response under the key (or releases the key when it fails) and answers it. `respond`
/// turns a stored response into the HTTP response (the same for a first answer and a
/// replay).
pub async fn create_once<F>(
    state: &crate::AppState,
    actor: &str,
    key: Option<String>,
    path: &str,
    raw: &[u8],
    create: F,
    respond: impl Fn(&StoredResponse) -> axum::response::Response,
) -> Result<axum::response::Response, ApiError>
where
    F: std::future::Future<Output = Result<StoredResponse, ApiError>>,
{
    let pending = match &key {
        None => None,
        Some(key) => {
            let hash = request_hash("POST", path, raw);
            match begin(&state.db, actor, key, &hash).await? {
                Begin::Replay(stored) => {
                    state.metrics.record_idempotent_replay();
                    return Ok(respond(&stored));
                }
                Begin::Proceed(pending) => Some(pending),
            }
        }
    };
    match (create.await, pending) {
        (Ok(stored), Some(pending)) => {
            pending.complete(&stored).await?;
            Ok(respond(&stored))
        }
        (Ok(stored), None) => Ok(respond(&stored)),
        (Err(e), Some(pending)) => {
            pending.abandon().await;
            Err(e)
        }
        (Err(e), None) => Err(e),
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
