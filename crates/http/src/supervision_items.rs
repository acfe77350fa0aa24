//! Supervision items (人大代表建议、政协提案、司法建议、检察建议): assigned to the unit that
//! must reply (supervisor or admin), replied to by a handler of that unit, the proposer's
//! satisfaction recorded, reassigned while unanswered; the list and one item. Their
//! reply deadline is on the supervisors' board and escalated by the deadline engine.
//! A complex item's unit asks for an extension (延期) that a supervisor approves or denies;
//! an item rated `dissatisfied` is returned to its unit for a second handling (再办理).

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use probity_app::supervision::NewSupervisionItem;
use probity_domain::supervision_item::{Satisfaction, SupervisionItemCommand, SupervisionKind};
use probity_views::integrity::{SupervisionItemFilter, SupervisionItemView, SUPERVISION_ITEM_TYPE};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Auth, Role};
use crate::complaints::page_limit;
use crate::complaints::{NoteBody, MAX_TEXT_CHARS};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, OptionalJson, RequestCtx};
use crate::problems::{Denied, InvalidDue, Unprocessable, VerbProblems};
use crate::resource::{
    check_choice, document_view, parse_code, respond, text_bodies, verbs, Creation, DocAnswer, Verb,
};
use crate::AppState;
use probity_app::validate::check_length;

/// The routes of this module (under `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/supervision-items",
            post(supervision_item_create).get(supervision_item_list),
        )
        .route("/supervision-items/{id}", get(supervision_item_view))
        .merge(verb_routes())
}

/// `POST /api/v1/supervision-items`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSupervisionItem {
    #[schema(value_type = crate::schema::SupervisionKind, example = "npc_proposal")]
    pub kind: SupervisionKind,
    /// The item's own number (e.g. the proposal number). At most 100 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub source_ref: String,
    /// At most 200 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub title: String,
    /// The unit that must reply (a registered subject).
    #[schema(value_type = crate::schema::CreditCode)]
    pub unit: String,
}

/// `satisfaction` of a supervision item.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SatisfactionBody {
    #[schema(value_type = crate::schema::Satisfaction, example = "satisfied")]
    pub satisfaction: Satisfaction,
}

/// `reassign` of a supervision item.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReassignBody {
    /// The unit that must reply from now on (a registered subject).
    #[schema(value_type = crate::schema::CreditCode)]
    pub unit: String,
    /// At most 8000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 8000,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub reason: String,
}

/// `request-extension` of a supervision item.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupervisionExtensionBody {
    /// Calendar months asked for (1 to 3); the total from the assignment is bounded per
    /// kind (`[integrity.supervision]`, an NPC proposal 6 months by default).
    #[serde(deserialize_with = "crate::extract::whole_u32")]
    #[schema(minimum = 1, maximum = 3)]
    pub months: u32,
    /// At most 8000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 8000,
        pattern = "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub reason: String,
}

text_bodies! {
    /// `return-for-rehandling` of a supervision item.
    RehandlingBody {
        /// The proposer's objections (why the item is handled again). At most 8000
        /// characters, not blank.
        reason: 8000
    }
    /// `reply` of a supervision item.
    SupervisionReplyBody {
        /// At most 8000 characters, not blank.
        text: 8000
    }
}

