//! The record proposal aggregate (§3 of the city's opinions: dishonesty information
//! collected by third-party credit services is accepted as a supplement): a third party's
//! finding about an organisation, submitted with the provider's name and reference, that
//! a supervisor confirms (it then becomes a dishonesty record of source `third_party`,
//! through the record aggregate's own command) or rejects with a reason. Until it is
//! confirmed it is nobody's record: never in a public view, never in open data.

#[cfg(test)]
mod tests;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::CreditCode;
use crate::integrity::{check_text, IntegrityServices, Sector, Severity};
use crate::WorkingCalendar;

/// Longest provider name or reference, in characters.
pub const PROVIDER_MAX_CHARS: usize = 200;
/// Longest summary or reason, in characters.
pub const TEXT_MAX_CHARS: usize = 2000;

/// What a third party reports, as a record would hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposedFinding {
    /// The organisation it is about (never a civil servant: §3 covers credit services'
    /// information about governments, departments and organisations).
    pub subject_code: CreditCode,
    /// The third-party credit service that collected it.
    pub provider: String,
    /// The provider's own reference of the finding.
    pub provider_ref: String,
    /// The day of the underlying decision or finding.
    pub decision_date: NaiveDate,
    /// The severity the provider reports.
    pub severity: Severity,
    /// The sector list it belongs to.
    pub sector: Sector,
    /// What happened, in words.
    pub summary: String,
}

impl ProposedFinding {
    /// The `source_ref` of the record it becomes: `<provider>:<provider_ref>`, so the
    /// same finding of the same provider is one record however often it is confirmed.
    pub fn source_ref(&self) -> String {
        format!("{}:{}", self.provider.trim(), self.provider_ref.trim())
    }
}

/// Commands of a record proposal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ProposalCommand {
    /// Submit a third party's finding for confirmation.
    SubmitProposal {
        /// The finding.
        finding: ProposedFinding,
        /// Whether the subject is registered (read by the application layer from the
        /// subject's log).
        subject_registered: bool,
        /// The token id that submitted it.
        submitted_by: String,
        /// When the command was issued or the event happened.
        at: DateTime<Utc>,
    },
    /// Confirm it: the application layer has recorded it as record `record_id`.
    ConfirmProposal {
        /// The record it became.
        record_id: String,
        /// The token id of the supervisor.
        by: String,
        /// When the command was issued or the event happened.
        at: DateTime<Utc>,
    },
    /// Reject it with a reason; nothing is recorded.
    RejectProposal {
        /// Why it was rejected.
        reason: String,
        /// The token id of the supervisor.
        by: String,
        /// When the command was issued or the event happened.
        at: DateTime<Utc>,
    },
}

/// Events of a record proposal (documented in `docs/events.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ProposalEvent {
    /// A third party's finding was submitted.
    ProposalSubmitted {
        /// The finding.
        finding: ProposedFinding,
        /// The token id that submitted it.
        submitted_by: String,
        /// When the command was issued or the event happened.
        at: DateTime<Utc>,
    },
    /// A supervisor confirmed it; it is record `record_id` (source `third_party`).
    ProposalConfirmed {
        /// The record it became.
        record_id: String,
        /// The token id of the supervisor.
        by: String,
        /// When the command was issued or the event happened.
        at: DateTime<Utc>,
    },
    /// A supervisor rejected it for `reason`.
    ProposalRejected {
        /// Why it was rejected.
        reason: String,
        /// The token id of the supervisor.
        by: String,
        /// When the command was issued or the event happened.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for ProposalEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ProposalSubmitted { .. } => "ProposalSubmitted",
            Self::ProposalConfirmed { .. } => "ProposalConfirmed",
            Self::ProposalRejected { .. } => "ProposalRejected",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// Why a proposal command is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProposalError {
    /// Never submitted (404 `not_found`).
    #[error("record proposal not found")]
    NotFound,
    /// Submitted already (409 `already_exists`).
    #[error("this proposal was submitted already")]
    AlreadySubmitted,
    /// Confirmed or rejected already (409 `invalid_transition`).
    #[error("the proposal is {0} already")]
    Decided(&'static str),
    /// A field failed validation (422 `validation_failed`).
    #[error("{field}: {message}")]
    Invalid {
        /// The API field name.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl From<(&'static str, String)> for ProposalError {
    fn from((field, message): (&'static str, String)) -> Self {
        ProposalError::Invalid { field, message }
    }
}

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    /// Not submitted.
    #[default]
    New,
    /// Waiting for a supervisor.
    Submitted,
    /// Recorded as a dishonesty record.
    Confirmed,
    /// Rejected.
    Rejected,
}

impl ProposalStatus {
    /// The contract name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Submitted => "submitted",
            Self::Confirmed => "confirmed",
            Self::Rejected => "rejected",
        }
    }
}

