//! The supervision items' reply deadline (`supervision_item` / `supervision_reply` on the
//! board): the day after the due day, `EscalateOverdueReply` records 督办
//! (`SupervisionReplyOverdue`, counted against the unit in the assessment); within the
//! reminder window, `RemindReplyDue` records `SupervisionReplyDueSoon`. The aggregate
//! keeps each to once per due day and refuses a deadline no longer owed, with typed
//! errors the engine takes as settled.

use std::sync::Arc;

use probity_deadlines::{action_fn, Registry};
use probity_domain::aggregate_type::SUPERVISION_ITEM;
use probity_domain::supervision_item::{
    SupervisionItem, SupervisionItemCommand, SupervisionItemError,
};
use probity_store::Executor;

use super::run_command;

/// The board kind (as the integrity projector writes it).
pub const KIND_SUPERVISION_REPLY: &str = "supervision_reply";

fn settled(e: &SupervisionItemError) -> bool {
    matches!(
        e,
        SupervisionItemError::Deadline(_)
            | SupervisionItemError::NotFound
            | SupervisionItemError::InvalidTransition { .. }
    )
}

/// Registers the supervision items' overdue and due-soon actions on `registry`.
pub fn register(registry: Registry, items: Arc<Executor<SupervisionItem>>) -> Registry {
    let e = items.clone();
    let escalate = action_fn(move |d, at| {
        let executor = e.clone();
        async move {
            let command = SupervisionItemCommand::EscalateOverdueReply { at };
            run_command(&executor, &d.case_id, command, settled).await
        }
    });
    let e = items;
    let remind = action_fn(move |d, at| {
        let executor = e.clone();
        async move {
            let command = SupervisionItemCommand::RemindReplyDue { at };
            run_command(&executor, &d.case_id, command, settled).await
        }
    });
    registry
        .on_overdue(SUPERVISION_ITEM, KIND_SUPERVISION_REPLY, escalate)
        .on_due_soon(SUPERVISION_ITEM, KIND_SUPERVISION_REPLY, remind)
}
