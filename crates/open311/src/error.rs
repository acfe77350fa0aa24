//! Failures in the GeoReport v2 error format. The failure is the API's [`ApiError`]:
//! its status and stable code come from the one mapping in `probity_http::error`; here
//! they are only written as GeoReport writes errors, `[{"code": <HTTP status>,
//! "description": "<detail> (<stable code>)"}]` or `<errors><error><code>…`, with each
//! field problem as an error of its own. Internal details are logged, never shown.

use axum::response::{IntoResponse, Response};
use probity_http::ApiError;
use serde_json::{json, Value};

use crate::format::Format;

/// An [`ApiError`] to be answered in `format`.
#[derive(Debug)]
pub struct Open311Error {
    pub format: Format,
    pub error: ApiError,
}

impl Open311Error {
    pub fn new(format: Format, error: ApiError) -> Self {
        Self { format, error }
    }

    /// The GeoReport error list.
    pub fn document(&self) -> Value {
        let problem = self.error.problem();
        let mut errors = vec![json!({
            "code": problem.status,
            "description": format!("{} ({})", problem.detail, problem.code),
        })];
        for field in &problem.errors {
            errors.push(json!({
                "code": problem.status,
                "description": format!("{}: {} ({})", field.field, field.message, field.code),
            }));
        }
        Value::Array(errors)
    }
}

impl IntoResponse for Open311Error {
    fn into_response(self) -> Response {
        match &self.error {
            ApiError::Internal(context) => tracing::error!(error = %context, "internal error"),
            other => tracing::debug!(code = other.code(), "open311 request refused"),
        }
        self.format
            .respond(self.error.status(), "errors", "error", &self.document())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_carries_its_status_and_stable_code_and_hides_internals() {
        let e = Open311Error::new(Format::Json, ApiError::Unauthenticated);
        let doc = e.document();
        assert_eq!(doc[0]["code"], 401);
        assert!(doc[0]["description"]
            .as_str()
            .unwrap()
            .ends_with("(unauthenticated)"));
        let e = Open311Error::new(Format::Xml, ApiError::internal("db password is hunter2"));
        assert!(!e.document().to_string().contains("hunter2"));
    }
}
