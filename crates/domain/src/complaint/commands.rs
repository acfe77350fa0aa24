//! Commands of the complaint aggregate. Each carries the time it is issued at (the
//! server's clock, offset applied) so the aggregate itself never reads a clock.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::CreditCode;
use crate::reporter::SealedReporter;

use super::{Category, Channel};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ComplaintCommand {
    FileComplaint {
        category: Category,
        channel: Channel,
        subject_code: Option<CreditCode>,
        title: String,
        description: String,
        anonymous: bool,
        reporter: Option<SealedReporter>,
        at: DateTime<Utc>,
    },
    AcceptComplaint { at: DateTime<Utc> },
    DeclineComplaint { reason: String, at: DateTime<Utc> },
    DispatchComplaint { unit: CreditCode, at: DateTime<Utc> },
    /// `unit` is the acting handler's unit; only the assigned unit may sign.
    SignComplaint { unit: CreditCode, at: DateTime<Utc> },
    ReturnComplaint {
        unit: CreditCode,
        reason: String,
        at: DateTime<Utc>,
    },
    RequestExtension {
        unit: CreditCode,
        working_days: u32,
        reason: String,
        at: DateTime<Utc>,
    },
    ApproveExtension { note: String, at: DateTime<Utc> },
    DenyExtension { note: String, at: DateTime<Utc> },
    ReplyToComplaint {
        unit: CreditCode,
        content: String,
        at: DateTime<Utc>,
    },
    RecordVisit {
        satisfied: bool,
        comment: String,
        at: DateTime<Utc>,
    },
    MergeComplaint { into: String, at: DateTime<Utc> },
    SuperviseComplaint { note: String, at: DateTime<Utc> },
}
