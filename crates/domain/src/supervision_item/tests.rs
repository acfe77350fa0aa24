//! Given/when/then tests of the supervision item aggregate, one per rule, named as
//! sentences. Due days are checked against the official 2026 schedule shipped in
//! `WorkingCalendar::china()`; times are written in Asia/Shanghai.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::test::TestFramework;

use super::*;
use crate::integrity::IntegrityPolicy;

type Framework = TestFramework<SupervisionItem>;

fn services(policy: IntegrityPolicy) -> IntegrityServices {
    IntegrityServices {
        calendar: Arc::new(WorkingCalendar::china()),
        policy,
    }
}

fn item() -> Framework {
    Framework::with(services(IntegrityPolicy::default()))
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

/// The unit the item is assigned to.
fn unit_a() -> CreditCode {
    CreditCode::parse("914403001922038216").unwrap()
}

fn unit_b() -> CreditCode {
    CreditCode::parse("91330100716105852F").unwrap()
}

fn assign(kind: SupervisionKind, when: &str) -> SupervisionItemCommand {
    SupervisionItemCommand::AssignSupervisionItem {
        kind,
        source_ref: " 第0123号 ".into(),
        title: "关于加快老旧小区改造的建议".into(),
        unit: unit_a(),
        unit_registered: true,
        at: at(when),
    }
}

fn assigned(kind: SupervisionKind, months: u32, when: &str, due_day: &str) -> SupervisionItemEvent {
    SupervisionItemEvent::SupervisionItemAssigned {
        kind,
        source_ref: "第0123号".into(),
        title: "关于加快老旧小区改造的建议".into(),
        unit: unit_a(),
        months,
        due: due(due_day),
        policy: "supervision-2026".into(),
        at: at(when),
    }
}

/// An NPC proposal assigned on Tue 10 Mar 2026, due Wed 10 Jun 2026.
fn npc_assigned() -> SupervisionItemEvent {
    assigned(
        SupervisionKind::NpcProposal,
        3,
        "2026-03-10 10:00",
        "2026-06-10",
    )
}

fn replied(on_time: bool, when: &str) -> SupervisionItemEvent {
    SupervisionItemEvent::SupervisionItemReplied {
        unit: unit_a(),
        text: "已纳入年度计划".into(),
        on_time,
        at: at(when),
    }
}

fn reply(unit: CreditCode, text: &str, when: &str) -> SupervisionItemCommand {
    SupervisionItemCommand::ReplyToSupervisionItem {
        unit,
        text: text.into(),
        at: at(when),
    }
}

fn reassign(unit: CreditCode, reason: &str, when: &str) -> SupervisionItemCommand {
    SupervisionItemCommand::ReassignSupervisionItem {
        unit,
        unit_registered: true,
        reason: reason.into(),
        at: at(when),
    }
}

fn escalate(when: &str) -> SupervisionItemCommand {
    SupervisionItemCommand::EscalateOverdueReply { at: at(when) }
}

fn remind(when: &str) -> SupervisionItemCommand {
    SupervisionItemCommand::RemindReplyDue { at: at(when) }
}

// ---------------------------------------------------------------------------------------
// Assignment and the due day
// ---------------------------------------------------------------------------------------

#[test]
fn an_npc_proposal_is_due_three_months_after_its_assignment() {
    item()
        .given_no_previous_events()
        .when(assign(SupervisionKind::NpcProposal, "2026-03-10 10:00"))
        .then_expect_events(vec![npc_assigned()]);
}

#[test]
fn a_cppcc_motion_is_due_three_months_after_its_assignment() {
    item()
        .given_no_previous_events()
        .when(assign(SupervisionKind::CppccMotion, "2026-03-10 10:00"))
        .then_expect_events(vec![assigned(
            SupervisionKind::CppccMotion,
            3,
            "2026-03-10 10:00",
            "2026-06-10",
        )]);
}

#[test]
fn a_procuratorial_suggestion_due_on_a_sunday_is_due_the_next_monday() {
    // 10 May 2026 is a Sunday (9 May is the make-up working day, not the 10th).
    item()
        .given_no_previous_events()
        .when(assign(
            SupervisionKind::ProcuratorialSuggestion,
            "2026-03-10 10:00",
        ))
        .then_expect_events(vec![assigned(
            SupervisionKind::ProcuratorialSuggestion,
            2,
            "2026-03-10 10:00",
            "2026-05-11",
        )]);
}

#[test]
fn a_judicial_suggestion_due_in_the_national_day_holiday_is_due_after_it() {
    item()
        .given_no_previous_events()
        .when(assign(
            SupervisionKind::JudicialSuggestion,
            "2026-08-01 09:00",
        ))
        .then_expect_events(vec![assigned(
            SupervisionKind::JudicialSuggestion,
            2,
            "2026-08-01 09:00",
            "2026-10-08",
        )]);
}

#[test]
fn a_due_day_in_a_year_without_a_schedule_is_provisional() {
    let SupervisionItemEvent::SupervisionItemAssigned { due, .. } = item()
        .given_no_previous_events()
        .when(assign(SupervisionKind::NpcProposal, "2026-11-16 09:00"))
        .inspect_result()
        .unwrap()
        .remove(0)
    else {
        panic!("not an assignment");
    };
    assert_eq!(
        due,
        Deadline {
            due: day("2027-02-16"),
            provisional: true
        }
    );
}

#[test]
fn the_limits_come_from_the_configuration() {
    let mut policy = IntegrityPolicy::default();
    policy.supervision.npc_proposal_months = 1;
    policy.supervision.policy = "local-2027".into();
    Framework::with(services(policy))
        .given_no_previous_events()
        .when(assign(SupervisionKind::NpcProposal, "2026-03-10 10:00"))
        .then_expect_events(vec![SupervisionItemEvent::SupervisionItemAssigned {
            kind: SupervisionKind::NpcProposal,
            source_ref: "第0123号".into(),
            title: "关于加快老旧小区改造的建议".into(),
            unit: unit_a(),
            months: 1,
            due: due("2026-04-10"),
            policy: "local-2027".into(),
            at: at("2026-03-10 10:00"),
        }]);
}

#[test]
fn an_item_is_not_assigned_twice() {
    item()
        .given(vec![npc_assigned()])
        .when(assign(SupervisionKind::NpcProposal, "2026-03-11 10:00"))
        .then_expect_error(SupervisionItemError::AlreadyAssigned);
}

#[test]
fn an_item_is_not_assigned_to_an_unregistered_unit() {
    let mut command = assign(SupervisionKind::NpcProposal, "2026-03-10 10:00");
    if let SupervisionItemCommand::AssignSupervisionItem {
        unit_registered, ..
    } = &mut command
    {
        *unit_registered = false;
    }
    item()
        .given_no_previous_events()
        .when(command)
        .then_expect_error(SupervisionItemError::Invalid {
            field: "unit",
            message: "no subject is registered with this code".into(),
        });
}

#[test]
fn an_item_without_a_source_reference_is_refused() {
    let mut command = assign(SupervisionKind::NpcProposal, "2026-03-10 10:00");
    if let SupervisionItemCommand::AssignSupervisionItem { source_ref, .. } = &mut command {
        *source_ref = "  ".into();
    }
    item()
        .given_no_previous_events()
        .when(command)
        .then_expect_error(SupervisionItemError::Invalid {
            field: "source_ref",
            message: "must not be blank".into(),
        });
}

#[test]
fn an_item_with_a_title_too_long_is_refused() {
    let mut command = assign(SupervisionKind::NpcProposal, "2026-03-10 10:00");
    if let SupervisionItemCommand::AssignSupervisionItem { title, .. } = &mut command {
        *title = "长".repeat(TITLE_MAX_CHARS + 1);
    }
    item()
        .given_no_previous_events()
        .when(command)
        .then_expect_error(SupervisionItemError::Invalid {
            field: "title",
            message: format!("must be at most {TITLE_MAX_CHARS} characters"),
        });
}

// ---------------------------------------------------------------------------------------
// Reply and satisfaction
// ---------------------------------------------------------------------------------------

#[test]
fn the_assigned_unit_replies_on_the_due_day_on_time() {
    item()
        .given(vec![npc_assigned()])
        .when(reply(unit_a(), " 已纳入年度计划 ", "2026-06-10 23:00"))
        .then_expect_events(vec![replied(true, "2026-06-10 23:00")]);
}

#[test]
fn a_reply_after_the_due_day_is_late() {
    item()
        .given(vec![npc_assigned()])
        .when(reply(unit_a(), "已纳入年度计划", "2026-06-11 08:00"))
        .then_expect_events(vec![replied(false, "2026-06-11 08:00")]);
}

#[test]
fn another_unit_cannot_reply() {
    item()
        .given(vec![npc_assigned()])
        .when(reply(unit_b(), "已纳入年度计划", "2026-04-01 10:00"))
        .then_expect_error(SupervisionItemError::NotAssignedUnit);
}

#[test]
fn a_blank_reply_is_refused() {
    item()
        .given(vec![npc_assigned()])
        .when(reply(unit_a(), " ", "2026-04-01 10:00"))
        .then_expect_error(SupervisionItemError::Invalid {
            field: "text",
            message: "must not be blank".into(),
        });
}

#[test]
fn an_item_is_not_replied_to_twice() {
    item()
        .given(vec![npc_assigned(), replied(true, "2026-04-01 10:00")])
        .when(reply(unit_a(), "再次答复", "2026-04-02 10:00"))
        .then_expect_error(SupervisionItemError::InvalidTransition {
            action: "reply to",
            status: SupervisionStatus::Replied,
        });
}

#[test]
fn an_item_never_assigned_is_not_found() {
    item()
        .given_no_previous_events()
        .when(reply(unit_a(), "答复", "2026-04-01 10:00"))
        .then_expect_error(SupervisionItemError::NotFound);
}

#[test]
fn the_proposers_satisfaction_is_recorded_after_the_reply() {
    item()
        .given(vec![npc_assigned(), replied(true, "2026-04-01 10:00")])
        .when(SupervisionItemCommand::RecordSatisfaction {
            satisfaction: Satisfaction::BasicallySatisfied,
            at: at("2026-04-10 10:00"),
        })
        .then_expect_events(vec![
            SupervisionItemEvent::SupervisionSatisfactionRecorded {
                satisfaction: Satisfaction::BasicallySatisfied,
                at: at("2026-04-10 10:00"),
            },
        ]);
}

#[test]
fn satisfaction_is_not_recorded_before_a_reply() {
    item()
        .given(vec![npc_assigned()])
        .when(SupervisionItemCommand::RecordSatisfaction {
            satisfaction: Satisfaction::Satisfied,
            at: at("2026-04-10 10:00"),
        })
        .then_expect_error(SupervisionItemError::InvalidTransition {
            action: "record satisfaction with",
            status: SupervisionStatus::Assigned,
        });
}

#[test]
fn satisfaction_is_not_recorded_twice() {
    item()
        .given(vec![
            npc_assigned(),
            replied(true, "2026-04-01 10:00"),
            SupervisionItemEvent::SupervisionSatisfactionRecorded {
                satisfaction: Satisfaction::Dissatisfied,
                at: at("2026-04-10 10:00"),
            },
        ])
        .when(SupervisionItemCommand::RecordSatisfaction {
            satisfaction: Satisfaction::Satisfied,
            at: at("2026-04-11 10:00"),
        })
        .then_expect_error(SupervisionItemError::InvalidTransition {
            action: "record satisfaction with",
            status: SupervisionStatus::Evaluated,
        });
}

// ---------------------------------------------------------------------------------------
// Reassignment
// ---------------------------------------------------------------------------------------

#[test]
fn a_reassigned_item_is_due_again_from_the_reassignment() {
    item()
        .given(vec![npc_assigned()])
        .when(reassign(unit_b(), " 不属于本单位职责 ", "2026-03-20 10:00"))
        .then_expect_events(vec![SupervisionItemEvent::SupervisionItemReassigned {
            from: unit_a(),
            to: unit_b(),
            reason: "不属于本单位职责".into(),
            months: 3,
            due: due("2026-06-22"), // 20 Jun is a Saturday after the Dragon Boat holiday
            at: at("2026-03-20 10:00"),
        }]);
}

#[test]
fn after_a_reassignment_only_the_new_unit_replies() {
    item()
        .given(vec![
            npc_assigned(),
            SupervisionItemEvent::SupervisionItemReassigned {
                from: unit_a(),
                to: unit_b(),
                reason: "不属于本单位职责".into(),
                months: 3,
                due: due("2026-06-22"),
                at: at("2026-03-20 10:00"),
            },
        ])
        .when(reply(unit_a(), "答复", "2026-04-01 10:00"))
        .then_expect_error(SupervisionItemError::NotAssignedUnit);
}

#[test]
fn an_item_is_not_reassigned_to_the_unit_that_has_it() {
    item()
        .given(vec![npc_assigned()])
        .when(reassign(unit_a(), "重新交办", "2026-03-20 10:00"))
        .then_expect_error(SupervisionItemError::SameUnit);
}

#[test]
fn an_item_is_not_reassigned_without_a_reason() {
    item()
        .given(vec![npc_assigned()])
        .when(reassign(unit_b(), "", "2026-03-20 10:00"))
        .then_expect_error(SupervisionItemError::Invalid {
            field: "reason",
            message: "must not be blank".into(),
        });
}

#[test]
fn an_item_is_not_reassigned_to_an_unregistered_unit() {
    item()
        .given(vec![npc_assigned()])
        .when(SupervisionItemCommand::ReassignSupervisionItem {
            unit: unit_b(),
            unit_registered: false,
            reason: "不属于本单位职责".into(),
            at: at("2026-03-20 10:00"),
        })
        .then_expect_error(SupervisionItemError::Invalid {
            field: "unit",
            message: "no subject is registered with this code".into(),
        });
}

#[test]
fn a_replied_item_is_not_reassigned() {
    item()
        .given(vec![npc_assigned(), replied(true, "2026-04-01 10:00")])
        .when(reassign(unit_b(), "不属于本单位职责", "2026-04-02 10:00"))
        .then_expect_error(SupervisionItemError::InvalidTransition {
            action: "reassign",
            status: SupervisionStatus::Replied,
        });
}

// ---------------------------------------------------------------------------------------
// Reminders and escalation (the deadline engine)
// ---------------------------------------------------------------------------------------

#[test]
fn an_unanswered_item_is_escalated_the_day_after_its_due_day() {
    item()
        .given(vec![npc_assigned()])
        .when(escalate("2026-06-11 00:00"))
        .then_expect_events(vec![SupervisionItemEvent::SupervisionReplyOverdue {
            unit: unit_a(),
            due: day("2026-06-10"),
            at: at("2026-06-11 00:00"),
        }]);
}

#[test]
fn an_item_is_not_escalated_on_its_due_day() {
    item()
        .given(vec![npc_assigned()])
        .when(escalate("2026-06-10 23:59"))
        .then_expect_error(SupervisionItemError::Deadline(
            DecisionDeadlineRefusal::NotYetDue {
                due: day("2026-06-10"),
            },
        ));
}

#[test]
fn an_item_is_escalated_once_per_due_day() {
    item()
        .given(vec![
            npc_assigned(),
            SupervisionItemEvent::SupervisionReplyOverdue {
                unit: unit_a(),
                due: day("2026-06-10"),
                at: at("2026-06-11 00:00"),
            },
        ])
        .when(escalate("2026-06-12 00:00"))
        .then_expect_error(SupervisionItemError::Deadline(
            DecisionDeadlineRefusal::AlreadyFlagged {
                due: day("2026-06-10"),
            },
        ));
}

#[test]
fn a_replied_item_is_not_escalated() {
    item()
        .given(vec![npc_assigned(), replied(true, "2026-04-01 10:00")])
        .when(escalate("2026-06-11 00:00"))
        .then_expect_error(SupervisionItemError::Deadline(
            DecisionDeadlineRefusal::NotOpen,
        ));
}

#[test]
fn an_unanswered_item_is_reminded_before_its_due_day() {
    item()
        .given(vec![npc_assigned()])
        .when(remind("2026-06-09 09:00"))
        .then_expect_events(vec![SupervisionItemEvent::SupervisionReplyDueSoon {
            due: day("2026-06-10"),
            at: at("2026-06-09 09:00"),
        }]);
}

#[test]
fn an_item_is_reminded_once_per_due_day() {
    item()
        .given(vec![
            npc_assigned(),
            SupervisionItemEvent::SupervisionReplyDueSoon {
                due: day("2026-06-10"),
                at: at("2026-06-09 09:00"),
            },
        ])
        .when(remind("2026-06-10 09:00"))
        .then_expect_error(SupervisionItemError::Deadline(
            DecisionDeadlineRefusal::AlreadyReminded {
                due: day("2026-06-10"),
            },
        ));
}

#[test]
fn an_item_is_not_reminded_after_its_due_day() {
    item()
        .given(vec![npc_assigned()])
        .when(remind("2026-06-11 09:00"))
        .then_expect_error(SupervisionItemError::Deadline(
            DecisionDeadlineRefusal::Passed {
                due: day("2026-06-10"),
            },
        ));
}

#[test]
fn a_reassigned_item_is_escalated_on_its_new_due_day_only() {
    item()
        .given(vec![
            npc_assigned(),
            SupervisionItemEvent::SupervisionItemReassigned {
                from: unit_a(),
                to: unit_b(),
                reason: "不属于本单位职责".into(),
                months: 3,
                due: due("2026-06-22"),
                at: at("2026-03-20 10:00"),
            },
        ])
        .when(escalate("2026-06-11 00:00"))
        .then_expect_error(SupervisionItemError::Deadline(
            DecisionDeadlineRefusal::NotYetDue {
                due: day("2026-06-22"),
            },
        ));
}

// ---------------------------------------------------------------------------------------
// Extension (延期) of complex items
// ---------------------------------------------------------------------------------------

fn request_extension(unit: CreditCode, months: u32, when: &str) -> SupervisionItemCommand {
    SupervisionItemCommand::RequestSupervisionExtension {
        unit,
        months,
        reason: " 涉及多个部门，需联合调研 ".into(),
        at: at(when),
    }
}

fn extension_requested(months: u32, when: &str) -> SupervisionItemEvent {
    SupervisionItemEvent::SupervisionExtensionRequested {
        unit: unit_a(),
        months,
        reason: "涉及多个部门，需联合调研".into(),
        at: at(when),
    }
}

fn extension_approved(months: u32, due_day: &str, when: &str) -> SupervisionItemEvent {
    SupervisionItemEvent::SupervisionExtensionApproved {
        note: "同意延期".into(),
        months,
        due: due(due_day),
        at: at(when),
    }
}

fn approve(when: &str) -> SupervisionItemCommand {
    SupervisionItemCommand::ApproveSupervisionExtension {
        note: " 同意延期 ".into(),
        at: at(when),
    }
}

fn deny(when: &str) -> SupervisionItemCommand {
    SupervisionItemCommand::DenySupervisionExtension {
        note: " 不属于复杂事项 ".into(),
        at: at(when),
    }
}

#[test]
fn the_assigned_unit_asks_for_an_extension_by_the_due_day() {
    item()
        .given(vec![npc_assigned()])
        .when(request_extension(unit_a(), 3, "2026-06-10 23:00"))
        .then_expect_events(vec![extension_requested(3, "2026-06-10 23:00")]);
}

#[test]
fn an_extension_is_not_asked_for_after_the_due_day() {
    item()
        .given(vec![npc_assigned()])
        .when(request_extension(unit_a(), 3, "2026-06-11 08:00"))
        .then_expect_error(SupervisionItemError::ExtensionTooLate);
}

#[test]
fn another_unit_cannot_ask_for_an_extension() {
    item()
        .given(vec![npc_assigned()])
        .when(request_extension(unit_b(), 1, "2026-05-01 10:00"))
        .then_expect_error(SupervisionItemError::NotAssignedUnit);
}

#[test]
fn an_extension_without_a_reason_is_refused() {
    item()
        .given(vec![npc_assigned()])
        .when(SupervisionItemCommand::RequestSupervisionExtension {
            unit: unit_a(),
            months: 1,
            reason: " ".into(),
            at: at("2026-05-01 10:00"),
        })
        .then_expect_error(SupervisionItemError::Invalid {
            field: "reason",
            message: "must not be blank".into(),
        });
}

#[test]
fn an_extension_of_no_months_or_more_than_three_is_refused() {
    for months in [0, 4] {
        item()
            .given(vec![npc_assigned()])
            .when(request_extension(unit_a(), months, "2026-05-01 10:00"))
            .then_expect_error(SupervisionItemError::Invalid {
                field: "months",
                message: "must be between 1 and 3".into(),
            });
    }
}

#[test]
fn an_npc_proposal_is_not_extended_past_six_months_from_its_assignment() {
    item()
        .given(vec![
            npc_assigned(),
            extension_requested(2, "2026-05-01 10:00"),
            extension_approved(5, "2026-08-10", "2026-05-02 10:00"),
        ])
        .when(request_extension(unit_a(), 2, "2026-07-01 10:00"))
        .then_expect_error(SupervisionItemError::ExtensionBeyondLimit {
            max_months: 6,
            months: 5,
        });
}

#[test]
fn a_procuratorial_suggestion_is_not_extended_by_default() {
    item()
        .given(vec![assigned(
            SupervisionKind::ProcuratorialSuggestion,
            2,
            "2026-03-10 10:00",
            "2026-05-11",
        )])
        .when(request_extension(unit_a(), 1, "2026-04-01 10:00"))
        .then_expect_error(SupervisionItemError::ExtensionBeyondLimit {
            max_months: 2,
            months: 2,
        });
}

#[test]
fn the_total_limits_come_from_the_configuration() {
    let mut policy = IntegrityPolicy::default();
    policy.supervision.procuratorial_suggestion_max_months = 3;
    Framework::with(services(policy))
        .given(vec![assigned(
            SupervisionKind::ProcuratorialSuggestion,
            2,
            "2026-03-10 10:00",
            "2026-05-11",
        )])
        .when(request_extension(unit_a(), 1, "2026-04-01 10:00"))
        .then_expect_events(vec![extension_requested(1, "2026-04-01 10:00")]);
}

#[test]
fn a_second_extension_request_waits_for_the_first_decision() {
    item()
        .given(vec![
            npc_assigned(),
            extension_requested(1, "2026-05-01 10:00"),
        ])
        .when(request_extension(unit_a(), 1, "2026-05-02 10:00"))
        .then_expect_error(SupervisionItemError::ExtensionPending);
}

#[test]
fn an_approved_extension_counts_the_months_from_the_assignment() {
    item()
        .given(vec![
            npc_assigned(),
            extension_requested(3, "2026-05-01 10:00"),
        ])
        .when(approve("2026-05-02 10:00"))
        .then_expect_events(vec![extension_approved(
            6,
            "2026-09-10",
            "2026-05-02 10:00",
        )]);
}

#[test]
fn a_reassigned_item_is_extended_from_its_reassignment() {
    item()
        .given(vec![
            npc_assigned(),
            SupervisionItemEvent::SupervisionItemReassigned {
                from: unit_a(),
                to: unit_b(),
                reason: "不属于本单位职责".into(),
                months: 3,
                due: due("2026-06-22"),
                at: at("2026-03-20 10:00"),
            },
            SupervisionItemEvent::SupervisionExtensionRequested {
                unit: unit_b(),
                months: 1,
                reason: "需联合调研".into(),
                at: at("2026-05-01 10:00"),
            },
        ])
        .when(approve("2026-05-02 10:00"))
        .then_expect_events(vec![extension_approved(
            4,
            "2026-07-20",
            "2026-05-02 10:00",
        )]);
}

#[test]
fn an_extension_is_not_approved_past_a_limit_lowered_since_the_request() {
    let mut policy = IntegrityPolicy::default();
    policy.supervision.npc_proposal_max_months = 4;
    Framework::with(services(policy))
        .given(vec![
            npc_assigned(),
            extension_requested(3, "2026-05-01 10:00"),
        ])
        .when(approve("2026-05-02 10:00"))
        .then_expect_error(SupervisionItemError::ExtensionBeyondLimit {
            max_months: 4,
            months: 3,
        });
}

#[test]
fn a_denied_extension_leaves_the_due_day() {
    item()
        .given(vec![
            npc_assigned(),
            extension_requested(3, "2026-05-01 10:00"),
        ])
        .when(deny("2026-05-02 10:00"))
        .then_expect_events(vec![SupervisionItemEvent::SupervisionExtensionDenied {
            note: "不属于复杂事项".into(),
            at: at("2026-05-02 10:00"),
        }]);
}

#[test]
fn no_extension_is_approved_or_denied_without_a_request() {
    item()
        .given(vec![npc_assigned()])
        .when(approve("2026-05-02 10:00"))
        .then_expect_error(SupervisionItemError::NoExtensionPending);
    item()
        .given(vec![
            npc_assigned(),
            extension_requested(3, "2026-05-01 10:00"),
            extension_approved(6, "2026-09-10", "2026-05-02 10:00"),
        ])
        .when(deny("2026-05-03 10:00"))
        .then_expect_error(SupervisionItemError::NoExtensionPending);
}

#[test]
fn an_extension_is_not_decided_once_the_item_is_replied() {
    item()
        .given(vec![
            npc_assigned(),
            extension_requested(3, "2026-05-01 10:00"),
            replied(true, "2026-05-02 09:00"),
        ])
        .when(approve("2026-05-02 10:00"))
        .then_expect_error(SupervisionItemError::InvalidTransition {
            action: "approve an extension for",
            status: SupervisionStatus::Replied,
        });
}

#[test]
fn an_extended_item_is_escalated_on_its_new_due_day_only() {
    let extended = vec![
        npc_assigned(),
        extension_requested(3, "2026-05-01 10:00"),
        extension_approved(6, "2026-09-10", "2026-05-02 10:00"),
    ];
    item()
        .given(extended.clone())
        .when(escalate("2026-06-11 00:00"))
        .then_expect_error(SupervisionItemError::Deadline(
            DecisionDeadlineRefusal::NotYetDue {
                due: day("2026-09-10"),
            },
        ));
    item()
        .given(extended)
        .when(escalate("2026-09-11 00:00"))
        .then_expect_events(vec![SupervisionItemEvent::SupervisionReplyOverdue {
            unit: unit_a(),
            due: day("2026-09-10"),
            at: at("2026-09-11 00:00"),
        }]);
}

#[test]
fn a_reply_by_the_extended_due_day_is_on_time() {
    item()
        .given(vec![
            npc_assigned(),
            extension_requested(3, "2026-05-01 10:00"),
            extension_approved(6, "2026-09-10", "2026-05-02 10:00"),
        ])
        .when(reply(unit_a(), "已纳入年度计划", "2026-08-01 10:00"))
        .then_expect_events(vec![replied(true, "2026-08-01 10:00")]);
}

// ---------------------------------------------------------------------------------------
// Second handling (再办理) after a dissatisfied rating
// ---------------------------------------------------------------------------------------

fn rated(satisfaction: Satisfaction, when: &str) -> SupervisionItemEvent {
    SupervisionItemEvent::SupervisionSatisfactionRecorded {
        satisfaction,
        at: at(when),
    }
}

fn return_for_rehandling(when: &str) -> SupervisionItemCommand {
    SupervisionItemCommand::ReturnSupervisionItemForRehandling {
        reason: " 代表认为答复未解决实际问题 ".into(),
        at: at(when),
    }
}

fn returned(when: &str, due_day: &str) -> SupervisionItemEvent {
    SupervisionItemEvent::SupervisionItemReturnedForRehandling {
        unit: unit_a(),
        reason: "代表认为答复未解决实际问题".into(),
        months: 1,
        due: due(due_day),
        policy: "supervision-2026".into(),
        at: at(when),
    }
}

fn dissatisfied_item() -> Vec<SupervisionItemEvent> {
    vec![
        npc_assigned(),
        replied(true, "2026-05-01 10:00"),
        rated(Satisfaction::Dissatisfied, "2026-06-25 10:00"),
    ]
}

#[test]
fn a_dissatisfied_item_returns_to_its_unit_due_a_month_later() {
    item()
        .given(dissatisfied_item())
        .when(return_for_rehandling("2026-07-01 10:00"))
        // 1 Aug 2026 is a Saturday: due the next Monday.
        .then_expect_events(vec![returned("2026-07-01 10:00", "2026-08-03")]);
}

#[test]
fn a_satisfied_item_is_not_returned_for_rehandling() {
    for satisfaction in [Satisfaction::Satisfied, Satisfaction::BasicallySatisfied] {
        item()
            .given(vec![
                npc_assigned(),
                replied(true, "2026-05-01 10:00"),
                rated(satisfaction, "2026-06-25 10:00"),
            ])
            .when(return_for_rehandling("2026-07-01 10:00"))
            .then_expect_error(SupervisionItemError::NotDissatisfied);
    }
}

#[test]
fn an_item_not_yet_rated_is_not_returned_for_rehandling() {
    item()
        .given(vec![npc_assigned(), replied(true, "2026-05-01 10:00")])
        .when(return_for_rehandling("2026-07-01 10:00"))
        .then_expect_error(SupervisionItemError::InvalidTransition {
            action: "return for rehandling",
            status: SupervisionStatus::Replied,
        });
}

#[test]
fn an_item_is_not_returned_for_rehandling_without_a_reason() {
    item()
        .given(dissatisfied_item())
        .when(SupervisionItemCommand::ReturnSupervisionItemForRehandling {
            reason: "".into(),
            at: at("2026-07-01 10:00"),
        })
        .then_expect_error(SupervisionItemError::Invalid {
            field: "reason",
            message: "must not be blank".into(),
        });
}

#[test]
fn the_second_reply_is_on_time_by_its_own_due_day() {
    let mut given = dissatisfied_item();
    given.push(returned("2026-07-01 10:00", "2026-08-03"));
    item()
        .given(given.clone())
        .when(reply(unit_a(), "已重新研究办理", "2026-08-03 18:00"))
        .then_expect_events(vec![SupervisionItemEvent::SupervisionItemReplied {
            unit: unit_a(),
            text: "已重新研究办理".into(),
            on_time: true,
            at: at("2026-08-03 18:00"),
        }]);
    item()
        .given(given)
        .when(reply(unit_a(), "已重新研究办理", "2026-08-04 09:00"))
        .then_expect_events(vec![SupervisionItemEvent::SupervisionItemReplied {
            unit: unit_a(),
            text: "已重新研究办理".into(),
            on_time: false,
            at: at("2026-08-04 09:00"),
        }]);
}

#[test]
fn a_returned_item_is_escalated_once_after_its_new_due_day() {
    let mut given = dissatisfied_item();
    given.push(returned("2026-07-01 10:00", "2026-08-03"));
    item()
        .given(given.clone())
        .when(escalate("2026-08-04 00:00"))
        .then_expect_events(vec![SupervisionItemEvent::SupervisionReplyOverdue {
            unit: unit_a(),
            due: day("2026-08-03"),
            at: at("2026-08-04 00:00"),
        }]);
    given.push(SupervisionItemEvent::SupervisionReplyOverdue {
        unit: unit_a(),
        due: day("2026-08-03"),
        at: at("2026-08-04 00:00"),
    });
    item()
        .given(given)
        .when(escalate("2026-08-05 00:00"))
        .then_expect_error(SupervisionItemError::Deadline(
            DecisionDeadlineRefusal::AlreadyFlagged {
                due: day("2026-08-03"),
            },
        ));
}

#[test]
fn an_item_is_handled_a_second_time_once_only() {
    let mut given = dissatisfied_item();
    given.extend([
        returned("2026-07-01 10:00", "2026-08-03"),
        replied(true, "2026-07-20 10:00"),
        rated(Satisfaction::Dissatisfied, "2026-07-25 10:00"),
    ]);
    item()
        .given(given)
        .when(return_for_rehandling("2026-07-26 10:00"))
        .then_expect_error(SupervisionItemError::AlreadyRehandled);
}

#[test]
fn a_second_handling_is_not_extended() {
    let mut given = dissatisfied_item();
    given.push(returned("2026-07-01 10:00", "2026-08-03"));
    item()
        .given(given)
        .when(request_extension(unit_a(), 1, "2026-07-10 10:00"))
        .then_expect_error(SupervisionItemError::RehandlingNotExtended);
}

#[test]
fn an_extension_is_denied_without_a_note_but_not_with_one_too_long() {
    let given = vec![npc_assigned(), extension_requested(3, "2026-05-01 10:00")];
    item()
        .given(given.clone())
        .when(SupervisionItemCommand::DenySupervisionExtension {
            note: String::new(),
            at: at("2026-05-02 10:00"),
        })
        .then_expect_events(vec![SupervisionItemEvent::SupervisionExtensionDenied {
            note: String::new(),
            at: at("2026-05-02 10:00"),
        }]);
    item()
        .given(given)
        .when(SupervisionItemCommand::ApproveSupervisionExtension {
            note: "长".repeat(TEXT_MAX_CHARS + 1),
            at: at("2026-05-02 10:00"),
        })
        .then_expect_error(SupervisionItemError::Invalid {
            field: "note",
            message: format!("must be at most {TEXT_MAX_CHARS} characters"),
        });
}

// ---------------------------------------------------------------------------------------
// A provisional due day recounted on a calendar load
// ---------------------------------------------------------------------------------------

/// The shipped calendar plus a TEST 2027 schedule (15–19 Feb off; not the official one).
fn services_with_2027() -> IntegrityServices {
    let mut calendar = WorkingCalendar::china();
    calendar
        .add_year(crate::calendar::YearSchedule {
            year: 2027,
            holidays: (15..=19)
                .map(|d| NaiveDate::from_ymd_opt(2027, 2, d).unwrap())
                .collect(),
            makeup_workdays: vec![],
        })
        .unwrap();
    IntegrityServices {
        calendar: Arc::new(calendar),
        policy: IntegrityPolicy::default(),
    }
}

fn provisional(s: &str) -> Deadline {
    Deadline {
        due: day(s),
        provisional: true,
    }
}

/// An NPC proposal assigned Mon 16 Nov 2026: due Tue 16 Feb 2027 on weekends alone,
/// provisional (2027 has no schedule in the shipped calendar).
fn assigned_through_2027() -> SupervisionItemEvent {
    let SupervisionItemEvent::SupervisionItemAssigned { due, .. } = item()
        .given_no_previous_events()
        .when(assign(SupervisionKind::NpcProposal, "2026-11-16 09:00"))
        .inspect_result()
        .unwrap()
        .remove(0)
    else {
        panic!("not an assignment");
    };
    assert_eq!(due, provisional("2027-02-16"));
    SupervisionItemEvent::SupervisionItemAssigned {
        kind: SupervisionKind::NpcProposal,
        source_ref: "第0123号".into(),
        title: "关于加快老旧小区改造的建议".into(),
        unit: unit_a(),
        months: 3,
        due,
        policy: "supervision-2026".into(),
        at: at("2026-11-16 09:00"),
    }
}

fn recount(when: &str) -> SupervisionItemCommand {
    SupervisionItemCommand::RecomputeProvisionalDue { at: at(when) }
}

#[test]
fn a_provisional_due_day_is_recounted_once_the_year_is_loaded() {
    // 16 Feb 2027 falls in the (test) holiday of 15–19 Feb: the next working day is Mon 22.
    let recounted = SupervisionItemEvent::SupervisionReplyDueRecomputed {
        due: due("2027-02-22"),
        at: at("2026-12-20 09:00"),
    };
    Framework::with(services_with_2027())
        .given(vec![assigned_through_2027()])
        .when(recount("2026-12-20 09:00"))
        .then_expect_events(vec![recounted.clone()]);
    Framework::with(services_with_2027())
        .given(vec![assigned_through_2027(), recounted])
        .when(recount("2026-12-20 10:00"))
        .then_expect_error(SupervisionItemError::NotRecomputable(
            "the due date is final",
        ));
}

#[test]
fn a_recounted_due_day_is_the_one_a_reply_is_on_time_by() {
    let recounted = SupervisionItemEvent::SupervisionReplyDueRecomputed {
        due: due("2027-02-22"),
        at: at("2026-12-20 09:00"),
    };
    Framework::with(services_with_2027())
        .given(vec![assigned_through_2027(), recounted])
        .when(reply(unit_a(), "已办理", "2027-02-22 16:00"))
        .then_expect_events(vec![SupervisionItemEvent::SupervisionItemReplied {
            unit: unit_a(),
            text: "已办理".into(),
            on_time: true,
            at: at("2027-02-22 16:00"),
        }]);
}

#[test]
fn a_due_day_is_not_recounted_before_its_year_is_loaded() {
    item()
        .given(vec![assigned_through_2027()])
        .when(recount("2026-12-20 09:00"))
        .then_expect_error(SupervisionItemError::NotRecomputable(
            "the due date is still provisional",
        ));
}

#[test]
fn an_extended_due_day_is_recounted_by_all_its_months_from_the_assignment() {
    // Assigned Wed 16 Sep 2026 (due 16 Dec), extended to 5 months: Tue 16 Feb 2027,
    // provisional; on the loaded year Mon 22 Feb.
    let given = vec![
        assigned(
            SupervisionKind::NpcProposal,
            3,
            "2026-09-16 10:00",
            "2026-12-16",
        ),
        extension_requested(2, "2026-12-01 10:00"),
        SupervisionItemEvent::SupervisionExtensionApproved {
            note: "同意延期".into(),
            months: 5,
            due: provisional("2027-02-16"),
            at: at("2026-12-02 10:00"),
        },
    ];
    Framework::with(services_with_2027())
        .given(given)
        .when(recount("2026-12-20 09:00"))
        .then_expect_events(vec![SupervisionItemEvent::SupervisionReplyDueRecomputed {
            due: due("2027-02-22"),
            at: at("2026-12-20 09:00"),
        }]);
}

#[test]
fn a_final_due_day_is_not_recounted() {
    Framework::with(services_with_2027())
        .given(vec![npc_assigned()])
        .when(recount("2026-04-01 09:00"))
        .then_expect_error(SupervisionItemError::NotRecomputable(
            "the due date is final",
        ));
}

#[test]
fn a_passed_due_day_is_not_recounted() {
    Framework::with(services_with_2027())
        .given(vec![assigned_through_2027()])
        .when(recount("2027-02-17 09:00"))
        .then_expect_error(SupervisionItemError::NotRecomputable(
            "the due date has passed",
        ));
}

#[test]
fn a_replied_item_has_no_due_day_to_recount() {
    Framework::with(services_with_2027())
        .given(vec![
            assigned_through_2027(),
            replied(true, "2026-12-18 10:00"),
        ])
        .when(recount("2026-12-20 09:00"))
        .then_expect_error(SupervisionItemError::NotRecomputable("no reply is owed"));
}

#[test]
fn a_due_day_the_limits_in_force_do_not_give_is_left_alone() {
    // Stored as 17 Feb (not 3 months from 16 Nov on any calendar): never overwritten.
    let SupervisionItemEvent::SupervisionItemAssigned {
        kind,
        source_ref,
        title,
        unit,
        months,
        policy,
        at: when,
        ..
    } = assigned_through_2027()
    else {
        unreachable!()
    };
    let odd = SupervisionItemEvent::SupervisionItemAssigned {
        kind,
        source_ref,
        title,
        unit,
        months,
        due: provisional("2027-02-17"),
        policy,
        at: when,
    };
    Framework::with(services_with_2027())
        .given(vec![odd])
        .when(recount("2026-12-20 09:00"))
        .then_expect_error(SupervisionItemError::NotRecomputable(
            "the due date cannot be reproduced under the limits in force",
        ));
}

#[test]
fn recounting_the_due_day_of_an_unknown_item_is_not_found() {
    Framework::with(services_with_2027())
        .given_no_previous_events()
        .when(recount("2026-12-20 09:00"))
        .then_expect_error(SupervisionItemError::NotFound);
}
