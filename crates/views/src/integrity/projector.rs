//! The integrity projector: folds the committed events of the integrity aggregates
//! into one row per aggregate (and its open deadlines), with each aggregate's position, a
//! whole batch in one transaction. Same exactly-once protocol as the complaint projector
//! ([`crate::batch`]: positions read and locked, events classified, positions claimed,
//! then the stored documents read, folded in memory and each changed row written once
//! with one multi-row upsert per table, then the assessment's items and counters of the
//! records and rectifications, [`crate::assessment::stored`]); rebuild folds with the
//! same `fold_step` and writes the same `doc_row`s.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use probity_domain::calendar::WorkingCalendar;
use probity_store::{Applied, Backend, Db, Projector, StoreError, StoredEvent};
use sqlx::{Any, Row, Transaction};

use super::docs::*;
use crate::assessment::facts::ITEM_TYPES;
use crate::assessment::stored::Projection;
use crate::batch::{delete_in, select_in, write_rows, Batch, Param, Run};
use crate::projector::{begin_write, deadline_row, DEADLINE_COLUMNS};
use crate::sql::{date_text, ts_text};

/// Deadline kinds of the integrity aggregates on the supervisors' board.
pub const KIND_RECTIFICATION: &str = "rectification";
/// A repair application waiting for acceptance.
pub const KIND_REPAIR_ACCEPTANCE: &str = "repair_acceptance";
/// An accepted repair waiting for its decision.
pub const KIND_REPAIR_DECISION: &str = "repair_decision";
/// An objection waiting for its decision.
pub const KIND_OBJECTION_DECISION: &str = "objection_decision";
/// A supervision item waiting for its reply.
pub const KIND_SUPERVISION_REPLY: &str = "supervision_reply";
/// An objection waiting for its check (核查, 1 working day).
pub const KIND_OBJECTION_CHECK: &str = "objection_check";
/// A record whose source decision changed, waiting for its withdrawal (3 working days).
pub const KIND_RECORD_WITHDRAWAL: &str = "record_withdrawal";

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
        SUPERVISION_ITEM_TYPE => ("supervision_item_views", "id"),
        DEBT_WARNING_TYPE => ("debt_warning_views", "subject_code"),
        RECORD_PROPOSAL_TYPE => ("record_proposal_views", "id"),
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
        SUPERVISION_ITEM_TYPE => D::SupervisionItem(serde_json::from_str(doc)?),
        DEBT_WARNING_TYPE => D::DebtWarning(serde_json::from_str(doc)?),
        RECORD_PROPOSAL_TYPE => D::RecordProposal(serde_json::from_str(doc)?),
        _ => return Ok(None),
    }))
}

/// One open deadline of an integrity case.
#[derive(Debug, PartialEq)]
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
        // 补正 (`more_requested`): no deadline runs against the authority.
        IntegrityDoc::Repair(v) if v.status == "accepted" => v
            .decision_due
            .map(|due| Due {
                kind: KIND_REPAIR_DECISION,
                unit: v.recorded_by.clone(),
                due,
                provisional: v.provisional,
            })
            .into_iter()
            .collect(),
        IntegrityDoc::Objection(v) if v.status == "filed" => {
            let check = v.check_owed().then(|| Due {
                kind: KIND_OBJECTION_CHECK,
                unit: v.recorded_by.clone(),
                due: v.check_due,
                provisional: v.check_provisional,
            });
            let decision = Due {
                kind: KIND_OBJECTION_DECISION,
                unit: v.recorded_by.clone(),
                due: v.decision_due,
                provisional: v.provisional,
            };
            check.into_iter().chain([decision]).collect()
        }
        // The recording authority owes the withdrawal (a correction also answers it).
        IntegrityDoc::Record(v) if v.status == "active" => v
            .source_change
            .as_ref()
            .filter(|c| !c.answered)
            .map(|c| Due {
                kind: KIND_RECORD_WITHDRAWAL,
                unit: v.recorded_by.clone(),
                due: c.withdrawal_due,
                provisional: c.provisional,
            })
            .into_iter()
            .collect(),
        IntegrityDoc::SupervisionItem(v) if v.owed() => vec![Due {
            kind: KIND_SUPERVISION_REPLY,
            unit: Some(v.unit.clone()),
            due: v.due,
            provisional: v.provisional,
        }],
        _ => Vec::new(),
    }
}

