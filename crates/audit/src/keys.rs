//! Ed25519 signing keys: generation (`probity keys generate`), loading, key ids.
//!
//! Files hold the 32 key bytes as lowercase hex and a newline: `audit-signing.key` (the
//! secret key, created with mode 0600) and `audit-signing.pub` (the public key).
use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::AuditError;

/// File name of the secret key written by [`generate_keys`].
pub const SECRET_KEY_FILE: &str = "audit-signing.key";
/// File name of the public key written by [`generate_keys`].
pub const PUBLIC_KEY_FILE: &str = "audit-signing.pub";

/// First 16 hex digits of SHA-256 of the public key bytes.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))[..16].to_string()
}

/// Makes a new key pair in `dir` (created if needed); refuses to overwrite a secret key.
/// Returns the paths of the secret and the public key file.
pub fn generate_keys(dir: &Path) -> Result<(PathBuf, PathBuf), AuditError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| AuditError::Io(format!("cannot create {}: {e}", dir.display())))?;
    let secret_path = dir.join(SECRET_KEY_FILE);
    let public_path = dir.join(PUBLIC_KEY_FILE);
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&secret_path)
        .map_err(|e| AuditError::Io(format!("cannot create {}: {e}", secret_path.display())))?;
    file.write_all(format!("{}\n", hex::encode(key.to_bytes())).as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| AuditError::Io(format!("cannot write {}: {e}", secret_path.display())))?;
    std::fs::write(
        &public_path,
        format!("{}\n", hex::encode(key.verifying_key().as_bytes())),
    )
    .map_err(|e| AuditError::Io(format!("cannot write {}: {e}", public_path.display())))?;
    Ok((secret_path, public_path))
}

fn read_32(path: &Path) -> Result<[u8; 32], AuditError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| AuditError::Io(format!("cannot read {}: {e}", path.display())))?;
    let bytes = hex::decode(text.trim())
        .map_err(|e| AuditError::Key(format!("{} is not hex: {e}", path.display())))?;
    bytes
        .try_into()
        .map_err(|_| AuditError::Key(format!("{} does not hold 32 bytes", path.display())))
}

/// Loads the secret key written by [`generate_keys`] (`PROBITY_AUDIT_KEY`).
pub fn load_signing_key(path: &Path) -> Result<SigningKey, AuditError> {
    Ok(SigningKey::from_bytes(&read_32(path)?))
}

/// Loads a public key written by [`generate_keys`].
pub fn load_verifying_key(path: &Path) -> Result<VerifyingKey, AuditError> {
    VerifyingKey::from_bytes(&read_32(path)?)
        .map_err(|e| AuditError::Key(format!("{} is not an Ed25519 key: {e}", path.display())))
}
