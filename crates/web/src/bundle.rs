//! The auditor's bundle download from a case's timeline: the same verifiable file as
//! `GET /api/v1/audit/bundles/complaint/{id}` (`probity audit verify-bundle` checks it
//! offline), for the signed-in auditor, the export recorded in the case's access log
//! first (`BundleExported`, purpose `web bundle download`), as the API records it.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use probity_app::{CommandContext, Role};
use probity_http::extract::RequestCtx;
use probity_http::{ApiError, AppState};

use crate::pages::{error_page, require_session};

/// The purpose recorded for a download from the timeline.
pub const PURPOSE: &str = "web bundle download";

/// `GET /cases/{id}/bundle` (auditor): the case's bundle as an attachment. No checkpoint
/// covers the case yet: 409 `audit_not_ready`, shown as a page.
#[tracing::instrument(name = "web_bundle", skip_all, fields(request_id = %ctx.request_id, case_id = %id))]
pub async fn download(
    State(state): State<AppState>,
    ctx: RequestCtx,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = match require_session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let result = async {
        s.caller.require(&[Role::Auditor])?;
        state
            .app
            .record_export(
                CommandContext {
                    caller: &s.caller,
                    request_id: &ctx.request_id,
                    correlation_id: &ctx.correlation_id,
                    once: None,
                },
                "complaint",
                &id,
                PURPOSE.to_string(),
            )
            .await?;
        let bundle = probity_audit::export_bundle(&state.db, "complaint", &id).await?;
        let bytes = bundle.to_bytes()?;
        let disposition =
            HeaderValue::from_str(&format!("attachment; filename=\"complaint-{id}.bundle\""))
                .map_err(|_| ApiError::NotFound("no such case".into()))?;
        Ok::<_, ApiError>((disposition, bytes))
    }
    .await;
    match result {
        Ok((disposition, bytes)) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => error_page(e, Some(&s)),
    }
}
