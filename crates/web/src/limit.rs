//! The public rate limit over the public pages (ADR 0030): `/disclosure`,
//! `/subjects/{code}`, `/sector-lists…`, `/ranking` and `/restrictions` take one
//! request from the same per-client bucket as the API's public paths
//! (`probity_http::ratelimit`, settings `PROBITY_PUBLIC_RATE` / `PROBITY_PUBLIC_BURST`,
//! trusted proxies alike). Past it the answer is a page, not a problem document: HTML
//! 429 with `Retry-After`, before the handler reads a view.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use probity_http::{ApiError, AppState};

use crate::pages::error_page;

/// The middleware of the public pages' routes.
pub async fn limit_pages(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match state.rate_limit.check_request(&request) {
        Ok(()) => next.run(request).await,
        Err(retry_after_seconds) => {
            tracing::info!(
                retry_after_seconds,
                "rate limited a client of the public pages"
            );
            let mut response = error_page(
                ApiError::RateLimited {
                    retry_after_seconds,
                },
                None,
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
            response
        }
    }
}
