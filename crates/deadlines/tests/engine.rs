//! The deadline engine against real databases: every scenario on SQLite in a temporary
//! directory and on a fresh Postgres database (from `probity_testkit`: `DATABASE_URL`, or
//! a private throwaway server; without either the test fails saying so, never skips).
//! Events come from the real executor, the board from the real complaint projector, and
//! the engine's clock is a hand-moved instant.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use probity_app::deadlines::complaint;
use probity_deadlines::{DeadlineEngine, EngineConfig, Now, Registry, TickReport};
use probity_domain::complaint::{
    Category, Channel, Complaint, ComplaintCommand, ComplaintServices,
};
use probity_domain::ids::CreditCode;
use probity_domain::{TimeLimits, WorkingCalendar};
use probity_store::{Db, EventLog, Executor, Metadata, Projector};
use probity_views::ComplaintProjector;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sqlite,
    Postgres,
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                super::$name(super::Kind::Sqlite).await.unwrap();
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                super::$name(super::Kind::Postgres).await.unwrap();
            }
        }
    )*};
}

on_both_backends!(
    a_sign_deadline_fires_exactly_when_the_working_day_has_ended,
    an_extension_approved_before_the_due_day_keeps_the_old_day_from_firing,
    a_restarted_engine_fires_a_deadline_passed_while_it_was_down_once,
    reminders_fire_once_within_the_window_across_the_spring_festival,
    what_was_settled_is_kept_while_the_deadline_is_open_and_pruned_after,
);

const UNIT: &str = "914403001922038216";

/// An instant given in Asia/Shanghai time (UTC+8).
fn sh(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap() - chrono::Duration::hours(8)
}

fn services() -> ComplaintServices {
    ComplaintServices {
        calendar: Arc::new(WorkingCalendar::china()),
        limits: TimeLimits::default(),
    }
}

/// One database, its executor and projector, and a clock the test moves.
struct Bench {
    db: Db,
    executor: Arc<Executor<Complaint>>,
    projector: ComplaintProjector,
    clock: Arc<Mutex<DateTime<Utc>>>,
    reopen: Reopen,
    _dir: Option<tempfile::TempDir>,
}

enum Reopen {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

async fn bench(kind: Kind) -> anyhow::Result<Bench> {
    let (db, reopen, dir) = match kind {
        Kind::Sqlite => {
            let dir = tempfile::tempdir().context("temp dir")?;
            let db = Db::open_sqlite(dir.path()).await.context("open sqlite")?;
            (db, Reopen::Sqlite(dir.path().to_path_buf()), Some(dir))
        }
        Kind::Postgres => {
            let url = probity_testkit::pg::fresh_database()
                .await
                .context("these tests need Postgres: set DATABASE_URL or install postgres")?;
            let db = Db::connect_postgres(&url)
                .await
                .context("connect postgres")?;
            (db, Reopen::Postgres(url), None)
        }
    };
    Ok(Bench {
        executor: Arc::new(Executor::new(db.clone(), services())),
        projector: ComplaintProjector::new(db.clone()),
        db,
        clock: Arc::new(Mutex::new(sh(2026, 1, 5, 9, 0, 0))),
        reopen,
        _dir: dir,
    })
}

impl Bench {
    /// A second, independent connection to the same database (another server).
    async fn reopen(&self) -> anyhow::Result<Db> {
        Ok(match &self.reopen {
            Reopen::Sqlite(dir) => Db::open_sqlite(dir).await?,
            Reopen::Postgres(url) => Db::connect_postgres(url).await?,
        })
    }

    fn set_clock(&self, at: DateTime<Utc>) {
        *self.clock.lock().unwrap() = at;
    }

    fn now(&self) -> Now {
        let clock = self.clock.clone();
        Arc::new(move || *clock.lock().unwrap())
    }

