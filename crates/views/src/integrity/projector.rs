//! The integrity projector: folds each committed event of the seven integrity aggregates
//! into its own row (and its open deadlines), with its per-aggregate position, in one
//! transaction. Same exactly-once protocol as the complaint projector (read, claim with a
//! guarded write, then touch the view); rebuild replays the same `project_in_tx`.

use chrono::NaiveDate;
use probity_domain::calendar::WorkingCalendar;
use probity_store::{Applied, Db, Projector, StoreError, StoredEvent};
use sqlx::{Any, Row, Transaction};

use super::docs::*;
use crate::projector::{begin_write, claim_position, read_position};
use crate::sql::{date_text, ts_text};

/// Deadline kinds of the integrity aggregates on the supervisors' board.
pub const KIND_RECTIFICATION: &str = "rectification";
/// A repair application waiting for acceptance.
pub const KIND_REPAIR_ACCEPTANCE: &str = "repair_acceptance";
/// An accepted repair waiting for its decision.
pub const KIND_REPAIR_DECISION: &str = "repair_decision";
/// An objection waiting for its decision.
pub const KIND_OBJECTION_DECISION: &str = "objection_decision";

/// Projects the integrity aggregates.
#[derive(Clone, Debug)]
pub struct IntegrityProjector {
    db: Db,
}

