//! The stored assessment: what the projectors keep so that a read without `as_of` costs
//! the same whatever the size of the log (ADR 0012, `docs/assessment.md`).
//!
//! Three tables (migration 0014):
//! - `assessment_items`: each record, rectification and complaint as the assessment
//!   folded it ([`Item`], JSON), so a batch folds on from where the last one stopped;
//! - `assessment_counts`: per quarter and unit, the settled figures (records by
//!   severity, rectifications and replies settled, visits, supervisions) and how many
//!   replies and rectifications are still owed with a due day in that quarter;
//! - `assessment_owed`: the same owed items per due day, unit and kind.
//!
//! Everything but the owed items is independent of the evaluation day. An owed item
//! counts as late once its due day has passed, so a read takes, per unit, the quarters'
//! counts, and turns the owed ones into late ones minus those not yet due: the rows of
//! `assessment_owed` due today or later in the period, a horizon of a few weeks of open
//! deadlines, not the log.
//!
//! A projector batch folds each aggregate's run into its item, collects the facts the
//! run emitted and the change of what the item stands on ([`Tally`]), and adds the
//! deltas to the counters with one multi-row upsert per table, in key order, as the last
//! writes of its transaction (two projectors' transactions that touch the same counters
//! lock them in the same order and hold them only until their commit). Counters that
//! fall back to zero are deleted, so an incrementally kept database and a rebuilt one
//! hold the same rows.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use probity_domain::assessment::{AssessmentFormula, Figures, Period};
use probity_domain::complaint::ComplaintWireEvent;
use probity_domain::subject::SubjectKind;
use probity_store::{Backend, Db, StoreError, StoredEvent};
use serde_json::{json, Value};
use sqlx::{Any, Row, Transaction};

use super::facts::{Fact, Figure, Item, OwedKind, Standing, ITEM_TYPES};
use super::{rows_of, AssessmentRow, SubjectInfo};
use crate::batch::{bound, placeholders, select_in, write_rows, Param, Run, CHUNK};
use crate::sql::{date_text, parse_date};
use crate::ViewError;

/// Counter columns of `assessment_counts`, in the order of a [`Counters`] array.
pub(crate) const COUNT_COLUMNS: [&str; 17] = [
    "minor_records",
    "ordinary_records",
    "serious_records",
    "rectifications_on_time",
    "rectifications_overdue",
    "replies_on_time",
    "replies_late",
    "visits",
    "satisfied",
    "supervisions",
    "owed_rectifications",
    "owed_replies",
    "supervision_replies_on_time",
    "supervision_replies_late",
    "owed_supervision_replies",
    "commitments_fulfilled",
    "commitments_breached",
];

/// One `assessment_counts` row's counters (or a change to them).
pub(crate) type Counters = [i64; 17];

const OWED_RECTIFICATIONS: usize = 10;
const OWED_REPLIES: usize = 11;
const OWED_SUPERVISION_REPLIES: usize = 14;

/// The counter columns a figure adds one to.
fn columns(figure: Figure) -> &'static [usize] {
    match figure {
        Figure::MinorRecord => &[0],
        Figure::OrdinaryRecord => &[1],
        Figure::SeriousRecord => &[2],
        Figure::RectificationOnTime => &[3],
        Figure::RectificationOverdue => &[4],
        Figure::ReplyOnTime => &[5],
        Figure::ReplyLate => &[6],
        Figure::Visit { satisfied: false } => &[7],
        Figure::Visit { satisfied: true } => &[7, 8],
        Figure::Supervision => &[9],
        Figure::SupervisionReplyOnTime => &[12],
        Figure::SupervisionReplyLate => &[13],
        Figure::CommitmentFulfilled => &[15],
        Figure::CommitmentBreached => &[16],
    }
}

fn owed_column(kind: OwedKind) -> usize {
    match kind {
        OwedKind::Rectification => OWED_RECTIFICATIONS,
        OwedKind::Reply => OWED_REPLIES,
        OwedKind::SupervisionReply => OWED_SUPERVISION_REPLIES,
    }
}

