//! The integrity read models (subjects, civil servants, records, rectifications,
//! repairs, objections, commitments, supervision items, debt warnings and third parties'
//! record proposals): one document per aggregate, folded from that
//! aggregate's own events with no I/O. The same folds serve the projector, rebuild, the
//! HTTP responses built from a command's history, and `as_of` reads.
//!
//! What depends on other aggregates (a record under objection, repaired, its publication
//! stopped) or on the reader's day (in the window, overdue) is never stored in a
//! document: the reads join and compute it (`queries.rs`).

use chrono::{DateTime, NaiveDate, Utc};
use probity_domain::civil_servant::CivilServantEvent;
use probity_domain::commitment::{CommitmentEvent, CommitmentStatus, Fulfilment, ProposedRecord};
use probity_domain::debt_warning::{DebtWarningEvent, DebtWarningReason, DebtWarningStatus};
use probity_domain::integrity::Publicity;
use probity_domain::objection::{ObjectionEvent, ObjectionStatus};
use probity_domain::record::{RecordEvent, RecordTarget};
use probity_domain::record_proposal::{ProposalEvent, RecordProposal};
use probity_domain::rectification::{RectificationEvent, RectificationStatus};
use probity_domain::repair::{RepairEvent, RepairStatus};
use probity_domain::subject::SubjectEvent;
use probity_domain::supervision_item::{SupervisionItemEvent, SupervisionStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::fold::{DecodeError, Fold};
use probity_domain::civil_servant::CivilServantWireEvent;

/// Aggregate type names in the event log (defined once, in the domain).
pub use probity_domain::aggregate_type::{
    CIVIL_SERVANT as CIVIL_SERVANT_TYPE, COMMITMENT as COMMITMENT_TYPE,
    DEBT_WARNING as DEBT_WARNING_TYPE, OBJECTION as OBJECTION_TYPE, RECORD as RECORD_TYPE,
    RECORD_PROPOSAL as RECORD_PROPOSAL_TYPE, RECTIFICATION as RECTIFICATION_TYPE,
    REPAIR as REPAIR_TYPE, SUBJECT as SUBJECT_TYPE, SUPERVISION_ITEM as SUPERVISION_ITEM_TYPE,
};

/// Every integrity aggregate type.
pub const INTEGRITY_TYPES: &[&str] = &[
    SUBJECT_TYPE,
    CIVIL_SERVANT_TYPE,
    RECORD_TYPE,
    RECTIFICATION_TYPE,
    REPAIR_TYPE,
    OBJECTION_TYPE,
    COMMITMENT_TYPE,
    SUPERVISION_ITEM_TYPE,
    DEBT_WARNING_TYPE,
    RECORD_PROPOSAL_TYPE,
];

fn name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

/// A government, department, public institution or enterprise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubjectView {
    /// Unified social credit code.
    pub code: String,
    pub version: u64,
    pub name: String,
    /// government, department, public_institution or enterprise.
    pub kind: String,
    /// The government it belongs to.
    pub parent_code: Option<String>,
    pub registered_at: DateTime<Utc>,
}

impl SubjectView {
    /// One fold step.
    pub fn apply(view: Option<Self>, sequence: u64, event: &SubjectEvent) -> Option<Self> {
        match event {
            SubjectEvent::SubjectRegistered {
                code,
                name: subject_name,
                kind,
                parent_code,
                at,
            } => Some(SubjectView {
                code: code.as_str().to_string(),
                version: sequence,
                name: subject_name.clone(),
                kind: kind.as_str().to_string(),
                parent_code: parent_code.as_ref().map(|c| c.as_str().to_string()),
                registered_at: *at,
            })
            .or(view),
            // The repair ledger (frequency limits) changes nothing shown but the version.
            SubjectEvent::RepairApprovalCounted { .. }
            | SubjectEvent::RepairApprovalUncounted { .. } => view.map(|mut v| {
                v.version = sequence;
                v
            }),
        }
    }
}

/// A civil servant as the system shows them: an opaque id and a unit, nothing personal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CivilServantView {
    /// The opaque id.
    pub id: String,
    pub version: u64,
    /// The unit they serve in.
    pub unit_code: String,
    pub registered_at: DateTime<Utc>,
    /// Their personal data was erased (key destroyed).
    pub erased: bool,
}

impl CivilServantView {
    /// One fold step, over either form of the personal block (`P`): the view never
    /// reads it.
    pub fn apply<P>(
        view: Option<Self>,
        id: &str,
        sequence: u64,
        event: &CivilServantEvent<P>,
    ) -> Option<Self> {
        match event {
            CivilServantEvent::CivilServantRegistered { unit_code, at, .. } => {
                Some(CivilServantView {
                    id: id.to_string(),
                    version: sequence,
                    unit_code: unit_code.as_str().to_string(),
                    registered_at: *at,
                    erased: false,
                })
            }
            CivilServantEvent::CivilServantDataErased { .. } => {
                let mut v = view?;
                v.version = sequence;
                v.erased = true;
                Some(v)
            }
            // Sanctions and assessments are shown in the archive only (supervisors and
            // auditors), never in this document, which admins read too.
            CivilServantEvent::SanctionImposed { .. }
            | CivilServantEvent::SanctionRevoked { .. }
            | CivilServantEvent::AnnualAssessmentRecorded { .. } => view.map(|mut v| {
                v.version = sequence;
                v
            }),
        }
    }

    /// The event names this fold knows (for the catalogue test).
    pub fn knows(event: &CivilServantEvent) -> bool {
        matches!(
            event,
            CivilServantEvent::CivilServantRegistered { .. }
                | CivilServantEvent::CivilServantDataErased { .. }
                | CivilServantEvent::SanctionImposed { .. }
                | CivilServantEvent::SanctionRevoked { .. }
                | CivilServantEvent::AnnualAssessmentRecorded { .. }
        )
    }
}

