//! One projection abstraction: a read model is a typed fold over one aggregate's events
//! in their wire form ([`probity_domain::wire`]), written once and used by the
//! projectors, by rebuild, by `as_of` reads and by the response to a command.
//!
//! - A view implements [`Fold`]: the aggregate type it folds, the wire event it reads, and
//!   one step `apply(view, id, sequence, event)` with no I/O.
//! - Events read from the bus are already in wire form; events read from the store (a
//!   history, a rebuild page, a command's new events) are taken to it by
//!   [`StoredEvent::to_wire`] first, as the relay does before publishing.
//! - A payload that is not in wire form (a sealed personal block with its ciphertext)
//!   does not decode: the wire types refuse it rather than a reader patching it.

use probity_store::StoredEvent;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Why a wire payload could not be folded.
#[derive(Debug, thiserror::Error)]
#[error("undecodable {aggregate_type} event: {source}")]
pub struct DecodeError {
    /// The aggregate type of the event.
    pub aggregate_type: String,
    /// What serde said.
    #[source]
    pub source: serde_json::Error,
}

/// Decodes a payload in wire form as the wire event `E` of `aggregate_type`.
pub fn decode_wire<E: DeserializeOwned>(
    aggregate_type: &str,
    payload: &Value,
) -> Result<E, DecodeError> {
    E::deserialize(payload).map_err(|source| DecodeError {
        aggregate_type: aggregate_type.to_string(),
        source,
    })
}

/// A read model folded from one aggregate's events in wire form.
pub trait Fold: Sized {
    /// The aggregate type whose events it folds.
    const AGGREGATE_TYPE: &'static str;
    /// The aggregate's event in wire form.
    type Event: DeserializeOwned;

    /// One step: the view after `event`, the aggregate's `sequence`-th. An event that
    /// creates nothing on no view leaves none.
    fn apply(view: Option<Self>, id: &str, sequence: u64, event: &Self::Event) -> Option<Self>;

    /// One step from a payload in wire form.
    fn apply_wire(
        view: Option<Self>,
        id: &str,
        sequence: u64,
        payload: &Value,
    ) -> Result<Option<Self>, DecodeError> {
        let event = decode_wire::<Self::Event>(Self::AGGREGATE_TYPE, payload)?;
        Ok(Self::apply(view, id, sequence, &event))
    }

