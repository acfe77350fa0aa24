//! Open311 GeoReport v2 under `/open311/v2/`: the hotline systems that already speak
//! it list the services (the complaint categories), file service requests (complaints,
//! channel `open311`) with an intake token as `api_key`, and read them back, in JSON or
//! XML.
//!
//! An adapter like the JSON API, over the same application layer ([`probity_app`]):
//! filing is [`probity_app::App::file_complaint`] with the intake role required exactly as
//! on `POST /api/v1/complaints`; a failure is the API's [`ApiError`] (its status comes
//! from the one mapping in `probity_http::error`) written in the GeoReport error format
//! (`[{"code": <status>, "description": …}]`, `<errors><error>…`) by [`error`].
//!
//! The mapping of domain-rules §4 is in [`mapping`]; every GET answers with
//! [`mapping::ServiceRequest`], which has no field for personal data. A GET needs no
//! key (GeoReport's reads are public); the request's id is a UUID and the case's text,
//! the body complained about and the reporter are never shown.
//!
//! `tokens/{token}`: filing is synchronous, so the token a POST returns is the service
//! request id itself and `tokens/{id}` answers that id once the case exists.

pub mod error;
pub mod format;
pub mod mapping;

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use probity_app::complaints::NewComplaint;
use probity_app::validate::{filing, FilingField, RawFiling, MAX_TITLE_CHARS};
use probity_app::{AppError, Caller, CommandContext, Role};
use probity_http::error::FieldError;
use probity_http::extract::RequestCtx;
use probity_http::{ApiError, AppState};
use probity_views::{ComplaintFilter, ComplaintView};
use serde_json::{json, Value};

use crate::error::Open311Error;
use crate::format::Format;
use crate::mapping::{service, service_request, ServiceRequest, GROUP, SERVICES};

/// Where the endpoints live.
pub const BASE: &str = "/open311/v2";

/// The most requests one GET returns (GeoReport lets a server cap its lists).
pub const MAX_REQUESTS: usize = 1000;

/// The widest `start_date`..`end_date` window, and the default one (ending now).
pub const WINDOW_DAYS: i64 = 90;

