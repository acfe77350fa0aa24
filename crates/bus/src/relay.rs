//! The relay: tails the event log in commit-safe order and publishes every event to
//! JetStream, saving its checkpoint only after the server acknowledged the messages.
//!
//! The event log is its own outbox: no second table is written in the command
//! transaction. A batch is read with `EventLog::read_after(checkpoint, batch_size)`,
//! published pipelined (every message sent, then the acks awaited in order: a publish is
//! durable only once its `PublishAck` arrived), and the checkpoint of the acknowledged
//! prefix is saved. While a full batch's acks are awaited, the next batch is already
//! read (and dropped should anything fail). Any failure backs off (capped exponential) and resumes from the saved
//! checkpoint; what is published twice is dropped by JetStream through `Nats-Msg-Id`
//! within [`crate::DUPLICATE_WINDOW`] and by the projectors' per-aggregate idempotency
//! beyond it.
//!
//! On Postgres one relay is active at a time: it holds the session advisory lock
//! [`RELAY_LOCK_KEY`] on a connection of its own (detached from the pool, so the lock
//! goes away with the connection when the process or task dies). A standby retries the
//! lock every second. On SQLite (embedded, one process) no lock is taken.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, message::PublishMessage};
use chrono::Utc;
use probity_store::{Backend, Checkpoint, EventLog, StoredEvent};
use sqlx::{Connection, PgConnection};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn, Instrument};

use crate::backoff::Backoff;
use crate::checkpoint::{self, Table};
use crate::cloudevent::{self, message_id, CLOUDEVENT_CONTENT_TYPE};
use crate::{check_stream, ensure_stream, BusConfig, BusError};

/// Key of the Postgres session advisory lock held by the active relay ("PRBRELAY").
/// Advisory locks are per database, so one database serves one active relay.
pub const RELAY_LOCK_KEY: i64 = 0x5052_4252_454c_4159;

/// Tuning of the relay loop.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// Events read and published per batch (one checkpoint write per batch).
    pub batch_size: i64,
    /// Polling fallback of `wait_for_new` when caught up (NOTIFY usually wakes it first).
    pub poll_interval: Duration,
    /// First delay after a failure; doubles per consecutive failure.
    pub min_backoff: Duration,
    /// Cap of the failure backoff. Short: after a NATS node loss the relay's retries are
    /// what notices the stream's new leader (docs/deploy.md), and a retry costs one
    /// request.
    pub max_backoff: Duration,
    /// How often a standby retries the advisory lock.
    pub standby_retry: Duration,
    /// How often the active relay checks that its lock connection is still alive.
    pub lock_check_interval: Duration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self {
            batch_size: 1024,
            poll_interval: Duration::from_millis(200),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            standby_retry: Duration::from_secs(1),
            lock_check_interval: Duration::from_secs(1),
        }
    }
}

/// Counters of one relay, cheap to update and to read from `/metrics` or `/readyz`.
#[derive(Debug, Default)]
pub struct RelayMetrics {
    /// Messages JetStream stored as new.
    pub published: AtomicU64,
    /// Messages JetStream acknowledged as duplicates (re-publishes after a failure).
    pub duplicates: AtomicU64,
    /// Failed batches (each followed by a backoff).
    pub errors: AtomicU64,
    /// The saved checkpoint: its commit-order key...
    pub last_tx_id: AtomicI64,
    /// ...and its global position.
    pub last_position: AtomicI64,
    /// Milliseconds from the recording of the last published event to its ack.
    pub last_lag_ms: AtomicI64,
    /// This relay holds the lock (always true on SQLite while running).
    pub leader: AtomicBool,
    /// The last read returned less than a full batch: nothing is waiting.
    pub caught_up: AtomicBool,
}

/// A plain copy of [`RelayMetrics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RelayStats {
    /// Messages stored as new.
    pub published: u64,
    /// Messages acknowledged as duplicates.
    pub duplicates: u64,
    /// Failed batches.
    pub errors: u64,
    /// The saved checkpoint.
    pub last_checkpoint: Checkpoint,
    /// Recording-to-ack time of the last published event.
    pub last_lag_ms: i64,
    /// This relay is the active one.
    pub leader: bool,
    /// Nothing was waiting at the last read.
    pub caught_up: bool,
}

