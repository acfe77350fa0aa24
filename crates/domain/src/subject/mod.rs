//! The subject aggregate (信用主体): a government, department, public institution or
//! enterprise, keyed by its unified social credit code, with its parent (a department
//! belongs to a government) for assessment roll-ups.

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::CreditCode;
use crate::integrity::{check_text, IntegrityServices};

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
}

impl DomainEvent for SubjectEvent {
    fn event_type(&self) -> String {
        match self {
            SubjectEvent::SubjectRegistered { .. } => "SubjectRegistered".to_string(),
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
}

impl From<(&'static str, String)> for SubjectError {
    fn from((field, message): (&'static str, String)) -> Self {
        SubjectError::Invalid { field, message }
    }
}

impl Subject {
    fn decide(&self, command: SubjectCommand) -> Result<Vec<SubjectEvent>, SubjectError> {
        match command {
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
        }
    }
}
