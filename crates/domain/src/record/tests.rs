//! Given/when/then tests of the dishonesty-record aggregate, one per rule, named as
//! sentences. Times are written in Asia/Shanghai.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::test::TestFramework;

use super::*;
use crate::integrity::{IntegrityPolicy, PublicityRule};

type Framework = TestFramework<DishonestyRecord>;

fn services() -> IntegrityServices {
    IntegrityServices {
        calendar: Arc::new(WorkingCalendar::china()),
        policy: IntegrityPolicy::default(),
    }
}

fn record() -> Framework {
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

/// The unit the record is about.
fn unit_a() -> CreditCode {
    CreditCode::parse("914403001922038216").unwrap()
}

/// The recording authority.
fn authority() -> CreditCode {
    CreditCode::parse("113604000123456713").unwrap()
}

fn civil_servant() -> RecordTarget {
    RecordTarget::CivilServant {
        id: "cs-1".into(),
        unit_code: unit_a(),
    }
}

/// The fields of a `RecordDishonesty` command, with defaults: an ordinary general record
/// of unit A from an administrative penalty decided on Mon 2 Mar 2026, recorded on
/// Tue 10 Mar 2026 by the authority.
#[derive(Clone)]
struct Draft {
    target: RecordTarget,
    target_registered: bool,
    source: Source,
    source_ref: String,
    decision_date: NaiveDate,
    severity: Severity,
    sector: Sector,
    summary: String,
    complaint: Option<(String, bool)>,
    publish_minor: bool,
    ban_years: Option<u32>,
    offence: Option<Offence>,
    recorded_by: Option<CreditCode>,
    at: DateTime<Utc>,
}

fn draft() -> Draft {
    Draft {
        target: RecordTarget::Subject { code: unit_a() },
        target_registered: true,
        source: Source::AdministrativePenalty,
        source_ref: "市监罚〔2026〕12号".into(),
        decision_date: day("2026-03-02"),
        severity: Severity::Ordinary,
        sector: Sector::General,
        summary: "未按合同约定支付中小企业账款".into(),
        complaint: None,
        publish_minor: false,
        ban_years: None,
        offence: None,
        recorded_by: Some(authority()),
        at: at("2026-03-10 10:00"),
    }
}

impl Draft {
    fn command(self) -> RecordCommand {
        RecordCommand::RecordDishonesty {
            target: self.target,
            target_registered: self.target_registered,
            source: self.source,
            source_ref: self.source_ref,
            decision_date: self.decision_date,
            severity: self.severity,
            sector: self.sector,
            summary: self.summary,
            complaint: self.complaint,
            publish_minor: self.publish_minor,
            ban_years: self.ban_years,
            offence: self.offence,
            recorded_by: self.recorded_by,
            at: self.at,
        }
    }

    /// The event this draft is recorded as, under `policy`.
    fn event_under(self, policy: PublicityPolicy) -> RecordEvent {
        let publicity = policy.window(
            self.severity,
            self.decision_date,
            self.target.personal(),
            self.publish_minor,
        );
        RecordEvent::DishonestyRecorded {
            ban_until: self
                .ban_years
                .map(|y| add_months(self.decision_date, y * 12)),
            target: self.target,
            source: self.source,
            source_ref: self.source_ref.trim().to_string(),
            decision_date: self.decision_date,
            severity: self.severity,
            sector: self.sector,
            summary: self.summary.trim().to_string(),
            complaint_id: self.complaint.map(|(id, _)| id),
            publish_minor: self.publish_minor,
            ban_years: self.ban_years,
            offence: self.offence,
            recorded_by: self.recorded_by,
            publicity,
            policy,
            at: self.at,
        }
    }

    fn event(self) -> RecordEvent {
        self.event_under(PublicityPolicy::default())
    }
}

fn recorded() -> RecordEvent {
    draft().event()
}

fn withdrawn() -> RecordEvent {
    RecordEvent::RecordWithdrawn {
        reason: "原处罚决定已被撤销".into(),
        at: at("2026-04-01 10:00"),
    }
}

fn withdraw(reason: &str) -> RecordCommand {
    RecordCommand::WithdrawRecord {
        reason: reason.into(),
        at: at("2026-04-01 10:00"),
    }
}

fn upheld(id: &str, outcome: Option<ObjectionOutcome>) -> UpheldObjection {
    UpheldObjection {
        objection_id: id.into(),
        about_this_record: true,
        outcome,
    }
}

/// A correction of the summary only, on an upheld `Correct` objection.
fn correct_summary(objection: UpheldObjection, summary: &str) -> RecordCommand {
    RecordCommand::CorrectRecord {
        objection,
        summary: Some(summary.into()),
        severity: None,
        sector: None,
        decision_date: None,
        at: at("2026-03-20 10:00"),
    }
}

fn correct_severity(severity: Severity) -> RecordCommand {
    RecordCommand::CorrectRecord {
        objection: upheld("objection-1", Some(ObjectionOutcome::Correct)),
        summary: None,
        severity: Some(severity),
        sector: None,
        decision_date: None,
        at: at("2026-03-20 10:00"),
    }
}

/// The only event of a successful command.
fn the_event(result: Result<Vec<RecordEvent>, RecordError>) -> RecordEvent {
    let mut events = result.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    events.remove(0)
}

fn publicity_of(event: &RecordEvent) -> Publicity {
    match event {
        RecordEvent::DishonestyRecorded { publicity, .. }
        | RecordEvent::RecordCorrected { publicity, .. } => publicity.clone(),
        other => panic!("no publicity in {other:?}"),
    }
}

fn invalid(field: &'static str) -> impl Fn(Result<Vec<RecordEvent>, RecordError>) {
    move |result| match result {
        Err(RecordError::Invalid { field: f, .. }) => assert_eq!(f, field),
        other => panic!("expected Invalid {{ field: {field} }}, got {other:?}"),
    }
}

fn window(published: bool, start: &str, repair_from: &str, ends: &str) -> Publicity {
    Publicity {
        published,
        start: day(start),
        repair_possible_from: day(repair_from),
        ends: day(ends),
        policy: "fgw-2025-36".into(),
        policy_version: 1,
    }
}

// ---------------------------------------------------------------- recording (认定)

#[test]
fn a_finding_is_recorded_with_its_window_and_policy() {
    record()
        .given_no_previous_events()
        .when(
            Draft {
                source_ref: " 市监罚〔2026〕12号 ".into(),
                summary: "  未按合同约定支付中小企业账款\n".into(),
                ..draft()
            }
            .command(),
        )
        .then_expect_events(vec![recorded()]);
}

#[test]
fn an_ordinary_record_is_published_a_year_and_repairable_after_three_months() {
    let event = the_event(
        record()
            .given_no_previous_events()
            .when(draft().command())
            .inspect_result(),
    );
    assert_eq!(
        publicity_of(&event),
        window(true, "2026-03-02", "2026-06-02", "2027-03-02")
    );
}

#[test]
fn a_serious_record_is_published_three_years_and_repairable_after_one() {
    let event = the_event(
        record()
            .given_no_previous_events()
            .when(
                Draft {
                    severity: Severity::Serious,
                    ..draft()
                }
                .command(),
            )
            .inspect_result(),
    );
    assert_eq!(
        publicity_of(&event),
        window(true, "2026-03-02", "2027-03-02", "2029-03-02")
    );
}

#[test]
fn a_minor_record_is_not_published_by_default() {
    let event = the_event(
        record()
            .given_no_previous_events()
            .when(
                Draft {
                    severity: Severity::Minor,
                    ..draft()
                }
                .command(),
            )
            .inspect_result(),
    );
    assert_eq!(
        publicity_of(&event),
        window(false, "2026-03-02", "2026-03-02", "2026-06-02")
    );
}

#[test]
fn a_minor_record_is_published_when_the_recorder_asks() {
    let event = the_event(
        record()
            .given_no_previous_events()
            .when(
                Draft {
                    severity: Severity::Minor,
                    publish_minor: true,
                    ..draft()
                }
                .command(),
            )
            .inspect_result(),
    );
    assert_eq!(
        publicity_of(&event),
        window(true, "2026-03-02", "2026-03-02", "2026-06-02")
    );
}

#[test]
fn publishing_is_chosen_only_for_a_minor_record() {
    for severity in [Severity::Ordinary, Severity::Serious] {
        let result = record()
            .given_no_previous_events()
            .when(
                Draft {
                    severity,
                    publish_minor: true,
                    ..draft()
                }
                .command(),
            )
            .inspect_result();
        invalid("publish")(result);
    }
}

#[test]
fn a_civil_servants_record_is_never_published() {
    for severity in [Severity::Minor, Severity::Ordinary, Severity::Serious] {
        let event = the_event(
            record()
                .given_no_previous_events()
                .when(
                    Draft {
                        target: civil_servant(),
                        severity,
                        source: Source::Sanction,
                        ..draft()
                    }
                    .command(),
                )
                .inspect_result(),
        );
        assert!(!publicity_of(&event).published, "{severity:?}");
    }
}

#[test]
fn asking_to_publish_a_civil_servants_minor_record_is_refused() {
    let result = record()
        .given_no_previous_events()
        .when(
            Draft {
                target: civil_servant(),
                severity: Severity::Minor,
                publish_minor: true,
                ..draft()
            }
            .command(),
        )
        .inspect_result();
    invalid("publish")(result);
}

#[test]
fn a_record_is_made_under_the_policy_in_force() {
    let custom = custom_policy();
    let services = IntegrityServices {
        policy: IntegrityPolicy {
            publicity: custom.clone(),
            ..IntegrityPolicy::default()
        },
        ..services()
    };
    Framework::with(services)
        .given_no_previous_events()
        .when(draft().command())
        .then_expect_events(vec![draft().event_under(custom)]);
}

#[test]
fn a_procurement_ban_lasts_one_to_three_years() {
    for years in [1, 3] {
        record()
            .given_no_previous_events()
            .when(
                Draft {
                    sector: Sector::Procurement,
                    ban_years: Some(years),
                    ..draft()
                }
                .command(),
            )
            .then_expect_events(vec![Draft {
                sector: Sector::Procurement,
                ban_years: Some(years),
                ..draft()
            }
            .event()]);
    }
    for years in [0, 4] {
        let result = record()
            .given_no_previous_events()
            .when(
                Draft {
                    sector: Sector::Procurement,
                    ban_years: Some(years),
                    ..draft()
                }
                .command(),
            )
            .inspect_result();
        invalid("ban_years")(result);
    }
}

#[test]
fn a_bidding_or_ppp_ban_lasts_one_to_five_years() {
    for sector in [Sector::Bidding, Sector::Ppp] {
        for years in [1, 5] {
            let event = the_event(
                record()
                    .given_no_previous_events()
                    .when(
                        Draft {
                            sector,
                            ban_years: Some(years),
                            ..draft()
                        }
                        .command(),
                    )
                    .inspect_result(),
            );
            assert_eq!(
                event,
                Draft {
                    sector,
                    ban_years: Some(years),
                    ..draft()
                }
                .event()
            );
        }
        for years in [0, 6] {
            let result = record()
                .given_no_previous_events()
                .when(
                    Draft {
                        sector,
                        ban_years: Some(years),
                        ..draft()
                    }
                    .command(),
                )
                .inspect_result();
            invalid("ban_years")(result);
        }
    }
}

#[test]
fn the_ban_ends_the_given_number_of_years_after_the_decision() {
    let event = the_event(
        record()
            .given_no_previous_events()
            .when(
                Draft {
                    sector: Sector::Bidding,
                    ban_years: Some(3),
                    ..draft()
                }
                .command(),
            )
            .inspect_result(),
    );
    match event {
        RecordEvent::DishonestyRecorded { ban_until, .. } => {
            assert_eq!(ban_until, Some(day("2029-03-02")))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_sector_without_ban_refuses_ban_years() {
    for sector in [
        Sector::General,
        Sector::Investment,
        Sector::Debt,
        Sector::Township,
    ] {
        let result = record()
            .given_no_previous_events()
            .when(
                Draft {
                    sector,
                    ban_years: Some(1),
                    ..draft()
                }
                .command(),
            )
            .inspect_result();
        invalid("ban_years")(result);
    }
}

#[test]
fn a_sector_with_a_ban_may_be_recorded_without_one() {
    record()
        .given_no_previous_events()
        .when(
            Draft {
                sector: Sector::Procurement,
                ..draft()
            }
            .command(),
        )
        .then_expect_events(vec![Draft {
            sector: Sector::Procurement,
            ..draft()
        }
        .event()]);
}

#[test]
fn a_decision_date_in_the_future_is_refused() {
    let result = record()
        .given_no_previous_events()
        .when(
            Draft {
                decision_date: day("2026-03-11"),
                ..draft()
            }
            .command(),
        )
        .inspect_result();
    invalid("decision_date")(result);
}

#[test]
fn a_decision_dated_today_in_shanghai_is_accepted() {
    // 07:00 on 11 Mar in Shanghai is still 10 Mar in UTC.
    let today = Draft {
        decision_date: day("2026-03-11"),
        at: at("2026-03-11 07:00"),
        ..draft()
    };
    record()
        .given_no_previous_events()
        .when(today.clone().command())
        .then_expect_events(vec![today.event()]);
}

#[test]
fn a_record_from_a_complaint_must_name_the_complaint() {
    let result = record()
        .given_no_previous_events()
        .when(
            Draft {
                source: Source::Complaint,
                ..draft()
            }
            .command(),
        )
        .inspect_result();
    invalid("complaint_id")(result);
}

#[test]
fn a_record_from_a_complaint_carries_the_complaint_id() {
    let from_complaint = Draft {
        source: Source::Complaint,
        complaint: Some(("complaint-7".into(), true)),
        ..draft()
    };
    record()
        .given_no_previous_events()
        .when(from_complaint.clone().command())
        .then_expect_events(vec![from_complaint.event()]);
}

#[test]
fn an_unknown_complaint_is_refused() {
    let result = record()
        .given_no_previous_events()
        .when(
            Draft {
                source: Source::Complaint,
                complaint: Some(("complaint-404".into(), false)),
                ..draft()
            }
            .command(),
        )
        .inspect_result();
    invalid("complaint_id")(result);
}

#[test]
fn an_unregistered_subject_is_refused() {
    let result = record()
        .given_no_previous_events()
        .when(
            Draft {
                target_registered: false,
                ..draft()
            }
            .command(),
        )
        .inspect_result();
    invalid("subject_code")(result);
}

#[test]
fn an_unregistered_civil_servant_is_refused() {
    let result = record()
        .given_no_previous_events()
        .when(
            Draft {
                target: civil_servant(),
                target_registered: false,
                ..draft()
            }
            .command(),
        )
        .inspect_result();
    invalid("civil_servant_id")(result);
}

#[test]
fn a_blank_source_reference_or_summary_is_refused() {
    let result = record()
        .given_no_previous_events()
        .when(
            Draft {
                source_ref: "  ".into(),
                ..draft()
            }
            .command(),
        )
        .inspect_result();
    invalid("source_ref")(result);
    let result = record()
        .given_no_previous_events()
        .when(
            Draft {
                summary: "".into(),
                ..draft()
            }
            .command(),
        )
        .inspect_result();
    invalid("summary")(result);
    let result = record()
        .given_no_previous_events()
        .when(
            Draft {
                summary: "事".repeat(SUMMARY_MAX_CHARS + 1),
                ..draft()
            }
            .command(),
        )
        .inspect_result();
    invalid("summary")(result);
}

#[test]
fn recording_the_same_source_decision_twice_is_already_recorded() {
    record()
        .given(vec![recorded()])
        .when(draft().command())
        .then_expect_error(RecordError::AlreadyRecorded);
}

#[test]
fn the_record_id_is_deterministic_per_source_and_reference() {
    let id = record_id_for(Source::AdministrativePenalty, "市监罚〔2026〕12号");
    assert_eq!(
        id,
        record_id_for(Source::AdministrativePenalty, "市监罚〔2026〕12号")
    );
    assert_eq!(
        id,
        record_id_for(Source::AdministrativePenalty, "  市监罚〔2026〕12号 "),
        "the reference is trimmed"
    );
    assert_ne!(id, record_id_for(Source::Audit, "市监罚〔2026〕12号"));
    assert_ne!(
        id,
        record_id_for(Source::AdministrativePenalty, "市监罚〔2026〕13号")
    );
    assert!(uuid::Uuid::parse_str(&id).is_ok());
}

// ---------------------------------------------------------------- withdrawing (撤销)

#[test]
fn a_record_is_withdrawn_with_a_trimmed_reason() {
    record()
        .given(vec![recorded()])
        .when(withdraw(" 原处罚决定已被撤销 "))
        .then_expect_events(vec![withdrawn()]);
}

#[test]
fn withdrawing_twice_is_refused() {
    record()
        .given(vec![recorded(), withdrawn()])
        .when(withdraw("再次撤销"))
        .then_expect_error(RecordError::Withdrawn { action: "withdraw" });
}

#[test]
fn withdrawing_an_unknown_record_is_not_found() {
    record()
        .given_no_previous_events()
        .when(withdraw("原处罚决定已被撤销"))
        .then_expect_error(RecordError::NotFound);
}

#[test]
fn withdrawing_without_a_reason_is_refused() {
    let result = record()
        .given(vec![recorded()])
        .when(withdraw(" "))
        .inspect_result();
    invalid("reason")(result);
}

// ---------------------------------------------------------------- correcting (更正)

#[test]
fn an_upheld_correct_objection_corrects_the_summary() {
    record()
        .given(vec![recorded()])
        .when(correct_summary(
            upheld("objection-1", Some(ObjectionOutcome::Correct)),
            " 更正后的事实 ",
        ))
        .then_expect_events(vec![RecordEvent::RecordCorrected {
            objection_id: "objection-1".into(),
            summary: "更正后的事实".into(),
            severity: Severity::Ordinary,
            sector: Sector::General,
            decision_date: day("2026-03-02"),
            ban_until: None,
            publicity: window(true, "2026-03-02", "2026-06-02", "2027-03-02"),
            at: at("2026-03-20 10:00"),
        }]);
}

#[test]
fn an_upheld_complete_objection_completes_the_record() {
    let event = the_event(
        record()
            .given(vec![recorded()])
            .when(correct_summary(
                upheld("objection-1", Some(ObjectionOutcome::Complete)),
                "补充：已部分支付",
            ))
            .inspect_result(),
    );
    assert!(
        matches!(event, RecordEvent::RecordCorrected { summary, .. } if summary == "补充：已部分支付")
    );
}

#[test]
fn a_severity_correction_recomputes_the_window() {
    let event = the_event(
        record()
            .given(vec![recorded()])
            .when(correct_severity(Severity::Serious))
            .inspect_result(),
    );
    assert_eq!(
        publicity_of(&event),
        window(true, "2026-03-02", "2027-03-02", "2029-03-02")
    );
    assert!(matches!(
        event,
        RecordEvent::RecordCorrected { summary, severity: Severity::Serious, .. }
            if summary == "未按合同约定支付中小企业账款"
    ));
}

#[test]
fn a_decision_date_correction_moves_the_window_and_the_ban() {
    let given = Draft {
        sector: Sector::Procurement,
        ban_years: Some(2),
        ..draft()
    };
    record()
        .given(vec![given.event()])
        .when(RecordCommand::CorrectRecord {
            objection: upheld("objection-1", Some(ObjectionOutcome::Correct)),
            summary: None,
            severity: None,
            sector: None,
            decision_date: Some(day("2026-02-27")),
            at: at("2026-03-20 10:00"),
        })
        .then_expect_events(vec![RecordEvent::RecordCorrected {
            objection_id: "objection-1".into(),
            summary: "未按合同约定支付中小企业账款".into(),
            severity: Severity::Ordinary,
            sector: Sector::Procurement,
            decision_date: day("2026-02-27"),
            ban_until: Some(day("2028-02-27")),
            publicity: window(true, "2026-02-27", "2026-05-27", "2027-02-27"),
            at: at("2026-03-20 10:00"),
        }]);
}

#[test]
fn a_corrected_decision_date_in_the_future_is_refused() {
    let result = record()
        .given(vec![recorded()])
        .when(RecordCommand::CorrectRecord {
            objection: upheld("objection-1", Some(ObjectionOutcome::Correct)),
            summary: None,
            severity: None,
            sector: None,
            decision_date: Some(day("2026-03-21")),
            at: at("2026-03-20 10:00"),
        })
        .inspect_result();
    invalid("decision_date")(result);
}

#[test]
fn moving_a_record_to_a_sector_without_ban_drops_the_ban() {
    let given = Draft {
        sector: Sector::Bidding,
        ban_years: Some(3),
        ..draft()
    };
    let event = the_event(
        record()
            .given(vec![given.event()])
            .when(RecordCommand::CorrectRecord {
                objection: upheld("objection-1", Some(ObjectionOutcome::Correct)),
                summary: None,
                severity: None,
                sector: Some(Sector::General),
                decision_date: None,
                at: at("2026-03-20 10:00"),
            })
            .inspect_result(),
    );
    assert!(matches!(
        event,
        RecordEvent::RecordCorrected {
            sector: Sector::General,
            ban_until: None,
            ..
        }
    ));
}

#[test]
fn moving_a_ban_to_a_sector_whose_range_excludes_it_is_refused() {
    let given = Draft {
        sector: Sector::Bidding,
        ban_years: Some(5),
        ..draft()
    };
    let result = record()
        .given(vec![given.event()])
        .when(RecordCommand::CorrectRecord {
            objection: upheld("objection-1", Some(ObjectionOutcome::Correct)),
            summary: None,
            severity: None,
            sector: Some(Sector::Procurement),
            decision_date: None,
            at: at("2026-03-20 10:00"),
        })
        .inspect_result();
    invalid("ban_years")(result);
}

#[test]
fn a_correction_recomputes_the_window_under_the_records_own_policy() {
    let custom = custom_policy();
    // The record was made under the custom policy; services now carry the default one.
    let given = draft().event_under(custom.clone());
    let event = the_event(
        record()
            .given(vec![given])
            .when(correct_severity(Severity::Serious))
            .inspect_result(),
    );
    let publicity = publicity_of(&event);
    assert_eq!(
        publicity,
        Publicity {
            published: true,
            start: day("2026-03-02"),
            repair_possible_from: day("2026-09-02"),
            ends: day("2028-03-02"),
            policy: "custom-2024".into(),
            policy_version: 3,
        }
    );
    assert_eq!(
        publicity,
        custom.window(Severity::Serious, day("2026-03-02"), false, false)
    );
}

#[test]
fn correcting_a_published_minor_record_keeps_it_published_while_minor() {
    let given = Draft {
        severity: Severity::Minor,
        publish_minor: true,
        ..draft()
    };
    let event = the_event(
        record()
            .given(vec![given.event()])
            .when(correct_summary(
                upheld("objection-1", Some(ObjectionOutcome::Correct)),
                "更正后的事实",
            ))
            .inspect_result(),
    );
    assert!(publicity_of(&event).published);
}

#[test]
fn a_correction_on_an_objection_about_another_record_is_refused() {
    record()
        .given(vec![recorded()])
        .when(correct_summary(
            UpheldObjection {
                about_this_record: false,
                ..upheld("objection-1", Some(ObjectionOutcome::Correct))
            },
            "更正后的事实",
        ))
        .then_expect_error(RecordError::ObjectionNotUpheld(
            "it is about another record",
        ));
}

#[test]
fn a_correction_on_an_objection_not_upheld_is_refused() {
    record()
        .given(vec![recorded()])
        .when(correct_summary(upheld("objection-1", None), "更正后的事实"))
        .then_expect_error(RecordError::ObjectionNotUpheld("it is not upheld"));
}

#[test]
fn a_correction_on_a_stop_publication_or_unlist_objection_is_refused() {
    for outcome in [ObjectionOutcome::StopPublication, ObjectionOutcome::Unlist] {
        record()
            .given(vec![recorded()])
            .when(correct_summary(
                upheld("objection-1", Some(outcome)),
                "更正后的事实",
            ))
            .then_expect_error(RecordError::ObjectionNotUpheld(
                "its outcome is not correct or complete",
            ));
    }
}

fn corrected_by(objection_id: &str) -> RecordEvent {
    RecordEvent::RecordCorrected {
        objection_id: objection_id.into(),
        summary: "更正后的事实".into(),
        severity: Severity::Ordinary,
        sector: Sector::General,
        decision_date: day("2026-03-02"),
        ban_until: None,
        publicity: window(true, "2026-03-02", "2026-06-02", "2027-03-02"),
        at: at("2026-03-20 10:00"),
    }
}

#[test]
fn the_same_objection_cannot_correct_twice() {
    record()
        .given(vec![recorded(), corrected_by("objection-1")])
        .when(correct_summary(
            upheld("objection-1", Some(ObjectionOutcome::Correct)),
            "再次更正",
        ))
        .then_expect_error(RecordError::ObjectionNotUpheld("it was already applied"));
}

#[test]
fn another_upheld_objection_may_correct_again() {
    let event = the_event(
        record()
            .given(vec![recorded(), corrected_by("objection-1")])
            .when(correct_summary(
                upheld("objection-2", Some(ObjectionOutcome::Complete)),
                "再次补充",
            ))
            .inspect_result(),
    );
    assert!(matches!(
        event,
        RecordEvent::RecordCorrected { objection_id, .. } if objection_id == "objection-2"
    ));
}

#[test]
fn a_withdrawn_record_cannot_be_corrected() {
    record()
        .given(vec![recorded(), withdrawn()])
        .when(correct_summary(
            upheld("objection-1", Some(ObjectionOutcome::Correct)),
            "更正后的事实",
        ))
        .then_expect_error(RecordError::Withdrawn { action: "correct" });
}

#[test]
fn correcting_an_unknown_record_is_not_found() {
    record()
        .given_no_previous_events()
        .when(correct_summary(
            upheld("objection-1", Some(ObjectionOutcome::Correct)),
            "更正后的事实",
        ))
        .then_expect_error(RecordError::NotFound);
}

#[test]
fn a_correction_that_changes_nothing_is_refused() {
    let result = record()
        .given(vec![recorded()])
        .when(RecordCommand::CorrectRecord {
            objection: upheld("objection-1", Some(ObjectionOutcome::Correct)),
            summary: None,
            severity: None,
            sector: None,
            decision_date: None,
            at: at("2026-03-20 10:00"),
        })
        .inspect_result();
    invalid("summary")(result);
}

#[test]
fn a_blank_corrected_summary_is_refused() {
    let result = record()
        .given(vec![recorded()])
        .when(correct_summary(
            upheld("objection-1", Some(ObjectionOutcome::Correct)),
            "  ",
        ))
        .inspect_result();
    invalid("summary")(result);
}

// ---------------------------------------------------------------- facts

#[test]
fn the_facts_follow_the_events() {
    let mut r = DishonestyRecord::default();
    assert_eq!(r.facts("record-1"), None);
    r.apply(recorded());
    let facts = r.facts("record-1").unwrap();
    assert_eq!(facts.unit, unit_a());
    assert!(!facts.personal);
    assert_eq!(facts.severity, Severity::Ordinary);
    assert_eq!(facts.recorded_by, Some(authority()));
    assert!(!facts.withdrawn);
    r.apply(RecordEvent::RecordCorrected {
        objection_id: "objection-1".into(),
        summary: "更正后的事实".into(),
        severity: Severity::Serious,
        sector: Sector::General,
        decision_date: day("2026-03-02"),
        ban_until: None,
        publicity: window(true, "2026-03-02", "2027-03-02", "2029-03-02"),
        at: at("2026-03-20 10:00"),
    });
    assert_eq!(r.summary, "更正后的事实");
    assert_eq!(r.corrected_by, vec!["objection-1".to_string()]);
    let facts = r.facts("record-1").unwrap();
    assert_eq!(facts.severity, Severity::Serious);
    assert_eq!(facts.publicity.ends, day("2029-03-02"));
    r.apply(withdrawn());
    assert!(r.facts("record-1").unwrap().withdrawn);
}

#[test]
fn a_civil_servants_record_is_answered_for_by_their_unit() {
    let mut r = DishonestyRecord::default();
    r.apply(
        Draft {
            target: civil_servant(),
            ..draft()
        }
        .event(),
    );
    let facts = r.facts("record-1").unwrap();
    assert_eq!(facts.unit, unit_a());
    assert!(facts.personal);
    assert!(!facts.publicity.published);
}

/// A policy other than the default: serious records repairable after 6 months,
/// published 2 years.
fn custom_policy() -> PublicityPolicy {
    PublicityPolicy {
        name: "custom-2024".into(),
        version: 3,
        serious: PublicityRule {
            published: true,
            minimum_months: 6,
            maximum_months: 24,
        },
        ..PublicityPolicy::default()
    }
}

// ---------------------------------------------------------------- bribery convictions (行贿犯罪)

/// A court's bribery conviction of unit A, recorded in the general sector with a ban.
fn bribery_conviction() -> Draft {
    Draft {
        source: Source::CourtJudgment,
        source_ref: "（2026）赣04刑初12号".into(),
        severity: Severity::Serious,
        offence: Some(Offence::Bribery),
        ban_years: Some(3),
        ..draft()
    }
}

#[test]
fn a_bribery_conviction_is_recorded_with_its_offence_and_ban_in_any_sector() {
    let event = the_event(
        record()
            .given_no_previous_events()
            .when(bribery_conviction().command())
            .inspect_result(),
    );
    match event {
        RecordEvent::DishonestyRecorded {
            offence, ban_until, ..
        } => {
            assert_eq!(offence, Some(Offence::Bribery));
            assert_eq!(ban_until, Some(day("2029-03-02")));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_bribery_conviction_bars_for_one_to_five_years() {
    for years in [0, 6] {
        let result = record()
            .given_no_previous_events()
            .when(
                Draft {
                    ban_years: Some(years),
                    ..bribery_conviction()
                }
                .command(),
            )
            .inspect_result();
        invalid("ban_years")(result);
    }
}

#[test]
fn a_bribery_conviction_without_a_period_is_refused() {
    let result = record()
        .given_no_previous_events()
        .when(
            Draft {
                ban_years: None,
                ..bribery_conviction()
            }
            .command(),
        )
        .inspect_result();
    invalid("ban_years")(result);
}

#[test]
fn an_offence_is_refused_unless_a_court_judgment_convicted() {
    let result = record()
        .given_no_previous_events()
        .when(
            Draft {
                source: Source::AdministrativePenalty,
                ..bribery_conviction()
            }
            .command(),
        )
        .inspect_result();
    invalid("offence")(result);
}

#[test]
fn an_offence_of_a_civil_servant_is_refused() {
    let result = record()
        .given_no_previous_events()
        .when(
            Draft {
                target: civil_servant(),
                ..bribery_conviction()
            }
            .command(),
        )
        .inspect_result();
    invalid("offence")(result);
}

#[test]
fn a_correction_of_a_bribery_conviction_keeps_its_ban() {
    let event = the_event(
        record()
            .given(vec![bribery_conviction().event()])
            .when(correct_severity(Severity::Ordinary))
            .inspect_result(),
    );
    match event {
        RecordEvent::RecordCorrected { ban_until, .. } => {
            assert_eq!(ban_until, Some(day("2029-03-02")))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_finding_stored_before_offences_existed_reads_as_without_offence() {
    // `DishonestyRecorded` as version 1 stored it before the `offence` field.
    let mut stored = serde_json::to_value(recorded()).unwrap();
    let fields = stored["DishonestyRecorded"].as_object_mut().unwrap();
    assert!(fields.remove("offence").is_none(), "none is not written");
    let read: RecordEvent = serde_json::from_value(stored).unwrap();
    assert_eq!(read, recorded());
    match read {
        RecordEvent::DishonestyRecorded { offence, .. } => assert_eq!(offence, None),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_bribery_conviction_keeps_its_offence_in_the_stored_form() {
    let stored = serde_json::to_value(bribery_conviction().event()).unwrap();
    assert_eq!(stored["DishonestyRecorded"]["offence"], "bribery");
}

// ------------------------------------ the source decision changed: withdraw within 3 working days

/// Noted on Thu 19 Mar 2026 that the decision changed that day.
fn note_change(changed_on: &str, note: &str) -> RecordCommand {
    RecordCommand::NoteSourceDecisionChanged {
        changed_on: day(changed_on),
        note: note.into(),
        at: at("2026-03-19 15:00"),
    }
}

/// Changed Thu 19 Mar 2026: withdraw by Tue 24 Mar (Fri, Mon, Tue).
fn changed() -> RecordEvent {
    RecordEvent::SourceDecisionChanged {
        changed_on: day("2026-03-19"),
        note: "复议决定撤销原处罚决定".into(),
        withdrawal_due: crate::calendar::Deadline {
            due: day("2026-03-24"),
            provisional: false,
        },
        at: at("2026-03-19 15:00"),
    }
}

fn flag_withdrawal(local: &str) -> RecordCommand {
    RecordCommand::FlagWithdrawalOverdue { at: at(local) }
}

fn remind_withdrawal(local: &str) -> RecordCommand {
    RecordCommand::RemindWithdrawal { at: at(local) }
}

#[test]
fn a_changed_source_decision_starts_a_three_working_day_withdrawal_clock() {
    record()
        .given(vec![recorded()])
        .when(note_change("2026-03-19", " 复议决定撤销原处罚决定 "))
        .then_expect_events(vec![changed()]);
}

#[test]
fn the_withdrawal_clock_skips_the_weekend() {
    // Changed Fri 20 Mar 2026: Mon 23, Tue 24, Wed 25.
    let event = the_event(
        record()
            .given(vec![recorded()])
            .when(RecordCommand::NoteSourceDecisionChanged {
                changed_on: day("2026-03-20"),
                note: "原处罚决定变更".into(),
                at: at("2026-03-20 15:00"),
            })
            .inspect_result(),
    );
    match event {
        RecordEvent::SourceDecisionChanged { withdrawal_due, .. } => {
            assert_eq!(withdrawal_due.due, day("2026-03-25"))
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_change_of_an_unknown_record_is_not_found() {
    record()
        .given_no_previous_events()
        .when(note_change("2026-03-19", "原处罚决定变更"))
        .then_expect_error(RecordError::NotFound);
}

#[test]
fn a_change_of_a_withdrawn_record_is_refused() {
    record()
        .given(vec![recorded(), withdrawn()])
        .when(note_change("2026-03-19", "原处罚决定变更"))
        .then_expect_error(RecordError::Withdrawn {
            action: "note a change of the source decision of",
        });
}

#[test]
fn a_second_change_while_the_withdrawal_is_owed_is_refused() {
    record()
        .given(vec![recorded(), changed()])
        .when(note_change("2026-03-19", "再次变更"))
        .then_expect_error(RecordError::WithdrawalPending {
            due: day("2026-03-24"),
        });
}

#[test]
fn a_change_in_the_future_or_before_the_decision_is_refused() {
    invalid("changed_on")(
        record()
            .given(vec![recorded()])
            .when(note_change("2026-03-20", "原处罚决定变更"))
            .inspect_result(),
    );
    invalid("changed_on")(
        record()
            .given(vec![recorded()])
            .when(note_change("2026-03-01", "原处罚决定变更"))
            .inspect_result(),
    );
}

#[test]
fn a_change_without_a_note_is_refused() {
    invalid("note")(
        record()
            .given(vec![recorded()])
            .when(note_change("2026-03-19", " "))
            .inspect_result(),
    );
}

#[test]
fn an_owed_withdrawal_is_flagged_the_day_after_its_due_day() {
    record()
        .given(vec![recorded(), changed()])
        .when(flag_withdrawal("2026-03-25 00:00"))
        .then_expect_events(vec![RecordEvent::WithdrawalOverdue {
            due: day("2026-03-24"),
            at: at("2026-03-25 00:00"),
        }]);
}

#[test]
fn on_its_due_day_a_withdrawal_is_not_overdue_yet() {
    record()
        .given(vec![recorded(), changed()])
        .when(flag_withdrawal("2026-03-24 23:59"))
        .then_expect_error(RecordError::Deadline(DecisionDeadlineRefusal::NotYetDue {
            due: day("2026-03-24"),
        }));
}

#[test]
fn an_overdue_withdrawal_is_flagged_only_once() {
    record()
        .given(vec![
            recorded(),
            changed(),
            RecordEvent::WithdrawalOverdue {
                due: day("2026-03-24"),
                at: at("2026-03-25 00:00"),
            },
        ])
        .when(flag_withdrawal("2026-03-26 09:00"))
        .then_expect_error(RecordError::Deadline(
            DecisionDeadlineRefusal::AlreadyFlagged {
                due: day("2026-03-24"),
            },
        ));
}

#[test]
fn the_withdrawal_stops_the_clock() {
    record()
        .given(vec![recorded(), changed(), withdrawn()])
        .when(flag_withdrawal("2026-03-26 09:00"))
        .then_expect_error(RecordError::Deadline(DecisionDeadlineRefusal::NotOpen));
}

#[test]
fn a_correction_stops_the_clock() {
    record()
        .given(vec![recorded(), changed(), corrected_by("objection-1")])
        .when(flag_withdrawal("2026-03-26 09:00"))
        .then_expect_error(RecordError::Deadline(DecisionDeadlineRefusal::NotOpen));
}

#[test]
fn a_record_whose_decision_did_not_change_owes_no_withdrawal() {
    record()
        .given(vec![recorded()])
        .when(flag_withdrawal("2026-03-26 09:00"))
        .then_expect_error(RecordError::Deadline(DecisionDeadlineRefusal::NotOpen));
    record()
        .given_no_previous_events()
        .when(flag_withdrawal("2026-03-26 09:00"))
        .then_expect_error(RecordError::NotFound);
    record()
        .given_no_previous_events()
        .when(remind_withdrawal("2026-03-23 09:00"))
        .then_expect_error(RecordError::NotFound);
}

#[test]
fn the_authority_is_reminded_once_before_the_withdrawal_due_day() {
    record()
        .given(vec![recorded(), changed()])
        .when(remind_withdrawal("2026-03-23 09:00"))
        .then_expect_events(vec![RecordEvent::WithdrawalDueSoon {
            due: day("2026-03-24"),
            at: at("2026-03-23 09:00"),
        }]);
    record()
        .given(vec![
            recorded(),
            changed(),
            RecordEvent::WithdrawalDueSoon {
                due: day("2026-03-24"),
                at: at("2026-03-23 09:00"),
            },
        ])
        .when(remind_withdrawal("2026-03-24 09:00"))
        .then_expect_error(RecordError::Deadline(
            DecisionDeadlineRefusal::AlreadyReminded {
                due: day("2026-03-24"),
            },
        ));
    record()
        .given(vec![recorded(), changed()])
        .when(remind_withdrawal("2026-03-25 09:00"))
        .then_expect_error(RecordError::Deadline(DecisionDeadlineRefusal::Passed {
            due: day("2026-03-24"),
        }));
}

#[test]
fn after_a_correction_a_later_change_may_be_noted() {
    record()
        .given(vec![recorded(), changed(), corrected_by("objection-1")])
        .when(note_change("2026-03-19", "再次变更"))
        .then_expect_events(vec![RecordEvent::SourceDecisionChanged {
            changed_on: day("2026-03-19"),
            note: "再次变更".into(),
            withdrawal_due: crate::calendar::Deadline {
                due: day("2026-03-24"),
                provisional: false,
            },
            at: at("2026-03-19 15:00"),
        }]);
}

// ------------------------------ a provisional withdrawal day recounted on a calendar load

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

/// Changed Wed 30 Dec 2026: withdraw by Mon 4 Jan 2027 on weekends alone (Thu 31, Fri 1,
/// Mon 4), provisional.
fn changed_on_new_years_eve() -> RecordEvent {
    RecordEvent::SourceDecisionChanged {
        changed_on: day("2026-12-30"),
        note: "复议决定撤销原处罚决定".into(),
        withdrawal_due: crate::calendar::Deadline {
            due: day("2027-01-04"),
            provisional: true,
        },
        at: at("2026-12-30 15:00"),
    }
}

fn recount(local: &str) -> RecordCommand {
    RecordCommand::RecomputeProvisionalDue { at: at(local) }
}

#[test]
fn a_provisional_withdrawal_day_is_recounted_once_the_year_is_loaded() {
    // 1–3 Jan 2027 off: Thu 31 Dec, Mon 4, Tue 5 Jan.
    let recounted = RecordEvent::WithdrawalDueRecomputed {
        due: crate::calendar::Deadline {
            due: day("2027-01-05"),
            provisional: false,
        },
        at: at("2026-12-31 09:00"),
    };
    Framework::with(services_with_2027())
        .given(vec![recorded(), changed_on_new_years_eve()])
        .when(recount("2026-12-31 09:00"))
        .then_expect_events(vec![recounted.clone()]);
    Framework::with(services_with_2027())
        .given(vec![recorded(), changed_on_new_years_eve(), recounted])
        .when(recount("2026-12-31 10:00"))
        .then_expect_error(RecordError::NotRecomputable("the due date is final"));
}

#[test]
fn a_withdrawal_day_is_not_recounted_before_its_year_is_loaded() {
    record()
        .given(vec![recorded(), changed_on_new_years_eve()])
        .when(recount("2026-12-31 09:00"))
        .then_expect_error(RecordError::NotRecomputable(
            "the due date is still provisional",
        ));
}

#[test]
fn a_withdrawal_already_made_is_not_recounted() {
    let withdrawn = RecordEvent::RecordWithdrawn {
        reason: "原处罚决定已被撤销".into(),
        at: at("2026-12-31 08:00"),
    };
    Framework::with(services_with_2027())
        .given(vec![recorded(), changed_on_new_years_eve(), withdrawn])
        .when(recount("2026-12-31 09:00"))
        .then_expect_error(RecordError::NotRecomputable("no withdrawal is owed"));
}

#[test]
fn a_record_without_a_changed_decision_has_no_withdrawal_day_to_recount() {
    Framework::with(services_with_2027())
        .given(vec![recorded()])
        .when(recount("2026-12-31 09:00"))
        .then_expect_error(RecordError::NotRecomputable("no withdrawal is owed"));
}

#[test]
fn recounting_the_withdrawal_day_of_an_unknown_record_is_not_found() {
    Framework::with(services_with_2027())
        .given_no_previous_events()
        .when(recount("2026-12-31 09:00"))
        .then_expect_error(RecordError::NotFound);
}
