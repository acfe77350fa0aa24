//! What one aggregate tells the assessment: the per-aggregate half of the fold, shared
//! by the reference fold over the log ([`super::assess`]), the projectors that keep the
//! stored assessment ([`super::stored`]) and rebuild, so the attribution rules of
//! `docs/assessment.md` are written once.
//!
//! An aggregate's events, folded in sequence order into an [`Item`], give two kinds of
//! contribution:
//! - **settled facts** ([`Fact`]): a figure counted for a unit in the period holding one
//!   day, whatever the evaluation day. A complaint *emits* them as its events happen
//!   (a reply, a visit, a supervision: they never change afterwards); a record or a
//!   rectification *stands* on one at a time, recomputed from its state (a correction
//!   moves a record's severity or date, a verification settles a rectification);
//! - **owed items** ([`Owed`]): a reply or a rectification still owed by a unit. It counts
//!   as late (overdue) in the period holding its due day, but only once the evaluation
//!   day is past that day: the one part of an assessment that depends on "today".

use chrono::{DateTime, NaiveDate, Utc};
use probity_domain::assessment::Figures;
use probity_domain::commitment::{CommitmentEvent, CommitmentKind, Fulfilment};
use probity_domain::complaint::{ComplaintEvent, ComplaintWireEvent};
use probity_domain::integrity::Severity;
use probity_domain::record::{RecordEvent, RecordTarget};
use probity_domain::rectification::RectificationEvent;
use probity_domain::supervision_item::SupervisionItemEvent;
use probity_domain::{aggregate_type, WorkingCalendar};
use probity_store::StoredEvent;
use serde::{Deserialize, Serialize};

use crate::fold::decode_wire;

/// The Asia/Shanghai date of an instant: the day that decides a fact's period.
fn local(at: DateTime<Utc>) -> NaiveDate {
    WorkingCalendar::local_date(at)
}

/// A figure a settled fact adds one to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Figure {
    MinorRecord,
    OrdinaryRecord,
    SeriousRecord,
    RectificationOnTime,
    RectificationOverdue,
    ReplyOnTime,
    ReplyLate,
    /// A follow-up visit (and whether the reporter was satisfied).
    Visit {
        satisfied: bool,
    },
    Supervision,
    /// A supervision item replied by its due day.
    SupervisionReplyOnTime,
    /// A supervision item replied after its due day (or still unanswered past it).
    SupervisionReplyLate,
    /// A township public commitment assessed as fulfilled.
    CommitmentFulfilled,
    /// A township public commitment assessed as breached.
    CommitmentBreached,
}

impl Figure {
    /// Adds this figure once to `f`.
    pub fn add_to(self, f: &mut Figures) {
        match self {
            Figure::MinorRecord => f.minor_records += 1,
            Figure::OrdinaryRecord => f.ordinary_records += 1,
            Figure::SeriousRecord => f.serious_records += 1,
            Figure::RectificationOnTime => f.rectifications_on_time += 1,
            Figure::RectificationOverdue => f.rectifications_overdue += 1,
            Figure::ReplyOnTime => f.replies_on_time += 1,
            Figure::ReplyLate => f.replies_late += 1,
            Figure::Visit { satisfied } => {
                f.visits += 1;
                if satisfied {
                    f.satisfied += 1;
                }
            }
            Figure::Supervision => f.supervisions += 1,
            Figure::SupervisionReplyOnTime => f.supervision_replies_on_time += 1,
            Figure::SupervisionReplyLate => f.supervision_replies_late += 1,
            Figure::CommitmentFulfilled => f.commitments_fulfilled += 1,
            Figure::CommitmentBreached => f.commitments_breached += 1,
        }
    }
}

/// A settled fact: `figure` counts for `unit` in the period holding `day`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fact {
    pub unit: String,
    pub day: NaiveDate,
    pub figure: Figure,
}

/// What a unit still owes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OwedKind {
    /// A complaint reply: late once its due day has passed.
    Reply,
    /// A rectification: overdue once its due day has passed.
    Rectification,
    /// A supervision item's reply: late once its due day has passed.
    SupervisionReply,
}

