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

use std::time::Instant;

use anyhow::Context;
use chrono::NaiveDate;
use hdrhistogram::Histogram;
use probity_domain::integrity::Sector;
use probity_store::Db;
use probity_views::Views;
use sqlx::postgres::PgPoolOptions;
use sqlx::Row;

use crate::{drop_database, fresh_database, quantiles_ms, Args};

/// Subjects the records are spread over.
const SUBJECTS: u64 = 100_000;

pub async fn restrictions(args: &Args) -> anyhow::Result<()> {
    let db_url = fresh_database(&args.admin_url).await?;
    let result = run(args, &db_url).await;
    drop_database(&args.admin_url, &db_url).await?;
    result
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
        let subject = format!("S{:08}", self.next() % SUBJECTS);
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
         FROM (SELECT i, 'S' || lpad((i % $2)::text, 8, '0') AS s, \
                 CASE WHEN i % 50 = 0 THEN 'general' \
                      ELSE (ARRAY['general','procurement','bidding','ppp','debt'])[1 + (i / $2) % 5] END AS sec, \
                 DATE '2019-01-01' + ((i * 7919) % 2900)::int AS d \
               FROM generate_series(1, $1) AS i) g",
    )
    .bind(rows as i64)
    .bind(SUBJECTS as i64)
    .execute(&pool)
    .await
    .context("generating the records")?;
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

    let (subject, sector, on) = Draw(2).question();
    let plan: Vec<String> = sqlx::query(&format!(
        "EXPLAIN ANALYZE SELECT r.id FROM record_views r WHERE r.subject_code = '{subject}' \
         AND r.ban_until IS NOT NULL AND '{on}' < r.ban_until AND r.decision_date <= '{on}' \
         AND r.status = 'active' AND (r.sector = '{}' OR (1 = 1 AND r.offence = 'bribery'))",
        sector.as_str()
    ))
    .fetch_all(&pool)
    .await?
    .iter()
    .map(|r| r.try_get::<String, _>(0))
    .collect::<Result<_, _>>()?;
    println!(
        "restrictions: plan of one check:\n    {}",
        plan.join("\n    ")
    );

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
