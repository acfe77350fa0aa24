//! The debt warning aggregate (地方政府债务风险预警, §13 of the city's opinions): one per
//! government, keyed by its credit code. A warning is raised when the government's debt
//! records cross the configured thresholds ([`DebtWarningPolicy`]) and cleared when they
//! no longer do. The application re-evaluates a subject with [`reasons`] after every
//! change of its debt records or their rectifications and after the clock moves, and
//! raises or clears accordingly; the events travel on the bus like every event, so other
//! systems (the finance bureau's debt platform) can subscribe.

#[cfg(test)]
mod tests;

use chrono::{DateTime, Months, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::CreditCode;
use crate::integrity::IntegrityServices;

/// The thresholds of a debt warning (`[integrity.debt_warning]` in the policy file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DebtWarningPolicy {
    /// A government with at least this many debt records decided in the last 12 months
    /// is warned (default 2; 0 turns the count rule off).
    pub records_in_12_months: u32,
    /// A government with a rectification of a debt record past its due day is warned
    /// (default true).
    pub overdue_rectification: bool,
}

impl Default for DebtWarningPolicy {
    fn default() -> Self {
        Self {
            records_in_12_months: 2,
            overdue_rectification: true,
        }
    }
}

/// Why a government is warned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DebtWarningReason {
    /// At least `threshold` debt records decided in the 12 months up to the evaluation day.
    RecordsInWindow {
        /// How many.
        count: u32,
        /// The configured threshold.
        threshold: u32,
        /// The first day of the window (12 months before the evaluation day, plus one).
        window_start: NaiveDate,
        /// The records counted, ordered by id.
        record_ids: Vec<String>,
    },
    /// A rectification ordered on a debt record is past its due day and still owed.
    OverdueRectification {
        /// The rectification.
        rectification_id: String,
        /// The debt record it rectifies.
        record_id: String,
        /// Its due day.
        due: NaiveDate,
    },
}

/// A debt record of a government, as the evaluation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebtRecordFact {
    /// The record id.
    pub id: String,
    /// Its decision date.
    pub decision_date: NaiveDate,
    /// Still in force (not withdrawn).
    pub active: bool,
}

/// A rectification of a debt record, as the evaluation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebtRectificationFact {
    /// The rectification id.
    pub id: String,
    /// The debt record it rectifies.
    pub record_id: String,
    /// Its due day.
    pub due: NaiveDate,
    /// The unit still owes it (ordered, explained or rejected; not reported or verified).
    pub owed: bool,
}

/// The first day of the 12-month window ending on `today`: a record decided on this day
/// or later is counted; one decided 12 months before `today` or earlier has left it.
pub fn window_start(today: NaiveDate) -> NaiveDate {
    today
        .checked_sub_months(Months::new(12))
        .and_then(|d| d.succ_opt())
        .unwrap_or(NaiveDate::MIN)
}

/// Why a government is warned on `today`, given its debt records and their
/// rectifications; empty when it is not. Deterministic: the same facts and day give the
/// same reasons in the same order (the count first, then the overdue rectifications by
/// id). A rectification is overdue the day after its due day ([`crate::is_overdue`]) while
/// the unit still owes it.
pub fn reasons(
    policy: &DebtWarningPolicy,
    today: NaiveDate,
    records: &[DebtRecordFact],
    rectifications: &[DebtRectificationFact],
) -> Vec<DebtWarningReason> {
    let mut out = Vec::new();
    let start = window_start(today);
    let mut in_window: Vec<String> = records
        .iter()
        .filter(|r| r.active && start <= r.decision_date && r.decision_date <= today)
        .map(|r| r.id.clone())
        .collect();
    in_window.sort();
    let count = in_window.len() as u32;
    if policy.records_in_12_months > 0 && count >= policy.records_in_12_months {
        out.push(DebtWarningReason::RecordsInWindow {
            count,
            threshold: policy.records_in_12_months,
            window_start: start,
            record_ids: in_window,
        });
    }
    if policy.overdue_rectification {
        let active: Vec<&str> = records
            .iter()
            .filter(|r| r.active)
            .map(|r| r.id.as_str())
            .collect();
        let mut overdue: Vec<&DebtRectificationFact> = rectifications
            .iter()
            .filter(|r| {
                r.owed && crate::is_overdue(r.due, today) && active.contains(&r.record_id.as_str())
            })
            .collect();
        overdue.sort_by(|a, b| a.id.cmp(&b.id));
        out.extend(
            overdue
                .into_iter()
                .map(|r| DebtWarningReason::OverdueRectification {
                    rectification_id: r.id.clone(),
                    record_id: r.record_id.clone(),
                    due: r.due,
                }),
        );
    }
    out
}

/// Where a government's warning stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DebtWarningStatus {
    /// Never raised.
    #[default]
    None,
    /// Raised and not cleared.
    Raised,
    /// Cleared (may be raised again).
    Cleared,
}

