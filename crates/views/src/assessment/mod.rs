//! Assessment of governments and departments (政务诚信考核评价). Two ways to the same
//! rows:
//! - [`assess`], the reference fold over the event log itself, so any period can be
//!   recomputed as it stood at any past instant (`as_of`) and the result is
//!   reproducible: the same log, period, `as_of`, evaluation day and formula always give
//!   the same rows. Its cost grows with the log;
//! - [`assess_stored`], the stored projection ([`stored`]) the projectors keep current:
//!   per unit and quarter counts, plus the items still owed by due day, so a read costs
//!   the same whatever the size of the log.
//!
//! Both fold each aggregate with the same [`facts`] and score with the same [`rows_of`].
//! How each fact is attributed to a period is in `docs/assessment.md`.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use probity_domain::aggregate_type;
use probity_domain::assessment::{AssessmentFormula, Figures, Period};
use probity_domain::subject::{SubjectEvent, SubjectKind};
use probity_store::{Checkpoint, EventLog, StoredEvent};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ViewError;

pub(crate) mod facts;
pub mod stored;

use facts::{Fact, Item, Owed, Standing, ITEM_TYPES};
pub use stored::assess_stored;

#[cfg(test)]
use probity_domain::integrity::Severity;

/// Events read per page of the log.
const PAGE: i64 = 1000;

/// Record counts by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecordCounts {
    pub minor: u32,
    pub ordinary: u32,
    pub serious: u32,
    pub total: u32,
}

/// Rectifications settled in the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RectificationCounts {
    /// Verified, reported by the due date.
    pub on_time: u32,
    /// Escalated, verified late, or still owed past the due date.
    pub overdue: u32,
}

/// Complaint replies settled in the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReplyCounts {
    /// Replied by the reply due date in force.
    pub on_time: u32,
    /// Replied after it, or still owed past it.
    pub late: u32,
}

/// Follow-up visits (回访) in the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VisitCounts {
    pub visited: u32,
    pub satisfied: u32,
}

/// Supervision items (人大建议、政协提案、司法建议、检察建议) settled in the period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SupervisionReplyCounts {
    /// Replied by the due day.
    pub on_time: u32,
    /// Replied after it, or still unanswered past it.
    pub late: u32,
    /// on_time / (on_time + late); null without any.
    pub on_time_rate: Option<f64>,
}

/// Township public commitments (乡镇公开承诺) assessed in the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CommitmentCounts {
    /// Assessed as fulfilled.
    pub fulfilled: u32,
    /// Assessed as breached (违诺).
    pub breached: u32,
}

/// The figures of one unit (or a government with its departments) over a period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AssessmentFigures {
    pub records: RecordCounts,
    pub rectifications: RectificationCounts,
    pub complaint_replies: ReplyCounts,
    pub follow_up_visits: VisitCounts,
    /// satisfied / visited; null without visits.
    pub satisfaction_rate: Option<f64>,
    /// 督办: supervisions and reply-overdue escalations.
    pub supervisions: u32,
    /// Replies to supervision items (formula version 2).
    pub supervision_item_replies: SupervisionReplyCounts,
    /// Township public commitments assessed in the period (formula version 2).
    pub township_commitments: CommitmentCounts,
}

impl From<Figures> for AssessmentFigures {
    fn from(f: Figures) -> Self {
        Self {
            records: RecordCounts {
                minor: f.minor_records,
                ordinary: f.ordinary_records,
                serious: f.serious_records,
                total: f.records(),
            },
            rectifications: RectificationCounts {
                on_time: f.rectifications_on_time,
                overdue: f.rectifications_overdue,
            },
            complaint_replies: ReplyCounts {
                on_time: f.replies_on_time,
                late: f.replies_late,
            },
            follow_up_visits: VisitCounts {
                visited: f.visits,
                satisfied: f.satisfied,
            },
            satisfaction_rate: f.satisfaction_rate(),
            supervisions: f.supervisions,
            supervision_item_replies: SupervisionReplyCounts {
                on_time: f.supervision_replies_on_time,
                late: f.supervision_replies_late,
                on_time_rate: f.supervision_reply_rate(),
            },
            township_commitments: CommitmentCounts {
                fulfilled: f.commitments_fulfilled,
                breached: f.commitments_breached,
            },
        }
    }
}

