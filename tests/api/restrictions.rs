//! The restriction check of procurement and bidding systems (issue 11 item 2):
//! `GET /api/v1/restrictions`, public, on Postgres + NATS and embedded: a ban on days
//! inside and outside its period, a bribery conviction barring bidding, bad input.

use chrono::{Months, NaiveDate};
use probity_tests::{spawn_app, Mode, TestApp, UNIT_A, UNIT_B};
use serde_json::{json, Value};

crate::both_modes!(
    a_ban_restricts_on_a_day_inside_its_period_and_not_outside,
    a_bribery_conviction_bars_bidding_for_its_period,
    bad_restriction_checks_get_stable_problem_codes,
);

async fn register_subjects(app: &TestApp) {
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
}

fn check(sector: &str, on: NaiveDate) -> String {
    format!("/api/v1/restrictions?subject_code={UNIT_B}&sector={sector}&on={on}")
}

fn day(v: &Value) -> NaiveDate {
    NaiveDate::parse_from_str(v.as_str().unwrap_or_default(), "%Y-%m-%d")
        .unwrap_or_else(|_| panic!("not a date: {v}"))
}

/// Asks without a token and returns the answer.
async fn restriction(app: &TestApp, sector: &str, on: NaiveDate) -> Value {
    let r = app
        .request(reqwest::Method::GET, &check(sector, on), None, None, &[])
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    r.body
}

