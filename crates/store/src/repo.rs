//! The cqrs-es event repositories behind [`crate::Executor`].
//!
//! Appends, on both backends, go through the database's group committer
//! ([`crate::group`]): concurrent commands are written together in one transaction with
//! one multi-row statement, each keeping its own optimistic lock (postgres-es' `persist`
//! writes one command per transaction, so it is not used for appends; ADR 0008).
//!
//! Postgres per-aggregate loads go through postgres-es' `PostgresEventRepository` on the
//! `events` table of this crate's migration. Its streaming reads unwrap database errors
//! inside a spawned task, so this module streams with its own queries instead.
//!
//! SQLite uses [`SqliteEventRepository`], written for this crate's schema; a batch's
//! commit wakes `EventLog::wait_for_new`. A violation of the
//! `(aggregate_type, aggregate_id, sequence)` uniqueness (SQLite extended codes 2067 and
//! 1555, Postgres 23505) is an optimistic-lock conflict.
//!
//! Only the plain event-store mode of cqrs-es is supported: snapshots are neither read nor
//! written (a snapshot update is refused rather than silently dropped).
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::Aggregate;
use futures::TryStreamExt;
use postgres_es::PostgresEventRepository;
use serde_json::Value;
use sqlx::{PgPool, Row, SqlitePool};

use crate::db::Shared;
use crate::group::Target;
use crate::{Backend, Db, StoreError};

/// Buffer of the replay streams (events read ahead of the consumer).
const STREAM_BUFFER: usize = 256;

const SELECT_AGGREGATE: &str =
    "SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
  FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3 ORDER BY sequence";

const SELECT_TYPE: &str =
    "SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
  FROM events WHERE aggregate_type = $1 ORDER BY position";

/// The event repository of one [`Db`]: postgres-es on Postgres, this crate's own
/// implementation on SQLite. Cheap to build; make one per use.
pub enum EventRepository {
    /// postgres-es appends and loads, this crate's streams.
    Postgres(PgEventRepository),
    /// This crate's SQLite repository.
    Sqlite(SqliteEventRepository),
}

impl EventRepository {
    /// The repository for `db`'s backend.
    pub fn new(db: &Db) -> Result<Self, StoreError> {
        Ok(match db.backend {
            Backend::Postgres => Self::Postgres(PgEventRepository::new(
                db.pg_pool()?.clone(),
                db.signal.clone(),
            )),
            Backend::Sqlite => Self::Sqlite(SqliteEventRepository::new(
                db.sqlite_pool()?.clone(),
                db.signal.clone(),
            )),
        })
    }
}

fn no_snapshots() -> PersistenceError {
    PersistenceError::UnknownError(
        "snapshots are not supported: use PersistedEventStore::new_event_store".into(),
    )
}

impl EventRepository {
    /// Appends one command's events with the rows it writes beside them, in one
    /// transaction (through the group committer).
    pub(crate) async fn append_with(
        &self,
        events: Vec<SerializedEvent>,
        writes: crate::CommandWrites,
    ) -> Result<(), crate::group::AppendError> {
        let (target, signal) = match self {
            Self::Postgres(repo) => (Target::Postgres(repo.pool.clone()), &repo.signal),
            Self::Sqlite(repo) => (
                Target::Sqlite(repo.pool.clone(), repo.signal.clone()),
                &repo.signal,
            ),
        };
        signal.group.append_with(&target, events, writes).await
    }
}

