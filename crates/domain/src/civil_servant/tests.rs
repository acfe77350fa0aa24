//! Given/when/then tests of the civil-servant aggregate, one per rule, named as sentences.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
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

// Sanctions (政务处分法 art. 8) and annual assessments (年度考核).

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn impose(
    id: &str,
    sanction_type: SanctionType,
    decision_ref: &str,
    decided: &str,
) -> CivilServantCommand {
    CivilServantCommand::ImposeSanction {
        sanction_id: id.into(),
        sanction_type,
        decision_ref: decision_ref.into(),
        decision_date: day(decided),
        at: at("2026-05-01 09:00"),
    }
}

fn imposed(
    id: &str,
    sanction_type: SanctionType,
    decision_ref: &str,
    decided: &str,
) -> CivilServantEvent {
    CivilServantEvent::SanctionImposed {
        sanction_id: id.into(),
        sanction_type,
        decision_ref: decision_ref.into(),
        decision_date: day(decided),
        period_months: sanction_type.period_months(),
        ends: sanction_type.ends(day(decided)),
        at: at("2026-05-01 09:00"),
    }
}

fn revoke(id: &str, reason: &str) -> CivilServantCommand {
    CivilServantCommand::RevokeSanction {
        sanction_id: id.into(),
        reason: reason.into(),
        at: at("2026-06-01 09:00"),
    }
}

fn revoked(id: &str) -> CivilServantEvent {
    CivilServantEvent::SanctionRevoked {
        sanction_id: id.into(),
        reason: "复审撤销原处分决定".into(),
        at: at("2026-06-01 09:00"),
    }
}

fn assess(year: i32, result: AssessmentResult) -> CivilServantCommand {
    CivilServantCommand::RecordAssessment {
        year,
        result,
        at: at("2026-12-01 09:00"),
    }
}

fn assessed(year: i32, result: AssessmentResult) -> CivilServantEvent {
    CivilServantEvent::AnnualAssessmentRecorded {
        year,
        result,
        at: at("2026-12-01 09:00"),
    }
}

#[test]
fn a_warning_is_imposed_with_a_period_of_six_months_from_the_decision_date() {
    person()
        .given(vec![registered()])
        .when(impose(
            "s-1",
            SanctionType::Warning,
            "九监处〔2026〕1号",
            "2026-04-10",
        ))
        .then_expect_events(vec![CivilServantEvent::SanctionImposed {
            sanction_id: "s-1".into(),
            sanction_type: SanctionType::Warning,
            decision_ref: "九监处〔2026〕1号".into(),
            decision_date: day("2026-04-10"),
            period_months: Some(6),
            ends: Some(day("2026-10-10")),
            at: at("2026-05-01 09:00"),
        }]);
}

#[test]
fn each_sanction_type_carries_its_statutory_period() {
    let decided = day("2026-01-31");
    let periods: Vec<_> = SanctionType::ALL
        .iter()
        .map(|t| (t.as_str(), t.period_months(), t.ends(decided)))
        .collect();
    assert_eq!(
        periods,
        vec![
            ("warning", Some(6), Some(day("2026-07-31"))),
            ("demerit", Some(12), Some(day("2027-01-31"))),
            ("major_demerit", Some(18), Some(day("2027-07-31"))),
            ("demotion", Some(24), Some(day("2028-01-31"))),
            ("dismissal", Some(24), Some(day("2028-01-31"))),
            ("expulsion", None, None),
        ]
    );
}

#[test]
fn an_expulsion_is_imposed_without_a_period() {
    person()
        .given(vec![registered()])
        .when(impose(
            "s-9",
            SanctionType::Expulsion,
            "九监处〔2026〕9号",
            "2026-04-10",
        ))
        .then_expect_events(vec![imposed(
            "s-9",
            SanctionType::Expulsion,
            "九监处〔2026〕9号",
            "2026-04-10",
        )]);
}

#[test]
fn a_sanction_of_an_unknown_civil_servant_is_not_found() {
    person()
        .given_no_previous_events()
        .when(impose(
            "s-1",
            SanctionType::Warning,
            "九监处〔2026〕1号",
            "2026-04-10",
        ))
        .then_expect_error(CivilServantError::NotFound);
}

