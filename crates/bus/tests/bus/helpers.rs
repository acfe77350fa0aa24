//! Test support: a real projector over a table, event appends through the executor,
//! bounded waits, and running relays / consumers as tasks.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use async_nats::jetstream;
use chrono::Utc;
use probity_bus::{BusConfig, ConsumerOptions, NatsProjector, Relay, RelayMetrics, RelayOptions};
use probity_domain::access::{AccessCommand, AccessLog};
use probity_store::{
    Applied, Db, EventLog, Executor, Metadata, Projector, StoreError, StoredEvent,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Every wait in these tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(60);

/// Logs to the test output when `RUST_LOG` is set (e.g. `RUST_LOG=probity_bus=debug`).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A fresh Postgres database with every migration applied.
pub async fn postgres() -> anyhow::Result<Db> {
    init_tracing();
    let url = probity_testkit::pg::fresh_database().await?;
    let db = Db::connect_postgres(&url)
        .await
        .context("connecting to the fresh database")?;
    ProjectorTables::create(&db).await?;
    Ok(db)
}

/// A fresh SQLite database in its own temp dir (kept alive by the returned guard).
pub async fn sqlite() -> anyhow::Result<(Db, tempfile::TempDir)> {
    init_tracing();
    let dir = tempfile::tempdir()?;
    let db = Db::open_sqlite(dir.path())
        .await
        .context("opening SQLite")?;
    ProjectorTables::create(&db).await?;
    Ok((db, dir))
}

pub async fn jetstream_at(url: &str) -> anyhow::Result<jetstream::Context> {
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(url)
        .await
        .with_context(|| format!("connecting to NATS at {url}"))?;
    // Publish acks time out after 2 s (default 5 s) so outages show quickly.
    Ok(jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(2))
        .build(client))
}

/// The shared test NATS server (NATS_URL or a private one per process).
pub async fn jetstream() -> anyhow::Result<jetstream::Context> {
    jetstream_at(&probity_testkit::nats::nats_url().await?).await
}

/// Removes a test's stream from the shared server (it would otherwise stay there).
pub async fn drop_stream(js: &jetstream::Context, cfg: &BusConfig) -> anyhow::Result<()> {
    js.delete_stream(cfg.stream_name())
        .await
        .context("deleting the test stream")?;
    Ok(())
}

pub fn bus_config() -> BusConfig {
    BusConfig::new(probity_testkit::nats::unique_prefix()).expect("valid prefix")
}

/// Options that make failures show quickly in tests.
pub fn fast_relay_options() -> RelayOptions {
    RelayOptions {
        batch_size: 16,
        poll_interval: Duration::from_millis(100),
        max_backoff: Duration::from_secs(1),
        standby_retry: Duration::from_millis(500),
        lock_check_interval: Duration::from_millis(500),
        ..RelayOptions::default()
    }
}

pub fn fast_consumer_options() -> ConsumerOptions {
    ConsumerOptions {
        batch: 32,
        ack_wait: Duration::from_secs(3),
        heartbeat: Duration::from_secs(1),
        expires: Duration::from_secs(5),
        max_backoff: Duration::from_secs(1),
        ..ConsumerOptions::default()
    }
}

/// A relay running as a task.
pub struct RelayTask {
    pub handle: JoinHandle<()>,
    pub metrics: Arc<RelayMetrics>,
    pub shutdown: CancellationToken,
}

pub fn spawn_relay(db: &Db, js: &jetstream::Context, cfg: &BusConfig) -> RelayTask {
    let relay = Relay::new(EventLog::new(db.clone()), js.clone(), cfg.clone())
        .with_options(fast_relay_options());
    let metrics = relay.metrics();
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    let handle = tokio::spawn(async move {
        relay.run(token).await.expect("relay configuration");
    });
    RelayTask {
        handle,
        metrics,
        shutdown,
    }
}

pub fn spawn_consumer(
    js: &jetstream::Context,
    cfg: &BusConfig,
    projector: Arc<dyn Projector>,
) -> (JoinHandle<()>, CancellationToken) {
    let consumer = NatsProjector::new(js.clone(), cfg.clone(), projector)
        .with_options(fast_consumer_options());
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    let handle = tokio::spawn(async move {
        consumer.run(token).await.expect("consumer configuration");
    });
    (handle, shutdown)
}

/// Appends `count` access-log events to aggregate `id` through the real executor.
pub async fn append(db: &Db, id: &str, count: usize) -> anyhow::Result<()> {
    let executor = Executor::<AccessLog>::new(db.clone(), ());
    for _ in 0..count {
        let metadata: Metadata = HashMap::from([
            ("actor".to_string(), "token:auditor-1".to_string()),
            ("role".to_string(), "auditor".to_string()),
            ("request_id".to_string(), uuid::Uuid::new_v4().to_string()),
        ]);
        let command = AccessCommand::RecordPersonalDataRead {
            case_type: "complaint".into(),
            case_id: id.into(),
            actor: "token:auditor-1".into(),
            role: "auditor".into(),
            purpose: "bus test".into(),
            at: Utc::now(),
        };
        executor
            .execute(id, command, None, metadata)
            .await
            .map_err(|e| anyhow::anyhow!("append to {id}: {e}"))?;
    }
    Ok(())
}

