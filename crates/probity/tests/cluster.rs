//! Drills on a real 3-node NATS JetStream cluster (issue 13 item 4, ADR 0026).
//!
//! Each drill starts, on loopback, a private 3-node cluster (the machine's `nats-server`,
//! free ports, own store dirs), a fresh Postgres database and two `probity serve`
//! processes with `NATS_URL` listing the three nodes and `PROBITY_NATS_REPLICAS=3`.
//! Clients file complaints on both servers at a steady rate while the drill:
//! - kills one NATS node (SIGKILL);
//! - kills one of the two servers (SIGKILL): its partitions and, if it held it, the relay
//!   move to the other;
//! - restarts both servers one after the other (SIGTERM, start again).
//!
//! Then: every acknowledged filing (201) is in the log and in the view; every view row is
//! at its aggregate's last sequence; and the views equal a fresh replay of the log
//! (nothing applied twice, nothing missing). Each drill prints its recovery time.
//!
//! To see why a recovery took as long as it did: `DRILL_LOG_DIR=<dir>` writes each
//! server's log there (`server-<i>-<port>.log`, timestamped), at `DRILL_RUST_LOG`
//! (default `warn`; e.g. `info,probity_bus=debug,async_nats::jetstream::context=debug`).

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use probity_app::tokens::{create_token, Role};
use probity_store::Db;
use probity_testkit::nats::NatsCluster;
use serde_json::{json, Value};
use tokio::process::{Child, Command};

const TEST_TIMEOUT: Duration = Duration::from_secs(150);
/// Concurrent filing clients.
const CLIENTS: usize = 4;
/// Pause between two filings of one client (a steady load, not a flood).
const PACE: Duration = Duration::from_millis(20);
/// Long enough that a redelivery after the ack wait is told apart from a hand-back.
const ACK_WAIT_SECS: u64 = 30;

/// The servers and what they share.
struct Drill {
    nats: NatsCluster,
    db: Db,
    database_url: String,
    prefix: String,
    token: String,
    servers: Vec<Option<(Child, String)>>,
    /// Base URLs of the servers taking requests now.
    live: Arc<Mutex<Vec<String>>>,
}

impl Drill {
    async fn start(servers: usize) -> anyhow::Result<Self> {
        let nats = NatsCluster::start(3)
            .await
            .context("starting the NATS cluster")?;
        let database_url = probity_testkit::pg::fresh_database().await.context(
            "this drill needs Postgres: set DATABASE_URL or install the postgres server binaries",
        )?;
        let db = Db::connect_postgres(&database_url).await?;
        let token = create_token(&db, Role::Intake, None, Some("drill".into())).await?;
        let mut drill = Self {
            nats,
            db,
            database_url,
            prefix: probity_testkit::nats::unique_prefix(),
            token,
            servers: Vec::new(),
            live: Arc::default(),
        };
        for i in 0..servers {
            drill.servers.push(None);
            drill.serve(i).await?;
        }
        Ok(drill)
    }