#[test]
fn a_sanction_of_an_expelled_person_is_refused_as_they_left_the_service() {
    person()
        .given(vec![
            registered(),
            imposed(
                "s-9",
                SanctionType::Expulsion,
                "九监处〔2026〕9号",
                "2026-04-10",
            ),
        ])
        .when(impose(
            "s-2",
            SanctionType::Warning,
            "九监处〔2026〕2号",
            "2026-04-20",
        ))
        .then_expect_error(CivilServantError::LeftService(day("2026-04-10")));
}

#[test]
fn a_second_sanction_of_the_same_decision_is_refused() {
    person()
        .given(vec![
            registered(),
            imposed(
                "s-1",
                SanctionType::Warning,
                "九监处〔2026〕1号",
                "2026-04-10",
            ),
        ])
        .when(impose(
            "s-2",
            SanctionType::Demerit,
            " 九监处〔2026〕1号 ",
            "2026-04-10",
        ))
        .then_expect_error(CivilServantError::SanctionExists(
            "九监处〔2026〕1号".into(),
        ));
}

#[test]
fn a_sanction_reusing_an_id_is_refused() {
    let result = person()
        .given(vec![
            registered(),
            imposed(
                "s-1",
                SanctionType::Warning,
                "九监处〔2026〕1号",
                "2026-04-10",
            ),
        ])
        .when(impose(
            "s-1",
            SanctionType::Demerit,
            "九监处〔2026〕2号",
            "2026-04-10",
        ))
        .inspect_result();
    invalid("sanction_id")(result);
}

#[test]
fn a_sanction_decided_in_the_future_is_refused() {
    let result = person()
        .given(vec![registered()])
        .when(impose(
            "s-1",
            SanctionType::Warning,
            "九监处〔2026〕1号",
            "2026-05-02",
        ))
        .inspect_result();
    invalid("decision_date")(result);
}

#[test]
fn a_sanction_without_a_decision_reference_is_refused() {
    let result = person()
        .given(vec![registered()])
        .when(impose("s-1", SanctionType::Warning, "  ", "2026-04-10"))
        .inspect_result();
    invalid("decision_ref")(result);
}

#[test]
fn a_sanction_is_revoked_on_review_with_its_reason() {
    person()
        .given(vec![
            registered(),
            imposed(
                "s-1",
                SanctionType::Demerit,
                "九监处〔2026〕1号",
                "2026-04-10",
            ),
        ])
        .when(revoke("s-1", " 复审撤销原处分决定 "))
        .then_expect_events(vec![revoked("s-1")]);
}

#[test]
fn revoking_an_unknown_sanction_is_refused() {
    let result = person()
        .given(vec![registered()])
        .when(revoke("s-404", "复审撤销原处分决定"))
        .inspect_result();
    invalid("sanction_id")(result);
}

#[test]
fn revoking_a_sanction_twice_is_refused() {
    person()
        .given(vec![
            registered(),
            imposed(
                "s-1",
                SanctionType::Demerit,
                "九监处〔2026〕1号",
                "2026-04-10",
            ),
            revoked("s-1"),
        ])
        .when(revoke("s-1", "再次撤销"))
        .then_expect_error(CivilServantError::SanctionAlreadyRevoked("s-1".into()));
}

#[test]
fn revoking_without_a_reason_is_refused() {
    let result = person()
        .given(vec![
            registered(),
            imposed(
                "s-1",
                SanctionType::Demerit,
                "九监处〔2026〕1号",
                "2026-04-10",
            ),
        ])
        .when(revoke("s-1", " "))
        .inspect_result();
    invalid("reason")(result);
}

#[test]
fn revoking_for_an_unknown_civil_servant_is_not_found() {
    person()
        .given_no_previous_events()
        .when(revoke("s-1", "复审撤销原处分决定"))
        .then_expect_error(CivilServantError::NotFound);
}

