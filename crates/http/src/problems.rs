//! The problem responses of the OpenAPI document, stated once: every handler's
//! `#[utoipa::path]` names these sets in its `responses(...)` instead of spelling out
//! `application/problem+json` with the [`Problem`](crate::error::Problem) schema again.
//!
//! A set is a status, or several, each with the stable codes it documents (an empty
//! description where the status says enough). The codes themselves and their statuses are
//! decided in `crate::error`; these sets only describe them.

use std::collections::BTreeMap;

use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::IntoResponses;

/// The content type of every problem.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One problem response: `description` (the codes it documents), the `Problem` schema.
pub fn problem(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into()
}

/// The problem responses of `statuses`, each with its description.
pub fn problems(statuses: &[(u16, &str)]) -> BTreeMap<String, RefOr<Response>> {
    statuses
        .iter()
        .map(|(status, description)| (status.to_string(), problem(description)))
        .collect()
}

/// Declares the sets: `Name = [status, status: "codes", …];`.
macro_rules! problem_sets {
    ($($(#[doc = $doc:literal])* $name:ident = [$($status:literal $(: $codes:literal)?),+ $(,)?];)+) => {$(
        $(#[doc = $doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                problems(&[$(($status, concat!("" $(, $codes)?))),+])
            }
        }
    )+};
}

problem_sets! {
    /// 401 (no valid token) and 403 (the role may not): every authenticated route.
    Denied = [401, 403];
    /// 401 alone: a read open to every role.
    Unauthorized = [401];
    /// 404: no such case (or not one the caller may see).
    NotFound = [404];
    /// 409: the state does not allow it.
    Conflict = [409];
    /// 422: a malformed parameter or body.
    Unprocessable = [422];
    /// 413 and 415: a body too large, or not JSON.
    BadBody = [413, 415];
    /// A read of one case: 401, 403, 404.
    ReadProblems = [401, 403, 404];
    /// A verb on one integrity case: 401, 403, 404, 409, 412 (a stale `If-Match`), 422.
    VerbProblems = [401, 403, 404, 409, 412, 422];
    /// A verb on one complaint.
    ComplaintVerbProblems = [
        401,
        403,
        404,
        409: "invalid_transition or conflict",
        412: "version_conflict",
        413,
        415,
        422: "validation_failed, invalid_credit_code, calendar_missing",
    ];
    /// A civil servant's annual assessment: 401, 403, 404, 409 (one per year; a grade a
    /// sanction bars), 412, 422.
    AssessmentProblems = [
        401,
        403,
        404,
        409: "assessment_exists, assessment_restricted",
        412: "version_conflict",
        422: "validation_failed",
    ];
    /// 409 `already_exists`: the id is taken.
    AlreadyExists = [409: "already_exists"];
    /// 409 `repair_not_eligible` (with `possible_from`).
    RepairNotEligible = [409: "repair_not_eligible"];
    /// 409 `audit_not_ready`.
    AuditNotReady = [409: "audit_not_ready: no signed checkpoint covers this aggregate yet"];
    /// 422 on a body naming a credit code.
    InvalidCreditCode = [422: "validation_failed, invalid_credit_code"];
    /// 422 on a path naming a credit code.
    BadCreditCode = [422: "invalid_credit_code"];
    /// 422 on a body naming an identity number and a credit code.
    InvalidIdentity = [422: "validation_failed, invalid_identity_number, invalid_credit_code"];
    /// 422 on a new complaint.
    InvalidComplaint = [422: "validation_failed, invalid_credit_code, invalid_identity_number, idempotency_key_reused"];
    /// 422 where a due date is computed.
    InvalidDue = [422: "validation_failed, calendar_missing"];
    /// 422 where a credit code is given and a due date computed.
    InvalidDueCode = [422: "validation_failed, invalid_credit_code, calendar_missing"];
}
