//! Leases held in the store (`store_leases`, migration 0100): a named mutual exclusion
//! that holds across every server on one store (Postgres or SQLite), for work whose
//! check and act must not interleave with the same work on another server (merges of
//! complaints, ADR 0020).
//!
//! A lease is taken by one atomic upsert (insert, or take over a row whose lease has run
//! out) and given back by deleting the holder's row. A holder that crashes blocks the
//! others for at most the lease's length; the lease is measured on the real clock, never
//! a drill's offset, so servers on different offsets agree.

use std::time::Duration;

use crate::{Db, StoreError};

const TAKE_SQL: &str = "INSERT INTO store_leases (name, holder, expires_at) VALUES ($1, $2, $3) \
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
     WHERE store_leases.expires_at < $4";

const GIVE_BACK_SQL: &str = "DELETE FROM store_leases WHERE name = $1 AND holder = $2";

/// Time between two attempts while another server holds the lease.
const RETRY: Duration = Duration::from_millis(10);

/// A lease this caller holds; give it back with [`Lease::release`] (dropping it without
/// releasing leaves it to run out).
#[derive(Debug)]
pub struct Lease {
    db: Db,
    name: String,
    holder: String,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Lease {
    /// Takes the lease `name` for at most `length`, waiting up to `wait` while another
    /// holds it; `Ok(None)` when it could not be taken in time.
    pub async fn acquire(
        db: &Db,
        name: &str,
        length: Duration,
        wait: Duration,
    ) -> Result<Option<Lease>, StoreError> {
        let holder = uuid::Uuid::new_v4().to_string();
        let give_up = tokio::time::Instant::now() + wait;
        loop {
            let now = now_ms();
            let taken = sqlx::query(TAKE_SQL)
                .bind(name)
                .bind(&holder)
                .bind(now + length.as_millis() as i64)
                .bind(now)
                .execute(&db.any)
                .await?
                .rows_affected();
            if taken == 1 {
                return Ok(Some(Lease {
                    db: db.clone(),
                    name: name.to_string(),
                    holder,
                }));
            }
            if tokio::time::Instant::now() >= give_up {
                return Ok(None);
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    /// Gives the lease back; `false` when it had already run out and another took it
    /// over (the work under it was then not exclusive: the caller logs it).
    pub async fn release(self) -> Result<bool, StoreError> {
        let done = sqlx::query(GIVE_BACK_SQL)
            .bind(&self.name)
            .bind(&self.holder)
            .execute(&self.db.any)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
