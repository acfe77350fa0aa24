//! `probity calendar load`: a 2027 schedule loaded into a fresh Postgres database and an
//! embedded SQLite store. A complaint dispatched in late December 2026 has a reply
//! deadline reaching 2027, provisional (weekends alone); loading a (TEST, not official)
//! 2027 schedule with 1–3 Jan off records `YearScheduleLoaded` and exactly one
//! `DeadlinesRecomputed` with the final date; loading again adds nothing; a final
//! deadline and a closed one are never recomputed. Postgres comes from `probity_testkit`
//! (DATABASE_URL or a private server): without it the Postgres tests fail saying so,
//! they never skip.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use clap::Parser;
use probity::calendar::{calendar_in_force, load_schedule, read_schedule};
use probity_domain::complaint::{
    Category, Channel, Complaint, ComplaintCommand, ComplaintEvent, ComplaintServices,
};
use probity_domain::{CreditCode, Deadline, TimeLimits, WorkingCalendar, YearSchedule};
use probity_store::{Db, EventLog, Executor, StoredEvent};

mod common;
use common::{store, Kind};

const TEST_TIMEOUT: Duration = Duration::from_secs(180);
const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../deploy/calendar/2027.example.json"
);

on_both_backends!(
    loading_2027_recomputes_the_provisional_deadline_once,
    the_command_line_loads_the_example_once,
    a_provisional_day_that_passed_before_the_load_is_reported_failed
);

