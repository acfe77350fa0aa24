//! Every token ends (issue 10, item 10): `probity token create --expires`, `token list`
//! and `token revoke <id>`. An expired or revoked token is 401 `unauthenticated` from
//! the very next request, on every server sharing the store (two servers on one
//! Postgres; the embedded store has one server, and the CLI beside it).

use probity::cli::{token_create, token_list, token_revoke, token_table};
use probity_app::Revocation;
use probity_tests::{spawn_app, start_on, Mode, TestApp};

crate::both_modes!(
    a_revoked_token_is_refused_at_once_by_every_server,
    an_expired_token_is_refused_by_every_server,
    tokens_are_listed_with_their_expiry_and_last_use_but_never_the_secret,
);

/// The app, and on Postgres a second server on the same store and bus.
async fn servers(mode: Mode) -> (TestApp, Option<TestApp>) {
    let a = spawn_app(mode).await;
    let b = match mode {
        Mode::PostgresNats => Some(start_on(a.backing.clone(), None, a.clock_offset).await),
        Mode::Embedded => None,
    };
    (a, b)
}

fn each<'a>(a: &'a TestApp, b: &'a Option<TestApp>) -> Vec<&'a TestApp> {
    std::iter::once(a).chain(b.as_ref()).collect()
}

async fn stop(a: TestApp, b: Option<TestApp>) {
    if let Some(b) = b {
        b.app.stop().await;
    }
    a.app.stop().await;
}

async fn a_revoked_token_is_refused_at_once_by_every_server(mode: Mode) {
    let (a, b) = servers(mode).await;
    let settings = a.backing.settings(a.clock_offset);
    let created = token_create(&settings, "supervisor", None, Some("leaver".into()), None)
        .await
        .expect("token create");
    for server in each(&a, &b) {
        let r = server.get("/api/v1/complaints", &created.token).await;
        assert!(r.status.is_success(), "before revocation: {}", r.body);
    }
    assert_eq!(
        token_revoke(&settings, &created.id).await.expect("revoke"),
        Revocation::Revoked
    );
    // At once: no server serves it from a cache.
    for server in each(&a, &b) {
        server
            .get("/api/v1/complaints", &created.token)
            .await
            .assert_problem(401, "unauthenticated");
    }
    // Revoking twice changes nothing; an unknown id is an error.
    assert!(matches!(
        token_revoke(&settings, &created.id)
            .await
            .expect("revoke again"),
        Revocation::AlreadyRevoked(_)
    ));
    assert!(token_revoke(&settings, "no-such-token").await.is_err());
    // The other tokens are untouched.
    for server in each(&a, &b) {
        let r = server.get("/api/v1/complaints", &server.supervisor).await;
        assert!(r.status.is_success(), "{}", r.body);
    }
    stop(a, b).await;
}

async fn an_expired_token_is_refused_by_every_server(mode: Mode) {
    let (a, b) = servers(mode).await;
    let settings = a.backing.settings(a.clock_offset);
    let created = token_create(&settings, "auditor", None, Some("short".into()), Some("3s"))
        .await
        .expect("token create");
    // Expiry is real time (never the drill offset of the server's clock).
    let lifetime = created.expires_at - chrono::Utc::now();
    assert!(
        lifetime > chrono::Duration::zero() && lifetime <= chrono::Duration::seconds(3),
        "{lifetime}"
    );
    for server in each(&a, &b) {
        let r = server.get("/api/v1/complaints", &created.token).await;
        assert!(r.status.is_success(), "before expiry: {}", r.body);
    }
    let left = (created.expires_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(left + std::time::Duration::from_millis(100)).await;
    for server in each(&a, &b) {
        server
            .get("/api/v1/complaints", &created.token)
            .await
            .assert_problem(401, "unauthenticated");
    }
    assert!(token_create(&settings, "auditor", None, None, Some("0s"))
        .await
        .is_err());
    assert!(token_create(&settings, "auditor", None, None, Some("-1d"))
        .await
        .is_err());
    stop(a, b).await;
}

async fn tokens_are_listed_with_their_expiry_and_last_use_but_never_the_secret(mode: Mode) {
    let app = spawn_app(mode).await;
    let settings = app.backing.settings(app.clock_offset);
    let created = token_create(
        &settings,
        "handler",
        Some(probity_tests::UNIT_A),
        Some("unit A desk".into()),
        None,
    )
    .await
    .expect("token create");
    let listed = token_list(&settings).await.expect("token list");
    let mine = listed
        .iter()
        .find(|t| t.id == created.id)
        .expect("the new token is listed");
    assert_eq!(mine.label.as_deref(), Some("unit A desk"));
    assert_eq!(mine.role, "handler");
    assert_eq!(mine.unit.as_deref(), Some(probity_tests::UNIT_A));
    // The default lifetime: 90 days.
    assert_eq!(
        mine.expires_at - mine.created_at,
        chrono::Duration::days(90)
    );
    assert_eq!(mine.last_used_at, None, "never used yet");
    assert_eq!(mine.state(chrono::Utc::now()), "active");

    // A use is recorded (coarsely, in the background).
    let r = app.get("/api/v1/complaints", &created.token).await;
    assert!(r.status.is_success(), "{}", r.body);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let used = loop {
        let listed = token_list(&settings).await.expect("token list");
        let mine = listed
            .into_iter()
            .find(|t| t.id == created.id)
            .expect("listed");
        if mine.last_used_at.is_some() || std::time::Instant::now() > deadline {
            break mine;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(used.last_used_at.is_some(), "the use was never recorded");

    // What `probity token list` prints names the token but never its secret or hash.
    let table = token_table(
        &token_list(&settings).await.expect("list"),
        chrono::Utc::now(),
    );
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table.contains(&created.id) && table.contains("unit A desk"),
        "{table}"
    );
    let hash = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(created.token.as_bytes()))
    };
    assert!(!table.contains(&created.token), "{table}");
    assert!(!table.contains(&hash), "{table}");
    app.app.stop().await;
}
