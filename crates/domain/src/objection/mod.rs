//! The objection aggregate (异议, §8 of the mission text, domain-rules §8): a subject
//! contests a record; filing flags the record `under_objection` in every view; the
//! decision upholds it (correct, complete, stop publication, unlist), dismisses it, or
//! finds it undeterminable (both versions kept).

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::calendar::{CalendarError, Deadline, WorkingCalendar};
use crate::ids::CreditCode;
use crate::integrity::{
    check_decision_overdue, check_reminder, check_text, recount_provisional, Decider,
    DecisionDeadlineRefusal, IntegrityServices, RecordFacts,
};

/// Longest free text, in characters.
pub const TEXT_MAX_CHARS: usize = 4000;

/// Why a record is contested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grounds {
    /// 信息错误
    WrongData,
    /// 信息遗漏
    MissingData,
    /// 超期公示
    PastPeriod,
    /// 错误列入
    WronglyListed,
    /// 应移出未移出
    NotRemoved,
}

/// What an upheld objection does to the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectionOutcome {
    /// 更正: the record is corrected (`POST /records/{id}/correct`).
    Correct,
    /// 补充: the record is completed.
    Complete,
    /// 停止公示: publication stops.
    StopPublication,
    /// 移出名单: the record leaves every list.
    Unlist,
}

impl ObjectionOutcome {
    /// Does this outcome end publication by itself?
    pub fn ends_publication(self) -> bool {
        matches!(self, Self::StopPublication | Self::Unlist)
    }
}

/// Where an objection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ObjectionStatus {
    /// Not filed yet.
    #[default]
    New,
    /// 异议中: waiting for a decision.
    Filed,
    /// Upheld with an outcome.
    Upheld,
    /// Dismissed (the record is unflagged).
    Dismissed,
    /// Could not be determined (both versions kept).
    Undeterminable,
}

impl ObjectionStatus {
    /// The contract name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Filed => "filed",
            Self::Upheld => "upheld",
            Self::Dismissed => "dismissed",
            Self::Undeterminable => "undeterminable",
        }
    }
}

impl std::fmt::Display for ObjectionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An objection as its events made it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Objection {
    /// Where it stands.
    pub status: ObjectionStatus,
    /// The record contested.
    pub record_id: Option<String>,
    /// The record's recording authority (decides it).
    pub recorded_by: Option<CreditCode>,
    /// The outcome when upheld.
    pub outcome: Option<ObjectionOutcome>,
    /// The decision is due by the end of this day.
    #[serde(default)]
    pub decision_due: Option<chrono::NaiveDate>,
    /// Due days already flagged as overdue.
    #[serde(default)]
    pub flagged: Vec<chrono::NaiveDate>,
    /// Due days already reminded.
    #[serde(default)]
    pub reminded: Vec<chrono::NaiveDate>,
    /// The day the decision period was counted from (the filing day).
    #[serde(default)]
    pub due_from: Option<chrono::NaiveDate>,
    /// The decision due day was counted through a year without a holiday schedule.
    #[serde(default)]
    pub due_provisional: bool,
    /// The check (核查) is due by the end of this day.
    #[serde(default)]
    pub check_due: Option<chrono::NaiveDate>,
    /// The check was done (`ObjectionChecked`).
    #[serde(default)]
    pub checked: bool,
    /// Check due days already flagged as overdue.
    #[serde(default)]
    pub check_flagged: Vec<chrono::NaiveDate>,
    /// Check due days already reminded.
    #[serde(default)]
    pub check_reminded: Vec<chrono::NaiveDate>,
    /// The check due day was counted through a year without a holiday schedule.
    #[serde(default)]
    pub check_provisional: bool,
}

