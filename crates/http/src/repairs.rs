//! Credit repairs (信用修复): an application with a public commitment and evidence,
//! accepted and decided by the recording authority or the credit office, revocable.

use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use probity_app::integrity::{acting_unit, decider};
use probity_domain::repair::RepairCommand;
use probity_views::integrity::{RepairView, REPAIR_TYPE};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::Role;
use crate::complaints::EmptyBody;
use crate::error::ApiError;
use crate::extract::{ApiJson, OptionalJson};
use crate::problems::{Denied, RepairNotEligible, Unprocessable, VerbProblems};
use crate::rectifications::LongReasonBody;
use crate::resource::{document_view, respond, text_bodies, verbs, Creation, DocAnswer, Verb};
use crate::AppState;

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/repairs", post(repair_create))
        .route("/repairs/{id}", get(repair_view))
        .merge(verb_routes())
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

text_bodies! {
    /// `supplement` of a repair.
    EvidenceBody {
        /// At most 8000 characters, not blank.
        evidence: 8000
    }

    /// `request-more` of a repair.
    WhatBody {
        /// At most 8000 characters, not blank.
        what: 8000
    }
}

/// Apply for a credit repair (handler of the record's unit, intake). Too early or not
/// allowed is 409 `repair_not_eligible` with `possible_from`.
#[utoipa::path(post, path = "/api/v1/repairs", tag = "repairs", operation_id = "repair_create",
    request_body = CreateRepair, params(crate::schema::IdempotencyKeyHeader),
    responses((status = 201, body = RepairView), Denied, RepairNotEligible, Unprocessable),
    security(("bearer" = [])))]
#[tracing::instrument(name = "repair_create", skip_all, fields(request_id = %c.ctx.request_id, actor = %c.auth.token_id, case_id))]
pub async fn repair_create(c: Creation<CreateRepair>) -> Result<Response, ApiError> {
    c.auth.require(&[Role::Handler, Role::Intake])?;
    let b = &c.body.value;
    let (commitment, evidence) = (b.commitment.clone(), b.evidence.clone());
    let app = &c.state.app;
    c.create("/api/v1/repairs", async |context| {
        app.apply_for_repair(context, &b.record_id, commitment, evidence)
            .await
    })
    .await
}

document_view! {
    /// One repair (supervisor, auditor, intake; a handler: its own unit's).
    repair_view "/api/v1/repairs/{id}", tag = "repairs", id = "Repair id", view = RepairView,
    type = REPAIR_TYPE, roles = [Supervisor, Auditor, Intake, Handler]
}

/// Runs `command` on the repair the verb names.
async fn run(v: &Verb, command: RepairCommand) -> DocAnswer {
    let app = &v.state.app;
    respond(
        app.repair_command(v.command(), &v.id.0, v.if_match.0, command)
            .await?,
    )
}

verbs! {
    tag = "repairs", ok = (status = 200, body = RepairView), problems = VerbProblems,
    answer = DocAnswer;

    /// Supply the material asked for (handler of the unit, intake).
    repair_supplement "/api/v1/repairs/{id}/supplement" [EvidenceBody]
    |v, body: ApiJson<EvidenceBody>| {
        v.require(&[Role::Handler, Role::Intake])?;
        let (applicant_unit, evidence, at) = (acting_unit(&v.auth)?, body.value.evidence, v.now());
        run(&v, RepairCommand::SupplementRepair { applicant_unit, evidence, at }).await
    }

    /// Accept the application: decision due in 10 working days (supervisor of the recording authority or the credit office).
    repair_accept "/api/v1/repairs/{id}/accept" [Option<EmptyBody>]
    |v, _body: OptionalJson<EmptyBody>| {
        v.require(&[Role::Supervisor])?;
        run(&v, RepairCommand::AcceptRepair { decider: decider(&v.auth), at: v.now() }).await
    }

    /// Ask for more material (supervisor).
    repair_request_more "/api/v1/repairs/{id}/request-more" [WhatBody]
    |v, body: ApiJson<WhatBody>| {
        v.require(&[Role::Supervisor])?;
        let (what, decider, at) = (body.value.what, decider(&v.auth), v.now());
        run(&v, RepairCommand::RequestMoreForRepair { what, decider, at }).await
    }

    /// Approve: publication ends, sanctions lift (supervisor).
    repair_approve "/api/v1/repairs/{id}/approve" [Option<EmptyBody>]
    |v, _body: OptionalJson<EmptyBody>| {
        v.require(&[Role::Supervisor])?;
        run(&v, RepairCommand::ApproveRepair { decider: decider(&v.auth), at: v.now() }).await
    }

    /// Deny the application (supervisor).
    repair_deny "/api/v1/repairs/{id}/deny" [LongReasonBody]
    |v, body: ApiJson<LongReasonBody>| {
        v.require(&[Role::Supervisor])?;
        let (reason, decider, at) = (body.value.reason, decider(&v.auth), v.now());
        run(&v, RepairCommand::DenyRepair { reason, decider, at }).await
    }

    /// Revoke an approved repair: the record is published again until its maximum period (supervisor).
    repair_revoke "/api/v1/repairs/{id}/revoke" [LongReasonBody]
    |v, body: ApiJson<LongReasonBody>| {
        v.require(&[Role::Supervisor])?;
        let (reason, decider, at) = (body.value.reason, decider(&v.auth), v.now());
        run(&v, RepairCommand::RevokeRepair { reason, decider, at }).await
    }
}
