//! Civil servants' sanctions, honours restriction, annual assessments and integrity
//! archive through the API (issue 10 item 9, issue 11 item 6; ADR 0021), on Postgres +
//! NATS and embedded. The server's clock is pinned (2026-03-11), so every expectation
//! below is computed from the server's today, never the real one.

use chrono::{Datelike, Months, NaiveDate};
use probity_http::Role;
use probity_tests::{spawn_app, Mode, TestApp, UNIT_A, UNIT_B};
use serde_json::{json, Value};

crate::both_modes!(
    a_sanction_restricts_the_person_for_its_period_and_the_archive_shows_it_to_supervisors_and_auditors_only,
    an_expelled_person_leaves_the_service_and_bad_input_gets_stable_codes,
    a_bound_supervisor_reads_and_sanctions_only_within_its_jurisdiction,
);

/// A unit outside UNIT_A's government.
const UNIT_C: &str = "91330100716105852F";
const FIRST: &str = "36040219800101001X";
const SECOND: &str = "360402198512120026";

fn day(v: &Value) -> NaiveDate {
    NaiveDate::parse_from_str(v.as_str().unwrap_or_default(), "%Y-%m-%d")
        .unwrap_or_else(|_| panic!("not a date: {v}"))
}

/// Registers UNIT_A (government), UNIT_B (its department), UNIT_C (elsewhere).
async fn register_units(app: &TestApp) {
    for body in [
        json!({"credit_code": UNIT_A, "name": "九江市人民政府", "kind": "government"}),
        json!({"credit_code": UNIT_B, "name": "九江市某局", "kind": "department", "parent_code": UNIT_A}),
        json!({"credit_code": UNIT_C, "name": "外市某局", "kind": "department"}),
    ] {
        let r = app.post("/api/v1/subjects", &app.admin, &body).await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    }
}

