//! Integrity records (issue 3): subjects and civil servants, dishonesty records,
//! rectifications, credit repairs, objections and commitments, with the supervisors'
//! and auditors' reads (record list, archive, eligibility). The public disclosure is in
//! [`crate::public`].
//!
//! Handlers are thin: authorise, read the facts another aggregate is decided on from the
//! log (never from a lagging projection), build the command, execute, and answer with the
//! aggregate folded from its history. Rules live in the domain; errors map in
//! `error.rs`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use cqrs_es::Aggregate;
use probity_domain::civil_servant::{CivilServant, CivilServantCommand};
use probity_domain::commitment::{Commitment, CommitmentCommand, CommitmentKind, Fulfilment};
use probity_domain::integrity::{
    Decider, IntegrityPolicy, IntegrityServices, RecordFacts, Sector, Severity, Source,
};
use probity_domain::objection::{Grounds, Objection, ObjectionCommand, ObjectionOutcome};
use probity_domain::record::{
    record_id_for, DishonestyRecord, RecordCommand, RecordTarget, UpheldObjection,
};
use probity_domain::rectification::{Rectification, RectificationCommand};
use probity_domain::repair::{Repair, RepairCommand};
use probity_domain::subject::{Subject, SubjectCommand, SubjectKind};
use probity_domain::{CreditCode, IdentityNumber};
use probity_store::{Db, Executor, Metadata, PersonIndex, Reserved};
use probity_views::integrity::{
    Archive, CivilServantView, CommitmentView, Eligibility, IntegrityDoc, ObjectionView,
    RecordFilter, RecordView, RectificationView, RepairView, SubjectView, CIVIL_SERVANT_TYPE,
    COMMITMENT_TYPE, OBJECTION_TYPE, RECORD_TYPE, RECTIFICATION_TYPE, REPAIR_TYPE, SUBJECT_TYPE,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Auth, Role};
use crate::complaints::{metadata, outcome, page_limit, EmptyBody, ReasonBody};
use crate::error::{ApiError, Problem};
use crate::extract::{
    ApiJson, ApiQuery, CaseId, IdempotencyKey, IfMatch, OptionalJson, RequestCtx,
};
use crate::idempotency::{self, StoredResponse};
use crate::metrics::CommandOutcome;
use crate::AppState;

/// Kind of the civil servants' entries in the person index.
pub const CIVIL_SERVANT_KIND: &str = "civil_servant";

/// Longest civil servant's name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// The command side of the integrity aggregates, shared by the API, the deadline engine
/// and the importer.
pub struct IntegrityCommands {
    pub subjects: Arc<Executor<Subject>>,
    pub civil_servants: Arc<Executor<CivilServant>>,
    pub records: Arc<Executor<DishonestyRecord>>,
    pub rectifications: Arc<Executor<Rectification>>,
    pub repairs: Arc<Executor<Repair>>,
    pub objections: Arc<Executor<Objection>>,
    pub commitments: Arc<Executor<Commitment>>,
    /// Keyed-hash index of civil servants' identity numbers.
    pub index: PersonIndex,
    /// The rules in force (also in every executor's services).
    pub policy: IntegrityPolicy,
}

impl IntegrityCommands {
    /// Executors for every integrity aggregate over `db`.
    pub fn new(db: Db, services: IntegrityServices) -> Self {
        fn shared<A: Aggregate<Services = IntegrityServices>>(
            db: &Db,
            services: &IntegrityServices,
        ) -> Arc<Executor<A>> {
            Arc::new(Executor::new(db.clone(), services.clone()))
        }
        Self {
            subjects: shared(&db, &services),
            civil_servants: shared(&db, &services),
            records: shared(&db, &services),
            rectifications: shared(&db, &services),
            repairs: shared(&db, &services),
            objections: shared(&db, &services),
            commitments: shared(&db, &services),
            index: PersonIndex::new(db.clone()),
            policy: services.policy.clone(),
        }
    }

    /// A record's current facts, folded from its events; `None` if never recorded.
    pub async fn record_facts(&self, id: &str) -> Result<Option<RecordFacts>, ApiError> {
        let (record, _) = load(&self.records, id).await?;
        Ok(record.facts(id))
    }

    /// Whether a subject with this code is registered (from the log).
    pub async fn subject_kind(&self, code: &str) -> Result<Option<SubjectKind>, ApiError> {
        Ok(load(&self.subjects, code).await?.0.kind)
    }
}

impl std::fmt::Debug for IntegrityCommands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegrityCommands").finish_non_exhaustive()
    }
}

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/subjects", post(subject_create))
        .route("/subjects/{id}", get(subject_view))
        .route("/subjects/{id}/archive", get(subject_archive))
        .route("/subjects/{id}/eligibility", get(subject_eligibility))
        .route("/civil-servants", post(civil_servant_create))
        .route("/civil-servants/{id}", get(civil_servant_view))
        .route("/records", post(record_create).get(record_list))
        .route("/records/{id}", get(record_view))
        .route("/records/{id}/withdraw", post(record_withdraw))
        .route("/records/{id}/correct", post(record_correct))
        .route("/rectifications", post(rectification_create))
        .route("/rectifications/{id}", get(rectification_view))
        .route(
            "/rectifications/{id}/file-explanation",
            post(rectification_file_explanation),
        )
        .route("/rectifications/{id}/report", post(rectification_report))
        .route("/rectifications/{id}/verify", post(rectification_verify))
        .route("/rectifications/{id}/reject", post(rectification_reject))
        .route(
            "/rectifications/{id}/mitigate",
            post(rectification_mitigate),
        )
        .route(
            "/rectifications/{id}/escalate",
            post(rectification_escalate),
        )
        .route("/repairs", post(repair_create))
        .route("/repairs/{id}", get(repair_view))
        .route("/repairs/{id}/supplement", post(repair_supplement))
        .route("/repairs/{id}/accept", post(repair_accept))
        .route("/repairs/{id}/request-more", post(repair_request_more))
        .route("/repairs/{id}/approve", post(repair_approve))
        .route("/repairs/{id}/deny", post(repair_deny))
        .route("/repairs/{id}/revoke", post(repair_revoke))
        .route("/objections", post(objection_create))
        .route("/objections/{id}", get(objection_view))
        .route("/objections/{id}/uphold", post(objection_uphold))
        .route("/objections/{id}/dismiss", post(objection_dismiss))
        .route(
            "/objections/{id}/undeterminable",
            post(objection_undeterminable),
        )
        .route("/commitments", post(commitment_create))
        .route("/commitments/{id}", get(commitment_view))
        .route("/commitments/{id}/assess", post(commitment_assess))
}

