//! Verifiable export of one aggregate: a single file that `verify_bundle` checks offline.
//!
//! Format (`probity-audit-bundle/1`): ONE JSON document in canonical form (compact, keys
//! sorted) followed by one newline, with the members
//! * `manifest`: format, aggregate type and id, event count, created_at and the SHA-256
//!   (hex, over the canonical JSON) of every other part: `events`, `seals`, `chain`,
//!   `checkpoint`, `public_key`;
//! * `manifest_sha256`: SHA-256 of the canonical JSON of the manifest;
//! * `events`: the aggregate's events, all stored columns, sequence 1..n (those covered
//!   by the checkpoint);
//! * `seals`: their rows of `event_seals`;
//! * `chain`: the event hash of EVERY event from chain index 0 to the checkpoint's chain
//!   index (64 hex digits each, ~67 bytes per event of the whole log: 67 MB per million
//!   events; a Merkle path would be the upgrade), from which the verifier recomputes the
//!   global chain;
//! * `checkpoint`: the latest signed checkpoint; `public_key`: hex Ed25519 public key.
//!
//! A changed byte anywhere fails: the file must be exactly the canonical form of what it
//! parses to (whitespace, escapes, number forms, unknown fields), every part is covered
//! by the manifest hashes, the manifest by `manifest_sha256`, and the content by the
//! event hashes, the chain and the signature.
use std::collections::{BTreeMap, HashMap};

use chrono::{SecondsFormat, Utc};
use ed25519_dalek::VerifyingKey;
use probity_store::{Db, EventLog, StoredEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;

use crate::hash::{canonical, chain_hash, event_hash, sha256_hex, ZERO_HASH};
use crate::keys::key_id;
use crate::signer::{latest_checkpoint, SignedCheckpoint};
use crate::verify::{seal_of, Seal, SEAL_COLUMNS};
use crate::AuditError;

/// Format tag in the manifest.
pub const BUNDLE_FORMAT: &str = "probity-audit-bundle/1";

/// The manifest of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub event_count: u64,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// Part name -> SHA-256 hex of the part's canonical JSON.
    pub parts: BTreeMap<String, String>,
}

/// A verifiable export of one aggregate (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub manifest: Manifest,
    pub manifest_sha256: String,
    pub events: Vec<StoredEvent>,
    pub seals: Vec<Seal>,
    pub chain: Vec<String>,
    pub checkpoint: SignedCheckpoint,
    pub public_key: String,
}

/// What a verified bundle attests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundleReport {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub events: u64,
    pub checkpoint_chain_index: i64,
    pub key_id: String,
    pub signed_at: String,
}

impl Bundle {
    /// The file content: canonical JSON and a newline.
    pub fn to_bytes(&self) -> Result<Vec<u8>, AuditError> {
        let mut text = canonical(&serde_json::to_value(self)?);
        text.push('\n');
        Ok(text.into_bytes())
    }
}

fn part_hashes(
    events: &[StoredEvent],
    seals: &[Seal],
    chain: &[String],
    checkpoint: &SignedCheckpoint,
    public_key: &str,
) -> Result<BTreeMap<String, String>, AuditError> {
    let mut parts = BTreeMap::new();
    let mut put = |name: &str, value: Value| {
        parts.insert(name.to_string(), sha256_hex(canonical(&value).as_bytes()));
    };
    put("events", serde_json::to_value(events)?);
    put("seals", serde_json::to_value(seals)?);
    put("chain", serde_json::to_value(chain)?);
    put("checkpoint", serde_json::to_value(checkpoint)?);
    put("public_key", Value::String(public_key.to_string()));
    Ok(parts)
}

fn manifest_hash(manifest: &Manifest) -> Result<String, AuditError> {
    Ok(sha256_hex(
        canonical(&serde_json::to_value(manifest)?).as_bytes(),
    ))
}

/// Exports one aggregate's events covered by the latest signed checkpoint.
pub async fn export_bundle(
    db: &Db,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<Bundle, AuditError> {
    let checkpoint = latest_checkpoint(db).await?.ok_or_else(|| {
        AuditError::Other("no signed checkpoint yet: nothing to export against".into())
    })?;
    let public_key: String = sqlx::query("SELECT public_key FROM audit_keys WHERE key_id = $1")
        .bind(&checkpoint.key_id)
        .fetch_optional(&db.any)
        .await?
        .ok_or_else(|| AuditError::Key(format!("public key {} is not stored", checkpoint.key_id)))?
        .try_get(0)?;
    let sql = format!(
        "SELECT {SEAL_COLUMNS} FROM event_seals
          WHERE aggregate_type = $1 AND aggregate_id = $2 AND chain_index <= $3
          ORDER BY sequence"
    );
    let seals = sqlx::query(&sql)
        .bind(aggregate_type)
        .bind(aggregate_id)
        .bind(checkpoint.chain_index)
        .fetch_all(&db.any)
        .await?
        .iter()
        .map(seal_of)
        .collect::<Result<Vec<_>, _>>()?;
    if seals.is_empty() {
        return Err(AuditError::Other(format!(
            "{aggregate_type}/{aggregate_id} has no events covered by a signed checkpoint"
        )));
    }
    let mut events = EventLog::new(db.clone())
        .read_aggregate(aggregate_type, aggregate_id, None)
        .await?;
    events.truncate(seals.len());
    let chain: Vec<String> = sqlx::query_scalar(
        "SELECT event_hash FROM event_seals WHERE chain_index <= $1 ORDER BY chain_index",
    )
    .bind(checkpoint.chain_index)
    .fetch_all(&db.any)
    .await?;
    let parts = part_hashes(&events, &seals, &chain, &checkpoint, &public_key)?;
    let manifest = Manifest {
        format: BUNDLE_FORMAT.into(),
        aggregate_type: aggregate_type.into(),
        aggregate_id: aggregate_id.into(),
        event_count: events.len() as u64,
        created_at: Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true),
        parts,
    };
    Ok(Bundle {
        manifest_sha256: manifest_hash(&manifest)?,
        manifest,
        events,
        seals,
        chain,
        checkpoint,
        public_key,
    })
}

