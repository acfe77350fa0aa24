//! Rebuilding the views from the event log, and a canonical dump of every view table.
//!
//! Rebuild clears the tables, folds the whole log in memory with the very functions the
//! incremental projector uses (`ComplaintView::apply`, `open_deadlines`), and writes the
//! result in bulk, chunked multi-row inserts in one transaction. Incremental projection
//! pays a read, a claim and several writes per event; rebuild pays one row per aggregate,
//! which is what makes it fast. A test compares the `dump` of both.

use std::collections::HashMap;
use std::sync::Arc;

use probity_store::{Backend, Checkpoint, Db, EventLog, Projector, StoreError, StoredEvent};
use serde_json::{json, Value};
use sqlx::any::AnyArguments;
use sqlx::{Any, Row, Transaction};

use crate::complaint_view::{decode_event, ComplaintView, COMPLAINT_TYPE};
use crate::integrity::projector::project_in_tx;
use crate::integrity::{IntegrityProjector, INTEGRITY_TYPES};
use crate::projector::{open_deadlines, EntryRow};
use crate::sql::{date_text, ts_text};
use crate::{projectors, ComplaintProjector, ViewError};

/// Events read from the log per page during a rebuild.
pub const REBUILD_PAGE: i64 = 10_000;

/// Rows per multi-row INSERT when the folded views are written.
const WRITE_CHUNK: usize = 1_000;

/// Pause before looking again for counted events that are not readable yet.
const CATCH_UP_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

/// How often a rebuild that waits for the log says so.
const NOTE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// View tables of this crate, cleared by a rebuild.
const VIEW_TABLES: &[&str] = &[
    "complaint_views",
    "deadline_entries",
    "subject_views",
    "civil_servant_views",
    "record_views",
    "rectification_views",
    "repair_views",
    "objection_views",
    "commitment_views",
];

/// Integrity events of the log, kept in order for replay through the integrity
/// projector inside the rebuild's transaction (they are few beside complaints).
fn integrity_events(page: &[StoredEvent]) -> impl Iterator<Item = StoredEvent> + '_ {
    page.iter()
        .filter(|e| INTEGRITY_TYPES.contains(&e.aggregate_type.as_str()))
        .cloned()
}

/// One complaint as folded so far.
#[derive(Default)]
struct Folded {
    view: Option<ComplaintView>,
    last_sequence: i64,
    deadlines: Vec<EntryRow>,
}

