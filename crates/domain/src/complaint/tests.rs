//! Given/when/then tests of the complaint aggregate, one per rule, named as sentences.
//! Deadlines are checked against the official 2025/2026 schedules shipped in
//! `WorkingCalendar::china()`; times are written in Asia/Shanghai.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::{Aggregate, DomainEvent};

use super::*;
use crate::calendar::CalendarError;
use crate::reporter::SealedReporter;

type Framework = TestFramework<Complaint>;

fn services() -> ComplaintServices {
    ComplaintServices {
        calendar: Arc::new(WorkingCalendar::china()),
        limits: TimeLimits::default(),
    }
}

fn case() -> Framework {
    Framework::with(services())
}

/// An instant given in Asia/Shanghai time, e.g. `at("2025-09-26 10:00")`.
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

fn unit_a() -> CreditCode {
    CreditCode::parse("914403001922038216").unwrap()
}

fn unit_b() -> CreditCode {
    CreditCode::parse("91330100716105852F").unwrap()
}

fn sealed() -> SealedReporter {
    SealedReporter {
        key_id: "key-1".into(),
        ciphertext: "bm9uY2V8Y2lwaGVydGV4dA==".into(),
    }
}

fn file(anonymous: bool, title: &str, description: &str) -> ComplaintCommand {
    ComplaintCommand::FileComplaint {
        category: Category::Complaint,
        channel: Channel::Hotline,
        subject_code: Some(CreditCode::parse("113604000123456713").unwrap()),
        title: title.into(),
        description: description.into(),
        anonymous,
        reporter: (!anonymous).then(sealed),
        at: at("2025-09-25 09:00"),
    }
}

fn filed_as(category: Category, anonymous: bool) -> ComplaintEvent {
    ComplaintEvent::ComplaintFiled {
        category,
        channel: Channel::Hotline,
        subject_code: Some(CreditCode::parse("113604000123456713").unwrap()),
        title: "窗口办事推诿".into(),
        description: "多次办理被要求补充材料".into(),
        anonymous,
        reporter: (!anonymous).then(sealed),
        received_at: at("2025-09-25 09:00"),
    }
}

fn filed() -> ComplaintEvent {
    filed_as(Category::Complaint, false)
}

fn accepted() -> ComplaintEvent {
    ComplaintEvent::ComplaintAccepted {
        at: at("2025-09-25 10:00"),
    }
}

/// Dispatched on Fri 26 Sep 2025 to unit A: sign by Sun 28 Sep (make-up working day),
/// reply (complaint, 15 working days, across 国庆 1–8 Oct) by Thu 23 Oct.
fn dispatched() -> ComplaintEvent {
    ComplaintEvent::ComplaintDispatched {
        unit: unit_a(),
        sign_due: due("2025-09-28"),
        reply_due: due("2025-10-23"),
        at: at("2025-09-26 10:00"),
    }
}

fn signed() -> ComplaintEvent {
    ComplaintEvent::ComplaintSigned {
        unit: unit_a(),
        at: at("2025-09-28 09:00"),
    }
}

fn extension_requested(days: u32) -> ComplaintEvent {
    ComplaintEvent::ExtensionRequested {
        unit: unit_a(),
        working_days: days,
        reason: "需要现场核查".into(),
        at: at("2025-10-20 09:00"),
    }
}

fn replied() -> ComplaintEvent {
    ComplaintEvent::ComplaintReplied {
        unit: unit_a(),
        content: "已核实并整改".into(),
        at: at("2025-10-22 15:00"),
    }
}

fn received_case() -> Vec<ComplaintEvent> {
    vec![filed()]
}
fn accepted_case() -> Vec<ComplaintEvent> {
    vec![filed(), accepted()]
}
fn dispatched_case() -> Vec<ComplaintEvent> {
    vec![filed(), accepted(), dispatched()]
}
fn in_progress_case() -> Vec<ComplaintEvent> {
    vec![filed(), accepted(), dispatched(), signed()]
}
fn returned_case() -> Vec<ComplaintEvent> {
    let mut h = in_progress_case();
    h.push(ComplaintEvent::ComplaintReturned {
        unit: unit_a(),
        reason: "不属于本单位职责".into(),
        at: at("2025-09-29 09:00"),
    });
    h
}
fn replied_case() -> Vec<ComplaintEvent> {
    let mut h = in_progress_case();
    h.push(replied());
    h
}
fn declined_case() -> Vec<ComplaintEvent> {
    vec![
        filed(),
        ComplaintEvent::ComplaintDeclined {
            reason: "不属于受理范围".into(),
            at: at("2025-09-25 10:00"),
        },
    ]
}
fn closed_case() -> Vec<ComplaintEvent> {
    let mut h = replied_case();
    h.push(ComplaintEvent::FollowUpVisited {
        satisfied: true,
        comment: "满意".into(),
        at: at("2025-10-23 10:00"),
    });
    h.push(ComplaintEvent::ComplaintClosed {
        because: ClosedBecause::Satisfied,
        at: at("2025-10-23 10:00"),
    });
    h
}
fn merged_case() -> Vec<ComplaintEvent> {
    vec![
        filed(),
        ComplaintEvent::ComplaintMerged {
            into: "case-1".into(),
            at: at("2025-09-25 10:00"),
        },
    ]
}

fn invalid(field: &'static str) -> impl Fn(Result<Vec<ComplaintEvent>, ComplaintError>) {
    move |result| match result {
        Err(ComplaintError::Invalid { field: f, .. }) => assert_eq!(f, field),
        other => panic!("expected Invalid {{ field: {field} }}, got {other:?}"),
    }
}

fn transition(action: &'static str, status: Status) -> ComplaintError {
    ComplaintError::InvalidTransition { action, status }
}

/// Every command but filing, issued at `when`.
fn every_command_but_filing(when: DateTime<Utc>) -> Vec<ComplaintCommand> {
    use ComplaintCommand as C;
    vec![
        C::AcceptComplaint { at: when },
        C::DeclineComplaint {
            reason: "r".into(),
            at: when,
        },
        C::DispatchComplaint {
            unit: unit_a(),
            above: Vec::new(),
            at: when,
        },
        C::SignComplaint {
            unit: unit_a(),
            at: when,
        },
        C::ReturnComplaint {
            unit: unit_a(),
            reason: "r".into(),
            at: when,
        },
        C::RequestExtension {
            unit: unit_a(),
            working_days: 5,
            reason: "r".into(),
            at: when,
        },
        C::ApproveExtension {
            note: "n".into(),
            at: when,
        },
        C::DenyExtension {
            note: "n".into(),
            at: when,
        },
        C::ReplyToComplaint {
            unit: unit_a(),
            content: "c".into(),
            at: when,
        },
        C::RecordVisit {
            satisfied: true,
            comment: "c".into(),
            at: when,
        },
        C::MergeComplaint {
            into: "case-1".into(),
            into_status: Status::Accepted,
            at: when,
        },
        C::SuperviseComplaint {
            note: "n".into(),
            at: when,
        },
    ]
}

// ---------------------------------------------------------------- filing (登记)

#[test]
fn a_named_complaint_is_filed_with_its_sealed_reporter() {
    case()
        .given_no_previous_events()
        .when(file(false, "窗口办事推诿", "多次办理被要求补充材料"))
        .then_expect_events(vec![filed()]);
}

#[test]
fn an_anonymous_complaint_is_filed_without_a_reporter() {
    case()
        .given_no_previous_events()
        .when(file(true, "窗口办事推诿", "多次办理被要求补充材料"))
        .then_expect_events(vec![filed_as(Category::Complaint, true)]);
}

#[test]
fn a_complaint_cannot_be_filed_twice() {
    case()
        .given(received_case())
        .when(file(false, "t", "d"))
        .then_expect_error(ComplaintError::AlreadyFiled);
    case()
        .given(closed_case())
        .when(file(false, "t", "d"))
        .then_expect_error(ComplaintError::AlreadyFiled);
}

#[test]
fn a_complaint_needs_a_title_that_is_not_blank() {
    invalid("title")(
        case()
            .given_no_previous_events()
            .when(file(false, "", "d"))
            .inspect_result(),
    );
    invalid("title")(
        case()
            .given_no_previous_events()
            .when(file(false, "  \t ", "d"))
            .inspect_result(),
    );
}

#[test]
fn a_title_may_have_200_characters_but_not_201() {
    // 200 Chinese characters are 600 bytes: the limit counts characters.
    let title = "诚".repeat(200);
    assert!(case()
        .given_no_previous_events()
        .when(file(false, &title, "d"))
        .inspect_result()
        .is_ok());
    invalid("title")(
        case()
            .given_no_previous_events()
            .when(file(false, &"诚".repeat(201), "d"))
            .inspect_result(),
    );
}

#[test]
fn a_complaint_needs_a_description() {
    invalid("description")(
        case()
            .given_no_previous_events()
            .when(file(false, "t", " "))
            .inspect_result(),
    );
}

#[test]
fn a_description_may_have_4000_characters_but_not_4001() {
    assert!(case()
        .given_no_previous_events()
        .when(file(false, "t", &"信".repeat(4000)))
        .inspect_result()
        .is_ok());
    invalid("description")(
        case()
            .given_no_previous_events()
            .when(file(false, "t", &"信".repeat(4001)))
            .inspect_result(),
    );
}

#[test]
fn a_named_complaint_without_its_reporter_is_refused() {
    let mut command = file(false, "t", "d");
    if let ComplaintCommand::FileComplaint { reporter, .. } = &mut command {
        *reporter = None;
    }
    invalid("reporter")(
        case()
            .given_no_previous_events()
            .when(command)
            .inspect_result(),
    );
}

#[test]
fn an_anonymous_complaint_carrying_a_reporter_is_refused() {
    let mut command = file(true, "t", "d");
    if let ComplaintCommand::FileComplaint { reporter, .. } = &mut command {
        *reporter = Some(sealed());
    }
    invalid("reporter")(
        case()
            .given_no_previous_events()
            .when(command)
            .inspect_result(),
    );
}

