//! Complaints (投诉举报): the routes of creation, the verbs of the closed loop, reads,
//! lists and the audited history. Handlers are thin: extract, authorise the role, parse
//! the body into a command, call the application layer ([`probity_app::complaints`]),
//! and map its answer (the view folded from the case's events, so a response always
//! reflects the write, whatever the projection's lag).

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use probity_app::complaints::{NewComplaint, ReporterDisclosure};
use probity_app::validate::{check_length, filing, required_text, FilingField, RawFiling};
use probity_domain::complaint::{Category, Channel, ComplaintCommand};
use probity_domain::reporter::ReporterIdentity;
use probity_views::{ComplaintFilter, ComplaintView};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Auth, Role};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, CaseId, IdempotencyKey, OptionalJson, RequestCtx};
use crate::history::PurposeHeader;
use crate::idempotency::{self, StoredResponse};
use crate::problems::Unprocessable;
use crate::problems::{BadBody, ComplaintVerbProblems, Denied, InvalidComplaint, NotFound};
use crate::resource::{check_choice, parse_code, text_bodies, verbs, Verb};
use crate::AppState;

/// Limits of the free texts (defined by the application layer).
pub use probity_app::validate::{MAX_DESCRIPTION_CHARS, MAX_TEXT_CHARS, MAX_TITLE_CHARS};
/// Aggregate type of complaints in the event log (defined once, in the domain).
pub use probity_domain::aggregate_type::COMPLAINT;

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/complaints", post(complaint_create).get(complaint_list))
        .route("/complaints/{id}", get(complaint_view))
        .route("/complaints/{id}/history", get(complaint_history))
        .merge(verb_routes())
}

// ---------------------------------------------------------------------------------------
// Request and response bodies
// ---------------------------------------------------------------------------------------

/// The reporter as intake staff enter it (its schema, with the rules between the
/// fields, is [`reporter_input_schema`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReporterInput {
    /// An anonymous report carries no name, phone or identity number, and gets no visit.
    #[serde(default)]
    pub anonymous: bool,
    pub name: Option<String>,
    pub phone: Option<String>,
    /// Resident identity number (GB 11643), checksum verified.
    pub identity_number: Option<String>,
}

impl utoipa::PartialSchema for ReporterInput {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        reporter_input_schema()
    }
}

impl ToSchema for ReporterInput {}

/// The reporter's schema: either anonymous (`anonymous: true`, no name, phone or
/// identity number but blanks), or named (`anonymous` false or absent) with at least one
/// of name, phone and identity number not blank. A name has at most 100 characters, a
/// phone at most 32 digits, spaces, `+`, `-`, `(` or `)`.
fn reporter_input_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use crate::schema::{BLANK, NOT_BLANK, PHONE_PATTERN, SPACES};
    let name = serde_json::json!({"type": ["string", "null"], "maxLength": 100});
    let blank_name =
        serde_json::json!({"type": ["string", "null"], "pattern": BLANK, "maxLength": 100});
    let phone =
        serde_json::json!({"type": ["string", "null"], "pattern": PHONE_PATTERN, "maxLength": 32});
    let blank_phone =
        serde_json::json!({"type": ["string", "null"], "pattern": SPACES, "maxLength": 32});
    let blank_identity = serde_json::json!({"type": ["string", "null"], "pattern": BLANK});
    let identity = serde_json::json!({"oneOf": [
        {"type": "null"},
        {"type": "string", "pattern": BLANK},
        {"$ref": "#/components/schemas/IdentityNumber"},
    ]});
    let given = |field: &str| {
        serde_json::json!({"type": "object", "required": [field],
            "properties": { field: {"type": "string", "pattern": NOT_BLANK} }})
    };
    let schema = serde_json::json!({
        "description": "The reporter. Anonymous: `{\"anonymous\": true}` and no name, phone or identity number. Otherwise at least one of name, phone and identity number (GB 11643, checked).",
        "oneOf": [
            {
                "type": "object",
                "title": "anonymous",
                "additionalProperties": false,
                "required": ["anonymous"],
                "properties": {
                    "anonymous": {"type": "boolean", "enum": [true]},
                    "name": blank_name, "phone": blank_phone, "identity_number": blank_identity,
                },
            },
            {
                "allOf": [
                    {
                        "type": "object",
                        "title": "named",
                        "additionalProperties": false,
                        "properties": {
                            "anonymous": {"type": "boolean", "enum": [false]},
                            "name": name, "phone": phone, "identity_number": identity,
                        },
                    },
                    {"anyOf": [given("name"), given("phone"), given("identity_number")]},
                ],
            },
        ],
    });
    serde_json::from_value(schema).expect("the reporter's schema is a schema")
}

