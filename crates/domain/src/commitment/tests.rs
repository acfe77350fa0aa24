//! Given/when/then tests of the commitment aggregate, one per rule, named as sentences.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::test::TestFramework;

use super::*;
use crate::calendar::WorkingCalendar;
use crate::integrity::IntegrityPolicy;

type Framework = TestFramework<Commitment>;

fn services() -> IntegrityServices {
    IntegrityServices {
        calendar: Arc::new(WorkingCalendar::china()),
        policy: IntegrityPolicy::default(),
    }
}

fn commitment() -> Framework {
    Framework::with(services())
}

/// An instant given in Asia/Shanghai time.
fn at(local: &str) -> DateTime<Utc> {
    DateTime::parse_from_str(&format!("{local} +0800"), "%Y-%m-%d %H:%M %z")
        .unwrap()
        .with_timezone(&Utc)
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn township() -> CreditCode {
    CreditCode::parse("113604000123456713").unwrap()
}

fn unit_b() -> CreditCode {
    CreditCode::parse("91330100716105852F").unwrap()
}

fn make(by_unit: Option<CreditCode>, registered: bool, text: &str) -> CommitmentCommand {
    CommitmentCommand::MakeCommitment {
        subject_code: township(),
        subject_registered: registered,
        by_unit,
        kind: CommitmentKind::TownshipPublic,
        text: text.into(),
        due_date: Some(day("2026-12-31")),
        at: at("2026-03-10 10:00"),
    }
}

fn made(kind: CommitmentKind) -> CommitmentEvent {
    CommitmentEvent::CommitmentMade {
        subject_code: township(),
        kind,
        text: "年底前完成道路修缮".into(),
        due_date: Some(day("2026-12-31")),
        at: at("2026-03-10 10:00"),
    }
}

fn assess(level: Fulfilment, note: &str) -> CommitmentCommand {
    CommitmentCommand::AssessFulfilment {
        level,
        note: note.into(),
        at: at("2027-01-05 10:00"),
    }
}

fn assessed(level: Fulfilment, note: &str) -> CommitmentEvent {
    CommitmentEvent::FulfilmentAssessed {
        level,
        note: note.into(),
        at: at("2027-01-05 10:00"),
    }
}

fn invalid(field: &'static str) -> impl Fn(Result<Vec<CommitmentEvent>, CommitmentError>) {
    move |result| match result {
        Err(CommitmentError::Invalid { field: f, .. }) => assert_eq!(f, field),
        other => panic!("expected Invalid {{ field: {field} }}, got {other:?}"),
    }
}

// ---------------------------------------------------------------- making

#[test]
fn a_supervisor_records_a_subjects_commitment() {
    commitment()
        .given_no_previous_events()
        .when(make(None, true, " 年底前完成道路修缮 "))
        .then_expect_events(vec![made(CommitmentKind::TownshipPublic)]);
}

#[test]
fn a_handler_records_a_commitment_of_its_own_unit() {
    commitment()
        .given_no_previous_events()
        .when(make(Some(township()), true, "年底前完成道路修缮"))
        .then_expect_events(vec![made(CommitmentKind::TownshipPublic)]);
}

#[test]
fn a_handler_cannot_record_another_units_commitment() {
    commitment()
        .given_no_previous_events()
        .when(make(Some(unit_b()), true, "年底前完成道路修缮"))
        .then_expect_error(CommitmentError::NotOwnUnit);
}

#[test]
fn a_commitment_of_an_unregistered_subject_is_refused() {
    let result = commitment()
        .given_no_previous_events()
        .when(make(None, false, "年底前完成道路修缮"))
        .inspect_result();
    invalid("subject_code")(result);
}

#[test]
fn a_blank_commitment_text_is_refused() {
    let result = commitment()
        .given_no_previous_events()
        .when(make(None, true, "  "))
        .inspect_result();
    invalid("text")(result);
}

#[test]
fn making_the_same_commitment_twice_is_already_made() {
    commitment()
        .given(vec![made(CommitmentKind::TownshipPublic)])
        .when(make(None, true, "年底前完成道路修缮"))
        .then_expect_error(CommitmentError::AlreadyMade);
}

// ---------------------------------------------------------------- assessing

#[test]
fn a_fulfilled_commitment_is_assessed_without_a_proposed_record() {
    commitment()
        .given(vec![made(CommitmentKind::TownshipPublic)])
        .when(assess(Fulfilment::Fulfilled, " 已按期完成 "))
        .then_expect_events(vec![assessed(Fulfilment::Fulfilled, "已按期完成")]);
}

#[test]
fn a_partially_fulfilled_commitment_proposes_no_record() {
    commitment()
        .given(vec![made(CommitmentKind::TownshipPublic)])
        .when(assess(Fulfilment::PartiallyFulfilled, "完成一半"))
        .then_expect_events(vec![assessed(Fulfilment::PartiallyFulfilled, "完成一半")]);
}

#[test]
fn a_breached_township_commitment_proposes_an_ordinary_township_record() {
    commitment()
        .given(vec![made(CommitmentKind::TownshipPublic)])
        .when(assess(Fulfilment::Breached, "未修缮"))
        .then_expect_events(vec![
            assessed(Fulfilment::Breached, "未修缮"),
            CommitmentEvent::CommitmentBreached {
                proposed: ProposedRecord {
                    subject_code: township(),
                    sector: Sector::Township,
                    severity: Severity::Ordinary,
                    summary: "违背乡镇公开承诺：未修缮".into(),
                },
                at: at("2027-01-05 10:00"),
            },
        ]);
}

#[test]
fn a_breach_is_proposed_under_the_sector_of_the_commitments_kind() {
    for (kind, sector, label) in [
        (
            CommitmentKind::InvestmentPromise,
            Sector::Investment,
            "招商引资承诺",
        ),
        (
            CommitmentKind::TownshipPublic,
            Sector::Township,
            "乡镇公开承诺",
        ),
        (CommitmentKind::Repair, Sector::General, "信用修复承诺"),
    ] {
        commitment()
            .given(vec![made(kind)])
            .when(assess(Fulfilment::Breached, " 未兑现 "))
            .then_expect_events(vec![
                assessed(Fulfilment::Breached, "未兑现"),
                CommitmentEvent::CommitmentBreached {
                    proposed: ProposedRecord {
                        subject_code: township(),
                        sector,
                        severity: Severity::Ordinary,
                        summary: format!("违背{label}：未兑现"),
                    },
                    at: at("2027-01-05 10:00"),
                },
            ]);
    }
}

#[test]
fn assessing_twice_is_an_invalid_transition() {
    commitment()
        .given(vec![
            made(CommitmentKind::TownshipPublic),
            assessed(Fulfilment::Fulfilled, "已按期完成"),
        ])
        .when(assess(Fulfilment::Breached, "再评"))
        .then_expect_error(CommitmentError::InvalidTransition {
            action: "assess",
            status: CommitmentStatus::Assessed,
        });
}

#[test]
fn assessing_an_unknown_commitment_is_not_found() {
    commitment()
        .given_no_previous_events()
        .when(assess(Fulfilment::Fulfilled, "已按期完成"))
        .then_expect_error(CommitmentError::NotFound);
}

#[test]
fn an_assessment_with_a_blank_note_is_refused() {
    let result = commitment()
        .given(vec![made(CommitmentKind::TownshipPublic)])
        .when(assess(Fulfilment::Fulfilled, " "))
        .inspect_result();
    invalid("note")(result);
}

#[test]
fn a_commitment_can_be_assessed_before_its_due_date() {
    commitment()
        .given(vec![made(CommitmentKind::TownshipPublic)])
        .when(CommitmentCommand::AssessFulfilment {
            level: Fulfilment::Fulfilled,
            note: "提前完成".into(),
            at: at("2026-06-01 10:00"),
        })
        .then_expect_events(vec![CommitmentEvent::FulfilmentAssessed {
            level: Fulfilment::Fulfilled,
            note: "提前完成".into(),
            at: at("2026-06-01 10:00"),
        }]);
}

fn change(text: &str, due_date: Option<NaiveDate>, reason: &str) -> CommitmentCommand {
    CommitmentCommand::ChangeCommitment {
        text: text.into(),
        due_date,
        reason: reason.into(),
        decided_by: "九江市人民政府常务会议（2026年第5次）".into(),
        at: at("2026-06-01 10:00"),
    }
}

#[test]
fn a_commitment_is_changed_by_a_recorded_procedure_not_edited() {
    commitment()
        .given(vec![made(CommitmentKind::InvestmentPromise)])
        .when(change(
            " 2027年6月底前完成道路修缮 ",
            Some(day("2027-06-30")),
            "因防汛工程需要调整施工时序",
        ))
        .then_expect_events(vec![CommitmentEvent::CommitmentChanged {
            previous_text: "年底前完成道路修缮".into(),
            previous_due_date: Some(day("2026-12-31")),
            text: "2027年6月底前完成道路修缮".into(),
            due_date: Some(day("2027-06-30")),
            reason: "因防汛工程需要调整施工时序".into(),
            decided_by: "九江市人民政府常务会议（2026年第5次）".into(),
            at: at("2026-06-01 10:00"),
        }]);
}

#[test]
fn a_change_without_a_reason_is_refused() {
    let result = commitment()
        .given(vec![made(CommitmentKind::InvestmentPromise)])
        .when(change("2027年6月底前完成", None, " "))
        .inspect_result();
    invalid("reason")(result);
}

#[test]
fn a_change_that_changes_nothing_is_refused() {
    let result = commitment()
        .given(vec![made(CommitmentKind::TownshipPublic)])
        .when(change("年底前完成道路修缮", Some(day("2026-12-31")), "无"))
        .inspect_result();
    invalid("text")(result);
}

#[test]
fn an_assessed_commitment_is_not_changed() {
    commitment()
        .given(vec![
            made(CommitmentKind::TownshipPublic),
            assessed(Fulfilment::Fulfilled, "已完成"),
        ])
        .when(change("新的承诺", None, "调整"))
        .then_expect_error(CommitmentError::InvalidTransition {
            action: "change",
            status: CommitmentStatus::Assessed,
        });
}

#[test]
fn changing_an_unknown_commitment_is_not_found() {
    commitment()
        .given_no_previous_events()
        .when(change("新的承诺", None, "调整"))
        .then_expect_error(CommitmentError::NotFound);
}