async fn a_ban_restricts_on_a_day_inside_its_period_and_not_outside(mode: Mode) {
    let app = spawn_app(mode).await;
    register_subjects(&app).await;
    let decided = app.today().checked_sub_months(Months::new(4)).unwrap();
    let r = app
        .post(
            "/api/v1/records",
            &app.supervisor,
            &json!({
                "subject_code": UNIT_B, "source": "administrative_penalty",
                "source_ref": "九财采罚〔2026〕3号", "decision_date": decided,
                "severity": "ordinary", "sector": "procurement",
                "summary": "政府采购中提供虚假材料", "ban_years": 2
            }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let ban_until = decided.checked_add_months(Months::new(24)).unwrap();

    // Inside the ban: restricted, with the record, its period and its law.
    let inside = app
        .eventually(&check("procurement", decided), "", |b| {
            b["restricted"] == true
        })
        .await;
    let reasons = inside["reasons"].as_array().unwrap();
    assert_eq!(reasons.len(), 1, "{inside}");
    assert_eq!(reasons[0]["record_id"], id.as_str());
    assert_eq!(reasons[0]["source"], "administrative_penalty");
    assert_eq!(day(&reasons[0]["decision_date"]), decided);
    assert_eq!(day(&reasons[0]["ban_until"]), ban_until);
    assert_eq!(reasons[0]["legal_basis"], "政府采购法 art. 77");
    let last_day = ban_until.pred_opt().unwrap();
    assert_eq!(
        restriction(&app, "procurement", last_day).await["restricted"],
        true
    );
    // Without `on`: the server's today, inside the ban.
    let today = app
        .request(
            reqwest::Method::GET,
            &format!("/api/v1/restrictions?subject_code={UNIT_B}&sector=procurement"),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(today.body["restricted"], true, "{}", today.body);

    // Outside: before the decision, from `ban_until` on, another sector, another subject.
    for on in [decided.pred_opt().unwrap(), ban_until] {
        let outside = restriction(&app, "procurement", on).await;
        assert_eq!(outside, json!({"restricted": false, "reasons": []}), "{on}");
    }
    assert_eq!(
        restriction(&app, "bidding", decided).await["restricted"],
        false
    );
    let other = app
        .request(
            reqwest::Method::GET,
            &format!("/api/v1/restrictions?subject_code={UNIT_A}&sector=procurement&on={decided}"),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(other.body["restricted"], false, "{}", other.body);

    // Withdrawn (the penalty itself was revoked): no longer restricted.
    app.post(
        &format!("/api/v1/records/{id}/withdraw"),
        &app.supervisor,
        &json!({"reason": "处罚决定经复议撤销"}),
    )
    .await
    .assert_ok();
    app.eventually(&check("procurement", decided), "", |b| {
        b["restricted"] == false
    })
    .await;
}

async fn a_bribery_conviction_bars_bidding_for_its_period(mode: Mode) {
    let app = spawn_app(mode).await;
    register_subjects(&app).await;
    let decided = app.today().checked_sub_months(Months::new(1)).unwrap();
    let conviction = json!({
        "subject_code": UNIT_B, "source": "court_judgment",
        "source_ref": "（2026）赣04刑初12号", "decision_date": decided,
        "severity": "serious", "sector": "general", "offence": "bribery",
        "summary": "单位行贿罪", "ban_years": 3
    });
    // Only a court convicts, and a conviction bars for a period.
    let mut penalty = conviction.clone();
    penalty["source"] = json!("administrative_penalty");
    app.post("/api/v1/records", &app.supervisor, &penalty)
        .await
        .assert_problem(422, "validation_failed");
    let mut no_period = conviction.clone();
    no_period.as_object_mut().unwrap().remove("ban_years");
    app.post("/api/v1/records", &app.supervisor, &no_period)
        .await
        .assert_problem(422, "validation_failed");

    let r = app
        .post("/api/v1/records", &app.supervisor, &conviction)
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    assert_eq!(r.body["offence"], "bribery");
    let id = r.body["id"].as_str().unwrap().to_string();
    let ban_until = decided.checked_add_months(Months::new(36)).unwrap();

    let barred = app
        .eventually(&check("bidding", decided), "", |b| b["restricted"] == true)
        .await;
    let reason = &barred["reasons"][0];
    assert_eq!(reason["record_id"], id.as_str());
    assert_eq!(reason["source"], "court_judgment");
    assert_eq!(day(&reason["ban_until"]), ban_until);
    assert!(
        reason["legal_basis"]
            .as_str()
            .unwrap()
            .starts_with("行贿犯罪档案查询"),
        "{barred}"
    );
    // It bars bidding only, and only for its period.
    assert_eq!(
        restriction(&app, "procurement", decided).await["restricted"],
        false
    );
    assert_eq!(
        restriction(&app, "bidding", ban_until).await["restricted"],
        false
    );
    // The bidding blacklist shows it, banned.
    let list = app
        .eventually("/api/v1/public/sector-lists/bidding", "", |b| {
            b["items"].as_array().is_some_and(|i| !i.is_empty())
        })
        .await;
    assert_eq!(list["items"][0]["id"], id.as_str());
    assert_eq!(list["items"][0]["banned"], true);
}

async fn bad_restriction_checks_get_stable_problem_codes(mode: Mode) {
    let app = spawn_app(mode).await;
    let get = |path: String| {
        let app = &app;
        async move {
            app.request(reqwest::Method::GET, &path, None, None, &[])
                .await
        }
    };
    get("/api/v1/restrictions?subject_code=nope&sector=bidding&on=2026-03-01".to_string())
        .await
        .assert_problem(422, "invalid_credit_code");
    for query in [
        format!("subject_code={UNIT_B}&sector=general"),
        format!("subject_code={UNIT_B}&sector=bidding&on=2026-02-30"),
        format!("subject_code={UNIT_B}"),
        "sector=bidding".to_string(),
    ] {
        get(format!("/api/v1/restrictions?{query}"))
            .await
            .assert_problem(422, "validation_failed");
    }
    // An unregistered subject is barred from nothing.
    let r = get(format!(
        "/api/v1/restrictions?subject_code={UNIT_B}&sector=ppp&on=2026-03-01"
    ))
    .await;
    assert_eq!(r.body, json!({"restricted": false, "reasons": []}));
    // It is in the OpenAPI document, public (no security) with its 422 and 429.
    let doc = app.get("/api/v1/openapi.json", "").await;
    let op = &doc.body["paths"]["/api/v1/restrictions"]["get"];
    assert!(op["responses"]["422"].is_object(), "{op}");
    assert!(op["responses"]["429"].is_object(), "{op}");
    assert!(op.get("security").is_none(), "{op}");
}