impl RelayMetrics {
    pub fn snapshot(&self) -> RelayStats {
        RelayStats {
            published: self.published.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            last_checkpoint: Checkpoint {
                tx_id: self.last_tx_id.load(Ordering::Relaxed),
                position: self.last_position.load(Ordering::Relaxed),
            },
            last_lag_ms: self.last_lag_ms.load(Ordering::Relaxed),
            leader: self.leader.load(Ordering::Relaxed),
            caught_up: self.caught_up.load(Ordering::Relaxed),
        }
    }

    fn record_checkpoint(&self, at: Checkpoint) {
        self.last_tx_id.store(at.tx_id, Ordering::Relaxed);
        self.last_position.store(at.position, Ordering::Relaxed);
    }
}

/// The relay from the event log to JetStream. Build it, keep [`Relay::metrics`], then
/// [`Relay::run`] it until the shutdown token is cancelled.
pub struct Relay {
    log: EventLog,
    js: jetstream::Context,
    cfg: BusConfig,
    opts: RelayOptions,
    metrics: Arc<RelayMetrics>,
}

/// How a term of leadership ended.
enum LeadEnd {
    Shutdown,
    LockLost,
}

/// What one pump did.
struct Pumped {
    checkpoint: Checkpoint,
    read: usize,
}

impl Relay {
    pub fn new(log: EventLog, js: jetstream::Context, cfg: BusConfig) -> Self {
        Self {
            log,
            js,
            cfg,
            opts: RelayOptions::default(),
            metrics: Arc::new(RelayMetrics::default()),
        }
    }

    pub fn with_options(mut self, opts: RelayOptions) -> Self {
        self.opts = opts;
        self
    }

    /// Shared counters of this relay.
    pub fn metrics(&self) -> Arc<RelayMetrics> {
        Arc::clone(&self.metrics)
    }

    /// The checkpoint key: the stream name, so each bus prefix has its own progress.
    fn key(&self) -> String {
        self.cfg.stream_name()
    }

