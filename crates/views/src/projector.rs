//! The complaint projector: folds each committed complaint event into `complaint_views`
//! and `deadline_entries`, with its per-aggregate position in `projection_positions`,
//! all in one transaction.
//!
//! Exactly-once effect under redelivery and concurrency: inside the transaction the
//! position is read, then claimed with a guarded write (`UPDATE .. WHERE last_sequence =
//! $old`, or `INSERT .. ON CONFLICT DO NOTHING` for an aggregate's first event) before
//! the view is touched. On Postgres the claim waits for a concurrent transaction holding
//! the position row and then finds it moved, so the event reports `AlreadyApplied`
//! without a second effect. On SQLite the transaction starts with a write, so it holds
//! the database's write lock (waiting out the busy timeout) before it reads anything.
//! The view row is only read after the claim, so the fold always starts from the state
//! the position describes. Rebuild applies whole pages through the same code, one
//! transaction per page.

use std::collections::HashMap;

use chrono::NaiveDate;
use probity_domain::complaint::ComplaintEvent;
use probity_store::{Applied, Backend, Db, Projector, StoreError, StoredEvent};
use sqlx::{Any, Row, Transaction};

use crate::complaint_view::{decode_event, reply_open, sign_open, ComplaintView, COMPLAINT_TYPE};
use crate::sql::{date_text, ts_text};

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
/// it, else from the stored entry (`existing`, kind → provisional), else from the view.
pub(crate) fn open_deadlines(
    view: &ComplaintView,
    event: &ComplaintEvent,
    existing: &HashMap<String, bool>,
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
        set.or_else(|| existing.get(kind).copied())
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

/// The last applied sequence of one aggregate for one projector (0 if none).
pub(crate) async fn read_position<'e, E>(
    executor: E,
    projector: &str,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<i64, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let row = sqlx::query(
        "SELECT last_sequence FROM projection_positions \
         WHERE projector = $1 AND aggregate_type = $2 AND aggregate_id = $3",
    )
    .bind(projector)
    .bind(aggregate_type)
    .bind(aggregate_id)
    .fetch_optional(executor)
    .await?;
    row.map(|r| r.try_get::<i64, _>(0))
        .transpose()
        .map(|v| v.unwrap_or(0))
}

/// Moves the position from `old` to `new`; false when another transaction moved it
/// first (nothing was changed then).
pub(crate) async fn claim_position(
    tx: &mut Transaction<'_, Any>,
    projector: &str,
    event: &StoredEvent,
    old: i64,
) -> Result<bool, sqlx::Error> {
    let result = if old == 0 {
        sqlx::query(
            "INSERT INTO projection_positions \
             (projector, aggregate_type, aggregate_id, last_sequence, projected_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (projector, aggregate_type, aggregate_id) DO NOTHING",
        )
        .bind(projector)
        .bind(&event.aggregate_type)
        .bind(&event.aggregate_id)
        .bind(event.sequence)
        .bind(ts_text(chrono::Utc::now()))
        .execute(&mut **tx)
        .await?
    } else {
        sqlx::query(
            "UPDATE projection_positions SET last_sequence = $1, projected_at = $6 \
             WHERE projector = $2 AND aggregate_type = $3 AND aggregate_id = $4 \
             AND last_sequence = $5",
        )
        .bind(event.sequence)
        .bind(projector)
        .bind(&event.aggregate_type)
        .bind(&event.aggregate_id)
        .bind(old)
        .bind(ts_text(chrono::Utc::now()))
        .execute(&mut **tx)
        .await?
    };
    Ok(result.rows_affected() == 1)
}

async fn load_view(
    tx: &mut Transaction<'_, Any>,
    id: &str,
) -> Result<Option<ComplaintView>, StoreError> {
    let row = sqlx::query("SELECT doc FROM complaint_views WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        Some(row) => {
            let doc: String = row.try_get(0)?;
            Ok(Some(serde_json::from_str(&doc)?))
        }
        None => Ok(None),
    }
}

