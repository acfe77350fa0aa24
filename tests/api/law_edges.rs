//! The law's edge cases (issue 10): reporter protection on dispatch, merges, and the
//! other rules a supervisor or a court would hold the system to.

use probity_http::Role;
use probity_tests::{spawn_app, start_on, Mode, TestApp, UNIT_A, UNIT_B};
use serde_json::json;

crate::both_modes!(
    a_report_never_goes_to_the_unit_it_names_or_a_unit_under_it,
    a_merge_goes_only_into_an_open_case_that_is_not_merged,
    a_bound_supervisor_acts_and_reads_within_its_jurisdiction_only,
    two_approvals_at_once_never_both_pass_the_repair_limits,
    while_more_material_is_awaited_no_deadline_runs_and_a_supplement_starts_afresh,
);

/// UNIT_A a government, UNIT_B one of its departments.
async fn register_government_and_department(app: &TestApp) {
    for body in [
        json!({"credit_code": UNIT_A, "name": "九江市人民政府", "kind": "government"}),
        json!({"credit_code": UNIT_B, "name": "九江市某局", "kind": "department", "parent_code": UNIT_A}),
    ] {
        let r = app.post("/api/v1/subjects", &app.admin, &body).await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    }
}

async fn dispatch(app: &TestApp, id: &str, unit: &str) -> probity_tests::Resp {
    app.post(
        &format!("/api/v1/complaints/{id}/dispatch"),
        &app.intake,
        &json!({ "unit": unit }),
    )
    .await
}

async fn a_report_never_goes_to_the_unit_it_names_or_a_unit_under_it(mode: Mode) {
    let app = spawn_app(mode).await;
    register_government_and_department(&app).await;

    // A report about the government: neither it nor its department may handle it.
    let about_government = app.file_about("report", UNIT_A).await;
    app.verb(&about_government, "accept", &app.intake, json!({}))
        .await;
    for unit in [UNIT_A, UNIT_B] {
        let r = dispatch(&app, &about_government, unit).await;
        r.assert_problem(409, "reported_unit");
        assert!(
            r.body["detail"].as_str().unwrap().contains("信访工作条例"),
            "the clerk reads why: {}",
            r.body
        );
    }
    let v = app
        .get(
            &format!("/api/v1/complaints/{about_government}"),
            &app.intake,
        )
        .await;
    assert_eq!(v.assert_ok()["status"], "accepted");

    // A report about the department goes to the government above it; returned, it
    // still never goes to the department.
    let about_department = app.file_about("report", UNIT_B).await;
    app.verb(&about_department, "accept", &app.intake, json!({}))
        .await;
    dispatch(&app, &about_department, UNIT_B)
        .await
        .assert_problem(409, "reported_unit");
    dispatch(&app, &about_department, UNIT_A).await.assert_ok();
    app.verb(
        &about_department,
        "return",
        &app.handler_a,
        json!({ "reason": "请部门自查" }),
    )
    .await;
    dispatch(&app, &about_department, UNIT_B)
        .await
        .assert_problem(409, "reported_unit");

    // A complaint (投诉) that is not a report may go to the unit it names.
    let complaint = app.file_about("complaint", UNIT_B).await;
    app.verb(&complaint, "accept", &app.intake, json!({})).await;
    dispatch(&app, &complaint, UNIT_B).await.assert_ok();
    app.app.stop().await;
}

async fn merge(app: &TestApp, id: &str, into: &str) -> probity_tests::Resp {
    app.post(
        &format!("/api/v1/complaints/{id}/merge"),
        &app.intake,
        &json!({ "into": into }),
    )
    .await
}

