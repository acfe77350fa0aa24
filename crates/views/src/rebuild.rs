//! Rebuilding the views from the event log, and a canonical dump of every view table.
//!
//! Rebuild clears the tables, folds the whole log in memory with the very folds the
//! batched projectors use (`ComplaintFold`, the integrity `fold_step`), and writes the
//! result with the same row builders and chunked multi-row inserts, in one transaction.
//! It is the projectors' batch taken to its limit: one batch of every event, one row per
//! aggregate, no stored row to read first. A test compares the `dump` of both.

use std::collections::HashMap;
use std::sync::Arc;

use probity_store::{Backend, Checkpoint, Db, EventLog, Projector, StoreError, StoredEvent};
use serde_json::{json, Value};
use sqlx::{Any, Row, Transaction};

use crate::assessment::facts::ITEM_TYPES;
use crate::assessment::stored::Rebuilt;
use crate::batch::{write_rows, Param, CHUNK};
use crate::complaint_view::COMPLAINT_TYPE;
use crate::fold::decode_wire;
use crate::integrity::projector::{deadline_rows, doc_row, fold_step, DocRow};
use crate::integrity::{IntegrityDoc, IntegrityProjector, INTEGRITY_TYPES};
use crate::projector::{deadline_row, view_row, ComplaintFold, DEADLINE_COLUMNS, VIEW_COLUMNS};
use crate::sql::ts_text;
use crate::{projectors, ComplaintProjector, ViewError};
use probity_domain::complaint::ComplaintWireEvent;

/// Events read from the log per page during a rebuild.
pub const REBUILD_PAGE: i64 = 10_000;

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
    "supervision_item_views",
    "debt_warning_views",
    "record_proposal_views",
    "assessment_items",
    "assessment_counts",
    "assessment_owed",
];

/// One aggregate as folded so far.
#[derive(Default)]
struct Folded<T> {
    state: T,
    last_sequence: i64,
}

/// Everything folded so far: complaints by id, integrity aggregates by (type, id), and
/// the stored assessment's items and counters.
#[derive(Default)]
struct State {
    complaints: HashMap<String, Folded<ComplaintFold>>,
    integrity: HashMap<(String, String), Folded<Option<IntegrityDoc>>>,
    assessment: Rebuilt,
}

/// The next sequence of an aggregate, or the error that names the hole.
fn next_in_order(projector: &str, event: &StoredEvent, last: i64) -> Result<(), ViewError> {
    if event.sequence == last + 1 {
        return Ok(());
    }
    Err(ViewError::Store(StoreError::Other(format!(
        "rebuild of {projector}: {}:{} sequence {} follows {last}",
        event.aggregate_type, event.aggregate_id, event.sequence
    ))))
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
    let mut folded = State::default();
    let mut done = 0u64;
    while let Some(page) = incoming.recv().await {
        let page = page?;
        fold_page(&mut folded, &page)?;
        done += page.len() as u64;
        progress(done, total.max(done));
    }
    let after = reader
        .await
        .map_err(|e| ViewError::Store(StoreError::Other(format!("rebuild reader failed: {e}"))))?;
    done += write_folded(db, log, &projectors(db), folded, after).await?;
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
                // Folds read the wire form, as the projectors get it from the bus.
                let page = page.into_iter().map(StoredEvent::into_wire).collect();
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
fn fold_page(folded: &mut State, page: &[StoredEvent]) -> Result<(), ViewError> {
    for event in page {
        if event.aggregate_type == COMPLAINT_TYPE {
            let entry = folded
                .complaints
                .entry(event.aggregate_id.clone())
                .or_default();
            next_in_order(ComplaintProjector::NAME, event, entry.last_sequence)?;
            let body: ComplaintWireEvent = decode_wire(COMPLAINT_TYPE, &event.payload)?;
            entry.last_sequence = event.sequence;
            entry
                .state
                .apply(&event.aggregate_id, event.sequence, &body);
            folded.assessment.apply(event, Some(&body))?;
        } else if INTEGRITY_TYPES.contains(&event.aggregate_type.as_str()) {
            let entry = folded
                .integrity
                .entry((event.aggregate_type.clone(), event.aggregate_id.clone()))
                .or_default();
            next_in_order(IntegrityProjector::NAME, event, entry.last_sequence)?;
            fold_step(&mut entry.state, event)?;
            entry.last_sequence = event.sequence;
            if ITEM_TYPES.contains(&event.aggregate_type.as_str()) {
                folded.assessment.apply(event, None)?;
            }
        }
    }
    Ok(())
}

/// Rows folded and not written yet, flushed a chunk at a time while the state drains,
/// so the rebuild never holds a second copy of every view.
struct Pending<'a> {
    table: &'static str,
    columns: &'a [&'a str],
    rows: Vec<Vec<Param>>,
}

