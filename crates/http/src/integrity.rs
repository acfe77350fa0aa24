//! Integrity records (issue 3): subjects and civil servants, dishonesty records,
//! rectifications, credit repairs, objections and commitments, with the supervisors'
//! and auditors' reads (record list, archive, eligibility). The public disclosure is in
//! [`crate::public`].
//!
//! Handlers are thin: authorise the role, parse the body, call the application layer
//! ([`probity_app::integrity`]: it reads the facts another aggregate is decided on from
//! the log, runs the command and folds the aggregate's document), and map the answer.
//! Rules live in the domain; errors map in `error.rs`.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use probity_app::integrity::{acting_unit, decider, NewRecord, RecordCorrection};
use probity_domain::commitment::{CommitmentCommand, CommitmentKind, Fulfilment};
use probity_domain::integrity::{Sector, Severity, Source};
use probity_domain::objection::{Grounds, ObjectionCommand, ObjectionOutcome};
use probity_domain::record::RecordCommand;
use probity_domain::rectification::RectificationCommand;
use probity_domain::repair::RepairCommand;
use probity_domain::subject::SubjectKind;
use probity_domain::{CreditCode, IdentityNumber};
use probity_views::integrity::{
    Archive, CivilServantView, CommitmentView, Eligibility, IntegrityDoc, ObjectionView,
    RecordFilter, RecordView, RectificationView, RepairView, SubjectView, CIVIL_SERVANT_TYPE,
    COMMITMENT_TYPE, OBJECTION_TYPE, RECORD_TYPE, RECTIFICATION_TYPE, REPAIR_TYPE, SUBJECT_TYPE,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Auth, Role};
use crate::complaints::{page_limit, EmptyBody, ReasonBody};
use crate::error::{ApiError, Problem};
use crate::extract::{
    ApiJson, ApiQuery, CaseId, IdempotencyKey, IfMatch, OptionalJson, RequestCtx,
};
use crate::idempotency::{self, StoredResponse};
use crate::AppState;

pub use probity_app::integrity::{IntegrityCommands, CIVIL_SERVANT_KIND};
pub use probity_app::validate::MAX_NAME_CHARS;

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/subjects", post(subject_create))
        .route("/subjects/{id}", get(subject_view))
        .route("/subjects/{id}/archive", get(subject_archive))
        .route("/subjects/{id}/eligibility", get(subject_eligibility))
        .route("/civil-servants", post(civil_servant_create))
        .route("/civil-servants/{id}", get(civil_servant_view))
        .route("/records", post(record_create).get(record_list))
        .route("/records/{id}", get(record_view))
        .route("/records/{id}/withdraw", post(record_withdraw))
        .route("/records/{id}/correct", post(record_correct))
        .route("/rectifications", post(rectification_create))
        .route("/rectifications/{id}", get(rectification_view))
        .route(
            "/rectifications/{id}/file-explanation",
            post(rectification_file_explanation),
        )
        .route("/rectifications/{id}/report", post(rectification_report))
        .route("/rectifications/{id}/verify", post(rectification_verify))
        .route("/rectifications/{id}/reject", post(rectification_reject))
        .route(
            "/rectifications/{id}/mitigate",
            post(rectification_mitigate),
        )
        .route(
            "/rectifications/{id}/escalate",
            post(rectification_escalate),
        )
        .route("/repairs", post(repair_create))
        .route("/repairs/{id}", get(repair_view))
        .route("/repairs/{id}/supplement", post(repair_supplement))
        .route("/repairs/{id}/accept", post(repair_accept))
        .route("/repairs/{id}/request-more", post(repair_request_more))
        .route("/repairs/{id}/approve", post(repair_approve))
        .route("/repairs/{id}/deny", post(repair_deny))
        .route("/repairs/{id}/revoke", post(repair_revoke))
        .route("/objections", post(objection_create))
        .route("/objections/{id}", get(objection_view))
        .route("/objections/{id}/uphold", post(objection_uphold))
        .route("/objections/{id}/dismiss", post(objection_dismiss))
        .route(
            "/objections/{id}/undeterminable",
            post(objection_undeterminable),
        )
        .route("/commitments", post(commitment_create))
        .route("/commitments/{id}", get(commitment_view))
        .route("/commitments/{id}/assess", post(commitment_assess))
}

// ---------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------

