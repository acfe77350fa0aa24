//! Civil servants (公务员): registered under an opaque id; the identity number and name
//! are sealed with a key of their own and never returned. Their sanctions (政务处分),
//! annual assessments (年度考核), honours restriction and integrity archive (supervisors
//! and auditors only, never public; ADR 0021).

use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use probity_app::sanctions::NewSanction;
use probity_domain::civil_servant::{AssessmentResult, SanctionType};
use probity_domain::IdentityNumber;
use probity_views::integrity::{
    AssessmentResultView, CivilServantArchive, CivilServantView, HonoursRestriction, SanctionView,
    CIVIL_SERVANT_TYPE,
};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::Role;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::problems::{
    AlreadyExists, AssessmentProblems, Denied, InvalidIdentity, ReadProblems, VerbProblems,
};
use crate::resource::{parse_code, Creation, DocAnswer, Read, Verb};
use crate::AppState;

pub use probity_app::integrity::CIVIL_SERVANT_KIND;
pub use probity_app::validate::MAX_NAME_CHARS;

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/civil-servants", post(civil_servant_create))
        .route("/civil-servants/{id}", get(civil_servant_view))
        .route(
            "/civil-servants/{id}/sanctions",
            post(civil_servant_sanction),
        )
        .route(
            "/civil-servants/{id}/revoke-sanction",
            post(civil_servant_revoke_sanction),
        )
        .route(
            "/civil-servants/{id}/assessments",
            post(civil_servant_assessment),
        )
        .route("/civil-servants/{id}/archive", get(civil_servant_archive))
        .route(
            "/civil-servants/{id}/eligibility",
            get(civil_servant_eligibility),
        )
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

/// `POST /api/v1/civil-servants/{id}/sanctions`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSanction {
    /// warning 6 months, demerit 12, major_demerit 18, demotion 24, dismissal 24,
    /// expulsion (no period: the person leaves the service).
    #[schema(value_type = crate::schema::SanctionType, example = "demerit")]
    pub sanction_type: SanctionType,
    /// The decision's reference (处分决定书文号), unique per person. At most 200
    /// characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub decision_ref: String,
    /// The decision date, not in the future; the period runs from it.
    pub decision_date: NaiveDate,
}

/// `POST /api/v1/civil-servants/{id}/revoke-sanction`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeSanctionBody {
    /// The sanction revoked (an id from the archive).
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub sanction_id: String,
    /// The review or appeal decision (复审/复核/申诉). At most 2000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub reason: String,
}

/// `POST /api/v1/civil-servants/{id}/assessments`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAssessment {
    /// The assessment year, from 2006 to the current year.
    /// A JSON number with no fraction (`2025` or `2025.0`).
    #[serde(deserialize_with = "crate::extract::whole_u32")]
    #[schema(minimum = 2006, maximum = 9999)]
    pub year: u32,
    #[schema(value_type = crate::schema::AssessmentResult, example = "competent")]
    pub result: AssessmentResult,
}

/// Record a government sanction (政务处分) of a civil servant with its statutory period
/// (supervisor; a bound supervisor only within its jurisdiction). The same decision twice
/// is 409 `already_exists`; an expelled person, 409 `invalid_transition`.
#[utoipa::path(post, path = "/api/v1/civil-servants/{id}/sanctions", tag = "subjects", operation_id = "civil_servant_sanction",
    request_body = CreateSanction,
    params(("id" = String, Path, description = "Opaque civil-servant id"), crate::schema::IfMatchHeader),
    responses((status = 201, body = SanctionView), VerbProblems),
    security(("bearer" = [])))]
#[tracing::instrument(name = "civil_servant_sanction", skip_all, fields(request_id = %v.ctx.request_id, case_id = %v.id.0, actor = %v.auth.token_id))]
pub async fn civil_servant_sanction(
    v: Verb,
    body: ApiJson<CreateSanction>,
) -> Result<(StatusCode, Json<SanctionView>), ApiError> {
    v.require(&[Role::Supervisor])?;
    let b = body.value;
    let sanction = NewSanction {
        sanction_type: b.sanction_type,
        decision_ref: b.decision_ref,
        decision_date: b.decision_date,
    };
    let view = v
        .state
        .app
        .impose_sanction(v.command(), &v.id.0, v.if_match.0, sanction)
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Revoke a sanction after review or appeal (复审、复核、申诉; supervisor): it no longer
/// restricts the person. A revoked sanction again is 409 `invalid_transition`.
#[utoipa::path(post, path = "/api/v1/civil-servants/{id}/revoke-sanction", tag = "subjects", operation_id = "civil_servant_revoke_sanction",
    request_body = RevokeSanctionBody,
    params(("id" = String, Path, description = "Opaque civil-servant id"), crate::schema::IfMatchHeader),
    responses((status = 200, body = SanctionView), VerbProblems),
    security(("bearer" = [])))]
