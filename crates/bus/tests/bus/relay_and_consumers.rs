//! Postgres + NATS: events committed through the executor reach a real projector exactly
//! once and in per-aggregate order, with one relay or two, one consumer or two.

use std::sync::Arc;

use probity_store::Projector;

use crate::helpers::*;

async fn append_concurrently(
    db: &probity_store::Db,
    ids: &[String],
    per_aggregate: usize,
) -> anyhow::Result<()> {
    let tasks: Vec<_> = ids
        .iter()
        .map(|id| {
            let db = db.clone();
            let id = id.clone();
            tokio::spawn(async move { append(&db, &id, per_aggregate).await })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(())
}

fn expected(ids: &[String], count: i64) -> Vec<(String, i64)> {
    ids.iter().map(|id| (id.clone(), count)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_events_reach_the_projector_exactly_once_in_aggregate_order() -> anyhow::Result<()>
{
    let db = postgres().await?;
    let js = jetstream().await?;
    let cfg = bus_config();
    let relay = spawn_relay(&db, &js, &cfg);
    let (consumer, stop_consumer) = spawn_consumer(&js, &cfg, Arc::new(TableProjector::new(&db)));

    let ids = aggregate_ids(5);
    append_concurrently(&db, &ids, 12).await?;
    wait_for_applied(&db, 60).await?;
    assert_view_exact(&db, &expected(&ids, 12)).await?;

    let stats = relay.metrics.snapshot();
    assert_eq!(stats.published, 60);
    assert_eq!(stats.duplicates, 0);
    assert!(stats.leader);

    relay.shutdown.cancel();
    stop_consumer.cancel();
    tokio::time::timeout(WAIT, relay.handle).await??;
    tokio::time::timeout(WAIT, consumer).await??;
    drop_stream(&js, &cfg).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_relays_on_one_database_one_publishes_and_the_standby_takes_over(
) -> anyhow::Result<()> {
    let db = postgres().await?;
    let js = jetstream().await?;
    let cfg = bus_config();
    let first = spawn_relay(&db, &js, &cfg);
    wait_until("the first relay to lead", || async {
        Ok(first.metrics.snapshot().leader)
    })
    .await?;
    let second = spawn_relay(&db, &js, &cfg);
    let (consumer, stop_consumer) = spawn_consumer(&js, &cfg, Arc::new(TableProjector::new(&db)));

    let ids = aggregate_ids(4);
    append_concurrently(&db, &ids, 5).await?;
    wait_for_applied(&db, 20).await?;
    let standby = second.metrics.snapshot();
    assert!(!standby.leader, "two relays lead at once");
    assert_eq!(
        standby.published + standby.duplicates,
        0,
        "the standby published"
    );
    assert_eq!(first.metrics.snapshot().published, 20);

    // The active relay dies: its lock connection goes with it and the standby takes over.
    first.handle.abort();
    let _ = first.handle.await;
    wait_until("the standby to lead", || async {
        Ok(second.metrics.snapshot().leader)
    })
    .await?;
    append_concurrently(&db, &ids, 5).await?;
    wait_for_applied(&db, 40).await?;
    assert_view_exact(&db, &expected(&ids, 10)).await?;
    let taken_over = second.metrics.snapshot();
    assert_eq!(
        taken_over.published, 20,
        "the new leader published the rest once"
    );

    let info = js.get_stream(cfg.stream_name()).await?.get_info().await?;
    assert_eq!(info.state.messages, 40, "messages in the stream");

    second.shutdown.cancel();
    stop_consumer.cancel();
    tokio::time::timeout(WAIT, second.handle).await??;
    tokio::time::timeout(WAIT, consumer).await??;
    drop_stream(&js, &cfg).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consumers_on_one_durable_keep_the_view_correct() -> anyhow::Result<()> {
    let db = postgres().await?;
    let js = jetstream().await?;
    let cfg = bus_config();
    let relay = spawn_relay(&db, &js, &cfg);
    let projector = TableProjector::new(&db);
    let other: Arc<dyn Projector> = Arc::new(projector.clone());
    let (first, stop_first) = spawn_consumer(&js, &cfg, Arc::new(projector));
    let (second, stop_second) = spawn_consumer(&js, &cfg, other);

    let ids = aggregate_ids(8);
    append_concurrently(&db, &ids, 15).await?;
    wait_for_applied(&db, 120).await?;
    // Let late redeliveries (if any) arrive before checking nothing was applied twice.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_view_exact(&db, &expected(&ids, 15)).await?;

    relay.shutdown.cancel();
    stop_first.cancel();
    stop_second.cancel();
    tokio::time::timeout(WAIT, relay.handle).await??;
    tokio::time::timeout(WAIT, first).await??;
    tokio::time::timeout(WAIT, second).await??;
    drop_stream(&js, &cfg).await?;
    Ok(())
}
