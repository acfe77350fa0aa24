//! `--scenarios assessments`: `GET /api/v1/public/assessments` on a small and a large
//! log, from the stored projection, beside the same run's reference fold (the old path,
//! still behind `as_of` on `GET /api/v1/assessments`).
//!
//! For each size in `--assessment-sizes` (default 10,000 and `--events`), the log is
//! topped up with generated history straight into `events` (1 government, 30
//! departments; complaints dispatched to them over 2026, replied on time or late, some
//! visited, a few still owed at the end of the year; a dishonesty record every 20
//! complaints), `probity rebuild` projects it (timed), and the server is started with its
//! relay checkpoint already at the end of the log (as a server that had published it
//! all) and left until the audit sealer has sealed every event, so the timed requests
//! share the cores with nothing but Postgres. Then: `--assessment-runs` anonymous
//! `GET /public/assessments?period=2026` (after 5 untimed), and `--fold-runs` timed
//! `GET /assessments?period=2026&as_of=<now>` (auditor): the reference fold over the
//! whole log, whose items must equal the stored read's.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use cqrs_es::DomainEvent;
use hdrhistogram::Histogram;
use probity_domain::calendar::Deadline;
use probity_domain::complaint::{Category, Channel, ClosedBecause, ComplaintEvent};
use probity_domain::integrity::{PublicityPolicy, Sector, Severity, Source};
use probity_domain::record::{RecordEvent, RecordTarget};
use probity_domain::subject::{SubjectEvent, SubjectKind};
use probity_domain::CreditCode;
use serde_json::Value;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use crate::{drop_database, fresh_database, quantiles_ms, Args, Server};

/// Departments under the one government.
const DEPARTMENTS: u32 = 30;

/// A valid unified social credit code numbered `n` (the two check characters found by
/// trying them).
fn credit_code(n: u32) -> anyhow::Result<CreditCode> {
    let body = format!("11360400{n:08}");
    for org in "0123456789X".chars() {
        for check in "0123456789ABCDEFGHJKLMNPQRTUWXY".chars() {
            if let Ok(code) = CreditCode::parse(&format!("{body}{org}{check}")) {
                return Ok(code);
            }
        }
    }
    bail!("no check characters make {body} a credit code")
}