/// Registers a civil servant of `unit`; their opaque id.
async fn civil_servant(app: &TestApp, identity: &str, unit: &str) -> String {
    let r = app
        .post(
            "/api/v1/civil-servants",
            &app.admin,
            &json!({"identity_number": identity, "name": "张三", "unit_code": unit}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

fn sanction(kind: &str, decision_ref: &str, decided: NaiveDate) -> Value {
    json!({"sanction_type": kind, "decision_ref": decision_ref, "decision_date": decided})
}

fn assert_nothing_personal(text: &str) {
    for personal in [FIRST, SECOND, "张三", "identity_number", "ciphertext"] {
        assert!(!text.contains(personal), "{personal} leaked: {text}");
    }
}

async fn a_sanction_restricts_the_person_for_its_period_and_the_archive_shows_it_to_supervisors_and_auditors_only(
    mode: Mode,
) {
    let app = spawn_app(mode).await;
    register_units(&app).await;
    let id = civil_servant(&app, FIRST, UNIT_B).await;
    let base = format!("/api/v1/civil-servants/{id}");
    let today = app.today();
    let decided = today.checked_sub_months(Months::new(2)).unwrap();

    // A demerit (记过) runs 12 months from the decision date.
    let r = app
        .post(
            &format!("{base}/sanctions"),
            &app.supervisor,
            &sanction("demerit", "九监处〔2026〕3号", decided),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let sanction_id = r.body["sanction_id"].as_str().unwrap().to_string();
    assert_eq!(r.body["period_months"], 12);
    assert_eq!(
        day(&r.body["ends"]),
        decided.checked_add_months(Months::new(12)).unwrap()
    );
    assert_eq!(r.body["status"], "in_force");
    // The same decision again is refused.
    app.post(
        &format!("{base}/sanctions"),
        &app.supervisor,
        &sanction("warning", "九监处〔2026〕3号", decided),
    )
    .await
    .assert_problem(409, "already_exists");

    // The person is restricted from honours until the period ends.
    let r = app
        .get(&format!("{base}/eligibility"), &app.supervisor)
        .await;
    let body = r.assert_ok();
    assert_eq!(body["restricted"], true, "{body}");
    assert_eq!(body["reasons"][0]["code"], "sanction_in_force");
    assert_eq!(body["reasons"][0]["case_id"], sanction_id.as_str());
    assert_eq!(
        day(&body["reasons"][0]["until"]),
        decided.checked_add_months(Months::new(12)).unwrap()
    );

    // Annual assessments: the sanction year takes no grade; an earlier year does, once.
    let assessments = format!("{base}/assessments");
    app.post(
        &assessments,
        &app.admin,
        &json!({"year": decided.year(), "result": "excellent"}),
    )
    .await
    .assert_problem(409, "assessment_restricted");
    let earlier = decided.year() - 1;
    let r = app
        .post(
            &assessments,
            &app.admin,
            &json!({"year": earlier, "result": "excellent"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    assert_eq!(r.body["result"], "excellent");
    app.post(
        &assessments,
        &app.admin,
        &json!({"year": earlier, "result": "competent"}),
    )
    .await
    .assert_problem(409, "assessment_exists");
    // Only the admin records assessments; only supervisors sanction.
    app.post(
        &assessments,
        &app.supervisor,
        &json!({"year": earlier - 1, "result": "competent"}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.post(
        &format!("{base}/sanctions"),
        &app.admin,
        &sanction("warning", "九监处〔2026〕4号", decided),
    )
    .await
    .assert_problem(403, "forbidden");

    // The archive: sanctions with their periods, the restriction, the assessments.
    let r = app.get(&format!("{base}/archive"), &app.auditor).await;
    let archive = r.assert_ok().clone();
    assert_eq!(archive["civil_servant"]["id"], id.as_str());
    assert_eq!(archive["civil_servant"]["unit_code"], UNIT_B);
    assert_eq!(archive["sanctions"].as_array().unwrap().len(), 1);
    assert_eq!(archive["sanctions"][0]["sanction_type"], "demerit");
    assert_eq!(archive["sanctions"][0]["decision_ref"], "九监处〔2026〕3号");
    assert_eq!(archive["restriction"]["restricted"], true);
    assert_eq!(archive["assessments"][0]["year"], earlier);
    assert_eq!(archive["records"], json!([]));
    assert_nothing_personal(&archive.to_string());
    // The same for a supervisor; nobody else, and nothing public.
    app.get(&format!("{base}/archive"), &app.supervisor)
        .await
        .assert_ok();
    for token in [&app.admin, &app.intake, &app.handler_b] {
        app.get(&format!("{base}/archive"), token)
            .await
            .assert_problem(403, "forbidden");
        app.get(&format!("{base}/eligibility"), token)
            .await
            .assert_problem(403, "forbidden");
    }
    app.get(&format!("{base}/archive"), "")
        .await
        .assert_problem(401, "unauthenticated");
    // The admin's view of the person shows nothing of the sanction.
    let r = app.get(&base, &app.admin).await;
    let text = r.assert_ok().to_string();
    assert!(
        !text.contains("demerit") && !text.contains("sanction"),
        "{text}"
    );

    // Every archive and eligibility read is in the person's access log.
    let log = probity_store::EventLog::new(app.app.db.clone());
    let reads = log
        .read_aggregate("access_log", &format!("civil_servant-{id}"), None)
        .await
        .expect("reading the access log");
    let purposes: Vec<String> = reads
        .iter()
        .filter(|e| e.event_type == "PersonalDataRead")
        .map(|e| e.payload.to_string())
        .collect();
    assert_eq!(
        purposes
            .iter()
            .filter(|p| p.contains("civil_servant_archive"))
            .count(),
        2,
        "{purposes:?}"
    );
    assert!(
        purposes
            .iter()
            .any(|p| p.contains("civil_servant_eligibility")),
        "{purposes:?}"
    );

    // Revoked on review: no longer restricting; revoking again is refused.
    let revoke = format!("{base}/revoke-sanction");
    let r = app
        .post(
            &revoke,
            &app.supervisor,
            &json!({"sanction_id": sanction_id, "reason": "复审决定撤销原处分"}),
        )
        .await;
    assert_eq!(r.body["status"], "revoked", "{}", r.body);
    assert_eq!(r.body["revocation_reason"], "复审决定撤销原处分");
    app.post(
        &revoke,
        &app.supervisor,
        &json!({"sanction_id": sanction_id, "reason": "再次撤销"}),
    )
    .await
    .assert_problem(409, "invalid_transition");
    let r = app.get(&format!("{base}/eligibility"), &app.auditor).await;
    assert_eq!(r.assert_ok()["restricted"], false, "{}", r.body);
    // With the sanction revoked, the year can be graded.
    let r = app
        .post(
            &assessments,
            &app.admin,
            &json!({"year": decided.year(), "result": "excellent"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);

    // A dishonesty record about the person shows in the archive, never in public.
    let r = app
        .post(
            "/api/v1/records",
            &app.supervisor,
            &json!({
                "civil_servant_id": id,
                "source": "sanction",
                "source_ref": "九纪处〔2026〕8号",
                "decision_date": decided,
                "severity": "minor",
                "sector": "general",
                "summary": "违规收受礼品"
            }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let record_id = r.body["id"].as_str().unwrap().to_string();
    let archive = app
        .eventually(&format!("{base}/archive"), &app.auditor, |b| {
            b["records"].as_array().map(|a| a.len()) == Some(1)
        })
        .await;
    assert_eq!(archive["records"][0]["id"], record_id.as_str());
    // Recorded before sanctions had types: it restricts for its severity's period.
    assert_eq!(
        archive["restriction"]["reasons"][0]["code"],
        "sanction_record_in_force"
    );
    let public = app.get("/api/v1/public/records", "").await;
    assert!(!public.assert_ok().to_string().contains(&record_id));

    // Documented.
    let doc = app.get("/api/v1/openapi.json", &app.intake).await;
    let paths = doc.assert_ok()["paths"].as_object().unwrap().clone();
    for path in [
        "/api/v1/civil-servants/{id}/sanctions",
        "/api/v1/civil-servants/{id}/revoke-sanction",
        "/api/v1/civil-servants/{id}/assessments",
        "/api/v1/civil-servants/{id}/archive",
        "/api/v1/civil-servants/{id}/eligibility",
    ] {
        assert!(paths.contains_key(path), "{path} is not documented");
    }
    app.app.stop().await;
}

async fn an_expelled_person_leaves_the_service_and_bad_input_gets_stable_codes(mode: Mode) {
    let app = spawn_app(mode).await;
    register_units(&app).await;
    let id = civil_servant(&app, SECOND, UNIT_B).await;
    let base = format!("/api/v1/civil-servants/{id}");
    let today = app.today();

    // Bad input.
    let sanctions = format!("{base}/sanctions");
    for body in [
        json!({"sanction_type": "reprimand", "decision_ref": "r", "decision_date": today}),
        json!({"sanction_type": "warning", "decision_ref": " ", "decision_date": today}),
        sanction("warning", "r", today.succ_opt().unwrap()),
        json!({"sanction_type": "warning", "decision_ref": "r"}),
    ] {
        app.post(&sanctions, &app.supervisor, &body)
            .await
            .assert_problem(422, "validation_failed");
    }
    let assessments = format!("{base}/assessments");
    for body in [
        json!({"year": today.year() + 1, "result": "competent"}),
        json!({"year": 2005, "result": "competent"}),
        json!({"year": today.year(), "result": "outstanding"}),
        json!({"year": "2025", "result": "competent"}),
    ] {
        app.post(&assessments, &app.admin, &body)
            .await
            .assert_problem(422, "validation_failed");
    }
    app.post(
        &format!("{base}/revoke-sanction"),
        &app.supervisor,
        &json!({"sanction_id": "nope", "reason": "复审"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    // Unknown person.
    let unknown = "/api/v1/civil-servants/00000000-0000-0000-0000-000000000000";
    app.post(
        &format!("{unknown}/sanctions"),
        &app.supervisor,
        &sanction("warning", "r", today),
    )
    .await
    .assert_problem(404, "not_found");
    app.post(
        &format!("{unknown}/assessments"),
        &app.admin,
        &json!({"year": today.year(), "result": "competent"}),
    )
    .await
    .assert_problem(404, "not_found");
    app.get(&format!("{unknown}/archive"), &app.auditor)
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("{unknown}/eligibility"), &app.supervisor)
        .await
        .assert_problem(404, "not_found");

    // A warning (警告) bars excellent in its year only; competent is fine.
    let r = app
        .post(
            &sanctions,
            &app.supervisor,
            &sanction("warning", "九监处〔2026〕5号", today),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    assert_eq!(r.body["period_months"], 6);
    app.post(
        &assessments,
        &app.admin,
        &json!({"year": today.year(), "result": "excellent"}),
    )
    .await
    .assert_problem(409, "assessment_restricted");

    // Expulsion (开除): no period, restricted without end, no further sanction.
    let r = app
        .post(
            &sanctions,
            &app.supervisor,
            &sanction("expulsion", "九监处〔2026〕6号", today),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    assert_eq!(r.body["period_months"], Value::Null);
    assert_eq!(r.body["ends"], Value::Null);
    let r = app.get(&format!("{base}/eligibility"), &app.auditor).await;
    let reasons = r.assert_ok()["reasons"].as_array().unwrap().clone();
    let expelled: Vec<_> = reasons.iter().filter(|r| r["code"] == "expelled").collect();
    assert_eq!(expelled.len(), 1, "{reasons:?}");
    assert_eq!(expelled[0]["until"], Value::Null);
    app.post(
        &sanctions,
        &app.supervisor,
        &sanction("demerit", "九监处〔2026〕7号", today),
    )
    .await
    .assert_problem(409, "invalid_transition");
    app.post(
        &assessments,
        &app.admin,
        &json!({"year": today.year(), "result": "competent"}),
    )
    .await
    .assert_problem(409, "assessment_restricted");
    app.app.stop().await;
}

async fn a_bound_supervisor_reads_and_sanctions_only_within_its_jurisdiction(mode: Mode) {
    let app = spawn_app(mode).await;
    register_units(&app).await;
    let id = civil_servant(&app, FIRST, UNIT_B).await;
    let base = format!("/api/v1/civil-servants/{id}");
    let bound = |unit: &str| {
        let unit = probity_domain::CreditCode::parse(unit).unwrap();
        let db = app.app.db.clone();
        async move {
            probity_http::create_token(&db, Role::Supervisor, Some(unit), Some("bound".into()))
                .await
                .unwrap()
        }
    };
    let government = bound(UNIT_A).await; // UNIT_B is under it
    let elsewhere = bound(UNIT_C).await;
    let decided = app.today().checked_sub_months(Months::new(1)).unwrap();

    for path in ["archive", "eligibility"] {
        app.get(&format!("{base}/{path}"), &elsewhere)
            .await
            .assert_problem(403, "forbidden");
        app.get(&format!("{base}/{path}"), &government)
            .await
            .assert_ok();
    }
    app.post(
        &format!("{base}/sanctions"),
        &elsewhere,
        &sanction("warning", "外监处〔2026〕1号", decided),
    )
    .await
    .assert_problem(403, "forbidden");
    let r = app
        .post(
            &format!("{base}/sanctions"),
            &government,
            &sanction("major_demerit", "九监处〔2026〕9号", decided),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    assert_eq!(r.body["period_months"], 18);
    let sanction_id = r.body["sanction_id"].clone();
    app.post(
        &format!("{base}/revoke-sanction"),
        &elsewhere,
        &json!({"sanction_id": sanction_id, "reason": "复审"}),
    )
    .await
    .assert_problem(403, "forbidden");
    // Refused attempts changed nothing.
    let r = app.get(&format!("{base}/archive"), &app.auditor).await;
    let archive = r.assert_ok();
    assert_eq!(archive["sanctions"].as_array().unwrap().len(), 1);
    assert_eq!(archive["sanctions"][0]["status"], "in_force");
    app.app.stop().await;
}
