//! Concurrent commands, expected versions, and the commit-order-safe tail under a slow
//! writer.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use probity_domain::access::AccessError;
use probity_store::{Checkpoint, Db, EventLog, ExecuteError, StoredEvent};
use sqlx::Connection;

use crate::helpers::{self, executor, metadata, read_command};

/// Two handles on one database, as two server processes: commands of one process take
/// turns, commands of different processes race for the sequence and retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_commands_on_one_aggregate_all_commit_with_gapless_sequences() {
    for t in helpers::both().await {
        let exec = Arc::new(executor(&t.db));
        let other = Arc::new(executor(&t.another_process().await));
        let mut tasks = Vec::new();
        for i in 0..50 {
            let exec = if i % 2 == 0 {
                exec.clone()
            } else {
                other.clone()
            };
            tasks.push(tokio::spawn(async move {
                exec.execute(
                    "case-50",
                    read_command(&format!("actor-{i}")),
                    None,
                    metadata("a"),
                )
                .await
            }));
        }
        for task in tasks {
            let committed = task
                .await
                .expect("task")
                .unwrap_or_else(|e| panic!("{}: {e}", t.name));
            assert_eq!(committed.len(), 1, "{}", t.name);
        }
        let loaded = exec.load("case-50").await.expect("load");
        let sequences: Vec<usize> = loaded.iter().map(|e| e.sequence).collect();
        assert_eq!(sequences, (1..=50).collect::<Vec<_>>(), "{}", t.name);
        let mut actors: Vec<String> = loaded
            .iter()
            .map(|e| match &e.payload {
                probity_domain::access::AccessEvent::PersonalDataRead { actor, .. }
                | probity_domain::access::AccessEvent::HistoryRead { actor, .. }
                | probity_domain::access::AccessEvent::BundleExported { actor, .. }
                | probity_domain::access::AccessEvent::OpenDataRead { actor, .. } => actor.clone(),
            })
            .collect();
        actors.sort();
        actors.dedup();
        assert_eq!(
            actors.len(),
            50,
            "{}: every command committed exactly once",
            t.name
        );

        let log = EventLog::new(t.db.clone());
        assert_eq!(log.count().await.unwrap(), 50, "{}", t.name);
        let stored = log
            .read_aggregate("access_log", "case-50", None)
            .await
            .unwrap();
        assert_eq!(
            stored.iter().map(|e| e.sequence).collect::<Vec<_>>(),
            (1..=50).collect::<Vec<i64>>(),
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn a_stale_expected_version_is_a_version_conflict() {
    for t in helpers::both().await {
        let exec = executor(&t.db);
        let first = exec
            .execute("case-v", read_command("a"), Some(0), metadata("a"))
            .await
            .unwrap();
        assert_eq!(first[0].sequence, 1, "{}", t.name);
        match exec
            .execute("case-v", read_command("b"), Some(0), metadata("b"))
            .await
        {
            Err(ExecuteError::VersionConflict {
                expected: 0,
                current: 1,
            }) => {}
            other => panic!("{}: expected a version conflict, got {other:?}", t.name),
        }
        match exec
            .execute("case-v", read_command("b"), Some(5), metadata("b"))
            .await
        {
            Err(ExecuteError::VersionConflict {
                expected: 5,
                current: 1,
            }) => {}
            other => panic!("{}: expected a version conflict, got {other:?}", t.name),
        }
        let second = exec
            .execute("case-v", read_command("b"), Some(1), metadata("b"))
            .await
            .unwrap();
        assert_eq!(second[0].sequence, 2, "{}", t.name);
        assert_eq!(
            second[0].metadata.get("actor").map(String::as_str),
            Some("b")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_commands_with_the_same_expected_version_commit_once_and_never_retry() {
    for t in helpers::both().await {
        let exec = Arc::new(executor(&t.db));
        let other = Arc::new(executor(&t.another_process().await));
        exec.execute("case-race", read_command("first"), Some(0), metadata("a"))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..12 {
            let exec = if i % 2 == 0 {
                exec.clone()
            } else {
                other.clone()
            };
            tasks.push(tokio::spawn(async move {
                exec.execute(
                    "case-race",
                    read_command(&format!("r{i}")),
                    Some(1),
                    metadata("a"),
                )
                .await
            }));
        }
        let mut ok = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(events) => {
                    assert_eq!(events[0].sequence, 2);
                    ok += 1;
                }
                Err(ExecuteError::VersionConflict {
                    expected: 1,
                    current,
                }) => {
                    assert!(current >= 1, "{}: current {current}", t.name)
                }
                Err(other) => panic!("{}: unexpected {other:?}", t.name),
            }
        }
        assert_eq!(
            ok, 1,
            "{}: exactly one command with If-Match 1 commits",
            t.name
        );
        assert_eq!(exec.load("case-race").await.unwrap().len(), 2, "{}", t.name);
    }
}

#[tokio::test]
async fn a_domain_error_is_returned_as_such_and_commits_nothing() {
    for t in helpers::both().await {
        let exec = executor(&t.db);
        match exec
            .execute("case-d", read_command(""), None, metadata("a"))
            .await
        {
            Err(ExecuteError::Domain(AccessError::Invalid(_))) => {}
            other => panic!("{}: expected a domain error, got {other:?}", t.name),
        }
        assert!(exec.load("case-d").await.unwrap().is_empty(), "{}", t.name);
        assert_eq!(EventLog::new(t.db.clone()).count().await.unwrap(), 0);
    }
}

/// Inserts one event of `access_log`/`aggregate_id` with sequence 1 inside `tx`.
async fn insert_raw(conn: &mut sqlx::PgConnection, aggregate_id: &str) {
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('access_log', $1, 1, 'PersonalDataRead', '1', '{}'::jsonb, '{}'::jsonb)",
    )
    .bind(aggregate_id)
    .execute(conn)
    .await
    .expect("raw insert");
}

/// A tailer as the relay runs it: keeps a checkpoint, reads in small pages.
struct Tailer {
    log: EventLog,
    checkpoint: Checkpoint,
    seen: Vec<StoredEvent>,
}

impl Tailer {
    fn new(db: &Db) -> Self {
        Self {
            log: EventLog::new(db.clone()),
            checkpoint: Checkpoint::ZERO,
            seen: Vec::new(),
        }
    }

    async fn poll(&mut self) {
        loop {
            let page = self
                .log
                .read_after(self.checkpoint, 1)
                .await
                .expect("read_after");
            let Some(event) = page.into_iter().next() else {
                return;
            };
            assert!(
                Checkpoint::of(&event) > self.checkpoint,
                "the tail only moves forward"
            );
            self.checkpoint = Checkpoint::of(&event);
            self.seen.push(event);
        }
    }

    /// Polls until `n` events were seen (other test databases' transactions on the
    /// shared server may hold the snapshot horizon back for a moment).
    async fn poll_until(&mut self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.seen.len() < n && Instant::now() < deadline {
            self.poll().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // And a last look: nothing more than expected may come.
        self.poll().await;
    }

    fn ids(&self) -> Vec<&str> {
        self.seen.iter().map(|e| e.aggregate_id.as_str()).collect()
    }
}

/// The slow transaction inserts first (lower position) and commits last: a tail by
/// position alone would pass over it once the fast one is read.
#[tokio::test]
async fn a_slow_writer_with_the_lower_position_is_never_skipped_by_the_tail() {
    let t = helpers::postgres().await;
    let pool = t.db.pg.clone().unwrap();
    let mut tailer = Tailer::new(&t.db);

    let mut slow = pool.acquire().await.unwrap();
    let mut slow_tx = slow.begin().await.unwrap();
    insert_raw(&mut slow_tx, "slow").await;

    let mut fast = pool.acquire().await.unwrap();
    let mut fast_tx = fast.begin().await.unwrap();
    insert_raw(&mut fast_tx, "fast").await;
    fast_tx.commit().await.unwrap();

    tailer.poll().await;
    assert!(
        tailer.seen.is_empty(),
        "nothing may be read while an earlier transaction is open: {:?}",
        tailer.ids()
    );

    slow_tx.commit().await.unwrap();
    tailer.poll_until(2).await;
    assert_eq!(tailer.ids(), vec!["slow", "fast"]);
    assert!(tailer.seen[0].position < tailer.seen[1].position);
}

/// The slow transaction took its transaction id first but inserts after the fast one
/// (higher position, lower tx id): reading the fast one first would move the checkpoint
/// past the slow one's place in the order.
#[tokio::test]
async fn a_slow_writer_with_the_higher_position_is_never_skipped_by_the_tail() {
    let t = helpers::postgres().await;
    let pool = t.db.pg.clone().unwrap();
    let mut tailer = Tailer::new(&t.db);

    let mut slow = pool.acquire().await.unwrap();
    let mut slow_tx = slow.begin().await.unwrap();
    let slow_xid: i64 = sqlx::query_scalar("SELECT pg_current_xact_id()::text::bigint")
        .fetch_one(&mut *slow_tx)
        .await
        .unwrap();

    let mut fast = pool.acquire().await.unwrap();
    let mut fast_tx = fast.begin().await.unwrap();
    insert_raw(&mut fast_tx, "fast").await;
    fast_tx.commit().await.unwrap();

    tailer.poll().await;
    assert!(
        tailer.seen.is_empty(),
        "the fast event may not be read while an older transaction is open: {:?}",
        tailer.ids()
    );

    insert_raw(&mut slow_tx, "slow").await;
    tailer.poll().await;
    assert!(tailer.seen.is_empty(), "still open: {:?}", tailer.ids());
    slow_tx.commit().await.unwrap();

    tailer.poll_until(2).await;
    assert_eq!(tailer.ids(), vec!["slow", "fast"]);
    assert_eq!(tailer.seen[0].tx_id, slow_xid);
    assert!(
        tailer.seen[0].position > tailer.seen[1].position,
        "slow has the higher position"
    );
    assert!(tailer.seen[0].tx_id < tailer.seen[1].tx_id);
}

/// Many writers and a tailer at the same time: the tailer sees every event exactly once
/// and each aggregate's events in sequence order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tail_running_during_concurrent_writes_sees_every_event_once_in_aggregate_order() {
    for t in helpers::both().await {
        let exec = Arc::new(executor(&t.db));
        let other = Arc::new(executor(&t.another_process().await));
        let mut writers = Vec::new();
        for w in 0..8 {
            let exec = if w % 2 == 0 {
                exec.clone()
            } else {
                other.clone()
            };
            writers.push(tokio::spawn(async move {
                for i in 0..10 {
                    exec.execute(
                        &format!("agg-{}", (w + i) % 4),
                        read_command("x"),
                        None,
                        metadata("a"),
                    )
                    .await
                    .expect("execute");
                }
            }));
        }
        let mut tailer = Tailer::new(&t.db);
        let deadline = Instant::now() + Duration::from_secs(60);
        while tailer.seen.len() < 80 && Instant::now() < deadline {
            tailer.poll().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for w in writers {
            w.await.unwrap();
        }
        tailer.poll_until(80).await;
        assert_eq!(tailer.seen.len(), 80, "{}", t.name);
        let mut last: HashMap<String, i64> = HashMap::new();
        for e in &tailer.seen {
            let prev = last.insert(e.aggregate_id.clone(), e.sequence).unwrap_or(0);
            assert_eq!(
                e.sequence,
                prev + 1,
                "{}: {} out of order",
                t.name,
                e.aggregate_id
            );
        }
    }
}

#[tokio::test]
async fn load_returns_the_envelopes_with_their_metadata() {
    for t in helpers::both().await {
        let exec = executor(&t.db);
        exec.execute("case-l", read_command("a"), None, metadata("alice"))
            .await
            .unwrap();
        exec.execute("case-l", read_command("b"), None, metadata("bob"))
            .await
            .unwrap();
        let loaded = exec.load("case-l").await.unwrap();
        assert_eq!(loaded.len(), 2);
        assert_eq!(loaded[1].aggregate_id, "case-l");
        assert_eq!(
            loaded[1].metadata.get("actor").map(String::as_str),
            Some("bob")
        );
    }
}

/// Two processes group-committing commands on the same few aggregates at once: their
/// batches touch the same keys, and none of them deadlocks or fails (rows are written in
/// key order); every command lands once, sequences stay gapless.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_batching_on_the_same_aggregates_never_deadlock() {
    for t in helpers::both().await {
        let processes = [
            Arc::new(executor(&t.db)),
            Arc::new(executor(&t.another_process().await)),
        ];
        let mut writers = Vec::new();
        for w in 0..16 {
            let exec = processes[w % 2].clone();
            writers.push(tokio::spawn(async move {
                for i in 0..15 {
                    exec.execute(
                        &format!("shared-{}", (w * 7 + i) % 6),
                        read_command(&format!("w{w}-{i}")),
                        None,
                        metadata("a"),
                    )
                    .await
                    .unwrap_or_else(|e| panic!("writer {w}, command {i}: {e}"));
                }
            }));
        }
        for w in writers {
            w.await.expect("a writer");
        }
        let log = EventLog::new(t.db.clone());
        assert_eq!(log.count().await.unwrap(), 240, "{}", t.name);
        let mut total = 0;
        for a in 0..6 {
            let stored = log
                .read_aggregate("access_log", &format!("shared-{a}"), None)
                .await
                .unwrap();
            let sequences: Vec<i64> = stored.iter().map(|e| e.sequence).collect();
            assert_eq!(
                sequences,
                (1..=stored.len() as i64).collect::<Vec<_>>(),
                "{}",
                t.name
            );
            total += stored.len();
        }
        assert_eq!(total, 240, "{}", t.name);
    }
}