#[test]
fn every_command_on_a_complaint_never_filed_is_not_found() {
    for command in every_command_but_filing(at("2025-10-01 10:00")) {
        case()
            .given_no_previous_events()
            .when(command)
            .then_expect_error(ComplaintError::NotFound);
    }
}

// ---------------------------------------------------------------- accept, decline

#[test]
fn intake_accepts_a_received_complaint() {
    case()
        .given(received_case())
        .when(ComplaintCommand::AcceptComplaint {
            at: at("2025-09-25 10:00"),
        })
        .then_expect_events(vec![accepted()]);
}

#[test]
fn an_accepted_complaint_cannot_be_accepted_again() {
    case()
        .given(accepted_case())
        .when(ComplaintCommand::AcceptComplaint {
            at: at("2025-09-25 11:00"),
        })
        .then_expect_error(transition("accept", Status::Accepted));
}

#[test]
fn intake_declines_a_received_complaint_with_a_reason() {
    case()
        .given(received_case())
        .when(ComplaintCommand::DeclineComplaint {
            reason: "不属于受理范围".into(),
            at: at("2025-09-25 10:00"),
        })
        .then_expect_events(declined_case()[1..].to_vec());
}

#[test]
fn a_decline_needs_a_reason() {
    invalid("reason")(
        case()
            .given(received_case())
            .when(ComplaintCommand::DeclineComplaint {
                reason: "".into(),
                at: at("2025-09-25 10:00"),
            })
            .inspect_result(),
    );
}

#[test]
fn an_accepted_complaint_cannot_be_declined() {
    case()
        .given(accepted_case())
        .when(ComplaintCommand::DeclineComplaint {
            reason: "r".into(),
            at: at("2025-09-25 10:00"),
        })
        .then_expect_error(transition("decline", Status::Accepted));
}

#[test]
fn a_declined_complaint_accepts_no_further_handling() {
    case()
        .given(declined_case())
        .when(ComplaintCommand::AcceptComplaint {
            at: at("2025-09-26 10:00"),
        })
        .then_expect_error(transition("accept", Status::Declined));
}

// ---------------------------------------------------------------- dispatch (派单)

#[test]
fn dispatching_sets_the_sign_and_reply_deadlines_on_the_official_calendar() {
    // Fri 26 Sep 2025: sign by Sun 28 Sep (make-up day); 15 working days across 国庆.
    case()
        .given(accepted_case())
        .when(ComplaintCommand::DispatchComplaint {
            unit: unit_a(),
            above: Vec::new(),
            at: at("2025-09-26 10:00"),
        })
        .then_expect_events(vec![dispatched()]);
}

#[test]
fn the_reply_deadline_depends_on_the_category() {
    // Consultation: 3 working days after Fri 26 Sep 2025 = 28, 29, 30 Sep.
    case()
        .given(vec![filed_as(Category::Consultation, false), accepted()])
        .when(ComplaintCommand::DispatchComplaint {
            unit: unit_a(),
            above: Vec::new(),
            at: at("2025-09-26 10:00"),
        })
        .then_expect_events(vec![ComplaintEvent::ComplaintDispatched {
            unit: unit_a(),
            sign_due: due("2025-09-28"),
            reply_due: due("2025-09-30"),
            at: at("2025-09-26 10:00"),
        }]);
    // Help: 10 working days = Thu 16 Oct.
    case()
        .given(vec![filed_as(Category::Help, false), accepted()])
        .when(ComplaintCommand::DispatchComplaint {
            unit: unit_a(),
            above: Vec::new(),
            at: at("2025-09-26 10:00"),
        })
        .then_expect_events(vec![ComplaintEvent::ComplaintDispatched {
            unit: unit_a(),
            sign_due: due("2025-09-28"),
            reply_due: due("2025-10-16"),
            at: at("2025-09-26 10:00"),
        }]);
}

