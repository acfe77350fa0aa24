//! Batched projection: what both projectors (and rebuild) share to apply many events in
//! one transaction with set-based SQL instead of a few statements per event.
//!
//! A [`Batch`] takes any events, in any order, duplicates included, and groups the ones
//! its projector wants by aggregate. Inside the projector's transaction,
//! [`Batch::claim`] reads the positions of all those aggregates with one statement per
//! aggregate type (on Postgres `FOR UPDATE` in key order, so two transactions lock in the
//! same order and cannot deadlock; on SQLite the transaction already holds the write
//! lock), classifies every event against its aggregate's position — at or below it:
//! `AlreadyApplied`; the next ones without a hole: applied, as one [`Run`]; after a hole:
//! `Gap` — and claims the new positions with one guarded multi-row upsert (rows it has
//! locked; never backwards) and one multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING`
//! (aggregates seen for the first time: when a concurrent transaction inserted the same
//! one first, that one wins and these events are classified again against its
//! position). The projector then loads the stored rows of the claimed aggregates, folds
//! each run in memory, writes every changed row once ([`write_rows`], [`delete_in`]) and
//! commits: view changes and positions become visible together or not at all.
//!
//! Copies of one event in a batch (a redelivery that arrived while the first delivery
//! was still queued) all get the same answer, so a JetStream message is never both
//! acknowledged and negatively acknowledged.

use std::collections::{BTreeMap, HashMap, HashSet};

use probity_store::{Applied, Backend, StoreError, StoredEvent};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, Row, Transaction};

use crate::sql::ts_text;

/// Rows per multi-row statement, and keys per `IN` list (far below the bind limits of
/// both backends: Postgres 65,535, SQLite 32,766).
pub(crate) const CHUNK: usize = 1_000;

/// One bound value of an assembled statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Text(String),
    OptText(Option<String>),
    Int(i64),
}

/// `($first, $first+1, …), (…)`: `rows` groups of `columns` placeholders.
pub(crate) fn placeholders(rows: usize, columns: usize, first: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 7);
    let mut n = first;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&n.to_string());
            n += 1;
        }
        sql.push(')');
    }
    sql
}

/// `$first, …, $(first + n - 1)`.
fn list(n: usize, first: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A query over `sql` with `params` bound in order.
pub(crate) fn bound<'q>(
    sql: &'q str,
    params: impl IntoIterator<Item = Param>,
) -> sqlx::query::Query<'q, Any, AnyArguments<'q>> {
    let mut query = sqlx::query_with::<Any, AnyArguments>(sql, AnyArguments::default());
    for param in params {
        query = match param {
            Param::Text(v) => query.bind(v),
            Param::OptText(v) => query.bind(v),
            Param::Int(v) => query.bind(v),
        };
    }
    query
}

/// Writes `rows` into `table` with multi-row `INSERT`s of [`CHUNK`] rows. With
/// `upsert_key`, an existing row with that key is replaced (`ON CONFLICT (key) DO UPDATE
/// SET` every other column); a key must then appear at most once in `rows`.
pub(crate) async fn write_rows(
    tx: &mut Transaction<'_, Any>,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Param>>,
    upsert_key: Option<&[&str]>,
) -> Result<(), sqlx::Error> {
    let conflict = match upsert_key {
        None => String::new(),
        Some(key) => {
            let set: Vec<String> = columns
                .iter()
                .filter(|c| !key.contains(c))
                .map(|c| format!("{c} = excluded.{c}"))
                .collect();
            format!(
                " ON CONFLICT ({}) DO UPDATE SET {}",
                key.join(", "),
                set.join(", ")
            )
        }
    };
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Param>> = rows.by_ref().take(CHUNK).collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES {}{conflict}",
            columns.join(", "),
            placeholders(chunk.len(), columns.len(), 1)
        );
        bound(&sql, chunk.into_iter().flatten())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// How the rows of a list of keys are found. SQLite: `key IN (…)` (its planner always
