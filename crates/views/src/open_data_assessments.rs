//! Open data for third-party evaluators: the public assessment rows (what
//! `GET /public/assessments?period=` shows, nothing more) of the periods an evaluator
//! asks for, as a change feed read in bulk, incremental by an opaque cursor (ADR 0031).
//!
//! A public assessment row depends on the log, on the evaluation day (an owed reply or
//! rectification counts late once its due day has passed, without any event) and on the
//! formula in force; a rank depends on every other unit's score. No log position can say
//! which rows changed, so the feed keeps, in `open_data_assessment_rows`, every row as it
//! was last handed out, with the change number (`seq`) it was handed out under. Each pull
//! first evaluates its periods on its own day ([`Views::refresh_open_data_assessments`],
//! the stored assessment, [`assess_stored`]) and compares every row with the kept one: a
//! row that differs or is new is kept with the next change number, a kept row whose unit
//! is no longer assessed becomes a `delete` with it. The pull's cursor is the highest
//! change number; the lines are the rows of its periods whose change number is above the
//! cursor it was given (all of them without one), each as it stands now.
//!
//! Whatever changed a row (an event, a day passing, a new formula, another unit's score
//! moving its rank), the comparison sees it, so an evaluator who applies the lines in
//! order (an `upsert` replaces the row keyed by period and subject code, a `delete`
//! drops it) holds exactly the rows the public assessment shows on the day of its last
//! pull. Refreshes are one at a time (a lock in the process and, on Postgres, on the
//! table), so change numbers are handed out in the order the rows were evaluated.
//!
//! A pull names its periods (`2027`, `2027-Q2`, several separated by commas) or none:
//! then every year and quarter the stored assessment holds figures for, and every period
//! the feed has already handed out rows of. A cursor serves only pulls of the periods it
//! was handed out for.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{Datelike as _, NaiveDate};
use probity_domain::assessment::{AssessmentFormula, Period};
use probity_store::Backend;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};

use crate::assessment::{assess_stored, PublicAssessmentRow};
use crate::{ViewError, Views};

/// The periods a pull covers: those named (in text form, sorted, without repeats), or
/// `None` for every period with data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeriodScope(Option<Vec<String>>);

impl PeriodScope {
    /// Every period with data.
    pub fn all() -> Self {
        Self(None)
    }

    /// The periods named in `text` (`2027`, `2027-Q2`, separated by commas); blank is
    /// every period with data. At most [`PeriodScope::MAX`] periods.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Self::all());
        }
        let mut periods = BTreeSet::new();
        for part in text.split(',') {
            let period = part
                .parse::<Period>()
                .map_err(|e| format!("{e}; several separated by commas"))?;
            periods.insert(period.to_string());
        }
        if periods.len() > Self::MAX {
            return Err(format!("at most {} periods in one pull", Self::MAX));
        }
        Ok(Self(Some(periods.into_iter().collect())))
    }

    /// The most periods one pull may name.
    pub const MAX: usize = 40;

    fn text(&self) -> String {
        self.0.as_ref().map(|p| p.join(",")).unwrap_or_default()
    }
}

/// The canonical text of the periods (empty: every period with data).
impl std::fmt::Display for PeriodScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

/// Where a pull of the assessments feed stopped: the highest change number handed out,
/// and the periods it covered. Opaque to readers (`Display` / `FromStr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssessmentCursor {
    /// The highest change number of `open_data_assessment_rows` at the pull.
    pub seq: i64,
    /// The periods of the pull.
    pub scope: PeriodScope,
}

/// The tag that tells an assessments cursor from a records one.
const CURSOR_TAG: &str = "assessments";

#[derive(Serialize, Deserialize)]
struct CursorText(String, i64, String);

impl std::fmt::Display for AssessmentCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = serde_json::to_vec(&CursorText(CURSOR_TAG.into(), self.seq, self.scope.text()))
            .map_err(|_| std::fmt::Error)?;
        f.write_str(&URL_SAFE_NO_PAD.encode(text))
    }
}

