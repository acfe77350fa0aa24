//! Public pages beside the disclosure search (no sign-in, nothing personal): a
//! subject's own page (its current disclosures and its standing) and the sector lists
//! (procurement, bidding, PPP) with the ban and the disclosure shown as the separate
//! facts they are (ADR 0015). They read the same views as `GET /api/v1/public/subjects`
//! and `GET /api/v1/public/sector-lists`.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{html, Markup};
use probity_domain::CreditCode;
use probity_http::public::{BAN_SECTORS, LISTED_SECTORS};
use probity_http::{ApiError, AppState};
use probity_views::integrity::{Eligibility, PublicSubject, SectorListEntry};

use crate::pages::{error_page, label, layout, page, query, SECTORS, SEVERITIES};
use crate::session::session;

/// Subject kinds in words.
const KINDS: [(&str, &str); 4] = [
    ("government", "人民政府 Government"),
    ("department", "政府部门 Department"),
    ("public_institution", "事业单位 Public institution"),
    ("enterprise", "企业 Enterprise"),
];

/// One fact about a subject's standing, as the subject page lists them: what it is
/// about, whether it holds, and why. Eligibility for honours is one today; a new
/// standing (good standing, a sector restriction) is one more item of this list.
pub struct Standing {
    pub heading: &'static str,
    pub holds: bool,
    pub holds_text: &'static str,
    pub fails_text: &'static str,
    /// Each reason in words, with the day it lapses when it does.
    pub reasons: Vec<String>,
}

impl From<&Eligibility> for Standing {
    fn from(e: &Eligibility) -> Self {
        Standing {
            heading: "评优评先资格 Eligibility for honours",
            holds: e.eligible,
            holds_text: "✔ 可参加评优评先 Eligible",
            fails_text: "✘ 暂不可参加评优评先 Not eligible",
            reasons: e
                .reasons
                .iter()
                .map(|r| match r.until {
                    Some(day) => format!("{} ({day} 起不再适用 lapses on {day})", r.detail),
                    None => r.detail.clone(),
                })
                .collect(),
        }
    }
}

/// Good standing (守信激励, §7): the positive reason, when the subject has it.
fn good_standing(e: &Eligibility) -> Standing {
    Standing {
        heading: "守信状况 Good standing",
        holds: e.good_standing.is_some(),
        holds_text: "✔ 守信良好 In good standing",
        fails_text: "尚未满足守信年限 Not (yet) in good standing",
        reasons: e
            .good_standing
            .iter()
            .map(|g| {
                format!(
                    "{} ({} 起 since {})",
                    g.reason, g.qualified_on, g.qualified_on
                )
            })
            .collect(),
    }
}

fn standing_markup(s: &Standing) -> Markup {
    html! {
        section {
            h3 { (s.heading) }
            @if s.holds { p { (s.holds_text) } } @else { p.error { (s.fails_text) } }
            @if !s.reasons.is_empty() {
                ul { @for r in &s.reasons { li { (r) } } }
            }
        }
    }
}

/// The body of a subject's page.
pub fn subject_markup(subject: &PublicSubject) -> Markup {
    let standings = [
        Standing::from(&subject.eligibility),
        good_standing(&subject.eligibility),
    ];
    html! {
        dl {
            dt { "统一社会信用代码 Credit code" } dd { (subject.code) }
            dt { "类型 Kind" } dd { (label(&KINDS, &subject.kind)) }
            @if let Some(parent) = &subject.parent_code {
                dt { "上级 Parent" } dd { a href={ "/subjects/" (parent) } { (parent) } }
            }
        }
        h2 { "信用状况 Standing" }
        @for s in &standings { (standing_markup(s)) }
        h2 { "公示中的失信记录 Current disclosures (" (subject.disclosures.len()) ")" }
        @if subject.disclosures.is_empty() {
            p { "当前没有公示中的失信记录 Nothing is disclosed now." }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "领域 Sector" } th scope="col" { "程度 Severity" }
                    th scope="col" { "文号 Reference" } th scope="col" { "决定日期 Decided" }
                    th scope="col" { "摘要 Summary" } th scope="col" { "公示至 Until" }
                } }
                tbody {
                    @for r in &subject.disclosures {
                        tr {
                            td { (label(&SECTORS, &r.sector)) }
                            td { (label(&SEVERITIES, &r.severity)) }
                            td { (r.source_ref) }
                            td { (r.decision_date) }
                            td { (r.summary) @if r.under_objection { " (异议中 under objection)" } }
                            td { (r.published_until) }
                        }
                    }
                }
            }
        }
        p { a href={ "/disclosure?q=" (subject.code) } { "在信用公示中查询 Search the disclosure" } }
    }
}

/// `GET /subjects/{code}`: a subject's page (no sign-in).
#[tracing::instrument(name = "web_subject", skip_all)]
pub async fn subject(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Response {
    let s = session(&state, &headers).await.ok().flatten();
    let result = async {
        let code = CreditCode::parse(code.trim()).map_err(|e| ApiError::from_id("code", e))?;
        state
            .views
            .public_subject(
                code.as_str(),
                state.clock.today(),
                &state.integrity.policy.sanction_months,
            )
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("subject {} not found", code.as_str())))
    }
    .await;
    match result {
        Ok(subject) => page(
            StatusCode::OK,
            layout(
                &format!("{} · 主体信用 Subject", subject.name),
                s.as_ref(),
                subject_markup(&subject),
            ),
        ),
        Err(e) => error_page(e, s.as_ref()),
    }
}