/// `POST /api/v1/complaints`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateComplaint {
    #[schema(value_type = crate::schema::Category, example = "complaint")]
    pub category: Category,
    #[schema(value_type = crate::schema::Channel, example = "hotline")]
    pub channel: Channel,
    /// Credit code of the body complained about (empty: none).
    #[schema(value_type = Option<crate::schema::CreditCodeOrBlank>)]
    pub subject_code: Option<String>,
    /// At most 200 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub title: String,
    /// At most 4000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub description: String,
    /// Required; `{"anonymous": true}` for an anonymous report.
    #[schema(value_type = ReporterInput)]
    pub reporter: Option<ReporterInput>,
}

/// The reporter block shown to intake and auditors (each read is recorded).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ReporterBlock {
    pub anonymous: bool,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub identity_number: Option<String>,
    /// The reporter's key was destroyed (crypto-shredded): the fields are gone for good.
    pub erased: bool,
}

/// A complaint view, with the reporter block for intake and auditors.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ComplaintResponse {
    #[serde(flatten)]
    pub view: ComplaintView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporter: Option<ReporterBlock>,
}

/// A verb without parameters: no body, or `{}`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyBody {}

text_bodies! {
    /// `decline`, `return`; `dismiss` of an objection.
    ReasonBody {
        /// At most 4000 characters, not blank.
        reason: 4000
    }

    /// `supervise`: the note is required (the handler reads it as a [`NoteBody`], so no
    /// body is a note left empty: 422).
    SuperviseBody {
        /// What the supervisor asks for. At most 4000 characters, not blank.
        note: 4000
    }

    /// `reply`.
    ReplyBody {
        /// At most 4000 characters, not blank.
        content: 4000
    }
}

/// `dispatch`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DispatchBody {
    /// Credit code of the handling unit.
    #[schema(value_type = crate::schema::CreditCode)]
    pub unit: String,
}

/// `request-extension`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionBody {
    /// Extra working days asked for (1 to 365).
    #[serde(deserialize_with = "crate::extract::whole_u32")]
    #[schema(minimum = 1, maximum = 365)]
    pub working_days: u32,
    /// At most 4000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub reason: String,
}

/// `approve-extension`, `deny-extension`, `supervise`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    /// At most 4000 characters.
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub note: String,
}

/// `visit`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitBody {
    pub satisfied: bool,
    /// At most 4000 characters.
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub comment: String,
}

/// `merge`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// Id of the case this one repeats (another, existing case).
    #[schema(
        min_length = 1,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub into: String,
}

