//! The integrity records' deadlines (escalation rules of issue 4, item 3):
//! - `rectification` (the unit owes its explanation or report): the day after the due
//!   day, `EscalateRectification` records 通报批评, and the subject is ineligible for
//!   honours until the rectification is verified;
//! - `repair_acceptance`, `repair_decision` (the recording authority owes a decision) and
//!   `objection_decision`: `FlagDecisionOverdue` records that the authority let the day
//!   pass, which the supervisors' board and the case's view show.
//!
//! Each is also reminded (`RemindDue`, `RemindDecision`) within the configured window.
//!
//! Each aggregate refuses a second escalation, flag or reminder of the same due day, a
//! deadline no longer owed, a day not yet passed (flags) or already passed (reminders),
//! with typed errors the engine takes as settled.

use std::sync::Arc;

use probity_domain::objection::{Objection, ObjectionCommand, ObjectionError};
use probity_domain::rectification::{Rectification, RectificationCommand, RectificationError};
use probity_domain::repair::{Repair, RepairCommand, RepairError};
use probity_store::Executor;

use probity_deadlines::{action_fn, Registry};
use probity_domain::aggregate_type::{OBJECTION, RECTIFICATION, REPAIR};

use super::run_command;

/// Board kinds (as the integrity projector writes them).
pub const KIND_RECTIFICATION: &str = "rectification";
/// A repair application waiting for acceptance.
pub const KIND_REPAIR_ACCEPTANCE: &str = "repair_acceptance";
/// An accepted repair waiting for its decision.
pub const KIND_REPAIR_DECISION: &str = "repair_decision";
/// An objection waiting for its decision.
pub const KIND_OBJECTION_DECISION: &str = "objection_decision";

/// Registers the integrity deadlines' overdue and due-soon actions on `registry`.
pub fn register(
    registry: Registry,
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
}
