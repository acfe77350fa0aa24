//! The restriction check of procurement and bidding systems (issue 11 item 2, §9, §11):
//! is a subject barred from a sector on a day, and why. Read from `record_views` in one
//! bounded query over the index of a subject's banned records (migration 0120).
//!
//! A record bars its subject from sector *s* on day *d* when it is active (not
//! withdrawn), about an organisation, decided on or before *d*, its ban runs past *d*
//! (`d < ban_until`), it was not unlisted by an upheld objection (错误列入), and either
//! its sector is *s* or it is a bribery conviction and *s* is bidding (行贿犯罪档案查询).
//! Publicity, repair and a stopped publication do not matter: a ban is a legal
//! consequence with its own period (ADR 0015 item 5).

use chrono::NaiveDate;
use probity_domain::integrity::{Offence, Sector};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::sql::{date_text, parse_date};
use crate::{ViewError, Views};

/// The most reasons one check returns (a subject with more running bans is restricted
/// all the same; the list says so by its length).
pub const MAX_REASONS: i64 = 100;

/// The check's one statement (placeholders: subject code, the asked day twice, the
/// sector, 1 when a bribery conviction bars this sector), ending `LIMIT` [`MAX_REASONS`].
/// Public so the benchmark times and explains exactly what the product runs.
pub const RESTRICTION_SQL: &str =
    "SELECT r.id, r.source, r.decision_date, r.ban_until, r.sector, r.offence \
     FROM record_views r \
     WHERE r.subject_code = $1 AND r.ban_until IS NOT NULL AND $2 < r.ban_until \
     AND r.decision_date <= $3 AND r.status = 'active' \
     AND (r.sector = $4 OR ($5 = 1 AND r.offence = 'bribery')) \
     AND NOT EXISTS (SELECT 1 FROM objection_views o WHERE o.record_id = r.id \
         AND o.status = 'upheld' AND o.outcome = 'unlist') \
     ORDER BY r.decision_date, r.id LIMIT 100";

/// Why a subject is barred: one record whose ban runs on the asked day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RestrictionReason {
    pub record_id: String,
    /// administrative_penalty, sanction, court_judgment, audit, complaint, commitment_breach.
    pub source: String,
    pub decision_date: NaiveDate,
    /// First day the ban no longer applies.
    pub ban_until: NaiveDate,
    /// What the bar rests on: the sector's law, or the bribery-record check.
    pub legal_basis: String,
}

/// The answer of a restriction check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Restriction {
    /// At least one ban runs on the asked day.
    pub restricted: bool,
    /// The running bans, earliest decision first.
    pub reasons: Vec<RestrictionReason>,
}

/// The basis of a ban in `sector` of a record with this sector and offence.
fn legal_basis(sector: Sector, record_sector: &str, offence: Option<&str>) -> String {
    let bribery = offence == Some(Offence::Bribery.as_str());
    if bribery && (record_sector != sector.as_str() || sector == Offence::Bribery.bars()) {
        return Offence::Bribery.legal_basis().to_string();
    }
    sector.ban_legal_basis().unwrap_or_default().to_string()
}

impl Views {
    /// Whether `subject_code` is barred from `sector` on day `on`, with every reason.
    #[tracing::instrument(skip(self))]
    pub async fn restriction(
        &self,
        subject_code: &str,
        sector: Sector,
        on: NaiveDate,
    ) -> Result<Restriction, ViewError> {
        let day = date_text(on);
        let bribery_bars = i64::from(Offence::Bribery.bars() == sector);
        let rows = sqlx::query(RESTRICTION_SQL)
            .bind(subject_code)
            .bind(day.clone())
            .bind(day)
            .bind(sector.as_str())
            .bind(bribery_bars)
            .fetch_all(&self.db.any)
            .await?;
        let reasons = rows
            .iter()
            .map(|row| {
                let record_sector: String = row.try_get(4)?;
                let offence: Option<String> = row.try_get(5)?;
                Ok(RestrictionReason {
                    record_id: row.try_get(0)?,
                    source: row.try_get(1)?,
                    decision_date: parse_date(&row.try_get::<String, _>(2)?)?,
                    ban_until: parse_date(&row.try_get::<String, _>(3)?)?,
                    legal_basis: legal_basis(sector, &record_sector, offence.as_deref()),
                })
            })
            .collect::<Result<Vec<_>, ViewError>>()?;
        Ok(Restriction {
            restricted: !reasons.is_empty(),
            reasons,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_check_lists_at_most_max_reasons() {
        assert!(super::RESTRICTION_SQL.ends_with(&format!("LIMIT {}", super::MAX_REASONS)));
    }

    use super::*;

    #[test]
    fn a_sector_ban_rests_on_the_sectors_law() {
        assert_eq!(
            legal_basis(Sector::Procurement, "procurement", None),
            "政府采购法 art. 77"
        );
        assert_eq!(
            legal_basis(Sector::Bidding, "bidding", None),
            "招标投标法 arts. 53, 54, 60"
        );
    }

    #[test]
    fn a_bribery_conviction_bars_bidding_on_the_bribery_record_check() {
        for record_sector in ["general", "bidding", "procurement"] {
            assert!(legal_basis(Sector::Bidding, record_sector, Some("bribery"))
                .starts_with("行贿犯罪档案查询"));
        }
    }

    #[test]
    fn a_bribery_conviction_of_the_procurement_list_bars_procurement_on_its_law() {
        assert_eq!(
            legal_basis(Sector::Procurement, "procurement", Some("bribery")),
            "政府采购法 art. 77"
        );
    }
}
