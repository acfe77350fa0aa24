//! What the integrity-record aggregates (subjects, civil servants, dishonesty records,
//! rectifications, credit repairs, objections, commitments) share: the classifications
//! of a record, the publicity policy (domain-rules §5), the repair and objection time
//! limits (§7, §8), the facts about a record another aggregate is decided on, and the
//! services every one of them receives. Pure: no I/O.

use std::sync::Arc;

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::calendar::WorkingCalendar;
use crate::ids::CreditCode;

/// 失信信息来源 (§6 of the mission text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// 行政处罚
    AdministrativePenalty,
    /// 处分 (disciplinary or government sanction)
    Sanction,
    /// 司法判决
    CourtJudgment,
    /// 审计结果
    Audit,
    /// A verified complaint (投诉举报查实).
    Complaint,
    /// A breached credit commitment (违背信用承诺).
    CommitmentBreach,
    /// Information of a third-party credit service (第三方信用服务机构), confirmed by a
    /// supervisor from a record proposal (§3).
    ThirdParty,
}

impl Source {
    /// The contract name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::AdministrativePenalty => "administrative_penalty",
            Source::Sanction => "sanction",
            Source::CourtJudgment => "court_judgment",
            Source::Audit => "audit",
            Source::Complaint => "complaint",
            Source::CommitmentBreach => "commitment_breach",
            Source::ThirdParty => "third_party",
        }
    }
}

/// The criminal offence a court judgment convicted of, when it matters to a restriction
/// (domain-rules §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Offence {
    /// 行贿犯罪: bars bidding for its period (行贿犯罪档案查询).
    Bribery,
}

impl Offence {
    /// The contract name.
    pub fn as_str(self) -> &'static str {
        match self {
            Offence::Bribery => "bribery",
        }
    }

    /// The sector the offence bars, whatever the record's own sector.
    pub fn bars(self) -> Sector {
        match self {
            Offence::Bribery => Sector::Bidding,
        }
    }

    /// What the bar rests on (domain-rules §12).
    pub fn legal_basis(self) -> &'static str {
        match self {
            Offence::Bribery => {
                "行贿犯罪档案查询: a bribery conviction bars bidding (九府发〔2018〕6号 §11)"
            }
        }
    }
}

/// 轻微 / 一般 / 严重 (§5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// 轻微: not published by default.
    Minor,
    /// 一般
    Ordinary,
    /// 严重
    Serious,
}

impl Severity {
    /// The contract name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Minor => "minor",
            Severity::Ordinary => "ordinary",
            Severity::Serious => "serious",
        }
    }
}

/// The sector list a record belongs to (§9–§14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sector {
    /// No sector list.
    General,
    /// 政府采购 (suppliers' bad-behaviour list).
    Procurement,
    /// 招标投标 (bidding blacklist).
    Bidding,
    /// 政府和社会资本合作 (PPP breach records).
    Ppp,
    /// 招商引资 (investment-promotion promises).
    Investment,
    /// 地方政府债务
    Debt,
    /// 乡镇 (township public commitments).
    Township,
}

impl Sector {
    /// The contract name.
    pub fn as_str(self) -> &'static str {
        match self {
            Sector::General => "general",
            Sector::Procurement => "procurement",
            Sector::Bidding => "bidding",
            Sector::Ppp => "ppp",
            Sector::Investment => "investment",
            Sector::Debt => "debt",
            Sector::Township => "township",
        }
    }

    /// The sector ban a record of this sector may carry, in whole years (§5 sector bans:
    /// 政府采购法 art. 77, 招标投标法 arts. 53, 54, 60); `None` when the sector has no ban.
    pub fn ban_years(self) -> Option<std::ops::RangeInclusive<u32>> {
        match self {
            Sector::Procurement => Some(1..=3),
            Sector::Bidding | Sector::Ppp => Some(1..=5),
            _ => None,
        }
    }

    /// What a ban of this sector rests on (domain-rules §5, §12); `None` when the sector
    /// has no ban.
    pub fn ban_legal_basis(self) -> Option<&'static str> {
        match self {
            Sector::Procurement => Some("政府采购法 art. 77"),
            Sector::Bidding => Some("招标投标法 arts. 53, 54, 60"),
            Sector::Ppp => Some("招标投标法 arts. 53, 54, 60 (PPP procurement and bidding)"),
            _ => None,
        }
    }

    /// The ban a record of this sector with this offence may carry, in whole years: the
    /// sector's own range, or for a bribery conviction the range of the sector it bars.
    pub fn ban_years_with(self, offence: Option<Offence>) -> Option<std::ops::RangeInclusive<u32>> {
        self.ban_years()
            .or_else(|| offence.and_then(|o| o.bars().ban_years()))
    }
}

