//! Commitments (信用承诺): recorded for a subject, assessed when due; a breach proposes
//! a record.

use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::NaiveDate;
use probity_domain::commitment::{CommitmentCommand, CommitmentKind, Fulfilment};
use probity_views::integrity::{CommitmentView, COMMITMENT_TYPE};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::Role;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::problems::{Denied, Unprocessable, VerbProblems};
use crate::resource::{document_view, parse_code, respond, verbs, Creation, DocAnswer};
use crate::AppState;

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/commitments", post(commitment_create))
        .route("/commitments/{id}", get(commitment_view))
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