/// The publicity block of a record view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicityView {
    /// Published on the reader's day: by policy, inside the window, and not withdrawn,
    /// repaired, stopped or unlisted (computed at read).
    pub published: bool,
    /// Published by the policy table (before anything ended publication).
    pub by_policy: bool,
    /// First day of publication.
    pub start: NaiveDate,
    /// First day a repair may be applied for.
    pub repair_possible_from: NaiveDate,
    /// First day it is no longer published (maximum period).
    pub ends: NaiveDate,
    /// The policy the window was computed under, and its version.
    pub policy: String,
    pub policy_version: u32,
}

impl From<&Publicity> for PublicityView {
    /// The window as the policy made it; `published` is refined at read time.
    fn from(p: &Publicity) -> Self {
        PublicityView {
            published: p.published,
            by_policy: p.published,
            start: p.start,
            repair_possible_from: p.repair_possible_from,
            ends: p.ends,
            policy: p.policy.clone(),
            policy_version: p.policy_version,
        }
    }
}

/// One correction of a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CorrectionView {
    pub objection_id: String,
    pub at: DateTime<Utc>,
}

/// A dishonesty record as supervisors, auditors and the record's unit see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordView {
    pub id: String,
    pub version: u64,
    /// The organisation it is about (none for a civil servant's record).
    pub subject_code: Option<String>,
    /// The civil servant it is about (opaque id; never public).
    pub civil_servant_id: Option<String>,
    /// The unit that answers for it (the subject, or the civil servant's unit).
    pub unit: String,
    /// administrative_penalty, sanction, court_judgment, audit, complaint, commitment_breach.
    pub source: String,
    pub source_ref: String,
    pub decision_date: NaiveDate,
    /// minor, ordinary, serious.
    pub severity: String,
    /// general, procurement, bidding, ppp, investment, debt, township.
    pub sector: String,
    pub summary: String,
    pub complaint_id: Option<String>,
    /// The recording authority (none: the municipal credit office).
    pub recorded_by: Option<String>,
    pub recorded_at: DateTime<Utc>,
    /// active or withdrawn.
    pub status: String,
    pub withdrawal_reason: Option<String>,
    pub publicity: PublicityView,
    /// Last day (exclusive) of the sector ban.
    pub ban_until: Option<NaiveDate>,
    /// The offence a court judgment convicted of (`bribery` bars bidding until
    /// `ban_until`, whatever the sector).
    #[serde(default)]
    pub offence: Option<String>,
    /// The sector ban is in force on the reader's day (computed at read): for its whole
    /// legal period, whatever the publicity or a repair; a fact separate from
    /// `publicity.published`.
    #[serde(default)]
    pub banned: bool,
    pub corrections: Vec<CorrectionView>,
    /// An objection is filed and undecided (computed at read).
    pub under_objection: bool,
    /// A repair was approved and stands (computed at read).
    pub repaired: bool,
    /// An upheld objection stopped its publication or unlisted it (computed at read).
    pub publication_stopped: bool,
    /// The source decision was changed or revoked (`source-changed`): the withdrawal is
    /// owed within 3 working days.
    #[serde(default)]
    pub source_change: Option<SourceChangeView>,
}

/// A change of a record's source decision and the withdrawal it calls for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SourceChangeView {
    /// The day the source decision was changed or revoked.
    pub changed_on: NaiveDate,
    pub note: String,
    /// Withdraw (or correct) by the end of this day.
    pub withdrawal_due: NaiveDate,
    /// The due day was counted through a year without a holiday schedule.
    pub provisional: bool,
    /// The withdrawal or a correction answered it.
    pub answered: bool,
    /// Due days the authority let pass (flagged to supervisors by the deadline engine).
    pub overdue_flags: Vec<NaiveDate>,
    pub noted_at: DateTime<Utc>,
}

impl RecordView {
    /// One fold step.
    pub fn apply(view: Option<Self>, id: &str, sequence: u64, event: &RecordEvent) -> Option<Self> {
        if let RecordEvent::DishonestyRecorded {
            target,
            source,
            source_ref,
            decision_date,
            severity,
            sector,
            summary,
            complaint_id,
            ban_until,
            offence,
            recorded_by,
            publicity,
            at,
            ..
        } = event
        {
            let (subject_code, civil_servant_id) = match target {
                RecordTarget::Subject { code } => (Some(code.as_str().to_string()), None),
                RecordTarget::CivilServant { id, .. } => (None, Some(id.clone())),
            };
            return Some(RecordView {
                id: id.to_string(),
                version: sequence,
                subject_code,
                civil_servant_id,
                unit: target.unit().as_str().to_string(),
                source: source.as_str().to_string(),
                source_ref: source_ref.clone(),
                decision_date: *decision_date,
                severity: severity.as_str().to_string(),
                sector: sector.as_str().to_string(),
                summary: summary.clone(),
                complaint_id: complaint_id.clone(),
                recorded_by: recorded_by.as_ref().map(|c| c.as_str().to_string()),
                recorded_at: *at,
                status: "active".into(),
                withdrawal_reason: None,
                publicity: PublicityView::from(publicity),
                ban_until: *ban_until,
                offence: offence.map(|o| o.as_str().to_string()),
                banned: false,
                corrections: Vec::new(),
                under_objection: false,
                repaired: false,
                publication_stopped: false,
                source_change: None,
            });
        }
        let mut v = view?;
        v.version = sequence;
        match event {
            RecordEvent::DishonestyRecorded { .. } => {}
            RecordEvent::RecordWithdrawn { reason, .. } => {
                v.status = "withdrawn".into();
                v.withdrawal_reason = Some(reason.clone());
                if let Some(change) = v.source_change.as_mut() {
                    change.answered = true;
                }
            }
            RecordEvent::SourceDecisionChanged {
                changed_on,
                note,
                withdrawal_due,
                at,
            } => {
                v.source_change = Some(SourceChangeView {
                    changed_on: *changed_on,
                    note: note.clone(),
                    withdrawal_due: withdrawal_due.due,
                    provisional: withdrawal_due.provisional,
                    answered: false,
                    overdue_flags: Vec::new(),
                    noted_at: *at,
                });
            }
            RecordEvent::WithdrawalDueSoon { .. } => {}
            RecordEvent::WithdrawalDueRecomputed { due, .. } => {
                if let Some(change) = v.source_change.as_mut() {
                    change.withdrawal_due = due.due;
                    change.provisional = due.provisional;
                }
            }
            RecordEvent::WithdrawalOverdue { due, .. } => {
                if let Some(change) = v.source_change.as_mut() {
                    change.overdue_flags.push(*due);
                }
            }
            RecordEvent::RecordCorrected {
                objection_id,
                summary,
                severity,
                sector,
                decision_date,
                ban_until,
                publicity,
                at,
            } => {
                v.summary = summary.clone();
                v.severity = severity.as_str().to_string();
                v.sector = sector.as_str().to_string();
                v.decision_date = *decision_date;
                v.ban_until = *ban_until;
                v.publicity = PublicityView::from(publicity);
                if let Some(change) = v.source_change.as_mut() {
                    change.answered = true;
                }
                v.corrections.push(CorrectionView {
                    objection_id: objection_id.clone(),
                    at: *at,
                });
            }
        }
        Some(v)
    }

