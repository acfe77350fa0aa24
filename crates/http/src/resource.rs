//! What the resource modules share: the [`Verb`] extractor of a verb on one case
//! (`POST /api/v1/<resource>/{id}/<verb>`), the answers of the integrity documents, a
//! creation under `Idempotency-Key`, and the credit-code parser with the API's codes.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use probity_domain::CreditCode;
use probity_views::integrity::IntegrityDoc;
use serde::de::DeserializeOwned;
use serde_json::Value;
use utoipa::IntoParams;

use crate::auth::{Auth, Role};
use crate::error::ApiError;
use crate::extract::{ApiJson, CaseId, IdempotencyKey, IfMatch, RequestCtx};
use crate::idempotency::{self, StoredResponse};
use crate::AppState;

/// A read of one case: the request's ids, the bearer token (401, or 403 for an unbound
/// handler token), the `{id}` segment (404), extracted in that order.
#[derive(Debug, Clone)]
pub struct Read {
    pub state: AppState,
    pub ctx: RequestCtx,
    pub auth: Auth,
    pub id: CaseId,
}

impl FromRequestParts<AppState> for Read {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ctx = RequestCtx::from_request_parts(parts, state).await?;
        let auth = Auth::from_request_parts(parts, state).await?;
        let id = CaseId::from_request_parts(parts, state).await?;
        let state = state.clone();
        Ok(Self {
            state,
            ctx,
            auth,
            id,
        })
    }
}

impl Read {
    /// The integrity document of type `aggregate_type` for a caller in one of `roles` (a
    /// handler sees only its own unit's; others are 404).
    pub async fn document(&self, roles: &[Role], aggregate_type: &str) -> DocAnswer {
        self.auth.require(roles)?;
        read_for(&self.state, &self.auth, aggregate_type, &self.id.0).await
    }
}

/// Everything a verb on one case takes before its body: a [`Read`]'s, then `If-Match`
/// (422). The body comes after (its 413/415/422 before the role's 403, which the handler
/// checks).
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
        let Read {
            state,
            ctx,
            auth,
            id,
        } = Read::from_request_parts(parts, state).await?;
        let if_match = IfMatch::from_request_parts(parts, &state).await?;
        Ok(Self {
            state,
            ctx,
            auth,
            id,
            if_match,
        })
    }
}

/// A creating `POST`: the request's ids, the bearer token, `Idempotency-Key` (422), then
/// the JSON body, extracted in that order.
#[derive(Debug, Clone)]
pub struct Creation<T> {
    pub state: AppState,
    pub ctx: RequestCtx,
    pub auth: Auth,
    pub key: Option<String>,
    pub body: ApiJson<T>,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Creation<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = request.into_parts();
        let ctx = RequestCtx::from_request_parts(&mut parts, state).await?;
        let auth = Auth::from_request_parts(&mut parts, state).await?;
        let IdempotencyKey(key) = IdempotencyKey::from_request_parts(&mut parts, state).await?;
        let body = ApiJson::from_request(Request::from_parts(parts, body), state).await?;
        let state = state.clone();
        Ok(Self {
            state,
            ctx,
            auth,
            key,
            body,
        })
    }
}

