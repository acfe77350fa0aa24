//! Assessment of governments and departments (政务诚信考核评价):
//! `GET /api/v1/assessments` (supervisors, auditors: every figure, own and rolled up) and
//! `GET /api/v1/public/assessments` (no token: scores, ranks and headline counts only).
//! Without `as_of` both read the stored assessment the projectors keep
//! (`probity_views::assessment::assess_stored`: a few rows per unit, whatever the size of
//! the log). `as_of` recomputes from the log as it stood then with the reference fold,
//! which reads the whole log: only supervisors and auditors may ask for it (the
//! authenticated endpoint), and at most [`AS_OF_FOLDS`] such folds run at once. The
//! public endpoint refuses `as_of` (422), so no anonymous request can make the server
//! read the whole log. Rows are scored with the configured formula (`[assessment]`) and
//! ranked. See `docs/assessment.md`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use probity_domain::assessment::Period;
use probity_domain::CreditCode;
use probity_views::assessment::{
    assess, assess_stored, rank, AssessmentRow, FormulaRef, PublicAssessmentRow,
};
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

/// How many `as_of` recomputations (each a read of the whole log) run at once; more
/// requests wait for a turn.
pub const AS_OF_FOLDS: usize = 1;

/// The turns of the `as_of` recomputations.
static AS_OF_TURNS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(AS_OF_FOLDS);

/// `GET /api/v1/assessments` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssessmentQuery {
    /// Required: a year (`2026`) or a quarter (`2026-Q2`), Asia/Shanghai dates.
    #[param(required = true, pattern = "^[1-9][0-9]{3}(?:-[Qq][1-4])?$")]
    pub period: Option<String>,
    /// Only the government with this credit code and its departments.
    #[param(value_type = Option<crate::schema::CreditCode>)]
    pub parent_code: Option<String>,
    /// RFC 3339 instant: recompute from the log as it stood then (default: now, from
    /// the stored assessment). Reads the whole log: one such request at a time.
    #[param(format = DateTime)]
    pub as_of: Option<String>,
}

/// `GET /api/v1/public/assessments` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PublicAssessmentQuery {
    /// Required: a year (`2026`) or a quarter (`2026-Q2`), Asia/Shanghai dates.
    #[param(required = true, pattern = "^[1-9][0-9]{3}(?:-[Qq][1-4])?$")]
    pub period: Option<String>,
    /// Only the government with this credit code and its departments.
    #[param(value_type = Option<crate::schema::CreditCode>)]
    pub parent_code: Option<String>,
    /// Not accepted here (422 `validation_failed`): a past assessment is recomputed from
    /// the whole log, which only `GET /api/v1/assessments` (supervisor, auditor) does.
    /// Not in the schema: no valid request carries it.
    #[param(ignore)]
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
    /// Always null: the public assessment is the current one.
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
        .map(|t| state.clock.day_at(t))
        .unwrap_or_else(|| state.clock.today());
    let mut rows = match as_of {
        None => assess_stored(&state.db, period, today, &state.assessment).await?,
        Some(t) => {
            let _turn = AS_OF_TURNS
                .acquire()
                .await
                .map_err(|e| ApiError::Internal(format!("as_of turns closed: {e}")))?;
            assess(&state.log, period, Some(t), today, &state.assessment).await?
        }
    };
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
        formula: state.assessment.for_period(a.period).into(),
        items: a.rows,
    }))
}

/// The public assessment (no token): scores, ranks, formula version, headline counts.
#[utoipa::path(get, path = "/api/v1/public/assessments", tag = "public", operation_id = "public_assessment_list",
    params(PublicAssessmentQuery),
    responses((status = 200, body = PublicAssessmentList),
        (status = 422, description = "validation_failed (also for `as_of`), invalid_credit_code", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(name = "public_assessment_list", skip_all, fields(request_id = %ctx.request_id))]
pub async fn public_assessment_list(
    State(state): State<AppState>,
    ctx: RequestCtx,
    ApiQuery(q): ApiQuery<PublicAssessmentQuery>,
) -> Result<Json<PublicAssessmentList>, ApiError> {
    if q.as_of.is_some() {
        return Err(ApiError::field(
            "as_of",
            "not_public",
            "as_of is not accepted on the public assessment: a past assessment is \
             recomputed only by GET /api/v1/assessments (supervisor, auditor)",
        ));
    }
    let q = AssessmentQuery {
        period: q.period,
        parent_code: q.parent_code,
        as_of: None,
    };
    let a = run(&state, &q).await?;
    Ok(Json(PublicAssessmentList {
        period: a.period.to_string(),
        as_of: a.as_of,
        formula: state.assessment.for_period(a.period).into(),
        items: a.rows.iter().map(PublicAssessmentRow::from).collect(),
    }))
}
