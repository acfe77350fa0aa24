//! The subject aggregate (信用主体): a government, department, public institution or
//! enterprise, keyed by its unified social credit code, with its parent (a department
//! belongs to a government) for assessment roll-ups.

#[cfg(test)]
mod tests;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::calendar::WorkingCalendar;
use crate::ids::CreditCode;
use crate::integrity::{check_text, IntegrityServices};
use crate::repair::frequency_limit;

/// Longest subject name, in characters.
pub const NAME_MAX_CHARS: usize = 200;

/// What kind of body a subject is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// 政府 (a people's government at any level).
    Government,
    /// 政府部门
    Department,
    /// 事业单位
    PublicInstitution,
    /// 企业
    Enterprise,
}

impl SubjectKind {
    /// The contract name.
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Government => "government",
            SubjectKind::Department => "department",
            SubjectKind::PublicInstitution => "public_institution",
            SubjectKind::Enterprise => "enterprise",
        }
    }
}

/// A subject as its events made it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// The credit code, once registered.
    pub code: Option<CreditCode>,
    /// Its kind.
    pub kind: Option<SubjectKind>,
    /// Its parent government.
    pub parent_code: Option<CreditCode>,
    /// The repairs of its records approved through this subject (repair id, approval
    /// day), revoked ones included: the ledger the frequency limits are decided on.
    #[serde(default)]
    pub repair_approvals: Vec<(String, NaiveDate)>,
}

