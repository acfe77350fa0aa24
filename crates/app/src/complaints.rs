//! Complaints (投诉举报): filing, every verb of the closed loop, and the reads that
//! answer them. A command runs through the complaint executor and answers with the view
//! folded from the history it was decided on plus its new events, so a client reads its
//! own write whatever the projection's lag. Who may see which case (a handler its own
//! unit's, a bound supervisor its authority's) is decided here, on the log when the
//! projection may lag; the reporter block is opened only after the read is recorded in
//! the case's access log.

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::EventEnvelope;
use probity_domain::access::AccessCommand;
use probity_domain::aggregate_type::COMPLAINT;
use probity_domain::complaint::Complaint;
use probity_domain::complaint::{Category, Channel, ComplaintCommand, ComplaintError};
use probity_domain::reporter::{ReporterIdentity, SealedReporter};
use probity_domain::CreditCode;
use probity_store::{CommandWrites, KeyStore, Metadata, NewKey, StoreError, StoredEvent};
use probity_views::{ComplaintFilter, ComplaintView, Fold, Page};

use crate::access::access_log_id;
use crate::error::{AppError, AppResult};
use crate::tokens::{Caller, Role};
use crate::{App, CommandContext, Once};

/// A new complaint, validated by the adapter.
#[derive(Clone)]
pub struct NewComplaint {
    pub category: Category,
    pub channel: Channel,
    /// The body complained about.
    pub subject_code: Option<CreditCode>,
    pub title: String,
    pub description: String,
    /// The reporter in the clear (sealed here before the command is built); `None` for
    /// an anonymous report.
    pub reporter: Option<ReporterIdentity>,
}

impl std::fmt::Debug for NewComplaint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the reporter, the title or the description (personal data).
        f.debug_struct("NewComplaint")
            .field("category", &self.category)
            .field("channel", &self.channel)
            .field("anonymous", &self.reporter.is_none())
            .finish_non_exhaustive()
    }
}

/// The reporter of a case as shown to an authorised reader.
#[derive(Clone, PartialEq, Eq)]
pub enum ReporterDisclosure {
    /// Nothing to show: an anonymous report (or no sealed reporter in the log).
    Nothing,
    /// The reporter in the clear.
    Identity(ReporterIdentity),
    /// The key was destroyed (crypto-shredded): the fields are gone for good.
    Erased,
}

impl std::fmt::Debug for ReporterDisclosure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReporterDisclosure::Nothing => "Nothing",
            ReporterDisclosure::Identity(_) => "Identity(..)",
            ReporterDisclosure::Erased => "Erased",
        })
    }
}

/// The complaint view folded from stored events, `overdue` for `today`.
pub fn fold(
    id: &str,
    events: &[StoredEvent],
    today: NaiveDate,
) -> AppResult<Option<ComplaintView>> {
    let view = ComplaintView::from_stored(id, events)
        .map_err(|e| AppError::internal(format!("complaint {id} does not fold: {e}")))?;
    Ok(view.map(|mut v| {
        v.refresh_overdue(today);
        v
    }))
}

/// The view of a case after a command: folded from its history (the new events last),
/// `overdue` for `today`.
fn view_after(
    id: &str,
    history: &[EventEnvelope<Complaint>],
    today: NaiveDate,
) -> AppResult<ComplaintView> {
    let mut view =
        ComplaintView::from_events(id, history.iter().map(|e| (e.sequence as u64, &e.payload)))
            .ok_or_else(|| {
                AppError::internal(format!("complaint {id} has no events after a command"))
            })?;
    view.refresh_overdue(today);
    Ok(view)
}

/// The unit a case is about for jurisdiction: its handling unit, or before dispatch the
/// body complained about.
pub fn case_unit(view: &ComplaintView) -> Option<&str> {
    view.unit.as_deref().or(view.subject_code.as_deref())
}

