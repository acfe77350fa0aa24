//! The pages in a real browser: headless Chromium driven over WebDriver (chromedriver on
//! a free loopback port, the `fantoccini` client), against the real server on Postgres +
//! NATS and on the embedded store (the same scenario; one browser at a time).
//!
//! A clerk signs in and files a complaint on the intake page (submitting the same form
//! again, after going back, files nothing new), accepts and dispatches it; the unit's
//! handler signs it; thirty days later the supervisor finds it overdue on the board and
//! supervises it, the handler replies, and an auditor reads its timeline (the server
//! signs its chain: the case verifies and its bundle is offered); the public
//! finds a record by credit code, opens the department's page, its sector list and the
//! assessment ranking. Every page visited is written as a PNG to
//! `CARGO_TARGET_TMPDIR/screenshots/<mode>/` (the current ones are kept in
//! `docs/screenshots/`), and passes the accessibility checks: those read from the HTML
//! (`tests/web/a11y.rs`), the contrast of every text's computed colour on its computed
//! background (WCAG AA: 4.5:1, 3:1 for large text), and the keyboard: Tab reaches every
//! link, button and field of the page, each showing a visible focus outline.
//!
//! Chromium and chromedriver are the Debian packages (`.ci/run` installs them). They run
//! without libfaketime (`LD_PRELOAD`/`FAKETIME` removed from chromedriver's environment):
//! a browser whose clock is moved refuses nothing here but starts slowly, and the
//! server's clock, which the scenario depends on, is pinned anyway.

#[path = "../web/a11y.rs"]
mod a11y;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use probity_tests::{register_and_record, start_on, Mode, TestApp, UNIT_A, UNIT_B};
use serde_json::json;

/// chromedriver on a free loopback port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    /// Stops chromedriver and the Chromium it started: they share a process group of
    /// their own, killed whole, so a failing test (whose session is never closed)
    /// leaves no browser behind.
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", group.as_str()])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

async fn driver() -> (Driver, Client) {
    let port = free_port();
    let child = Command::new("chromedriver")
        // Its own process group (Chromium inherits it): see Driver's Drop.
        .process_group(0)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .env_remove("LD_PRELOAD")
        .env_remove("FAKETIME")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver must be installed (Debian: chromium chromium-driver)");
    let profile = tempfile::tempdir().expect("a browser profile dir");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _profile: profile,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let args = vec![
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--window-size=1280,900".into(),
        format!("--user-data-dir={}", driver._profile.path().display()),
    ];
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "args": args, "binary": "/usr/bin/chromium" }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session");
    (driver, client)
}

fn screenshots(mode: Mode) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("screenshots")
        .join(match mode {
            Mode::PostgresNats => "postgres-nats",
            Mode::Embedded => "embedded",
        });
    std::fs::create_dir_all(&dir).expect("the screenshot dir");
    dir
}

