//! Open data for third-party evaluators (§3 of the city's opinions, `evaluator` role):
//! `GET /api/v1/open-data/records`, what the public disclosure shows, and
//! `GET /api/v1/open-data/commitments`, the published commitments with their fulfilment,
//! and `GET /api/v1/open-data/assessments`, the public assessment rows of the periods
//! asked for (ADR 0031), in bulk, as NDJSON
//! (`application/x-ndjson`, the default) or CSV (`text/csv`, written by the `csv` crate)
//! as `Accept` asks, incremental with `since`.
//!
//! The pull is recorded in the access log first (`OpenDataRead`), its cursor is fixed
//! before the first line and sent in the `Probity-Cursor` header and as the `Link` with
//! `rel="next"`; the lines follow, read from the views a page at a time while they are
//! written ([`probity_app::open_data`]), so the memory a pull holds does not grow with
//! its size. Each line is an `upsert` (the public form of a record) or a `delete` (its id:
//! the record is not, or no longer, shown); a commitment line is always an `upsert`; an
//! assessment line is an `upsert` of a row keyed by period and subject code or a `delete`
//! of that key. See [`probity_views::open_data`] and
//! [`probity_views::open_data_assessments`].

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::StreamExt as _;
use probity_app::open_data::{
    assessment_lines, commitment_lines, record_lines, ASSESSMENTS, COMMITMENTS, RECORDS,
};
use probity_views::open_data::{CommitmentLine, OpenDataCursor, RecordChange};
use probity_views::open_data_assessments::{AssessmentCursor, AssessmentLine, PeriodScope};
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

/// The columns of the assessments CSV, in order: the fields of a public assessment row
/// (a `delete` fills `op`, `period` and `code` alone; no satisfaction rate is empty).
pub const ASSESSMENT_COLUMNS: [&str; 20] = [
    "op",
    "period",
    "code",
    "name",
    "kind",
    "parent_code",
    "score",
    "rank",
    "formula_version",
    "ordinary_records",
    "serious_records",
    "rectifications_on_time",
    "rectifications_overdue",
    "replies_on_time",
    "replies_late",
    "satisfaction_rate",
    "supervision_replies_on_time",
    "supervision_replies_late",
    "commitments_fulfilled",
    "commitments_breached",
];

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/open-data/records", get(open_data_records))
        .route("/open-data/commitments", get(open_data_commitments))
        .route("/open-data/assessments", get(open_data_assessments))
}

/// `GET /api/v1/open-data/assessments` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OpenDataAssessmentQuery {
    /// The periods: a year (`2027`) or a quarter (`2027-Q2`), several separated by
    /// commas (at most 40). Absent or blank: every year and quarter with assessment
    /// figures.
    #[param(
        max_length = 400,
        pattern = "^(?:[ \\t\\r\\n]*|[1-9][0-9]{3}(?:-[Qq][1-4])?(?: *, *[1-9][0-9]{3}(?:-[Qq][1-4])?)*)$"
    )]
    pub period: Option<String>,
    /// The cursor a previous pull of the same periods returned (its `Probity-Cursor`
    /// header): only the rows that changed since. Absent: every row. Anything else is 422.
    #[param(format = "open-data-cursor", max_length = 600)]
    pub since: Option<String>,
    /// Why the data is read (default `open_data`; the `X-Purpose` header wins).
    #[param(max_length = 200, pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*$")]
    pub purpose: Option<String>,
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
/// Each line of a feed as the client asked: a CSV row (`to_csv`) or an NDJSON line.
fn encoded<T, S>(
    lines: S,
    csv: bool,
    to_csv: fn(&T) -> Result<Vec<u8>, ApiError>,
) -> impl futures::Stream<Item = Result<Vec<u8>, ApiError>> + Send + 'static
where
    T: serde::Serialize + 'static,
    S: futures::Stream<Item = probity_app::AppResult<T>> + Send + 'static,
{
    lines.map(move |line| {
        let line = line.map_err(ApiError::from)?;
        if csv {
            to_csv(&line)
        } else {
            ndjson_line(&line)
        }
    })
}

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

/// One line of the assessments feed as a CSV row: each column the field of that name
/// of the line's JSON form (null: empty).
fn assessment_csv_row(line: &AssessmentLine) -> Result<Vec<u8>, ApiError> {
    let value = serde_json::to_value(line).map_err(ApiError::internal)?;
    csv_record(ASSESSMENT_COLUMNS.iter().map(|c| match &value[*c] {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }))
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
    let cursor = pull.until.to_string();
    let csv = wants_csv(&headers);
    let lines = encoded(record_lines(state.app.views.clone(), pull), csv, csv_row);
    respond(cursor, "", RECORDS, csv, &RECORD_COLUMNS, lines)
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
    let cursor = pull.until.to_string();
    let csv = wants_csv(&headers);
    let lines = encoded(
        commitment_lines(state.app.views.clone(), pull),
        csv,
        commitment_csv_row,
    );
    respond(cursor, "", COMMITMENTS, csv, &COMMITMENT_COLUMNS, lines)
}

