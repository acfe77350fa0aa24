//! Two `probity serve` processes on one Postgres and one NATS: every view stays correct,
//! no event applied twice, none out of order.

use probity_tests::{spawn_app, start_on, Mode, UNIT_A};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_store_and_bus_keep_every_view_correct() {
    let a = spawn_app(Mode::PostgresNats).await;
    let b = start_on(a.backing.clone(), None, a.clock_offset).await;

    // Ten cases, their verbs alternating between the two servers, run concurrently.
    let mut cases = Vec::new();
    for i in 0..10 {
        let (first, second) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        cases.push(async move {
            let id = first.file("complaint").await;
            second.verb(&id, "accept", &second.intake, json!({})).await;
            first
                .verb(&id, "dispatch", &first.intake, json!({ "unit": UNIT_A }))
                .await;
            second.verb(&id, "sign", &second.handler_a, json!({})).await;
            first
                .verb(&id, "reply", &first.handler_a, json!({ "content": "done" }))
                .await;
            id
        });
    }
    let ids = futures::future::join_all(cases).await;
    for id in &ids {
        for server in [&a, &b] {
            let v = server
                .get(&format!("/api/v1/complaints/{id}"), &server.supervisor)
                .await;
            assert_eq!(v.assert_ok()["version"], 5, "{}", v.body);
        }
    }
    // Lists are served from the projection alone: wait until it holds every reply.
    for server in [&a, &b] {
        server
            .eventually(
                "/api/v1/complaints?status=replied&limit=500",
                &server.supervisor,
                |p| p["items"].as_array().is_some_and(|i| i.len() == ids.len()),
            )
            .await;
    }
    let db = a.app.db.clone();
    b.app.stop().await;
    a.app.stop().await;

    // What the two servers projected together equals a fresh replay of the log.
    let before = probity_views::dump(&db).await.expect("dumping the views");
    let log = probity_store::EventLog::new(db.clone());
    probity_views::rebuild(&log, &db, &|_, _| {})
        .await
        .expect("rebuilding");
    let after = probity_views::dump(&db).await.expect("dumping the views");
    assert_eq!(before, after);
}
