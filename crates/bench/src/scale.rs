//! The `scale` scenario behind `docs/scale.md`: per-event costs measured on this machine,
//! extrapolated to a province's ten years (`--scale-target`, 100,000,000 events).
//!
//! On a fresh database it measures, for `--scale-events` events of the complaint
//! lifecycle (five events per case, as `bulk` loads them):
//! - append: the log's own INSERT rate (batched, every index, trigger and constraint of
//!   `events`), beside the same rows into a bare table of the same columns (no index, no
//!   trigger) in the same run: the baseline and the ratio;
//! - storage: bytes per event of the `events` table with its indexes, of the views, and
//!   of the JetStream stream (file storage, as the relay wrote it);
//! - relay publish and projection: a server started on the loaded log, the time until
//!   the stream holds every event and until the complaint projector applied every event
//!   (catch-up from zero, relay and projector running together);
//! - rebuild: `probity rebuild` of every view from the log.
//!
//! Then it prints the projection of each to `--scale-target` events: storage, catch-up
//! time, rebuild time. Costs are taken as linear in the number of events, which the
//! B-tree indexes of `events` (logarithmic) and a growing stream slightly flatter: the
//! figures are a floor, see docs/scale.md for where the curve bends.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::process::Command;

use crate::{drop_database, fresh_database, load_events, Args, Server};

/// Views written by the projectors (their tables, for the storage per event).
const VIEW_TABLES: &[&str] = &[
    "complaint_views",
    "deadline_entries",
    "projection_positions",
    "assessment_counts",
    "assessment_items",
    "assessment_owed",
];

pub async fn scale(args: &Args) -> anyhow::Result<()> {
    let events = args.scale_events;
    let target = args.scale_target as f64;
    let db_url = fresh_database(&args.admin_url).await?;
    let prefix = format!("scale{}", uuid::Uuid::new_v4().simple());
    let env = [("PROBITY_NATS_PREFIX", prefix.clone())];
    // Once so the migrations run, then stopped while the log is loaded.
    let server = Server::start_with(args, &db_url, &env).await?;
    server.stop().await;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&db_url)
        .await?;

    // Append: the log, then the same rows into a bare table (the baseline).
    let t = Instant::now();
    load_events(&pool, events).await?;
    let append_secs = t.elapsed().as_secs_f64();
    let (total,): (i64,) = sqlx::query_as("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await?;
    sqlx::query(
        "CREATE TABLE scale_baseline (aggregate_type TEXT, aggregate_id TEXT, sequence BIGINT, \
         event_type TEXT, event_version TEXT, payload JSONB, metadata JSONB)",
    )
    .execute(&pool)
    .await?;
    let t = Instant::now();
    let chunk = 10_000i64;
    let mut from = 0i64;
    while from < total {
        sqlx::query(
            "INSERT INTO scale_baseline \
             SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata \
               FROM events ORDER BY position OFFSET $1 LIMIT $2",
        )
        .bind(from)
        .bind(chunk)
        .execute(&pool)
        .await?;
        from += chunk;
    }
    let baseline_secs = t.elapsed().as_secs_f64();
    let append_rate = total as f64 / append_secs;
    let baseline_rate = total as f64 / baseline_secs;
    println!(
        "scale: append {total} events in {append_secs:.1} s = {append_rate:.0} events/s; \
         baseline (same rows, bare table, same run) {baseline_rate:.0} rows/s; ratio {:.2}",
        append_rate / baseline_rate
    );
    sqlx::query("DROP TABLE scale_baseline")
        .execute(&pool)
        .await?;

    // Catch-up from zero: relay and projector together.
    let t = Instant::now();
    let server = Server::start_with(args, &db_url, &env).await?;
    let client = async_nats::connect(args.nats_url.as_str()).await?;
    let js = async_nats::jetstream::new(client);
    let stream_name = format!("{}_EVENTS", prefix.to_uppercase());
    let deadline = Instant::now() + Duration::from_secs(3_600);
    let (mut published_at, mut projected_at) = (None, None);
    let mut stream_bytes = 0u64;
    while published_at.is_none() || projected_at.is_none() {
        if Instant::now() > deadline {
            bail!("the server did not catch up on {total} events within an hour");
        }
        let mut stream = js.get_stream(&stream_name).await?;
        let state = stream.info().await?.state.clone();
        if published_at.is_none() && state.messages >= total as u64 {
            published_at = Some(t.elapsed().as_secs_f64());
            stream_bytes = state.bytes;
        }
        let (applied,): (i64,) = sqlx::query_as(
            "SELECT COALESCE(SUM(last_sequence), 0)::bigint FROM projection_positions \
             WHERE projector = 'complaints'",
        )
        .fetch_one(&pool)
        .await?;
        if projected_at.is_none() && applied >= total {
            projected_at = Some(t.elapsed().as_secs_f64());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.stop().await;
    let (published, projected) = (
        published_at.unwrap_or_default(),
        projected_at.unwrap_or_default(),
    );
    let publish_rate = total as f64 / published;
    let catch_up_rate = total as f64 / projected;
    println!(
        "scale: catch-up from zero (server start included): relay published {total} in \
         {published:.1} s = {publish_rate:.0} events/s; projector applied them in \
         {projected:.1} s = {catch_up_rate:.0} events/s"
    );

    // Storage per event.
    let events_bytes = relation_bytes(&pool, "events").await?;
    let mut view_bytes = 0i64;
    for table in VIEW_TABLES {
        view_bytes += relation_bytes(&pool, table).await?;
    }
    let per = |bytes: f64| bytes / total as f64;
    println!(
        "scale: storage per event: log {:.0} B (table + indexes), views {:.0} B, stream {:.0} B",
        per(events_bytes as f64),
        per(view_bytes as f64),
        per(stream_bytes as f64)
    );

    // Rebuild of every view from the log.
    let t = Instant::now();
    let out = Command::new(&args.probity)
        .arg("rebuild")
        .env("DATABASE_URL", &db_url)
        .output()
        .await
        .context("probity rebuild")?;
    if !out.status.success() {
        bail!(
            "probity rebuild failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let rebuild_secs = t.elapsed().as_secs_f64();
    let rebuild_rate = total as f64 / rebuild_secs;
    println!(
        "scale: rebuild of {total} events in {rebuild_secs:.1} s = {rebuild_rate:.0} events/s"
    );

    // The projection to the target.
    let gib = |bytes_per_event: f64| bytes_per_event * target / (1u64 << 30) as f64;
    let hours = |rate: f64| target / rate / 3600.0;
    println!(
        "scale: at {target:.0} events: log {:.0} GiB, views {:.0} GiB, stream {:.0} GiB; \
         append-only load {:.1} h; relay re-publish {:.1} h; projection catch-up {:.1} h; \
         rebuild {:.1} h",
        gib(per(events_bytes as f64)),
        gib(per(view_bytes as f64)),
        gib(per(stream_bytes as f64)),
        hours(append_rate),
        hours(publish_rate),
        hours(catch_up_rate),
        hours(rebuild_rate)
    );
    let _ = js.delete_stream(&stream_name).await;
    pool.close().await;
    drop_database(&args.admin_url, &db_url).await?;
    Ok(())
}

/// Bytes of a table with its indexes and TOAST (0 when it does not exist).
async fn relation_bytes(pool: &PgPool, table: &str) -> anyhow::Result<i64> {
    let (bytes,): (Option<i64>,) =
        sqlx::query_as("SELECT pg_total_relation_size(to_regclass($1))::bigint")
            .bind(table)
            .fetch_one(pool)
            .await?;
    Ok(bytes.unwrap_or(0))
}