/// Clears every view of this crate and rebuilds it from the whole log;
/// `progress(done, total)` after each page read. Returns the number of events read.
#[tracing::instrument(skip_all)]
pub async fn rebuild(
    log: &EventLog,
    db: &Db,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<u64, ViewError> {
    let total = log.count().await?.max(0) as u64;
    progress(0, total);
    // A reader task fetches the next page while this one folds the last: the database
    // and the fold work on both cores at once.
    let (pages, mut incoming) =
        tokio::sync::mpsc::channel::<Result<Vec<StoredEvent>, StoreError>>(2);
    let reader = tokio::spawn(read_pages(log.clone(), total, pages));
    let mut folded: HashMap<String, Folded> = HashMap::new();
    let mut done = 0u64;
    let mut integrity: Vec<StoredEvent> = Vec::new();
    while let Some(page) = incoming.recv().await {
        let page = page?;
        fold_page(&mut folded, &page)?;
        integrity.extend(integrity_events(&page));
        done += page.len() as u64;
        progress(done, total.max(done));
    }
    let after = reader
        .await
        .map_err(|e| ViewError::Store(StoreError::Other(format!("rebuild reader failed: {e}"))))?;
    done += write_folded(db, log, &projectors(db), folded, integrity, after).await?;
    tracing::info!(events = done, "views rebuilt");
    Ok(done)
}

/// Reads the log in pages into `pages` until at least `total` events were read (events
/// counted at the start may be committed but not yet readable in commit order: Postgres
/// holds them back while an older transaction of the server is open). Returns the
/// checkpoint after the last page.
async fn read_pages(
    log: EventLog,
    total: u64,
    pages: tokio::sync::mpsc::Sender<Result<Vec<StoredEvent>, StoreError>>,
) -> Checkpoint {
    let mut after = Checkpoint::ZERO;
    let mut read = 0u64;
    let mut noted = std::time::Instant::now();
    loop {
        match log.read_after(after, REBUILD_PAGE).await {
            Ok(page) => {
                let Some(last) = page.last() else {
                    if read >= total {
                        return after;
                    }
                    if noted.elapsed() >= NOTE_EVERY {
                        tracing::info!(
                            read,
                            total,
                            "rebuild waiting for the log to become readable"
                        );
                        noted = std::time::Instant::now();
                    }
                    tokio::time::sleep(CATCH_UP_PAUSE).await;
                    continue;
                };
                after = Checkpoint::of(last);
                read += page.len() as u64;
                if pages.send(Ok(page)).await.is_err() {
                    return after;
                }
            }
            Err(e) => {
                let _ = pages.send(Err(e)).await;
                return after;
            }
        }
    }
}

/// Folds a page of events (in log order) into the in-memory state.
fn fold_page(folded: &mut HashMap<String, Folded>, page: &[StoredEvent]) -> Result<(), ViewError> {
    for event in page.iter().filter(|e| e.aggregate_type == COMPLAINT_TYPE) {
        let entry = folded.entry(event.aggregate_id.clone()).or_default();
        if event.sequence != entry.last_sequence + 1 {
            return Err(ViewError::Store(StoreError::Other(format!(
                "rebuild of {}: {}:{} sequence {} follows {}",
                ComplaintProjector::NAME,
                event.aggregate_type,
                event.aggregate_id,
                event.sequence,
                entry.last_sequence
            ))));
        }
        let body = decode_event(&event.payload)?;
        entry.last_sequence = event.sequence;
        let existing: HashMap<String, bool> = entry
            .deadlines
            .iter()
            .map(|d| (d.kind.to_string(), d.provisional))
            .collect();
        // `apply` keeps an existing view (never returns None for one), so taking it out
        // and putting the result back is the incremental store-or-leave.
        if let Some(view) = ComplaintView::apply(
            entry.view.take(),
            &event.aggregate_id,
            event.sequence as u64,
            &body,
        ) {
            entry.deadlines = open_deadlines(&view, &body, &existing);
            entry.view = Some(view);
        }
    }
    Ok(())
}

/// One bound value of a bulk insert.
enum Param {
    Text(String),
    OptText(Option<String>),
    Int(i64),
}

/// `INSERT INTO table (columns) VALUES (..), (..)` in chunks of [`WRITE_CHUNK`] rows.
async fn insert_rows(
    tx: &mut Transaction<'_, Any>,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Param>>,
) -> Result<(), ViewError> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Param>> = rows.by_ref().take(WRITE_CHUNK).collect();
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        let mut n = 0;
        for (i, _) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let placeholders: Vec<String> = columns
                .iter()
                .map(|_| {
                    n += 1;
                    format!("${n}")
                })
                .collect();
            sql.push('(');
            sql.push_str(&placeholders.join(", "));
            sql.push(')');
        }
        let mut query = sqlx::query_with::<Any, AnyArguments>(&sql, AnyArguments::default());
        for row in chunk {
            for param in row {
                query = match param {
                    Param::Text(v) => query.bind(v),
                    Param::OptText(v) => query.bind(v),
                    Param::Int(v) => query.bind(v),
                };
            }
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Replaces the views, deadline entries and positions with the folded state, in one
/// transaction: readers see the old views until it commits. The transaction first locks
/// the view tables against writers (servers projecting meanwhile wait, then find their
/// events applied), then folds whatever the log gained since `after`, so nothing a
/// running projector applied in between is lost. Returns the number of those events.
async fn write_folded(
    db: &Db,
    log: &EventLog,
    projectors: &[Arc<dyn Projector>],
    mut folded: HashMap<String, Folded>,
    mut integrity: Vec<StoredEvent>,
    mut after: Checkpoint,
) -> Result<u64, ViewError> {
    let bus_checkpoints = has_local_bus_checkpoints(db).await?;
    let mut tx = db.any.begin().await?;
    match db.backend {
        // Positions first: a projector claims its position before touching the views,
        // so waiting on it while holding nothing else cannot deadlock.
        Backend::Postgres => {
            sqlx::query(
                "LOCK TABLE projection_positions, complaint_views, deadline_entries, \
                 subject_views, civil_servant_views, record_views, rectification_views, \
                 repair_views, objection_views, commitment_views IN EXCLUSIVE MODE",
            )
            .execute(&mut *tx)
            .await?;
        }
        // A write takes SQLite's database-wide write lock.
        Backend::Sqlite => {
            sqlx::query("DELETE FROM projection_positions WHERE 1 = 0")
                .execute(&mut *tx)
                .await?;
        }
    }
    let mut tail = 0u64;
    loop {
        let page = log.read_after(after, REBUILD_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Checkpoint::of(last);
        fold_page(&mut folded, &page)?;
        integrity.extend(integrity_events(&page));
        tail += page.len() as u64;
    }
    clear(&mut tx, projectors, bus_checkpoints).await?;
    let now = ts_text(chrono::Utc::now());
    const VIEW_COLUMNS: &[&str] = &[
        "id",
        "version",
        "status",
        "category",
        "unit",
        "received_at",
        "sign_due",
        "reply_due",
        "doc",
    ];
    const DEADLINE_COLUMNS: &[&str] =
        &["case_type", "case_id", "kind", "unit", "due", "provisional"];
    const POSITION_COLUMNS: &[&str] = &[
        "projector",
        "aggregate_type",
        "aggregate_id",
        "last_sequence",
        "projected_at",
    ];
    // Rows are flushed a chunk at a time while the map drains, so the rebuild never
    // holds a second copy of every view.
    let mut views = Vec::with_capacity(WRITE_CHUNK);
    let mut deadlines = Vec::with_capacity(WRITE_CHUNK);
    let mut positions = Vec::with_capacity(WRITE_CHUNK);
    for (id, f) in folded.drain() {
        if let Some(view) = &f.view {
            views.push(vec![
                Param::Text(view.id.clone()),
                Param::Int(view.version as i64),
                Param::Text(view.status.clone()),
                Param::Text(view.category.clone()),
                Param::OptText(view.unit.clone()),
                Param::Text(ts_text(view.received_at)),
                Param::OptText(view.sign_due.map(date_text)),
                Param::OptText(view.reply_due.map(date_text)),
                Param::Text(serde_json::to_string(view)?),
            ]);
            for d in &f.deadlines {
                deadlines.push(vec![
                    Param::Text(COMPLAINT_TYPE.to_string()),
                    Param::Text(view.id.clone()),
                    Param::Text(d.kind.to_string()),
                    Param::OptText(d.unit.clone()),
                    Param::Text(date_text(d.due)),
                    Param::Int(i64::from(d.provisional)),
                ]);
            }
        }
        positions.push(vec![
            Param::Text(ComplaintProjector::NAME.to_string()),
            Param::Text(COMPLAINT_TYPE.to_string()),
            Param::Text(id),
            Param::Int(f.last_sequence),
            Param::Text(now.clone()),
        ]);
        if views.len() >= WRITE_CHUNK {
            insert_rows(
                &mut tx,
                "complaint_views",
                VIEW_COLUMNS,
                std::mem::take(&mut views),
            )
            .await?;
        }
        if deadlines.len() >= WRITE_CHUNK {
            insert_rows(
                &mut tx,
                "deadline_entries",
                DEADLINE_COLUMNS,
                std::mem::take(&mut deadlines),
            )
            .await?;
        }
        if positions.len() >= WRITE_CHUNK {
            insert_rows(
                &mut tx,
                "projection_positions",
                POSITION_COLUMNS,
                std::mem::take(&mut positions),
            )
            .await?;
        }
    }
    insert_rows(&mut tx, "complaint_views", VIEW_COLUMNS, views).await?;
    insert_rows(&mut tx, "deadline_entries", DEADLINE_COLUMNS, deadlines).await?;
    insert_rows(&mut tx, "projection_positions", POSITION_COLUMNS, positions).await?;
    for event in &integrity {
        let outcome = project_in_tx(&mut tx, IntegrityProjector::NAME, event).await?;
        if outcome != probity_store::Applied::Applied {
            return Err(ViewError::Store(StoreError::Other(format!(
                "rebuild of {}: {}:{} sequence {} was {:?}",
                IntegrityProjector::NAME,
                event.aggregate_type,
                event.aggregate_id,
                event.sequence,
                outcome
            ))));
        }
    }
    tx.commit().await?;
    Ok(tail)
}

/// Deletes the view rows, the positions of this crate's projectors and their local bus
/// checkpoints (when the in-process bus has its table), inside `tx`.
async fn clear(
    tx: &mut Transaction<'_, Any>,
    projectors: &[Arc<dyn Projector>],
    bus_checkpoints: bool,
) -> Result<(), ViewError> {
    for table in VIEW_TABLES {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut **tx)
            .await?;
    }
    for projector in projectors {
        sqlx::query("DELETE FROM projection_positions WHERE projector = $1")
            .bind(projector.name())
            .execute(&mut **tx)
            .await?;
        if bus_checkpoints {
            sqlx::query("DELETE FROM local_bus_checkpoints WHERE projector = $1")
                .bind(projector.name())
                .execute(&mut **tx)
                .await?;
        }
    }
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
    let mut out = json!({
        "complaint_views": views,
        "deadline_entries": deadlines,
        "projection_positions": positions,
    });
    for ty in INTEGRITY_TYPES {
        let Some((table, key)) = crate::integrity::projector::table_of(ty) else {
            continue;
        };
        let rows = sqlx::query(&format!("SELECT {key}, doc FROM {table} ORDER BY {key}"))
            .fetch_all(&db.any)
            .await?
            .into_iter()
            .map(|r| -> Result<Value, ViewError> {
                let doc: String = r.try_get(1)?;
                Ok(json!({
                    "key": r.try_get::<String, _>(0)?,
                    "doc": serde_json::from_str::<Value>(&doc)?,
                }))
            })
            .collect::<Result<Vec<_>, _>>()?;
        out[table] = Value::Array(rows);
    }
    Ok(out)
}