#[test]
fn deadlines_count_from_the_shanghai_date_of_the_dispatch() {
    // 17:00 UTC on Thu 25 Sep is already Fri 26 Sep in Shanghai.
    let when = DateTime::parse_from_rfc3339("2025-09-25T17:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    case()
        .given(accepted_case())
        .when(ComplaintCommand::DispatchComplaint {
            unit: unit_a(),
            above: Vec::new(),
            at: when,
        })
        .then_expect_events(vec![ComplaintEvent::ComplaintDispatched {
            unit: unit_a(),
            sign_due: due("2025-09-28"),
            reply_due: due("2025-10-23"),
            at: when,
        }]);
}

#[test]
fn a_returned_complaint_is_dispatched_again() {
    case()
        .given(returned_case())
        .when(ComplaintCommand::DispatchComplaint {
            unit: unit_b(),
            above: Vec::new(),
            at: at("2025-09-30 10:00"),
        })
        .then_expect_events(vec![ComplaintEvent::ComplaintDispatched {
            unit: unit_b(),
            // Tue 30 Sep: sign by Thu 9 Oct (1–8 Oct off); 15 working days: 9, 10, 11,
            // 13–17, 20–24, 27, 28 Oct.
            sign_due: due("2025-10-09"),
            reply_due: due("2025-10-28"),
            at: at("2025-09-30 10:00"),
        }]);
}

#[test]
fn a_received_complaint_cannot_be_dispatched_before_it_is_accepted() {
    case()
        .given(received_case())
        .when(ComplaintCommand::DispatchComplaint {
            unit: unit_a(),
            above: Vec::new(),
            at: at("2025-09-26 10:00"),
        })
        .then_expect_error(transition("dispatch", Status::Received));
    case()
        .given(dispatched_case())
        .when(ComplaintCommand::DispatchComplaint {
            unit: unit_b(),
            above: Vec::new(),
            at: at("2025-09-26 11:00"),
        })
        .then_expect_error(transition("dispatch", Status::Dispatched));
}

#[test]
fn dispatching_in_a_year_without_calendar_data_is_calendar_missing() {
    case()
        .given(accepted_case())
        .when(ComplaintCommand::DispatchComplaint {
            unit: unit_a(),
            above: Vec::new(),
            at: at("2024-12-20 10:00"),
        })
        .then_expect_error(ComplaintError::Calendar(CalendarError::Missing {
            year: 2024,
        }));
}

#[test]
fn a_deadline_reaching_into_a_year_without_a_schedule_is_provisional() {
    // Mon 28 Dec 2026: sign by Tue 29 Dec (2026 data, not provisional); 15 working days
    // reach Mon 18 Jan 2027 on weekends alone (1 Jan 2027 counts: no schedule yet).
    case()
        .given(accepted_case())
        .when(ComplaintCommand::DispatchComplaint {
            unit: unit_a(),
            above: Vec::new(),
            at: at("2026-12-28 10:00"),
        })
        .then_expect_events(vec![ComplaintEvent::ComplaintDispatched {
            unit: unit_a(),
            sign_due: due("2026-12-29"),
            reply_due: Deadline {
                due: day("2027-01-18"),
                provisional: true,
            },
            at: at("2026-12-28 10:00"),
        }]);
}

// ------------------------------------- reporter protection (信访工作条例 art. 30, issue 10)

/// The unit the reports below name (the `subject_code` of `filed_as`).
fn reported_unit() -> CreditCode {
    CreditCode::parse("113604000123456713").unwrap()
}

fn accepted_report() -> Vec<ComplaintEvent> {
    vec![filed_as(Category::Report, false), accepted()]
}

fn dispatch_report(unit: CreditCode, above: Vec<CreditCode>) -> ComplaintCommand {
    ComplaintCommand::DispatchComplaint {
        unit,
        above,
        at: at("2025-09-26 10:00"),
    }
}

#[test]
fn a_report_is_never_dispatched_to_the_unit_it_names() {
    case()
        .given(accepted_report())
        .when(dispatch_report(reported_unit(), Vec::new()))
        .then_expect_error(ComplaintError::ReportedUnit {
            reported: reported_unit(),
        });
}

#[test]
fn a_report_is_never_dispatched_to_a_unit_under_the_unit_it_names() {
    case()
        .given(accepted_report())
        .when(dispatch_report(unit_a(), vec![unit_b(), reported_unit()]))
        .then_expect_error(ComplaintError::ReportedUnit {
            reported: reported_unit(),
        });
}

#[test]
fn a_returned_report_is_never_dispatched_again_to_the_unit_it_names() {
    let mut history = accepted_report();
    history.extend([
        dispatched(),
        ComplaintEvent::ComplaintReturned {
            unit: unit_a(),
            reason: "不属于本单位职责".into(),
            at: at("2025-09-26 15:00"),
        },
    ]);
    case()
        .given(history)
        .when(dispatch_report(reported_unit(), Vec::new()))
        .then_expect_error(ComplaintError::ReportedUnit {
            reported: reported_unit(),
        });
}

#[test]
fn a_report_goes_to_a_unit_above_or_beside_the_unit_it_names() {
    // unit_a is not the reported unit and the reported unit is not above it.
    case()
        .given(accepted_report())
        .when(dispatch_report(unit_a(), vec![unit_b()]))
        .then_expect_events(vec![ComplaintEvent::ComplaintDispatched {
            unit: unit_a(),
            sign_due: due("2025-09-28"),
            reply_due: due("2025-10-23"),
            at: at("2025-09-26 10:00"),
        }]);
}

#[test]
fn a_complaint_that_is_not_a_report_may_go_to_the_unit_it_names() {
    case()
        .given(vec![filed(), accepted()])
        .when(dispatch_report(reported_unit(), Vec::new()))
        .then_expect_events(vec![ComplaintEvent::ComplaintDispatched {
            unit: reported_unit(),
            sign_due: due("2025-09-28"),
            reply_due: due("2025-10-23"),
            at: at("2025-09-26 10:00"),
        }]);
}

// ---------------------------------------------------------------- sign (签收)

#[test]
fn the_assigned_unit_signs_for_a_dispatched_complaint() {
    case()
        .given(dispatched_case())
        .when(ComplaintCommand::SignComplaint {
            unit: unit_a(),
            at: at("2025-09-28 09:00"),
        })
        .then_expect_events(vec![signed()]);
}

#[test]
fn a_handler_of_another_unit_cannot_sign() {
    case()
        .given(dispatched_case())
        .when(ComplaintCommand::SignComplaint {
            unit: unit_b(),
            at: at("2025-09-28 09:00"),
        })
        .then_expect_error(ComplaintError::NotAssignedUnit);
}

#[test]
fn a_signed_complaint_cannot_be_signed_again() {
    case()
        .given(in_progress_case())
        .when(ComplaintCommand::SignComplaint {
            unit: unit_a(),
            at: at("2025-09-29 09:00"),
        })
        .then_expect_error(transition("sign", Status::InProgress));
}

// ---------------------------------------------------------------- return (退单)

#[test]
fn the_assigned_unit_returns_a_misrouted_complaint_before_or_after_signing() {
    for history in [dispatched_case(), in_progress_case()] {
        case()
            .given(history)
            .when(ComplaintCommand::ReturnComplaint {
                unit: unit_a(),
                reason: "不属于本单位职责".into(),
                at: at("2025-09-29 09:00"),
            })
            .then_expect_events(returned_case()[4..].to_vec());
    }
}

#[test]
fn a_handler_of_another_unit_cannot_return_the_complaint() {
    case()
        .given(dispatched_case())
        .when(ComplaintCommand::ReturnComplaint {
            unit: unit_b(),
            reason: "r".into(),
            at: at("2025-09-29 09:00"),
        })
        .then_expect_error(ComplaintError::NotAssignedUnit);
}

#[test]
fn a_return_needs_a_reason() {
    invalid("reason")(
        case()
            .given(dispatched_case())
            .when(ComplaintCommand::ReturnComplaint {
                unit: unit_a(),
                reason: " ".into(),
                at: at("2025-09-29 09:00"),
            })
            .inspect_result(),
    );
}

#[test]
fn a_complaint_not_dispatched_cannot_be_returned() {
    case()
        .given(accepted_case())
        .when(ComplaintCommand::ReturnComplaint {
            unit: unit_a(),
            reason: "r".into(),
            at: at("2025-09-29 09:00"),
        })
        .then_expect_error(transition("return", Status::Accepted));
}

#[test]
fn a_return_clears_the_assignment_the_deadlines_and_a_pending_extension() {
    let mut state = Complaint::default();
    let mut history = in_progress_case();
    history.push(extension_requested(5));
    history.push(returned_case()[4].clone());
    for event in history {
        state.apply(event);
    }
    assert_eq!(state.status, Status::Returned);
    assert_eq!(state.unit, None);
    assert_eq!(state.sign_due, None);
    assert_eq!(state.reply_due, None);
    assert_eq!(state.pending_extension, None);
    // The former unit can no longer act on it.
    case()
        .given(returned_case())
        .when(ComplaintCommand::SignComplaint {
            unit: unit_a(),
            at: at("2025-09-29 10:00"),
        })
        .then_expect_error(transition("sign", Status::Returned));
}

// ---------------------------------------------------------------- extensions (延期)

#[test]
fn the_assigned_unit_requests_an_extension() {
    case()
        .given(in_progress_case())
        .when(ComplaintCommand::RequestExtension {
            unit: unit_a(),
            working_days: 5,
            reason: "需要现场核查".into(),
            at: at("2025-10-20 09:00"),
        })
        .then_expect_events(vec![extension_requested(5)]);
}

#[test]
fn an_extension_may_be_requested_on_the_due_day_itself() {
    let late_on_due_day = at("2025-10-23 23:59");
    case()
        .given(dispatched_case())
        .when(ComplaintCommand::RequestExtension {
            unit: unit_a(),
            working_days: 5,
            reason: "r".into(),
            at: late_on_due_day,
        })
        .then_expect_events(vec![ComplaintEvent::ExtensionRequested {
            unit: unit_a(),
            working_days: 5,
            reason: "r".into(),
            at: late_on_due_day,
        }]);
}

#[test]
fn an_extension_requested_the_day_after_the_reply_deadline_is_too_late() {
    case()
        .given(in_progress_case())
        .when(ComplaintCommand::RequestExtension {
            unit: unit_a(),
            working_days: 5,
            reason: "r".into(),
            at: at("2025-10-24 00:00"),
        })
        .then_expect_error(ComplaintError::ExtensionTooLate);
}

#[test]
fn a_second_extension_cannot_be_requested_while_one_is_pending() {
    let mut history = in_progress_case();
    history.push(extension_requested(5));
    case()
        .given(history)
        .when(ComplaintCommand::RequestExtension {
            unit: unit_a(),
            working_days: 3,
            reason: "r".into(),
            at: at("2025-10-21 09:00"),
        })
        .then_expect_error(ComplaintError::ExtensionPending);
}

#[test]
fn an_extension_must_be_between_1_and_30_working_days() {
    for days in [0, 31] {
        invalid("working_days")(
            case()
                .given(in_progress_case())
                .when(ComplaintCommand::RequestExtension {
                    unit: unit_a(),
                    working_days: days,
                    reason: "r".into(),
                    at: at("2025-10-20 09:00"),
                })
                .inspect_result(),
        );
    }
    for days in [1, 30] {
        assert!(case()
            .given(in_progress_case())
            .when(ComplaintCommand::RequestExtension {
                unit: unit_a(),
                working_days: days,
                reason: "r".into(),
                at: at("2025-10-20 09:00"),
            })
            .inspect_result()
            .is_ok());
    }
}

#[test]
fn an_extension_request_needs_a_reason() {
    invalid("reason")(
        case()
            .given(in_progress_case())
            .when(ComplaintCommand::RequestExtension {
                unit: unit_a(),
                working_days: 5,
                reason: "".into(),
                at: at("2025-10-20 09:00"),
            })
            .inspect_result(),
    );
}

#[test]
fn a_handler_of_another_unit_cannot_request_an_extension() {
    case()
        .given(in_progress_case())
        .when(ComplaintCommand::RequestExtension {
            unit: unit_b(),
            working_days: 5,
            reason: "r".into(),
            at: at("2025-10-20 09:00"),
        })
        .then_expect_error(ComplaintError::NotAssignedUnit);
}

#[test]
fn a_replied_complaint_cannot_get_an_extension_request() {
    case()
        .given(replied_case())
        .when(ComplaintCommand::RequestExtension {
            unit: unit_a(),
            working_days: 5,
            reason: "r".into(),
            at: at("2025-10-22 16:00"),
        })
        .then_expect_error(transition("request an extension for", Status::Replied));
}

#[test]
fn an_approved_extension_moves_the_reply_deadline_by_the_requested_working_days() {
    let mut history = in_progress_case();
    history.push(extension_requested(5));
    // Thu 23 Oct 2025 + 5 working days = Thu 30 Oct.
    case()
        .given(history)
        .when(ComplaintCommand::ApproveExtension {
            note: "同意".into(),
            at: at("2025-10-21 09:00"),
        })
        .then_expect_events(vec![ComplaintEvent::ExtensionApproved {
            note: "同意".into(),
            reply_due: due("2025-10-30"),
            at: at("2025-10-21 09:00"),
        }]);
}

#[test]
fn after_an_approval_the_new_deadline_rules_and_another_request_may_follow() {
    let mut history = in_progress_case();
    history.push(extension_requested(5));
    history.push(ComplaintEvent::ExtensionApproved {
        note: "同意".into(),
        reply_due: due("2025-10-30"),
        at: at("2025-10-21 09:00"),
    });
    // 27 Oct is after the old deadline but before the new one.
    assert!(case()
        .given(history.clone())
        .when(ComplaintCommand::RequestExtension {
            unit: unit_a(),
            working_days: 2,
            reason: "r".into(),
            at: at("2025-10-27 09:00"),
        })
        .inspect_result()
        .is_ok());
    case()
        .given(history)
        .when(ComplaintCommand::SuperviseComplaint {
            note: "n".into(),
            at: at("2025-10-27 09:00"),
        })
        .then_expect_error(ComplaintError::NotOverdue);
}

#[test]
fn an_extension_counted_from_a_provisional_deadline_stays_provisional() {
    let provisional = Deadline {
        due: day("2027-01-18"),
        provisional: true,
    };
    let history = vec![
        filed(),
        accepted(),
        ComplaintEvent::ComplaintDispatched {
            unit: unit_a(),
            sign_due: due("2026-12-29"),
            reply_due: provisional,
            at: at("2026-12-28 10:00"),
        },
        ComplaintEvent::ExtensionRequested {
            unit: unit_a(),
            working_days: 2,
            reason: "r".into(),
            at: at("2026-12-30 10:00"),
        },
    ];
    case()
        .given(history)
        .when(ComplaintCommand::ApproveExtension {
            note: "n".into(),
            at: at("2026-12-31 10:00"),
        })
        .then_expect_events(vec![ComplaintEvent::ExtensionApproved {
            note: "n".into(),
            reply_due: Deadline {
                due: day("2027-01-20"),
                provisional: true,
            },
            at: at("2026-12-31 10:00"),
        }]);
}

#[test]
fn an_extension_cannot_be_approved_when_none_is_pending() {
    case()
        .given(in_progress_case())
        .when(ComplaintCommand::ApproveExtension {
            note: "n".into(),
            at: at("2025-10-21 09:00"),
        })
        .then_expect_error(ComplaintError::NoExtensionPending);
}

#[test]
fn an_extension_cannot_be_approved_for_a_complaint_not_being_handled() {
    case()
        .given(accepted_case())
        .when(ComplaintCommand::ApproveExtension {
            note: "n".into(),
            at: at("2025-10-21 09:00"),
        })
        .then_expect_error(transition("approve an extension for", Status::Accepted));
}

#[test]
fn a_supervisor_denies_a_pending_extension() {
    let mut history = in_progress_case();
    history.push(extension_requested(5));
    case()
        .given(history)
        .when(ComplaintCommand::DenyExtension {
            note: "理由不充分".into(),
            at: at("2025-10-21 09:00"),
        })
        .then_expect_events(vec![ComplaintEvent::ExtensionDenied {
            note: "理由不充分".into(),
            at: at("2025-10-21 09:00"),
        }]);
}

#[test]
fn a_denial_keeps_the_deadline_and_clears_the_request() {
    let mut history = in_progress_case();
    history.push(extension_requested(5));
    history.push(ComplaintEvent::ExtensionDenied {
        note: "n".into(),
        at: at("2025-10-21 09:00"),
    });
    let mut state = Complaint::default();
    for e in history.clone() {
        state.apply(e);
    }
    assert_eq!(state.reply_due, Some(due("2025-10-23")));
    assert_eq!(state.pending_extension, None);
    case()
        .given(history)
        .when(ComplaintCommand::DenyExtension {
            note: "n".into(),
            at: at("2025-10-21 10:00"),
        })
        .then_expect_error(ComplaintError::NoExtensionPending);
}

#[test]
fn an_extension_cannot_be_denied_for_a_closed_complaint() {
    case()
        .given(closed_case())
        .when(ComplaintCommand::DenyExtension {
            note: "n".into(),
            at: at("2025-10-24 09:00"),
        })
        .then_expect_error(transition("deny an extension for", Status::Closed));
}

// ---------------------------------------------------------------- reply (答复)

#[test]
fn the_assigned_unit_replies_to_a_complaint_in_progress() {
    case()
        .given(in_progress_case())
        .when(ComplaintCommand::ReplyToComplaint {
            unit: unit_a(),
            content: "已核实并整改".into(),
            at: at("2025-10-22 15:00"),
        })
        .then_expect_events(vec![replied()]);
}

#[test]
fn an_anonymous_complaint_closes_on_reply() {
    case()
        .given(vec![
            filed_as(Category::Complaint, true),
            accepted(),
            dispatched(),
            signed(),
        ])
        .when(ComplaintCommand::ReplyToComplaint {
            unit: unit_a(),
            content: "已核实并整改".into(),
            at: at("2025-10-22 15:00"),
        })
        .then_expect_events(vec![
            replied(),
            ComplaintEvent::ComplaintClosed {
                because: ClosedBecause::AnonymousReplied,
                at: at("2025-10-22 15:00"),
            },
        ]);
}

#[test]
fn a_handler_of_another_unit_cannot_reply() {
    case()
        .given(in_progress_case())
        .when(ComplaintCommand::ReplyToComplaint {
            unit: unit_b(),
            content: "c".into(),
            at: at("2025-10-22 15:00"),
        })
        .then_expect_error(ComplaintError::NotAssignedUnit);
}

#[test]
fn a_reply_needs_content() {
    invalid("content")(
        case()
            .given(in_progress_case())
            .when(ComplaintCommand::ReplyToComplaint {
                unit: unit_a(),
                content: "\n".into(),
                at: at("2025-10-22 15:00"),
            })
            .inspect_result(),
    );
}

#[test]
fn a_complaint_not_yet_signed_for_cannot_be_replied_to() {
    case()
        .given(dispatched_case())
        .when(ComplaintCommand::ReplyToComplaint {
            unit: unit_a(),
            content: "c".into(),
            at: at("2025-10-22 15:00"),
        })
        .then_expect_error(transition("reply to", Status::Dispatched));
}

#[test]
fn a_reply_makes_a_pending_extension_request_moot() {
    let mut history = in_progress_case();
    history.push(extension_requested(5));
    history.push(replied());
    let mut state = Complaint::default();
    for e in history.clone() {
        state.apply(e);
    }
    assert_eq!(state.pending_extension, None);
    case()
        .given(history)
        .when(ComplaintCommand::ApproveExtension {
            note: "n".into(),
            at: at("2025-10-22 16:00"),
        })
        .then_expect_error(transition("approve an extension for", Status::Replied));
}

// ---------------------------------------------------------------- visit (回访)

#[test]
fn a_satisfied_visit_closes_the_complaint() {
    case()
        .given(replied_case())
        .when(ComplaintCommand::RecordVisit {
            satisfied: true,
            comment: "满意".into(),
            at: at("2025-10-23 10:00"),
        })
        .then_expect_events(closed_case()[5..].to_vec());
}

#[test]
fn an_unsatisfied_visit_reopens_the_complaint_with_a_new_reply_deadline() {
    // Mon 3 Nov 2025 + 10 working days = Mon 17 Nov.
    case()
        .given(replied_case())
        .when(ComplaintCommand::RecordVisit {
            satisfied: false,
            comment: "问题未解决".into(),
            at: at("2025-11-03 10:00"),
        })
        .then_expect_events(vec![
            ComplaintEvent::FollowUpVisited {
                satisfied: false,
                comment: "问题未解决".into(),
                at: at("2025-11-03 10:00"),
            },
            ComplaintEvent::ComplaintReopened {
                reply_due: due("2025-11-17"),
                at: at("2025-11-03 10:00"),
            },
        ]);
}

#[test]
fn a_reopened_complaint_is_back_in_progress_with_the_same_unit() {
    let mut history = replied_case();
    history.push(ComplaintEvent::FollowUpVisited {
        satisfied: false,
        comment: "c".into(),
        at: at("2025-11-03 10:00"),
    });
    history.push(ComplaintEvent::ComplaintReopened {
        reply_due: due("2025-11-17"),
        at: at("2025-11-03 10:00"),
    });
    let mut state = Complaint::default();
    for e in history.clone() {
        state.apply(e);
    }
    assert_eq!(state.status, Status::InProgress);
    assert_eq!(state.unit, Some(unit_a()));
    assert_eq!(state.reply_due, Some(due("2025-11-17")));
    case()
        .given(history)
        .when(ComplaintCommand::ReplyToComplaint {
            unit: unit_a(),
            content: "再次答复".into(),
            at: at("2025-11-10 10:00"),
        })
        .then_expect_events(vec![ComplaintEvent::ComplaintReplied {
            unit: unit_a(),
            content: "再次答复".into(),
            at: at("2025-11-10 10:00"),
        }]);
}

#[test]
fn a_reopening_in_a_year_without_calendar_data_is_calendar_missing() {
    // A visit recorded with a clock set back to 2024: there is no calendar for that year.
    case()
        .given(replied_case())
        .when(ComplaintCommand::RecordVisit {
            satisfied: false,
            comment: "c".into(),
            at: at("2024-11-04 10:00"),
        })
        .then_expect_error(ComplaintError::Calendar(CalendarError::Missing {
            year: 2024,
        }));
}

#[test]
fn a_complaint_not_replied_to_cannot_be_visited() {
    case()
        .given(in_progress_case())
        .when(ComplaintCommand::RecordVisit {
            satisfied: true,
            comment: "c".into(),
            at: at("2025-10-23 10:00"),
        })
        .then_expect_error(transition("visit", Status::InProgress));
}

#[test]
fn an_anonymous_complaint_closed_on_reply_gets_no_visit() {
    case()
        .given(vec![
            filed_as(Category::Complaint, true),
            accepted(),
            dispatched(),
            signed(),
            replied(),
            ComplaintEvent::ComplaintClosed {
                because: ClosedBecause::AnonymousReplied,
                at: at("2025-10-22 15:00"),
            },
        ])
        .when(ComplaintCommand::RecordVisit {
            satisfied: true,
            comment: "c".into(),
            at: at("2025-10-23 10:00"),
        })
        .then_expect_error(transition("visit", Status::Closed));
}

// ---------------------------------------------------------------- merge (并单)

#[test]
fn a_repeat_complaint_is_merged_from_any_open_status_before_the_reply() {
    for history in [
        received_case(),
        accepted_case(),
        dispatched_case(),
        in_progress_case(),
        returned_case(),
    ] {
        case()
            .given(history)
            .when(ComplaintCommand::MergeComplaint {
                into: "case-1".into(),
                into_status: Status::Accepted,
                at: at("2025-09-25 10:00"),
            })
            .then_expect_events(merged_case()[1..].to_vec());
    }
}

#[test]
fn a_replied_closed_declined_or_merged_complaint_cannot_be_merged() {
    for (history, status) in [
        (replied_case(), Status::Replied),
        (closed_case(), Status::Closed),
        (declined_case(), Status::Declined),
        (merged_case(), Status::Merged),
    ] {
        case()
            .given(history)
            .when(ComplaintCommand::MergeComplaint {
                into: "case-1".into(),
                into_status: Status::Accepted,
                at: at("2025-10-25 10:00"),
            })
            .then_expect_error(transition("merge", status));
    }
}

#[test]
fn a_merge_needs_the_case_it_merges_into() {
    invalid("into")(
        case()
            .given(received_case())
            .when(ComplaintCommand::MergeComplaint {
                into: "".into(),
                into_status: Status::Accepted,
                at: at("2025-09-25 10:00"),
            })
            .inspect_result(),
    );
}

#[test]
fn a_merged_complaint_remembers_where_it_went_and_takes_no_further_commands() {
    let mut state = Complaint::default();
    for e in merged_case() {
        state.apply(e);
    }
    assert_eq!(state.status, Status::Merged);
    assert_eq!(state.merged_into.as_deref(), Some("case-1"));
    case()
        .given(merged_case())
        .when(ComplaintCommand::AcceptComplaint {
            at: at("2025-09-26 10:00"),
        })
        .then_expect_error(transition("accept", Status::Merged));
}

#[test]
fn a_complaint_is_never_merged_into_a_finished_or_merged_case() {
    for status in [
        Status::Replied,
        Status::Closed,
        Status::Declined,
        Status::Merged,
    ] {
        case()
            .given(received_case())
            .when(ComplaintCommand::MergeComplaint {
                into: "case-1".into(),
                into_status: status,
                at: at("2025-09-25 10:00"),
            })
            .then_expect_error(ComplaintError::MergeTargetNotOpen { status });
    }
}

#[test]
fn a_complaint_is_merged_into_any_case_still_being_handled() {
    for status in [
        Status::Received,
        Status::Accepted,
        Status::Dispatched,
        Status::InProgress,
        Status::Returned,
    ] {
        case()
            .given(received_case())
            .when(ComplaintCommand::MergeComplaint {
                into: "case-1".into(),
                into_status: status,
                at: at("2025-09-25 10:00"),
            })
            .then_expect_events(merged_case()[1..].to_vec());
    }
}

#[test]
fn the_case_merged_into_records_what_was_merged() {
    let merged_in = ComplaintEvent::ComplaintMergedIn {
        from: "case-2".into(),
        at: at("2025-09-26 10:00"),
    };
    case()
        .given(dispatched_case())
        .when(ComplaintCommand::RecordMergedIn {
            from: "case-2".into(),
            at: at("2025-09-26 10:00"),
        })
        .then_expect_events(vec![merged_in.clone()]);
    let mut state = Complaint::default();
    for e in dispatched_case().into_iter().chain([merged_in]) {
        state.apply(e);
    }
    assert_eq!(state.merged_from, vec!["case-2".to_string()]);
    assert_eq!(state.status, Status::Dispatched);
}

#[test]
fn a_case_merged_in_is_recorded_once() {
    let mut history = dispatched_case();
    history.push(ComplaintEvent::ComplaintMergedIn {
        from: "case-2".into(),
        at: at("2025-09-26 10:00"),
    });
    case()
        .given(history)
        .when(ComplaintCommand::RecordMergedIn {
            from: "case-2".into(),
            at: at("2025-09-26 11:00"),
        })
        .then_expect_error(ComplaintError::AlreadyMergedIn {
            from: "case-2".into(),
        });
}

#[test]
fn a_merge_is_recorded_only_on_a_filed_case() {
    case()
        .given_no_previous_events()
        .when(ComplaintCommand::RecordMergedIn {
            from: "case-2".into(),
            at: at("2025-09-26 11:00"),
        })
        .then_expect_error(ComplaintError::NotFound);
}

// ---------------------------------------------------------------- supervise (督办)

#[test]
fn a_supervisor_presses_a_case_past_its_reply_deadline() {
    case()
        .given(in_progress_case())
        .when(ComplaintCommand::SuperviseComplaint {
            note: "请尽快答复".into(),
            at: at("2025-10-24 09:00"),
        })
        .then_expect_events(vec![ComplaintEvent::ComplaintSupervised {
            note: "请尽快答复".into(),
            at: at("2025-10-24 09:00"),
        }]);
}

#[test]
fn a_dispatched_case_not_signed_by_its_sign_deadline_can_be_supervised() {
    // Sign due Sun 28 Sep 2025; on Mon 29 Sep it is overdue for signing.
    case()
        .given(dispatched_case())
        .when(ComplaintCommand::SuperviseComplaint {
            note: "请签收".into(),
            at: at("2025-09-29 09:00"),
        })
        .then_expect_events(vec![ComplaintEvent::ComplaintSupervised {
            note: "请签收".into(),
            at: at("2025-09-29 09:00"),
        }]);
}

#[test]
fn a_signed_case_is_not_overdue_for_its_sign_deadline() {
    case()
        .given(in_progress_case())
        .when(ComplaintCommand::SuperviseComplaint {
            note: "n".into(),
            at: at("2025-09-29 09:00"),
        })
        .then_expect_error(ComplaintError::NotOverdue);
}

#[test]
fn a_case_on_its_due_day_is_not_yet_overdue() {
    case()
        .given(in_progress_case())
        .when(ComplaintCommand::SuperviseComplaint {
            note: "n".into(),
            at: at("2025-10-23 23:59"),
        })
        .then_expect_error(ComplaintError::NotOverdue);
    case()
        .given(dispatched_case())
        .when(ComplaintCommand::SuperviseComplaint {
            note: "n".into(),
            at: at("2025-09-28 18:00"),
        })
        .then_expect_error(ComplaintError::NotOverdue);
}

#[test]
fn supervision_needs_a_note() {
    invalid("note")(
        case()
            .given(in_progress_case())
            .when(ComplaintCommand::SuperviseComplaint {
                note: " ".into(),
                at: at("2025-10-24 09:00"),
            })
            .inspect_result(),
    );
}

#[test]
fn a_replied_case_cannot_be_supervised() {
    case()
        .given(replied_case())
        .when(ComplaintCommand::SuperviseComplaint {
            note: "n".into(),
            at: at("2025-10-24 09:00"),
        })
        .then_expect_error(transition("supervise", Status::Replied));
}

#[test]
fn supervision_leaves_the_status_unchanged_and_is_counted() {
    let mut state = Complaint::default();
    let mut history = in_progress_case();
    history.push(ComplaintEvent::ComplaintSupervised {
        note: "n".into(),
        at: at("2025-10-24 09:00"),
    });
    for e in history {
        state.apply(e);
    }
    assert_eq!(state.status, Status::InProgress);
    assert_eq!(state.supervisions, 1);
}

// ---------------------------------------------------------------- the whole loop

#[tokio::test]
async fn a_complaint_goes_through_the_whole_closed_loop() {
    let services = services();
    let mut state = Complaint::default();
    let steps = vec![
        file(false, "窗口办事推诿", "多次办理被要求补充材料"),
        ComplaintCommand::AcceptComplaint {
            at: at("2025-09-25 10:00"),
        },
        ComplaintCommand::DispatchComplaint {
            unit: unit_a(),
            above: Vec::new(),
            at: at("2025-09-26 10:00"),
        },
        ComplaintCommand::SignComplaint {
            unit: unit_a(),
            at: at("2025-09-28 09:00"),
        },
        ComplaintCommand::ReplyToComplaint {
            unit: unit_a(),
            content: "已核实并整改".into(),
            at: at("2025-10-22 15:00"),
        },
        ComplaintCommand::RecordVisit {
            satisfied: true,
            comment: "满意".into(),
            at: at("2025-10-23 10:00"),
        },
    ];
    let mut all = Vec::new();
    for command in steps {
        let sink = cqrs_es::event_sink::EventSink::default();
        state.handle(command, &services, &sink).await.unwrap();
        all.extend(sink.collect().await);
    }
    assert_eq!(all, closed_case());
    assert_eq!(state.status, Status::Closed);
}

// ---------------------------------------------------------------- erasure

fn erase(reason: &str) -> ComplaintCommand {
    ComplaintCommand::EraseReporter {
        reason: reason.into(),
        at: at("2025-10-30 10:00"),
    }
}

fn erased() -> ComplaintEvent {
    ComplaintEvent::ReporterErased {
        key_id: "key-1".into(),
        reason: "个人信息删除请求".into(),
        at: at("2025-10-30 10:00"),
    }
}

#[test]
fn the_reporter_of_a_filed_case_is_erased_by_naming_the_key_to_destroy() {
    for history in [
        received_case(),
        declined_case(),
        closed_case(),
        merged_case(),
        returned_case(),
    ] {
        case()
            .given(history)
            .when(erase("个人信息删除请求"))
            .then_expect_events(vec![erased()]);
    }
}

#[test]
fn an_anonymous_case_has_no_reporter_to_erase() {
    case()
        .given(vec![filed_as(Category::Complaint, true)])
        .when(erase("r"))
        .then_expect_error(ComplaintError::AnonymousReporter);
}

#[test]
fn a_reporter_is_erased_only_once() {
    let mut history = closed_case();
    history.push(erased());
    case()
        .given(history)
        .when(erase("again"))
        .then_expect_error(ComplaintError::ReporterAlreadyErased);
}

#[test]
fn an_erasure_needs_a_reason() {
    for reason in ["", "  "] {
        case()
            .given(received_case())
            .when(erase(reason))
            .then_expect_error(ComplaintError::Invalid {
                field: "reason",
                message: "must not be empty".into(),
            });
    }
}

#[test]
fn a_case_never_filed_cannot_have_its_reporter_erased() {
    case()
        .given_no_previous_events()
        .when(erase("r"))
        .then_expect_error(ComplaintError::NotFound);
}

#[test]
fn an_erasure_changes_nothing_but_the_erased_flag() {
    let mut before = Complaint::default();
    for e in in_progress_case() {
        before.apply(e);
    }
    assert_eq!(before.reporter_key.as_deref(), Some("key-1"));
    let mut after = before.clone();
    after.apply(erased());
    assert!(after.reporter_erased);
    assert_eq!(after.status, before.status);
    assert_eq!(after.reply_due, before.reply_due);
    assert_eq!(after.unit, before.unit);
    assert_eq!(erased().event_type(), "ReporterErased");
    assert_eq!(erased().event_version(), "1");
}

// ---------------------------------------------------------------- apply, events

#[test]
fn every_command_is_refused_on_a_closed_complaint() {
    for command in every_command_but_filing(at("2025-10-24 10:00")) {
        let result = case().given(closed_case()).when(command).inspect_result();
        assert!(
            matches!(
                result,
                Err(ComplaintError::InvalidTransition {
                    status: Status::Closed,
                    ..
                })
            ),
            "{result:?}"
        );
    }
}

#[test]
fn apply_accepts_any_event_in_any_state_without_panicking() {
    let mut events = closed_case();
    events.extend(returned_case());
    events.extend(merged_case());
    events.push(extension_requested(3));
    events.push(ComplaintEvent::ExtensionApproved {
        note: "n".into(),
        reply_due: due("2025-10-28"),
        at: at("2025-10-21 09:00"),
    });
    events.push(ComplaintEvent::ExtensionDenied {
        note: "n".into(),
        at: at("2025-10-21 09:00"),
    });
    events.push(ComplaintEvent::ComplaintSupervised {
        note: "n".into(),
        at: at("2025-10-21 09:00"),
    });
    for event in &events {
        let mut fresh = Complaint::default();
        fresh.apply(event.clone());
        let mut closed = Complaint::default();
        for e in closed_case() {
            closed.apply(e);
        }
        closed.apply(event.clone());
    }
}

#[test]
fn event_types_are_the_variant_names_at_version_1() {
    let events = [
        (filed(), "ComplaintFiled"),
        (accepted(), "ComplaintAccepted"),
        (declined_case()[1].clone(), "ComplaintDeclined"),
        (dispatched(), "ComplaintDispatched"),
        (signed(), "ComplaintSigned"),
        (returned_case()[4].clone(), "ComplaintReturned"),
        (extension_requested(1), "ExtensionRequested"),
        (replied(), "ComplaintReplied"),
        (closed_case()[5].clone(), "FollowUpVisited"),
        (closed_case()[6].clone(), "ComplaintClosed"),
        (merged_case()[1].clone(), "ComplaintMerged"),
    ];
    for (event, name) in events {
        assert_eq!(event.event_type(), name);
        assert_eq!(event.event_version(), "1");
        // The serialized form is tagged by the same name (externally tagged enum).
        let json = serde_json::to_value(&event).unwrap();
        assert!(json.get(name).is_some(), "{json}");
    }
}

#[test]
fn a_serialized_state_loads_back_identically() {
    let mut state = Complaint::default();
    for e in in_progress_case() {
        state.apply(e);
    }
    let json = serde_json::to_string(&state).unwrap();
    let back: Complaint = serde_json::from_str(&json).unwrap();
    assert_eq!(back, state);
}

// ---------------------------------------------------------------- deadlines (deadline engine)
//
// Fixture: dispatched Fri 26 Sep 2025 to unit A, sign due Sun 28 Sep (make-up working
// day), reply due Thu 23 Oct. "Passed" is the Asia/Shanghai date of `at` after the due day.

fn refused(refusal: DeadlineRefusal) -> ComplaintError {
    ComplaintError::Deadline(refusal)
}

fn sign_overdue(at_: DateTime<Utc>) -> ComplaintEvent {
    ComplaintEvent::SignOverdue {
        unit: unit_a(),
        due: day("2025-09-28"),
        at: at_,
    }
}

fn reply_overdue(at_: DateTime<Utc>) -> ComplaintEvent {
    ComplaintEvent::ReplyOverdue {
        unit: unit_a(),
        due: day("2025-10-23"),
        at: at_,
    }
}

/// In progress, with an extension of 3 working days approved on 21 Oct, before the reply
/// due day: the reply is now due Tue 28 Oct.
fn extended_case() -> Vec<ComplaintEvent> {
    let mut h = in_progress_case();
    h.push(extension_requested(3));
    h.push(ComplaintEvent::ExtensionApproved {
        note: "同意".into(),
        reply_due: due("2025-10-28"),
        at: at("2025-10-21 09:00"),
    });
    h
}

#[test]
fn an_unsigned_case_is_marked_sign_overdue_from_the_first_minute_after_its_sign_due_day() {
    // 29 Sep 00:00 in Shanghai is still 28 Sep in UTC: the local date decides.
    case()
        .given(dispatched_case())
        .when(ComplaintCommand::MarkSignOverdue {
            at: at("2025-09-29 00:00"),
        })
        .then_expect_events(vec![sign_overdue(at("2025-09-29 00:00"))]);
}

#[test]
fn a_sign_deadline_is_not_overdue_until_its_due_day_has_ended() {
    for when in ["2025-09-26 11:00", "2025-09-28 00:00", "2025-09-28 23:59"] {
        case()
            .given(dispatched_case())
            .when(ComplaintCommand::MarkSignOverdue { at: at(when) })
            .then_expect_error(refused(DeadlineRefusal::NotYetDue {
                kind: DeadlineKind::Sign,
                due: day("2025-09-28"),
            }));
    }
}

#[test]
fn a_sign_deadline_is_marked_overdue_only_once_per_due_day() {
    let mut h = dispatched_case();
    h.push(sign_overdue(at("2025-09-29 00:00")));
    case()
        .given(h)
        .when(ComplaintCommand::MarkSignOverdue {
            at: at("2025-09-30 09:00"),
        })
        .then_expect_error(refused(DeadlineRefusal::AlreadyMarked {
            kind: DeadlineKind::Sign,
            due: day("2025-09-28"),
        }));
}

#[test]
fn a_sign_deadline_that_is_no_longer_open_is_not_marked() {
    // Signed, returned, replied, closed, merged, declined, or never dispatched.
    for given in [
        in_progress_case(),
        returned_case(),
        replied_case(),
        closed_case(),
        merged_case(),
        declined_case(),
        accepted_case(),
    ] {
        case()
            .given(given)
            .when(ComplaintCommand::MarkSignOverdue {
                at: at("2025-11-30 09:00"),
            })
            .then_expect_error(refused(DeadlineRefusal::NotOpen {
                kind: DeadlineKind::Sign,
            }));
    }
}

#[test]
fn deadline_commands_on_a_case_never_filed_are_not_found() {
    for command in [
        ComplaintCommand::MarkSignOverdue {
            at: at("2025-11-30 09:00"),
        },
        ComplaintCommand::MarkReplyOverdue {
            at: at("2025-11-30 09:00"),
        },
        ComplaintCommand::RemindDeadline {
            kind: DeadlineKind::Reply,
            at: at("2025-11-30 09:00"),
        },
    ] {
        case()
            .given_no_previous_events()
            .when(command)
            .then_expect_error(ComplaintError::NotFound);
    }
}

#[test]
fn a_new_dispatch_after_a_return_owes_a_new_signature_that_can_be_marked_again() {
    let mut h = dispatched_case();
    h.push(sign_overdue(at("2025-09-29 00:00")));
    h.push(ComplaintEvent::ComplaintReturned {
        unit: unit_a(),
        reason: "不属于本单位职责".into(),
        at: at("2025-09-29 09:00"),
    });
    // Dispatched again on Mon 29 Sep to unit B: sign due Tue 30 Sep.
    h.push(ComplaintEvent::ComplaintDispatched {
        unit: unit_b(),
        sign_due: due("2025-09-30"),
        reply_due: due("2025-10-27"),
        at: at("2025-09-29 10:00"),
    });
    case()
        .given(h)
        .when(ComplaintCommand::MarkSignOverdue {
            at: at("2025-10-01 08:00"),
        })
        .then_expect_events(vec![ComplaintEvent::SignOverdue {
            unit: unit_b(),
            due: day("2025-09-30"),
            at: at("2025-10-01 08:00"),
        }]);
}

#[test]
fn a_reply_not_given_by_its_due_day_is_marked_overdue_against_the_unit() {
    case()
        .given(in_progress_case())
        .when(ComplaintCommand::MarkReplyOverdue {
            at: at("2025-10-24 00:00"),
        })
        .then_expect_events(vec![reply_overdue(at("2025-10-24 00:00"))]);
    // Still unsigned: the reply is owed all the same.
    case()
        .given(dispatched_case())
        .when(ComplaintCommand::MarkReplyOverdue {
            at: at("2025-10-24 09:00"),
        })
        .then_expect_events(vec![reply_overdue(at("2025-10-24 09:00"))]);
}

#[test]
fn a_reply_deadline_is_not_overdue_on_its_due_day() {
    case()
        .given(in_progress_case())
        .when(ComplaintCommand::MarkReplyOverdue {
            at: at("2025-10-23 23:59"),
        })
        .then_expect_error(refused(DeadlineRefusal::NotYetDue {
            kind: DeadlineKind::Reply,
            due: day("2025-10-23"),
        }));
}

#[test]
fn a_reply_deadline_is_marked_overdue_only_once_per_due_day() {
    let mut h = in_progress_case();
    h.push(reply_overdue(at("2025-10-24 00:00")));
    case()
        .given(h)
        .when(ComplaintCommand::MarkReplyOverdue {
            at: at("2025-10-27 09:00"),
        })
        .then_expect_error(refused(DeadlineRefusal::AlreadyMarked {
            kind: DeadlineKind::Reply,
            due: day("2025-10-23"),
        }));
}

#[test]
fn a_reply_deadline_that_is_no_longer_open_is_not_marked() {
    for given in [
        replied_case(),
        closed_case(),
        returned_case(),
        merged_case(),
        declined_case(),
        accepted_case(),
    ] {
        case()
            .given(given)
            .when(ComplaintCommand::MarkReplyOverdue {
                at: at("2025-11-30 09:00"),
            })
            .then_expect_error(refused(DeadlineRefusal::NotOpen {
                kind: DeadlineKind::Reply,
            }));
    }
}

#[test]
fn an_extension_approved_before_the_due_day_prevents_marking_the_old_due_day() {
    case()
        .given(extended_case())
        .when(ComplaintCommand::MarkReplyOverdue {
            at: at("2025-10-24 09:00"),
        })
        .then_expect_error(refused(DeadlineRefusal::NotYetDue {
            kind: DeadlineKind::Reply,
            due: day("2025-10-28"),
        }));
    // The new due day is marked once it has passed.
    case()
        .given(extended_case())
        .when(ComplaintCommand::MarkReplyOverdue {
            at: at("2025-10-29 00:00"),
        })
        .then_expect_events(vec![ComplaintEvent::ReplyOverdue {
            unit: unit_a(),
            due: day("2025-10-28"),
            at: at("2025-10-29 00:00"),
        }]);
}

#[test]
fn a_reopened_case_owes_a_new_reply_that_can_be_marked_again() {
    let mut h = in_progress_case();
    h.push(reply_overdue(at("2025-10-24 00:00")));
    h.push(ComplaintEvent::ComplaintReplied {
        unit: unit_a(),
        content: "已核实并整改".into(),
        at: at("2025-10-24 15:00"),
    });
    h.push(ComplaintEvent::FollowUpVisited {
        satisfied: false,
        comment: "未解决".into(),
        at: at("2025-10-27 10:00"),
    });
    h.push(ComplaintEvent::ComplaintReopened {
        reply_due: due("2025-11-10"),
        at: at("2025-10-27 10:00"),
    });
    case()
        .given(h)
        .when(ComplaintCommand::MarkReplyOverdue {
            at: at("2025-11-11 09:00"),
        })
        .then_expect_events(vec![ComplaintEvent::ReplyOverdue {
            unit: unit_a(),
            due: day("2025-11-10"),
            at: at("2025-11-11 09:00"),
        }]);
}

#[test]
fn a_deadline_is_reminded_while_open_and_not_yet_passed_on_the_due_day_included() {
    for when in ["2025-09-27 09:00", "2025-09-28 23:59"] {
        case()
            .given(dispatched_case())
            .when(ComplaintCommand::RemindDeadline {
                kind: DeadlineKind::Sign,
                at: at(when),
            })
            .then_expect_events(vec![ComplaintEvent::DeadlineDueSoon {
                kind: DeadlineKind::Sign,
                due: day("2025-09-28"),
                at: at(when),
            }]);
    }
    case()
        .given(in_progress_case())
        .when(ComplaintCommand::RemindDeadline {
            kind: DeadlineKind::Reply,
            at: at("2025-10-22 09:00"),
        })
        .then_expect_events(vec![ComplaintEvent::DeadlineDueSoon {
            kind: DeadlineKind::Reply,
            due: day("2025-10-23"),
            at: at("2025-10-22 09:00"),
        }]);
}

#[test]
fn a_deadline_is_reminded_only_once_per_due_day() {
    let mut h = in_progress_case();
    h.push(ComplaintEvent::DeadlineDueSoon {
        kind: DeadlineKind::Reply,
        due: day("2025-10-23"),
        at: at("2025-10-22 09:00"),
    });
    case()
        .given(h)
        .when(ComplaintCommand::RemindDeadline {
            kind: DeadlineKind::Reply,
            at: at("2025-10-23 09:00"),
        })
        .then_expect_error(refused(DeadlineRefusal::AlreadyReminded {
            kind: DeadlineKind::Reply,
            due: day("2025-10-23"),
        }));
}

#[test]
fn a_reminder_after_the_due_day_is_refused_as_passed() {
    case()
        .given(dispatched_case())
        .when(ComplaintCommand::RemindDeadline {
            kind: DeadlineKind::Sign,
            at: at("2025-09-29 00:00"),
        })
        .then_expect_error(refused(DeadlineRefusal::Passed {
            kind: DeadlineKind::Sign,
            due: day("2025-09-28"),
        }));
}

#[test]
fn a_deadline_no_longer_open_is_not_reminded() {
    case()
        .given(in_progress_case())
        .when(ComplaintCommand::RemindDeadline {
            kind: DeadlineKind::Sign,
            at: at("2025-09-28 09:00"),
        })
        .then_expect_error(refused(DeadlineRefusal::NotOpen {
            kind: DeadlineKind::Sign,
        }));
    case()
        .given(replied_case())
        .when(ComplaintCommand::RemindDeadline {
            kind: DeadlineKind::Reply,
            at: at("2025-10-22 16:00"),
        })
        .then_expect_error(refused(DeadlineRefusal::NotOpen {
            kind: DeadlineKind::Reply,
        }));
}

#[test]
fn an_extended_deadline_gets_a_reminder_of_its_own() {
    let mut h = in_progress_case();
    h.push(ComplaintEvent::DeadlineDueSoon {
        kind: DeadlineKind::Reply,
        due: day("2025-10-23"),
        at: at("2025-10-20 08:00"),
    });
    h.extend(extended_case().split_off(4));
    case()
        .given(h)
        .when(ComplaintCommand::RemindDeadline {
            kind: DeadlineKind::Reply,
            at: at("2025-10-27 09:00"),
        })
        .then_expect_events(vec![ComplaintEvent::DeadlineDueSoon {
            kind: DeadlineKind::Reply,
            due: day("2025-10-28"),
            at: at("2025-10-27 09:00"),
        }]);
}

/// A consultation dispatched Thu 12 Feb 2026, before the Spring Festival (off 15–23 Feb,
/// make-up Sat 14 and Sat 28 Feb): sign due Fri 13 Feb; reply (3 working days: 13, Sat 14,
/// Tue 24) due Tue 24 Feb.
fn spring_festival_case() -> Vec<ComplaintEvent> {
    vec![
        filed_as(Category::Consultation, false),
        accepted(),
        ComplaintEvent::ComplaintDispatched {
            unit: unit_a(),
            sign_due: due("2026-02-13"),
            reply_due: due("2026-02-24"),
            at: at("2026-02-12 10:00"),
        },
    ]
}

#[test]
fn spring_festival_deadlines_are_counted_over_the_make_up_days() {
    case()
        .given(spring_festival_case()[..2].to_vec())
        .when(ComplaintCommand::DispatchComplaint {
            unit: unit_a(),
            above: Vec::new(),
            at: at("2026-02-12 10:00"),
        })
        .then_expect_events(spring_festival_case()[2..].to_vec());
}

#[test]
fn a_sign_due_before_the_spring_festival_is_overdue_on_the_make_up_saturday() {
    case()
        .given(spring_festival_case())
        .when(ComplaintCommand::MarkSignOverdue {
            at: at("2026-02-14 09:00"),
        })
        .then_expect_events(vec![ComplaintEvent::SignOverdue {
            unit: unit_a(),
            due: day("2026-02-13"),
            at: at("2026-02-14 09:00"),
        }]);
}

#[test]
fn a_reply_due_after_the_spring_festival_is_not_overdue_during_it() {
    for when in ["2026-02-15 09:00", "2026-02-23 23:59", "2026-02-24 23:59"] {
        case()
            .given(spring_festival_case())
            .when(ComplaintCommand::MarkReplyOverdue { at: at(when) })
            .then_expect_error(refused(DeadlineRefusal::NotYetDue {
                kind: DeadlineKind::Reply,
                due: day("2026-02-24"),
            }));
    }
    case()
        .given(spring_festival_case())
        .when(ComplaintCommand::MarkReplyOverdue {
            at: at("2026-02-25 00:00"),
        })
        .then_expect_events(vec![ComplaintEvent::ReplyOverdue {
            unit: unit_a(),
            due: day("2026-02-24"),
            at: at("2026-02-25 00:00"),
        }]);
    // During the holiday one working day is left (24 Feb): a reminder is still in time.
    let calendar = WorkingCalendar::china();
    assert_eq!(
        calendar
            .working_days_left(day("2026-02-15"), day("2026-02-24"))
            .unwrap(),
        1
    );
    case()
        .given(spring_festival_case())
        .when(ComplaintCommand::RemindDeadline {
            kind: DeadlineKind::Reply,
            at: at("2026-02-15 09:00"),
        })
        .then_expect_events(vec![ComplaintEvent::DeadlineDueSoon {
            kind: DeadlineKind::Reply,
            due: day("2026-02-24"),
            at: at("2026-02-15 09:00"),
        }]);
}

#[test]
fn deadline_events_are_named_at_version_1_and_apply_in_any_state() {
    let events = [
        (sign_overdue(at("2025-09-29 00:00")), "SignOverdue"),
        (reply_overdue(at("2025-10-24 00:00")), "ReplyOverdue"),
        (
            ComplaintEvent::DeadlineDueSoon {
                kind: DeadlineKind::Sign,
                due: day("2025-09-28"),
                at: at("2025-09-27 09:00"),
            },
            "DeadlineDueSoon",
        ),
    ];
    for (event, name) in events {
        assert_eq!(event.event_type(), name);
        assert_eq!(event.event_version(), "1");
        let json = serde_json::to_value(&event).unwrap();
        assert!(json.get(name).is_some(), "{json}");
        for given in [Vec::new(), closed_case(), dispatched_case()] {
            let mut state = Complaint::default();
            for e in given {
                state.apply(e);
            }
            let status = state.status;
            state.apply(event.clone());
            assert_eq!(state.status, status, "{name} changes no status");
        }
    }
    let json = serde_json::to_value(ComplaintEvent::<SealedReporter>::DeadlineDueSoon {
        kind: DeadlineKind::Reply,
        due: day("2025-10-23"),
        at: at("2025-10-22 09:00"),
    })
    .unwrap();
    assert_eq!(json["DeadlineDueSoon"]["kind"], "reply");
    assert_eq!(json["DeadlineDueSoon"]["due"], "2025-10-23");
}

#[test]
fn a_state_saved_before_the_deadline_markings_loads_without_them() {
    let mut state = Complaint::default();
    for e in in_progress_case() {
        state.apply(e);
    }
    let mut json = serde_json::to_value(&state).unwrap();
    for field in [
        "sign_overdue_marked",
        "reply_overdue_marked",
        "sign_reminded",
        "reply_reminded",
    ] {
        json.as_object_mut().unwrap().remove(field);
    }
    let back: Complaint = serde_json::from_value(json).unwrap();
    assert_eq!(back, state);
}

// ------------------------------------- provisional deadlines recomputed (issue 4, item 6)

/// The shipped calendar plus a TEST schedule for 2027 (not the official one): 1–3 Jan
/// off, nothing else.
fn services_with_2027() -> ComplaintServices {
    let mut calendar = WorkingCalendar::china();
    calendar
        .add_year(crate::calendar::YearSchedule {
            year: 2027,
            holidays: vec![day("2027-01-01"), day("2027-01-02"), day("2027-01-03")],
            makeup_workdays: vec![],
        })
        .unwrap();
    ComplaintServices {
        calendar: Arc::new(calendar),
        limits: TimeLimits::default(),
    }
}

fn provisional(s: &str) -> Deadline {
    Deadline {
        due: day(s),
        provisional: true,
    }
}

/// The events `command` produces after `history` on the shipped calendar (so stored
/// deadlines are exactly what the aggregate computed before 2027 was loaded).
fn decided(history: &[ComplaintEvent], command: ComplaintCommand) -> Vec<ComplaintEvent> {
    let mut state = Complaint::default();
    for e in history {
        state.apply(e.clone());
    }
    state.decide(command, &services()).unwrap()
}

/// Filed and accepted, then dispatched on Thu 24 Dec 2026 10:00: sign by Fri 25 Dec
/// (final), reply (15 working days) by Thu 14 Jan 2027 on weekends alone (provisional).
fn dispatched_into_2027() -> Vec<ComplaintEvent> {
    let mut h = vec![filed(), accepted()];
    let d = decided(
        &h,
        ComplaintCommand::DispatchComplaint {
            unit: unit_a(),
            above: Vec::new(),
            at: at("2026-12-24 10:00"),
        },
    );
    assert_eq!(
        d,
        vec![ComplaintEvent::ComplaintDispatched {
            unit: unit_a(),
            sign_due: due("2026-12-25"),
            reply_due: provisional("2027-01-14"),
            at: at("2026-12-24 10:00"),
        }]
    );
    h.extend(d);
    h
}

fn recompute(local: &str) -> ComplaintCommand {
    ComplaintCommand::RecomputeProvisionalDeadlines { at: at(local) }
}

#[test]
fn a_provisional_reply_deadline_is_recomputed_once_the_year_is_loaded() {
    // With 1 Jan 2027 off the 15th working day moves from Thu 14 to Fri 15 Jan.
    Framework::with(services_with_2027())
        .given(dispatched_into_2027())
        .when(recompute("2026-12-26 09:00"))
        .then_expect_events(vec![ComplaintEvent::DeadlinesRecomputed {
            sign_due: None,
            reply_due: Some(due("2027-01-15")),
            at: at("2026-12-26 09:00"),
        }]);
    assert_eq!(
        ComplaintEvent::DeadlinesRecomputed {
            sign_due: None,
            reply_due: None,
            at: at("2026-12-26 09:00"),
        }
        .event_type(),
        "DeadlinesRecomputed"
    );
    assert_eq!(
        recompute("2026-12-26 09:00").kind(),
        "RecomputeProvisionalDeadlines"
    );
    assert_eq!(recompute("2026-12-26 09:00").at(), at("2026-12-26 09:00"));
}

#[test]
fn a_recomputed_deadline_is_final_and_never_recomputed_again() {
    let mut h = dispatched_into_2027();
    h.push(ComplaintEvent::DeadlinesRecomputed {
        sign_due: None,
        reply_due: Some(due("2027-01-15")),
        at: at("2026-12-26 09:00"),
    });
    Framework::with(services_with_2027())
        .given(h.clone())
        .when(recompute("2026-12-27 09:00"))
        .then_expect_error(DeadlineRefusal::NothingProvisional.into());
    // The new due day rules the deadline engine: 15 Jan is not passed on 15 Jan.
    Framework::with(services_with_2027())
        .given(h)
        .when(ComplaintCommand::MarkReplyOverdue {
            at: at("2027-01-15 12:00"),
        })
        .then_expect_error(
            DeadlineRefusal::NotYetDue {
                kind: DeadlineKind::Reply,
                due: day("2027-01-15"),
            }
            .into(),
        );
}

#[test]
fn a_final_deadline_is_never_recomputed() {
    Framework::with(services_with_2027())
        .given(dispatched_case())
        .when(recompute("2025-09-27 09:00"))
        .then_expect_error(DeadlineRefusal::NothingProvisional.into());
}

#[test]
fn a_deadline_still_provisional_after_counting_again_is_left_alone() {
    // 2027 not loaded yet: counting again gives the same weekends-only day.
    case()
        .given(dispatched_into_2027())
        .when(recompute("2026-12-26 09:00"))
        .then_expect_error(
            DeadlineRefusal::StillProvisional {
                kind: DeadlineKind::Reply,
                due: day("2027-01-14"),
            }
            .into(),
        );
}

#[test]
fn only_open_deadlines_are_recomputed() {
    let mut h = dispatched_into_2027();
    h.push(ComplaintEvent::ComplaintSigned {
        unit: unit_a(),
        at: at("2026-12-25 09:00"),
    });
    h.push(ComplaintEvent::ComplaintReplied {
        unit: unit_a(),
        content: "已处理".into(),
        at: at("2026-12-25 15:00"),
    });
    Framework::with(services_with_2027())
        .given(h)
        .when(recompute("2026-12-26 09:00"))
        .then_expect_error(DeadlineRefusal::NothingProvisional.into());
    Framework::with(services_with_2027())
        .given_no_previous_events()
        .when(recompute("2026-12-26 09:00"))
        .then_expect_error(ComplaintError::NotFound);
}

#[test]
fn a_provisional_deadline_already_passed_is_not_recomputed() {
    Framework::with(services_with_2027())
        .given(dispatched_into_2027())
        .when(recompute("2027-01-15 09:00"))
        .then_expect_error(
            DeadlineRefusal::Passed {
                kind: DeadlineKind::Reply,
                due: day("2027-01-14"),
            }
            .into(),
        );
}

#[test]
fn a_deadline_the_limits_in_force_do_not_reproduce_is_refused_not_guessed() {
    let mut changed = services_with_2027();
    changed.limits.complaint_working_days = 10;
    Framework::with(changed)
        .given(dispatched_into_2027())
        .when(recompute("2026-12-26 09:00"))
        .then_expect_error(
            DeadlineRefusal::NotReproducible {
                kind: DeadlineKind::Reply,
                due: day("2027-01-14"),
            }
            .into(),
        );
}

#[test]
fn sign_and_reply_deadlines_reaching_the_new_year_are_both_recomputed() {
    // Dispatched Thu 31 Dec 2026: sign (1 working day) on Fri 1 Jan 2027 on weekends
    // alone; with 1–3 Jan off it is Mon 4 Jan.
    let mut h = vec![filed(), accepted()];
    let d = decided(
        &h,
        ComplaintCommand::DispatchComplaint {
            unit: unit_a(),
            above: Vec::new(),
            at: at("2026-12-31 10:00"),
        },
    );
    assert_eq!(
        d,
        vec![ComplaintEvent::ComplaintDispatched {
            unit: unit_a(),
            sign_due: provisional("2027-01-01"),
            reply_due: provisional("2027-01-21"),
            at: at("2026-12-31 10:00"),
        }]
    );
    h.extend(d);
    Framework::with(services_with_2027())
        .given(h)
        .when(recompute("2026-12-31 11:00"))
        .then_expect_events(vec![ComplaintEvent::DeadlinesRecomputed {
            sign_due: Some(due("2027-01-04")),
            reply_due: Some(due("2027-01-22")),
            at: at("2026-12-31 11:00"),
        }]);
}

#[test]
fn an_extended_provisional_deadline_is_recomputed_with_its_extension() {
    let mut h = dispatched_into_2027();
    h.push(ComplaintEvent::ExtensionRequested {
        unit: unit_a(),
        working_days: 2,
        reason: "r".into(),
        at: at("2026-12-25 10:00"),
    });
    let approved = decided(
        &h,
        ComplaintCommand::ApproveExtension {
            note: "同意".into(),
            at: at("2026-12-25 11:00"),
        },
    );
    // 14 Jan + 2 working days on weekends alone: Mon 18 Jan.
    assert!(matches!(
        approved.as_slice(),
        [ComplaintEvent::ExtensionApproved { reply_due, .. }] if *reply_due == provisional("2027-01-18")
    ));
    h.extend(approved);
    // 15 Jan + 2: Tue 19 Jan.
    Framework::with(services_with_2027())
        .given(h)
        .when(recompute("2026-12-26 09:00"))
        .then_expect_events(vec![ComplaintEvent::DeadlinesRecomputed {
            sign_due: None,
            reply_due: Some(due("2027-01-19")),
            at: at("2026-12-26 09:00"),
        }]);
}

#[test]
fn a_reopened_provisional_deadline_is_recomputed_from_the_visit_day() {
    let mut h = dispatched_into_2027();
    h.push(ComplaintEvent::ComplaintSigned {
        unit: unit_a(),
        at: at("2026-12-25 09:00"),
    });
    h.push(ComplaintEvent::ComplaintReplied {
        unit: unit_a(),
        content: "已处理".into(),
        at: at("2026-12-25 15:00"),
    });
    let visit = decided(
        &h,
        ComplaintCommand::RecordVisit {
            satisfied: false,
            comment: "不满意".into(),
            at: at("2026-12-28 10:00"),
        },
    );
    // 10 working days after Mon 28 Dec on weekends alone: Mon 11 Jan 2027.
    assert!(matches!(
        visit.as_slice(),
        [_, ComplaintEvent::ComplaintReopened { reply_due, .. }] if *reply_due == provisional("2027-01-11")
    ));
    h.extend(visit);
    Framework::with(services_with_2027())
        .given(h)
        .when(recompute("2026-12-29 09:00"))
        .then_expect_events(vec![ComplaintEvent::DeadlinesRecomputed {
            sign_due: None,
            reply_due: Some(due("2027-01-12")),
            at: at("2026-12-29 09:00"),
        }]);
}
