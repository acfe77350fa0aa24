//! Named intake with an `Idempotency-Key`, as an intake system sends it (issue 9 item 2).
//!
//! Before ADR 0011 such a filing took four transactions (key reservation, reporter key,
//! events, response); now its key row and its response commit with its events in one
//! group-committed transaction. This scenario runs an earlier binary (`--probity-before`)
//! and this one (`--probity`) alternately on fresh databases, twice each, at 1 and 16
//! clients, and prints each figure with the ratio to the earlier binary's in the same round.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use serde_json::json;

use crate::{drop_database, fresh_database, quantiles_ms, Args, Server, UNIT};

pub async fn keyed(args: &Args) -> anyhow::Result<()> {
    let before = args
        .probity_before
        .as_deref()
        .context("the keyed scenario needs --probity-before (an earlier probity binary)")?;
    for round in 1..=2 {
        for clients in [1usize, 16] {
            let mut before_cps = None;
            for (label, bin) in [("before", before), ("after", args.probity.as_path())] {
                let db_url = fresh_database(&args.admin_url).await?;
                let server = Server::start_binary(args, bin, &db_url).await?;
                let intake = server.token(args, "intake", None).await?;
                let (cps, p50, p99, errors) = run(args, &server.url, &intake, clients).await?;
                let ratio = before_cps
                    .map(|b: f64| format!(", {:.2}x before", cps / b))
                    .unwrap_or_default();
                println!(
                    "keyed named intake, round {round}, {label} ({}), {clients} client(s): {cps:.0} filings/s (p50 {p50:.1} ms, p99 {p99:.1} ms){ratio}, {errors} errors",
                    bin.display()
                );
                before_cps.get_or_insert(cps);
                server.stop().await;
                drop_database(&args.admin_url, &db_url).await?;
            }
        }
    }
    Ok(())
}

/// `clients` loops filing named complaints, each with a fresh key, for `--seconds`.
async fn run(
    args: &Args,
    base: &str,
    intake: &str,
    clients: usize,
) -> anyhow::Result<(f64, f64, f64, u64)> {
    let http = reqwest::Client::new();
    let count = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(args.seconds);
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (http, base, intake) = (http.clone(), base.to_string(), intake.to_string());
            let (count, errors) = (count.clone(), errors.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < end {
                    let started = Instant::now();
                    let r = http
                        .post(format!("{base}/api/v1/complaints"))
                        .bearer_auth(&intake)
                        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
                        .json(&json!({
                            "category": "report", "channel": "hotline", "subject_code": UNIT,
                            "title": "bench", "description": "benchmark case",
                            "reporter": {"anonymous": false, "name": "Li Hua",
                                         "phone": "13800000000",
                                         "identity_number": "11010519491231002X"}
                        }))
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status().as_u16() == 201 => {
                            let _ = r.bytes().await;
                            latencies.push(started.elapsed().as_micros() as u64);
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                latencies
            })
        })
        .collect();
    let mut hist = Histogram::<u64>::new(3)?;
    for t in tasks {
        for micros in t.await? {
            hist.record(micros.max(1))?;
        }
    }
    let (p50, p99, _) = quantiles_ms(&hist);
    let cps = count.load(Ordering::Relaxed) as f64 / args.seconds as f64;
    Ok((cps, p50, p99, errors.load(Ordering::Relaxed)))
}
