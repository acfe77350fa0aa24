//! Debt risk warnings (§13, issue 11 item 5) through the API, on Postgres + NATS and
//! embedded: two debt records within 12 months raise a government's warning by
//! themselves; the clock moving a year on clears it; an overdue rectification of a debt
//! record raises it again and its verification clears it; every raising and clearing is
//! in the warning's history. The debt list is a public sector list.

use probity_http::Role;
use probity_tests::{spawn_app, start_on, Mode, TestApp, UNIT_A};
use serde_json::{json, Value};

crate::both_modes!(
    a_debt_warning_is_raised_and_cleared_by_the_records_the_clock_and_the_rectification
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
