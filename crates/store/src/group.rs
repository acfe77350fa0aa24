//! Group commit: the appends of concurrent commands (different aggregates, different HTTP
//! requests) are written together, in one transaction with one multi-row statement, on
//! Postgres and on SQLite.
//!
//! How a command's append goes:
//! 1. It queues its events (one command's events, one aggregate) with a reply channel.
//! 2. It takes the commit lock. Whoever holds it is the leader: it takes the queued
//!    appends (its own and every other that arrived meanwhile, up to
//!    [`MAX_BATCH_EVENTS`] events, at most one append per aggregate) and writes them in
//!    one transaction, in a task of its own, so a caller that goes away (a client that
//!    hangs up) never abandons its batch-mates: the batch commits or fails as a whole
//!    and every member gets its answer, and only then is the lock released. A batch
//!    whose only member is the leader's own append (no concurrent load) is written by
//!    the leader itself, without the task: nobody else depends on it.
//! 3. A member whose answer came while it waited for the lock returns it; one whose
//!    append is still queued (the batch was full) leads the next batch.
//!
//! No artificial delay: while one batch commits, the next one queues up, so the batch
//! size follows the load (one append alone commits at once).
//!
//! Per-aggregate optimistic concurrency is kept exactly. The statement inserts with
//! `ON CONFLICT DO NOTHING RETURNING` the keys it inserted; an append with a row that was
//! not inserted lost the race for its sequence (another process, or a stale load). Then
//! the whole transaction is rolled back, the losers get
//! [`PersistenceError::OptimisticLockError`] (the executor reloads and retries them, or
//! answers `VersionConflict` to an `If-Match` caller), and the others are written again
//! without them: a conflict never fails its batch-mates and never leaves a partial write.
//! A command is acknowledged only after its batch committed (`synchronous_commit` stays
//! on); an error of the batch (connection lost, database down) is every member's error.
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use cqrs_es::persist::{PersistenceError, SerializedEvent};
use sqlx::{PgPool, Row, SqlitePool};
use tokio::sync::oneshot;

use crate::db::Shared;
use crate::repo::{row_placeholders, sqlite_timestamp};
use crate::sealing;
use crate::writes::{self, CommandWrites};

/// Most events one batch writes (the rest waits for the next batch).
pub const MAX_BATCH_EVENTS: usize = 1_000;

/// Rows per SQLite `INSERT` (8 parameters each, far below SQLite's 32,766).
const SQLITE_ROWS_PER_STATEMENT: usize = 200;

/// Where a batch is written.
#[derive(Clone)]
pub(crate) enum Target {
    Postgres(PgPool),
    Sqlite(SqlitePool, Arc<Shared>),
}

/// Why an append was not written.
#[derive(Debug)]
pub(crate) enum AppendError {
    /// The cqrs-es error: an optimistic-lock conflict, a connection or database error.
    Persistence(PersistenceError),
    /// Its idempotency record could not be written: another request with the same
    /// `Idempotency-Key` committed first. Nothing of the append was written.
    IdempotencyKeyTaken,
}

impl From<PersistenceError> for AppendError {
    fn from(error: PersistenceError) -> Self {
        AppendError::Persistence(error)
    }
}

type Answer = Result<(), AppendError>;
type Reply = oneshot::Sender<Answer>;

/// One command's append waiting for a batch.
struct Pending {
    /// Which append this is (to recognise one's own).
    id: u64,
    events: Vec<SerializedEvent>,
    /// What the command writes beside its events, in the same transaction.
    writes: CommandWrites,
    reply: Reply,
}

impl Pending {
    fn aggregate(&self) -> (&str, &str) {
        let first = &self.events[0];
        (&first.aggregate_type, &first.aggregate_id)
    }

    fn idempotency_key(&self) -> Option<(String, String)> {
        self.writes
            .idempotency
            .as_ref()
            .map(|r| (r.actor.clone(), r.key.clone()))
    }
}

/// Why a member of a batch was refused while the others were written again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loss {
    /// It lost the race for a sequence of its aggregate.
    Sequence,
    /// Its `Idempotency-Key` was taken.
    IdempotencyKey,
}

/// The group committer of one database (shared by every clone of its `Db`).
///
/// A queued append whose caller went away before a batch took it is dropped unwritten.
pub(crate) struct GroupCommit {
    queue: Mutex<Vec<Pending>>,
    lock: Arc<tokio::sync::Mutex<()>>,
    stats: GroupStats,
    /// Off: each append in its own transaction, concurrently, without the queue and the
    /// commit lock (the path before group commit; for comparison in the benchmark and as
    /// an operator's fallback, `PROBITY_GROUP_COMMIT=off`).
    enabled: std::sync::atomic::AtomicBool,
    /// The id of the next append.
    next_id: std::sync::atomic::AtomicU64,
}

