//! The restriction check as a page (issue 11 item 2): `/restrictions?subject_code=&sector=&on=`,
//! public, for the staff of procurement and bidding who check a supplier or bidder by
//! hand: the same read as `GET /api/v1/restrictions` (`Views::restriction`), its answer
//! in words, every running ban with its record, period and legal basis.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::NaiveDate;
use maud::{html, Markup};
use probity_domain::integrity::Sector;
use probity_domain::CreditCode;
use probity_http::{ApiError, AppState};
use probity_views::integrity::Restriction;

use crate::pages::{error_page, layout, page, query};
use crate::session::session;

/// The sectors a restriction is checked in, with their labels.
const LISTED: [(Sector, &str); 3] = [
    (Sector::Procurement, "政府采购 Procurement"),
    (Sector::Bidding, "招标投标 Bidding"),
    (Sector::Ppp, "PPP"),
];

/// A field's error, shown beside it.
struct FieldError {
    field: &'static str,
    message: &'static str,
}

fn form(code: &str, sector: &str, on: &str, error: Option<&FieldError>) -> Markup {
    let error_of = |field: &str| error.filter(|e| e.field == field).map(|e| e.message);
    html! {
        form method="get" action="/restrictions" {
            label for="subject_code" { "统一社会信用代码 Credit code" }
            input type="text" id="subject_code" name="subject_code" value=(code) required
                aria-describedby=[error_of("subject_code").map(|_| "subject_code-error")];
            @if let Some(m) = error_of("subject_code") {
                span id="subject_code-error" role="alert" class="error" { (m) }
            }
            label for="sector" { "领域 Sector" }
            select id="sector" name="sector" aria-describedby=[error_of("sector").map(|_| "sector-error")] {
                @for (s, l) in LISTED {
                    option value=(s.as_str()) selected[s.as_str() == sector] { (l) }
                }
            }
            @if let Some(m) = error_of("sector") {
                span id="sector-error" role="alert" class="error" { (m) }
            }
            label for="on" { "查询日期 Day (YYYY-MM-DD)" }
            input type="date" id="on" name="on" value=(on)
                aria-describedby=[error_of("on").map(|_| "on-error")];
            @if let Some(m) = error_of("on") {
                span id="on-error" role="alert" class="error" { (m) }
            }
            button type="submit" { "查询 Check" }
        }
    }
}

fn answer(code: &str, sector_label: &str, on: NaiveDate, r: &Restriction) -> Markup {
    html! {
        h2 { "结果 Result" }
        @if r.restricted {
            p class="overdue" role="status" {
                strong { "受限 Restricted" } ": " (code) " 在 " (on) " 被限制参与" (sector_label)
                " — barred on " (on) "."
            }
            table {
                thead { tr {
                    th scope="col" { "记录 Record" } th scope="col" { "来源 Source" }
                    th scope="col" { "决定日期 Decided" } th scope="col" { "限制至（不含） Ban until (exclusive)" }
                    th scope="col" { "依据 Legal basis" }
                } }
                tbody {
                    @for reason in &r.reasons {
                        tr {
                            td { (reason.record_id) }
                            td { (reason.source) }
                            td { (reason.decision_date) }
                            td { (reason.ban_until) }
                            td { (reason.legal_basis) }
                        }
                    }
                }
            }
        } @else {
            p role="status" {
                strong { "未受限 Not restricted" } ": " (code) " 在 " (on) " 未被限制参与" (sector_label)
                " — no ban runs on " (on) "."
            }
        }
    }
}

/// The form, and the answer when a credit code was given.
#[tracing::instrument(name = "web_restrictions", skip_all)]
pub async fn restriction_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let s = session(&state, &headers).await.ok().flatten();
    let q = query(raw.as_deref());
    let code = q
        .get("subject_code")
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    let sector = q.get("sector").cloned().unwrap_or_default();
    let on_text = q
        .get("on")
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    let title = "采购、招标限制查询 Restriction check";
    let show = |status: StatusCode, error: Option<FieldError>, result: Option<Markup>| {
        page(
            status,
            layout(
                title,
                s.as_ref(),
                html! {
                    p { "政府采购、招标投标、PPP：主体在某日是否被禁止参与，及其依据（含行贿犯罪档案查询）。 Whether a subject is barred from procurement, bidding or PPP on a day, and why." }
                    (form(&code, &sector, &on_text, error.as_ref()))
                    @if let Some(r) = result { (r) }
                },
            ),
        )
    };
    if code.is_empty() {
        return show(StatusCode::OK, None, None);
    }
    let Ok(credit_code) = CreditCode::parse(&code) else {
        return show(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(FieldError {
                field: "subject_code",
                message: "不是有效的统一社会信用代码 Not a valid credit code",
            }),
            None,
        );
    };
    let Some((chosen, sector_label)) = LISTED.iter().find(|(s, _)| s.as_str() == sector) else {
        return show(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(FieldError {
                field: "sector",
                message: "请选择领域 Choose procurement, bidding or PPP",
            }),
            None,
        );
    };
    let on = if on_text.is_empty() {
        state.app.clock.today()
    } else {
        match NaiveDate::parse_from_str(&on_text, "%Y-%m-%d") {
            Ok(d) => d,
            Err(_) => {
                return show(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(FieldError {
                        field: "on",
                        message: "日期格式为 YYYY-MM-DD Write the day as YYYY-MM-DD",
                    }),
                    None,
                )
            }
        }
    };
    match state
        .app
        .views
        .restriction(credit_code.as_str(), *chosen, on)
        .await
    {
        Ok(r) => show(
            StatusCode::OK,
            None,
            Some(answer(credit_code.as_str(), sector_label, on, &r)),
        ),
        Err(e) => error_page(ApiError::from(e), s.as_ref()),
    }
}
