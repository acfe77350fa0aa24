//! Integrity records (issue 3): subjects and civil servants, dishonesty records,
//! rectifications, credit repairs, objections and commitments.
//!
//! [`IntegrityCommands`] holds their executors and rules, shared by the API, the
//! deadline engine, the importer and the erasure. The use-cases read the facts a command
//! is decided on from another aggregate's log (never from a lagging projection), run the
//! command, and answer with the aggregate's document folded from its history and
//! completed for the reader's day (a record's objection and repair state, a
//! rectification's `overdue`).

use std::sync::Arc;

use chrono::NaiveDate;
use cqrs_es::{Aggregate, EventEnvelope};
use probity_domain::aggregate_type::{CIVIL_SERVANT, COMPLAINT, RECORD, REPAIR};
use probity_domain::civil_servant::{CivilServant, CivilServantCommand};
use probity_domain::commitment::{Commitment, CommitmentCommand, CommitmentKind};
use probity_domain::debt_warning::DebtWarning;
use probity_domain::integrity::{
    Decider, IntegrityPolicy, IntegrityServices, Offence, RecordFacts, Sector, Severity, Source,
};
use probity_domain::objection::{Grounds, Objection, ObjectionCommand};
use probity_domain::record::{
    record_id_for, DishonestyRecord, RecordCommand, RecordError, RecordTarget, UpheldObjection,
};
use probity_domain::rectification::{Rectification, RectificationCommand};
use probity_domain::repair::{Repair, RepairCommand};
use probity_domain::subject::{Subject, SubjectCommand, SubjectError, SubjectKind};
use probity_domain::supervision_item::SupervisionItem;
use probity_domain::{CreditCode, IdentityNumber};
use probity_store::{
    CommandWrites, Db, ExecuteError, Executor, KeyStore, Metadata, NewKey, PersonIndex, Reserved,
    StoreError, StoredEvent,
};
use probity_views::integrity::IntegrityDoc;
use serde_json::Value;

use crate::error::{AppError, AppResult};
use crate::tokens::{Caller, Role};
use crate::{App, CommandContext};

/// Kind of the civil servants' entries in the person index.
pub const CIVIL_SERVANT_KIND: &str = CIVIL_SERVANT;

/// The command side of the integrity aggregates, shared by the API, the deadline engine
/// and the importer.
pub struct IntegrityCommands {
    pub subjects: Arc<Executor<Subject>>,
    pub civil_servants: Arc<Executor<CivilServant>>,
    pub records: Arc<Executor<DishonestyRecord>>,
    pub rectifications: Arc<Executor<Rectification>>,
    pub repairs: Arc<Executor<Repair>>,
    pub objections: Arc<Executor<Objection>>,
    pub commitments: Arc<Executor<Commitment>>,
    pub supervision_items: Arc<Executor<SupervisionItem>>,
    /// Third parties' findings waiting for a supervisor (§3).
    pub proposals: Arc<Executor<probity_domain::record_proposal::RecordProposal>>,
    /// §13 debt risk warnings, keyed by the government's code.
    pub debt_warnings: Arc<Executor<DebtWarning>>,
    /// Keyed-hash index of civil servants' identity numbers.
    pub index: PersonIndex,
    /// The rules in force (also in every executor's services).
    pub policy: IntegrityPolicy,
}

impl IntegrityCommands {
    /// Executors for every integrity aggregate over `db`.
    pub fn new(db: Db, services: IntegrityServices) -> Self {
        fn shared<A: Aggregate<Services = IntegrityServices>>(
            db: &Db,
            services: &IntegrityServices,
        ) -> Arc<Executor<A>> {
            Arc::new(Executor::new(db.clone(), services.clone()))
        }
        Self {
            subjects: shared(&db, &services),
            civil_servants: shared(&db, &services),
            records: shared(&db, &services),
            rectifications: shared(&db, &services),
            repairs: shared(&db, &services),
            objections: shared(&db, &services),
            commitments: shared(&db, &services),
            supervision_items: shared(&db, &services),
            proposals: shared(&db, &services),
            debt_warnings: shared(&db, &services),
            index: PersonIndex::new(db.clone()),
            policy: services.policy.clone(),
        }
    }

    /// A record's current facts, folded from its events; `None` if never recorded.
    pub async fn record_facts(&self, id: &str) -> AppResult<Option<RecordFacts>> {
        let (record, _) = load(&self.records, id).await?;
        Ok(record.facts(id))
    }

    /// The kind of the subject with this code, `None` when it is not registered (from
    /// the log).
    pub async fn subject_kind(&self, code: &str) -> AppResult<Option<SubjectKind>> {
        Ok(load(&self.subjects, code).await?.0.kind)
    }

