//! Projection shared across servers (ADR 0026): the work stream is split into
//! partitions by aggregate, and each partition is consumed by one server at a time.
//!
//! Every server runs one [`PartitionedProjection`]. Once a tick (1 s) it
//! - records itself as a live member (`projection_members`),
//! - renews the leases it holds (`projection_leases`, one row per partition, held until
//!   `expires_at`, [`LeaseOptions::ttl`] ahead),
//! - computes its fair share, `ceil(partitions / live members)`, and
//! - hands back the partitions above its share (their consumers stopped first, the
//!   messages they held nak'ed back) or takes free and expired ones up to it.
//!
//! For each partition it holds it runs one durable consumer per projector on that
//! partition's subjects. A server that dies stops renewing: its leases expire after the
//! TTL and the others take them at their next tick. A server that stops (SIGTERM) stops
//! its consumers, then deletes its leases and membership: the others take over at once.
//! Two servers may overlap on a partition for at most a tick (a server whose renewal came
//! too late finds out at its next one); the projectors' per-aggregate sequence check
//! keeps the effect exactly once, as with any redelivery.
//!
//! Times come from the database's clock on Postgres (every server compares against the
//! same clock) and from the process clock on SQLite (one process).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use probity_store::{Backend, Db, Projector};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn, Instrument};

use crate::consumer::{ConsumerOptions, NatsProjector, ProjectorMetrics};
use crate::relay::sleep_or_shutdown;
use crate::{BusConfig, BusError};

/// Timing of the partition leases.
#[derive(Debug, Clone)]
pub struct LeaseOptions {
    /// How long a lease lasts without renewal (the takeover time of a dead server's
    /// partitions is at most this plus one tick).
    pub ttl: Duration,
    /// How often leases are renewed, shares recomputed and free partitions taken.
    pub tick: Duration,
}

impl Default for LeaseOptions {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(3),
            tick: Duration::from_secs(1),
        }
    }
}

/// What the partition manager reports (for `/metrics`).
#[derive(Debug, Default)]
pub struct LeaseMetrics {
    /// Partitions this server holds now.
    pub held: AtomicU64,
    /// Live servers at the last tick.
    pub members: AtomicU64,
    /// Partitions taken (from a free, expired or handed-back lease) since start.
    pub acquired: AtomicU64,
    /// Partitions handed back or lost since start.
    pub released: AtomicU64,
}

/// A partition this server consumes: its consumers' stop token and tasks.
struct Held {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// Runs the projectors on the partitions this server holds.
pub struct PartitionedProjection {
    db: Db,
    js: jetstream::Context,
    cfg: BusConfig,
    projectors: Vec<(Arc<dyn Projector>, Arc<ProjectorMetrics>)>,
    consumer: ConsumerOptions,
    lease: LeaseOptions,
    member: String,
    metrics: Arc<LeaseMetrics>,
}

impl PartitionedProjection {
    /// `projectors` with the metrics each shares across its partitions. `cfg.partitions`
    /// must be at least 1.
    pub fn new(
        db: Db,
        js: jetstream::Context,
        cfg: BusConfig,
        projectors: Vec<(Arc<dyn Projector>, Arc<ProjectorMetrics>)>,
    ) -> Self {
        let member = format!(
            "{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .get(..12)
                .unwrap_or("x")
        );
        Self {
            db,
            js,
            cfg,
            projectors,
            consumer: ConsumerOptions::default(),
            lease: LeaseOptions::default(),
            member,
            metrics: Arc::new(LeaseMetrics::default()),
        }
    }

    pub fn with_consumer_options(mut self, opts: ConsumerOptions) -> Self {
        self.consumer = opts;
        self
    }

    pub fn with_lease_options(mut self, opts: LeaseOptions) -> Self {
        self.lease = opts;
        self
    }

    /// This server's name in the lease tables.
    pub fn member(&self) -> &str {
        &self.member
    }

    pub fn metrics(&self) -> Arc<LeaseMetrics> {
        Arc::clone(&self.metrics)
    }

    fn bus(&self) -> String {
        self.cfg.work_stream_name()
    }

