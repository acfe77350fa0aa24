//! Tampering drills against real databases (SQLite and Postgres): each change made by
//! SQL behind the store's back is caught by `verify_log`, which names the event.

mod common;

use common::{spawn, Kind};
use futures::future::join_all;
use probity_audit::{latest_checkpoint, verify_log, Sealer, Signer, SigningKey};
use probity_store::EventLog;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

on_both_backends!(
    an_untouched_log_verifies_and_new_events_are_unsealed_not_tampered,
    an_updated_payload_is_caught_and_named,
    a_deleted_event_is_caught_and_named,
    an_event_inserted_behind_the_sealer_is_caught_and_named,
    an_edit_made_right_after_a_commit_is_caught,
    swapped_payloads_are_caught_and_named,
    a_truncated_tail_after_a_signed_checkpoint_is_caught,
    resealing_after_tampering_is_caught_by_the_signed_checkpoint,
    erasure_keeps_the_log_verifying,
    a_checkpoint_of_another_key_does_not_verify,
    the_background_sealer_and_signer_seal_and_sign,
);

async fn an_untouched_log_verifies_and_new_events_are_unsealed_not_tampered(
    kind: Kind,
) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    app.some_events().await?;
    app.seal_and_sign().await?;
    let total = app.events().await?.len() as u64;
    let seen = std::sync::Mutex::new(Vec::new());
    let report = verify_log(&app.db, &app.signing.verifying_key(), &|d, t| {
        seen.lock().unwrap().push((d, t))
    })
    .await?;
    assert!(report.is_ok(), "{:?}", report.mismatch);
    assert_eq!(
        (report.events, report.sealed, report.unsealed),
        (total, total, 0)
    );
    assert_eq!(
        report.checkpoint.as_ref().unwrap().chain_index,
        total as i64 - 1
    );
    assert_eq!(seen.lock().unwrap().last(), Some(&(total, total)));

    // New events are sealed in the transaction that appends them: nothing is left for
    // the background sealer.
    app.reads("auditor-3", 2).await?;
    let report = app.verify_seeing(total + 2).await?;
    assert!(report.is_ok(), "{:?}", report.mismatch);
    assert_eq!(
        (report.events, report.sealed, report.unsealed),
        (total + 2, total + 2, 0)
    );
    assert_eq!(app.seal().await?, 0);

    // An event written behind the committer (as a release before sealing in the commit
    // wrote every event) is unsealed, not tampering, until the background sealer seals it.
    app.exec(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         SELECT aggregate_type, aggregate_id, 3, event_type, event_version, payload, metadata
           FROM events WHERE aggregate_type = 'access_log' AND aggregate_id = 'auditor-3' AND sequence = 2",
    )
    .await?;
    let report = app.verify_seeing(total + 3).await?;
    assert!(report.is_ok(), "{:?}", report.mismatch);
    assert_eq!((report.events, report.unsealed), (total + 3, 1));
    // Sealing it continues the same chain, and the next command's seal links to it.
    assert_eq!(app.seal().await?, 1);
    app.reads("auditor-3", 1).await?;
    let report = app.verify().await?;
    assert!(report.is_ok(), "{:?}", report.mismatch);
    assert_eq!((report.sealed, report.unsealed), (total + 4, 0));
    Ok(())
}

async fn an_edit_made_right_after_a_commit_is_caught(kind: Kind) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    app.some_events().await?;
    // No sealer has run: the seal came with the commit.
    let target = app.event("complaint", "c-3", 2).await?;
    let mut payload = target.payload.clone();
    let text = payload.to_string().replace("2026-03-02", "2026-03-09");
    payload = serde_json::from_str(&text)?;
    assert_ne!(payload, target.payload, "the drill must change the payload");
    app.set_payload(target.position, &payload).await?;
    let mismatch = app
        .verify()
        .await?
        .mismatch
        .expect("the edit right after the commit was not caught");
    let named = mismatch.event.clone().expect("the event is named");
    assert_eq!(
        (named.aggregate_id.as_str(), named.sequence, named.position),
        ("c-3", 2, target.position)
    );
    assert!(mismatch.what.contains("content"), "{mismatch}");
    Ok(())
}

/// Two servers on one Postgres database (two group committers), writing at the same time,
/// extend one chain in commit order: the log verifies with every event sealed in its
/// commit, and the background sealer finds nothing to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_make_one_chain() {
    tokio::time::timeout(common::TEST_TIMEOUT, two_servers())
        .await
        .expect("test timed out")
        .unwrap();
}

/// Eight access logs of 25 reads each, written concurrently by `app`.
async fn writes(app: &common::TestApp, server: &str) -> anyhow::Result<()> {
    let logs: Vec<String> = (0..8).map(|c| format!("log-{server}-{c}")).collect();
    for result in join_all(logs.iter().map(|log| app.reads(log, 25))).await {
        result?;
    }
    Ok(())
}

