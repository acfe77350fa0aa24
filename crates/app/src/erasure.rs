//! Erasing a reporter's personal data (crypto-shredding).
//!
//! [`erase_reporter`] records `ReporterErased` on the complaint FIRST (the domain refuses
//! an anonymous case and a second erasure), then destroys the key named by the event with
//! [`KeyStore::destroy`]. The log keeps the ciphertext, which nothing can open any more;
//! the reporter block reads `{"erased": true}` with every personal field null from then
//! on. Should the key destruction fail after the event is recorded, running the erasure
//! again destroys the key before answering that the reporter is already erased, so a
//! retry always completes the shredding.
//!
//! [`erase_civil_servant`] does the same for a civil servant's sealed name and identity
//! number, and also removes them from the keyed-hash index.
//!
//! Used by `probity erase reporter <id> --reason TEXT` and `probity erase civil-servant
//! <id> --reason TEXT`; no HTTP route exposes them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use probity_domain::aggregate_type::COMPLAINT;
use probity_domain::complaint::{Complaint, ComplaintCommand, ComplaintError, ComplaintEvent};
use probity_store::{EventLog, ExecuteError, Executor, KeyStore, Metadata};

use crate::error::AppError;
use crate::integrity::{load, IntegrityCommands, CIVIL_SERVANT_KIND};
use crate::validate::MAX_TEXT_CHARS;
use crate::App;

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    /// The destroyed key.
    pub key_id: String,
    /// The complaint's version after the erasure (the `ReporterErased` sequence).
    pub version: usize,
    /// Whether a live key was destroyed now (`false` if it was already gone).
    pub key_destroyed: bool,
}

/// The parts an erasure needs: the complaint executor, the log and the key store.
#[derive(Clone, Copy)]
pub struct ErasureParts<'a> {
    pub complaints: &'a Executor<Complaint>,
    pub log: &'a EventLog,
    pub keys: &'a KeyStore,
}

impl std::fmt::Debug for ErasureParts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErasureParts").finish_non_exhaustive()
    }
}

/// The metadata of an erasure: the actor (not blank), the purpose and a fresh request id.
fn erasure_metadata(actor: &str) -> Result<Metadata, AppError> {
    if actor.trim().is_empty() {
        return Err(AppError::field(
            "actor",
            "missing",
            "actor must not be empty",
        ));
    }
    let mut metadata = HashMap::new();
    metadata.insert("actor".to_string(), actor.to_string());
    metadata.insert("purpose".to_string(), "erasure".to_string());
    metadata.insert("request_id".to_string(), uuid::Uuid::now_v7().to_string());
    Ok(metadata)
}