/// What can be asked of a subject.
#[derive(Debug, Clone, PartialEq)]
pub enum SubjectCommand {
    /// Register a subject (admin).
    RegisterSubject {
        /// Its unified social credit code (also the aggregate id).
        code: CreditCode,
        /// Its registered name.
        name: String,
        /// What kind of body it is.
        kind: SubjectKind,
        /// The government it belongs to, with that subject's kind as the application
        /// read it (`None` kind: the parent is not registered).
        parent: Option<(CreditCode, Option<SubjectKind>)>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Count the approval of repair `repair_id` of one of the subject's records against
    /// the frequency limits (domain-rules §7), before the repair itself is approved. The
    /// subject's own ledger and `earlier` (approval days of repairs approved before the
    /// ledger existed, revoked ones included) are what the limits are decided on; two
    /// approvals at once append here one after the other, so never both beyond a limit.
    CountRepairApproval {
        /// The repair to approve.
        repair_id: String,
        /// Approval days of the unit's earlier repairs not in the ledger.
        earlier: Vec<NaiveDate>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Take back a counted approval whose repair was not approved after all (it was
    /// decided otherwise in between).
    UncountRepairApproval {
        /// The repair whose approval was counted.
        repair_id: String,
        /// When.
        at: DateTime<Utc>,
    },
}

/// What happened to a subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SubjectEvent {
    /// A subject was registered.
    SubjectRegistered {
        /// Its credit code.
        code: CreditCode,
        /// Its name.
        name: String,
        /// Its kind.
        kind: SubjectKind,
        /// The government it belongs to.
        parent_code: Option<CreditCode>,
        /// When.
        at: DateTime<Utc>,
    },
    /// The approval of one of its records' repairs was counted against the frequency
    /// limits (it counts even if the repair is later revoked).
    RepairApprovalCounted {
        /// The repair approved.
        repair_id: String,
        /// The approval day (Asia/Shanghai).
        approved_on: NaiveDate,
        /// When.
        at: DateTime<Utc>,
    },
    /// A counted approval was taken back: the repair was not approved after all.
    RepairApprovalUncounted {
        /// The repair.
        repair_id: String,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for SubjectEvent {
    fn event_type(&self) -> String {
        match self {
            SubjectEvent::SubjectRegistered { .. } => "SubjectRegistered".to_string(),
            SubjectEvent::RepairApprovalCounted { .. } => "RepairApprovalCounted".to_string(),
            SubjectEvent::RepairApprovalUncounted { .. } => "RepairApprovalUncounted".to_string(),
        }
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// Why a subject command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SubjectError {
    /// The code is already registered (409 `already_exists`).
    #[error("subject already registered")]
    AlreadyRegistered,
    /// A field failed validation (422 `validation_failed`).
    #[error("{field}: {message}")]
    Invalid {
        /// The API field name.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The subject is not registered (404 `not_found`).
    #[error("subject not found")]
    NotFound,
    /// The repair's approval would break a frequency limit (409 `repair_not_eligible`),
    /// with the first day it would not.
    #[error("repair not eligible: {reason}")]
    RepairNotEligible {
        /// Why.
        reason: String,
        /// First day an approval can succeed.
        possible_from: Option<NaiveDate>,
    },
    /// The repair's approval is already counted (409 `invalid_transition`).
    #[error("the approval of repair {repair_id} is already counted")]
    AlreadyCounted {
        /// The repair.
        repair_id: String,
    },
    /// No approval of this repair is counted (409 `invalid_transition`).
    #[error("no approval of repair {repair_id} is counted")]
    NotCounted {
        /// The repair.
        repair_id: String,
    },
}

impl From<(&'static str, String)> for SubjectError {
    fn from((field, message): (&'static str, String)) -> Self {
        SubjectError::Invalid { field, message }
    }
}

impl Subject {
    fn decide(
        &self,
        command: SubjectCommand,
        services: &IntegrityServices,
    ) -> Result<Vec<SubjectEvent>, SubjectError> {
        match command {
            SubjectCommand::CountRepairApproval {
                repair_id,
                earlier,
                at,
            } => {
                if self.code.is_none() {
                    return Err(SubjectError::NotFound);
                }
                if self.repair_approvals.iter().any(|(id, _)| *id == repair_id) {
                    return Err(SubjectError::AlreadyCounted { repair_id });
                }
                let today = WorkingCalendar::local_date(at);
                let mut approved_on = earlier;
                approved_on.extend(self.repair_approvals.iter().map(|(_, day)| *day));
                if let Some((next, reason)) =
                    frequency_limit(&approved_on, &services.policy.repair, today)
                {
                    if today < next {
                        return Err(SubjectError::RepairNotEligible {
                            reason: reason.to_string(),
                            possible_from: Some(next),
                        });
                    }
                }
                Ok(vec![SubjectEvent::RepairApprovalCounted {
                    repair_id,
                    approved_on: today,
                    at,
                }])
            }
            SubjectCommand::UncountRepairApproval { repair_id, at } => {
                if self.code.is_none() {
                    return Err(SubjectError::NotFound);
                }
                if !self.repair_approvals.iter().any(|(id, _)| *id == repair_id) {
                    return Err(SubjectError::NotCounted { repair_id });
                }
                Ok(vec![SubjectEvent::RepairApprovalUncounted {
                    repair_id,
                    at,
                }])
            }
            SubjectCommand::RegisterSubject {
                code,
                name,
                kind,
                parent,
                at,
            } => {
                if self.code.is_some() {
                    return Err(SubjectError::AlreadyRegistered);
                }
                check_text("name", &name, NAME_MAX_CHARS)?;
                let parent_code = match parent {
                    None => None,
                    Some((parent_code, parent_kind)) => {
                        if parent_code == code {
                            return Err(SubjectError::Invalid {
                                field: "parent_code",
                                message: "a subject cannot be its own parent".into(),
                            });
                        }
                        match parent_kind {
                            None => {
                                return Err(SubjectError::Invalid {
                                    field: "parent_code",
                                    message: "no subject is registered with this code".into(),
                                })
                            }
                            Some(SubjectKind::Government) => Some(parent_code),
                            Some(_) => {
                                return Err(SubjectError::Invalid {
                                    field: "parent_code",
                                    message: "the parent must be a government".into(),
                                })
                            }
                        }
                    }
                };
                Ok(vec![SubjectEvent::SubjectRegistered {
                    code,
                    name: name.trim().to_string(),
                    kind,
                    parent_code,
                    at,
                }])
            }
        }
    }
}

impl Aggregate for Subject {
    const TYPE: &'static str = crate::aggregate_type::SUBJECT;
    type Command = SubjectCommand;
    type Event = SubjectEvent;
    type Error = SubjectError;
    type Services = IntegrityServices;

    #[tracing::instrument(name = "subject.handle", skip_all)]
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
            SubjectEvent::SubjectRegistered {
                code,
                kind,
                parent_code,
                ..
            } => {
                self.code = Some(code);
                self.kind = Some(kind);
                self.parent_code = parent_code;
            }
            SubjectEvent::RepairApprovalCounted {
                repair_id,
                approved_on,
                ..
            } => self.repair_approvals.push((repair_id, approved_on)),
            SubjectEvent::RepairApprovalUncounted { repair_id, .. } => {
                self.repair_approvals.retain(|(id, _)| *id != repair_id)
            }
        }
    }
}
