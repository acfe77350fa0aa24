//! The working-day calendar in force and loading a new year's official holiday schedule
//! (`probity calendar load`, issue 4, item 6).
//!
//! Loading records `YearScheduleLoaded` on the `calendar` aggregate (`china`), then
//! recomputes, once, every open provisional deadline: the candidates are the cases whose
//! log holds a provisional deadline (read from the log, not from the deadline board,
//! which may lag), and each case's aggregate decides (`RecomputeProvisionalDeadlines`,
//! `RecomputeProvisionalDue` of rectifications, repairs, objections (check and decision)
//! records (the withdrawal owed after a source decision changed) and supervision items (the
//! reply due day)): final deadlines,
//! closed deadlines and cases already recomputed are refused and counted, never changed. Loading the same schedule again
//! records nothing new (`AlreadyLoaded`) but still recomputes what is left.
//!
//! Servers fold the calendar at startup ([`calendar_in_force`]): they count on a newly
//! loaded year after a restart.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use probity_domain::aggregate_type::{
    COMPLAINT, OBJECTION, RECORD, RECTIFICATION, REPAIR, SUPERVISION_ITEM,
};
use probity_domain::calendar_admin::{
    CalendarAdmin, CalendarAdminError, CalendarCommand, CalendarEvent, CalendarServices,
    CALENDAR_ID, CALENDAR_TYPE,
};
use probity_domain::complaint::{
    Complaint, ComplaintCommand, ComplaintError, ComplaintServices, DeadlineRefusal,
};
use probity_domain::integrity::{IntegrityPolicy, IntegrityServices, RecountRefusal};
use probity_domain::objection::{Objection, ObjectionCommand, ObjectionError};
use probity_domain::record::{DishonestyRecord, RecordCommand, RecordError};
use probity_domain::rectification::{Rectification, RectificationCommand, RectificationError};
use probity_domain::repair::{Repair, RepairCommand, RepairError};
use probity_domain::supervision_item::{
    SupervisionItem, SupervisionItemCommand, SupervisionItemError,
};
use probity_domain::{TimeLimits, WorkingCalendar, YearSchedule};
use probity_store::{Db, EventLog, ExecuteError, Executor, Metadata};
use serde::Deserialize;
use sqlx::Row;

use crate::error::{AppError, AppResult};

/// Who the events of a load are attributed to.
const ACTOR: &str = "probity calendar load";

/// What one load did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadSummary {
    /// The year of the schedule.
    pub year: i32,
    /// `YearScheduleLoaded` was recorded now (false: the identical schedule was already
    /// in force).
    pub loaded: bool,
    /// Cases that got a `DeadlinesRecomputed` event.
    pub recomputed: usize,
    /// Cases with nothing provisional left open (final, closed, or already recomputed).
    pub already_final: usize,
    /// Cases whose deadlines are still provisional (they reach a later year without data).
    pub still_provisional: usize,
    /// Cases the aggregate refused to recompute (due day passed, or the limits in force
    /// do not reproduce the stored deadline) and store failures, with the reason.
    pub failed: Vec<(String, String)>,
}