    /// Records one row of an imported list (`probity import records`) as a dishonesty
    /// record with the deterministic id `record_id_for(source, source_ref)`: a subject
    /// that is not registered, a record already there and a domain refusal are
    /// outcomes (the importer quarantines or counts them), a store failure is an error.
    #[tracing::instrument(name = "record_import", skip_all, fields(case_id))]
    pub async fn import_record(
        &self,
        row: ImportedRecord,
        recorded_by: Option<&CreditCode>,
        metadata: Metadata,
        at: chrono::DateTime<chrono::Utc>,
    ) -> AppResult<ImportOutcome> {
        let id = record_id_for(row.source, &row.source_ref);
        tracing::Span::current().record("case_id", id.as_str());
        if self
            .subject_kind(row.subject_code.as_str())
            .await?
            .is_none()
        {
            return Ok(ImportOutcome::SubjectNotRegistered);
        }
        let command = RecordCommand::RecordDishonesty {
            target: RecordTarget::Subject {
                code: row.subject_code,
            },
            target_registered: true,
            source: row.source,
            source_ref: row.source_ref,
            decision_date: row.decision_date,
            severity: row.severity,
            sector: row.sector,
            summary: row.summary,
            complaint: None,
            publish_minor: false,
            ban_years: row.ban_years,
            offence: None,
            recorded_by: recorded_by.cloned(),
            at,
        };
        match self.records.execute(&id, command, None, metadata).await {
            Ok(_) => Ok(ImportOutcome::Imported),
            Err(ExecuteError::Domain(RecordError::AlreadyRecorded)) => {
                Ok(ImportOutcome::AlreadyImported)
            }
            Err(ExecuteError::Domain(RecordError::Invalid { field, message })) => {
                Ok(ImportOutcome::Refused {
                    field: field.to_string(),
                    reason: message,
                })
            }
            Err(ExecuteError::Domain(other)) => Ok(ImportOutcome::Refused {
                field: "row".to_string(),
                reason: other.to_string(),
            }),
            Err(e) => Err(e.into()),
        }
    }
}

impl std::fmt::Debug for IntegrityCommands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegrityCommands").finish_non_exhaustive()
    }
}

/// One valid row of an imported list.
#[derive(Debug, Clone)]
pub struct ImportedRecord {
    pub subject_code: CreditCode,
    pub source: Source,
    pub source_ref: String,
    pub decision_date: NaiveDate,
    pub severity: Severity,
    pub sector: Sector,
    pub summary: String,
    pub ban_years: Option<u32>,
}

/// What became of an imported row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// Recorded now.
    Imported,
    /// The same source decision was recorded before.
    AlreadyImported,
    /// The subject is not registered (an import never registers one).
    SubjectNotRegistered,
    /// The record refused the row (`field`: the field it is about, or `row`).
    Refused { field: String, reason: String },
}

/// An aggregate's state folded from its events, and its version.
pub async fn load<A: Aggregate>(executor: &Executor<A>, id: &str) -> AppResult<(A, usize)> {
    let events = executor.load(id).await?;
    let mut aggregate = A::default();
    for event in &events {
        aggregate.apply(event.payload.clone());
    }
    Ok((aggregate, events.len()))
}

/// Folds `(sequence, payload)` pairs of one aggregate, as stored, into its document:
/// each payload is taken to its wire form first, as the projector reads it.
pub fn fold<'a>(
    aggregate_type: &str,
    id: &str,
    events: impl IntoIterator<Item = (u64, &'a Value)>,
) -> AppResult<Option<IntegrityDoc>> {
    let mut doc = None;
    for (sequence, payload) in events {
        let wire = StoredEvent::wire_payload(payload);
        doc = IntegrityDoc::apply(doc, aggregate_type, id, sequence, &wire)
            .map_err(|e| AppError::internal(format!("{aggregate_type} {id} does not fold: {e}")))?;
    }
    Ok(doc)
}

/// The document of an integrity aggregate folded from its history after a command.
fn doc_after<A: Aggregate>(id: &str, history: &[EventEnvelope<A>]) -> AppResult<IntegrityDoc> {
    let payloads: Vec<(u64, Value)> = history
        .iter()
        .map(|e| {
            serde_json::to_value(&e.payload)
                .map(|v| (e.sequence as u64, v))
                .map_err(AppError::internal)
        })
        .collect::<Result<_, _>>()?;
    fold(A::TYPE, id, payloads.iter().map(|(s, v)| (*s, v)))?.ok_or_else(|| {
        AppError::internal(format!("{} {id} has no document after a command", A::TYPE))
    })
}