impl OwedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OwedKind::Reply => "reply",
            OwedKind::Rectification => "rectification",
            OwedKind::SupervisionReply => "supervision_reply",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "reply" => Some(OwedKind::Reply),
            "rectification" => Some(OwedKind::Rectification),
            "supervision_reply" => Some(OwedKind::SupervisionReply),
            _ => None,
        }
    }

    /// The figure it counts as once its due day has passed.
    pub fn late_figure(self) -> Figure {
        match self {
            OwedKind::Reply => Figure::ReplyLate,
            OwedKind::Rectification => Figure::RectificationOverdue,
            OwedKind::SupervisionReply => Figure::SupervisionReplyLate,
        }
    }
}

/// An item still owed by `unit`, due by the end of `due`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owed {
    pub unit: String,
    pub due: NaiveDate,
    pub kind: OwedKind,
}

/// What an item stands on now (besides the facts it emitted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Standing {
    Settled(Fact),
    Owed(Owed),
}

/// A dishonesty record as the assessment sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RecordFact {
    /// The subject's credit code; `None` for a civil servant's record (not counted).
    pub unit: Option<String>,
    pub severity: Severity,
    /// As last corrected.
    pub decision_date: NaiveDate,
    pub withdrawn: bool,
}

/// A rectification as the assessment sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RectificationFact {
    /// The unit that owes it.
    pub unit: String,
    /// The due date in force.
    pub due: NaiveDate,
    /// The first due date missed (通报批评), if any.
    pub escalated: Option<NaiveDate>,
    /// (on time, the Asia/Shanghai day of the verification).
    pub verified: Option<(bool, NaiveDate)>,
}

/// A supervision item as the assessment sees it: the unit that owes (or gave) the reply,
/// the due day in force, and the reply (on time, its Asia/Shanghai day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SupervisionItemFact {
    pub unit: String,
    pub due: NaiveDate,
    pub replied: Option<(bool, NaiveDate)>,
}

/// A township public commitment (乡镇公开承诺) as the assessment sees it: the subject
/// that made it, and its fulfilment as last assessed (the level, its Asia/Shanghai day).
/// Commitments of other kinds are not folded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CommitmentFact {
    pub unit: String,
    pub assessed: Option<(Fulfilment, NaiveDate)>,
}

/// A reply owed on a complaint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OwedReply {
    pub unit: String,
    pub due: NaiveDate,
}

/// A complaint as the assessment sees it: whom it is assigned to, who replied last, and
/// the reply owed. Its replies, visits and supervisions are emitted as they happen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ComplaintFact {
    pub assigned: Option<String>,
    pub last_replier: Option<String>,
    pub owed: Option<OwedReply>,
}

/// One aggregate as the assessment folded it so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Item {
    Record(RecordFact),
    Rectification(RectificationFact),
    Complaint(ComplaintFact),
    /// A supervision item (人大建议、政协提案、司法建议、检察建议).
    Supervision(SupervisionItemFact),
    /// A township public commitment.
    Commitment(CommitmentFact),
}

/// The aggregate types the assessment folds (besides subjects, which name the rows).
pub(crate) const ITEM_TYPES: &[&str] = &[
    aggregate_type::RECORD,
    aggregate_type::RECTIFICATION,
    aggregate_type::COMPLAINT,
    aggregate_type::SUPERVISION_ITEM,
    aggregate_type::COMMITMENT,
];

impl Item {
    /// Folds one stored event of a record, rectification or complaint into `item`
    /// (created by the aggregate's first event), pushing the facts it settles onto
    /// `emit`. Events of other aggregate types, and events the assessment ignores, leave
    /// it as it was.
    pub fn apply_stored(
        item: &mut Option<Item>,
        event: &StoredEvent,
        emit: &mut Vec<Fact>,
    ) -> Result<(), crate::fold::DecodeError> {
        match event.aggregate_type.as_str() {
            aggregate_type::RECORD => Self::apply_record(
                item,
                decode_wire::<RecordEvent>(aggregate_type::RECORD, &event.payload)?,
            ),
            aggregate_type::RECTIFICATION => Self::apply_rectification(
                item,
                decode_wire::<RectificationEvent>(aggregate_type::RECTIFICATION, &event.payload)?,
            ),
            aggregate_type::SUPERVISION_ITEM => Self::apply_supervision_item(
                item,
                decode_wire::<SupervisionItemEvent>(
                    aggregate_type::SUPERVISION_ITEM,
                    &event.payload,
                )?,
                emit,
            ),
            aggregate_type::COMPLAINT => Self::apply_complaint(
                item,
                &decode_wire::<ComplaintWireEvent>(aggregate_type::COMPLAINT, &event.payload)?,
                emit,
            ),
            aggregate_type::COMMITMENT => Self::apply_commitment(
                item,
                decode_wire::<CommitmentEvent>(aggregate_type::COMMITMENT, &event.payload)?,
            ),
            _ => {}
        }
        Ok(())
    }

