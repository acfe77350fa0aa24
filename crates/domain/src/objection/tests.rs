//! Given/when/then tests of the objection aggregate, one per rule, named as sentences.
//! Due dates are checked against the official 2025/2026 schedules shipped in
//! `WorkingCalendar::china()`; times are written in Asia/Shanghai.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::test::TestFramework;

use super::*;
use crate::calendar::CalendarError;
use crate::integrity::{IntegrityPolicy, PublicityPolicy, Severity};

type Framework = TestFramework<Objection>;

fn services() -> IntegrityServices {
    IntegrityServices {
        calendar: Arc::new(WorkingCalendar::china()),
        policy: IntegrityPolicy::default(),
    }
}

fn objection() -> Framework {
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

/// The unit the record is about.
fn unit_a() -> CreditCode {
    CreditCode::parse("914403001922038216").unwrap()
}

/// Another unit (or another authority).
fn unit_b() -> CreditCode {
    CreditCode::parse("91330100716105852F").unwrap()
}

/// The authority that recorded the record.
fn authority() -> CreditCode {
    CreditCode::parse("113604000123456713").unwrap()
}

fn facts(recorded_by: Option<CreditCode>, withdrawn: bool) -> RecordFacts {
    RecordFacts {
        record_id: "record-1".into(),
        unit: unit_a(),
        personal: false,
        severity: Severity::Ordinary,
        publicity: PublicityPolicy::default().window(
            Severity::Ordinary,
            day("2026-01-05"),
            false,
            false,
        ),
        withdrawn,
        recorded_by,
    }
}

fn file_at(when: DateTime<Utc>, filed_by_unit: Option<CreditCode>) -> ObjectionCommand {
    ObjectionCommand::FileObjection {
        record: facts(Some(authority()), false),
        grounds: Grounds::WrongData,
        detail: " 处罚金额登记错误 ".into(),
        filed_by_unit,
        at: when,
    }
}

fn filed_event(recorded_by: Option<CreditCode>) -> ObjectionEvent {
    ObjectionEvent::ObjectionFiled {
        record_id: "record-1".into(),
        unit: unit_a(),
        recorded_by,
        grounds: Grounds::WrongData,
        detail: "处罚金额登记错误".into(),
        check_due: due("2026-03-11"),
        decision_due: due("2026-03-17"),
        at: at("2026-03-10 10:00"),
    }
}

fn filed() -> ObjectionEvent {
    filed_event(Some(authority()))
}

fn upheld() -> ObjectionEvent {
    ObjectionEvent::ObjectionUpheld {
        outcome: ObjectionOutcome::Correct,
        at: at("2026-03-12 10:00"),
    }
}

fn dismissed() -> ObjectionEvent {
    ObjectionEvent::ObjectionDismissed {
        reason: "登记无误".into(),
        at: at("2026-03-12 10:00"),
    }
}

fn undeterminable() -> ObjectionEvent {
    ObjectionEvent::ObjectionUndeterminable {
        note: "双方材料均无法核实".into(),
        at: at("2026-03-12 10:00"),
    }
}

fn uphold(decider: Decider) -> ObjectionCommand {
    ObjectionCommand::UpholdObjection {
        outcome: ObjectionOutcome::Correct,
        decider,
        at: at("2026-03-12 10:00"),
    }
}

fn dismiss(reason: &str, decider: Decider) -> ObjectionCommand {
    ObjectionCommand::DismissObjection {
        reason: reason.into(),
        decider,
        at: at("2026-03-12 10:00"),
    }
}

fn mark_undeterminable(note: &str, decider: Decider) -> ObjectionCommand {
    ObjectionCommand::MarkUndeterminable {
        note: note.into(),
        decider,
        at: at("2026-03-12 10:00"),
    }
}

fn deciding() -> Decider {
    Decider::Authority(authority())
}

/// Every deciding command, by the recording authority.
fn every_decision() -> Vec<(&'static str, ObjectionCommand)> {
    vec![
        ("uphold", uphold(deciding())),
        ("dismiss", dismiss("登记无误", deciding())),
        (
            "mark undeterminable",
            mark_undeterminable("无法核实", deciding()),
        ),
    ]
}

fn invalid(field: &'static str) -> impl Fn(Result<Vec<ObjectionEvent>, ObjectionError>) {
    move |result| match result {
        Err(ObjectionError::Invalid { field: f, .. }) => assert_eq!(f, field),
        other => panic!("expected Invalid {{ field: {field} }}, got {other:?}"),
    }
}

// ---------------------------------------------------------------- filing

#[test]
fn filing_computes_a_check_due_in_one_working_day_and_a_decision_due_in_five() {
    // Tue 10 Mar 2026: check by Wed 11 Mar, decide by Tue 17 Mar (over a weekend).
    objection()
        .given_no_previous_events()
        .when(file_at(at("2026-03-10 10:00"), None))
        .then_expect_events(vec![filed()]);
}

#[test]
fn due_dates_count_the_spring_festival_make_up_days_and_skip_the_holiday() {
    // Fri 13 Feb 2026: Sat 14 Feb is a make-up working day (check due); 15–23 Feb are off,
    // so the fifth working day is Fri 27 Feb.
    let result = objection()
        .given_no_previous_events()
        .when(file_at(at("2026-02-13 10:00"), None))
        .inspect_result()
        .unwrap();
    match &result[..] {
        [ObjectionEvent::ObjectionFiled {
            check_due,
            decision_due,
            ..
        }] => {
            assert_eq!(*check_due, due("2026-02-14"));
            assert_eq!(*decision_due, due("2026-02-27"));
        }
        other => panic!("expected one ObjectionFiled, got {other:?}"),
    }
}

#[test]
fn the_filing_day_is_the_shanghai_date_of_the_instant() {
    // 23:30 in Shanghai on Mon 9 Mar is still 9 Mar: check by Tue 10 Mar.
    let result = objection()
        .given_no_previous_events()
        .when(file_at(at("2026-03-09 23:30"), None))
        .inspect_result()
        .unwrap();
    match &result[..] {
        [ObjectionEvent::ObjectionFiled {
            check_due,
            decision_due,
            ..
        }] => {
            assert_eq!(*check_due, due("2026-03-10"));
            assert_eq!(*decision_due, due("2026-03-16"));
        }
        other => panic!("expected one ObjectionFiled, got {other:?}"),
    }
}

#[test]
fn a_handler_of_the_records_unit_may_file() {
    objection()
        .given_no_previous_events()
        .when(file_at(at("2026-03-10 10:00"), Some(unit_a())))
        .then_expect_events(vec![filed()]);
}

#[test]
fn a_handler_of_another_unit_may_not_file() {
    objection()
        .given_no_previous_events()
        .when(file_at(at("2026-03-10 10:00"), Some(unit_b())))
        .then_expect_error(ObjectionError::NotRecordUnit);
}

#[test]
fn an_objection_to_a_withdrawn_record_is_refused() {
    objection()
        .given_no_previous_events()
        .when(ObjectionCommand::FileObjection {
            record: facts(Some(authority()), true),
            grounds: Grounds::WronglyListed,
            detail: "不应列入".into(),
            filed_by_unit: None,
            at: at("2026-03-10 10:00"),
        })
        .then_expect_error(ObjectionError::RecordWithdrawn);
}

#[test]
fn a_blank_detail_is_refused() {
    let result = objection()
        .given_no_previous_events()
        .when(ObjectionCommand::FileObjection {
            record: facts(Some(authority()), false),
            grounds: Grounds::MissingData,
            detail: "   ".into(),
            filed_by_unit: None,
            at: at("2026-03-10 10:00"),
        })
        .inspect_result();
    invalid("detail")(result);
}

#[test]
fn a_detail_longer_than_the_limit_is_refused() {
    let result = objection()
        .given_no_previous_events()
        .when(ObjectionCommand::FileObjection {
            record: facts(Some(authority()), false),
            grounds: Grounds::MissingData,
            detail: "异".repeat(TEXT_MAX_CHARS + 1),
            filed_by_unit: None,
            at: at("2026-03-10 10:00"),
        })
        .inspect_result();
    invalid("detail")(result);
}

#[test]
fn filing_the_same_objection_twice_is_already_filed() {
    objection()
        .given(vec![filed()])
        .when(file_at(at("2026-03-10 10:00"), None))
        .then_expect_error(ObjectionError::AlreadyFiled);
}

#[test]
fn filing_in_a_year_without_calendar_data_is_calendar_missing() {
    objection()
        .given_no_previous_events()
        .when(file_at(at("2024-06-03 10:00"), None))
        .then_expect_error(ObjectionError::Calendar(CalendarError::Missing {
            year: 2024,
        }));
}

// ---------------------------------------------------------------- deciding

#[test]
fn the_recording_authority_upholds_with_an_outcome() {
    objection()
        .given(vec![filed()])
        .when(uphold(deciding()))
        .then_expect_events(vec![upheld()]);
}

#[test]
fn the_credit_office_upholds_any_objection() {
    objection()
        .given(vec![filed()])
        .when(uphold(Decider::CreditOffice))
        .then_expect_events(vec![upheld()]);
}

#[test]
fn every_outcome_can_be_upheld() {
    for outcome in [
        ObjectionOutcome::Correct,
        ObjectionOutcome::Complete,
        ObjectionOutcome::StopPublication,
        ObjectionOutcome::Unlist,
    ] {
        objection()
            .given(vec![filed()])
            .when(ObjectionCommand::UpholdObjection {
                outcome,
                decider: deciding(),
                at: at("2026-03-12 10:00"),
            })
            .then_expect_events(vec![ObjectionEvent::ObjectionUpheld {
                outcome,
                at: at("2026-03-12 10:00"),
            }]);
    }
    assert!(ObjectionOutcome::StopPublication.ends_publication());
    assert!(ObjectionOutcome::Unlist.ends_publication());
    assert!(!ObjectionOutcome::Correct.ends_publication());
    assert!(!ObjectionOutcome::Complete.ends_publication());
}

#[test]
fn the_recording_authority_dismisses_with_a_trimmed_reason() {
    objection()
        .given(vec![filed()])
        .when(dismiss("  登记无误 ", deciding()))
        .then_expect_events(vec![dismissed()]);
}

#[test]
fn the_credit_office_dismisses_any_objection() {
    objection()
        .given(vec![filed()])
        .when(dismiss("登记无误", Decider::CreditOffice))
        .then_expect_events(vec![dismissed()]);
}

#[test]
fn the_recording_authority_marks_an_objection_undeterminable() {
    objection()
        .given(vec![filed()])
        .when(mark_undeterminable(" 双方材料均无法核实 ", deciding()))
        .then_expect_events(vec![undeterminable()]);
}

#[test]
fn the_credit_office_marks_any_objection_undeterminable() {
    objection()
        .given(vec![filed()])
        .when(mark_undeterminable(
            "双方材料均无法核实",
            Decider::CreditOffice,
        ))
        .then_expect_events(vec![undeterminable()]);
}

#[test]
fn a_bound_supervisor_of_another_authority_cannot_decide() {
    for (_, command) in [
        ("uphold", uphold(Decider::Authority(unit_b()))),
        ("dismiss", dismiss("登记无误", Decider::Authority(unit_b()))),
        (
            "mark undeterminable",
            mark_undeterminable("无法核实", Decider::Authority(unit_b())),
        ),
    ] {
        objection()
            .given(vec![filed()])
            .when(command)
            .then_expect_error(ObjectionError::NotDecidingAuthority);
    }
}

#[test]
fn a_record_of_the_credit_office_is_decided_only_by_the_credit_office() {
    objection()
        .given(vec![filed_event(None)])
        .when(uphold(Decider::Authority(authority())))
        .then_expect_error(ObjectionError::NotDecidingAuthority);
    objection()
        .given(vec![filed_event(None)])
        .when(uphold(Decider::CreditOffice))
        .then_expect_events(vec![upheld()]);
}

#[test]
fn a_blank_dismissal_reason_is_refused() {
    let result = objection()
        .given(vec![filed()])
        .when(dismiss(" ", deciding()))
        .inspect_result();
    invalid("reason")(result);
}

#[test]
fn a_blank_undeterminable_note_is_refused() {
    let result = objection()
        .given(vec![filed()])
        .when(mark_undeterminable("\n", deciding()))
        .inspect_result();
    invalid("note")(result);
}

#[test]
fn deciding_an_unknown_objection_is_not_found() {
    for (_, command) in every_decision() {
        objection()
            .given_no_previous_events()
            .when(command)
            .then_expect_error(ObjectionError::NotFound);
    }
}

#[test]
fn an_upheld_objection_cannot_be_decided_again() {
    for (action, command) in every_decision() {
        objection()
            .given(vec![filed(), upheld()])
            .when(command)
            .then_expect_error(ObjectionError::InvalidTransition {
                action,
                status: ObjectionStatus::Upheld,
            });
    }
}

#[test]
fn a_dismissed_objection_cannot_be_decided_again() {
    for (action, command) in every_decision() {
        objection()
            .given(vec![filed(), dismissed()])
            .when(command)
            .then_expect_error(ObjectionError::InvalidTransition {
                action,
                status: ObjectionStatus::Dismissed,
            });
    }
}

#[test]
fn an_undeterminable_objection_cannot_be_decided_again() {
    for (action, command) in every_decision() {
        objection()
            .given(vec![filed(), undeterminable()])
            .when(command)
            .then_expect_error(ObjectionError::InvalidTransition {
                action,
                status: ObjectionStatus::Undeterminable,
            });
    }
}

#[test]
fn a_decided_objection_refuses_even_the_wrong_authority_as_an_invalid_transition() {
    objection()
        .given(vec![filed(), dismissed()])
        .when(uphold(Decider::Authority(unit_b())))
        .then_expect_error(ObjectionError::InvalidTransition {
            action: "uphold",
            status: ObjectionStatus::Dismissed,
        });
}

#[test]
fn the_state_follows_the_events() {
    let mut o = Objection::default();
    o.apply(filed());
    assert_eq!(o.status, ObjectionStatus::Filed);
    assert_eq!(o.record_id.as_deref(), Some("record-1"));
    assert_eq!(o.recorded_by, Some(authority()));
    o.apply(upheld());
    assert_eq!(o.status, ObjectionStatus::Upheld);
    assert_eq!(o.outcome, Some(ObjectionOutcome::Correct));
}

// ---------------------------------------------------------------------------------------
// Overdue decisions (the deadline engine)
// ---------------------------------------------------------------------------------------

fn flag(local: &str) -> ObjectionCommand {
    ObjectionCommand::FlagDecisionOverdue { at: at(local) }
}

#[test]
fn an_undecided_objection_is_flagged_the_day_after_its_decision_due_day() {
    objection()
        .given(vec![filed()])
        .when(flag("2026-03-18 00:00"))
        .then_expect_events(vec![ObjectionEvent::ObjectionDecisionOverdue {
            due: day("2026-03-17"),
            at: at("2026-03-18 00:00"),
        }]);
}

#[test]
fn on_its_decision_due_day_an_objection_is_not_overdue_yet() {
    objection()
        .given(vec![filed()])
        .when(flag("2026-03-17 23:59"))
        .then_expect_error(ObjectionError::Deadline(
            DecisionDeadlineRefusal::NotYetDue {
                due: day("2026-03-17"),
            },
        ));
}

#[test]
fn an_overdue_decision_is_flagged_only_once() {
    objection()
        .given(vec![
            filed(),
            ObjectionEvent::ObjectionDecisionOverdue {
                due: day("2026-03-17"),
                at: at("2026-03-18 00:00"),
            },
        ])
        .when(flag("2026-03-19 09:00"))
        .then_expect_error(ObjectionError::Deadline(
            DecisionDeadlineRefusal::AlreadyFlagged {
                due: day("2026-03-17"),
            },
        ));
}

#[test]
fn a_decided_objection_is_never_flagged() {
    for decided in [upheld(), dismissed(), undeterminable()] {
        objection()
            .given(vec![filed(), decided])
            .when(flag("2026-03-20 09:00"))
            .then_expect_error(ObjectionError::Deadline(DecisionDeadlineRefusal::NotOpen));
    }
}

#[test]
fn an_objection_never_filed_cannot_be_flagged() {
    objection()
        .given_no_previous_events()
        .when(flag("2026-03-20 09:00"))
        .then_expect_error(ObjectionError::NotFound);
}

#[test]
fn the_authority_is_reminded_once_before_the_objection_decision_due_day() {
    let remind = |local: &str| ObjectionCommand::RemindDecision { at: at(local) };
    objection()
        .given(vec![filed()])
        .when(remind("2026-03-16 09:00"))
        .then_expect_events(vec![ObjectionEvent::ObjectionDecisionDueSoon {
            due: day("2026-03-17"),
            at: at("2026-03-16 09:00"),
        }]);
    objection()
        .given(vec![
            filed(),
            ObjectionEvent::ObjectionDecisionDueSoon {
                due: day("2026-03-17"),
                at: at("2026-03-16 09:00"),
            },
        ])
        .when(remind("2026-03-17 09:00"))
        .then_expect_error(ObjectionError::Deadline(
            DecisionDeadlineRefusal::AlreadyReminded {
                due: day("2026-03-17"),
            },
        ));
    objection()
        .given(vec![filed()])
        .when(remind("2026-03-18 09:00"))
        .then_expect_error(ObjectionError::Deadline(DecisionDeadlineRefusal::Passed {
            due: day("2026-03-17"),
        }));
    objection()
        .given(vec![filed(), dismissed()])
        .when(remind("2026-03-16 09:00"))
        .then_expect_error(ObjectionError::Deadline(DecisionDeadlineRefusal::NotOpen));
    objection()
        .given_no_previous_events()
        .when(remind("2026-03-16 09:00"))
        .then_expect_error(ObjectionError::NotFound);
}

// ------------------------------------- provisional days recounted on a calendar load (issue 10)

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

/// Filed Wed 30 Dec 2026: decision in 5 working days, Wed 6 Jan 2027 on weekends alone.
fn filed_provisionally() -> ObjectionEvent {
    ObjectionEvent::ObjectionFiled {
        record_id: "record-1".into(),
        unit: unit_a(),
        recorded_by: Some(authority()),
        grounds: Grounds::WrongData,
        detail: "处罚金额登记错误".into(),
        check_due: due("2026-12-31"),
        decision_due: Deadline {
            due: day("2027-01-06"),
            provisional: true,
        },
        at: at("2026-12-30 10:00"),
    }
}

#[test]
fn a_provisional_objection_decision_day_is_recounted_once_the_year_is_loaded() {
    let recomputed = ObjectionEvent::ObjectionDueRecomputed {
        due: due("2027-01-07"),
        at: at("2026-12-31 09:00"),
    };
    TestFramework::<Objection>::with(services_with_2027())
        .given(vec![filed_provisionally()])
        .when(ObjectionCommand::RecomputeProvisionalDue {
            at: at("2026-12-31 09:00"),
        })
        .then_expect_events(vec![recomputed.clone()]);
    TestFramework::<Objection>::with(services_with_2027())
        .given(vec![filed_provisionally(), recomputed])
        .when(ObjectionCommand::RecomputeProvisionalDue {
            at: at("2026-12-31 10:00"),
        })
        .then_expect_error(ObjectionError::NotRecomputable("the due date is final"));
}

#[test]
fn a_decided_objection_is_not_recounted() {
    TestFramework::<Objection>::with(services_with_2027())
        .given(vec![filed_provisionally(), dismissed()])
        .when(ObjectionCommand::RecomputeProvisionalDue {
            at: at("2026-12-31 09:00"),
        })
        .then_expect_error(ObjectionError::NotRecomputable("no decision is pending"));
}

#[test]
fn an_objection_day_is_not_recounted_before_its_year_is_loaded() {
    objection()
        .given(vec![filed_provisionally()])
        .when(ObjectionCommand::RecomputeProvisionalDue {
            at: at("2026-12-31 09:00"),
        })
        .then_expect_error(ObjectionError::NotRecomputable(
            "the due date is still provisional",
        ));
}

fn provisional(s: &str) -> Deadline {
    Deadline {
        due: day(s),
        provisional: true,
    }
}

/// Filed Thu 31 Dec 2026: the check is due Fri 1 Jan 2027 and the decision Thu 7 Jan on
/// weekends alone (both provisional).
fn filed_on_new_years_eve() -> ObjectionEvent {
    ObjectionEvent::ObjectionFiled {
        record_id: "record-1".into(),
        unit: unit_a(),
        recorded_by: Some(authority()),
        grounds: Grounds::WrongData,
        detail: "处罚金额登记错误".into(),
        check_due: provisional("2027-01-01"),
        decision_due: provisional("2027-01-07"),
        at: at("2026-12-31 10:00"),
    }
}

#[test]
fn a_provisional_check_day_is_recounted_with_the_decision_day_once_the_year_is_loaded() {
    let recount = ObjectionCommand::RecomputeProvisionalDue {
        at: at("2026-12-31 12:00"),
    };
    TestFramework::<Objection>::with(services_with_2027())
        .given(vec![filed_on_new_years_eve()])
        .when(recount)
        .then_expect_events(vec![
            ObjectionEvent::ObjectionCheckDueRecomputed {
                due: due("2027-01-04"),
                at: at("2026-12-31 12:00"),
            },
            ObjectionEvent::ObjectionDueRecomputed {
                due: due("2027-01-08"),
                at: at("2026-12-31 12:00"),
            },
        ]);
}

#[test]
fn a_check_day_left_provisional_is_recounted_after_its_decision_day_was() {
    let decision_recounted = ObjectionEvent::ObjectionDueRecomputed {
        due: due("2027-01-08"),
        at: at("2026-12-31 11:00"),
    };
    TestFramework::<Objection>::with(services_with_2027())
        .given(vec![filed_on_new_years_eve(), decision_recounted])
        .when(ObjectionCommand::RecomputeProvisionalDue {
            at: at("2026-12-31 12:00"),
        })
        .then_expect_events(vec![ObjectionEvent::ObjectionCheckDueRecomputed {
            due: due("2027-01-04"),
            at: at("2026-12-31 12:00"),
        }]);
}

#[test]
fn a_done_check_is_not_recounted_but_its_decision_day_is() {
    let checked = ObjectionEvent::ObjectionChecked {
        note: "已调取原处罚决定书核对".into(),
        at: at("2026-12-31 11:00"),
    };
    TestFramework::<Objection>::with(services_with_2027())
        .given(vec![filed_on_new_years_eve(), checked])
        .when(ObjectionCommand::RecomputeProvisionalDue {
            at: at("2026-12-31 12:00"),
        })
        .then_expect_events(vec![ObjectionEvent::ObjectionDueRecomputed {
            due: due("2027-01-08"),
            at: at("2026-12-31 12:00"),
        }]);
}

#[test]
fn a_recounted_check_day_is_not_recounted_again() {
    let both = vec![
        filed_on_new_years_eve(),
        ObjectionEvent::ObjectionCheckDueRecomputed {
            due: due("2027-01-04"),
            at: at("2026-12-31 12:00"),
        },
        ObjectionEvent::ObjectionDueRecomputed {
            due: due("2027-01-08"),
            at: at("2026-12-31 12:00"),
        },
    ];
    TestFramework::<Objection>::with(services_with_2027())
        .given(both)
        .when(ObjectionCommand::RecomputeProvisionalDue {
            at: at("2026-12-31 13:00"),
        })
        .then_expect_error(ObjectionError::NotRecomputable("the due date is final"));
}

#[test]
fn a_check_day_is_not_recounted_before_its_year_is_loaded() {
    objection()
        .given(vec![filed_on_new_years_eve()])
        .when(ObjectionCommand::RecomputeProvisionalDue {
            at: at("2026-12-31 12:00"),
        })
        .then_expect_error(ObjectionError::NotRecomputable(
            "the due date is still provisional",
        ));
}

// ------------------------------------------------------ the 1-working-day check (issue 10, item 8)

fn check(note: &str, decider: Decider) -> ObjectionCommand {
    ObjectionCommand::CheckObjection {
        note: note.into(),
        decider,
        at: at("2026-03-11 10:00"),
    }
}

fn checked() -> ObjectionEvent {
    ObjectionEvent::ObjectionChecked {
        note: "已调取原处罚决定书核对".into(),
        at: at("2026-03-11 10:00"),
    }
}

fn flag_check(local: &str) -> ObjectionCommand {
    ObjectionCommand::FlagCheckOverdue { at: at(local) }
}

fn remind_check(local: &str) -> ObjectionCommand {
    ObjectionCommand::RemindCheck { at: at(local) }
}

#[test]
fn the_deciding_authority_records_its_check_with_a_trimmed_note() {
    objection()
        .given(vec![filed()])
        .when(check(
            " 已调取原处罚决定书核对 ",
            Decider::Authority(authority()),
        ))
        .then_expect_events(vec![checked()]);
}

#[test]
fn the_credit_office_may_record_the_check() {
    objection()
        .given(vec![filed()])
        .when(check("已调取原处罚决定书核对", Decider::CreditOffice))
        .then_expect_events(vec![checked()]);
}

#[test]
fn another_authority_may_not_record_the_check() {
    objection()
        .given(vec![filed()])
        .when(check("已核查", Decider::Authority(unit_b())))
        .then_expect_error(ObjectionError::NotDecidingAuthority);
}

#[test]
fn an_objection_is_checked_only_once() {
    objection()
        .given(vec![filed(), checked()])
        .when(check("再次核查", Decider::CreditOffice))
        .then_expect_error(ObjectionError::AlreadyChecked);
}

#[test]
fn a_decided_objection_cannot_be_checked() {
    objection()
        .given(vec![filed(), dismissed()])
        .when(check("已核查", Decider::CreditOffice))
        .then_expect_error(ObjectionError::InvalidTransition {
            action: "check",
            status: ObjectionStatus::Dismissed,
        });
}

#[test]
fn an_objection_never_filed_cannot_be_checked() {
    objection()
        .given_no_previous_events()
        .when(check("已核查", Decider::CreditOffice))
        .then_expect_error(ObjectionError::NotFound);
}

#[test]
fn a_check_without_a_note_is_refused() {
    let result = objection()
        .given(vec![filed()])
        .when(check("  ", Decider::CreditOffice))
        .inspect_result();
    match result {
        Err(ObjectionError::Invalid { field, .. }) => assert_eq!(field, "note"),
        other => panic!("expected Invalid {{ field: note }}, got {other:?}"),
    }
}

#[test]
fn an_unchecked_objection_is_flagged_the_day_after_its_check_day() {
    // Filed Tue 10 Mar 2026: check by Wed 11 Mar (1 working day).
    objection()
        .given(vec![filed()])
        .when(flag_check("2026-03-12 00:00"))
        .then_expect_events(vec![ObjectionEvent::ObjectionCheckOverdue {
            due: day("2026-03-11"),
            at: at("2026-03-12 00:00"),
        }]);
}

#[test]
fn on_its_check_day_an_objection_is_not_overdue_yet() {
    objection()
        .given(vec![filed()])
        .when(flag_check("2026-03-11 23:59"))
        .then_expect_error(ObjectionError::Deadline(
            DecisionDeadlineRefusal::NotYetDue {
                due: day("2026-03-11"),
            },
        ));
}

#[test]
fn an_overdue_check_is_flagged_only_once() {
    objection()
        .given(vec![
            filed(),
            ObjectionEvent::ObjectionCheckOverdue {
                due: day("2026-03-11"),
                at: at("2026-03-12 00:00"),
            },
        ])
        .when(flag_check("2026-03-13 09:00"))
        .then_expect_error(ObjectionError::Deadline(
            DecisionDeadlineRefusal::AlreadyFlagged {
                due: day("2026-03-11"),
            },
        ));
}

#[test]
fn a_checked_or_decided_objection_owes_no_check() {
    for done in [checked(), upheld(), dismissed(), undeterminable()] {
        objection()
            .given(vec![filed(), done])
            .when(flag_check("2026-03-13 09:00"))
            .then_expect_error(ObjectionError::Deadline(DecisionDeadlineRefusal::NotOpen));
    }
}

#[test]
fn a_check_flag_of_an_objection_never_filed_is_not_found() {
    objection()
        .given_no_previous_events()
        .when(flag_check("2026-03-13 09:00"))
        .then_expect_error(ObjectionError::NotFound);
    objection()
        .given_no_previous_events()
        .when(remind_check("2026-03-11 09:00"))
        .then_expect_error(ObjectionError::NotFound);
}

#[test]
fn the_authority_is_reminded_once_on_the_check_day() {
    objection()
        .given(vec![filed()])
        .when(remind_check("2026-03-11 09:00"))
        .then_expect_events(vec![ObjectionEvent::ObjectionCheckDueSoon {
            due: day("2026-03-11"),
            at: at("2026-03-11 09:00"),
        }]);
    objection()
        .given(vec![
            filed(),
            ObjectionEvent::ObjectionCheckDueSoon {
                due: day("2026-03-11"),
                at: at("2026-03-10 11:00"),
            },
        ])
        .when(remind_check("2026-03-11 09:00"))
        .then_expect_error(ObjectionError::Deadline(
            DecisionDeadlineRefusal::AlreadyReminded {
                due: day("2026-03-11"),
            },
        ));
    objection()
        .given(vec![filed()])
        .when(remind_check("2026-03-12 09:00"))
        .then_expect_error(ObjectionError::Deadline(DecisionDeadlineRefusal::Passed {
            due: day("2026-03-11"),
        }));
    objection()
        .given(vec![filed(), checked()])
        .when(remind_check("2026-03-11 09:00"))
        .then_expect_error(ObjectionError::Deadline(DecisionDeadlineRefusal::NotOpen));
}

#[test]
fn a_checked_objection_still_owes_its_decision() {
    objection()
        .given(vec![filed(), checked()])
        .when(ObjectionCommand::FlagDecisionOverdue {
            at: at("2026-03-18 00:00"),
        })
        .then_expect_events(vec![ObjectionEvent::ObjectionDecisionOverdue {
            due: day("2026-03-17"),
            at: at("2026-03-18 00:00"),
        }]);
}
