//! The one API error type and its one `IntoResponse`: every failure a client can see is
//! an `application/problem+json` document (RFC 9457) with a stable `code`.
//!
//! The application layer has its own error ([`AppError`], which keeps the domain's typed
//! refusals); `From<AppError>` below is the one place where it becomes an HTTP status and
//! a stable code (the store's, the views' and the audit crate's errors on the read paths
//! go through it too). Internal details (database errors, unexpected states) are logged
//! here and never shown.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use probity_app::{AppError, FieldIssue};
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
use probity_store::StoreError;
use probity_views::ViewError;
use serde::Serialize;
use utoipa::ToSchema;

/// One problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON path of the field (`reporter.identity_number`), query parameter or header name.
    pub field: String,
    /// Machine-readable reason (`unknown_field`, `missing`, `invalid`, `too_long`, ...).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl From<FieldIssue> for FieldError {
    fn from(issue: FieldIssue) -> Self {
        Self {
            field: issue.field,
            code: issue.code,
            message: issue.message,
        }
    }
}

impl FieldError {
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

/// The problem document (RFC 9457) every error response carries.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// URI naming the problem type (`https://probity.invalid/problems/<code>`).
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable error code (see the API conventions).
    pub code: String,
    pub errors: Vec<FieldError>,
    /// `repair_not_eligible` only: the first day an application can succeed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub possible_from: Option<chrono::NaiveDate>,
}