impl IntegrityProjector {
    /// Checkpoint key and durable consumer name.
    pub const NAME: &'static str = "integrity";

    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

/// The table and key column of an aggregate type's documents.
pub(crate) fn table_of(aggregate_type: &str) -> Option<(&'static str, &'static str)> {
    Some(match aggregate_type {
        SUBJECT_TYPE => ("subject_views", "code"),
        CIVIL_SERVANT_TYPE => ("civil_servant_views", "id"),
        RECORD_TYPE => ("record_views", "id"),
        RECTIFICATION_TYPE => ("rectification_views", "id"),
        REPAIR_TYPE => ("repair_views", "id"),
        OBJECTION_TYPE => ("objection_views", "id"),
        COMMITMENT_TYPE => ("commitment_views", "id"),
        _ => return None,
    })
}

pub(crate) fn parse_doc(
    aggregate_type: &str,
    doc: &str,
) -> Result<Option<IntegrityDoc>, StoreError> {
    use IntegrityDoc as D;
    Ok(Some(match aggregate_type {
        SUBJECT_TYPE => D::Subject(serde_json::from_str(doc)?),
        CIVIL_SERVANT_TYPE => D::CivilServant(serde_json::from_str(doc)?),
        RECORD_TYPE => D::Record(serde_json::from_str(doc)?),
        RECTIFICATION_TYPE => D::Rectification(serde_json::from_str(doc)?),
        REPAIR_TYPE => D::Repair(serde_json::from_str(doc)?),
        OBJECTION_TYPE => D::Objection(serde_json::from_str(doc)?),
        COMMITMENT_TYPE => D::Commitment(serde_json::from_str(doc)?),
        _ => return Ok(None),
    }))
}

async fn load_doc(
    tx: &mut Transaction<'_, Any>,
    aggregate_type: &str,
    id: &str,
) -> Result<Option<IntegrityDoc>, StoreError> {
    let Some((table, key)) = table_of(aggregate_type) else {
        return Ok(None);
    };
    let row = sqlx::query(&format!("SELECT doc FROM {table} WHERE {key} = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        Some(row) => parse_doc(aggregate_type, &row.try_get::<String, _>(0)?),
        None => Ok(None),
    }
}

/// One open deadline of an integrity case.
struct Due {
    kind: &'static str,
    unit: Option<String>,
    due: NaiveDate,
    provisional: bool,
}

fn open_deadlines(doc: &IntegrityDoc) -> Vec<Due> {
    match doc {
        IntegrityDoc::Rectification(v) if v.owed_by_unit() => vec![Due {
            kind: KIND_RECTIFICATION,
            unit: Some(v.unit.clone()),
            due: v.due,
            provisional: v.provisional,
        }],
        IntegrityDoc::Repair(v) if v.status == "applied" => vec![Due {
            kind: KIND_REPAIR_ACCEPTANCE,
            unit: v.recorded_by.clone(),
            due: v.acceptance_due,
            provisional: v.provisional,
        }],
        IntegrityDoc::Repair(v) if v.status == "accepted" || v.status == "more_requested" => v
            .decision_due
            .map(|due| Due {
                kind: KIND_REPAIR_DECISION,
                unit: v.recorded_by.clone(),
                due,
                provisional: v.provisional,
            })
            .into_iter()
            .collect(),
        IntegrityDoc::Objection(v) if v.status == "filed" => vec![Due {
            kind: KIND_OBJECTION_DECISION,
            unit: v.recorded_by.clone(),
            due: v.decision_due,
            provisional: v.provisional,
        }],
        _ => Vec::new(),
    }
}

/// Writes one document's row (insert or replace) and its open deadlines.
pub(crate) async fn store_doc(
    tx: &mut Transaction<'_, Any>,
    aggregate_type: &str,
    doc: &IntegrityDoc,
) -> Result<(), StoreError> {
    use IntegrityDoc as D;
    let id = match doc {
        D::Subject(v) => {
            sqlx::query(
                "INSERT INTO subject_views (code, version, name, kind, parent_code, doc) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (code) DO UPDATE SET \
                 version = excluded.version, name = excluded.name, kind = excluded.kind, \
                 parent_code = excluded.parent_code, doc = excluded.doc",
            )
            .bind(&v.code)
            .bind(v.version as i64)
            .bind(&v.name)
            .bind(&v.kind)
            .bind(v.parent_code.clone())
            .bind(serde_json::to_string(v)?)
            .execute(&mut **tx)
            .await?;
            v.code.clone()
        }
        D::CivilServant(v) => {
            sqlx::query(
                "INSERT INTO civil_servant_views (id, version, unit_code, doc) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET \
                 version = excluded.version, unit_code = excluded.unit_code, doc = excluded.doc",
            )
            .bind(&v.id)
            .bind(v.version as i64)
            .bind(&v.unit_code)
            .bind(serde_json::to_string(v)?)
            .execute(&mut **tx)
            .await?;
            v.id.clone()
        }
        D::Record(v) => {
            sqlx::query(
                "INSERT INTO record_views (id, version, subject_code, civil_servant_id, unit, \
                 source, source_ref, decision_date, severity, sector, status, published, \
                 pub_start, repair_possible_from, pub_ends, ban_until, summary, doc) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
                 ON CONFLICT (id) DO UPDATE SET version = excluded.version, \
                 subject_code = excluded.subject_code, civil_servant_id = excluded.civil_servant_id, \
                 unit = excluded.unit, source = excluded.source, source_ref = excluded.source_ref, \
                 decision_date = excluded.decision_date, severity = excluded.severity, \
                 sector = excluded.sector, status = excluded.status, published = excluded.published, \
                 pub_start = excluded.pub_start, repair_possible_from = excluded.repair_possible_from, \
                 pub_ends = excluded.pub_ends, ban_until = excluded.ban_until, \
                 summary = excluded.summary, doc = excluded.doc",
            )
            .bind(&v.id)
            .bind(v.version as i64)
            .bind(v.subject_code.clone())
            .bind(v.civil_servant_id.clone())
            .bind(&v.unit)
            .bind(&v.source)
            .bind(&v.source_ref)
            .bind(date_text(v.decision_date))
            .bind(&v.severity)
            .bind(&v.sector)
            .bind(&v.status)
            .bind(i64::from(v.publicity.by_policy))
            .bind(date_text(v.publicity.start))
            .bind(date_text(v.publicity.repair_possible_from))
            .bind(date_text(v.publicity.ends))
            .bind(v.ban_until.map(date_text))
            .bind(&v.summary)
            .bind(serde_json::to_string(v)?)
            .execute(&mut **tx)
            .await?;
            v.id.clone()
        }
        D::Rectification(v) => {
            let escalated = !v.escalations.is_empty() && v.status != "verified";
            sqlx::query(
                "INSERT INTO rectification_views (id, version, record_id, unit, status, due, \
                 escalated, ordered_at, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (id) DO UPDATE SET version = excluded.version, \
                 record_id = excluded.record_id, unit = excluded.unit, status = excluded.status, \
                 due = excluded.due, escalated = excluded.escalated, \
                 ordered_at = excluded.ordered_at, doc = excluded.doc",
            )
            .bind(&v.id)
            .bind(v.version as i64)
            .bind(&v.record_id)
            .bind(&v.unit)
            .bind(&v.status)
            .bind(date_text(v.due))
            .bind(i64::from(escalated))
            .bind(ts_text(v.ordered_at))
            .bind(serde_json::to_string(v)?)
            .execute(&mut **tx)
            .await?;
            v.id.clone()
        }
        D::Repair(v) => {
            let approved_on = match (v.status.as_str(), v.approved_at) {
                ("approved", Some(at)) => Some(date_text(WorkingCalendar::local_date(at))),
                _ => None,
            };
            sqlx::query(
                "INSERT INTO repair_views (id, version, record_id, unit, status, approved_on, \
                 applied_at, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (id) DO UPDATE SET version = excluded.version, \
                 record_id = excluded.record_id, unit = excluded.unit, status = excluded.status, \
                 approved_on = excluded.approved_on, applied_at = excluded.applied_at, \
                 doc = excluded.doc",
            )
            .bind(&v.id)
            .bind(v.version as i64)
            .bind(&v.record_id)
            .bind(&v.unit)
            .bind(&v.status)
            .bind(approved_on)
            .bind(ts_text(v.applied_at))
            .bind(serde_json::to_string(v)?)
            .execute(&mut **tx)
            .await?;
            v.id.clone()
        }
        D::Objection(v) => {
            sqlx::query(
                "INSERT INTO objection_views (id, version, record_id, unit, status, outcome, \
                 filed_at, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (id) DO UPDATE SET version = excluded.version, \
                 record_id = excluded.record_id, unit = excluded.unit, status = excluded.status, \
                 outcome = excluded.outcome, filed_at = excluded.filed_at, doc = excluded.doc",
            )
            .bind(&v.id)
            .bind(v.version as i64)
            .bind(&v.record_id)
            .bind(&v.unit)
            .bind(&v.status)
            .bind(v.outcome.clone())
            .bind(ts_text(v.filed_at))
            .bind(serde_json::to_string(v)?)
            .execute(&mut **tx)
            .await?;
            v.id.clone()
        }
        D::Commitment(v) => {
            sqlx::query(
                "INSERT INTO commitment_views (id, version, subject_code, kind, status, made_at, doc) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET \
                 version = excluded.version, subject_code = excluded.subject_code, \
                 kind = excluded.kind, status = excluded.status, made_at = excluded.made_at, \
                 doc = excluded.doc",
            )
            .bind(&v.id)
            .bind(v.version as i64)
            .bind(&v.subject_code)
            .bind(&v.kind)
            .bind(&v.status)
            .bind(ts_text(v.made_at))
            .bind(serde_json::to_string(v)?)
            .execute(&mut **tx)
            .await?;
            v.id.clone()
        }
    };
    let open = open_deadlines(doc);
    if matches!(doc, D::Rectification(_) | D::Repair(_) | D::Objection(_)) {
        sqlx::query("DELETE FROM deadline_entries WHERE case_type = $1 AND case_id = $2")
            .bind(aggregate_type)
            .bind(&id)
            .execute(&mut **tx)
            .await?;
    }
    for entry in open {
        sqlx::query(
            "INSERT INTO deadline_entries (case_type, case_id, kind, unit, due, provisional) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(aggregate_type)
        .bind(&id)
        .bind(entry.kind)
        .bind(entry.unit)
        .bind(date_text(entry.due))
        .bind(i64::from(entry.provisional))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Applies one integrity event inside `tx` (position classified, claimed, row written).
pub(crate) async fn project_in_tx(
    tx: &mut Transaction<'_, Any>,
    projector: &str,
    event: &StoredEvent,
) -> Result<Applied, StoreError> {
    let ty = event.aggregate_type.as_str();
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
    let last = read_position(&mut **tx, projector, ty, id).await?;
    if let Some(outcome) = classify(last) {
        return Ok(outcome);
    }
    if !claim_position(tx, projector, event, last).await? {
        let now = read_position(&mut **tx, projector, ty, id).await?;
        return Ok(classify(now).unwrap_or(Applied::Gap));
    }
    let current = load_doc(tx, ty, id).await?;
    let next = IntegrityDoc::apply(current, ty, id, event.sequence as u64, &event.payload)
        .map_err(|e| {
            tracing::error!(error = %e, event_type = %event.event_type, "undecodable integrity event");
            StoreError::Other(e.to_string())
        })?;
    if let Some(doc) = next {
        store_doc(tx, ty, &doc).await?;
    }
    Ok(Applied::Applied)
}

#[async_trait::async_trait]
impl Projector for IntegrityProjector {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        INTEGRITY_TYPES
    }

    #[tracing::instrument(
        name = "integrity_projector",
        skip(self, event),
        fields(aggregate_type = %event.aggregate_type, aggregate_id = %event.aggregate_id, sequence = event.sequence)
    )]
    async fn handle(&self, event: &StoredEvent) -> Result<Applied, StoreError> {
        if !INTEGRITY_TYPES.contains(&event.aggregate_type.as_str()) {
            return Ok(Applied::AlreadyApplied);
        }
        let last = read_position(
            &self.db.any,
            Self::NAME,
            &event.aggregate_type,
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
        let outcome = project_in_tx(&mut tx, Self::NAME, event).await?;
        if outcome == Applied::Applied {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(outcome)
    }
}
