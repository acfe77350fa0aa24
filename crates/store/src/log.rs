//! Reads of the event log: commit-order-safe tailing, per-aggregate replay, as-of.
//!
//! Tailing (`read_after`) walks the global order `(tx_id, position)`. On Postgres it only
//! returns events of transactions older than every transaction still running, so an
//! event can never appear behind a reader's checkpoint after the reader moved past it
//! (docs/adr/0001-event-store.md explains why). On SQLite writers are serialized, so
//! `position` order is commit order and `tx_id = position`.
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::repo::sqlite_timestamp;
use crate::{Backend, Checkpoint, Db, StoreError, StoredEvent};

/// The columns of a [`StoredEvent`], in both schemas.
const COLUMNS: &str =
    "position, tx_id, aggregate_type, aggregate_id, sequence, event_type, event_version,
    payload, metadata, recorded_at";

/// Read side of the event log, shared by the relay, the in-process bus, rebuild and history.
///
/// Each value (and each clone) remembers which "new events" signal it has already seen,
/// so a signal that arrives between a `read_after` and the next `wait_for_new` is not
/// lost: that wait returns at once.
#[derive(Debug)]
pub struct EventLog {
    pub db: Db,
    seen: AtomicU64,
}

impl Clone for EventLog {
    fn clone(&self) -> Self {
        Self {
            db: self.db.clone(),
            seen: AtomicU64::new(self.seen.load(Ordering::SeqCst)),
        }
    }
}

impl EventLog {
    pub fn new(db: Db) -> Self {
        let seen = AtomicU64::new(db.signal.generation.load(Ordering::SeqCst));
        Self { db, seen }
    }

