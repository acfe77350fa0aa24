//! Debt risk warnings (§13, issue 11 item 5) through the API, on Postgres + NATS and
//! embedded: two debt records within 12 months raise a government's warning by
//! themselves; the clock moving a year on clears it; an overdue rectification of a debt
//! record raises it again and its verification clears it; every raising and clearing is
//! in the warning's history. The debt list is a public sector list. Two servers on one
//! store sweep once per tick between them, and the survivor sweeps when one dies.

use probity_http::Role;
use probity_tests::{spawn_app, start_on, Mode, TestApp, UNIT_A};
use serde_json::{json, Value};

crate::both_modes!(
    a_debt_warning_is_raised_and_cleared_by_the_records_the_clock_and_the_rectification,
    two_servers_sweep_once_per_tick_and_the_survivor_sweeps_when_one_dies,
);

/// A government outside the county's authority.
const UNIT_C: &str = "91330100716105852F";

fn codes(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| i["subject_code"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn debt_record(app: &TestApp, source_ref: &str, decided: chrono::NaiveDate) -> String {
    let r = app
        .post(
            "/api/v1/records",
            &app.supervisor,
            &json!({
                "subject_code": UNIT_A, "source": "administrative_penalty",
                "source_ref": source_ref, "decision_date": decided,
                "severity": "ordinary", "sector": "debt",
                "summary": "违规举借政府债务"
            }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

/// The same backing, its clock `days` further on.
async fn later(app: TestApp, days: i64) -> TestApp {
    let backing = app.backing.clone();
    let offset = app.clock_offset + chrono::Duration::days(days);
    let mut app = app;
    let dir = app.dir.take();
    app.app.stop().await;
    start_on(backing, dir, offset).await
}

async fn a_debt_warning_is_raised_and_cleared_by_the_records_the_clock_and_the_rectification(
    mode: Mode,
) {
    let app = spawn_app(mode).await;
    let r = app
        .post(
            "/api/v1/subjects",
            &app.admin,
            &json!({"credit_code": UNIT_A, "name": "某县人民政府", "kind": "government"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let today = app.today();

    // One debt record: on the public debt list, no warning.
    let first = debt_record(
        &app,
        "九财债罚〔2026〕1号",
        today - chrono::Duration::days(60),
    )
    .await;
    let list = app
        .eventually("/api/v1/public/sector-lists/debt", "", |b| {
            b["items"].as_array().is_some_and(|i| i.len() == 1)
        })
        .await;
    assert_eq!(list["sector"], "debt");
    assert_eq!(list["items"][0]["id"], first.as_str());
    assert_eq!(list["items"][0]["banned"], false);
    let warnings = app.get("/api/v1/debt-warnings", &app.supervisor).await;
    assert!(codes(warnings.assert_ok()).is_empty(), "{}", warnings.body);

    // A second one within 12 months: the warning is raised by itself.
    let second = debt_record(
        &app,
        "九财债罚〔2026〕2号",
        today - chrono::Duration::days(1),
    )
    .await;
    let warnings = app
        .eventually("/api/v1/debt-warnings", &app.supervisor, |b| {
            codes(b) == vec![UNIT_A.to_string()]
        })
        .await;
    let w = &warnings["items"][0];
    assert_eq!(w["status"], "raised", "{w}");
    assert_eq!(w["subject_name"], "某县人民政府");
    assert_eq!(w["raised_on"], today.to_string());
    assert_eq!(w["reasons"][0]["kind"], "records_in_window", "{w}");
    assert_eq!(w["reasons"][0]["count"], 2);
    assert_eq!(w["reasons"][0]["threshold"], 2);
    let mut ids = vec![first.clone(), second.clone()];
    ids.sort();
    assert_eq!(w["reasons"][0]["record_ids"], json!(ids));

    // Who reads it: the auditor, a supervisor bound to the county; not another
    // authority's supervisor (an empty list), not a handler, not without a token.
    let auditor = app.get("/api/v1/debt-warnings", &app.auditor).await;
    assert_eq!(codes(auditor.assert_ok()), vec![UNIT_A.to_string()]);
    let db = &app.app.db;
    let bound = |unit: &str| {
        let unit = probity_domain::CreditCode::parse(unit).unwrap();
        async move {
            probity_http::create_token(db, Role::Supervisor, Some(unit), Some("bound".into()))
                .await
                .unwrap()
        }
    };
    let county = bound(UNIT_A).await;
    let other = bound(UNIT_C).await;
    let r = app.get("/api/v1/debt-warnings", &county).await;
    assert_eq!(codes(r.assert_ok()), vec![UNIT_A.to_string()]);
    let r = app.get("/api/v1/debt-warnings", &other).await;
    assert!(codes(r.assert_ok()).is_empty(), "{}", r.body);
    app.get("/api/v1/debt-warnings", &app.handler_a)
        .await
        .assert_problem(403, "forbidden");
    app.get("/api/v1/debt-warnings", "")
        .await
        .assert_problem(401, "unauthenticated");
    app.get("/api/v1/debt-warnings?status=nope", &app.supervisor)
        .await
        .assert_problem(422, "validation_failed");

    // A year on, both records left the window: the warning is cleared by itself.
    let app = later(app, 366).await;
    app.eventually("/api/v1/debt-warnings", &app.supervisor, |b| {
        codes(b).is_empty()
    })
    .await;
    let cleared = app
        .get("/api/v1/debt-warnings?status=cleared", &app.supervisor)
        .await;
    let w = &cleared.assert_ok()["items"][0];
    assert_eq!(w["subject_code"], UNIT_A, "{}", cleared.body);
    assert_eq!(w["status"], "cleared");
    assert_eq!(w["cleared_on"], app.today().to_string());

    // A new debt record whose rectification goes overdue: raised again.
    let third = debt_record(
        &app,
        "九财债罚〔2027〕1号",
        app.today() - chrono::Duration::days(1),
    )
    .await;
    let r = app
        .post(
            "/api/v1/rectifications",
            &app.supervisor,
            &json!({"record_id": third, "working_days": 1}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let rect = r.body["id"].as_str().unwrap().to_string();
    let app = later(app, 15).await;
    let warnings = app
        .eventually("/api/v1/debt-warnings", &app.supervisor, |b| {
            codes(b) == vec![UNIT_A.to_string()]
        })
        .await;
    let w = &warnings["items"][0];
    assert_eq!(w["times_raised"], 2, "{w}");
    assert_eq!(w["reasons"][0]["kind"], "overdue_rectification", "{w}");
    assert_eq!(w["reasons"][0]["rectification_id"], rect.as_str());
    assert_eq!(w["reasons"][0]["record_id"], third.as_str());

    // The county rectifies and the supervisor verifies: cleared again.
    for (verb, token, body) in [
        (
            "file-explanation",
            &app.handler_a,
            json!({"text": "资金调度失误"}),
        ),
        (
            "report",
            &app.handler_a,
            json!({"text": "已清理违规举债并问责"}),
        ),
        ("verify", &app.supervisor, json!({})),
    ] {
        app.post(
            &format!("/api/v1/rectifications/{rect}/{verb}"),
            token,
            &body,
        )
        .await
        .assert_ok();
    }
    app.eventually("/api/v1/debt-warnings", &app.supervisor, |b| {
        codes(b).is_empty()
    })
    .await;

    // Every raising and clearing is in the warning's history (the events on the bus).
    let history = app
        .eventually(
            &format!("/api/v1/history/debt_warning/{UNIT_A}"),
            &app.auditor,
            |b| b["items"].as_array().is_some_and(|i| i.len() == 4),
        )
        .await;
    let types: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        vec![
            "DebtWarningRaised",
            "DebtWarningCleared",
            "DebtWarningRaised",
            "DebtWarningCleared"
        ],
        "{history}"
    );
    assert_eq!(history["items"][0]["actor"], "debt-warning-sweep");
}

/// This server's debt-sweep counters from `/metrics`: (swept, skipped).
async fn sweep_counts(app: &TestApp) -> (u64, u64) {
    let text = app
        .client
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .expect("the server answers")
        .text()
        .await
        .unwrap_or_default();
    let counter = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} missing from /metrics: {text}"))
    };
    (
        counter("probity_debt_sweeps_total "),
        counter("probity_debt_sweeps_skipped_total "),
    )
}

/// Polls until `done` holds for the servers' counters (at most a minute).
async fn counts_until(
    servers: &[&TestApp],
    done: impl Fn(&[(u64, u64)]) -> bool,
) -> Vec<(u64, u64)> {
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let mut counts = Vec::new();
        for server in servers {
            counts.push(sweep_counts(server).await);
        }
        if done(&counts) {
            return counts;
        }
        assert!(
            std::time::Instant::now() < give_up,
            "sweep counters never got there: {counts:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn two_servers_sweep_once_per_tick_and_the_survivor_sweeps_when_one_dies(mode: Mode) {
    let started = std::time::Instant::now();
    let first = spawn_app(mode).await;
    let r = first
        .post(
            "/api/v1/subjects",
            &first.admin,
            &json!({"credit_code": UNIT_A, "name": "某县人民政府", "kind": "government"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let second = start_on(first.backing.clone(), None, first.clock_offset).await;

    // Both tick every second (the suite's deadline tick); each tick only one sweeps.
    let counts = counts_until(&[&first, &second], |c| {
        c.iter().all(|(swept, skipped)| swept + skipped >= 4)
    })
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    let swept: u64 = counts.iter().map(|c| c.0).sum();
    let skipped: u64 = counts.iter().map(|c| c.1).sum();
    assert!(
        skipped > 0,
        "no tick was left to the other server: {counts:?}"
    );
    // The lease lasts 0.9 of a tick: at most one sweep per 0.9 s across both servers
    // (two servers sweeping every tick would make about twice the seconds elapsed).
    assert!(
        (swept as f64) <= elapsed / 0.9 + 1.0,
        "{swept} sweeps in {elapsed:.1} s: {counts:?}"
    );

    // The server that swept most dies (its lease is never given back): the other one
    // sweeps once it has run out, and a warning owed afterwards is raised.
    let (dead, survivor) = if counts[0].0 >= counts[1].0 {
        (first, second)
    } else {
        (second, first)
    };
    dead.app.stop().await;
    let before = sweep_counts(&survivor).await.0;
    counts_until(&[&survivor], |c| c[0].0 >= before + 2).await;
    let today = survivor.today();
    for (n, days) in [(1, 60), (2, 1)] {
        debt_record(
            &survivor,
            &format!("九财债罚〔2026〕{}号", 90 + n),
            today - chrono::Duration::days(days),
        )
        .await;
    }
    let warnings = survivor
        .eventually("/api/v1/debt-warnings", &survivor.supervisor, |b| {
            codes(b) == vec![UNIT_A.to_string()]
        })
        .await;
    assert_eq!(warnings["items"][0]["status"], "raised", "{warnings}");
    survivor.app.stop().await;
}
