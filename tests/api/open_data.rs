//! Open data for third-party evaluators (issue 11 item 3): the evaluator pulls the public
//! records in bulk as NDJSON and CSV, then only what changed by the cursor it was given
//! (a withdrawal as a `delete`), never anything personal; every pull is in the access
//! log; other roles are refused. The published commitments (township public commitments
//! and investment promises) are pulled the same way. On Postgres + NATS and embedded.

use std::collections::BTreeMap;

use chrono::Months;
use probity_http::Role;
use probity_tests::{spawn_app, start_on, Mode, TestApp, UNIT_A, UNIT_B};
use serde_json::{json, Value};

crate::both_modes!(
    an_evaluator_pulls_the_public_records_then_only_what_changed_and_nothing_personal,
    only_an_evaluator_pulls_open_data_and_a_forged_cursor_is_refused,
    third_party_information_is_published_only_once_the_credit_office_confirms_it,
    a_record_past_its_window_leaves_the_feed_by_the_calendar_alone,
    an_evaluator_pulls_the_published_commitments_then_only_what_changed,
    the_proposals_waiting_for_the_credit_office_come_in_full_pages,
);

const PATH: &str = "/api/v1/open-data/records";

/// Personal data the scenario puts on file, none of which may ever be in a pull.
pub(crate) const PERSONAL: [&str; 5] = [
    "张三",
    "13800138000",
    "11010519491231002X",
    "李四",
    "110105194912310046",
];

pub(crate) async fn evaluator(app: &TestApp) -> String {
    probity_http::create_token(&app.app.db, Role::Evaluator, None, Some("evaluator".into()))
        .await
        .expect("creating an evaluator token")
}

/// A pull: status, headers and the raw body.
pub(crate) struct Pull {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) cursor: String,
    pub(crate) link: String,
    pub(crate) text: String,
}

async fn pull(app: &TestApp, token: &str, since: Option<&str>, accept: &str) -> Pull {
    pull_from(app, PATH, token, since, accept).await
}

pub(crate) async fn pull_from(
    app: &TestApp,
    path: &str,
    token: &str,
    since: Option<&str>,
    accept: &str,
) -> Pull {
    let mut req = app
        .client
        .get(format!("{}{path}", app.url))
        .bearer_auth(token)
        .header("accept", accept);
    if let Some(since) = since {
        req = req.query(&[("since", since)]);
    }
    let resp = req.send().await.expect("the server answers");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (status, content_type) = (resp.status().as_u16(), header("content-type"));
    let (cursor, link) = (header("probity-cursor"), header("link"));
    let text = resp.text().await.expect("the whole body");
    for personal in PERSONAL {
        assert!(!text.contains(personal), "{personal} in a pull: {text}");
    }
    Pull {
        status,
        content_type,
        cursor,
        link,
        text,
    }
}

