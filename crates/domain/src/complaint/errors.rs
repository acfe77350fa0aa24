//! Every way a complaint command can be refused. Technical failures never appear here.

use thiserror::Error;

use crate::calendar::CalendarError;

use super::Status;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ComplaintError {
    /// The command is not allowed in the case's current status (HTTP 409 `invalid_transition`).
    #[error("cannot {action} a complaint that is {status}")]
    InvalidTransition { action: &'static str, status: Status },
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
    Invalid { field: &'static str, message: String },
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
    /// A case cannot be merged into itself (422 `validation_failed`).
    #[error("a case cannot be merged into itself")]
    MergeIntoSelf,
    /// The working-day calendar has no data for a needed year (422 `calendar_missing`).
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}