/// Changes to the counters, by key, in key order (the order rows are locked in).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Tally {
    /// (quarter, unit) → change of each counter.
    counts: BTreeMap<(String, String), Counters>,
    /// (due day, unit, kind) → change of the items owed.
    owed: BTreeMap<(String, String, OwedKind), i64>,
}

impl Tally {
    /// Counts a settled fact `sign` times (+1 or −1).
    pub fn fact(&mut self, fact: &Fact, sign: i64) {
        let key = (Period::quarter_of(fact.day).to_string(), fact.unit.clone());
        let row = self.counts.entry(key).or_default();
        for &c in columns(fact.figure) {
            row[c] += sign;
        }
    }

    /// Counts what an item stands on `sign` times.
    pub fn standing(&mut self, standing: &Standing, sign: i64) {
        match standing {
            Standing::Settled(fact) => self.fact(fact, sign),
            Standing::Owed(owed) => {
                let key = (Period::quarter_of(owed.due).to_string(), owed.unit.clone());
                self.counts.entry(key).or_default()[owed_column(owed.kind)] += sign;
                *self
                    .owed
                    .entry((date_text(owed.due), owed.unit.clone(), owed.kind))
                    .or_default() += sign;
            }
        }
    }

    /// Replaces what an item stood on by what it stands on now.
    pub fn restand(&mut self, before: Option<Standing>, after: Option<Standing>) {
        if before == after {
            return;
        }
        if let Some(before) = &before {
            self.standing(before, -1);
        }
        if let Some(after) = &after {
            self.standing(after, 1);
        }
    }

    /// Drops the keys whose changes cancelled out.
    fn without_zeros(mut self) -> Self {
        self.counts.retain(|_, c| c.iter().any(|v| *v != 0));
        self.owed.retain(|_, v| *v != 0);
        self
    }
}

/// A run of one aggregate being folded: its item as stored, as folded so far, and the
/// facts it emitted.
pub(crate) struct ItemRun {
    key: (String, String),
    before: Option<Item>,
    pub item: Option<Item>,
    pub emitted: Vec<Fact>,
}

impl ItemRun {
    /// Folds one complaint event (decoded already).
    pub fn complaint(&mut self, event: &ComplaintWireEvent) {
        Item::apply_complaint(&mut self.item, event, &mut self.emitted);
    }

    /// Folds one stored event of a record or a rectification.
    pub fn stored(&mut self, event: &StoredEvent) -> Result<(), StoreError> {
        Item::apply_stored(&mut self.item, event, &mut self.emitted).map_err(|e| {
            tracing::error!(error = %e, event_type = %event.event_type, "undecodable event for the assessment");
            StoreError::from(e)
        })
    }
}

/// The assessment's share of one projector batch: the stored items of the batch's
/// aggregates, the items that changed and the counter changes.
#[derive(Default)]
pub(crate) struct Projection {
    stored: HashMap<(String, String), Item>,
    changed: Vec<Vec<Param>>,
    tally: Tally,
}

/// Columns of `assessment_items`.
const ITEM_COLUMNS: &[&str] = &["aggregate_type", "aggregate_id", "state"];

fn item_row(ty: &str, id: &str, item: &Item) -> Result<Vec<Param>, serde_json::Error> {
    Ok(vec![
        Param::Text(ty.to_string()),
        Param::Text(id.to_string()),
        Param::Text(serde_json::to_string(item)?),
    ])
}

