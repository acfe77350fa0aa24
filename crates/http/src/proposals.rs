//! Record proposals (§3 of the city's opinions): third-party information submitted by
//! an evaluator (a third-party credit service) or an admin, confirmed by the credit
//! office (it becomes a dishonesty record of source `third_party`) or rejected with a
//! reason. Never published before it is confirmed. The use-cases are
//! [`probity_app::proposals`]'.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use probity_app::proposals::Proposal;
use probity_domain::integrity::{Sector, Severity};
use probity_domain::record_proposal::{ProposalStatus, ProposedFinding};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Auth;
use crate::complaints::page_limit;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, CaseId, RequestCtx};
use crate::problems::{AlreadyExists, Denied, InvalidCreditCode, NotFound, Unprocessable};
use crate::problems::{ReadProblems, VerbProblems};
use crate::resource::parse_code;
use crate::AppState;

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/record-proposals",
            post(proposal_submit).get(proposal_list),
        )
        .route("/record-proposals/{id}", get(proposal_view))
        .route("/record-proposals/{id}/confirm", post(proposal_confirm))
        .route("/record-proposals/{id}/reject", post(proposal_reject))
}

/// `POST /api/v1/record-proposals`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitProposal {
    /// The organisation it is about.
    #[schema(value_type = crate::schema::CreditCode)]
    pub subject_code: String,
    /// The third-party credit service that collected it. At most 200 characters, not
    /// blank.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub provider: String,
    /// The provider's reference of the finding; with `provider`, unique. At most 200
    /// characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub provider_ref: String,
    /// The day of the underlying decision or finding; not in the future.
    pub decision_date: NaiveDate,
    #[schema(value_type = crate::schema::Severity, example = "ordinary")]
    pub severity: Severity,
    #[schema(value_type = crate::schema::Sector, example = "general")]
    pub sector: Sector,
    /// At most 2000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub summary: String,
}

/// `reject` of a proposal.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectProposalBody {
    /// Why it is rejected. At most 2000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub reason: String,
}

/// A record proposal.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProposalResponse {
    pub id: String,
    /// Its last sequence.
    pub version: usize,
    /// submitted, confirmed or rejected.
    pub status: String,
    pub subject_code: String,
    pub provider: String,
    pub provider_ref: String,
    pub decision_date: NaiveDate,
    pub severity: String,
    pub sector: String,
    pub summary: String,
    /// Token id of the submitter.
    pub submitted_by: String,
    pub submitted_at: DateTime<Utc>,
    /// The record it became (confirmed).
    pub record_id: Option<String>,
    /// Why it was rejected (rejected).
    pub rejection_reason: Option<String>,
    /// Token id of the supervisor that decided it.
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

impl ProposalResponse {
    fn from_proposal(p: Proposal) -> Result<Self, ApiError> {
        let s = p.state;
        let (Some(f), Some(by), Some(at)) = (s.finding, s.submitted_by, s.submitted_at) else {
            return Err(ApiError::NotFound("record proposal not found".into()));
        };
        Ok(Self {
            id: p.id,
            version: p.version,
            status: s.status.as_str().to_string(),
            subject_code: f.subject_code.as_str().to_string(),
            provider: f.provider,
            provider_ref: f.provider_ref,
            decision_date: f.decision_date,
            severity: f.severity.as_str().to_string(),
            sector: f.sector.as_str().to_string(),
            summary: f.summary,
            submitted_by: by,
            submitted_at: at,
            record_id: s.record_id,
            rejection_reason: s.rejection_reason,
            decided_by: s.decided_by,
            decided_at: s.decided_at,
        })
    }
}

/// `GET /api/v1/record-proposals` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProposalQuery {
    /// submitted, confirmed or rejected.
    #[param(value_type = Option<crate::schema::ProposalStatus>)]
    pub status: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// A `next_cursor` this list returned (opaque); anything else is 422.
    #[param(format = "proposal-cursor")]
    pub cursor: Option<String>,
}

/// A page of record proposals, newest submission first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProposalList {
    pub items: Vec<ProposalResponse>,
    pub next_cursor: Option<String>,
}

fn answer(status: StatusCode, p: Proposal) -> Result<Response, ApiError> {
    let body = ProposalResponse::from_proposal(p)?;
    let mut response = (status, Json(&body)).into_response();
    response
        .headers_mut()
        .insert(header::ETAG, HeaderValue::from(body.version));
    if status == StatusCode::CREATED {
        let location = HeaderValue::from_str(&format!("/api/v1/record-proposals/{}", body.id))
            .map_err(ApiError::internal)?;
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Submit third-party information as a record proposal (evaluator, admin). The same
/// provider and reference again: 409 `already_exists`.
#[utoipa::path(post, path = "/api/v1/record-proposals", tag = "record-proposals", operation_id = "proposal_submit",
    request_body = SubmitProposal,
    responses((status = 201, body = ProposalResponse), Denied, AlreadyExists, InvalidCreditCode),
    security(("bearer" = [])))]
