//! Given/when/then tests of the credit-repair aggregate, one per rule, named as
//! sentences. Due dates are checked against the official 2025/2026 schedules shipped in
//! `WorkingCalendar::china()`; times are written in Asia/Shanghai.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::test::TestFramework;

use super::*;
use crate::integrity::{IntegrityPolicy, PublicityPolicy, RepairLimits, Severity};

type Framework = TestFramework<Repair>;

fn services() -> IntegrityServices {
    IntegrityServices {
        calendar: Arc::new(WorkingCalendar::china()),
        policy: IntegrityPolicy::default(),
    }
}

fn repair() -> Framework {
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

/// Another unit, or another authority.
fn unit_b() -> CreditCode {
    CreditCode::parse("91330100716105852F").unwrap()
}

/// The authority that recorded the record.
fn authority() -> CreditCode {
    CreditCode::parse("113604000123456713").unwrap()
}

/// A record of unit A decided on `decided`, recorded by the authority.
fn record_of(severity: Severity, decided: &str) -> RecordFacts {
    RecordFacts {
        record_id: "record-1".into(),
        unit: unit_a(),
        personal: false,
        severity,
        publicity: PublicityPolicy::default().window(severity, day(decided), false, false),
        withdrawn: false,
        recorded_by: Some(authority()),
    }
}

/// An ordinary record decided on Mon 5 Jan 2026: repairable from Sun 5 Apr 2026,
/// published until Tue 5 Jan 2027 (exclusive).
fn ordinary() -> RecordFacts {
    record_of(Severity::Ordinary, "2026-01-05")
}

/// A minor record decided on Mon 5 Jan 2026: repairable at once, window ends Sun 5 Apr.
fn minor() -> RecordFacts {
    record_of(Severity::Minor, "2026-01-05")
}

fn apply_with(record: RecordFacts, history: RepairHistory, local: &str) -> RepairCommand {
    RepairCommand::ApplyForRepair {
        record,
        history,
        applicant_unit: Some(unit_a()),
        commitment: " 本单位承诺依法履约 ".into(),
        evidence: " 已全额支付欠款 ".into(),
        at: at(local),
    }
}

fn apply_on(local: &str) -> RepairCommand {
    apply_with(ordinary(), RepairHistory::default(), local)
}

fn approved_on(dates: &[&str]) -> RepairHistory {
    RepairHistory {
        approved_on: dates.iter().map(|d| day(d)).collect(),
        ..RepairHistory::default()
    }
}

fn applied_event(
    recorded_by: Option<CreditCode>,
    acceptance_due: Deadline,
    local: &str,
) -> RepairEvent {
    RepairEvent::RepairApplied {
        record_id: "record-1".into(),
        unit: unit_a(),
        recorded_by,
        commitment: "本单位承诺依法履约".into(),
        evidence: "已全额支付欠款".into(),
        acceptance_due,
        at: at(local),
    }
}

/// Applied on Tue 7 Apr 2026: acceptance due Fri 10 Apr.
fn applied() -> RepairEvent {
    applied_event(Some(authority()), due("2026-04-10"), "2026-04-07 10:00")
}

/// Accepted on Thu 9 Apr 2026: decision due Thu 23 Apr (10 working days).
fn accepted() -> RepairEvent {
    RepairEvent::RepairAccepted {
        decision_due: due("2026-04-23"),
        at: at("2026-04-09 10:00"),
    }
}

fn more_requested() -> RepairEvent {
    RepairEvent::RepairMoreRequested {
        what: "缺少付款凭证".into(),
        at: at("2026-04-10 10:00"),
    }
}

/// Supplied on Mon 13 Apr 2026 before acceptance: acceptance due afresh on Thu 16 Apr
/// (3 working days from the supplement).
fn supplemented() -> RepairEvent {
    RepairEvent::RepairSupplemented {
        evidence: "付款凭证".into(),
        due: Some(due("2026-04-16")),
        at: at("2026-04-13 10:00"),
    }
}

/// Supplied on Mon 13 Apr 2026 after acceptance: decision due afresh on Mon 27 Apr (10
/// working days from the supplement).
fn supplemented_after_acceptance() -> RepairEvent {
    RepairEvent::RepairSupplemented {
        evidence: "付款凭证".into(),
        due: Some(due("2026-04-27")),
        at: at("2026-04-13 10:00"),
    }
}

fn approved() -> RepairEvent {
    RepairEvent::RepairApproved {
        at: at("2026-04-20 10:00"),
    }
}

fn denied() -> RepairEvent {
    RepairEvent::RepairDenied {
        reason: "材料不实".into(),
        at: at("2026-04-20 10:00"),
    }
}

fn revoked() -> RepairEvent {
    RepairEvent::RepairRevoked {
        reason: "违背信用承诺".into(),
        at: at("2026-06-01 10:00"),
    }
}

fn by_authority() -> Decider {
    Decider::Authority(authority())
}

fn accept(decider: Decider) -> RepairCommand {
    RepairCommand::AcceptRepair {
        decider,
        at: at("2026-04-09 10:00"),
    }
}

fn request_more(what: &str, decider: Decider) -> RepairCommand {
    RepairCommand::RequestMoreForRepair {
        what: what.into(),
        decider,
        at: at("2026-04-10 10:00"),
    }
}

fn supplement(applicant_unit: Option<CreditCode>, evidence: &str) -> RepairCommand {
    RepairCommand::SupplementRepair {
        applicant_unit,
        evidence: evidence.into(),
        at: at("2026-04-13 10:00"),
    }
}

fn approve(decider: Decider) -> RepairCommand {
    RepairCommand::ApproveRepair {
        decider,
        at: at("2026-04-20 10:00"),
    }
}

fn deny(reason: &str, decider: Decider) -> RepairCommand {
    RepairCommand::DenyRepair {
        reason: reason.into(),
        decider,
        at: at("2026-04-20 10:00"),
    }
}

fn revoke(reason: &str, decider: Decider) -> RepairCommand {
    RepairCommand::RevokeRepair {
        reason: reason.into(),
        decider,
        at: at("2026-06-01 10:00"),
    }
}

fn transition(action: &'static str, status: RepairStatus) -> RepairError {
    RepairError::InvalidTransition { action, status }
}

fn not_eligible(reason: &str, possible_from: Option<&str>) -> RepairError {
    RepairError::NotEligible {
        reason: reason.into(),
        possible_from: possible_from.map(day),
    }
}

fn invalid(field: &'static str) -> impl Fn(Result<Vec<RepairEvent>, RepairError>) {
    move |result| match result {
        Err(RepairError::Invalid { field: f, .. }) => assert_eq!(f, field),
        other => panic!("expected Invalid {{ field: {field} }}, got {other:?}"),
    }
}

const TOO_EARLY: &str = "the minimum publicity period has not passed";
const TOO_RECENT: &str = "the unit's last repair is too recent";
const TOO_MANY: &str = "the unit reached the most repairs allowed in the period";

// ---------------------------------------------------------------- applying (申请)

#[test]
fn a_unit_applies_once_the_minimum_period_has_passed() {
    repair()
        .given_no_previous_events()
        .when(apply_on("2026-04-07 10:00"))
        .then_expect_events(vec![applied()]);
}

#[test]
fn the_day_before_the_minimum_period_ends_is_not_eligible_with_the_date_it_becomes_possible() {
    repair()
        .given_no_previous_events()
        .when(apply_on("2026-04-04 10:00"))
        .then_expect_error(not_eligible(TOO_EARLY, Some("2026-04-05")));
}

#[test]
fn the_day_the_minimum_period_ends_is_eligible_and_acceptance_skips_qingming() {
    // Sun 5 Apr 2026, in the 清明 holiday (4–6 Apr): acceptance due Thu 9 Apr.
    repair()
        .given_no_previous_events()
        .when(apply_on("2026-04-05 00:10"))
        .then_expect_events(vec![applied_event(
            Some(authority()),
            due("2026-04-09"),
            "2026-04-05 00:10",
        )]);
}

#[test]
fn the_last_day_of_publication_is_still_eligible() {
    // The minor record's window ends on Sun 5 Apr; Sat 4 Apr is its last day.
    repair()
        .given_no_previous_events()
        .when(apply_with(
            minor(),
            RepairHistory::default(),
            "2026-04-04 10:00",
        ))
        .then_expect_events(vec![applied_event(
            Some(authority()),
            due("2026-04-09"),
            "2026-04-04 10:00",
        )]);
}

#[test]
fn the_day_publication_ends_is_not_eligible_without_a_date() {
    repair()
        .given_no_previous_events()
        .when(apply_with(
            minor(),
            RepairHistory::default(),
            "2026-04-05 10:00",
        ))
        .then_expect_error(not_eligible(
            "the record's maximum publicity period is over",
            None,
        ));
}

#[test]
fn a_minor_record_is_repairable_on_its_decision_day() {
    let result = repair()
        .given_no_previous_events()
        .when(apply_with(
            minor(),
            RepairHistory::default(),
            "2026-01-05 10:00",
        ))
        .inspect_result();
    assert!(result.is_ok(), "{result:?}");
}

#[test]
fn a_repair_less_than_twelve_months_after_the_last_is_not_eligible_until_the_anniversary() {
    let history = approved_on(&["2025-10-20"]);
    repair()
        .given_no_previous_events()
        .when(apply_with(ordinary(), history.clone(), "2026-10-19 10:00"))
        .then_expect_error(not_eligible(TOO_RECENT, Some("2026-10-20")));
    // Tue 20 Oct 2026: acceptance due Fri 23 Oct.
    repair()
        .given_no_previous_events()
        .when(apply_with(ordinary(), history, "2026-10-20 10:00"))
        .then_expect_events(vec![applied_event(
            Some(authority()),
            due("2026-10-23"),
            "2026-10-20 10:00",
        )]);
}

#[test]
fn the_latest_approved_repair_counts_for_the_twelve_months() {
    repair()
        .given_no_previous_events()
        .when(apply_with(
            ordinary(),
            approved_on(&["2025-11-30", "2020-01-10"]),
            "2026-06-01 10:00",
        ))
        .then_expect_error(not_eligible(TOO_RECENT, Some("2026-11-30")));
}

#[test]
fn two_repairs_in_five_years_make_the_next_possible_when_the_older_leaves_the_window() {
    let history = approved_on(&["2021-05-10", "2025-01-15"]);
    repair()
        .given_no_previous_events()
        .when(apply_with(ordinary(), history.clone(), "2026-05-09 10:00"))
        .then_expect_error(not_eligible(TOO_MANY, Some("2026-05-10")));
    // The date given is the first day an application succeeds: Sun 10 May 2026,
    // acceptance due Wed 13 May.
    repair()
        .given_no_previous_events()
        .when(apply_with(ordinary(), history, "2026-05-10 10:00"))
        .then_expect_events(vec![applied_event(
            Some(authority()),
            due("2026-05-13"),
            "2026-05-10 10:00",
        )]);
}

#[test]
fn repairs_older_than_five_years_do_not_count() {
    let result = repair()
        .given_no_previous_events()
        .when(apply_with(
            ordinary(),
            approved_on(&["2020-01-01", "2021-04-01", "2025-01-15"]),
            "2026-05-09 10:00",
        ))
        .inspect_result();
    assert!(result.is_ok(), "{result:?}");
}

#[test]
fn no_date_is_given_when_the_record_would_no_longer_be_published_by_then() {
    // The last repair allows the next one on 1 Feb 2027, after this record's window
    // (ends 5 Jan 2027): no application can succeed.
    repair()
        .given_no_previous_events()
        .when(apply_with(
            ordinary(),
            approved_on(&["2026-02-01"]),
            "2026-06-01 10:00",
        ))
        .then_expect_error(not_eligible(TOO_RECENT, None));
}

#[test]
fn the_frequency_limits_are_configuration() {
    let services = IntegrityServices {
        policy: IntegrityPolicy {
            repair: RepairLimits {
                min_months_between: 6,
                ..RepairLimits::default()
            },
            ..IntegrityPolicy::default()
        },
        ..services()
    };
    Framework::with(services)
        .given_no_previous_events()
        .when(apply_with(
            ordinary(),
            approved_on(&["2026-01-20"]),
            "2026-06-01 10:00",
        ))
        .then_expect_error(not_eligible(TOO_RECENT, Some("2026-07-20")));
}

#[test]
fn a_withdrawn_record_is_not_eligible() {
    repair()
        .given_no_previous_events()
        .when(apply_with(
            RecordFacts {
                withdrawn: true,
                ..ordinary()
            },
            RepairHistory::default(),
            "2026-04-07 10:00",
        ))
        .then_expect_error(not_eligible("the record is withdrawn", None));
}

#[test]
fn an_already_repaired_record_is_not_eligible() {
    repair()
        .given_no_previous_events()
        .when(apply_with(
            ordinary(),
            RepairHistory {
                record_repaired: true,
                ..RepairHistory::default()
            },
            "2026-04-07 10:00",
        ))
        .then_expect_error(not_eligible("the record is already repaired", None));
}

#[test]
fn a_record_with_an_open_application_is_not_eligible() {
    repair()
        .given_no_previous_events()
        .when(apply_with(
            ordinary(),
            RepairHistory {
                open_application: true,
                ..RepairHistory::default()
            },
            "2026-04-07 10:00",
        ))
        .then_expect_error(not_eligible(
            "an application for this record is still undecided",
            None,
        ));
}

#[test]
fn a_handler_of_another_unit_cannot_apply() {
    repair()
        .given_no_previous_events()
        .when(RepairCommand::ApplyForRepair {
            record: ordinary(),
            history: RepairHistory::default(),
            applicant_unit: Some(unit_b()),
            commitment: "承诺".into(),
            evidence: "证据".into(),
            at: at("2026-04-07 10:00"),
        })
        .then_expect_error(RepairError::NotRecordUnit);
}

#[test]
fn intake_applies_on_the_units_behalf() {
    repair()
        .given_no_previous_events()
        .when(RepairCommand::ApplyForRepair {
            record: ordinary(),
            history: RepairHistory::default(),
            applicant_unit: None,
            commitment: "本单位承诺依法履约".into(),
            evidence: "已全额支付欠款".into(),
            at: at("2026-04-07 10:00"),
        })
        .then_expect_events(vec![applied()]);
}

#[test]
fn a_blank_commitment_or_evidence_is_refused() {
    for (field, commitment, evidence) in [("commitment", " ", "证据"), ("evidence", "承诺", "")]
    {
        let result = repair()
            .given_no_previous_events()
            .when(RepairCommand::ApplyForRepair {
                record: ordinary(),
                history: RepairHistory::default(),
                applicant_unit: None,
                commitment: commitment.into(),
                evidence: evidence.into(),
                at: at("2026-04-07 10:00"),
            })
            .inspect_result();
        invalid(field)(result);
    }
}

#[test]
fn applying_twice_is_already_applied() {
    repair()
        .given(vec![applied()])
        .when(apply_on("2026-04-07 10:00"))
        .then_expect_error(RepairError::AlreadyApplied);
}

#[test]
fn applying_in_a_year_without_calendar_data_is_calendar_missing() {
    repair()
        .given_no_previous_events()
        .when(apply_with(
            record_of(Severity::Serious, "2023-01-05"),
            RepairHistory::default(),
            "2024-06-03 10:00",
        ))
        .then_expect_error(RepairError::Calendar(CalendarError::Missing { year: 2024 }));
}

// ---------------------------------------------------------------- deciding (受理, 修复)

#[test]
fn the_recording_authority_accepts_with_a_decision_due_in_ten_working_days() {
    repair()
        .given(vec![applied()])
        .when(accept(by_authority()))
        .then_expect_events(vec![accepted()]);
}

#[test]
fn the_decision_due_skips_may_day_and_counts_its_make_up_saturday() {
    // Accepted Thu 30 Apr 2026: 1–5 May off, Wed 6 (1) … Fri 8 (3), Sat 9 make-up (4),
    // 11–15 May (9), Mon 18 May (10).
    repair()
        .given(vec![applied()])
        .when(RepairCommand::AcceptRepair {
            decider: by_authority(),
            at: at("2026-04-30 10:00"),
        })
        .then_expect_events(vec![RepairEvent::RepairAccepted {
            decision_due: due("2026-05-18"),
            at: at("2026-04-30 10:00"),
        }]);
}

#[test]
fn the_credit_office_decides_any_repair() {
    repair()
        .given(vec![applied()])
        .when(accept(Decider::CreditOffice))
        .then_expect_events(vec![accepted()]);
    repair()
        .given(vec![applied(), accepted()])
        .when(approve(Decider::CreditOffice))
        .then_expect_events(vec![approved()]);
}

#[test]
fn a_bound_supervisor_of_another_authority_cannot_decide() {
    let other = || Decider::Authority(unit_b());
    let cases = vec![
        (vec![applied()], accept(other())),
        (vec![applied()], request_more("缺少凭证", other())),
        (vec![applied(), accepted()], approve(other())),
        (vec![applied(), accepted()], deny("材料不实", other())),
        (
            vec![applied(), accepted(), approved()],
            revoke("违诺", other()),
        ),
    ];
    for (given, command) in cases {
        repair()
            .given(given)
            .when(command)
            .then_expect_error(RepairError::NotDecidingAuthority);
    }
}

#[test]
fn a_repair_of_a_credit_office_record_is_decided_only_by_the_credit_office() {
    let given = vec![applied_event(None, due("2026-04-10"), "2026-04-07 10:00")];
    repair()
        .given(given.clone())
        .when(accept(by_authority()))
        .then_expect_error(RepairError::NotDecidingAuthority);
    repair()
        .given(given)
        .when(accept(Decider::CreditOffice))
        .then_expect_events(vec![accepted()]);
}

#[test]
fn an_accepted_repair_is_approved() {
    repair()
        .given(vec![applied(), accepted()])
        .when(approve(by_authority()))
        .then_expect_events(vec![approved()]);
}

#[test]
fn a_repair_must_be_accepted_before_it_is_approved() {
    repair()
        .given(vec![applied()])
        .when(approve(by_authority()))
        .then_expect_error(transition("approve", RepairStatus::Applied));
}

#[test]
fn more_material_is_requested_of_an_application() {
    repair()
        .given(vec![applied()])
        .when(request_more(" 缺少付款凭证 ", by_authority()))
        .then_expect_events(vec![more_requested()]);
}

#[test]
fn a_supplement_returns_an_unaccepted_application_to_applied() {
    repair()
        .given(vec![applied(), more_requested()])
        .when(supplement(Some(unit_a()), " 付款凭证 "))
        .then_expect_events(vec![supplemented()]);
    repair()
        .given(vec![applied(), more_requested(), supplemented()])
        .when(approve(by_authority()))
        .then_expect_error(transition("approve", RepairStatus::Applied));
    repair()
        .given(vec![applied(), more_requested(), supplemented()])
        .when(accept(by_authority()))
        .then_expect_events(vec![accepted()]);
}

#[test]
fn a_supplement_returns_an_accepted_application_to_accepted() {
    repair()
        .given(vec![applied(), accepted(), more_requested()])
        .when(supplement(Some(unit_a()), "付款凭证"))
        .then_expect_events(vec![supplemented_after_acceptance()]);
    let given = vec![
        applied(),
        accepted(),
        more_requested(),
        supplemented_after_acceptance(),
    ];
    repair()
        .given(given.clone())
        .when(accept(by_authority()))
        .then_expect_error(transition("accept", RepairStatus::Accepted));
    repair()
        .given(given)
        .when(approve(by_authority()))
        .then_expect_events(vec![approved()]);
}

#[test]
fn intake_supplements_on_the_units_behalf_but_another_unit_cannot() {
    repair()
        .given(vec![applied(), more_requested()])
        .when(supplement(None, "付款凭证"))
        .then_expect_events(vec![supplemented()]);
    repair()
        .given(vec![applied(), more_requested()])
        .when(supplement(Some(unit_b()), "付款凭证"))
        .then_expect_error(RepairError::NotRecordUnit);
}

#[test]
fn a_supplement_is_only_for_requested_material() {
    repair()
        .given(vec![applied()])
        .when(supplement(Some(unit_a()), "付款凭证"))
        .then_expect_error(transition("supplement", RepairStatus::Applied));
}

#[test]
fn an_application_is_denied_before_approval() {
    for given in [
        vec![applied()],
        vec![applied(), more_requested()],
        vec![applied(), accepted()],
    ] {
        repair()
            .given(given)
            .when(deny(" 材料不实 ", by_authority()))
            .then_expect_events(vec![denied()]);
    }
}

#[test]
fn an_approved_repair_is_revoked() {
    repair()
        .given(vec![applied(), accepted(), approved()])
        .when(revoke(" 违背信用承诺 ", by_authority()))
        .then_expect_events(vec![revoked()]);
}

#[test]
fn only_an_approved_repair_can_be_revoked() {
    use RepairStatus as S;
    for (given, status) in [
        (vec![applied()], S::Applied),
        (vec![applied(), accepted()], S::Accepted),
        (vec![applied(), more_requested()], S::MoreRequested),
        (vec![applied(), denied()], S::Denied),
        (
            vec![applied(), accepted(), approved(), revoked()],
            S::Revoked,
        ),
    ] {
        repair()
            .given(given)
            .when(revoke("违诺", by_authority()))
            .then_expect_error(transition("revoke", status));
    }
}

#[test]
fn invalid_transitions_are_refused() {
    use RepairStatus as S;
    let cases = vec![
        (
            vec![applied(), accepted()],
            accept(by_authority()),
            transition("accept", S::Accepted),
        ),
        (
            vec![applied(), more_requested()],
            accept(by_authority()),
            transition("accept", S::MoreRequested),
        ),
        (
            vec![applied(), more_requested()],
            approve(by_authority()),
            transition("approve", S::MoreRequested),
        ),
        (
            vec![applied(), more_requested()],
            request_more("再补", by_authority()),
            transition("request more for", S::MoreRequested),
        ),
        (
            vec![applied(), accepted(), approved()],
            approve(by_authority()),
            transition("approve", S::Approved),
        ),
        (
            vec![applied(), accepted(), approved()],
            deny("r", by_authority()),
            transition("deny", S::Approved),
        ),
        (
            vec![applied(), accepted(), approved()],
            request_more("再补", by_authority()),
            transition("request more for", S::Approved),
        ),
        (
            vec![applied(), accepted(), approved()],
            supplement(None, "e"),
            transition("supplement", S::Approved),
        ),
        (
            vec![applied(), denied()],
            accept(by_authority()),
            transition("accept", S::Denied),
        ),
        (
            vec![applied(), denied()],
            approve(by_authority()),
            transition("approve", S::Denied),
        ),
        (
            vec![applied(), denied()],
            deny("r", by_authority()),
            transition("deny", S::Denied),
        ),
        (
            vec![applied(), accepted(), approved(), revoked()],
            approve(by_authority()),
            transition("approve", S::Revoked),
        ),
    ];
    for (given, command, error) in cases {
        repair().given(given).when(command).then_expect_error(error);
    }
}

#[test]
fn every_command_on_an_unknown_repair_is_not_found() {
    for command in [
        supplement(None, "e"),
        accept(by_authority()),
        request_more("w", by_authority()),
        approve(by_authority()),
        deny("r", by_authority()),
        revoke("r", by_authority()),
    ] {
        repair()
            .given_no_previous_events()
            .when(command)
            .then_expect_error(RepairError::NotFound);
    }
}

#[test]
fn blank_texts_of_decisions_are_refused() {
    let result = repair()
        .given(vec![applied()])
        .when(request_more(" ", by_authority()))
        .inspect_result();
    invalid("what")(result);
    let result = repair()
        .given(vec![applied()])
        .when(deny("", by_authority()))
        .inspect_result();
    invalid("reason")(result);
    let result = repair()
        .given(vec![applied(), accepted(), approved()])
        .when(revoke(" ", by_authority()))
        .inspect_result();
    invalid("reason")(result);
    let result = repair()
        .given(vec![applied(), more_requested()])
        .when(supplement(None, "\t"))
        .inspect_result();
    invalid("evidence")(result);
}

#[test]
fn accepting_in_a_year_without_calendar_data_is_calendar_missing() {
    repair()
        .given(vec![applied()])
        .when(RepairCommand::AcceptRepair {
            decider: by_authority(),
            at: at("2024-06-03 10:00"),
        })
        .then_expect_error(RepairError::Calendar(CalendarError::Missing { year: 2024 }));
}

#[test]
fn the_state_follows_the_events() {
    let mut r = Repair::default();
    r.apply(applied());
    assert_eq!(r.status, RepairStatus::Applied);
    assert_eq!(r.unit, Some(unit_a()));
    assert_eq!(r.recorded_by, Some(authority()));
    assert!(!r.accepted);
    r.apply(accepted());
    assert!(r.accepted);
    r.apply(more_requested());
    assert_eq!(r.status, RepairStatus::MoreRequested);
    r.apply(supplemented());
    assert_eq!(r.status, RepairStatus::Accepted);
    r.apply(approved());
    assert_eq!(r.status, RepairStatus::Approved);
    r.apply(revoked());
    assert_eq!(r.status, RepairStatus::Revoked);
}

// ---------------------------------------------------------------------------------------
// Overdue decisions (the deadline engine)
// ---------------------------------------------------------------------------------------

fn flag(local: &str) -> RepairCommand {
    RepairCommand::FlagDecisionOverdue { at: at(local) }
}

#[test]
fn an_application_not_accepted_by_its_due_day_is_flagged_the_day_after() {
    repair()
        .given(vec![applied()])
        .when(flag("2026-04-11 00:00"))
        .then_expect_events(vec![RepairEvent::RepairDecisionOverdue {
            due: day("2026-04-10"),
            at: at("2026-04-11 00:00"),
        }]);
}

#[test]
fn on_the_acceptance_due_day_nothing_is_overdue_yet() {
    repair()
        .given(vec![applied()])
        .when(flag("2026-04-10 23:59"))
        .then_expect_error(RepairError::Deadline(DecisionDeadlineRefusal::NotYetDue {
            due: day("2026-04-10"),
        }));
}

#[test]
fn after_acceptance_the_decision_due_day_counts() {
    repair()
        .given(vec![applied(), accepted()])
        .when(flag("2026-04-20 09:00"))
        .then_expect_error(RepairError::Deadline(DecisionDeadlineRefusal::NotYetDue {
            due: day("2026-04-23"),
        }));
}

// ------------------------------------- the 补正 clock (issue 10)

#[test]
fn while_more_material_is_awaited_no_deadline_runs_against_the_authority() {
    for given in [
        vec![applied(), more_requested()],
        vec![applied(), accepted(), more_requested()],
    ] {
        repair()
            .given(given.clone())
            .when(flag("2026-05-20 09:00"))
            .then_expect_error(RepairError::Deadline(DecisionDeadlineRefusal::NotOpen));
        let mut state = Repair::default();
        for e in given {
            state.apply(e);
        }
        assert_eq!(state.pending_due(), None);
    }
}

#[test]
fn a_supplement_before_acceptance_starts_a_fresh_acceptance_period() {
    // The old acceptance due day (10 Apr) has passed; the fresh one (16 Apr) has not.
    let given = vec![applied(), more_requested(), supplemented()];
    repair()
        .given(given.clone())
        .when(flag("2026-04-16 20:00"))
        .then_expect_error(RepairError::Deadline(DecisionDeadlineRefusal::NotYetDue {
            due: day("2026-04-16"),
        }));
    repair()
        .given(given)
        .when(flag("2026-04-17 09:00"))
        .then_expect_events(vec![RepairEvent::RepairDecisionOverdue {
            due: day("2026-04-16"),
            at: at("2026-04-17 09:00"),
        }]);
}

#[test]
fn a_supplement_after_acceptance_starts_a_fresh_decision_period() {
    repair()
        .given(vec![
            applied(),
            accepted(),
            more_requested(),
            supplemented_after_acceptance(),
        ])
        .when(flag("2026-04-24 09:00"))
        .then_expect_error(RepairError::Deadline(DecisionDeadlineRefusal::NotYetDue {
            due: day("2026-04-27"),
        }));
}

#[test]
fn a_supplement_stored_before_the_fresh_period_keeps_the_earlier_due_day() {
    // As stored before issue 10: no `due` field.
    let old: RepairEvent = serde_json::from_value(serde_json::json!({
        "RepairSupplemented": {"evidence": "付款凭证", "at": "2026-04-13T02:00:00Z"}
    }))
    .unwrap();
    let mut state = Repair::default();
    for e in [applied(), accepted(), more_requested(), old] {
        state.apply(e);
    }
    assert_eq!(state.status, RepairStatus::Accepted);
    assert_eq!(state.pending_due(), Some(day("2026-04-23")));
}

#[test]
fn an_overdue_repair_decision_is_flagged_only_once() {
    repair()
        .given(vec![
            applied(),
            RepairEvent::RepairDecisionOverdue {
                due: day("2026-04-10"),
                at: at("2026-04-11 00:00"),
            },
        ])
        .when(flag("2026-04-13 09:00"))
        .then_expect_error(RepairError::Deadline(
            DecisionDeadlineRefusal::AlreadyFlagged {
                due: day("2026-04-10"),
            },
        ));
}

#[test]
fn a_decided_repair_is_never_flagged() {
    for decided in [
        vec![applied(), accepted(), approved()],
        vec![applied(), denied()],
        vec![applied(), accepted(), approved(), revoked()],
    ] {
        repair()
            .given(decided)
            .when(flag("2026-07-01 09:00"))
            .then_expect_error(RepairError::Deadline(DecisionDeadlineRefusal::NotOpen));
    }
}

#[test]
fn a_repair_never_applied_for_cannot_be_flagged() {
    repair()
        .given_no_previous_events()
        .when(flag("2026-07-01 09:00"))
        .then_expect_error(RepairError::NotFound);
}

#[test]
fn the_authority_is_reminded_once_before_the_acceptance_and_the_decision_due_days() {
    let remind = |local: &str| RepairCommand::RemindDecision { at: at(local) };
    repair()
        .given(vec![applied()])
        .when(remind("2026-04-09 09:00"))
        .then_expect_events(vec![RepairEvent::RepairDecisionDueSoon {
            due: day("2026-04-10"),
            at: at("2026-04-09 09:00"),
        }]);
    repair()
        .given(vec![
            applied(),
            RepairEvent::RepairDecisionDueSoon {
                due: day("2026-04-10"),
                at: at("2026-04-09 09:00"),
            },
            accepted(),
        ])
        .when(remind("2026-04-22 09:00"))
        .then_expect_events(vec![RepairEvent::RepairDecisionDueSoon {
            due: day("2026-04-23"),
            at: at("2026-04-22 09:00"),
        }]);
    repair()
        .given(vec![
            applied(),
            RepairEvent::RepairDecisionDueSoon {
                due: day("2026-04-10"),
                at: at("2026-04-09 09:00"),
            },
        ])
        .when(remind("2026-04-10 09:00"))
        .then_expect_error(RepairError::Deadline(
            DecisionDeadlineRefusal::AlreadyReminded {
                due: day("2026-04-10"),
            },
        ));
    repair()
        .given(vec![applied()])
        .when(remind("2026-04-11 09:00"))
        .then_expect_error(RepairError::Deadline(DecisionDeadlineRefusal::Passed {
            due: day("2026-04-10"),
        }));
    repair()
        .given(vec![applied(), denied()])
        .when(remind("2026-04-09 09:00"))
        .then_expect_error(RepairError::Deadline(DecisionDeadlineRefusal::NotOpen));
    repair()
        .given_no_previous_events()
        .when(remind("2026-04-09 09:00"))
        .then_expect_error(RepairError::NotFound);
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

/// Applied Wed 30 Dec 2026: acceptance in 3 working days, Mon 4 Jan 2027 on weekends alone.
fn applied_provisionally() -> RepairEvent {
    applied_event(
        Some(authority()),
        Deadline {
            due: day("2027-01-04"),
            provisional: true,
        },
        "2026-12-30 10:00",
    )
}

fn recompute(local: &str) -> RepairCommand {
    RepairCommand::RecomputeProvisionalDue { at: at(local) }
}

#[test]
fn a_provisional_acceptance_day_is_recounted_once_the_year_is_loaded() {
    let recomputed = RepairEvent::RepairDueRecomputed {
        due: due("2027-01-05"),
        at: at("2026-12-31 09:00"),
    };
    TestFramework::<Repair>::with(services_with_2027())
        .given(vec![applied_provisionally()])
        .when(recompute("2026-12-31 09:00"))
        .then_expect_events(vec![recomputed.clone()]);
    let mut state = Repair::default();
    state.apply(applied_provisionally());
    state.apply(recomputed.clone());
    assert_eq!(state.pending_due(), Some(day("2027-01-05")));
    TestFramework::<Repair>::with(services_with_2027())
        .given(vec![applied_provisionally(), recomputed])
        .when(recompute("2026-12-31 10:00"))
        .then_expect_error(RepairError::NotRecomputable("the due date is final"));
}

#[test]
fn a_provisional_day_is_not_recounted_before_its_year_is_loaded() {
    repair()
        .given(vec![applied_provisionally()])
        .when(recompute("2026-12-31 09:00"))
        .then_expect_error(RepairError::NotRecomputable(
            "the due date is still provisional",
        ));
}

#[test]
fn a_passed_or_decided_provisional_day_is_left_as_it_is() {
    TestFramework::<Repair>::with(services_with_2027())
        .given(vec![applied_provisionally()])
        .when(recompute("2027-01-05 09:00"))
        .then_expect_error(RepairError::NotRecomputable("the due date has passed"));
    TestFramework::<Repair>::with(services_with_2027())
        .given(vec![applied_provisionally(), denied()])
        .when(recompute("2026-12-31 09:00"))
        .then_expect_error(RepairError::NotRecomputable("no decision is pending"));
}
