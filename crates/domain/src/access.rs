//! The access log: every read of personal data is itself an event, kept in an aggregate
//! of its own per case so a read never bumps the case's version.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AccessCommand {
    /// Record that `actor` read the personal data of `case_type`/`case_id`.
    RecordPersonalDataRead {
        case_type: String,
        case_id: String,
        actor: String,
        role: String,
        purpose: String,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AccessEvent {
    PersonalDataRead {
        case_type: String,
        case_id: String,
        actor: String,
        role: String,
        purpose: String,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for AccessEvent {
    fn event_type(&self) -> String {
        match self {
            Self::PersonalDataRead { .. } => "PersonalDataRead".to_string(),
        }
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AccessError {
    #[error("{0}")]
    Invalid(String),
}

/// The access log of one case: how many reads it holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AccessLog {
    pub reads: u64,
}

impl Aggregate for AccessLog {
    const TYPE: &'static str = "access_log";
    type Command = AccessCommand;
    type Event = AccessEvent;
    type Error = AccessError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        match command {
            AccessCommand::RecordPersonalDataRead {
                case_type,
                case_id,
                actor,
                role,
                purpose,
                at,
            } => {
                if actor.is_empty() {
                    return Err(AccessError::Invalid("actor is required".into()));
                }
                sink.write(
                    AccessEvent::PersonalDataRead {
                        case_type,
                        case_id,
                        actor,
                        role,
                        purpose,
                        at,
                    },
                    self,
                )
                .await;
                Ok(())
            }
        }
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            AccessEvent::PersonalDataRead { .. } => self.reads += 1,
        }
    }
}
