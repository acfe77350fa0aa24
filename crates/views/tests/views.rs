//! Integration tests of the views against real databases: every test runs on SQLite in
//! a temporary directory and on a fresh Postgres database, with events produced by the
//! real executor and read back from the real event log.

mod helpers;

use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use helpers::{at, date, spawn, unit, Kind, TestApp, UNIT_A, UNIT_B};
use probity_domain::calendar::WorkingCalendar;
use probity_domain::complaint::{Category, ComplaintCommand};
use probity_store::{Applied, Projector};
use probity_views::{
    dump, projectors, rebuild, ComplaintFilter, ComplaintProjector, ComplaintView, DeadlineEntry,
    DeadlineFilter, DeadlineState, Fold, ViewError, Views, KIND_COMPLAINT_REPLY,
    KIND_COMPLAINT_SIGN,
};

on_both_backends!(
    a_redelivered_event_is_already_applied_and_changes_nothing,
    an_event_ahead_of_its_predecessor_is_a_gap_until_the_gap_fills,
    the_stored_view_is_the_fold_of_the_log_without_the_reporter,
    lists_filter_and_page_in_received_order,
    the_overdue_filter_uses_the_readers_today,
    the_deadline_board_counts_working_days_across_a_holiday,
    deadlines_open_and_close_with_the_case,
    rebuild_arrives_at_the_incremental_state,
    two_processes_projecting_at_once_apply_each_event_once,
);

fn views(app: &TestApp) -> Views {
    Views::new(app.db.clone())
}

async fn a_redelivered_event_is_already_applied_and_changes_nothing(
    kind: Kind,
) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    app.file("c-1", Category::Help, false, at(3, 2, 1)).await?;
    app.run("c-1", ComplaintCommand::AcceptComplaint { at: at(3, 2, 2) })
        .await?;
    assert_eq!(app.project().await?, 2);
    let before = dump(&app.db).await?;

    let events = app.events_of("c-1").await?;
    for event in events.iter().rev() {
        assert_eq!(app.projector.handle(event).await?, Applied::AlreadyApplied);
    }
    assert_eq!(dump(&app.db).await?, before);
    let view = views(&app).complaint("c-1", date(3, 2)).await?.unwrap();
    assert_eq!((view.version, view.status.as_str()), (2, "accepted"));
    Ok(())
}

async fn an_event_ahead_of_its_predecessor_is_a_gap_until_the_gap_fills(
    kind: Kind,
) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    app.dispatched("c-1", Category::Help, UNIT_A, at(3, 2, 1), at(3, 2, 2))
        .await?;
    let events = app.events_of("c-1").await?;
    assert_eq!(events.len(), 3);

    assert_eq!(app.projector.handle(&events[0]).await?, Applied::Applied);
    let after_first = dump(&app.db).await?;
    assert_eq!(app.projector.handle(&events[2]).await?, Applied::Gap);
    assert_eq!(dump(&app.db).await?, after_first, "a gap changes nothing");
    assert_eq!(
        views(&app)
            .complaint("c-1", date(3, 2))
            .await?
            .unwrap()
            .version,
        1
    );

    assert_eq!(app.projector.handle(&events[1]).await?, Applied::Applied);
    assert_eq!(app.projector.handle(&events[2]).await?, Applied::Applied);
    let view = views(&app).complaint("c-1", date(3, 2)).await?.unwrap();
    assert_eq!((view.version, view.status.as_str()), (3, "dispatched"));
    assert_eq!(view.unit.as_deref(), Some(UNIT_A));
    Ok(())
}

async fn the_stored_view_is_the_fold_of_the_log_without_the_reporter(
    kind: Kind,
) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    app.dispatched(
        "c-1",
        Category::Consultation,
        UNIT_A,
        at(3, 2, 1),
        at(3, 2, 2),
    )
    .await?;
    app.sign("c-1", UNIT_A, at(3, 2, 3)).await?;
    app.run(
        "c-1",
        ComplaintCommand::RequestExtension {
            unit: unit(UNIT_A),
            working_days: 2,
            reason: "site visit".into(),
            at: at(3, 3, 1),
        },
    )
    .await?;
    app.run(
        "c-1",
        ComplaintCommand::ApproveExtension {
            note: "granted".into(),
            at: at(3, 3, 2),
        },
    )
    .await?;
    app.run(
        "c-1",
        ComplaintCommand::ReplyToComplaint {
            unit: unit(UNIT_A),
            content: "Issued.".into(),
            at: at(3, 4, 1),
        },
    )
    .await?;
    app.run(
        "c-1",
        ComplaintCommand::RecordVisit {
            satisfied: false,
            comment: "too late".into(),
            at: at(3, 5, 1),
        },
    )
    .await?;
    app.project().await?;

    let today = date(3, 6);
    let stored = views(&app).complaint("c-1", today).await?.unwrap();
    let mut folded = ComplaintView::from_stored("c-1", &app.events_of("c-1").await?)?.unwrap();
    folded.refresh_overdue(today);
    assert_eq!(stored, folded);
    assert_eq!(stored.status, "in_progress");
    assert_eq!(stored.satisfied, Some(false));
    assert_eq!(
        stored.extension.as_ref().map(|e| e.status.as_str()),
        Some("approved")
    );
    assert_eq!(stored.reply.as_deref(), Some("Issued."));
    // Reopened on Thu 5 Mar with 10 working days: Fri 6 .. Thu 19 Mar.
    assert_eq!(stored.reply_due, Some(date(3, 19)));
    assert_eq!(stored.version, 9);

    let dumped = dump(&app.db).await?.to_string();
    for personal in [
        "Wang Fang",
        "13800138000",
        "11010519491231002X",
        "ciphertext",
        "reporter",
    ] {
        assert!(!dumped.contains(personal), "{personal} reached the views");
    }
    assert!(views(&app).complaint("nope", today).await?.is_none());
    Ok(())
}