impl Projection {
    /// Reads the stored items of the runs' aggregates that the assessment folds and that
    /// had a position (the others have no item yet).
    pub async fn load(
        tx: &mut Transaction<'_, Any>,
        backend: Backend,
        runs: &[Run<'_>],
    ) -> Result<Self, StoreError> {
        let mut by_type: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for run in runs
            .iter()
            .filter(|r| r.from > 0 && ITEM_TYPES.contains(&r.aggregate_type))
        {
            by_type
                .entry(run.aggregate_type)
                .or_default()
                .push(run.aggregate_id.to_string());
        }
        let mut stored = HashMap::new();
        for (ty, ids) in by_type {
            let rows = select_in(
                tx,
                backend,
                "SELECT aggregate_id, state FROM assessment_items WHERE aggregate_type = $1 AND",
                &[ty],
                "aggregate_id",
                &ids,
                false,
            )
            .await?;
            for row in rows {
                let item: Item = serde_json::from_str(&row.try_get::<String, _>(1)?)?;
                stored.insert((ty.to_string(), row.try_get::<String, _>(0)?), item);
            }
        }
        Ok(Self {
            stored,
            ..Self::default()
        })
    }

    /// Starts folding a run of `ty`/`id` from its stored item.
    pub fn start(&mut self, ty: &str, id: &str) -> ItemRun {
        let key = (ty.to_string(), id.to_string());
        let before = self.stored.remove(&key);
        ItemRun {
            item: before.clone(),
            key,
            before,
            emitted: Vec::new(),
        }
    }

    /// Takes a folded run's changes: its emitted facts, the change of its standing, its
    /// item if it changed.
    pub fn finish(&mut self, run: ItemRun) -> Result<(), StoreError> {
        for fact in &run.emitted {
            self.tally.fact(fact, 1);
        }
        self.tally.restand(
            run.before.as_ref().and_then(Item::standing),
            run.item.as_ref().and_then(Item::standing),
        );
        if let Some(item) = run.item.filter(|item| run.before.as_ref() != Some(item)) {
            self.changed.push(item_row(&run.key.0, &run.key.1, &item)?);
        }
        Ok(())
    }

    /// Writes the changed items, then the counter changes (the last writes of the
    /// transaction: the counters are the rows other transactions may wait for).
    pub async fn write(
        self,
        tx: &mut Transaction<'_, Any>,
        backend: Backend,
    ) -> Result<(), StoreError> {
        write_rows(
            tx,
            "assessment_items",
            ITEM_COLUMNS,
            self.changed,
            Some(&["aggregate_type", "aggregate_id"]),
        )
        .await?;
        write_tally(tx, backend, self.tally).await
    }
}

/// Everything a rebuild folded: every item and every fact emitted.
#[derive(Default)]
pub(crate) struct Rebuilt {
    items: HashMap<(String, String), Item>,
    tally: Tally,
}

impl Rebuilt {
    /// Folds one event of a record, rectification or complaint (`complaint`: the event
    /// decoded already).
    pub fn apply(
        &mut self,
        event: &StoredEvent,
        complaint: Option<&ComplaintWireEvent>,
    ) -> Result<(), StoreError> {
        let key = (event.aggregate_type.clone(), event.aggregate_id.clone());
        let mut item = self.items.remove(&key);
        let mut emitted = Vec::new();
        let applied = match complaint {
            Some(body) => {
                Item::apply_complaint(&mut item, body, &mut emitted);
                Ok(())
            }
            None => Item::apply_stored(&mut item, event, &mut emitted),
        };
        for fact in &emitted {
            self.tally.fact(fact, 1);
        }
        if let Some(item) = item {
            self.items.insert(key, item);
        }
        Ok(applied?)
    }

    /// Writes every item and the counters into the (cleared) tables.
    pub async fn write(
        mut self,
        tx: &mut Transaction<'_, Any>,
        backend: Backend,
    ) -> Result<(), StoreError> {
        let mut rows = Vec::with_capacity(CHUNK);
        for ((ty, id), item) in self.items.drain() {
            if let Some(standing) = item.standing() {
                self.tally.standing(&standing, 1);
            }
            rows.push(item_row(&ty, &id, &item)?);
            if rows.len() >= CHUNK {
                write_rows(
                    tx,
                    "assessment_items",
                    ITEM_COLUMNS,
                    std::mem::take(&mut rows),
                    None,
                )
                .await?;
            }
        }
        write_rows(tx, "assessment_items", ITEM_COLUMNS, rows, None).await?;
        write_tally(tx, backend, self.tally).await
    }
}

/// How a row just written is found again: its `ctid` on Postgres, its `rowid` on SQLite,
/// as text (a lookup by physical address, whatever the planner thinks of the table).
fn locator(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "ctid::text",
        Backend::Sqlite => "CAST(rowid AS TEXT)",
    }
}

