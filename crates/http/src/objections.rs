//! Objections (异议) to records: filed by intake or the record's unit (the record shows
//! `under_objection` at once), upheld with an outcome, dismissed, or undeterminable.

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use probity_app::integrity::decider;
use probity_domain::objection::{Grounds, ObjectionCommand, ObjectionOutcome};
use probity_views::integrity::{ObjectionView, OBJECTION_TYPE};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::{Auth, Role};
use crate::complaints::ReasonBody;
use crate::error::ApiError;
use crate::extract::{ApiJson, CaseId, IdempotencyKey, RequestCtx};
use crate::idempotency;
use crate::problems::{Conflict, Denied, ReadProblems, Unprocessable, VerbProblems};
use crate::resource::{idempotent_create, read_for, respond, stored, CaseIdPath, DocAnswer, Verb};
use crate::schema::IfMatchHeader;
use crate::AppState;

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/objections", post(objection_create))
        .route("/objections/{id}", get(objection_view))
        .route("/objections/{id}/uphold", post(objection_uphold))
        .route("/objections/{id}/dismiss", post(objection_dismiss))
        .route(
            "/objections/{id}/undeterminable",
            post(objection_undeterminable),
        )
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

/// File an objection (intake, or a handler of the record's unit): the record shows
/// `under_objection: true` in every view at once.
#[utoipa::path(post, path = "/api/v1/objections", tag = "objections", operation_id = "objection_create",
    request_body = CreateObjection, params(crate::schema::IdempotencyKeyHeader),
    responses((status = 201, body = ObjectionView), Denied, Conflict, Unprocessable),
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
        let context = AppState::command(&auth, &ctx).with_once(once.as_ref());
        let b = &body.value;
        let (id, doc) = state
            .app
            .file_objection(context, &b.record_id, b.grounds, b.detail.clone())
            .await?;
        stored(&doc, &id, format!("/api/v1/objections/{id}"))
    };
    idempotent_create(&state, once.as_ref(), work).await
}

/// One objection (supervisor, auditor, intake; a handler: its own unit's).
#[utoipa::path(get, path = "/api/v1/objections/{id}", tag = "objections", operation_id = "objection_view",
    params(("id" = String, Path, description = "Objection id")),
    responses((status = 200, body = ObjectionView), ReadProblems),
    security(("bearer" = [])))]
#[tracing::instrument(name = "objection_view", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
pub async fn objection_view(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> DocAnswer {
    auth.require(&[Role::Supervisor, Role::Auditor, Role::Intake, Role::Handler])?;
    read_for(&state, &auth, OBJECTION_TYPE, &id.0).await
}

/// Runs `command` on the objection the verb names (a supervisor's decision).
async fn decide(v: &Verb, command: ObjectionCommand) -> DocAnswer {
    v.require(&[Role::Supervisor])?;
    let app = &v.state.app;
    respond(
        app.objection_command(v.command(), &v.id.0, v.if_match.0, command)
            .await?,
    )
}

/// Uphold the objection with an outcome (supervisor).
#[utoipa::path(post, path = "/api/v1/objections/{id}/uphold", tag = "objections",
    operation_id = "objection_uphold", request_body = UpholdBody, params(CaseIdPath, IfMatchHeader),
    responses((status = 200, body = ObjectionView), VerbProblems), security(("bearer" = [])))]
#[tracing::instrument(name = "objection_uphold", skip_all, fields(request_id = %v.ctx.request_id, case_id = %v.id.0, actor = %v.auth.token_id))]
pub async fn objection_uphold(v: Verb, body: ApiJson<UpholdBody>) -> DocAnswer {
    let (outcome, decider, at) = (body.value.outcome, decider(&v.auth), v.now());
    decide(
        &v,
        ObjectionCommand::UpholdObjection {
            outcome,
            decider,
            at,
        },
    )
    .await
}

/// Dismiss the objection (supervisor).
#[utoipa::path(post, path = "/api/v1/objections/{id}/dismiss", tag = "objections",
    operation_id = "objection_dismiss", request_body = ReasonBody, params(CaseIdPath, IfMatchHeader),
    responses((status = 200, body = ObjectionView), VerbProblems), security(("bearer" = [])))]
#[tracing::instrument(name = "objection_dismiss", skip_all, fields(request_id = %v.ctx.request_id, case_id = %v.id.0, actor = %v.auth.token_id))]
pub async fn objection_dismiss(v: Verb, body: ApiJson<ReasonBody>) -> DocAnswer {
    let (reason, decider, at) = (body.value.reason, decider(&v.auth), v.now());
    decide(
        &v,
        ObjectionCommand::DismissObjection {
            reason,
            decider,
            at,
        },
    )
    .await
}

/// The objection cannot be determined; both versions are kept (supervisor).
#[utoipa::path(post, path = "/api/v1/objections/{id}/undeterminable", tag = "objections",
    operation_id = "objection_undeterminable", request_body = NoteTextBody, params(CaseIdPath, IfMatchHeader),
    responses((status = 200, body = ObjectionView), VerbProblems), security(("bearer" = [])))]
#[tracing::instrument(name = "objection_undeterminable", skip_all, fields(request_id = %v.ctx.request_id, case_id = %v.id.0, actor = %v.auth.token_id))]
pub async fn objection_undeterminable(v: Verb, body: ApiJson<NoteTextBody>) -> DocAnswer {
    let (note, decider, at) = (body.value.note, decider(&v.auth), v.now());
    decide(
        &v,
        ObjectionCommand::MarkUndeterminable { note, decider, at },
    )
    .await
}