/// Every error the HTTP API returns. Each variant documents its status and `code`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 422 `validation_failed`: malformed JSON, unknown or missing fields, bad values.
    #[error("{detail}")]
    Validation {
        detail: String,
        errors: Vec<FieldError>,
    },
    /// 422 `invalid_credit_code`.
    #[error("invalid unified social credit code in {field}")]
    InvalidCreditCode { field: String, message: String },
    /// 422 `invalid_identity_number`.
    #[error("invalid identity number in {field}")]
    InvalidIdentityNumber { field: String },
    /// 404 `not_found`.
    #[error("{0}")]
    NotFound(String),
    /// 401 `unauthenticated`: missing or unknown bearer token.
    #[error("a valid bearer token is required")]
    Unauthenticated,
    /// 403 `forbidden`: the role or unit may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 409 `invalid_transition`: not allowed in the case's current state.
    #[error("{0}")]
    InvalidTransition(String),
    /// 412 `version_conflict`: `If-Match` named a version that is not the current one.
    #[error("{0}")]
    VersionConflict(String),
    /// 409 `conflict`: concurrent writers kept colliding after the retries, or an
    /// identical idempotent request is still being processed.
    #[error("{0}")]
    Conflict(String),
    /// 422 `idempotency_key_reused`: the key was used with another request body.
    #[error("the Idempotency-Key was already used with another request")]
    IdempotencyKeyReused,
    /// 413 `payload_too_large`.
    #[error("the request body exceeds {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 415 `unsupported_media_type`.
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    /// 422 `calendar_missing`: no working-day calendar for a year the deadline needs.
    #[error("{0}")]
    CalendarMissing(String),
    /// 405 `method_not_allowed`.
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    /// 409 `already_exists`: creating something that exists (a subject's code, a record
    /// of the same source decision, a civil servant with the same identity number).
    #[error("{0}")]
    AlreadyExists(String),
    /// 409 `repair_not_eligible`: a credit repair is too early or not allowed; carries
    /// the first day an application can succeed when there is one.
    #[error("{detail}")]
    RepairNotEligible {
        detail: String,
        possible_from: Option<chrono::NaiveDate>,
    },
    /// 409 `reported_unit`: a report (举报) cannot be dispatched to the unit it names or to
    /// a unit under it (信访工作条例 art. 30); the intake clerk dispatches elsewhere.
    #[error("{0}")]
    ReportedUnit(String),
    /// 409 `merge_target_not_open`: a case is merged only into an open case that is not
    /// itself merged.
    #[error("{0}")]
    MergeTargetNotOpen(String),
    /// 409 `assessment_exists`: the annual assessment of this civil servant and year is
    /// already recorded (one per year; the result on record is in the detail).
    #[error("{0}")]
    AssessmentExists(String),
    /// 409 `assessment_restricted`: a sanction bars this grade in this year (公务员考核规定
    /// （试行）art. 25: a warning bars excellent that year; 记过 to 撤职 bar any grade
    /// during the period; 开除 ends the service).
    #[error("{0}")]
    AssessmentRestricted(String),
    /// 409 `audit_not_ready`: no signed checkpoint covers this aggregate yet, so no
    /// verifiable bundle can be made (try again after the next checkpoint).
    #[error("{0}")]
    AuditNotReady(String),
    /// 503 `not_ready` with `Retry-After`: the readiness probe failed, or the database is
    /// unavailable ([`ApiError::unavailable`]).
    #[error("not ready: {0}")]
    NotReady(String),
    /// 429 `rate_limited`: this client address made more requests without a token than
    /// the public rate limit allows; `Retry-After` says when the next one will be taken.
    #[error("too many requests from this address; retry after {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    /// 500 `internal`: the message is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// A 422 `validation_failed` about one field.
    pub fn field(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let e = FieldError::new(field, code, message);
        ApiError::Validation {
            detail: format!("{}: {}", e.field, e.message),
            errors: vec![e],
        }
    }

    /// A 422 `validation_failed` listing every field error (the detail names each).
    pub fn validation(errors: Vec<FieldError>) -> Self {
        ApiError::Validation {
            detail: errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
            errors,
        }
    }

    /// An internal error; `context` is logged, not shown.
    pub fn internal(context: impl std::fmt::Display) -> Self {
        ApiError::Internal(context.to_string())
    }

    /// 503 `not_ready` for a database that is unreachable, going down or coming up: the
    /// cause is logged, the client is told to retry (`Retry-After`), with its
    /// `Idempotency-Key` when the request was a command whose outcome is unknown.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %cause, "database unavailable");
        ApiError::NotReady(
            "the database is unavailable (restarting or unreachable); retry the request, \
             with the same Idempotency-Key for a command"
                .into(),
        )
    }

    /// HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation { .. }
            | ApiError::InvalidCreditCode { .. }
            | ApiError::InvalidIdentityNumber { .. }
            | ApiError::IdempotencyKeyReused
            | ApiError::CalendarMissing(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::InvalidTransition(_)
            | ApiError::Conflict(_)
            | ApiError::AuditNotReady(_)
            | ApiError::AlreadyExists(_)
            | ApiError::ReportedUnit(_)
            | ApiError::MergeTargetNotOpen(_)
            | ApiError::AssessmentExists(_)
            | ApiError::AssessmentRestricted(_)
            | ApiError::RepairNotEligible { .. } => StatusCode::CONFLICT,
            ApiError::VersionConflict(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotReady(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable `code` of this error.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation { .. } => "validation_failed",
            ApiError::InvalidCreditCode { .. } => "invalid_credit_code",
            ApiError::InvalidIdentityNumber { .. } => "invalid_identity_number",
            ApiError::NotFound(_) => "not_found",
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::InvalidTransition(_) => "invalid_transition",
            ApiError::VersionConflict(_) => "version_conflict",
            ApiError::Conflict(_) => "conflict",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::CalendarMissing(_) => "calendar_missing",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::AuditNotReady(_) => "audit_not_ready",
            ApiError::AlreadyExists(_) => "already_exists",
            ApiError::RepairNotEligible { .. } => "repair_not_eligible",
            ApiError::ReportedUnit(_) => "reported_unit",
            ApiError::MergeTargetNotOpen(_) => "merge_target_not_open",
            ApiError::AssessmentExists(_) => "assessment_exists",
            ApiError::AssessmentRestricted(_) => "assessment_restricted",
            ApiError::NotReady(_) => "not_ready",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Internal(_) => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::Validation { .. } => "Validation failed",
            ApiError::InvalidCreditCode { .. } => "Invalid unified social credit code",
            ApiError::InvalidIdentityNumber { .. } => "Invalid identity number",
            ApiError::NotFound(_) => "Not found",
            ApiError::Unauthenticated => "Unauthenticated",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::InvalidTransition(_) => "Invalid transition",
            ApiError::VersionConflict(_) => "Version conflict",
            ApiError::Conflict(_) => "Conflict",
            ApiError::IdempotencyKeyReused => "Idempotency key reused",
            ApiError::PayloadTooLarge { .. } => "Payload too large",
            ApiError::UnsupportedMediaType => "Unsupported media type",
            ApiError::CalendarMissing(_) => "Working-day calendar missing",
            ApiError::MethodNotAllowed => "Method not allowed",
            ApiError::AuditNotReady(_) => "Audit not ready",
            ApiError::AlreadyExists(_) => "Already exists",
            ApiError::RepairNotEligible { .. } => "Repair not eligible",
            ApiError::ReportedUnit(_) => "Dispatch to the reported unit",
            ApiError::MergeTargetNotOpen(_) => "Merge target not open",
            ApiError::AssessmentExists(_) => "Assessment already recorded",
            ApiError::AssessmentRestricted(_) => "Assessment grade barred by a sanction",
            ApiError::NotReady(_) => "Not ready",
            ApiError::RateLimited { .. } => "Too many requests",
            ApiError::Internal(_) => "Internal error",
        }
    }

    /// The problem document a client sees.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let detail = match self {
            ApiError::Internal(_) => "an internal error occurred; it has been logged".to_string(),
            other => other.to_string(),
        };
        let errors = match self {
            ApiError::Validation { errors, .. } => errors.clone(),
            ApiError::InvalidCreditCode { field, message } => {
                vec![FieldError::new(
                    field.clone(),
                    "invalid_credit_code",
                    message.clone(),
                )]
            }
            ApiError::InvalidIdentityNumber { field } => vec![FieldError::new(
                field.clone(),
                "invalid_identity_number",
                "not a valid resident identity number",
            )],
            _ => Vec::new(),
        };
        Problem {
            type_: format!("https://probity.invalid/problems/{}", self.code()),
            title: self.title().to_string(),
            status: status.as_u16(),
            detail,
            code: self.code().to_string(),
            errors,
            possible_from: match self {
                ApiError::RepairNotEligible { possible_from, .. } => *possible_from,
                _ => None,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            ApiError::Internal(context) => tracing::error!(error = %context, "internal error"),
            ApiError::NotReady(reason) => tracing::warn!(reason = %reason, "not ready"),
            other => tracing::debug!(code = other.code(), "request refused"),
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the oversized body is never read: tell the client not to reuse
            // the connection, or its next request on it would fail mid-flight.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let ApiError::NotReady(_) = &self {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(NOT_READY_RETRY_AFTER_SECS),
            );
        }
        if let ApiError::RateLimited {
            retry_after_seconds,
        } = &self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The `Retry-After` of a 503 `not_ready`: a Postgres restart takes a few seconds.
