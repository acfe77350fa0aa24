//! The credit-repair aggregate (信用修复, §8 of the mission text, domain-rules §7): the
//! unit applies once the minimum period has passed, with its obligations performed and a
//! public credit commitment (信用承诺书); the authority that made the finding (谁认定谁修复)
//! accepts, asks for more, approves or denies; approval ends publication and lifts the
//! sanctions; revocation (false materials, broken commitment) republishes the record
//! until its maximum period. Frequency limits are configuration.

#[cfg(test)]
mod tests;

use chrono::{DateTime, Months, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::calendar::{CalendarError, Deadline, WorkingCalendar};
use crate::ids::CreditCode;
use crate::integrity::{
    add_months, check_decision_overdue, check_reminder, check_text, recount_provisional, Decider,
    DecisionDeadlineRefusal, IntegrityServices, RecordFacts,
};

/// Longest free text, in characters.
pub const TEXT_MAX_CHARS: usize = 8000;

/// Where a repair stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RepairStatus {
    /// Not applied for yet.
    #[default]
    New,
    /// 申请: waiting for acceptance.
    Applied,
    /// 补正: more material requested.
    MoreRequested,
    /// 受理: accepted, decision due.
    Accepted,
    /// 修复: approved; publication ended, sanctions lifted.
    Approved,
    /// 不予修复
    Denied,
    /// 撤销修复: the record is published again.
    Revoked,
}

impl RepairStatus {
    /// The contract name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Applied => "applied",
            Self::MoreRequested => "more_requested",
            Self::Accepted => "accepted",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Revoked => "revoked",
        }
    }
}

impl std::fmt::Display for RepairStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the application knows of earlier repairs when a unit applies, read from the
/// repair views just before the command.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairHistory {
    /// Approval dates of the unit's repairs, any record, revoked ones included (a revoked
    /// repair still counts towards the frequency limits).
    pub approved_on: Vec<NaiveDate>,
    /// The record already has a repair that stands.
    pub record_repaired: bool,
    /// The record has an application still undecided.
    pub open_application: bool,
}

/// A repair as its events made it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Repair {
    /// Where it stands.
    pub status: RepairStatus,
    /// The unit that applied (the record's unit).
    pub unit: Option<CreditCode>,
    /// The record's recording authority (decides it).
    pub recorded_by: Option<CreditCode>,
    /// It was accepted before more material was requested.
    pub accepted: bool,
    /// Acceptance due by the end of this day.
    #[serde(default)]
    pub acceptance_due: Option<NaiveDate>,
    /// Decision due by the end of this day (after acceptance).
    #[serde(default)]
    pub decision_due: Option<NaiveDate>,
    /// Due days already flagged as overdue.
    #[serde(default)]
    pub flagged: Vec<NaiveDate>,
    /// Due days already reminded.
    #[serde(default)]
    pub reminded: Vec<NaiveDate>,
    /// The day the pending acceptance or decision period was counted from.
    #[serde(default)]
    pub due_from: Option<NaiveDate>,
    /// The pending due day was counted through a year without a holiday schedule.
    #[serde(default)]
    pub due_provisional: bool,
}

impl Repair {
    /// The due day of the decision now owed by the authority, if one is.
    pub fn pending_due(&self) -> Option<NaiveDate> {
        match self.status {
            RepairStatus::Applied => self.acceptance_due,
            RepairStatus::Accepted => self.decision_due.or(self.acceptance_due),
            // 补正: while the applicant owes material no deadline runs against the
            // authority.
            RepairStatus::MoreRequested => None,
            _ => None,
        }
    }
}

