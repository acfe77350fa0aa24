//! Commitments (信用承诺): recorded for a subject, assessed when due; a breach proposes
//! a record.

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::NaiveDate;
use probity_domain::commitment::{CommitmentCommand, CommitmentKind, Fulfilment};
use probity_views::integrity::{CommitmentView, COMMITMENT_TYPE};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::{Auth, Role};
use crate::error::ApiError;
use crate::extract::{ApiJson, CaseId, IdempotencyKey, RequestCtx};
use crate::idempotency;
use crate::problems::{Denied, ReadProblems, Unprocessable, VerbProblems};
use crate::resource::{
    idempotent_create, parse_code, read_for, respond, stored, CaseIdPath, DocAnswer, Verb,
};
use crate::schema::IfMatchHeader;
use crate::AppState;

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/commitments", post(commitment_create))
        .route("/commitments/{id}", get(commitment_view))
        .route("/commitments/{id}/assess", post(commitment_assess))
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

/// Record a commitment (supervisor, or a handler for its own unit).
#[utoipa::path(post, path = "/api/v1/commitments", tag = "commitments", operation_id = "commitment_create",
    request_body = CreateCommitment, params(crate::schema::IdempotencyKeyHeader),
    responses((status = 201, body = CommitmentView), Denied, Unprocessable),
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
        let context = AppState::command(&auth, &ctx).with_once(once.as_ref());
        let b = &body.value;
        let (id, doc) = state
            .app
            .make_commitment(context, code, b.kind, b.text.clone(), b.due_date)
            .await?;
        stored(&doc, &id, format!("/api/v1/commitments/{id}"))
    };
    idempotent_create(&state, once.as_ref(), work).await
}

/// One commitment (supervisor, auditor, intake; a handler: its own unit's).
#[utoipa::path(get, path = "/api/v1/commitments/{id}", tag = "commitments", operation_id = "commitment_view",
    params(("id" = String, Path, description = "Commitment id")),
    responses((status = 200, body = CommitmentView), ReadProblems),
    security(("bearer" = [])))]
#[tracing::instrument(name = "commitment_view", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
pub async fn commitment_view(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> DocAnswer {
    auth.require(&[Role::Supervisor, Role::Auditor, Role::Intake, Role::Handler])?;
    read_for(&state, &auth, COMMITMENT_TYPE, &id.0).await
}

/// Assess how a commitment was kept; a breach proposes a record (supervisor).
#[utoipa::path(post, path = "/api/v1/commitments/{id}/assess", tag = "commitments",
    operation_id = "commitment_assess", request_body = AssessBody, params(CaseIdPath, IfMatchHeader),
    responses((status = 200, body = CommitmentView), VerbProblems), security(("bearer" = [])))]
#[tracing::instrument(name = "commitment_assess", skip_all, fields(request_id = %v.ctx.request_id, case_id = %v.id.0, actor = %v.auth.token_id))]
pub async fn commitment_assess(v: Verb, body: ApiJson<AssessBody>) -> DocAnswer {
    v.require(&[Role::Supervisor])?;
    let AssessBody { level, note } = body.value;
    let command = CommitmentCommand::AssessFulfilment {
        level,
        note,
        at: v.now(),
    };
    let app = &v.state.app;
    respond(
        app.commitment_command(v.command(), &v.id.0, v.if_match.0, command)
            .await?,
    )
}
