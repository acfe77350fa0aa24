//! Time limits as configuration, keyed by a named policy; the shipped defaults are the
//! local practice in domain-rules §4.

use serde::{Deserialize, Serialize};

use crate::complaint::Category;

/// The complaint time limits in working days, loadable from configuration; missing
/// fields take the shipped defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeLimits {
    /// Name of the policy these values come from, recorded with the deadlines.
    pub policy: String,
    /// A dispatched case must be signed within this many working days.
    pub sign_working_days: u32,
    /// Reply limit for a consultation (咨询).
    pub consultation_working_days: u32,
    /// Reply limit for a help request (求助).
    pub help_working_days: u32,
    /// Reply limit for a suggestion (建议).
    pub suggestion_working_days: u32,
    /// Reply limit for a complaint (投诉).
    pub complaint_working_days: u32,
    /// Reply limit for a report (举报).
    pub report_working_days: u32,
    /// Working days a reopened case (unsatisfied visit) gets for its new reply.
    pub reopen_working_days: u32,
}

impl Default for TimeLimits {
    fn default() -> Self {
        Self {
            policy: "jiujiang-12345-2026".to_string(),
            sign_working_days: 1,
            consultation_working_days: 3,
            help_working_days: 10,
            suggestion_working_days: 10,
            complaint_working_days: 15,
            report_working_days: 15,
            reopen_working_days: 10,
        }
    }
}

impl TimeLimits {
    /// The reply limit of a category.
    pub fn reply_working_days(&self, category: Category) -> u32 {
        match category {
            Category::Consultation => self.consultation_working_days,
            Category::Help => self.help_working_days,
            Category::Suggestion => self.suggestion_working_days,
            Category::Complaint => self.complaint_working_days,
            Category::Report => self.report_working_days,
        }
    }
}