/// A record proposal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordProposal {
    /// Where it stands.
    pub status: ProposalStatus,
    /// The finding, once submitted.
    pub finding: Option<ProposedFinding>,
    /// The token id that submitted it.
    pub submitted_by: Option<String>,
    /// When it was submitted.
    pub submitted_at: Option<DateTime<Utc>>,
    /// The record it became.
    pub record_id: Option<String>,
    /// Why it was rejected.
    pub rejection_reason: Option<String>,
    /// Who confirmed or rejected it, and when.
    pub decided_by: Option<String>,
    /// When it was confirmed or rejected.
    pub decided_at: Option<DateTime<Utc>>,
}

impl RecordProposal {
    /// Refuses a decision unless the proposal waits for one.
    fn pending(&self) -> Result<&ProposedFinding, ProposalError> {
        match (self.status, &self.finding) {
            (ProposalStatus::Submitted, Some(finding)) => Ok(finding),
            (ProposalStatus::Confirmed | ProposalStatus::Rejected, _) => {
                Err(ProposalError::Decided(self.status.as_str()))
            }
            _ => Err(ProposalError::NotFound),
        }
    }
}

fn check_finding(
    finding: &ProposedFinding,
    subject_registered: bool,
    at: DateTime<Utc>,
) -> Result<(), ProposalError> {
    if !subject_registered {
        return Err(ProposalError::Invalid {
            field: "subject_code",
            message: "no such subject is registered".into(),
        });
    }
    check_text("provider", &finding.provider, PROVIDER_MAX_CHARS)?;
    check_text("provider_ref", &finding.provider_ref, PROVIDER_MAX_CHARS)?;
    check_text("summary", &finding.summary, TEXT_MAX_CHARS)?;
    if finding.decision_date > WorkingCalendar::local_date(at) {
        return Err(ProposalError::Invalid {
            field: "decision_date",
            message: "must not be in the future".into(),
        });
    }
    Ok(())
}

impl Aggregate for RecordProposal {
    const TYPE: &'static str = crate::aggregate_type::RECORD_PROPOSAL;
    type Command = ProposalCommand;
    type Event = ProposalEvent;
    type Error = ProposalError;
    type Services = IntegrityServices;

    #[tracing::instrument(name = "record_proposal.handle", skip_all)]
    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            ProposalCommand::SubmitProposal {
                finding,
                subject_registered,
                submitted_by,
                at,
            } => {
                if self.status != ProposalStatus::New {
                    return Err(ProposalError::AlreadySubmitted);
                }
                check_finding(&finding, subject_registered, at)?;
                ProposalEvent::ProposalSubmitted {
                    finding,
                    submitted_by,
                    at,
                }
            }
            ProposalCommand::ConfirmProposal { record_id, by, at } => {
                self.pending()?;
                ProposalEvent::ProposalConfirmed { record_id, by, at }
            }
            ProposalCommand::RejectProposal { reason, by, at } => {
                self.pending()?;
                check_text("reason", &reason, TEXT_MAX_CHARS)?;
                ProposalEvent::ProposalRejected { reason, by, at }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        self.fold(event)
    }
}

impl RecordProposal {
    /// One event folded in: the aggregate's `apply`, also the read model's fold (the
    /// supervisors' list, `record_proposal_views`), so both show the same state.
    pub fn fold(&mut self, event: ProposalEvent) {
        match event {
            ProposalEvent::ProposalSubmitted {
                finding,
                submitted_by,
                at,
            } => {
                self.status = ProposalStatus::Submitted;
                self.finding = Some(finding);
                self.submitted_by = Some(submitted_by);
                self.submitted_at = Some(at);
            }
            ProposalEvent::ProposalConfirmed { record_id, by, at } => {
                self.status = ProposalStatus::Confirmed;
                self.record_id = Some(record_id);
                self.decided_by = Some(by);
                self.decided_at = Some(at);
            }
            ProposalEvent::ProposalRejected { reason, by, at } => {
                self.status = ProposalStatus::Rejected;
                self.rejection_reason = Some(reason);
                self.decided_by = Some(by);
                self.decided_at = Some(at);
            }
        }
    }
}