async fn two_servers() -> anyhow::Result<()> {
    let app = spawn(Kind::Postgres).await?;
    let other = app.second_server().await?;
    let (a, b) = tokio::join!(writes(&app, "a"), writes(&other, "b"));
    a?;
    b?;
    let total = app.events().await?.len() as u64;
    assert_eq!(total, 2 * 8 * 25);
    let report = app.verify().await?;
    assert!(report.is_ok(), "{:?}", report.mismatch);
    assert_eq!((report.sealed, report.unsealed), (total, 0));
    assert_eq!(app.seal().await?, 0, "an event was left unsealed");
    Ok(())
}

async fn an_updated_payload_is_caught_and_named(kind: Kind) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    app.some_events().await?;
    app.seal_and_sign().await?;
    let target = app.event("access_log", "auditor-1", 2).await?;
    let mut payload = target.payload.clone();
    let text = payload.to_string().replace("auditor-1", "auditor-9");
    payload = serde_json::from_str(&text)?;
    assert_ne!(payload, target.payload, "the drill must change the payload");
    app.set_payload(target.position, &payload).await?;

    let report = app.verify().await?;
    let mismatch = report.mismatch.expect("tampering not caught");
    let named = mismatch.event.clone().unwrap();
    assert_eq!(
        (
            named.aggregate_type.as_str(),
            named.aggregate_id.as_str(),
            named.sequence,
            named.position
        ),
        ("access_log", "auditor-1", 2, target.position)
    );
    assert!(mismatch.what.contains("content"), "{mismatch}");
    assert!(mismatch.to_string().contains(&format!(
        "access_log/auditor-1#2 (position {})",
        target.position
    )));
    Ok(())
}

async fn a_deleted_event_is_caught_and_named(kind: Kind) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    app.some_events().await?;
    app.seal_and_sign().await?;
    let target = app.event("complaint", "c-2", 1).await?;
    app.exec(&format!(
        "DELETE FROM events WHERE position = {}",
        target.position
    ))
    .await?;

    let mismatch = app.verify().await?.mismatch.expect("deletion not caught");
    let named = mismatch.event.clone().unwrap();
    assert_eq!(
        (named.aggregate_id.as_str(), named.sequence, named.position),
        ("c-2", 1, target.position)
    );
    assert!(mismatch.what.contains("missing"), "{mismatch}");
    Ok(())
}

async fn an_event_inserted_behind_the_sealer_is_caught_and_named(kind: Kind) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    app.some_events().await?;
    app.seal_and_sign().await?;
    // A forged event placed before everything in commit order (position 0, and on
    // Postgres a transaction id of 1), after the sealer went past.
    app.exec(match kind {
        Kind::Postgres => {
            "INSERT INTO events (position, tx_id, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             OVERRIDING SYSTEM VALUE
             VALUES (0, 1, 'complaint', 'forged', 1, 'ComplaintFiled', '1', '{}', '{}')"
        }
        Kind::Sqlite => {
            "INSERT INTO events (position, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             VALUES (0, 'complaint', 'forged', 1, 'ComplaintFiled', '1', '{}', '{}')"
        }
    })
    .await?;

    let mismatch = app
        .verify()
        .await?
        .mismatch
        .expect("the insertion not caught");
    let named = mismatch.event.clone().expect("the event is named");
    assert_eq!(
        (named.aggregate_id.as_str(), named.sequence, named.position),
        ("forged", 1, 0)
    );
    assert!(mismatch.what.contains("no seal"), "{mismatch}");
    Ok(())
}

async fn swapped_payloads_are_caught_and_named(kind: Kind) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    app.some_events().await?;
    app.seal_and_sign().await?;
    let first = app.event("access_log", "auditor-1", 1).await?;
    let second = app.event("access_log", "auditor-1", 3).await?;
    let mut swapped_first = second.payload.clone();
    // Same shape, different recorded time: the payloads differ.
    assert_ne!(first.payload, second.payload);
    app.set_payload(first.position, &swapped_first).await?;
    swapped_first = first.payload.clone();
    app.set_payload(second.position, &swapped_first).await?;

    let mismatch = app.verify().await?.mismatch.expect("reordering not caught");
    let named = mismatch.event.clone().unwrap();
    assert_eq!(
        (named.aggregate_id.as_str(), named.sequence, named.position),
        ("auditor-1", 1, first.position)
    );
    Ok(())
}

