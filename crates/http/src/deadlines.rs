//! `GET /api/v1/deadlines`: every open deadline of every case kind, for supervisors (a
//! bound supervisor: its authority and the subjects under it; a handler: its own unit's
//! only).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use probity_views::{DeadlineEntry, DeadlineFilter, DeadlineState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Auth, Role};
use crate::complaints::page_limit;
use crate::error::ApiError;
use crate::extract::{ApiQuery, RequestCtx};
use crate::problems::{Denied, InvalidDueCode};
use crate::AppState;

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new().route("/deadlines", get(deadline_list))
}

/// `GET /api/v1/deadlines` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadlineQuery {
    #[param(value_type = Option<crate::schema::DeadlineState>)]
    pub state: Option<String>,
    /// Deadline kind, e.g. complaint_sign, complaint_reply.
    pub kind: Option<String>,
    /// Credit code of the responsible unit (a handler always sees its own unit only).
    #[param(value_type = Option<crate::schema::CreditCode>)]
    pub unit: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// A `next_cursor` this list returned (opaque); anything else is 422.
    #[param(format = "deadline-cursor")]
    pub cursor: Option<String>,
}

/// A page of open deadlines, soonest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeadlineList {
    pub items: Vec<DeadlineEntry>,
    pub next_cursor: Option<String>,
}

/// Open deadlines (supervisor; a handler sees its own unit's only).
#[utoipa::path(
    get, path = "/api/v1/deadlines", tag = "deadlines", operation_id = "deadline_list",
    params(DeadlineQuery),
    responses(
        (status = 200, body = DeadlineList),
        Denied, InvalidDueCode,
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "deadline_list", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn deadline_list(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    ApiQuery(q): ApiQuery<DeadlineQuery>,
) -> Result<Json<DeadlineList>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Handler])?;
    let limit = page_limit(q.limit)?;
    let deadline_state = match q.state.as_deref() {
        None => None,
        Some("overdue") => Some(DeadlineState::Overdue),
        Some("due_soon") => Some(DeadlineState::DueSoon),
        Some(_) => {
            return Err(ApiError::field(
                "state",
                "invalid",
                "state must be overdue or due_soon",
            ));
        }
    };
    // A malformed `unit` is 422 for every role; a handler's board is its own unit's.
    let given = q
        .unit
        .as_deref()
        .map(|u| {
            probity_domain::CreditCode::parse(u.trim()).map_err(|e| ApiError::from_id("unit", e))
        })
        .transpose()?;
    let unit = match (&auth.role, given) {
        (Role::Handler, _) => Some(auth.handler_unit()?.to_string()),
        (_, given) => given.map(|u| u.to_string()),
    };
    let units = state.app.jurisdiction(&auth).await?;
    if let (Some(units), Some(unit)) = (&units, &unit) {
        if !units.contains(unit) {
            return Err(ApiError::Forbidden(
                "the unit is outside this supervisor's authority".into(),
            ));
        }
    }
    let filter = DeadlineFilter {
        state: deadline_state,
        kind: q.kind,
        unit,
        units,
        due_soon_working_days: state.due_soon_working_days,
        limit,
        cursor: q.cursor,
    };
    let page = state
        .views
        .deadlines(&filter, state.clock.today(), &state.calendar)
        .await?;
    Ok(Json(DeadlineList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}
