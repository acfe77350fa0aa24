//! Given/when/then tests of the rectification aggregate, one per rule, named as
//! sentences. Due dates are checked against the official 2025/2026 schedules shipped in
//! `WorkingCalendar::china()`; times are written in Asia/Shanghai.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::test::TestFramework;

use super::*;
use crate::integrity::{IntegrityPolicy, PublicityPolicy, Severity};

type Framework = TestFramework<Rectification>;

fn services() -> IntegrityServices {
    IntegrityServices {
        calendar: Arc::new(WorkingCalendar::china()),
        policy: IntegrityPolicy::default(),
    }
}

fn rectification() -> Framework {
    Framework::with(services())
}

/// An instant given in Asia/Shanghai time, e.g. `at("2026-03-10 10:00")`.
fn at(local: &str) -> DateTime<Utc> {
    DateTime::parse_from_str(&format!("{local} +0800"), "%Y-%m-%d %H:%M %z")
        .unwrap()
        .with_timezone(&Utc)
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn due(s: &str) -> Deadline {
    Deadline {
        due: day(s),
        provisional: false,
    }
}

/// The unit that must rectify.
fn unit_a() -> CreditCode {
    CreditCode::parse("914403001922038216").unwrap()
}

fn unit_b() -> CreditCode {
    CreditCode::parse("91330100716105852F").unwrap()
}

fn facts(withdrawn: bool) -> RecordFacts {
    RecordFacts {
        record_id: "record-1".into(),
        unit: unit_a(),
        personal: false,
        severity: Severity::Ordinary,
        publicity: PublicityPolicy::default().window(
            Severity::Ordinary,
            day("2026-03-02"),
            false,
            false,
        ),
        withdrawn,
        recorded_by: None,
    }
}

fn order_at(local: &str, working_days: u32) -> RectificationCommand {
    RectificationCommand::OrderRectification {
        record: facts(false),
        working_days,
        at: at(local),
    }
}

/// Ordered on Tue 10 Mar 2026 with 10 working days: due Tue 24 Mar.
fn ordered() -> RectificationEvent {
    RectificationEvent::RectificationOrdered {
        record_id: "record-1".into(),
        unit: unit_a(),
        personal: false,
        working_days: 10,
        due: due("2026-03-24"),
        at: at("2026-03-10 10:00"),
    }
}

fn explained() -> RectificationEvent {
    RectificationEvent::ExplanationFiled {
        text: "已说明情况".into(),
        at: at("2026-03-12 10:00"),
    }
}

fn reported_at(local: &str) -> RectificationEvent {
    RectificationEvent::RectificationReported {
        text: "已完成整改".into(),
        at: at(local),
    }
}

fn reported() -> RectificationEvent {
    reported_at("2026-03-20 10:00")
}

/// Rejected on Mon 23 Mar with 5 working days: due Mon 30 Mar.
fn rejected() -> RectificationEvent {
    RectificationEvent::RectificationRejected {
        reason: "整改不到位".into(),
        working_days: 5,
        due: due("2026-03-30"),
        at: at("2026-03-23 10:00"),
    }
}

fn verified(on_time: bool) -> RectificationEvent {
    RectificationEvent::RectificationVerified {
        on_time,
        at: at("2026-03-23 10:00"),
    }
}

fn escalated(due_day: &str, local: &str) -> RectificationEvent {
    RectificationEvent::RectificationEscalated {
        due: day(due_day),
        public_criticism: true,
        at: at(local),
    }
}

fn mitigated() -> RectificationEvent {
    RectificationEvent::MitigationRecorded {
        reason: "主动整改".into(),
        at: at("2026-03-15 10:00"),
    }
}

fn explain(unit: CreditCode, text: &str) -> RectificationCommand {
    RectificationCommand::FileExplanation {
        unit,
        text: text.into(),
        at: at("2026-03-12 10:00"),
    }
}

fn report(unit: CreditCode, text: &str) -> RectificationCommand {
    RectificationCommand::ReportRectification {
        unit,
        text: text.into(),
        at: at("2026-03-20 10:00"),
    }
}

fn verify() -> RectificationCommand {
    RectificationCommand::VerifyRectification {
        at: at("2026-03-23 10:00"),
    }
}

fn reject(reason: &str, working_days: u32) -> RectificationCommand {
    RectificationCommand::RejectRectification {
        reason: reason.into(),
        working_days,
        at: at("2026-03-23 10:00"),
    }
}

fn mitigate(reason: &str) -> RectificationCommand {
    RectificationCommand::MitigateRectification {
        reason: reason.into(),
        at: at("2026-03-15 10:00"),
    }
}

fn escalate_at(local: &str) -> RectificationCommand {
    RectificationCommand::EscalateRectification { at: at(local) }
}

fn transition(action: &'static str, status: RectificationStatus) -> RectificationError {
    RectificationError::InvalidTransition { action, status }
}

fn invalid(field: &'static str) -> impl Fn(Result<Vec<RectificationEvent>, RectificationError>) {
    move |result| match result {
        Err(RectificationError::Invalid { field: f, .. }) => assert_eq!(f, field),
        other => panic!("expected Invalid {{ field: {field} }}, got {other:?}"),
    }
}

/// The due date of the order or rejection the command produced.
fn due_of(result: Result<Vec<RectificationEvent>, RectificationError>) -> Deadline {
    match &result.unwrap()[..] {
        [RectificationEvent::RectificationOrdered { due, .. }]
        | [RectificationEvent::RectificationRejected { due, .. }] => *due,
        other => panic!("expected one order or rejection, got {other:?}"),
    }
}

fn due_when_ordered(local: &str, working_days: u32) -> Deadline {
    due_of(
        rectification()
            .given_no_previous_events()
            .when(order_at(local, working_days))
            .inspect_result(),
    )
}

// ---------------------------------------------------------------- ordering (限期整改)

#[test]
fn an_order_is_due_the_given_number_of_working_days_later() {
    rectification()
        .given_no_previous_events()
        .when(order_at("2026-03-10 10:00", 10))
        .then_expect_events(vec![ordered()]);
}

#[test]
fn an_order_before_the_spring_festival_counts_the_make_up_saturday_and_skips_the_holiday() {
    // Thu 12 Feb 2026: Fri 13 (1), Sat 14 make-up (2), 15–23 Feb off, Tue 24 (3) … Thu 26 (5).
    assert_eq!(due_when_ordered("2026-02-12 10:00", 2), due("2026-02-14"));
    assert_eq!(due_when_ordered("2026-02-12 10:00", 3), due("2026-02-24"));
    assert_eq!(due_when_ordered("2026-02-12 10:00", 5), due("2026-02-26"));
    // … Fri 27 (6), Sat 28 make-up (7).
    assert_eq!(due_when_ordered("2026-02-12 10:00", 7), due("2026-02-28"));
}

#[test]
fn an_order_during_the_spring_festival_starts_counting_after_it() {
    assert_eq!(due_when_ordered("2026-02-17 10:00", 1), due("2026-02-24"));
}

#[test]
fn an_order_before_national_day_counts_the_make_up_days_and_skips_the_holiday() {
    // Fri 26 Sep 2025: Sun 28 Sep make-up (1), Mon 29 (2), Tue 30 (3), 1–8 Oct off,
    // Thu 9 Oct (4), Fri 10 (5), Sat 11 Oct make-up (6), Mon 13 (7).
    assert_eq!(due_when_ordered("2025-09-26 10:00", 1), due("2025-09-28"));
    assert_eq!(due_when_ordered("2025-09-26 10:00", 3), due("2025-09-30"));
    assert_eq!(due_when_ordered("2025-09-26 10:00", 4), due("2025-10-09"));
    assert_eq!(due_when_ordered("2025-09-26 10:00", 6), due("2025-10-11"));
    assert_eq!(due_when_ordered("2025-09-26 10:00", 7), due("2025-10-13"));
}

#[test]
fn the_order_day_is_the_shanghai_date_of_the_instant() {
    // 00:30 on Wed 11 Mar in Shanghai is still 10 Mar in UTC: counted from 11 Mar.
    assert_eq!(due_when_ordered("2026-03-11 00:30", 1), due("2026-03-12"));
}

#[test]
fn an_order_running_into_a_year_without_schedule_is_provisional() {
    let deadline = due_when_ordered("2026-12-28 10:00", 10);
    assert!(deadline.provisional);
    assert_eq!(deadline.due, day("2027-01-11"));
}

#[test]
fn ordering_in_a_year_without_calendar_data_is_calendar_missing() {
    rectification()
        .given_no_previous_events()
        .when(order_at("2024-06-03 10:00", 10))
        .then_expect_error(RectificationError::Calendar(CalendarError::Missing {
            year: 2024,
        }));
}

#[test]
fn working_days_run_from_one_to_one_hundred_and_twenty() {
    for working_days in [0, 121] {
        let result = rectification()
            .given_no_previous_events()
            .when(order_at("2026-03-10 10:00", working_days))
            .inspect_result();
        invalid("working_days")(result);
    }
    assert_eq!(due_when_ordered("2026-03-10 10:00", 1), due("2026-03-11"));
    assert!(!due_when_ordered("2026-03-10 10:00", 120).provisional);
}

#[test]
fn a_personal_records_rectification_is_marked_personal() {
    let result = rectification()
        .given_no_previous_events()
        .when(RectificationCommand::OrderRectification {
            record: RecordFacts {
                personal: true,
                ..facts(false)
            },
            working_days: 10,
            at: at("2026-03-10 10:00"),
        })
        .inspect_result()
        .unwrap();
    assert!(matches!(
        result[..],
        [RectificationEvent::RectificationOrdered { personal: true, .. }]
    ));
}

#[test]
fn a_rectification_of_a_withdrawn_record_is_refused() {
    rectification()
        .given_no_previous_events()
        .when(RectificationCommand::OrderRectification {
            record: facts(true),
            working_days: 10,
            at: at("2026-03-10 10:00"),
        })
        .then_expect_error(RectificationError::RecordWithdrawn);
}

#[test]
fn ordering_twice_is_already_ordered() {
    rectification()
        .given(vec![ordered()])
        .when(order_at("2026-03-10 10:00", 10))
        .then_expect_error(RectificationError::AlreadyOrdered);
}

// ---------------------------------------------------------------- the path

#[test]
fn the_unit_files_its_explanation() {
    rectification()
        .given(vec![ordered()])
        .when(explain(unit_a(), " 已说明情况 "))
        .then_expect_events(vec![explained()]);
}

#[test]
fn the_unit_reports_after_explaining() {
    rectification()
        .given(vec![ordered(), explained()])
        .when(report(unit_a(), "已完成整改"))
        .then_expect_events(vec![reported()]);
}

#[test]
fn a_report_made_by_the_due_date_is_verified_on_time() {
    rectification()
        .given(vec![ordered(), explained(), reported()])
        .when(verify())
        .then_expect_events(vec![verified(true)]);
}

#[test]
fn the_full_path_goes_ordered_explained_reported_verified() {
    let mut r = Rectification::default();
    assert_eq!(r.status, RectificationStatus::New);
    for (event, status) in [
        (ordered(), RectificationStatus::Ordered),
        (explained(), RectificationStatus::Explained),
        (reported(), RectificationStatus::Reported),
        (verified(true), RectificationStatus::Verified),
    ] {
        r.apply(event);
        assert_eq!(r.status, status);
    }
    assert_eq!(r.unit, Some(unit_a()));
    assert_eq!(r.due, Some(day("2026-03-24")));
}

#[test]
fn a_rejection_sets_a_new_due_date() {
    rectification()
        .given(vec![ordered(), explained(), reported()])
        .when(reject(" 整改不到位 ", 5))
        .then_expect_events(vec![rejected()]);
}

#[test]
fn a_rejection_counts_working_days_across_a_holiday() {
    // Rejected Fri 13 Feb 2026 with 3 working days: Sat 14 (1), Tue 24 (2), Wed 25 (3).
    let result = rectification()
        .given(vec![ordered(), explained(), reported()])
        .when(RectificationCommand::RejectRectification {
            reason: "整改不到位".into(),
            working_days: 3,
            at: at("2026-02-13 10:00"),
        })
        .inspect_result();
    assert_eq!(due_of(result), due("2026-02-25"));
}

#[test]
fn after_a_rejection_the_unit_reports_again() {
    rectification()
        .given(vec![ordered(), explained(), reported(), rejected()])
        .when(report(unit_a(), "已完成整改"))
        .then_expect_events(vec![reported()]);
}

#[test]
fn a_rejection_needs_a_reason_and_valid_working_days() {
    let result = rectification()
        .given(vec![ordered(), explained(), reported()])
        .when(reject(" ", 5))
        .inspect_result();
    invalid("reason")(result);
    for working_days in [0, 121] {
        let result = rectification()
            .given(vec![ordered(), explained(), reported()])
            .when(reject("整改不到位", working_days))
            .inspect_result();
        invalid("working_days")(result);
    }
}

#[test]
fn rejecting_in_a_year_without_calendar_data_is_calendar_missing() {
    rectification()
        .given(vec![ordered(), explained(), reported()])
        .when(RectificationCommand::RejectRectification {
            reason: "整改不到位".into(),
            working_days: 5,
            at: at("2024-06-03 10:00"),
        })
        .then_expect_error(RectificationError::Calendar(CalendarError::Missing {
            year: 2024,
        }));
}

#[test]
fn a_handler_of_another_unit_cannot_explain_or_report() {
    rectification()
        .given(vec![ordered()])
        .when(explain(unit_b(), "已说明情况"))
        .then_expect_error(RectificationError::NotAssignedUnit);
    rectification()
        .given(vec![ordered(), explained()])
        .when(report(unit_b(), "已完成整改"))
        .then_expect_error(RectificationError::NotAssignedUnit);
}

#[test]
fn blank_explanations_and_reports_are_refused() {
    let result = rectification()
        .given(vec![ordered()])
        .when(explain(unit_a(), "  "))
        .inspect_result();
    invalid("text")(result);
    let result = rectification()
        .given(vec![ordered(), explained()])
        .when(report(unit_a(), ""))
        .inspect_result();
    invalid("text")(result);
}

#[test]
fn the_steps_must_come_in_order() {
    use RectificationStatus as S;
    let cases = vec![
        (
            vec![ordered()],
            report(unit_a(), "r"),
            transition("report", S::Ordered),
        ),
        (vec![ordered()], verify(), transition("verify", S::Ordered)),
        (
            vec![ordered()],
            reject("r", 5),
            transition("reject", S::Ordered),
        ),
        (
            vec![ordered(), explained()],
            explain(unit_a(), "e"),
            transition("file an explanation for", S::Explained),
        ),
        (
            vec![ordered(), explained()],
            verify(),
            transition("verify", S::Explained),
        ),
        (
            vec![ordered(), explained(), reported()],
            report(unit_a(), "r"),
            transition("report", S::Reported),
        ),
        (
            vec![ordered(), explained(), reported(), rejected()],
            verify(),
            transition("verify", S::Rejected),
        ),
        (
            vec![ordered(), explained(), reported(), rejected()],
            explain(unit_a(), "e"),
            transition("file an explanation for", S::Rejected),
        ),
        (
            vec![ordered(), explained(), reported(), verified(true)],
            report(unit_a(), "r"),
            transition("report", S::Verified),
        ),
        (
            vec![ordered(), explained(), reported(), verified(true)],
            verify(),
            transition("verify", S::Verified),
        ),
        (
            vec![ordered(), explained(), reported(), verified(true)],
            reject("r", 5),
            transition("reject", S::Verified),
        ),
    ];
    for (given, command, error) in cases {
        rectification()
            .given(given)
            .when(command)
            .then_expect_error(error);
    }
}

#[test]
fn every_command_on_an_unknown_rectification_is_not_found() {
    for command in [
        explain(unit_a(), "e"),
        report(unit_a(), "r"),
        verify(),
        reject("r", 5),
        mitigate("m"),
        escalate_at("2026-03-25 10:00"),
    ] {
        rectification()
            .given_no_previous_events()
            .when(command)
            .then_expect_error(RectificationError::NotFound);
    }
}

// ---------------------------------------------------------------- escalation (逾期)

#[test]
fn on_the_due_date_itself_it_is_not_overdue() {
    rectification()
        .given(vec![ordered()])
        .when(escalate_at("2026-03-24 23:59"))
        .then_expect_error(RectificationError::NotOverdue);
}

#[test]
fn the_day_after_the_due_date_it_escalates_with_public_criticism() {
    rectification()
        .given(vec![ordered()])
        .when(escalate_at("2026-03-25 00:01"))
        .then_expect_events(vec![escalated("2026-03-24", "2026-03-25 00:01")]);
}

#[test]
fn an_explained_but_unreported_rectification_escalates_too() {
    rectification()
        .given(vec![ordered(), explained()])
        .when(escalate_at("2026-03-26 10:00"))
        .then_expect_events(vec![escalated("2026-03-24", "2026-03-26 10:00")]);
}

#[test]
fn the_same_due_date_is_escalated_only_once() {
    rectification()
        .given(vec![ordered(), escalated("2026-03-24", "2026-03-25 00:01")])
        .when(escalate_at("2026-03-26 10:00"))
        .then_expect_error(RectificationError::AlreadyEscalated);
}

#[test]
fn after_a_rejection_the_new_due_date_can_be_escalated_again() {
    let history = vec![
        ordered(),
        escalated("2026-03-24", "2026-03-25 00:01"),
        explained(),
        reported(),
        rejected(),
    ];
    rectification()
        .given(history.clone())
        .when(escalate_at("2026-03-30 18:00"))
        .then_expect_error(RectificationError::NotOverdue);
    rectification()
        .given(history)
        .when(escalate_at("2026-03-31 09:00"))
        .then_expect_events(vec![escalated("2026-03-30", "2026-03-31 09:00")]);
}

#[test]
fn a_reported_or_verified_rectification_cannot_be_escalated() {
    rectification()
        .given(vec![ordered(), explained(), reported()])
        .when(escalate_at("2026-03-26 10:00"))
        .then_expect_error(transition("escalate", RectificationStatus::Reported));
    rectification()
        .given(vec![ordered(), explained(), reported(), verified(true)])
        .when(escalate_at("2026-03-26 10:00"))
        .then_expect_error(transition("escalate", RectificationStatus::Verified));
}

#[test]
fn an_escalated_rectification_is_not_verified_on_time() {
    rectification()
        .given(vec![
            ordered(),
            explained(),
            escalated("2026-03-24", "2026-03-25 00:01"),
            reported_at("2026-03-26 10:00"),
        ])
        .when(verify())
        .then_expect_events(vec![verified(false)]);
}

#[test]
fn a_report_made_after_the_due_date_is_not_verified_on_time_even_unescalated() {
    rectification()
        .given(vec![
            ordered(),
            explained(),
            reported_at("2026-03-25 09:00"),
        ])
        .when(verify())
        .then_expect_events(vec![verified(false)]);
}

#[test]
fn a_report_made_on_the_due_date_is_on_time() {
    rectification()
        .given(vec![
            ordered(),
            explained(),
            reported_at("2026-03-24 23:59"),
        ])
        .when(verify())
        .then_expect_events(vec![verified(true)]);
}

// ---------------------------------------------------------------- mitigation

#[test]
fn mitigation_is_recorded_once() {
    rectification()
        .given(vec![ordered()])
        .when(mitigate(" 主动整改 "))
        .then_expect_events(vec![mitigated()]);
    rectification()
        .given(vec![ordered(), mitigated()])
        .when(mitigate("再次"))
        .then_expect_error(RectificationError::AlreadyMitigated);
}

#[test]
fn mitigation_can_be_recorded_in_every_status_after_the_order() {
    let histories = vec![
        vec![ordered()],
        vec![ordered(), explained()],
        vec![ordered(), explained(), reported()],
        vec![ordered(), explained(), reported(), rejected()],
        vec![ordered(), explained(), reported(), verified(true)],
    ];
    for given in histories {
        rectification()
            .given(given)
            .when(mitigate("主动整改"))
            .then_expect_events(vec![mitigated()]);
    }
}

#[test]
fn mitigation_needs_a_reason() {
    let result = rectification()
        .given(vec![ordered()])
        .when(mitigate(" "))
        .inspect_result();
    invalid("reason")(result);
}

#[test]
fn a_late_report_stays_late_after_a_rejection_and_an_on_time_new_report() {
    rectification()
        .given(vec![
            ordered(),
            explained(),
            reported_at("2026-03-25 09:00"),
            rejected(),
            reported_at("2026-03-27 10:00"),
        ])
        .when(verify())
        .then_expect_events(vec![verified(false)]);
}

// ---------------------------------------------------------------------------------------
// Recounting a provisional due date (calendar load)
// ---------------------------------------------------------------------------------------

/// The shipped calendar plus a TEST 2027 schedule (1–3 Jan off; not the official one).
fn services_with_2027() -> IntegrityServices {
    let mut calendar = WorkingCalendar::china();
    calendar
        .add_year(crate::calendar::YearSchedule {
            year: 2027,
            holidays: vec![day("2027-01-01"), day("2027-01-02"), day("2027-01-03")],
            makeup_workdays: vec![],
        })
        .unwrap();
    IntegrityServices {
        calendar: Arc::new(calendar),
        policy: IntegrityPolicy::default(),
    }
}

/// Ordered Thu 24 Dec 2026 for 15 working days: Thu 14 Jan 2027 on weekends alone.
fn ordered_provisionally() -> RectificationEvent {
    RectificationEvent::RectificationOrdered {
        record_id: "record-1".into(),
        unit: CreditCode::parse("914403001922038216").unwrap(),
        personal: false,
        working_days: 15,
        due: Deadline {
            due: day("2027-01-14"),
            provisional: true,
        },
        at: at("2026-12-24 10:00"),
    }
}

fn recompute(local: &str) -> RectificationCommand {
    RectificationCommand::RecomputeProvisionalDue { at: at(local) }
}

#[test]
fn a_provisional_due_date_is_recounted_once_the_year_is_loaded() {
    TestFramework::<Rectification>::with(services_with_2027())
        .given(vec![ordered_provisionally()])
        .when(recompute("2026-12-28 09:00"))
        .then_expect_events(vec![RectificationEvent::RectificationDueRecomputed {
            due: Deadline {
                due: day("2027-01-15"),
                provisional: false,
            },
            at: at("2026-12-28 09:00"),
        }]);
}

#[test]
fn a_recounted_due_date_is_final_and_never_recounted_again() {
    TestFramework::<Rectification>::with(services_with_2027())
        .given(vec![
            ordered_provisionally(),
            RectificationEvent::RectificationDueRecomputed {
                due: Deadline {
                    due: day("2027-01-15"),
                    provisional: false,
                },
                at: at("2026-12-28 09:00"),
            },
        ])
        .when(recompute("2026-12-29 09:00"))
        .then_expect_error(RectificationError::NotRecomputable("the due date is final"));
}

#[test]
fn without_the_years_schedule_the_due_date_stays_provisional() {
    TestFramework::<Rectification>::with(services())
        .given(vec![ordered_provisionally()])
        .when(recompute("2026-12-28 09:00"))
        .then_expect_error(RectificationError::NotRecomputable(
            "the due date is still provisional",
        ));
}

#[test]
fn a_passed_or_no_longer_owed_due_date_is_not_recounted() {
    TestFramework::<Rectification>::with(services_with_2027())
        .given(vec![ordered_provisionally()])
        .when(recompute("2027-01-15 09:00"))
        .then_expect_error(RectificationError::NotRecomputable(
            "the due date has passed",
        ));
    TestFramework::<Rectification>::with(services_with_2027())
        .given(vec![
            ordered_provisionally(),
            RectificationEvent::ExplanationFiled {
                text: "说明".into(),
                at: at("2026-12-25 09:00"),
            },
            RectificationEvent::RectificationReported {
                text: "报告".into(),
                at: at("2026-12-26 09:00"),
            },
        ])
        .when(recompute("2026-12-28 09:00"))
        .then_expect_error(RectificationError::NotRecomputable("no due date is owed"));
}

#[test]
fn a_rectification_never_ordered_cannot_be_recounted() {
    TestFramework::<Rectification>::with(services_with_2027())
        .given_no_previous_events()
        .when(recompute("2026-12-28 09:00"))
        .then_expect_error(RectificationError::NotFound);
}

// ---------------------------------------------------------------------------------------
// Reminders (the deadline engine)
// ---------------------------------------------------------------------------------------

fn remind(local: &str) -> RectificationCommand {
    RectificationCommand::RemindDue { at: at(local) }
}

#[test]
fn the_unit_is_reminded_once_before_its_due_day() {
    TestFramework::<Rectification>::with(services_with_2027())
        .given(vec![ordered_provisionally()])
        .when(remind("2027-01-13 09:00"))
        .then_expect_events(vec![RectificationEvent::RectificationDueSoon {
            due: day("2027-01-14"),
            at: at("2027-01-13 09:00"),
        }]);
    TestFramework::<Rectification>::with(services_with_2027())
        .given(vec![
            ordered_provisionally(),
            RectificationEvent::RectificationDueSoon {
                due: day("2027-01-14"),
                at: at("2027-01-13 09:00"),
            },
        ])
        .when(remind("2027-01-14 09:00"))
        .then_expect_error(RectificationError::Reminder(
            DecisionDeadlineRefusal::AlreadyReminded {
                due: day("2027-01-14"),
            },
        ));
}

#[test]
fn no_reminder_after_the_due_day_or_once_nothing_is_owed() {
    TestFramework::<Rectification>::with(services_with_2027())
        .given(vec![ordered_provisionally()])
        .when(remind("2027-01-15 09:00"))
        .then_expect_error(RectificationError::Reminder(
            DecisionDeadlineRefusal::Passed {
                due: day("2027-01-14"),
            },
        ));
    TestFramework::<Rectification>::with(services_with_2027())
        .given(vec![
            ordered_provisionally(),
            RectificationEvent::ExplanationFiled {
                text: "说明".into(),
                at: at("2026-12-25 09:00"),
            },
            RectificationEvent::RectificationReported {
                text: "报告".into(),
                at: at("2026-12-26 09:00"),
            },
        ])
        .when(remind("2027-01-13 09:00"))
        .then_expect_error(RectificationError::Reminder(
            DecisionDeadlineRefusal::NotOpen,
        ));
    TestFramework::<Rectification>::with(services_with_2027())
        .given_no_previous_events()
        .when(remind("2027-01-13 09:00"))
        .then_expect_error(RectificationError::NotFound);
}