/// One severity's row of the publicity table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicityRule {
    /// Published by default.
    pub published: bool,
    /// Months after the decision date from which repair may be applied for (0: at once,
    /// once obligations are met).
    pub minimum_months: u32,
    /// Months after the decision date when publication stops by itself.
    pub maximum_months: u32,
}

/// The publicity table of §5, named and versioned: every record carries the policy it was
/// made under, so a later policy never changes an old record's window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PublicityPolicy {
    /// Name of the policy document.
    pub name: String,
    /// Version of this table under that name.
    pub version: u32,
    /// 轻微
    pub minor: PublicityRule,
    /// 一般
    pub ordinary: PublicityRule,
    /// 严重
    pub serious: PublicityRule,
}

impl Default for PublicityPolicy {
    fn default() -> Self {
        Self {
            name: "fgw-2025-36".to_string(),
            version: 1,
            minor: PublicityRule {
                published: false,
                minimum_months: 0,
                maximum_months: 3,
            },
            ordinary: PublicityRule {
                published: true,
                minimum_months: 3,
                maximum_months: 12,
            },
            serious: PublicityRule {
                published: true,
                minimum_months: 12,
                maximum_months: 36,
            },
        }
    }
}

impl PublicityPolicy {
    /// The row of one severity.
    pub fn rule(&self, severity: Severity) -> PublicityRule {
        match severity {
            Severity::Minor => self.minor,
            Severity::Ordinary => self.ordinary,
            Severity::Serious => self.serious,
        }
    }

    /// The window of a record decided on `decision_date`. `published` is the table's
    /// default unless the record is personal (a civil servant's: never public) or the
    /// recorder asked to publish a minor record.
    pub fn window(
        &self,
        severity: Severity,
        decision_date: NaiveDate,
        personal: bool,
        publish_minor: bool,
    ) -> Publicity {
        let rule = self.rule(severity);
        let published =
            !personal && (rule.published || (severity == Severity::Minor && publish_minor));
        Publicity {
            published,
            start: decision_date,
            repair_possible_from: add_months(decision_date, rule.minimum_months),
            ends: add_months(decision_date, rule.maximum_months),
            policy: self.name.clone(),
            policy_version: self.version,
        }
    }
}

/// `months` calendar months after `date`; the 31st of a shorter month is its last day.
pub fn add_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_add_months(Months::new(months))
        .unwrap_or_else(|| {
            // Only past year 262142: unreachable for a validated decision date.
            NaiveDate::from_ymd_opt(date.year(), 12, 31).unwrap_or(date)
        })
}

/// A record's publicity window. Published on the days `start <= d < ends`; repair may be
/// applied for on and after `repair_possible_from`. The last day shown is `ends - 1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publicity {
    /// Published under the policy (before any repair, objection or withdrawal).
    pub published: bool,
    /// First day of publication (the decision date).
    pub start: NaiveDate,
    /// First day a credit repair may be applied for (minimum period passed).
    pub repair_possible_from: NaiveDate,
    /// First day the record is no longer published (maximum period reached).
    pub ends: NaiveDate,
    /// The policy the window was computed under.
    pub policy: String,
    /// Its version.
    pub policy_version: u32,
}

impl Publicity {
    /// Inside the window on `day` (whether or not anything ended publication early).
    pub fn in_window(&self, day: NaiveDate) -> bool {
        self.start <= day && day < self.ends
    }
}

