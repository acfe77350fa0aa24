//! Opening the database: Postgres when a URL is given, else SQLite in the data dir.
//!
//! Both constructors run this crate's migrations (`migrations/postgres` or
//! `migrations/sqlite`, which hold every engineer's numbered files) on the native pool,
//! then open a portable `AnyPool` on the same database for the backend-neutral SQL of the
//! other crates. A [`Db`] also carries the process-wide "new events" signal that
//! [`crate::EventLog::wait_for_new`] waits on.
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::Notify;

use crate::StoreError;

/// The Postgres channel the `events` trigger notifies after every insert statement.
pub const EVENTS_CHANNEL: &str = "probity_events";

/// Name of the SQLite database file inside the data dir.
pub const SQLITE_FILE: &str = "probity.db";

/// How long a SQLite connection waits for the write lock before failing with BUSY.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a Postgres command waits for a pooled connection (including connecting, which
/// sqlx retries while the server refuses connections) before it fails as unavailable
/// (HTTP 503 `not_ready` with `Retry-After`): long enough to ride out a restart of a few
/// seconds, short enough that a client never hangs on a database that is down (ADR 0027).
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a SQLite command waits for a pooled connection: the file cannot go away, so
/// a wait only means a burst of local writers.
const SQLITE_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// Which database a [`Db`] is open on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A Postgres server (`--database-url`): several processes may share it.
    Postgres,
    /// The embedded `<data_dir>/probity.db`: one process.
    Sqlite,
}

/// Handles to one database. `any` (sqlx `AnyPool`) serves the portable SQL of views,
/// tokens, idempotency and checkpoints (write `$1`-style placeholders; store JSON and
/// timestamps as TEXT, flags as BIGINT 0/1); `pg`/`sqlite` serve the backend-specific
/// event store code.
#[derive(Clone, Debug)]
pub struct Db {
    pub backend: Backend,
    pub pg: Option<sqlx::PgPool>,
    pub sqlite: Option<sqlx::SqlitePool>,
    pub any: sqlx::AnyPool,
    /// State shared by every clone of this `Db` in this process: the "new events" signal
    /// and the per-aggregate command locks.
    pub(crate) signal: Arc<Shared>,
}

/// Number of lock stripes serializing the commands of one aggregate within a process.
const COMMAND_LOCK_STRIPES: usize = 128;

/// Process-wide state of one database.
///
/// The signal behind `EventLog::wait_for_new` is a counter bumped on every (possible) new
/// commit, so a waiter that looks after a bump still sees it, and a `Notify` that wakes
/// the waiters already parked.
///
/// The command locks (striped by aggregate) let commands on one aggregate from this
/// process take turns instead of racing for the same sequence; the optimistic lock of the
/// table still decides between processes.
pub(crate) struct Shared {
    /// Bumped after each commit (SQLite: by the executor; Postgres: by the listener task).
    pub(crate) generation: AtomicU64,
    pub(crate) notify: Notify,
    /// Whether the Postgres `LISTEN` task has been started for this database.
    pub(crate) listening: AtomicBool,
    command_locks: Vec<tokio::sync::Mutex<()>>,
    /// The group committer every append of this database goes through.
    pub(crate) group: Arc<crate::group::GroupCommit>,
    /// The shift of this process's clock (`PROBITY_CLOCK_OFFSET`) as written into the
    /// `clock_offset` metadata of every event it records; `None` on the real clock.
    clock_offset: std::sync::RwLock<Option<String>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .field("listening", &self.listening.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            generation: AtomicU64::new(0),
            notify: Notify::new(),
            listening: AtomicBool::new(false),
            command_locks: (0..COMMAND_LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            group: Arc::default(),
            clock_offset: std::sync::RwLock::new(None),
        }
    }
}

impl Shared {
    /// The lock serializing this process's commands on one aggregate.
    pub(crate) fn command_lock(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> &tokio::sync::Mutex<()> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (aggregate_type, aggregate_id).hash(&mut hasher);
        &self.command_locks[(hasher.finish() % COMMAND_LOCK_STRIPES as u64) as usize]
    }