    /// Runs until `shutdown`; then stops every consumer and hands every lease back.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), BusError> {
        self.cfg.validate()?;
        if self.cfg.partitions == 0 {
            return Err(BusError::Config(
                "partitioned projection needs at least one partition".into(),
            ));
        }
        let span = tracing::info_span!("partitions", member = %self.member);
        async move {
            let mut held: BTreeMap<u16, Held> = BTreeMap::new();
            loop {
                if shutdown.is_cancelled() {
                    break;
                }
                if let Err(e) = self.tick(&mut held).await {
                    warn!(error = %e, "partition lease tick failed");
                }
                self.metrics
                    .held
                    .store(held.len() as u64, Ordering::Relaxed);
                if sleep_or_shutdown(self.lease.tick, &shutdown).await {
                    break;
                }
            }
            // Stop consuming first (messages held are nak'ed back), then hand the leases
            // back so the others take over at their next tick rather than after the TTL.
            let partitions: Vec<u16> = held.keys().copied().collect();
            stop_all(std::mem::take(&mut held)).await;
            if let Err(e) = self.leave().await {
                warn!(error = %e, "handing the partition leases back failed; they expire");
            }
            self.metrics.held.store(0, Ordering::Relaxed);
            info!(?partitions, "partitions handed back");
            Ok(())
        }
        .instrument(span)
        .await
    }

    /// Milliseconds since the epoch on the shared clock.
    async fn now_ms(&self) -> Result<i64, BusError> {
        match (self.db.backend, &self.db.pg) {
            (Backend::Postgres, Some(pg)) => Ok(sqlx::query_scalar::<_, i64>(
                "SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT",
            )
            .fetch_one(pg)
            .await?),
            _ => Ok(chrono::Utc::now().timestamp_millis()),
        }
    }

    async fn tick(&self, held: &mut BTreeMap<u16, Held>) -> Result<(), BusError> {
        let bus = self.bus();
        let now = self.now_ms().await?;
        let ttl = self.lease.ttl.as_millis() as i64;
        let until = now + ttl;

        // Membership.
        sqlx::query(
            "INSERT INTO projection_members (bus, member, seen_at) VALUES ($1, $2, $3) \
             ON CONFLICT (bus, member) DO UPDATE SET seen_at = excluded.seen_at",
        )
        .bind(&bus)
        .bind(&self.member)
        .bind(now)
        .execute(&self.db.any)
        .await?;
        sqlx::query("DELETE FROM projection_members WHERE bus = $1 AND seen_at < $2")
            .bind(&bus)
            .bind(now - 10 * ttl)
            .execute(&self.db.any)
            .await?;
        let members: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM projection_members WHERE bus = $1 AND seen_at > $2",
        )
        .bind(&bus)
        .bind(now - ttl)
        .fetch_one(&self.db.any)
        .await?;
        let members = members.max(1) as usize;
        self.metrics
            .members
            .store(members as u64, Ordering::Relaxed);

        // Renew what is still ours; whatever is not was lost (taken after expiry).
        sqlx::query(
            "UPDATE projection_leases SET expires_at = $1 \
             WHERE bus = $2 AND holder = $3 AND expires_at >= $4",
        )
        .bind(until)
        .bind(&bus)
        .bind(&self.member)
        .bind(now)
        .execute(&self.db.any)
        .await?;
        let ours: BTreeSet<u16> = sqlx::query_scalar::<_, i64>(
            "SELECT part FROM projection_leases WHERE bus = $1 AND holder = $2 AND expires_at = $3",
        )
        .bind(&bus)
        .bind(&self.member)
        .bind(until)
        .fetch_all(&self.db.any)
        .await?
        .into_iter()
        .map(|p| p as u16)
        .collect();
        let lost: Vec<u16> = held.keys().filter(|p| !ours.contains(p)).copied().collect();
        for partition in lost {
            warn!(partition, "partition lease lost; stopping its consumers");
            if let Some(h) = held.remove(&partition) {
                stop(h).await;
            }
            self.metrics.released.fetch_add(1, Ordering::Relaxed);
        }
        // A lease renewed but not consumed (an earlier tick failed midway): consume it.
        for partition in ours.iter().copied() {
            if let std::collections::btree_map::Entry::Vacant(slot) = held.entry(partition) {
                slot.insert(self.start(partition));
            }
        }