#[test]
fn an_expelled_person_whose_expulsion_was_revoked_may_be_sanctioned_again() {
    person()
        .given(vec![
            registered(),
            imposed(
                "s-9",
                SanctionType::Expulsion,
                "九监处〔2026〕9号",
                "2026-04-10",
            ),
            revoked("s-9"),
        ])
        .when(impose(
            "s-2",
            SanctionType::Demotion,
            "九监处〔2026〕2号",
            "2026-04-20",
        ))
        .then_expect_events(vec![imposed(
            "s-2",
            SanctionType::Demotion,
            "九监处〔2026〕2号",
            "2026-04-20",
        )]);
}

#[test]
fn an_annual_assessment_is_recorded() {
    person()
        .given(vec![registered()])
        .when(assess(2025, AssessmentResult::Excellent))
        .then_expect_events(vec![assessed(2025, AssessmentResult::Excellent)]);
}

#[test]
fn a_second_assessment_of_the_same_year_is_refused() {
    person()
        .given(vec![
            registered(),
            assessed(2025, AssessmentResult::Competent),
        ])
        .when(assess(2025, AssessmentResult::Excellent))
        .then_expect_error(CivilServantError::AssessmentExists {
            year: 2025,
            result: AssessmentResult::Competent,
        });
}

#[test]
fn an_assessment_of_a_future_year_is_refused() {
    let result = person()
        .given(vec![registered()])
        .when(assess(2027, AssessmentResult::Competent))
        .inspect_result();
    invalid("year")(result);
}

#[test]
fn an_assessment_before_the_first_year_kept_is_refused() {
    let result = person()
        .given(vec![registered()])
        .when(assess(2005, AssessmentResult::Competent))
        .inspect_result();
    invalid("year")(result);
}

#[test]
fn an_assessment_of_an_unknown_civil_servant_is_not_found() {
    person()
        .given_no_previous_events()
        .when(assess(2025, AssessmentResult::Competent))
        .then_expect_error(CivilServantError::NotFound);
}

#[test]
fn a_warning_bars_the_grade_excellent_in_the_year_it_was_imposed() {
    person()
        .given(vec![
            registered(),
            imposed(
                "s-1",
                SanctionType::Warning,
                "九监处〔2026〕1号",
                "2026-04-10",
            ),
        ])
        .when(assess(2026, AssessmentResult::Excellent))
        .then_expect_error(CivilServantError::AssessmentRestricted {
            year: 2026,
            result: AssessmentResult::Excellent,
            sanction_type: SanctionType::Warning,
            bar: AssessmentBar::NotExcellent,
        });
}

#[test]
fn a_warning_still_allows_the_grade_competent_that_year() {
    person()
        .given(vec![
            registered(),
            imposed(
                "s-1",
                SanctionType::Warning,
                "九监处〔2026〕1号",
                "2026-04-10",
            ),
        ])
        .when(assess(2026, AssessmentResult::Competent))
        .then_expect_events(vec![assessed(2026, AssessmentResult::Competent)]);
}

#[test]
fn a_warning_does_not_bar_an_earlier_year() {
    person()
        .given(vec![
            registered(),
            imposed(
                "s-1",
                SanctionType::Warning,
                "九监处〔2026〕1号",
                "2026-04-10",
            ),
        ])
        .when(assess(2025, AssessmentResult::Excellent))
        .then_expect_events(vec![assessed(2025, AssessmentResult::Excellent)]);
}

#[test]
fn a_demerit_bars_every_grade_in_the_years_its_period_runs() {
    person()
        .given(vec![
            registered(),
            imposed(
                "s-1",
                SanctionType::Demerit,
                "九监处〔2025〕1号",
                "2025-03-10",
            ),
        ])
        .when(assess(2025, AssessmentResult::Competent))
        .then_expect_error(CivilServantError::AssessmentRestricted {
            year: 2025,
            result: AssessmentResult::Competent,
            sanction_type: SanctionType::Demerit,
            bar: AssessmentBar::NoGrade,
        });
}

#[test]
fn a_demerit_no_longer_bars_the_year_it_ends() {
    person()
        .given(vec![
            registered(),
            imposed(
                "s-1",
                SanctionType::Demerit,
                "九监处〔2025〕1号",
                "2025-03-10",
            ),
        ])
        .when(assess(2026, AssessmentResult::Excellent))
        .then_expect_events(vec![assessed(2026, AssessmentResult::Excellent)]);
}

