//! Helpers of the black-box suite: `spawn_app()` starts the real server (what
//! `probity serve` starts) on port 0, against a fresh Postgres database and a unique NATS
//! prefix, or against a fresh embedded store with the in-process bus.
//!
//! Time: every server the suite starts runs on a pinned clock. `spawn_app()` puts the
//! server's clock at [`PINNED_AT`] (a working Wednesday inside the official holiday data),
//! `spawn_app_at()` at any other instant; the offset is computed from the machine's clock
//! when the server starts, so the suite asserts the same things whatever day it runs on.
//! Scenarios read "today" from the server's clock ([`TestApp::now`], [`TestApp::today`]),
//! never from the machine's. `.ci/run` proves it by running the whole workspace again with
//! the machine's clock moved (libfaketime) to a year without holiday data and to a year
//! before the current one.

use std::time::{Duration, Instant};

use anyhow::Context;
use probity::settings::{Policy, Secret, Settings};
use probity::RunningApp;
use probity_http::Role;
use reqwest::StatusCode;
use serde_json::Value;

/// Where the app under test keeps its events and which bus it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Postgres + NATS JetStream (`DATABASE_URL`/`NATS_URL` or private servers).
    PostgresNats,
    /// Embedded SQLite in a temporary data dir, in-process bus.
    Embedded,
}

/// Two units used throughout the suite (valid unified social credit codes).
pub const UNIT_A: &str = "113604000123456713";
pub const UNIT_B: &str = "914403001922038216";

/// The store and bus of a test app, reusable to start a second server on the same ones.
#[derive(Debug, Clone)]
pub struct Backing {
    pub mode: Mode,
    pub database_url: Option<String>,
    pub nats_url: Option<String>,
    pub prefix: String,
    pub data_dir: std::path::PathBuf,
    /// The audit signing key the server uses (generated per test when wanted).
    pub audit_key: Option<std::path::PathBuf>,
}

impl Backing {
    pub async fn new(mode: Mode) -> anyhow::Result<(Backing, Option<tempfile::TempDir>)> {
        let dir = tempfile::tempdir().context("creating a temporary data dir")?;
        let prefix = probity_testkit::nats::unique_prefix();
        match mode {
            Mode::PostgresNats => Ok((
                Backing {
                    mode,
                    database_url: Some(probity_testkit::pg::fresh_database().await?),
                    nats_url: Some(probity_testkit::nats::nats_url().await?),
                    prefix,
                    data_dir: dir.path().to_path_buf(),
                    audit_key: None,
                },
                Some(dir),
            )),
            Mode::Embedded => Ok((
                Backing {
                    mode,
                    database_url: None,
                    nats_url: None,
                    prefix,
                    data_dir: dir.path().to_path_buf(),
                    audit_key: None,
                },
                Some(dir),
            )),
        }
    }

    pub fn settings(&self, clock_offset: chrono::Duration) -> Settings {
        Settings {
            bind: "127.0.0.1:0".parse().expect("a loopback address"),
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone().map(Secret::new),
            nats_url: self.nats_url.clone(),
            nats_prefix: self.prefix.clone(),
            clock_offset,
            // No due-soon reminders: a dispatched case's sign deadline is always one
            // working day away, so reminders would add events at unpredictable moments
            // and scenarios assert exact versions. The engine's own tests cover them.
            policy: Policy {
                deadlines: probity::settings::DeadlinePolicy {
                    reminder_working_days: 0,
                    ..Default::default()
                },
                // Scenarios poll public endpoints and call without a token far faster
                // than a person would, all from 127.0.0.1: a limit they never reach.
                // The shipped limit is tested by tests/api/rate_limit.rs.
                http: probity::settings::HttpPolicy {
                    public_rate_per_second: 1e6,
                    public_burst: 1_000_000,
                    ..Default::default()
                },
                ..Default::default()
            },
            audit_key: self.audit_key.clone(),
            audit_sign_interval: std::time::Duration::from_secs(1),
        }
    }
}