pub const NOT_READY_RETRY_AFTER_SECS: u64 = 2;

impl From<AppError> for ApiError {
    /// What a client sees of every failure of a use-case: the status and stable code
    /// of the contract (`/work/shared/api-v1.md`) for each domain refusal, input error,
    /// missing aggregate, forbidden act, precondition or conflict; an unavailable
    /// database is 503 `not_ready` with `Retry-After`; other store, view and unexpected
    /// failures are 500 `internal` (logged, never shown).
    fn from(e: AppError) -> Self {
        match e {
            AppError::Complaint(e) => complaint(e),
            AppError::Subject(e) => subject(e),
            AppError::CivilServant(e) => civil_servant(e),
            AppError::Record(e) => record(e),
            AppError::Rectification(e) => rectification(e),
            AppError::Repair(e) => repair(e),
            AppError::Objection(e) => objection(e),
            AppError::Commitment(e) => commitment(e),
            AppError::SupervisionItem(e) => supervision_item(e),
            AppError::Proposal(e) => proposal(e),
            AppError::DebtWarning(e) => debt_warning(e),
            AppError::CalendarAdmin(e) => ApiError::InvalidTransition(e.to_string()),
            AppError::Access(e) => {
                ApiError::internal(format!("access log refused a read record: {e}"))
            }
            AppError::Calendar(e) => calendar(e),
            AppError::Invalid(issues) => {
                ApiError::validation(issues.into_iter().map(FieldError::from).collect())
            }
            AppError::InvalidCreditCode { field, message } => {
                ApiError::InvalidCreditCode { field, message }
            }
            AppError::InvalidIdentityNumber { field } => ApiError::InvalidIdentityNumber { field },
            AppError::NotFound(m) => ApiError::NotFound(m),
            AppError::Forbidden(m) => ApiError::Forbidden(m),
            AppError::AlreadyExists(m) => ApiError::AlreadyExists(m),
            AppError::VersionConflict { expected, current } => ApiError::VersionConflict(format!(
                "If-Match named version {expected} but the current version is {current}"
            )),
            AppError::Conflict(m) => ApiError::Conflict(m),
            AppError::IdempotencyKeyTaken => ApiError::Conflict(
                "a request with this Idempotency-Key was completed meanwhile; retry it".into(),
            ),
            AppError::Store(e) if e.is_unavailable() => ApiError::unavailable(e),
            AppError::Store(e) => ApiError::internal(e),
            AppError::Database(e) if probity_store::error::is_unavailable(&e) => {
                ApiError::unavailable(e)
            }
            AppError::Database(e) => ApiError::internal(e),
            AppError::View(ViewError::Store(e)) if e.is_unavailable() => ApiError::unavailable(e),
            AppError::View(ViewError::InvalidCursor) => {
                ApiError::field("cursor", "invalid", "not a cursor this list returned")
            }
            AppError::View(ViewError::Calendar(c)) => calendar(c),
            AppError::View(other) => ApiError::internal(other),
            AppError::Internal(context) => ApiError::Internal(context),
        }
    }
}