impl Default for GroupCommit {
    fn default() -> Self {
        Self {
            next_id: std::sync::atomic::AtomicU64::new(0),
            queue: Mutex::default(),
            lock: Arc::default(),
            stats: GroupStats::default(),
            enabled: std::sync::atomic::AtomicBool::new(true),
        }
    }
}

/// Counters of the group committer, for `/metrics` and the benchmark.
#[derive(Debug, Default)]
pub struct GroupStats {
    /// Transactions written (batches), conflicts included.
    pub batches: std::sync::atomic::AtomicU64,
    /// Appends (commands) committed.
    pub appends: std::sync::atomic::AtomicU64,
    /// Appends refused as optimistic-lock conflicts.
    pub conflicts: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl GroupStats {
    /// Records the counters through the `metrics` facade, into the recorder in force
    /// (the server's, while it samples before rendering `/metrics`; ADR 0032).
    pub fn record(&self) {
        use metrics::{counter, describe_counter};
        use std::sync::atomic::Ordering::Relaxed;
        describe_counter!(
            "probity_group_commit_batches_total",
            "Transactions the group committer wrote (rewrites after a conflict included)."
        );
        describe_counter!(
            "probity_group_commit_appends_total",
            "Commands whose events the group committer committed."
        );
        describe_counter!(
            "probity_group_commit_conflicts_total",
            "Appends refused as optimistic-lock conflicts (then retried by their command)."
        );
        counter!("probity_group_commit_batches_total").absolute(self.batches.load(Relaxed));
        counter!("probity_group_commit_appends_total").absolute(self.appends.load(Relaxed));
        counter!("probity_group_commit_conflicts_total").absolute(self.conflicts.load(Relaxed));
    }
}

impl GroupCommit {
    pub(crate) fn stats(&self) -> &GroupStats {
        &self.stats
    }