async fn lists_filter_and_page_in_received_order(kind: Kind) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    // Ids run against received order, and two cases share a received time, so the
    // order must come from (received_at, id).
    app.file("c-7", Category::Help, false, at(3, 2, 1)).await?;
    app.file("c-6", Category::Complaint, true, at(3, 2, 2))
        .await?;
    app.dispatched("c-5", Category::Help, UNIT_A, at(3, 2, 3), at(3, 2, 4))
        .await?;
    app.dispatched("c-4", Category::Complaint, UNIT_B, at(3, 2, 4), at(3, 2, 5))
        .await?;
    app.dispatched("c-3", Category::Help, UNIT_B, at(3, 2, 5), at(3, 2, 6))
        .await?;
    app.dispatched("c-2", Category::Help, UNIT_A, at(3, 2, 6), at(3, 2, 7))
        .await?;
    app.file("c-1", Category::Report, false, at(3, 2, 6))
        .await?;
    app.run(
        "c-1",
        ComplaintCommand::DeclineComplaint {
            reason: "duplicate".into(),
            at: at(3, 2, 7),
        },
    )
    .await?;
    app.project().await?;
    let views = views(&app);
    let today = date(3, 2);
    let all = ComplaintFilter::default();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = views.complaints(&all, today, 3, cursor.as_deref()).await?;
        pages += 1;
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|v| v.id.clone()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected_order());

    // A page that ends exactly at the last row has no next cursor.
    let first6 = views.complaints(&all, today, 6, None).await?;
    let rest = views
        .complaints(&all, today, 6, first6.next_cursor.as_deref())
        .await?;
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.next_cursor, None);
    let whole = views.complaints(&all, today, 7, None).await?;
    assert_eq!((whole.items.len(), whole.next_cursor), (7, None));
    // The limit is clamped to 1..=500.
    assert_eq!(views.complaints(&all, today, 0, None).await?.items.len(), 1);
    assert_eq!(
        views
            .complaints(&all, today, 10_000, None)
            .await?
            .items
            .len(),
        7
    );

    let ids = |page: probity_views::Page<ComplaintView>| {
        page.items.into_iter().map(|v| v.id).collect::<Vec<_>>()
    };
    let by_status = ComplaintFilter {
        status: Some("dispatched".into()),
        ..Default::default()
    };
    assert_eq!(
        ids(views.complaints(&by_status, today, 50, None).await?),
        ["c-5", "c-4", "c-3", "c-2"]
    );
    let by_unit = ComplaintFilter {
        unit: Some(UNIT_B.into()),
        ..Default::default()
    };
    assert_eq!(
        ids(views.complaints(&by_unit, today, 50, None).await?),
        ["c-4", "c-3"]
    );
    let by_category = ComplaintFilter {
        category: Some("help".into()),
        ..Default::default()
    };
    assert_eq!(
        ids(views.complaints(&by_category, today, 50, None).await?),
        ["c-7", "c-5", "c-3", "c-2"]
    );
    let combined = ComplaintFilter {
        status: Some("dispatched".into()),
        unit: Some(UNIT_A.into()),
        category: Some("help".into()),
        overdue: None,
        units: None,
        ..ComplaintFilter::default()
    };
    let first = views.complaints(&combined, today, 1, None).await?;
    assert_eq!(first.items[0].id, "c-5");
    let second = views
        .complaints(&combined, today, 1, first.next_cursor.as_deref())
        .await?;
    assert_eq!(
        (second.items[0].id.as_str(), second.next_cursor),
        ("c-2", None)
    );
    // A jurisdiction: only the listed units; an empty one matches nothing.
    let jurisdiction = ComplaintFilter {
        units: Some(vec![UNIT_B.into()]),
        ..Default::default()
    };
    assert_eq!(
        ids(views.complaints(&jurisdiction, today, 50, None).await?),
        ["c-4", "c-3"]
    );
    let nowhere = ComplaintFilter {
        units: Some(vec![]),
        ..Default::default()
    };
    assert!(views
        .complaints(&nowhere, today, 50, None)
        .await?
        .items
        .is_empty());
    let declined = ComplaintFilter {
        status: Some("declined".into()),
        ..Default::default()
    };
    assert_eq!(
        ids(views.complaints(&declined, today, 50, None).await?),
        ["c-1"]
    );
    // A received window is a range of the index: only the cases received inside it.
    let window = ComplaintFilter {
        received_from: Some(at(3, 2, 3)),
        received_to: Some(at(3, 2, 5)),
        ..Default::default()
    };
    assert_eq!(
        ids(views.complaints(&window, today, 50, None).await?),
        ["c-5", "c-4", "c-3"]
    );
    let none = ComplaintFilter {
        status: Some("closed".into()),
        ..Default::default()
    };
    let empty = views.complaints(&none, today, 50, None).await?;
    assert!(empty.items.is_empty() && empty.next_cursor.is_none());

    // Well-formed base64 JSON that this server never handed out is refused too.
    let forged = base64_json(&["yesterday", "c-1"]);
    for bad in ["not a cursor", "bm9wZQ", "", forged.as_str()] {
        assert!(
            matches!(
                views.complaints(&all, today, 3, Some(bad)).await,
                Err(ViewError::InvalidCursor)
            ),
            "{bad:?} was accepted"
        );
    }
    Ok(())
}

