//! `probity calendar load FILE [--source TEXT]`: reads a new year's official holiday
//! schedule (issue 4, item 6) from a TOML or JSON file and hands it to the application
//! layer ([`probity_app::calendar::load_schedule`]), which records it and recomputes,
//! once, every open provisional deadline; then prints the counts. Running the same file
//! again records nothing new but still recomputes what is left, so deadlines computed by
//! servers that had not yet restarted with the new year are caught up.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use probity_domain::{WorkingCalendar, YearSchedule};
use probity_store::Db;
use serde::Deserialize;

pub use probity_app::calendar::{
    calendar_in_force, load_schedule, load_schedule_under, provisional_candidates,
    provisional_rectifications, LoadSummary,
};

use crate::settings::Settings;

/// Reads a `YearSchedule` from `path`: TOML when the file name ends in `.toml`, JSON
/// otherwise (`{"year": 2027, "holidays": ["2027-01-01"], "makeup_workdays": []}`).
/// Unknown fields are refused.
pub fn read_schedule(path: &Path) -> anyhow::Result<YearSchedule> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let is_toml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    if is_toml {
        // TOML has native dates (`2027-01-01`); quoted ones work as well.
        fn dates_as_strings(value: toml::Value) -> toml::Value {
            match value {
                toml::Value::Datetime(d) => toml::Value::String(d.to_string()),
                toml::Value::Array(a) => {
                    toml::Value::Array(a.into_iter().map(dates_as_strings).collect())
                }
                toml::Value::Table(t) => toml::Value::Table(
                    t.into_iter()
                        .map(|(k, v)| (k, dates_as_strings(v)))
                        .collect(),
                ),
                other => other,
            }
        }
        let value: toml::Value =
            toml::from_str(&text).with_context(|| format!("{} is not TOML", path.display()))?;
        dates_as_strings(value)
            .try_into()
            .with_context(|| format!("{} is not a TOML year schedule", path.display()))
    } else {
        // A JSON file may carry a leading `_note` field: it is documentation only.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Annotated {
            #[serde(default, rename = "_note")]
            _note: Option<String>,
            year: i32,
            holidays: Vec<chrono::NaiveDate>,
            makeup_workdays: Vec<chrono::NaiveDate>,
        }
        let a: Annotated = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a JSON year schedule", path.display()))?;
        Ok(YearSchedule {
            year: a.year,
            holidays: a.holidays,
            makeup_workdays: a.makeup_workdays,
        })
    }
}

/// `probity calendar load`: opens the store the settings name, loads `file`, prints the
/// counts on stderr.
pub async fn run(settings: &Settings, file: &Path, source: Option<String>) -> anyhow::Result<()> {
    let schedule = read_schedule(file)?;
    let source = source.unwrap_or_else(|| {
        format!(
            "file {}",
            file.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        )
    });
    let db = crate::app::open_db(settings).await?;
    let now = probity_app::Clock::new(settings.clock_offset).now();
    let year = schedule.year;
    let summary = load_schedule_under(
        &db,
        schedule,
        &source,
        settings.policy.time_limits.clone(),
        settings.policy.integrity.clone(),
        now,
    )
    .await
    .with_context(|| format!("loading the schedule of {year}"))?;
    for (case, reason) in &summary.failed {
        eprintln!("complaint {case}: not recomputed: {reason}");
    }
    eprintln!(
        "{}: {} {}; provisional deadlines: {} recomputed, {} already final, {} still provisional, {} failed",
        file.display(),
        summary.year,
        if summary.loaded { "loaded" } else { "was already loaded" },
        summary.recomputed,
        summary.already_final,
        summary.still_provisional,
        summary.failed.len()
    );
    eprintln!("restart the servers to count on the new year (then run this again to catch up)");
    Ok(())
}
/// How often the schedule watch looks at the day (it warns at most once a local day).
pub const SCHEDULE_WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(600);

/// What the schedule watch last found, shared with `/readyz` and `/metrics`.
#[derive(Debug, Default)]
pub struct ScheduleWatchState {
    /// The missing year and the warning about it, while one is missing.
    current: std::sync::Mutex<Option<(i32, String)>>,
    /// The years whose gauge was shown at 1 (set back to 0 once in force: the recorder
    /// keeps a series once shown).
    shown: std::sync::Mutex<std::collections::BTreeSet<i32>>,
}

impl ScheduleWatchState {
    /// The warning in force, if any (shown by `/readyz` under `warnings`).
    pub fn warning(&self) -> Option<String> {
        self.current
            .lock()
            .ok()
            .and_then(|w| w.as_ref().map(|(_, text)| text.clone()))
    }