/// The formula a score was computed with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FormulaRef {
    pub name: String,
    pub version: u32,
}

impl From<&AssessmentFormula> for FormulaRef {
    fn from(f: &AssessmentFormula) -> Self {
        Self {
            name: f.name.clone(),
            version: f.version,
        }
    }
}

/// One government or department assessed over a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AssessmentRow {
    /// Credit code.
    pub code: String,
    pub name: String,
    /// government | department
    pub kind: String,
    /// A department's government.
    pub parent_code: Option<String>,
    /// `2026` or `2026-Q2`.
    pub period: String,
    /// The unit's own figures.
    pub own: AssessmentFigures,
    /// Own plus every department's (a department: its own).
    pub total: AssessmentFigures,
    /// From `total`, 0 to 100.
    pub score: f64,
    /// 1 = best, among the rows returned; ties share a rank.
    pub rank: u32,
    pub formula: FormulaRef,
}

/// Headline counts published with a public assessment (no minor records, which are not
/// published by default, no visit or supervision internals).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PublicAssessmentRow {
    pub code: String,
    pub name: String,
    /// government | department
    pub kind: String,
    pub parent_code: Option<String>,
    pub period: String,
    pub score: f64,
    pub rank: u32,
    pub formula_version: u32,
    /// 一般 records (with the departments' for a government).
    pub ordinary_records: u32,
    /// 严重 records (with the departments' for a government).
    pub serious_records: u32,
    pub rectifications_on_time: u32,
    pub rectifications_overdue: u32,
    pub replies_on_time: u32,
    pub replies_late: u32,
    pub satisfaction_rate: Option<f64>,
    /// Supervision items replied on time (with the departments' for a government).
    pub supervision_replies_on_time: u32,
    /// Supervision items replied late or unanswered past their due day.
    pub supervision_replies_late: u32,
    /// Township public commitments assessed as fulfilled (with the departments').
    pub commitments_fulfilled: u32,
    /// Township public commitments assessed as breached (with the departments').
    pub commitments_breached: u32,
}

impl From<&AssessmentRow> for PublicAssessmentRow {
    fn from(r: &AssessmentRow) -> Self {
        let t = &r.total;
        Self {
            code: r.code.clone(),
            name: r.name.clone(),
            kind: r.kind.clone(),
            parent_code: r.parent_code.clone(),
            period: r.period.clone(),
            score: r.score,
            rank: r.rank,
            formula_version: r.formula.version,
            ordinary_records: t.records.ordinary,
            serious_records: t.records.serious,
            rectifications_on_time: t.rectifications.on_time,
            rectifications_overdue: t.rectifications.overdue,
            replies_on_time: t.complaint_replies.on_time,
            replies_late: t.complaint_replies.late,
            satisfaction_rate: t.satisfaction_rate,
            supervision_replies_on_time: t.supervision_item_replies.on_time,
            supervision_replies_late: t.supervision_item_replies.late,
            commitments_fulfilled: t.township_commitments.fulfilled,
            commitments_breached: t.township_commitments.breached,
        }
    }
}

/// Ranks `rows` by score, best first (competition ranking: ties share a rank, the next
/// rank skips), ordering equal scores by code.
pub fn rank(rows: &mut [AssessmentRow]) {
    rows.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.code.cmp(&b.code)));
    let scores: Vec<f64> = rows.iter().map(|r| r.score).collect();
    for r in rows.iter_mut() {
        r.rank = 1 + scores.iter().filter(|s| **s > r.score).count() as u32;
    }
}