    /// An engine on `db` (this bench's by default) with the bench's clock.
    fn engine_on(&self, db: Db, reminder_working_days: u32) -> DeadlineEngine {
        self.engine_with(
            db,
            EngineConfig {
                tick: Duration::from_millis(20),
                reminder_working_days,
                ..EngineConfig::default()
            },
        )
    }

    fn engine_with(&self, db: Db, config: EngineConfig) -> DeadlineEngine {
        let executor = Arc::new(Executor::new(db.clone(), services()));
        DeadlineEngine::new(
            db,
            complaint::register(Registry::new(), executor),
            Arc::new(WorkingCalendar::china()),
            self.now(),
            config,
        )
    }

    async fn firings(&self) -> anyhow::Result<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM deadline_firings")
            .fetch_one(&self.db.any)
            .await?;
        Ok(n)
    }

    fn engine(&self, reminder_working_days: u32) -> DeadlineEngine {
        self.engine_on(self.db.clone(), reminder_working_days)
    }

    async fn run(&self, id: &str, command: ComplaintCommand) -> anyhow::Result<()> {
        let mut metadata = Metadata::new();
        metadata.insert("actor".into(), "test".into());
        self.executor
            .execute(id, command, None, metadata)
            .await
            .map_err(|e| anyhow::anyhow!("command on {id} failed: {e}"))?;
        Ok(())
    }

    /// Files (anonymously), accepts and dispatches a case at `at`.
    async fn dispatched(
        &self,
        id: &str,
        category: Category,
        at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        self.run(
            id,
            ComplaintCommand::FileComplaint {
                category,
                channel: Channel::Hotline,
                subject_code: None,
                title: format!("Case {id}"),
                description: "The office ignored the application.".into(),
                anonymous: true,
                reporter: None,
                at,
            },
        )
        .await?;
        self.run(id, ComplaintCommand::AcceptComplaint { at })
            .await?;
        self.run(
            id,
            ComplaintCommand::DispatchComplaint {
                unit: CreditCode::parse(UNIT).unwrap(),
                above: Vec::new(),
                at,
            },
        )
        .await
    }

    /// Brings the deadline board up to date with the cases' events (as the bus would).
    async fn project(&self, ids: &[&str]) -> anyhow::Result<()> {
        let log = EventLog::new(self.db.clone());
        for id in ids {
            for event in log.read_aggregate("complaint", id, None).await? {
                self.projector.handle(&event).await?;
            }
        }
        Ok(())
    }

    /// The event types of one case, in order.
    async fn types(&self, id: &str) -> anyhow::Result<Vec<String>> {
        Ok(EventLog::new(self.db.clone())
            .read_aggregate("complaint", id, None)
            .await?
            .into_iter()
            .map(|e| e.event_type)
            .collect())
    }

    async fn count(&self, id: &str, event_type: &str) -> anyhow::Result<usize> {
        Ok(self
            .types(id)
            .await?
            .iter()
            .filter(|t| *t == event_type)
            .count())
    }

    async fn payloads(&self, id: &str, event_type: &str) -> anyhow::Result<Vec<serde_json::Value>> {
        Ok(EventLog::new(self.db.clone())
            .read_aggregate("complaint", id, None)
            .await?
            .into_iter()
            .filter(|e| e.event_type == event_type)
            .map(|e| e.payload[event_type].clone())
            .collect())
    }
}

fn fired(n: usize) -> TickReport {
    TickReport {
        fired: n,
        settled: 0,
        errors: 0,
    }
}