    /// Starts server `i` and waits until it answers `/healthz`.
    async fn serve(&mut self, i: usize) -> anyhow::Result<()> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_probity"));
        command
            .arg("serve")
            .arg(format!("--bind=127.0.0.1:{port}"))
            .arg(format!(
                "--clock-offset={}s",
                (chrono::DateTime::parse_from_rfc3339("2026-03-11T10:00:00+08:00")?
                    .with_timezone(&chrono::Utc)
                    - chrono::Utc::now())
                .num_seconds()
            ))
            .env("DATABASE_URL", &self.database_url)
            .env("NATS_URL", self.nats.urls())
            .env("PROBITY_NATS_PREFIX", &self.prefix)
            .env("PROBITY_NATS_REPLICAS", "3")
            .env("PROBITY_NATS_ACK_WAIT", ACK_WAIT_SECS.to_string())
            .env(
                "RUST_LOG",
                std::env::var("DRILL_RUST_LOG").unwrap_or("warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(match std::env::var("DRILL_LOG_DIR") {
                Ok(dir) => Stdio::from(std::fs::File::create(format!(
                    "{dir}/server-{i}-{port}.log"
                ))?),
                Err(_) => Stdio::null(),
            })
            .kill_on_drop(true);
        let child = command.spawn().context("starting probity serve")?;
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(r) = client.get(format!("{url}/healthz")).send().await {
                if r.status().is_success() {
                    self.servers[i] = Some((child, url.clone()));
                    self.live.lock().unwrap().push(url);
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("probity serve {i} did not answer /healthz within 30 s")
    }

    fn url(&self, i: usize) -> String {
        self.servers[i]
            .as_ref()
            .map(|(_, u)| u.clone())
            .unwrap_or_default()
    }

    /// Takes server `i` out of the clients' rotation.
    fn retire(&self, i: usize) {
        let url = self.url(i);
        self.live.lock().unwrap().retain(|u| *u != url);
    }

    /// SIGKILL of server `i`.
    async fn kill(&mut self, i: usize) -> anyhow::Result<()> {
        self.retire(i);
        if let Some((mut child, _)) = self.servers[i].take() {
            child.kill().await?;
        }
        Ok(())
    }

    /// SIGTERM of server `i`, waiting until it exited.
    async fn terminate(&mut self, i: usize) -> anyhow::Result<()> {
        self.retire(i);
        if let Some((mut child, _)) = self.servers[i].take() {
            let pid = child.id().context("server pid")?;
            let status = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()?;
            ensure!(status.success(), "kill -TERM {pid} failed");
            tokio::time::timeout(Duration::from_secs(20), child.wait())
                .await
                .context("the server did not stop within 20 s of SIGTERM")??;
        }
        Ok(())
    }

    /// Starts the steady load: each client files, with its own Idempotency-Key, on the
    /// live servers in turn; a filing cut off by a kill is sent again with its key.
    fn load(&self) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
        let mut clients = tokio::task::JoinSet::new();
        for c in 0..CLIENTS {
            let (live, token) = (self.live.clone(), self.token.clone());
            let (stop, acknowledged) = (stop.clone(), acknowledged.clone());
            clients.spawn(async move {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .expect("http client");
                let mut turn = c;
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let key = format!("drill-{c}-{i}");
                    // Until acknowledged (or the load stops): another server on failure.
                    loop {
                        let url = {
                            let live = live.lock().unwrap();
                            if live.is_empty() {
                                None
                            } else {
                                turn += 1;
                                Some(live[turn % live.len()].clone())
                            }
                        };
                        if let Some(url) = url {
                            if let Ok(Some(id)) = file(&client, &url, &token, &key, c, i).await {
                                acknowledged.lock().unwrap().insert(key.clone(), id);
                                break;
                            }
                        }
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    tokio::time::sleep(PACE).await;
                }
            });
        }
        Load {
            stop,
            acknowledged,
            clients,
        }
    }