/// Adds the tally's changes to the counters, in key order, and deletes the rows that
/// fell back to zero.
async fn write_tally(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    tally: Tally,
) -> Result<(), StoreError> {
    let tally = tally.without_zeros();
    let counts: Vec<((String, String), Counters)> = tally.counts.into_iter().collect();
    let set: Vec<String> = COUNT_COLUMNS
        .iter()
        .map(|c| format!("{c} = assessment_counts.{c} + excluded.{c}"))
        .collect();
    let guard: Vec<String> = COUNT_COLUMNS.iter().map(|c| format!("{c} = 0")).collect();
    for chunk in counts.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO assessment_counts (quarter, unit, {}) VALUES {} \
             ON CONFLICT (quarter, unit) DO UPDATE SET {} RETURNING {}, {}",
            COUNT_COLUMNS.join(", "),
            placeholders(chunk.len(), 2 + COUNT_COLUMNS.len(), 1),
            set.join(", "),
            locator(backend),
            COUNT_COLUMNS.join(", "),
        );
        let params = chunk.iter().flat_map(|((quarter, unit), counters)| {
            [Param::Text(quarter.clone()), Param::Text(unit.clone())]
                .into_iter()
                .chain(counters.iter().map(|v| Param::Int(*v)))
        });
        let mut zero = Vec::new();
        for row in bound(&sql, params).fetch_all(&mut **tx).await? {
            let mut all_zero = true;
            for i in 0..COUNT_COLUMNS.len() {
                all_zero &= row.try_get::<i64, _>(1 + i)? == 0;
            }
            if all_zero {
                zero.push(row.try_get::<String, _>(0)?);
            }
        }
        delete_located(tx, backend, "assessment_counts", &guard.join(" AND "), zero).await?;
    }
    let owed: Vec<((String, String, OwedKind), i64)> = tally.owed.into_iter().collect();
    for chunk in owed.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO assessment_owed (due, unit, kind, items) VALUES {} \
             ON CONFLICT (due, unit, kind) DO UPDATE SET items = assessment_owed.items + excluded.items \
             RETURNING {}, items",
            placeholders(chunk.len(), 4, 1),
            locator(backend),
        );
        let params = chunk.iter().flat_map(|((due, unit, kind), n)| {
            [
                Param::Text(due.clone()),
                Param::Text(unit.clone()),
                Param::Text(kind.as_str().to_string()),
                Param::Int(*n),
            ]
        });
        let mut zero = Vec::new();
        for row in bound(&sql, params).fetch_all(&mut **tx).await? {
            if row.try_get::<i64, _>(1)? == 0 {
                zero.push(row.try_get::<String, _>(0)?);
            }
        }
        delete_located(tx, backend, "assessment_owed", "items = 0", zero).await?;
    }
    Ok(())
}