impl std::str::FromStr for AssessmentCursor {
    type Err = ViewError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = URL_SAFE_NO_PAD
            .decode(s.trim())
            .map_err(|_| ViewError::InvalidCursor)?;
        let CursorText(tag, seq, scope) =
            serde_json::from_slice(&bytes).map_err(|_| ViewError::InvalidCursor)?;
        if tag != CURSOR_TAG || seq < 0 {
            return Err(ViewError::InvalidCursor);
        }
        let scope = PeriodScope::parse(&scope).map_err(|_| ViewError::InvalidCursor)?;
        Ok(Self { seq, scope })
    }
}

/// One line of the assessments feed, keyed by period and subject code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AssessmentLine {
    /// The row as the public assessment shows it now.
    Upsert(PublicAssessmentRow),
    /// The unit is no longer assessed over the period: drop its row.
    Delete {
        /// `2027` or `2027-Q2`.
        period: String,
        /// The unit's credit code.
        code: String,
    },
}

impl AssessmentLine {
    /// The key the feed orders its lines by: `<period>/<code>`.
    pub fn key(&self) -> String {
        match self {
            Self::Upsert(r) => row_key(&r.period, &r.code),
            Self::Delete { period, code } => row_key(period, code),
        }
    }
}

fn row_key(period: &str, code: &str) -> String {
    format!("{period}/{code}")
}

