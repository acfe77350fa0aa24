//! Test support: a real database per test (SQLite in a temporary directory, or a fresh
//! Postgres database from the testkit), the real command executor to produce complaint
//! events, and the projector fed from the real event log.
#![allow(dead_code)]

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use probity_domain::calendar::WorkingCalendar;
use probity_domain::complaint::{
    Category, Channel, Complaint, ComplaintCommand, ComplaintServices,
};
use probity_domain::ids::CreditCode;
use probity_domain::policy::TimeLimits;
use probity_domain::reporter::ReporterIdentity;
use probity_store::{
    Applied, Checkpoint, Db, EventLog, Executor, KeyStore, Metadata, Projector, StoredEvent,
};
use probity_views::ComplaintProjector;

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// Runs an async test body on both backends as two tests named after it.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                super::$name($crate::helpers::Kind::Sqlite).await.unwrap();
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                super::$name($crate::helpers::Kind::Postgres).await.unwrap();
            }
        }
    )*};
}

pub const UNIT_A: &str = "914403001922038216";
pub const UNIT_B: &str = "91330100716105852F";
pub const SUBJECT: &str = "113604000123456713";

/// One test's database, executor, log and projector.
pub struct TestApp {
    pub kind: Kind,
    pub db: Db,
    pub log: EventLog,
    pub executor: Executor<Complaint>,
    pub keys: KeyStore,
    pub projector: ComplaintProjector,
    /// How to open a second, independent `Db` on the same database (a second process).
    pub reopen: Reopen,
    _dir: Option<tempfile::TempDir>,
}

pub enum Reopen {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Reopen {
    pub async fn open(&self) -> anyhow::Result<Db> {
        Ok(match self {
            Reopen::Sqlite(dir) => Db::open_sqlite(dir).await.context("reopen sqlite")?,
            Reopen::Postgres(url) => Db::connect_postgres(url)
                .await
                .context("reconnect postgres")?,
        })
    }
}

pub async fn spawn(kind: Kind) -> anyhow::Result<TestApp> {
    let (db, reopen, dir) = match kind {
        Kind::Sqlite => {
            let dir = tempfile::tempdir().context("temp dir")?;
            let db = Db::open_sqlite(dir.path()).await.context("open sqlite")?;
            (db, Reopen::Sqlite(dir.path().to_path_buf()), Some(dir))
        }
        Kind::Postgres => {
            let url = probity_testkit::pg::fresh_database()
                .await
                .context("fresh database")?;
            let db = Db::connect_postgres(&url)
                .await
                .context("connect postgres")?;
            (db, Reopen::Postgres(url), None)
        }
    };
    let services = ComplaintServices {
        calendar: Arc::new(WorkingCalendar::china()),
        limits: TimeLimits::default(),
    };
    Ok(TestApp {
        kind,
        log: EventLog::new(db.clone()),
        executor: Executor::new(db.clone(), services),
        keys: KeyStore::new(db.clone()),
        projector: ComplaintProjector::new(db.clone()),
        db,
        reopen,
        _dir: dir,
    })
}

/// `hour` o'clock UTC on a day of 2026. Tests keep `hour` below 16, so the Shanghai
/// date (UTC+8) the deadlines count from is the same day.
pub fn at(month: u32, day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, month, day, hour, 0, 0).unwrap()
}

pub fn date(month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, month, day).unwrap()
}

pub fn unit(code: &str) -> CreditCode {
    CreditCode::parse(code).unwrap()
}

impl TestApp {
    /// Runs one command; a refusal is an error naming the case.
    pub async fn run(&self, id: &str, command: ComplaintCommand) -> anyhow::Result<()> {
        let mut metadata = Metadata::new();
        metadata.insert("actor".into(), "test".into());
        self.executor
            .execute(id, command, None, metadata)
            .await
            .map_err(|e| anyhow::anyhow!("command on {id} failed: {e}"))?;
        Ok(())
    }

    /// Files a complaint with a sealed reporter (or anonymously).
    pub async fn file(
        &self,
        id: &str,
        category: Category,
        anonymous: bool,
        received_at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let reporter = if anonymous {
            None
        } else {
            Some(
                self.keys
                    .seal(&ReporterIdentity {
                        name: Some("Wang Fang".into()),
                        phone: Some("13800138000".into()),
                        identity_number: Some("11010519491231002X".into()),
                    })
                    .await?,
            )
        };
        self.run(
            id,
            ComplaintCommand::FileComplaint {
                category,
                channel: Channel::Hotline,
                subject_code: Some(unit(SUBJECT)),
                title: format!("Case {id}"),
                description: "The office ignored the permit application.".into(),
                anonymous,
                reporter,
                at: received_at,
            },
        )
        .await
    }

    /// Files, accepts and dispatches a case to `unit_code` at `dispatched_at`.
    pub async fn dispatched(
        &self,
        id: &str,
        category: Category,
        unit_code: &str,
        received_at: DateTime<Utc>,
        dispatched_at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        self.file(id, category, false, received_at).await?;
        self.run(id, ComplaintCommand::AcceptComplaint { at: received_at })
            .await?;
        self.run(
            id,
            ComplaintCommand::DispatchComplaint {
                unit: unit(unit_code),
                above: Vec::new(),
                at: dispatched_at,
            },
        )
        .await
    }

    pub async fn sign(&self, id: &str, unit_code: &str, at: DateTime<Utc>) -> anyhow::Result<()> {
        self.run(
            id,
            ComplaintCommand::SignComplaint {
                unit: unit(unit_code),
                at,
            },
        )
        .await
    }

    /// Every event of the log, in commit order, in wire form (as the bus carries them and
    /// projectors read them). On Postgres the commit-safe read holds
    /// back events while any older transaction of the server (another test's) is still
    /// open, so this waits until it has read as many events as the log holds.
    pub async fn all_events(&self) -> anyhow::Result<Vec<StoredEvent>> {
        let expected = self.log.count().await? as usize;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut out = Vec::new();
        let mut after = Checkpoint::ZERO;
        loop {
            let page = self.log.read_after(after, 1000).await?;
            match page.last() {
                Some(last) => {
                    after = Checkpoint::of(last);
                    out.extend(page.into_iter().map(StoredEvent::into_wire));
                }
                None if out.len() >= expected => return Ok(out),
                None => {
                    anyhow::ensure!(
                        std::time::Instant::now() < deadline,
                        "read {} of {expected} events",
                        out.len()
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        }
    }

    /// Feeds the whole log to the projector (as the bus would); every event must be
    /// applied or already applied, never a gap.
    pub async fn project(&self) -> anyhow::Result<usize> {
        let mut applied = 0;
        for event in self.all_events().await? {
            match self.projector.handle(&event).await? {
                Applied::Applied => applied += 1,
                Applied::AlreadyApplied => {}
                Applied::Gap => anyhow::bail!("gap at {}:{}", event.aggregate_id, event.sequence),
            }
        }
        Ok(applied)
    }

    /// The events of one complaint, in wire form (as the bus carries them).
    pub async fn events_of(&self, id: &str) -> anyhow::Result<Vec<StoredEvent>> {
        let events = self.log.read_aggregate("complaint", id, None).await?;
        Ok(events.into_iter().map(StoredEvent::into_wire).collect())
    }
}
