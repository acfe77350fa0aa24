//! The pages over HTTP, as a browser without JavaScript uses them (forms, cookies,
//! redirects), on Postgres + NATS and on the embedded store: sign-in sets the session
//! cookie with its flags; every form is refused without its CSRF value; a clerk files a
//! complaint (field errors beside the fields; a double submit files once); intake
//! dispatches; the handler of the unit signs and replies, another unit's handler cannot
//! see the case; the supervisor's board marks it overdue and the supervisor supervises
//! it; an auditor sees the reporter (the read recorded); the public finds a record by
//! credit code and no public page carries personal data.

mod a11y;

use a11y::assert_accessible;
use probity_tests::{register_and_record, spawn_app, start_on, Mode, TestApp, UNIT_A, UNIT_B};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;

const REPORTER_NAME: &str = "李四";
const REPORTER_PHONE: &str = "13900139000";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("a client")
}

/// The `Set-Cookie` header of `name`, whole.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

/// The value of hidden field `name` in a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name} in {page}"))
        + marker.len();
    page[start..]
        .split('"')
        .next()
        .expect("a value")
        .to_string()
}

/// A signed-in browser: its session cookie and the CSRF value of its forms.
struct Browser {
    url: String,
    client: reqwest::Client,
    cookie: String,
    csrf: String,
}

impl Browser {
    async fn sign_in(url: &str, token: &str) -> Browser {
        let client = client();
        let r = client
            .get(format!("{url}/sign-in"))
            .send()
            .await
            .expect("sign-in page");
        let pre = set_cookie(&r, "probity_sign_in").expect("a sign-in cookie");
        let pre = pre.split(';').next().unwrap().to_string();
        let page = r.text().await.unwrap();
        let csrf = hidden(&page, "csrf");
        let r = client
            .post(format!("{url}/sign-in"))
            .header(COOKIE, &pre)
            .form(&[("csrf", csrf.as_str()), ("token", token)])
            .send()
            .await
            .expect("sign in");
        assert_eq!(r.status().as_u16(), 303, "signing in");
        let session = set_cookie(&r, "probity_session").expect("a session cookie");
        let cookie = session.split(';').next().unwrap().to_string();
        let mut b = Browser {
            url: url.to_string(),
            client,
            cookie,
            csrf: String::new(),
        };
        let (_, home) = b.get("/disclosure").await;
        b.csrf = hidden(&home, "csrf");
        b
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.url))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .expect("a page");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        // Every page a signed-in person reads passes the accessibility checks.
        if text.starts_with("<!DOCTYPE") {
            assert_accessible(path, &text);
        }
        (status, text)
    }

    /// Posts a form (with the CSRF value unless `csrf` is false); status and Location.
    async fn post(&self, path: &str, fields: &[(&str, &str)], csrf: bool) -> (u16, String, String) {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        if csrf {
            all.push(("csrf", self.csrf.as_str()));
        }
        let r = self
            .client
            .post(format!("{}{path}", self.url))
            .header(COOKIE, &self.cookie)
            .form(&all)
            .send()
            .await
            .expect("a form post");
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        (status, location, r.text().await.unwrap())
    }
}