// ---------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------

/// `POST /api/v1/subjects`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubject {
    /// Unified social credit code (GB 32100, checked with its organisation code).
    pub credit_code: String,
    pub name: String,
    /// government | department | public_institution | enterprise
    #[schema(value_type = String, example = "department")]
    pub kind: SubjectKind,
    /// The government it belongs to (must be registered and a government).
    pub parent_code: Option<String>,
}

/// `POST /api/v1/civil-servants`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCivilServant {
    /// Resident identity number (GB 11643): encrypted, indexed by a keyed hash, never
    /// returned.
    pub identity_number: String,
    /// Encrypted with the identity number; never returned.
    pub name: String,
    /// Credit code of the unit they serve in (a registered subject).
    pub unit_code: String,
}

/// `POST /api/v1/records`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRecord {
    /// The organisation it is about (or `civil_servant_id`, not both).
    pub subject_code: Option<String>,
    /// The civil servant it is about.
    pub civil_servant_id: Option<String>,
    /// administrative_penalty | sanction | court_judgment | audit | complaint | commitment_breach
    #[schema(value_type = String, example = "administrative_penalty")]
    pub source: Source,
    /// The source decision's reference (文书号); with `source`, unique.
    pub source_ref: String,
    pub decision_date: NaiveDate,
    /// minor | ordinary | serious
    #[schema(value_type = String, example = "ordinary")]
    pub severity: Severity,
    /// general | procurement | bidding | ppp | investment | debt | township
    #[schema(value_type = String, example = "general")]
    pub sector: Sector,
    pub summary: String,
    /// The complaint that led to it (required when `source` is complaint).
    pub complaint_id: Option<String>,
    /// Publish a minor record (not published by default).
    #[serde(default)]
    pub publish: bool,
    /// Sector ban in years (procurement 1–3, bidding and PPP 1–5).
    pub ban_years: Option<u32>,
}

/// `POST /api/v1/records/{id}/correct`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectRecordBody {
    /// The upheld (correct or complete) objection the correction rests on.
    pub objection_id: String,
    pub summary: Option<String>,
    #[schema(value_type = Option<String>)]
    pub severity: Option<Severity>,
    #[schema(value_type = Option<String>)]
    pub sector: Option<Sector>,
    pub decision_date: Option<NaiveDate>,
}

/// `POST /api/v1/rectifications`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRectification {
    pub record_id: String,
    /// Working days allowed (1–120), counted from the day after the order.
    pub working_days: u32,
}

/// `file-explanation`, `report`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextBody {
    pub text: String,
}

/// `reject` of a rectification.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    pub reason: String,
    /// Working days for the new report.
    pub working_days: u32,
}

/// `POST /api/v1/repairs`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRepair {
    pub record_id: String,
    /// The public credit commitment (信用承诺书).
    pub commitment: String,
    /// Evidence that the behaviour is corrected and obligations performed.
    pub evidence: String,
}

/// `supplement` of a repair.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceBody {
    pub evidence: String,
}

/// `request-more` of a repair.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WhatBody {
    pub what: String,
}

/// `POST /api/v1/objections`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateObjection {
    pub record_id: String,
    /// wrong_data | missing_data | past_period | wrongly_listed | not_removed
    #[schema(value_type = String, example = "wrong_data")]
    pub grounds: Grounds,
    pub detail: String,
}

/// `uphold` of an objection.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpholdBody {
    /// correct | complete | stop_publication | unlist
    #[schema(value_type = String, example = "stop_publication")]
    pub outcome: ObjectionOutcome,
}

/// `undeterminable` of an objection.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteTextBody {
    pub note: String,
}

/// `POST /api/v1/commitments`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCommitment {
    pub subject_code: String,
    /// investment_promise | township_public | repair
    #[schema(value_type = String, example = "investment_promise")]
    pub kind: CommitmentKind,
    pub text: String,
    pub due_date: Option<NaiveDate>,
}

/// `assess` of a commitment.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssessBody {
    /// fulfilled | partially_fulfilled | breached
    #[schema(value_type = String, example = "fulfilled")]
    pub level: Fulfilment,
    pub note: String,
}

