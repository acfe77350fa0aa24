//! The commitment aggregate (信用承诺, tasks 12 and 14 of the mission text): an
//! investment-promotion promise, a township's public commitment, or a repair commitment,
//! made by a subject and assessed for fulfilment. A breach proposes a dishonesty record
//! (source `commitment_breach`) for a supervisor to record.

#[cfg(test)]
mod tests;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::CreditCode;
use crate::integrity::{check_text, IntegrityServices, Sector, Severity};

/// Longest free text, in characters.
pub const TEXT_MAX_CHARS: usize = 8000;

/// What was promised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitmentKind {
    /// 招商引资承诺 (task 12).
    InvestmentPromise,
    /// 乡镇政府公开承诺 (task 14).
    TownshipPublic,
    /// 信用修复承诺.
    Repair,
}

impl CommitmentKind {
    /// The contract name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvestmentPromise => "investment_promise",
            Self::TownshipPublic => "township_public",
            Self::Repair => "repair",
        }
    }

    /// The sector a breach is recorded under.
    pub fn sector(self) -> Sector {
        match self {
            Self::InvestmentPromise => Sector::Investment,
            Self::TownshipPublic => Sector::Township,
            Self::Repair => Sector::General,
        }
    }
}

/// How well it was kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fulfilment {
    /// 已履行
    Fulfilled,
    /// 部分履行
    PartiallyFulfilled,
    /// 未履行 (违诺)
    Breached,
}

/// Where a commitment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CommitmentStatus {
    /// Not made yet.
    #[default]
    New,
    /// In force, not yet assessed.
    Made,
    /// Assessed.
    Assessed,
}

impl CommitmentStatus {
    /// The contract name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Made => "made",
            Self::Assessed => "assessed",
        }
    }
}

impl std::fmt::Display for CommitmentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The record a breach proposes, for a supervisor to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposedRecord {
    /// The subject in breach.
    pub subject_code: CreditCode,
    /// The source reference the record will carry (`commitment:<id>` is set by the app).
    pub sector: Sector,
    /// Suggested severity (ordinary; partial breaches are not proposed).
    pub severity: Severity,
    /// Suggested summary.
    pub summary: String,
}

/// A commitment as its events made it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Commitment {
    /// Where it stands.
    pub status: CommitmentStatus,
    /// Who committed.
    pub subject_code: Option<CreditCode>,
    /// What kind.
    pub kind: Option<CommitmentKind>,
    /// What is promised now.
    #[serde(default)]
    pub text: String,
    /// Due by, now.
    #[serde(default)]
    pub due_date: Option<NaiveDate>,
}

/// What can be asked of a commitment.
#[derive(Debug, Clone, PartialEq)]
pub enum CommitmentCommand {
    /// Record a commitment made by a subject (supervisor, or a handler of that subject).
    MakeCommitment {
        /// Who commits.
        subject_code: CreditCode,
        /// The application found the subject registered.
        subject_registered: bool,
        /// The handler's unit (`None`: a supervisor records it).
        by_unit: Option<CreditCode>,
        /// What kind.
        kind: CommitmentKind,
        /// What was promised.
        text: String,
        /// Due to be kept by.
        due_date: Option<NaiveDate>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Change what was promised by the recorded procedure (supervisor): the reason, who
    /// decided it and when are kept as an event; the promise is never edited in place
    /// (the city's opinions §12: a change of a government promise follows the legal
    /// authority and procedure).
    ChangeCommitment {
        /// The promise as changed.
        text: String,
        /// The due date as changed.
        due_date: Option<NaiveDate>,
        /// Why (the legal ground: national or public interest, another statutory reason).
        reason: String,
        /// Who decided the change (the deciding body and its decision's reference).
        decided_by: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Assess how it was kept (supervisor).
    AssessFulfilment {
        /// How well.
        level: Fulfilment,
        /// The assessment.
        note: String,
        /// When.
        at: DateTime<Utc>,
    },
}

impl CommitmentCommand {
    /// The command's name, for spans and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::MakeCommitment { .. } => "MakeCommitment",
            Self::ChangeCommitment { .. } => "ChangeCommitment",
            Self::AssessFulfilment { .. } => "AssessFulfilment",
        }
    }
}

