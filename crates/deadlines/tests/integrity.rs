//! The integrity deadlines through the real engine: a rectification is reminded once
//! within the window, escalated (通报批评) exactly when its due day has ended, once, even
//! with a second engine on the same database. SQLite and a fresh Postgres database (from
//! `probity_testkit`; without Postgres the test fails saying so, never skips).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use probity_app::deadlines::{complaint, integrity};
use probity_deadlines::{DeadlineEngine, EngineConfig, Registry};
use probity_domain::ids::CreditCode;
use probity_domain::integrity::{
    IntegrityPolicy, IntegrityServices, PublicityPolicy, RecordFacts, Severity,
};
use probity_domain::rectification::{Rectification, RectificationCommand};
use probity_domain::WorkingCalendar;
use probity_store::{Db, EventLog, Executor, Metadata, Projector};
use probity_views::IntegrityProjector;

/// An instant given in Asia/Shanghai time (UTC+8).
fn sh(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap() - chrono::Duration::hours(8)
}

fn services() -> IntegrityServices {
    IntegrityServices {
        calendar: Arc::new(WorkingCalendar::china()),
        policy: IntegrityPolicy::default(),
    }
}

async fn open(kind: &str) -> anyhow::Result<(Db, Option<tempfile::TempDir>, Option<String>)> {
    Ok(match kind {
        "sqlite" => {
            let dir = tempfile::tempdir()?;
            (Db::open_sqlite(dir.path()).await?, Some(dir), None)
        }
        _ => {
            let url = probity_testkit::pg::fresh_database()
                .await
                .context("these tests need Postgres: set DATABASE_URL or install postgres")?;
            (Db::connect_postgres(&url).await?, None, Some(url))
        }
    })
}

fn engine(db: Db, clock: Arc<Mutex<DateTime<Utc>>>) -> DeadlineEngine {
    let registry = integrity::register(
        complaint::register(
            Registry::new(),
            Arc::new(Executor::new(
                db.clone(),
                probity_domain::complaint::ComplaintServices {
                    calendar: Arc::new(WorkingCalendar::china()),
                    limits: Default::default(),
                },
            )),
        ),
        Arc::new(Executor::new(db.clone(), services())),
        Arc::new(Executor::new(db.clone(), services())),
        Arc::new(Executor::new(db.clone(), services())),
        Arc::new(Executor::new(db.clone(), services())),
    );
    DeadlineEngine::new(
        db,
        registry,
        Arc::new(WorkingCalendar::china()),
        Arc::new(move || *clock.lock().unwrap()),
        EngineConfig {
            tick: Duration::from_millis(20),
            reminder_working_days: 1,
            ..EngineConfig::default()
        },
    )
}

async fn project(db: &Db, id: &str) -> anyhow::Result<Vec<String>> {
    let events = EventLog::new(db.clone())
        .read_aggregate("rectification", id, None)
        .await?;
    let projector = IntegrityProjector::new(db.clone());
    for event in &events {
        projector.handle(event).await?;
    }
    Ok(events.iter().map(|e| e.event_type.clone()).collect())
}

async fn a_rectification_is_reminded_then_escalated_once(kind: &str) -> anyhow::Result<()> {
    let (db, _dir, url) = open(kind).await?;
    let rectifications = Executor::<Rectification>::new(db.clone(), services());
    let record = RecordFacts {
        record_id: "record-1".into(),
        unit: CreditCode::parse("914403001922038216").unwrap(),
        personal: false,
        severity: Severity::Ordinary,
        publicity: PublicityPolicy::default().window(
            Severity::Ordinary,
            chrono::NaiveDate::from_ymd_opt(2026, 2, 2).unwrap(),
            false,
            false,
        ),
        withdrawn: false,
        recorded_by: None,
    };
    // Ordered Mon 9 Mar 2026 for 3 working days: due Thu 12 Mar.
    rectifications
        .execute(
            "rect-1",
            RectificationCommand::OrderRectification {
                record,
                working_days: 3,
                at: sh(2026, 3, 9, 10, 0),
            },
            None,
            Metadata::new(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    project(&db, "rect-1").await?;

    let clock = Arc::new(Mutex::new(sh(2026, 3, 10, 9, 0)));
    let first = engine(db.clone(), clock.clone());
    first.tick().await;
    assert_eq!(
        project(&db, "rect-1").await?,
        ["RectificationOrdered"],
        "2 working days left: no reminder yet"
    );

    *clock.lock().unwrap() = sh(2026, 3, 11, 9, 0);
    first.tick().await;
    first.tick().await;
    assert_eq!(
        project(&db, "rect-1").await?,
        ["RectificationOrdered", "RectificationDueSoon"]
    );

    *clock.lock().unwrap() = sh(2026, 3, 12, 23, 59);
    first.tick().await;
    assert_eq!(
        project(&db, "rect-1").await?.len(),
        2,
        "the due day is not over"
    );

    *clock.lock().unwrap() = sh(2026, 3, 13, 0, 0);
    let second_db = match &url {
        Some(url) => Db::connect_postgres(url).await?,
        None => db.clone(),
    };
    let second = engine(second_db, clock.clone());
    let (a, b) = tokio::join!(first.tick(), second.tick());
    assert_eq!(a.fired + b.fired, 1, "{a:?} {b:?}");
    first.tick().await;
    second.tick().await;
    assert_eq!(
        project(&db, "rect-1").await?,
        [
            "RectificationOrdered",
            "RectificationDueSoon",
            "RectificationEscalated"
        ]
    );
    db.close().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_a_rectification_is_reminded_then_escalated_once() {
    a_rectification_is_reminded_then_escalated_once("sqlite")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_rectification_is_reminded_then_escalated_once() {
    a_rectification_is_reminded_then_escalated_once("postgres")
        .await
        .unwrap();
}
