//! The pages and their forms. A handler here extracts, checks the session and its CSRF
//! value, calls the application layer and renders; nothing here decides a rule.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use probity_app::complaints::{NewComplaint, ReporterDisclosure};
use probity_app::validate::{
    filing, FilingField, RawFiling, MAX_DESCRIPTION_CHARS, MAX_REPORTER_NAME_CHARS, MAX_TEXT_CHARS,
    MAX_TITLE_CHARS,
};
use probity_app::{AppError, CommandContext, Role};
use probity_domain::complaint::ComplaintCommand;
use probity_domain::CreditCode;
use probity_http::extract::RequestCtx;
use probity_http::{ApiError, AppState};
use probity_store::StoredResponse;
use probity_views::integrity::PublicRecordFilter;
use probity_views::{ComplaintFilter, ComplaintView, DeadlineFilter, DeadlineState};

use crate::session::{
    caller_of, cookie, over_tls, same, session, set_cookie, Session, CSRF_FIELD, SESSION_COOKIE,
    SIGN_IN_COOKIE,
};

const CSS: &str = "body{font-family:system-ui,'Noto Sans CJK SC',sans-serif;margin:0;color:#1a1a1a;background:#fff}\
header{background:#8a1c1c;color:#fff;padding:.6rem 1rem;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}\
header a{color:#fff}header form{margin-left:auto}main{padding:1rem;max-width:72rem}\
table{border-collapse:collapse;width:100%}th,td{border:1px solid #999;padding:.3rem .5rem;text-align:left;vertical-align:top}\
.overdue{color:#a00000;font-weight:bold}.error{color:#a00000}label{display:block;margin-top:.6rem;font-weight:bold}\
input[type=text],textarea,select{font-size:1rem;padding:.3rem;max-width:40rem;width:100%}\
button{font-size:1rem;padding:.4rem 1rem;margin-top:.6rem}a:focus,button:focus,input:focus,select:focus,textarea:focus{outline:3px solid #f5a623}\
.field-error{color:#a00000;margin:.2rem 0}fieldset{margin-top:1rem}dl{display:grid;grid-template-columns:12rem 1fr;gap:.3rem}";

/// A whole page.
pub(crate) fn layout(title: &str, session: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · 政务诚信 Probity" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    strong { "政务诚信 Probity" }
                    nav aria-label="主导航 Main" {
                        a href="/disclosure" { "信用公示 Disclosure" }
                        " · " a href="/sector-lists" { "行业名单 Sector lists" }
                        " · " a href="/ranking" { "考核排名 Ranking" }
                        " · " a href="/restrictions" { "限制查询 Restriction check" }
                        @if let Some(s) = session {
                            @match s.caller.role {
                                Role::Intake => { " · " a href="/intake/new" { "登记投诉 File a complaint" } }
                                Role::Supervisor => { " · " a href="/board" { "督办看板 Deadline board" } }
                                Role::Handler => { " · " a href="/unit" { "本单位案件 Unit cases" } }
                                _ => {}
                            }
                        }
                    }
                    @if let Some(s) = session {
                        form method="post" action="/sign-out" {
                            span { (s.caller.role.as_str()) " " }
                            input type="hidden" name=(CSRF_FIELD) value=(s.csrf);
                            button type="submit" { "退出 Sign out" }
                        }
                    } @else {
                        a href="/sign-in" style="margin-left:auto" { "登录 Sign in" }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

pub(crate) fn page(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

fn see_other(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// A failure as a page: the API's status and message; signing in is offered when the
/// session is missing.
pub(crate) fn error_page(error: ApiError, session: Option<&Session>) -> Response {
    if matches!(error, ApiError::Unauthenticated) {
        return see_other("/sign-in");
    }
    if let ApiError::Internal(context) = &error {
        tracing::error!(error = %context, "internal error");
    }
    let problem = error.problem();
    page(
        error.status(),
        layout(
            &format!("{} {}", problem.status, problem.title),
            session,
            html! {
                p.error role="alert" { (problem.detail) " (" code { (problem.code) } ")" }
                @for e in &problem.errors { p.field-error { (e.field) ": " (e.message) } }
                p { a href="/" { "返回首页 Home" } }
            },
        ),
    )
}

/// The form's fields (`application/x-www-form-urlencoded`).
fn form(body: &[u8]) -> Result<HashMap<String, String>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| ApiError::field("form", "invalid", "the form could not be read"))?;
    Ok(pairs.into_iter().collect())
}

pub(crate) fn query(raw: Option<&str>) -> HashMap<String, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw.unwrap_or(""))
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// The session, or the sign-in page.
pub(crate) async fn require_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Session, Response> {
    match session(state, headers).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(see_other("/sign-in")),
        Err(e) => Err(error_page(e, None)),
    }
}

/// Refuses a form whose CSRF field is not the session's.
fn check_csrf(session: &Session, fields: &HashMap<String, String>) -> Result<(), ApiError> {
    match fields.get(CSRF_FIELD) {
        Some(given) if same(given, &session.csrf) => Ok(()),
        _ => Err(ApiError::Forbidden(
            "the form's CSRF token is missing or wrong; reload the page".into(),
        )),
    }
}

fn csrf_input(session: &Session) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(session.csrf); }
}

// ---- home, sign-in ----

