//! Credit repairs (信用修复): an application with a public commitment and evidence,
//! accepted and decided by the recording authority or the credit office, revocable.

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use probity_app::integrity::{acting_unit, decider};
use probity_domain::repair::RepairCommand;
use probity_views::integrity::{RepairView, REPAIR_TYPE};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::{Auth, Role};
use crate::complaints::EmptyBody;
use crate::error::ApiError;
use crate::extract::{ApiJson, CaseId, IdempotencyKey, OptionalJson, RequestCtx};
use crate::idempotency;
use crate::problems::{Denied, ReadProblems, RepairNotEligible, Unprocessable, VerbProblems};
use crate::rectifications::LongReasonBody;
use crate::resource::{idempotent_create, read_for, respond, stored, CaseIdPath, DocAnswer, Verb};
use crate::schema::IfMatchHeader;
use crate::AppState;

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/repairs", post(repair_create))
        .route("/repairs/{id}", get(repair_view))
        .route("/repairs/{id}/supplement", post(repair_supplement))
        .route("/repairs/{id}/accept", post(repair_accept))
        .route("/repairs/{id}/request-more", post(repair_request_more))
        .route("/repairs/{id}/approve", post(repair_approve))
        .route("/repairs/{id}/deny", post(repair_deny))
        .route("/repairs/{id}/revoke", post(repair_revoke))
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

/// Apply for a credit repair (handler of the record's unit, intake). Too early or not
/// allowed is 409 `repair_not_eligible` with `possible_from`.
#[utoipa::path(post, path = "/api/v1/repairs", tag = "repairs", operation_id = "repair_create",
    request_body = CreateRepair, params(crate::schema::IdempotencyKeyHeader),
    responses((status = 201, body = RepairView), Denied, RepairNotEligible, Unprocessable),
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
        let context = AppState::command(&auth, &ctx).with_once(once.as_ref());
        let b = &body.value;
        let (commitment, evidence) = (b.commitment.clone(), b.evidence.clone());
        let (id, doc) = state
            .app
            .apply_for_repair(context, &b.record_id, commitment, evidence)
            .await?;
        stored(&doc, &id, format!("/api/v1/repairs/{id}"))
    };
    idempotent_create(&state, once.as_ref(), work).await
}

/// One repair (supervisor, auditor, intake; a handler: its own unit's).
#[utoipa::path(get, path = "/api/v1/repairs/{id}", tag = "repairs", operation_id = "repair_view",
    params(("id" = String, Path, description = "Repair id")),
    responses((status = 200, body = RepairView), ReadProblems),
    security(("bearer" = [])))]
#[tracing::instrument(name = "repair_view", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
pub async fn repair_view(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> DocAnswer {
    auth.require(&[Role::Supervisor, Role::Auditor, Role::Intake, Role::Handler])?;
    read_for(&state, &auth, REPAIR_TYPE, &id.0).await
}

/// Runs `command` on the repair the verb names.
async fn run(v: &Verb, command: RepairCommand) -> DocAnswer {
    let app = &v.state.app;
    respond(
        app.repair_command(v.command(), &v.id.0, v.if_match.0, command)
            .await?,
    )
}

/// Supply the material asked for (handler of the unit, intake).
#[utoipa::path(post, path = "/api/v1/repairs/{id}/supplement", tag = "repairs",
    operation_id = "repair_supplement", request_body = EvidenceBody, params(CaseIdPath, IfMatchHeader),
    responses((status = 200, body = RepairView), VerbProblems), security(("bearer" = [])))]
#[tracing::instrument(name = "repair_supplement", skip_all, fields(request_id = %v.ctx.request_id, case_id = %v.id.0, actor = %v.auth.token_id))]
pub async fn repair_supplement(v: Verb, body: ApiJson<EvidenceBody>) -> DocAnswer {
    v.require(&[Role::Handler, Role::Intake])?;
    let (applicant_unit, evidence) = (acting_unit(&v.auth)?, body.value.evidence);
    run(
        &v,
        RepairCommand::SupplementRepair {
            applicant_unit,
            evidence,
            at: v.now(),
        },
    )
    .await
}

