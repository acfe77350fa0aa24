//! The complaint aggregate (投诉举报): intake → accept → dispatch → sign → reply → visit →
//! close, with decline, return, extension, merge and supervision (国办发〔2020〕53号).

mod aggregate;
mod commands;
mod errors;
mod events;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use commands::ComplaintCommand;
pub use errors::ComplaintError;
pub use events::ComplaintEvent;

use crate::calendar::{Deadline, WorkingCalendar};
use crate::ids::CreditCode;
use crate::policy::TimeLimits;

/// What the aggregate needs from outside: reference data only, no I/O.
#[derive(Debug, Clone)]
pub struct ComplaintServices {
    pub calendar: Arc<WorkingCalendar>,
    pub limits: TimeLimits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Consultation,
    Help,
    Suggestion,
    Complaint,
    Report,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Hotline,
    Web,
    Letter,
    Visit,
    Open311,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not yet filed (the state of a fresh aggregate).
    #[default]
    New,
    Received,
    Accepted,
    Declined,
    Dispatched,
    InProgress,
    Returned,
    Replied,
    Closed,
    Merged,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Received => "received",
            Status::Accepted => "accepted",
            Status::Declined => "declined",
            Status::Dispatched => "dispatched",
            Status::InProgress => "in_progress",
            Status::Returned => "returned",
            Status::Replied => "replied",
            Status::Closed => "closed",
            Status::Merged => "merged",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosedBecause {
    /// The follow-up visit found the reporter satisfied.
    Satisfied,
    /// An anonymous case closes on reply: there is nobody to visit.
    AnonymousReplied,
}

/// A pending extension request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingExtension {
    pub working_days: u32,
    pub reason: String,
}

/// Write-side state: only what the rules need.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Complaint {
    pub status: Status,
    pub category: Option<Category>,
    pub anonymous: bool,
    pub unit: Option<CreditCode>,
    pub sign_due: Option<Deadline>,
    pub reply_due: Option<Deadline>,
    pub pending_extension: Option<PendingExtension>,
    pub last_event_at: Option<DateTime<Utc>>,
}