/// A cursor-shaped string: URL-safe base64 of a JSON array.
fn base64_json(parts: &[&str]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(parts).unwrap())
}

/// Received order of the list test: by time, then id for the two received at 06:00.
fn expected_order() -> Vec<String> {
    ["c-7", "c-6", "c-5", "c-4", "c-3", "c-1", "c-2"]
        .map(String::from)
        .to_vec()
}

async fn the_overdue_filter_uses_the_readers_today(kind: Kind) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    // Dispatched Mon 2 Mar: sign due Tue 3 Mar; consultation reply due Thu 5 Mar,
    // complaint reply due Mon 23 Mar.
    app.dispatched(
        "signed",
        Category::Consultation,
        UNIT_A,
        at(3, 2, 1),
        at(3, 2, 2),
    )
    .await?;
    app.sign("signed", UNIT_A, at(3, 2, 3)).await?;
    app.dispatched(
        "unsigned",
        Category::Complaint,
        UNIT_A,
        at(3, 2, 2),
        at(3, 2, 3),
    )
    .await?;
    app.dispatched(
        "replied",
        Category::Consultation,
        UNIT_B,
        at(3, 2, 3),
        at(3, 2, 4),
    )
    .await?;
    app.sign("replied", UNIT_B, at(3, 2, 5)).await?;
    app.run(
        "replied",
        ComplaintCommand::ReplyToComplaint {
            unit: unit(UNIT_B),
            content: "Done.".into(),
            at: at(3, 3, 1),
        },
    )
    .await?;
    app.file("received", Category::Help, true, at(3, 2, 4))
        .await?;
    app.project().await?;
    let views = views(&app);
    let overdue = ComplaintFilter {
        overdue: Some(true),
        ..Default::default()
    };
    let on_time = ComplaintFilter {
        overdue: Some(false),
        ..Default::default()
    };
    let list = |page: probity_views::Page<ComplaintView>| {
        page.items
            .into_iter()
            .map(|v| (v.id, v.overdue))
            .collect::<Vec<_>>()
    };

    let unsigned = views.complaint("unsigned", date(3, 3)).await?.unwrap();
    assert_eq!(
        (unsigned.sign_due, unsigned.reply_due),
        (Some(date(3, 3)), Some(date(3, 23)))
    );

    assert!(list(views.complaints(&overdue, date(3, 3), 50, None).await?).is_empty());
    assert_eq!(
        list(views.complaints(&overdue, date(3, 4), 50, None).await?),
        [("unsigned".to_string(), true)]
    );
    assert_eq!(
        list(views.complaints(&overdue, date(3, 6), 50, None).await?),
        [("signed".to_string(), true), ("unsigned".to_string(), true)]
    );
    assert_eq!(
        list(views.complaints(&on_time, date(3, 6), 50, None).await?),
        [
            ("replied".to_string(), false),
            ("received".to_string(), false)
        ]
    );
    // Every returned view carries `overdue` for the reader's today.
    let everything = views
        .complaints(&ComplaintFilter::default(), date(3, 4), 50, None)
        .await?;
    let flags: Vec<_> = everything
        .items
        .iter()
        .map(|v| (v.id.as_str(), v.overdue))
        .collect();
    assert_eq!(
        flags,
        [
            ("signed", false),
            ("unsigned", true),
            ("replied", false),
            ("received", false)
        ]
    );
    assert!(
        !views
            .complaint("unsigned", date(3, 3))
            .await?
            .unwrap()
            .overdue
    );
    assert!(
        views
            .complaint("unsigned", date(3, 4))
            .await?
            .unwrap()
            .overdue
    );

    // Supervision of the overdue case is counted; it stays overdue.
    app.run(
        "unsigned",
        ComplaintCommand::SuperviseComplaint {
            note: "sign now".into(),
            at: at(3, 4, 1),
        },
    )
    .await?;
    app.project().await?;
    let supervised = views.complaint("unsigned", date(3, 4)).await?.unwrap();
    assert_eq!(
        (supervised.supervision_count, supervised.overdue),
        (1, true)
    );
    Ok(())
}

