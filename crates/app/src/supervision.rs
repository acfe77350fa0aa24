//! Supervision items (人大代表建议、政协提案、司法建议、检察建议, issue 11 item 1): the
//! supervisor (or an administrator) assigns an item to the unit that must reply and may
//! reassign it; a handler of that unit replies; the proposer's satisfaction is recorded.
//! Whether a unit is registered is read from the log just before the command; a bound
//! supervisor acts only on units within its authority.

use probity_domain::supervision_item::{SupervisionItemCommand, SupervisionKind};
use probity_domain::CreditCode;
use probity_views::integrity::IntegrityDoc;

use crate::error::AppResult;
use crate::{App, CommandContext};

/// A new supervision item, parsed by the adapter.
#[derive(Debug, Clone)]
pub struct NewSupervisionItem {
    pub kind: SupervisionKind,
    pub source_ref: String,
    pub title: String,
    pub unit: CreditCode,
}

impl App {
    /// Registers a supervision item and assigns it. Returns the new id.
    #[tracing::instrument(name = "supervision_item_assign", skip_all, fields(actor = %ctx.caller.token_id, case_id))]
    pub async fn assign_supervision_item(
        &self,
        ctx: CommandContext<'_>,
        item: NewSupervisionItem,
    ) -> AppResult<(String, IntegrityDoc)> {
        self.require_within(ctx.caller, item.unit.as_str(), None)
            .await?;
        let unit_registered = self
            .integrity
            .subject_kind(item.unit.as_str())
            .await?
            .is_some();
        let id = uuid::Uuid::now_v7().to_string();
        tracing::Span::current().record("case_id", id.as_str());
        let command = SupervisionItemCommand::AssignSupervisionItem {
            kind: item.kind,
            source_ref: item.source_ref,
            title: item.title,
            unit: item.unit,
            unit_registered,
            at: self.clock.now(),
        };
        let doc = self
            .create(
                ctx,
                &self.integrity.supervision_items,
                &id,
                command,
                Vec::new(),
            )
            .await?;
        Ok((id, doc))
    }

    /// Reassigns an unanswered item to another unit (its registration read from the log;
    /// a bound supervisor only within its authority).
    #[tracing::instrument(name = "supervision_item_reassign", skip_all, fields(actor = %ctx.caller.token_id, case_id = %id))]
    pub async fn reassign_supervision_item(
        &self,
        ctx: CommandContext<'_>,
        id: &str,
        expected_version: Option<usize>,
        unit: CreditCode,
        reason: String,
    ) -> AppResult<IntegrityDoc> {
        self.require_within(ctx.caller, unit.as_str(), None).await?;
        let unit_registered = self.integrity.subject_kind(unit.as_str()).await?.is_some();
        let command = SupervisionItemCommand::ReassignSupervisionItem {
            unit,
            unit_registered,
            reason,
            at: self.clock.now(),
        };
        self.supervision_item_command(ctx, id, expected_version, command)
            .await
    }

    /// Runs a verb on a supervision item.
    #[tracing::instrument(name = "supervision_item_command", skip_all, fields(actor = %ctx.caller.token_id, case_id = %id))]
    pub async fn supervision_item_command(
        &self,
        ctx: CommandContext<'_>,
        id: &str,
        expected_version: Option<usize>,
        command: SupervisionItemCommand,
    ) -> AppResult<IntegrityDoc> {
        self.command(
            ctx,
            &self.integrity.supervision_items,
            id,
            expected_version,
            command,
        )
        .await
    }
}