async fn sign_in_sets_a_strict_http_only_cookie(app: &TestApp) {
    let c = client();
    // The sign-in form refuses a post without its double-submit cookie.
    let r = c
        .post(format!("{}/sign-in", app.url))
        .form(&[("csrf", "x"), ("token", app.intake.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(set_cookie(&r, "probity_session").is_none());
    // A wrong token is 401 on the form itself.
    let r = c.get(format!("{}/sign-in", app.url)).send().await.unwrap();
    let pre = set_cookie(&r, "probity_sign_in").unwrap();
    assert!(pre.contains("HttpOnly") && pre.contains("SameSite=Strict") && !pre.contains("Secure"));
    let pre = pre.split(';').next().unwrap().to_string();
    let csrf = hidden(&r.text().await.unwrap(), "csrf");
    let r = c
        .post(format!("{}/sign-in", app.url))
        .header(COOKIE, &pre)
        .form(&[("csrf", csrf.as_str()), ("token", "not-a-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Behind TLS the session cookie is Secure too.
    let r = c
        .post(format!("{}/sign-in", app.url))
        .header(COOKIE, &pre)
        .header("x-forwarded-proto", "https")
        .form(&[("csrf", csrf.as_str()), ("token", app.supervisor.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()[LOCATION], "/board");
    let session = set_cookie(&r, "probity_session").unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"] {
        assert!(session.contains(flag), "{flag} missing: {session}");
    }
    // A page that needs a session sends the browser to sign in.
    let r = c.get(format!("{}/board", app.url)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()[LOCATION], "/sign-in");
}

async fn scenario(mode: Mode) {
    let app = spawn_app(mode).await;
    sign_in_sets_a_strict_http_only_cookie(&app).await;
    let url = app.url.clone();
    let clerk = Browser::sign_in(&url, &app.intake).await;

    // Field errors beside the fields, what was typed kept.
    let (status, form) = clerk.get("/intake/new").await;
    assert_eq!(status, 200);
    let submission = hidden(&form, "submission");
    let (status, _, page) = clerk
        .post(
            "/intake/new",
            &[
                ("submission", submission.as_str()),
                ("category", "complaint"),
                ("title", ""),
                ("description", "窗口拖延办证四十天"),
                ("phone", "call me"),
            ],
            true,
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("id=\"title-error\""), "{page}");
    assert!(page.contains("id=\"phone-error\""), "{page}");
    assert!(
        page.contains("窗口拖延办证四十天"),
        "the description is kept"
    );

    // Without the CSRF value the form is refused and nothing is filed.
    let fields = [
        ("submission", submission.as_str()),
        ("category", "complaint"),
        ("channel", "hotline"),
        ("subject_code", UNIT_A),
        ("title", "办证拖延 Permit delayed"),
        ("description", "窗口拖延办证四十天"),
        ("name", REPORTER_NAME),
        ("phone", REPORTER_PHONE),
    ];
    let (status, _, _) = clerk.post("/intake/new", &fields, false).await;
    assert_eq!(status, 403);

    // A double click: two posts of one form file one case.
    let (first, second) = tokio::join!(
        clerk.post("/intake/new", &fields, true),
        clerk.post("/intake/new", &fields, true)
    );
    assert_eq!(first.0, 303, "{}", first.2);
    assert_eq!(second.0, 303, "{}", second.2);
    assert_eq!(first.1, second.1, "both clicks land on the same case");
    let id = first
        .1
        .strip_prefix("/cases/")
        .expect("a case page")
        .to_string();
    let listed = app
        .eventually("/api/v1/complaints?limit=500", &app.intake, |b| {
            b["items"].as_array().is_some_and(|i| !i.is_empty())
        })
        .await;
    let filed = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["title"] == "办证拖延 Permit delayed")
        .count();
    assert_eq!(filed, 1, "a double submit files once");

    // The clerk's case page shows the reporter (the read is recorded); accept, dispatch.
    let (status, page) = clerk.get(&format!("/cases/{id}")).await;
    assert_eq!(status, 200);
    assert!(page.contains(REPORTER_NAME) && page.contains("this view is recorded"));
    let (status, _, _) = clerk.post(&format!("/cases/{id}/accept"), &[], true).await;
    assert_eq!(status, 303);
    let (status, _, _) = clerk
        .post(&format!("/cases/{id}/dispatch"), &[("unit", UNIT_A)], true)
        .await;
    assert_eq!(status, 303);
    // A clerk may not sign: the API's role rule.
    let (status, _, _) = clerk.post(&format!("/cases/{id}/sign"), &[], true).await;
    assert_eq!(status, 403);

    // Units: the other unit's handler does not see the case at all.
    let other = Browser::sign_in(&url, &app.handler_b).await;
    let (status, _) = other.get(&format!("/cases/{id}")).await;
    assert_eq!(status, 404);
    let (_, list) = other.get("/unit").await;
    assert!(!list.contains(&id));

    // The unit's handler: its list, sign, reply; never the reporter.
    let handler = Browser::sign_in(&url, &app.handler_a).await;
    // The list is the projection: it shows the dispatch once projected.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, list) = handler.get("/unit").await;
        if list.contains(&id) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{list}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (status, page) = handler.get(&format!("/cases/{id}")).await;
    assert_eq!(status, 200);
    assert!(!page.contains(REPORTER_NAME) && !page.contains(REPORTER_PHONE));
    let (status, _, _) = handler.post(&format!("/cases/{id}/sign"), &[], true).await;
    assert_eq!(status, 303);
    // A handler's form with the clerk's CSRF value is refused.
    let (status, _, _) = handler
        .post(
            &format!("/cases/{id}/reply"),
            &[("content", "x"), ("csrf", clerk.csrf.as_str())],
            false,
        )
        .await;
    assert_eq!(status, 403);

    // The public finds a record by credit code; nothing personal on public pages.
    register_and_record(&app).await;
    let public = client();
    let page = loop_until(
        &public,
        &format!("{url}/disclosure?q={UNIT_B}"),
        "九江市某局",
    )
    .await;
    assert!(page.contains("政府采购中违规指定品牌"));
    let (_, by_name) = get_text(
        &public,
        &format!("{url}/disclosure?q=某局&sector=procurement"),
    )
    .await;
    assert!(by_name.contains(UNIT_B));
    for path in ["/", "/disclosure", &format!("/disclosure?q={UNIT_A}")] {
        let (_, text) = get_text(&public, &format!("{url}{path}")).await;
        for personal in [REPORTER_NAME, REPORTER_PHONE, "办证拖延"] {
            assert!(!text.contains(personal), "{path} shows {personal}");
        }
    }
    let (status, _) = get_text(&public, &format!("{url}/cases/{id}")).await;
    assert_eq!(status, 303, "a case page needs a session");
    public_pages(&app, &public).await;

    // The restriction check as a page (no sign-in): the ban in words with its legal
    // basis; another sector is not restricted; a bad code is shown beside its field.
    let page = loop_until(
        &public,
        &format!("{url}/restrictions?subject_code={UNIT_B}&sector=procurement"),
        "受限 Restricted",
    )
    .await;
    assert!(page.contains("政府采购法 art. 77"), "{page}");
    let (status, other) = get_text(
        &public,
        &format!("{url}/restrictions?subject_code={UNIT_B}&sector=bidding"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(other.contains("未受限 Not restricted"), "{other}");
    let (status, bad) = get_text(
        &public,
        &format!("{url}/restrictions?subject_code=nope&sector=bidding"),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        bad.contains("id=\"subject_code-error\" role=\"alert\""),
        "{bad}"
    );

    // Thirty days later the case is overdue: red on the board, and supervised.
    let TestApp {
        app: running,
        backing,
        dir,
        clock_offset,
        ..
    } = app;
    running.stop().await;
    let later = start_on(backing, dir, clock_offset + chrono::Duration::days(30)).await;
    let supervisor = Browser::sign_in(&later.url, &later.supervisor).await;
    let (status, board) = supervisor.get(&format!("/board?unit={UNIT_A}")).await;
    assert_eq!(status, 200);
    let row = board
        .split("<tr")
        .find(|r| r.contains(&id))
        .unwrap_or_else(|| panic!("the case is not on the board: {board}"));
    assert!(
        row.contains("class=\"overdue\"") && row.contains("overdue"),
        "{row}"
    );
    let (status, _, _) = supervisor
        .post(
            &format!("/cases/{id}/supervise"),
            &[("note", "请三日内答复 Reply within three days")],
            true,
        )
        .await;
    assert_eq!(status, 303);
    let handler = Browser::sign_in(&later.url, &later.handler_a).await;
    let (status, _, _) = handler
        .post(
            &format!("/cases/{id}/reply"),
            &[("content", "已办理 Done")],
            true,
        )
        .await;
    assert_eq!(status, 303);
    let view = later
        .get(&format!("/api/v1/complaints/{id}"), &later.supervisor)
        .await;
    assert_eq!(view.assert_ok()["status"], "replied");
    assert_eq!(view.body["supervision_count"], 1);

    // The auditor reads the case with its reporter, the read recorded in the access log.
    let auditor = Browser::sign_in(&later.url, &later.auditor).await;
    let (status, page) = auditor.get(&format!("/cases/{id}")).await;
    assert_eq!(status, 200);
    assert!(page.contains(REPORTER_PHONE));
    // Each view of the reporter on a page is in the case's access log.
    let log = later
        .get(
            &format!("/api/v1/access-log?case_type=complaint&case_id={id}"),
            &later.auditor,
        )
        .await;
    let reads: Vec<&serde_json::Value> = log.assert_ok()["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["event_type"] == "PersonalDataRead" && e["purpose"] == "web case page")
        .collect();
    assert!(reads.iter().any(|e| e["role"] == "intake"), "{}", log.body);
    assert!(reads.iter().any(|e| e["role"] == "auditor"), "{}", log.body);
    // Its timeline: every event with who and role, personal blocks masked, the case as
    // of an instant, and the chain's state (no audit key here: not signed yet).
    let (status, page) = auditor.get(&format!("/cases/{id}/timeline")).await;
    assert_eq!(status, 200);
    for event in [
        "ComplaintFiled",
        "ComplaintDispatched",
        "ComplaintSigned",
        "ComplaintSupervised",
        "ComplaintReplied",
    ] {
        assert!(page.contains(event), "{event} missing from the timeline");
    }
    assert!(page.contains("<td>handler</td>") && page.contains("<td>supervisor</td>"));
    assert!(!page.contains(REPORTER_NAME) && !page.contains(REPORTER_PHONE));
    assert!(
        page.contains("Not yet covered by a signed checkpoint"),
        "{page}"
    );
    assert!(
        !page.contains("/bundle"),
        "no bundle offered before a checkpoint"
    );
    let (status, page) = auditor
        .get(&format!(
            "/cases/{id}/timeline?as_of=2020-01-01T00:00:00%2B08:00"
        ))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("Not filed yet"));
    // Without a signing key no checkpoint covers the case: no bundle to download yet.
    let (status, page) = auditor.get(&format!("/cases/{id}/bundle")).await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("audit_not_ready"), "{page}");
    let handler = Browser::sign_in(&later.url, &later.handler_a).await;
    let (status, _) = handler.get(&format!("/cases/{id}/timeline")).await;
    assert_eq!(status, 403, "a handler reads no timeline, as on the API");
    let (status, _) = handler.get(&format!("/cases/{id}/bundle")).await;
    assert_eq!(status, 403, "a handler downloads no bundle");
    // Every page of every role, and the public's, passes the accessibility checks
    // (Browser::get checks each page it reads; these are the ones not read above).
    for (who, token, paths) in [
        (
            "intake",
            &later.intake,
            vec![
                "/".to_string(),
                "/intake/new".into(),
                format!("/cases/{id}"),
            ],
        ),
        (
            "supervisor",
            &later.supervisor,
            vec![
                "/board".to_string(),
                "/board?state=overdue".into(),
                format!("/cases/{id}"),
                format!("/cases/{id}/timeline"),
                "/ranking".into(),
            ],
        ),
        (
            "handler",
            &later.handler_a,
            vec!["/unit".to_string(), format!("/cases/{id}")],
        ),
    ] {
        let b = Browser::sign_in(&later.url, token).await;
        for path in paths {
            let (status, _) = b.get(&path).await;
            assert_eq!(status, 200, "{who} reads {path}");
        }
    }
    let public = client();
    for path in [
        "/sign-in".to_string(),
        "/".into(),
        "/disclosure".into(),
        format!("/disclosure?q={UNIT_B}"),
        format!("/subjects/{UNIT_B}"),
        format!("/subjects/{UNIT_A}"),
        "/sector-lists".into(),
        "/sector-lists/procurement".into(),
        "/sector-lists/ppp".into(),
        "/sector-lists/debt".into(),
        "/ranking".into(),
        "/ranking?period=2026-Q1".into(),
        "/ranking?period=not-a-period".into(),
        "/subjects/91440301192203821L".into(),
    ] {
        let (_, text) = get_text(&public, &format!("{}{path}", later.url)).await;
        assert_accessible(&path, &text);
    }
    later.app.stop().await;
}

/// The public pages beside the disclosure: the subject's page (linked from the search),
/// the sector list with the ban and the disclosure apart, the ranking with its chart;
/// refusals as pages; nothing personal anywhere.
async fn public_pages(app: &TestApp, public: &reqwest::Client) {
    let url = &app.url;
    let (_, found) = get_text(public, &format!("{url}/disclosure?q={UNIT_B}")).await;
    assert!(
        found.contains(&format!("href=\"/subjects/{UNIT_B}\"")),
        "the search links the subject's page: {found}"
    );
    let (status, subject) = get_text(public, &format!("{url}/subjects/{UNIT_B}")).await;
    assert_eq!(status, 200, "{subject}");
    assert!(subject.contains("九江市某局") && subject.contains("政府采购中违规指定品牌"));
    assert!(subject.contains("九财采罚〔2026〕1号"));
    // A published record makes the department ineligible for honours, with the reason.
    let eligibility = app
        .get(&format!("/api/v1/public/subjects/{UNIT_B}"), &app.admin)
        .await;
    assert_eq!(eligibility.assert_ok()["eligibility"]["eligible"], false);
    assert!(subject.contains("Not eligible"), "{subject}");
    let reason = eligibility.body["eligibility"]["reasons"][0]["detail"]
        .as_str()
        .expect("a reason");
    assert!(
        subject.contains(reason),
        "the reason {reason} missing: {subject}"
    );
    assert!(
        subject.contains(&format!("href=\"/subjects/{UNIT_A}\"")),
        "the parent is linked"
    );
    let (status, page) = get_text(public, &format!("{url}/subjects/91440301192203821L")).await;
    assert_eq!(status, 404, "an unregistered subject: {page}");
    let (status, page) = get_text(public, &format!("{url}/subjects/not-a-code")).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("invalid_credit_code"), "{page}");

    // Sector lists: the procurement ban is in force and the record is disclosed, said
    // apart; the other lists are empty; an unknown list is 404.
    let (status, lists) = get_text(public, &format!("{url}/sector-lists")).await;
    assert_eq!(status, 200);
    for sector in ["investment", "township", "general"] {
        assert!(
            lists.contains(&format!("href=\"/disclosure?sector={sector}\"")),
            "{sector}: {lists}"
        );
    }
    for sector in ["procurement", "bidding", "ppp", "debt"] {
        assert!(
            lists.contains(&format!("href=\"/sector-lists/{sector}\"")),
            "{lists}"
        );
    }
    let (status, list) = get_text(public, &format!("{url}/sector-lists/procurement")).await;
    assert_eq!(status, 200);
    let api = app
        .get("/api/v1/public/sector-lists/procurement", &app.admin)
        .await;
    let entry = &api.assert_ok()["items"][0];
    assert_eq!(entry["banned"], true);
    assert_eq!(entry["disclosed"], true);
    let banned = list
        .split("仅公示、无禁入")
        .next()
        .expect("the banned section");
    let row = banned
        .split("<tr>")
        .find(|r| r.contains(UNIT_B))
        .unwrap_or_else(|| panic!("the department is not under 'banned now': {list}"));
    let until = entry["ban_until"].as_str().expect("a ban end");
    assert!(row.contains(&format!("Banned; lifts on {until}")), "{row}");
    assert!(row.contains("公示中 Disclosed"), "{row}");
    let (_, ppp) = get_text(public, &format!("{url}/sector-lists/ppp")).await;
    assert!(!ppp.contains(UNIT_B) && ppp.contains("No subject is banned now"));
    let (status, debt) = get_text(public, &format!("{url}/sector-lists/debt")).await;
    assert_eq!(status, 200);
    assert!(!debt.contains(UNIT_B), "{debt}");
    let (status, _) = get_text(public, &format!("{url}/sector-lists/general")).await;
    assert_eq!(status, 404);

    // The ranking: every score the public API gives is on the chart and in the table.
    let period = app.today().format("%Y").to_string();
    let api = app
        .eventually(
            &format!("/api/v1/public/assessments?period={period}"),
            &app.admin,
            |b| {
                b["items"].as_array().is_some_and(|i| {
                    i.iter()
                        .any(|r| r["code"] == UNIT_B && r["ordinary_records"] == 1)
                })
            },
        )
        .await;
    let (status, ranking) = get_text(public, &format!("{url}/ranking")).await;
    assert_eq!(status, 200, "{ranking}");
    assert!(ranking.contains("<svg") && ranking.contains("role=\"img\""));
    let chart = ranking.split("</svg>").next().expect("the chart");
    for row in api["items"].as_array().expect("rows") {
        let score = format!("{:.2}", row["score"].as_f64().expect("a score"));
        let name = row["name"].as_str().expect("a name");
        assert!(
            chart.contains(&format!(">{score}</text>")),
            "{score} not drawn: {chart}"
        );
        assert!(chart.contains(name), "{name} not on the chart");
        assert!(
            ranking.contains(&format!("<td>{score}</td>")),
            "{score} not in the table"
        );
    }
    let (status, page) = get_text(public, &format!("{url}/ranking?period=2026-Q9")).await;
    assert_eq!(status, 422, "{page}");
    let (status, page) = get_text(public, &format!("{url}/ranking?parent_code={UNIT_A}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("九江市某局"));

    for path in [
        format!("/subjects/{UNIT_B}"),
        format!("/subjects/{UNIT_A}"),
        "/sector-lists/procurement".to_string(),
        "/ranking".into(),
    ] {
        let (_, text) = get_text(public, &format!("{url}{path}")).await;
        for personal in [REPORTER_NAME, REPORTER_PHONE, "办证拖延"] {
            assert!(!text.contains(personal), "{path} shows {personal}");
        }
    }
}

/// With a signing key the timeline shows the chain verified (hashes, links and the
/// checkpoint's signature), and the auditor downloads the bundle from it: a file
/// `verify_bundle` accepts, the download recorded in the case's access log.
async fn a_signed_chain_is_verified_and_its_bundle_downloaded(mode: Mode) {
    let (mut backing, dir) = probity_tests::Backing::new(mode)
        .await
        .expect("test services");
    let keys = tempfile::tempdir().expect("a key dir");
    let (secret, public) = probity_audit::generate_keys(keys.path()).expect("generating keys");
    backing.audit_key = Some(secret);
    let app = start_on(
        backing,
        dir,
        probity_tests::offset_to(probity_tests::pinned_at()),
    )
    .await;
    let key = probity_audit::load_verifying_key(&public).expect("the public key");
    let id = app.dispatched("complaint").await;
    let auditor = Browser::sign_in(&app.url, &app.auditor).await;
    let timeline = format!("/cases/{id}/timeline");
    // The signer checkpoints every second: wait until a checkpoint covers the case.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let page = loop {
        let (status, page) = auditor.get(&timeline).await;
        assert_eq!(status, 200, "{page}");
        // Filed, accepted, dispatched: three events under the checkpoint.
        if page.contains("Verified: 3 ") {
            break page;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never verified: {page}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    };
    assert!(!page.contains("Verification failed"), "{page}");
    assert!(
        page.contains(&format!("href=\"/cases/{id}/bundle\"")),
        "the auditor is offered the bundle: {page}"
    );
    let r = auditor
        .client
        .get(format!("{}/cases/{id}/bundle", app.url))
        .header(COOKIE, &auditor.cookie)
        .send()
        .await
        .expect("the bundle");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["content-disposition"],
        format!("attachment; filename=\"complaint-{id}.bundle\"").as_str()
    );
    let bytes = r.bytes().await.expect("the bundle's bytes");
    // Signed with the server's key, covering the case's three events.
    let report = probity_audit::verify_bundle_with_key(&bytes, Some(&key))
        .expect("the downloaded bundle verifies with the server's key");
    assert_eq!(report.events, 3, "{report:?}");
    assert!(
        page.contains(&report.key_id),
        "the timeline names the signing key"
    );
    // A byte changed in the file no longer verifies.
    let mut tampered = bytes.to_vec();
    let at = tampered
        .windows(10)
        .position(|w| w == b"\"sequence\"")
        .expect("a sequence field");
    tampered[at + 11] = if tampered[at + 11] == b'1' {
        b'2'
    } else {
        b'1'
    };
    assert!(probity_audit::verify_bundle_with_key(&tampered, Some(&key)).is_err());
    // The download is in the case's access log, with the page's purpose.
    let log = app
        .eventually(
            &format!("/api/v1/access-log?case_type=complaint&case_id={id}"),
            &app.auditor,
            |b| {
                b["items"].as_array().is_some_and(|i| {
                    i.iter().any(|e| {
                        e["event_type"] == "BundleExported" && e["purpose"] == "web bundle download"
                    })
                })
            },
        )
        .await;
    assert!(log["items"].is_array());
    // A supervisor reads the timeline but is offered no bundle, and gets none.
    let supervisor = Browser::sign_in(&app.url, &app.supervisor).await;
    let (status, page) = supervisor.get(&timeline).await;
    assert_eq!(status, 200);
    assert!(page.contains("Verified") && !page.contains("/bundle"));
    let (status, _) = supervisor.get(&format!("/cases/{id}/bundle")).await;
    assert_eq!(status, 403);
    app.app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_chain_is_verified_on_the_timeline_on_postgres_and_nats() {
    a_signed_chain_is_verified_and_its_bundle_downloaded(Mode::PostgresNats).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_chain_is_verified_on_the_timeline_embedded() {
    a_signed_chain_is_verified_and_its_bundle_downloaded(Mode::Embedded).await;
}

async fn get_text(c: &reqwest::Client, url: &str) -> (u16, String) {
    let r = c.get(url).send().await.expect("a page");
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The page at `url` once it contains `needle` (the disclosure is projected).
async fn loop_until(c: &reqwest::Client, url: &str, needle: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, text) = get_text(c, url).await;
        if text.contains(needle) {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{needle} never on {url}: {text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn people_do_their_daily_work_in_pages_on_postgres_and_nats() {
    scenario(Mode::PostgresNats).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn people_do_their_daily_work_in_pages_embedded() {
    scenario(Mode::Embedded).await;
}
