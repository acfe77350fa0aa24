//! Probity's read models: the complaint view and the deadline board, the integrity
//! documents, the stored assessment, the projectors that keep them current from
//! committed events, their reads, and rebuild from the log.
//!
//! Everything here is portable SQL on `Db::any` (Postgres or SQLite), in the tables of
//! migrations 0010-0019. Projection is idempotent and ordered per aggregate through
//! `projection_positions`, so the bus may redeliver or reorder freely; a projector
//! applies a whole batch of events in one transaction with set-based SQL (`batch`).

use std::sync::Arc;

use probity_store::{Db, Projector};

pub mod assessment;
mod batch;
pub mod complaint_view;
pub mod error;
pub mod fold;
pub mod integrity;
pub mod open_data;
pub mod open_data_assessments;
pub mod projector;
pub mod rebuild;
mod sql;
pub mod store;

pub use complaint_view::{ComplaintView, ExtensionView};
pub use error::ViewError;
pub use fold::{decode_wire, DecodeError, Fold};
pub use integrity::IntegrityProjector;
pub use projector::{ComplaintProjector, KIND_COMPLAINT_REPLY, KIND_COMPLAINT_SIGN};
pub use rebuild::{dump, rebuild, rebuild_requested};
pub use store::{ComplaintFilter, DeadlineEntry, DeadlineFilter, DeadlineState, Page, Views};

/// Every projector of this crate, for the bus consumers and rebuild.
pub fn projectors(db: &Db) -> Vec<Arc<dyn Projector>> {
    vec![
        Arc::new(ComplaintProjector::new(db.clone())),
        Arc::new(integrity::IntegrityProjector::new(db.clone())),
    ]
}