/// `POST /api/v1/subjects`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubject {
    /// Unified social credit code (GB 32100, checked with its organisation code).
    #[schema(value_type = crate::schema::CreditCode)]
    pub credit_code: String,
    /// At most 200 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub name: String,
    #[schema(value_type = crate::schema::SubjectKind, example = "department")]
    pub kind: SubjectKind,
    /// The government it belongs to (must be registered and a government; empty: none).
    #[schema(value_type = Option<crate::schema::CreditCodeOrBlank>)]
    pub parent_code: Option<String>,
}

/// `POST /api/v1/civil-servants`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCivilServant {
    /// Resident identity number (GB 11643): encrypted, indexed by a keyed hash, never
    /// returned.
    #[schema(value_type = crate::schema::IdentityNumber)]
    pub identity_number: String,
    /// Encrypted with the identity number; never returned. At most 100 characters, not
    /// blank.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub name: String,
    /// Credit code of the unit they serve in (a registered subject).
    #[schema(value_type = crate::schema::CreditCode)]
    pub unit_code: String,
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

/// `POST /api/v1/rectifications`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRectification {
    /// An existing record's id.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub record_id: String,
    /// Working days allowed (1–120), counted from the day after the order.
    #[serde(deserialize_with = "crate::extract::whole_u32")]
    #[schema(minimum = 1, maximum = 120)]
    pub working_days: u32,
}

/// `file-explanation`, `report`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextBody {
    /// At most 8000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 8000,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub text: String,
}

/// `withdraw` of a record.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordReasonBody {
    /// At most 2000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub reason: String,
}

/// `mitigate` of a rectification, `deny` and `revoke` of a repair.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LongReasonBody {
    /// At most 8000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 8000,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub reason: String,
}

/// `reject` of a rectification.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// At most 8000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 8000,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub reason: String,
    /// Working days for the new report (1–120).
    #[serde(deserialize_with = "crate::extract::whole_u32")]
    #[schema(minimum = 1, maximum = 120)]
    pub working_days: u32,
}

/// `POST /api/v1/repairs`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRepair {
    /// An existing record's id.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub record_id: String,
    /// The public credit commitment (信用承诺书). At most 8000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 8000,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub commitment: String,
    /// Evidence that the behaviour is corrected and obligations performed. At most 8000
    /// characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 8000,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub evidence: String,
}

/// `supplement` of a repair.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceBody {
    /// At most 8000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 8000,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub evidence: String,
}

/// `request-more` of a repair.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WhatBody {
    /// At most 8000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 8000,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub what: String,
}

/// `POST /api/v1/objections`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateObjection {
    /// An existing record's id.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub record_id: String,
    #[schema(value_type = crate::schema::Grounds, example = "wrong_data")]
    pub grounds: Grounds,
    /// At most 4000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub detail: String,
}

/// `uphold` of an objection.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpholdBody {
    #[schema(value_type = crate::schema::ObjectionOutcome, example = "stop_publication")]
    pub outcome: ObjectionOutcome,
}

/// `undeterminable` of an objection.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteTextBody {
    /// At most 4000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub note: String,
}

/// `POST /api/v1/commitments`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCommitment {
    #[schema(value_type = crate::schema::CreditCode)]
    pub subject_code: String,
    #[schema(value_type = crate::schema::CommitmentKind, example = "investment_promise")]
    pub kind: CommitmentKind,
    /// At most 8000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 8000,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub text: String,
    pub due_date: Option<NaiveDate>,
}

/// `assess` of a commitment.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssessBody {
    #[schema(value_type = crate::schema::Fulfilment, example = "fulfilled")]
    pub level: Fulfilment,
    /// At most 8000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 8000,
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

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn parse_code(field: &str, value: &str) -> Result<CreditCode, ApiError> {
    Ok(probity_app::validate::credit_code(field, value)?)
}

/// Reads one document for `auth` (a handler sees only its own unit's; others are 404).
async fn read_for(
    state: &AppState,
    auth: &Auth,
    aggregate_type: &str,
    id: &str,
) -> Result<IntegrityDoc, ApiError> {
    Ok(state.app.integrity_for(auth, aggregate_type, id).await?)
}

/// Answers a created resource: 201, `Location`, the stored body.
fn created(stored: &StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::CREATED);
    let mut response = (status, Json(stored.body.clone())).into_response();
    if let Some(location) = stored
        .location
        .as_deref()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// Runs a creation under `Idempotency-Key` (same key and body: the first response).
