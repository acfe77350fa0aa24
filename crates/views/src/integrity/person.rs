//! A civil servant's integrity archive (公务员诚信档案, `GET /api/v1/civil-servants/{id}/archive`)
//! and honours restriction (评优评先, `GET /api/v1/civil-servants/{id}/eligibility`), read
//! by supervisors and auditors only: the person's dishonesty records, sanctions with their
//! statutory periods, annual assessment results, and the restriction on the reader's day.
//!
//! The sanctions and assessments are folded from the civil servant's own events (every
//! form of the sealed block: this fold never reads it), so the archive is as fresh as the
//! log; nothing personal (name, identity number) is in it.

use chrono::{DateTime, Months, NaiveDate, Utc};
use probity_domain::civil_servant::{restriction, CivilServantEvent, Sanction, SanctionType};
use probity_domain::integrity::{SanctionMonths, Severity};
use serde::{Deserialize, Serialize};

use super::docs::{CivilServantView, RecordView};

/// One sanction (政务处分) in the archive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SanctionView {
    pub sanction_id: String,
    /// warning, demerit, major_demerit, demotion, dismissal, expulsion.
    pub sanction_type: String,
    /// The decision's reference (处分决定书文号).
    pub decision_ref: String,
    pub decision_date: NaiveDate,
    /// The statutory period in months (政务处分法 art. 8); none for expulsion.
    pub period_months: Option<u32>,
    /// The end of the period (exclusive: the first day it no longer applies); none for
    /// expulsion.
    pub ends: Option<NaiveDate>,
    /// in_force, ended or revoked, on the reader's day (`pending` before the decision
    /// date, which cannot happen for a decision recorded on or after its date).
    pub status: String,
    pub imposed_at: DateTime<Utc>,
    /// Revoked on review or appeal (复审/复核/申诉).
    pub revoked_at: Option<DateTime<Utc>>,
    pub revocation_reason: Option<String>,
}

/// One annual assessment result (年度考核).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AssessmentResultView {
    pub year: i32,
    /// excellent, competent, basically_competent, incompetent.
    pub result: String,
    pub recorded_at: DateTime<Utc>,
}

/// Why a civil servant is restricted from honours (评优评先) on the reader's day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RestrictionReasonView {
    /// sanction_in_force (a sanction's period runs), expelled (开除: no end), or
    /// sanction_record_in_force (a dishonesty record from a sanction, recorded before
    /// sanctions had types: its period by severity).
    pub code: String,
    /// In words.
    pub detail: String,
    /// The sanction (or, for sanction_record_in_force, the record) behind it.
    pub case_id: String,
    /// The sanction type, when known.
    pub sanction_type: Option<String>,
    /// The first day the reason no longer applies (none: it does not lapse).
    pub until: Option<NaiveDate>,
}

/// The honours restriction of a civil servant on a day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HonoursRestriction {
    /// The day it was computed for (Asia/Shanghai).
    pub on: NaiveDate,
    pub restricted: bool,
    pub reasons: Vec<RestrictionReasonView>,
}

/// A civil servant's integrity archive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CivilServantArchive {
    /// The person: opaque id and unit, nothing personal.
    pub civil_servant: CivilServantView,
    /// Dishonesty records about them (never public).
    pub records: Vec<RecordView>,
    /// Their sanctions with their periods, in the order imposed.
    pub sanctions: Vec<SanctionView>,
    /// Their honours restriction on the reader's day.
    pub restriction: HonoursRestriction,
    /// Their annual assessment results, by year.
    pub assessments: Vec<AssessmentResultView>,
}

/// What the civil servant's events say of their sanctions and assessments.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PersonFile {
    sanctions: Vec<SanctionView>,
    assessments: Vec<AssessmentResultView>,
}

