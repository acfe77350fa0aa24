//! The access log of a case (`access_log` aggregate, one per case): every history read,
//! audit export and personal-data read is recorded there BEFORE the data is served, so
//! an auditor can always answer "who saw this case, when, and why".

use probity_domain::access::AccessCommand;
use probity_store::StoredEvent;

use crate::error::{AppError, AppResult};
use crate::{App, CommandContext};

/// The id of the access-log aggregate of a case: `<aggregate_type>-<id>`.
pub fn access_log_id(aggregate_type: &str, id: &str) -> String {
    format!("{aggregate_type}-{id}")
}

impl App {
    /// Reads the whole history of `aggregate_type`/`id` for an audited reader: not found
    /// when it has no events; otherwise records `HistoryRead` (with `purpose`) in the
    /// case's access log FIRST, then returns the events in order.
    #[tracing::instrument(name = "history_read", skip_all, fields(aggregate_type = %aggregate_type, aggregate_id = %id, actor = %ctx.caller.token_id))]
    pub async fn read_history(
        &self,
        ctx: CommandContext<'_>,
        aggregate_type: &str,
        id: &str,
        purpose: String,
    ) -> AppResult<Vec<StoredEvent>> {
        // One read serves both the existence check and the page.
        let events = self.log.read_aggregate(aggregate_type, id, None).await?;
        if events.is_empty() {
            return Err(AppError::NotFound(format!(
                "{aggregate_type} {id} not found"
            )));
        }
        let read = AccessCommand::RecordHistoryRead {
            aggregate_type: aggregate_type.to_string(),
            aggregate_id: id.to_string(),
            actor: ctx.caller.token_id.clone(),
            role: ctx.caller.role.as_str().to_string(),
            purpose,
            at: self.clock.now(),
        };
        self.record_access(ctx, aggregate_type, id, read).await?;
        Ok(events)
    }

    /// Records the export of an audit bundle of `aggregate_type`/`id` (`Exported`, with
    /// `purpose`) FIRST; not found when the aggregate has no events.
    #[tracing::instrument(name = "audit_export", skip_all, fields(aggregate_type = %aggregate_type, aggregate_id = %id, actor = %ctx.caller.token_id))]
    pub async fn record_export(
        &self,
        ctx: CommandContext<'_>,
        aggregate_type: &str,
        id: &str,
        purpose: String,
    ) -> AppResult<()> {
        if self.log.last_sequence(aggregate_type, id).await? == 0 {
            return Err(AppError::NotFound(format!(
                "{aggregate_type} {id} not found"
            )));
        }
        let export = AccessCommand::RecordExport {
            aggregate_type: aggregate_type.to_string(),
            aggregate_id: id.to_string(),
            actor: ctx.caller.token_id.clone(),
            role: ctx.caller.role.as_str().to_string(),
            purpose,
            at: self.clock.now(),
        };
        self.record_access(ctx, aggregate_type, id, export).await
    }

    async fn record_access(
        &self,
        ctx: CommandContext<'_>,
        aggregate_type: &str,
        id: &str,
        command: AccessCommand,
    ) -> AppResult<()> {
        // Access records are not counted as commands (the metric counts case work).
        self.access
            .execute(
                &access_log_id(aggregate_type, id),
                command,
                None,
                ctx.metadata(),
            )
            .await?;
        Ok(())
    }
}
