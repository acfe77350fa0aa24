//! Probity's HTTP adapter: the v1 JSON API of `/work/shared/api-v1.md` on axum.
//!
//! An adapter over the application layer ([`probity_app`]): a handler authenticates,
//! authorises the role, parses the request, calls the use-case and maps its result; the
//! use-cases, the executors, tokens, the clock and the counters live in `probity_app`.
//!
//! - [`AppState`] holds the [`probity_app::App`] and what HTTP adds (limits, readiness);
//!   the binary builds it with [`AppState::new`] and serves [`router`].
//! - [`auth`]: the `Auth` extractor (bearer token → [`probity_app::Caller`]).
//! - [`error::ApiError`]: the single place where failures (an [`probity_app::AppError`]
//!   among them) become HTTP statuses and `application/problem+json` bodies with stable
//!   codes.
//! - One module per resource, each with its `router()`, composed by [`router`] under
//!   `/api/v1`: [`complaints`], [`subjects`], [`civil_servants`], [`records`],
//!   [`rectifications`], [`repairs`], [`objections`], [`commitments`], [`public`],
//!   [`assessments`], [`deadlines`], [`audit`] (histories of any aggregate, the access
//!   log, bundles) and [`ops`] (at the root and `/api/v1/openapi.json`). [`integrity`]
//!   re-exports the integrity resources' items by their former paths.
//! - [`resource`]: what the resources share (the `Read`, `Verb` and `Creation`
//!   extractors, the `verbs!`, `document_view!` and `text_bodies!` declarations);
//!   [`history`]: the audited history read of `audit` and `complaints`.
//! - [`openapi`]: the document, listing the real handlers (each carries its
//!   `#[utoipa::path]`); [`problems`]: the one set of problem responses they name;
//!   [`schema`]: the vocabulary of the values.
//! - [`erasure`]: the application's erasure with the API's error codes (no route).
//! - [`idempotency`]: `Idempotency-Key` on creating POSTs; [`extract`]: strict extractors.
//! - [`Readiness`]: readiness of the service.
//! - [`ratelimit`]: the per-address limit of requests without a token (429
//!   `rate_limited`).

pub mod assessments;
pub mod audit;
pub mod auth;
pub mod civil_servants;
pub mod commitments;
pub mod complaints;
pub mod deadlines;
pub mod debt_warnings;
pub mod erasure;
pub mod error;
pub mod extract;
pub mod history;
pub mod idempotency;
pub mod integrity;
pub mod objections;
pub mod open_data;
pub mod openapi;
pub mod ops;
pub mod problems;
pub mod proposals;
pub mod public;
pub mod ratelimit;
pub mod records;
pub mod rectifications;
pub mod repairs;
pub mod resource;
pub mod restrictions;
pub mod schema;
pub mod subjects;
pub mod supervision_items;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::HeaderName;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use probity_app::{App, IntegrityCommands};
use probity_domain::assessment::AssessmentFormula;
use probity_domain::{TimeLimits, WorkingCalendar};
use probity_store::{Db, EventLog, KeyStore};
use probity_views::Views;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use auth::Auth;
pub use error::ApiError;
pub use probity_app::{
    count_tokens, create_token, Clock, CommandOutcome, Metrics, MetricsSampler, Role, TokenError,
};

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest accepted request body (413 `payload_too_large` above it).
    pub body_limit_bytes: usize,
    /// How far projections may lag before `/readyz` fails (used by the binary's
    /// [`Readiness`] implementation).
    pub max_projection_lag: Duration,
    /// The per-address limit of requests without a token ([`ratelimit`]).
    pub public_rate_limit: ratelimit::RateLimitConfig,
}

/// A deadline is `due_soon` within this many working days (default of
/// [`AppState::due_soon_working_days`]).
pub const DUE_SOON_WORKING_DAYS: i64 = 2;

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            body_limit_bytes: 64 * 1024,
            max_projection_lag: Duration::from_secs(5),
            public_rate_limit: ratelimit::RateLimitConfig::default(),
        }
    }
}

/// Whether the service can take traffic (`GET /readyz`). The binary implements it over
/// the store, the bus and the projections' lag.
#[async_trait::async_trait]
pub trait Readiness: Send + Sync {
    /// `Err(reason)` when not ready; the reason is logged and returned in the problem.
    async fn check(&self) -> Result<(), String>;

