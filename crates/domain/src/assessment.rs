//! Assessment of governments and departments (政务诚信考核评价, mission text item 5): the
//! figures of one unit over one period, the period itself (a year or a quarter, in
//! Asia/Shanghai dates), and the score from a named, versioned formula kept in
//! configuration (`[assessment]`). Pure: the figures are folded from the event log by
//! `probity-views`; see `docs/assessment.md`.

use std::fmt;
use std::ops::AddAssign;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The counts an assessment is scored on, for one unit (or a government with its
/// departments) over one period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    /// 轻微 records decided in the period, not withdrawn.
    pub minor_records: u32,
    /// 一般 records decided in the period, not withdrawn.
    pub ordinary_records: u32,
    /// 严重 records decided in the period, not withdrawn.
    pub serious_records: u32,
    /// Rectifications verified as reported on time.
    pub rectifications_on_time: u32,
    /// Rectifications escalated, verified late, or still owed past their due date.
    pub rectifications_overdue: u32,
    /// Complaint replies given by their reply due date.
    pub replies_on_time: u32,
    /// Complaint replies given late, or still owed past their due date.
    pub replies_late: u32,
    /// Follow-up visits (回访) made.
    pub visits: u32,
    /// Visits where the reporter was satisfied.
    pub satisfied: u32,
    /// Supervisions (督办: `ComplaintSupervised`, `ReplyOverdue`).
    pub supervisions: u32,
    /// Supervision items (人大建议、政协提案、司法建议、检察建议) replied by their due day.
    #[serde(default)]
    pub supervision_replies_on_time: u32,
    /// Supervision items replied after their due day, or still unanswered past it.
    #[serde(default)]
    pub supervision_replies_late: u32,
    /// Township public commitments (乡镇公开承诺) assessed as fulfilled in the period.
    #[serde(default)]
    pub commitments_fulfilled: u32,
    /// Township public commitments assessed as breached (违诺) in the period.
    #[serde(default)]
    pub commitments_breached: u32,
}

impl Figures {
    /// All records, whatever their severity.
    pub fn records(&self) -> u32 {
        self.minor_records + self.ordinary_records + self.serious_records
    }

    /// Satisfied visits / visits; `None` without visits.
    pub fn satisfaction_rate(&self) -> Option<f64> {
        (self.visits > 0).then(|| f64::from(self.satisfied) / f64::from(self.visits))
    }

    /// Supervision items replied on time / those settled (replied, or unanswered past
    /// their due day); `None` without any.
    pub fn supervision_reply_rate(&self) -> Option<f64> {
        let settled = self.supervision_replies_on_time + self.supervision_replies_late;
        (settled > 0).then(|| f64::from(self.supervision_replies_on_time) / f64::from(settled))
    }
}

impl AddAssign for Figures {
    fn add_assign(&mut self, o: Figures) {
        self.minor_records += o.minor_records;
        self.ordinary_records += o.ordinary_records;
        self.serious_records += o.serious_records;
        self.rectifications_on_time += o.rectifications_on_time;
        self.rectifications_overdue += o.rectifications_overdue;
        self.replies_on_time += o.replies_on_time;
        self.replies_late += o.replies_late;
        self.visits += o.visits;
        self.satisfied += o.satisfied;
        self.supervisions += o.supervisions;
        self.supervision_replies_on_time += o.supervision_replies_on_time;
        self.supervision_replies_late += o.supervision_replies_late;
        self.commitments_fulfilled += o.commitments_fulfilled;
        self.commitments_breached += o.commitments_breached;
    }
}

