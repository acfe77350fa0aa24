//! Dishonesty records (政务失信记录): recording a finding, the list and one record,
//! withdrawal and correction. Their publicity windows are computed by the application
//! for the reader's day.

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use probity_app::integrity::{NewRecord, RecordCorrection};
use probity_domain::integrity::{Offence, Sector, Severity, Source};
use probity_domain::record::RecordCommand;
use probity_views::integrity::{RecordFilter, RecordView, RECORD_TYPE};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Auth, Role};
use crate::complaints::page_limit;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, RequestCtx};
use crate::problems::{AlreadyExists, Denied, InvalidCreditCode, Unprocessable, VerbProblems};
pub(crate) use crate::resource::check_choice;
use crate::resource::{document_view, parse_code, respond, text_bodies, Creation, Verb};
use crate::AppState;

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/records", post(record_create).get(record_list))
        .route("/records/{id}", get(record_view))
        .route("/records/{id}/withdraw", post(record_withdraw))
        .route("/records/{id}/correct", post(record_correct))
        .route("/records/{id}/source-changed", post(record_source_changed))
}

/// `POST /api/v1/records`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRecord {
    /// The organisation it is about (give exactly one of `subject_code` and
    /// `civil_servant_id`).
    #[schema(value_type = Option<crate::schema::CreditCode>)]
    pub subject_code: Option<String>,
    /// The civil servant it is about (a registered civil servant's id).
    #[schema(max_length = 100)]
    pub civil_servant_id: Option<String>,
    #[schema(value_type = crate::schema::Source, example = "administrative_penalty")]
    pub source: Source,
    /// The source decision's reference (文书号); with `source`, unique. At most 200
    /// characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub source_ref: String,
    /// Not in the future.
    pub decision_date: NaiveDate,
    #[schema(value_type = crate::schema::Severity, example = "ordinary")]
    pub severity: Severity,
    #[schema(value_type = crate::schema::Sector, example = "general")]
    pub sector: Sector,
    /// At most 2000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub summary: String,
    /// The complaint that led to it (required when `source` is complaint).
    pub complaint_id: Option<String>,
    /// Publish a minor record (not published by default).
    #[serde(default)]
    pub publish: bool,
    /// Sector ban in years: procurement 1–3, bidding and PPP 1–5, none in other sectors.
    #[serde(default, deserialize_with = "crate::extract::whole_u32_opt")]
    #[schema(minimum = 1, maximum = 5)]
    pub ban_years: Option<u32>,
    /// The offence a court judgment convicted of (only with source `court_judgment`):
    /// `bribery` bars bidding for `ban_years` (1–5) whatever the sector (行贿犯罪档案查询).
    #[schema(value_type = Option<crate::schema::Offence>)]
    pub offence: Option<Offence>,
}

/// `POST /api/v1/records/{id}/correct`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectRecordBody {
    /// The upheld (correct or complete) objection the correction rests on.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub objection_id: String,
    /// At most 2000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub summary: Option<String>,
    #[schema(value_type = Option<crate::schema::Severity>)]
    pub severity: Option<Severity>,
    #[schema(value_type = Option<crate::schema::Sector>)]
    pub sector: Option<Sector>,
    pub decision_date: Option<NaiveDate>,
}

text_bodies! {
    /// `withdraw` of a record.
    RecordReasonBody {
        /// At most 2000 characters, not blank.
        reason: 2000
    }
}

/// `source-changed` of a record.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceChangedBody {
    /// The day the source decision was changed or revoked: not in the future, not
    /// before the record's decision date.
    pub changed_on: NaiveDate,
    /// What changed (the new decision's reference, the ruling). At most 2000
    /// characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub note: String,
}

