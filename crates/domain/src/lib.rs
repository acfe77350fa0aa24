//! Probity's domain: the aggregates, their commands, events and rules.
//!
//! This crate does no I/O. Everything an aggregate needs from outside (the clock, the
//! working-day calendar, the time-limit policy, already-encrypted personal data) arrives
//! in the command or through the aggregate's `Services`.

#![warn(missing_docs)]

pub mod access;
pub mod aggregate_type;
pub mod assessment;
pub mod calendar;
pub mod calendar_admin;
pub mod civil_servant;
pub mod commitment;
pub mod complaint;
pub mod debt_warning;
pub mod ids;
pub mod integrity;
pub mod objection;
pub mod policy;
pub mod record;
pub mod record_proposal;
pub mod rectification;
pub mod repair;
pub mod reporter;
pub mod subject;
pub mod supervision_item;
pub mod wire;

pub use calendar::{
    is_overdue, CalendarError, DayKind, Deadline, ScheduleError, WorkingCalendar, YearSchedule,
};
pub use ids::{CreditCode, IdError, IdentityNumber};
pub use policy::TimeLimits;