/// probes the index). Postgres: a lateral lookup per key, `(VALUES …) AS v(k) CROSS JOIN
/// LATERAL (… key = v.k …)`, which can only run as one index probe per key, in the
/// order of the list. A plain `key IN (…)` lets the planner walk every row of a
/// composite key's prefix and filter (it did, on tables that grew faster than their
/// statistics: with `projector = $1 AND aggregate_type = $2` estimated at a handful of
/// rows, a batch's position read cost a walk over all positions, growing with them).
/// `fence` closes the lateral subquery (`FOR UPDATE`, or `OFFSET 0` so that it is not
/// flattened into a join).
fn keyed_select(
    backend: Backend,
    select: &str,
    leading: usize,
    key: &str,
    keys: usize,
    fence: &str,
) -> String {
    match backend {
        Backend::Sqlite => format!("{select} {key} IN ({})", list(keys, leading + 1)),
        Backend::Postgres => format!(
            "SELECT t.* FROM (VALUES {}) AS v (k) CROSS JOIN LATERAL \
             ({select} {key} = v.k {fence}) AS t",
            placeholders(keys, 1, leading + 1)
        ),
    }
}

/// `DELETE FROM table WHERE fixed.0 = fixed.1 AND key IN (ids)`, in chunks (on Postgres
/// through the rows' `ctid`s found by key, see [`keyed_select`]).
pub(crate) async fn delete_in(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    table: &str,
    fixed: (&str, &str),
    key: &str,
    ids: &[String],
) -> Result<(), sqlx::Error> {
    for chunk in ids.chunks(CHUNK) {
        let sql = match backend {
            Backend::Sqlite => format!(
                "DELETE FROM {table} WHERE {} = $1 AND {key} IN ({})",
                fixed.0,
                list(chunk.len(), 2)
            ),
            Backend::Postgres => format!(
                "DELETE FROM {table} WHERE ctid = ANY(ARRAY({}))",
                keyed_select(
                    backend,
                    &format!("SELECT ctid FROM {table} WHERE {} = $1 AND", fixed.0),
                    1,
                    key,
                    chunk.len(),
                    "OFFSET 0"
                )
                .replacen("SELECT t.*", "SELECT t.ctid", 1)
            ),
        };
        let params = std::iter::once(Param::Text(fixed.1.to_string()))
            .chain(chunk.iter().cloned().map(Param::Text));
        bound(&sql, params).execute(&mut **tx).await?;
    }
    Ok(())
}

/// The rows of `{select} {key} IN (ids)` for all `ids`, in chunks, found as
/// [`keyed_select`] says; `leading` are bound first as `$1…` (for the conditions in
/// `select`, which ends with `WHERE … AND` or `WHERE`). With `lock`, on Postgres, the
/// rows are locked `FOR UPDATE` in the order of `ids`.
pub(crate) async fn select_in(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    select: &str,
    leading: &[&str],
    key: &str,
    ids: &[String],
    lock: bool,
) -> Result<Vec<AnyRow>, sqlx::Error> {
    let fence = if lock { "FOR UPDATE" } else { "OFFSET 0" };
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let sql = keyed_select(backend, select, leading.len(), key, chunk.len(), fence);
        let params = leading
            .iter()
            .map(|v| Param::Text(v.to_string()))
            .chain(chunk.iter().cloned().map(Param::Text));
        out.extend(bound(&sql, params).fetch_all(&mut **tx).await?);
    }
    Ok(out)
}

/// The events of one aggregate that a batch applies: sequences `from + 1 ..= last()`,
/// in order.
#[derive(Debug)]
pub(crate) struct Run<'a> {
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    /// The aggregate's position before the batch (0: nothing applied yet, no row).
    pub from: i64,
    pub events: Vec<&'a StoredEvent>,
}

impl Run<'_> {
    /// The aggregate's position after the batch.
    pub fn last(&self) -> i64 {
        self.from + self.events.len() as i64
    }
}

