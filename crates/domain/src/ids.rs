//! Validated identifiers: the unified social credit code (GB 32100-2015, with the
//! embedded GB 11714 organisation code) and the resident identity number (GB 11643-1999).
//! Parse, don't validate: an invalid one cannot be constructed.
//!
//! Both parsers accept lowercase letters and normalise them to uppercase (the stored and
//! displayed form is always uppercase); they do not trim whitespace, so `" 9144…"` is
//! refused. Error messages say what is wrong but never repeat an identity number, which
//! is personal data.

use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why an identifier was refused. The message names the rule that failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    /// Not a valid 统一社会信用代码 (HTTP 422 `invalid_credit_code`).
    #[error("invalid unified social credit code: {0}")]
    InvalidCreditCode(String),
    /// Not a valid 公民身份号码 (HTTP 422 `invalid_identity_number`).
    #[error("invalid identity number: {0}")]
    InvalidIdentityNumber(String),
}

/// The 31 characters of GB 32100 (no I, O, Z, S, V), in value order.
const CREDIT_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Weights of positions 1..17 of a credit code: `3^(i-1) mod 31`.
const CREDIT_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Weights of the first 8 characters of a GB 11714 organisation code.
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// Weights of positions 1..17 of an identity number: `2^(17-i) mod 11`.
const IDENTITY_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// Check characters of an identity number, indexed by the weighted sum mod 11.
const IDENTITY_CHECK: &[u8; 11] = b"10X98765432";

fn credit_value(c: u8) -> Option<u32> {
    CREDIT_ALPHABET
        .iter()
        .position(|&a| a == c)
        .map(|p| p as u32)
}

/// The GB 11714 check character of the first 8 characters of an organisation code.
/// Digits count as their value, letters A=10 … Z=35.
fn org_code_check(body: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (&c, w) in body.iter().zip(ORG_WEIGHTS) {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return None,
        };
        sum += v * w;
    }
    Some(match 11 - sum % 11 {
        10 => b'X',
        11 => b'0',
        d => b'0' + d as u8,
    })
}

/// 统一社会信用代码, 18 characters, checksum verified.
///
/// [`CreditCode::parse`] checks, in order: the length (18), the alphabet
/// `0123456789ABCDEFGHJKLMNPQRTUWXY`, that positions 3–8 (the GB/T 2260 division) are
/// digits, the GB 32100 check character (position 18), and the GB 11714 check
/// character of the embedded organisation code (positions 9–17). The registration
/// authority and organisation type (positions 1–2) are not checked against a list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CreditCode(String);

