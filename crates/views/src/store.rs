//! Reads of the view tables: one complaint, the filtered complaint list, and the
//! deadline board, each paged with an opaque cursor in a stable order.
//!
//! `overdue` depends on the reader's `today`, so it is never trusted from the stored
//! document: lists filter on it in SQL from the stored dates, and every returned view
//! has it recomputed.

use chrono::NaiveDate;
use probity_domain::calendar::WorkingCalendar;
use probity_store::Db;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::complaint_view::ComplaintView;
use crate::sql::{date_text, decode_cursor, encode_cursor, parse_date, ts_text, Binds};
use crate::ViewError;

/// Largest page a list returns.
pub const MAX_LIMIT: u32 = 500;

/// Read access to the view tables.
#[derive(Clone, Debug)]
pub struct Views {
    pub db: Db,
}

/// Filters of `GET /complaints`; `None` means no filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComplaintFilter {
    /// Contract status name.
    pub status: Option<String>,
    /// Credit code of the handling unit.
    pub unit: Option<String>,
    /// Contract category name.
    pub category: Option<String>,
    /// Only overdue cases (`true`) or only cases that are not (`false`), as of `today`.
    pub overdue: Option<bool>,
    /// Only cases handled by one of these units (a bound supervisor's jurisdiction); an
    /// empty list matches nothing.
    pub units: Option<Vec<String>>,
    /// Only cases received at or after this instant (an index range, not a scan from the
    /// first case: Open311's date window).
    pub received_from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only cases received at or before this instant.
    pub received_to: Option<chrono::DateTime<chrono::Utc>>,
}

/// One page of a list; `next_cursor` is `None` on the last page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// `state` of the deadline board. Its OpenAPI name is `DeadlineBoardState`: the HTTP
/// layer's `DeadlineState` is the query parameter's schema (one name, one schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = DeadlineBoardState)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineState {
    /// The due day has passed.
    Overdue,
    /// Due today or within `due_soon_working_days` working days.
    DueSoon,
}

/// Filters and paging of `GET /deadlines`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineFilter {
    pub state: Option<DeadlineState>,
    /// `complaint_sign` or `complaint_reply` (more kinds as more case types arrive).
    pub kind: Option<String>,
    /// Credit code of the unit that owes the deadline.
    pub unit: Option<String>,
    /// Only deadlines owed by one of these units (a bound supervisor's jurisdiction);
    /// an empty list matches nothing.
    pub units: Option<Vec<String>>,
    /// How many working days ahead counts as due soon (default 1).
    pub due_soon_working_days: i64,
    /// Page size, 1..=500 (clamped).
    pub limit: u32,
    pub cursor: Option<String>,
}

impl Default for DeadlineFilter {
    fn default() -> Self {
        Self {
            state: None,
            kind: None,
            unit: None,
            units: None,
            due_soon_working_days: 1,
            limit: 50,
            cursor: None,
        }
    }
}

/// One open deadline on the board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeadlineEntry {
    pub case_id: String,
    /// `complaint` (rectification, repair and objection cases later).
    pub case_type: String,
    /// `complaint_sign` or `complaint_reply`.
    pub kind: String,
    /// Credit code of the unit that owes it.
    pub unit: Option<String>,
    /// End of this working day, Asia/Shanghai.
    pub due: NaiveDate,
    /// Working days from today to `due`: 0 on the day, negative once past.
    pub working_days_left: i64,
    /// Computed through a year without an official holiday schedule.
    pub provisional: bool,
    /// The due day has passed.
    pub overdue: bool,
}

/// The list's overdue rule in SQL: the set-based form of
/// [`probity_domain::complaint::is_overdue`] (`due < today` on each open deadline);
/// `today` is the placeholder of the reader's date, bound twice.
fn overdue_sql(today_a: &str, today_b: &str) -> String {
    format!(
        "((status IN ('dispatched', 'in_progress') AND reply_due IS NOT NULL AND reply_due < {today_a}) \
         OR (status = 'dispatched' AND sign_due IS NOT NULL AND sign_due < {today_b}))"
    )
}

