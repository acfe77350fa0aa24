//! The complaint aggregate (投诉举报): intake → accept → dispatch → sign → reply → visit →
//! close, with decline, return, extension, merge and supervision (国办发〔2020〕53号).

mod aggregate;
mod commands;
mod errors;
mod events;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use aggregate::{DESCRIPTION_MAX_CHARS, EXTENSION_WORKING_DAYS, TITLE_MAX_CHARS};
pub use commands::{ComplaintCommand, DeadlineKind};
pub use errors::{ComplaintError, DeadlineRefusal};
pub use events::{ComplaintEvent, ComplaintWireEvent};

use crate::calendar::{Deadline, WorkingCalendar};
use crate::ids::CreditCode;
use crate::policy::TimeLimits;

/// What the aggregate needs from outside: reference data only, no I/O.
#[derive(Debug, Clone)]
pub struct ComplaintServices {
    /// The working-day calendar deadlines are counted on.
    pub calendar: Arc<WorkingCalendar>,
    /// The time limits (sign, reply by category, reopen) in force.
    pub limits: TimeLimits,
}

/// What the reporter asks for; decides the reply time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 咨询
    Consultation,
    /// 求助
    Help,
    /// 建议
    Suggestion,
    /// 投诉
    Complaint,
    /// 举报
    Report,
}

/// How the case reached intake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The 12345 hotline.
    Hotline,
    /// The web form of the integrity report platform.
    Web,
    /// A letter (来信).
    Letter,
    /// In person (来访).
    Visit,
    /// An Open311 GeoReport v2 client.
    Open311,
}

/// Where a case stands in its lifecycle (see `docs/domain.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not yet filed (the state of a fresh aggregate).
    #[default]
    New,
    /// 登记: filed, waiting for intake to accept or decline.
    Received,
    /// 受理: accepted, waiting to be dispatched.
    Accepted,
    /// 不予受理: closed without handling.
    Declined,
    /// 派单: sent to a unit, waiting for it to sign.
    Dispatched,
    /// 签收/办理: the unit is handling it.
    InProgress,
    /// 退单: the unit sent it back; to be dispatched again.
    Returned,
    /// 答复: replied, waiting for the follow-up visit.
    Replied,
    /// 办结.
    Closed,
    /// 并单: a repeat of another case.
    Merged,
}

impl Status {
    /// The snake_case name used in the API and the views.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Received => "received",
            Status::Accepted => "accepted",
            Status::Declined => "declined",
            Status::Dispatched => "dispatched",
            Status::InProgress => "in_progress",
            Status::Returned => "returned",
            Status::Replied => "replied",
            Status::Closed => "closed",
            Status::Merged => "merged",
        }
    }
}