/// The calendar in force: the shipped years ([`WorkingCalendar::china`]) plus every
/// `YearScheduleLoaded` in the log.
pub async fn calendar_in_force(db: &Db) -> AppResult<WorkingCalendar> {
    let stored = EventLog::new(db.clone())
        .read_aggregate(CALENDAR_TYPE, CALENDAR_ID, None)
        .await?;
    let events = stored
        .iter()
        .map(|stored| {
            CalendarEvent::deserialize(&stored.payload).map_err(|e| {
                AppError::internal(format!(
                    "decoding calendar event {} ({}): {e}",
                    stored.sequence, stored.event_type
                ))
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    CalendarAdmin::from_events(events)
        .calendar(&WorkingCalendar::china())
        .map_err(|e| AppError::internal(format!("folding the loaded holiday schedules: {e}")))
}

/// Records `schedule` (unless the identical one is already in force) and recomputes the
/// open provisional complaint deadlines at `now` with `limits`. Errors when the
/// schedule is refused (inconsistent, conflicting with a year in force, leaving a gap)
/// or the store fails before the recomputation starts.
pub async fn load_schedule(
    db: &Db,
    schedule: YearSchedule,
    source: &str,
    limits: TimeLimits,
    now: DateTime<Utc>,
) -> AppResult<LoadSummary> {
    load_schedule_under(
        db,
        schedule,
        source,
        limits,
        IntegrityPolicy::default(),
        now,
    )
    .await
}

/// [`load_schedule`] with the integrity `policy` in force (the repair and objection
/// periods recounted are its own; a policy that does not reproduce a stored due day
/// leaves it as it is).
#[tracing::instrument(name = "calendar_load", skip(db, schedule, limits, policy, now), fields(year = schedule.year))]
pub async fn load_schedule_under(
    db: &Db,
    schedule: YearSchedule,
    source: &str,
    limits: TimeLimits,
    policy: IntegrityPolicy,
    now: DateTime<Utc>,
) -> AppResult<LoadSummary> {
    let year = schedule.year;
    let admin = Executor::<CalendarAdmin>::new(db.clone(), CalendarServices::default());
    let loaded = match admin
        .execute(
            CALENDAR_ID,
            CalendarCommand::LoadYearSchedule {
                schedule,
                source: source.to_string(),
                at: now,
            },
            None,
            metadata(),
        )
        .await
    {
        Ok(_) => true,
        Err(ExecuteError::Domain(CalendarAdminError::AlreadyLoaded { .. })) => false,
        Err(e) => return Err(e.into()),
    };
    let calendar = calendar_in_force(db).await?;
    let complaints = Executor::<Complaint>::new(
        db.clone(),
        ComplaintServices {
            calendar: Arc::new(calendar),
            limits,
        },
    );
    let mut summary = LoadSummary {
        year,
        loaded,
        ..LoadSummary::default()
    };
    for case in provisional_candidates(db).await? {
        match complaints
            .execute(
                &case,
                ComplaintCommand::RecomputeProvisionalDeadlines { at: now },
                None,
                metadata(),
            )
            .await
        {
            Ok(_) => summary.recomputed += 1,
            Err(ExecuteError::Domain(ComplaintError::Deadline(
                DeadlineRefusal::NothingProvisional,
            ))) => summary.already_final += 1,
            Err(ExecuteError::Domain(ComplaintError::Deadline(
                DeadlineRefusal::StillProvisional { .. },
            ))) => summary.still_provisional += 1,
            Err(e) => {
                tracing::warn!(case = %case, error = %e, "provisional deadline not recomputed");
                summary.failed.push((case, e.to_string()));
            }
        }
    }
    let integrity = IntegrityServices {
        calendar: complaints.services.calendar.clone(),
        policy,
    };
    let rectifications = Executor::<Rectification>::new(db.clone(), integrity.clone());
    for case in provisional_rectifications(db).await? {
        match rectifications
            .execute(
                &case,
                RectificationCommand::RecomputeProvisionalDue { at: now },
                None,
                metadata(),
            )
            .await
        {
            Ok(_) => summary.recomputed += 1,
            Err(ExecuteError::Domain(RectificationError::NotRecomputable(why))) => {
                count_refusal(&mut summary, case, why)
            }
            Err(e) => {
                tracing::warn!(case = %case, error = %e, "provisional rectification due not recomputed");
                summary.failed.push((case, e.to_string()));
            }
        }
    }
    // Provisional acceptance and decision days of repairs and objections (issue 10).
    let repairs = Executor::<Repair>::new(db.clone(), integrity.clone());
    for case in provisional_of(
        db,
        REPAIR,
        &["RepairApplied", "RepairAccepted", "RepairSupplemented"],
    )
    .await?
    {
        let command = RepairCommand::RecomputeProvisionalDue { at: now };
        match repairs.execute(&case, command, None, metadata()).await {
            Ok(_) => summary.recomputed += 1,
            Err(ExecuteError::Domain(RepairError::NotRecomputable(why))) => {
                count_refusal(&mut summary, case, why)
            }
            Err(e) => {
                tracing::warn!(case = %case, error = %e, "provisional repair due not recomputed");
                summary.failed.push((case, e.to_string()));
            }
        }
    }
    // The check (核查) and decision days of objections, recounted by one command.
    let objections = Executor::<Objection>::new(db.clone(), integrity.clone());
    for case in provisional_of(db, OBJECTION, &["ObjectionFiled"]).await? {
        let command = ObjectionCommand::RecomputeProvisionalDue { at: now };
        match objections.execute(&case, command, None, metadata()).await {
            Ok(_) => summary.recomputed += 1,
            Err(ExecuteError::Domain(ObjectionError::NotRecomputable(why))) => {
                count_refusal(&mut summary, case, why)
            }
            Err(e) => {
                tracing::warn!(case = %case, error = %e, "provisional objection due not recomputed");
                summary.failed.push((case, e.to_string()));
            }
        }
    }
    // The withdrawal owed after a record's source decision changed.
    let records = Executor::<DishonestyRecord>::new(db.clone(), integrity.clone());
    for case in provisional_of(db, RECORD, &["SourceDecisionChanged"]).await? {
        let command = RecordCommand::RecomputeProvisionalDue { at: now };
        match records.execute(&case, command, None, metadata()).await {
            Ok(_) => summary.recomputed += 1,
            Err(ExecuteError::Domain(RecordError::NotRecomputable(why))) => {
                count_refusal(&mut summary, case, why)
            }
            Err(e) => {
                tracing::warn!(case = %case, error = %e, "provisional withdrawal due not recomputed");
                summary.failed.push((case, e.to_string()));
            }
        }
    }
    // The reply due day of supervision items (calendar months rolled to a working day).
    let items = Executor::<SupervisionItem>::new(db.clone(), integrity);
    for case in provisional_of(
        db,
        SUPERVISION_ITEM,
        &[
            "SupervisionItemAssigned",
            "SupervisionItemReassigned",
            "SupervisionExtensionApproved",
            "SupervisionItemReturnedForRehandling",
        ],
    )
    .await?
    {
        let command = SupervisionItemCommand::RecomputeProvisionalDue { at: now };
        match items.execute(&case, command, None, metadata()).await {
            Ok(_) => summary.recomputed += 1,
            Err(ExecuteError::Domain(SupervisionItemError::NotRecomputable(why))) => {
                count_refusal(&mut summary, case, why)
            }
            Err(e) => {
                tracing::warn!(case = %case, error = %e, "provisional supervision reply due not recomputed");
                summary.failed.push((case, e.to_string()));
            }
        }
    }
    Ok(summary)
}

/// Counts a refused recount of `case`: still provisional; settled (final, nothing owed,
/// decided); or failed, with why (the day passed before its year was loaded, or the
/// limits or calendar in force do not give it back), as a complaint's are.
fn count_refusal(summary: &mut LoadSummary, case: String, why: &str) {
    match RecountRefusal::of(why) {
        RecountRefusal::StillProvisional => summary.still_provisional += 1,
        RecountRefusal::Settled => summary.already_final += 1,
        RecountRefusal::Failed => {
            tracing::warn!(case = %case, why, "provisional due day not recomputed");
            summary.failed.push((case, why.to_string()));
        }
    }
}

/// The aggregates of `aggregate_type` whose log holds one of `event_types` with a
/// provisional deadline (a superset: each aggregate decides).
async fn provisional_of(
    db: &Db,
    aggregate_type: &str,
    event_types: &[&str],
) -> AppResult<Vec<String>> {
    let types = event_types
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = sqlx::query(&format!(
        "SELECT DISTINCT aggregate_id FROM events \
         WHERE aggregate_type = $1 AND event_type IN ({types}) \
           AND (CAST(payload AS TEXT) LIKE '%\"provisional\":true%' \
             OR CAST(payload AS TEXT) LIKE '%\"provisional\": true%') \
         ORDER BY aggregate_id"
    ))
    .bind(aggregate_type)
    .fetch_all(&db.any)
    .await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).map_err(AppError::from))
        .collect()
}

/// The rectifications whose log holds a provisional due date (order or rejection).
pub async fn provisional_rectifications(db: &Db) -> AppResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT DISTINCT aggregate_id FROM events \
         WHERE aggregate_type = $1 \
           AND event_type IN ('RectificationOrdered', 'RectificationRejected') \
           AND (CAST(payload AS TEXT) LIKE '%\"provisional\":true%' \
             OR CAST(payload AS TEXT) LIKE '%\"provisional\": true%') \
         ORDER BY aggregate_id",
    )
    .bind(RECTIFICATION)
    .fetch_all(&db.any)
    .await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).map_err(AppError::from))
        .collect()
}

fn metadata() -> Metadata {
    let mut metadata = Metadata::new();
    metadata.insert("actor".into(), ACTOR.into());
    metadata.insert("role".into(), "admin".into());
    metadata
}

/// The complaints whose log holds a deadline computed as provisional (dispatch,
/// approved extension or reopening). A superset: the aggregate decides whether one is
/// still open and provisional.
pub async fn provisional_candidates(db: &Db) -> AppResult<Vec<String>> {
    // Postgres prints JSONB as `"provisional": true`, SQLite stores compact JSON text.
    let rows = sqlx::query(
        "SELECT DISTINCT aggregate_id FROM events \
         WHERE aggregate_type = $1 \
           AND event_type IN ('ComplaintDispatched', 'ExtensionApproved', 'ComplaintReopened') \
           AND (CAST(payload AS TEXT) LIKE '%\"provisional\":true%' \
             OR CAST(payload AS TEXT) LIKE '%\"provisional\": true%') \
         ORDER BY aggregate_id",
    )
    .bind(COMPLAINT)
    .fetch_all(&db.any)
    .await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).map_err(AppError::from))
        .collect()
}
