//! Commitments (信用承诺): recorded for a subject, changed only by a recorded procedure,
//! assessed when due; a breach proposes a record. Township public commitments and
//! investment promises are published with their fulfilment (`GET /public/commitments`).

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use probity_domain::commitment::{CommitmentCommand, CommitmentKind, Fulfilment};
use probity_views::integrity::{
    CommitmentView, PublicCommitment, COMMITMENT_TYPE, PUBLIC_COMMITMENT_KINDS,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Role;
use crate::complaints::page_limit;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery, RequestCtx};
use crate::problems::{Denied, Unprocessable, VerbProblems};
use crate::resource::{
    check_choice, document_view, parse_code, respond, verbs, Creation, DocAnswer,
};
use crate::AppState;

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/commitments", post(commitment_create))
        .route("/commitments/{id}", get(commitment_view))
        .route("/public/commitments", get(public_commitments))
        .merge(verb_routes())
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

/// `change` of a commitment: the recorded procedure (承诺变更).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeBody {
    /// The promise as changed. At most 8000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 8000,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub text: String,
    /// The due date as changed (null: none).
    pub due_date: Option<NaiveDate>,
    /// Why (the legal ground). At most 8000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 8000,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub reason: String,
    /// Who decided it (the deciding body and its decision's reference). At most 200
    /// characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub decided_by: String,
}

/// `GET /api/v1/public/commitments` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PublicCommitmentQuery {
    #[param(value_type = Option<crate::schema::CreditCode>)]
    pub subject_code: Option<String>,
    /// investment_promise or township_public.
    #[param(value_type = Option<crate::schema::PublicCommitmentKind>)]
    pub kind: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// A `next_cursor` this list returned (opaque); anything else is 422.
    #[param(format = "commitment-cursor")]
    pub cursor: Option<String>,
}

/// A page of public commitments.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicCommitmentList {
    pub items: Vec<PublicCommitment>,
    pub next_cursor: Option<String>,
}

/// Township public commitments and investment promises with their fulfilment (no
/// token), newest first.
#[utoipa::path(get, path = "/api/v1/public/commitments", tag = "public", operation_id = "public_commitments",
    params(PublicCommitmentQuery),
    responses((status = 200, body = PublicCommitmentList),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(name = "public_commitments", skip_all, fields(request_id = %ctx.request_id))]
pub async fn public_commitments(
    State(state): State<AppState>,
    ctx: RequestCtx,
    ApiQuery(q): ApiQuery<PublicCommitmentQuery>,
) -> Result<Json<PublicCommitmentList>, ApiError> {
    let limit = page_limit(q.limit)?;
    check_choice("kind", &q.kind, &PUBLIC_COMMITMENT_KINDS)?;
    let subject_code = q
        .subject_code
        .as_deref()
        .map(|c| {
            probity_domain::CreditCode::parse(c.trim())
                .map_err(|e| ApiError::from_id("subject_code", e))
        })
        .transpose()?;
    let page = state
        .views
        .public_commitments(
            subject_code.as_ref().map(|c| c.as_str()),
            q.kind.as_deref(),
            limit,
            q.cursor.as_deref(),
        )
        .await?;
    Ok(Json(PublicCommitmentList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Record a commitment (supervisor, or a handler for its own unit).
#[utoipa::path(post, path = "/api/v1/commitments", tag = "commitments", operation_id = "commitment_create",
    request_body = CreateCommitment, params(crate::schema::IdempotencyKeyHeader),
    responses((status = 201, body = CommitmentView), Denied, Unprocessable),
    security(("bearer" = [])))]
#[tracing::instrument(name = "commitment_create", skip_all, fields(request_id = %c.ctx.request_id, actor = %c.auth.token_id, case_id))]
pub async fn commitment_create(c: Creation<CreateCommitment>) -> Result<Response, ApiError> {
    c.auth.require(&[Role::Supervisor, Role::Handler])?;
    let code = parse_code("subject_code", &c.body.value.subject_code)?;
    let b = &c.body.value;
    let app = &c.state.app;
    c.create("/api/v1/commitments", async |context| {
        app.make_commitment(context, code, b.kind, b.text.clone(), b.due_date)
            .await
    })
    .await
}

document_view! {
    /// One commitment (supervisor, auditor, intake; a handler: its own unit's).
    commitment_view "/api/v1/commitments/{id}", tag = "commitments", id = "Commitment id", view = CommitmentView,
    type = COMMITMENT_TYPE, roles = [Supervisor, Auditor, Intake, Handler]
}

verbs! {
    tag = "commitments", ok = (status = 200, body = CommitmentView), problems = VerbProblems,
    answer = DocAnswer;

    /// Change a commitment by the recorded procedure: the reason, who decided it and
    /// when are kept, the earlier promise stays in its history (supervisor).
    commitment_change "/api/v1/commitments/{id}/change" [ChangeBody]
    |v, body: ApiJson<ChangeBody>| {
        v.require(&[Role::Supervisor])?;
        let ChangeBody { text, due_date, reason, decided_by } = body.value;
        let command = CommitmentCommand::ChangeCommitment { text, due_date, reason, decided_by, at: v.now() };
        let app = &v.state.app;
        respond(app.commitment_command(v.command(), &v.id.0, v.if_match.0, command).await?)
    }

    /// Assess how a commitment was kept; a breach proposes a record (supervisor).
    commitment_assess "/api/v1/commitments/{id}/assess" [AssessBody]
    |v, body: ApiJson<AssessBody>| {
        v.require(&[Role::Supervisor])?;
        let AssessBody { level, note } = body.value;
        let command = CommitmentCommand::AssessFulfilment { level, note, at: v.now() };
        let app = &v.state.app;
        respond(app.commitment_command(v.command(), &v.id.0, v.if_match.0, command).await?)
    }
}
