//! Every error code of the contract, as problem+json, and nothing stored changed by bad input.

use probity_tests::{spawn_app, Mode, UNIT_A};
use serde_json::json;

crate::both_modes!(
    requests_without_a_valid_token_are_unauthenticated,
    roles_may_only_do_what_the_contract_allows,
    bad_input_gets_a_stable_problem_code,
    an_invalid_transition_is_a_conflict_and_changes_nothing,
    operations_endpoints_answer,
    a_deadline_before_the_calendar_data_is_calendar_missing,
    a_deadline_in_a_year_without_data_is_provisional,
    in_december_the_operator_is_warned_that_next_years_schedule_is_not_loaded,
);

async fn a_deadline_before_the_calendar_data_is_calendar_missing(mode: Mode) {
    // A working Friday at the end of 2024: the holiday data starts with 2025.
    let app =
        probity_tests::spawn_app_at(mode, probity_tests::at("2024-12-20T10:00:00+08:00")).await;
    let id = app.file("complaint").await;
    app.verb(&id, "accept", &app.intake, json!({})).await;
    let r = app
        .post(
            &format!("/api/v1/complaints/{id}/dispatch"),
            &app.intake,
            &json!({ "unit": UNIT_A }),
        )
        .await;
    r.assert_problem(422, "calendar_missing");
    // Nothing was stored by the refusal.
    let v = app
        .get(&format!("/api/v1/complaints/{id}"), &app.intake)
        .await;
    assert_eq!(v.assert_ok()["status"], "accepted");
    app.app.stop().await;
}