    fn apply_record(item: &mut Option<Item>, event: RecordEvent) {
        match (event, item.as_mut()) {
            (
                RecordEvent::DishonestyRecorded {
                    target,
                    decision_date,
                    severity,
                    ..
                },
                _,
            ) => {
                let unit = match target {
                    RecordTarget::Subject { code } => Some(code.to_string()),
                    RecordTarget::CivilServant { .. } => None,
                };
                *item = Some(Item::Record(RecordFact {
                    unit,
                    severity,
                    decision_date,
                    withdrawn: false,
                }));
            }
            (RecordEvent::RecordWithdrawn { .. }, Some(Item::Record(r))) => r.withdrawn = true,
            (
                RecordEvent::RecordCorrected {
                    severity,
                    decision_date,
                    ..
                },
                Some(Item::Record(r)),
            ) => {
                r.severity = severity;
                r.decision_date = decision_date;
            }
            _ => {}
        }
    }

    fn apply_rectification(item: &mut Option<Item>, event: RectificationEvent) {
        match (event, item.as_mut()) {
            (RectificationEvent::RectificationOrdered { unit, due, .. }, _) => {
                *item = Some(Item::Rectification(RectificationFact {
                    unit: unit.to_string(),
                    due: due.due,
                    escalated: None,
                    verified: None,
                }));
            }
            (
                RectificationEvent::RectificationRejected { due, .. }
                | RectificationEvent::RectificationDueRecomputed { due, .. },
                Some(Item::Rectification(r)),
            ) => r.due = due.due,
            (
                RectificationEvent::RectificationEscalated { due, .. },
                Some(Item::Rectification(r)),
            ) => {
                r.escalated.get_or_insert(due);
            }
            (
                RectificationEvent::RectificationVerified { on_time, at },
                Some(Item::Rectification(r)),
            ) => r.verified = Some((on_time, local(at))),
            _ => {}
        }
    }

    fn apply_commitment(item: &mut Option<Item>, event: CommitmentEvent) {
        match (event, item.as_mut()) {
            (
                CommitmentEvent::CommitmentMade {
                    subject_code,
                    kind: CommitmentKind::TownshipPublic,
                    ..
                },
                _,
            ) => {
                *item = Some(Item::Commitment(CommitmentFact {
                    unit: subject_code.to_string(),
                    assessed: None,
                }));
            }
            (CommitmentEvent::FulfilmentAssessed { level, at, .. }, Some(Item::Commitment(c))) => {
                c.assessed = Some((level, local(at)));
            }
            _ => {}
        }
    }

    fn apply_supervision_item(
        item: &mut Option<Item>,
        event: SupervisionItemEvent,
        emit: &mut Vec<Fact>,
    ) {
        match (event, item.as_mut()) {
            (SupervisionItemEvent::SupervisionItemAssigned { unit, due, .. }, _) => {
                *item = Some(Item::Supervision(SupervisionItemFact {
                    unit: unit.to_string(),
                    due: due.due,
                    replied: None,
                }));
            }
            (
                SupervisionItemEvent::SupervisionItemReassigned { to, due, .. },
                Some(Item::Supervision(s)),
            ) => {
                s.unit = to.to_string();
                s.due = due.due;
            }
            (
                SupervisionItemEvent::SupervisionItemReplied { on_time, at, .. },
                Some(Item::Supervision(s)),
            ) => s.replied = Some((on_time, local(at))),
            (
                SupervisionItemEvent::SupervisionExtensionApproved { due, .. }
                | SupervisionItemEvent::SupervisionReplyDueRecomputed { due, .. },
                Some(Item::Supervision(s)),
            ) => s.due = due.due,
            (
                SupervisionItemEvent::SupervisionItemReturnedForRehandling { unit, due, .. },
                Some(Item::Supervision(s)),
            ) => {
                // The first handling's reply stays counted where it was (it becomes a
                // settled fact for good); the item now stands on the second reply owed
                // (ADR 0033).
                if let Some(Standing::Settled(first)) = Item::Supervision(s.clone()).standing() {
                    emit.push(first);
                }
                *s = SupervisionItemFact {
                    unit: unit.to_string(),
                    due: due.due,
                    replied: None,
                };
            }
            _ => {}
        }
    }

