//! NATS projector consumers: one durable pull consumer per projector, explicit acks.
//!
//! Each message is rebuilt into a [`StoredEvent`] and handed to the projector in a batch:
//! `Applied` / `AlreadyApplied` are acknowledged (after the batch's transaction
//! committed), `Gap` is nak'ed with a short, growing delay (an earlier event of that
//! aggregate has not been applied yet; it will be), an error is nak'ed with a longer
//! backoff. Aggregate types the projector does not want are acknowledged and skipped
//! (recognised by their subject, without decoding them); a message that is not a valid
//! Probity CloudEvent is terminated (it would never succeed).
//!
//! Within one process, messages are handled in concurrent lanes (eight by default): all
//! events of one aggregate go to the same lane, in stream order, so they stay in order
//! while different aggregates proceed in parallel. A lane takes what is queued (up to
//! [`ConsumerOptions::max_batch`] messages, waiting at most
//! [`ConsumerOptions::linger`] for more) and hands it to
//! [`Projector::handle_batch`], which applies it in one transaction; the messages are
//! acknowledged only after that transaction committed. Under load the batches grow by
//! themselves (messages queue while a transaction runs); when the load is light a batch
//! is one or a few events. Should a batch fail, its events are handled again one at a
//! time, so one event that cannot be applied holds back only itself (and its
//! aggregate's later events, as `Gap`).
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
use crate::config::subject_token;
use crate::relay::sleep_or_shutdown;
use crate::{check_stream, cloudevent, ensure_stream, BusConfig, BusError};

/// Tuning of a consumer. The defaults aim at commit-to-view p99 ≤ 100 ms at 500 events/s
/// and at catching up fast: eight lanes handle messages concurrently, each aggregate in
/// one lane so its events stay in order, each lane applying up to 500 queued events per
/// projector transaction.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// Messages requested per pull.
    pub batch: usize,
    /// Concurrent handling lanes; an aggregate always maps to the same lane.
    pub lanes: usize,
    /// Messages queued per lane (at least `max_batch`, or batches cannot fill).
    pub lane_capacity: usize,
    /// Most events a lane applies in one projector transaction.
    pub max_batch: usize,
    /// How long a lane waits for more messages once it has one and its queue is empty
    /// (zero: take only what is queued).
    pub linger: Duration,
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
    /// Cap of the reconnect delay. Short: after a NATS node loss the consumer's retries
    /// are what notice its new leader (docs/deploy.md), and a retry costs one request.
    pub max_backoff: Duration,
    /// At shutdown, how long messages still arriving are nak'ed back to the server
    /// (another server takes them at once instead of after `ack_wait`).
    pub drain: Duration,
}

