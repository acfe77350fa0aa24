//! The supervision item aggregate (§2 of the city's opinions, domain-rules §11): an NPC
//! deputy's proposal (人大代表建议), a CPPCC member's motion (政协提案), a court's judicial
//! suggestion (司法建议) or a procuratorate's suggestion (检察建议), assigned to the unit
//! that must answer it, due a number of calendar months after the assignment
//! ([`SupervisionLimits`], configurable). The unit replies; the proposer's satisfaction
//! is recorded; a supervisor may reassign it while unanswered (the limit runs again
//! from the reassignment). A reply not given by the due day is escalated once per due day
//! (督办, by the deadline engine), and the on-time reply rate counts in the assessment.
//! A complex item may be extended (延期: the unit asks with a reason by the due day, a
//! supervisor approves or denies) up to the kind's total limit from the assignment; after
//! a `dissatisfied` rating a supervisor may return it once for a second handling (再办理),
//! due [`SupervisionLimits::rehandling_months`] later (ADR 0033). A due day that falls in a
//! year without a holiday schedule is provisional; it is recounted once, by the same months
//! from the same day, when that year's schedule is loaded (`RecomputeProvisionalDue`).

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
    add_months, check_reminder, check_text, recount_provisional, DecisionDeadlineRefusal,
    IntegrityServices,
};

/// Longest free text (the reply, a reason), in characters.
pub const TEXT_MAX_CHARS: usize = 8000;
/// Longest title, in characters.
pub const TITLE_MAX_CHARS: usize = 200;
/// Longest source reference (the proposal's or suggestion's number), in characters.
pub const SOURCE_REF_MAX_CHARS: usize = 100;

/// What kind of item it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupervisionKind {
    /// 人大代表建议、批评和意见.
    NpcProposal,
    /// 政协提案.
    CppccMotion,
    /// 司法建议 (a court's).
    JudicialSuggestion,
    /// 检察建议 (a procuratorate's).
    ProcuratorialSuggestion,
}

impl SupervisionKind {
    /// The contract name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NpcProposal => "npc_proposal",
            Self::CppccMotion => "cppcc_motion",
            Self::JudicialSuggestion => "judicial_suggestion",
            Self::ProcuratorialSuggestion => "procuratorial_suggestion",
        }
    }
}

/// The proposer's (or issuing body's) view of the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Satisfaction {
    /// 满意
    Satisfied,
    /// 基本满意
    BasicallySatisfied,
    /// 不满意
    Dissatisfied,
}

impl Satisfaction {
    /// The contract name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Satisfied => "satisfied",
            Self::BasicallySatisfied => "basically_satisfied",
            Self::Dissatisfied => "dissatisfied",
        }
    }
}

/// Reply limits in calendar months from the assignment, per kind (`[integrity.supervision]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupervisionLimits {
    /// Name of the rules these values come from.
    pub policy: String,
    /// 人大代表建议: 3 months (全国人大代表建议、批评和意见办理办法).
    pub npc_proposal_months: u32,
    /// 政协提案: 3 months (政协全国委员会提案工作条例).
    pub cppcc_motion_months: u32,
    /// 司法建议: as the court sets, commonly 2 months (最高人民法院关于加强司法建议工作的意见).
    pub judicial_suggestion_months: u32,
    /// 检察建议: 2 months (人民检察院检察建议工作规定).
    pub procuratorial_suggestion_months: u32,
    /// 人大代表建议, with extensions: at most 6 months from the assignment for a complex
    /// item (全国人大代表建议、批评和意见办理办法: 涉及面广、处理难度大的, 六个月内答复).
    pub npc_proposal_max_months: u32,
    /// 政协提案, with extensions: at most 6 months (the local 提案工作条例, as for proposals).
    pub cppcc_motion_max_months: u32,
    /// 司法建议, with extensions: 2 months, no extension unless the court allows one **[local]**.
    pub judicial_suggestion_max_months: u32,
    /// 检察建议, with extensions: 2 months, no extension (检察建议工作规定 sets two months).
    pub procuratorial_suggestion_max_months: u32,
    /// 再办理: a second reply due this many calendar months after the return (代表对答复
    /// 不满意的, 承办单位应当再次研究办理, 一个月内重新答复 in the NPC rules and their local
    /// equivalents; the same default for the other kinds **[policy]**).
    pub rehandling_months: u32,
}