/// Credit-repair limits (§7), configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RepairLimits {
    /// Name of the policy these values come from.
    pub policy: String,
    /// Working days to decide acceptance (受理).
    pub acceptance_working_days: u32,
    /// Working days to decide after acceptance.
    pub decision_working_days: u32,
    /// No new repair of the same subject within this many months of the last approved one.
    pub min_months_between: u32,
    /// At most this many approved repairs of the same subject ...
    pub max_in_window: u32,
    /// ... in this many months.
    pub window_months: u32,
}

impl Default for RepairLimits {
    fn default() -> Self {
        Self {
            policy: "fgw-2025-36".to_string(),
            acceptance_working_days: 3,
            decision_working_days: 10,
            min_months_between: 12,
            max_in_window: 2,
            window_months: 60,
        }
    }
}

/// Objection limits (§8), configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ObjectionLimits {
    /// Name of the policy these values come from.
    pub policy: String,
    /// Working days to check (核查) an objection.
    pub check_working_days: u32,
    /// Working days to decide it.
    pub decision_working_days: u32,
}

impl Default for ObjectionLimits {
    fn default() -> Self {
        Self {
            policy: "local-objection-2026".to_string(),
            check_working_days: 1,
            decision_working_days: 5,
        }
    }
}

/// How long a sanction (处分) keeps a subject from honours, by the record's severity
/// (政务处分法 art. 8: 警告 6 months, 记过 12, 记大过 18, 降级/撤职 24), configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SanctionMonths {
    /// A minor sanction record (警告).
    pub minor: u32,
    /// An ordinary one (记过).
    pub ordinary: u32,
    /// A serious one (降级/撤职).
    pub serious: u32,
}

impl Default for SanctionMonths {
    fn default() -> Self {
        Self {
            minor: 6,
            ordinary: 12,
            serious: 24,
        }
    }
}

impl SanctionMonths {
    /// The period of one severity.
    pub fn of(&self, severity: Severity) -> u32 {
        match severity {
            Severity::Minor => self.minor,
            Severity::Ordinary => self.ordinary,
            Severity::Serious => self.serious,
        }
    }
}

/// The integrity rules as one configurable block (`[integrity]` in the policy file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct IntegrityPolicy {
    /// §5 publicity table.
    pub publicity: PublicityPolicy,
    /// §7 repair limits.
    pub repair: RepairLimits,
    /// §8 objection limits.
    pub objection: ObjectionLimits,
    /// §6 sanction periods for honours eligibility.
    pub sanction_months: SanctionMonths,
    /// §7 守信激励: how long a subject keeps a clean record to be in good standing.
    pub good_standing: GoodStandingPolicy,
    /// §11 reply limits of supervision items.
    pub supervision: crate::supervision_item::SupervisionLimits,
    /// §13 debt risk warning thresholds (`[integrity.debt_warning]`).
    pub debt_warning: crate::debt_warning::DebtWarningPolicy,
}

/// Good standing (守信激励, §7 of the city's opinions): a subject with no published
/// record, no overdue rectification and no breached commitment for `years` whole years
/// (configuration, `[integrity.good_standing]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GoodStandingPolicy {
    /// Whole years of a clean record (default 3).
    pub years: u32,
}

impl Default for GoodStandingPolicy {
    fn default() -> Self {
        Self { years: 3 }
    }
}

/// The day a subject qualifies for good standing: `years` after the latest of its
/// registration and every disturbance of its record (the day a published record stopped
/// being published, the day after a missed rectification due date, the day a commitment
/// was found breached); `None` while a record is published or a rectification is
/// overdue (the clock has not started).
pub fn good_standing_from(
    registered: NaiveDate,
    disturbances: impl IntoIterator<Item = NaiveDate>,
    still_disturbed: bool,
    years: u32,
) -> Option<NaiveDate> {
    if still_disturbed {
        return None;
    }
    let clean_from = disturbances.into_iter().fold(registered, NaiveDate::max);
    Some(add_months(clean_from, years * 12))
}