/// What can be asked of a repair.
#[derive(Debug, Clone, PartialEq)]
pub enum RepairCommand {
    /// Apply for repair (handler of the record's unit, or intake on its behalf).
    ApplyForRepair {
        /// The record, as the application read it.
        record: RecordFacts,
        /// Earlier repairs, as the application read them.
        history: RepairHistory,
        /// The handler's unit (`None`: intake).
        applicant_unit: Option<CreditCode>,
        /// The public credit commitment (信用承诺书).
        commitment: String,
        /// Evidence that the behaviour is corrected and obligations performed.
        evidence: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Supply the material asked for (handler of the unit, or intake).
    SupplementRepair {
        /// The handler's unit (`None`: intake).
        applicant_unit: Option<CreditCode>,
        /// The added evidence.
        evidence: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Accept the application (supervisor).
    AcceptRepair {
        /// Who decides.
        decider: Decider,
        /// When.
        at: DateTime<Utc>,
    },
    /// Ask for more material (supervisor).
    RequestMoreForRepair {
        /// What is missing.
        what: String,
        /// Who decides.
        decider: Decider,
        /// When.
        at: DateTime<Utc>,
    },
    /// Approve it (supervisor).
    ApproveRepair {
        /// Who decides.
        decider: Decider,
        /// When.
        at: DateTime<Utc>,
    },
    /// Deny it (supervisor).
    DenyRepair {
        /// Why.
        reason: String,
        /// Who decides.
        decider: Decider,
        /// When.
        at: DateTime<Utc>,
    },
    /// Revoke an approved repair (supervisor).
    RevokeRepair {
        /// Why (false materials, broken commitment).
        reason: String,
        /// Who decides.
        decider: Decider,
        /// When.
        at: DateTime<Utc>,
    },
    /// Flag the pending acceptance or decision as overdue (the deadline engine).
    FlagDecisionOverdue {
        /// When.
        at: DateTime<Utc>,
    },
    /// Remind the deciding authority that the acceptance or decision is due soon.
    RemindDecision {
        /// When.
        at: DateTime<Utc>,
    },
    /// Recount a provisional acceptance or decision due day once its year's holiday
    /// schedule is loaded (`probity calendar load`).
    RecomputeProvisionalDue {
        /// When.
        at: DateTime<Utc>,
    },
}

impl RepairCommand {
    /// The command's name, for spans and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ApplyForRepair { .. } => "ApplyForRepair",
            Self::SupplementRepair { .. } => "SupplementRepair",
            Self::AcceptRepair { .. } => "AcceptRepair",
            Self::RequestMoreForRepair { .. } => "RequestMoreForRepair",
            Self::ApproveRepair { .. } => "ApproveRepair",
            Self::DenyRepair { .. } => "DenyRepair",
            Self::RevokeRepair { .. } => "RevokeRepair",
            Self::FlagDecisionOverdue { .. } => "FlagDecisionOverdue",
            Self::RemindDecision { .. } => "RemindDecision",
            Self::RecomputeProvisionalDue { .. } => "RecomputeProvisionalDue",
        }
    }
}