/// Checks a bundle file with no database, trusting the public key it carries.
pub fn verify_bundle(bytes: &[u8]) -> Result<BundleReport, AuditError> {
    verify_bundle_with_key(bytes, None)
}

fn fail<T>(what: impl Into<String>) -> Result<T, AuditError> {
    Err(AuditError::Bundle(what.into()))
}

/// Checks a bundle file with no database; with `trusted`, the bundle's key must be it.
pub fn verify_bundle_with_key(
    bytes: &[u8],
    trusted: Option<&VerifyingKey>,
) -> Result<BundleReport, AuditError> {
    let Some(body) = bytes.strip_suffix(b"\n") else {
        return fail("the file does not end with exactly one newline");
    };
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| AuditError::Bundle(format!("not a JSON document: {e}")))?;
    if canonical(&value).as_bytes() != body {
        return fail("the file is not in canonical form (it was edited)");
    }
    let bundle: Bundle = serde_json::from_value(value.clone())
        .map_err(|e| AuditError::Bundle(format!("not a bundle: {e}")))?;
    if serde_json::to_value(&bundle)? != value {
        return fail("the bundle has fields in a form the format does not produce");
    }
    let Bundle {
        manifest,
        manifest_sha256,
        events,
        seals,
        chain,
        checkpoint,
        public_key,
    } = &bundle;
    if manifest_hash(manifest)? != *manifest_sha256 {
        return fail("the manifest does not match manifest_sha256");
    }
    if manifest.format != BUNDLE_FORMAT {
        return fail(format!("unknown format {:?}", manifest.format));
    }
    let parts = part_hashes(events, seals, chain, checkpoint, public_key)?;
    for (name, hash) in &parts {
        if manifest.parts.get(name) != Some(hash) {
            return fail(format!(
                "part {name} does not match its hash in the manifest"
            ));
        }
    }
    if manifest.parts.len() != parts.len() {
        return fail("the manifest lists unknown parts");
    }
    let key_bytes: [u8; 32] = hex::decode(public_key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| AuditError::Bundle("public_key is not 32 hex bytes".into()))?;
    let key = VerifyingKey::from_bytes(&key_bytes)
        .map_err(|_| AuditError::Bundle("public_key is not an Ed25519 key".into()))?;
    if let Some(trusted) = trusted {
        if trusted != &key {
            return fail(format!(
                "the bundle was signed by key {}, not by the trusted key {}",
                key_id(&key),
                key_id(trusted)
            ));
        }
    }
    checkpoint.verify(&key).map_err(AuditError::Bundle)?;

    // The global chain up to the checkpoint, recomputed from the event hashes.
    if chain.len() as i64 != checkpoint.chain_index + 1 {
        return fail(format!(
            "the chain has {} hashes, the checkpoint covers {}",
            chain.len(),
            checkpoint.chain_index + 1
        ));
    }
    let wanted: HashMap<i64, &Seal> = seals.iter().map(|s| (s.chain_index, s)).collect();
    let mut running = ZERO_HASH.to_string();
    for (index, hash) in chain.iter().enumerate() {
        running = chain_hash(&running, hash);
        if let Some(seal) = wanted.get(&(index as i64)) {
            if seal.chain_hash != running {
                return fail(format!(
                    "{}: its chain hash does not match the chain",
                    seal.event_ref()
                ));
            }
        }
    }
    if running != checkpoint.chain_hash {
        return fail("the recomputed chain does not reach the signed checkpoint");
    }

    // The aggregate's events, their links and their places in the chain.
    if events.is_empty()
        || events.len() != seals.len()
        || events.len() as u64 != manifest.event_count
    {
        return fail("event, seal and manifest counts differ");
    }
    let mut prev = ZERO_HASH.to_string();
    let mut last_index = -1i64;
    for (i, (event, seal)) in events.iter().zip(seals).enumerate() {
        let name = format!(
            "{}/{}#{} (position {})",
            event.aggregate_type, event.aggregate_id, event.sequence, event.position
        );
        if event.aggregate_type != manifest.aggregate_type
            || event.aggregate_id != manifest.aggregate_id
            || event.sequence != i as i64 + 1
        {
            return fail(format!(
                "{name}: not the next event of the exported aggregate"
            ));
        }
        if seal.position != event.position
            || seal.aggregate_type != event.aggregate_type
            || seal.aggregate_id != event.aggregate_id
            || seal.sequence != event.sequence
        {
            return fail(format!("{name}: its seal is for {}", seal.event_ref()));
        }
        if seal.chain_index <= last_index || seal.chain_index > checkpoint.chain_index {
            return fail(format!(
                "{name}: chain index {} out of order",
                seal.chain_index
            ));
        }
        last_index = seal.chain_index;
        if seal.prev_event_hash != prev {
            return fail(format!("{name}: link to the previous event does not match"));
        }
        let hash = event_hash(event, &prev);
        if seal.event_hash != hash || chain[seal.chain_index as usize] != hash {
            return fail(format!("{name}: content does not match its hash"));
        }
        prev = hash;
    }
    Ok(BundleReport {
        aggregate_type: manifest.aggregate_type.clone(),
        aggregate_id: manifest.aggregate_id.clone(),
        events: events.len() as u64,
        checkpoint_chain_index: checkpoint.chain_index,
        key_id: checkpoint.key_id.clone(),
        signed_at: checkpoint.signed_at.clone(),
    })
}