impl Default for SupervisionLimits {
    fn default() -> Self {
        Self {
            policy: "supervision-2026".to_string(),
            npc_proposal_months: 3,
            cppcc_motion_months: 3,
            judicial_suggestion_months: 2,
            procuratorial_suggestion_months: 2,
            npc_proposal_max_months: 6,
            cppcc_motion_max_months: 6,
            judicial_suggestion_max_months: 2,
            procuratorial_suggestion_max_months: 2,
            rehandling_months: 1,
        }
    }
}

impl SupervisionLimits {
    /// The months allowed for a kind.
    pub fn months(&self, kind: SupervisionKind) -> u32 {
        match kind {
            SupervisionKind::NpcProposal => self.npc_proposal_months,
            SupervisionKind::CppccMotion => self.cppcc_motion_months,
            SupervisionKind::JudicialSuggestion => self.judicial_suggestion_months,
            SupervisionKind::ProcuratorialSuggestion => self.procuratorial_suggestion_months,
        }
    }

    /// The most months a kind may reach from its assignment with extensions (never less
    /// than its plain limit).
    pub fn max_months(&self, kind: SupervisionKind) -> u32 {
        let max = match kind {
            SupervisionKind::NpcProposal => self.npc_proposal_max_months,
            SupervisionKind::CppccMotion => self.cppcc_motion_max_months,
            SupervisionKind::JudicialSuggestion => self.judicial_suggestion_max_months,
            SupervisionKind::ProcuratorialSuggestion => self.procuratorial_suggestion_max_months,
        };
        max.max(self.months(kind))
    }

    /// The reply due day of an item of `kind` assigned on `assigned` (a local date):
    /// the same day `months` later (the last day of a shorter month); when that day is
    /// not a working day, the next working day (期间届满日为节假日的，顺延).
    pub fn due(
        &self,
        calendar: &WorkingCalendar,
        kind: SupervisionKind,
        assigned: NaiveDate,
    ) -> Result<(u32, Deadline), CalendarError> {
        let months = self.months(kind);
        Ok((months, months_later(calendar, assigned, months)?))
    }
}

/// `months` calendar months after `from` (the last day of a shorter month), rolled to the
/// next working day.
fn months_later(
    calendar: &WorkingCalendar,
    from: NaiveDate,
    months: u32,
) -> Result<Deadline, CalendarError> {
    calendar.add_working_days(add_months(from, months), 0)
}

/// Where an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SupervisionStatus {
    /// Not assigned yet.
    #[default]
    New,
    /// 交办: assigned, the unit owes its reply.
    Assigned,
    /// 答复: replied, waiting for the proposer's satisfaction.
    Replied,
    /// 满意度已反馈: closed.
    Evaluated,
}

impl SupervisionStatus {
    /// The contract name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Assigned => "assigned",
            Self::Replied => "replied",
            Self::Evaluated => "evaluated",
        }
    }
}

impl std::fmt::Display for SupervisionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A supervision item as its events made it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SupervisionItem {
    /// Where it stands.
    pub status: SupervisionStatus,
    /// Its kind.
    pub kind: Option<SupervisionKind>,
    /// The unit that owes the reply.
    pub unit: Option<CreditCode>,
    /// The current reply due day.
    pub due: Option<NaiveDate>,
    /// Due days already escalated (督办).
    pub escalated: Vec<NaiveDate>,
    /// Due days already reminded.
    pub reminded: Vec<NaiveDate>,
    /// The local day the limit counts from (the assignment or the last reassignment).
    #[serde(default)]
    pub counted_from: Option<NaiveDate>,
    /// Calendar months allowed from `counted_from` (extensions included).
    #[serde(default)]
    pub months: u32,
    /// Months asked for by an undecided extension request.
    #[serde(default)]
    pub pending_extension: Option<u32>,
    /// The handling under way: 1, or 2 after a return for rehandling (再办理).
    #[serde(default)]
    pub handling: u32,
    /// The last satisfaction recorded (of the current handling).
    #[serde(default)]
    pub satisfaction: Option<Satisfaction>,
    /// The current due day was counted through a year without a holiday schedule.
    #[serde(default)]
    pub due_provisional: bool,
}

