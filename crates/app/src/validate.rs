//! Checks of free text and identifiers shared by every adapter that builds a command
//! (the API's bodies, the CLI's arguments): what "blank", "too long" and "not a credit
//! code" mean, with the field they are about.

use probity_domain::CreditCode;

use crate::error::AppError;

/// Longest accepted description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;
/// Longest accepted title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest accepted free text (reasons, notes, replies, comments), in characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Longest civil servant's name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// A required text: not blank, at most `max` characters.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<(), AppError> {
    if value.trim().is_empty() {
        return Err(AppError::field(
            field,
            "missing",
            format!("{field} must not be empty"),
        ));
    }
    check_length(field, value, max)
}

/// An optional text: at most `max` characters.
pub fn check_length(field: &str, value: &str, max: usize) -> Result<(), AppError> {
    if value.chars().count() > max {
        return Err(AppError::field(
            field,
            "too_long",
            format!("{field} must be at most {max} characters"),
        ));
    }
    Ok(())
}

/// A unified social credit code in `field` (trimmed).
pub fn credit_code(field: &str, value: &str) -> Result<CreditCode, AppError> {
    CreditCode::parse(value.trim()).map_err(|e| AppError::from_id(field, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blank_text_is_missing_and_a_long_one_too_long() {
        assert!(matches!(
            required_text("reason", "  ", 10),
            Err(AppError::Invalid(issues)) if issues[0].code == "missing"
        ));
        assert!(matches!(
            required_text("reason", "elevenchars", 10),
            Err(AppError::Invalid(issues)) if issues[0].code == "too_long"
        ));
        assert!(required_text("reason", "ok", 10).is_ok());
    }
}
