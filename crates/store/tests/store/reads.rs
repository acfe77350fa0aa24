//! Reads of the log: paging the tail, as-of reads, counts, waking tailers, reopening.
use std::time::{Duration, Instant};

use chrono::Utc;
use probity_store::{Backend, Checkpoint, Db, EventLog, StoredEvent};

use crate::helpers::{self, executor, metadata, read_command};

/// `read_after(ZERO)` once it returns `n` events (or whatever it has after 30 s).
async fn read_eventually(log: &EventLog, n: usize) -> Vec<StoredEvent> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all = log.read_after(Checkpoint::ZERO, 1000).await.unwrap();
        if all.len() >= n || Instant::now() > deadline {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn read_after_pages_through_the_whole_log_in_order() {
    for t in helpers::both().await {
        let exec = executor(&t.db);
        for i in 0..7 {
            exec.execute(
                &format!("agg-{}", i % 3),
                read_command("a"),
                None,
                metadata("a"),
            )
            .await
            .unwrap();
        }
        let log = EventLog::new(t.db.clone());
        assert_eq!(log.count().await.unwrap(), 7, "{}", t.name);
        // Another test's open transaction on the shared server may hold the commit-safe
        // horizon back for a moment; once read, the prefix is final.
        let all = read_eventually(&log, 7).await;
        assert_eq!(all.len(), 7, "{}", t.name);

        let mut paged: Vec<StoredEvent> = Vec::new();
        let mut sizes = Vec::new();
        let mut checkpoint = Checkpoint::ZERO;
        loop {
            let page = log.read_after(checkpoint, 3).await.unwrap();
            sizes.push(page.len());
            let Some(last) = page.last() else { break };
            checkpoint = Checkpoint::of(last);
            paged.extend(page);
        }
        assert_eq!(sizes, vec![3, 3, 1, 0], "{}", t.name);
        assert_eq!(paged, all, "{}", t.name);
        for pair in all.windows(2) {
            assert!(
                Checkpoint::of(&pair[0]) < Checkpoint::of(&pair[1]),
                "{}",
                t.name
            );
            assert!(pair[0].position < pair[1].position, "{}", t.name);
        }
        let first = &all[0];
        assert_eq!(first.aggregate_type, "access_log");
        assert_eq!(first.event_type, "PersonalDataRead");
        assert_eq!(first.event_version, "1");
        assert_eq!(first.metadata["actor"], "a");
        assert_eq!(first.payload["PersonalDataRead"]["purpose"], "test");
        if t.name == "sqlite" {
            assert!(all.iter().all(|e| e.tx_id == e.position));
        }
        assert!(log.read_after(checkpoint, 0).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn read_aggregate_as_of_returns_the_events_recorded_until_then() {
    for t in helpers::both().await {
        let exec = executor(&t.db);
        let before = Utc::now() - chrono::Duration::seconds(1);
        for actor in ["a", "b", "c"] {
            exec.execute("case-h", read_command(actor), None, metadata(actor))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        exec.execute("other", read_command("z"), None, metadata("z"))
            .await
            .unwrap();
        let log = EventLog::new(t.db.clone());
        let all = log
            .read_aggregate("access_log", "case-h", None)
            .await
            .unwrap();
        assert_eq!(
            all.iter().map(|e| e.sequence).collect::<Vec<_>>(),
            vec![1, 2, 3],
            "{}",
            t.name
        );
        assert!(
            all.windows(2).all(|w| w[0].recorded_at < w[1].recorded_at),
            "{}",
            t.name
        );
        let now = Utc::now();
        assert!(
            all.iter()
                .all(|e| e.recorded_at > before && e.recorded_at <= now),
            "{}",
            t.name
        );

        let until_second = log
            .read_aggregate("access_log", "case-h", Some(all[1].recorded_at))
            .await
            .unwrap();
        assert_eq!(
            until_second,
            all[..2].to_vec(),
            "{}: as of the second event",
            t.name
        );
        let just_before = all[1].recorded_at - chrono::Duration::microseconds(1);
        let until_first = log
            .read_aggregate("access_log", "case-h", Some(just_before))
            .await
            .unwrap();
        assert_eq!(until_first, all[..1].to_vec(), "{}", t.name);
        assert!(log
            .read_aggregate("access_log", "case-h", Some(before))
            .await
            .unwrap()
            .is_empty());
        assert!(log
            .read_aggregate("access_log", "nope", None)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(log.last_sequence("access_log", "case-h").await.unwrap(), 3);
        assert_eq!(log.last_sequence("access_log", "nope").await.unwrap(), 0);
    }
}

/// Waits until the signal is quiet (a wait runs into its fallback), so that the next
/// wake-up is caused by the test.
async fn settle(log: &EventLog) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let started = Instant::now();
        log.wait_for_new(Duration::from_millis(300)).await;
        if started.elapsed() >= Duration::from_millis(290) || Instant::now() > deadline {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_new_wakes_on_a_commit_and_otherwise_falls_back_to_polling() {
    for t in helpers::both().await {
        let log = EventLog::new(t.db.clone());
        settle(&log).await;

        let started = Instant::now();
        log.wait_for_new(Duration::from_millis(200)).await;
        assert!(
            started.elapsed() >= Duration::from_millis(190),
            "{}: fallback",
            t.name
        );

        let waiter = {
            let log = log.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                log.wait_for_new(Duration::from_secs(20)).await;
                started.elapsed()
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Postgres: a commit by another process arrives by NOTIFY. SQLite: the in-process
        // signal of the executor (the embedded store has one process).
        let writer = match t.db.backend {
            Backend::Postgres => t.another_process().await,
            Backend::Sqlite => t.db.clone(),
        };
        executor(&writer)
            .execute("case-w", read_command("a"), None, metadata("a"))
            .await
            .unwrap();
        let waited = waiter.await.unwrap();
        assert!(
            waited < Duration::from_secs(5),
            "{}: woken by the commit, waited {waited:?}",
            t.name
        );
    }
}

#[tokio::test]
async fn a_commit_between_two_waits_is_not_missed() {
    for t in helpers::both().await {
        let log = EventLog::new(t.db.clone());
        settle(&log).await;
        // Postgres: a commit by another process arrives by NOTIFY. SQLite: the in-process
        // signal of the executor (the embedded store has one process).
        let writer = match t.db.backend {
            Backend::Postgres => t.another_process().await,
            Backend::Sqlite => t.db.clone(),
        };
        executor(&writer)
            .execute("case-m", read_command("a"), None, metadata("a"))
            .await
            .unwrap();
        // Postgres delivers the notification asynchronously: give it a moment to arrive.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        log.wait_for_new(Duration::from_secs(20)).await;
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{}: {:?}",
            t.name,
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn reopening_a_sqlite_data_dir_keeps_the_log_and_reruns_no_migration() {
    let dir = helpers::TempDir::new();
    {
        let db = Db::open_sqlite(&dir.0).await.unwrap();
        executor(&db)
            .execute("case-r", read_command("a"), None, metadata("a"))
            .await
            .unwrap();
        db.close().await;
    }
    let db = Db::open_sqlite(&dir.0).await.unwrap();
    assert!(dir.0.join("probity.db").is_file());
    let exec = executor(&db);
    let committed = exec
        .execute("case-r", read_command("b"), None, metadata("b"))
        .await
        .unwrap();
    assert_eq!(committed[0].sequence, 2);
    assert_eq!(EventLog::new(db.clone()).count().await.unwrap(), 2);
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(db.sqlite.as_ref().unwrap())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    // The portable pool sees the same file.
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(&db.any)
        .await
        .unwrap();
    assert_eq!(n, 2);
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(&db.any)
        .await
        .unwrap();
    assert!(
        busy >= 1000,
        "the portable pool waits for the write lock: {busy}"
    );
}

#[tokio::test]
async fn the_any_pool_reaches_the_same_postgres_database() {
    let t = helpers::postgres().await;
    executor(&t.db)
        .execute("case-any", read_command("a"), None, metadata("a"))
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(&t.db.any)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let table: Option<String> = sqlx::query_scalar("SELECT to_regclass('snapshots')::text")
        .fetch_one(t.db.pg.as_ref().unwrap())
        .await
        .unwrap();
    assert_eq!(table, None, "event-store mode needs no snapshots table");
}
