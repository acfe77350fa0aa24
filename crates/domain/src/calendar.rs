//! The working-day calendar (Asia/Shanghai): official holiday schedules as versioned data,
//! weekends alone (and `provisional`) for a year without data, `calendar_missing` before
//! the first year with data.
//!
//! Rules (domain-rules §3):
//! - In a year with a loaded [`YearSchedule`], a day is a working day when it is a
//!   weekday (Mon–Fri) and not a holiday, or when it is a make-up working day (调休上班).
//! - In a year after the last year with data, only weekends are days off, and any result
//!   that looked at such a day is marked `provisional`.
//! - A year before the first year with data, or a year missing between two years with
//!   data, is [`CalendarError::Missing`]: never a guess.
//! - Counting starts the day after the triggering day (民法典 art. 201); see
//!   [`WorkingCalendar::add_working_days`].

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A calendar computation that cannot be answered (HTTP 422 `calendar_missing`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CalendarError {
    /// The computation needs `year`, which is before the first year with data (or in a
    /// gap between years with data, or past the last representable date).
    #[error("no working-day calendar for {year}")]
    Missing {
        /// The year without data.
        year: i32,
    },
}

/// A schedule the operator has to load ([`WorkingCalendar::schedule_notice`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleNotice {
    /// It is December and next year's official holidays are not loaded: from 1 January
    /// every deadline counted in `year` will be provisional.
    NextYearMissing {
        /// The year whose schedule is missing.
        year: i32,
    },
    /// Today's year has no schedule: deadlines counted in it are provisional now.
    CurrentYearMissing {
        /// The year whose schedule is missing.
        year: i32,
    },
}

impl ScheduleNotice {
    /// The year whose schedule is missing.
    pub fn year(&self) -> i32 {
        match self {
            ScheduleNotice::NextYearMissing { year }
            | ScheduleNotice::CurrentYearMissing { year } => *year,
        }
    }
}

impl std::fmt::Display for ScheduleNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScheduleNotice::NextYearMissing { year } => write!(
                f,
                "the official holiday schedule of {year} is not loaded: from 1 January {year} \
                 deadlines will be provisional; load it with `probity calendar load FILE \
                 --source \"国办发明电〔…〕\"` and restart the servers"
            ),
            ScheduleNotice::CurrentYearMissing { year } => write!(
                f,
                "the official holiday schedule of {year} is not loaded: deadlines counted in \
                 {year} are provisional; load it with `probity calendar load FILE --source \
                 \"国办发明电〔…〕\"` and restart the servers"
            ),
        }
    }
}

/// A holiday schedule that cannot be loaded: the data is inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScheduleError {
    /// A date listed for `year` lies in another year.
    #[error("{date} is listed in the schedule of {year}")]
    WrongYear {
        /// The schedule's year.
        year: i32,
        /// The misplaced date.
        date: NaiveDate,
    },
    /// A date is both a holiday and a make-up working day.
    #[error("{date} is both a holiday and a make-up working day")]
    Conflict {
        /// The contradictory date.
        date: NaiveDate,
    },
    /// A make-up working day must fall on a weekend (a weekday is a working day anyway).
    #[error("make-up working day {date} is not a Saturday or Sunday")]
    MakeupOnWeekday {
        /// The weekday listed as a make-up day.
        date: NaiveDate,
    },
    /// The same year was given twice to [`WorkingCalendar::from_years`].
    #[error("the schedule of {year} is given twice")]
    DuplicateYear {
        /// The repeated year.
        year: i32,
    },
}

/// The overdue rule, the one definition every reader uses: a deadline is overdue on
/// `today` (a local Asia/Shanghai date) once its due day has passed, that is on every
/// day after it (the due day itself is still on time). The aggregates decide markings
/// with it, the views show `overdue` with it, and the deadline engine's and the list
/// filters' SQL (`due < today`) is its set-based form.
pub fn is_overdue(due: NaiveDate, today: NaiveDate) -> bool {
    today > due
}

/// A due date: the end of that working day in Asia/Shanghai. `provisional` when it was
/// computed through a year whose holiday schedule was not yet loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    /// The last day (inclusive) on which the act is on time.
    pub due: NaiveDate,
    /// True when the count crossed a year without an official schedule (weekends only):
    /// to be recomputed once that year's schedule is loaded.
    pub provisional: bool,
}