/// What every integrity aggregate receives from outside: reference data only.
#[derive(Debug, Clone)]
pub struct IntegrityServices {
    /// The working-day calendar.
    pub calendar: Arc<WorkingCalendar>,
    /// The rules in force.
    pub policy: IntegrityPolicy,
}

/// The facts about a dishonesty record that another aggregate (rectification, repair,
/// objection) is decided on. The application reads them from the record's own events
/// just before the command, so they are as fresh as the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordFacts {
    /// The record's id.
    pub record_id: String,
    /// The unit that answers for the record: the subject itself, or a civil servant's unit.
    pub unit: CreditCode,
    /// A civil servant's record (never public).
    pub personal: bool,
    /// 轻微 / 一般 / 严重
    pub severity: Severity,
    /// The window under its policy.
    pub publicity: Publicity,
    /// Withdrawn (source decision changed or revoked).
    pub withdrawn: bool,
    /// The authority that recorded it (`None`: the municipal credit office). Only it
    /// decides a repair (谁认定谁修复).
    pub recorded_by: Option<CreditCode>,
}

/// Who decides on a repair or objection: a supervisor bound to a unit, or the municipal
/// credit office (unbound).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decider {
    /// An unbound supervisor: the municipal credit office, decides any record.
    CreditOffice,
    /// A supervisor bound to this authority: decides only what it recorded.
    Authority(CreditCode),
}

impl Decider {
    /// May this decider decide on a record recorded by `recorded_by`?
    pub fn may_decide(&self, recorded_by: Option<&CreditCode>) -> bool {
        match self {
            Decider::CreditOffice => true,
            Decider::Authority(unit) => recorded_by == Some(unit),
        }
    }
}

/// Why flagging an overdue decision (a repair's acceptance or decision, an objection's
/// decision) was refused: each due day is flagged at most once, only while the decision
/// is still owed and only after the day has passed. The deadline engine takes these as
/// "already settled".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionDeadlineRefusal {
    /// Nothing is waiting for a decision (decided, withdrawn, never filed).
    #[error("no decision is pending")]
    NotOpen,
    /// This due day was already flagged.
    #[error("the decision due on {due} is already flagged as overdue")]
    AlreadyFlagged {
        /// The due day.
        due: NaiveDate,
    },
    /// The due day has not passed yet (Asia/Shanghai).
    #[error("the decision due on {due} is not overdue yet")]
    NotYetDue {
        /// The due day.
        due: NaiveDate,
    },
    /// This due day was already reminded.
    #[error("the due day {due} was already reminded")]
    AlreadyReminded {
        /// The due day.
        due: NaiveDate,
    },
    /// The due day has passed: too late for a reminder (the overdue flag follows).
    #[error("the due day {due} has passed")]
    Passed {
        /// The due day.
        due: NaiveDate,
    },
}

/// Why a recount was refused: the due day is final already.
pub const RECOUNT_FINAL: &str = "the due date is final";
/// Why a recount was refused: the provisional due day passed before its year was loaded.
pub const RECOUNT_PASSED: &str = "the due date has passed";
/// Why a recount was refused: the limits in force do not give the stored due day back.
pub const RECOUNT_NOT_REPRODUCED: &str =
    "the due date cannot be reproduced under the limits in force";
/// Why a recount was refused: the calendar in force cannot count to the due day.
pub const RECOUNT_NOT_COVERED: &str = "the calendar in force does not cover the due date";
/// Why a recount was refused: the due day reaches a later year without data.
pub const RECOUNT_STILL_PROVISIONAL: &str = "the due date is still provisional";

/// How a refused recount counts in a calendar load's summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecountRefusal {
    /// Nothing provisional is open (final, nothing owed, decided).
    Settled,
    /// Still provisional: a later year has no data yet.
    StillProvisional,
    /// The provisional day cannot be made final (passed, or the limits or calendar in force
    /// do not give it back): an operator must look at the case.
    Failed,
}

impl RecountRefusal {
    /// The class of a recount refusal's reason.
    pub fn of(why: &str) -> Self {
        match why {
            RECOUNT_STILL_PROVISIONAL => Self::StillProvisional,
            RECOUNT_PASSED | RECOUNT_NOT_REPRODUCED | RECOUNT_NOT_COVERED => Self::Failed,
            _ => Self::Settled,
        }
    }
}

