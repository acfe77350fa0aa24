//! Adapter errors of the store.
use thiserror::Error;

/// Errors of the store adapter (database, migrations, serialization, sealing).
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("serialization error: {0}")]
    Serde(#[from] serde_json::Error),
    #[error("crypto error: {0}")]
    Crypto(String),
    /// The database cannot be reached or is going down or coming up (a restart, a
    /// fail-over, a full pool): the operation did not happen or its outcome is unknown,
    /// and the same request may be retried (with its `Idempotency-Key`) in a moment.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Other(String),
}

impl StoreError {
    /// Whether this error means "the database is unavailable right now" (see
    /// [`is_unavailable`]) rather than a fault of this request or a bug.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Database(e) => is_unavailable(e),
            _ => false,
        }
    }
}

/// Whether a database error is the database being unreachable, going down or coming up,
/// rather than a fault of the statement: I/O and TLS failures, a pool that timed out or
/// was closed, a broken protocol stream or crashed worker (a connection cut mid-message),
/// and the Postgres SQLSTATEs of the connection-exception class `08`, `57P01`
/// admin_shutdown, `57P02` crash_shutdown, `57P03` cannot_connect_now and `53300`
/// too_many_connections.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_connection_and_a_pool_timeout_are_unavailability() {
        let refused = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(StoreError::Database(refused).is_unavailable());
        assert!(StoreError::Database(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(StoreError::Unavailable("restarting".into()).is_unavailable());
    }

    #[test]
    fn a_missing_row_or_a_bad_document_is_not_unavailability() {
        assert!(!StoreError::Database(sqlx::Error::RowNotFound).is_unavailable());
        assert!(!StoreError::Other("bug".into()).is_unavailable());
        let json = serde_json::from_str::<u8>("x").unwrap_err();
        assert!(!StoreError::Serde(json).is_unavailable());
    }
}
