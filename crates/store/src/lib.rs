//! Probity's event store and the database it lives in.
//!
//! Postgres (through cqrs-es + postgres-es for appends, with this crate's own migration
//! adding a global position, the writing transaction's id and the recorded time) or
//! embedded SQLite (this crate's own cqrs-es repository). This crate also owns the whole
//! schema (`migrations/postgres`, `migrations/sqlite`), the commit-order-safe reads used
//! by the relay, replay and history, and the command executor that retries concurrency
//! conflicts.
//!
//! The public names of this file are a fixed interface shared by all crates.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub mod db;
pub mod error;
pub mod executor;
pub mod group;
pub mod hash;
pub mod index;
pub mod keys;
pub mod lease;
pub mod log;
pub mod redact;
pub mod repo;
pub mod sealing;
pub mod trace;
pub mod writes;

pub use db::{clock_offset_label, Backend, Db};
pub use error::StoreError;
pub use executor::{ExecuteError, Executed, Executor, Metadata, CLOCK_OFFSET};
pub use index::{PersonIndex, Reserved};
pub use keys::KeyStore;
pub use lease::Lease;
pub use log::EventLog;
pub use redact::redact_personal;
pub use repo::EventRepository;
pub use writes::{
    CommandWrites, IdempotencyRecord, IdempotencyStore, NewKey, Recorded, StoredResponse,
};

/// One committed event as stored, with its place in the global order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Global position: unique, increasing in insert order (not necessarily commit order).
    pub position: i64,
    /// Commit-order key: Postgres transaction id (`pg_current_xact_id()`), SQLite position.
    pub tx_id: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// Per-aggregate sequence, 1..n without gaps.
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: serde_json::Value,
    /// Actor, role, unit, request and correlation ids (cqrs-es metadata).
    pub metadata: serde_json::Value,
    pub recorded_at: DateTime<Utc>,
}

impl StoredEvent {
    /// The event in its wire form (`probity_domain::wire`): every sealed personal block in
    /// payload and metadata replaced by its redaction marker. What the bus carries, what
    /// histories show, and what every read-model fold reads.
    pub fn to_wire(&self) -> StoredEvent {
        StoredEvent {
            position: self.position,
            tx_id: self.tx_id,
            aggregate_type: self.aggregate_type.clone(),
            aggregate_id: self.aggregate_id.clone(),
            sequence: self.sequence,
            event_type: self.event_type.clone(),
            event_version: self.event_version.clone(),
            payload: Self::wire_payload(&self.payload).into_owned(),
            metadata: Self::wire_payload(&self.metadata).into_owned(),
            recorded_at: self.recorded_at,
        }
    }

    /// [`StoredEvent::to_wire`] in place, for pages read from the store.
    pub fn into_wire(mut self) -> StoredEvent {
        redact_personal(&mut self.payload);
        redact_personal(&mut self.metadata);
        self
    }

    /// A stored payload in wire form (see [`StoredEvent::to_wire`]); idempotent. Borrowed
    /// as it is when it holds no sealed block (most events), copied and redacted otherwise.
    pub fn wire_payload(payload: &serde_json::Value) -> std::borrow::Cow<'_, serde_json::Value> {
        if !redact::contains_personal(payload) {
            return std::borrow::Cow::Borrowed(payload);
        }
        let mut wire = payload.clone();
        redact_personal(&mut wire);
        std::borrow::Cow::Owned(wire)
    }
}

/// A place in the commit-safe global order `(tx_id, position)`; `Checkpoint::ZERO` is
/// before everything.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Checkpoint {
    pub tx_id: i64,
    pub position: i64,
}

impl Checkpoint {
    pub const ZERO: Checkpoint = Checkpoint {
        tx_id: 0,
        position: 0,
    };
    pub fn of(event: &StoredEvent) -> Self {
        Checkpoint {
            tx_id: event.tx_id,
            position: event.position,
        }
    }
}

/// What a projector did with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The view changed (and its checkpoint moved) in one transaction.
    Applied,
    /// Already applied earlier (a redelivery): nothing changed.
    AlreadyApplied,
    /// An earlier event of the same aggregate has not been applied yet: try again later.
    Gap,
}

/// A read-model projector. Implementations write their view change and their checkpoint
/// (the last applied sequence per aggregate) in one database transaction, so a
/// redelivered event has no second effect and an out-of-order one reports `Gap`.
///
/// Events reach a projector in their wire form ([`StoredEvent::to_wire`]): from the bus,
/// from the in-process bus and from rebuild alike.
#[async_trait::async_trait]
pub trait Projector: Send + Sync {
    /// Stable name: the durable consumer name and the checkpoint key.
    fn name(&self) -> &'static str;
    /// Aggregate types this projector wants (others are acknowledged and skipped).
    fn aggregate_types(&self) -> &'static [&'static str];
    async fn handle(&self, event: &StoredEvent) -> Result<Applied, StoreError>;
    /// Applies a batch of events (any order, any aggregates, copies allowed) and answers
    /// for each, in the order given, what `handle` would have answered had the events
    /// come one at a time in sequence order per aggregate; events of types not in
    /// `aggregate_types` are answered `AlreadyApplied` untouched. `Err`: nothing of the batch
    /// is known to be applied; every event may be offered again (redelivered ones then
    /// answer `AlreadyApplied`). The default handles them one by one in sequence order; the projectors of
    /// `probity-views` apply the whole batch in one transaction.
    async fn handle_batch(&self, events: &[StoredEvent]) -> Result<Vec<Applied>, StoreError> {
        let wanted = self.aggregate_types();
        let mut order: Vec<usize> = (0..events.len())
            .filter(|&i| wanted.contains(&events[i].aggregate_type.as_str()))
            .collect();
        order.sort_by_key(|&i| events[i].sequence);
        let mut outcomes = vec![Applied::AlreadyApplied; events.len()];
        for i in order {
            outcomes[i] = self.handle(&events[i]).await?;
        }
        Ok(outcomes)
    }
}