/// The routes under [`BASE`], over the API's state (merge into the binary's router).
pub fn router(state: AppState) -> Router {
    let limit = state.config.body_limit_bytes;
    Router::new()
        .route(&format!("{BASE}/services.json"), get(services_json))
        .route(&format!("{BASE}/services.xml"), get(services_xml))
        .route(
            &format!("{BASE}/services/{{file}}"),
            get(service_definition),
        )
        .route(
            &format!("{BASE}/requests.json"),
            get(requests_json).post(create_json),
        )
        .route(
            &format!("{BASE}/requests.xml"),
            get(requests_xml).post(create_xml),
        )
        .route(&format!("{BASE}/requests/{{file}}"), get(request_view))
        .route(&format!("{BASE}/tokens/{{file}}"), get(token_view))
        .route(&format!("{BASE}/{{*rest}}"), axum::routing::any(unknown))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn unknown(Path(rest): Path<String>) -> Open311Error {
    Open311Error::new(
        Format::of_path(&rest),
        ApiError::NotFound(format!("no Open311 resource {BASE}/{rest}")),
    )
}

// ---- services ----

fn services_document() -> Value {
    Value::Array(
        SERVICES
            .iter()
            .map(|s| {
                json!({
                    "service_code": s.code,
                    "service_name": s.name,
                    "description": s.description,
                    "metadata": true,
                    "type": "realtime",
                    "keywords": s.keywords,
                    "group": GROUP,
                })
            })
            .collect(),
    )
}

async fn services_json() -> Response {
    Format::Json.respond(StatusCode::OK, "services", "service", &services_document())
}

async fn services_xml() -> Response {
    Format::Xml.respond(StatusCode::OK, "services", "service", &services_document())
}

/// `GET services/{code}.{format}`: the attributes a request of this service may carry.
async fn service_definition(Path(file): Path<String>) -> Result<Response, Open311Error> {
    let (code, format) = split(&file)?;
    let service = service(code).ok_or_else(|| {
        Open311Error::new(
            format,
            ApiError::NotFound(format!("no service with service_code {code}")),
        )
    })?;
    let definition = json!({
        "service_code": service.code,
        "attributes": [
            {
                "variable": true,
                "code": "title",
                "datatype": "string",
                "required": false,
                "datatype_description": format!("至多 {MAX_TITLE_CHARS} 字 at most {MAX_TITLE_CHARS} characters"),
                "order": 1,
                "description": "标题（缺省取描述的第一行） Title (default: the description's first line)",
            },
            {
                "variable": true,
                "code": "subject_code",
                "datatype": "string",
                "required": false,
                "datatype_description": "18 位统一社会信用代码 An 18-character unified social credit code",
                "order": 2,
                "description": "被投诉举报的单位 The body complained about",
            },
        ],
    });
    Ok(format.respond(
        StatusCode::OK,
        "service_definition",
        "service_definition",
        &definition,
    ))
}

// ---- reading requests ----

/// The parameters of `GET requests.{format}`.
const LIST_PARAMS: [&str; 7] = [
    "service_request_id",
    "service_code",
    "start_date",
    "end_date",
    "status",
    "jurisdiction_id",
    "api_key",
];

async fn requests_json(state: State<AppState>, query: RawQuery) -> Result<Response, Open311Error> {
    list(state, query, Format::Json).await
}

async fn requests_xml(state: State<AppState>, query: RawQuery) -> Result<Response, Open311Error> {
    list(state, query, Format::Xml).await
}

fn requests_response(format: Format, requests: &[ServiceRequest]) -> Response {
    let document = serde_json::to_value(requests).unwrap_or_else(|_| json!([]));
    format.respond(StatusCode::OK, "service_requests", "request", &document)
}

/// A W3C date-time (`2026-03-11T10:00:00+08:00`), or a date (`2026-03-11`, the start of
/// that day in China).
fn parse_instant(field: &str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    let value = value.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Ok(at.with_timezone(&Utc));
    }
    if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(mapping::end_of_day(day) - Duration::seconds(24 * 3600 - 1));
    }
    Err(ApiError::field(
        field,
        "invalid",
        format!("{field} must be a W3C date-time such as 2026-03-11T10:00:00+08:00"),
    ))
}

/// The query's pairs; an unknown or repeated parameter is refused.
fn query_pairs(query: Option<&str>, allowed: &[&str]) -> Result<HashMap<String, String>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|_| ApiError::field("query", "invalid", "the query string is malformed"))?;
    let mut out = HashMap::new();
    for (k, v) in pairs {
        if !allowed.contains(&k.as_str()) {
            return Err(ApiError::field(
                k.clone(),
                "unknown_field",
                format!("{k} is not a parameter of this resource"),
            ));
        }
        if out.insert(k.clone(), v).is_some() {
            return Err(ApiError::field(
                k.clone(),
                "repeated",
                format!("{k} is given twice; list several values comma-delimited"),
            ));
        }
    }
    Ok(out)
}

