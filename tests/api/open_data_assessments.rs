//! Open data for third-party evaluators (issue 11 item 3, ADR 0031): the evaluator pulls
//! the public assessment rows of the periods it asks for in bulk as NDJSON and CSV, then
//! only the rows that changed by the cursor it was given, whether an event changed them
//! or a day passing did; applying the lines in order gives exactly the rows
//! `GET /public/assessments` shows. Every pull is in the access log; other roles are
//! refused; a bad `period` or `since` is 422. On Postgres + NATS and embedded.

use crate::assessments::record;
use std::collections::BTreeMap;

use chrono::Datelike as _;
use probity_tests::{spawn_app, start_on, Mode, TestApp, UNIT_A, UNIT_B};
use serde_json::{json, Value};

use crate::open_data::{csv_table, evaluator, ndjson_lines, pull_from, Pull};

crate::both_modes!(
    an_evaluator_pulls_the_assessment_rows_then_only_the_rows_that_changed,
    a_pull_a_month_on_resends_the_rows_the_calendar_changed,
    only_an_evaluator_pulls_assessments_and_a_bad_period_or_cursor_is_refused,
);

const PATH: &str = "/api/v1/open-data/assessments";
const UNIT_C: &str = "91330100716105852F";

/// The CSV columns of the assessments feed, in order.
const COLUMNS: [&str; 20] = [
    "op",
    "period",
    "code",
    "name",
    "kind",
    "parent_code",
    "score",
    "rank",
    "formula_version",
    "ordinary_records",
    "serious_records",
    "rectifications_on_time",
    "rectifications_overdue",
    "replies_on_time",
    "replies_late",
    "satisfaction_rate",
    "supervision_replies_on_time",
    "supervision_replies_late",
    "commitments_fulfilled",
    "commitments_breached",
];

/// Rows keyed by (period, code).
type Rows = BTreeMap<(String, String), Value>;

async fn register(app: &TestApp) {
    for body in [
        json!({"credit_code": UNIT_A, "name": "九江市人民政府", "kind": "government"}),
        json!({"credit_code": UNIT_B, "name": "九江市某局", "kind": "department", "parent_code": UNIT_A}),
        json!({"credit_code": UNIT_C, "name": "九江市另一局", "kind": "department", "parent_code": UNIT_A}),
    ] {
        let r = app.post("/api/v1/subjects", &app.admin, &body).await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    }
}

fn key(row: &Value) -> (String, String) {
    (
        row["period"].as_str().expect("a period").to_string(),
        row["code"].as_str().expect("a code").to_string(),
    )
}