fn board(page: &probity_views::Page<DeadlineEntry>) -> Vec<(String, String, NaiveDate, i64, bool)> {
    page.items
        .iter()
        .map(|e| {
            (
                e.case_id.clone(),
                e.kind.clone(),
                e.due,
                e.working_days_left,
                e.overdue,
            )
        })
        .collect()
}

fn row(
    id: &str,
    kind: &str,
    due: NaiveDate,
    left: i64,
    overdue: bool,
) -> (String, String, NaiveDate, i64, bool) {
    (id.to_string(), kind.to_string(), due, left, overdue)
}

async fn the_deadline_board_counts_working_days_across_a_holiday(kind: Kind) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    let calendar = WorkingCalendar::china();
    // Dispatched Wed 30 Sep 2026, before the National Day holiday (1-7 Oct, make-up
    // working Saturday 10 Oct): sign due Thu 8 Oct, consultation reply due Sat 10 Oct.
    app.dispatched(
        "c-h",
        Category::Consultation,
        UNIT_A,
        at(9, 29, 1),
        at(9, 30, 2),
    )
    .await?;
    // Dispatched and signed on Mon 28 Sep: only the 15-working-day reply is open.
    app.dispatched(
        "c-n",
        Category::Complaint,
        UNIT_B,
        at(9, 28, 1),
        at(9, 28, 2),
    )
    .await?;
    app.sign("c-n", UNIT_B, at(9, 28, 3)).await?;
    // Dispatched late December: the reply deadline reaches into 2027, which has no
    // holiday schedule yet, so it is provisional.
    app.dispatched(
        "c-p",
        Category::Complaint,
        UNIT_B,
        at(12, 21, 1),
        at(12, 21, 2),
    )
    .await?;
    app.project().await?;
    let views = views(&app);
    let c_n_due = calendar.add_working_days(date(9, 28), 15)?.due;
    let c_p_due = calendar.add_working_days(date(12, 21), 15)?;
    assert!(c_p_due.provisional);

    let all = DeadlineFilter::default();
    let page = views.deadlines(&all, date(9, 30), &calendar).await?;
    let c_p_left = calendar.working_days_left(date(9, 30), c_p_due.due)?;
    assert_eq!(
        board(&page),
        [
            // Across the holiday: one working day (8 Oct) left, not six.
            row("c-h", KIND_COMPLAINT_SIGN, date(10, 8), 1, false),
            row("c-h", KIND_COMPLAINT_REPLY, date(10, 10), 3, false),
            row(
                "c-n",
                KIND_COMPLAINT_REPLY,
                c_n_due,
                calendar.working_days_left(date(9, 30), c_n_due)?,
                false
            ),
            row(
                "c-p",
                KIND_COMPLAINT_SIGN,
                date(12, 22),
                calendar.working_days_left(date(9, 30), date(12, 22))?,
                false
            ),
            row("c-p", KIND_COMPLAINT_REPLY, c_p_due.due, c_p_left, false),
        ]
    );
    assert_eq!(page.next_cursor, None);
    let provisional: Vec<_> = page.items.iter().map(|e| e.provisional).collect();
    assert_eq!(provisional, [false, false, false, false, true]);
    assert!(page.items.iter().all(|e| e.case_type == "complaint"));
    assert_eq!(page.items[2].unit.as_deref(), Some(UNIT_B));
    assert!(
        views
            .complaint("c-p", date(12, 21))
            .await?
            .unwrap()
            .deadlines_provisional
    );

    let soon = |n: i64| DeadlineFilter {
        state: Some(DeadlineState::DueSoon),
        due_soon_working_days: n,
        ..Default::default()
    };
    let overdue = DeadlineFilter {
        state: Some(DeadlineState::Overdue),
        ..Default::default()
    };
    assert_eq!(
        board(&views.deadlines(&soon(1), date(9, 30), &calendar).await?),
        [row("c-h", KIND_COMPLAINT_SIGN, date(10, 8), 1, false)]
    );
    assert_eq!(
        board(&views.deadlines(&soon(3), date(9, 30), &calendar).await?).len(),
        2
    );
    assert!(views
        .deadlines(&overdue, date(9, 30), &calendar)
        .await?
        .items
        .is_empty());

    // Fri 9 Oct: the sign deadline has passed; the reply is due tomorrow (the make-up
    // working Saturday).
    assert_eq!(
        board(&views.deadlines(&overdue, date(10, 9), &calendar).await?),
        [row("c-h", KIND_COMPLAINT_SIGN, date(10, 8), -1, true)]
    );
    assert_eq!(
        board(&views.deadlines(&soon(1), date(10, 9), &calendar).await?),
        [row("c-h", KIND_COMPLAINT_REPLY, date(10, 10), 1, false)]
    );
    // Sun 11 Oct: the Saturday reply deadline has passed although no working day has
    // gone by since (0 left): overdue, not due soon.
    assert_eq!(
        board(&views.deadlines(&overdue, date(10, 11), &calendar).await?),
        [
            // Fri 9 and the make-up Sat 10 Oct have gone by since 8 Oct.
            row("c-h", KIND_COMPLAINT_SIGN, date(10, 8), -2, true),
            row("c-h", KIND_COMPLAINT_REPLY, date(10, 10), 0, true),
        ]
    );
    assert!(views
        .deadlines(&soon(0), date(10, 11), &calendar)
        .await?
        .items
        .is_empty());
    // On the due day itself: 0 left, due soon.
    assert_eq!(
        board(&views.deadlines(&soon(0), date(10, 10), &calendar).await?),
        [row("c-h", KIND_COMPLAINT_REPLY, date(10, 10), 0, false)]
    );

    let replies_of_b = DeadlineFilter {
        kind: Some(KIND_COMPLAINT_REPLY.into()),
        unit: Some(UNIT_B.into()),
        ..Default::default()
    };
    let ids: Vec<_> = views
        .deadlines(&replies_of_b, date(9, 30), &calendar)
        .await?
        .items
        .into_iter()
        .map(|e| e.case_id)
        .collect();
    assert_eq!(ids, ["c-n", "c-p"]);

    // Paged one at a time, the board is the same list.
    let mut paged = Vec::new();
    let mut filter = DeadlineFilter {
        limit: 2,
        ..Default::default()
    };
    loop {
        let page = views.deadlines(&filter, date(9, 30), &calendar).await?;
        paged.extend(board(&page));
        match page.next_cursor {
            Some(next) => filter.cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(
        paged,
        board(&views.deadlines(&all, date(9, 30), &calendar).await?)
    );
    for bad in [
        "garbage!".to_string(),
        base64_json(&["soon", "c-h", "complaint", "complaint_sign"]),
    ] {
        let bad = DeadlineFilter {
            cursor: Some(bad),
            ..Default::default()
        };
        assert!(matches!(
            views.deadlines(&bad, date(9, 30), &calendar).await,
            Err(ViewError::InvalidCursor)
        ));
    }

    // A calendar without the years of a deadline is an error, not a guess.
    let empty = WorkingCalendar::default();
    assert!(matches!(
        views.deadlines(&all, date(9, 30), &empty).await,
        Err(ViewError::Calendar(_))
    ));
    Ok(())
}

async fn deadlines_open_and_close_with_the_case(kind: Kind) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    let calendar = WorkingCalendar::china();
    let views = views(&app);
    let today = date(3, 2);
    let open = |app: &TestApp| {
        let views = Views::new(app.db.clone());
        let calendar = calendar.clone();
        async move {
            let page = views
                .deadlines(&DeadlineFilter::default(), today, &calendar)
                .await?;
            Ok::<_, anyhow::Error>(
                page.items
                    .into_iter()
                    .map(|e| (e.kind, e.due))
                    .collect::<Vec<_>>(),
            )
        }
    };

    // Help request dispatched Mon 2 Mar: sign due 3 Mar, reply (10 working days) 16 Mar.
    app.dispatched("c-1", Category::Help, UNIT_A, at(3, 2, 1), at(3, 2, 2))
        .await?;
    app.project().await?;
    assert_eq!(
        open(&app).await?,
        [
            (KIND_COMPLAINT_SIGN.to_string(), date(3, 3)),
            (KIND_COMPLAINT_REPLY.to_string(), date(3, 16))
        ]
    );
    app.sign("c-1", UNIT_A, at(3, 2, 3)).await?;
    app.project().await?;
    assert_eq!(
        open(&app).await?,
        [(KIND_COMPLAINT_REPLY.to_string(), date(3, 16))]
    );

    // An approved extension of 3 working days moves the reply deadline to 19 Mar.
    app.run(
        "c-1",
        ComplaintCommand::RequestExtension {
            unit: unit(UNIT_A),
            working_days: 3,
            reason: "lab test".into(),
            at: at(3, 3, 1),
        },
    )
    .await?;
    app.run(
        "c-1",
        ComplaintCommand::ApproveExtension {
            note: "ok".into(),
            at: at(3, 3, 2),
        },
    )
    .await?;
    app.project().await?;
    assert_eq!(
        open(&app).await?,
        [(KIND_COMPLAINT_REPLY.to_string(), date(3, 19))]
    );

    app.run(
        "c-1",
        ComplaintCommand::ReplyToComplaint {
            unit: unit(UNIT_A),
            content: "Tested.".into(),
            at: at(3, 4, 1),
        },
    )
    .await?;
    app.project().await?;
    assert!(open(&app).await?.is_empty(), "a replied case owes nothing");

    // Unsatisfied on Thu 5 Mar: reopened with 10 working days, due Thu 19 Mar.
    app.run(
        "c-1",
        ComplaintCommand::RecordVisit {
            satisfied: false,
            comment: "no".into(),
            at: at(3, 5, 1),
        },
    )
    .await?;
    app.project().await?;
    assert_eq!(
        open(&app).await?,
        [(KIND_COMPLAINT_REPLY.to_string(), date(3, 19))]
    );

    // Returned: nothing owed until dispatched again; a new dispatch opens both again.
    app.run(
        "c-1",
        ComplaintCommand::ReturnComplaint {
            unit: unit(UNIT_A),
            reason: "not ours".into(),
            at: at(3, 6, 1),
        },
    )
    .await?;
    app.project().await?;
    assert!(open(&app).await?.is_empty());
    let returned = views.complaint("c-1", today).await?.unwrap();
    assert_eq!(
        (returned.status.as_str(), returned.unit.as_deref()),
        ("returned", None)
    );
    app.run(
        "c-1",
        ComplaintCommand::DispatchComplaint {
            unit: unit(UNIT_B),
            above: Vec::new(),
            at: at(3, 9, 1),
        },
    )
    .await?;
    app.project().await?;
    assert_eq!(
        open(&app).await?,
        [
            (KIND_COMPLAINT_SIGN.to_string(), date(3, 10)),
            (KIND_COMPLAINT_REPLY.to_string(), date(3, 23))
        ]
    );
    let redispatched = views.complaint("c-1", today).await?.unwrap();
    assert_eq!(
        (
            redispatched.unit.as_deref(),
            redispatched.extension.as_ref()
        ),
        (Some(UNIT_B), None)
    );

    // Merged: closed for good.
    app.run(
        "c-1",
        ComplaintCommand::MergeComplaint {
            into: "c-0".into(),
            into_status: probity_domain::complaint::Status::Accepted,
            at: at(3, 9, 2),
        },
    )
    .await?;
    app.project().await?;
    assert!(open(&app).await?.is_empty());
    let merged = views.complaint("c-1", today).await?.unwrap();
    assert_eq!(
        (merged.status.as_str(), merged.merged_into.as_deref()),
        ("merged", Some("c-0"))
    );

    // Anonymous: closes on reply.
    app.file("c-2", Category::Consultation, true, at(3, 2, 1))
        .await?;
    app.run("c-2", ComplaintCommand::AcceptComplaint { at: at(3, 2, 2) })
        .await?;
    app.run(
        "c-2",
        ComplaintCommand::DispatchComplaint {
            unit: unit(UNIT_A),
            above: Vec::new(),
            at: at(3, 2, 3),
        },
    )
    .await?;
    app.sign("c-2", UNIT_A, at(3, 2, 4)).await?;
    app.run(
        "c-2",
        ComplaintCommand::ReplyToComplaint {
            unit: unit(UNIT_A),
            content: "Answered.".into(),
            at: at(3, 3, 1),
        },
    )
    .await?;
    app.project().await?;
    assert!(open(&app).await?.is_empty());
    let closed = views.complaint("c-2", today).await?.unwrap();
    assert_eq!(
        (closed.status.as_str(), closed.closed_because.as_deref()),
        ("closed", Some("anonymous_replied"))
    );
    Ok(())
}

