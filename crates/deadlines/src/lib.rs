//! The deadline engine: every `tick` it reads the open deadlines of the deadline board
//! (`deadline_entries`, kept by the projectors) that have passed or are near, and issues
//! the matching command to the case's aggregate through the [`probity_store::Executor`].
//!
//! # Exactly once
//! The engine decides nothing itself. The aggregate refuses a second marking of the same
//! due day (and a marking of a deadline no longer open or not yet passed) with a typed
//! refusal, and the event store's optimistic concurrency makes two servers racing on one
//! case end with one event: the loser retries, reloads, and is refused. The engine takes
//! those typed refusals as success ([`Outcome::Settled`]); any other error is logged and
//! the deadline is tried again at the next tick. What was settled is remembered in
//! memory and in the table `deadline_firings` (migration 0050), so a deadline costs one
//! command, not one per tick, across restarts and servers. The table is only a cache:
//! losing it costs a refused command, never a second event.
//!
//! # Time
//! "Now" comes from a closure ([`Now`]): the app passes its clock (real time plus
//! `PROBITY_CLOCK_OFFSET`), tests pass a clock they move by hand. A deadline is overdue
//! when the Asia/Shanghai date of now is after its due day (`due < today`, the set-based
//! form of [`probity_domain::is_overdue`]), and due soon
//! when it is not yet passed and at most `reminder_working_days` working days are left
//! ([`probity_domain::WorkingCalendar::working_days_left`]), the due day itself (0 left)
//! included so that a reminder missed while every server was down still goes out.
//! `reminder_working_days = 0` turns reminders off.
//!
//! # Plugging in other deadlines
//! Actions are registered in a [`Registry`] by `(case_type, kind)`, the two key columns
//! of `deadline_entries`, one action per [`Trigger`]. To add, say, rectification
//! deadlines:
//! 1. have the projector write the open deadlines into `deadline_entries` with
//!    `case_type = "rectification"` and a kind such as `rectification_report`;
//! 2. give the aggregate a command that marks the deadline overdue once per due day and
//!    refuses with a typed error when it is already marked, no longer open or not passed;
//! 3. implement [`DeadlineAction`] (or use [`action_fn`]) in the application layer
//!    (`probity_app::deadlines`) to run that command through its executor
//!    (`probity_app::deadlines::run_command`), returning [`Outcome::Settled`] for those
//!    typed refusals;
//! 4. register it: `registry.on_overdue(RECTIFICATION, "rectification_report", action)`
//!    (and `on_due_soon` for a reminder), next to `probity_app::deadlines::complaint::register`.
//!
//! The engine itself issues no command and knows no aggregate: the actions, which do,
//! live in the application layer (`probity_app::deadlines::{complaint, integrity}`).
//!
//! Metrics ([`DeadlineMetrics`]) render as Prometheus text for `/metrics`.

mod engine;
mod metrics;
mod registry;

pub use engine::{DeadlineEngine, EngineConfig, Now, TickReport};
pub use metrics::{DeadlineMetrics, DeadlineStats};
pub use registry::{action_fn, DeadlineAction, DueDeadline, Outcome, Registry, Trigger};
