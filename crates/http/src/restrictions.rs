//! The restriction check of procurement and bidding systems (§9, §11; issue 11 item 2):
//! `GET /api/v1/restrictions?subject_code=&sector=&on=` says whether a subject is barred
//! from a sector on a day, and why. Public (no token), under the public rate limit;
//! nothing personal: only organisations are ever barred here.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use probity_domain::integrity::Sector;
use probity_views::integrity::Restriction;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, RequestCtx};
use crate::resource::parse_code;
use crate::schema::ListedSector;
use crate::AppState;

/// The path, outside `/api/v1/public/` and public all the same.
pub const PATH: &str = "/api/v1/restrictions";

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new().route("/restrictions", get(restriction_check))
}

/// `GET /api/v1/restrictions` parameters.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RestrictionQuery {
    /// The subject asked about.
    #[param(value_type = crate::schema::CreditCode)]
    pub subject_code: String,
    /// procurement | bidding | ppp
    #[param(value_type = crate::schema::ListedSector)]
    pub sector: ListedSector,
    /// The day asked about (`YYYY-MM-DD`); absent: today in Asia/Shanghai.
    pub on: Option<NaiveDate>,
}

fn domain_sector(sector: ListedSector) -> Sector {
    match sector {
        ListedSector::Procurement => Sector::Procurement,
        ListedSector::Bidding => Sector::Bidding,
        ListedSector::Ppp => Sector::Ppp,
    }
}

/// Whether a subject is barred from a sector on a day, and why (no token): every ban of
/// its records running that day, a bribery conviction barring bidding included
/// (行贿犯罪档案查询).
#[utoipa::path(get, path = "/api/v1/restrictions", tag = "public", operation_id = "restriction_check",
    params(RestrictionQuery),
    responses((status = 200, body = Restriction),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(name = "restriction_check", skip_all, fields(request_id = %ctx.request_id))]
pub async fn restriction_check(
    State(state): State<AppState>,
    ctx: RequestCtx,
    ApiQuery(q): ApiQuery<RestrictionQuery>,
) -> Result<Json<Restriction>, ApiError> {
    let code = parse_code("subject_code", &q.subject_code)?;
    let on = q.on.unwrap_or_else(|| state.clock.today());
    Ok(Json(
        state
            .views
            .restriction(code.as_str(), domain_sector(q.sector), on)
            .await?,
    ))
}
