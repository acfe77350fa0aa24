//! Given/when/then tests of the civil-servant aggregate, one per rule, named as sentences.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::test::TestFramework;

use super::*;
use crate::calendar::WorkingCalendar;
use crate::integrity::IntegrityPolicy;

type Framework = TestFramework<CivilServant>;

fn services() -> IntegrityServices {
    IntegrityServices {
        calendar: Arc::new(WorkingCalendar::china()),
        policy: IntegrityPolicy::default(),
    }
}

fn person() -> Framework {
    Framework::with(services())
}

/// An instant given in Asia/Shanghai time.
fn at(local: &str) -> DateTime<Utc> {
    DateTime::parse_from_str(&format!("{local} +0800"), "%Y-%m-%d %H:%M %z")
        .unwrap()
        .with_timezone(&Utc)
}

fn unit_a() -> CreditCode {
    CreditCode::parse("914403001922038216").unwrap()
}

fn sealed() -> SealedPerson {
    SealedPerson {
        key_id: "person-key-1".into(),
        ciphertext: "bm9uY2V8Y2lwaGVydGV4dA==".into(),
    }
}

fn register(person: SealedPerson) -> CivilServantCommand {
    CivilServantCommand::RegisterCivilServant {
        person,
        unit_code: unit_a(),
        at: at("2026-03-10 10:00"),
    }
}

fn registered() -> CivilServantEvent {
    CivilServantEvent::CivilServantRegistered {
        person: sealed(),
        unit_code: unit_a(),
        at: at("2026-03-10 10:00"),
    }
}

fn erase(reason: &str) -> CivilServantCommand {
    CivilServantCommand::ErasePersonalData {
        reason: reason.into(),
        at: at("2026-04-01 09:00"),
    }
}

fn erased() -> CivilServantEvent {
    CivilServantEvent::CivilServantDataErased {
        key_id: "person-key-1".into(),
        reason: "本人申请删除".into(),
        at: at("2026-04-01 09:00"),
    }
}

fn invalid(field: &'static str) -> impl Fn(Result<Vec<CivilServantEvent>, CivilServantError>) {
    move |result| match result {
        Err(CivilServantError::Invalid { field: f, .. }) => assert_eq!(f, field),
        other => panic!("expected Invalid {{ field: {field} }}, got {other:?}"),
    }
}

#[test]
fn a_civil_servant_is_registered_with_sealed_data() {
    person()
        .given_no_previous_events()
        .when(register(sealed()))
        .then_expect_events(vec![registered()]);
}

#[test]
fn a_civil_servant_registered_twice_is_already_registered() {
    person()
        .given(vec![registered()])
        .when(register(sealed()))
        .then_expect_error(CivilServantError::AlreadyRegistered);
}

#[test]
fn personal_data_without_a_key_is_refused_as_unsealed() {
    let result = person()
        .given_no_previous_events()
        .when(register(SealedPerson {
            key_id: String::new(),
            ..sealed()
        }))
        .inspect_result();
    invalid("identity_number")(result);
}

#[test]
fn personal_data_without_ciphertext_is_refused_as_unsealed() {
    let result = person()
        .given_no_previous_events()
        .when(register(SealedPerson {
            ciphertext: String::new(),
            ..sealed()
        }))
        .inspect_result();
    invalid("identity_number")(result);
}

#[test]
fn erasing_names_the_key_to_destroy_and_trims_the_reason() {
    person()
        .given(vec![registered()])
        .when(erase("  本人申请删除 "))
        .then_expect_events(vec![erased()]);
}

#[test]
fn erasing_twice_is_already_erased() {
    person()
        .given(vec![registered(), erased()])
        .when(erase("再次删除"))
        .then_expect_error(CivilServantError::AlreadyErased);
}

#[test]
fn erasing_an_unknown_civil_servant_is_not_found() {
    person()
        .given_no_previous_events()
        .when(erase("本人申请删除"))
        .then_expect_error(CivilServantError::NotFound);
}

#[test]
fn erasing_with_a_blank_reason_is_refused() {
    let result = person()
        .given(vec![registered()])
        .when(erase("   "))
        .inspect_result();
    invalid("reason")(result);
}

#[test]
fn the_state_keeps_the_unit_and_key_and_marks_erasure() {
    let mut cs = CivilServant::default();
    cs.apply(registered());
    assert_eq!(cs.unit_code, Some(unit_a()));
    assert_eq!(cs.key_id.as_deref(), Some("person-key-1"));
    assert!(!cs.erased);
    cs.apply(erased());
    assert!(cs.erased);
}