    /// Turns grouping on (the default) or off (one append per transaction).
    pub(crate) fn set_enabled(&self, on: bool) {
        self.enabled.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Appends one command's events (all of one aggregate, in sequence order) and returns
    /// once the batch holding them committed, or with the reason it did not.
    pub(crate) async fn append(
        self: &Arc<Self>,
        target: &Target,
        events: Vec<SerializedEvent>,
    ) -> Result<(), PersistenceError> {
        match self
            .append_with(target, events, CommandWrites::default())
            .await
        {
            Ok(()) => Ok(()),
            Err(AppendError::Persistence(error)) => Err(error),
            Err(AppendError::IdempotencyKeyTaken) => Err(PersistenceError::UnknownError(
                "an append without idempotency record lost one".into(),
            )),
        }
    }

    /// Appends one command's events with the rows it writes beside them (see
    /// [`crate::writes`]): all in the same transaction.
    pub(crate) async fn append_with(
        self: &Arc<Self>,
        target: &Target,
        events: Vec<SerializedEvent>,
        writes: CommandWrites,
    ) -> Result<(), AppendError> {
        if events.is_empty() {
            return Ok(());
        }
        let (reply, mut answer) = oneshot::channel();
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pending = Pending {
            id,
            events,
            writes,
            reply,
        };
        if !self.enabled.load(std::sync::atomic::Ordering::Relaxed) {
            // Grouping off: this append alone, in its own transaction, concurrently with
            // the others (the path before group commit).
            self.write(target, vec![pending]).await;
            return answer.await.unwrap_or_else(|_| Err(abandoned().into()));
        }
        self.queue.lock().map_err(|_| poisoned())?.push(pending);
        loop {
            if let Some(result) = ready(&mut answer) {
                return result;
            }
            let guard = self.lock.clone().lock_owned().await;
            if let Some(result) = ready(&mut answer) {
                return result;
            }
            let batch = self.take_batch()?;
            if batch.is_empty() {
                // Ours was taken by a batch whose answer is on its way.
                drop(guard);
                return answer.await.unwrap_or_else(|_| Err(abandoned().into()));
            }
            if batch.len() == 1 && batch[0].id == id {
                // Alone in its batch (no load): written here, without a task of its own.
                // Nobody else waits on it, so a caller that goes away mid-write abandons
                // only its own transaction (rolled back) and the lock.
                self.write(target, batch).await;
                drop(guard);
                return answer.await.unwrap_or_else(|_| Err(abandoned().into()));
            }
            let me = self.clone();
            let target = target.clone();
            // The batch runs in its own task: it finishes (and answers everyone) even if
            // this caller is dropped; the lock is released when it is done.
            let run = tokio::spawn(async move {
                me.write(&target, batch).await;
                drop(guard);
            });
            if run.await.is_err() {
                return Err(abandoned().into());
            }
        }
    }

    /// The next batch: queued appends in arrival order, one per aggregate and one per
    /// `Idempotency-Key` (a key's twins are decided by the database, one batch after
    /// the other), up to
    /// [`MAX_BATCH_EVENTS`] events (always at least one append).
    fn take_batch(&self) -> Result<Vec<Pending>, PersistenceError> {
        let mut queue = self.queue.lock().map_err(|_| poisoned())?;
        let mut batch = Vec::new();
        let mut rest = Vec::new();
        let mut seen: HashSet<(String, String)> = HashSet::new();
        let mut keys: HashSet<(String, String)> = HashSet::new();
        let mut size = 0;
        for pending in queue.drain(..) {
            if pending.reply.is_closed() {
                // Its caller has gone (a dropped request) before any batch took it: not
                // written, so it can never commit later behind the caller's back.
                continue;
            }
            let (t, id) = pending.aggregate();
            let key = (t.to_string(), id.to_string());
            let fits = batch.is_empty() || size + pending.events.len() <= MAX_BATCH_EVENTS;
            let idempotency = pending.idempotency_key();
            let twin = idempotency.as_ref().is_some_and(|k| keys.contains(k));
            if fits && !seen.contains(&key) && !twin {
                size += pending.events.len();
                seen.insert(key);
                keys.extend(idempotency);
                batch.push(pending);
            } else {
                rest.push(pending);
            }
        }
        *queue = rest;
        Ok(batch)
    }

    /// Writes `batch` (see the module docs) and answers every member.
    #[tracing::instrument(name = "group_commit", skip_all, fields(appends = batch.len()))]
    async fn write(&self, target: &Target, mut batch: Vec<Pending>) {
        use std::sync::atomic::Ordering::Relaxed;
        let mut deadlocks = 0;
        loop {
            self.stats.batches.fetch_add(1, Relaxed);
            let outcome = match target {
                Target::Postgres(pool) => write_pg(pool, &batch).await,
                Target::Sqlite(pool, _) => write_sqlite(pool, &batch).await,
            };
            match outcome {
                Ok(Written::Committed) => {
                    if let Target::Sqlite(_, signal) = target {
                        signal.bump();
                    }
                    self.stats.appends.fetch_add(batch.len() as u64, Relaxed);
                    for pending in batch {
                        let _ = pending.reply.send(Ok(()));
                    }
                    return;
                }
                Ok(Written::Conflicts(losers)) => {
                    self.stats.conflicts.fetch_add(losers.len() as u64, Relaxed);
                    tracing::debug!(
                        conflicts = losers.len(),
                        "batch conflicts; rewriting without them"
                    );
                    let mut keep = Vec::with_capacity(batch.len());
                    for (i, pending) in batch.into_iter().enumerate() {
                        if let Some(loss) = losers.get(&i) {
                            let _ = pending.reply.send(Err(match loss {
                                Loss::Sequence => PersistenceError::OptimisticLockError.into(),
                                Loss::IdempotencyKey => AppendError::IdempotencyKeyTaken,
                            }));
                        } else {
                            keep.push(pending);
                        }
                    }
                    if keep.is_empty() {
                        return;
                    }
                    batch = keep;
                }
                Err(error) if is_deadlock(&error) && deadlocks < MAX_DEADLOCK_RETRIES => {
                    // Nothing was written; key order makes this rare (another writer of
                    // the table that locks in another order). Write the batch again.
                    deadlocks += 1;
                    tracing::warn!(%error, attempt = deadlocks, "a group commit deadlocked; writing it again");
                }
                Err(error) => {
                    tracing::warn!(%error, appends = batch.len(), "a group commit failed");
                    let class = ErrorClass::of(&error);
                    let text = error.to_string();
                    for pending in batch {
                        let _ = pending.reply.send(Err(class.error(&text).into()));
                    }
                    return;
                }
            }
        }
    }
}

/// Times a batch that deadlocked is written again before its members get the error.
const MAX_DEADLOCK_RETRIES: u32 = 3;

/// Postgres `deadlock_detected` (40P01): the transaction was rolled back whole.
fn is_deadlock(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("40P01"))
}

/// What one write of a batch did.
enum Written {
    Committed,
    /// Indexes (in the batch) of the appends that lost a race, and which; nothing was
    /// committed.
    Conflicts(HashMap<usize, Loss>),
}

/// The appends of `batch` whose idempotency record could not be written.
fn key_losers(batch: &[Pending], taken: &[(String, String)]) -> HashMap<usize, Loss> {
    batch
        .iter()
        .enumerate()
        .filter(|(_, p)| p.idempotency_key().is_some_and(|k| taken.contains(&k)))
        .map(|(i, _)| (i, Loss::IdempotencyKey))
        .collect()
}

/// The appends of `batch` some of whose rows were not inserted.
fn losers(batch: &[Pending], inserted: &HashSet<(String, String, i64)>) -> HashMap<usize, Loss> {
    batch
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            p.events.iter().any(|e| {
                !inserted.contains(&(
                    e.aggregate_type.clone(),
                    e.aggregate_id.clone(),
                    e.sequence as i64,
                ))
            })
        })
        .map(|(i, _)| (i, Loss::Sequence))
        .collect()
}

