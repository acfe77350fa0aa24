//! The sealer: tails the event log in commit-safe order and writes one seal per event
//! (event hash, previous event hash of the aggregate, global chain hash) together with
//! its checkpoint, one transaction per batch.
//!
//! Like the relay, one sealer is active at a time on Postgres: it holds the session
//! advisory lock [`SEALER_LOCK_KEY`] on a detached connection of its own; a standby
//! retries every second. On SQLite (one process) no lock is taken. Failures back off and
//! resume from the state in the database.
use std::collections::HashMap;
use std::time::Duration;

use probity_store::{Backend, Checkpoint, EventLog, StoredEvent};
use sqlx::any::AnyArguments;
use sqlx::{Any, Connection, PgConnection, Row};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::hash::{chain_hash, event_hash, ZERO_HASH};
use crate::AuditError;

/// Key of the Postgres advisory lock of the active sealer ("PRBAUDIT").
pub const SEALER_LOCK_KEY: i64 = 0x5052_4241_5544_4954;

/// Events sealed per batch (one transaction each).
const BATCH: i64 = 1_000;
/// Seal rows per multi-row INSERT.
const INSERT_CHUNK: usize = 200;
/// Remembered last event hashes per aggregate before the cache is cleared.
const CACHE_LIMIT: usize = 200_000;

/// The chain state after the last sealed event.
#[derive(Debug, Clone)]
struct Head {
    checkpoint: Checkpoint,
    next_index: i64,
    chain_hash: String,
}

/// Tails the log and seals every event. Build with [`Sealer::new`], then [`Sealer::run`].
pub struct Sealer {
    log: EventLog,
    poll_interval: Duration,
    last_hash: HashMap<(String, String), String>,
}

impl Sealer {
    pub fn new(log: EventLog) -> Self {
        Self {
            log,
            poll_interval: Duration::from_millis(200),
            last_hash: HashMap::new(),
        }
    }

