//! Rectifications (限期整改): a written explanation and rectification by a deadline in
//! working days, verified or rejected by the supervisor, escalated (通报批评) when
//! overdue.

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use probity_domain::rectification::RectificationCommand;
use probity_views::integrity::{RectificationView, RECTIFICATION_TYPE};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::{Auth, Role};
use crate::complaints::EmptyBody;
use crate::error::ApiError;
use crate::extract::{ApiJson, CaseId, IdempotencyKey, OptionalJson, RequestCtx};
use crate::idempotency;
use crate::problems::{Conflict, Denied, InvalidDue, ReadProblems, VerbProblems};
use crate::resource::{idempotent_create, read_for, respond, stored, CaseIdPath, DocAnswer, Verb};
use crate::schema::IfMatchHeader;
use crate::AppState;

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
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

/// Order a rectification of a record (supervisor): due in working days.
#[utoipa::path(post, path = "/api/v1/rectifications", tag = "rectifications", operation_id = "rectification_create",
    request_body = CreateRectification, params(crate::schema::IdempotencyKeyHeader),
    responses((status = 201, body = RectificationView), Denied, Conflict, InvalidDue),
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
        let context = AppState::command(&auth, &ctx).with_once(once.as_ref());
        let (record, days) = (&body.value.record_id, body.value.working_days);
        let (id, doc) = state.app.order_rectification(context, record, days).await?;
        stored(&doc, &id, format!("/api/v1/rectifications/{id}"))
    };
    idempotent_create(&state, once.as_ref(), work).await
}

/// One rectification (supervisor, auditor, intake; a handler: its own unit's).
#[utoipa::path(get, path = "/api/v1/rectifications/{id}", tag = "rectifications", operation_id = "rectification_view",
    params(("id" = String, Path, description = "Rectification id")),
    responses((status = 200, body = RectificationView), ReadProblems),
    security(("bearer" = [])))]
#[tracing::instrument(name = "rectification_view", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
pub async fn rectification_view(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> DocAnswer {
    auth.require(&[Role::Supervisor, Role::Auditor, Role::Intake, Role::Handler])?;
    read_for(&state, &auth, RECTIFICATION_TYPE, &id.0).await
}

/// Runs `command` on the rectification the verb names.
async fn run(v: &Verb, command: RectificationCommand) -> DocAnswer {
    let app = &v.state.app;
    respond(
        app.rectification_command(v.command(), &v.id.0, v.if_match.0, command)
            .await?,
    )
}

/// File the written explanation (handler of the unit).
#[utoipa::path(post, path = "/api/v1/rectifications/{id}/file-explanation", tag = "rectifications",
    operation_id = "rectification_file_explanation", request_body = TextBody, params(CaseIdPath, IfMatchHeader),
    responses((status = 200, body = RectificationView), VerbProblems), security(("bearer" = [])))]
#[tracing::instrument(name = "rectification_file_explanation", skip_all, fields(request_id = %v.ctx.request_id, case_id = %v.id.0, actor = %v.auth.token_id))]
pub async fn rectification_file_explanation(v: Verb, body: ApiJson<TextBody>) -> DocAnswer {
    v.require(&[Role::Handler])?;
    let (unit, text) = (v.auth.handler_unit()?, body.value.text);
    run(
        &v,
        RectificationCommand::FileExplanation {
            unit,
            text,
            at: v.now(),
        },
    )
    .await
}

/// Report the rectification (handler of the unit).
#[utoipa::path(post, path = "/api/v1/rectifications/{id}/report", tag = "rectifications",
    operation_id = "rectification_report", request_body = TextBody, params(CaseIdPath, IfMatchHeader),
    responses((status = 200, body = RectificationView), VerbProblems), security(("bearer" = [])))]
