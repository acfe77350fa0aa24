//! Fault drills: NATS killed and restarted mid-stream, the relay task killed and
//! restarted mid-stream. Every event arrives, none twice.

use std::sync::Arc;
use std::time::Duration;

use probity_testkit::nats::PrivateNats;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_outage_mid_stream_loses_and_duplicates_nothing() -> anyhow::Result<()> {
    let mut nats = PrivateNats::start().await?;
    let db = postgres().await?;
    let js = jetstream_at(&nats.url()).await?;
    let cfg = bus_config();
    let relay = spawn_relay(&db, &js, &cfg);
    let (consumer, stop_consumer) = spawn_consumer(&js, &cfg, Arc::new(TableProjector::new(&db)));

    let ids = aggregate_ids(3);
    for id in &ids {
        append(&db, id, 10).await?;
    }
    wait_for_applied(&db, 10).await?;

    nats.stop();
    for id in &ids {
        append(&db, id, 10).await?;
    }
    // Longer than the publish-ack timeout (2 s): the relay must fail and retry.
    tokio::time::sleep(Duration::from_secs(3)).await;
    nats.restart().await?;
    for id in &ids {
        append(&db, id, 5).await?;
    }

    wait_for_applied(&db, 75).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let expected: Vec<_> = ids.iter().map(|id| (id.clone(), 25)).collect();
    assert_view_exact(&db, &expected).await?;
    let info = js.get_stream(cfg.stream_name()).await?.get_info().await?;
    assert_eq!(
        info.state.messages, 75,
        "messages in the stream (duplicates?)"
    );
    assert!(
        relay.metrics.snapshot().errors > 0,
        "the outage was not noticed by the relay"
    );

    relay.shutdown.cancel();
    stop_consumer.cancel();
    tokio::time::timeout(WAIT, relay.handle).await??;
    tokio::time::timeout(WAIT, consumer).await??;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_mid_stream_and_started_again_publishes_everything_once(
) -> anyhow::Result<()> {
    let db = postgres().await?;
    let js = jetstream().await?;
    let cfg = bus_config();
    let (consumer, stop_consumer) = spawn_consumer(&js, &cfg, Arc::new(TableProjector::new(&db)));
    let ids = aggregate_ids(4);
    let writer = {
        let db = db.clone();
        let ids = ids.clone();
        tokio::spawn(async move {
            for _ in 0..25 {
                for id in &ids {
                    append(&db, id, 1).await?;
                }
            }
            anyhow::Ok(())
        })
    };

    let first = spawn_relay(&db, &js, &cfg);
    wait_until("some events published", || async {
        Ok(first.metrics.snapshot().published >= 10)
    })
    .await?;
    first.handle.abort();
    let _ = first.handle.await;
    let before_restart = first.metrics.snapshot().published;

    let second = spawn_relay(&db, &js, &cfg);
    tokio::time::timeout(WAIT, writer).await???;
    wait_for_applied(&db, 100).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let expected: Vec<_> = ids.iter().map(|id| (id.clone(), 25)).collect();
    assert_view_exact(&db, &expected).await?;
    let info = js.get_stream(cfg.stream_name()).await?.get_info().await?;
    assert_eq!(
        info.state.messages, 100,
        "messages in the stream (duplicates?)"
    );
    // A message stored by the killed relay before it saw the ack is re-published by the
    // second one and acknowledged as a duplicate.
    let after = second.metrics.snapshot();
    assert!(before_restart + after.published <= 100);
    assert!(before_restart + after.published + after.duplicates >= 100);

    second.shutdown.cancel();
    stop_consumer.cancel();
    tokio::time::timeout(WAIT, second.handle).await??;
    tokio::time::timeout(WAIT, consumer).await??;
    drop_stream(&js, &cfg).await?;
    Ok(())
}

/// After a failure the relay only checks that the stream exists (no meta-leader request,
/// docs/deploy.md); a stream that is really gone is still created again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_deleted_under_a_running_relay_is_created_again() -> anyhow::Result<()> {
    let db = postgres().await?;
    let js = jetstream().await?;
    let cfg = bus_config();
    let relay = spawn_relay(&db, &js, &cfg);
    let id = aggregate_ids(1).remove(0);
    append(&db, &id, 5).await?;
    wait_until("the first events published", || async {
        Ok(relay.metrics.snapshot().published >= 5)
    })
    .await?;

    drop_stream(&js, &cfg).await?;
    append(&db, &id, 5).await?;
    wait_until("the stream created again with the new events", || async {
        Ok(match js.get_stream(cfg.stream_name()).await {
            Ok(mut stream) => stream.info().await?.state.messages >= 5,
            Err(_) => false,
        })
    })
    .await?;
    assert!(
        relay.metrics.snapshot().errors >= 1,
        "the relay never saw the stream missing"
    );

    relay.shutdown.cancel();
    tokio::time::timeout(WAIT, relay.handle).await??;
    drop_stream(&js, &cfg).await?;
    Ok(())
}

/// A server starting while JetStream does not answer yet (a cluster started a moment
/// ago, `deploy/local/up` right after `down`) waits for it instead of giving up after
/// one 2 s request timeout; with no NATS at all it still gives up once its patience is
/// spent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starting_server_waits_for_jetstream_to_answer_its_first_request() -> anyhow::Result<()> {
    let mut nats = PrivateNats::start().await?;
    let js = jetstream_at(&nats.url()).await?;
    let cfg = bus_config();
    nats.stop();

    let starting = {
        let (js, cfg) = (js.clone(), cfg.clone());
        tokio::spawn(async move {
            probity_bus::ensure_stream_patiently(&js, &cfg, Duration::from_secs(60)).await
        })
    };
    // Longer than a request timeout: the first tries fail, and the start goes on trying.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !starting.is_finished(),
        "the start gave up while NATS was down"
    );
    nats.restart().await?;
    let info = tokio::time::timeout(WAIT, starting).await???;
    assert_eq!(info.config.name, cfg.stream_name());

    nats.stop();
    let refused = probity_bus::ensure_stream_patiently(&js, &cfg, Duration::from_secs(1)).await;
    assert!(
        matches!(refused, Err(probity_bus::BusError::Nats { .. })),
        "{refused:?}"
    );
    Ok(())
}
