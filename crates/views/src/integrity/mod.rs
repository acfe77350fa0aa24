//! Read models of the integrity records (issue 3): the documents and their folds
//! (`docs`), the projector that keeps them (`projector`), and the reads (`queries`):
//! public disclosure, sector lists, eligibility, archive.

pub mod docs;
pub mod projector;
pub mod queries;

pub use docs::*;
pub use projector::{
    IntegrityProjector, KIND_OBJECTION_CHECK, KIND_OBJECTION_DECISION, KIND_RECORD_WITHDRAWAL,
    KIND_RECTIFICATION, KIND_REPAIR_ACCEPTANCE, KIND_REPAIR_DECISION,
};
pub use queries::{
    Archive, Eligibility, IneligibleReason, PublicRecord, PublicRecordFilter, PublicSubject,
    RecordFilter, SectorListEntry,
};