/// One year's official schedule (State Council notice), loadable as data (JSON etc.).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YearSchedule {
    /// The calendar year this schedule covers.
    pub year: i32,
    /// Every day off of the official holidays (weekend days inside a holiday may be
    /// listed or not: they are days off either way).
    pub holidays: Vec<NaiveDate>,
    /// Weekend days that are working days (调休上班).
    pub makeup_workdays: Vec<NaiveDate>,
}

impl YearSchedule {
    /// Checks the schedule and returns it with its dates sorted and deduplicated.
    fn normalised(mut self) -> Result<Self, ScheduleError> {
        for &date in self.holidays.iter().chain(&self.makeup_workdays) {
            if date.year() != self.year {
                return Err(ScheduleError::WrongYear {
                    year: self.year,
                    date,
                });
            }
        }
        for &date in &self.makeup_workdays {
            if !is_weekend(date) {
                return Err(ScheduleError::MakeupOnWeekday { date });
            }
        }
        self.holidays.sort_unstable();
        self.holidays.dedup();
        self.makeup_workdays.sort_unstable();
        self.makeup_workdays.dedup();
        if let Some(&date) = self
            .makeup_workdays
            .iter()
            .find(|d| self.holidays.binary_search(d).is_ok())
        {
            return Err(ScheduleError::Conflict { date });
        }
        Ok(self)
    }

    fn is_working_day(&self, day: NaiveDate) -> bool {
        if self.makeup_workdays.binary_search(&day).is_ok() {
            return true;
        }
        !is_weekend(day) && self.holidays.binary_search(&day).is_err()
    }
}

