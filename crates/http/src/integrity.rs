//! Integrity records (issue 3), by their former path: the routes live in one module per
//! resource — [`crate::subjects`], [`crate::civil_servants`], [`crate::records`],
//! [`crate::rectifications`], [`crate::repairs`], [`crate::objections`],
//! [`crate::commitments`] — with what they share in [`crate::resource`]. This module
//! keeps the old paths (`probity_http::integrity::…`).
//!
//! Handlers are thin: authorise the role, parse the body, call the application layer
//! ([`probity_app::integrity`]: it reads the facts another aggregate is decided on from
//! the log, runs the command and folds the aggregate's document), and map the answer.
//! Rules live in the domain; errors map in `error.rs`.

pub use crate::civil_servants::{
    civil_servant_create, civil_servant_view, CreateCivilServant, CIVIL_SERVANT_KIND,
    MAX_NAME_CHARS,
};
pub use crate::commitments::{commitment_assess, commitment_create, commitment_view};
pub use crate::commitments::{AssessBody, CreateCommitment};
pub use crate::objections::{objection_check, objection_uphold, objection_view};
pub use crate::objections::{objection_create, objection_dismiss, objection_undeterminable};
pub use crate::objections::{CreateObjection, NoteTextBody, UpholdBody};
pub(crate) use crate::records::{check_choice, SECTORS, SEVERITIES};
pub use crate::records::{record_correct, record_create, record_list, record_view};
pub use crate::records::{record_source_changed, record_withdraw, RecordList, RecordListQuery};
pub use crate::records::{CorrectRecordBody, CreateRecord, RecordReasonBody};
pub use crate::rectifications::{rectification_create, rectification_escalate};
pub use crate::rectifications::{rectification_file_explanation, rectification_mitigate};
pub use crate::rectifications::{rectification_reject, rectification_report};
pub use crate::rectifications::{rectification_verify, rectification_view};
pub use crate::rectifications::{CreateRectification, LongReasonBody, RejectBody, TextBody};
pub use crate::repairs::{repair_accept, repair_approve, repair_create, repair_deny};
pub use crate::repairs::{repair_request_more, repair_revoke, repair_supplement, repair_view};
pub use crate::repairs::{CreateRepair, EvidenceBody, WhatBody};
pub use crate::subjects::{subject_archive, subject_create, subject_eligibility};
pub use crate::subjects::{subject_view, CreateSubject};
pub use probity_app::integrity::IntegrityCommands;