/// (a) A consultation dispatched Thu 12 Feb 2026 must be signed by Fri 13 Feb; it is
/// overdue from Sat 14 Feb 00:00 Shanghai (a make-up working day), not a tick before. Its
/// reply is due Tue 24 Feb, after the Spring Festival (15–23 Feb off): not overdue during
/// the holiday, overdue from 25 Feb 00:00.
async fn a_sign_deadline_fires_exactly_when_the_working_day_has_ended(
    kind: Kind,
) -> anyhow::Result<()> {
    let b = bench(kind).await?;
    b.dispatched("c-1", Category::Consultation, sh(2026, 2, 12, 10, 0, 0))
        .await?;
    b.project(&["c-1"]).await?;
    let engine = b.engine(0);

    b.set_clock(sh(2026, 2, 13, 23, 59, 59));
    assert_eq!(
        engine.tick().await,
        fired(0),
        "the due day is on time to its end"
    );
    assert_eq!(b.count("c-1", "SignOverdue").await?, 0);

    b.set_clock(sh(2026, 2, 14, 0, 0, 0));
    assert_eq!(engine.tick().await, fired(1));
    b.project(&["c-1"]).await?;
    let marked = b.payloads("c-1", "SignOverdue").await?;
    assert_eq!(marked.len(), 1);
    assert_eq!(marked[0]["due"], "2026-02-13");
    assert_eq!(marked[0]["unit"], UNIT);
    assert_eq!(
        engine.tick().await,
        TickReport::default(),
        "nothing left to do"
    );

    b.set_clock(sh(2026, 2, 23, 12, 0, 0));
    assert_eq!(
        engine.tick().await,
        fired(0),
        "the holiday does not make it late"
    );
    b.set_clock(sh(2026, 2, 24, 23, 59, 59));
    assert_eq!(engine.tick().await, fired(0));
    b.set_clock(sh(2026, 2, 25, 0, 0, 0));
    assert_eq!(engine.tick().await, fired(1));
    b.project(&["c-1"]).await?;
    let replied_late = b.payloads("c-1", "ReplyOverdue").await?;
    assert_eq!(replied_late.len(), 1);
    assert_eq!(replied_late[0]["due"], "2026-02-24");
    assert_eq!(replied_late[0]["unit"], UNIT);

    for _ in 0..3 {
        engine.tick().await;
    }
    assert_eq!(b.count("c-1", "SignOverdue").await?, 1);
    assert_eq!(b.count("c-1", "ReplyOverdue").await?, 1);
    let stats = engine.metrics().snapshot();
    assert_eq!((stats.fired_overdue, stats.errors), (2, 0));
    Ok(())
}

/// (b) Signed, an extension of 2 working days approved on the reply due day: the reply
/// never fires on the old day, even while the board still shows it (the aggregate
/// refuses, the engine takes it as settled); it fires once after the new day.
async fn an_extension_approved_before_the_due_day_keeps_the_old_day_from_firing(
    kind: Kind,
) -> anyhow::Result<()> {
    let b = bench(kind).await?;
    // Mon 2 Mar 2026: consultation reply due Thu 5 Mar.
    b.dispatched("c-1", Category::Consultation, sh(2026, 3, 2, 10, 0, 0))
        .await?;
    let unit = CreditCode::parse(UNIT).unwrap();
    b.run(
        "c-1",
        ComplaintCommand::SignComplaint {
            unit: unit.clone(),
            at: sh(2026, 3, 2, 11, 0, 0),
        },
    )
    .await?;
    b.project(&["c-1"]).await?;
    b.run(
        "c-1",
        ComplaintCommand::RequestExtension {
            unit,
            working_days: 2,
            reason: "site visit".into(),
            at: sh(2026, 3, 5, 9, 0, 0),
        },
    )
    .await?;
    b.run(
        "c-1",
        ComplaintCommand::ApproveExtension {
            note: "ok".into(),
            at: sh(2026, 3, 5, 10, 0, 0),
        },
    )
    .await?;
    // The board has not seen the approval yet: it still says 5 Mar.
    let engine = b.engine(0);
    b.set_clock(sh(2026, 3, 6, 0, 0, 1));
    let report = engine.tick().await;
    assert_eq!(
        report,
        TickReport {
            fired: 0,
            settled: 1,
            errors: 0
        },
        "the aggregate refuses the old day"
    );
    b.project(&["c-1"]).await?;
    for _ in 0..2 {
        assert_eq!(engine.tick().await, TickReport::default());
    }
    // New due day: Mon 9 Mar (5 Mar + 2 working days).
    b.set_clock(sh(2026, 3, 9, 23, 59, 59));
    assert_eq!(engine.tick().await, fired(0));
    assert_eq!(b.count("c-1", "ReplyOverdue").await?, 0);
    b.set_clock(sh(2026, 3, 10, 0, 0, 0));
    assert_eq!(engine.tick().await, fired(1));
    let marked = b.payloads("c-1", "ReplyOverdue").await?;
    assert_eq!(marked.len(), 1);
    assert_eq!(marked[0]["due"], "2026-03-09");
    Ok(())
}