/// The scoring formula (`[assessment]`), named and versioned: every assessment reports
/// the name and version it was scored with. Deductions are points per item.
///
/// `score = clamp(base − Σ deductions + satisfaction_weight × (rate − satisfaction_target)`
/// `+ supervision_reply_weight × (on-time reply rate − supervision_reply_target), 0, 100)`,
/// rounded to two decimals (the deductions include, from version 2, `breached_commitment`
/// per township public commitment assessed as breached in the period); without visits the satisfaction term is 0, without settled
/// supervision items the reply-rate term is 0.
///
/// A formula may name the earlier formulas (`earlier`) and the first day of the periods
/// it scores (`applies_from`): a period that starts before that day is scored with the
/// newest earlier formula in force on its first day ([`AssessmentFormula::for_period`]),
/// so periods already assessed keep their formula and score when a new version comes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssessmentFormula {
    /// Name of the formula document.
    pub name: String,
    /// Version under that name (raise it whenever a weight changes).
    pub version: u32,
    /// Starting score.
    pub base: f64,
    /// Points off per 严重 record.
    pub serious_record: f64,
    /// Points off per 一般 record.
    pub ordinary_record: f64,
    /// Points off per 轻微 record.
    pub minor_record: f64,
    /// Points off per overdue rectification.
    pub overdue_rectification: f64,
    /// Points off per late (or missing) complaint reply.
    pub late_reply: f64,
    /// Points off per supervision (督办).
    pub supervision: f64,
    /// Points per unit of satisfaction rate above (or below) the target.
    pub satisfaction_weight: f64,
    /// The satisfaction rate that neither adds nor removes points.
    pub satisfaction_target: f64,
    /// Points per unit of on-time reply rate of supervision items above (or below) the
    /// target (version 2). Absent from a configured formula: 0, no such factor.
    #[serde(default)]
    pub supervision_reply_weight: f64,
    /// The on-time reply rate that neither adds nor removes points (1: every reply on time).
    #[serde(default = "one")]
    pub supervision_reply_target: f64,
    /// Points off per township public commitment (乡镇公开承诺) assessed as breached in
    /// the period, for the subject that made it (version 2, §14 of the city's opinions).
    /// Absent from a configured formula: 0, no such factor.
    #[serde(default)]
    pub breached_commitment: f64,
    /// The first day of the periods this formula scores (`None`: every period).
    #[serde(default)]
    pub applies_from: Option<NaiveDate>,
    /// The formulas in force before (each with its own `applies_from`).
    #[serde(default)]
    pub earlier: Vec<AssessmentFormula>,
}

fn one() -> f64 {
    1.0
}

impl Default for AssessmentFormula {
    /// Version 2 (the on-time reply rate of supervision items and the breached township
    /// public commitments, issue 11) for the periods from 2027; version 1 for the periods
    /// before, already assessed.
    fn default() -> Self {
        Self {
            version: 2,
            supervision_reply_weight: 10.0,
            breached_commitment: 2.0,
            applies_from: NaiveDate::from_ymd_opt(2027, 1, 1),
            earlier: vec![Self::version_1()],
            ..Self::version_1()
        }
    }
}

impl AssessmentFormula {
    /// The first formula (issue 4): records, rectifications, complaint replies,
    /// supervisions and satisfaction.
    pub fn version_1() -> Self {
        Self {
            name: "probity-assessment".into(),
            version: 1,
            base: 100.0,
            serious_record: 10.0,
            ordinary_record: 5.0,
            minor_record: 1.0,
            overdue_rectification: 5.0,
            late_reply: 2.0,
            supervision: 1.0,
            satisfaction_weight: 20.0,
            satisfaction_target: 0.8,
            supervision_reply_weight: 0.0,
            supervision_reply_target: 1.0,
            breached_commitment: 0.0,
            applies_from: None,
            earlier: Vec::new(),
        }
    }

    /// The formula that scores `period`: this one, unless the period starts before its
    /// `applies_from`; then the newest of `earlier` in force on the period's first day
    /// (the oldest when none is).
    pub fn for_period(&self, period: Period) -> &AssessmentFormula {
        let first = period.first_day();
        let in_force = |f: &AssessmentFormula| f.applies_from.is_none_or(|from| from <= first);
        if in_force(self) || self.earlier.is_empty() {
            return self;
        }
        self.earlier
            .iter()
            .filter(|f| in_force(f))
            .max_by_key(|f| (f.applies_from, f.version))
            .or_else(|| {
                self.earlier
                    .iter()
                    .min_by_key(|f| (f.applies_from, f.version))
            })
            .unwrap_or(self)
    }
}