impl Status {
    /// Parses the snake_case name ([`Status::as_str`]).
    pub fn parse(name: &str) -> Option<Status> {
        [
            Status::New,
            Status::Received,
            Status::Accepted,
            Status::Declined,
            Status::Dispatched,
            Status::InProgress,
            Status::Returned,
            Status::Replied,
            Status::Closed,
            Status::Merged,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    /// A case another one may be merged into: filed and neither finished (replied,
    /// closed, declined) nor itself merged.
    pub fn takes_merges(self) -> bool {
        matches!(
            self,
            Status::Received
                | Status::Accepted
                | Status::Dispatched
                | Status::InProgress
                | Status::Returned
        )
    }

    /// The unit still owes its reply (dispatched or in progress).
    pub fn reply_open(self) -> bool {
        matches!(self, Status::Dispatched | Status::InProgress)
    }

    /// The unit still owes its signature (dispatched).
    pub fn sign_open(self) -> bool {
        self == Status::Dispatched
    }
}

/// Whether a case is overdue on `today` (Asia/Shanghai): the reply deadline has passed
/// while the reply is owed, or the sign deadline while the signature is owed
/// ([`crate::is_overdue`] on each open deadline). The aggregate, the complaint view and
/// the deadline board all decide with this function.
pub fn is_overdue(
    status: Status,
    sign_due: Option<chrono::NaiveDate>,
    reply_due: Option<chrono::NaiveDate>,
    today: chrono::NaiveDate,
) -> bool {
    let past = |due: Option<chrono::NaiveDate>| due.is_some_and(|d| crate::is_overdue(d, today));
    (status.reply_open() && past(reply_due)) || (status.sign_open() && past(sign_due))
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a case was closed (办结).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosedBecause {
    /// The follow-up visit found the reporter satisfied.
    Satisfied,
    /// An anonymous case closes on reply: there is nobody to visit.
    AnonymousReplied,
}

/// A pending extension request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingExtension {
    /// Working days asked for, added to the reply deadline if approved.
    pub working_days: u32,
    /// The unit's reason.
    pub reason: String,
}

/// Which time limit a deadline was first counted with (looked up again in the
/// services' [`TimeLimits`] when a provisional deadline is recomputed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineLimit {
    /// `sign_working_days`, from the dispatch day.
    Sign,
    /// The category's reply limit, from the dispatch day.
    Reply,
    /// `reopen_working_days`, from the day of the unsatisfied visit.
    Reopen,
}

/// How an open deadline was computed, so that a provisional one can be counted again
/// the same way once its year's schedule is loaded: `limit` working days after `from`,
/// then each approved extension's working days after the previous due day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineBasis {
    /// The triggering day (Asia/Shanghai); counting starts the day after.
    pub from: chrono::NaiveDate,
    /// The time limit of the first count.
    pub limit: DeadlineLimit,
    /// Approved extensions, in working days, in order.
    #[serde(default)]
    pub extensions: Vec<u32>,
}

/// Write-side state: only what the rules need.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Complaint {
    /// The lifecycle status; `New` until filed.
    pub status: Status,
    /// Decides the reply time limit at dispatch.
    pub category: Option<Category>,
    /// Anonymous cases close on reply (nobody to visit).
    pub anonymous: bool,
    /// The unit the case is dispatched to (cleared on return).
    pub unit: Option<CreditCode>,
    /// Sign (签收) deadline of the current dispatch.
    pub sign_due: Option<Deadline>,
    /// Reply (答复) deadline: set on dispatch, moved by an approved extension, reset by a
    /// reopening.
    pub reply_due: Option<Deadline>,
    /// The extension request awaiting a supervisor's decision, if any.
    pub pending_extension: Option<PendingExtension>,
    /// Time of the last event applied.
    pub last_event_at: Option<DateTime<Utc>>,
    /// The case this one was merged into (并单).
    pub merged_into: Option<String>,
    /// How many times the case was supervised (督办).
    pub supervisions: u32,
    /// Id of the key that sealed the reporter block (none for anonymous cases).
    pub reporter_key: Option<String>,
    /// The reporter's data was erased (its key destroyed).
    pub reporter_erased: bool,
    /// The sign due day already marked overdue (`SignOverdue`) in this dispatch.
    pub sign_overdue_marked: Option<chrono::NaiveDate>,
    /// The reply due day already marked overdue (`ReplyOverdue`) in this handling round.
    pub reply_overdue_marked: Option<chrono::NaiveDate>,
    /// The sign due day already reminded (`DeadlineDueSoon`) in this dispatch.
    pub sign_reminded: Option<chrono::NaiveDate>,
    /// The reply due day already reminded (`DeadlineDueSoon`) in this handling round.
    pub reply_reminded: Option<chrono::NaiveDate>,
    /// How the current sign deadline was computed (for `RecomputeProvisionalDeadlines`).
    pub sign_basis: Option<DeadlineBasis>,
    /// How the current reply deadline was computed (for `RecomputeProvisionalDeadlines`).
    pub reply_basis: Option<DeadlineBasis>,
    /// The body complained about or reported on, as filed.
    pub subject_code: Option<CreditCode>,
    /// The cases merged into this one (`ComplaintMergedIn`), in order.
    pub merged_from: Vec<String>,
}
