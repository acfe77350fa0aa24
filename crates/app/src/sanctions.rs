//! Civil servants' sanctions (政务处分), annual assessments (年度考核), honours restriction
//! and integrity archive (issue 10 item 9, issue 11 item 6). The rules are the domain's
//! (`probity_domain::civil_servant`); here: ids, jurisdiction, and the access log of every
//! read of a person's archive or restriction, recorded BEFORE the data is served.

use chrono::NaiveDate;
use probity_domain::access::AccessCommand;
use probity_domain::aggregate_type::CIVIL_SERVANT;
use probity_domain::civil_servant::{AssessmentResult, CivilServantCommand, SanctionType};
use probity_views::integrity::{
    AssessmentResultView, CivilServantArchive, CivilServantView, HonoursRestriction, IntegrityDoc,
    PersonFile, SanctionView,
};

use crate::access::access_log_id;
use crate::error::{AppError, AppResult};
use crate::integrity::bound_supervisor;
use crate::{App, CommandContext};

/// A sanction to record, parsed by the adapter.
#[derive(Debug, Clone)]
pub struct NewSanction {
    pub sanction_type: SanctionType,
    /// 处分决定书文号.
    pub decision_ref: String,
    pub decision_date: NaiveDate,
}

/// Purpose recorded in the access log for an archive read.
pub const ARCHIVE_PURPOSE: &str = "civil_servant_archive";
/// Purpose recorded in the access log for a restriction (eligibility) read.
pub const ELIGIBILITY_PURPOSE: &str = "civil_servant_eligibility";

impl App {
    /// Records a sanction of civil servant `id` (a bound supervisor: only within its
    /// jurisdiction); answers with the sanction as the archive shows it.
    #[tracing::instrument(name = "sanction_impose", skip_all, fields(actor = %ctx.caller.token_id, case_id = %id))]
    pub async fn impose_sanction(
        &self,
        ctx: CommandContext<'_>,
        id: &str,
        expected_version: Option<usize>,
        sanction: NewSanction,
    ) -> AppResult<SanctionView> {
        let sanction_id = uuid::Uuid::new_v4().to_string();
        let command = CivilServantCommand::ImposeSanction {
            sanction_id: sanction_id.clone(),
            sanction_type: sanction.sanction_type,
            decision_ref: sanction.decision_ref,
            decision_date: sanction.decision_date,
            at: self.clock.now(),
        };
        let file = self
            .person_command(ctx, id, expected_version, command)
            .await?;
        self.sanction_of(file, &sanction_id)
    }

    /// Revokes a sanction of civil servant `id` after review or appeal.
    #[tracing::instrument(name = "sanction_revoke", skip_all, fields(actor = %ctx.caller.token_id, case_id = %id))]
    pub async fn revoke_sanction(
        &self,
        ctx: CommandContext<'_>,
        id: &str,
        expected_version: Option<usize>,
        sanction_id: &str,
        reason: String,
    ) -> AppResult<SanctionView> {
        let command = CivilServantCommand::RevokeSanction {
            sanction_id: sanction_id.trim().to_string(),
            reason,
            at: self.clock.now(),
        };
        let file = self
            .person_command(ctx, id, expected_version, command)
            .await?;
        self.sanction_of(file, sanction_id.trim())
    }

    /// Records the annual assessment result of `year` for civil servant `id` (admin).
    #[tracing::instrument(name = "assessment_record", skip_all, fields(actor = %ctx.caller.token_id, case_id = %id))]
    pub async fn record_assessment(
        &self,
        ctx: CommandContext<'_>,
        id: &str,
        expected_version: Option<usize>,
        year: i32,
        result: AssessmentResult,
    ) -> AppResult<AssessmentResultView> {
        let command = CivilServantCommand::RecordAssessment {
            year,
            result,
            at: self.clock.now(),
        };
        let file = self
            .person_command(ctx, id, expected_version, command)
            .await?;
        file.assessments()
            .iter()
            .find(|a| a.year == year)
            .cloned()
            .ok_or_else(|| AppError::internal(format!("the assessment of {year} was not kept")))
    }

