//! `probity import records`: the fixture `fixtures/records.csv` imported into a fresh
//! Postgres database and into an embedded SQLite store. Valid rows become
//! `DishonestyRecorded` events; invalid ones are quarantined to the report with their
//! line, field and reason; a second run imports nothing. Postgres comes from
//! `probity_testkit` (DATABASE_URL or a private server): without it the Postgres tests
//! fail saying so, they never skip.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use clap::Parser;
use probity::import::{default_report_path, import_records, parse_csv, ImportSummary};
use probity_app::IntegrityCommands;
use probity_domain::integrity::{IntegrityPolicy, IntegrityServices};
use probity_domain::subject::{SubjectCommand, SubjectKind};
use probity_domain::{CreditCode, WorkingCalendar};
use probity_store::{Db, EventLog, StoredEvent};

mod common;
use common::{store, Kind};

const TEST_TIMEOUT: Duration = Duration::from_secs(180);
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/records.csv");
/// Lines of the fixture that hold valid rows.
const VALID_LINES: [usize; 4] = [2, 3, 4, 12];

on_both_backends!(
    the_fixture_imports_valid_rows_and_quarantines_the_rest,
    a_file_that_cannot_be_read_fails
);

fn commands(db: &Db) -> IntegrityCommands {
    IntegrityCommands::new(
        db.clone(),
        IntegrityServices {
            calendar: Arc::new(WorkingCalendar::china()),
            policy: IntegrityPolicy::default(),
        },
    )
}

/// The importer's "now" in these tests: Wednesday 11 March 2026, 10:00 in China. Pinned,
/// so the fixture's "future" decision date (2026-03-12) stays in the future whatever day
/// the suite runs on.
fn now() -> chrono::DateTime<Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-03-11T10:00:00+08:00")
        .unwrap()
        .with_timezone(&Utc)
}

async fn register(
    commands: &IntegrityCommands,
    code: &str,
    name: &str,
    kind: SubjectKind,
) -> anyhow::Result<()> {
    let code = CreditCode::parse(code)?;
    commands
        .subjects
        .execute(
            code.as_str(),
            SubjectCommand::RegisterSubject {
                code: code.clone(),
                name: name.to_string(),
                kind,
                parent: None,
                at: now(),
            },
            None,
            Default::default(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("registering {code}: {e}"))?;
    Ok(())
}

async fn record_events(db: &Db) -> anyhow::Result<Vec<StoredEvent>> {
    // Not `read_after`: on Postgres it holds back events while any older transaction of
    // the server (another test's) may still commit.
    Ok(EventLog::new(db.clone())
        .read_type_newest_first("record", None, None, 100_000)
        .await?)
}

/// The report as `line -> (source_ref, field, reason)`.
fn read_report(path: &Path) -> anyhow::Result<BTreeMap<usize, (String, String, String)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the report {}", path.display()))?;
    let mut records = parse_csv(&text).into_iter();
    let header = records.next().context("the report has no header")?;
    assert_eq!(
        header.fields.unwrap(),
        vec!["line", "source_ref", "field", "reason"]
    );
    let mut rows = BTreeMap::new();
    for record in records {
        let fields = record.fields.map_err(|e| anyhow::anyhow!(e))?;
        assert_eq!(fields.len(), 4, "report row {fields:?}");
        let line: usize = fields[0].parse()?;
        rows.insert(
            line,
            (fields[1].clone(), fields[2].clone(), fields[3].clone()),
        );
    }
    Ok(rows)
}

fn assert_report(report: &Path) -> anyhow::Result<()> {
    let rows = read_report(report)?;
    let expect = |line: usize, source_ref: &str, field: &str, reason: &str| {
        let (r, f, why) = rows
            .get(&line)
            .unwrap_or_else(|| panic!("line {line} is not in the report: {rows:?}"));
        assert_eq!((r.as_str(), f.as_str()), (source_ref, field), "line {line}");
        assert!(
            why.starts_with(reason),
            "line {line}: reason {why:?} should start with {reason:?}"
        );
    };
    expect(
        6,
        "BAD-CODE-1",
        "subject_code",
        "invalid_credit_code: check character",
    );
    expect(7, "UNKNOWN-1", "subject_code", "subject_not_registered");
    expect(
        8,
        "AUDIT-BAD-ENUM",
        "severity",
        "invalid_value: must be one of minor",
    );
    expect(9, "AUDIT-BAD-DATE", "decision_date", "invalid_date");
    expect(
        10,
        "AUDIT-FUTURE",
        "decision_date",
        "rejected: must not be in the future",
    );
    expect(
        11,
        "BAN-TOO-LONG",
        "ban_years",
        "rejected: a procurement ban lasts 1 to 3 years",
    );
    expect(
        13,
        "SANCTION-2025-7",
        "source_ref",
        "duplicate_in_file: same source and source_ref as line 3",
    );
    assert_eq!(
        rows.keys().copied().collect::<Vec<_>>(),
        vec![6, 7, 8, 9, 10, 11, 13],
        "exactly the invalid rows are quarantined"
    );
    // The report names rows; it does not copy what else they said.
    let text = std::fs::read_to_string(report)?;
    assert!(!text.contains("Bad severity") && !text.contains("Unregistered Co"));
    Ok(())
}

