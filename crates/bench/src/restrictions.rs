//! The `restrictions` scenario (issue 11 item 2): the restriction check of procurement
//! and bidding systems over 1,000,000 records.
//!
//! - `record_views` is filled straight through SQL (`INSERT … SELECT generate_series`,
//!   not through commands) with `--restriction-records` rows over 100,000 subjects, ten
//!   records each: sectors in turn general, procurement, bidding, ppp, debt; decisions
//!   spread over 2019–2026; every sector record of procurement, bidding and PPP with a
//!   1–3 year ban; one record in fifty a bribery conviction (general sector, 3-year ban);
//!   one in twenty withdrawn; then `ANALYZE`.
//! - Timed: `Views::restriction` (the same call as `GET /api/v1/restrictions`) for
//!   `--restriction-runs` random (subject, sector, day) triples, with `EXPLAIN ANALYZE`
//!   of one; beside, in the same run and on the same pool, the baseline `SELECT 1`
//!   (the round trip every read pays), then the same check with the index dropped.
//! - Where the time goes: Postgres' own execution time of the product's query
//!   (`EXPLAIN (ANALYZE)` of the exact SQL of `Views::restriction`) over 1,000 questions,
//!   and, when the release binary exists (`--probity`), the check through HTTP
//!   (`GET /api/v1/restrictions` on `probity serve`, public rate limit lifted) beside
//!   `GET /healthz` (the bare HTTP round trip) in the same run.
//!
//! Subjects are valid credit codes (`91110000` + an 8-digit organisation number and
//! both check characters), so the HTTP endpoint accepts them.

use std::time::Instant;

use anyhow::Context;
use chrono::NaiveDate;
use hdrhistogram::Histogram;
use probity_domain::integrity::{Offence, Sector};
use probity_store::Db;
// The product's own statement (`Views::restriction`), timed and explained as it is.
use probity_views::integrity::restrictions::RESTRICTION_SQL as CHECK_SQL;
use probity_views::Views;
use sqlx::postgres::PgPoolOptions;
use sqlx::Row;

use crate::{drop_database, fresh_database, quantiles_ms, Args, Server};

/// Subjects the records are spread over.
const SUBJECTS: u64 = 100_000;

pub async fn restrictions(args: &Args) -> anyhow::Result<()> {
    let db_url = fresh_database(&args.admin_url).await?;
    let result = run(args, &db_url).await;
    drop_database(&args.admin_url, &db_url).await?;
    result
}

const CREDIT_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// Subject `n` as a valid credit code: `91110000`, the organisation number `n` (8
/// digits) with its GB 11714 check character, and the GB 32100 check character.
fn subject_code(n: u64) -> String {
    let org = format!("{n:08}");
    let sum: u32 = org
        .bytes()
        .zip(ORG_WEIGHTS)
        .map(|(c, w)| u32::from(c - b'0') * w)
        .sum();
    let org_check = match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        d => char::from(b'0' + d as u8),
    };
    let body = format!("91110000{org}{org_check}");
    let sum: u32 = body
        .bytes()
        .zip(CREDIT_WEIGHTS)
        .map(|(c, w)| CREDIT_ALPHABET.iter().position(|&a| a == c).unwrap_or(0) as u32 * w)
        .sum();
    let check = char::from(CREDIT_ALPHABET[((31 - sum % 31) % 31) as usize]);
    format!("{body}{check}")
}

/// A pseudo-random sequence (SplitMix64), so every run asks the same questions.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn question(&mut self) -> (String, Sector, NaiveDate) {
        let subject = subject_code(self.next() % SUBJECTS);
        let sector =
            [Sector::Procurement, Sector::Bidding, Sector::Ppp][(self.next() % 3) as usize];
        let first = NaiveDate::from_ymd_opt(2019, 1, 1).expect("date");
        let on = first + chrono::Duration::days((self.next() % 2900) as i64);
        (subject, sector, on)
    }
}

async fn timed(views: &Views, runs: usize, seed: u64) -> anyhow::Result<(Histogram<u64>, usize)> {
    let mut hist = Histogram::<u64>::new(3)?;
    let mut draw = Draw(seed);
    let mut restricted = 0;
    for _ in 0..runs {
        let (subject, sector, on) = draw.question();
        let t = Instant::now();
        let answer = views.restriction(&subject, sector, on).await?;
        hist.record(t.elapsed().as_micros() as u64)?;
        restricted += usize::from(answer.restricted);
    }
    Ok((hist, restricted))
}

