//! Open data for third-party evaluators (§3 of the city's opinions, `evaluator` role):
//! `GET /api/v1/open-data/records`, what the public disclosure shows, and
//! `GET /api/v1/open-data/commitments`, the published commitments with their fulfilment,
//! in bulk, as NDJSON
//! (`application/x-ndjson`, the default) or CSV (`text/csv`, written by the `csv` crate)
//! as `Accept` asks, incremental with `since`.
//!
//! The pull is recorded in the access log first (`OpenDataRead`), its cursor is fixed
//! before the first line and sent in the `Probity-Cursor` header and as the `Link` with
//! `rel="next"`; the lines follow, read from the views a page at a time while they are
//! written ([`probity_app::open_data`]), so the memory a pull holds does not grow with
//! its size. Each line is an `upsert` (the public form of a record) or a `delete` (its id:
//! the record is not, or no longer, shown); a commitment line is always an `upsert`.
//! See [`probity_views::open_data`].

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::StreamExt as _;
use probity_app::open_data::{commitment_lines, record_lines, Pull, COMMITMENTS, RECORDS};
use probity_views::open_data::{CommitmentLine, OpenDataCursor, RecordChange};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::{Auth, Role};
use crate::error::ApiError;
use crate::extract::{ApiQuery, RequestCtx};
use crate::history::{purpose, PurposeHeader};
use crate::problems::{Denied, Unprocessable};
use crate::AppState;

/// The purpose recorded when the request names none.
pub const OPEN_DATA_PURPOSE: &str = "open_data";

/// The header carrying the cursor of the next pull.
pub const CURSOR_HEADER: &str = "probity-cursor";

/// NDJSON, one JSON object a line.
pub const NDJSON: &str = "application/x-ndjson";

/// CSV with a header row (RFC 4180).
pub const CSV: &str = "text/csv; charset=utf-8";

/// The columns of the records CSV, in order (a `delete` fills `op` and `id` alone).
pub const RECORD_COLUMNS: [&str; 12] = [
    "op",
    "id",
    "subject_code",
    "subject_name",
    "sector",
    "severity",
    "source",
    "source_ref",
    "decision_date",
    "summary",
    "published_until",
    "under_objection",
];

/// The columns of the commitments CSV, in order (`changes` holds the recorded changes
/// as a JSON array).
pub const COMMITMENT_COLUMNS: [&str; 11] = [
    "op",
    "id",
    "subject_code",
    "subject_name",
    "kind",
    "text",
    "due_date",
    "fulfilment",
    "made_at",
    "assessed_at",
    "changes",
];

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/open-data/records", get(open_data_records))
        .route("/open-data/commitments", get(open_data_commitments))
}

/// `GET /api/v1/open-data/records` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OpenDataQuery {
    /// The cursor a previous pull returned (its `Probity-Cursor` header): only what
    /// changed since. Absent: every record shown today. Anything else is 422.
    #[param(format = "open-data-cursor", max_length = 200)]
    pub since: Option<String>,
    /// Why the data is read (default `open_data`; the `X-Purpose` header wins).
    #[param(max_length = 200, pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*$")]
    pub purpose: Option<String>,
}

/// The format `Accept` asks for: CSV when it names `text/csv` (before any NDJSON),
/// otherwise NDJSON.
fn wants_csv(headers: &HeaderMap) -> bool {
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",")
        .to_ascii_lowercase();
    let position = |media: &str| accept.find(media);
    match (position("text/csv"), position("application/x-ndjson")) {
        (Some(csv), Some(ndjson)) => csv < ndjson,
        (Some(_), None) => true,
        _ => false,
    }
}

/// One line of a feed as NDJSON.
fn ndjson_line<T: serde::Serialize>(line: &T) -> Result<Vec<u8>, ApiError> {
    let mut line = serde_json::to_vec(line).map_err(ApiError::internal)?;
    line.push(b'\n');
    Ok(line)
}

/// One CSV row (the header row too).
fn csv_record<I, S>(fields: I) -> Result<Vec<u8>, ApiError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(fields).map_err(ApiError::internal)?;
    out.into_inner().map_err(ApiError::internal)
}