/// Accept the application: decision due in 10 working days (supervisor of the recording authority or the credit office).
#[utoipa::path(post, path = "/api/v1/repairs/{id}/accept", tag = "repairs",
    operation_id = "repair_accept", request_body = Option<EmptyBody>, params(CaseIdPath, IfMatchHeader),
    responses((status = 200, body = RepairView), VerbProblems), security(("bearer" = [])))]
#[tracing::instrument(name = "repair_accept", skip_all, fields(request_id = %v.ctx.request_id, case_id = %v.id.0, actor = %v.auth.token_id))]
pub async fn repair_accept(v: Verb, _: OptionalJson<EmptyBody>) -> DocAnswer {
    v.require(&[Role::Supervisor])?;
    run(
        &v,
        RepairCommand::AcceptRepair {
            decider: decider(&v.auth),
            at: v.now(),
        },
    )
    .await
}

/// Ask for more material (supervisor).
#[utoipa::path(post, path = "/api/v1/repairs/{id}/request-more", tag = "repairs",
    operation_id = "repair_request_more", request_body = WhatBody, params(CaseIdPath, IfMatchHeader),
    responses((status = 200, body = RepairView), VerbProblems), security(("bearer" = [])))]
#[tracing::instrument(name = "repair_request_more", skip_all, fields(request_id = %v.ctx.request_id, case_id = %v.id.0, actor = %v.auth.token_id))]
pub async fn repair_request_more(v: Verb, body: ApiJson<WhatBody>) -> DocAnswer {
    v.require(&[Role::Supervisor])?;
    let (what, decider, at) = (body.value.what, decider(&v.auth), v.now());
    run(
        &v,
        RepairCommand::RequestMoreForRepair { what, decider, at },
    )
    .await
}

/// Approve: publication ends, sanctions lift (supervisor).
#[utoipa::path(post, path = "/api/v1/repairs/{id}/approve", tag = "repairs",
    operation_id = "repair_approve", request_body = Option<EmptyBody>, params(CaseIdPath, IfMatchHeader),
    responses((status = 200, body = RepairView), VerbProblems), security(("bearer" = [])))]
#[tracing::instrument(name = "repair_approve", skip_all, fields(request_id = %v.ctx.request_id, case_id = %v.id.0, actor = %v.auth.token_id))]
pub async fn repair_approve(v: Verb, _: OptionalJson<EmptyBody>) -> DocAnswer {
    v.require(&[Role::Supervisor])?;
    run(
        &v,
        RepairCommand::ApproveRepair {
            decider: decider(&v.auth),
            at: v.now(),
        },
    )
    .await
}

/// Deny the application (supervisor).
#[utoipa::path(post, path = "/api/v1/repairs/{id}/deny", tag = "repairs",
    operation_id = "repair_deny", request_body = LongReasonBody, params(CaseIdPath, IfMatchHeader),
    responses((status = 200, body = RepairView), VerbProblems), security(("bearer" = [])))]
#[tracing::instrument(name = "repair_deny", skip_all, fields(request_id = %v.ctx.request_id, case_id = %v.id.0, actor = %v.auth.token_id))]
pub async fn repair_deny(v: Verb, body: ApiJson<LongReasonBody>) -> DocAnswer {
    v.require(&[Role::Supervisor])?;
    let (reason, decider, at) = (body.value.reason, decider(&v.auth), v.now());
    run(
        &v,
        RepairCommand::DenyRepair {
            reason,
            decider,
            at,
        },
    )
    .await
}

/// Revoke an approved repair: the record is published again until its maximum period (supervisor).
#[utoipa::path(post, path = "/api/v1/repairs/{id}/revoke", tag = "repairs",
    operation_id = "repair_revoke", request_body = LongReasonBody, params(CaseIdPath, IfMatchHeader),
    responses((status = 200, body = RepairView), VerbProblems), security(("bearer" = [])))]
#[tracing::instrument(name = "repair_revoke", skip_all, fields(request_id = %v.ctx.request_id, case_id = %v.id.0, actor = %v.auth.token_id))]
pub async fn repair_revoke(v: Verb, body: ApiJson<LongReasonBody>) -> DocAnswer {
    v.require(&[Role::Supervisor])?;
    let (reason, decider, at) = (body.value.reason, decider(&v.auth), v.now());
    run(
        &v,
        RepairCommand::RevokeRepair {
            reason,
            decider,
            at,
        },
    )
    .await
}