/// (c) The engine runs, is stopped before the due time, and a new one (fresh memory)
/// starts after it: the deadline fires once. Further restarts, even with the
/// `deadline_firings` cache wiped, add no second event.
async fn a_restarted_engine_fires_a_deadline_passed_while_it_was_down_once(
    kind: Kind,
) -> anyhow::Result<()> {
    let b = bench(kind).await?;
    b.dispatched("c-1", Category::Help, sh(2026, 3, 2, 10, 0, 0))
        .await?;
    b.project(&["c-1"]).await?;
    // Sign due Tue 3 Mar.
    b.set_clock(sh(2026, 3, 3, 18, 0, 0));
    let first = b.engine(0);
    let metrics = first.metrics();
    let token = CancellationToken::new();
    let task = tokio::spawn(first.run(token.clone()));
    wait_for(|| metrics.snapshot().ticks >= 3).await?;
    token.cancel();
    task.await?;
    assert_eq!(b.count("c-1", "SignOverdue").await?, 0);

    // Down over the boundary; restarted the next morning.
    b.set_clock(sh(2026, 3, 4, 8, 30, 0));
    let second = b.engine(0);
    let metrics = second.metrics();
    let token = CancellationToken::new();
    let task = tokio::spawn(second.run(token.clone()));
    wait_for(|| metrics.snapshot().fired_overdue == 1).await?;
    wait_for(|| metrics.snapshot().ticks >= 5).await?;
    token.cancel();
    task.await?;
    assert_eq!(metrics.snapshot().fired_overdue, 1);
    assert_eq!(b.count("c-1", "SignOverdue").await?, 1);

    // Another restart: the firings table keeps it from even trying again.
    let third = b.engine(0);
    assert_eq!(third.tick().await, TickReport::default());
    // Without the table, the aggregate still refuses: settled, no second event.
    sqlx::query("DELETE FROM deadline_firings")
        .execute(&b.db.any)
        .await?;
    let fourth = b.engine(0);
    assert_eq!(
        fourth.tick().await,
        TickReport {
            fired: 0,
            settled: 1,
            errors: 0
        }
    );
    assert_eq!(b.count("c-1", "SignOverdue").await?, 1);
    Ok(())
}

