//! The OpenAPI 3.1 document of every path this crate serves (`GET /api/v1/openapi.json`).
//!
//! History with `as_of`: the same `HistoryPage` shape, with `view` set to the case as it
//! stood at that instant (null when it did not exist yet) for complaints; without `as_of`
//! (or for other aggregate types), `view` is absent.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::supervision_items;
use crate::{assessments, audit, civil_servants, commitments, complaints, objections, records};
use crate::{
    deadlines, debt_warnings, error, history, open_data, ops, proposals, public, rectifications,
    repairs, restrictions, subjects,
};

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

/// The public rate limit's 429 `rate_limited` (with `Retry-After`) on every path that
/// needs no token: the public disclosure and the operations endpoints ([`crate::ratelimit`]).
struct RateLimited;

impl Modify for RateLimited {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::header::HeaderBuilder;
        use utoipa::openapi::schema::{Ref, Type};
        use utoipa::openapi::{ContentBuilder, ObjectBuilder, ResponseBuilder};
        let response = ResponseBuilder::new()
            .description("rate_limited: too many requests without a token from this address")
            .header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::Integer))
                    .description(Some("seconds until a request is taken again"))
                    .build(),
            )
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build();
        for (path, item) in openapi.paths.paths.iter_mut() {
            let limited = path.starts_with("/api/v1/public/")
                || path == restrictions::PATH
                || ["/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"]
                    .contains(&path.as_str());
            if !limited {
                continue;
            }
            if let Some(get) = item.get.as_mut() {
                get.responses
                    .responses
                    .insert("429".into(), response.clone().into());
            }
        }
    }
}

/// 503 `not_ready` (with `Retry-After`) on every operation of the API: any of them may
/// meet a database that is restarting or unreachable ([`crate::error::ApiError::unavailable`]).
struct DatabaseUnavailable;