/// ` AND unit IN (...)` for a jurisdiction (` AND 1 = 0` when it is empty).
fn units_clause(units: &[String], binds: &mut Binds) -> String {
    if units.is_empty() {
        return " AND 1 = 0".to_string();
    }
    let placeholders: Vec<String> = units.iter().map(|u| binds.push(u.clone())).collect();
    format!(" AND unit IN ({})", placeholders.join(", "))
}

fn clamp_limit(limit: u32) -> u32 {
    limit.clamp(1, MAX_LIMIT)
}

/// Rows the deadline board reads per round while it filters by working days.
const DEADLINE_SCAN: u32 = 500;

impl Views {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// One complaint with `overdue` as of `today`.
    #[tracing::instrument(skip(self))]
    pub async fn complaint(
        &self,
        id: &str,
        today: NaiveDate,
    ) -> Result<Option<ComplaintView>, ViewError> {
        let row = sqlx::query("SELECT doc FROM complaint_views WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.db.any)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let doc: String = row.try_get(0)?;
        let mut view: ComplaintView = serde_json::from_str(&doc)?;
        view.refresh_overdue(today);
        Ok(Some(view))
    }

    /// Complaints matching `filter`, ordered by `(received_at, id)`, `limit` (1..=500,
    /// clamped) at a time after `cursor`.
    #[tracing::instrument(skip(self, cursor))]
    pub async fn complaints(
        &self,
        filter: &ComplaintFilter,
        today: NaiveDate,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<ComplaintView>, ViewError> {
        let limit = clamp_limit(limit);
        let mut binds = Binds::default();
        let mut sql = String::from("SELECT received_at, id, doc FROM complaint_views WHERE 1 = 1");
        if let Some(status) = &filter.status {
            sql += &format!(" AND status = {}", binds.push(status));
        }
        if let Some(unit) = &filter.unit {
            sql += &format!(" AND unit = {}", binds.push(unit));
        }
        if let Some(units) = &filter.units {
            sql += &units_clause(units, &mut binds);
        }
        if let Some(category) = &filter.category {
            sql += &format!(" AND category = {}", binds.push(category));
        }
        if let Some(from) = filter.received_from {
            sql += &format!(" AND received_at >= {}", binds.push(ts_text(from)));
        }
        if let Some(to) = filter.received_to {
            sql += &format!(" AND received_at <= {}", binds.push(ts_text(to)));
        }
        if let Some(overdue) = filter.overdue {
            let rule = overdue_sql(&binds.push(date_text(today)), &binds.push(date_text(today)));
            sql += &if overdue {
                format!(" AND {rule}")
            } else {
                format!(" AND NOT {rule}")
            };
        }
        if let Some(cursor) = cursor {
            let key = decode_cursor(cursor, 2)?;
            chrono::DateTime::parse_from_rfc3339(&key[0]).map_err(|_| ViewError::InvalidCursor)?;
            let (a1, b, a2) = (
                binds.push(key[0].clone()),
                binds.push(key[1].clone()),
                binds.push(key[0].clone()),
            );
            sql += &format!(" AND (received_at > {a1} OR (received_at = {a2} AND id > {b}))");
        }
        sql += &format!(" ORDER BY received_at, id LIMIT {}", limit + 1);

        let mut query = sqlx::query(&sql);
        for value in &binds.values {
            query = query.bind(value.as_str());
        }
        let rows = query.fetch_all(&self.db.any).await?;
        let more = rows.len() > limit as usize;
        let mut items = Vec::with_capacity(rows.len().min(limit as usize));
        let mut last_key = None;
        for row in rows.into_iter().take(limit as usize) {
            let received_at: String = row.try_get(0)?;
            let id: String = row.try_get(1)?;
            let doc: String = row.try_get(2)?;
            let mut view: ComplaintView = serde_json::from_str(&doc)?;
            view.refresh_overdue(today);
            items.push(view);
            last_key = Some((received_at, id));
        }
        let next_cursor = match (more, last_key) {
            (true, Some((received_at, id))) => Some(encode_cursor(&[&received_at, &id])),
            _ => None,
        };
        Ok(Page { items, next_cursor })
    }

    /// Open deadlines, most urgent first (`due`, then case id), with working days left
    /// as of `today` on `calendar`.
    #[tracing::instrument(skip(self, calendar))]
    pub async fn deadlines(
        &self,
        filter: &DeadlineFilter,
        today: NaiveDate,
        calendar: &WorkingCalendar,
    ) -> Result<Page<DeadlineEntry>, ViewError> {
        let limit = clamp_limit(filter.limit) as usize;
        let mut after = match &filter.cursor {
            Some(cursor) => {
                let key = decode_cursor(cursor, 4)?;
                parse_date(&key[0]).map_err(|_| ViewError::InvalidCursor)?;
                Some(key)
            }
            None => None,
        };
        let mut items: Vec<DeadlineEntry> = Vec::new();
        let mut more = false;
        'scan: loop {
            let mut binds = Binds::default();
            let mut sql = String::from(
                "SELECT due, case_id, case_type, kind, unit, provisional FROM deadline_entries WHERE 1 = 1",
            );
            if let Some(kind) = &filter.kind {
                sql += &format!(" AND kind = {}", binds.push(kind));
            }
            if let Some(unit) = &filter.unit {
                sql += &format!(" AND unit = {}", binds.push(unit));
            }
            if let Some(units) = &filter.units {
                sql += &units_clause(units, &mut binds);
            }
            match filter.state {
                Some(DeadlineState::Overdue) => {
                    sql += &format!(" AND due < {}", binds.push(date_text(today)));
                }
                Some(DeadlineState::DueSoon) => {
                    sql += &format!(" AND due >= {}", binds.push(date_text(today)));
                }
                None => {}
            }
            if let Some(key) = &after {
                // (due, case_id, case_type, kind) > key, spelled out for both backends.
                let p: Vec<String> = (0..4).map(|i| binds.push(key[i].clone())).collect();
                let q: Vec<String> = (0..3).map(|i| binds.push(key[i].clone())).collect();
                sql += &format!(
                    " AND (due > {} OR (due = {} AND (case_id > {} OR (case_id = {} AND \
                     (case_type > {} OR (case_type = {} AND kind > {}))))))",
                    p[0], q[0], p[1], q[1], p[2], q[2], p[3]
                );
            }
            sql += &format!(" ORDER BY due, case_id, case_type, kind LIMIT {DEADLINE_SCAN}");
            let mut query = sqlx::query(&sql);
            for value in &binds.values {
                query = query.bind(value.as_str());
            }
            let rows = query.fetch_all(&self.db.any).await?;
            let scanned = rows.len();
            for row in rows {
                let due_text: String = row.try_get(0)?;
                let case_id: String = row.try_get(1)?;
                let case_type: String = row.try_get(2)?;
                let kind: String = row.try_get(3)?;
                let unit: Option<String> = row.try_get(4)?;
                let provisional: i64 = row.try_get(5)?;
                after = Some(vec![
                    due_text.clone(),
                    case_id.clone(),
                    case_type.clone(),
                    kind.clone(),
                ]);
                let due = parse_date(&due_text)?;
                let left = calendar.working_days_left(today, due)?;
                let overdue = probity_domain::is_overdue(due, today);
                match filter.state {
                    Some(DeadlineState::DueSoon) if left > filter.due_soon_working_days => {
                        // Sorted by due date, so everything after is further away.
                        break 'scan;
                    }
                    Some(DeadlineState::DueSoon) if overdue || left < 0 => continue,
                    _ => {}
                }
                if items.len() == limit {
                    more = true;
                    break 'scan;
                }
                items.push(DeadlineEntry {
                    case_id,
                    case_type,
                    kind,
                    unit,
                    due,
                    working_days_left: left,
                    provisional: provisional != 0,
                    overdue,
                });
            }
            if scanned < DEADLINE_SCAN as usize {
                break;
            }
        }
        let next_cursor = match (more, items.last()) {
            (true, Some(last)) => Some(encode_cursor(&[
                &date_text(last.due),
                &last.case_id,
                &last.case_type,
                &last.kind,
            ])),
            _ => None,
        };
        Ok(Page { items, next_cursor })
    }
}
