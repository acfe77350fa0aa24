//! `audit verify`: walks the whole log in seal (commit-safe) order against the seals and
//! the latest signed checkpoint, and names the first event that does not match.
//!
//! Pages of seals, each joined with the events at their positions, are fetched and
//! pre-hashed by up to [`IN_FLIGHT`] tasks at once while this task checks the last page
//! in order (pipelined like the views' rebuild), so the database and the hashing share
//! the cores. Per seal: its chain index is the next one; its event still exists and is
//! the one it names; the aggregate's sequence is the previous one plus one; the
//! recomputed event hash, previous-event link and chain hash equal the seal's. At the
//! checkpoint's chain index the recomputed chain must equal the signed hash, and the walk
//! must reach it. Events without a seal that the background sealer has not reached (the
//! committer seals what it appends, ADR 0013; the sealer what was written behind it) are
//! checked for gaps and counted as unsealed, not as tampering; an event without a seal
//! behind the sealer's place was inserted behind its back and is named.
use std::collections::{HashMap, VecDeque};
use std::fmt;

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use probity_store::{Backend, Checkpoint, Db, EventLog, StoredEvent};
use serde::Serialize;
use sha2::Sha256;
use sqlx::Row;

use crate::hash::{chain_hash, event_hash_prefix, finish_event_hash, ZERO_HASH};
use crate::sealer::sealer_checkpoint;
use crate::signer::{latest_checkpoint, SignedCheckpoint};
use crate::AuditError;

/// Seals (with their events) read per page.
const PAGE: i64 = 5_000;
/// Pages fetched and pre-hashed concurrently ahead of the walk.
const IN_FLIGHT: usize = 6;

/// An event named by aggregate, sequence and position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRef {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub position: i64,
}

impl fmt::Display for EventRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}#{} (position {})",
            self.aggregate_type, self.aggregate_id, self.sequence, self.position
        )
    }
}

impl EventRef {
    fn of(e: &StoredEvent) -> Self {
        EventRef {
            aggregate_type: e.aggregate_type.clone(),
            aggregate_id: e.aggregate_id.clone(),
            sequence: e.sequence,
            position: e.position,
        }
    }
}

/// The first thing that did not match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// Place in the global chain, when known.
    pub chain_index: Option<i64>,
    /// The event concerned, when one can be named.
    pub event: Option<EventRef>,
    /// What did not match.
    pub what: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.event, self.chain_index) {
            (Some(e), Some(i)) => write!(f, "{e} at chain index {i}: {}", self.what),
            (Some(e), None) => write!(f, "{e}: {}", self.what),
            (None, Some(i)) => write!(f, "chain index {i}: {}", self.what),
            (None, None) => write!(f, "{}", self.what),
        }
    }
}

/// Outcome of [`verify_log`].
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// Events read.
    pub events: u64,
    /// Events whose seal was checked.
    pub sealed: u64,
    /// Events after the last seal (not checked against a seal yet).
    pub unsealed: u64,
    /// The latest signed checkpoint, if any.
    pub checkpoint: Option<SignedCheckpoint>,
    /// The first mismatch; `None` means the log verifies.
    pub mismatch: Option<Mismatch>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.mismatch.is_none()
    }
}

/// One row of `event_seals` (also a part of a bundle).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seal {
    pub position: i64,
    pub chain_index: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_hash: String,
    pub prev_event_hash: String,
    pub chain_hash: String,
}

impl Seal {
    pub fn event_ref(&self) -> EventRef {
        EventRef {
            aggregate_type: self.aggregate_type.clone(),
            aggregate_id: self.aggregate_id.clone(),
            sequence: self.sequence,
            position: self.position,
        }
    }
}

pub(crate) const SEAL_COLUMNS: &str = "position, chain_index, aggregate_type, aggregate_id, sequence, event_hash, prev_event_hash, chain_hash";

