//! Open data for third-party evaluators (§3 of the city's opinions): the public records
//! as a change feed read in bulk, incremental by an opaque cursor.
//!
//! A cursor names a point of the event log in commit-safe order (`tx_id`, `position`, as
//! the relay walks it) together with the reader's day. A pull answers every record whose
//! public form may have changed after the cursor it was given: those with an event of
//! their own, of a repair or objection about them or of their subject after that point,
//! and those whose publicity window opened or closed on a day after the cursor's day. Each
//! is written as it stands now: an `upsert` with its public form when the public
//! disclosure shows it, otherwise a `delete` with its id alone (withdrawn, repaired,
//! stopped, unlisted or past its window: which of them is not said, as the disclosure
//! does not say it either). The first pull (no cursor) answers every shown record.
//!
//! The cursor a pull hands out is never ahead of the views: it stops before the first
//! event of those aggregates the integrity projector has not applied yet (and, on
//! Postgres, before any transaction still running), so nothing can change behind it. A
//! change projected early is answered again by the next pull: the feed is at least once,
//! applied by `id`.
//!
//! Civil servants' records are never in it, not even as a `delete`.
//!
//! The commitments feed ([`Views::open_data_commitments`]) reads the same way: the
//! published commitments (the kinds `GET /public/commitments` lists, township public
//! commitments and investment promises) with an event of their own or of their subject
//! after the cursor, each as it stands now. A published commitment is never withdrawn
//! from the list (its changes and fulfilment are part of what is published), so its lines
//! are all `upsert`s; repair commitments are never in it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::NaiveDate;
use probity_domain::aggregate_type::{COMMITMENT, OBJECTION, RECORD, REPAIR, SUBJECT};
use probity_store::Backend;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::integrity::queries::{NOT_ENDED, UNDER_OBJECTION};
use crate::integrity::{
    IntegrityProjector, PublicCommitment, PublicRecord, PUBLIC_COMMITMENT_KINDS,
};
use crate::sql::{date_text, parse_date};
use crate::{ViewError, Views};

/// Where a pull of the open data stopped: a point of the log in commit-safe order and the
/// reader's day. Opaque to readers (`Display` / `FromStr` give its text form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenDataCursor {
    /// Transaction id of the last event covered.
    pub tx_id: i64,
    /// Position of the last event covered (inside `tx_id`).
    pub position: i64,
    /// The reader's day the pull was answered for.
    pub day: NaiveDate,
}

#[derive(Serialize, Deserialize)]
struct CursorText(i64, i64, String);

impl std::fmt::Display for OpenDataCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = serde_json::to_vec(&CursorText(self.tx_id, self.position, date_text(self.day)))
            .map_err(|_| std::fmt::Error)?;
        f.write_str(&URL_SAFE_NO_PAD.encode(text))
    }
}

impl std::str::FromStr for OpenDataCursor {
    type Err = ViewError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = URL_SAFE_NO_PAD
            .decode(s.trim())
            .map_err(|_| ViewError::InvalidCursor)?;
        let CursorText(tx_id, position, day) =
            serde_json::from_slice(&bytes).map_err(|_| ViewError::InvalidCursor)?;
        if tx_id < 0 || position < 0 {
            return Err(ViewError::InvalidCursor);
        }
        let day = parse_date(&day).map_err(|_| ViewError::InvalidCursor)?;
        Ok(Self {
            tx_id,
            position,
            day,
        })
    }
}

/// One line of the records feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum RecordChange {
    /// The record as the public disclosure shows it now.
    Upsert(PublicRecord),
    /// The record is not (or no longer) shown: drop it.
    Delete {
        /// The record's id.
        id: String,
    },
}

impl RecordChange {
    /// The record's id.
    pub fn id(&self) -> &str {
        match self {
            Self::Upsert(r) => &r.id,
            Self::Delete { id } => id,
        }
    }
}

/// One line of the commitments feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum CommitmentLine {
    /// The commitment as the public list shows it now.
    Upsert(PublicCommitment),
}

impl CommitmentLine {
    /// The commitment's id.
    pub fn id(&self) -> &str {
        match self {
            Self::Upsert(c) => &c.id,
        }
    }
}

/// The aggregates whose events change a record's public form.
pub const RECORD_FEED_TYPES: [&str; 4] = [SUBJECT, RECORD, REPAIR, OBJECTION];

/// The aggregates whose events change a published commitment's public form.
pub const COMMITMENT_FEED_TYPES: [&str; 2] = [SUBJECT, COMMITMENT];

/// A bind value of the feed's SQL.
enum Bound {
    Int(i64),
    Text(String),
}

/// Bind values and their placeholders, each placeholder used once.
#[derive(Default)]
struct Params(Vec<Bound>);

impl Params {
    fn push(&mut self, value: Bound) -> String {
        self.0.push(value);
        format!("${}", self.0.len())
    }

