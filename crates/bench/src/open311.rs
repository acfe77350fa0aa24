//! The `open311-window` scenario (issue 10, item 11: no public endpoint costs more than
//! a bounded read): Open311's `GET requests` over its 90-day date window.
//!
//! - `complaint_views` is filled straight through SQL with `--window-cases` cases received
//!   evenly over two years (the last one received "now").
//! - The read of the default window (the last 90 days, at most 1,000 requests) is timed
//!   `--window-runs` times each way, in the same run on the same rows:
//!   - *before*: as Open311 read it until this change, every page of the received-order
//!     list from the first case ever received, dropping those before the window;
//!   - *after*: the same pages restricted to the window's range of the index
//!     (`ComplaintFilter.received_from` / `received_to`), as it reads now.
//! - On SQLite (a fresh data dir) and on a fresh Postgres database.

use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Duration, TimeZone, Utc};
use probity_domain::complaint::{Category, Channel, ComplaintEvent, ComplaintWireEvent};
use probity_store::Db;
use probity_views::{ComplaintFilter, ComplaintView, Views};

use crate::{drop_database, fresh_database, Args};

/// Open311's window and cap (`probity_open311::WINDOW_DAYS`, `MAX_REQUESTS`).
const WINDOW_DAYS: i64 = 90;
const MAX_REQUESTS: usize = 1000;

pub async fn open311_window(args: &Args) -> anyhow::Result<()> {
    for backend in ["sqlite", "postgres"] {
        let dir = tempfile::tempdir()?;
        let pg_url = match backend {
            "postgres" => Some(fresh_database(&args.admin_url).await?),
            _ => None,
        };
        let db = match &pg_url {
            Some(url) => Db::connect_postgres(url).await?,
            None => Db::open_sqlite(dir.path()).await?,
        };
        let now = fill(&db, args.window_cases).await?;
        let views = Views::new(db.clone());
        let (start, end) = (now - Duration::days(WINDOW_DAYS), now);
        let mut medians = Vec::new();
        for (label, ranged) in [("before", false), ("after", true)] {
            let mut times = Vec::new();
            let mut found = 0;
            for _ in 0..args.window_runs {
                let started = Instant::now();
                found = window(&views, start, end, ranged).await?;
                times.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            times.sort_by(|a, b| a.total_cmp(b));
            let median = times[times.len() / 2];
            let ratio = medians
                .first()
                .map(|b: &f64| format!(", {:.1}x faster than before", b / median))
                .unwrap_or_default();
            println!(
                "open311 window on {backend}, {} cases over 2 years, {label}: median {median:.1} ms (min {:.1}, max {:.1}) over {} runs, {found} requests{ratio}",
                args.window_cases,
                times[0],
                times[times.len() - 1],
                times.len()
            );
            medians.push(median);
        }
        drop(views);
        drop(db);
        if let Some(url) = pg_url {
            drop_database(&args.admin_url, &url).await?;
        }
    }
    Ok(())
}

/// Open311's list loop over `[start, end]`: unranged from the first case (before), or
/// over the window's range (after).
async fn window(
    views: &Views,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    ranged: bool,
) -> anyhow::Result<usize> {
    let filter = ComplaintFilter {
        received_from: ranged.then_some(start),
        received_to: ranged.then_some(end),
        ..ComplaintFilter::default()
    };
    let today = probity_domain::WorkingCalendar::local_date(end);
    let mut found = 0;
    let mut cursor: Option<String> = None;
    'pages: loop {
        let page = views
            .complaints(&filter, today, 500, cursor.as_deref())
            .await?;
        for view in page.items {
            if view.received_at > end {
                break 'pages;
            }
            if view.received_at >= start {
                found += 1;
                if found >= MAX_REQUESTS {
                    break 'pages;
                }
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(found)
}

/// `cases` received cases, evenly over two years up to the returned instant.
async fn fill(db: &Db, cases: u64) -> anyhow::Result<DateTime<Utc>> {
    let first = Utc.with_ymd_and_hms(2024, 3, 1, 2, 0, 0).unwrap();
    let span = Duration::days(730);
    let step = span / i32::try_from(cases.max(1)).context("too many cases")?;
    let filed: ComplaintWireEvent = ComplaintEvent::ComplaintFiled {
        category: Category::Help,
        channel: Channel::Web,
        subject_code: None,
        title: "bench".into(),
        description: "benchmark case".into(),
        anonymous: true,
        reporter: None,
        received_at: first,
    };
    let template = ComplaintView::apply(None, "c", 1, &filed).context("a filed view")?;
    let mut last = first;
    let mut i = 0u64;
    while i < cases {
        let n = (cases - i).min(500);
        let mut sql = String::from(
            "INSERT INTO complaint_views (id, version, status, category, unit, received_at, \
             sign_due, reply_due, doc) VALUES ",
        );
        let mut values = Vec::new();
        for k in 0..n {
            let mut view = template.clone();
            view.id = format!("bench-{:08}", i + k);
            view.received_at = first + step * i32::try_from(i + k)?;
            last = view.received_at;
            if k > 0 {
                sql.push(',');
            }
            let base = values.len();
            sql += &format!(
                "(${}, 1, 'received', 'help', NULL, ${}, NULL, NULL, ${})",
                base + 1,
                base + 2,
                base + 3
            );
            values.push(view.id.clone());
            values.push(
                view.received_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            );
            values.push(serde_json::to_string(&view)?);
        }
        let mut query = sqlx::query(&sql);
        for v in &values {
            query = query.bind(v.as_str());
        }
        query.execute(&db.any).await?;
        i += n;
    }
    Ok(last)
}
