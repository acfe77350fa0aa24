//! Audit (auditors): the history of any aggregate, the access log, verifiable bundles.
//!
//! - `GET /api/v1/history/{aggregate_type}/{id}` (auditor, supervisor): the events of any
//!   aggregate in the log, personal blocks masked, paged by sequence, optionally only
//!   those recorded at or before `as_of`; the read is [`crate::history`]'s, recorded FIRST
//!   in the aggregate's access log.
//! - `GET /api/v1/audit/bundles/{aggregate_type}/{id}` (auditor): a verifiable bundle
//!   of the aggregate (`probity_audit::export_bundle`), the export recorded FIRST as a
//!   `BundleExported` event in the aggregate's access log.
//! - `GET /api/v1/access-log` (auditor): the recorded accesses (personal-data reads and
//!   history reads) across cases, newest first, straight from the log.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use probity_domain::access::AccessEvent;
use probity_store::StoredEvent;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Auth, Role};
use crate::complaints::page_limit;
use crate::error::ApiError;
use crate::extract::{ApiQuery, RequestCtx};
use crate::history::{access_log_id, parse_cursor, purpose, read_history, AggregateRef};
use crate::history::{HistoryPage, HistoryQuery, PurposeHeader, ACCESS_LOG, DEFAULT_PURPOSE};
use crate::problems::{AuditNotReady, Denied, NotFound, Unprocessable};
use crate::AppState;

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/history/{aggregate_type}/{id}", get(aggregate_history))
        .route("/access-log", get(access_log_list))
        .route("/audit/bundles/{aggregate_type}/{id}", get(audit_bundle))
}

/// `GET /api/v1/access-log` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccessLogQuery {
    /// Aggregate type of the cases, e.g. `complaint`.
    pub case_type: Option<String>,
    /// One case (needs `case_type`).
    pub case_id: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The last position of the previous page.
    #[param(pattern = "^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// One recorded access: who, in which role, when, what, why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccessEntry {
    /// Global position of the access event (the list's order, newest first).
    pub position: i64,
    /// `PersonalDataRead` (the reporter block), `HistoryRead` (an event history),
    /// `BundleExported` (a verifiable bundle) or `OpenDataRead` (a bulk read of open
    /// data: `case_type` `open_data`, `case_id` the data set).
    pub event_type: String,
    /// Aggregate type of the case accessed, e.g. `complaint`.
    pub case_type: String,
    /// Id of the case accessed.
    pub case_id: String,
    /// Token id of the reader.
    pub actor: String,
    pub role: String,
    pub purpose: String,
    /// When the access happened.
    pub at: DateTime<Utc>,
}

/// A page of the access log, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccessLogPage {
    pub items: Vec<AccessEntry>,
    pub next_cursor: Option<String>,
}

/// An access event of the log as an entry (`None` for an event it does not know).
fn access_entry(e: &StoredEvent) -> Option<AccessEntry> {
    let event: AccessEvent = serde_json::from_value(e.payload.clone()).ok()?;
    let (case_type, case_id, actor, role, purpose, at) = match event {
        AccessEvent::PersonalDataRead {
            case_type,
            case_id,
            actor,
            role,
            purpose,
            at,
        } => (case_type, case_id, actor, role, purpose, at),
        AccessEvent::HistoryRead {
            aggregate_type,
            aggregate_id,
            actor,
            role,
            purpose,
            at,
        }
        | AccessEvent::BundleExported {
            aggregate_type,
            aggregate_id,
            actor,
            role,
            purpose,
            at,
        } => (aggregate_type, aggregate_id, actor, role, purpose, at),
        AccessEvent::OpenDataRead {
            dataset,
            actor,
            role,
            purpose,
            at,
            ..
        } => (
            probity_app::open_data::OPEN_DATA.to_string(),
            dataset,
            actor,
            role,
            purpose,
            at,
        ),
    };
    Some(AccessEntry {
        position: e.position,
        event_type: e.event_type.clone(),
        case_type,
        case_id,
        actor,
        role,
        purpose,
        at,
    })
}

