//! The engine task: read due rows, act, remember what was settled.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use futures::StreamExt;
use probity_domain::WorkingCalendar;
use probity_store::{Backend, Db};
use sqlx::Row;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::metrics::DeadlineMetrics;
use crate::registry::{DueDeadline, Outcome, Registry, Trigger};

/// Where the engine's "now" comes from: the app's clock (offset applied), or a test's.
pub type Now = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// How the engine runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Time between two ticks (`PROBITY_DEADLINE_TICK`, default 1 s).
    pub tick: Duration,
    /// Reminder window in working days (`PROBITY_REMINDER_WORKING_DAYS`, default 1): a
    /// deadline with at most this many working days left, and not passed, gets one
    /// `DueSoon` action. 0 turns reminders off.
    pub reminder_working_days: u32,
    /// Most rows read per `(case_type, kind, trigger)` per tick; the rest wait a tick.
    pub batch: i64,
    /// Every this many ticks, forget what was settled for deadlines no longer open.
    pub prune_every: u64,
}

/// Reads of one deadline key within one tick at most (a burst beyond
/// `batch * MAX_ROUNDS_PER_TICK` continues at the next tick).
const MAX_ROUNDS_PER_TICK: usize = 20;

/// Commands a tick runs at once (on different cases): a window, not chunks, so one slow
/// command does not hold up the others, and the group committer (ADR 0010) writes what
/// is in flight together.
const CONCURRENT_ACTIONS: usize = 16;

/// A tick that settled this many deadlines refreshes the planner's statistics of
/// `deadline_firings` (Postgres).
const ANALYZE_AFTER: usize = 500;

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(1),
            reminder_working_days: 1,
            batch: 500,
            prune_every: 300,
        }
    }
}

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Commands accepted (events recorded).
    pub fired: usize,
    /// Deadlines the aggregate refused as already done, no longer open or moved.
    pub settled: usize,
    /// Failures, retried at the next tick.
    pub errors: usize,
}

type Key = (String, String, String, NaiveDate, Trigger);

/// Settled keys kept in memory at most (cleared, then rebuilt from the table's filter).
const MEMORY_CAP: usize = 100_000;

/// Marks passed deadlines overdue and reminds near ones; see the crate docs.
pub struct DeadlineEngine {
    db: Db,
    registry: Registry,
    calendar: Arc<WorkingCalendar>,
    now: Now,
    config: EngineConfig,
    metrics: Arc<DeadlineMetrics>,
    settled: Mutex<HashSet<Key>>,
    /// Ticks since the last prune.
    since_prune: AtomicU64,
    /// The calendar could not count the reminder window at the last tick.
    calendar_failing: AtomicBool,
}

const OVERDUE_SQL: &str = "SELECT e.case_id, e.due FROM deadline_entries e \
     WHERE e.case_type = $1 AND e.kind = $2 AND e.due < $3 \
     AND NOT EXISTS (SELECT 1 FROM deadline_firings f WHERE f.case_type = e.case_type \
       AND f.case_id = e.case_id AND f.kind = e.kind AND f.due = e.due AND f.action = $4) \
     ORDER BY e.due, e.case_id LIMIT $5";

const DUE_SOON_SQL: &str = "SELECT e.case_id, e.due FROM deadline_entries e \
     WHERE e.case_type = $1 AND e.kind = $2 AND e.due >= $3 AND e.due < $6 \
     AND NOT EXISTS (SELECT 1 FROM deadline_firings f WHERE f.case_type = e.case_type \
       AND f.case_id = e.case_id AND f.kind = e.kind AND f.due = e.due AND f.action = $4) \
     ORDER BY e.due, e.case_id LIMIT $5";

const RECORD_SQL: &str = "INSERT INTO deadline_firings \
     (case_type, case_id, kind, due, action, outcome, fired_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (case_type, case_id, kind, due, action) DO NOTHING";

const PRUNE_SQL: &str = "DELETE FROM deadline_firings WHERE NOT EXISTS \
     (SELECT 1 FROM deadline_entries e WHERE e.case_type = deadline_firings.case_type \
       AND e.case_id = deadline_firings.case_id AND e.kind = deadline_firings.kind \
       AND e.due = deadline_firings.due)";

fn date_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

impl DeadlineEngine {
    /// An engine over `db`'s deadline board acting through `registry`, counting working
    /// days on `calendar`, with "now" from `now`.
    pub fn new(
        db: Db,
        registry: Registry,
        calendar: Arc<WorkingCalendar>,
        now: Now,
        config: EngineConfig,
    ) -> Self {
        Self {
            db,
            registry,
            calendar,
            now,
            config,
            metrics: Arc::new(DeadlineMetrics::default()),
            settled: Mutex::new(HashSet::new()),
            since_prune: AtomicU64::new(0),
            calendar_failing: AtomicBool::new(false),
        }
    }

