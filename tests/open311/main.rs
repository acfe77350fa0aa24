//! Open311 GeoReport v2 driven by stock clients from PyPI (`georeport`, `three`), JSON
//! and XML, against the real server on Postgres + NATS and on the embedded store: list
//! services, post requests, read them back, filter by status, service and dates; errors
//! in the GeoReport format; no personal data in any GET.
//!
//! The clients are installed, pinned, into a virtual environment under the test target
//! dir (`CARGO_TARGET_TMPDIR/open311-venv`) the first time; Python 3 with `venv` and
//! access to PyPI are needed then, and the test fails saying so otherwise. The Python
//! processes run without libfaketime (`LD_PRELOAD`/`FAKETIME` removed): pip checks TLS
//! certificates against the clock, and the script's dates come from the server's clock.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use probity_tests::{spawn_app, Mode, TestApp};
use serde_json::json;

/// The clients, pinned.
const CLIENTS: [&str; 2] = ["georeport==0.3.1", "three==0.8.0"];

static VENV: Mutex<Option<PathBuf>> = Mutex::new(None);

fn python() -> Command {
    let mut c = Command::new("python3");
    c.env_remove("LD_PRELOAD").env_remove("FAKETIME");
    c
}

/// The virtual environment with the clients (made once per target dir).
fn venv() -> PathBuf {
    let mut slot = VENV.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(dir) = slot.as_ref() {
        return dir.clone();
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("open311-venv");
    let py = dir.join("bin/python");
    let ready = |py: &PathBuf| {
        let mut check = Command::new(py);
        check.env_remove("LD_PRELOAD").env_remove("FAKETIME").args([
            "-c",
            // three 0.8.0 needs itertools.ifilter (Python 2); client.py shims it too.
            "import itertools; itertools.ifilter = filter; import georeport, three, xmltodict",
        ]);
        check.output().map(|o| o.status.success()).unwrap_or(false)
    };
    if !ready(&py) {
        let made = python()
            .args(["-m", "venv", "--clear"])
            .arg(&dir)
            .status()
            .expect("python3 must be installed (with venv) for the Open311 client tests");
        assert!(made.success(), "python3 -m venv {} failed", dir.display());
        let mut pip = Command::new(dir.join("bin/pip"));
        pip.env_remove("LD_PRELOAD")
            .env_remove("FAKETIME")
            .args(["install", "-q", "--disable-pip-version-check"])
            .args(CLIENTS);
        let out = pip.output().expect("running pip");
        assert!(
            out.status.success(),
            "installing {CLIENTS:?} from PyPI failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(ready(&py), "the clients do not import after installing");
    }
    *slot = Some(dir.clone());
    dir
}

async fn clients_file_and_read_requests(mode: Mode) {
    let app = spawn_app(mode).await;
    // A case closed before the clients come: declined by intake on the API.
    let declined = app.file("complaint").await;
    app.verb(
        &declined,
        "decline",
        &app.intake,
        json!({ "reason": "not about a government body" }),
    )
    .await;

    let venv = venv();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/open311/client.py");
    let url = app.url.clone();
    let args = [
        script.to_string(),
        url,
        app.intake.clone(),
        app.handler_a.clone(),
        declined.clone(),
        app.now().to_rfc3339(),
    ];
    let py = venv.join("bin/python");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(py)
            .env_remove("LD_PRELOAD")
            .env_remove("FAKETIME")
            .args(args)
            .output()
            .expect("running the client script")
    })
    .await
    .expect("the client script's thread");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the Open311 clients failed ({mode:?}):\n{stdout}\n{stderr}"
    );
    // Each check the clients made, in the test's output (shown with --nocapture).
    println!("{stdout}");
    let done = stdout
        .lines()
        .find_map(|l| l.strip_prefix("done "))
        .expect("the script names what it filed");
    let (named, anonymous) = done.split_once(' ').expect("two ids");

    // What the clients filed is a complaint like any other, channel open311: intake
    // sees the reporter on the API (the read recorded), a handler never.
    let view = app
        .get(&format!("/api/v1/complaints/{named}"), &app.intake)
        .await;
    let body = view.assert_ok();
    assert_eq!(body["channel"], "open311");
    assert_eq!(body["category"], "complaint");
    assert_eq!(body["subject_code"], "113604000123456713");
    assert_eq!(body["reporter"]["name"], "张三");
    assert_eq!(body["reporter"]["phone"], "13800138000");
    let view = app
        .get(&format!("/api/v1/complaints/{anonymous}"), &app.intake)
        .await;
    assert_eq!(view.assert_ok()["anonymous"], true);
    after_dispatch(&app, named).await;
}

/// Once dispatched, a request names its agency and when the reply is expected.
async fn after_dispatch(app: &TestApp, id: &str) {
    app.verb(id, "accept", &app.intake, json!({})).await;
    let view = app
        .verb(
            id,
            "dispatch",
            &app.intake,
            json!({ "unit": probity_tests::UNIT_A }),
        )
        .await;
    let due = view["reply_due"]
        .as_str()
        .expect("a reply due day")
        .to_string();
    let r = app
        .client
        .get(format!("{}/open311/v2/requests/{id}.json", app.url))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(r.status().as_u16(), 200);
    let body: serde_json::Value = r.json().await.expect("JSON");
    assert_eq!(body[0]["agency_responsible"], probity_tests::UNIT_A);
    let expected = body[0]["expected_datetime"]
        .as_str()
        .expect("expected_datetime");
    // The end of the due day in China is 15:59:59 UTC of that day.
    assert_eq!(expected, format!("{due}T15:59:59Z"));
    assert!(body[0]["status_notes"]
        .as_str()
        .is_some_and(|n| n.contains("Dispatched")));
}

#[tokio::test(flavor = "multi_thread")]
async fn stock_open311_clients_file_and_read_requests_on_postgres_and_nats() {
    clients_file_and_read_requests(Mode::PostgresNats).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stock_open311_clients_file_and_read_requests_embedded() {
    clients_file_and_read_requests(Mode::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_path_or_format_is_a_georeport_error() {
    let app = spawn_app(Mode::Embedded).await;
    for (path, status, xml) in [
        ("/open311/v2/nothing.xml", 404, true),
        ("/open311/v2/services/complaint.html", 404, false),
        ("/open311/v2/services/pothole.json", 404, false),
        ("/open311/v2/requests.json?status=pending", 422, false),
        ("/open311/v2/requests.json?foo=1", 422, false),
    ] {
        let r = app
            .client
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .expect("the server answers");
        assert_eq!(r.status().as_u16(), status, "{path}");
        let text = r.text().await.expect("a body");
        if xml {
            assert!(
                text.contains("<errors><error><code>404</code>"),
                "{path}: {text}"
            );
        } else {
            let body: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            assert_eq!(body[0]["code"], status, "{path}: {text}");
        }
    }
}
