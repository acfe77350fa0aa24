//! Given/when/then tests of the record proposal aggregate, one per rule, named as
//! sentences. Times are written in Asia/Shanghai.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::test::TestFramework;

use super::*;
use crate::integrity::IntegrityPolicy;

type Framework = TestFramework<RecordProposal>;

fn proposal() -> Framework {
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

fn finding() -> ProposedFinding {
    ProposedFinding {
        subject_code: CreditCode::parse("91360400MA35F8XJ6F").unwrap(),
        provider: "某信用服务机构".into(),
        provider_ref: "CS-2026-0117".into(),
        decision_date: NaiveDate::from_ymd_opt(2026, 2, 2).unwrap(),
        severity: Severity::Ordinary,
        sector: Sector::Procurement,
        summary: "合同履约纠纷经法院判决未履行".into(),
    }
}

fn submit(finding: ProposedFinding, registered: bool) -> ProposalCommand {
    ProposalCommand::SubmitProposal {
        finding,
        subject_registered: registered,
        submitted_by: "token-evaluator".into(),
        at: at("2026-03-10 10:00"),
    }
}

fn submitted() -> ProposalEvent {
    ProposalEvent::ProposalSubmitted {
        finding: finding(),
        submitted_by: "token-evaluator".into(),
        at: at("2026-03-10 10:00"),
    }
}

fn confirm() -> ProposalCommand {
    ProposalCommand::ConfirmProposal {
        record_id: "r-1".into(),
        by: "token-supervisor".into(),
        at: at("2026-03-11 09:00"),
    }
}

fn confirmed() -> ProposalEvent {
    ProposalEvent::ProposalConfirmed {
        record_id: "r-1".into(),
        by: "token-supervisor".into(),
        at: at("2026-03-11 09:00"),
    }
}

fn reject(reason: &str) -> ProposalCommand {
    ProposalCommand::RejectProposal {
        reason: reason.into(),
        by: "token-supervisor".into(),
        at: at("2026-03-11 09:00"),
    }
}

fn rejected() -> ProposalEvent {
    ProposalEvent::ProposalRejected {
        reason: "来源无法核实".into(),
        by: "token-supervisor".into(),
        at: at("2026-03-11 09:00"),
    }
}

#[test]
fn a_third_partys_finding_is_submitted_for_confirmation() {
    proposal()
        .given_no_previous_events()
        .when(submit(finding(), true))
        .then_expect_events(vec![submitted()]);
}

#[test]
fn a_proposal_is_submitted_only_once() {
    proposal()
        .given(vec![submitted()])
        .when(submit(finding(), true))
        .then_expect_error(ProposalError::AlreadySubmitted);
}

#[test]
fn a_proposal_about_an_unregistered_subject_is_refused() {
    proposal()
        .given_no_previous_events()
        .when(submit(finding(), false))
        .then_expect_error(ProposalError::Invalid {
            field: "subject_code",
            message: "no such subject is registered".into(),
        });
}

#[test]
fn a_proposal_without_its_provider_is_refused() {
    for (field, change) in [
        (
            "provider",
            (|f: &mut ProposedFinding| f.provider = " ".into()) as fn(&mut _),
        ),
        ("provider_ref", |f: &mut ProposedFinding| {
            f.provider_ref = String::new()
        }),
        ("summary", |f: &mut ProposedFinding| f.summary = "\n".into()),
    ] {
        let mut f = finding();
        change(&mut f);
        proposal()
            .given_no_previous_events()
            .when(submit(f, true))
            .then_expect_error(ProposalError::Invalid {
                field,
                message: "must not be blank".into(),
            });
    }
}

#[test]
fn a_finding_decided_in_the_future_is_refused() {
    let mut f = finding();
    f.decision_date = NaiveDate::from_ymd_opt(2026, 3, 11).unwrap();
    proposal()
        .given_no_previous_events()
        .when(submit(f, true))
        .then_expect_error(ProposalError::Invalid {
            field: "decision_date",
            message: "must not be in the future".into(),
        });
}

#[test]
fn a_supervisor_confirms_a_submitted_proposal_as_a_record() {
    proposal()
        .given(vec![submitted()])
        .when(confirm())
        .then_expect_events(vec![confirmed()]);
}

#[test]
fn a_supervisor_rejects_a_submitted_proposal_with_a_reason() {
    proposal()
        .given(vec![submitted()])
        .when(reject("来源无法核实"))
        .then_expect_events(vec![rejected()]);
}

#[test]
fn a_rejection_without_a_reason_is_refused() {
    proposal()
        .given(vec![submitted()])
        .when(reject("  "))
        .then_expect_error(ProposalError::Invalid {
            field: "reason",
            message: "must not be blank".into(),
        });
}

#[test]
fn a_decided_proposal_is_not_decided_again() {
    proposal()
        .given(vec![submitted(), confirmed()])
        .when(reject("来源无法核实"))
        .then_expect_error(ProposalError::Decided("confirmed"));
    proposal()
        .given(vec![submitted(), rejected()])
        .when(confirm())
        .then_expect_error(ProposalError::Decided("rejected"));
}

#[test]
fn a_proposal_never_submitted_is_not_found() {
    proposal()
        .given_no_previous_events()
        .when(confirm())
        .then_expect_error(ProposalError::NotFound);
    proposal()
        .given_no_previous_events()
        .when(reject("来源无法核实"))
        .then_expect_error(ProposalError::NotFound);
}

#[test]
fn the_record_it_becomes_is_named_by_the_provider_and_its_reference() {
    assert_eq!(finding().source_ref(), "某信用服务机构:CS-2026-0117");
    let mut p = RecordProposal::default();
    p.apply(submitted());
    p.apply(confirmed());
    assert_eq!(p.status, ProposalStatus::Confirmed);
    assert_eq!(p.record_id.as_deref(), Some("r-1"));
    assert_eq!(submitted().event_type(), "ProposalSubmitted");
    assert_eq!(rejected().event_version(), "1");
}
