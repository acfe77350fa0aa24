//! What the resource modules share: the [`Verb`] extractor of a verb on one case
//! (`POST /api/v1/<resource>/{id}/<verb>`), the answers of the integrity documents, a
//! creation under `Idempotency-Key`, and the credit-code parser with the API's codes.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use probity_domain::CreditCode;
use probity_views::integrity::IntegrityDoc;
use serde_json::Value;
use utoipa::IntoParams;

use crate::auth::{Auth, Role};
use crate::error::ApiError;
use crate::extract::{CaseId, IfMatch, RequestCtx};
use crate::idempotency::{self, StoredResponse};
use crate::AppState;

/// Everything a verb on one case takes before its body, extracted in the order that
/// decides which failure answers: the request's ids, the bearer token (401, or 403 for an
/// unbound handler token), the `{id}` segment (404), `If-Match` (422). The body comes
/// after (its 413/415/422 before the role's 403, which the handler checks).
#[derive(Debug, Clone)]
pub struct Verb {
    pub state: AppState,
    pub ctx: RequestCtx,
    pub auth: Auth,
    pub id: CaseId,
    pub if_match: IfMatch,
}

impl FromRequestParts<AppState> for Verb {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ctx = RequestCtx::from_request_parts(parts, state).await?;
        let auth = Auth::from_request_parts(parts, state).await?;
        let id = CaseId::from_request_parts(parts, state).await?;
        let if_match = IfMatch::from_request_parts(parts, state).await?;
        Ok(Self {
            state: state.clone(),
            ctx,
            auth,
            id,
            if_match,
        })
    }
}

impl Verb {
    /// 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        Ok(self.auth.require(roles)?)
    }

    /// The service's clock now.
    pub fn now(&self) -> DateTime<Utc> {
        self.state.clock.now()
    }

    /// The context of the command this verb issues.
    pub fn command(&self) -> probity_app::CommandContext<'_> {
        AppState::command(&self.auth, &self.ctx)
    }
}

/// What a read or a verb of an integrity document answers: the document, as JSON.
pub type DocAnswer = Result<Json<Value>, ApiError>;

/// The `{id}` path parameter of a verb (OpenAPI).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CaseIdPath {
    /// Case id
    pub id: String,
}

/// Parses a credit code given in `field` (422 `invalid_credit_code`).
pub fn parse_code(field: &str, value: &str) -> Result<CreditCode, ApiError> {
    Ok(probity_app::validate::credit_code(field, value)?)
}

/// Reads one integrity document for `auth` (a handler sees only its own unit's; others
/// are 404).
pub async fn read_for(state: &AppState, auth: &Auth, aggregate_type: &str, id: &str) -> DocAnswer {
    respond(state.app.integrity_for(auth, aggregate_type, id).await?)
}

/// Answers a created resource: its status (201), `Location`, the stored body.
pub fn created(stored: &StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::CREATED);
    let mut response = (status, Json(stored.body.clone())).into_response();
    if let Some(location) = stored
        .location
        .as_deref()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// Runs the creation of an integrity document under `Idempotency-Key` (same key and
/// body: the first response).
pub async fn idempotent_create<F>(
    state: &AppState,
    once: Option<&probity_app::Once>,
    create: F,
) -> Result<Response, ApiError>
where
    F: std::future::Future<Output = Result<StoredResponse, ApiError>>,
{
    idempotency::create_once(state, once, create, created).await
}

/// The response to store for a created document at `location` (recording its id in
/// the current span).
pub fn stored(doc: &IntegrityDoc, id: &str, location: String) -> Result<StoredResponse, ApiError> {
    tracing::Span::current().record("case_id", id);
    Ok(StoredResponse {
        status: StatusCode::CREATED.as_u16(),
        body: doc.to_json().map_err(ApiError::internal)?,
        location: Some(location),
    })
}

/// Answers a document (already completed for the reader's day by the application).
pub fn respond(doc: IntegrityDoc) -> DocAnswer {
    Ok(Json(doc.to_json().map_err(ApiError::internal)?))
}

/// 422 unless `value` (if given) is one of `allowed`.
pub fn check_choice(field: &str, value: &Option<String>, allowed: &[&str]) -> Result<(), ApiError> {
    match value {
        Some(v) if !allowed.contains(&v.as_str()) => Err(ApiError::field(
            field,
            "invalid",
            format!("{field} must be one of {}", allowed.join(", ")),
        )),
        _ => Ok(()),
    }
}
