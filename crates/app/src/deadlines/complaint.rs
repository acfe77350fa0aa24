//! The complaint's deadlines: `complaint_sign` and `complaint_reply` rows of the board
//! become `MarkSignOverdue`, `MarkReplyOverdue` and `RemindDeadline` commands.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use probity_domain::complaint::{Complaint, ComplaintCommand, ComplaintError, DeadlineKind};
use probity_store::Executor;

use probity_deadlines::{DeadlineAction, DueDeadline, Outcome, Registry, Trigger};

use super::run_command;

/// Aggregate type of complaints (`deadline_entries.case_type`).
pub const CASE_TYPE: &str = probity_domain::aggregate_type::COMPLAINT;
/// Board kind of the sign deadline (as written by the complaint projector).
pub const KIND_SIGN: &str = "complaint_sign";
/// Board kind of the reply deadline.
pub const KIND_REPLY: &str = "complaint_reply";
/// The `actor` recorded in the metadata of the engine's commands.
pub use super::ACTOR;

/// Registers the complaint's sign and reply deadlines (overdue and due soon) on
/// `registry`, running the commands through `executor`.
pub fn register(registry: Registry, executor: Arc<Executor<Complaint>>) -> Registry {
    let action = |kind| -> Arc<dyn DeadlineAction> {
        Arc::new(ComplaintDeadline {
            executor: executor.clone(),
            kind,
        })
    };
    registry
        .on_overdue(CASE_TYPE, KIND_SIGN, action(DeadlineKind::Sign))
        .on_due_soon(CASE_TYPE, KIND_SIGN, action(DeadlineKind::Sign))
        .on_overdue(CASE_TYPE, KIND_REPLY, action(DeadlineKind::Reply))
        .on_due_soon(CASE_TYPE, KIND_REPLY, action(DeadlineKind::Reply))
}

/// One complaint deadline kind's action.
struct ComplaintDeadline {
    executor: Arc<Executor<Complaint>>,
    kind: DeadlineKind,
}

impl ComplaintDeadline {
    fn command(&self, trigger: Trigger, at: DateTime<Utc>) -> ComplaintCommand {
        match (trigger, self.kind) {
            (Trigger::Overdue, DeadlineKind::Sign) => ComplaintCommand::MarkSignOverdue { at },
            (Trigger::Overdue, DeadlineKind::Reply) => ComplaintCommand::MarkReplyOverdue { at },
            (Trigger::DueSoon, kind) => ComplaintCommand::RemindDeadline { kind, at },
        }
    }
}

#[async_trait::async_trait]
impl DeadlineAction for ComplaintDeadline {
    async fn fire(&self, deadline: &DueDeadline, at: DateTime<Utc>) -> anyhow::Result<Outcome> {
        let command = self.command(deadline.trigger, at);
        run_command(&self.executor, &deadline.case_id, command, |e| {
            matches!(e, ComplaintError::Deadline(_))
        })
        .await
    }
}