/// The NDJSON lines of a pull, in order, each parsed with serde_json.
pub(crate) fn ndjson_lines(p: &Pull) -> Vec<Value> {
    assert_eq!(p.status, 200, "{}", p.text);
    assert_eq!(p.content_type, "application/x-ndjson");
    p.text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// The NDJSON lines of a pull by id.
fn ndjson(p: &Pull) -> BTreeMap<String, Value> {
    ndjson_lines(p)
        .into_iter()
        .map(|v| (v["id"].as_str().expect("an id").to_string(), v))
        .collect()
}

/// The CSV rows of a pull (read with the csv crate), its header row `columns`, each a map
/// of column to value.
pub(crate) fn csv_table(p: &Pull, columns: &[&str]) -> Vec<BTreeMap<String, String>> {
    assert_eq!(p.status, 200, "{}", p.text);
    assert!(p.content_type.starts_with("text/csv"), "{}", p.content_type);
    let mut reader = csv::Reader::from_reader(p.text.as_bytes());
    let headers = reader.headers().expect("a header row").clone();
    assert_eq!(headers.iter().collect::<Vec<_>>(), columns);
    reader
        .records()
        .map(|row| {
            let row = row.expect("a well-formed row");
            headers
                .iter()
                .zip(row.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The CSV rows of a records pull by id.
fn csv_rows(p: &Pull) -> BTreeMap<String, BTreeMap<String, String>> {
    csv_table(
        p,
        &[
            "op",
            "id",
            "subject_code",
            "subject_name",
            "sector",
            "severity",
            "source",
            "source_ref",
            "decision_date",
            "summary",
            "published_until",
            "under_objection",
        ],
    )
    .into_iter()
    .map(|fields| (fields["id"].clone(), fields))
    .collect()
}

async fn register(app: &TestApp) {
    for body in [
        json!({"credit_code": UNIT_A, "name": "九江市人民政府", "kind": "government"}),
        json!({"credit_code": UNIT_B, "name": "九江市某局", "kind": "department", "parent_code": UNIT_A}),
    ] {
        let r = app.post("/api/v1/subjects", &app.admin, &body).await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    }
}

/// Records a finding against UNIT_B (or a civil servant) and returns its id.
async fn record(app: &TestApp, source_ref: &str, civil_servant: Option<&str>) -> String {
    let decided = app.today().checked_sub_months(Months::new(1)).unwrap();
    let mut body = json!({
        "source": "administrative_penalty",
        "source_ref": source_ref,
        "decision_date": decided,
        "severity": "ordinary",
        "sector": "procurement",
        "summary": "政府采购中违规指定品牌",
        "ban_years": 1
    });
    match civil_servant {
        Some(id) => body["civil_servant_id"] = json!(id),
        None => body["subject_code"] = json!(UNIT_B),
    }
    let r = app.post("/api/v1/records", &app.supervisor, &body).await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

fn public_ids(body: &Value) -> Vec<String> {
    let mut ids: Vec<String> = body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| i["id"].as_str().unwrap_or_default().to_string())
        .collect();
    ids.sort();
    ids
}

async fn an_evaluator_pulls_the_public_records_then_only_what_changed_and_nothing_personal(
    mode: Mode,
) {
    let app = spawn_app(mode).await;
    let token = evaluator(&app).await;
    register(&app).await;
    // Personal data on file: a named complaint and a civil servant with a record.
    app.file("complaint").await;
    let servant = app
        .post(
            "/api/v1/civil-servants",
            &app.admin,
            &json!({"identity_number": "110105194912310046", "name": "李四", "unit_code": UNIT_B}),
        )
        .await;
    assert_eq!(servant.status.as_u16(), 201, "{}", servant.body);
    let servants_record = record(&app, "九监罚〔2026〕0", servant.body["id"].as_str()).await;
    let first = record(&app, "九监罚〔2026〕1", None).await;
    let second = record(&app, "九监罚〔2026〕2", None).await;
    let mut both = vec![first.clone(), second.clone()];
    both.sort();
    app.eventually("/api/v1/public/records", "", |b| public_ids(b) == both)
        .await;

    // The first pull: every record shown, as the public disclosure shows it.
    let full = pull(&app, &token, None, "application/x-ndjson").await;
    let lines = ndjson(&full);
    assert_eq!(
        lines.keys().cloned().collect::<Vec<_>>(),
        both,
        "{}",
        full.text
    );
    let line = &lines[&first];
    assert_eq!(line["op"], "upsert");
    assert_eq!(line["subject_code"], UNIT_B);
    assert_eq!(line["subject_name"], "九江市某局");
    assert_eq!(line["source_ref"], "九监罚〔2026〕1");
    assert_eq!(line["under_objection"], false);
    assert!(!full.text.contains(&servants_record), "{}", full.text);
    assert!(!full.cursor.is_empty());
    assert_eq!(
        full.link,
        format!("<{PATH}?since={}>; rel=\"next\"", full.cursor)
    );
    // Without an Accept, NDJSON too; the same pull as CSV has the same records.
    let again = pull(&app, &token, None, "*/*").await;
    assert_eq!(ndjson(&again).len(), 2);
    let as_csv = csv_rows(&pull(&app, &token, None, "text/csv").await);
    assert_eq!(as_csv.keys().cloned().collect::<Vec<_>>(), both);
    assert_eq!(as_csv[&second]["op"], "upsert");
    assert_eq!(as_csv[&second]["summary"], "政府采购中违规指定品牌");
    assert_eq!(as_csv[&second]["under_objection"], "false");

    // Nothing changed: the next pull is empty, and hands out a cursor again.
    let quiet = pull(&app, &token, Some(&full.cursor), "application/x-ndjson").await;
    assert!(ndjson(&quiet).is_empty(), "{}", quiet.text);
    assert!(!quiet.cursor.is_empty());

    // One record withdrawn, one new: the nightly pull gets exactly these two.
    let w = app
        .post(
            &format!("/api/v1/records/{first}/withdraw"),
            &app.supervisor,
            &json!({"reason": "处罚决定已被复议撤销"}),
        )
        .await;
    assert_eq!(w.assert_ok()["status"], "withdrawn");
    let third = record(&app, "九监罚〔2026〕3", None).await;
    let mut now_shown = vec![second.clone(), third.clone()];
    now_shown.sort();
    app.eventually("/api/v1/public/records", "", |b| public_ids(b) == now_shown)
        .await;
    let changes = csv_rows(&pull(&app, &token, Some(&quiet.cursor), "text/csv").await);
    let mut changed = vec![first.clone(), third.clone()];
    changed.sort();
    assert_eq!(changes.keys().cloned().collect::<Vec<_>>(), changed);
    assert_eq!(changes[&first]["op"], "delete");
    assert_eq!(changes[&first]["subject_code"], "");
    assert_eq!(changes[&third]["op"], "upsert");
    assert_eq!(changes[&third]["source_ref"], "九监罚〔2026〕3");
    // The same changes as NDJSON from the same cursor.
    let same = ndjson(&pull(&app, &token, Some(&quiet.cursor), "application/x-ndjson").await);
    assert_eq!(same[&first], json!({"op": "delete", "id": first}));
    assert_eq!(same[&third]["op"], "upsert");
    assert_eq!(same.len(), 2);

    // Every pull is in the access log, with the evaluator's role.
    let log = app
        .eventually(
            "/api/v1/access-log?case_type=open_data",
            &app.auditor,
            |b| b["items"].as_array().map_or(0, Vec::len) >= 6,
        )
        .await;
    for entry in log["items"].as_array().unwrap() {
        assert_eq!(entry["event_type"], "OpenDataRead", "{entry}");
        assert_eq!(entry["case_id"], "records", "{entry}");
        assert_eq!(entry["role"], "evaluator", "{entry}");
        assert_eq!(entry["purpose"], "open_data", "{entry}");
    }
    app.app.stop().await;
}

async fn only_an_evaluator_pulls_open_data_and_a_forged_cursor_is_refused(mode: Mode) {
    let app = spawn_app(mode).await;
    let token = evaluator(&app).await;
    for other in [
        &app.admin,
        &app.intake,
        &app.supervisor,
        &app.auditor,
        &app.handler_a,
    ] {
        app.get(PATH, other).await.assert_problem(403, "forbidden");
    }
    app.get(PATH, "")
        .await
        .assert_problem(401, "unauthenticated");
    app.get(&format!("{PATH}?since=not-a-cursor"), &token)
        .await
        .assert_problem(422, "validation_failed");
    // An evaluator reads nothing else.
    app.get("/api/v1/records", &token)
        .await
        .assert_problem(403, "forbidden");
    app.get("/api/v1/access-log", &token)
        .await
        .assert_problem(403, "forbidden");
    // An empty data set is an empty body (CSV: its header row alone).
    let empty = pull(&app, &token, None, "text/csv").await;
    assert!(csv_rows(&empty).is_empty(), "{}", empty.text);
    app.app.stop().await;
}

fn proposal_body(provider_ref: &str) -> Value {
    json!({
        "subject_code": UNIT_B,
        "provider": "某信用服务机构",
        "provider_ref": provider_ref,
        "decision_date": "2026-02-02",
        "severity": "ordinary",
        "sector": "general",
        "summary": "合同履约纠纷经法院判决未履行"
    })
}

async fn third_party_information_is_published_only_once_the_credit_office_confirms_it(mode: Mode) {
    let app = spawn_app(mode).await;
    let token = evaluator(&app).await;
    register(&app).await;
    let shown = record(&app, "九监罚〔2026〕9", None).await;
    app.eventually("/api/v1/public/records", "", |b| {
        public_ids(b) == vec![shown.clone()]
    })
    .await;
    let start = pull(&app, &token, None, "application/x-ndjson").await;

    // Two findings of a third-party credit service, submitted by the evaluator.
    let submitted = app
        .post("/api/v1/record-proposals", &token, &proposal_body("CS-1"))
        .await;
    assert_eq!(submitted.status.as_u16(), 201, "{}", submitted.body);
    assert_eq!(submitted.body["status"], "submitted");
    assert_eq!(submitted.body["provider"], "某信用服务机构");
    let confirmed_id = submitted.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        submitted.headers["location"].to_str().unwrap(),
        format!("/api/v1/record-proposals/{confirmed_id}")
    );
    let other = app
        .post(
            "/api/v1/record-proposals",
            &app.admin,
            &proposal_body("CS-2"),
        )
        .await;
    assert_eq!(other.status.as_u16(), 201, "{}", other.body);
    let rejected_id = other.body["id"].as_str().unwrap().to_string();
    app.post("/api/v1/record-proposals", &token, &proposal_body("CS-1"))
        .await
        .assert_problem(409, "already_exists");
    app.post(
        "/api/v1/record-proposals",
        &app.intake,
        &proposal_body("CS-3"),
    )
    .await
    .assert_problem(403, "forbidden");
    let mut unregistered = proposal_body("CS-4");
    unregistered["subject_code"] = json!("91330100716105852F");
    app.post("/api/v1/record-proposals", &token, &unregistered)
        .await
        .assert_problem(422, "validation_failed");

    // The supervisors list them (from the view, once projected); the evaluator sees its
    // own only.
    app.eventually(
        "/api/v1/record-proposals?status=submitted",
        &app.supervisor,
        |b| b["items"].as_array().is_some_and(|items| items.len() == 2),
    )
    .await;
    app.get("/api/v1/record-proposals", &token)
        .await
        .assert_problem(403, "forbidden");
    app.get(&format!("/api/v1/record-proposals/{confirmed_id}"), &token)
        .await
        .assert_ok();
    app.get(&format!("/api/v1/record-proposals/{rejected_id}"), &token)
        .await
        .assert_problem(404, "not_found");

    // Unconfirmed: in no public view and no open data.
    let waiting = pull(&app, &token, Some(&start.cursor), "application/x-ndjson").await;
    assert!(ndjson(&waiting).is_empty(), "{}", waiting.text);
    let public = app.get("/api/v1/public/records", "").await;
    assert_eq!(public_ids(&public.body), vec![shown.clone()]);

    // Only the credit office decides.
    app.post(
        &format!("/api/v1/record-proposals/{confirmed_id}/confirm"),
        &token,
        &json!({}),
    )
    .await
    .assert_problem(403, "forbidden");
    let confirmed = app
        .post(
            &format!("/api/v1/record-proposals/{confirmed_id}/confirm"),
            &app.supervisor,
            &json!({}),
        )
        .await;
    assert_eq!(confirmed.assert_ok()["status"], "confirmed");
    let record_id = confirmed.body["record_id"].as_str().unwrap().to_string();
    let record = app
        .get(&format!("/api/v1/records/{record_id}"), &app.supervisor)
        .await;
    assert_eq!(record.assert_ok()["source"], "third_party");
    assert_eq!(record.body["source_ref"], "某信用服务机构:CS-1");
    app.post(
        &format!("/api/v1/record-proposals/{confirmed_id}/reject"),
        &app.supervisor,
        &json!({"reason": "too late"}),
    )
    .await
    .assert_problem(409, "invalid_transition");

    app.post(
        &format!("/api/v1/record-proposals/{rejected_id}/reject"),
        &app.supervisor,
        &json!({"reason": " "}),
    )
    .await
    .assert_problem(422, "validation_failed");
    let rejected = app
        .post(
            &format!("/api/v1/record-proposals/{rejected_id}/reject"),
            &app.supervisor,
            &json!({"reason": "来源无法核实"}),
        )
        .await;
    assert_eq!(rejected.assert_ok()["status"], "rejected");
    assert_eq!(rejected.body["rejection_reason"], "来源无法核实");
    assert!(rejected.body["record_id"].is_null());
    app.post(
        &format!("/api/v1/record-proposals/{rejected_id}/confirm"),
        &app.supervisor,
        &json!({}),
    )
    .await
    .assert_problem(409, "invalid_transition");
    app.post(
        "/api/v1/record-proposals/nope/confirm",
        &app.supervisor,
        &json!({}),
    )
    .await
    .assert_problem(404, "not_found");

    // Confirmed: published, and the nightly pull gets it; the rejected one never.
    let mut both = vec![shown.clone(), record_id.clone()];
    both.sort();
    app.eventually("/api/v1/public/records", "", |b| public_ids(b) == both)
        .await;
    let after = ndjson(&pull(&app, &token, Some(&start.cursor), "application/x-ndjson").await);
    assert_eq!(
        after.keys().cloned().collect::<Vec<_>>(),
        vec![record_id.clone()]
    );
    assert_eq!(after[&record_id]["source"], "third_party");
    let statuses = |b: &Value| items_field(b, "status");
    let decided = app
        .eventually("/api/v1/record-proposals", &app.auditor, |b| {
            statuses(b) == ["rejected", "confirmed"]
        })
        .await;
    assert_eq!(statuses(&decided), ["rejected", "confirmed"]);
    app.app.stop().await;
}

async fn a_record_past_its_window_leaves_the_feed_by_the_calendar_alone(mode: Mode) {
    let app = spawn_app(mode).await;
    let token = evaluator(&app).await;
    register(&app).await;
    // Ordinary: shown for 12 months from its decision a month ago.
    let id = record(&app, "九监罚〔2026〕5", None).await;
    app.eventually("/api/v1/public/records", "", |b| {
        public_ids(b) == vec![id.clone()]
    })
    .await;
    let full = pull(&app, &token, None, "application/x-ndjson").await;
    assert_eq!(ndjson(&full).len(), 1, "{}", full.text);

    // The same store a year on: no event happened, the window closed.
    let (backing, a_year_on) = (
        app.backing.clone(),
        app.clock_offset + chrono::Duration::days(365),
    );
    let TestApp {
        app: running, dir, ..
    } = app;
    running.stop().await;
    let later = start_on(backing, dir, a_year_on).await;
    let gone = ndjson(&pull(&later, &token, Some(&full.cursor), "application/x-ndjson").await);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[&id], json!({"op": "delete", "id": id}));
    let now = pull(&later, &token, None, "text/csv").await;
    assert!(csv_rows(&now).is_empty(), "{}", now.text);
    later.app.stop().await;
}

const COMMITMENTS: &str = "/api/v1/open-data/commitments";

async fn commitment(app: &TestApp, kind: &str, text: &str) -> String {
    let r = app
        .post(
            "/api/v1/commitments",
            &app.supervisor,
            &json!({"subject_code": UNIT_B, "kind": kind, "text": text, "due_date": "2026-12-31"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

async fn an_evaluator_pulls_the_published_commitments_then_only_what_changed(mode: Mode) {
    let app = spawn_app(mode).await;
    let token = evaluator(&app).await;
    register(&app).await;
    let township = commitment(&app, "township_public", "年底前完成农村道路修缮").await;
    let promise = commitment(
        &app,
        "investment_promise",
        "为入驻企业提供标准厂房三年租金减半",
    )
    .await;
    let repair = commitment(&app, "repair", "依法依规开展政府采购").await;
    let mut both = vec![township.clone(), promise.clone()];
    both.sort();
    app.eventually("/api/v1/public/commitments", "", |b| public_ids(b) == both)
        .await;

    // The first pull: the published commitments, never a repair commitment.
    let full = pull_from(&app, COMMITMENTS, &token, None, "application/x-ndjson").await;
    let lines = ndjson(&full);
    assert_eq!(
        lines.keys().cloned().collect::<Vec<_>>(),
        both,
        "{}",
        full.text
    );
    assert!(!full.text.contains(&repair), "{}", full.text);
    let line = &lines[&township];
    assert_eq!(line["op"], "upsert");
    assert_eq!(line["kind"], "township_public");
    assert_eq!(line["subject_code"], UNIT_B);
    assert_eq!(line["subject_name"], "九江市某局");
    assert_eq!(line["fulfilment"], "pending");
    assert_eq!(line["changes"], json!([]));
    assert_eq!(
        full.link,
        format!("<{COMMITMENTS}?since={}>; rel=\"next\"", full.cursor)
    );
    let as_csv = pull_from(&app, COMMITMENTS, &token, None, "text/csv").await;
    assert_eq!(as_csv.status, 200, "{}", as_csv.text);
    assert!(as_csv.content_type.starts_with("text/csv"));
    let mut reader = csv::Reader::from_reader(as_csv.text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "op",
            "id",
            "subject_code",
            "subject_name",
            "kind",
            "text",
            "due_date",
            "fulfilment",
            "made_at",
            "assessed_at",
            "changes"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    let row = rows.iter().find(|r| r[1] == *promise).expect("the promise");
    assert_eq!(&row[4], "investment_promise");
    assert_eq!(&row[5], "为入驻企业提供标准厂房三年租金减半");
    assert_eq!(&row[6], "2026-12-31");
    assert_eq!(&row[7], "pending");
    assert_eq!(&row[10], "[]");

    // Nothing changed: an empty pull.
    let quiet = pull_from(
        &app,
        COMMITMENTS,
        &token,
        Some(&full.cursor),
        "application/x-ndjson",
    )
    .await;
    assert!(ndjson(&quiet).is_empty(), "{}", quiet.text);

    // The township commitment is assessed breached, the repair one too: the next pull
    // has the township commitment alone, with its fulfilment.
    for id in [&township, &repair] {
        app.post(
            &format!("/api/v1/commitments/{id}/assess"),
            &app.supervisor,
            &json!({"level": "breached", "note": "道路修缮未按期完成"}),
        )
        .await
        .assert_ok();
    }
    app.eventually("/api/v1/public/commitments?kind=township_public", "", |b| {
        b["items"][0]["fulfilment"] == "breached"
    })
    .await;
    let changed = ndjson(
        &pull_from(
            &app,
            COMMITMENTS,
            &token,
            Some(&quiet.cursor),
            "application/x-ndjson",
        )
        .await,
    );
    assert_eq!(
        changed.keys().cloned().collect::<Vec<_>>(),
        vec![township.clone()]
    );
    assert_eq!(changed[&township]["fulfilment"], "breached");
    assert!(changed[&township]["assessed_at"].is_string());

    // Only an evaluator pulls; a forged cursor is refused; every pull is logged.
    app.get(COMMITMENTS, &app.supervisor)
        .await
        .assert_problem(403, "forbidden");
    app.get(&format!("{COMMITMENTS}?since=forged"), &token)
        .await
        .assert_problem(422, "validation_failed");
    let log = app
        .eventually(
            "/api/v1/access-log?case_type=open_data",
            &app.auditor,
            |b| b["items"].as_array().map_or(0, Vec::len) >= 4,
        )
        .await;
    for entry in log["items"].as_array().unwrap() {
        assert_eq!(entry["case_id"], "commitments", "{entry}");
        assert_eq!(entry["role"], "evaluator", "{entry}");
    }
    app.app.stop().await;
}

/// One text field of every item of a list, in order.
fn items_field(list: &Value, field: &str) -> Vec<String> {
    list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| item[field].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn the_proposals_waiting_for_the_credit_office_come_in_full_pages(mode: Mode) {
    let app = spawn_app(mode).await;
    let token = evaluator(&app).await;
    register(&app).await;
    // Three findings, then the newest decided: two still wait, the oldest two.
    let mut ids = Vec::new();
    for reference in ["CS-P1", "CS-P2", "CS-P3"] {
        let r = app
            .post(
                "/api/v1/record-proposals",
                &token,
                &proposal_body(reference),
            )
            .await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    let rejected = app
        .post(
            &format!("/api/v1/record-proposals/{}/reject", ids[2]),
            &app.supervisor,
            &json!({"reason": "来源无法核实"}),
        )
        .await;
    assert_eq!(rejected.assert_ok()["status"], "rejected");
    let listed = |b: &Value| items_field(b, "id");
    app.eventually(
        "/api/v1/record-proposals?status=rejected",
        &app.supervisor,
        |b| listed(b) == [ids[2].clone()],
    )
    .await;

    // One at a time, newest submission first: each page holds a waiting proposal (the
    // decision, the newest event of all, takes no room on the first page).
    let first = app
        .get(
            "/api/v1/record-proposals?status=submitted&limit=1",
            &app.supervisor,
        )
        .await;
    assert_eq!(
        listed(first.assert_ok()),
        [ids[1].clone()],
        "{}",
        first.body
    );
    let cursor = first.body["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let second = app
        .get(
            &format!("/api/v1/record-proposals?status=submitted&limit=1&cursor={cursor}"),
            &app.supervisor,
        )
        .await;
    assert_eq!(
        listed(second.assert_ok()),
        [ids[0].clone()],
        "{}",
        second.body
    );
    assert!(second.body["next_cursor"].is_null(), "{}", second.body);
    // Unfiltered: all three, newest first.
    let all = app.get("/api/v1/record-proposals", &app.auditor).await;
    assert_eq!(
        listed(all.assert_ok()),
        [ids[2].clone(), ids[1].clone(), ids[0].clone()],
        "{}",
        all.body
    );

    // A cursor this list never returned is refused, naming the field.
    for bad in ["12345", "not a cursor"] {
        let r = app
            .get(
                &format!(
                    "/api/v1/record-proposals?cursor={}",
                    bad.replace(' ', "%20")
                ),
                &app.supervisor,
            )
            .await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], "cursor", "{}", r.body);
    }
    app.app.stop().await;
}
