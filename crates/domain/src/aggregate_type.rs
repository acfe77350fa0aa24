//! The aggregate type names: the `aggregate_type` column of the event log, the middle
//! token of the bus subjects (`<prefix>.events.<aggregate_type>.<id>`), the `case_type`
//! of the deadline board and the `{aggregate_type}` of the history and audit paths.
//!
//! They are a public contract (stored in every event row), defined here once: each
//! aggregate's `Aggregate::TYPE` is one of these, and the store, the views, the deadline
//! engine, the application layer and the CLI use these constants, never a literal.

/// 投诉举报: [`crate::complaint::Complaint`].
pub const COMPLAINT: &str = "complaint";
/// Subjects (governments, departments, institutions, enterprises).
pub const SUBJECT: &str = "subject";
/// Civil servants (personal data sealed).
pub const CIVIL_SERVANT: &str = "civil_servant";
/// 政务失信记录: dishonesty records.
pub const RECORD: &str = "record";
/// 限期整改: rectifications.
pub const RECTIFICATION: &str = "rectification";
/// 信用修复: credit repairs.
pub const REPAIR: &str = "repair";
/// 异议: objections.
pub const OBJECTION: &str = "objection";
/// 信用承诺: commitments.
pub const COMMITMENT: &str = "commitment";
/// 人大建议、政协提案、司法建议、检察建议: supervision items.
pub const SUPERVISION_ITEM: &str = "supervision_item";
/// 债务风险预警: a government's debt warning ([`crate::debt_warning`]), keyed by its code.
pub const DEBT_WARNING: &str = "debt_warning";
/// The loaded holiday schedules ([`crate::calendar_admin`]).
pub const CALENDAR: &str = "calendar";
/// A third party's finding waiting for a supervisor ([`crate::record_proposal`]).
pub const RECORD_PROPOSAL: &str = "record_proposal";
/// The access log of a case ([`crate::access`]).
pub const ACCESS_LOG: &str = "access_log";

/// The integrity aggregates, in the order the integrity projector handles them.
pub const INTEGRITY: [&str; 9] = [
    SUBJECT,
    CIVIL_SERVANT,
    RECORD,
    RECTIFICATION,
    REPAIR,
    OBJECTION,
    COMMITMENT,
    SUPERVISION_ITEM,
    DEBT_WARNING,
];