/// A document completed for `today`, a record with its overlay (read by the caller:
/// before a command, so the stored response and the answer are one document, or fresh
/// by [`App::complete`]).
fn completed(
    doc: AppResult<IntegrityDoc>,
    today: NaiveDate,
    overlay: Option<(bool, bool, bool)>,
) -> AppResult<IntegrityDoc> {
    Ok(match doc? {
        IntegrityDoc::Record(mut v) => {
            let (under, repaired, stopped) = overlay.unwrap_or_default();
            v.overlay(today, under, repaired, stopped);
            IntegrityDoc::Record(v)
        }
        IntegrityDoc::Rectification(mut v) => {
            v.refresh_overdue(today);
            IntegrityDoc::Rectification(v)
        }
        IntegrityDoc::SupervisionItem(mut v) => {
            v.refresh_overdue(today);
            IntegrityDoc::SupervisionItem(v)
        }
        other => other,
    })
}

/// Who decides for the caller: a bound supervisor's authority, else the credit office.
pub fn decider(caller: &Caller) -> Decider {
    match &caller.unit {
        Some(unit) => Decider::Authority(unit.clone()),
        None => Decider::CreditOffice,
    }
}

/// The authority of a bound supervisor (`None` for every other caller).
pub fn bound_supervisor(caller: &Caller) -> Option<&CreditCode> {
    match (caller.role, &caller.unit) {
        (Role::Supervisor, Some(unit)) => Some(unit),
        _ => None,
    }
}

/// The unit a handler acts for (`None` for other roles: intake, the credit office).
pub fn acting_unit(caller: &Caller) -> AppResult<Option<CreditCode>> {
    match caller.role {
        Role::Handler => Ok(Some(caller.handler_unit()?)),
        _ => Ok(None),
    }
}

/// A new dishonesty record, parsed by the adapter.
#[derive(Debug, Clone)]
pub struct NewRecord {
    /// The organisation it is about (or `civil_servant_id`, not both).
    pub subject_code: Option<CreditCode>,
    /// The civil servant it is about.
    pub civil_servant_id: Option<String>,
    pub source: Source,
    pub source_ref: String,
    pub decision_date: NaiveDate,
    pub severity: Severity,
    pub sector: Sector,
    pub summary: String,
    pub complaint_id: Option<String>,
    pub publish: bool,
    pub ban_years: Option<u32>,
    /// The offence a court judgment convicted of (bribery bars bidding).
    pub offence: Option<Offence>,
}

/// A correction of a record after an upheld objection.
#[derive(Debug, Clone)]
pub struct RecordCorrection {
    pub objection_id: String,
    pub summary: Option<String>,
    pub severity: Option<Severity>,
    pub sector: Option<Sector>,
    pub decision_date: Option<NaiveDate>,
}

impl App {
    /// Runs a command on an integrity aggregate, counts its outcome, and returns the
    /// aggregate's document folded from its history (not yet completed).
    #[tracing::instrument(name = "integrity_execute", skip_all, fields(aggregate_type = A::TYPE, case_id = %id))]
    pub async fn run<A>(
        &self,
        executor: &Executor<A>,
        id: &str,
        command: A::Command,
        expected_version: Option<usize>,
        metadata: Metadata,
    ) -> AppResult<IntegrityDoc>
    where
        A: Aggregate,
        A::Command: Clone,
        A::Error: Into<AppError>,
    {
        let result = executor
            .execute_with_history(id, command, expected_version, metadata)
            .await;
        self.count(&result);
        doc_after(id, &result?.history)
    }

    /// Runs a command for a caller and answers with the completed document.
    pub(crate) async fn command<A>(
        &self,
        ctx: CommandContext<'_>,
        executor: &Executor<A>,
        id: &str,
        expected_version: Option<usize>,
        command: A::Command,
    ) -> AppResult<IntegrityDoc>
    where
        A: Aggregate,
        A::Command: Clone,
        A::Error: Into<AppError>,
    {
        if bound_supervisor(ctx.caller).is_some() {
            // A bound supervisor acts only within its authority (what an aggregate is
            // about never changes, so reading it before the command is enough).
            if let Some(doc) = self.read_integrity(A::TYPE, id).await? {
                self.require_authority(ctx.caller, &doc).await?;
            }
        }
        let doc = self
            .run(executor, id, command, expected_version, ctx.metadata())
            .await?;
        self.complete(doc).await
    }