/// One line of the records feed as a CSV row.
fn csv_row(change: &RecordChange) -> Result<Vec<u8>, ApiError> {
    let row: Vec<String> = match change {
        RecordChange::Upsert(r) => vec![
            "upsert".into(),
            r.id.clone(),
            r.subject_code.clone(),
            r.subject_name.clone(),
            r.sector.clone(),
            r.severity.clone(),
            r.source.clone(),
            r.source_ref.clone(),
            r.decision_date.to_string(),
            r.summary.clone(),
            r.published_until.to_string(),
            r.under_objection.to_string(),
        ],
        RecordChange::Delete { id } => {
            let mut row = vec![String::new(); RECORD_COLUMNS.len()];
            row[0] = "delete".into();
            row[1] = id.clone();
            row
        }
    };
    csv_record(&row)
}

/// One line of the commitments feed as a CSV row.
fn commitment_csv_row(line: &CommitmentLine) -> Result<Vec<u8>, ApiError> {
    let CommitmentLine::Upsert(c) = line;
    let changes = serde_json::to_string(&c.changes).map_err(ApiError::internal)?;
    csv_record([
        "upsert".to_string(),
        c.id.clone(),
        c.subject_code.clone(),
        c.subject_name.clone(),
        c.kind.clone(),
        c.text.clone(),
        c.due_date.map(|d| d.to_string()).unwrap_or_default(),
        c.fulfilment.clone(),
        c.made_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        c.assessed_at
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default(),
        changes,
    ])
}

