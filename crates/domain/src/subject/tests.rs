//! Given/when/then tests of the subject aggregate, one per rule, named as sentences.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::test::TestFramework;

use super::*;
use crate::calendar::WorkingCalendar;
use crate::integrity::IntegrityPolicy;

type Framework = TestFramework<Subject>;

fn services() -> IntegrityServices {
    IntegrityServices {
        calendar: Arc::new(WorkingCalendar::china()),
        policy: IntegrityPolicy::default(),
    }
}

fn subject() -> Framework {
    Framework::with(services())
}

/// An instant given in Asia/Shanghai time.
fn at(local: &str) -> DateTime<Utc> {
    DateTime::parse_from_str(&format!("{local} +0800"), "%Y-%m-%d %H:%M %z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A government (the municipal people's government).
fn government() -> CreditCode {
    CreditCode::parse("113604000123456713").unwrap()
}

/// A department of that government.
fn department() -> CreditCode {
    CreditCode::parse("914403001922038216").unwrap()
}

fn other() -> CreditCode {
    CreditCode::parse("91330100716105852F").unwrap()
}

fn register(
    code: CreditCode,
    name: &str,
    kind: SubjectKind,
    parent: Option<(CreditCode, Option<SubjectKind>)>,
) -> SubjectCommand {
    SubjectCommand::RegisterSubject {
        code,
        name: name.into(),
        kind,
        parent,
        at: at("2026-03-10 10:00"),
    }
}

fn registered(
    code: CreditCode,
    name: &str,
    kind: SubjectKind,
    parent_code: Option<CreditCode>,
) -> SubjectEvent {
    SubjectEvent::SubjectRegistered {
        code,
        name: name.into(),
        kind,
        parent_code,
        at: at("2026-03-10 10:00"),
    }
}

fn invalid(field: &'static str) -> impl Fn(Result<Vec<SubjectEvent>, SubjectError>) {
    move |result| match result {
        Err(SubjectError::Invalid { field: f, .. }) => assert_eq!(f, field),
        other => panic!("expected Invalid {{ field: {field} }}, got {other:?}"),
    }
}

#[test]
fn a_government_without_parent_is_registered() {
    subject()
        .given_no_previous_events()
        .when(register(
            government(),
            "某市人民政府",
            SubjectKind::Government,
            None,
        ))
        .then_expect_events(vec![registered(
            government(),
            "某市人民政府",
            SubjectKind::Government,
            None,
        )]);
}

#[test]
fn a_department_is_registered_under_its_government_with_its_name_trimmed() {
    subject()
        .given_no_previous_events()
        .when(register(
            department(),
            "  某市发展和改革委员会 ",
            SubjectKind::Department,
            Some((government(), Some(SubjectKind::Government))),
        ))
        .then_expect_events(vec![registered(
            department(),
            "某市发展和改革委员会",
            SubjectKind::Department,
            Some(government()),
        )]);
}

#[test]
fn every_kind_of_subject_may_belong_to_a_government() {
    for kind in [
        SubjectKind::Government,
        SubjectKind::Department,
        SubjectKind::PublicInstitution,
        SubjectKind::Enterprise,
    ] {
        subject()
            .given_no_previous_events()
            .when(register(
                other(),
                "某单位",
                kind,
                Some((government(), Some(SubjectKind::Government))),
            ))
            .then_expect_events(vec![registered(
                other(),
                "某单位",
                kind,
                Some(government()),
            )]);
    }
}

#[test]
fn a_code_registered_twice_is_already_registered() {
    subject()
        .given(vec![registered(
            government(),
            "某市人民政府",
            SubjectKind::Government,
            None,
        )])
        .when(register(
            government(),
            "某市人民政府",
            SubjectKind::Government,
            None,
        ))
        .then_expect_error(SubjectError::AlreadyRegistered);
}

#[test]
fn a_blank_name_is_refused() {
    let result = subject()
        .given_no_previous_events()
        .when(register(
            government(),
            "  \t ",
            SubjectKind::Government,
            None,
        ))
        .inspect_result();
    invalid("name")(result);
}

#[test]
fn a_name_longer_than_the_limit_is_refused_and_one_at_the_limit_is_accepted() {
    let longest = "局".repeat(NAME_MAX_CHARS);
    subject()
        .given_no_previous_events()
        .when(register(
            government(),
            &longest,
            SubjectKind::Government,
            None,
        ))
        .then_expect_events(vec![registered(
            government(),
            &longest,
            SubjectKind::Government,
            None,
        )]);
    let result = subject()
        .given_no_previous_events()
        .when(register(
            government(),
            &"局".repeat(NAME_MAX_CHARS + 1),
            SubjectKind::Government,
            None,
        ))
        .inspect_result();
    invalid("name")(result);
}

#[test]
fn a_subject_cannot_be_its_own_parent() {
    let result = subject()
        .given_no_previous_events()
        .when(register(
            government(),
            "某市人民政府",
            SubjectKind::Government,
            Some((government(), Some(SubjectKind::Government))),
        ))
        .inspect_result();
    invalid("parent_code")(result);
}

#[test]
fn an_unregistered_parent_is_refused() {
    let result = subject()
        .given_no_previous_events()
        .when(register(
            department(),
            "某市发展和改革委员会",
            SubjectKind::Department,
            Some((government(), None)),
        ))
        .inspect_result();
    invalid("parent_code")(result);
}

#[test]
fn a_parent_that_is_not_a_government_is_refused() {
    for parent_kind in [
        SubjectKind::Department,
        SubjectKind::PublicInstitution,
        SubjectKind::Enterprise,
    ] {
        let result = subject()
            .given_no_previous_events()
            .when(register(
                other(),
                "某事业单位",
                SubjectKind::PublicInstitution,
                Some((department(), Some(parent_kind))),
            ))
            .inspect_result();
        invalid("parent_code")(result);
    }
}

#[test]
fn registering_sets_code_kind_and_parent() {
    let mut s = Subject::default();
    s.apply(registered(
        department(),
        "某市发展和改革委员会",
        SubjectKind::Department,
        Some(government()),
    ));
    assert_eq!(s.code, Some(department()));
    assert_eq!(s.kind, Some(SubjectKind::Department));
    assert_eq!(s.parent_code, Some(government()));
    assert_eq!(
        SubjectKind::PublicInstitution.as_str(),
        "public_institution"
    );
}

// ------------------------------------- repair frequency limits at approval (issue 10)

fn registered_department() -> SubjectEvent {
    SubjectEvent::SubjectRegistered {
        code: department(),
        name: "九江市某局".into(),
        kind: SubjectKind::Department,
        parent_code: Some(government()),
        at: at("2025-01-02 10:00"),
    }
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn count(repair_id: &str, earlier: Vec<NaiveDate>, when: &str) -> SubjectCommand {
    SubjectCommand::CountRepairApproval {
        repair_id: repair_id.into(),
        earlier,
        at: at(when),
    }
}

fn counted(repair_id: &str, on: &str) -> SubjectEvent {
    SubjectEvent::RepairApprovalCounted {
        repair_id: repair_id.into(),
        approved_on: day(on),
        at: at(&format!("{on} 10:00")),
    }
}

#[test]
fn a_first_repair_approval_is_counted_on_the_subject() {
    subject()
        .given(vec![registered_department()])
        .when(count("p-1", Vec::new(), "2026-03-10 10:00"))
        .then_expect_events(vec![counted("p-1", "2026-03-10")]);
}

#[test]
fn a_second_approval_the_same_day_is_refused_with_the_day_it_becomes_possible() {
    subject()
        .given(vec![registered_department(), counted("p-1", "2026-03-10")])
        .when(count("p-2", Vec::new(), "2026-03-10 11:00"))
        .then_expect_error(SubjectError::RepairNotEligible {
            reason: "the unit's last repair is too recent".into(),
            possible_from: Some(day("2027-03-10")),
        });
}

#[test]
fn an_approval_within_a_year_of_an_earlier_one_outside_the_ledger_is_refused() {
    subject()
        .given(vec![registered_department()])
        .when(count("p-2", vec![day("2025-09-01")], "2026-03-10 11:00"))
        .then_expect_error(SubjectError::RepairNotEligible {
            reason: "the unit's last repair is too recent".into(),
            possible_from: Some(day("2026-09-01")),
        });
}

#[test]
fn a_third_approval_in_five_years_is_refused_until_the_oldest_leaves_the_window() {
    subject()
        .given(vec![
            registered_department(),
            counted("p-1", "2023-01-10"),
            counted("p-2", "2024-06-10"),
        ])
        .when(count("p-3", Vec::new(), "2026-03-10 10:00"))
        .then_expect_error(SubjectError::RepairNotEligible {
            reason: "the unit reached the most repairs allowed in the period".into(),
            possible_from: Some(day("2028-01-10")),
        });
}

#[test]
fn a_revoked_repair_still_counts_because_the_ledger_keeps_it() {
    // The ledger never forgets an approval for a revocation: only an approval that did
    // not happen is taken back.
    subject()
        .given(vec![registered_department(), counted("p-1", "2026-01-05")])
        .when(count("p-2", Vec::new(), "2026-03-10 10:00"))
        .then_expect_error(SubjectError::RepairNotEligible {
            reason: "the unit's last repair is too recent".into(),
            possible_from: Some(day("2027-01-05")),
        });
}

#[test]
fn an_approval_is_counted_once() {
    subject()
        .given(vec![registered_department(), counted("p-1", "2025-01-05")])
        .when(count("p-1", Vec::new(), "2026-03-10 10:00"))
        .then_expect_error(SubjectError::AlreadyCounted {
            repair_id: "p-1".into(),
        });
}

#[test]
fn an_approval_is_counted_only_for_a_registered_subject() {
    subject()
        .given_no_previous_events()
        .when(count("p-1", Vec::new(), "2026-03-10 10:00"))
        .then_expect_error(SubjectError::NotFound);
}

#[test]
fn a_counted_approval_that_did_not_happen_is_taken_back() {
    let uncounted = SubjectEvent::RepairApprovalUncounted {
        repair_id: "p-1".into(),
        at: at("2026-03-10 10:01"),
    };
    subject()
        .given(vec![registered_department(), counted("p-1", "2026-03-10")])
        .when(SubjectCommand::UncountRepairApproval {
            repair_id: "p-1".into(),
            at: at("2026-03-10 10:01"),
        })
        .then_expect_events(vec![uncounted.clone()]);
    // Taken back, it no longer counts: another repair may be approved.
    subject()
        .given(vec![
            registered_department(),
            counted("p-1", "2026-03-10"),
            uncounted,
        ])
        .when(count("p-2", Vec::new(), "2026-03-10 10:00"))
        .then_expect_events(vec![counted("p-2", "2026-03-10")]);
}

#[test]
fn only_a_counted_approval_is_taken_back() {
    subject()
        .given(vec![registered_department()])
        .when(SubjectCommand::UncountRepairApproval {
            repair_id: "p-9".into(),
            at: at("2026-03-10 10:01"),
        })
        .then_expect_error(SubjectError::NotCounted {
            repair_id: "p-9".into(),
        });
}