async fn idempotent_create<F>(
    state: &AppState,
    once: Option<&probity_app::Once>,
    create: F,
) -> Result<Response, ApiError>
where
    F: std::future::Future<Output = Result<StoredResponse, ApiError>>,
{
    idempotency::create_once(state, once, create, created).await
}

fn stored(doc: &IntegrityDoc, location: String) -> Result<StoredResponse, ApiError> {
    Ok(StoredResponse {
        status: StatusCode::CREATED.as_u16(),
        body: doc.to_json().map_err(ApiError::internal)?,
        location: Some(location),
    })
}

/// Answers a document (already completed for the reader's day by the application).
fn respond(doc: IntegrityDoc) -> Result<Json<Value>, ApiError> {
    Ok(Json(doc.to_json().map_err(ApiError::internal)?))
}

// ---------------------------------------------------------------------------------------
// Subjects and civil servants
// ---------------------------------------------------------------------------------------

/// Register a subject (admin).
#[utoipa::path(post, path = "/api/v1/subjects", tag = "subjects", operation_id = "subject_create",
    request_body = CreateSubject,
    params(crate::schema::IdempotencyKeyHeader),
    responses((status = 201, body = SubjectView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "already_exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_failed, invalid_credit_code", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "subject_create", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn subject_create(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    IdempotencyKey(key): IdempotencyKey,
    body: ApiJson<CreateSubject>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Admin])?;
    let b = &body.value;
    let code = parse_code("credit_code", &b.credit_code)?;
    let parent = match b.parent_code.as_deref().map(str::trim) {
        Some(p) if !p.is_empty() => Some(parse_code("parent_code", p)?),
        _ => None,
    };
    let once = idempotency::once(&auth.token_id, key, "/api/v1/subjects", &body.raw);
    let work = async {
        let doc = state
            .app
            .register_subject(
                AppState::command(&auth, &ctx).with_once(once.as_ref()),
                code.clone(),
                b.name.clone(),
                b.kind,
                parent,
            )
            .await?;
        stored(&doc, format!("/api/v1/subjects/{}", code.as_str()))
    };
    idempotent_create(&state, once.as_ref(), work).await
}

/// One subject (any role).
#[utoipa::path(get, path = "/api/v1/subjects/{code}", tag = "subjects", operation_id = "subject_view",
    params(("code" = crate::schema::CreditCode, Path, description = "Unified social credit code")),
    responses((status = 200, body = SubjectView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_credit_code", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "subject_view", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn subject_view(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> Result<Json<Value>, ApiError> {
    let code = parse_code("code", &id.0)?;
    let doc = state
        .app
        .read_integrity(SUBJECT_TYPE, code.as_str())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("subject {} not found", code.as_str())))?;
    respond(doc)
}

/// A subject's integrity archive (supervisor, auditor).
#[utoipa::path(get, path = "/api/v1/subjects/{code}/archive", tag = "subjects", operation_id = "subject_archive",
    params(("code" = crate::schema::CreditCode, Path, description = "Unified social credit code")),
    responses((status = 200, body = Archive),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "subject_archive", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn subject_archive(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> Result<Json<Archive>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Auditor])?;
    let code = parse_code("code", &id.0)?;
    state
        .views
        .archive(
            code.as_str(),
            state.clock.today(),
            &state.integrity.policy.sanction_months,
        )
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("subject {} not found", code.as_str())))
}

