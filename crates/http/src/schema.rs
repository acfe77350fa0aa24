//! The vocabulary of the OpenAPI document: what the server enforces on a value, stated
//! once so that a schema-driven client (or fuzzer, see `tests/schemathesis`) never sends
//! a schema-valid request the server refuses (issue 9, item 8).
//!
//! - Identifiers: [`CreditCode`] and [`IdentityNumber`] carry a pattern, their length and
//!   a format of their own (`credit-code`, `resident-identity-number`) naming the check
//!   characters that no pattern can state (GB 32100 with the embedded GB 11714
//!   organisation code; GB 11643). A pattern-valid value with a wrong check character is
//!   422 `invalid_credit_code` / `invalid_identity_number`.
//! - Closed sets: one enum per set of values the domain accepts ([`Category`],
//!   [`Source`], …), mirroring the domain's serde names (the tests below hold them to the
//!   domain's).
//! - Headers: [`IdempotencyKeyHeader`] and [`IfMatchHeader`] with the patterns their
//!   extractors enforce (`crate::extract`).
//!
//! Free texts state their rules on the field itself (utoipa takes literals only): a
//! required text is `min_length = 1`, its `max_length` in characters, and the pattern
//! [`NOT_BLANK`] (at least one character that is not white space as Rust's `trim` sees
//! it). A test walks the whole document and allows no other pattern than the ones named
//! here, so a copy that drifts is caught.

use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoParams, PartialSchema, ToSchema};

/// A unified social credit code: 18 characters of the GB 32100 alphabet, positions 3–8
/// digits. Lowercase letters are accepted and normalised, so the canonical form is
/// uppercase.
pub const CREDIT_CODE_PATTERN: &str = "^[0-9A-HJ-NP-RTUWXY]{2}[0-9]{6}[0-9A-HJ-NP-RTUWXY]{10}$";
/// A credit code, or nothing (empty or white space only means "none").
pub const CREDIT_CODE_OR_BLANK_PATTERN: &str =
    "^(?:[ \\t\\r\\n]*|[0-9A-HJ-NP-RTUWXY]{2}[0-9]{6}[0-9A-HJ-NP-RTUWXY]{10})$";
/// A resident identity number: 17 digits and a check character (digit or X).
pub const IDENTITY_NUMBER_PATTERN: &str = "^[0-9]{17}[0-9Xx]$";
/// A text with at least one character that is not white space (`char::is_whitespace`).
pub const NOT_BLANK: &str =
    "[^\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]";
/// `Idempotency-Key`: 1 to 255 visible ASCII characters.
pub const IDEMPOTENCY_KEY_PATTERN: &str = "^[!-~]{1,255}$";
/// `If-Match`: a version, quoted (`"3"`, the documented form) or not, weak or strong,
/// or `*` (no condition).
pub const IF_MATCH_PATTERN: &str = "^(?:\\*|(?:W/)?(?:\"[0-9]{1,18}\"|[0-9]{1,18}))$";
/// A blank text: white space only (`char::is_whitespace`), or empty.
pub const BLANK: &str =
    "^[\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*$";
/// Spaces only, or empty (a blank phone number: a tab is not a phone character).
pub const SPACES: &str = "^ *$";
/// A phone number: digits, spaces, `+`, `-`, `(` and `)`.
pub const PHONE_PATTERN: &str = "^[0-9+() -]*$";

/// A purpose in a query string: at most 200 characters, no control character.
pub const PURPOSE_PATTERN: &str = "^[^\\x00-\\x1F\\x7F-\\x9F]*$";
/// A purpose in the `X-Purpose` header: printable ASCII (a header's other bytes are not
/// reliably UTF-8).
pub const PURPOSE_HEADER_PATTERN: &str = "^[ -~]*$";
/// A numeric cursor (the last sequence or position of the previous page).
pub const NUMBER_CURSOR_PATTERN: &str = "^[0-9]{1,18}$";
/// An assessment period: a year (`2026`) or a quarter (`2026-Q2`).
pub const PERIOD_PATTERN: &str = "^[1-9][0-9]{3}(?:-[Qq][1-4])?$";
/// Assessment periods separated by commas (`2027`, `2027-Q2, 2026`), or blank (every
/// period, as when absent): the open data's `period`.
pub const PERIODS_PATTERN: &str =
    "^(?:[ \\t\\r\\n]*|[1-9][0-9]{3}(?:-[Qq][1-4])?(?: *, *[1-9][0-9]{3}(?:-[Qq][1-4])?)*)$";

