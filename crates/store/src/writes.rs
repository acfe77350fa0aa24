//! What a command writes beside its events, committed in the same transaction as them
//! (issue 9 item 2): the data key that seals a reporter's (or a civil servant's) identity,
//! and the response stored under the request's `Idempotency-Key`.
//!
//! Before, a named complaint sent with a key took four transactions (key reservation,
//! reporter key, events, response); a crash between them left a reserved key without a
//! case, or a key row without events. Now the executor hands these rows to the group
//! committer with the command's events ([`crate::Executor::execute_writing`]): all of
//! them commit together or none does.
//!
//! An idempotency record is written only with a complete response, never as a pending
//! reservation. Two requests with one key (a client's retry racing its first try) may
//! both run their command; at the commit only one record can be inserted, and the other
//! command's whole append is refused ([`crate::ExecuteError::IdempotencyKeyTaken`]),
//! nothing of it written: its caller then answers with the stored response. A pending row
//! left by a release before this one (which reserved keys first) is taken over.
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sqlx::Row;

use crate::{Db, StoreError};

/// Rows a command writes with its events.
#[derive(Debug, Clone, Default)]
pub struct CommandWrites {
    /// New data keys (`reporter_keys`) of the identities the command seals.
    pub keys: Vec<NewKey>,
    /// The response to store under the request's `Idempotency-Key`.
    pub idempotency: Option<IdempotencyRecord>,
}

/// A data key not yet stored (see [`crate::KeyStore::prepare`]).
#[derive(Clone)]
pub struct NewKey {
    pub key_id: String,
    /// Base64 of the 256-bit key.
    pub(crate) material: String,
    pub(crate) created_at: String,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key material.
        f.debug_struct("NewKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// A response as stored for replays: status, JSON body (never personal data), `Location`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: Value,
    pub location: Option<String>,
}

/// The idempotency record of one creating request.
#[derive(Debug, Clone)]
pub struct IdempotencyRecord {
    /// The caller (its token id).
    pub actor: String,
    /// The `Idempotency-Key` header value.
    pub key: String,
    /// Hex SHA-256 of the method, path and canonical body.
    pub request_hash: String,
    pub response: StoredResponse,
    pub created_at: String,
}

impl IdempotencyRecord {
    pub fn new(
        actor: &str,
        key: &str,
        request_hash: &str,
        response: StoredResponse,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            actor: actor.to_string(),
            key: key.to_string(),
            request_hash: request_hash.to_string(),
            response,
            created_at: timestamp(at),
        }
    }
}

/// What is stored under a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// A response, with the hash of the request that produced it.
    Response {
        request_hash: String,
        response: StoredResponse,
    },
    /// A reservation left by an earlier release of Probity (no response): the request
    /// that made it never finished; it is taken over by the next one.
    Abandoned,
}

pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The idempotency records (table `idempotency_keys`, migration 0021).
#[derive(Clone, Debug)]
pub struct IdempotencyStore {
    pub db: Db,
}

type RecordRow = (String, Option<i64>, Option<String>, Option<String>);

impl IdempotencyStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// What is stored under `(actor, key)`, if anything.
    pub async fn find(&self, actor: &str, key: &str) -> Result<Option<Recorded>, StoreError> {
        let row: Option<RecordRow> = sqlx::query_as(
            "SELECT request_hash, status, response_body, location FROM idempotency_keys \
             WHERE actor = $1 AND idem_key = $2",
        )
        .bind(actor)
        .bind(key)
        .fetch_optional(&self.db.any)
        .await?;
        let Some((request_hash, status, body, location)) = row else {
            return Ok(None);
        };
        let (Some(status), Some(body)) = (status, body) else {
            return Ok(Some(Recorded::Abandoned));
        };
        Ok(Some(Recorded::Response {
            request_hash,
            response: StoredResponse {
                status: u16::try_from(status)
                    .map_err(|_| StoreError::Other(format!("stored status {status}")))?,
                body: serde_json::from_str(&body)?,
                location,
            },
        }))
    }
}

/// How a record is written: over a reservation without response only (see the module
/// docs), returning the key only when written.
macro_rules! take_over {
    () => {
        " ON CONFLICT (actor, idem_key) DO UPDATE SET request_hash = excluded.request_hash, \
           status = excluded.status, response_body = excluded.response_body, \
           location = excluded.location, created_at = excluded.created_at \
         WHERE idempotency_keys.status IS NULL \
         RETURNING actor, idem_key"
    };
}

