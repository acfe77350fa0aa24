//! Third-party information (§3 of the city's opinions) as record proposals: an evaluator
//! (a third-party credit service's token) or an admin submits a finding with the
//! provider's name and reference; the credit office (an unbound supervisor) confirms it,
//! which records it through the record aggregate's own command as a dishonesty record of
//! source `third_party`, or rejects it with a reason. A proposal is never a record until
//! then, so no public view and no open data shows it.
//!
//! A single proposal is folded from its own events (the log: read-your-writes after a
//! submission or decision); the list reads the integrity projector's
//! `record_proposal_views`, folded by the same aggregate code (ADR 0035), filtered by
//! status and paged newest submission first.

use probity_domain::integrity::Source;
use probity_domain::record::record_id_for;
use probity_domain::record_proposal::{
    ProposalCommand, ProposalError, ProposalStatus, ProposedFinding, RecordProposal,
};

use crate::error::{AppError, AppResult};
use crate::integrity::{load, ImportOutcome, ImportedRecord};
use crate::tokens::{Caller, Role};
use crate::{App, CommandContext};

/// A proposal with its id and version (its last sequence).
#[derive(Debug, Clone)]
pub struct Proposal {
    pub id: String,
    pub version: usize,
    pub state: RecordProposal,
}

/// A page of proposals, newest submission first.
#[derive(Debug, Clone)]
pub struct ProposalPage {
    pub items: Vec<Proposal>,
    /// The opaque cursor of the next page, when there is one.
    pub next_cursor: Option<String>,
}

/// The id of the proposal of a provider's finding: one per provider and reference, so a
/// resubmission is 409 `already_exists`, not a second proposal.
pub fn proposal_id_for(finding: &ProposedFinding) -> String {
    // The record namespace with another source name: never the id of a record.
    record_id_for(
        Source::ThirdParty,
        &format!("proposal:{}", finding.source_ref()),
    )
}

/// Who decides a proposal: the credit office (an unbound supervisor).
fn require_credit_office(caller: &Caller) -> AppResult<()> {
    caller.require(&[Role::Supervisor])?;
    if caller.unit.is_some() {
        return Err(AppError::Forbidden(
            "only the credit office (an unbound supervisor) decides third-party information".into(),
        ));
    }
    Ok(())
}

impl App {
    /// Submits a third party's finding (evaluator, admin) and answers with the proposal.
    #[tracing::instrument(name = "proposal_submit", skip_all, fields(case_id, actor = %ctx.caller.token_id))]
    pub async fn submit_proposal(
        &self,
        ctx: CommandContext<'_>,
        finding: ProposedFinding,
    ) -> AppResult<Proposal> {
        ctx.caller.require(&[Role::Evaluator, Role::Admin])?;
        let id = proposal_id_for(&finding);
        tracing::Span::current().record("case_id", id.as_str());
        let registered = self
            .integrity
            .subject_kind(finding.subject_code.as_str())
            .await?
            .is_some();
        let command = ProposalCommand::SubmitProposal {
            finding,
            subject_registered: registered,
            submitted_by: ctx.caller.token_id.clone(),
            at: self.clock.now(),
        };
        self.integrity
            .proposals
            .execute(&id, command, None, ctx.metadata())
            .await?;
        self.proposal_state(&id).await
    }