/// One event to load: aggregate type, id, sequence, event type, payload.
type Row = (&'static str, String, i64, String, Value);

fn row<E: DomainEvent + serde::Serialize>(
    ty: &'static str,
    id: &str,
    sequence: i64,
    event: &E,
) -> anyhow::Result<Row> {
    Ok((
        ty,
        id.to_string(),
        sequence,
        event.event_type(),
        serde_json::to_value(event)?,
    ))
}

fn noon(day: NaiveDate) -> DateTime<Utc> {
    // 12:00 in Shanghai.
    Utc.from_utc_datetime(&day.and_hms_opt(4, 0, 0).unwrap_or_default())
}

/// The history of generated case `i`: a complaint (five or six events), and every 20th
/// case a dishonesty record as well.
fn case(i: u64, units: &[CreditCode]) -> anyhow::Result<Vec<Row>> {
    let unit = units[(i % units.len() as u64) as usize].clone();
    let first = NaiveDate::from_ymd_opt(2026, 1, 5).context("a date")?;
    let dispatched = first + chrono::Duration::days((i % 330) as i64);
    let due = dispatched + chrono::Duration::days(21);
    let id = format!("bench-{i}");
    let at = noon(dispatched);
    let mut rows = vec![
        row(
            "complaint",
            &id,
            1,
            &ComplaintEvent::ComplaintFiled {
                category: Category::Complaint,
                channel: Channel::Hotline,
                subject_code: Some(unit.clone()),
                title: "assessment".into(),
                description: "generated case".into(),
                anonymous: true,
                reporter: None,
                received_at: at,
            },
        )?,
        row(
            "complaint",
            &id,
            2,
            &ComplaintEvent::ComplaintAccepted { at },
        )?,
        row(
            "complaint",
            &id,
            3,
            &ComplaintEvent::ComplaintDispatched {
                unit: unit.clone(),
                sign_due: Deadline {
                    due: dispatched + chrono::Duration::days(1),
                    provisional: false,
                },
                reply_due: Deadline {
                    due,
                    provisional: false,
                },
                at,
            },
        )?,
        row(
            "complaint",
            &id,
            4,
            &ComplaintEvent::ComplaintSigned {
                unit: unit.clone(),
                at,
            },
        )?,
    ];
    // A few cases stay owed, due at the end of the year (after the benchmark's today,
    // so the deadline engine has nothing to mark); the others are replied, one in four
    // late, and one in ten visited.
    if i.is_multiple_of(97) {
        rows[2] = row(
            "complaint",
            &id,
            3,
            &ComplaintEvent::ComplaintDispatched {
                unit: unit.clone(),
                sign_due: Deadline {
                    due: dispatched,
                    provisional: false,
                },
                reply_due: Deadline {
                    due: NaiveDate::from_ymd_opt(2026, 12, 30).context("a date")?,
                    provisional: false,
                },
                at,
            },
        )?;
    } else {
        let replied =
            dispatched + chrono::Duration::days(if i.is_multiple_of(4) { 25 } else { 10 });
        rows.push(row(
            "complaint",
            &id,
            5,
            &ComplaintEvent::ComplaintReplied {
                unit: unit.clone(),
                content: "answered".into(),
                at: noon(replied),
            },
        )?);
        if i.is_multiple_of(10) {
            rows.push(row(
                "complaint",
                &id,
                6,
                &ComplaintEvent::FollowUpVisited {
                    satisfied: i.is_multiple_of(20),
                    comment: "-".into(),
                    at: noon(replied + chrono::Duration::days(2)),
                },
            )?);
            if i.is_multiple_of(20) {
                rows.push(row(
                    "complaint",
                    &id,
                    7,
                    &ComplaintEvent::ComplaintClosed {
                        because: ClosedBecause::Satisfied,
                        at: noon(replied + chrono::Duration::days(2)),
                    },
                )?);
            }
        }
    }
    if i.is_multiple_of(20) {
        let severity =
            [Severity::Minor, Severity::Ordinary, Severity::Serious][(i / 20 % 3) as usize];
        let policy = PublicityPolicy::default();
        rows.push(row(
            "record",
            &format!("bench-record-{i}"),
            1,
            &RecordEvent::DishonestyRecorded {
                target: RecordTarget::Subject { code: unit },
                source: Source::AdministrativePenalty,
                source_ref: format!("bench-{i}"),
                decision_date: dispatched,
                severity,
                sector: Sector::General,
                summary: "generated finding".into(),
                complaint_id: None,
                publish_minor: false,
                ban_years: None,
                ban_until: None,
                offence: None,
                recorded_by: None,
                publicity: policy.window(severity, dispatched, false, false),
                policy,
                at,
            },
        )?);
    }
    Ok(rows)
}

async fn insert(pool: &PgPool, rows: Vec<Row>) -> anyhow::Result<()> {
    let mut types = Vec::with_capacity(rows.len());
    let mut ids = Vec::with_capacity(rows.len());
    let mut seqs = Vec::with_capacity(rows.len());
    let mut names = Vec::with_capacity(rows.len());
    let mut payloads = Vec::with_capacity(rows.len());
    for (ty, id, seq, name, payload) in rows {
        types.push(ty.to_string());
        ids.push(id);
        seqs.push(seq);
        names.push(name);
        payloads.push(payload);
    }
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         SELECT ty, id, seq, t, '1', p, '{\"actor\":\"bench\"}'::jsonb
           FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::jsonb[]) AS u(ty, id, seq, t, p)",
    )
    .bind(&types)
    .bind(&ids)
    .bind(&seqs)
    .bind(&names)
    .bind(&payloads)
    .execute(pool)
    .await
    .context("loading assessment history")?;
    Ok(())
}