/// A document's table, columns, key column and row (in column order).
pub(crate) struct DocRow {
    pub table: &'static str,
    pub columns: &'static [&'static str],
    pub key: &'static str,
    pub id: String,
    pub values: Vec<Param>,
}

/// A document as the row of its table.
pub(crate) fn doc_row(doc: &IntegrityDoc) -> Result<DocRow, serde_json::Error> {
    use IntegrityDoc as D;
    use Param::{Int, OptText, Text};
    let row = |table, columns, key, id: &String, values| DocRow {
        table,
        columns,
        key,
        id: id.clone(),
        values,
    };
    Ok(match doc {
        D::Subject(v) => row(
            "subject_views",
            &["code", "version", "name", "kind", "parent_code", "doc"],
            "code",
            &v.code,
            vec![
                Text(v.code.clone()),
                Int(v.version as i64),
                Text(v.name.clone()),
                Text(v.kind.clone()),
                OptText(v.parent_code.clone()),
                Text(serde_json::to_string(v)?),
            ],
        ),
        D::CivilServant(v) => row(
            "civil_servant_views",
            &["id", "version", "unit_code", "doc"],
            "id",
            &v.id,
            vec![
                Text(v.id.clone()),
                Int(v.version as i64),
                Text(v.unit_code.clone()),
                Text(serde_json::to_string(v)?),
            ],
        ),
        D::Record(v) => row(
            "record_views",
            &[
                "id",
                "version",
                "subject_code",
                "civil_servant_id",
                "unit",
                "source",
                "source_ref",
                "decision_date",
                "severity",
                "sector",
                "status",
                "published",
                "pub_start",
                "repair_possible_from",
                "pub_ends",
                "ban_until",
                "summary",
                "doc",
                "offence",
            ],
            "id",
            &v.id,
            vec![
                Text(v.id.clone()),
                Int(v.version as i64),
                OptText(v.subject_code.clone()),
                OptText(v.civil_servant_id.clone()),
                Text(v.unit.clone()),
                Text(v.source.clone()),
                Text(v.source_ref.clone()),
                Text(date_text(v.decision_date)),
                Text(v.severity.clone()),
                Text(v.sector.clone()),
                Text(v.status.clone()),
                Int(i64::from(v.publicity.by_policy)),
                Text(date_text(v.publicity.start)),
                Text(date_text(v.publicity.repair_possible_from)),
                Text(date_text(v.publicity.ends)),
                OptText(v.ban_until.map(date_text)),
                Text(v.summary.clone()),
                Text(serde_json::to_string(v)?),
                OptText(v.offence.clone()),
            ],
        ),
        D::Rectification(v) => row(
            "rectification_views",
            &[
                "id",
                "version",
                "record_id",
                "unit",
                "status",
                "due",
                "escalated",
                "ordered_at",
                "doc",
            ],
            "id",
            &v.id,
            vec![
                Text(v.id.clone()),
                Int(v.version as i64),
                Text(v.record_id.clone()),
                Text(v.unit.clone()),
                Text(v.status.clone()),
                Text(date_text(v.due)),
                Int(i64::from(
                    !v.escalations.is_empty() && v.status != "verified",
                )),
                Text(ts_text(v.ordered_at)),
                Text(serde_json::to_string(v)?),
            ],
        ),
        D::Repair(v) => {
            let approved_on = match (v.status.as_str(), v.approved_at) {
                ("approved", Some(at)) => Some(date_text(WorkingCalendar::local_date(at))),
                _ => None,
            };
            row(
                "repair_views",
                &[
                    "id",
                    "version",
                    "record_id",
                    "unit",
                    "status",
                    "approved_on",
                    "applied_at",
                    "doc",
                ],
                "id",
                &v.id,
                vec![
                    Text(v.id.clone()),
                    Int(v.version as i64),
                    Text(v.record_id.clone()),
                    Text(v.unit.clone()),
                    Text(v.status.clone()),
                    OptText(approved_on),
                    Text(ts_text(v.applied_at)),
                    Text(serde_json::to_string(v)?),
                ],
            )
        }
        D::Objection(v) => row(
            "objection_views",
            &[
                "id",
                "version",
                "record_id",
                "unit",
                "status",
                "outcome",
                "filed_at",
                "doc",
            ],
            "id",
            &v.id,
            vec![
                Text(v.id.clone()),
                Int(v.version as i64),
                Text(v.record_id.clone()),
                Text(v.unit.clone()),
                Text(v.status.clone()),
                OptText(v.outcome.clone()),
                Text(ts_text(v.filed_at)),
                Text(serde_json::to_string(v)?),
            ],
        ),
        D::Commitment(v) => row(
            "commitment_views",
            &[
                "id",
                "version",
                "subject_code",
                "kind",
                "status",
                "made_at",
                "doc",
            ],
            "id",
            &v.id,
            vec![
                Text(v.id.clone()),
                Int(v.version as i64),
                Text(v.subject_code.clone()),
                Text(v.kind.clone()),
                Text(v.status.clone()),
                Text(ts_text(v.made_at)),
                Text(serde_json::to_string(v)?),
            ],
        ),
        D::SupervisionItem(v) => row(
            "supervision_item_views",
            &[
                "id",
                "version",
                "kind",
                "unit",
                "status",
                "due",
                "assigned_at",
                "doc",
            ],
            "id",
            &v.id,
            vec![
                Text(v.id.clone()),
                Int(v.version as i64),
                Text(v.kind.clone()),
                Text(v.unit.clone()),
                Text(v.status.clone()),
                Text(date_text(v.due)),
                Text(ts_text(v.assigned_at)),
                Text(serde_json::to_string(v)?),
            ],
        ),
        D::DebtWarning(v) => row(
            "debt_warning_views",
            &["subject_code", "version", "status", "raised_at", "doc"],
            "subject_code",
            &v.subject_code,
            vec![
                Text(v.subject_code.clone()),
                Int(v.version as i64),
                Text(v.status.clone()),
                Text(ts_text(v.raised_at)),
                Text(serde_json::to_string(v)?),
            ],
        ),
        D::RecordProposal(v) => row(
            "record_proposal_views",
            &["id", "version", "status", "submitted_at", "doc"],
            "id",
            &v.id,
            vec![
                Text(v.id.clone()),
                Int(v.version as i64),
                Text(v.state.status.as_str().to_string()),
                Text(v.state.submitted_at.map(ts_text).unwrap_or_default()),
                Text(serde_json::to_string(v)?),
            ],
        ),
    })
}