async fn a_merge_goes_only_into_an_open_case_that_is_not_merged(mode: Mode) {
    let app = spawn_app(mode).await;
    let first = app.dispatched("complaint").await;
    let second = app.file("complaint").await;
    let third = app.file("complaint").await;

    // Into itself: never.
    merge(&app, &second, &second)
        .await
        .assert_problem(422, "validation_failed");
    // Into an open case: the target shows what was merged into it.
    let v = merge(&app, &second, &first).await;
    assert_eq!(v.assert_ok()["merged_into"], first.as_str());
    let target = app
        .get(&format!("/api/v1/complaints/{first}"), &app.supervisor)
        .await;
    assert_eq!(target.assert_ok()["merged_from"], json!([second]));
    // Into a merged case, or back into the merged one (a circle): never.
    merge(&app, &third, &second)
        .await
        .assert_problem(409, "merge_target_not_open");
    merge(&app, &first, &second)
        .await
        .assert_problem(409, "merge_target_not_open");

    // Into a declined or a closed case: never.
    let declined = app.file("complaint").await;
    app.verb(
        &declined,
        "decline",
        &app.intake,
        json!({ "reason": "重复" }),
    )
    .await;
    merge(&app, &third, &declined)
        .await
        .assert_problem(409, "merge_target_not_open");
    let closed = app.dispatched("consultation").await;
    app.verb(&closed, "sign", &app.handler_a, json!({})).await;
    app.verb(
        &closed,
        "reply",
        &app.handler_a,
        json!({ "content": "已答复" }),
    )
    .await;
    app.verb(
        &closed,
        "visit",
        &app.intake,
        json!({ "satisfied": true, "comment": "" }),
    )
    .await;
    merge(&app, &third, &closed)
        .await
        .assert_problem(409, "merge_target_not_open");

    // A dispatched case merged away leaves the deadline board.
    let repeat = app.dispatched("complaint").await;
    app.eventually("/api/v1/deadlines", &app.supervisor, |b| {
        b["items"]
            .as_array()
            .is_some_and(|i| i.iter().any(|e| e["case_id"] == repeat.as_str()))
    })
    .await;
    merge(&app, &repeat, &first).await.assert_ok();
    app.eventually("/api/v1/deadlines", &app.supervisor, |b| {
        b["items"]
            .as_array()
            .is_some_and(|i| i.iter().all(|e| e["case_id"] != repeat.as_str()))
    })
    .await;
    app.eventually(
        &format!("/api/v1/complaints/{first}"),
        &app.supervisor,
        |v| v["merged_from"] == json!([second, repeat]),
    )
    .await;
    app.app.stop().await;
}

/// A government unrelated to UNIT_A and UNIT_B.
const UNIT_C: &str = "91330100716105852F";

async fn bound_supervisor(app: &TestApp, unit: &str) -> String {
    let unit = probity_domain::CreditCode::parse(unit).unwrap();
    probity_http::create_token(
        &app.app.db,
        Role::Supervisor,
        Some(unit),
        Some("bound".into()),
    )
    .await
    .unwrap()
}

async fn new_record(
    app: &TestApp,
    token: &str,
    subject: &str,
    source_ref: &str,
) -> probity_tests::Resp {
    app.post(
        "/api/v1/records",
        token,
        &json!({
            "subject_code": subject,
            "source": "administrative_penalty",
            "source_ref": source_ref,
            "decision_date": app.today() - chrono::Duration::days(30),
            "severity": "ordinary",
            "sector": "general",
            "summary": "行政许可超期办理"
        }),
    )
    .await
}