/// A varied history: every event type, several cases.
async fn populate(app: &TestApp) -> anyhow::Result<()> {
    for (i, category) in [
        Category::Consultation,
        Category::Help,
        Category::Suggestion,
        Category::Complaint,
        Category::Report,
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("r-{i}");
        let u = if i % 2 == 0 { UNIT_A } else { UNIT_B };
        app.dispatched(&id, category, u, at(3, 2, i as u32), at(3, 2, 6 + i as u32))
            .await?;
        if i >= 1 {
            app.sign(&id, u, at(3, 3, i as u32)).await?;
        }
        if i >= 2 {
            app.run(
                &id,
                ComplaintCommand::RequestExtension {
                    unit: unit(u),
                    working_days: 2,
                    reason: "more".into(),
                    at: at(3, 4, 1),
                },
            )
            .await?;
            let decision = if i % 2 == 0 {
                ComplaintCommand::ApproveExtension {
                    note: "yes".into(),
                    at: at(3, 4, 2),
                }
            } else {
                ComplaintCommand::DenyExtension {
                    note: "no".into(),
                    at: at(3, 4, 2),
                }
            };
            app.run(&id, decision).await?;
        }
        if i >= 3 {
            app.run(
                &id,
                ComplaintCommand::ReplyToComplaint {
                    unit: unit(u),
                    content: "done".into(),
                    at: at(3, 5, 1),
                },
            )
            .await?;
            app.run(
                &id,
                ComplaintCommand::RecordVisit {
                    satisfied: i == 4,
                    comment: "-".into(),
                    at: at(3, 6, 1),
                },
            )
            .await?;
        }
    }
    app.file("r-declined", Category::Help, false, at(3, 2, 3))
        .await?;
    app.run(
        "r-declined",
        ComplaintCommand::DeclineComplaint {
            reason: "spam".into(),
            at: at(3, 2, 4),
        },
    )
    .await?;
    app.file("r-merged", Category::Help, true, at(3, 2, 3))
        .await?;
    app.run(
        "r-merged",
        ComplaintCommand::MergeComplaint {
            into: "r-1".into(),
            into_status: probity_domain::complaint::Status::Accepted,
            at: at(3, 2, 4),
        },
    )
    .await?;
    app.run(
        "r-0",
        ComplaintCommand::SuperviseComplaint {
            note: "sign".into(),
            at: at(3, 4, 3),
        },
    )
    .await?;
    app.run(
        "r-1",
        ComplaintCommand::ReturnComplaint {
            unit: unit(UNIT_B),
            reason: "misrouted".into(),
            at: at(3, 4, 4),
        },
    )
    .await?;
    Ok(())
}