fn complaint(e: ComplaintError) -> ApiError {
    match e {
        ComplaintError::InvalidTransition { .. }
        | ComplaintError::ExtensionTooLate
        | ComplaintError::ExtensionPending
        | ComplaintError::NoExtensionPending
        | ComplaintError::NotOverdue
        | ComplaintError::AnonymousReporter
        | ComplaintError::ReporterAlreadyErased
        | ComplaintError::AlreadyMergedIn { .. }
        | ComplaintError::Deadline(_)
        | ComplaintError::AlreadyFiled => ApiError::InvalidTransition(e.to_string()),
        ComplaintError::NotFound => ApiError::NotFound("complaint not found".into()),
        ComplaintError::ReportedUnit { .. } => ApiError::ReportedUnit(e.to_string()),
        ComplaintError::MergeTargetNotOpen { .. } => ApiError::MergeTargetNotOpen(e.to_string()),
        ComplaintError::NotAssignedUnit => ApiError::Forbidden(e.to_string()),
        ComplaintError::Invalid { field, message } => ApiError::field(field, "invalid", message),
        ComplaintError::Calendar(c) => calendar(c),
    }
}

fn subject(e: SubjectError) -> ApiError {
    match e {
        SubjectError::AlreadyRegistered => ApiError::AlreadyExists(e.to_string()),
        SubjectError::Invalid { field, message } => ApiError::field(field, "invalid", message),
        SubjectError::NotFound => ApiError::NotFound(e.to_string()),
        SubjectError::AlreadyCounted { .. } | SubjectError::NotCounted { .. } => {
            ApiError::InvalidTransition(e.to_string())
        }
        SubjectError::RepairNotEligible {
            reason,
            possible_from,
        } => ApiError::RepairNotEligible {
            detail: match possible_from {
                Some(day) => format!("{reason}; a repair is possible from {day}"),
                None => reason,
            },
            possible_from,
        },
    }
}

