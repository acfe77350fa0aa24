//! `probity-bench`: the benchmark program behind `docs/performance.md`.
//!
//! It drives the real release binary (`target/release/probity serve`) as a child process
//! against the machine's Postgres and NATS, each scenario on a fresh database and a
//! unique subject prefix, and prints every figure beside the command that reproduces it:
//!
//! - `baseline`: one-row INSERT transactions into a table shaped like `events`, 16 clients;
//! - `commands`: complaint commands per second through the HTTP API at 1 and 16 clients;
//! - `lag`: commit-to-view lag (event recorded → view row written) at a steady rate;
//! - `bulk`: 1,000,000 events loaded into the log, the server started on them until every
//!   view has caught up, its resident memory read from `/proc`, then `probity rebuild` timed;
//! - `replay`: one complaint with 10,000 events, its history `as_of` now (the view folded
//!   from all 10,000 events) timed through the HTTP API and as a pure in-process fold;
//! - `verify`: `--events` events sealed by a server holding an audit key, then
//!   `probity audit verify` timed;
//! - `assessments`: `GET /public/assessments` from the stored projection on a small and
//!   a large log, beside the same run's reference fold (see `assessments.rs`);
//! - `scale`: per-event costs (append beside a bare-table baseline, storage, relay
//!   publish, projection, rebuild) extrapolated to 100,000,000 events (see `scale.rs`);
//! - `deadlines`: the deadline engine (in this process, on an injected clock) over
//!   `--deadlines` open deadlines: due → overdue event delay, memory, and the board
//!   query per filter (see `deadlines.rs`);
//! - `restrictions`: the restriction check over 1,000,000 records generated into
//!   `record_views`, beside `SELECT 1` and the same check without its index (see
//!   `restrictions.rs`);
//! - `cluster`: intake and catch-up with 1 and 2 servers on a private 3-node JetStream
//!   cluster (replicas 3) beside a private single node (replicas 1), per-server CPU;
//!   relay and partition fail-over after a SIGKILL; view lag during a NATS node loss
//!   (see `cluster.rs`).
//!
//! Nothing here is a test: figures are reported as measured, missed targets included.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use cqrs_es::DomainEvent;
use hdrhistogram::Histogram;
use probity_domain::calendar::Deadline;
use probity_domain::complaint::{Category, Channel, ComplaintEvent};
use probity_domain::CreditCode;
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

mod assessments;
mod cluster;
mod deadlines;
mod keyed;
mod open311;
mod peer;
mod restrictions;
mod scale;

#[derive(Debug, Parser)]
#[command(name = "probity-bench", about = "Probity benchmark program")]
struct Args {
    /// Postgres server to create the benchmark databases on.
    #[arg(
        long,
        env = "BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    admin_url: String,
    /// NATS server with JetStream.
    #[arg(long, env = "BENCH_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// The probity binary (build it with `cargo build --release` first).
    #[arg(long, default_value = "target/release/probity")]
    probity: PathBuf,
    /// An earlier probity binary for the keyed scenario's same-run comparison.
    #[arg(long)]
    probity_before: Option<PathBuf>,
    /// Duration of each timed run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Steady command rate for the lag scenario.
    #[arg(long, default_value_t = 500)]
    rate: u64,
    /// Events in the bulk scenario.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Scenarios to run, comma-separated: baseline, commands (Postgres + NATS, group
    /// commit off then on), commands-embedded (the same on SQLite), peer (a naive
    /// cqrs-es + postgres-es program, no HTTP, view inline), lag, bulk (load, catch up,
    /// memory, rebuild), rebuild (load and rebuild only), replay (one 10,000-event case),
    /// verify (seal `--events` events, then `probity audit verify`), deadlines (the
    /// deadline engine over `--deadlines` open deadlines; not in the default list), keyed
    /// (named intake with an Idempotency-Key, `--probity-before` against `--probity`
    /// alternately; not in the default list), assessments (`GET /public/assessments` at
    /// `--assessment-sizes`, beside the reference fold; not in the default list),
    /// restrictions (the restriction check over `--restriction-records` records in
    /// `record_views`, beside `SELECT 1` and the unindexed check; not in the default list),
    /// scale (per-event costs on `--scale-events` events extrapolated to `--scale-target`;
    /// see `scale.rs` and docs/scale.md; not in the default list),
    /// open311-window (Open311's date-window read before and after ADR 0020, over
    /// `--window-cases` cases, in process; not in the default list),
    /// cluster (private 3-node NATS cluster against a private single node: intake,
    /// catch-up, fail-over, lag under a node loss; see `cluster.rs`; not in the default
    /// list).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "baseline,peer,commands,commands-embedded,lag,bulk,replay,verify"
    )]
    scenarios: Vec<String>,
    /// Open deadlines on the board in the deadlines scenario.
    #[arg(long, default_value_t = 1_000_000)]
    deadlines: u64,
    /// Cases of each batch made due at a known instant in the deadlines scenario.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "100,100,100,100,100,1000,1000,1000,5000"
    )]
    due_batches: Vec<u64>,
    /// Deadlines scenario: do not ANALYZE `deadline_firings` before each batch (the engine's
    /// read then runs on the statistics of an empty table, as on a fresh database).
    #[arg(long)]
    stale_firings_stats: bool,
    /// Timed board queries per filter in the deadlines scenario.
    #[arg(long, default_value_t = 200)]
    board_runs: usize,
    /// Log sizes the assessments scenario measures at, in order (default: 10,000 and
    /// `--events`).
    #[arg(long, value_delimiter = ',')]
    assessment_sizes: Vec<i64>,
    /// Timed `GET /public/assessments` per size in the assessments scenario.
    #[arg(long, default_value_t = 200)]
    assessment_runs: u64,
    /// Timed reference folds (`as_of`) per size in the assessments scenario.
    #[arg(long, default_value_t = 5)]
    fold_runs: u64,
    /// Records generated into `record_views` in the restrictions scenario.
    #[arg(long, default_value_t = 1_000_000)]
    restriction_records: u64,
    /// Timed restriction checks in the restrictions scenario.
    #[arg(long, default_value_t = 10_000)]
    restriction_runs: usize,
    /// Events the scale scenario measures its per-event costs on.
    #[arg(long, default_value_t = 200_000)]
    scale_events: u64,
    /// Events the scale scenario extrapolates to (a province's ten years).
    #[arg(long, default_value_t = 100_000_000)]
    scale_target: u64,
    /// Cases in `complaint_views` in the open311-window scenario.
    #[arg(long, default_value_t = 100_000)]
    window_cases: u64,
    /// Timed window reads each way in the open311-window scenario.
    #[arg(long, default_value_t = 20)]
    window_runs: u64,
    /// Concurrent filing clients in the cluster scenario's intake phase.
    #[arg(long, default_value_t = 8)]
    cluster_clients: usize,
    /// Duration of each intake phase of the cluster scenario, in seconds.
    #[arg(long, default_value_t = 8)]
    cluster_seconds: u64,
    /// Events loaded into the log for each catch-up phase of the cluster scenario.
    #[arg(long, default_value_t = 50_000)]
    cluster_backlog: u64,
    /// Kills of the relay's server in the cluster scenario's fail-over phase.
    #[arg(long, default_value_t = 3)]
    cluster_failovers: usize,
    /// Filings per second in the cluster scenario's lag phase.
    #[arg(long, default_value_t = 50)]
    cluster_rate: u64,
    /// Parts of the cluster scenario to run, comma-separated: scaling (intake and
    /// catch-up), failover, lag.
    #[arg(long, value_delimiter = ',', default_value = "scaling,failover,lag")]
    cluster_phases: Vec<String>,
    /// Duration of each window of the cluster scenario's lag phase, in seconds.
    #[arg(long, default_value_t = 20)]
    cluster_lag_seconds: u64,
}

