//! Runs commands against aggregates on the plain cqrs-es event store, checking an
//! expected version (`If-Match`) and retrying concurrency conflicts with backoff.
//!
//! One attempt is: load the aggregate from its events
//! (`PersistedEventStore::new_event_store`, never the snapshot or aggregate stores),
//! compare the expected version, `handle` the command with a fresh `EventSink`, and
//! `commit`. A commit that loses the race for the next sequence (an optimistic-lock
//! conflict) is retried from a fresh load after a jittered, exponentially growing pause,
//! unless the caller named the version it expected: then the conflict is the caller's
//! `VersionConflict`, as a retry would act on a state the caller has not seen.
//!
//! Within one process, commands on the same aggregate take turns (a striped lock held
//! from load to commit), so they do not burn their retries racing each other; the
//! optimistic lock still arbitrates between processes (several servers, the CLI).
use std::collections::HashMap;
use std::marker::PhantomData;
use std::time::Duration;

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{
    EventStoreAggregateContext, PersistedEventStore, PersistenceError, SerializedEvent,
};
use cqrs_es::{
    Aggregate, AggregateContext, AggregateError, DomainEvent, EventEnvelope, EventStore,
};
use rand::Rng;
use tracing::Instrument;

use crate::group::AppendError;
use crate::repo::EventRepository;
use crate::{Backend, CommandWrites, Db, EventLog, StoreError};

/// Command metadata stored with every event: `actor`, `role`, `unit`, `request_id`,
/// `correlation_id`, and [`CLOCK_OFFSET`] from a process on a shifted clock. Never
/// personal data.
pub type Metadata = HashMap<String, String>;

/// The metadata key of the clock offset (`PROBITY_CLOCK_OFFSET`) an event was recorded
/// under, absent on the real clock (see [`Db::set_clock_offset`]).
pub const CLOCK_OFFSET: &str = "clock_offset";

