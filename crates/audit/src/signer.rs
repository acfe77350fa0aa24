//! The signer: every `interval`, when the chain head moved, signs it with the server's
//! Ed25519 key, stores the signed checkpoint in `audit_checkpoints` and publishes it as
//! JSON on `<prefix>.audit.checkpoints` (core NATS), so a copy exists outside the
//! database. Several servers may sign: a checkpoint row per chain index, first one wins.
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{SecondsFormat, Utc};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use probity_store::Db;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::hash::canonical;
use crate::keys::key_id;
use crate::AuditError;

/// A signed head of the global chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedCheckpoint {
    pub chain_index: i64,
    /// Position of the event at `chain_index`.
    pub position: i64,
    pub chain_hash: String,
    /// First 16 hex digits of SHA-256 of the public key.
    pub key_id: String,
    /// Base64 Ed25519 signature over [`SignedCheckpoint::signed_message`].
    pub signature: String,
    /// RFC 3339 UTC, microseconds.
    pub signed_at: String,
}

impl SignedCheckpoint {
    /// The canonical JSON `{chain_hash, chain_index, position, signed_at}` that is signed.
    pub fn signed_message(&self) -> String {
        canonical(&json!({
            "chain_hash": self.chain_hash,
            "chain_index": self.chain_index,
            "position": self.position,
            "signed_at": self.signed_at,
        }))
    }

    /// Signs a head now.
    pub fn sign(key: &SigningKey, chain_index: i64, position: i64, chain_hash: String) -> Self {
        let mut cp = SignedCheckpoint {
            chain_index,
            position,
            chain_hash,
            key_id: key_id(&key.verifying_key()),
            signature: String::new(),
            signed_at: Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true),
        };
        cp.signature = BASE64.encode(key.sign(cp.signed_message().as_bytes()).to_bytes());
        cp
    }

    /// Checks the key id and the signature; the error says what did not match.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), String> {
        if self.key_id != key_id(key) {
            return Err(format!(
                "checkpoint at chain index {} was signed by key {}, not by the given key {}",
                self.chain_index,
                self.key_id,
                key_id(key)
            ));
        }
        let bytes = BASE64.decode(&self.signature).map_err(|_| {
            format!(
                "checkpoint at chain index {}: signature is not base64",
                self.chain_index
            )
        })?;
        let signature = Signature::from_slice(&bytes).map_err(|_| {
            format!(
                "checkpoint at chain index {}: malformed signature",
                self.chain_index
            )
        })?;
        key.verify_strict(self.signed_message().as_bytes(), &signature)
            .map_err(|_| {
                format!(
                    "checkpoint at chain index {}: signature does not verify",
                    self.chain_index
                )
            })
    }
}

/// The stored checkpoint with the highest chain index, if any.
pub async fn latest_checkpoint(db: &Db) -> Result<Option<SignedCheckpoint>, AuditError> {
    let row = sqlx::query(
        "SELECT chain_index, position, chain_hash, key_id, signature, signed_at
           FROM audit_checkpoints ORDER BY chain_index DESC LIMIT 1",
    )
    .fetch_optional(&db.any)
    .await?;
    row.map(|r| {
        Ok(SignedCheckpoint {
            chain_index: r.try_get(0)?,
            position: r.try_get(1)?,
            chain_hash: r.try_get(2)?,
            key_id: r.try_get(3)?,
            signature: r.try_get(4)?,
            signed_at: r.try_get(5)?,
        })
    })
    .transpose()
}

/// Signs the chain head periodically. Build with [`Signer::new`], then [`Signer::run`].
pub struct Signer {
    db: Db,
    key: SigningKey,
    interval: Duration,
    nats: Option<(async_nats::Client, String)>,
}

impl Signer {
    /// `nats`: a client and the subject prefix (`<prefix>.audit.checkpoints`).
    pub fn new(
        db: Db,
        key: SigningKey,
        interval: Duration,
        nats: Option<(async_nats::Client, String)>,
    ) -> Self {
        Self {
            db,
            key,
            interval,
            nats,
        }
    }

    /// Signs the current head if it moved since the latest checkpoint; returns the new
    /// checkpoint (stored and, with a client, published).
    pub async fn sign_once(&self) -> Result<Option<SignedCheckpoint>, AuditError> {
        let head = sqlx::query(
            "SELECT chain_index, position, chain_hash FROM event_seals ORDER BY chain_index DESC LIMIT 1",
        )
        .fetch_optional(&self.db.any)
        .await?;
        let Some(head) = head else { return Ok(None) };
        let chain_index: i64 = head.try_get(0)?;
        if let Some(latest) = latest_checkpoint(&self.db).await? {
            if latest.chain_index >= chain_index {
                return Ok(None);
            }
        }
        let cp = SignedCheckpoint::sign(&self.key, chain_index, head.try_get(1)?, head.try_get(2)?);
        // The key first: a reader that sees a checkpoint must find the key that signed it
        // (the bundle export read the checkpoint, then its key, and answered 500 when it
        // came between the two inserts of the first checkpoint).
        sqlx::query(
            "INSERT INTO audit_keys (key_id, public_key) VALUES ($1, $2) ON CONFLICT (key_id) DO NOTHING",
        )
        .bind(&cp.key_id)
        .bind(hex::encode(self.key.verifying_key().as_bytes()))
        .execute(&self.db.any)
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO audit_checkpoints (chain_index, position, chain_hash, key_id, signature, signed_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (chain_index) DO NOTHING",
        )
        .bind(cp.chain_index)
        .bind(cp.position)
        .bind(&cp.chain_hash)
        .bind(&cp.key_id)
        .bind(&cp.signature)
        .bind(&cp.signed_at)
        .execute(&self.db.any)
        .await?;
        if inserted.rows_affected() == 0 {
            return Ok(None);
        }
        if let Some((client, prefix)) = &self.nats {
            let subject = format!("{prefix}.audit.checkpoints");
            let body = serde_json::to_vec(&cp)?;
            if let Err(e) = client.publish(subject, body.into()).await {
                warn!(error = %e, "cannot publish the audit checkpoint");
            } else if let Err(e) = client.flush().await {
                warn!(error = %e, "cannot flush the audit checkpoint");
            }
        }
        info!(chain_index = cp.chain_index, "audit checkpoint signed");
        Ok(Some(cp))
    }

    /// Runs until `shutdown` is cancelled; failures are logged and retried next tick.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), AuditError> {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {}
                _ = shutdown.cancelled() => return Ok(()),
            }
            if let Err(e) = self.sign_once().await {
                warn!(error = %e, "audit signing failed; retrying at the next interval");
            }
        }
    }
}
