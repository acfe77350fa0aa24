//! Reads of the event log: commit-order-safe tailing, per-aggregate replay, as-of.
use chrono::{DateTime, Utc};

use crate::{Checkpoint, Db, StoreError, StoredEvent};

/// Read side of the event log, shared by the relay, the in-process bus, rebuild and history.
#[derive(Clone, Debug)]
pub struct EventLog {
    pub db: Db,
}

impl EventLog {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Up to `limit` committed events after `after` in the commit-safe order
    /// `(tx_id, position)`. Never returns an event while an earlier one may still commit.
    pub async fn read_after(&self, _after: Checkpoint, _limit: i64) -> Result<Vec<StoredEvent>, StoreError> {
        Err(StoreError::Other("STORE HELPER".into()))
    }

    /// One aggregate's events in sequence order, optionally only those recorded at or
    /// before `as_of`.
    pub async fn read_aggregate(
        &self,
        _aggregate_type: &str,
        _aggregate_id: &str,
        _as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        Err(StoreError::Other("STORE HELPER".into()))
    }

    /// Number of events in the log.
    pub async fn count(&self) -> Result<i64, StoreError> {
        Err(StoreError::Other("STORE HELPER".into()))
    }

    /// Resolves when new events may have been committed (Postgres LISTEN/NOTIFY on
    /// channel `probity_events`, SQLite an in-process notify from the executor), or after
    /// `fallback` at the latest (the polling fallback).
    pub async fn wait_for_new(&self, _fallback: std::time::Duration) {}
}