    /// Folds one complaint event (already decoded: the complaint projector has it).
    pub fn apply_complaint(
        item: &mut Option<Item>,
        event: &ComplaintWireEvent,
        emit: &mut Vec<Fact>,
    ) {
        let c = match item {
            Some(Item::Complaint(c)) => c,
            Some(_) => return,
            None => {
                *item = Some(Item::Complaint(ComplaintFact::default()));
                let Some(Item::Complaint(c)) = item else {
                    return;
                };
                c
            }
        };
        let fact = |unit: String, day, figure| Fact { unit, day, figure };
        match event {
            ComplaintEvent::ComplaintDispatched {
                unit, reply_due, ..
            } => {
                c.assigned = Some(unit.to_string());
                c.owed = Some(OwedReply {
                    unit: unit.to_string(),
                    due: reply_due.due,
                });
            }
            ComplaintEvent::ExtensionApproved { reply_due, .. }
            | ComplaintEvent::DeadlinesRecomputed {
                reply_due: Some(reply_due),
                ..
            } => {
                if let Some(o) = c.owed.as_mut() {
                    o.due = reply_due.due;
                }
            }
            ComplaintEvent::ComplaintReturned { .. } => {
                c.assigned = None;
                c.owed = None;
            }
            ComplaintEvent::ComplaintReplied { unit, at, .. } => {
                let day = local(*at);
                if let Some(o) = c.owed.take() {
                    let figure = if day <= o.due {
                        Figure::ReplyOnTime
                    } else {
                        Figure::ReplyLate
                    };
                    emit.push(fact(o.unit, day.min(o.due), figure));
                }
                c.last_replier = Some(unit.to_string());
            }
            ComplaintEvent::ComplaintReopened { reply_due, .. } => {
                if let Some(unit) = c.assigned.clone().or_else(|| c.last_replier.clone()) {
                    c.owed = Some(OwedReply {
                        unit,
                        due: reply_due.due,
                    });
                }
            }
            ComplaintEvent::FollowUpVisited { satisfied, at, .. } => {
                if let Some(unit) = c.last_replier.clone().or_else(|| c.assigned.clone()) {
                    let figure = Figure::Visit {
                        satisfied: *satisfied,
                    };
                    emit.push(fact(unit, local(*at), figure));
                }
            }
            ComplaintEvent::ComplaintSupervised { at, .. } => {
                if let Some(unit) = c.assigned.clone() {
                    emit.push(fact(unit, local(*at), Figure::Supervision));
                }
            }
            ComplaintEvent::ReplyOverdue { unit, at, .. } => {
                emit.push(fact(unit.to_string(), local(*at), Figure::Supervision));
            }
            ComplaintEvent::ComplaintClosed { at, .. }
            | ComplaintEvent::ComplaintMerged { at, .. }
            | ComplaintEvent::ComplaintDeclined { at, .. } => {
                // Ended without a reply: late if the due day had already passed.
                if let Some(o) = c.owed.take() {
                    if local(*at) > o.due {
                        emit.push(fact(o.unit, o.due, Figure::ReplyLate));
                    }
                }
            }
            _ => {}
        }
    }

