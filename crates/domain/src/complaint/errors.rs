//! Every way a complaint command can be refused. Technical failures never appear here.

use thiserror::Error;

use crate::calendar::CalendarError;

use super::Status;

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
    /// The working-day calendar has no data for a needed year (422 `calendar_missing`).
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}
