//! The background sealer. The group committer seals every event it appends in the same
//! transaction (ADR 0013); this task tails the log in commit-safe order and seals what
//! has no seal: events written before that release, and those whose aggregate's previous
//! event was itself unsealed. It writes a seal (event hash, previous event hash of the
//! aggregate, global chain hash) on the locked chain head, with its checkpoint, one
//! transaction per batch.
//!
//! Like the relay, one sealer is active at a time on Postgres: it holds the session
//! advisory lock [`SEALER_LOCK_KEY`] on a detached connection of its own; a standby
//! retries every second. On SQLite (one process) no lock is taken. Failures back off and
//! resume from the state in the database.
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use probity_store::{Backend, Checkpoint, EventLog, StoredEvent};
use sqlx::any::AnyArguments;
use sqlx::{Any, Connection, PgConnection, Row};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::hash::{chain_hash, event_hash, ZERO_HASH};
use crate::AuditError;
use probity_store::sealing::Head;

/// Key of the Postgres advisory lock of the active sealer ("PRBAUDIT").
pub const SEALER_LOCK_KEY: i64 = 0x5052_4241_5544_4954;

/// Events read per batch (one transaction each).
const BATCH: i64 = 1_000;
/// Seal rows per multi-row INSERT.
const INSERT_CHUNK: usize = 200;
/// Remembered last event hashes per aggregate before the cache is cleared.
const CACHE_LIMIT: usize = 200_000;

/// Tails the log and seals every event the committer did not. Build with
/// [`Sealer::new`], then [`Sealer::run`].
pub struct Sealer {
    log: EventLog,
    poll_interval: Duration,
    /// The last event this sealer sealed per aggregate: (sequence, event hash).
    last_hash: HashMap<(String, String), (i64, String)>,
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

