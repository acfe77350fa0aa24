//! `probity import records FILE.csv`: the city's existing penalty and sanction lists
//! imported as dishonesty records (issue 3, item 9).
//!
//! The file is UTF-8 CSV (RFC 4180: quoted fields may hold commas, quotes as `""`, and
//! line breaks) with a header row naming these columns, in any order:
//!
//! `subject_code,subject_name,source,source_ref,decision_date,severity,sector,summary,ban_years`
//!
//! `subject_name` is informative only (an import never registers a subject); `ban_years`
//! may be empty. Every row is validated here (the adapter's part: reading the file); a
//! valid row is handed to the application layer
//! ([`probity_app::IntegrityCommands::import_record`]), which records it with the
//! deterministic id `record_id_for(source, source_ref)`, so running the same file again
//! adds nothing (`AlreadyRecorded` counts as already imported). A row that
//! fails is quarantined, never dropped: it is written to the report file (line number,
//! source_ref, field, reason), which is for the operator; nothing of a quarantined row
//! is logged or printed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use probity_app::integrity::{ImportOutcome, ImportedRecord, IntegrityCommands};
use probity_domain::integrity::{IntegrityServices, Sector, Severity, Source};
use probity_domain::record::record_id_for;
use probity_domain::{CreditCode, WorkingCalendar};
use probity_store::Metadata;

use crate::settings::Settings;

/// The columns of the import file, in the documented order.
pub const COLUMNS: [&str; 9] = [
    "subject_code",
    "subject_name",
    "source",
    "source_ref",
    "decision_date",
    "severity",
    "sector",
    "summary",
    "ban_years",
];

const SOURCES: [Source; 6] = [
    Source::AdministrativePenalty,
    Source::Sanction,
    Source::CourtJudgment,
    Source::Audit,
    Source::Complaint,
    Source::CommitmentBreach,
];
const SEVERITIES: [Severity; 3] = [Severity::Minor, Severity::Ordinary, Severity::Serious];
const SECTORS: [Sector; 7] = [
    Sector::General,
    Sector::Procurement,
    Sector::Bidding,
    Sector::Ppp,
    Sector::Investment,
    Sector::Debt,
    Sector::Township,
];

/// The header of the report file.
pub const REPORT_HEADER: &str = "line,source_ref,field,reason";

/// A row that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// The line of the file the row starts on (the header is line 1).
    pub line: usize,
    /// The row's source reference as given (may be empty).
    pub source_ref: String,
    /// The column that failed (`row` for the row as a whole).
    pub field: String,
    /// Why.
    pub reason: String,
}

/// What one import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Data rows read (the header and blank lines not counted).
    pub read: usize,
    /// Rows recorded now.
    pub imported: usize,
    /// Rows whose record already existed (a re-run).
    pub already_imported: usize,
    /// Rows quarantined to the report.
    pub quarantined: Vec<Quarantined>,
}

/// Where the report goes by default: `<FILE>.report.csv` beside the input.
pub fn default_report_path(input: &Path) -> PathBuf {
    input.with_extension("report.csv")
}

/// `probity import records`: opens the store the settings name, imports `file`, writes
/// the report, prints the summary on stderr. Errors only when the file cannot be read
/// or processed, or the store fails.
pub async fn run(
    settings: &Settings,
    file: &Path,
    report: Option<PathBuf>,
    recorded_by: Option<String>,
) -> anyhow::Result<ImportSummary> {
    let recorded_by = recorded_by
        .map(|c| CreditCode::parse(c.trim()))
        .transpose()
        .context("--recorded-by is not a valid unified social credit code")?;
    let report = report.unwrap_or_else(|| default_report_path(file));
    // Unreadable: fail before touching the store.
    std::fs::File::open(file).with_context(|| format!("reading {}", file.display()))?;
    let db = crate::app::open_db(settings).await?;
    let commands = IntegrityCommands::new(
        db,
        IntegrityServices {
            calendar: Arc::new(WorkingCalendar::china()),
            policy: settings.policy.integrity.clone(),
        },
    );
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} importing [{bar:40}] {pos}/{len} rows ({per_sec}, eta {eta})",
        )
        .expect("a valid progress template")
        .progress_chars("=> "),
    );
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let now = probity_app::Clock::new(settings.clock_offset).now();
    let result = import_records(
        &commands,
        file,
        &report,
        recorded_by.as_ref(),
        now,
        &progress,
    )
    .await;
    bar.finish_and_clear();
    let summary = result?;
    eprintln!(
        "{}: read {} rows: {} imported, {} already imported, {} quarantined (report: {})",
        file.display(),
        summary.read,
        summary.imported,
        summary.already_imported,
        summary.quarantined.len(),
        report.display()
    );
    Ok(summary)
}