/// Attempts of one command (the first plus retries) before giving up with `Conflict`.
/// A conflict means another command on the aggregate committed (progress), so a command
/// keeps trying for a few seconds: with every batch sealing in the commit (ADR 0013), the
/// batches of several servers take turns on the chain head, and under load a command on
/// a hot aggregate can lose ten races in a row.
pub const MAX_ATTEMPTS: u32 = 20;
/// Pause before the first retry; doubles per attempt up to [`MAX_BACKOFF`].
pub const BASE_BACKOFF: Duration = Duration::from_millis(5);
/// Longest pause between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_millis(200);

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
    /// The command's idempotency record lost to another request with the same
    /// `Idempotency-Key`, which committed first: nothing of this command was written.
    #[error("another request with this Idempotency-Key committed first")]
    IdempotencyKeyTaken,
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

    fn store(&self) -> Result<PersistedEventStore<EventRepository, A>, StoreError> {
        Ok(PersistedEventStore::new_event_store(EventRepository::new(
            &self.db,
        )?))
    }

    /// Loads the aggregate, checks `expected_version` (its last sequence; 0 = new),
    /// handles `command` and commits. A conflict reloads and retries (the command is
    /// cloned for each attempt). Returns the committed events.
    ///
    /// Commands of this process on one aggregate take turns (see the module docs), so
    /// an aggregate's `handle` (and its services) must not itself execute commands on
    /// this database.
    #[tracing::instrument(
        name = "execute",
        skip(self, command, metadata),
        fields(aggregate_type = A::TYPE, aggregate_id = %aggregate_id, expected_version = ?expected_version)
    )]
    pub async fn execute(
        &self,
        aggregate_id: &str,
        command: A::Command,
        expected_version: Option<usize>,
        metadata: Metadata,
    ) -> Result<Vec<EventEnvelope<A>>, ExecuteError<A::Error>>
    where
        A::Command: Clone,
    {
        let mut executed = self
            .execute_with_history(aggregate_id, command, expected_version, metadata)
            .await?;
        let first_new = executed.history.len() - executed.new_events;
        Ok(executed.history.split_off(first_new))
    }

    /// Like [`Executor::execute`], but returns the aggregate's whole history after the
    /// command (the events it was decided on, then the new ones), so a caller can fold
    /// a view of the result without reading the log again.
    pub async fn execute_with_history(
        &self,
        aggregate_id: &str,
        command: A::Command,
        expected_version: Option<usize>,
        metadata: Metadata,
    ) -> Result<Executed<A>, ExecuteError<A::Error>>
    where
        A::Command: Clone,
    {
        self.execute_writing(aggregate_id, command, expected_version, metadata, |_| {
            Ok(CommandWrites::default())
        })
        .await
    }

    /// Like [`Executor::execute_with_history`], and commits what `writes` returns (data
    /// keys, an idempotency record: see [`crate::writes`]) in the same transaction as the
    /// events. `writes` is given the aggregate's whole history after the command (the new
    /// events last, as they will be stored) on each attempt; it is not called when the
    /// command decides no event.
    #[tracing::instrument(
        name = "command",
        skip_all,
        fields(aggregate_type = A::TYPE, events = tracing::field::Empty)
    )]
    pub async fn execute_writing<W>(
        &self,
        aggregate_id: &str,
        command: A::Command,
        expected_version: Option<usize>,
        metadata: Metadata,
        writes: W,
    ) -> Result<Executed<A>, ExecuteError<A::Error>>
    where
        A::Command: Clone,
        W: Fn(&[EventEnvelope<A>]) -> Result<CommandWrites, StoreError>,
    {
        let store = self.store()?;
        let repo = EventRepository::new(&self.db)?;
        // A server on a shifted clock says so in every event it records.
        let mut metadata = metadata;
        if let Some(offset) = self.db.clock_offset() {
            metadata.insert(CLOCK_OFFSET.to_string(), offset);
        }
        // A traced command names its span in its events (`traceparent`, `tracestate`):
        // the relay and the projectors continue its trace (ADR 0027).
        metadata.extend(crate::trace::current());
        let mut attempt: u32 = 1;
        loop {
            // Take turns with this process's other commands on the aggregate (held until
            // the commit, released during a backoff).
            let turn = self
                .db
                .signal
                .command_lock(A::TYPE, aggregate_id)
                .lock()
                .await;
            // What the plain event store's `load_aggregate` does, keeping the events.
            let history = store
                .load_events(aggregate_id)
                .await
                .map_err(aggregate_error)?;
            let mut context = context_of::<A>(aggregate_id, &history);
            let current = context.current_sequence;
            if let Some(expected) = expected_version {
                if expected != current {
                    return Err(ExecuteError::VersionConflict { expected, current });
                }
            }
            let sink = EventSink::<A>::default();
            context
                .aggregate()
                .handle(command.clone(), &self.services, &sink)
                .await
                .map_err(ExecuteError::Domain)?;
            let events = sink.collect().await;
            tracing::Span::current().record(
                "events",
                events
                    .iter()
                    .map(DomainEvent::event_type)
                    .collect::<Vec<_>>()
                    .join(",")
                    .as_str(),
            );
            if events.is_empty() {
                return Ok(Executed {
                    history,
                    new_events: 0,
                });
            }
            // What the plain event store's `commit` does (wrap, serialize, persist), with
            // the command's side rows in the same append.
            let new_events = events.len();
            let mut history = history;
            history.extend(
                events
                    .into_iter()
                    .zip(current + 1..)
                    .map(|(payload, sequence)| EventEnvelope {
                        aggregate_id: aggregate_id.to_string(),
                        sequence,
                        payload,
                        metadata: metadata.clone(),
                    }),
            );
            let first_new = history.len() - new_events;
            let serialized = history[first_new..]
                .iter()
                .map(SerializedEvent::try_from)
                .collect::<Result<Vec<_>, PersistenceError>>()
                .map_err(|e| aggregate_error(AggregateError::from(e)))?;
            let side = writes(&history)?;
            let commit = tracing::info_span!("commit", events = new_events, attempt);
            match repo.append_with(serialized, side).instrument(commit).await {
                Ok(()) => {
                    // Wake this process's tailers at once (SQLite's repository already
                    // did; Postgres' NOTIFY reaches other processes).
                    if self.db.backend == Backend::Postgres {
                        self.db.signal.bump();
                    }
                    tracing::debug!(attempt, events = new_events, "committed");
                    return Ok(Executed {
                        history,
                        new_events,
                    });
                }
                Err(AppendError::IdempotencyKeyTaken) => {
                    return Err(ExecuteError::IdempotencyKeyTaken);
                }
                Err(AppendError::Persistence(PersistenceError::OptimisticLockError)) => {
                    if let Some(expected) = expected_version {
                        // Someone else committed after our load: the caller's version is stale.
                        let current = EventLog::new(self.db.clone())
                            .last_sequence(A::TYPE, aggregate_id)
                            .await?;
                        return Err(ExecuteError::VersionConflict {
                            expected,
                            current: usize::try_from(current).unwrap_or(usize::MAX),
                        });
                    }
                    if attempt >= MAX_ATTEMPTS {
                        tracing::warn!(attempt, "concurrency conflict persisted after retries");
                        return Err(ExecuteError::Conflict);
                    }
                    let pause = backoff(attempt);
                    tracing::debug!(
                        attempt,
                        pause_ms = pause.as_millis() as u64,
                        "concurrency conflict; retrying"
                    );
                    drop(turn);
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                Err(AppendError::Persistence(other)) => {
                    return Err(aggregate_error(AggregateError::from(other)))
                }
            }
        }
    }

    /// All events of one aggregate, deserialized.
    pub async fn load(&self, aggregate_id: &str) -> Result<Vec<EventEnvelope<A>>, StoreError> {
        self.store()?.load_events(aggregate_id).await.map_err(|e| {
            match aggregate_error::<A::Error>(e) {
                ExecuteError::Store(e) => e,
                other => StoreError::Other(other.to_string()),
            }
        })
    }
}