/// Comma-delimited values, blanks dropped.
fn values(list: &str) -> Vec<&str> {
    list.split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

#[tracing::instrument(name = "open311_request_list", skip_all)]
async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    format: Format,
) -> Result<Response, Open311Error> {
    let fail = |e: ApiError| Open311Error::new(format, e);
    let q = query_pairs(query.as_deref(), &LIST_PARAMS).map_err(fail)?;
    let today = state.app.clock.today();

    // service_request_id overrides every other parameter.
    if let Some(ids) = q.get("service_request_id") {
        let mut found = Vec::new();
        for id in values(ids).into_iter().take(MAX_REQUESTS) {
            if let Some(view) = state
                .app
                .read_complaint(id)
                .await
                .map_err(|e| fail(e.into()))?
            {
                found.push(to_request(&state, &view));
            }
        }
        return Ok(requests_response(format, &found));
    }

    let mut codes = Vec::new();
    if let Some(list) = q.get("service_code") {
        for code in values(list) {
            let s = service(code).ok_or_else(|| {
                fail(ApiError::field(
                    "service_code",
                    "invalid",
                    format!("{code} is not a service_code (see services.json)"),
                ))
            })?;
            codes.push(s.code);
        }
    }
    let mut statuses: Vec<&str> = Vec::new();
    if let Some(list) = q.get("status") {
        for status in values(list) {
            let of = mapping::statuses_of(status).ok_or_else(|| {
                fail(ApiError::field(
                    "status",
                    "invalid",
                    "status is open or closed (comma-delimited)",
                ))
            })?;
            statuses.extend_from_slice(of);
        }
    }
    let now = state.app.clock.now();
    let start = q
        .get("start_date")
        .map(|v| parse_instant("start_date", v))
        .transpose()
        .map_err(fail)?;
    let end = q
        .get("end_date")
        .map(|v| parse_instant("end_date", v))
        .transpose()
        .map_err(fail)?;
    let window = Duration::days(WINDOW_DAYS);
    let (start, end) = match (start, end) {
        (Some(s), Some(e)) => (s, e),
        (Some(s), None) => (s, s + window),
        (None, Some(e)) => (e - window, e),
        (None, None) => (now - window, now),
    };
    if end < start {
        return Err(fail(ApiError::field(
            "end_date",
            "invalid",
            "end_date is before start_date",
        )));
    }
    if end - start > window {
        return Err(fail(ApiError::field(
            "end_date",
            "invalid",
            format!("start_date and end_date may not span more than {WINDOW_DAYS} days"),
        )));
    }

    // The list of the read model in received order, one query per category and status
    // asked for (or one for all), each a range of the received-order index from the
    // window's start: a bounded read (at most MAX_REQUESTS cases in the window), never a
    // walk from the first case ever received.
    let categories: Vec<Option<&str>> = if codes.is_empty() {
        vec![None]
    } else {
        codes.iter().map(|c| Some(*c)).collect()
    };
    let status_filters: Vec<Option<&str>> = if statuses.is_empty() {
        vec![None]
    } else {
        statuses.iter().map(|s| Some(*s)).collect()
    };
    let mut found: Vec<ComplaintView> = Vec::new();
    'filters: for category in &categories {
        for status in &status_filters {
            let filter = ComplaintFilter {
                category: category.map(str::to_string),
                status: status.map(str::to_string),
                received_from: Some(start),
                received_to: Some(end),
                ..ComplaintFilter::default()
            };
            let mut cursor: Option<String> = None;
            'pages: loop {
                let page = state
                    .app
                    .views
                    .complaints(&filter, today, 500, cursor.as_deref())
                    .await
                    .map_err(|e| fail(e.into()))?;
                for view in page.items {
                    if view.received_at > end {
                        // Received order: nothing later is inside the window.
                        break 'pages;
                    }
                    if view.received_at >= start {
                        found.push(view);
                        if found.len() >= MAX_REQUESTS {
                            break 'filters;
                        }
                    }
                }
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
    }
    // Newest first, as GeoReport servers list them.
    found.sort_by(|a, b| {
        b.received_at
            .cmp(&a.received_at)
            .then_with(|| b.id.cmp(&a.id))
    });
    let requests: Vec<ServiceRequest> = found.iter().map(|v| to_request(&state, v)).collect();
    Ok(requests_response(format, &requests))
}

/// The reply time limit of a category, as a notice.
fn notice(state: &AppState, category: &str) -> Option<String> {
    let service = service(category)?;
    let days = state
        .app
        .complaints
        .services
        .limits
        .reply_working_days(service.category);
    Some(format!(
        "派单后 {days} 个工作日内答复 Replied within {days} working days of dispatch"
    ))
}

