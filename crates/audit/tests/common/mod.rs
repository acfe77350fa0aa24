//! Test support: a real database per test (SQLite in a temporary directory or a fresh
//! Postgres database from the testkit), the real executors to produce complaint and
//! access-log events, the sealer and signer, and the SQL of the tampering drills.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{TimeZone, Utc};
use probity_audit::{verify_log, Sealer, Signer, SigningKey, VerifyReport};
use probity_domain::access::{AccessCommand, AccessLog};
use probity_domain::calendar::WorkingCalendar;
use probity_domain::complaint::{
    Category, Channel, Complaint, ComplaintCommand, ComplaintServices,
};
use probity_domain::ids::CreditCode;
use probity_domain::policy::TimeLimits;
use probity_domain::reporter::{ReporterIdentity, SealedReporter};
use probity_store::{Backend, Db, EventLog, Executor, KeyStore, Metadata, StoredEvent};

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// Every test body is bounded by this.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(180);

/// Runs an async test body on both backends as two tests named after it.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                tokio::time::timeout($crate::common::TEST_TIMEOUT, super::$name($crate::common::Kind::Sqlite))
                    .await
                    .expect("test timed out")
                    .unwrap();
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                tokio::time::timeout($crate::common::TEST_TIMEOUT, super::$name($crate::common::Kind::Postgres))
                    .await
                    .expect("test timed out")
                    .unwrap();
            }
        }
    )*};
}

