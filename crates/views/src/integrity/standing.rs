//! Good standing (守信激励, §7; issue 11 item 7): subjects with no published record, no
//! overdue rectification and no breached commitment for a configured number of years,
//! with the day they qualified. Decided at read from the subject's rows, like the
//! honours eligibility, so a subject enters and leaves the list by itself.
//!
//! What disturbs a record (the clean years count from the latest, or from registration):
//! - a record of the subject with a published window (not withdrawn): it disturbs until
//!   its window ends (`pub_ends`); while inside it the subject does not qualify at all.
//!   A repair or a stopped publication does not shorten this (conservative: the window
//!   the policy set).
//! - a rectification of the subject: overdue now means no qualification; each missed due
//!   date it was escalated for disturbs on the day after it.
//! - a commitment of the subject assessed as breached disturbs on the day of the
//!   assessment.

use chrono::NaiveDate;
use probity_domain::calendar::WorkingCalendar;
use probity_domain::integrity::good_standing_from;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::docs::{CommitmentView, RectificationView, SubjectView};
use crate::sql::{date_text, parse_date};
use crate::{ViewError, Views};

/// Subjects read per scan of the good-standing list.
const SCAN: i64 = 200;
/// Subjects one request scans at most before it returns a cursor.
const SCAN_MAX: usize = 2_000;

/// A subject in good standing, with the positive reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GoodStanding {
    pub code: String,
    pub name: String,
    /// government, department, public_institution or enterprise.
    pub kind: String,
    /// The first day it was in good standing.
    pub qualified_on: NaiveDate,
    /// The clean years counted (configuration).
    pub years: u32,
    /// The positive reason in words.
    pub reason: String,
}

/// A page of the good-standing list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GoodStandingList {
    pub items: Vec<GoodStanding>,
    /// The last subject scanned, when more remain (opaque).
    pub next_cursor: Option<String>,
}

impl Views {
    /// The day `subject` qualified (or will qualify) for good standing, `None` while a
    /// record of it is published or a rectification of it is overdue.
    async fn qualifies_on(
        &self,
        subject: &SubjectView,
        today: NaiveDate,
        years: u32,
    ) -> Result<Option<NaiveDate>, ViewError> {
        let code = subject.code.as_str();
        let mut disturbed = false;
        let mut disturbances = Vec::new();
        let windows = sqlx::query(
            "SELECT pub_start, pub_ends FROM record_views WHERE subject_code = $1 \
             AND civil_servant_id IS NULL AND status = 'active' AND published = 1 \
             AND pub_start <= $2",
        )
        .bind(code)
        .bind(date_text(today))
        .fetch_all(&self.db.any)
        .await?;
        for row in windows {
            let ends = parse_date(&row.try_get::<String, _>(1)?)?;
            if today < ends {
                disturbed = true;
            }
            disturbances.push(ends);
        }
        for doc in self
            .docs("SELECT doc FROM rectification_views WHERE unit = $1", code)
            .await?
        {
            let mut r: RectificationView = serde_json::from_str(&doc)?;
            r.refresh_overdue(today);
            disturbed |= r.overdue;
            disturbances.extend(r.escalations.iter().filter_map(|d| d.succ_opt()));
        }
        for doc in self
            .docs(
                "SELECT doc FROM commitment_views WHERE subject_code = $1",
                code,
            )
            .await?
        {
            let c: CommitmentView = serde_json::from_str(&doc)?;
            if c.level.as_deref() == Some("breached") {
                if let Some(at) = c.assessed_at {
                    disturbances.push(WorkingCalendar::local_date(at));
                }
            }
        }
        let registered = WorkingCalendar::local_date(subject.registered_at);
        Ok(good_standing_from(
            registered,
            disturbances,
            disturbed,
            years,
        ))
    }

    /// `subject`'s good standing on `today`, if it is in good standing.
    pub async fn good_standing_of(
        &self,
        subject: &SubjectView,
        today: NaiveDate,
        years: u32,
    ) -> Result<Option<GoodStanding>, ViewError> {
        Ok(self
            .qualifies_on(subject, today, years)
            .await?
            .filter(|on| *on <= today)
            .map(|qualified_on| GoodStanding {
                code: subject.code.clone(),
                name: subject.name.clone(),
                kind: subject.kind.clone(),
                qualified_on,
                years,
                reason: format!(
                    "守信: no published record, no overdue rectification and no breached \
                     commitment for {years} years, since {qualified_on}"
                ),
            }))
    }

    /// Subjects of `kind` (all kinds when `None`) in good standing on `today`, by credit
    /// code, after `cursor` (a code this list returned).
    #[tracing::instrument(skip(self))]
    pub async fn good_standing(
        &self,
        kind: Option<&str>,
        today: NaiveDate,
        years: u32,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<GoodStandingList, ViewError> {
        let limit = limit.clamp(1, 500) as usize;
        let mut after = cursor.unwrap_or("").to_string();
        let mut items = Vec::new();
        let mut scanned = 0;
        loop {
            let rows = sqlx::query(&format!(
                "SELECT code, doc FROM subject_views WHERE code > $1 \
                 AND ($2 = '' OR kind = $3) ORDER BY code LIMIT {SCAN}"
            ))
            .bind(after.clone())
            .bind(kind.unwrap_or(""))
            .bind(kind.unwrap_or(""))
            .fetch_all(&self.db.any)
            .await?;
            let last_batch = (rows.len() as i64) < SCAN;
            for row in rows {
                let subject: SubjectView = serde_json::from_str(&row.try_get::<String, _>(1)?)?;
                after = subject.code.clone();
                scanned += 1;
                if let Some(g) = self.good_standing_of(&subject, today, years).await? {
                    items.push(g);
                }
                if items.len() == limit || scanned == SCAN_MAX {
                    return Ok(GoodStandingList {
                        items,
                        next_cursor: Some(after),
                    });
                }
            }
            if last_batch {
                return Ok(GoodStandingList {
                    items,
                    next_cursor: None,
                });
            }
        }
    }
}