/// `GET /sector-lists`: the lists there are.
pub async fn sector_lists(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let s = session(&state, &headers).await.ok().flatten();
    page(
        StatusCode::OK,
        layout(
            "行业领域名单 Sector lists",
            s.as_ref(),
            html! {
                p { "禁入（在禁期内不得参与）与公示（记录向社会公开）是两件事：记录修复结束公示，不结束法定禁入期。 \
                     A ban and a disclosure are separate facts: a repair ends the disclosure, not a statutory ban." }
                h2 { "有禁入期的名单 Lists with bans" }
                ul {
                    @for sector in BAN_SECTORS {
                        li { a href={ "/sector-lists/" (sector) } { (label(&SECTORS, sector)) } }
                    }
                }
                h2 { "其他领域的公示记录 Disclosed records of the other sectors" }
                p { "这些领域没有禁入名单，只有公示。 These sectors have no ban list, only the disclosure." }
                ul {
                    @for (sector, name) in SECTORS.iter().filter(|(k, _)| !BAN_SECTORS.contains(k)) {
                        @if LISTED_SECTORS.contains(sector) {
                            li { a href={ "/sector-lists/" (sector) } { (name) } }
                        } @else {
                            li { a href={ "/disclosure?sector=" (sector) } { (name) } }
                        }
                    }
                }
            },
        ),
    )
}

fn ban_cell(e: &SectorListEntry) -> Markup {
    html! {
        @match (e.banned, e.ban_until) {
            (true, Some(lifts)) => span.error { "禁入中，" (lifts) " 解除 Banned; lifts on " (lifts) },
            (true, None) => span.error { "禁入中 Banned" },
            (false, Some(lifted)) => span { "禁入已于 " (lifted) " 解除 Ban lifted on " (lifted) },
            (false, None) => span { "无禁入 No ban" },
        }
    }
}

fn disclosure_cell(e: &SectorListEntry) -> Markup {
    html! {
        @if e.disclosed { "公示中 Disclosed" } @else { "不再公示 Not disclosed" }
        @if e.under_objection { " (异议中 under objection)" }
    }
}

fn entries_table(entries: &[&SectorListEntry]) -> Markup {
    html! {
        table {
            thead { tr {
                th scope="col" { "主体 Subject" } th scope="col" { "代码 Code" }
                th scope="col" { "程度 Severity" } th scope="col" { "文号 Reference" }
                th scope="col" { "决定日期 Decided" } th scope="col" { "摘要 Summary" }
                th scope="col" { "禁入 Ban" } th scope="col" { "公示 Disclosure" }
            } }
            tbody {
                @for e in entries {
                    tr {
                        td { a href={ "/subjects/" (e.subject_code) } { (e.subject_name) } }
                        td { (e.subject_code) }
                        td { (label(&SEVERITIES, &e.severity)) }
                        td { (e.source_ref) }
                        td { (e.decision_date) }
                        td { (e.summary) }
                        td { (ban_cell(e)) }
                        td { (disclosure_cell(e)) }
                    }
                }
            }
        }
    }
}

/// `GET /sector-lists/{sector}?cursor=`: one list, the entries under a ban in force
/// first, then those only disclosed (each row says both facts).
#[tracing::instrument(name = "web_sector_list", skip_all)]
pub async fn sector_list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(sector): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let s = session(&state, &headers).await.ok().flatten();
    if !LISTED_SECTORS.contains(&sector.as_str()) {
        return error_page(
            ApiError::NotFound(format!(
                "no sector list {sector:?}: procurement, bidding, ppp or debt"
            )),
            s.as_ref(),
        );
    }
    let q = query(raw.as_deref());
    let cursor = q.get("cursor").filter(|c| !c.is_empty());
    let list = match state
        .views
        .sector_list(
            &sector,
            state.clock.today(),
            500,
            cursor.map(String::as_str),
        )
        .await
    {
        Ok(p) => p,
        Err(e) => return error_page(e.into(), s.as_ref()),
    };
    let banned: Vec<&SectorListEntry> = list.items.iter().filter(|e| e.banned).collect();
    let disclosed_only: Vec<&SectorListEntry> = list
        .items
        .iter()
        .filter(|e| !e.banned && e.disclosed)
        .collect();
    let name = label(&SECTORS, &sector);
    page(
        StatusCode::OK,
        layout(
            &format!("{name} · 行业名单 Sector list"),
            s.as_ref(),
            html! {
                p { a href="/sector-lists" { "全部名单 All sector lists" } }
                @if BAN_SECTORS.contains(&sector.as_str()) {
                    h2 { "禁入期内 Banned now (" (banned.len()) ")" }
                    @if banned.is_empty() { p { "没有禁入期内的主体 No subject is banned now." } }
                    @else { (entries_table(&banned)) }
                } @else {
                    p { "本领域记录没有禁入期，只有公示。 Records of this sector carry no ban, only the disclosure." }
                }
                h2 { "仅公示、无禁入 Disclosed, no ban in force (" (disclosed_only.len()) ")" }
                @if disclosed_only.is_empty() { p { "没有 None." } }
                @else { (entries_table(&disclosed_only)) }
                @if let Some(next) = &list.next_cursor {
                    p { a href={ "/sector-lists/" (sector) "?" (serde_urlencoded::to_string([("cursor", next)]).unwrap_or_default()) } { "下一页 Next page" } }
                }
            },
        ),
    )
}
