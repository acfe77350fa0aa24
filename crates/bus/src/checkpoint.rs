//! Checkpoints of the relay (`relay_checkpoints`) and of the in-process bus
//! (`local_bus_checkpoints`), in portable SQL through `db.any` (migration 0030).
//!
//! A save never moves a checkpoint backwards, so a relay that lost its lock and still
//! finishes a batch cannot undo the progress of the one that took over.

use probity_store::{Checkpoint, Db};

use crate::BusError;

/// Which checkpoint table.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Table {
    /// `relay_checkpoints`, keyed by relay (the stream name).
    Relay,
    /// `local_bus_checkpoints`, keyed by projector name.
    Local,
}

impl Table {
    fn load_sql(self) -> &'static str {
        match self {
            Table::Relay => "SELECT tx_id, position FROM relay_checkpoints WHERE relay = $1",
            Table::Local => {
                "SELECT tx_id, position FROM local_bus_checkpoints WHERE projector = $1"
            }
        }
    }

    fn save_sql(self) -> &'static str {
        match self {
            Table::Relay => {
                "INSERT INTO relay_checkpoints (relay, tx_id, position) VALUES ($1, $2, $3) \
                 ON CONFLICT (relay) DO UPDATE SET tx_id = excluded.tx_id, position = excluded.position \
                 WHERE relay_checkpoints.tx_id < excluded.tx_id \
                    OR (relay_checkpoints.tx_id = excluded.tx_id AND relay_checkpoints.position < excluded.position)"
            }
            Table::Local => {
                "INSERT INTO local_bus_checkpoints (projector, tx_id, position) VALUES ($1, $2, $3) \
                 ON CONFLICT (projector) DO UPDATE SET tx_id = excluded.tx_id, position = excluded.position \
                 WHERE local_bus_checkpoints.tx_id < excluded.tx_id \
                    OR (local_bus_checkpoints.tx_id = excluded.tx_id AND local_bus_checkpoints.position < excluded.position)"
            }
        }
    }
}

/// The saved checkpoint, `Checkpoint::ZERO` when none was saved yet.
pub(crate) async fn load(db: &Db, table: Table, key: &str) -> Result<Checkpoint, BusError> {
    let row: Option<(i64, i64)> = sqlx::query_as(table.load_sql())
        .bind(key)
        .fetch_optional(&db.any)
        .await?;
    Ok(row
        .map(|(tx_id, position)| Checkpoint { tx_id, position })
        .unwrap_or(Checkpoint::ZERO))
}

/// Saves `at` unless a later checkpoint is already stored.
pub(crate) async fn save(db: &Db, table: Table, key: &str, at: Checkpoint) -> Result<(), BusError> {
    sqlx::query(table.save_sql())
        .bind(key)
        .bind(at.tx_id)
        .bind(at.position)
        .execute(&db.any)
        .await?;
    Ok(())
}