impl DebtWarningStatus {
    /// The contract name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Raised => "raised",
            Self::Cleared => "cleared",
        }
    }
}

impl std::fmt::Display for DebtWarningStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A government's debt warning as its events made it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DebtWarning {
    /// Where it stands.
    pub status: DebtWarningStatus,
    /// The government warned.
    pub subject_code: Option<CreditCode>,
    /// Why, while raised.
    pub reasons: Vec<DebtWarningReason>,
}

/// What can be asked of a debt warning (by the application's re-evaluation only).
#[derive(Debug, Clone, PartialEq)]
pub enum DebtWarningCommand {
    /// Raise the warning of a government for these reasons.
    RaiseDebtWarning {
        /// The government.
        subject_code: CreditCode,
        /// Why (at least one).
        reasons: Vec<DebtWarningReason>,
        /// The day evaluated.
        on: NaiveDate,
        /// When.
        at: DateTime<Utc>,
    },
    /// Clear the warning: its reasons no longer hold.
    ClearDebtWarning {
        /// The day evaluated.
        on: NaiveDate,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DebtWarningCommand {
    /// The command's name, for spans and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RaiseDebtWarning { .. } => "RaiseDebtWarning",
            Self::ClearDebtWarning { .. } => "ClearDebtWarning",
        }
    }
}

/// What happened to a debt warning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DebtWarningEvent {
    /// 债务风险预警: the government's debt records crossed a threshold.
    DebtWarningRaised {
        /// The government.
        subject_code: CreditCode,
        /// Why.
        reasons: Vec<DebtWarningReason>,
        /// The day evaluated.
        on: NaiveDate,
        /// When.
        at: DateTime<Utc>,
    },
    /// 预警解除: no threshold is crossed any more.
    DebtWarningCleared {
        /// The government.
        subject_code: CreditCode,
        /// The day evaluated.
        on: NaiveDate,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for DebtWarningEvent {
    fn event_type(&self) -> String {
        match self {
            Self::DebtWarningRaised { .. } => "DebtWarningRaised",
            Self::DebtWarningCleared { .. } => "DebtWarningCleared",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// Why a debt warning command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DebtWarningError {
    /// Raising a warning that is raised (409 `invalid_transition`).
    #[error("the debt warning is already raised")]
    AlreadyRaised,
    /// Clearing a warning that is not raised (409 `invalid_transition`).
    #[error("the debt warning is not raised")]
    NotRaised,
    /// Raising with no reason (422 `validation_failed`).
    #[error("reasons: a debt warning is raised for at least one reason")]
    NoReasons,
    /// Raising the warning of another government under this id (422 `validation_failed`).
    #[error("subject_code: the warning belongs to another government")]
    OtherSubject,
}

impl DebtWarning {
    fn decide(
        &self,
        command: DebtWarningCommand,
    ) -> Result<Vec<DebtWarningEvent>, DebtWarningError> {
        match command {
            DebtWarningCommand::RaiseDebtWarning {
                subject_code,
                reasons,
                on,
                at,
            } => {
                if self.status == DebtWarningStatus::Raised {
                    return Err(DebtWarningError::AlreadyRaised);
                }
                if self
                    .subject_code
                    .as_ref()
                    .is_some_and(|s| *s != subject_code)
                {
                    return Err(DebtWarningError::OtherSubject);
                }
                if reasons.is_empty() {
                    return Err(DebtWarningError::NoReasons);
                }
                Ok(vec![DebtWarningEvent::DebtWarningRaised {
                    subject_code,
                    reasons,
                    on,
                    at,
                }])
            }
            DebtWarningCommand::ClearDebtWarning { on, at } => {
                match (self.status, self.subject_code.clone()) {
                    (DebtWarningStatus::Raised, Some(subject_code)) => {
                        Ok(vec![DebtWarningEvent::DebtWarningCleared {
                            subject_code,
                            on,
                            at,
                        }])
                    }
                    _ => Err(DebtWarningError::NotRaised),
                }
            }
        }
    }
}

impl Aggregate for DebtWarning {
    const TYPE: &'static str = crate::aggregate_type::DEBT_WARNING;
    type Command = DebtWarningCommand;
    type Event = DebtWarningEvent;
    type Error = DebtWarningError;
    type Services = IntegrityServices;

    #[tracing::instrument(name = "debt_warning.handle", skip_all, fields(command = command.kind(), status = %self.status))]
    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            DebtWarningEvent::DebtWarningRaised {
                subject_code,
                reasons,
                ..
            } => {
                self.status = DebtWarningStatus::Raised;
                self.subject_code = Some(subject_code);
                self.reasons = reasons;
            }
            DebtWarningEvent::DebtWarningCleared { .. } => {
                self.status = DebtWarningStatus::Cleared;
                self.reasons.clear();
            }
        }
    }
}
