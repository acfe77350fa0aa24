//! Rectifications (限期整改): a written explanation and rectification by a deadline in
//! working days, verified or rejected by the supervisor, escalated (通报批评) when
//! overdue.

use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use probity_domain::rectification::RectificationCommand;
use probity_views::integrity::{RectificationView, RECTIFICATION_TYPE};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::Role;
use crate::complaints::EmptyBody;
use crate::error::ApiError;
use crate::extract::{ApiJson, OptionalJson};
use crate::problems::{Conflict, Denied, InvalidDue, VerbProblems};
use crate::resource::{document_view, respond, text_bodies, verbs, Creation, DocAnswer, Verb};
use crate::AppState;

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/rectifications", post(rectification_create))
        .route("/rectifications/{id}", get(rectification_view))
        .merge(verb_routes())
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

text_bodies! {
    /// `file-explanation`, `report`.
    TextBody {
        /// At most 8000 characters, not blank.
        text: 8000
    }

    /// `mitigate` of a rectification, `deny` and `revoke` of a repair.
    LongReasonBody {
        /// At most 8000 characters, not blank.
        reason: 8000
    }
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

/// Order a rectification of a record (supervisor): due in working days.
#[utoipa::path(post, path = "/api/v1/rectifications", tag = "rectifications", operation_id = "rectification_create",
    request_body = CreateRectification, params(crate::schema::IdempotencyKeyHeader),
    responses((status = 201, body = RectificationView), Denied, Conflict, InvalidDue),
    security(("bearer" = [])))]
#[tracing::instrument(name = "rectification_create", skip_all, fields(request_id = %c.ctx.request_id, actor = %c.auth.token_id, case_id))]
pub async fn rectification_create(c: Creation<CreateRectification>) -> Result<Response, ApiError> {
    c.auth.require(&[Role::Supervisor])?;
    let (record, days) = (&c.body.value.record_id, c.body.value.working_days);
    let app = &c.state.app;
    c.create("/api/v1/rectifications", async |context| {
        app.order_rectification(context, record, days).await
    })
    .await
}

document_view! {
    /// One rectification (supervisor, auditor, intake; a handler: its own unit's).
    rectification_view "/api/v1/rectifications/{id}", tag = "rectifications", id = "Rectification id", view = RectificationView,
    type = RECTIFICATION_TYPE, roles = [Supervisor, Auditor, Intake, Handler]
}

/// Runs `command` on the rectification the verb names.
async fn run(v: &Verb, command: RectificationCommand) -> DocAnswer {
    let app = &v.state.app;
    respond(
        app.rectification_command(v.command(), &v.id.0, v.if_match.0, command)
            .await?,
    )
}

verbs! {
    tag = "rectifications", ok = (status = 200, body = RectificationView), problems = VerbProblems,
    answer = DocAnswer;

    /// File the written explanation (handler of the unit).
    rectification_file_explanation "/api/v1/rectifications/{id}/file-explanation" [TextBody]
    |v, body: ApiJson<TextBody>| {
        v.require(&[Role::Handler])?;
        let (unit, text, at) = (v.auth.handler_unit()?, body.value.text, v.now());
        run(&v, RectificationCommand::FileExplanation { unit, text, at }).await
    }

    /// Report the rectification (handler of the unit).
    rectification_report "/api/v1/rectifications/{id}/report" [TextBody]
    |v, body: ApiJson<TextBody>| {
        v.require(&[Role::Handler])?;
        let (unit, text, at) = (v.auth.handler_unit()?, body.value.text, v.now());
        run(&v, RectificationCommand::ReportRectification { unit, text, at }).await
    }

    /// Verify the reported rectification (supervisor).
    rectification_verify "/api/v1/rectifications/{id}/verify" [Option<EmptyBody>]
    |v, _body: OptionalJson<EmptyBody>| {
        v.require(&[Role::Supervisor])?;
        run(&v, RectificationCommand::VerifyRectification { at: v.now() }).await
    }

    /// Reject the report with a new due date (supervisor).
    rectification_reject "/api/v1/rectifications/{id}/reject" [RejectBody]
    |v, body: ApiJson<RejectBody>| {
        v.require(&[Role::Supervisor])?;
        let RejectBody { reason, working_days } = body.value;
        let command = RectificationCommand::RejectRectification { reason, working_days, at: v.now() };
        run(&v, command).await
    }

    /// Record mitigation (supervisor).
    rectification_mitigate "/api/v1/rectifications/{id}/mitigate" [LongReasonBody]
    |v, body: ApiJson<LongReasonBody>| {
        v.require(&[Role::Supervisor])?;
        let reason = body.value.reason;
        run(&v, RectificationCommand::MitigateRectification { reason, at: v.now() }).await
    }

    /// Escalate an overdue rectification: 通报批评 (supervisor; the deadline engine does it by itself).
    rectification_escalate "/api/v1/rectifications/{id}/escalate" [Option<EmptyBody>]
    |v, _body: OptionalJson<EmptyBody>| {
        v.require(&[Role::Supervisor])?;
        run(&v, RectificationCommand::EscalateRectification { at: v.now() }).await
    }
}