pub(crate) fn seal_of(r: &sqlx::any::AnyRow) -> Result<Seal, sqlx::Error> {
    Ok(Seal {
        position: r.try_get(0)?,
        chain_index: r.try_get(1)?,
        aggregate_type: r.try_get(2)?,
        aggregate_id: r.try_get(3)?,
        sequence: r.try_get(4)?,
        event_hash: r.try_get(5)?,
        prev_event_hash: r.try_get(6)?,
        chain_hash: r.try_get(7)?,
    })
}

/// A seal and the event at its position (`None`: the event is gone).
struct Item {
    seal: Seal,
    event: Option<(StoredEvent, Sha256)>,
}

/// Seal columns, then the event columns of the same position (NULL when deleted).
/// `{payload}`, `{metadata}` and `{recorded_at}` are filled per backend: Postgres sends
/// them as text (decoding JSONB and TIMESTAMPTZ values through the driver is several
/// times slower than parsing the text).
const JOINED: &str =
    "SELECT s.position, s.chain_index, s.aggregate_type, s.aggregate_id, s.sequence,
        s.event_hash, s.prev_event_hash, s.chain_hash,
        e.position, e.tx_id, e.aggregate_type, e.aggregate_id, e.sequence, e.event_type,
        e.event_version, {payload}, {metadata}, {recorded_at}
   FROM event_seals s LEFT JOIN events e ON e.position = s.position
  WHERE s.chain_index >= $1 AND s.chain_index < $2
  ORDER BY s.chain_index";

macro_rules! seal_from_row {
    ($r:expr) => {
        Seal {
            position: $r.try_get(0)?,
            chain_index: $r.try_get(1)?,
            aggregate_type: $r.try_get(2)?,
            aggregate_id: $r.try_get(3)?,
            sequence: $r.try_get(4)?,
            event_hash: $r.try_get(5)?,
            prev_event_hash: $r.try_get(6)?,
            chain_hash: $r.try_get(7)?,
        }
    };
}

/// Computes the event's hash prefix and drops its payload and metadata here, in the
/// reader task, so the walk neither needs nor frees them.
fn prehash(mut event: StoredEvent) -> (StoredEvent, Sha256) {
    let prefix = event_hash_prefix(&event);
    event.payload = serde_json::Value::Null;
    event.metadata = serde_json::Value::Null;
    (event, prefix)
}

/// Reads the seals with chain index in `[from, to)` joined with their events and
/// computes each event's hash prefix (the part that needs no previous hash).
async fn fetch_page(db: Db, from: i64, to: i64) -> Result<Vec<Item>, AuditError> {
    let mut items = Vec::with_capacity((to - from).max(0) as usize);
    match db.backend {
        Backend::Postgres => {
            let sql = JOINED
                .replace("{payload}", "e.payload::text")
                .replace("{metadata}", "e.metadata::text")
                .replace("{recorded_at}", "e.recorded_at");
            let rows = sqlx::query(&sql)
                .bind(from)
                .bind(to)
                .fetch_all(db.pg_pool()?)
                .await?;
            for r in &rows {
                let seal = seal_from_row!(r);
                let event = match r.try_get::<Option<i64>, _>(8)? {
                    None => None,
                    Some(position) => Some(StoredEvent {
                        position,
                        tx_id: r.try_get(9)?,
                        aggregate_type: r.try_get(10)?,
                        aggregate_id: r.try_get(11)?,
                        sequence: r.try_get(12)?,
                        event_type: r.try_get(13)?,
                        event_version: r.try_get(14)?,
                        payload: serde_json::from_str(r.try_get::<&str, _>(15)?)?,
                        metadata: serde_json::from_str(r.try_get::<&str, _>(16)?)?,
                        recorded_at: r.try_get(17)?,
                    }),
                };
                items.push(Item {
                    seal,
                    event: event.map(prehash),
                });
            }
        }
        Backend::Sqlite => {
            let sql = JOINED
                .replace("{payload}", "e.payload")
                .replace("{metadata}", "e.metadata")
                .replace("{recorded_at}", "e.recorded_at");
            let rows = sqlx::query(&sql)
                .bind(from)
                .bind(to)
                .fetch_all(db.sqlite_pool()?)
                .await?;
            for r in &rows {
                let seal = seal_from_row!(r);
                let event = match r.try_get::<Option<i64>, _>(8)? {
                    None => None,
                    Some(position) => {
                        let payload: &str = r.try_get(15)?;
                        let metadata: &str = r.try_get(16)?;
                        let recorded_at: &str = r.try_get(17)?;
                        let recorded_at = DateTime::parse_from_rfc3339(recorded_at)
                            .map_err(|e| {
                                AuditError::Other(format!(
                                    "bad recorded_at at position {position}: {e}"
                                ))
                            })?
                            .with_timezone(&Utc);
                        Some(StoredEvent {
                            position,
                            tx_id: r.try_get(9)?,
                            aggregate_type: r.try_get(10)?,
                            aggregate_id: r.try_get(11)?,
                            sequence: r.try_get(12)?,
                            event_type: r.try_get(13)?,
                            event_version: r.try_get(14)?,
                            payload: serde_json::from_str(payload)?,
                            metadata: serde_json::from_str(metadata)?,
                            recorded_at,
                        })
                    }
                };
                items.push(Item {
                    seal,
                    event: event.map(prehash),
                });
            }
        }
    }
    Ok(items)
}

