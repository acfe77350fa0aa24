//! Supervision items through the API (issue 11 item 1): assigned with a reply due day
//! counted in calendar months, on the supervisors' board, overdue by itself once the
//! server's clock passes the due day and escalated (督办) exactly once by the deadline
//! engine; replied late, rated, reassigned; extended (延期) and handled a second time
//! (再办理) after a dissatisfied rating; on Postgres + NATS and embedded.

use chrono::NaiveDate;
use probity_tests::{
    at, offset_to, spawn_app, spawn_app_at, start_on, Mode, TestApp, UNIT_A, UNIT_B,
};
use serde_json::{json, Value};

crate::both_modes!(
    a_supervision_item_becomes_overdue_by_itself_and_is_escalated_once,
    bad_input_and_wrong_roles_on_supervision_items_get_stable_problem_codes,
    the_on_time_reply_rate_counts_in_the_assessment_from_formula_version_2,
    an_approved_extension_moves_the_due_day_on_the_board,
    a_dissatisfied_item_is_handled_again_goes_overdue_and_is_escalated_once,
);

/// A valid unified social credit code no test registers.
const UNREGISTERED: &str = "91330100716105852F";

fn day(v: &Value) -> NaiveDate {
    NaiveDate::parse_from_str(v.as_str().unwrap_or_default(), "%Y-%m-%d")
        .unwrap_or_else(|_| panic!("not a date: {v}"))
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Registers UNIT_A as a government and UNIT_B as its department.
async fn register_subjects(app: &TestApp) {
    for (code, name, kind) in [
        (UNIT_A, "九江市人民政府", "government"),
        (UNIT_B, "九江市某局", "department"),
    ] {
        let mut body = json!({"credit_code": code, "name": name, "kind": kind});
        if code == UNIT_B {
            body["parent_code"] = json!(UNIT_A);
        }
        let r = app.post("/api/v1/subjects", &app.admin, &body).await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    }
}

async fn assign(app: &TestApp, token: &str, kind: &str, unit: &str) -> Value {
    let r = app
        .post(
            "/api/v1/supervision-items",
            token,
            &json!({"kind": kind, "source_ref": "九法建〔2026〕3号", "title": "关于规范行政执法程序的司法建议", "unit": unit}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    r.body
}

async fn a_supervision_item_becomes_overdue_by_itself_and_is_escalated_once(mode: Mode) {
    // The server's clock reads Wed 11 Mar 2026 (PINNED_AT).
    let app = spawn_app(mode).await;
    register_subjects(&app).await;

    // A judicial suggestion to the department: two months, due Mon 11 May 2026.
    let item = assign(&app, &app.supervisor, "judicial_suggestion", UNIT_B).await;
    let id = item["id"].as_str().unwrap().to_string();
    assert_eq!(item["status"], "assigned");
    assert_eq!(item["months"], 2);
    assert_eq!(day(&item["due"]), date("2026-05-11"));
    assert_eq!(item["overdue"], false);
    assert_eq!(item["escalations"], json!([]));
    // An NPC proposal to the government (an administrator may assign too): three months.
    let npc = assign(&app, &app.admin, "npc_proposal", UNIT_A).await;
    let npc_id = npc["id"].as_str().unwrap().to_string();
    assert_eq!(day(&npc["due"]), date("2026-06-11"));

    // On the board, the unit's list and its handler's view.
    app.eventually(
        &format!("/api/v1/deadlines?kind=supervision_reply&unit={UNIT_B}"),
        &app.supervisor,
        |b| b["items"].as_array().is_some_and(|i| i.len() == 1),
    )
    .await;
    let list = app
        .eventually("/api/v1/supervision-items", &app.handler_b, |b| {
            b["items"].as_array().is_some_and(|i| i.len() == 1)
        })
        .await;
    assert_eq!(list["items"][0]["id"], id.as_str());
    app.get(&format!("/api/v1/supervision-items/{id}"), &app.handler_a)
        .await
        .assert_problem(404, "not_found");

    // The clock moves to Tue 12 May 2026: overdue everywhere, and the engine escalates it
    // by itself, once.
    let backing = app.backing.clone();
    let mut app = app;
    let dir = app.dir.take();
    app.app.stop().await;
    let app = start_on(backing, dir, offset_to(at("2026-05-12T10:00:00+08:00"))).await;
    let v = app
        .eventually(
            &format!("/api/v1/supervision-items/{id}"),
            &app.supervisor,
            |b| b["escalations"].as_array().is_some_and(|e| !e.is_empty()),
        )
        .await;
    assert_eq!(v["overdue"], true, "{v}");
    assert_eq!(v["escalations"], json!(["2026-05-11"]));
    let version = v["version"].clone();
    let overdue = app
        .get("/api/v1/supervision-items?overdue=true", &app.supervisor)
        .await;
    let items = overdue.assert_ok()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "{}", overdue.body);
    assert_eq!(items[0]["id"], id.as_str());
    // Several ticks later (1 s each), still one escalation and one event.
    escalated_once(
        &app,
        &id,
        "2026-05-11",
        &version,
        &["SupervisionItemAssigned", "SupervisionReplyOverdue"],
    )
    .await;

    // The department replies late; the proposer's satisfaction closes it.
    let r = app
        .post(
            &format!("/api/v1/supervision-items/{id}/reply"),
            &app.handler_b,
            &json!({"text": "已修订执法程序规定并组织培训"}),
        )
        .await;
    assert_eq!(r.assert_ok()["status"], "replied");
    assert_eq!(r.body["replied_on_time"], false);
    assert_eq!(r.body["overdue"], false);
    let r = app
        .post(
            &format!("/api/v1/supervision-items/{id}/satisfaction"),
            &app.supervisor,
            &json!({"satisfaction": "basically_satisfied"}),
        )
        .await;
    assert_eq!(r.assert_ok()["status"], "evaluated");
    assert_eq!(r.body["satisfaction"], "basically_satisfied");
    app.eventually(
        &format!("/api/v1/deadlines?kind=supervision_reply&unit={UNIT_B}"),
        &app.supervisor,
        |b| b["items"].as_array().is_some_and(|i| i.is_empty()),
    )
    .await;

    // The NPC proposal goes to the department instead: due three months from now.
    let r = app
        .post(
            &format!("/api/v1/supervision-items/{npc_id}/reassign"),
            &app.supervisor,
            &json!({"unit": UNIT_B, "reason": "属于部门职责"}),
        )
        .await;
    assert_eq!(r.assert_ok()["unit"], UNIT_B);
    assert_eq!(day(&r.body["due"]), date("2026-08-12"));
    assert_eq!(r.body["reassignments"][0]["from"], UNIT_A);
    app.eventually(
        &format!("/api/v1/deadlines?kind=supervision_reply&unit={UNIT_B}"),
        &app.supervisor,
        |b| {
            b["items"]
                .as_array()
                .is_some_and(|i| i.len() == 1 && i[0]["case_id"] == npc_id.as_str())
        },
    )
    .await;
}

async fn bad_input_and_wrong_roles_on_supervision_items_get_stable_problem_codes(mode: Mode) {
    let app = spawn_app(mode).await;
    register_subjects(&app).await;
    let body = |kind: &str, unit: &str| json!({"kind": kind, "source_ref": "第0123号", "title": "关于加快老旧小区改造的建议", "unit": unit});
    let create = "/api/v1/supervision-items";
    // Only a supervisor or an administrator assigns.
    for token in [&app.handler_b, &app.auditor, &app.intake] {
        app.post(create, token, &body("npc_proposal", UNIT_B))
            .await
            .assert_problem(403, "forbidden");
    }
    app.post(create, &app.supervisor, &body("motion", UNIT_B))
        .await
        .assert_problem(422, "validation_failed");
    app.post(create, &app.supervisor, &body("npc_proposal", "123"))
        .await
        .assert_problem(422, "invalid_credit_code");
    app.post(create, &app.supervisor, &body("npc_proposal", UNREGISTERED))
        .await
        .assert_problem(422, "validation_failed");
    let mut blank = body("npc_proposal", UNIT_B);
    blank["title"] = json!("  ");
    app.post(create, &app.supervisor, &blank)
        .await
        .assert_problem(422, "validation_failed");

    let item = assign(&app, &app.supervisor, "cppcc_motion", UNIT_B).await;
    let id = item["id"].as_str().unwrap();
    let verb = |v: &str| format!("/api/v1/supervision-items/{id}/{v}");
    // Another unit's handler cannot reply; nobody rates an unanswered item.
    app.post(&verb("reply"), &app.handler_a, &json!({"text": "答复"}))
        .await
        .assert_problem(403, "forbidden");
    app.post(&verb("reply"), &app.supervisor, &json!({"text": "答复"}))
        .await
        .assert_problem(403, "forbidden");
    app.post(
        &verb("satisfaction"),
        &app.supervisor,
        &json!({"satisfaction": "satisfied"}),
    )
    .await
    .assert_problem(409, "invalid_transition");
    app.post(
        &verb("satisfaction"),
        &app.supervisor,
        &json!({"satisfaction": "happy"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    // Reassigning to the same unit or an unregistered one is refused.
    app.post(
        &verb("reassign"),
        &app.supervisor,
        &json!({"unit": UNIT_B, "reason": "重新交办"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    app.post(
        &verb("reassign"),
        &app.supervisor,
        &json!({"unit": UNREGISTERED, "reason": "重新交办"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    // Replied: not again, and no longer reassigned.
    app.post(&verb("reply"), &app.handler_b, &json!({"text": "已办理"}))
        .await
        .assert_ok();
    app.post(&verb("reply"), &app.handler_b, &json!({"text": "再次答复"}))
        .await
        .assert_problem(409, "invalid_transition");
    app.post(
        &verb("reassign"),
        &app.supervisor,
        &json!({"unit": UNIT_A, "reason": "重新交办"}),
    )
    .await
    .assert_problem(409, "invalid_transition");
    // Unknown ids, list filters.
    app.get("/api/v1/supervision-items/nope", &app.supervisor)
        .await
        .assert_problem(404, "not_found");
    app.get("/api/v1/supervision-items?kind=motion", &app.supervisor)
        .await
        .assert_problem(422, "validation_failed");
    app.get("/api/v1/supervision-items?cursor=zzz", &app.supervisor)
        .await
        .assert_problem(422, "validation_failed");
    app.get("/api/v1/supervision-items", &app.intake)
        .await
        .assert_problem(403, "forbidden");
}

async fn the_on_time_reply_rate_counts_in_the_assessment_from_formula_version_2(mode: Mode) {
    // Tue 5 Jan 2027: periods from 2027 are scored with formula version 2.
    let app = spawn_app_at(mode, at("2027-01-05T10:00:00+08:00")).await;
    register_subjects(&app).await;
    let answered = assign(&app, &app.supervisor, "procuratorial_suggestion", UNIT_B).await;
    let unanswered = assign(&app, &app.supervisor, "cppcc_motion", UNIT_B).await;
    // Two months on: Fri 5 Mar 2027 (counted on weekends: 2027 has no schedule loaded).
    assert_eq!(day(&answered["due"]), date("2027-03-05"));
    assert_eq!(answered["provisional"], true);
    assert_eq!(day(&unanswered["due"]), date("2027-04-05"));
    let id = answered["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/supervision-items/{id}/reply"),
        &app.handler_b,
        &json!({"text": "已采纳并完成整改"}),
    )
    .await
    .assert_ok();

    // In April the other one is unanswered past its due day: one on time, one late.
    let backing = app.backing.clone();
    let mut app = app;
    let dir = app.dir.take();
    app.app.stop().await;
    let app = start_on(backing, dir, offset_to(at("2027-04-06T10:00:00+08:00"))).await;
    let path = "/api/v1/assessments?period=2027";
    let body = app
        .eventually(path, &app.supervisor, |b| {
            b["items"].as_array().is_some_and(|items| {
                items.iter().any(|i| {
                    i["code"] == UNIT_B
                        && i["total"]["supervision_item_replies"]["late"] == 1
                        && i["total"]["supervision_item_replies"]["on_time"] == 1
                })
            })
        })
        .await;
    assert_eq!(
        body["formula"],
        json!({"name": "probity-assessment", "version": 2})
    );
    let dept = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == UNIT_B)
        .unwrap()
        .clone();
    assert_eq!(
        dept["total"]["supervision_item_replies"]["on_time_rate"],
        0.5
    );
    assert_eq!(dept["score"], 95.0, "10 × (0.5 − 1): {dept}");
    assert_eq!(dept["formula"]["version"], 2);
    // The government carries its department's figures.
    let gov = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == UNIT_A)
        .unwrap()
        .clone();
    assert_eq!(gov["total"]["supervision_item_replies"]["late"], 1);
    assert_eq!(gov["score"], 95.0);
    // The public sees the counts and the version; the reference fold (as_of) agrees.
    let public = app.get("/api/v1/public/assessments?period=2027", "").await;
    let row = public.assert_ok()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == UNIT_B)
        .unwrap()
        .clone();
    assert_eq!(row["formula_version"], 2);
    assert_eq!(row["supervision_replies_late"], 1);
    // `as_of` is an instant of the log (recorded on the machine's clock): now, after every
    // event; it is evaluated on the day the server's clock read then (6 Apr 2027), so the
    // unanswered item is late in the fold too.
    let now = chrono::Utc::now()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        .replace(':', "%3A");
    let folded = app
        .get(
            &format!("/api/v1/assessments?period=2027&as_of={now}"),
            &app.supervisor,
        )
        .await;
    assert_eq!(folded.body["evaluated_on"], "2027-04-06", "{}", folded.body);
    let folded_dept = folded.assert_ok()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == UNIT_B)
        .unwrap()
        .clone();
    assert_eq!(folded_dept["score"], 95.0, "{folded_dept}");
    // A period already assessed (2026) keeps version 1.
    let old = app
        .get("/api/v1/assessments?period=2026", &app.supervisor)
        .await;
    assert_eq!(old.assert_ok()["formula"]["version"], 1);
}

/// The board's `supervision_reply` entries of UNIT_B, once they are exactly `expected`
/// (case id, due day).
async fn board_shows(app: &TestApp, expected: &[(&str, &str)]) {
    app.eventually(
        &format!("/api/v1/deadlines?kind=supervision_reply&unit={UNIT_B}"),
        &app.supervisor,
        |b| {
            b["items"].as_array().is_some_and(|items| {
                items.len() == expected.len()
                    && expected.iter().all(|(id, due)| {
                        items
                            .iter()
                            .any(|i| i["case_id"] == *id && i["due"] == *due)
                    })
            })
        },
    )
    .await;
}

async fn an_approved_extension_moves_the_due_day_on_the_board(mode: Mode) {
    // The server's clock reads Wed 11 Mar 2026 (PINNED_AT).
    let app = spawn_app(mode).await;
    register_subjects(&app).await;
    // An NPC proposal to the department: due Thu 11 Jun 2026.
    let npc = assign(&app, &app.supervisor, "npc_proposal", UNIT_B).await;
    let id = npc["id"].as_str().unwrap().to_string();
    assert_eq!(day(&npc["due"]), date("2026-06-11"));
    board_shows(&app, &[(&id, "2026-06-11")]).await;
    let verb = |v: &str| format!("/api/v1/supervision-items/{id}/{v}");
    let ask = |months: u32| json!({"months": months, "reason": "涉及多个部门，需联合调研"});
    let spec = app.get("/api/v1/openapi.json", &app.intake).await;
    let paths = spec.assert_ok()["paths"].as_object().unwrap().clone();
    for v in [
        "request-extension",
        "approve-extension",
        "deny-extension",
        "return-for-rehandling",
    ] {
        let path = format!("/api/v1/supervision-items/{{id}}/{v}");
        assert!(paths.contains_key(&path), "{path} is not documented");
    }

    // Only the assigned unit's handler asks, for 1 to 3 months, with a reason.
    app.post(&verb("request-extension"), &app.handler_a, &ask(3))
        .await
        .assert_problem(403, "forbidden");
    app.post(&verb("request-extension"), &app.supervisor, &ask(3))
        .await
        .assert_problem(403, "forbidden");
    app.post(&verb("request-extension"), &app.handler_b, &ask(4))
        .await
        .assert_problem(422, "validation_failed");
    app.post(
        &verb("request-extension"),
        &app.handler_b,
        &json!({"months": 1, "reason": " "}),
    )
    .await
    .assert_problem(422, "validation_failed");
    // Nothing to decide yet.
    app.post(&verb("approve-extension"), &app.supervisor, &json!({}))
        .await
        .assert_problem(409, "invalid_transition");

    let r = app
        .post(&verb("request-extension"), &app.handler_b, &ask(3))
        .await;
    assert_eq!(r.assert_ok()["extension_requested"]["months"], 3);
    assert_eq!(day(&r.body["due"]), date("2026-06-11"));
    app.post(&verb("request-extension"), &app.handler_b, &ask(1))
        .await
        .assert_problem(409, "invalid_transition");
    // A handler does not decide.
    app.post(&verb("approve-extension"), &app.handler_b, &json!({}))
        .await
        .assert_problem(403, "forbidden");
    // Approved: six months from the assignment, Fri 11 Sep 2026; the board follows.
    let r = app
        .post(
            &verb("approve-extension"),
            &app.supervisor,
            &json!({"note": "涉及面广，同意延期"}),
        )
        .await;
    assert_eq!(r.assert_ok()["months"], 6);
    assert_eq!(day(&r.body["due"]), date("2026-09-11"));
    assert_eq!(r.body["extension_requested"], Value::Null);
    assert_eq!(r.body["extensions"][0]["decision"], "approved");
    assert_eq!(r.body["extensions"][0]["due"], "2026-09-11");
    board_shows(&app, &[(&id, "2026-09-11")]).await;
    // Six months is the NPC bound: no further extension.
    app.post(&verb("request-extension"), &app.handler_b, &ask(1))
        .await
        .assert_problem(422, "validation_failed");

    // A procuratorial suggestion is not extended by default; a CPPCC motion's request
    // may be denied, and its due day stands.
    let proc = assign(&app, &app.supervisor, "procuratorial_suggestion", UNIT_B).await;
    let proc_id = proc["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/api/v1/supervision-items/{proc_id}/request-extension"),
        &app.handler_b,
        &ask(1),
    )
    .await
    .assert_problem(422, "validation_failed");
    let motion = assign(&app, &app.supervisor, "cppcc_motion", UNIT_B).await;
    let motion_id = motion["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/api/v1/supervision-items/{motion_id}/request-extension"),
        &app.handler_b,
        &ask(2),
    )
    .await
    .assert_ok();
    let r = app
        .post(
            &format!("/api/v1/supervision-items/{motion_id}/deny-extension"),
            &app.supervisor,
            &json!({}),
        )
        .await;
    assert_eq!(r.assert_ok()["extensions"][0]["decision"], "denied");
    assert_eq!(day(&r.body["due"]), date("2026-06-11"));
    assert_eq!(r.body["months"], 3);

    // On Fri 12 Jun 2026 the motion is overdue and the extended proposal is not.
    let backing = app.backing.clone();
    let mut app = app;
    let dir = app.dir.take();
    app.app.stop().await;
    let app = start_on(backing, dir, offset_to(at("2026-06-12T10:00:00+08:00"))).await;
    let v = app
        .eventually(
            &format!("/api/v1/supervision-items/{motion_id}"),
            &app.supervisor,
            |b| b["escalations"].as_array().is_some_and(|e| !e.is_empty()),
        )
        .await;
    assert_eq!(v["escalations"], json!(["2026-06-11"]));
    let overdue = app
        .get("/api/v1/supervision-items?overdue=true", &app.supervisor)
        .await;
    let ids: Vec<&str> = overdue.assert_ok()["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert!(ids.contains(&motion_id.as_str()), "{}", overdue.body);
    assert!(ids.contains(&proc_id.as_str()), "{}", overdue.body);
    assert!(!ids.contains(&id.as_str()), "{}", overdue.body);
    let v = app
        .get(&format!("/api/v1/supervision-items/{id}"), &app.supervisor)
        .await;
    assert_eq!(v.assert_ok()["overdue"], false);
    assert_eq!(v.body["escalations"], json!([]));
    // Replied by the extended due day: on time.
    let r = app
        .post(
            &verb("reply"),
            &app.handler_b,
            &json!({"text": "已联合调研并答复代表"}),
        )
        .await;
    assert_eq!(r.assert_ok()["replied_on_time"], true);
}

async fn a_dissatisfied_item_is_handled_again_goes_overdue_and_is_escalated_once(mode: Mode) {
    // The server's clock reads Wed 11 Mar 2026 (PINNED_AT).
    let app = spawn_app(mode).await;
    register_subjects(&app).await;
    let item = assign(&app, &app.supervisor, "judicial_suggestion", UNIT_B).await;
    let id = item["id"].as_str().unwrap().to_string();
    let verb = |v: &str| format!("/api/v1/supervision-items/{id}/{v}");
    let objections = json!({"reason": "法院认为整改措施未落实"});
    let r = app
        .post(
            &verb("reply"),
            &app.handler_b,
            &json!({"text": "已修订执法程序规定"}),
        )
        .await;
    assert_eq!(r.assert_ok()["replied_on_time"], true);
    // Not rated yet: not returned.
    app.post(&verb("return-for-rehandling"), &app.supervisor, &objections)
        .await
        .assert_problem(409, "invalid_transition");
    app.post(
        &verb("satisfaction"),
        &app.supervisor,
        &json!({"satisfaction": "dissatisfied"}),
    )
    .await
    .assert_ok();
    board_shows(&app, &[]).await;
    // Only a supervisor or an administrator returns it, with the objections.
    app.post(&verb("return-for-rehandling"), &app.handler_b, &objections)
        .await
        .assert_problem(403, "forbidden");
    app.post(
        &verb("return-for-rehandling"),
        &app.supervisor,
        &json!({"reason": ""}),
    )
    .await
    .assert_problem(422, "validation_failed");

    // Returned: the unit owes a second reply within a month, by Mon 13 Apr 2026 (11 Apr
    // is a Saturday); it is on the board again.
    let r = app
        .post(&verb("return-for-rehandling"), &app.supervisor, &objections)
        .await;
    let v = r.assert_ok();
    assert_eq!(v["status"], "assigned");
    assert_eq!(v["handling"], 2);
    assert_eq!(v["months"], 1);
    assert_eq!(day(&v["due"]), date("2026-04-13"));
    assert_eq!(v["reply"], Value::Null);
    assert_eq!(v["earlier_handlings"][0]["replied_on_time"], true);
    assert_eq!(v["earlier_handlings"][0]["satisfaction"], "dissatisfied");
    assert_eq!(v["earlier_handlings"][0]["due"], "2026-05-11");
    board_shows(&app, &[(&id, "2026-04-13")]).await;
    // A second handling is not extended.
    app.post(
        &verb("request-extension"),
        &app.handler_b,
        &json!({"months": 1, "reason": "需要更多时间"}),
    )
    .await
    .assert_problem(409, "invalid_transition");

    // Tue 14 Apr 2026: overdue, escalated by the engine by itself, once.
    let backing = app.backing.clone();
    let mut app = app;
    let dir = app.dir.take();
    app.app.stop().await;
    let app = start_on(backing, dir, offset_to(at("2026-04-14T10:00:00+08:00"))).await;
    let v = app
        .eventually(
            &format!("/api/v1/supervision-items/{id}"),
            &app.supervisor,
            |b| b["escalations"].as_array().is_some_and(|e| !e.is_empty()),
        )
        .await;
    assert_eq!(v["overdue"], true, "{v}");
    assert_eq!(v["escalations"], json!(["2026-04-13"]));
    let version = v["version"].clone();
    // Several ticks later (1 s each), still one escalation and one event.
    escalated_once(
        &app,
        &id,
        "2026-04-13",
        &version,
        &[
            "SupervisionItemAssigned",
            "SupervisionItemReplied",
            "SupervisionSatisfactionRecorded",
            "SupervisionItemReturnedForRehandling",
            "SupervisionReplyOverdue",
        ],
    )
    .await;
    // The assessment keeps the first (on-time) reply and counts the second handling,
    // unanswered past its due day, as late.
    app.eventually("/api/v1/assessments?period=2026", &app.supervisor, |b| {
        b["items"].as_array().is_some_and(|items| {
            items.iter().any(|i| {
                i["code"] == UNIT_B
                    && i["total"]["supervision_item_replies"]["on_time"] == 1
                    && i["total"]["supervision_item_replies"]["late"] == 1
            })
        })
    })
    .await;

    // The second reply, late, with its own flag; rated dissatisfied again, it is not
    // returned a third time.
    let r = app
        .post(
            &verb("reply"),
            &app.handler_b,
            &json!({"text": "已落实整改措施"}),
        )
        .await;
    assert_eq!(r.assert_ok()["replied_on_time"], false);
    assert_eq!(r.body["earlier_handlings"][0]["replied_on_time"], true);
    assert_eq!(r.body["overdue"], false);
    board_shows(&app, &[]).await;
    app.post(
        &verb("satisfaction"),
        &app.supervisor,
        &json!({"satisfaction": "dissatisfied"}),
    )
    .await
    .assert_ok();
    app.post(&verb("return-for-rehandling"), &app.supervisor, &objections)
        .await
        .assert_problem(409, "invalid_transition");
}

/// Waits three deadline ticks (1 s each), then checks the item was escalated exactly once,
/// on `day`, that its version did not move, and that its history is `events`.
async fn escalated_once(app: &TestApp, id: &str, day: &str, version: &Value, events: &[&str]) {
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let v = app
        .get(&format!("/api/v1/supervision-items/{id}"), &app.supervisor)
        .await;
    assert_eq!(v.assert_ok()["escalations"], json!([day]));
    assert_eq!(&v.body["version"], version);
    let history = app
        .get(
            &format!("/api/v1/history/supervision_item/{id}"),
            &app.auditor,
        )
        .await;
    let types: Vec<&str> = history.assert_ok()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, events, "{}", history.body);
}
