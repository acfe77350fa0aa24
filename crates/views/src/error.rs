//! Errors of the read side: storage failures, a cursor the client made up or mangled,
//! and a calendar without data for a year the deadline board needs.

use probity_domain::calendar::CalendarError;
use probity_store::StoreError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ViewError {
    /// The database or a stored document failed (logged, never shown to a client).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The `cursor` is not one this server handed out (HTTP 422 `validation_failed`).
    #[error("invalid cursor")]
    InvalidCursor,
    /// The working-day calendar has no data for a year a deadline needs
    /// (HTTP 422 `calendar_missing`).
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

impl From<sqlx::Error> for ViewError {
    fn from(e: sqlx::Error) -> Self {
        ViewError::Store(StoreError::Database(e))
    }
}

impl From<serde_json::Error> for ViewError {
    fn from(e: serde_json::Error) -> Self {
        ViewError::Store(StoreError::Serde(e))
    }
}

impl From<crate::fold::DecodeError> for ViewError {
    fn from(e: crate::fold::DecodeError) -> Self {
        ViewError::Store(StoreError::from(e))
    }
}

impl From<crate::fold::DecodeError> for StoreError {
    fn from(e: crate::fold::DecodeError) -> Self {
        StoreError::Serde(e.source)
    }
}