#[tracing::instrument(name = "civil_servant_revoke_sanction", skip_all, fields(request_id = %v.ctx.request_id, case_id = %v.id.0, actor = %v.auth.token_id))]
pub async fn civil_servant_revoke_sanction(
    v: Verb,
    body: ApiJson<RevokeSanctionBody>,
) -> Result<Json<SanctionView>, ApiError> {
    v.require(&[Role::Supervisor])?;
    let b = body.value;
    let view = v
        .state
        .app
        .revoke_sanction(v.command(), &v.id.0, v.if_match.0, &b.sanction_id, b.reason)
        .await?;
    Ok(Json(view))
}

/// Record a civil servant's annual assessment result (年度考核; admin). One per year: a
/// second is 409 `assessment_exists`; a grade a sanction bars that year is 409
/// `assessment_restricted`.
#[utoipa::path(post, path = "/api/v1/civil-servants/{id}/assessments", tag = "subjects", operation_id = "civil_servant_assessment",
    request_body = CreateAssessment,
    params(("id" = String, Path, description = "Opaque civil-servant id"), crate::schema::IfMatchHeader),
    responses((status = 201, body = AssessmentResultView), AssessmentProblems),
    security(("bearer" = [])))]
#[tracing::instrument(name = "civil_servant_assessment", skip_all, fields(request_id = %v.ctx.request_id, case_id = %v.id.0, actor = %v.auth.token_id))]
pub async fn civil_servant_assessment(
    v: Verb,
    body: ApiJson<CreateAssessment>,
) -> Result<(StatusCode, Json<AssessmentResultView>), ApiError> {
    v.require(&[Role::Admin])?;
    let b = body.value;
    let view = v
        .state
        .app
        .record_assessment(v.command(), &v.id.0, v.if_match.0, b.year as i32, b.result)
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// A civil servant's integrity archive (supervisor — a bound one within its jurisdiction —
/// and auditor; never public): records, sanctions with their periods, the honours
/// restriction, annual assessment results. Each read is recorded in the person's access
/// log before it is served.
#[utoipa::path(get, path = "/api/v1/civil-servants/{id}/archive", tag = "subjects", operation_id = "civil_servant_archive",
    params(("id" = String, Path, description = "Opaque civil-servant id")),
    responses((status = 200, body = CivilServantArchive), ReadProblems),
    security(("bearer" = [])))]
#[tracing::instrument(name = "civil_servant_archive", skip_all, fields(request_id = %r.ctx.request_id, case_id = %r.id.0, actor = %r.auth.token_id))]
pub async fn civil_servant_archive(r: Read) -> Result<Json<CivilServantArchive>, ApiError> {
    r.auth.require(&[Role::Supervisor, Role::Auditor])?;
    let ctx = AppState::command(&r.auth, &r.ctx);
    Ok(Json(r.state.app.civil_servant_archive(ctx, &r.id.0).await?))
}

/// A civil servant's honours restriction (评优评先) today: restricted while a sanction is
/// in force, with the reason and the day it ends (supervisor — a bound one within its
/// jurisdiction — and auditor). Each read is recorded in the person's access log.
#[utoipa::path(get, path = "/api/v1/civil-servants/{id}/eligibility", tag = "subjects", operation_id = "civil_servant_eligibility",
    params(("id" = String, Path, description = "Opaque civil-servant id")),
    responses((status = 200, body = HonoursRestriction), ReadProblems),
    security(("bearer" = [])))]
#[tracing::instrument(name = "civil_servant_eligibility", skip_all, fields(request_id = %r.ctx.request_id, case_id = %r.id.0, actor = %r.auth.token_id))]
pub async fn civil_servant_eligibility(r: Read) -> Result<Json<HonoursRestriction>, ApiError> {
    r.auth.require(&[Role::Supervisor, Role::Auditor])?;
    let ctx = AppState::command(&r.auth, &r.ctx);
    Ok(Json(
        r.state.app.civil_servant_restriction(ctx, &r.id.0).await?,
    ))
}
