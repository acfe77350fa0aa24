//! The complaint aggregate's decisions (`handle`) and state changes (`apply`).
//!
//! `handle` is a pure decision: it checks the command against the current state and
//! returns the events, computed from the state *before* any of them is applied, then
//! writes them to the sink. The checks run in a fixed order so a caller always gets
//! the same error for the same situation:
//! 1. the case exists (`NotFound`) or, for filing, does not (`AlreadyFiled`);
//! 2. the status allows the command (`InvalidTransition`);
//! 3. the acting unit is the assigned one (`NotAssignedUnit`);
//! 4. the fields are valid (`Invalid`);
//! 5. the remaining rules (deadlines, pending extension, overdue, calendar).
//!
//! The deadline commands of the deadline engine (`MarkSignOverdue`, `MarkReplyOverdue`,
//! `RemindDeadline`) answer with a [`DeadlineRefusal`] instead, in this order: the
//! deadline is open (`NotOpen`), this due day was not already marked or reminded
//! (`AlreadyMarked`, `AlreadyReminded`), it has passed for a marking (`NotYetDue`) or not
//! passed for a reminder (`Passed`). "Passed" is: the Asia/Shanghai date of `at` is after
//! the due day (the due day is on time until its end). Each deadline is marked at most
//! once per due day; a new dispatch or a reopening starts fresh markings.
//!
//! `apply` is total: it accepts any event in any state and never panics.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;

use crate::calendar::{Deadline, WorkingCalendar};
use crate::ids::CreditCode;

use super::{
    ClosedBecause, Complaint, ComplaintCommand, ComplaintError, ComplaintEvent, ComplaintServices,
    DeadlineBasis, DeadlineKind, DeadlineLimit, DeadlineRefusal, PendingExtension, Status,
};
use crate::policy::TimeLimits;

/// Longest title, in characters.
pub const TITLE_MAX_CHARS: usize = 200;
/// Longest description, in characters (api-v1: "at most 4000 characters").
pub const DESCRIPTION_MAX_CHARS: usize = 4000;
/// Allowed extension lengths, in working days.
pub const EXTENSION_WORKING_DAYS: std::ops::RangeInclusive<u32> = 1..=30;

impl Aggregate for Complaint {
    const TYPE: &'static str = crate::aggregate_type::COMPLAINT;
    type Command = ComplaintCommand;
    type Event = ComplaintEvent;
    type Error = ComplaintError;
    type Services = ComplaintServices;

