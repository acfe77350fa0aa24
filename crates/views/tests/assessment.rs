//! The stored assessment against the reference fold, on SQLite and Postgres: a varied
//! log (records of each severity, corrected and withdrawn ones, a civil servant's;
//! rectifications verified on time and late, escalated, rejected, recomputed and still
//! owed; complaint replies on time and late, overdue markings, supervisions, returns,
//! extensions, visits that close or reopen, a case closed unreplied; township public
//! commitments assessed fulfilled, breached (on a day that is the next quarter in
//! Asia/Shanghai) and partially, an investment promise; two departments
//! under their government, an enterprise) projected in small batches by the two
//! projectors, then read for every period and several evaluation days: the rows must be
//! exactly those `assess` folds from the log. A rebuild must arrive at the same tables.

mod helpers;

use chrono::{DateTime, NaiveDate, Utc};
use helpers::{at, date, spawn, unit, Kind, TestApp, SUBJECT, UNIT_A, UNIT_B};
use probity_domain::assessment::{AssessmentFormula, Period};
use probity_domain::calendar::Deadline;
use probity_domain::commitment::{CommitmentEvent, CommitmentKind, Fulfilment};
use probity_domain::complaint::{Category, ComplaintCommand};
use probity_domain::integrity::{PublicityPolicy, Sector, Severity, Source};
use probity_domain::record::{RecordEvent, RecordTarget};
use probity_domain::rectification::RectificationEvent;
use probity_domain::subject::{SubjectEvent, SubjectKind};
use probity_store::{Backend, Projector};
use probity_views::assessment::{assess, assess_stored, AssessmentRow};
use probity_views::open_data_assessments::{AssessmentLine, PeriodScope};
use probity_views::{
    dump, rebuild, rebuild_requested, ComplaintProjector, IntegrityProjector, Views,
};
use serde::Serialize;

on_both_backends!(
    the_stored_assessment_equals_the_fold_of_the_log,
    a_read_waits_for_nothing_but_the_projectors,
    a_requested_rebuild_fills_the_stored_assessment_and_clears_the_request,
    the_open_data_feed_resends_the_rows_a_day_or_a_formula_changed_and_nothing_else,
);

const GOV: &str = SUBJECT;
const ENTERPRISE: &str = "91350100M000100Y43";

/// Appends one event of an integrity aggregate straight to the log (the next sequence
/// of `id`), as its executor would have.
async fn append<E: Serialize>(app: &TestApp, ty: &str, id: &str, event: &E) -> anyhow::Result<()> {
    let payload = serde_json::to_value(event)?;
    let event_type = payload
        .as_object()
        .and_then(|o| o.keys().next().cloned())
        .unwrap_or_default();
    let sequence = app.log.last_sequence(ty, id).await? + 1;
    let sql = match app.db.backend {
        Backend::Postgres => {
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
             VALUES ($1, $2, $3, $4, '1', CAST($5 AS JSONB), CAST('{}' AS JSONB))"
        }
        Backend::Sqlite => {
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
             VALUES ($1, $2, $3, $4, '1', $5, '{}')"
        }
    };
    sqlx::query(sql)
        .bind(ty)
        .bind(id)
        .bind(sequence)
        .bind(event_type)
        .bind(payload.to_string())
        .execute(&app.db.any)
        .await?;
    Ok(())
}

fn due(day: NaiveDate) -> Deadline {
    Deadline {
        due: day,
        provisional: false,
    }
}

async fn subject(
    app: &TestApp,
    code: &str,
    kind: SubjectKind,
    parent: Option<&str>,
) -> anyhow::Result<()> {
    let event = SubjectEvent::SubjectRegistered {
        code: unit(code),
        name: format!("unit {code}"),
        kind,
        parent_code: parent.map(unit),
        at: at(1, 2, 1),
    };
    append(app, "subject", code, &event).await
}

async fn record(
    app: &TestApp,
    id: &str,
    target: RecordTarget,
    severity: Severity,
    decided: NaiveDate,
) -> anyhow::Result<()> {
    let policy = PublicityPolicy::default();
    let event = RecordEvent::DishonestyRecorded {
        target,
        source: Source::AdministrativePenalty,
        source_ref: id.to_string(),
        decision_date: decided,
        severity,
        sector: Sector::General,
        summary: "finding".into(),
        complaint_id: None,
        publish_minor: false,
        ban_years: None,
        ban_until: None,
        offence: None,
        recorded_by: None,
        publicity: policy.window(severity, decided, false, false),
        policy,
        at: at(4, 1, 1),
    };
    append(app, "record", id, &event).await
}

