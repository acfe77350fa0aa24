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

#[cfg(test)]
mod tests {
    use super::*;
    use probity_domain::civil_servant::{CivilServantWireEvent, SanctionType};
    use serde_json::json;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// The events as stored: a registration written before sanctions existed (its JSON
    /// exactly as the store holds it), then the new variants, read in their wire form.
    fn wire_events() -> Vec<CivilServantWireEvent> {
        [
            json!({"CivilServantRegistered": {
                "person": {"key_id": "k-1", "sealed": true},
                "unit_code": "914403001922038216",
                "at": "2026-01-05T02:00:00Z"}}),
            json!({"SanctionImposed": {
                "sanction_id": "s-1", "sanction_type": "major_demerit",
                "decision_ref": "九监处〔2026〕1号", "decision_date": "2026-01-10",
                "period_months": 18, "ends": "2027-07-10", "at": "2026-01-11T02:00:00Z"}}),
            json!({"SanctionImposed": {
                "sanction_id": "s-2", "sanction_type": "warning",
                "decision_ref": "九监处〔2026〕2号", "decision_date": "2026-02-01",
                "period_months": 6, "ends": "2026-08-01", "at": "2026-02-02T02:00:00Z"}}),
            json!({"SanctionRevoked": {
                "sanction_id": "s-2", "reason": "复审撤销", "at": "2026-03-01T02:00:00Z"}}),
            json!({"AnnualAssessmentRecorded": {
                "year": 2025, "result": "competent", "at": "2026-01-06T02:00:00Z"}}),
            json!({"AnnualAssessmentRecorded": {
                "year": 2024, "result": "excellent", "at": "2026-01-06T03:00:00Z"}}),
        ]
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect()
    }

    fn legacy_record(severity: &str, decided: &str, source: &str) -> RecordView {
        serde_json::from_value(json!({
            "id": format!("r-{severity}"), "version": 1, "subject_code": null,
            "civil_servant_id": "cs-1", "unit": "914403001922038216", "source": source,
            "source_ref": "ref", "decision_date": decided, "severity": severity,
            "sector": "general", "summary": "s", "complaint_id": null, "recorded_by": null,
            "recorded_at": "2026-01-01T00:00:00Z", "status": "active",
            "withdrawal_reason": null,
            "publicity": {"published": false, "by_policy": false, "start": decided,
                "repair_possible_from": decided, "ends": decided, "policy": "p",
                "policy_version": 1},
            "ban_until": null, "corrections": [], "under_objection": false,
            "repaired": false, "publication_stopped": false
        }))
        .unwrap()
    }

    #[test]
    fn the_file_folds_sanctions_with_their_periods_and_assessments_by_year() {
        let file = PersonFile::fold(&wire_events());
        let years: Vec<_> = file.assessments().iter().map(|a| a.year).collect();
        assert_eq!(years, vec![2024, 2025]);
        let sanctions = file.sanctions(day("2026-03-11"));
        assert_eq!(sanctions.len(), 2);
        assert_eq!(sanctions[0].status, "in_force");
        assert_eq!(sanctions[0].period_months, Some(18));
        assert_eq!(sanctions[1].status, "revoked");
        assert_eq!(sanctions[1].revocation_reason.as_deref(), Some("复审撤销"));
    }

    #[test]
    fn a_sanction_past_its_period_is_ended_and_restricts_no_more() {
        let file = PersonFile::fold(&wire_events());
        assert_eq!(file.clone().sanctions(day("2027-07-10"))[0].status, "ended");
        let on_last_day = file.restriction(&[], day("2027-07-09"), &SanctionMonths::default());
        assert!(on_last_day.restricted);
        assert_eq!(on_last_day.reasons[0].until, Some(day("2027-07-10")));
        assert_eq!(
            on_last_day.reasons[0].sanction_type.as_deref(),
            Some(SanctionType::MajorDemerit.as_str())
        );
        let after = file.restriction(&[], day("2027-07-10"), &SanctionMonths::default());
        assert!(!after.restricted, "{after:?}");
    }

    #[test]
    fn a_severity_keyed_sanction_record_restricts_for_its_severitys_period() {
        let file = PersonFile::fold(&wire_events()[..1]);
        let records = [
            legacy_record("ordinary", "2026-01-10", "sanction"),
            legacy_record("serious", "2026-01-10", "audit"),
        ];
        let r = file.restriction(&records, day("2026-03-11"), &SanctionMonths::default());
        assert_eq!(
            r.reasons.len(),
            1,
            "only the sanction record restricts: {r:?}"
        );
        assert_eq!(r.reasons[0].code, "sanction_record_in_force");
        assert_eq!(r.reasons[0].until, Some(day("2027-01-10")));
    }

    #[test]
    fn a_person_without_sanctions_is_not_restricted() {
        let file = PersonFile::fold(&wire_events()[..1]);
        let r = file.restriction(&[], day("2026-03-11"), &SanctionMonths::default());
        assert!(!r.restricted);
        assert!(r.reasons.is_empty());
    }
}