pub async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let s = session(&state, &headers).await.ok().flatten();
    page(
        StatusCode::OK,
        layout(
            "政务诚信平台 Government integrity",
            s.as_ref(),
            html! {
                p { "九江市政务诚信：投诉举报、督办、信用公示。 Complaints, supervision and public disclosure." }
                ul {
                    li { a href="/disclosure" { "查询失信记录 Search the disclosure" } }
                    li { a href="/sector-lists" { "行业领域名单 Sector lists (procurement, bidding, PPP)" } }
                    li { a href="/ranking" { "政务诚信考核排名 Assessment ranking" } }
                    li { a href="/restrictions" { "采购、招标限制查询 Procurement and bidding restriction check" } }
                    @if s.is_none() { li { a href="/sign-in" { "工作人员登录 Staff sign-in" } } }
                }
            },
        ),
    )
}

fn sign_in_markup(csrf: &str, error: Option<&str>) -> Markup {
    layout(
        "登录 Sign in",
        None,
        html! {
            form method="post" action="/sign-in" {
                input type="hidden" name=(CSRF_FIELD) value=(csrf);
                label for="token" { "访问令牌 Access token" }
                @if let Some(e) = error { p.field-error id="token-error" role="alert" { (e) } }
                input type="password" id="token" name="token" autocomplete="off" required
                    aria-describedby=[error.map(|_| "token-error")];
                button type="submit" { "登录 Sign in" }
            }
        },
    )
}

pub async fn sign_in_form(headers: HeaderMap, uri: Uri) -> Response {
    let csrf = uuid::Uuid::new_v4().simple().to_string();
    let mut r = page(StatusCode::OK, sign_in_markup(&csrf, None));
    r.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(
            SIGN_IN_COOKIE,
            &csrf,
            over_tls(&headers, uri.scheme_str()),
            None,
        ),
    );
    r
}

#[tracing::instrument(name = "web_sign_in", skip_all)]
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let fields = match form(&body) {
        Ok(f) => f,
        Err(e) => return error_page(e, None),
    };
    let expected = cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    let given = fields.get(CSRF_FIELD).cloned().unwrap_or_default();
    if expected.is_empty() || !same(&given, &expected) {
        return error_page(
            ApiError::Forbidden("the sign-in form's CSRF token is missing or wrong".into()),
            None,
        );
    }
    let token = fields.get("token").map(|t| t.trim()).unwrap_or("");
    let caller = match caller_of(&state, token).await {
        Ok(c) => c,
        Err(ApiError::Unauthenticated) => {
            return page(
                StatusCode::UNAUTHORIZED,
                sign_in_markup(&expected, Some("令牌无效 The token is not valid")),
            )
        }
        Err(e) => return error_page(e, None),
    };
    let tls = over_tls(&headers, uri.scheme_str());
    let to = match caller.role {
        Role::Intake => "/intake/new",
        Role::Supervisor => "/board",
        Role::Handler => "/unit",
        _ => "/",
    };
    let mut r = see_other(to);
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, token, tls, None),
    );
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SIGN_IN_COOKIE, "", tls, Some(0)),
    );
    r
}

pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let s = match require_session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(e) = form(&body).and_then(|f| check_csrf(&s, &f)) {
        return error_page(e, Some(&s));
    }
    let mut r = see_other("/");
    r.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(
            SESSION_COOKIE,
            "",
            over_tls(&headers, uri.scheme_str()),
            Some(0),
        ),
    );
    r
}

// ---- public disclosure ----

pub(crate) const SECTORS: [(&str, &str); 7] = [
    ("general", "一般 General"),
    ("procurement", "政府采购 Procurement"),
    ("bidding", "招标投标 Bidding"),
    ("ppp", "PPP"),
    ("investment", "招商引资 Investment"),
    ("debt", "政府债务 Debt"),
    ("township", "乡镇 Township"),
];
pub(crate) const SEVERITIES: [(&str, &str); 3] = [
    ("minor", "轻微 Minor"),
    ("ordinary", "一般 Ordinary"),
    ("serious", "严重 Serious"),
];

pub(crate) fn label<'a>(table: &[(&'a str, &'a str)], key: &'a str) -> &'a str {
    table
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, l)| *l)
        .unwrap_or(key)
}

fn select(name: &str, text: &str, options: &[(&str, &str)], chosen: &str) -> Markup {
    html! {
        label for=(name) { (text) }
        select id=(name) name=(name) {
            option value="" { "全部 All" }
            @for (value, l) in options {
                option value=(value) selected[*value == chosen] { (l) }
            }
        }
    }
}