/// Per-aggregate state of the walk (type -> id -> last sequence and last event hash);
/// nested so that lookups borrow the event's strings instead of building a key.
type Aggregates = HashMap<String, HashMap<String, (i64, String)>>;

/// The state of a walk.
struct Walk {
    aggregates: Aggregates,
    chain: String,
    next_index: i64,
}

impl Walk {
    /// The sequence check of one event; returns the aggregate's previous event hash.
    fn link(&mut self, event: &StoredEvent, chain_index: Option<i64>) -> Result<String, Mismatch> {
        let (last_seq, prev) = match self
            .aggregates
            .get(&event.aggregate_type)
            .and_then(|ids| ids.get(&event.aggregate_id))
        {
            Some((sequence, hash)) => (*sequence, hash.clone()),
            None => (0, ZERO_HASH.to_string()),
        };
        if event.sequence != last_seq + 1 {
            let what = if last_seq == 0 {
                format!(
                    "first event of the aggregate in the log has sequence {} (events 1..{} are missing)",
                    event.sequence,
                    event.sequence - 1
                )
            } else {
                format!(
                    "follows sequence {last_seq}: sequence {} is missing or out of order",
                    last_seq + 1
                )
            };
            return Err(Mismatch {
                chain_index,
                event: Some(EventRef::of(event)),
                what,
            });
        }
        Ok(prev)
    }

    /// Whether `event` was walked already (its aggregate is at or past its sequence).
    fn walked(&self, event: &StoredEvent) -> bool {
        self.aggregates
            .get(&event.aggregate_type)
            .and_then(|ids| ids.get(&event.aggregate_id))
            .is_some_and(|(sequence, _)| *sequence >= event.sequence)
    }

    fn remember(&mut self, event: &StoredEvent, hash: String) {
        if !self.aggregates.contains_key(&event.aggregate_type) {
            self.aggregates
                .insert(event.aggregate_type.clone(), HashMap::new());
        }
        if let Some(ids) = self.aggregates.get_mut(&event.aggregate_type) {
            match ids.get_mut(&event.aggregate_id) {
                Some(state) => *state = (event.sequence, hash),
                None => {
                    ids.insert(event.aggregate_id.clone(), (event.sequence, hash));
                }
            }
        }
    }