/// Imports the records of `input` with `commands`, writes the report of quarantined rows
/// to `report` (always, with its header, so the operator sees the run), and returns the
/// counts. `recorded_by: None` is the municipal credit office. `progress(done, total)`
/// is called as rows are handled.
pub async fn import_records(
    commands: &IntegrityCommands,
    input: &Path,
    report: &Path,
    recorded_by: Option<&CreditCode>,
    now: DateTime<Utc>,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> anyhow::Result<ImportSummary> {
    let bytes = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| anyhow::anyhow!("{} is not UTF-8: {e}", input.display()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut records = parse_csv(text).into_iter();
    let header = match records.next() {
        Some(CsvRecord {
            fields: Ok(fields), ..
        }) => fields,
        Some(CsvRecord { fields: Err(e), .. }) => {
            anyhow::bail!("{}: the header row is malformed: {e}", input.display())
        }
        None => anyhow::bail!(
            "{} is empty: expected a header row {}",
            input.display(),
            COLUMNS.join(",")
        ),
    };
    let columns =
        Columns::from_header(&header).map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))?;
    let rows: Vec<CsvRecord> = records.collect();
    let total = rows.len() as u64;
    progress(0, total);

    let file_name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut summary = ImportSummary {
        read: rows.len(),
        ..ImportSummary::default()
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut failure = None;
    for (done, row) in rows.into_iter().enumerate() {
        match import_row(
            commands,
            &columns,
            &row,
            &mut seen,
            recorded_by,
            now,
            &file_name,
        )
        .await
        {
            Ok(Outcome::Imported) => summary.imported += 1,
            Ok(Outcome::AlreadyImported) => summary.already_imported += 1,
            Ok(Outcome::Quarantined(q)) => summary.quarantined.push(q),
            Err(e) => {
                failure = Some(e.context(format!(
                    "{} line {}: the store failed",
                    input.display(),
                    row.line
                )));
                break;
            }
        }
        progress(done as u64 + 1, total);
    }
    write_report(report, &summary.quarantined)
        .with_context(|| format!("writing the report {}", report.display()))?;
    match failure {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

enum Outcome {
    Imported,
    AlreadyImported,
    Quarantined(Quarantined),
}

/// Where each column is in a row.
struct Columns {
    index: [usize; 9],
    width: usize,
}

impl Columns {
    fn from_header(header: &[String]) -> Result<Self, String> {
        let names: Vec<String> = header.iter().map(|h| h.trim().to_lowercase()).collect();
        let mut index = [0usize; 9];
        let mut missing = Vec::new();
        for (slot, column) in index.iter_mut().zip(COLUMNS) {
            match names.iter().position(|n| n == column) {
                Some(i) => *slot = i,
                None => missing.push(column),
            }
        }
        if !missing.is_empty() {
            return Err(format!(
                "the header row lacks {}; expected {}",
                missing.join(", "),
                COLUMNS.join(",")
            ));
        }
        Ok(Self {
            index,
            width: header.len(),
        })
    }

    fn get<'a>(&self, fields: &'a [String], column: &str) -> &'a str {
        let i = COLUMNS
            .iter()
            .position(|c| *c == column)
            .expect("a known column");
        fields
            .get(self.index[i])
            .map(String::as_str)
            .unwrap_or_default()
    }
}

/// A row rejected on one field.
fn quarantine(line: usize, source_ref: &str, field: &str, reason: impl Into<String>) -> Outcome {
    Outcome::Quarantined(Quarantined {
        line,
        source_ref: source_ref.to_string(),
        field: field.to_string(),
        reason: reason.into(),
    })
}

fn choice<T: Copy>(value: &str, all: &[T], name: impl Fn(T) -> &'static str) -> Result<T, String> {
    let value = value.trim();
    all.iter()
        .copied()
        .find(|v| name(*v) == value)
        .ok_or_else(|| {
            format!(
                "invalid_value: must be one of {}",
                all.iter().map(|v| name(*v)).collect::<Vec<_>>().join(", ")
            )
        })
}

/// A strict `YYYY-MM-DD` date.
fn parse_date(value: &str) -> Option<NaiveDate> {
    let value = value.trim();
    let shape = value.len() == 10
        && value.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shape {
        return None;
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()
}

async fn import_row(
    commands: &IntegrityCommands,
    columns: &Columns,
    row: &CsvRecord,
    seen: &mut HashMap<String, usize>,
    recorded_by: Option<&CreditCode>,
    now: DateTime<Utc>,
    file_name: &str,
) -> anyhow::Result<Outcome> {
    let line = row.line;
    let fields = match &row.fields {
        Ok(fields) => fields,
        Err(e) => return Ok(quarantine(line, "", "row", format!("malformed_csv: {e}"))),
    };
    let source_ref = columns.get(fields, "source_ref");
    if fields.len() != columns.width {
        return Ok(quarantine(
            line,
            source_ref,
            "row",
            format!(
                "malformed_csv: expected {} fields, found {}",
                columns.width,
                fields.len()
            ),
        ));
    }
    let code = match CreditCode::parse(columns.get(fields, "subject_code").trim()) {
        Ok(code) => code,
        Err(e) => {
            let message = e.to_string();
            let message = message
                .strip_prefix("invalid unified social credit code: ")
                .unwrap_or(&message)
                .to_string();
            return Ok(quarantine(
                line,
                source_ref,
                "subject_code",
                format!("invalid_credit_code: {message}"),
            ));
        }
    };
    let source = match choice(columns.get(fields, "source"), &SOURCES, Source::as_str) {
        Ok(v) => v,
        Err(reason) => return Ok(quarantine(line, source_ref, "source", reason)),
    };
    if source_ref.trim().is_empty() {
        return Ok(quarantine(line, source_ref, "source_ref", "blank"));
    }
    let Some(decision_date) = parse_date(columns.get(fields, "decision_date")) else {
        return Ok(quarantine(
            line,
            source_ref,
            "decision_date",
            "invalid_date: must be a real date written YYYY-MM-DD",
        ));
    };
    let severity = match choice(
        columns.get(fields, "severity"),
        &SEVERITIES,
        Severity::as_str,
    ) {
        Ok(v) => v,
        Err(reason) => return Ok(quarantine(line, source_ref, "severity", reason)),
    };
    let sector = match choice(columns.get(fields, "sector"), &SECTORS, Sector::as_str) {
        Ok(v) => v,
        Err(reason) => return Ok(quarantine(line, source_ref, "sector", reason)),
    };
    let summary = columns.get(fields, "summary");
    if summary.trim().is_empty() {
        return Ok(quarantine(line, source_ref, "summary", "blank"));
    }
    let ban_years = match columns.get(fields, "ban_years").trim() {
        "" => None,
        years => match years.parse::<u32>() {
            Ok(years) => Some(years),
            Err(_) => {
                return Ok(quarantine(
                    line,
                    source_ref,
                    "ban_years",
                    "invalid_value: must be empty or a whole number of years",
                ))
            }
        },
    };
    let id = record_id_for(source, source_ref);
    if let Some(first) = seen.get(&id) {
        return Ok(quarantine(
            line,
            source_ref,
            "source_ref",
            format!("duplicate_in_file: same source and source_ref as line {first}"),
        ));
    }
    seen.insert(id.clone(), line);
    let row = ImportedRecord {
        subject_code: code,
        source,
        source_ref: source_ref.to_string(),
        decision_date,
        severity,
        sector,
        summary: summary.to_string(),
        ban_years,
    };
    let mut metadata = Metadata::new();
    metadata.insert("actor".to_string(), "import".to_string());
    metadata.insert("import_file".to_string(), file_name.to_string());
    metadata.insert("import_line".to_string(), line.to_string());
    match commands
        .import_record(row, recorded_by, metadata, now)
        .await
        .map_err(|e| anyhow::anyhow!("recording {id}: {e}"))?
    {
        ImportOutcome::Imported => Ok(Outcome::Imported),
        ImportOutcome::AlreadyImported => Ok(Outcome::AlreadyImported),
        ImportOutcome::SubjectNotRegistered => Ok(quarantine(
            line,
            source_ref,
            "subject_code",
            "subject_not_registered",
        )),
        ImportOutcome::Refused { field, reason } => Ok(quarantine(
            line,
            source_ref,
            &field,
            format!("rejected: {reason}"),
        )),
    }
}

/// Writes the quarantined rows as CSV (the `csv` crate) with the header [`REPORT_HEADER`].
pub fn write_report(path: &Path, rows: &[Quarantined]) -> std::io::Result<()> {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_path(path)?;
    out.write_record(REPORT_HEADER.split(','))?;
    for q in rows {
        out.write_record([
            q.line.to_string().as_str(),
            &q.source_ref,
            &q.field,
            &q.reason,
        ])?;
    }
    out.flush()
}

/// A field as RFC 4180 writes it (the `csv` crate): quoted when it holds a comma, quote
/// or line break.
pub fn csv_quote(field: &str) -> String {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    // A lone empty field is the empty string (the writer would quote it to tell the
    // record from a blank line).
    if field.is_empty() {
        return String::new();
    }
    if out.write_record([field]).is_err() {
        return field.to_string();
    }
    let bytes = out.into_inner().unwrap_or_default();
    let text = String::from_utf8(bytes).unwrap_or_default();
    text.strip_suffix('\n').unwrap_or(&text).to_string()
}

/// One CSV record: the line it starts on, and its fields or why it is malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvRecord {
    /// 1-based line number of the record's first character.
    pub line: usize,
    /// The fields, or what is wrong with the record.
    pub fields: Result<Vec<String>, String>,
}

/// Splits RFC 4180 text into records with the `csv` crate. Records end at LF or CRLF; a
/// field in double quotes may hold commas, line breaks and `""` (a quote). Blank lines are
/// skipped. The crate reads leniently by design, so each record's own text is then held to
/// RFC 4180 ([`malformed`]): a record with a quote inside an unquoted field, text after a
/// closing quote, or a quote left open at the end is returned as an error, and reading
/// goes on at the next record.
pub fn parse_csv(text: &str) -> Vec<CsvRecord> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    // Each record with the byte offset and line where it starts.
    let mut read: Vec<(usize, usize, Result<Vec<String>, String>)> = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let (byte, line) = record
                    .position()
                    .map_or((0, 1), |p| (p.byte() as usize, p.line() as usize));
                read.push((byte, line, Ok(record.iter().map(str::to_string).collect())));
            }
            Err(e) => {
                let (byte, line) = e
                    .position()
                    .map_or((text.len(), 0), |p| (p.byte() as usize, p.line() as usize));
                read.push((byte, line, Err(e.to_string())));
                if !matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. }) {
                    break;
                }
            }
        }
    }
    let ends: Vec<usize> = read
        .iter()
        .skip(1)
        .map(|(byte, _, _)| *byte)
        .chain(std::iter::once(text.len()))
        .collect();
    read.into_iter()
        .zip(ends)
        .filter_map(|((start, line, fields), end)| {
            let raw = text.get(start.min(end)..end).unwrap_or_default();
            // The crate may start a record's position at the blank lines before it.
            let body = raw.trim_start_matches(['\r', '\n']);
            let line = line + raw[..raw.len() - body.len()].matches('\n').count();
            let raw = body;
            let fields = fields.and_then(|f| match malformed(raw) {
                Some(reason) => Err(reason.to_string()),
                None => Ok(f),
            });
            let blank = matches!(&fields, Ok(f) if f.len() == 1 && f[0].trim().is_empty());
            (!blank).then_some(CsvRecord { line, fields })
        })
        .collect()
}