fn of(code: &str) -> RecordTarget {
    RecordTarget::Subject { code: unit(code) }
}

async fn rectification(
    app: &TestApp,
    id: &str,
    code: &str,
    due_day: NaiveDate,
    then: &[RectificationEvent],
) -> anyhow::Result<()> {
    let ordered = RectificationEvent::RectificationOrdered {
        record_id: "k-record".into(),
        unit: unit(code),
        personal: false,
        working_days: 10,
        due: due(due_day),
        at: at(3, 2, 1),
    };
    append(app, "rectification", id, &ordered).await?;
    for event in then {
        append(app, "rectification", id, event).await?;
    }
    Ok(())
}

/// Runs a complaint command, ignoring nothing: a refusal fails the test.
async fn run(app: &TestApp, id: &str, command: ComplaintCommand) -> anyhow::Result<()> {
    app.run(id, command).await
}

fn reply(code: &str, when: DateTime<Utc>) -> ComplaintCommand {
    ComplaintCommand::ReplyToComplaint {
        unit: unit(code),
        content: "answered".into(),
        at: when,
    }
}

fn visit(satisfied: bool, when: DateTime<Utc>) -> ComplaintCommand {
    ComplaintCommand::RecordVisit {
        satisfied,
        comment: "-".into(),
        at: when,
    }
}