const UNIT: &str = "113604000123456713";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // The deadlines scenario runs the engine in this process: no server binary needed.
    if args
        .scenarios
        .iter()
        .any(|s| s != "deadlines" && s != "restrictions" && s != "open311-window")
        && !args.probity.exists()
    {
        bail!(
            "{} does not exist: run `cargo build --release` first",
            args.probity.display()
        );
    }
    println!(
        "# probity-bench on {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    let mut baseline_tps = None;
    for scenario in &args.scenarios {
        match scenario.as_str() {
            "baseline" => baseline_tps = Some(baseline(&args).await?),
            "commands" => commands(&args, baseline_tps).await?,
            "commands-embedded" => commands_embedded(&args).await?,
            "peer" => peer::peer(&args).await?,
            "lag" => lag(&args).await?,
            "bulk" => bulk(&args).await?,
            "rebuild" => rebuild_only(&args).await?,
            "replay" => replay(&args).await?,
            "verify" => verify(&args).await?,
            "deadlines" => deadlines::deadlines(&args).await?,
            "keyed" => keyed::keyed(&args).await?,
            "assessments" => assessments::assessments(&args).await?,
            "restrictions" => restrictions::restrictions(&args).await?,
            "scale" => scale::scale(&args).await?,
            "open311-window" => open311::open311_window(&args).await?,
            "cluster" => cluster::cluster(&args).await?,
            other => bail!("unknown scenario {other:?}"),
        }
    }
    Ok(())
}

/// Drops a benchmark database (the bulk one holds a million events).
async fn drop_database(admin_url: &str, db_url: &str) -> anyhow::Result<()> {
    let name = db_url
        .split('?')
        .next()
        .and_then(|u| u.rsplit('/').next())
        .unwrap_or_default();
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(admin_url)
        .await?;
    admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await
        .with_context(|| format!("dropping {name}"))?;
    Ok(())
}