/// Assesses every government and department over `period` from the log as it stood at
/// `as_of` (everything when `None`); `today` is the evaluation day (a reply or
/// rectification still owed after its due day counts as late). Rows are ranked.
///
/// The reference implementation: it reads the whole log, so its cost grows with it.
/// Reads without `as_of` are served by [`stored::assess_stored`] instead, which gives the
/// same rows from the stored projection.
pub async fn assess(
    log: &EventLog,
    period: Period,
    as_of: Option<DateTime<Utc>>,
    today: NaiveDate,
    formula: &AssessmentFormula,
) -> Result<Vec<AssessmentRow>, ViewError> {
    let mut fold = Fold::default();
    let mut after = Checkpoint::ZERO;
    loop {
        let page = log.read_after(after, PAGE).await?;
        let checkpoint = page.last().map(Checkpoint::of);
        let full = page.len() as i64 == PAGE;
        for event in page {
            if as_of.is_some_and(|t| event.recorded_at > t) {
                continue;
            }
            fold.apply(&event.into_wire())?;
        }
        match checkpoint {
            Some(last) if full => after = last,
            _ => break,
        }
    }
    Ok(fold.rows(period, today, formula))
}

/// A government or department as the rows name it.
#[derive(Debug, Clone)]
pub(crate) struct SubjectInfo {
    pub name: String,
    pub kind: SubjectKind,
    pub parent_code: Option<String>,
}

/// Adds what one owed item counts for in `period` on `today`: late (overdue), in the
/// period holding its due day, once that day has passed.
pub(crate) fn count_owed(
    own: &mut HashMap<String, Figures>,
    period: Period,
    today: NaiveDate,
    owed: &Owed,
) {
    if probity_domain::is_overdue(owed.due, today) && period.contains(owed.due) {
        owed.kind
            .late_figure()
            .add_to(own.entry(owed.unit.clone()).or_default());
    }
}

/// Adds a settled fact to its unit's figures when its day falls in `period`.
pub(crate) fn count_fact(own: &mut HashMap<String, Figures>, period: Period, fact: &Fact) {
    if period.contains(fact.day) {
        fact.figure
            .add_to(own.entry(fact.unit.clone()).or_default());
    }
}

/// The ranked rows of every government and department in `subjects` (by credit code),
/// from each unit's own figures: a department's total is its own, a government's adds
/// its departments'; each row is scored from its total.
pub(crate) fn rows_of(
    subjects: &BTreeMap<String, SubjectInfo>,
    own: &HashMap<String, Figures>,
    period: Period,
    formula: &AssessmentFormula,
) -> Vec<AssessmentRow> {
    // Periods already assessed keep the formula they were assessed with.
    let formula = formula.for_period(period);
    let own_of = |code: &str| own.get(code).copied().unwrap_or_default();
    let assessed =
        |kind: SubjectKind| matches!(kind, SubjectKind::Government | SubjectKind::Department);
    let mut rows: Vec<AssessmentRow> = subjects
        .iter()
        .filter(|(_, s)| assessed(s.kind))
        .map(|(code, s)| {
            let mine = own_of(code);
            let mut total = mine;
            if s.kind == SubjectKind::Government {
                for (child, c) in subjects {
                    if c.kind == SubjectKind::Department
                        && c.parent_code.as_deref() == Some(code.as_str())
                    {
                        total += own_of(child);
                    }
                }
            }
            AssessmentRow {
                code: code.clone(),
                name: s.name.clone(),
                kind: s.kind.as_str().to_string(),
                parent_code: s.parent_code.clone(),
                period: period.to_string(),
                own: mine.into(),
                total: total.into(),
                score: formula.score(&total),
                rank: 0,
                formula: formula.into(),
            }
        })
        .collect();
    rank(&mut rows);
    rows
}

/// The facts folded so far; events of one aggregate arrive in sequence order.
#[derive(Debug, Default)]
struct Fold {
    subjects: BTreeMap<String, SubjectInfo>,
    /// Records, rectifications and complaints by (aggregate type, id).
    items: HashMap<(String, String), Item>,
    /// The facts the complaints settled as their events happened.
    emitted: Vec<Fact>,
}

