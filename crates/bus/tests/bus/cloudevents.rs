//! The CloudEvents mapping: round trip, redaction, and what the relay actually puts on
//! the wire.

use probity_bus::cloudevent::{decode, encode};
use probity_bus::{message_id, CloudEvent};
use probity_store::{Checkpoint, EventLog, StoredEvent};
use serde_json::json;

use crate::helpers::*;

fn sealed_event() -> StoredEvent {
    StoredEvent {
        position: 7,
        tx_id: 1234,
        aggregate_type: "complaint".into(),
        aggregate_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
        sequence: 1,
        event_type: "ComplaintReceived".into(),
        event_version: "1".into(),
        payload: json!({
            "summary": "late permit",
            "reporter": {"key_id": "k-1", "nonce": "bm9uY2U=", "ciphertext": "c2VjcmV0IG5hbWU="}
        }),
        metadata: json!({"actor": "token:intake-1", "role": "intake"}),
        recorded_at: "2026-11-29T07:00:00.5Z".parse().unwrap(),
    }
}

#[test]
fn the_data_of_a_cloudevent_carries_no_ciphertext() {
    let body = encode(&sealed_event()).unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        !text.contains("ciphertext"),
        "ciphertext on the bus: {text}"
    );
    assert!(
        !text.contains("c2VjcmV0IG5hbWU="),
        "sealed bytes on the bus: {text}"
    );
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["data"]["reporter"]["sealed"], true);
    assert_eq!(doc["data"]["reporter"]["key_id"], "k-1");
    assert_eq!(doc["data"]["summary"], "late permit");
}

#[test]
fn a_cloudevent_round_trips_to_the_stored_event_in_wire_form() {
    let original = sealed_event();
    let rebuilt = decode(&encode(&original).unwrap()).unwrap();
    assert_eq!(rebuilt, original.to_wire());
    assert_eq!(rebuilt.payload["reporter"]["sealed"], true);
    assert_eq!(CloudEvent::from_stored(&original).id, message_id(&original));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_publishes_each_event_as_a_cloudevent_with_its_message_id() -> anyhow::Result<()>
{
    let db = postgres().await?;
    let js = jetstream().await?;
    let cfg = bus_config();
    let id = aggregate_ids(1).remove(0);
    append(&db, &id, 2).await?;
    let relay = spawn_relay(&db, &js, &cfg);
    wait_until("2 published", || async {
        Ok(relay.metrics.snapshot().published >= 2)
    })
    .await?;

    let logged = EventLog::new(db.clone())
        .read_after(Checkpoint::ZERO, 10)
        .await?;
    let stream = js.get_stream(cfg.stream_name()).await?;
    for (n, event) in logged.iter().enumerate() {
        let message = stream.get_raw_message(n as u64 + 1).await?;
        assert_eq!(
            message.subject.as_str(),
            format!("{}.events.access_log.{id}", cfg.prefix)
        );
        let msg_id = message
            .headers
            .get("Nats-Msg-Id")
            .map(|v| v.as_str().to_string());
        assert_eq!(msg_id, Some(format!("access_log:{id}:{}", n + 1)));
        let doc: serde_json::Value = serde_json::from_slice(&message.payload)?;
        assert_eq!(doc["type"], "probity.access_log.PersonalDataRead.v1");
        assert_eq!(doc["source"], "/probity");
        assert_eq!(doc["subject"], format!("access_log/{id}"));
        assert_eq!(doc["sequence"], n as i64 + 1);
        assert_eq!(doc["position"], event.position);
        assert_eq!(&decode(&message.payload)?, event);
    }
    relay.shutdown.cancel();
    tokio::time::timeout(WAIT, relay.handle).await??;
    drop_stream(&js, &cfg).await?;
    Ok(())
}