impl Modify for DatabaseUnavailable {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::header::HeaderBuilder;
        use utoipa::openapi::schema::{Ref, Type};
        use utoipa::openapi::{ContentBuilder, ObjectBuilder, ResponseBuilder};
        let response = ResponseBuilder::new()
            .description("not_ready: the database is unavailable (restarting or unreachable); retry, with the same Idempotency-Key for a command")
            .header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::Integer))
                    .description(Some("seconds to wait before retrying"))
                    .build(),
            )
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build();
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/v1/") || path == "/api/v1/openapi.json" {
                continue;
            }
            for operation in [
                item.get.as_mut(),
                item.post.as_mut(),
                item.put.as_mut(),
                item.patch.as_mut(),
                item.delete.as_mut(),
            ]
            .into_iter()
            .flatten()
            {
                operation
                    .responses
                    .responses
                    .entry("503".into())
                    .or_insert_with(|| response.clone().into());
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Probity API",
        version = "1",
        description = "Government integrity case management: complaints, integrity records, public disclosure, deadlines, operations. \
Errors are application/problem+json with a stable `code`."
    ),
    paths(
        complaints::complaint_create,
        complaints::complaint_list,
        complaints::complaint_view,
        complaints::complaint_history,
        complaints::complaint_accept,
        complaints::complaint_decline,
        complaints::complaint_dispatch,
        complaints::complaint_sign,
        complaints::complaint_return,
        complaints::complaint_request_extension,
        complaints::complaint_approve_extension,
        complaints::complaint_deny_extension,
        complaints::complaint_reply,
        complaints::complaint_visit,
        complaints::complaint_merge,
        complaints::complaint_supervise,
        subjects::subject_create,
        subjects::subject_view,
        subjects::subject_archive,
        subjects::subject_eligibility,
        civil_servants::civil_servant_create,
        civil_servants::civil_servant_view,
        civil_servants::civil_servant_sanction,
        civil_servants::civil_servant_revoke_sanction,
        civil_servants::civil_servant_assessment,
        civil_servants::civil_servant_archive,
        civil_servants::civil_servant_eligibility,
        records::record_create,
        records::record_list,
        records::record_view,
        records::record_withdraw,
        records::record_correct,
        records::record_source_changed,
        rectifications::rectification_create,
        rectifications::rectification_view,
        rectifications::rectification_file_explanation,
        rectifications::rectification_report,
        rectifications::rectification_verify,
        rectifications::rectification_reject,
        rectifications::rectification_mitigate,
        rectifications::rectification_escalate,
        repairs::repair_create,
        repairs::repair_view,
        repairs::repair_supplement,
        repairs::repair_accept,
        repairs::repair_request_more,
        repairs::repair_approve,
        repairs::repair_deny,
        repairs::repair_revoke,
        objections::objection_create,
        objections::objection_view,
        objections::objection_uphold,
        objections::objection_dismiss,
        objections::objection_undeterminable,
        objections::objection_check,
        commitments::commitment_create,
        commitments::commitment_view,
        commitments::commitment_assess,
        commitments::commitment_change,
        commitments::public_commitments,
        supervision_items::supervision_item_create,
        supervision_items::supervision_item_list,
        supervision_items::supervision_item_view,
        supervision_items::supervision_item_reply,
        supervision_items::supervision_item_satisfaction,
        supervision_items::supervision_item_reassign,
        supervision_items::supervision_item_request_extension,
        supervision_items::supervision_item_approve_extension,
        supervision_items::supervision_item_deny_extension,
        supervision_items::supervision_item_return_for_rehandling,
        public::public_records,
        public::public_subject,
        public::public_sector_list,
        restrictions::restriction_check,
        public::public_good_standing,
        open_data::open_data_records,
        open_data::open_data_commitments,
        open_data::open_data_assessments,
        proposals::proposal_submit,
        proposals::proposal_list,
        proposals::proposal_view,
        proposals::proposal_confirm,
        proposals::proposal_reject,
        deadlines::deadline_list,
        debt_warnings::debt_warning_list,
        assessments::assessment_list,
        assessments::public_assessment_list,
        audit::aggregate_history,
        audit::access_log_list,
        audit::audit_bundle,
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
        audit::AccessEntry,
        audit::AccessLogPage,
        complaints::EmptyBody,
        complaints::ReasonBody,
        complaints::DispatchBody,
        complaints::ExtensionBody,
        complaints::NoteBody,
        complaints::ReplyBody,
        complaints::SuperviseBody,
        complaints::VisitBody,
        complaints::MergeBody,
        deadlines::DeadlineList,
        assessments::AssessmentList,
        assessments::PublicAssessmentList,
        probity_views::assessment::AssessmentRow,
        probity_views::assessment::PublicAssessmentRow,
        probity_views::assessment::AssessmentFigures,
        probity_views::assessment::RecordCounts,
        probity_views::assessment::RectificationCounts,
        probity_views::assessment::ReplyCounts,
        probity_views::assessment::VisitCounts,
        probity_views::assessment::FormulaRef,
        subjects::CreateSubject,
        civil_servants::CreateCivilServant,
        civil_servants::CreateSanction,
        civil_servants::RevokeSanctionBody,
        civil_servants::CreateAssessment,
        records::CreateRecord,
        records::CorrectRecordBody,
        rectifications::CreateRectification,
        rectifications::TextBody,
        records::RecordReasonBody,
        rectifications::LongReasonBody,
        rectifications::RejectBody,
        repairs::CreateRepair,
        repairs::EvidenceBody,
        repairs::WhatBody,
        objections::CreateObjection,
        objections::UpholdBody,
        objections::NoteTextBody,
        commitments::CreateCommitment,
        commitments::AssessBody,
        commitments::ChangeBody,
        commitments::PublicCommitmentList,
        probity_views::integrity::PublicCommitment,
        probity_views::integrity::CommitmentChange,
        crate::schema::PublicCommitmentKind,
        supervision_items::CreateSupervisionItem,
        supervision_items::SatisfactionBody,
        supervision_items::ReassignBody,
        supervision_items::SupervisionReplyBody,
        supervision_items::SupervisionExtensionBody,
        supervision_items::RehandlingBody,
        supervision_items::SupervisionItemList,
        records::RecordList,
        public::PublicRecordList,
        proposals::SubmitProposal,
        proposals::RejectProposalBody,
        proposals::ProposalResponse,
        proposals::ProposalList,
        public::SectorList,
        probity_views::integrity::Restriction,
        probity_views::integrity::GoodStanding,
        probity_views::integrity::GoodStandingList,
        debt_warnings::DebtWarningList,
        probity_views::integrity::DebtWarningItem,
        probity_views::integrity::DebtWarningView,
        crate::schema::DebtWarningState,
        probity_views::integrity::RestrictionReason,
        crate::schema::Offence,
        probity_views::integrity::SubjectView,
        probity_views::integrity::CivilServantView,
        probity_views::integrity::RecordView,
        probity_views::integrity::PublicityView,
        probity_views::integrity::CorrectionView,
        probity_views::integrity::RectificationView,
        probity_views::integrity::RejectionView,
        probity_views::integrity::Entry,
        probity_views::integrity::RepairView,
        probity_views::integrity::ObjectionView,
        probity_views::integrity::CommitmentView,
        probity_views::integrity::SupervisionItemView,
        probity_views::integrity::Reassignment,
        probity_views::integrity::SupervisionExtensionRequest,
        probity_views::integrity::SupervisionExtension,
        probity_views::integrity::EarlierHandling,
        probity_views::integrity::PublicRecord,
        probity_views::integrity::SectorListEntry,
        probity_views::integrity::Eligibility,
        probity_views::integrity::IneligibleReason,
        probity_views::integrity::Archive,
        probity_views::integrity::PublicSubject,
        probity_views::integrity::CivilServantArchive,
        probity_views::integrity::SanctionView,
        probity_views::integrity::AssessmentResultView,
        probity_views::integrity::HonoursRestriction,
        probity_views::integrity::RestrictionReasonView,
        crate::schema::CreditCode,
        crate::schema::CreditCodeOrBlank,
        crate::schema::IdentityNumber,
        crate::schema::Category,
        crate::schema::Channel,
        crate::schema::ComplaintStatus,
        crate::schema::SubjectKind,
        crate::schema::Source,
        crate::schema::ProposalStatus,
        crate::schema::Severity,
        crate::schema::SanctionType,
        crate::schema::AssessmentResult,
        crate::schema::Sector,
        crate::schema::ListedSector,
        crate::schema::PublicList,
        crate::schema::Grounds,
        crate::schema::ObjectionOutcome,
        crate::schema::CommitmentKind,
        crate::schema::SupervisionKind,
        crate::schema::Satisfaction,
        crate::schema::SupervisionStatus,
        crate::schema::Fulfilment,
        crate::schema::RecordStatus,
        crate::schema::DeadlineState,
        ops::Health,
        ops::Ready,
    )),
    modifiers(&BearerAuth, &RateLimited, &DatabaseUnavailable),
    tags(
        (name = "complaints", description = "投诉举报: the closed loop from intake to close"),
        (name = "subjects", description = "信用主体: governments, departments, organisations, civil servants; archives and eligibility"),
        (name = "records", description = "政务失信记录: dishonesty records with their publicity windows"),
        (name = "rectifications", description = "限期整改: written explanation and rectification by a deadline"),
        (name = "repairs", description = "信用修复: credit repair"),
        (name = "objections", description = "异议: objections to records"),
        (name = "commitments", description = "信用承诺: commitments and their fulfilment"),
        (name = "supervision-items", description = "人大建议、政协提案、司法建议、检察建议: supervision items and their replies"),
        (name = "public", description = "信用中国（九江）: the public disclosure, no token"),
        (name = "open-data", description = "开放数据: the public data in bulk for third-party evaluators (§3)"),
        (name = "record-proposals", description = "第三方信用信息: third-party information as record proposals, confirmed or rejected by the credit office (§3)"),
        (name = "deadlines", description = "Open deadlines for supervision"),
        (name = "debt-warnings", description = "地方政府债务风险预警: governments whose debt records crossed a warning threshold"),
        (name = "assessments", description = "政务诚信考核评价: assessment of governments and departments"),
        (name = "audit", description = "Histories of every aggregate, verifiable bundles and the access log, for auditors"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
    )
)]
pub struct ApiDoc;
