//! Adapter tests of the HTTP API: the real router (`tower::ServiceExt::oneshot`) over a
//! real database, each scenario on SQLite (temp dir) and on a fresh Postgres database.

mod helpers;

use axum::http::Method;
use chrono::Duration;
use helpers::{new_complaint, TestApp, IDENTITY, SUBJECT, UNIT_A, UNIT_B};
use serde_json::{json, Value};

/// Runs each scenario on both backends.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(&super::TestApp::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(&super::TestApp::postgres().await).await;
                }
            )*
        }
    };
}

on_both_backends!(
    it_should_file_a_complaint_with_location_and_the_reporter_for_intake,
    it_should_show_the_reporter_only_to_intake_and_auditors_recording_each_read,
    it_should_run_every_verb_with_the_right_role,
    it_should_decline_return_and_merge,
    it_should_supervise_only_an_overdue_case,
    it_should_refuse_every_role_that_may_not_act,
    it_should_require_a_known_bearer_token,
    it_should_answer_every_error_with_problem_json_and_its_code,
    it_should_replay_an_idempotent_create_and_refuse_a_reused_key,
    it_should_create_once_under_two_concurrent_identical_requests,
    it_should_write_a_creation_its_key_and_its_response_together,
    it_should_honour_if_match,
    it_should_list_without_reporters_and_force_a_handlers_unit,
    it_should_give_the_history_masked_and_as_of,
    it_should_list_deadlines_for_supervisors_and_handlers,
    it_should_mark_an_erased_reporter,
    it_should_serve_health_readiness_metrics_and_openapi,
    it_should_accept_what_its_openapi_document_allows,
);

async fn it_should_file_a_complaint_with_location_and_the_reporter_for_intake(app: &TestApp) {
    let r = app
        .post(
            "/api/v1/complaints",
            &app.tokens.intake,
            new_complaint("complaint"),
        )
        .await;
    let body = r.assert_ok(201).clone();
    let id = body["id"].as_str().unwrap();
    assert_eq!(
        r.headers["location"].to_str().unwrap(),
        format!("/api/v1/complaints/{id}")
    );
    assert_eq!(body["version"], 1);
    assert_eq!(body["status"], "received");
    assert_eq!(body["category"], "complaint");
    assert_eq!(body["subject_code"], SUBJECT);
    assert_eq!(body["reporter"]["name"], "Li Hua");
    assert_eq!(body["reporter"]["identity_number"], IDENTITY);
    assert_eq!(body["reporter"]["anonymous"], false);
    assert!(uuid::Uuid::parse_str(id).is_ok());

    // The stored event carries the reporter sealed, never in the clear.
    let events = app.events_of("complaint", id).await;
    assert_eq!(events.len(), 1);
    let payload = events[0].payload.to_string();
    assert!(!payload.contains("Li Hua") && !payload.contains(IDENTITY));
    assert_eq!(events[0].metadata["role"], "intake");
    assert!(events[0].metadata["request_id"].is_string());

    // Anonymous: a reporter block without identity.
    let mut anon = new_complaint("help");
    anon["reporter"] = json!({ "anonymous": true });
    let r = app
        .post("/api/v1/complaints", &app.tokens.intake, anon)
        .await;
    let body = r.assert_ok(201);
    assert_eq!(body["anonymous"], true);
    assert_eq!(body["reporter"]["anonymous"], true);
    assert_eq!(body["reporter"]["name"], Value::Null);
}

async fn it_should_show_the_reporter_only_to_intake_and_auditors_recording_each_read(
    app: &TestApp,
) {
    let id = app.dispatched(UNIT_A).await;
    let path = format!("/api/v1/complaints/{id}");
    let access_id = format!("complaint-{id}");
    assert!(app.events_of("access_log", &access_id).await.is_empty());

    let r = app.get(&path, &app.tokens.intake).await;
    assert_eq!(r.assert_ok(200)["reporter"]["phone"], "13800000000");
    let reads = app.events_of("access_log", &access_id).await;
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].event_type, "PersonalDataRead");
    assert_eq!(reads[0].metadata["role"], "intake");

    let r = app.get(&path, &app.tokens.auditor).await;
    assert_eq!(r.assert_ok(200)["reporter"]["identity_number"], IDENTITY);
    assert_eq!(app.events_of("access_log", &access_id).await.len(), 2);

    for token in [&app.tokens.supervisor, &app.tokens.handler] {
        let r = app.get(&path, token).await;
        let body = r.assert_ok(200);
        assert!(body.get("reporter").is_none(), "{body}");
        assert!(!r.text.contains("Li Hua") && !r.text.contains(IDENTITY));
        assert_eq!(body["unit"], UNIT_A);
    }
    assert_eq!(app.events_of("access_log", &access_id).await.len(), 2);

    // Another unit's handler does not learn the case exists.
    app.get(&path, &app.tokens.handler_b)
        .await
        .assert_problem(404, "not_found");
    app.get(&path, &app.tokens.admin)
        .await
        .assert_problem(403, "forbidden");
    // A read of a case that does not exist records nothing.
    app.get("/api/v1/complaints/nope", &app.tokens.intake)
        .await
        .assert_problem(404, "not_found");
    assert!(app
        .events_of("access_log", "complaint-nope")
        .await
        .is_empty());
}

