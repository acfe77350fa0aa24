//! The civil-servant aggregate (公务员诚信档案的主体), keyed by an opaque id. The name and
//! the identity number arrive sealed with a key of the person's own (the application
//! encrypts them and keeps a keyed-hash index outside the log); the domain never sees them
//! in the clear and nothing here is ever public.

pub mod sanction;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::calendar::WorkingCalendar;
use crate::ids::CreditCode;
use crate::integrity::check_text;
use crate::integrity::IntegrityServices;
use crate::reporter::SealedReporter;
use crate::wire::Redacted;

pub use sanction::{
    restriction, AnnualAssessment, AssessmentBar, AssessmentResult, RestrictionReason, Sanction,
    SanctionType,
};

/// Longest sanction decision reference (处分决定书文号), in characters.
pub const DECISION_REF_MAX_CHARS: usize = 200;
/// Longest revocation reason, in characters.
pub const REVOCATION_REASON_MAX_CHARS: usize = 2000;
/// The first assessment year accepted (公务员法 in force 2006; earlier years are not kept
/// here).
pub const FIRST_ASSESSMENT_YEAR: i32 = 2006;

/// The sealed personal block of a civil servant (name and identity number), the same
/// shape as a reporter's: `key_id` + `ciphertext`, masked structurally on the bus.
pub type SealedPerson = SealedReporter;

/// A civil servant as its events made them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CivilServant {
    /// The unit they serve in, once registered.
    pub unit_code: Option<CreditCode>,
    /// The key sealing their data.
    pub key_id: Option<String>,
    /// Their personal data was erased (key destroyed).
    pub erased: bool,
    /// Their sanctions (政务处分), in the order imposed, revoked ones marked.
    #[serde(default)]
    pub sanctions: Vec<Sanction>,
    /// Their annual assessment results (年度考核), in the order recorded.
    #[serde(default)]
    pub assessments: Vec<AnnualAssessment>,
}