/// The rows `GET /public/assessments?period=` shows once `ready` holds for them.
async fn public_rows(app: &TestApp, period: &str, ready: impl Fn(&Rows) -> bool) -> Rows {
    let rows_of = |b: &Value| -> Rows {
        b["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| (key(r), r.clone()))
            .collect()
    };
    let body = app
        .eventually(
            &format!("/api/v1/public/assessments?period={period}"),
            "",
            |b| ready(&rows_of(b)),
        )
        .await;
    rows_of(&body)
}

fn path(period: &str) -> String {
    format!("{PATH}?period={period}")
}

/// The NDJSON lines of a pull, in order.
fn ndjson(p: &Pull) -> Vec<Value> {
    ndjson_lines(p)
}

/// The CSV rows of a pull, each a map of column to value.
fn csv_rows(p: &Pull) -> Vec<BTreeMap<String, String>> {
    csv_table(p, &COLUMNS)
}

/// What an evaluator holds after applying `lines` in order to `held`.
fn apply(mut held: Rows, lines: &[Value]) -> Rows {
    for line in lines {
        let mut row = line.clone();
        let op = row
            .as_object_mut()
            .and_then(|o| o.remove("op"))
            .expect("an op");
        match op.as_str() {
            Some("upsert") => {
                held.insert(key(&row), row);
            }
            Some("delete") => {
                assert_eq!(row.as_object().map(|o| o.len()), Some(2), "{line}");
                held.remove(&key(&row));
            }
            other => panic!("op {other:?} in {line}"),
        }
    }
    held
}

/// The keys of the lines of a pull.
fn keys(lines: &[Value]) -> Vec<(String, String)> {
    let mut keys: Vec<_> = lines.iter().map(key).collect();
    keys.sort();
    keys
}

/// The keys whose rows differ between `before` and `after`.
fn differing(before: &Rows, after: &Rows) -> Vec<(String, String)> {
    let mut keys: Vec<_> = before.keys().chain(after.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    keys.retain(|k| before.get(k) != after.get(k));
    keys
}

async fn an_evaluator_pulls_the_assessment_rows_then_only_the_rows_that_changed(mode: Mode) {
    let app = spawn_app(mode).await;
    let token = evaluator(&app).await;
    register(&app).await;
    // Personal data on file (a named complaint), none of which may be in a pull.
    app.file("complaint").await;
    record(&app, UNIT_B, "九府督〔2026〕1号", "serious").await;
    let year = app.today().year().to_string();
    let quarter = format!("{year}-Q{}", app.today().month0() / 3 + 1);
    let before = public_rows(&app, &year, |rows| {
        rows.len() == 3
            && rows
                .get(&(year.clone(), UNIT_B.to_string()))
                .is_some_and(|r| r["serious_records"] == 1)
    })
    .await;

    // The first pull: every row of the year, exactly as the public assessment shows it.
    let full = pull_from(&app, &path(&year), &token, None, "application/x-ndjson").await;
    let lines = ndjson(&full);
    assert!(lines.iter().all(|l| l["op"] == "upsert"), "{}", full.text);
    assert_eq!(apply(Rows::new(), &lines), before);
    assert_eq!(before[&(year.clone(), UNIT_B.to_string())]["score"], 90.0);
    assert!(!full.cursor.is_empty());
    assert_eq!(
        full.link,
        format!("<{PATH}?since={}&period={year}>; rel=\"next\"", full.cursor)
    );
    // The same pull as CSV: the same rows, column for column.
    let as_csv = csv_rows(&pull_from(&app, &path(&year), &token, None, "text/csv").await);
    assert_eq!(as_csv.len(), 3);
    for row in &as_csv {
        assert_eq!(row["op"], "upsert");
        let public = &before[&(row["period"].clone(), row["code"].clone())];
        for column in &COLUMNS[1..] {
            let expected = match &public[*column] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(row[*column], expected, "{column} of {row:?}");
        }
    }

    // Nothing changed: the next pull is empty and hands out a cursor again.
    let quiet = pull_from(
        &app,
        &path(&year),
        &token,
        Some(&full.cursor),
        "application/x-ndjson",
    )
    .await;
    assert!(ndjson(&quiet).is_empty(), "{}", quiet.text);
    assert!(!quiet.cursor.is_empty());

    // A new record against UNIT_C: its row, the government's (which counts its
    // departments') and every rank it moved change, nothing else is sent.
    record(&app, UNIT_C, "九府督〔2026〕2号", "minor").await;
    record(&app, UNIT_C, "九府督〔2026〕3号", "ordinary").await;
    let after = public_rows(&app, &year, |rows| {
        rows.get(&(year.clone(), UNIT_C.to_string()))
            .is_some_and(|r| r["ordinary_records"] == 1)
    })
    .await;
    let changed = differing(&before, &after);
    assert!(changed.contains(&(year.clone(), UNIT_C.to_string())));
    assert!(changed.contains(&(year.clone(), UNIT_A.to_string())));
    assert!(changed.len() < after.len(), "UNIT_B's row is unchanged");
    let next = pull_from(
        &app,
        &path(&year),
        &token,
        Some(&quiet.cursor),
        "application/x-ndjson",
    )
    .await;
    let lines = ndjson(&next);
    assert_eq!(keys(&lines), changed, "{}", next.text);
    assert_eq!(apply(before.clone(), &lines), after);
    // The same changes as CSV from the same cursor.
    let same =
        csv_rows(&pull_from(&app, &path(&year), &token, Some(&quiet.cursor), "text/csv").await);
    let mut csv_keys: Vec<_> = same
        .iter()
        .map(|r| (r["period"].clone(), r["code"].clone()))
        .collect();
    csv_keys.sort();
    assert_eq!(csv_keys, changed);

    // Without a period: every year and quarter with figures, and a cursor for those.
    let all = pull_from(&app, PATH, &token, None, "application/x-ndjson").await;
    let everything = apply(Rows::new(), &ndjson(&all));
    let quarter_rows = public_rows(&app, &quarter, |rows| rows.len() == 3).await;
    let mut expected = after.clone();
    expected.extend(quarter_rows);
    assert_eq!(everything, expected);
    assert_eq!(
        all.link,
        format!("<{PATH}?since={}>; rel=\"next\"", all.cursor)
    );
    let none = pull_from(
        &app,
        PATH,
        &token,
        Some(&all.cursor),
        "application/x-ndjson",
    )
    .await;
    assert!(ndjson(&none).is_empty(), "{}", none.text);

    // Every pull is in the access log, data set `assessments`, with the evaluator's role.
    let log = app
        .eventually(
            "/api/v1/access-log?case_type=open_data",
            &app.auditor,
            |b| b["items"].as_array().map_or(0, Vec::len) >= 7,
        )
        .await;
    let entries = log["items"].as_array().unwrap();
    assert_eq!(entries.len(), 7, "{log}");
    for entry in entries {
        assert_eq!(entry["event_type"], "OpenDataRead", "{entry}");
        assert_eq!(entry["case_id"], "assessments", "{entry}");
        assert_eq!(entry["role"], "evaluator", "{entry}");
        assert_eq!(entry["purpose"], "open_data", "{entry}");
    }
    app.app.stop().await;
}

async fn a_pull_a_month_on_resends_the_rows_the_calendar_changed(mode: Mode) {
    let app = spawn_app(mode).await;
    let token = evaluator(&app).await;
    register(&app).await;
    // A complaint dispatched to the government and signed, its reply owed, not yet late.
    let id = app.dispatched("complaint").await;
    app.verb(&id, "sign", &app.handler_a, json!({})).await;
    let year = app.today().year().to_string();
    // Projected: the reply's deadline is on the board (written with the owed reply).
    app.eventually(
        "/api/v1/deadlines?kind=complaint_reply",
        &app.supervisor,
        |b| b["items"].as_array().is_some_and(|i| i.len() == 1),
    )
    .await;
    let before = public_rows(&app, &year, |rows| rows.len() == 3).await;
    assert_eq!(
        before[&(year.clone(), UNIT_A.to_string())]["replies_late"],
        0
    );
    let full = pull_from(&app, &path(&year), &token, None, "text/csv").await;
    assert_eq!(csv_rows(&full).len(), 3);
    let held = apply(
        Rows::new(),
        &ndjson(&pull_from(&app, &path(&year), &token, None, "application/x-ndjson").await),
    );
    assert_eq!(held, before);

    // The same store 30 days on: the reply is late now, by the calendar alone (and the
    // deadline engine marks it overdue, which the assessment counts as a supervision).
    let (backing, later_offset) = (
        app.backing.clone(),
        app.clock_offset + chrono::Duration::days(30),
    );
    let TestApp {
        app: running, dir, ..
    } = app;
    running.stop().await;
    let later = start_on(backing, dir, later_offset).await;
    let v = later
        .get(&format!("/api/v1/complaints/{id}"), &later.supervisor)
        .await;
    assert_eq!(v.assert_ok()["overdue"], true, "{}", v.body);
    later
        .eventually(
            &format!("/api/v1/assessments?period={year}"),
            &later.supervisor,
            |b| {
                b["items"].as_array().is_some_and(|items| {
                    items.iter().any(|r| {
                        r["code"] == UNIT_A
                            && r["own"]["supervisions"] == 1
                            && r["own"]["complaint_replies"]["late"] == 1
                    })
                })
            },
        )
        .await;
    let now = public_rows(&later, &year, |rows| rows.len() == 3).await;
    let government = &now[&(year.clone(), UNIT_A.to_string())];
    assert_eq!(government["replies_late"], 1, "{government}");
    let changed = differing(&before, &now);
    assert!(changed.contains(&(year.clone(), UNIT_A.to_string())));

    // The pull with the first cursor re-sends exactly the rows the day changed.
    let next = pull_from(
        &later,
        &path(&year),
        &token,
        Some(&full.cursor),
        "application/x-ndjson",
    )
    .await;
    let lines = ndjson(&next);
    assert_eq!(keys(&lines), changed, "{}", next.text);
    assert_eq!(apply(held, &lines), now);
    let quiet = pull_from(&later, &path(&year), &token, Some(&next.cursor), "text/csv").await;
    assert!(csv_rows(&quiet).is_empty(), "{}", quiet.text);
    later.app.stop().await;
}

async fn only_an_evaluator_pulls_assessments_and_a_bad_period_or_cursor_is_refused(mode: Mode) {
    let app = spawn_app(mode).await;
    let token = evaluator(&app).await;
    for other in [
        &app.admin,
        &app.intake,
        &app.supervisor,
        &app.auditor,
        &app.handler_a,
    ] {
        app.get(&path("2026"), other)
            .await
            .assert_problem(403, "forbidden");
    }
    app.get(PATH, "")
        .await
        .assert_problem(401, "unauthenticated");
    for bad in ["2026-Q5", "26", "2026,", "2026;2027", "yesterday"] {
        let r = app
            .get(&format!("{PATH}?period={}", urlencode(bad)), &token)
            .await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], "period", "{}", r.body);
    }
    let records = pull_from(&app, "/api/v1/open-data/records", &token, None, "*/*").await;
    let year = pull_from(&app, &path("2026"), &token, None, "*/*").await;
    assert_eq!(year.status, 200, "{}", year.text);
    for (period, since) in [
        ("2026", "not-a-cursor"),
        // A records cursor is not an assessments one.
        ("2026", records.cursor.as_str()),
        // A cursor of other periods.
        ("2027", year.cursor.as_str()),
        ("", year.cursor.as_str()),
    ] {
        let r = app
            .get(&format!("{PATH}?period={period}&since={since}"), &token)
            .await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], "since", "{}", r.body);
    }
    // The same periods in another order or case are the same periods.
    let again = pull_from(&app, &path("2026-q1,2026"), &token, None, "*/*").await;
    let r = app
        .get(
            &format!("{PATH}?period=2026,2026-Q1&since={}", again.cursor),
            &token,
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    // No government or department: an empty body (CSV: its header row alone).
    let empty = pull_from(&app, &path("2026"), &token, None, "text/csv").await;
    assert!(csv_rows(&empty).is_empty(), "{}", empty.text);
    app.app.stop().await;
}

fn urlencode(s: &str) -> String {
    s.replace(',', "%2C").replace(';', "%3B")
}
