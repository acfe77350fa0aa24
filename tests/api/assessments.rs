//! Assessment of governments and departments (政务诚信考核评价, issue 4 item 5): the
//! figures folded from the log, the government's roll-up, the score and ranking, `as_of`
//! recomputation, the public variant and access, on Postgres + NATS and embedded.

use std::time::Duration;

use chrono::{Datelike, SecondsFormat, Utc};
use probity_tests::{spawn_app, Mode, TestApp, UNIT_A, UNIT_B};
use serde_json::{json, Value};

crate::both_modes!(
    a_government_and_its_departments_are_assessed_from_the_log_and_ranked,
    bad_queries_and_wrong_roles_get_stable_problem_codes,
    the_public_assessment_refuses_as_of_and_the_supervisor_gets_it,
);

/// The second department.
const UNIT_C: &str = "91330100716105852F";

async fn register(app: &TestApp, code: &str, name: &str, kind: &str, parent: Option<&str>) {
    let mut body = json!({"credit_code": code, "name": name, "kind": kind});
    if let Some(p) = parent {
        body["parent_code"] = json!(p);
    }
    let r = app.post("/api/v1/subjects", &app.admin, &body).await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
}

/// Records a general finding of `severity` against `code`, decided today; its id.
pub(crate) async fn record(app: &TestApp, code: &str, source_ref: &str, severity: &str) -> String {
    let r = app
        .post(
            "/api/v1/records",
            &app.supervisor,
            &json!({
                "subject_code": code,
                "source": "administrative_penalty",
                "source_ref": source_ref,
                "decision_date": app.today(),
                "severity": severity,
                "sector": "general",
                "summary": "未按承诺期限办结行政许可"
            }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

fn row<'a>(body: &'a Value, code: &str) -> &'a Value {
    body["items"]
        .as_array()
        .and_then(|items| items.iter().find(|r| r["code"] == code))
        .unwrap_or_else(|| panic!("no row for {code} in {body}"))
}

fn this_year(app: &TestApp) -> i32 {
    app.today().year()
}

async fn a_government_and_its_departments_are_assessed_from_the_log_and_ranked(mode: Mode) {
    let app = spawn_app(mode).await;
    register(&app, UNIT_A, "九江市人民政府", "government", None).await;
    register(&app, UNIT_B, "九江市某局", "department", Some(UNIT_A)).await;
    register(&app, UNIT_C, "九江市另一局", "department", Some(UNIT_A)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before_records = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
    tokio::time::sleep(Duration::from_millis(50)).await;

    // UNIT_B: a serious and a minor record; UNIT_C: an ordinary one.
    let serious = record(&app, UNIT_B, "九府督〔2026〕1号", "serious").await;
    record(&app, UNIT_B, "九府督〔2026〕2号", "minor").await;
    record(&app, UNIT_C, "九府督〔2026〕3号", "ordinary").await;
    // UNIT_B rectifies the serious one on time.
    let r = app
        .post(
            "/api/v1/rectifications",
            &app.supervisor,
            &json!({"record_id": serious, "working_days": 5}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let rect = r.body["id"].as_str().unwrap().to_string();
    for (verb, text) in [
        ("file-explanation", "经办人员疏忽"),
        ("report", "已办结并完成培训"),
    ] {
        app.post(
            &format!("/api/v1/rectifications/{rect}/{verb}"),
            &app.handler_b,
            &json!({ "text": text }),
        )
        .await
        .assert_ok();
    }
    app.post(
        &format!("/api/v1/rectifications/{rect}/verify"),
        &app.supervisor,
        &json!({}),
    )
    .await
    .assert_ok();
    // Two complaints dispatched to the government, both replied on time; one visit
    // satisfied, one not (which reopens the case with a new, not yet due, reply date).
    for satisfied in [true, false] {
        let id = app.dispatched("complaint").await;
        app.verb(&id, "sign", &app.handler_a, json!({})).await;
        app.verb(&id, "reply", &app.handler_a, json!({ "content": "已办理" }))
            .await;
        app.verb(
            &id,
            "visit",
            &app.intake,
            json!({ "satisfied": satisfied, "comment": "回访" }),
        )
        .await;
    }

    let year = this_year(&app);
    let path = format!("/api/v1/assessments?period={year}");
    let body = app
        .eventually(&path, &app.supervisor, |b| {
            b["items"].as_array().is_some_and(|i| i.len() == 3)
                && b["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["code"] == UNIT_A)
                    .is_some_and(|r| {
                        // Both projectors caught up: the complaints' (visits) and the
                        // integrity one's (records, the verified rectification).
                        r["own"]["follow_up_visits"]["visited"] == 2
                            && r["total"]["records"]["total"] == 3
                            && r["total"]["rectifications"]["on_time"] == 1
                    })
        })
        .await;
    assert_eq!(body["period"], year.to_string());
    assert_eq!(
        body["formula"],
        json!({"name": "probity-assessment", "version": 1})
    );

    // UNIT_B: 100 − 10 (serious) − 1 (minor) = 89.
    let b = row(&body, UNIT_B);
    assert_eq!(b["kind"], "department");
    assert_eq!(b["parent_code"], UNIT_A);
    assert_eq!(
        b["own"]["records"],
        json!({"minor": 1, "ordinary": 0, "serious": 1, "total": 2})
    );
    assert_eq!(
        b["own"]["rectifications"],
        json!({"on_time": 1, "overdue": 0})
    );
    assert_eq!(b["own"], b["total"]);
    assert_eq!(b["score"], 89.0);
    // UNIT_C: 100 − 5 (ordinary) = 95.
    let c = row(&body, UNIT_C);
    assert_eq!(c["own"]["records"]["ordinary"], 1);
    assert_eq!(c["own"]["records"]["total"], 1);
    assert_eq!(c["score"], 95.0);
    // The government: own = the complaints; total = own + both departments.
    let a = row(&body, UNIT_A);
    assert_eq!(a["kind"], "government");
    assert_eq!(a["own"]["records"]["total"], 0);
    assert_eq!(
        a["own"]["complaint_replies"],
        json!({"on_time": 2, "late": 0})
    );
    assert_eq!(
        a["own"]["follow_up_visits"],
        json!({"visited": 2, "satisfied": 1})
    );
    assert_eq!(a["own"]["satisfaction_rate"], 0.5);
    assert_eq!(a["own"]["supervisions"], 0);
    assert_eq!(
        a["total"]["records"],
        json!({"minor": 1, "ordinary": 1, "serious": 1, "total": 3})
    );
    assert_eq!(
        a["total"]["rectifications"],
        json!({"on_time": 1, "overdue": 0})
    );
    assert_eq!(
        a["total"]["complaint_replies"],
        a["own"]["complaint_replies"]
    );
    assert_eq!(a["total"]["satisfaction_rate"], 0.5);
    // 100 − 10 − 5 − 1 + 20 × (0.5 − 0.8) = 78.
    assert_eq!(a["score"], 78.0);
    // Ranking, best first.
    let ranks: Vec<(String, u64)> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["code"].as_str().unwrap().to_string(),
                r["rank"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ranks,
        vec![
            (UNIT_C.to_string(), 1),
            (UNIT_B.to_string(), 2),
            (UNIT_A.to_string(), 3)
        ]
    );

    // The auditor sees the same; the quarter holding today gives the same figures; the
    // next year has none of them.
    let audited = app.get(&path, &app.auditor).await;
    assert_eq!(audited.assert_ok()["items"], body["items"]);
    let today = app.today();
    let quarter = format!("{year}-Q{}", (today.month0() / 3) + 1);
    let q = app
        .get(
            &format!("/api/v1/assessments?period={quarter}"),
            &app.supervisor,
        )
        .await;
    assert_eq!(row(q.assert_ok(), UNIT_A)["total"], a["total"]);
    let next = app
        .get(
            &format!("/api/v1/assessments?period={}", year + 1),
            &app.supervisor,
        )
        .await;
    assert!(next.assert_ok()["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["score"] == 100.0 && r["rank"] == 1 && r["total"]["records"]["total"] == 0));

    // Recomputed as of before the records: no records, nothing else either.
    let then = app
        .get(&format!("{path}&as_of={before_records}"), &app.supervisor)
        .await;
    let then = then.assert_ok();
    assert_eq!(then["as_of"].as_str().map(|s| s.is_empty()), Some(false));
    assert_eq!(then["items"].as_array().unwrap().len(), 3);
    for code in [UNIT_A, UNIT_B, UNIT_C] {
        let r = row(then, code);
        assert_eq!(r["total"]["records"]["total"], 0, "{r}");
        assert_eq!(r["total"]["complaint_replies"]["on_time"], 0, "{r}");
        assert_eq!(r["score"], 100.0);
        assert_eq!(r["rank"], 1);
    }

    // One government and its departments only.
    let only = app
        .get(&format!("{path}&parent_code={UNIT_B}"), &app.supervisor)
        .await;
    let only = only.assert_ok()["items"].as_array().unwrap().clone();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0]["rank"], 1);
    let family = app
        .get(&format!("{path}&parent_code={UNIT_A}"), &app.supervisor)
        .await;
    assert_eq!(family.assert_ok()["items"], body["items"]);

    // The public assessment: no token, scores and headline counts, no internals.
    let public = app
        .request(
            reqwest::Method::GET,
            &format!("/api/v1/public/assessments?period={year}"),
            None,
            None,
            &[],
        )
        .await;
    let public = public.assert_ok();
    assert_eq!(public["formula"]["version"], 1);
    let pa = row(public, UNIT_A);
    assert_eq!(pa["score"], 78.0);
    assert_eq!(pa["rank"], 3);
    assert_eq!(pa["formula_version"], 1);
    assert_eq!(pa["serious_records"], 1);
    assert_eq!(pa["ordinary_records"], 1);
    assert_eq!(pa["replies_on_time"], 2);
    assert_eq!(pa["satisfaction_rate"], 0.5);
    for internal in [
        "own",
        "total",
        "minor_records",
        "supervisions",
        "follow_up_visits",
    ] {
        assert!(pa.get(internal).is_none(), "{internal} in {pa}");
    }
    assert_eq!(row(public, UNIT_C)["rank"], 1);
    app.app.stop().await;
}

async fn bad_queries_and_wrong_roles_get_stable_problem_codes(mode: Mode) {
    let app = spawn_app(mode).await;
    let year = this_year(&app);
    let path = format!("/api/v1/assessments?period={year}");
    app.get(&path, &app.handler_a)
        .await
        .assert_problem(403, "forbidden");
    app.get(&path, &app.intake)
        .await
        .assert_problem(403, "forbidden");
    app.request(reqwest::Method::GET, &path, None, None, &[])
        .await
        .assert_problem(401, "unauthenticated");
    app.get("/api/v1/assessments", &app.supervisor)
        .await
        .assert_problem(422, "validation_failed");
    for bad in ["2026-Q5", "26", "last-year"] {
        app.get(
            &format!("/api/v1/assessments?period={bad}"),
            &app.supervisor,
        )
        .await
        .assert_problem(422, "validation_failed");
    }
    app.get(&format!("{path}&parent_code=123"), &app.supervisor)
        .await
        .assert_problem(422, "invalid_credit_code");
    app.get(&format!("{path}&as_of=yesterday"), &app.auditor)
        .await
        .assert_problem(422, "validation_failed");
    let public = app
        .request(
            reqwest::Method::GET,
            "/api/v1/public/assessments",
            None,
            None,
            &[],
        )
        .await;
    public.assert_problem(422, "validation_failed");
    // Nothing registered yet: an empty assessment.
    let empty = app.get(&path, &app.auditor).await;
    assert_eq!(empty.assert_ok()["items"], json!([]));
    app.app.stop().await;
}

/// `as_of` recomputes from the whole log: the public endpoint refuses it (422), the
/// authenticated one gives it, equal to the stored figures once nothing changed since.
async fn the_public_assessment_refuses_as_of_and_the_supervisor_gets_it(mode: Mode) {
    let app = spawn_app(mode).await;
    register(&app, UNIT_A, "九江市人民政府", "government", None).await;
    register(&app, UNIT_B, "九江市某局", "department", Some(UNIT_A)).await;
    record(&app, UNIT_B, "九府督〔2026〕9号", "ordinary").await;
    let year = this_year(&app);
    let path = format!("/api/v1/assessments?period={year}");
    let stored = app
        .eventually(&path, &app.supervisor, |b| {
            b["items"]
                .as_array()
                .is_some_and(|i| i.iter().any(|r| r["total"]["records"]["ordinary"] == 1))
        })
        .await;
    // The log's own clock (events are recorded at the machine's time, the server's
    // clock is pinned): every event so far was recorded before this instant.
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
    let public = app
        .request(
            reqwest::Method::GET,
            &format!("/api/v1/public/assessments?period={year}&as_of={now}"),
            None,
            None,
            &[],
        )
        .await;
    public.assert_problem(422, "validation_failed");
    let public = app
        .request(
            reqwest::Method::GET,
            &format!("/api/v1/public/assessments?period={year}"),
            None,
            None,
            &[],
        )
        .await;
    let public = public.assert_ok();
    assert!(public["as_of"].is_null());
    assert_eq!(row(public, UNIT_A)["ordinary_records"], 1);
    // The reference fold as of now gives the stored rows (nothing here depends on the
    // evaluation day).
    let folded = app
        .get(&format!("{path}&as_of={}", urlencode(&now)), &app.auditor)
        .await;
    assert_eq!(folded.assert_ok()["items"], stored["items"]);
    app.app.stop().await;
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}
