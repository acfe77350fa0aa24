//! Rebuilding the views from the event log, and a canonical dump of every view table.
//!
//! Rebuild clears the tables and re-applies the whole log through the very projection
//! code that runs incrementally (a page of events per transaction instead of one), so
//! the result is the incremental state by construction; the `dump` of both is compared
//! in tests.

use std::sync::Arc;

use probity_store::{Applied, Backend, Checkpoint, Db, EventLog, Projector, StoreError};
use serde_json::{json, Value};
use sqlx::Row;

use crate::{projectors, ComplaintProjector, ViewError};

/// Events read from the log per page during a rebuild.
pub const REBUILD_PAGE: i64 = 5_000;

/// Pause before looking again for counted events that are not readable yet.
const CATCH_UP_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

/// How often a rebuild that waits for the log says so.
const NOTE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// View tables of this crate, cleared by a rebuild.
const VIEW_TABLES: &[&str] = &["complaint_views", "deadline_entries"];

/// Clears every view of this crate and re-applies the whole log; `progress(done, total)`
/// after each page. Returns the number of events read.
#[tracing::instrument(skip_all)]
pub async fn rebuild(
    log: &EventLog,
    db: &Db,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<u64, ViewError> {
    // Every projector of `projectors()` is cleared; the page-wise application below
    // names them concretely (today the complaint projector alone).
    let projectors = projectors(db);
    let complaints = ComplaintProjector::new(db.clone());
    clear(db, &projectors).await?;
    let mut total = log.count().await?.max(0) as u64;
    progress(0, total);
    let mut after = Checkpoint::ZERO;
    let mut done = 0u64;
    let mut noted = std::time::Instant::now();
    loop {
        let page = log.read_after(after, REBUILD_PAGE).await?;
        let Some(last) = page.last() else {
            if done >= total {
                break;
            }
            // Events counted at the start are committed but not yet readable in commit
            // order (Postgres holds them back while an older transaction of the server
            // is open): wait for them, or the rebuild would stop short.
            if noted.elapsed() >= NOTE_EVERY {
                tracing::info!(
                    done,
                    total,
                    "rebuild waiting for the log to become readable"
                );
                noted = std::time::Instant::now();
            }
            tokio::time::sleep(CATCH_UP_PAUSE).await;
            continue;
        };
        after = Checkpoint::of(last);
        // One transaction per page and projector, through the same code as `handle`.
        let outcomes = complaints.handle_page(&page).await?;
        if let Some(event) = page
            .iter()
            .zip(&outcomes)
            .find_map(|(event, outcome)| (*outcome == Applied::Gap).then_some(event))
        {
            return Err(ViewError::Store(StoreError::Other(format!(
                "rebuild of {}: {}:{} sequence {} arrived before its predecessor",
                complaints.name(),
                event.aggregate_type,
                event.aggregate_id,
                event.sequence
            ))));
        }
        done += page.len() as u64;
        total = total.max(done);
        progress(done, total);
    }
    tracing::info!(events = done, "views rebuilt");
    Ok(done)
}

/// Deletes the view rows, the positions of this crate's projectors and their local bus
/// checkpoints (when the in-process bus has its table), in one transaction.
async fn clear(db: &Db, projectors: &[Arc<dyn Projector>]) -> Result<(), ViewError> {
    let bus_checkpoints = has_local_bus_checkpoints(db).await?;
    let mut tx = db.any.begin().await?;
    for table in VIEW_TABLES {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut *tx)
            .await?;
    }
    for projector in projectors {
        sqlx::query("DELETE FROM projection_positions WHERE projector = $1")
            .bind(projector.name())
            .execute(&mut *tx)
            .await?;
        if bus_checkpoints {
            sqlx::query("DELETE FROM local_bus_checkpoints WHERE projector = $1")
                .bind(projector.name())
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Whether the in-process bus's checkpoint table (migration 0030, owned by the bus)
/// exists in this database.
async fn has_local_bus_checkpoints(db: &Db) -> Result<bool, ViewError> {
    let sql = match db.backend {
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = 'local_bus_checkpoints'"
        }
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master \
             WHERE type = 'table' AND name = 'local_bus_checkpoints'"
        }
    };
    let count: i64 = sqlx::query(sql).fetch_one(&db.any).await?.try_get(0)?;
    Ok(count > 0)
}

/// Every view table of this crate, rows in primary-key order, as JSON (the `doc` column
/// parsed). Two databases with equal dumps serve equal reads.
pub async fn dump(db: &Db) -> Result<Value, ViewError> {
    let views = sqlx::query(
        "SELECT id, version, status, category, unit, received_at, sign_due, reply_due, doc \
         FROM complaint_views ORDER BY id",
    )
    .fetch_all(&db.any)
    .await?
    .into_iter()
    .map(|r| -> Result<Value, ViewError> {
        let doc: String = r.try_get(8)?;
        Ok(json!({
            "id": r.try_get::<String, _>(0)?,
            "version": r.try_get::<i64, _>(1)?,
            "status": r.try_get::<String, _>(2)?,
            "category": r.try_get::<String, _>(3)?,
            "unit": r.try_get::<Option<String>, _>(4)?,
            "received_at": r.try_get::<String, _>(5)?,
            "sign_due": r.try_get::<Option<String>, _>(6)?,
            "reply_due": r.try_get::<Option<String>, _>(7)?,
            "doc": serde_json::from_str::<Value>(&doc)?,
        }))
    })
    .collect::<Result<Vec<_>, _>>()?;
    let deadlines = sqlx::query(
        "SELECT case_type, case_id, kind, unit, due, provisional FROM deadline_entries \
         ORDER BY case_type, case_id, kind",
    )
    .fetch_all(&db.any)
    .await?
    .into_iter()
    .map(|r| -> Result<Value, ViewError> {
        Ok(json!({
            "case_type": r.try_get::<String, _>(0)?,
            "case_id": r.try_get::<String, _>(1)?,
            "kind": r.try_get::<String, _>(2)?,
            "unit": r.try_get::<Option<String>, _>(3)?,
            "due": r.try_get::<String, _>(4)?,
            "provisional": r.try_get::<i64, _>(5)?,
        }))
    })
    .collect::<Result<Vec<_>, _>>()?;
    let positions = sqlx::query(
        "SELECT projector, aggregate_type, aggregate_id, last_sequence FROM projection_positions \
         ORDER BY projector, aggregate_type, aggregate_id",
    )
    .fetch_all(&db.any)
    .await?
    .into_iter()
    .map(|r| -> Result<Value, ViewError> {
        Ok(json!({
            "projector": r.try_get::<String, _>(0)?,
            "aggregate_type": r.try_get::<String, _>(1)?,
            "aggregate_id": r.try_get::<String, _>(2)?,
            "last_sequence": r.try_get::<i64, _>(3)?,
        }))
    })
    .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({
        "complaint_views": views,
        "deadline_entries": deadlines,
        "projection_positions": positions,
    }))
}