async fn store_view(tx: &mut Transaction<'_, Any>, view: &ComplaintView) -> Result<(), StoreError> {
    let doc = serde_json::to_string(view)?;
    sqlx::query(
        "INSERT INTO complaint_views \
         (id, version, status, category, unit, received_at, sign_due, reply_due, doc) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, status = excluded.status, \
         category = excluded.category, unit = excluded.unit, received_at = excluded.received_at, \
         sign_due = excluded.sign_due, reply_due = excluded.reply_due, doc = excluded.doc",
    )
    .bind(&view.id)
    .bind(view.version as i64)
    .bind(&view.status)
    .bind(&view.category)
    .bind(view.unit.clone())
    .bind(ts_text(view.received_at))
    .bind(view.sign_due.map(date_text))
    .bind(view.reply_due.map(date_text))
    .bind(doc)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn store_deadlines(
    tx: &mut Transaction<'_, Any>,
    view: &ComplaintView,
    event: &ComplaintEvent,
) -> Result<(), StoreError> {
    let rows = sqlx::query(
        "SELECT kind, provisional FROM deadline_entries WHERE case_type = $1 AND case_id = $2",
    )
    .bind(COMPLAINT_TYPE)
    .bind(&view.id)
    .fetch_all(&mut **tx)
    .await?;
    let mut existing = HashMap::new();
    for row in rows {
        existing.insert(row.try_get::<String, _>(0)?, row.try_get::<i64, _>(1)? != 0);
    }
    let open = open_deadlines(view, event, &existing);
    sqlx::query("DELETE FROM deadline_entries WHERE case_type = $1 AND case_id = $2")
        .bind(COMPLAINT_TYPE)
        .bind(&view.id)
        .execute(&mut **tx)
        .await?;
    for entry in open {
        sqlx::query(
            "INSERT INTO deadline_entries (case_type, case_id, kind, unit, due, provisional) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(COMPLAINT_TYPE)
        .bind(&view.id)
        .bind(entry.kind)
        .bind(entry.unit)
        .bind(date_text(entry.due))
        .bind(i64::from(entry.provisional))
        .execute(&mut **tx)
        .await?;
    }
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

/// Applies one event inside `tx`: classifies it against the position, claims the
/// position and writes the view change. Changes nothing unless it returns `Applied`.
async fn project_one(
    tx: &mut Transaction<'_, Any>,
    projector: &str,
    event: &StoredEvent,
) -> Result<Applied, StoreError> {
    let id = event.aggregate_id.as_str();
    let classify = |last: i64| {
        if event.sequence <= last {
            Some(Applied::AlreadyApplied)
        } else if event.sequence > last + 1 {
            Some(Applied::Gap)
        } else {
            None
        }
    };
    let last = read_position(&mut **tx, projector, COMPLAINT_TYPE, id).await?;
    if let Some(outcome) = classify(last) {
        return Ok(outcome);
    }
    let body = decode_event(&event.payload).inspect_err(|e| {
        tracing::error!(error = %e, event_type = %event.event_type, "undecodable complaint event");
    })?;
    if !claim_position(tx, projector, event, last).await? {
        // Another process moved the position since we read it (on Postgres the claim
        // waited for its commit); a failed claim changed nothing.
        let now = read_position(&mut **tx, projector, COMPLAINT_TYPE, id).await?;
        return Ok(classify(now).unwrap_or(Applied::Gap));
    }
    let current = load_view(tx, id).await?;
    if let Some(view) = ComplaintView::apply(current, id, event.sequence as u64, &body) {
        store_view(tx, &view).await?;
        store_deadlines(tx, &view, &body).await?;
    }
    Ok(Applied::Applied)
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
        if event.aggregate_type != COMPLAINT_TYPE {
            // Not ours: nothing to do, nothing changed.
            return Ok(Applied::AlreadyApplied);
        }
        // A redelivery or an early event is answered without taking a write lock.
        let last = read_position(
            &self.db.any,
            Self::NAME,
            COMPLAINT_TYPE,
            &event.aggregate_id,
        )
        .await?;
        if event.sequence <= last {
            return Ok(Applied::AlreadyApplied);
        }
        if event.sequence > last + 1 {
            return Ok(Applied::Gap);
        }
        let mut tx = begin_write(&self.db).await?;
        let outcome = project_one(&mut tx, Self::NAME, event).await?;
        if outcome == Applied::Applied {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(outcome)
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
        let filed = ComplaintEvent::ComplaintFiled {
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
        let event = ComplaintEvent::ComplaintDispatched {
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
        let rows = open_deadlines(&view("dispatched"), &event, &HashMap::new());
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
        let existing = HashMap::from([
            (KIND_COMPLAINT_SIGN.to_string(), false),
            (KIND_COMPLAINT_REPLY.to_string(), true),
        ]);
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
                open_deadlines(&view(status), &accepted(), &HashMap::new()).is_empty(),
                "{status}"
            );
        }
    }
}
