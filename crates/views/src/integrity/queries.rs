//! Reads of the integrity views: single documents with what other aggregates and the
//! reader's day add to them, the public disclosure (信用中国（九江）), sector lists, the
//! honours eligibility (§6), the integrity archive, and the repair history a new
//! application is checked against.
//!
//! Publication is decided here, at read time, from four facts: the record's policy
//! window (its row), its status (withdrawn), an approved repair that stands (a repair
//! row), and an upheld objection that stopped or unlisted it (an objection row). So
//! nothing has to be rewritten when a window ends, and a revoked repair republishes the
//! record until its maximum period by itself.

use chrono::{Months, NaiveDate};
use probity_domain::integrity::{SanctionMonths, Severity};
use probity_domain::repair::RepairHistory;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::docs::*;
use super::projector::{parse_doc, table_of};
use crate::sql::{date_text, decode_cursor, encode_cursor, parse_date, Binds};
use crate::store::{Page, MAX_LIMIT};
use crate::{ViewError, Views};

/// A record `r` has an approved repair that stands.
macro_rules! repaired {
    () => {
        "EXISTS (SELECT 1 FROM repair_views p WHERE p.record_id = r.id AND p.status = 'approved')"
    };
}

/// An upheld objection stopped record `r`'s publication or unlisted it.
macro_rules! stopped {
    () => {
        "EXISTS (SELECT 1 FROM objection_views o WHERE o.record_id = r.id \
         AND o.status = 'upheld' AND o.outcome IN ('stop_publication', 'unlist'))"
    };
}

/// An objection of record `r` is filed and undecided.
macro_rules! under_objection {
    () => {
        "EXISTS (SELECT 1 FROM objection_views o2 WHERE o2.record_id = r.id \
         AND o2.status = 'filed')"
    };
}

/// A condition as a 0/1 column (portable: BIGINT on both backends).
macro_rules! flag {
    ($condition:expr) => {
        concat!(
            "CAST(CASE WHEN ",
            $condition,
            " THEN 1 ELSE 0 END AS BIGINT)"
        )
    };
}

/// An upheld objection found record `r` wrongly listed (unlisted): not on any list.
const UNLISTED: &str = "EXISTS (SELECT 1 FROM objection_views o3 WHERE o3.record_id = r.id \
     AND o3.status = 'upheld' AND o3.outcome = 'unlist')";

/// The record's publication was ended by something other than its window.
pub(crate) const NOT_ENDED: &str = concat!("NOT ", repaired!(), " AND NOT ", stopped!());

/// 1 when an objection of the record is filed and undecided.
pub(crate) const UNDER_OBJECTION: &str = flag!(under_objection!());

/// What other aggregates say of record `r`, as three 0/1 columns in the order of
/// [`RecordView::overlay`]: under objection, repaired, stopped.
const OVERLAY_COLUMNS: &str = concat!(
    flag!(under_objection!()),
    ", ",
    flag!(repaired!()),
    ", ",
    flag!(stopped!())
);

/// A record view from a row holding its `doc` at `at` and the [`OVERLAY_COLUMNS`] right
/// after it, completed for `today` without another query.
fn overlaid(row: &sqlx::any::AnyRow, at: usize, today: NaiveDate) -> Result<RecordView, ViewError> {
    let mut view: RecordView = serde_json::from_str(&row.try_get::<String, _>(at)?)?;
    let flag = |i: usize| -> Result<bool, ViewError> { Ok(row.try_get::<i64, _>(at + i)? != 0) };
    view.overlay(today, flag(1)?, flag(2)?, flag(3)?);
    Ok(view)
}

fn clamp(limit: u32) -> u32 {
    limit.clamp(1, MAX_LIMIT)
}

/// One record on the public disclosure: nothing personal, nothing internal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicRecord {
    pub id: String,
    pub subject_code: String,
    pub subject_name: String,
    pub sector: String,
    pub severity: String,
    pub source: String,
    pub source_ref: String,
    pub decision_date: NaiveDate,
    pub summary: String,
    /// The last day it is shown.
    pub published_until: NaiveDate,
    /// 异议中: an objection is filed and undecided.
    pub under_objection: bool,
}

/// Filters of `GET /public/records`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicRecordFilter {
    pub subject_code: Option<String>,
    pub sector: Option<String>,
    pub severity: Option<String>,
}

/// One entry of a sector list (procurement bad-behaviour list, bidding blacklist, PPP
/// breach records).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SectorListEntry {
    pub id: String,
    pub subject_code: String,
    pub subject_name: String,
    pub sector: String,
    pub severity: String,
    pub source_ref: String,
    pub decision_date: NaiveDate,
    pub summary: String,
    /// First day the ban no longer applies.
    pub ban_until: Option<NaiveDate>,
    /// The ban is in force on the reader's day: for its whole legal period, whatever the
    /// record's publicity or repair (a repair ends publication, not a penalty).
    pub banned: bool,
    /// The record itself is publicly disclosed on the reader's day (inside its publicity
    /// window, not repaired, not stopped): a fact separate from the ban.
    #[serde(default)]
    pub disclosed: bool,
    pub under_objection: bool,
}