    /// What the item stands on now: a record's counted severity, a rectification's
    /// outcome or what it still owes, the reply a complaint still owes.
    pub fn standing(&self) -> Option<Standing> {
        match self {
            Item::Record(r) => {
                let unit = r.unit.as_ref().filter(|_| !r.withdrawn)?;
                let figure = match r.severity {
                    Severity::Minor => Figure::MinorRecord,
                    Severity::Ordinary => Figure::OrdinaryRecord,
                    Severity::Serious => Figure::SeriousRecord,
                };
                Some(Standing::Settled(Fact {
                    unit: unit.clone(),
                    day: r.decision_date,
                    figure,
                }))
            }
            Item::Rectification(r) => {
                let settled = |day, figure| {
                    Standing::Settled(Fact {
                        unit: r.unit.clone(),
                        day,
                        figure,
                    })
                };
                Some(match (r.escalated, r.verified) {
                    (Some(missed), _) => settled(missed, Figure::RectificationOverdue),
                    (None, Some((true, day))) => {
                        settled(day.min(r.due), Figure::RectificationOnTime)
                    }
                    (None, Some((false, _))) => settled(r.due, Figure::RectificationOverdue),
                    (None, None) => Standing::Owed(Owed {
                        unit: r.unit.clone(),
                        due: r.due,
                        kind: OwedKind::Rectification,
                    }),
                })
            }
            Item::Commitment(c) => {
                let (level, day) = c.assessed?;
                let figure = match level {
                    Fulfilment::Fulfilled => Figure::CommitmentFulfilled,
                    Fulfilment::Breached => Figure::CommitmentBreached,
                    Fulfilment::PartiallyFulfilled => return None,
                };
                Some(Standing::Settled(Fact {
                    unit: c.unit.clone(),
                    day,
                    figure,
                }))
            }
            Item::Supervision(s) => Some(match s.replied {
                Some((true, day)) => Standing::Settled(Fact {
                    unit: s.unit.clone(),
                    day: day.min(s.due),
                    figure: Figure::SupervisionReplyOnTime,
                }),
                Some((false, _)) => Standing::Settled(Fact {
                    unit: s.unit.clone(),
                    day: s.due,
                    figure: Figure::SupervisionReplyLate,
                }),
                None => Standing::Owed(Owed {
                    unit: s.unit.clone(),
                    due: s.due,
                    kind: OwedKind::SupervisionReply,
                }),
            }),
            Item::Complaint(c) => c.owed.as_ref().map(|o| {
                Standing::Owed(Owed {
                    unit: o.unit.clone(),
                    due: o.due,
                    kind: OwedKind::Reply,
                })
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_verified_rectification_stands_on_its_outcome_not_on_what_it_owed() {
        let mut r = RectificationFact {
            unit: "u".into(),
            due: day("2026-03-20"),
            escalated: None,
            verified: None,
        };
        assert_eq!(
            Item::Rectification(r.clone()).standing(),
            Some(Standing::Owed(Owed {
                unit: "u".into(),
                due: day("2026-03-20"),
                kind: OwedKind::Rectification
            }))
        );
        r.verified = Some((true, day("2026-03-25")));
        assert_eq!(
            Item::Rectification(r.clone()).standing(),
            Some(Standing::Settled(Fact {
                unit: "u".into(),
                day: day("2026-03-20"),
                figure: Figure::RectificationOnTime
            })),
            "on time is attributed to the due date when that is earlier"
        );
        r.escalated = Some(day("2026-03-10"));
        assert_eq!(
            Item::Rectification(r).standing(),
            Some(Standing::Settled(Fact {
                unit: "u".into(),
                day: day("2026-03-10"),
                figure: Figure::RectificationOverdue
            })),
            "an escalation wins over a later verification"
        );
    }

    #[test]
    fn a_withdrawn_record_or_a_civil_servants_record_stands_on_nothing() {
        let r = RecordFact {
            unit: Some("u".into()),
            severity: Severity::Serious,
            decision_date: day("2026-01-05"),
            withdrawn: true,
        };
        assert_eq!(Item::Record(r.clone()).standing(), None);
        let personal = RecordFact {
            unit: None,
            withdrawn: false,
            ..r
        };
        assert_eq!(Item::Record(personal).standing(), None);
    }

    #[test]
    fn an_item_survives_its_stored_form() {
        let item = Item::Complaint(ComplaintFact {
            assigned: Some("a".into()),
            last_replier: None,
            owed: Some(OwedReply {
                unit: "a".into(),
                due: day("2026-02-10"),
            }),
        });
        let text = serde_json::to_string(&item).unwrap();
        assert_eq!(serde_json::from_str::<Item>(&text).unwrap(), item);
    }

    #[test]
    fn a_supervision_item_owes_its_reply_until_it_is_given_then_stands_on_its_timeliness() {
        let mut s = SupervisionItemFact {
            unit: "u".into(),
            due: day("2026-05-11"),
            replied: None,
        };
        assert_eq!(
            Item::Supervision(s.clone()).standing(),
            Some(Standing::Owed(Owed {
                unit: "u".into(),
                due: day("2026-05-11"),
                kind: OwedKind::SupervisionReply
            }))
        );
        s.replied = Some((true, day("2026-04-02")));
        assert_eq!(
            Item::Supervision(s.clone()).standing(),
            Some(Standing::Settled(Fact {
                unit: "u".into(),
                day: day("2026-04-02"),
                figure: Figure::SupervisionReplyOnTime
            }))
        );
        s.replied = Some((false, day("2026-07-01")));
        assert_eq!(
            Item::Supervision(s).standing(),
            Some(Standing::Settled(Fact {
                unit: "u".into(),
                day: day("2026-05-11"),
                figure: Figure::SupervisionReplyLate
            })),
            "a late reply counts in the period of the day it was due"
        );
    }

    #[test]
    fn a_returned_item_keeps_its_first_reply_counted_and_owes_the_second_by_its_own_day() {
        use probity_domain::calendar::Deadline;
        use probity_domain::CreditCode;
        let unit = CreditCode::parse("914403001922038216").unwrap();
        let mut item = Some(Item::Supervision(SupervisionItemFact {
            unit: unit.to_string(),
            due: day("2026-06-10"),
            replied: Some((false, day("2026-06-20"))),
        }));
        let mut emit = Vec::new();
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .with_timezone(&Utc)
        };
        Item::apply_supervision_item(
            &mut item,
            SupervisionItemEvent::SupervisionItemReturnedForRehandling {
                unit: unit.clone(),
                reason: "不满意".into(),
                months: 1,
                due: Deadline {
                    due: day("2026-08-03"),
                    provisional: false,
                },
                policy: "supervision-2026".into(),
                at: at("2026-07-01T02:00:00Z"),
            },
            &mut emit,
        );
        assert_eq!(
            emit,
            vec![Fact {
                unit: unit.to_string(),
                day: day("2026-06-10"),
                figure: Figure::SupervisionReplyLate
            }],
            "the first (late) reply stays in the period of its due day"
        );
        assert_eq!(
            item.as_ref().and_then(Item::standing),
            Some(Standing::Owed(Owed {
                unit: unit.to_string(),
                due: day("2026-08-03"),
                kind: OwedKind::SupervisionReply
            }))
        );
        Item::apply_supervision_item(
            &mut item,
            SupervisionItemEvent::SupervisionItemReplied {
                unit: unit.clone(),
                text: "再次答复".into(),
                on_time: false,
                at: at("2026-08-05T02:00:00Z"),
            },
            &mut emit,
        );
        assert_eq!(
            item.as_ref().and_then(Item::standing),
            Some(Standing::Settled(Fact {
                unit: unit.to_string(),
                day: day("2026-08-03"),
                figure: Figure::SupervisionReplyLate
            })),
            "a late second reply counts as late, in the period of its own due day"
        );
    }

    #[test]
    fn a_township_commitment_counts_in_the_period_it_was_assessed_in_and_no_other_kind_does() {
        let mut c = CommitmentFact {
            unit: "u".into(),
            assessed: None,
        };
        assert_eq!(
            Item::Commitment(c.clone()).standing(),
            None,
            "not assessed yet"
        );
        c.assessed = Some((Fulfilment::Breached, day("2027-02-03")));
        assert_eq!(
            Item::Commitment(c.clone()).standing(),
            Some(Standing::Settled(Fact {
                unit: "u".into(),
                day: day("2027-02-03"),
                figure: Figure::CommitmentBreached
            }))
        );
        c.assessed = Some((Fulfilment::Fulfilled, day("2027-02-03")));
        assert_eq!(
            Item::Commitment(c.clone()).standing().map(|s| match s {
                Standing::Settled(f) => f.figure,
                Standing::Owed(_) => unreachable!("a commitment owes nothing"),
            }),
            Some(Figure::CommitmentFulfilled)
        );
        c.assessed = Some((Fulfilment::PartiallyFulfilled, day("2027-02-03")));
        assert_eq!(Item::Commitment(c).standing(), None);

        let made = |kind| {
            let mut item = None;
            Item::apply_commitment(
                &mut item,
                CommitmentEvent::CommitmentMade {
                    subject_code: "914403001922038216".parse().unwrap(),
                    kind,
                    text: "t".into(),
                    due_date: None,
                    at: chrono::Utc::now(),
                },
            );
            item
        };
        assert!(made(CommitmentKind::TownshipPublic).is_some());
        assert_eq!(made(CommitmentKind::InvestmentPromise), None);
        assert_eq!(made(CommitmentKind::Repair), None);
    }
}
