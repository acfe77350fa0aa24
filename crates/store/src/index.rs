//! The keyed-hash index of personal identifiers (identity numbers): lets the store find
//! "is this person already registered?" without the identifier ever being stored or
//! logged in the clear. HMAC-SHA256 under an index key generated once per store.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{SecondsFormat, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{Db, StoreError};

/// Name of the identity-number index key in `index_keys`.
const KEY_NAME: &str = "identity_number";

/// HMAC-SHA256 (RFC 2104) of `message` under `key`, hex.
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    hex::encode(outer.finalize())
}

/// Outcome of reserving an index entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserved {
    /// The identifier was new: it now points at the proposed id.
    New(String),
    /// The identifier was already indexed, pointing at this id.
    Existing(String),
}

/// The person index.
#[derive(Clone, Debug)]
pub struct PersonIndex {
    db: Db,
}

impl PersonIndex {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    async fn key(&self) -> Result<Vec<u8>, StoreError> {
        let existing: Option<String> =
            sqlx::query_scalar("SELECT key_material FROM index_keys WHERE name = $1")
                .bind(KEY_NAME)
                .fetch_optional(&self.db.any)
                .await?;
        let material = match existing {
            Some(m) => m,
            None => {
                let mut key = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                sqlx::query(
                    "INSERT INTO index_keys (name, key_material, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(KEY_NAME)
                .bind(BASE64.encode(key))
                .bind(Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true))
                .execute(&self.db.any)
                .await?;
                // Whoever won the race, everyone uses the stored key.
                sqlx::query_scalar("SELECT key_material FROM index_keys WHERE name = $1")
                    .bind(KEY_NAME)
                    .fetch_one(&self.db.any)
                    .await?
            }
        };
        BASE64
            .decode(material)
            .map_err(|_| StoreError::Crypto("stored index key is not base64".into()))
    }

    /// The keyed hash of an identifier.
    pub async fn hash(&self, identifier: &str) -> Result<String, StoreError> {
        Ok(hmac_sha256_hex(&self.key().await?, identifier.as_bytes()))
    }

    /// Points `identifier` of `kind` at `proposed_id` unless it already points somewhere.
    #[tracing::instrument(skip_all, fields(kind))]
    pub async fn reserve(
        &self,
        kind: &str,
        identifier: &str,
        proposed_id: &str,
    ) -> Result<Reserved, StoreError> {
        let hash = self.hash(identifier).await?;
        let inserted = sqlx::query(
            "INSERT INTO person_index (kind, identity_hash, aggregate_id, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (kind, identity_hash) DO NOTHING",
        )
        .bind(kind)
        .bind(&hash)
        .bind(proposed_id)
        .bind(Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true))
        .execute(&self.db.any)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(Reserved::New(proposed_id.to_string()));
        }
        let id: String = sqlx::query_scalar(
            "SELECT aggregate_id FROM person_index WHERE kind = $1 AND identity_hash = $2",
        )
        .bind(kind)
        .bind(&hash)
        .fetch_one(&self.db.any)
        .await?;
        Ok(Reserved::Existing(id))
    }
}

impl PersonIndex {
    /// Removes every index entry pointing at `aggregate_id` (erasure); returns how many.
    pub async fn forget(&self, kind: &str, aggregate_id: &str) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM person_index WHERE kind = $1 AND aggregate_id = $2")
                .bind(kind)
                .bind(aggregate_id)
                .execute(&self.db.any)
                .await?
                .rows_affected(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_the_rfc_4231_test_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