/// A running server and tokens for every role.
pub struct TestApp {
    pub app: RunningApp,
    pub url: String,
    pub client: reqwest::Client,
    pub backing: Backing,
    pub admin: String,
    pub intake: String,
    pub supervisor: String,
    pub auditor: String,
    /// Handler of UNIT_A.
    pub handler_a: String,
    /// Handler of UNIT_B.
    pub handler_b: String,
    /// Keeps the embedded data dir alive as long as the app.
    pub dir: Option<tempfile::TempDir>,
    /// How far the server's clock is from the machine's.
    pub clock_offset: chrono::Duration,
}

/// A response: status, content type and JSON body (`Value::Null` when not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    /// The problem+json `code`.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert!(
            self.content_type.starts_with("application/problem+json"),
            "content type {} for {}",
            self.content_type,
            self.body
        );
        assert_eq!(self.code(), code, "body: {}", self.body);
    }
    #[track_caller]
    pub fn assert_ok(&self) -> &Value {
        assert!(
            self.status.is_success(),
            "expected success, got {}: {}",
            self.status,
            self.body
        );
        &self.body
    }
}

/// The instant `spawn_app()` puts the server's clock at: Wednesday 11 March 2026, 10:00 in
/// China (UTC+8). A working day of a year with official holiday data, its next fifteen
/// working days free of holidays (Qingming starts on 4 April), so the suite's deadlines
/// are final and fall where its scenarios expect them whatever day the suite runs on.
pub const PINNED_AT: &str = "2026-03-11T10:00:00+08:00";

/// [`PINNED_AT`] as an instant.
pub fn pinned_at() -> chrono::DateTime<chrono::Utc> {
    at(PINNED_AT)
}

/// An RFC 3339 instant (`"2027-03-01T10:00:00+08:00"`) as UTC.
pub fn at(rfc3339: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339:?} is not an RFC 3339 instant: {e}"))
        .with_timezone(&chrono::Utc)
}

/// The clock offset that puts a server started now at `instant`.
pub fn offset_to(instant: chrono::DateTime<chrono::Utc>) -> chrono::Duration {
    instant - chrono::Utc::now()
}

/// A server whose clock reads [`PINNED_AT`] now.
pub async fn spawn_app(mode: Mode) -> TestApp {
    spawn_app_at(mode, pinned_at()).await
}

/// A server whose clock reads `instant` now (and runs on from there).
pub async fn spawn_app_at(mode: Mode, instant: chrono::DateTime<chrono::Utc>) -> TestApp {
    let (backing, dir) = Backing::new(mode)
        .await
        .expect("the test services (Postgres, NATS) must be available");
    start_on(backing, dir, offset_to(instant)).await
}

/// Starts a server on an existing backing (a second server, or a restart) whose clock is
/// the machine's shifted by `clock_offset` (keep a first server's [`TestApp::clock_offset`]
/// to stay on its clock, or add to it to move on).
pub async fn start_on(
    backing: Backing,
    dir: Option<tempfile::TempDir>,
    clock_offset: chrono::Duration,
) -> TestApp {
    start_with(backing, dir, clock_offset, |_| {}).await
}