impl Default for ConsumerOptions {
    fn default() -> Self {
        Self {
            batch: 512,
            lanes: 8,
            lane_capacity: 512,
            max_batch: 500,
            linger: Duration::from_millis(2),
            max_ack_pending: 8192,
            ack_wait: Duration::from_secs(15),
            heartbeat: Duration::from_secs(5),
            expires: Duration::from_secs(30),
            gap_delay: Duration::from_millis(20),
            max_gap_delay: Duration::from_secs(1),
            error_delay: Duration::from_millis(250),
            max_error_delay: Duration::from_secs(30),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            drain: Duration::from_millis(300),
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
    /// `Some(p)`: consumes partition `p` of the work stream (ADR 0026); `None`: the whole
    /// event stream.
    partition: Option<u16>,
    /// The partition's first session has checked for messages left pending.
    taken_over: std::sync::atomic::AtomicBool,
    /// A session created or updated the streams; later sessions only check them.
    stream_ensured: std::sync::atomic::AtomicBool,
}

impl NatsProjector {
    pub fn new(js: jetstream::Context, cfg: BusConfig, projector: Arc<dyn Projector>) -> Self {
        Self {
            js,
            cfg,
            projector,
            opts: ConsumerOptions::default(),
            metrics: Arc::new(ProjectorMetrics::default()),
            partition: None,
            taken_over: std::sync::atomic::AtomicBool::new(false),
            stream_ensured: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Consumes only partition `partition` of the work stream, with its own durable.
    pub fn with_partition(mut self, partition: u16) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Shares `metrics` with other feeds of the same projector (one per partition).
    pub fn with_metrics(mut self, metrics: Arc<ProjectorMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The durable consumer's name.
    fn durable_name(&self) -> String {
        match self.partition {
            Some(p) => self.cfg.partition_consumer_name(self.projector.name(), p),
            None => self.cfg.consumer_name(self.projector.name()),
        }
    }

    /// The stream this feed reads.
    fn stream_name(&self) -> String {
        match self.partition {
            Some(_) => self.cfg.work_stream_name(),
            None => self.cfg.stream_name(),
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
            durable_name: Some(self.durable_name()),
            description: Some(match self.partition {
                Some(p) => format!("Probity projector {}, partition {p}", self.projector.name()),
                None => format!("Probity projector {}", self.projector.name()),
            }),
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.opts.ack_wait,
            max_deliver: -1,
            filter_subject: match self.partition {
                Some(p) => self.cfg.partition_filter(p),
                None => self.cfg.subjects(),
            },
            max_ack_pending: self.opts.max_ack_pending,
            ..Default::default()
        }
    }

    /// Runs until `shutdown` is cancelled; transport failures are retried with backoff.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), BusError> {
        self.cfg.validate()?;
        let consumer = self.durable_name();
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
        if self.stream_ensured.load(Ordering::Relaxed) {
            check_stream(&self.js, &self.cfg).await?;
        } else {
            ensure_stream(&self.js, &self.cfg).await?;
            self.stream_ensured.store(true, Ordering::Relaxed);
        }
        let stream = self
            .js
            .get_stream(self.stream_name())
            .await
            .map_err(BusError::nats("get stream"))?;
        let name = self.durable_name();
        if self.partition.is_some() && !self.taken_over.load(Ordering::Relaxed) {
            self.take_over(&stream, &name).await?;
            self.taken_over.store(true, Ordering::Relaxed);
        }
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
        let wanted: Vec<String> = self
            .projector
            .aggregate_types()
            .iter()
            .map(|ty| subject_token(ty))
            .collect();
        let drain = self.opts.drain;
        let dispatch = async move {
            loop {
                let next = tokio::select! {
                    next = messages.next() => next,
                    _ = shutdown.cancelled() => {
                        drain_back(&mut messages, drain).await;
                        return Ok(());
                    }
                };
                match next {
                    Some(Ok(message)) => {
                        backoff.reset();
                        // Not one of ours: skipped by its subject, without decoding it.
                        if self
                            .cfg
                            .aggregate_type_token(&message.subject)
                            .is_some_and(|ty| !wanted.iter().any(|w| w == ty))
                        {
                            self.metrics.skipped.fetch_add(1, Ordering::Relaxed);
                            if let Err(e) = message.ack().await {
                                warn!(error = %e, "ack of a skipped message failed");
                            }
                            continue;
                        }
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

    /// One lane: handles its messages in order, a batch at a time, until the dispatcher
    /// drops its sender.
    async fn lane(
        &self,
        mut rx: mpsc::Receiver<(jetstream::Message, StoredEvent)>,
        shutdown: &CancellationToken,
    ) {
        let max = self.opts.max_batch.max(1);
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            let linger_until = tokio::time::Instant::now() + self.opts.linger;
            while batch.len() < max {
                match rx.try_recv() {
                    Ok(item) => batch.push(item),
                    Err(mpsc::error::TryRecvError::Empty) if !self.opts.linger.is_zero() => {
                        match tokio::time::timeout_at(linger_until, rx.recv()).await {
                            Ok(Some(item)) => batch.push(item),
                            Ok(None) | Err(_) => break,
                        }
                    }
                    Err(_) => break,
                }
            }
            if shutdown.is_cancelled() {
                // Hand them back at once (another instance takes them) rather than after
                // ack_wait.
                let naks = batch
                    .iter()
                    .map(|(message, _)| message.ack_with(AckKind::Nak(None)));
                for result in futures::future::join_all(naks).await {
                    if let Err(e) = result {
                        debug!(error = %e, "nak at shutdown failed");
                    }
                }
                continue;
            }
            self.process_batch(batch).await;
        }
    }

    /// Handles one batch of a lane: skips (and acknowledges) the aggregate types the
    /// projector does not want, applies the others in one `handle_batch`, then
    /// acknowledges each message as its outcome requires. A failed batch is handled
    /// again one event at a time.
    async fn process_batch(&self, batch: Vec<(jetstream::Message, StoredEvent)>) {
        let wanted = self.projector.aggregate_types();
        let (ours, skipped): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .partition(|(_, event)| wanted.contains(&event.aggregate_type.as_str()));
        if !skipped.is_empty() {
            self.metrics
                .skipped
                .fetch_add(skipped.len() as u64, Ordering::Relaxed);
            let acks = skipped.iter().map(|(message, _)| message.ack());
            for result in futures::future::join_all(acks).await {
                if let Err(e) = result {
                    warn!(error = %e, "ack of a skipped message failed");
                }
            }
        }
        if ours.is_empty() {
            return;
        }
        let (messages, events): (Vec<_>, Vec<_>) = ours.into_iter().unzip();
        let span = tracing::debug_span!("project_batch", events = events.len());
        let outcome = self.projector.handle_batch(&events).instrument(span).await;
        match outcome {
            Ok(outcomes) => self.settle(messages, events, outcomes).await,
            Err(e) if events.len() > 1 => {
                self.metrics.errors.fetch_add(1, Ordering::Relaxed);
                warn!(error = %e, events = events.len(), "projector batch failed; handling its events one at a time");
                for (message, event) in messages.into_iter().zip(events) {
                    match self
                        .projector
                        .handle_batch(std::slice::from_ref(&event))
                        .await
                    {
                        Ok(outcomes) => self.settle(vec![message], vec![event], outcomes).await,
                        Err(e) => self.retry_later(message, &event, e).await,
                    }
                }
            }
            Err(e) => {
                let (Some(message), Some(event)) = (messages.into_iter().next(), events.first())
                else {
                    return;
                };
                self.retry_later(message, event, e).await;
            }
        }
    }

    /// Acknowledges each message as its outcome requires (all at once): applied or
    /// already applied → ack; `Gap` → nak with a delay growing with deliveries. A plain
    /// ack, not a double one: a lost ack only means a redelivery after `ack_wait`, which
    /// the projector answers `AlreadyApplied`, and a double ack costs a round trip per
    /// message.
    async fn settle(
        &self,
        messages: Vec<jetstream::Message>,
        events: Vec<StoredEvent>,
        outcomes: Vec<Applied>,
    ) {
        let acks = messages.into_iter().zip(events).zip(outcomes).map(
            |((message, event), outcome)| async move {
                let delivered = message.info().map(|info| info.delivered).unwrap_or(1);
                self.metrics.record_handled(&event, outcome);
                match outcome {
                    Applied::Applied | Applied::AlreadyApplied => {
                        if let Err(e) = message.ack().await {
                            // Redelivered after ack_wait; the projector will say AlreadyApplied.
                            warn!(error = %e, "ack failed");
                        }
                    }
                    Applied::Gap => {
                        let delay = delay_for_attempt(
                            self.opts.gap_delay,
                            self.opts.max_gap_delay,
                            delivered,
                        );
                        debug!(
                            aggregate_type = %event.aggregate_type,
                            aggregate_id = %event.aggregate_id,
                            sequence = event.sequence,
                            delay_ms = delay.as_millis() as u64,
                            "gap: an earlier event is not applied yet"
                        );
                        if let Err(e) = message.ack_with(AckKind::Nak(Some(delay))).await {
                            warn!(error = %e, "nak failed");
                        }
                    }
                }
            },
        );
        futures::future::join_all(acks).await;
    }

    /// Naks a message whose event the projector failed to apply, with a backoff growing
    /// with its deliveries.
    async fn retry_later(
        &self,
        message: jetstream::Message,
        event: &StoredEvent,
        error: probity_store::StoreError,
    ) {
        self.metrics.errors.fetch_add(1, Ordering::Relaxed);
        let delivered = message.info().map(|info| info.delivered).unwrap_or(1);
        let delay = delay_for_attempt(self.opts.error_delay, self.opts.max_error_delay, delivered);
        warn!(
            error = %error,
            aggregate_type = %event.aggregate_type,
            aggregate_id = %event.aggregate_id,
            sequence = event.sequence,
            delivered,
            retry_in_ms = delay.as_millis() as u64,
            "projector failed"
        );
        if let Err(e) = message.ack_with(AckKind::Nak(Some(delay))).await {
            warn!(error = %e, "nak failed");
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
}

impl NatsProjector {
    /// A partition just leased: messages the previous holder had received but not
    /// acknowledged would come back only after the ack wait (a nak'ed one may even have
    /// been redelivered to its pull request as it stopped). So when the durable has
    /// messages pending, it is recreated at its ack floor: everything not acknowledged is
    /// delivered again at once; what was in fact applied is `AlreadyApplied` (ADR 0026).
    async fn take_over(
        &self,
        stream: &jetstream::stream::Stream,
        name: &str,
    ) -> Result<(), BusError> {
        let Ok(info) = stream.consumer_info(name).await else {
            return Ok(()); // none yet: created below
        };
        if info.num_ack_pending == 0 {
            return Ok(());
        }
        let start_sequence = info.ack_floor.stream_sequence + 1;
        info!(
            pending = info.num_ack_pending,
            start_sequence,
            "partition taken over with messages pending; recreating its consumer at the ack floor"
        );
        stream
            .delete_consumer(name)
            .await
            .map_err(BusError::nats("delete consumer"))?;
        let config = pull::Config {
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence },
            ..self.consumer_config()
        };
        stream
            .create_consumer(config)
            .await
            .map_err(BusError::nats("create consumer"))?;
        Ok(())
    }
}

/// At shutdown: naks what the server still delivers for up to `drain` (stopping after
/// 50 ms without a message), so another server gets it at once rather than after the
/// ack wait.
async fn drain_back(messages: &mut pull::Stream, drain: Duration) {
    let until = tokio::time::Instant::now() + drain;
    let mut handed_back = 0u64;
    while tokio::time::Instant::now() < until {
        let quiet = tokio::time::Instant::now() + Duration::from_millis(50);
        match tokio::time::timeout_at(quiet.min(until), messages.next()).await {
            Ok(Some(Ok(message))) => {
                handed_back += 1;
                if let Err(e) = message.ack_with(AckKind::Nak(None)).await {
                    debug!(error = %e, "nak at shutdown failed");
                }
            }
            _ => break,
        }
    }
    if handed_back > 0 {
        debug!(handed_back, "messages handed back at shutdown");
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