/// The positions the insert gave, by `(aggregate_type, aggregate_id, sequence)`.
fn positions(
    rows: &[sqlx::postgres::PgRow],
) -> Result<HashMap<(String, String, i64), i64>, sqlx::Error> {
    rows.iter()
        .map(|r| {
            Ok((
                (
                    r.try_get::<String, _>(0)?,
                    r.try_get::<String, _>(1)?,
                    r.try_get::<i64, _>(2)?,
                ),
                r.try_get::<i64, _>(3)?,
            ))
        })
        .collect()
}

/// The batch's events with their positions, for sealing.
fn appended<'a>(
    batch: &'a [Pending],
    positions: &HashMap<(String, String, i64), i64>,
) -> Vec<sealing::Appended<'a>> {
    batch
        .iter()
        .flat_map(|p| &p.events)
        .filter_map(|e| {
            positions
                .get(&(
                    e.aggregate_type.clone(),
                    e.aggregate_id.clone(),
                    e.sequence as i64,
                ))
                .map(|&position| sealing::Appended { position, event: e })
        })
        .collect()
}

async fn write_pg(pool: &PgPool, batch: &[Pending]) -> Result<Written, sqlx::Error> {
    // Rows go in key order `(aggregate_type, aggregate_id, sequence)`: two batches (two
    // servers) that touch the same keys then wait for each other's keys in one order and
    // cannot deadlock. Each aggregate's events stay in sequence order, so positions too.
    let mut rows: Vec<&SerializedEvent> = batch.iter().flat_map(|p| &p.events).collect();
    rows.sort_by(|a, b| {
        (&a.aggregate_type, &a.aggregate_id, a.sequence).cmp(&(
            &b.aggregate_type,
            &b.aggregate_id,
            b.sequence,
        ))
    });
    let n = rows.len();
    let mut types = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    let mut sequences = Vec::with_capacity(n);
    let mut event_types = Vec::with_capacity(n);
    let mut versions = Vec::with_capacity(n);
    let mut payloads = Vec::with_capacity(n);
    let mut metadata = Vec::with_capacity(n);
    for event in rows {
        types.push(event.aggregate_type.as_str());
        ids.push(event.aggregate_id.as_str());
        sequences.push(event.sequence as i64);
        event_types.push(event.event_type.as_str());
        versions.push(event.event_version.as_str());
        payloads.push(&event.payload);
        metadata.push(&event.metadata);
    }
    let mut tx = pool.begin().await?;
    // The chain head first: batches (of every server) seal one after the other, in
    // commit order (ADR 0013).
    let head = sealing::lock_head_pg(&mut tx).await?;
    // `WITH ORDINALITY` + `ORDER BY` keeps the array order (key order, above).
    let rows = sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         SELECT t, i, s, et, ev, p, m
           FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::jsonb[], $7::jsonb[])
                WITH ORDINALITY AS u(t, i, s, et, ev, p, m, n)
          ORDER BY n
         ON CONFLICT DO NOTHING
         RETURNING aggregate_type, aggregate_id, sequence, position",
    )
    .bind(&types)
    .bind(&ids)
    .bind(&sequences)
    .bind(&event_types)
    .bind(&versions)
    .bind(&payloads)
    .bind(&metadata)
    .fetch_all(&mut *tx)
    .await?;
    if rows.len() == n {
        let side: Vec<&CommandWrites> = batch.iter().map(|p| &p.writes).collect();
        let taken = writes::write_pg(&mut tx, &side).await?;
        if !taken.is_empty() {
            tx.rollback().await?;
            return Ok(Written::Conflicts(key_losers(batch, &taken)));
        }
        match head {
            Some(head) => {
                let positions = positions(&rows)?;
                sealing::seal_pg(&mut tx, head, appended(batch, &positions)).await?;
            }
            None => tracing::warn!("the audit chain head is missing: events left unsealed"),
        }
        tx.commit().await?;
        return Ok(Written::Committed);
    }
    let inserted = rows
        .iter()
        .map(|r| {
            Ok((
                r.try_get::<String, _>(0)?,
                r.try_get::<String, _>(1)?,
                r.try_get::<i64, _>(2)?,
            ))
        })
        .collect::<Result<HashSet<_>, sqlx::Error>>()?;
    tx.rollback().await?;
    Ok(Written::Conflicts(losers(batch, &inserted)))
}

