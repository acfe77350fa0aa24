//! Tamper evidence for Probity's event log (issue 5; docs/audit.md, ADR 0006).
//!
//! Every event gets a seal: a SHA-256 over its canonical form and the previous event hash
//! of the same aggregate, and a link in one global hash chain in commit order. The group
//! committer seals each event in the transaction that appends it (ADR 0013); a background
//! [`Sealer`] seals what was written behind it; a [`Signer`] signs the chain head with Ed25519 now
//! and then, stores the signed checkpoint and publishes it on the bus. [`verify_log`]
//! walks the whole log against the latest signed checkpoint; [`export_bundle`] and
//! [`verify_bundle`] make and check a one-file, offline-verifiable copy of one aggregate.

pub mod bundle;
pub mod hash;
pub mod keys;
pub mod sealer;
pub mod signer;
pub mod verify;

pub use bundle::{export_bundle, verify_bundle, verify_bundle_with_key, Bundle, BundleReport};
pub use hash::{chain_hash, event_hash, ZERO_HASH};
pub use keys::{
    generate_keys, key_id, load_signing_key, load_verifying_key, PUBLIC_KEY_FILE, SECRET_KEY_FILE,
};
pub use sealer::{Sealer, SEALER_LOCK_KEY};
pub use signer::{latest_checkpoint, SignedCheckpoint, Signer};
pub use verify::{verify_log, EventRef, Mismatch, Seal, VerifyReport};

pub use ed25519_dalek::{SigningKey, VerifyingKey};

/// Failures of the audit functions. A detected tampering is not an error: it is the
/// `mismatch` of a [`VerifyReport`] or a [`AuditError::Bundle`] from bundle checks.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Store(#[from] probity_store::StoreError),
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Io(String),
    #[error("key: {0}")]
    Key(String),
    /// The bundle does not verify (names what did not match).
    #[error("bundle does not verify: {0}")]
    Bundle(String),
    #[error("{0}")]
    Other(String),
}