impl Fold {
    fn apply(&mut self, e: &StoredEvent) -> Result<(), ViewError> {
        if e.aggregate_type == aggregate_type::SUBJECT {
            match SubjectEvent::deserialize(&e.payload)? {
                SubjectEvent::SubjectRegistered {
                    code,
                    name,
                    kind,
                    parent_code,
                    ..
                } => {
                    self.subjects.insert(
                        code.to_string(),
                        SubjectInfo {
                            name,
                            kind,
                            parent_code: parent_code.map(|p| p.to_string()),
                        },
                    );
                }
                SubjectEvent::RepairApprovalCounted { .. }
                | SubjectEvent::RepairApprovalUncounted { .. } => {}
            }
            return Ok(());
        }
        if !ITEM_TYPES.contains(&e.aggregate_type.as_str()) {
            return Ok(());
        }
        let key = (e.aggregate_type.clone(), e.aggregate_id.clone());
        let mut item = self.items.remove(&key);
        let applied = Item::apply_stored(&mut item, e, &mut self.emitted);
        if let Some(item) = item {
            self.items.insert(key, item);
        }
        applied?;
        Ok(())
    }

    /// Each unit's own figures over `period`, evaluated on `today`.
    fn own_figures(&self, period: Period, today: NaiveDate) -> HashMap<String, Figures> {
        let mut own = HashMap::new();
        for item in self.items.values() {
            match item.standing() {
                Some(Standing::Settled(fact)) => count_fact(&mut own, period, &fact),
                Some(Standing::Owed(owed)) => count_owed(&mut own, period, today, &owed),
                None => {}
            }
        }
        for fact in &self.emitted {
            count_fact(&mut own, period, fact);
        }
        own
    }

