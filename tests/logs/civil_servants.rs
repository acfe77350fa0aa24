//! Personal data (个人信息保护法 arts. 25, 51): a civil servant's identity number and name
//! are sealed with a key of their own and indexed by a keyed hash; they never appear in a
//! response, a public endpoint, the raw event table, a bus message or a log line, and a
//! civil servant's record is never public. A reporter's phone number, name and identity
//! number (a complaint filed and read in the same run) never reach a log line, the raw
//! events or the bus either.
//!
//! The capturing subscriber is this test binary's global default (a binary of its own:
//! `tests/logs`), so every log line any server of these tests writes, on any thread, is
//! checked. A per-thread default shared its callsite interest cache with the other tests
//! of the suite running at the same time, and sometimes missed the server's lines.

use std::io::Write;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use probity_tests::{spawn_app, Mode, TestApp, UNIT_A, UNIT_B};
use serde_json::json;

const IDENTITY: &str = "11010519491231002X";
const NAME: &str = "王五六";
/// The reporter of `TestApp::file` (tests/src/lib.rs).
const REPORTER_PHONE: &str = "13800138000";
const REPORTER_NAME: &str = "张三";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log lines of this binary, captured by its global subscriber (installed once).
fn capture() -> Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            tracing_subscriber::fmt()
                .with_env_filter(
                    "debug,sqlx=warn,hyper=warn,h2=warn,async_nats=info,reqwest=warn,tower=info",
                )
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .init();
            captured
        })
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_nats_no_civil_servant_data_leaks_to_responses_public_views_the_bus_or_logs() {
    no_leak(Mode::PostgresNats).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_no_civil_servant_data_leaks_to_responses_public_views_the_bus_or_logs() {
    no_leak(Mode::Embedded).await
}

#[track_caller]
fn assert_clean(text: &str) {
    for secret in [IDENTITY, NAME, "110105", REPORTER_PHONE, REPORTER_NAME] {
        assert!(
            !text.contains(secret),
            "personal data {secret:?} leaked: {text}"
        );
    }
}

async fn no_leak(mode: Mode) {
    let captured = capture();

    let app = spawn_app(mode).await;
    for (code, name, kind) in [
        (UNIT_A, "九江市人民政府", "government"),
        (UNIT_B, "九江市某局", "department"),
    ] {
        let mut body = json!({"credit_code": code, "name": name, "kind": kind});
        if kind == "department" {
            body["parent_code"] = json!(UNIT_A);
        }
        app.post("/api/v1/subjects", &app.admin, &body)
            .await
            .assert_ok();
    }
    let r = app
        .post(
            "/api/v1/civil-servants",
            &app.admin,
            &json!({"identity_number": IDENTITY, "name": NAME, "unit_code": UNIT_B}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    assert_clean(&r.body.to_string());
    let person = r.body["id"].as_str().unwrap().to_string();
    // The same person again is found by the keyed hash, not registered twice.
    app.post(
        "/api/v1/civil-servants",
        &app.admin,
        &json!({"identity_number": IDENTITY, "name": NAME, "unit_code": UNIT_B}),
    )
    .await
    .assert_problem(409, "already_exists");

    let rec = app
        .post(
            "/api/v1/records",
            &app.supervisor,
            &json!({
                "civil_servant_id": person, "source": "sanction", "source_ref": "九纪处〔2026〕1号",
                "decision_date": "2026-01-05", "severity": "serious", "sector": "general",
                "summary": "违反工作纪律，给予记大过处分"
            }),
        )
        .await;
    assert_eq!(rec.status.as_u16(), 201, "{}", rec.body);
    assert_eq!(rec.body["publicity"]["published"], false);
    let record = rec.body["id"].as_str().unwrap().to_string();
    // An organisation's record, so the public lists are not trivially empty.
    let org = app
        .post(
            "/api/v1/records",
            &app.supervisor,
            &json!({
                "subject_code": UNIT_B, "source": "audit", "source_ref": "审计〔2026〕8号",
                "decision_date": "2026-02-02", "severity": "ordinary", "sector": "procurement",
                "summary": "采购程序不规范"
            }),
        )
        .await;
    assert_eq!(org.status.as_u16(), 201, "{}", org.body);
    app.eventually(
        &format!("/api/v1/subjects/{UNIT_B}/archive"),
        &app.auditor,
        |b| b["records"].as_array().is_some_and(|r| r.len() == 2),
    )
    .await;

    // A named complaint about the department, its reporter read by intake and an
    // auditor (decrypted, recorded): what the server logs meanwhile is checked below.
    let complaint = app.file("report").await;
    for token in [&app.intake, &app.auditor] {
        let r = app
            .get(&format!("/api/v1/complaints/{complaint}"), token)
            .await;
        assert_eq!(r.assert_ok()["reporter"]["phone"], REPORTER_PHONE);
    }

    // Every read, by every role, and every public endpoint.
    let tokens: Vec<&str> = vec![
        &app.admin,
        &app.supervisor,
        &app.auditor,
        &app.intake,
        &app.handler_b,
    ];
    let mut paths = vec![
        format!("/api/v1/civil-servants/{person}"),
        format!("/api/v1/records/{record}"),
        "/api/v1/records".to_string(),
        format!("/api/v1/subjects/{UNIT_B}/archive"),
        format!("/api/v1/subjects/{UNIT_B}/eligibility"),
        format!("/api/v1/history/civil_servant/{person}"),
        format!("/api/v1/history/record/{record}"),
    ];
    for path in &paths {
        for token in &tokens {
            let r = app.get(path, token).await;
            assert_clean(&r.body.to_string());
        }
    }
    paths.clear();
    for path in [
        "/api/v1/public/records".to_string(),
        format!("/api/v1/public/subjects/{UNIT_B}"),
        "/api/v1/public/sector-lists/procurement".to_string(),
    ] {
        let r = app.get(&path, "").await;
        let text = r.assert_ok().to_string();
        assert_clean(&text);
        assert!(
            !text.contains(&record),
            "a civil servant's record is public: {text}"
        );
        assert!(!text.contains(&person), "{text}");
    }

    // The raw event table holds ciphertext only.
    let rows: Vec<(String,)> = sqlx::query_as(match app.app.db.backend {
        probity_store::Backend::Postgres => "SELECT payload::text FROM events",
        probity_store::Backend::Sqlite => "SELECT payload FROM events",
    })
    .fetch_all(&app.app.db.any)
    .await
    .expect("reading the raw events");
    for (payload,) in &rows {
        assert_clean(payload);
    }
    // And so does the index: a keyed hash, not the number.
    let index: Vec<(String,)> = sqlx::query_as("SELECT identity_hash FROM person_index")
        .fetch_all(&app.app.db.any)
        .await
        .unwrap();
    assert_eq!(index.len(), 1);
    assert_clean(&index[0].0);

    if mode == Mode::PostgresNats {
        bus_is_clean(&app, rows.len()).await;
    }
    let db = app.app.db.clone();
    app.app.stop().await;

    // Erasure: the key is destroyed, the index entry dropped, the records stay.
    let settings = app.backing.settings(chrono::Duration::zero());
    let erased = probity::cli::erase_civil_servant(&settings, &person, "本人申请删除", "test")
        .await
        .expect("erasing");
    assert!(erased.key_destroyed);
    let index: Vec<(String,)> = sqlx::query_as("SELECT identity_hash FROM person_index")
        .fetch_all(&db.any)
        .await
        .unwrap();
    assert!(index.is_empty());
    let again = probity::cli::erase_civil_servant(&settings, &person, "again", "test").await;
    assert!(format!("{:?}", again.unwrap_err()).contains("already erased"));
    let log = probity_store::EventLog::new(db.clone());
    let events = log.read_aggregate("record", &record, None).await.unwrap();
    assert_eq!(events.len(), 1, "the record stays");

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).to_string();
    assert!(
        logs.contains("civil_servant_create"),
        "the capture saw the server's spans"
    );
    assert_clean(&logs);
}

async fn bus_is_clean(app: &TestApp, expected: usize) {
    let client = async_nats::connect(app.backing.nats_url.clone().unwrap())
        .await
        .unwrap();
    let js = async_nats::jetstream::new(client);
    let subject = format!("{}.events.>", app.backing.prefix);
    let stream = js
        .stream_by_subject(subject.clone())
        .await
        .expect("the event stream exists");
    let stream = js.get_stream(stream).await.expect("the stream");
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            filter_subject: subject,
            ..Default::default()
        })
        .await
        .expect("an ephemeral consumer");
    let mut messages = consumer.messages().await.expect("reading the stream");
    for _ in 0..expected {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(10), messages.next())
            .await
            .expect("every stored event is on the bus within 10 s")
            .expect("a message")
            .expect("a good message");
        let text = String::from_utf8_lossy(&msg.payload).to_string();
        assert_clean(&text);
        assert!(!text.contains("ciphertext"), "{text}");
        msg.ack().await.ok();
    }
}
