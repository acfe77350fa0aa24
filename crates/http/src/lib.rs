//! Probity's HTTP adapter: the v1 JSON API of `/work/shared/api-v1.md` on axum.
//!
//! - [`AppState`] holds everything a request needs; the binary builds it with
//!   [`AppState::new`] and serves [`router`].
//! - [`auth`]: bearer tokens ([`create_token`], [`count_tokens`]) and roles.
//! - [`error::ApiError`]: the single place where failures become HTTP statuses and
//!   `application/problem+json` bodies with stable codes.
//! - [`complaints`], [`deadlines`], [`history`] (audited histories, the access log),
//!   [`ops`]: the endpoints; [`openapi`]: their document.
//! - [`erasure`]: erasing a reporter's personal data (crypto-shredding).
//! - [`idempotency`]: `Idempotency-Key` on creating POSTs; [`extract`]: strict extractors.
//! - [`clock::Clock`], [`metrics::Metrics`], [`Readiness`]: time, counters, readiness.

pub mod assessments;
pub mod auth;
pub mod clock;
pub mod complaints;
pub mod deadlines;
pub mod erasure;
pub mod error;
pub mod extract;
pub mod history;
pub mod idempotency;
pub mod integrity;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod public;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::HeaderName;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use probity_domain::access::AccessLog;
use probity_domain::assessment::AssessmentFormula;
use probity_domain::complaint::{Complaint, ComplaintServices};
use probity_domain::{TimeLimits, WorkingCalendar};
use probity_store::{Db, EventLog, Executor, KeyStore};
use probity_views::Views;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use auth::{count_tokens, create_token, Auth, Role, TokenError};
pub use clock::Clock;
pub use error::ApiError;
pub use metrics::{CommandOutcome, Metrics, MetricsRenderer};

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest accepted request body (413 `payload_too_large` above it).
    pub body_limit_bytes: usize,
    /// How far projections may lag before `/readyz` fails (used by the binary's
    /// [`Readiness`] implementation).
    pub max_projection_lag: Duration,
}

/// A deadline is `due_soon` within this many working days (default of
/// [`AppState::due_soon_working_days`]).
pub const DUE_SOON_WORKING_DAYS: i64 = 2;

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            body_limit_bytes: 64 * 1024,
            max_projection_lag: Duration::from_secs(5),
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

/// Everything a request needs. Cheap to clone. Fields are public so the binary can
/// share its components (and, e.g., register metrics renderers on `metrics`).
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub log: EventLog,
    pub keys: KeyStore,
    pub complaints: Arc<Executor<Complaint>>,
    pub access: Arc<Executor<AccessLog>>,
    pub views: Arc<Views>,
    pub calendar: Arc<WorkingCalendar>,
    pub clock: Clock,
    pub config: HttpConfig,
    pub metrics: Arc<Metrics>,
    pub readiness: Arc<dyn Readiness>,
    /// A deadline is `due_soon` within this many working days.
    pub due_soon_working_days: i64,
    /// Known bearer tokens, so a request costs no token query.
    pub tokens: Arc<auth::TokenCache>,
    /// The integrity aggregates' executors and rules.
    pub integrity: Arc<integrity::IntegrityCommands>,
    /// The assessment formula (`[assessment]`).
    pub assessment: AssessmentFormula,
}

/// The components the binary hands to [`AppState::new`] (shared with its other tasks).
pub struct AppParts {
    pub db: Db,
    pub log: EventLog,
    pub keys: KeyStore,
    pub complaints: Arc<Executor<Complaint>>,
    pub access: Arc<Executor<AccessLog>>,
    pub calendar: Arc<WorkingCalendar>,
    pub clock: Clock,
    pub config: HttpConfig,
    pub readiness: Arc<dyn Readiness>,
    pub integrity: Arc<integrity::IntegrityCommands>,
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
    /// Builds the state from the binary's components; the views and fresh metrics are
    /// made here (register extra gauges on `state.metrics`).
    pub fn new(parts: AppParts) -> Self {
        Self {
            views: Arc::new(Views::new(parts.db.clone())),
            db: parts.db,
            log: parts.log,
            keys: parts.keys,
            complaints: parts.complaints,
            access: parts.access,
            calendar: parts.calendar,
            clock: parts.clock,
            config: parts.config,
            metrics: Arc::new(Metrics::new()),
            readiness: parts.readiness,
            due_soon_working_days: DUE_SOON_WORKING_DAYS,
            tokens: Arc::new(auth::TokenCache::default()),
            integrity: parts.integrity,
            assessment: parts.assessment,
        }
    }

    /// Builds every component over one database (tests, tools): event log, key store,
    /// executors with `calendar` and `limits`, and the integrity rules' defaults.
    pub fn over_db(
        db: Db,
        calendar: Arc<WorkingCalendar>,
        limits: TimeLimits,
        clock: Clock,
        config: HttpConfig,
        readiness: Arc<dyn Readiness>,
    ) -> Self {
        let services = ComplaintServices {
            calendar: calendar.clone(),
            limits,
        };
        let integrity = Arc::new(integrity::IntegrityCommands::new(
            db.clone(),
            probity_domain::integrity::IntegrityServices {
                calendar: calendar.clone(),
                policy: Default::default(),
            },
        ));
        Self::new(AppParts {
            integrity,
            assessment: AssessmentFormula::default(),
            log: EventLog::new(db.clone()),
            keys: KeyStore::new(db.clone()),
            complaints: Arc::new(Executor::new(db.clone(), services)),
            access: Arc::new(Executor::new(db.clone(), ())),
            db,
            calendar,
            clock,
            config,
            readiness,
        })
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
        .merge(history::router())
        .merge(integrity::router())
        .merge(public::router());
    Router::new()
        .nest("/api/v1", api)
        .merge(ops::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.body_limit_bytes))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(state.clone(), count_responses))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let request_id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %request_id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}
