//! The access log of a case (`access_log` aggregate, one per case): every history read,
//! audit export and personal-data read is recorded there BEFORE the data is served, so
//! an auditor can always answer "who saw this case, when, and why".

use chrono::{DateTime, Utc};
use probity_domain::access::AccessCommand;
use probity_domain::aggregate_type::COMPLAINT;
use probity_store::StoredEvent;
use probity_views::ComplaintView;

use crate::complaints::fold;
use crate::error::{AppError, AppResult};
use crate::{App, CommandContext};

/// The id of the access-log aggregate of a case: `<aggregate_type>-<id>`.
pub fn access_log_id(aggregate_type: &str, id: &str) -> String {
    format!("{aggregate_type}-{id}")
}

/// What a history read asks for.
#[derive(Debug, Clone, Copy)]
pub struct HistoryRequest {
    /// Events after this sequence (0: from the first).
    pub after: i64,
    /// At most this many events (one more is read to tell whether a next page exists).
    pub limit: usize,
    /// Only events recorded at or before this instant; for a complaint, also its view
    /// as it stood then.
    pub as_of: Option<DateTime<Utc>>,
}

/// What a history read returns.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    /// Up to `limit + 1` events after `after`, in sequence order.
    pub events: Vec<StoredEvent>,
    /// With `as_of`, on a complaint: the case as it stood then (`None` inside: it did
    /// not exist yet).
    pub view: Option<Option<ComplaintView>>,
}

impl App {
    /// Reads a page of the history of `aggregate_type`/`id` for an audited reader: not
    /// found when it has no events; otherwise records `HistoryRead` (with `purpose`) in
    /// the case's access log FIRST, then reads the page asked for, and only it.
    ///
    /// The view `as_of` (complaints) is the fold of the events recorded by then. When
    /// none was recorded later and the projected view holds every event (its version is
    /// the last sequence), that fold is the projected view, read in one row instead of
    /// folding the whole case; otherwise the events up to `as_of` are read and folded.
    #[tracing::instrument(name = "history_read", skip_all, fields(aggregate_type = %aggregate_type, aggregate_id = %id, actor = %ctx.caller.token_id))]
    pub async fn read_history(
        &self,
        ctx: CommandContext<'_>,
        aggregate_type: &str,
        id: &str,
        purpose: String,
        request: HistoryRequest,
    ) -> AppResult<HistoryPage> {
        let last = self.log.last_sequence(aggregate_type, id).await?;
        if last == 0 {
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
        let events = self
            .log
            .read_aggregate_page(
                aggregate_type,
                id,
                request.after,
                request.as_of,
                request.limit as i64 + 1,
            )
            .await?;
        let view = match request.as_of {
            Some(t) if aggregate_type == COMPLAINT => Some(self.complaint_then(id, last, t).await?),
            _ => None,
        };
        Ok(HistoryPage { events, view })
    }

    /// The complaint `id` (whose last sequence is `last`) as it stood at `t`.
    async fn complaint_then(
        &self,
        id: &str,
        last: i64,
        t: DateTime<Utc>,
    ) -> AppResult<Option<ComplaintView>> {
        let today = self.clock.day_at(t);
        if !self.log.recorded_after(COMPLAINT, id, t).await? {
            if let Some(view) = self.views.complaint(id, today).await? {
                if view.version == last as u64 {
                    return Ok(Some(view));
                }
            }
        }
        let events = self.log.read_aggregate(COMPLAINT, id, Some(t)).await?;
        fold(id, &events, today)
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

    pub(crate) async fn record_access(
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
