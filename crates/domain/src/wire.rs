//! The wire form of events: what leaves the event store — on the bus, in history reads,
//! to rebuild and to every read-model fold.
//!
//! Personal data only ever enters an event sealed ([`SealedReporter`]: `key_id` +
//! `ciphertext`). Outside the store not even the ciphertext travels: each sealed block is
//! replaced by a [`Redacted`] marker that keeps only the key id. The wire form of an event
//! is the same event with its personal type parameter set to [`Redacted`]
//! ([`crate::complaint::ComplaintWireEvent`], [`crate::civil_servant::CivilServantWireEvent`]);
//! an aggregate without personal data travels as it is stored. Readers decode the wire
//! form as its own type; they never patch JSON to make it decode.
//!
//! The wire form has its own version, [`WIRE_SCHEMA`], carried as the CloudEvents
//! `dataschema` of every bus message. It changes when the redaction changes, independently
//! of the events' own `event_version`s.
//!
//! [`SealedReporter`]: crate::reporter::SealedReporter

use serde::{Deserialize, Serialize};

/// The version of the wire form (the CloudEvents `dataschema` of every bus message).
pub const WIRE_SCHEMA: &str = "urn:probity:wire:v1";

/// A sealed personal block as it travels outside the store: the id of the key that
/// sealed it, and the mark that something sealed was there. Serialised as
/// `{"key_id": "…", "sealed": true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redacted {
    /// Id of the data key that sealed the block (its erasure is visible by this id).
    pub key_id: Option<String>,
    /// Always `true`.
    pub sealed: bool,
}

impl Redacted {
    /// The marker for a block sealed with `key_id`.
    pub fn of(key_id: impl Into<String>) -> Self {
        Self {
            key_id: Some(key_id.into()),
            sealed: true,
        }
    }
}
