//! The working-day calendar (Asia/Shanghai): official holiday schedules as versioned data,
//! weekends alone (and `provisional`) for a year without data, `calendar_missing` before
//! the first year with data.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CalendarError {
    #[error("no working-day calendar for {year}")]
    Missing { year: i32 },
}

/// A due date: the end of that working day in Asia/Shanghai. `provisional` when it was
/// computed through a year whose holiday schedule was not yet loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    pub due: NaiveDate,
    pub provisional: bool,
}

#[derive(Debug, Clone, Default)]
pub struct WorkingCalendar {}

impl WorkingCalendar {
    /// The shipped data: 2025 and 2026 State Council schedules.
    pub fn china() -> Self {
        Self {}
    }

    /// The calendar date in Asia/Shanghai (UTC+8, no daylight saving) of an instant.
    pub fn local_date(at: DateTime<Utc>) -> NaiveDate {
        (at + chrono::Duration::hours(8)).date_naive()
    }

    pub fn is_working_day(&self, _day: NaiveDate) -> Result<bool, CalendarError> {
        Ok(true)
    }

    /// `n` working days after `from` (counting starts the day after).
    pub fn add_working_days(&self, from: NaiveDate, n: u32) -> Result<Deadline, CalendarError> {
        Ok(Deadline {
            due: from + chrono::Duration::days(n as i64),
            provisional: false,
        })
    }

    /// Working days from `today` to `due`: 0 on the due day itself, negative once past.
    pub fn working_days_left(&self, today: NaiveDate, due: NaiveDate) -> Result<i64, CalendarError> {
        Ok((due - today).num_days())
    }
}
