//! Tamper evidence through the running server: it seals every event into the hash chain
//! and signs the head; the log verifies, a case's bundle verifies offline, and an edit
//! made by SQL afterwards is caught and named.

use std::time::{Duration, Instant};

use probity_tests::{offset_to, pinned_at, start_on, Backing, Mode};
use serde_json::json;

crate::both_modes!(the_server_seals_and_signs_and_tampering_is_named,);

async fn the_server_seals_and_signs_and_tampering_is_named(mode: Mode) {
    let (mut backing, dir) = Backing::new(mode).await.expect("test services");
    let keys = tempfile::tempdir().expect("a key dir");
    let (secret, public) = probity_audit::generate_keys(keys.path()).expect("generating keys");
    backing.audit_key = Some(secret);
    let app = start_on(backing, dir, offset_to(pinned_at())).await;
    let key = probity_audit::load_verifying_key(&public).expect("the public key");
    let id = app.dispatched("complaint").await;
    app.verb(&id, "sign", &app.handler_a, json!({})).await;
    let db = app.app.db.clone();

    // Wait until a signed checkpoint covers the case's four events.
    let deadline = Instant::now() + Duration::from_secs(30);
    let bundle = loop {
        match probity_audit::export_bundle(&db, "complaint", &id).await {
            Ok(bundle) if bundle.events.len() == 4 => break bundle,
            _ if Instant::now() > deadline => {
                panic!("no signed checkpoint covered the case within 30 s")
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    app.app.stop().await;

    let report = probity_audit::verify_log(&db, &key, &|_, _| {})
        .await
        .expect("verifying");
    assert!(report.is_ok(), "{:?}", report.mismatch);
    assert!(report.checkpoint.is_some());

    // The bundle verifies offline with the trusted key; one changed byte does not.
    let bytes = bundle.to_bytes().expect("encoding");
    let r = probity_audit::verify_bundle_with_key(&bytes, Some(&key)).expect("the bundle verifies");
    assert_eq!(r.events, 4);
    for at in [bytes.len() / 3, bytes.len() / 2, bytes.len() - 10] {
        let mut bad = bytes.clone();
        bad[at] = if bad[at] == b'0' { b'1' } else { b'0' };
        assert!(
            probity_audit::verify_bundle_with_key(&bad, Some(&key)).is_err(),
            "byte {at} changed, still verifies"
        );
    }

    // Someone with database access rewrites the acceptance.
    let forged = r#"{"ComplaintAccepted":{"at":"2020-01-01T00:00:00Z"}}"#;
    let sql = match db.backend {
        probity_store::Backend::Postgres => format!(
            "UPDATE events SET payload = '{forged}'::jsonb WHERE aggregate_type = 'complaint' AND aggregate_id = '{id}' AND sequence = 2"
        ),
        probity_store::Backend::Sqlite => format!(
            "UPDATE events SET payload = '{forged}' WHERE aggregate_type = 'complaint' AND aggregate_id = '{id}' AND sequence = 2"
        ),
    };
    let done = sqlx::query(&sql).execute(&db.any).await.expect("tampering");
    assert_eq!(done.rows_affected(), 1);
    let report = probity_audit::verify_log(&db, &key, &|_, _| {})
        .await
        .expect("verifying");
    let mismatch = report.mismatch.expect("the edit is caught");
    let event = mismatch.event.clone().expect("the edited event is named");
    assert_eq!(
        (event.aggregate_id.as_str(), event.sequence),
        (id.as_str(), 2),
        "{mismatch}"
    );
}