/// A page of supervision items.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SupervisionItemList {
    pub items: Vec<SupervisionItemView>,
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/supervision-items` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SupervisionItemListQuery {
    /// Credit code of the unit that owes the reply (a handler sees its own only).
    #[param(value_type = Option<crate::schema::CreditCode>)]
    pub unit: Option<String>,
    #[param(value_type = Option<crate::schema::SupervisionKind>)]
    pub kind: Option<String>,
    #[param(value_type = Option<crate::schema::SupervisionStatus>)]
    pub status: Option<String>,
    /// Only items unanswered after their due day.
    pub overdue: Option<bool>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// A `next_cursor` this list returned (opaque); anything else is 422.
    #[param(format = "supervision-cursor")]
    pub cursor: Option<String>,
}

const KINDS: [&str; 4] = [
    "npc_proposal",
    "cppcc_motion",
    "judicial_suggestion",
    "procuratorial_suggestion",
];
const STATUSES: [&str; 3] = ["assigned", "replied", "evaluated"];

/// Assign a supervision item to the unit that must reply (supervisor, admin): due the
/// configured months later (next working day).
#[utoipa::path(post, path = "/api/v1/supervision-items", tag = "supervision-items", operation_id = "supervision_item_create",
    request_body = CreateSupervisionItem, params(crate::schema::IdempotencyKeyHeader),
    responses((status = 201, body = SupervisionItemView), Denied, InvalidDue),
    security(("bearer" = [])))]
#[tracing::instrument(name = "supervision_item_create", skip_all, fields(request_id = %c.ctx.request_id, actor = %c.auth.token_id, case_id))]
pub async fn supervision_item_create(
    c: Creation<CreateSupervisionItem>,
) -> Result<Response, ApiError> {
    c.auth.require(&[Role::Supervisor, Role::Admin])?;
    let b = &c.body.value;
    let item = NewSupervisionItem {
        kind: b.kind,
        source_ref: b.source_ref.clone(),
        title: b.title.clone(),
        unit: parse_code("unit", &b.unit)?,
    };
    let app = &c.state.app;
    c.create("/api/v1/supervision-items", async |context| {
        app.assign_supervision_item(context, item).await
    })
    .await
}

/// Supervision items, newest assignment first (supervisor, auditor, admin; a handler
/// sees its own unit's; a bound supervisor those within its authority).
#[utoipa::path(get, path = "/api/v1/supervision-items", tag = "supervision-items", operation_id = "supervision_item_list",
    params(SupervisionItemListQuery),
    responses((status = 200, body = SupervisionItemList), Denied, Unprocessable),
    security(("bearer" = [])))]
#[tracing::instrument(name = "supervision_item_list", skip_all, fields(request_id = %ctx.request_id, actor = %auth.token_id))]
pub async fn supervision_item_list(
    State(state): State<AppState>,
    ctx: RequestCtx,
    auth: Auth,
    ApiQuery(q): ApiQuery<SupervisionItemListQuery>,
) -> Result<Json<SupervisionItemList>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Auditor, Role::Admin, Role::Handler])?;
    let limit = page_limit(q.limit)?;
    check_choice("kind", &q.kind, &KINDS)?;
    check_choice("status", &q.status, &STATUSES)?;
    let given = q
        .unit
        .as_deref()
        .map(|u| parse_code("unit", u))
        .transpose()?;
    let unit = match (&auth.role, given) {
        (Role::Handler, _) => Some(auth.handler_unit()?.as_str().to_string()),
        (_, given) => given.map(|u| u.as_str().to_string()),
    };
    let filter = SupervisionItemFilter {
        unit,
        kind: q.kind,
        status: q.status,
        overdue: q.overdue.unwrap_or(false),
        within: probity_app::integrity::bound_supervisor(&auth).map(|u| u.as_str().to_string()),
    };
    let page = state
        .views
        .supervision_items(&filter, state.clock.today(), limit, q.cursor.as_deref())
        .await?;
    Ok(Json(SupervisionItemList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

document_view! {
    /// One supervision item (supervisor, auditor, admin; a handler: its own unit's).
    supervision_item_view "/api/v1/supervision-items/{id}", tag = "supervision-items", id = "Supervision item id", view = SupervisionItemView,
    type = SUPERVISION_ITEM_TYPE, roles = [Supervisor, Auditor, Admin, Handler]
}

/// Runs `command` on the supervision item the verb names.
async fn run(v: &Verb, command: SupervisionItemCommand) -> DocAnswer {
    let app = &v.state.app;
    respond(
        app.supervision_item_command(v.command(), &v.id.0, v.if_match.0, command)
            .await?,
    )
}

verbs! {
    tag = "supervision-items", ok = (status = 200, body = SupervisionItemView), problems = VerbProblems,
    answer = DocAnswer;

    /// Reply (a handler of the assigned unit); late after the due day.
    supervision_item_reply "/api/v1/supervision-items/{id}/reply" [SupervisionReplyBody]
    |v, body: ApiJson<SupervisionReplyBody>| {
        v.require(&[Role::Handler])?;
        let (unit, text, at) = (v.auth.handler_unit()?, body.value.text, v.now());
        run(&v, SupervisionItemCommand::ReplyToSupervisionItem { unit, text, at }).await
    }

    /// Record the proposer's satisfaction with the reply (supervisor, admin).
    supervision_item_satisfaction "/api/v1/supervision-items/{id}/satisfaction" [SatisfactionBody]
    |v, body: ApiJson<SatisfactionBody>| {
        v.require(&[Role::Supervisor, Role::Admin])?;
        let satisfaction = body.value.satisfaction;
        run(&v, SupervisionItemCommand::RecordSatisfaction { satisfaction, at: v.now() }).await
    }

    /// Assign an unanswered item to another unit; the limit runs again (supervisor, admin).
    supervision_item_reassign "/api/v1/supervision-items/{id}/reassign" [ReassignBody]
    |v, body: ApiJson<ReassignBody>| {
        v.require(&[Role::Supervisor, Role::Admin])?;
        let ReassignBody { unit, reason } = body.value;
        let unit = parse_code("unit", &unit)?;
        let app = &v.state.app;
        respond(app.reassign_supervision_item(v.command(), &v.id.0, v.if_match.0, unit, reason).await?)
    }

    /// Ask for more months, by the due day (a handler of the assigned unit; first handling only).
    supervision_item_request_extension "/api/v1/supervision-items/{id}/request-extension" [SupervisionExtensionBody]
    |v, body: ApiJson<SupervisionExtensionBody>| {
        v.require(&[Role::Handler])?;
        let SupervisionExtensionBody { months, reason } = body.value;
        let (unit, at) = (v.auth.handler_unit()?, v.now());
        run(&v, SupervisionItemCommand::RequestSupervisionExtension { unit, months, reason, at }).await
    }

    /// Approve the pending extension; `due` moves (supervisor, admin).
    supervision_item_approve_extension "/api/v1/supervision-items/{id}/approve-extension" [Option<NoteBody>]
    |v, body: OptionalJson<NoteBody>| {
        v.require(&[Role::Supervisor, Role::Admin])?;
        let OptionalJson(NoteBody { note }) = body;
        check_length("note", &note, MAX_TEXT_CHARS)?;
        run(&v, SupervisionItemCommand::ApproveSupervisionExtension { note, at: v.now() }).await
    }

    /// Deny the pending extension; `due` stands (supervisor, admin).
    supervision_item_deny_extension "/api/v1/supervision-items/{id}/deny-extension" [Option<NoteBody>]
    |v, body: OptionalJson<NoteBody>| {
        v.require(&[Role::Supervisor, Role::Admin])?;
        let OptionalJson(NoteBody { note }) = body;
        check_length("note", &note, MAX_TEXT_CHARS)?;
        run(&v, SupervisionItemCommand::DenySupervisionExtension { note, at: v.now() }).await
    }

    /// Return an item rated `dissatisfied` to its unit for a second reply (再办理), due
    /// the configured months later (supervisor, admin; once per item).
    supervision_item_return_for_rehandling "/api/v1/supervision-items/{id}/return-for-rehandling" [RehandlingBody]
    |v, body: ApiJson<RehandlingBody>| {
        v.require(&[Role::Supervisor, Role::Admin])?;
        let (reason, at) = (body.value.reason, v.now());
        run(&v, SupervisionItemCommand::ReturnSupervisionItemForRehandling { reason, at }).await
    }
}