/// The patterns the document may carry (see the module's test).
pub const PATTERNS: [&str; 14] = [
    BLANK,
    SPACES,
    PURPOSE_PATTERN,
    PURPOSE_HEADER_PATTERN,
    NUMBER_CURSOR_PATTERN,
    PERIOD_PATTERN,
    PERIODS_PATTERN,
    CREDIT_CODE_PATTERN,
    CREDIT_CODE_OR_BLANK_PATTERN,
    IDENTITY_NUMBER_PATTERN,
    NOT_BLANK,
    IDEMPOTENCY_KEY_PATTERN,
    IF_MATCH_PATTERN,
    PHONE_PATTERN,
];

fn string_schema(
    pattern: &str,
    min: usize,
    max: Option<usize>,
    format: Option<&str>,
    description: &str,
) -> RefOr<Schema> {
    let mut b = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .min_length(Some(min))
        .max_length(max)
        .description(Some(description));
    if let Some(format) = format {
        b = b.format(Some(SchemaFormat::Custom(format.to_string())));
    }
    RefOr::T(Schema::Object(b.build()))
}

/// 统一社会信用代码 in the OpenAPI document (the domain's `CreditCode` parses it).
pub struct CreditCode;

impl PartialSchema for CreditCode {
    fn schema() -> RefOr<Schema> {
        string_schema(
            CREDIT_CODE_PATTERN,
            18,
            Some(18),
            Some("credit-code"),
            "Unified social credit code (GB 32100): 18 characters, checked by its two check \
             characters (position 18, and position 17 for the embedded GB 11714 organisation \
             code); a wrong check character is 422 invalid_credit_code.",
        )
    }
}

impl ToSchema for CreditCode {}

/// A credit code that may be left empty (empty or blank means "none").
pub struct CreditCodeOrBlank;

impl PartialSchema for CreditCodeOrBlank {
    fn schema() -> RefOr<Schema> {
        string_schema(
            CREDIT_CODE_OR_BLANK_PATTERN,
            0,
            None,
            Some("credit-code-or-blank"),
            "A unified social credit code (see CreditCode), or empty for none.",
        )
    }
}

impl ToSchema for CreditCodeOrBlank {}

/// 公民身份号码 in the OpenAPI document (the domain's `IdentityNumber` parses it).
pub struct IdentityNumber;

impl PartialSchema for IdentityNumber {
    fn schema() -> RefOr<Schema> {
        string_schema(
            IDENTITY_NUMBER_PATTERN,
            18,
            Some(18),
            Some("resident-identity-number"),
            "Resident identity number (GB 11643): 17 digits whose characters 7-14 are a real \
             date (YYYYMMDD), and the check character; a wrong one is 422 \
             invalid_identity_number.",
        )
    }
}

impl ToSchema for IdentityNumber {}

/// `Idempotency-Key` on a creating `POST`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyKeyHeader {
    /// Makes a retry return the first response (same key, same body); the same key with
    /// another body is 422 idempotency_key_reused. 1 to 255 visible ASCII characters.
    #[param(
        rename = "Idempotency-Key",
        nullable = false,
        min_length = 1,
        max_length = 255,
        pattern = "^[!-~]{1,255}$"
    )]
    pub key: Option<String>,
}

/// `If-Match` on a command.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfMatchHeader {
    /// The version the client expects, e.g. `"3"`; a stale one is 412 version_conflict,
    /// `*` or no header is unconditional.
    #[param(
        rename = "If-Match",
        nullable = false,
        min_length = 1,
        max_length = 22,
        pattern = "^(?:\\*|(?:W/)?(?:\"[0-9]{1,18}\"|[0-9]{1,18}))$"
    )]
    pub version: Option<String>,
}

macro_rules! closed_set {
    ($(#[$doc:meta])* $name:ident => $domain:ty { $($variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        #[allow(dead_code)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in the document's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
        }

        #[cfg(test)]
        impl $name {
            /// The wire names, each parsed by the domain's own type.
            fn check_against_domain() {
                for v in Self::ALL {
                    let wire = serde_json::to_value(v).unwrap();
                    let parsed: $domain = serde_json::from_value(wire.clone())
                        .unwrap_or_else(|e| panic!("{wire} is not a {}: {e}", stringify!($domain)));
                    assert_eq!(serde_json::to_value(parsed).unwrap(), wire);
                }
            }
        }
    };
}