impl PersistedEventRepository for EventRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        match self {
            Self::Postgres(repo) => repo.inner.get_events::<A>(aggregate_id).await,
            Self::Sqlite(repo) => repo.select(A::TYPE, aggregate_id, 0).await,
        }
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        match self {
            Self::Postgres(repo) => {
                repo.inner
                    .get_last_events::<A>(aggregate_id, last_sequence)
                    .await
            }
            Self::Sqlite(repo) => repo.select(A::TYPE, aggregate_id, last_sequence).await,
        }
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        _aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        Ok(None)
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        if snapshot_update.is_some() {
            return Err(no_snapshots());
        }
        // Every append goes through the database's group committer (see `group`).
        let (target, signal) = match self {
            Self::Postgres(repo) => (Target::Postgres(repo.pool.clone()), &repo.signal),
            Self::Sqlite(repo) => (
                Target::Sqlite(repo.pool.clone(), repo.signal.clone()),
                &repo.signal,
            ),
        };
        signal.group.append(&target, events.to_vec()).await
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        Ok(match self {
            Self::Postgres(repo) => repo.stream(SELECT_AGGREGATE, A::TYPE, Some(aggregate_id)),
            Self::Sqlite(repo) => repo.stream(SELECT_AGGREGATE, A::TYPE, Some(aggregate_id)),
        })
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        Ok(match self {
            Self::Postgres(repo) => repo.stream(SELECT_TYPE, A::TYPE, None),
            Self::Sqlite(repo) => repo.stream(SELECT_TYPE, A::TYPE, None),
        })
    }
}

/// postgres-es on this crate's `events` table, plus error-reporting streams.
pub struct PgEventRepository {
    inner: PostgresEventRepository,
    pool: PgPool,
    signal: Arc<Shared>,
}

impl PgEventRepository {
    /// The repository on the `events` table of `pool`'s database.
    pub(crate) fn new(pool: PgPool, signal: Arc<Shared>) -> Self {
        // Table names: ours is `events`; the snapshot table is never touched in
        // event-store mode.
        Self {
            inner: PostgresEventRepository::new(pool.clone()),
            pool,
            signal,
        }
    }

    fn stream(
        &self,
        query: &'static str,
        aggregate_type: &str,
        aggregate_id: Option<&str>,
    ) -> ReplayStream {
        let (mut feed, stream) = ReplayStream::new(STREAM_BUFFER);
        let pool = self.pool.clone();
        let aggregate_type = aggregate_type.to_string();
        let aggregate_id = aggregate_id.map(str::to_string);
        tokio::spawn(async move {
            let mut q = sqlx::query(query).bind(&aggregate_type);
            if let Some(id) = &aggregate_id {
                q = q.bind(id).bind(0_i64);
            }
            let mut rows = q.fetch(&pool);
            loop {
                let item = match rows.try_next().await {
                    Ok(Some(row)) => pg_serialized(&row),
                    Ok(None) => return,
                    Err(error) => Err(persistence_error(error)),
                };
                let failed = item.is_err();
                if feed.push(item).await.is_err() || failed {
                    return;
                }
            }
        });
        stream
    }
}

fn pg_serialized(row: &sqlx::postgres::PgRow) -> Result<SerializedEvent, PersistenceError> {
    let sequence: i64 = row.try_get("sequence").map_err(persistence_error)?;
    Ok(SerializedEvent::new(
        row.try_get("aggregate_id").map_err(persistence_error)?,
        sequence_usize(sequence)?,
        row.try_get("aggregate_type").map_err(persistence_error)?,
        row.try_get("event_type").map_err(persistence_error)?,
        row.try_get("event_version").map_err(persistence_error)?,
        row.try_get("payload").map_err(persistence_error)?,
        row.try_get("metadata").map_err(persistence_error)?,
    ))
}

fn sequence_usize(sequence: i64) -> Result<usize, PersistenceError> {
    usize::try_from(sequence).map_err(|_| {
        PersistenceError::DeserializationError(format!("invalid sequence {sequence}").into())
    })
}

