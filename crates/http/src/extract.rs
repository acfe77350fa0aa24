//! Extractors that turn every malformed input into an `ApiError` (never axum's plain-text
//! rejections): JSON bodies (content type, size, unknown fields with their path), query
//! strings, `If-Match`, `Idempotency-Key`, request and correlation ids, path ids.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};
use crate::AppState;

/// A JSON request body, parsed strictly; `raw` is kept for idempotency hashing.
#[derive(Debug, Clone)]
pub struct ApiJson<T> {
    pub value: T,
    pub raw: Bytes,
}

/// A JSON body that may be absent (verbs without parameters): an empty body or a JSON
/// `null` is `T::default()`, a present one is parsed as strictly as `ApiJson` (any other
/// value than an object is 422 `validation_failed`).
#[derive(Debug, Clone)]
pub struct OptionalJson<T>(pub T);

fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

async fn read_body(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge {
                limit: state.config.body_limit_bytes,
            }
        } else {
            ApiError::field("body", "unreadable", "the request body could not be read")
        }
    })
}

/// Parses `bytes` as `T`, naming the offending field on failure.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|e| json_error(&e))?;
    de.end().map_err(|e| {
        ApiError::field(
            "body",
            "malformed",
            format!("trailing characters after the JSON value ({e})"),
        )
    })?;
    Ok(value)
}

fn json_error(e: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = e.path().to_string();
    let inner = e.inner();
    let message = inner.to_string();
    let join = |name: &str| {
        if path.is_empty() || path == "." {
            name.to_string()
        } else if path == name || path.ends_with(&format!(".{name}")) {
            // serde_path_to_error already names an unknown key in the path.
            path.clone()
        } else {
            format!("{path}.{name}")
        }
    };
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string)
    };
    let (field, code) = if let Some(name) = quoted("unknown field `") {
        (join(&name), "unknown_field")
    } else if let Some(name) = quoted("missing field `") {
        (join(&name), "missing")
    } else if inner.is_syntax() || inner.is_eof() {
        ("body".to_string(), "malformed")
    } else if path.is_empty() || path == "." {
        ("body".to_string(), "invalid")
    } else {
        (path.clone(), "invalid")
    };
    // serde's message may quote the client's own input back to it; errors are never
    // logged with their details (see `ApiError::into_response`).
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_string();
    ApiError::Validation {
        detail: format!("{field}: {message}"),
        errors: vec![FieldError::new(field, code, message)],
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let has_type = req.headers().contains_key(CONTENT_TYPE);
        let json = is_json(req.headers());
        let raw = read_body(req, state).await?;
        if !has_type && raw.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::field(
                "body",
                "missing",
                "a JSON body is required",
            ));
        }
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let value = parse_json(&raw)?;
        Ok(ApiJson { value, raw })
    }
}

impl<T: DeserializeOwned + Default> FromRequest<AppState> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let json = is_json(req.headers());
        let raw = read_body(req, state).await?;
        if raw.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        // `null` is "no body" too: a client that serialises an absent optional body as
        // JSON sends it (the OpenAPI document allows it for these verbs).
        if parse_json::<Option<serde::de::IgnoredAny>>(&raw)?.is_none() {
            return Ok(OptionalJson(T::default()));
        }
        Ok(OptionalJson(parse_json(&raw)?))
    }
}

/// Deserialises a whole number into `u32`: a JSON integer, or a number written with a
/// zero fraction (`5.0`), which JSON Schema counts as an integer too. Anything else
/// (a fraction, a negative or too large number, another type) is refused.
pub fn whole_u32<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = <serde_json::Number as serde::Deserialize>::deserialize(d)?;
    number_to_u32(&n).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "expected a whole number from 0 to {}, found {n}",
            u32::MAX
        ))
    })
}

/// [`whole_u32`] for an optional field (`null` or absent is `None`).
pub fn whole_u32_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let n = <Option<serde_json::Number> as serde::Deserialize>::deserialize(d)?;
    n.map(|n| {
        number_to_u32(&n).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "expected a whole number from 0 to {}, found {n}",
                u32::MAX
            ))
        })
    })
    .transpose()
}

fn number_to_u32(n: &serde_json::Number) -> Option<u32> {
    if let Some(v) = n.as_u64() {
        return u32::try_from(v).ok();
    }
    if n.is_i64() {
        return None;
    }
    let f = n.as_f64()?;
    (f.is_finite() && f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&f))
        .then_some(f as u32)
}

/// A query string parsed into `T`; failures are 422 naming the parameter.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
        serde_path_to_error::deserialize::<_, T>(de)
            .map(ApiQuery)
            .map_err(|e| {
                let message = e.inner().to_string();
                let path = e.path().to_string();
                let field = if path.is_empty() || path == "." {
                    message
                        .split('`')
                        .nth(1)
                        .map(str::to_string)
                        .unwrap_or_else(|| "query".to_string())
                } else {
                    path
                };
                ApiError::field(field, "invalid", message)
            })
    }
}

fn form_urlencoded_parse(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}

/// `If-Match: "<version>"`: the version the client expects the aggregate to be at.
/// Absent or `*` is `None`; anything else that is not a version is 422.
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(pub Option<usize>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(axum::http::header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let bad = || {
            ApiError::field(
                "If-Match",
                "invalid",
                "expected a quoted version such as \"3\"",
            )
        };
        let text = value.to_str().map_err(|_| bad())?.trim();
        if text == "*" {
            return Ok(IfMatch(None));
        }
        let text = text.strip_prefix("W/").unwrap_or(text);
        let inner = text
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or(text);
        if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        inner.parse().map(|v| IfMatch(Some(v))).map_err(|_| bad())
    }
}

/// `Idempotency-Key`: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(IdempotencyKey(None));
        };
        let bad = || {
            ApiError::field(
                "Idempotency-Key",
                "invalid",
                "expected 1 to 255 visible ASCII characters",
            )
        };
        let text = value.to_str().map_err(|_| bad())?.trim();
        if text.is_empty() || text.len() > 255 || !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad());
        }
        Ok(IdempotencyKey(Some(text.to_string())))
    }
}

/// The request id (from `x-request-id`, set by the request-id layer) and the correlation
/// id (`x-correlation-id`, else the request id).
#[derive(Debug, Clone)]
pub struct RequestCtx {
    pub request_id: String,
    pub correlation_id: String,
}

fn header_id(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 200 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
}

impl<S: Send + Sync> FromRequestParts<S> for RequestCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let request_id = header_id(&parts.headers, "x-request-id")
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let correlation_id =
            header_id(&parts.headers, "x-correlation-id").unwrap_or_else(|| request_id.clone());
        Ok(RequestCtx {
            request_id,
            correlation_id,
        })
    }
}

/// The `{id}` path segment of a case.
#[derive(Debug, Clone)]
pub struct CaseId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for CaseId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound("no such case".into()))?;
        if id.is_empty() || id.len() > 100 {
            return Err(ApiError::NotFound("no such case".into()));
        }
        Ok(CaseId(id))
    }
}