closed_set!(
    /// What the reporter asks for.
    Category => probity_domain::complaint::Category {
        Consultation, Help, Suggestion, Complaint, Report
    }
);
closed_set!(
    /// How the case reached intake.
    Channel => probity_domain::complaint::Channel { Hotline, Web, Letter, Visit, Open311 }
);
closed_set!(
    /// A complaint's status.
    ComplaintStatus => probity_domain::complaint::Status {
        Received, Accepted, Declined, Dispatched, InProgress, Returned, Replied, Closed, Merged
    }
);
closed_set!(
    /// The kind of a subject.
    SubjectKind => probity_domain::subject::SubjectKind {
        Government, Department, PublicInstitution, Enterprise
    }
);
closed_set!(
    /// A government sanction of a civil servant (政务处分法 art. 7).
    SanctionType => probity_domain::civil_servant::SanctionType {
        Warning, Demerit, MajorDemerit, Demotion, Dismissal, Expulsion
    }
);
closed_set!(
    /// An annual assessment grade (年度考核).
    AssessmentResult => probity_domain::civil_servant::AssessmentResult {
        Excellent, Competent, BasicallyCompetent, Incompetent
    }
);
closed_set!(
    /// Where a dishonesty finding comes from.
    Source => probity_domain::integrity::Source {
        AdministrativePenalty, Sanction, CourtJudgment, Audit, Complaint, CommitmentBreach,
        ThirdParty
    }
);
closed_set!(
    /// Where a record proposal stands.
    ProposalStatus => probity_domain::record_proposal::ProposalStatus {
        Submitted, Confirmed, Rejected
    }
);
closed_set!(
    /// 轻微 / 一般 / 严重.
    Severity => probity_domain::integrity::Severity { Minor, Ordinary, Serious }
);
closed_set!(
    /// The sector list a record belongs to.
    Sector => probity_domain::integrity::Sector {
        General, Procurement, Bidding, Ppp, Investment, Debt, Township
    }
);
closed_set!(
    /// The sectors with a public list.
    ListedSector => probity_domain::integrity::Sector { Procurement, Bidding, Ppp }
);
closed_set!(
    /// The sectors with a public list (`/public/sector-lists/{sector}`): the three with
    /// bans and the local government debt list.
    PublicList => probity_domain::integrity::Sector { Procurement, Bidding, Ppp, Debt }
);
closed_set!(
    /// The offence a court judgment convicted of (bribery bars bidding).
    Offence => probity_domain::integrity::Offence { Bribery }
);
closed_set!(
    /// Grounds of an objection.
    Grounds => probity_domain::objection::Grounds {
        WrongData, MissingData, PastPeriod, WronglyListed, NotRemoved
    }
);
closed_set!(
    /// What an upheld objection does to the record.
    ObjectionOutcome => probity_domain::objection::ObjectionOutcome {
        Correct, Complete, StopPublication, Unlist
    }
);
closed_set!(
    /// The kind of a commitment.
    CommitmentKind => probity_domain::commitment::CommitmentKind {
        InvestmentPromise, TownshipPublic, Repair
    }
);
closed_set!(
    /// How a commitment was kept.
    Fulfilment => probity_domain::commitment::Fulfilment {
        Fulfilled, PartiallyFulfilled, Breached
    }
);
closed_set!(
    /// The kind of a supervision item.
    SupervisionKind => probity_domain::supervision_item::SupervisionKind {
        NpcProposal, CppccMotion, JudicialSuggestion, ProcuratorialSuggestion
    }
);
closed_set!(
    /// The proposer's satisfaction with a supervision item's reply.
    Satisfaction => probity_domain::supervision_item::Satisfaction {
        Satisfied, BasicallySatisfied, Dissatisfied
    }
);

/// The kinds of commitment the public list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PublicCommitmentKind {
    InvestmentPromise,
    TownshipPublic,
}

/// A supervision item's status in the list filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SupervisionStatus {
    Assigned,
    Replied,
    Evaluated,
}

/// A record's status in the record list filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    Active,
    Withdrawn,
}

