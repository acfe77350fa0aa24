//! Integrity records through the API (issue 3): subjects, dishonesty records,
//! rectification, objections, credit repair, commitments, the public disclosure, sector
//! lists, eligibility and archives, on Postgres + NATS and embedded.

use chrono::{Months, NaiveDate};
use probity_http::Role;
use probity_tests::{spawn_app, start_on, Mode, TestApp, UNIT_A, UNIT_B};
use serde_json::{json, Value};

crate::both_modes!(
    a_finding_goes_through_rectification_objection_and_repair_and_every_view_shows_each_step,
    a_repair_applied_for_too_early_is_refused_with_the_date_it_becomes_possible,
    bad_input_and_wrong_roles_get_stable_problem_codes,
    only_the_recording_authority_or_the_credit_office_decides_a_repair,
    an_upheld_objection_stops_publication_and_allows_a_correction,
    a_breached_commitment_proposes_a_record,
    the_other_verbs_and_lists_work_and_are_documented,
    a_bound_supervisor_sees_and_acts_on_complaints_of_its_authority_only,
);

/// A third valid unified social credit code (not registered unless a test does it).
const UNIT_C: &str = "91330100716105852F";

/// The server's today less `n` months.
fn months_ago(app: &TestApp, n: u32) -> NaiveDate {
    app.today().checked_sub_months(Months::new(n)).unwrap()
}

fn day(v: &Value) -> NaiveDate {
    NaiveDate::parse_from_str(v.as_str().unwrap_or_default(), "%Y-%m-%d")
        .unwrap_or_else(|_| panic!("not a date: {v}"))
}