    /// Refuses (`forbidden`) a bound supervisor outside its authority: `unit` is neither
    /// its unit nor under it, and its unit did not record (`recorded_by`) the record.
    /// Every other caller passes (an unbound supervisor is the municipal credit office).
    pub async fn require_within(
        &self,
        caller: &Caller,
        unit: &str,
        recorded_by: Option<&str>,
    ) -> AppResult<()> {
        let Some(authority) = bound_supervisor(caller) else {
            return Ok(());
        };
        if recorded_by == Some(authority.as_str()) || self.is_within(authority, unit).await? {
            return Ok(());
        }
        Err(AppError::Forbidden(format!(
            "{unit} is outside the authority of this supervisor ({})",
            authority.as_str()
        )))
    }

    /// Whether `unit` is `authority` or a unit under it (its parents read from the log).
    pub async fn is_within(&self, authority: &CreditCode, unit: &str) -> AppResult<bool> {
        if unit == authority.as_str() {
            return Ok(true);
        }
        let Ok(unit) = CreditCode::parse(unit) else {
            return Ok(false);
        };
        Ok(self.units_above(&unit).await?.contains(authority))
    }

    /// [`App::require_within`] for an integrity document: the unit it is about and the
    /// authority that recorded the record it concerns.
    pub async fn require_authority(&self, caller: &Caller, doc: &IntegrityDoc) -> AppResult<()> {
        if bound_supervisor(caller).is_none() {
            return Ok(());
        }
        let recorded_by = match doc {
            IntegrityDoc::Record(v) => v.recorded_by.clone(),
            IntegrityDoc::Repair(v) => v.recorded_by.clone(),
            IntegrityDoc::Objection(v) => v.recorded_by.clone(),
            IntegrityDoc::Rectification(v) => self
                .integrity
                .record_facts(&v.record_id)
                .await?
                .and_then(|f| f.recorded_by)
                .map(|c| c.as_str().to_string()),
            _ => None,
        };
        self.require_within(caller, doc.unit(), recorded_by.as_deref())
            .await
    }

    /// Runs a creating command for a caller: the data keys it sealed with and (with an
    /// `Idempotency-Key`) its response commit with its events, in one transaction.
    /// Answers with the completed document, the one stored for replays.
    pub(crate) async fn create<A>(
        &self,
        ctx: CommandContext<'_>,
        executor: &Executor<A>,
        id: &str,
        command: A::Command,
        keys: Vec<NewKey>,
    ) -> AppResult<IntegrityDoc>
    where
        A: Aggregate,
        A::Command: Clone,
        A::Error: Into<AppError>,
    {
        let today = self.clock.today();
        let now = self.clock.now();
        // What other aggregates say of a record, read before: the stored response and
        // the answer are then the same document.
        let overlay = if A::TYPE == RECORD {
            Some(self.views.record_overlay(id).await?)
        } else {
            None
        };
        let once = ctx.once;
        let result = executor
            .execute_writing(id, command, None, ctx.metadata(), |history| {
                let idempotency = match once {
                    Some(once) => {
                        let doc = completed(doc_after(id, history), today, overlay)
                            .map_err(|e| StoreError::Other(e.to_string()))?;
                        Some(once.record(id, doc.to_json()?, now))
                    }
                    None => None,
                };
                Ok(CommandWrites {
                    keys: keys.clone(),
                    idempotency,
                })
            })
            .await;
        self.count(&result);
        completed(doc_after(id, &result?.history), today, overlay)
    }

    /// An integrity document from the read model, or folded from the log when the
    /// projection has not caught up with the aggregate's last event (read-your-writes).
    pub async fn read_integrity(
        &self,
        aggregate_type: &str,
        id: &str,
    ) -> AppResult<Option<IntegrityDoc>> {
        let projected = self.views.integrity_doc(aggregate_type, id).await?;
        let last = self.log.last_sequence(aggregate_type, id).await?;
        match projected {
            Some(doc) if i64::try_from(doc.version()).unwrap_or(i64::MAX) >= last => Ok(Some(doc)),
            _ if last > 0 => {
                let events = self.log.read_aggregate(aggregate_type, id, None).await?;
                fold(
                    aggregate_type,
                    id,
                    events.iter().map(|e| (e.sequence as u64, &e.payload)),
                )
            }
            _ => Ok(None),
        }
    }

    /// Completes a document for the reader's day (record overlay, overdue).
    pub async fn complete(&self, doc: IntegrityDoc) -> AppResult<IntegrityDoc> {
        let overlay = match &doc {
            IntegrityDoc::Record(v) => Some(self.views.record_overlay(&v.id).await?),
            _ => None,
        };
        completed(Ok(doc), self.clock.today(), overlay)
    }

