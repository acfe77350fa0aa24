//! Probity's application layer: the use-cases, between the adapters (the HTTP API, the
//! CLI, the importer, the deadline engine) and the pure domain.
//!
//! An adapter authenticates and parses; then it calls [`App`] (or one of the functions
//! here), which runs the command through the aggregate's executor
//! ([`probity_store::Executor`]: load, decide, append, retry conflicts), reads what the
//! command is decided on from the log, counts the outcome, and answers with the view
//! folded from the aggregate's own events (read-your-writes), or with a typed
//! [`AppError`]. No adapter calls another one for business work.
//!
//! - [`App`]: the executors, the log, the key store, the views, the calendar and the
//!   [`Clock`], shared by every use-case; [`CommandContext`]: who issues a command for
//!   which request (the events' metadata).
//! - [`complaints`], [`integrity`]: every command of every aggregate and the reads that
//!   answer after one; [`access`]: the access log (history reads, exports, personal-data
//!   reads); [`erasure`]: crypto-shredding of a reporter or a civil servant;
//!   [`calendar`]: loading a year's holiday schedule; [`deadlines`]: the deadline
//!   engine's actions; [`tokens`]: bearer tokens and the [`Caller`] they stand for.
//! - [`error::AppError`]: the one error of the layer; [`metrics::Metrics`]: counters.

pub mod access;
pub mod calendar;
pub mod clock;
pub mod complaints;
pub mod deadlines;
pub mod debt;
pub mod erasure;
pub mod error;
pub mod integrity;
pub mod metrics;
pub mod open_data;
pub mod proposals;
pub mod sanctions;
pub mod supervision;
pub mod tokens;
pub mod validate;

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;

use probity_domain::access::AccessLog;
use probity_domain::complaint::{Complaint, ComplaintServices};
use probity_domain::integrity::{IntegrityPolicy, IntegrityServices};
use probity_domain::{TimeLimits, WorkingCalendar};
use probity_store::{Db, EventLog, ExecuteError, Executor, KeyStore, Metadata};
use probity_views::Views;

pub use clock::Clock;
pub use error::{AppError, AppResult, FieldIssue};
pub use integrity::IntegrityCommands;
pub use metrics::{CommandOutcome, Metrics, MetricsSampler};
pub use tokens::{
    count_tokens, create_token, create_token_expiring, list_tokens, revoke_token, Caller,
    CreatedToken, Revocation, Role, TokenError, TokenInfo, TokenVerifier,
};

/// Everything the use-cases need. Cheap to clone; the fields are public so the binary
/// can share its components with its other tasks.
#[derive(Clone)]
pub struct App {
    pub db: Db,
    pub log: EventLog,
    pub keys: KeyStore,
    /// The read models (lists, boards, the integrity reads).
    pub views: Arc<Views>,
    /// The working-day calendar in force.
    pub calendar: Arc<WorkingCalendar>,
    /// The time every command carries.
    pub clock: Clock,
    pub complaints: Arc<Executor<Complaint>>,
    pub access: Arc<Executor<AccessLog>>,
    /// The integrity aggregates' executors and rules.
    pub integrity: Arc<IntegrityCommands>,
    /// Command outcomes and other counters.
    pub metrics: Arc<Metrics>,
    /// Verifies bearer tokens (expiry, revocation) and keeps their last use, coarsely.
    pub tokens: Arc<TokenVerifier>,
    /// Held by a merge from reading its target until both halves are recorded.
    pub merges: Arc<tokio::sync::Mutex<()>>,
}