    /// Fills the computed fields for `today` from what other aggregates did.
    pub fn overlay(
        &mut self,
        today: NaiveDate,
        under_objection: bool,
        repaired: bool,
        stopped: bool,
    ) {
        self.under_objection = under_objection && self.status == "active";
        self.repaired = repaired;
        self.publication_stopped = stopped;
        self.publicity.published = self.publicity.by_policy
            && self.status == "active"
            && !repaired
            && !stopped
            && self.publicity.start <= today
            && today < self.publicity.ends;
        self.banned = self.status == "active" && self.ban_until.is_some_and(|b| today < b);
    }
}

/// A text with its time (explanations, reports, supplements).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Entry {
    pub text: String,
    pub at: DateTime<Utc>,
}

/// A rejection of a rectification report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RejectionView {
    pub reason: String,
    pub due: NaiveDate,
    pub at: DateTime<Utc>,
}

/// A rectification (限期整改).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RectificationView {
    pub id: String,
    pub version: u64,
    pub record_id: String,
    /// The unit that must rectify.
    pub unit: String,
    /// ordered, explained, reported, rejected, verified.
    pub status: String,
    pub working_days: u32,
    /// Due by the end of this working day.
    pub due: NaiveDate,
    /// Computed through a year without a holiday schedule.
    pub provisional: bool,
    /// The due date passed while the unit still owed it (computed at read).
    pub overdue: bool,
    pub explanation: Option<Entry>,
    pub reports: Vec<Entry>,
    pub rejections: Vec<RejectionView>,
    pub mitigated: bool,
    pub mitigation_reason: Option<String>,
    /// 通报批评 recorded for these missed due dates.
    pub escalations: Vec<NaiveDate>,
    pub verified_at: Option<DateTime<Utc>>,
    /// Verified without ever being escalated.
    pub on_time: Option<bool>,
    pub ordered_at: DateTime<Utc>,
}

impl RectificationView {
    /// One fold step.
    pub fn apply(
        view: Option<Self>,
        id: &str,
        sequence: u64,
        event: &RectificationEvent,
    ) -> Option<Self> {
        if let RectificationEvent::RectificationOrdered {
            record_id,
            unit,
            working_days,
            due,
            at,
            ..
        } = event
        {
            return Some(RectificationView {
                id: id.to_string(),
                version: sequence,
                record_id: record_id.clone(),
                unit: unit.as_str().to_string(),
                status: RectificationStatus::Ordered.as_str().into(),
                working_days: *working_days,
                due: due.due,
                provisional: due.provisional,
                overdue: false,
                explanation: None,
                reports: Vec::new(),
                rejections: Vec::new(),
                mitigated: false,
                mitigation_reason: None,
                escalations: Vec::new(),
                verified_at: None,
                on_time: None,
                ordered_at: *at,
            });
        }
        let mut v = view?;
        v.version = sequence;
        match event {
            RectificationEvent::RectificationOrdered { .. } => {}
            RectificationEvent::ExplanationFiled { text, at } => {
                v.status = RectificationStatus::Explained.as_str().into();
                v.explanation = Some(Entry {
                    text: text.clone(),
                    at: *at,
                });
            }
            RectificationEvent::RectificationReported { text, at } => {
                v.status = RectificationStatus::Reported.as_str().into();
                v.reports.push(Entry {
                    text: text.clone(),
                    at: *at,
                });
            }
            RectificationEvent::RectificationVerified { on_time, at } => {
                v.status = RectificationStatus::Verified.as_str().into();
                v.verified_at = Some(*at);
                v.on_time = Some(*on_time);
            }
            RectificationEvent::RectificationRejected {
                reason,
                working_days,
                due,
                at,
            } => {
                v.status = RectificationStatus::Rejected.as_str().into();
                v.working_days = *working_days;
                v.due = due.due;
                v.provisional = due.provisional;
                v.rejections.push(RejectionView {
                    reason: reason.clone(),
                    due: due.due,
                    at: *at,
                });
            }
            RectificationEvent::MitigationRecorded { reason, .. } => {
                v.mitigated = true;
                v.mitigation_reason = Some(reason.clone());
            }
            RectificationEvent::RectificationEscalated { due, .. } => v.escalations.push(*due),
            RectificationEvent::RectificationDueRecomputed { due, .. } => {
                v.due = due.due;
                v.provisional = due.provisional;
            }
            RectificationEvent::RectificationDueSoon { .. } => {}
        }
        Some(v)
    }

    /// The unit still owes it (explanation or report).
    pub fn owed_by_unit(&self) -> bool {
        matches!(self.status.as_str(), "ordered" | "explained" | "rejected")
    }

    /// Sets `overdue` for the reader's day.
    pub fn refresh_overdue(&mut self, today: NaiveDate) {
        self.overdue = self.owed_by_unit() && probity_domain::is_overdue(self.due, today);
    }
}