/// What RFC 4180 finds wrong with one record's text (as the `csv` crate delimited it,
/// with its line break and any blank lines after it), if anything.
fn malformed(raw: &str) -> Option<&'static str> {
    enum At {
        FieldStart,
        Unquoted,
        Quoted,
        Closed,
    }
    let mut at = At::FieldStart;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        at = match (at, c) {
            (At::Quoted, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                At::Quoted
            }
            (At::Quoted, '"') => At::Closed,
            (At::Quoted, _) => At::Quoted,
            (_, '\n' | '\r') => return None,
            (_, ',') => At::FieldStart,
            (At::FieldStart, '"') => At::Quoted,
            (At::Unquoted, '"') => return Some("a quote inside an unquoted field"),
            (At::FieldStart | At::Unquoted, _) => At::Unquoted,
            (At::Closed, _) => return Some("text after the closing quote of a field"),
        };
    }
    match at {
        At::Quoted => Some("a quoted field is not closed"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(fields: &[&str]) -> Result<Vec<String>, String> {
        Ok(fields.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn quoted_fields_hold_commas_quotes_and_line_breaks() {
        let text = "a,b,c\r\n1,\"x, \"\"y\"\"\nz\",3\n\n4,,\"\"\n";
        let records = parse_csv(text);
        assert_eq!(
            records,
            vec![
                CsvRecord {
                    line: 1,
                    fields: ok(&["a", "b", "c"])
                },
                CsvRecord {
                    line: 2,
                    fields: ok(&["1", "x, \"y\"\nz", "3"])
                },
                CsvRecord {
                    line: 5,
                    fields: ok(&["4", "", ""])
                },
            ]
        );
    }

    #[test]
    fn a_malformed_record_is_reported_and_reading_goes_on() {
        let records = parse_csv("a,b\"c,d\n\"e\"f,g\nh,i\n\"open,j\nk");
        assert_eq!(records[0].line, 1);
        assert!(records[0].fields.is_err());
        assert_eq!(records[1].line, 2);
        assert!(records[1].fields.is_err());
        assert_eq!(
            records[2],
            CsvRecord {
                line: 3,
                fields: ok(&["h", "i"])
            }
        );
        assert_eq!(records[3].line, 4);
        assert_eq!(
            records[3].fields,
            Err("a quoted field is not closed".to_string())
        );
        assert_eq!(records.len(), 4);
    }

    #[test]
    fn the_last_record_needs_no_line_break() {
        assert_eq!(
            parse_csv("x,y"),
            vec![CsvRecord {
                line: 1,
                fields: ok(&["x", "y"])
            }]
        );
    }

    #[test]
    fn report_fields_are_quoted_when_needed() {
        assert_eq!(csv_quote("plain"), "plain");
        assert_eq!(csv_quote("a,b"), "\"a,b\"");
        assert_eq!(csv_quote("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn dates_are_strict() {
        assert!(parse_date("2025-03-10").is_some());
        assert!(parse_date("2025-3-10").is_none());
        assert!(parse_date("2025/03/10").is_none());
        assert!(parse_date("2025-02-30").is_none());
    }

    #[test]
    fn the_default_report_is_beside_the_file() {
        assert_eq!(
            default_report_path(Path::new("/tmp/penalties.csv")),
            PathBuf::from("/tmp/penalties.report.csv")
        );
    }
}