fn is_weekend(day: NaiveDate) -> bool {
    matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Whether one day is a working day, and whether that answer is provisional.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayKind {
    /// The day is a working day.
    pub working: bool,
    /// The answer comes from weekends alone (the year has no schedule yet).
    pub provisional: bool,
}

/// The working-day calendar: per-year official schedules, keyed by year. Cheap to share
/// behind an `Arc`; a new year is added by data ([`WorkingCalendar::add_year`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<YearSchedule>", into = "Vec<YearSchedule>")]
pub struct WorkingCalendar {
    years: BTreeMap<i32, YearSchedule>,
}

impl TryFrom<Vec<YearSchedule>> for WorkingCalendar {
    type Error = ScheduleError;
    fn try_from(years: Vec<YearSchedule>) -> Result<Self, Self::Error> {
        Self::from_years(years)
    }
}

impl From<WorkingCalendar> for Vec<YearSchedule> {
    fn from(c: WorkingCalendar) -> Self {
        c.years.into_values().collect()
    }
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    // Only called with the literal dates of `china()`, all of which exist.
    NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
}

fn span(y: i32, m: u32, from: u32, to: u32) -> impl Iterator<Item = NaiveDate> {
    (from..=to).map(move |day| d(y, m, day))
}

impl WorkingCalendar {
    /// The shipped data: 2025 and 2026 State Council schedules (domain-rules §3).
    pub fn china() -> Self {
        let y2025 = YearSchedule {
            year: 2025,
            holidays: std::iter::once(d(2025, 1, 1))
                .chain(span(2025, 1, 28, 31))
                .chain(span(2025, 2, 1, 4))
                .chain(span(2025, 4, 4, 6))
                .chain(span(2025, 5, 1, 5))
                .chain(std::iter::once(d(2025, 5, 31)))
                .chain(span(2025, 6, 1, 2))
                .chain(span(2025, 10, 1, 8))
                .collect(),
            makeup_workdays: vec![
                d(2025, 1, 26),
                d(2025, 2, 8),
                d(2025, 4, 27),
                d(2025, 9, 28),
                d(2025, 10, 11),
            ],
        };
        let y2026 = YearSchedule {
            year: 2026,
            holidays: span(2026, 1, 1, 3)
                .chain(span(2026, 2, 15, 23))
                .chain(span(2026, 4, 4, 6))
                .chain(span(2026, 5, 1, 5))
                .chain(span(2026, 6, 19, 21))
                .chain(span(2026, 9, 25, 27))
                .chain(span(2026, 10, 1, 7))
                .collect(),
            makeup_workdays: vec![
                d(2026, 1, 4),
                d(2026, 2, 14),
                d(2026, 2, 28),
                d(2026, 5, 9),
                d(2026, 9, 20),
                d(2026, 10, 10),
            ],
        };
        let mut years = BTreeMap::new();
        for y in [y2025, y2026] {
            // The shipped data is consistent (tested); normalising only sorts it.
            let y = y.clone().normalised().unwrap_or(y);
            years.insert(y.year, y);
        }
        Self { years }
    }

    /// A calendar from schedules loaded as data. Each is checked (dates inside its year,
    /// make-up days on weekends, no date both off and on, no year twice).
    pub fn from_years(years: Vec<YearSchedule>) -> Result<Self, ScheduleError> {
        let mut calendar = Self::default();
        for y in years {
            if calendar.years.contains_key(&y.year) {
                return Err(ScheduleError::DuplicateYear { year: y.year });
            }
            calendar.add_year(y)?;
        }
        Ok(calendar)
    }

    /// Adds (or replaces, for a corrected notice) one year's schedule. Deadlines already
    /// computed are not changed: they are stored in events.
    pub fn add_year(&mut self, year: YearSchedule) -> Result<(), ScheduleError> {
        let year = year.normalised()?;
        self.years.insert(year.year, year);
        Ok(())
    }

    /// The loaded schedules, in year order.
    pub fn years(&self) -> impl Iterator<Item = &YearSchedule> + '_ {
        self.years.values()
    }

    /// The first and last years with data, if any.
    pub fn data_range(&self) -> Option<(i32, i32)> {
        let first = *self.years.keys().next()?;
        let last = *self.years.keys().next_back()?;
        Some((first, last))
    }

    /// What an operator must be told about the schedules on `today` (a local date), if
    /// anything: from December on, next year's schedule should be loaded (the State
    /// Council publishes it in the autumn); a year without data makes every deadline
    /// counted in it provisional. `None` when the data covers this year and, in December,
    /// the next one.
    pub fn schedule_notice(&self, today: NaiveDate) -> Option<ScheduleNotice> {
        let year = today.year();
        if !self.years.contains_key(&year) {
            return Some(ScheduleNotice::CurrentYearMissing { year });
        }
        if today.month() == 12 && !self.years.contains_key(&(year + 1)) {
            return Some(ScheduleNotice::NextYearMissing { year: year + 1 });
        }
        None
    }

    /// The calendar date in Asia/Shanghai (UTC+8, no daylight saving) of an instant.
    pub fn local_date(at: DateTime<Utc>) -> NaiveDate {
        (at + chrono::Duration::hours(8)).date_naive()
    }

    /// Whether `day` is a working day, and whether the answer is provisional.
    /// An empty calendar answers [`CalendarError::Missing`] for every day.
    pub fn day_kind(&self, day: NaiveDate) -> Result<DayKind, CalendarError> {
        let year = day.year();
        if let Some(schedule) = self.years.get(&year) {
            return Ok(DayKind {
                working: schedule.is_working_day(day),
                provisional: false,
            });
        }
        match self.data_range() {
            Some((_, last)) if year > last => Ok(DayKind {
                working: !is_weekend(day),
                provisional: true,
            }),
            _ => Err(CalendarError::Missing { year }),
        }
    }

    /// Whether `day` is a working day (provisional answers included; see
    /// [`WorkingCalendar::day_kind`] to tell them apart).
    pub fn is_working_day(&self, day: NaiveDate) -> Result<bool, CalendarError> {
        Ok(self.day_kind(day)?.working)
    }

    /// `n` working days after `from` (counting starts the day after).
    ///
    /// The n-th working day after `from` is the due date. With `n = 0` the due date is
    /// `from` itself if it is a working day, else the next working day. `provisional` is
    /// set when any day examined lies in a year without a schedule.
    pub fn add_working_days(&self, from: NaiveDate, n: u32) -> Result<Deadline, CalendarError> {
        let mut provisional = false;
        let mut day = from;
        if n == 0 {
            loop {
                let kind = self.day_kind(day)?;
                provisional |= kind.provisional;
                if kind.working {
                    return Ok(Deadline {
                        due: day,
                        provisional,
                    });
                }
                day = next_day(day)?;
            }
        }
        let mut counted = 0;
        while counted < n {
            day = next_day(day)?;
            let kind = self.day_kind(day)?;
            provisional |= kind.provisional;
            if kind.working {
                counted += 1;
            }
        }
        Ok(Deadline {
            due: day,
            provisional,
        })
    }

    /// Working days between `today` and `due`, signed:
    /// - `0` when `today == due`;
    /// - when `today < due`: the number of working days in `(today, due]` (the days still
    ///   available after today, the due day included), so the working day before a
    ///   working due day gives `1`;
    /// - when `today > due`: minus the number of working days in `(due, today]` (the
    ///   working days that have passed since the due day), so the first working day after
    ///   the due day gives `-1`.
    ///
    /// Being overdue is `today > due`, not the sign: on a weekend right after a Friday
    /// due day this returns `0` although the deadline has passed.
    pub fn working_days_left(
        &self,
        today: NaiveDate,
        due: NaiveDate,
    ) -> Result<i64, CalendarError> {
        let (start, end, sign) = if today <= due {
            (today, due, 1)
        } else {
            (due, today, -1)
        };
        let mut count = 0i64;
        let mut day = start;
        while day < end {
            day = next_day(day)?;
            if self.day_kind(day)?.working {
                count += 1;
            }
        }
        Ok(sign * count)
    }
}

