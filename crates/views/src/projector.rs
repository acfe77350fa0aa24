//! The complaint projector: folds committed complaint events into `complaint_views` and
//! `deadline_entries`, with each complaint's position in `projection_positions`, a whole
//! batch of events in one transaction.
//!
//! Exactly-once effect under redelivery and concurrency comes from [`crate::batch`]: inside
//! the transaction the positions of the batch's complaints are read (Postgres: locked in
//! key order), every event is classified against its complaint's position and the new
//! positions are claimed with guarded multi-row writes before any view is touched; a
//! redelivered event is `AlreadyApplied`, one after a hole a `Gap`. On SQLite the
//! transaction starts with a write, so it holds the database's write lock (waiting out
//! the busy timeout) before it reads anything. The stored rows of the claimed complaints
//! are then read with one query per table, each complaint's events folded in memory
//! ([`ComplaintFold`], the fold rebuild uses too), and every changed row written once:
//! one multi-row upsert of the views, one delete and one multi-row insert of the
//! deadlines that changed, then the assessment's items and counters
//! ([`crate::assessment::stored`]). `handle` is a batch of one.

use std::collections::HashMap;

use chrono::NaiveDate;
use probity_domain::complaint::{ComplaintEvent, ComplaintWireEvent};
use probity_store::{Applied, Backend, Db, Projector, StoreError, StoredEvent};
use sqlx::{Any, Row, Transaction};

use crate::assessment::stored::Projection;
use crate::batch::{delete_in, select_in, write_rows, Batch, Param, Run};
use crate::complaint_view::{reply_open, sign_open, ComplaintView, COMPLAINT_TYPE};
use crate::fold::decode_wire;
use crate::sql::{date_text, parse_date, ts_text};

/// Deadline kind: the unit's signature on a dispatched complaint.
pub const KIND_COMPLAINT_SIGN: &str = "complaint_sign";
/// Deadline kind: the unit's reply to a dispatched or reopened complaint.
pub const KIND_COMPLAINT_REPLY: &str = "complaint_reply";

/// Projects complaint events into the complaint view and the deadline board.
#[derive(Clone, Debug)]
pub struct ComplaintProjector {
    db: Db,
}

impl ComplaintProjector {
    /// Checkpoint key and durable consumer name.
    pub const NAME: &'static str = "complaints";

    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

/// One open deadline as stored in `deadline_entries`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryRow {
    pub kind: &'static str,
    pub unit: Option<String>,
    pub due: NaiveDate,
    pub provisional: bool,
}

/// The open deadlines of a complaint after `event` made it `view`. Which deadlines are
/// open follows the status; whether one is provisional comes from the event that set
/// it, else from the entry of that kind open before it (`existing`), else from the view.
pub(crate) fn open_deadlines<P>(
    view: &ComplaintView,
    event: &ComplaintEvent<P>,
    existing: &[EntryRow],
) -> Vec<EntryRow> {
    let (sign_set, reply_set) = match event {
        ComplaintEvent::ComplaintDispatched {
            sign_due,
            reply_due,
            ..
        } => (Some(sign_due.provisional), Some(reply_due.provisional)),
        ComplaintEvent::ExtensionApproved { reply_due, .. }
        | ComplaintEvent::ComplaintReopened { reply_due, .. } => {
            (None, Some(reply_due.provisional))
        }
        ComplaintEvent::DeadlinesRecomputed {
            sign_due,
            reply_due,
            ..
        } => (
            sign_due.map(|d| d.provisional),
            reply_due.map(|d| d.provisional),
        ),
        _ => (None, None),
    };
    let provisional = |kind: &str, set: Option<bool>| {
        set.or_else(|| {
            existing
                .iter()
                .find(|e| e.kind == kind)
                .map(|e| e.provisional)
        })
        .unwrap_or(view.deadlines_provisional)
    };
    let mut rows = Vec::new();
    if let (true, Some(due)) = (sign_open(&view.status), view.sign_due) {
        rows.push(EntryRow {
            kind: KIND_COMPLAINT_SIGN,
            unit: view.unit.clone(),
            due,
            provisional: provisional(KIND_COMPLAINT_SIGN, sign_set),
        });
    }
    if let (true, Some(due)) = (reply_open(&view.status), view.reply_due) {
        rows.push(EntryRow {
            kind: KIND_COMPLAINT_REPLY,
            unit: view.unit.clone(),
            due,
            provisional: provisional(KIND_COMPLAINT_REPLY, reply_set),
        });
    }
    rows
}

