//! Probity's event bus: every committed event leaves the event log exactly once (as far
//! as any reader can tell) and reaches the read-model projectors.
//!
//! Two transports share one contract:
//!
//! * **NATS JetStream** (when the server is configured with a NATS URL). The [`Relay`]
//!   tails the event log itself (a transactional outbox whose outbox *is* the log) and
//!   publishes each event as a CloudEvents 1.0 JSON message on
//!   `<prefix>.events.<aggregate_type>.<aggregate_id>` with
//!   `Nats-Msg-Id = <aggregate_type>:<aggregate_id>:<sequence>`; it saves its checkpoint
//!   only after JetStream acknowledged every message of a batch. [`run_nats_projector`]
//!   feeds one projector from a durable pull consumer with explicit acks.
//! * **In process** (embedded mode, no NATS). [`run_local_projector`] tails the log
//!   directly with a checkpoint of its own.
//!
//! Duplicates are expected and harmless: JetStream drops a re-published message whose id
//! it saw within the duplicate window ([`DUPLICATE_WINDOW`]), and projectors are
//! idempotent per aggregate sequence ([`probity_store::Applied::AlreadyApplied`]) beyond
//! it. See `docs/adr/0002-relay-and-bus.md`.

mod backoff;
mod checkpoint;
pub mod cloudevent;
pub mod config;
pub mod consumer;
pub mod error;
pub mod lease;
pub mod local;
pub mod relay;

pub use cloudevent::{message_id, CloudEvent, CLOUDEVENT_CONTENT_TYPE, CLOUDEVENT_SOURCE};
pub use config::{
    check_stream, ensure_stream, ensure_stream_patiently, parse_server_list, BusConfig,
    DEFAULT_WORK_MAX_AGE, DUPLICATE_WINDOW,
};
pub use consumer::{
    run_nats_projector, ConsumerOptions, NatsProjector, ProjectorMetrics, ProjectorStats,
};
pub use error::BusError;
pub use lease::{LeaseMetrics, LeaseOptions, PartitionedProjection};
pub use local::{run_local_projector, LocalProjector, LocalProjectorOptions};
pub use relay::{run_relay, Relay, RelayMetrics, RelayOptions, RelayStats, RELAY_LOCK_KEY};
