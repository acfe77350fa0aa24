//! Good standing (守信激励, issue 11 item 7) through the API, on Postgres + NATS and
//! embedded: a subject is listed once it has kept a clean record for the configured
//! years (default 3), with the day it qualified and the positive reason on its
//! eligibility, and leaves the list when a record of it is published.

use chrono::{Months, NaiveDate};
use probity_tests::{spawn_app, start_on, Mode, TestApp, UNIT_A, UNIT_B};
use serde_json::{json, Value};

crate::both_modes!(good_standing_is_listed_after_clean_years_and_lost_with_a_published_record);

fn codes(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| i["code"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn public(app: &TestApp, path: &str) -> Value {
    let r = app
        .request(reqwest::Method::GET, path, None, None, &[])
        .await;
    assert_eq!(r.status.as_u16(), 200, "{path}: {}", r.body);
    r.body
}

async fn good_standing_is_listed_after_clean_years_and_lost_with_a_published_record(mode: Mode) {
    let app = spawn_app(mode).await;
    let registered = app.today();
    for (code, name, kind) in [
        (UNIT_A, "九江市人民政府", "government"),
        (UNIT_B, "九江市某局", "department"),
    ] {
        let r = app
            .post(
                "/api/v1/subjects",
                &app.admin,
                &json!({"credit_code": code, "name": name, "kind": kind}),
            )
            .await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    }
    app.eventually(
        &format!("/api/v1/subjects/{UNIT_B}"),
        &app.supervisor,
        |_| true,
    )
    .await;
    // Registered today: not yet three clean years.
    assert!(codes(&public(&app, "/api/v1/public/good-standing").await).is_empty());
    app.request(
        reqwest::Method::GET,
        "/api/v1/public/good-standing?kind=nope",
        None,
        None,
        &[],
    )
    .await
    .assert_problem(422, "validation_failed");

    // Three years and a few days later (the server's clock moved on).
    let backing = app.backing.clone();
    let later = app.clock_offset + chrono::Duration::days(3 * 366);
    let mut app = app;
    let dir = app.dir.take();
    app.app.stop().await;
    let app = start_on(backing, dir, later).await;
    let qualified: NaiveDate = registered.checked_add_months(Months::new(36)).unwrap();
    let list = app
        .eventually("/api/v1/public/good-standing", "", |b| codes(b).len() == 2)
        .await;
    assert_eq!(
        codes(&list),
        vec![UNIT_A.to_string(), UNIT_B.to_string()],
        "{list}"
    );
    assert_eq!(list["items"][1]["qualified_on"], qualified.to_string());
    assert_eq!(list["items"][1]["years"], 3);
    assert_eq!(list["next_cursor"], Value::Null);
    let departments = public(&app, "/api/v1/public/good-standing?kind=department").await;
    assert_eq!(codes(&departments), vec![UNIT_B.to_string()]);
    // The eligibility read shows the positive reason.
    let e = app
        .get(
            &format!("/api/v1/subjects/{UNIT_B}/eligibility"),
            &app.supervisor,
        )
        .await;
    assert_eq!(e.body["eligible"], true, "{}", e.body);
    assert_eq!(
        e.body["good_standing"]["qualified_on"],
        qualified.to_string()
    );
    assert!(e.body["good_standing"]["reason"]
        .as_str()
        .unwrap()
        .contains("3 years"));

    // A published record: UNIT_B loses its good standing, UNIT_A keeps it.
    let decided = app.today().pred_opt().unwrap();
    let r = app
        .post(
            "/api/v1/records",
            &app.supervisor,
            &json!({
                "subject_code": UNIT_B, "source": "administrative_penalty",
                "source_ref": "九市监罚〔2029〕1号", "decision_date": decided,
                "severity": "ordinary", "sector": "general",
                "summary": "未按承诺时限办结审批"
            }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    app.eventually("/api/v1/public/good-standing", "", |b| {
        codes(b) == vec![UNIT_A.to_string()]
    })
    .await;
    let page = public(&app, &format!("/api/v1/public/subjects/{UNIT_B}")).await;
    assert!(page["eligibility"].get("good_standing").is_none(), "{page}");
    let page = public(&app, &format!("/api/v1/public/subjects/{UNIT_A}")).await;
    assert_eq!(
        page["eligibility"]["good_standing"]["qualified_on"],
        qualified.to_string()
    );
}