/// Records of the public disclosure: by credit code when `q` is one, else by name.
#[tracing::instrument(name = "web_disclosure", skip_all)]
pub async fn disclosure(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let s = session(&state, &headers).await.ok().flatten();
    let q = query(raw.as_deref());
    let text = q.get("q").map(|v| v.trim().to_string()).unwrap_or_default();
    let sector = q.get("sector").cloned().unwrap_or_default();
    let severity = q.get("severity").cloned().unwrap_or_default();
    let known =
        |table: &[(&str, &str)], v: &str| v.is_empty() || table.iter().any(|(k, _)| *k == v);
    if !known(&SECTORS, &sector) || !known(&SEVERITIES, &severity) {
        return error_page(
            ApiError::field("sector", "invalid", "unknown sector or severity"),
            s.as_ref(),
        );
    }
    let code = CreditCode::parse(&text).ok();
    let filter = PublicRecordFilter {
        subject_code: code.as_ref().map(|c| c.to_string()),
        sector: (!sector.is_empty()).then(|| sector.clone()),
        severity: (!severity.is_empty()).then(|| severity.clone()),
    };
    let today = state.app.clock.today();
    let mut records = Vec::new();
    let mut cursor: Option<String> = None;
    // A name is matched here, over at most four pages of the disclosure.
    for _ in 0..4 {
        let page = match state
            .app
            .views
            .public_records(&filter, today, 500, cursor.as_deref())
            .await
        {
            Ok(p) => p,
            Err(e) => return error_page(e.into(), s.as_ref()),
        };
        records.extend(page.items.into_iter().filter(|r| {
            code.is_some() || text.is_empty() || r.subject_name.contains(text.as_str())
        }));
        match page.next_cursor {
            Some(next) if records.len() < 200 => cursor = Some(next),
            _ => break,
        }
    }
    records.truncate(200);
    page(
        StatusCode::OK,
        layout(
            "信用公示 Public disclosure",
            s.as_ref(),
            html! {
                form method="get" action="/disclosure" role="search" {
                    label for="q" { "名称或统一社会信用代码 Name or credit code" }
                    input type="text" id="q" name="q" value=(text);
                    (select("sector", "领域 Sector", &SECTORS, &sector))
                    (select("severity", "严重程度 Severity", &SEVERITIES, &severity))
                    button type="submit" { "查询 Search" }
                }
                h2 { "公示中的失信记录 Records under publication (" (records.len()) ")" }
                @if records.is_empty() {
                    p { "没有符合条件的记录 No record matches." }
                } @else {
                    table {
                        thead { tr {
                            th scope="col" { "主体 Subject" } th scope="col" { "代码 Code" }
                            th scope="col" { "领域 Sector" } th scope="col" { "程度 Severity" }
                            th scope="col" { "决定日期 Decided" } th scope="col" { "摘要 Summary" }
                            th scope="col" { "公示至 Until" }
                        } }
                        tbody {
                            @for r in &records {
                                tr {
                                    td { a href={ "/subjects/" (r.subject_code) } { (r.subject_name) } @if r.under_objection { " (异议中 under objection)" } }
                                    td { (r.subject_code) }
                                    td { (label(&SECTORS, &r.sector)) }
                                    td { (label(&SEVERITIES, &r.severity)) }
                                    td { (r.decision_date) }
                                    td { (r.summary) }
                                    td { (r.published_until) }
                                }
                            }
                        }
                    }
                }
            },
        ),
    )
}

// ---- intake ----

const CATEGORIES: [(&str, &str); 5] = [
    ("consultation", "咨询 Consultation"),
    ("help", "求助 Help request"),
    ("suggestion", "建议 Suggestion"),
    ("complaint", "投诉 Complaint"),
    ("report", "举报 Report"),
];
const CHANNELS: [(&str, &str); 4] = [
    ("hotline", "热线 Hotline"),
    ("web", "网站 Web"),
    ("letter", "来信 Letter"),
    ("visit", "来访 Visit"),
];

/// One field of the intake form with its error beside it.
fn field(
    name: &str,
    text: &str,
    values: &HashMap<String, String>,
    errors: &HashMap<String, String>,
    area: bool,
) -> Markup {
    let value = values.get(name).cloned().unwrap_or_default();
    let error = errors.get(name);
    let error_id = format!("{name}-error");
    html! {
        label for=(name) { (text) }
        @if let Some(e) = error { p.field-error id=(error_id) role="alert" { (e) } }
        @if area {
            textarea id=(name) name=(name) rows="6" aria-invalid=[error.map(|_| "true")]
                aria-describedby=[error.map(|_| error_id.as_str())] { (value) }
        } @else {
            input type="text" id=(name) name=(name) value=(value) aria-invalid=[error.map(|_| "true")]
                aria-describedby=[error.map(|_| error_id.as_str())];
        }
    }
}

fn intake_markup(
    s: &Session,
    values: &HashMap<String, String>,
    errors: &HashMap<String, String>,
) -> Markup {
    let submission = values
        .get("submission")
        .cloned()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let chosen = |k: &str| values.get(k).cloned().unwrap_or_default();
    let anonymous = values.get("anonymous").is_some_and(|v| v == "on");
    layout(
        "登记投诉举报 File a complaint",
        Some(s),
        html! {
            @if !errors.is_empty() {
                p.error role="alert" { "请更正标出的字段 Please correct the fields marked below." }
            }
            form method="post" action="/intake/new" {
                (csrf_input(s))
                // The same submission id on a second click files once.
                input type="hidden" name="submission" value=(submission);
                label for="category" { "类别 Category" }
                @if let Some(e) = errors.get("category") { p.field-error id="category-error" role="alert" { (e) } }
                select id="category" name="category" {
                    @for (v, l) in &CATEGORIES { option value=(v) selected[chosen("category") == *v] { (l) } }
                }
                label for="channel" { "渠道 Channel" }
                @if let Some(e) = errors.get("channel") { p.field-error id="channel-error" role="alert" { (e) } }
                select id="channel" name="channel" {
                    @for (v, l) in &CHANNELS { option value=(v) selected[chosen("channel") == *v] { (l) } }
                }
                (field("subject_code", "被投诉单位统一社会信用代码 Credit code of the body complained about (optional)", values, errors, false))
                (field("title", "标题 Title", values, errors, false))
                (field("description", "内容 Description", values, errors, true))
                fieldset {
                    legend { "反映人 Reporter" }
                    label for="anonymous" {
                        input type="checkbox" id="anonymous" name="anonymous" checked[anonymous];
                        " 匿名 Anonymous"
                    }
                    @if let Some(e) = errors.get("reporter") { p.field-error id="reporter-error" role="alert" { (e) } }
                    (field("name", "姓名 Name", values, errors, false))
                    (field("phone", "电话 Phone", values, errors, false))
                    (field("identity_number", "公民身份号码 Identity number", values, errors, false))
                }
                button type="submit" { "提交 File" }
            }
        },
    )
}

