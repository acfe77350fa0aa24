//! Checks of free text and identifiers shared by every adapter that builds a command
//! (the API's bodies, the CLI's arguments): what "blank", "too long" and "not a credit
//! code" mean, with the field they are about.
//!
//! The filing of a complaint is checked here once ([`filing`]) for the three adapters
//! that take one: the JSON API, Open311 and the intake page. Each passes the raw fields
//! and its own names for them; the rules, codes and (English) messages are these.

use probity_domain::complaint::{Category, Channel};
use probity_domain::reporter::ReporterIdentity;
use probity_domain::{CreditCode, IdentityNumber};

use crate::complaints::NewComplaint;
use crate::error::{AppError, FieldIssue};

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

/// Longest reporter's name, in characters.
pub const MAX_REPORTER_NAME_CHARS: usize = 100;
/// Longest reporter's phone, in characters.
pub const MAX_PHONE_CHARS: usize = 32;

/// A reporter's phone: at most 32 digits, spaces, `+`, `-`, `(` or `)`.
pub fn phone(field: &str, value: &str) -> Result<(), AppError> {
    let ok = value.chars().count() <= MAX_PHONE_CHARS
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'));
    if ok {
        Ok(())
    } else {
        Err(AppError::field(
            field,
            "invalid",
            "a phone number has at most 32 digits, spaces, +, -, ( or )",
        ))
    }
}

/// A field of a complaint's filing; each adapter names it in its own terms
/// (`reporter.name` in the API, `first_name` in Open311, `name` on the page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilingField {
    Category,
    Channel,
    SubjectCode,
    Title,
    Description,
    /// The reporter as a whole: missing, or neither named nor anonymous.
    Reporter,
    /// The anonymous flag, when it contradicts a name, phone or identity number given.
    Anonymous,
    ReporterName,
    ReporterPhone,
    IdentityNumber,
}

/// The raw fields of a filing, as an adapter received them (blank counts as absent
/// where a field is optional).
#[derive(Clone, Copy, Default)]
pub struct RawFiling<'a> {
    /// The category's wire name (`complaint`); `None` when not given.
    pub category: Option<&'a str>,
    /// The channel's wire name (`hotline`); `None` when not given.
    pub channel: Option<&'a str>,
    pub subject_code: Option<&'a str>,
    pub title: &'a str,
    pub description: &'a str,
    /// `None`: no reporter at all (the API's missing `reporter`); `Some(true)`: an
    /// anonymous report, which carries no name, phone or identity number.
    pub anonymous: Option<bool>,
    pub name: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub identity_number: Option<&'a str>,
}

impl std::fmt::Debug for RawFiling<'_> {
    /// Without the reporter's identity (personal data is never logged).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawFiling")
            .field("category", &self.category)
            .field("channel", &self.channel)
            .field("anonymous", &self.anonymous)
            .finish_non_exhaustive()
    }
}

/// A choice among wire names (`complaint`, `hotline`): `missing` or `invalid`.
fn choice<T: serde::de::DeserializeOwned>(
    issues: &mut Vec<FieldIssue>,
    field: &str,
    value: Option<&str>,
    what: &str,
) -> Option<T> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        issues.push(FieldIssue::new(
            field,
            "missing",
            format!("{field} is required"),
        ));
        return None;
    };
    let parsed = serde_json::from_value(serde_json::Value::String(value.to_string())).ok();
    if parsed.is_none() {
        issues.push(FieldIssue::new(
            field,
            "invalid",
            format!("{value} is not a {what}"),
        ));
    }
    parsed
}

