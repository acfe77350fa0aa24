//! The application layer's error: why a use-case did not happen, typed, for every
//! adapter alike.
//!
//! A domain refusal keeps its aggregate's own error ([`AppError::Complaint`],
//! [`AppError::Repair`], …) so a caller can match the exact rule (the deadline engine
//! takes some refusals as "settled", the importer quarantines them with their reason);
//! the other variants say what went wrong around the domain: invalid input, a missing
//! aggregate, a caller outside its unit or authority, a stale `If-Match`, conflicts that
//! survived the retries, and technical failures of the store and the views.
//!
//! The HTTP adapter turns this into problem+json in one `From<AppError>` conversion;
//! the CLI prints it. Nothing here knows about HTTP statuses.

use probity_domain::access::AccessError;
use probity_domain::calendar_admin::CalendarAdminError;
use probity_domain::civil_servant::CivilServantError;
use probity_domain::commitment::CommitmentError;
use probity_domain::complaint::ComplaintError;
use probity_domain::debt_warning::DebtWarningError;
use probity_domain::objection::ObjectionError;
use probity_domain::record::RecordError;
use probity_domain::record_proposal::ProposalError;
use probity_domain::rectification::RectificationError;
use probity_domain::repair::RepairError;
use probity_domain::subject::SubjectError;
use probity_domain::supervision_item::SupervisionItemError;
use probity_domain::{CalendarError, IdError};
use probity_store::{ExecuteError, StoreError};
use probity_views::ViewError;