/// A batch of events for one projector, grouped per aggregate, with the outcome of each.
pub(crate) struct Batch<'a> {
    events: &'a [StoredEvent],
    outcomes: Vec<Applied>,
    /// Indexes into `events` of the wanted ones, per `(aggregate_type, aggregate_id)`.
    groups: BTreeMap<(&'a str, &'a str), Vec<usize>>,
}

impl<'a> Batch<'a> {
    /// Groups the events of the `wanted` aggregate types; the others are answered
    /// `AlreadyApplied` (not ours: nothing to do, nothing changed).
    pub fn new(events: &'a [StoredEvent], wanted: &[&str]) -> Self {
        let mut groups: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
        for (i, event) in events.iter().enumerate() {
            if wanted.contains(&event.aggregate_type.as_str()) {
                groups
                    .entry((&event.aggregate_type, &event.aggregate_id))
                    .or_default()
                    .push(i);
            }
        }
        Self {
            events,
            outcomes: vec![Applied::AlreadyApplied; events.len()],
            groups,
        }
    }

    /// No event of a wanted type.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The outcome of each event, in the order given to [`Batch::new`].
    pub fn into_outcomes(self) -> Vec<Applied> {
        self.outcomes
    }

    /// Inside `tx`: reads (Postgres: locks) the positions of the batch's aggregates,
    /// classifies every event and claims the positions of the runs to apply, which it
    /// returns in key order. The outcomes are final once this returns, provided the
    /// caller writes the runs' view changes in `tx` and commits; on any error the caller
    /// drops `tx` (nothing changed) and reports the error for the whole batch.
    pub async fn claim(
        &mut self,
        tx: &mut Transaction<'_, Any>,
        backend: Backend,
        projector: &str,
    ) -> Result<Vec<Run<'a>>, StoreError> {
        let keys: Vec<(&str, &str)> = self.groups.keys().copied().collect();
        let positions = read_positions(tx, backend, projector, &keys, true).await?;
        let mut runs = Vec::new();
        for (&(ty, id), indexes) in &self.groups {
            let from = positions
                .get(&(ty.to_string(), id.to_string()))
                .copied()
                .unwrap_or(0);
            let events = classify(self.events, indexes, from, &mut self.outcomes);
            if !events.is_empty() {
                runs.push(Run {
                    aggregate_type: ty,
                    aggregate_id: id,
                    from,
                    events,
                });
            }
        }
        if runs.is_empty() {
            return Ok(runs);
        }
        let now = ts_text(chrono::Utc::now());
        let (moved, first): (Vec<&Run>, Vec<&Run>) = runs.iter().partition(|r| r.from > 0);
        let updated = move_positions(tx, projector, &moved, &now).await?;
        if updated != moved.len() as u64 {
            // Impossible while the rows are locked; never write views on a doubt.
            return Err(StoreError::Other(format!(
                "projector {projector}: {updated} of {} positions moved as read",
                moved.len()
            )));
        }
        let inserted = insert_positions(tx, projector, &first, &now).await?;
        if inserted.len() == first.len() {
            return Ok(runs);
        }
        // Lost races: another transaction inserted these positions first (the insert
        // waited for it to commit). Classify their events against its position.
        let lost: Vec<(&str, &str)> = first
            .iter()
            .map(|r| (r.aggregate_type, r.aggregate_id))
            .filter(|(t, i)| !inserted.contains(&(t.to_string(), i.to_string())))
            .collect();
        let now = read_positions(tx, backend, projector, &lost, false).await?;
        for key in &lost {
            let at = now
                .get(&(key.0.to_string(), key.1.to_string()))
                .copied()
                .unwrap_or(0);
            for &i in &self.groups[key] {
                self.outcomes[i] = if self.events[i].sequence <= at {
                    Applied::AlreadyApplied
                } else {
                    Applied::Gap
                };
            }
        }
        runs.retain(|r| !lost.contains(&(r.aggregate_type, r.aggregate_id)));
        Ok(runs)
    }
}