/// A credit repair (信用修复).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RepairView {
    pub id: String,
    pub version: u64,
    pub record_id: String,
    /// The record's unit (the applicant).
    pub unit: String,
    /// The deciding authority (none: the municipal credit office).
    pub recorded_by: Option<String>,
    /// applied, more_requested, accepted, approved, denied, revoked.
    pub status: String,
    pub commitment: String,
    pub evidence: Vec<Entry>,
    pub acceptance_due: NaiveDate,
    pub decision_due: Option<NaiveDate>,
    /// The open due date was computed through a year without a holiday schedule.
    pub provisional: bool,
    /// What was asked for, while more material is requested.
    pub requested: Option<String>,
    pub decision_reason: Option<String>,
    pub applied_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub approved_at: Option<DateTime<Utc>>,
    pub denied_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Due days the authority let pass (flagged to supervisors by the deadline engine).
    #[serde(default)]
    pub overdue_flags: Vec<NaiveDate>,
}

impl RepairView {
    /// One fold step.
    pub fn apply(view: Option<Self>, id: &str, sequence: u64, event: &RepairEvent) -> Option<Self> {
        if let RepairEvent::RepairApplied {
            record_id,
            unit,
            recorded_by,
            commitment,
            evidence,
            acceptance_due,
            at,
        } = event
        {
            return Some(RepairView {
                id: id.to_string(),
                version: sequence,
                record_id: record_id.clone(),
                unit: unit.as_str().to_string(),
                recorded_by: recorded_by.as_ref().map(|c| c.as_str().to_string()),
                status: RepairStatus::Applied.as_str().into(),
                commitment: commitment.clone(),
                evidence: vec![Entry {
                    text: evidence.clone(),
                    at: *at,
                }],
                acceptance_due: acceptance_due.due,
                decision_due: None,
                provisional: acceptance_due.provisional,
                requested: None,
                decision_reason: None,
                applied_at: *at,
                accepted_at: None,
                approved_at: None,
                denied_at: None,
                revoked_at: None,
                overdue_flags: Vec::new(),
            });
        }
        let mut v = view?;
        v.version = sequence;
        match event {
            RepairEvent::RepairApplied { .. } => {}
            RepairEvent::RepairSupplemented { evidence, due, at } => {
                // 补正: a fresh period from the supplement's day.
                if let Some(due) = due {
                    if v.accepted_at.is_some() {
                        v.decision_due = Some(due.due);
                    } else {
                        v.acceptance_due = due.due;
                    }
                    v.provisional = due.provisional;
                }
                v.status = if v.accepted_at.is_some() {
                    RepairStatus::Accepted
                } else {
                    RepairStatus::Applied
                }
                .as_str()
                .into();
                v.requested = None;
                v.evidence.push(Entry {
                    text: evidence.clone(),
                    at: *at,
                });
            }
            RepairEvent::RepairAccepted { decision_due, at } => {
                v.status = RepairStatus::Accepted.as_str().into();
                v.decision_due = Some(decision_due.due);
                v.provisional = decision_due.provisional;
                v.accepted_at = Some(*at);
            }
            RepairEvent::RepairMoreRequested { what, .. } => {
                v.status = RepairStatus::MoreRequested.as_str().into();
                v.requested = Some(what.clone());
            }
            RepairEvent::RepairApproved { at } => {
                v.status = RepairStatus::Approved.as_str().into();
                v.approved_at = Some(*at);
            }
            RepairEvent::RepairDenied { reason, at } => {
                v.status = RepairStatus::Denied.as_str().into();
                v.decision_reason = Some(reason.clone());
                v.denied_at = Some(*at);
            }
            RepairEvent::RepairRevoked { reason, at } => {
                v.status = RepairStatus::Revoked.as_str().into();
                v.decision_reason = Some(reason.clone());
                v.revoked_at = Some(*at);
            }
            RepairEvent::RepairDecisionOverdue { due, .. } => v.overdue_flags.push(*due),
            RepairEvent::RepairDecisionDueSoon { .. } => {}
            RepairEvent::RepairDueRecomputed { due, .. } => {
                if v.status == RepairStatus::Applied.as_str() {
                    v.acceptance_due = due.due;
                } else {
                    v.decision_due = Some(due.due);
                }
                v.provisional = due.provisional;
            }
        }
        Some(v)
    }

    /// Still undecided.
    pub fn open(&self) -> bool {
        matches!(
            self.status.as_str(),
            "applied" | "more_requested" | "accepted"
        )
    }
}

/// An objection (异议).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ObjectionView {
    pub id: String,
    pub version: u64,
    pub record_id: String,
    /// The record's unit.
    pub unit: String,
    /// The deciding authority (none: the municipal credit office).
    pub recorded_by: Option<String>,
    /// wrong_data, missing_data, past_period, wrongly_listed, not_removed.
    pub grounds: String,
    pub detail: String,
    /// filed, upheld, dismissed, undeterminable.
    pub status: String,
    /// correct, complete, stop_publication, unlist (when upheld).
    pub outcome: Option<String>,
    pub check_due: NaiveDate,
    pub decision_due: NaiveDate,
    /// The due dates were computed through a year without a holiday schedule.
    pub provisional: bool,
    pub decision_note: Option<String>,
    pub filed_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    /// Due days the authority let pass (flagged to supervisors by the deadline engine).
    #[serde(default)]
    pub overdue_flags: Vec<NaiveDate>,
    /// The check day was counted through a year without a holiday schedule.
    #[serde(default)]
    pub check_provisional: bool,
    /// When the deciding authority recorded its check (核查).
    #[serde(default)]
    pub checked_at: Option<DateTime<Utc>>,
    /// What the check found.
    #[serde(default)]
    pub check_note: Option<String>,
    /// Check days the authority let pass.
    #[serde(default)]
    pub check_overdue_flags: Vec<NaiveDate>,
}

impl ObjectionView {
    /// The check is owed: filed, undecided and not checked.
    pub fn check_owed(&self) -> bool {
        self.status == ObjectionStatus::Filed.as_str() && self.checked_at.is_none()
    }

