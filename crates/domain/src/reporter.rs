//! The reporter's identity as it is stored: sealed with a per-reporter key held outside
//! the event log, so destroying the key erases the data (crypto-shredding) without
//! touching the append-only history.

use serde::{Deserialize, Serialize};

/// Ciphertext of the reporter block (name, phone, identity number) and the id of the key
/// that sealed it. The plaintext never enters the domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedReporter {
    /// Id of the per-reporter data key in the key store.
    pub key_id: String,
    /// Base64 of nonce || AES-256-GCM ciphertext of the JSON reporter block.
    pub ciphertext: String,
}

/// The reporter block in the clear, as intake staff enter it and as intake and auditors
/// read it. Lives only in memory in the application layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReporterIdentity {
    /// The reporter's name.
    pub name: Option<String>,
    /// A phone number to reach the reporter (for the follow-up visit).
    pub phone: Option<String>,
    /// 公民身份号码, if given (validated by the application with `IdentityNumber::parse`).
    pub identity_number: Option<String>,
}
