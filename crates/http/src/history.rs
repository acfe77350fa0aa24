//! Audited histories and the access log (auditors).
//!
//! - `GET /api/v1/history/{aggregate_type}/{id}` (auditor, supervisor): the events of any
//!   aggregate in the log, personal blocks masked, paged by sequence, optionally only
//!   those recorded at or before `as_of`. `GET /api/v1/complaints/{id}/history` is the
//!   same read ([`read_history`]) with the type fixed to `complaint`.
//! - Every history read is recorded FIRST, as a `HistoryRead` event in the access log of
//!   the aggregate read (`access_log` aggregate `<aggregate_type>-<id>`), with the purpose
//!   from `X-Purpose` (or `?purpose=`; default `audit`).
//! - `GET /api/v1/audit/bundles/{aggregate_type}/{id}` (auditor): a verifiable bundle
//!   of the aggregate (`probity_audit::export_bundle`), the export recorded FIRST as a
//!   `BundleExported` event in the aggregate's access log.
//! - `GET /api/v1/access-log` (auditor): the recorded accesses (personal-data reads and
//!   history reads) across cases, newest first, straight from the log.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use probity_domain::access::AccessEvent;
use probity_store::StoredEvent;
use probity_views::ComplaintView;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Auth, Role};
use crate::complaints::page_limit;
use crate::error::ApiError;
use crate::extract::{ApiQuery, RequestCtx};
use crate::AppState;
use probity_app::access::HistoryRequest;

/// Aggregate type of the per-case access logs in the event log.
pub const ACCESS_LOG: &str = "access_log";
/// Purpose recorded when the reader gives none.
pub const DEFAULT_PURPOSE: &str = "audit";
/// Longest accepted purpose, in characters.
pub const MAX_PURPOSE_CHARS: usize = 200;

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/history/{aggregate_type}/{id}", get(aggregate_history))
        .route("/access-log", get(access_log_list))
        .route("/audit/bundles/{aggregate_type}/{id}", get(audit_bundle))
}

// ---------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------

/// One event of an aggregate's history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryItem {
    pub sequence: i64,
    pub position: i64,
    pub event_type: String,
    pub event_version: String,
    pub recorded_at: DateTime<Utc>,
    /// Token id of whoever issued the command.
    pub actor: Option<String>,
    /// The clock offset (`PROBITY_CLOCK_OFFSET`, e.g. `+30d`) of the server that recorded
    /// the event, absent when it ran on the real clock: its times are a drill's, not
    /// the real ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_offset: Option<String>,
    /// The event's fields, personal blocks replaced by `{"key_id", "sealed": true}`.
    #[schema(value_type = Object)]
    pub data: Value,
}

/// A page of an aggregate's history. For a complaint read with `as_of`, `view` is the
/// case as it stood at that instant (null if it did not exist yet) and `items` are the
/// events up to it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryPage {
    pub items: Vec<HistoryItem>,
    pub next_cursor: Option<String>,
    /// Present only with `as_of`, on complaints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view: Option<Option<ComplaintView>>,
}

/// History parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// RFC 3339 instant: only events recorded at or before it (plus, for a complaint,
    /// the view then).
    #[param(format = DateTime)]
    pub as_of: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The last sequence of the previous page.
    #[param(pattern = "^[0-9]{1,18}$")]
    pub cursor: Option<String>,
    /// Why the history is read (recorded in the access log); `X-Purpose` wins. Default
    /// `audit`.
    #[param(max_length = 200, pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*$")]
    pub purpose: Option<String>,
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
    /// `PersonalDataRead` (the reporter block), `HistoryRead` (an event history) or
    /// `BundleExported` (a verifiable bundle).
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

// ---------------------------------------------------------------------------------------
// Extractors and helpers
// ---------------------------------------------------------------------------------------

/// The `{aggregate_type}/{id}` path segments.
#[derive(Debug, Clone)]
pub struct AggregateRef {
    pub aggregate_type: String,
    pub id: String,
}

impl<S: Send + Sync> FromRequestParts<S> for AggregateRef {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path((aggregate_type, id)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound("no such aggregate".into()))?;
        let fits = |s: &str| !s.is_empty() && s.len() <= 100;
        if !fits(&aggregate_type) || !fits(&id) {
            return Err(ApiError::NotFound("no such aggregate".into()));
        }
        Ok(AggregateRef { aggregate_type, id })
    }
}

/// The `X-Purpose` request header, if any (UTF-8).
#[derive(Debug, Clone, Default)]
pub struct PurposeHeader(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for PurposeHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.headers.get("x-purpose") {
            None => Ok(PurposeHeader(None)),
            Some(v) => String::from_utf8(v.as_bytes().to_vec())
                .map(|s| PurposeHeader(Some(s)))
                .map_err(|_| ApiError::field("X-Purpose", "invalid", "X-Purpose must be UTF-8")),
        }
    }
}