/// The events of any aggregate in the log, in order, personal blocks masked (auditor,
/// supervisor). Unknown type or id: 404. The read is recorded in the access log first.
#[utoipa::path(
    get, path = "/api/v1/history/{aggregate_type}/{id}", tag = "audit", operation_id = "aggregate_history",
    params(
        ("aggregate_type" = String, Path, description = "Aggregate type, e.g. complaint or access_log"),
        ("id" = String, Path, description = "Aggregate id"),
        ("X-Purpose" = Option<String>, Header, nullable = false, max_length = 200, pattern = "^[ -~]*$", description = "Why the history is read (default audit)"),
        HistoryQuery,
    ),
    responses(
        (status = 200, body = HistoryPage),
        Denied, NotFound, Unprocessable,
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "aggregate_history", skip_all, fields(request_id = %ctx.request_id, aggregate_type = %target.aggregate_type, aggregate_id = %target.id, actor = %auth.token_id))]
pub async fn aggregate_history(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    target: AggregateRef,
    PurposeHeader(purpose): PurposeHeader,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<HistoryPage>, ApiError> {
    read_history(
        &state,
        &ctx,
        &auth,
        &target.aggregate_type,
        &target.id,
        q,
        purpose,
    )
    .await
    .map(Json)
}

/// The recorded accesses (personal-data reads, history reads) across cases, newest
/// first (auditor). `case_type` narrows to one kind of case, `case_type` + `case_id` to
/// one case.
#[utoipa::path(
    get, path = "/api/v1/access-log", tag = "audit", operation_id = "access_log_list",
    params(AccessLogQuery),
    responses(
        (status = 200, body = AccessLogPage),
        Denied, Unprocessable,
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "access_log_list", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn access_log_list(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    ApiQuery(q): ApiQuery<AccessLogQuery>,
) -> Result<Json<AccessLogPage>, ApiError> {
    auth.require(&[Role::Auditor])?;
    let limit = page_limit(q.limit)? as usize;
    let before = parse_cursor(q.cursor.as_deref())?;
    let blank = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let (case_type, case_id) = (blank(&q.case_type), blank(&q.case_id));
    // One more than asked for tells whether there is a next page.
    let mut events = match (&case_type, &case_id) {
        (None, Some(_)) => {
            return Err(ApiError::field(
                "case_type",
                "missing",
                "case_id needs case_type",
            ))
        }
        (Some(t), Some(id)) => {
            let mut events = state
                .log
                .read_aggregate(ACCESS_LOG, &access_log_id(t, id), None)
                .await?;
            events.reverse();
            events
                .into_iter()
                .filter(|e| before.is_none_or(|b| e.position < b))
                .take(limit + 1)
                .collect()
        }
        (Some(t), None) => {
            state
                .log
                .read_type_newest_first(
                    ACCESS_LOG,
                    Some(&format!("{t}-")),
                    before,
                    limit as i64 + 1,
                )
                .await?
        }
        (None, None) => {
            state
                .log
                .read_type_newest_first(ACCESS_LOG, None, before, limit as i64 + 1)
                .await?
        }
    };
    let more = events.len() > limit;
    events.truncate(limit);
    let next_cursor = if more {
        events.last().map(|e| e.position.to_string())
    } else {
        None
    };
    let items = events.iter().filter_map(access_entry).collect();
    Ok(Json(AccessLogPage { items, next_cursor }))
}

/// Purpose recorded for a bundle export when the auditor gives none.
pub const EXPORT_PURPOSE: &str = "export";

/// `GET /api/v1/audit/bundles/{aggregate_type}/{id}` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BundleQuery {
    /// Why the bundle is exported (recorded in the access log); `X-Purpose` wins.
    /// Default `export`.
    #[param(max_length = 200, pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*$")]
    pub purpose: Option<String>,
}

/// A verifiable bundle of one aggregate (auditor): the file `probity audit
/// verify-bundle` checks offline. The export is recorded in the access log first, as
/// `BundleExported`. Unknown aggregate: 404; no signed checkpoint covering its events
/// yet: 409 `audit_not_ready`.
#[utoipa::path(
    get, path = "/api/v1/audit/bundles/{aggregate_type}/{id}", tag = "audit", operation_id = "audit_bundle",
    params(
        ("aggregate_type" = String, Path, description = "Aggregate type, e.g. complaint"),
        ("id" = String, Path, description = "Aggregate id"),
        ("X-Purpose" = Option<String>, Header, nullable = false, max_length = 200, pattern = "^[ -~]*$", description = "Why the bundle is exported (default export)"),
        BundleQuery,
    ),
    responses(
        (status = 200, description = "The bundle file (probity-audit-bundle/1, canonical JSON and a newline), as an attachment `<type>-<id>.bundle`", body = Object, content_type = "application/json"),
        Denied, NotFound, AuditNotReady, Unprocessable,
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "audit_bundle", skip_all, fields(request_id = %ctx.request_id, aggregate_type = %target.aggregate_type, aggregate_id = %target.id, actor = %auth.token_id))]
pub async fn audit_bundle(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    target: AggregateRef,
    PurposeHeader(purpose_header): PurposeHeader,
    ApiQuery(q): ApiQuery<BundleQuery>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Auditor])?;
    let purpose = match purpose(purpose_header, q.purpose)? {
        p if p == DEFAULT_PURPOSE => EXPORT_PURPOSE.to_string(),
        p => p,
    };
    let (aggregate_type, id) = (&target.aggregate_type, &target.id);
    state
        .app
        .record_export(AppState::command(&auth, &ctx), aggregate_type, id, purpose)
        .await?;
    let bundle = probity_audit::export_bundle(&state.db, aggregate_type, id).await?;
    let bytes = bundle.to_bytes()?;
    let disposition = format!("attachment; filename=\"{aggregate_type}-{id}.bundle\"");
    let disposition = HeaderValue::from_str(&disposition)
        .map_err(|_| ApiError::NotFound("no such aggregate".into()))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use probity_store::StoredEvent;
    use serde_json::Value;

    #[test]
    fn access_events_become_entries() {
        let at = Utc::now();
        let stored = |payload: Value, event_type: &str| StoredEvent {
            position: 7,
            tx_id: 7,
            aggregate_type: ACCESS_LOG.into(),
            aggregate_id: "complaint-c1".into(),
            sequence: 1,
            event_type: event_type.into(),
            event_version: "1".into(),
            payload,
            metadata: Value::Null,
            recorded_at: at,
        };
        let read = serde_json::to_value(AccessEvent::HistoryRead {
            aggregate_type: "complaint".into(),
            aggregate_id: "c1".into(),
            actor: "t1".into(),
            role: "auditor".into(),
            purpose: "audit".into(),
            at,
        })
        .unwrap();
        let entry = access_entry(&stored(read, "HistoryRead")).unwrap();
        assert_eq!(
            (
                entry.case_type.as_str(),
                entry.case_id.as_str(),
                entry.actor.as_str()
            ),
            ("complaint", "c1", "t1")
        );
        assert!(access_entry(&stored(serde_json::json!({"Other": {}}), "Other")).is_none());
    }
}