    /// One fold step.
    pub fn apply(
        view: Option<Self>,
        id: &str,
        sequence: u64,
        event: &ObjectionEvent,
    ) -> Option<Self> {
        if let ObjectionEvent::ObjectionFiled {
            record_id,
            unit,
            recorded_by,
            grounds,
            detail,
            check_due,
            decision_due,
            at,
        } = event
        {
            return Some(ObjectionView {
                id: id.to_string(),
                version: sequence,
                record_id: record_id.clone(),
                unit: unit.as_str().to_string(),
                recorded_by: recorded_by.as_ref().map(|c| c.as_str().to_string()),
                grounds: name(grounds),
                detail: detail.clone(),
                status: ObjectionStatus::Filed.as_str().into(),
                outcome: None,
                check_due: check_due.due,
                decision_due: decision_due.due,
                provisional: decision_due.provisional,
                decision_note: None,
                filed_at: *at,
                decided_at: None,
                overdue_flags: Vec::new(),
                check_provisional: check_due.provisional,
                checked_at: None,
                check_note: None,
                check_overdue_flags: Vec::new(),
            });
        }
        let mut v = view?;
        v.version = sequence;
        match event {
            ObjectionEvent::ObjectionFiled { .. } => {}
            ObjectionEvent::ObjectionUpheld { outcome, at } => {
                v.status = ObjectionStatus::Upheld.as_str().into();
                v.outcome = Some(name(outcome));
                v.decided_at = Some(*at);
            }
            ObjectionEvent::ObjectionDismissed { reason, at } => {
                v.status = ObjectionStatus::Dismissed.as_str().into();
                v.decision_note = Some(reason.clone());
                v.decided_at = Some(*at);
            }
            ObjectionEvent::ObjectionUndeterminable { note, at } => {
                v.status = ObjectionStatus::Undeterminable.as_str().into();
                v.decision_note = Some(note.clone());
                v.decided_at = Some(*at);
            }
            ObjectionEvent::ObjectionDecisionOverdue { due, .. } => v.overdue_flags.push(*due),
            ObjectionEvent::ObjectionDecisionDueSoon { .. } => {}
            ObjectionEvent::ObjectionChecked { note, at } => {
                v.checked_at = Some(*at);
                v.check_note = Some(note.clone());
            }
            ObjectionEvent::ObjectionCheckDueSoon { .. } => {}
            ObjectionEvent::ObjectionCheckOverdue { due, .. } => v.check_overdue_flags.push(*due),
            ObjectionEvent::ObjectionDueRecomputed { due, .. } => {
                v.decision_due = due.due;
                v.provisional = due.provisional;
            }
            ObjectionEvent::ObjectionCheckDueRecomputed { due, .. } => {
                v.check_due = due.due;
                v.check_provisional = due.provisional;
            }
        }
        Some(v)
    }
}

/// A commitment (信用承诺).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommitmentView {
    pub id: String,
    pub version: u64,
    pub subject_code: String,
    /// investment_promise, township_public, repair.
    pub kind: String,
    pub text: String,
    pub due_date: Option<NaiveDate>,
    /// made or assessed.
    pub status: String,
    /// fulfilled, partially_fulfilled, breached.
    pub level: Option<String>,
    pub note: Option<String>,
    /// The record a breach proposes (source commitment_breach), for a supervisor.
    #[schema(value_type = Option<Object>)]
    pub proposed_record: Option<ProposedRecord>,
    pub made_at: DateTime<Utc>,
    pub assessed_at: Option<DateTime<Utc>>,
    /// Changes made by the recorded procedure (承诺变更), oldest first.
    #[serde(default)]
    pub changes: Vec<CommitmentChange>,
}

/// One change of a commitment: what it was, why, who decided it, when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommitmentChange {
    pub previous_text: String,
    pub previous_due_date: Option<NaiveDate>,
    pub reason: String,
    pub decided_by: String,
    pub at: DateTime<Utc>,
}

impl CommitmentView {
    /// One fold step.
    pub fn apply(
        view: Option<Self>,
        id: &str,
        sequence: u64,
        event: &CommitmentEvent,
    ) -> Option<Self> {
        if let CommitmentEvent::CommitmentMade {
            subject_code,
            kind,
            text,
            due_date,
            at,
        } = event
        {
            return Some(CommitmentView {
                id: id.to_string(),
                version: sequence,
                subject_code: subject_code.as_str().to_string(),
                kind: kind.as_str().to_string(),
                text: text.clone(),
                due_date: *due_date,
                status: CommitmentStatus::Made.as_str().into(),
                level: None,
                note: None,
                proposed_record: None,
                made_at: *at,
                assessed_at: None,
                changes: Vec::new(),
            });
        }
        let mut v = view?;
        v.version = sequence;
        match event {
            CommitmentEvent::CommitmentMade { .. } => {}
            CommitmentEvent::CommitmentChanged {
                previous_text,
                previous_due_date,
                text,
                due_date,
                reason,
                decided_by,
                at,
            } => {
                v.changes.push(CommitmentChange {
                    previous_text: previous_text.clone(),
                    previous_due_date: *previous_due_date,
                    reason: reason.clone(),
                    decided_by: decided_by.clone(),
                    at: *at,
                });
                v.text = text.clone();
                v.due_date = *due_date;
            }
            CommitmentEvent::FulfilmentAssessed { level, note, at } => {
                v.status = CommitmentStatus::Assessed.as_str().into();
                v.level = Some(name::<Fulfilment>(level));
                v.note = Some(note.clone());
                v.assessed_at = Some(*at);
            }
            CommitmentEvent::CommitmentBreached { proposed, .. } => {
                v.proposed_record = Some(proposed.clone());
            }
        }
        Some(v)
    }
}

