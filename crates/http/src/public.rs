//! The public disclosure (信用中国（九江）): no token, nothing personal. Records of
//! governments, departments and organisations inside their publicity window, never
//! repaired, withdrawn, stopped or unlisted ones, never a civil servant's; a subject's
//! public page with its eligibility; the sector lists with their ban periods.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use probity_views::integrity::{
    GoodStandingList, PublicRecord, PublicRecordFilter, PublicSubject, SectorListEntry,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::complaints::page_limit;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, CaseId, RequestCtx};
use crate::integrity::{check_choice, SECTORS, SEVERITIES};
use crate::AppState;

/// The kinds of subject (`?kind=` of the good-standing list).
const SUBJECT_KINDS: [&str; 4] = [
    "government",
    "department",
    "public_institution",
    "enterprise",
];

/// The sectors with a public list: the three with statutory bans, and the local
/// government debt list (§13, no ban: a disclosure list beside the debt warning).
pub const LISTED_SECTORS: [&str; 4] = ["procurement", "bidding", "ppp", "debt"];

/// The listed sectors whose records may carry a ban.
pub const BAN_SECTORS: [&str; 3] = ["procurement", "bidding", "ppp"];

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/public/records", get(public_records))
        .route("/public/subjects/{id}", get(public_subject))
        .route("/public/sector-lists/{id}", get(public_sector_list))
        .route("/public/good-standing", get(public_good_standing))
}

/// `GET /api/v1/public/good-standing` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GoodStandingQuery {
    #[param(value_type = Option<crate::schema::SubjectKind>)]
    pub kind: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// A `next_cursor` this list returned (opaque).
    pub cursor: Option<String>,
}

/// 守信激励 (§7): subjects with no published record, no overdue rectification and no
/// breached commitment for the configured years (`[integrity.good_standing] years`,
/// default 3), with the day they qualified (no token).
#[utoipa::path(get, path = "/api/v1/public/good-standing", tag = "public", operation_id = "public_good_standing",
    params(GoodStandingQuery),
    responses((status = 200, body = GoodStandingList),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(name = "public_good_standing", skip_all, fields(request_id = %ctx.request_id))]
pub async fn public_good_standing(
    State(state): State<AppState>,
    ctx: RequestCtx,
    ApiQuery(q): ApiQuery<GoodStandingQuery>,
) -> Result<Json<GoodStandingList>, ApiError> {
    let limit = page_limit(q.limit)?;
    check_choice("kind", &q.kind, &SUBJECT_KINDS)?;
    let years = state.integrity.policy.good_standing.years;
    Ok(Json(
        state
            .views
            .good_standing(
                q.kind.as_deref(),
                state.clock.today(),
                years,
                limit,
                q.cursor.as_deref(),
            )
            .await?,
    ))
}

/// `GET /api/v1/public/records` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PublicRecordQuery {
    #[param(value_type = Option<crate::schema::CreditCode>)]
    pub subject_code: Option<String>,
    #[param(value_type = Option<crate::schema::Sector>)]
    pub sector: Option<String>,
    #[param(value_type = Option<crate::schema::Severity>)]
    pub severity: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// A `next_cursor` this list returned (opaque); anything else is 422.
    #[param(format = "record-cursor")]
    pub cursor: Option<String>,
}

/// A page of public records.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicRecordList {
    pub items: Vec<PublicRecord>,
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/public/sector-lists/{sector}` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// A `next_cursor` this list returned (opaque); anything else is 422.
    #[param(format = "record-cursor")]
    pub cursor: Option<String>,
}

/// A page of a sector list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SectorList {
    pub sector: String,
    pub items: Vec<SectorListEntry>,
    pub next_cursor: Option<String>,
}

/// Published dishonesty records (no token).
#[utoipa::path(get, path = "/api/v1/public/records", tag = "public", operation_id = "public_records",
    params(PublicRecordQuery),
    responses((status = 200, body = PublicRecordList),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(name = "public_records", skip_all, fields(request_id = %ctx.request_id))]
pub async fn public_records(
    State(state): State<AppState>,
    ctx: RequestCtx,
    ApiQuery(q): ApiQuery<PublicRecordQuery>,
) -> Result<Json<PublicRecordList>, ApiError> {
    let limit = page_limit(q.limit)?;
    check_choice("sector", &q.sector, &SECTORS)?;
    check_choice("severity", &q.severity, &SEVERITIES)?;
    let subject_code = match &q.subject_code {
        Some(code) => Some(
            probity_domain::CreditCode::parse(code.trim())
                .map_err(|e| ApiError::from_id("subject_code", e))?
                .as_str()
                .to_string(),
        ),
        None => None,
    };
    let filter = PublicRecordFilter {
        subject_code,
        sector: q.sector,
        severity: q.severity,
    };
    let page = state
        .views
        .public_records(&filter, state.clock.today(), limit, q.cursor.as_deref())
        .await?;
    Ok(Json(PublicRecordList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// A subject's public page: the subject, its current disclosures, its eligibility.
#[utoipa::path(get, path = "/api/v1/public/subjects/{code}", tag = "public", operation_id = "public_subject",
    params(("code" = crate::schema::CreditCode, Path, description = "Unified social credit code")),
    responses((status = 200, body = PublicSubject),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(name = "public_subject", skip_all, fields(request_id = %ctx.request_id))]
pub async fn public_subject(
    State(state): State<AppState>,
    ctx: RequestCtx,
    id: CaseId,
) -> Result<Json<PublicSubject>, ApiError> {
    let code =
        probity_domain::CreditCode::parse(id.0.trim()).map_err(|e| ApiError::from_id("code", e))?;
    let today = state.clock.today();
    let mut public = state
        .views
        .public_subject(
            code.as_str(),
            today,
            &state.integrity.policy.sanction_months,
        )
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("subject {} not found", code.as_str())))?;
    if let Some(subject) = state.views.subject(code.as_str()).await? {
        let years = state.integrity.policy.good_standing.years;
        public.eligibility.good_standing =
            state.views.good_standing_of(&subject, today, years).await?;
    }
    Ok(Json(public))
}

/// A sector list: procurement suppliers' bad-behaviour list, bidding blacklist, PPP
/// breach records, with their ban periods, and the local government debt list (no ban;
/// §13) (no token).
#[utoipa::path(get, path = "/api/v1/public/sector-lists/{sector}", tag = "public", operation_id = "public_sector_list",
    params(("sector" = crate::schema::PublicList, Path, description = "procurement | bidding | ppp | debt"), PageQuery),
    responses((status = 200, body = SectorList),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(name = "public_sector_list", skip_all, fields(request_id = %ctx.request_id))]
pub async fn public_sector_list(
    State(state): State<AppState>,
    ctx: RequestCtx,
    id: CaseId,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<SectorList>, ApiError> {
    if !LISTED_SECTORS.contains(&id.0.as_str()) {
        return Err(ApiError::NotFound(format!(
            "no sector list {:?}: procurement, bidding, ppp or debt",
            id.0
        )));
    }
    let limit = page_limit(q.limit)?;
    let page = state
        .views
        .sector_list(&id.0, state.clock.today(), limit, q.cursor.as_deref())
        .await?;
    Ok(Json(SectorList {
        sector: id.0,
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}