    /// Confirms a submitted proposal (the credit office): records it as a dishonesty
    /// record of source `third_party` by the record's own command (its rules apply: a
    /// refusal there is the answer), then marks the proposal confirmed with the record's
    /// id. Repeatable after a failure in between: the record's id is fixed by the
    /// provider and reference, so a second try finds it recorded and completes.
    #[tracing::instrument(name = "proposal_confirm", skip_all, fields(case_id = %id, actor = %ctx.caller.token_id))]
    pub async fn confirm_proposal(&self, ctx: CommandContext<'_>, id: &str) -> AppResult<Proposal> {
        require_credit_office(ctx.caller)?;
        let (state, _) = load(&self.integrity.proposals, id).await?;
        let finding = match (state.status, state.finding) {
            (ProposalStatus::Submitted, Some(finding)) => finding,
            (ProposalStatus::Confirmed | ProposalStatus::Rejected, _) => {
                return Err(ProposalError::Decided(state.status.as_str()).into())
            }
            _ => return Err(ProposalError::NotFound.into()),
        };
        let source_ref = finding.source_ref();
        let record_id = record_id_for(Source::ThirdParty, &source_ref);
        let row = ImportedRecord {
            subject_code: finding.subject_code.clone(),
            source: Source::ThirdParty,
            source_ref,
            decision_date: finding.decision_date,
            severity: finding.severity,
            sector: finding.sector,
            summary: finding.summary.clone(),
            ban_years: None,
        };
        match self
            .integrity
            .import_record(row, None, ctx.metadata(), self.clock.now())
            .await?
        {
            ImportOutcome::Imported | ImportOutcome::AlreadyImported => {}
            ImportOutcome::SubjectNotRegistered => {
                return Err(AppError::field(
                    "subject_code",
                    "invalid",
                    "the subject is no longer registered",
                ))
            }
            ImportOutcome::Refused { field, reason } => {
                return Err(AppError::field(field, "invalid", reason))
            }
        }
        let command = ProposalCommand::ConfirmProposal {
            record_id,
            by: ctx.caller.token_id.clone(),
            at: self.clock.now(),
        };
        self.integrity
            .proposals
            .execute(id, command, None, ctx.metadata())
            .await?;
        self.proposal_state(id).await
    }

    /// Rejects a submitted proposal with a reason (the credit office); nothing is recorded.
    #[tracing::instrument(name = "proposal_reject", skip_all, fields(case_id = %id, actor = %ctx.caller.token_id))]
    pub async fn reject_proposal(
        &self,
        ctx: CommandContext<'_>,
        id: &str,
        reason: String,
    ) -> AppResult<Proposal> {
        require_credit_office(ctx.caller)?;
        let command = ProposalCommand::RejectProposal {
            reason,
            by: ctx.caller.token_id.clone(),
            at: self.clock.now(),
        };
        self.integrity
            .proposals
            .execute(id, command, None, ctx.metadata())
            .await?;
        self.proposal_state(id).await
    }

    /// One proposal: for supervisors, auditors and admins, and for the evaluator that
    /// submitted it (anyone else's is not found to an evaluator).
    pub async fn proposal_for(&self, caller: &Caller, id: &str) -> AppResult<Proposal> {
        caller.require(&[
            Role::Supervisor,
            Role::Auditor,
            Role::Admin,
            Role::Evaluator,
        ])?;
        let proposal = self.proposal_state(id).await?;
        if caller.role == Role::Evaluator
            && proposal.state.submitted_by.as_deref() != Some(caller.token_id.as_str())
        {
            return Err(ProposalError::NotFound.into());
        }
        Ok(proposal)
    }

    /// A page of proposals, newest submission first, after `cursor` (a `next_cursor` of
    /// this list), with only those in `status` when given (supervisors, auditors,
    /// admins). Read from the view: a proposal submitted a moment ago shows once the
    /// projector has folded it.
    pub async fn proposals(
        &self,
        caller: &Caller,
        status: Option<ProposalStatus>,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<ProposalPage> {
        caller.require(&[Role::Supervisor, Role::Auditor, Role::Admin])?;
        let page = self
            .views
            .record_proposals(status.map(ProposalStatus::as_str), limit, cursor)
            .await?;
        Ok(ProposalPage {
            items: page
                .items
                .into_iter()
                .map(|v| Proposal {
                    id: v.id,
                    version: usize::try_from(v.version).unwrap_or(usize::MAX),
                    state: v.state,
                })
                .collect(),
            next_cursor: page.next_cursor,
        })
    }

    /// A proposal folded from its events; not found when it has none.
    async fn proposal_state(&self, id: &str) -> AppResult<Proposal> {
        let (state, version) = load(&self.integrity.proposals, id).await?;
        if version == 0 {
            return Err(ProposalError::NotFound.into());
        }
        Ok(Proposal {
            id: id.to_string(),
            version,
            state,
        })
    }
}
