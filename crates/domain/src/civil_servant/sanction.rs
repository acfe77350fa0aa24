//! Sanctions (政务处分) and annual assessments (年度考核) of a civil servant: the sanction
//! types with their statutory periods, the honours restriction (评优评先) they carry for
//! the person, and the years in which a sanction bars an assessment grade. Pure rules over
//! the aggregate's state; the aggregate decides with them and the archive reads them.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::integrity::add_months;

/// A government sanction of a civil servant (政务处分法 art. 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SanctionType {
    /// 警告: 6 months.
    Warning,
    /// 记过: 12 months.
    Demerit,
    /// 记大过: 18 months.
    MajorDemerit,
    /// 降级: 24 months.
    Demotion,
    /// 撤职: 24 months.
    Dismissal,
    /// 开除: no period; the person leaves the service.
    Expulsion,
}

impl SanctionType {
    /// Every type, in the order of the law.
    pub const ALL: [SanctionType; 6] = [
        SanctionType::Warning,
        SanctionType::Demerit,
        SanctionType::MajorDemerit,
        SanctionType::Demotion,
        SanctionType::Dismissal,
        SanctionType::Expulsion,
    ];

    /// The statutory period in months (政务处分法 art. 8); `None` for 开除, which has no
    /// period: the person leaves the service.
    pub fn period_months(self) -> Option<u32> {
        match self {
            SanctionType::Warning => Some(6),
            SanctionType::Demerit => Some(12),
            SanctionType::MajorDemerit => Some(18),
            SanctionType::Demotion | SanctionType::Dismissal => Some(24),
            SanctionType::Expulsion => None,
        }
    }

    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            SanctionType::Warning => "warning",
            SanctionType::Demerit => "demerit",
            SanctionType::MajorDemerit => "major_demerit",
            SanctionType::Demotion => "demotion",
            SanctionType::Dismissal => "dismissal",
            SanctionType::Expulsion => "expulsion",
        }
    }

    /// Parses the API name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The end of the period (exclusive: the sanction is in force on the days
    /// `decision_date <= d < ends`), `None` for 开除.
    pub fn ends(self, decision_date: NaiveDate) -> Option<NaiveDate> {
        self.period_months()
            .map(|months| add_months(decision_date, months))
    }
}

/// An annual assessment grade (公务员法 art. 37: 优秀、称职、基本称职、不称职).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssessmentResult {
    /// 优秀
    Excellent,
    /// 称职
    Competent,
    /// 基本称职
    BasicallyCompetent,
    /// 不称职
    Incompetent,
}

impl AssessmentResult {
    /// Every grade.
    pub const ALL: [AssessmentResult; 4] = [
        AssessmentResult::Excellent,
        AssessmentResult::Competent,
        AssessmentResult::BasicallyCompetent,
        AssessmentResult::Incompetent,
    ];

    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            AssessmentResult::Excellent => "excellent",
            AssessmentResult::Competent => "competent",
            AssessmentResult::BasicallyCompetent => "basically_competent",
            AssessmentResult::Incompetent => "incompetent",
        }
    }

    /// Parses the API name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// One sanction as the person's events made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sanction {
    /// Its id (unique per person).
    pub sanction_id: String,
    /// Its type.
    pub sanction_type: SanctionType,
    /// The sanction decision's reference (处分决定书文号), unique per person.
    pub decision_ref: String,
    /// The decision date; the period runs from it.
    pub decision_date: NaiveDate,
    /// The end of the period (exclusive), `None` for 开除.
    pub ends: Option<NaiveDate>,
    /// Revoked on review or appeal (复审/复核/申诉): as if never imposed.
    pub revoked: bool,
}

impl Sanction {
    /// In force on `day`: not revoked, decided on or before `day`, and inside its period
    /// (开除 never ends).
    pub fn in_force(&self, day: NaiveDate) -> bool {
        !self.revoked
            && self.decision_date <= day
            && self.ends.map(|ends| day < ends).unwrap_or(true)
    }

    /// What this sanction bars in the assessment of `year` (公务员考核规定（试行）art. 25,
    /// see `docs/domain.md`): a 警告 bars the grade `excellent` in the year it was imposed;
    /// 记过 to 撤职 bar every grade (只写评语，不定等次) in each year the period runs,
    /// except the year it ends (在解除处分的当年及以后，其年度考核不受原处分影响); 开除
    /// ends the service, so no year from its own is assessed.
    pub fn assessment_bar(&self, year: i32) -> Option<AssessmentBar> {
        if self.revoked || year < self.decision_date.year() {
            return None;
        }
        match (self.sanction_type, self.ends) {
            (SanctionType::Expulsion, _) => Some(AssessmentBar::LeftService),
            (SanctionType::Warning, _) if year == self.decision_date.year() => {
                Some(AssessmentBar::NotExcellent)
            }
            (SanctionType::Warning, _) => None,
            (_, Some(ends)) if year < ends.year() => Some(AssessmentBar::NoGrade),
            _ => None,
        }
    }
}

/// What a sanction bars in one assessment year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssessmentBar {
    /// The grade `excellent` is refused (警告, the year it was imposed).
    NotExcellent,
    /// Every grade is refused (记过 to 撤职, during the period).
    NoGrade,
    /// The person left the service (开除).
    LeftService,
}

impl AssessmentBar {
    /// Whether `result` is refused under this bar.
    pub fn refuses(self, result: AssessmentResult) -> bool {
        match self {
            AssessmentBar::NotExcellent => result == AssessmentResult::Excellent,
            AssessmentBar::NoGrade | AssessmentBar::LeftService => true,
        }
    }
}

/// One annual assessment result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnualAssessment {
    /// The assessment year.
    pub year: i32,
    /// Its grade.
    pub result: AssessmentResult,
}

/// Why the person is restricted from honours on a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestrictionReason {
    /// `sanction_in_force` (a sanction's period runs) or `expelled` (开除).
    pub code: &'static str,
    /// The sanction behind it.
    pub sanction_id: String,
    /// Its type.
    pub sanction_type: SanctionType,
    /// The first day the person is no longer restricted by it (`None`: never, 开除).
    pub until: Option<NaiveDate>,
}

/// The honours restriction (评优评先) of a person on a day: restricted while any sanction
/// is in force (政务处分法 art. 8 periods; art. 22).
pub fn restriction(sanctions: &[Sanction], day: NaiveDate) -> Vec<RestrictionReason> {
    sanctions
        .iter()
        .filter(|s| s.in_force(day))
        .map(|s| RestrictionReason {
            code: if s.sanction_type == SanctionType::Expulsion {
                "expelled"
            } else {
                "sanction_in_force"
            },
            sanction_id: s.sanction_id.clone(),
            sanction_type: s.sanction_type,
            until: s.ends,
        })
        .collect()
}
