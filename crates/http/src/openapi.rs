//! The OpenAPI 3.1 document of every path this crate serves (`GET /api/v1/openapi.json`).
//!
//! History with `as_of`: the same `HistoryPage` shape, with `view` set to the case as it
//! stood at that instant (null when it did not exist yet) for complaints; without `as_of`
//! (or for other aggregate types), `view` is absent.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::complaints::{self, docs};
use crate::{deadlines, error, history, ops};

/// The bearer security scheme.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Probity API",
        version = "1",
        description = "Government integrity case management: complaints, deadlines, operations. \
Errors are application/problem+json with a stable `code`."
    ),
    paths(
        complaints::complaint_create,
        complaints::complaint_list,
        complaints::complaint_view,
        complaints::complaint_history,
        docs::complaint_accept,
        docs::complaint_decline,
        docs::complaint_dispatch,
        docs::complaint_sign,
        docs::complaint_return,
        docs::complaint_request_extension,
        docs::complaint_approve_extension,
        docs::complaint_deny_extension,
        docs::complaint_reply,
        docs::complaint_visit,
        docs::complaint_merge,
        docs::complaint_supervise,
        deadlines::deadline_list,
        history::aggregate_history,
        history::access_log_list,
        history::audit_bundle,
        ops::healthz,
        ops::readyz,
        ops::metrics,
        ops::openapi,
    ),
    components(schemas(
        error::Problem,
        error::FieldError,
        complaints::CreateComplaint,
        complaints::ReporterInput,
        complaints::ReporterBlock,
        complaints::ComplaintResponse,
        complaints::ComplaintList,
        history::HistoryPage,
        history::HistoryItem,
        history::AccessEntry,
        history::AccessLogPage,
        complaints::EmptyBody,
        complaints::ReasonBody,
        complaints::DispatchBody,
        complaints::ExtensionBody,
        complaints::NoteBody,
        complaints::ReplyBody,
        complaints::VisitBody,
        complaints::MergeBody,
        deadlines::DeadlineList,
        ops::Health,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "complaints", description = "投诉举报: the closed loop from intake to close"),
        (name = "deadlines", description = "Open deadlines for supervision"),
        (name = "audit", description = "Histories of every aggregate, verifiable bundles and the access log, for auditors"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
    )
)]
pub struct ApiDoc;