impl CreditCode {
    /// Parses and verifies a credit code; lowercase letters are normalised to uppercase.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let err = |m: String| IdError::InvalidCreditCode(m);
        let code = s.to_ascii_uppercase();
        let bytes = code.as_bytes();
        let chars = code.chars().count();
        if chars != 18 || bytes.len() != 18 {
            return Err(err(format!("must be 18 characters, found {chars}")));
        }
        let mut values = [0u32; 18];
        for (i, &c) in bytes.iter().enumerate() {
            values[i] = credit_value(c).ok_or_else(|| {
                err(format!(
                    "character {} ('{}') is not allowed (no I, O, Z, S, V)",
                    i + 1,
                    c as char
                ))
            })?;
        }
        if let Some(i) = bytes[2..8].iter().position(|c| !c.is_ascii_digit()) {
            return Err(err(format!(
                "character {} must be a digit (administrative division)",
                i + 3
            )));
        }
        let sum: u32 = values[..17]
            .iter()
            .zip(CREDIT_WEIGHTS)
            .map(|(v, w)| v * w)
            .sum();
        let expected = CREDIT_ALPHABET[((31 - sum % 31) % 31) as usize];
        if bytes[17] != expected {
            return Err(err(format!(
                "check character is '{}', expected '{}'",
                bytes[17] as char, expected as char
            )));
        }
        let org = &bytes[8..17];
        match org_code_check(&org[..8]) {
            Some(c) if c == org[8] => {}
            Some(c) => {
                return Err(err(format!(
                    "organisation code (characters 9-17) check character is '{}', expected '{}'",
                    org[8] as char, c as char
                )))
            }
            None => {
                return Err(err(
                    "organisation code (characters 9-17) is malformed".into()
                ))
            }
        }
        Ok(Self(code))
    }

    /// The code, uppercase, 18 characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The embedded GB 11714 organisation code (characters 9–17).
    pub fn organisation_code(&self) -> &str {
        &self.0[8..17]
    }

    /// The GB/T 2260 administrative division (characters 3–8), e.g. `360400` for 九江市.
    pub fn division(&self) -> &str {
        &self.0[2..8]
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
impl FromStr for CreditCode {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
impl std::fmt::Display for CreditCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// 公民身份号码, 18 characters, checksum verified. Personal data: its `Debug` is masked,
/// it has no `Display` and no `Serialize`; [`IdentityNumber::expose`] is the one way out.
///
/// [`IdentityNumber::parse`] checks the length (18), that characters 1–17 are digits,
/// that characters 7–14 are a real date (YYYYMMDD), and the GB 11643 check character
/// (`"10X98765432"[Σ mod 11]`); a lowercase `x` is normalised to `X`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdentityNumber(String);

impl IdentityNumber {
    /// Parses and verifies an identity number. The error never contains the input.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let err = |m: &str| IdError::InvalidIdentityNumber(m.to_string());
        let number = s.to_ascii_uppercase();
        let bytes = number.as_bytes();
        if bytes.len() != 18 || number.chars().count() != 18 {
            return Err(err("must be 18 characters"));
        }
        if !bytes[..17].iter().all(u8::is_ascii_digit) {
            return Err(err("characters 1-17 must be digits"));
        }
        let birth = std::str::from_utf8(&bytes[6..14]).unwrap_or_default();
        if NaiveDate::parse_from_str(birth, "%Y%m%d").is_err() {
            return Err(err("characters 7-14 are not a valid birth date"));
        }
        let sum: u32 = bytes[..17]
            .iter()
            .zip(IDENTITY_WEIGHTS)
            .map(|(c, w)| u32::from(c - b'0') * w)
            .sum();
        if bytes[17] != IDENTITY_CHECK[(sum % 11) as usize] {
            return Err(err("wrong check character"));
        }
        Ok(Self(number))
    }

    /// The number in the clear, for sealing or keyed hashing only: never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The birth date encoded in characters 7–14.
    pub fn birth_date(&self) -> NaiveDate {
        NaiveDate::parse_from_str(&self.0[6..14], "%Y%m%d").unwrap_or_default()
    }
}

impl FromStr for IdentityNumber {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl std::fmt::Debug for IdentityNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityNumber(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a code with correct checks from its first 16 characters (the org-code
    /// check at position 17 and the credit check at 18 are computed).
    fn complete(first16: &str) -> String {
        let b = first16.as_bytes();
        let org = org_code_check(&b[8..16]).unwrap();
        let mut s = first16.to_string();
        s.push(org as char);
        let sum: u32 = s
            .bytes()
            .zip(CREDIT_WEIGHTS)
            .map(|(c, w)| credit_value(c).unwrap() * w)
            .sum();
        s.push(CREDIT_ALPHABET[((31 - sum % 31) % 31) as usize] as char);
        s
    }

    #[test]
    fn the_official_examples_pass_both_checks() {
        for code in [
            "914403001922038216",
            "91330100716105852F",
            "113604000123456713",
        ] {
            let parsed = CreditCode::parse(code).unwrap();
            assert_eq!(parsed.as_str(), code);
        }
        assert_eq!(
            CreditCode::parse("914403001922038216")
                .unwrap()
                .organisation_code(),
            "192203821"
        );
        assert_eq!(
            CreditCode::parse("113604000123456713").unwrap().division(),
            "360400"
        );
    }

    #[test]
    fn lowercase_is_normalised_to_uppercase() {
        let c = CreditCode::parse("91330100716105852f").unwrap();
        assert_eq!(c.as_str(), "91330100716105852F");
    }

    #[test]
    fn a_wrong_check_character_is_refused() {
        for code in [
            "914403001922038217",
            "91330100716105852G",
            "113604000123456710",
        ] {
            assert!(matches!(
                CreditCode::parse(code),
                Err(IdError::InvalidCreditCode(m)) if m.contains("check character")
            ));
        }
    }

    #[test]
    fn a_wrong_length_is_refused() {
        for code in ["", "91440300192203821", "9144030019220382160"] {
            assert!(matches!(
                CreditCode::parse(code),
                Err(IdError::InvalidCreditCode(m)) if m.contains("18 characters")
            ));
        }
        // 18 bytes, but not 18 characters.
        assert!(CreditCode::parse("9144030019220382一").is_err());
    }

    #[test]
    fn the_forbidden_letters_are_refused() {
        for bad in ['I', 'O', 'Z', 'S', 'V'] {
            let mut code = "91330100716105852F".to_string();
            code.replace_range(17..18, &bad.to_string());
            assert!(matches!(
                CreditCode::parse(&code),
                Err(IdError::InvalidCreditCode(m)) if m.contains("not allowed")
            ));
        }
    }

    #[test]
    fn a_letter_in_the_division_is_refused() {
        let code = complete("913A010071610585");
        assert!(matches!(
            CreditCode::parse(&code),
            Err(IdError::InvalidCreditCode(m)) if m.contains("digit")
        ));
    }

    #[test]
    fn a_bad_organisation_code_is_refused_even_with_a_good_credit_check() {
        // Change the org-code check (position 17) and recompute position 18, so only
        // the GB 11714 check can catch it.
        let good = complete("9136040071610585");
        assert!(CreditCode::parse(&good).is_ok());
        let org_ok = good.as_bytes()[16];
        let wrong = if org_ok == b'1' { '2' } else { '1' };
        let mut first17 = good[..16].to_string();
        first17.push(wrong);
        let sum: u32 = first17
            .bytes()
            .zip(CREDIT_WEIGHTS)
            .map(|(c, w)| credit_value(c).unwrap() * w)
            .sum();
        first17.push(CREDIT_ALPHABET[((31 - sum % 31) % 31) as usize] as char);
        assert!(matches!(
            CreditCode::parse(&first17),
            Err(IdError::InvalidCreditCode(m)) if m.contains("organisation code")
        ));
    }

    #[test]
    fn org_code_checks_map_ten_to_x_and_eleven_to_zero() {
        // Σ = 0 -> 11 - 0 = 11 -> '0'.
        assert_eq!(org_code_check(b"00000000"), Some(b'0'));
        // Σ = 5·2 = 10 -> 11 - 10 = 1.
        assert_eq!(org_code_check(b"00000005"), Some(b'1'));
        // Σ = 6·4 = 24 ≡ 2 -> 9.
        assert_eq!(org_code_check(b"00000060"), Some(b'9'));
        // Σ = 4·3 = 12 ≡ 1 -> 10 -> 'X'.
        assert_eq!(org_code_check(b"40000000"), Some(b'X'));
        // Letters count A = 10: Σ = 30 ≡ 8 -> 3.
        assert_eq!(org_code_check(b"A0000000"), Some(b'3'));
    }

    #[test]
    fn credit_codes_round_trip_through_json_and_refuse_bad_ones() {
        let c: CreditCode = serde_json::from_str("\"914403001922038216\"").unwrap();
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"914403001922038216\"");
        assert!(serde_json::from_str::<CreditCode>("\"914403001922038217\"").is_err());
    }

    #[test]
    fn the_official_identity_example_is_valid() {
        let id = IdentityNumber::parse("11010519491231002X").unwrap();
        assert_eq!(id.expose(), "11010519491231002X");
        assert_eq!(
            id.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert_eq!(
            IdentityNumber::parse("11010519491231002x")
                .unwrap()
                .expose(),
            "11010519491231002X"
        );
    }

    #[test]
    fn identity_numbers_with_a_wrong_check_are_refused() {
        for n in [
            "110105194912310020",
            "110105194912310021",
            "110105194912310029",
        ] {
            assert_eq!(
                IdentityNumber::parse(n),
                Err(IdError::InvalidIdentityNumber(
                    "wrong check character".into()
                ))
            );
        }
    }

    #[test]
    fn identity_numbers_of_the_wrong_shape_are_refused() {
        assert!(IdentityNumber::parse("11010519491231002").is_err());
        assert!(IdentityNumber::parse("11010519491231002XX").is_err());
        assert!(IdentityNumber::parse("1101051949123100AX").is_err());
        assert!(IdentityNumber::parse("").is_err());
    }

    #[test]
    fn identity_numbers_need_a_real_birth_date() {
        // 1949-02-30 does not exist; the check character is made right so only the date
        // rule can refuse it.
        let body = "11010519490230002";
        let sum: u32 = body
            .bytes()
            .zip(IDENTITY_WEIGHTS)
            .map(|(c, w)| u32::from(c - b'0') * w)
            .sum();
        let n = format!("{body}{}", IDENTITY_CHECK[(sum % 11) as usize] as char);
        assert_eq!(
            IdentityNumber::parse(&n),
            Err(IdError::InvalidIdentityNumber(
                "characters 7-14 are not a valid birth date".into()
            ))
        );
    }

    #[test]
    fn identity_errors_and_debug_never_show_the_number() {
        let e = IdentityNumber::parse("110105194912310020").unwrap_err();
        assert!(!e.to_string().contains("1101051949"));
        let id = IdentityNumber::parse("11010519491231002X").unwrap();
        assert_eq!(format!("{id:?}"), "IdentityNumber(***)");
    }
}