#[test]
fn a_revoked_sanction_bars_nothing() {
    person()
        .given(vec![
            registered(),
            imposed(
                "s-1",
                SanctionType::Warning,
                "九监处〔2026〕1号",
                "2026-04-10",
            ),
            revoked("s-1"),
        ])
        .when(assess(2026, AssessmentResult::Excellent))
        .then_expect_events(vec![assessed(2026, AssessmentResult::Excellent)]);
}

#[test]
fn an_expelled_person_is_not_assessed_from_the_year_of_expulsion() {
    person()
        .given(vec![
            registered(),
            imposed(
                "s-9",
                SanctionType::Expulsion,
                "九监处〔2026〕9号",
                "2026-04-10",
            ),
        ])
        .when(assess(2026, AssessmentResult::Incompetent))
        .then_expect_error(CivilServantError::AssessmentRestricted {
            year: 2026,
            result: AssessmentResult::Incompetent,
            sanction_type: SanctionType::Expulsion,
            bar: AssessmentBar::LeftService,
        });
}

#[test]
fn the_person_is_restricted_from_honours_while_a_sanction_is_in_force() {
    let mut cs = CivilServant::default();
    cs.apply(registered());
    cs.apply(imposed(
        "s-1",
        SanctionType::MajorDemerit,
        "九监处〔2026〕1号",
        "2026-04-10",
    ));
    let reasons = cs.restriction(day("2027-10-09"));
    assert_eq!(
        reasons,
        vec![RestrictionReason {
            code: "sanction_in_force",
            sanction_id: "s-1".into(),
            sanction_type: SanctionType::MajorDemerit,
            until: Some(day("2027-10-10")),
        }]
    );
    assert!(
        cs.restriction(day("2027-10-10")).is_empty(),
        "the period ended"
    );
    assert!(
        cs.restriction(day("2026-04-09")).is_empty(),
        "not yet decided"
    );
}

#[test]
fn a_revoked_sanction_no_longer_restricts_the_person() {
    let mut cs = CivilServant::default();
    cs.apply(registered());
    cs.apply(imposed(
        "s-1",
        SanctionType::Demerit,
        "九监处〔2026〕1号",
        "2026-04-10",
    ));
    cs.apply(revoked("s-1"));
    assert!(cs.restriction(day("2026-06-02")).is_empty());
}

#[test]
fn an_expelled_person_is_restricted_without_end() {
    let mut cs = CivilServant::default();
    cs.apply(registered());
    cs.apply(imposed(
        "s-9",
        SanctionType::Expulsion,
        "九监处〔2026〕9号",
        "2026-04-10",
    ));
    let reasons = cs.restriction(day("2040-01-01"));
    assert_eq!(reasons.len(), 1);
    assert_eq!(reasons[0].code, "expelled");
    assert_eq!(reasons[0].until, None);
}

#[test]
fn the_new_events_are_named_in_the_past_tense_and_keep_version_one() {
    let events = [
        imposed("s-1", SanctionType::Warning, "r", "2026-04-10"),
        revoked("s-1"),
        assessed(2025, AssessmentResult::Competent),
    ];
    let names: Vec<_> = events.iter().map(|e| e.event_type()).collect();
    assert_eq!(
        names,
        vec![
            "SanctionImposed",
            "SanctionRevoked",
            "AnnualAssessmentRecorded"
        ]
    );
    assert!(events.iter().all(|e| e.event_version() == "1"));
}

#[test]
fn a_sanction_event_is_stored_with_snake_case_names() {
    let json = serde_json::to_value(imposed(
        "s-1",
        SanctionType::MajorDemerit,
        "r",
        "2026-04-10",
    ))
    .unwrap();
    let body = &json["SanctionImposed"];
    assert_eq!(body["sanction_type"], "major_demerit");
    assert_eq!(body["period_months"], 18);
    assert_eq!(body["ends"], "2027-10-10");
}