    /// Records that new events may exist and wakes every waiter.
    pub(crate) fn bump(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
}

/// A clock offset as written into event metadata and shown on `/readyz`: signed, in the
/// largest unit that divides it exactly (`+30d`, `-12h`, `+5m`, `+90s`), as
/// `PROBITY_CLOCK_OFFSET` is written; an offset with a fraction of a second (the test
/// suite computes its offsets to the instant) in seconds with milliseconds
/// (`-23587201.123s`).
pub fn clock_offset_label(offset: chrono::Duration) -> String {
    let sign = if offset < chrono::Duration::zero() {
        '-'
    } else {
        '+'
    };
    let millis = offset.num_milliseconds().unsigned_abs();
    if !millis.is_multiple_of(1000) {
        return format!("{sign}{}.{:03}s", millis / 1000, millis % 1000);
    }
    let seconds = millis / 1000;
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if seconds != 0 && seconds.is_multiple_of(size) {
            return format!("{sign}{}{unit}", seconds / size);
        }
    }
    format!("{sign}{seconds}s")
}

fn install_any_drivers() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(sqlx::any::install_default_drivers);
}

impl Db {
    /// The group committer's counters (batches, appends, conflicts) of this database in
    /// this process.
    pub fn group_commit_stats(&self) -> &crate::group::GroupStats {
        self.signal.group.stats()
    }

    /// Group commit on (the default: concurrent appends share one transaction) or off (one
    /// transaction per append), for every clone of this `Db` in this process.
    pub fn set_group_commit(&self, on: bool) {
        self.signal.group.set_enabled(on);
    }

    /// Records that this process runs on a shifted clock: every event appended through
    /// this database (every clone, in this process) then carries `offset`, in the form
    /// of [`clock_offset_label`], as its `clock_offset` metadata, so a history shows
    /// which events were recorded under a drill's clock. A zero offset clears it.
    pub fn set_clock_offset(&self, offset: chrono::Duration) {
        let label = (!offset.is_zero()).then(|| clock_offset_label(offset));
        *self
            .signal
            .clock_offset
            .write()
            .unwrap_or_else(|p| p.into_inner()) = label;
    }

    /// The `clock_offset` label of this process's events, `None` on the real clock.
    pub fn clock_offset(&self) -> Option<String> {
        self.signal
            .clock_offset
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Connects and runs the migrations of the backend.
    #[tracing::instrument(skip_all)]
    pub async fn connect_postgres(url: &str) -> Result<Db, StoreError> {
        install_any_drivers();
        let pg = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pg).await?;
        let any = sqlx::any::AnyPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await?;
        Ok(Db {
            backend: Backend::Postgres,
            pg: Some(pg),
            sqlite: None,
            any,
            signal: Arc::new(Shared::default()),
        })
    }