async fn a_bound_supervisor_acts_and_reads_within_its_jurisdiction_only(mode: Mode) {
    let app = spawn_app(mode).await;
    register_government_and_department(&app).await;
    let r = app
        .post(
            "/api/v1/subjects",
            &app.admin,
            &json!({"credit_code": UNIT_C, "name": "某县人民政府", "kind": "government"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let government = bound_supervisor(&app, UNIT_A).await;
    let department = bound_supervisor(&app, UNIT_B).await;
    let county = bound_supervisor(&app, UNIT_C).await;

    // Record: against its own unit or one under it, never outside.
    new_record(&app, &county, UNIT_B, "县罚〔2026〕1号")
        .await
        .assert_problem(403, "forbidden");
    new_record(&app, &department, UNIT_A, "局罚〔2026〕1号")
        .await
        .assert_problem(403, "forbidden");
    let r = new_record(&app, &government, UNIT_B, "市罚〔2026〕1号").await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let by_government = r.body["id"].as_str().unwrap().to_string();
    // The credit office (unbound) records against anyone.
    let r = new_record(&app, &app.supervisor, UNIT_C, "信用办〔2026〕1号").await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let about_county = r.body["id"].as_str().unwrap().to_string();

    // Reads: the county sees its own record, not the city's department's.
    app.get(&format!("/api/v1/records/{about_county}"), &county)
        .await
        .assert_ok();
    app.get(&format!("/api/v1/records/{by_government}"), &county)
        .await
        .assert_problem(403, "forbidden");
    app.get(&format!("/api/v1/records/{by_government}"), &department)
        .await
        .assert_ok();

    // Rectification: ordered and worked only within the authority.
    app.post(
        "/api/v1/rectifications",
        &county,
        &json!({"record_id": by_government, "working_days": 5}),
    )
    .await
    .assert_problem(403, "forbidden");
    let r = app
        .post(
            "/api/v1/rectifications",
            &government,
            &json!({"record_id": by_government, "working_days": 5}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let rectification = r.body["id"].as_str().unwrap().to_string();
    for (verb, body) in [
        ("mitigate", json!({"reason": "越权"})),
        ("reject", json!({"reason": "越权", "working_days": 5})),
    ] {
        app.post(
            &format!("/api/v1/rectifications/{rectification}/{verb}"),
            &county,
            &body,
        )
        .await
        .assert_problem(403, "forbidden");
    }
    app.get(&format!("/api/v1/rectifications/{rectification}"), &county)
        .await
        .assert_problem(403, "forbidden");
    let m = app
        .post(
            &format!("/api/v1/rectifications/{rectification}/mitigate"),
            &government,
            &json!({"reason": "主动消除影响"}),
        )
        .await;
    assert_eq!(m.assert_ok()["mitigated"], true);

    // Commitment assessment: only within the authority.
    let c = app
        .post(
            "/api/v1/commitments",
            &app.handler_b,
            &json!({"subject_code": UNIT_B, "kind": "investment_promise", "text": "兑现优惠政策", "due_date": "2026-06-30"}),
        )
        .await;
    assert_eq!(c.status.as_u16(), 201, "{}", c.body);
    let commitment = c.body["id"].as_str().unwrap().to_string();
    let assess = format!("/api/v1/commitments/{commitment}/assess");
    app.post(
        &assess,
        &county,
        &json!({"level": "breached", "note": "越权"}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.post(
        &assess,
        &government,
        &json!({"level": "breached", "note": "优惠政策未兑现"}),
    )
    .await
    .assert_ok();

    // Withdraw: not the county's to withdraw; the recording authority withdraws.
    let withdraw = format!("/api/v1/records/{by_government}/withdraw");
    app.post(&withdraw, &county, &json!({"reason": "越权"}))
        .await
        .assert_problem(403, "forbidden");
    let w = app
        .post(
            &withdraw,
            &government,
            &json!({"reason": "处罚决定已被撤销"}),
        )
        .await;
    assert_eq!(w.assert_ok()["status"], "withdrawn");

    // Archives: the government reads its department's, the county neither of the others'.
    app.get(&format!("/api/v1/subjects/{UNIT_B}/archive"), &government)
        .await
        .assert_ok();
    app.get(&format!("/api/v1/subjects/{UNIT_B}/archive"), &county)
        .await
        .assert_problem(403, "forbidden");
    app.get(&format!("/api/v1/subjects/{UNIT_A}/archive"), &department)
        .await
        .assert_problem(403, "forbidden");

    // The record list: the government sees its department's records, the county none.
    let units = |list: &serde_json::Value| -> Vec<String> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["unit"].as_str().unwrap().to_string())
            .collect()
    };
    let mut listed = Vec::new();
    for _ in 0..100 {
        listed = units(app.get("/api/v1/records", &government).await.assert_ok());
        if listed.iter().any(|u| u == UNIT_B) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(listed.iter().any(|u| u == UNIT_B), "{listed:?}");
    assert!(
        listed.iter().all(|u| u == UNIT_A || u == UNIT_B),
        "{listed:?}"
    );
    let county_list = units(app.get("/api/v1/records", &county).await.assert_ok());
    assert!(county_list.iter().all(|u| u == UNIT_C), "{county_list:?}");
    let office = units(
        app.get("/api/v1/records", &app.supervisor)
            .await
            .assert_ok(),
    );
    assert!(office.iter().any(|u| u == UNIT_B), "{office:?}");
    app.app.stop().await;
}

async fn two_approvals_at_once_never_both_pass_the_repair_limits(mode: Mode) {
    let app = spawn_app(mode).await;
    register_government_and_department(&app).await;
    // Two records of UNIT_B decided 200 days ago (ordinary: repairable after 3 months).
    let decided = app.today() - chrono::Duration::days(200);
    let mut repairs = Vec::new();
    for n in 1..=2 {
        let r = app
            .post(
                "/api/v1/records",
                &app.supervisor,
                &json!({
                    "subject_code": UNIT_B, "source": "administrative_penalty",
                    "source_ref": format!("九市罚〔2025〕{n}号"), "decision_date": decided,
                    "severity": "ordinary", "sector": "general", "summary": "违规收费"
                }),
            )
            .await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
        let p = app
            .post(
                "/api/v1/repairs",
                &app.handler_b,
                &json!({"record_id": r.body["id"], "commitment": "信用承诺书", "evidence": "已退还全部费用"}),
            )
            .await;
        assert_eq!(p.status.as_u16(), 201, "{}", p.body);
        let id = p.body["id"].as_str().unwrap().to_string();
        app.post(
            &format!("/api/v1/repairs/{id}/accept"),
            &app.supervisor,
            &json!({}),
        )
        .await
        .assert_ok();
        repairs.push(id);
    }
    // Both approved at the same moment: exactly one passes the one-year limit.
    let owned = app;
    let app = &owned;
    let approve = |id: &String| {
        let path = format!("/api/v1/repairs/{id}/approve");
        async move { app.post(&path, &app.supervisor, &json!({})).await }
    };
    let (a, b) = tokio::join!(approve(&repairs[0]), approve(&repairs[1]));
    let (passed, refused, refused_id) = match (a.status.as_u16(), b.status.as_u16()) {
        (200, 409) => (a, b, &repairs[1]),
        (409, 200) => (b, a, &repairs[0]),
        other => panic!(
            "one approval must pass and one be refused: {other:?} {} {}",
            a.body, b.body
        ),
    };
    assert_eq!(passed.body["status"], "approved");
    refused.assert_problem(409, "repair_not_eligible");
    let next_year = app
        .today()
        .checked_add_months(chrono::Months::new(12))
        .unwrap();
    assert_eq!(
        refused.body["possible_from"],
        json!(next_year),
        "{}",
        refused.body
    );
    // The refused one is still accepted, waiting for a decision.
    let v = app
        .get(&format!("/api/v1/repairs/{refused_id}"), &app.supervisor)
        .await;
    assert_eq!(v.assert_ok()["status"], "accepted");

    // A revoked repair still counts: the other one stays refused.
    let approved_id = if refused_id == &repairs[0] {
        &repairs[1]
    } else {
        &repairs[0]
    };
    app.post(
        &format!("/api/v1/repairs/{approved_id}/revoke"),
        &app.supervisor,
        &json!({"reason": "提供虚假材料"}),
    )
    .await
    .assert_ok();
    approve(refused_id)
        .await
        .assert_problem(409, "repair_not_eligible");
    owned.app.stop().await;
}

async fn while_more_material_is_awaited_no_deadline_runs_and_a_supplement_starts_afresh(
    mode: Mode,
) {
    let app = spawn_app(mode).await;
    register_government_and_department(&app).await;
    let r = app
        .post(
            "/api/v1/records",
            &app.supervisor,
            &json!({
                "subject_code": UNIT_B, "source": "administrative_penalty",
                "source_ref": "九市罚〔2025〕30号",
                "decision_date": app.today() - chrono::Duration::days(200),
                "severity": "ordinary", "sector": "general", "summary": "违规收费"
            }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let p = app
        .post(
            "/api/v1/repairs",
            &app.handler_b,
            &json!({"record_id": r.body["id"], "commitment": "信用承诺书", "evidence": "已退费"}),
        )
        .await;
    assert_eq!(p.status.as_u16(), 201, "{}", p.body);
    let repair = p.body["id"].as_str().unwrap().to_string();
    let rv = |verb: &str| format!("/api/v1/repairs/{repair}/{verb}");
    let accepted = app.post(&rv("accept"), &app.supervisor, &json!({})).await;
    let first_due = accepted.assert_ok()["decision_due"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        &rv("request-more"),
        &app.supervisor,
        &json!({"what": "退费凭证"}),
    )
    .await
    .assert_ok();
    // The board shows nothing against the authority while the applicant owes material.
    let on_board = |b: &serde_json::Value| {
        b["items"]
            .as_array()
            .map(|i| {
                i.iter()
                    .filter(|e| e["case_id"] == repair.as_str())
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    app.eventually("/api/v1/deadlines", &app.supervisor, |b| {
        on_board(b).is_empty()
    })
    .await;

    // Thirty days on (past the first decision due day), still nothing runs or is flagged.
    let backing = app.backing.clone();
    let later = app.clock_offset + chrono::Duration::days(30);
    let mut app = app;
    let dir = app.dir.take();
    app.app.stop().await;
    let app = start_on(backing, dir, later).await;
    assert!(app.today().to_string() > first_due);
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let v = app
        .get(&format!("/api/v1/repairs/{repair}"), &app.supervisor)
        .await;
    assert_eq!(v.assert_ok()["status"], "more_requested");
    assert_eq!(v.body["overdue_flags"], json!([]), "{}", v.body);
    let board = app.get("/api/v1/deadlines", &app.supervisor).await;
    assert!(on_board(board.assert_ok()).is_empty(), "{}", board.body);

    // The supplement arrives today: a fresh decision period of 10 working days from today.
    let s = app
        .post(
            &rv("supplement"),
            &app.handler_b,
            &json!({"evidence": "退费凭证扫描件"}),
        )
        .await;
    assert_eq!(s.assert_ok()["status"], "accepted");
    let fresh = probity_domain::WorkingCalendar::china()
        .add_working_days(app.today(), 10)
        .unwrap()
        .due;
    assert_eq!(s.body["decision_due"], json!(fresh), "{}", s.body);
    let board = app
        .eventually("/api/v1/deadlines", &app.supervisor, |b| {
            !on_board(b).is_empty()
        })
        .await;
    let entry = &on_board(&board)[0];
    assert_eq!(entry["kind"], "repair_decision");
    assert_eq!(entry["due"], json!(fresh));
    app.app.stop().await;
}
