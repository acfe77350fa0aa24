//! What the `probity` crate's integration tests share: the two backends, a temporary
//! directory, and a fresh store of either kind with the command-line arguments naming it.
//! Postgres comes from `probity_testkit` (DATABASE_URL or a private server): without it
//! the Postgres tests fail saying so, they never skip.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use probity_store::Db;
use tokio::process::{Child, Command};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// Declares `on_sqlite` and `on_postgres` tests for each `async fn name(kind) ->
/// anyhow::Result<()>`, each bounded by the file's `TEST_TIMEOUT`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                tokio::time::timeout(super::TEST_TIMEOUT, super::$name(super::Kind::Sqlite))
                    .await
                    .expect("test timed out")
                    .unwrap();
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                tokio::time::timeout(super::TEST_TIMEOUT, super::$name(super::Kind::Postgres))
                    .await
                    .expect("test timed out")
                    .unwrap();
            }
        }
    )*};
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> anyhow::Result<Self> {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "probity-test-{}-{}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&path).context("creating a temp dir")?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A store of the kind, and the `--database-url` / `--data-dir` arguments naming it.
pub struct Store {
    pub db: Db,
    pub args: Vec<String>,
    pub dir: TempDir,
}

pub async fn store(kind: Kind) -> anyhow::Result<Store> {
    let dir = TempDir::new()?;
    match kind {
        Kind::Sqlite => {
            let data = dir.0.join("data");
            let db = Db::open_sqlite(&data).await.context("opening SQLite")?;
            let args = vec![
                format!("--data-dir={}", data.display()),
                // Empty: the embedded store even when DATABASE_URL is set in the environment.
                "--database-url=".to_string(),
            ];
            Ok(Store { db, args, dir })
        }
        Kind::Postgres => {
            let url = probity_testkit::pg::fresh_database().await.context(
                "these tests need Postgres: set DATABASE_URL or install the postgres server \
                 binaries (initdb, postgres)",
            )?;
            let db = Db::connect_postgres(&url)
                .await
                .context("connecting to the fresh Postgres database")?;
            let args = vec![
                format!("--database-url={url}"),
                format!("--data-dir={}", dir.0.join("unused").display()),
            ];
            Ok(Store { db, args, dir })
        }
    }
}

/// Starts `probity serve` on `args` and waits until it answers `/healthz`.
#[allow(dead_code)] // not every test binary starts a server
pub async fn serve(args: &[String]) -> anyhow::Result<(Child, String)> {
    serve_with(args, &[], None).await
}

/// [`serve`] with extra environment variables (set last: they may name a bus) and the
/// server's stderr written to `log` (else discarded).
#[allow(dead_code)] // not every test binary starts a server
pub async fn serve_with(
    args: &[String],
    env: &[(&str, String)],
    log: Option<&std::path::Path>,
) -> anyhow::Result<(Child, String)> {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?.port()
    };
    let mut command = Command::new(env!("CARGO_BIN_EXE_probity"));
    command
        .args(args)
        .arg("serve")
        .arg(format!("--bind=127.0.0.1:{port}"))
        // The in-process bus: this drill is about the write path, and it must never
        // touch the shared NATS server's subjects.
        .env_remove("NATS_URL")
        .env_remove("DATABASE_URL")
        // On the suite's pinned instant (a working day with final holiday data).
        .arg(format!(
            "--clock-offset={}s",
            (chrono::DateTime::parse_from_rfc3339("2026-03-11T10:00:00+08:00")?
                .with_timezone(&chrono::Utc)
                - chrono::Utc::now())
            .num_seconds()
        ))
        .env("RUST_LOG", "warn")
        // Under libfaketime (the suite's runs on a moved clock) the server inherits the
        // faked clocks: it keeps the moved date (CLOCK_REALTIME) but not a moved
        // CLOCK_MONOTONIC. Rust's std turns a timed wait (`Condvar::wait_timeout`,
        // `thread::park_timeout`, `mpsc::Receiver::recv_timeout`) into a futex wait until
        // an absolute CLOCK_MONOTONIC instant, read through libfaketime but handed to the
        // kernel, which libfaketime does not intercept: with the monotonic clock moved by
        // months the wait never times out. The OTLP batch exporter's thread waits so for
        // its next export, and no span ever left the server (issue 13).
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .stdout(Stdio::null())
        .stderr(match log {
            Some(path) => {
                Stdio::from(std::fs::File::create(path).context("creating the server log")?)
            }
            None => Stdio::null(),
        })
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let child = command.spawn().context("starting probity serve")?;
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("{url}/healthz")).send().await {
            if r.status().is_success() {
                return Ok((child, url));
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("probity serve did not answer /healthz within 30 s")
}