/// Why a subject is not eligible for honours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IneligibleReason {
    /// record_published, rectification_overdue, rectification_escalated, sanction_in_force.
    pub code: String,
    /// In words.
    pub detail: String,
    /// The record or rectification behind it.
    pub case_id: String,
    /// The day the reason lapses by itself, when it does.
    pub until: Option<NaiveDate>,
}

/// Honours eligibility (§6/§7 of the mission text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Eligibility {
    pub eligible: bool,
    pub reasons: Vec<IneligibleReason>,
    /// The positive reason (守信激励, §7): the subject is in good standing, since when
    /// (set by the eligibility and public subject reads; absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub good_standing: Option<super::standing::GoodStanding>,
}

/// A subject's integrity archive (诚信档案).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Archive {
    pub subject: SubjectView,
    pub records: Vec<RecordView>,
    pub rectifications: Vec<RectificationView>,
    pub repairs: Vec<RepairView>,
    pub objections: Vec<ObjectionView>,
    pub commitments: Vec<CommitmentView>,
    pub eligibility: Eligibility,
}

/// A subject as the public sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicSubject {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub parent_code: Option<String>,
    pub disclosures: Vec<PublicRecord>,
    pub eligibility: Eligibility,
}

/// Filters of the supervisors' record list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordFilter {
    /// The unit answering for the record.
    pub unit: Option<String>,
    pub sector: Option<String>,
    pub severity: Option<String>,
    /// active or withdrawn.
    pub status: Option<String>,
    /// Only records whose unit is this one or a subject under it, at any depth (a bound
    /// supervisor's jurisdiction; parents as the subject views hold them).
    pub within: Option<String>,
}

/// Most rows of each kind an archive lists.
pub const ARCHIVE_LIMIT: i64 = 1_000;

impl Views {
    /// The stored document of one integrity aggregate, without read-time additions.
    pub async fn integrity_doc(
        &self,
        aggregate_type: &str,
        id: &str,
    ) -> Result<Option<IntegrityDoc>, ViewError> {
        let Some((table, key)) = table_of(aggregate_type) else {
            return Ok(None);
        };
        let row = sqlx::query(&format!("SELECT doc FROM {table} WHERE {key} = $1"))
            .bind(id)
            .fetch_optional(&self.db.any)
            .await?;
        match row {
            Some(row) => Ok(parse_doc(aggregate_type, &row.try_get::<String, _>(0)?)?),
            None => Ok(None),
        }
    }

    /// One subject.
    pub async fn subject(&self, code: &str) -> Result<Option<SubjectView>, ViewError> {
        Ok(match self.integrity_doc(SUBJECT_TYPE, code).await? {
            Some(IntegrityDoc::Subject(v)) => Some(v),
            _ => None,
        })
    }

    /// A bound supervisor's jurisdiction: the authority itself and every subject under it,
    /// at any depth.
    pub async fn jurisdiction(&self, code: &str) -> Result<Vec<String>, ViewError> {
        // Any depth (a government, its departments, their units, …), as records are
        // (`RecordFilter.within`); UNION stops a loop in the registry.
        let rows = sqlx::query(
            "WITH RECURSIVE below(code) AS (\
             SELECT code FROM subject_views WHERE parent_code = $1 \
             UNION SELECT s.code FROM subject_views s JOIN below ON s.parent_code = below.code) \
             SELECT code FROM below WHERE code <> $2 ORDER BY code",
        )
        .bind(code)
        .bind(code)
        .fetch_all(&self.db.any)
        .await?;
        let mut units = vec![code.to_string()];
        for row in rows {
            units.push(row.try_get(0)?);
        }
        Ok(units)
    }

    /// One civil servant (nothing personal).
    pub async fn civil_servant(&self, id: &str) -> Result<Option<CivilServantView>, ViewError> {
        Ok(match self.integrity_doc(CIVIL_SERVANT_TYPE, id).await? {
            Some(IntegrityDoc::CivilServant(v)) => Some(v),
            _ => None,
        })
    }

    /// What other aggregates say of a record: (under objection, repaired, stopped).
    pub async fn record_overlay(&self, record_id: &str) -> Result<(bool, bool, bool), ViewError> {
        let rows = sqlx::query(
            "SELECT 'o', status, outcome FROM objection_views WHERE record_id = $1 \
             UNION ALL SELECT 'p', status, NULL FROM repair_views WHERE record_id = $2",
        )
        .bind(record_id)
        .bind(record_id)
        .fetch_all(&self.db.any)
        .await?;
        let (mut under, mut repaired, mut stopped) = (false, false, false);
        for row in rows {
            let kind: String = row.try_get(0)?;
            let status: String = row.try_get(1)?;
            let outcome: Option<String> = row.try_get(2)?;
            match (kind.as_str(), status.as_str()) {
                ("o", "filed") => under = true,
                ("o", "upheld")
                    if matches!(outcome.as_deref(), Some("stop_publication" | "unlist")) =>
                {
                    stopped = true
                }
                ("p", "approved") => repaired = true,
                _ => {}
            }
        }
        Ok((under, repaired, stopped))
    }

