//! The dishonesty-record aggregate (政务失信记录, §6 of the mission text, domain-rules §5):
//! a finding against a government, department, organisation or civil servant, drawn from
//! a penalty, sanction, judgment, audit, verified complaint or breached commitment, with
//! its publicity window computed under a named, versioned policy carried in the event.
//! `withdraw` (the source decision was changed or revoked) and `correct` (after an upheld
//! objection) are events; nothing is ever deleted.

#[cfg(test)]
mod tests;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::calendar::{CalendarError, Deadline, WorkingCalendar};
use crate::ids::CreditCode;
use crate::integrity::{
    add_months, check_decision_overdue, check_reminder, check_text, recount_provisional,
    DecisionDeadlineRefusal, IntegrityServices, Offence, Publicity, PublicityPolicy, RecordFacts,
    Sector, Severity, Source,
};
use crate::objection::ObjectionOutcome;

/// Longest source reference (文书号), in characters.
pub const SOURCE_REF_MAX_CHARS: usize = 200;
/// Longest summary, in characters.
pub const SUMMARY_MAX_CHARS: usize = 2000;
/// Longest withdrawal reason, in characters.
pub const REASON_MAX_CHARS: usize = 2000;
/// Working days after the source decision changed within which the record is withdrawn
/// (行政处罚法 art. 48: 三日内撤回; counted in working days, domain-rules §5).
pub const WITHDRAWAL_WORKING_DAYS: u32 = 3;

/// Whom a record is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordTarget {
    /// A government, department, public institution or enterprise.
    Subject {
        /// Its credit code.
        code: CreditCode,
    },
    /// A civil servant (never public).
    CivilServant {
        /// The opaque civil-servant id.
        id: String,
        /// The unit they serve in, which answers for the record.
        unit_code: CreditCode,
    },
}

impl RecordTarget {
    /// The unit that answers for the record.
    pub fn unit(&self) -> &CreditCode {
        match self {
            RecordTarget::Subject { code } => code,
            RecordTarget::CivilServant { unit_code, .. } => unit_code,
        }
    }

    /// A civil servant's record.
    pub fn personal(&self) -> bool {
        matches!(self, RecordTarget::CivilServant { .. })
    }
}

/// The upheld objection a correction rests on, as the application read it from the
/// objection's own events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpheldObjection {
    /// The objection's id.
    pub objection_id: String,
    /// It was filed against this record (the application compares the ids).
    pub about_this_record: bool,
    /// Its outcome, if it was upheld (`None`: still open, dismissed or undeterminable).
    pub outcome: Option<ObjectionOutcome>,
}

/// A record as its events made it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DishonestyRecord {
    /// Whom it is about, once recorded.
    pub target: Option<RecordTarget>,
    /// Its severity.
    pub severity: Option<Severity>,
    /// Its sector.
    pub sector: Option<Sector>,
    /// The decision date.
    pub decision_date: Option<NaiveDate>,
    /// The summary as it stands.
    pub summary: String,
    /// The recorder asked to publish a minor record.
    pub publish_minor: bool,
    /// The sector ban's length in years.
    pub ban_years: Option<u32>,
    /// The offence a court judgment convicted of.
    #[serde(default)]
    pub offence: Option<Offence>,
    /// The publicity table it was made under.
    pub policy: Option<PublicityPolicy>,
    /// Its window.
    pub publicity: Option<Publicity>,
    /// The authority that recorded it (`None`: the credit office).
    pub recorded_by: Option<CreditCode>,
    /// Withdrawn.
    pub withdrawn: bool,
    /// Objections already applied as corrections.
    pub corrected_by: Vec<String>,
    /// The source decision changed: the record is to be withdrawn (or corrected) by the
    /// end of this day; `None` when nothing is owed.
    #[serde(default)]
    pub withdrawal_due: Option<NaiveDate>,
    /// Withdrawal due days already flagged as overdue.
    #[serde(default)]
    pub withdrawal_flagged: Vec<NaiveDate>,
    /// Withdrawal due days already reminded.
    #[serde(default)]
    pub withdrawal_reminded: Vec<NaiveDate>,
    /// The day the withdrawal period was counted from (the source decision's change).
    #[serde(default)]
    pub withdrawal_from: Option<NaiveDate>,
    /// The withdrawal due day was counted through a year without a holiday schedule.
    #[serde(default)]
    pub withdrawal_provisional: bool,
}

