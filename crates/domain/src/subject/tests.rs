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