/// An instant given in Asia/Shanghai time, e.g. `at("2026-12-24 10:00")`.
fn at(local: &str) -> DateTime<Utc> {
    DateTime::parse_from_str(&format!("{local} +0800"), "%Y-%m-%d %H:%M %z")
        .unwrap()
        .with_timezone(&Utc)
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Files, accepts and dispatches an anonymous complaint at `when` through the executor
/// (the shipped calendar: 2025–2026). Returns the dispatch's reply deadline.
async fn dispatched(
    complaints: &Executor<Complaint>,
    id: &str,
    when: DateTime<Utc>,
) -> anyhow::Result<Deadline> {
    let run = |command: ComplaintCommand| async move {
        complaints
            .execute(id, command, None, Default::default())
            .await
            .map_err(|e| anyhow::anyhow!("complaint {id}: {e}"))
    };
    run(ComplaintCommand::FileComplaint {
        category: Category::Complaint,
        channel: Channel::Hotline,
        subject_code: None,
        title: "窗口办事推诿".into(),
        description: "多次办理被要求补充材料".into(),
        anonymous: true,
        reporter: None,
        at: when,
    })
    .await?;
    run(ComplaintCommand::AcceptComplaint { at: when }).await?;
    let events = run(ComplaintCommand::DispatchComplaint {
        unit: unit(),
        above: Vec::new(),
        at: when,
    })
    .await?;
    match &events[..] {
        [e] => match &e.payload {
            ComplaintEvent::ComplaintDispatched { reply_due, .. } => Ok(*reply_due),
            other => anyhow::bail!("unexpected {other:?}"),
        },
        other => anyhow::bail!("unexpected {other:?}"),
    }
}

fn unit() -> CreditCode {
    CreditCode::parse("914403001922038216").unwrap()
}

/// Orders rectification `id` of record `record_id` on Thu 24 Dec 2026 for 15 working
/// days: due Thu 14 Jan 2027 on weekends alone, provisional. The events recorded, counted.
async fn order_rectification(db: &Db, id: &str, record_id: &str) -> anyhow::Result<usize> {
    let rectifications = Executor::<probity_domain::rectification::Rectification>::new(
        db.clone(),
        probity_domain::integrity::IntegrityServices {
            calendar: Arc::new(WorkingCalendar::china()),
            policy: Default::default(),
        },
    );
    let record = probity_domain::integrity::RecordFacts {
        record_id: record_id.into(),
        unit: unit(),
        personal: false,
        severity: probity_domain::integrity::Severity::Ordinary,
        publicity: probity_domain::integrity::PublicityPolicy::default().window(
            probity_domain::integrity::Severity::Ordinary,
            day("2026-12-01"),
            false,
            false,
        ),
        withdrawn: false,
        recorded_by: None,
    };
    rectifications
        .execute(
            id,
            probity_domain::rectification::RectificationCommand::OrderRectification {
                record,
                working_days: 15,
                at: at("2026-12-24 10:00"),
            },
            None,
            Default::default(),
        )
        .await
        .map(|events| events.len())
        .map_err(|e| anyhow::anyhow!("{e}"))
}

async fn events_of(db: &Db, aggregate_type: &str, id: &str) -> anyhow::Result<Vec<StoredEvent>> {
    Ok(EventLog::new(db.clone())
        .read_aggregate(aggregate_type, id, None)
        .await?)
}

fn recomputed(events: &[StoredEvent]) -> Vec<&StoredEvent> {
    events
        .iter()
        .filter(|e| e.event_type == "DeadlinesRecomputed")
        .collect()
}

async fn loading_2027_recomputes_the_provisional_deadline_once(kind: Kind) -> anyhow::Result<()> {
    let store = store(kind).await?;
    let db = &store.db;
    let limits = TimeLimits::default();
    let complaints = Executor::<Complaint>::new(
        db.clone(),
        ComplaintServices {
            calendar: Arc::new(WorkingCalendar::china()),
            limits: limits.clone(),
        },
    );
    // Thu 24 Dec 2026: 15 working days end on Thu 14 Jan 2027 on weekends alone.
    let provisional = dispatched(&complaints, "case-provisional", at("2026-12-24 10:00")).await?;
    assert_eq!(
        provisional,
        Deadline {
            due: day("2027-01-14"),
            provisional: true
        }
    );
    // Fri 26 Sep 2025: final from the start.
    let final_due = dispatched(&complaints, "case-final", at("2025-09-26 10:00")).await?;
    assert!(!final_due.provisional);
    // Provisional too, but replied (closed for an anonymous case): no longer open.
    dispatched(&complaints, "case-closed", at("2026-12-24 11:00")).await?;
    for command in [
        ComplaintCommand::SignComplaint {
            unit: unit(),
            at: at("2026-12-25 09:00"),
        },
        ComplaintCommand::ReplyToComplaint {
            unit: unit(),
            content: "已处理".into(),
            at: at("2026-12-25 10:00"),
        },
    ] {
        complaints
            .execute("case-closed", command, None, Default::default())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    // A rectification ordered the same day for 15 working days: provisional as well.
    let ordered = order_rectification(db, "rect-provisional", "record-1").await?;
    assert_eq!(ordered, 1);
    assert_eq!(
        calendar_in_force(db).await?.data_range(),
        Some((2025, 2026))
    );

    // The example file: a TEST 2027 schedule with 1–3 Jan off.
    let schedule = read_schedule(std::path::Path::new(EXAMPLE))?;
    assert_eq!(schedule.year, 2027);
    let now = at("2026-12-26 09:00");
    let summary = load_schedule(db, schedule.clone(), "test notice", limits.clone(), now).await?;
    assert!(summary.loaded);
    assert_eq!(summary.year, 2027);
    assert_eq!(
        (
            summary.recomputed,
            summary.already_final,
            summary.still_provisional
        ),
        (2, 1, 0),
        "{summary:?}"
    );
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);

    let calendar = calendar_in_force(db).await?;
    assert_eq!(calendar.data_range(), Some((2025, 2027)));
    assert!(!calendar.is_working_day(day("2027-01-01"))?);

    let calendar_events = events_of(db, "calendar", "china").await?;
    assert_eq!(calendar_events.len(), 1);
    assert_eq!(calendar_events[0].event_type, "YearScheduleLoaded");
    assert_eq!(
        calendar_events[0].payload["YearScheduleLoaded"]["source"],
        "test notice"
    );

    // With 1 Jan off the 15th working day is Fri 15 Jan 2027, final.
    let case = events_of(db, "complaint", "case-provisional").await?;
    let found = recomputed(&case);
    assert_eq!(found.len(), 1, "{case:?}");
    let payload = &found[0].payload["DeadlinesRecomputed"];
    assert_eq!(
        payload["reply_due"],
        serde_json::json!({"due": "2027-01-15", "provisional": false})
    );
    assert!(payload["sign_due"].is_null());
    assert!(recomputed(&events_of(db, "complaint", "case-final").await?).is_empty());
    let rect = events_of(db, "rectification", "rect-provisional").await?;
    assert_eq!(rect.len(), 2, "{rect:?}");
    assert_eq!(
        rect[1].payload["RectificationDueRecomputed"]["due"],
        serde_json::json!({"due": "2027-01-15", "provisional": false})
    );
    assert!(recomputed(&events_of(db, "complaint", "case-closed").await?).is_empty());

    // The projections fold it: `probity rebuild` replays the log through the projectors;
    // the board shows the final reply deadline.
    let mut argv = vec!["probity".to_string()];
    argv.extend(store.args.iter().cloned());
    argv.push("rebuild".to_string());
    probity::cli::run(probity::cli::Cli::try_parse_from(&argv)?).await?;
    let row = sqlx::query(
        "SELECT due, provisional FROM deadline_entries \
         WHERE case_type = 'complaint' AND case_id = 'case-provisional' AND kind = 'complaint_reply'",
    )
    .fetch_one(&db.any)
    .await?;
    use sqlx::Row;
    assert_eq!(row.try_get::<String, _>(0)?, "2027-01-15");
    assert_eq!(row.try_get::<i64, _>(1)?, 0);

    // Loading again: nothing recorded, nothing recomputed.
    let again = load_schedule(db, schedule, "test notice", limits.clone(), now).await?;
    assert!(!again.loaded);
    assert_eq!((again.recomputed, again.already_final), (0, 3), "{again:?}");
    assert_eq!(events_of(db, "calendar", "china").await?.len(), 1);
    assert_eq!(
        events_of(db, "complaint", "case-provisional").await?.len(),
        case.len()
    );

    // Another schedule for 2027 is refused; nothing recorded.
    let other = YearSchedule {
        year: 2027,
        holidays: vec![day("2027-01-01")],
        makeup_workdays: vec![],
    };
    let refused = load_schedule(db, other, "another", limits, now).await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("another schedule")),
        "{refused:?}"
    );
    assert_eq!(events_of(db, "calendar", "china").await?.len(), 1);
    db.close().await;
    Ok(())
}