/// What can be asked of an objection.
#[derive(Debug, Clone, PartialEq)]
pub enum ObjectionCommand {
    /// File an objection (intake, or a handler of the record's unit).
    FileObjection {
        /// The record contested, as the application read it.
        record: RecordFacts,
        /// Why.
        grounds: Grounds,
        /// In the objector's words.
        detail: String,
        /// The handler's unit when a handler files (`None`: intake on the public's behalf).
        filed_by_unit: Option<CreditCode>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Uphold it with an outcome (supervisor).
    UpholdObjection {
        /// What it does to the record.
        outcome: ObjectionOutcome,
        /// Who decides.
        decider: Decider,
        /// When.
        at: DateTime<Utc>,
    },
    /// Dismiss it (supervisor).
    DismissObjection {
        /// Why (not blank).
        reason: String,
        /// Who decides.
        decider: Decider,
        /// When.
        at: DateTime<Utc>,
    },
    /// It cannot be determined (supervisor).
    MarkUndeterminable {
        /// A note (not blank).
        note: String,
        /// Who decides.
        decider: Decider,
        /// When.
        at: DateTime<Utc>,
    },
    /// Record that the deciding authority checked (核查) the contested record
    /// (supervisor): stops the check clock.
    CheckObjection {
        /// What the check found (not blank).
        note: String,
        /// Who checks (the deciding authority).
        decider: Decider,
        /// When.
        at: DateTime<Utc>,
    },
    /// Flag the owed check as overdue (the deadline engine).
    FlagCheckOverdue {
        /// When.
        at: DateTime<Utc>,
    },
    /// Remind the deciding authority that the check is due soon (the engine).
    RemindCheck {
        /// When.
        at: DateTime<Utc>,
    },
    /// Flag the pending decision as overdue (the deadline engine).
    FlagDecisionOverdue {
        /// When.
        at: DateTime<Utc>,
    },
    /// Remind the deciding authority that the decision is due soon.
    RemindDecision {
        /// When.
        at: DateTime<Utc>,
    },
    /// Recount the provisional check (while owed) and decision due days once their
    /// year's holiday schedule is loaded (`probity calendar load`).
    RecomputeProvisionalDue {
        /// When.
        at: DateTime<Utc>,
    },
}

impl ObjectionCommand {
    /// The command's name, for spans and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::FileObjection { .. } => "FileObjection",
            Self::UpholdObjection { .. } => "UpholdObjection",
            Self::DismissObjection { .. } => "DismissObjection",
            Self::MarkUndeterminable { .. } => "MarkUndeterminable",
            Self::FlagDecisionOverdue { .. } => "FlagDecisionOverdue",
            Self::CheckObjection { .. } => "CheckObjection",
            Self::FlagCheckOverdue { .. } => "FlagCheckOverdue",
            Self::RemindCheck { .. } => "RemindCheck",
            Self::RemindDecision { .. } => "RemindDecision",
            Self::RecomputeProvisionalDue { .. } => "RecomputeProvisionalDue",
        }
    }
}