/// A government's debt warning raised, cleared and raised again (ADR 0028).
async fn warn_about_debt(app: &TestApp) -> anyhow::Result<()> {
    use probity_domain::debt_warning::{DebtWarning, DebtWarningCommand, DebtWarningReason};
    let executor = probity_store::Executor::<DebtWarning>::new(
        app.db.clone(),
        probity_domain::integrity::IntegrityServices {
            calendar: Arc::new(WorkingCalendar::china()),
            policy: Default::default(),
        },
    );
    let raise = |day: u32| DebtWarningCommand::RaiseDebtWarning {
        subject_code: unit(UNIT_A),
        reasons: vec![DebtWarningReason::OverdueRectification {
            rectification_id: "k-1".into(),
            record_id: "r-debt".into(),
            due: date(3, day),
        }],
        on: date(3, day + 1),
        at: at(3, day + 1, 9),
    };
    executor
        .execute(UNIT_A, raise(5), None, Default::default())
        .await?;
    let clear = DebtWarningCommand::ClearDebtWarning {
        on: date(3, 9),
        at: at(3, 9, 9),
    };
    executor
        .execute(UNIT_A, clear, None, Default::default())
        .await?;
    executor
        .execute(UNIT_A, raise(10), None, Default::default())
        .await?;
    Ok(())
}