async fn the_command_line_loads_the_example_once(kind: Kind) -> anyhow::Result<()> {
    let store = store(kind).await?;
    let argv = |extra: &[&str]| {
        let mut argv = vec!["probity".to_string()];
        argv.extend(store.args.iter().cloned());
        argv.extend(extra.iter().map(|s| s.to_string()));
        argv
    };
    for _ in 0..2 {
        let cli = probity::cli::Cli::try_parse_from(argv(&[
            "calendar",
            "load",
            EXAMPLE,
            "--source",
            "example, not official",
        ]))?;
        probity::cli::run(cli).await?;
    }
    let events = events_of(&store.db, "calendar", "china").await?;
    assert_eq!(events.len(), 1);
    assert_eq!(
        calendar_in_force(&store.db).await?.data_range(),
        Some((2025, 2027))
    );

    // A TOML file works too; a file that is not a schedule fails before the store.
    let toml = store.dir.0.join("2028.toml");
    std::fs::write(
        &toml,
        "year = 2028\nholidays = [2028-01-01, \"2028-01-02\"]\nmakeup_workdays = []\n",
    )?;
    let schedule = read_schedule(&toml)?;
    assert_eq!(
        schedule.holidays,
        vec![day("2028-01-01"), day("2028-01-02")]
    );
    let bad = store.dir.0.join("bad.json");
    std::fs::write(&bad, r#"{"year": 2028, "holidays": [], "extra": 1}"#)?;
    let cli =
        probity::cli::Cli::try_parse_from(argv(&["calendar", "load", bad.to_str().unwrap()]))?;
    assert!(probity::cli::run(cli).await.is_err());
    store.db.close().await;
    Ok(())
}

async fn a_provisional_day_that_passed_before_the_load_is_reported_failed(
    kind: Kind,
) -> anyhow::Result<()> {
    let store = store(kind).await?;
    let db = &store.db;
    // A rectification ordered Thu 24 Dec 2026 for 15 working days: Thu 14 Jan 2027 on
    // weekends alone, provisional.
    order_rectification(db, "rect-late", "record-late").await?;

    // The schedule is loaded only on Mon 18 Jan 2027, after that day: the day cannot be
    // made final any more, and the operator is told which case and why.
    let schedule = read_schedule(std::path::Path::new(EXAMPLE))?;
    let summary = load_schedule(
        db,
        schedule,
        "test notice",
        TimeLimits::default(),
        at("2027-01-18 09:00"),
    )
    .await?;
    assert_eq!(
        (summary.recomputed, summary.already_final),
        (0, 0),
        "{summary:?}"
    );
    assert_eq!(
        summary.failed,
        vec![(
            "rect-late".to_string(),
            probity_domain::integrity::RECOUNT_PASSED.to_string()
        )]
    );
    db.close().await;
    Ok(())
}