impl AssessmentFormula {
    /// The score of `f`: 0 to 100, two decimals.
    pub fn score(&self, f: &Figures) -> f64 {
        let n = |c: u32| f64::from(c);
        let mut s = self.base
            - n(f.serious_records) * self.serious_record
            - n(f.ordinary_records) * self.ordinary_record
            - n(f.minor_records) * self.minor_record
            - n(f.rectifications_overdue) * self.overdue_rectification
            - n(f.replies_late) * self.late_reply
            - n(f.supervisions) * self.supervision
            - n(f.commitments_breached) * self.breached_commitment;
        if let Some(rate) = f.satisfaction_rate() {
            s += self.satisfaction_weight * (rate - self.satisfaction_target);
        }
        if let Some(rate) = f.supervision_reply_rate() {
            s += self.supervision_reply_weight * (rate - self.supervision_reply_target);
        }
        let s = if s.is_nan() { 0.0 } else { s.clamp(0.0, 100.0) };
        (s * 100.0).round() / 100.0
    }
}

/// An assessment period: a calendar year (`2026`) or a quarter (`2026-Q2`), as
/// Asia/Shanghai dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// A calendar year.
    Year(i32),
    /// A quarter (1 to 4) of a year.
    Quarter(i32, u32),
}

/// Why a period does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("period must be a year (2026) or a quarter (2026-Q2)")]
pub struct PeriodError;

impl FromStr for Period {
    type Err = PeriodError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let year = |y: &str| -> Result<i32, PeriodError> {
            if y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()) {
                y.parse::<i32>()
                    .ok()
                    .filter(|y| *y >= 1000)
                    .ok_or(PeriodError)
            } else {
                Err(PeriodError)
            }
        };
        match s.split_once('-') {
            None => Ok(Period::Year(year(s)?)),
            Some((y, q)) => {
                let q = q
                    .strip_prefix('Q')
                    .or_else(|| q.strip_prefix('q'))
                    .ok_or(PeriodError)?;
                match q {
                    "1" | "2" | "3" | "4" => Ok(Period::Quarter(
                        year(y)?,
                        q.parse().map_err(|_| PeriodError)?,
                    )),
                    _ => Err(PeriodError),
                }
            }
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Year(y) => write!(f, "{y}"),
            Period::Quarter(y, q) => write!(f, "{y}-Q{q}"),
        }
    }
}

impl Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Period {
    /// The first day of the period.
    pub fn first_day(&self) -> NaiveDate {
        let (y, m) = match *self {
            Period::Year(y) => (y, 1),
            Period::Quarter(y, q) => (y, 3 * (q - 1) + 1),
        };
        NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(NaiveDate::MIN)
    }

    /// The last day of the period (inclusive).
    pub fn last_day(&self) -> NaiveDate {
        let (y, m) = match *self {
            Period::Year(y) => (y + 1, 1),
            Period::Quarter(y, 4) => (y + 1, 1),
            Period::Quarter(y, q) => (y, 3 * q + 1),
        };
        NaiveDate::from_ymd_opt(y, m, 1)
            .and_then(|d| d.pred_opt())
            .unwrap_or(NaiveDate::MAX)
    }