/// Classifies one aggregate's events against its position `from`, writing their
/// outcomes; returns the events to apply (the contiguous sequences after `from`).
/// Copies of one sequence share the answer (an applied one's copies say
/// `AlreadyApplied`, which is acknowledged the same way).
fn classify<'a>(
    events: &'a [StoredEvent],
    indexes: &[usize],
    from: i64,
    outcomes: &mut [Applied],
) -> Vec<&'a StoredEvent> {
    let mut order = indexes.to_vec();
    order.sort_by_key(|&i| events[i].sequence);
    let mut next = from + 1;
    let mut run = Vec::new();
    let mut previous: Option<(i64, Applied)> = None;
    for i in order {
        let sequence = events[i].sequence;
        let outcome = match previous {
            Some((seen, outcome)) if seen == sequence => match outcome {
                Applied::Applied => Applied::AlreadyApplied,
                other => other,
            },
            _ if sequence < next => Applied::AlreadyApplied,
            _ if sequence == next => {
                run.push(&events[i]);
                next += 1;
                Applied::Applied
            }
            _ => Applied::Gap,
        };
        if previous.is_none_or(|(seen, _)| seen != sequence) {
            previous = Some((sequence, outcome));
        }
        outcomes[i] = outcome;
    }
    run
}

/// The positions of `keys`, absent ones left out. With `lock` on Postgres the rows are
/// locked `FOR UPDATE` in (type, id) order.
async fn read_positions(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    projector: &str,
    keys: &[(&str, &str)],
    lock: bool,
) -> Result<HashMap<(String, String), i64>, StoreError> {
    let mut by_type: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (ty, id) in keys {
        by_type.entry(ty).or_default().push(id.to_string());
    }
    let mut out = HashMap::with_capacity(keys.len());
    for (ty, mut ids) in by_type {
        // Key order: every transaction locks in the same order.
        ids.sort();
        let rows = select_in(
            tx,
            backend,
            "SELECT aggregate_id, last_sequence FROM projection_positions \
             WHERE projector = $1 AND aggregate_type = $2 AND",
            &[projector, ty],
            "aggregate_id",
            &ids,
            lock,
        )
        .await?;
        for row in rows {
            out.insert(
                (ty.to_string(), row.try_get::<String, _>(0)?),
                row.try_get::<i64, _>(1)?,
            );
        }
    }
    Ok(out)
}

/// Moves existing (locked) positions to each run's `last()`, never backwards; returns
/// how many moved. An upsert rather than an `UPDATE … FROM (VALUES …)`: each row is
/// found through the primary key whatever the planner thinks of the table.
async fn move_positions(
    tx: &mut Transaction<'_, Any>,
    projector: &str,
    runs: &[&Run<'_>],
    now: &str,
) -> Result<u64, sqlx::Error> {
    let mut moved = 0;
    for chunk in runs.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO projection_positions \
             (projector, aggregate_type, aggregate_id, last_sequence, projected_at) VALUES {} \
             ON CONFLICT (projector, aggregate_type, aggregate_id) DO UPDATE \
             SET last_sequence = excluded.last_sequence, projected_at = excluded.projected_at \
             WHERE projection_positions.last_sequence < excluded.last_sequence",
            placeholders(chunk.len(), 5, 1)
        );
        let params = chunk.iter().flat_map(|r| position_row(projector, r, now));
        moved += bound(&sql, params)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    }
    Ok(moved)
}

fn position_row(projector: &str, run: &Run<'_>, now: &str) -> [Param; 5] {
    [
        Param::Text(projector.to_string()),
        Param::Text(run.aggregate_type.to_string()),
        Param::Text(run.aggregate_id.to_string()),
        Param::Int(run.last()),
        Param::Text(now.to_string()),
    ]
}