/// Calendar months one extension request may ask for.
pub const EXTENSION_MONTHS: std::ops::RangeInclusive<u32> = 1..=3;

/// What can be asked of a supervision item.
#[derive(Debug, Clone, PartialEq)]
pub enum SupervisionItemCommand {
    /// Register the item and assign it to a unit (supervisor or admin).
    AssignSupervisionItem {
        /// Its kind.
        kind: SupervisionKind,
        /// The proposal's, motion's or suggestion's own number (e.g. `第0123号`).
        source_ref: String,
        /// A short title.
        title: String,
        /// The unit that must reply.
        unit: CreditCode,
        /// The application found the unit registered as a subject.
        unit_registered: bool,
        /// When.
        at: DateTime<Utc>,
    },
    /// Reply (a handler of the assigned unit).
    ReplyToSupervisionItem {
        /// The acting handler's unit.
        unit: CreditCode,
        /// The reply.
        text: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Record the proposer's satisfaction with the reply (supervisor or admin).
    RecordSatisfaction {
        /// How satisfied.
        satisfaction: Satisfaction,
        /// When.
        at: DateTime<Utc>,
    },
    /// Assign it to another unit while unanswered; the limit runs again (supervisor or admin).
    ReassignSupervisionItem {
        /// The new unit.
        unit: CreditCode,
        /// The application found the unit registered as a subject.
        unit_registered: bool,
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Remind the unit that the due day is near (the deadline engine).
    RemindReplyDue {
        /// When.
        at: DateTime<Utc>,
    },
    /// The due day passed without a reply: 督办 (the deadline engine or a supervisor).
    EscalateOverdueReply {
        /// When.
        at: DateTime<Utc>,
    },
    /// 延期申请: the assigned unit asks for `months` more (a handler of that unit).
    RequestSupervisionExtension {
        /// The acting handler's unit.
        unit: CreditCode,
        /// Calendar months asked for, 1–3.
        months: u32,
        /// Why (not blank).
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Grant the pending extension request (supervisor or admin).
    ApproveSupervisionExtension {
        /// The supervisor's note (may be blank).
        note: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Refuse the pending extension request (supervisor or admin).
    DenySupervisionExtension {
        /// The supervisor's note (may be blank).
        note: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// 再办理: after a `dissatisfied` rating, send the item back to its unit for a second
    /// reply (supervisor or admin).
    ReturnSupervisionItemForRehandling {
        /// The proposer's objections, or why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Recount a provisional reply due day once its year's holiday schedule is loaded
    /// (`probity calendar load`).
    RecomputeProvisionalDue {
        /// When.
        at: DateTime<Utc>,
    },
}

impl SupervisionItemCommand {
    /// The command's name, for spans and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::AssignSupervisionItem { .. } => "AssignSupervisionItem",
            Self::ReplyToSupervisionItem { .. } => "ReplyToSupervisionItem",
            Self::RecordSatisfaction { .. } => "RecordSatisfaction",
            Self::ReassignSupervisionItem { .. } => "ReassignSupervisionItem",
            Self::RemindReplyDue { .. } => "RemindReplyDue",
            Self::EscalateOverdueReply { .. } => "EscalateOverdueReply",
            Self::RequestSupervisionExtension { .. } => "RequestSupervisionExtension",
            Self::ApproveSupervisionExtension { .. } => "ApproveSupervisionExtension",
            Self::DenySupervisionExtension { .. } => "DenySupervisionExtension",
            Self::ReturnSupervisionItemForRehandling { .. } => "ReturnSupervisionItemForRehandling",
            Self::RecomputeProvisionalDue { .. } => "RecomputeProvisionalDue",
        }
    }
}

/// What happened to a supervision item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SupervisionItemEvent {
    /// 交办: registered and assigned.
    SupervisionItemAssigned {
        /// Its kind.
        kind: SupervisionKind,
        /// The item's own number.
        source_ref: String,
        /// A short title.
        title: String,
        /// The unit that must reply.
        unit: CreditCode,
        /// Calendar months allowed.
        months: u32,
        /// The reply due day.
        due: Deadline,
        /// The limits' policy name.
        policy: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// 答复
    SupervisionItemReplied {
        /// The unit that replied.
        unit: CreditCode,
        /// The reply.
        text: String,
        /// Replied by the due day in force.
        on_time: bool,
        /// When.
        at: DateTime<Utc>,
    },
    /// The proposer's satisfaction.
    SupervisionSatisfactionRecorded {
        /// How satisfied.
        satisfaction: Satisfaction,
        /// When.
        at: DateTime<Utc>,
    },
    /// 改办: assigned to another unit, due again from now.
    SupervisionItemReassigned {
        /// The unit that no longer owes it.
        from: CreditCode,
        /// The unit that owes it now.
        to: CreditCode,
        /// Why.
        reason: String,
        /// Calendar months allowed.
        months: u32,
        /// The new due day.
        due: Deadline,
        /// When.
        at: DateTime<Utc>,
    },
    /// 临期提醒
    SupervisionReplyDueSoon {
        /// The due day.
        due: NaiveDate,
        /// When.
        at: DateTime<Utc>,
    },
    /// 逾期督办: the due day passed without a reply.
    SupervisionReplyOverdue {
        /// The unit that owes the reply.
        unit: CreditCode,
        /// The due day missed.
        due: NaiveDate,
        /// When.
        at: DateTime<Utc>,
    },
    /// 延期申请: the assigned unit asked for more months.
    SupervisionExtensionRequested {
        /// The unit that asked.
        unit: CreditCode,
        /// Calendar months asked for.
        months: u32,
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// 延期批准: the reply is due on `due`, `months` after the assignment (or reassignment).
    SupervisionExtensionApproved {
        /// The supervisor's note.
        note: String,
        /// Calendar months allowed in all, from the assignment (or the last reassignment).
        months: u32,
        /// The new reply due day.
        due: Deadline,
        /// When.
        at: DateTime<Utc>,
    },
    /// 延期不予批准: the due day stands.
    SupervisionExtensionDenied {
        /// The supervisor's note.
        note: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// 再办理: returned to its unit after a `dissatisfied` rating; a second reply is due.
    SupervisionItemReturnedForRehandling {
        /// The unit that owes the second reply.
        unit: CreditCode,
        /// Why (the proposer's objections).
        reason: String,
        /// Calendar months allowed from the return.
        months: u32,
        /// The second reply's due day.
        due: Deadline,
        /// The limits' policy name.
        policy: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// A provisional reply due day recounted on the loaded holiday schedule: final now
    /// (the same months from the same day, rolled to the next working day).
    SupervisionReplyDueRecomputed {
        /// The reply due day now (never provisional).
        due: Deadline,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for SupervisionItemEvent {
    fn event_type(&self) -> String {
        match self {
            Self::SupervisionItemAssigned { .. } => "SupervisionItemAssigned",
            Self::SupervisionItemReplied { .. } => "SupervisionItemReplied",
            Self::SupervisionSatisfactionRecorded { .. } => "SupervisionSatisfactionRecorded",
            Self::SupervisionItemReassigned { .. } => "SupervisionItemReassigned",
            Self::SupervisionReplyDueSoon { .. } => "SupervisionReplyDueSoon",
            Self::SupervisionReplyOverdue { .. } => "SupervisionReplyOverdue",
            Self::SupervisionExtensionRequested { .. } => "SupervisionExtensionRequested",
            Self::SupervisionExtensionApproved { .. } => "SupervisionExtensionApproved",
            Self::SupervisionExtensionDenied { .. } => "SupervisionExtensionDenied",
            Self::SupervisionItemReturnedForRehandling { .. } => {
                "SupervisionItemReturnedForRehandling"
            }
            Self::SupervisionReplyDueRecomputed { .. } => "SupervisionReplyDueRecomputed",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// Why a supervision item command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SupervisionItemError {
    /// Never assigned (404 `not_found`).
    #[error("supervision item not found")]
    NotFound,
    /// Assigning an id that exists (409 `already_exists`).
    #[error("supervision item already assigned")]
    AlreadyAssigned,
    /// Not allowed in its status (409 `invalid_transition`).
    #[error("cannot {action} a supervision item that is {status}")]
    InvalidTransition {
        /// The verb refused.
        action: &'static str,
        /// The status it is in.
        status: SupervisionStatus,
    },
    /// A handler of another unit replying (403 `forbidden`).
    #[error("the supervision item is assigned to another unit")]
    NotAssignedUnit,
    /// Reassigning to the unit that already has it (422 `validation_failed`).
    #[error("unit: the item is already assigned to this unit")]
    SameUnit,
    /// An escalation or reminder refused: nothing owed, already done, not yet passed or
    /// passed (409 `invalid_transition`).
    #[error(transparent)]
    Deadline(#[from] DecisionDeadlineRefusal),
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
    /// An extension asked for after the due day (409 `invalid_transition`).
    #[error("an extension must be requested by the due day")]
    ExtensionTooLate,
    /// An extension request is already pending (409 `invalid_transition`).
    #[error("an extension request is already pending")]
    ExtensionPending,
    /// No extension request is pending (409 `invalid_transition`).
    #[error("no extension request is pending")]
    NoExtensionPending,
    /// The extension would pass the kind's total limit (422 `validation_failed`, `months`).
    #[error("months: at most {max_months} months from the assignment for this kind; {months} already allowed")]
    ExtensionBeyondLimit {
        /// The total limit of the kind.
        max_months: u32,
        /// The months already allowed.
        months: u32,
    },
    /// A second handling is extended no further (409 `invalid_transition`).
    #[error("a second handling cannot be extended")]
    RehandlingNotExtended,
    /// Only a `dissatisfied` rating returns an item for rehandling (409 `invalid_transition`).
    #[error("only an item rated dissatisfied is returned for rehandling")]
    NotDissatisfied,
    /// An item is handled a second time once only (409 `invalid_transition`).
    #[error("the supervision item was already handled a second time")]
    AlreadyRehandled,
    /// The reply due day cannot be recounted (final, passed, none owed, or still
    /// provisional) (409 `invalid_transition`).
    #[error("the reply due day is not recounted: {0}")]
    NotRecomputable(&'static str),
}

impl From<(&'static str, String)> for SupervisionItemError {
    fn from((field, message): (&'static str, String)) -> Self {
        SupervisionItemError::Invalid { field, message }
    }
}

/// A supervisor's note: optional, at most [`TEXT_MAX_CHARS`].
fn check_note(note: &str) -> Result<(), SupervisionItemError> {
    if note.chars().count() > TEXT_MAX_CHARS {
        return Err(SupervisionItemError::Invalid {
            field: "note",
            message: format!("must be at most {TEXT_MAX_CHARS} characters"),
        });
    }
    Ok(())
}

fn registered(unit_registered: bool) -> Result<(), SupervisionItemError> {
    if unit_registered {
        Ok(())
    } else {
        Err(SupervisionItemError::Invalid {
            field: "unit",
            message: "no subject is registered with this code".into(),
        })
    }
}

impl SupervisionItem {
    fn require(
        &self,
        action: &'static str,
        allowed: &[SupervisionStatus],
    ) -> Result<(), SupervisionItemError> {
        if self.status == SupervisionStatus::New {
            return Err(SupervisionItemError::NotFound);
        }
        if !allowed.contains(&self.status) {
            return Err(SupervisionItemError::InvalidTransition {
                action,
                status: self.status,
            });
        }
        Ok(())
    }

    /// The due day still owed (only while assigned and unanswered).
    fn owed(&self) -> Option<NaiveDate> {
        (self.status == SupervisionStatus::Assigned)
            .then_some(self.due)
            .flatten()
    }

    fn decide(
        &self,
        command: SupervisionItemCommand,
        services: &IntegrityServices,
    ) -> Result<Vec<SupervisionItemEvent>, SupervisionItemError> {
        use SupervisionStatus as S;
        let limits = &services.policy.supervision;
        match command {
            SupervisionItemCommand::AssignSupervisionItem {
                kind,
                source_ref,
                title,
                unit,
                unit_registered,
                at,
            } => {
                if self.status != S::New {
                    return Err(SupervisionItemError::AlreadyAssigned);
                }
                check_text("source_ref", &source_ref, SOURCE_REF_MAX_CHARS)?;
                check_text("title", &title, TITLE_MAX_CHARS)?;
                registered(unit_registered)?;
                let (months, due) =
                    limits.due(&services.calendar, kind, WorkingCalendar::local_date(at))?;
                Ok(vec![SupervisionItemEvent::SupervisionItemAssigned {
                    kind,
                    source_ref: source_ref.trim().to_string(),
                    title: title.trim().to_string(),
                    unit,
                    months,
                    due,
                    policy: limits.policy.clone(),
                    at,
                }])
            }
            SupervisionItemCommand::ReplyToSupervisionItem { unit, text, at } => {
                self.require("reply to", &[S::Assigned])?;
                if self.unit.as_ref() != Some(&unit) {
                    return Err(SupervisionItemError::NotAssignedUnit);
                }
                check_text("text", &text, TEXT_MAX_CHARS)?;
                let on_time = self
                    .due
                    .is_some_and(|due| !crate::is_overdue(due, WorkingCalendar::local_date(at)));
                Ok(vec![SupervisionItemEvent::SupervisionItemReplied {
                    unit,
                    text: text.trim().to_string(),
                    on_time,
                    at,
                }])
            }
            SupervisionItemCommand::RecordSatisfaction { satisfaction, at } => {
                self.require("record satisfaction with", &[S::Replied])?;
                Ok(vec![
                    SupervisionItemEvent::SupervisionSatisfactionRecorded { satisfaction, at },
                ])
            }
            SupervisionItemCommand::ReassignSupervisionItem {
                unit,
                unit_registered,
                reason,
                at,
            } => {
                self.require("reassign", &[S::Assigned])?;
                let (Some(from), Some(kind)) = (self.unit.clone(), self.kind) else {
                    return Err(SupervisionItemError::NotFound);
                };
                if from == unit {
                    return Err(SupervisionItemError::SameUnit);
                }
                registered(unit_registered)?;
                check_text("reason", &reason, TEXT_MAX_CHARS)?;
                let (months, due) =
                    limits.due(&services.calendar, kind, WorkingCalendar::local_date(at))?;
                Ok(vec![SupervisionItemEvent::SupervisionItemReassigned {
                    from,
                    to: unit,
                    reason: reason.trim().to_string(),
                    months,
                    due,
                    at,
                }])
            }
            SupervisionItemCommand::RemindReplyDue { at } => {
                self.require("remind", &[S::Assigned, S::Replied, S::Evaluated])?;
                let due =
                    check_reminder(self.owed(), &self.reminded, WorkingCalendar::local_date(at))?;
                Ok(vec![SupervisionItemEvent::SupervisionReplyDueSoon {
                    due,
                    at,
                }])
            }
            SupervisionItemCommand::EscalateOverdueReply { at } => {
                self.require("escalate", &[S::Assigned, S::Replied, S::Evaluated])?;
                let due = crate::integrity::check_decision_overdue(
                    self.owed(),
                    &self.escalated,
                    WorkingCalendar::local_date(at),
                )?;
                let Some(unit) = self.unit.clone() else {
                    return Err(SupervisionItemError::NotFound);
                };
                Ok(vec![SupervisionItemEvent::SupervisionReplyOverdue {
                    unit,
                    due,
                    at,
                }])
            }
            SupervisionItemCommand::RequestSupervisionExtension {
                unit,
                months,
                reason,
                at,
            } => {
                self.require("request an extension for", &[S::Assigned])?;
                if self.unit.as_ref() != Some(&unit) {
                    return Err(SupervisionItemError::NotAssignedUnit);
                }
                if self.handling > 1 {
                    return Err(SupervisionItemError::RehandlingNotExtended);
                }
                if !EXTENSION_MONTHS.contains(&months) {
                    return Err(SupervisionItemError::Invalid {
                        field: "months",
                        message: format!(
                            "must be between {} and {}",
                            EXTENSION_MONTHS.start(),
                            EXTENSION_MONTHS.end()
                        ),
                    });
                }
                check_text("reason", &reason, TEXT_MAX_CHARS)?;
                if self
                    .due
                    .is_some_and(|due| crate::is_overdue(due, WorkingCalendar::local_date(at)))
                {
                    return Err(SupervisionItemError::ExtensionTooLate);
                }
                if self.pending_extension.is_some() {
                    return Err(SupervisionItemError::ExtensionPending);
                }
                self.within_limit(limits, months)?;
                Ok(vec![SupervisionItemEvent::SupervisionExtensionRequested {
                    unit,
                    months,
                    reason: reason.trim().to_string(),
                    at,
                }])
            }
            SupervisionItemCommand::ApproveSupervisionExtension { note, at } => {
                self.require("approve an extension for", &[S::Assigned])?;
                let asked = self
                    .pending_extension
                    .ok_or(SupervisionItemError::NoExtensionPending)?;
                check_note(&note)?;
                // The bound of the policy in force now (it may have changed since the request).
                let months = self.within_limit(limits, asked)?;
                let Some(from) = self.counted_from else {
                    return Err(SupervisionItemError::NotFound);
                };
                let due = months_later(&services.calendar, from, months)?;
                Ok(vec![SupervisionItemEvent::SupervisionExtensionApproved {
                    note: note.trim().to_string(),
                    months,
                    due,
                    at,
                }])
            }
            SupervisionItemCommand::DenySupervisionExtension { note, at } => {
                self.require("deny an extension for", &[S::Assigned])?;
                if self.pending_extension.is_none() {
                    return Err(SupervisionItemError::NoExtensionPending);
                }
                check_note(&note)?;
                Ok(vec![SupervisionItemEvent::SupervisionExtensionDenied {
                    note: note.trim().to_string(),
                    at,
                }])
            }
            SupervisionItemCommand::ReturnSupervisionItemForRehandling { reason, at } => {
                self.require("return for rehandling", &[S::Evaluated])?;
                if self.handling > 1 {
                    return Err(SupervisionItemError::AlreadyRehandled);
                }
                if self.satisfaction != Some(Satisfaction::Dissatisfied) {
                    return Err(SupervisionItemError::NotDissatisfied);
                }
                check_text("reason", &reason, TEXT_MAX_CHARS)?;
                let Some(unit) = self.unit.clone() else {
                    return Err(SupervisionItemError::NotFound);
                };
                let months = limits.rehandling_months;
                let due =
                    months_later(&services.calendar, WorkingCalendar::local_date(at), months)?;
                Ok(vec![
                    SupervisionItemEvent::SupervisionItemReturnedForRehandling {
                        unit,
                        reason: reason.trim().to_string(),
                        months,
                        due,
                        policy: limits.policy.clone(),
                        at,
                    },
                ])
            }
            SupervisionItemCommand::RecomputeProvisionalDue { at } => {
                if self.status == S::New {
                    return Err(SupervisionItemError::NotFound);
                }
                let (Some(due), Some(from)) = (self.owed(), self.counted_from) else {
                    return Err(SupervisionItemError::NotRecomputable("no reply is owed"));
                };
                // Every due day of an item is `months` calendar months from the day it
                // counts from (the assignment, reassignment or return; extensions
                // included), rolled to the next working day: counted again the same way.
                let due = recount_provisional(
                    &services.calendar,
                    add_months(from, self.months),
                    0,
                    Deadline {
                        due,
                        provisional: self.due_provisional,
                    },
                    WorkingCalendar::local_date(at),
                )
                .map_err(SupervisionItemError::NotRecomputable)?;
                Ok(vec![SupervisionItemEvent::SupervisionReplyDueRecomputed {
                    due,
                    at,
                }])
            }
        }
    }

    /// The months allowed after adding `more`, refused past the kind's total limit.
    fn within_limit(
        &self,
        limits: &SupervisionLimits,
        more: u32,
    ) -> Result<u32, SupervisionItemError> {
        let Some(kind) = self.kind else {
            return Err(SupervisionItemError::NotFound);
        };
        let max_months = limits.max_months(kind);
        let months = self.months.saturating_add(more);
        if months > max_months {
            return Err(SupervisionItemError::ExtensionBeyondLimit {
                max_months,
                months: self.months,
            });
        }
        Ok(months)
    }
}

impl Aggregate for SupervisionItem {
    const TYPE: &'static str = crate::aggregate_type::SUPERVISION_ITEM;
    type Command = SupervisionItemCommand;
    type Event = SupervisionItemEvent;
    type Error = SupervisionItemError;
    type Services = IntegrityServices;

    #[tracing::instrument(name = "supervision_item.handle", skip_all, fields(command = command.kind(), status = %self.status))]
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
        use SupervisionItemEvent as E;
        match event {
            E::SupervisionItemAssigned {
                kind,
                unit,
                months,
                due,
                at,
                ..
            } => {
                self.status = SupervisionStatus::Assigned;
                self.kind = Some(kind);
                self.unit = Some(unit);
                self.due = Some(due.due);
                self.due_provisional = due.provisional;
                self.counted_from = Some(WorkingCalendar::local_date(at));
                self.months = months;
                self.handling = 1;
            }
            E::SupervisionItemReplied { .. } => {
                self.status = SupervisionStatus::Replied;
                self.pending_extension = None;
            }
            E::SupervisionSatisfactionRecorded { satisfaction, .. } => {
                self.status = SupervisionStatus::Evaluated;
                self.satisfaction = Some(satisfaction);
            }
            E::SupervisionItemReassigned {
                to,
                months,
                due,
                at,
                ..
            } => {
                self.unit = Some(to);
                self.due = Some(due.due);
                self.due_provisional = due.provisional;
                self.counted_from = Some(WorkingCalendar::local_date(at));
                self.months = months;
                self.pending_extension = None;
            }
            E::SupervisionReplyDueSoon { due, .. } => self.reminded.push(due),
            E::SupervisionReplyOverdue { due, .. } => self.escalated.push(due),
            E::SupervisionExtensionRequested { months, .. } => {
                self.pending_extension = Some(months);
            }
            E::SupervisionExtensionApproved { months, due, .. } => {
                self.pending_extension = None;
                self.months = months;
                self.due = Some(due.due);
                self.due_provisional = due.provisional;
            }
            E::SupervisionExtensionDenied { .. } => self.pending_extension = None,
            E::SupervisionItemReturnedForRehandling {
                unit,
                months,
                due,
                at,
                ..
            } => {
                self.status = SupervisionStatus::Assigned;
                self.unit = Some(unit);
                self.due = Some(due.due);
                self.due_provisional = due.provisional;
                self.counted_from = Some(WorkingCalendar::local_date(at));
                self.months = months;
                self.handling = 2;
                self.satisfaction = None;
            }
            E::SupervisionReplyDueRecomputed { due, .. } => {
                self.due = Some(due.due);
                self.due_provisional = due.provisional;
            }
        }
    }
}