async fn run(args: &Args, db_url: &str) -> anyhow::Result<()> {
    // Connecting runs the migrations (0120 makes the index).
    let db = Db::connect_postgres(db_url)
        .await
        .context("connecting the store")?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(db_url)
        .await?;
    let rows = args.restriction_records;
    let t = Instant::now();
    let codes: Vec<String> = (0..SUBJECTS).map(subject_code).collect();
    if let Some(bad) = codes
        .iter()
        .find(|c| probity_domain::CreditCode::parse(c).is_err())
    {
        anyhow::bail!("generated an invalid credit code {bad}");
    }
    sqlx::query(
        "CREATE TABLE bench_subjects AS SELECT (n - 1)::bigint AS n, code \
         FROM UNNEST($1::text[]) WITH ORDINALITY AS u(code, n)",
    )
    .bind(&codes)
    .execute(&pool)
    .await?;
    sqlx::query("CREATE UNIQUE INDEX ON bench_subjects (n)")
        .execute(&pool)
        .await?;
    sqlx::query(
        "INSERT INTO record_views (id, version, subject_code, civil_servant_id, unit, source, \
         source_ref, decision_date, severity, sector, status, published, pub_start, \
         repair_possible_from, pub_ends, ban_until, summary, doc, offence) \
         SELECT 'r' || i, 1, s, NULL, s, \
           CASE WHEN i % 50 = 0 THEN 'court_judgment' ELSE 'administrative_penalty' END, \
           'ref-' || i, to_char(d, 'YYYY-MM-DD'), 'ordinary', sec, \
           CASE WHEN i % 20 = 7 THEN 'withdrawn' ELSE 'active' END, 1, \
           to_char(d, 'YYYY-MM-DD'), to_char(d + interval '3 months', 'YYYY-MM-DD'), \
           to_char(d + interval '1 year', 'YYYY-MM-DD'), \
           CASE WHEN i % 50 = 0 THEN to_char(d + interval '3 years', 'YYYY-MM-DD') \
                WHEN sec IN ('procurement', 'bidding', 'ppp') \
                THEN to_char(d + make_interval(years => 1 + (i % 3)::int), 'YYYY-MM-DD') END, \
           'generated finding', '{}', \
           CASE WHEN i % 50 = 0 THEN 'bribery' END \
         FROM (SELECT i, b.code AS s, \
                 CASE WHEN i % 50 = 0 THEN 'general' \
                      ELSE (ARRAY['general','procurement','bidding','ppp','debt'])[1 + (i / $2) % 5] END AS sec, \
                 DATE '2019-01-01' + ((i * 7919) % 2900)::int AS d \
               FROM generate_series(1, $1) AS i JOIN bench_subjects b ON b.n = i % $2) g",
    )
    .bind(rows as i64)
    .bind(SUBJECTS as i64)
    .execute(&pool)
    .await
    .context("generating the records")?;
    sqlx::query("DROP TABLE bench_subjects")
        .execute(&pool)
        .await?;
    sqlx::query("ANALYZE record_views").execute(&pool).await?;
    let banned: i64 = sqlx::query("SELECT count(*) FROM record_views WHERE ban_until IS NOT NULL")
        .fetch_one(&pool)
        .await?
        .try_get(0)?;
    println!(
        "restrictions: {rows} records over {SUBJECTS} subjects ({banned} with a ban) generated in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let views = Views::new(db.clone());

    // Warm the cache as a running server's would be, then time.
    timed(&views, 1_000, 1).await?;
    let (hist, restricted) = timed(&views, args.restriction_runs, 2).await?;
    let (p50, p99, max) = quantiles_ms(&hist);
    println!(
        "restrictions: check (index): {} calls, {restricted} restricted: p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms",
        args.restriction_runs
    );

    // Baseline 1: the trivial round trip on the same kind of pool.
    let mut base = Histogram::<u64>::new(3)?;
    for _ in 0..args.restriction_runs {
        let t = Instant::now();
        sqlx::query("SELECT 1").fetch_one(&db.any).await?;
        base.record(t.elapsed().as_micros() as u64)?;
    }
    let (b50, b99, bmax) = quantiles_ms(&base);
    println!(
        "restrictions: baseline SELECT 1: p50 {b50:.3} ms, p99 {b99:.3} ms, max {bmax:.3} ms; check/baseline p99 ratio {:.2}",
        p99 / b99.max(0.001)
    );

    postgres_side(&pool).await?;
    if args.probity.exists() {
        http_side(args, db_url).await?;
    } else {
        println!(
            "restrictions: {} not found: the check through HTTP is not measured",
            args.probity.display()
        );
    }

    // Baseline 2: the same check without the index.
    sqlx::query("DROP INDEX record_views_restriction_idx")
        .execute(&pool)
        .await?;
    sqlx::query("ANALYZE record_views").execute(&pool).await?;
    let runs = (args.restriction_runs / 50).max(20);
    let (slow, _) = timed(&views, runs, 2).await?;
    let (s50, s99, smax) = quantiles_ms(&slow);
    println!(
        "restrictions: check without the index: {runs} calls: p50 {s50:.3} ms, p99 {s99:.3} ms, max {smax:.3} ms; indexed/unindexed p99 ratio {:.4}",
        p99 / s99.max(0.001)
    );
    Ok(())
}

/// Binds a question to [`CHECK_SQL`]'s placeholders as `Views::restriction` does.
fn bind_check(
    q: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    (subject, sector, on): (String, Sector, NaiveDate),
) -> sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let day = on.format("%Y-%m-%d").to_string();
    q.bind(subject)
        .bind(day.clone())
        .bind(day)
        .bind(sector.as_str())
        .bind(i64::from(Offence::Bribery.bars() == sector))
}