async fn write_sqlite(pool: &SqlitePool, batch: &[Pending]) -> Result<Written, sqlx::Error> {
    let events: Vec<&SerializedEvent> = batch.iter().flat_map(|p| &p.events).collect();
    let recorded_at = sqlite_timestamp(Utc::now());
    let mut tx = pool.begin().await?;
    let mut inserted = HashSet::new();
    let mut inserted_at: HashMap<(String, String, i64), i64> = HashMap::new();
    for chunk in events.chunks(SQLITE_ROWS_PER_STATEMENT) {
        let mut sql = String::from(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at) VALUES ",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&row_placeholders(i, 8));
        }
        sql.push_str(
            " ON CONFLICT DO NOTHING RETURNING aggregate_type, aggregate_id, sequence, position",
        );
        let mut query = sqlx::query(&sql);
        for event in chunk {
            query = query
                .bind(&event.aggregate_type)
                .bind(&event.aggregate_id)
                .bind(event.sequence as i64)
                .bind(&event.event_type)
                .bind(&event.event_version)
                .bind(event.payload.to_string())
                .bind(event.metadata.to_string())
                .bind(&recorded_at);
        }
        for row in query.fetch_all(&mut *tx).await? {
            let key = (
                row.try_get::<String, _>(0)?,
                row.try_get::<String, _>(1)?,
                row.try_get::<i64, _>(2)?,
            );
            inserted_at.insert(key.clone(), row.try_get::<i64, _>(3)?);
            inserted.insert(key);
        }
    }
    if inserted.len() == events.len() {
        let side: Vec<&CommandWrites> = batch.iter().map(|p| &p.writes).collect();
        let taken = writes::write_sqlite(&mut tx, &side).await?;
        if !taken.is_empty() {
            tx.rollback().await?;
            return Ok(Written::Conflicts(key_losers(batch, &taken)));
        }
        // One writer holds the database: the head read here is the chain's (ADR 0013).
        match sealing::head_sqlite(&mut tx).await? {
            Some(head) => {
                sealing::seal_sqlite(&mut tx, head, appended(batch, &inserted_at)).await?;
            }
            None => tracing::warn!("the audit chain head is missing: events left unsealed"),
        }
        tx.commit().await?;
        return Ok(Written::Committed);
    }
    tx.rollback().await?;
    Ok(Written::Conflicts(losers(batch, &inserted)))
}

/// The kind of a batch's database error, to give each member an error of the same kind
/// (`PersistenceError` is not `Clone`).
#[derive(Clone, Copy)]
enum ErrorClass {
    Connection,
    Conflict,
    Unknown,
}

impl ErrorClass {
    fn of(error: &sqlx::Error) -> Self {
        match error {
            _ if crate::error::is_unavailable(error) => ErrorClass::Connection,
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some("2067" | "1555" | "23505")) =>
            {
                ErrorClass::Conflict
            }
            _ => ErrorClass::Unknown,
        }
    }

    fn error(self, text: &str) -> PersistenceError {
        match self {
            ErrorClass::Connection => {
                PersistenceError::ConnectionError(Box::new(std::io::Error::other(text.to_string())))
            }
            ErrorClass::Conflict => PersistenceError::OptimisticLockError,
            ErrorClass::Unknown => PersistenceError::UnknownError(text.to_string().into()),
        }
    }
}

fn ready(answer: &mut oneshot::Receiver<Answer>) -> Option<Answer> {
    match answer.try_recv() {
        Ok(result) => Some(result),
        Err(oneshot::error::TryRecvError::Empty) => None,
        Err(oneshot::error::TryRecvError::Closed) => Some(Err(abandoned().into())),
    }
}

fn abandoned() -> PersistenceError {
    PersistenceError::UnknownError("the batch holding this append was abandoned".into())
}

fn poisoned() -> PersistenceError {
    PersistenceError::UnknownError("the group commit queue is poisoned".into())
}

#[cfg(test)]
mod tests {
    //! The committer on both backends, with the commit lock held by the test while the
    //! appends queue up, so the batches are exactly what the test says.
    use super::*;
    use crate::{Backend, Db, EventLog};
    use std::sync::atomic::Ordering::Relaxed;