    /// Completes a record view folded elsewhere (e.g. from a command's history).
    pub async fn complete_record(
        &self,
        mut view: RecordView,
        today: NaiveDate,
    ) -> Result<RecordView, ViewError> {
        let (under, repaired, stopped) = self.record_overlay(&view.id).await?;
        view.overlay(today, under, repaired, stopped);
        Ok(view)
    }

    /// One record as of `today`.
    pub async fn record(
        &self,
        id: &str,
        today: NaiveDate,
    ) -> Result<Option<RecordView>, ViewError> {
        match self.integrity_doc(RECORD_TYPE, id).await? {
            Some(IntegrityDoc::Record(v)) => Ok(Some(self.complete_record(v, today).await?)),
            _ => Ok(None),
        }
    }

    /// One rectification as of `today`.
    pub async fn rectification(
        &self,
        id: &str,
        today: NaiveDate,
    ) -> Result<Option<RectificationView>, ViewError> {
        Ok(match self.integrity_doc(RECTIFICATION_TYPE, id).await? {
            Some(IntegrityDoc::Rectification(mut v)) => {
                v.refresh_overdue(today);
                Some(v)
            }
            _ => None,
        })
    }

    /// One repair.
    pub async fn repair(&self, id: &str) -> Result<Option<RepairView>, ViewError> {
        Ok(match self.integrity_doc(REPAIR_TYPE, id).await? {
            Some(IntegrityDoc::Repair(v)) => Some(v),
            _ => None,
        })
    }

    /// One objection.
    pub async fn objection(&self, id: &str) -> Result<Option<ObjectionView>, ViewError> {
        Ok(match self.integrity_doc(OBJECTION_TYPE, id).await? {
            Some(IntegrityDoc::Objection(v)) => Some(v),
            _ => None,
        })
    }

    /// One commitment.
    pub async fn commitment(&self, id: &str) -> Result<Option<CommitmentView>, ViewError> {
        Ok(match self.integrity_doc(COMMITMENT_TYPE, id).await? {
            Some(IntegrityDoc::Commitment(v)) => Some(v),
            _ => None,
        })
    }

    /// The unit's earlier repairs, for a new application on `record_id`.
    pub async fn repair_history(
        &self,
        unit: &str,
        record_id: &str,
    ) -> Result<RepairHistory, ViewError> {
        let rows = sqlx::query(
            "SELECT record_id, status, approved_on, doc FROM repair_views \
             WHERE unit = $1 OR record_id = $2",
        )
        .bind(unit)
        .bind(record_id)
        .fetch_all(&self.db.any)
        .await?;
        let mut history = RepairHistory::default();
        for row in rows {
            let rid: String = row.try_get(0)?;
            let status: String = row.try_get(1)?;
            let approved_on: Option<String> = row.try_get(2)?;
            if let Some(day) = approved_on {
                history.approved_on.push(parse_date(&day)?);
            } else if status == "revoked" {
                // A revoked repair still counts towards the frequency limits.
                let doc: String = row.try_get(3)?;
                let view: RepairView = serde_json::from_str(&doc)?;
                if let Some(at) = view.approved_at {
                    history
                        .approved_on
                        .push(probity_domain::WorkingCalendar::local_date(at));
                }
            }
            if rid == record_id {
                match status.as_str() {
                    "approved" => history.record_repaired = true,
                    "applied" | "more_requested" | "accepted" => history.open_application = true,
                    _ => {}
                }
            }
        }
        history.approved_on.sort();
        Ok(history)
    }

    /// The unit's repairs that were approved (revoked ones included): (repair id,
    /// approval day in Asia/Shanghai).
    pub async fn repair_approvals(
        &self,
        unit: &str,
    ) -> Result<Vec<(String, NaiveDate)>, ViewError> {
        let rows = sqlx::query(
            "SELECT doc FROM repair_views WHERE unit = $1 AND status IN ('approved', 'revoked')",
        )
        .bind(unit)
        .fetch_all(&self.db.any)
        .await?;
        let mut approvals = Vec::new();
        for row in rows {
            let doc: String = row.try_get(0)?;
            let view: RepairView = serde_json::from_str(&doc)?;
            if let Some(at) = view.approved_at {
                approvals.push((view.id, probity_domain::WorkingCalendar::local_date(at)));
            }
        }
        approvals.sort();
        Ok(approvals)
    }