/// A page of complaints (never with reporter blocks).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ComplaintList {
    pub items: Vec<ComplaintView>,
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/complaints` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ComplaintListQuery {
    #[param(value_type = Option<crate::schema::ComplaintStatus>)]
    pub status: Option<String>,
    /// Credit code of the handling unit (a handler always sees its own unit only).
    #[param(value_type = Option<crate::schema::CreditCode>)]
    pub unit: Option<String>,
    #[param(value_type = Option<crate::schema::Category>)]
    pub category: Option<String>,
    pub overdue: Option<bool>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// A `next_cursor` this list returned (opaque); anything else is 422.
    #[param(format = "complaint-cursor")]
    pub cursor: Option<String>,
}

pub use crate::history::{HistoryItem, HistoryPage, HistoryQuery};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Checks `limit` (default 50, 1..=500).
pub fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=500).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::field(
            "limit",
            "out_of_range",
            "limit must be between 1 and 500",
        )),
    }
}

/// The reporter block of a stored case for an authorised reader: the application
/// records the read in the access log FIRST, then opens the sealed block.
async fn reporter_block(
    state: &AppState,
    ctx: &RequestCtx,
    auth: &Auth,
    id: &str,
    anonymous: bool,
) -> Result<ReporterBlock, ApiError> {
    let empty = ReporterBlock {
        anonymous,
        name: None,
        phone: None,
        identity_number: None,
        erased: false,
    };
    let disclosure = state
        .app
        .disclose_reporter(
            AppState::command(auth, ctx),
            id,
            anonymous,
            "reporter block of GET /api/v1/complaints/{id}",
        )
        .await?;
    Ok(match disclosure {
        ReporterDisclosure::Nothing => empty,
        ReporterDisclosure::Identity(identity) => ReporterBlock {
            anonymous: false,
            name: identity.name,
            phone: identity.phone,
            identity_number: identity.identity_number,
            erased: false,
        },
        ReporterDisclosure::Erased => ReporterBlock {
            erased: true,
            ..empty
        },
    })
}

/// The API's names of the filing's fields.
fn field_name(field: FilingField) -> &'static str {
    match field {
        FilingField::Category => "category",
        FilingField::Channel => "channel",
        FilingField::SubjectCode => "subject_code",
        FilingField::Title => "title",
        FilingField::Description => "description",
        FilingField::Reporter => "reporter",
        FilingField::Anonymous => "reporter.anonymous",
        FilingField::ReporterName => "reporter.name",
        FilingField::ReporterPhone => "reporter.phone",
        FilingField::IdentityNumber => "reporter.identity_number",
    }
}

/// The wire name of a category or channel (serde already refused unknown ones).
fn wire_name<T: Serialize>(value: &T) -> Option<String> {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
}

/// The new complaint of a body, checked by the one filing validation
/// ([`probity_app::validate::filing`]).
fn validate_create(body: &CreateComplaint) -> Result<NewComplaint, ApiError> {
    let category = wire_name(&body.category);
    let channel = wire_name(&body.channel);
    let reporter = body.reporter.as_ref();
    let raw = RawFiling {
        category: category.as_deref(),
        channel: channel.as_deref(),
        subject_code: body.subject_code.as_deref(),
        title: &body.title,
        description: &body.description,
        anonymous: reporter.map(|r| r.anonymous),
        name: reporter.and_then(|r| r.name.as_deref()),
        phone: reporter.and_then(|r| r.phone.as_deref()),
        identity_number: reporter.and_then(|r| r.identity_number.as_deref()),
    };
    Ok(filing(&raw, field_name)?)
}

fn created_response(stored: &StoredResponse, reporter: Option<ReporterBlock>) -> Response {
    let mut body = stored.body.clone();
    if let (Some(block), Value::Object(map)) = (reporter, &mut body) {
        map.insert(
            "reporter".to_string(),
            serde_json::to_value(block).unwrap_or(Value::Null),
        );
    }
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::CREATED);
    let mut response = (status, Json(body)).into_response();
    if let Some(location) = stored
        .location
        .as_deref()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn reporter_echo(identity: &Option<ReporterIdentity>) -> ReporterBlock {
    match identity {
        None => ReporterBlock {
            anonymous: true,
            name: None,
            phone: None,
            identity_number: None,
            erased: false,
        },
        Some(r) => ReporterBlock {
            anonymous: false,
            name: r.name.clone(),
            phone: r.phone.clone(),
            identity_number: r.identity_number.clone(),
            erased: false,
        },
    }
}

// ---------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------

/// File a new complaint (intake). Replays the first response for a repeated
/// `Idempotency-Key` with the same body.
#[utoipa::path(
    post, path = "/api/v1/complaints", tag = "complaints", operation_id = "complaint_create",
    request_body = CreateComplaint,
    params(crate::schema::IdempotencyKeyHeader),
    responses(
        (status = 201, description = "Filed; `Location` names the new case", body = ComplaintResponse),
        Denied, BadBody, InvalidComplaint,
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "complaint_create", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id, case_id))]
pub async fn complaint_create(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    IdempotencyKey(key): IdempotencyKey,
    body: ApiJson<CreateComplaint>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Intake])?;
    let complaint = validate_create(&body.value)?;
    let echo = reporter_echo(&complaint.reporter);
    let once = idempotency::once(&auth.token_id, key, "/api/v1/complaints", &body.raw);
    let work = create(
        &state,
        AppState::command(&auth, &ctx).with_once(once.as_ref()),
        complaint,
    );
    idempotency::create_once(&state, once.as_ref(), work, |stored| {
        created_response(stored, Some(echo.clone()))
    })
    .await
}

/// Files the complaint through the application layer (which seals the reporter) and
/// returns the response to store (without the reporter block, which is never stored in
/// the clear).
async fn create(
    state: &AppState,
    command: probity_app::CommandContext<'_>,
    complaint: NewComplaint,
) -> Result<StoredResponse, ApiError> {
    let (id, view) = state.app.file_complaint(command, complaint).await?;
    tracing::Span::current().record("case_id", id.as_str());
    Ok(StoredResponse {
        status: StatusCode::CREATED.as_u16(),
        body: serde_json::to_value(&view).map_err(ApiError::internal)?,
        location: Some(format!("/api/v1/complaints/{id}")),
    })
}

/// `GET /api/v1/complaints/{id}` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ComplaintViewQuery {
    /// RFC 3339 instant: the case as it stood then, folded from the event log (404 if
    /// it was not filed yet).
    #[param(format = DateTime)]
    pub as_of: Option<String>,
}

/// One complaint. Intake and auditors also get the reporter block (the read is
/// recorded first); a handler sees only cases of its unit (others are 404). With
/// `as_of`, the case as it stood at that instant, folded from the log.
#[utoipa::path(
    get, path = "/api/v1/complaints/{id}", tag = "complaints", operation_id = "complaint_view",
    params(("id" = String, Path, description = "Case id"), ComplaintViewQuery),
    responses(
        (status = 200, body = ComplaintResponse),
        Denied, NotFound, Unprocessable,
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "complaint_view", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
pub async fn complaint_view(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    ApiQuery(q): ApiQuery<ComplaintViewQuery>,
) -> Result<Json<ComplaintResponse>, ApiError> {
    auth.require(&[Role::Intake, Role::Handler, Role::Supervisor, Role::Auditor])?;
    let as_of = crate::history::parse_as_of(q.as_of.as_deref())?;
    let view = state.app.complaint_for(&auth, &id.0, as_of).await?;
    let reporter = match auth.role {
        Role::Intake | Role::Auditor => {
            Some(reporter_block(&state, &ctx, &auth, &id.0, view.anonymous).await?)
        }
        _ => None,
    };
    Ok(Json(ComplaintResponse { view, reporter }))
}

const STATUSES: [&str; 9] = [
    "received",
    "accepted",
    "declined",
    "dispatched",
    "in_progress",
    "returned",
    "replied",
    "closed",
    "merged",
];
const CATEGORIES: [&str; 5] = ["consultation", "help", "suggestion", "complaint", "report"];

/// A page of complaints, filtered; never with reporter blocks. A handler sees only its
/// own unit's cases.
#[utoipa::path(
    get, path = "/api/v1/complaints", tag = "complaints", operation_id = "complaint_list",
    params(ComplaintListQuery),
    responses(
        (status = 200, body = ComplaintList),
        Denied, Unprocessable,
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "complaint_list", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn complaint_list(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    ApiQuery(q): ApiQuery<ComplaintListQuery>,
) -> Result<Json<ComplaintList>, ApiError> {
    auth.require(&[Role::Intake, Role::Handler, Role::Supervisor, Role::Auditor])?;
    let limit = page_limit(q.limit)?;
    check_choice("status", &q.status, &STATUSES)?;
    check_choice("category", &q.category, &CATEGORIES)?;
    // A malformed `unit` is 422 for every role (the document says so), though a handler's
    // list is its own unit's whatever it names.
    let given = q
        .unit
        .as_deref()
        .map(|u| parse_code("unit", u))
        .transpose()?;
    let unit = match (&auth.role, given) {
        (Role::Handler, _) => None,
        (_, given) => given.map(|u| u.to_string()),
    };
    let filter = ComplaintFilter {
        status: q.status,
        unit,
        category: q.category,
        overdue: q.overdue,
        units: None,
        ..ComplaintFilter::default()
    };
    let page = state
        .app
        .complaint_list(&auth, filter, limit, q.cursor.as_deref())
        .await?;
    Ok(Json(ComplaintList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// The case's events in order, personal blocks masked (auditor, supervisor). With
/// `as_of`, only the events up to that instant and the view as it stood then.
#[utoipa::path(
    get, path = "/api/v1/complaints/{id}/history", tag = "complaints", operation_id = "complaint_history",
    params(
        ("id" = String, Path, description = "Case id"),
        ("X-Purpose" = Option<String>, Header, nullable = false, max_length = 200, pattern = "^[ -~]*$", description = "Why the history is read (default audit)"),
        HistoryQuery,
    ),
    responses(
        (status = 200, body = HistoryPage),
        Denied, NotFound, Unprocessable,
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "complaint_history", skip_all, fields(request_id = %ctx.request_id, case_id = %id.0, actor = %auth.token_id))]
pub async fn complaint_history(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    id: CaseId,
    PurposeHeader(purpose): PurposeHeader,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<HistoryPage>, ApiError> {
    crate::history::read_history(&state, &ctx, &auth, COMPLAINT, &id.0, q, purpose)
        .await
        .map(Json)
}

/// What a verb on a complaint answers: the updated view.
type VerbAnswer = Result<Json<ComplaintView>, ApiError>;

/// Runs `command` on the complaint the verb names through the application layer and
/// answers with the updated view.
async fn run(v: &Verb, command: ComplaintCommand) -> VerbAnswer {
    let app = &v.state.app;
    let view = app
        .complaint_command(v.command(), &v.id.0, v.if_match.0, command)
        .await?;
    Ok(Json(view))
}

verbs! {
    tag = "complaints", ok = (status = 200, description = "The updated view", body = ComplaintView),
    problems = ComplaintVerbProblems, answer = VerbAnswer;

    /// received → accepted (intake).
    complaint_accept "/api/v1/complaints/{id}/accept" [Option<EmptyBody>]
    |v, _body: OptionalJson<EmptyBody>| {
        v.require(&[Role::Intake])?;
        run(&v, ComplaintCommand::AcceptComplaint { at: v.now() }).await
    }

    /// received → declined (intake).
    complaint_decline "/api/v1/complaints/{id}/decline" [ReasonBody]
    |v, body: ApiJson<ReasonBody>| {
        v.require(&[Role::Intake])?;
        let reason = body.value.reason;
        required_text("reason", &reason, MAX_TEXT_CHARS)?;
        run(&v, ComplaintCommand::DeclineComplaint { reason, at: v.now() }).await
    }

    /// accepted/returned → dispatched to `unit`, with sign and reply deadlines (intake, supervisor).
    complaint_dispatch "/api/v1/complaints/{id}/dispatch" [DispatchBody]
    |v, body: ApiJson<DispatchBody>| {
        v.require(&[Role::Intake, Role::Supervisor])?;
        let unit = parse_code("unit", &body.value.unit)?;
        // The application fills in the units above the target (reporter protection).
        let cmd = ComplaintCommand::DispatchComplaint {
            unit,
            above: Vec::new(),
            at: v.now(),
        };
        run(&v, cmd).await
    }

    /// dispatched → in_progress (handler of the assigned unit).
    complaint_sign "/api/v1/complaints/{id}/sign" [Option<EmptyBody>]
    |v, _body: OptionalJson<EmptyBody>| {
        v.require(&[Role::Handler])?;
        let unit = v.auth.handler_unit()?;
        run(&v, ComplaintCommand::SignComplaint { unit, at: v.now() }).await
    }

    /// dispatched/in_progress → returned (handler of the assigned unit).
    complaint_return "/api/v1/complaints/{id}/return" [ReasonBody]
    |v, body: ApiJson<ReasonBody>| {
        v.require(&[Role::Handler])?;
        let reason = body.value.reason;
        required_text("reason", &reason, MAX_TEXT_CHARS)?;
        let (unit, at) = (v.auth.handler_unit()?, v.now());
        run(&v, ComplaintCommand::ReturnComplaint { unit, reason, at }).await
    }

    /// Ask for more working days, before `reply_due` (handler of the assigned unit).
    complaint_request_extension "/api/v1/complaints/{id}/request-extension" [ExtensionBody]
    |v, body: ApiJson<ExtensionBody>| {
        v.require(&[Role::Handler])?;
        let ExtensionBody { working_days, reason } = body.value;
        if working_days == 0 || working_days > 365 {
            let message = "working_days must be between 1 and 365";
            return Err(ApiError::field("working_days", "out_of_range", message));
        }
        required_text("reason", &reason, MAX_TEXT_CHARS)?;
        let (unit, at) = (v.auth.handler_unit()?, v.now());
        run(&v, ComplaintCommand::RequestExtension { unit, working_days, reason, at }).await
    }

    /// Approve the pending extension; `reply_due` moves (supervisor).
    complaint_approve_extension "/api/v1/complaints/{id}/approve-extension" [Option<NoteBody>]
    |v, body: OptionalJson<NoteBody>| {
        let note = supervisor_note(&v, body)?;
        run(&v, ComplaintCommand::ApproveExtension { note, at: v.now() }).await
    }

    /// Deny the pending extension (supervisor).
    complaint_deny_extension "/api/v1/complaints/{id}/deny-extension" [Option<NoteBody>]
    |v, body: OptionalJson<NoteBody>| {
        let note = supervisor_note(&v, body)?;
        run(&v, ComplaintCommand::DenyExtension { note, at: v.now() }).await
    }

    /// in_progress → replied; anonymous cases close (handler of the assigned unit).
    complaint_reply "/api/v1/complaints/{id}/reply" [ReplyBody]
    |v, body: ApiJson<ReplyBody>| {
        v.require(&[Role::Handler])?;
        let content = body.value.content;
        required_text("content", &content, MAX_TEXT_CHARS)?;
        let (unit, at) = (v.auth.handler_unit()?, v.now());
        run(&v, ComplaintCommand::ReplyToComplaint { unit, content, at }).await
    }

    /// replied → closed if satisfied, else back to in_progress with a new `reply_due` (intake).
    complaint_visit "/api/v1/complaints/{id}/visit" [VisitBody]
    |v, body: ApiJson<VisitBody>| {
        v.require(&[Role::Intake])?;
        let VisitBody { satisfied, comment } = body.value;
        check_length("comment", &comment, MAX_TEXT_CHARS)?;
        run(&v, ComplaintCommand::RecordVisit { satisfied, comment, at: v.now() }).await
    }

    /// → merged into another existing case (intake, supervisor).
    complaint_merge "/api/v1/complaints/{id}/merge" [MergeBody]
    |v, body: ApiJson<MergeBody>| {
        v.require(&[Role::Intake, Role::Supervisor])?;
        let (app, into) = (&v.state.app, &body.value.into);
        let view = app.merge_complaint(v.command(), &v.id.0, into, v.if_match.0).await?;
        Ok(Json(view))
    }

    /// Record 督办 on an overdue case (supervisor).
    complaint_supervise "/api/v1/complaints/{id}/supervise" [SuperviseBody]
    |v, body: OptionalJson<NoteBody>| {
        let note = supervisor_note(&v, body)?;
        run(&v, ComplaintCommand::SuperviseComplaint { note, at: v.now() }).await
    }
}

/// The note of a supervisor's verb (403 for another role; at most 4000 characters).
fn supervisor_note(
    v: &Verb,
    OptionalJson(body): OptionalJson<NoteBody>,
) -> Result<String, ApiError> {
    v.require(&[Role::Supervisor])?;
    check_length("note", &body.note, MAX_TEXT_CHARS)?;
    Ok(body.note)
}