/// One complaint as folded so far: its view (none until it is filed) and its open
/// deadlines. The projector starts it from the stored rows, rebuild from nothing; both
/// fold with [`ComplaintFold::apply`].
#[derive(Debug, Default, Clone)]
pub(crate) struct ComplaintFold {
    pub view: Option<ComplaintView>,
    pub deadlines: Vec<EntryRow>,
}

impl ComplaintFold {
    /// One event (the aggregate's `sequence`-th). An event on no view leaves no view and
    /// no deadline, as when it was projected alone.
    pub fn apply(&mut self, id: &str, sequence: i64, event: &ComplaintWireEvent) {
        // `apply` keeps an existing view (never returns None for one), so taking it out
        // and putting the result back is the incremental store-or-leave.
        if let Some(view) = ComplaintView::apply(self.view.take(), id, sequence as u64, event) {
            self.deadlines = open_deadlines(&view, event, &self.deadlines);
            self.view = Some(view);
        }
    }
}

/// Columns of `complaint_views`, in the order of [`view_row`].
pub(crate) const VIEW_COLUMNS: &[&str] = &[
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

/// Columns of `deadline_entries`, in the order of [`deadline_row`].
pub(crate) const DEADLINE_COLUMNS: &[&str] =
    &["case_type", "case_id", "kind", "unit", "due", "provisional"];

/// A complaint view as a `complaint_views` row.
pub(crate) fn view_row(view: &ComplaintView) -> Result<Vec<Param>, serde_json::Error> {
    Ok(vec![
        Param::Text(view.id.clone()),
        Param::Int(view.version as i64),
        Param::Text(view.status.clone()),
        Param::Text(view.category.clone()),
        Param::OptText(view.unit.clone()),
        Param::Text(ts_text(view.received_at)),
        Param::OptText(view.sign_due.map(date_text)),
        Param::OptText(view.reply_due.map(date_text)),
        Param::Text(serde_json::to_string(view)?),
    ])
}

/// An open deadline of case `case_type`/`case_id` as a `deadline_entries` row.
pub(crate) fn deadline_row(
    case_type: &str,
    case_id: &str,
    kind: &str,
    unit: Option<String>,
    due: NaiveDate,
    provisional: bool,
) -> Vec<Param> {
    vec![
        Param::Text(case_type.to_string()),
        Param::Text(case_id.to_string()),
        Param::Text(kind.to_string()),
        Param::OptText(unit),
        Param::Text(date_text(due)),
        Param::Int(i64::from(provisional)),
    ]
}

/// The stored complaint views of `ids`.
async fn load_views(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    ids: &[String],
) -> Result<HashMap<String, ComplaintView>, StoreError> {
    let rows = select_in(
        tx,
        backend,
        "SELECT id, doc FROM complaint_views WHERE",
        &[],
        "id",
        ids,
        false,
    )
    .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in rows {
        let doc: String = row.try_get(1)?;
        out.insert(row.try_get::<String, _>(0)?, serde_json::from_str(&doc)?);
    }
    Ok(out)
}

/// The stored open deadlines of the complaints `ids`, sorted by kind. A kind this
/// projector does not write marks the complaint's entries as needing a rewrite.
async fn load_deadlines(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    ids: &[String],
) -> Result<HashMap<String, (Vec<EntryRow>, bool)>, StoreError> {
    let rows = select_in(
        tx,
        backend,
        "SELECT case_id, kind, unit, due, provisional FROM deadline_entries \
         WHERE case_type = $1 AND",
        &[COMPLAINT_TYPE],
        "case_id",
        ids,
        false,
    )
    .await?;
    let mut out: HashMap<String, (Vec<EntryRow>, bool)> = HashMap::new();
    for row in rows {
        let entry = out.entry(row.try_get::<String, _>(0)?).or_default();
        let kind = match row.try_get::<String, _>(1)?.as_str() {
            KIND_COMPLAINT_SIGN => KIND_COMPLAINT_SIGN,
            KIND_COMPLAINT_REPLY => KIND_COMPLAINT_REPLY,
            _ => {
                entry.1 = true;
                continue;
            }
        };
        let due = parse_date(&row.try_get::<String, _>(3)?).map_err(|e| match e {
            crate::ViewError::Store(e) => e,
            other => StoreError::Other(other.to_string()),
        })?;
        entry.0.push(EntryRow {
            kind,
            unit: row.try_get(2)?,
            due,
            provisional: row.try_get::<i64, _>(4)? != 0,
        });
    }
    for (entries, _) in out.values_mut() {
        entries.sort_by_key(|e| e.kind);
    }
    Ok(out)
}

/// Folds the claimed runs from their stored rows and writes every changed row once:
/// one multi-row upsert of the views, one delete and one multi-row insert of the
/// deadlines that changed.
async fn apply_runs(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    runs: &[Run<'_>],
) -> Result<(), StoreError> {
    // An aggregate without a position has no rows: the position and the rows are only
    // ever written together (here and by rebuild).
    let stored: Vec<String> = runs
        .iter()
        .filter(|r| r.from > 0)
        .map(|r| r.aggregate_id.to_string())
        .collect();
    let (mut views, mut deadlines) = if stored.is_empty() {
        (HashMap::new(), HashMap::new())
    } else {
        (
            load_views(tx, backend, &stored).await?,
            load_deadlines(tx, backend, &stored).await?,
        )
    };
    let mut assessment = Projection::load(tx, backend, runs).await?;
    let mut view_rows = Vec::with_capacity(runs.len());
    let mut cleared = Vec::new();
    let mut deadline_rows = Vec::new();
    for run in runs {
        let id = run.aggregate_id;
        let (before, dirty) = deadlines.remove(id).unwrap_or_default();
        let mut fold = ComplaintFold {
            view: views.remove(id),
            deadlines: before.clone(),
        };
        let mut assessed = assessment.start(COMPLAINT_TYPE, id);
        for event in &run.events {
            let body: ComplaintWireEvent = decode_wire(COMPLAINT_TYPE, &event.payload).inspect_err(|e| {
                tracing::error!(error = %e, event_type = %event.event_type, "undecodable complaint event");
            })?;
            fold.apply(id, event.sequence, &body);
            assessed.complaint(&body);
        }
        assessment.finish(assessed)?;
        let Some(view) = &fold.view else {
            continue;
        };
        view_rows.push(view_row(view)?);
        let mut after = fold.deadlines;
        after.sort_by_key(|e| e.kind);
        if dirty || after != before {
            if dirty || !before.is_empty() {
                cleared.push(id.to_string());
            }
            deadline_rows.extend(
                after.into_iter().map(|e| {
                    deadline_row(COMPLAINT_TYPE, id, e.kind, e.unit, e.due, e.provisional)
                }),
            );
        }
    }
    write_rows(
        tx,
        "complaint_views",
        VIEW_COLUMNS,
        view_rows,
        Some(&["id"]),
    )
    .await?;
    delete_in(
        tx,
        backend,
        "deadline_entries",
        ("case_type", COMPLAINT_TYPE),
        "case_id",
        &cleared,
    )
    .await?;
    write_rows(
        tx,
        "deadline_entries",
        DEADLINE_COLUMNS,
        deadline_rows,
        None,
    )
    .await?;
    // Last: the assessment counters are rows other transactions may wait for.
    assessment.write(tx, backend).await?;
    Ok(())
}

/// Opens a transaction for projecting. On SQLite its first statement is a (no-op)
/// write, so the transaction takes the write lock up front, waiting out the busy timeout,
/// instead of reading first and failing with BUSY when it later needs to write.
pub(crate) async fn begin_write(db: &Db) -> Result<Transaction<'static, Any>, StoreError> {
    let mut tx = db.any.begin().await?;
    if db.backend == Backend::Sqlite {
        sqlx::query("DELETE FROM projection_positions WHERE 1 = 0")
            .execute(&mut *tx)
            .await?;
    }
    Ok(tx)
}

#[async_trait::async_trait]
impl Projector for ComplaintProjector {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &[COMPLAINT_TYPE]
    }

    #[tracing::instrument(
        name = "complaint_projector",
        skip(self, event),
        fields(aggregate_id = %event.aggregate_id, sequence = event.sequence)
    )]
    async fn handle(&self, event: &StoredEvent) -> Result<Applied, StoreError> {
        let outcomes = self.handle_batch(std::slice::from_ref(event)).await?;
        Ok(outcomes[0])
    }

    #[tracing::instrument(name = "complaint_projector_batch", skip_all, fields(events = events.len()))]
    async fn handle_batch(&self, events: &[StoredEvent]) -> Result<Vec<Applied>, StoreError> {
        let mut batch = Batch::new(events, &[COMPLAINT_TYPE]);
        if batch.is_empty() {
            return Ok(batch.into_outcomes());
        }
        let mut tx = begin_write(&self.db).await?;
        let runs = batch.claim(&mut tx, self.db.backend, Self::NAME).await?;
        if runs.is_empty() {
            tx.rollback().await?;
        } else {
            apply_runs(&mut tx, self.db.backend, &runs).await?;
            tx.commit().await?;
        }
        Ok(batch.into_outcomes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use probity_domain::calendar::Deadline;
    use probity_domain::complaint::{Category, Channel};
    use probity_domain::ids::CreditCode;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, day).unwrap()
    }

    fn view(status: &str) -> ComplaintView {
        let filed: ComplaintWireEvent = ComplaintEvent::ComplaintFiled {
            category: Category::Help,
            channel: Channel::Web,
            subject_code: None,
            title: "t".into(),
            description: "d".into(),
            anonymous: true,
            reporter: None,
            received_at: Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap(),
        };
        let mut v = ComplaintView::apply(None, "c-9", 1, &filed).unwrap();
        v.status = status.into();
        v.unit = Some("914403001922038216".into());
        v.sign_due = Some(d(3));
        v.reply_due = Some(d(16));
        v
    }

    fn accepted() -> ComplaintEvent {
        ComplaintEvent::ComplaintAccepted {
            at: Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap(),
        }
    }

    #[test]
    fn a_dispatched_case_owes_its_signature_and_its_reply() {
        let event: ComplaintWireEvent = ComplaintEvent::ComplaintDispatched {
            unit: CreditCode::parse("914403001922038216").unwrap(),
            sign_due: Deadline {
                due: d(3),
                provisional: false,
            },
            reply_due: Deadline {
                due: d(16),
                provisional: true,
            },
            at: Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap(),
        };
        let rows = open_deadlines(&view("dispatched"), &event, &[]);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].kind, rows[0].due, rows[0].provisional),
            (KIND_COMPLAINT_SIGN, d(3), false)
        );
        assert_eq!(
            (rows[1].kind, rows[1].due, rows[1].provisional),
            (KIND_COMPLAINT_REPLY, d(16), true)
        );
        assert_eq!(rows[1].unit.as_deref(), Some("914403001922038216"));
    }

    #[test]
    fn a_signed_case_owes_only_its_reply_and_keeps_its_provisional_flag() {
        let entry = |kind, provisional| EntryRow {
            kind,
            unit: None,
            due: d(3),
            provisional,
        };
        let existing = [
            entry(KIND_COMPLAINT_SIGN, false),
            entry(KIND_COMPLAINT_REPLY, true),
        ];
        let rows = open_deadlines(&view("in_progress"), &accepted(), &existing);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].kind, KIND_COMPLAINT_REPLY);
        assert!(rows[0].provisional);
    }

    #[test]
    fn a_case_that_owes_nothing_has_no_open_deadline() {
        for status in [
            "received", "accepted", "declined", "returned", "replied", "closed", "merged",
        ] {
            assert!(
                open_deadlines(&view(status), &accepted(), &[]).is_empty(),
                "{status}"
            );
        }
    }
}