    #[tracing::instrument(
        name = "complaint.handle",
        skip_all,
        fields(command = command.kind(), status = %self.status)
    )]
    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let events = self.decide(command, services)?;
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ComplaintEvent::ComplaintFiled {
                category,
                subject_code,
                anonymous,
                reporter,
                received_at,
                ..
            } => {
                self.status = Status::Received;
                self.subject_code = subject_code;
                self.category = Some(category);
                self.anonymous = anonymous;
                self.reporter_key = reporter.map(|r| r.key_id);
                self.last_event_at = Some(received_at);
            }
            ComplaintEvent::ComplaintAccepted { at } => {
                self.status = Status::Accepted;
                self.last_event_at = Some(at);
            }
            ComplaintEvent::ComplaintDeclined { at, .. } => {
                self.status = Status::Declined;
                self.last_event_at = Some(at);
            }
            ComplaintEvent::ComplaintDispatched {
                unit,
                sign_due,
                reply_due,
                at,
            } => {
                self.status = Status::Dispatched;
                let from = WorkingCalendar::local_date(at);
                self.sign_basis = Some(DeadlineBasis::first(from, DeadlineLimit::Sign));
                self.reply_basis = Some(DeadlineBasis::first(from, DeadlineLimit::Reply));
                self.unit = Some(unit);
                self.sign_due = Some(sign_due);
                self.reply_due = Some(reply_due);
                self.pending_extension = None;
                self.clear_deadline_marks(true);
                self.last_event_at = Some(at);
            }
            ComplaintEvent::ComplaintSigned { at, .. } => {
                self.status = Status::InProgress;
                self.last_event_at = Some(at);
            }
            ComplaintEvent::ComplaintReturned { at, .. } => {
                self.status = Status::Returned;
                self.unit = None;
                self.sign_due = None;
                self.reply_due = None;
                self.sign_basis = None;
                self.reply_basis = None;
                self.pending_extension = None;
                self.clear_deadline_marks(true);
                self.last_event_at = Some(at);
            }
            ComplaintEvent::ExtensionRequested {
                working_days,
                reason,
                at,
                ..
            } => {
                self.pending_extension = Some(PendingExtension {
                    working_days,
                    reason,
                });
                self.last_event_at = Some(at);
            }
            ComplaintEvent::ExtensionApproved { reply_due, at, .. } => {
                // The extension was counted from the previous due day.
                match (self.reply_basis.as_mut(), self.pending_extension.as_ref()) {
                    (Some(basis), Some(pending)) => basis.extensions.push(pending.working_days),
                    _ => self.reply_basis = None,
                }
                self.reply_due = Some(reply_due);
                self.pending_extension = None;
                self.last_event_at = Some(at);
            }
            ComplaintEvent::ExtensionDenied { at, .. } => {
                self.pending_extension = None;
                self.last_event_at = Some(at);
            }
            ComplaintEvent::ComplaintReplied { at, .. } => {
                self.status = Status::Replied;
                // A request nobody decided is moot once the unit has replied.
                self.pending_extension = None;
                self.last_event_at = Some(at);
            }
            ComplaintEvent::FollowUpVisited { at, .. } => {
                self.last_event_at = Some(at);
            }
            ComplaintEvent::ComplaintReopened { reply_due, at } => {
                self.status = Status::InProgress;
                self.reply_due = Some(reply_due);
                self.reply_basis = Some(DeadlineBasis::first(
                    WorkingCalendar::local_date(at),
                    DeadlineLimit::Reopen,
                ));
                self.clear_deadline_marks(false);
                self.last_event_at = Some(at);
            }
            ComplaintEvent::ComplaintClosed { at, .. } => {
                self.status = Status::Closed;
                self.pending_extension = None;
                self.last_event_at = Some(at);
            }
            ComplaintEvent::ComplaintMerged { into, at } => {
                self.status = Status::Merged;
                self.merged_into = Some(into);
                self.pending_extension = None;
                self.last_event_at = Some(at);
            }
            ComplaintEvent::ComplaintMergedIn { from, at } => {
                self.merged_from.push(from);
                self.last_event_at = Some(at);
            }
            ComplaintEvent::ComplaintSupervised { at, .. } => {
                self.supervisions = self.supervisions.saturating_add(1);
                self.last_event_at = Some(at);
            }
            ComplaintEvent::ReporterErased { at, .. } => {
                self.reporter_erased = true;
                self.last_event_at = Some(at);
            }
            ComplaintEvent::SignOverdue { due, at, .. } => {
                self.sign_overdue_marked = Some(due);
                self.last_event_at = Some(at);
            }
            ComplaintEvent::ReplyOverdue { due, at, .. } => {
                self.reply_overdue_marked = Some(due);
                self.last_event_at = Some(at);
            }
            ComplaintEvent::DeadlineDueSoon { kind, due, at } => {
                match kind {
                    DeadlineKind::Sign => self.sign_reminded = Some(due),
                    DeadlineKind::Reply => self.reply_reminded = Some(due),
                }
                self.last_event_at = Some(at);
            }
            ComplaintEvent::DeadlinesRecomputed {
                sign_due,
                reply_due,
                at,
            } => {
                // Markings and reminders are keyed by due day: a moved day starts fresh.
                if sign_due.is_some() {
                    self.sign_due = sign_due;
                }
                if reply_due.is_some() {
                    self.reply_due = reply_due;
                }
                self.last_event_at = Some(at);
            }
        }
    }
}

/// Refuses the command unless the status is one of `allowed`.
fn require(status: Status, action: &'static str, allowed: &[Status]) -> Result<(), ComplaintError> {
    if allowed.contains(&status) {
        Ok(())
    } else {
        Err(ComplaintError::InvalidTransition { action, status })
    }
}

/// Refuses an empty or whitespace-only text.
fn non_empty(field: &'static str, value: &str) -> Result<(), ComplaintError> {
    if value.trim().is_empty() {
        Err(ComplaintError::Invalid {
            field,
            message: "must not be empty".into(),
        })
    } else {
        Ok(())
    }
}

/// Refuses a text longer than `max` characters (Unicode scalar values, not bytes).
fn at_most(field: &'static str, value: &str, max: usize) -> Result<(), ComplaintError> {
    let n = value.chars().count();
    if n > max {
        Err(ComplaintError::Invalid {
            field,
            message: format!("must be at most {max} characters, found {n}"),
        })
    } else {
        Ok(())
    }
}