async fn rebuild_arrives_at_the_incremental_state(kind: Kind) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    populate(&app).await?;
    let complaints = app.log.count().await? as u64;
    assert_eq!(app.project().await? as u64, complaints);
    warn_about_debt(&app).await?;
    let integrity = probity_views::IntegrityProjector::new(app.db.clone());
    let mut warnings = 0;
    for event in app.all_events().await? {
        if event.aggregate_type == "debt_warning" {
            assert_eq!(integrity.handle(&event).await?, Applied::Applied);
            warnings += 1;
        }
    }
    assert_eq!(warnings, 3);
    let total = app.log.count().await? as u64;
    let incremental = dump(&app.db).await?;
    assert_eq!(
        incremental["complaint_views"].as_array().map(Vec::len),
        Some(7)
    );
    assert!(!incremental["deadline_entries"]
        .as_array()
        .unwrap()
        .is_empty());
    let warnings = incremental["debt_warning_views"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{incremental}");
    assert_eq!(warnings[0]["key"], UNIT_A);
    assert_eq!(warnings[0]["doc"]["status"], "raised");
    assert_eq!(warnings[0]["doc"]["times_raised"], 2);
    assert_eq!(warnings[0]["doc"]["raised_on"], "2026-03-11");
    assert!(warnings[0]["doc"]["cleared_on"].is_null());

    // Damage the views and leave a stale local bus checkpoint behind.
    sqlx::query("UPDATE complaint_views SET doc = '{}' WHERE id = 'r-0'")
        .execute(&app.db.any)
        .await?;
    sqlx::query("DELETE FROM deadline_entries WHERE case_id = 'r-1'")
        .execute(&app.db.any)
        .await?;
    sqlx::query("INSERT INTO projection_positions (projector, aggregate_type, aggregate_id, last_sequence) VALUES ('complaints', 'complaint', 'ghost', 4)")
        .execute(&app.db.any)
        .await?;
    sqlx::query("INSERT INTO local_bus_checkpoints (projector, tx_id, position) VALUES ('complaints', 99, 99)")
        .execute(&app.db.any)
        .await?;

    let names: Vec<_> = projectors(&app.db).iter().map(|p| p.name()).collect();
    assert_eq!(
        names,
        ["complaints", "integrity"],
        "rebuild applies exactly these projectors"
    );

    let progress = Arc::new(Mutex::new(Vec::new()));
    let seen = progress.clone();
    let record = move |done: u64, total: u64| seen.lock().unwrap().push((done, total));
    let events = rebuild(&app.log, &app.db, &record).await?;
    assert_eq!(events, total);
    assert_eq!(dump(&app.db).await?, incremental);
    let progress = progress.lock().unwrap().clone();
    assert_eq!(progress.first(), Some(&(0, total)));
    assert_eq!(progress.last(), Some(&(total, total)));
    let left: i64 = sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM local_bus_checkpoints WHERE projector = 'complaints'",
    )
    .fetch_one(&app.db.any)
    .await?;
    assert_eq!(
        left, 0,
        "the local bus must restart the rebuilt projector from the beginning"
    );

    // After a rebuild, projection simply continues.
    assert_eq!(app.project().await?, 0);
    app.sign("r-0", UNIT_A, at(3, 5, 5)).await?;
    assert_eq!(app.project().await?, 1);
    Ok(())
}

