//! Every way a complaint command can be refused. Technical failures never appear here.

use chrono::NaiveDate;
use thiserror::Error;

use crate::calendar::CalendarError;
use crate::ids::CreditCode;

use super::{DeadlineKind, Status};

/// Why a complaint command was refused. `PartialEq` so tests assert the exact variant.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ComplaintError {
    /// The command is not allowed in the case's current status (HTTP 409 `invalid_transition`).
    #[error("cannot {action} a complaint that is {status}")]
    InvalidTransition {
        /// The verb refused, e.g. `"sign"`, `"request an extension for"`.
        action: &'static str,
        /// The status the case is in.
        status: Status,
    },
    /// The complaint was never filed (HTTP 404 `not_found`).
    #[error("complaint not found")]
    NotFound,
    /// Filing a complaint id that already exists.
    #[error("complaint already filed")]
    AlreadyFiled,
    /// A handler acted on a case dispatched to another unit (HTTP 403 `forbidden`).
    #[error("the case is assigned to another unit")]
    NotAssignedUnit,
    /// A field failed validation (HTTP 422 `validation_failed`).
    #[error("{field}: {message}")]
    Invalid {
        /// The API field name, e.g. `"title"`, `"working_days"`.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// An extension was requested after the reply deadline (HTTP 409 `invalid_transition`).
    #[error("an extension must be requested before the reply deadline")]
    ExtensionTooLate,
    /// An extension is already pending a decision (409 `invalid_transition`).
    #[error("an extension request is already pending")]
    ExtensionPending,
    /// No extension request is pending (409 `invalid_transition`).
    #[error("no extension request is pending")]
    NoExtensionPending,
    /// Supervision (督办) is only for an overdue case (409 `invalid_transition`).
    #[error("only an overdue case can be supervised")]
    NotOverdue,
    /// An anonymous case has no reporter data to erase (409 `invalid_transition`).
    #[error("an anonymous complaint has no reporter data to erase")]
    AnonymousReporter,
    /// The reporter's data was already erased (409 `invalid_transition`).
    #[error("the reporter's data is already erased")]
    ReporterAlreadyErased,
    /// A report (举报) cannot go to the unit it names or to a unit under it (信访工作条例
    /// art. 30: a report is never passed to the person or unit reported on; HTTP 409
    /// `reported_unit`).
    #[error(
        "a report is never dispatched to the unit it names ({reported}) or to a unit under it (信访工作条例 art. 30)"
    )]
    ReportedUnit {
        /// The unit the report names.
        reported: CreditCode,
    },
    /// The case to merge into is not open (replied, closed, declined) or is itself
    /// merged (HTTP 409 `merge_target_not_open`).
    #[error("a case can only be merged into an open case that is not itself merged; the case to merge into is {status}")]
    MergeTargetNotOpen {
        /// The status of the case to merge into.
        status: Status,
    },
    /// This case already records that case `from` was merged into it (409
    /// `invalid_transition`).
    #[error("case {from} is already recorded as merged into this case")]
    AlreadyMergedIn {
        /// The case merged in.
        from: String,
    },
    /// The working-day calendar has no data for a needed year (422 `calendar_missing`).
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    /// A deadline command (`MarkSignOverdue`, `MarkReplyOverdue`, `RemindDeadline`) has
    /// nothing to do (409 `invalid_transition`). The deadline engine takes each of these
    /// as "settled": someone else already did it, or there is nothing left to do.
    #[error(transparent)]
    Deadline(#[from] DeadlineRefusal),
}

/// Why a deadline command was refused: each deadline fires at most once per due day, and
/// only while it is open.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DeadlineRefusal {
    /// The deadline is not open: signed, replied, returned, closed, merged, declined or
    /// never dispatched.
    #[error("the {kind} deadline is not open")]
    NotOpen {
        /// Which deadline.
        kind: DeadlineKind,
    },
    /// This due day was already marked overdue.
    #[error("the {kind} deadline of {due} is already marked overdue")]
    AlreadyMarked {
        /// Which deadline.
        kind: DeadlineKind,
        /// The due day marked.
        due: NaiveDate,
    },
    /// The Asia/Shanghai date of the command is not after the (current) due day; after an
    /// approved extension this is the new one.
    #[error("the {kind} deadline of {due} has not passed yet")]
    NotYetDue {
        /// Which deadline.
        kind: DeadlineKind,
        /// The current due day.
        due: NaiveDate,
    },
    /// This due day was already reminded.
    #[error("the {kind} deadline of {due} was already reminded")]
    AlreadyReminded {
        /// Which deadline.
        kind: DeadlineKind,
        /// The due day reminded.
        due: NaiveDate,
    },
    /// A reminder after the due day: too late, marking it overdue takes over.
    #[error("the {kind} deadline of {due} has already passed")]
    Passed {
        /// Which deadline.
        kind: DeadlineKind,
        /// The due day that passed.
        due: NaiveDate,
    },
    /// `RecomputeProvisionalDeadlines`: no open deadline is provisional (none is open,
    /// or every open one is final, e.g. already recomputed).
    #[error("no open deadline is provisional")]
    NothingProvisional,
    /// `RecomputeProvisionalDeadlines`: counted again, the deadline is still provisional
    /// (it reaches a year whose schedule is not loaded yet); it stays as it is.
    #[error("the {kind} deadline is still provisional (due {due} on weekends alone)")]
    StillProvisional {
        /// Which deadline.
        kind: DeadlineKind,
        /// The due day counted again, still provisional.
        due: NaiveDate,
    },
    /// `RecomputeProvisionalDeadlines`: the time limits in force do not reproduce the
    /// stored provisional deadline on the calendar of its time (the policy changed, or
    /// the history is unusual): it is left for a person to decide, never guessed.
    #[error("the {kind} deadline of {due} cannot be reproduced under the limits in force")]
    NotReproducible {
        /// Which deadline.
        kind: DeadlineKind,
        /// The stored provisional due day.
        due: NaiveDate,
    },
}
