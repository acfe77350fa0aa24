//! The mapping of domain-rules §4 between a complaint and an Open311 GeoReport v2
//! service request: `service_code` = the complaint's category, `status` open|closed with
//! `status_notes` from the contract status, `expected_datetime` = the reply due time,
//! `agency_responsible` = the handling unit. Pure functions, no I/O.
//!
//! What a GET shows is [`ServiceRequest`]: it has no field for the title, the
//! description, the reply, the body complained about or anything of the reporter, so no
//! GET can carry personal data whatever the case holds.

use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, TimeZone, Utc};
use probity_domain::complaint::Category;
use probity_views::ComplaintView;
use serde::Serialize;

/// One service: a complaint category as Open311 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    pub category: Category,
    /// `service_code`: the contract's category name.
    pub code: &'static str,
    /// 中文 name first, then the English label.
    pub name: &'static str,
    pub description: &'static str,
    pub keywords: &'static str,
}

/// Every service, in the contract's category order.
pub const SERVICES: [Service; 5] = [
    Service {
        category: Category::Consultation,
        code: "consultation",
        name: "咨询 Consultation",
        description: "政务诚信政策咨询 Questions about government integrity rules and services",
        keywords: "咨询,consultation,question",
    },
    Service {
        category: Category::Help,
        code: "help",
        name: "求助 Help request",
        description: "请求政府部门帮助解决问题 Asking a government body for help",
        keywords: "求助,help",
    },
    Service {
        category: Category::Suggestion,
        code: "suggestion",
        name: "建议 Suggestion",
        description: "对政务诚信建设的意见建议 Suggestions on government integrity",
        keywords: "建议,suggestion",
    },
    Service {
        category: Category::Complaint,
        code: "complaint",
        name: "投诉 Complaint",
        description: "投诉政府部门失信行为 A complaint about a government body breaking its word",
        keywords: "投诉,complaint,dishonesty",
    },
    Service {
        category: Category::Report,
        code: "report",
        name: "举报 Report",
        description: "举报政务失信行为 Reporting government dishonesty",
        keywords: "举报,report,dishonesty",
    },
];

/// The service of a `service_code`.
pub fn service(code: &str) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.code == code.trim())
}

/// The service of a case's category name (as the views store it).
fn service_of_category(category: &str) -> Option<&'static Service> {
    service(category)
}

/// `group` of every service.
pub const GROUP: &str = "政务诚信 Government integrity";

/// Open311 `status` of a contract status: `closed` once the case is closed, declined
/// or merged into another, `open` otherwise (a replied case waits for its follow-up
/// visit).
pub fn open_or_closed(status: &str) -> &'static str {
    match status {
        "closed" | "declined" | "merged" => "closed",
        _ => "open",
    }
}

/// The contract statuses an Open311 `status` stands for.
pub fn statuses_of(open311_status: &str) -> Option<&'static [&'static str]> {
    match open311_status.trim() {
        "open" => Some(&[
            "received",
            "accepted",
            "dispatched",
            "in_progress",
            "returned",
            "replied",
        ]),
        "closed" => Some(&["closed", "declined", "merged"]),
        _ => None,
    }
}

/// `status_notes`: where the case stands, in Chinese and English, and whether it is
/// overdue or supervised (never the reply's text, which may name people).
pub fn status_notes(view: &ComplaintView) -> String {
    let mut notes = match view.status.as_str() {
        "received" => "已登记，待受理 Received, waiting to be accepted".to_string(),
        "accepted" => "已受理，待派单 Accepted, waiting to be dispatched".to_string(),
        "dispatched" => {
            "已派单，待承办单位签收 Dispatched, waiting for the unit to sign".to_string()
        }
        "in_progress" => "办理中 Being handled by the unit".to_string(),
        "returned" => "已退单，待改派 Returned by the unit, to be dispatched again".to_string(),
        "replied" => "已答复，待回访 Replied, waiting for the follow-up visit".to_string(),
        "closed" => "已办结 Closed".to_string(),
        "declined" => "不予受理 Declined".to_string(),
        "merged" => match &view.merged_into {
            Some(into) => format!("已并单至 {into} Merged into request {into}"),
            None => "已并单 Merged into another request".to_string(),
        },
        other => other.to_string(),
    };
    if view.overdue {
        notes.push_str("；已超期 overdue");
    }
    if view.supervision_count > 0 || view.supervised {
        notes.push_str("；已督办 under supervision");
    }
    notes
}