/// What can be asked of a dishonesty record.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordCommand {
    /// Record a finding (supervisor, or the bulk import).
    RecordDishonesty {
        /// Whom it is about.
        target: RecordTarget,
        /// The application found the subject or civil servant registered.
        target_registered: bool,
        /// Where it comes from.
        source: Source,
        /// The source decision's reference (文书号), unique per source.
        source_ref: String,
        /// The source decision's date; periods run from it.
        decision_date: NaiveDate,
        /// 轻微 / 一般 / 严重
        severity: Severity,
        /// The sector list it belongs to.
        sector: Sector,
        /// What was found.
        summary: String,
        /// The complaint that led to it, with whether the application found it.
        complaint: Option<(String, bool)>,
        /// Publish a minor record although the policy does not by default.
        publish_minor: bool,
        /// The sector ban in years (procurement 1–3, bidding and PPP 1–5; a bribery
        /// conviction 1–5 whatever its sector).
        ban_years: Option<u32>,
        /// The offence a court judgment convicted of (only with `CourtJudgment`).
        offence: Option<Offence>,
        /// The recording authority (a bound supervisor's unit; `None`: the credit office).
        recorded_by: Option<CreditCode>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Withdraw it: the source decision was changed or revoked (行政处罚法 art. 48).
    WithdrawRecord {
        /// Why (not blank).
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Note that the source decision was changed or revoked on `changed_on` (supervisor):
    /// the withdrawal is owed within [`WITHDRAWAL_WORKING_DAYS`] working days.
    NoteSourceDecisionChanged {
        /// The day the source decision was changed or revoked (not in the future).
        changed_on: NaiveDate,
        /// What changed (the new decision's reference, the court's ruling; not blank).
        note: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Flag the owed withdrawal as overdue (the deadline engine).
    FlagWithdrawalOverdue {
        /// When.
        at: DateTime<Utc>,
    },
    /// Remind the recording authority that the withdrawal is due soon (the engine).
    RemindWithdrawal {
        /// When.
        at: DateTime<Utc>,
    },
    /// Recount a provisional withdrawal due day once its year's holiday schedule is
    /// loaded (`probity calendar load`).
    RecomputeProvisionalDue {
        /// When.
        at: DateTime<Utc>,
    },
    /// Correct or complete it after an upheld objection.
    CorrectRecord {
        /// The objection it rests on.
        objection: UpheldObjection,
        /// New summary.
        summary: Option<String>,
        /// New severity (the window is recomputed under the record's own policy).
        severity: Option<Severity>,
        /// New sector.
        sector: Option<Sector>,
        /// New decision date (the window is recomputed).
        decision_date: Option<NaiveDate>,
        /// When.
        at: DateTime<Utc>,
    },
}

impl RecordCommand {
    /// The command's name, for spans and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RecordDishonesty { .. } => "RecordDishonesty",
            Self::WithdrawRecord { .. } => "WithdrawRecord",
            Self::CorrectRecord { .. } => "CorrectRecord",
            Self::NoteSourceDecisionChanged { .. } => "NoteSourceDecisionChanged",
            Self::FlagWithdrawalOverdue { .. } => "FlagWithdrawalOverdue",
            Self::RemindWithdrawal { .. } => "RemindWithdrawal",
            Self::RecomputeProvisionalDue { .. } => "RecomputeProvisionalDue",
        }
    }
}

