//! Events of the complaint aggregate (投诉举报). A shipped event is never edited: a new
//! shape gets a new `event_version` and an upcaster. Each is documented in
//! `docs/events.md`.

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::calendar::Deadline;
use crate::ids::CreditCode;
use crate::reporter::SealedReporter;
use crate::wire::Redacted;

use super::{Category, Channel, ClosedBecause, DeadlineKind};

/// Everything that can happen to a complaint, in the past tense.
///
/// `P` is the form of the sealed reporter block: [`SealedReporter`] as stored,
/// [`Redacted`] on the wire ([`ComplaintWireEvent`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ComplaintEvent<P = SealedReporter> {
    /// 登记: the hotline or a web form recorded a new case.
    ComplaintFiled {
        /// What the reporter asks for; decides the reply time limit.
        category: Category,
        /// How the case reached intake.
        channel: Channel,
        /// The body complained about, if known.
        subject_code: Option<CreditCode>,
        /// Short title (1–200 characters).
        title: String,
        /// The case in the reporter's words (1–4000 characters).
        description: String,
        /// The reporter stays anonymous: no reporter block, no follow-up visit.
        anonymous: bool,
        /// The reporter's name, phone and identity number, encrypted with a key of
        /// their own (absent for anonymous cases). Never decrypted by projectors.
        reporter: Option<P>,
        /// When the case was filed.
        received_at: DateTime<Utc>,
    },
    /// 受理
    ComplaintAccepted {
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// 不予受理
    ComplaintDeclined {
        /// Why (not blank).
        reason: String,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// 派单/转办: the case went to a handling unit with its sign and reply deadlines.
    ComplaintDispatched {
        /// The handling unit concerned.
        unit: CreditCode,
        /// Sign (签收) by the end of this day.
        sign_due: Deadline,
        /// Reply (答复) by the end of this day.
        reply_due: Deadline,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// 签收
    ComplaintSigned {
        /// The handling unit concerned.
        unit: CreditCode,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// 退单: the unit sent the case back as misrouted.
    ComplaintReturned {
        /// The handling unit concerned.
        unit: CreditCode,
        /// Why (not blank).
        reason: String,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// The assigned unit asked for more working days to reply (延期申请).
    ExtensionRequested {
        /// The handling unit concerned.
        unit: CreditCode,
        /// Working days asked for, 1–30.
        working_days: u32,
        /// Why (not blank).
        reason: String,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// The supervisor approved; `reply_due` is the new deadline.
    ExtensionApproved {
        /// The supervisor's note.
        note: String,
        /// Reply (答复) by the end of this day.
        reply_due: Deadline,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// The supervisor refused the extension; the reply deadline stands.
    ExtensionDenied {
        /// The supervisor's note.
        note: String,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// 答复
    ComplaintReplied {
        /// The handling unit concerned.
        unit: CreditCode,
        /// The reply to the reporter.
        content: String,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// 回访: the follow-up visit and the reporter's satisfaction.
    FollowUpVisited {
        /// Whether the reporter is satisfied with the reply.
        satisfied: bool,
        /// What the reporter said.
        comment: String,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// An unsatisfied visit sent the case back to the unit with a new reply deadline.
    ComplaintReopened {
        /// Reply (答复) by the end of this day.
        reply_due: Deadline,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// 办结
    ComplaintClosed {
        /// Why the case closed.
        because: ClosedBecause,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// 并单: a repeat of another case.
    ComplaintMerged {
        /// Id of the case this one was merged into.
        into: String,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// Case `from` was merged into this one (并单): this case answers for it too.
    ComplaintMergedIn {
        /// Id of the case merged into this one.
        from: String,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// 督办 on an overdue case.
    ComplaintSupervised {
        /// The supervisor's note.
        note: String,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// The reporter's personal data was erased (crypto-shredding): the key `key_id` that
    /// sealed it is destroyed right after this event is recorded, so the sealed block in
    /// `ComplaintFiled` can never be opened again. Nothing else about the case changes.
    ReporterErased {
        /// Id of the destroyed reporter key.
        key_id: String,
        /// Why (not blank).
        reason: String,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// The unit did not sign by the end of the sign due day (recorded once per due day
    /// by the deadline engine). The status does not change: the signature is still owed.
    SignOverdue {
        /// The unit that owed the signature.
        unit: CreditCode,
        /// The sign due day that passed.
        due: NaiveDate,
        /// When it was recorded (its Asia/Shanghai date is after `due`).
        at: DateTime<Utc>,
    },
    /// The unit did not reply by the end of the reply due day (recorded once per due day
    /// by the deadline engine): the case goes to supervision (督办) and counts against
    /// the unit. The status does not change: the reply is still owed.
    ReplyOverdue {
        /// The unit that owed the reply (the one it counts against).
        unit: CreditCode,
        /// The reply due day that passed.
        due: NaiveDate,
        /// When it was recorded (its Asia/Shanghai date is after `due`).
        at: DateTime<Utc>,
    },
    /// The unit was reminded that a deadline is near (once per deadline and due day).
    DeadlineDueSoon {
        /// Which deadline: sign or reply.
        kind: DeadlineKind,
        /// Its due day (not yet passed when reminded).
        due: NaiveDate,
        /// When the reminder was recorded.
        at: DateTime<Utc>,
    },
    /// Provisional deadlines (counted through a year without a holiday schedule) were
    /// recomputed once that year's schedule was loaded: each present deadline replaces
    /// the open one of its kind and is final (`provisional: false`); an absent one is
    /// unchanged.
    DeadlinesRecomputed {
        /// The new sign (签收) deadline, if it was recomputed.
        sign_due: Option<Deadline>,
        /// The new reply (答复) deadline, if it was recomputed.
        reply_due: Option<Deadline>,
        /// When it happened.
        at: DateTime<Utc>,
    },
}

/// A complaint event as it leaves the store (bus, histories, folds): the reporter block
/// redacted to its key id (see [`crate::wire`]).
pub type ComplaintWireEvent = ComplaintEvent<Redacted>;

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
            Self::ComplaintMergedIn { .. } => "ComplaintMergedIn",
            Self::ComplaintSupervised { .. } => "ComplaintSupervised",
            Self::ReporterErased { .. } => "ReporterErased",
            Self::SignOverdue { .. } => "SignOverdue",
            Self::ReplyOverdue { .. } => "ReplyOverdue",
            Self::DeadlineDueSoon { .. } => "DeadlineDueSoon",
            Self::DeadlinesRecomputed { .. } => "DeadlinesRecomputed",
        };
        name.to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}