/// The open deadlines of a document as `deadline_entries` rows.
pub(crate) fn deadline_rows(aggregate_type: &str, id: &str, doc: &IntegrityDoc) -> Vec<Vec<Param>> {
    open_deadlines(doc)
        .into_iter()
        .map(|d| deadline_row(aggregate_type, id, d.kind, d.unit, d.due, d.provisional))
        .collect()
}

/// Whether documents of this aggregate type have deadlines on the board.
fn has_deadlines(aggregate_type: &str) -> bool {
    matches!(
        aggregate_type,
        RECORD_TYPE | RECTIFICATION_TYPE | REPAIR_TYPE | OBJECTION_TYPE | SUPERVISION_ITEM_TYPE
    )
}

/// One folding step that keeps the document when the event yields none (as projecting
/// it alone would leave the stored row untouched).
pub(crate) fn fold_step(
    doc: &mut Option<IntegrityDoc>,
    event: &StoredEvent,
) -> Result<(), StoreError> {
    let next = IntegrityDoc::apply(
        doc.clone(),
        &event.aggregate_type,
        &event.aggregate_id,
        event.sequence as u64,
        &event.payload,
    )
    .map_err(|e| {
        tracing::error!(error = %e, event_type = %event.event_type, "undecodable integrity event");
        StoreError::Other(e.to_string())
    })?;
    if next.is_some() {
        *doc = next;
    }
    Ok(())
}