#[tracing::instrument(name = "proposal_submit", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn proposal_submit(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    body: ApiJson<SubmitProposal>,
) -> Result<Response, ApiError> {
    auth.require(&[probity_app::Role::Evaluator, probity_app::Role::Admin])?;
    let b = body.value;
    let finding = ProposedFinding {
        subject_code: parse_code("subject_code", &b.subject_code)?,
        provider: b.provider,
        provider_ref: b.provider_ref,
        decision_date: b.decision_date,
        severity: b.severity,
        sector: b.sector,
        summary: b.summary,
    };
    let p = state
        .app
        .submit_proposal(AppState::command(&auth, &ctx), finding)
        .await?;
    answer(StatusCode::CREATED, p)
}

/// Record proposals, newest submission first (supervisor, auditor, admin), only those in
/// `status` when given; every page is full while more match.
#[utoipa::path(get, path = "/api/v1/record-proposals", tag = "record-proposals", operation_id = "proposal_list",
    params(ProposalQuery),
    responses((status = 200, body = ProposalList), Denied, Unprocessable),
    security(("bearer" = [])))]
#[tracing::instrument(name = "proposal_list", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn proposal_list(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    ApiQuery(q): ApiQuery<ProposalQuery>,
) -> Result<Json<ProposalList>, ApiError> {
    auth.require(&[
        probity_app::Role::Supervisor,
        probity_app::Role::Auditor,
        probity_app::Role::Admin,
    ])?;
    let limit = page_limit(q.limit)?;
    let status = match q.status.as_deref() {
        None => None,
        Some("submitted") => Some(ProposalStatus::Submitted),
        Some("confirmed") => Some(ProposalStatus::Confirmed),
        Some("rejected") => Some(ProposalStatus::Rejected),
        Some(_) => {
            return Err(ApiError::field(
                "status",
                "invalid",
                "status must be submitted, confirmed or rejected",
            ))
        }
    };
    let page = state
        .app
        .proposals(&auth, status, q.cursor.as_deref(), limit)
        .await?;
    Ok(Json(ProposalList {
        items: page
            .items
            .into_iter()
            .map(ProposalResponse::from_proposal)
            .collect::<Result<_, _>>()?,
        next_cursor: page.next_cursor,
    }))
}

/// One record proposal (supervisor, auditor, admin; an evaluator: its own).
#[utoipa::path(get, path = "/api/v1/record-proposals/{id}", tag = "record-proposals", operation_id = "proposal_view",
    params(("id" = String, Path, description = "Proposal id")),
    responses((status = 200, body = ProposalResponse), ReadProblems),
    security(("bearer" = [])))]
#[tracing::instrument(name = "proposal_view", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id, case_id = %id.0))]
pub async fn proposal_view(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> Result<Response, ApiError> {
    let p = state.app.proposal_for(&auth, &id.0).await?;
    answer(StatusCode::OK, p)
}

/// Confirm a proposal: it is recorded as a dishonesty record of source `third_party`
/// (`record_id`), under the record's own rules (the credit office: an unbound
/// supervisor).
#[utoipa::path(post, path = "/api/v1/record-proposals/{id}/confirm", tag = "record-proposals", operation_id = "proposal_confirm",
    params(("id" = String, Path, description = "Proposal id")),
    responses((status = 200, body = ProposalResponse), VerbProblems),
    security(("bearer" = [])))]
#[tracing::instrument(name = "proposal_confirm", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id, case_id = %id.0))]
pub async fn proposal_confirm(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> Result<Response, ApiError> {
    let p = state
        .app
        .confirm_proposal(AppState::command(&auth, &ctx), &id.0)
        .await?;
    answer(StatusCode::OK, p)
}

/// Reject a proposal with a reason; nothing is recorded (the credit office: an unbound
/// supervisor).
#[utoipa::path(post, path = "/api/v1/record-proposals/{id}/reject", tag = "record-proposals", operation_id = "proposal_reject",
    params(("id" = String, Path, description = "Proposal id")),
    request_body = RejectProposalBody,
    responses((status = 200, body = ProposalResponse), VerbProblems, NotFound),
    security(("bearer" = [])))]
#[tracing::instrument(name = "proposal_reject", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id, case_id = %id.0))]
pub async fn proposal_reject(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    body: ApiJson<RejectProposalBody>,
) -> Result<Response, ApiError> {
    let p = state
        .app
        .reject_proposal(AppState::command(&auth, &ctx), &id.0, body.value.reason)
        .await?;
    answer(StatusCode::OK, p)
}
