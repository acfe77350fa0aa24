//! Sealing inside the commit (issue 9 item 4, ADR 0013): the group committer writes each
//! event's seal — its hash linked to the aggregate's previous event, and its place in the
//! one global chain — in the transaction that appends it, so there is no moment in which
//! a committed event is unsealed and could be changed unprovably.
//!
//! The chain's head (`audit_chain_head`) is one row. On Postgres a batch locks it first
//! (`SELECT … FOR UPDATE`, the transaction's first statement) and holds it until its
//! commit, so batches extend the chain one after the other in commit order, however many
//! servers write to the database. On SQLite one writer at a time holds the database.
//!
//! An event is sealed here when its aggregate's previous event is sealed (or it is the
//! aggregate's first). One that follows an unsealed event — written before this release,
//! or inserted behind the committer's back — is left to the background sealer
//! (`probity_audit::Sealer`), which seals such events in commit-safe order, so an
//! aggregate's events always enter the chain in sequence order.
use std::collections::HashMap;

use cqrs_es::persist::SerializedEvent;
use sqlx::Row;

use crate::hash::{chain_hash, finish_event_hash, hash_prefix, EventParts, ZERO_HASH};

/// The chain after its last seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub next_index: i64,
    pub chain_hash: String,
}

/// One row of `event_seals`.
#[derive(Debug, Clone)]
pub(crate) struct SealRow {
    pub position: i64,
    pub chain_index: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_hash: String,
    pub prev_event_hash: String,
    pub chain_hash: String,
}

/// An event of the batch with the position the insert gave it.
pub(crate) struct Appended<'a> {
    pub position: i64,
    pub event: &'a SerializedEvent,
}

type Key = (String, String);

/// Locks the chain head for this transaction (Postgres; the transaction's first statement).
pub(crate) async fn lock_head_pg(tx: &mut sqlx::PgConnection) -> Result<Option<Head>, sqlx::Error> {
    let row =
        sqlx::query("SELECT next_index, chain_hash FROM audit_chain_head WHERE id = 1 FOR UPDATE")
            .fetch_optional(&mut *tx)
            .await?;
    row.map(|r| {
        Ok(Head {
            next_index: r.try_get(0)?,
            chain_hash: r.try_get(1)?,
        })
    })
    .transpose()
}

/// The chain head (SQLite: the caller's transaction already holds the write lock).
pub(crate) async fn head_sqlite(
    tx: &mut sqlx::SqliteConnection,
) -> Result<Option<Head>, sqlx::Error> {
    let row = sqlx::query("SELECT next_index, chain_hash FROM audit_chain_head WHERE id = 1")
        .fetch_optional(&mut *tx)
        .await?;
    row.map(|r| {
        Ok(Head {
            next_index: r.try_get(0)?,
            chain_hash: r.try_get(1)?,
        })
    })
    .transpose()
}