/// What happened to an objection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ObjectionEvent {
    /// 异议提出: the record is under objection from now on.
    ObjectionFiled {
        /// The record contested.
        record_id: String,
        /// The unit that answers for the record.
        unit: CreditCode,
        /// The record's recording authority (decides the objection).
        recorded_by: Option<CreditCode>,
        /// Why.
        grounds: Grounds,
        /// In the objector's words.
        detail: String,
        /// Check (核查) by the end of this day.
        check_due: Deadline,
        /// Decide by the end of this day.
        decision_due: Deadline,
        /// When.
        at: DateTime<Utc>,
    },
    /// 异议成立
    ObjectionUpheld {
        /// What it does to the record.
        outcome: ObjectionOutcome,
        /// When.
        at: DateTime<Utc>,
    },
    /// 异议不成立: the flag is lifted.
    ObjectionDismissed {
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// 无法确定: both versions are kept.
    ObjectionUndeterminable {
        /// A note.
        note: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// 临期提醒: the decision is due soon.
    ObjectionDecisionDueSoon {
        /// The due day.
        due: chrono::NaiveDate,
        /// When.
        at: DateTime<Utc>,
    },
    /// The decision's due day passed: flagged to supervisors.
    ObjectionDecisionOverdue {
        /// The missed due day.
        due: chrono::NaiveDate,
        /// When.
        at: DateTime<Utc>,
    },
    /// 核查: the deciding authority checked the contested record.
    ObjectionChecked {
        /// What the check found.
        note: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// 临期提醒: the check is due soon.
    ObjectionCheckDueSoon {
        /// The due day.
        due: chrono::NaiveDate,
        /// When.
        at: DateTime<Utc>,
    },
    /// The check's due day passed: flagged to supervisors.
    ObjectionCheckOverdue {
        /// The missed due day.
        due: chrono::NaiveDate,
        /// When.
        at: DateTime<Utc>,
    },
    /// A provisional decision due day recounted on the loaded holiday schedule: final now.
    ObjectionDueRecomputed {
        /// The decision due day now (never provisional).
        due: Deadline,
        /// When.
        at: DateTime<Utc>,
    },
    /// A provisional check (核查) due day recounted on the loaded holiday schedule: final
    /// now.
    ObjectionCheckDueRecomputed {
        /// The check due day now (never provisional).
        due: Deadline,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for ObjectionEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ObjectionFiled { .. } => "ObjectionFiled",
            Self::ObjectionUpheld { .. } => "ObjectionUpheld",
            Self::ObjectionDismissed { .. } => "ObjectionDismissed",
            Self::ObjectionUndeterminable { .. } => "ObjectionUndeterminable",
            Self::ObjectionDecisionOverdue { .. } => "ObjectionDecisionOverdue",
            Self::ObjectionDecisionDueSoon { .. } => "ObjectionDecisionDueSoon",
            Self::ObjectionDueRecomputed { .. } => "ObjectionDueRecomputed",
            Self::ObjectionCheckDueRecomputed { .. } => "ObjectionCheckDueRecomputed",
            Self::ObjectionChecked { .. } => "ObjectionChecked",
            Self::ObjectionCheckDueSoon { .. } => "ObjectionCheckDueSoon",
            Self::ObjectionCheckOverdue { .. } => "ObjectionCheckOverdue",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// Why an objection command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ObjectionError {
    /// Never filed (404 `not_found`).
    #[error("objection not found")]
    NotFound,
    /// Filing an id that exists (409 `already_exists`).
    #[error("objection already filed")]
    AlreadyFiled,
    /// Not allowed in its status (409 `invalid_transition`).
    #[error("cannot {action} an objection that is {status}")]
    InvalidTransition {
        /// The verb refused.
        action: &'static str,
        /// The status it is in.
        status: ObjectionStatus,
    },
    /// The record is withdrawn (409 `invalid_transition`).
    #[error("cannot object to a withdrawn record")]
    RecordWithdrawn,
    /// A handler of another unit (403 `forbidden`).
    #[error("only the record's own unit may object through a handler")]
    NotRecordUnit,
    /// A bound supervisor of another authority (403 `forbidden`).
    #[error("only the authority that recorded it (or the credit office) decides")]
    NotDecidingAuthority,
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
    /// Flagging an overdue decision was refused (409 `invalid_transition`).
    #[error(transparent)]
    Deadline(#[from] DecisionDeadlineRefusal),
    /// The check was already recorded (409 `invalid_transition`).
    #[error("the objection is already checked")]
    AlreadyChecked,
    /// A provisional due day cannot be recounted, and why (409 `invalid_transition`).
    #[error("the due date cannot be recomputed: {0}")]
    NotRecomputable(&'static str),
}

impl From<(&'static str, String)> for ObjectionError {
    fn from((field, message): (&'static str, String)) -> Self {
        ObjectionError::Invalid { field, message }
    }
}

impl Objection {
    /// The check due day while the check is owed (filed, undecided, not checked).
    pub fn check_owed(&self) -> Option<chrono::NaiveDate> {
        if self.status != ObjectionStatus::Filed || self.checked {
            return None;
        }
        self.check_due
    }

    fn decided(&self, action: &'static str, decider: &Decider) -> Result<(), ObjectionError> {
        match self.status {
            ObjectionStatus::New => Err(ObjectionError::NotFound),
            ObjectionStatus::Filed if !decider.may_decide(self.recorded_by.as_ref()) => {
                Err(ObjectionError::NotDecidingAuthority)
            }
            ObjectionStatus::Filed => Ok(()),
            status => Err(ObjectionError::InvalidTransition { action, status }),
        }
    }

    fn decide(
        &self,
        command: ObjectionCommand,
        services: &IntegrityServices,
    ) -> Result<Vec<ObjectionEvent>, ObjectionError> {
        match command {
            ObjectionCommand::FileObjection {
                record,
                grounds,
                detail,
                filed_by_unit,
                at,
            } => {
                if self.status != ObjectionStatus::New {
                    return Err(ObjectionError::AlreadyFiled);
                }
                if record.withdrawn {
                    return Err(ObjectionError::RecordWithdrawn);
                }
                if filed_by_unit.is_some_and(|unit| unit != record.unit) {
                    return Err(ObjectionError::NotRecordUnit);
                }
                check_text("detail", &detail, TEXT_MAX_CHARS)?;
                let limits = &services.policy.objection;
                let today = WorkingCalendar::local_date(at);
                let check_due = services
                    .calendar
                    .add_working_days(today, limits.check_working_days)?;
                let decision_due = services
                    .calendar
                    .add_working_days(today, limits.decision_working_days)?;
                Ok(vec![ObjectionEvent::ObjectionFiled {
                    record_id: record.record_id,
                    unit: record.unit,
                    recorded_by: record.recorded_by,
                    grounds,
                    detail: detail.trim().to_string(),
                    check_due,
                    decision_due,
                    at,
                }])
            }
            ObjectionCommand::UpholdObjection {
                outcome,
                decider,
                at,
            } => {
                self.decided("uphold", &decider)?;
                Ok(vec![ObjectionEvent::ObjectionUpheld { outcome, at }])
            }
            ObjectionCommand::DismissObjection {
                reason,
                decider,
                at,
            } => {
                self.decided("dismiss", &decider)?;
                check_text("reason", &reason, TEXT_MAX_CHARS)?;
                Ok(vec![ObjectionEvent::ObjectionDismissed {
                    reason: reason.trim().to_string(),
                    at,
                }])
            }
            ObjectionCommand::CheckObjection { note, decider, at } => {
                self.decided("check", &decider)?;
                if self.checked {
                    return Err(ObjectionError::AlreadyChecked);
                }
                check_text("note", &note, TEXT_MAX_CHARS)?;
                Ok(vec![ObjectionEvent::ObjectionChecked {
                    note: note.trim().to_string(),
                    at,
                }])
            }
            ObjectionCommand::FlagCheckOverdue { at } => {
                if self.status == ObjectionStatus::New {
                    return Err(ObjectionError::NotFound);
                }
                let due = check_decision_overdue(
                    self.check_owed(),
                    &self.check_flagged,
                    WorkingCalendar::local_date(at),
                )?;
                Ok(vec![ObjectionEvent::ObjectionCheckOverdue { due, at }])
            }
            ObjectionCommand::RemindCheck { at } => {
                if self.status == ObjectionStatus::New {
                    return Err(ObjectionError::NotFound);
                }
                let due = check_reminder(
                    self.check_owed(),
                    &self.check_reminded,
                    WorkingCalendar::local_date(at),
                )?;
                Ok(vec![ObjectionEvent::ObjectionCheckDueSoon { due, at }])
            }
            ObjectionCommand::RemindDecision { at } => {
                if self.status == ObjectionStatus::New {
                    return Err(ObjectionError::NotFound);
                }
                let pending = (self.status == ObjectionStatus::Filed)
                    .then_some(self.decision_due)
                    .flatten();
                let due = check_reminder(pending, &self.reminded, WorkingCalendar::local_date(at))?;
                Ok(vec![ObjectionEvent::ObjectionDecisionDueSoon { due, at }])
            }
            ObjectionCommand::FlagDecisionOverdue { at } => {
                if self.status == ObjectionStatus::New {
                    return Err(ObjectionError::NotFound);
                }
                let pending = (self.status == ObjectionStatus::Filed)
                    .then_some(self.decision_due)
                    .flatten();
                let due = check_decision_overdue(
                    pending,
                    &self.flagged,
                    WorkingCalendar::local_date(at),
                )?;
                Ok(vec![ObjectionEvent::ObjectionDecisionOverdue { due, at }])
            }
            ObjectionCommand::RecomputeProvisionalDue { at } => {
                if self.status == ObjectionStatus::New {
                    return Err(ObjectionError::NotFound);
                }
                if self.status != ObjectionStatus::Filed {
                    return Err(ObjectionError::NotRecomputable("no decision is pending"));
                }
                let Some(from) = self.due_from else {
                    return Err(ObjectionError::NotRecomputable("no due date is known"));
                };
                let today = WorkingCalendar::local_date(at);
                let limits = &services.policy.objection;
                // The check, while it is owed, then the decision: each recounted on its own.
                let check = match self.check_owed() {
                    Some(due) => recount_provisional(
                        &services.calendar,
                        from,
                        limits.check_working_days,
                        Deadline {
                            due,
                            provisional: self.check_provisional,
                        },
                        today,
                    ),
                    None => Err("the check is done"),
                };
                let decision = match self.decision_due {
                    Some(due) => recount_provisional(
                        &services.calendar,
                        from,
                        limits.decision_working_days,
                        Deadline {
                            due,
                            provisional: self.due_provisional,
                        },
                        today,
                    ),
                    None => Err("no due date is known"),
                };
                let mut events = Vec::new();
                let mut refusals = Vec::new();
                match check {
                    Ok(due) => events.push(ObjectionEvent::ObjectionCheckDueRecomputed { due, at }),
                    Err(why) => refusals.push(why),
                }
                match decision {
                    Ok(due) => events.push(ObjectionEvent::ObjectionDueRecomputed { due, at }),
                    Err(why) => refusals.push(why),
                }
                if events.is_empty() {
                    // Still provisional when either is (a later year without data);
                    // otherwise the decision's reason.
                    let why = refusals
                        .iter()
                        .find(|why| why.contains("still provisional"))
                        .or(refusals.last())
                        .copied()
                        .unwrap_or("nothing is provisional");
                    return Err(ObjectionError::NotRecomputable(why));
                }
                Ok(events)
            }
            ObjectionCommand::MarkUndeterminable { note, decider, at } => {
                self.decided("mark undeterminable", &decider)?;
                check_text("note", &note, TEXT_MAX_CHARS)?;
                Ok(vec![ObjectionEvent::ObjectionUndeterminable {
                    note: note.trim().to_string(),
                    at,
                }])
            }
        }
    }
}

impl Aggregate for Objection {
    const TYPE: &'static str = crate::aggregate_type::OBJECTION;
    type Command = ObjectionCommand;
    type Event = ObjectionEvent;
    type Error = ObjectionError;
    type Services = IntegrityServices;

    #[tracing::instrument(name = "objection.handle", skip_all, fields(command = command.kind(), status = %self.status))]
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
            ObjectionEvent::ObjectionFiled {
                record_id,
                recorded_by,
                check_due,
                decision_due,
                at,
                ..
            } => {
                self.check_due = Some(check_due.due);
                self.due_from = Some(WorkingCalendar::local_date(at));
                self.due_provisional = decision_due.provisional;
                self.check_provisional = check_due.provisional;
                self.status = ObjectionStatus::Filed;
                self.decision_due = Some(decision_due.due);
                self.record_id = Some(record_id);
                self.recorded_by = recorded_by;
            }
            ObjectionEvent::ObjectionUpheld { outcome, .. } => {
                self.status = ObjectionStatus::Upheld;
                self.outcome = Some(outcome);
            }
            ObjectionEvent::ObjectionDismissed { .. } => self.status = ObjectionStatus::Dismissed,
            ObjectionEvent::ObjectionUndeterminable { .. } => {
                self.status = ObjectionStatus::Undeterminable
            }
            ObjectionEvent::ObjectionDecisionOverdue { due, .. } => self.flagged.push(due),
            ObjectionEvent::ObjectionDecisionDueSoon { due, .. } => self.reminded.push(due),
            ObjectionEvent::ObjectionChecked { .. } => self.checked = true,
            ObjectionEvent::ObjectionCheckDueSoon { due, .. } => self.check_reminded.push(due),
            ObjectionEvent::ObjectionCheckOverdue { due, .. } => self.check_flagged.push(due),
            ObjectionEvent::ObjectionDueRecomputed { due, .. } => {
                self.decision_due = Some(due.due);
                self.due_provisional = due.provisional;
            }
            ObjectionEvent::ObjectionCheckDueRecomputed { due, .. } => {
                self.check_due = Some(due.due);
                self.check_provisional = due.provisional;
            }
        }
    }
}
