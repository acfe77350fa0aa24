//! NATS projector consumers: one durable pull consumer per projector, explicit acks.
//!
//! Each message is rebuilt into a [`StoredEvent`] and handed to the projector:
//! `Applied` / `AlreadyApplied` are acknowledged (double ack: the server confirms the
//! ack), `Gap` is nak'ed with a short, growing delay (an earlier event of that aggregate
//! has not been applied yet; it will be), an error is nak'ed with a longer backoff.
//! Aggregate types the projector does not want are acknowledged and skipped; a message
//! that is not a valid Probity CloudEvent is terminated (it would never succeed).
//!
//! Within one process, messages are handled in concurrent lanes (eight by default): all
//! events of one aggregate go to the same lane, in stream order, so they stay in order
//! while different aggregates proceed in parallel.
//!
//! Several processes may run the same durable consumer at once: the server spreads the
//! messages among them, and the projectors' per-aggregate sequence check (with `Gap`
//! redelivery) keeps every view correct.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{
    self,
    consumer::{pull, AckPolicy, DeliverPolicy},
    AckKind,
};
use chrono::Utc;
use futures::StreamExt;
use probity_store::{Applied, Projector, StoredEvent};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn, Instrument};

use crate::backoff::{delay_for_attempt, Backoff};
use crate::relay::sleep_or_shutdown;
use crate::{cloudevent, ensure_stream, BusConfig, BusError};

/// Tuning of a consumer. The defaults aim at commit-to-view p99 ≤ 100 ms at 500 events/s:
/// eight lanes handle messages concurrently (a projector transaction takes a few
/// milliseconds), each aggregate in one lane so its events stay in order.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// Messages requested per pull.
    pub batch: usize,
    /// Concurrent handling lanes; an aggregate always maps to the same lane.
    pub lanes: usize,
    /// Messages queued per lane.
    pub lane_capacity: usize,
    /// Unacknowledged messages the server lets out to all instances of the consumer.
    pub max_ack_pending: i64,
    /// Redelivery of a message whose ack never came (a crashed instance).
    pub ack_wait: Duration,
    /// Idle heartbeat of a pull request (detects a dead connection).
    pub heartbeat: Duration,
    /// Lifetime of one pull request.
    pub expires: Duration,
    /// First redelivery delay after `Gap`; grows with the delivery count.
    pub gap_delay: Duration,
    /// Cap of the `Gap` delay.
    pub max_gap_delay: Duration,
    /// First redelivery delay after a projector error.
    pub error_delay: Duration,
    /// Cap of the error delay.
    pub max_error_delay: Duration,
    /// First reconnect delay of the consumer loop itself.
    pub min_backoff: Duration,
    /// Cap of the reconnect delay.
    pub max_backoff: Duration,
}

