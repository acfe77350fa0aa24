//! `GET /api/v1/debt-warnings`: the governments whose debt records crossed a warning
//! threshold (§13 of the city's opinions; issue 11 item 5, ADR 0028), for supervisors
//! and auditors (a bound supervisor: its authority and the governments under it).
//! Raising and clearing are events of the `debt_warning` aggregate, decided by the
//! server's sweep; their history is `GET /api/v1/history/debt_warning/{subject_code}`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use probity_views::integrity::DebtWarningItem;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Auth, Role};
use crate::error::ApiError;
use crate::extract::{ApiQuery, RequestCtx};
use crate::problems::Denied;
use crate::AppState;

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new().route("/debt-warnings", get(debt_warning_list))
}

/// `GET /api/v1/debt-warnings` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DebtWarningQuery {
    /// raised (default), cleared, or all.
    #[param(value_type = Option<crate::schema::DebtWarningState>)]
    pub status: Option<String>,
}

/// The debt warnings, in credit-code order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DebtWarningList {
    pub items: Vec<DebtWarningItem>,
}

/// Debt risk warnings (supervisor, auditor; a bound supervisor sees the governments
/// within its authority only).
#[utoipa::path(
    get, path = "/api/v1/debt-warnings", tag = "debt-warnings", operation_id = "debt_warning_list",
    params(DebtWarningQuery),
    responses(
        (status = 200, body = DebtWarningList),
        Denied,
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "debt_warning_list", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn debt_warning_list(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    ApiQuery(q): ApiQuery<DebtWarningQuery>,
) -> Result<Json<DebtWarningList>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Auditor])?;
    let status = match q.status.as_deref() {
        None | Some("raised") => Some("raised"),
        Some("cleared") => Some("cleared"),
        Some("all") => None,
        Some(_) => {
            return Err(ApiError::field(
                "status",
                "invalid",
                "status must be raised, cleared or all",
            ))
        }
    };
    let items = state.app.debt_warnings(&auth, status).await?;
    Ok(Json(DebtWarningList { items }))
}