async fn it_should_run_every_verb_with_the_right_role(app: &TestApp) {
    let t = &app.tokens;
    let id = app.file("consultation").await;
    let v = app.verb(&id, "accept", &t.intake, None).await;
    assert_eq!(v.assert_ok(200)["status"], "accepted");
    assert_eq!(v.json["version"], 2);

    let v = app
        .verb(
            &id,
            "dispatch",
            &t.supervisor,
            Some(json!({ "unit": UNIT_A })),
        )
        .await;
    let body = v.assert_ok(200);
    assert_eq!(body["status"], "dispatched");
    assert_eq!(body["unit"], UNIT_A);
    assert!(body["sign_due"].is_string() && body["reply_due"].is_string());
    let first_due = body["reply_due"].as_str().unwrap().to_string();

    let v = app.verb(&id, "sign", &t.handler, Some(json!({}))).await;
    assert_eq!(v.assert_ok(200)["status"], "in_progress");

    let ext = json!({ "working_days": 3, "reason": "waiting for records" });
    app.verb(&id, "request-extension", &t.handler, Some(ext.clone()))
        .await
        .assert_ok(200);
    let v = app
        .verb(
            &id,
            "deny-extension",
            &t.supervisor,
            Some(json!({ "note": "no" })),
        )
        .await;
    assert_eq!(v.assert_ok(200)["reply_due"], first_due.as_str());
    app.verb(&id, "request-extension", &t.handler, Some(ext))
        .await
        .assert_ok(200);
    let v = app
        .verb(
            &id,
            "approve-extension",
            &t.supervisor,
            Some(json!({ "note": "ok" })),
        )
        .await;
    let body = v.assert_ok(200);
    assert!(
        body["reply_due"].as_str().unwrap() > first_due.as_str(),
        "{body}"
    );

    let v = app
        .verb(
            &id,
            "reply",
            &t.handler,
            Some(json!({ "content": "granted" })),
        )
        .await;
    assert_eq!(v.assert_ok(200)["status"], "replied");
    let v = app
        .verb(
            &id,
            "visit",
            &t.intake,
            Some(json!({ "satisfied": false, "comment": "too slow" })),
        )
        .await;
    assert_eq!(v.assert_ok(200)["status"], "in_progress");
    app.verb(
        &id,
        "reply",
        &t.handler,
        Some(json!({ "content": "again" })),
    )
    .await
    .assert_ok(200);
    let v = app
        .verb(&id, "visit", &t.intake, Some(json!({ "satisfied": true })))
        .await;
    let body = v.assert_ok(200);
    assert_eq!(body["status"], "closed");
    assert_eq!(body["satisfied"], true);
    // The response reflects the write at once: its version is the last event's sequence.
    let events = app.events_of("complaint", &id).await;
    assert_eq!(body["version"], events.last().unwrap().sequence);
}

async fn it_should_decline_return_and_merge(app: &TestApp) {
    let t = &app.tokens;
    let declined = app.file("suggestion").await;
    let v = app
        .verb(
            &declined,
            "decline",
            &t.intake,
            Some(json!({ "reason": "not ours" })),
        )
        .await;
    assert_eq!(v.assert_ok(200)["status"], "declined");

    let returned = app.dispatched(UNIT_A).await;
    let v = app
        .verb(
            &returned,
            "return",
            &t.handler,
            Some(json!({ "reason": "misrouted" })),
        )
        .await;
    assert_eq!(v.assert_ok(200)["status"], "returned");
    let v = app
        .verb(
            &returned,
            "dispatch",
            &t.intake,
            Some(json!({ "unit": UNIT_B })),
        )
        .await;
    assert_eq!(v.assert_ok(200)["unit"], UNIT_B);
    app.verb(&returned, "sign", &t.handler_b, None)
        .await
        .assert_ok(200);

    let repeat = app.file("complaint").await;
    let v = app
        .verb(
            &repeat,
            "merge",
            &t.supervisor,
            Some(json!({ "into": returned })),
        )
        .await;
    let body = v.assert_ok(200);
    assert_eq!(body["status"], "merged");
    assert_eq!(body["merged_into"], returned.as_str());

    let other = app.file("complaint").await;
    let r = app
        .verb(&other, "merge", &t.intake, Some(json!({ "into": other })))
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.field_errors(), vec!["into"]);
    app.verb(
        &other,
        "merge",
        &t.intake,
        Some(json!({ "into": "missing-case" })),
    )
    .await
    .assert_problem(404, "not_found");
}

async fn it_should_supervise_only_an_overdue_case(app: &TestApp) {
    let id = app.in_progress().await;
    app.verb(
        &id,
        "supervise",
        &app.tokens.supervisor,
        Some(json!({ "note": "hurry" })),
    )
    .await
    .assert_problem(409, "invalid_transition");
    // Thirty days later the consultation (3 working days) is overdue.
    let later = app.shifted(Duration::days(30));
    let r = TestApp::send_raw(
        &later,
        Method::POST,
        &format!("/api/v1/complaints/{id}/supervise"),
        Some(&app.tokens.supervisor),
        br#"{"note":"hurry"}"#.to_vec(),
        &[("content-type", "application/json")],
    )
    .await;
    let body = r.assert_ok(200);
    assert_eq!(body["supervision_count"], 1);
    assert_eq!(body["overdue"], true);
    // An extension after the reply deadline is too late.
    let r = TestApp::send_raw(
        &later,
        Method::POST,
        &format!("/api/v1/complaints/{id}/request-extension"),
        Some(&app.tokens.handler),
        br#"{"working_days":2,"reason":"late"}"#.to_vec(),
        &[("content-type", "application/json")],
    )
    .await;
    r.assert_problem(409, "invalid_transition");
}

