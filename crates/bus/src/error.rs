//! Errors of the bus adapter. The long-running loops retry every one of them with a
//! capped backoff; only configuration errors end a loop.

use probity_store::StoreError;
use thiserror::Error;

/// Boxed error of the NATS client (its error types are generic over an error kind).
pub type NatsSource = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, Error)]
pub enum BusError {
    /// The bus configuration cannot work (bad prefix, a backend without its pool).
    #[error("bus configuration: {0}")]
    Config(String),
    /// A NATS / JetStream operation failed; `op` names what was being done.
    #[error("nats {op}: {source}")]
    Nats {
        op: &'static str,
        #[source]
        source: NatsSource,
    },
    /// A message on the bus is not a valid Probity CloudEvent.
    #[error("invalid bus message: {0}")]
    Codec(String),
    /// The projector reported a gap where the feed is in commit order (in-process bus):
    /// the event is retried.
    #[error("projector reported a gap at {0}")]
    Gap(String),
    /// Reading the event log failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A checkpoint or lock query failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl BusError {
    /// Wraps a NATS client error with the name of the operation that failed.
    pub(crate) fn nats<E>(op: &'static str) -> impl FnOnce(E) -> BusError
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        move |err| BusError::Nats {
            op,
            source: Box::new(err),
        }
    }
}