    /// Checks one sealed event.
    fn sealed(
        &mut self,
        item: Item,
        checkpoint: &Option<SignedCheckpoint>,
    ) -> Result<(), Mismatch> {
        let Item { seal, event } = item;
        let index = seal.chain_index;
        if index != self.next_index {
            return Err(Mismatch {
                chain_index: Some(self.next_index),
                event: None,
                what: format!("the next seal has chain index {index}: seals were removed"),
            });
        }
        let Some((event, prefix)) = event else {
            return Err(Mismatch {
                chain_index: Some(index),
                event: Some(seal.event_ref()),
                what: "sealed event is missing from the log (deleted)".into(),
            });
        };
        let named = || Some(EventRef::of(&event));
        if seal.aggregate_type != event.aggregate_type
            || seal.aggregate_id != event.aggregate_id
            || seal.sequence != event.sequence
        {
            return Err(Mismatch {
                chain_index: Some(index),
                event: named(),
                what: format!(
                    "the seal at this position names {} instead",
                    seal.event_ref()
                ),
            });
        }
        let prev = self.link(&event, Some(index))?;
        if seal.prev_event_hash != prev {
            return Err(Mismatch {
                chain_index: Some(index),
                event: named(),
                what: "link to the aggregate's previous event does not match".into(),
            });
        }
        let hash = finish_event_hash(prefix, &prev);
        if seal.event_hash != hash {
            return Err(Mismatch {
                chain_index: Some(index),
                event: named(),
                what: "event content does not match its hash (changed after sealing)".into(),
            });
        }
        self.chain = chain_hash(&self.chain, &hash);
        if seal.chain_hash != self.chain {
            return Err(Mismatch {
                chain_index: Some(index),
                event: named(),
                what: "global chain hash does not match".into(),
            });
        }
        if let Some(cp) = checkpoint {
            if cp.chain_index == index
                && (cp.chain_hash != self.chain || cp.position != event.position)
            {
                return Err(Mismatch {
                    chain_index: Some(index),
                    event: named(),
                    what: "recomputed chain differs from the signed checkpoint".into(),
                });
            }
        }
        self.remember(&event, hash);
        self.next_index += 1;
        Ok(())
    }
}

