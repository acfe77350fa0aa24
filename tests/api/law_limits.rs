//! The unwatched limits of issue 10 (item 8) on the deadline board: a record's
//! withdrawal within 3 working days of its source decision changing, and an objection's
//! 1-working-day check. Both appear with their own kinds, are stopped by the withdrawal
//! (or a correction) and the check, and after a clock move are overdue on the board and
//! escalated exactly once. Provisional days of these and of supervision items' replies
//! become final when the year's holiday schedule is loaded.

use probity_http::Role;
use probity_tests::{spawn_app, spawn_app_at, start_on, Mode, TestApp, UNIT_A, UNIT_B};
use serde_json::{json, Value};

crate::both_modes!(
    the_withdrawal_and_check_limits_are_on_the_board_and_escalated_once,
    the_withdrawal_and_the_check_stop_their_clocks,
    provisional_withdrawal_check_and_reply_days_become_final_when_the_year_is_loaded,
);

async fn register(app: &TestApp) {
    for body in [
        json!({"credit_code": UNIT_A, "name": "九江市人民政府", "kind": "government"}),
        json!({"credit_code": UNIT_B, "name": "九江市某局", "kind": "department", "parent_code": UNIT_A}),
    ] {
        let r = app.post("/api/v1/subjects", &app.admin, &body).await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    }
}