    fn rows(
        &self,
        period: Period,
        today: NaiveDate,
        formula: &AssessmentFormula,
    ) -> Vec<AssessmentRow> {
        rows_of(
            &self.subjects,
            &self.own_figures(period, today),
            period,
            formula,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const GOV: &str = "113604000123456713";
    const DEPT: &str = "914403001922038216";
    const DEPT2: &str = "91330100716105852F";

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    struct Log(Vec<StoredEvent>);

    impl Log {
        fn push(&mut self, ty: &str, id: &str, recorded: &str, payload: Value) {
            let n = self.0.len() as i64 + 1;
            let sequence = self
                .0
                .iter()
                .filter(|e| e.aggregate_type == ty && e.aggregate_id == id)
                .count() as i64
                + 1;
            let event_type = payload
                .as_object()
                .and_then(|o| o.keys().next().cloned())
                .unwrap_or_default();
            self.0.push(StoredEvent {
                position: n,
                tx_id: n,
                aggregate_type: ty.into(),
                aggregate_id: id.into(),
                sequence,
                event_type,
                event_version: "1".into(),
                payload,
                metadata: json!({}),
                recorded_at: at(recorded),
            });
        }

        fn rows(&self, period: &str, as_of: Option<&str>, today: &str) -> Vec<AssessmentRow> {
            let mut fold = Fold::default();
            for e in &self.0 {
                if as_of.is_some_and(|t| e.recorded_at > at(t)) {
                    continue;
                }
                fold.apply(e).unwrap();
            }
            fold.rows(
                period.parse().unwrap(),
                d(today),
                &AssessmentFormula::default(),
            )
        }
    }

    fn deadline(day: &str) -> Value {
        json!({"due": day, "provisional": false})
    }

    fn subject(log: &mut Log, code: &str, kind: &str, parent: Option<&str>) {
        log.push(
            "subject",
            code,
            "2026-01-02T01:00:00Z",
            json!({"SubjectRegistered": {"code": code, "name": format!("unit {code}"),
                "kind": kind, "parent_code": parent, "at": "2026-01-02T01:00:00Z"}}),
        );
    }

    fn record(log: &mut Log, id: &str, unit: &str, severity: &str, decided: &str, recorded: &str) {
        let policy = probity_domain::integrity::PublicityPolicy::default();
        let sev: Severity = serde_json::from_value(json!(severity)).unwrap();
        let publicity = policy.window(sev, d(decided), false, false);
        let payload = json!({"DishonestyRecorded": {
            "target": {"subject": {"code": unit}},
            "source": "administrative_penalty", "source_ref": id, "decision_date": decided,
            "severity": severity, "sector": "general", "summary": "x", "complaint_id": null,
            "publish_minor": false, "ban_years": null, "ban_until": null, "recorded_by": null,
            "publicity": publicity, "policy": policy, "at": recorded}});
        log.push("record", id, recorded, payload);
    }

    fn scenario() -> Log {
        let mut log = Log(Vec::new());
        subject(&mut log, GOV, "government", None);
        subject(&mut log, DEPT, "department", Some(GOV));
        subject(&mut log, DEPT2, "department", Some(GOV));
        subject(&mut log, "91350100M000100Y43", "enterprise", None);
        // DEPT: a serious and a minor record in 2026, an ordinary one in 2025.
        record(
            &mut log,
            "r1",
            DEPT,
            "serious",
            "2026-03-01",
            "2026-03-02T02:00:00Z",
        );
        record(
            &mut log,
            "r2",
            DEPT,
            "minor",
            "2026-05-01",
            "2026-05-02T02:00:00Z",
        );
        record(
            &mut log,
            "r3",
            DEPT,
            "ordinary",
            "2025-12-31",
            "2026-01-05T02:00:00Z",
        );
        // DEPT2: an ordinary record, later withdrawn.
        record(
            &mut log,
            "r4",
            DEPT2,
            "ordinary",
            "2026-04-01",
            "2026-04-02T02:00:00Z",
        );
        log.push(
            "record",
            "r4",
            "2026-06-01T02:00:00Z",
            json!({"RecordWithdrawn": {"reason": "revoked", "at": "2026-06-01T02:00:00Z"}}),
        );
        // DEPT: a rectification verified on time; DEPT2: one escalated; GOV: one still owed.
        for (id, unit, due) in [
            ("k1", DEPT, "2026-03-20"),
            ("k2", DEPT2, "2026-04-20"),
            ("k3", GOV, "2026-05-20"),
        ] {
            log.push(
                "rectification",
                id,
                "2026-03-10T02:00:00Z",
                json!({"RectificationOrdered": {"record_id": "r1", "unit": unit, "personal": false,
                    "working_days": 5, "due": deadline(due), "at": "2026-03-10T02:00:00Z"}}),
            );
        }
        log.push(
            "rectification",
            "k1",
            "2026-03-18T02:00:00Z",
            json!({"RectificationVerified": {"on_time": true, "at": "2026-03-18T02:00:00Z"}}),
        );
        log.push(
            "rectification",
            "k2",
            "2026-04-22T02:00:00Z",
            json!({"RectificationEscalated": {"due": "2026-04-20", "public_criticism": true,
                "at": "2026-04-22T02:00:00Z"}}),
        );
        // Complaints to GOV: c1 replied on time and visited (satisfied); c2 replied late,
        // visited (not satisfied), supervised.
        for (id, due) in [("c1", "2026-02-10"), ("c2", "2026-02-10")] {
            log.push(
                "complaint",
                id,
                "2026-02-01T02:00:00Z",
                json!({"ComplaintDispatched": {"unit": GOV, "sign_due": deadline("2026-02-02"),
                    "reply_due": deadline(due), "at": "2026-02-01T02:00:00Z"}}),
            );
        }
        log.push(
            "complaint",
            "c1",
            "2026-02-10T15:00:00Z",
            // 23:00 in Shanghai on the due day: on time.
            json!({"ComplaintReplied": {"unit": GOV, "content": "ok", "at": "2026-02-10T15:00:00Z"}}),
        );
        log.push(
            "complaint",
            "c2",
            "2026-02-11T02:00:00Z",
            json!({"ReplyOverdue": {"unit": GOV, "due": "2026-02-10", "at": "2026-02-11T02:00:00Z"}}),
        );
        log.push(
            "complaint",
            "c2",
            "2026-02-12T02:00:00Z",
            json!({"ComplaintSupervised": {"note": "hurry", "at": "2026-02-12T02:00:00Z"}}),
        );
        log.push(
            "complaint",
            "c2",
            "2026-02-13T02:00:00Z",
            json!({"ComplaintReplied": {"unit": GOV, "content": "late", "at": "2026-02-13T02:00:00Z"}}),
        );
        for (id, satisfied) in [("c1", true), ("c2", false)] {
            log.push(
                "complaint",
                id,
                "2026-02-20T02:00:00Z",
                json!({"FollowUpVisited": {"satisfied": satisfied, "comment": "",
                    "at": "2026-02-20T02:00:00Z"}}),
            );
        }
        log
    }

    fn row<'a>(rows: &'a [AssessmentRow], code: &str) -> &'a AssessmentRow {
        rows.iter().find(|r| r.code == code).unwrap()
    }