async fn the_fixture_imports_valid_rows_and_quarantines_the_rest(kind: Kind) -> anyhow::Result<()> {
    let store = store(kind).await?;
    let commands = commands(&store.db);
    register(
        &commands,
        "113604000123456713",
        "某市人民政府",
        SubjectKind::Government,
    )
    .await?;
    register(
        &commands,
        "914403001922038216",
        "Supplier Ltd",
        SubjectKind::Enterprise,
    )
    .await?;
    // 91330100716105852F is valid but deliberately not registered.
    let file = store.dir.0.join("records.csv");
    std::fs::copy(FIXTURE, &file).context("copying the fixture")?;
    let report = store.dir.0.join("first.report.csv");
    let calls = std::sync::Mutex::new(Vec::new());
    let progress = |done: u64, total: u64| calls.lock().unwrap().push((done, total));

    // First run: the valid rows are recorded, the rest quarantined.
    let first = import_records(&commands, &file, &report, None, now(), &progress).await?;
    assert_eq!(
        (
            first.read,
            first.imported,
            first.already_imported,
            first.quarantined.len()
        ),
        (11, 4, 0, 7),
        "{first:?}"
    );
    assert_eq!(calls.lock().unwrap().last(), Some(&(11, 11)));
    assert_report(&report)?;

    let events = record_events(&store.db).await?;
    assert_eq!(events.len(), 4, "one DishonestyRecorded per valid row");
    let mut lines = Vec::new();
    for event in &events {
        assert_eq!(event.event_type, "DishonestyRecorded");
        assert_eq!(event.metadata["actor"], "import");
        assert_eq!(event.metadata["import_file"], "records.csv");
        lines.push(
            event.metadata["import_line"]
                .as_str()
                .context("import_line")?
                .parse::<usize>()?,
        );
        let payload = &event.payload["DishonestyRecorded"];
        assert!(
            payload["recorded_by"].is_null(),
            "recorded by the credit office"
        );
        let source = payload["source"].as_str().context("source")?;
        let source_ref = payload["source_ref"].as_str().context("source_ref")?;
        let source = match source {
            "administrative_penalty" => probity_domain::integrity::Source::AdministrativePenalty,
            "sanction" => probity_domain::integrity::Source::Sanction,
            "court_judgment" => probity_domain::integrity::Source::CourtJudgment,
            "audit" => probity_domain::integrity::Source::Audit,
            other => panic!("unexpected source {other}"),
        };
        assert_eq!(
            event.aggregate_id,
            probity_domain::record::record_id_for(source, source_ref),
            "the id is deterministic"
        );
    }
    lines.sort();
    assert_eq!(lines, VALID_LINES);
    let quoted = events
        .iter()
        .find(|e| e.payload["DishonestyRecorded"]["source_ref"] == "(2025)粤03民终1号")
        .context("the row with the quoted summary")?;
    assert_eq!(
        quoted.payload["DishonestyRecorded"]["summary"],
        "Late payment, repeatedly;\nsecond line \"quoted\""
    );
    let chinese = events
        .iter()
        .find(|e| e.payload["DishonestyRecorded"]["source_ref"] == "市监罚〔2025〕1号")
        .context("the row in Chinese")?;
    assert_eq!(
        chinese.payload["DishonestyRecorded"]["summary"],
        "未按期履行行政处罚决定"
    );
    let banned = events
        .iter()
        .find(|e| e.payload["DishonestyRecorded"]["source_ref"] == "SANCTION-2025-7")
        .context("the first SANCTION-2025-7")?;
    assert_eq!(banned.payload["DishonestyRecorded"]["ban_years"], 2);
    assert_eq!(
        banned.payload["DishonestyRecorded"]["decision_date"], "2025-06-01",
        "the first of the duplicated rows is the one recorded"
    );

    // Second run: nothing new, everything valid counted as already imported.
    let second_report = store.dir.0.join("second.report.csv");
    let second = import_records(&commands, &file, &second_report, None, now(), &|_, _| {}).await?;
    assert_eq!(
        second,
        ImportSummary {
            read: 11,
            imported: 0,
            already_imported: 4,
            quarantined: first.quarantined.clone(),
        }
    );
    assert_report(&second_report)?;
    assert_eq!(record_events(&store.db).await?.len(), 4);

    // Third run through the command line (default report path beside the file, a
    // recording authority): exits successfully, still nothing new.
    let mut argv = vec!["probity".to_string()];
    argv.extend(store.args.iter().cloned());
    // The command line's clock at the same pinned instant.
    argv.push(format!(
        "--clock-offset={}s",
        (now() - Utc::now()).num_seconds()
    ));
    argv.extend([
        "import".to_string(),
        "records".to_string(),
        file.display().to_string(),
        "--recorded-by".to_string(),
        "914403001922038216".to_string(),
    ]);
    let cli = probity::cli::Cli::try_parse_from(&argv)?;
    probity::cli::run(cli).await?;
    assert_eq!(
        default_report_path(&file),
        store.dir.0.join("records.report.csv")
    );
    assert_report(&default_report_path(&file))?;
    assert_eq!(record_events(&store.db).await?.len(), 4);

    // A new row through the command line, with a recording authority and a report path.
    let extra = store.dir.0.join("extra.csv");
    std::fs::write(
        &extra,
        "subject_code,subject_name,source,source_ref,decision_date,severity,sector,summary,ban_years\r\n\
         914403001922038216,,audit,EXTRA-1,2025-10-01,minor,general,Late audit filing,\r\n",
    )?;
    let extra_report = store.dir.0.join("elsewhere.csv");
    let mut argv = vec!["probity".to_string()];
    argv.extend(store.args.iter().cloned());
    // The command line's clock at the same pinned instant.
    argv.push(format!(
        "--clock-offset={}s",
        (now() - Utc::now()).num_seconds()
    ));
    argv.extend([
        "import".to_string(),
        "records".to_string(),
        extra.display().to_string(),
        "--recorded-by=91330100716105852F".to_string(),
        format!("--report={}", extra_report.display()),
    ]);
    probity::cli::run(probity::cli::Cli::try_parse_from(&argv)?).await?;
    assert!(read_report(&extra_report)?.is_empty());
    let events = record_events(&store.db).await?;
    assert_eq!(events.len(), 5);
    let extra_event = events
        .iter()
        .find(|e| e.payload["DishonestyRecorded"]["source_ref"] == "EXTRA-1")
        .context("the extra record")?;
    assert_eq!(
        extra_event.payload["DishonestyRecorded"]["recorded_by"],
        "91330100716105852F"
    );
    assert_eq!(extra_event.metadata["import_line"], "2");
    store.db.close().await;
    Ok(())
}