/// The stored documents of the runs' aggregates that have a position.
async fn load_docs(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    runs: &[Run<'_>],
) -> Result<HashMap<(String, String), IntegrityDoc>, StoreError> {
    let mut by_type: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for run in runs.iter().filter(|r| r.from > 0) {
        by_type
            .entry(run.aggregate_type)
            .or_default()
            .push(run.aggregate_id.to_string());
    }
    let mut out = HashMap::new();
    for (ty, ids) in by_type {
        let Some((table, key)) = table_of(ty) else {
            continue;
        };
        let select = format!("SELECT {key}, doc FROM {table} WHERE");
        for row in select_in(tx, backend, &select, &[], key, &ids, false).await? {
            let id: String = row.try_get(0)?;
            if let Some(doc) = parse_doc(ty, &row.try_get::<String, _>(1)?)? {
                out.insert((ty.to_string(), id), doc);
            }
        }
    }
    Ok(out)
}

/// Folds the claimed runs from their stored documents and writes every changed row
/// once: one multi-row upsert per table, and the deadlines that changed.
async fn apply_runs(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    runs: &[Run<'_>],
) -> Result<(), StoreError> {
    let mut docs = load_docs(tx, backend, runs).await?;
    let mut assessment = Projection::load(tx, backend, runs).await?;
    let mut tables: BTreeMap<&'static str, (DocRow, Vec<Vec<Param>>)> = BTreeMap::new();
    let mut cleared: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut deadlines = Vec::new();
    for run in runs {
        let ty = run.aggregate_type;
        let before = docs.remove(&(ty.to_string(), run.aggregate_id.to_string()));
        let mut doc = before.clone();
        for event in &run.events {
            fold_step(&mut doc, event)?;
        }
        if ITEM_TYPES.contains(&ty) {
            let mut assessed = assessment.start(ty, run.aggregate_id);
            for event in &run.events {
                assessed.stored(event)?;
            }
            assessment.finish(assessed)?;
        }
        let Some(doc) = doc else { continue };
        let mut row = doc_row(&doc)?;
        if has_deadlines(ty) {
            let old = before.as_ref().map(open_deadlines).unwrap_or_default();
            let new = open_deadlines(&doc);
            if old != new {
                cleared.entry(ty).or_default().push(row.id.clone());
                deadlines.extend(deadline_rows(ty, &row.id, &doc));
            }
        }
        let values = std::mem::take(&mut row.values);
        tables
            .entry(row.table)
            .or_insert_with(|| (row, Vec::new()))
            .1
            .push(values);
    }
    for (table, (row, values)) in tables {
        write_rows(tx, table, row.columns, values, Some(&[row.key])).await?;
    }
    for (ty, ids) in cleared {
        delete_in(
            tx,
            backend,
            "deadline_entries",
            ("case_type", ty),
            "case_id",
            &ids,
        )
        .await?;
    }
    write_rows(tx, "deadline_entries", DEADLINE_COLUMNS, deadlines, None).await?;
    // Last: the assessment counters are rows other transactions may wait for.
    assessment.write(tx, backend).await?;
    Ok(())
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
        let outcomes = self.handle_batch(std::slice::from_ref(event)).await?;
        Ok(outcomes[0])
    }

    #[tracing::instrument(name = "integrity_projector_batch", skip_all, fields(events = events.len()))]
    async fn handle_batch(&self, events: &[StoredEvent]) -> Result<Vec<Applied>, StoreError> {
        let mut batch = Batch::new(events, INTEGRITY_TYPES);
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
