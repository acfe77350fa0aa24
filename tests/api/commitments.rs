//! Commitments in public (issue 11 item 4): township public commitments and investment
//! promises listed with their fulfilment, without a token; a promise changed only by a
//! recorded procedure (reason, who, when) that the list shows; on Postgres + NATS and
//! embedded. Township public commitments assessed in a period count in the township's
//! assessment (formula version 2).

use probity_tests::{at, spawn_app, spawn_app_at, Mode, TestApp, UNIT_A};
use serde_json::{json, Value};

/// The machine's clock now, URL-encoded for `as_of`.
fn log_now() -> String {
    chrono::Utc::now()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        .replace(':', "%3A")
}

crate::both_modes!(
    township_commitments_and_investment_promises_are_public_with_their_fulfilment_and_changes,
    a_breached_township_commitment_counts_against_the_township_in_the_assessment,
);

async fn make(app: &TestApp, kind: &str, text: &str) -> String {
    let r = app
        .post(
            "/api/v1/commitments",
            &app.supervisor,
            &json!({"subject_code": UNIT_A, "kind": kind, "text": text, "due_date": "2026-12-31"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

fn ids(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

async fn township_commitments_and_investment_promises_are_public_with_their_fulfilment_and_changes(
    mode: Mode,
) {
    let app = spawn_app(mode).await;
    let r = app
        .post(
            "/api/v1/subjects",
            &app.admin,
            &json!({"credit_code": UNIT_A, "name": "某某镇人民政府", "kind": "government"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let township = make(&app, "township_public", "年底前完成农村道路修缮").await;
    let promise = make(
        &app,
        "investment_promise",
        "为入驻企业提供标准厂房三年租金减半",
    )
    .await;
    let repair = make(&app, "repair", "依法依规开展政府采购").await;

    // The public (no token) sees the two published kinds, newest first, not the repair one.
    let list = format!("/api/v1/public/commitments?subject_code={UNIT_A}");
    let body = app.eventually(&list, "", |b| ids(b).len() == 2).await;
    assert_eq!(ids(&body), vec![promise.clone(), township.clone()]);
    assert!(!ids(&body).contains(&repair));
    let first = &body["items"][0];
    assert_eq!(first["subject_name"], "某某镇人民政府");
    assert_eq!(first["fulfilment"], "pending");
    assert_eq!(first["changes"], json!([]));
    let only = app
        .get("/api/v1/public/commitments?kind=township_public", "")
        .await;
    assert_eq!(ids(only.assert_ok()), vec![township.clone()]);
    // Paged.
    let page = app.get("/api/v1/public/commitments?limit=1", "").await;
    let cursor = page.assert_ok()["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(ids(&page.body), vec![promise.clone()]);
    let next = app
        .get(
            &format!("/api/v1/public/commitments?limit=1&cursor={cursor}"),
            "",
        )
        .await;
    assert_eq!(ids(next.assert_ok()), vec![township.clone()]);
    assert!(next.body["next_cursor"].is_null());

    // The promise is changed by the recorded procedure, never edited.
    let change = format!("/api/v1/commitments/{promise}/change");
    let body = json!({"text": "为入驻企业提供标准厂房两年租金减半", "due_date": "2027-06-30",
        "reason": "因上级政策调整，依法变更优惠期限并对企业损失予以补偿",
        "decided_by": "某某镇人民政府党政联席会议（2026年第3次）"});
    app.post(&change, &app.handler_a, &body)
        .await
        .assert_problem(403, "forbidden");
    let r = app.post(&change, &app.supervisor, &body).await;
    assert_eq!(r.assert_ok()["text"], "为入驻企业提供标准厂房两年租金减半");
    assert_eq!(
        r.body["changes"][0]["previous_text"],
        "为入驻企业提供标准厂房三年租金减半"
    );
    let mut blank = body.clone();
    blank["reason"] = json!(" ");
    app.post(&change, &app.supervisor, &blank)
        .await
        .assert_problem(422, "validation_failed");
    let listed = app
        .eventually(&list, "", |b| {
            b["items"][0]["changes"]
                .as_array()
                .is_some_and(|c| c.len() == 1)
        })
        .await;
    let item = &listed["items"][0];
    assert_eq!(item["text"], "为入驻企业提供标准厂房两年租金减半");
    assert_eq!(item["due_date"], "2027-06-30");
    assert_eq!(
        item["changes"][0]["decided_by"],
        "某某镇人民政府党政联席会议（2026年第3次）"
    );
    assert!(item["changes"][0]["at"].is_string());

    // Assessed: the fulfilment shows, and an assessed commitment is no longer changed.
    app.post(
        &format!("/api/v1/commitments/{township}/assess"),
        &app.supervisor,
        &json!({"level": "fulfilled", "note": "道路修缮已完成并验收"}),
    )
    .await
    .assert_ok();
    app.eventually(&list, "", |b| b["items"][1]["fulfilment"] == "fulfilled")
        .await;
    app.post(
        &format!("/api/v1/commitments/{township}/change"),
        &app.supervisor,
        &body,
    )
    .await
    .assert_problem(409, "invalid_transition");

    // Bad filters.
    app.get("/api/v1/public/commitments?kind=repair", "")
        .await
        .assert_problem(422, "validation_failed");
    app.get("/api/v1/public/commitments?subject_code=123", "")
        .await
        .assert_problem(422, "invalid_credit_code");
    app.get("/api/v1/public/commitments?cursor=zzz", "")
        .await
        .assert_problem(422, "validation_failed");
}

async fn assess(app: &TestApp, id: &str, level: &str) {
    app.post(
        &format!("/api/v1/commitments/{id}/assess"),
        &app.supervisor,
        &json!({"level": level, "note": "年度履约评估"}),
    )
    .await
    .assert_ok();
}

fn row_of(body: &Value, code: &str) -> Value {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == code)
        .unwrap_or_else(|| panic!("no row for {code}: {body}"))
        .clone()
}

async fn a_breached_township_commitment_counts_against_the_township_in_the_assessment(mode: Mode) {
    // Tue 5 Jan 2027: periods from 2027 are scored with formula version 2.
    let app = spawn_app_at(mode, at("2027-01-05T10:00:00+08:00")).await;
    let r = app
        .post(
            "/api/v1/subjects",
            &app.admin,
            &json!({"credit_code": UNIT_A, "name": "某某镇人民政府", "kind": "government"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let roads = make(&app, "township_public", "年底前完成农村道路修缮").await;
    let water = make(&app, "township_public", "年底前完成饮水工程").await;
    let partial = make(&app, "township_public", "年底前建成便民服务中心").await;
    let promise = make(
        &app,
        "investment_promise",
        "为入驻企业提供标准厂房三年租金减半",
    )
    .await;
    assess(&app, &roads, "breached").await;
    assess(&app, &water, "fulfilled").await;
    assess(&app, &partial, "partially_fulfilled").await;
    // An investment promise is published, but not a factor of the township assessment.
    assess(&app, &promise, "breached").await;

    let body = app
        .eventually("/api/v1/assessments?period=2027", &app.supervisor, |b| {
            b["items"].as_array().is_some_and(|items| {
                items.iter().any(|i| {
                    i["code"] == UNIT_A
                        && i["own"]["township_commitments"]["breached"] == 1
                        && i["own"]["township_commitments"]["fulfilled"] == 1
                })
            })
        })
        .await;
    let row = row_of(&body, UNIT_A);
    assert_eq!(row["formula"]["version"], 2);
    assert_eq!(row["score"], 98.0, "100 − 2 per breached commitment: {row}");
    assert_eq!(
        row["total"]["township_commitments"],
        json!({"fulfilled": 1, "breached": 1})
    );

    // The public sees the counts; the reference fold over the log (as_of) agrees.
    let public = app.get("/api/v1/public/assessments?period=2027", "").await;
    let public_row = row_of(public.assert_ok(), UNIT_A);
    assert_eq!(public_row["commitments_breached"], 1);
    assert_eq!(public_row["commitments_fulfilled"], 1);
    assert_eq!(public_row["score"], 98.0);
    // `as_of` is an instant of the log, whose events are recorded on the machine's clock
    // (the server's clock is pinned): every event so far was recorded before now. The
    // evaluation day is what the server's clock read then (5 Jan 2027).
    let folded = app
        .get(
            &format!("/api/v1/assessments?period=2027&as_of={}", log_now()),
            &app.supervisor,
        )
        .await;
    let folded_row = row_of(folded.assert_ok(), UNIT_A);
    assert_eq!(folded.body["evaluated_on"], "2027-01-05", "{}", folded.body);
    assert_eq!(folded_row["score"], 98.0, "{folded_row}");
    assert_eq!(folded_row["own"]["township_commitments"]["breached"], 1);

    // Assessed in 2027: nothing in 2026, which keeps formula version 1.
    let old = app
        .get("/api/v1/assessments?period=2026", &app.supervisor)
        .await;
    assert_eq!(old.assert_ok()["formula"]["version"], 1);
    let old_row = row_of(&old.body, UNIT_A);
    assert_eq!(old_row["own"]["township_commitments"]["breached"], 0);
    assert_eq!(old_row["score"], 100.0);
    app.app.stop().await;
}