async fn a_file_that_cannot_be_read_fails(kind: Kind) -> anyhow::Result<()> {
    let store = store(kind).await?;
    let commands = commands(&store.db);
    let report = store.dir.0.join("report.csv");
    let missing = store.dir.0.join("missing.csv");
    let err = import_records(&commands, &missing, &report, None, now(), &|_, _| {})
        .await
        .expect_err("a missing file is an error");
    assert!(format!("{err:#}").contains("missing.csv"), "{err:#}");

    let wrong_header = store.dir.0.join("wrong.csv");
    std::fs::write(
        &wrong_header,
        "subject_code,source\n113604000123456713,audit\n",
    )?;
    let err = import_records(&commands, &wrong_header, &report, None, now(), &|_, _| {})
        .await
        .expect_err("a file without the columns is an error");
    assert!(format!("{err:#}").contains("source_ref"), "{err:#}");

    let not_utf8 = store.dir.0.join("latin1.csv");
    std::fs::write(&not_utf8, b"subject_code\n\xe9\n")?;
    assert!(
        import_records(&commands, &not_utf8, &report, None, now(), &|_, _| {})
            .await
            .is_err()
    );

    // Through the command line: an error, so a non-zero exit status.
    let mut argv = vec!["probity".to_string()];
    argv.extend(store.args.iter().cloned());
    // The command line's clock at the same pinned instant.
    argv.push(format!(
        "--clock-offset={}s",
        (now() - Utc::now()).num_seconds()
    ));
    argv.extend([
        "import".to_string(),
        "records".to_string(),
        missing.display().to_string(),
    ]);
    let cli = probity::cli::Cli::try_parse_from(&argv)?;
    assert!(probity::cli::run(cli).await.is_err());
    // A recording authority that is not a valid credit code is refused before anything.
    std::fs::copy(FIXTURE, store.dir.0.join("records.csv"))?;
    let mut argv = vec!["probity".to_string()];
    argv.extend(store.args.iter().cloned());
    // The command line's clock at the same pinned instant.
    argv.push(format!(
        "--clock-offset={}s",
        (now() - Utc::now()).num_seconds()
    ));
    argv.extend([
        "import".to_string(),
        "records".to_string(),
        store.dir.0.join("records.csv").display().to_string(),
        "--recorded-by=914403001922038217".to_string(),
    ]);
    let err = probity::cli::run(probity::cli::Cli::try_parse_from(&argv)?)
        .await
        .expect_err("an invalid --recorded-by is an error");
    assert!(format!("{err:#}").contains("--recorded-by"), "{err:#}");
    assert_eq!(record_events(&store.db).await?.len(), 0);
    store.db.close().await;
    Ok(())
}
