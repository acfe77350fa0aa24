//! Per-reporter data keys (AES-256-GCM) kept outside the event log, so destroying a key
//! erases the personal data it sealed (crypto-shredding).
use probity_domain::reporter::{ReporterIdentity, SealedReporter};

use crate::{Db, StoreError};

#[derive(Clone, Debug)]
pub struct KeyStore {
    pub db: Db,
}

impl KeyStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
    /// Makes a new key, stores it, and seals the identity with it.
    pub async fn seal(&self, _identity: &ReporterIdentity) -> Result<SealedReporter, StoreError> {
        Err(StoreError::Other("STORE HELPER".into()))
    }
    /// `None` once the key has been destroyed (erased).
    pub async fn open(&self, _sealed: &SealedReporter) -> Result<Option<ReporterIdentity>, StoreError> {
        Err(StoreError::Other("STORE HELPER".into()))
    }
}