/// One refresh at a time in this process (Postgres also locks the table, for replicas).
static REFRESH: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Placeholders `$from..` for `n` values.
fn list(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Views {
    /// Evaluates the periods of `scope` on `today` with `formula` and keeps every row
    /// that changed (see the module documentation) under the next change number; the
    /// cursor of the pull (the highest change number kept).
    pub async fn refresh_open_data_assessments(
        &self,
        scope: &PeriodScope,
        today: NaiveDate,
        formula: &AssessmentFormula,
    ) -> Result<AssessmentCursor, ViewError> {
        let _turn = REFRESH.lock().await;
        // On SQLite the write lock up front (a read first could not write later).
        let mut tx = crate::projector::begin_write(&self.db).await?;
        if self.db.backend == Backend::Postgres {
            // Replicas refresh one at a time too; plain reads go on.
            sqlx::query("LOCK TABLE open_data_assessment_rows IN EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
        }
        let periods: Vec<String> = match &scope.0 {
            Some(periods) => periods.clone(),
            None => {
                let mut periods = BTreeSet::new();
                for row in sqlx::query("SELECT DISTINCT period FROM open_data_assessment_rows")
                    .fetch_all(&mut *tx)
                    .await?
                {
                    periods.insert(row.try_get::<String, _>(0)?);
                }
                // On SQLite (one writer) the other connections still read.
                for row in sqlx::query("SELECT DISTINCT quarter FROM assessment_counts")
                    .fetch_all(&self.db.any)
                    .await?
                {
                    let quarter = row.try_get::<String, _>(0)?;
                    if let Ok(q) = quarter.parse::<Period>() {
                        periods.insert(q.to_string());
                        periods.insert(Period::Year(q.first_day().year()).to_string());
                    }
                }
                periods.into_iter().collect()
            }
        };
        let next: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM open_data_assessment_rows")
            .fetch_one(&mut *tx)
            .await?
            .try_get::<i64, _>(0)?
            + 1;
        let mut changed = false;
        for text in &periods {
            let period = text
                .parse::<Period>()
                .map_err(|e| ViewError::Store(probity_store::StoreError::Other(e.to_string())))?;
            let mut now = BTreeMap::new();
            for row in assess_stored(&self.db, period, today, formula).await? {
                let public = PublicAssessmentRow::from(&row);
                let line = serde_json::to_string(&public)?;
                now.insert(public.code, line);
            }
            let mut kept: BTreeMap<String, Option<String>> = BTreeMap::new();
            for row in sqlx::query(
                "SELECT subject_code, line FROM open_data_assessment_rows WHERE period = $1",
            )
            .bind(text)
            .fetch_all(&mut *tx)
            .await?
            {
                kept.insert(row.try_get(0)?, row.try_get(1)?);
            }
            let mut writes: Vec<(String, Option<String>)> = Vec::new();
            for (code, line) in &now {
                if kept.get(code).and_then(Option::as_ref) != Some(line) {
                    writes.push((code.clone(), Some(line.clone())));
                }
            }
            for (code, line) in &kept {
                if line.is_some() && !now.contains_key(code) {
                    writes.push((code.clone(), None));
                }
            }
            for (code, line) in writes {
                changed = true;
                sqlx::query(
                    "INSERT INTO open_data_assessment_rows (row_key, period, subject_code, line, seq) \
                     VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (row_key) DO UPDATE SET line = excluded.line, seq = excluded.seq",
                )
                .bind(row_key(text, &code))
                .bind(text)
                .bind(code)
                .bind(line)
                .bind(next)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(AssessmentCursor {
            seq: if changed { next } else { next - 1 },
            scope: scope.clone(),
        })
    }

    /// Up to `limit` lines of the assessments feed with a key after `after_key`, in key
    /// order: the rows of `scope`'s periods with a change number above `since` (every
    /// row still assessed without `since`), as kept by the last refresh.
    pub async fn open_data_assessments(
        &self,
        scope: &PeriodScope,
        since: Option<i64>,
        after_key: &str,
        limit: u32,
    ) -> Result<Vec<AssessmentLine>, ViewError> {
        let periods = scope.0.clone().unwrap_or_default();
        let in_periods = if scope.0.is_some() {
            format!("AND period IN ({})", list(3, periods.len()))
        } else {
            String::new()
        };
        let which = if since.is_some() {
            "seq > $2"
        } else {
            "line IS NOT NULL AND $2 = 0"
        };
        let sql = format!(
            "SELECT period, subject_code, line FROM open_data_assessment_rows \
             WHERE row_key > $1 AND {which} {in_periods} ORDER BY row_key LIMIT {}",
            limit.clamp(1, 10_000)
        );
        let mut query = sqlx::query(&sql)
            .bind(after_key.to_string())
            .bind(since.unwrap_or(0));
        for period in periods {
            query = query.bind(period);
        }
        let rows = query.fetch_all(&self.db.any).await?;
        rows.iter()
            .map(|row| {
                Ok(match row.try_get::<Option<String>, _>(2)? {
                    Some(line) => AssessmentLine::Upsert(serde_json::from_str(&line)?),
                    None => AssessmentLine::Delete {
                        period: row.try_get(0)?,
                        code: row.try_get(1)?,
                    },
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_a_records_cursor_or_a_forged_one_is_refused() {
        for scope in ["", "2027", "2027-q2,2026"] {
            let cursor = AssessmentCursor {
                seq: 41,
                scope: PeriodScope::parse(scope).unwrap(),
            };
            assert_eq!(
                cursor.to_string().parse::<AssessmentCursor>().unwrap(),
                cursor
            );
        }
        for forged in [
            "",
            "abc",
            &URL_SAFE_NO_PAD.encode("[1,2,\"2026-03-02\"]"),
            &URL_SAFE_NO_PAD.encode("[\"assessments\",-1,\"\"]"),
            &URL_SAFE_NO_PAD.encode("[\"assessments\",3,\"2027-Q5\"]"),
            &URL_SAFE_NO_PAD.encode("[\"records\",3,\"\"]"),
        ] {
            assert!(forged.parse::<AssessmentCursor>().is_err(), "{forged}");
        }
    }

    #[test]
    fn a_scope_is_its_periods_sorted_once_each_and_a_bad_one_is_refused() {
        assert_eq!(PeriodScope::parse(" ").unwrap(), PeriodScope::all());
        assert_eq!(
            PeriodScope::parse("2027-q2, 2026,2027-Q2").unwrap().text(),
            "2026,2027-Q2"
        );
        assert!(PeriodScope::parse("2027,").is_err());
        assert!(PeriodScope::parse("27").is_err());
    }
}