    /// `date` falls in the period.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.first_day() <= date && date <= self.last_day()
    }

    /// The year the period belongs to.
    pub fn year(&self) -> i32 {
        match *self {
            Period::Year(y) | Period::Quarter(y, _) => y,
        }
    }

    /// The quarter holding `date`: the smallest period, of which every period is made.
    pub fn quarter_of(date: NaiveDate) -> Period {
        use chrono::Datelike;
        Period::Quarter(date.year(), date.month0() / 3 + 1)
    }

    /// The quarters the period is made of, in order.
    pub fn quarters(&self) -> Vec<Period> {
        match *self {
            Period::Year(y) => (1..=4).map(|q| Period::Quarter(y, q)).collect(),
            quarter @ Period::Quarter(..) => vec![quarter],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_made_of_the_quarters_holding_its_days() {
        for period in ["2026", "2026-Q1", "2026-Q4", "2027-Q2"] {
            let period: Period = period.parse().unwrap();
            let quarters = period.quarters();
            let mut day = period.first_day();
            while day <= period.last_day() {
                assert!(
                    quarters.contains(&Period::quarter_of(day)),
                    "{day} in {period}"
                );
                day = day.succ_opt().unwrap();
            }
            assert!(!quarters.contains(&Period::quarter_of(period.last_day().succ_opt().unwrap())));
            assert!(!quarters.contains(&Period::quarter_of(period.first_day().pred_opt().unwrap())));
        }
        assert_eq!(Period::quarter_of(d(2026, 4, 1)).to_string(), "2026-Q2");
        assert_eq!(Period::quarter_of(d(2026, 3, 31)).to_string(), "2026-Q1");
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn periods_parse_print_and_span_their_dates() {
        let y: Period = "2026".parse().unwrap();
        assert_eq!(y, Period::Year(2026));
        assert_eq!(
            (y.first_day(), y.last_day()),
            (d(2026, 1, 1), d(2026, 12, 31))
        );
        let q: Period = "2026-Q2".parse().unwrap();
        assert_eq!(q.to_string(), "2026-Q2");
        assert_eq!(
            (q.first_day(), q.last_day()),
            (d(2026, 4, 1), d(2026, 6, 30))
        );
        let q4: Period = "2026-q4".parse().unwrap();
        assert_eq!(
            (q4.first_day(), q4.last_day()),
            (d(2026, 10, 1), d(2026, 12, 31))
        );
        assert_eq!(
            "2024-Q1".parse::<Period>().unwrap().last_day(),
            d(2024, 3, 31)
        );
        assert!(q.contains(d(2026, 6, 30)) && !q.contains(d(2026, 7, 1)));
        for bad in [
            "", "26", "2026-Q5", "2026-Q0", "2026-2", "abcd", "2026-Q", "+202",
        ] {
            assert_eq!(bad.parse::<Period>(), Err(PeriodError), "{bad}");
        }
        assert_eq!(serde_json::to_value(q).unwrap(), "2026-Q2");
        assert_eq!(serde_json::from_value::<Period>("2026".into()).unwrap(), y);
    }

    #[test]
    fn a_clean_unit_scores_the_base() {
        let f = AssessmentFormula::default();
        assert_eq!(f.score(&Figures::default()), 100.0);
    }

    #[test]
    fn each_item_takes_its_weight_off() {
        let f = AssessmentFormula::default();
        let figures = Figures {
            serious_records: 1,
            ordinary_records: 2,
            minor_records: 3,
            rectifications_on_time: 4,
            rectifications_overdue: 1,
            replies_on_time: 7,
            replies_late: 2,
            supervisions: 3,
            ..Figures::default()
        };
        // 100 − 10 − 2×5 − 3×1 − 5 − 2×2 − 3 = 65
        assert_eq!(f.score(&figures), 65.0);
        assert_eq!(figures.records(), 6);
    }

    #[test]
    fn satisfaction_adds_above_the_target_and_removes_below_it() {
        let f = AssessmentFormula::default();
        let all = Figures {
            visits: 2,
            satisfied: 2,
            ..Figures::default()
        };
        assert_eq!(all.satisfaction_rate(), Some(1.0));
        // 100 + 20 × (1 − 0.8) = 104, clamped to 100.
        assert_eq!(f.score(&all), 100.0);
        let half = Figures {
            visits: 2,
            satisfied: 1,
            serious_records: 1,
            ..Figures::default()
        };
        // 100 − 10 + 20 × (0.5 − 0.8) = 84
        assert_eq!(f.score(&half), 84.0);
        let with_bonus = Figures {
            visits: 1,
            satisfied: 1,
            serious_records: 1,
            ..Figures::default()
        };
        // 100 − 10 + 4 = 94
        assert_eq!(f.score(&with_bonus), 94.0);
        assert_eq!(Figures::default().satisfaction_rate(), None);
    }

    #[test]
    fn the_score_stays_between_0_and_100() {
        let f = AssessmentFormula::default();
        let awful = Figures {
            serious_records: 50,
            ..Figures::default()
        };
        assert_eq!(f.score(&awful), 0.0);
    }

    #[test]
    fn figures_add_up() {
        let mut a = Figures {
            minor_records: 1,
            visits: 1,
            satisfied: 1,
            ..Figures::default()
        };
        a += Figures {
            minor_records: 2,
            visits: 1,
            supervisions: 1,
            ..Figures::default()
        };
        assert_eq!(a.minor_records, 3);
        assert_eq!(a.satisfaction_rate(), Some(0.5));
        assert_eq!(a.supervisions, 1);
    }

    #[test]
    fn the_formula_reads_from_configuration_with_defaults() {
        let f: AssessmentFormula =
            serde_json::from_value(serde_json::json!({"version": 2, "late_reply": 3.0})).unwrap();
        assert_eq!(f.version, 2);
        assert_eq!(f.late_reply, 3.0);
        assert_eq!(f.base, 100.0);
        assert!(
            serde_json::from_value::<AssessmentFormula>(serde_json::json!({"nope": 1})).is_err()
        );
    }

    #[test]
    fn the_on_time_reply_rate_of_supervision_items_counts_from_version_2() {
        let f = AssessmentFormula::default();
        assert_eq!(f.version, 2);
        let late = Figures {
            supervision_replies_on_time: 3,
            supervision_replies_late: 1,
            ..Figures::default()
        };
        assert_eq!(late.supervision_reply_rate(), Some(0.75));
        assert_eq!(f.score(&late), 97.5, "10 × (0.75 − 1)");
        assert_eq!(AssessmentFormula::version_1().score(&late), 100.0);
        assert_eq!(Figures::default().supervision_reply_rate(), None);
    }

    #[test]
    fn a_breached_township_commitment_takes_its_weight_off_from_version_2() {
        let f = AssessmentFormula::default();
        let kept_and_broken = Figures {
            commitments_fulfilled: 3,
            commitments_breached: 2,
            ..Figures::default()
        };
        assert_eq!(f.score(&kept_and_broken), 96.0, "100 − 2 × 2");
        assert_eq!(
            AssessmentFormula::version_1().score(&kept_and_broken),
            100.0,
            "version 1 has no such factor"
        );
        let kept = Figures {
            commitments_fulfilled: 5,
            ..Figures::default()
        };
        assert_eq!(f.score(&kept), 100.0, "keeping a promise takes nothing off");
        let mut sum = kept;
        sum += kept_and_broken;
        assert_eq!(
            (sum.commitments_fulfilled, sum.commitments_breached),
            (8, 2)
        );
    }

    #[test]
    fn periods_already_assessed_keep_their_formula() {
        let f = AssessmentFormula::default();
        assert_eq!(f.for_period(Period::Year(2026)).version, 1);
        assert_eq!(f.for_period("2026-Q4".parse().unwrap()).version, 1);
        assert_eq!(f.for_period(Period::Year(2027)).version, 2);
        assert_eq!(f.for_period("2028-Q1".parse().unwrap()).version, 2);
        let v1 = AssessmentFormula::version_1();
        assert_eq!(v1.for_period(Period::Year(2026)), &v1, "no history: itself");
    }

    #[test]
    fn a_configured_formula_without_the_new_factor_has_none() {
        let f: AssessmentFormula =
            serde_json::from_value(serde_json::json!({"version": 1})).unwrap();
        assert_eq!(f.supervision_reply_weight, 0.0);
        assert_eq!(f.breached_commitment, 0.0);
        assert_eq!(f.applies_from, None);
        assert!(f.earlier.is_empty());
    }
}