/// Polls `check` until it returns true or `WAIT` elapses.
pub async fn wait_until<F, Fut>(what: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if check().await? {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("timed out after {WAIT:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The tables of the test projector (created by the test, not a migration).
pub struct ProjectorTables;

impl ProjectorTables {
    async fn create(db: &Db) -> anyhow::Result<()> {
        for sql in [
            "CREATE TABLE bus_test_checkpoints (aggregate_type TEXT NOT NULL, aggregate_id TEXT NOT NULL, \
             last_sequence BIGINT NOT NULL, PRIMARY KEY (aggregate_type, aggregate_id))",
            "CREATE TABLE bus_test_applied (aggregate_type TEXT NOT NULL, aggregate_id TEXT NOT NULL, \
             sequence BIGINT NOT NULL, position BIGINT NOT NULL, apply_no BIGINT NOT NULL)",
        ] {
            sqlx::query(sql).execute(&db.any).await.context("creating projector tables")?;
        }
        Ok(())
    }
}

/// A real projector: records every applied (aggregate, sequence) in `bus_test_applied`
/// with a per-aggregate last-sequence check (`bus_test_checkpoints`) in one transaction.
/// `apply_no` numbers the applications; within one aggregate it follows commit order
/// (the checkpoint row is locked while it is taken).
#[derive(Clone)]
pub struct TableProjector {
    pub db: Db,
}

impl TableProjector {
    pub fn new(db: &Db) -> Self {
        Self { db: db.clone() }
    }
}

#[async_trait::async_trait]
impl Projector for TableProjector {
    fn name(&self) -> &'static str {
        "bus_test_view"
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["access_log"]
    }

    async fn handle(&self, event: &StoredEvent) -> Result<Applied, StoreError> {
        let mut tx = self.db.any.begin().await?;
        // Conditional write: only the next sequence moves the checkpoint (row-locked on
        // Postgres, so two consumers cannot both apply it).
        let moved = if event.sequence == 1 {
            sqlx::query(
                "INSERT INTO bus_test_checkpoints (aggregate_type, aggregate_id, last_sequence) VALUES ($1, $2, 1) \
                 ON CONFLICT (aggregate_type, aggregate_id) DO NOTHING",
            )
            .bind(&event.aggregate_type)
            .bind(&event.aggregate_id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        } else {
            sqlx::query(
                "UPDATE bus_test_checkpoints SET last_sequence = $3 \
                 WHERE aggregate_type = $1 AND aggregate_id = $2 AND last_sequence = $4",
            )
            .bind(&event.aggregate_type)
            .bind(&event.aggregate_id)
            .bind(event.sequence)
            .bind(event.sequence - 1)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        };
        if moved == 0 {
            let last: Option<i64> = sqlx::query_scalar(
                "SELECT last_sequence FROM bus_test_checkpoints WHERE aggregate_type = $1 AND aggregate_id = $2",
            )
            .bind(&event.aggregate_type)
            .bind(&event.aggregate_id)
            .fetch_optional(&mut *tx)
            .await?;
            tx.rollback().await?;
            return Ok(match last {
                Some(last) if last >= event.sequence => Applied::AlreadyApplied,
                _ => Applied::Gap,
            });
        }
        sqlx::query(
            "INSERT INTO bus_test_applied (aggregate_type, aggregate_id, sequence, position, apply_no) \
             SELECT $1, $2, $3, $4, COALESCE(MAX(apply_no), 0) + 1 FROM bus_test_applied",
        )
        .bind(&event.aggregate_type)
        .bind(&event.aggregate_id)
        .bind(event.sequence)
        .bind(event.position)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Applied::Applied)
    }
}

/// How many applications the view recorded.
pub async fn applied_count(db: &Db) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM bus_test_applied")
        .fetch_one(&db.any)
        .await?)
}

/// Asserts the view holds, for each `(aggregate_id, count)`, sequences 1..=count applied
/// exactly once each and in sequence order, and nothing else.
pub async fn assert_view_exact(db: &Db, expected: &[(String, i64)]) -> anyhow::Result<()> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT aggregate_id, sequence FROM bus_test_applied ORDER BY apply_no")
            .fetch_all(&db.any)
            .await?;
    let total: i64 = expected.iter().map(|(_, n)| n).sum();
    assert_eq!(
        rows.len() as i64,
        total,
        "applications recorded (duplicates or losses)"
    );
    for (id, count) in expected {
        let seqs: Vec<i64> = rows
            .iter()
            .filter(|(a, _)| a == id)
            .map(|(_, s)| *s)
            .collect();
        let want: Vec<i64> = (1..=*count).collect();
        assert_eq!(
            seqs, want,
            "aggregate {id}: applied sequences in apply order"
        );
    }
    Ok(())
}

/// Waits until the view recorded `total` applications.
pub async fn wait_for_applied(db: &Db, total: i64) -> anyhow::Result<()> {
    wait_until(&format!("{total} applied events"), || async {
        Ok(applied_count(db).await? >= total)
    })
    .await
}

pub fn aggregate_ids(n: usize) -> Vec<String> {
    (0..n).map(|_| uuid::Uuid::new_v4().to_string()).collect()
}