/// Honours eligibility of a subject (any role).
#[utoipa::path(get, path = "/api/v1/subjects/{code}/eligibility", tag = "subjects", operation_id = "subject_eligibility",
    params(("code" = crate::schema::CreditCode, Path, description = "Unified social credit code")),
    responses((status = 200, body = Eligibility),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "subject_eligibility", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn subject_eligibility(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> Result<Json<Eligibility>, ApiError> {
    let code = parse_code("code", &id.0)?;
    if state.views.subject(code.as_str()).await?.is_none()
        && state
            .app
            .integrity
            .subject_kind(code.as_str())
            .await?
            .is_none()
    {
        return Err(ApiError::NotFound(format!(
            "subject {} not found",
            code.as_str()
        )));
    }
    Ok(Json(
        state
            .views
            .eligibility(
                code.as_str(),
                state.clock.today(),
                &state.integrity.policy.sanction_months,
            )
            .await?,
    ))
}

/// Register a civil servant (admin): returns an opaque id; the identity number and name
/// are sealed with a key of their own and never returned.
#[utoipa::path(post, path = "/api/v1/civil-servants", tag = "subjects", operation_id = "civil_servant_create",
    request_body = CreateCivilServant,
    params(crate::schema::IdempotencyKeyHeader),
    responses((status = 201, body = CivilServantView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "already_exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_failed, invalid_identity_number, invalid_credit_code", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "civil_servant_create", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id, case_id))]
pub async fn civil_servant_create(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    IdempotencyKey(key): IdempotencyKey,
    body: ApiJson<CreateCivilServant>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Admin])?;
    let b = &body.value;
    let identity = IdentityNumber::parse(b.identity_number.trim())
        .map_err(|e| ApiError::from_id("identity_number", e))?;
    let name = b.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::field(
            "name",
            "invalid",
            format!("name must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    let unit = parse_code("unit_code", &b.unit_code)?;
    let once = idempotency::once(&auth.token_id, key, "/api/v1/civil-servants", &body.raw);
    let work = async {
        let (id, doc) = state
            .app
            .register_civil_servant(
                AppState::command(&auth, &ctx).with_once(once.as_ref()),
                &identity,
                name,
                unit,
            )
            .await?;
        tracing::Span::current().record("case_id", id.as_str());
        stored(&doc, format!("/api/v1/civil-servants/{id}"))
    };
    idempotent_create(&state, once.as_ref(), work).await
}

/// One civil servant: the opaque id and unit only (admin, supervisor, auditor).
#[utoipa::path(get, path = "/api/v1/civil-servants/{id}", tag = "subjects", operation_id = "civil_servant_view",
    params(("id" = String, Path, description = "Opaque civil-servant id")),
    responses((status = 200, body = CivilServantView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "civil_servant_view", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn civil_servant_view(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Admin, Role::Supervisor, Role::Auditor])?;
    let doc = read_for(&state, &auth, CIVIL_SERVANT_TYPE, &id.0).await?;
    respond(doc)
}

// ---------------------------------------------------------------------------------------
// Dishonesty records
// ---------------------------------------------------------------------------------------

/// Record a dishonesty finding (supervisor). The id is derived from `source` and
/// `source_ref`, so the same decision is never recorded twice (409 `already_exists`).
#[utoipa::path(post, path = "/api/v1/records", tag = "records", operation_id = "record_create",
    request_body = CreateRecord,
    params(crate::schema::IdempotencyKeyHeader),
    responses((status = 201, body = RecordView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "already_exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_failed, invalid_credit_code", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "record_create", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id, case_id))]
pub async fn record_create(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    IdempotencyKey(key): IdempotencyKey,
    body: ApiJson<CreateRecord>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let b = body.value.clone();
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
    };
    let once = idempotency::once(&auth.token_id, key, "/api/v1/records", &body.raw);
    let work = async {
        let (id, doc) = state
            .app
            .record_dishonesty(
                AppState::command(&auth, &ctx).with_once(once.as_ref()),
                record,
            )
            .await?;
        tracing::Span::current().record("case_id", id.as_str());
        stored(&doc, format!("/api/v1/records/{id}"))
    };
    idempotent_create(&state, once.as_ref(), work).await
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

pub(crate) fn check_choice(
    field: &str,
    value: &Option<String>,
    allowed: &[&str],
) -> Result<(), ApiError> {
    match value {
        Some(v) if !allowed.contains(&v.as_str()) => Err(ApiError::field(
            field,
            "invalid",
            format!("{field} must be one of {}", allowed.join(", ")),
        )),
        _ => Ok(()),
    }
}

