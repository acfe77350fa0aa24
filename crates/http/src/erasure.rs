//! Erasure (crypto-shredding) as the API classifies its refusals. No route exposes an
//! erasure (`probity erase …` runs [`probity_app::erasure`] directly); this adapter
//! gives tools and the black-box suite the application's erasure with its error mapped
//! to the API's codes (404 `not_found`, 409 `invalid_transition`, 422
//! `validation_failed`).

use chrono::{DateTime, Utc};
pub use probity_app::erasure::{Erasure, ErasureParts};

use crate::error::ApiError;

/// [`probity_app::erasure::erase_reporter`], its error as the API reports it.
pub async fn erase_reporter(
    parts: ErasureParts<'_>,
    complaint_id: &str,
    reason: &str,
    actor: &str,
    at: DateTime<Utc>,
) -> Result<Erasure, ApiError> {
    probity_app::erasure::erase_reporter(parts, complaint_id, reason, actor, at)
        .await
        .map_err(ApiError::from)
}