/// Recounts a provisional due day once its year's holiday schedule is loaded: `working_days`
/// after `from` on `calendar`. Refused (with why) unless the stored due day is
/// provisional and not passed on `today`, the limit in force reproduces it on the
/// calendar as it was when it was counted (the loaded years up to some year, weekends
/// after it), and the new count is final. Used by repairs and objections, as
/// complaints and rectifications recount theirs.
pub fn recount_provisional(
    calendar: &WorkingCalendar,
    from: NaiveDate,
    working_days: u32,
    stored: crate::calendar::Deadline,
    today: NaiveDate,
) -> Result<crate::calendar::Deadline, &'static str> {
    use chrono::Datelike;
    if !stored.provisional {
        return Err(RECOUNT_FINAL);
    }
    if crate::is_overdue(stored.due, today) {
        return Err(RECOUNT_PASSED);
    }
    let lowest = from.year().saturating_sub(1);
    let highest = stored.due.year().saturating_sub(1);
    let reproduced = (lowest..=highest).any(|last| {
        let years = calendar
            .years()
            .filter(|y| y.year <= last)
            .cloned()
            .collect();
        WorkingCalendar::from_years(years)
            .ok()
            .and_then(|then| then.add_working_days(from, working_days).ok())
            == Some(stored)
    });
    if !reproduced {
        return Err(RECOUNT_NOT_REPRODUCED);
    }
    let again = calendar
        .add_working_days(from, working_days)
        .map_err(|_| RECOUNT_NOT_COVERED)?;
    if again.provisional {
        return Err(RECOUNT_STILL_PROVISIONAL);
    }
    Ok(again)
}

/// Decides a due-soon reminder of a due day (if one is owed) at local date `today`,
/// given the days already reminded. How near is near enough is the deadline engine's
/// (configured) window; the aggregate only keeps it to once, and before the day passes.
pub fn check_reminder(
    due: Option<NaiveDate>,
    reminded: &[NaiveDate],
    today: NaiveDate,
) -> Result<NaiveDate, DecisionDeadlineRefusal> {
    let due = due.ok_or(DecisionDeadlineRefusal::NotOpen)?;
    if crate::is_overdue(due, today) {
        return Err(DecisionDeadlineRefusal::Passed { due });
    }
    if reminded.contains(&due) {
        return Err(DecisionDeadlineRefusal::AlreadyReminded { due });
    }
    Ok(due)
}

/// Decides a flag of an overdue decision due on `due` (if any is pending) at local date
/// `today`, given the days already flagged.
pub fn check_decision_overdue(
    due: Option<NaiveDate>,
    flagged: &[NaiveDate],
    today: NaiveDate,
) -> Result<NaiveDate, DecisionDeadlineRefusal> {
    let due = due.ok_or(DecisionDeadlineRefusal::NotOpen)?;
    if !crate::is_overdue(due, today) {
        return Err(DecisionDeadlineRefusal::NotYetDue { due });
    }
    if flagged.contains(&due) {
        return Err(DecisionDeadlineRefusal::AlreadyFlagged { due });
    }
    Ok(due)
}

