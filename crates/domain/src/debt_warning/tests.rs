//! Given/when/then tests of the debt warning aggregate and of the evaluation rule, one
//! per rule, named as sentences.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::test::TestFramework;

use super::*;
use crate::calendar::WorkingCalendar;
use crate::integrity::IntegrityPolicy;

type Framework = TestFramework<DebtWarning>;

fn warning() -> Framework {
    Framework::with(IntegrityServices {
        calendar: Arc::new(WorkingCalendar::china()),
        policy: IntegrityPolicy::default(),
    })
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

/// A county government.
fn county() -> CreditCode {
    CreditCode::parse("113604000123456713").unwrap()
}

/// Another government.
fn other() -> CreditCode {
    CreditCode::parse("91330100716105852F").unwrap()
}

fn two_records() -> Vec<DebtWarningReason> {
    vec![DebtWarningReason::RecordsInWindow {
        count: 2,
        threshold: 2,
        window_start: day("2025-12-08"),
        record_ids: vec!["r-1".into(), "r-2".into()],
    }]
}

fn raise(subject_code: CreditCode, reasons: Vec<DebtWarningReason>) -> DebtWarningCommand {
    DebtWarningCommand::RaiseDebtWarning {
        subject_code,
        reasons,
        on: day("2026-12-07"),
        at: at("2026-12-07 10:00"),
    }
}

fn raised() -> DebtWarningEvent {
    DebtWarningEvent::DebtWarningRaised {
        subject_code: county(),
        reasons: two_records(),
        on: day("2026-12-07"),
        at: at("2026-12-07 10:00"),
    }
}

fn clear() -> DebtWarningCommand {
    DebtWarningCommand::ClearDebtWarning {
        on: day("2027-06-15"),
        at: at("2027-06-15 09:00"),
    }
}

fn cleared() -> DebtWarningEvent {
    DebtWarningEvent::DebtWarningCleared {
        subject_code: county(),
        on: day("2027-06-15"),
        at: at("2027-06-15 09:00"),
    }
}

#[test]
fn a_government_crossing_a_threshold_is_warned() {
    warning()
        .given_no_previous_events()
        .when(raise(county(), two_records()))
        .then_expect_events(vec![raised()]);
}

#[test]
fn a_cleared_warning_is_raised_again_when_a_threshold_is_crossed_again() {
    warning()
        .given(vec![raised(), cleared()])
        .when(raise(county(), two_records()))
        .then_expect_events(vec![raised()]);
}

#[test]
fn a_raised_warning_is_not_raised_twice() {
    warning()
        .given(vec![raised()])
        .when(raise(county(), two_records()))
        .then_expect_error(DebtWarningError::AlreadyRaised);
}

#[test]
fn a_warning_is_not_raised_without_a_reason() {
    warning()
        .given_no_previous_events()
        .when(raise(county(), Vec::new()))
        .then_expect_error(DebtWarningError::NoReasons);
}

#[test]
fn a_warning_is_not_raised_for_another_government_under_the_same_id() {
    warning()
        .given(vec![raised(), cleared()])
        .when(raise(other(), two_records()))
        .then_expect_error(DebtWarningError::OtherSubject);
}

#[test]
fn a_raised_warning_is_cleared_when_its_reasons_no_longer_hold() {
    warning()
        .given(vec![raised()])
        .when(clear())
        .then_expect_events(vec![cleared()]);
}

#[test]
fn a_warning_never_raised_is_not_cleared() {
    warning()
        .given_no_previous_events()
        .when(clear())
        .then_expect_error(DebtWarningError::NotRaised);
}

#[test]
fn a_cleared_warning_is_not_cleared_twice() {
    warning()
        .given(vec![raised(), cleared()])
        .when(clear())
        .then_expect_error(DebtWarningError::NotRaised);
}

fn record(id: &str, decided: &str) -> DebtRecordFact {
    DebtRecordFact {
        id: id.into(),
        decision_date: day(decided),
        active: true,
    }
}

fn rectification(id: &str, record_id: &str, due: &str, verified: bool) -> DebtRectificationFact {
    DebtRectificationFact {
        id: id.into(),
        record_id: record_id.into(),
        due: day(due),
        owed: !verified,
    }
}

#[test]
fn two_debt_records_in_twelve_months_warn_a_government() {
    let records = [record("r-2", "2026-11-20"), record("r-1", "2026-03-01")];
    assert_eq!(
        reasons(
            &DebtWarningPolicy::default(),
            day("2026-12-07"),
            &records,
            &[]
        ),
        vec![DebtWarningReason::RecordsInWindow {
            count: 2,
            threshold: 2,
            window_start: day("2025-12-08"),
            record_ids: vec!["r-1".into(), "r-2".into()],
        }]
    );
}

#[test]
fn one_debt_record_in_twelve_months_does_not_warn_a_government() {
    let records = [record("r-1", "2026-11-20")];
    assert!(reasons(
        &DebtWarningPolicy::default(),
        day("2026-12-07"),
        &records,
        &[]
    )
    .is_empty());
}

#[test]
fn a_record_decided_twelve_months_ago_has_left_the_window() {
    let records = [record("r-1", "2025-12-07"), record("r-2", "2026-11-20")];
    assert!(reasons(
        &DebtWarningPolicy::default(),
        day("2026-12-07"),
        &records,
        &[]
    )
    .is_empty());
    assert_eq!(
        reasons(
            &DebtWarningPolicy::default(),
            day("2026-12-06"),
            &records,
            &[]
        )
        .len(),
        1
    );
}

#[test]
fn a_withdrawn_debt_record_is_not_counted() {
    let mut withdrawn = record("r-1", "2026-03-01");
    withdrawn.active = false;
    let records = [withdrawn, record("r-2", "2026-11-20")];
    assert!(reasons(
        &DebtWarningPolicy::default(),
        day("2026-12-07"),
        &records,
        &[]
    )
    .is_empty());
}

#[test]
fn the_threshold_is_configurable() {
    let policy = DebtWarningPolicy {
        records_in_12_months: 3,
        overdue_rectification: true,
    };
    let records = [record("r-1", "2026-03-01"), record("r-2", "2026-11-20")];
    assert!(reasons(&policy, day("2026-12-07"), &records, &[]).is_empty());
}

#[test]
fn a_rectification_past_its_due_day_warns_a_government() {
    let records = [record("r-1", "2026-03-01")];
    let rects = [rectification("k-1", "r-1", "2026-12-01", false)];
    assert_eq!(
        reasons(
            &DebtWarningPolicy::default(),
            day("2026-12-07"),
            &records,
            &rects
        ),
        vec![DebtWarningReason::OverdueRectification {
            rectification_id: "k-1".into(),
            record_id: "r-1".into(),
            due: day("2026-12-01"),
        }]
    );
}

#[test]
fn a_rectification_is_not_overdue_on_its_due_day() {
    let records = [record("r-1", "2026-03-01")];
    let rects = [rectification("k-1", "r-1", "2026-12-07", false)];
    assert!(reasons(
        &DebtWarningPolicy::default(),
        day("2026-12-07"),
        &records,
        &rects
    )
    .is_empty());
}

#[test]
fn a_verified_rectification_does_not_warn_a_government() {
    let records = [record("r-1", "2026-03-01")];
    let rects = [rectification("k-1", "r-1", "2026-12-01", true)];
    assert!(reasons(
        &DebtWarningPolicy::default(),
        day("2026-12-07"),
        &records,
        &rects
    )
    .is_empty());
}

#[test]
fn the_overdue_rule_can_be_turned_off() {
    let policy = DebtWarningPolicy {
        records_in_12_months: 2,
        overdue_rectification: false,
    };
    let records = [record("r-1", "2026-03-01")];
    let rects = [rectification("k-1", "r-1", "2026-12-01", false)];
    assert!(reasons(&policy, day("2026-12-07"), &records, &rects).is_empty());
}
