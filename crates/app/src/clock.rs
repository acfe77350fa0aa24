//! The clock of the application layer: real time plus a configured offset
//! (`PROBITY_CLOCK_OFFSET`), so drills and demos can run "30 days later" without
//! touching the machine's clock. Every command the API, the CLI, the importer or the
//! deadline engine issues carries an instant from here; "today" is the calendar date in
//! Asia/Shanghai.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use probity_domain::WorkingCalendar;

/// Real time shifted by `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Clock {
    /// Added to the system time (negative moves the clock back).
    pub offset: Duration,
}

impl Clock {
    /// The system clock without offset.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock shifted by `offset`.
    pub fn new(offset: Duration) -> Self {
        Self { offset }
    }

    /// A clock shifted by `offset` (same as [`Clock::new`]).
    pub fn with_offset(offset: Duration) -> Self {
        Self { offset }
    }

    /// The current instant, offset applied.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }

    /// Today's date in Asia/Shanghai.
    pub fn today(&self) -> NaiveDate {
        WorkingCalendar::local_date(self.now())
    }

    /// The date in Asia/Shanghai this clock read at the real instant `t`. An `as_of`
    /// instant is a point of the log (events are recorded on the real clock), and the day
    /// it is evaluated on is the day this server's clock showed then: on the real clock
    /// that is simply `t`'s date; on a shifted clock (a drill or a test) it is shifted too.
    pub fn day_at(&self, t: DateTime<Utc>) -> NaiveDate {
        WorkingCalendar::local_date(t + self.offset)
    }

    /// Parses an offset: `0`, or an optionally signed integer followed by `d`, `h`, `m`
    /// or `s` (`30d`, `12h`, `-5m`, `+90s`).
    pub fn parse_offset(text: &str) -> Result<Duration, String> {
        let t = text.trim();
        if t == "0" {
            return Ok(Duration::zero());
        }
        let bad =
            || format!("invalid clock offset {text:?}: expected e.g. 30d, 12h, -5m, 90s or 0");
        let unit = t.chars().last().ok_or_else(bad)?;
        let number: i64 = t[..t.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
        let d = match unit {
            'd' => Duration::try_days(number),
            'h' => Duration::try_hours(number),
            'm' => Duration::try_minutes(number),
            's' => Duration::try_seconds(number),
            _ => None,
        };
        d.ok_or_else(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_instant_is_evaluated_on_the_day_the_clock_showed_then() {
        // 20:00 UTC on 31 Dec 2026 is already 1 Jan 2027 in Asia/Shanghai.
        let t: DateTime<Utc> = "2026-12-31T20:00:00Z".parse().unwrap();
        let date = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(Clock::system().day_at(t), date("2027-01-01"));
        // A clock 100 days ahead showed 11 Apr 2027 at that real instant.
        assert_eq!(
            Clock::new(Duration::days(100)).day_at(t),
            date("2027-04-11")
        );
        assert_eq!(Clock::new(Duration::days(-1)).day_at(t), date("2026-12-31"));
    }

    #[test]
    fn it_should_parse_days_hours_minutes_and_zero() {
        assert_eq!(Clock::parse_offset("30d"), Ok(Duration::days(30)));
        assert_eq!(Clock::parse_offset("12h"), Ok(Duration::hours(12)));
        assert_eq!(Clock::parse_offset("-5m"), Ok(Duration::minutes(-5)));
        assert_eq!(Clock::parse_offset("+90s"), Ok(Duration::seconds(90)));
        assert_eq!(Clock::parse_offset("0"), Ok(Duration::zero()));
    }

    #[test]
    fn it_should_reject_offsets_without_a_known_unit() {
        for bad in ["", "d", "30", "30x", "1.5h", "h12", "99999999999999999d"] {
            assert!(Clock::parse_offset(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn it_should_shift_now_by_the_offset() {
        let clock = Clock::with_offset(Duration::days(30));
        let delta = clock.now() - Utc::now();
        assert!(delta > Duration::days(29) && delta <= Duration::days(30));
        assert_eq!(clock.today(), WorkingCalendar::local_date(clock.now()));
    }
}