async fn two_processes_projecting_at_once_apply_each_event_once(kind: Kind) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    populate(&app).await?;
    let events = Arc::new(app.all_events().await?);
    let other = ComplaintProjector::new(app.reopen.open().await?);
    let mut tasks = Vec::new();
    for projector in [app.projector.clone(), other] {
        let events = events.clone();
        tasks.push(tokio::spawn(async move {
            let mut applied = 0usize;
            for event in events.iter() {
                // A gap cannot happen in commit order; retry it should the other
                // process's transaction still be open.
                loop {
                    match projector.handle(event).await? {
                        Applied::Applied => {
                            applied += 1;
                            break;
                        }
                        Applied::AlreadyApplied => break,
                        Applied::Gap => tokio::task::yield_now().await,
                    }
                }
            }
            Ok::<_, probity_store::StoreError>(applied)
        }));
    }
    let mut applied = 0;
    for task in tasks {
        applied += task.await??;
    }
    assert_eq!(
        applied,
        events.len(),
        "every event applied exactly once in total"
    );
    let concurrent = dump(&app.db).await?;
    rebuild(&app.log, &app.db, &|_, _| {}).await?;
    assert_eq!(dump(&app.db).await?, concurrent);
    Ok(())
}

#[test]
fn a_supervision_item_view_stored_before_extensions_reads_as_its_first_handling() {
    // A document as the projector stored it before ADR 0033 (no handling, extensions or
    // earlier handlings).
    let stored = serde_json::json!({
        "id": "0193a0c2-0000-7000-8000-000000000001", "version": 3, "kind": "npc_proposal",
        "source_ref": "第0123号", "title": "关于加快老旧小区改造的建议",
        "unit": UNIT_B, "status": "replied", "months": 3, "due": "2026-06-11",
        "provisional": false, "overdue": false, "policy": "supervision-2026",
        "assigned_at": "2026-03-11T02:00:00Z", "reply": "已纳入年度计划",
        "replied_at": "2026-04-01T02:00:00Z", "replied_on_time": true,
        "satisfaction": null, "evaluated_at": null, "escalations": [], "reassignments": []
    });
    let v: probity_views::integrity::SupervisionItemView =
        serde_json::from_value(stored).expect("an older document reads");
    assert_eq!(v.handling, 1);
    assert_eq!(v.extension_requested, None);
    assert!(v.extensions.is_empty() && v.earlier_handlings.is_empty());
}
