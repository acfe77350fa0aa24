//! `probity calendar load FILE [--source TEXT]`: reads a new year's official holiday
//! schedule (issue 4, item 6) from a TOML or JSON file and hands it to the application
//! layer ([`probity_app::calendar::load_schedule`]), which records it and recomputes,
//! once, every open provisional deadline; then prints the counts. Running the same file
//! again records nothing new but still recomputes what is left, so deadlines computed by
//! servers that had not yet restarted with the new year are caught up.

use std::path::Path;

use anyhow::Context;
use probity_domain::YearSchedule;
use serde::Deserialize;

pub use probity_app::calendar::{
    calendar_in_force, load_schedule, provisional_candidates, provisional_rectifications,
    LoadSummary,
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
    let summary = load_schedule(
        &db,
        schedule,
        &source,
        settings.policy.time_limits.clone(),
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