async fn a_deadline_in_a_year_without_data_is_provisional(mode: Mode) {
    // The server's clock in early 2027, a year whose schedule is not loaded.
    let app =
        probity_tests::spawn_app_at(mode, probity_tests::at("2027-03-01T10:00:00+08:00")).await;
    let id = app.dispatched("help").await;
    let v = app
        .get(&format!("/api/v1/complaints/{id}"), &app.supervisor)
        .await;
    let body = v.assert_ok();
    assert_eq!(body["deadlines_provisional"], true, "{body}");
    let board = app
        .eventually("/api/v1/deadlines", &app.supervisor, |b| {
            b["items"].as_array().is_some_and(|i| i.len() == 2)
        })
        .await;
    assert!(
        board["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["provisional"] == true),
        "{board}"
    );
    app.app.stop().await;
}

async fn requests_without_a_valid_token_are_unauthenticated(mode: Mode) {
    let app = spawn_app(mode).await;
    let r = app
        .request(reqwest::Method::GET, "/api/v1/complaints", None, None, &[])
        .await;
    r.assert_problem(401, "unauthenticated");
    let r = app.get("/api/v1/complaints", "not-a-token").await;
    r.assert_problem(401, "unauthenticated");
    app.app.stop().await;
}

async fn roles_may_only_do_what_the_contract_allows(mode: Mode) {
    let app = spawn_app(mode).await;
    let body = json!({
        "category": "help", "channel": "web", "title": "t", "description": "d",
        "reporter": { "anonymous": true }
    });
    for token in [&app.handler_a, &app.supervisor, &app.auditor] {
        app.post("/api/v1/complaints", token, &body)
            .await
            .assert_problem(403, "forbidden");
    }
    let id = app.file("complaint").await;
    app.post(
        &format!("/api/v1/complaints/{id}/accept"),
        &app.handler_a,
        &json!({}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.verb(&id, "accept", &app.intake, json!({})).await;
    app.post(
        &format!("/api/v1/complaints/{id}/dispatch"),
        &app.handler_a,
        &json!({ "unit": UNIT_A }),
    )
    .await
    .assert_problem(403, "forbidden");
    app.verb(&id, "dispatch", &app.intake, json!({ "unit": UNIT_A }))
        .await;
    // Another unit's handler can neither act on nor read the case.
    app.post(
        &format!("/api/v1/complaints/{id}/sign"),
        &app.handler_b,
        &json!({}),
    )
    .await
    .assert_problem(403, "forbidden");
    let r = app
        .get(&format!("/api/v1/complaints/{id}"), &app.handler_b)
        .await;
    assert!(matches!(r.status.as_u16(), 403 | 404), "{}", r.body);
    app.get("/api/v1/deadlines", &app.intake)
        .await
        .assert_problem(403, "forbidden");
    app.app.stop().await;
}

async fn bad_input_gets_a_stable_problem_code(mode: Mode) {
    let app = spawn_app(mode).await;
    let good = json!({
        "category": "help", "channel": "web", "title": "t", "description": "d",
        "reporter": { "anonymous": true }
    });
    // Unknown field.
    let mut b = good.clone();
    b["colour"] = json!("red");
    app.post("/api/v1/complaints", &app.intake, &b)
        .await
        .assert_problem(422, "validation_failed");
    // Unknown category.
    let mut b = good.clone();
    b["category"] = json!("gossip");
    app.post("/api/v1/complaints", &app.intake, &b)
        .await
        .assert_problem(422, "validation_failed");
    // Description over 4000 characters.
    let mut b = good.clone();
    b["description"] = json!("字".repeat(4001));
    let r = app.post("/api/v1/complaints", &app.intake, &b).await;
    r.assert_problem(422, "validation_failed");
    assert!(
        r.body["errors"].to_string().contains("description"),
        "{}",
        r.body
    );
    // Invalid credit code.
    let mut b = good.clone();
    b["subject_code"] = json!("913601000000000000");
    app.post("/api/v1/complaints", &app.intake, &b)
        .await
        .assert_problem(422, "invalid_credit_code");
    // Invalid identity number.
    let b = json!({
        "category": "help", "channel": "web", "title": "t", "description": "d",
        "reporter": { "anonymous": false, "name": "王五", "phone": "13700137000", "identity_number": "110105194912310021" }
    });
    app.post("/api/v1/complaints", &app.intake, &b)
        .await
        .assert_problem(422, "invalid_identity_number");
    // Malformed JSON, wrong content type, too large.
    let r = app
        .client
        .post(format!("{}/api/v1/complaints", app.url))
        .bearer_auth(&app.intake)
        .header("content-type", "application/json")
        .body("{\"category\":")
        .send()
        .await
        .unwrap();
    probity_tests::TestApp::read(r)
        .await
        .assert_problem(422, "validation_failed");
    let r = app
        .client
        .post(format!("{}/api/v1/complaints", app.url))
        .bearer_auth(&app.intake)
        .header("content-type", "text/plain")
        .body(good.to_string())
        .send()
        .await
        .unwrap();
    probity_tests::TestApp::read(r)
        .await
        .assert_problem(415, "unsupported_media_type");
    let r = app
        .client
        .post(format!("{}/api/v1/complaints", app.url))
        .bearer_auth(&app.intake)
        .header("content-type", "application/json")
        // Just over the 64 KiB default limit: small enough that the client has written it
        // all before the server answers (a multi-megabyte body can meet a closed socket).
        .body(format!("{{\"description\":\"{}\"}}", "x".repeat(80 * 1024)))
        .send()
        .await
        .unwrap();
    probity_tests::TestApp::read(r)
        .await
        .assert_problem(413, "payload_too_large");
    // Not found.
    app.get("/api/v1/complaints/no-such-case", &app.intake)
        .await
        .assert_problem(404, "not_found");
    app.post(
        "/api/v1/complaints/no-such-case/accept",
        &app.intake,
        &json!({}),
    )
    .await
    .assert_problem(404, "not_found");
    // Nothing was stored by any of it.
    let page = app.get("/api/v1/complaints", &app.intake).await;
    assert_eq!(page.assert_ok()["items"].as_array().unwrap().len(), 0);
    app.app.stop().await;
}

async fn an_invalid_transition_is_a_conflict_and_changes_nothing(mode: Mode) {
    let app = spawn_app(mode).await;
    let id = app.file("complaint").await;
    let r = app
        .post(
            &format!("/api/v1/complaints/{id}/sign"),
            &app.handler_a,
            &json!({}),
        )
        .await;
    assert!(
        matches!(r.code(), "invalid_transition" | "forbidden"),
        "{}",
        r.body
    );
    let r = app
        .post(
            &format!("/api/v1/complaints/{id}/reply"),
            &app.handler_a,
            &json!({ "content": "x" }),
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.body);
    app.verb(
        &id,
        "decline",
        &app.intake,
        json!({ "reason": "not a government matter" }),
    )
    .await;
    app.post(
        &format!("/api/v1/complaints/{id}/accept"),
        &app.intake,
        &json!({}),
    )
    .await
    .assert_problem(409, "invalid_transition");
    let v = app
        .get(&format!("/api/v1/complaints/{id}"), &app.intake)
        .await;
    assert_eq!(v.assert_ok()["status"], "declined");
    assert_eq!(v.body["version"], 2);
    app.app.stop().await;
}

async fn operations_endpoints_answer(mode: Mode) {
    let app = spawn_app(mode).await;
    let r = app
        .request(reqwest::Method::GET, "/healthz", None, None, &[])
        .await;
    assert!(r.status.is_success());
    let r = app
        .request(reqwest::Method::GET, "/readyz", None, None, &[])
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    // In March of a year with data there is nothing to warn about but the suite's pinned
    // clock (tests/api/clock.rs covers the shifted clock).
    let offset = probity_store::clock_offset_label(app.clock_offset);
    assert_eq!(
        r.body,
        serde_json::json!({
            "status": "ready",
            "clock_offset": offset,
            "warnings": [probity_http::ops::clock_offset_warning(&offset)],
        })
    );
    let r = app
        .client
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let text = r.text().await.unwrap();
    assert!(text.contains("# TYPE"), "{text}");
    assert!(
        text.contains("probity_projector_applied_total{projector=\"complaints\"}"),
        "{text}"
    );
    assert_eq!(
        text.matches("# TYPE probity_projector_applied_total ")
            .count(),
        1,
        "each metric is declared once: {text}"
    );
    let r = app
        .request(
            reqwest::Method::GET,
            "/api/v1/openapi.json",
            None,
            None,
            &[],
        )
        .await;
    let spec = r.assert_ok();
    assert!(
        spec["openapi"].as_str().unwrap_or("").starts_with("3.1"),
        "{spec}"
    );
    for path in [
        "/api/v1/complaints",
        "/api/v1/complaints/{id}",
        "/api/v1/deadlines",
    ] {
        assert!(spec["paths"].get(path).is_some(), "openapi lacks {path}");
    }
    let r = app.get("/api/v1/nowhere", &app.intake).await;
    assert_eq!(r.status.as_u16(), 404);
    app.app.stop().await;
}

async fn in_december_the_operator_is_warned_that_next_years_schedule_is_not_loaded(mode: Mode) {
    // December 2026: the shipped data ends with 2026.
    let app =
        probity_tests::spawn_app_at(mode, probity_tests::at("2026-12-07T10:00:00+08:00")).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let ready = loop {
        let r = app
            .request(reqwest::Method::GET, "/readyz", None, None, &[])
            .await;
        assert!(
            r.status.is_success(),
            "a missing schedule is no reason to refuse traffic: {}",
            r.body
        );
        // The suite's servers run on a pinned (shifted) clock, which `/readyz` warns
        // about too: wait for the schedule's warning among them.
        let schedule_warned = r.body["warnings"].as_array().is_some_and(|w| {
            w.iter()
                .any(|w| w.as_str().is_some_and(|w| w.contains("2027")))
        });
        if schedule_warned || std::time::Instant::now() > deadline {
            break r.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let warning = ready["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w.as_str())
        .find(|w| w.contains("2027"))
        .unwrap_or_default();
    assert!(
        warning.contains("2027") && warning.contains("probity calendar load"),
        "{ready}"
    );
    let metrics = app
        .client
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("probity_calendar_schedule_missing{year=\"2027\"} 1"),
        "{metrics}"
    );
    app.app.stop().await;
}
