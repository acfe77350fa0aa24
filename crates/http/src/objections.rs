//! Objections (异议) to records: filed by intake or the record's unit (the record shows
//! `under_objection` at once), upheld with an outcome, dismissed, or undeterminable.

use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use probity_app::integrity::decider;
use probity_domain::objection::{Grounds, ObjectionCommand, ObjectionOutcome};
use probity_views::integrity::{ObjectionView, OBJECTION_TYPE};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::Role;
use crate::complaints::ReasonBody;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::problems::{Conflict, Denied, Unprocessable, VerbProblems};
use crate::resource::{document_view, respond, text_bodies, verbs, Creation, DocAnswer, Verb};
use crate::AppState;

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/objections", post(objection_create))
        .route("/objections/{id}", get(objection_view))
        .merge(verb_routes())
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

text_bodies! {
    /// `undeterminable` of an objection.
    NoteTextBody {
        /// At most 4000 characters, not blank.
        note: 4000
    }
}

/// File an objection (intake, or a handler of the record's unit): the record shows
/// `under_objection: true` in every view at once.
#[utoipa::path(post, path = "/api/v1/objections", tag = "objections", operation_id = "objection_create",
    request_body = CreateObjection, params(crate::schema::IdempotencyKeyHeader),
    responses((status = 201, body = ObjectionView), Denied, Conflict, Unprocessable),
    security(("bearer" = [])))]
#[tracing::instrument(name = "objection_create", skip_all, fields(request_id = %c.ctx.request_id, actor = %c.auth.token_id, case_id))]
pub async fn objection_create(c: Creation<CreateObjection>) -> Result<Response, ApiError> {
    c.auth.require(&[Role::Intake, Role::Handler])?;
    let b = &c.body.value;
    let app = &c.state.app;
    c.create("/api/v1/objections", async |context| {
        app.file_objection(context, &b.record_id, b.grounds, b.detail.clone())
            .await
    })
    .await
}

document_view! {
    /// One objection (supervisor, auditor, intake; a handler: its own unit's).
    objection_view "/api/v1/objections/{id}", tag = "objections", id = "Objection id", view = ObjectionView,
    type = OBJECTION_TYPE, roles = [Supervisor, Auditor, Intake, Handler]
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

verbs! {
    tag = "objections", ok = (status = 200, body = ObjectionView), problems = VerbProblems,
    answer = DocAnswer;

    /// Uphold the objection with an outcome (supervisor).
    objection_uphold "/api/v1/objections/{id}/uphold" [UpholdBody]
    |v, body: ApiJson<UpholdBody>| {
        let (outcome, decider, at) = (body.value.outcome, decider(&v.auth), v.now());
        decide(&v, ObjectionCommand::UpholdObjection { outcome, decider, at }).await
    }

    /// Dismiss the objection (supervisor).
    objection_dismiss "/api/v1/objections/{id}/dismiss" [ReasonBody]
    |v, body: ApiJson<ReasonBody>| {
        let (reason, decider, at) = (body.value.reason, decider(&v.auth), v.now());
        decide(&v, ObjectionCommand::DismissObjection { reason, decider, at }).await
    }

    /// Record the check (核查) of the contested record (supervisor, the deciding
    /// authority): stops the 1-working-day `objection_check` deadline; the decision
    /// stays owed.
    objection_check "/api/v1/objections/{id}/check" [NoteTextBody]
    |v, body: ApiJson<NoteTextBody>| {
        let (note, decider, at) = (body.value.note, decider(&v.auth), v.now());
        decide(&v, ObjectionCommand::CheckObjection { note, decider, at }).await
    }

    /// The objection cannot be determined; both versions are kept (supervisor).
    objection_undeterminable "/api/v1/objections/{id}/undeterminable" [NoteTextBody]
    |v, body: ApiJson<NoteTextBody>| {
        let (note, decider, at) = (body.value.note, decider(&v.auth), v.now());
        decide(&v, ObjectionCommand::MarkUndeterminable { note, decider, at }).await
    }
}