/// The aggregates of `appended` whose first event in the batch follows an earlier one,
/// with that earlier sequence: their previous event hashes are looked up.
fn predecessors(appended: &[Appended<'_>]) -> HashMap<Key, i64> {
    let mut first: HashMap<Key, i64> = HashMap::new();
    for a in appended {
        let key = (a.event.aggregate_type.clone(), a.event.aggregate_id.clone());
        let sequence = a.event.sequence as i64;
        first
            .entry(key)
            .and_modify(|s| *s = (*s).min(sequence))
            .or_insert(sequence);
    }
    first
        .into_iter()
        .filter(|(_, s)| *s > 1)
        .map(|(k, s)| (k, s - 1))
        .collect()
}

/// The seals of the batch's events (in position order) on `head`, which moves; events
/// whose aggregate's previous event has no seal (not in `previous`) are left out.
fn seal_rows(
    head: &mut Head,
    mut appended: Vec<Appended<'_>>,
    wanted: &HashMap<Key, i64>,
    previous: &HashMap<Key, String>,
) -> Vec<SealRow> {
    appended.sort_by_key(|a| a.position);
    let mut last: HashMap<Key, String> = HashMap::new();
    let mut rows = Vec::with_capacity(appended.len());
    for a in appended {
        let e = a.event;
        let key = (e.aggregate_type.clone(), e.aggregate_id.clone());
        let prev = match last.get(&key) {
            Some(h) => h.clone(),
            None if e.sequence == 1 => ZERO_HASH.to_string(),
            None if wanted.get(&key) == Some(&(e.sequence as i64 - 1)) => {
                match previous.get(&key) {
                    Some(h) => h.clone(),
                    None => continue,
                }
            }
            None => continue,
        };
        let sequence = e.sequence as i64;
        let hash = finish_event_hash(
            hash_prefix(&EventParts {
                aggregate_type: &e.aggregate_type,
                aggregate_id: &e.aggregate_id,
                sequence,
                event_type: &e.event_type,
                event_version: &e.event_version,
                payload: &e.payload,
                metadata: &e.metadata,
            }),
            &prev,
        );
        head.chain_hash = chain_hash(&head.chain_hash, &hash);
        rows.push(SealRow {
            position: a.position,
            chain_index: head.next_index,
            aggregate_type: e.aggregate_type.clone(),
            aggregate_id: e.aggregate_id.clone(),
            sequence,
            event_hash: hash.clone(),
            prev_event_hash: prev,
            chain_hash: head.chain_hash.clone(),
        });
        head.next_index += 1;
        last.insert(key, hash);
    }
    rows
}

/// Seals the batch's events in the batch's transaction (Postgres), on the head locked by
/// [`lock_head_pg`]. Returns how many were sealed.
pub(crate) async fn seal_pg(
    tx: &mut sqlx::PgConnection,
    mut head: Head,
    appended: Vec<Appended<'_>>,
) -> Result<usize, sqlx::Error> {
    let wanted = predecessors(&appended);
    let mut previous = HashMap::new();
    if !wanted.is_empty() {
        let (mut types, mut ids, mut sequences) = (Vec::new(), Vec::new(), Vec::new());
        for ((t, i), s) in &wanted {
            types.push(t.as_str());
            ids.push(i.as_str());
            sequences.push(*s);
        }
        let rows = sqlx::query(
            "SELECT s.aggregate_type, s.aggregate_id, s.event_hash
               FROM event_seals s
               JOIN UNNEST($1::text[], $2::text[], $3::bigint[]) AS u(t, i, q)
                 ON s.aggregate_type = u.t AND s.aggregate_id = u.i AND s.sequence = u.q",
        )
        .bind(&types)
        .bind(&ids)
        .bind(&sequences)
        .fetch_all(&mut *tx)
        .await?;
        for r in rows {
            previous.insert((r.try_get(0)?, r.try_get(1)?), r.try_get(2)?);
        }
    }
    let rows = seal_rows(&mut head, appended, &wanted, &previous);
    if rows.is_empty() {
        return Ok(0);
    }
    let positions: Vec<i64> = rows.iter().map(|r| r.position).collect();
    let indexes: Vec<i64> = rows.iter().map(|r| r.chain_index).collect();
    let types: Vec<&str> = rows.iter().map(|r| r.aggregate_type.as_str()).collect();
    let ids: Vec<&str> = rows.iter().map(|r| r.aggregate_id.as_str()).collect();
    let sequences: Vec<i64> = rows.iter().map(|r| r.sequence).collect();
    let event_hashes: Vec<&str> = rows.iter().map(|r| r.event_hash.as_str()).collect();
    let prev_hashes: Vec<&str> = rows.iter().map(|r| r.prev_event_hash.as_str()).collect();
    let chain_hashes: Vec<&str> = rows.iter().map(|r| r.chain_hash.as_str()).collect();
    sqlx::query(
        "INSERT INTO event_seals (position, chain_index, aggregate_type, aggregate_id, sequence, event_hash, prev_event_hash, chain_hash)
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[])",
    )
    .bind(&positions)
    .bind(&indexes)
    .bind(&types)
    .bind(&ids)
    .bind(&sequences)
    .bind(&event_hashes)
    .bind(&prev_hashes)
    .bind(&chain_hashes)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE audit_chain_head SET next_index = $1, chain_hash = $2 WHERE id = 1")
        .bind(head.next_index)
        .bind(&head.chain_hash)
        .execute(&mut *tx)
        .await?;
    Ok(rows.len())
}

