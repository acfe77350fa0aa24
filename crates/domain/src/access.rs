//! The access log: every read of personal data is itself an event, kept in an aggregate
//! of its own per case so a read never bumps the case's version.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Commands of the access log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AccessCommand {
    /// Record that `actor` read the personal data of `case_type`/`case_id`.
    RecordPersonalDataRead {
        /// Aggregate type of the case read, e.g. `complaint`.
        case_type: String,
        /// Id of the case read.
        case_id: String,
        /// Who read (not blank).
        actor: String,
        /// The reader's role.
        role: String,
        /// Why the data was read (endpoint or task).
        purpose: String,
        /// When the command was issued.
        at: DateTime<Utc>,
    },
    /// Record that `actor` read the event history of `aggregate_type`/`aggregate_id`.
    RecordHistoryRead {
        /// Aggregate type whose history was read, e.g. `complaint`.
        aggregate_type: String,
        /// Id of the aggregate whose history was read.
        aggregate_id: String,
        /// Who read (not blank).
        actor: String,
        /// The reader's role.
        role: String,
        /// Why the history was read (the `X-Purpose` header, default `audit`).
        purpose: String,
        /// When the command was issued.
        at: DateTime<Utc>,
    },
    /// Record that `actor` exported a verifiable bundle of `aggregate_type`/`aggregate_id`.
    RecordExport {
        /// Aggregate type exported, e.g. `complaint`.
        aggregate_type: String,
        /// Id of the aggregate exported.
        aggregate_id: String,
        /// Who exported (not blank).
        actor: String,
        /// The exporter's role.
        role: String,
        /// Why the bundle was exported.
        purpose: String,
        /// When the command was issued.
        at: DateTime<Utc>,
    },
    /// Record that `actor` pulled the open-data set `dataset` in bulk (evaluators, §3).
    RecordOpenDataRead {
        /// The data set read, e.g. `records`.
        dataset: String,
        /// The cursor the pull started after (`None`: the whole set).
        since: Option<String>,
        /// Who read (not blank).
        actor: String,
        /// The reader's role.
        role: String,
        /// Why the data was read.
        purpose: String,
        /// When the command was issued.
        at: DateTime<Utc>,
    },
}

