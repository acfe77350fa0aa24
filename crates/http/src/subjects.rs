//! Subjects (信用主体): governments, departments and organisations by credit code, with
//! their integrity archive and honours eligibility.

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use probity_domain::subject::SubjectKind;
use probity_views::integrity::{Archive, Eligibility, SubjectView, SUBJECT_TYPE};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::{Auth, Role};
use crate::error::ApiError;
use crate::extract::{CaseId, RequestCtx};
use crate::problems::{
    AlreadyExists, BadCreditCode, Denied, InvalidCreditCode, NotFound, Unauthorized, Unprocessable,
};
use crate::resource::{parse_code, respond, Creation};
use crate::AppState;

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/subjects", post(subject_create))
        .route("/subjects/{id}", get(subject_view))
        .route("/subjects/{id}/archive", get(subject_archive))
        .route("/subjects/{id}/eligibility", get(subject_eligibility))
}

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

/// 404 for the subject `code`.
fn no_subject(code: &str) -> ApiError {
    ApiError::NotFound(format!("subject {code} not found"))
}

/// Register a subject (admin).
#[utoipa::path(post, path = "/api/v1/subjects", tag = "subjects", operation_id = "subject_create",
    request_body = CreateSubject, params(crate::schema::IdempotencyKeyHeader),
    responses((status = 201, body = SubjectView), Denied, AlreadyExists, InvalidCreditCode),
    security(("bearer" = [])))]
#[tracing::instrument(name = "subject_create", skip_all, fields(request_id = %c.ctx.request_id, actor = %c.auth.token_id))]
pub async fn subject_create(c: Creation<CreateSubject>) -> Result<Response, ApiError> {
    c.auth.require(&[Role::Admin])?;
    let b = &c.body.value;
    let code = parse_code("credit_code", &b.credit_code)?;
    let parent = match b.parent_code.as_deref().map(str::trim) {
        Some(p) if !p.is_empty() => Some(parse_code("parent_code", p)?),
        _ => None,
    };
    let app = &c.state.app;
    c.create("/api/v1/subjects", async |context| {
        let (name, kind) = (b.name.clone(), b.kind);
        let doc = app
            .register_subject(context, code.clone(), name, kind, parent)
            .await;
        doc.map(|doc| (code.as_str(), doc))
    })
    .await
}

/// One subject (any role).
#[utoipa::path(get, path = "/api/v1/subjects/{code}", tag = "subjects", operation_id = "subject_view",
    params(("code" = crate::schema::CreditCode, Path, description = "Unified social credit code")),
    responses((status = 200, body = SubjectView), Unauthorized, NotFound, BadCreditCode),
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
        .await?;
    respond(doc.ok_or_else(|| no_subject(code.as_str()))?)
}

/// A subject's integrity archive (supervisor, auditor).
#[utoipa::path(get, path = "/api/v1/subjects/{code}/archive", tag = "subjects", operation_id = "subject_archive",
    params(("code" = crate::schema::CreditCode, Path, description = "Unified social credit code")),
    responses((status = 200, body = Archive), Denied, NotFound, Unprocessable),
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
    // A bound supervisor reads only its own unit's archive and those under it.
    let archive = state.app.archive_for(&auth, &code).await?;
    archive.map(Json).ok_or_else(|| no_subject(code.as_str()))
}

/// Honours eligibility of a subject (any role).
#[utoipa::path(get, path = "/api/v1/subjects/{code}/eligibility", tag = "subjects", operation_id = "subject_eligibility",
    params(("code" = crate::schema::CreditCode, Path, description = "Unified social credit code")),
    responses((status = 200, body = Eligibility), Unauthorized, NotFound, Unprocessable),
    security(("bearer" = [])))]
#[tracing::instrument(name = "subject_eligibility", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn subject_eligibility(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> Result<Json<Eligibility>, ApiError> {
    let code = parse_code("code", &id.0)?;
    let known = state.views.subject(code.as_str()).await?.is_some()
        || (state.app.integrity.subject_kind(code.as_str()).await?).is_some();
    if !known {
        return Err(no_subject(code.as_str()));
    }
    let months = &state.integrity.policy.sanction_months;
    let today = state.clock.today();
    let mut eligibility = state
        .views
        .eligibility(code.as_str(), today, months)
        .await?;
    if let Some(subject) = state.views.subject(code.as_str()).await? {
        let years = state.integrity.policy.good_standing.years;
        eligibility.good_standing = state.views.good_standing_of(&subject, today, years).await?;
    }
    Ok(Json(eligibility))
}