/// Inserts the positions of aggregates seen for the first time; returns the keys this
/// transaction inserted (a key another transaction inserted first is left out).
async fn insert_positions(
    tx: &mut Transaction<'_, Any>,
    projector: &str,
    runs: &[&Run<'_>],
    now: &str,
) -> Result<HashSet<(String, String)>, sqlx::Error> {
    let mut inserted = HashSet::with_capacity(runs.len());
    for chunk in runs.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO projection_positions \
             (projector, aggregate_type, aggregate_id, last_sequence, projected_at) VALUES {} \
             ON CONFLICT (projector, aggregate_type, aggregate_id) DO NOTHING \
             RETURNING aggregate_type, aggregate_id",
            placeholders(chunk.len(), 5, 1)
        );
        let params = chunk.iter().flat_map(|r| position_row(projector, r, now));
        for row in bound(&sql, params).fetch_all(&mut **tx).await? {
            inserted.insert((row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?));
        }
    }
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, sequence: i64) -> StoredEvent {
        StoredEvent {
            position: sequence,
            tx_id: sequence,
            aggregate_type: "complaint".into(),
            aggregate_id: id.into(),
            sequence,
            event_type: "E".into(),
            event_version: "1".into(),
            payload: serde_json::Value::Null,
            metadata: serde_json::Value::Null,
            recorded_at: chrono::Utc::now(),
        }
    }

    fn outcomes_of(sequences: &[i64], from: i64) -> (Vec<Applied>, Vec<i64>) {
        let events: Vec<_> = sequences.iter().map(|&s| event("a", s)).collect();
        let indexes: Vec<usize> = (0..events.len()).collect();
        let mut outcomes = vec![Applied::AlreadyApplied; events.len()];
        let run = classify(&events, &indexes, from, &mut outcomes);
        (outcomes, run.iter().map(|e| e.sequence).collect())
    }

    use Applied::{AlreadyApplied as Done, Applied as New, Gap};

    #[test]
    fn the_contiguous_events_after_the_position_are_applied_in_order() {
        assert_eq!(
            outcomes_of(&[3, 1, 2], 0),
            (vec![New, New, New], vec![1, 2, 3])
        );
    }

    #[test]
    fn events_at_or_below_the_position_are_already_applied() {
        assert_eq!(
            outcomes_of(&[2, 3, 4, 5], 3),
            (vec![Done, Done, New, New], vec![4, 5])
        );
    }

    #[test]
    fn everything_after_a_hole_is_a_gap() {
        assert_eq!(
            outcomes_of(&[1, 3, 4, 2, 6], 1),
            (vec![Done, New, New, New, Gap], vec![2, 3, 4])
        );
        assert_eq!(outcomes_of(&[5, 6], 3), (vec![Gap, Gap], vec![]));
    }

    #[test]
    fn copies_of_one_event_share_its_answer() {
        assert_eq!(
            outcomes_of(&[1, 1, 3, 3, 2], 0),
            (vec![New, Done, New, Done, New], vec![1, 2, 3])
        );
        assert_eq!(outcomes_of(&[5, 5], 3), (vec![Gap, Gap], vec![]));
        assert_eq!(outcomes_of(&[2, 2], 3), (vec![Done, Done], vec![]));
    }

    #[test]
    fn a_batch_groups_per_aggregate_and_answers_foreign_types_already_applied() {
        let mut other = event("x", 1);
        other.aggregate_type = "subject".into();
        let events = vec![event("b", 1), other, event("a", 1), event("b", 2)];
        let batch = Batch::new(&events, &["complaint"]);
        let keys: Vec<_> = batch.groups.keys().copied().collect();
        assert_eq!(keys, vec![("complaint", "a"), ("complaint", "b")]);
        assert_eq!(batch.groups[&("complaint", "b")], vec![0, 3]);
        assert_eq!(batch.into_outcomes()[1], Done);
    }

    #[test]
    fn placeholders_number_rows_from_the_first() {
        assert_eq!(placeholders(2, 3, 2), "($2, $3, $4), ($5, $6, $7)");
        assert_eq!(list(3, 4), "$4, $5, $6");
    }
}