/// What the public disclosure shows, in bulk, for third-party evaluators (evaluator).
/// NDJSON or CSV as `Accept` asks; with `since`, only what changed since that pull
/// (`delete` lines for records no longer shown). The cursor of the next pull is in the
/// `Probity-Cursor` header and the `Link` header (`rel="next"`). Recorded in the access
/// log (`OpenDataRead`) before anything is sent.
#[utoipa::path(
    get, path = "/api/v1/open-data/records", tag = "open-data", operation_id = "open_data_records",
    params(
        ("X-Purpose" = Option<String>, Header, nullable = false, max_length = 200, pattern = "^[ -~]*$", description = "Why the data is read (default open_data)"),
        OpenDataQuery,
    ),
    responses(
        (status = 200, description = "One line per record: `{\"op\":\"upsert\", …public record}` or `{\"op\":\"delete\",\"id\":…}` (NDJSON), or the same as CSV with a header row (columns op,id,subject_code,subject_name,sector,severity,source,source_ref,decision_date,summary,published_until,under_objection)",
            headers(
                ("Probity-Cursor" = String, description = "The `since` of the next pull"),
                ("Link" = String, description = "`</api/v1/open-data/records?since=…>; rel=\"next\"`"),
            ),
            content(
                (String = "application/x-ndjson"),
                (String = "text/csv"),
            )),
        Denied, Unprocessable,
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "open_data_records", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn open_data_records(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    headers: HeaderMap,
    PurposeHeader(purpose_header): PurposeHeader,
    ApiQuery(q): ApiQuery<OpenDataQuery>,
) -> Result<Response, ApiError> {
    let pull = start_pull(&state, &ctx, &auth, purpose_header, q, RECORDS).await?;
    let csv = wants_csv(&headers);
    let lines = record_lines(state.app.views.clone(), pull).map(move |line| {
        let line = line.map_err(ApiError::from)?;
        if csv {
            csv_row(&line)
        } else {
            ndjson_line(&line)
        }
    });
    respond(pull, RECORDS, csv, &RECORD_COLUMNS, lines)
}

/// The published commitments (township public commitments and investment promises, as
/// `GET /public/commitments` lists them) with their fulfilment, in bulk, for third-party
/// evaluators (evaluator). NDJSON or CSV as `Accept` asks; with `since`, only the
/// commitments that changed since that pull (every line an `upsert`). The cursor of the
/// next pull is in the `Probity-Cursor` header and the `Link` header (`rel="next"`).
/// Recorded in the access log (`OpenDataRead`, data set `commitments`) before anything
/// is sent.
#[utoipa::path(
    get, path = "/api/v1/open-data/commitments", tag = "open-data", operation_id = "open_data_commitments",
    params(
        ("X-Purpose" = Option<String>, Header, nullable = false, max_length = 200, pattern = "^[ -~]*$", description = "Why the data is read (default open_data)"),
        OpenDataQuery,
    ),
    responses(
        (status = 200, description = "One line per published commitment: `{\"op\":\"upsert\", …public commitment}` (NDJSON), or the same as CSV with a header row (columns op,id,subject_code,subject_name,kind,text,due_date,fulfilment,made_at,assessed_at,changes; changes is a JSON array)",
            headers(
                ("Probity-Cursor" = String, description = "The `since` of the next pull"),
                ("Link" = String, description = "`</api/v1/open-data/commitments?since=…>; rel=\"next\"`"),
            ),
            content(
                (String = "application/x-ndjson"),
                (String = "text/csv"),
            )),
        Denied, Unprocessable,
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "open_data_commitments", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn open_data_commitments(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    headers: HeaderMap,
    PurposeHeader(purpose_header): PurposeHeader,
    ApiQuery(q): ApiQuery<OpenDataQuery>,
) -> Result<Response, ApiError> {
    let pull = start_pull(&state, &ctx, &auth, purpose_header, q, COMMITMENTS).await?;
    let csv = wants_csv(&headers);
    let lines = commitment_lines(state.app.views.clone(), pull).map(move |line| {
        let line = line.map_err(ApiError::from)?;
        if csv {
            commitment_csv_row(&line)
        } else {
            ndjson_line(&line)
        }
    });
    respond(pull, COMMITMENTS, csv, &COMMITMENT_COLUMNS, lines)
}

/// Checks the caller and the query, then records and starts a pull of `dataset`.
async fn start_pull(
    state: &AppState,
    ctx: &RequestCtx,
    auth: &Auth,
    purpose_header: Option<String>,
    q: OpenDataQuery,
    dataset: &str,
) -> Result<Pull, ApiError> {
    auth.require(&[Role::Evaluator])?;
    let since = q
        .since
        .as_deref()
        .map(|s| {
            s.parse::<OpenDataCursor>().map_err(|_| {
                ApiError::field(
                    "since",
                    "invalid",
                    "not a cursor a pull of this data set returned",
                )
            })
        })
        .transpose()?;
    let purpose = match purpose(purpose_header, q.purpose)? {
        p if p == crate::history::DEFAULT_PURPOSE => OPEN_DATA_PURPOSE.to_string(),
        p => p,
    };
    Ok(state
        .app
        .open_data_pull(AppState::command(auth, ctx), dataset, since, purpose)
        .await?)
}

/// The streamed answer of a pull: the CSV header row first (an empty CSV still has it),
/// then the lines, with the cursor headers.
fn respond<S>(
    pull: Pull,
    dataset: &str,
    csv: bool,
    columns: &[&str],
    lines: S,
) -> Result<Response, ApiError>
where
    S: futures::Stream<Item = Result<Vec<u8>, ApiError>> + Send + 'static,
{
    let cursor = pull.until.to_string();
    let head = if csv {
        csv_record(columns)?
    } else {
        Vec::new()
    };
    let lines = futures::stream::once(async move { Ok(head) })
        .chain(lines)
        .map(|line| line.map(bytes::Bytes::from))
        .inspect(|line| {
            if let Err(e) = line {
                tracing::error!(error = %e, "open data pull broken off");
            }
        });
    let body = Body::from_stream(lines);
    let link = format!("</api/v1/open-data/{dataset}?since={cursor}>; rel=\"next\"");
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if csv { CSV } else { NDJSON }),
    );
    h.insert(
        CURSOR_HEADER,
        HeaderValue::from_str(&cursor).map_err(ApiError::internal)?,
    );
    h.insert(
        header::LINK,
        HeaderValue::from_str(&link).map_err(ApiError::internal)?,
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