    #[test]
    fn a_year_is_folded_per_unit_and_rolled_up_to_the_government() {
        let rows = scenario().rows("2026", None, "2026-06-30");
        assert_eq!(rows.len(), 3, "enterprises are not assessed");
        let dept = row(&rows, DEPT);
        assert_eq!(
            dept.own.records,
            RecordCounts {
                minor: 1,
                ordinary: 0,
                serious: 1,
                total: 2
            }
        );
        assert_eq!(
            dept.own.rectifications,
            RectificationCounts {
                on_time: 1,
                overdue: 0
            }
        );
        assert_eq!(dept.own, dept.total);
        // 100 − 10 − 1 = 89
        assert_eq!(dept.score, 89.0);
        let dept2 = row(&rows, DEPT2);
        assert_eq!(dept2.own.records.total, 0, "withdrawn");
        assert_eq!(dept2.own.rectifications.overdue, 1);
        assert_eq!(dept2.score, 95.0);
        let gov = row(&rows, GOV);
        assert_eq!(gov.own.rectifications.overdue, 1, "still owed past due");
        assert_eq!(
            gov.own.complaint_replies,
            ReplyCounts {
                on_time: 1,
                late: 1
            }
        );
        assert_eq!(
            gov.own.follow_up_visits,
            VisitCounts {
                visited: 2,
                satisfied: 1
            }
        );
        assert_eq!(gov.own.satisfaction_rate, Some(0.5));
        assert_eq!(gov.own.supervisions, 2);
        assert_eq!(gov.own.records.total, 0);
        assert_eq!(
            gov.total.records,
            RecordCounts {
                minor: 1,
                ordinary: 0,
                serious: 1,
                total: 2
            }
        );
        assert_eq!(
            gov.total.rectifications,
            RectificationCounts {
                on_time: 1,
                overdue: 2
            }
        );
        // total: serious 1, minor 1, overdue 2, late 1, supervisions 2, rate 0.5
        // 100 − 10 − 1 − 2×5 − 2 − 2 + 20 × (0.5 − 0.8) = 69
        assert_eq!(gov.score, 69.0);
        assert_eq!(gov.formula.version, 1);
        let ranks: Vec<(&str, u32)> = rows.iter().map(|r| (r.code.as_str(), r.rank)).collect();
        assert_eq!(ranks, vec![(DEPT2, 1), (DEPT, 2), (GOV, 3)]);
    }

