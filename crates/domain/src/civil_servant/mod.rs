//! The civil-servant aggregate (公务员诚信档案的主体), keyed by an opaque id. The name and
//! the identity number arrive sealed with a key of the person's own (the application
//! encrypts them and keeps a keyed-hash index outside the log); the domain never sees them
//! in the clear and nothing here is ever public.

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::CreditCode;
use crate::integrity::IntegrityServices;
use crate::reporter::SealedReporter;
use crate::wire::Redacted;

/// The sealed personal block of a civil servant (name and identity number), the same
/// shape as a reporter's: `key_id` + `ciphertext`, masked structurally on the bus.
pub type SealedPerson = SealedReporter;

/// A civil servant as its events made them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CivilServant {
    /// The unit they serve in, once registered.
    pub unit_code: Option<CreditCode>,
    /// The key sealing their data.
    pub key_id: Option<String>,
    /// Their personal data was erased (key destroyed).
    pub erased: bool,
}

/// What can be asked of a civil servant's aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum CivilServantCommand {
    /// Register a civil servant (admin).
    RegisterCivilServant {
        /// Name and identity number, sealed by the application.
        person: SealedPerson,
        /// The unit they serve in (must be a registered subject: the application checks).
        unit_code: CreditCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// Erase their personal data (the key is destroyed after the event is stored).
    ErasePersonalData {
        /// Why (not blank).
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
}

/// What happened to a civil servant's aggregate.
///
/// `P` is the form of the sealed personal block: [`SealedPerson`] as stored,
/// [`Redacted`] on the wire ([`CivilServantWireEvent`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CivilServantEvent<P = SealedPerson> {
    /// Registered, with their data sealed.
    CivilServantRegistered {
        /// Name and identity number, sealed.
        person: P,
        /// The unit they serve in.
        unit_code: CreditCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// Their personal data was erased (crypto-shredding).
    CivilServantDataErased {
        /// The destroyed key.
        key_id: String,
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
}

/// A civil-servant event as it leaves the store: the personal block redacted to its key
/// id (see [`crate::wire`]).
pub type CivilServantWireEvent = CivilServantEvent<Redacted>;

impl DomainEvent for CivilServantEvent {
    fn event_type(&self) -> String {
        match self {
            Self::CivilServantRegistered { .. } => "CivilServantRegistered",
            Self::CivilServantDataErased { .. } => "CivilServantDataErased",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// Why a civil-servant command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CivilServantError {
    /// The id is already used (409 `already_exists`).
    #[error("civil servant already registered")]
    AlreadyRegistered,
    /// Never registered (404 `not_found`).
    #[error("civil servant not found")]
    NotFound,
    /// Already erased (409 `invalid_transition`).
    #[error("the civil servant's data is already erased")]
    AlreadyErased,
    /// A field failed validation (422 `validation_failed`).
    #[error("{field}: {message}")]
    Invalid {
        /// The API field name.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl CivilServant {
    fn decide(
        &self,
        command: CivilServantCommand,
    ) -> Result<Vec<CivilServantEvent>, CivilServantError> {
        match command {
            CivilServantCommand::RegisterCivilServant {
                person,
                unit_code,
                at,
            } => {
                if self.unit_code.is_some() {
                    return Err(CivilServantError::AlreadyRegistered);
                }
                if person.key_id.is_empty() || person.ciphertext.is_empty() {
                    return Err(CivilServantError::Invalid {
                        field: "identity_number",
                        message: "personal data must arrive sealed".into(),
                    });
                }
                Ok(vec![CivilServantEvent::CivilServantRegistered {
                    person,
                    unit_code,
                    at,
                }])
            }
            CivilServantCommand::ErasePersonalData { reason, at } => {
                let Some(key_id) = self.key_id.clone() else {
                    return Err(CivilServantError::NotFound);
                };
                if self.erased {
                    return Err(CivilServantError::AlreadyErased);
                }
                if reason.trim().is_empty() {
                    return Err(CivilServantError::Invalid {
                        field: "reason",
                        message: "must not be blank".into(),
                    });
                }
                Ok(vec![CivilServantEvent::CivilServantDataErased {
                    key_id,
                    reason: reason.trim().to_string(),
                    at,
                }])
            }
        }
    }
}

impl Aggregate for CivilServant {
    const TYPE: &'static str = crate::aggregate_type::CIVIL_SERVANT;
    type Command = CivilServantCommand;
    type Event = CivilServantEvent;
    type Error = CivilServantError;
    type Services = IntegrityServices;

    #[tracing::instrument(name = "civil_servant.handle", skip_all)]
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
            CivilServantEvent::CivilServantRegistered {
                person, unit_code, ..
            } => {
                self.unit_code = Some(unit_code);
                self.key_id = Some(person.key_id);
            }
            CivilServantEvent::CivilServantDataErased { .. } => self.erased = true,
        }
    }
}
