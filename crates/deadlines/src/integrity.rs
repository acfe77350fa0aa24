//! The integrity records' deadlines (escalation rules of issue 4, item 3):
//! - `rectification` (the unit owes its explanation or report): the day after the due
//!   day, `EscalateRectification` records 通报批评, and the subject is ineligible for
//!   honours until the rectification is verified;
//! - `repair_acceptance`, `repair_decision` (the recording authority owes a decision) and
//!   `objection_decision`: `FlagDecisionOverdue` records that the authority let the day
//!   pass, which the supervisors' board and the case's view show.
//!
//! Each aggregate refuses a second escalation or flag of the same due day, a deadline no
//! longer owed, and a day not yet passed, with typed errors the engine takes as settled.

use std::sync::Arc;

use probity_domain::objection::{Objection, ObjectionCommand, ObjectionError};
use probity_domain::rectification::{Rectification, RectificationCommand, RectificationError};
use probity_domain::repair::{Repair, RepairCommand, RepairError};
use probity_store::{ExecuteError, Executor, Metadata};

use crate::complaint::ACTOR;
use crate::registry::{action_fn, Outcome, Registry};

/// Board kinds (as the integrity projector writes them).
pub const KIND_RECTIFICATION: &str = "rectification";
/// A repair application waiting for acceptance.
pub const KIND_REPAIR_ACCEPTANCE: &str = "repair_acceptance";
/// An accepted repair waiting for its decision.
pub const KIND_REPAIR_DECISION: &str = "repair_decision";
/// An objection waiting for its decision.
pub const KIND_OBJECTION_DECISION: &str = "objection_decision";

fn metadata() -> Metadata {
    let mut metadata = Metadata::new();
    metadata.insert("actor".into(), ACTOR.into());
    metadata.insert("role".into(), "system".into());
    metadata
}

/// Registers the integrity deadlines' overdue actions on `registry`.
pub fn register(
    registry: Registry,
    rectifications: Arc<Executor<Rectification>>,
    repairs: Arc<Executor<Repair>>,
    objections: Arc<Executor<Objection>>,
) -> Registry {
    let escalate = action_fn(move |deadline, at| {
        let executor = rectifications.clone();
        async move {
            let command = RectificationCommand::EscalateRectification { at };
            match executor
                .execute(&deadline.case_id, command, None, metadata())
                .await
            {
                Ok(_) => Ok(Outcome::Fired),
                Err(ExecuteError::Domain(
                    RectificationError::NotOverdue
                    | RectificationError::AlreadyEscalated
                    | RectificationError::InvalidTransition { .. }
                    | RectificationError::NotFound,
                )) => Ok(Outcome::Settled),
                Err(other) => Err(anyhow::Error::new(other)),
            }
        }
    });
    let flag_repair = action_fn(move |deadline, at| {
        let executor = repairs.clone();
        async move {
            let command = RepairCommand::FlagDecisionOverdue { at };
            match executor
                .execute(&deadline.case_id, command, None, metadata())
                .await
            {
                Ok(_) => Ok(Outcome::Fired),
                Err(ExecuteError::Domain(RepairError::Deadline(_) | RepairError::NotFound)) => {
                    Ok(Outcome::Settled)
                }
                Err(other) => Err(anyhow::Error::new(other)),
            }
        }
    });
    let flag_objection = action_fn(move |deadline, at| {
        let executor = objections.clone();
        async move {
            let command = ObjectionCommand::FlagDecisionOverdue { at };
            match executor
                .execute(&deadline.case_id, command, None, metadata())
                .await
            {
                Ok(_) => Ok(Outcome::Fired),
                Err(ExecuteError::Domain(
                    ObjectionError::Deadline(_) | ObjectionError::NotFound,
                )) => Ok(Outcome::Settled),
                Err(other) => Err(anyhow::Error::new(other)),
            }
        }
    });
    registry
        .on_overdue("rectification", KIND_RECTIFICATION, escalate)
        .on_overdue("repair", KIND_REPAIR_ACCEPTANCE, flag_repair.clone())
        .on_overdue("repair", KIND_REPAIR_DECISION, flag_repair)
        .on_overdue("objection", KIND_OBJECTION_DECISION, flag_objection)
}