/// Inserts one record (SQLite's part of a batch).
const UPSERT_ONE: &str = concat!(
    "INSERT INTO idempotency_keys \
     (actor, idem_key, request_hash, status, response_body, location, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)",
    take_over!()
);

/// The group committer's part: writes the side rows of a batch inside its transaction.
/// Returns the `(actor, key)` pairs whose record could not be written (taken).
pub(crate) async fn write_pg(
    tx: &mut sqlx::PgConnection,
    writes: &[&CommandWrites],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let keys: Vec<&NewKey> = writes.iter().flat_map(|w| &w.keys).collect();
    if !keys.is_empty() {
        let ids: Vec<&str> = keys.iter().map(|k| k.key_id.as_str()).collect();
        let material: Vec<&str> = keys.iter().map(|k| k.material.as_str()).collect();
        let created: Vec<&str> = keys.iter().map(|k| k.created_at.as_str()).collect();
        sqlx::query(
            "INSERT INTO reporter_keys (key_id, key_material, created_at) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[])",
        )
        .bind(&ids)
        .bind(&material)
        .bind(&created)
        .execute(&mut *tx)
        .await?;
    }
    let mut records: Vec<&IdempotencyRecord> = writes
        .iter()
        .filter_map(|w| w.idempotency.as_ref())
        .collect();
    if records.is_empty() {
        return Ok(Vec::new());
    }
    // Key order, like the events: two batches wait for each other's rows in one order.
    records.sort_by(|a, b| (&a.actor, &a.key).cmp(&(&b.actor, &b.key)));
    let actors: Vec<&str> = records.iter().map(|r| r.actor.as_str()).collect();
    let idem_keys: Vec<&str> = records.iter().map(|r| r.key.as_str()).collect();
    let hashes: Vec<&str> = records.iter().map(|r| r.request_hash.as_str()).collect();
    let statuses: Vec<i64> = records
        .iter()
        .map(|r| i64::from(r.response.status))
        .collect();
    let bodies: Vec<String> = records
        .iter()
        .map(|r| r.response.body.to_string())
        .collect();
    let locations: Vec<Option<&str>> = records
        .iter()
        .map(|r| r.response.location.as_deref())
        .collect();
    let created: Vec<&str> = records.iter().map(|r| r.created_at.as_str()).collect();
    let rows = sqlx::query(concat!(
        "INSERT INTO idempotency_keys \
           (actor, idem_key, request_hash, status, response_body, location, created_at) \
         SELECT a, k, h, s, b, l, c \
           FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[]) \
                WITH ORDINALITY AS u(a, k, h, s, b, l, c, n) \
          ORDER BY n",
        take_over!()
    ),
    )
    .bind(&actors)
    .bind(&idem_keys)
    .bind(&hashes)
    .bind(&statuses)
    .bind(&bodies)
    .bind(&locations)
    .bind(&created)
    .fetch_all(&mut *tx)
    .await?;
    taken(&records, &rows)
}

/// SQLite's part (see [`write_pg`]).
pub(crate) async fn write_sqlite(
    tx: &mut sqlx::SqliteConnection,
    writes: &[&CommandWrites],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    for key in writes.iter().flat_map(|w| &w.keys) {
        sqlx::query(
            "INSERT INTO reporter_keys (key_id, key_material, created_at) VALUES ($1, $2, $3)",
        )
        .bind(&key.key_id)
        .bind(&key.material)
        .bind(&key.created_at)
        .execute(&mut *tx)
        .await?;
    }
    let records: Vec<&IdempotencyRecord> = writes
        .iter()
        .filter_map(|w| w.idempotency.as_ref())
        .collect();
    let mut taken = Vec::new();
    for record in records {
        let written = sqlx::query(UPSERT_ONE)
            .bind(&record.actor)
            .bind(&record.key)
            .bind(&record.request_hash)
            .bind(i64::from(record.response.status))
            .bind(record.response.body.to_string())
            .bind(record.response.location.clone())
            .bind(&record.created_at)
            .fetch_optional(&mut *tx)
            .await?;
        if written.is_none() {
            taken.push((record.actor.clone(), record.key.clone()));
        }
    }
    Ok(taken)
}

fn taken(
    records: &[&IdempotencyRecord],
    rows: &[sqlx::postgres::PgRow],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let written = rows
        .iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
        .collect::<Result<std::collections::HashSet<_>, sqlx::Error>>()?;
    Ok(records
        .iter()
        .map(|r| (r.actor.clone(), r.key.clone()))
        .filter(|k| !written.contains(k))
        .collect())
}