    /// Folds events read from the store (an aggregate's history, up to an `as_of` or
    /// after a command) from nothing, each taken to its wire form first; events of other
    /// aggregate types are skipped.
    fn from_stored(id: &str, events: &[StoredEvent]) -> Result<Option<Self>, DecodeError> {
        let mut view = None;
        for stored in events
            .iter()
            .filter(|e| e.aggregate_type == Self::AGGREGATE_TYPE)
        {
            view = Self::apply_wire(
                view,
                id,
                stored.sequence.max(0) as u64,
                &StoredEvent::wire_payload(&stored.payload),
            )?;
        }
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrity::{CivilServantView, CIVIL_SERVANT_TYPE};
    use crate::ComplaintView;
    use chrono::{TimeZone, Utc};
    use probity_domain::civil_servant::{CivilServantEvent, CivilServantWireEvent};
    use probity_domain::complaint::{Category, Channel, ComplaintEvent, ComplaintWireEvent};
    use probity_domain::reporter::SealedReporter;
    use probity_domain::wire::Redacted;
    use probity_domain::CreditCode;
    use serde_json::json;

    fn sealed(key_id: &str) -> SealedReporter {
        SealedReporter {
            key_id: key_id.into(),
            ciphertext: "bm9uY2UgYW5kIGNpcGhlcnRleHQ=".into(),
        }
    }

    fn stored(aggregate_type: &str, sequence: i64, payload: Value) -> StoredEvent {
        StoredEvent {
            position: sequence,
            tx_id: sequence,
            aggregate_type: aggregate_type.into(),
            aggregate_id: "a-1".into(),
            sequence,
            event_type: "x".into(),
            event_version: "1".into(),
            payload,
            metadata: json!({"actor": "token:t"}),
            recorded_at: Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap(),
        }
    }

    fn filing(reporter: Option<SealedReporter>) -> ComplaintEvent {
        ComplaintEvent::ComplaintFiled {
            category: Category::Complaint,
            channel: Channel::Hotline,
            subject_code: None,
            title: "t".into(),
            description: "d".into(),
            anonymous: reporter.is_none(),
            reporter,
            received_at: Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap(),
        }
    }

    #[test]
    fn a_named_filing_in_wire_form_is_its_own_type_with_only_the_key_id() {
        let payload = serde_json::to_value(filing(Some(sealed("k-1")))).unwrap();
        let wire: ComplaintWireEvent =
            decode_wire("complaint", &StoredEvent::wire_payload(&payload)).unwrap();
        let ComplaintEvent::ComplaintFiled { reporter, .. } = wire else {
            panic!("a filing stays a filing on the wire");
        };
        assert_eq!(reporter, Some(Redacted::of("k-1")));
    }

    #[test]
    fn an_anonymous_filing_is_the_same_on_the_wire() {
        let payload = serde_json::to_value(filing(None)).unwrap();
        assert_eq!(*StoredEvent::wire_payload(&payload), payload);
        assert!(decode_wire::<ComplaintWireEvent>("complaint", &payload).is_ok());
    }

    #[test]
    fn a_civil_servants_registration_travels_without_the_ciphertext() {
        let event = CivilServantEvent::CivilServantRegistered {
            person: sealed("k-9"),
            unit_code: CreditCode::parse("91330100716105852F").unwrap(),
            at: Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap(),
        };
        let payload = serde_json::to_value(&event).unwrap();
        let wire = StoredEvent::wire_payload(&payload);
        assert!(!wire.to_string().contains("ciphertext"));
        let decoded: CivilServantWireEvent = decode_wire(CIVIL_SERVANT_TYPE, &wire).unwrap();
        assert!(matches!(
            decoded,
            CivilServantEvent::CivilServantRegistered { ref person, .. } if *person == Redacted::of("k-9")
        ));
        assert!(
            decode_wire::<CivilServantWireEvent>(CIVIL_SERVANT_TYPE, &payload).is_err(),
            "the stored form is not the wire form"
        );
    }

    #[test]
    fn a_view_folded_from_the_store_equals_the_view_folded_from_the_bus() {
        let events = vec![
            stored(
                "complaint",
                1,
                serde_json::to_value(filing(Some(sealed("k-1")))).unwrap(),
            ),
            stored(
                "complaint",
                2,
                serde_json::to_value(ComplaintEvent::<SealedReporter>::ComplaintAccepted {
                    at: Utc.with_ymd_and_hms(2026, 3, 2, 2, 0, 0).unwrap(),
                })
                .unwrap(),
            ),
        ];
        let from_store = ComplaintView::from_stored("a-1", &events).unwrap().unwrap();
        let mut from_bus = None;
        for e in events.iter().map(StoredEvent::to_wire) {
            from_bus =
                <ComplaintView as Fold>::apply_wire(from_bus, "a-1", e.sequence as u64, &e.payload)
                    .unwrap();
        }
        assert_eq!(Some(from_store.clone()), from_bus);
        assert_eq!(from_store.status, "accepted");
        assert_eq!(from_store.version, 2);
    }

    #[test]
    fn a_fold_skips_other_aggregates_and_names_the_type_it_could_not_decode() {
        let events = vec![
            stored("record", 1, json!({"Whatever": {}})),
            stored(CIVIL_SERVANT_TYPE, 1, json!({"Nope": {}})),
        ];
        let err = CivilServantView::from_stored("a-1", &events).unwrap_err();
        assert_eq!(err.aggregate_type, CIVIL_SERVANT_TYPE);
        assert!(CivilServantView::from_stored("a-1", &events[..1])
            .unwrap()
            .is_none());
    }
}
