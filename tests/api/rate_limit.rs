//! The public rate limit (issue 10, item 11): requests without a token are limited per
//! client address; past the burst they are 429 `rate_limited` with `Retry-After`, and
//! taken again after that wait. A `X-Forwarded-For` counts only from a trusted proxy.
//! The public pages take from the same bucket and answer a page with `Retry-After`.

use probity_tests::{start_with, Backing, Mode, TestApp};

crate::both_modes!(
    a_client_without_a_token_gets_its_burst_then_429_with_retry_after,
    forwarded_addresses_count_only_from_a_trusted_proxy,
    the_public_pages_share_the_limit_and_answer_an_html_429_page,
);

/// A server whose public limit is `per_second` with a burst of `burst`, trusting
/// `proxies`.
async fn limited(mode: Mode, per_second: f64, burst: u32, proxies: &[&str]) -> TestApp {
    let (backing, dir) = Backing::new(mode).await.expect("test services");
    let proxies = proxies.iter().map(|p| p.parse().expect("an IP")).collect();
    start_with(
        backing,
        dir,
        probity_tests::offset_to(probity_tests::pinned_at()),
        |s| {
            s.policy.http.public_rate_per_second = per_second;
            s.policy.http.public_burst = burst;
            s.policy.http.trusted_proxies = proxies;
        },
    )
    .await
}

async fn public(app: &TestApp, headers: &[(&str, &str)]) -> probity_tests::Resp {
    app.request(
        reqwest::Method::GET,
        "/api/v1/public/records",
        None,
        None,
        headers,
    )
    .await
}

async fn a_client_without_a_token_gets_its_burst_then_429_with_retry_after(mode: Mode) {
    // One request every five seconds, bursts of five: the test sends far faster (and
    // has five seconds of slack on a loaded machine before a request is taken again).
    let app = limited(mode, 0.2, 5, &[]).await;
    let burst = futures::future::join_all((0..5).map(|_| public(&app, &[]))).await;
    for (i, r) in burst.iter().enumerate() {
        assert!(
            r.status.is_success(),
            "request {i} of the burst: {}",
            r.body
        );
    }
    let refused = public(&app, &[]).await;
    refused.assert_problem(429, "rate_limited");
    let retry_after: u64 = refused.headers["retry-after"]
        .to_str()
        .expect("ASCII")
        .parse()
        .expect("whole seconds");
    assert!(
        (1..=5).contains(&retry_after),
        "one request every five seconds: Retry-After {retry_after}"
    );
    // Any path without a token counts against the same address.
    let r = app
        .request(reqwest::Method::GET, "/healthz", None, None, &[])
        .await;
    assert_eq!(r.status.as_u16(), 429);
    // Staff with a token are not limited; on a public path a token does not help.
    let r = app.get("/api/v1/complaints", &app.supervisor).await;
    assert!(r.status.is_success(), "{}", r.body);
    app.get("/api/v1/public/records", &app.supervisor)
        .await
        .assert_problem(429, "rate_limited");
    // Asked from another address (an untrusted peer's X-Forwarded-For is ignored).
    public(&app, &[("X-Forwarded-For", "198.51.100.7")])
        .await
        .assert_problem(429, "rate_limited");
    // The OpenAPI document says so (read with a token: this address is limited now).
    let spec = app.get("/api/v1/openapi.json", &app.auditor).await;
    let limited = &spec.assert_ok()["paths"]["/api/v1/public/records"]["get"]["responses"]["429"];
    assert!(limited["headers"]["Retry-After"].is_object(), "{limited}");
    // After the wait it says, the client is served again.
    tokio::time::sleep(std::time::Duration::from_millis(retry_after * 1000 + 100)).await;
    let r = public(&app, &[]).await;
    assert!(r.status.is_success(), "after Retry-After: {}", r.body);
    app.app.stop().await;
}

async fn forwarded_addresses_count_only_from_a_trusted_proxy(mode: Mode) {
    // The test client connects from 127.0.0.1, trusted here as a reverse proxy.
    let app = limited(mode, 0.2, 2, &["127.0.0.1"]).await;
    let client = |address: &'static str| [("X-Forwarded-For", address)];
    for _ in 0..2 {
        assert!(public(&app, &client("198.51.100.7"))
            .await
            .status
            .is_success());
    }
    public(&app, &client("198.51.100.7"))
        .await
        .assert_problem(429, "rate_limited");
    // A client forging an address in front of its own is still itself.
    public(&app, &client("203.0.113.50, 198.51.100.7"))
        .await
        .assert_problem(429, "rate_limited");
    // Another client behind the same proxy has its own bucket.
    let r = public(&app, &client("198.51.100.8")).await;
    assert!(r.status.is_success(), "{}", r.body);
    app.app.stop().await;
}

/// A page as a browser gets it: status, `Retry-After` and the HTML.
async fn page(app: &TestApp, path: &str) -> (u16, Option<String>, String, String) {
    let r = app
        .client
        .get(format!("{}{path}", app.url))
        .send()
        .await
        .expect("the server answers");
    let header = |name| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let retry_after = header(reqwest::header::RETRY_AFTER);
    let content_type = header(reqwest::header::CONTENT_TYPE).unwrap_or_default();
    (
        r.status().as_u16(),
        retry_after,
        content_type,
        r.text().await.unwrap_or_default(),
    )
}

async fn the_public_pages_share_the_limit_and_answer_an_html_429_page(mode: Mode) {
    let app = limited(mode, 0.2, 6, &[]).await;
    let pages = [
        "/disclosure",
        "/subjects/91360400MA35K0XX1A",
        "/sector-lists",
        "/ranking",
        "/restrictions",
    ];
    // The burst: five pages (a subject not found is still served, 404) and one API call.
    for path in pages {
        let (status, retry_after, _, body) = page(&app, path).await;
        assert_ne!(status, 429, "{path} within the burst: {body}");
        assert!(retry_after.is_none(), "{path}");
    }
    assert!(public(&app, &[]).await.status.is_success());
    // Past it, every public page is a 429 page in HTML with Retry-After.
    for path in pages.iter().chain(&["/sector-lists/food"]) {
        let (status, retry_after, content_type, body) = page(&app, path).await;
        assert_eq!(status, 429, "{path}: {body}");
        assert!(
            content_type.starts_with("text/html"),
            "{path}: {content_type}"
        );
        assert!(body.contains("rate_limited"), "{path}: {body}");
        let seconds: u64 = retry_after
            .unwrap_or_else(|| panic!("{path} without Retry-After"))
            .parse()
            .expect("whole seconds");
        assert!((1..=5).contains(&seconds), "{path}: Retry-After {seconds}");
    }
    // And the API's public paths are empty for this client too.
    public(&app, &[]).await.assert_problem(429, "rate_limited");
    // Pages that are not public (signing in) are not limited.
    let (status, _, _, body) = page(&app, "/sign-in").await;
    assert_eq!(status, 200, "{body}");
    app.app.stop().await;
}
