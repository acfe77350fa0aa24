//! Drill: `kill -9` of the server during group-committed intake (issue 9).
//!
//! The real `probity serve` binary runs as its own process on a fresh store (Postgres or
//! embedded SQLite). Sixteen clients file named complaints, each with its own
//! `Idempotency-Key`, as fast as the server answers; the server is killed with SIGKILL
//! in the middle. Then, on the store as the crash left it:
//! - every acknowledged filing (201) is in the log, with its reporter key and its stored
//!   response naming the same case;
//! - nothing is half-written: no stored response without its case, no case whose
//!   reporter key is missing, no key without a case, no reservation without a response.
//!
//! And after a restart, every filing that was sent but not acknowledged is sent again
//! with its key: each key ends with exactly one case (the one committed before the
//! crash, if it was, answered again).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{ensure, Context};
use probity_app::tokens::{create_token, Role};
use serde_json::{json, Value};

mod common;
use common::{serve, store, Kind};

const TEST_TIMEOUT: Duration = Duration::from_secs(240);
/// Concurrent clients.
const CLIENTS: usize = 16;
/// How long intake runs before the kill.
const INTAKE_BEFORE_KILL: Duration = Duration::from_millis(1500);

on_both_backends!(a_killed_server_loses_no_acknowledged_filing_and_half_writes_nothing);

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

