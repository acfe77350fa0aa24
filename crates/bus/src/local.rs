//! The in-process bus of embedded mode (no NATS): each projector tails the event log
//! itself from a checkpoint of its own (`local_bus_checkpoints`), saved after each batch.
//!
//! Each page read from the log goes to [`Projector::handle_batch`] whole (one projector
//! transaction; the events of other aggregate types are skipped). Events arrive in
//! commit order, so `Gap` cannot happen in a healthy system; should it happen, the event
//! is retried after a backoff and progress up to the event before it is kept. Should the
//! batch fail, its events are handled again one at a time, and progress up to the first
//! one that fails is kept.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use probity_store::{Applied, Checkpoint, EventLog, Projector, StoreError, StoredEvent};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn, Instrument};

use crate::backoff::Backoff;
use crate::checkpoint::{self, Table};
use crate::consumer::ProjectorMetrics;
use crate::relay::sleep_or_shutdown;
use crate::BusError;

/// Tuning of the in-process feed.
#[derive(Debug, Clone)]
pub struct LocalProjectorOptions {
    /// Events read per batch (one checkpoint write per batch).
    pub batch_size: i64,
    /// Polling fallback of `wait_for_new` when caught up.
    pub poll_interval: Duration,
    /// First delay after a failure; doubles per consecutive failure.
    pub min_backoff: Duration,
    /// Cap of the failure backoff.
    pub max_backoff: Duration,
}

impl Default for LocalProjectorOptions {
    fn default() -> Self {
        Self {
            batch_size: 512,
            poll_interval: Duration::from_millis(200),
            min_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// Feeds one projector straight from the event log.
pub struct LocalProjector {
    log: EventLog,
    projector: Arc<dyn Projector>,
    opts: LocalProjectorOptions,
    metrics: Arc<ProjectorMetrics>,
}

impl LocalProjector {
    pub fn new(log: EventLog, projector: Arc<dyn Projector>) -> Self {
        Self {
            log,
            projector,
            opts: LocalProjectorOptions::default(),
            metrics: Arc::new(ProjectorMetrics::default()),
        }
    }

    pub fn with_options(mut self, opts: LocalProjectorOptions) -> Self {
        self.opts = opts;
        self
    }

    pub fn metrics(&self) -> Arc<ProjectorMetrics> {
        Arc::clone(&self.metrics)
    }

    /// Runs until `shutdown` is cancelled; every failure is retried.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), BusError> {
        let span = tracing::info_span!("local_projector", projector = self.projector.name());
        async move {
            let mut backoff = Backoff::new(self.opts.min_backoff, self.opts.max_backoff);
            let mut checkpoint: Option<Checkpoint> = None;
            loop {
                if shutdown.is_cancelled() {
                    info!("local projector stopped");
                    return Ok(());
                }
                let from = match checkpoint {
                    Some(cp) => Ok(cp),
                    None => checkpoint::load(&self.log.db, Table::Local, self.projector.name()).await,
                };
                let outcome = match from {
                    Ok(from) => self.pump(from, &shutdown).await,
                    Err(e) => Err((None, e)),
                };
                match outcome {
                    Ok((cp, read)) => {
                        backoff.reset();
                        checkpoint = Some(cp);
                        if (read as i64) < self.opts.batch_size {
                            tokio::select! {
                                _ = self.log.wait_for_new(self.opts.poll_interval) => {}
                                _ = shutdown.cancelled() => {}
                            }
                        }
                    }
                    Err((progress, e)) => {
                        self.metrics.errors.fetch_add(1, Ordering::Relaxed);
                        // Keep the progress made before the failing event, if any.
                        checkpoint = progress;
                        let delay = backoff.next_delay();
                        warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "local projector retries");
                        sleep_or_shutdown(delay, &shutdown).await;
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Handles one batch after `from` and saves the checkpoint of what was handled. On
    /// failure returns the saved progress (if any) with the error.
    async fn pump(
        &self,
        from: Checkpoint,
        shutdown: &CancellationToken,
    ) -> Result<(Checkpoint, usize), (Option<Checkpoint>, BusError)> {
        let events = self
            .log
            .read_after(from, self.opts.batch_size)
            .await
            .map_err(|e| (Some(from), e.into()))?
            .into_iter()
            // Projectors read the wire form, as the NATS consumer hands it over.
            .map(StoredEvent::into_wire)
            .collect::<Vec<_>>();
        let wanted = self.projector.aggregate_types();
        let mut done = from;
        let mut failure = None;
        if shutdown.is_cancelled() {
            return Ok((from, 0));
        }
        // The whole page in one transaction; should it fail, one event at a time.
        let outcomes: Vec<Result<Applied, StoreError>> = match self
            .projector
            .handle_batch(&events)
            .await
        {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            Err(e) => {
                self.metrics.errors.fetch_add(1, Ordering::Relaxed);
                warn!(error = %e, events = events.len(), "projector batch failed; handling its events one at a time");
                let mut one_by_one = Vec::with_capacity(events.len());
                for event in &events {
                    let outcome = if wanted.contains(&event.aggregate_type.as_str()) {
                        self.projector
                            .handle_batch(std::slice::from_ref(event))
                            .await
                            .map(|o| o[0])
                    } else {
                        Ok(Applied::AlreadyApplied)
                    };
                    let failed = !matches!(outcome, Ok(Applied::Applied | Applied::AlreadyApplied));
                    one_by_one.push(outcome);
                    if failed {
                        break;
                    }
                }
                one_by_one
            }
        };
        for (event, outcome) in events.iter().zip(outcomes) {
            if !wanted.contains(&event.aggregate_type.as_str()) {
                self.metrics.skipped.fetch_add(1, Ordering::Relaxed);
                done = Checkpoint::of(event);
                continue;
            }
            match outcome {
                Ok(applied @ (Applied::Applied | Applied::AlreadyApplied)) => {
                    self.metrics.record_handled(event, applied);
                    done = Checkpoint::of(event);
                }
                Ok(Applied::Gap) => {
                    self.metrics.record_handled(event, Applied::Gap);
                    failure = Some(BusError::Gap(crate::message_id(event)));
                    break;
                }
                Err(e) => {
                    failure = Some(e.into());
                    break;
                }
            }
        }
        if done != from {
            if let Err(e) =
                checkpoint::save(&self.log.db, Table::Local, self.projector.name(), done).await
            {
                // The handled events stay handled; the next try re-reads them as AlreadyApplied.
                return Err((None, e));
            }
            debug!(
                tx_id = done.tx_id,
                position = done.position,
                "local checkpoint saved"
            );
        }
        match failure {
            Some(e) => Err((Some(done), e)),
            None => Ok((done, events.len())),
        }
    }
}

/// Runs a [`LocalProjector`] with default options until `shutdown` is cancelled.
pub async fn run_local_projector(
    log: EventLog,
    projector: Arc<dyn Projector>,
    shutdown: CancellationToken,
) -> Result<(), BusError> {
    LocalProjector::new(log, projector).run(shutdown).await
}