/// The varied log.
async fn populate(app: &TestApp) -> anyhow::Result<()> {
    subject(app, GOV, SubjectKind::Government, None).await?;
    subject(app, UNIT_A, SubjectKind::Department, Some(GOV)).await?;
    subject(app, UNIT_B, SubjectKind::Department, Some(GOV)).await?;
    subject(app, ENTERPRISE, SubjectKind::Enterprise, None).await?;

    // Commitments: township ones assessed (fulfilled, breached at 04:00 on 1 Oct in
    // Asia/Shanghai, i.e. Q4; partially), one never assessed, an investment promise.
    for (id, code, kind, assessed) in [
        (
            "c-kept",
            GOV,
            CommitmentKind::TownshipPublic,
            Some((Fulfilment::Fulfilled, at(3, 2, 3))),
        ),
        (
            "c-broken",
            UNIT_A,
            CommitmentKind::TownshipPublic,
            Some((Fulfilment::Breached, at(9, 30, 20))),
        ),
        (
            "c-partial",
            UNIT_B,
            CommitmentKind::TownshipPublic,
            Some((Fulfilment::PartiallyFulfilled, at(6, 2, 3))),
        ),
        ("c-open", UNIT_B, CommitmentKind::TownshipPublic, None),
        (
            "c-promise",
            GOV,
            CommitmentKind::InvestmentPromise,
            Some((Fulfilment::Breached, at(7, 2, 3))),
        ),
    ] {
        append(
            app,
            "commitment",
            id,
            &CommitmentEvent::CommitmentMade {
                subject_code: unit(code),
                kind,
                text: "年底前完成".into(),
                due_date: Some(date(12, 31)),
                at: at(1, 5, 3),
            },
        )
        .await?;
        if let Some((level, when)) = assessed {
            append(
                app,
                "commitment",
                id,
                &CommitmentEvent::FulfilmentAssessed {
                    level,
                    note: "评估".into(),
                    at: when,
                },
            )
            .await?;
        }
    }

    // Records: each severity, across quarters and years; one corrected into another
    // quarter and severity, one withdrawn, a civil servant's, an enterprise's.
    record(app, "r-minor", of(UNIT_A), Severity::Minor, date(1, 15)).await?;
    record(
        app,
        "r-ordinary",
        of(UNIT_A),
        Severity::Ordinary,
        date(5, 3),
    )
    .await?;
    record(app, "r-serious", of(UNIT_B), Severity::Serious, date(8, 20)).await?;
    record(app, "r-gov", of(GOV), Severity::Serious, date(11, 30)).await?;
    record(
        app,
        "r-2025",
        of(UNIT_B),
        Severity::Ordinary,
        NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
    )
    .await?;
    record(
        app,
        "r-corrected",
        of(UNIT_B),
        Severity::Serious,
        date(3, 30),
    )
    .await?;
    let policy = PublicityPolicy::default();
    append(
        app,
        "record",
        "r-corrected",
        &RecordEvent::RecordCorrected {
            objection_id: "o-1".into(),
            summary: "corrected".into(),
            severity: Severity::Minor,
            sector: Sector::General,
            decision_date: date(4, 2),
            ban_until: None,
            publicity: policy.window(Severity::Minor, date(4, 2), false, false),
            at: at(5, 1, 1),
        },
    )
    .await?;
    record(
        app,
        "r-withdrawn",
        of(UNIT_A),
        Severity::Serious,
        date(2, 2),
    )
    .await?;
    append(
        app,
        "record",
        "r-withdrawn",
        &RecordEvent::RecordWithdrawn {
            reason: "revoked".into(),
            at: at(6, 1, 1),
        },
    )
    .await?;
    let personal = RecordTarget::CivilServant {
        id: "cs-1".into(),
        unit_code: unit(UNIT_A),
    };
    record(app, "r-personal", personal, Severity::Serious, date(2, 3)).await?;
    record(
        app,
        "r-enterprise",
        of(ENTERPRISE),
        Severity::Serious,
        date(2, 3),
    )
    .await?;

    // Rectifications.
    let verified = |on_time, when| RectificationEvent::RectificationVerified { on_time, at: when };
    rectification(
        app,
        "k-on-time",
        UNIT_A,
        date(3, 31),
        &[verified(true, at(3, 20, 2))],
    )
    .await?;
    // Verified on time after the due day's quarter ended: counted on the due day.
    rectification(
        app,
        "k-late-verify",
        UNIT_A,
        date(6, 30),
        &[verified(false, at(7, 10, 2))],
    )
    .await?;
    rectification(
        app,
        "k-escalated",
        UNIT_B,
        date(4, 15),
        &[
            RectificationEvent::RectificationEscalated {
                due: date(4, 15),
                public_criticism: true,
                at: at(4, 16, 2),
            },
            verified(false, at(5, 20, 2)),
        ],
    )
    .await?;
    rectification(
        app,
        "k-rejected",
        GOV,
        date(2, 27),
        &[RectificationEvent::RectificationRejected {
            reason: "incomplete".into(),
            working_days: 10,
            due: due(date(7, 3)),
            at: at(2, 20, 2),
        }],
    )
    .await?;
    rectification(
        app,
        "k-recomputed",
        UNIT_B,
        date(9, 30),
        &[RectificationEvent::RectificationDueRecomputed {
            due: due(date(10, 9)),
            at: at(3, 5, 2),
        }],
    )
    .await?;
    rectification(app, "k-owed", UNIT_A, date(12, 15), &[]).await?;

    // Complaints, through the real executor.
    // Replied on time, visited satisfied (closes).
    app.dispatched(
        "c-on-time",
        Category::Consultation,
        UNIT_A,
        at(3, 2, 1),
        at(3, 2, 2),
    )
    .await?;
    app.sign("c-on-time", UNIT_A, at(3, 3, 1)).await?;
    run(app, "c-on-time", reply(UNIT_A, at(3, 4, 1))).await?;
    run(app, "c-on-time", visit(true, at(3, 6, 1))).await?;
    // Overdue: marked, supervised, replied late, visited unsatisfied (reopened), replied
    // again on time.
    app.dispatched("c-late", Category::Help, GOV, at(3, 2, 1), at(3, 2, 3))
        .await?;
    app.sign("c-late", GOV, at(3, 3, 1)).await?;
    run(
        app,
        "c-late",
        ComplaintCommand::MarkReplyOverdue { at: at(4, 1, 2) },
    )
    .await?;
    run(
        app,
        "c-late",
        ComplaintCommand::SuperviseComplaint {
            note: "hurry".into(),
            at: at(4, 2, 2),
        },
    )
    .await?;
    run(app, "c-late", reply(GOV, at(4, 3, 2))).await?;
    run(app, "c-late", visit(false, at(4, 7, 2))).await?;
    run(app, "c-late", reply(GOV, at(4, 9, 2))).await?;
    // An extension approved, then replied by the extended day.
    app.dispatched(
        "c-extended",
        Category::Suggestion,
        UNIT_B,
        at(6, 1, 1),
        at(6, 1, 2),
    )
    .await?;
    app.sign("c-extended", UNIT_B, at(6, 2, 1)).await?;
    run(
        app,
        "c-extended",
        ComplaintCommand::RequestExtension {
            unit: unit(UNIT_B),
            working_days: 5,
            reason: "site visit".into(),
            at: at(6, 3, 1),
        },
    )
    .await?;
    run(
        app,
        "c-extended",
        ComplaintCommand::ApproveExtension {
            note: "ok".into(),
            at: at(6, 3, 2),
        },
    )
    .await?;
    run(app, "c-extended", reply(UNIT_B, at(6, 19, 1))).await?;
    // Returned as misrouted, dispatched again elsewhere, still owed.
    app.dispatched(
        "c-returned",
        Category::Complaint,
        UNIT_A,
        at(9, 1, 1),
        at(9, 1, 2),
    )
    .await?;
    run(
        app,
        "c-returned",
        ComplaintCommand::ReturnComplaint {
            unit: unit(UNIT_A),
            reason: "misrouted".into(),
            at: at(9, 2, 1),
        },
    )
    .await?;
    run(
        app,
        "c-returned",
        ComplaintCommand::DispatchComplaint {
            unit: unit(UNIT_B),
            above: Vec::new(),
            at: at(9, 3, 1),
        },
    )
    .await?;
    // Still owed at the end of the year (due in December).
    app.dispatched(
        "c-owed",
        Category::Report,
        UNIT_A,
        at(12, 1, 1),
        at(12, 1, 2),
    )
    .await?;
    // Merged after its due day without a reply: late.
    app.dispatched(
        "c-merged",
        Category::Consultation,
        UNIT_B,
        at(2, 2, 1),
        at(2, 2, 2),
    )
    .await?;
    run(
        app,
        "c-merged",
        ComplaintCommand::MergeComplaint {
            into: "c-on-time".into(),
            into_status: probity_domain::complaint::Status::Accepted,
            at: at(3, 2, 5),
        },
    )
    .await?;
    // Filed and declined: nothing for anyone.
    app.file("c-declined", Category::Help, true, at(3, 2, 1))
        .await?;
    run(
        app,
        "c-declined",
        ComplaintCommand::DeclineComplaint {
            reason: "spam".into(),
            at: at(3, 2, 2),
        },
    )
    .await?;
    Ok(())
}