async fn a_truncated_tail_after_a_signed_checkpoint_is_caught(kind: Kind) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    app.some_events().await?;
    app.seal_and_sign().await?;
    let events = app.events().await?;
    let cut = &events[events.len() - 3];
    app.exec(&format!(
        "DELETE FROM events WHERE position >= {}",
        cut.position
    ))
    .await?;

    // Seals still there: the first removed event is named from its seal.
    let mismatch = app.verify().await?.mismatch.expect("truncation not caught");
    let named = mismatch.event.clone().unwrap();
    assert_eq!(
        (
            named.aggregate_type.as_str(),
            named.aggregate_id.as_str(),
            named.sequence,
            named.position
        ),
        (
            cut.aggregate_type.as_str(),
            cut.aggregate_id.as_str(),
            cut.sequence,
            cut.position
        )
    );

    // A thorough intruder also removes the seals: the signed checkpoint still says how
    // far the log went.
    app.exec(&format!(
        "DELETE FROM event_seals WHERE position >= {}",
        cut.position
    ))
    .await?;
    let mismatch = app.verify().await?.mismatch.expect("truncation not caught");
    assert_eq!(mismatch.chain_index, Some(events.len() as i64 - 3));
    assert!(
        mismatch.what.contains("ends before the signed checkpoint"),
        "{mismatch}"
    );
    Ok(())
}

async fn resealing_after_tampering_is_caught_by_the_signed_checkpoint(
    kind: Kind,
) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    app.some_events().await?;
    app.seal_and_sign().await?;
    let target = app.event("complaint", "c-1", 1).await?;
    let mut payload = target.payload.clone();
    let text = payload.to_string().replace("Case c-1", "Case X-1");
    payload = serde_json::from_str(&text)?;
    assert_ne!(payload, target.payload);
    app.set_payload(target.position, &payload).await?;
    // Recompute every seal so that they agree with the changed log.
    app.exec("DELETE FROM event_seals").await?;
    app.exec("DELETE FROM audit_sealer_checkpoint").await?;
    app.exec("DELETE FROM audit_chain_head").await?;
    app.seal().await?;

    let report = app.verify().await?;
    let mismatch = report.mismatch.expect("resealing not caught");
    assert!(mismatch.what.contains("signed checkpoint"), "{mismatch}");
    assert_eq!(
        mismatch.chain_index,
        Some(report.checkpoint.unwrap().chain_index)
    );
    Ok(())
}

async fn erasure_keeps_the_log_verifying(kind: Kind) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    let reporter = app.file("c-1").await?;
    app.reads("auditor-1", 1).await?;
    app.seal_and_sign().await?;
    assert!(app.keys.destroy(&reporter.key_id).await?);
    assert!(app.keys.open(&reporter).await?.is_none(), "the key is gone");
    let report = app.verify().await?;
    assert!(report.is_ok(), "{:?}", report.mismatch);
    assert_eq!(report.sealed, 3);
    Ok(())
}

async fn a_checkpoint_of_another_key_does_not_verify(kind: Kind) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    app.some_events().await?;
    app.seal_and_sign().await?;
    let other = SigningKey::from_bytes(&[9u8; 32]).verifying_key();
    let mismatch = verify_log(&app.db, &other, &|_, _| {})
        .await?
        .mismatch
        .expect("wrong key accepted");
    assert!(mismatch.what.contains("signed by key"), "{mismatch}");
    // A forged signature under the right key id is refused too.
    app.exec("UPDATE audit_checkpoints SET signed_at = '2020-01-01T00:00:00.000000Z'")
        .await?;
    let mismatch = app
        .verify()
        .await?
        .mismatch
        .expect("forged checkpoint accepted");
    assert!(
        mismatch.what.contains("signature does not verify"),
        "{mismatch}"
    );
    Ok(())
}

async fn the_background_sealer_and_signer_seal_and_sign(kind: Kind) -> anyhow::Result<()> {
    let app = spawn(kind).await?;
    app.some_events().await?;
    let total = app.events().await?.len() as i64;
    let shutdown = CancellationToken::new();
    let sealer = tokio::spawn(
        Sealer::new(EventLog::new(app.db.clone()))
            .with_poll_interval(Duration::from_millis(50))
            .run(shutdown.clone()),
    );
    let signer = tokio::spawn(
        Signer::new(
            app.db.clone(),
            app.signing.clone(),
            Duration::from_millis(100),
            None,
        )
        .run(shutdown.clone()),
    );
    // A second sealer must not seal anything twice (on Postgres it stands by).
    let second = tokio::spawn(Sealer::new(EventLog::new(app.db.clone())).run(shutdown.clone()));
    let waited = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Some(cp) = latest_checkpoint(&app.db).await? {
                if cp.chain_index == total - 1 {
                    return anyhow::Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    shutdown.cancel();
    waited.map_err(|_| anyhow::anyhow!("no checkpoint of the whole log within 30 s"))??;
    for task in [sealer, signer] {
        tokio::time::timeout(Duration::from_secs(10), task).await???;
    }
    // On SQLite both sealers run (one process); the unique chain index and position keep
    // the seals single, and the loser's batches fail and are retried from the database.
    tokio::time::timeout(Duration::from_secs(10), second).await???;
    let report = app.verify().await?;
    assert!(report.is_ok(), "{:?}", report.mismatch);
    assert_eq!(report.sealed as i64, total);
    Ok(())
}