    struct Fixture {
        db: Db,
        _dir: Option<tempfile_dir::Dir>,
    }

    mod tempfile_dir {
        /// A temporary directory removed on drop.
        pub struct Dir(pub std::path::PathBuf);
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    async fn both() -> Vec<Fixture> {
        let url = probity_testkit::pg::fresh_database()
            .await
            .expect("a fresh Postgres database (DATABASE_URL or a private server)");
        let pg = Db::connect_postgres(&url).await.expect("Postgres");
        let dir = std::env::temp_dir().join(format!("probity-group-{}", uuid::Uuid::new_v4()));
        let sqlite = Db::open_sqlite(&dir.join("data")).await.expect("SQLite");
        vec![
            Fixture { db: pg, _dir: None },
            Fixture {
                db: sqlite,
                _dir: Some(tempfile_dir::Dir(dir)),
            },
        ]
    }

    fn target(db: &Db) -> Target {
        match db.backend {
            Backend::Postgres => Target::Postgres(db.pg.clone().unwrap()),
            Backend::Sqlite => Target::Sqlite(db.sqlite.clone().unwrap(), db.signal.clone()),
        }
    }

    fn event(id: &str, sequence: usize) -> SerializedEvent {
        SerializedEvent::new(
            id.to_string(),
            sequence,
            "access_log".to_string(),
            "PersonalDataRead".to_string(),
            "1".to_string(),
            serde_json::json!({ "n": sequence }),
            serde_json::json!({ "actor": "test" }),
        )
    }