/// A supervision item (人大建议、政协提案、司法建议、检察建议) and its reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SupervisionItemView {
    pub id: String,
    pub version: u64,
    /// npc_proposal, cppcc_motion, judicial_suggestion, procuratorial_suggestion.
    pub kind: String,
    /// The item's own number (e.g. the proposal number).
    pub source_ref: String,
    pub title: String,
    /// The unit that owes (or gave) the reply.
    pub unit: String,
    /// assigned, replied, evaluated.
    pub status: String,
    /// Calendar months allowed (from the assignment or the last reassignment).
    pub months: u32,
    /// The reply due day (the end of that day, Asia/Shanghai).
    pub due: NaiveDate,
    /// Counted through a year without a holiday schedule.
    pub provisional: bool,
    /// Unanswered after the due day (as of the reader's day).
    #[serde(default)]
    pub overdue: bool,
    /// The limits' policy name.
    pub policy: String,
    pub assigned_at: DateTime<Utc>,
    pub reply: Option<String>,
    pub replied_at: Option<DateTime<Utc>>,
    /// Replied by the due day in force.
    pub replied_on_time: Option<bool>,
    /// satisfied, basically_satisfied, dissatisfied.
    pub satisfaction: Option<String>,
    pub evaluated_at: Option<DateTime<Utc>>,
    /// Due days escalated (督办) for want of a reply.
    pub escalations: Vec<NaiveDate>,
    /// Earlier units and why it left them.
    pub reassignments: Vec<Reassignment>,
    /// The handling under way: 1, or 2 after a return for rehandling (再办理).
    #[serde(default = "first_handling")]
    pub handling: u32,
    /// An extension request (延期申请) waiting for a supervisor's decision.
    #[serde(default)]
    pub extension_requested: Option<SupervisionExtensionRequest>,
    /// Extension requests decided, oldest first.
    #[serde(default)]
    pub extensions: Vec<SupervisionExtension>,
    /// The first handling's reply and rating, once the item was returned for rehandling.
    #[serde(default)]
    pub earlier_handlings: Vec<EarlierHandling>,
}

fn first_handling() -> u32 {
    1
}

/// An undecided extension request of a supervision item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SupervisionExtensionRequest {
    /// Calendar months asked for.
    pub months: u32,
    pub reason: String,
    pub requested_at: DateTime<Utc>,
}

/// A decided extension request of a supervision item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SupervisionExtension {
    /// Calendar months asked for.
    pub months: u32,
    pub reason: String,
    pub requested_at: DateTime<Utc>,
    /// approved, denied.
    pub decision: String,
    /// The supervisor's note.
    pub note: String,
    pub decided_at: DateTime<Utc>,
    /// The due day in force after the decision.
    pub due: NaiveDate,
}

/// A finished handling of a supervision item (before a return for rehandling).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EarlierHandling {
    /// The due day of that handling.
    pub due: NaiveDate,
    pub reply: Option<String>,
    pub replied_at: Option<DateTime<Utc>>,
    pub replied_on_time: Option<bool>,
    pub satisfaction: Option<String>,
    pub evaluated_at: Option<DateTime<Utc>>,
    /// Why it was returned (the proposer's objections).
    pub returned_reason: String,
    pub returned_at: DateTime<Utc>,
}

/// One reassignment (改办) of a supervision item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reassignment {
    pub from: String,
    pub to: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

impl SupervisionItemView {
    /// One fold step.
    pub fn apply(
        view: Option<Self>,
        id: &str,
        sequence: u64,
        event: &SupervisionItemEvent,
    ) -> Option<Self> {
        use SupervisionItemEvent as E;
        if let E::SupervisionItemAssigned {
            kind,
            source_ref,
            title,
            unit,
            months,
            due,
            policy,
            at,
        } = event
        {
            return Some(SupervisionItemView {
                id: id.to_string(),
                version: sequence,
                kind: kind.as_str().to_string(),
                source_ref: source_ref.clone(),
                title: title.clone(),
                unit: unit.as_str().to_string(),
                status: SupervisionStatus::Assigned.as_str().into(),
                months: *months,
                due: due.due,
                provisional: due.provisional,
                overdue: false,
                policy: policy.clone(),
                assigned_at: *at,
                reply: None,
                replied_at: None,
                replied_on_time: None,
                satisfaction: None,
                evaluated_at: None,
                escalations: Vec::new(),
                reassignments: Vec::new(),
                handling: 1,
                extension_requested: None,
                extensions: Vec::new(),
                earlier_handlings: Vec::new(),
            });
        }
        let mut v = view?;
        v.version = sequence;
        match event {
            E::SupervisionItemAssigned { .. } | E::SupervisionReplyDueSoon { .. } => {}
            E::SupervisionItemReplied {
                text, on_time, at, ..
            } => {
                v.status = SupervisionStatus::Replied.as_str().into();
                v.extension_requested = None;
                v.reply = Some(text.clone());
                v.replied_at = Some(*at);
                v.replied_on_time = Some(*on_time);
            }
            E::SupervisionSatisfactionRecorded { satisfaction, at } => {
                v.status = SupervisionStatus::Evaluated.as_str().into();
                v.satisfaction = Some(satisfaction.as_str().into());
                v.evaluated_at = Some(*at);
            }
            E::SupervisionItemReassigned {
                from,
                to,
                reason,
                months,
                due,
                at,
            } => {
                v.reassignments.push(Reassignment {
                    from: from.as_str().into(),
                    to: to.as_str().into(),
                    reason: reason.clone(),
                    at: *at,
                });
                v.unit = to.as_str().into();
                v.months = *months;
                v.due = due.due;
                v.provisional = due.provisional;
                v.extension_requested = None;
            }
            E::SupervisionReplyOverdue { due, .. } => v.escalations.push(*due),
            E::SupervisionExtensionRequested {
                months, reason, at, ..
            } => {
                v.extension_requested = Some(SupervisionExtensionRequest {
                    months: *months,
                    reason: reason.clone(),
                    requested_at: *at,
                });
            }
            E::SupervisionExtensionApproved {
                note,
                months,
                due,
                at,
            } => {
                v.months = *months;
                v.due = due.due;
                v.provisional = due.provisional;
                v.decide_extension("approved", note, *at);
            }
            E::SupervisionExtensionDenied { note, at } => {
                v.decide_extension("denied", note, *at);
            }
            E::SupervisionItemReturnedForRehandling {
                unit,
                reason,
                months,
                due,
                policy,
                at,
            } => {
                v.earlier_handlings.push(EarlierHandling {
                    due: v.due,
                    reply: v.reply.take(),
                    replied_at: v.replied_at.take(),
                    replied_on_time: v.replied_on_time.take(),
                    satisfaction: v.satisfaction.take(),
                    evaluated_at: v.evaluated_at.take(),
                    returned_reason: reason.clone(),
                    returned_at: *at,
                });
                v.handling += 1;
                v.status = SupervisionStatus::Assigned.as_str().into();
                v.unit = unit.as_str().into();
                v.months = *months;
                v.due = due.due;
                v.provisional = due.provisional;
                v.policy = policy.clone();
            }
            E::SupervisionReplyDueRecomputed { due, .. } => {
                v.due = due.due;
                v.provisional = due.provisional;
            }
        }
        Some(v)
    }