    /// What the operator should act on although the service is ready (e.g. next year's
    /// holiday schedule is not loaded); listed by `/readyz` under `warnings`.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Readiness of the database alone: a trivial query succeeds.
#[derive(Debug, Clone)]
pub struct StoreReachable(pub Db);

#[async_trait::async_trait]
impl Readiness for StoreReachable {
    async fn check(&self) -> Result<(), String> {
        sqlx::query("SELECT 1")
            .execute(&self.0.any)
            .await
            .map(|_| ())
            .map_err(|e| format!("store unreachable: {e}"))
    }
}

/// Everything a request needs. Cheap to clone. `app` runs the use-cases; the other
/// handles are the same components, kept here for the reads HTTP serves directly (lists,
/// boards, histories, the public disclosure) and for the binary to share.
#[derive(Clone)]
pub struct AppState {
    /// The application layer: every command goes through it.
    pub app: App,
    pub db: Db,
    pub log: EventLog,
    pub keys: KeyStore,
    pub views: Arc<Views>,
    pub calendar: Arc<WorkingCalendar>,
    pub clock: Clock,
    pub config: HttpConfig,
    pub metrics: Arc<Metrics>,
    pub readiness: Arc<dyn Readiness>,
    /// A deadline is `due_soon` within this many working days.
    pub due_soon_working_days: i64,
    /// The integrity aggregates' rules (the policy in force).
    pub integrity: Arc<IntegrityCommands>,
    /// The assessment formula (`[assessment]`).
    pub assessment: AssessmentFormula,
    /// The buckets of the public rate limit, per client address.
    pub rate_limit: Arc<ratelimit::PublicRateLimit>,
}

/// What the binary hands to [`AppState::new`]: the application and the HTTP settings.
pub struct AppParts {
    pub app: App,
    pub config: HttpConfig,
    pub readiness: Arc<dyn Readiness>,
    pub assessment: AssessmentFormula,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("backend", &self.db.backend)
            .field("clock", &self.clock)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The state over the application (register extra gauges on `state.metrics`).
    pub fn new(parts: AppParts) -> Self {
        let app = parts.app;
        Self {
            db: app.db.clone(),
            log: app.log.clone(),
            keys: app.keys.clone(),
            views: app.views.clone(),
            calendar: app.calendar.clone(),
            clock: app.clock,
            metrics: app.metrics.clone(),
            integrity: app.integrity.clone(),
            app,
            rate_limit: Arc::new(ratelimit::PublicRateLimit::new(
                &parts.config.public_rate_limit,
            )),
            config: parts.config,
            readiness: parts.readiness,
            due_soon_working_days: DUE_SOON_WORKING_DAYS,
            assessment: parts.assessment,
        }
    }

    /// Builds every component over one database (tests, tools): the application with
    /// `calendar`, `limits` and the integrity rules' defaults.
    pub fn over_db(
        db: Db,
        calendar: Arc<WorkingCalendar>,
        limits: TimeLimits,
        clock: Clock,
        config: HttpConfig,
        readiness: Arc<dyn Readiness>,
    ) -> Self {
        Self::new(AppParts {
            app: App::over_db(db, calendar, limits, Default::default(), clock),
            config,
            readiness,
            assessment: AssessmentFormula::default(),
        })
    }

    /// The context of a command issued for `auth` in request `ctx`.
    pub fn command<'a>(
        auth: &'a Auth,
        ctx: &'a extract::RequestCtx,
    ) -> probity_app::CommandContext<'a> {
        probity_app::CommandContext {
            caller: auth,
            request_id: &ctx.request_id,
            correlation_id: &ctx.correlation_id,
            once: None,
        }
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such path".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("a handler panicked").into_response()
}

async fn count_responses(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    state.metrics.record_response(response.status().as_u16());
    response
}

/// The whole HTTP API: `/api/v1/...`, `/healthz`, `/readyz`, `/metrics`.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let api = Router::new()
        .merge(complaints::router())
        .merge(deadlines::router())
        .merge(assessments::router())
        .merge(audit::router())
        .merge(subjects::router())
        .merge(civil_servants::router())
        .merge(records::router())
        .merge(rectifications::router())
        .merge(repairs::router())
        .merge(objections::router())
        .merge(commitments::router())
        .merge(supervision_items::router())
        .merge(public::router())
        .merge(restrictions::router())
        .merge(open_data::router())
        .merge(proposals::router())
        .merge(debt_warnings::router());
    Router::new()
        .nest("/api/v1", api)
        .merge(ops::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.body_limit_bytes))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            ratelimit::limit_public,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_responses,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let request_id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let span = tracing::info_span!(
                "http",
                method = %req.method(),
                path = %req.uri().path(),
                request_id = %request_id,
                trace_id = tracing::field::Empty,
            );
            // The caller's W3C trace context, if any: this request continues its
            // trace, and every log line of the request carries the trace id.
            let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
            probity_store::trace::follow_remote(
                &span,
                header(probity_store::trace::TRACEPARENT),
                header(probity_store::trace::TRACESTATE),
            );
            if let Some(trace_id) = probity_store::trace::trace_id(&span) {
                span.record("trace_id", tracing::field::display(trace_id));
            }
            span
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}