impl Default for ConsumerOptions {
    fn default() -> Self {
        Self {
            batch: 256,
            lanes: 8,
            lane_capacity: 32,
            max_ack_pending: 1024,
            ack_wait: Duration::from_secs(15),
            heartbeat: Duration::from_secs(5),
            expires: Duration::from_secs(30),
            gap_delay: Duration::from_millis(20),
            max_gap_delay: Duration::from_secs(1),
            error_delay: Duration::from_millis(250),
            max_error_delay: Duration::from_secs(30),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// Counters of one projector feed (NATS or in-process).
#[derive(Debug, Default)]
pub struct ProjectorMetrics {
    /// Events that changed the view.
    pub applied: AtomicU64,
    /// Redeliveries the projector had already applied.
    pub already_applied: AtomicU64,
    /// Events of aggregate types the projector does not want.
    pub skipped: AtomicU64,
    /// `Gap` answers (retried later).
    pub gaps: AtomicU64,
    /// Projector or transport errors.
    pub errors: AtomicU64,
    /// Global position of the last event applied or already applied.
    pub last_position: AtomicI64,
    /// Milliseconds from recording to handling of that event.
    pub last_lag_ms: AtomicI64,
}

/// A plain copy of [`ProjectorMetrics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProjectorStats {
    /// Events that changed the view.
    pub applied: u64,
    /// Redeliveries already applied.
    pub already_applied: u64,
    /// Events of unwanted aggregate types.
    pub skipped: u64,
    /// `Gap` answers.
    pub gaps: u64,
    /// Projector or transport errors.
    pub errors: u64,
    /// Global position of the last event handled.
    pub last_position: i64,
    /// Recording-to-handling time of that event.
    pub last_lag_ms: i64,
}

impl ProjectorMetrics {
    pub fn snapshot(&self) -> ProjectorStats {
        ProjectorStats {
            applied: self.applied.load(Ordering::Relaxed),
            already_applied: self.already_applied.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            gaps: self.gaps.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            last_position: self.last_position.load(Ordering::Relaxed),
            last_lag_ms: self.last_lag_ms.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn record_handled(&self, event: &StoredEvent, applied: Applied) {
        let counter = match applied {
            Applied::Applied => &self.applied,
            Applied::AlreadyApplied => &self.already_applied,
            Applied::Gap => {
                self.gaps.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.last_position.store(event.position, Ordering::Relaxed);
        let lag = (Utc::now() - event.recorded_at).num_milliseconds();
        self.last_lag_ms.store(lag, Ordering::Relaxed);
    }
}

/// Feeds one projector from its durable JetStream consumer.
pub struct NatsProjector {
    js: jetstream::Context,
    cfg: BusConfig,
    projector: Arc<dyn Projector>,
    opts: ConsumerOptions,
    metrics: Arc<ProjectorMetrics>,
}

impl NatsProjector {
    pub fn new(js: jetstream::Context, cfg: BusConfig, projector: Arc<dyn Projector>) -> Self {
        Self {
            js,
            cfg,
            projector,
            opts: ConsumerOptions::default(),
            metrics: Arc::new(ProjectorMetrics::default()),
        }
    }

    pub fn with_options(mut self, opts: ConsumerOptions) -> Self {
        self.opts = opts;
        self
    }

    pub fn metrics(&self) -> Arc<ProjectorMetrics> {
        Arc::clone(&self.metrics)
    }

    /// The durable consumer's configuration.
    pub fn consumer_config(&self) -> pull::Config {
        pull::Config {
            durable_name: Some(self.cfg.consumer_name(self.projector.name())),
            description: Some(format!("Probity projector {}", self.projector.name())),
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.opts.ack_wait,
            max_deliver: -1,
            filter_subject: self.cfg.subjects(),
            max_ack_pending: self.opts.max_ack_pending,
            ..Default::default()
        }
    }

    /// Runs until `shutdown` is cancelled; transport failures are retried with backoff.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), BusError> {
        self.cfg.validate()?;
        let consumer = self.cfg.consumer_name(self.projector.name());
        let span = tracing::info_span!("nats_projector", projector = self.projector.name(), consumer = %consumer);
        async move {
            let mut backoff = Backoff::new(self.opts.min_backoff, self.opts.max_backoff);
            loop {
                if shutdown.is_cancelled() {
                    return Ok(());
                }
                match self.session(&shutdown, &mut backoff).await {
                    Ok(()) => {
                        info!("consumer stopped");
                        return Ok(());
                    }
                    Err(e) => {
                        self.metrics.errors.fetch_add(1, Ordering::Relaxed);
                        let delay = backoff.next_delay();
                        warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "consumer failed; reconnecting");
                        sleep_or_shutdown(delay, &shutdown).await;
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    /// One subscription: returns `Ok` on shutdown, `Err` when the message stream broke.
    async fn session(
        &self,
        shutdown: &CancellationToken,
        backoff: &mut Backoff,
    ) -> Result<(), BusError> {
        ensure_stream(&self.js, &self.cfg).await?;
        let stream = self
            .js
            .get_stream(self.cfg.stream_name())
            .await
            .map_err(BusError::nats("get stream"))?;
        let name = self.cfg.consumer_name(self.projector.name());
        let wanted = self.consumer_config();
        let mut consumer: jetstream::consumer::PullConsumer = stream
            .get_or_create_consumer(&name, wanted.clone())
            .await
            .map_err(BusError::nats("create consumer"))?;
        let current = &consumer.cached_info().config;
        if current.ack_wait != wanted.ack_wait
            || current.max_ack_pending != wanted.max_ack_pending
            || current.filter_subject != wanted.filter_subject
        {
            // An older release (or other options) created it: bring it to this configuration.
            info!("updating the durable consumer's configuration");
            consumer = stream
                .update_consumer(wanted)
                .await
                .map_err(BusError::nats("update consumer"))?;
        }
        let mut messages = consumer
            .stream()
            .max_messages_per_batch(self.opts.batch)
            .heartbeat(self.opts.heartbeat)
            .expires(self.opts.expires)
            .messages()
            .await
            .map_err(BusError::nats("subscribe"))?;
        debug!("consumer subscribed");

        // Messages are handled in `lanes` concurrent lanes; all events of one aggregate go
        // to the same lane, in stream order, so per-aggregate order is kept.
        let lanes = self.opts.lanes.max(1);
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..lanes)
            .map(|_| {
                mpsc::channel::<(jetstream::Message, StoredEvent)>(self.opts.lane_capacity.max(1))
            })
            .unzip();
        let workers =
            futures::future::join_all(receivers.into_iter().map(|rx| self.lane(rx, shutdown)));
        let dispatch = async move {
            loop {
                let next = tokio::select! {
                    next = messages.next() => next,
                    _ = shutdown.cancelled() => return Ok(()),
                };
                match next {
                    Some(Ok(message)) => {
                        backoff.reset();
                        let Some(event) = self.decode(&message).await else {
                            continue;
                        };
                        let lane = lane_of(&event, lanes);
                        if senders[lane].send((message, event)).await.is_err() {
                            return Err(BusError::Config("a consumer lane stopped".into()));
                        }
                    }
                    Some(Err(e)) => return Err(BusError::nats("messages")(e)),
                    None => {
                        return Err(BusError::Nats {
                            op: "messages",
                            source: "message stream ended".into(),
                        })
                    }
                }
            }
            // `senders` drop here: the lanes finish what they hold and end.
        };
        let (result, _) = tokio::join!(dispatch, workers);
        result
    }

    /// One lane: handles its messages in order until the dispatcher drops its sender.
    async fn lane(
        &self,
        mut rx: mpsc::Receiver<(jetstream::Message, StoredEvent)>,
        shutdown: &CancellationToken,
    ) {
        while let Some((message, event)) = rx.recv().await {
            if shutdown.is_cancelled() {
                // Hand it back at once (another instance takes it) rather than after ack_wait.
                if let Err(e) = message.ack_with(AckKind::Nak(None)).await {
                    debug!(error = %e, "nak at shutdown failed");
                }
                continue;
            }
            self.process(message, event).await;
        }
    }

    /// Rebuilds the event; a message that is not a Probity CloudEvent is terminated.
    async fn decode(&self, message: &jetstream::Message) -> Option<StoredEvent> {
        match cloudevent::decode(&message.payload) {
            Ok(event) => Some(event),
            Err(e) => {
                self.metrics.errors.fetch_add(1, Ordering::Relaxed);
                error!(error = %e, subject = %message.subject, "not a Probity event; terminating it");
                if let Err(e) = message.ack_with(AckKind::Term).await {
                    warn!(error = %e, "term failed");
                }
                None
            }
        }
    }

    /// Handles one message and acknowledges it the way its outcome requires.
    async fn process(&self, message: jetstream::Message, event: StoredEvent) {
        let delivered = message.info().map(|info| info.delivered).unwrap_or(1);
        let span = tracing::debug_span!(
            "project",
            aggregate_type = %event.aggregate_type,
            aggregate_id = %event.aggregate_id,
            sequence = event.sequence,
            delivered
        );
        async {
            if !self
                .projector
                .aggregate_types()
                .contains(&event.aggregate_type.as_str())
            {
                self.metrics.skipped.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = message.ack().await {
                    warn!(error = %e, "ack of a skipped message failed");
                }
                return;
            }
            match self.projector.handle(&event).await {
                Ok(applied @ (Applied::Applied | Applied::AlreadyApplied)) => {
                    self.metrics.record_handled(&event, applied);
                    if let Err(e) = message.double_ack().await {
                        // Redelivered after ack_wait; the projector will say AlreadyApplied.
                        warn!(error = %e, "ack failed");
                    }
                }
                Ok(Applied::Gap) => {
                    self.metrics.record_handled(&event, Applied::Gap);
                    let delay =
                        delay_for_attempt(self.opts.gap_delay, self.opts.max_gap_delay, delivered);
                    debug!(
                        delay_ms = delay.as_millis() as u64,
                        "gap: an earlier event is not applied yet"
                    );
                    if let Err(e) = message.ack_with(AckKind::Nak(Some(delay))).await {
                        warn!(error = %e, "nak failed");
                    }
                }
                Err(e) => {
                    self.metrics.errors.fetch_add(1, Ordering::Relaxed);
                    let delay = delay_for_attempt(
                        self.opts.error_delay,
                        self.opts.max_error_delay,
                        delivered,
                    );
                    warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "projector failed");
                    if let Err(e) = message.ack_with(AckKind::Nak(Some(delay))).await {
                        warn!(error = %e, "nak failed");
                    }
                }
            }
        }
        .instrument(span)
        .await
    }
}

/// The lane of an aggregate: a stable hash of its type and id.
fn lane_of(event: &StoredEvent, lanes: usize) -> usize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    event.aggregate_type.hash(&mut hasher);
    event.aggregate_id.hash(&mut hasher);
    (hasher.finish() % lanes as u64) as usize
}

/// Runs a [`NatsProjector`] with default options until `shutdown` is cancelled.
pub async fn run_nats_projector(
    js: jetstream::Context,
    cfg: BusConfig,
    projector: Arc<dyn Projector>,
    shutdown: CancellationToken,
) -> Result<(), BusError> {
    NatsProjector::new(js, cfg, projector).run(shutdown).await
}