/// Feeds the whole log to both projectors in batches of `size`.
async fn project(app: &TestApp, size: usize) -> anyhow::Result<()> {
    let projectors: [&dyn Projector; 2] = [
        &ComplaintProjector::new(app.db.clone()),
        &IntegrityProjector::new(app.db.clone()),
    ];
    let events = app.all_events().await?;
    for batch in events.chunks(size) {
        for projector in projectors {
            projector.handle_batch(batch).await?;
        }
    }
    Ok(())
}

/// Every period and evaluation day the comparison is made for.
fn cases() -> Vec<(Period, NaiveDate)> {
    let periods = [
        "2025", "2026", "2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4", "2027",
    ];
    let days = [
        date(1, 1),
        date(3, 16),
        date(4, 1),
        date(6, 30),
        date(7, 1),
        date(9, 29),
        date(10, 12),
        date(12, 15),
        date(12, 16),
        NaiveDate::from_ymd_opt(2027, 3, 1).unwrap(),
    ];
    periods
        .iter()
        .flat_map(|p| days.iter().map(move |d| (p.parse().unwrap(), *d)))
        .collect()
}

async fn compare(app: &TestApp) -> anyhow::Result<usize> {
    let formula = AssessmentFormula::default();
    let mut differing_days = 0;
    for (period, today) in cases() {
        let folded = assess(&app.log, period, None, today, &formula).await?;
        let stored = assess_stored(&app.db, period, today, &formula).await?;
        assert_eq!(stored, folded, "{period} evaluated on {today}");
        let next = assess(&app.log, period, None, today.succ_opt().unwrap(), &formula).await?;
        differing_days += usize::from(next != folded);
    }
    Ok(differing_days)
}

fn row<'a>(rows: &'a [AssessmentRow], code: &str) -> &'a AssessmentRow {
    rows.iter().find(|r| r.code == code).unwrap()
}