/// The end of working day `day` in China (UTC+8), when a deadline expires.
pub fn end_of_day(day: NaiveDate) -> DateTime<Utc> {
    let local = day.and_time(NaiveTime::from_hms_opt(23, 59, 59).expect("a valid time"));
    chrono::FixedOffset::east_opt(8 * 3600)
        .expect("UTC+8")
        .from_local_datetime(&local)
        .single()
        .expect("a fixed offset has no gaps")
        .with_timezone(&Utc)
}

/// W3C date-time as Open311 writes it.
pub fn w3c(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A service request as every GET shows it: no personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceRequest {
    pub service_request_id: String,
    /// `open` or `closed`.
    pub status: &'static str,
    pub status_notes: String,
    pub service_name: String,
    pub service_code: String,
    /// The handling unit's credit code (none before dispatch).
    pub agency_responsible: Option<String>,
    /// The reply time limit of the category.
    pub service_notice: Option<String>,
    pub requested_datetime: String,
    pub updated_datetime: String,
    /// The end of the reply due day (none before dispatch).
    pub expected_datetime: Option<String>,
}

/// The service request of a case.
pub fn service_request(view: &ComplaintView, notice: Option<String>) -> ServiceRequest {
    let service = service_of_category(&view.category);
    ServiceRequest {
        service_request_id: view.id.clone(),
        status: open_or_closed(&view.status),
        status_notes: status_notes(view),
        service_name: service
            .map(|s| s.name.to_string())
            .unwrap_or_else(|| view.category.clone()),
        service_code: view.category.clone(),
        agency_responsible: view.unit.clone(),
        service_notice: notice,
        requested_datetime: w3c(view.received_at),
        updated_datetime: w3c(view.updated_at),
        expected_datetime: view.reply_due.map(|d| w3c(end_of_day(d))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(status: &str) -> ComplaintView {
        let at = Utc.with_ymd_and_hms(2026, 3, 11, 2, 0, 0).unwrap();
        serde_json::from_value(serde_json::json!({
            "id": "c-1", "version": 3, "status": status, "category": "complaint",
            "channel": "hotline", "subject_code": "113604000123456713",
            "title": "张三的投诉", "description": "我叫张三，电话13800138000",
            "unit": "914403001922038216", "received_at": at,
            "sign_due": "2026-03-12", "reply_due": "2026-04-01",
            "deadlines_provisional": false, "overdue": false, "extension": null,
            "merged_into": null, "anonymous": false, "reply": "已联系张三",
            "satisfied": null, "supervision_count": 0, "closed_because": null,
            "updated_at": at
        }))
        .expect("a complaint view")
    }

    #[test]
    fn every_category_is_a_service_code_and_back() {
        for s in SERVICES {
            let name = serde_json::to_value(s.category).unwrap();
            assert_eq!(name, s.code, "service_code is the category's contract name");
            assert_eq!(service(s.code), Some(&s));
        }
        assert_eq!(service("pothole"), None);
    }

    #[test]
    fn closed_declined_and_merged_cases_are_closed_and_the_rest_open() {
        for status in ["closed", "declined", "merged"] {
            assert_eq!(open_or_closed(status), "closed");
            assert!(statuses_of("closed").unwrap().contains(&status));
        }
        for status in [
            "received",
            "accepted",
            "dispatched",
            "in_progress",
            "returned",
            "replied",
        ] {
            assert_eq!(open_or_closed(status), "open");
            assert!(statuses_of("open").unwrap().contains(&status));
        }
        assert_eq!(statuses_of("pending"), None);
    }

    #[test]
    fn a_service_request_maps_unit_due_and_status_and_carries_no_personal_data() {
        let request = service_request(&case("in_progress"), None);
        assert_eq!(request.service_code, "complaint");
        assert_eq!(request.status, "open");
        assert_eq!(
            request.agency_responsible.as_deref(),
            Some("914403001922038216")
        );
        // The reply is due by the end of 1 April in China: 15:59:59 UTC.
        assert_eq!(
            request.expected_datetime.as_deref(),
            Some("2026-04-01T15:59:59Z")
        );
        assert_eq!(request.requested_datetime, "2026-03-11T02:00:00Z");
        let text = serde_json::to_string(&request).unwrap();
        for personal in ["张三", "13800138000", "113604000123456713", "已联系"] {
            assert!(!text.contains(personal), "{personal} leaked: {text}");
        }
    }

    #[test]
    fn status_notes_say_overdue_and_merged_into() {
        let mut view = case("merged");
        view.merged_into = Some("c-0".into());
        view.overdue = true;
        let notes = status_notes(&view);
        assert!(notes.contains("c-0"), "{notes}");
        assert!(notes.contains("overdue"), "{notes}");
    }
}
