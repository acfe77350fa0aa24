//! The rectification aggregate (书面说明 + 限期整改, §7 of the mission text, domain-rules
//! §6): ordered with a due date in working days → explanation filed → rectification
//! reported → verified, or rejected with a new due date (back to reporting). A missed
//! due date escalates: 通报批评 is recorded and the subject loses honours eligibility
//! until verified. Proactive remedy sets a mitigation flag.

#[cfg(test)]
mod tests;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::calendar::{CalendarError, Deadline, WorkingCalendar};
use crate::ids::CreditCode;
use crate::integrity::{
    check_reminder, check_text, DecisionDeadlineRefusal, IntegrityServices, RecordFacts,
};

/// Longest free text, in characters.
pub const TEXT_MAX_CHARS: usize = 8000;
/// Allowed rectification periods, in working days.
pub const WORKING_DAYS: std::ops::RangeInclusive<u32> = 1..=120;

/// Where a rectification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RectificationStatus {
    /// Not ordered yet.
    #[default]
    New,
    /// 限期整改: ordered, waiting for the written explanation.
    Ordered,
    /// 书面说明: explanation filed, waiting for the report.
    Explained,
    /// 整改报告: reported, waiting for verification.
    Reported,
    /// Rejected with a new due date: waiting for a new report.
    Rejected,
    /// 验收通过
    Verified,
}

impl RectificationStatus {
    /// The contract name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Ordered => "ordered",
            Self::Explained => "explained",
            Self::Reported => "reported",
            Self::Rejected => "rejected",
            Self::Verified => "verified",
        }
    }
}

impl std::fmt::Display for RectificationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rectification as its events made it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rectification {
    /// Where it stands.
    pub status: RectificationStatus,
    /// The unit that must rectify.
    pub unit: Option<CreditCode>,
    /// The current due date.
    pub due: Option<NaiveDate>,
    /// The due date an escalation was recorded for (one escalation per due date).
    pub escalated_for: Option<NaiveDate>,
    /// Mitigation recorded.
    pub mitigated: bool,
    /// A report was made after the due date in force when it was made.
    #[serde(default)]
    pub reported_late: bool,
    /// The day the current due date was counted from (Asia/Shanghai).
    #[serde(default)]
    pub due_from: Option<NaiveDate>,
    /// The working days it was counted with.
    #[serde(default)]
    pub due_working_days: Option<u32>,
    /// The current due date was computed through a year without a holiday schedule.
    #[serde(default)]
    pub due_provisional: bool,
    /// Due days already reminded.
    #[serde(default)]
    pub reminded: Vec<NaiveDate>,
}

