//! Per-reporter data keys (AES-256-GCM) kept outside the event log, so destroying a key
//! erases the personal data it sealed (crypto-shredding).
//!
//! Every sealed reporter block has its own random 256-bit key, stored base64-encoded in
//! `reporter_keys` (portable SQL through `Db::any`). The ciphertext is
//! `base64(nonce || AES-256-GCM(json(identity)))` with a random 96-bit nonce and the key id
//! as associated data, so a ciphertext cannot be opened under another reporter's key row.
//! `destroy` wipes the key material; from then on `open` returns `None` for good.
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{SecondsFormat, Utc};
use probity_domain::reporter::{ReporterIdentity, SealedReporter};

use crate::writes::NewKey;
use crate::{Db, StoreError};

/// Length of the AES-GCM nonce that prefixes every ciphertext.
const NONCE_LEN: usize = 12;

#[derive(Clone, Debug)]
pub struct KeyStore {
    pub db: Db,
}

impl KeyStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Makes a new key, stores it, and seals the identity with it.
    #[tracing::instrument(skip_all)]
    pub async fn seal(&self, identity: &ReporterIdentity) -> Result<SealedReporter, StoreError> {
        self.seal_value(identity).await
    }

    /// Makes a new key, stores it, and seals any personal block (a civil servant's name
    /// and identity number, say) with it. The result has the reporter block's shape, so
    /// `redact_personal` masks it everywhere.
    #[tracing::instrument(skip_all)]
    pub async fn seal_value<T: serde::Serialize>(
        &self,
        identity: &T,
    ) -> Result<SealedReporter, StoreError> {
        let (sealed, key) = Self::prepare(identity)?;
        sqlx::query(
            "INSERT INTO reporter_keys (key_id, key_material, created_at) VALUES ($1, $2, $3)",
        )
        .bind(&key.key_id)
        .bind(&key.material)
        .bind(&key.created_at)
        .execute(&self.db.any)
        .await?;
        tracing::debug!(key_id = %key.key_id, "reporter key created");
        Ok(sealed)
    }

    /// Makes a new key and seals `identity` with it, without storing the key: the key is
    /// written with the command's events ([`crate::CommandWrites`]), so a command that
    /// fails or never commits leaves no key behind, and an event never names a key that
    /// was not stored.
    pub fn prepare<T: serde::Serialize>(
        identity: &T,
    ) -> Result<(SealedReporter, NewKey), StoreError> {
        let key_id = uuid::Uuid::new_v4().to_string();
        let key = Aes256Gcm::generate_key(&mut OsRng);
        let plaintext = serde_json::to_vec(identity)?;
        let cipher = Aes256Gcm::new(&key);
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: &plaintext,
                    aad: key_id.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Crypto("encryption failed".into()))?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        let new_key = NewKey {
            key_id: key_id.clone(),
            material: BASE64.encode(key.as_slice()),
            created_at: Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true),
        };
        Ok((
            SealedReporter {
                key_id,
                ciphertext: BASE64.encode(sealed),
            },
            new_key,
        ))
    }

    /// `None` once the key has been destroyed (erased).
    #[tracing::instrument(skip_all, fields(key_id = %sealed.key_id))]
    pub async fn open(
        &self,
        sealed: &SealedReporter,
    ) -> Result<Option<ReporterIdentity>, StoreError> {
        self.open_value(sealed).await
    }

    /// Opens any sealed block; `None` once its key has been destroyed.
    #[tracing::instrument(skip_all, fields(key_id = %sealed.key_id))]
    pub async fn open_value<T: serde::de::DeserializeOwned>(
        &self,
        sealed: &SealedReporter,
    ) -> Result<Option<T>, StoreError> {
        let material: Option<Option<String>> =
            sqlx::query_scalar("SELECT key_material FROM reporter_keys WHERE key_id = $1")
                .bind(&sealed.key_id)
                .fetch_optional(&self.db.any)
                .await?;
        let Some(Some(material)) = material else {
            tracing::debug!("reporter key missing or destroyed");
            return Ok(None);
        };
        let key_bytes = BASE64
            .decode(material)
            .map_err(|_| StoreError::Crypto("stored key is not base64".into()))?;
        if key_bytes.len() != 32 {
            return Err(StoreError::Crypto("stored key has the wrong length".into()));
        }
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key_bytes));
        let sealed_bytes = BASE64
            .decode(&sealed.ciphertext)
            .map_err(|_| StoreError::Crypto("ciphertext is not base64".into()))?;
        if sealed_bytes.len() < NONCE_LEN {
            return Err(StoreError::Crypto("ciphertext too short".into()));
        }
        let (nonce, ciphertext) = sealed_bytes.split_at(NONCE_LEN);
        let plaintext = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: sealed.key_id.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Crypto("ciphertext does not open with its key".into()))?;
        Ok(Some(serde_json::from_slice(&plaintext)?))
    }

    /// Erases a key: wipes its material and stamps `destroyed_at`. Every identity sealed
    /// with it is unreadable from then on. Returns whether a live key was destroyed
    /// (`false` for an unknown or already destroyed key).
    #[tracing::instrument(skip(self))]
    pub async fn destroy(&self, key_id: &str) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE reporter_keys SET key_material = NULL, destroyed_at = $2
              WHERE key_id = $1 AND destroyed_at IS NULL",
        )
        .bind(key_id)
        .bind(Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true))
        .execute(&self.db.any)
        .await?;
        Ok(result.rows_affected() == 1)
    }
}