async fn it_should_refuse_every_role_that_may_not_act(app: &TestApp) {
    let t = &app.tokens;
    let id = app.in_progress().await;
    let note = Some(json!({ "note": "n" }));
    let cases: Vec<(&str, Option<Value>, Vec<&String>)> = vec![
        (
            "accept",
            None,
            vec![&t.handler, &t.supervisor, &t.auditor, &t.admin],
        ),
        (
            "decline",
            Some(json!({"reason": "r"})),
            vec![&t.handler, &t.supervisor, &t.auditor],
        ),
        (
            "dispatch",
            Some(json!({"unit": UNIT_A})),
            vec![&t.handler, &t.auditor, &t.admin],
        ),
        ("sign", None, vec![&t.intake, &t.supervisor, &t.auditor]),
        (
            "return",
            Some(json!({"reason": "r"})),
            vec![&t.intake, &t.supervisor],
        ),
        (
            "request-extension",
            Some(json!({"working_days": 1, "reason": "r"})),
            vec![&t.intake, &t.supervisor],
        ),
        (
            "approve-extension",
            note.clone(),
            vec![&t.intake, &t.handler, &t.auditor],
        ),
        ("deny-extension", note.clone(), vec![&t.intake, &t.handler]),
        (
            "reply",
            Some(json!({"content": "c"})),
            vec![&t.intake, &t.supervisor, &t.auditor],
        ),
        (
            "visit",
            Some(json!({"satisfied": true})),
            vec![&t.handler, &t.supervisor],
        ),
        (
            "merge",
            Some(json!({"into": id})),
            vec![&t.handler, &t.auditor],
        ),
        (
            "supervise",
            note.clone(),
            vec![&t.intake, &t.handler, &t.auditor],
        ),
    ];
    for (verb, body, tokens) in cases {
        for token in tokens {
            let r = app.verb(&id, verb, token, body.clone()).await;
            r.assert_problem(403, "forbidden");
        }
    }
    // A handler of another unit may not touch the case.
    app.verb(&id, "reply", &t.handler_b, Some(json!({"content": "c"})))
        .await
        .assert_problem(403, "forbidden");
    let create = new_complaint("help");
    for token in [&t.handler, &t.supervisor, &t.auditor, &t.admin] {
        app.post("/api/v1/complaints", token, create.clone())
            .await
            .assert_problem(403, "forbidden");
    }
    for token in [&t.intake, &t.handler] {
        app.get(&format!("/api/v1/complaints/{id}/history"), token)
            .await
            .assert_problem(403, "forbidden");
    }
    for token in [&t.intake, &t.auditor, &t.admin] {
        app.get("/api/v1/deadlines", token)
            .await
            .assert_problem(403, "forbidden");
    }
    app.get("/api/v1/complaints", &t.admin)
        .await
        .assert_problem(403, "forbidden");
    // Nothing of the refused commands was recorded.
    assert_eq!(app.events_of("complaint", &id).await.len(), 4);
}

async fn it_should_require_a_known_bearer_token(app: &TestApp) {
    let r = TestApp::send_raw(
        &app.router,
        Method::GET,
        "/api/v1/complaints",
        None,
        vec![],
        &[],
    )
    .await;
    r.assert_problem(401, "unauthenticated");
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    app.get("/api/v1/complaints", "not-a-token")
        .await
        .assert_problem(401, "unauthenticated");
    let r = TestApp::send_raw(
        &app.router,
        Method::GET,
        "/api/v1/complaints",
        None,
        vec![],
        &[("authorization", &format!("Basic {}", app.tokens.intake))],
    )
    .await;
    r.assert_problem(401, "unauthenticated");
    app.post("/api/v1/complaints", "wrong", new_complaint("help"))
        .await
        .assert_problem(401, "unauthenticated");
}

