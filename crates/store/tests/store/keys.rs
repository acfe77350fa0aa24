//! The reporter key store: sealing, opening, and erasure by key destruction.
use probity_domain::reporter::{ReporterIdentity, SealedReporter};
use probity_store::{KeyStore, StoreError};

use crate::helpers;

fn identity() -> ReporterIdentity {
    ReporterIdentity {
        name: Some("张三".into()),
        phone: Some("13800000000".into()),
        identity_number: Some("11010519491231002X".into()),
    }
}

#[tokio::test]
async fn a_sealed_identity_opens_until_its_key_is_destroyed() {
    for t in helpers::both().await {
        let keys = KeyStore::new(t.db.clone());
        let sealed = keys.seal(&identity()).await.unwrap();
        assert!(uuid::Uuid::parse_str(&sealed.key_id).is_ok(), "{}", t.name);
        assert!(!sealed.ciphertext.contains("13800000000"));
        assert_eq!(
            keys.open(&sealed).await.unwrap(),
            Some(identity()),
            "{}",
            t.name
        );

        let other = keys.seal(&identity()).await.unwrap();
        assert_ne!(other.key_id, sealed.key_id);
        assert_ne!(
            other.ciphertext, sealed.ciphertext,
            "fresh key and nonce per seal"
        );

        assert!(keys.destroy(&sealed.key_id).await.unwrap(), "{}", t.name);
        assert_eq!(keys.open(&sealed).await.unwrap(), None, "{}", t.name);
        assert!(
            !keys.destroy(&sealed.key_id).await.unwrap(),
            "destroying twice is a no-op"
        );
        // The other reporter is untouched.
        assert_eq!(
            keys.open(&other).await.unwrap(),
            Some(identity()),
            "{}",
            t.name
        );

        let material: Option<String> =
            sqlx::query_scalar("SELECT key_material FROM reporter_keys WHERE key_id = $1")
                .bind(&sealed.key_id)
                .fetch_one(&t.db.any)
                .await
                .unwrap();
        assert_eq!(material, None, "{}: the key material is wiped", t.name);
    }
}

#[tokio::test]
async fn an_unknown_key_opens_to_none_and_a_tampered_ciphertext_is_an_error() {
    for t in helpers::both().await {
        let keys = KeyStore::new(t.db.clone());
        let unknown = SealedReporter {
            key_id: uuid::Uuid::new_v4().to_string(),
            ciphertext: "AAAA".into(),
        };
        assert_eq!(keys.open(&unknown).await.unwrap(), None);
        assert!(!keys.destroy(&unknown.key_id).await.unwrap());

        let a = keys.seal(&identity()).await.unwrap();
        let b = keys
            .seal(&ReporterIdentity {
                name: None,
                phone: None,
                identity_number: None,
            })
            .await
            .unwrap();

        // The ciphertext of one reporter does not open under another reporter's key.
        let swapped = SealedReporter {
            key_id: b.key_id.clone(),
            ciphertext: a.ciphertext.clone(),
        };
        assert!(
            matches!(keys.open(&swapped).await, Err(StoreError::Crypto(_))),
            "{}",
            t.name
        );

        use base64::Engine as _;
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(&a.ciphertext)
            .unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = SealedReporter {
            key_id: a.key_id.clone(),
            ciphertext: base64::engine::general_purpose::STANDARD.encode(bytes),
        };
        assert!(
            matches!(keys.open(&tampered).await, Err(StoreError::Crypto(_))),
            "{}",
            t.name
        );
        let short = SealedReporter {
            key_id: a.key_id.clone(),
            ciphertext: "AAAA".into(),
        };
        assert!(
            matches!(keys.open(&short).await, Err(StoreError::Crypto(_))),
            "{}",
            t.name
        );
        assert_eq!(
            keys.open(&b).await.unwrap(),
            Some(ReporterIdentity {
                name: None,
                phone: None,
                identity_number: None
            })
        );
    }
}