pub struct TestApp {
    pub kind: Kind,
    pub db: Db,
    pub complaints: Executor<Complaint>,
    pub access: Executor<AccessLog>,
    pub keys: KeyStore,
    pub signing: SigningKey,
    /// The Postgres database's URL (a second server connects to it).
    pub url: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

pub async fn spawn(kind: Kind) -> anyhow::Result<TestApp> {
    let (db, dir, url) = match kind {
        Kind::Sqlite => {
            let dir = tempfile::tempdir().context("temp dir")?;
            let db = Db::open_sqlite(dir.path()).await.context("open sqlite")?;
            (db, Some(dir), None)
        }
        Kind::Postgres => {
            let url = probity_testkit::pg::fresh_database()
                .await
                .context("fresh database")?;
            (
                Db::connect_postgres(&url)
                    .await
                    .context("connect postgres")?,
                None,
                Some(url),
            )
        }
    };
    Ok(on(kind, db, dir, url))
}

/// The executors of a server on `db`.
fn on(kind: Kind, db: Db, dir: Option<tempfile::TempDir>, url: Option<String>) -> TestApp {
    let services = ComplaintServices {
        calendar: Arc::new(WorkingCalendar::china()),
        limits: TimeLimits::default(),
    };
    TestApp {
        kind,
        complaints: Executor::new(db.clone(), services),
        access: Executor::new(db.clone(), ()),
        keys: KeyStore::new(db.clone()),
        signing: SigningKey::from_bytes(&[7u8; 32]),
        db,
        url,
        _dir: dir,
    }
}

impl TestApp {
    /// A second server on the same Postgres database: its own pool and group committer.
    pub async fn second_server(&self) -> anyhow::Result<TestApp> {
        let url = self.url.clone().context("a second server needs Postgres")?;
        let db = Db::connect_postgres(&url)
            .await
            .context("connect postgres")?;
        Ok(on(self.kind, db, None, Some(url)))
    }
}

fn metadata() -> Metadata {
    let mut m = Metadata::new();
    m.insert("actor".into(), "test".into());
    m
}

impl TestApp {
    /// Files a complaint with a sealed reporter; returns the reporter block.
    pub async fn file(&self, id: &str) -> anyhow::Result<SealedReporter> {
        let reporter = self
            .keys
            .seal(&ReporterIdentity {
                name: Some("Test Reporter".into()),
                phone: Some("13800000000".into()),
                identity_number: None,
            })
            .await?;
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap();
        self.complaints
            .execute(
                id,
                ComplaintCommand::FileComplaint {
                    category: Category::Help,
                    channel: Channel::Hotline,
                    subject_code: Some(CreditCode::parse("113604000123456713").unwrap()),
                    title: format!("Case {id}"),
                    description: "The office ignored the permit application.".into(),
                    anonymous: false,
                    reporter: Some(reporter.clone()),
                    at,
                },
                None,
                metadata(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("file {id}: {e}"))?;
        self.complaints
            .execute(
                id,
                ComplaintCommand::AcceptComplaint { at },
                None,
                metadata(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("accept {id}: {e}"))?;
        Ok(reporter)
    }

    /// Records `n` personal-data reads of a case in the access log `log_id`.
    pub async fn reads(&self, log_id: &str, n: usize) -> anyhow::Result<()> {
        for i in 0..n {
            self.access
                .execute(
                    log_id,
                    AccessCommand::RecordPersonalDataRead {
                        case_type: "complaint".into(),
                        case_id: format!("c-{i}"),
                        actor: "auditor-1".into(),
                        role: "auditor".into(),
                        purpose: "test".into(),
                        at: Utc::now(),
                    },
                    None,
                    metadata(),
                )
                .await
                .map_err(|e| anyhow::anyhow!("read {log_id}: {e}"))?;
        }
        Ok(())
    }

    /// A mixed log: complaints and access-log entries interleaved.
    pub async fn some_events(&self) -> anyhow::Result<()> {
        self.file("c-1").await?;
        self.reads("auditor-1", 3).await?;
        self.file("c-2").await?;
        self.reads("auditor-2", 2).await?;
        self.file("c-3").await?;
        Ok(())
    }

    /// Seals until every event is sealed (on Postgres, `read_after` holds events back
    /// while any older transaction of the cluster, e.g. another test's, is open).
    /// Returns the number of events sealed; gives up after 30 s.
    pub async fn seal(&self) -> anyhow::Result<u64> {
        let mut sealer = Sealer::new(EventLog::new(self.db.clone()));
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut sealed = 0;
        loop {
            sealed += sealer.seal_available().await?;
            let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
                .fetch_one(&self.db.any)
                .await?;
            let seals: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM event_seals")
                .fetch_one(&self.db.any)
                .await?;
            if seals >= events {
                return Ok(sealed);
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "only {seals} of {events} events sealed after 30 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Seals and signs the head.
    pub async fn seal_and_sign(&self) -> anyhow::Result<()> {
        self.seal().await?;
        Signer::new(
            self.db.clone(),
            self.signing.clone(),
            Duration::from_secs(1),
            None,
        )
        .sign_once()
        .await?
        .context("nothing to sign")?;
        Ok(())
    }

    pub async fn verify(&self) -> anyhow::Result<VerifyReport> {
        Ok(verify_log(&self.db, &self.signing.verifying_key(), &|_, _| {}).await?)
    }

    /// Verifies once the verifier can see `events` events. On Postgres it reads only below
    /// the server's commit horizon (`pg_snapshot_xmin`), which any other database's open
    /// transaction on the same server (a parallel test) holds back for a moment.
    pub async fn verify_seeing(&self, events: u64) -> anyhow::Result<VerifyReport> {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let report = self.verify().await?;
            if report.events >= events || std::time::Instant::now() > deadline {
                return Ok(report);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every event in position order.
    pub async fn events(&self) -> anyhow::Result<Vec<StoredEvent>> {
        let mut all = Vec::new();
        for ty in ["complaint", "access_log"] {
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT aggregate_id FROM events WHERE aggregate_type = $1",
            )
            .bind(ty)
            .fetch_all(&self.db.any)
            .await?;
            for id in ids {
                all.extend(
                    EventLog::new(self.db.clone())
                        .read_aggregate(ty, &id, None)
                        .await?,
                );
            }
        }
        all.sort_by_key(|e| e.position);
        Ok(all)
    }

    /// The event `type/id#sequence`.
    pub async fn event(&self, ty: &str, id: &str, sequence: i64) -> anyhow::Result<StoredEvent> {
        self.events()
            .await?
            .into_iter()
            .find(|e| e.aggregate_type == ty && e.aggregate_id == id && e.sequence == sequence)
            .context("no such event")
    }

    /// Tampering drill: overwrites one event's payload by SQL.
    pub async fn set_payload(
        &self,
        position: i64,
        payload: &serde_json::Value,
    ) -> anyhow::Result<()> {
        let sql = match self.db.backend {
            Backend::Postgres => {
                "UPDATE events SET payload = CAST($1 AS jsonb) WHERE position = $2"
            }
            Backend::Sqlite => "UPDATE events SET payload = $1 WHERE position = $2",
        };
        let done = sqlx::query(sql)
            .bind(payload.to_string())
            .bind(position)
            .execute(&self.db.any)
            .await?;
        anyhow::ensure!(done.rows_affected() == 1, "no event at position {position}");
        Ok(())
    }

    pub async fn exec(&self, sql: &str) -> anyhow::Result<u64> {
        Ok(sqlx::query(sql)
            .execute(&self.db.any)
            .await?
            .rows_affected())
    }
}
