//! Drill: a Postgres restart under intake load (issue 13 item 4).
//!
//! The real `probity serve` runs on a PRIVATE Postgres server (started by the testkit on
//! its own port, never the shared one). Eight clients file named complaints, each with
//! its own `Idempotency-Key`, as fast as the server answers, and retry a filing answered
//! 503 with the same key, as the contract tells a client to. In the middle, Postgres is
//! shut down ("fast": every session is terminated) and kept down longer than the pool's
//! acquire timeout, then started again on the same port and data. Then:
//! - every answer was 201, or 503 `not_ready` as problem+json with `Retry-After`:
//!   never a 500, never a hang (every answer came within the acquire timeout plus a
//!   margin);
//! - the outage was seen (a request that waited through it was refused with 503);
//! - intake resumed by itself: every client got a 201 after Postgres came back, without
//!   restarting the server; the drill prints the recovery time;
//! - every key ends with exactly one case (a command cut off by the shutdown and retried
//!   was not filed twice), and every acknowledged case is in the log.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use probity_app::tokens::{create_token, Role};
use probity_store::Db;
use probity_testkit::pg::{fresh_database_on, PrivatePostgres};
use serde_json::{json, Value};

#[allow(dead_code)] // a Postgres-only drill: the two-backend helpers go unused
mod common;
use common::{serve, TempDir};

const TEST_TIMEOUT: Duration = Duration::from_secs(240);
/// Concurrent clients.
const CLIENTS: usize = 8;
/// How long intake runs before the shutdown.
const INTAKE_BEFORE_RESTART: Duration = Duration::from_millis(1500);
/// How long Postgres stays down: longer than the pool's acquire timeout, so requests
/// that arrive during the outage must be refused rather than wait it out.
const OUTAGE: Duration = Duration::from_secs(7);
/// Longer than any answer may take: the acquire timeout plus a generous margin for a
/// busy machine. An answer slower than this is a hang.
const HANG: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_under_load_gives_clean_503s_and_intake_resumes_by_itself() {
    tokio::time::timeout(TEST_TIMEOUT, drill())
        .await
        .expect("test timed out")
        .unwrap();
}

fn filing(n: usize) -> Value {
    json!({
        "category": "report",
        "channel": "hotline",
        "subject_code": "113604000123456713",
        "title": format!("Permit delayed, call {n}"),
        "description": "The permit office has not answered for two months.",
        "reporter": {
            "anonymous": false,
            "name": "Li Hua",
            "phone": "13800000000",
            "identity_number": "11010519491231002X"
        }
    })
}

/// One answer: when it came, how long it took, and what it was.
#[derive(Debug, Clone)]
struct Answer {
    at: Instant,
    took: Duration,
    outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// 201 naming this case.
    Filed(String),
    /// 503 problem+json with code `not_ready` and a `Retry-After`.
    NotReady,
    /// Anything else (status, content type, code, missing header, transport error).
    Wrong(String),
}

async fn file(client: &reqwest::Client, url: &str, token: &str, key: &str, n: usize) -> Outcome {
    let sent = client
        .post(format!("{url}/api/v1/complaints"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&filing(n))
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(e) => return Outcome::Wrong(format!("transport error: {e}")),
    };
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let retry_after = response.headers().get("retry-after").is_some();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    match status {
        201 => match body["id"].as_str() {
            Some(id) => Outcome::Filed(id.to_string()),
            None => Outcome::Wrong(format!("201 without an id: {body}")),
        },
        503 if body["code"] == "not_ready"
            && content_type.starts_with("application/problem+json")
            && retry_after =>
        {
            Outcome::NotReady
        }
        other => Outcome::Wrong(format!(
            "{other} ({content_type}, Retry-After: {retry_after}): {body}"
        )),
    }
}