/// One problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldIssue {
    /// Path of the field (`reporter.identity_number`), parameter or header name.
    pub field: String,
    /// Machine-readable reason (`missing`, `invalid`, `too_long`, `not_found`, ...).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl FieldIssue {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Why a use-case did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The complaint refused the command.
    #[error(transparent)]
    Complaint(#[from] ComplaintError),
    /// The subject refused the command.
    #[error(transparent)]
    Subject(#[from] SubjectError),
    /// The civil servant refused the command.
    #[error(transparent)]
    CivilServant(#[from] CivilServantError),
    /// The dishonesty record refused the command.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The rectification refused the command.
    #[error(transparent)]
    Rectification(#[from] RectificationError),
    /// The credit repair refused the command.
    #[error(transparent)]
    Repair(#[from] RepairError),
    /// The objection refused the command.
    #[error(transparent)]
    Objection(#[from] ObjectionError),
    /// The commitment refused the command.
    #[error(transparent)]
    Commitment(#[from] CommitmentError),
    /// The supervision item refused the command.
    #[error(transparent)]
    SupervisionItem(#[from] SupervisionItemError),
    /// The record proposal refused the command.
    #[error(transparent)]
    Proposal(#[from] ProposalError),
    /// The debt warning refused the command.
    #[error(transparent)]
    DebtWarning(#[from] DebtWarningError),
    /// The calendar refused a holiday schedule (`probity calendar load`).
    #[error(transparent)]
    CalendarAdmin(#[from] CalendarAdminError),
    /// The access log refused to record a read (never expected: a bug).
    #[error("the access log refused a read record: {0}")]
    Access(#[from] AccessError),
    /// No working-day calendar for a year a deadline needs.
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    /// The input is invalid: one issue per field.
    #[error("{}", describe(.0))]
    Invalid(Vec<FieldIssue>),
    /// A unified social credit code in `field` does not check.
    #[error("invalid unified social credit code in {field}")]
    InvalidCreditCode { field: String, message: String },
    /// A resident identity number in `field` does not check.
    #[error("invalid identity number in {field}")]
    InvalidIdentityNumber { field: String },
    /// The aggregate (or the thing named) does not exist, or is not visible to the
    /// caller (a handler outside its unit, a bound supervisor outside its authority).
    #[error("{0}")]
    NotFound(String),
    /// The caller's role, unit or authority may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Creating something that exists already.
    #[error("{0}")]
    AlreadyExists(String),
    /// `If-Match` named a version that is not the current one (the precondition).
    #[error("If-Match named version {expected} but the current version is {current}")]
    VersionConflict { expected: usize, current: usize },
    /// Concurrent writers kept colliding after the executor's retries, or an identical
    /// request is still being processed.
    #[error("{0}")]
    Conflict(String),
    /// Another request with the same `Idempotency-Key` created first; nothing of this
    /// one was written (its caller answers with the stored response).
    #[error("another request with this Idempotency-Key was completed first")]
    IdempotencyKeyTaken,
    /// The event store failed.
    #[error("store error: {0}")]
    Store(#[from] StoreError),
    /// A database query failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A read model failed (or refused a cursor).
    #[error(transparent)]
    View(#[from] ViewError),
    /// An unexpected state (a bug): logged, never shown to a client.
    #[error("{0}")]
    Internal(String),
}

fn describe(issues: &[FieldIssue]) -> String {
    issues
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl AppError {
    /// Invalid input in one field.
    pub fn field(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        AppError::Invalid(vec![FieldIssue::new(field, code, message)])
    }

    /// An unexpected state; `context` is for the logs.
    pub fn internal(context: impl std::fmt::Display) -> Self {
        AppError::Internal(context.to_string())
    }

    /// Maps an identifier parse failure in `field`.
    pub fn from_id(field: &str, e: IdError) -> Self {
        match e {
            IdError::InvalidCreditCode(m) => AppError::InvalidCreditCode {
                field: field.to_string(),
                message: m,
            },
            IdError::InvalidIdentityNumber(_) => AppError::InvalidIdentityNumber {
                field: field.to_string(),
            },
        }
    }

    /// Whether a domain rule refused (as opposed to bad input, a missing aggregate, a
    /// conflict or a technical failure).
    pub fn is_domain_refusal(&self) -> bool {
        matches!(
            self,
            AppError::Complaint(_)
                | AppError::Subject(_)
                | AppError::CivilServant(_)
                | AppError::Record(_)
                | AppError::Rectification(_)
                | AppError::Repair(_)
                | AppError::Objection(_)
                | AppError::Commitment(_)
                | AppError::SupervisionItem(_)
                | AppError::Proposal(_)
                | AppError::DebtWarning(_)
                | AppError::CalendarAdmin(_)
        )
    }
}

impl<E> From<ExecuteError<E>> for AppError
where
    E: std::error::Error + Into<AppError>,
{
    fn from(e: ExecuteError<E>) -> Self {
        match e {
            ExecuteError::Domain(d) => d.into(),
            // `If-Match` named a version of an aggregate that has no event: it does not
            // exist, which is not a stale version.
            ExecuteError::VersionConflict { current: 0, .. } => {
                AppError::NotFound("nothing exists under this id".into())
            }
            ExecuteError::VersionConflict { expected, current } => {
                AppError::VersionConflict { expected, current }
            }
            ExecuteError::Conflict => {
                AppError::Conflict("concurrent changes kept conflicting; retry the request".into())
            }
            ExecuteError::IdempotencyKeyTaken => AppError::IdempotencyKeyTaken,
            ExecuteError::Store(s) => s.into(),
        }
    }
}

impl From<std::convert::Infallible> for AppError {
    fn from(e: std::convert::Infallible) -> Self {
        match e {}
    }
}

/// The result of a use-case.
pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_input_describes_every_field() {
        let e = AppError::Invalid(vec![
            FieldIssue::new("title", "missing", "title must not be empty"),
            FieldIssue::new("reporter", "missing", "reporter is required"),
        ]);
        assert_eq!(
            e.to_string(),
            "title: title must not be empty; reporter: reporter is required"
        );
    }

    #[test]
    fn a_domain_refusal_keeps_its_typed_rule() {
        let e: AppError = ExecuteError::Domain(ComplaintError::ReporterAlreadyErased).into();
        assert!(matches!(
            e,
            AppError::Complaint(ComplaintError::ReporterAlreadyErased)
        ));
        assert!(e.is_domain_refusal());
        let stale: AppError = ExecuteError::<ComplaintError>::VersionConflict {
            expected: 2,
            current: 3,
        }
        .into();
        assert!(!stale.is_domain_refusal());
    }

    #[test]
    fn a_version_of_an_aggregate_without_events_is_not_found() {
        let missing: AppError = ExecuteError::<ComplaintError>::VersionConflict {
            expected: 3,
            current: 0,
        }
        .into();
        assert!(matches!(missing, AppError::NotFound(_)), "{missing:?}");
    }
}