    /// Records of governments, departments and organisations inside their publicity
    /// window on `today`, newest decision first.
    #[tracing::instrument(skip(self, cursor))]
    pub async fn public_records(
        &self,
        filter: &PublicRecordFilter,
        today: NaiveDate,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<PublicRecord>, ViewError> {
        let limit = clamp(limit);
        let mut binds = Binds::default();
        let (t1, t2) = (binds.push(date_text(today)), binds.push(date_text(today)));
        let mut sql = format!(
            "SELECT r.decision_date, r.id, r.subject_code, s.name, r.sector, r.severity, \
             r.source, r.source_ref, r.summary, r.pub_ends, {UNDER_OBJECTION} \
             FROM record_views r JOIN subject_views s ON s.code = r.subject_code \
             WHERE r.civil_servant_id IS NULL AND r.status = 'active' AND r.published = 1 \
             AND r.pub_start <= {t1} AND {t2} < r.pub_ends AND {NOT_ENDED}"
        );
        if let Some(code) = &filter.subject_code {
            sql += &format!(" AND r.subject_code = {}", binds.push(code));
        }
        if let Some(sector) = &filter.sector {
            sql += &format!(" AND r.sector = {}", binds.push(sector));
        }
        if let Some(severity) = &filter.severity {
            sql += &format!(" AND r.severity = {}", binds.push(severity));
        }
        self.record_page(sql, binds, limit, cursor, |row| {
            let ends = parse_date(&row.try_get::<String, _>(9)?)?;
            Ok(PublicRecord {
                id: row.try_get(1)?,
                subject_code: row.try_get(2)?,
                subject_name: row.try_get(3)?,
                sector: row.try_get(4)?,
                severity: row.try_get(5)?,
                source: row.try_get(6)?,
                source_ref: row.try_get(7)?,
                decision_date: parse_date(&row.try_get::<String, _>(0)?)?,
                summary: row.try_get(8)?,
                published_until: ends.pred_opt().unwrap_or(ends),
                under_objection: row.try_get::<i64, _>(10)? != 0,
            })
        })
        .await
    }

    /// A sector list: the sector's records of organisations that are still effective on
    /// `today`, newest decision first: a ban in force for its whole legal period (whatever
    /// the record's publicity or repair; only a withdrawal of the source decision or an
    /// upheld objection that unlisted the record removes it), or a record inside its
    /// publicity window that is not repaired or stopped.
    #[tracing::instrument(skip(self, cursor))]
    pub async fn sector_list(
        &self,
        sector: &str,
        today: NaiveDate,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<SectorListEntry>, ViewError> {
        let limit = clamp(limit);
        let mut binds = Binds::default();
        let (d1, d2) = (binds.push(date_text(today)), binds.push(date_text(today)));
        let s = binds.push(sector);
        let s2 = binds.push(sector);
        let (t1, t2, t3) = (
            binds.push(date_text(today)),
            binds.push(date_text(today)),
            binds.push(date_text(today)),
        );
        let disclosed = format!(
            "(r.published = 1 AND r.pub_start <= {{a}} AND {{b}} < r.pub_ends AND {NOT_ENDED})"
        );
        let sql = format!(
            "SELECT r.decision_date, r.id, r.subject_code, s.name, r.sector, r.severity, \
             r.source_ref, r.summary, r.ban_until, {UNDER_OBJECTION}, \
             CAST(CASE WHEN {disclosed_select} THEN 1 ELSE 0 END AS BIGINT) \
             FROM record_views r JOIN subject_views s ON s.code = r.subject_code \
             WHERE r.civil_servant_id IS NULL AND r.status = 'active' \
             AND (r.sector = {s} OR ({s2} = 'bidding' AND r.offence = 'bribery')) \
             AND NOT {UNLISTED} AND ((r.ban_until IS NOT NULL AND {t1} < r.ban_until) \
             OR {disclosed_where})",
            disclosed_select = disclosed.replace("{a}", &d1).replace("{b}", &d2),
            disclosed_where = disclosed.replace("{a}", &t2).replace("{b}", &t3),
        );
        self.record_page(sql, binds, limit, cursor, |row| {
            let ban_until = row
                .try_get::<Option<String>, _>(8)?
                .map(|d| parse_date(&d))
                .transpose()?;
            Ok(SectorListEntry {
                id: row.try_get(1)?,
                subject_code: row.try_get(2)?,
                subject_name: row.try_get(3)?,
                sector: row.try_get(4)?,
                severity: row.try_get(5)?,
                source_ref: row.try_get(6)?,
                decision_date: parse_date(&row.try_get::<String, _>(0)?)?,
                summary: row.try_get(7)?,
                banned: ban_until.is_some_and(|b| today < b),
                ban_until,
                disclosed: row.try_get::<i64, _>(10)? != 0,
                under_objection: row.try_get::<i64, _>(9)? != 0,
            })
        })
        .await
    }

    /// Records for supervisors and auditors, newest decision first.
    #[tracing::instrument(skip(self, cursor))]
    pub async fn records(
        &self,
        filter: &RecordFilter,
        today: NaiveDate,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<RecordView>, ViewError> {
        let limit = clamp(limit);
        let mut binds = Binds::default();
        let mut sql = format!(
            "SELECT r.decision_date, r.id, r.doc, {OVERLAY_COLUMNS} FROM record_views r WHERE 1 = 1"
        );
        if let Some(unit) = &filter.unit {
            sql += &format!(" AND r.unit = {}", binds.push(unit));
        }
        if let Some(sector) = &filter.sector {
            sql += &format!(" AND r.sector = {}", binds.push(sector));
        }
        if let Some(severity) = &filter.severity {
            sql += &format!(" AND r.severity = {}", binds.push(severity));
        }
        if let Some(status) = &filter.status {
            sql += &format!(" AND r.status = {}", binds.push(status));
        }
        if let Some(authority) = &filter.within {
            let (a, b) = (binds.push(authority), binds.push(authority));
            sql += &format!(
                " AND (r.unit = {a} OR r.unit IN (\
                 WITH RECURSIVE below(code) AS (\
                 SELECT code FROM subject_views WHERE parent_code = {b} \
                 UNION SELECT s.code FROM subject_views s JOIN below ON s.parent_code = below.code) \
                 SELECT code FROM below))"
            );
        }
        self.record_page(sql, binds, limit, cursor, |row| overlaid(row, 2, today))
            .await
    }

    /// Runs a record query whose first two columns are `decision_date, id`, newest first,
    /// with cursor seek and `limit + 1` look-ahead.
    async fn record_page<T>(
        &self,
        mut sql: String,
        mut binds: Binds,
        limit: u32,
        cursor: Option<&str>,
        map: impl Fn(&sqlx::any::AnyRow) -> Result<T, ViewError>,
    ) -> Result<Page<T>, ViewError> {
        if let Some(cursor) = cursor {
            let key = decode_cursor(cursor, 2)?;
            parse_date(&key[0]).map_err(|_| ViewError::InvalidCursor)?;
            let (d1, d2, id) = (
                binds.push(key[0].clone()),
                binds.push(key[0].clone()),
                binds.push(key[1].clone()),
            );
            sql += &format!(
                " AND (r.decision_date < {d1} OR (r.decision_date = {d2} AND r.id > {id}))"
            );
        }
        sql += &format!(" ORDER BY r.decision_date DESC, r.id LIMIT {}", limit + 1);
        let mut query = sqlx::query(&sql);
        for value in &binds.values {
            query = query.bind(value.as_str());
        }
        let rows = query.fetch_all(&self.db.any).await?;
        let more = rows.len() > limit as usize;
        let mut items = Vec::new();
        let mut last = None;
        for row in rows.iter().take(limit as usize) {
            items.push(map(row)?);
            last = Some((row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?));
        }
        let next_cursor = match (more, last) {
            (true, Some((d, id))) => Some(encode_cursor(&[&d, &id])),
            _ => None,
        };
        Ok(Page { items, next_cursor })
    }

    /// Honours eligibility of an organisation on `today` (§6): ineligible while an
    /// ordinary or serious record of it is published, a rectification of it is overdue
    /// or escalated and not verified, or a sanction recorded against it is in force.
    #[tracing::instrument(skip(self, sanction_months))]
    pub async fn eligibility(
        &self,
        code: &str,
        today: NaiveDate,
        sanction_months: &SanctionMonths,
    ) -> Result<Eligibility, ViewError> {
        let mut reasons = Vec::new();
        let rows = sqlx::query(&format!(
            "SELECT r.id, r.severity, r.source, r.published, r.pub_start, r.pub_ends, \
             r.decision_date FROM record_views r \
             WHERE r.subject_code = $1 AND r.civil_servant_id IS NULL \
             AND r.status = 'active' AND {NOT_ENDED} ORDER BY r.decision_date, r.id"
        ))
        .bind(code)
        .fetch_all(&self.db.any)
        .await?;
        for row in rows {
            let id: String = row.try_get(0)?;
            let severity: String = row.try_get(1)?;
            let source: String = row.try_get(2)?;
            let published = row.try_get::<i64, _>(3)? != 0;
            let start = parse_date(&row.try_get::<String, _>(4)?)?;
            let ends = parse_date(&row.try_get::<String, _>(5)?)?;
            let decided = parse_date(&row.try_get::<String, _>(6)?)?;
            if published && severity != "minor" && start <= today && today < ends {
                reasons.push(IneligibleReason {
                    code: "record_published".into(),
                    detail: format!("a {severity} dishonesty record is published"),
                    case_id: id.clone(),
                    until: Some(ends),
                });
            }
            if source == "sanction" {
                let sev = match severity.as_str() {
                    "minor" => Severity::Minor,
                    "ordinary" => Severity::Ordinary,
                    _ => Severity::Serious,
                };
                let until = decided
                    .checked_add_months(Months::new(sanction_months.of(sev)))
                    .unwrap_or(NaiveDate::MAX);
                if decided <= today && today < until {
                    reasons.push(IneligibleReason {
                        code: "sanction_in_force".into(),
                        detail: format!("a {severity} sanction is in force"),
                        case_id: id,
                        until: Some(until),
                    });
                }
            }
        }
        let rows = sqlx::query(
            "SELECT id, due, escalated, status FROM rectification_views \
             WHERE unit = $1 AND status <> 'verified' ORDER BY due, id",
        )
        .bind(code)
        .fetch_all(&self.db.any)
        .await?;
        for row in rows {
            let id: String = row.try_get(0)?;
            let due = parse_date(&row.try_get::<String, _>(1)?)?;
            let escalated = row.try_get::<i64, _>(2)? != 0;
            let status: String = row.try_get(3)?;
            let owed = matches!(status.as_str(), "ordered" | "explained" | "rejected");
            if escalated {
                reasons.push(IneligibleReason {
                    code: "rectification_escalated".into(),
                    detail: "通报批评: a rectification was not completed by its due date".into(),
                    case_id: id,
                    until: None,
                });
            } else if owed && probity_domain::is_overdue(due, today) {
                reasons.push(IneligibleReason {
                    code: "rectification_overdue".into(),
                    detail: format!("a rectification was due on {due}"),
                    case_id: id,
                    until: None,
                });
            }
        }
        Ok(Eligibility {
            eligible: reasons.is_empty(),
            reasons,
            good_standing: None,
        })
    }

    /// A subject's public page: the subject, its current disclosures and eligibility.
    pub async fn public_subject(
        &self,
        code: &str,
        today: NaiveDate,
        sanction_months: &SanctionMonths,
    ) -> Result<Option<PublicSubject>, ViewError> {
        let Some(subject) = self.subject(code).await? else {
            return Ok(None);
        };
        let filter = PublicRecordFilter {
            subject_code: Some(code.to_string()),
            ..Default::default()
        };
        let disclosures = self
            .public_records(&filter, today, MAX_LIMIT, None)
            .await?
            .items;
        Ok(Some(PublicSubject {
            code: subject.code,
            name: subject.name,
            kind: subject.kind,
            parent_code: subject.parent_code,
            disclosures,
            eligibility: self.eligibility(code, today, sanction_months).await?,
        }))
    }

    /// A subject's integrity archive: everything on file about it (its own records and
    /// those of civil servants of the unit, by opaque id), with eligibility.
    pub async fn archive(
        &self,
        code: &str,
        today: NaiveDate,
        sanction_months: &SanctionMonths,
    ) -> Result<Option<Archive>, ViewError> {
        let Some(subject) = self.subject(code).await? else {
            return Ok(None);
        };
        let records = sqlx::query(&format!(
            "SELECT r.doc, {OVERLAY_COLUMNS} FROM record_views r WHERE r.unit = $1 \
             ORDER BY r.decision_date, r.id LIMIT {ARCHIVE_LIMIT}"
        ))
        .bind(code)
        .fetch_all(&self.db.any)
        .await?
        .iter()
        .map(|row| overlaid(row, 0, today))
        .collect::<Result<Vec<_>, _>>()?;
        let mut rectifications: Vec<RectificationView> = self
            .docs(
                "SELECT doc FROM rectification_views WHERE unit = $1 ORDER BY ordered_at, id",
                code,
            )
            .await?
            .iter()
            .map(|d| serde_json::from_str(d))
            .collect::<Result<_, _>>()?;
        rectifications
            .iter_mut()
            .for_each(|r| r.refresh_overdue(today));
        let repairs = self
            .docs(
                "SELECT doc FROM repair_views WHERE unit = $1 ORDER BY applied_at, id",
                code,
            )
            .await?
            .iter()
            .map(|d| serde_json::from_str(d))
            .collect::<Result<_, _>>()?;
        let objections = self
            .docs(
                "SELECT doc FROM objection_views WHERE unit = $1 ORDER BY filed_at, id",
                code,
            )
            .await?
            .iter()
            .map(|d| serde_json::from_str(d))
            .collect::<Result<_, _>>()?;
        let commitments = self
            .docs(
                "SELECT doc FROM commitment_views WHERE subject_code = $1 ORDER BY made_at, id",
                code,
            )
            .await?
            .iter()
            .map(|d| serde_json::from_str(d))
            .collect::<Result<_, _>>()?;
        Ok(Some(Archive {
            eligibility: self.eligibility(code, today, sanction_months).await?,
            subject,
            records,
            rectifications,
            repairs,
            objections,
            commitments,
        }))
    }

    /// The dishonesty records about a civil servant, with what other aggregates and the
    /// reader's day add to them, in decision order.
    pub async fn civil_servant_records(
        &self,
        id: &str,
        today: NaiveDate,
    ) -> Result<Vec<RecordView>, ViewError> {
        sqlx::query(&format!(
            "SELECT r.doc, {OVERLAY_COLUMNS} FROM record_views r WHERE r.civil_servant_id = $1 \
             ORDER BY r.decision_date, r.id LIMIT {ARCHIVE_LIMIT}"
        ))
        .bind(id)
        .fetch_all(&self.db.any)
        .await?
        .iter()
        .map(|row| overlaid(row, 0, today))
        .collect()
    }

    pub(crate) async fn docs(&self, sql: &str, key: &str) -> Result<Vec<String>, ViewError> {
        let rows = sqlx::query(&format!("{sql} LIMIT {ARCHIVE_LIMIT}"))
            .bind(key)
            .fetch_all(&self.db.any)
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(ViewError::from))
            .collect()
    }
}

/// Filters of the supervision item list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SupervisionItemFilter {
    /// The unit that owes (or gave) the reply (a handler: always its own).
    pub unit: Option<String>,
    /// npc_proposal, cppcc_motion, judicial_suggestion, procuratorial_suggestion.
    pub kind: Option<String>,
    /// assigned, replied, evaluated.
    pub status: Option<String>,
    /// Only items unanswered after their due day (as of the reader's day).
    pub overdue: bool,
    /// Only items whose unit is this one or a subject under it, at any depth (a bound
    /// supervisor's jurisdiction).
    pub within: Option<String>,
}

impl Views {
    /// One supervision item as of `today`.
    pub async fn supervision_item(
        &self,
        id: &str,
        today: NaiveDate,
    ) -> Result<Option<SupervisionItemView>, ViewError> {
        Ok(match self.integrity_doc(SUPERVISION_ITEM_TYPE, id).await? {
            Some(IntegrityDoc::SupervisionItem(mut v)) => {
                v.refresh_overdue(today);
                Some(v)
            }
            _ => None,
        })
    }