    /// `e` is after cursor `from` and at or before cursor `to` (commit-safe order).
    fn in_range(&mut self, from: (i64, i64), to: (i64, i64)) -> String {
        let (a, b) = (self.push(Bound::Int(from.0)), self.push(Bound::Int(from.0)));
        let c = self.push(Bound::Int(from.1));
        let (d, e) = (self.push(Bound::Int(to.0)), self.push(Bound::Int(to.0)));
        let f = self.push(Bound::Int(to.1));
        format!(
            "(e.tx_id > {a} OR (e.tx_id = {b} AND e.position > {c})) \
             AND (e.tx_id < {d} OR (e.tx_id = {e} AND e.position <= {f}))"
        )
    }

    async fn fetch_all(
        self,
        sql: &str,
        pool: &sqlx::AnyPool,
    ) -> Result<Vec<sqlx::any::AnyRow>, sqlx::Error> {
        let mut query = sqlx::query(sql);
        for value in self.0 {
            query = match value {
                Bound::Int(v) => query.bind(v),
                Bound::Text(v) => query.bind(v),
            };
        }
        query.fetch_all(pool).await
    }
}

/// The condition "the public disclosure shows record `r` on `today`" (as
/// `Views::public_records` decides it).
fn shown(params: &mut Params, today: NaiveDate) -> String {
    let (t1, t2) = (
        params.push(Bound::Text(date_text(today))),
        params.push(Bound::Text(date_text(today))),
    );
    format!(
        "(r.status = 'active' AND r.published = 1 AND r.pub_start <= {t1} AND {t2} < r.pub_ends \
         AND {NOT_ENDED})"
    )
}

impl Views {
    /// The cursor a pull answered on `today` hands out: the newest point of the log that
    /// is committed (nothing older can still commit) and projected into the integrity
    /// views for every aggregate the feed reads (`feed_types`, e.g.
    /// [`RECORD_FEED_TYPES`]), never before `after`.
    pub async fn open_data_cursor(
        &self,
        after: Option<OpenDataCursor>,
        today: NaiveDate,
        feed_types: &[&str],
    ) -> Result<OpenDataCursor, ViewError> {
        let head_sql = match self.db.backend {
            Backend::Postgres => {
                "SELECT tx_id, position FROM events \
                 WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint \
                 ORDER BY tx_id DESC, position DESC LIMIT 1"
            }
            Backend::Sqlite => "SELECT tx_id, position FROM events ORDER BY position DESC LIMIT 1",
        };
        let from = after.map_or((0, 0), |c| (c.tx_id, c.position));
        let head = sqlx::query(head_sql).fetch_optional(&self.db.any).await?;
        let head = match head {
            Some(row) => (row.try_get::<i64, _>(0)?, row.try_get::<i64, _>(1)?),
            None => (0, 0),
        };
        if head <= from {
            return Ok(OpenDataCursor {
                tx_id: from.0,
                position: from.1,
                day: today,
            });
        }
        let types = feed_types
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut params = Params::default();
        let projector = params.push(Bound::Text(IntegrityProjector::NAME.into()));
        let range = params.in_range(from, head);
        let sql = format!(
            "SELECT e.tx_id, e.position FROM events e \
             LEFT JOIN projection_positions p ON p.projector = {projector} \
               AND p.aggregate_type = e.aggregate_type AND p.aggregate_id = e.aggregate_id \
             WHERE {range} AND e.aggregate_type IN ({types}) \
               AND (p.last_sequence IS NULL OR p.last_sequence < e.sequence) \
             ORDER BY e.tx_id, e.position LIMIT 1"
        );
        let pending = params.fetch_all(&sql, &self.db.any).await?;
        let (tx_id, position) = match pending.first() {
            // Just before the first event not projected yet.
            Some(row) => (row.try_get::<i64, _>(0)?, row.try_get::<i64, _>(1)? - 1),
            None => head,
        };
        Ok(OpenDataCursor {
            tx_id,
            position,
            day: today,
        })
    }