impl<T> Creation<T> {
    /// Creates a document in `collection` (`/api/v1/<resource>`) once per
    /// `Idempotency-Key` (same key and body: the first answer): `create` runs the use-case
    /// in the command's context and gives the new id and document; the answer is 201 with
    /// `Location: <collection>/<id>` (the id recorded as the span's `case_id`).
    pub async fn create<I, E>(
        &self,
        collection: &str,
        create: impl AsyncFnOnce(probity_app::CommandContext<'_>) -> Result<(I, IntegrityDoc), E>,
    ) -> Result<Response, ApiError>
    where
        I: std::fmt::Display,
        E: Into<ApiError>,
    {
        let (token, key) = (&self.auth.token_id, self.key.clone());
        let once = idempotency::once(token, key, collection, &self.body.raw);
        let context = AppState::command(&self.auth, &self.ctx).with_once(once.as_ref());
        let work = async {
            let (id, doc) = create(context).await.map_err(Into::into)?;
            let id = id.to_string();
            stored(&doc, &id, format!("{collection}/{id}"))
        };
        idempotency::create_once(&self.state, once.as_ref(), work, created).await
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

/// Declares the verb handlers of one resource: each a real handler taking a [`Verb`] and
/// its body, with its OpenAPI operation on it (`#[utoipa::path]`: `POST`, the given tag,
/// the handler's name as operation id, its doc comment as summary, [`CaseIdPath`] and
/// `If-Match`, the success response and a problem set of `crate::problems`) and its span
/// (named after the handler, with `request_id`, `case_id` and `actor`); and
/// `verb_routes()`, their routes (under `/api/v1`).
///
/// ```text
/// verbs! {
///     tag = "repairs", ok = (status = 200, body = RepairView), problems = VerbProblems,
///     answer = DocAnswer;
///
///     /// Summary.
///     repair_deny "/api/v1/repairs/{id}/deny" [LongReasonBody]
///     |v, body: ApiJson<LongReasonBody>| { … }
/// }
/// ```
macro_rules! verbs {
    (
        tag = $tag:literal, ok = $ok:tt, problems = $problems:ident, answer = $answer:ty;
        $(
            $(#[doc = $doc:literal])+
            $name:ident $path:literal [$($schema:tt)+]
            |$v:ident, $body:ident: $extract:ident<$inner:ident>| $block:block
        )+
    ) => {
        $(
            $(#[doc = $doc])+
            #[utoipa::path(post, path = $path, tag = $tag, operation_id = stringify!($name),
                request_body = $($schema)+,
                params(crate::resource::CaseIdPath, crate::schema::IfMatchHeader),
                responses($ok, $problems), security(("bearer" = [])))]
            #[tracing::instrument(skip_all, fields(request_id = %$v.ctx.request_id, case_id = %$v.id.0, actor = %$v.auth.token_id))]
            pub async fn $name($v: crate::resource::Verb, $body: $extract<$inner>) -> $answer $block
        )+

        /// The routes of the verbs (under `/api/v1`).
        fn verb_routes() -> axum::Router<crate::AppState> {
            axum::Router::new()
                $(.route(crate::resource::under_api($path), axum::routing::post($name)))+
        }
    };
}
pub(crate) use verbs;

/// Declares the read of one integrity document by id: a real handler taking a [`Read`],
/// with its OpenAPI operation (`GET`, the `{id}` parameter described, the view, 401, 403
/// and 404) and its span, answering the document for the roles given (a handler: its own
/// unit's only).
macro_rules! document_view {
    (
        $(#[doc = $doc:literal])+
        $name:ident $path:literal, tag = $tag:literal, id = $id:literal, view = $view:ident,
        type = $type:ident, roles = [$($role:ident),+]
    ) => {
        $(#[doc = $doc])+
        #[utoipa::path(get, path = $path, tag = $tag, operation_id = stringify!($name),
            params(("id" = String, Path, description = $id)),
            responses((status = 200, body = $view), crate::problems::ReadProblems),
            security(("bearer" = [])))]
        #[tracing::instrument(skip_all, fields(request_id = %r.ctx.request_id, case_id = %r.id.0, actor = %r.auth.token_id))]
        pub async fn $name(r: crate::resource::Read) -> crate::resource::DocAnswer {
            r.document(&[$(crate::auth::Role::$role),+], $type).await
        }
    };
}
pub(crate) use document_view;

/// A documented path (`/api/v1/…`) as the routers under `/api/v1` name it.
pub fn under_api(path: &'static str) -> &'static str {
    path.strip_prefix("/api/v1").unwrap_or(path)
}

/// Declares request bodies of one required free text each: `Name { field: max }`, the
/// text 1 to `max` characters and not blank, stated in the schema with
/// [`NOT_BLANK`](crate::schema::NOT_BLANK) (utoipa takes a literal pattern only, so this
/// is the one place that spells it for these bodies).
macro_rules! text_bodies {
    ($(
        $(#[doc = $doc:literal])+
        $name:ident { $(#[doc = $field_doc:literal])+ $field:ident: $max:tt }
    )+) => {$(
        $(#[doc = $doc])+
        #[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $(#[doc = $field_doc])+
            #[schema(
                min_length = 1,
                max_length = $max,
                pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
            )]
            pub $field: String,
        }
    )+};
}
pub(crate) use text_bodies;