    /// One completed document for `caller`: a handler sees only its own unit's (others
    /// are not found).
    pub async fn integrity_for(
        &self,
        caller: &Caller,
        aggregate_type: &str,
        id: &str,
    ) -> AppResult<IntegrityDoc> {
        let not_found = || AppError::NotFound(format!("{aggregate_type} {id} not found"));
        let doc = self
            .read_integrity(aggregate_type, id)
            .await?
            .ok_or_else(not_found)?;
        if caller.role == Role::Handler
            && caller.unit.as_ref().map(|u| u.as_str()) != Some(doc.unit())
        {
            return Err(not_found());
        }
        self.require_authority(caller, &doc).await?;
        self.complete(doc).await
    }

    /// A subject's integrity archive for `caller` (supervisor, auditor): a bound
    /// supervisor reads only the archives of its unit and the units under it.
    pub async fn archive_for(
        &self,
        caller: &Caller,
        code: &CreditCode,
    ) -> AppResult<Option<probity_views::integrity::Archive>> {
        self.require_within(caller, code.as_str(), None).await?;
        Ok(self
            .views
            .archive(
                code.as_str(),
                self.clock.today(),
                &self.integrity.policy.sanction_months,
            )
            .await?)
    }

    /// The facts of the record a command names (invalid input when there is no such
    /// record).
    pub async fn record_facts_for(&self, record_id: &str) -> AppResult<RecordFacts> {
        if record_id.trim().is_empty() || record_id.len() > 100 {
            return Err(AppError::field("record_id", "invalid", "not a record id"));
        }
        self.integrity
            .record_facts(record_id.trim())
            .await?
            .ok_or_else(|| AppError::field("record_id", "not_found", "no record has this id"))
    }

    // -----------------------------------------------------------------------------------
    // Subjects and civil servants
    // -----------------------------------------------------------------------------------

    /// Registers a subject (its parent, when given, must be a registered government:
    /// the subject decides with the parent's kind read from the log).
    #[tracing::instrument(name = "subject_register", skip_all, fields(actor = %ctx.caller.token_id, case_id = %code))]
    pub async fn register_subject(
        &self,
        ctx: CommandContext<'_>,
        code: CreditCode,
        name: String,
        kind: SubjectKind,
        parent: Option<CreditCode>,
    ) -> AppResult<IntegrityDoc> {
        let parent = match parent {
            Some(parent) => {
                let kind = self.integrity.subject_kind(parent.as_str()).await?;
                Some((parent, kind))
            }
            None => None,
        };
        let command = SubjectCommand::RegisterSubject {
            code: code.clone(),
            name,
            kind,
            parent,
            at: self.clock.now(),
        };
        self.create(
            ctx,
            &self.integrity.subjects,
            code.as_str(),
            command,
            Vec::new(),
        )
        .await
    }

    /// Registers a civil servant in a registered unit: reserves an opaque id in the
    /// keyed-hash index of identity numbers (an identity registered before is
    /// `AlreadyExists`), seals the name and number with a key of their own, and records
    /// the registration. Returns the id.
    #[tracing::instrument(name = "civil_servant_register", skip_all, fields(actor = %ctx.caller.token_id, case_id))]
    pub async fn register_civil_servant(
        &self,
        ctx: CommandContext<'_>,
        identity: &IdentityNumber,
        name: &str,
        unit: CreditCode,
    ) -> AppResult<(String, IntegrityDoc)> {
        if self.integrity.subject_kind(unit.as_str()).await?.is_none() {
            return Err(AppError::field(
                "unit_code",
                "not_found",
                "no subject is registered with this code",
            ));
        }
        let proposed = uuid::Uuid::now_v7().to_string();
        let id = match self
            .integrity
            .index
            .reserve(CIVIL_SERVANT_KIND, identity.expose(), &proposed)
            .await?
        {
            Reserved::New(id) => id,
            Reserved::Existing(id) => {
                if load(&self.integrity.civil_servants, &id).await?.1 > 0 {
                    return Err(AppError::AlreadyExists(format!(
                        "a civil servant with this identity number is registered as {id}"
                    )));
                }
                // An earlier registration reserved the id and failed before its event.
                id
            }
        };
        tracing::Span::current().record("case_id", id.as_str());
        let (person, key) = KeyStore::prepare(&serde_json::json!({
            "name": name,
            "identity_number": identity.expose(),
        }))?;
        let command = CivilServantCommand::RegisterCivilServant {
            person,
            unit_code: unit,
            at: self.clock.now(),
        };
        let doc = self
            .create(ctx, &self.integrity.civil_servants, &id, command, vec![key])
            .await?;
        Ok((id, doc))
    }

    // -----------------------------------------------------------------------------------
    // Dishonesty records
    // -----------------------------------------------------------------------------------