async fn it_should_answer_every_error_with_problem_json_and_its_code(app: &TestApp) {
    let t = &app.tokens;
    let create = |edit: &dyn Fn(&mut Value)| {
        let mut body = new_complaint("complaint");
        edit(&mut body);
        body
    };
    let post = |body: Value| app.post("/api/v1/complaints", &t.intake, body);

    let r = post(create(&|b| b["subject_code"] = json!("914403001922038217"))).await;
    r.assert_problem(422, "invalid_credit_code");
    assert_eq!(r.field_errors(), vec!["subject_code"]);
    let r = post(create(&|b| {
        b["reporter"]["identity_number"] = json!("110105194912310020")
    }))
    .await;
    r.assert_problem(422, "invalid_identity_number");
    assert_eq!(r.field_errors(), vec!["reporter.identity_number"]);
    assert!(!r.text.contains("110105194912310020"));

    let r = post(create(&|b| b["colour"] = json!("red"))).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.field_errors(), vec!["colour"]);
    let r = post(create(&|b| b["reporter"]["email"] = json!("x@y"))).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.field_errors(), vec!["reporter.email"]);
    let r = post(create(&|b| {
        b.as_object_mut().unwrap().remove("title");
    }))
    .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.field_errors(), vec!["title"]);
    let r = post(create(&|b| b["category"] = json!("gossip"))).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.field_errors(), vec!["category"]);
    let r = post(create(&|b| b["description"] = json!("长".repeat(4001)))).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.field_errors(), vec!["description"]);
    let r = post(create(&|b| {
        b.as_object_mut().unwrap().remove("reporter");
    }))
    .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.field_errors(), vec!["reporter"]);
    let r = post(create(&|b| {
        b["reporter"] = json!({"anonymous": true, "name": "x"})
    }))
    .await;
    r.assert_problem(422, "validation_failed");

    let raw = |body: &'static [u8], content_type: &'static str| async move {
        TestApp::send_raw(
            &app.router,
            Method::POST,
            "/api/v1/complaints",
            Some(&t.intake),
            body.to_vec(),
            &[("content-type", content_type)],
        )
        .await
    };
    raw(b"{\"category\": ", "application/json")
        .await
        .assert_problem(422, "validation_failed");
    raw(b"[]", "application/json")
        .await
        .assert_problem(422, "validation_failed");
    raw(b"category=help", "application/x-www-form-urlencoded")
        .await
        .assert_problem(415, "unsupported_media_type");
    let r = TestApp::send_raw(
        &app.router,
        Method::POST,
        "/api/v1/complaints",
        Some(&t.intake),
        serde_json::to_vec(&new_complaint("help")).unwrap(),
        &[],
    )
    .await;
    r.assert_problem(415, "unsupported_media_type");
    let huge = create(&|b| b["description"] = json!("x".repeat(70 * 1024)));
    post(huge).await.assert_problem(413, "payload_too_large");

    // Verbs.
    let id = app.file("consultation").await;
    app.verb(&id, "accept", &t.intake, None)
        .await
        .assert_ok(200);
    app.verb(&id, "accept", &t.intake, None)
        .await
        .assert_problem(409, "invalid_transition");
    app.verb(&id, "accept", &t.intake, Some(json!({"why": 1})))
        .await
        .assert_problem(422, "validation_failed");
    let r = app
        .verb(&id, "dispatch", &t.intake, Some(json!({ "unit": "12345" })))
        .await;
    r.assert_problem(422, "invalid_credit_code");
    assert_eq!(r.field_errors(), vec!["unit"]);
    app.verb("no-such-case", "accept", &t.intake, None)
        .await
        .assert_problem(404, "not_found");
    let r = app.verb(&id, "return", &t.handler, None).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.field_errors(), vec!["body"]);
    app.verb(&id, "decline", &t.intake, Some(json!({ "reason": "" })))
        .await
        .assert_problem(422, "validation_failed");
    // Five years back there is no working-day calendar to count the deadlines with.
    let past = app.shifted(Duration::days(-5 * 365));
    let r = TestApp::send_raw(
        &past,
        Method::POST,
        &format!("/api/v1/complaints/{id}/dispatch"),
        Some(&t.intake),
        serde_json::to_vec(&json!({ "unit": UNIT_A })).unwrap(),
        &[("content-type", "application/json")],
    )
    .await;
    r.assert_problem(422, "calendar_missing");

    // Unknown routes and methods.
    app.get("/api/v1/nothing-here", &t.intake)
        .await
        .assert_problem(404, "not_found");
    TestApp::send_raw(&app.router, Method::GET, "/elsewhere", None, vec![], &[])
        .await
        .assert_problem(404, "not_found");
    app.call(Method::DELETE, "/api/v1/complaints", &t.intake, None)
        .await
        .assert_problem(405, "method_not_allowed");
    // Bad query parameters.
    for q in [
        "limit=0",
        "limit=501",
        "limit=ten",
        "overdue=maybe",
        "status=lost",
        "unit=123",
        "cursor=%%%",
    ] {
        let r = app
            .get(&format!("/api/v1/complaints?{q}"), &t.supervisor)
            .await;
        assert_eq!(r.status.as_u16(), 422, "{q}: {}", r.text);
        assert_eq!(r.content_type(), "application/problem+json");
    }
}

