//! Test helpers: a fresh Postgres database or a SQLite data dir per test, and commands of
//! the `AccessLog` aggregate (the smallest aggregate of the domain, `Services = ()`).
use std::path::PathBuf;

use chrono::Utc;
use probity_domain::access::{AccessCommand, AccessLog};
use probity_store::{Db, Executor, Metadata};

/// A database under test plus whatever must live as long as it (the SQLite dir).
pub struct TestDb {
    pub db: Db,
    pub name: &'static str,
    /// Postgres URL or SQLite data dir, to open a second, independent handle.
    location: String,
    _dir: Option<TempDir>,
}

impl TestDb {
    /// Another `Db` on the same database with its own pools and process-wide state, as
    /// a second server process would have.
    pub async fn another_process(&self) -> Db {
        match self.db.backend {
            probity_store::Backend::Postgres => Db::connect_postgres(&self.location)
                .await
                .expect("second handle"),
            probity_store::Backend::Sqlite => Db::open_sqlite(std::path::Path::new(&self.location))
                .await
                .expect("second handle"),
        }
    }
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!(
            "probity-store-test-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn postgres() -> TestDb {
    let url = probity_testkit::pg::fresh_database()
        .await
        .expect("fresh Postgres database");
    let db = Db::connect_postgres(&url)
        .await
        .expect("connect and migrate Postgres");
    TestDb {
        db,
        name: "postgres",
        location: url,
        _dir: None,
    }
}

pub async fn sqlite() -> TestDb {
    let dir = TempDir::new();
    let data = dir.0.join("data");
    let db = Db::open_sqlite(&data).await.expect("open SQLite");
    TestDb {
        db,
        name: "sqlite",
        location: data.to_str().expect("UTF-8 temp dir").to_string(),
        _dir: Some(dir),
    }
}

/// Both backends, each on its own fresh database.
pub async fn both() -> Vec<TestDb> {
    vec![postgres().await, sqlite().await]
}

pub fn read_command(actor: &str) -> AccessCommand {
    AccessCommand::RecordPersonalDataRead {
        case_type: "complaint".into(),
        case_id: "c-1".into(),
        actor: actor.into(),
        role: "auditor".into(),
        purpose: "test".into(),
        at: Utc::now(),
    }
}

pub fn metadata(actor: &str) -> Metadata {
    Metadata::from([
        ("actor".to_string(), actor.to_string()),
        ("request_id".to_string(), "r-1".to_string()),
    ])
}

pub fn executor(db: &Db) -> Executor<AccessLog> {
    Executor::<AccessLog>::new(db.clone(), ())
}