/// Creates a fresh database and returns its URL.
async fn fresh_database(admin_url: &str) -> anyhow::Result<String> {
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(admin_url)
        .await
        .with_context(|| format!("connecting to {admin_url}"))?;
    let name = format!("probity_bench_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .context("creating the benchmark database")?;
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(admin_url);
    Ok(format!("{base}/{name}"))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A `probity serve` child process.
struct Server {
    child: Child,
    url: String,
    db_url: String,
    nats_url: String,
    /// The server's subject prefix: its stream is deleted when it stops.
    prefix: String,
    /// The embedded store's data dir (no Postgres, no NATS), when embedded.
    data_dir: Option<PathBuf>,
}

impl Server {
    async fn start(args: &Args, db_url: &str) -> anyhow::Result<Server> {
        Self::start_with(args, db_url, &[]).await
    }

    /// Starts `probity serve` with extra environment variables.
    async fn start_with(
        args: &Args,
        db_url: &str,
        env: &[(&str, String)],
    ) -> anyhow::Result<Server> {
        Self::spawn(args, Some(db_url), None, env).await
    }

    /// Starts another probity binary (`bin`) on `db_url`.
    async fn start_binary(
        args: &Args,
        bin: &std::path::Path,
        db_url: &str,
    ) -> anyhow::Result<Server> {
        Self::spawn_binary(args, bin, Some(db_url), None, &[]).await
    }

    /// Starts `probity serve` on the embedded store in `data_dir` (in-process bus).
    async fn start_embedded(
        args: &Args,
        data_dir: &std::path::Path,
        env: &[(&str, String)],
    ) -> anyhow::Result<Server> {
        Self::spawn(args, None, Some(data_dir), env).await
    }

    async fn spawn(
        args: &Args,
        db_url: Option<&str>,
        data_dir: Option<&std::path::Path>,
        env: &[(&str, String)],
    ) -> anyhow::Result<Server> {
        Self::spawn_binary(args, &args.probity, db_url, data_dir, env).await
    }

    async fn spawn_binary(
        args: &Args,
        bin: &std::path::Path,
        db_url: Option<&str>,
        data_dir: Option<&std::path::Path>,
        env: &[(&str, String)],
    ) -> anyhow::Result<Server> {
        let port = free_port()?;
        // A scenario may fix the prefix (to know the relay's checkpoint key).
        let prefix = env
            .iter()
            .find(|(k, _)| *k == "PROBITY_NATS_PREFIX")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| format!("bench{}", uuid::Uuid::new_v4().simple()));
        let mut command = Command::new(bin);
        command.arg("serve");
        match (db_url, data_dir) {
            (Some(db_url), _) => {
                command
                    .env("DATABASE_URL", db_url)
                    .env("NATS_URL", &args.nats_url);
            }
            (None, Some(dir)) => {
                command
                    .env_remove("DATABASE_URL")
                    .env_remove("NATS_URL")
                    .env("PROBITY_DATA_DIR", dir);
            }
            (None, None) => bail!("a server needs a database URL or a data dir"),
        }
        let mut child = command
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("PROBITY_NATS_PREFIX", &prefix)
            .env("PROBITY_BIND", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting probity serve")?;
        let stdout = child.stdout.take().context("probity's stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        // `serve` prints its URL once it listens (then, on a new store, an admin token the
        // benchmark does not need: it makes its own tokens with `probity token create`).
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let line = tokio::time::timeout_at(deadline.into(), lines.next_line())
                .await
                .context("probity serve did not start within 60 s")??
                .context("probity serve exited")?;
            if line.starts_with("Probity is serving at") {
                break;
            }
        }
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            db_url: db_url.unwrap_or_default().to_string(),
            nats_url: args.nats_url.clone(),
            prefix,
            data_dir: data_dir.map(|d| d.to_path_buf()),
        })
    }

    async fn token(&self, args: &Args, role: &str, unit: Option<&str>) -> anyhow::Result<String> {
        let mut cmd = Command::new(&args.probity);
        cmd.args(["token", "create", "--role", role]);
        match &self.data_dir {
            Some(dir) => cmd.env_remove("DATABASE_URL").env("PROBITY_DATA_DIR", dir),
            None => cmd.env("DATABASE_URL", &self.db_url),
        };
        if let Some(u) = unit {
            cmd.args(["--unit", u]);
        }
        let out = cmd.output().await.context("probity token create")?;
        if !out.status.success() {
            bail!(
                "probity token create failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8(out.stdout)?.trim().to_string())
    }

    fn rss_kib(&self) -> anyhow::Result<(u64, u64)> {
        let pid = self.child.id().context("the server's pid")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok((field("VmRSS:"), field("VmHWM:")))
    }

    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await;
        let _ = self.child.kill().await;
        // The benchmark's stream holds up to a million messages: do not leave it behind.
        if let Ok(client) = async_nats::connect(self.nats_url.as_str()).await {
            let js = async_nats::jetstream::new(client);
            let _ = js
                .delete_stream(format!("{}_EVENTS", self.prefix.to_uppercase()))
                .await;
        }
    }
}

/// The raw baseline: one-row INSERT transactions into a table shaped like `events`.
async fn baseline(args: &Args) -> anyhow::Result<f64> {
    let url = fresh_database(&args.admin_url).await?;
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .connect(&url)
        .await?;
    pool.execute(
        "CREATE TABLE bench_raw (aggregate_type TEXT NOT NULL, aggregate_id TEXT NOT NULL, sequence BIGINT NOT NULL,
           event_type TEXT NOT NULL, event_version TEXT NOT NULL, payload JSONB NOT NULL, metadata JSONB NOT NULL,
           position BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
           tx_id BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
           recorded_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
           PRIMARY KEY (aggregate_type, aggregate_id, sequence))",
    )
    .await?;
    let count = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for client in 0..16 {
        let (pool, count) = (pool.clone(), count.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < end {
                sqlx::query("INSERT INTO bench_raw (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) VALUES ('complaint', $1, 1, 'ComplaintAccepted', '1', $2, $3)")
                    .bind(format!("c{client}-{n}"))
                    .bind(json!({"ComplaintAccepted": {"at": "2026-01-05T01:00:00Z"}}))
                    .bind(json!({"actor": "bench"}))
                    .execute(&pool)
                    .await
                    .expect("baseline insert");
                n += 1;
                count.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let tps = count.load(Ordering::Relaxed) as f64 / args.seconds as f64;
    println!("baseline: one-row INSERT transactions, 16 clients: {tps:.0} tx/s");
    pool.close().await;
    drop_database(&args.admin_url, &url).await?;
    Ok(tps)
}

/// A client's command loop: file (anonymous) → accept → dispatch → sign → reply.
/// One client of the commands scenario until `end`: files complaints and, with
/// `lifecycle`, takes each through accept, dispatch, sign and reply. Returns the latency
/// of every successful command in microseconds.
#[allow(clippy::too_many_arguments)]
async fn command_loop(
    http: reqwest::Client,
    base: String,
    intake: String,
    handler: String,
    end: Instant,
    lifecycle: bool,
    count: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
) -> Vec<u64> {
    let mut latencies = Vec::new();
    while Instant::now() < end {
        let started = Instant::now();
        let r = http
            .post(format!("{base}/api/v1/complaints"))
            .bearer_auth(&intake)
            .json(
                &json!({"category": "complaint", "channel": "hotline", "title": "bench",
                          "description": "benchmark case", "reporter": {"anonymous": true}}),
            )
            .send()
            .await;
        let id = match r {
            Ok(r) if r.status().as_u16() == 201 => {
                let v: serde_json::Value = r.json().await.unwrap_or_default();
                latencies.push(started.elapsed().as_micros() as u64);
                count.fetch_add(1, Ordering::Relaxed);
                v["id"].as_str().unwrap_or_default().to_string()
            }
            _ => {
                errors.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        if !lifecycle {
            continue;
        }
        let steps: [(&str, &String, serde_json::Value); 4] = [
            ("accept", &intake, json!({})),
            ("dispatch", &intake, json!({"unit": UNIT})),
            ("sign", &handler, json!({})),
            ("reply", &handler, json!({"content": "done"})),
        ];
        for (verb, token, body) in steps {
            if Instant::now() >= end {
                return latencies;
            }
            let started = Instant::now();
            let r = http
                .post(format!("{base}/api/v1/complaints/{id}/{verb}"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await;
            match r {
                Ok(r) if r.status().is_success() => {
                    let _ = r.bytes().await;
                    latencies.push(started.elapsed().as_micros() as u64);
                    count.fetch_add(1, Ordering::Relaxed);
                }
                _ => {
                    errors.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
    }
    latencies
}

/// Commands through the HTTP API on Postgres + NATS (relay and projectors running), with
/// group commit off (one transaction per command, as before ADR 0010) and on, in the same
/// run: new complaints alone (`POST /complaints`) and the whole lifecycle, 1 and 16
/// clients, throughput and p50/p99 latency, each beside the raw baseline when measured.
async fn commands(args: &Args, baseline_tps: Option<f64>) -> anyhow::Result<()> {
    commands_on(args, baseline_tps, false).await
}

/// The commands scenario on the embedded store (SQLite, in-process bus).
async fn commands_embedded(args: &Args) -> anyhow::Result<()> {
    commands_on(args, None, true).await
}

async fn commands_on(args: &Args, baseline_tps: Option<f64>, embedded: bool) -> anyhow::Result<()> {
    let store = if embedded {
        "embedded"
    } else {
        "postgres+nats"
    };
    let mut by_mode: std::collections::HashMap<(bool, &str, usize), f64> = Default::default();
    for group_commit in [false, true] {
        let mode = if group_commit { "on" } else { "off" };
        let env = [("PROBITY_GROUP_COMMIT", mode.to_string())];
        let dir = std::env::temp_dir().join(format!("probity-bench-{}", uuid::Uuid::new_v4()));
        let db_url = if embedded {
            String::new()
        } else {
            fresh_database(&args.admin_url).await?
        };
        let server = if embedded {
            Server::start_embedded(args, &dir, &env).await?
        } else {
            Server::start_with(args, &db_url, &env).await?
        };
        let intake = server.token(args, "intake", None).await?;
        let handler = server.token(args, "handler", Some(UNIT)).await?;
        let http = reqwest::Client::new();
        for (workload, lifecycle) in [("intake", false), ("lifecycle", true)] {
            for clients in [1usize, 16] {
                let count = Arc::new(AtomicU64::new(0));
                let errors = Arc::new(AtomicU64::new(0));
                let end = Instant::now() + Duration::from_secs(args.seconds);
                let tasks: Vec<_> = (0..clients)
                    .map(|_| {
                        tokio::spawn(command_loop(
                            http.clone(),
                            server.url.clone(),
                            intake.clone(),
                            handler.clone(),
                            end,
                            lifecycle,
                            count.clone(),
                            errors.clone(),
                        ))
                    })
                    .collect();
                let hist = latencies(tasks).await?;
                let (p50, p99, _) = quantiles_ms(&hist);
                let cps = count.load(Ordering::Relaxed) as f64 / args.seconds as f64;
                by_mode.insert((group_commit, workload, clients), cps);
                let vs = baseline_tps
                    .map(|b| format!(", {:.0}% of the raw baseline", 100.0 * cps / b))
                    .unwrap_or_default();
                let ratio = by_mode
                    .get(&(false, workload, clients))
                    .filter(|_| group_commit)
                    .map(|off| format!(", {:.2}x group commit off", cps / off))
                    .unwrap_or_default();
                println!(
                    "commands ({store}): group commit {mode}, {workload}, {clients} client(s): {cps:.0} commands/s (p50 {p50:.1} ms, p99 {p99:.1} ms){vs}{ratio}, {} errors",
                    errors.load(Ordering::Relaxed)
                );
            }
        }
        let batches = metric(&http, &server.url, "probity_group_commit_batches_total").await;
        let appends = metric(&http, &server.url, "probity_group_commit_appends_total").await;
        if let (Some(b), Some(a)) = (batches, appends) {
            println!(
                "commands ({store}): group commit {mode}: {a:.0} appends in {b:.0} transactions ({:.1} per transaction)",
                a / b.max(1.0)
            );
        }
        if let Ok((rss, peak)) = server.rss_kib() {
            println!(
                "commands ({store}): group commit {mode}: server resident memory after the runs {:.1} MiB (peak {:.1} MiB)",
                rss as f64 / 1024.0,
                peak as f64 / 1024.0
            );
        }
        server.stop().await;
        if embedded {
            let _ = std::fs::remove_dir_all(&dir);
        } else {
            drop_database(&args.admin_url, &db_url).await?;
        }
    }
    Ok(())
}

/// One unlabelled value of the server's `/metrics`.
async fn metric(http: &reqwest::Client, base: &str, name: &str) -> Option<f64> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Commit-to-view lag: new complaints at a steady rate; for each, the time from the event's
/// `recorded_at` to the moment its projection row was written (`projected_at`).
async fn lag(args: &Args) -> anyhow::Result<()> {
    let db_url = fresh_database(&args.admin_url).await?;
    let server = Server::start(args, &db_url).await?;
    let intake = server.token(args, "intake", None).await?;
    let http = reqwest::Client::new();
    let total = args.rate * args.seconds;
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let errors = Arc::new(AtomicU64::new(0));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(256));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for _ in 0..total {
        ticker.tick().await;
        let permit = in_flight.clone().acquire_owned().await?;
        let (http, base, intake, errors) = (
            http.clone(),
            server.url.clone(),
            intake.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(format!("{base}/api/v1/complaints"))
                .bearer_auth(&intake)
                .json(
                    &json!({"category": "help", "channel": "web", "title": "lag",
                              "description": "lag probe", "reporter": {"anonymous": true}}),
                )
                .send()
                .await;
            if !matches!(r, Ok(ref r) if r.status().as_u16() == 201) {
                errors.fetch_add(1, Ordering::Relaxed);
            }
            drop(permit);
        }));
    }
    for t in tasks {
        t.await?;
    }
    let achieved = total as f64 / started.elapsed().as_secs_f64();
    let pool = PgPool::connect(&db_url).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM projection_positions WHERE projector = 'complaints' AND projected_at IS NOT NULL",
        )
        .fetch_one(&pool)
        .await?;
        if n as u64 >= total - errors.load(Ordering::Relaxed) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rows: Vec<(f64,)> = sqlx::query_as(
        "SELECT (EXTRACT(EPOCH FROM (p.projected_at::timestamptz - e.recorded_at)) * 1000)::float8
           FROM events e JOIN projection_positions p
             ON p.projector = 'complaints' AND p.aggregate_type = e.aggregate_type AND p.aggregate_id = e.aggregate_id
          WHERE e.aggregate_type = 'complaint' AND e.sequence = 1 AND p.last_sequence = 1",
    )
    .fetch_all(&pool)
    .await?;
    let mut hist = Histogram::<u64>::new(3)?;
    for (ms,) in &rows {
        hist.record((ms.max(0.0) * 1000.0) as u64)?;
    }
    println!(
        "lag: {} commands at {achieved:.0}/s ({} errors): commit-to-view p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} events",
        total,
        errors.load(Ordering::Relaxed),
        hist.value_at_quantile(0.5) as f64 / 1000.0,
        hist.value_at_quantile(0.99) as f64 / 1000.0,
        hist.max() as f64 / 1000.0,
        rows.len()
    );
    server.stop().await;
    pool.close().await;
    drop_database(&args.admin_url, &db_url).await?;
    Ok(())
}

/// Loads `args.events` events (complaints of five events each) straight into the log.
async fn load_events(pool: &PgPool, events: u64) -> anyhow::Result<()> {
    let unit = CreditCode::parse(UNIT)?;
    let at = chrono::Utc::now();
    let due = |d: i64| Deadline {
        due: at.date_naive() + chrono::Duration::days(d),
        provisional: false,
    };
    let lifecycle = [
        ComplaintEvent::ComplaintFiled {
            category: Category::Complaint,
            channel: Channel::Hotline,
            subject_code: Some(unit.clone()),
            title: "bulk".into(),
            description: "bulk-loaded case".into(),
            anonymous: true,
            reporter: None,
            received_at: at,
        },
        ComplaintEvent::ComplaintAccepted { at },
        ComplaintEvent::ComplaintDispatched {
            unit: unit.clone(),
            sign_due: due(1),
            reply_due: due(21),
            at,
        },
        ComplaintEvent::ComplaintSigned {
            unit: unit.clone(),
            at,
        },
        ComplaintEvent::ComplaintReplied {
            unit,
            content: "done".into(),
            at,
        },
    ];
    let encoded: Vec<(String, serde_json::Value)> = lifecycle
        .iter()
        .map(|e| {
            (
                e.event_type(),
                serde_json::to_value(e).expect("events serialize"),
            )
        })
        .collect();
    let cases = events / lifecycle.len() as u64;
    let batch_cases = 2_000u64;
    let mut done = 0u64;
    while done < cases {
        let n = batch_cases.min(cases - done);
        let mut ids = Vec::new();
        let mut seqs = Vec::new();
        let mut types = Vec::new();
        let mut payloads = Vec::new();
        for _ in 0..n {
            let id = uuid::Uuid::now_v7().to_string();
            for (i, (t, p)) in encoded.iter().enumerate() {
                ids.push(id.clone());
                seqs.push(i as i64 + 1);
                types.push(t.clone());
                payloads.push(p.clone());
            }
        }
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             SELECT 'complaint', id, seq, t, '1', p, '{\"actor\":\"bench\"}'::jsonb
               FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::jsonb[]) AS u(id, seq, t, p)",
        )
        .bind(&ids)
        .bind(&seqs)
        .bind(&types)
        .bind(&payloads)
        .execute(pool)
        .await
        .context("bulk insert")?;
        done += n;
    }
    Ok(())
}

async fn bulk(args: &Args) -> anyhow::Result<()> {
    let db_url = fresh_database(&args.admin_url).await?;
    // Start once so the migrations run, then stop, load, and start again on the full log.
    let server = Server::start(args, &db_url).await?;
    server.stop().await;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&db_url)
        .await?;
    let t = Instant::now();
    load_events(&pool, args.events).await?;
    let (total,): (i64,) = sqlx::query_as("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await?;
    println!(
        "bulk: loaded {total} events in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let server = Server::start(args, &db_url).await?;
    let deadline = Instant::now() + Duration::from_secs(3_600);
    let mut peak_rss = 0;
    loop {
        let (applied,): (i64,) = sqlx::query_as(
            "SELECT COALESCE(SUM(last_sequence), 0)::bigint FROM projection_positions WHERE projector = 'complaints'",
        )
        .fetch_one(&pool)
        .await?;
        let (rss, _) = server.rss_kib()?;
        peak_rss = peak_rss.max(rss);
        if applied >= total || Instant::now() > deadline {
            println!(
                "bulk: the server published and projected {applied} of {total} events in {:.1} s ({:.0} events/s through relay, NATS and projector)",
                t.elapsed().as_secs_f64(),
                applied as f64 / t.elapsed().as_secs_f64()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss, hwm) = server.rss_kib()?;
    println!(
        "bulk: server resident memory after {total} events: {:.1} MiB now, {:.1} MiB peak (sampled {:.1} MiB)",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
        peak_rss as f64 / 1024.0
    );
    server.stop().await;

    time_rebuild(args, &db_url, total).await?;
    pool.close().await;
    drop_database(&args.admin_url, &db_url).await?;
    Ok(())
}

/// Runs `probity rebuild` on `db_url` and prints its rate.
async fn time_rebuild(args: &Args, db_url: &str, total: i64) -> anyhow::Result<()> {
    let t = Instant::now();
    let out = Command::new(&args.probity)
        .arg("rebuild")
        .env("DATABASE_URL", db_url)
        .output()
        .await
        .context("probity rebuild")?;
    if !out.status.success() {
        bail!(
            "probity rebuild failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "rebuild: {total} events in {secs:.1} s = {:.0} events/s (whole process, start-up included), peak memory of the largest child so far {:.0} MiB; probity said: {}",
        total as f64 / secs,
        children_max_rss_kib() as f64 / 1024.0,
        String::from_utf8_lossy(&out.stdout).trim()
    );
    Ok(())
}

/// The peak resident memory of the largest child process waited for so far.
fn children_max_rss_kib() -> i64 {
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) } == 0 {
        usage.ru_maxrss
    } else {
        0
    }
}

/// Loads `args.events` events and times `probity rebuild` on them (no server running).
async fn rebuild_only(args: &Args) -> anyhow::Result<()> {
    let db_url = fresh_database(&args.admin_url).await?;
    let server = Server::start(args, &db_url).await?;
    server.stop().await;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&db_url)
        .await?;
    load_events(&pool, args.events).await?;
    let (total,): (i64,) = sqlx::query_as("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await?;
    time_rebuild(args, &db_url, total).await?;
    pool.close().await;
    drop_database(&args.admin_url, &db_url).await?;
    Ok(())
}

/// The latencies (microseconds) the client tasks returned, in one histogram.
async fn latencies(
    tasks: Vec<tokio::task::JoinHandle<Vec<u64>>>,
) -> anyhow::Result<Histogram<u64>> {
    let mut hist = Histogram::<u64>::new(3)?;
    for t in tasks {
        for micros in t.await? {
            hist.record(micros.max(1))?;
        }
    }
    Ok(hist)
}

/// Milliseconds from a histogram of microseconds: (p50, p99, max).
fn quantiles_ms(hist: &Histogram<u64>) -> (f64, f64, f64) {
    (
        hist.value_at_quantile(0.5) as f64 / 1000.0,
        hist.value_at_quantile(0.99) as f64 / 1000.0,
        hist.max() as f64 / 1000.0,
    )
}

/// Events in the replay scenario's one case.
const REPLAY_EVENTS: i64 = 10_000;
/// Timed requests (and in-process folds) in the replay scenario.
const REPLAY_RUNS: usize = 50;

/// One complaint with 10,000 events: its history `as_of` now (which folds every event into
/// the view as it stood) through the HTTP API, and the same fold in-process.
async fn replay(args: &Args) -> anyhow::Result<()> {
    let db_url = fresh_database(&args.admin_url).await?;
    let server = Server::start(args, &db_url).await?;
    let auditor = server.token(args, "auditor", None).await?;
    let intake = server.token(args, "intake", None).await?;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/v1/complaints", server.url))
        .bearer_auth(&intake)
        .json(
            &json!({"category": "complaint", "channel": "hotline", "title": "replay",
                      "description": "a long-running case", "reporter": {"anonymous": true}}),
        )
        .send()
        .await?;
    if r.status().as_u16() != 201 {
        bail!("filing the complaint: {} {}", r.status(), r.text().await?);
    }
    let filed: serde_json::Value = r.json().await?;
    let id = filed["id"]
        .as_str()
        .context("the filed complaint's id")?
        .to_string();
    server.stop().await;

    // Sequences 2..=10,000: supervision notes, valid after filing in every status.
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&db_url)
        .await?;
    let event = ComplaintEvent::ComplaintSupervised {
        note: "supervisor's note on the progress of the case".into(),
        at: chrono::Utc::now(),
    };
    let (event_type, payload) = (event.event_type(), serde_json::to_value(&event)?);
    let seqs: Vec<i64> = (2..=REPLAY_EVENTS).collect();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         SELECT 'complaint', $1, seq, $2, '1', $3, '{\"actor\":\"bench\"}'::jsonb
           FROM UNNEST($4::bigint[]) AS u(seq)",
    )
    .bind(&id)
    .bind(&event_type)
    .bind(&payload)
    .bind(&seqs)
    .execute(&pool)
    .await
    .context("appending the replay events")?;
    let (count,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM events WHERE aggregate_type = 'complaint' AND aggregate_id = $1",
    )
    .bind(&id)
    .fetch_one(&pool)
    .await?;
    if count != REPLAY_EVENTS {
        bail!("the case holds {count} events, expected {REPLAY_EVENTS}");
    }

    // Start again and let the relay and projector catch up first, so they do not share
    // the cores with the timed requests.
    let server = Server::start(args, &db_url).await?;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let applied: Option<i64> = sqlx::query_scalar(
            "SELECT max(last_sequence) FROM projection_positions WHERE projector = 'complaints' AND aggregate_id = $1",
        )
        .bind(&id)
        .fetch_one(&pool)
        .await?;
        if applied.unwrap_or(0) >= REPLAY_EVENTS || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let as_of = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let url = format!("{}/api/v1/complaints/{id}/history", server.url);
    let mut hist = Histogram::<u64>::new(3)?;
    for run in 0..=REPLAY_RUNS {
        let t = Instant::now();
        let r = http
            .get(&url)
            .bearer_auth(&auditor)
            .query(&[("as_of", as_of.as_str()), ("limit", "1")])
            .send()
            .await?;
        let status = r.status();
        let body: serde_json::Value = r.json().await?;
        let elapsed = t.elapsed();
        if !status.is_success() {
            bail!("history as_of: {status} {body}");
        }
        if body["view"]["version"].as_i64() != Some(REPLAY_EVENTS) {
            bail!(
                "history as_of folded to version {}, expected {REPLAY_EVENTS}",
                body["view"]["version"]
            );
        }
        // The first request warms the token cache and connections: not timed.
        if run > 0 {
            hist.record(elapsed.as_micros() as u64)?;
        }
    }
    server.stop().await;
    let (p50, p99, max) = quantiles_ms(&hist);
    let verdict = if p99 <= 30.0 { "met" } else { "missed" };
    println!(
        "replay: GET /complaints/{{id}}/history?as_of=now&limit=1 on a case of {REPLAY_EVENTS} events, {REPLAY_RUNS} requests: p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms (target p99 ≤ 30 ms: {verdict})"
    );

    // The same fold in-process: read the 10,000 events, fold them with the view's code.
    let mut read = Histogram::<u64>::new(3)?;
    let mut fold = Histogram::<u64>::new(3)?;
    for _ in 0..REPLAY_RUNS {
        let t = Instant::now();
        let rows: Vec<StoredRow> = sqlx::query_as(
            "SELECT position, tx_id, aggregate_type, aggregate_id, sequence, event_type, event_version,
                    payload, metadata, recorded_at
               FROM events WHERE aggregate_type = 'complaint' AND aggregate_id = $1 ORDER BY sequence",
        )
        .bind(&id)
        .fetch_all(&pool)
        .await?;
        let events: Vec<probity_store::StoredEvent> = rows.into_iter().map(stored).collect();
        read.record(t.elapsed().as_micros() as u64)?;
        let t = Instant::now();
        let view =
            <probity_views::ComplaintView as probity_views::Fold>::from_stored(&id, &events)?
                .context("the folded view")?;
        fold.record(t.elapsed().as_micros() as u64)?;
        if view.version as i64 != REPLAY_EVENTS {
            bail!("the fold reached version {}", view.version);
        }
    }
    let (r50, r99, rmax) = quantiles_ms(&read);
    let (f50, f99, fmax) = quantiles_ms(&fold);
    println!(
        "replay: in-process, {REPLAY_RUNS} runs: reading the {REPLAY_EVENTS} events with sqlx p50 {r50:.1} ms, p99 {r99:.1} ms, max {rmax:.1} ms; folding them (ComplaintView::from_stored) p50 {f50:.1} ms, p99 {f99:.1} ms, max {fmax:.1} ms"
    );
    pool.close().await;
    drop_database(&args.admin_url, &db_url).await?;
    Ok(())
}

/// An `events` row as sqlx reads it.
type StoredRow = (
    i64,
    i64,
    String,
    String,
    i64,
    String,
    String,
    serde_json::Value,
    serde_json::Value,
    chrono::DateTime<chrono::Utc>,
);

fn stored(row: StoredRow) -> probity_store::StoredEvent {
    let (
        position,
        tx_id,
        aggregate_type,
        aggregate_id,
        sequence,
        event_type,
        event_version,
        payload,
        metadata,
        recorded_at,
    ) = row;
    probity_store::StoredEvent {
        position,
        tx_id,
        aggregate_type,
        aggregate_id,
        sequence,
        event_type,
        event_version,
        payload,
        metadata,
        recorded_at,
    }
}

/// `--events` events sealed and signed by a server holding an audit key, then
/// `probity audit verify` timed as a child process.
async fn verify(args: &Args) -> anyhow::Result<()> {
    let keys = std::env::temp_dir().join(format!(
        "probity-bench-keys-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&keys)?;
    let out = Command::new(&args.probity)
        .args(["keys", "generate", "--out"])
        .arg(&keys)
        .output()
        .await
        .context("probity keys generate")?;
    if !out.status.success() {
        bail!(
            "probity keys generate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let secret = keys.join("audit-signing.key");
    let public = keys.join("audit-signing.pub");

    let db_url = fresh_database(&args.admin_url).await?;
    // Start once so the migrations run, then stop, load, and start again with the key.
    let server = Server::start(args, &db_url).await?;
    server.stop().await;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&db_url)
        .await?;
    let t = Instant::now();
    load_events(&pool, args.events).await?;
    let (total,): (i64,) = sqlx::query_as("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await?;
    println!(
        "verify: loaded {total} events in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let server = Server::start_with(
        args,
        &db_url,
        &[
            ("PROBITY_AUDIT_KEY", secret.display().to_string()),
            ("PROBITY_AUDIT_SIGN_INTERVAL", "1".to_string()),
        ],
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(3_600);
    let mut sealed_in = None;
    loop {
        let (sealed,): (i64,) = sqlx::query_as("SELECT count(*) FROM event_seals")
            .fetch_one(&pool)
            .await?;
        if sealed >= total && sealed_in.is_none() {
            sealed_in = Some(t.elapsed());
        }
        let signed: Option<i64> =
            sqlx::query_scalar("SELECT max(chain_index) FROM audit_checkpoints")
                .fetch_one(&pool)
                .await?;
        if sealed >= total && signed.unwrap_or(-1) >= total - 1 {
            break;
        }
        if Instant::now() > deadline {
            server.stop().await;
            bail!("sealed {sealed} of {total} events, signed up to chain index {signed:?} within an hour");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let sealed_in = sealed_in.unwrap_or_else(|| t.elapsed()).as_secs_f64();
    println!(
        "verify: the server sealed {total} events in {sealed_in:.1} s ({:.0} events/s, start-up included, sharing the cores with the relay and projector); checkpoint signed after {:.1} s",
        total as f64 / sealed_in,
        t.elapsed().as_secs_f64()
    );
    server.stop().await;

    let t = Instant::now();
    let out = Command::new(&args.probity)
        .args(["audit", "verify", "--public-key"])
        .arg(&public)
        .env("DATABASE_URL", &db_url)
        .output()
        .await
        .context("probity audit verify")?;
    let secs = t.elapsed().as_secs_f64();
    let said = String::from_utf8_lossy(&out.stdout)
        .trim()
        .replace('\n', "; ");
    if !out.status.success() {
        bail!(
            "probity audit verify failed: {said} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let rate = total as f64 / secs;
    let verdict = if rate >= 100_000.0 { "met" } else { "missed" };
    println!(
        "verify: probity audit verify on {total} events in {secs:.2} s = {rate:.0} events/s (whole process, start-up included; target ≥ 100,000 events/s: {verdict}); probity said: {said}"
    );
    pool.close().await;
    drop_database(&args.admin_url, &db_url).await?;
    let _ = std::fs::remove_dir_all(&keys);
    Ok(())
}