    /// The integrity archive of civil servant `id` for a supervisor (bound: within its
    /// jurisdiction) or auditor; the read is recorded in the person's access log first.
    #[tracing::instrument(name = "civil_servant_archive", skip_all, fields(actor = %ctx.caller.token_id, case_id = %id))]
    pub async fn civil_servant_archive(
        &self,
        ctx: CommandContext<'_>,
        id: &str,
    ) -> AppResult<CivilServantArchive> {
        let person = self.person_read(ctx, id, ARCHIVE_PURPOSE).await?;
        let today = self.clock.today();
        let file = self.person_file(id).await?;
        let records = self.views.civil_servant_records(id, today).await?;
        Ok(file.archive(
            person,
            records,
            today,
            &self.integrity.policy.sanction_months,
        ))
    }

    /// The honours restriction (评优评先) of civil servant `id` today, read like the
    /// archive (recorded first).
    #[tracing::instrument(name = "civil_servant_eligibility", skip_all, fields(actor = %ctx.caller.token_id, case_id = %id))]
    pub async fn civil_servant_restriction(
        &self,
        ctx: CommandContext<'_>,
        id: &str,
    ) -> AppResult<HonoursRestriction> {
        self.person_read(ctx, id, ELIGIBILITY_PURPOSE).await?;
        let today = self.clock.today();
        let file = self.person_file(id).await?;
        let records = self.views.civil_servant_records(id, today).await?;
        Ok(file.restriction(&records, today, &self.integrity.policy.sanction_months))
    }

    /// The person's document for a reader, after jurisdiction, with the read recorded
    /// (`PersonalDataRead`) before anything is served.
    async fn person_read(
        &self,
        ctx: CommandContext<'_>,
        id: &str,
        purpose: &str,
    ) -> AppResult<CivilServantView> {
        let Some(IntegrityDoc::CivilServant(person)) =
            self.read_integrity(CIVIL_SERVANT, id).await?
        else {
            return Err(AppError::NotFound(format!("civil servant {id} not found")));
        };
        self.require_within(ctx.caller, &person.unit_code, None)
            .await?;
        let read = AccessCommand::RecordPersonalDataRead {
            case_type: CIVIL_SERVANT.to_string(),
            case_id: id.to_string(),
            actor: ctx.caller.token_id.clone(),
            role: ctx.caller.role.as_str().to_string(),
            purpose: purpose.to_string(),
            at: self.clock.now(),
        };
        self.access
            .execute(
                &access_log_id(CIVIL_SERVANT, id),
                read,
                None,
                ctx.metadata(),
            )
            .await?;
        self.metrics.record_personal_data_read();
        Ok(person)
    }

    /// The person's sanctions and assessments, folded from their events.
    async fn person_file(&self, id: &str) -> AppResult<PersonFile> {
        let events = self.integrity.civil_servants.load(id).await?;
        Ok(PersonFile::fold(events.iter().map(|e| &e.payload)))
    }

    /// Runs a command on civil servant `id` (a bound supervisor only within its
    /// jurisdiction) and folds the person's file from the history it leaves.
    async fn person_command(
        &self,
        ctx: CommandContext<'_>,
        id: &str,
        expected_version: Option<usize>,
        command: CivilServantCommand,
    ) -> AppResult<PersonFile> {
        if bound_supervisor(ctx.caller).is_some() {
            if let Some(doc) = self.read_integrity(CIVIL_SERVANT, id).await? {
                self.require_authority(ctx.caller, &doc).await?;
            }
        }
        let result = self
            .integrity
            .civil_servants
            .execute_with_history(id, command, expected_version, ctx.metadata())
            .await;
        self.count(&result);
        let history = result?.history;
        Ok(PersonFile::fold(history.iter().map(|e| &e.payload)))
    }

    fn sanction_of(&self, file: PersonFile, sanction_id: &str) -> AppResult<SanctionView> {
        file.sanctions(self.clock.today())
            .into_iter()
            .find(|s| s.sanction_id == sanction_id)
            .ok_or_else(|| AppError::internal(format!("sanction {sanction_id} was not kept")))
    }
}