    /// Records a dishonesty finding. The id derives from `source` and `source_ref`, so
    /// the same decision is never recorded twice. The target (subject or civil servant)
    /// and the complaint it came from are read from the log.
    #[tracing::instrument(name = "record_create", skip_all, fields(actor = %ctx.caller.token_id, case_id))]
    pub async fn record_dishonesty(
        &self,
        ctx: CommandContext<'_>,
        record: NewRecord,
    ) -> AppResult<(String, IntegrityDoc)> {
        let (target, registered) = match (record.subject_code, record.civil_servant_id) {
            (Some(code), None) => {
                let registered = self.integrity.subject_kind(code.as_str()).await?.is_some();
                (RecordTarget::Subject { code }, registered)
            }
            (None, Some(id)) => {
                let id = id.trim().to_string();
                let (servant, _) = if id.is_empty() || id.len() > 100 {
                    (CivilServant::default(), 0)
                } else {
                    load(&self.integrity.civil_servants, &id).await?
                };
                match servant.unit_code {
                    Some(unit_code) => (RecordTarget::CivilServant { id, unit_code }, true),
                    None => {
                        return Err(AppError::field(
                            "civil_servant_id",
                            "not_found",
                            "no civil servant has this id",
                        ))
                    }
                }
            }
            _ => {
                return Err(AppError::field(
                    "subject_code",
                    "invalid",
                    "give exactly one of subject_code and civil_servant_id",
                ))
            }
        };
        self.require_within(ctx.caller, target.unit().as_str(), None)
            .await?;
        let complaint = match record.complaint_id.as_deref().map(str::trim) {
            Some(cid) if !cid.is_empty() => {
                let found = cid.len() <= 100 && self.log.last_sequence(COMPLAINT, cid).await? > 0;
                Some((cid.to_string(), found))
            }
            _ => None,
        };
        let id = record_id_for(record.source, &record.source_ref);
        tracing::Span::current().record("case_id", id.as_str());
        let command = RecordCommand::RecordDishonesty {
            target,
            target_registered: registered,
            source: record.source,
            source_ref: record.source_ref,
            decision_date: record.decision_date,
            severity: record.severity,
            sector: record.sector,
            summary: record.summary,
            complaint,
            publish_minor: record.publish,
            ban_years: record.ban_years,
            offence: record.offence,
            recorded_by: ctx.caller.unit.clone(),
            at: self.clock.now(),
        };
        let doc = self
            .create(ctx, &self.integrity.records, &id, command, Vec::new())
            .await?;
        Ok((id, doc))
    }

    /// Runs a verb on a record (withdraw).
    #[tracing::instrument(name = "record_command", skip_all, fields(actor = %ctx.caller.token_id, case_id = %id))]
    pub async fn record_command(
        &self,
        ctx: CommandContext<'_>,
        id: &str,
        expected_version: Option<usize>,
        command: RecordCommand,
    ) -> AppResult<IntegrityDoc> {
        self.command(ctx, &self.integrity.records, id, expected_version, command)
            .await
    }

    /// Corrects or completes record `id` after an upheld objection (read from the log).
    #[tracing::instrument(name = "record_correct", skip_all, fields(actor = %ctx.caller.token_id, case_id = %id))]
    pub async fn correct_record(
        &self,
        ctx: CommandContext<'_>,
        id: &str,
        expected_version: Option<usize>,
        correction: RecordCorrection,
    ) -> AppResult<IntegrityDoc> {
        let oid = correction.objection_id.trim().to_string();
        let (objection, seen) = if oid.is_empty() || oid.len() > 100 {
            (Objection::default(), 0)
        } else {
            load(&self.integrity.objections, &oid).await?
        };
        if seen == 0 {
            return Err(AppError::field(
                "objection_id",
                "not_found",
                "no objection has this id",
            ));
        }
        let command = RecordCommand::CorrectRecord {
            objection: UpheldObjection {
                objection_id: oid,
                about_this_record: objection.record_id.as_deref() == Some(id),
                outcome: objection.outcome,
            },
            summary: correction.summary,
            severity: correction.severity,
            sector: correction.sector,
            decision_date: correction.decision_date,
            at: self.clock.now(),
        };
        self.record_command(ctx, id, expected_version, command)
            .await
    }

    // -----------------------------------------------------------------------------------
    // Rectifications, repairs, objections, commitments
    // -----------------------------------------------------------------------------------