impl DeadlineBasis {
    /// A basis without extensions.
    fn first(from: chrono::NaiveDate, limit: DeadlineLimit) -> Self {
        Self {
            from,
            limit,
            extensions: Vec::new(),
        }
    }
}

/// `first` working days after `basis.from`, then each extension after the previous due
/// day, exactly as dispatch / reopening and `ApproveExtension` count them.
fn count(
    calendar: &WorkingCalendar,
    basis: &DeadlineBasis,
    first: u32,
) -> Result<Deadline, crate::calendar::CalendarError> {
    let mut deadline = calendar.add_working_days(basis.from, first)?;
    for &n in &basis.extensions {
        let next = calendar.add_working_days(deadline.due, n)?;
        deadline = Deadline {
            due: next.due,
            provisional: next.provisional || deadline.provisional,
        };
    }
    Ok(deadline)
}

/// Whether counting `basis` on the calendar of the time reproduces the stored
/// (provisional) deadline. That calendar held the years of `calendar` up to some last
/// year (weekends alone after it) at least the year before the triggering day's and
/// before the due day's: each candidate is tried.
fn reproduces(
    calendar: &WorkingCalendar,
    basis: &DeadlineBasis,
    first: u32,
    stored: Deadline,
) -> bool {
    use chrono::Datelike;
    let lowest = basis.from.year().saturating_sub(1);
    let highest = stored.due.year().saturating_sub(1);
    (lowest..=highest).any(|last| {
        let years = calendar
            .years()
            .filter(|y| y.year <= last)
            .cloned()
            .collect();
        WorkingCalendar::from_years(years)
            .ok()
            .and_then(|then| count(&then, basis, first).ok())
            == Some(stored)
    })
}

impl Complaint {
    /// Whether the case is past a deadline on `today` (Asia/Shanghai): the reply deadline
    /// while dispatched or in progress, or the sign deadline while still dispatched.
    pub fn is_overdue(&self, today: chrono::NaiveDate) -> bool {
        super::is_overdue(
            self.status,
            self.sign_due.map(|d| d.due),
            self.reply_due.map(|d| d.due),
            today,
        )
    }

    /// Forgets the overdue markings and reminders of the reply deadline (a reopening), and
    /// of the sign deadline too (`sign`: a dispatch or a return).
    fn clear_deadline_marks(&mut self, sign: bool) {
        self.reply_overdue_marked = None;
        self.reply_reminded = None;
        if sign {
            self.sign_overdue_marked = None;
            self.sign_reminded = None;
        }
    }

    /// The unit owing the deadline `kind` and its current due day, if it is open: the
    /// sign deadline while dispatched, the reply deadline while dispatched or in progress.
    pub fn open_deadline(&self, kind: DeadlineKind) -> Option<(CreditCode, chrono::NaiveDate)> {
        let (open, due) = match kind {
            DeadlineKind::Sign => (self.status == Status::Dispatched, self.sign_due),
            DeadlineKind::Reply => (
                matches!(self.status, Status::Dispatched | Status::InProgress),
                self.reply_due,
            ),
        };
        match (open, self.unit.clone(), due) {
            (true, Some(unit), Some(due)) => Some((unit, due.due)),
            _ => None,
        }
    }

    /// The due day already marked overdue / already reminded for `kind`.
    fn deadline_marks(
        &self,
        kind: DeadlineKind,
    ) -> (Option<chrono::NaiveDate>, Option<chrono::NaiveDate>) {
        match kind {
            DeadlineKind::Sign => (self.sign_overdue_marked, self.sign_reminded),
            DeadlineKind::Reply => (self.reply_overdue_marked, self.reply_reminded),
        }
    }

    /// The overdue marking of `kind` at `at`, or why not.
    fn mark_overdue(
        &self,
        kind: DeadlineKind,
        at: DateTime<Utc>,
    ) -> Result<ComplaintEvent, ComplaintError> {
        let (unit, due) = self
            .open_deadline(kind)
            .ok_or(DeadlineRefusal::NotOpen { kind })?;
        if self.deadline_marks(kind).0 == Some(due) {
            return Err(DeadlineRefusal::AlreadyMarked { kind, due }.into());
        }
        if WorkingCalendar::local_date(at) <= due {
            return Err(DeadlineRefusal::NotYetDue { kind, due }.into());
        }
        Ok(match kind {
            DeadlineKind::Sign => ComplaintEvent::SignOverdue { unit, due, at },
            DeadlineKind::Reply => ComplaintEvent::ReplyOverdue { unit, due, at },
        })
    }

