//! Read models of the integrity records (issue 3): the documents and their folds
//! (`docs`), the projector that keeps them (`projector`), and the reads (`queries`):
//! public disclosure, sector lists, eligibility, archive.

pub mod debt;
pub mod docs;
pub mod person;
pub mod projector;
pub mod queries;
pub mod restrictions;
pub mod standing;

pub use debt::DebtWarningItem;
pub use docs::*;
pub use person::{
    AssessmentResultView, CivilServantArchive, HonoursRestriction, PersonFile,
    RestrictionReasonView, SanctionView,
};
pub use projector::{
    IntegrityProjector, KIND_OBJECTION_CHECK, KIND_OBJECTION_DECISION, KIND_RECORD_WITHDRAWAL,
    KIND_RECTIFICATION, KIND_REPAIR_ACCEPTANCE, KIND_REPAIR_DECISION, KIND_SUPERVISION_REPLY,
};
pub use queries::{
    Archive, Eligibility, IneligibleReason, PublicCommitment, PublicRecord, PublicRecordFilter,
    PublicSubject, RecordFilter, SectorListEntry, SupervisionItemFilter, PUBLIC_COMMITMENT_KINDS,
};
pub use restrictions::{Restriction, RestrictionReason};
pub use standing::{GoodStanding, GoodStandingList};