/// The store lease merges are serialised under, across servers (ADR 0020).
const MERGE_LEASE: &str = "complaint-merges";
/// How long a merge may hold the lease before another server may take it over (a crashed
/// server blocks merges this long at most).
const MERGE_LEASE_LENGTH: std::time::Duration = std::time::Duration::from_secs(30);
/// How long a merge waits for the lease before it is refused (409 `conflict`).
const MERGE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl App {
    /// Runs a complaint command, counts its outcome, and returns the case's view after
    /// it, folded from the history the command was decided on plus its new events (no
    /// second read of the log).
    #[tracing::instrument(name = "complaint_execute", skip_all, fields(case_id = %id))]
    pub async fn execute_complaint(
        &self,
        id: &str,
        command: ComplaintCommand,
        expected_version: Option<usize>,
        metadata: Metadata,
    ) -> AppResult<ComplaintView> {
        self.execute_complaint_writing(id, command, expected_version, metadata, Vec::new(), None)
            .await
    }

    /// [`App::execute_complaint`] that also commits `keys` and, for a creating request
    /// with an `Idempotency-Key`, its response, in the transaction of the events.
    async fn execute_complaint_writing(
        &self,
        id: &str,
        command: ComplaintCommand,
        expected_version: Option<usize>,
        metadata: Metadata,
        keys: Vec<NewKey>,
        once: Option<&Once>,
    ) -> AppResult<ComplaintView> {
        let today = self.clock.today();
        let now = self.clock.now();
        let result = self
            .complaints
            .execute_writing(id, command, expected_version, metadata, |history| {
                let idempotency = match once {
                    Some(once) => {
                        let view = view_after(id, history, today)
                            .map_err(|e| StoreError::Other(e.to_string()))?;
                        Some(once.record(id, serde_json::to_value(&view)?, now))
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
        view_after(id, &result?.history, today)
    }

    /// The complaint's events straight from the log (optionally up to `as_of`).
    pub async fn complaint_events(
        &self,
        id: &str,
        as_of: Option<DateTime<Utc>>,
    ) -> AppResult<Vec<StoredEvent>> {
        Ok(self.log.read_aggregate(COMPLAINT, id, as_of).await?)
    }

    /// The complaint folded from the log: always current, whatever the projection's lag.
    pub async fn fold_complaint(&self, id: &str) -> AppResult<Option<ComplaintView>> {
        let events = self.complaint_events(id, None).await?;
        fold(id, &events, self.clock.today())
    }

    /// The complaint from the read model, or folded from the log if the projection has
    /// not caught up with the case's last event yet (read-your-writes).
    pub async fn read_complaint(&self, id: &str) -> AppResult<Option<ComplaintView>> {
        let projected = self.views.complaint(id, self.clock.today()).await?;
        let last = self.log.last_sequence(COMPLAINT, id).await?;
        match projected {
            Some(view) if i64::try_from(view.version).unwrap_or(i64::MAX) >= last => Ok(Some(view)),
            // Not projected yet, or behind the log (a write this client just made).
            _ if last > 0 => self.fold_complaint(id).await,
            _ => Ok(None),
        }
    }

    /// A bound supervisor's jurisdiction: its authority and the subjects under it (a
    /// government's departments); `None` for every other caller (no limit).
    pub async fn jurisdiction(&self, caller: &Caller) -> AppResult<Option<Vec<String>>> {
        match (caller.role, &caller.unit) {
            (Role::Supervisor, Some(unit)) => {
                Ok(Some(self.views.jurisdiction(unit.as_str()).await?))
            }
            _ => Ok(None),
        }
    }

    /// Runs `command` on complaint `id` for the caller and answers with the updated view.
    /// A bound supervisor acts only on cases within its authority (and dispatches only
    /// there).
    #[tracing::instrument(name = "complaint_command", skip_all, fields(case_id = %id, actor = %ctx.caller.token_id))]
    pub async fn complaint_command(
        &self,
        ctx: CommandContext<'_>,
        id: &str,
        expected_version: Option<usize>,
        command: ComplaintCommand,
    ) -> AppResult<ComplaintView> {
        let mut command = command;
        if let ComplaintCommand::DispatchComplaint { unit, above, .. } = &mut command {
            // Reporter protection (信访工作条例 art. 30) is decided by the complaint on
            // the units above the target, read here from the log.
            *above = self.units_above(unit).await?;
        }
        if let Some(units) = self.jurisdiction(ctx.caller).await? {
            let outside =
                || AppError::Forbidden("the case is outside this supervisor's authority".into());
            let view = self
                .fold_complaint(id)
                .await?
                .ok_or_else(|| AppError::NotFound("complaint not found".into()))?;
            if !case_unit(&view).is_some_and(|u| units.iter().any(|x| x == u)) {
                return Err(outside());
            }
            if let ComplaintCommand::DispatchComplaint { unit, .. } = &command {
                if !units.iter().any(|x| x == unit.as_str()) {
                    return Err(outside());
                }
            }
        }
        self.execute_complaint(id, command, expected_version, ctx.metadata())
            .await
    }

    /// Files a new complaint: seals the reporter with a key of its own and records
    /// `ComplaintFiled`; the key, the event and (with an `Idempotency-Key`) the response
    /// commit in one transaction. Returns the new id and the view.
    #[tracing::instrument(name = "complaint_file", skip_all, fields(actor = %ctx.caller.token_id, case_id))]
    pub async fn file_complaint(
        &self,
        ctx: CommandContext<'_>,
        complaint: NewComplaint,
    ) -> AppResult<(String, ComplaintView)> {
        let id = uuid::Uuid::now_v7().to_string();
        tracing::Span::current().record("case_id", id.as_str());
        let anonymous = complaint.reporter.is_none();
        let (reporter, keys) = match &complaint.reporter {
            Some(identity) => {
                let (sealed, key) = KeyStore::prepare(identity)?;
                (Some(sealed), vec![key])
            }
            None => (None, Vec::new()),
        };
        let file = ComplaintCommand::FileComplaint {
            category: complaint.category,
            channel: complaint.channel,
            subject_code: complaint.subject_code,
            title: complaint.title.trim().to_string(),
            description: complaint.description,
            anonymous,
            reporter,
            at: self.clock.now(),
        };
        let view = self
            .execute_complaint_writing(&id, file, None, ctx.metadata(), keys, ctx.once)
            .await?;
        Ok((id, view))
    }

    /// Merges case `id` into the existing case `into` (which must exist).
    #[tracing::instrument(name = "complaint_merge", skip_all, fields(case_id = %id, actor = %ctx.caller.token_id))]
    pub async fn merge_complaint(
        &self,
        ctx: CommandContext<'_>,
        id: &str,
        into: &str,
        expected_version: Option<usize>,
    ) -> AppResult<ComplaintView> {
        let into = into.trim().to_string();
        if into.is_empty() {
            return Err(AppError::field("into", "missing", "into must name a case"));
        }
        if into == id {
            return Err(AppError::field(
                "into",
                "same_case",
                "a case cannot be merged into itself",
            ));
        }
        // Merges run one at a time on every server of the store: the target's status read
        // here is the one the merge is decided on, so no two opposite merges (A into B
        // here, B into A on another server) both see an open case (ADR 0020). The
        // process mutex queues this server's merges; the store lease, the servers'.
        let _serialised = self.merges.lock().await;
        let Some(lease) =
            probity_store::Lease::acquire(&self.db, MERGE_LEASE, MERGE_LEASE_LENGTH, MERGE_WAIT)
                .await?
        else {
            return Err(AppError::Conflict(
                "another merge is under way; try again".into(),
            ));
        };
        let merged = self
            .merge_under_lease(ctx, id, &into, expected_version)
            .await;
        match lease.release().await {
            Ok(true) => {}
            Ok(false) => tracing::warn!("the merge lease ran out before the merge ended"),
            Err(error) => tracing::warn!(%error, "giving back the merge lease failed"),
        }
        merged
    }

    /// The merge of `id` into `into`, decided and recorded while this caller holds the
    /// merge lease.
    async fn merge_under_lease(
        &self,
        ctx: CommandContext<'_>,
        id: &str,
        into: &str,
        expected_version: Option<usize>,
    ) -> AppResult<ComplaintView> {
        let into = into.to_string();
        let (target, _) = crate::integrity::load(&self.complaints, &into).await?;
        if target.status == probity_domain::complaint::Status::New {
            return Err(AppError::NotFound(format!(
                "the case to merge into ({into}) was not found"
            )));
        }
        let command = ComplaintCommand::MergeComplaint {
            into: into.clone(),
            into_status: target.status,
            at: self.clock.now(),
        };
        let view = self
            .complaint_command(ctx, id, expected_version, command)
            .await?;
        // The target records what was merged into it (its readers see `merged_from`).
        let record = ComplaintCommand::RecordMergedIn {
            from: id.to_string(),
            at: self.clock.now(),
        };
        match self
            .execute_complaint(&into, record, None, ctx.metadata())
            .await
        {
            Ok(_) | Err(AppError::Complaint(ComplaintError::AlreadyMergedIn { .. })) => {}
            Err(e) => return Err(e),
        }
        Ok(view)
    }

    /// The registered units above `unit`: its parent government, that one's parent, …
    /// (from the log; a loop in the registry stops the walk).
    pub async fn units_above(&self, unit: &CreditCode) -> AppResult<Vec<CreditCode>> {
        let mut above: Vec<CreditCode> = Vec::new();
        let mut next = unit.clone();
        while let Some(parent) = crate::integrity::load(&self.integrity.subjects, next.as_str())
            .await?
            .0
            .parent_code
        {
            if &parent == unit || above.contains(&parent) {
                break;
            }
            above.push(parent.clone());
            next = parent;
        }
        Ok(above)
    }

    /// One complaint as `caller` may see it: a handler only its unit's cases (then or
    /// now, with `as_of`), a bound supervisor only its authority's; others are not found
    /// (their existence is not revealed). With `as_of`, the case as it stood then,
    /// folded from the log; otherwise the read model with read-your-writes.
    pub async fn complaint_for(
        &self,
        caller: &Caller,
        id: &str,
        as_of: Option<DateTime<Utc>>,
    ) -> AppResult<ComplaintView> {
        let not_found = || AppError::NotFound(format!("complaint {id} not found"));
        let units = self.jurisdiction(caller).await?;
        let within = |v: &ComplaintView| match &units {
            Some(units) => case_unit(v).is_some_and(|u| units.iter().any(|x| x == u)),
            None => true,
        };
        let own = |v: &ComplaintView| caller.unit.as_ref().map(|u| u.as_str()) == v.unit.as_deref();
        let view = match as_of {
            Some(t) => {
                // Never from the projection: the log up to `as_of`, folded.
                let events = self.log.read_aggregate(COMPLAINT, id, Some(t)).await?;
                let then = fold(id, &events, self.clock.day_at(t))?;
                if caller.role == Role::Handler {
                    // The handler's unit must hold the case then or now.
                    let now = self.fold_complaint(id).await?.ok_or_else(not_found)?;
                    if !own(&now) && !then.as_ref().is_some_and(own) {
                        return Err(not_found());
                    }
                }
                then.ok_or_else(not_found)?
            }
            None => {
                let mut view = self.read_complaint(id).await?.ok_or_else(not_found)?;
                if caller.role == Role::Handler && !own(&view) {
                    // The projection may lag behind a dispatch: decide on the log.
                    view = self.fold_complaint(id).await?.ok_or_else(not_found)?;
                    if !own(&view) {
                        return Err(not_found());
                    }
                }
                if !within(&view) {
                    // Decide on the log too: the projection may lag behind a dispatch.
                    view = self.fold_complaint(id).await?.ok_or_else(not_found)?;
                }
                view
            }
        };
        if !within(&view) {
            return Err(not_found());
        }
        Ok(view)
    }

    /// The reporter of case `id` for an authorised reader: records the read
    /// (`PersonalDataRead`) in the case's access log FIRST, then opens the sealed block.
    #[tracing::instrument(name = "reporter_disclose", skip_all, fields(case_id = %id, actor = %ctx.caller.token_id))]
    pub async fn disclose_reporter(
        &self,
        ctx: CommandContext<'_>,
        id: &str,
        anonymous: bool,
        purpose: &str,
    ) -> AppResult<ReporterDisclosure> {
        if anonymous {
            return Ok(ReporterDisclosure::Nothing);
        }
        let events = self.complaint_events(id, None).await?;
        let sealed: Option<SealedReporter> = events.iter().find_map(|e| {
            e.payload
                .get("ComplaintFiled")
                .and_then(|filed| filed.get("reporter"))
                .and_then(|r| serde_json::from_value::<SealedReporter>(r.clone()).ok())
        });
        let Some(sealed) = sealed else {
            return Ok(ReporterDisclosure::Nothing);
        };
        let read = AccessCommand::RecordPersonalDataRead {
            case_type: COMPLAINT.to_string(),
            case_id: id.to_string(),
            actor: ctx.caller.token_id.clone(),
            role: ctx.caller.role.as_str().to_string(),
            purpose: purpose.to_string(),
            at: self.clock.now(),
        };
        self.access
            .execute(&access_log_id(COMPLAINT, id), read, None, ctx.metadata())
            .await?;
        self.metrics.record_personal_data_read();
        Ok(match self.keys.open(&sealed).await? {
            Some(identity) => ReporterDisclosure::Identity(identity),
            None => ReporterDisclosure::Erased,
        })
    }

    /// A page of complaints for `caller`: a handler sees only its own unit's (whatever
    /// `filter.unit` says), a bound supervisor only its authority's (a unit outside it
    /// is forbidden).
    pub async fn complaint_list(
        &self,
        caller: &Caller,
        mut filter: ComplaintFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> AppResult<Page<ComplaintView>> {
        if caller.role == Role::Handler {
            filter.unit = Some(caller.handler_unit()?.to_string());
        }
        let units = self.jurisdiction(caller).await?;
        if let (Some(units), Some(unit)) = (&units, &filter.unit) {
            if !units.contains(unit) {
                return Err(AppError::Forbidden(
                    "the unit is outside this supervisor's authority".into(),
                ));
            }
        }
        filter.units = units;
        Ok(self
            .views
            .complaints(&filter, self.clock.today(), limit, cursor)
            .await?)
    }
}