impl PersonFile {
    /// Folds the civil servant's events, in order.
    pub fn fold<'a, P: 'a>(events: impl IntoIterator<Item = &'a CivilServantEvent<P>>) -> Self {
        let mut file = PersonFile::default();
        for event in events {
            match event {
                CivilServantEvent::SanctionImposed {
                    sanction_id,
                    sanction_type,
                    decision_ref,
                    decision_date,
                    period_months,
                    ends,
                    at,
                } => file.sanctions.push(SanctionView {
                    sanction_id: sanction_id.clone(),
                    sanction_type: sanction_type.as_str().to_string(),
                    decision_ref: decision_ref.clone(),
                    decision_date: *decision_date,
                    period_months: *period_months,
                    ends: *ends,
                    status: String::new(),
                    imposed_at: *at,
                    revoked_at: None,
                    revocation_reason: None,
                }),
                CivilServantEvent::SanctionRevoked {
                    sanction_id,
                    reason,
                    at,
                } => {
                    if let Some(s) = file
                        .sanctions
                        .iter_mut()
                        .find(|s| &s.sanction_id == sanction_id)
                    {
                        s.revoked_at = Some(*at);
                        s.revocation_reason = Some(reason.clone());
                    }
                }
                CivilServantEvent::AnnualAssessmentRecorded { year, result, at } => {
                    file.assessments.push(AssessmentResultView {
                        year: *year,
                        result: result.as_str().to_string(),
                        recorded_at: *at,
                    })
                }
                CivilServantEvent::CivilServantRegistered { .. }
                | CivilServantEvent::CivilServantDataErased { .. } => {}
            }
        }
        file.assessments.sort_by_key(|a| a.year);
        file
    }

    fn domain_sanctions(&self) -> Vec<Sanction> {
        self.sanctions
            .iter()
            .filter_map(|s| {
                Some(Sanction {
                    sanction_id: s.sanction_id.clone(),
                    sanction_type: SanctionType::parse(&s.sanction_type)?,
                    decision_ref: s.decision_ref.clone(),
                    decision_date: s.decision_date,
                    ends: s.ends,
                    revoked: s.revoked_at.is_some(),
                })
            })
            .collect()
    }

    /// The honours restriction on `today`: the person's sanctions in force (the domain's
    /// rule), and their dishonesty records from a sanction recorded before sanctions had
    /// types, for the period of their severity (`sanction_months`).
    pub fn restriction(
        &self,
        records: &[RecordView],
        today: NaiveDate,
        sanction_months: &SanctionMonths,
    ) -> HonoursRestriction {
        let mut reasons: Vec<RestrictionReasonView> = restriction(&self.domain_sanctions(), today)
            .into_iter()
            .map(|r| RestrictionReasonView {
                code: r.code.to_string(),
                detail: match r.until {
                    Some(until) => format!(
                        "a {} sanction is in force until {} (评优评先 restricted)",
                        r.sanction_type.as_str(),
                        until.pred_opt().unwrap_or(until)
                    ),
                    None => "expelled (开除): left the service".to_string(),
                },
                case_id: r.sanction_id,
                sanction_type: Some(r.sanction_type.as_str().to_string()),
                until: r.until,
            })
            .collect();
        for record in records {
            if record.source != "sanction" || record.status != "active" {
                continue;
            }
            let severity = match record.severity.as_str() {
                "minor" => Severity::Minor,
                "ordinary" => Severity::Ordinary,
                _ => Severity::Serious,
            };
            let until = record
                .decision_date
                .checked_add_months(Months::new(sanction_months.of(severity)))
                .unwrap_or(NaiveDate::MAX);
            if record.decision_date <= today && today < until {
                reasons.push(RestrictionReasonView {
                    code: "sanction_record_in_force".into(),
                    detail: format!("a {} sanction record is in force", record.severity),
                    case_id: record.id.clone(),
                    sanction_type: None,
                    until: Some(until),
                });
            }
        }
        HonoursRestriction {
            on: today,
            restricted: !reasons.is_empty(),
            reasons,
        }
    }

    /// The annual assessment results, by year.
    pub fn assessments(&self) -> &[AssessmentResultView] {
        &self.assessments
    }

    /// The archive on `today`.
    pub fn archive(
        self,
        civil_servant: CivilServantView,
        records: Vec<RecordView>,
        today: NaiveDate,
        sanction_months: &SanctionMonths,
    ) -> CivilServantArchive {
        let restriction = self.restriction(&records, today, sanction_months);
        let assessments = self.assessments.clone();
        CivilServantArchive {
            civil_servant,
            records,
            sanctions: self.sanctions(today),
            restriction,
            assessments,
        }
    }

    /// The sanctions with their status on `today`, in the order imposed.
    pub fn sanctions(self, today: NaiveDate) -> Vec<SanctionView> {
        self.sanctions
            .into_iter()
            .map(|mut s| {
                s.status = if s.revoked_at.is_some() {
                    "revoked"
                } else if today < s.decision_date {
                    "pending"
                } else if s.ends.map(|ends| today < ends).unwrap_or(true) {
                    "in_force"
                } else {
                    "ended"
                }
                .to_string();
                s
            })
            .collect()
    }
}