fn to_request(state: &AppState, view: &ComplaintView) -> ServiceRequest {
    service_request(view, notice(state, &view.category))
}

fn split(file: &str) -> Result<(&str, Format), Open311Error> {
    Format::split(file).ok_or_else(|| {
        Open311Error::new(
            Format::Json,
            ApiError::NotFound(format!("{file}: ask for .json or .xml")),
        )
    })
}

/// `GET requests/{id}.{format}`: one request, as a list of one.
#[tracing::instrument(name = "open311_request_view", skip_all)]
async fn request_view(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Open311Error> {
    let (id, format) = split(&file)?;
    let view = one_request(&state, query.as_deref(), id, format, "no service request").await?;
    Ok(requests_response(format, &[to_request(&state, &view)]))
}

/// The complaint a `requests/{id}` or `tokens/{token}` read names, after checking the
/// read's query (404 `not_found`, saying `missing` and the id, when there is none).
async fn one_request(
    state: &AppState,
    query: Option<&str>,
    id: &str,
    format: Format,
    missing: &str,
) -> Result<ComplaintView, Open311Error> {
    query_pairs(query, &["jurisdiction_id", "api_key"])
        .map_err(|e| Open311Error::new(format, e))?;
    state
        .app
        .read_complaint(id)
        .await
        .map_err(|e| Open311Error::new(format, e.into()))?
        .ok_or_else(|| Open311Error::new(format, ApiError::NotFound(format!("{missing} {id}"))))
}

/// `GET tokens/{token}.{format}`: the service request a POST's token stands for.
#[tracing::instrument(name = "open311_token_view", skip_all)]
async fn token_view(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Open311Error> {
    let (token, format) = split(&file)?;
    one_request(
        &state,
        query.as_deref(),
        token,
        format,
        "no service request for token",
    )
    .await?;
    let document = json!([{ "service_request_id": token, "token": token }]);
    Ok(format.respond(StatusCode::OK, "service_requests", "request", &document))
}

// ---- filing ----

/// The fields a POST may carry: GeoReport's own (location, media, e-mail and device are
/// accepted and not kept: a complaint has no place for them) and the service
/// definition's attributes.
const POST_FIELDS: [&str; 19] = [
    "api_key",
    "jurisdiction_id",
    "service_code",
    "description",
    "first_name",
    "last_name",
    "phone",
    "email",
    "device_id",
    "account_id",
    "lat",
    "long",
    "address_string",
    "address_id",
    "media_url",
    "attribute[title]",
    "attribute[subject_code]",
    "title",
    "subject_code",
];

async fn create_json(
    state: State<AppState>,
    ctx: RequestCtx,
    query: RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, Open311Error> {
    create(state, ctx, query, headers, body, Format::Json).await
}

async fn create_xml(
    state: State<AppState>,
    ctx: RequestCtx,
    query: RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, Open311Error> {
    create(state, ctx, query, headers, body, Format::Xml).await
}

/// The caller of an `api_key`: an intake token, as `POST /api/v1/complaints` requires.
async fn intake_caller(state: &AppState, key: Option<&str>) -> Result<Caller, ApiError> {
    let key = key
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or(ApiError::Unauthenticated)?;
    let caller = state
        .app
        .tokens
        .authenticate(&state.db, key)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    caller.require(&[Role::Intake])?;
    Ok(caller)
}

/// `POST requests.{format}` (form-encoded, `api_key` in the body or the query): files a
/// complaint with channel `open311`.
#[tracing::instrument(name = "open311_request_create", skip_all, fields(request_id = %ctx.request_id, case_id))]
async fn create(
    State(state): State<AppState>,
    ctx: RequestCtx,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
    format: Format,
) -> Result<Response, Open311Error> {
    let fail = |e: ApiError| Open311Error::new(format, e);
    let body = body.map_err(|_| {
        fail(ApiError::PayloadTooLarge {
            limit: state.config.body_limit_bytes,
        })
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/x-www-form-urlencoded");
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(fail(ApiError::field(
            "content-type",
            "unsupported",
            "send the fields as application/x-www-form-urlencoded (media uploads are not taken)",
        )));
    }
    let mut fields = query_pairs(query.as_deref(), &POST_FIELDS).map_err(fail)?;
    let body = std::str::from_utf8(&body)
        .map_err(|_| fail(ApiError::field("body", "invalid", "the body is not UTF-8")))?;
    for (k, v) in query_pairs(Some(body), &POST_FIELDS).map_err(fail)? {
        fields.insert(k, v);
    }
    let caller = intake_caller(&state, fields.get("api_key").map(String::as_str))
        .await
        .map_err(fail)?;
    let complaint = new_complaint(&fields).map_err(fail)?;
    let category = fields
        .get("service_code")
        .cloned()
        .unwrap_or_default()
        .trim()
        .to_string();
    let command = CommandContext {
        caller: &caller,
        request_id: &ctx.request_id,
        correlation_id: &ctx.correlation_id,
        once: None,
    };
    let (id, _view) = state
        .app
        .file_complaint(command, complaint)
        .await
        .map_err(|e| fail(e.into()))?;
    tracing::Span::current().record("case_id", id.as_str());
    let document = json!([{
        "service_request_id": id,
        "token": id,
        "service_notice": notice(&state, &category),
        "account_id": null,
    }]);
    let mut response = format.respond(
        StatusCode::CREATED,
        "service_requests",
        "request",
        &document,
    );
    let ext = match format {
        Format::Json => "json",
        Format::Xml => "xml",
    };
    if let Ok(location) = HeaderValue::from_str(&format!("{BASE}/requests/{id}.{ext}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Open311's names of the filing's fields (a reporter is anonymous when it gives no
/// name and no phone, so the reporter's own problems do not arise here).
fn field_name(field: FilingField) -> &'static str {
    match field {
        FilingField::Category => "service_code",
        FilingField::Channel => "channel",
        FilingField::SubjectCode => "attribute[subject_code]",
        FilingField::Title => "attribute[title]",
        FilingField::Description => "description",
        FilingField::Reporter | FilingField::Anonymous => "reporter",
        FilingField::ReporterName => "first_name",
        FilingField::ReporterPhone => "phone",
        FilingField::IdentityNumber => "identity_number",
    }
}

/// The complaint a POST's fields describe, with every field problem at once: the
/// service code is Open311's own; the rest is the one filing validation
/// ([`probity_app::validate::filing`]).
fn new_complaint(fields: &HashMap<String, String>) -> Result<NewComplaint, ApiError> {
    let get = |k: &str| fields.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let mut errors: Vec<FieldError> = Vec::new();
    let service = match get("service_code") {
        None => {
            errors.push(FieldError::new(
                "service_code",
                "missing",
                "service_code is required (see services.json)",
            ));
            None
        }
        Some(code) => {
            let s = service(code);
            if s.is_none() {
                errors.push(FieldError::new(
                    "service_code",
                    "invalid",
                    format!("{code} is not a service_code (see services.json)"),
                ));
            }
            s
        }
    };
    let category = service.and_then(|s| {
        serde_json::to_value(s.category)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
    });
    let description = fields.get("description").cloned().unwrap_or_default();
    let title: String = match get("attribute[title]").or(get("title")) {
        Some(t) => t.to_string(),
        // The description's first line, cut to a title's length.
        None => description
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
            .chars()
            .take(60)
            .collect(),
    };
    let name = match (get("first_name"), get("last_name")) {
        // Chinese order: family name first.
        (Some(f), Some(l)) if l.chars().all(|c| !c.is_ascii()) => Some(format!("{l}{f}")),
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(n), None) | (None, Some(n)) => Some(n.to_string()),
        (None, None) => None,
    };
    let phone = get("phone");
    let raw = RawFiling {
        category: category.as_deref(),
        channel: Some("open311"),
        subject_code: get("attribute[subject_code]").or(get("subject_code")),
        title: &title,
        description: &description,
        // Named when a name or a phone is given, anonymous otherwise.
        anonymous: Some(name.is_none() && phone.is_none()),
        name: name.as_deref(),
        phone,
        identity_number: None,
    };
    match filing(&raw, field_name) {
        Ok(complaint) if errors.is_empty() => Ok(complaint),
        Ok(_) => Err(ApiError::validation(errors)),
        Err(AppError::Invalid(issues)) => {
            // A missing category is the service code's problem, reported above.
            errors.extend(
                issues
                    .into_iter()
                    .filter(|i| i.field != "service_code")
                    .map(FieldError::from),
            );
            Err(ApiError::validation(errors))
        }
        // An invalid code alone keeps its own error code (invalid_credit_code).
        Err(e) if errors.is_empty() => Err(e.into()),
        Err(AppError::InvalidCreditCode { field, .. }) => {
            errors.push(FieldError::new(
                field,
                "invalid_credit_code",
                "not a valid unified social credit code",
            ));
            Err(ApiError::validation(errors))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_post_without_a_name_or_phone_is_anonymous_and_titled_by_its_first_line() {
        let c = new_complaint(&fields(&[
            ("service_code", "complaint"),
            ("description", "\n  窗口拖延办证\n第二行"),
        ]))
        .expect("valid");
        assert!(c.reporter.is_none());
        assert_eq!(c.title, "窗口拖延办证");
        assert_eq!(c.channel, probity_domain::complaint::Channel::Open311);
    }

    #[test]
    fn a_chinese_name_is_written_family_name_first() {
        let c = new_complaint(&fields(&[
            ("service_code", "report"),
            ("description", "x"),
            ("first_name", "三"),
            ("last_name", "张"),
            ("phone", "13800138000"),
        ]))
        .expect("valid");
        let r = c.reporter.expect("named");
        assert_eq!(r.name.as_deref(), Some("张三"));
        assert_eq!(r.phone.as_deref(), Some("13800138000"));
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let e = new_complaint(&fields(&[
            ("service_code", "pothole"),
            ("description", " "),
            ("phone", "call me"),
        ]))
        .expect_err("refused");
        let ApiError::Validation { errors, .. } = e else {
            panic!("validation_failed expected, got {e:?}");
        };
        let named: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        for field in ["service_code", "description", "phone"] {
            assert!(named.contains(&field), "{field} missing from {named:?}");
        }
    }

    #[test]
    fn an_invalid_subject_code_alone_is_invalid_credit_code() {
        let e = new_complaint(&fields(&[
            ("service_code", "complaint"),
            ("description", "x"),
            ("attribute[subject_code]", "113604000123456710"),
        ]))
        .expect_err("refused");
        assert_eq!(e.code(), "invalid_credit_code");
    }

    #[test]
    fn an_unknown_or_repeated_parameter_is_refused() {
        assert_eq!(
            query_pairs(Some("status=open&foo=1"), &LIST_PARAMS)
                .err()
                .map(|e| e.code()),
            Some("validation_failed")
        );
        assert!(query_pairs(Some("status=open&status=closed"), &LIST_PARAMS).is_err());
        assert!(query_pairs(Some("status=open,closed"), &LIST_PARAMS).is_ok());
    }

    #[test]
    fn a_date_alone_starts_at_midnight_in_china() {
        assert_eq!(
            parse_instant("start_date", "2026-03-11").unwrap(),
            "2026-03-10T16:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert!(parse_instant("start_date", "yesterday").is_err());
    }
}