/// The public assessment rows (what `GET /public/assessments?period=` shows: scores,
/// ranks, formula version and headline counts of every government and department), in
/// bulk, for third-party evaluators (evaluator), for the periods asked for (all with
/// figures when none is). NDJSON or CSV as `Accept` asks; with `since` (a cursor of a
/// pull of the same periods), only the rows that changed since, whatever changed them:
/// an event, a day passing (a reply or rectification turning late), a new formula, a
/// rank. Each line is an `upsert` of the row keyed by `period` and `code` or a `delete`
/// of that key. The cursor of the next pull is in the `Probity-Cursor` header and the
/// `Link` header (`rel="next"`). Recorded in the access log (`OpenDataRead`, data set
/// `assessments`) before anything is sent.
#[utoipa::path(
    get, path = "/api/v1/open-data/assessments", tag = "open-data", operation_id = "open_data_assessments",
    params(
        ("X-Purpose" = Option<String>, Header, nullable = false, max_length = 200, pattern = "^[ -~]*$", description = "Why the data is read (default open_data)"),
        OpenDataAssessmentQuery,
    ),
    responses(
        (status = 200, description = "One line per row: `{\"op\":\"upsert\", …public assessment row}` or `{\"op\":\"delete\",\"period\":…,\"code\":…}` (NDJSON), or the same as CSV with a header row (columns op,period,code,name,kind,parent_code,score,rank,formula_version,ordinary_records,serious_records,rectifications_on_time,rectifications_overdue,replies_on_time,replies_late,satisfaction_rate,supervision_replies_on_time,supervision_replies_late,commitments_fulfilled,commitments_breached)",
            headers(
                ("Probity-Cursor" = String, description = "The `since` of the next pull of the same periods"),
                ("Link" = String, description = "`</api/v1/open-data/assessments?since=…>; rel=\"next\"` (with `period` when the pull named periods)"),
            ),
            content(
                (String = "application/x-ndjson"),
                (String = "text/csv"),
            )),
        Denied, Unprocessable,
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "open_data_assessments", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn open_data_assessments(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    headers: HeaderMap,
    PurposeHeader(purpose_header): PurposeHeader,
    ApiQuery(q): ApiQuery<OpenDataAssessmentQuery>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Evaluator])?;
    let scope = PeriodScope::parse(q.period.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::field("period", "invalid", e))?;
    let since = parse_since::<AssessmentCursor>(q.since.as_deref())?;
    if since.as_ref().is_some_and(|c| c.scope != scope) {
        return Err(ApiError::field(
            "since",
            "invalid",
            "the cursor of a pull of other periods: pull with the periods it was handed out for",
        ));
    }
    let purpose = open_data_purpose(purpose_header, q.purpose)?;
    let pull = state
        .app
        .open_data_assessments_pull(
            AppState::command(&auth, &ctx),
            scope,
            since,
            &state.assessment,
            purpose,
        )
        .await?;
    let cursor = pull.until.to_string();
    // The next pull names the same periods (canonical form: sorted, once each).
    let periods = pull.until.scope.to_string();
    let next = match periods.as_str() {
        "" => String::new(),
        p => format!(
            "&period={}",
            form_urlencoded::byte_serialize(p.as_bytes()).collect::<String>()
        ),
    };
    let csv = wants_csv(&headers);
    let lines = encoded(
        assessment_lines(state.app.views.clone(), pull),
        csv,
        assessment_csv_row,
    );
    respond(cursor, &next, ASSESSMENTS, csv, &ASSESSMENT_COLUMNS, lines)
}

/// The `since` of a pull, parsed as a cursor of its data set (422 otherwise).
fn parse_since<C: std::str::FromStr>(since: Option<&str>) -> Result<Option<C>, ApiError> {
    since
        .map(|s| {
            s.parse::<C>().map_err(|_| {
                ApiError::field(
                    "since",
                    "invalid",
                    "not a cursor a pull of this data set returned",
                )
            })
        })
        .transpose()
}

/// The purpose a pull is recorded with (`open_data` unless the request names one).
fn open_data_purpose(
    purpose_header: Option<String>,
    purpose_query: Option<String>,
) -> Result<String, ApiError> {
    Ok(match purpose(purpose_header, purpose_query)? {
        p if p == crate::history::DEFAULT_PURPOSE => OPEN_DATA_PURPOSE.to_string(),
        p => p,
    })
}

/// Checks the caller and the query, then records and starts a pull of `dataset`.
async fn start_pull(
    state: &AppState,
    ctx: &RequestCtx,
    auth: &Auth,
    purpose_header: Option<String>,
    q: OpenDataQuery,
    dataset: &str,
) -> Result<probity_app::open_data::Pull, ApiError> {
    auth.require(&[Role::Evaluator])?;
    let since = parse_since::<OpenDataCursor>(q.since.as_deref())?;
    let purpose = open_data_purpose(purpose_header, q.purpose)?;
    Ok(state
        .app
        .open_data_pull(AppState::command(auth, ctx), dataset, since, purpose)
        .await?)
}

/// The streamed answer of a pull: the CSV header row first (an empty CSV still has it),
/// then the lines, with the cursor headers (`next`: more of the next pull's query, e.g.
/// `&period=2027`).
fn respond<S>(
    cursor: String,
    next: &str,
    dataset: &str,
    csv: bool,
    columns: &[&str],
    lines: S,
) -> Result<Response, ApiError>
where
    S: futures::Stream<Item = Result<Vec<u8>, ApiError>> + Send + 'static,
{
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
    let link = format!("</api/v1/open-data/{dataset}?since={cursor}{next}>; rel=\"next\"");
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