/// Registers UNIT_A as a government and UNIT_B as its department.
async fn register_subjects(app: &TestApp) {
    let r = app
        .post(
            "/api/v1/subjects",
            &app.admin,
            &json!({"credit_code": UNIT_A, "name": "九江市人民政府", "kind": "government"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let r = app
        .post(
            "/api/v1/subjects",
            &app.admin,
            &json!({"credit_code": UNIT_B, "name": "九江市某局", "kind": "department", "parent_code": UNIT_A}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    assert_eq!(r.body["parent_code"], UNIT_A);
    assert_eq!(
        r.headers["location"].to_str().unwrap(),
        format!("/api/v1/subjects/{UNIT_B}")
    );
}

/// Records an ordinary procurement finding against UNIT_B decided `decided`.
async fn record(app: &TestApp, token: &str, source_ref: &str, decided: NaiveDate) -> Value {
    let r = app
        .post(
            "/api/v1/records",
            token,
            &json!({
                "subject_code": UNIT_B,
                "source": "administrative_penalty",
                "source_ref": source_ref,
                "decision_date": decided,
                "severity": "ordinary",
                "sector": "procurement",
                "summary": "政府采购中违规指定品牌",
                "ban_years": 2
            }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    r.body
}

fn public_ids(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| i["id"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn a_finding_goes_through_rectification_objection_and_repair_and_every_view_shows_each_step(
    mode: Mode,
) {
    let app = spawn_app(mode).await;
    register_subjects(&app).await;
    let decided = months_ago(&app, 4);
    let rec = record(&app, &app.supervisor, "九市监罚〔2026〕12号", decided).await;
    let id = rec["id"].as_str().unwrap().to_string();
    assert_eq!(rec["publicity"]["published"], true, "{rec}");
    assert_eq!(day(&rec["publicity"]["start"]), decided);
    assert_eq!(
        day(&rec["publicity"]["repair_possible_from"]),
        decided.checked_add_months(Months::new(3)).unwrap()
    );
    assert_eq!(
        day(&rec["publicity"]["ends"]),
        decided.checked_add_months(Months::new(12)).unwrap()
    );
    assert_eq!(rec["publicity"]["policy"], "fgw-2025-36");

    // The public sees it (no token), with the subject's name, and on the sector list.
    let public = format!("/api/v1/public/records?subject_code={UNIT_B}");
    let body = app
        .eventually(&public, "", |b| public_ids(b) == vec![id.clone()])
        .await;
    let item = &body["items"][0];
    assert_eq!(item["subject_name"], "九江市某局");
    assert_eq!(item["under_objection"], false);
    assert_eq!(
        day(&item["published_until"]),
        decided
            .checked_add_months(Months::new(12))
            .unwrap()
            .pred_opt()
            .unwrap()
    );
    let list = app
        .eventually("/api/v1/public/sector-lists/procurement", "", |b| {
            public_ids(b).contains(&id)
        })
        .await;
    assert_eq!(list["items"][0]["banned"], true);
    // And the department is not eligible for honours.
    let path = format!("/api/v1/subjects/{UNIT_B}/eligibility");
    let e = app
        .eventually(&path, &app.supervisor, |b| b["eligible"] == false)
        .await;
    assert_eq!(e["reasons"][0]["code"], "record_published", "{e}");

    // Rectification in one working day.
    let r = app
        .post(
            "/api/v1/rectifications",
            &app.supervisor,
            &json!({"record_id": id, "working_days": 1}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let rect = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["status"], "ordered");
    assert_eq!(r.body["overdue"], false);
    let due = day(&r.body["due"]);
    assert!(due > app.today());
    app.eventually(
        &format!("/api/v1/deadlines?kind=rectification&unit={UNIT_B}"),
        &app.supervisor,
        |b| b["items"].as_array().is_some_and(|i| i.len() == 1),
    )
    .await;

    // Some days later (the server's clock moved on) it is overdue everywhere.
    let backing = app.backing.clone();
    let fifteen_days_on = app.clock_offset + chrono::Duration::days(15);
    let mut app = app;
    let dir = app.dir.take();
    app.app.stop().await;
    let app = start_on(backing, dir, fifteen_days_on).await;
    let v = app
        .get(&format!("/api/v1/rectifications/{rect}"), &app.handler_b)
        .await;
    assert_eq!(v.assert_ok()["overdue"], true, "{}", v.body);
    let board = app
        .get(
            "/api/v1/deadlines?state=overdue&kind=rectification",
            &app.supervisor,
        )
        .await;
    let items = board.assert_ok()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "{}", board.body);
    assert_eq!(items[0]["case_id"], rect.as_str());
    assert!(items[0]["working_days_left"].as_i64().unwrap() < 0);
    // The deadline engine escalates it by itself: 通报批评, and no honours until verified.
    let v = app
        .eventually(
            &format!("/api/v1/rectifications/{rect}"),
            &app.supervisor,
            |b| b["escalations"].as_array().is_some_and(|e| e.len() == 1),
        )
        .await;
    assert_eq!(day(&v["escalations"][0]), due);
    let e = app
        .eventually(&path, &app.auditor, |b| {
            b["reasons"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r["code"] == "rectification_escalated"))
        })
        .await;
    assert_eq!(e["eligible"], false);

    // Only the department's own handler explains and reports.
    let explain = format!("/api/v1/rectifications/{rect}/file-explanation");
    app.post(&explain, &app.handler_a, &json!({"text": "不是我们"}))
        .await
        .assert_problem(403, "forbidden");
    app.post(
        &explain,
        &app.handler_b,
        &json!({"text": "经办人员未按规定执行"}),
    )
    .await
    .assert_ok();
    app.post(
        &format!("/api/v1/rectifications/{rect}/report"),
        &app.handler_b,
        &json!({"text": "已重新组织采购并完成内部培训"}),
    )
    .await
    .assert_ok();
    let v = app
        .post(
            &format!("/api/v1/rectifications/{rect}/verify"),
            &app.supervisor,
            &json!({}),
        )
        .await;
    assert_eq!(v.assert_ok()["status"], "verified");
    assert_eq!(v.body["overdue"], false);
    assert_eq!(v.body["on_time"], false, "it was escalated");

    // An objection flags the record in every view.
    let o = app
        .post(
            "/api/v1/objections",
            &app.handler_b,
            &json!({"record_id": id, "grounds": "wrong_data", "detail": "处罚金额记录有误"}),
        )
        .await;
    assert_eq!(o.status.as_u16(), 201, "{}", o.body);
    let objection = o.body["id"].as_str().unwrap().to_string();
    app.eventually(&public, "", |b| b["items"][0]["under_objection"] == true)
        .await;
    app.eventually(&format!("/api/v1/records/{id}"), &app.supervisor, |b| {
        b["under_objection"] == true
    })
    .await;
    app.eventually(
        "/api/v1/deadlines?kind=objection_decision",
        &app.supervisor,
        |b| b["items"].as_array().is_some_and(|i| i.len() == 1),
    )
    .await;
    app.post(
        &format!("/api/v1/objections/{objection}/dismiss"),
        &app.supervisor,
        &json!({"reason": "金额与处罚决定书一致"}),
    )
    .await
    .assert_ok();
    app.eventually(&public, "", |b| b["items"][0]["under_objection"] == false)
        .await;

    // A repair: applied, accepted, approved: publication ends, eligibility returns.
    let p = app
        .post(
            "/api/v1/repairs",
            &app.handler_b,
            &json!({"record_id": id, "commitment": "本单位承诺依法依规开展政府采购", "evidence": "整改报告及培训记录"}),
        )
        .await;
    assert_eq!(p.status.as_u16(), 201, "{}", p.body);
    let repair = p.body["id"].as_str().unwrap().to_string();
    assert_eq!(p.body["status"], "applied");
    let a = app
        .post(
            &format!("/api/v1/repairs/{repair}/accept"),
            &app.supervisor,
            &json!({}),
        )
        .await;
    assert!(a.assert_ok()["decision_due"].is_string(), "{}", a.body);
    app.post(
        &format!("/api/v1/repairs/{repair}/approve"),
        &app.supervisor,
        &json!({}),
    )
    .await
    .assert_ok();
    app.eventually(&public, "", |b| public_ids(b).is_empty())
        .await;
    // A repair ends publication, not the procurement ban (政府采购法 art. 77): the
    // sector list keeps the record for the whole ban, no longer disclosed.
    let list = app
        .eventually("/api/v1/public/sector-lists/procurement", "", |b| {
            b["items"].as_array().is_some_and(|i| {
                i.iter()
                    .any(|e| e["id"] == id.as_str() && e["disclosed"] == false)
            })
        })
        .await;
    let entry = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id.as_str())
        .unwrap();
    assert_eq!(entry["banned"], true, "{entry}");
    app.eventually(&path, &app.supervisor, |b| b["eligible"] == true)
        .await;
    let v = app
        .get(&format!("/api/v1/records/{id}"), &app.supervisor)
        .await;
    assert_eq!(v.assert_ok()["repaired"], true);
    assert_eq!(v.body["publicity"]["published"], false);
    assert_eq!(v.body["banned"], true);

    // Revoked (false materials): published again until its maximum period.
    app.post(
        &format!("/api/v1/repairs/{repair}/revoke"),
        &app.supervisor,
        &json!({"reason": "提供的培训记录不实"}),
    )
    .await
    .assert_ok();
    app.eventually(&public, "", |b| public_ids(b) == vec![id.clone()])
        .await;

    // The archive holds every step; handlers may not read it.
    let archive = app
        .eventually(
            &format!("/api/v1/subjects/{UNIT_B}/archive"),
            &app.auditor,
            |b| {
                b["repairs"][0]["status"] == "revoked"
                    && b["objections"][0]["status"] == "dismissed"
            },
        )
        .await;
    assert_eq!(archive["records"].as_array().unwrap().len(), 1);
    assert_eq!(archive["rectifications"][0]["status"], "verified");
    assert_eq!(archive["eligibility"]["eligible"], false);
    app.get(
        &format!("/api/v1/subjects/{UNIT_B}/archive"),
        &app.handler_b,
    )
    .await
    .assert_problem(403, "forbidden");
    // The public page shows the subject, its disclosure and eligibility.
    let page = app
        .get(&format!("/api/v1/public/subjects/{UNIT_B}"), "")
        .await;
    assert_eq!(page.assert_ok()["disclosures"][0]["id"], id.as_str());
    assert_eq!(page.body["eligibility"]["eligible"], false);

    // Every view is rebuilt identically from the log.
    let db = app.app.db.clone();
    app.app.stop().await;
    let before = probity_views::dump(&db).await.expect("dumping the views");
    assert_eq!(before["record_views"].as_array().unwrap().len(), 1);
    let log = probity_store::EventLog::new(db.clone());
    probity_views::rebuild(&log, &db, &|_, _| {})
        .await
        .expect("rebuilding");
    let after = probity_views::dump(&db).await.expect("dumping the views");
    assert_eq!(before, after);
}

async fn a_repair_applied_for_too_early_is_refused_with_the_date_it_becomes_possible(mode: Mode) {
    let app = spawn_app(mode).await;
    register_subjects(&app).await;
    let decided = months_ago(&app, 1);
    let rec = record(&app, &app.supervisor, "九市监罚〔2026〕99号", decided).await;
    let r = app
        .post(
            "/api/v1/repairs",
            &app.handler_b,
            &json!({"record_id": rec["id"], "commitment": "承诺", "evidence": "已缴纳罚款"}),
        )
        .await;
    r.assert_problem(409, "repair_not_eligible");
    assert_eq!(
        day(&r.body["possible_from"]),
        decided.checked_add_months(Months::new(3)).unwrap()
    );
    // Another unit's handler may not apply for it at all.
    let r = app
        .post(
            "/api/v1/repairs",
            &app.handler_a,
            &json!({"record_id": rec["id"], "commitment": "承诺", "evidence": "证明"}),
        )
        .await;
    r.assert_problem(403, "forbidden");
    app.app.stop().await;
}

async fn bad_input_and_wrong_roles_get_stable_problem_codes(mode: Mode) {
    let app = spawn_app(mode).await;
    let subjects = "/api/v1/subjects";
    app.post(
        subjects,
        &app.admin,
        &json!({"credit_code": "113604000123456710", "name": "x", "kind": "government"}),
    )
    .await
    .assert_problem(422, "invalid_credit_code");
    app.post(
        subjects,
        &app.supervisor,
        &json!({"credit_code": UNIT_A, "name": "x", "kind": "government"}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.post(
        subjects,
        &app.admin,
        &json!({"credit_code": UNIT_B, "name": "x", "kind": "department", "parent_code": UNIT_A}),
    )
    .await
    .assert_problem(422, "validation_failed");
    app.post(
        subjects,
        &app.admin,
        &json!({"credit_code": UNIT_A, "name": "x", "kind": "township"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    register_subjects(&app).await;
    app.post(
        subjects,
        &app.admin,
        &json!({"credit_code": UNIT_A, "name": "again", "kind": "government"}),
    )
    .await
    .assert_problem(409, "already_exists");
    app.get(&format!("{subjects}/{UNIT_C}"), &app.intake)
        .await
        .assert_problem(404, "not_found");
    let s = app.get(&format!("{subjects}/{UNIT_B}"), &app.intake).await;
    assert_eq!(s.assert_ok()["kind"], "department");

    // Records: role, unknown subject, unknown field, duplicates, idempotency.
    let body = json!({
        "subject_code": UNIT_B, "source": "audit", "source_ref": "审计〔2026〕3号",
        "decision_date": months_ago(&app, 2), "severity": "serious", "sector": "general",
        "summary": "专项资金挪用"
    });
    app.post("/api/v1/records", &app.handler_b, &body)
        .await
        .assert_problem(403, "forbidden");
    let mut unknown = body.clone();
    unknown["subject_code"] = json!(UNIT_C);
    app.post("/api/v1/records", &app.supervisor, &unknown)
        .await
        .assert_problem(422, "validation_failed");
    let mut extra = body.clone();
    extra["colour"] = json!("red");
    app.post("/api/v1/records", &app.supervisor, &extra)
        .await
        .assert_problem(422, "validation_failed");
    let mut banned = body.clone();
    banned["ban_years"] = json!(2);
    app.post("/api/v1/records", &app.supervisor, &banned)
        .await
        .assert_problem(422, "validation_failed");
    let headers = [("idempotency-key", "rec-1")];
    let first = app
        .request(
            reqwest::Method::POST,
            "/api/v1/records",
            Some(&app.supervisor),
            Some(&body),
            &headers,
        )
        .await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.body);
    let again = app
        .request(
            reqwest::Method::POST,
            "/api/v1/records",
            Some(&app.supervisor),
            Some(&body),
            &headers,
        )
        .await;
    assert_eq!(again.status.as_u16(), 201);
    assert_eq!(again.body["id"], first.body["id"]);
    app.post("/api/v1/records", &app.supervisor, &body)
        .await
        .assert_problem(409, "already_exists");
    let id = first.body["id"].as_str().unwrap().to_string();
    assert_eq!(first.body["publicity"]["published"], true);

    // Withdrawal: gone from the public at once, and only once.
    app.eventually(
        &format!("/api/v1/public/records?subject_code={UNIT_B}"),
        "",
        |b| public_ids(b) == vec![id.clone()],
    )
    .await;
    let w = app
        .post(
            &format!("/api/v1/records/{id}/withdraw"),
            &app.supervisor,
            &json!({"reason": "处罚决定已被复议撤销"}),
        )
        .await;
    assert_eq!(w.assert_ok()["status"], "withdrawn");
    assert_eq!(w.body["publicity"]["published"], false);
    app.post(
        &format!("/api/v1/records/{id}/withdraw"),
        &app.supervisor,
        &json!({"reason": "again"}),
    )
    .await
    .assert_problem(409, "invalid_transition");
    app.eventually(
        &format!("/api/v1/public/records?subject_code={UNIT_B}"),
        "",
        |b| public_ids(b).is_empty(),
    )
    .await;
    app.post(
        "/api/v1/rectifications",
        &app.supervisor,
        &json!({"record_id": id, "working_days": 5}),
    )
    .await
    .assert_problem(409, "invalid_transition");
    app.post(
        "/api/v1/rectifications",
        &app.supervisor,
        &json!({"record_id": "nope", "working_days": 5}),
    )
    .await
    .assert_problem(422, "validation_failed");
    app.get("/api/v1/records/nope", &app.supervisor)
        .await
        .assert_problem(404, "not_found");
    // A handler of another unit does not see the record.
    app.get(&format!("/api/v1/records/{id}"), &app.handler_a)
        .await
        .assert_problem(404, "not_found");

    // Public parameters.
    app.get("/api/v1/public/records?sector=nope", "")
        .await
        .assert_problem(422, "validation_failed");
    app.get("/api/v1/public/records?subject_code=123", "")
        .await
        .assert_problem(422, "invalid_credit_code");
    app.get("/api/v1/public/sector-lists/general", "")
        .await
        .assert_problem(404, "not_found");
    app.get("/api/v1/public/records?cursor=garbage", "")
        .await
        .assert_problem(422, "validation_failed");

    // Civil servants: the identity number is checked.
    app.post(
        "/api/v1/civil-servants",
        &app.admin,
        &json!({"identity_number": "110105194912310021", "name": "李四", "unit_code": UNIT_B}),
    )
    .await
    .assert_problem(422, "invalid_identity_number");
    app.app.stop().await;
}

async fn only_the_recording_authority_or_the_credit_office_decides_a_repair(mode: Mode) {
    let app = spawn_app(mode).await;
    register_subjects(&app).await;
    let db = &app.app.db;
    let bound = |unit: &str| {
        let unit = probity_domain::CreditCode::parse(unit).unwrap();
        async move {
            probity_http::create_token(db, Role::Supervisor, Some(unit), Some("bound".into()))
                .await
                .unwrap()
        }
    };
    let authority = bound(UNIT_A).await;
    let other = bound(UNIT_C).await;
    let rec = record(&app, &authority, "九市财罚〔2025〕7号", months_ago(&app, 6)).await;
    assert_eq!(rec["recorded_by"], UNIT_A);
    let p = app
        .post(
            "/api/v1/repairs",
            &app.intake,
            &json!({"record_id": rec["id"], "commitment": "承诺书", "evidence": "已履行"}),
        )
        .await;
    assert_eq!(p.status.as_u16(), 201, "{}", p.body);
    let repair = p.body["id"].as_str().unwrap();
    let accept = format!("/api/v1/repairs/{repair}/accept");
    app.post(&accept, &other, &json!({}))
        .await
        .assert_problem(403, "forbidden");
    app.post(&accept, &authority, &json!({})).await.assert_ok();
    // The credit office (unbound) decides any repair.
    let v = app
        .post(
            &format!("/api/v1/repairs/{repair}/deny"),
            &app.supervisor,
            &json!({"reason": "材料不全"}),
        )
        .await;
    assert_eq!(v.assert_ok()["status"], "denied");
    app.post(
        &format!("/api/v1/repairs/{repair}/approve"),
        &app.supervisor,
        &json!({}),
    )
    .await
    .assert_problem(409, "invalid_transition");
    app.app.stop().await;
}

async fn an_upheld_objection_stops_publication_and_allows_a_correction(mode: Mode) {
    let app = spawn_app(mode).await;
    register_subjects(&app).await;
    let rec = record(
        &app,
        &app.supervisor,
        "九市监罚〔2026〕5号",
        months_ago(&app, 2),
    )
    .await;
    let id = rec["id"].as_str().unwrap().to_string();
    let file = |detail: &'static str| {
        let id = id.clone();
        let app = &app;
        async move {
            let o = app
                .post(
                    "/api/v1/objections",
                    &app.intake,
                    &json!({"record_id": id, "grounds": "wrong_data", "detail": detail}),
                )
                .await;
            assert_eq!(o.status.as_u16(), 201, "{}", o.body);
            o.body["id"].as_str().unwrap().to_string()
        }
    };
    // Correct: the record is corrected, still published.
    let first = file("严重程度认定有误").await;
    app.post(
        &format!("/api/v1/records/{id}/correct"),
        &app.supervisor,
        &json!({"objection_id": first, "severity": "minor"}),
    )
    .await
    .assert_problem(409, "invalid_transition");
    app.post(
        &format!("/api/v1/objections/{first}/uphold"),
        &app.supervisor,
        &json!({"outcome": "correct"}),
    )
    .await
    .assert_ok();
    let c = app
        .post(
            &format!("/api/v1/records/{id}/correct"),
            &app.supervisor,
            &json!({"objection_id": first, "summary": "更正后的事实"}),
        )
        .await;
    assert_eq!(c.assert_ok()["summary"], "更正后的事实");
    assert_eq!(c.body["corrections"][0]["objection_id"], first.as_str());
    // Unlist: publication stops.
    let second = file("不应列入").await;
    app.post(
        &format!("/api/v1/objections/{second}/uphold"),
        &app.supervisor,
        &json!({"outcome": "unlist"}),
    )
    .await
    .assert_ok();
    app.eventually(
        &format!("/api/v1/public/records?subject_code={UNIT_B}"),
        "",
        |b| public_ids(b).is_empty(),
    )
    .await;
    let v = app
        .eventually(&format!("/api/v1/records/{id}"), &app.supervisor, |b| {
            b["publication_stopped"] == true
        })
        .await;
    assert_eq!(v["publicity"]["published"], false);
    app.post(
        &format!("/api/v1/objections/{second}/dismiss"),
        &app.supervisor,
        &json!({"reason": "late"}),
    )
    .await
    .assert_problem(409, "invalid_transition");
    app.app.stop().await;
}

async fn a_breached_commitment_proposes_a_record(mode: Mode) {
    let app = spawn_app(mode).await;
    register_subjects(&app).await;
    app.post(
        "/api/v1/commitments",
        &app.handler_a,
        &json!({"subject_code": UNIT_B, "kind": "investment_promise", "text": "x"}),
    )
    .await
    .assert_problem(403, "forbidden");
    let c = app
        .post(
            "/api/v1/commitments",
            &app.handler_b,
            &json!({"subject_code": UNIT_B, "kind": "investment_promise", "text": "三年内兑现招商引资优惠政策", "due_date": "2026-06-30"}),
        )
        .await;
    assert_eq!(c.status.as_u16(), 201, "{}", c.body);
    let id = c.body["id"].as_str().unwrap();
    let a = app
        .post(
            &format!("/api/v1/commitments/{id}/assess"),
            &app.supervisor,
            &json!({"level": "breached", "note": "优惠政策未兑现"}),
        )
        .await;
    let body = a.assert_ok();
    assert_eq!(body["level"], "breached");
    assert_eq!(body["proposed_record"]["sector"], "investment");
    app.post(
        &format!("/api/v1/commitments/{id}/assess"),
        &app.supervisor,
        &json!({"level": "fulfilled", "note": "again"}),
    )
    .await
    .assert_problem(409, "invalid_transition");
    app.eventually(
        &format!("/api/v1/subjects/{UNIT_B}/archive"),
        &app.supervisor,
        |b| b["commitments"][0]["status"] == "assessed",
    )
    .await;
    app.app.stop().await;
}

async fn the_other_verbs_and_lists_work_and_are_documented(mode: Mode) {
    let app = spawn_app(mode).await;
    register_subjects(&app).await;
    let rec = record(
        &app,
        &app.supervisor,
        "九市监罚〔2026〕77号",
        months_ago(&app, 5),
    )
    .await;
    let id = rec["id"].as_str().unwrap().to_string();

    // Rectification: reject with a new due date, report again, mitigation once.
    let r = app
        .post(
            "/api/v1/rectifications",
            &app.supervisor,
            &json!({"record_id": id, "working_days": 10}),
        )
        .await;
    let rect = r.body["id"].as_str().unwrap().to_string();
    let verb = |v: &str| format!("/api/v1/rectifications/{rect}/{v}");
    app.post(
        &verb("report"),
        &app.handler_b,
        &json!({"text": "未说明先报告"}),
    )
    .await
    .assert_problem(409, "invalid_transition");
    app.post(
        &verb("file-explanation"),
        &app.handler_b,
        &json!({"text": "说明"}),
    )
    .await
    .assert_ok();
    app.post(&verb("report"), &app.handler_b, &json!({"text": "报告"}))
        .await
        .assert_ok();
    app.post(
        &verb("reject"),
        &app.supervisor,
        &json!({"reason": "不彻底", "working_days": 0}),
    )
    .await
    .assert_problem(422, "validation_failed");
    let v = app
        .post(
            &verb("reject"),
            &app.supervisor,
            &json!({"reason": "整改不彻底", "working_days": 5}),
        )
        .await;
    assert_eq!(v.assert_ok()["status"], "rejected");
    assert_eq!(v.body["rejections"].as_array().unwrap().len(), 1);
    let m = app
        .post(
            &verb("mitigate"),
            &app.supervisor,
            &json!({"reason": "主动消除影响"}),
        )
        .await;
    assert_eq!(m.assert_ok()["mitigated"], true);
    app.post(
        &verb("mitigate"),
        &app.supervisor,
        &json!({"reason": "again"}),
    )
    .await
    .assert_problem(409, "invalid_transition");
    app.post(&verb("escalate"), &app.supervisor, &json!({}))
        .await
        .assert_problem(409, "invalid_transition");
    // Versions: a stale If-Match is refused.
    let stale = app
        .request(
            reqwest::Method::POST,
            &verb("report"),
            Some(&app.handler_b),
            Some(&json!({"text": "再次报告"})),
            &[("if-match", "\"1\"")],
        )
        .await;
    stale.assert_problem(412, "version_conflict");

    // Repair: request more, supplement (back to applied), accept, then deny.
    let p = app
        .post(
            "/api/v1/repairs",
            &app.intake,
            &json!({"record_id": id, "commitment": "承诺", "evidence": "凭证"}),
        )
        .await;
    let repair = p.body["id"].as_str().unwrap().to_string();
    let rv = |v: &str| format!("/api/v1/repairs/{repair}/{v}");
    app.post(
        &rv("request-more"),
        &app.supervisor,
        &json!({"what": "缴款凭证原件"}),
    )
    .await
    .assert_ok();
    app.post(&rv("accept"), &app.supervisor, &json!({}))
        .await
        .assert_problem(409, "invalid_transition");
    app.post(&rv("supplement"), &app.handler_a, &json!({"evidence": "x"}))
        .await
        .assert_problem(403, "forbidden");
    let s = app
        .post(
            &rv("supplement"),
            &app.handler_b,
            &json!({"evidence": "原件扫描件"}),
        )
        .await;
    assert_eq!(s.assert_ok()["status"], "applied");
    assert_eq!(s.body["evidence"].as_array().unwrap().len(), 2);
    app.post(&rv("accept"), &app.supervisor, &json!({}))
        .await
        .assert_ok();
    // While it is undecided, no second application for the record.
    app.eventually(
        &format!("/api/v1/subjects/{UNIT_B}/archive"),
        &app.supervisor,
        |b| b["repairs"][0]["status"] == "accepted",
    )
    .await;
    app.post(
        "/api/v1/repairs",
        &app.handler_b,
        &json!({"record_id": id, "commitment": "承诺", "evidence": "凭证"}),
    )
    .await
    .assert_problem(409, "repair_not_eligible");
    let v = app
        .get(&format!("/api/v1/repairs/{repair}"), &app.handler_b)
        .await;
    assert_eq!(v.assert_ok()["status"], "accepted");
    app.get(&format!("/api/v1/repairs/{repair}"), &app.handler_a)
        .await
        .assert_problem(404, "not_found");

    // Objection: undeterminable keeps both versions; the flag is lifted.
    let o = app
        .post(
            "/api/v1/objections",
            &app.handler_b,
            &json!({"record_id": id, "grounds": "missing_data", "detail": "漏记整改情况"}),
        )
        .await;
    let objection = o.body["id"].as_str().unwrap().to_string();
    app.post(
        "/api/v1/objections",
        &app.handler_a,
        &json!({"record_id": id, "grounds": "missing_data", "detail": "x"}),
    )
    .await
    .assert_problem(403, "forbidden");
    let u = app
        .post(
            &format!("/api/v1/objections/{objection}/undeterminable"),
            &app.supervisor,
            &json!({"note": "双方材料均无法核实"}),
        )
        .await;
    assert_eq!(u.assert_ok()["status"], "undeterminable");
    let g = app
        .get(&format!("/api/v1/objections/{objection}"), &app.intake)
        .await;
    assert_eq!(g.assert_ok()["grounds"], "missing_data");

    // Lists: filters, and a handler sees its own unit only.
    let all = app
        .eventually("/api/v1/records?sector=procurement", &app.auditor, |b| {
            public_ids(b) == vec![id.clone()]
        })
        .await;
    assert_eq!(all["items"][0]["unit"], UNIT_B);
    let none = app
        .get("/api/v1/records?status=withdrawn", &app.supervisor)
        .await;
    assert!(public_ids(none.assert_ok()).is_empty());
    let own = app.get("/api/v1/records", &app.handler_a).await;
    assert!(public_ids(own.assert_ok()).is_empty(), "{}", own.body);
    app.get("/api/v1/records?severity=huge", &app.supervisor)
        .await
        .assert_problem(422, "validation_failed");
    let c = app
        .get(
            &format!("/api/v1/subjects/{UNIT_B}/eligibility"),
            &app.handler_b,
        )
        .await;
    assert_eq!(c.assert_ok()["eligible"], false);
    app.get(
        &format!("/api/v1/subjects/{}/eligibility", "91330100716105852F"),
        &app.handler_b,
    )
    .await
    .assert_problem(404, "not_found");

    // Everything is in the OpenAPI document.
    let doc = app.get("/api/v1/openapi.json", &app.intake).await;
    let paths = doc.assert_ok()["paths"].as_object().unwrap().clone();
    for path in [
        "/api/v1/subjects",
        "/api/v1/subjects/{code}/archive",
        "/api/v1/civil-servants",
        "/api/v1/records",
        "/api/v1/records/{id}/correct",
        "/api/v1/rectifications/{id}/file-explanation",
        "/api/v1/repairs/{id}/revoke",
        "/api/v1/objections/{id}/uphold",
        "/api/v1/commitments/{id}/assess",
        "/api/v1/public/records",
        "/api/v1/public/sector-lists/{sector}",
    ] {
        assert!(paths.contains_key(path), "{path} is not documented");
    }
    app.app.stop().await;
}

async fn a_bound_supervisor_sees_and_acts_on_complaints_of_its_authority_only(mode: Mode) {
    let app = spawn_app(mode).await;
    register_subjects(&app).await; // UNIT_A government, UNIT_B its department
    let government = probity_http::create_token(
        &app.app.db,
        Role::Supervisor,
        Some(probity_domain::CreditCode::parse(UNIT_A).unwrap()),
        Some("district supervision".into()),
    )
    .await
    .unwrap();
    // One case for the department, one for a unit outside the government.
    let inside = app.file("complaint").await;
    app.verb(&inside, "accept", &app.intake, json!({})).await;
    app.verb(&inside, "dispatch", &app.intake, json!({"unit": UNIT_B}))
        .await;
    let outside = app.file("complaint").await;
    app.verb(&outside, "accept", &app.intake, json!({})).await;
    app.verb(&outside, "dispatch", &app.intake, json!({"unit": UNIT_C}))
        .await;
    let ids = |b: &Value| public_ids(b);
    app.eventually(
        "/api/v1/complaints?status=dispatched",
        &app.supervisor,
        |b| ids(b).len() == 2,
    )
    .await;

    // Lists, the board and single reads stop at the authority. The authority's units come
    // from the subjects' view and the board is its own projection: wait for both.
    let mine = app
        .eventually("/api/v1/complaints", &government, |b| !ids(b).is_empty())
        .await;
    assert_eq!(ids(&mine), vec![inside.clone()]);
    app.get(&format!("/api/v1/complaints?unit={UNIT_C}"), &government)
        .await
        .assert_problem(403, "forbidden");
    let board = app
        .eventually("/api/v1/deadlines", &government, |b| {
            b["items"].as_array().is_some_and(|i| !i.is_empty())
        })
        .await;
    let cases: Vec<&str> = board["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["case_id"].as_str().unwrap())
        .collect();
    assert!(cases.iter().all(|c| *c == inside), "{cases:?}");
    assert!(!cases.is_empty());
    app.get(&format!("/api/v1/complaints/{outside}"), &government)
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("/api/v1/complaints/{inside}"), &government)
        .await
        .assert_ok();
    // Acting: not on the outside case; the credit office (unbound) acts on any.
    app.post(
        &format!("/api/v1/complaints/{outside}/supervise"),
        &government,
        &json!({"note": "x"}),
    )
    .await
    .assert_problem(403, "forbidden");
    let r = app
        .post(
            &format!("/api/v1/complaints/{inside}/supervise"),
            &government,
            &json!({"note": "督办"}),
        )
        .await;
    // Not overdue yet: the domain's answer, not a jurisdiction refusal.
    r.assert_problem(409, "invalid_transition");
    app.post(
        &format!("/api/v1/complaints/{outside}/supervise"),
        &app.supervisor,
        &json!({"note": "督办"}),
    )
    .await
    .assert_problem(409, "invalid_transition");
    app.app.stop().await;
}
