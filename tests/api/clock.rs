//! A shifted clock leaves a trace (issue 10, item 12): a server started with a non-zero
//! `PROBITY_CLOCK_OFFSET` says so on `/readyz`, and every event it records carries the
//! offset in its metadata, which the history shows the auditor.

use probity_tests::{spawn_app, start_on, Backing, Mode};

crate::both_modes!(
    a_server_on_a_shifted_clock_says_so_and_marks_every_event_it_records,
    a_server_on_the_real_clock_marks_nothing,
);

async fn a_server_on_a_shifted_clock_says_so_and_marks_every_event_it_records(mode: Mode) {
    // Every server of the suite runs on a pinned clock, i.e. with an offset.
    let app = spawn_app(mode).await;
    let offset = probity_store::clock_offset_label(app.clock_offset);
    let ready = app
        .request(reqwest::Method::GET, "/readyz", None, None, &[])
        .await;
    assert_eq!(ready.assert_ok()["clock_offset"], offset.as_str());
    assert!(
        ready.body["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .any(|w| w
                .as_str()
                .is_some_and(|w| w.contains("PROBITY_CLOCK_OFFSET") && w.contains(&offset))),
        "{}",
        ready.body
    );
    let id = app.dispatched("complaint").await;
    let history = app
        .get(&format!("/api/v1/history/complaint/{id}"), &app.auditor)
        .await;
    let items = history.assert_ok()["items"]
        .as_array()
        .expect("items")
        .clone();
    assert_eq!(
        items.len(),
        3,
        "filed, accepted, dispatched: {}",
        history.body
    );
    for item in &items {
        assert_eq!(item["clock_offset"], offset.as_str(), "{item}");
    }
    app.app.stop().await;
}

async fn a_server_on_the_real_clock_marks_nothing(mode: Mode) {
    let (backing, dir) = Backing::new(mode).await.expect("test services");
    let app = start_on(backing, dir, chrono::Duration::zero()).await;
    let ready = app
        .request(reqwest::Method::GET, "/readyz", None, None, &[])
        .await;
    let body = ready.assert_ok();
    assert!(body.get("clock_offset").is_none(), "{body}");
    assert!(
        !body.to_string().contains("PROBITY_CLOCK_OFFSET"),
        "no clock warning on the real clock: {body}"
    );
    app.app.stop().await;
}