    /// Opens (creating if needed) `<data_dir>/probity.db` and runs the migrations.
    #[tracing::instrument(skip_all, fields(data_dir = %data_dir.display()))]
    pub async fn open_sqlite(data_dir: &Path) -> Result<Db, StoreError> {
        install_any_drivers();
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::Other(format!(
                "cannot create data dir {}: {e}",
                data_dir.display()
            ))
        })?;
        let file = data_dir.join(SQLITE_FILE);
        let options = SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .foreign_keys(true)
            // Destroyed reporter keys are overwritten on disk, not just unlinked.
            .pragma("secure_delete", "ON");
        let sqlite = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(SQLITE_ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&sqlite).await?;

        // The Any driver is configured by URL only: WAL is a property of the file (set
        // above), the busy timeout and secure_delete are per connection.
        let url = sqlite_url(&file)?;
        let any = sqlx::any::AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(SQLITE_ACQUIRE_TIMEOUT)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    use sqlx::Executor as _;
                    conn.execute(
                        format!(
                            "PRAGMA busy_timeout = {}; PRAGMA secure_delete = ON; PRAGMA foreign_keys = ON;",
                            SQLITE_BUSY_TIMEOUT.as_millis()
                        )
                        .as_str(),
                    )
                    .await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        Ok(Db {
            backend: Backend::Sqlite,
            pg: None,
            sqlite: Some(sqlite),
            any,
            signal: Arc::new(Shared::default()),
        })
    }

    /// The Postgres pool, or an error naming the backend actually open.
    pub fn pg_pool(&self) -> Result<&sqlx::PgPool, StoreError> {
        self.pg.as_ref().ok_or_else(|| {
            StoreError::Other(format!("{:?} database has no Postgres pool", self.backend))
        })
    }

    /// The SQLite pool, or an error naming the backend actually open.
    pub fn sqlite_pool(&self) -> Result<&sqlx::SqlitePool, StoreError> {
        self.sqlite.as_ref().ok_or_else(|| {
            StoreError::Other(format!("{:?} database has no SQLite pool", self.backend))
        })
    }

    /// Closes all pools (waits for connections in use to be returned).
    pub async fn close(&self) {
        if let Some(pg) = &self.pg {
            pg.close().await;
        }
        if let Some(sqlite) = &self.sqlite {
            sqlite.close().await;
        }
        self.any.close().await;
    }

    /// Starts the Postgres `LISTEN probity_events` task once per database (lazily, on the
    /// first wait). It bumps the signal for every notification and after every reconnect
    /// (notifications sent while disconnected are lost), and ends once every clone of the
    /// `Db` is gone.
    pub(crate) fn ensure_listener(&self) {
        let Some(pool) = self.pg.clone() else { return };
        if self.signal.listening.swap(true, Ordering::SeqCst) {
            return;
        }
        let weak = Arc::downgrade(&self.signal);
        tokio::spawn(async move {
            let mut listener: Option<PgListener> = None;
            loop {
                if pool.is_closed() {
                    return;
                }
                let Some(signal) = weak.upgrade() else { return };
                let Some(active) = listener.as_mut() else {
                    match PgListener::connect_with(&pool).await {
                        Ok(mut l) => match l.listen(EVENTS_CHANNEL).await {
                            Ok(()) => {
                                listener = Some(l);
                                // Anything may have been committed while not listening.
                                signal.bump();
                            }
                            Err(error) => {
                                tracing::warn!(%error, "LISTEN {EVENTS_CHANNEL} failed; retrying");
                                drop(signal);
                                tokio::time::sleep(Duration::from_secs(1)).await;
                            }
                        },
                        Err(error) => {
                            tracing::warn!(%error, "event listener cannot connect; retrying");
                            drop(signal);
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                    continue;
                };
                drop(signal);
                // Wake up now and then to notice that the database was dropped.
                match tokio::time::timeout(Duration::from_secs(10), active.try_recv()).await {
                    Err(_elapsed) => {}
                    Ok(Ok(Some(_notification))) => {
                        if let Some(signal) = weak.upgrade() {
                            signal.bump();
                        }
                    }
                    Ok(Ok(None)) => {
                        // Connection lost; `try_recv` reconnects on the next call.
                        tracing::warn!("event listener lost its connection; reconnecting");
                        if let Some(signal) = weak.upgrade() {
                            signal.bump();
                        }
                    }
                    Ok(Err(error)) => {
                        tracing::warn!(%error, "event listener failed; reconnecting");
                        listener = None;
                        if let Some(signal) = weak.upgrade() {
                            signal.bump();
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
    }
}

/// `sqlite://<absolute path>?mode=rwc` for the Any driver.
fn sqlite_url(file: &Path) -> Result<String, StoreError> {
    let absolute = if file.is_absolute() {
        file.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| StoreError::Other(format!("cannot resolve the data dir: {e}")))?
            .join(file)
    };
    let path = absolute.to_str().ok_or_else(|| {
        StoreError::Other(format!(
            "data dir path is not UTF-8: {}",
            absolute.display()
        ))
    })?;
    // `?`, `#` and `%` would end or escape the path part of the URL.
    let encoded = path
        .replace('%', "%25")
        .replace('?', "%3F")
        .replace('#', "%23");
    let url = format!("sqlite://{encoded}?mode=rwc");
    // Fail early, with the path in the message, if the URL does not parse back.
    SqliteConnectOptions::from_str(&url)
        .map_err(|e| StoreError::Other(format!("bad SQLite path {path}: {e}")))?;
    Ok(url)
}