pub async fn intake_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let s = match require_session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(e) = s.caller.require(&[Role::Intake]) {
        return error_page(e.into(), Some(&s));
    }
    page(
        StatusCode::OK,
        intake_markup(&s, &HashMap::new(), &HashMap::new()),
    )
}

/// The intake form's names of the filing's fields.
fn field_name(field: FilingField) -> &'static str {
    match field {
        FilingField::Category => "category",
        FilingField::Channel => "channel",
        FilingField::SubjectCode => "subject_code",
        FilingField::Title => "title",
        FilingField::Description => "description",
        FilingField::Reporter | FilingField::Anonymous => "reporter",
        FilingField::ReporterName => "name",
        FilingField::ReporterPhone => "phone",
        FilingField::IdentityNumber => "identity_number",
    }
}

/// The page's words (zh-CN, then English) for a problem of the filing's validation.
fn field_message(field: &str, code: &str) -> String {
    match (field, code) {
        ("category", _) => "请选择类别 Choose a category".into(),
        ("channel", _) => "请选择渠道 Choose a channel".into(),
        ("subject_code", _) => {
            "不是有效的统一社会信用代码 Not a valid unified social credit code".into()
        }
        ("title", "too_long") => {
            format!("至多 {MAX_TITLE_CHARS} 字 At most {MAX_TITLE_CHARS} characters")
        }
        ("title", _) => "请填写标题 A title is required".into(),
        ("description", "too_long") => format!(
            "至多 {MAX_DESCRIPTION_CHARS} 字 At most {MAX_DESCRIPTION_CHARS} characters"
        ),
        ("description", _) => "请填写内容 A description is required".into(),
        ("reporter", "invalid") => "匿名反映不填写姓名、电话或身份号码 An anonymous report carries no name, phone or identity number".into(),
        ("reporter", _) => "请填写姓名、电话或身份号码，或选择匿名 Give a name, phone or identity number, or tick anonymous".into(),
        ("name", _) => format!(
            "至多 {MAX_REPORTER_NAME_CHARS} 字 At most {MAX_REPORTER_NAME_CHARS} characters"
        ),
        ("phone", _) => {
            "电话只能包含数字、空格和 + - ( ) A phone number has digits, spaces, +, -, ( or )"
                .into()
        }
        ("identity_number", _) => {
            "不是有效的公民身份号码 Not a valid resident identity number".into()
        }
        (_, _) => "请检查此项 Check this field".into(),
    }
}

/// The complaint of the intake form, or the message of each field in error: the one
/// filing validation ([`probity_app::validate::filing`]) in the page's words.
fn new_complaint(
    values: &HashMap<String, String>,
) -> Result<NewComplaint, HashMap<String, String>> {
    let get = |k: &str| values.get(k).map(|v| v.trim()).unwrap_or("");
    // The form's default channel is the hotline.
    let channel = Some(get("channel"))
        .filter(|c| !c.is_empty())
        .unwrap_or("hotline");
    let raw = RawFiling {
        category: Some(get("category")),
        channel: Some(channel),
        subject_code: Some(get("subject_code")),
        title: get("title"),
        description: values.get("description").map(String::as_str).unwrap_or(""),
        anonymous: Some(values.get("anonymous").is_some_and(|v| v == "on")),
        name: Some(get("name")),
        phone: Some(get("phone")),
        identity_number: Some(get("identity_number")),
    };
    filing(&raw, field_name).map_err(|e| {
        let issues: Vec<(String, String)> = match e {
            AppError::Invalid(issues) => issues.into_iter().map(|i| (i.field, i.code)).collect(),
            AppError::InvalidCreditCode { field, .. } => {
                vec![(field, "invalid_credit_code".into())]
            }
            AppError::InvalidIdentityNumber { field } => {
                vec![(field, "invalid_identity_number".into())]
            }
            _ => vec![("reporter".into(), "invalid".into())],
        };
        let mut errors = HashMap::new();
        for (field, code) in issues {
            // The first problem of a field is the one shown beside it.
            errors
                .entry(field.clone())
                .or_insert_with(|| field_message(&field, &code));
        }
        errors
    })
}

/// Files the intake form once per `submission` (the form's hidden id, used as the
/// `Idempotency-Key` of the API): a second click is answered with the first case.
#[tracing::instrument(name = "web_intake_file", skip_all, fields(request_id = %ctx.request_id))]
pub async fn intake_file(
    State(state): State<AppState>,
    ctx: RequestCtx,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let s = match require_session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let values = match form(&body) {
        Ok(v) => v,
        Err(e) => return error_page(e, Some(&s)),
    };
    if let Err(e) =
        check_csrf(&s, &values).and_then(|_| s.caller.require(&[Role::Intake]).map_err(Into::into))
    {
        return error_page(e, Some(&s));
    }
    let complaint = match new_complaint(&values) {
        Ok(c) => c,
        Err(errors) => {
            return page(
                StatusCode::UNPROCESSABLE_ENTITY,
                intake_markup(&s, &values, &errors),
            )
        }
    };
    let key = values
        .get("submission")
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty() && k.len() <= 200);
    let once =
        probity_http::idempotency::once(&s.caller.token_id, key, "/api/v1/complaints", &body);
    let ctx_ref = CommandContext {
        caller: &s.caller,
        request_id: &ctx.request_id,
        correlation_id: &ctx.correlation_id,
        once: once.as_ref(),
    };
    let work = async {
        let (id, view) = state.app.file_complaint(ctx_ref, complaint).await?;
        Ok(StoredResponse {
            status: 201,
            body: serde_json::to_value(&view).map_err(ApiError::internal)?,
            location: Some(format!("/api/v1/complaints/{id}")),
        })
    };
    let result = probity_http::idempotency::create_once(&state, once.as_ref(), work, |stored| {
        let id = stored.body["id"].as_str().unwrap_or_default();
        see_other(&format!("/cases/{id}"))
    })
    .await;
    match result {
        Ok(r) => r,
        Err(e) => error_page(e, Some(&s)),
    }
}

