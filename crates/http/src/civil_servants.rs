//! Civil servants (公务员): registered under an opaque id; the identity number and name
//! are sealed with a key of their own and never returned.

use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use probity_domain::IdentityNumber;
use probity_views::integrity::{CivilServantView, CIVIL_SERVANT_TYPE};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::Role;
use crate::error::ApiError;
use crate::problems::{AlreadyExists, Denied, InvalidIdentity, ReadProblems};
use crate::resource::{parse_code, Creation, DocAnswer, Read};
use crate::AppState;

pub use probity_app::integrity::CIVIL_SERVANT_KIND;
pub use probity_app::validate::MAX_NAME_CHARS;

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/civil-servants", post(civil_servant_create))
        .route("/civil-servants/{id}", get(civil_servant_view))
}

/// `POST /api/v1/civil-servants`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCivilServant {
    /// Resident identity number (GB 11643): encrypted, indexed by a keyed hash, never
    /// returned.
    #[schema(value_type = crate::schema::IdentityNumber)]
    pub identity_number: String,
    /// Encrypted with the identity number; never returned. At most 100 characters, not
    /// blank.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub name: String,
    /// Credit code of the unit they serve in (a registered subject).
    #[schema(value_type = crate::schema::CreditCode)]
    pub unit_code: String,
}

/// Register a civil servant (admin): returns an opaque id; the identity number and name
/// are sealed with a key of their own and never returned.
#[utoipa::path(post, path = "/api/v1/civil-servants", tag = "subjects", operation_id = "civil_servant_create",
    request_body = CreateCivilServant, params(crate::schema::IdempotencyKeyHeader),
    responses((status = 201, body = CivilServantView), Denied, AlreadyExists, InvalidIdentity),
    security(("bearer" = [])))]
#[tracing::instrument(name = "civil_servant_create", skip_all, fields(request_id = %c.ctx.request_id, actor = %c.auth.token_id, case_id))]
pub async fn civil_servant_create(c: Creation<CreateCivilServant>) -> Result<Response, ApiError> {
    c.auth.require(&[Role::Admin])?;
    let b = &c.body.value;
    let identity = IdentityNumber::parse(b.identity_number.trim())
        .map_err(|e| ApiError::from_id("identity_number", e))?;
    let name = b.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::field(
            "name",
            "invalid",
            format!("name must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    let unit = parse_code("unit_code", &b.unit_code)?;
    let app = &c.state.app;
    c.create("/api/v1/civil-servants", async |context| {
        app.register_civil_servant(context, &identity, name, unit)
            .await
    })
    .await
}

/// One civil servant: the opaque id and unit only (admin, supervisor, auditor).
#[utoipa::path(get, path = "/api/v1/civil-servants/{id}", tag = "subjects", operation_id = "civil_servant_view",
    params(("id" = String, Path, description = "Opaque civil-servant id")),
    responses((status = 200, body = CivilServantView), ReadProblems),
    security(("bearer" = [])))]
#[tracing::instrument(name = "civil_servant_view", skip_all, fields(request_id = %r.ctx.request_id, actor = %r.auth.token_id))]
pub async fn civil_servant_view(r: Read) -> DocAnswer {
    let roles = [Role::Admin, Role::Supervisor, Role::Auditor];
    r.document(&roles, CIVIL_SERVANT_TYPE).await
}
