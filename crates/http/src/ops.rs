//! Operations endpoints: liveness, readiness, Prometheus metrics, and the OpenAPI
//! document.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::error::{ApiError, Problem};
use crate::AppState;

/// The routes of this module (at the root and under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/openapi.json", get(openapi))
}

/// `{"status": "ok"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// `{"status": "ready"}`, with `warnings` for the operator when there are any.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Ready {
    pub status: &'static str,
    /// Present when the server runs on a shifted clock (`PROBITY_CLOCK_OFFSET`, for
    /// drills): the shift, e.g. `+30d`, as every event it records carries it in its
    /// `clock_offset` metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_offset: Option<String>,
    /// Things to act on that do not stop the service, e.g. next year's official holiday
    /// schedule is not loaded (`probity calendar load`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", operation_id = "healthz",
    responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Store and bus reachable, projections caught up within the configured lag.
#[utoipa::path(get, path = "/readyz", tag = "operations", operation_id = "readyz",
    responses((status = 200, body = Ready), (status = 503, description = "not_ready", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(name = "readyz", skip_all)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Ready>, ApiError> {
    state.readiness.check().await.map_err(ApiError::NotReady)?;
    let mut warnings = state.readiness.warnings();
    let clock_offset = clock_offset(&state);
    if let Some(offset) = &clock_offset {
        warnings.push(clock_offset_warning(offset));
    }
    Ok(Json(Ready {
        status: "ready",
        clock_offset,
        warnings,
    }))
}

/// The server's clock offset as a label (`+30d`), `None` on the real clock.
fn clock_offset(state: &AppState) -> Option<String> {
    (!state.clock.offset.is_zero()).then(|| probity_store::clock_offset_label(state.clock.offset))
}

/// What `/readyz` and the start-up log say about a shifted clock.
pub fn clock_offset_warning(offset: &str) -> String {
    format!(
        "the clock is shifted by {offset} (PROBITY_CLOCK_OFFSET): every event this server \
         records carries clock_offset {offset} in its metadata; never run a production \
         server on a shifted clock"
    )
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "metrics",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations", operation_id = "openapi",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi() -> impl IntoResponse {
    Json(crate::openapi::ApiDoc::openapi())
}