/// Tops the log up to at least `target` events: the subjects first (once), then cases
/// from number `next` on. Returns the next case number.
async fn top_up(
    pool: &PgPool,
    units: &[CreditCode],
    mut next: u64,
    target: i64,
) -> anyhow::Result<u64> {
    let (mut total,): (i64,) = sqlx::query_as("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?;
    if next == 0 {
        let mut rows = Vec::new();
        for (n, code) in units.iter().enumerate() {
            let (kind, parent) = if n == 0 {
                (SubjectKind::Government, None)
            } else {
                (SubjectKind::Department, Some(units[0].clone()))
            };
            rows.push(row(
                "subject",
                code.as_str(),
                1,
                &SubjectEvent::SubjectRegistered {
                    code: code.clone(),
                    name: format!("单位 {n}"),
                    kind,
                    parent_code: parent,
                    at: Utc::now(),
                },
            )?);
        }
        total += rows.len() as i64;
        insert(pool, rows).await?;
    }
    while total < target {
        let mut rows = Vec::new();
        while rows.len() < 10_000 && total + (rows.len() as i64) < target {
            rows.extend(case(next, units)?);
            next += 1;
        }
        total += rows.len() as i64;
        insert(pool, rows).await?;
    }
    Ok(next)
}

async fn timed_get(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> anyhow::Result<(Duration, Value)> {
    let t = Instant::now();
    let mut request = http.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let r = request.send().await?;
    let status = r.status();
    let body: Value = r.json().await?;
    let elapsed = t.elapsed();
    if !status.is_success() {
        bail!("GET {url}: {status} {body}");
    }
    Ok((elapsed, body))
}

pub async fn assessments(args: &Args) -> anyhow::Result<()> {
    let db_url = fresh_database(&args.admin_url).await?;
    let server = Server::start(args, &db_url).await?;
    let auditor = server.token(args, "auditor", None).await?;
    server.stop().await;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&db_url)
        .await?;
    let units: Vec<CreditCode> = (0..=DEPARTMENTS)
        .map(credit_code)
        .collect::<anyhow::Result<_>>()?;
    let http = reqwest::Client::new();
    let mut next = 0;
    let mut sizes = args.assessment_sizes.clone();
    if sizes.is_empty() {
        sizes = vec![10_000, args.events as i64];
    }
    for size in sizes {
        let t = Instant::now();
        next = top_up(&pool, &units, next, size).await?;
        let (total,): (i64,) = sqlx::query_as("SELECT count(*) FROM events")
            .fetch_one(&pool)
            .await?;
        println!(
            "assessments: log topped up to {total} events in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        crate::time_rebuild(args, &db_url, total).await?;

        // A server that had published everything: its relay starts at the log's end.
        let prefix = format!("bench{}", uuid::Uuid::new_v4().simple());
        let stream = format!("{}_EVENTS", prefix.to_uppercase());
        sqlx::query(
            "INSERT INTO relay_checkpoints (relay, tx_id, position)
             SELECT $1, tx_id, position FROM events ORDER BY tx_id DESC, position DESC LIMIT 1",
        )
        .bind(&stream)
        .execute(&pool)
        .await?;
        let server =
            Server::start_with(args, &db_url, &[("PROBITY_NATS_PREFIX", prefix.clone())]).await?;
        let t = Instant::now();
        loop {
            let (sealed,): (i64,) = sqlx::query_as("SELECT count(*) FROM event_seals")
                .fetch_one(&pool)
                .await?;
            if sealed >= total || t.elapsed() > Duration::from_secs(1_800) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        println!(
            "assessments: the server sealed the {total} events in {:.1} s (waited for, not timed)",
            t.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;

        let public = format!("{}/api/v1/public/assessments?period=2026", server.url);
        let mut stored = Histogram::<u64>::new(3)?;
        let mut last = Value::Null;
        for run in 0..args.assessment_runs + 5 {
            let (elapsed, body) = timed_get(&http, &public, None).await?;
            if run >= 5 {
                stored.record(elapsed.as_micros() as u64)?;
            }
            last = body;
        }
        let rows = last["items"].as_array().map(Vec::len).unwrap_or(0);
        if rows != units.len() {
            bail!(
                "the public assessment has {rows} rows, expected {}",
                units.len()
            );
        }
        let (p50, p99, max) = quantiles_ms(&stored);
        println!(
            "assessments: GET /public/assessments?period=2026 (stored), {total} events, {rows} rows, {} requests: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms",
            args.assessment_runs
        );

        let auth = format!("{}/api/v1/assessments?period=2026", server.url);
        let (_, stored_rows) = timed_get(&http, &auth, Some(&auditor)).await?;
        let mut folded = Histogram::<u64>::new(3)?;
        for _ in 0..args.fold_runs {
            let as_of = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            let url = format!("{auth}&as_of={}", as_of.replace(':', "%3A"));
            let (elapsed, body) = timed_get(&http, &url, Some(&auditor)).await?;
            if body["items"] != stored_rows["items"] {
                bail!("the fold as of now differs from the stored rows at {total} events");
            }
            folded.record(elapsed.as_micros() as u64)?;
        }
        let (f50, f99, fmax) = quantiles_ms(&folded);
        println!(
            "assessments: GET /assessments?period=2026&as_of=now (the reference fold, the old path), {total} events, {} requests: p50 {f50:.1} ms, p99 {f99:.1} ms, max {fmax:.1} ms; items equal to the stored read; stored p99 / fold p50 = {:.4}",
            args.fold_runs,
            p99 / f50
        );
        server.stop().await;
    }
    pool.close().await;
    drop_database(&args.admin_url, &db_url).await?;
    Ok(())
}