fn next_day(day: NaiveDate) -> Result<NaiveDate, CalendarError> {
    day.succ_opt().ok_or(CalendarError::Missing {
        year: day.year().saturating_add(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn due(cal: &WorkingCalendar, from: &str, n: u32) -> NaiveDate {
        cal.add_working_days(date(from), n).unwrap().due
    }

    fn working_days_in(cal: &WorkingCalendar, year: i32) -> usize {
        let mut day = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
        let mut n = 0;
        while day.year() == year {
            if cal.is_working_day(day).unwrap() {
                n += 1;
            }
            day = day.succ_opt().unwrap();
        }
        n
    }

    #[test]
    fn in_december_a_missing_next_year_is_noticed_with_the_command_that_loads_it() {
        let cal = WorkingCalendar::china();
        let notice = cal.schedule_notice(date("2026-12-01"));
        assert_eq!(notice, Some(ScheduleNotice::NextYearMissing { year: 2027 }));
        let text = notice.unwrap().to_string();
        assert!(
            text.contains("2027") && text.contains("probity calendar load"),
            "{text}"
        );
        assert_eq!(
            cal.schedule_notice(date("2026-12-31")),
            Some(ScheduleNotice::NextYearMissing { year: 2027 })
        );
    }

    #[test]
    fn before_december_or_with_next_year_loaded_nothing_is_noticed() {
        let cal = WorkingCalendar::china();
        assert_eq!(cal.schedule_notice(date("2026-11-30")), None);
        assert_eq!(cal.schedule_notice(date("2025-12-15")), None);
        assert_eq!(cal.schedule_notice(date("2025-03-01")), None);
    }

    #[test]
    fn a_year_without_data_is_noticed_as_current() {
        let cal = WorkingCalendar::china();
        assert_eq!(
            cal.schedule_notice(date("2027-01-01")),
            Some(ScheduleNotice::CurrentYearMissing { year: 2027 })
        );
        assert_eq!(
            cal.schedule_notice(date("2024-06-01")),
            Some(ScheduleNotice::CurrentYearMissing { year: 2024 })
        );
        assert_eq!(
            WorkingCalendar::from_years(vec![])
                .unwrap()
                .schedule_notice(date("2026-06-01")),
            Some(ScheduleNotice::CurrentYearMissing { year: 2026 })
        );
    }

    #[test]
    fn both_shipped_years_have_248_working_days() {
        let cal = WorkingCalendar::china();
        assert_eq!(working_days_in(&cal, 2025), 248);
        assert_eq!(working_days_in(&cal, 2026), 248);
        assert_eq!(
            cal.years().map(|y| y.year).collect::<Vec<_>>(),
            vec![2025, 2026]
        );
    }

    #[test]
    fn make_up_days_work_and_holidays_do_not() {
        let cal = WorkingCalendar::china();
        assert!(cal.is_working_day(date("2025-09-28")).unwrap()); // Sun, make-up
        assert!(!cal.is_working_day(date("2025-10-08")).unwrap()); // Wed, 国庆
        assert!(!cal.is_working_day(date("2025-10-12")).unwrap()); // plain Sunday
        assert!(cal.is_working_day(date("2025-10-13")).unwrap()); // plain Monday
        assert!(cal.is_working_day(date("2026-01-04")).unwrap()); // Sun, make-up
    }

    #[test]
    fn ten_working_days_after_26_september_2025_is_16_october() {
        let cal = WorkingCalendar::china();
        // Sun 28 Sep counts, 1-8 Oct off, Sat 11 Oct counts.
        assert_eq!(due(&cal, "2025-09-26", 10), date("2025-10-16"));
        assert_eq!(due(&cal, "2025-09-26", 1), date("2025-09-28"));
        assert!(
            !cal.add_working_days(date("2025-09-26"), 10)
                .unwrap()
                .provisional
        );
    }

    #[test]
    fn counting_crosses_the_2026_spring_festival() {
        let cal = WorkingCalendar::china();
        // Fri 13 Feb -> Sat 14 Feb (make-up) -> 15–23 off -> Tue 24 Feb.
        assert_eq!(due(&cal, "2026-02-13", 1), date("2026-02-14"));
        assert_eq!(due(&cal, "2026-02-13", 2), date("2026-02-24"));
        // 24, 25, 26, 27, Sat 28 (make-up) = 6 working days.
        assert_eq!(due(&cal, "2026-02-13", 6), date("2026-02-28"));
        assert_eq!(due(&cal, "2026-02-13", 10), date("2026-03-05"));
    }

    #[test]
    fn counting_crosses_the_2026_national_day() {
        let cal = WorkingCalendar::china();
        // Fri 18 Sep -> Sun 20 Sep (make-up).
        assert_eq!(due(&cal, "2026-09-18", 1), date("2026-09-20"));
        // 20, 21, 22, 23, 24; 25–27 off (中秋); 28, 29, 30; 1–7 Oct off; 8, 9.
        assert_eq!(due(&cal, "2026-09-18", 10), date("2026-10-09"));
        // 30 Sep -> 8 Oct, 9 Oct, Sat 10 Oct (make-up).
        assert_eq!(due(&cal, "2026-09-30", 1), date("2026-10-08"));
        assert_eq!(due(&cal, "2026-09-30", 3), date("2026-10-10"));
    }

    #[test]
    fn one_working_day_after_new_years_eve_2025_is_the_make_up_sunday() {
        let cal = WorkingCalendar::china();
        // 1–3 Jan 2026 off, Sun 4 Jan is a make-up working day.
        assert_eq!(due(&cal, "2025-12-31", 1), date("2026-01-04"));
        assert_eq!(due(&cal, "2025-12-31", 2), date("2026-01-05"));
    }

    #[test]
    fn zero_working_days_is_the_day_itself_or_the_next_working_day() {
        let cal = WorkingCalendar::china();
        assert_eq!(due(&cal, "2025-10-13", 0), date("2025-10-13"));
        assert_eq!(due(&cal, "2025-10-01", 0), date("2025-10-09"));
        assert_eq!(due(&cal, "2025-10-12", 0), date("2025-10-13"));
    }

    #[test]
    fn a_date_after_the_last_year_with_data_is_provisional() {
        let cal = WorkingCalendar::china();
        let kind = cal.day_kind(date("2027-01-01")).unwrap();
        assert!(kind.working && kind.provisional); // a Friday, weekends only
        let d = cal.add_working_days(date("2027-03-05"), 1).unwrap();
        assert_eq!(
            d,
            Deadline {
                due: date("2027-03-08"),
                provisional: true
            }
        );
        // Crossing into 2027 makes a deadline provisional.
        let d = cal.add_working_days(date("2026-12-30"), 3).unwrap();
        assert_eq!(d.due, date("2027-01-04"));
        assert!(d.provisional);
        // Ending on 31 Dec 2026 does not.
        assert!(
            !cal.add_working_days(date("2026-12-30"), 1)
                .unwrap()
                .provisional
        );
    }

    #[test]
    fn a_date_before_the_first_year_with_data_is_calendar_missing() {
        let cal = WorkingCalendar::china();
        assert_eq!(
            cal.is_working_day(date("2024-06-03")),
            Err(CalendarError::Missing { year: 2024 })
        );
        assert_eq!(
            cal.add_working_days(date("2024-12-20"), 5),
            Err(CalendarError::Missing { year: 2024 })
        );
        // Counting from 31 Dec 2024 only looks at 2025.
        assert_eq!(due(&cal, "2024-12-31", 1), date("2025-01-02"));
        assert_eq!(
            cal.working_days_left(date("2024-12-30"), date("2025-01-03")),
            Err(CalendarError::Missing { year: 2024 })
        );
    }

    #[test]
    fn a_gap_between_years_with_data_is_calendar_missing_and_an_empty_calendar_knows_nothing() {
        let mut cal = WorkingCalendar::china();
        cal.add_year(YearSchedule {
            year: 2028,
            holidays: vec![],
            makeup_workdays: vec![],
        })
        .unwrap();
        assert_eq!(
            cal.is_working_day(date("2027-05-05")),
            Err(CalendarError::Missing { year: 2027 })
        );
        assert_eq!(
            WorkingCalendar::default().is_working_day(date("2026-05-06")),
            Err(CalendarError::Missing { year: 2026 })
        );
    }

    #[test]
    fn working_days_left_counts_after_today_up_to_the_due_day() {
        let cal = WorkingCalendar::china();
        let due = date("2025-10-16"); // Thursday
        assert_eq!(cal.working_days_left(due, due).unwrap(), 0);
        assert_eq!(cal.working_days_left(date("2025-10-15"), due).unwrap(), 1);
        // From 26 Sep: 28, 29, 30 Sep, 9, 10, 11, 13, 14, 15, 16 Oct.
        assert_eq!(cal.working_days_left(date("2025-09-26"), due).unwrap(), 10);
        assert_eq!(cal.working_days_left(date("2025-10-17"), due).unwrap(), -1);
        // Sat 18, Sun 19 are days off: still -1 on Sunday, -2 on Monday 20.
        assert_eq!(cal.working_days_left(date("2025-10-19"), due).unwrap(), -1);
        assert_eq!(cal.working_days_left(date("2025-10-20"), due).unwrap(), -2);
        // A Friday due day seen on the Saturday after: 0, though overdue.
        assert_eq!(
            cal.working_days_left(date("2025-10-18"), date("2025-10-17"))
                .unwrap(),
            0
        );
    }

    #[test]
    fn local_date_is_shanghai_time() {
        let late_utc = Utc.with_ymd_and_hms(2025, 9, 30, 16, 0, 0).unwrap();
        assert_eq!(WorkingCalendar::local_date(late_utc), date("2025-10-01"));
        let earlier = Utc.with_ymd_and_hms(2025, 9, 30, 15, 59, 59).unwrap();
        assert_eq!(WorkingCalendar::local_date(earlier), date("2025-09-30"));
    }

    #[test]
    fn a_year_loads_from_json_and_bad_schedules_are_refused() {
        let json = r#"[{"year":2027,"holidays":["2027-01-01"],"makeup_workdays":["2027-01-02"]}]"#;
        let cal: WorkingCalendar = serde_json::from_str(json).unwrap();
        assert!(!cal.is_working_day(date("2027-01-01")).unwrap());
        assert!(cal.is_working_day(date("2027-01-02")).unwrap());
        assert!(!cal.day_kind(date("2027-01-04")).unwrap().provisional);
        let back: Vec<YearSchedule> = cal.clone().into();
        assert_eq!(back[0].year, 2027);
        assert_eq!(WorkingCalendar::from_years(back).unwrap(), cal);

        let y = |holidays: Vec<&str>, makeup: Vec<&str>| YearSchedule {
            year: 2027,
            holidays: holidays.into_iter().map(date).collect(),
            makeup_workdays: makeup.into_iter().map(date).collect(),
        };
        assert!(matches!(
            WorkingCalendar::from_years(vec![y(vec!["2028-01-01"], vec![])]),
            Err(ScheduleError::WrongYear { .. })
        ));
        assert!(matches!(
            WorkingCalendar::from_years(vec![y(vec!["2027-01-02"], vec!["2027-01-02"])]),
            Err(ScheduleError::Conflict { .. })
        ));
        assert!(matches!(
            WorkingCalendar::from_years(vec![y(vec![], vec!["2027-01-04"])]),
            Err(ScheduleError::MakeupOnWeekday { .. })
        ));
        assert!(matches!(
            WorkingCalendar::from_years(vec![y(vec![], vec![]), y(vec![], vec![])]),
            Err(ScheduleError::DuplicateYear { year: 2027 })
        ));
        assert!(serde_json::from_str::<WorkingCalendar>(
            r#"[{"year":2027,"holidays":[],"makeup_workdays":[],"extra":1}]"#
        )
        .is_err());
    }

    #[test]
    fn adding_the_next_year_ends_provisional_answers() {
        let mut cal = WorkingCalendar::china();
        assert!(cal.day_kind(date("2027-01-01")).unwrap().provisional);
        cal.add_year(YearSchedule {
            year: 2027,
            holidays: vec![date("2027-01-01")],
            makeup_workdays: vec![],
        })
        .unwrap();
        let kind = cal.day_kind(date("2027-01-01")).unwrap();
        assert!(!kind.working && !kind.provisional);
        assert_eq!(cal.data_range(), Some((2025, 2027)));
    }
}
