//! Test support: a real router over a real database (SQLite in a temp dir, or a fresh
//! Postgres database), tokens for every role, and a request helper.
#![allow(dead_code)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use chrono::Duration;
use http_body_util::BodyExt;
use probity_domain::{CreditCode, TimeLimits, WorkingCalendar};
use probity_http::{create_token, AppState, Clock, HttpConfig, Role, StoreReachable};
use probity_store::Db;
use serde_json::{json, Value};
use tower::ServiceExt;

/// The unit of `handler`.
pub const UNIT_A: &str = "914403001922038216";
/// The unit of `handler_b`.
pub const UNIT_B: &str = "91330100716105852F";
/// A valid subject code.
pub const SUBJECT: &str = "113604000123456713";
/// A valid identity number.
pub const IDENTITY: &str = "11010519491231002X";

/// The HTTP settings of the tests: the shipped ones, but a public rate limit no test
/// reaches (every in-process request counts as one address); the limit itself is tested
/// through the real server (tests/api/rate_limit.rs) and in `ratelimit`'s unit tests.
pub fn test_config() -> HttpConfig {
    HttpConfig {
        public_rate_limit: probity_http::ratelimit::RateLimitConfig {
            per_second: 1e6,
            burst: 1_000_000,
            trusted_proxies: Vec::new(),
        },
        ..HttpConfig::default()
    }
}

pub struct Tokens {
    pub intake: String,
    pub handler: String,
    pub handler_b: String,
    pub supervisor: String,
    pub auditor: String,
    pub admin: String,
}

pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub tokens: Tokens,
    pub db: Db,
    _dir: Option<tempfile::TempDir>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts a problem+json response with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "body: {}",
            self.text
        );
        assert_eq!(self.json["code"], code, "body: {}", self.text);
        assert_eq!(self.json["status"], status);
        assert!(self.json["type"].is_string() && self.json["title"].is_string());
        assert!(self.json["detail"].is_string() && self.json["errors"].is_array());
    }

    #[track_caller]
    pub fn assert_ok(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        &self.json
    }

    pub fn field_errors(&self) -> Vec<String> {
        self.json["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["field"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

async fn tokens(db: &Db) -> Tokens {
    let unit_a = Some(CreditCode::parse(UNIT_A).unwrap());
    let unit_b = Some(CreditCode::parse(UNIT_B).unwrap());
    Tokens {
        intake: create_token(db, Role::Intake, None, Some("desk 1".into()))
            .await
            .unwrap(),
        handler: create_token(db, Role::Handler, unit_a, None).await.unwrap(),
        handler_b: create_token(db, Role::Handler, unit_b, None).await.unwrap(),
        supervisor: create_token(db, Role::Supervisor, None, None)
            .await
            .unwrap(),
        auditor: create_token(db, Role::Auditor, None, None).await.unwrap(),
        admin: create_token(db, Role::Admin, None, None).await.unwrap(),
    }
}

/// The state over `db` with `clock` and `config`.
pub fn state(db: &Db, clock: Clock, config: HttpConfig) -> AppState {
    AppState::over_db(
        db.clone(),
        Arc::new(WorkingCalendar::china()),
        TimeLimits::default(),
        clock,
        config,
        Arc::new(StoreReachable(db.clone())),
    )
}

impl TestApp {
    pub async fn sqlite() -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(dir.path()).await.expect("open sqlite");
        Self::over(db, Some(dir)).await
    }

    pub async fn postgres() -> TestApp {
        let url = probity_testkit::pg::fresh_database()
            .await
            .expect("fresh postgres database");
        let db = Db::connect_postgres(&url).await.expect("connect postgres");
        Self::over(db, None).await
    }

    async fn over(db: Db, dir: Option<tempfile::TempDir>) -> TestApp {
        let tokens = tokens(&db).await;
        let state = state(&db, Clock::system(), test_config());
        TestApp {
            router: probity_http::router(state.clone()),
            state,
            tokens,
            db,
            _dir: dir,
        }
    }

    /// A router over the same database whose clock runs `offset` ahead.
    pub fn shifted(&self, offset: Duration) -> Router {
        probity_http::router(state(&self.db, Clock::with_offset(offset), test_config()))
    }

    /// Sends a request with raw body bytes and headers.
    pub async fn send_raw(
        router: &Router,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let response = router
            .clone()
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .expect("router never fails");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            json,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Reply {
        self.call_with(method, path, token, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut all = headers.to_vec();
        let bytes = match body {
            Some(b) => {
                all.push(("content-type", "application/json"));
                serde_json::to_vec(&b).unwrap()
            }
            None => Vec::new(),
        };
        Self::send_raw(&self.router, method, path, Some(token), bytes, &all).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// Files a complaint as intake and returns its id.
    pub async fn file(&self, category: &str) -> String {
        let r = self
            .post(
                "/api/v1/complaints",
                &self.tokens.intake,
                new_complaint(category),
            )
            .await;
        r.assert_ok(201)["id"].as_str().unwrap().to_string()
    }

    /// Files, accepts and dispatches to `unit`.
    pub async fn dispatched(&self, unit: &str) -> String {
        let id = self.file("consultation").await;
        self.verb(&id, "accept", &self.tokens.intake, None)
            .await
            .assert_ok(200);
        self.verb(
            &id,
            "dispatch",
            &self.tokens.intake,
            Some(json!({ "unit": unit })),
        )
        .await
        .assert_ok(200);
        id
    }

    /// Files, accepts, dispatches to UNIT_A and signs.
    pub async fn in_progress(&self) -> String {
        let id = self.dispatched(UNIT_A).await;
        self.verb(&id, "sign", &self.tokens.handler, None)
            .await
            .assert_ok(200);
        id
    }

    pub async fn verb(&self, id: &str, verb: &str, token: &str, body: Option<Value>) -> Reply {
        self.call(
            Method::POST,
            &format!("/api/v1/complaints/{id}/{verb}"),
            token,
            body,
        )
        .await
    }

    /// Catches the read models up with the log. On Postgres the commit-safe read may
    /// hold events back while other tests' transactions are open on the same server, so
    /// this rebuilds until every event in the table has been read.
    pub async fn project(&self) {
        for _ in 0..100 {
            let read = probity_views::rebuild(&self.state.log, &self.db, &|_, _| {})
                .await
                .expect("rebuild views");
            let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM events")
                .fetch_one(&self.db.any)
                .await
                .unwrap();
            if read == total as u64 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the views did not catch up with the log");
    }

    /// Number of events of one aggregate in the log.
    pub async fn events_of(
        &self,
        aggregate_type: &str,
        id: &str,
    ) -> Vec<probity_store::StoredEvent> {
        self.state
            .log
            .read_aggregate(aggregate_type, id, None)
            .await
            .unwrap()
    }
}

/// A valid creation body with a named reporter.
pub fn new_complaint(category: &str) -> Value {
    json!({
        "category": category,
        "channel": "hotline",
        "subject_code": SUBJECT,
        "title": "Permit delayed",
        "description": "The permit office has not answered for two months.",
        "reporter": { "anonymous": false, "name": "Li Hua", "phone": "13800000000", "identity_number": IDENTITY }
    })
}