async fn it_should_replay_an_idempotent_create_and_refuse_a_reused_key(app: &TestApp) {
    let t = &app.tokens;
    let key = [("idempotency-key", "intake-call-0001")];
    let body = new_complaint("report");
    let first = app
        .call_with(
            Method::POST,
            "/api/v1/complaints",
            &t.intake,
            Some(body.clone()),
            &key,
        )
        .await;
    first.assert_ok(201);
    let second = app
        .call_with(
            Method::POST,
            "/api/v1/complaints",
            &t.intake,
            Some(body.clone()),
            &key,
        )
        .await;
    second.assert_ok(201);
    assert_eq!(first.json, second.json);
    assert_eq!(first.headers["location"], second.headers["location"]);
    assert_eq!(second.json["reporter"]["name"], "Li Hua");

    let mut other = body.clone();
    other["title"] = json!("Another matter");
    app.call_with(
        Method::POST,
        "/api/v1/complaints",
        &t.intake,
        Some(other),
        &key,
    )
    .await
    .assert_problem(422, "idempotency_key_reused");

    // The stored response holds no personal data.
    let (stored,): (String,) =
        sqlx::query_as("SELECT response_body FROM idempotency_keys WHERE idem_key = $1")
            .bind("intake-call-0001")
            .fetch_one(&app.db.any)
            .await
            .unwrap();
    assert!(!stored.contains("Li Hua") && !stored.contains(IDENTITY));

    // A failed request frees its key.
    let mut bad = body.clone();
    bad["subject_code"] = json!("bad");
    let key2 = [("idempotency-key", "intake-call-0002")];
    app.call_with(
        Method::POST,
        "/api/v1/complaints",
        &t.intake,
        Some(bad),
        &key2,
    )
    .await
    .assert_problem(422, "invalid_credit_code");
    app.call_with(
        Method::POST,
        "/api/v1/complaints",
        &t.intake,
        Some(body),
        &key2,
    )
    .await
    .assert_ok(201);
}

async fn it_should_create_once_under_two_concurrent_identical_requests(app: &TestApp) {
    let key = [("idempotency-key", "twin-request")];
    let body = new_complaint("help");
    let (a, b) = tokio::join!(
        app.call_with(
            Method::POST,
            "/api/v1/complaints",
            &app.tokens.intake,
            Some(body.clone()),
            &key
        ),
        app.call_with(
            Method::POST,
            "/api/v1/complaints",
            &app.tokens.intake,
            Some(body.clone()),
            &key
        ),
    );
    a.assert_ok(201);
    b.assert_ok(201);
    assert_eq!(a.json["id"], b.json["id"]);
    // Counted in the table itself: `read_after` may hold back events while other
    // tests' transactions are open on the same server.
    let (filed,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM events WHERE event_type = 'ComplaintFiled'")
            .fetch_one(&app.db.any)
            .await
            .unwrap();
    assert_eq!(filed, 1);
}

async fn it_should_write_a_creation_its_key_and_its_response_together(app: &TestApp) {
    let t = &app.tokens;
    let count = |sql: &'static str| async move {
        let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&app.db.any).await.unwrap();
        n
    };
    // Eight racing copies of one named filing: one case, one reporter key, one response.
    let key = [("idempotency-key", "eight-copies")];
    let body = new_complaint("report");
    let copies = (0..8).map(|_| {
        app.call_with(
            Method::POST,
            "/api/v1/complaints",
            &t.intake,
            Some(body.clone()),
            &key,
        )
    });
    let answers = futures::future::join_all(copies).await;
    for answer in &answers {
        answer.assert_ok(201);
        assert_eq!(answer.json["id"], answers[0].json["id"]);
        assert_eq!(answer.json["reporter"]["name"], "Li Hua");
    }
    assert_eq!(
        count("SELECT COUNT(*) FROM events WHERE event_type = 'ComplaintFiled'").await,
        1
    );
    assert_eq!(count("SELECT COUNT(*) FROM reporter_keys").await, 1);
    assert_eq!(
        count("SELECT COUNT(*) FROM idempotency_keys WHERE status = 201").await,
        1
    );

    // A creation the aggregate refuses writes nothing under its key.
    let subject = json!({"credit_code": UNIT_B, "name": "Another bureau", "kind": "department"});
    app.call_with(
        Method::POST,
        "/api/v1/subjects",
        &t.admin,
        Some(subject.clone()),
        &[("idempotency-key", "first-registration")],
    )
    .await
    .assert_ok(201);
    app.call_with(
        Method::POST,
        "/api/v1/subjects",
        &t.admin,
        Some(subject),
        &[("idempotency-key", "second-registration")],
    )
    .await
    .assert_problem(409, "already_exists");
    assert_eq!(
        count("SELECT COUNT(*) FROM idempotency_keys WHERE idem_key = 'second-registration'").await,
        0
    );
    assert_eq!(count("SELECT COUNT(*) FROM idempotency_keys").await, 2);
}