// ---- supervisor board, handler list ----

const KINDS: [(&str, &str); 2] = [
    ("complaint_sign", "签收 Sign"),
    ("complaint_reply", "答复 Reply"),
];

#[tracing::instrument(name = "web_board", skip_all)]
pub async fn board(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let s = match require_session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match board_page(&state, &s, &query(raw.as_deref())).await {
        Ok(r) => r,
        Err(e) => error_page(e, Some(&s)),
    }
}

async fn board_page(
    state: &AppState,
    s: &Session,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    s.caller.require(&[Role::Supervisor])?;
    let get = |k: &str| q.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let (wanted, kind, unit) = (get("state"), get("kind"), get("unit"));
    let deadline_state = match wanted.as_str() {
        "" => None,
        "overdue" => Some(DeadlineState::Overdue),
        "due_soon" => Some(DeadlineState::DueSoon),
        _ => {
            return Err(ApiError::field(
                "state",
                "invalid",
                "state is overdue or due_soon",
            ))
        }
    };
    let unit_code = match unit.as_str() {
        "" => None,
        u => Some(
            CreditCode::parse(u)
                .map_err(|e| ApiError::from_id("unit", e))?
                .to_string(),
        ),
    };
    let units = state.app.jurisdiction(&s.caller).await?;
    if let (Some(units), Some(unit)) = (&units, &unit_code) {
        if !units.contains(unit) {
            return Err(ApiError::Forbidden(
                "the unit is outside this supervisor's authority".into(),
            ));
        }
    }
    let filter = DeadlineFilter {
        state: deadline_state,
        kind: (!kind.is_empty()).then(|| kind.clone()),
        unit: unit_code,
        units,
        due_soon_working_days: state.due_soon_working_days,
        limit: 500,
        cursor: None,
    };
    let entries = state
        .views
        .deadlines(&filter, state.clock.today(), &state.calendar)
        .await?
        .items;
    Ok(page(
        StatusCode::OK,
        layout(
            "督办看板 Deadline board",
            Some(s),
            html! {
                form method="get" action="/board" {
                    (select("state", "状态 State", &[("overdue", "已超期 Overdue"), ("due_soon", "即将到期 Due soon")], &wanted))
                    (select("kind", "类型 Kind", &KINDS, &kind))
                    label for="unit" { "承办单位代码 Unit (credit code)" }
                    input type="text" id="unit" name="unit" value=(unit);
                    button type="submit" { "筛选 Filter" }
                }
                h2 { "未完成的期限 Open deadlines (" (entries.len()) ")" }
                table {
                    thead { tr {
                        th scope="col" { "案件 Case" } th scope="col" { "类型 Kind" }
                        th scope="col" { "承办单位 Unit" } th scope="col" { "期限 Due" }
                        th scope="col" { "剩余工作日 Working days left" }
                    } }
                    tbody {
                        @for e in &entries {
                            tr class=[e.overdue.then_some("overdue")] {
                                td { a href={ "/cases/" (e.case_id) } { (e.case_id) } }
                                td { (label(&KINDS, &e.kind)) }
                                td { (e.unit.as_deref().unwrap_or("—")) }
                                td { (e.due) @if e.provisional { " (暂定 provisional)" } }
                                td { (e.working_days_left) @if e.overdue { " 已超期 overdue" } }
                            }
                        }
                    }
                }
            },
        ),
    ))
}

fn case_rows(cases: &[ComplaintView]) -> Markup {
    html! {
        table {
            thead { tr {
                th scope="col" { "案件 Case" } th scope="col" { "类别 Category" }
                th scope="col" { "状态 Status" } th scope="col" { "答复期限 Reply due" }
            } }
            tbody {
                @for c in cases {
                    tr class=[c.overdue.then_some("overdue")] {
                        td { a href={ "/cases/" (c.id) } { (c.title) } }
                        td { (label(&CATEGORIES, &c.category)) }
                        td { (c.status) @if c.overdue { " 已超期 overdue" } }
                        td { (c.reply_due.map(|d| d.to_string()).unwrap_or_else(|| "—".into())) }
                    }
                }
            }
        }
    }
}

#[tracing::instrument(name = "web_unit_cases", skip_all)]
pub async fn unit_cases(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let s = match require_session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let result = async {
        s.caller.require(&[Role::Handler])?;
        let page = state
            .app
            .complaint_list(&s.caller, ComplaintFilter::default(), 500, None)
            .await?;
        Ok::<_, ApiError>(page.items)
    }
    .await;
    match result {
        Ok(cases) => page(
            StatusCode::OK,
            layout("本单位案件 Unit cases", Some(&s), case_rows(&cases)),
        ),
        Err(e) => error_page(e, Some(&s)),
    }
}