/// Like [`start_on`], with the settings changed by `adjust` first (e.g. the shipped
/// public rate limit instead of the suite's unreachable one).
pub async fn start_with(
    backing: Backing,
    dir: Option<tempfile::TempDir>,
    clock_offset: chrono::Duration,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    let mut settings = backing.settings(clock_offset);
    adjust(&mut settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding port 0");
    let app = probity::start(&settings, listener)
        .await
        .expect("the app starts");
    let db = app.db.clone();
    let token = |role: Role, unit: Option<&str>, label: &str| {
        let db = db.clone();
        let unit = unit.map(|u| probity_domain::CreditCode::parse(u).expect("a valid unit"));
        let label = label.to_string();
        async move {
            probity_http::create_token(&db, role, unit, Some(label))
                .await
                .expect("creating a token")
        }
    };
    let url = app.url();
    TestApp {
        admin: token(Role::Admin, None, "admin").await,
        intake: token(Role::Intake, None, "intake").await,
        supervisor: token(Role::Supervisor, None, "supervisor").await,
        auditor: token(Role::Auditor, None, "auditor").await,
        handler_a: token(Role::Handler, Some(UNIT_A), "handler a").await,
        handler_b: token(Role::Handler, Some(UNIT_B), "handler b").await,
        app,
        url,
        client: reqwest::Client::new(),
        backing,
        dir,
        clock_offset,
    }
}

impl TestApp {
    /// The server's "now" (the machine's clock shifted by the server's offset).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + self.clock_offset
    }

    /// The server's "today", the local (UTC+8) date of [`TestApp::now`].
    pub fn today(&self) -> chrono::NaiveDate {
        probity_domain::WorkingCalendar::local_date(self.now())
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self.client.request(method, format!("{}{}", self.url, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("the server answers");
        Self::read(resp).await
    }

    pub async fn read(resp: reqwest::Response) -> Resp {
        let status = resp.status();
        let headers = resp.headers().clone();
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            content_type,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.request(reqwest::Method::GET, path, Some(token), None, &[])
            .await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.request(reqwest::Method::POST, path, Some(token), Some(body), &[])
            .await
    }

    /// Files a named (non-anonymous) complaint of `category` about UNIT_A and returns
    /// its id.
    pub async fn file(&self, category: &str) -> String {
        self.file_about(category, UNIT_A).await
    }

    /// Files a named (non-anonymous) complaint of `category` about `subject_code` and
    /// returns its id.
    pub async fn file_about(&self, category: &str, subject_code: &str) -> String {
        let r = self
            .post(
                "/api/v1/complaints",
                &self.intake,
                &serde_json::json!({
                    "category": category,
                    "channel": "hotline",
                    "subject_code": subject_code,
                    "title": "Permit delayed past the promised date",
                    "description": "The permit promised in 10 days has not been issued after 40 days.",
                    "reporter": {
                        "anonymous": false,
                        "name": "张三",
                        "phone": "13800138000",
                        "identity_number": "11010519491231002X"
                    }
                }),
            )
            .await;
        assert_eq!(r.status.as_u16(), 201, "filing failed: {}", r.body);
        r.body["id"].as_str().expect("an id").to_string()
    }

    /// Runs a verb on a complaint and asserts success; returns the updated view.
    pub async fn verb(&self, id: &str, verb: &str, token: &str, body: Value) -> Value {
        let r = self
            .post(&format!("/api/v1/complaints/{id}/{verb}"), token, &body)
            .await;
        r.assert_ok().clone()
    }

    /// Files, accepts and dispatches a complaint to UNIT_A.
    pub async fn dispatched(&self, category: &str) -> String {
        let id = self.file(category).await;
        self.verb(&id, "accept", &self.intake, serde_json::json!({}))
            .await;
        self.verb(
            &id,
            "dispatch",
            &self.intake,
            serde_json::json!({ "unit": UNIT_A }),
        )
        .await;
        id
    }

    /// Polls `GET path` as `token` until `pred` holds (the projections are eventually
    /// consistent); fails after 15 s.
    pub async fn eventually(
        &self,
        path: &str,
        token: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let r = self.get(path, token).await;
            if r.status.is_success() && pred(&r.body) {
                return r.body;
            }
            if Instant::now() > deadline {
                panic!(
                    "{path} never satisfied the condition; last: {} {}",
                    r.status, r.body
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Registers a government (`UNIT_A`) and a department under it (`UNIT_B`), and records a
/// procurement finding with a two-year ban against the department (the pages' and the
/// browser's public scenario).
pub async fn register_and_record(app: &TestApp) {
    for (code, name, kind) in [
        (UNIT_A, "九江市人民政府", "government"),
        (UNIT_B, "九江市某局", "department"),
    ] {
        let mut body = serde_json::json!({"credit_code": code, "name": name, "kind": kind});
        if code == UNIT_B {
            body["parent_code"] = serde_json::json!(UNIT_A);
        }
        let r = app.post("/api/v1/subjects", &app.admin, &body).await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    }
    let r = app
        .post(
            "/api/v1/records",
            &app.supervisor,
            &serde_json::json!({
                "subject_code": UNIT_B,
                "source": "administrative_penalty",
                "source_ref": "九财采罚〔2026〕1号",
                "decision_date": "2026-03-02",
                "severity": "ordinary",
                "sector": "procurement",
                "summary": "政府采购中违规指定品牌",
                "ban_years": 2
            }),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
}