/// The components the binary hands to [`App::new`] (shared with its other tasks).
pub struct AppParts {
    pub db: Db,
    pub log: EventLog,
    pub keys: KeyStore,
    pub complaints: Arc<Executor<Complaint>>,
    pub access: Arc<Executor<AccessLog>>,
    pub calendar: Arc<WorkingCalendar>,
    pub clock: Clock,
    pub integrity: Arc<IntegrityCommands>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("backend", &self.db.backend)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl App {
    /// The application over the binary's components; views, metrics and the token cache
    /// are made here.
    pub fn new(parts: AppParts) -> Self {
        Self {
            views: Arc::new(Views::new(parts.db.clone())),
            db: parts.db,
            log: parts.log,
            keys: parts.keys,
            calendar: parts.calendar,
            clock: parts.clock,
            complaints: parts.complaints,
            access: parts.access,
            integrity: parts.integrity,
            metrics: Arc::new(Metrics::new()),
            tokens: Arc::new(TokenVerifier::default()),
            merges: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Builds every component over one database (the CLI, tools, tests): event log, key
    /// store, executors with `calendar`, `limits` and the integrity `policy`.
    pub fn over_db(
        db: Db,
        calendar: Arc<WorkingCalendar>,
        limits: TimeLimits,
        policy: IntegrityPolicy,
        clock: Clock,
    ) -> Self {
        let integrity = Arc::new(IntegrityCommands::new(
            db.clone(),
            IntegrityServices {
                calendar: calendar.clone(),
                policy,
            },
        ));
        Self::new(AppParts {
            log: EventLog::new(db.clone()),
            keys: KeyStore::new(db.clone()),
            complaints: Arc::new(Executor::new(
                db.clone(),
                ComplaintServices {
                    calendar: calendar.clone(),
                    limits,
                },
            )),
            access: Arc::new(Executor::new(db.clone(), ())),
            integrity,
            db,
            calendar,
            clock,
        })
    }

    /// Counts the outcome of a command.
    pub(crate) fn count<T, E: std::error::Error>(&self, result: &Result<T, ExecuteError<E>>) {
        self.metrics.record_command(match result {
            Ok(_) => CommandOutcome::Ok,
            Err(ExecuteError::Domain(_)) => CommandOutcome::Rejected,
            Err(ExecuteError::VersionConflict { .. }) => CommandOutcome::VersionConflict,
            Err(ExecuteError::Conflict) => CommandOutcome::Conflict,
            Err(ExecuteError::IdempotencyKeyTaken) => CommandOutcome::Conflict,
            Err(ExecuteError::Store(_)) => CommandOutcome::Error,
        });
    }
}

/// Who issues a command and for which request: the metadata of its events (never
/// personal data).
#[derive(Debug, Clone, Copy)]
pub struct CommandContext<'a> {
    pub caller: &'a Caller,
    /// The request's id (`X-Request-Id`, or one made up by the adapter).
    pub request_id: &'a str,
    /// The id that ties related requests together.
    pub correlation_id: &'a str,
    /// A creating request's `Idempotency-Key`: the command stores its response with its
    /// events, in one transaction (`None` for other commands and callers).
    pub once: Option<&'a Once>,
}

impl<'a> CommandContext<'a> {
    /// The same context for a creating request with an `Idempotency-Key`.
    pub fn with_once(self, once: Option<&'a Once>) -> Self {
        Self { once, ..self }
    }

    /// Event metadata: actor, role, unit, request and correlation ids.
    pub fn metadata(&self) -> Metadata {
        let mut m = HashMap::new();
        m.insert("actor".to_string(), self.caller.token_id.clone());
        m.insert("role".to_string(), self.caller.role.as_str().to_string());
        if let Some(unit) = &self.caller.unit {
            m.insert("unit".to_string(), unit.to_string());
        }
        m.insert("request_id".to_string(), self.request_id.to_string());
        m.insert(
            "correlation_id".to_string(),
            self.correlation_id.to_string(),
        );
        m
    }
}

/// The `Idempotency-Key` of a creating request (see [`probity_store::writes`]): the
/// creation stores its response (201, the new resource's view, its `Location`) in the
/// same transaction as its events, so a retry finds the response exactly when the
/// resource exists.
#[derive(Debug, Clone)]
pub struct Once {
    /// The caller's token id.
    pub actor: String,
    /// The header's value.
    pub key: String,
    /// Hex SHA-256 of the method, path and canonical body.
    pub request_hash: String,
    /// The collection the resource is created in (`/api/v1/records`): `Location` is
    /// this, a slash and the new id.
    pub collection: String,
}

impl Once {
    /// The response of the creation of `id` whose view is `body`.
    pub fn response(&self, id: &str, body: serde_json::Value) -> probity_store::StoredResponse {
        probity_store::StoredResponse {
            status: 201,
            body,
            location: Some(format!("{}/{id}", self.collection)),
        }
    }

    /// The record to store for the creation of `id`.
    pub fn record(
        &self,
        id: &str,
        body: serde_json::Value,
        at: DateTime<Utc>,
    ) -> probity_store::IdempotencyRecord {
        probity_store::IdempotencyRecord::new(
            &self.actor,
            &self.key,
            &self.request_hash,
            self.response(id, body),
            at,
        )
    }
}

/// Metadata of a command a system actor issues (the CLI, the importer, the deadline
/// engine): `actor` and `role`, nothing else.
pub fn system_metadata(actor: &str, role: &str) -> Metadata {
    let mut m = Metadata::new();
    m.insert("actor".to_string(), actor.to_string());
    m.insert("role".to_string(), role.to_string());
    m
}
