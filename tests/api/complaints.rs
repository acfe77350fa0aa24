//! The complaint lifecycle end to end: every verb, the views, the deadline board,
//! history and as-of reads, idempotency, If-Match, and the shifted clock.

use probity_tests::{spawn_app, start_on, Mode, UNIT_A};
use serde_json::json;

crate::both_modes!(
    a_complaint_goes_from_filing_to_closing_and_every_view_follows,
    a_returned_case_is_dispatched_again,
    an_approved_extension_moves_the_reply_deadline,
    an_unsatisfied_visit_reopens_the_case,
    an_anonymous_case_closes_on_reply,
    a_repeat_is_merged_into_the_first_case,
    the_list_filters_and_pages_with_a_stable_cursor,
    the_history_lists_every_event_and_as_of_shows_the_past,
    the_same_idempotency_key_returns_the_first_response,
    a_stale_if_match_is_a_version_conflict,
    a_case_past_its_reply_due_is_overdue_and_can_be_supervised,
    rebuild_arrives_at_exactly_the_state_it_replaced,
);

async fn a_complaint_goes_from_filing_to_closing_and_every_view_follows(mode: Mode) {
    let app = spawn_app(mode).await;
    let id = app.file("complaint").await;
    let v = app.verb(&id, "accept", &app.intake, json!({})).await;
    assert_eq!(v["status"], "accepted");
    let v = app
        .verb(&id, "dispatch", &app.supervisor, json!({ "unit": UNIT_A }))
        .await;
    assert_eq!(v["status"], "dispatched");
    assert_eq!(v["unit"], UNIT_A);
    assert!(
        v["sign_due"].is_string() && v["reply_due"].is_string(),
        "{v}"
    );

    // The deadline board shows the open sign and reply deadlines.
    let board = app
        .eventually("/api/v1/deadlines", &app.supervisor, |b| {
            b["items"]
                .as_array()
                .is_some_and(|i| i.iter().filter(|e| e["case_id"] == id.as_str()).count() == 2)
        })
        .await;
    assert!(board["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["working_days_left"].is_i64()));

    let v = app.verb(&id, "sign", &app.handler_a, json!({})).await;
    assert_eq!(v["status"], "in_progress");
    let v = app
        .verb(
            &id,
            "reply",
            &app.handler_a,
            json!({ "content": "The permit was issued today." }),
        )
        .await;
    assert_eq!(v["status"], "replied");
    let v = app
        .verb(
            &id,
            "visit",
            &app.intake,
            json!({ "satisfied": true, "comment": "thanks" }),
        )
        .await;
    assert_eq!(v["status"], "closed");
    assert_eq!(v["version"], 7);

    // The projected view catches up to the same state, and the board is empty for it.
    let page = app
        .eventually("/api/v1/complaints?status=closed", &app.supervisor, |p| {
            p["items"].as_array().is_some_and(|i| i.len() == 1)
        })
        .await;
    assert_eq!(page["items"][0]["id"], id.as_str());
    assert_eq!(page["items"][0]["version"], 7);
    app.eventually("/api/v1/deadlines", &app.supervisor, |b| {
        b["items"]
            .as_array()
            .is_some_and(|i| i.iter().all(|e| e["case_id"] != id.as_str()))
    })
    .await;
    app.app.stop().await;
}

async fn a_returned_case_is_dispatched_again(mode: Mode) {
    let app = spawn_app(mode).await;
    let id = app.dispatched("help").await;
    let v = app
        .verb(
            &id,
            "return",
            &app.handler_a,
            json!({ "reason": "not our remit" }),
        )
        .await;
    assert_eq!(v["status"], "returned");
    let v = app
        .verb(
            &id,
            "dispatch",
            &app.intake,
            json!({ "unit": probity_tests::UNIT_B }),
        )
        .await;
    assert_eq!(v["status"], "dispatched");
    assert_eq!(v["unit"], probity_tests::UNIT_B);
    // The old unit may no longer act; the new one may.
    let r = app
        .post(
            &format!("/api/v1/complaints/{id}/sign"),
            &app.handler_a,
            &json!({}),
        )
        .await;
    r.assert_problem(403, "forbidden");
    app.verb(&id, "sign", &app.handler_b, json!({})).await;
    app.app.stop().await;
}

async fn an_approved_extension_moves_the_reply_deadline(mode: Mode) {
    let app = spawn_app(mode).await;
    let id = app.dispatched("consultation").await;
    let v = app.verb(&id, "sign", &app.handler_a, json!({})).await;
    let before = v["reply_due"].as_str().unwrap().to_string();
    let v = app
        .verb(
            &id,
            "request-extension",
            &app.handler_a,
            json!({ "working_days": 5, "reason": "site visit needed" }),
        )
        .await;
    assert_eq!(v["extension"]["status"], "pending");
    // A second request while one is pending is refused.
    let r = app
        .post(
            &format!("/api/v1/complaints/{id}/request-extension"),
            &app.handler_a,
            &json!({ "working_days": 2, "reason": "again" }),
        )
        .await;
    r.assert_problem(409, "invalid_transition");
    // Only a supervisor approves.
    let r = app
        .post(
            &format!("/api/v1/complaints/{id}/approve-extension"),
            &app.intake,
            &json!({ "note": "ok" }),
        )
        .await;
    r.assert_problem(403, "forbidden");
    let v = app
        .verb(
            &id,
            "approve-extension",
            &app.supervisor,
            json!({ "note": "granted" }),
        )
        .await;
    assert_eq!(v["extension"]["status"], "approved");
    assert!(v["reply_due"].as_str().unwrap() > before.as_str(), "{v}");
    // A denied one leaves the deadline alone.
    let v2 = app
        .verb(
            &id,
            "request-extension",
            &app.handler_a,
            json!({ "working_days": 3, "reason": "more" }),
        )
        .await;
    let v3 = app
        .verb(
            &id,
            "deny-extension",
            &app.supervisor,
            json!({ "note": "no" }),
        )
        .await;
    assert_eq!(v3["extension"]["status"], "denied");
    assert_eq!(v2["reply_due"], v3["reply_due"]);
    app.app.stop().await;
}

async fn an_unsatisfied_visit_reopens_the_case(mode: Mode) {
    let app = spawn_app(mode).await;
    let id = app.dispatched("complaint").await;
    app.verb(&id, "sign", &app.handler_a, json!({})).await;
    app.verb(&id, "reply", &app.handler_a, json!({ "content": "done" }))
        .await;
    let v = app
        .verb(
            &id,
            "visit",
            &app.intake,
            json!({ "satisfied": false, "comment": "nothing changed" }),
        )
        .await;
    assert_eq!(v["status"], "in_progress");
    assert_eq!(v["satisfied"], false);
    app.app.stop().await;
}

async fn an_anonymous_case_closes_on_reply(mode: Mode) {
    let app = spawn_app(mode).await;
    let r = app
        .post(
            "/api/v1/complaints",
            &app.intake,
            &json!({
                "category": "report", "channel": "web", "title": "Bid rigging",
                "description": "A tender was awarded before it was published.",
                "reporter": { "anonymous": true }
            }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    app.verb(&id, "accept", &app.intake, json!({})).await;
    app.verb(&id, "dispatch", &app.intake, json!({ "unit": UNIT_A }))
        .await;
    app.verb(&id, "sign", &app.handler_a, json!({})).await;
    let v = app
        .verb(
            &id,
            "reply",
            &app.handler_a,
            json!({ "content": "investigated" }),
        )
        .await;
    assert_eq!(v["status"], "closed");
    let r = app
        .post(
            &format!("/api/v1/complaints/{id}/visit"),
            &app.intake,
            &json!({ "satisfied": true, "comment": "" }),
        )
        .await;
    r.assert_problem(409, "invalid_transition");
    app.app.stop().await;
}

async fn a_repeat_is_merged_into_the_first_case(mode: Mode) {
    let app = spawn_app(mode).await;
    let first = app.file("complaint").await;
    let repeat = app.file("complaint").await;
    let v = app
        .verb(&repeat, "merge", &app.intake, json!({ "into": first }))
        .await;
    assert_eq!(v["status"], "merged");
    assert_eq!(v["merged_into"], first.as_str());
    let r = app
        .post(
            &format!("/api/v1/complaints/{first}/merge"),
            &app.intake,
            &json!({ "into": first }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 422, "{}", r.body);
    let r = app
        .post(
            &format!("/api/v1/complaints/{first}/merge"),
            &app.intake,
            &json!({ "into": "no-such-case" }),
        )
        .await;
    r.assert_problem(404, "not_found");
    app.app.stop().await;
}

async fn the_list_filters_and_pages_with_a_stable_cursor(mode: Mode) {
    let app = spawn_app(mode).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(app.file("suggestion").await);
    }
    let dispatched = app.dispatched("help").await;
    app.eventually("/api/v1/complaints?limit=500", &app.intake, |b| {
        b["items"].as_array().is_some_and(|i| i.len() == 6)
    })
    .await;
    // Paging two at a time visits every case exactly once.
    let mut seen = Vec::new();
    let mut path = "/api/v1/complaints?limit=2".to_string();
    loop {
        let r = app.get(&path, &app.intake).await;
        let page = r.assert_ok();
        for item in page["items"].as_array().unwrap() {
            assert!(
                item.get("reporter").is_none(),
                "a list never carries the reporter"
            );
            seen.push(item["id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/complaints?limit=2&cursor={c}"),
            None => break,
        }
    }
    seen.sort();
    let mut all = ids.clone();
    all.push(dispatched.clone());
    all.sort();
    assert_eq!(seen, all);
    // Filters.
    let page = app
        .eventually("/api/v1/complaints?status=dispatched", &app.intake, |b| {
            b["items"].as_array().is_some_and(|i| i.len() == 1)
        })
        .await;
    assert_eq!(page["items"][0]["id"], dispatched.as_str());
    let page = app
        .get("/api/v1/complaints?category=suggestion", &app.intake)
        .await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 5);
    // A handler sees only its own unit's cases.
    let page = app.get("/api/v1/complaints", &app.handler_b).await;
    assert_eq!(page.assert_ok()["items"].as_array().unwrap().len(), 0);
    let page = app.get("/api/v1/complaints", &app.handler_a).await;
    assert_eq!(page.assert_ok()["items"].as_array().unwrap().len(), 1);
    // A malformed cursor is a validation error, not a 500.
    let r = app.get("/api/v1/complaints?cursor=%%%", &app.intake).await;
    assert_eq!(r.status.as_u16(), 422, "{}", r.body);
    app.app.stop().await;
}

async fn the_history_lists_every_event_and_as_of_shows_the_past(mode: Mode) {
    let app = spawn_app(mode).await;
    let id = app.file("complaint").await;
    app.verb(&id, "accept", &app.intake, json!({})).await;
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let between = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    app.verb(&id, "dispatch", &app.intake, json!({ "unit": UNIT_A }))
        .await;

    let r = app
        .get(&format!("/api/v1/complaints/{id}/history"), &app.auditor)
        .await;
    let items = r.assert_ok()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 3);
    let seqs: Vec<i64> = items
        .iter()
        .map(|i| i["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    assert_eq!(items[0]["event_type"], "ComplaintFiled");
    for i in &items {
        for field in ["position", "event_version", "recorded_at", "actor", "data"] {
            assert!(i.get(field).is_some(), "history item lacks {field}: {i}");
        }
    }
    let text = serde_json::to_string(&items).unwrap();
    assert!(
        !text.contains("13800138000") && !text.contains("ciphertext"),
        "{text}"
    );

    let r = app
        .get(
            &format!(
                "/api/v1/complaints/{id}/history?as_of={}",
                urlencode(&between)
            ),
            &app.auditor,
        )
        .await;
    let body = r.assert_ok();
    let text = body.to_string();
    assert!(
        text.contains("\"accepted\""),
        "as_of must show the case as accepted: {text}"
    );
    // Handlers and intake may not read histories.
    app.get(&format!("/api/v1/complaints/{id}/history"), &app.handler_a)
        .await
        .assert_problem(403, "forbidden");
    app.app.stop().await;
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

async fn the_same_idempotency_key_returns_the_first_response(mode: Mode) {
    let app = spawn_app(mode).await;
    let body = json!({
        "category": "help", "channel": "hotline", "title": "Water", "description": "No water for a week.",
        "reporter": { "anonymous": false, "name": "李四", "phone": "13900139000" }
    });
    let key = [("Idempotency-Key", "key-1")];
    let a = app
        .request(
            reqwest::Method::POST,
            "/api/v1/complaints",
            Some(&app.intake),
            Some(&body),
            &key,
        )
        .await;
    let b = app
        .request(
            reqwest::Method::POST,
            "/api/v1/complaints",
            Some(&app.intake),
            Some(&body),
            &key,
        )
        .await;
    assert_eq!(a.status.as_u16(), 201, "{}", a.body);
    assert_eq!(b.status.as_u16(), 201, "{}", b.body);
    assert_eq!(a.body["id"], b.body["id"]);
    let mut other = body.clone();
    other["title"] = json!("Electricity");
    let c = app
        .request(
            reqwest::Method::POST,
            "/api/v1/complaints",
            Some(&app.intake),
            Some(&other),
            &key,
        )
        .await;
    c.assert_problem(422, "idempotency_key_reused");
    app.eventually("/api/v1/complaints", &app.intake, |b| {
        b["items"].as_array().is_some_and(|i| i.len() == 1)
    })
    .await;
    app.app.stop().await;
}

async fn a_stale_if_match_is_a_version_conflict(mode: Mode) {
    let app = spawn_app(mode).await;
    let id = app.file("complaint").await;
    let path = format!("/api/v1/complaints/{id}/accept");
    let r = app
        .request(
            reqwest::Method::POST,
            &path,
            Some(&app.intake),
            Some(&json!({})),
            &[("If-Match", "\"7\"")],
        )
        .await;
    r.assert_problem(412, "version_conflict");
    let r = app
        .request(
            reqwest::Method::POST,
            &path,
            Some(&app.intake),
            Some(&json!({})),
            &[("If-Match", "\"1\"")],
        )
        .await;
    assert_eq!(r.assert_ok()["version"], 2);
    app.app.stop().await;
}

async fn a_case_past_its_reply_due_is_overdue_and_can_be_supervised(mode: Mode) {
    let app = spawn_app(mode).await;
    let id = app.dispatched("consultation").await;
    // Not overdue yet: supervision is refused.
    let r = app
        .post(
            &format!("/api/v1/complaints/{id}/supervise"),
            &app.supervisor,
            &json!({ "note": "hurry" }),
        )
        .await;
    r.assert_problem(409, "invalid_transition");
    // Lists come from the projection alone: wait until it shows the dispatch.
    app.eventually(
        "/api/v1/complaints?status=dispatched",
        &app.supervisor,
        |p| p["items"].as_array().is_some_and(|i| i.len() == 1),
    )
    .await;
    let backing = app.backing.clone();
    let thirty_days_on = app.clock_offset + chrono::Duration::days(30);
    let TestApp {
        app: running, dir, ..
    } = app;
    running.stop().await;

    // The same store, the server's clock 30 days ahead.
    let later = start_on(backing, dir, thirty_days_on).await;
    let v = later
        .get(&format!("/api/v1/complaints/{id}"), &later.supervisor)
        .await;
    assert_eq!(v.assert_ok()["overdue"], true, "{}", v.body);
    let page = later
        .get("/api/v1/complaints?overdue=true", &later.supervisor)
        .await;
    assert_eq!(page.assert_ok()["items"].as_array().unwrap().len(), 1);
    let board = later
        .get("/api/v1/deadlines?state=overdue", &later.supervisor)
        .await;
    let items = board.assert_ok()["items"].as_array().unwrap().clone();
    assert!(
        !items.is_empty()
            && items
                .iter()
                .all(|e| e["working_days_left"].as_i64().unwrap() < 0),
        "{items:?}"
    );
    let v = later
        .verb(
            &id,
            "supervise",
            &later.supervisor,
            json!({ "note": "督办: reply within 2 days" }),
        )
        .await;
    assert_eq!(v["supervision_count"], 1);
    later.app.stop().await;
}

use probity_tests::TestApp;

async fn rebuild_arrives_at_exactly_the_state_it_replaced(mode: Mode) {
    let app = spawn_app(mode).await;
    for category in ["consultation", "help", "complaint"] {
        let id = app.dispatched(category).await;
        app.verb(&id, "sign", &app.handler_a, json!({})).await;
    }
    app.file("report").await;
    app.eventually("/api/v1/complaints?status=in_progress", &app.intake, |b| {
        b["items"].as_array().is_some_and(|i| i.len() == 3)
    })
    .await;
    app.eventually("/api/v1/complaints?status=received", &app.intake, |b| {
        b["items"].as_array().is_some_and(|i| i.len() == 1)
    })
    .await;
    let db = app.app.db.clone();
    app.app.stop().await;

    let before = probity_views::dump(&db).await.expect("dumping the views");
    let log = probity_store::EventLog::new(db.clone());
    let n = probity_views::rebuild(&log, &db, &|_, _| {})
        .await
        .expect("rebuilding");
    assert!(n > 4 * 3, "rebuilt {n} events");
    let after = probity_views::dump(&db).await.expect("dumping the views");
    assert_eq!(before, after);
}