/// An aggregate's history after a command.
#[derive(Debug)]
pub struct Executed<A: Aggregate> {
    /// Every event of the aggregate, in sequence order, the new ones last.
    pub history: Vec<EventEnvelope<A>>,
    /// How many of them the command added.
    pub new_events: usize,
}

/// The aggregate folded from its history, as the plain event store loads it.
fn context_of<A: Aggregate>(
    aggregate_id: &str,
    history: &[EventEnvelope<A>],
) -> EventStoreAggregateContext<A> {
    let mut aggregate = A::default();
    for envelope in history {
        aggregate.apply(envelope.payload.clone());
    }
    EventStoreAggregateContext {
        aggregate_id: aggregate_id.to_string(),
        aggregate,
        current_sequence: history.last().map(|e| e.sequence).unwrap_or(0),
        current_snapshot: None,
    }
}

/// The pause before retry number `attempt` (1-based): `BASE_BACKOFF * 2^(attempt-1)`,
/// capped at `MAX_BACKOFF`, then drawn uniformly from its upper half so that competing
/// writers spread out.
pub fn backoff(attempt: u32) -> Duration {
    let exp = BASE_BACKOFF
        .saturating_mul(1_u32 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let max = exp.as_micros() as u64;
    let micros = rand::thread_rng().gen_range(max / 2..=max);
    Duration::from_micros(micros)
}

/// Maps a cqrs-es error: the command's own error is `Domain`, everything else is a store
/// error (a database error keeps its `sqlx::Error`; a connection error is always one
/// that [`StoreError::is_unavailable`]).
fn aggregate_error<E: std::error::Error>(error: AggregateError<E>) -> ExecuteError<E> {
    match error {
        AggregateError::UserError(e) => ExecuteError::Domain(e),
        AggregateError::AggregateConflict => ExecuteError::Conflict,
        AggregateError::DatabaseConnectionError(e) => {
            ExecuteError::Store(match boxed_store_error(e) {
                // A connection error the group committer passed on as text: still unavailability.
                StoreError::Other(text) => StoreError::Unavailable(text),
                other => other,
            })
        }
        AggregateError::UnexpectedError(e) => ExecuteError::Store(boxed_store_error(e)),
        AggregateError::DeserializationError(e) => ExecuteError::Store(StoreError::Other(format!(
            "cannot deserialize an event: {e}"
        ))),
    }
}

fn boxed_store_error(error: Box<dyn std::error::Error + Send + Sync>) -> StoreError {
    match error.downcast::<sqlx::Error>() {
        Ok(sqlx_error) => StoreError::Database(*sqlx_error),
        Err(other) => match other.downcast::<serde_json::Error>() {
            Ok(json) => StoreError::Serde(*json),
            Err(other) => StoreError::Other(other.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_and_stays_capped() {
        for attempt in 1..=20 {
            let pause = backoff(attempt);
            let ceiling = BASE_BACKOFF
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(MAX_BACKOFF);
            assert!(
                pause <= ceiling,
                "attempt {attempt}: {pause:?} > {ceiling:?}"
            );
            assert!(
                pause >= ceiling / 2,
                "attempt {attempt}: {pause:?} < {:?}",
                ceiling / 2
            );
        }
        assert!(backoff(1) <= Duration::from_millis(5));
        assert!(backoff(10) >= Duration::from_millis(100));
    }
}