async fn it_should_honour_if_match(app: &TestApp) {
    let t = &app.tokens;
    let id = app.file("help").await;
    let path = format!("/api/v1/complaints/{id}/accept");
    let r = app
        .call_with(
            Method::POST,
            &path,
            &t.intake,
            None,
            &[("if-match", "\"7\"")],
        )
        .await;
    r.assert_problem(412, "version_conflict");
    let r = app
        .call_with(
            Method::POST,
            &path,
            &t.intake,
            None,
            &[("if-match", "seven")],
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.field_errors(), vec!["If-Match"]);
    let r = app
        .call_with(
            Method::POST,
            &path,
            &t.intake,
            None,
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(r.assert_ok(200)["version"], 2);
    let r = app
        .call_with(
            Method::POST,
            &format!("/api/v1/complaints/{id}/dispatch"),
            &t.intake,
            Some(json!({ "unit": UNIT_A })),
            &[("if-match", "\"1\"")],
        )
        .await;
    r.assert_problem(412, "version_conflict");
    // A version of something that does not exist: not found, not a stale version.
    for (path, token, body) in [
        ("/api/v1/complaints/no-such-case/accept", &t.intake, None),
        (
            "/api/v1/records/no-such-record/withdraw",
            &t.supervisor,
            Some(json!({ "reason": "test" })),
        ),
    ] {
        app.call_with(Method::POST, path, token, body, &[("if-match", "\"3\"")])
            .await
            .assert_problem(404, "not_found");
    }
}

async fn it_should_list_without_reporters_and_force_a_handlers_unit(app: &TestApp) {
    let t = &app.tokens;
    let a = app.dispatched(UNIT_A).await;
    let b = app.dispatched(UNIT_B).await;
    let received = app.file("help").await;
    app.project().await;

    let r = app.get("/api/v1/complaints", &t.intake).await;
    let body = r.assert_ok(200);
    assert_eq!(body["items"].as_array().unwrap().len(), 3);
    assert!(body.get("next_cursor").is_some());
    assert!(!r.text.contains("reporter") && !r.text.contains("Li Hua"));

    let r = app
        .get(&format!("/api/v1/complaints?unit={UNIT_B}"), &t.handler)
        .await;
    let ids: Vec<&str> = r.assert_ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![a.as_str()]);

    let r = app
        .get("/api/v1/complaints?status=received", &t.supervisor)
        .await;
    let items = r.assert_ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], received.as_str());

    let r = app.get("/api/v1/complaints?limit=1", &t.auditor).await;
    let page = r.assert_ok(200).clone();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let r = app
        .get(
            &format!("/api/v1/complaints?limit=5&cursor={cursor}"),
            &t.auditor,
        )
        .await;
    let rest = r.assert_ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(rest.len(), 2);
    assert!(rest.iter().all(|i| i["id"] != page["items"][0]["id"]));

    // A read right after a write shows the write, whatever the projection's lag.
    app.verb(&b, "sign", &t.handler_b, None)
        .await
        .assert_ok(200);
    let r = app
        .get(&format!("/api/v1/complaints/{b}"), &t.supervisor)
        .await;
    let view = r.assert_ok(200);
    assert_eq!(view["status"], "in_progress");
    assert_eq!(view["version"], 4);
}

async fn it_should_give_the_history_masked_and_as_of(app: &TestApp) {
    let t = &app.tokens;
    let id = app.file("consultation").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.verb(&id, "accept", &t.intake, None)
        .await
        .assert_ok(200);
    app.verb(&id, "dispatch", &t.intake, Some(json!({ "unit": UNIT_A })))
        .await
        .assert_ok(200);
    let path = format!("/api/v1/complaints/{id}/history");

    let r = app.get(&path, &t.auditor).await;
    let body = r.assert_ok(200).clone();
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["event_type"], "ComplaintFiled");
    assert_eq!(items[0]["sequence"], 1);
    assert_eq!(items[0]["event_version"], "1");
    assert!(items[0]["actor"].is_string());
    assert_eq!(items[0]["data"]["reporter"]["sealed"], true);
    assert!(!r.text.contains("ciphertext") && !r.text.contains("Li Hua"));
    assert_eq!(items[2]["data"]["unit"], UNIT_A);
    assert!(body.get("view").is_none());
    assert_eq!(body["next_cursor"], Value::Null);

    let r = app.get(&format!("{path}?limit=2"), &t.supervisor).await;
    let page = r.assert_ok(200).clone();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let r = app
        .get(&format!("{path}?limit=2&cursor={cursor}"), &t.supervisor)
        .await;
    let rest = r.assert_ok(200);
    assert_eq!(rest["items"][0]["sequence"], 3);
    assert_eq!(rest["next_cursor"], Value::Null);

    let filed_at = items[0]["recorded_at"].as_str().unwrap();
    let as_of = url_encode(filed_at);
    let r = app.get(&format!("{path}?as_of={as_of}"), &t.auditor).await;
    let then = r.assert_ok(200);
    assert_eq!(then["items"].as_array().unwrap().len(), 1);
    assert_eq!(then["view"]["status"], "received");
    assert_eq!(then["view"]["version"], 1);
    let r = app
        .get(&format!("{path}?as_of=2000-01-01T00:00:00Z"), &t.auditor)
        .await;
    let before = r.assert_ok(200);
    assert_eq!(before["view"], Value::Null);
    assert!(before["items"].as_array().unwrap().is_empty());

    app.get(&format!("{path}?as_of=yesterday"), &t.auditor)
        .await
        .assert_problem(422, "validation_failed");
    app.get("/api/v1/complaints/unknown/history", &t.auditor)
        .await
        .assert_problem(404, "not_found");
}

fn url_encode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