    /// The unit still owes its reply.
    pub fn owed(&self) -> bool {
        self.status == SupervisionStatus::Assigned.as_str()
    }

    /// Moves the pending extension request to the decided ones.
    fn decide_extension(&mut self, decision: &str, note: &str, at: DateTime<Utc>) {
        if let Some(r) = self.extension_requested.take() {
            self.extensions.push(SupervisionExtension {
                months: r.months,
                reason: r.reason,
                requested_at: r.requested_at,
                decision: decision.into(),
                note: note.into(),
                decided_at: at,
                due: self.due,
            });
        }
    }

    /// Sets `overdue` for the reader's day.
    pub fn refresh_overdue(&mut self, today: NaiveDate) {
        self.overdue = self.owed() && probity_domain::is_overdue(self.due, today);
    }
}

/// A government's debt risk warning (§13), keyed by its credit code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DebtWarningView {
    /// The government's unified social credit code (the aggregate id).
    pub subject_code: String,
    pub version: u64,
    /// raised or cleared.
    pub status: String,
    /// Why it was raised (kept after clearing, as last raised).
    #[schema(value_type = Vec<Object>)]
    pub reasons: Vec<DebtWarningReason>,
    /// The day the last raising evaluated.
    pub raised_on: NaiveDate,
    pub raised_at: DateTime<Utc>,
    /// The day the last clearing evaluated, while cleared.
    pub cleared_on: Option<NaiveDate>,
    pub cleared_at: Option<DateTime<Utc>>,
    /// How many times it was raised.
    pub times_raised: u32,
}

impl DebtWarningView {
    /// One fold step.
    pub fn apply(
        view: Option<Self>,
        _id: &str,
        sequence: u64,
        event: &DebtWarningEvent,
    ) -> Option<Self> {
        match event {
            DebtWarningEvent::DebtWarningRaised {
                subject_code,
                reasons,
                on,
                at,
            } => Some(DebtWarningView {
                subject_code: subject_code.as_str().to_string(),
                version: sequence,
                status: DebtWarningStatus::Raised.as_str().into(),
                reasons: reasons.clone(),
                raised_on: *on,
                raised_at: *at,
                cleared_on: None,
                cleared_at: None,
                times_raised: view.map_or(0, |v| v.times_raised) + 1,
            }),
            DebtWarningEvent::DebtWarningCleared { on, at, .. } => {
                let mut v = view?;
                v.version = sequence;
                v.status = DebtWarningStatus::Cleared.as_str().into();
                v.cleared_on = Some(*on);
                v.cleared_at = Some(*at);
                Some(v)
            }
        }
    }
}

/// A third party's record proposal (§3) as the supervisors' list shows it: the
/// aggregate's own state, folded by the aggregate's own [`RecordProposal::fold`], so the
/// list and a single read (folded from the log) never disagree. Never public: only the
/// proposal endpoints read it (supervisor, auditor, admin; an evaluator its own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProposalView {
    pub id: String,
    pub version: u64,
    pub state: RecordProposal,
}

impl ProposalView {
    /// One fold step: a submission creates the document, a decision changes it.
    pub fn apply(
        view: Option<Self>,
        id: &str,
        sequence: u64,
        event: &ProposalEvent,
    ) -> Option<Self> {
        let mut v = match (view, event) {
            (Some(v), _) => v,
            (None, ProposalEvent::ProposalSubmitted { .. }) => ProposalView {
                id: id.to_string(),
                version: 0,
                state: RecordProposal::default(),
            },
            (None, _) => return None,
        };
        v.version = sequence;
        v.state.fold(event.clone());
        Some(v)
    }

    /// The subject the proposed finding is about.
    pub fn subject_code(&self) -> &str {
        self.state
            .finding
            .as_ref()
            .map_or("", |f| f.subject_code.as_str())
    }
}

/// Any integrity document, for the projector and rebuild.
#[derive(Debug, Clone, PartialEq)]
pub enum IntegrityDoc {
    Subject(SubjectView),
    CivilServant(CivilServantView),
    Record(RecordView),
    Rectification(RectificationView),
    Repair(RepairView),
    Objection(ObjectionView),
    Commitment(CommitmentView),
    SupervisionItem(SupervisionItemView),
    DebtWarning(DebtWarningView),
    RecordProposal(ProposalView),
}

/// One step of the fold `V` on the document `doc` (of `V`'s kind, else none yet).
fn step<V: Fold>(
    prev: Option<V>,
    id: &str,
    sequence: u64,
    payload: &Value,
) -> Result<Option<V>, DecodeError> {
    V::apply_wire(prev, id, sequence, payload)
}

impl IntegrityDoc {
    /// The sequence of the last event folded in (the `If-Match` version).
    pub fn version(&self) -> u64 {
        match self {
            IntegrityDoc::Subject(v) => v.version,
            IntegrityDoc::CivilServant(v) => v.version,
            IntegrityDoc::Record(v) => v.version,
            IntegrityDoc::Rectification(v) => v.version,
            IntegrityDoc::Repair(v) => v.version,
            IntegrityDoc::Objection(v) => v.version,
            IntegrityDoc::Commitment(v) => v.version,
            IntegrityDoc::SupervisionItem(v) => v.version,
            IntegrityDoc::DebtWarning(v) => v.version,
            IntegrityDoc::RecordProposal(v) => v.version,
        }
    }