// ---- the case page and its actions ----

#[tracing::instrument(name = "web_case", skip_all, fields(request_id = %ctx.request_id, case_id = %id))]
pub async fn case_page(
    State(state): State<AppState>,
    ctx: RequestCtx,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = match require_session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match case_markup(&state, &ctx, &s, &id, None).await {
        Ok(m) => page(StatusCode::OK, m),
        Err(e) => error_page(e, Some(&s)),
    }
}

async fn case_markup(
    state: &AppState,
    ctx: &RequestCtx,
    s: &Session,
    id: &str,
    error: Option<&ApiError>,
) -> Result<Markup, ApiError> {
    s.caller
        .require(&[Role::Intake, Role::Handler, Role::Supervisor, Role::Auditor])?;
    let view = state.app.complaint_for(&s.caller, id, None).await?;
    // The reporter where the API shows it (intake, auditors), the read recorded first.
    let reporter = match s.caller.role {
        Role::Intake | Role::Auditor => Some(
            state
                .app
                .disclose_reporter(
                    CommandContext {
                        caller: &s.caller,
                        request_id: &ctx.request_id,
                        correlation_id: &ctx.correlation_id,
                        once: None,
                    },
                    id,
                    view.anonymous,
                    "web case page",
                )
                .await?,
        ),
        _ => None,
    };
    let action = |verb: &str, text: &str, extra: Markup| {
        html! {
            form method="post" action={ "/cases/" (view.id) "/" (verb) } {
                (csrf_input(s))
                (extra)
                button type="submit" { (text) }
            }
        }
    };
    let note = |field_id: &str, name: &str, text: &str| {
        html! {
            label for=(field_id) { (text) }
            textarea id=(field_id) name=(name) rows="3" {}
        }
    };
    let role = s.caller.role;
    let status = view.status.as_str();
    let extension_pending = view
        .extension
        .as_ref()
        .is_some_and(|e| e.status == "pending");
    Ok(layout(
        &format!("案件 Case {}", view.id),
        Some(s),
        html! {
            @if let Some(e) = error {
                p.error role="alert" { (e.problem().detail) " (" code { (e.code()) } ")" }
            }
            dl {
                dt { "标题 Title" } dd { (view.title) }
                dt { "状态 Status" } dd class=[view.overdue.then_some("overdue")] {
                    (view.status) @if view.overdue { " 已超期 overdue" }
                }
                dt { "类别 Category" } dd { (label(&CATEGORIES, &view.category)) }
                dt { "渠道 Channel" } dd { (view.channel) }
                dt { "被投诉单位 Subject" } dd { (view.subject_code.as_deref().unwrap_or("—")) }
                dt { "承办单位 Unit" } dd { (view.unit.as_deref().unwrap_or("—")) }
                dt { "登记时间 Received" } dd { (view.received_at.to_rfc3339()) }
                dt { "签收期限 Sign due" } dd { (view.sign_due.map(|d| d.to_string()).unwrap_or_else(|| "—".into())) }
                dt { "答复期限 Reply due" } dd { (view.reply_due.map(|d| d.to_string()).unwrap_or_else(|| "—".into())) }
                dt { "督办次数 Supervised" } dd { (view.supervision_count) }
                dt { "内容 Description" } dd { (view.description) }
                @if let Some(reply) = &view.reply { dt { "答复 Reply" } dd { (reply) } }
                @if let Some(r) = &reporter {
                    dt { "反映人 Reporter" }
                    dd {
                        @match r {
                            ReporterDisclosure::Nothing => { "匿名 Anonymous" }
                            ReporterDisclosure::Erased => { "已删除 Erased" }
                            ReporterDisclosure::Identity(who) => {
                                (who.name.as_deref().unwrap_or("")) " "
                                (who.phone.as_deref().unwrap_or("")) " "
                                (who.identity_number.as_deref().unwrap_or(""))
                                " (本次查看已记录 this view is recorded)"
                            }
                        }
                    }
                }
            }
            @if matches!(role, Role::Auditor | Role::Supervisor) {
                p { a href={ "/cases/" (view.id) "/timeline" } { "时间线 Timeline" } }
            }
            h2 { "操作 Actions" }
            @if role == Role::Intake && status == "received" {
                (action("accept", "受理 Accept", html! {}))
            }
            @if matches!(role, Role::Intake | Role::Supervisor) && matches!(status, "accepted" | "returned") {
                (action("dispatch", "派单 Dispatch", html! {
                    label for="dispatch-unit" { "承办单位代码 Unit (credit code)" }
                    input type="text" id="dispatch-unit" name="unit";
                }))
            }
            @if role == Role::Handler && status == "dispatched" {
                (action("sign", "签收 Sign", html! {}))
            }
            @if role == Role::Handler && status == "in_progress" {
                (action("reply", "答复 Reply", note("reply-content", "content", "答复内容 Reply")))
                (action("request-extension", "申请延期 Request an extension", html! {
                    label for="working_days" { "延长工作日 Working days" }
                    input type="text" id="working_days" name="working_days" inputmode="numeric";
                    (note("extension-reason", "reason", "理由 Reason"))
                }))
            }
            @if role == Role::Supervisor && extension_pending {
                (action("approve-extension", "批准延期 Approve the extension", note("approve-note", "note", "意见 Note")))
                (action("deny-extension", "不批准延期 Deny the extension", note("deny-note", "note", "意见 Note")))
            }
            @if role == Role::Supervisor && view.overdue {
                (action("supervise", "督办 Supervise", note("supervise-note", "note", "督办意见 Supervision note")))
            }
        },
    ))
}

