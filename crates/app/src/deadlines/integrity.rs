//! The integrity records' deadlines (escalation rules of issue 4, item 3):
//! - `rectification` (the unit owes its explanation or report): the day after the due
//!   day, `EscalateRectification` records 通报批评, and the subject is ineligible for
//!   honours until the rectification is verified;
//! - `repair_acceptance`, `repair_decision` (the recording authority owes a decision) and
//!   `objection_decision`: `FlagDecisionOverdue` records that the authority let the day
//!   pass, which the supervisors' board and the case's view show;
//! - `objection_check` (the deciding authority owes its check, 1 working day):
//!   `FlagCheckOverdue`;
//! - `record_withdrawal` (the source decision changed; the recording authority owes the
//!   withdrawal within 3 working days, 行政处罚法 art. 48): `FlagWithdrawalOverdue`.
//!
//! Each is also reminded (`RemindDue`, `RemindDecision`, `RemindCheck`,
//! `RemindWithdrawal`) within the configured window.
//!
//! Each aggregate refuses a second escalation, flag or reminder of the same due day, a
//! deadline no longer owed, a day not yet passed (flags) or already passed (reminders),
//! with typed errors the engine takes as settled.

use std::sync::Arc;

use probity_domain::objection::{Objection, ObjectionCommand, ObjectionError};
use probity_domain::record::{DishonestyRecord, RecordCommand, RecordError};
use probity_domain::rectification::{Rectification, RectificationCommand, RectificationError};
use probity_domain::repair::{Repair, RepairCommand, RepairError};
use probity_store::Executor;

use probity_deadlines::{action_fn, Registry};
use probity_domain::aggregate_type::{OBJECTION, RECORD, RECTIFICATION, REPAIR};

use super::run_command;

/// Board kinds (as the integrity projector writes them).
pub const KIND_RECTIFICATION: &str = "rectification";
/// A repair application waiting for acceptance.
pub const KIND_REPAIR_ACCEPTANCE: &str = "repair_acceptance";
/// An accepted repair waiting for its decision.
pub const KIND_REPAIR_DECISION: &str = "repair_decision";
/// An objection waiting for its decision.
pub const KIND_OBJECTION_DECISION: &str = "objection_decision";
/// An objection waiting for its check (核查).
pub const KIND_OBJECTION_CHECK: &str = "objection_check";
/// A record whose source decision changed, waiting for its withdrawal.
pub const KIND_RECORD_WITHDRAWAL: &str = "record_withdrawal";

/// A command the engine runs on a case at an instant.
type At<C> = fn(chrono::DateTime<chrono::Utc>) -> C;

/// An engine action running `command` on the case through `executor`.
fn act<A>(
    executor: Arc<Executor<A>>,
    command: At<A::Command>,
    settled: fn(&A::Error) -> bool,
) -> Arc<dyn probity_deadlines::DeadlineAction>
where
    A: cqrs_es::Aggregate + 'static,
    A::Command: Clone + Send + 'static,
    A::Error: std::error::Error + Send + Sync + 'static,
    A::Services: Send + Sync,
{
    action_fn(move |d, at| {
        let executor = executor.clone();
        async move { run_command(&executor, &d.case_id, command(at), settled).await }
    })
}

/// Registers the integrity deadlines' overdue and due-soon actions on `registry`.
pub fn register(
    registry: Registry,
    records: Arc<Executor<DishonestyRecord>>,
    rectifications: Arc<Executor<Rectification>>,
    repairs: Arc<Executor<Repair>>,
    objections: Arc<Executor<Objection>>,
) -> Registry {
    fn rectification_settled(e: &RectificationError) -> bool {
        matches!(
            e,
            RectificationError::NotOverdue
                | RectificationError::AlreadyEscalated
                | RectificationError::InvalidTransition { .. }
                | RectificationError::Reminder(_)
                | RectificationError::NotFound
        )
    }
    fn repair_settled(e: &RepairError) -> bool {
        matches!(e, RepairError::Deadline(_) | RepairError::NotFound)
    }
    fn objection_settled(e: &ObjectionError) -> bool {
        matches!(e, ObjectionError::Deadline(_) | ObjectionError::NotFound)
    }
    fn record_settled(e: &RecordError) -> bool {
        matches!(e, RecordError::Deadline(_) | RecordError::NotFound)
    }
    let flag_check = act(
        objections.clone(),
        |at| ObjectionCommand::FlagCheckOverdue { at },
        objection_settled,
    );
    let remind_check = act(
        objections.clone(),
        |at| ObjectionCommand::RemindCheck { at },
        objection_settled,
    );
    let flag_withdrawal = act(
        records.clone(),
        |at| RecordCommand::FlagWithdrawalOverdue { at },
        record_settled,
    );
    let remind_withdrawal = act(
        records,
        |at| RecordCommand::RemindWithdrawal { at },
        record_settled,
    );
    let r = rectifications.clone();
    let escalate = action_fn(move |d, at| {
        let executor = r.clone();
        async move {
            let command = RectificationCommand::EscalateRectification { at };
            run_command(&executor, &d.case_id, command, rectification_settled).await
        }
    });
    let r = rectifications;
    let remind_rectification = action_fn(move |d, at| {
        let executor = r.clone();
        async move {
            let command = RectificationCommand::RemindDue { at };
            run_command(&executor, &d.case_id, command, rectification_settled).await
        }
    });
    let p = repairs.clone();
    let flag_repair = action_fn(move |d, at| {
        let executor = p.clone();
        async move {
            let command = RepairCommand::FlagDecisionOverdue { at };
            run_command(&executor, &d.case_id, command, repair_settled).await
        }
    });
    let p = repairs;
    let remind_repair = action_fn(move |d, at| {
        let executor = p.clone();
        async move {
            let command = RepairCommand::RemindDecision { at };
            run_command(&executor, &d.case_id, command, repair_settled).await
        }
    });
    let o = objections.clone();
    let flag_objection = action_fn(move |d, at| {
        let executor = o.clone();
        async move {
            let command = ObjectionCommand::FlagDecisionOverdue { at };
            run_command(&executor, &d.case_id, command, objection_settled).await
        }
    });
    let o = objections;
    let remind_objection = action_fn(move |d, at| {
        let executor = o.clone();
        async move {
            let command = ObjectionCommand::RemindDecision { at };
            run_command(&executor, &d.case_id, command, objection_settled).await
        }
    });
    registry
        .on_overdue(RECTIFICATION, KIND_RECTIFICATION, escalate)
        .on_due_soon(RECTIFICATION, KIND_RECTIFICATION, remind_rectification)
        .on_overdue(REPAIR, KIND_REPAIR_ACCEPTANCE, flag_repair.clone())
        .on_overdue(REPAIR, KIND_REPAIR_DECISION, flag_repair)
        .on_due_soon(REPAIR, KIND_REPAIR_ACCEPTANCE, remind_repair.clone())
        .on_due_soon(REPAIR, KIND_REPAIR_DECISION, remind_repair)
        .on_overdue(OBJECTION, KIND_OBJECTION_DECISION, flag_objection)
        .on_due_soon(OBJECTION, KIND_OBJECTION_DECISION, remind_objection)
        .on_overdue(OBJECTION, KIND_OBJECTION_CHECK, flag_check)
        .on_due_soon(OBJECTION, KIND_OBJECTION_CHECK, remind_check)
        .on_overdue(RECORD, KIND_RECORD_WITHDRAWAL, flag_withdrawal)
        .on_due_soon(RECORD, KIND_RECORD_WITHDRAWAL, remind_withdrawal)
}