    /// The reminder of `kind` at `at`, or why not.
    fn remind(
        &self,
        kind: DeadlineKind,
        at: DateTime<Utc>,
    ) -> Result<ComplaintEvent, ComplaintError> {
        let (_, due) = self
            .open_deadline(kind)
            .ok_or(DeadlineRefusal::NotOpen { kind })?;
        if self.deadline_marks(kind).1 == Some(due) {
            return Err(DeadlineRefusal::AlreadyReminded { kind, due }.into());
        }
        if crate::is_overdue(due, WorkingCalendar::local_date(at)) {
            return Err(DeadlineRefusal::Passed { kind, due }.into());
        }
        Ok(ComplaintEvent::DeadlineDueSoon { kind, due, at })
    }

    /// `RecomputeProvisionalDeadlines`: each open provisional deadline counted again on
    /// the services' calendar, from its [`DeadlineBasis`], or why none can be.
    ///
    /// A deadline is recomputed only when (in this order) it is open and provisional,
    /// its due day has not passed on `at` (a passed one has already fired: `Passed`),
    /// the limits in force reproduce the stored deadline on the calendar as it was when
    /// it was computed (the loaded years up to some year, weekends after it:
    /// `NotReproducible` otherwise), and the new count is final (`StillProvisional`
    /// otherwise). The event carries the deadlines that pass; if none does, the first
    /// refusal met (sign before reply) is returned, `NothingProvisional` when there was
    /// no open provisional deadline at all.
    fn recompute_provisional(
        &self,
        services: &ComplaintServices,
        at: DateTime<Utc>,
    ) -> Result<ComplaintEvent, ComplaintError> {
        let calendar: &WorkingCalendar = &services.calendar;
        let today = WorkingCalendar::local_date(at);
        let mut refusal: Option<DeadlineRefusal> = None;
        let mut recomputed = [None, None];
        for (slot, kind) in [DeadlineKind::Sign, DeadlineKind::Reply]
            .into_iter()
            .enumerate()
        {
            let (stored, basis) = match kind {
                DeadlineKind::Sign => (self.sign_due, self.sign_basis.as_ref()),
                DeadlineKind::Reply => (self.reply_due, self.reply_basis.as_ref()),
            };
            let Some(stored) = stored.filter(|d| d.provisional) else {
                continue;
            };
            if self.open_deadline(kind).is_none() {
                continue;
            }
            let mut refuse = |r: DeadlineRefusal| {
                refusal.get_or_insert(r);
            };
            if crate::is_overdue(stored.due, today) {
                refuse(DeadlineRefusal::Passed {
                    kind,
                    due: stored.due,
                });
                continue;
            }
            let first = basis.and_then(|b| self.first_count(b, &services.limits));
            let (Some(basis), Some(first)) = (basis, first) else {
                refuse(DeadlineRefusal::NotReproducible {
                    kind,
                    due: stored.due,
                });
                continue;
            };
            if !reproduces(calendar, basis, first, stored) {
                refuse(DeadlineRefusal::NotReproducible {
                    kind,
                    due: stored.due,
                });
                continue;
            }
            let again = count(calendar, basis, first)?;
            if again.provisional {
                refuse(DeadlineRefusal::StillProvisional {
                    kind,
                    due: again.due,
                });
                continue;
            }
            recomputed[slot] = Some(again);
        }
        let [sign_due, reply_due] = recomputed;
        if sign_due.is_none() && reply_due.is_none() {
            return Err(refusal
                .unwrap_or(DeadlineRefusal::NothingProvisional)
                .into());
        }
        Ok(ComplaintEvent::DeadlinesRecomputed {
            sign_due,
            reply_due,
            at,
        })
    }

    /// The working days of a basis's first count under `limits`.
    fn first_count(&self, basis: &DeadlineBasis, limits: &TimeLimits) -> Option<u32> {
        match basis.limit {
            DeadlineLimit::Sign => Some(limits.sign_working_days),
            DeadlineLimit::Reply => self.category.map(|c| limits.reply_working_days(c)),
            DeadlineLimit::Reopen => Some(limits.reopen_working_days),
        }
    }

    /// Refuses a unit other than the assigned one.
    fn require_assigned(&self, unit: &CreditCode) -> Result<(), ComplaintError> {
        if self.unit.as_ref() == Some(unit) {
            Ok(())
        } else {
            Err(ComplaintError::NotAssignedUnit)
        }
    }