    /// Orders a rectification of a record (its facts read from the log), due in
    /// `working_days`. Returns the new id.
    #[tracing::instrument(name = "rectification_order", skip_all, fields(actor = %ctx.caller.token_id, case_id))]
    pub async fn order_rectification(
        &self,
        ctx: CommandContext<'_>,
        record_id: &str,
        working_days: u32,
    ) -> AppResult<(String, IntegrityDoc)> {
        let record = self.record_facts_for(record_id).await?;
        self.require_within(
            ctx.caller,
            record.unit.as_str(),
            record.recorded_by.as_ref().map(|c| c.as_str()),
        )
        .await?;
        let id = uuid::Uuid::now_v7().to_string();
        tracing::Span::current().record("case_id", id.as_str());
        let command = RectificationCommand::OrderRectification {
            record,
            working_days,
            at: self.clock.now(),
        };
        let doc = self
            .create(
                ctx,
                &self.integrity.rectifications,
                &id,
                command,
                Vec::new(),
            )
            .await?;
        Ok((id, doc))
    }

    /// Runs a verb on a rectification.
    #[tracing::instrument(name = "rectification_command", skip_all, fields(actor = %ctx.caller.token_id, case_id = %id))]
    pub async fn rectification_command(
        &self,
        ctx: CommandContext<'_>,
        id: &str,
        expected_version: Option<usize>,
        command: RectificationCommand,
    ) -> AppResult<IntegrityDoc> {
        self.command(
            ctx,
            &self.integrity.rectifications,
            id,
            expected_version,
            command,
        )
        .await
    }

    /// Applies for a credit repair of a record: the record's facts and its repair
    /// history are read first; the applicant is the caller's unit (a handler) or intake.
    #[tracing::instrument(name = "repair_apply", skip_all, fields(actor = %ctx.caller.token_id, case_id))]
    pub async fn apply_for_repair(
        &self,
        ctx: CommandContext<'_>,
        record_id: &str,
        commitment: String,
        evidence: String,
    ) -> AppResult<(String, IntegrityDoc)> {
        let record = self.record_facts_for(record_id).await?;
        let mut history = self
            .views
            .repair_history(record.unit.as_str(), &record.record_id)
            .await?;
        // Approvals counted on the subject's ledger the repair views may not show yet.
        let known = self.views.repair_approvals(record.unit.as_str()).await?;
        let (subject, _) = load(&self.integrity.subjects, record.unit.as_str()).await?;
        history.approved_on.extend(
            subject
                .repair_approvals
                .iter()
                .filter(|(rid, _)| !known.iter().any(|(k, _)| k == rid))
                .map(|(_, day)| *day),
        );
        history.approved_on.sort();
        let applicant_unit = acting_unit(ctx.caller)?;
        let id = uuid::Uuid::now_v7().to_string();
        tracing::Span::current().record("case_id", id.as_str());
        let command = RepairCommand::ApplyForRepair {
            record,
            history,
            applicant_unit,
            commitment,
            evidence,
            at: self.clock.now(),
        };
        let doc = self
            .create(ctx, &self.integrity.repairs, &id, command, Vec::new())
            .await?;
        Ok((id, doc))
    }

    /// Runs a verb on a repair.
    #[tracing::instrument(name = "repair_command", skip_all, fields(actor = %ctx.caller.token_id, case_id = %id))]
    pub async fn repair_command(
        &self,
        ctx: CommandContext<'_>,
        id: &str,
        expected_version: Option<usize>,
        command: RepairCommand,
    ) -> AppResult<IntegrityDoc> {
        let RepairCommand::ApproveRepair { decider, at } = &command else {
            return self
                .command(ctx, &self.integrity.repairs, id, expected_version, command)
                .await;
        };
        // The frequency limits are checked again at approval, on the subject's ledger:
        // the approval is counted there first (optimistic concurrency on the subject,
        // the executor retrying on a collision), so two approvals for one unit at once
        // are decided one after the other and never both beyond a limit.
        let (repair, _) = load(&self.integrity.repairs, id).await?;
        let ready = repair.status == probity_domain::repair::RepairStatus::Accepted
            && decider.may_decide(repair.recorded_by.as_ref());
        let Some(unit) = repair.unit.clone().filter(|_| ready) else {
            // Refused by the repair itself (not found, status, authority).
            return self
                .command(ctx, &self.integrity.repairs, id, expected_version, command)
                .await;
        };
        if let Some(doc) = self.read_integrity(REPAIR, id).await? {
            self.require_authority(ctx.caller, &doc).await?;
        }
        let (subject, _) = load(&self.integrity.subjects, unit.as_str()).await?;
        let earlier = self
            .views
            .repair_approvals(unit.as_str())
            .await?
            .into_iter()
            .filter(|(rid, _)| rid != id && !subject.repair_approvals.iter().any(|(l, _)| l == rid))
            .map(|(_, day)| day)
            .collect();
        let count = SubjectCommand::CountRepairApproval {
            repair_id: id.to_string(),
            earlier,
            at: *at,
        };
        match self
            .run(
                &self.integrity.subjects,
                unit.as_str(),
                count,
                None,
                ctx.metadata(),
            )
            .await
        {
            Ok(_) | Err(AppError::Subject(SubjectError::AlreadyCounted { .. })) => {}
            Err(e) => return Err(e),
        }
        let approved = self
            .command(ctx, &self.integrity.repairs, id, expected_version, command)
            .await;
        if approved.is_err() {
            // Decided otherwise in between (or a stale If-Match): the count is taken back.
            let uncount = SubjectCommand::UncountRepairApproval {
                repair_id: id.to_string(),
                at: self.clock.now(),
            };
            if let Err(e) = self
                .run(
                    &self.integrity.subjects,
                    unit.as_str(),
                    uncount,
                    None,
                    ctx.metadata(),
                )
                .await
            {
                tracing::warn!(error = %e, "a counted repair approval could not be taken back");
            }
        }
        approved
    }