/// What can be asked of a rectification.
#[derive(Debug, Clone, PartialEq)]
pub enum RectificationCommand {
    /// Order a rectification of a record (supervisor).
    OrderRectification {
        /// The record, as the application read it.
        record: RecordFacts,
        /// Working days allowed (1–120), counted from the day after the order.
        working_days: u32,
        /// When.
        at: DateTime<Utc>,
    },
    /// File the written explanation (handler of the unit).
    FileExplanation {
        /// The acting handler's unit.
        unit: CreditCode,
        /// The explanation.
        text: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Report the rectification (handler of the unit).
    ReportRectification {
        /// The acting handler's unit.
        unit: CreditCode,
        /// What was done.
        text: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Verify it (supervisor).
    VerifyRectification {
        /// When.
        at: DateTime<Utc>,
    },
    /// Reject the report with a new due date (supervisor).
    RejectRectification {
        /// Why.
        reason: String,
        /// Working days for the new report.
        working_days: u32,
        /// When.
        at: DateTime<Utc>,
    },
    /// Record mitigation: remedied proactively (supervisor).
    MitigateRectification {
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The due date passed without verification (deadline engine or supervisor).
    EscalateRectification {
        /// When.
        at: DateTime<Utc>,
    },
    /// Remind the unit that the due date is near (the deadline engine).
    RemindDue {
        /// When.
        at: DateTime<Utc>,
    },
    /// Recount a provisional due date once the year's holiday schedule is loaded
    /// (`probity calendar load`).
    RecomputeProvisionalDue {
        /// When.
        at: DateTime<Utc>,
    },
}

impl RectificationCommand {
    /// The command's name, for spans and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::OrderRectification { .. } => "OrderRectification",
            Self::FileExplanation { .. } => "FileExplanation",
            Self::ReportRectification { .. } => "ReportRectification",
            Self::VerifyRectification { .. } => "VerifyRectification",
            Self::RejectRectification { .. } => "RejectRectification",
            Self::MitigateRectification { .. } => "MitigateRectification",
            Self::EscalateRectification { .. } => "EscalateRectification",
            Self::RecomputeProvisionalDue { .. } => "RecomputeProvisionalDue",
            Self::RemindDue { .. } => "RemindDue",
        }
    }
}

/// What happened to a rectification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RectificationEvent {
    /// 限期整改 ordered.
    RectificationOrdered {
        /// The record it is about.
        record_id: String,
        /// The unit that must rectify.
        unit: CreditCode,
        /// A civil servant's record (the rectification is never public either).
        personal: bool,
        /// Working days allowed.
        working_days: u32,
        /// Due by the end of this day.
        due: Deadline,
        /// When.
        at: DateTime<Utc>,
    },
    /// 书面说明 filed.
    ExplanationFiled {
        /// The explanation.
        text: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// 整改情况 reported.
    RectificationReported {
        /// What was done.
        text: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Verified: the rectification is complete.
    RectificationVerified {
        /// On time (reported by the due date).
        on_time: bool,
        /// When.
        at: DateTime<Utc>,
    },
    /// Rejected: a new report is due.
    RectificationRejected {
        /// Why.
        reason: String,
        /// Working days for the new report.
        working_days: u32,
        /// The new due date.
        due: Deadline,
        /// When.
        at: DateTime<Utc>,
    },
    /// Mitigation recorded (§8; 政务处分法 art. 11).
    MitigationRecorded {
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// 临期提醒: the due date is near and the unit still owes its explanation or report.
    RectificationDueSoon {
        /// The due day.
        due: NaiveDate,
        /// When.
        at: DateTime<Utc>,
    },
    /// A provisional due date recounted on the loaded holiday schedule: final now.
    RectificationDueRecomputed {
        /// The due date now (never provisional).
        due: Deadline,
        /// When.
        at: DateTime<Utc>,
    },
    /// 逾期: 通报批评 recorded; the unit is ineligible for honours until verified.
    RectificationEscalated {
        /// The due date that was missed.
        due: NaiveDate,
        /// 通报批评 recorded.
        public_criticism: bool,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for RectificationEvent {
    fn event_type(&self) -> String {
        match self {
            Self::RectificationOrdered { .. } => "RectificationOrdered",
            Self::ExplanationFiled { .. } => "ExplanationFiled",
            Self::RectificationReported { .. } => "RectificationReported",
            Self::RectificationVerified { .. } => "RectificationVerified",
            Self::RectificationRejected { .. } => "RectificationRejected",
            Self::MitigationRecorded { .. } => "MitigationRecorded",
            Self::RectificationEscalated { .. } => "RectificationEscalated",
            Self::RectificationDueRecomputed { .. } => "RectificationDueRecomputed",
            Self::RectificationDueSoon { .. } => "RectificationDueSoon",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// Why a rectification command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RectificationError {
    /// Never ordered (404 `not_found`).
    #[error("rectification not found")]
    NotFound,
    /// Ordering an id that exists (409 `already_exists`).
    #[error("rectification already ordered")]
    AlreadyOrdered,
    /// Not allowed in its status (409 `invalid_transition`).
    #[error("cannot {action} a rectification that is {status}")]
    InvalidTransition {
        /// The verb refused.
        action: &'static str,
        /// The status it is in.
        status: RectificationStatus,
    },
    /// The record is withdrawn (409 `invalid_transition`).
    #[error("cannot order a rectification of a withdrawn record")]
    RecordWithdrawn,
    /// A handler of another unit (403 `forbidden`).
    #[error("the rectification is owed by another unit")]
    NotAssignedUnit,
    /// Escalating before the due date passed (409 `invalid_transition`).
    #[error("the rectification is not overdue")]
    NotOverdue,
    /// Escalating the same due date twice (409 `invalid_transition`).
    #[error("the rectification was already escalated for this due date")]
    AlreadyEscalated,
    /// Mitigation recorded twice (409 `invalid_transition`).
    #[error("mitigation is already recorded")]
    AlreadyMitigated,
    /// Nothing to recount: no due date owed, already final, passed, or still
    /// provisional on the calendar in force (409 `invalid_transition`).
    #[error("the due date is not recomputed: {0}")]
    NotRecomputable(&'static str),
    /// A reminder was refused: nothing owed, already reminded, or passed
    /// (409 `invalid_transition`).
    #[error(transparent)]
    Reminder(#[from] DecisionDeadlineRefusal),
    /// A field failed validation (422 `validation_failed`).
    #[error("{field}: {message}")]
    Invalid {
        /// The API field name.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The calendar has no data for a needed year (422 `calendar_missing`).
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

impl From<(&'static str, String)> for RectificationError {
    fn from((field, message): (&'static str, String)) -> Self {
        RectificationError::Invalid { field, message }
    }
}

fn check_working_days(working_days: u32) -> Result<(), RectificationError> {
    if WORKING_DAYS.contains(&working_days) {
        Ok(())
    } else {
        Err(RectificationError::Invalid {
            field: "working_days",
            message: format!("must be {} to {}", WORKING_DAYS.start(), WORKING_DAYS.end()),
        })
    }
}

impl Rectification {
    fn require(
        &self,
        action: &'static str,
        allowed: &[RectificationStatus],
    ) -> Result<(), RectificationError> {
        if self.status == RectificationStatus::New {
            return Err(RectificationError::NotFound);
        }
        if !allowed.contains(&self.status) {
            return Err(RectificationError::InvalidTransition {
                action,
                status: self.status,
            });
        }
        Ok(())
    }

    fn require_unit(&self, unit: &CreditCode) -> Result<(), RectificationError> {
        if self.unit.as_ref() != Some(unit) {
            return Err(RectificationError::NotAssignedUnit);
        }
        Ok(())
    }

    fn decide(
        &self,
        command: RectificationCommand,
        services: &IntegrityServices,
    ) -> Result<Vec<RectificationEvent>, RectificationError> {
        use RectificationStatus as S;
        match command {
            RectificationCommand::OrderRectification {
                record,
                working_days,
                at,
            } => {
                if self.status != S::New {
                    return Err(RectificationError::AlreadyOrdered);
                }
                if record.withdrawn {
                    return Err(RectificationError::RecordWithdrawn);
                }
                check_working_days(working_days)?;
                let due = services
                    .calendar
                    .add_working_days(WorkingCalendar::local_date(at), working_days)?;
                Ok(vec![RectificationEvent::RectificationOrdered {
                    record_id: record.record_id,
                    unit: record.unit,
                    personal: record.personal,
                    working_days,
                    due,
                    at,
                }])
            }
            RectificationCommand::FileExplanation { unit, text, at } => {
                self.require("file an explanation for", &[S::Ordered])?;
                self.require_unit(&unit)?;
                check_text("text", &text, TEXT_MAX_CHARS)?;
                Ok(vec![RectificationEvent::ExplanationFiled {
                    text: text.trim().to_string(),
                    at,
                }])
            }
            RectificationCommand::ReportRectification { unit, text, at } => {
                self.require("report", &[S::Explained, S::Rejected])?;
                self.require_unit(&unit)?;
                check_text("text", &text, TEXT_MAX_CHARS)?;
                Ok(vec![RectificationEvent::RectificationReported {
                    text: text.trim().to_string(),
                    at,
                }])
            }
            RectificationCommand::VerifyRectification { at } => {
                self.require("verify", &[S::Reported])?;
                Ok(vec![RectificationEvent::RectificationVerified {
                    on_time: self.escalated_for.is_none() && !self.reported_late,
                    at,
                }])
            }
            RectificationCommand::RejectRectification {
                reason,
                working_days,
                at,
            } => {
                self.require("reject", &[S::Reported])?;
                check_text("reason", &reason, TEXT_MAX_CHARS)?;
                check_working_days(working_days)?;
                let due = services
                    .calendar
                    .add_working_days(WorkingCalendar::local_date(at), working_days)?;
                Ok(vec![RectificationEvent::RectificationRejected {
                    reason: reason.trim().to_string(),
                    working_days,
                    due,
                    at,
                }])
            }
            RectificationCommand::MitigateRectification { reason, at } => {
                self.require(
                    "mitigate",
                    &[
                        S::Ordered,
                        S::Explained,
                        S::Reported,
                        S::Rejected,
                        S::Verified,
                    ],
                )?;
                if self.mitigated {
                    return Err(RectificationError::AlreadyMitigated);
                }
                check_text("reason", &reason, TEXT_MAX_CHARS)?;
                Ok(vec![RectificationEvent::MitigationRecorded {
                    reason: reason.trim().to_string(),
                    at,
                }])
            }
            RectificationCommand::RemindDue { at } => {
                self.require(
                    "remind",
                    &[
                        S::Ordered,
                        S::Explained,
                        S::Reported,
                        S::Rejected,
                        S::Verified,
                    ],
                )?;
                let owed = matches!(self.status, S::Ordered | S::Explained | S::Rejected);
                let due = check_reminder(
                    owed.then_some(self.due).flatten(),
                    &self.reminded,
                    WorkingCalendar::local_date(at),
                )?;
                Ok(vec![RectificationEvent::RectificationDueSoon { due, at }])
            }
            RectificationCommand::RecomputeProvisionalDue { at } => {
                self.require(
                    "recompute the due date of",
                    &[
                        S::Ordered,
                        S::Explained,
                        S::Reported,
                        S::Rejected,
                        S::Verified,
                    ],
                )?;
                let (Some(due), Some(from), Some(working_days)) =
                    (self.due, self.due_from, self.due_working_days)
                else {
                    return Err(RectificationError::NotRecomputable("no due date is known"));
                };
                if !matches!(self.status, S::Ordered | S::Explained | S::Rejected) {
                    return Err(RectificationError::NotRecomputable("no due date is owed"));
                }
                if !self.due_provisional {
                    return Err(RectificationError::NotRecomputable(
                        crate::integrity::RECOUNT_FINAL,
                    ));
                }
                if crate::is_overdue(due, WorkingCalendar::local_date(at)) {
                    return Err(RectificationError::NotRecomputable(
                        crate::integrity::RECOUNT_PASSED,
                    ));
                }
                let recomputed = services.calendar.add_working_days(from, working_days)?;
                if recomputed.provisional {
                    return Err(RectificationError::NotRecomputable(
                        crate::integrity::RECOUNT_STILL_PROVISIONAL,
                    ));
                }
                Ok(vec![RectificationEvent::RectificationDueRecomputed {
                    due: recomputed,
                    at,
                }])
            }
            RectificationCommand::EscalateRectification { at } => {
                self.require("escalate", &[S::Ordered, S::Explained, S::Rejected])?;
                let Some(due) = self.due else {
                    return Err(RectificationError::NotFound);
                };
                if WorkingCalendar::local_date(at) <= due {
                    return Err(RectificationError::NotOverdue);
                }
                if self.escalated_for == Some(due) {
                    return Err(RectificationError::AlreadyEscalated);
                }
                Ok(vec![RectificationEvent::RectificationEscalated {
                    due,
                    public_criticism: true,
                    at,
                }])
            }
        }
    }
}

impl Aggregate for Rectification {
    const TYPE: &'static str = crate::aggregate_type::RECTIFICATION;
    type Command = RectificationCommand;
    type Event = RectificationEvent;
    type Error = RectificationError;
    type Services = IntegrityServices;

    #[tracing::instrument(name = "rectification.handle", skip_all, fields(command = command.kind(), status = %self.status))]
    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command, services)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            RectificationEvent::RectificationOrdered {
                unit,
                due,
                working_days,
                at,
                ..
            } => {
                self.status = RectificationStatus::Ordered;
                self.unit = Some(unit);
                self.due = Some(due.due);
                self.due_from = Some(WorkingCalendar::local_date(at));
                self.due_working_days = Some(working_days);
                self.due_provisional = due.provisional;
            }
            RectificationEvent::ExplanationFiled { .. } => {
                self.status = RectificationStatus::Explained
            }
            RectificationEvent::RectificationReported { at, .. } => {
                self.status = RectificationStatus::Reported;
                self.reported_late |= self
                    .due
                    .is_some_and(|due| crate::is_overdue(due, WorkingCalendar::local_date(at)));
            }
            RectificationEvent::RectificationVerified { .. } => {
                self.status = RectificationStatus::Verified
            }
            RectificationEvent::RectificationRejected {
                due,
                working_days,
                at,
                ..
            } => {
                self.status = RectificationStatus::Rejected;
                self.due = Some(due.due);
                self.due_from = Some(WorkingCalendar::local_date(at));
                self.due_working_days = Some(working_days);
                self.due_provisional = due.provisional;
            }
            RectificationEvent::RectificationDueRecomputed { due, .. } => {
                self.due = Some(due.due);
                self.due_provisional = due.provisional;
            }
            RectificationEvent::RectificationDueSoon { due, .. } => self.reminded.push(due),
            RectificationEvent::MitigationRecorded { .. } => self.mitigated = true,
            RectificationEvent::RectificationEscalated { due, .. } => {
                self.escalated_for = Some(due)
            }
        }
    }
}
