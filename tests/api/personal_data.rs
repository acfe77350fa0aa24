//! Reporter protection (信访工作条例 art. 30): the reporter's identity is shown to intake and
//! auditors only, each read is recorded, and it is never in the clear in the store, on the
//! bus, in a list, in a history or in a handler's view.

use futures::StreamExt;
use probity_tests::{spawn_app, Mode};
use serde_json::json;

crate::both_modes!(the_reporter_is_shown_only_to_intake_and_auditors_and_each_read_is_recorded,);

const PHONE: &str = "13800138000";
const IDENTITY: &str = "11010519491231002X";
const NAME: &str = "张三";

async fn the_reporter_is_shown_only_to_intake_and_auditors_and_each_read_is_recorded(mode: Mode) {
    let app = spawn_app(mode).await;
    // A report about UNIT_B, handled by UNIT_A (never by the unit it names).
    let id = app.file_about("report", probity_tests::UNIT_B).await;
    app.verb(&id, "accept", &app.intake, json!({})).await;
    app.verb(
        &id,
        "dispatch",
        &app.intake,
        json!({ "unit": probity_tests::UNIT_A }),
    )
    .await;
    app.verb(&id, "sign", &app.handler_a, json!({})).await;
    let path = format!("/api/v1/complaints/{id}");
    app.eventually(&path, &app.supervisor, |v| v["version"] == 4)
        .await;

    // Intake and auditors see the reporter.
    for token in [&app.intake, &app.auditor] {
        let v = app.get(&path, token).await;
        let body = v.assert_ok();
        assert_eq!(body["reporter"]["phone"], PHONE, "{body}");
        assert_eq!(body["reporter"]["name"], NAME);
        assert_eq!(body["reporter"]["identity_number"], IDENTITY);
    }
    // The handler and the supervisor do not; nor does any list or history.
    for token in [&app.handler_a, &app.supervisor] {
        let v = app.get(&path, token).await;
        let text = v.assert_ok().to_string();
        assert!(v.body.get("reporter").is_none(), "{text}");
        assert_no_personal_data(&text);
    }
    for token in [&app.intake, &app.handler_a, &app.supervisor, &app.auditor] {
        let r = app.get("/api/v1/complaints", token).await;
        assert_no_personal_data(&r.assert_ok().to_string());
    }
    let r = app.get(&format!("{path}/history"), &app.auditor).await;
    assert_no_personal_data(&r.assert_ok().to_string());

    // Each read of the identity is an event of its own (the two GETs above, and the
    // intake's own view returned on filing and on the verbs it ran).
    let log = probity_store::EventLog::new(app.app.db.clone());
    let reads = log
        .read_aggregate("access_log", &format!("complaint-{id}"), None)
        .await
        .expect("reading the access log");
    // The history read above is recorded there too, as a `HistoryRead`.
    let (reads, history_reads): (Vec<_>, Vec<_>) = reads
        .into_iter()
        .partition(|e| e.event_type == "PersonalDataRead");
    assert!(reads.len() >= 2, "{} reads recorded", reads.len());
    assert_eq!(history_reads.len(), 1);
    assert!(history_reads.iter().all(|e| e.event_type == "HistoryRead"));
    let actors: Vec<String> = reads.iter().map(|e| e.payload.to_string()).collect();
    assert!(actors.iter().any(|a| a.contains("auditor")), "{actors:?}");

    // The raw event table holds ciphertext only.
    let rows: Vec<(String,)> = sqlx::query_as(match app.app.db.backend {
        probity_store::Backend::Postgres => "SELECT payload::text FROM events",
        probity_store::Backend::Sqlite => "SELECT payload FROM events",
    })
    .fetch_all(&app.app.db.any)
    .await
    .expect("reading the raw events");
    assert!(!rows.is_empty());
    for (payload,) in &rows {
        assert_no_personal_data(payload);
    }

    // The bus carries no personal data, not even ciphertext.
    if mode == Mode::PostgresNats {
        let client = async_nats::connect(app.backing.nats_url.clone().unwrap())
            .await
            .unwrap();
        let js = async_nats::jetstream::new(client);
        let subject = format!("{}.events.>", app.backing.prefix);
        let stream = js
            .stream_by_subject(subject.clone())
            .await
            .expect("the event stream exists");
        let mut stream = js.get_stream(stream).await.expect("the stream");
        let consumer = stream
            .create_consumer(async_nats::jetstream::consumer::pull::Config {
                filter_subject: subject,
                ..Default::default()
            })
            .await
            .expect("an ephemeral consumer");
        let expected = rows.len();
        let mut messages = consumer.messages().await.expect("reading the stream");
        let mut seen = 0;
        while seen < expected {
            let msg = tokio::time::timeout(std::time::Duration::from_secs(10), messages.next())
                .await
                .expect("every stored event is on the bus within 10 s")
                .expect("a message")
                .expect("a good message");
            let text = String::from_utf8_lossy(&msg.payload).to_string();
            assert_no_personal_data(&text);
            assert!(!text.contains("ciphertext"), "{text}");
            let _ = stream.info().await;
            msg.ack().await.ok();
            seen += 1;
        }
    }
    app.app.stop().await;
}

#[track_caller]
fn assert_no_personal_data(text: &str) {
    for secret in [PHONE, IDENTITY, NAME] {
        assert!(
            !text.contains(secret),
            "personal data {secret:?} leaked: {text}"
        );
    }
}