/// Reminders (window 1 working day): the sign deadline (Fri 13 Feb) is reminded at once
/// on Thu 12 Feb; the reply (Tue 24 Feb) is not (3 working days left: 13, Sat 14, 24)
/// until the holiday starts (Sun 15 Feb: only 24 Feb left), then once.
async fn reminders_fire_once_within_the_window_across_the_spring_festival(
    kind: Kind,
) -> anyhow::Result<()> {
    let b = bench(kind).await?;
    b.dispatched("c-1", Category::Consultation, sh(2026, 2, 12, 10, 0, 0))
        .await?;
    b.project(&["c-1"]).await?;
    let engine = b.engine(1);
    b.set_clock(sh(2026, 2, 12, 10, 0, 1));
    assert_eq!(engine.tick().await, fired(1));
    let reminded = b.payloads("c-1", "DeadlineDueSoon").await?;
    assert_eq!(reminded.len(), 1);
    assert_eq!(
        (&reminded[0]["kind"], &reminded[0]["due"]),
        (&serde_json::json!("sign"), &serde_json::json!("2026-02-13"))
    );
    b.set_clock(sh(2026, 2, 14, 9, 0, 0));
    // Sat 14 Feb (make-up working day): the sign deadline is overdue, and the reply has
    // one working day left (24 Feb), so it is reminded too.
    b.project(&["c-1"]).await?;
    let report = engine.tick().await;
    assert_eq!(report, fired(2), "sign overdue and reply reminder");
    b.set_clock(sh(2026, 2, 15, 9, 0, 0));
    b.project(&["c-1"]).await?;
    assert_eq!(engine.tick().await, TickReport::default());
    let reminded = b.payloads("c-1", "DeadlineDueSoon").await?;
    assert_eq!(reminded.len(), 2);
    assert_eq!(
        (&reminded[1]["kind"], &reminded[1]["due"]),
        (
            &serde_json::json!("reply"),
            &serde_json::json!("2026-02-24")
        )
    );
    Ok(())
}

/// `deadline_firings` keeps a settled deadline while it is on the board, and forgets it
/// once the deadline is closed (here: signed), at the next prune.
async fn what_was_settled_is_kept_while_the_deadline_is_open_and_pruned_after(
    kind: Kind,
) -> anyhow::Result<()> {
    let b = bench(kind).await?;
    b.dispatched("c-1", Category::Help, sh(2026, 3, 2, 10, 0, 0))
        .await?;
    b.project(&["c-1"]).await?;
    let engine = b.engine_with(
        b.db.clone(),
        EngineConfig {
            reminder_working_days: 0,
            prune_every: 1,
            ..EngineConfig::default()
        },
    );
    b.set_clock(sh(2026, 3, 4, 9, 0, 0));
    assert_eq!(engine.tick().await, fired(1));
    assert_eq!(b.firings().await?, 1, "the sign deadline is still open");
    b.run(
        "c-1",
        ComplaintCommand::SignComplaint {
            unit: CreditCode::parse(UNIT).unwrap(),
            at: sh(2026, 3, 4, 10, 0, 0),
        },
    )
    .await?;
    b.project(&["c-1"]).await?;
    assert_eq!(engine.tick().await, TickReport::default());
    assert_eq!(b.firings().await?, 0, "a closed deadline is forgotten");
    assert_eq!(b.count("c-1", "SignOverdue").await?, 1);
    Ok(())
}

/// (d) Two engines on two connections to one Postgres database, ticking at the same
/// time over the same overdue cases: exactly one `SignOverdue` per case in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_on_one_postgres_database_record_one_marking_per_case() {
    two_engines(Kind::Postgres).await.unwrap();
}

async fn two_engines(kind: Kind) -> anyhow::Result<()> {
    let b = bench(kind).await?;
    let ids: Vec<String> = (0..12).map(|i| format!("c-{i}")).collect();
    for id in &ids {
        b.dispatched(id, Category::Help, sh(2026, 3, 2, 10, 0, 0))
            .await?;
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    b.project(&refs).await?;
    b.set_clock(sh(2026, 3, 4, 9, 0, 0));
    let one = b.engine(0);
    let two = b.engine_on(b.reopen().await?, 0);
    for _ in 0..3 {
        let (r1, r2) = tokio::join!(one.tick(), two.tick());
        assert_eq!((r1.errors, r2.errors), (0, 0), "{r1:?} {r2:?}");
    }
    let (s1, s2) = (one.metrics().snapshot(), two.metrics().snapshot());
    assert_eq!(
        s1.fired_overdue + s2.fired_overdue,
        ids.len() as u64,
        "{s1:?} {s2:?}"
    );
    for id in &ids {
        assert_eq!(b.count(id, "SignOverdue").await?, 1, "{id}");
    }
    Ok(())
}

async fn wait_for(mut done: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the engine did not get there in 20 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}