impl<'a> Pending<'a> {
    fn new(table: &'static str, columns: &'a [&'a str]) -> Self {
        Self {
            table,
            columns,
            rows: Vec::with_capacity(CHUNK),
        }
    }

    async fn push(
        &mut self,
        tx: &mut Transaction<'_, Any>,
        row: Vec<Param>,
    ) -> Result<(), ViewError> {
        self.rows.push(row);
        if self.rows.len() >= CHUNK {
            self.flush(tx).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, tx: &mut Transaction<'_, Any>) -> Result<(), ViewError> {
        let rows = std::mem::take(&mut self.rows);
        write_rows(tx, self.table, self.columns, rows, None).await?;
        Ok(())
    }
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
    mut folded: State,
    mut after: Checkpoint,
) -> Result<u64, ViewError> {
    let bus_checkpoints = has_local_bus_checkpoints(db).await?;
    let mut tx = db.any.begin().await?;
    match db.backend {
        // Positions first: a projector claims its positions before touching the views,
        // so waiting on it while holding nothing else cannot deadlock.
        Backend::Postgres => {
            sqlx::query(
                "LOCK TABLE projection_positions, complaint_views, deadline_entries, \
                 subject_views, civil_servant_views, record_views, rectification_views, \
                 repair_views, objection_views, commitment_views, supervision_item_views, debt_warning_views, \
                 record_proposal_views, assessment_items, assessment_counts, assessment_owed IN EXCLUSIVE MODE",
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
        let page: Vec<StoredEvent> = page.into_iter().map(StoredEvent::into_wire).collect();
        fold_page(&mut folded, &page)?;
        tail += page.len() as u64;
    }
    clear(&mut tx, projectors, bus_checkpoints).await?;
    let now = ts_text(chrono::Utc::now());
    const POSITION_COLUMNS: &[&str] = &[
        "projector",
        "aggregate_type",
        "aggregate_id",
        "last_sequence",
        "projected_at",
    ];
    let position = |projector: &str, ty: &str, id: String, last: i64| {
        vec![
            Param::Text(projector.to_string()),
            Param::Text(ty.to_string()),
            Param::Text(id),
            Param::Int(last),
            Param::Text(now.clone()),
        ]
    };
    let mut views = Pending::new("complaint_views", VIEW_COLUMNS);
    let mut deadlines = Pending::new("deadline_entries", DEADLINE_COLUMNS);
    let mut positions = Pending::new("projection_positions", POSITION_COLUMNS);
    for (id, f) in folded.complaints.drain() {
        if let Some(view) = &f.state.view {
            views.push(&mut tx, view_row(view)?).await?;
            for d in f.state.deadlines {
                let row = deadline_row(COMPLAINT_TYPE, &id, d.kind, d.unit, d.due, d.provisional);
                deadlines.push(&mut tx, row).await?;
            }
        }
        let row = position(
            ComplaintProjector::NAME,
            COMPLAINT_TYPE,
            id,
            f.last_sequence,
        );
        positions.push(&mut tx, row).await?;
    }
    views.flush(&mut tx).await?;
    let mut docs: HashMap<&'static str, (DocRow, Vec<Vec<Param>>)> = HashMap::new();
    for ((ty, id), f) in folded.integrity.drain() {
        if let Some(doc) = &f.state {
            let mut row = doc_row(doc)?;
            for d in deadline_rows(&ty, &id, doc) {
                deadlines.push(&mut tx, d).await?;
            }
            let values = std::mem::take(&mut row.values);
            docs.entry(row.table)
                .or_insert_with(|| (row, Vec::new()))
                .1
                .push(values);
        }
        let row = position(IntegrityProjector::NAME, &ty, id, f.last_sequence);
        positions.push(&mut tx, row).await?;
    }
    for (table, (row, values)) in docs {
        write_rows(&mut tx, table, row.columns, values, None).await?;
    }
    deadlines.flush(&mut tx).await?;
    positions.flush(&mut tx).await?;
    folded.assessment.write(&mut tx, db.backend).await?;
    sqlx::query("DELETE FROM view_rebuild_requests")
        .execute(&mut *tx)
        .await?;
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

/// Why the views must be rebuilt before they are projected or read, if a migration said
/// so (`view_rebuild_requests`: 0014 asks it of a database whose views were projected
/// before the stored assessment existed). [`rebuild`] clears the requests.
pub async fn rebuild_requested(db: &Db) -> Result<Vec<String>, ViewError> {
    let rows = sqlx::query("SELECT reason FROM view_rebuild_requests ORDER BY reason")
        .fetch_all(&db.any)
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?)
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
    for (table, rows) in crate::assessment::stored::dump(db).await? {
        out[table] = rows;
    }
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