/// An instant typed on the timeline form: RFC 3339, or `YYYY-MM-DDTHH:MM` (what a
/// `datetime-local` field sends) in China time.
fn parse_instant(value: &str) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    let value = value.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(value) {
        return Ok(at.with_timezone(&chrono::Utc));
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(local) = chrono::NaiveDateTime::parse_from_str(value, format) {
            let china = chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8");
            if let Some(at) = local.and_local_timezone(china).single() {
                return Ok(at.with_timezone(&chrono::Utc));
            }
        }
    }
    Err(ApiError::field(
        "as_of",
        "invalid",
        "as_of is an instant such as 2026-03-11T10:00:00+08:00",
    ))
}

/// The case's seals checked as `probity audit verify-bundle` checks a bundle: the
/// events covered by the latest signed checkpoint, their hashes, links and signature;
/// and whether they verified (only then is the auditor offered the bundle).
async fn chain_state(state: &AppState, id: &str) -> (Markup, bool) {
    let result = match probity_audit::export_bundle(&state.db, "complaint", id).await {
        Ok(bundle) => bundle
            .to_bytes()
            .and_then(|bytes| probity_audit::verify_bundle(&bytes)),
        Err(e) => {
            return (
                html! { p { "尚无签名检查点覆盖此案 Not yet covered by a signed checkpoint: " (e.to_string()) } },
                false,
            )
        }
    };
    match result {
        Ok(report) => (
            html! {
                p { "✔ 验证通过 Verified: " (report.events) " 个事件 events, 检查点 checkpoint "
                    (report.checkpoint_chain_index) ", 签名 signed " (report.signed_at) " (" (report.key_id) ")" }
            },
            true,
        ),
        Err(e) => (
            html! { p.error role="alert" { "✘ 验证失败 Verification failed: " (e.to_string()) } },
            false,
        ),
    }
}

/// `GET /cases/{id}/timeline?as_of=`: the case's events (who, role, when, what changed,
/// personal blocks masked) and the case as it stood at `as_of`, with the chain's
/// verification state (auditors and supervisors, as the API's history; the read is
/// recorded first).
#[tracing::instrument(name = "web_timeline", skip_all, fields(request_id = %ctx.request_id, case_id = %id))]
pub async fn timeline(
    State(state): State<AppState>,
    ctx: RequestCtx,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let s = match require_session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let q = query(raw.as_deref());
    let as_of_text = q
        .get("as_of")
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    let result = async {
        s.caller.require(&[Role::Auditor, Role::Supervisor])?;
        let as_of = match as_of_text.as_str() {
            "" => None,
            v => Some(parse_instant(v)?),
        };
        let page = state
            .app
            .read_history(
                CommandContext {
                    caller: &s.caller,
                    request_id: &ctx.request_id,
                    correlation_id: &ctx.correlation_id,
                    once: None,
                },
                "complaint",
                &id,
                "web timeline".to_string(),
                probity_app::access::HistoryRequest {
                    after: 0,
                    limit: 500,
                    as_of,
                },
            )
            .await?;
        Ok::<_, ApiError>(page)
    }
    .await;
    let page_data = match result {
        Ok(p) => p,
        Err(e) => return error_page(e, Some(&s)),
    };
    let (chain, verified) = chain_state(&state, &id).await;
    let then = page_data.view.clone().flatten();
    page(
        StatusCode::OK,
        layout(
            &format!("案件时间线 Timeline {id}"),
            Some(&s),
            html! {
                form method="get" action={ "/cases/" (id) "/timeline" } {
                    label for="as_of" { "截至时刻 As of (2026-03-11T10:00:00+08:00)" }
                    input type="text" id="as_of" name="as_of" value=(as_of_text);
                    button type="submit" { "查看 Show" }
                }
                h2 { "链验证 Chain verification" }
                (chain)
                @if verified && s.caller.role == Role::Auditor {
                    p { a href={ "/cases/" (id) "/bundle" } download { "下载可验证包 Download the verifiable bundle" }
                        " (" code { "probity audit verify-bundle" } "; 下载将记入访问日志 the download is recorded)" }
                }
                @if !as_of_text.is_empty() {
                    h2 { "当时状态 The case then" }
                    @match &then {
                        Some(v) => p { "状态 Status: " (v.status) @if v.overdue { " 已超期 overdue" } " · 版本 version " (v.version) },
                        None => p { "当时尚未登记 Not filed yet at that instant" },
                    }
                }
                h2 { "事件 Events (" (page_data.events.len()) ")" }
                table {
                    thead { tr {
                        th scope="col" { "序号 #" } th scope="col" { "时间 When" }
                        th scope="col" { "事件 What" } th scope="col" { "操作人 Who" }
                        th scope="col" { "角色 Role" } th scope="col" { "内容 Changed" }
                    } }
                    tbody {
                        @for e in page_data.events.iter().take(500) {
                            @let item = probity_http::history::history_item(e);
                            tr {
                                td { (item.sequence) }
                                td { (item.recorded_at.to_rfc3339()) }
                                td { (item.event_type) }
                                td { (item.actor.as_deref().unwrap_or("—")) }
                                td { (e.metadata.get("role").and_then(|r| r.as_str()).unwrap_or("—")) }
                                td { code { (item.data.to_string()) } }
                            }
                        }
                    }
                }
            },
        ),
    )
}

