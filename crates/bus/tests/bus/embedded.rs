//! Embedded mode (SQLite): the in-process bus feeds the projector, resumes from its
//! checkpoint; a relay on SQLite also feeds NATS.

use std::sync::Arc;

use probity_bus::{LocalProjector, LocalProjectorOptions};
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

fn spawn_local(
    db: &probity_store::Db,
) -> (
    tokio::task::JoinHandle<()>,
    CancellationToken,
    Arc<probity_bus::ProjectorMetrics>,
) {
    let local = LocalProjector::new(
        probity_store::EventLog::new(db.clone()),
        Arc::new(TableProjector::new(db)),
    )
    .with_options(LocalProjectorOptions {
        batch_size: 8,
        ..LocalProjectorOptions::default()
    });
    let metrics = local.metrics();
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    let handle = tokio::spawn(async move {
        local.run(token).await.expect("local projector");
    });
    (handle, shutdown, metrics)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_bus_feeds_the_projector_and_resumes_from_its_checkpoint() -> anyhow::Result<()> {
    let (db, _dir) = sqlite().await?;
    let (handle, shutdown, _) = spawn_local(&db);
    let ids = aggregate_ids(3);
    for id in &ids {
        append(&db, id, 10).await?;
    }
    wait_for_applied(&db, 30).await?;
    shutdown.cancel();
    tokio::time::timeout(WAIT, handle).await??;

    for id in &ids {
        append(&db, id, 5).await?;
    }
    let (handle, shutdown, metrics) = spawn_local(&db);
    wait_for_applied(&db, 45).await?;
    let expected: Vec<_> = ids.iter().map(|id| (id.clone(), 15)).collect();
    assert_view_exact(&db, &expected).await?;
    let stats = metrics.snapshot();
    assert_eq!(stats.applied, 15);
    assert_eq!(
        stats.already_applied, 0,
        "the restart re-read events before its checkpoint"
    );
    shutdown.cancel();
    tokio::time::timeout(WAIT, handle).await??;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_on_sqlite_feeds_nats_consumers() -> anyhow::Result<()> {
    let (db, _dir) = sqlite().await?;
    let js = jetstream().await?;
    let cfg = bus_config();
    let relay = spawn_relay(&db, &js, &cfg);
    let (consumer, stop_consumer) = spawn_consumer(&js, &cfg, Arc::new(TableProjector::new(&db)));
    let ids = aggregate_ids(2);
    for id in &ids {
        append(&db, id, 6).await?;
    }
    wait_for_applied(&db, 12).await?;
    let expected: Vec<_> = ids.iter().map(|id| (id.clone(), 6)).collect();
    assert_view_exact(&db, &expected).await?;
    relay.shutdown.cancel();
    stop_consumer.cancel();
    tokio::time::timeout(WAIT, relay.handle).await??;
    tokio::time::timeout(WAIT, consumer).await??;
    drop_stream(&js, &cfg).await?;
    Ok(())
}
