//! The `cluster` scenario (issue 13, "Benchmark"): Probity on a 3-node JetStream cluster
//! against a single NATS node, on private loopback servers only.
//!
//! Every NATS server here is the machine's `nats-server` started by this program on free
//! ports with its own store dir (`probity_testkit::nats`: a 3-node cluster, or one node),
//! never the shared `--nats-url`; every Probity server is `probity serve` on a fresh
//! database of the shared Postgres, with `NATS_URL` listing the private nodes.
//!
//! 1. Intake and catch-up, with 1 and with 2 server processes, on one NATS node
//!    (replicas 1, the baseline) and on the 3-node cluster (replicas 3), in that order:
//!    - intake: `--cluster-clients` clients file complaints (`POST /complaints`, each
//!      client on one server, in turn) for `--cluster-seconds`;
//!    - catch-up: `--cluster-backlog` events (complaints of five events) loaded straight
//!      into the log of a fresh database while no server runs, then the servers started
//!      together: the time until the stream holds every event (relay) and until the
//!      complaint projector applied every event (server start included).
//!
//!    Each phase reports each server process's CPU seconds (utime + stime from
//!    `/proc/PID/stat`) and the machine's busy CPU seconds (`/proc/stat`, all processes:
//!    Postgres, the NATS nodes, this program and anything else running).
//! 2. Fail-over: two servers on the cluster; `--cluster-failovers` times the server that
//!    holds the relay lock is killed (SIGKILL): the time until the survivor leads the
//!    relay and until it holds every projection partition; then the killed one is
//!    started again and the partitions are shared again before the next round.
//! 3. View lag under a NATS node loss: two servers on the cluster, filings at
//!    `--cluster-rate` per second for `--cluster-lag-seconds`, each acknowledged filing
//!    (201) watched until its row is in `complaint_views` (polled every 10 ms); once
//!    without a fault, then with the node leading the event stream killed (SIGKILL) after
//!    a quarter of the window and started again at half of it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hdrhistogram::Histogram;
use probity_testkit::nats::{NatsCluster, PrivateNats};
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::process::Command;

use crate::{
    command_loop, drop_database, fresh_database, latencies, load_events, metric, quantiles_ms,
    Args, Server,
};

/// The private NATS of one topology.
enum Nats {
    Single(PrivateNats),
    Cluster(NatsCluster),
}

impl Nats {
    async fn start(cluster: bool) -> anyhow::Result<Self> {
        Ok(if cluster {
            Nats::Cluster(NatsCluster::start(3).await?)
        } else {
            Nats::Single(PrivateNats::start().await?)
        })
    }

    fn urls(&self) -> String {
        match self {
            Nats::Single(n) => n.url(),
            Nats::Cluster(c) => c.urls(),
        }
    }

    fn replicas(&self) -> usize {
        match self {
            Nats::Single(_) => 1,
            Nats::Cluster(_) => 3,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Nats::Single(_) => "1 NATS node, replicas 1",
            Nats::Cluster(_) => "3-node cluster, replicas 3",
        }
    }
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime is field 14, stime field 15: indexes 11 and 12 after the state (field 3).
    (ticks(11) + ticks(12)) as f64 / clock_ticks()
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf reads a constant of the system.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// The machine's busy CPU seconds so far (all cores, every process): total minus idle
/// and iowait of `/proc/stat`.
fn machine_busy_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return 0.0;
    };
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0.0;
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle) as f64 / clock_ticks()
}

/// CPU seconds of each server and of the machine over a phase.
struct CpuMeter {
    pids: Vec<u32>,
    servers: Vec<f64>,
    machine: f64,
    started: Instant,
}

impl CpuMeter {
    fn start(servers: &[Server]) -> Self {
        let pids: Vec<u32> = servers.iter().filter_map(|s| s.child.id()).collect();
        Self {
            servers: pids.iter().map(|p| cpu_secs(*p)).collect(),
            pids,
            machine: machine_busy_secs(),
            started: Instant::now(),
        }
    }

    /// "server CPU 3.1 s + 2.9 s (of 10.0 s wall), machine busy 17.2 s of 20.0 s".
    fn report(&self) -> String {
        let wall = self.started.elapsed().as_secs_f64();
        let servers: Vec<String> = self
            .pids
            .iter()
            .zip(&self.servers)
            .map(|(p, before)| format!("{:.1} s", cpu_secs(*p) - before))
            .collect();
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1) as f64;
        format!(
            "server CPU {} in {wall:.1} s wall; machine busy {:.1} of {:.1} core-seconds",
            servers.join(" + "),
            machine_busy_secs() - self.machine,
            wall * cores
        )
    }
}

