//! The `Auth` extractor: the bearer token of a request, verified by the application
//! layer ([`probity_app::tokens`]: roles, creation, expiry and revocation, checked on
//! every request), becomes the [`Caller`] a handler authorises and hands to the
//! use-cases. An unknown, expired or revoked token is 401 `unauthenticated`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
pub use probity_app::tokens::{
    authenticate, count_tokens, create_token, create_token_expiring, Caller, Role, TokenError,
    TokenVerifier,
};

use crate::error::ApiError;
use crate::AppState;

/// The authenticated caller of a request.
pub type Auth = Caller;

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthenticated)?;
        let (scheme, token) = header
            .trim()
            .split_once(' ')
            .ok_or(ApiError::Unauthenticated)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(ApiError::Unauthenticated);
        }
        let auth = state
            .app
            .tokens
            .authenticate(&state.db, token.trim())
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        if auth.role == Role::Handler && auth.unit.is_none() {
            return Err(ApiError::Forbidden(
                "a handler token must be bound to a unit".into(),
            ));
        }
        Ok(auth)
    }
}
