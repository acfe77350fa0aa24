//! Auditors (issue 5): the history of every aggregate type, the access log of every
//! history read and personal-data read, and the erasure of a reporter (crypto-shredding).

use std::sync::Arc;

use probity_domain::complaint::{Complaint, ComplaintServices};
use probity_domain::{TimeLimits, WorkingCalendar};
use probity_http::erasure::{erase_reporter, ErasureParts};
use probity_http::ApiError;
use probity_store::{Backend, EventLog, Executor, KeyStore};
use probity_tests::{spawn_app, Mode, TestApp};
use serde_json::{json, Value};

crate::both_modes!(
    the_history_of_every_aggregate_type_is_served_masked_and_paged,
    history_is_for_auditors_and_supervisors_and_the_access_log_for_auditors,
    as_of_limits_the_history_to_what_was_recorded_by_then,
    every_history_read_is_recorded_and_listed_in_the_access_log,
    an_erased_reporter_reads_as_erased_and_is_gone_from_the_raw_tables,
    the_bundle_endpoint_serves_a_verifiable_bundle_and_records_the_export,
    as_of_shows_the_complaint_as_it_stood_then,
);

const PHONE: &str = "13800138000";
const IDENTITY: &str = "11010519491231002X";
const NAME: &str = "张三";

fn event_types(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["event_type"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn the_history_of_every_aggregate_type_is_served_masked_and_paged(mode: Mode) {
    let app = spawn_app(mode).await;
    let id = app.dispatched("complaint").await;

    // The generic route serves the complaint exactly like its own history route.
    let generic = app
        .get(&format!("/api/v1/history/complaint/{id}"), &app.auditor)
        .await;
    let generic = generic.assert_ok().clone();
    let own = app
        .get(&format!("/api/v1/complaints/{id}/history"), &app.auditor)
        .await;
    let own = own.assert_ok().clone();
    assert_eq!(
        event_types(&generic),
        ["ComplaintFiled", "ComplaintAccepted", "ComplaintDispatched"]
    );
    assert_eq!(generic["items"], own["items"]);
    assert!(generic.get("view").is_none(), "{generic}");
    let first = &generic["items"][0];
    assert_eq!(first["sequence"], 1);
    assert_eq!(first["event_version"], "1");
    assert!(first["position"].as_i64().is_some());
    assert!(first["recorded_at"].as_str().is_some());
    assert!(first["actor"].as_str().is_some_and(|a| !a.is_empty()));
    assert_eq!(first["data"]["reporter"]["sealed"], true, "{first}");
    assert!(first["data"]["reporter"].get("ciphertext").is_none());
    let text = generic.to_string();
    for secret in [PHONE, IDENTITY, NAME] {
        assert!(!text.contains(secret), "{text}");
    }

    // Paging by sequence.
    let page1 = app
        .get(
            &format!("/api/v1/history/complaint/{id}?limit=2"),
            &app.auditor,
        )
        .await;
    let page1 = page1.assert_ok().clone();
    assert_eq!(event_types(&page1).len(), 2);
    let cursor = page1["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let page2 = app
        .get(
            &format!("/api/v1/history/complaint/{id}?limit=2&cursor={cursor}"),
            &app.auditor,
        )
        .await;
    let page2 = page2.assert_ok().clone();
    assert_eq!(event_types(&page2), ["ComplaintDispatched"]);
    assert!(page2["next_cursor"].is_null());

    // The access log is an aggregate type of the log like any other: the reads above
    // are in it.
    let log = app
        .get(
            &format!("/api/v1/history/access_log/complaint-{id}"),
            &app.auditor,
        )
        .await;
    let log = log.assert_ok().clone();
    let types = event_types(&log);
    assert!(types.len() >= 4, "{log}");
    assert!(types.iter().all(|t| t == "HistoryRead"), "{types:?}");
    assert_eq!(log["items"][0]["data"]["aggregate_type"], "complaint");
    assert_eq!(log["items"][0]["data"]["aggregate_id"], id.as_str());
    assert_eq!(log["items"][0]["data"]["purpose"], "audit");

    // Unknown type, unknown id: 404.
    app.get(&format!("/api/v1/history/subject/{id}"), &app.auditor)
        .await
        .assert_problem(404, "not_found");
    app.get("/api/v1/history/complaint/no-such-case", &app.auditor)
        .await
        .assert_problem(404, "not_found");
    app.get("/api/v1/complaints/no-such-case/history", &app.auditor)
        .await
        .assert_problem(404, "not_found");
    app.get(
        &format!("/api/v1/history/complaint/{id}?limit=0"),
        &app.auditor,
    )
    .await
    .assert_problem(422, "validation_failed");
}

async fn history_is_for_auditors_and_supervisors_and_the_access_log_for_auditors(mode: Mode) {
    let app = spawn_app(mode).await;
    let id = app.dispatched("help").await;
    let paths = [
        format!("/api/v1/history/complaint/{id}"),
        format!("/api/v1/complaints/{id}/history"),
    ];
    for path in &paths {
        for token in [&app.handler_a, &app.intake, &app.admin] {
            app.get(path, token).await.assert_problem(403, "forbidden");
        }
        for token in [&app.auditor, &app.supervisor] {
            app.get(path, token).await.assert_ok();
        }
        let anonymous = app
            .request(reqwest::Method::GET, path, None, None, &[])
            .await;
        anonymous.assert_problem(401, "unauthenticated");
    }
    for token in [&app.handler_a, &app.intake, &app.supervisor, &app.admin] {
        app.get("/api/v1/access-log", token)
            .await
            .assert_problem(403, "forbidden");
    }
    app.get("/api/v1/access-log", &app.auditor)
        .await
        .assert_ok();
    // Refused reads are not recorded: only the four allowed ones are.
    let log = EventLog::new(app.app.db.clone());
    let reads = log
        .read_aggregate("access_log", &format!("complaint-{id}"), None)
        .await
        .unwrap();
    assert_eq!(reads.len(), 4);
}

async fn as_of_limits_the_history_to_what_was_recorded_by_then(mode: Mode) {
    let app = spawn_app(mode).await;
    let id = app.file("suggestion").await;
    let before = app
        .get(&format!("/api/v1/history/complaint/{id}"), &app.auditor)
        .await;
    let filed_at = before.assert_ok()["items"][0]["recorded_at"]
        .as_str()
        .unwrap()
        .to_string();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.verb(&id, "accept", &app.intake, json!({})).await;

    let encoded = filed_at.replace('+', "%2B");
    for path in [
        format!("/api/v1/history/complaint/{id}?as_of={encoded}"),
        format!("/api/v1/complaints/{id}/history?as_of={encoded}"),
    ] {
        let page = app.get(&path, &app.auditor).await;
        let page = page.assert_ok().clone();
        assert_eq!(event_types(&page), ["ComplaintFiled"], "{path}");
        assert_eq!(page["view"]["status"], "received", "{page}");
    }
    let now = app
        .get(&format!("/api/v1/history/complaint/{id}"), &app.auditor)
        .await;
    assert_eq!(
        event_types(now.assert_ok()),
        ["ComplaintFiled", "ComplaintAccepted"]
    );
    // Before the case existed: an empty page and no view.
    let early = app
        .get(
            &format!("/api/v1/history/complaint/{id}?as_of=2000-01-01T00:00:00Z"),
            &app.auditor,
        )
        .await;
    let early = early.assert_ok().clone();
    assert_eq!(event_types(&early).len(), 0);
    assert!(early["view"].is_null());
    // The access log's history with as_of: only the reads recorded by then.
    let log_path = format!("/api/v1/history/access_log/complaint-{id}?as_of={encoded}");
    let log = app.get(&log_path, &app.auditor).await;
    assert_eq!(event_types(log.assert_ok()).len(), 0, "{}", log.body);
    assert!(log.body.get("view").is_none());
    app.get(
        &format!("/api/v1/history/complaint/{id}?as_of=yesterday"),
        &app.auditor,
    )
    .await
    .assert_problem(422, "validation_failed");
}

async fn every_history_read_is_recorded_and_listed_in_the_access_log(mode: Mode) {
    let app = spawn_app(mode).await;
    let id = app.file("report").await;
    let other = app.file("report").await;

    let r = app
        .request(
            reqwest::Method::GET,
            &format!("/api/v1/complaints/{id}/history"),
            Some(&app.auditor),
            None,
            &[("X-Purpose", "case review 17")],
        )
        .await;
    r.assert_ok();
    app.get(
        &format!("/api/v1/history/complaint/{id}?purpose=deadline-check"),
        &app.supervisor,
    )
    .await
    .assert_ok();
    // A personal-data read is listed too.
    app.get(&format!("/api/v1/complaints/{id}"), &app.intake)
        .await
        .assert_ok();
    app.get(&format!("/api/v1/history/complaint/{other}"), &app.auditor)
        .await
        .assert_ok();

    // One case, newest first.
    let one = app
        .get(
            &format!("/api/v1/access-log?case_type=complaint&case_id={id}"),
            &app.auditor,
        )
        .await;
    let one = one.assert_ok().clone();
    let items = one["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{one}");
    assert_eq!(items[0]["event_type"], "PersonalDataRead");
    assert_eq!(items[0]["role"], "intake");
    assert_eq!(items[1]["event_type"], "HistoryRead");
    assert_eq!(items[1]["role"], "supervisor");
    assert_eq!(items[1]["purpose"], "deadline-check");
    assert_eq!(items[2]["event_type"], "HistoryRead");
    assert_eq!(items[2]["role"], "auditor");
    assert_eq!(items[2]["purpose"], "case review 17");
    for item in items {
        assert_eq!(item["case_type"], "complaint");
        assert_eq!(item["case_id"], id.as_str());
        assert!(item["actor"].as_str().is_some_and(|a| !a.is_empty()));
        assert!(item["at"].as_str().is_some());
    }
    assert_ne!(items[1]["actor"], items[2]["actor"]);
    let text = one.to_string();
    for secret in [PHONE, IDENTITY, NAME] {
        assert!(!text.contains(secret), "{text}");
    }

    // Across cases, newest first, paged.
    let all = app.get("/api/v1/access-log", &app.auditor).await;
    let all = all.assert_ok().clone();
    let all_items = all["items"].as_array().unwrap();
    assert_eq!(all_items.len(), 4, "{all}");
    assert_eq!(all_items[0]["case_id"], other.as_str());
    let positions: Vec<i64> = all_items
        .iter()
        .map(|i| i["position"].as_i64().unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] > w[1]), "{positions:?}");
    let by_type = app
        .get("/api/v1/access-log?case_type=complaint", &app.auditor)
        .await;
    assert_eq!(by_type.assert_ok()["items"], all["items"]);
    let none = app
        .get("/api/v1/access-log?case_type=subject", &app.auditor)
        .await;
    assert_eq!(none.assert_ok()["items"], json!([]));

    let mut seen = Vec::new();
    let mut path = "/api/v1/access-log?limit=3".to_string();
    loop {
        let page = app.get(&path, &app.auditor).await;
        let page = page.assert_ok().clone();
        seen.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/access-log?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(Value::Array(seen), all["items"]);

    app.get(&format!("/api/v1/access-log?case_id={id}"), &app.auditor)
        .await
        .assert_problem(422, "validation_failed");
}

fn parts_of(app: &TestApp) -> (Executor<Complaint>, EventLog, KeyStore) {
    let db = app.app.db.clone();
    let services = ComplaintServices {
        calendar: Arc::new(WorkingCalendar::china()),
        limits: TimeLimits::default(),
    };
    (
        Executor::new(db.clone(), services),
        EventLog::new(db.clone()),
        KeyStore::new(db),
    )
}

async fn an_erased_reporter_reads_as_erased_and_is_gone_from_the_raw_tables(mode: Mode) {
    let app = spawn_app(mode).await;
    let id = app.dispatched("complaint").await;
    let path = format!("/api/v1/complaints/{id}");
    let before = app.get(&path, &app.intake).await;
    let before = before.assert_ok().clone();
    assert_eq!(before["reporter"]["phone"], PHONE);

    let (complaints, log, keys) = parts_of(&app);
    let parts = ErasureParts {
        complaints: &complaints,
        log: &log,
        keys: &keys,
    };
    let erasure = erase_reporter(
        parts,
        &id,
        "reporter's request 2026-41",
        "dpo",
        chrono::Utc::now(),
    )
    .await
    .expect("the erasure succeeds");
    assert!(erasure.key_destroyed);
    assert_eq!(erasure.version, 4);

    // Intake (and auditors) read the reporter as erased; the rest of the view is as it was.
    for token in [&app.intake, &app.auditor] {
        let after = app.get(&path, token).await;
        let after = after.assert_ok().clone();
        assert_eq!(
            after["reporter"],
            json!({"anonymous": false, "erased": true, "name": null, "phone": null, "identity_number": null}),
            "{after}"
        );
        let strip = |v: &Value| {
            let mut v = v.clone();
            let map = v.as_object_mut().unwrap();
            map.remove("reporter");
            map.remove("version");
            v
        };
        assert_eq!(strip(&after), strip(&before));
        assert_eq!(after["version"], 4);
    }
    // The projection agrees once it catches up.
    let projected = app
        .eventually(&path, &app.supervisor, |v| v["version"] == 4)
        .await;
    assert_eq!(projected["status"], "dispatched");

    // The history shows the erasure, naming only the key.
    let history = app
        .get(&format!("/api/v1/history/complaint/{id}"), &app.auditor)
        .await;
    let history = history.assert_ok().clone();
    let last = &history["items"][3];
    assert_eq!(last["event_type"], "ReporterErased");
    assert_eq!(last["data"]["key_id"], erasure.key_id.as_str());
    assert_eq!(last["actor"], "dpo");

    // Raw tables: the events hold no phone, name or identity number, and the key row's
    // material is wiped.
    let rows: Vec<(String,)> = sqlx::query_as(match app.app.db.backend {
        Backend::Postgres => "SELECT payload::text FROM events",
        Backend::Sqlite => "SELECT payload FROM events",
    })
    .fetch_all(&app.app.db.any)
    .await
    .unwrap();
    assert!(!rows.is_empty());
    for (payload,) in &rows {
        for secret in [PHONE, IDENTITY, NAME] {
            assert!(!payload.contains(secret), "{payload}");
        }
    }
    let key_rows: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT key_id, key_material, destroyed_at FROM reporter_keys WHERE key_id = $1",
    )
    .bind(&erasure.key_id)
    .fetch_all(&app.app.db.any)
    .await
    .unwrap();
    assert_eq!(key_rows.len(), 1);
    assert_eq!(key_rows[0].1, None, "the key material is wiped");
    assert!(key_rows[0].2.is_some());
    let all_keys: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT key_id, key_material FROM reporter_keys")
            .fetch_all(&app.app.db.any)
            .await
            .unwrap();
    for (_, material) in &all_keys {
        for secret in [PHONE, IDENTITY, NAME] {
            assert!(!material.as_deref().unwrap_or("").contains(secret));
        }
    }

    // A second erasure is refused (409 invalid_transition), through the CLI's path too.
    let again = erase_reporter(parts, &id, "again", "dpo", chrono::Utc::now()).await;
    assert!(
        matches!(again, Err(ApiError::InvalidTransition(_))),
        "{again:?}"
    );
    let settings = app.backing.settings(chrono::Duration::zero());
    let cli = probity::cli::erase_reporter(&settings, &id, "again", "cli").await;
    let message = format!("{:#}", cli.expect_err("a second erasure is refused"));
    assert!(message.contains("already erased"), "{message}");

    // An anonymous case has nothing to erase.
    let anonymous = app
        .post(
            "/api/v1/complaints",
            &app.intake,
            &json!({
                "category": "report", "channel": "web", "title": "t", "description": "d",
                "reporter": {"anonymous": true}
            }),
        )
        .await;
    let anonymous_id = anonymous.assert_ok()["id"].as_str().unwrap().to_string();
    let refused = erase_reporter(parts, &anonymous_id, "r", "dpo", chrono::Utc::now()).await;
    assert!(
        matches!(refused, Err(ApiError::InvalidTransition(_))),
        "{refused:?}"
    );
    let unknown = erase_reporter(parts, "no-such-case", "r", "dpo", chrono::Utc::now()).await;
    assert!(matches!(unknown, Err(ApiError::NotFound(_))), "{unknown:?}");
}

async fn the_bundle_endpoint_serves_a_verifiable_bundle_and_records_the_export(mode: Mode) {
    let (mut backing, dir) = probity_tests::Backing::new(mode)
        .await
        .expect("test services");
    let keys = tempfile::tempdir().expect("a key dir");
    let (secret, public) = probity_audit::generate_keys(keys.path()).expect("generating keys");
    backing.audit_key = Some(secret);
    let app = probity_tests::start_on(
        backing,
        dir,
        probity_tests::offset_to(probity_tests::pinned_at()),
    )
    .await;
    let key = probity_audit::load_verifying_key(&public).expect("the public key");
    let id = app.dispatched("complaint").await;
    let path = format!("/api/v1/audit/bundles/complaint/{id}");

    // Only auditors export; unknown aggregates are 404.
    app.get(&path, &app.handler_a)
        .await
        .assert_problem(403, "forbidden");
    app.get("/api/v1/audit/bundles/complaint/no-such-case", &app.auditor)
        .await
        .assert_problem(404, "not_found");

    // Wait until a signed checkpoint covers the case's three events (bounded 30 s);
    // before that the endpoint answers 409 audit_not_ready.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let (bytes, headers) = loop {
        let resp = app
            .client
            .get(format!("{}{path}", app.url))
            .bearer_auth(&app.auditor)
            .send()
            .await
            .expect("the server answers");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("a body").to_vec();
        if status == 200 {
            let report = probity_audit::verify_bundle_with_key(&bytes, Some(&key))
                .expect("the served bundle verifies with the server's key");
            if report.events == 3 {
                break (bytes, headers);
            }
        } else {
            assert_eq!(status, 409, "{}", String::from_utf8_lossy(&bytes));
            let problem: Value = serde_json::from_slice(&bytes).expect("a problem");
            assert_eq!(problem["code"], "audit_not_ready", "{problem}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no signed checkpoint covered the case within 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let report = probity_audit::verify_bundle_with_key(&bytes, Some(&key)).expect("verifies");
    assert_eq!(
        (report.aggregate_type.as_str(), report.aggregate_id.as_str()),
        ("complaint", id.as_str())
    );
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert!(header("content-type").starts_with("application/json"));
    assert_eq!(
        header("content-disposition"),
        format!("attachment; filename=\"complaint-{id}.bundle\"")
    );

    // The export is in the access log, with the auditor as actor (the same actor as
    // the auditor's history read).
    app.get(&format!("/api/v1/history/complaint/{id}"), &app.auditor)
        .await
        .assert_ok();
    let log = app
        .get(
            &format!("/api/v1/access-log?case_type=complaint&case_id={id}"),
            &app.auditor,
        )
        .await;
    let log = log.assert_ok().clone();
    let items = log["items"].as_array().expect("items");
    assert_eq!(items[0]["event_type"], "HistoryRead", "{log}");
    let exports: Vec<&Value> = items
        .iter()
        .filter(|i| i["event_type"] == "BundleExported")
        .collect();
    assert!(!exports.is_empty(), "{log}");
    for export in exports {
        assert_eq!(export["actor"], items[0]["actor"], "{log}");
        assert_eq!(export["role"], "auditor");
        assert_eq!(export["purpose"], "export");
        assert_eq!(export["case_type"], "complaint");
        assert_eq!(export["case_id"], id.as_str());
    }

    // `probity audit export` records the same access event, with its `--actor`.
    let out = keys.path().join("case.bundle");
    let cli = probity::cli::Cli {
        common: probity::cli::CommonArgs {
            data_dir: app.backing.data_dir.clone(),
            database_url: app.backing.database_url.clone(),
            nats_url: None,
            nats_prefix: app.backing.prefix.clone(),
            clock_offset: "0".into(),
            config: None,
            audit_key: None,
            audit_sign_interval: 60,
        },
        command: probity::cli::Command::Audit(probity::cli::AuditCommand::Export {
            aggregate: format!("complaint/{id}"),
            out: out.clone(),
            actor: "alice".into(),
            purpose: "case review 17".into(),
        }),
    };
    probity::cli::run(cli).await.expect("the CLI exports");
    let file = std::fs::read(&out).expect("the bundle file");
    probity_audit::verify_bundle_with_key(&file, Some(&key)).expect("the CLI's bundle verifies");
    let log = app
        .get(
            &format!("/api/v1/access-log?case_type=complaint&case_id={id}"),
            &app.auditor,
        )
        .await;
    let log = log.assert_ok().clone();
    let newest = &log["items"][0];
    assert_eq!(newest["event_type"], "BundleExported", "{log}");
    assert_eq!(newest["actor"], "alice");
    assert_eq!(newest["role"], "auditor");
    assert_eq!(newest["purpose"], "case review 17");
    app.app.stop().await;
}

async fn as_of_shows_the_complaint_as_it_stood_then(mode: Mode) {
    let app = spawn_app(mode).await;
    let id = app.file("complaint").await;
    let history = app
        .get(&format!("/api/v1/history/complaint/{id}"), &app.auditor)
        .await;
    let filed_at = history.assert_ok()["items"][0]["recorded_at"]
        .as_str()
        .expect("recorded_at")
        .to_string();
    app.verb(&id, "accept", &app.intake, json!({})).await;
    let filed_at = chrono::DateTime::parse_from_rfc3339(&filed_at).expect("RFC 3339");
    let at = |t: chrono::DateTime<chrono::FixedOffset>| {
        t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            .replace('+', "%2B")
    };

    let now = app
        .get(&format!("/api/v1/complaints/{id}"), &app.supervisor)
        .await;
    assert_eq!(now.assert_ok()["status"], "accepted");
    let then = app
        .get(
            &format!("/api/v1/complaints/{id}?as_of={}", at(filed_at)),
            &app.supervisor,
        )
        .await;
    let then = then.assert_ok().clone();
    assert_eq!(then["status"], "received", "{then}");
    assert_eq!(then["id"], id.as_str());
    assert!(then.get("reporter").is_none());

    // An auditor gets the reporter block with as_of too, and the read is recorded.
    let audited = app
        .get(
            &format!("/api/v1/complaints/{id}?as_of={}", at(filed_at)),
            &app.auditor,
        )
        .await;
    let audited = audited.assert_ok().clone();
    assert_eq!(audited["status"], "received");
    assert!(audited.get("reporter").is_some(), "{audited}");

    // Before filing, the case did not exist.
    let before = filed_at - chrono::Duration::seconds(1);
    app.get(
        &format!("/api/v1/complaints/{id}?as_of={}", at(before)),
        &app.supervisor,
    )
    .await
    .assert_problem(404, "not_found");

    // A malformed instant is a validation failure.
    app.get(
        &format!("/api/v1/complaints/{id}?as_of=yesterday"),
        &app.supervisor,
    )
    .await
    .assert_problem(422, "validation_failed");
}