    /// Polling fallback when caught up (NOTIFY usually wakes the sealer first).
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Runs until `shutdown` is cancelled; failures are logged and retried.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), AuditError> {
        loop {
            let lock = match self.log.db.backend {
                Backend::Postgres => match self.acquire_lock(&shutdown).await {
                    Some(conn) => Some(conn),
                    None => return Ok(()),
                },
                Backend::Sqlite => None,
            };
            info!("sealer active");
            let lost = self.lead(lock, &shutdown).await;
            if !lost {
                info!("sealer stopped");
                return Ok(());
            }
            warn!("sealer lost its lock connection; becoming standby");
        }
    }

    /// Seals everything readable now (no lock taken: for tests and one-shot tools when no
    /// other sealer runs). Returns the number of events sealed.
    pub async fn seal_available(&mut self) -> Result<u64, AuditError> {
        let mut head = load_head(&self.log).await?;
        let mut total = 0u64;
        loop {
            let n = self.seal_batch(&mut head).await?;
            total += n as u64;
            if (n as i64) < BATCH {
                return Ok(total);
            }
        }
    }

    async fn acquire_lock(&self, shutdown: &CancellationToken) -> Option<PgConnection> {
        let pool = self.log.db.pg.as_ref()?;
        let mut announced = false;
        loop {
            if shutdown.is_cancelled() {
                return None;
            }
            match pool.acquire().await {
                Ok(c) => {
                    let mut conn = c.detach();
                    match sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
                        .bind(SEALER_LOCK_KEY)
                        .fetch_one(&mut conn)
                        .await
                    {
                        Ok(true) => return Some(conn),
                        Ok(false) => {
                            if !announced {
                                info!("another sealer holds the lock; standing by");
                                announced = true;
                            }
                            let _ = conn.close().await;
                        }
                        Err(e) => warn!(error = %e, "sealer lock query failed"),
                    }
                }
                Err(e) => warn!(error = %e, "sealer cannot get a lock connection"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.cancelled() => return None,
            }
        }
    }

    /// Seals while leading; `true` when the lock was lost, `false` on shutdown.
    async fn lead(&mut self, mut lock: Option<PgConnection>, shutdown: &CancellationToken) -> bool {
        let mut head: Option<Head> = None;
        let mut delay = Duration::from_millis(100);
        loop {
            if shutdown.is_cancelled() {
                if let Some(conn) = lock.take() {
                    let _ = conn.close().await;
                }
                return false;
            }
            if let Some(conn) = lock.as_mut() {
                if let Err(e) = conn.ping().await {
                    warn!(error = %e, "sealer lock connection failed");
                    return true;
                }
            }
            let step = async {
                let mut current = match head.take() {
                    Some(h) => h,
                    None => load_head(&self.log).await?,
                };
                let n = self.seal_batch(&mut current).await;
                head = Some(current);
                n
            };
            match step.await {
                Ok(n) => {
                    delay = Duration::from_millis(100);
                    if (n as i64) < BATCH {
                        tokio::select! {
                            _ = self.log.wait_for_new(self.poll_interval) => {}
                            _ = shutdown.cancelled() => {}
                        }
                    }
                }
                Err(e) => {
                    warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "sealing failed; resuming from the database");
                    head = None;
                    self.last_hash.clear();
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shutdown.cancelled() => {}
                    }
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
            }
        }
    }

    /// Seals one batch after `head` and moves it; returns the number of events sealed.
    async fn seal_batch(&mut self, head: &mut Head) -> Result<usize, AuditError> {
        let events = self.log.read_after(head.checkpoint, BATCH).await?;
        if events.is_empty() {
            return Ok(0);
        }
        let mut rows = Vec::with_capacity(events.len());
        let mut next = head.clone();
        let mut batch_hashes: HashMap<(String, String), String> = HashMap::new();
        for event in &events {
            let key = (event.aggregate_type.clone(), event.aggregate_id.clone());
            let prev = match batch_hashes.get(&key).or_else(|| self.last_hash.get(&key)) {
                Some(h) => h.clone(),
                None if event.sequence == 1 => ZERO_HASH.to_string(),
                None => self.previous_from_db(event).await?,
            };
            let hash = event_hash(event, &prev);
            next.chain_hash = chain_hash(&next.chain_hash, &hash);
            rows.push(SealRow {
                position: event.position,
                chain_index: next.next_index,
                event,
                event_hash: hash.clone(),
                prev_event_hash: prev,
                chain_hash: next.chain_hash.clone(),
            });
            batch_hashes.insert(key, hash);
            next.next_index += 1;
            next.checkpoint = Checkpoint::of(event);
        }
        let mut tx = self.log.db.any.begin().await?;
        for chunk in rows.chunks(INSERT_CHUNK) {
            let mut sql = String::from(
                "INSERT INTO event_seals (position, chain_index, aggregate_type, aggregate_id, sequence, event_hash, prev_event_hash, chain_hash) VALUES ",
            );
            let mut args = AnyArguments::default();
            for (i, row) in chunk.iter().enumerate() {
                use sqlx::Arguments as _;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&probity_store::repo::row_placeholders(i, 8));
                let bind = |r: Result<(), sqlx::error::BoxDynError>| {
                    r.map_err(|e| AuditError::Other(format!("bind: {e}")))
                };
                bind(args.add(row.position))?;
                bind(args.add(row.chain_index))?;
                bind(args.add(row.event.aggregate_type.clone()))?;
                bind(args.add(row.event.aggregate_id.clone()))?;
                bind(args.add(row.event.sequence))?;
                bind(args.add(row.event_hash.clone()))?;
                bind(args.add(row.prev_event_hash.clone()))?;
                bind(args.add(row.chain_hash.clone()))?;
            }
            sqlx::query_with::<Any, _>(&sql, args)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO audit_sealer_checkpoint (id, tx_id, position) VALUES (1, $1, $2)
             ON CONFLICT (id) DO UPDATE SET tx_id = excluded.tx_id, position = excluded.position",
        )
        .bind(next.checkpoint.tx_id)
        .bind(next.checkpoint.position)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if self.last_hash.len() + batch_hashes.len() > CACHE_LIMIT {
            self.last_hash.clear();
        }
        self.last_hash.extend(batch_hashes);
        debug!(
            events = rows.len(),
            chain_index = next.next_index - 1,
            "batch sealed"
        );
        *head = next;
        Ok(rows.len())
    }

    /// The event hash of the aggregate's last sealed event (zeros when there is none).
    async fn previous_from_db(&self, event: &StoredEvent) -> Result<String, AuditError> {
        let row = sqlx::query(
            "SELECT event_hash FROM event_seals WHERE aggregate_type = $1 AND aggregate_id = $2
              ORDER BY sequence DESC LIMIT 1",
        )
        .bind(&event.aggregate_type)
        .bind(&event.aggregate_id)
        .fetch_optional(&self.log.db.any)
        .await?;
        Ok(match row {
            Some(r) => r.try_get::<String, _>(0)?,
            None => ZERO_HASH.to_string(),
        })
    }
}

struct SealRow<'a> {
    position: i64,
    chain_index: i64,
    event: &'a StoredEvent,
    event_hash: String,
    prev_event_hash: String,
    chain_hash: String,
}

/// The sealer's saved place and the chain's head.
async fn load_head(log: &EventLog) -> Result<Head, AuditError> {
    let db = &log.db;
    let cp = sqlx::query("SELECT tx_id, position FROM audit_sealer_checkpoint WHERE id = 1")
        .fetch_optional(&db.any)
        .await?;
    let checkpoint = match cp {
        Some(r) => Checkpoint {
            tx_id: r.try_get(0)?,
            position: r.try_get(1)?,
        },
        None => Checkpoint::ZERO,
    };
    let last = sqlx::query(
        "SELECT chain_index, chain_hash FROM event_seals ORDER BY chain_index DESC LIMIT 1",
    )
    .fetch_optional(&db.any)
    .await?;
    let (next_index, chain_hash) = match last {
        Some(r) => (r.try_get::<i64, _>(0)? + 1, r.try_get::<String, _>(1)?),
        None => (0, ZERO_HASH.to_string()),
    };
    Ok(Head {
        checkpoint,
        next_index,
        chain_hash,
    })
}
