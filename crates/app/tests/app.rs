//! The application layer without any adapter: use-cases run against the embedded SQLite
//! store (a fresh data directory per test), as the CLI runs them. What HTTP makes of the
//! answers is tested in the HTTP crate and the black-box suite.

use std::sync::Arc;

use probity_app::complaints::{NewComplaint, ReporterDisclosure};
use probity_app::integrity::{ImportOutcome, ImportedRecord, NewRecord};
use probity_app::{App, AppError, Caller, Clock, CommandContext, Role};
use probity_domain::aggregate_type;
use probity_domain::complaint::{Category, Channel, ComplaintCommand, ComplaintError};
use probity_domain::integrity::{Sector, Severity, Source};
use probity_domain::reporter::ReporterIdentity;
use probity_domain::subject::SubjectKind;
use probity_domain::{CreditCode, TimeLimits, WorkingCalendar};
use probity_store::Db;

const UNIT_A: &str = "113604000123456713";

struct Fixture {
    app: App,
    _dir: tempfile::TempDir,
}

async fn app() -> Fixture {
    let dir = tempfile::tempdir().expect("a temporary data dir");
    let db = Db::open_sqlite(dir.path())
        .await
        .expect("the embedded store");
    let app = App::over_db(
        db,
        Arc::new(WorkingCalendar::china()),
        TimeLimits::default(),
        Default::default(),
        Clock::system(),
    );
    Fixture { app, _dir: dir }
}

fn caller(role: Role, unit: Option<&str>) -> Caller {
    Caller {
        token_id: format!("test-{role}"),
        label: None,
        role,
        unit: unit.map(|u| CreditCode::parse(u).expect("a valid unit")),
    }
}

fn ctx(caller: &Caller) -> CommandContext<'_> {
    CommandContext {
        caller,
        request_id: "r-1",
        correlation_id: "c-1",
        once: None,
    }
}

fn named_complaint() -> NewComplaint {
    NewComplaint {
        category: Category::Complaint,
        channel: Channel::Hotline,
        subject_code: None,
        title: " a title ".into(),
        description: "what happened".into(),
        reporter: Some(ReporterIdentity {
            name: Some("张三".into()),
            phone: Some("13800000000".into()),
            identity_number: None,
        }),
    }
}

#[tokio::test]
async fn a_complaint_is_filed_accepted_and_read_back_through_the_app_alone() {
    let f = app().await;
    let intake = caller(Role::Intake, None);
    let (id, filed) = f
        .app
        .file_complaint(ctx(&intake), named_complaint())
        .await
        .expect("filed");
    assert_eq!((filed.status.as_str(), filed.version), ("received", 1));
    assert_eq!(filed.title, "a title");

    let at = f.app.clock.now();
    let accepted = f
        .app
        .complaint_command(
            ctx(&intake),
            &id,
            Some(1),
            ComplaintCommand::AcceptComplaint { at },
        )
        .await
        .expect("accepted");
    assert_eq!(
        (accepted.status.as_str(), accepted.version),
        ("accepted", 2)
    );

    // Read-your-writes: no projector runs here, the read folds the log.
    let read = f
        .app
        .complaint_for(&intake, &id, None)
        .await
        .expect("read back");
    assert_eq!(read.version, 2);

    // The reporter is disclosed only after the read is recorded in the access log.
    let disclosed = f
        .app
        .disclose_reporter(ctx(&intake), &id, false, "test")
        .await
        .expect("disclosed");
    assert!(matches!(
        disclosed,
        ReporterDisclosure::Identity(ReporterIdentity { phone: Some(ref p), .. }) if p == "13800000000"
    ));
    let access = f
        .app
        .log
        .read_aggregate(aggregate_type::ACCESS_LOG, &format!("complaint-{id}"), None)
        .await
        .expect("the access log");
    assert_eq!(access.len(), 1);
    assert_eq!(access[0].event_type, "PersonalDataRead");
}

#[tokio::test]
async fn a_refusal_keeps_the_aggregates_typed_error_and_a_stale_version_is_a_precondition() {
    let f = app().await;
    let intake = caller(Role::Intake, None);
    let (id, _) = f
        .app
        .file_complaint(ctx(&intake), named_complaint())
        .await
        .expect("filed");
    let accept = || ComplaintCommand::AcceptComplaint {
        at: f.app.clock.now(),
    };
    f.app
        .complaint_command(ctx(&intake), &id, None, accept())
        .await
        .expect("accepted");
    let again = f
        .app
        .complaint_command(ctx(&intake), &id, None, accept())
        .await;
    assert!(
        matches!(
            again,
            Err(AppError::Complaint(
                ComplaintError::InvalidTransition { .. }
            ))
        ),
        "{again:?}"
    );
    let stale = f
        .app
        .complaint_command(ctx(&intake), &id, Some(1), accept())
        .await;
    assert!(
        matches!(
            stale,
            Err(AppError::VersionConflict {
                expected: 1,
                current: 2
            })
        ),
        "{stale:?}"
    );
}

