//! Commands of the complaint aggregate. Each carries the time it is issued at (the
//! server's clock, offset applied) so the aggregate itself never reads a clock.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::CreditCode;
use crate::reporter::SealedReporter;

use super::{Category, Channel, Status};

/// What intake staff, handlers and supervisors ask of a complaint. `at` is when the
/// command was issued; deadlines are computed from its Asia/Shanghai date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ComplaintCommand {
    /// 登记: record a new case (only on a fresh aggregate).
    FileComplaint {
        /// What the reporter asks for; decides the reply time limit.
        category: Category,
        /// How the case reached intake.
        channel: Channel,
        /// The body complained about, if known.
        subject_code: Option<CreditCode>,
        /// Short title: not blank, at most 200 characters.
        title: String,
        /// The case in the reporter's words: not blank, at most 4000 characters.
        description: String,
        /// The reporter stays anonymous: no reporter block, no follow-up visit.
        anonymous: bool,
        /// Must be `Some` unless `anonymous`, and `None` if it is.
        reporter: Option<SealedReporter>,
        /// When the command was issued.
        at: DateTime<Utc>,
    },
    /// 受理: received → accepted.
    AcceptComplaint {
        /// When the command was issued.
        at: DateTime<Utc>,
    },
    /// 不予受理: received → declined.
    DeclineComplaint {
        /// Why (not blank).
        reason: String,
        /// When the command was issued.
        at: DateTime<Utc>,
    },
    /// 派单/转办: accepted or returned → dispatched to `unit`. A report (举报) is never
    /// dispatched to the unit it names or to a unit under it (信访工作条例 art. 30).
    DispatchComplaint {
        /// The acting unit (for dispatch: the unit the case goes to).
        unit: CreditCode,
        /// The units above `unit` as registered (its parent government, that one's
        /// parent, …), read by the caller; empty when `unit` has no registered parent.
        above: Vec<CreditCode>,
        /// When the command was issued.
        at: DateTime<Utc>,
    },
    /// 签收. `unit` is the acting handler's unit; only the assigned unit may sign.
    SignComplaint {
        /// The acting unit (for dispatch: the unit the case goes to).
        unit: CreditCode,
        /// When the command was issued.
        at: DateTime<Utc>,
    },
    /// 退单: the assigned unit sends a misrouted case back.
    ReturnComplaint {
        /// The acting unit (for dispatch: the unit the case goes to).
        unit: CreditCode,
        /// Why (not blank).
        reason: String,
        /// When the command was issued.
        at: DateTime<Utc>,
    },
    /// The assigned unit asks for `working_days` (1–30) more to reply.
    RequestExtension {
        /// The acting unit (for dispatch: the unit the case goes to).
        unit: CreditCode,
        /// Working days asked for, 1–30.
        working_days: u32,
        /// Why (not blank).
        reason: String,
        /// When the command was issued.
        at: DateTime<Utc>,
    },
    /// A supervisor grants the pending extension request.
    ApproveExtension {
        /// The supervisor's note.
        note: String,
        /// When the command was issued.
        at: DateTime<Utc>,
    },
    /// A supervisor refuses the pending extension request.
    DenyExtension {
        /// The supervisor's note.
        note: String,
        /// When the command was issued.
        at: DateTime<Utc>,
    },
    /// 答复: the assigned unit replies to the reporter.
    ReplyToComplaint {
        /// The acting unit (for dispatch: the unit the case goes to).
        unit: CreditCode,
        /// The reply to the reporter (not blank).
        content: String,
        /// When the command was issued.
        at: DateTime<Utc>,
    },
    /// 回访: intake records the follow-up visit and the reporter's satisfaction.
    RecordVisit {
        /// Whether the reporter is satisfied with the reply.
        satisfied: bool,
        /// What the reporter said.
        comment: String,
        /// When the command was issued.
        at: DateTime<Utc>,
    },
    /// 并单: the case repeats case `into` (existence checked by the caller), which must
    /// be open and not itself merged.
    MergeComplaint {
        /// Id of the case this one repeats (not blank).
        into: String,
        /// The status of case `into` as the caller read it from the log.
        into_status: Status,
        /// When the command was issued.
        at: DateTime<Utc>,
    },
    /// The second half of a merge: case `from` was merged into this one, which records
    /// it so its readers see what was merged (any filed status; once per `from`).
    RecordMergedIn {
        /// Id of the case merged into this one.
        from: String,
        /// When the command was issued.
        at: DateTime<Utc>,
    },
    /// 督办: a supervisor presses an overdue case.
    SuperviseComplaint {
        /// The supervisor's note.
        note: String,
        /// When the command was issued.
        at: DateTime<Utc>,
    },
    /// Erase the reporter's personal data (crypto-shredding): allowed in any filed
    /// status, refused for an anonymous case and for one already erased. The caller
    /// destroys the key named by the resulting event after it is recorded.
    EraseReporter {
        /// Why (not blank): the legal ground or request reference.
        reason: String,
        /// When the command was issued.
        at: DateTime<Utc>,
    },
    /// The deadline engine records that the unit did not sign by the sign due day.
    /// Refused unless the case is still unsigned (dispatched), the Asia/Shanghai date of
    /// `at` is after the due day, and this due day was not marked already.
    MarkSignOverdue {
        /// When the command was issued.
        at: DateTime<Utc>,
    },
    /// The deadline engine records that the unit did not reply by the reply due day
    /// (the case goes to supervision, 督办, and counts against the unit). Refused
    /// unless the reply is still owed (dispatched or in progress), the Asia/Shanghai date
    /// of `at` is after the current reply due day (an approved extension moves it), and
    /// this due day was not marked already.
    MarkReplyOverdue {
        /// When the command was issued.
        at: DateTime<Utc>,
    },
    /// The deadline engine reminds the unit that a deadline is near. Refused unless the
    /// deadline is open, not yet passed, and not reminded already for this due day. How
    /// near is near (the reminder window) is the engine's policy, not the aggregate's.
    RemindDeadline {
        /// Which deadline: sign or reply.
        kind: DeadlineKind,
        /// When the command was issued.
        at: DateTime<Utc>,
    },
    /// Recomputes, once, the open deadlines that are provisional (counted through a year
    /// without an official holiday schedule), on the services' calendar, which by now
    /// holds that year's schedule. Each is counted again from the day and by the working
    /// days it was first counted with; the result is final and never recomputed again.
    /// Refused (a [`super::DeadlineRefusal`]) when no open deadline is provisional, or
    /// when none can be made final yet (still provisional, already passed, or not
    /// reproducible under the time limits in force).
    RecomputeProvisionalDeadlines {
        /// When the command was issued.
        at: DateTime<Utc>,
    },
}