    /// The unit the case belongs to (a handler of that unit may read it): the subject
    /// itself, a civil servant's unit, the unit answering for a record or its cases.
    pub fn unit(&self) -> &str {
        match self {
            IntegrityDoc::Subject(v) => &v.code,
            IntegrityDoc::CivilServant(v) => &v.unit_code,
            IntegrityDoc::Record(v) => &v.unit,
            IntegrityDoc::Rectification(v) => &v.unit,
            IntegrityDoc::Repair(v) => &v.unit,
            IntegrityDoc::Objection(v) => &v.unit,
            IntegrityDoc::Commitment(v) => &v.subject_code,
            IntegrityDoc::SupervisionItem(v) => &v.unit,
            IntegrityDoc::DebtWarning(v) => &v.subject_code,
            IntegrityDoc::RecordProposal(v) => v.subject_code(),
        }
    }

    /// The document as its readers get it.
    pub fn to_json(&self) -> Result<Value, serde_json::Error> {
        match self {
            IntegrityDoc::Subject(v) => serde_json::to_value(v),
            IntegrityDoc::CivilServant(v) => serde_json::to_value(v),
            IntegrityDoc::Record(v) => serde_json::to_value(v),
            IntegrityDoc::Rectification(v) => serde_json::to_value(v),
            IntegrityDoc::Repair(v) => serde_json::to_value(v),
            IntegrityDoc::Objection(v) => serde_json::to_value(v),
            IntegrityDoc::Commitment(v) => serde_json::to_value(v),
            IntegrityDoc::SupervisionItem(v) => serde_json::to_value(v),
            IntegrityDoc::DebtWarning(v) => serde_json::to_value(v),
            IntegrityDoc::RecordProposal(v) => serde_json::to_value(v),
        }
    }

    /// One fold step for any integrity aggregate; `Ok(None)` when the event does not
    /// create a document and there is none yet.
    pub fn apply(
        doc: Option<IntegrityDoc>,
        aggregate_type: &str,
        id: &str,
        sequence: u64,
        payload: &Value,
    ) -> Result<Option<IntegrityDoc>, DecodeError> {
        use IntegrityDoc as D;
        Ok(match aggregate_type {
            SUBJECT_TYPE => {
                let prev = match doc {
                    Some(D::Subject(v)) => Some(v),
                    _ => None,
                };
                step::<SubjectView>(prev, id, sequence, payload)?.map(D::Subject)
            }
            CIVIL_SERVANT_TYPE => {
                let prev = match doc {
                    Some(D::CivilServant(v)) => Some(v),
                    _ => None,
                };
                step::<CivilServantView>(prev, id, sequence, payload)?.map(D::CivilServant)
            }
            RECORD_TYPE => {
                let prev = match doc {
                    Some(D::Record(v)) => Some(v),
                    _ => None,
                };
                step::<RecordView>(prev, id, sequence, payload)?.map(D::Record)
            }
            RECTIFICATION_TYPE => {
                let prev = match doc {
                    Some(D::Rectification(v)) => Some(v),
                    _ => None,
                };
                step::<RectificationView>(prev, id, sequence, payload)?.map(D::Rectification)
            }
            REPAIR_TYPE => {
                let prev = match doc {
                    Some(D::Repair(v)) => Some(v),
                    _ => None,
                };
                step::<RepairView>(prev, id, sequence, payload)?.map(D::Repair)
            }
            OBJECTION_TYPE => {
                let prev = match doc {
                    Some(D::Objection(v)) => Some(v),
                    _ => None,
                };
                step::<ObjectionView>(prev, id, sequence, payload)?.map(D::Objection)
            }
            COMMITMENT_TYPE => {
                let prev = match doc {
                    Some(D::Commitment(v)) => Some(v),
                    _ => None,
                };
                step::<CommitmentView>(prev, id, sequence, payload)?.map(D::Commitment)
            }
            SUPERVISION_ITEM_TYPE => {
                let prev = match doc {
                    Some(D::SupervisionItem(v)) => Some(v),
                    _ => None,
                };
                step::<SupervisionItemView>(prev, id, sequence, payload)?.map(D::SupervisionItem)
            }
            DEBT_WARNING_TYPE => {
                let prev = match doc {
                    Some(D::DebtWarning(v)) => Some(v),
                    _ => None,
                };
                step::<DebtWarningView>(prev, id, sequence, payload)?.map(D::DebtWarning)
            }
            RECORD_PROPOSAL_TYPE => {
                let prev = match doc {
                    Some(D::RecordProposal(v)) => Some(v),
                    _ => None,
                };
                step::<ProposalView>(prev, id, sequence, payload)?.map(D::RecordProposal)
            }
            _ => doc,
        })
    }
}

impl Fold for SubjectView {
    const AGGREGATE_TYPE: &'static str = SUBJECT_TYPE;
    type Event = SubjectEvent;
    fn apply(view: Option<Self>, _id: &str, sequence: u64, event: &SubjectEvent) -> Option<Self> {
        SubjectView::apply(view, sequence, event)
    }
}

impl Fold for CivilServantView {
    const AGGREGATE_TYPE: &'static str = CIVIL_SERVANT_TYPE;
    type Event = CivilServantWireEvent;
    fn apply(
        view: Option<Self>,
        id: &str,
        sequence: u64,
        event: &CivilServantWireEvent,
    ) -> Option<Self> {
        CivilServantView::apply(view, id, sequence, event)
    }
}

/// The folds whose events carry no personal data: the wire form is the stored form.
macro_rules! fold_as_stored {
    ($($view:ty => $ty:expr, $event:ty;)*) => {$(
        impl Fold for $view {
            const AGGREGATE_TYPE: &'static str = $ty;
            type Event = $event;
            fn apply(view: Option<Self>, id: &str, sequence: u64, event: &$event) -> Option<Self> {
                <$view>::apply(view, id, sequence, event)
            }
        }
    )*};
}

fold_as_stored! {
    RecordView => RECORD_TYPE, RecordEvent;
    RectificationView => RECTIFICATION_TYPE, RectificationEvent;
    RepairView => REPAIR_TYPE, RepairEvent;
    ObjectionView => OBJECTION_TYPE, ObjectionEvent;
    CommitmentView => COMMITMENT_TYPE, CommitmentEvent;
    SupervisionItemView => SUPERVISION_ITEM_TYPE, SupervisionItemEvent;
    DebtWarningView => DEBT_WARNING_TYPE, DebtWarningEvent;
    ProposalView => RECORD_PROPOSAL_TYPE, ProposalEvent;
}