/// POSTs filing `n` under key `key`: the case id when acknowledged (201).
async fn file(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    key: &str,
    n: usize,
) -> anyhow::Result<Option<String>> {
    let r = client
        .post(format!("{url}/api/v1/complaints"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&filing(n))
        .send()
        .await?;
    if r.status().as_u16() != 201 {
        return Ok(None);
    }
    let body: Value = r.json().await?;
    Ok(body["id"].as_str().map(str::to_string))
}

async fn a_killed_server_loses_no_acknowledged_filing_and_half_writes_nothing(
    kind: Kind,
) -> anyhow::Result<()> {
    let store = store(kind).await?;
    let (mut server, url) = serve(&store.args).await?;
    let token = create_token(&store.db, Role::Intake, None, Some("drill".into())).await?;

    // Sent keys (with their filing number) and acknowledged ones (with their case).
    let sent: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let acknowledged: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..CLIENTS {
        let (url, token) = (url.clone(), token.clone());
        let (sent, acknowledged) = (sent.clone(), acknowledged.clone());
        clients.spawn(async move {
            let client = reqwest::Client::new();
            for i in 0.. {
                let n = c * 1_000_000 + i;
                let key = format!("drill-{c}-{i}");
                sent.lock().unwrap().insert(key.clone(), n);
                match file(&client, &url, &token, &key, n).await {
                    Ok(Some(id)) => {
                        acknowledged.lock().unwrap().insert(key, id);
                    }
                    // Refused or cut off by the kill: this client is done.
                    Ok(None) | Err(_) => return,
                }
            }
        });
    }
    // At least INTAKE_BEFORE_KILL, and long enough for a meaningful number of
    // acknowledgements on a slow or busy machine.
    tokio::time::sleep(INTAKE_BEFORE_KILL).await;
    let waited = std::time::Instant::now();
    while acknowledged.lock().unwrap().len() < 2 * CLIENTS
        && waited.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.start_kill().context("SIGKILL to the server")?;
    server.wait().await?;
    while clients.join_next().await.is_some() {}
    let sent = sent.lock().unwrap().clone();
    let acknowledged = acknowledged.lock().unwrap().clone();
    ensure!(
        acknowledged.len() >= CLIENTS,
        "too few filings acknowledged before the kill ({}) for a meaningful drill",
        acknowledged.len()
    );
    ensure!(
        sent.len() > acknowledged.len(),
        "the kill came after every filing was answered: nothing was in flight"
    );

    // The store as the crash left it, once nothing of the dead server can still commit.
    settled(&store.db).await?;
    let filed = cases(&store.db).await?;
    eprintln!(
        "{kind:?} in {}: {} filings sent, {} acknowledged before the kill, {} in the log",
        store.dir.0.display(),
        sent.len(),
        acknowledged.len(),
        filed.len()
    );
    let responses = responses(&store.db).await?;
    let keys = key_ids(&store.db).await?;
    for (key, id) in &acknowledged {
        ensure!(
            filed.contains_key(id),
            "acknowledged case {id} is not in the log"
        );
        ensure!(
            responses.get(key) == Some(id),
            "acknowledged key {key} has no stored response naming {id}"
        );
    }
    for (key, id) in &responses {
        ensure!(
            filed.contains_key(id),
            "key {key} has a stored response but its case {id} is not in the log"
        );
    }
    let named: BTreeSet<&String> = filed.values().collect();
    ensure!(
        named.iter().all(|k| keys.contains(*k)),
        "a case names a reporter key that was not stored"
    );
    ensure!(
        keys.len() == filed.len(),
        "{} reporter keys for {} cases: a key without its case",
        keys.len(),
        filed.len()
    );
    ensure!(
        responses.len() == filed.len(),
        "{} stored responses for {} cases",
        responses.len(),
        filed.len()
    );
    let (pending,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM idempotency_keys WHERE status IS NULL")
            .fetch_one(&store.db.any)
            .await?;
    ensure!(pending == 0, "{pending} reservations without a response");

    // Restart; every filing that was not acknowledged is sent again with its key.
    let (_server, url) = serve(&store.args).await?;
    let client = reqwest::Client::new();
    for (key, n) in &sent {
        if acknowledged.contains_key(key) {
            continue;
        }
        let id = file(&client, &url, &token, key, *n)
            .await?
            .with_context(|| format!("the retry of {key} was not acknowledged"))?;
        if let Some(before) = responses.get(key) {
            ensure!(
                before == &id,
                "{key} was committed before the crash as {before} but its retry created {id}"
            );
        }
    }
    let filed = cases(&store.db).await?;
    ensure!(
        filed.len() == sent.len(),
        "{} keys sent, {} cases in the log: a filing was lost or doubled",
        sent.len(),
        filed.len()
    );
    Ok(())
}

/// Waits until no statement of the killed server is still running in Postgres. A COMMIT
/// the server sent just before SIGKILL is carried out by its backend afterwards; reading
/// the cases before it lands and the responses after would see half of that one
/// transaction, which the store never wrote. (SQLite: the dead process holds nothing.)
async fn settled(db: &probity_store::Db) -> anyhow::Result<()> {
    let Some(pg) = &db.pg else { return Ok(()) };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (running,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
               AND state IS DISTINCT FROM 'idle'",
        )
        .fetch_one(pg)
        .await?;
        if running == 0 {
            return Ok(());
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "{running} statements of the killed server still running after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Filed cases: id → the key id of its sealed reporter.
async fn cases(db: &probity_store::Db) -> anyhow::Result<BTreeMap<String, String>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT aggregate_id, CAST(payload AS TEXT) FROM events WHERE event_type = 'ComplaintFiled'",
    )
    .fetch_all(&db.any)
    .await?;
    rows.into_iter()
        .map(|(id, payload)| {
            let payload: Value = serde_json::from_str(&payload)?;
            let key = find_key_id(&payload)
                .with_context(|| format!("case {id} has no sealed reporter"))?;
            Ok((id, key))
        })
        .collect()
}

/// The `key_id` of the sealed reporter somewhere in an event's payload.
fn find_key_id(value: &Value) -> Option<String> {
    match value {
        Value::Object(map) => map
            .get("key_id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| map.values().find_map(find_key_id)),
        Value::Array(items) => items.iter().find_map(find_key_id),
        _ => None,
    }
}

/// Stored responses: key → the case its body names.
async fn responses(db: &probity_store::Db) -> anyhow::Result<BTreeMap<String, String>> {
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT idem_key, response_body FROM idempotency_keys")
            .fetch_all(&db.any)
            .await?;
    rows.into_iter()
        .filter_map(|(key, body)| body.map(|b| (key, b)))
        .map(|(key, body)| {
            let body: Value = serde_json::from_str(&body)?;
            let id = body["id"]
                .as_str()
                .with_context(|| format!("the response of {key} names no case"))?;
            Ok((key, id.to_string()))
        })
        .collect()
}

async fn key_ids(db: &probity_store::Db) -> anyhow::Result<BTreeSet<String>> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT key_id FROM reporter_keys")
        .fetch_all(&db.any)
        .await?;
    Ok(rows.into_iter().map(|(k,)| k).collect())
}
