//! Audited histories: the read shared by `GET /api/v1/history/{aggregate_type}/{id}`
//! ([`crate::audit`]) and `GET /api/v1/complaints/{id}/history` ([`crate::complaints`]),
//! with the types and extractors they share.
//!
//! - The events of an aggregate in the log, personal blocks masked, paged by sequence,
//!   optionally only those recorded at or before `as_of` ([`read_history`]).
//! - Every history read is recorded FIRST, as a `HistoryRead` event in the access log of
//!   the aggregate read (`access_log` aggregate `<aggregate_type>-<id>`), with the purpose
//!   from `X-Purpose` (or `?purpose=`; default `audit`).

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use probity_store::StoredEvent;
use probity_views::ComplaintView;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Auth, Role};
use crate::complaints::page_limit;
use crate::error::ApiError;
use crate::extract::RequestCtx;
use crate::AppState;
use probity_app::access::HistoryRequest;

/// Aggregate type of the per-case access logs in the event log.
pub const ACCESS_LOG: &str = "access_log";
/// Purpose recorded when the reader gives none.
pub const DEFAULT_PURPOSE: &str = "audit";
/// Longest accepted purpose, in characters.
pub const MAX_PURPOSE_CHARS: usize = 200;

/// The audit routes and their types, by their former path (now [`crate::audit`]).
pub use crate::audit::{access_log_list, aggregate_history, audit_bundle, router};
pub use crate::audit::{AccessEntry, AccessLogPage, AccessLogQuery, BundleQuery, EXPORT_PURPOSE};

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
/// value is no value; each value given is checked, whichever is used, as given: a control
/// character anywhere is refused, at the ends too, and the length counts what was sent
/// (`trim` would take a trailing U+0085, line feed or space away; the schema's pattern
/// and `maxLength` see them).
pub(crate) fn purpose(header: Option<String>, query: Option<String>) -> Result<String, ApiError> {
    let check = |field: &str, given: Option<String>| -> Result<Option<String>, ApiError> {
        let Some(raw) = given else {
            return Ok(None);
        };
        let given = raw.trim().to_string();
        if !raw.chars().any(char::is_control) && given.is_empty() {
            return Ok(None);
        }
        if raw.chars().count() > MAX_PURPOSE_CHARS || raw.chars().any(char::is_control) {
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

pub(crate) fn parse_cursor(cursor: Option<&str>) -> Result<Option<i64>, ApiError> {
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
    let mut data = StoredEvent::wire_payload(&e.payload).into_owned();
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
        // At the ends too, where trimming would hide them (schemathesis sent `;²s\u{85}`).
        assert!(purpose(None, Some(";²s\u{85}".into())).is_err());
        assert!(purpose(None, Some("q\n".into())).is_err());
        assert!(purpose(None, Some("\t".into())).is_err());
        assert_eq!(purpose(None, Some("q\u{3000}".into())).unwrap(), "q");
        assert!(purpose(None, Some(format!("{} ", "x".repeat(200)))).is_err());
        // A blank header is no header: the query's purpose is used (and checked).
        assert_eq!(purpose(Some(" ".into()), Some("q".into())).unwrap(), "q");
        assert!(purpose(Some("".into()), Some("a\nb".into())).is_err());
        // Each value given is checked, even the one not used.
        assert!(purpose(Some("ok".into()), Some("x".repeat(201))).is_err());
    }
}