    /// Queues `appends` while the test holds the commit lock, then lets them go; returns
    /// each append's answer in order.
    async fn all_in_one_go(
        db: &Db,
        appends: Vec<Vec<SerializedEvent>>,
    ) -> Vec<Result<(), PersistenceError>> {
        let appends = appends
            .into_iter()
            .map(|events| (events, CommandWrites::default()))
            .collect();
        all_with_writes(db, appends)
            .await
            .into_iter()
            .map(|answer| {
                answer.map_err(|e| match e {
                    AppendError::Persistence(e) => e,
                    other => panic!("an append without side rows: {other:?}"),
                })
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_appends_on_different_aggregates_commit_in_one_transaction() {
        for f in both().await {
            let appends = (0..50)
                .map(|i| vec![event(&format!("a-{i}"), 1), event(&format!("a-{i}"), 2)])
                .collect();
            let answers = all_in_one_go(&f.db, appends).await;
            assert!(answers.iter().all(Result::is_ok), "{answers:?}");
            let stats = f.db.group_commit_stats();
            assert_eq!(stats.batches.load(Relaxed), 1, "{:?}", f.db.backend);
            assert_eq!(stats.appends.load(Relaxed), 50);
            let log = EventLog::new(f.db.clone());
            assert_eq!(log.count().await.unwrap(), 100);
            for i in [0, 17, 49] {
                let stored = log
                    .read_aggregate("access_log", &format!("a-{i}"), None)
                    .await
                    .unwrap();
                assert_eq!(
                    stored.iter().map(|e| e.sequence).collect::<Vec<_>>(),
                    vec![1, 2]
                );
                assert!(stored[0].position < stored[1].position);
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_grouping_off_each_append_is_its_own_transaction() {
        for f in both().await {
            f.db.set_group_commit(false);
            let target = target(&f.db);
            let tasks: Vec<_> = (0..10)
                .map(|i| {
                    let group = f.db.signal.group.clone();
                    let target = target.clone();
                    tokio::spawn(async move {
                        group
                            .append(&target, vec![event(&format!("off-{i}"), 1)])
                            .await
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("the append task").expect("committed");
            }
            let stats = f.db.group_commit_stats();
            assert_eq!(stats.batches.load(Relaxed), 10, "{:?}", f.db.backend);
            assert_eq!(stats.appends.load(Relaxed), 10);
            assert_eq!(EventLog::new(f.db.clone()).count().await.unwrap(), 10);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_append_that_lost_the_race_fails_alone_and_its_batch_mates_commit() {
        for f in both().await {
            // Another process already wrote sequence 1 of `taken`.
            all_in_one_go(&f.db, vec![vec![event("taken", 1)]])
                .await
                .pop()
                .unwrap()
                .unwrap();
            let mut appends: Vec<Vec<SerializedEvent>> =
                (0..10).map(|i| vec![event(&format!("b-{i}"), 1)]).collect();
            appends.insert(4, vec![event("taken", 1), event("taken", 2)]);
            let answers = all_in_one_go(&f.db, appends).await;
            for (i, answer) in answers.iter().enumerate() {
                if i == 4 {
                    assert!(
                        matches!(answer, Err(PersistenceError::OptimisticLockError)),
                        "{answer:?}"
                    );
                } else {
                    assert!(answer.is_ok(), "{i}: {answer:?}");
                }
            }
            let log = EventLog::new(f.db.clone());
            // Nothing of the loser (not even its sequence 2), all of the others.
            assert_eq!(log.count().await.unwrap(), 11, "{:?}", f.db.backend);
            let taken = log
                .read_aggregate("access_log", "taken", None)
                .await
                .unwrap();
            assert_eq!(taken.len(), 1);
            assert_eq!(f.db.group_commit_stats().conflicts.load(Relaxed), 1);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_appends_on_one_aggregate_never_share_a_batch() {
        for f in both().await {
            let answers = all_in_one_go(
                &f.db,
                vec![
                    vec![event("same", 1)],
                    vec![event("same", 1)],
                    vec![event("other", 1)],
                ],
            )
            .await;
            // The first of the two queued and `other` commit together; the second, in
            // the next batch, finds sequence 1 taken.
            assert!(answers[2].is_ok(), "{answers:?}");
            let conflicts = answers[..2]
                .iter()
                .filter(|a| matches!(a, Err(PersistenceError::OptimisticLockError)))
                .count();
            let ok = answers[..2].iter().filter(|a| a.is_ok()).count();
            assert_eq!((ok, conflicts), (1, 1), "{answers:?}");
            assert_eq!(f.db.group_commit_stats().batches.load(Relaxed), 2);
            assert_eq!(EventLog::new(f.db.clone()).count().await.unwrap(), 2);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_queued_append_whose_caller_went_away_is_never_written() {
        for f in both().await {
            let group = f.db.signal.group.clone();
            let held = group.lock.clone().lock_owned().await;
            let target = target(&f.db);
            let gone = {
                let group = group.clone();
                let target = target.clone();
                tokio::spawn(async move { group.append(&target, vec![event("gone", 1)]).await })
            };
            while group.queue.lock().unwrap().is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            gone.abort();
            let _ = gone.await;
            drop(held);
            group.append(&target, vec![event("kept", 1)]).await.unwrap();
            let log = EventLog::new(f.db.clone());
            assert_eq!(log.count().await.unwrap(), 1);
            assert!(log
                .read_aggregate("access_log", "gone", None)
                .await
                .unwrap()
                .is_empty());
        }
    }

    /// Queues `appends` (each with the rows it writes beside its events) while the test
    /// holds the commit lock, then lets them go; returns each append's answer in order.
    async fn all_with_writes(
        db: &Db,
        appends: Vec<(Vec<SerializedEvent>, CommandWrites)>,
    ) -> Vec<Result<(), AppendError>> {
        let group = db.signal.group.clone();
        let held = group.lock.clone().lock_owned().await;
        let n = appends.len();
        let tasks: Vec<_> = appends
            .into_iter()
            .map(|(events, writes)| {
                let group = group.clone();
                let target = target(db);
                tokio::spawn(async move { group.append_with(&target, events, writes).await })
            })
            .collect();
        while group.queue.lock().unwrap().len() < n {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        drop(held);
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.expect("the append task"));
        }
        answers
    }

    /// A command's side rows: a new data key sealing `secret`, and a response under
    /// `key` (when given).
    fn writes(
        secret: &str,
        key: Option<&str>,
    ) -> (probity_domain::reporter::SealedReporter, CommandWrites) {
        let (sealed, new_key) =
            crate::KeyStore::prepare(&serde_json::json!({ "secret": secret })).unwrap();
        let idempotency = key.map(|key| {
            crate::IdempotencyRecord::new(
                "actor-1",
                key,
                &format!("hash-of-{key}"),
                crate::StoredResponse {
                    status: 201,
                    body: serde_json::json!({ "secret_id": secret }),
                    location: Some(format!("/things/{secret}")),
                },
                Utc::now(),
            )
        });
        (
            sealed,
            CommandWrites {
                keys: vec![new_key],
                idempotency,
            },
        )
    }

    async fn opens(db: &Db, sealed: &probity_domain::reporter::SealedReporter) -> bool {
        crate::KeyStore::new(db.clone())
            .open_value::<serde_json::Value>(sealed)
            .await
            .unwrap()
            .is_some()
    }

    async fn key_rows(db: &Db) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM reporter_keys")
            .fetch_one(&db.any)
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commands_key_and_response_commit_with_its_events() {
        for f in both().await {
            let (sealed, side) = writes("one", Some("k-1"));
            let answers = all_with_writes(&f.db, vec![(vec![event("w-1", 1)], side)]).await;
            assert!(answers[0].is_ok(), "{answers:?}");
            assert!(opens(&f.db, &sealed).await, "{:?}", f.db.backend);
            let found = crate::IdempotencyStore::new(f.db.clone())
                .find("actor-1", "k-1")
                .await
                .unwrap();
            let Some(crate::Recorded::Response {
                request_hash,
                response,
            }) = found
            else {
                panic!("no response stored: {found:?}");
            };
            assert_eq!(request_hash, "hash-of-k-1");
            assert_eq!(response.location.as_deref(), Some("/things/one"));
            assert_eq!(EventLog::new(f.db.clone()).count().await.unwrap(), 1);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn twins_with_one_idempotency_key_create_once_and_the_other_writes_nothing() {
        for f in both().await {
            let (first, first_side) = writes("first", Some("twin"));
            let (second, second_side) = writes("second", Some("twin"));
            let (_, other_side) = writes("other", Some("another key"));
            let answers = all_with_writes(
                &f.db,
                vec![
                    (vec![event("t-1", 1)], first_side),
                    (vec![event("t-2", 1)], second_side),
                    (vec![event("t-3", 1)], other_side),
                ],
            )
            .await;
            // The twins never share a batch: whichever queued first commits (with
            // `other`), the other finds the key taken in the next batch.
            assert!(answers[2].is_ok(), "{answers:?}");
            let taken =
                |a: &Result<(), AppendError>| matches!(a, Err(AppendError::IdempotencyKeyTaken));
            let (winner, loser) = match (&answers[0], &answers[1]) {
                (Ok(()), b) if taken(b) => (("t-1", &first), ("t-2", &second)),
                (a, Ok(())) if taken(a) => (("t-2", &second), ("t-1", &first)),
                _ => panic!("not one twin committed and one refused: {answers:?}"),
            };
            let log = EventLog::new(f.db.clone());
            assert_eq!(log.count().await.unwrap(), 2, "{:?}", f.db.backend);
            assert!(log
                .read_aggregate("access_log", loser.0, None)
                .await
                .unwrap()
                .is_empty());
            assert_eq!(
                log.read_aggregate("access_log", winner.0, None)
                    .await
                    .unwrap()
                    .len(),
                1
            );
            assert!(opens(&f.db, winner.1).await);
            assert!(!opens(&f.db, loser.1).await, "the loser's key was stored");
            assert_eq!(key_rows(&f.db).await, 2);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_append_that_lost_its_sequence_writes_neither_key_nor_response() {
        for f in both().await {
            all_in_one_go(&f.db, vec![vec![event("busy", 1)]])
                .await
                .pop()
                .unwrap()
                .unwrap();
            let (lost, lost_side) = writes("lost", Some("k-lost"));
            let (kept, kept_side) = writes("kept", Some("k-kept"));
            let answers = all_with_writes(
                &f.db,
                vec![
                    (vec![event("busy", 1)], lost_side),
                    (vec![event("free", 1)], kept_side),
                ],
            )
            .await;
            assert!(
                matches!(
                    answers[0],
                    Err(AppendError::Persistence(
                        PersistenceError::OptimisticLockError
                    ))
                ),
                "{answers:?}"
            );
            assert!(answers[1].is_ok(), "{answers:?}");
            assert!(!opens(&f.db, &lost).await);
            assert!(opens(&f.db, &kept).await);
            let store = crate::IdempotencyStore::new(f.db.clone());
            assert_eq!(store.find("actor-1", "k-lost").await.unwrap(), None);
            assert!(store.find("actor-1", "k-kept").await.unwrap().is_some());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reservation_left_by_an_earlier_release_is_taken_over() {
        for f in both().await {
            // What the release before this one left when its process died mid-request.
            sqlx::query(
                "INSERT INTO idempotency_keys (actor, idem_key, request_hash, status, response_body, location, created_at) \
                 VALUES ('actor-1', 'k-old', 'some other hash', NULL, NULL, NULL, '2026-01-01T00:00:00.000000Z')",
            )
            .execute(&f.db.any)
            .await
            .unwrap();
            let store = crate::IdempotencyStore::new(f.db.clone());
            assert_eq!(
                store.find("actor-1", "k-old").await.unwrap(),
                Some(crate::Recorded::Abandoned)
            );
            let (_, side) = writes("new", Some("k-old"));
            let answers = all_with_writes(&f.db, vec![(vec![event("n-1", 1)], side)]).await;
            assert!(answers[0].is_ok(), "{answers:?}");
            assert!(matches!(
                store.find("actor-1", "k-old").await.unwrap(),
                Some(crate::Recorded::Response { request_hash, .. }) if request_hash == "hash-of-k-old"
            ));
        }
    }
}