async fn record(app: &TestApp, source_ref: &str) -> String {
    let r = app
        .post(
            "/api/v1/records",
            &app.supervisor,
            &json!({
                "subject_code": UNIT_B, "source": "administrative_penalty",
                "source_ref": source_ref,
                "decision_date": app.today() - chrono::Duration::days(30),
                "severity": "ordinary", "sector": "general", "summary": "行政许可超期办理"
            }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

async fn object(app: &TestApp, record_id: &str) -> String {
    let r = app
        .post(
            "/api/v1/objections",
            &app.intake,
            &json!({"record_id": record_id, "grounds": "wrong_data", "detail": "处罚金额登记错误"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

/// The board's entries of one case.
fn entries(board: &Value, case_id: &str) -> Vec<Value> {
    board["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|e| e["case_id"] == case_id)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

fn kinds(board: &Value, case_id: &str) -> Vec<String> {
    let mut kinds: Vec<String> = entries(board, case_id)
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    kinds.sort();
    kinds
}

fn day(s: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

async fn the_withdrawal_and_check_limits_are_on_the_board_and_escalated_once(mode: Mode) {
    let app = spawn_app(mode).await;
    register(&app).await;
    let rec = record(&app, "九市罚〔2026〕41号").await;

    // Only a supervisor notes the change; a supervisor bound to another unit may not.
    let path = format!("/api/v1/records/{rec}/source-changed");
    let body = json!({"changed_on": app.today(), "note": "复议决定撤销原处罚决定"});
    app.post(&path, &app.handler_b, &body)
        .await
        .assert_problem(403, "forbidden");
    let elsewhere = probity_http::create_token(
        &app.app.db,
        Role::Supervisor,
        Some(probity_domain::CreditCode::parse("91330100716105852F").unwrap()),
        Some("elsewhere".into()),
    )
    .await
    .unwrap();
    app.post(&path, &elsewhere, &body)
        .await
        .assert_problem(403, "forbidden");
    app.post(
        &path,
        &app.supervisor,
        &json!({"changed_on": app.today() + chrono::Duration::days(1), "note": "明日变更"}),
    )
    .await
    .assert_problem(422, "validation_failed");

    // Changed on Wed 11 Mar 2026: withdraw by Mon 16 Mar (Thu, Fri, Mon).
    let changed = app.post(&path, &app.supervisor, &body).await;
    let change = &changed.assert_ok()["source_change"];
    assert_eq!(change["withdrawal_due"], "2026-03-16", "{}", changed.body);
    app.post(&path, &app.supervisor, &body)
        .await
        .assert_problem(409, "invalid_transition");

    // Filed Wed 11 Mar 2026: checked by Thu 12 Mar.
    let obj = object(&app, &record(&app, "九市罚〔2026〕42号").await).await;
    let o = app
        .get(&format!("/api/v1/objections/{obj}"), &app.supervisor)
        .await;
    let check_due = o.assert_ok()["check_due"].as_str().unwrap().to_string();
    assert_eq!(check_due, "2026-03-12");

    let board = app
        .eventually("/api/v1/deadlines", &app.supervisor, |b| {
            !entries(b, &rec).is_empty() && kinds(b, &obj).len() == 2
        })
        .await;
    let w = &entries(&board, &rec)[0];
    assert_eq!(w["kind"], "record_withdrawal");
    assert_eq!(w["due"], "2026-03-16");
    assert_eq!(
        kinds(&board, &obj),
        ["objection_check", "objection_decision"]
    );
    let only_checks = app
        .eventually(
            "/api/v1/deadlines?kind=objection_check",
            &app.supervisor,
            |b| !entries(b, &obj).is_empty(),
        )
        .await;
    assert!(entries(&only_checks, &rec).is_empty());

    // A week on: both limits have passed.
    let backing = app.backing.clone();
    let later = app.clock_offset + chrono::Duration::days(7);
    let mut app = app;
    let dir = app.dir.take();
    app.app.stop().await;
    let app = start_on(backing.clone(), dir, later).await;
    assert!(app.today() > day("2026-03-16"));
    let overdue = app
        .eventually("/api/v1/deadlines?state=overdue", &app.supervisor, |b| {
            !entries(b, &rec).is_empty() && kinds(b, &obj).contains(&"objection_check".into())
        })
        .await;
    assert_eq!(entries(&overdue, &rec)[0]["kind"], "record_withdrawal");
    // Escalated (flagged to supervisors) in the case's view…
    let flagged = app
        .eventually(&format!("/api/v1/records/{rec}"), &app.supervisor, |v| {
            v["source_change"]["overdue_flags"] != json!([])
        })
        .await;
    assert_eq!(
        flagged["source_change"]["overdue_flags"],
        json!(["2026-03-16"])
    );
    let o = app
        .eventually(&format!("/api/v1/objections/{obj}"), &app.supervisor, |v| {
            v["check_overdue_flags"] != json!([])
        })
        .await;
    assert_eq!(o["check_overdue_flags"], json!(["2026-03-12"]));

    // …once: a second server on the same store and more ticks add nothing.
    let second = start_on(backing, None, later).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    for (path, event_type) in [
        (format!("/api/v1/history/record/{rec}"), "WithdrawalOverdue"),
        (
            format!("/api/v1/history/objection/{obj}"),
            "ObjectionCheckOverdue",
        ),
    ] {
        recorded_once(&app, &path, event_type).await;
    }
    second.app.stop().await;
    app.app.stop().await;
}

async fn the_withdrawal_and_the_check_stop_their_clocks(mode: Mode) {
    let app = spawn_app(mode).await;
    register(&app).await;
    let rec = record(&app, "九市罚〔2026〕43号").await;
    app.post(
        &format!("/api/v1/records/{rec}/source-changed"),
        &app.supervisor,
        &json!({"changed_on": app.today(), "note": "原处罚决定变更"}),
    )
    .await
    .assert_ok();
    let obj = object(&app, &record(&app, "九市罚〔2026〕44号").await).await;
    app.eventually("/api/v1/deadlines", &app.supervisor, |b| {
        !entries(b, &rec).is_empty() && kinds(b, &obj).len() == 2
    })
    .await;

    // A handler may not record the check; the deciding supervisor does, once.
    let check = format!("/api/v1/objections/{obj}/check");
    let note = json!({"note": "已调取原处罚决定书核对"});
    app.post(&check, &app.handler_b, &note)
        .await
        .assert_problem(403, "forbidden");
    let checked = app.post(&check, &app.supervisor, &note).await;
    assert!(
        checked.assert_ok()["checked_at"].is_string(),
        "{}",
        checked.body
    );
    app.post(&check, &app.supervisor, &note)
        .await
        .assert_problem(409, "invalid_transition");
    app.post(
        &format!("/api/v1/records/{rec}/withdraw"),
        &app.supervisor,
        &json!({"reason": "原处罚决定已被撤销"}),
    )
    .await
    .assert_ok();

    // Only the objection's decision remains owed.
    let board = app
        .eventually("/api/v1/deadlines", &app.supervisor, |b| {
            entries(b, &rec).is_empty() && kinds(b, &obj).len() == 1
        })
        .await;
    assert_eq!(kinds(&board, &obj), ["objection_decision"]);
    let r = app
        .get(&format!("/api/v1/records/{rec}"), &app.supervisor)
        .await;
    assert_eq!(r.assert_ok()["source_change"]["answered"], true);
    app.app.stop().await;
}

/// `event_type` is in the history at `path` exactly once (read as the auditor).
async fn recorded_once(app: &TestApp, path: &str, event_type: &str) {
    let h = app.get(path, &app.auditor).await;
    let count = h.assert_ok()["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event_type"] == event_type)
        .count();
    assert_eq!(count, 1, "{event_type} once: {}", h.body);
}

/// The board's entry of `kind` of one case.
fn entry(board: &Value, case_id: &str, kind: &str) -> Value {
    entries(board, case_id)
        .into_iter()
        .find(|e| e["kind"] == kind)
        .unwrap_or(Value::Null)
}

async fn provisional_withdrawal_check_and_reply_days_become_final_when_the_year_is_loaded(
    mode: Mode,
) {
    // Thu 31 Dec 2026: the limits run into 2027, whose schedule is not shipped.
    let app = spawn_app_at(mode, probity_tests::at("2026-12-31T10:00:00+08:00")).await;
    register(&app).await;
    let rec = record(&app, "九市罚〔2026〕91号").await;
    let path = format!("/api/v1/records/{rec}/source-changed");
    let body = json!({"changed_on": app.today(), "note": "复议决定撤销原处罚决定"});
    let changed = app.post(&path, &app.supervisor, &body).await;
    let change = &changed.assert_ok()["source_change"];
    // Weekends alone: Fri 1, Mon 4, Tue 5 Jan.
    assert_eq!(change["withdrawal_due"], "2027-01-05", "{}", changed.body);
    assert_eq!(change["provisional"], true, "{}", changed.body);
    let obj = object(&app, &record(&app, "九市罚〔2026〕92号").await).await;
    let o = app
        .get(&format!("/api/v1/objections/{obj}"), &app.supervisor)
        .await;
    let o = o.assert_ok();
    assert_eq!(o["check_due"], "2027-01-01", "{o}");
    assert_eq!(o["check_provisional"], true, "{o}");
    assert_eq!(o["decision_due"], "2027-01-07", "{o}");
    // An NPC proposal assigned today: three calendar months, Wed 31 Mar 2027, provisional.
    let r = app
        .post(
            "/api/v1/supervision-items",
            &app.supervisor,
            &json!({"kind": "npc_proposal", "source_ref": "九人大建〔2026〕118号", "title": "关于加强农村饮水安全的建议", "unit": UNIT_B}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    assert_eq!(r.body["due"], "2027-03-31", "{}", r.body);
    assert_eq!(r.body["provisional"], true, "{}", r.body);
    let item = r.body["id"].as_str().unwrap().to_string();
    let before = app
        .eventually("/api/v1/deadlines", &app.supervisor, |b| {
            !entries(b, &rec).is_empty()
                && kinds(b, &obj).len() == 2
                && !entries(b, &item).is_empty()
        })
        .await;
    for (case, kind) in [
        (&rec, "record_withdrawal"),
        (&obj, "objection_check"),
        (&obj, "objection_decision"),
        (&item, "supervision_reply"),
    ] {
        assert_eq!(
            entry(&before, case, kind)["provisional"],
            true,
            "{kind}: {before}"
        );
    }

    // The operator loads 2027 (a TEST schedule, 1–3 Jan and 31 Mar off) and restarts the
    // server.
    let file = tempfile::Builder::new()
        .suffix(".json")
        .tempfile()
        .expect("a temporary file");
    std::fs::write(
        file.path(),
        r#"{"year": 2027, "holidays": ["2027-01-01", "2027-01-02", "2027-01-03", "2027-03-31"], "makeup_workdays": []}"#,
    )
    .unwrap();
    let backing = app.backing.clone();
    let offset = app.clock_offset;
    let mut app = app;
    let dir = app.dir.take();
    app.app.stop().await;
    probity::calendar::run(
        &backing.settings(offset),
        file.path(),
        Some("test schedule, not official".into()),
    )
    .await
    .expect("the schedule loads");
    let app = start_on(backing, dir, offset).await;

    // Thu 31 Dec, Mon 4, Tue 5… the withdrawal by Wed 6 Jan; the check by Mon 4 Jan,
    // the decision by Fri 8 Jan; the reply, 31 Mar being off, by Thu 1 Apr: final on the
    // board and in the cases' views.
    let expected = [
        (&rec, "record_withdrawal", "2027-01-06"),
        (&obj, "objection_check", "2027-01-04"),
        (&obj, "objection_decision", "2027-01-08"),
        (&item, "supervision_reply", "2027-04-01"),
    ];
    let after = app
        .eventually("/api/v1/deadlines", &app.supervisor, |b| {
            expected
                .iter()
                .all(|(case, kind, _)| entry(b, case, kind)["provisional"] == false)
        })
        .await;
    for (case, kind, due) in expected {
        assert_eq!(entry(&after, case, kind)["due"], due, "{kind}: {after}");
    }
    let r = app
        .get(&format!("/api/v1/records/{rec}"), &app.supervisor)
        .await;
    let change = &r.assert_ok()["source_change"];
    assert_eq!(change["withdrawal_due"], "2027-01-06", "{}", r.body);
    assert_eq!(change["provisional"], false, "{}", r.body);
    let o = app
        .get(&format!("/api/v1/objections/{obj}"), &app.supervisor)
        .await;
    let o = o.assert_ok();
    assert_eq!(o["check_due"], "2027-01-04", "{o}");
    assert_eq!(o["check_provisional"], false, "{o}");
    let i = app
        .get(
            &format!("/api/v1/supervision-items/{item}"),
            &app.supervisor,
        )
        .await;
    let i = i.assert_ok();
    assert_eq!(i["due"], "2027-04-01", "{i}");
    assert_eq!(i["provisional"], false, "{i}");
    // Recounted once: the events are in the cases' histories.
    for (path, event_type) in [
        (
            format!("/api/v1/history/record/{rec}"),
            "WithdrawalDueRecomputed",
        ),
        (
            format!("/api/v1/history/objection/{obj}"),
            "ObjectionCheckDueRecomputed",
        ),
        (
            format!("/api/v1/history/supervision_item/{item}"),
            "SupervisionReplyDueRecomputed",
        ),
    ] {
        recorded_once(&app, &path, event_type).await;
    }
    app.app.stop().await;
}