async fn drill() -> anyhow::Result<()> {
    let mut pg = PrivatePostgres::launch()
        .await
        .context("this drill needs the postgres server binaries (initdb, postgres)")?;
    let url = fresh_database_on(&pg.url()).await?;
    let db = Db::connect_postgres(&url).await?;
    let token = create_token(&db, Role::Intake, None, Some("drill".into())).await?;
    db.close().await;
    let dir = TempDir::new()?;
    let args = vec![
        format!("--database-url={url}"),
        format!("--data-dir={}", dir.0.join("unused").display()),
    ];
    let (_server, server_url) = serve(&args).await?;

    let answers: Arc<Mutex<Vec<Answer>>> = Arc::default();
    // Key → the cases its 201s named (more than one would be a double filing).
    let filed: Arc<Mutex<BTreeMap<String, Vec<String>>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..CLIENTS {
        let (url, token) = (server_url.clone(), token.clone());
        let (answers, filed, stop) = (answers.clone(), filed.clone(), stop.clone());
        clients.spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(HANG)
                .build()
                .expect("a reqwest client");
            for i in 0.. {
                let n = c * 1_000_000 + i;
                let key = format!("restart-{c}-{i}");
                // The same filing with the same key until it is acknowledged.
                loop {
                    let started = Instant::now();
                    let outcome = file(&client, &url, &token, &key, n).await;
                    answers.lock().unwrap().push(Answer {
                        at: Instant::now(),
                        took: started.elapsed(),
                        outcome: outcome.clone(),
                    });
                    match outcome {
                        Outcome::Filed(id) => {
                            filed
                                .lock()
                                .unwrap()
                                .entry(key.clone())
                                .or_default()
                                .push(id);
                            break;
                        }
                        Outcome::NotReady => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        Outcome::Wrong(_) => return,
                    }
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                }
                if stop.load(Ordering::SeqCst) {
                    return;
                }
            }
        });
    }

    tokio::time::sleep(INTAKE_BEFORE_RESTART).await;
    let waited = Instant::now();
    while filed.lock().unwrap().len() < 2 * CLIENTS && waited.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = filed.lock().unwrap().len();
    ensure!(
        before >= CLIENTS,
        "too few filings acknowledged before the restart ({before}) for a meaningful drill"
    );

    let down_at = Instant::now();
    pg.stop().await?;
    let stopped_in = down_at.elapsed();
    tokio::time::sleep(OUTAGE).await;
    pg.start().await?;
    let up_at = Instant::now();

    // Every client must get a 201 after Postgres is back, with no restart of the server.
    let deadline = up_at + Duration::from_secs(60);
    loop {
        let resumed = {
            let answers = answers.lock().unwrap();
            let mut clients_resumed = answers
                .iter()
                .filter(|a| a.at > up_at && matches!(a.outcome, Outcome::Filed(_)))
                .count();
            if answers
                .iter()
                .any(|a| matches!(a.outcome, Outcome::Wrong(_)))
            {
                clients_resumed = usize::MAX;
            }
            clients_resumed
        };
        if resumed == usize::MAX || resumed >= 4 * CLIENTS || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::SeqCst);
    while clients.join_next().await.is_some() {}

    let answers = answers.lock().unwrap().clone();
    let filed = filed.lock().unwrap().clone();
    let wrong: Vec<&String> = answers
        .iter()
        .filter_map(|a| match &a.outcome {
            Outcome::Wrong(w) => Some(w),
            _ => None,
        })
        .collect();
    let not_ready = answers
        .iter()
        .filter(|a| a.outcome == Outcome::NotReady)
        .count();
    let slowest = answers.iter().map(|a| a.took).max().unwrap_or_default();
    let first_after = answers
        .iter()
        .filter(|a| a.at > up_at && matches!(a.outcome, Outcome::Filed(_)))
        .map(|a| a.at)
        .min();
    let last_before = answers
        .iter()
        .filter(|a| a.at < down_at && matches!(a.outcome, Outcome::Filed(_)))
        .map(|a| a.at)
        .max();
    eprintln!(
        "Postgres restart drill: {} answers ({} filings acknowledged, {not_ready} × 503 not_ready, \
         {} wrong); shutdown took {} ms, down {} ms; first 201 {} ms after Postgres accepted \
         logins again ({} ms after the last 201 before the shutdown); slowest answer {} ms",
        answers.len(),
        filed.len(),
        wrong.len(),
        stopped_in.as_millis(),
        (up_at - down_at).as_millis(),
        first_after.map_or(-1, |t| (t - up_at).as_millis() as i64),
        match (first_after, last_before) {
            (Some(a), Some(b)) => (a - b).as_millis() as i64,
            _ => -1,
        },
        slowest.as_millis()
    );

    ensure!(
        wrong.is_empty(),
        "answers other than 201 or 503 not_ready with Retry-After: {wrong:?}"
    );
    ensure!(
        slowest < HANG,
        "an answer took {} ms: a hang",
        slowest.as_millis()
    );
    ensure!(
        not_ready > 0,
        "no 503 during a {} s outage: requests waited it out instead of failing cleanly",
        OUTAGE.as_secs()
    );
    ensure!(
        first_after.is_some(),
        "no filing acknowledged within 60 s after Postgres came back"
    );
    let resumed = answers
        .iter()
        .filter(|a| a.at > up_at && matches!(a.outcome, Outcome::Filed(_)))
        .count();
    ensure!(
        resumed >= 4 * CLIENTS,
        "only {resumed} filings acknowledged in the 60 s after Postgres came back"
    );

    // Exactly one case per key, and each acknowledged one in the log.
    for (key, ids) in &filed {
        ensure!(ids.len() == 1, "{key} was acknowledged {} times", ids.len());
    }
    let db = Db::connect_postgres(&url).await?;
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT aggregate_id FROM events WHERE event_type = 'ComplaintFiled'")
            .fetch_all(&db.any)
            .await?;
    let in_log: std::collections::BTreeSet<String> = rows.into_iter().map(|(id,)| id).collect();
    for (key, ids) in &filed {
        ensure!(
            in_log.contains(&ids[0]),
            "acknowledged case {} of {key} is not in the log",
            ids[0]
        );
    }
    // Keys answered 503 only (cut off by the stop flag) may or may not have committed;
    // nothing may be in the log twice for one key.
    let (keys, with_response): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(response_body) FROM idempotency_keys WHERE idem_key LIKE 'restart-%'",
    )
    .fetch_one(&db.any)
    .await?;
    ensure!(
        in_log.len() as i64 == with_response,
        "{} cases in the log but {with_response} keys with a stored response ({keys} keys)",
        in_log.len()
    );
    db.close().await;
    Ok(())
}