/// Postgres' own execution time of the product's query: one plan printed, then the
/// `Execution Time` of `EXPLAIN (ANALYZE)` over 1,000 questions.
async fn postgres_side(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let explain = |options: &str| format!("EXPLAIN ({options}) {CHECK_SQL}");
    let plan_sql = explain("ANALYZE, BUFFERS");
    let plan: Vec<String> = bind_check(sqlx::query(&plan_sql), Draw(2).question())
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
    println!(
        "restrictions: plan of one check (the product's SQL):\n    {}",
        plan.join("\n    ")
    );
    let sql = explain("ANALYZE, FORMAT JSON");
    let mut exec = Histogram::<u64>::new(3)?;
    let mut draw = Draw(3);
    for _ in 0..1_000 {
        let row = bind_check(sqlx::query(&sql), draw.question())
            .fetch_one(pool)
            .await?;
        let v: serde_json::Value = row.try_get(0)?;
        let ms = v[0]["Execution Time"].as_f64().unwrap_or_default();
        exec.record((ms * 1000.0).max(1.0) as u64)?;
    }
    let (p50, p99, max) = quantiles_ms(&exec);
    println!(
        "restrictions: Postgres' execution time of the check (EXPLAIN ANALYZE, 1,000 questions): p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms"
    );
    Ok(())
}

/// The check through HTTP on the release server, beside `GET /healthz`.
async fn http_side(args: &Args, db_url: &str) -> anyhow::Result<()> {
    let env = [
        ("PROBITY_PUBLIC_RATE", "1000000".to_string()),
        ("PROBITY_PUBLIC_BURST", "1000000".to_string()),
    ];
    let server = Server::start_with(args, db_url, &env).await?;
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/restrictions", server.url);
    let ask = |(subject, sector, on): (String, Sector, NaiveDate)| {
        http.get(&url).query(&[
            ("subject_code", subject),
            ("sector", sector.as_str().to_string()),
            ("on", on.format("%Y-%m-%d").to_string()),
        ])
    };
    let mut draw = Draw(1);
    for _ in 0..1_000 {
        let r = ask(draw.question()).send().await?;
        if !r.status().is_success() {
            let status = r.status();
            anyhow::bail!("GET /api/v1/restrictions: {status} {}", r.text().await?);
        }
        r.bytes().await?;
    }
    let (mut check, mut health) = (Histogram::<u64>::new(3)?, Histogram::<u64>::new(3)?);
    let mut draw = Draw(2);
    let mut restricted = 0usize;
    for _ in 0..args.restriction_runs {
        let t = Instant::now();
        let r = ask(draw.question()).send().await?;
        let ok = r.status().is_success();
        let body: serde_json::Value = r.json().await?;
        check.record(t.elapsed().as_micros().max(1) as u64)?;
        if !ok {
            anyhow::bail!("GET /api/v1/restrictions: {body}");
        }
        restricted += usize::from(body["restricted"].as_bool() == Some(true));
        let t = Instant::now();
        let r = http.get(format!("{}/healthz", server.url)).send().await?;
        r.bytes().await?;
        health.record(t.elapsed().as_micros().max(1) as u64)?;
    }
    server.stop().await;
    let (p50, p99, max) = quantiles_ms(&check);
    let (h50, h99, hmax) = quantiles_ms(&health);
    println!(
        "restrictions: GET /api/v1/restrictions (probity serve, {} calls, {restricted} restricted): p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms; \
         baseline GET /healthz (interleaved): p50 {h50:.3} ms, p99 {h99:.3} ms, max {hmax:.3} ms; check/healthz p99 ratio {:.2}",
        args.restriction_runs,
        p99 / h99.max(0.001)
    );
    Ok(())
}