/// Events of the access log (documented in `docs/events.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AccessEvent {
    /// `actor` (with `role`) read the personal data of `case_type`/`case_id` for
    /// `purpose` at `at`. Carries who read, never what was read.
    PersonalDataRead {
        /// Aggregate type of the case read, e.g. `complaint`.
        case_type: String,
        /// Id of the case read.
        case_id: String,
        /// Who read.
        actor: String,
        /// The reader's role.
        role: String,
        /// Why the data was read (endpoint or task).
        purpose: String,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// `actor` (with `role`) read the event history of `aggregate_type`/`aggregate_id`
    /// for `purpose` at `at`.
    HistoryRead {
        /// Aggregate type whose history was read, e.g. `complaint`.
        aggregate_type: String,
        /// Id of the aggregate whose history was read.
        aggregate_id: String,
        /// Who read.
        actor: String,
        /// The reader's role.
        role: String,
        /// Why the history was read.
        purpose: String,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// `actor` (with `role`) exported a verifiable bundle of `aggregate_type`/`aggregate_id`
    /// for `purpose` at `at`. Recorded before the bundle is handed out.
    BundleExported {
        /// Aggregate type exported, e.g. `complaint`.
        aggregate_type: String,
        /// Id of the aggregate exported.
        aggregate_id: String,
        /// Who exported.
        actor: String,
        /// The exporter's role.
        role: String,
        /// Why the bundle was exported.
        purpose: String,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// `actor` (with `role`) pulled the open-data set `dataset` in bulk, after cursor
    /// `since` (the whole set when `None`), for `purpose` at `at`. Recorded before the
    /// first line is served.
    OpenDataRead {
        /// The data set read, e.g. `records`.
        dataset: String,
        /// The cursor the pull started after.
        since: Option<String>,
        /// Who read.
        actor: String,
        /// The reader's role.
        role: String,
        /// Why the data was read.
        purpose: String,
        /// When it happened.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for AccessEvent {
    fn event_type(&self) -> String {
        match self {
            Self::PersonalDataRead { .. } => "PersonalDataRead".to_string(),
            Self::HistoryRead { .. } => "HistoryRead".to_string(),
            Self::BundleExported { .. } => "BundleExported".to_string(),
            Self::OpenDataRead { .. } => "OpenDataRead".to_string(),
        }
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// Why a read could not be recorded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AccessError {
    /// A required field is missing (HTTP 422 `validation_failed`).
    #[error("{0}")]
    Invalid(String),
}

/// The access log of one case: how many reads it holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AccessLog {
    /// Number of recorded reads of personal data.
    pub reads: u64,
    /// Number of recorded history reads.
    pub history_reads: u64,
    /// Number of recorded bundle exports.
    pub exports: u64,
    /// Number of recorded bulk reads of open data.
    pub bulk_reads: u64,
}

/// Refuses a blank actor: every access must name who made it.
fn require_actor(actor: &str) -> Result<(), AccessError> {
    if actor.trim().is_empty() {
        Err(AccessError::Invalid("actor is required".into()))
    } else {
        Ok(())
    }
}

impl Aggregate for AccessLog {
    const TYPE: &'static str = crate::aggregate_type::ACCESS_LOG;
    type Command = AccessCommand;
    type Event = AccessEvent;
    type Error = AccessError;
    type Services = ();

    #[tracing::instrument(name = "access_log.handle", skip_all)]
    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        match command {
            AccessCommand::RecordPersonalDataRead {
                case_type,
                case_id,
                actor,
                role,
                purpose,
                at,
            } => {
                require_actor(&actor)?;
                sink.write(
                    AccessEvent::PersonalDataRead {
                        case_type,
                        case_id,
                        actor,
                        role,
                        purpose,
                        at,
                    },
                    self,
                )
                .await;
                Ok(())
            }
            AccessCommand::RecordHistoryRead {
                aggregate_type,
                aggregate_id,
                actor,
                role,
                purpose,
                at,
            } => {
                require_actor(&actor)?;
                sink.write(
                    AccessEvent::HistoryRead {
                        aggregate_type,
                        aggregate_id,
                        actor,
                        role,
                        purpose,
                        at,
                    },
                    self,
                )
                .await;
                Ok(())
            }
            AccessCommand::RecordExport {
                aggregate_type,
                aggregate_id,
                actor,
                role,
                purpose,
                at,
            } => {
                require_actor(&actor)?;
                sink.write(
                    AccessEvent::BundleExported {
                        aggregate_type,
                        aggregate_id,
                        actor,
                        role,
                        purpose,
                        at,
                    },
                    self,
                )
                .await;
                Ok(())
            }
            AccessCommand::RecordOpenDataRead {
                dataset,
                since,
                actor,
                role,
                purpose,
                at,
            } => {
                require_actor(&actor)?;
                sink.write(
                    AccessEvent::OpenDataRead {
                        dataset,
                        since,
                        actor,
                        role,
                        purpose,
                        at,
                    },
                    self,
                )
                .await;
                Ok(())
            }
        }
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            AccessEvent::PersonalDataRead { .. } => self.reads = self.reads.saturating_add(1),
            AccessEvent::HistoryRead { .. } => {
                self.history_reads = self.history_reads.saturating_add(1)
            }
            AccessEvent::BundleExported { .. } => self.exports = self.exports.saturating_add(1),
            AccessEvent::OpenDataRead { .. } => self.bulk_reads = self.bulk_reads.saturating_add(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use cqrs_es::test::TestFramework;

    use super::*;

    fn read_by(actor: &str) -> AccessCommand {
        AccessCommand::RecordPersonalDataRead {
            case_type: "complaint".into(),
            case_id: "c-1".into(),
            actor: actor.into(),
            role: "auditor".into(),
            purpose: "complaint_view".into(),
            at: Utc.with_ymd_and_hms(2025, 10, 9, 2, 0, 0).unwrap(),
        }
    }

    fn read_event(actor: &str) -> AccessEvent {
        AccessEvent::PersonalDataRead {
            case_type: "complaint".into(),
            case_id: "c-1".into(),
            actor: actor.into(),
            role: "auditor".into(),
            purpose: "complaint_view".into(),
            at: Utc.with_ymd_and_hms(2025, 10, 9, 2, 0, 0).unwrap(),
        }
    }

    #[test]
    fn a_read_of_personal_data_is_recorded() {
        TestFramework::<AccessLog>::with(())
            .given_no_previous_events()
            .when(read_by("token:auditor-1"))
            .then_expect_events(vec![read_event("token:auditor-1")]);
    }

    #[test]
    fn every_further_read_is_recorded_too() {
        TestFramework::<AccessLog>::with(())
            .given(vec![read_event("a"), read_event("b")])
            .when(read_by("a"))
            .then_expect_events(vec![read_event("a")]);
    }

    #[test]
    fn a_read_without_an_actor_is_refused() {
        for actor in ["", "  "] {
            TestFramework::<AccessLog>::with(())
                .given_no_previous_events()
                .when(read_by(actor))
                .then_expect_error(AccessError::Invalid("actor is required".into()));
        }
    }

    fn history_read_by(actor: &str) -> AccessCommand {
        AccessCommand::RecordHistoryRead {
            aggregate_type: "complaint".into(),
            aggregate_id: "c-1".into(),
            actor: actor.into(),
            role: "auditor".into(),
            purpose: "audit".into(),
            at: Utc.with_ymd_and_hms(2025, 10, 9, 3, 0, 0).unwrap(),
        }
    }

    fn history_read_event(actor: &str) -> AccessEvent {
        AccessEvent::HistoryRead {
            aggregate_type: "complaint".into(),
            aggregate_id: "c-1".into(),
            actor: actor.into(),
            role: "auditor".into(),
            purpose: "audit".into(),
            at: Utc.with_ymd_and_hms(2025, 10, 9, 3, 0, 0).unwrap(),
        }
    }

    #[test]
    fn a_history_read_is_recorded() {
        TestFramework::<AccessLog>::with(())
            .given(vec![read_event("a")])
            .when(history_read_by("token:auditor-1"))
            .then_expect_events(vec![history_read_event("token:auditor-1")]);
    }

    #[test]
    fn a_history_read_without_an_actor_is_refused() {
        for actor in ["", " \t"] {
            TestFramework::<AccessLog>::with(())
                .given_no_previous_events()
                .when(history_read_by(actor))
                .then_expect_error(AccessError::Invalid("actor is required".into()));
        }
    }

    #[test]
    fn the_log_counts_history_reads_apart_from_personal_data_reads() {
        let mut log = AccessLog::default();
        log.apply(read_event("a"));
        log.apply(history_read_event("b"));
        log.apply(history_read_event("c"));
        assert_eq!((log.reads, log.history_reads), (1, 2));
        let event = history_read_event("a");
        assert_eq!(event.event_type(), "HistoryRead");
        assert_eq!(event.event_version(), "1");
        let json = serde_json::to_value(&event).unwrap();
        assert!(json.get("HistoryRead").is_some(), "{json}");
    }

    #[test]
    fn the_log_counts_its_reads() {
        let mut log = AccessLog::default();
        log.apply(read_event("a"));
        log.apply(read_event("b"));
        assert_eq!(log.reads, 2);
        assert_eq!(AccessLog::TYPE, "access_log");
        assert_eq!(read_event("a").event_type(), "PersonalDataRead");
        assert_eq!(read_event("a").event_version(), "1");
    }

    fn export_by(actor: &str) -> AccessCommand {
        AccessCommand::RecordExport {
            aggregate_type: "complaint".into(),
            aggregate_id: "c-1".into(),
            actor: actor.into(),
            role: "auditor".into(),
            purpose: "export".into(),
            at: Utc.with_ymd_and_hms(2025, 10, 9, 4, 0, 0).unwrap(),
        }
    }

    fn export_event(actor: &str) -> AccessEvent {
        AccessEvent::BundleExported {
            aggregate_type: "complaint".into(),
            aggregate_id: "c-1".into(),
            actor: actor.into(),
            role: "auditor".into(),
            purpose: "export".into(),
            at: Utc.with_ymd_and_hms(2025, 10, 9, 4, 0, 0).unwrap(),
        }
    }

    #[test]
    fn an_export_is_recorded() {
        TestFramework::<AccessLog>::with(())
            .given(vec![read_event("a"), history_read_event("b")])
            .when(export_by("token:auditor-1"))
            .then_expect_events(vec![export_event("token:auditor-1")]);
    }

    #[test]
    fn an_export_without_an_actor_is_refused() {
        for actor in ["", "  "] {
            TestFramework::<AccessLog>::with(())
                .given_no_previous_events()
                .when(export_by(actor))
                .then_expect_error(AccessError::Invalid("actor is required".into()));
        }
    }

    #[test]
    fn the_log_counts_its_exports() {
        let mut log = AccessLog::default();
        log.apply(export_event("a"));
        log.apply(read_event("b"));
        assert_eq!((log.reads, log.history_reads, log.exports), (1, 0, 1));
        let event = export_event("a");
        assert_eq!(event.event_type(), "BundleExported");
        assert_eq!(event.event_version(), "1");
        let json = serde_json::to_value(&event).unwrap();
        assert!(json.get("BundleExported").is_some(), "{json}");
    }

    fn bulk_read_by(actor: &str, since: Option<&str>) -> AccessCommand {
        AccessCommand::RecordOpenDataRead {
            dataset: "records".into(),
            since: since.map(str::to_string),
            actor: actor.into(),
            role: "evaluator".into(),
            purpose: "open_data".into(),
            at: Utc.with_ymd_and_hms(2025, 10, 9, 16, 0, 0).unwrap(),
        }
    }

    fn bulk_read_event(actor: &str, since: Option<&str>) -> AccessEvent {
        AccessEvent::OpenDataRead {
            dataset: "records".into(),
            since: since.map(str::to_string),
            actor: actor.into(),
            role: "evaluator".into(),
            purpose: "open_data".into(),
            at: Utc.with_ymd_and_hms(2025, 10, 9, 16, 0, 0).unwrap(),
        }
    }

    #[test]
    fn a_bulk_read_of_open_data_is_recorded_with_its_cursor() {
        TestFramework::<AccessLog>::with(())
            .given(vec![bulk_read_event("token:evaluator-1", None)])
            .when(bulk_read_by("token:evaluator-1", Some("abc")))
            .then_expect_events(vec![bulk_read_event("token:evaluator-1", Some("abc"))]);
    }

    #[test]
    fn a_bulk_read_without_an_actor_is_refused() {
        for actor in ["", "  "] {
            TestFramework::<AccessLog>::with(())
                .given_no_previous_events()
                .when(bulk_read_by(actor, None))
                .then_expect_error(AccessError::Invalid("actor is required".into()));
        }
    }

    #[test]
    fn the_log_counts_its_bulk_reads() {
        let mut log = AccessLog::default();
        log.apply(bulk_read_event("a", None));
        log.apply(export_event("b"));
        assert_eq!((log.exports, log.bulk_reads), (1, 1));
        let event = bulk_read_event("a", None);
        assert_eq!(event.event_type(), "OpenDataRead");
        assert_eq!(event.event_version(), "1");
        let json = serde_json::to_value(&event).unwrap();
        assert!(json.get("OpenDataRead").is_some(), "{json}");
    }
}