/// What happened to a dishonesty record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RecordEvent {
    /// 认定: a finding was recorded with its publicity window.
    DishonestyRecorded {
        /// Whom it is about.
        target: RecordTarget,
        /// Where it comes from.
        source: Source,
        /// The source decision's reference.
        source_ref: String,
        /// The source decision's date.
        decision_date: NaiveDate,
        /// 轻微 / 一般 / 严重
        severity: Severity,
        /// The sector list.
        sector: Sector,
        /// What was found.
        summary: String,
        /// The complaint that led to it.
        complaint_id: Option<String>,
        /// Publish although minor.
        publish_minor: bool,
        /// Sector ban length in years.
        ban_years: Option<u32>,
        /// Last day of the sector ban (exclusive end: `decision_date + ban_years`).
        ban_until: Option<NaiveDate>,
        /// The offence a court judgment convicted of (added later: an event stored before
        /// it has none and reads as `None`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        offence: Option<Offence>,
        /// The recording authority (`None`: the credit office).
        recorded_by: Option<CreditCode>,
        /// The window, computed under `policy`.
        publicity: Publicity,
        /// The whole table it was made under (corrections recompute with it).
        policy: PublicityPolicy,
        /// When.
        at: DateTime<Utc>,
    },
    /// 撤销: withdrawn from publication because the source decision changed.
    RecordWithdrawn {
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// 原决定变更: the source decision was changed or revoked; the withdrawal is owed.
    SourceDecisionChanged {
        /// The day it changed.
        changed_on: NaiveDate,
        /// What changed.
        note: String,
        /// Withdraw by the end of this day.
        withdrawal_due: Deadline,
        /// When.
        at: DateTime<Utc>,
    },
    /// 临期提醒: the withdrawal is due soon.
    WithdrawalDueSoon {
        /// The due day.
        due: NaiveDate,
        /// When.
        at: DateTime<Utc>,
    },
    /// The withdrawal's due day passed: flagged to supervisors.
    WithdrawalOverdue {
        /// The missed due day.
        due: NaiveDate,
        /// When.
        at: DateTime<Utc>,
    },
    /// A provisional withdrawal due day recounted on the loaded holiday schedule: final
    /// now.
    WithdrawalDueRecomputed {
        /// The withdrawal due day now (never provisional).
        due: Deadline,
        /// When.
        at: DateTime<Utc>,
    },
    /// 更正/补充 after an upheld objection: the record's fields as they now stand.
    RecordCorrected {
        /// The objection it rests on.
        objection_id: String,
        /// Summary now.
        summary: String,
        /// Severity now.
        severity: Severity,
        /// Sector now.
        sector: Sector,
        /// Decision date now.
        decision_date: NaiveDate,
        /// Ban end now.
        ban_until: Option<NaiveDate>,
        /// Window now (same policy as recorded).
        publicity: Publicity,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for RecordEvent {
    fn event_type(&self) -> String {
        match self {
            Self::DishonestyRecorded { .. } => "DishonestyRecorded",
            Self::RecordWithdrawn { .. } => "RecordWithdrawn",
            Self::RecordCorrected { .. } => "RecordCorrected",
            Self::SourceDecisionChanged { .. } => "SourceDecisionChanged",
            Self::WithdrawalDueSoon { .. } => "WithdrawalDueSoon",
            Self::WithdrawalOverdue { .. } => "WithdrawalOverdue",
            Self::WithdrawalDueRecomputed { .. } => "WithdrawalDueRecomputed",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// Why a record command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordError {
    /// Never recorded (404 `not_found`).
    #[error("record not found")]
    NotFound,
    /// A record with this source and source reference exists (409 `already_exists`).
    #[error("a record of this source decision already exists")]
    AlreadyRecorded,
    /// Not allowed in the record's state (409 `invalid_transition`).
    #[error("cannot {action} a withdrawn record")]
    Withdrawn {
        /// The verb refused.
        action: &'static str,
    },
    /// The objection is not an upheld correct/complete objection of this record
    /// (409 `invalid_transition`).
    #[error("the objection does not allow a correction: {0}")]
    ObjectionNotUpheld(&'static str),
    /// A field failed validation (422 `validation_failed`).
    #[error("{field}: {message}")]
    Invalid {
        /// The API field name.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A change of the source decision is already noted and its withdrawal still owed
    /// (409 `invalid_transition`).
    #[error("a change of the source decision is already noted; the withdrawal is due on {due}")]
    WithdrawalPending {
        /// The withdrawal's due day.
        due: NaiveDate,
    },
    /// The calendar has no data for a needed year (422 `calendar_missing`).
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    /// Flagging or reminding the withdrawal was refused (409 `invalid_transition`).
    #[error(transparent)]
    Deadline(#[from] DecisionDeadlineRefusal),
    /// The withdrawal due day cannot be recounted (final, passed, none owed, or still
    /// provisional) (409 `invalid_transition`).
    #[error("the withdrawal due day is not recounted: {0}")]
    NotRecomputable(&'static str),
}

impl From<(&'static str, String)> for RecordError {
    fn from((field, message): (&'static str, String)) -> Self {
        RecordError::Invalid { field, message }
    }
}

fn ban_until(decision_date: NaiveDate, ban_years: Option<u32>) -> Option<NaiveDate> {
    ban_years.map(|years| add_months(decision_date, years * 12))
}

fn check_ban(
    sector: Sector,
    offence: Option<Offence>,
    ban_years: Option<u32>,
) -> Result<(), RecordError> {
    match (sector.ban_years_with(offence), ban_years) {
        (Some(_), None) if offence == Some(Offence::Bribery) => Err(RecordError::Invalid {
            field: "ban_years",
            message: "a bribery conviction bars bidding for a period: give its years".into(),
        }),
        (_, None) => Ok(()),
        (None, Some(_)) => Err(RecordError::Invalid {
            field: "ban_years",
            message: format!("the {} sector has no ban", sector.as_str()),
        }),
        (Some(range), Some(years)) if !range.contains(&years) => Err(RecordError::Invalid {
            field: "ban_years",
            message: format!(
                "a {} ban lasts {} to {} years",
                sector.as_str(),
                range.start(),
                range.end()
            ),
        }),
        _ => Ok(()),
    }
}

fn check_decision_date(decision_date: NaiveDate, at: DateTime<Utc>) -> Result<(), RecordError> {
    if decision_date > WorkingCalendar::local_date(at) {
        return Err(RecordError::Invalid {
            field: "decision_date",
            message: "must not be in the future".into(),
        });
    }
    Ok(())
}

impl DishonestyRecord {
    /// The withdrawal due day while one is owed (a change noted, not yet withdrawn or
    /// corrected).
    pub fn withdrawal_owed(&self) -> Option<NaiveDate> {
        if self.withdrawn {
            return None;
        }
        self.withdrawal_due
    }

    /// The facts other aggregates are decided on; `None` before it is recorded.
    pub fn facts(&self, record_id: &str) -> Option<RecordFacts> {
        let target = self.target.as_ref()?;
        Some(RecordFacts {
            record_id: record_id.to_string(),
            unit: target.unit().clone(),
            personal: target.personal(),
            severity: self.severity?,
            publicity: self.publicity.clone()?,
            withdrawn: self.withdrawn,
            recorded_by: self.recorded_by.clone(),
        })
    }

    fn decide(
        &self,
        command: RecordCommand,
        services: &IntegrityServices,
    ) -> Result<Vec<RecordEvent>, RecordError> {
        match command {
            RecordCommand::RecordDishonesty {
                target,
                target_registered,
                source,
                source_ref,
                decision_date,
                severity,
                sector,
                summary,
                complaint,
                publish_minor,
                ban_years,
                offence,
                recorded_by,
                at,
            } => {
                if self.target.is_some() {
                    return Err(RecordError::AlreadyRecorded);
                }
                if !target_registered {
                    let field = match target {
                        RecordTarget::Subject { .. } => "subject_code",
                        RecordTarget::CivilServant { .. } => "civil_servant_id",
                    };
                    return Err(RecordError::Invalid {
                        field,
                        message: "no such subject is registered".into(),
                    });
                }
                check_text("source_ref", &source_ref, SOURCE_REF_MAX_CHARS)?;
                check_text("summary", &summary, SUMMARY_MAX_CHARS)?;
                check_decision_date(decision_date, at)?;
                let complaint_id = match complaint {
                    Some((_, false)) => {
                        return Err(RecordError::Invalid {
                            field: "complaint_id",
                            message: "no such complaint".into(),
                        })
                    }
                    Some((id, true)) => Some(id),
                    None if source == Source::Complaint => {
                        return Err(RecordError::Invalid {
                            field: "complaint_id",
                            message: "a record from a complaint names the complaint".into(),
                        })
                    }
                    None => None,
                };
                if publish_minor && severity != Severity::Minor {
                    return Err(RecordError::Invalid {
                        field: "publish",
                        message: "only a minor record's publication is chosen".into(),
                    });
                }
                if publish_minor && target.personal() {
                    return Err(RecordError::Invalid {
                        field: "publish",
                        message: "a civil servant's record is never published".into(),
                    });
                }
                if offence.is_some() && source != Source::CourtJudgment {
                    return Err(RecordError::Invalid {
                        field: "offence",
                        message: "only a court judgment convicts of an offence".into(),
                    });
                }
                if offence.is_some() && target.personal() {
                    return Err(RecordError::Invalid {
                        field: "offence",
                        message: "a restriction bars an organisation, not a civil servant".into(),
                    });
                }
                check_ban(sector, offence, ban_years)?;
                let policy = services.policy.publicity.clone();
                let publicity =
                    policy.window(severity, decision_date, target.personal(), publish_minor);
                Ok(vec![RecordEvent::DishonestyRecorded {
                    target,
                    source,
                    source_ref: source_ref.trim().to_string(),
                    decision_date,
                    severity,
                    sector,
                    summary: summary.trim().to_string(),
                    complaint_id,
                    publish_minor,
                    ban_years,
                    ban_until: ban_until(decision_date, ban_years),
                    offence,
                    recorded_by,
                    publicity,
                    policy,
                    at,
                }])
            }
            RecordCommand::WithdrawRecord { reason, at } => {
                if self.target.is_none() {
                    return Err(RecordError::NotFound);
                }
                if self.withdrawn {
                    return Err(RecordError::Withdrawn { action: "withdraw" });
                }
                check_text("reason", &reason, REASON_MAX_CHARS)?;
                Ok(vec![RecordEvent::RecordWithdrawn {
                    reason: reason.trim().to_string(),
                    at,
                }])
            }
            RecordCommand::NoteSourceDecisionChanged {
                changed_on,
                note,
                at,
            } => {
                let Some(decided) = self.decision_date else {
                    return Err(RecordError::NotFound);
                };
                if self.withdrawn {
                    return Err(RecordError::Withdrawn {
                        action: "note a change of the source decision of",
                    });
                }
                if let Some(due) = self.withdrawal_owed() {
                    return Err(RecordError::WithdrawalPending { due });
                }
                check_text("note", &note, REASON_MAX_CHARS)?;
                if changed_on > WorkingCalendar::local_date(at) {
                    return Err(RecordError::Invalid {
                        field: "changed_on",
                        message: "must not be in the future".into(),
                    });
                }
                if changed_on < decided {
                    return Err(RecordError::Invalid {
                        field: "changed_on",
                        message: "must not be before the source decision".into(),
                    });
                }
                let withdrawal_due = services
                    .calendar
                    .add_working_days(changed_on, WITHDRAWAL_WORKING_DAYS)?;
                Ok(vec![RecordEvent::SourceDecisionChanged {
                    changed_on,
                    note: note.trim().to_string(),
                    withdrawal_due,
                    at,
                }])
            }
            RecordCommand::FlagWithdrawalOverdue { at } => {
                if self.target.is_none() {
                    return Err(RecordError::NotFound);
                }
                let due = check_decision_overdue(
                    self.withdrawal_owed(),
                    &self.withdrawal_flagged,
                    WorkingCalendar::local_date(at),
                )?;
                Ok(vec![RecordEvent::WithdrawalOverdue { due, at }])
            }
            RecordCommand::RemindWithdrawal { at } => {
                if self.target.is_none() {
                    return Err(RecordError::NotFound);
                }
                let due = check_reminder(
                    self.withdrawal_owed(),
                    &self.withdrawal_reminded,
                    WorkingCalendar::local_date(at),
                )?;
                Ok(vec![RecordEvent::WithdrawalDueSoon { due, at }])
            }
            RecordCommand::RecomputeProvisionalDue { at } => {
                if self.target.is_none() {
                    return Err(RecordError::NotFound);
                }
                let (Some(due), Some(from)) = (self.withdrawal_owed(), self.withdrawal_from) else {
                    return Err(RecordError::NotRecomputable("no withdrawal is owed"));
                };
                let due = recount_provisional(
                    &services.calendar,
                    from,
                    WITHDRAWAL_WORKING_DAYS,
                    Deadline {
                        due,
                        provisional: self.withdrawal_provisional,
                    },
                    WorkingCalendar::local_date(at),
                )
                .map_err(RecordError::NotRecomputable)?;
                Ok(vec![RecordEvent::WithdrawalDueRecomputed { due, at }])
            }
            RecordCommand::CorrectRecord {
                objection,
                summary,
                severity,
                sector,
                decision_date,
                at,
            } => {
                let (
                    Some(target),
                    Some(policy),
                    Some(old_severity),
                    Some(old_sector),
                    Some(old_date),
                ) = (
                    self.target.as_ref(),
                    self.policy.as_ref(),
                    self.severity,
                    self.sector,
                    self.decision_date,
                )
                else {
                    return Err(RecordError::NotFound);
                };
                if self.withdrawn {
                    return Err(RecordError::Withdrawn { action: "correct" });
                }
                if !objection.about_this_record {
                    return Err(RecordError::ObjectionNotUpheld(
                        "it is about another record",
                    ));
                }
                if self.corrected_by.contains(&objection.objection_id) {
                    return Err(RecordError::ObjectionNotUpheld("it was already applied"));
                }
                match objection.outcome {
                    Some(ObjectionOutcome::Correct) | Some(ObjectionOutcome::Complete) => {}
                    Some(_) => {
                        return Err(RecordError::ObjectionNotUpheld(
                            "its outcome is not correct or complete",
                        ))
                    }
                    None => return Err(RecordError::ObjectionNotUpheld("it is not upheld")),
                }
                if summary.is_none()
                    && severity.is_none()
                    && sector.is_none()
                    && decision_date.is_none()
                {
                    return Err(RecordError::Invalid {
                        field: "summary",
                        message: "a correction changes at least one field".into(),
                    });
                }
                if let Some(s) = &summary {
                    check_text("summary", s, SUMMARY_MAX_CHARS)?;
                }
                if let Some(d) = decision_date {
                    check_decision_date(d, at)?;
                }
                let severity = severity.unwrap_or(old_severity);
                let sector = sector.unwrap_or(old_sector);
                let ban_years = if sector.ban_years_with(self.offence).is_some() {
                    self.ban_years
                } else {
                    None
                };
                check_ban(sector, self.offence, ban_years)?;
                let decision_date = decision_date.unwrap_or(old_date);
                let publish_minor = self.publish_minor && severity == Severity::Minor;
                let publicity =
                    policy.window(severity, decision_date, target.personal(), publish_minor);
                Ok(vec![RecordEvent::RecordCorrected {
                    objection_id: objection.objection_id,
                    summary: summary
                        .map(|s| s.trim().to_string())
                        .unwrap_or_else(|| self.summary.clone()),
                    severity,
                    sector,
                    decision_date,
                    ban_until: ban_until(decision_date, ban_years),
                    publicity,
                    at,
                }])
            }
        }
    }
}

impl Aggregate for DishonestyRecord {
    const TYPE: &'static str = crate::aggregate_type::RECORD;
    type Command = RecordCommand;
    type Event = RecordEvent;
    type Error = RecordError;
    type Services = IntegrityServices;

    #[tracing::instrument(name = "record.handle", skip_all, fields(command = command.kind()))]
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
            RecordEvent::DishonestyRecorded {
                target,
                decision_date,
                severity,
                sector,
                summary,
                publish_minor,
                ban_years,
                offence,
                recorded_by,
                publicity,
                policy,
                ..
            } => {
                self.target = Some(target);
                self.decision_date = Some(decision_date);
                self.severity = Some(severity);
                self.sector = Some(sector);
                self.summary = summary;
                self.publish_minor = publish_minor;
                self.ban_years = ban_years;
                self.offence = offence;
                self.recorded_by = recorded_by;
                self.publicity = Some(publicity);
                self.policy = Some(policy);
            }
            RecordEvent::RecordWithdrawn { .. } => self.withdrawn = true,
            RecordEvent::SourceDecisionChanged {
                changed_on,
                withdrawal_due,
                ..
            } => {
                self.withdrawal_due = Some(withdrawal_due.due);
                self.withdrawal_from = Some(changed_on);
                self.withdrawal_provisional = withdrawal_due.provisional;
            }
            RecordEvent::WithdrawalDueRecomputed { due, .. } => {
                self.withdrawal_due = Some(due.due);
                self.withdrawal_provisional = due.provisional;
            }
            RecordEvent::WithdrawalDueSoon { due, .. } => self.withdrawal_reminded.push(due),
            RecordEvent::WithdrawalOverdue { due, .. } => self.withdrawal_flagged.push(due),
            RecordEvent::RecordCorrected {
                objection_id,
                summary,
                severity,
                sector,
                decision_date,
                publicity,
                ..
            } => {
                self.corrected_by.push(objection_id);
                // A correction answers a changed source decision as a withdrawal does.
                self.withdrawal_due = None;
                self.summary = summary;
                self.severity = Some(severity);
                if sector.ban_years_with(self.offence).is_none() {
                    self.ban_years = None;
                }
                self.sector = Some(sector);
                self.decision_date = Some(decision_date);
                self.publicity = Some(publicity);
            }
        }
    }
}

/// The id of the record of one source decision: the same source and reference always
/// give the same id, so recording it twice (a re-run import, a retried request) is
/// refused as `AlreadyRecorded` instead of making a duplicate.
pub fn record_id_for(source: Source, source_ref: &str) -> String {
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6b1f_43a2_9d1e_4c57_a0f3_5e2b_8c11_d0a7);
    uuid::Uuid::new_v5(
        &NAMESPACE,
        format!("{}:{}", source.as_str(), source_ref.trim()).as_bytes(),
    )
    .to_string()
}