    /// Runs until `shutdown` is cancelled. Failures are retried, never returned; only a
    /// configuration that cannot work is an error.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), BusError> {
        self.cfg.validate()?;
        if self.log.db.backend == Backend::Postgres && self.log.db.pg.is_none() {
            return Err(BusError::Config(
                "Postgres backend without a Postgres pool".into(),
            ));
        }
        let span = tracing::info_span!("relay", stream = %self.cfg.stream_name());
        async move {
            loop {
                let lock = match self.log.db.backend {
                    Backend::Postgres => match self.acquire_lock(&shutdown).await {
                        Some(conn) => Some(conn),
                        None => return Ok(()),
                    },
                    Backend::Sqlite => None,
                };
                info!("relay active");
                self.metrics.leader.store(true, Ordering::Relaxed);
                let end = self.lead(lock, &shutdown).await;
                self.metrics.leader.store(false, Ordering::Relaxed);
                match end {
                    LeadEnd::Shutdown => {
                        info!("relay stopped");
                        return Ok(());
                    }
                    LeadEnd::LockLost => warn!("relay lost its lock connection; becoming standby"),
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Waits until this relay holds the advisory lock (`Some`) or shutdown (`None`).
    async fn acquire_lock(&self, shutdown: &CancellationToken) -> Option<PgConnection> {
        let pool = self.log.db.pg.as_ref()?;
        let mut conn: Option<PgConnection> = None;
        let mut announced = false;
        loop {
            if shutdown.is_cancelled() {
                return None;
            }
            if conn.is_none() {
                match pool.acquire().await {
                    // Detached: the lock must end with this connection, never go back to the pool.
                    Ok(c) => conn = Some(c.detach()),
                    Err(e) => warn!(error = %e, "relay cannot get a lock connection"),
                }
            }
            if let Some(c) = conn.as_mut() {
                match sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
                    .bind(RELAY_LOCK_KEY)
                    .fetch_one(&mut *c)
                    .await
                {
                    Ok(true) => return conn,
                    Ok(false) => {
                        if !announced {
                            info!("another relay holds the lock; standing by");
                            announced = true;
                        }
                    }
                    Err(e) => {
                        warn!(error = %e, "relay lock query failed");
                        conn = None;
                    }
                }
            }
            if sleep_or_shutdown(self.opts.standby_retry, shutdown).await {
                return None;
            }
        }
    }

    /// Publishes while leading: until shutdown or until the lock connection fails.
    async fn lead(&self, mut lock: Option<PgConnection>, shutdown: &CancellationToken) -> LeadEnd {
        let key = self.key();
        let mut backoff = Backoff::new(self.opts.min_backoff, self.opts.max_backoff);
        let mut checkpoint: Option<Checkpoint> = None;
        let mut stream_ready = false;
        // Created or updated once; after a failure only checked (no meta leader needed).
        let mut stream_ensured = false;
        let mut last_lock_check = Instant::now();
        // The next page, read while the previous one's acks were awaited.
        let mut ahead: Option<Vec<StoredEvent>> = None;
        loop {
            if shutdown.is_cancelled() {
                if let Some(conn) = lock.take() {
                    let _ = conn.close().await;
                }
                return LeadEnd::Shutdown;
            }
            if let Some(conn) = lock.as_mut() {
                if last_lock_check.elapsed() >= self.opts.lock_check_interval {
                    if let Err(e) = conn.ping().await {
                        warn!(error = %e, "relay lock connection failed");
                        return LeadEnd::LockLost;
                    }
                    last_lock_check = Instant::now();
                }
            }
            let prefetched = ahead.take();
            let step = async {
                if !stream_ready {
                    if stream_ensured {
                        check_stream(&self.js, &self.cfg).await?;
                    } else {
                        ensure_stream(&self.js, &self.cfg).await?;
                        stream_ensured = true;
                    }
                    stream_ready = true;
                }
                let from = match checkpoint {
                    Some(cp) => cp,
                    None => {
                        let cp = checkpoint::load(&self.log.db, Table::Relay, &key).await?;
                        debug!(tx_id = cp.tx_id, position = cp.position, "relay resumes");
                        checkpoint = Some(cp);
                        cp
                    }
                };
                self.pump(from, &key, prefetched).await
            };
            match step.await {
                Ok((pumped, next)) => {
                    ahead = next;
                    backoff.reset();
                    checkpoint = Some(pumped.checkpoint);
                    let caught_up = (pumped.read as i64) < self.opts.batch_size;
                    self.metrics.caught_up.store(caught_up, Ordering::Relaxed);
                    if caught_up {
                        tokio::select! {
                            _ = self.log.wait_for_new(self.opts.poll_interval) => {}
                            _ = shutdown.cancelled() => {}
                        }
                    }
                }
                Err(e) => {
                    self.metrics.errors.fetch_add(1, Ordering::Relaxed);
                    let delay = backoff.next_delay();
                    warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "relay batch failed; resuming from the saved checkpoint");
                    checkpoint = None;
                    if matches!(e, BusError::Nats { .. }) {
                        stream_ready = false;
                    }
                    // Shutdown during the sleep is seen at the top of the loop.
                    sleep_or_shutdown(delay, shutdown).await;
                }
            }
        }
    }

    /// Publishes one batch after `from` (`prefetched`, or read now) and saves the
    /// checkpoint of the acknowledged prefix. While the acks are awaited, a full batch
    /// has the next one read (returned for the next call; dropped on any failure, so a
    /// retry always starts from the saved checkpoint).
    async fn pump(
        &self,
        from: Checkpoint,
        key: &str,
        prefetched: Option<Vec<StoredEvent>>,
    ) -> Result<(Pumped, Option<Vec<StoredEvent>>), BusError> {
        let events = match prefetched {
            Some(events) => events,
            None => self.log.read_after(from, self.opts.batch_size).await?,
        };
        let Some(last_read) = events.last().map(Checkpoint::of) else {
            return Ok((
                Pumped {
                    checkpoint: from,
                    read: 0,
                },
                None,
            ));
        };
        let full = events.len() as i64 >= self.opts.batch_size;
        let span = tracing::debug_span!("relay_batch", events = events.len());
        async {
            // Send everything first (pipelined), then await the acks in order.
            let mut acks = Vec::with_capacity(events.len());
            // One span per message, in the trace of the command that recorded the event,
            // from its encoding until its ack; the message carries it (ADR 0027).
            let mut spans = Vec::with_capacity(events.len());
            for event in &events {
                let publish_span = tracing::info_span!(
                    "relay.publish",
                    event_type = %event.event_type,
                    sequence = event.sequence,
                    position = event.position,
                );
                probity_store::trace::follow(&publish_span, &event.metadata);
                let body = publish_span.in_scope(|| cloudevent::encode(event))?;
                spans.push(publish_span);
                let publish = PublishMessage::build()
                    .payload(body.clone())
                    .message_id(message_id(event))
                    .header("Content-Type", CLOUDEVENT_CONTENT_TYPE);
                // Partitioned projection (ADR 0026): the same message, on the work stream.
                let work = if self.cfg.partitions > 0 {
                    let publish = PublishMessage::build()
                        .payload(body.clone())
                        .message_id(message_id(event))
                        .header("Content-Type", CLOUDEVENT_CONTENT_TYPE);
                    Some(
                        self.js
                            .send_publish(
                                self.cfg
                                    .work_subject_for(&event.aggregate_type, &event.aggregate_id),
                                publish,
                            )
                            .await
                            .map_err(BusError::nats("publish work"))?,
                    )
                } else {
                    None
                };
                let ack = self
                    .js
                    .send_publish(
                        self.cfg
                            .subject_for(&event.aggregate_type, &event.aggregate_id),
                        publish,
                    )
                    .await
                    .map_err(BusError::nats("publish"))?;
                acks.push((ack, work));
            }
            let await_acks = async {
                let mut acked: Option<&StoredEvent> = None;
                let mut failure = None;
                for ((event, (ack, work)), _span) in events.iter().zip(acks).zip(spans) {
                    if let Some(work) = work {
                        if let Err(e) = work.await {
                            failure = Some(BusError::nats("publish work ack")(e));
                            break;
                        }
                    }
                    match ack.await {
                        Ok(ack) => {
                            let counter = if ack.duplicate {
                                &self.metrics.duplicates
                            } else {
                                &self.metrics.published
                            };
                            counter.fetch_add(1, Ordering::Relaxed);
                            acked = Some(event);
                        }
                        Err(e) => {
                            failure = Some(BusError::nats("publish ack")(e));
                            break;
                        }
                    }
                }
                (acked, failure)
            };
            let read_ahead = async {
                if full {
                    Some(self.log.read_after(last_read, self.opts.batch_size).await)
                } else {
                    None
                }
            };
            let ((acked, failure), next) = tokio::join!(await_acks, read_ahead);
            let mut saved = from;
            if let Some(last) = acked {
                saved = Checkpoint::of(last);
                checkpoint::save(&self.log.db, Table::Relay, key, saved).await?;
                self.metrics.record_checkpoint(saved);
                let lag = (Utc::now() - last.recorded_at).num_milliseconds();
                self.metrics.last_lag_ms.store(lag, Ordering::Relaxed);
                debug!(
                    tx_id = saved.tx_id,
                    position = saved.position,
                    lag_ms = lag,
                    "batch published"
                );
            }
            match failure {
                Some(e) => Err(e),
                None => Ok((
                    Pumped {
                        checkpoint: saved,
                        read: events.len(),
                    },
                    // A failed read ahead is simply read again next time.
                    next.and_then(Result::ok),
                )),
            }
        }
        .instrument(span)
        .await
    }
}

/// Runs a [`Relay`] with default options until `shutdown` is cancelled.
pub async fn run_relay(
    log: EventLog,
    js: jetstream::Context,
    cfg: BusConfig,
    shutdown: CancellationToken,
) -> Result<(), BusError> {
    Relay::new(log, js, cfg).run(shutdown).await
}

/// Sleeps `delay`; `true` when shutdown came first.
pub(crate) async fn sleep_or_shutdown(delay: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => false,
        _ = shutdown.cancelled() => true,
    }
}