/// A value not blank, trimmed.
fn given(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// Adds the issues of a failed check to `issues`.
fn note(issues: &mut Vec<FieldIssue>, result: Result<(), AppError>) {
    if let Err(AppError::Invalid(more)) = result {
        issues.extend(more);
    }
}

/// The one check of a complaint's filing (API, Open311, intake page), every field
/// problem at once, each under the adapter's `name` for its field:
/// - category and channel given and known (`missing`, `invalid`);
/// - title (at most 200 characters) and description (at most 4000) not blank
///   (`missing`, `too_long`);
/// - a reporter given (`missing`); an anonymous one carries no name, phone or identity
///   number (`invalid` on [`FilingField::Anonymous`]); a named one at least one of them
///   (`missing` on [`FilingField::Reporter`]); a name at most 100 characters
///   (`too_long`), a phone at most 32 digits, spaces, `+ - ( )` (`invalid`);
/// - a subject code a valid credit code, an identity number a valid GB 11643 number.
///
/// An invalid credit code or identity number alone keeps its own error
/// (`invalid_credit_code`, `invalid_identity_number`: the contract's codes); beside
/// other problems it is one more field issue with that code. The reporter's fields
/// come back trimmed, blanks dropped; an anonymous report has no reporter.
pub fn filing(
    raw: &RawFiling<'_>,
    name: impl Fn(FilingField) -> &'static str,
) -> Result<NewComplaint, AppError> {
    let mut issues = Vec::new();
    let category: Option<Category> = choice(
        &mut issues,
        name(FilingField::Category),
        raw.category,
        "category",
    );
    let channel: Option<Channel> = choice(
        &mut issues,
        name(FilingField::Channel),
        raw.channel,
        "channel",
    );
    note(
        &mut issues,
        required_text(name(FilingField::Title), raw.title, MAX_TITLE_CHARS),
    );
    note(
        &mut issues,
        required_text(
            name(FilingField::Description),
            raw.description,
            MAX_DESCRIPTION_CHARS,
        ),
    );
    let identity_given = given(raw.name).is_some()
        || given(raw.phone).is_some()
        || given(raw.identity_number).is_some();
    match raw.anonymous {
        None => issues.push(FieldIssue::new(
            name(FilingField::Reporter),
            "missing",
            "reporter is required; send {\"anonymous\": true} for an anonymous report",
        )),
        Some(true) if identity_given => issues.push(FieldIssue::new(
            name(FilingField::Anonymous),
            "invalid",
            "an anonymous report carries no name, phone or identity number",
        )),
        Some(false) if !identity_given => issues.push(FieldIssue::new(
            name(FilingField::Reporter),
            "missing",
            "give the reporter's name, phone or identity number, or anonymous: true",
        )),
        Some(_) => {}
    }
    if raw.anonymous.is_some() {
        if let Some(n) = raw.name {
            note(
                &mut issues,
                check_length(name(FilingField::ReporterName), n, MAX_REPORTER_NAME_CHARS),
            );
        }
        if let Some(p) = raw.phone {
            note(&mut issues, phone(name(FilingField::ReporterPhone), p));
        }
    }
    // Identifiers last: alone, an invalid one is its own error.
    let mut id_errors = Vec::new();
    let subject_code = match given(raw.subject_code) {
        None => None,
        Some(code) => match credit_code(name(FilingField::SubjectCode), code) {
            Ok(c) => Some(c),
            Err(e) => {
                id_errors.push(e);
                None
            }
        },
    };
    let identity_number = match given(raw.identity_number) {
        Some(n) if raw.anonymous == Some(false) => match IdentityNumber::parse(n) {
            Ok(id) => Some(id.expose().to_string()),
            Err(e) => {
                id_errors.push(AppError::from_id(name(FilingField::IdentityNumber), e));
                None
            }
        },
        _ => None,
    };
    if !issues.is_empty() {
        issues.extend(id_errors.into_iter().filter_map(|e| match e {
            AppError::InvalidCreditCode { field, .. } => Some(FieldIssue::new(
                field,
                "invalid_credit_code",
                "not a valid unified social credit code",
            )),
            AppError::InvalidIdentityNumber { field } => Some(FieldIssue::new(
                field,
                "invalid_identity_number",
                "not a valid resident identity number",
            )),
            _ => None,
        }));
        return Err(AppError::Invalid(issues));
    }
    if let Some(first) = id_errors.into_iter().next() {
        return Err(first);
    }
    let (Some(category), Some(channel)) = (category, channel) else {
        return Err(AppError::internal(
            "a checked filing without its category or channel",
        ));
    };
    let clean = |v: Option<&str>| given(v).map(str::to_string);
    Ok(NewComplaint {
        category,
        channel,
        subject_code,
        title: raw.title.to_string(),
        description: raw.description.to_string(),
        reporter: (raw.anonymous == Some(false)).then(|| ReporterIdentity {
            name: clean(raw.name),
            phone: clean(raw.phone),
            identity_number,
        }),
    })
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

    const CODE: &str = "91330100716105852F";

    fn api_names(f: FilingField) -> &'static str {
        match f {
            FilingField::Category => "category",
            FilingField::Channel => "channel",
            FilingField::SubjectCode => "subject_code",
            FilingField::Title => "title",
            FilingField::Description => "description",
            FilingField::Reporter => "reporter",
            FilingField::Anonymous => "reporter.anonymous",
            FilingField::ReporterName => "reporter.name",
            FilingField::ReporterPhone => "reporter.phone",
            FilingField::IdentityNumber => "reporter.identity_number",
        }
    }

    fn named() -> RawFiling<'static> {
        RawFiling {
            category: Some("complaint"),
            channel: Some("hotline"),
            subject_code: None,
            title: "Late permit",
            description: "The permit is three months late.",
            anonymous: Some(false),
            name: Some("  李四 "),
            phone: Some(""),
            identity_number: None,
        }
    }

    fn issues(raw: &RawFiling<'_>) -> Vec<(String, String)> {
        match filing(raw, api_names) {
            Err(AppError::Invalid(issues)) => {
                issues.into_iter().map(|i| (i.field, i.code)).collect()
            }
            other => panic!("expected field issues, got {other:?}"),
        }
    }

    fn pair(field: &str, code: &str) -> (String, String) {
        (field.to_string(), code.to_string())
    }

    #[test]
    fn a_named_filing_yields_the_complaint_with_its_reporter_trimmed() {
        let c = filing(&named(), api_names).expect("valid");
        assert_eq!(c.category, Category::Complaint);
        assert_eq!(c.channel, Channel::Hotline);
        let r = c.reporter.expect("named");
        assert_eq!(r.name.as_deref(), Some("李四"));
        assert_eq!(r.phone, None, "a blank phone is no phone");
    }

    #[test]
    fn an_anonymous_filing_has_no_reporter() {
        let raw = RawFiling {
            anonymous: Some(true),
            name: None,
            phone: Some(" "),
            ..named()
        };
        assert!(filing(&raw, api_names).expect("valid").reporter.is_none());
    }

    #[test]
    fn every_field_problem_is_reported_at_once_under_the_adapters_names() {
        let long_name = "名".repeat(101);
        let raw = RawFiling {
            category: Some("gossip"),
            channel: None,
            title: " ",
            description: "",
            name: Some(&long_name),
            phone: Some("call me"),
            ..named()
        };
        assert_eq!(
            issues(&raw),
            vec![
                pair("category", "invalid"),
                pair("channel", "missing"),
                pair("title", "missing"),
                pair("description", "missing"),
                pair("reporter.name", "too_long"),
                pair("reporter.phone", "invalid"),
            ]
        );
    }

    #[test]
    fn a_missing_reporter_an_empty_named_one_and_an_anonymous_one_with_a_name_are_refused() {
        let missing = RawFiling {
            anonymous: None,
            name: None,
            ..named()
        };
        assert_eq!(issues(&missing), vec![pair("reporter", "missing")]);
        let nobody = RawFiling {
            name: Some(" "),
            ..named()
        };
        assert_eq!(issues(&nobody), vec![pair("reporter", "missing")]);
        let contradiction = RawFiling {
            anonymous: Some(true),
            ..named()
        };
        assert_eq!(
            issues(&contradiction),
            vec![pair("reporter.anonymous", "invalid")]
        );
    }

    #[test]
    fn an_invalid_credit_code_alone_keeps_its_own_error_and_beside_others_is_one_more_issue() {
        let bad_code = RawFiling {
            subject_code: Some("not-a-code"),
            ..named()
        };
        assert!(matches!(
            filing(&bad_code, api_names),
            Err(AppError::InvalidCreditCode { field, .. }) if field == "subject_code"
        ));
        let also_untitled = RawFiling {
            title: "",
            ..bad_code
        };
        assert_eq!(
            issues(&also_untitled),
            vec![
                pair("title", "missing"),
                pair("subject_code", "invalid_credit_code")
            ]
        );
        let good_code = RawFiling {
            subject_code: Some(CODE),
            ..named()
        };
        assert!(filing(&good_code, api_names)
            .expect("valid")
            .subject_code
            .is_some());
    }

    #[test]
    fn an_invalid_identity_number_alone_keeps_its_own_error() {
        let raw = RawFiling {
            identity_number: Some("110101199003070000"),
            ..named()
        };
        assert!(matches!(
            filing(&raw, api_names),
            Err(AppError::InvalidIdentityNumber { field }) if field == "reporter.identity_number"
        ));
    }

    #[test]
    fn a_phone_has_digits_spaces_and_plus_minus_parentheses_up_to_32() {
        assert!(phone("phone", "+86 (0792) 123-4567").is_ok());
        assert!(phone("phone", "call me").is_err());
        assert!(phone("phone", &"1".repeat(33)).is_err());
    }
}