#[tokio::test]
async fn a_handler_does_not_see_another_units_case() {
    let f = app().await;
    let intake = caller(Role::Intake, None);
    let (id, _) = f
        .app
        .file_complaint(ctx(&intake), named_complaint())
        .await
        .expect("filed");
    let handler = caller(Role::Handler, Some(UNIT_A));
    let read = f.app.complaint_for(&handler, &id, None).await;
    assert!(matches!(read, Err(AppError::NotFound(_))), "{read:?}");
}

#[tokio::test]
async fn an_erased_reporter_reads_as_erased_and_a_second_erasure_is_refused() {
    let f = app().await;
    let intake = caller(Role::Intake, None);
    let (id, _) = f
        .app
        .file_complaint(ctx(&intake), named_complaint())
        .await
        .expect("filed");
    let erasure = f
        .app
        .erase_reporter(&id, "the reporter asked", "dpo")
        .await
        .expect("erased");
    assert!(erasure.key_destroyed);
    assert_eq!(
        f.app
            .disclose_reporter(ctx(&intake), &id, false, "test")
            .await
            .expect("read"),
        ReporterDisclosure::Erased
    );
    let again = f.app.erase_reporter(&id, "again", "dpo").await;
    assert!(
        matches!(
            again,
            Err(AppError::Complaint(ComplaintError::ReporterAlreadyErased))
        ),
        "{again:?}"
    );
    let blank = f.app.erase_reporter(&id, "  ", "dpo").await;
    assert!(matches!(blank, Err(AppError::Invalid(_))), "{blank:?}");
}

#[tokio::test]
async fn a_record_is_decided_on_the_subjects_log_and_an_import_never_records_twice() {
    let f = app().await;
    let admin = caller(Role::Admin, None);
    let supervisor = caller(Role::Supervisor, None);
    let code = CreditCode::parse(UNIT_A).expect("a valid code");
    f.app
        .register_subject(
            ctx(&admin),
            code.clone(),
            "某局".into(),
            SubjectKind::Department,
            None,
        )
        .await
        .expect("registered");
    let day = chrono::NaiveDate::from_ymd_opt(2025, 3, 1).expect("a date");
    let (id, doc) = f
        .app
        .record_dishonesty(
            ctx(&supervisor),
            NewRecord {
                subject_code: Some(code.clone()),
                civil_servant_id: None,
                source: Source::AdministrativePenalty,
                source_ref: "罚字〔2025〕1号".into(),
                decision_date: day,
                severity: Severity::Ordinary,
                sector: Sector::General,
                summary: "late payment".into(),
                complaint_id: None,
                publish: false,
                ban_years: None,
                offence: None,
            },
        )
        .await
        .expect("recorded");
    assert_eq!(doc.version(), 1);
    assert_eq!(doc.unit(), UNIT_A);

    // The importer's use-case: the same source decision is already there.
    let row = |source_ref: &str, subject: &CreditCode| ImportedRecord {
        subject_code: subject.clone(),
        source: Source::AdministrativePenalty,
        source_ref: source_ref.into(),
        decision_date: day,
        severity: Severity::Ordinary,
        sector: Sector::General,
        summary: "late payment".into(),
        ban_years: None,
    };
    let meta = || probity_app::system_metadata("import", "system");
    let now = f.app.clock.now();
    let again = f
        .app
        .integrity
        .import_record(row("罚字〔2025〕1号", &code), None, meta(), now)
        .await
        .expect("imported");
    assert_eq!(again, ImportOutcome::AlreadyImported);
    let unknown = CreditCode::parse("914403001922038216").expect("a valid code");
    let unregistered = f
        .app
        .integrity
        .import_record(row("罚字〔2025〕2号", &unknown), None, meta(), now)
        .await
        .expect("handled");
    assert_eq!(unregistered, ImportOutcome::SubjectNotRegistered);
    assert!(f
        .app
        .integrity
        .record_facts(&id)
        .await
        .expect("read")
        .is_some());
}

#[tokio::test]
async fn a_token_is_verified_and_a_handler_token_needs_a_unit() {
    let f = app().await;
    let token = probity_app::create_token(&f.app.db, Role::Auditor, None, Some("a".into()))
        .await
        .expect("created");
    let found = f
        .app
        .tokens
        .authenticate(&f.app.db, &token)
        .await
        .expect("looked up")
        .expect("known");
    assert_eq!(found.role, Role::Auditor);
    assert!(f
        .app
        .tokens
        .authenticate(&f.app.db, "not-a-token")
        .await
        .expect("looked up")
        .is_none());
    assert!(matches!(
        probity_app::create_token(&f.app.db, Role::Handler, None, None).await,
        Err(probity_app::TokenError::HandlerNeedsUnit)
    ));
}