fn civil_servant(e: CivilServantError) -> ApiError {
    match e {
        CivilServantError::AlreadyRegistered => ApiError::AlreadyExists(e.to_string()),
        CivilServantError::NotFound => ApiError::NotFound(e.to_string()),
        CivilServantError::AlreadyErased
        | CivilServantError::LeftService(_)
        | CivilServantError::SanctionAlreadyRevoked(_) => {
            ApiError::InvalidTransition(e.to_string())
        }
        CivilServantError::SanctionExists(_) => ApiError::AlreadyExists(e.to_string()),
        CivilServantError::AssessmentExists { .. } => ApiError::AssessmentExists(e.to_string()),
        CivilServantError::AssessmentRestricted { .. } => {
            ApiError::AssessmentRestricted(e.to_string())
        }
        CivilServantError::Invalid { field, message } => ApiError::field(field, "invalid", message),
    }
}

fn record(e: RecordError) -> ApiError {
    match e {
        RecordError::NotFound => ApiError::NotFound("record not found".into()),
        RecordError::AlreadyRecorded => ApiError::AlreadyExists(e.to_string()),
        RecordError::Withdrawn { .. }
        | RecordError::ObjectionNotUpheld(_)
        | RecordError::WithdrawalPending { .. }
        | RecordError::Deadline(_)
        | RecordError::NotRecomputable(_) => ApiError::InvalidTransition(e.to_string()),
        RecordError::Invalid { field, message } => ApiError::field(field, "invalid", message),
        RecordError::Calendar(c) => calendar(c),
    }
}

fn rectification(e: RectificationError) -> ApiError {
    match e {
        RectificationError::NotFound => ApiError::NotFound("rectification not found".into()),
        RectificationError::AlreadyOrdered => ApiError::AlreadyExists(e.to_string()),
        RectificationError::InvalidTransition { .. }
        | RectificationError::RecordWithdrawn
        | RectificationError::NotOverdue
        | RectificationError::AlreadyEscalated
        | RectificationError::AlreadyMitigated
        | RectificationError::NotRecomputable(_)
        | RectificationError::Reminder(_) => ApiError::InvalidTransition(e.to_string()),
        RectificationError::NotAssignedUnit => ApiError::Forbidden(e.to_string()),
        RectificationError::Invalid { field, message } => {
            ApiError::field(field, "invalid", message)
        }
        RectificationError::Calendar(c) => calendar(c),
    }
}

fn repair(e: RepairError) -> ApiError {
    match e {
        RepairError::NotFound => ApiError::NotFound("repair not found".into()),
        RepairError::AlreadyApplied => ApiError::AlreadyExists(e.to_string()),
        RepairError::InvalidTransition { .. } => ApiError::InvalidTransition(e.to_string()),
        RepairError::NotEligible {
            ref reason,
            possible_from,
        } => ApiError::RepairNotEligible {
            detail: match possible_from {
                Some(day) => format!("{reason}; a repair is possible from {day}"),
                None => reason.clone(),
            },
            possible_from,
        },
        RepairError::NotRecordUnit | RepairError::NotDecidingAuthority => {
            ApiError::Forbidden(e.to_string())
        }
        RepairError::Invalid { field, message } => ApiError::field(field, "invalid", message),
        RepairError::Calendar(c) => calendar(c),
        RepairError::Deadline(_) | RepairError::NotRecomputable(_) => {
            ApiError::InvalidTransition(e.to_string())
        }
    }
}

fn objection(e: ObjectionError) -> ApiError {
    match e {
        ObjectionError::NotFound => ApiError::NotFound("objection not found".into()),
        ObjectionError::AlreadyFiled => ApiError::AlreadyExists(e.to_string()),
        ObjectionError::InvalidTransition { .. }
        | ObjectionError::RecordWithdrawn
        | ObjectionError::AlreadyChecked => ApiError::InvalidTransition(e.to_string()),
        ObjectionError::NotRecordUnit | ObjectionError::NotDecidingAuthority => {
            ApiError::Forbidden(e.to_string())
        }
        ObjectionError::Invalid { field, message } => ApiError::field(field, "invalid", message),
        ObjectionError::Calendar(c) => calendar(c),
        ObjectionError::Deadline(_) | ObjectionError::NotRecomputable(_) => {
            ApiError::InvalidTransition(e.to_string())
        }
    }
}

