//! Events of the complaint aggregate (投诉举报). A shipped event is never edited: a new
//! shape gets a new `event_version` and an upcaster. Each is documented in
//! `docs/events.md`.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::calendar::Deadline;
use crate::ids::CreditCode;
use crate::reporter::SealedReporter;

use super::{Category, Channel, ClosedBecause};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ComplaintEvent {
    /// 登记: the hotline or a web form recorded a new case.
    ComplaintFiled {
        category: Category,
        channel: Channel,
        subject_code: Option<CreditCode>,
        title: String,
        description: String,
        anonymous: bool,
        /// The reporter's name, phone and identity number, encrypted with a key of
        /// their own (absent for anonymous cases). Never decrypted by projectors.
        reporter: Option<SealedReporter>,
        received_at: DateTime<Utc>,
    },
    /// 受理
    ComplaintAccepted { at: DateTime<Utc> },
    /// 不予受理
    ComplaintDeclined { reason: String, at: DateTime<Utc> },
    /// 派单/转办: the case went to a handling unit with its sign and reply deadlines.
    ComplaintDispatched {
        unit: CreditCode,
        sign_due: Deadline,
        reply_due: Deadline,
        at: DateTime<Utc>,
    },
    /// 签收
    ComplaintSigned { unit: CreditCode, at: DateTime<Utc> },
    /// 退单: the unit sent the case back as misrouted.
    ComplaintReturned {
        unit: CreditCode,
        reason: String,
        at: DateTime<Utc>,
    },
    ExtensionRequested {
        unit: CreditCode,
        working_days: u32,
        reason: String,
        at: DateTime<Utc>,
    },
    /// The supervisor approved; `reply_due` is the new deadline.
    ExtensionApproved {
        note: String,
        reply_due: Deadline,
        at: DateTime<Utc>,
    },
    ExtensionDenied { note: String, at: DateTime<Utc> },
    /// 答复
    ComplaintReplied {
        unit: CreditCode,
        content: String,
        at: DateTime<Utc>,
    },
    /// 回访: the follow-up visit and the reporter's satisfaction.
    FollowUpVisited {
        satisfied: bool,
        comment: String,
        at: DateTime<Utc>,
    },
    /// An unsatisfied visit sent the case back to the unit with a new reply deadline.
    ComplaintReopened { reply_due: Deadline, at: DateTime<Utc> },
    /// 办结
    ComplaintClosed { because: ClosedBecause, at: DateTime<Utc> },
    /// 并单: a repeat of another case.
    ComplaintMerged { into: String, at: DateTime<Utc> },
    /// 督办 on an overdue case.
    ComplaintSupervised { note: String, at: DateTime<Utc> },
}

impl DomainEvent for ComplaintEvent {
    fn event_type(&self) -> String {
        let name = match self {
            Self::ComplaintFiled { .. } => "ComplaintFiled",
            Self::ComplaintAccepted { .. } => "ComplaintAccepted",
            Self::ComplaintDeclined { .. } => "ComplaintDeclined",
            Self::ComplaintDispatched { .. } => "ComplaintDispatched",
            Self::ComplaintSigned { .. } => "ComplaintSigned",
            Self::ComplaintReturned { .. } => "ComplaintReturned",
            Self::ExtensionRequested { .. } => "ExtensionRequested",
            Self::ExtensionApproved { .. } => "ExtensionApproved",
            Self::ExtensionDenied { .. } => "ExtensionDenied",
            Self::ComplaintReplied { .. } => "ComplaintReplied",
            Self::FollowUpVisited { .. } => "FollowUpVisited",
            Self::ComplaintReopened { .. } => "ComplaintReopened",
            Self::ComplaintClosed { .. } => "ComplaintClosed",
            Self::ComplaintMerged { .. } => "ComplaintMerged",
            Self::ComplaintSupervised { .. } => "ComplaintSupervised",
        };
        name.to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}