/// The status filter of the debt warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DebtWarningState {
    Raised,
    Cleared,
    All,
}

/// The state filter of the deadline board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineState {
    Overdue,
    DueSoon,
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::OpenApi;

    #[test]
    fn every_closed_set_names_values_the_domain_parses() {
        Category::check_against_domain();
        Channel::check_against_domain();
        ComplaintStatus::check_against_domain();
        SubjectKind::check_against_domain();
        Source::check_against_domain();
        ProposalStatus::check_against_domain();
        Severity::check_against_domain();
        SanctionType::check_against_domain();
        AssessmentResult::check_against_domain();
        Sector::check_against_domain();
        ListedSector::check_against_domain();
        PublicList::check_against_domain();
        Offence::check_against_domain();
        Grounds::check_against_domain();
        ObjectionOutcome::check_against_domain();
        CommitmentKind::check_against_domain();
        Fulfilment::check_against_domain();
        SupervisionKind::check_against_domain();
        Satisfaction::check_against_domain();
    }

    fn patterns(value: &serde_json::Value, found: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map {
                    if key == "pattern" {
                        if let Some(p) = v.as_str() {
                            found.push(p.to_string());
                        }
                    }
                    patterns(v, found);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| patterns(v, found)),
            _ => {}
        }
    }

    #[test]
    fn the_document_carries_only_the_patterns_named_here() {
        let doc = serde_json::to_value(crate::openapi::ApiDoc::openapi()).unwrap();
        let mut found = Vec::new();
        patterns(&doc, &mut found);
        assert!(!found.is_empty());
        for p in &found {
            assert!(
                PATTERNS.contains(&p.as_str()),
                "pattern {p:?} is not one of schema::PATTERNS"
            );
        }
    }

    fn matches(pattern: &str, value: &str) -> bool {
        regex::Regex::new(pattern).unwrap().is_match(value)
    }

    #[test]
    fn the_patterns_accept_what_the_parsers_accept() {
        for code in [
            "914403001922038216",
            "91330100716105852F",
            "113604000123456713",
        ] {
            assert!(probity_domain::CreditCode::parse(code).is_ok());
            assert!(matches(CREDIT_CODE_PATTERN, code), "{code}");
            assert!(matches(CREDIT_CODE_OR_BLANK_PATTERN, code), "{code}");
        }
        assert!(matches(CREDIT_CODE_OR_BLANK_PATTERN, ""));
        assert!(matches(CREDIT_CODE_OR_BLANK_PATTERN, "  "));
        assert!(!matches(CREDIT_CODE_PATTERN, "91440300192203821I"));
        assert!(!matches(CREDIT_CODE_PATTERN, "9144030019220382160"));
        assert!(probity_domain::IdentityNumber::parse("11010519491231002X").is_ok());
        assert!(matches(IDENTITY_NUMBER_PATTERN, "11010519491231002X"));
        assert!(matches(NOT_BLANK, " a "));
        for blank in ["", " ", "\t\n", "\u{3000}", "\u{a0}\u{85}\u{2028}"] {
            assert!(blank.trim().is_empty());
            assert!(!matches(NOT_BLANK, blank), "{blank:?}");
        }
        assert!(matches(IDEMPOTENCY_KEY_PATTERN, "order-42"));
        assert!(!matches(IDEMPOTENCY_KEY_PATTERN, "two words"));
        for v in ["\"3\"", "W/\"3\"", "3", "*"] {
            assert!(matches(IF_MATCH_PATTERN, v), "{v}");
        }
        assert!(!matches(IF_MATCH_PATTERN, "\"3"));
        assert!(matches(PHONE_PATTERN, "+86 (0792) 123-4567"));
        for blank in ["", " \t", "\u{3000}"] {
            assert!(matches(BLANK, blank), "{blank:?}");
        }
        assert!(!matches(BLANK, " a "));
        for periods in ["2027", "2027-Q2", "2027-q2, 2026", "2025,2026 , 2027-Q4"] {
            assert!(matches(PERIODS_PATTERN, periods), "{periods:?}");
        }
        for blank in ["", "  "] {
            assert!(matches(PERIODS_PATTERN, blank), "{blank:?}");
        }
        for bad in ["2027,", "27", "2027-Q5", "2027;2026", " x "] {
            assert!(!matches(PERIODS_PATTERN, bad), "{bad:?}");
        }
    }
}