fn proposal(e: ProposalError) -> ApiError {
    match e {
        ProposalError::NotFound => ApiError::NotFound("record proposal not found".into()),
        ProposalError::AlreadySubmitted => ApiError::AlreadyExists(e.to_string()),
        ProposalError::Decided(_) => ApiError::InvalidTransition(e.to_string()),
        ProposalError::Invalid { field, message } => ApiError::field(field, "invalid", message),
    }
}

fn commitment(e: CommitmentError) -> ApiError {
    match e {
        CommitmentError::NotFound => ApiError::NotFound("commitment not found".into()),
        CommitmentError::AlreadyMade => ApiError::AlreadyExists(e.to_string()),
        CommitmentError::InvalidTransition { .. } => ApiError::InvalidTransition(e.to_string()),
        CommitmentError::NotOwnUnit => ApiError::Forbidden(e.to_string()),
        CommitmentError::Invalid { field, message } => ApiError::field(field, "invalid", message),
    }
}

fn supervision_item(e: SupervisionItemError) -> ApiError {
    match e {
        SupervisionItemError::NotFound => ApiError::NotFound("supervision item not found".into()),
        SupervisionItemError::AlreadyAssigned => ApiError::AlreadyExists(e.to_string()),
        SupervisionItemError::InvalidTransition { .. } | SupervisionItemError::Deadline(_) => {
            ApiError::InvalidTransition(e.to_string())
        }
        SupervisionItemError::NotAssignedUnit => ApiError::Forbidden(e.to_string()),
        SupervisionItemError::SameUnit => ApiError::field(
            "unit",
            "invalid",
            "the item is already assigned to this unit".to_string(),
        ),
        SupervisionItemError::Invalid { field, message } => {
            ApiError::field(field, "invalid", message)
        }
        SupervisionItemError::Calendar(c) => calendar(c),
        SupervisionItemError::ExtensionTooLate
        | SupervisionItemError::ExtensionPending
        | SupervisionItemError::NoExtensionPending
        | SupervisionItemError::RehandlingNotExtended
        | SupervisionItemError::NotDissatisfied
        | SupervisionItemError::AlreadyRehandled
        | SupervisionItemError::NotRecomputable(_) => ApiError::InvalidTransition(e.to_string()),
        SupervisionItemError::ExtensionBeyondLimit { .. } => {
            ApiError::field("months", "out_of_range", e.to_string())
        }
    }
}

fn debt_warning(e: DebtWarningError) -> ApiError {
    match e {
        DebtWarningError::AlreadyRaised | DebtWarningError::NotRaised => {
            ApiError::InvalidTransition(e.to_string())
        }
        DebtWarningError::NoReasons => ApiError::field("reasons", "invalid", e.to_string()),
        DebtWarningError::OtherSubject => ApiError::field("subject_code", "invalid", e.to_string()),
    }
}

fn calendar(e: CalendarError) -> ApiError {
    ApiError::CalendarMissing(e.to_string())
}

impl From<probity_audit::AuditError> for ApiError {
    fn from(e: probity_audit::AuditError) -> Self {
        use probity_audit::AuditError;
        match e {
            // `export_bundle`: no signed checkpoint yet, or none covers the aggregate.
            AuditError::Other(detail) => ApiError::AuditNotReady(format!(
                "no signed checkpoint covers this aggregate yet: {detail}"
            )),
            AuditError::Store(e) => AppError::from(e).into(),
            AuditError::Sqlx(e) => AppError::from(e).into(),
            other => ApiError::internal(other),
        }
    }
}

/// Failures of the reads HTTP serves directly (the store, the views): mapped through
/// [`AppError`], so there is one mapping.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        AppError::from(e).into()
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        AppError::from(e).into()
    }
}

impl From<ViewError> for ApiError {
    fn from(e: ViewError) -> Self {
        AppError::from(e).into()
    }
}

impl ApiError {
    /// Maps an identifier parse failure in `field`.
    pub fn from_id(field: &str, e: IdError) -> Self {
        AppError::from_id(field, e).into()
    }
}