/// Texts whose computed colour on their computed background is under WCAG AA.
const CONTRAST: &str = r#"
const lum = (c) => {
  const [r, g, b] = c.match(/[\d.]+/g).slice(0, 3).map(Number).map((v) => {
    v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const background = (e) => {
  for (; e; e = e.parentElement) {
    const c = getComputedStyle(e).backgroundColor, m = c.match(/[\d.]+/g);
    if (m && (m.length < 4 || Number(m[3]) > 0)) return c;
  }
  return 'rgb(255, 255, 255)';
};
const low = [];
for (const e of document.querySelectorAll('body *')) {
  if (![...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
  const s = getComputedStyle(e);
  if (s.visibility === 'hidden' || s.display === 'none') continue;
  const fg = e.closest('svg') ? s.fill : s.color;
  const [a, b] = [lum(fg), lum(background(e))];
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  const size = parseFloat(s.fontSize), bold = Number(s.fontWeight) >= 700;
  const large = size >= 24 || (size >= 18.66 && bold);
  if (ratio < (large ? 3 : 4.5)) low.push(`${e.tagName} ${ratio.toFixed(2)}: ${e.textContent.trim().slice(0, 40)}`);
}
return low;
"#;

/// Numbers every element the keyboard should reach and puts the focus on the first;
/// returns how many.
const FOCUSABLE: &str = r#"
const all = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea')]
  .filter((e) => !e.disabled && e.getClientRects().length > 0);
all.forEach((e, i) => e.setAttribute('data-a11y', String(i)));
if (all.length > 0) all[0].focus();
return all.length;
"#;

/// The element the keyboard is on, and whether its focus is visible.
const FOCUSED: &str = r#"
const e = document.activeElement;
if (!e || !e.hasAttribute('data-a11y')) return null;
const s = getComputedStyle(e);
return [e.getAttribute('data-a11y'), s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0];
"#;

/// The page's accessibility: the HTML checks, contrast, and Tab through every control.
async fn accessible(c: &Client, name: &str) {
    a11y::assert_accessible(name, &source(c).await);
    let low = c
        .execute(CONTRAST, vec![])
        .await
        .expect("the contrast check");
    assert_eq!(low, json!([]), "{name}: text under WCAG AA contrast");
    // A click on the heading gives the page the browser's focus (after a reload it may
    // not have it, and then no element matches :focus).
    c.find(Locator::Css("main h1"))
        .await
        .expect("the heading")
        .click()
        .await
        .expect("a click on the heading");
    let count = c
        .execute(FOCUSABLE, vec![])
        .await
        .expect("the focusable elements")
        .as_u64()
        .expect("a count");
    let mut reached = std::collections::BTreeSet::new();
    // From the first control, each Tab lands on the next one.
    for _ in 0..count {
        let focused = c.execute(FOCUSED, vec![]).await.expect("the focus");
        if let Some([index, visible]) = focused.as_array().map(|a| [&a[0], &a[1]]) {
            assert_eq!(
                visible,
                &json!(true),
                "{name}: no visible focus on #{index}"
            );
            reached.insert(index.as_str().unwrap_or_default().to_string());
        }
        let tab = KeyActions::new("keyboard".into())
            .then(KeyAction::Down {
                value: Key::Tab.into(),
            })
            .then(KeyAction::Up {
                value: Key::Tab.into(),
            });
        c.perform_actions(tab).await.expect("pressing Tab");
    }
    c.release_actions().await.ok();
    assert_eq!(
        reached.len() as u64,
        count,
        "{name}: Tab reaches {} of {count} controls",
        reached.len()
    );
}

async fn shot(c: &Client, mode: Mode, name: &str) {
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(screenshots(mode).join(format!("{name}.png")), png).expect("writing it");
    accessible(c, name).await;
}

async fn source(c: &Client) -> String {
    c.source().await.expect("the page source")
}

async fn path(c: &Client) -> String {
    c.current_url().await.expect("the URL").path().to_string()
}

async fn type_into(c: &Client, id: &str, text: &str) {
    let e = c
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|_| panic!("no field #{id}"));
    e.clear().await.ok();
    e.send_keys(text).await.expect("typing");
}

/// Clicks a form's submit button and waits for the page that answers it (a new
/// document: the marker set on the old one is gone).
async fn click(c: &Client, css: &str) {
    c.execute("window.__probity_old = true;", vec![])
        .await
        .expect("marking the page");
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("nothing matches {css}"))
        .click()
        .await
        .expect("a click");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let fresh = c
            .execute(
                "return document.readyState === 'complete' && window.__probity_old === undefined;",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        if fresh {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no page answered the click on {css}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Signs in with `token` on `base`; returns the page it lands on.
async fn sign_in(c: &Client, base: &str, token: &str) -> String {
    c.goto(&format!("{base}/sign-in"))
        .await
        .expect("sign-in page");
    type_into(c, "token", token).await;
    click(c, "main form button[type=submit]").await;
    path(c).await
}

async fn sign_out(c: &Client) {
    click(c, "header form button[type=submit]").await;
}

/// The current page once it contains `needle` (reloading it while the projection lags).
async fn until(c: &Client, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page = source(c).await;
        if page.contains(needle) {
            return page;
        }
        assert!(Instant::now() < deadline, "{needle} never appeared: {page}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.refresh().await.expect("reload");
    }
}

/// One browser at a time: two Chromiums on a small machine make both slow.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread")]
async fn people_do_their_daily_work_in_a_real_browser_on_postgres_and_nats() {
    let _turn = ONE_BROWSER.lock().await;
    scenario(Mode::PostgresNats).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn people_do_their_daily_work_in_a_real_browser_embedded() {
    let _turn = ONE_BROWSER.lock().await;
    scenario(Mode::Embedded).await;
}

async fn scenario(mode: Mode) {
    // The server signs its chain (a key per run), so the auditor's timeline verifies.
    let (mut backing, dir) = probity_tests::Backing::new(mode)
        .await
        .expect("the test services (Postgres, NATS) must be available");
    let keys = tempfile::tempdir().expect("a key dir");
    let (secret, _public) = probity_audit::generate_keys(keys.path()).expect("generating keys");
    backing.audit_key = Some(secret);
    let app = start_on(
        backing,
        dir,
        probity_tests::offset_to(probity_tests::pinned_at()),
    )
    .await;
    let (_driver, c) = driver().await;
    let base = app.url.clone();

    // The public finds a record by credit code.
    register_and_record(&app).await;
    c.goto(&format!("{base}/disclosure")).await.unwrap();
    type_into(&c, "q", UNIT_B).await;
    click(&c, "form[role=search] button").await;
    until(&c, "政府采购中违规指定品牌").await;
    shot(&c, mode, "01-public-disclosure").await;
    // The contrast check sees a faint text when there is one.
    c.execute(
        "const p = document.createElement('p'); p.style.color = '#bbbbbb'; \
         p.textContent = 'faint'; document.querySelector('main').append(p);",
        vec![],
    )
    .await
    .expect("adding a faint text");
    let low = c
        .execute(CONTRAST, vec![])
        .await
        .expect("the contrast check");
    assert!(low.to_string().contains("faint"), "{low}");
    // The department's own page, from the search: its disclosure and its standing.
    click(&c, &format!("a[href='/subjects/{UNIT_B}']")).await;
    assert_eq!(path(&c).await, format!("/subjects/{UNIT_B}"));
    let page = source(&c).await;
    assert!(
        page.contains("九财采罚〔2026〕1号") && page.contains("Not eligible"),
        "{page}"
    );
    shot(&c, mode, "10-public-subject").await;
    // Its sector list: banned now, and disclosed, said apart.
    c.goto(&format!("{base}/sector-lists")).await.unwrap();
    click(&c, "a[href='/sector-lists/procurement']").await;
    let page = until(&c, "Banned; lifts on").await;
    assert!(page.contains("公示中 Disclosed"), "{page}");
    shot(&c, mode, "11-public-sector-list").await;
    // The ranking: the chart is drawn (a bar per unit) with its values as text.
    c.goto(&format!("{base}/ranking")).await.unwrap();
    let page = until(&c, "九江市某局").await;
    assert!(page.contains("<svg"), "{page}");
    let bars = c
        .find_all(Locator::Css("svg[role=img] rect"))
        .await
        .expect("the bars");
    assert!(!bars.is_empty(), "no bar drawn");
    let width = bars[0].attr("width").await.unwrap().unwrap_or_default();
    assert!(
        width.parse::<u32>().is_ok_and(|w| w > 0),
        "a bar of width {width}"
    );
    // Drawn, not only in the document: every bar and value has a box on the screen.
    let drawn = c
        .execute(
            "return [...document.querySelectorAll('svg[role=img] rect, svg[role=img] text')]\
             .every((e) => e.getBoundingClientRect().width > 0);",
            vec![],
        )
        .await
        .expect("the chart's boxes");
    assert_eq!(drawn, json!(true), "the chart is not drawn");
    shot(&c, mode, "12-public-ranking").await;

    // The clerk signs in: the session cookie is HttpOnly and SameSite=Strict.
    assert_eq!(sign_in(&c, &base, &app.intake).await, "/intake/new");
    let cookie = c
        .get_named_cookie("probity_session")
        .await
        .expect("a session cookie");
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(
        cookie.same_site().map(|s| s.to_string()).as_deref(),
        Some("Strict")
    );
    // Field errors beside the fields.
    type_into(&c, "description", "窗口拖延办证四十天，多次催办无果。").await;
    click(&c, "main form button[type=submit]").await;
    let page = source(&c).await;
    assert!(page.contains("id=\"title-error\""), "{page}");
    assert!(page.contains("id=\"reporter-error\""));
    shot(&c, mode, "02-intake-field-errors").await;
    type_into(&c, "title", "办证拖延 Permit delayed").await;
    type_into(&c, "subject_code", UNIT_A).await;
    type_into(&c, "name", "王五").await;
    type_into(&c, "phone", "13700137000").await;
    shot(&c, mode, "03-intake-form").await;
    let submission = c
        .find(Locator::Css("input[name=submission]"))
        .await
        .unwrap()
        .attr("value")
        .await
        .unwrap();
    click(&c, "main form button[type=submit]").await;
    let case = path(&c).await;
    assert!(case.starts_with("/cases/"), "{case}");
    let id = case.trim_start_matches("/cases/").to_string();
    shot(&c, mode, "04-case-intake").await;
    // The same form again (back, submit): the same case, nothing filed twice.
    c.back().await.unwrap();
    let again = c
        .find(Locator::Css("input[name=submission]"))
        .await
        .unwrap()
        .attr("value")
        .await
        .unwrap();
    assert_eq!(
        again, submission,
        "the browser kept the form it had submitted"
    );
    click(&c, "main form button[type=submit]").await;
    assert_eq!(
        path(&c).await,
        case,
        "a second submit lands on the first case"
    );
    let listed = app
        .eventually("/api/v1/complaints?limit=500", &app.intake, |b| {
            b["items"].as_array().is_some_and(|i| !i.is_empty())
        })
        .await;
    let count = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["title"] == "办证拖延 Permit delayed")
        .count();
    assert_eq!(count, 1, "the form filed once");
    // Accept and dispatch from the case page.
    click(&c, &format!("form[action='/cases/{id}/accept'] button")).await;
    type_into(&c, "dispatch-unit", UNIT_A).await;
    click(&c, &format!("form[action='/cases/{id}/dispatch'] button")).await;
    assert!(source(&c).await.contains("dispatched"));
    sign_out(&c).await;

    // The unit's handler signs it (and never sees the reporter).
    assert_eq!(sign_in(&c, &base, &app.handler_a).await, "/unit");
    until(&c, "办证拖延").await;
    shot(&c, mode, "05-handler-unit-cases").await;
    c.goto(&format!("{base}{case}")).await.unwrap();
    assert!(!source(&c).await.contains("王五"));
    click(&c, &format!("form[action='/cases/{id}/sign'] button")).await;
    assert!(source(&c).await.contains("in_progress"));
    shot(&c, mode, "06-handler-case").await;
    sign_out(&c).await;

    // Thirty days later: overdue on the board, supervised, replied, audited.
    let TestApp {
        app: running,
        backing,
        dir,
        clock_offset,
        ..
    } = app;
    running.stop().await;
    let later = start_on(backing, dir, clock_offset + chrono::Duration::days(30)).await;
    let base = later.url.clone();
    assert_eq!(sign_in(&c, &base, &later.supervisor).await, "/board");
    let board = until(&c, &id).await;
    let row = board
        .split("<tr")
        .find(|r| r.contains(&id))
        .expect("the case's row");
    assert!(row.contains("class=\"overdue\""), "{row}");
    let color = c
        .find(Locator::Css("tr.overdue td"))
        .await
        .unwrap()
        .css_value("color")
        .await
        .unwrap();
    assert_eq!(color, "rgba(160, 0, 0, 1)", "overdue is red");
    shot(&c, mode, "07-supervisor-board").await;
    c.goto(&format!("{base}{case}")).await.unwrap();
    type_into(&c, "supervise-note", "请三日内答复").await;
    click(&c, &format!("form[action='/cases/{id}/supervise'] button")).await;
    shot(&c, mode, "08-supervisor-case").await;
    sign_out(&c).await;

    assert_eq!(sign_in(&c, &base, &later.handler_a).await, "/unit");
    c.goto(&format!("{base}{case}")).await.unwrap();
    type_into(&c, "reply-content", "已办结，证件已发放。").await;
    click(&c, &format!("form[action='/cases/{id}/reply'] button")).await;
    let page = source(&c).await;
    assert!(page.contains("replied"), "{page}");
    sign_out(&c).await;

    assert_eq!(sign_in(&c, &base, &later.auditor).await, "/");
    c.goto(&format!("{base}{case}/timeline")).await.unwrap();
    // Verified against a signed checkpoint (the signer runs every second), and the
    // bundle offered for download.
    let page = until(&c, "Verified").await;
    assert!(!page.contains("Verification failed"), "{page}");
    c.find(Locator::Css(&format!(
        "a[href='/cases/{id}/bundle'][download]"
    )))
    .await
    .expect("the bundle's download link");
    for event in ["ComplaintFiled", "ComplaintSupervised", "ComplaintReplied"] {
        assert!(page.contains(event), "{event} missing");
    }
    assert!(!page.contains("王五") && !page.contains("13700137000"));
    shot(&c, mode, "09-auditor-timeline").await;

    c.close().await.ok();
    later.app.stop().await;
}