/// Records, newest decision first (supervisor, auditor; a handler sees its own unit's).
#[utoipa::path(get, path = "/api/v1/records", tag = "records", operation_id = "record_list",
    params(RecordListQuery),
    responses((status = 200, body = RecordList),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
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

/// One record (supervisor, auditor, intake; a handler: its own unit's).
#[utoipa::path(get, path = "/api/v1/records/{id}", tag = "records", operation_id = "record_view",
    params(("id" = String, Path, description = "Record id")),
    responses((status = 200, body = RecordView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "record_view", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
pub async fn record_view(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Auditor, Role::Intake, Role::Handler])?;
    let doc = read_for(&state, &auth, RECORD_TYPE, &id.0).await?;
    respond(doc)
}

/// Withdraw a record: its source decision was changed or revoked (supervisor).
#[utoipa::path(post, path = "/api/v1/records/{id}/withdraw", tag = "records", operation_id = "record_withdraw",
    request_body = RecordReasonBody, params(("id" = String, Path, description = "Record id"), crate::schema::IfMatchHeader),
    responses((status = 200, body = RecordView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "record_withdraw", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
pub async fn record_withdraw(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<RecordReasonBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = RecordCommand::WithdrawRecord {
        reason: body.value.reason,
        at: state.clock.now(),
    };
    let doc = state
        .app
        .record_command(AppState::command(&auth, &ctx), &id.0, if_match.0, command)
        .await?;
    respond(doc)
}

/// Correct or complete a record after an upheld objection (supervisor).
#[utoipa::path(post, path = "/api/v1/records/{id}/correct", tag = "records", operation_id = "record_correct",
    request_body = CorrectRecordBody, params(("id" = String, Path, description = "Record id"), crate::schema::IfMatchHeader),
    responses((status = 200, body = RecordView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "record_correct", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
pub async fn record_correct(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<CorrectRecordBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let b = body.value;
    let correction = RecordCorrection {
        objection_id: b.objection_id,
        summary: b.summary,
        severity: b.severity,
        sector: b.sector,
        decision_date: b.decision_date,
    };
    let doc = state
        .app
        .correct_record(
            AppState::command(&auth, &ctx),
            &id.0,
            if_match.0,
            correction,
        )
        .await?;
    respond(doc)
}

// ---------------------------------------------------------------------------------------
// Rectifications
// ---------------------------------------------------------------------------------------

/// Order a rectification of a record (supervisor): due in working days.
#[utoipa::path(post, path = "/api/v1/rectifications", tag = "rectifications", operation_id = "rectification_create",
    request_body = CreateRectification,
    params(crate::schema::IdempotencyKeyHeader),
    responses((status = 201, body = RectificationView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_failed, calendar_missing", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "rectification_create", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id, case_id))]
pub async fn rectification_create(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    IdempotencyKey(key): IdempotencyKey,
    body: ApiJson<CreateRectification>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let once = idempotency::once(&auth.token_id, key, "/api/v1/rectifications", &body.raw);
    let work = async {
        let (id, doc) = state
            .app
            .order_rectification(
                AppState::command(&auth, &ctx).with_once(once.as_ref()),
                &body.value.record_id,
                body.value.working_days,
            )
            .await?;
        tracing::Span::current().record("case_id", id.as_str());
        stored(&doc, format!("/api/v1/rectifications/{id}"))
    };
    idempotent_create(&state, once.as_ref(), work).await
}

/// One rectification (supervisor, auditor, intake; a handler: its own unit's).
#[utoipa::path(get, path = "/api/v1/rectifications/{id}", tag = "rectifications", operation_id = "rectification_view",
    params(("id" = String, Path, description = "Rectification id")),
    responses((status = 200, body = RectificationView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "rectification_view", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
pub async fn rectification_view(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Auditor, Role::Intake, Role::Handler])?;
    let doc = read_for(&state, &auth, RECTIFICATION_TYPE, &id.0).await?;
    respond(doc)
}

async fn rectification_command(
    state: &AppState,
    ctx: &RequestCtx,
    auth: &Auth,
    id: &CaseId,
    if_match: IfMatch,
    command: RectificationCommand,
) -> Result<Json<Value>, ApiError> {
    let doc = state
        .app
        .rectification_command(AppState::command(auth, ctx), &id.0, if_match.0, command)
        .await?;
    respond(doc)
}

macro_rules! verb_doc {
    ($name:ident, $path:literal, $tag:literal, $body:ty, $view:ty, $summary:literal) => {
        #[doc = $summary]
        #[utoipa::path(post, path = $path, tag = $tag, operation_id = stringify!($name),
            request_body = $body, params(("id" = String, Path, description = "Case id"), crate::schema::IfMatchHeader),
            responses((status = 200, body = $view),
                (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
                (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
                (status = 412, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
            security(("bearer" = [])))]
        #[allow(dead_code)]
        pub fn $name() {}
    };
}

/// OpenAPI documentation of the integrity verbs (the handlers share one shape).
pub mod docs {
    use super::*;
    verb_doc!(
        rectification_file_explanation,
        "/api/v1/rectifications/{id}/file-explanation",
        "rectifications",
        TextBody,
        RectificationView,
        "File the written explanation (handler of the unit)."
    );
    verb_doc!(
        rectification_report,
        "/api/v1/rectifications/{id}/report",
        "rectifications",
        TextBody,
        RectificationView,
        "Report the rectification (handler of the unit)."
    );
    verb_doc!(
        rectification_verify,
        "/api/v1/rectifications/{id}/verify",
        "rectifications",
        Option<EmptyBody>,
        RectificationView,
        "Verify the reported rectification (supervisor)."
    );
    verb_doc!(
        rectification_reject,
        "/api/v1/rectifications/{id}/reject",
        "rectifications",
        RejectBody,
        RectificationView,
        "Reject the report with a new due date (supervisor)."
    );
    verb_doc!(
        rectification_mitigate,
        "/api/v1/rectifications/{id}/mitigate",
        "rectifications",
        LongReasonBody,
        RectificationView,
        "Record mitigation (supervisor)."
    );
    verb_doc!(rectification_escalate, "/api/v1/rectifications/{id}/escalate", "rectifications", Option<EmptyBody>, RectificationView, "Escalate an overdue rectification: 通报批评 (supervisor; the deadline engine does it by itself).");
    verb_doc!(
        repair_supplement,
        "/api/v1/repairs/{id}/supplement",
        "repairs",
        EvidenceBody,
        RepairView,
        "Supply the material asked for (handler of the unit, intake)."
    );
    verb_doc!(repair_accept, "/api/v1/repairs/{id}/accept", "repairs", Option<EmptyBody>, RepairView, "Accept the application: decision due in 10 working days (supervisor of the recording authority or the credit office).");
    verb_doc!(
        repair_request_more,
        "/api/v1/repairs/{id}/request-more",
        "repairs",
        WhatBody,
        RepairView,
        "Ask for more material (supervisor)."
    );
    verb_doc!(
        repair_approve,
        "/api/v1/repairs/{id}/approve",
        "repairs",
        Option<EmptyBody>,
        RepairView,
        "Approve: publication ends, sanctions lift (supervisor)."
    );
    verb_doc!(
        repair_deny,
        "/api/v1/repairs/{id}/deny",
        "repairs",
        LongReasonBody,
        RepairView,
        "Deny the application (supervisor)."
    );
    verb_doc!(repair_revoke, "/api/v1/repairs/{id}/revoke", "repairs", LongReasonBody, RepairView, "Revoke an approved repair: the record is published again until its maximum period (supervisor).");
    verb_doc!(
        objection_uphold,
        "/api/v1/objections/{id}/uphold",
        "objections",
        UpholdBody,
        ObjectionView,
        "Uphold the objection with an outcome (supervisor)."
    );
    verb_doc!(
        objection_dismiss,
        "/api/v1/objections/{id}/dismiss",
        "objections",
        ReasonBody,
        ObjectionView,
        "Dismiss the objection (supervisor)."
    );
    verb_doc!(
        objection_undeterminable,
        "/api/v1/objections/{id}/undeterminable",
        "objections",
        NoteTextBody,
        ObjectionView,
        "The objection cannot be determined; both versions are kept (supervisor)."
    );
    verb_doc!(
        commitment_assess,
        "/api/v1/commitments/{id}/assess",
        "commitments",
        AssessBody,
        CommitmentView,
        "Assess how a commitment was kept; a breach proposes a record (supervisor)."
    );
}

#[tracing::instrument(name = "rectification_file_explanation", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn rectification_file_explanation(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<TextBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Handler])?;
    let command = RectificationCommand::FileExplanation {
        unit: auth.handler_unit()?,
        text: body.value.text,
        at: state.clock.now(),
    };
    rectification_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "rectification_report", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn rectification_report(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<TextBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Handler])?;
    let command = RectificationCommand::ReportRectification {
        unit: auth.handler_unit()?,
        text: body.value.text,
        at: state.clock.now(),
    };
    rectification_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "rectification_verify", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn rectification_verify(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    OptionalJson(_): OptionalJson<EmptyBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = RectificationCommand::VerifyRectification {
        at: state.clock.now(),
    };
    rectification_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "rectification_reject", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn rectification_reject(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<RejectBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = RectificationCommand::RejectRectification {
        reason: body.value.reason,
        working_days: body.value.working_days,
        at: state.clock.now(),
    };
    rectification_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "rectification_mitigate", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn rectification_mitigate(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<LongReasonBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = RectificationCommand::MitigateRectification {
        reason: body.value.reason,
        at: state.clock.now(),
    };
    rectification_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "rectification_escalate", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn rectification_escalate(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    OptionalJson(_): OptionalJson<EmptyBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = RectificationCommand::EscalateRectification {
        at: state.clock.now(),
    };
    rectification_command(&state, &ctx, &auth, &id, if_match, command).await
}

// ---------------------------------------------------------------------------------------
// Credit repairs
// ---------------------------------------------------------------------------------------

/// Apply for a credit repair (handler of the record's unit, intake). Too early or not
/// allowed is 409 `repair_not_eligible` with `possible_from`.
#[utoipa::path(post, path = "/api/v1/repairs", tag = "repairs", operation_id = "repair_create",
    request_body = CreateRepair,
    params(crate::schema::IdempotencyKeyHeader),
    responses((status = 201, body = RepairView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "repair_not_eligible", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "repair_create", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id, case_id))]
pub async fn repair_create(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    IdempotencyKey(key): IdempotencyKey,
    body: ApiJson<CreateRepair>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Handler, Role::Intake])?;
    let once = idempotency::once(&auth.token_id, key, "/api/v1/repairs", &body.raw);
    let work = async {
        let (id, doc) = state
            .app
            .apply_for_repair(
                AppState::command(&auth, &ctx).with_once(once.as_ref()),
                &body.value.record_id,
                body.value.commitment.clone(),
                body.value.evidence.clone(),
            )
            .await?;
        tracing::Span::current().record("case_id", id.as_str());
        stored(&doc, format!("/api/v1/repairs/{id}"))
    };
    idempotent_create(&state, once.as_ref(), work).await
}

/// One repair (supervisor, auditor, intake; a handler: its own unit's).
#[utoipa::path(get, path = "/api/v1/repairs/{id}", tag = "repairs", operation_id = "repair_view",
    params(("id" = String, Path, description = "Repair id")),
    responses((status = 200, body = RepairView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "repair_view", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
pub async fn repair_view(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Auditor, Role::Intake, Role::Handler])?;
    let doc = read_for(&state, &auth, REPAIR_TYPE, &id.0).await?;
    respond(doc)
}

async fn repair_command(
    state: &AppState,
    ctx: &RequestCtx,
    auth: &Auth,
    id: &CaseId,
    if_match: IfMatch,
    command: RepairCommand,
) -> Result<Json<Value>, ApiError> {
    let doc = state
        .app
        .repair_command(AppState::command(auth, ctx), &id.0, if_match.0, command)
        .await?;
    respond(doc)
}

#[tracing::instrument(name = "repair_supplement", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn repair_supplement(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<EvidenceBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Handler, Role::Intake])?;
    let applicant_unit = acting_unit(&auth)?;
    let command = RepairCommand::SupplementRepair {
        applicant_unit,
        evidence: body.value.evidence,
        at: state.clock.now(),
    };
    repair_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "repair_accept", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn repair_accept(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    OptionalJson(_): OptionalJson<EmptyBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = RepairCommand::AcceptRepair {
        decider: decider(&auth),
        at: state.clock.now(),
    };
    repair_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "repair_request_more", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn repair_request_more(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<WhatBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = RepairCommand::RequestMoreForRepair {
        what: body.value.what,
        decider: decider(&auth),
        at: state.clock.now(),
    };
    repair_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "repair_approve", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn repair_approve(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    OptionalJson(_): OptionalJson<EmptyBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = RepairCommand::ApproveRepair {
        decider: decider(&auth),
        at: state.clock.now(),
    };
    repair_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "repair_deny", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn repair_deny(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<LongReasonBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = RepairCommand::DenyRepair {
        reason: body.value.reason,
        decider: decider(&auth),
        at: state.clock.now(),
    };
    repair_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "repair_revoke", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn repair_revoke(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<LongReasonBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = RepairCommand::RevokeRepair {
        reason: body.value.reason,
        decider: decider(&auth),
        at: state.clock.now(),
    };
    repair_command(&state, &ctx, &auth, &id, if_match, command).await
}

// ---------------------------------------------------------------------------------------
// Objections
// ---------------------------------------------------------------------------------------

/// File an objection (intake, or a handler of the record's unit): the record shows
/// `under_objection: true` in every view at once.
#[utoipa::path(post, path = "/api/v1/objections", tag = "objections", operation_id = "objection_create",
    request_body = CreateObjection,
    params(crate::schema::IdempotencyKeyHeader),
    responses((status = 201, body = ObjectionView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "objection_create", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id, case_id))]
pub async fn objection_create(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    IdempotencyKey(key): IdempotencyKey,
    body: ApiJson<CreateObjection>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Intake, Role::Handler])?;
    let once = idempotency::once(&auth.token_id, key, "/api/v1/objections", &body.raw);
    let work = async {
        let (id, doc) = state
            .app
            .file_objection(
                AppState::command(&auth, &ctx).with_once(once.as_ref()),
                &body.value.record_id,
                body.value.grounds,
                body.value.detail.clone(),
            )
            .await?;
        tracing::Span::current().record("case_id", id.as_str());
        stored(&doc, format!("/api/v1/objections/{id}"))
    };
    idempotent_create(&state, once.as_ref(), work).await
}

/// One objection (supervisor, auditor, intake; a handler: its own unit's).
#[utoipa::path(get, path = "/api/v1/objections/{id}", tag = "objections", operation_id = "objection_view",
    params(("id" = String, Path, description = "Objection id")),
    responses((status = 200, body = ObjectionView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "objection_view", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
pub async fn objection_view(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Auditor, Role::Intake, Role::Handler])?;
    let doc = read_for(&state, &auth, OBJECTION_TYPE, &id.0).await?;
    respond(doc)
}

async fn objection_command(
    state: &AppState,
    ctx: &RequestCtx,
    auth: &Auth,
    id: &CaseId,
    if_match: IfMatch,
    command: ObjectionCommand,
) -> Result<Json<Value>, ApiError> {
    let doc = state
        .app
        .objection_command(AppState::command(auth, ctx), &id.0, if_match.0, command)
        .await?;
    respond(doc)
}

#[tracing::instrument(name = "objection_uphold", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn objection_uphold(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<UpholdBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = ObjectionCommand::UpholdObjection {
        outcome: body.value.outcome,
        decider: decider(&auth),
        at: state.clock.now(),
    };
    objection_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "objection_dismiss", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn objection_dismiss(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<ReasonBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = ObjectionCommand::DismissObjection {
        reason: body.value.reason,
        decider: decider(&auth),
        at: state.clock.now(),
    };
    objection_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "objection_undeterminable", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn objection_undeterminable(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<NoteTextBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = ObjectionCommand::MarkUndeterminable {
        note: body.value.note,
        decider: decider(&auth),
        at: state.clock.now(),
    };
    objection_command(&state, &ctx, &auth, &id, if_match, command).await
}

// ---------------------------------------------------------------------------------------
// Commitments
// ---------------------------------------------------------------------------------------

/// Record a commitment (supervisor, or a handler for its own unit).
#[utoipa::path(post, path = "/api/v1/commitments", tag = "commitments", operation_id = "commitment_create",
    request_body = CreateCommitment,
    params(crate::schema::IdempotencyKeyHeader),
    responses((status = 201, body = CommitmentView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "commitment_create", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id, case_id))]
pub async fn commitment_create(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    IdempotencyKey(key): IdempotencyKey,
    body: ApiJson<CreateCommitment>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Supervisor, Role::Handler])?;
    let code = parse_code("subject_code", &body.value.subject_code)?;
    let once = idempotency::once(&auth.token_id, key, "/api/v1/commitments", &body.raw);
    let work = async {
        let (id, doc) = state
            .app
            .make_commitment(
                AppState::command(&auth, &ctx).with_once(once.as_ref()),
                code,
                body.value.kind,
                body.value.text.clone(),
                body.value.due_date,
            )
            .await?;
        tracing::Span::current().record("case_id", id.as_str());
        stored(&doc, format!("/api/v1/commitments/{id}"))
    };
    idempotent_create(&state, once.as_ref(), work).await
}

/// One commitment (supervisor, auditor, intake; a handler: its own unit's).
#[utoipa::path(get, path = "/api/v1/commitments/{id}", tag = "commitments", operation_id = "commitment_view",
    params(("id" = String, Path, description = "Commitment id")),
    responses((status = 200, body = CommitmentView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "commitment_view", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
pub async fn commitment_view(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Auditor, Role::Intake, Role::Handler])?;
    let doc = read_for(&state, &auth, COMMITMENT_TYPE, &id.0).await?;
    respond(doc)
}

#[tracing::instrument(name = "commitment_assess", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn commitment_assess(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<AssessBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = CommitmentCommand::AssessFulfilment {
        level: body.value.level,
        note: body.value.note,
        at: state.clock.now(),
    };
    let doc = state
        .app
        .commitment_command(AppState::command(&auth, &ctx), &id.0, if_match.0, command)
        .await?;
    respond(doc)
}