    #[test]
    fn quarters_take_only_their_own_facts() {
        let log = scenario();
        let q1 = log.rows("2026-Q1", None, "2026-06-30");
        let dept = row(&q1, DEPT);
        assert_eq!(dept.own.records.serious, 1);
        assert_eq!(dept.own.records.minor, 0);
        assert_eq!(dept.own.rectifications.on_time, 1);
        assert_eq!(row(&q1, GOV).own.complaint_replies.on_time, 1);
        assert_eq!(row(&q1, GOV).own.rectifications.overdue, 0);
        let q2 = log.rows("2026-Q2", None, "2026-06-30");
        assert_eq!(row(&q2, DEPT).own.records.minor, 1);
        assert_eq!(row(&q2, DEPT2).own.rectifications.overdue, 1);
        assert_eq!(row(&q2, GOV).own.rectifications.overdue, 1);
        assert_eq!(row(&q2, GOV).own.satisfaction_rate, None);
        let y2025 = log.rows("2025", None, "2026-06-30");
        assert_eq!(row(&y2025, DEPT).own.records.ordinary, 1);
    }

    #[test]
    fn as_of_a_past_instant_sees_only_what_was_recorded_by_then() {
        let log = scenario();
        // Before the records and the withdrawal: DEPT2's record still counts on 2026-05-01.
        let rows = log.rows("2026", Some("2026-05-01T00:00:00Z"), "2026-05-01");
        assert_eq!(row(&rows, DEPT).own.records.total, 1);
        assert_eq!(row(&rows, DEPT2).own.records.ordinary, 1);
        // On 2026-05-01 the GOV rectification is not yet due: not counted.
        assert_eq!(row(&rows, GOV).own.rectifications.overdue, 0);
        let early = log.rows("2026", Some("2026-01-03T00:00:00Z"), "2026-01-03");
        assert!(early.iter().all(|r| r.score == 100.0 && r.rank == 1));
        assert_eq!(
            log.rows("2026", Some("2025-12-31T00:00:00Z"), "2025-12-31")
                .len(),
            0
        );
    }

    #[test]
    fn a_reply_still_owed_counts_late_once_its_due_day_passed() {
        let mut log = Log(Vec::new());
        subject(&mut log, GOV, "government", None);
        log.push(
            "complaint",
            "c",
            "2026-02-01T02:00:00Z",
            json!({"ComplaintDispatched": {"unit": GOV, "sign_due": deadline("2026-02-02"),
                "reply_due": deadline("2026-02-10"), "at": "2026-02-01T02:00:00Z"}}),
        );
        log.push(
            "complaint",
            "c",
            "2026-02-05T02:00:00Z",
            json!({"ExtensionApproved": {"note": "ok", "reply_due": deadline("2026-02-20"),
                "at": "2026-02-05T02:00:00Z"}}),
        );
        let on = |log: &Log, today| {
            row(&log.rows("2026", None, today), GOV)
                .own
                .complaint_replies
        };
        let counts = |on_time, late| ReplyCounts { on_time, late };
        assert_eq!(on(&log, "2026-02-15"), counts(0, 0));
        assert_eq!(on(&log, "2026-02-21"), counts(0, 1));
        // A provisional deadline recomputed later moves the due day.
        log.push(
            "complaint",
            "c",
            "2026-02-06T02:00:00Z",
            json!({"DeadlinesRecomputed": {"sign_due": null, "reply_due": deadline("2026-02-24"),
                "at": "2026-02-06T02:00:00Z"}}),
        );
        assert_eq!(on(&log, "2026-02-21"), counts(0, 0));
        assert_eq!(on(&log, "2026-02-25"), counts(0, 1));
    }

    #[test]
    fn ties_share_a_rank() {
        let mut rows = scenario().rows("2025-Q3", None, "2026-06-30");
        assert!(rows.iter().all(|r| r.rank == 1));
        rows[0].score = 50.0;
        rank(&mut rows);
        let ranks: Vec<u32> = rows.iter().map(|r| r.rank).collect();
        assert_eq!(ranks, vec![1, 1, 3]);
        let public = PublicAssessmentRow::from(&rows[2]);
        assert_eq!(public.rank, 3);
    }
}