/// What happened to a commitment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CommitmentEvent {
    /// 作出承诺
    CommitmentMade {
        /// Who committed.
        subject_code: CreditCode,
        /// What kind.
        kind: CommitmentKind,
        /// What was promised.
        text: String,
        /// Due by.
        due_date: Option<NaiveDate>,
        /// When.
        at: DateTime<Utc>,
    },
    /// 承诺变更: changed by the recorded procedure.
    CommitmentChanged {
        /// The promise before the change.
        previous_text: String,
        /// The due date before the change.
        previous_due_date: Option<NaiveDate>,
        /// The promise as changed.
        text: String,
        /// The due date as changed.
        due_date: Option<NaiveDate>,
        /// Why.
        reason: String,
        /// Who decided it.
        decided_by: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// 履约评估
    FulfilmentAssessed {
        /// How well.
        level: Fulfilment,
        /// The assessment.
        note: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// 违诺: a dishonesty record is proposed.
    CommitmentBreached {
        /// The record proposed.
        proposed: ProposedRecord,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for CommitmentEvent {
    fn event_type(&self) -> String {
        match self {
            Self::CommitmentMade { .. } => "CommitmentMade",
            Self::CommitmentChanged { .. } => "CommitmentChanged",
            Self::FulfilmentAssessed { .. } => "FulfilmentAssessed",
            Self::CommitmentBreached { .. } => "CommitmentBreached",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// Why a commitment command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommitmentError {
    /// Never made (404 `not_found`).
    #[error("commitment not found")]
    NotFound,
    /// Making an id that exists (409 `already_exists`).
    #[error("commitment already made")]
    AlreadyMade,
    /// Not allowed in its status (409 `invalid_transition`).
    #[error("cannot {action} a commitment that is {status}")]
    InvalidTransition {
        /// The verb refused.
        action: &'static str,
        /// The status it is in.
        status: CommitmentStatus,
    },
    /// A handler recording another unit's commitment (403 `forbidden`).
    #[error("a handler records only its own unit's commitments")]
    NotOwnUnit,
    /// A field failed validation (422 `validation_failed`).
    #[error("{field}: {message}")]
    Invalid {
        /// The API field name.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl From<(&'static str, String)> for CommitmentError {
    fn from((field, message): (&'static str, String)) -> Self {
        CommitmentError::Invalid { field, message }
    }
}

impl Commitment {
    fn decide(&self, command: CommitmentCommand) -> Result<Vec<CommitmentEvent>, CommitmentError> {
        match command {
            CommitmentCommand::MakeCommitment {
                subject_code,
                subject_registered,
                by_unit,
                kind,
                text,
                due_date,
                at,
            } => {
                if self.status != CommitmentStatus::New {
                    return Err(CommitmentError::AlreadyMade);
                }
                if by_unit.is_some_and(|u| u != subject_code) {
                    return Err(CommitmentError::NotOwnUnit);
                }
                if !subject_registered {
                    return Err(CommitmentError::Invalid {
                        field: "subject_code",
                        message: "no subject is registered with this code".into(),
                    });
                }
                check_text("text", &text, TEXT_MAX_CHARS)?;
                Ok(vec![CommitmentEvent::CommitmentMade {
                    subject_code,
                    kind,
                    text: text.trim().to_string(),
                    due_date,
                    at,
                }])
            }
            CommitmentCommand::ChangeCommitment {
                text,
                due_date,
                reason,
                decided_by,
                at,
            } => {
                match self.status {
                    CommitmentStatus::New => return Err(CommitmentError::NotFound),
                    CommitmentStatus::Assessed => {
                        return Err(CommitmentError::InvalidTransition {
                            action: "change",
                            status: self.status,
                        })
                    }
                    CommitmentStatus::Made => {}
                }
                check_text("text", &text, TEXT_MAX_CHARS)?;
                check_text("reason", &reason, TEXT_MAX_CHARS)?;
                check_text("decided_by", &decided_by, 200)?;
                if text.trim() == self.text && due_date == self.due_date {
                    return Err(CommitmentError::Invalid {
                        field: "text",
                        message: "the change changes neither the text nor the due date".into(),
                    });
                }
                Ok(vec![CommitmentEvent::CommitmentChanged {
                    previous_text: self.text.clone(),
                    previous_due_date: self.due_date,
                    text: text.trim().to_string(),
                    due_date,
                    reason: reason.trim().to_string(),
                    decided_by: decided_by.trim().to_string(),
                    at,
                }])
            }
            CommitmentCommand::AssessFulfilment { level, note, at } => {
                match self.status {
                    CommitmentStatus::New => return Err(CommitmentError::NotFound),
                    CommitmentStatus::Assessed => {
                        return Err(CommitmentError::InvalidTransition {
                            action: "assess",
                            status: self.status,
                        })
                    }
                    CommitmentStatus::Made => {}
                }
                check_text("note", &note, TEXT_MAX_CHARS)?;
                let mut events = vec![CommitmentEvent::FulfilmentAssessed {
                    level,
                    note: note.trim().to_string(),
                    at,
                }];
                if level == Fulfilment::Breached {
                    if let (Some(subject_code), Some(kind)) = (self.subject_code.clone(), self.kind)
                    {
                        events.push(CommitmentEvent::CommitmentBreached {
                            proposed: ProposedRecord {
                                subject_code,
                                sector: kind.sector(),
                                severity: Severity::Ordinary,
                                summary: format!("违背{}：{}", kind_label(kind), note.trim()),
                            },
                            at,
                        });
                    }
                }
                Ok(events)
            }
        }
    }
}

fn kind_label(kind: CommitmentKind) -> &'static str {
    match kind {
        CommitmentKind::InvestmentPromise => "招商引资承诺",
        CommitmentKind::TownshipPublic => "乡镇公开承诺",
        CommitmentKind::Repair => "信用修复承诺",
    }
}

impl Aggregate for Commitment {
    const TYPE: &'static str = crate::aggregate_type::COMMITMENT;
    type Command = CommitmentCommand;
    type Event = CommitmentEvent;
    type Error = CommitmentError;
    type Services = IntegrityServices;

    #[tracing::instrument(name = "commitment.handle", skip_all, fields(command = command.kind(), status = %self.status))]
    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            CommitmentEvent::CommitmentMade {
                subject_code,
                kind,
                text,
                due_date,
                ..
            } => {
                self.status = CommitmentStatus::Made;
                self.subject_code = Some(subject_code);
                self.kind = Some(kind);
                self.text = text;
                self.due_date = due_date;
            }
            CommitmentEvent::CommitmentChanged { text, due_date, .. } => {
                self.text = text;
                self.due_date = due_date;
            }
            CommitmentEvent::FulfilmentAssessed { .. } => self.status = CommitmentStatus::Assessed,
            CommitmentEvent::CommitmentBreached { .. } => {}
        }
    }
}