/// Rows per SQLite seal `INSERT` (8 parameters each).
const SQLITE_SEALS_PER_STATEMENT: usize = 200;

/// [`seal_pg`] on SQLite (the transaction holds the database's write lock).
pub(crate) async fn seal_sqlite(
    tx: &mut sqlx::SqliteConnection,
    mut head: Head,
    appended: Vec<Appended<'_>>,
) -> Result<usize, sqlx::Error> {
    let wanted = predecessors(&appended);
    let mut previous = HashMap::new();
    for ((t, i), s) in &wanted {
        let hash: Option<String> = sqlx::query_scalar(
            "SELECT event_hash FROM event_seals WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = $3",
        )
        .bind(t)
        .bind(i)
        .bind(s)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(hash) = hash {
            previous.insert((t.clone(), i.clone()), hash);
        }
    }
    let rows = seal_rows(&mut head, appended, &wanted, &previous);
    if rows.is_empty() {
        return Ok(0);
    }
    for chunk in rows.chunks(SQLITE_SEALS_PER_STATEMENT) {
        let mut sql = String::from(
            "INSERT INTO event_seals (position, chain_index, aggregate_type, aggregate_id, sequence, event_hash, prev_event_hash, chain_hash) VALUES ",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&crate::repo::row_placeholders(i, 8));
        }
        let mut query = sqlx::query(&sql);
        for r in chunk {
            query = query
                .bind(r.position)
                .bind(r.chain_index)
                .bind(&r.aggregate_type)
                .bind(&r.aggregate_id)
                .bind(r.sequence)
                .bind(&r.event_hash)
                .bind(&r.prev_event_hash)
                .bind(&r.chain_hash);
        }
        query.execute(&mut *tx).await?;
    }
    sqlx::query("UPDATE audit_chain_head SET next_index = $1, chain_hash = $2 WHERE id = 1")
        .bind(head.next_index)
        .bind(&head.chain_hash)
        .execute(&mut *tx)
        .await?;
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, sequence: usize) -> SerializedEvent {
        SerializedEvent::new(
            id.to_string(),
            sequence,
            "complaint".to_string(),
            "Something".to_string(),
            "1".to_string(),
            serde_json::json!({ "n": sequence }),
            serde_json::json!({}),
        )
    }

    #[test]
    fn seals_follow_positions_and_skip_aggregates_whose_previous_event_is_unsealed() {
        let (a1, a2, b5, c3) = (event("a", 1), event("a", 2), event("b", 5), event("c", 3));
        let appended = vec![
            Appended {
                position: 12,
                event: &a2,
            },
            Appended {
                position: 11,
                event: &a1,
            },
            Appended {
                position: 13,
                event: &b5,
            },
            Appended {
                position: 14,
                event: &c3,
            },
        ];
        let wanted = predecessors(&appended);
        assert_eq!(wanted.len(), 2, "{wanted:?}");
        // b#4 is sealed, c#2 is not.
        let previous: HashMap<Key, String> = [(
            ("complaint".to_string(), "b".to_string()),
            "b4hash".to_string(),
        )]
        .into();
        let mut head = Head {
            next_index: 7,
            chain_hash: ZERO_HASH.to_string(),
        };
        let rows = seal_rows(&mut head, appended, &wanted, &previous);
        let got: Vec<(i64, i64, &str)> = rows
            .iter()
            .map(|r| (r.position, r.chain_index, r.prev_event_hash.as_str()))
            .collect();
        assert_eq!(got[0], (11, 7, ZERO_HASH));
        assert_eq!((got[1].0, got[1].1), (12, 8));
        assert_eq!(got[1].2, rows[0].event_hash);
        assert_eq!(got[2], (13, 9, "b4hash"));
        assert_eq!(rows.len(), 3, "c#3 follows an unsealed event: left out");
        assert_eq!(head.next_index, 10);
        assert_eq!(head.chain_hash, rows[2].chain_hash);
    }
}