/// Which deadline of a complaint a deadline command or event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineKind {
    /// The unit's signature (签收) on a dispatched case.
    Sign,
    /// The unit's reply (答复).
    Reply,
}

impl DeadlineKind {
    /// The snake_case name used in events and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sign => "sign",
            Self::Reply => "reply",
        }
    }
}

impl std::fmt::Display for DeadlineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ComplaintCommand {
    /// The command's name, for logs and spans (never its content).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::FileComplaint { .. } => "FileComplaint",
            Self::AcceptComplaint { .. } => "AcceptComplaint",
            Self::DeclineComplaint { .. } => "DeclineComplaint",
            Self::DispatchComplaint { .. } => "DispatchComplaint",
            Self::SignComplaint { .. } => "SignComplaint",
            Self::ReturnComplaint { .. } => "ReturnComplaint",
            Self::RequestExtension { .. } => "RequestExtension",
            Self::ApproveExtension { .. } => "ApproveExtension",
            Self::DenyExtension { .. } => "DenyExtension",
            Self::ReplyToComplaint { .. } => "ReplyToComplaint",
            Self::RecordVisit { .. } => "RecordVisit",
            Self::MergeComplaint { .. } => "MergeComplaint",
            Self::RecordMergedIn { .. } => "RecordMergedIn",
            Self::SuperviseComplaint { .. } => "SuperviseComplaint",
            Self::EraseReporter { .. } => "EraseReporter",
            Self::MarkSignOverdue { .. } => "MarkSignOverdue",
            Self::MarkReplyOverdue { .. } => "MarkReplyOverdue",
            Self::RemindDeadline { .. } => "RemindDeadline",
            Self::RecomputeProvisionalDeadlines { .. } => "RecomputeProvisionalDeadlines",
        }
    }

    /// When the command was issued.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::FileComplaint { at, .. }
            | Self::AcceptComplaint { at }
            | Self::DeclineComplaint { at, .. }
            | Self::DispatchComplaint { at, .. }
            | Self::SignComplaint { at, .. }
            | Self::ReturnComplaint { at, .. }
            | Self::RequestExtension { at, .. }
            | Self::ApproveExtension { at, .. }
            | Self::DenyExtension { at, .. }
            | Self::ReplyToComplaint { at, .. }
            | Self::RecordVisit { at, .. }
            | Self::MergeComplaint { at, .. }
            | Self::RecordMergedIn { at, .. }
            | Self::SuperviseComplaint { at, .. }
            | Self::EraseReporter { at, .. }
            | Self::MarkSignOverdue { at }
            | Self::MarkReplyOverdue { at }
            | Self::RemindDeadline { at, .. }
            | Self::RecomputeProvisionalDeadlines { at } => *at,
        }
    }
}