    /// Up to `limit` committed events after `after` in the commit-safe order
    /// `(tx_id, position)`. Never returns an event while an earlier one may still commit.
    pub async fn read_after(
        &self,
        after: Checkpoint,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let limit = limit.max(0);
        match self.db.backend {
            Backend::Postgres => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM events
                      WHERE (tx_id, position) > ($1, $2)
                        AND tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
                      ORDER BY tx_id, position
                      LIMIT $3"
                );
                let rows = sqlx::query(&sql)
                    .bind(after.tx_id)
                    .bind(after.position)
                    .bind(limit)
                    .fetch_all(self.db.pg_pool()?)
                    .await?;
                rows.iter().map(pg_stored).collect()
            }
            Backend::Sqlite => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2"
                );
                let rows = sqlx::query(&sql)
                    .bind(after.position)
                    .bind(limit)
                    .fetch_all(self.db.sqlite_pool()?)
                    .await?;
                rows.iter().map(sqlite_stored).collect()
            }
        }
    }

    /// One aggregate's events in sequence order, optionally only those recorded at or
    /// before `as_of`.
    pub async fn read_aggregate(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.read_aggregate_page(aggregate_type, aggregate_id, 0, as_of, i64::MAX)
            .await
    }

    /// A page of one aggregate's events: up to `limit` after sequence `after`, in
    /// sequence order, optionally only those recorded at or before `as_of`. Reads only
    /// the page (the primary key walked from `after`), whatever the aggregate's length.
    pub async fn read_aggregate_page(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        after: i64,
        as_of: Option<DateTime<Utc>>,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let limit = limit.max(0);
        match self.db.backend {
            Backend::Postgres => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM events
                      WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3
                        AND ($4::timestamptz IS NULL OR recorded_at <= $4)
                      ORDER BY sequence
                      LIMIT $5"
                );
                let rows = sqlx::query(&sql)
                    .bind(aggregate_type)
                    .bind(aggregate_id)
                    .bind(after)
                    .bind(as_of)
                    .bind(limit)
                    .fetch_all(self.db.pg_pool()?)
                    .await?;
                rows.iter().map(pg_stored).collect()
            }
            Backend::Sqlite => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM events
                      WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3
                        AND ($4 IS NULL OR recorded_at <= $4)
                      ORDER BY sequence
                      LIMIT $5"
                );
                let rows = sqlx::query(&sql)
                    .bind(aggregate_type)
                    .bind(aggregate_id)
                    .bind(after)
                    .bind(as_of.map(sqlite_timestamp))
                    .bind(limit)
                    .fetch_all(self.db.sqlite_pool()?)
                    .await?;
                rows.iter().map(sqlite_stored).collect()
            }
        }
    }

    /// Whether any event of one aggregate was recorded after `t` (so the aggregate as it
    /// stood at `t` is not the whole of it).
    pub async fn recorded_after(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        t: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let sql = "SELECT COUNT(*) FROM (SELECT 1 FROM events
                    WHERE aggregate_type = $1 AND aggregate_id = $2 AND recorded_at > $3
                    LIMIT 1) AS later";
        let n = match self.db.backend {
            Backend::Postgres => {
                sqlx::query_scalar::<_, i64>(sql)
                    .bind(aggregate_type)
                    .bind(aggregate_id)
                    .bind(t)
                    .fetch_one(self.db.pg_pool()?)
                    .await?
            }
            Backend::Sqlite => {
                sqlx::query_scalar::<_, i64>(sql)
                    .bind(aggregate_type)
                    .bind(aggregate_id)
                    .bind(sqlite_timestamp(t))
                    .fetch_one(self.db.sqlite_pool()?)
                    .await?
            }
        };
        Ok(n > 0)
    }

    /// Up to `limit` events of one aggregate type, newest first (descending `position`),
    /// only those whose aggregate id starts with `id_prefix` when given, and only below
    /// position `before` when given (the cursor of the previous page). For listings such
    /// as the access log, not for tailing: it does not wait for older transactions.
    pub async fn read_type_newest_first(
        &self,
        aggregate_type: &str,
        id_prefix: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let limit = limit.max(0);
        match self.db.backend {
            Backend::Postgres => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM events
                      WHERE aggregate_type = $1
                        AND ($2::text IS NULL OR left(aggregate_id, length($2::text)) = $2::text)
                        AND ($3::bigint IS NULL OR position < $3::bigint)
                      ORDER BY position DESC
                      LIMIT $4"
                );
                let rows = sqlx::query(&sql)
                    .bind(aggregate_type)
                    .bind(id_prefix)
                    .bind(before)
                    .bind(limit)
                    .fetch_all(self.db.pg_pool()?)
                    .await?;
                rows.iter().map(pg_stored).collect()
            }
            Backend::Sqlite => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM events
                      WHERE aggregate_type = $1
                        AND ($2 IS NULL OR substr(aggregate_id, 1, length($2)) = $2)
                        AND ($3 IS NULL OR position < $3)
                      ORDER BY position DESC
                      LIMIT $4"
                );
                let rows = sqlx::query(&sql)
                    .bind(aggregate_type)
                    .bind(id_prefix)
                    .bind(before)
                    .bind(limit)
                    .fetch_all(self.db.sqlite_pool()?)
                    .await?;
                rows.iter().map(sqlite_stored).collect()
            }
        }
    }

    /// The last sequence of one aggregate (its version; 0 when it has no events).
    pub async fn last_sequence(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<i64, StoreError> {
        let sql = "SELECT COALESCE(MAX(sequence), 0) FROM events WHERE aggregate_type = $1 AND aggregate_id = $2";
        Ok(match self.db.backend {
            Backend::Postgres => {
                sqlx::query_scalar::<_, i64>(sql)
                    .bind(aggregate_type)
                    .bind(aggregate_id)
                    .fetch_one(self.db.pg_pool()?)
                    .await?
            }
            Backend::Sqlite => {
                sqlx::query_scalar::<_, i64>(sql)
                    .bind(aggregate_type)
                    .bind(aggregate_id)
                    .fetch_one(self.db.sqlite_pool()?)
                    .await?
            }
        })
    }

    /// Number of events in the log.
    pub async fn count(&self) -> Result<i64, StoreError> {
        let sql = "SELECT COUNT(*) FROM events";
        Ok(match self.db.backend {
            Backend::Postgres => {
                sqlx::query_scalar::<_, i64>(sql)
                    .fetch_one(self.db.pg_pool()?)
                    .await?
            }
            Backend::Sqlite => {
                sqlx::query_scalar::<_, i64>(sql)
                    .fetch_one(self.db.sqlite_pool()?)
                    .await?
            }
        })
    }

    /// Resolves when new events may have been committed (Postgres LISTEN/NOTIFY on
    /// channel `probity_events`, SQLite an in-process notify from the executor), or after
    /// `fallback` at the latest (the polling fallback).
    pub async fn wait_for_new(&self, fallback: Duration) {
        self.db.ensure_listener();
        let signal = &self.db.signal;
        let notified = signal.notify.notified();
        tokio::pin!(notified);
        // Register before looking at the counter, so a bump in between still wakes us.
        notified.as_mut().enable();
        let now = signal.generation.load(Ordering::SeqCst);
        if now != self.seen.swap(now, Ordering::SeqCst) {
            return;
        }
        let _ = tokio::time::timeout(fallback, notified).await;
        self.seen
            .store(signal.generation.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

fn pg_stored(row: &sqlx::postgres::PgRow) -> Result<StoredEvent, StoreError> {
    use sqlx::Row;
    Ok(StoredEvent {
        position: row.try_get("position")?,
        tx_id: row.try_get("tx_id")?,
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        sequence: row.try_get("sequence")?,
        event_type: row.try_get("event_type")?,
        event_version: row.try_get("event_version")?,
        payload: row.try_get("payload")?,
        metadata: row.try_get("metadata")?,
        recorded_at: row.try_get("recorded_at")?,
    })
}

fn sqlite_stored(row: &sqlx::sqlite::SqliteRow) -> Result<StoredEvent, StoreError> {
    use sqlx::Row;
    let payload: String = row.try_get("payload")?;
    let metadata: String = row.try_get("metadata")?;
    let recorded_at: String = row.try_get("recorded_at")?;
    let recorded_at = DateTime::parse_from_rfc3339(&recorded_at)
        .map_err(|e| StoreError::Other(format!("bad recorded_at {recorded_at:?}: {e}")))?
        .with_timezone(&Utc);
    Ok(StoredEvent {
        position: row.try_get("position")?,
        tx_id: row.try_get("tx_id")?,
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        sequence: row.try_get("sequence")?,
        event_type: row.try_get("event_type")?,
        event_version: row.try_get("event_version")?,
        payload: serde_json::from_str(&payload)?,
        metadata: serde_json::from_str(&metadata)?,
        recorded_at,
    })
}