/// Maps a database error of an events statement to the cqrs-es error: a unique or
/// primary-key violation (SQLite 2067 / 1555, Postgres 23505) is an optimistic-lock
/// conflict, an unavailable database ([`crate::error::is_unavailable`]) a connection error.
pub fn persistence_error(error: sqlx::Error) -> PersistenceError {
    match &error {
        sqlx::Error::Database(db)
            if matches!(db.code().as_deref(), Some("2067" | "1555" | "23505")) =>
        {
            PersistenceError::OptimisticLockError
        }
        _ if crate::error::is_unavailable(&error) => {
            PersistenceError::ConnectionError(Box::new(error))
        }
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            PersistenceError::DeserializationError(Box::new(error))
        }
        _ => PersistenceError::UnknownError(Box::new(error)),
    }
}

/// The placeholders of row `row` (from 0) of a multi-row `VALUES` list with `width`
/// columns: `($1,$2,$3)` for row 0 and width 3, `($4,$5,$6)` for row 1.
pub fn row_placeholders(row: usize, width: usize) -> String {
    let first = row * width + 1;
    let list: Vec<String> = (first..first + width).map(|n| format!("${n}")).collect();
    format!("({})", list.join(","))
}

/// `recorded_at` as SQLite stores it: RFC 3339 UTC, six fractional digits, `Z`, so that
/// text order is time order.
pub fn sqlite_timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// This crate's cqrs-es repository for SQLite (see the module docs).
pub struct SqliteEventRepository {
    pool: SqlitePool,
    signal: Arc<Shared>,
}

impl SqliteEventRepository {
    pub(crate) fn new(pool: SqlitePool, signal: Arc<Shared>) -> Self {
        Self { pool, signal }
    }

    async fn select(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        after_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let after = i64::try_from(after_sequence).map_err(|_| {
            PersistenceError::UnknownError(format!("sequence {after_sequence} too large").into())
        })?;
        let rows = sqlx::query(SELECT_AGGREGATE)
            .bind(aggregate_type)
            .bind(aggregate_id)
            .bind(after)
            .fetch_all(&self.pool)
            .await
            .map_err(persistence_error)?;
        rows.iter().map(sqlite_serialized).collect()
    }

    fn stream(
        &self,
        query: &'static str,
        aggregate_type: &str,
        aggregate_id: Option<&str>,
    ) -> ReplayStream {
        let (mut feed, stream) = ReplayStream::new(STREAM_BUFFER);
        let pool = self.pool.clone();
        let aggregate_type = aggregate_type.to_string();
        let aggregate_id = aggregate_id.map(str::to_string);
        tokio::spawn(async move {
            let mut q = sqlx::query(query).bind(&aggregate_type);
            if let Some(id) = &aggregate_id {
                q = q.bind(id).bind(0_i64);
            }
            let mut rows = q.fetch(&pool);
            loop {
                let item = match rows.try_next().await {
                    Ok(Some(row)) => sqlite_serialized(&row),
                    Ok(None) => return,
                    Err(error) => Err(persistence_error(error)),
                };
                let failed = item.is_err();
                if feed.push(item).await.is_err() || failed {
                    return;
                }
            }
        });
        stream
    }
}

fn sqlite_serialized(row: &sqlx::sqlite::SqliteRow) -> Result<SerializedEvent, PersistenceError> {
    let sequence: i64 = row.try_get("sequence").map_err(persistence_error)?;
    let payload: String = row.try_get("payload").map_err(persistence_error)?;
    let metadata: String = row.try_get("metadata").map_err(persistence_error)?;
    Ok(SerializedEvent::new(
        row.try_get("aggregate_id").map_err(persistence_error)?,
        sequence_usize(sequence)?,
        row.try_get("aggregate_type").map_err(persistence_error)?,
        row.try_get("event_type").map_err(persistence_error)?,
        row.try_get("event_version").map_err(persistence_error)?,
        serde_json::from_str(&payload)?,
        serde_json::from_str(&metadata)?,
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn row_placeholders_number_the_rows_one_after_the_other() {
        assert_eq!(super::row_placeholders(0, 3), "($1,$2,$3)");
        assert_eq!(super::row_placeholders(1, 3), "($4,$5,$6)");
        assert_eq!(super::row_placeholders(2, 1), "($3)");
    }
}