/// Walks the whole log (see the module docs); `progress(done, total)` after each page.
pub async fn verify_log(
    db: &Db,
    public_key: &VerifyingKey,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<VerifyReport, AuditError> {
    let log = EventLog::new(db.clone());
    let checkpoint = latest_checkpoint(db).await?;
    let mut report = VerifyReport {
        events: 0,
        sealed: 0,
        unsealed: 0,
        checkpoint: checkpoint.clone(),
        mismatch: None,
    };
    if let Some(cp) = &checkpoint {
        if let Err(what) = cp.verify(public_key) {
            report.mismatch = Some(Mismatch {
                chain_index: Some(cp.chain_index),
                event: None,
                what,
            });
            return Ok(report);
        }
    }
    let total = log.count().await?.max(0) as u64;
    progress(0, total);
    let seal_end: i64 =
        sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(chain_index) FROM event_seals")
            .fetch_one(&db.any)
            .await?
            .map_or(0, |m| m + 1);

    let mut walk = Walk {
        aggregates: HashMap::new(),
        chain: ZERO_HASH.to_string(),
        next_index: 0,
    };
    let mut pending: VecDeque<tokio::task::JoinHandle<Result<Vec<Item>, AuditError>>> =
        VecDeque::new();
    let mut next_from = 0i64;
    let mut last_sealed: Option<Checkpoint> = None;
    let mut outcome: Result<(), Mismatch> = Ok(());
    loop {
        while pending.len() < IN_FLIGHT && next_from < seal_end {
            let to = (next_from + PAGE).min(seal_end);
            pending.push_back(tokio::spawn(fetch_page(db.clone(), next_from, to)));
            next_from = to;
        }
        let Some(task) = pending.pop_front() else {
            break;
        };
        let page = match task.await {
            Ok(page) => page,
            Err(e) => Err(AuditError::Other(format!("verify reader failed: {e}"))),
        };
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                pending.iter().for_each(|t| t.abort());
                return Err(e);
            }
        };
        for item in page {
            let at = item.event.as_ref().map(|(e, _)| Checkpoint::of(e));
            report.events += u64::from(item.event.is_some());
            if let Err(m) = walk.sealed(item, &checkpoint) {
                outcome = Err(m);
                break;
            }
            last_sealed = at;
            report.sealed += 1;
        }
        progress(report.events, total.max(report.events));
        if outcome.is_err() {
            pending.iter().for_each(|t| t.abort());
            break;
        }
    }
    if let Err(m) = outcome {
        report.mismatch = Some(m);
        return Ok(report);
    }
    if walk.next_index < seal_end {
        report.mismatch = Some(Mismatch {
            chain_index: Some(walk.next_index),
            event: None,
            what: format!("seals from chain index {} on were removed", walk.next_index),
        });
        return Ok(report);
    }
    if let Some(cp) = &checkpoint {
        if walk.next_index <= cp.chain_index {
            report.mismatch = Some(Mismatch {
                chain_index: Some(walk.next_index),
                event: None,
                what: format!(
                    "the log ends before the signed checkpoint at chain index {} (position {}): events from chain index {} on were removed",
                    cp.chain_index, cp.position, walk.next_index
                ),
            });
            return Ok(report);
        }
    }

    // The tail nothing has sealed yet: checked for sequence gaps only. The chain follows
    // commit order, the log's reading order follows transaction ids, so the tail is read
    // from the earlier of the last seal and the background sealer's place, skipping what
    // the chain walk already checked.
    let sealer_at = sealer_checkpoint(db).await?;
    let mut after = match (last_sealed, sealer_at) {
        (Some(sealed), Some(sealer)) => sealed.min(sealer),
        (Some(sealed), None) => sealed,
        (None, _) => Checkpoint::ZERO,
    };
    loop {
        let page = log.read_after(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Checkpoint::of(last);
        for event in &page {
            if walk.walked(event) {
                continue;
            }
            report.events += 1;
            report.unsealed += 1;
            match walk.link(event, None) {
                Ok(_) => walk.remember(event, String::new()),
                Err(m) => {
                    report.mismatch = Some(m);
                    return Ok(report);
                }
            }
        }
        progress(report.events, total.max(report.events));
    }

    // Every other event must have a seal: one without, at or behind the place the
    // background sealer has passed, was inserted behind its back (the committer seals
    // what it appends; the sealer, what is left). (Events after it were walked as the
    // unsealed tail above, or lie beyond the commit horizon — a transaction of this
    // server, in any database, still running — and are judged by a later run.)
    let behind = match (sealer_at, last_sealed) {
        (Some(sealer), _) => Some(sealer),
        (None, sealed) => sealed,
    };
    if let (true, Some(sealed)) = (report.events < total, behind) {
        let row = sqlx::query(
            "SELECT e.aggregate_type, e.aggregate_id, e.sequence, e.position FROM events e
              WHERE NOT EXISTS (SELECT 1 FROM event_seals s WHERE s.position = e.position)
                AND (e.tx_id < $1 OR (e.tx_id = $1 AND e.position <= $2))
              ORDER BY e.tx_id, e.position LIMIT 1",
        )
        .bind(sealed.tx_id)
        .bind(sealed.position)
        .fetch_optional(&db.any)
        .await?;
        if let Some(r) = row {
            report.mismatch = Some(Mismatch {
                chain_index: None,
                event: Some(EventRef {
                    aggregate_type: r.try_get(0)?,
                    aggregate_id: r.try_get(1)?,
                    sequence: r.try_get(2)?,
                    position: r.try_get(3)?,
                }),
                what: "event has no seal although later events are sealed (inserted behind the sealer)".into(),
            });
        }
    }
    Ok(report)
}