/// What can be asked of a civil servant's aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum CivilServantCommand {
    /// Register a civil servant (admin).
    RegisterCivilServant {
        /// Name and identity number, sealed by the application.
        person: SealedPerson,
        /// The unit they serve in (must be a registered subject: the application checks).
        unit_code: CreditCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// Erase their personal data (the key is destroyed after the event is stored).
    ErasePersonalData {
        /// Why (not blank).
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Record a government sanction (政务处分) with its statutory period (supervisor).
    ImposeSanction {
        /// The new sanction's id (the application makes one).
        sanction_id: String,
        /// Its type.
        sanction_type: SanctionType,
        /// The decision's reference (处分决定书文号), unique per person.
        decision_ref: String,
        /// The decision date (not in the future); the period runs from it.
        decision_date: NaiveDate,
        /// When.
        at: DateTime<Utc>,
    },
    /// Revoke a sanction after review or appeal (复审、复核、申诉: 政务处分法 arts. 55-57,
    /// 公务员法 art. 95) or when the decision was found wrong (supervisor).
    RevokeSanction {
        /// The sanction revoked.
        sanction_id: String,
        /// Why: the review decision (not blank).
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Record the annual assessment result of a year (admin); one per year.
    RecordAssessment {
        /// The assessment year (not after the current year).
        year: i32,
        /// The grade.
        result: AssessmentResult,
        /// When.
        at: DateTime<Utc>,
    },
}

/// What happened to a civil servant's aggregate.
///
/// `P` is the form of the sealed personal block: [`SealedPerson`] as stored,
/// [`Redacted`] on the wire ([`CivilServantWireEvent`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CivilServantEvent<P = SealedPerson> {
    /// Registered, with their data sealed.
    CivilServantRegistered {
        /// Name and identity number, sealed.
        person: P,
        /// The unit they serve in.
        unit_code: CreditCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// Their personal data was erased (crypto-shredding).
    CivilServantDataErased {
        /// The destroyed key.
        key_id: String,
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// A government sanction was imposed, with its statutory period computed from the
    /// decision date (政务处分法 art. 8).
    SanctionImposed {
        /// Its id.
        sanction_id: String,
        /// Its type.
        sanction_type: SanctionType,
        /// The decision's reference.
        decision_ref: String,
        /// The decision date.
        decision_date: NaiveDate,
        /// The period in months (`None`: 开除, no period).
        period_months: Option<u32>,
        /// The end of the period, exclusive (`None`: 开除).
        ends: Option<NaiveDate>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A sanction was revoked on review or appeal: it no longer restricts the person.
    SanctionRevoked {
        /// The sanction.
        sanction_id: String,
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// An annual assessment result was recorded.
    AnnualAssessmentRecorded {
        /// The year.
        year: i32,
        /// The grade.
        result: AssessmentResult,
        /// When.
        at: DateTime<Utc>,
    },
}

/// A civil-servant event as it leaves the store: the personal block redacted to its key
/// id (see [`crate::wire`]).
pub type CivilServantWireEvent = CivilServantEvent<Redacted>;

impl DomainEvent for CivilServantEvent {
    fn event_type(&self) -> String {
        match self {
            Self::CivilServantRegistered { .. } => "CivilServantRegistered",
            Self::CivilServantDataErased { .. } => "CivilServantDataErased",
            Self::SanctionImposed { .. } => "SanctionImposed",
            Self::SanctionRevoked { .. } => "SanctionRevoked",
            Self::AnnualAssessmentRecorded { .. } => "AnnualAssessmentRecorded",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// Why a civil-servant command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CivilServantError {
    /// The id is already used (409 `already_exists`).
    #[error("civil servant already registered")]
    AlreadyRegistered,
    /// Never registered (404 `not_found`).
    #[error("civil servant not found")]
    NotFound,
    /// Already erased (409 `invalid_transition`).
    #[error("the civil servant's data is already erased")]
    AlreadyErased,
    /// A field failed validation (422 `validation_failed`).
    #[error("{field}: {message}")]
    Invalid {
        /// The API field name.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A sanction of this decision is already recorded (409 `already_exists`).
    #[error("a sanction of decision {0} is already recorded")]
    SanctionExists(String),
    /// The person was expelled (开除) and has left the service (409 `invalid_transition`).
    #[error("the civil servant was expelled on {0} and has left the service")]
    LeftService(NaiveDate),
    /// The sanction was already revoked (409 `invalid_transition`).
    #[error("sanction {0} is already revoked")]
    SanctionAlreadyRevoked(String),
    /// The result of this year is already recorded (409 `assessment_exists`).
    #[error("the assessment of {year} is already recorded as {}", result.as_str())]
    AssessmentExists {
        /// The year.
        year: i32,
        /// The grade on record.
        result: AssessmentResult,
    },
    /// A sanction bars this grade in this year (409 `assessment_restricted`).
    #[error("{}", restricted_message(*year, *result, *sanction_type, *bar))]
    AssessmentRestricted {
        /// The year.
        year: i32,
        /// The grade refused.
        result: AssessmentResult,
        /// The sanction's type.
        sanction_type: SanctionType,
        /// What it bars.
        bar: AssessmentBar,
    },
}

fn restricted_message(
    year: i32,
    result: AssessmentResult,
    sanction_type: SanctionType,
    bar: AssessmentBar,
) -> String {
    let why = match bar {
        AssessmentBar::NotExcellent => "a warning (警告) imposed that year bars the grade excellent",
        AssessmentBar::NoGrade => {
            "during a sanction period only comments are written, no grade is given (只写评语，不定等次)"
        }
        AssessmentBar::LeftService => "the person was expelled (开除) and left the service",
    };
    format!(
        "{year} cannot be graded {}: {why} ({} sanction)",
        result.as_str(),
        sanction_type.as_str()
    )
}

impl From<(&'static str, String)> for CivilServantError {
    fn from((field, message): (&'static str, String)) -> Self {
        CivilServantError::Invalid { field, message }
    }
}

impl CivilServant {
    fn decide(
        &self,
        command: CivilServantCommand,
    ) -> Result<Vec<CivilServantEvent>, CivilServantError> {
        match command {
            CivilServantCommand::RegisterCivilServant {
                person,
                unit_code,
                at,
            } => {
                if self.unit_code.is_some() {
                    return Err(CivilServantError::AlreadyRegistered);
                }
                if person.key_id.is_empty() || person.ciphertext.is_empty() {
                    return Err(CivilServantError::Invalid {
                        field: "identity_number",
                        message: "personal data must arrive sealed".into(),
                    });
                }
                Ok(vec![CivilServantEvent::CivilServantRegistered {
                    person,
                    unit_code,
                    at,
                }])
            }
            CivilServantCommand::ErasePersonalData { reason, at } => {
                let Some(key_id) = self.key_id.clone() else {
                    return Err(CivilServantError::NotFound);
                };
                if self.erased {
                    return Err(CivilServantError::AlreadyErased);
                }
                if reason.trim().is_empty() {
                    return Err(CivilServantError::Invalid {
                        field: "reason",
                        message: "must not be blank".into(),
                    });
                }
                Ok(vec![CivilServantEvent::CivilServantDataErased {
                    key_id,
                    reason: reason.trim().to_string(),
                    at,
                }])
            }
            CivilServantCommand::ImposeSanction {
                sanction_id,
                sanction_type,
                decision_ref,
                decision_date,
                at,
            } => {
                self.require_registered()?;
                if let Some(expelled) = self.expelled_on() {
                    return Err(CivilServantError::LeftService(expelled));
                }
                check_text("decision_ref", &decision_ref, DECISION_REF_MAX_CHARS)?;
                let decision_ref = decision_ref.trim().to_string();
                if decision_date > WorkingCalendar::local_date(at) {
                    return Err(CivilServantError::Invalid {
                        field: "decision_date",
                        message: "must not be in the future".into(),
                    });
                }
                if self
                    .sanctions
                    .iter()
                    .any(|s| s.decision_ref == decision_ref)
                {
                    return Err(CivilServantError::SanctionExists(decision_ref));
                }
                if sanction_id.is_empty() || self.sanction(&sanction_id).is_some() {
                    return Err(CivilServantError::Invalid {
                        field: "sanction_id",
                        message: "a new sanction needs a new id".into(),
                    });
                }
                Ok(vec![CivilServantEvent::SanctionImposed {
                    sanction_id,
                    sanction_type,
                    decision_ref,
                    decision_date,
                    period_months: sanction_type.period_months(),
                    ends: sanction_type.ends(decision_date),
                    at,
                }])
            }
            CivilServantCommand::RevokeSanction {
                sanction_id,
                reason,
                at,
            } => {
                self.require_registered()?;
                let Some(sanction) = self.sanction(sanction_id.trim()) else {
                    return Err(CivilServantError::Invalid {
                        field: "sanction_id",
                        message: "no sanction of this civil servant has this id".into(),
                    });
                };
                if sanction.revoked {
                    return Err(CivilServantError::SanctionAlreadyRevoked(
                        sanction.sanction_id.clone(),
                    ));
                }
                check_text("reason", &reason, REVOCATION_REASON_MAX_CHARS)?;
                Ok(vec![CivilServantEvent::SanctionRevoked {
                    sanction_id: sanction.sanction_id.clone(),
                    reason: reason.trim().to_string(),
                    at,
                }])
            }
            CivilServantCommand::RecordAssessment { year, result, at } => {
                self.require_registered()?;
                let this_year = WorkingCalendar::local_date(at).year();
                if !(FIRST_ASSESSMENT_YEAR..=this_year).contains(&year) {
                    return Err(CivilServantError::Invalid {
                        field: "year",
                        message: format!(
                            "must be a year from {FIRST_ASSESSMENT_YEAR} to {this_year}"
                        ),
                    });
                }
                if let Some(done) = self.assessments.iter().find(|a| a.year == year) {
                    return Err(CivilServantError::AssessmentExists {
                        year,
                        result: done.result,
                    });
                }
                if let Some((sanction_type, bar)) = self.assessment_bar(year, result) {
                    return Err(CivilServantError::AssessmentRestricted {
                        year,
                        result,
                        sanction_type,
                        bar,
                    });
                }
                Ok(vec![CivilServantEvent::AnnualAssessmentRecorded {
                    year,
                    result,
                    at,
                }])
            }
        }
    }

    fn require_registered(&self) -> Result<(), CivilServantError> {
        match self.unit_code {
            Some(_) => Ok(()),
            None => Err(CivilServantError::NotFound),
        }
    }

    /// The sanction with this id.
    pub fn sanction(&self, sanction_id: &str) -> Option<&Sanction> {
        self.sanctions.iter().find(|s| s.sanction_id == sanction_id)
    }

    /// The day of the (unrevoked) expulsion, if the person was expelled (开除).
    pub fn expelled_on(&self) -> Option<NaiveDate> {
        self.sanctions
            .iter()
            .find(|s| s.sanction_type == SanctionType::Expulsion && !s.revoked)
            .map(|s| s.decision_date)
    }

    /// The first sanction that refuses `result` in `year`, with what it bars.
    pub fn assessment_bar(
        &self,
        year: i32,
        result: AssessmentResult,
    ) -> Option<(SanctionType, AssessmentBar)> {
        self.sanctions.iter().find_map(|s| {
            s.assessment_bar(year)
                .filter(|bar| bar.refuses(result))
                .map(|bar| (s.sanction_type, bar))
        })
    }

    /// The honours restriction (评优评先) on `day`: one reason per sanction in force.
    pub fn restriction(&self, day: NaiveDate) -> Vec<RestrictionReason> {
        restriction(&self.sanctions, day)
    }
}

impl Aggregate for CivilServant {
    const TYPE: &'static str = crate::aggregate_type::CIVIL_SERVANT;
    type Command = CivilServantCommand;
    type Event = CivilServantEvent;
    type Error = CivilServantError;
    type Services = IntegrityServices;

    #[tracing::instrument(name = "civil_servant.handle", skip_all)]
    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            CivilServantEvent::CivilServantRegistered {
                person, unit_code, ..
            } => {
                self.unit_code = Some(unit_code);
                self.key_id = Some(person.key_id);
            }
            CivilServantEvent::CivilServantDataErased { .. } => self.erased = true,
            CivilServantEvent::SanctionImposed {
                sanction_id,
                sanction_type,
                decision_ref,
                decision_date,
                ends,
                ..
            } => self.sanctions.push(Sanction {
                sanction_id,
                sanction_type,
                decision_ref,
                decision_date,
                ends,
                revoked: false,
            }),
            CivilServantEvent::SanctionRevoked { sanction_id, .. } => {
                if let Some(s) = self
                    .sanctions
                    .iter_mut()
                    .find(|s| s.sanction_id == sanction_id)
                {
                    s.revoked = true;
                }
            }
            CivilServantEvent::AnnualAssessmentRecorded { year, result, .. } => {
                self.assessments.push(AnnualAssessment { year, result })
            }
        }
    }
}