/// Starts `n` servers on `db_url` sharing `prefix`, on the private NATS.
async fn start_servers(
    args: &Args,
    nats: &Nats,
    db_url: &str,
    prefix: &str,
    n: usize,
) -> anyhow::Result<Vec<Server>> {
    let env = [
        ("NATS_URL", nats.urls()),
        ("PROBITY_NATS_REPLICAS", nats.replicas().to_string()),
        ("PROBITY_NATS_PREFIX", prefix.to_string()),
    ];
    // One after the other (the first creates the streams), each retried: on a loaded
    // machine a replicated stream's creation may time out.
    let mut started = Vec::with_capacity(n);
    for _ in 0..n {
        let mut attempt = 0;
        loop {
            match start_one(args, nats, db_url, &env).await {
                Ok(server) => break started.push(server),
                Err(e) if attempt < 2 => {
                    attempt += 1;
                    println!("cluster: a server did not start ({e:#}); trying again");
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(started)
}

async fn start_one(
    args: &Args,
    nats: &Nats,
    db_url: &str,
    env: &[(&str, String)],
) -> anyhow::Result<Server> {
    let mut server = Server::start_with(args, db_url, env).await?;
    // `Server::stop` cleans up its stream on `nats_url`: the private one, never the shared.
    server.nats_url = nats
        .urls()
        .split(',')
        .next()
        .unwrap_or_default()
        .to_string();
    Ok(server)
}

/// SIGTERM and wait (the stream stays: the private NATS goes away with its store).
async fn halt(mut server: Server) {
    if let Some(pid) = server.child.id() {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(15), server.child.wait()).await;
    let _ = server.child.kill().await;
}

/// A fresh database with its migrations run (one server started and stopped on it).
async fn migrated_database(args: &Args, nats: &Nats) -> anyhow::Result<String> {
    let db_url = fresh_database(&args.admin_url).await?;
    let prefix = format!("cbench{}", uuid::Uuid::new_v4().simple());
    for s in start_servers(args, nats, &db_url, &prefix, 1).await? {
        halt(s).await;
    }
    Ok(db_url)
}

/// Waits until the complaint projector applied every complaint event of the log.
async fn wait_projected(pool: &PgPool, limit: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        let (total, applied): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM events WHERE aggregate_type = 'complaint'), \
                    (SELECT COALESCE(SUM(last_sequence), 0)::bigint FROM projection_positions \
                      WHERE projector = 'complaints')",
        )
        .fetch_one(pool)
        .await?;
        if applied >= total {
            return Ok(started.elapsed());
        }
        if started.elapsed() > limit {
            bail!("the complaint projector applied {applied} of {total} events in {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn cluster(args: &Args) -> anyhow::Result<()> {
    let phase = |name: &str| args.cluster_phases.iter().any(|p| p == name);
    if phase("scaling") {
        scaling(args).await?;
    }
    if phase("failover") {
        failover(args).await?;
    }
    if phase("lag") {
        lag(args).await?;
    }
    Ok(())
}

/// Intake and catch-up with 1 and 2 servers, single node then cluster.
async fn scaling(args: &Args) -> anyhow::Result<()> {
    let mut intake_cps: HashMap<(bool, usize), f64> = HashMap::new();
    let mut catch_up_secs: HashMap<(bool, usize), f64> = HashMap::new();
    for on_cluster in [false, true] {
        let nats = Nats::start(on_cluster).await?;
        for servers in [1usize, 2] {
            let cps = intake(args, &nats, servers).await?;
            intake_cps.insert((on_cluster, servers), cps);
            let secs = catch_up(args, &nats, servers).await?;
            catch_up_secs.insert((on_cluster, servers), secs);
        }
    }
    for servers in [1usize, 2] {
        let (single, clustered) = (intake_cps[&(false, servers)], intake_cps[&(true, servers)]);
        let (single_cu, clustered_cu) = (
            catch_up_secs[&(false, servers)],
            catch_up_secs[&(true, servers)],
        );
        println!(
            "cluster: {servers} server(s): intake on the cluster {clustered:.0}/s = {:.2}x the single node's {single:.0}/s; \
             catch-up on the cluster {clustered_cu:.1} s = {:.2}x the single node's {single_cu:.1} s (rate ratio {:.2})",
            clustered / single.max(f64::MIN_POSITIVE),
            clustered_cu / single_cu.max(f64::MIN_POSITIVE),
            single_cu / clustered_cu.max(f64::MIN_POSITIVE)
        );
    }
    for on_cluster in [false, true] {
        let label = if on_cluster { "cluster" } else { "single node" };
        println!(
            "cluster: {label}: 2 servers / 1 server: intake {:.2}x, catch-up rate {:.2}x",
            intake_cps[&(on_cluster, 2)] / intake_cps[&(on_cluster, 1)].max(f64::MIN_POSITIVE),
            catch_up_secs[&(on_cluster, 1)]
                / catch_up_secs[&(on_cluster, 2)].max(f64::MIN_POSITIVE)
        );
    }
    Ok(())
}

/// Intake through HTTP with `--cluster-clients` clients on `n` servers.
async fn intake(args: &Args, nats: &Nats, n: usize) -> anyhow::Result<f64> {
    let db_url = fresh_database(&args.admin_url).await?;
    let prefix = format!("cbench{}", uuid::Uuid::new_v4().simple());
    let servers = start_servers(args, nats, &db_url, &prefix, n).await?;
    let token = servers[0].token(args, "intake", None).await?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&db_url)
        .await?;
    let http = reqwest::Client::new();
    // Let the servers share the partitions before timing.
    if n > 1 {
        wait_balanced(&http, &servers, Duration::from_secs(30)).await?;
    }
    let count = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let meter = CpuMeter::start(&servers);
    let end = Instant::now() + Duration::from_secs(args.cluster_seconds);
    let tasks: Vec<_> = (0..args.cluster_clients)
        .map(|c| {
            tokio::spawn(command_loop(
                http.clone(),
                servers[c % n].url.clone(),
                token.clone(),
                String::new(),
                end,
                false,
                count.clone(),
                errors.clone(),
            ))
        })
        .collect();
    let hist = latencies(tasks).await?;
    let cpu = meter.report();
    let cps = count.load(Ordering::Relaxed) as f64 / args.cluster_seconds as f64;
    let (p50, p99, _) = quantiles_ms(&hist);
    println!(
        "cluster: intake, {}, {n} server(s), {} clients, {} s: {cps:.0} commands/s (p50 {p50:.1} ms, p99 {p99:.1} ms), {} errors; {cpu}",
        nats.label(),
        args.cluster_clients,
        args.cluster_seconds,
        errors.load(Ordering::Relaxed)
    );
    // The views drain what was filed (not timed into the intake figure).
    let meter = CpuMeter::start(&servers);
    let drained = wait_projected(&pool, Duration::from_secs(300)).await?;
    println!(
        "cluster: intake, {}, {n} server(s): views caught up {:.1} s after the load stopped; {}",
        nats.label(),
        drained.as_secs_f64(),
        meter.report()
    );
    for s in servers {
        halt(s).await;
    }
    pool.close().await;
    drop_database(&args.admin_url, &db_url).await?;
    Ok(cps)
}

/// Catch-up of `--cluster-backlog` events by `n` servers started together.
async fn catch_up(args: &Args, nats: &Nats, n: usize) -> anyhow::Result<f64> {
    let db_url = migrated_database(args, nats).await?;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&db_url)
        .await?;
    load_events(&pool, args.cluster_backlog).await?;
    let (total,): (i64,) = sqlx::query_as("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await?;
    let prefix = format!("cbench{}", uuid::Uuid::new_v4().simple());
    let machine = machine_busy_secs();
    let t = Instant::now();
    let servers = start_servers(args, nats, &db_url, &prefix, n).await?;
    // The servers' CPU counts from their start (they are new processes).
    let meter = CpuMeter {
        servers: vec![0.0; servers.len()],
        pids: servers.iter().filter_map(|s| s.child.id()).collect(),
        machine,
        started: t,
    };
    let client = async_nats::connect(nats.urls().split(',').collect::<Vec<_>>()).await?;
    let js = async_nats::jetstream::new(client);
    let stream_name = format!("{}_EVENTS", prefix.to_uppercase());
    let mut published = None;
    let projected;
    loop {
        if published.is_none() {
            if let Ok(mut stream) = js.get_stream(&stream_name).await {
                if stream.info().await?.state.messages >= total as u64 {
                    published = Some(t.elapsed());
                }
            }
        }
        let (applied,): (i64,) = sqlx::query_as(
            "SELECT COALESCE(SUM(last_sequence), 0)::bigint FROM projection_positions \
             WHERE projector = 'complaints'",
        )
        .fetch_one(&pool)
        .await?;
        if applied >= total {
            projected = t.elapsed();
            break;
        }
        if t.elapsed() > Duration::from_secs(1_800) {
            bail!("{n} server(s) applied {applied} of {total} events in 30 minutes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cpu = meter.report();
    let secs = projected.as_secs_f64();
    println!(
        "cluster: catch-up, {}, {n} server(s), {total} events (server start included): relay published them in {}; \
         the views applied them in {secs:.1} s = {:.0} events/s; {cpu}",
        nats.label(),
        published
            .map(|p| format!("{:.1} s", p.as_secs_f64()))
            .unwrap_or_else(|| "(not seen before the views)".into()),
        total as f64 / secs
    );
    for s in servers {
        halt(s).await;
    }
    pool.close().await;
    drop_database(&args.admin_url, &db_url).await?;
    Ok(secs)
}

/// Partitions held and relay leadership of each server, from `/metrics`.
async fn holdings(http: &reqwest::Client, servers: &[Server]) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for s in servers {
        let held = metric(http, &s.url, "probity_partitions_held")
            .await
            .unwrap_or(-1.0);
        let relay = metric(http, &s.url, "probity_relay_leader")
            .await
            .unwrap_or(-1.0);
        out.push((held, relay));
    }
    out
}

/// Projection partitions (the servers' default, `PROBITY_NATS_PARTITIONS` unset).
const PARTITIONS: f64 = 8.0;

/// Waits until every server holds a share of the partitions and one leads the relay.
async fn wait_balanced(
    http: &reqwest::Client,
    servers: &[Server],
    limit: Duration,
) -> anyhow::Result<Vec<(f64, f64)>> {
    let started = Instant::now();
    loop {
        let h = holdings(http, servers).await;
        let leaders = h.iter().filter(|(_, r)| *r == 1.0).count();
        let held: f64 = h.iter().map(|(held, _)| held).sum();
        if h.iter().all(|(held, _)| *held >= 1.0) && leaders == 1 && held == PARTITIONS {
            return Ok(h);
        }
        if started.elapsed() > limit {
            bail!("the servers did not share the partitions within {limit:?}: {h:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn median_max(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let median = if v.is_empty() {
        0.0
    } else if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    (median, v.last().copied().unwrap_or(0.0))
}

/// Relay fail-over and partition take-over when the relay's server is killed.
async fn failover(args: &Args) -> anyhow::Result<()> {
    let nats = Nats::start(true).await?;
    let db_url = migrated_database(args, &nats).await?;
    let prefix = format!("cbench{}", uuid::Uuid::new_v4().simple());
    let mut servers = start_servers(args, &nats, &db_url, &prefix, 2).await?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let (mut relay_ms, mut partitions_ms) = (Vec::new(), Vec::new());
    for round in 0..args.cluster_failovers {
        let h = wait_balanced(&http, &servers, Duration::from_secs(60)).await?;
        let victim = h.iter().position(|(_, r)| *r == 1.0).unwrap_or(0);
        let total = PARTITIONS;
        let moved = h[victim].0;
        let mut killed_server = servers.remove(victim);
        let killed = Instant::now();
        killed_server.child.kill().await?;
        let survivor_server = &servers[0];
        let (mut relay_at, mut partitions_at) = (None, None);
        while relay_at.is_none() || partitions_at.is_none() {
            let held = metric(&http, &survivor_server.url, "probity_partitions_held").await;
            let relay = metric(&http, &survivor_server.url, "probity_relay_leader").await;
            if relay_at.is_none() && relay == Some(1.0) {
                relay_at = Some(killed.elapsed());
            }
            if partitions_at.is_none() && held == Some(total) {
                partitions_at = Some(killed.elapsed());
            }
            if killed.elapsed() > Duration::from_secs(60) {
                bail!("round {round}: the survivor did not take over within 60 s (relay {relay_at:?}, partitions {partitions_at:?})");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (r, p) = (
            relay_at.unwrap_or_default().as_secs_f64() * 1000.0,
            partitions_at.unwrap_or_default().as_secs_f64() * 1000.0,
        );
        println!(
            "cluster: fail-over round {}: relay's server killed (SIGKILL); survivor leads the relay after {r:.0} ms, holds all {total:.0} partitions ({moved:.0} moved) after {p:.0} ms",
            round + 1
        );
        relay_ms.push(r);
        partitions_ms.push(p);
        // Back to two servers for the next round.
        servers.extend(start_servers(args, &nats, &db_url, &prefix, 1).await?);
    }
    let (r50, rmax) = median_max(&mut relay_ms);
    let (p50, pmax) = median_max(&mut partitions_ms);
    println!(
        "cluster: fail-over over {} rounds (3-node cluster, 2 servers, polled every 20 ms): relay median {r50:.0} ms, max {rmax:.0} ms; partitions median {p50:.0} ms, max {pmax:.0} ms",
        args.cluster_failovers
    );
    for s in servers {
        halt(s).await;
    }
    drop_database(&args.admin_url, &db_url).await?;
    Ok(())
}

/// View lag (acknowledged → in `complaint_views`) at a steady rate, without and with a
/// NATS node loss.
async fn lag(args: &Args) -> anyhow::Result<()> {
    let mut nats = Nats::start(true).await?;
    let db_url = migrated_database(args, &nats).await?;
    let prefix = format!("cbench{}", uuid::Uuid::new_v4().simple());
    let servers = start_servers(args, &nats, &db_url, &prefix, 2).await?;
    let token = servers[0].token(args, "intake", None).await?;
    let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    wait_balanced(&http, &servers, Duration::from_secs(30)).await?;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&db_url)
        .await?;
    let mut baseline_p99 = 0.0;
    for with_loss in [false, true] {
        let window = Duration::from_secs(args.cluster_lag_seconds);
        let run = tokio::spawn(steady_load(
            http.clone(),
            urls.clone(),
            token.clone(),
            pool.clone(),
            args.cluster_rate,
            window,
        ));
        let mut fault = String::new();
        if with_loss {
            let Nats::Cluster(cluster) = &mut nats else {
                bail!("the lag scenario runs on the cluster");
            };
            tokio::time::sleep(window / 4).await;
            let node = stream_leader_of(cluster, &prefix).await.unwrap_or(0);
            cluster.kill(node);
            let killed = Instant::now();
            tokio::time::sleep(window / 4).await;
            cluster.restart(node).await?;
            fault = format!(
                " with node {node} (the event stream's leader) killed at {:.0} s and started again {:.1} s later",
                window.as_secs_f64() / 4.0,
                killed.elapsed().as_secs_f64()
            );
        }
        let r = run.await??;
        let (p50, p99, max) = quantiles_ms(&r.lag);
        let (c50, c99, cmax) = quantiles_ms(&r.ack);
        if !with_loss {
            baseline_p99 = p99;
        }
        let ratio = if with_loss {
            format!(
                "; p99 {:.2}x the run without a fault",
                p99 / f64::max(baseline_p99, 0.001)
            )
        } else {
            String::new()
        };
        println!(
            "cluster: view lag, 2 servers, 3-node cluster, {} filings/s for {} s{fault}: {} acknowledged ({} attempts failed, {} never acknowledged, {} not seen in the view); \
             acknowledged → in the view p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms{ratio}; filing (first try → 201) p50 {c50:.1} ms, p99 {c99:.1} ms, max {cmax:.1} ms",
            args.cluster_rate,
            args.cluster_lag_seconds,
            r.acked,
            r.failed_attempts,
            r.lost,
            r.unseen
        );
        if r.unseen > 0 || r.lost > 0 {
            println!("cluster: view lag: WARNING: not every filing reached the view");
        }
    }
    for s in servers {
        halt(s).await;
    }
    pool.close().await;
    drop_database(&args.admin_url, &db_url).await?;
    Ok(())
}

/// The node (index) leading the event stream, from its server name `…-n<i>`.
async fn stream_leader_of(cluster: &NatsCluster, prefix: &str) -> anyhow::Result<usize> {
    let urls = cluster.urls();
    let client = async_nats::connect(urls.split(',').collect::<Vec<_>>()).await?;
    let js = async_nats::jetstream::new(client);
    let mut stream = js
        .get_stream(format!("{}_EVENTS", prefix.to_uppercase()))
        .await?;
    let info = stream.info().await?;
    let leader = info
        .cluster
        .as_ref()
        .and_then(|c| c.leader.clone())
        .context("the event stream has no leader")?;
    leader
        .rsplit_once("-n")
        .and_then(|(_, i)| i.parse().ok())
        .with_context(|| format!("node index of {leader:?}"))
}

struct LagRun {
    lag: Histogram<u64>,
    ack: Histogram<u64>,
    acked: u64,
    failed_attempts: u64,
    lost: u64,
    unseen: usize,
}

/// Files at `rate` per second for `window` on the servers in turn (a failed attempt is
/// sent again with its Idempotency-Key, on the other server), and watches every
/// acknowledged filing until its row is in `complaint_views`.
async fn steady_load(
    http: reqwest::Client,
    urls: Vec<String>,
    token: String,
    pool: PgPool,
    rate: u64,
    window: Duration,
) -> anyhow::Result<LagRun> {
    let pending: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let lags: Arc<Mutex<Histogram<u64>>> = Arc::new(Mutex::new(Histogram::new(3)?));
    let acks: Arc<Mutex<Histogram<u64>>> = Arc::new(Mutex::new(Histogram::new(3)?));
    let failed = Arc::new(AtomicU64::new(0));
    let lost = Arc::new(AtomicU64::new(0));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (pending, lags, done, pool) = (pending.clone(), lags.clone(), done.clone(), pool);
        tokio::spawn(async move {
            let mut drained_since: Option<Instant> = None;
            loop {
                let ids: Vec<String> = pending.lock().unwrap().keys().cloned().collect();
                if !ids.is_empty() {
                    let seen: Vec<(String,)> =
                        sqlx::query_as("SELECT id FROM complaint_views WHERE id = ANY($1)")
                            .bind(&ids)
                            .fetch_all(&pool)
                            .await?;
                    let now = Instant::now();
                    let mut p = pending.lock().unwrap();
                    let mut h = lags.lock().unwrap();
                    for (id,) in seen {
                        if let Some(acked) = p.remove(&id) {
                            h.record((now - acked).as_micros().max(1) as u64)?;
                        }
                    }
                }
                if done.load(Ordering::Relaxed) {
                    let left = pending.lock().unwrap().len();
                    let since = *drained_since.get_or_insert_with(Instant::now);
                    if left == 0 || since.elapsed() > Duration::from_secs(60) {
                        return anyhow::Ok(left);
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let total = (rate as f64 * window.as_secs_f64()) as u64;
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1) as f64));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        ticker.tick().await;
        let (http, urls, token) = (http.clone(), urls.clone(), token.clone());
        let (pending, acks, failed, lost) =
            (pending.clone(), acks.clone(), failed.clone(), lost.clone());
        let key = format!("cbench-{run}-{i}");
        tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            for attempt in 0..100usize {
                let url = &urls[(i as usize + attempt) % urls.len()];
                let r = http
                    .post(format!("{url}/api/v1/complaints"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", &key)
                    .json(
                        &json!({"category": "help", "channel": "web", "title": "lag",
                                  "description": "lag probe", "reporter": {"anonymous": true}}),
                    )
                    .send()
                    .await;
                if let Ok(r) = r {
                    if r.status().as_u16() == 201 {
                        let body: serde_json::Value = r.json().await.unwrap_or_default();
                        let now = Instant::now();
                        if let Some(id) = body["id"].as_str() {
                            pending.lock().unwrap().insert(id.to_string(), now);
                            let _ = acks
                                .lock()
                                .unwrap()
                                .record((now - started).as_micros().max(1) as u64);
                            return;
                        }
                    }
                }
                failed.fetch_add(1, Ordering::Relaxed);
                if started.elapsed() > Duration::from_secs(30) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            lost.fetch_add(1, Ordering::Relaxed);
        }));
    }
    for t in tasks {
        t.await?;
    }
    done.store(true, Ordering::Relaxed);
    let unseen = watcher.await??;
    let lag = lags.lock().unwrap().clone();
    let ack = acks.lock().unwrap().clone();
    Ok(LagRun {
        acked: ack.len(),
        lag,
        ack,
        failed_attempts: failed.load(Ordering::Relaxed),
        lost: lost.load(Ordering::Relaxed),
        unseen,
    })
}