    /// Supervision items, newest assignment first, paged by cursor.
    #[tracing::instrument(skip(self, cursor))]
    pub async fn supervision_items(
        &self,
        filter: &SupervisionItemFilter,
        today: NaiveDate,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<SupervisionItemView>, ViewError> {
        let limit = clamp(limit);
        let mut binds = Binds::default();
        let mut sql =
            "SELECT assigned_at, id, doc FROM supervision_item_views WHERE 1 = 1".to_string();
        if let Some(unit) = &filter.unit {
            sql += &format!(" AND unit = {}", binds.push(unit));
        }
        if let Some(kind) = &filter.kind {
            sql += &format!(" AND kind = {}", binds.push(kind));
        }
        if let Some(status) = &filter.status {
            sql += &format!(" AND status = {}", binds.push(status));
        }
        if filter.overdue {
            sql += &format!(
                " AND status = 'assigned' AND due < {}",
                binds.push(date_text(today))
            );
        }
        if let Some(authority) = &filter.within {
            let (a, b) = (binds.push(authority), binds.push(authority));
            sql += &format!(
                " AND (unit = {a} OR unit IN (\
                 WITH RECURSIVE below(code) AS (\
                 SELECT code FROM subject_views WHERE parent_code = {b} \
                 UNION SELECT s.code FROM subject_views s JOIN below ON s.parent_code = below.code) \
                 SELECT code FROM below))"
            );
        }
        let mut page: Page<SupervisionItemView> = self
            .newest_first(sql, binds, "assigned_at", limit, cursor)
            .await?;
        for view in &mut page.items {
            view.refresh_overdue(today);
        }
        Ok(page)
    }

    /// A page of the documents `sql` selects (the sort instant, the id and the document,
    /// its filters appended, bound in `binds`), newest `column` first (ties by id), after
    /// `cursor` (a `next_cursor` of the same list).
    async fn newest_first<T: serde::de::DeserializeOwned>(
        &self,
        mut sql: String,
        mut binds: Binds,
        column: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<T>, ViewError> {
        if let Some(cursor) = cursor {
            let key = decode_cursor(cursor, 2)?;
            let (a1, a2, id) = (
                binds.push(key[0].clone()),
                binds.push(key[0].clone()),
                binds.push(key[1].clone()),
            );
            sql += &format!(" AND ({column} < {a1} OR ({column} = {a2} AND id > {id}))");
        }
        sql += &format!(" ORDER BY {column} DESC, id LIMIT {}", limit + 1);
        let mut query = sqlx::query(&sql);
        for value in &binds.values {
            query = query.bind(value.as_str());
        }
        let rows = query.fetch_all(&self.db.any).await?;
        let more = rows.len() > limit as usize;
        let mut items = Vec::new();
        let mut last = None;
        for row in rows.iter().take(limit as usize) {
            items.push(serde_json::from_str(&row.try_get::<String, _>(2)?)?);
            last = Some((row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?));
        }
        let next_cursor = match (more, last) {
            (true, Some((at, id))) => Some(encode_cursor(&[&at, &id])),
            _ => None,
        };
        Ok(Page { items, next_cursor })
    }
}

/// A commitment as the public sees it (承诺公示): township public commitments and
/// investment promises with their fulfilment; repair commitments are not listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicCommitment {
    pub id: String,
    pub subject_code: String,
    pub subject_name: String,
    /// investment_promise or township_public.
    pub kind: String,
    /// What is promised now (after any recorded change).
    pub text: String,
    pub due_date: Option<NaiveDate>,
    /// pending (in force, not assessed yet), fulfilled, partially_fulfilled, breached.
    pub fulfilment: String,
    pub made_at: chrono::DateTime<chrono::Utc>,
    pub assessed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Changes by the recorded procedure: the earlier promise, why, who decided, when.
    pub changes: Vec<CommitmentChange>,
}

impl PublicCommitment {
    /// The public form of a stored commitment document (`commitment_views.doc`) whose
    /// subject is named `subject_name`.
    pub fn from_doc(doc: &str, subject_name: String) -> Result<Self, ViewError> {
        let v: CommitmentView = serde_json::from_str(doc)?;
        Ok(Self {
            id: v.id,
            subject_code: v.subject_code,
            subject_name,
            kind: v.kind,
            text: v.text,
            due_date: v.due_date,
            fulfilment: v.level.unwrap_or_else(|| "pending".into()),
            made_at: v.made_at,
            assessed_at: v.assessed_at,
            changes: v.changes,
        })
    }
}

/// The kinds of commitment published (承诺公示, the city's opinions §12 and §14).
pub const PUBLIC_COMMITMENT_KINDS: [&str; 2] = ["investment_promise", "township_public"];

impl Views {
    /// Published commitments, newest first, paged by cursor (`made_at`, id).
    #[tracing::instrument(skip(self, cursor))]
    pub async fn public_commitments(
        &self,
        subject_code: Option<&str>,
        kind: Option<&str>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<PublicCommitment>, ViewError> {
        let limit = clamp(limit);
        let mut binds = Binds::default();
        let mut sql = format!(
            "SELECT c.made_at, c.id, c.doc, s.name FROM commitment_views c \
             JOIN subject_views s ON s.code = c.subject_code WHERE c.kind IN ({}, {})",
            binds.push(PUBLIC_COMMITMENT_KINDS[0]),
            binds.push(PUBLIC_COMMITMENT_KINDS[1])
        );
        if let Some(code) = subject_code {
            sql += &format!(" AND c.subject_code = {}", binds.push(code));
        }
        if let Some(kind) = kind {
            sql += &format!(" AND c.kind = {}", binds.push(kind));
        }
        if let Some(cursor) = cursor {
            let key = decode_cursor(cursor, 2)?;
            let (a1, a2, id) = (
                binds.push(key[0].clone()),
                binds.push(key[0].clone()),
                binds.push(key[1].clone()),
            );
            sql += &format!(" AND (c.made_at < {a1} OR (c.made_at = {a2} AND c.id > {id}))");
        }
        sql += &format!(" ORDER BY c.made_at DESC, c.id LIMIT {}", limit + 1);
        let mut query = sqlx::query(&sql);
        for value in &binds.values {
            query = query.bind(value.as_str());
        }
        let rows = query.fetch_all(&self.db.any).await?;
        let more = rows.len() > limit as usize;
        let mut items = Vec::new();
        let mut last = None;
        for row in rows.iter().take(limit as usize) {
            items.push(PublicCommitment::from_doc(
                &row.try_get::<String, _>(2)?,
                row.try_get(3)?,
            )?);
            last = Some((row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?));
        }
        let next_cursor = match (more, last) {
            (true, Some((a, id))) => Some(encode_cursor(&[&a, &id])),
            _ => None,
        };
        Ok(Page { items, next_cursor })
    }
}

impl Views {
    /// Third parties' record proposals, newest submission first, only those in `status`
    /// when given (`submitted`, `confirmed`, `rejected`), paged by cursor: every page is
    /// full while more match.
    #[tracing::instrument(skip(self, cursor))]
    pub async fn record_proposals(
        &self,
        status: Option<&str>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<ProposalView>, ViewError> {
        let limit = clamp(limit);
        let mut binds = Binds::default();
        let mut sql =
            "SELECT submitted_at, id, doc FROM record_proposal_views WHERE 1 = 1".to_string();
        if let Some(status) = status {
            sql += &format!(" AND status = {}", binds.push(status));
        }
        self.newest_first(sql, binds, "submitted_at", limit, cursor)
            .await
    }
}