/// A page of records.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordList {
    pub items: Vec<RecordView>,
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/records` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordListQuery {
    /// Credit code of the unit answering for the record (a handler sees its own only).
    pub unit: Option<String>,
    pub sector: Option<String>,
    pub severity: Option<String>,
    /// active | withdrawn
    pub status: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// An aggregate's state folded from its events, and its version.
pub async fn load<A: Aggregate>(executor: &Executor<A>, id: &str) -> Result<(A, usize), ApiError> {
    let events = executor.load(id).await?;
    let mut aggregate = A::default();
    for event in &events {
        aggregate.apply(event.payload.clone());
    }
    Ok((aggregate, events.len()))
}

fn parse_code(field: &str, value: &str) -> Result<CreditCode, ApiError> {
    CreditCode::parse(value.trim()).map_err(|e| ApiError::from_id(field, e))
}

fn decider(auth: &Auth) -> Decider {
    match &auth.unit {
        Some(unit) => Decider::Authority(unit.clone()),
        None => Decider::CreditOffice,
    }
}

/// Folds `(sequence, payload)` pairs of one aggregate into its document.
fn fold<'a>(
    aggregate_type: &str,
    id: &str,
    events: impl IntoIterator<Item = (u64, &'a Value)>,
) -> Result<Option<IntegrityDoc>, ApiError> {
    let mut doc = None;
    for (sequence, payload) in events {
        doc = IntegrityDoc::apply(doc, aggregate_type, id, sequence, payload)
            .map_err(|e| ApiError::internal(format!("{aggregate_type} {id} does not fold: {e}")))?;
    }
    Ok(doc)
}

/// Runs a command and returns the aggregate's document folded from its history.
async fn run<A>(
    state: &AppState,
    executor: &Executor<A>,
    id: &str,
    command: A::Command,
    expected_version: Option<usize>,
    metadata: Metadata,
) -> Result<IntegrityDoc, ApiError>
where
    A: Aggregate,
    A::Command: Clone,
    A::Error: Into<ApiError>,
{
    match executor
        .execute_with_history(id, command, expected_version, metadata)
        .await
    {
        Ok(executed) => {
            state.metrics.record_command(CommandOutcome::Ok);
            let payloads: Vec<(u64, Value)> = executed
                .history
                .iter()
                .map(|e| {
                    serde_json::to_value(&e.payload)
                        .map(|v| (e.sequence as u64, v))
                        .map_err(ApiError::internal)
                })
                .collect::<Result<_, _>>()?;
            fold(A::TYPE, id, payloads.iter().map(|(s, v)| (*s, v)))?.ok_or_else(|| {
                ApiError::internal(format!("{} {id} has no document after a command", A::TYPE))
            })
        }
        Err(e) => {
            state.metrics.record_command(outcome(&e));
            Err(e.into())
        }
    }
}

impl AppState {
    /// An integrity document from the read model, or folded from the log when the
    /// projection has not caught up with the aggregate's last event (read-your-writes).
    pub async fn read_integrity(
        &self,
        aggregate_type: &str,
        id: &str,
    ) -> Result<Option<IntegrityDoc>, ApiError> {
        let projected = self.views.integrity_doc(aggregate_type, id).await?;
        let last = self.log.last_sequence(aggregate_type, id).await?;
        match projected {
            Some(doc) if i64::try_from(doc.version()).unwrap_or(i64::MAX) >= last => Ok(Some(doc)),
            _ if last > 0 => {
                let events = self.log.read_aggregate(aggregate_type, id, None).await?;
                fold(
                    aggregate_type,
                    id,
                    events.iter().map(|e| (e.sequence as u64, &e.payload)),
                )
            }
            _ => Ok(None),
        }
    }

    /// Completes a document for the reader's day (record overlay, overdue).
    async fn complete(&self, doc: IntegrityDoc) -> Result<IntegrityDoc, ApiError> {
        let today = self.clock.today();
        Ok(match doc {
            IntegrityDoc::Record(v) => {
                IntegrityDoc::Record(self.views.complete_record(v, today).await?)
            }
            IntegrityDoc::Rectification(mut v) => {
                v.refresh_overdue(today);
                IntegrityDoc::Rectification(v)
            }
            other => other,
        })
    }
}

/// Reads one document for `auth`: a handler sees only its own unit's (others are 404).
async fn read_for(
    state: &AppState,
    auth: &Auth,
    aggregate_type: &str,
    id: &str,
) -> Result<IntegrityDoc, ApiError> {
    let not_found = || ApiError::NotFound(format!("{aggregate_type} {id} not found"));
    let doc = state
        .read_integrity(aggregate_type, id)
        .await?
        .ok_or_else(not_found)?;
    if auth.role == Role::Handler && auth.unit.as_ref().map(|u| u.as_str()) != Some(doc.unit()) {
        return Err(not_found());
    }
    state.complete(doc).await
}

/// Answers a created resource: 201, `Location`, the stored body.
fn created(stored: &StoredResponse) -> Response {
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

/// Runs a creation under `Idempotency-Key` (same key and body: the first response).
async fn idempotent_create<F>(
    state: &AppState,
    auth: &Auth,
    key: Option<String>,
    path: &str,
    raw: &[u8],
    create: F,
) -> Result<Response, ApiError>
where
    F: std::future::Future<Output = Result<StoredResponse, ApiError>>,
{
    idempotency::create_once(state, &auth.token_id, key, path, raw, create, created).await
}

fn stored(doc: &IntegrityDoc, location: String) -> Result<StoredResponse, ApiError> {
    Ok(StoredResponse {
        status: StatusCode::CREATED.as_u16(),
        body: doc.to_json().map_err(ApiError::internal)?,
        location: Some(location),
    })
}

async fn respond(state: &AppState, doc: IntegrityDoc) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        state
            .complete(doc)
            .await?
            .to_json()
            .map_err(ApiError::internal)?,
    ))
}

/// The facts of the record named in a body (422 when there is no such record).
async fn record_facts_for(state: &AppState, record_id: &str) -> Result<RecordFacts, ApiError> {
    if record_id.trim().is_empty() || record_id.len() > 100 {
        return Err(ApiError::field("record_id", "invalid", "not a record id"));
    }
    state
        .integrity
        .record_facts(record_id.trim())
        .await?
        .ok_or_else(|| ApiError::field("record_id", "not_found", "no record has this id"))
}

// ---------------------------------------------------------------------------------------
// Subjects and civil servants
// ---------------------------------------------------------------------------------------

/// Register a subject (admin).
#[utoipa::path(post, path = "/api/v1/subjects", tag = "subjects", operation_id = "subject_create",
    request_body = CreateSubject,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses((status = 201, body = SubjectView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "already_exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_failed, invalid_credit_code", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "subject_create", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn subject_create(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    IdempotencyKey(key): IdempotencyKey,
    body: ApiJson<CreateSubject>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Admin])?;
    let b = &body.value;
    let code = parse_code("credit_code", &b.credit_code)?;
    let parent = match b.parent_code.as_deref().map(str::trim) {
        Some(p) if !p.is_empty() => {
            let parent = parse_code("parent_code", p)?;
            let kind = state.integrity.subject_kind(parent.as_str()).await?;
            Some((parent, kind))
        }
        _ => None,
    };
    let command = SubjectCommand::RegisterSubject {
        code: code.clone(),
        name: b.name.clone(),
        kind: b.kind,
        parent,
        at: state.clock.now(),
    };
    let work = async {
        let doc = run(
            &state,
            &state.integrity.subjects,
            code.as_str(),
            command,
            None,
            metadata(&auth, &ctx),
        )
        .await?;
        stored(&doc, format!("/api/v1/subjects/{}", code.as_str()))
    };
    idempotent_create(&state, &auth, key, "/api/v1/subjects", &body.raw, work).await
}

/// One subject (any role).
#[utoipa::path(get, path = "/api/v1/subjects/{code}", tag = "subjects", operation_id = "subject_view",
    params(("code" = String, Path, description = "Unified social credit code")),
    responses((status = 200, body = SubjectView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_credit_code", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "subject_view", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn subject_view(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> Result<Json<Value>, ApiError> {
    let code = parse_code("code", &id.0)?;
    let doc = state
        .read_integrity(SUBJECT_TYPE, code.as_str())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("subject {} not found", code.as_str())))?;
    respond(&state, doc).await
}

/// A subject's integrity archive (supervisor, auditor).
#[utoipa::path(get, path = "/api/v1/subjects/{code}/archive", tag = "subjects", operation_id = "subject_archive",
    params(("code" = String, Path, description = "Unified social credit code")),
    responses((status = 200, body = Archive),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "subject_archive", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn subject_archive(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> Result<Json<Archive>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Auditor])?;
    let code = parse_code("code", &id.0)?;
    state
        .views
        .archive(
            code.as_str(),
            state.clock.today(),
            &state.integrity.policy.sanction_months,
        )
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("subject {} not found", code.as_str())))
}

/// Honours eligibility of a subject (any role).
#[utoipa::path(get, path = "/api/v1/subjects/{code}/eligibility", tag = "subjects", operation_id = "subject_eligibility",
    params(("code" = String, Path, description = "Unified social credit code")),
    responses((status = 200, body = Eligibility),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "subject_eligibility", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn subject_eligibility(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> Result<Json<Eligibility>, ApiError> {
    let code = parse_code("code", &id.0)?;
    if state.views.subject(code.as_str()).await?.is_none()
        && state.integrity.subject_kind(code.as_str()).await?.is_none()
    {
        return Err(ApiError::NotFound(format!(
            "subject {} not found",
            code.as_str()
        )));
    }
    Ok(Json(
        state
            .views
            .eligibility(
                code.as_str(),
                state.clock.today(),
                &state.integrity.policy.sanction_months,
            )
            .await?,
    ))
}

/// Register a civil servant (admin): returns an opaque id; the identity number and name
/// are sealed with a key of their own and never returned.
#[utoipa::path(post, path = "/api/v1/civil-servants", tag = "subjects", operation_id = "civil_servant_create",
    request_body = CreateCivilServant,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses((status = 201, body = CivilServantView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "already_exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_failed, invalid_identity_number, invalid_credit_code", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "civil_servant_create", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id, case_id))]
pub async fn civil_servant_create(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    IdempotencyKey(key): IdempotencyKey,
    body: ApiJson<CreateCivilServant>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Admin])?;
    let b = &body.value;
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
    if state.integrity.subject_kind(unit.as_str()).await?.is_none() {
        return Err(ApiError::field(
            "unit_code",
            "not_found",
            "no subject is registered with this code",
        ));
    }
    let work = async {
        let proposed = uuid::Uuid::now_v7().to_string();
        let id = match state
            .integrity
            .index
            .reserve(CIVIL_SERVANT_KIND, identity.expose(), &proposed)
            .await?
        {
            Reserved::New(id) => id,
            Reserved::Existing(id) => {
                if load(&state.integrity.civil_servants, &id).await?.1 > 0 {
                    return Err(ApiError::AlreadyExists(format!(
                        "a civil servant with this identity number is registered as {id}"
                    )));
                }
                // An earlier registration reserved the id and failed before its event.
                id
            }
        };
        tracing::Span::current().record("case_id", id.as_str());
        let person = state
            .keys
            .seal_value(&serde_json::json!({
                "name": name,
                "identity_number": identity.expose(),
            }))
            .await?;
        let command = CivilServantCommand::RegisterCivilServant {
            person,
            unit_code: unit.clone(),
            at: state.clock.now(),
        };
        let doc = run(
            &state,
            &state.integrity.civil_servants,
            &id,
            command,
            None,
            metadata(&auth, &ctx),
        )
        .await?;
        stored(&doc, format!("/api/v1/civil-servants/{id}"))
    };
    idempotent_create(
        &state,
        &auth,
        key,
        "/api/v1/civil-servants",
        &body.raw,
        work,
    )
    .await
}

/// One civil servant: the opaque id and unit only (admin, supervisor, auditor).
#[utoipa::path(get, path = "/api/v1/civil-servants/{id}", tag = "subjects", operation_id = "civil_servant_view",
    params(("id" = String, Path, description = "Opaque civil-servant id")),
    responses((status = 200, body = CivilServantView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "civil_servant_view", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn civil_servant_view(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Admin, Role::Supervisor, Role::Auditor])?;
    let doc = read_for(&state, &auth, CIVIL_SERVANT_TYPE, &id.0).await?;
    respond(&state, doc).await
}

// ---------------------------------------------------------------------------------------
// Dishonesty records
// ---------------------------------------------------------------------------------------

/// Record a dishonesty finding (supervisor). The id is derived from `source` and
/// `source_ref`, so the same decision is never recorded twice (409 `already_exists`).
#[utoipa::path(post, path = "/api/v1/records", tag = "records", operation_id = "record_create",
    request_body = CreateRecord,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses((status = 201, body = RecordView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "already_exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_failed, invalid_credit_code", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "record_create", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id, case_id))]
pub async fn record_create(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    IdempotencyKey(key): IdempotencyKey,
    body: ApiJson<CreateRecord>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let b = body.value.clone();
    let (target, registered) = match (b.subject_code.as_deref(), b.civil_servant_id.as_deref()) {
        (Some(code), None) => {
            let code = parse_code("subject_code", code)?;
            let registered = state.integrity.subject_kind(code.as_str()).await?.is_some();
            (RecordTarget::Subject { code }, registered)
        }
        (None, Some(id)) => {
            let id = id.trim().to_string();
            let (servant, _) = if id.is_empty() || id.len() > 100 {
                (CivilServant::default(), 0)
            } else {
                load(&state.integrity.civil_servants, &id).await?
            };
            match servant.unit_code {
                Some(unit_code) => (RecordTarget::CivilServant { id, unit_code }, true),
                None => {
                    return Err(ApiError::field(
                        "civil_servant_id",
                        "not_found",
                        "no civil servant has this id",
                    ))
                }
            }
        }
        _ => {
            return Err(ApiError::field(
                "subject_code",
                "invalid",
                "give exactly one of subject_code and civil_servant_id",
            ))
        }
    };
    let complaint = match b.complaint_id.as_deref().map(str::trim) {
        Some(cid) if !cid.is_empty() => {
            let found = cid.len() <= 100 && state.log.last_sequence("complaint", cid).await? > 0;
            Some((cid.to_string(), found))
        }
        _ => None,
    };
    let id = record_id_for(b.source, &b.source_ref);
    tracing::Span::current().record("case_id", id.as_str());
    let command = RecordCommand::RecordDishonesty {
        target,
        target_registered: registered,
        source: b.source,
        source_ref: b.source_ref,
        decision_date: b.decision_date,
        severity: b.severity,
        sector: b.sector,
        summary: b.summary,
        complaint,
        publish_minor: b.publish,
        ban_years: b.ban_years,
        recorded_by: auth.unit.clone(),
        at: state.clock.now(),
    };
    let work = async {
        let doc = run(
            &state,
            &state.integrity.records,
            &id,
            command,
            None,
            metadata(&auth, &ctx),
        )
        .await?;
        let doc = state.complete(doc).await?;
        stored(&doc, format!("/api/v1/records/{id}"))
    };
    idempotent_create(&state, &auth, key, "/api/v1/records", &body.raw, work).await
}

pub(crate) const SECTORS: [&str; 7] = [
    "general",
    "procurement",
    "bidding",
    "ppp",
    "investment",
    "debt",
    "township",
];
pub(crate) const SEVERITIES: [&str; 3] = ["minor", "ordinary", "serious"];

pub(crate) fn check_choice(
    field: &str,
    value: &Option<String>,
    allowed: &[&str],
) -> Result<(), ApiError> {
    match value {
        Some(v) if !allowed.contains(&v.as_str()) => Err(ApiError::field(
            field,
            "invalid",
            format!("{field} must be one of {}", allowed.join(", ")),
        )),
        _ => Ok(()),
    }
}

/// Records, newest decision first (supervisor, auditor; a handler sees its own unit's).
#[utoipa::path(get, path = "/api/v1/records", tag = "records", operation_id = "record_list",
    params(RecordListQuery),
    responses((status = 200, body = RecordList),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "record_list", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn record_list(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    ApiQuery(q): ApiQuery<RecordListQuery>,
) -> Result<Json<RecordList>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Auditor, Role::Handler, Role::Intake])?;
    let limit = page_limit(q.limit)?;
    check_choice("sector", &q.sector, &SECTORS)?;
    check_choice("severity", &q.severity, &SEVERITIES)?;
    check_choice("status", &q.status, &["active", "withdrawn"])?;
    let unit = match (&auth.role, &q.unit) {
        (Role::Handler, _) => Some(auth.handler_unit()?.as_str().to_string()),
        (_, Some(u)) => Some(parse_code("unit", u)?.as_str().to_string()),
        _ => None,
    };
    let filter = RecordFilter {
        unit,
        sector: q.sector,
        severity: q.severity,
        status: q.status,
    };
    let page = state
        .views
        .records(&filter, state.clock.today(), limit, q.cursor.as_deref())
        .await?;
    Ok(Json(RecordList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// One record (supervisor, auditor, intake; a handler: its own unit's).
#[utoipa::path(get, path = "/api/v1/records/{id}", tag = "records", operation_id = "record_view",
    params(("id" = String, Path, description = "Record id")),
    responses((status = 200, body = RecordView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "record_view", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
pub async fn record_view(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Auditor, Role::Intake, Role::Handler])?;
    let doc = read_for(&state, &auth, RECORD_TYPE, &id.0).await?;
    respond(&state, doc).await
}

/// Withdraw a record: its source decision was changed or revoked (supervisor).
#[utoipa::path(post, path = "/api/v1/records/{id}/withdraw", tag = "records", operation_id = "record_withdraw",
    request_body = ReasonBody, params(("id" = String, Path, description = "Record id")),
    responses((status = 200, body = RecordView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "record_withdraw", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
pub async fn record_withdraw(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<ReasonBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = RecordCommand::WithdrawRecord {
        reason: body.value.reason,
        at: state.clock.now(),
    };
    let doc = run(
        &state,
        &state.integrity.records,
        &id.0,
        command,
        if_match.0,
        metadata(&auth, &ctx),
    )
    .await?;
    respond(&state, doc).await
}

/// Correct or complete a record after an upheld objection (supervisor).
#[utoipa::path(post, path = "/api/v1/records/{id}/correct", tag = "records", operation_id = "record_correct",
    request_body = CorrectRecordBody, params(("id" = String, Path, description = "Record id")),
    responses((status = 200, body = RecordView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "record_correct", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
pub async fn record_correct(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<CorrectRecordBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let b = body.value;
    let oid = b.objection_id.trim().to_string();
    let (objection, seen) = if oid.is_empty() || oid.len() > 100 {
        (Objection::default(), 0)
    } else {
        load(&state.integrity.objections, &oid).await?
    };
    if seen == 0 {
        return Err(ApiError::field(
            "objection_id",
            "not_found",
            "no objection has this id",
        ));
    }
    let command = RecordCommand::CorrectRecord {
        objection: UpheldObjection {
            objection_id: oid,
            about_this_record: objection.record_id.as_deref() == Some(id.0.as_str()),
            outcome: objection.outcome,
        },
        summary: b.summary,
        severity: b.severity,
        sector: b.sector,
        decision_date: b.decision_date,
        at: state.clock.now(),
    };
    let doc = run(
        &state,
        &state.integrity.records,
        &id.0,
        command,
        if_match.0,
        metadata(&auth, &ctx),
    )
    .await?;
    respond(&state, doc).await
}

// ---------------------------------------------------------------------------------------
// Rectifications
// ---------------------------------------------------------------------------------------

/// Order a rectification of a record (supervisor): due in working days.
#[utoipa::path(post, path = "/api/v1/rectifications", tag = "rectifications", operation_id = "rectification_create",
    request_body = CreateRectification,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses((status = 201, body = RectificationView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_failed, calendar_missing", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "rectification_create", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id, case_id))]
pub async fn rectification_create(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    IdempotencyKey(key): IdempotencyKey,
    body: ApiJson<CreateRectification>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let record = record_facts_for(&state, &body.value.record_id).await?;
    let id = uuid::Uuid::now_v7().to_string();
    tracing::Span::current().record("case_id", id.as_str());
    let command = RectificationCommand::OrderRectification {
        record,
        working_days: body.value.working_days,
        at: state.clock.now(),
    };
    let work = async {
        let doc = run(
            &state,
            &state.integrity.rectifications,
            &id,
            command,
            None,
            metadata(&auth, &ctx),
        )
        .await?;
        let doc = state.complete(doc).await?;
        stored(&doc, format!("/api/v1/rectifications/{id}"))
    };
    idempotent_create(
        &state,
        &auth,
        key,
        "/api/v1/rectifications",
        &body.raw,
        work,
    )
    .await
}

/// One rectification (supervisor, auditor, intake; a handler: its own unit's).
#[utoipa::path(get, path = "/api/v1/rectifications/{id}", tag = "rectifications", operation_id = "rectification_view",
    params(("id" = String, Path, description = "Rectification id")),
    responses((status = 200, body = RectificationView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "rectification_view", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
pub async fn rectification_view(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Auditor, Role::Intake, Role::Handler])?;
    let doc = read_for(&state, &auth, RECTIFICATION_TYPE, &id.0).await?;
    respond(&state, doc).await
}

async fn rectification_command(
    state: &AppState,
    ctx: &RequestCtx,
    auth: &Auth,
    id: &CaseId,
    if_match: IfMatch,
    command: RectificationCommand,
) -> Result<Json<Value>, ApiError> {
    let doc = run(
        state,
        &state.integrity.rectifications,
        &id.0,
        command,
        if_match.0,
        metadata(auth, ctx),
    )
    .await?;
    respond(state, doc).await
}

macro_rules! verb_doc {
    ($name:ident, $path:literal, $tag:literal, $body:ty, $view:ty, $summary:literal) => {
        #[doc = $summary]
        #[utoipa::path(post, path = $path, tag = $tag, operation_id = stringify!($name),
            request_body = $body, params(("id" = String, Path, description = "Case id")),
            responses((status = 200, body = $view),
                (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
                (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
                (status = 412, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
            security(("bearer" = [])))]
        #[allow(dead_code)]
        pub fn $name() {}
    };
}

/// OpenAPI documentation of the integrity verbs (the handlers share one shape).
pub mod docs {
    use super::*;
    verb_doc!(
        rectification_file_explanation,
        "/api/v1/rectifications/{id}/file-explanation",
        "rectifications",
        TextBody,
        RectificationView,
        "File the written explanation (handler of the unit)."
    );
    verb_doc!(
        rectification_report,
        "/api/v1/rectifications/{id}/report",
        "rectifications",
        TextBody,
        RectificationView,
        "Report the rectification (handler of the unit)."
    );
    verb_doc!(
        rectification_verify,
        "/api/v1/rectifications/{id}/verify",
        "rectifications",
        EmptyBody,
        RectificationView,
        "Verify the reported rectification (supervisor)."
    );
    verb_doc!(
        rectification_reject,
        "/api/v1/rectifications/{id}/reject",
        "rectifications",
        RejectBody,
        RectificationView,
        "Reject the report with a new due date (supervisor)."
    );
    verb_doc!(
        rectification_mitigate,
        "/api/v1/rectifications/{id}/mitigate",
        "rectifications",
        ReasonBody,
        RectificationView,
        "Record mitigation (supervisor)."
    );
    verb_doc!(rectification_escalate, "/api/v1/rectifications/{id}/escalate", "rectifications", EmptyBody, RectificationView, "Escalate an overdue rectification: 通报批评 (supervisor; the deadline engine does it by itself).");
    verb_doc!(
        repair_supplement,
        "/api/v1/repairs/{id}/supplement",
        "repairs",
        EvidenceBody,
        RepairView,
        "Supply the material asked for (handler of the unit, intake)."
    );
    verb_doc!(repair_accept, "/api/v1/repairs/{id}/accept", "repairs", EmptyBody, RepairView, "Accept the application: decision due in 10 working days (supervisor of the recording authority or the credit office).");
    verb_doc!(
        repair_request_more,
        "/api/v1/repairs/{id}/request-more",
        "repairs",
        WhatBody,
        RepairView,
        "Ask for more material (supervisor)."
    );
    verb_doc!(
        repair_approve,
        "/api/v1/repairs/{id}/approve",
        "repairs",
        EmptyBody,
        RepairView,
        "Approve: publication ends, sanctions lift (supervisor)."
    );
    verb_doc!(
        repair_deny,
        "/api/v1/repairs/{id}/deny",
        "repairs",
        ReasonBody,
        RepairView,
        "Deny the application (supervisor)."
    );
    verb_doc!(repair_revoke, "/api/v1/repairs/{id}/revoke", "repairs", ReasonBody, RepairView, "Revoke an approved repair: the record is published again until its maximum period (supervisor).");
    verb_doc!(
        objection_uphold,
        "/api/v1/objections/{id}/uphold",
        "objections",
        UpholdBody,
        ObjectionView,
        "Uphold the objection with an outcome (supervisor)."
    );
    verb_doc!(
        objection_dismiss,
        "/api/v1/objections/{id}/dismiss",
        "objections",
        ReasonBody,
        ObjectionView,
        "Dismiss the objection (supervisor)."
    );
    verb_doc!(
        objection_undeterminable,
        "/api/v1/objections/{id}/undeterminable",
        "objections",
        NoteTextBody,
        ObjectionView,
        "The objection cannot be determined; both versions are kept (supervisor)."
    );
    verb_doc!(
        commitment_assess,
        "/api/v1/commitments/{id}/assess",
        "commitments",
        AssessBody,
        CommitmentView,
        "Assess how a commitment was kept; a breach proposes a record (supervisor)."
    );
}

#[tracing::instrument(name = "rectification_file_explanation", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn rectification_file_explanation(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<TextBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Handler])?;
    let command = RectificationCommand::FileExplanation {
        unit: auth.handler_unit()?,
        text: body.value.text,
        at: state.clock.now(),
    };
    rectification_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "rectification_report", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn rectification_report(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<TextBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Handler])?;
    let command = RectificationCommand::ReportRectification {
        unit: auth.handler_unit()?,
        text: body.value.text,
        at: state.clock.now(),
    };
    rectification_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "rectification_verify", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn rectification_verify(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    OptionalJson(_): OptionalJson<EmptyBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = RectificationCommand::VerifyRectification {
        at: state.clock.now(),
    };
    rectification_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "rectification_reject", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn rectification_reject(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<RejectBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = RectificationCommand::RejectRectification {
        reason: body.value.reason,
        working_days: body.value.working_days,
        at: state.clock.now(),
    };
    rectification_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "rectification_mitigate", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn rectification_mitigate(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<ReasonBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = RectificationCommand::MitigateRectification {
        reason: body.value.reason,
        at: state.clock.now(),
    };
    rectification_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "rectification_escalate", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn rectification_escalate(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    OptionalJson(_): OptionalJson<EmptyBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = RectificationCommand::EscalateRectification {
        at: state.clock.now(),
    };
    rectification_command(&state, &ctx, &auth, &id, if_match, command).await
}

// ---------------------------------------------------------------------------------------
// Credit repairs
// ---------------------------------------------------------------------------------------

/// Apply for a credit repair (handler of the record's unit, intake). Too early or not
/// allowed is 409 `repair_not_eligible` with `possible_from`.
#[utoipa::path(post, path = "/api/v1/repairs", tag = "repairs", operation_id = "repair_create",
    request_body = CreateRepair,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses((status = 201, body = RepairView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "repair_not_eligible", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "repair_create", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id, case_id))]
pub async fn repair_create(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    IdempotencyKey(key): IdempotencyKey,
    body: ApiJson<CreateRepair>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Handler, Role::Intake])?;
    let record = record_facts_for(&state, &body.value.record_id).await?;
    let history = state
        .views
        .repair_history(record.unit.as_str(), &record.record_id)
        .await?;
    let applicant_unit = match auth.role {
        Role::Handler => Some(auth.handler_unit()?),
        _ => None,
    };
    let id = uuid::Uuid::now_v7().to_string();
    tracing::Span::current().record("case_id", id.as_str());
    let command = RepairCommand::ApplyForRepair {
        record,
        history,
        applicant_unit,
        commitment: body.value.commitment.clone(),
        evidence: body.value.evidence.clone(),
        at: state.clock.now(),
    };
    let work = async {
        let doc = run(
            &state,
            &state.integrity.repairs,
            &id,
            command,
            None,
            metadata(&auth, &ctx),
        )
        .await?;
        stored(&doc, format!("/api/v1/repairs/{id}"))
    };
    idempotent_create(&state, &auth, key, "/api/v1/repairs", &body.raw, work).await
}

/// One repair (supervisor, auditor, intake; a handler: its own unit's).
#[utoipa::path(get, path = "/api/v1/repairs/{id}", tag = "repairs", operation_id = "repair_view",
    params(("id" = String, Path, description = "Repair id")),
    responses((status = 200, body = RepairView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "repair_view", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
pub async fn repair_view(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Auditor, Role::Intake, Role::Handler])?;
    let doc = read_for(&state, &auth, REPAIR_TYPE, &id.0).await?;
    respond(&state, doc).await
}

async fn repair_command(
    state: &AppState,
    ctx: &RequestCtx,
    auth: &Auth,
    id: &CaseId,
    if_match: IfMatch,
    command: RepairCommand,
) -> Result<Json<Value>, ApiError> {
    let doc = run(
        state,
        &state.integrity.repairs,
        &id.0,
        command,
        if_match.0,
        metadata(auth, ctx),
    )
    .await?;
    respond(state, doc).await
}

#[tracing::instrument(name = "repair_supplement", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn repair_supplement(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<EvidenceBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Handler, Role::Intake])?;
    let applicant_unit = match auth.role {
        Role::Handler => Some(auth.handler_unit()?),
        _ => None,
    };
    let command = RepairCommand::SupplementRepair {
        applicant_unit,
        evidence: body.value.evidence,
        at: state.clock.now(),
    };
    repair_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "repair_accept", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn repair_accept(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    OptionalJson(_): OptionalJson<EmptyBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = RepairCommand::AcceptRepair {
        decider: decider(&auth),
        at: state.clock.now(),
    };
    repair_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "repair_request_more", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn repair_request_more(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<WhatBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = RepairCommand::RequestMoreForRepair {
        what: body.value.what,
        decider: decider(&auth),
        at: state.clock.now(),
    };
    repair_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "repair_approve", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn repair_approve(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    OptionalJson(_): OptionalJson<EmptyBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = RepairCommand::ApproveRepair {
        decider: decider(&auth),
        at: state.clock.now(),
    };
    repair_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "repair_deny", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn repair_deny(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<ReasonBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = RepairCommand::DenyRepair {
        reason: body.value.reason,
        decider: decider(&auth),
        at: state.clock.now(),
    };
    repair_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "repair_revoke", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn repair_revoke(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<ReasonBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = RepairCommand::RevokeRepair {
        reason: body.value.reason,
        decider: decider(&auth),
        at: state.clock.now(),
    };
    repair_command(&state, &ctx, &auth, &id, if_match, command).await
}

// ---------------------------------------------------------------------------------------
// Objections
// ---------------------------------------------------------------------------------------

/// File an objection (intake, or a handler of the record's unit): the record shows
/// `under_objection: true` in every view at once.
#[utoipa::path(post, path = "/api/v1/objections", tag = "objections", operation_id = "objection_create",
    request_body = CreateObjection,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses((status = 201, body = ObjectionView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "objection_create", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id, case_id))]
pub async fn objection_create(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    IdempotencyKey(key): IdempotencyKey,
    body: ApiJson<CreateObjection>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Intake, Role::Handler])?;
    let record = record_facts_for(&state, &body.value.record_id).await?;
    let filed_by_unit = match auth.role {
        Role::Handler => Some(auth.handler_unit()?),
        _ => None,
    };
    let id = uuid::Uuid::now_v7().to_string();
    tracing::Span::current().record("case_id", id.as_str());
    let command = ObjectionCommand::FileObjection {
        record,
        grounds: body.value.grounds,
        detail: body.value.detail.clone(),
        filed_by_unit,
        at: state.clock.now(),
    };
    let work = async {
        let doc = run(
            &state,
            &state.integrity.objections,
            &id,
            command,
            None,
            metadata(&auth, &ctx),
        )
        .await?;
        stored(&doc, format!("/api/v1/objections/{id}"))
    };
    idempotent_create(&state, &auth, key, "/api/v1/objections", &body.raw, work).await
}

/// One objection (supervisor, auditor, intake; a handler: its own unit's).
#[utoipa::path(get, path = "/api/v1/objections/{id}", tag = "objections", operation_id = "objection_view",
    params(("id" = String, Path, description = "Objection id")),
    responses((status = 200, body = ObjectionView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "objection_view", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
pub async fn objection_view(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Auditor, Role::Intake, Role::Handler])?;
    let doc = read_for(&state, &auth, OBJECTION_TYPE, &id.0).await?;
    respond(&state, doc).await
}

async fn objection_command(
    state: &AppState,
    ctx: &RequestCtx,
    auth: &Auth,
    id: &CaseId,
    if_match: IfMatch,
    command: ObjectionCommand,
) -> Result<Json<Value>, ApiError> {
    let doc = run(
        state,
        &state.integrity.objections,
        &id.0,
        command,
        if_match.0,
        metadata(auth, ctx),
    )
    .await?;
    respond(state, doc).await
}

#[tracing::instrument(name = "objection_uphold", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn objection_uphold(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<UpholdBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = ObjectionCommand::UpholdObjection {
        outcome: body.value.outcome,
        decider: decider(&auth),
        at: state.clock.now(),
    };
    objection_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "objection_dismiss", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn objection_dismiss(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<ReasonBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = ObjectionCommand::DismissObjection {
        reason: body.value.reason,
        decider: decider(&auth),
        at: state.clock.now(),
    };
    objection_command(&state, &ctx, &auth, &id, if_match, command).await
}

#[tracing::instrument(name = "objection_undeterminable", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn objection_undeterminable(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<NoteTextBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = ObjectionCommand::MarkUndeterminable {
        note: body.value.note,
        decider: decider(&auth),
        at: state.clock.now(),
    };
    objection_command(&state, &ctx, &auth, &id, if_match, command).await
}

// ---------------------------------------------------------------------------------------
// Commitments
// ---------------------------------------------------------------------------------------

/// Record a commitment (supervisor, or a handler for its own unit).
#[utoipa::path(post, path = "/api/v1/commitments", tag = "commitments", operation_id = "commitment_create",
    request_body = CreateCommitment,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses((status = 201, body = CommitmentView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "commitment_create", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id, case_id))]
pub async fn commitment_create(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    IdempotencyKey(key): IdempotencyKey,
    body: ApiJson<CreateCommitment>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Supervisor, Role::Handler])?;
    let code = parse_code("subject_code", &body.value.subject_code)?;
    let registered = state.integrity.subject_kind(code.as_str()).await?.is_some();
    let by_unit = match auth.role {
        Role::Handler => Some(auth.handler_unit()?),
        _ => None,
    };
    let id = uuid::Uuid::now_v7().to_string();
    tracing::Span::current().record("case_id", id.as_str());
    let command = CommitmentCommand::MakeCommitment {
        subject_code: code,
        subject_registered: registered,
        by_unit,
        kind: body.value.kind,
        text: body.value.text.clone(),
        due_date: body.value.due_date,
        at: state.clock.now(),
    };
    let work = async {
        let doc = run(
            &state,
            &state.integrity.commitments,
            &id,
            command,
            None,
            metadata(&auth, &ctx),
        )
        .await?;
        stored(&doc, format!("/api/v1/commitments/{id}"))
    };
    idempotent_create(&state, &auth, key, "/api/v1/commitments", &body.raw, work).await
}

/// One commitment (supervisor, auditor, intake; a handler: its own unit's).
#[utoipa::path(get, path = "/api/v1/commitments/{id}", tag = "commitments", operation_id = "commitment_view",
    params(("id" = String, Path, description = "Commitment id")),
    responses((status = 200, body = CommitmentView),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
#[tracing::instrument(name = "commitment_view", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
pub async fn commitment_view(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Auditor, Role::Intake, Role::Handler])?;
    let doc = read_for(&state, &auth, COMMITMENT_TYPE, &id.0).await?;
    respond(&state, doc).await
}

#[tracing::instrument(name = "commitment_assess", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
async fn commitment_assess(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    if_match: IfMatch,
    body: ApiJson<AssessBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let command = CommitmentCommand::AssessFulfilment {
        level: body.value.level,
        note: body.value.note,
        at: state.clock.now(),
    };
    let doc = run(
        &state,
        &state.integrity.commitments,
        &id.0,
        command,
        if_match.0,
        metadata(&auth, &ctx),
    )
    .await?;
    respond(&state, doc).await
}
