//! Calendar administration (issue 4, item 6): a new year's official holiday schedule
//! (State Council notice) is loaded as data and recorded as an event, so every server
//! folds the same working-day calendar from the log.
//!
//! One aggregate of type `calendar`, with the single id [`CALENDAR_ID`] (`china`): the
//! aggregate does not see its id, so callers always use that constant. Its services are
//! the shipped calendar ([`WorkingCalendar::china`]); the working calendar in force is the
//! shipped years plus every [`CalendarEvent::YearScheduleLoaded`] ([`CalendarAdmin::calendar`]).
//!
//! Rules, checked in this order:
//! 1. the source (e.g. the notice number) is not blank (`Invalid`);
//! 2. the schedule is consistent (`Schedule`: dates inside its year, make-up days on
//!    weekends, no day both off and on);
//! 3. a year already in force (shipped or loaded) with the identical schedule is a
//!    typed no-op (`AlreadyLoaded`); with another schedule it is refused
//!    (`Conflicting`): a correction of a published year is not a load (deadlines already
//!    computed on it are final and stay), and is not supported by this command;
//! 4. the year extends the calendar without a gap (`Gap`): the year after the last year
//!    in force or the year before the first, never a year leaving a year without data
//!    between two years with data (that middle year would become `calendar_missing`).

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::calendar::{ScheduleError, WorkingCalendar, YearSchedule};

/// The id of the one calendar aggregate.
pub const CALENDAR_ID: &str = "china";
/// The aggregate type (`Aggregate::TYPE`), for readers of the log.
pub const CALENDAR_TYPE: &str = crate::aggregate_type::CALENDAR;

/// What the aggregate needs from outside: the shipped calendar.
#[derive(Debug, Clone)]
pub struct CalendarServices {
    /// The years shipped in code ([`WorkingCalendar::china`]).
    pub shipped: Arc<WorkingCalendar>,
}

impl Default for CalendarServices {
    fn default() -> Self {
        Self {
            shipped: Arc::new(WorkingCalendar::china()),
        }
    }
}

/// Commands of the calendar aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CalendarCommand {
    /// Load one year's official schedule.
    LoadYearSchedule {
        /// The schedule (its dates are sorted and deduplicated on load).
        schedule: YearSchedule,
        /// Where it comes from, e.g. the State Council notice number (not blank).
        source: String,
        /// When the command was issued.
        at: DateTime<Utc>,
    },
}

/// Events of the calendar aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CalendarEvent {
    /// A year's official schedule was loaded: from now on that year's days are counted
    /// on it, and provisional deadlines reaching it are to be recomputed once.
    YearScheduleLoaded {
        /// The schedule, normalised (dates sorted, no repeats).
        schedule: YearSchedule,
        /// Where it comes from (the notice number).
        source: String,
        /// When it was loaded.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for CalendarEvent {
    fn event_type(&self) -> String {
        match self {
            Self::YearScheduleLoaded { .. } => "YearScheduleLoaded".to_string(),
        }
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// Why a calendar command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CalendarAdminError {
    /// A field failed validation.
    #[error("{field}: {message}")]
    Invalid {
        /// The field, e.g. `"source"`.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The schedule is inconsistent.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// The year is already in force with exactly this schedule: nothing to do.
    #[error("the schedule of {year} is already loaded")]
    AlreadyLoaded {
        /// The year.
        year: i32,
    },
    /// The year is already in force with another schedule: a correction is not a load.
    #[error("{year} already has another schedule (a correction is not supported)")]
    Conflicting {
        /// The year.
        year: i32,
    },
    /// Loading the year would leave a year without data between years with data.
    #[error(
        "cannot load {year}: the calendar covers {first}–{last}; load the years in between first"
    )]
    Gap {
        /// The year refused.
        year: i32,
        /// The first year in force.
        first: i32,
        /// The last year in force.
        last: i32,
    },
}

/// The state: the years loaded by events (the shipped ones are in the services).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CalendarAdmin {
    /// Loaded schedules by year.
    pub loaded: BTreeMap<i32, YearSchedule>,
}

impl CalendarAdmin {
    /// The state after `events` (the same fold as `apply`).
    pub fn from_events(events: impl IntoIterator<Item = CalendarEvent>) -> Self {
        let mut state = Self::default();
        for event in events {
            Aggregate::apply(&mut state, event);
        }
        state
    }

    /// The working calendar in force: `shipped` plus every loaded year. A loaded year
    /// never replaces a shipped one (the aggregate refuses it), so this cannot fail
    /// for a history the aggregate wrote.
    pub fn calendar(&self, shipped: &WorkingCalendar) -> Result<WorkingCalendar, ScheduleError> {
        let mut calendar = shipped.clone();
        for schedule in self.loaded.values() {
            calendar.add_year(schedule.clone())?;
        }
        Ok(calendar)
    }

    /// The decision: the events a command produces, or why not. Pure.
    pub fn decide(
        &self,
        command: CalendarCommand,
        services: &CalendarServices,
    ) -> Result<Vec<CalendarEvent>, CalendarAdminError> {
        match command {
            CalendarCommand::LoadYearSchedule {
                schedule,
                source,
                at,
            } => {
                if source.trim().is_empty() {
                    return Err(CalendarAdminError::Invalid {
                        field: "source",
                        message: "must not be empty".into(),
                    });
                }
                let year = schedule.year;
                // Checked and normalised by the calendar itself.
                let checked = WorkingCalendar::from_years(vec![schedule])?;
                let schedule =
                    checked
                        .years()
                        .next()
                        .cloned()
                        .ok_or(CalendarAdminError::Invalid {
                            field: "schedule",
                            message: "is empty".into(),
                        })?;
                let in_force = self.calendar(&services.shipped)?;
                if let Some(existing) = in_force.years().find(|y| y.year == year) {
                    return Err(if *existing == schedule {
                        CalendarAdminError::AlreadyLoaded { year }
                    } else {
                        CalendarAdminError::Conflicting { year }
                    });
                }
                if let Some((first, last)) = in_force.data_range() {
                    if year != last.saturating_add(1) && year != first.saturating_sub(1) {
                        return Err(CalendarAdminError::Gap { year, first, last });
                    }
                }
                Ok(vec![CalendarEvent::YearScheduleLoaded {
                    schedule,
                    source: source.trim().to_string(),
                    at,
                }])
            }
        }
    }
}

impl Aggregate for CalendarAdmin {
    const TYPE: &'static str = CALENDAR_TYPE;
    type Command = CalendarCommand;
    type Event = CalendarEvent;
    type Error = CalendarAdminError;
    type Services = CalendarServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command, services)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            CalendarEvent::YearScheduleLoaded { schedule, .. } => {
                self.loaded.insert(schedule.year, schedule);
            }
        }
    }
}