    /// Up to `limit` lines of the records feed with an id after `after_id`, in id order:
    /// every shown record when `since` is `None`, otherwise every record that may have
    /// changed after `since` up to `until` (see the module documentation), as it stands
    /// on `until`'s day.
    pub async fn open_data_records(
        &self,
        since: Option<OpenDataCursor>,
        until: OpenDataCursor,
        after_id: &str,
        limit: u32,
    ) -> Result<Vec<RecordChange>, ViewError> {
        let mut params = Params::default();
        let shown_column = shown(&mut params, until.day);
        let after = params.push(Bound::Text(after_id.to_string()));
        let which = match since {
            None => shown(&mut params, until.day),
            Some(since) => {
                let (from, to) = ((since.tx_id, since.position), (until.tx_id, until.position));
                let mut changed_by = |ty: &str, id_sql: &str| {
                    let range = params.in_range(from, to);
                    let join = match ty {
                        RECORD => "",
                        REPAIR => "JOIN repair_views x ON x.id = e.aggregate_id",
                        OBJECTION => "JOIN objection_views x ON x.id = e.aggregate_id",
                        _ => "JOIN record_views x ON x.subject_code = e.aggregate_id",
                    };
                    format!(
                        "SELECT {id_sql} FROM events e {join} \
                         WHERE e.aggregate_type = '{ty}' AND {range}"
                    )
                };
                let ids = [
                    changed_by(RECORD, "e.aggregate_id"),
                    changed_by(REPAIR, "x.record_id"),
                    changed_by(OBJECTION, "x.record_id"),
                    changed_by(SUBJECT, "x.id"),
                ]
                .join(" UNION ");
                let mut day = |d: NaiveDate| params.push(Bound::Text(date_text(d)));
                let (s1, u1, s2, u2) = (
                    day(since.day),
                    day(until.day),
                    day(since.day),
                    day(until.day),
                );
                format!(
                    "(r.id IN ({ids}) \
                     OR ({s1} < r.pub_start AND r.pub_start <= {u1}) \
                     OR ({s2} < r.pub_ends AND r.pub_ends <= {u2}))"
                )
            }
        };
        let sql = format!(
            "SELECT r.id, r.subject_code, s.name, r.sector, r.severity, r.source, r.source_ref, \
             r.decision_date, r.summary, r.pub_ends, {UNDER_OBJECTION}, \
             CAST(CASE WHEN {shown_column} THEN 1 ELSE 0 END AS BIGINT) \
             FROM record_views r JOIN subject_views s ON s.code = r.subject_code \
             WHERE r.civil_servant_id IS NULL AND r.id > {after} AND {which} \
             ORDER BY r.id LIMIT {}",
            limit.clamp(1, 10_000)
        );
        let rows = params.fetch_all(&sql, &self.db.any).await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get(0)?;
                if row.try_get::<i64, _>(11)? == 0 {
                    return Ok(RecordChange::Delete { id });
                }
                let ends = parse_date(&row.try_get::<String, _>(9)?)?;
                Ok(RecordChange::Upsert(PublicRecord {
                    id,
                    subject_code: row.try_get(1)?,
                    subject_name: row.try_get(2)?,
                    sector: row.try_get(3)?,
                    severity: row.try_get(4)?,
                    source: row.try_get(5)?,
                    source_ref: row.try_get(6)?,
                    decision_date: parse_date(&row.try_get::<String, _>(7)?)?,
                    summary: row.try_get(8)?,
                    published_until: ends.pred_opt().unwrap_or(ends),
                    under_objection: row.try_get::<i64, _>(10)? != 0,
                }))
            })
            .collect()
    }
}

impl Views {
    /// Up to `limit` lines of the commitments feed with an id after `after_id`, in id
    /// order: every published commitment when `since` is `None`, otherwise those with an
    /// event of their own or of their subject after `since` up to `until`, as they stand.
    pub async fn open_data_commitments(
        &self,
        since: Option<OpenDataCursor>,
        until: OpenDataCursor,
        after_id: &str,
        limit: u32,
    ) -> Result<Vec<CommitmentLine>, ViewError> {
        let mut params = Params::default();
        let (k1, k2) = (
            params.push(Bound::Text(PUBLIC_COMMITMENT_KINDS[0].into())),
            params.push(Bound::Text(PUBLIC_COMMITMENT_KINDS[1].into())),
        );
        let after = params.push(Bound::Text(after_id.to_string()));
        let which = match since {
            None => "1 = 1".to_string(),
            Some(since) => {
                let (from, to) = ((since.tx_id, since.position), (until.tx_id, until.position));
                let own = params.in_range(from, to);
                let subject = params.in_range(from, to);
                format!(
                    "(c.id IN (SELECT e.aggregate_id FROM events e \
                      WHERE e.aggregate_type = '{COMMITMENT}' AND {own}) \
                     OR c.subject_code IN (SELECT e.aggregate_id FROM events e \
                      WHERE e.aggregate_type = '{SUBJECT}' AND {subject}))"
                )
            }
        };
        let sql = format!(
            "SELECT c.doc, s.name FROM commitment_views c \
             JOIN subject_views s ON s.code = c.subject_code \
             WHERE c.kind IN ({k1}, {k2}) AND c.id > {after} AND {which} \
             ORDER BY c.id LIMIT {}",
            limit.clamp(1, 10_000)
        );
        let rows = params.fetch_all(&sql, &self.db.any).await?;
        rows.iter()
            .map(|row| {
                Ok(CommitmentLine::Upsert(PublicCommitment::from_doc(
                    &row.try_get::<String, _>(0)?,
                    row.try_get(1)?,
                )?))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_a_forged_one_is_refused() {
        let cursor = OpenDataCursor {
            tx_id: 812,
            position: 4_031,
            day: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
        };
        let text = cursor.to_string();
        assert_eq!(text.parse::<OpenDataCursor>().unwrap(), cursor);
        for forged in [
            "",
            "abc",
            "WzEsMl0",
            &URL_SAFE_NO_PAD.encode("[-1,2,\"2026-03-02\"]"),
        ] {
            assert!(forged.parse::<OpenDataCursor>().is_err(), "{forged}");
        }
    }
}