    /// Files an objection against a record (its facts read from the log): the record
    /// shows `under_objection` in every view at once.
    #[tracing::instrument(name = "objection_file", skip_all, fields(actor = %ctx.caller.token_id, case_id))]
    pub async fn file_objection(
        &self,
        ctx: CommandContext<'_>,
        record_id: &str,
        grounds: Grounds,
        detail: String,
    ) -> AppResult<(String, IntegrityDoc)> {
        let record = self.record_facts_for(record_id).await?;
        let filed_by_unit = acting_unit(ctx.caller)?;
        let id = uuid::Uuid::now_v7().to_string();
        tracing::Span::current().record("case_id", id.as_str());
        let command = ObjectionCommand::FileObjection {
            record,
            grounds,
            detail,
            filed_by_unit,
            at: self.clock.now(),
        };
        let doc = self
            .create(ctx, &self.integrity.objections, &id, command, Vec::new())
            .await?;
        Ok((id, doc))
    }

    /// Runs a verb on an objection.
    #[tracing::instrument(name = "objection_command", skip_all, fields(actor = %ctx.caller.token_id, case_id = %id))]
    pub async fn objection_command(
        &self,
        ctx: CommandContext<'_>,
        id: &str,
        expected_version: Option<usize>,
        command: ObjectionCommand,
    ) -> AppResult<IntegrityDoc> {
        self.command(
            ctx,
            &self.integrity.objections,
            id,
            expected_version,
            command,
        )
        .await
    }

    /// Records a commitment of a subject (whether it is registered is read from the
    /// log); a handler commits for its own unit.
    #[tracing::instrument(name = "commitment_make", skip_all, fields(actor = %ctx.caller.token_id, case_id))]
    pub async fn make_commitment(
        &self,
        ctx: CommandContext<'_>,
        subject_code: CreditCode,
        kind: CommitmentKind,
        text: String,
        due_date: Option<NaiveDate>,
    ) -> AppResult<(String, IntegrityDoc)> {
        let registered = self
            .integrity
            .subject_kind(subject_code.as_str())
            .await?
            .is_some();
        let by_unit = acting_unit(ctx.caller)?;
        let id = uuid::Uuid::now_v7().to_string();
        tracing::Span::current().record("case_id", id.as_str());
        let command = CommitmentCommand::MakeCommitment {
            subject_code,
            subject_registered: registered,
            by_unit,
            kind,
            text,
            due_date,
            at: self.clock.now(),
        };
        let doc = self
            .create(ctx, &self.integrity.commitments, &id, command, Vec::new())
            .await?;
        Ok((id, doc))
    }

    /// Runs a verb on a commitment.
    #[tracing::instrument(name = "commitment_command", skip_all, fields(actor = %ctx.caller.token_id, case_id = %id))]
    pub async fn commitment_command(
        &self,
        ctx: CommandContext<'_>,
        id: &str,
        expected_version: Option<usize>,
        command: CommitmentCommand,
    ) -> AppResult<IntegrityDoc> {
        self.command(
            ctx,
            &self.integrity.commitments,
            id,
            expected_version,
            command,
        )
        .await
    }

    /// Runs a verb on a civil servant.
    #[tracing::instrument(name = "civil_servant_command", skip_all, fields(actor = %ctx.caller.token_id, case_id = %id))]
    pub async fn civil_servant_command(
        &self,
        ctx: CommandContext<'_>,
        id: &str,
        expected_version: Option<usize>,
        command: CivilServantCommand,
    ) -> AppResult<IntegrityDoc> {
        self.command(
            ctx,
            &self.integrity.civil_servants,
            id,
            expected_version,
            command,
        )
        .await
    }
}