/// Deletes the rows of `table` at these [`locator`]s (rows this transaction just wrote,
/// so locked by it) if `guard` still holds.
async fn delete_located(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    table: &str,
    guard: &str,
    located: Vec<String>,
) -> Result<(), StoreError> {
    if located.is_empty() {
        return Ok(());
    }
    let (column, cast): (&str, fn(usize) -> String) = match backend {
        Backend::Postgres => ("ctid", |i| format!("${i}::tid")),
        Backend::Sqlite => ("rowid", |i| format!("CAST(${i} AS INTEGER)")),
    };
    let list: Vec<String> = (1..=located.len()).map(cast).collect();
    let sql = format!(
        "DELETE FROM {table} WHERE {guard} AND {column} IN ({})",
        list.join(", ")
    );
    bound(&sql, located.into_iter().map(Param::Text))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Every government and department assessed over `period` from the stored projection,
/// evaluated on `today`, ranked: the rows [`super::assess`] gives without `as_of` on a
/// log the projectors have caught up with. Reads the subjects, at most four counter rows
/// per unit and the owed items due from `today` to the end of the period, in one
/// snapshot.
pub async fn assess_stored(
    db: &Db,
    period: Period,
    today: NaiveDate,
    formula: &AssessmentFormula,
) -> Result<Vec<AssessmentRow>, ViewError> {
    let mut tx = db.any.begin().await?;
    if db.backend == Backend::Postgres {
        // The counters and the owed items as of one commit.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
    }
    let mut subjects = BTreeMap::new();
    let rows = sqlx::query(
        "SELECT code, name, kind, parent_code FROM subject_views \
         WHERE kind = 'government' OR kind = 'department'",
    )
    .fetch_all(&mut *tx)
    .await?;
    for row in rows {
        let kind = match row.try_get::<String, _>(2)?.as_str() {
            "government" => SubjectKind::Government,
            "department" => SubjectKind::Department,
            _ => continue,
        };
        subjects.insert(
            row.try_get::<String, _>(0)?,
            SubjectInfo {
                name: row.try_get(1)?,
                kind,
                parent_code: row.try_get(3)?,
            },
        );
    }

    let quarters: Vec<String> = period.quarters().iter().map(Period::to_string).collect();
    let sql = format!(
        "SELECT unit, {} FROM assessment_counts WHERE quarter IN ({})",
        COUNT_COLUMNS.join(", "),
        (1..=quarters.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rows = bound(&sql, quarters.into_iter().map(Param::Text))
        .fetch_all(&mut *tx)
        .await?;
    let mut counters: HashMap<String, Counters> = HashMap::new();
    for row in rows {
        let sum = counters.entry(row.try_get(0)?).or_default();
        for (i, v) in sum.iter_mut().enumerate() {
            *v += row.try_get::<i64, _>(1 + i)?;
        }
    }

    // Owed items not yet late on `today`: due today or later (and in the period).
    let from = today.max(period.first_day());
    if from <= period.last_day() {
        let rows = sqlx::query(
            "SELECT due, unit, kind, items FROM assessment_owed WHERE due >= $1 AND due <= $2",
        )
        .bind(date_text(from))
        .bind(date_text(period.last_day()))
        .fetch_all(&mut *tx)
        .await?;
        for row in rows {
            let due = parse_date(&row.try_get::<String, _>(0)?)?;
            let kind = OwedKind::parse(&row.try_get::<String, _>(2)?);
            let (Some(kind), false) = (kind, probity_domain::is_overdue(due, today)) else {
                continue;
            };
            counters.entry(row.try_get(1)?).or_default()[owed_column(kind)] -=
                row.try_get::<i64, _>(3)?;
        }
    }
    tx.commit().await?;

    let mut own = HashMap::with_capacity(counters.len());
    for (unit, c) in counters {
        own.insert(unit.clone(), figures(&unit, &c)?);
    }
    Ok(rows_of(&subjects, &own, period, formula))
}

/// A unit's figures from its summed counters, the owed items past due counted late.
fn figures(unit: &str, c: &Counters) -> Result<Figures, ViewError> {
    let n = |i: usize| {
        u32::try_from(c[i]).map_err(|_| {
            ViewError::Store(StoreError::Other(format!(
                "assessment counter {} of {unit} is {}",
                COUNT_COLUMNS[i], c[i]
            )))
        })
    };
    Ok(Figures {
        minor_records: n(0)?,
        ordinary_records: n(1)?,
        serious_records: n(2)?,
        rectifications_on_time: n(3)?,
        rectifications_overdue: n(4)? + n(OWED_RECTIFICATIONS)?,
        replies_on_time: n(5)?,
        replies_late: n(6)? + n(OWED_REPLIES)?,
        visits: n(7)?,
        satisfied: n(8)?,
        supervisions: n(9)?,
        supervision_replies_on_time: n(12)?,
        supervision_replies_late: n(13)? + n(OWED_SUPERVISION_REPLIES)?,
        commitments_fulfilled: n(15)?,
        commitments_breached: n(16)?,
    })
}

/// The assessment tables, rows in key order, as JSON (for [`crate::dump`]).
pub(crate) async fn dump(db: &Db) -> Result<Vec<(&'static str, Value)>, ViewError> {
    let items = sqlx::query(
        "SELECT aggregate_type, aggregate_id, state FROM assessment_items \
         ORDER BY aggregate_type, aggregate_id",
    )
    .fetch_all(&db.any)
    .await?
    .into_iter()
    .map(|r| -> Result<Value, ViewError> {
        Ok(json!({
            "aggregate_type": r.try_get::<String, _>(0)?,
            "aggregate_id": r.try_get::<String, _>(1)?,
            "state": serde_json::from_str::<Value>(&r.try_get::<String, _>(2)?)?,
        }))
    })
    .collect::<Result<Vec<_>, _>>()?;
    let counts = sqlx::query(&format!(
        "SELECT quarter, unit, {} FROM assessment_counts ORDER BY quarter, unit",
        COUNT_COLUMNS.join(", ")
    ))
    .fetch_all(&db.any)
    .await?
    .into_iter()
    .map(|r| -> Result<Value, ViewError> {
        let mut row = json!({
            "quarter": r.try_get::<String, _>(0)?,
            "unit": r.try_get::<String, _>(1)?,
        });
        for (i, c) in COUNT_COLUMNS.iter().enumerate() {
            row[*c] = json!(r.try_get::<i64, _>(2 + i)?);
        }
        Ok(row)
    })
    .collect::<Result<Vec<_>, _>>()?;
    let owed =
        sqlx::query("SELECT due, unit, kind, items FROM assessment_owed ORDER BY due, unit, kind")
            .fetch_all(&db.any)
            .await?
            .into_iter()
            .map(|r| -> Result<Value, ViewError> {
                Ok(json!({
                    "due": r.try_get::<String, _>(0)?,
                    "unit": r.try_get::<String, _>(1)?,
                    "kind": r.try_get::<String, _>(2)?,
                    "items": r.try_get::<i64, _>(3)?,
                }))
            })
            .collect::<Result<Vec<_>, _>>()?;
    Ok(vec![
        ("assessment_items", Value::Array(items)),
        ("assessment_counts", Value::Array(counts)),
        ("assessment_owed", Value::Array(owed)),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::facts::Owed;
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn an_item_that_moves_from_owed_to_settled_moves_its_counters() {
        // Owed by 2 April, replied on 31 March: on time in Q1, nothing left in Q2.
        let owed = Standing::Owed(Owed {
            unit: "u".into(),
            due: day("2026-04-02"),
            kind: OwedKind::Reply,
        });
        let replied = Standing::Settled(Fact {
            unit: "u".into(),
            day: day("2026-03-31"),
            figure: Figure::ReplyOnTime,
        });
        let mut tally = Tally::default();
        tally.restand(None, Some(owed.clone()));
        tally.restand(Some(owed), Some(replied));
        let tally = tally.without_zeros();
        let q1 = &tally.counts[&("2026-Q1".to_string(), "u".to_string())];
        assert_eq!(q1[5], 1, "on time in the quarter of the reply's day");
        assert!(
            !tally
                .counts
                .contains_key(&("2026-Q2".to_string(), "u".to_string())),
            "the owed item left the quarter of its due day"
        );
        assert!(tally.owed.is_empty(), "and its due day");
    }

    #[test]
    fn an_unchanged_standing_changes_nothing() {
        let s = Standing::Settled(Fact {
            unit: "u".into(),
            day: day("2026-01-01"),
            figure: Figure::Visit { satisfied: true },
        });
        let mut tally = Tally::default();
        tally.restand(Some(s.clone()), Some(s));
        assert_eq!(tally, Tally::default());
    }

    #[test]
    fn a_satisfied_visit_counts_a_visit_and_a_satisfied_one() {
        let mut f = Figures::default();
        Figure::Visit { satisfied: true }.add_to(&mut f);
        let mut c = Counters::default();
        for &i in columns(Figure::Visit { satisfied: true }) {
            c[i] += 1;
        }
        assert_eq!(figures("u", &c).unwrap(), f);
    }
}