/// Erases the reporter of complaint `complaint_id`: records `ReporterErased` (with
/// `reason`, by `actor`, at `at`) FIRST, then destroys its key. Errors: not found for an
/// unknown case, invalid input for a blank or too long reason, the complaint's refusal
/// (`AnonymousReporter`, `ReporterAlreadyErased`) for an anonymous case or one already
/// erased.
#[tracing::instrument(name = "reporter_erase", skip(parts, reason, at), fields(case_id = %complaint_id))]
pub async fn erase_reporter(
    parts: ErasureParts<'_>,
    complaint_id: &str,
    reason: &str,
    actor: &str,
    at: DateTime<Utc>,
) -> Result<Erasure, AppError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::field(
            "reason",
            "missing",
            "reason must not be empty",
        ));
    }
    if reason.chars().count() > MAX_TEXT_CHARS {
        return Err(AppError::field(
            "reason",
            "too_long",
            format!("reason must be at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    let metadata = erasure_metadata(actor)?;
    let command = ComplaintCommand::EraseReporter {
        reason: reason.to_string(),
        at,
    };
    match parts
        .complaints
        .execute(complaint_id, command, None, metadata)
        .await
    {
        Ok(envelopes) => {
            let Some((key_id, version)) = envelopes.iter().find_map(|e| match &e.payload {
                ComplaintEvent::ReporterErased { key_id, .. } => Some((key_id.clone(), e.sequence)),
                _ => None,
            }) else {
                return Err(AppError::internal("an erasure recorded no ReporterErased"));
            };
            let key_destroyed = parts.keys.destroy(&key_id).await?;
            tracing::info!(case_id = %complaint_id, %key_id, "reporter erased");
            Ok(Erasure {
                key_id,
                version,
                key_destroyed,
            })
        }
        Err(ExecuteError::Domain(ComplaintError::ReporterAlreadyErased)) => {
            // A retry after a failed key destruction: finish the shredding first.
            let events = parts
                .log
                .read_aggregate(COMPLAINT, complaint_id, None)
                .await?;
            for e in &events {
                if let Some(key_id) = e
                    .payload
                    .get("ReporterErased")
                    .and_then(|r| r.get("key_id"))
                    .and_then(|k| k.as_str())
                {
                    parts.keys.destroy(key_id).await?;
                }
            }
            Err(ComplaintError::ReporterAlreadyErased.into())
        }
        Err(e) => Err(e.into()),
    }
}

impl App {
    /// [`erase_reporter`] with this application's components and clock.
    pub async fn erase_reporter(
        &self,
        complaint_id: &str,
        reason: &str,
        actor: &str,
    ) -> Result<Erasure, AppError> {
        let parts = ErasureParts {
            complaints: &self.complaints,
            log: &self.log,
            keys: &self.keys,
        };
        erase_reporter(parts, complaint_id, reason, actor, self.clock.now()).await
    }

    /// [`erase_civil_servant`] with this application's components and clock.
    pub async fn erase_civil_servant(
        &self,
        civil_servant_id: &str,
        reason: &str,
        actor: &str,
    ) -> Result<Erasure, AppError> {
        erase_civil_servant(
            &self.integrity,
            &self.keys,
            civil_servant_id,
            reason,
            actor,
            self.clock.now(),
        )
        .await
    }
}

/// Erases a civil servant's personal data: records `CivilServantDataErased` FIRST, then
/// destroys the key that sealed their name and identity number and removes their entry
/// from the keyed-hash index. Their records stay (under the opaque id); nothing can show
/// who they were any more. A retry after a failed destruction finishes the shredding
/// before answering that the data is already erased.
///
/// Used by `probity erase civil-servant <id> --reason TEXT`.
#[tracing::instrument(name = "civil_servant_erase", skip(integrity, keys, reason, at))]
pub async fn erase_civil_servant(
    integrity: &IntegrityCommands,
    keys: &KeyStore,
    civil_servant_id: &str,
    reason: &str,
    actor: &str,
    at: DateTime<Utc>,
) -> Result<Erasure, AppError> {
    use probity_domain::civil_servant::{
        CivilServantCommand, CivilServantError, CivilServantEvent,
    };
    let metadata = erasure_metadata(actor)?;
    let command = CivilServantCommand::ErasePersonalData {
        reason: reason.trim().to_string(),
        at,
    };
    match integrity
        .civil_servants
        .execute(civil_servant_id, command, None, metadata)
        .await
    {
        Ok(envelopes) => {
            let Some((key_id, version)) = envelopes.iter().find_map(|e| match &e.payload {
                CivilServantEvent::CivilServantDataErased { key_id, .. } => {
                    Some((key_id.clone(), e.sequence))
                }
                _ => None,
            }) else {
                return Err(AppError::internal(
                    "an erasure recorded no CivilServantDataErased",
                ));
            };
            let key_destroyed = keys.destroy(&key_id).await?;
            integrity
                .index
                .forget(CIVIL_SERVANT_KIND, civil_servant_id)
                .await?;
            tracing::info!(civil_servant_id, %key_id, "civil servant's personal data erased");
            Ok(Erasure {
                key_id,
                version,
                key_destroyed,
            })
        }
        Err(ExecuteError::Domain(CivilServantError::AlreadyErased)) => {
            let (servant, _) = load(&integrity.civil_servants, civil_servant_id).await?;
            if let Some(key_id) = servant.key_id {
                keys.destroy(&key_id).await?;
            }
            integrity
                .index
                .forget(CIVIL_SERVANT_KIND, civil_servant_id)
                .await?;
            Err(CivilServantError::AlreadyErased.into())
        }
        Err(e) => Err(e.into()),
    }
}