async fn it_should_list_deadlines_for_supervisors_and_handlers(app: &TestApp) {
    let t = &app.tokens;
    app.dispatched(UNIT_A).await;
    app.dispatched(UNIT_B).await;
    app.project().await;

    let r = app.get("/api/v1/deadlines", &t.supervisor).await;
    let body = r.assert_ok(200).clone();
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 4, "{body}");
    for item in items {
        assert!(item["case_id"].is_string() && item["due"].is_string());
        assert!(item["working_days_left"].is_i64());
    }
    let r = app
        .get(&format!("/api/v1/deadlines?unit={UNIT_B}"), &t.handler)
        .await;
    let mine = r.assert_ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(mine.len(), 2);
    assert!(mine.iter().all(|i| i["unit"] == UNIT_A));
    let r = app
        .get("/api/v1/deadlines?state=overdue", &t.supervisor)
        .await;
    assert!(r.assert_ok(200)["items"].as_array().unwrap().is_empty());
    app.get("/api/v1/deadlines?state=late", &t.supervisor)
        .await
        .assert_problem(422, "validation_failed");
}

async fn it_should_mark_an_erased_reporter(app: &TestApp) {
    let id = app.file("complaint").await;
    let events = app.events_of("complaint", &id).await;
    let key_id = events[0].payload["ComplaintFiled"]["reporter"]["key_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(app.state.keys.destroy(&key_id).await.unwrap());
    let r = app
        .get(&format!("/api/v1/complaints/{id}"), &app.tokens.auditor)
        .await;
    let reporter = &r.assert_ok(200)["reporter"];
    assert_eq!(reporter["erased"], true);
    assert_eq!(reporter["name"], Value::Null);
    assert_eq!(reporter["identity_number"], Value::Null);
}

async fn it_should_serve_health_readiness_metrics_and_openapi(app: &TestApp) {
    let get =
        |path: &'static str| TestApp::send_raw(&app.router, Method::GET, path, None, vec![], &[]);
    assert_eq!(get("/healthz").await.assert_ok(200)["status"], "ok");
    get("/readyz").await.assert_ok(200);
    app.file("help").await;

    let m = get("/metrics").await;
    assert_eq!(m.status.as_u16(), 200);
    assert!(m.content_type().starts_with("text/plain"));
    assert!(
        m.text.contains("probity_commands_total{outcome=\"ok\"} 1"),
        "{}",
        m.text
    );
    assert!(m
        .text
        .contains("probity_http_responses_total{class=\"2xx\"}"));

    let r = get("/api/v1/openapi.json").await;
    let doc = r.assert_ok(200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/complaints",
        "/api/v1/complaints/{id}",
        "/api/v1/complaints/{id}/history",
        "/api/v1/complaints/{id}/accept",
        "/api/v1/complaints/{id}/decline",
        "/api/v1/complaints/{id}/dispatch",
        "/api/v1/complaints/{id}/sign",
        "/api/v1/complaints/{id}/return",
        "/api/v1/complaints/{id}/request-extension",
        "/api/v1/complaints/{id}/approve-extension",
        "/api/v1/complaints/{id}/deny-extension",
        "/api/v1/complaints/{id}/reply",
        "/api/v1/complaints/{id}/visit",
        "/api/v1/complaints/{id}/merge",
        "/api/v1/complaints/{id}/supervise",
        "/api/v1/deadlines",
        "/api/v1/audit/bundles/{aggregate_type}/{id}",
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/openapi.json",
    ] {
        assert!(
            paths.contains_key(p),
            "{p} missing from the OpenAPI document"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for s in [
        "ComplaintView",
        "CreateComplaint",
        "Problem",
        "HistoryPage",
        "DeadlineEntry",
    ] {
        assert!(schemas.contains_key(s), "schema {s} missing");
    }
}

/// Readiness failing is a 503 problem.
#[tokio::test]
async fn it_should_report_not_ready_as_503_problem() {
    struct Down;
    #[async_trait::async_trait]
    impl probity_http::Readiness for Down {
        async fn check(&self) -> Result<(), String> {
            Err("bus unreachable".into())
        }
    }
    let app = TestApp::sqlite().await;
    let mut state = app.state.clone();
    state.readiness = std::sync::Arc::new(Down);
    let router = probity_http::router(state);
    let r = TestApp::send_raw(&router, Method::GET, "/readyz", None, vec![], &[]).await;
    r.assert_problem(503, "not_ready");
    assert!(r.json["detail"]
        .as_str()
        .unwrap()
        .contains("bus unreachable"));
}

/// Tokens: a handler needs a unit; tokens are counted; only hashes are stored.
#[tokio::test]
async fn it_should_create_and_count_tokens_storing_only_hashes() {
    let app = TestApp::sqlite().await;
    assert_eq!(probity_http::count_tokens(&app.db).await.unwrap(), 6);
    let err = probity_http::create_token(&app.db, probity_http::Role::Handler, None, None).await;
    assert!(matches!(
        err,
        Err(probity_http::TokenError::HandlerNeedsUnit)
    ));
    let rows: Vec<(String,)> = sqlx::query_as("SELECT token_hash FROM api_tokens")
        .fetch_all(&app.db.any)
        .await
        .unwrap();
    assert!(rows
        .iter()
        .all(|(h,)| h.len() == 64 && *h != app.tokens.intake));

    // A handler token without a unit (written behind the CLI's back) may do nothing.
    use sha2::Digest as _;
    let hash = hex::encode(sha2::Sha256::digest(b"unbound-handler-token"));
    sqlx::query(
        "INSERT INTO api_tokens (id, token_hash, role, unit, label, created_at) VALUES ($1, $2, 'handler', NULL, NULL, $3)",
    )
    .bind("unbound")
    .bind(hash)
    .bind(chrono::Utc::now().to_rfc3339())
    .execute(&app.db.any)
    .await
    .unwrap();
    app.get("/api/v1/complaints", "unbound-handler-token")
        .await
        .assert_problem(403, "forbidden");
}

/// Every response carries a request id; a client's own is echoed back.
#[tokio::test]
async fn it_should_echo_or_assign_a_request_id() {
    let app = TestApp::sqlite().await;
    let r = TestApp::send_raw(&app.router, Method::GET, "/healthz", None, vec![], &[]).await;
    assert!(!r.headers["x-request-id"].is_empty());
    let r = TestApp::send_raw(
        &app.router,
        Method::GET,
        "/healthz",
        None,
        vec![],
        &[("x-request-id", "req-42")],
    )
    .await;
    assert_eq!(r.headers["x-request-id"], "req-42");
    let id = app.file("help").await;
    let r = app
        .call_with(
            Method::POST,
            &format!("/api/v1/complaints/{id}/accept"),
            &app.tokens.intake,
            None,
            &[("x-request-id", "req-43"), ("x-correlation-id", "call-7")],
        )
        .await;
    r.assert_ok(200);
    let events = app.events_of("complaint", &id).await;
    assert_eq!(events[1].metadata["request_id"], "req-43");
    assert_eq!(events[1].metadata["correlation_id"], "call-7");
}

/// What the OpenAPI document allows is accepted (issue 9, item 8; tests/schemathesis
/// checks it by fuzzing): `null` as the optional body of a verb, a whole number written
/// with a zero fraction; and what it refuses is refused for every role.
async fn it_should_accept_what_its_openapi_document_allows(app: &TestApp) {
    let t = &app.tokens;
    let id = app.file("help").await;
    // A verb whose body is optional takes `null` as no body; any other non-object is 422.
    let r = app.verb(&id, "accept", &t.intake, Some(json!(5))).await;
    r.assert_problem(422, "validation_failed");
    let r = app.verb(&id, "accept", &t.intake, Some(Value::Null)).await;
    assert_eq!(r.assert_ok(200)["status"], "accepted");

    let id = app.in_progress().await;
    // 3.0 is the integer 3 in JSON (and JSON Schema); 3.5 is not a number of days.
    let ext = json!({ "working_days": 3.5, "reason": "waiting for records" });
    let r = app
        .verb(&id, "request-extension", &t.handler, Some(ext))
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.field_errors(), vec!["working_days".to_string()]);
    let ext = json!({ "working_days": 3.0, "reason": "waiting for records" });
    let r = app
        .verb(&id, "request-extension", &t.handler, Some(ext))
        .await;
    assert_eq!(r.assert_ok(200)["extension"]["working_days"], 3);
    let r = app
        .verb(&id, "approve-extension", &t.supervisor, Some(Value::Null))
        .await;
    r.assert_ok(200);

    // A malformed unit filter is refused for a handler too (its lists stay its own unit's).
    for path in [
        "/api/v1/complaints?unit=nope",
        "/api/v1/records?unit=nope",
        "/api/v1/deadlines?unit=nope",
    ] {
        app.get(path, &t.handler)
            .await
            .assert_problem(422, "invalid_credit_code");
    }

    // The document states the rules the server enforces.
    let r = TestApp::send_raw(
        &app.router,
        Method::GET,
        "/api/v1/openapi.json",
        None,
        vec![],
        &[],
    )
    .await;
    let doc = r.assert_ok(200);
    let params = |path: &str, method: &str| doc["paths"][path][method]["parameters"].clone();
    let param = |path: &str, method: &str, name: &str| {
        params(path, method)
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))
    };
    let limit = param("/api/v1/complaints", "get", "limit");
    assert_eq!(
        (
            limit["schema"]["minimum"].as_u64(),
            limit["schema"]["maximum"].as_u64()
        ),
        (Some(1), Some(500))
    );
    assert_eq!(
        param("/api/v1/assessments", "get", "period")["required"],
        true
    );
    let key = param("/api/v1/complaints", "post", "Idempotency-Key");
    assert_eq!(
        key["schema"]["pattern"],
        probity_http::schema::IDEMPOTENCY_KEY_PATTERN
    );
    let if_match = param("/api/v1/records/{id}/withdraw", "post", "If-Match");
    assert_eq!(
        if_match["schema"]["pattern"],
        probity_http::schema::IF_MATCH_PATTERN
    );
    let code = param("/api/v1/subjects/{code}", "get", "code");
    assert_eq!(code["schema"]["$ref"], "#/components/schemas/CreditCode");
    let credit = &doc["components"]["schemas"]["CreditCode"];
    assert_eq!(credit["pattern"], probity_http::schema::CREDIT_CODE_PATTERN);
    assert_eq!(
        (credit["minLength"].as_u64(), credit["maxLength"].as_u64()),
        (Some(18), Some(18))
    );
    let extension = &doc["components"]["schemas"]["ExtensionBody"]["properties"]["working_days"];
    assert_eq!(
        (extension["minimum"].as_u64(), extension["maximum"].as_u64()),
        (Some(1), Some(365))
    );
}