        let partitions = usize::from(self.cfg.partitions);
        let share = partitions.div_ceil(members);
        if held.len() > share {
            // Hand the highest partitions back: consumers stopped first.
            let extra: Vec<u16> = held
                .keys()
                .rev()
                .take(held.len() - share)
                .copied()
                .collect();
            for partition in extra {
                if let Some(h) = held.remove(&partition) {
                    stop(h).await;
                }
                sqlx::query(
                    "DELETE FROM projection_leases WHERE bus = $1 AND part = $2 AND holder = $3",
                )
                .bind(&bus)
                .bind(i64::from(partition))
                .bind(&self.member)
                .execute(&self.db.any)
                .await?;
                self.metrics.released.fetch_add(1, Ordering::Relaxed);
                info!(
                    partition,
                    share, members, "partition handed back to balance"
                );
            }
        } else if held.len() < share {
            let taken: BTreeSet<u16> = sqlx::query_scalar::<_, i64>(
                "SELECT part FROM projection_leases WHERE bus = $1 AND expires_at >= $2",
            )
            .bind(&bus)
            .bind(now)
            .fetch_all(&self.db.any)
            .await?
            .into_iter()
            .map(|p| p as u16)
            .collect();
            // Start at a member-specific offset so servers starting together spread out.
            let offset = (fnv(&self.member) % partitions as u32) as usize;
            for i in 0..partitions {
                if held.len() >= share {
                    break;
                }
                let partition = ((offset + i) % partitions) as u16;
                if taken.contains(&partition) || held.contains_key(&partition) {
                    continue;
                }
                let won = sqlx::query(
                    "INSERT INTO projection_leases (bus, part, holder, expires_at) \
                     VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (bus, part) DO UPDATE \
                     SET holder = excluded.holder, expires_at = excluded.expires_at \
                     WHERE projection_leases.expires_at < $5",
                )
                .bind(&bus)
                .bind(i64::from(partition))
                .bind(&self.member)
                .bind(until)
                .bind(now)
                .execute(&self.db.any)
                .await?
                .rows_affected()
                    == 1;
                if won {
                    info!(partition, share, members, "partition taken");
                    self.metrics.acquired.fetch_add(1, Ordering::Relaxed);
                    held.insert(partition, self.start(partition));
                }
            }
        }
        Ok(())
    }

    /// Starts one consumer per projector on `partition`.
    fn start(&self, partition: u16) -> Held {
        let stop = CancellationToken::new();
        let tasks = self
            .projectors
            .iter()
            .map(|(projector, metrics)| {
                let feed = NatsProjector::new(self.js.clone(), self.cfg.clone(), projector.clone())
                    .with_options(self.consumer.clone())
                    .with_partition(partition)
                    .with_metrics(metrics.clone());
                let token = stop.clone();
                let name = projector.name();
                tokio::spawn(async move {
                    if let Err(error) = feed.run(token).await {
                        tracing::error!(%error, projector = name, partition, "a partition consumer stopped");
                    }
                })
            })
            .collect();
        Held { stop, tasks }
    }

    /// Deletes this server's leases and membership.
    async fn leave(&self) -> Result<(), BusError> {
        let bus = self.bus();
        sqlx::query("DELETE FROM projection_leases WHERE bus = $1 AND holder = $2")
            .bind(&bus)
            .bind(&self.member)
            .execute(&self.db.any)
            .await?;
        sqlx::query("DELETE FROM projection_members WHERE bus = $1 AND member = $2")
            .bind(&bus)
            .bind(&self.member)
            .execute(&self.db.any)
            .await?;
        Ok(())
    }
}

/// Stops one partition's consumers and waits for them (they nak back what they hold).
async fn stop(held: Held) {
    held.stop.cancel();
    for task in held.tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
}

async fn stop_all(held: BTreeMap<u16, Held>) {
    futures::future::join_all(held.into_values().map(stop)).await;
}

fn fnv(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}
