//! Debt risk warnings (§13; issue 11 item 5): the facts a government's warning is
//! evaluated on (its debt records and their rectifications), the governments to
//! evaluate, and the warning list supervisors read.

use probity_domain::debt_warning::{DebtRecordFact, DebtRectificationFact};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::docs::{DebtWarningView, RectificationView};
use crate::sql::parse_date;
use crate::{ViewError, Views};

/// A government's warning with its name, as the warning list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DebtWarningItem {
    /// The government's name (from its subject row; empty if not registered).
    pub subject_name: String,
    #[serde(flatten)]
    pub warning: DebtWarningView,
}

impl Views {
    /// A subject's debt records (any status: withdrawn ones are passed as not active)
    /// and the rectifications ordered on them.
    #[tracing::instrument(skip(self))]
    pub async fn debt_facts(
        &self,
        subject_code: &str,
    ) -> Result<(Vec<DebtRecordFact>, Vec<DebtRectificationFact>), ViewError> {
        let rows = sqlx::query(
            "SELECT id, decision_date, status FROM record_views WHERE sector = 'debt' \
             AND subject_code = $1 AND civil_servant_id IS NULL ORDER BY id",
        )
        .bind(subject_code)
        .fetch_all(&self.db.any)
        .await?;
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            records.push(DebtRecordFact {
                id: row.try_get(0)?,
                decision_date: parse_date(&row.try_get::<String, _>(1)?)?,
                active: row.try_get::<String, _>(2)? == "active",
            });
        }
        let rows = sqlx::query(
            "SELECT c.doc FROM rectification_views c JOIN record_views r ON r.id = c.record_id \
             WHERE r.sector = 'debt' AND r.subject_code = $1 AND r.civil_servant_id IS NULL \
             ORDER BY c.id",
        )
        .bind(subject_code)
        .fetch_all(&self.db.any)
        .await?;
        let mut rectifications = Vec::with_capacity(rows.len());
        for row in rows {
            let v: RectificationView = serde_json::from_str(&row.try_get::<String, _>(0)?)?;
            rectifications.push(DebtRectificationFact {
                owed: v.owed_by_unit(),
                id: v.id,
                record_id: v.record_id,
                due: v.due,
            });
        }
        Ok((records, rectifications))
    }

    /// The subjects a sweep evaluates: those with a debt record, and those whose warning
    /// is raised, in code order.
    #[tracing::instrument(skip(self))]
    pub async fn debt_subjects(&self) -> Result<Vec<String>, ViewError> {
        let rows = sqlx::query(
            "SELECT subject_code FROM record_views WHERE sector = 'debt' \
             AND subject_code IS NOT NULL AND civil_servant_id IS NULL \
             UNION SELECT subject_code FROM debt_warning_views WHERE status = 'raised' \
             ORDER BY 1",
        )
        .fetch_all(&self.db.any)
        .await?;
        rows.into_iter()
            .map(|row| Ok(row.try_get::<String, _>(0)?))
            .collect()
    }

    /// The warnings in `status` (`raised` or `cleared`; every one when `None`), in code
    /// order, with the governments' names.
    #[tracing::instrument(skip(self))]
    pub async fn debt_warnings(
        &self,
        status: Option<&str>,
    ) -> Result<Vec<DebtWarningItem>, ViewError> {
        let rows = sqlx::query(
            "SELECT w.doc, COALESCE(s.name, '') FROM debt_warning_views w \
             LEFT JOIN subject_views s ON s.code = w.subject_code \
             WHERE ($1 = '' OR w.status = $2) ORDER BY w.subject_code",
        )
        .bind(status.unwrap_or(""))
        .bind(status.unwrap_or(""))
        .fetch_all(&self.db.any)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(DebtWarningItem {
                warning: serde_json::from_str(&row.try_get::<String, _>(0)?)?,
                subject_name: row.try_get(1)?,
            });
        }
        Ok(out)
    }
}