/// `POST /cases/{id}/{verb}`: one of the API's verbs, with the same roles and rules.
#[tracing::instrument(name = "web_case_action", skip_all, fields(request_id = %ctx.request_id, case_id = %id, verb = %verb))]
pub async fn case_action(
    State(state): State<AppState>,
    ctx: RequestCtx,
    headers: HeaderMap,
    Path((id, verb)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let s = match require_session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let result = async {
        let fields = form(&body)?;
        check_csrf(&s, &fields)?;
        let command = command(&state, &s, &verb, &fields)?;
        state
            .app
            .complaint_command(
                CommandContext {
                    caller: &s.caller,
                    request_id: &ctx.request_id,
                    correlation_id: &ctx.correlation_id,
                    once: None,
                },
                &id,
                None,
                command,
            )
            .await?;
        Ok::<_, ApiError>(())
    }
    .await;
    match result {
        Ok(()) => see_other(&format!("/cases/{id}")),
        // A refusal the case page can show beside the case; others as their own page.
        Err(
            e @ (ApiError::InvalidTransition(_)
            | ApiError::Validation { .. }
            | ApiError::InvalidCreditCode { .. }),
        ) => match case_markup(&state, &ctx, &s, &id, Some(&e)).await {
            Ok(m) => page(e.status(), m),
            Err(other) => error_page(other, Some(&s)),
        },
        Err(e) => error_page(e, Some(&s)),
    }
}

/// The command of a verb, with the API's role rule and checks.
fn command(
    state: &AppState,
    s: &Session,
    verb: &str,
    fields: &HashMap<String, String>,
) -> Result<ComplaintCommand, ApiError> {
    let at = state.clock.now();
    let text = |k: &str| fields.get(k).cloned().unwrap_or_default();
    let required = |k: &str| -> Result<String, ApiError> {
        probity_app::validate::required_text(k, &text(k), MAX_TEXT_CHARS)?;
        Ok(text(k))
    };
    let optional = |k: &str| -> Result<String, ApiError> {
        probity_app::validate::check_length(k, &text(k), MAX_TEXT_CHARS)?;
        Ok(text(k))
    };
    let caller = &s.caller;
    Ok(match verb {
        "accept" => {
            caller.require(&[Role::Intake])?;
            ComplaintCommand::AcceptComplaint { at }
        }
        "dispatch" => {
            caller.require(&[Role::Intake, Role::Supervisor])?;
            let unit =
                CreditCode::parse(text("unit").trim()).map_err(|e| ApiError::from_id("unit", e))?;
            // The application fills in the units above the target (reporter protection).
            ComplaintCommand::DispatchComplaint {
                unit,
                above: Vec::new(),
                at,
            }
        }
        "sign" => {
            caller.require(&[Role::Handler])?;
            ComplaintCommand::SignComplaint {
                unit: caller.handler_unit()?,
                at,
            }
        }
        "reply" => {
            caller.require(&[Role::Handler])?;
            ComplaintCommand::ReplyToComplaint {
                unit: caller.handler_unit()?,
                content: required("content")?,
                at,
            }
        }
        "request-extension" => {
            caller.require(&[Role::Handler])?;
            let working_days = text("working_days")
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|d| (1..=365).contains(d))
                .ok_or_else(|| {
                    ApiError::field(
                        "working_days",
                        "out_of_range",
                        "working_days must be between 1 and 365",
                    )
                })?;
            ComplaintCommand::RequestExtension {
                unit: caller.handler_unit()?,
                working_days,
                reason: required("reason")?,
                at,
            }
        }
        "approve-extension" => {
            caller.require(&[Role::Supervisor])?;
            ComplaintCommand::ApproveExtension {
                note: optional("note")?,
                at,
            }
        }
        "deny-extension" => {
            caller.require(&[Role::Supervisor])?;
            ComplaintCommand::DenyExtension {
                note: optional("note")?,
                at,
            }
        }
        "supervise" => {
            caller.require(&[Role::Supervisor])?;
            ComplaintCommand::SuperviseComplaint {
                note: required("note")?,
                at,
            }
        }
        other => return Err(ApiError::NotFound(format!("no action {other}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_intake_form_names_each_field_in_error() {
        let errors = new_complaint(&values(&[
            ("category", "complaint"),
            ("subject_code", "113604000123456710"),
            ("title", " "),
            ("description", "x"),
            ("phone", "call me"),
        ]))
        .err()
        .unwrap_or_default();
        for f in ["subject_code", "title", "phone"] {
            assert!(errors.contains_key(f), "{f} missing from {errors:?}");
        }
        assert!(!errors.contains_key("description"));
    }

    #[test]
    fn an_anonymous_report_carries_no_reporter() {
        let c = new_complaint(&values(&[
            ("category", "report"),
            ("channel", "web"),
            ("title", "t"),
            ("description", "d"),
            ("anonymous", "on"),
        ]))
        .unwrap_or_else(|errors| panic!("refused: {errors:?}"));
        assert!(c.reporter.is_none());
        assert_eq!(c.channel, probity_domain::complaint::Channel::Web);
    }

    #[test]
    fn a_page_escapes_what_users_wrote() {
        let m = layout("<script>x</script>", None, html! { p { ("<b>") } });
        let text = m.into_string();
        assert!(!text.contains("<script>x"), "{text}");
        assert!(text.contains("&lt;b&gt;"));
    }
}