#[tracing::instrument(name = "rectification_report", skip_all, fields(request_id = %v.ctx.request_id, case_id = %v.id.0, actor = %v.auth.token_id))]
pub async fn rectification_report(v: Verb, body: ApiJson<TextBody>) -> DocAnswer {
    v.require(&[Role::Handler])?;
    let (unit, text) = (v.auth.handler_unit()?, body.value.text);
    run(
        &v,
        RectificationCommand::ReportRectification {
            unit,
            text,
            at: v.now(),
        },
    )
    .await
}

/// Verify the reported rectification (supervisor).
#[utoipa::path(post, path = "/api/v1/rectifications/{id}/verify", tag = "rectifications",
    operation_id = "rectification_verify", request_body = Option<EmptyBody>, params(CaseIdPath, IfMatchHeader),
    responses((status = 200, body = RectificationView), VerbProblems), security(("bearer" = [])))]
#[tracing::instrument(name = "rectification_verify", skip_all, fields(request_id = %v.ctx.request_id, case_id = %v.id.0, actor = %v.auth.token_id))]
pub async fn rectification_verify(v: Verb, _: OptionalJson<EmptyBody>) -> DocAnswer {
    v.require(&[Role::Supervisor])?;
    run(
        &v,
        RectificationCommand::VerifyRectification { at: v.now() },
    )
    .await
}

/// Reject the report with a new due date (supervisor).
#[utoipa::path(post, path = "/api/v1/rectifications/{id}/reject", tag = "rectifications",
    operation_id = "rectification_reject", request_body = RejectBody, params(CaseIdPath, IfMatchHeader),
    responses((status = 200, body = RectificationView), VerbProblems), security(("bearer" = [])))]
#[tracing::instrument(name = "rectification_reject", skip_all, fields(request_id = %v.ctx.request_id, case_id = %v.id.0, actor = %v.auth.token_id))]
pub async fn rectification_reject(v: Verb, body: ApiJson<RejectBody>) -> DocAnswer {
    v.require(&[Role::Supervisor])?;
    let RejectBody {
        reason,
        working_days,
    } = body.value;
    let at = v.now();
    run(
        &v,
        RectificationCommand::RejectRectification {
            reason,
            working_days,
            at,
        },
    )
    .await
}

/// Record mitigation (supervisor).
#[utoipa::path(post, path = "/api/v1/rectifications/{id}/mitigate", tag = "rectifications",
    operation_id = "rectification_mitigate", request_body = LongReasonBody, params(CaseIdPath, IfMatchHeader),
    responses((status = 200, body = RectificationView), VerbProblems), security(("bearer" = [])))]
#[tracing::instrument(name = "rectification_mitigate", skip_all, fields(request_id = %v.ctx.request_id, case_id = %v.id.0, actor = %v.auth.token_id))]
pub async fn rectification_mitigate(v: Verb, body: ApiJson<LongReasonBody>) -> DocAnswer {
    v.require(&[Role::Supervisor])?;
    let reason = body.value.reason;
    run(
        &v,
        RectificationCommand::MitigateRectification {
            reason,
            at: v.now(),
        },
    )
    .await
}

/// Escalate an overdue rectification: 通报批评 (supervisor; the deadline engine does it by itself).
#[utoipa::path(post, path = "/api/v1/rectifications/{id}/escalate", tag = "rectifications",
    operation_id = "rectification_escalate", request_body = Option<EmptyBody>, params(CaseIdPath, IfMatchHeader),
    responses((status = 200, body = RectificationView), VerbProblems), security(("bearer" = [])))]
#[tracing::instrument(name = "rectification_escalate", skip_all, fields(request_id = %v.ctx.request_id, case_id = %v.id.0, actor = %v.auth.token_id))]
pub async fn rectification_escalate(v: Verb, _: OptionalJson<EmptyBody>) -> DocAnswer {
    v.require(&[Role::Supervisor])?;
    run(
        &v,
        RectificationCommand::EscalateRectification { at: v.now() },
    )
    .await
}