    /// Shared counters of this engine.
    pub fn metrics(&self) -> Arc<DeadlineMetrics> {
        Arc::clone(&self.metrics)
    }

    /// Ticks every `config.tick` until `shutdown` is cancelled (a tick under way
    /// finishes first). Failures are logged and retried, never returned.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut interval = tokio::time::interval(self.config.tick);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tracing::info!(
            tick_ms = self.config.tick.as_millis() as u64,
            reminder_working_days = self.config.reminder_working_days,
            "deadline engine started"
        );
        loop {
            let scheduled = tokio::select! {
                _ = shutdown.cancelled() => break,
                at = interval.tick() => at,
            };
            let lag = scheduled.elapsed();
            self.metrics
                .last_tick_lag_ms
                .store(lag.as_millis() as i64, Ordering::Relaxed);
            self.tick().await;
        }
        tracing::info!("deadline engine stopped");
    }

    /// One pass: every registered `(case_type, kind, trigger)`'s due rows are acted on.
    pub async fn tick(&self) -> TickReport {
        let started = Instant::now();
        let now = (self.now)();
        let today = WorkingCalendar::local_date(now);
        let span = tracing::debug_span!("deadline.tick", %today);
        let report = self.tick_at(now, today).instrument(span).await;
        let m = &self.metrics;
        m.ticks.fetch_add(1, Ordering::Relaxed);
        m.last_tick_duration_ms
            .store(started.elapsed().as_millis() as i64, Ordering::Relaxed);
        m.last_tick_unix
            .store(Utc::now().timestamp(), Ordering::Relaxed);
        let since_prune = self.since_prune.fetch_add(1, Ordering::Relaxed) + 1;
        if self.config.prune_every > 0 && since_prune >= self.config.prune_every {
            self.since_prune.store(0, Ordering::Relaxed);
            self.prune().await;
        }
        report
    }

    async fn tick_at(&self, now: DateTime<Utc>, today: NaiveDate) -> TickReport {
        let mut report = TickReport::default();
        // Due soon: `today <= due < end`, where `end` is the (window + 1)-th working day
        // after today, i.e. at most `window` working days left.
        let window = self.config.reminder_working_days;
        let soon_end = if window == 0 {
            None
        } else {
            match self.calendar.add_working_days(today, window + 1) {
                Ok(end) => {
                    if self.calendar_failing.swap(false, Ordering::Relaxed) {
                        tracing::info!("reminders resumed: the calendar counts again");
                    }
                    Some(end.due)
                }
                Err(error) => {
                    // Said once, not every tick; counted every tick.
                    if !self.calendar_failing.swap(true, Ordering::Relaxed) {
                        tracing::warn!(%error, "no reminders: the calendar cannot count");
                    }
                    report.errors += 1;
                    None
                }
            }
        };
        let keys: Vec<(String, String, Trigger)> = self
            .registry
            .keys()
            .map(|(t, k, trigger)| (t.to_string(), k.to_string(), trigger))
            .collect();
        for (case_type, kind, trigger) in keys {
            let end = match trigger {
                Trigger::Overdue => None,
                Trigger::DueSoon => match soon_end {
                    Some(end) => Some(end),
                    None => continue,
                },
            };
            // A burst (thousands of deadlines passing at the same midnight) is worked off
            // in this tick: read again while a read comes back full and made progress.
            for _ in 0..MAX_ROUNDS_PER_TICK {
                let rows = match self.due_rows(&case_type, &kind, trigger, today, end).await {
                    Ok(rows) => rows,
                    Err(error) => {
                        tracing::error!(%error, case_type, kind, action = trigger.as_str(), "reading due deadlines failed");
                        report.errors += 1;
                        break;
                    }
                };
                let full = rows.len() as i64 >= self.config.batch;
                // Different cases are different aggregates: act on several at once.
                let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(rows.len());
                let mut in_flight = futures::stream::FuturesUnordered::new();
                let mut next = rows.iter();
                loop {
                    while in_flight.len() < CONCURRENT_ACTIONS {
                        match next.next() {
                            Some(deadline) => in_flight.push(self.act(deadline, now)),
                            None => break,
                        }
                    }
                    match in_flight.next().await {
                        Some(outcome) => outcomes.push(outcome),
                        None => break,
                    }
                }
                let mut progress = false;
                for outcome in outcomes {
                    match outcome {
                        Some(Outcome::Fired) => {
                            report.fired += 1;
                            progress = true;
                        }
                        Some(Outcome::Settled) => {
                            report.settled += 1;
                            progress = true;
                        }
                        None => report.errors += 1,
                    }
                }
                if !full || !progress {
                    break;
                }
            }
        }
        if report.fired + report.settled >= ANALYZE_AFTER && self.db.backend == Backend::Postgres {
            // A burst grew `deadline_firings` faster than autovacuum notices; with an empty
            // table's statistics the planner turns the due-rows query into a nested loop
            // over every firing (seconds per read at 10,000 firings; docs/performance.md).
            if let Err(error) = sqlx::query("ANALYZE deadline_firings")
                .execute(&self.db.any)
                .await
            {
                tracing::warn!(%error, "analyzing deadline_firings failed");
            }
        }
        self.metrics
            .errors
            .fetch_add(report.errors as u64, Ordering::Relaxed);
        if report.fired + report.settled + report.errors > 0 {
            tracing::debug!(
                fired = report.fired,
                settled = report.settled,
                errors = report.errors,
                "deadline tick"
            );
        }
        report
    }

    /// The due rows of one key not settled yet: overdue `due < today`, due soon
    /// `today <= due < end`.
    async fn due_rows(
        &self,
        case_type: &str,
        kind: &str,
        trigger: Trigger,
        today: NaiveDate,
        end: Option<NaiveDate>,
    ) -> Result<Vec<DueDeadline>, sqlx::Error> {
        let sql = if end.is_some() {
            DUE_SOON_SQL
        } else {
            OVERDUE_SQL
        };
        let mut query = sqlx::query(sql)
            .bind(case_type)
            .bind(kind)
            .bind(date_text(today))
            .bind(trigger.as_str())
            .bind(self.config.batch);
        if let Some(end) = end {
            query = query.bind(date_text(end));
        }
        let rows = query.fetch_all(&self.db.any).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let case_id: String = row.try_get(0)?;
            let due: String = row.try_get(1)?;
            let due = NaiveDate::parse_from_str(&due, "%Y-%m-%d")
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            out.push(DueDeadline {
                case_type: case_type.to_string(),
                case_id,
                kind: kind.to_string(),
                due,
                trigger,
            });
        }
        Ok(out)
    }

    /// Acts on one deadline unless already settled here; `None` on failure.
    async fn act(&self, deadline: &DueDeadline, now: DateTime<Utc>) -> Option<Outcome> {
        let key: Key = (
            deadline.case_type.clone(),
            deadline.case_id.clone(),
            deadline.kind.clone(),
            deadline.due,
            deadline.trigger,
        );
        if self.remembered(&key) {
            return Some(Outcome::Settled);
        }
        let action = self
            .registry
            .action(&deadline.case_type, &deadline.kind, deadline.trigger)?
            .clone();
        // Ids and dates only: never personal data.
        let span = tracing::info_span!(
            "deadline.fire",
            case_type = %deadline.case_type,
            case_id = %deadline.case_id,
            kind = %deadline.kind,
            due = %deadline.due,
            action = deadline.trigger.as_str(),
        );
        async {
            match action.fire(deadline, now).await {
                Ok(outcome) => {
                    match (outcome, deadline.trigger) {
                        (Outcome::Fired, Trigger::Overdue) => &self.metrics.fired_overdue,
                        (Outcome::Fired, Trigger::DueSoon) => &self.metrics.fired_due_soon,
                        (Outcome::Settled, _) => &self.metrics.settled,
                    }
                    .fetch_add(1, Ordering::Relaxed);
                    tracing::info!(outcome = outcome.as_str(), "deadline acted on");
                    self.remember(key, deadline, outcome, now).await;
                    Some(outcome)
                }
                Err(error) => {
                    tracing::warn!(error = %error, "deadline action failed; retried next tick");
                    None
                }
            }
        }
        .instrument(span)
        .await
    }

    fn remembered(&self, key: &Key) -> bool {
        self.settled
            .lock()
            .map(|set| set.contains(key))
            .unwrap_or(false)
    }

    /// Remembers a settled deadline in memory and in `deadline_firings`.
    async fn remember(&self, key: Key, d: &DueDeadline, outcome: Outcome, now: DateTime<Utc>) {
        if let Ok(mut set) = self.settled.lock() {
            if set.len() >= MEMORY_CAP {
                set.clear();
            }
            set.insert(key);
        }
        let recorded = sqlx::query(RECORD_SQL)
            .bind(&d.case_type)
            .bind(&d.case_id)
            .bind(&d.kind)
            .bind(date_text(d.due))
            .bind(d.trigger.as_str())
            .bind(outcome.as_str())
            .bind(now.to_rfc3339_opts(SecondsFormat::Nanos, true))
            .execute(&self.db.any)
            .await;
        if let Err(error) = recorded {
            // Memory still holds it; another server or a restart pays one refused command.
            tracing::warn!(%error, "recording a settled deadline failed");
        }
    }

    /// Forgets what was settled for deadlines no longer open.
    async fn prune(&self) {
        match sqlx::query(PRUNE_SQL).execute(&self.db.any).await {
            Ok(done) => {
                if let Ok(mut set) = self.settled.lock() {
                    set.clear();
                }
                tracing::debug!(pruned = done.rows_affected(), "deadline firings pruned");
            }
            Err(error) => {
                self.metrics.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, "pruning deadline firings failed");
            }
        }
    }
}
