//! The public assessment ranking (政务诚信考核排名, no sign-in): the scores of every
//! government and department over a period, best first, as a bar chart drawn on the
//! server in inline SVG (no script; a `title` and a `desc` name it for screen readers,
//! and each bar carries its value as text) and as a table with the headline counts.
//! The same rows as `GET /api/v1/public/assessments` (the stored assessment, scored with
//! the configured formula); like that endpoint it never recomputes from the log.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Datelike;
use maud::{html, Markup};
use probity_domain::assessment::Period;
use probity_domain::CreditCode;
use probity_http::{ApiError, AppState};
use probity_views::assessment::{assess_stored, rank, PublicAssessmentRow};

use crate::pages::{error_page, layout, page, query};
use crate::session::session;

/// Most bars the chart draws (the table lists every row).
pub const CHART_BARS: usize = 40;

const WIDTH: u32 = 760;
const LABEL_WIDTH: u32 = 280;
const BAR_AREA: u32 = 400;
const ROW_HEIGHT: u32 = 26;
const TOP: u32 = 24;

/// At most `n` characters of `s`, with an ellipsis when cut.
fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut cut: String = s.chars().take(n.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// The bar chart of the scores (0 to 100), best first: the first [`CHART_BARS`] rows.
pub fn bar_chart(period: &str, rows: &[PublicAssessmentRow]) -> Markup {
    let shown = &rows[..rows.len().min(CHART_BARS)];
    let height = TOP + ROW_HEIGHT * shown.len() as u32 + 8;
    let width_of = |score: f64| -> u32 {
        let clamped = if score.is_finite() {
            score.clamp(0.0, 100.0)
        } else {
            0.0
        };
        (clamped / 100.0 * f64::from(BAR_AREA)).round() as u32
    };
    let summary = shown
        .iter()
        .map(|r| format!("{}. {} {:.2}", r.rank, r.name, r.score))
        .collect::<Vec<_>>()
        .join("; ");
    html! {
        svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="chart-title chart-desc"
            viewBox={ "0 0 " (WIDTH) " " (height) } width="100%" style={ "max-width:" (WIDTH) "px" }
            font-size="13" font-family="system-ui,'Noto Sans CJK SC',sans-serif" {
            title id="chart-title" { "考核得分 Assessment scores, " (period) }
            desc id="chart-desc" {
                "满分 100 分，按得分从高到低 Out of 100, best first"
                @if rows.len() > shown.len() { " (前 " (shown.len()) " 名 the first " (shown.len()) ")" }
                ": " (summary)
            }
            // The scale: 0, 50 and 100. Every SVG element is closed (`{}`): inside
            // `<svg>` the HTML parser knows no void elements, and an unclosed `<line>`
            // would swallow the rest of the chart.
            @for tick in [0u32, 50, 100] {
                @let x = LABEL_WIDTH + tick * BAR_AREA / 100;
                line x1=(x) x2=(x) y1=(TOP - 6) y2=(height - 8) stroke="#767676" stroke-width="1" {}
                text x=(x) y=(TOP - 10) text-anchor="middle" fill="#1a1a1a" { (tick) }
            }
            @for (i, r) in shown.iter().enumerate() {
                @let y = TOP + ROW_HEIGHT * i as u32;
                @let w = width_of(r.score);
                g {
                    text x=(LABEL_WIDTH - 8) y=(y + 17) text-anchor="end" fill="#1a1a1a" {
                        (r.rank) ". " (short(&r.name, 18))
                    }
                    rect x=(LABEL_WIDTH) y=(y + 4) width=(w) height=(ROW_HEIGHT - 8) fill="#8a1c1c" {}
                    text x=(LABEL_WIDTH + w + 6) y=(y + 17) fill="#1a1a1a" { (format!("{:.2}", r.score)) }
                }
            }
        }
    }
}

fn rate(r: Option<f64>) -> String {
    match r {
        Some(r) => format!("{:.0}%", r * 100.0),
        None => "—".into(),
    }
}

/// `GET /ranking?period=&parent_code=`: the ranking of a year (`2026`, default this
/// year) or a quarter (`2026-Q2`).
#[tracing::instrument(name = "web_ranking", skip_all)]
pub async fn ranking(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let s = session(&state, &headers).await.ok().flatten();
    let q = query(raw.as_deref());
    let today = state.clock.today();
    let period_text = q
        .get("period")
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| today.year().to_string());
    let parent_text = q
        .get("parent_code")
        .map(|p| p.trim().to_string())
        .unwrap_or_default();
    let result = async {
        let period = period_text
            .parse::<Period>()
            .map_err(|e| ApiError::field("period", "invalid", e.to_string()))?;
        let parent = match parent_text.as_str() {
            "" => None,
            c => Some(
                CreditCode::parse(c)
                    .map_err(|e| ApiError::from_id("parent_code", e))?
                    .to_string(),
            ),
        };
        let mut rows = assess_stored(&state.db, period, today, &state.assessment).await?;
        if let Some(parent) = parent {
            rows.retain(|r| r.code == parent || r.parent_code.as_deref() == Some(parent.as_str()));
            rank(&mut rows);
        }
        Ok::<_, ApiError>((
            period.to_string(),
            rows.iter()
                .map(PublicAssessmentRow::from)
                .collect::<Vec<_>>(),
        ))
    }
    .await;
    let (period, rows) = match result {
        Ok(r) => r,
        Err(e) => return error_page(e, s.as_ref()),
    };
    let formula = &state.assessment;
    page(
        StatusCode::OK,
        layout(
            &format!("政务诚信考核排名 Assessment ranking {period}"),
            s.as_ref(),
            html! {
                form method="get" action="/ranking" {
                    label for="period" { "考核期 Period (2026 或 or 2026-Q2)" }
                    input type="text" id="period" name="period" value=(period_text);
                    label for="parent_code" { "上级政府代码 Government's credit code (optional)" }
                    input type="text" id="parent_code" name="parent_code" value=(parent_text);
                    button type="submit" { "查看 Show" }
                }
                p { "评分公式 Formula: " (formula.name) " v" (formula.version) ". "
                    a href="/disclosure" { "失信记录 The records behind it" } }
                @if rows.is_empty() {
                    p { "本期尚无考核对象 Nothing is assessed for this period yet." }
                } @else {
                    h2 { "得分 Scores" }
                    (bar_chart(&period, &rows))
                    h2 { "排名表 Ranking table" }
                    table {
                        caption { "考核排名 Ranking, " (period) }
                        thead { tr {
                            th scope="col" { "名次 Rank" } th scope="col" { "单位 Unit" }
                            th scope="col" { "得分 Score" } th scope="col" { "严重记录 Serious" }
                            th scope="col" { "一般记录 Ordinary" }
                            th scope="col" { "整改按期/逾期 Rectifications on time / overdue" }
                            th scope="col" { "答复按期/逾期 Replies on time / late" }
                            th scope="col" { "满意率 Satisfaction" }
                        } }
                        tbody {
                            @for r in &rows {
                                tr {
                                    td { (r.rank) }
                                    td { a href={ "/subjects/" (r.code) } { (r.name) } }
                                    td { (format!("{:.2}", r.score)) }
                                    td { (r.serious_records) }
                                    td { (r.ordinary_records) }
                                    td { (r.rectifications_on_time) " / " (r.rectifications_overdue) }
                                    td { (r.replies_on_time) " / " (r.replies_late) }
                                    td { (rate(r.satisfaction_rate)) }
                                }
                            }
                        }
                    }
                }
            },
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(rank: u32, name: &str, score: f64) -> PublicAssessmentRow {
        PublicAssessmentRow {
            code: format!("code-{rank}"),
            name: name.into(),
            kind: "department".into(),
            parent_code: None,
            period: "2026".into(),
            score,
            rank,
            formula_version: 1,
            ordinary_records: 0,
            serious_records: 0,
            rectifications_on_time: 0,
            rectifications_overdue: 0,
            replies_on_time: 0,
            replies_late: 0,
            supervision_replies_on_time: 0,
            supervision_replies_late: 0,
            commitments_fulfilled: 0,
            commitments_breached: 0,
            satisfaction_rate: None,
        }
    }

    #[test]
    fn a_chart_names_itself_and_writes_every_value_as_text() {
        let svg =
            bar_chart("2026", &[row(1, "九江市某局", 95.0), row(2, "<b>", 40.5)]).into_string();
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("aria-labelledby=\"chart-title chart-desc\""));
        assert!(svg.contains("<title id=\"chart-title\">"));
        assert!(svg.contains("<desc id=\"chart-desc\">"));
        assert!(svg.contains(">95.00</text>") && svg.contains(">40.50</text>"));
        assert!(
            svg.contains("1. 九江市某局 95.00; 2. &lt;b&gt; 40.50"),
            "{svg}"
        );
        assert!(!svg.contains("<b>"), "names are escaped");
        assert_eq!(
            svg.matches("<line").count(),
            svg.matches("</line>").count(),
            "every line is closed: {svg}"
        );
    }

    #[test]
    fn a_bar_is_as_long_as_its_score_and_never_outside_the_scale() {
        let svg = bar_chart(
            "2026",
            &[row(1, "a", 100.0), row(2, "b", 50.0), row(3, "c", -3.0)],
        )
        .into_string();
        assert!(svg.contains(&format!("width=\"{BAR_AREA}\"")), "{svg}");
        assert!(svg.contains(&format!("width=\"{}\"", BAR_AREA / 2)));
        assert!(svg.contains("width=\"0\""), "a negative score draws no bar");
    }

    #[test]
    fn a_long_ranking_draws_the_first_bars_and_says_so() {
        let rows: Vec<_> = (1..=CHART_BARS as u32 + 5)
            .map(|i| row(i, "单位", 90.0))
            .collect();
        let svg = bar_chart("2026", &rows).into_string();
        assert_eq!(svg.matches("<rect").count(), CHART_BARS);
        assert!(svg.contains(&format!("the first {CHART_BARS}")));
    }

    #[test]
    fn a_long_name_is_cut_with_an_ellipsis() {
        assert_eq!(short("九江市人民政府办公室", 5), "九江市人…");
        assert_eq!(short("短", 5), "短");
    }
}