    /// Files one probe on server `i` and returns how long it took to appear in the view.
    async fn probe(&self, i: usize, tag: &str) -> anyhow::Result<Duration> {
        let client = reqwest::Client::new();
        let started = Instant::now();
        let id = loop {
            let key = format!(
                "probe-{tag}-{}",
                chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
            );
            if let Ok(Some(id)) = file(&client, &self.url(i), &self.token, &key, 9, 0).await {
                break id;
            }
            ensure!(
                started.elapsed() < Duration::from_secs(30),
                "probe {tag} never acknowledged"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let acked = Instant::now();
        loop {
            let seen: Option<i64> =
                sqlx::query_scalar("SELECT version FROM complaint_views WHERE id = $1")
                    .bind(&id)
                    .fetch_optional(self.db.pg.as_ref().expect("postgres"))
                    .await?;
            if seen.is_some() {
                return Ok(started.elapsed().max(acked.elapsed()));
            }
            ensure!(
                acked.elapsed() < Duration::from_secs(60),
                "probe {tag} ({id}) not in the view 60 s after its 201"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the two servers hold four partitions each; returns how long it took.
    async fn balanced(&self) -> anyhow::Result<Duration> {
        let joined = Instant::now();
        while self.metric(1, "probity_partitions_held").await < 4.0
            || self.metric(0, "probity_partitions_held").await > 4.0
        {
            ensure!(
                joined.elapsed() < Duration::from_secs(30),
                "the partitions were not shared within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(joined.elapsed())
    }

    /// A server's `/metrics` sample `name` (0 when absent).
    async fn metric(&self, i: usize, name: &str) -> f64 {
        let Ok(r) = reqwest::get(format!("{}/metrics", self.url(i))).await else {
            return 0.0;
        };
        let text = r.text().await.unwrap_or_default();
        text.lines()
            .find_map(|line| {
                line.strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix(' '))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0.0)
    }

    /// Every acknowledged filing is in the view at its last sequence, and the views equal
    /// a replay of the log.
    async fn check(&self, acknowledged: &BTreeMap<String, String>) -> anyhow::Result<()> {
        let pg = self.db.pg.as_ref().expect("postgres");
        let ids: Vec<String> = acknowledged.values().cloned().collect();
        ensure!(!ids.is_empty(), "the load acknowledged nothing");
        // Converge: the views catch up with every event of the log.
        let started = Instant::now();
        loop {
            let behind: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM (SELECT aggregate_id, MAX(sequence) AS last FROM events \
                 WHERE aggregate_type = 'complaint' GROUP BY aggregate_id) e \
                 LEFT JOIN complaint_views v ON v.id = e.aggregate_id \
                 WHERE v.version IS NULL OR v.version <> e.last",
            )
            .fetch_one(pg)
            .await?;
            if behind == 0 {
                break;
            }
            ensure!(
                started.elapsed() < Duration::from_secs(60),
                "{behind} complaints still not at their last event in the view after 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let in_view: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM complaint_views WHERE id = ANY($1)")
                .bind(&ids)
                .fetch_one(pg)
                .await?;
        ensure!(
            in_view as usize == ids.len(),
            "{} acknowledged filings, {in_view} in the view",
            ids.len()
        );
        // One case per key: a filing sent again after a kill was answered from its key.
        let distinct: std::collections::BTreeSet<&String> = acknowledged.values().collect();
        ensure!(
            distinct.len() == acknowledged.len(),
            "two keys share a case"
        );
        let before = probity_views::dump(&self.db).await?;
        let log = probity_store::EventLog::new(self.db.clone());
        probity_views::rebuild(&log, &self.db, &|_, _| {}).await?;
        let after = probity_views::dump(&self.db).await?;
        ensure!(before == after, "the views differ from a replay of the log");
        Ok(())
    }
}

struct Load {
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<BTreeMap<String, String>>>,
    clients: tokio::task::JoinSet<()>,
}

impl Load {
    async fn finish(mut self) -> BTreeMap<String, String> {
        self.stop.store(true, Ordering::Relaxed);
        while self.clients.join_next().await.is_some() {}
        let acknowledged = self.acknowledged.lock().unwrap().clone();
        acknowledged
    }

    fn count(&self) -> usize {
        self.acknowledged.lock().unwrap().len()
    }
}

fn filing(c: usize, i: usize) -> Value {
    json!({
        "category": "report",
        "channel": "hotline",
        "subject_code": "113604000123456713",
        "title": format!("Permit delayed, client {c} call {i}"),
        "description": "The permit office has not answered for two months.",
        "reporter": { "anonymous": true }
    })
}

async fn file(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    key: &str,
    c: usize,
    i: usize,
) -> anyhow::Result<Option<String>> {
    let r = client
        .post(format!("{url}/api/v1/complaints"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&filing(c, i))
        .send()
        .await?;
    if r.status().as_u16() != 201 {
        return Ok(None);
    }
    let body: Value = r.json().await?;
    Ok(body["id"].as_str().map(str::to_string))
}

/// Runs a drill body under the timeout.
macro_rules! drill {
    ($name:ident, $body:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            tokio::time::timeout(TEST_TIMEOUT, $body())
                .await
                .expect("drill timed out")
                .unwrap();
        }
    };
}

drill!(
    a_killed_nats_node_loses_nothing_and_applies_nothing_twice,
    nats_node_loss
);
drill!(
    a_killed_server_hands_its_partitions_and_the_relay_to_the_other,
    server_loss
);
drill!(
    a_rolling_restart_of_both_servers_loses_nothing,
    rolling_restart
);

async fn nats_node_loss() -> anyhow::Result<()> {
    let mut drill = Drill::start(2).await?;
    // The partitions settled first: the recovery measured is the node loss's, not that
    // of partitions moving to the second server at the same moment.
    drill.balanced().await?;
    let load = drill.load();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = load.count();
    // Node 0 is the seed every client tried first: likely the one they are connected to.
    drill.nats.kill(0);
    let recovery = drill.probe(1, "after-nats-kill").await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let acknowledged = load.finish().await;
    println!(
        "drill nats node loss: recovery (a filing made after the kill visible in the view) {} ms; \
         {before} filings before the kill, {} in all",
        recovery.as_millis(),
        acknowledged.len()
    );
    ensure!(
        acknowledged.len() > before,
        "no filing acknowledged after the node loss"
    );
    drill.check(&acknowledged).await
}

async fn server_loss() -> anyhow::Result<()> {
    let mut drill = Drill::start(2).await?;
    // The second server takes its share: adding a server adds projection capacity.
    let balanced = drill.balanced().await?;
    let load = drill.load();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let relay_on_0 = drill.metric(0, "probity_relay_leader").await == 1.0;
    let held_by_0 = drill.metric(0, "probity_partitions_held").await;
    ensure!(
        held_by_0 >= 1.0,
        "server 0 holds no partition before the kill"
    );
    let killed = Instant::now();
    drill.kill(0).await?;
    // Partitions: the survivor holds all eight; relay: it leads.
    let mut partitions_moved = None;
    let mut relay_moved = None;
    while partitions_moved.is_none() || relay_moved.is_none() {
        if partitions_moved.is_none() && drill.metric(1, "probity_partitions_held").await == 8.0 {
            partitions_moved = Some(killed.elapsed());
        }
        if relay_moved.is_none() && drill.metric(1, "probity_relay_leader").await == 1.0 {
            relay_moved = Some(killed.elapsed());
        }
        ensure!(
            killed.elapsed() < Duration::from_secs(30),
            "the survivor did not take over within 30 s (partitions {partitions_moved:?}, relay {relay_moved:?})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let probe = drill.probe(1, "after-server-kill").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let acknowledged = load.finish().await;
    println!(
        "drill server loss: partitions shared 4/4 {} ms after the second server answered; \
         {held_by_0} partitions moved in {} ms; relay {} in {} ms; \
         a filing visible {} ms after the takeover; {} filings",
        balanced.as_millis(),
        partitions_moved.unwrap_or_default().as_millis(),
        if relay_on_0 {
            "moved"
        } else {
            "stayed (was on the survivor)"
        },
        relay_moved.unwrap_or_default().as_millis(),
        probe.as_millis(),
        acknowledged.len()
    );
    drill.check(&acknowledged).await
}

async fn rolling_restart() -> anyhow::Result<()> {
    let mut drill = Drill::start(2).await?;
    let load = drill.load();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut worst = Duration::ZERO;
    for (stopping, other) in [(0, 1), (1, 0)] {
        let started = Instant::now();
        drill.terminate(stopping).await?;
        let stopped = started.elapsed();
        // Right after the stop: how long a filing takes to reach the view.
        let lag = drill
            .probe(other, &format!("after-stop-{stopping}"))
            .await?;
        worst = worst.max(lag);
        drill.serve(stopping).await?;
        let lag = drill
            .probe(stopping, &format!("after-start-{stopping}"))
            .await?;
        worst = worst.max(lag);
        println!(
            "drill rolling restart: server {stopping} stopped in {} ms, back in {} ms",
            stopped.as_millis(),
            started.elapsed().as_millis()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let acknowledged = load.finish().await;
    println!(
        "drill rolling restart: worst filing-to-view time {} ms; {} filings",
        worst.as_millis(),
        acknowledged.len()
    );
    // Handed back, not left for the ack wait: a view never waits for a redelivery.
    ensure!(
        worst < Duration::from_secs(ACK_WAIT_SECS / 3),
        "a filing took {worst:?} to reach the view: messages held by a stopping server waited for the ack wait"
    );
    drill.check(&acknowledged).await
}