    /// Seals everything readable now that is not sealed yet (no lock taken: for tests and
    /// one-shot tools when no other sealer runs). Returns the number of events sealed.
    pub async fn seal_available(&mut self) -> Result<u64, AuditError> {
        let mut checkpoint = load_checkpoint(&self.log).await?;
        let mut total = 0u64;
        loop {
            let (read, sealed) = self.seal_batch(&mut checkpoint).await?;
            total += sealed as u64;
            if (read as i64) < BATCH {
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
        let mut checkpoint: Option<Checkpoint> = None;
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
                let mut current = match checkpoint.take() {
                    Some(c) => c,
                    None => load_checkpoint(&self.log).await?,
                };
                let n = self.seal_batch(&mut current).await;
                checkpoint = Some(current);
                n
            };
            match step.await {
                Ok((read, _)) => {
                    delay = Duration::from_millis(100);
                    if (read as i64) < BATCH {
                        tokio::select! {
                            _ = self.log.wait_for_new(self.poll_interval) => {}
                            _ = shutdown.cancelled() => {}
                        }
                    }
                }
                Err(e) => {
                    warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "sealing failed; resuming from the database");
                    checkpoint = None;
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

    /// Reads one batch after `checkpoint`, seals the events of it that have no seal (the
    /// committer seals the others in their own transactions), and moves the checkpoint;
    /// returns the events read and the events sealed.
    async fn seal_batch(
        &mut self,
        checkpoint: &mut Checkpoint,
    ) -> Result<(usize, usize), AuditError> {
        let events = self.log.read_after(*checkpoint, BATCH).await?;
        let Some(last) = events.last() else {
            return Ok((0, 0));
        };
        let next = Checkpoint::of(last);
        let sealed = sealed_positions(&self.log.db, &events).await?;
        let unsealed: Vec<&StoredEvent> = events
            .iter()
            .filter(|e| !sealed.contains(&e.position))
            .collect();
        let mut tx = self.log.db.any.begin().await?;
        let mut rows = Vec::with_capacity(unsealed.len());
        let mut batch_hashes: HashMap<(String, String), (i64, String)> = HashMap::new();
        if !unsealed.is_empty() {
            let mut head = lock_head(&mut tx, self.log.db.backend).await?;
            for event in unsealed {
                let key = (event.aggregate_type.clone(), event.aggregate_id.clone());
                let known = batch_hashes
                    .get(&key)
                    .or_else(|| self.last_hash.get(&key))
                    .filter(|(sequence, _)| *sequence == event.sequence - 1)
                    .map(|(_, h)| h.clone());
                let prev = match known {
                    Some(h) => h,
                    None if event.sequence == 1 => ZERO_HASH.to_string(),
                    None => previous_from_db(&mut tx, event).await?,
                };
                let hash = event_hash(event, &prev);
                head.chain_hash = chain_hash(&head.chain_hash, &hash);
                rows.push(SealRow {
                    position: event.position,
                    chain_index: head.next_index,
                    event,
                    event_hash: hash.clone(),
                    prev_event_hash: prev,
                    chain_hash: head.chain_hash.clone(),
                });
                batch_hashes.insert(key, (event.sequence, hash));
                head.next_index += 1;
            }
            insert_seals(&mut tx, &rows).await?;
            sqlx::query(
                "UPDATE audit_chain_head SET next_index = $1, chain_hash = $2 WHERE id = 1",
            )
            .bind(head.next_index)
            .bind(head.chain_hash.clone())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO audit_sealer_checkpoint (id, tx_id, position) VALUES (1, $1, $2)
             ON CONFLICT (id) DO UPDATE SET tx_id = excluded.tx_id, position = excluded.position",
        )
        .bind(next.tx_id)
        .bind(next.position)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if self.last_hash.len() + batch_hashes.len() > CACHE_LIMIT {
            self.last_hash.clear();
        }
        self.last_hash.extend(batch_hashes);
        if !rows.is_empty() {
            debug!(
                events = rows.len(),
                chain_index = rows.last().map(|r| r.chain_index),
                "unsealed events sealed"
            );
        }
        *checkpoint = next;
        Ok((events.len(), rows.len()))
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

async fn insert_seals(
    tx: &mut sqlx::Transaction<'_, Any>,
    rows: &[SealRow<'_>],
) -> Result<(), AuditError> {
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
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The positions among `events` that already have a seal.
async fn sealed_positions(
    db: &probity_store::Db,
    events: &[StoredEvent],
) -> Result<HashSet<i64>, AuditError> {
    let low = events.iter().map(|e| e.position).min().unwrap_or(0);
    let high = events.iter().map(|e| e.position).max().unwrap_or(0);
    let rows: Vec<(i64,)> =
        sqlx::query_as("SELECT position FROM event_seals WHERE position >= $1 AND position <= $2")
            .bind(low)
            .bind(high)
            .fetch_all(&db.any)
            .await?;
    Ok(rows.into_iter().map(|(p,)| p).collect())
}

/// Locks the chain head for the transaction (Postgres: `FOR UPDATE`; SQLite: a write
/// first, which takes the database's write lock) and reads it; a missing head row is
/// rebuilt from the last seal.
async fn lock_head(
    tx: &mut sqlx::Transaction<'_, Any>,
    backend: Backend,
) -> Result<Head, AuditError> {
    let select = match backend {
        Backend::Postgres => {
            "SELECT next_index, chain_hash FROM audit_chain_head WHERE id = 1 FOR UPDATE"
        }
        Backend::Sqlite => {
            sqlx::query("UPDATE audit_chain_head SET next_index = next_index WHERE id = 1")
                .execute(&mut **tx)
                .await?;
            "SELECT next_index, chain_hash FROM audit_chain_head WHERE id = 1"
        }
    };
    if let Some(r) = sqlx::query(select).fetch_optional(&mut **tx).await? {
        return Ok(Head {
            next_index: r.try_get(0)?,
            chain_hash: r.try_get(1)?,
        });
    }
    warn!("the audit chain head row is missing; rebuilding it from the last seal");
    let last = sqlx::query(
        "SELECT chain_index, chain_hash FROM event_seals ORDER BY chain_index DESC LIMIT 1",
    )
    .fetch_optional(&mut **tx)
    .await?;
    let head = match last {
        Some(r) => Head {
            next_index: r.try_get::<i64, _>(0)? + 1,
            chain_hash: r.try_get(1)?,
        },
        None => Head {
            next_index: 0,
            chain_hash: ZERO_HASH.to_string(),
        },
    };
    sqlx::query("INSERT INTO audit_chain_head (id, next_index, chain_hash) VALUES (1, $1, $2)")
        .bind(head.next_index)
        .bind(head.chain_hash.clone())
        .execute(&mut **tx)
        .await?;
    Ok(head)
}

/// The event hash of the aggregate's previous event (zeros when it has no seal: the link
/// then fails verification, which names the event).
async fn previous_from_db(
    tx: &mut sqlx::Transaction<'_, Any>,
    event: &StoredEvent,
) -> Result<String, AuditError> {
    let row = sqlx::query(
        "SELECT event_hash FROM event_seals WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = $3",
    )
    .bind(event.aggregate_type.clone())
    .bind(event.aggregate_id.clone())
    .bind(event.sequence - 1)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(match row {
        Some(r) => r.try_get::<String, _>(0)?,
        None => ZERO_HASH.to_string(),
    })
}

/// The sealer's saved place (`ZERO` before its first batch).
async fn load_checkpoint(log: &EventLog) -> Result<Checkpoint, AuditError> {
    Ok(sealer_checkpoint(&log.db)
        .await?
        .unwrap_or(Checkpoint::ZERO))
}

/// Where the background sealer is (`None` before its first batch).
pub(crate) async fn sealer_checkpoint(
    db: &probity_store::Db,
) -> Result<Option<Checkpoint>, AuditError> {
    let row = sqlx::query("SELECT tx_id, position FROM audit_sealer_checkpoint WHERE id = 1")
        .fetch_optional(&db.any)
        .await?;
    row.map(|r| {
        Ok(Checkpoint {
            tx_id: r.try_get(0)?,
            position: r.try_get(1)?,
        })
    })
    .transpose()
}