async fn the_stored_assessment_equals_the_fold_of_the_log(kind: Kind) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    populate(&app).await?;
    project(&app, 3).await?;

    // The scenario is varied enough to matter: every figure is non-zero somewhere.
    let formula = AssessmentFormula::default();
    let year = assess(&app.log, "2026".parse()?, None, date(12, 31), &formula).await?;
    assert_eq!(year.len(), 3, "the government and its two departments");
    let gov = row(&year, GOV);
    let t = gov.total;
    assert!(
        t.records.minor > 0 && t.records.ordinary > 0 && t.records.serious > 0,
        "{t:?}"
    );
    assert!(
        t.rectifications.on_time > 0 && t.rectifications.overdue > 0,
        "{t:?}"
    );
    assert!(
        t.complaint_replies.on_time > 0 && t.complaint_replies.late > 0,
        "{t:?}"
    );
    assert!(
        t.follow_up_visits.visited > t.follow_up_visits.satisfied,
        "{t:?}"
    );
    assert!(
        t.follow_up_visits.satisfied > 0 && t.supervisions > 0,
        "{t:?}"
    );
    assert_ne!(gov.own, gov.total, "the departments are rolled up");
    // Township commitments: the kept one and the broken one; neither the partial one,
    // the open one nor the investment promise.
    let commitments = t.township_commitments;
    assert_eq!(
        (commitments.fulfilled, commitments.breached),
        (1, 1),
        "{t:?}"
    );
    let q4 = assess(&app.log, "2026-Q4".parse()?, None, date(12, 31), &formula).await?;
    let q3 = assess(&app.log, "2026-Q3".parse()?, None, date(12, 31), &formula).await?;
    assert_eq!(
        row(&q4, UNIT_A).own.township_commitments.breached,
        1,
        "an Asia/Shanghai day"
    );
    assert_eq!(row(&q3, UNIT_A).own.township_commitments.breached, 0);

    // Equal for every period and evaluation day, and the evaluation day matters for some.
    let differing = compare(&app).await?;
    assert!(differing > 0, "no case depends on the evaluation day");

    // Projected again in other batch sizes (everything already applied): no change.
    let before = dump(&app.db).await?;
    project(&app, 1).await?;
    project(&app, 50).await?;
    assert_eq!(dump(&app.db).await?, before);

    // A rebuild arrives at the same tables.
    rebuild(&app.log, &app.db, &|_, _| {}).await?;
    assert_eq!(dump(&app.db).await?, before);
    compare(&app).await?;
    Ok(())
}

async fn a_read_waits_for_nothing_but_the_projectors(kind: Kind) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    populate(&app).await?;
    let formula = AssessmentFormula::default();
    let period: Period = "2026".parse()?;
    // Nothing projected yet: the subjects are not known, no rows.
    assert!(assess_stored(&app.db, period, date(12, 31), &formula)
        .await?
        .is_empty());
    // The integrity projector alone: the records and rectifications, no complaint yet.
    let events = app.all_events().await?;
    IntegrityProjector::new(app.db.clone())
        .handle_batch(&events)
        .await?;
    let partial = assess_stored(&app.db, period, date(12, 31), &formula).await?;
    let t = row(&partial, GOV).total;
    assert!(t.records.total > 0);
    assert_eq!(t.complaint_replies.on_time + t.complaint_replies.late, 0);
    // Then the complaints: equal to the fold.
    ComplaintProjector::new(app.db.clone())
        .handle_batch(&events)
        .await?;
    assert_eq!(
        assess_stored(&app.db, period, date(12, 31), &formula).await?,
        assess(&app.log, period, None, date(12, 31), &formula).await?
    );
    Ok(())
}

/// A database migrated with views already projected: the positions say every event was
/// applied, the stored assessment is empty, and 0014 left a rebuild request.
async fn a_requested_rebuild_fills_the_stored_assessment_and_clears_the_request(
    kind: Kind,
) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    assert!(
        rebuild_requested(&app.db).await?.is_empty(),
        "a fresh database needs no rebuild"
    );
    populate(&app).await?;
    project(&app, 7).await?;
    for table in ["assessment_items", "assessment_counts", "assessment_owed"] {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&app.db.any)
            .await?;
    }
    sqlx::query(
        "INSERT INTO view_rebuild_requests (reason, requested_at) \
         VALUES ('0014 stored assessment', '2026-12-06T00:00:00Z')",
    )
    .execute(&app.db.any)
    .await?;
    let formula = AssessmentFormula::default();
    let period: Period = "2026".parse()?;
    let emptied = assess_stored(&app.db, period, date(12, 31), &formula).await?;
    assert_ne!(
        emptied,
        assess(&app.log, period, None, date(12, 31), &formula).await?
    );
    assert_eq!(
        rebuild_requested(&app.db).await?,
        vec!["0014 stored assessment".to_string()]
    );
    rebuild(&app.log, &app.db, &|_, _| {}).await?;
    assert!(rebuild_requested(&app.db).await?.is_empty());
    compare(&app).await?;
    Ok(())
}