/// Checks a required free text: trimmed non-empty, at most `max` characters.
pub(crate) fn check_text(
    field: &'static str,
    value: &str,
    max: usize,
) -> Result<(), (&'static str, String)> {
    if value.trim().is_empty() {
        return Err((field, "must not be blank".to_string()));
    }
    if value.chars().count() > max {
        return Err((field, format!("must be at most {max} characters")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_refused_recount_counts_as_settled_still_provisional_or_failed() {
        assert_eq!(RecountRefusal::of(RECOUNT_FINAL), RecountRefusal::Settled);
        assert_eq!(
            RecountRefusal::of("no reply is owed"),
            RecountRefusal::Settled
        );
        assert_eq!(
            RecountRefusal::of(RECOUNT_STILL_PROVISIONAL),
            RecountRefusal::StillProvisional
        );
        for why in [RECOUNT_PASSED, RECOUNT_NOT_REPRODUCED, RECOUNT_NOT_COVERED] {
            assert_eq!(RecountRefusal::of(why), RecountRefusal::Failed, "{why}");
        }
    }
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_subject_with_a_clean_record_qualifies_years_after_its_registration() {
        assert_eq!(
            good_standing_from(day("2022-05-01"), [], false, 3),
            Some(day("2025-05-01"))
        );
    }

    #[test]
    fn good_standing_counts_from_the_latest_disturbance() {
        let disturbances = [day("2023-01-10"), day("2024-07-01"), day("2022-02-01")];
        assert_eq!(
            good_standing_from(day("2020-01-01"), disturbances, false, 3),
            Some(day("2027-07-01"))
        );
    }

    #[test]
    fn a_subject_still_disturbed_has_not_started_to_qualify() {
        assert_eq!(good_standing_from(day("2020-01-01"), [], true, 3), None);
    }

    #[test]
    fn an_ordinary_record_is_published_for_a_year_and_repairable_after_three_months() {
        let w =
            PublicityPolicy::default().window(Severity::Ordinary, day("2026-03-10"), false, false);
        assert!(w.published);
        assert_eq!(w.start, day("2026-03-10"));
        assert_eq!(w.repair_possible_from, day("2026-06-10"));
        assert_eq!(w.ends, day("2027-03-10"));
        assert!(w.in_window(day("2027-03-09")));
        assert!(!w.in_window(day("2027-03-10")));
        assert!(!w.in_window(day("2026-03-09")));
    }

    #[test]
    fn a_serious_record_is_published_three_years_and_repairable_after_one() {
        let w =
            PublicityPolicy::default().window(Severity::Serious, day("2025-01-31"), false, false);
        assert_eq!(w.repair_possible_from, day("2026-01-31"));
        assert_eq!(w.ends, day("2028-01-31"));
        assert_eq!(w.policy, "fgw-2025-36");
        assert_eq!(w.policy_version, 1);
    }

    #[test]
    fn a_minor_record_is_not_published_unless_asked_and_is_repairable_at_once() {
        let policy = PublicityPolicy::default();
        let w = policy.window(Severity::Minor, day("2026-01-31"), false, false);
        assert!(!w.published);
        assert_eq!(w.repair_possible_from, day("2026-01-31"));
        assert_eq!(
            w.ends,
            day("2026-04-30"),
            "31 Jan + 3 months ends on the last day of April"
        );
        assert!(
            policy
                .window(Severity::Minor, day("2026-01-31"), false, true)
                .published
        );
    }

    #[test]
    fn a_civil_servants_record_is_never_published() {
        let w = PublicityPolicy::default().window(Severity::Serious, day("2026-01-05"), true, true);
        assert!(!w.published);
    }

    #[test]
    fn only_the_recording_authority_or_the_credit_office_decides() {
        let a = CreditCode::parse("914403001922038216").unwrap();
        let b = CreditCode::parse("91330100716105852F").unwrap();
        assert!(Decider::CreditOffice.may_decide(None));
        assert!(Decider::CreditOffice.may_decide(Some(&a)));
        assert!(Decider::Authority(a.clone()).may_decide(Some(&a)));
        assert!(!Decider::Authority(a.clone()).may_decide(Some(&b)));
        assert!(!Decider::Authority(a).may_decide(None));
    }

    #[test]
    fn sector_bans_follow_the_laws_ranges() {
        assert_eq!(Sector::Procurement.ban_years(), Some(1..=3));
        assert_eq!(Sector::Bidding.ban_years(), Some(1..=5));
        assert_eq!(Sector::General.ban_years(), None);
    }

    #[test]
    fn a_ppp_ban_lasts_one_to_five_years_and_other_sectors_have_none() {
        assert_eq!(Sector::Ppp.ban_years(), Some(1..=5));
        for sector in [Sector::Investment, Sector::Debt, Sector::Township] {
            assert_eq!(sector.ban_years(), None, "{sector:?}");
        }
    }

    #[test]
    fn months_are_added_in_calendar_months_with_the_last_day_of_shorter_months() {
        assert_eq!(add_months(day("2026-03-10"), 0), day("2026-03-10"));
        assert_eq!(add_months(day("2025-12-31"), 2), day("2026-02-28"));
        assert_eq!(add_months(day("2024-02-29"), 12), day("2025-02-28"));
        assert_eq!(add_months(day("2024-02-29"), 48), day("2028-02-29"));
    }

    #[test]
    fn a_window_carries_the_name_and_version_of_its_policy() {
        let policy = PublicityPolicy {
            name: "local-2027".into(),
            version: 4,
            ..PublicityPolicy::default()
        };
        let w = policy.window(Severity::Ordinary, day("2026-03-10"), false, false);
        assert_eq!((w.policy.as_str(), w.policy_version), ("local-2027", 4));
        assert_eq!(policy.rule(Severity::Serious), policy.serious);
    }

    #[test]
    fn publishing_a_minor_record_does_not_change_an_unpublished_ordinary_rule() {
        let policy = PublicityPolicy {
            ordinary: PublicityRule {
                published: false,
                ..PublicityPolicy::default().ordinary
            },
            ..PublicityPolicy::default()
        };
        assert!(
            !policy
                .window(Severity::Ordinary, day("2026-03-10"), false, true)
                .published
        );
    }

    #[test]
    fn the_default_limits_are_three_and_ten_working_days_and_one_and_five_working_days() {
        let repair = RepairLimits::default();
        assert_eq!(
            (repair.acceptance_working_days, repair.decision_working_days),
            (3, 10)
        );
        assert_eq!(
            (
                repair.min_months_between,
                repair.max_in_window,
                repair.window_months
            ),
            (12, 2, 60)
        );
        let objection = ObjectionLimits::default();
        assert_eq!(
            (
                objection.check_working_days,
                objection.decision_working_days
            ),
            (1, 5)
        );
    }

    #[test]
    fn a_partial_integrity_block_keeps_the_defaults_and_unknown_keys_are_refused() {
        let policy: IntegrityPolicy =
            serde_json::from_value(serde_json::json!({ "repair": { "min_months_between": 6 } }))
                .unwrap();
        assert_eq!(policy.repair.min_months_between, 6);
        assert_eq!(policy.repair.max_in_window, 2);
        assert_eq!(policy.publicity, PublicityPolicy::default());
        assert_eq!(policy.objection, ObjectionLimits::default());
        assert!(serde_json::from_value::<IntegrityPolicy>(
            serde_json::json!({ "repair": { "min_months": 6 } })
        )
        .is_err());
    }

    #[test]
    fn a_required_text_is_not_blank_and_not_too_long() {
        assert!(check_text("summary", " 事实 ", 4).is_ok());
        assert_eq!(
            check_text("summary", " \n\t", 10),
            Err(("summary", "must not be blank".to_string()))
        );
        assert_eq!(
            check_text("summary", "事实清楚", 3),
            Err(("summary", "must be at most 3 characters".to_string()))
        );
        assert!(
            check_text("summary", "事实清楚", 4).is_ok(),
            "characters, not bytes"
        );
    }

    #[test]
    fn the_contract_names_are_snake_case() {
        assert_eq!(
            Source::AdministrativePenalty.as_str(),
            "administrative_penalty"
        );
        assert_eq!(Source::CommitmentBreach.as_str(), "commitment_breach");
        assert_eq!(Severity::Ordinary.as_str(), "ordinary");
        assert_eq!(Sector::Ppp.as_str(), "ppp");
        for source in [
            Source::AdministrativePenalty,
            Source::Sanction,
            Source::CourtJudgment,
            Source::Audit,
            Source::Complaint,
            Source::CommitmentBreach,
        ] {
            assert_eq!(
                serde_json::to_value(source).unwrap(),
                serde_json::json!(source.as_str())
            );
        }
        assert!(Severity::Minor < Severity::Ordinary && Severity::Ordinary < Severity::Serious);
    }
}