    /// The decision: the events a command produces in the current state, or why not.
    /// Pure and synchronous; `handle` writes the events.
    pub fn decide(
        &self,
        command: ComplaintCommand,
        services: &ComplaintServices,
    ) -> Result<Vec<ComplaintEvent>, ComplaintError> {
        use ComplaintCommand as C;
        use ComplaintEvent as E;
        use Status as S;

        if let C::FileComplaint {
            category,
            channel,
            subject_code,
            title,
            description,
            anonymous,
            reporter,
            at,
        } = command
        {
            if self.status != S::New {
                return Err(ComplaintError::AlreadyFiled);
            }
            non_empty("title", &title)?;
            at_most("title", &title, TITLE_MAX_CHARS)?;
            non_empty("description", &description)?;
            at_most("description", &description, DESCRIPTION_MAX_CHARS)?;
            match (anonymous, reporter.is_some()) {
                (false, false) => {
                    return Err(ComplaintError::Invalid {
                        field: "reporter",
                        message: "a complaint that is not anonymous needs the reporter".into(),
                    })
                }
                (true, true) => {
                    return Err(ComplaintError::Invalid {
                        field: "reporter",
                        message: "an anonymous complaint carries no reporter".into(),
                    })
                }
                _ => {}
            }
            return Ok(vec![E::ComplaintFiled {
                category,
                channel,
                subject_code,
                title,
                description,
                anonymous,
                reporter,
                received_at: at,
            }]);
        }

        if self.status == S::New {
            return Err(ComplaintError::NotFound);
        }
        let calendar: &WorkingCalendar = &services.calendar;
        let limits = &services.limits;
        let today = |at: DateTime<Utc>| WorkingCalendar::local_date(at);

        match command {
            C::FileComplaint { .. } => Err(ComplaintError::AlreadyFiled),
            C::AcceptComplaint { at } => {
                require(self.status, "accept", &[S::Received])?;
                Ok(vec![E::ComplaintAccepted { at }])
            }
            C::DeclineComplaint { reason, at } => {
                require(self.status, "decline", &[S::Received])?;
                non_empty("reason", &reason)?;
                Ok(vec![E::ComplaintDeclined { reason, at }])
            }
            C::DispatchComplaint { unit, above, at } => {
                require(self.status, "dispatch", &[S::Accepted, S::Returned])?;
                let category = self.category.ok_or(ComplaintError::NotFound)?;
                if let (super::Category::Report, Some(reported)) =
                    (category, self.subject_code.as_ref())
                {
                    if &unit == reported || above.contains(reported) {
                        return Err(ComplaintError::ReportedUnit {
                            reported: reported.clone(),
                        });
                    }
                }
                let from = today(at);
                let sign_due = calendar.add_working_days(from, limits.sign_working_days)?;
                let reply_due =
                    calendar.add_working_days(from, limits.reply_working_days(category))?;
                Ok(vec![E::ComplaintDispatched {
                    unit,
                    sign_due,
                    reply_due,
                    at,
                }])
            }
            C::SignComplaint { unit, at } => {
                require(self.status, "sign", &[S::Dispatched])?;
                self.require_assigned(&unit)?;
                Ok(vec![E::ComplaintSigned { unit, at }])
            }
            C::ReturnComplaint { unit, reason, at } => {
                require(self.status, "return", &[S::Dispatched, S::InProgress])?;
                self.require_assigned(&unit)?;
                non_empty("reason", &reason)?;
                Ok(vec![E::ComplaintReturned { unit, reason, at }])
            }
            C::RequestExtension {
                unit,
                working_days,
                reason,
                at,
            } => {
                require(
                    self.status,
                    "request an extension for",
                    &[S::Dispatched, S::InProgress],
                )?;
                self.require_assigned(&unit)?;
                if !EXTENSION_WORKING_DAYS.contains(&working_days) {
                    return Err(ComplaintError::Invalid {
                        field: "working_days",
                        message: format!(
                            "must be between {} and {}",
                            EXTENSION_WORKING_DAYS.start(),
                            EXTENSION_WORKING_DAYS.end()
                        ),
                    });
                }
                non_empty("reason", &reason)?;
                if self.reply_due.is_some_and(|d| today(at) > d.due) {
                    return Err(ComplaintError::ExtensionTooLate);
                }
                if self.pending_extension.is_some() {
                    return Err(ComplaintError::ExtensionPending);
                }
                Ok(vec![E::ExtensionRequested {
                    unit,
                    working_days,
                    reason,
                    at,
                }])
            }
            C::ApproveExtension { note, at } => {
                require(
                    self.status,
                    "approve an extension for",
                    &[S::Dispatched, S::InProgress],
                )?;
                let pending = self
                    .pending_extension
                    .as_ref()
                    .ok_or(ComplaintError::NoExtensionPending)?;
                // Dispatched and in-progress cases always have a reply deadline; the
                // fallback keeps this total for a malformed history.
                let base = self.reply_due.unwrap_or(Deadline {
                    due: today(at),
                    provisional: false,
                });
                let extended = calendar.add_working_days(base.due, pending.working_days)?;
                let reply_due = Deadline {
                    due: extended.due,
                    // Counted from a provisional date, the result is provisional too.
                    provisional: extended.provisional || base.provisional,
                };
                Ok(vec![E::ExtensionApproved {
                    note,
                    reply_due,
                    at,
                }])
            }
            C::DenyExtension { note, at } => {
                require(
                    self.status,
                    "deny an extension for",
                    &[S::Dispatched, S::InProgress],
                )?;
                if self.pending_extension.is_none() {
                    return Err(ComplaintError::NoExtensionPending);
                }
                Ok(vec![E::ExtensionDenied { note, at }])
            }
            C::ReplyToComplaint { unit, content, at } => {
                require(self.status, "reply to", &[S::InProgress])?;
                self.require_assigned(&unit)?;
                non_empty("content", &content)?;
                let mut events = vec![E::ComplaintReplied { unit, content, at }];
                if self.anonymous {
                    events.push(E::ComplaintClosed {
                        because: ClosedBecause::AnonymousReplied,
                        at,
                    });
                }
                Ok(events)
            }
            C::RecordVisit {
                satisfied,
                comment,
                at,
            } => {
                require(self.status, "visit", &[S::Replied])?;
                let second = if satisfied {
                    E::ComplaintClosed {
                        because: ClosedBecause::Satisfied,
                        at,
                    }
                } else {
                    let reply_due =
                        calendar.add_working_days(today(at), limits.reopen_working_days)?;
                    E::ComplaintReopened { reply_due, at }
                };
                Ok(vec![
                    E::FollowUpVisited {
                        satisfied,
                        comment,
                        at,
                    },
                    second,
                ])
            }
            C::MergeComplaint {
                into,
                into_status,
                at,
            } => {
                require(
                    self.status,
                    "merge",
                    &[
                        S::Received,
                        S::Accepted,
                        S::Dispatched,
                        S::InProgress,
                        S::Returned,
                    ],
                )?;
                non_empty("into", &into)?;
                if !into_status.takes_merges() {
                    return Err(ComplaintError::MergeTargetNotOpen {
                        status: into_status,
                    });
                }
                Ok(vec![E::ComplaintMerged { into, at }])
            }
            C::RecordMergedIn { from, at } => {
                non_empty("from", &from)?;
                if self.merged_from.contains(&from) {
                    return Err(ComplaintError::AlreadyMergedIn { from });
                }
                Ok(vec![E::ComplaintMergedIn { from, at }])
            }
            C::SuperviseComplaint { note, at } => {
                require(self.status, "supervise", &[S::Dispatched, S::InProgress])?;
                non_empty("note", &note)?;
                if !self.is_overdue(today(at)) {
                    return Err(ComplaintError::NotOverdue);
                }
                Ok(vec![E::ComplaintSupervised { note, at }])
            }
            C::EraseReporter { reason, at } => {
                // Allowed in every filed status: erasure is a right of the reporter, not
                // a step of the handling.
                if self.anonymous {
                    return Err(ComplaintError::AnonymousReporter);
                }
                if self.reporter_erased {
                    return Err(ComplaintError::ReporterAlreadyErased);
                }
                non_empty("reason", &reason)?;
                let key_id = self
                    .reporter_key
                    .clone()
                    .ok_or(ComplaintError::AnonymousReporter)?;
                Ok(vec![E::ReporterErased { key_id, reason, at }])
            }
            C::MarkSignOverdue { at } => Ok(vec![self.mark_overdue(DeadlineKind::Sign, at)?]),
            C::MarkReplyOverdue { at } => Ok(vec![self.mark_overdue(DeadlineKind::Reply, at)?]),
            C::RemindDeadline { kind, at } => Ok(vec![self.remind(kind, at)?]),
            C::RecomputeProvisionalDeadlines { at } => {
                Ok(vec![self.recompute_provisional(services, at)?])
            }
        }
    }
}
