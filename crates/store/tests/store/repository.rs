//! The cqrs-es repository directly: unique violations are conflicts, streams report
//! instead of panicking, snapshots are refused.
use std::collections::HashMap;

use cqrs_es::persist::{PersistedEventRepository, PersistenceError, SerializedEvent};
use probity_domain::access::AccessLog;
use probity_store::EventRepository;
use serde_json::json;

use crate::helpers::{self, executor, metadata, read_command};

fn event(aggregate_id: &str, sequence: usize) -> SerializedEvent {
    SerializedEvent::new(
        aggregate_id.to_string(),
        sequence,
        "access_log".to_string(),
        "PersonalDataRead".to_string(),
        "1".to_string(),
        json!({"PersonalDataRead": {
            "case_type": "complaint", "case_id": "c", "actor": "a", "role": "r", "purpose": "p",
            "at": "2026-01-01T00:00:00Z"
        }}),
        json!({"actor": "a"}),
    )
}

#[tokio::test]
async fn inserting_a_taken_sequence_is_an_optimistic_lock_conflict() {
    for t in helpers::both().await {
        let repo = EventRepository::new(&t.db).unwrap();
        repo.persist::<AccessLog>(&[event("x", 1), event("x", 2)], None)
            .await
            .unwrap();
        match repo.persist::<AccessLog>(&[event("x", 2)], None).await {
            Err(PersistenceError::OptimisticLockError) => {}
            other => panic!("{}: expected a conflict, got {other:?}", t.name),
        }
        // A conflict in the middle of a command's events rolls the whole command back.
        match repo
            .persist::<AccessLog>(&[event("x", 3), event("x", 2)], None)
            .await
        {
            Err(PersistenceError::OptimisticLockError) => {}
            other => panic!("{}: expected a conflict, got {other:?}", t.name),
        }
        let stored = repo.get_events::<AccessLog>("x").await.unwrap();
        assert_eq!(
            stored.iter().map(|e| e.sequence).collect::<Vec<_>>(),
            vec![1, 2],
            "{}",
            t.name
        );
        assert_eq!(stored[1], event("x", 2), "{}: round trip", t.name);
        let last = repo.get_last_events::<AccessLog>("x", 1).await.unwrap();
        assert_eq!(last, vec![event("x", 2)], "{}", t.name);
    }
}

#[tokio::test]
async fn snapshots_are_not_read_and_snapshot_updates_are_refused() {
    for t in helpers::both().await {
        let repo = EventRepository::new(&t.db).unwrap();
        assert!(repo.get_snapshot::<AccessLog>("x").await.unwrap().is_none());
        let refused = repo
            .persist::<AccessLog>(&[event("x", 1)], Some(("x".into(), json!({}), 1)))
            .await;
        assert!(
            matches!(refused, Err(PersistenceError::UnknownError(_))),
            "{}",
            t.name
        );
        assert!(
            repo.get_events::<AccessLog>("x").await.unwrap().is_empty(),
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn streams_deliver_every_event_of_an_aggregate_and_of_a_type() {
    for t in helpers::both().await {
        let exec = executor(&t.db);
        for id in ["s1", "s2", "s1"] {
            exec.execute(id, read_command("a"), None, metadata("a"))
                .await
                .unwrap();
        }
        let repo = EventRepository::new(&t.db).unwrap();

        let mut stream = repo.stream_all_events::<AccessLog>().await.unwrap();
        let mut seen: HashMap<String, Vec<usize>> = HashMap::new();
        while let Some(item) = stream.next::<AccessLog>(&[]).await {
            let envelope = item.unwrap_or_else(|e| panic!("{}: {e}", t.name));
            seen.entry(envelope.aggregate_id)
                .or_default()
                .push(envelope.sequence);
        }
        assert_eq!(seen.get("s1"), Some(&vec![1, 2]), "{}", t.name);
        assert_eq!(seen.get("s2"), Some(&vec![1]), "{}", t.name);

        let mut stream = repo.stream_events::<AccessLog>("s1").await.unwrap();
        let mut sequences = Vec::new();
        while let Some(item) = stream.next::<AccessLog>(&[]).await {
            sequences.push(item.unwrap().sequence);
        }
        assert_eq!(sequences, vec![1, 2], "{}", t.name);
    }
}

#[tokio::test]
async fn a_stream_on_a_closed_database_ends_with_an_error_instead_of_panicking() {
    for t in helpers::both().await {
        let repo = EventRepository::new(&t.db).unwrap();
        t.db.close().await;
        let mut stream = repo.stream_all_events::<AccessLog>().await.unwrap();
        match stream.next::<AccessLog>(&[]).await {
            Some(Err(_)) => {}
            other => panic!("{}: expected an error item, got {other:?}", t.name),
        }
        assert!(stream.next::<AccessLog>(&[]).await.is_none());
    }
}
