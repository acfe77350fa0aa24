//! Assessment of governments and departments (政务诚信考核评价):
//! `GET /api/v1/assessments` (supervisors, auditors: every figure, own and rolled up) and
//! `GET /api/v1/public/assessments` (no token: scores, ranks and headline counts only).
//! Both fold the event log as it stood at `as_of` (default: now), score with the
//! configured formula (`[assessment]`) and rank the rows returned. See
//! `docs/assessment.md`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use probity_domain::assessment::Period;
use probity_domain::{CreditCode, WorkingCalendar};
use probity_views::assessment::{assess, rank, AssessmentRow, FormulaRef, PublicAssessmentRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Auth, Role};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, RequestCtx};
use crate::history::parse_as_of;
use crate::AppState;

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/assessments", get(assessment_list))
        .route("/public/assessments", get(public_assessment_list))
}

/// `GET /api/v1/assessments` and `GET /api/v1/public/assessments` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssessmentQuery {
    /// Required: a year (`2026`) or a quarter (`2026-Q2`), Asia/Shanghai dates.
    #[param(required = true, pattern = "^[1-9][0-9]{3}(?:-[Qq][1-4])?$")]
    pub period: Option<String>,
    /// Only the government with this credit code and its departments.
    #[param(value_type = Option<crate::schema::CreditCode>)]
    pub parent_code: Option<String>,
    /// RFC 3339 instant: recompute from the log as it stood then (default: now).
    #[param(format = DateTime)]
    pub as_of: Option<String>,
}

/// Every government and department assessed over a period, best first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AssessmentList {
    /// `2026` or `2026-Q2`.
    pub period: String,
    /// The instant the log was read as of (null: now).
    pub as_of: Option<DateTime<Utc>>,
    /// The day a reply or rectification still owed is judged late against
    /// (the Asia/Shanghai date of `as_of`, or today).
    pub evaluated_on: NaiveDate,
    pub formula: FormulaRef,
    pub items: Vec<AssessmentRow>,
}

/// The public assessment: scores, ranks and headline counts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicAssessmentList {
    pub period: String,
    pub as_of: Option<DateTime<Utc>>,
    pub formula: FormulaRef,
    pub items: Vec<PublicAssessmentRow>,
}

struct Assessed {
    period: Period,
    as_of: Option<DateTime<Utc>>,
    today: NaiveDate,
    rows: Vec<AssessmentRow>,
}

async fn run(state: &AppState, q: &AssessmentQuery) -> Result<Assessed, ApiError> {
    let period = match q.period.as_deref().map(str::trim) {
        None | Some("") => {
            return Err(ApiError::field(
                "period",
                "required",
                "period is required: a year (2026) or a quarter (2026-Q2)",
            ))
        }
        Some(p) => p
            .parse::<Period>()
            .map_err(|e| ApiError::field("period", "invalid", e.to_string()))?,
    };
    let parent = q
        .parent_code
        .as_deref()
        .map(|c| CreditCode::parse(c.trim()).map_err(|e| ApiError::from_id("parent_code", e)))
        .transpose()?
        .map(|c| c.to_string());
    let as_of = parse_as_of(q.as_of.as_deref())?;
    let today = as_of
        .map(WorkingCalendar::local_date)
        .unwrap_or_else(|| state.clock.today());
    let mut rows = assess(&state.log, period, as_of, today, &state.assessment).await?;
    if let Some(parent) = parent {
        rows.retain(|r| r.code == parent || r.parent_code.as_deref() == Some(parent.as_str()));
        rank(&mut rows);
    }
    Ok(Assessed {
        period,
        as_of,
        today,
        rows,
    })
}

/// Assessment of every government and department (supervisor, auditor).
#[utoipa::path(
    get, path = "/api/v1/assessments", tag = "assessments", operation_id = "assessment_list",
    params(AssessmentQuery),
    responses(
        (status = 200, body = AssessmentList),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_failed, invalid_credit_code", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "assessment_list", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn assessment_list(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    ApiQuery(q): ApiQuery<AssessmentQuery>,
) -> Result<Json<AssessmentList>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Auditor])?;
    let a = run(&state, &q).await?;
    Ok(Json(AssessmentList {
        period: a.period.to_string(),
        as_of: a.as_of,
        evaluated_on: a.today,
        formula: (&state.assessment).into(),
        items: a.rows,
    }))
}

/// The public assessment (no token): scores, ranks, formula version, headline counts.
#[utoipa::path(get, path = "/api/v1/public/assessments", tag = "public", operation_id = "public_assessment_list",
    params(AssessmentQuery),
    responses((status = 200, body = PublicAssessmentList),
        (status = 422, description = "validation_failed, invalid_credit_code", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(name = "public_assessment_list", skip_all, fields(request_id = %ctx.request_id))]
pub async fn public_assessment_list(
    State(state): State<AppState>,
    ctx: RequestCtx,
    ApiQuery(q): ApiQuery<AssessmentQuery>,
) -> Result<Json<PublicAssessmentList>, ApiError> {
    let a = run(&state, &q).await?;
    Ok(Json(PublicAssessmentList {
        period: a.period.to_string(),
        as_of: a.as_of,
        formula: (&state.assessment).into(),
        items: a.rows.iter().map(PublicAssessmentRow::from).collect(),
    }))
}