/// What happened to a repair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RepairEvent {
    /// 申请信用修复
    RepairApplied {
        /// The record to repair.
        record_id: String,
        /// The record's unit.
        unit: CreditCode,
        /// The record's recording authority (decides).
        recorded_by: Option<CreditCode>,
        /// The public credit commitment.
        commitment: String,
        /// The evidence.
        evidence: String,
        /// Acceptance decided by the end of this day.
        acceptance_due: Deadline,
        /// When.
        at: DateTime<Utc>,
    },
    /// Material supplied (补正): a fresh period starts from the day it arrived.
    RepairSupplemented {
        /// The added evidence.
        evidence: String,
        /// The fresh due day of the acceptance (not yet accepted) or of the decision
        /// (accepted), counted from the supplement's day. Absent in events stored before
        /// the 补正 clock (issue 10): the earlier due day then stays.
        #[serde(default)]
        due: Option<Deadline>,
        /// When.
        at: DateTime<Utc>,
    },
    /// 受理
    RepairAccepted {
        /// Decided by the end of this day.
        decision_due: Deadline,
        /// When.
        at: DateTime<Utc>,
    },
    /// 补正 requested.
    RepairMoreRequested {
        /// What is missing.
        what: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// 准予修复: publication ends, sharing stops, sanctions are lifted.
    RepairApproved {
        /// When.
        at: DateTime<Utc>,
    },
    /// 不予修复
    RepairDenied {
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// 撤销修复: the record is published again until its maximum period.
    RepairRevoked {
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// 临期提醒: the acceptance or decision is due soon.
    RepairDecisionDueSoon {
        /// The due day.
        due: NaiveDate,
        /// When.
        at: DateTime<Utc>,
    },
    /// The authority let the acceptance or decision due day pass: flagged to supervisors.
    RepairDecisionOverdue {
        /// The missed due day.
        due: NaiveDate,
        /// When.
        at: DateTime<Utc>,
    },
    /// A provisional acceptance or decision due day recounted on the loaded holiday
    /// schedule: final now.
    RepairDueRecomputed {
        /// The pending due day now (never provisional).
        due: Deadline,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for RepairEvent {
    fn event_type(&self) -> String {
        match self {
            Self::RepairApplied { .. } => "RepairApplied",
            Self::RepairSupplemented { .. } => "RepairSupplemented",
            Self::RepairAccepted { .. } => "RepairAccepted",
            Self::RepairMoreRequested { .. } => "RepairMoreRequested",
            Self::RepairApproved { .. } => "RepairApproved",
            Self::RepairDenied { .. } => "RepairDenied",
            Self::RepairRevoked { .. } => "RepairRevoked",
            Self::RepairDecisionOverdue { .. } => "RepairDecisionOverdue",
            Self::RepairDecisionDueSoon { .. } => "RepairDecisionDueSoon",
            Self::RepairDueRecomputed { .. } => "RepairDueRecomputed",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// Why a repair command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RepairError {
    /// Never applied for (404 `not_found`).
    #[error("repair not found")]
    NotFound,
    /// Applying with an id that exists (409 `already_exists`).
    #[error("repair already applied for")]
    AlreadyApplied,
    /// Not allowed in its status (409 `invalid_transition`).
    #[error("cannot {action} a repair that is {status}")]
    InvalidTransition {
        /// The verb refused.
        action: &'static str,
        /// The status it is in.
        status: RepairStatus,
    },
    /// Not (yet) allowed (409 `repair_not_eligible`), with the date it becomes possible
    /// when there is one.
    #[error("repair not eligible: {reason}")]
    NotEligible {
        /// Why.
        reason: String,
        /// First day an application can succeed, if any.
        possible_from: Option<NaiveDate>,
    },
    /// A handler of another unit (403 `forbidden`).
    #[error("only the record's own unit may apply")]
    NotRecordUnit,
    /// A bound supervisor of another authority (403 `forbidden`).
    #[error("only the authority that recorded it (or the credit office) decides a repair")]
    NotDecidingAuthority,
    /// A field failed validation (422 `validation_failed`).
    #[error("{field}: {message}")]
    Invalid {
        /// The API field name.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The calendar has no data for a needed year (422 `calendar_missing`).
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    /// Flagging an overdue decision was refused (409 `invalid_transition`).
    #[error(transparent)]
    Deadline(#[from] DecisionDeadlineRefusal),
    /// A provisional due day cannot be recounted, and why (409 `invalid_transition`).
    #[error("the due date cannot be recomputed: {0}")]
    NotRecomputable(&'static str),
}

impl From<(&'static str, String)> for RepairError {
    fn from((field, message): (&'static str, String)) -> Self {
        RepairError::Invalid { field, message }
    }
}

fn not_eligible(reason: &str, possible_from: Option<NaiveDate>) -> RepairError {
    RepairError::NotEligible {
        reason: reason.to_string(),
        possible_from,
    }
}

/// The §7 eligibility checks, in a fixed order; `Ok` or the first reason with the date
/// an application can succeed.
pub fn check_eligibility(
    record: &RecordFacts,
    history: &RepairHistory,
    limits: &crate::integrity::RepairLimits,
    today: NaiveDate,
) -> Result<(), RepairError> {
    if record.withdrawn {
        return Err(not_eligible("the record is withdrawn", None));
    }
    if history.record_repaired {
        return Err(not_eligible("the record is already repaired", None));
    }
    if history.open_application {
        return Err(not_eligible(
            "an application for this record is still undecided",
            None,
        ));
    }
    if today >= record.publicity.ends {
        return Err(not_eligible(
            "the record's maximum publicity period is over",
            None,
        ));
    }
    let mut possible_from = record.publicity.repair_possible_from;
    let mut reason = "the minimum publicity period has not passed";
    if let Some((next, why)) = frequency_limit(&history.approved_on, limits, today) {
        if next > possible_from {
            possible_from = next;
            reason = why;
        }
    }
    if today < possible_from {
        // No date to give when the maximum period is over by then.
        let possible_from = Some(possible_from).filter(|d| *d < record.publicity.ends);
        return Err(not_eligible(reason, possible_from));
    }
    Ok(())
}

/// The first day the frequency limits allow the unit's next repair, given the approval
/// days of its earlier repairs (revoked ones included), and the limit that sets it; `None`
/// when neither limit applies. "No repair within `min_months_between` of the last" and
/// "at most `max_in_window` in `window_months`" (domain-rules §7).
pub fn frequency_limit(
    approved_on: &[NaiveDate],
    limits: &crate::integrity::RepairLimits,
    today: NaiveDate,
) -> Option<(NaiveDate, &'static str)> {
    let mut limit: Option<(NaiveDate, &'static str)> = None;
    if let Some(last) = approved_on.iter().max() {
        limit = Some((
            add_months(*last, limits.min_months_between),
            "the unit's last repair is too recent",
        ));
    }
    let window_start = today
        .checked_sub_months(Months::new(limits.window_months))
        .unwrap_or(NaiveDate::MIN);
    let mut in_window: Vec<NaiveDate> = approved_on
        .iter()
        .copied()
        .filter(|d| *d > window_start)
        .collect();
    in_window.sort();
    if limits.max_in_window > 0 && in_window.len() as u32 >= limits.max_in_window {
        // The oldest repair that keeps the count at the limit leaves the window.
        let leaving = in_window[in_window.len() - limits.max_in_window as usize];
        let next = add_months(leaving, limits.window_months);
        if limit.is_none_or(|(d, _)| next > d) {
            limit = Some((
                next,
                "the unit reached the most repairs allowed in the period",
            ));
        }
    }
    limit
}

impl Repair {
    fn require(&self, action: &'static str, allowed: &[RepairStatus]) -> Result<(), RepairError> {
        if self.status == RepairStatus::New {
            return Err(RepairError::NotFound);
        }
        if !allowed.contains(&self.status) {
            return Err(RepairError::InvalidTransition {
                action,
                status: self.status,
            });
        }
        Ok(())
    }

    fn decider(&self, decider: &Decider) -> Result<(), RepairError> {
        if decider.may_decide(self.recorded_by.as_ref()) {
            Ok(())
        } else {
            Err(RepairError::NotDecidingAuthority)
        }
    }

    fn decide(
        &self,
        command: RepairCommand,
        services: &IntegrityServices,
    ) -> Result<Vec<RepairEvent>, RepairError> {
        use RepairStatus as S;
        let limits = &services.policy.repair;
        match command {
            RepairCommand::ApplyForRepair {
                record,
                history,
                applicant_unit,
                commitment,
                evidence,
                at,
            } => {
                if self.status != S::New {
                    return Err(RepairError::AlreadyApplied);
                }
                if applicant_unit.is_some_and(|u| u != record.unit) {
                    return Err(RepairError::NotRecordUnit);
                }
                check_text("commitment", &commitment, TEXT_MAX_CHARS)?;
                check_text("evidence", &evidence, TEXT_MAX_CHARS)?;
                let today = WorkingCalendar::local_date(at);
                check_eligibility(&record, &history, limits, today)?;
                let acceptance_due = services
                    .calendar
                    .add_working_days(today, limits.acceptance_working_days)?;
                Ok(vec![RepairEvent::RepairApplied {
                    record_id: record.record_id,
                    unit: record.unit,
                    recorded_by: record.recorded_by,
                    commitment: commitment.trim().to_string(),
                    evidence: evidence.trim().to_string(),
                    acceptance_due,
                    at,
                }])
            }
            RepairCommand::SupplementRepair {
                applicant_unit,
                evidence,
                at,
            } => {
                self.require("supplement", &[S::MoreRequested])?;
                if applicant_unit.is_some_and(|u| Some(u) != self.unit) {
                    return Err(RepairError::NotRecordUnit);
                }
                check_text("evidence", &evidence, TEXT_MAX_CHARS)?;
                let limit = if self.accepted {
                    limits.decision_working_days
                } else {
                    limits.acceptance_working_days
                };
                let due = services
                    .calendar
                    .add_working_days(WorkingCalendar::local_date(at), limit)?;
                Ok(vec![RepairEvent::RepairSupplemented {
                    evidence: evidence.trim().to_string(),
                    due: Some(due),
                    at,
                }])
            }
            RepairCommand::AcceptRepair { decider, at } => {
                self.require("accept", &[S::Applied])?;
                self.decider(&decider)?;
                let decision_due = services.calendar.add_working_days(
                    WorkingCalendar::local_date(at),
                    limits.decision_working_days,
                )?;
                Ok(vec![RepairEvent::RepairAccepted { decision_due, at }])
            }
            RepairCommand::RequestMoreForRepair { what, decider, at } => {
                self.require("request more for", &[S::Applied, S::Accepted])?;
                self.decider(&decider)?;
                check_text("what", &what, TEXT_MAX_CHARS)?;
                Ok(vec![RepairEvent::RepairMoreRequested {
                    what: what.trim().to_string(),
                    at,
                }])
            }
            RepairCommand::ApproveRepair { decider, at } => {
                self.require("approve", &[S::Accepted])?;
                self.decider(&decider)?;
                Ok(vec![RepairEvent::RepairApproved { at }])
            }
            RepairCommand::DenyRepair {
                reason,
                decider,
                at,
            } => {
                self.require("deny", &[S::Applied, S::MoreRequested, S::Accepted])?;
                self.decider(&decider)?;
                check_text("reason", &reason, TEXT_MAX_CHARS)?;
                Ok(vec![RepairEvent::RepairDenied {
                    reason: reason.trim().to_string(),
                    at,
                }])
            }
            RepairCommand::RemindDecision { at } => {
                if self.status == S::New {
                    return Err(RepairError::NotFound);
                }
                let due = check_reminder(
                    self.pending_due(),
                    &self.reminded,
                    WorkingCalendar::local_date(at),
                )?;
                Ok(vec![RepairEvent::RepairDecisionDueSoon { due, at }])
            }
            RepairCommand::FlagDecisionOverdue { at } => {
                if self.status == S::New {
                    return Err(RepairError::NotFound);
                }
                let due = check_decision_overdue(
                    self.pending_due(),
                    &self.flagged,
                    WorkingCalendar::local_date(at),
                )?;
                Ok(vec![RepairEvent::RepairDecisionOverdue { due, at }])
            }
            RepairCommand::RecomputeProvisionalDue { at } => {
                if self.status == S::New {
                    return Err(RepairError::NotFound);
                }
                let (limit, stored) = match self.status {
                    S::Applied => (limits.acceptance_working_days, self.acceptance_due),
                    S::Accepted => (limits.decision_working_days, self.decision_due),
                    _ => return Err(RepairError::NotRecomputable("no decision is pending")),
                };
                let (Some(due), Some(from)) = (stored, self.due_from) else {
                    return Err(RepairError::NotRecomputable("no due date is known"));
                };
                let stored = Deadline {
                    due,
                    provisional: self.due_provisional,
                };
                let due = recount_provisional(
                    &services.calendar,
                    from,
                    limit,
                    stored,
                    WorkingCalendar::local_date(at),
                )
                .map_err(RepairError::NotRecomputable)?;
                Ok(vec![RepairEvent::RepairDueRecomputed { due, at }])
            }
            RepairCommand::RevokeRepair {
                reason,
                decider,
                at,
            } => {
                self.require("revoke", &[S::Approved])?;
                self.decider(&decider)?;
                check_text("reason", &reason, TEXT_MAX_CHARS)?;
                Ok(vec![RepairEvent::RepairRevoked {
                    reason: reason.trim().to_string(),
                    at,
                }])
            }
        }
    }
}

impl Aggregate for Repair {
    const TYPE: &'static str = crate::aggregate_type::REPAIR;
    type Command = RepairCommand;
    type Event = RepairEvent;
    type Error = RepairError;
    type Services = IntegrityServices;

    #[tracing::instrument(name = "repair.handle", skip_all, fields(command = command.kind(), status = %self.status))]
    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command, services)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            RepairEvent::RepairApplied {
                unit,
                recorded_by,
                acceptance_due,
                at,
                ..
            } => {
                self.due_from = Some(WorkingCalendar::local_date(at));
                self.due_provisional = acceptance_due.provisional;
                self.status = RepairStatus::Applied;
                self.acceptance_due = Some(acceptance_due.due);
                self.unit = Some(unit);
                self.recorded_by = recorded_by;
            }
            RepairEvent::RepairSupplemented { due, at, .. } => {
                if let Some(due) = due {
                    self.due_from = Some(WorkingCalendar::local_date(at));
                    self.due_provisional = due.provisional;
                }
                self.status = if self.accepted {
                    RepairStatus::Accepted
                } else {
                    RepairStatus::Applied
                };
                if let Some(due) = due {
                    if self.accepted {
                        self.decision_due = Some(due.due);
                    } else {
                        self.acceptance_due = Some(due.due);
                    }
                }
            }
            RepairEvent::RepairAccepted { decision_due, at } => {
                self.due_from = Some(WorkingCalendar::local_date(at));
                self.due_provisional = decision_due.provisional;
                self.status = RepairStatus::Accepted;
                self.decision_due = Some(decision_due.due);
                self.accepted = true;
            }
            RepairEvent::RepairMoreRequested { .. } => self.status = RepairStatus::MoreRequested,
            RepairEvent::RepairApproved { .. } => self.status = RepairStatus::Approved,
            RepairEvent::RepairDenied { .. } => self.status = RepairStatus::Denied,
            RepairEvent::RepairRevoked { .. } => self.status = RepairStatus::Revoked,
            RepairEvent::RepairDecisionOverdue { due, .. } => self.flagged.push(due),
            RepairEvent::RepairDecisionDueSoon { due, .. } => self.reminded.push(due),
            RepairEvent::RepairDueRecomputed { due, .. } => {
                if self.status == RepairStatus::Applied {
                    self.acceptance_due = Some(due.due);
                } else {
                    self.decision_due = Some(due.due);
                }
                self.due_provisional = due.provisional;
            }
        }
    }
}