/// The open data feed of the assessment (ADR 0031) on the varied log, with no event
/// between pulls: a pull on each later day answers exactly the rows that day changed
/// (owed items turning late, the ranks they move), and a new formula every row; applying
/// the lines in order always gives the public rows of the pull's day.
async fn the_open_data_feed_resends_the_rows_a_day_or_a_formula_changed_and_nothing_else(
    kind: Kind,
) -> anyhow::Result<()> {
    use probity_views::assessment::PublicAssessmentRow;
    use std::collections::BTreeMap;
    let app = spawn(kind).await?;
    populate(&app).await?;
    project(&app, 7).await?;
    let views = Views::new(app.db.clone());
    let scope = PeriodScope::parse("2026,2026-Q2").map_err(anyhow::Error::msg)?;
    let public = |rows: Vec<AssessmentRow>| {
        rows.iter()
            .map(|r| {
                (
                    (r.period.clone(), r.code.clone()),
                    PublicAssessmentRow::from(r),
                )
            })
            .collect::<BTreeMap<_, _>>()
    };
    let db = &app.db;
    let expected = |today: NaiveDate, formula: AssessmentFormula| async move {
        let mut rows = public(assess_stored(db, "2026".parse()?, today, &formula).await?);
        rows.extend(public(
            assess_stored(db, "2026-Q2".parse()?, today, &formula).await?,
        ));
        anyhow::Ok(rows)
    };
    let lines = |since: Option<i64>| {
        let (views, scope) = (&views, &scope);
        async move {
            let mut all = Vec::new();
            loop {
                let after = all.last().map(AssessmentLine::key).unwrap_or_default();
                let page = views.open_data_assessments(scope, since, &after, 2).await?;
                let done = page.len() < 2;
                all.extend(page);
                if done {
                    return anyhow::Ok(all);
                }
            }
        }
    };
    let apply = |held: &mut BTreeMap<(String, String), PublicAssessmentRow>,
                 lines: &[AssessmentLine]| {
        for line in lines {
            match line {
                AssessmentLine::Upsert(r) => {
                    held.insert((r.period.clone(), r.code.clone()), r.clone());
                }
                AssessmentLine::Delete { period, code } => {
                    held.remove(&(period.clone(), code.clone()));
                }
            }
        }
    };
    let formula = AssessmentFormula::default();
    let first_day = date(6, 1);
    let cursor = views
        .refresh_open_data_assessments(&scope, first_day, &formula)
        .await?;
    let mut held = BTreeMap::new();
    let all = lines(None).await?;
    assert!(all.iter().all(|l| matches!(l, AssessmentLine::Upsert(_))));
    apply(&mut held, &all);
    let mut previous = expected(first_day, formula.clone()).await?;
    assert_eq!(held, previous);
    let mut since = cursor.seq;
    let mut days_that_changed = 0;
    for day in [
        date(6, 2),
        date(6, 20),
        date(6, 30),
        date(7, 1),
        date(12, 31),
    ] {
        let cursor = views
            .refresh_open_data_assessments(&scope, day, &formula)
            .await?;
        let changed = lines(Some(since)).await?;
        let now = expected(day, formula.clone()).await?;
        let differing: Vec<_> = now
            .iter()
            .filter(|(k, v)| previous.get(*k) != Some(*v))
            .map(|(k, _)| format!("{}/{}", k.0, k.1))
            .collect();
        assert_eq!(
            changed.iter().map(AssessmentLine::key).collect::<Vec<_>>(),
            differing,
            "on {day}"
        );
        assert_eq!(cursor.seq > since, !differing.is_empty(), "on {day}");
        days_that_changed += usize::from(!differing.is_empty());
        apply(&mut held, &changed);
        assert_eq!(held, now, "on {day}");
        (previous, since) = (now, cursor.seq);
    }
    assert!(days_that_changed > 0, "no day changed a row");
    // The same day again: nothing changed, nothing is sent, the cursor stays.
    let again = views
        .refresh_open_data_assessments(&scope, date(12, 31), &formula)
        .await?;
    assert_eq!(again.seq, since);
    assert!(lines(Some(since)).await?.is_empty());

    // A new formula in force: every row (its version is part of the row).
    let mut version_2 = AssessmentFormula::version_1();
    version_2.version = 9;
    let day = date(12, 31);
    views
        .refresh_open_data_assessments(&scope, day, &version_2)
        .await?;
    let changed = lines(Some(since)).await?;
    assert_eq!(changed.len(), previous.len());
    apply(&mut held, &changed);
    assert_eq!(held, expected(day, version_2).await?);
    Ok(())
}