/// A page of records.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordList {
    pub items: Vec<RecordView>,
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/records` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordListQuery {
    /// Credit code of the unit answering for the record (a handler sees its own only).
    #[param(value_type = Option<crate::schema::CreditCode>)]
    pub unit: Option<String>,
    #[param(value_type = Option<crate::schema::Sector>)]
    pub sector: Option<String>,
    #[param(value_type = Option<crate::schema::Severity>)]
    pub severity: Option<String>,
    #[param(value_type = Option<crate::schema::RecordStatus>)]
    pub status: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// A `next_cursor` this list returned (opaque); anything else is 422.
    #[param(format = "record-cursor")]
    pub cursor: Option<String>,
}

pub(crate) const SECTORS: [&str; 7] = [
    "general",
    "procurement",
    "bidding",
    "ppp",
    "investment",
    "debt",
    "township",
];
pub(crate) const SEVERITIES: [&str; 3] = ["minor", "ordinary", "serious"];

/// Record a dishonesty finding (supervisor). The id is derived from `source` and
/// `source_ref`, so the same decision is never recorded twice (409 `already_exists`).
#[utoipa::path(post, path = "/api/v1/records", tag = "records", operation_id = "record_create",
    request_body = CreateRecord, params(crate::schema::IdempotencyKeyHeader),
    responses((status = 201, body = RecordView), Denied, AlreadyExists, InvalidCreditCode),
    security(("bearer" = [])))]
#[tracing::instrument(name = "record_create", skip_all, fields(request_id = %c.ctx.request_id, actor = %c.auth.token_id, case_id))]
pub async fn record_create(c: Creation<CreateRecord>) -> Result<Response, ApiError> {
    c.auth.require(&[Role::Supervisor])?;
    let b = c.body.value.clone();
    let subject_code = match (b.subject_code.as_deref(), b.civil_servant_id.as_deref()) {
        (Some(code), None) => Some(parse_code("subject_code", code)?),
        _ => None,
    };
    let record = NewRecord {
        subject_code,
        civil_servant_id: b.civil_servant_id.filter(|_| b.subject_code.is_none()),
        source: b.source,
        source_ref: b.source_ref,
        decision_date: b.decision_date,
        severity: b.severity,
        sector: b.sector,
        summary: b.summary,
        complaint_id: b.complaint_id,
        publish: b.publish,
        ban_years: b.ban_years,
        offence: b.offence,
    };
    let app = &c.state.app;
    c.create("/api/v1/records", async |context| {
        app.record_dishonesty(context, record).await
    })
    .await
}

/// Records, newest decision first (supervisor, auditor; a handler sees its own unit's).
#[utoipa::path(get, path = "/api/v1/records", tag = "records", operation_id = "record_list",
    params(RecordListQuery),
    responses((status = 200, body = RecordList), Denied, Unprocessable),
    security(("bearer" = [])))]
#[tracing::instrument(name = "record_list", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn record_list(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    ApiQuery(q): ApiQuery<RecordListQuery>,
) -> Result<Json<RecordList>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Auditor, Role::Handler, Role::Intake])?;
    let limit = page_limit(q.limit)?;
    check_choice("sector", &q.sector, &SECTORS)?;
    check_choice("severity", &q.severity, &SEVERITIES)?;
    check_choice("status", &q.status, &["active", "withdrawn"])?;
    // A malformed `unit` is 422 for every role; a handler's list is its own unit's.
    let given = q
        .unit
        .as_deref()
        .map(|u| parse_code("unit", u))
        .transpose()?;
    let unit = match (&auth.role, given) {
        (Role::Handler, _) => Some(auth.handler_unit()?.as_str().to_string()),
        (_, given) => given.map(|u| u.as_str().to_string()),
    };
    let filter = RecordFilter {
        unit,
        sector: q.sector,
        severity: q.severity,
        status: q.status,
        // A bound supervisor lists only what is within its jurisdiction.
        within: probity_app::integrity::bound_supervisor(&auth).map(|u| u.as_str().to_string()),
    };
    let page = state
        .views
        .records(&filter, state.clock.today(), limit, q.cursor.as_deref())
        .await?;
    Ok(Json(RecordList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

document_view! {
    /// One record (supervisor, auditor, intake; a handler: its own unit's).
    record_view "/api/v1/records/{id}", tag = "records", id = "Record id", view = RecordView,
    type = RECORD_TYPE, roles = [Supervisor, Auditor, Intake, Handler]
}

/// Withdraw a record: its source decision was changed or revoked (supervisor).
#[utoipa::path(post, path = "/api/v1/records/{id}/withdraw", tag = "records", operation_id = "record_withdraw",
    request_body = RecordReasonBody, params(("id" = String, Path, description = "Record id"), crate::schema::IfMatchHeader),
    responses((status = 200, body = RecordView), VerbProblems),
    security(("bearer" = [])))]
#[tracing::instrument(name = "record_withdraw", skip_all, fields(request_id = %v.ctx.request_id, case_id = %v.id.0, actor = %v.auth.token_id))]
pub async fn record_withdraw(
    v: Verb,
    body: ApiJson<RecordReasonBody>,
) -> Result<Json<Value>, ApiError> {
    v.require(&[Role::Supervisor])?;
    let command = RecordCommand::WithdrawRecord {
        reason: body.value.reason,
        at: v.now(),
    };
    let app = &v.state.app;
    respond(
        app.record_command(v.command(), &v.id.0, v.if_match.0, command)
            .await?,
    )
}

/// Note that a record's source decision was changed or revoked (supervisor, with the
/// jurisdiction of ADR 0015): the recording authority owes the withdrawal within 3
/// working days (行政处罚法 art. 48), a `record_withdrawal` deadline on the board until
/// the record is withdrawn or corrected.
#[utoipa::path(post, path = "/api/v1/records/{id}/source-changed", tag = "records", operation_id = "record_source_changed",
    request_body = SourceChangedBody, params(("id" = String, Path, description = "Record id"), crate::schema::IfMatchHeader),
    responses((status = 200, body = RecordView), VerbProblems),
    security(("bearer" = [])))]
#[tracing::instrument(name = "record_source_changed", skip_all, fields(request_id = %v.ctx.request_id, case_id = %v.id.0, actor = %v.auth.token_id))]
pub async fn record_source_changed(
    v: Verb,
    body: ApiJson<SourceChangedBody>,
) -> Result<Json<Value>, ApiError> {
    v.require(&[Role::Supervisor])?;
    let command = RecordCommand::NoteSourceDecisionChanged {
        changed_on: body.value.changed_on,
        note: body.value.note,
        at: v.now(),
    };
    let app = &v.state.app;
    respond(
        app.record_command(v.command(), &v.id.0, v.if_match.0, command)
            .await?,
    )
}

/// Correct or complete a record after an upheld objection (supervisor).
#[utoipa::path(post, path = "/api/v1/records/{id}/correct", tag = "records", operation_id = "record_correct",
    request_body = CorrectRecordBody, params(("id" = String, Path, description = "Record id"), crate::schema::IfMatchHeader),
    responses((status = 200, body = RecordView), VerbProblems),
    security(("bearer" = [])))]
#[tracing::instrument(name = "record_correct", skip_all, fields(request_id = %v.ctx.request_id, case_id = %v.id.0, actor = %v.auth.token_id))]
pub async fn record_correct(
    v: Verb,
    body: ApiJson<CorrectRecordBody>,
) -> Result<Json<Value>, ApiError> {
    v.require(&[Role::Supervisor])?;
    let b = body.value;
    let correction = RecordCorrection {
        objection_id: b.objection_id,
        summary: b.summary,
        severity: b.severity,
        sector: b.sector,
        decision_date: b.decision_date,
    };
    let app = &v.state.app;
    respond(
        app.correct_record(v.command(), &v.id.0, v.if_match.0, correction)
            .await?,
    )
}