    /// Records the gauge through the `metrics` facade, into the recorder in force (the
    /// server's, while it samples before rendering `/metrics`; ADR 0032):
    /// `probity_calendar_schedule_missing{year}` is 1 while a schedule the servers need is
    /// not in force; without a label it is 0 while none was ever missing.
    pub fn record(&self) {
        const NAME: &str = "probity_calendar_schedule_missing";
        metrics::describe_gauge!(
            NAME,
            "1 while an official holiday schedule the servers need (this year, or next year from December) is not in force."
        );
        let year = self
            .current
            .lock()
            .ok()
            .and_then(|w| w.as_ref().map(|(year, _)| *year));
        let mut shown = self
            .shown
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(year) = year {
            shown.insert(year);
        }
        if shown.is_empty() {
            metrics::gauge!(NAME).set(0.0);
        }
        for shown in shown.iter() {
            let missing = if Some(*shown) == year { 1.0 } else { 0.0 };
            metrics::gauge!(NAME, "year" => shown.to_string()).set(missing);
        }
    }

    fn set(&self, warning: Option<(i32, String)>) {
        if let Ok(mut current) = self.current.lock() {
            *current = warning;
        }
    }
}

/// The warning for `today`, given the calendar the server counts with (`in_force`) and
/// the one the store holds now (`stored`: a year may have been loaded since the start).
pub fn schedule_warning(
    in_force: &WorkingCalendar,
    stored: Option<&WorkingCalendar>,
    today: chrono::NaiveDate,
) -> Option<(i32, String)> {
    let notice = in_force.schedule_notice(today)?;
    let year = notice.year();
    let loaded_since = stored.is_some_and(|s| s.years().any(|y| y.year == year));
    let text = if loaded_since {
        format!(
            "the official holiday schedule of {year} is loaded in the store but not in force \
             on this server: restart it to count with {year}'s holidays"
        )
    } else {
        notice.to_string()
    };
    Some((year, text))
}

/// Warns the operator (a `WARN` log line, `/readyz` `warnings`, a gauge in `/metrics`),
/// once a local day, while this year's schedule or, from December on, next year's is not
/// in force, with the command that loads it. Runs until `shutdown`.
pub async fn watch_schedule(
    db: Db,
    in_force: Arc<WorkingCalendar>,
    now: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    state: Arc<ScheduleWatchState>,
    interval: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let mut warned_on: Option<chrono::NaiveDate> = None;
    loop {
        let today = WorkingCalendar::local_date(now());
        if in_force.schedule_notice(today).is_none() {
            state.set(None);
        } else {
            // Look at the store too: a year loaded since this server started only needs a restart.
            let stored = match calendar_in_force(&db).await {
                Ok(calendar) => Some(calendar),
                Err(error) => {
                    tracing::warn!(%error, "schedule watch: the loaded schedules cannot be read");
                    None
                }
            };
            let warning = schedule_warning(&in_force, stored.as_ref(), today);
            if let Some((year, text)) = &warning {
                if warned_on != Some(today) {
                    tracing::warn!(year, "{text}");
                    warned_on = Some(today);
                }
            }
            state.set(warning);
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> chrono::NaiveDate {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn schedule_2027() -> YearSchedule {
        serde_json::from_value(serde_json::json!({
            "year": 2027, "holidays": ["2027-01-01"], "makeup_workdays": []
        }))
        .unwrap()
    }

    #[test]
    fn in_december_the_missing_next_year_is_a_warning_that_names_the_load_command() {
        let cal = WorkingCalendar::china();
        let (year, text) = schedule_warning(&cal, Some(&cal), date("2026-12-06")).unwrap();
        assert_eq!(year, 2027);
        assert!(text.contains("probity calendar load"), "{text}");
    }

    #[test]
    fn a_year_loaded_since_the_start_asks_for_a_restart_instead() {
        let cal = WorkingCalendar::china();
        let mut stored = WorkingCalendar::china();
        stored.add_year(schedule_2027()).unwrap();
        let (year, text) = schedule_warning(&cal, Some(&stored), date("2026-12-06")).unwrap();
        assert_eq!(year, 2027);
        assert!(text.contains("restart"), "{text}");
        assert!(!text.contains("calendar load"), "{text}");
        assert_eq!(
            schedule_warning(&stored, Some(&stored), date("2026-12-06")),
            None
        );
    }

    #[test]
    fn no_warning_while_the_data_covers_the_year_before_december() {
        let cal = WorkingCalendar::china();
        assert_eq!(schedule_warning(&cal, None, date("2026-11-30")), None);
    }

    #[test]
    fn the_gauge_names_the_missing_year() {
        let state = ScheduleWatchState::default();
        let server = probity_app::Metrics::new();
        let render = || {
            server.record(|| state.record());
            server.render()
        };
        assert!(render().contains("probity_calendar_schedule_missing 0\n"));
        state.set(Some((2027, "load it".into())));
        assert!(render().contains("probity_calendar_schedule_missing{year=\"2027\"} 1\n"));
        assert_eq!(state.warning().as_deref(), Some("load it"));
        state.set(None);
        assert_eq!(state.warning(), None);
        let text = render();
        assert!(
            text.contains("probity_calendar_schedule_missing{year=\"2027\"} 0\n"),
            "{text}"
        );
        assert!(
            !text.contains("probity_calendar_schedule_missing{year=\"2027\"} 1"),
            "{text}"
        );
    }
}