/// The purpose to record: the header, else the query parameter, else `audit`. A blank
/// value is no value; each value given is checked, whichever is used.
fn purpose(header: Option<String>, query: Option<String>) -> Result<String, ApiError> {
    let check = |field: &str, given: Option<String>| -> Result<Option<String>, ApiError> {
        let Some(given) = given.map(|g| g.trim().to_string()) else {
            return Ok(None);
        };
        if given.is_empty() {
            return Ok(None);
        }
        if given.chars().count() > MAX_PURPOSE_CHARS || given.chars().any(char::is_control) {
            return Err(ApiError::field(
                field,
                "invalid",
                format!("the purpose must be at most {MAX_PURPOSE_CHARS} printable characters"),
            ));
        }
        Ok(Some(given))
    };
    let header = check("X-Purpose", header)?;
    let query = check("purpose", query)?;
    Ok(header
        .or(query)
        .unwrap_or_else(|| DEFAULT_PURPOSE.to_string()))
}

pub(crate) fn parse_as_of(as_of: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    as_of
        .map(|t| {
            DateTime::parse_from_rfc3339(t.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    ApiError::field("as_of", "invalid", "as_of must be an RFC 3339 timestamp")
                })
        })
        .transpose()
}

fn parse_cursor(cursor: Option<&str>) -> Result<Option<i64>, ApiError> {
    cursor
        .map(|c| {
            c.parse().ok().filter(|n: &i64| *n >= 0).ok_or_else(|| {
                ApiError::field("cursor", "invalid", "not a cursor this list returned")
            })
        })
        .transpose()
}

/// The id of the access-log aggregate of a case: `<aggregate_type>-<id>`.
pub use probity_app::access::access_log_id;

/// The history read shared by `GET /history/{aggregate_type}/{id}` and
/// `GET /complaints/{id}/history`: authorises, checks the aggregate exists (404
/// otherwise), records the read in the access log FIRST, then reads and pages the events.
pub(crate) async fn read_history(
    state: &AppState,
    ctx: &RequestCtx,
    auth: &Auth,
    aggregate_type: &str,
    id: &str,
    q: HistoryQuery,
    purpose_header: Option<String>,
) -> Result<HistoryPage, ApiError> {
    auth.require(&[Role::Auditor, Role::Supervisor])?;
    let limit = page_limit(q.limit)? as usize;
    let as_of = parse_as_of(q.as_of.as_deref())?;
    let after = parse_cursor(q.cursor.as_deref())?.unwrap_or(0);
    let purpose = purpose(purpose_header, q.purpose)?;
    // The application records the read FIRST, then reads this page only (one more event
    // than asked for tells whether there is a next one) and, with `as_of` on a
    // complaint, the view as it stood then.
    let request = HistoryRequest {
        after,
        limit,
        as_of,
    };
    let page = state
        .app
        .read_history(
            AppState::command(auth, ctx),
            aggregate_type,
            id,
            purpose,
            request,
        )
        .await?;
    let mut rest = page.events.iter();
    let items: Vec<HistoryItem> = rest.by_ref().take(limit).map(history_item).collect();
    let next_cursor = if rest.next().is_some() {
        items.last().map(|i| i.sequence.to_string())
    } else {
        None
    };
    Ok(HistoryPage {
        items,
        next_cursor,
        view: page.view,
    })
}

/// One stored event as a history item: its fields, personal blocks masked.
pub fn history_item(e: &StoredEvent) -> HistoryItem {
    let mut data = StoredEvent::wire_payload(&e.payload);
    // cqrs-es stores `{"<EventType>": {fields}}`: show the fields.
    if let Value::Object(map) = &mut data {
        if map.len() == 1 {
            if let Some(inner) = map.remove(&e.event_type) {
                data = inner;
            }
        }
    }
    HistoryItem {
        sequence: e.sequence,
        position: e.position,
        event_type: e.event_type.clone(),
        event_version: e.event_version.clone(),
        recorded_at: e.recorded_at,
        actor: e
            .metadata
            .get("actor")
            .and_then(Value::as_str)
            .map(str::to_string),
        clock_offset: e
            .metadata
            .get(probity_store::CLOCK_OFFSET)
            .and_then(Value::as_str)
            .map(str::to_string),
        data,
    }
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

// ---------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------

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
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
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
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
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
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "audit_not_ready: no signed checkpoint covers this aggregate yet", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
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

use crate::error::Problem;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purpose_comes_from_the_header_then_the_query_then_the_default() {
        assert_eq!(
            purpose(Some("稽查".into()), Some("q".into())).unwrap(),
            "稽查"
        );
        assert_eq!(purpose(None, Some(" q ".into())).unwrap(), "q");
        assert_eq!(purpose(None, None).unwrap(), "audit");
        assert_eq!(purpose(Some("  ".into()), None).unwrap(), "audit");
        assert!(purpose(Some("x".repeat(201)), None).is_err());
        assert!(purpose(None, Some("a\nb".into())).is_err());
        // A blank header is no header: the query's purpose is used (and checked).
        assert_eq!(purpose(Some(" ".into()), Some("q".into())).unwrap(), "q");
        assert!(purpose(Some("".into()), Some("a\nb".into())).is_err());
        // Each value given is checked, even the one not used.
        assert!(purpose(Some("ok".into()), Some("x".repeat(201))).is_err());
    }

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
