//! Given/when/then tests of the calendar aggregate, one per rule.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::DomainEvent;

use super::*;

type Framework = TestFramework<CalendarAdmin>;

fn admin() -> Framework {
    Framework::with(CalendarServices::default())
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 2, 0, 0).unwrap()
}

/// A test schedule for 2027 (NOT the official one: 1–3 Jan off, Sun 10 Jan worked).
fn y2027(holidays: &[&str], makeup: &[&str]) -> YearSchedule {
    YearSchedule {
        year: 2027,
        holidays: holidays.iter().map(|d| day(d)).collect(),
        makeup_workdays: makeup.iter().map(|d| day(d)).collect(),
    }
}

fn load(schedule: YearSchedule) -> CalendarCommand {
    CalendarCommand::LoadYearSchedule {
        schedule,
        source: "国办发明电〔2026〕X号 (test)".into(),
        at: now(),
    }
}

fn loaded(schedule: YearSchedule) -> CalendarEvent {
    CalendarEvent::YearScheduleLoaded {
        schedule,
        source: "国办发明电〔2026〕X号 (test)".into(),
        at: now(),
    }
}

#[test]
fn the_next_year_loads_normalised_and_records_its_source() {
    admin()
        .given_no_previous_events()
        .when(load(y2027(
            &["2027-01-03", "2027-01-01", "2027-01-02", "2027-01-01"],
            &["2027-01-10"],
        )))
        .then_expect_events(vec![loaded(y2027(
            &["2027-01-01", "2027-01-02", "2027-01-03"],
            &["2027-01-10"],
        ))]);
    assert_eq!(
        loaded(y2027(&[], &[])).event_type(),
        "YearScheduleLoaded".to_string()
    );
}

#[test]
fn reloading_the_identical_schedule_is_a_typed_no_op() {
    admin()
        .given(vec![loaded(y2027(&["2027-01-01"], &[]))])
        .when(load(y2027(&["2027-01-01", "2027-01-01"], &[])))
        .then_expect_error(CalendarAdminError::AlreadyLoaded { year: 2027 });
    // A shipped year given exactly as shipped is the same no-op.
    let shipped_2026 = WorkingCalendar::china()
        .years()
        .find(|y| y.year == 2026)
        .cloned()
        .unwrap();
    admin()
        .given_no_previous_events()
        .when(load(shipped_2026))
        .then_expect_error(CalendarAdminError::AlreadyLoaded { year: 2026 });
}

#[test]
fn a_different_schedule_for_a_year_in_force_is_refused() {
    admin()
        .given(vec![loaded(y2027(&["2027-01-01"], &[]))])
        .when(load(y2027(&["2027-01-01", "2027-01-04"], &[])))
        .then_expect_error(CalendarAdminError::Conflicting { year: 2027 });
    admin()
        .given_no_previous_events()
        .when(load(YearSchedule {
            year: 2026,
            holidays: vec![day("2026-01-01")],
            makeup_workdays: vec![],
        }))
        .then_expect_error(CalendarAdminError::Conflicting { year: 2026 });
}

#[test]
fn a_year_that_would_leave_a_gap_is_refused() {
    admin()
        .given_no_previous_events()
        .when(load(YearSchedule {
            year: 2028,
            holidays: vec![],
            makeup_workdays: vec![],
        }))
        .then_expect_error(CalendarAdminError::Gap {
            year: 2028,
            first: 2025,
            last: 2026,
        });
    // Once 2027 is loaded, 2028 follows; the year before the first one is fine too.
    admin()
        .given(vec![loaded(y2027(&[], &[]))])
        .when(load(YearSchedule {
            year: 2028,
            holidays: vec![],
            makeup_workdays: vec![],
        }))
        .then_expect_events(vec![loaded(YearSchedule {
            year: 2028,
            holidays: vec![],
            makeup_workdays: vec![],
        })]);
    admin()
        .given_no_previous_events()
        .when(load(YearSchedule {
            year: 2024,
            holidays: vec![],
            makeup_workdays: vec![],
        }))
        .then_expect_events(vec![loaded(YearSchedule {
            year: 2024,
            holidays: vec![],
            makeup_workdays: vec![],
        })]);
}

#[test]
fn an_inconsistent_schedule_is_refused_with_the_calendar_error() {
    admin()
        .given_no_previous_events()
        .when(load(y2027(&["2028-01-01"], &[])))
        .then_expect_error(CalendarAdminError::Schedule(ScheduleError::WrongYear {
            year: 2027,
            date: day("2028-01-01"),
        }));
    admin()
        .given_no_previous_events()
        .when(load(y2027(&["2027-01-02"], &["2027-01-02"])))
        .then_expect_error(CalendarAdminError::Schedule(ScheduleError::Conflict {
            date: day("2027-01-02"),
        }));
    admin()
        .given_no_previous_events()
        .when(load(y2027(&[], &["2027-01-04"])))
        .then_expect_error(CalendarAdminError::Schedule(
            ScheduleError::MakeupOnWeekday {
                date: day("2027-01-04"),
            },
        ));
}

#[test]
fn a_blank_source_is_refused() {
    admin()
        .given_no_previous_events()
        .when(CalendarCommand::LoadYearSchedule {
            schedule: y2027(&[], &[]),
            source: "  ".into(),
            at: now(),
        })
        .then_expect_error(CalendarAdminError::Invalid {
            field: "source",
            message: "must not be empty".into(),
        });
}

#[test]
fn the_calendar_in_force_is_the_shipped_years_plus_the_loaded_ones() {
    let mut state = CalendarAdmin::default();
    let shipped = WorkingCalendar::china();
    assert_eq!(state.calendar(&shipped).unwrap(), shipped);
    cqrs_es::Aggregate::apply(&mut state, loaded(y2027(&["2027-01-01"], &[])));
    let calendar = state.calendar(&shipped).unwrap();
    assert_eq!(calendar.data_range(), Some((2025, 2027)));
    let kind = calendar.day_kind(day("2027-01-01")).unwrap();
    assert!(!kind.working && !kind.provisional);
}
