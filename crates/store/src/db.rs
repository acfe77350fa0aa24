//! Opening the database: Postgres when a URL is given, else SQLite in the data dir.
use std::path::Path;

use crate::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// Handles to one database. `any` (sqlx `AnyPool`) serves the portable SQL of views,
/// tokens, idempotency and checkpoints (write `$1`-style placeholders; store JSON and
/// timestamps as TEXT, flags as BIGINT 0/1); `pg`/`sqlite` serve the backend-specific
/// event store code.
#[derive(Clone, Debug)]
pub struct Db {
    pub backend: Backend,
    pub pg: Option<sqlx::PgPool>,
    pub sqlite: Option<sqlx::SqlitePool>,
    pub any: sqlx::AnyPool,
}

impl Db {
    /// Connects and runs the migrations of the backend.
    pub async fn connect_postgres(_url: &str) -> Result<Db, StoreError> {
        Err(StoreError::Other("STORE HELPER".into()))
    }
    /// Opens (creating if needed) `<data_dir>/probity.db` and runs the migrations.
    pub async fn open_sqlite(_data_dir: &Path) -> Result<Db, StoreError> {
        Err(StoreError::Other("STORE HELPER".into()))
    }
}
