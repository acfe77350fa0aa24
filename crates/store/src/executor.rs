//! Runs commands against aggregates on the plain cqrs-es event store, checking an
//! expected version (`If-Match`) and retrying concurrency conflicts with backoff.
use std::collections::HashMap;
use std::marker::PhantomData;

use cqrs_es::{Aggregate, EventEnvelope};

use crate::{Db, StoreError};

/// Command metadata stored with every event: `actor`, `role`, `unit`, `request_id`,
/// `correlation_id`. Never personal data.
pub type Metadata = HashMap<String, String>;

#[derive(Debug, thiserror::Error)]
pub enum ExecuteError<E: std::error::Error> {
    #[error(transparent)]
    Domain(E),
    /// `If-Match` named another version than the current one.
    #[error("version conflict: expected {expected}, current {current}")]
    VersionConflict { expected: usize, current: usize },
    /// Concurrency conflicts survived every retry.
    #[error("concurrency conflict persisted after retries")]
    Conflict,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Executes commands of aggregate `A`.
pub struct Executor<A: Aggregate> {
    pub db: Db,
    pub services: A::Services,
    _a: PhantomData<A>,
}

impl<A: Aggregate> Executor<A> {
    pub fn new(db: Db, services: A::Services) -> Self {
        Self {
            db,
            services,
            _a: PhantomData,
        }
    }

    /// Loads the aggregate, checks `expected_version` (its last sequence; 0 = new),
    /// handles `command` and commits. A conflict reloads and retries (the command is
    /// cloned for each attempt). Returns the committed events.
    pub async fn execute(
        &self,
        _aggregate_id: &str,
        _command: A::Command,
        _expected_version: Option<usize>,
        _metadata: Metadata,
    ) -> Result<Vec<EventEnvelope<A>>, ExecuteError<A::Error>>
    where
        A::Command: Clone,
    {
        Err(ExecuteError::Store(StoreError::Other("STORE HELPER".into())))
    }

    /// All events of one aggregate, deserialized.
    pub async fn load(&self, _aggregate_id: &str) -> Result<Vec<EventEnvelope<A>>, StoreError> {
        Err(StoreError::Other("STORE HELPER".into()))
    }
}
