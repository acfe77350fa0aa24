//! The complaint read model: what a case looks like to its readers, folded from the
//! complaint's events with no I/O.
//!
//! The same fold serves the projector (one event at a time onto the stored view), a
//! history read `as_of` a past instant (`from_stored`), and rebuild, so all three agree by
//! construction. The view never carries the reporter's identity, not even sealed: the
//! HTTP layer adds that block for the roles allowed to see it.

use chrono::{DateTime, NaiveDate, Utc};
use probity_domain::complaint::{
    Category, Channel, ClosedBecause, ComplaintEvent, ComplaintWireEvent, Status,
};

use crate::fold::Fold;
use serde::{Deserialize, Serialize};

/// Aggregate type name of complaints in the event log (defined once, in the domain).
pub use probity_domain::aggregate_type::COMPLAINT as COMPLAINT_TYPE;

/// One complaint as its readers see it. `version` is the sequence of the last event
/// folded in (the `If-Match` value of the next command).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ComplaintView {
    /// The complaint's aggregate id.
    pub id: String,
    /// Sequence of the last event applied: the value for `If-Match`.
    pub version: u64,
    /// Contract status name: received, accepted, declined, dispatched, in_progress,
    /// returned, replied, closed, merged.
    pub status: String,
    /// consultation, help, suggestion, complaint or report: decides the reply time limit.
    pub category: String,
    /// How the case came in: hotline, web, letter, visit, open311.
    pub channel: String,
    /// Credit code of the body complained about, when the reporter named one.
    pub subject_code: Option<String>,
    pub title: String,
    pub description: String,
    /// Credit code of the handling unit the case is dispatched to (none before dispatch
    /// and after a return).
    pub unit: Option<String>,
    /// When the hotline or form recorded the case; the list order.
    pub received_at: DateTime<Utc>,
    /// The unit must sign by the end of this working day (Asia/Shanghai).
    pub sign_due: Option<NaiveDate>,
    /// The unit must reply by the end of this working day (Asia/Shanghai).
    pub reply_due: Option<NaiveDate>,
    /// The last computed deadlines reached into a year without an official holiday
    /// schedule (weekends only), so they may still move.
    pub deadlines_provisional: bool,
    /// A deadline the unit still owes has passed (see [`ComplaintView::refresh_overdue`]);
    /// always recomputed for the reader's `today`.
    pub overdue: bool,
    /// The latest extension request and its decision (an undecided request is dropped
    /// when the reply is no longer owed, and every new dispatch starts without one).
    pub extension: Option<ExtensionView>,
    /// The case this one repeats, once merged.
    pub merged_into: Option<String>,
    /// The cases merged into this one (并单), in the order they were merged.
    #[serde(default)]
    pub merged_from: Vec<String>,
    /// Anonymous cases have no follow-up visit and close on reply.
    pub anonymous: bool,
    /// The unit's latest reply.
    pub reply: Option<String>,
    /// The reporter's satisfaction at the latest follow-up visit.
    pub satisfied: Option<bool>,
    /// How many times the case was supervised (督办) while overdue.
    pub supervision_count: u32,
    /// The deadline engine recorded that a deadline the unit owes passed (`SignOverdue`
    /// or `ReplyOverdue`) in the current handling round; a new dispatch, a return or a
    /// reopening clears it.
    #[serde(default)]
    pub overdue_marked: bool,
    /// An overdue reply (`ReplyOverdue`) put the case under supervision (督办): it counts
    /// against the unit and stays set.
    #[serde(default)]
    pub supervised: bool,
    /// Why the case closed: satisfied or anonymous_replied.
    pub closed_because: Option<String>,
    /// Time of the last event (its own `at`), not of the projection.
    pub updated_at: DateTime<Utc>,
}

/// The latest extension request of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExtensionView {
    /// pending, approved or denied.
    pub status: String,
    /// Working days the unit asked for.
    pub working_days: u32,
    /// The unit's reason.
    pub reason: String,
    /// The supervisor's note on the decision.
    pub note: Option<String>,
}

/// Contract name of a category.
pub fn category_name(category: Category) -> &'static str {
    match category {
        Category::Consultation => "consultation",
        Category::Help => "help",
        Category::Suggestion => "suggestion",
        Category::Complaint => "complaint",
        Category::Report => "report",
    }
}

/// Contract name of a channel.
pub fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Hotline => "hotline",
        Channel::Web => "web",
        Channel::Letter => "letter",
        Channel::Visit => "visit",
        Channel::Open311 => "open311",
    }
}

fn closed_because_name(because: ClosedBecause) -> &'static str {
    match because {
        ClosedBecause::Satisfied => "satisfied",
        ClosedBecause::AnonymousReplied => "anonymous_replied",
    }
}

/// Statuses in which the unit still owes its reply ([`Status::reply_open`]).
pub(crate) fn reply_open(status: &str) -> bool {
    Status::parse(status).is_some_and(Status::reply_open)
}

/// Status in which the unit still owes its signature ([`Status::sign_open`]).
pub(crate) fn sign_open(status: &str) -> bool {
    Status::parse(status).is_some_and(Status::sign_open)
}

impl ComplaintView {
    /// One fold step: the view after `event` (the aggregate's `sequence`-th).
    /// `ComplaintFiled` creates the view; any other event on no view leaves none.
    /// Written over either form of the reporter block (`P`): the view never reads it, so
    /// the stored events of a command's response and the wire events of the bus fold alike.
    pub fn apply<P>(
        view: Option<ComplaintView>,
        id: &str,
        sequence: u64,
        event: &ComplaintEvent<P>,
    ) -> Option<ComplaintView> {
        let mut v = match (view, event) {
            (None, ComplaintEvent::ComplaintFiled { .. }) => {
                return filed_view(id, sequence, event)
            }
            (Some(mut existing), ComplaintEvent::ComplaintFiled { .. }) => {
                // The aggregate refuses a second filing; should one appear anyway, the
                // first filing stands and only the version moves.
                existing.version = sequence;
                return Some(existing);
            }
            (None, _) => return None,
            (Some(v), _) => v,
        };
        v.version = sequence;
        let set_status = |v: &mut ComplaintView, s: Status| v.status = s.as_str().to_string();
        match event {
            // Handled above.
            ComplaintEvent::ComplaintFiled { .. } => {}
            ComplaintEvent::ComplaintAccepted { at } => {
                set_status(&mut v, Status::Accepted);
                v.updated_at = *at;
            }
            ComplaintEvent::ComplaintDeclined { reason: _, at } => {
                set_status(&mut v, Status::Declined);
                v.updated_at = *at;
            }
            ComplaintEvent::ComplaintDispatched {
                unit,
                sign_due,
                reply_due,
                at,
            } => {
                set_status(&mut v, Status::Dispatched);
                v.unit = Some(unit.as_str().to_string());
                v.sign_due = Some(sign_due.due);
                v.reply_due = Some(reply_due.due);
                v.deadlines_provisional = sign_due.provisional || reply_due.provisional;
                // A new dispatch starts a new handling round: an earlier round's
                // extension (and overdue marking) does not carry over.
                v.extension = None;
                v.overdue_marked = false;
                v.updated_at = *at;
            }
            ComplaintEvent::ComplaintSigned { unit: _, at } => {
                set_status(&mut v, Status::InProgress);
                v.updated_at = *at;
            }
            ComplaintEvent::ComplaintReturned {
                unit: _,
                reason: _,
                at,
            } => {
                // Back with intake for a new dispatch: no unit owns it and it owes no
                // deadline until then.
                set_status(&mut v, Status::Returned);
                v.unit = None;
                v.sign_due = None;
                v.reply_due = None;
                v.deadlines_provisional = false;
                v.overdue_marked = false;
                v.updated_at = *at;
            }
            ComplaintEvent::ExtensionRequested {
                unit: _,
                working_days,
                reason,
                at,
            } => {
                v.extension = Some(ExtensionView {
                    status: "pending".into(),
                    working_days: *working_days,
                    reason: reason.clone(),
                    note: None,
                });
                v.updated_at = *at;
            }
            ComplaintEvent::ExtensionApproved {
                note,
                reply_due,
                at,
            } => {
                if let Some(ext) = v.extension.as_mut() {
                    ext.status = "approved".into();
                    ext.note = Some(note.clone());
                }
                v.reply_due = Some(reply_due.due);
                // The sign deadline only still counts while the case is unsigned.
                v.deadlines_provisional =
                    reply_due.provisional || (sign_open(&v.status) && v.deadlines_provisional);
                v.updated_at = *at;
            }
            ComplaintEvent::ExtensionDenied { note, at } => {
                if let Some(ext) = v.extension.as_mut() {
                    ext.status = "denied".into();
                    ext.note = Some(note.clone());
                }
                v.updated_at = *at;
            }
            ComplaintEvent::ComplaintReplied {
                unit: _,
                content,
                at,
            } => {
                set_status(&mut v, Status::Replied);
                v.reply = Some(content.clone());
                v.updated_at = *at;
            }
            ComplaintEvent::FollowUpVisited {
                satisfied,
                comment: _,
                at,
            } => {
                v.satisfied = Some(*satisfied);
                v.updated_at = *at;
            }
            ComplaintEvent::ComplaintReopened { reply_due, at } => {
                set_status(&mut v, Status::InProgress);
                v.reply_due = Some(reply_due.due);
                v.deadlines_provisional = reply_due.provisional;
                v.overdue_marked = false;
                v.updated_at = *at;
            }
            ComplaintEvent::ComplaintClosed { because, at } => {
                set_status(&mut v, Status::Closed);
                v.closed_because = Some(closed_because_name(*because).to_string());
                v.updated_at = *at;
            }
            ComplaintEvent::ComplaintMerged { into, at } => {
                set_status(&mut v, Status::Merged);
                v.merged_into = Some(into.clone());
                v.updated_at = *at;
            }
            ComplaintEvent::ComplaintMergedIn { from, at } => {
                v.merged_from.push(from.clone());
                v.updated_at = *at;
            }
            ComplaintEvent::ComplaintSupervised { note: _, at } => {
                v.supervision_count += 1;
                // Supervision is only recorded on an overdue case.
                v.overdue = true;
                v.updated_at = *at;
            }
            // The view never carries the reporter: erasure (the key destroyed by the
            // writer) leaves every field as it was; only the version moves.
            ComplaintEvent::ReporterErased { .. } => {}
            // Recorded by the deadline engine once the due day has passed; the status
            // does not change (the act is still owed).
            ComplaintEvent::SignOverdue {
                unit: _,
                due: _,
                at,
            } => {
                v.overdue_marked = true;
                v.overdue = true;
                v.updated_at = *at;
            }
            ComplaintEvent::ReplyOverdue {
                unit: _,
                due: _,
                at,
            } => {
                v.overdue_marked = true;
                v.supervised = true;
                v.overdue = true;
                v.updated_at = *at;
            }
            // A reminder changes nothing a reader sees but the time of the last event.
            ComplaintEvent::DeadlineDueSoon { at, .. } => {
                v.updated_at = *at;
            }
            // Provisional deadlines counted again once their year's schedule was loaded:
            // the present ones replace the open ones and are final.
            ComplaintEvent::DeadlinesRecomputed {
                sign_due,
                reply_due,
                at,
            } => {
                if let Some(d) = sign_due {
                    v.sign_due = Some(d.due);
                }
                if let Some(d) = reply_due {
                    v.reply_due = Some(d.due);
                }
                // Still provisional only through an open deadline not recomputed here.
                v.deadlines_provisional = v.deadlines_provisional
                    && ((sign_due.is_none() && sign_open(&v.status))
                        || (reply_due.is_none() && reply_open(&v.status)));
                v.updated_at = *at;
            }
        }
        if !reply_open(&v.status) {
            v.overdue = false;
            // The aggregate drops an undecided extension request once the unit no longer
            // owes a reply (replied, returned, closed, merged): so does the view.
            if v.extension.as_ref().is_some_and(|e| e.status == "pending") {
                v.extension = None;
            }
        }
        Some(v)
    }

    /// Folds events `(sequence, event)` in order from nothing.
    pub fn from_events<'a, P: 'a>(
        id: &str,
        events: impl IntoIterator<Item = (u64, &'a ComplaintEvent<P>)>,
    ) -> Option<ComplaintView> {
        events.into_iter().fold(None, |view, (sequence, event)| {
            Self::apply(view, id, sequence, event)
        })
    }

    /// Recomputes `overdue` for the local date `today`: the reply deadline has passed
    /// while the reply is owed (dispatched or in progress), or the sign deadline has
    /// passed while the case is still unsigned (dispatched).
    pub fn refresh_overdue(&mut self, today: NaiveDate) {
        self.overdue = is_overdue(&self.status, self.sign_due, self.reply_due, today);
    }
}

impl Fold for ComplaintView {
    const AGGREGATE_TYPE: &'static str = COMPLAINT_TYPE;
    type Event = ComplaintWireEvent;

    fn apply(
        view: Option<Self>,
        id: &str,
        sequence: u64,
        event: &ComplaintWireEvent,
    ) -> Option<Self> {
        ComplaintView::apply(view, id, sequence, event)
    }
}

/// The overdue rule of the view, the list filter (in SQL, see `store`) and the deadline
/// board: the domain's [`probity_domain::complaint::is_overdue`] on the view's status.
pub(crate) fn is_overdue(
    status: &str,
    sign_due: Option<NaiveDate>,
    reply_due: Option<NaiveDate>,
    today: NaiveDate,
) -> bool {
    Status::parse(status).is_some_and(|status| {
        probity_domain::complaint::is_overdue(status, sign_due, reply_due, today)
    })
}

/// The fresh view a `ComplaintFiled` creates.
fn filed_view<P>(id: &str, sequence: u64, event: &ComplaintEvent<P>) -> Option<ComplaintView> {
    let ComplaintEvent::ComplaintFiled {
        category,
        channel,
        subject_code,
        title,
        description,
        anonymous,
        received_at,
        reporter: _,
    } = event
    else {
        return None;
    };
    Some(ComplaintView {
        id: id.to_string(),
        version: sequence,
        status: Status::Received.as_str().to_string(),
        category: category_name(*category).to_string(),
        channel: channel_name(*channel).to_string(),
        subject_code: subject_code.as_ref().map(|c| c.as_str().to_string()),
        title: title.clone(),
        description: description.clone(),
        unit: None,
        received_at: *received_at,
        sign_due: None,
        reply_due: None,
        deadlines_provisional: false,
        overdue: false,
        extension: None,
        merged_into: None,
        merged_from: Vec::new(),
        anonymous: *anonymous,
        reply: None,
        satisfied: None,
        supervision_count: 0,
        overdue_marked: false,
        supervised: false,
        closed_because: None,
        updated_at: *received_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use probity_domain::calendar::Deadline;
    use probity_domain::ids::CreditCode;
    use probity_domain::reporter::SealedReporter;
    use probity_store::StoredEvent;

    const UNIT: &str = "914403001922038216";

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
    }

    fn date(month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, month, day).unwrap()
    }

    fn unit() -> CreditCode {
        CreditCode::parse(UNIT).unwrap()
    }

    fn filed(anonymous: bool) -> ComplaintEvent {
        ComplaintEvent::ComplaintFiled {
            category: Category::Complaint,
            channel: Channel::Hotline,
            subject_code: Some(CreditCode::parse("91330100716105852F").unwrap()),
            title: "Permit delayed".into(),
            description: "The permit office missed its own deadline.".into(),
            anonymous,
            reporter: (!anonymous).then(|| SealedReporter {
                key_id: "k1".into(),
                ciphertext: "c2VjcmV0".into(),
            }),
            received_at: at(2, 1),
        }
    }

    fn dispatched(provisional: bool) -> ComplaintEvent {
        ComplaintEvent::ComplaintDispatched {
            unit: unit(),
            sign_due: Deadline {
                due: date(3, 3),
                provisional: false,
            },
            reply_due: Deadline {
                due: date(3, 23),
                provisional,
            },
            at: at(2, 3),
        }
    }

    fn fold(events: &[ComplaintEvent]) -> Option<ComplaintView> {
        ComplaintView::from_events(
            "c-1",
            events.iter().enumerate().map(|(i, e)| (i as u64 + 1, e)),
        )
    }

    fn handled() -> Vec<ComplaintEvent> {
        vec![
            filed(false),
            ComplaintEvent::ComplaintAccepted { at: at(2, 2) },
            dispatched(false),
            ComplaintEvent::ComplaintSigned {
                unit: unit(),
                at: at(3, 1),
            },
        ]
    }

    #[test]
    fn filing_creates_a_received_view_without_the_reporter() {
        let view = fold(&[filed(false)]).unwrap();
        assert_eq!(view.id, "c-1");
        assert_eq!(view.version, 1);
        assert_eq!(view.status, "received");
        assert_eq!(view.category, "complaint");
        assert_eq!(view.channel, "hotline");
        assert_eq!(view.subject_code.as_deref(), Some("91330100716105852F"));
        assert_eq!(view.title, "Permit delayed");
        assert_eq!(view.received_at, at(2, 1));
        assert_eq!(view.updated_at, at(2, 1));
        assert!(!view.anonymous);
        assert_eq!(view.unit, None);
        assert_eq!(view.supervision_count, 0);
        let json = serde_json::to_string(&view).unwrap();
        assert!(
            !json.contains("c2VjcmV0"),
            "the sealed reporter leaked: {json}"
        );
        assert!(!json.contains("reporter"));
    }

    #[test]
    fn an_event_before_filing_makes_no_view() {
        let accepted: ComplaintEvent = ComplaintEvent::ComplaintAccepted { at: at(2, 2) };
        assert_eq!(ComplaintView::apply(None, "c-1", 1, &accepted), None);
    }

    #[test]
    fn a_second_filing_keeps_the_first_and_moves_the_version() {
        let first = fold(&[filed(false)]).unwrap();
        let again = ComplaintView::apply(Some(first.clone()), "c-1", 2, &filed(true)).unwrap();
        assert_eq!(again.version, 2);
        assert!(!again.anonymous);
        assert_eq!(again.title, first.title);
    }

    #[test]
    fn accepting_and_declining_set_the_status() {
        let accepted = fold(&[
            filed(false),
            ComplaintEvent::ComplaintAccepted { at: at(2, 2) },
        ])
        .unwrap();
        assert_eq!(accepted.status, "accepted");
        assert_eq!(accepted.version, 2);
        assert_eq!(accepted.updated_at, at(2, 2));
        let declined = fold(&[
            filed(false),
            ComplaintEvent::ComplaintDeclined {
                reason: "not ours".into(),
                at: at(2, 5),
            },
        ])
        .unwrap();
        assert_eq!(declined.status, "declined");
        assert_eq!(declined.updated_at, at(2, 5));
    }

    #[test]
    fn dispatching_sets_the_unit_and_both_deadlines() {
        let view = fold(&handled()[..3]).unwrap();
        assert_eq!(view.status, "dispatched");
        assert_eq!(view.unit.as_deref(), Some(UNIT));
        assert_eq!(view.sign_due, Some(date(3, 3)));
        assert_eq!(view.reply_due, Some(date(3, 23)));
        assert!(!view.deadlines_provisional);
        let provisional = fold(&[filed(false), dispatched(true)]).unwrap();
        assert!(provisional.deadlines_provisional);
    }

    #[test]
    fn signing_puts_the_case_in_progress() {
        let view = fold(&handled()).unwrap();
        assert_eq!(view.status, "in_progress");
        assert_eq!(view.version, 4);
        assert_eq!(view.updated_at, at(3, 1));
    }

    #[test]
    fn returning_clears_the_unit_and_the_deadlines() {
        let mut events = handled();
        events.push(ComplaintEvent::ComplaintReturned {
            unit: unit(),
            reason: "misrouted".into(),
            at: at(3, 2),
        });
        let view = fold(&events).unwrap();
        assert_eq!(view.status, "returned");
        assert_eq!(view.unit, None);
        assert_eq!(view.sign_due, None);
        assert_eq!(view.reply_due, None);
    }

    #[test]
    fn an_extension_request_is_pending_until_decided() {
        let mut events = handled();
        events.push(ComplaintEvent::ExtensionRequested {
            unit: unit(),
            working_days: 5,
            reason: "site visit".into(),
            at: at(4, 1),
        });
        let pending = fold(&events).unwrap();
        assert_eq!(
            pending.extension,
            Some(ExtensionView {
                status: "pending".into(),
                working_days: 5,
                reason: "site visit".into(),
                note: None
            })
        );
        let mut approved = events.clone();
        approved.push(ComplaintEvent::ExtensionApproved {
            note: "ok".into(),
            reply_due: Deadline {
                due: date(3, 30),
                provisional: true,
            },
            at: at(4, 2),
        });
        let approved = fold(&approved).unwrap();
        let ext = approved.extension.unwrap();
        assert_eq!(ext.status, "approved");
        assert_eq!(ext.note.as_deref(), Some("ok"));
        assert_eq!(approved.reply_due, Some(date(3, 30)));
        assert!(approved.deadlines_provisional);

        let mut denied = events;
        denied.push(ComplaintEvent::ExtensionDenied {
            note: "no".into(),
            at: at(4, 2),
        });
        let denied = fold(&denied).unwrap();
        assert_eq!(denied.extension.unwrap().status, "denied");
        assert_eq!(denied.reply_due, Some(date(3, 23)));
    }

    #[test]
    fn a_reply_makes_an_undecided_extension_request_moot() {
        let mut events = handled();
        events.push(ComplaintEvent::ExtensionRequested {
            unit: unit(),
            working_days: 5,
            reason: "site visit".into(),
            at: at(4, 1),
        });
        events.push(ComplaintEvent::ComplaintReplied {
            unit: unit(),
            content: "Fixed.".into(),
            at: at(4, 2),
        });
        assert_eq!(fold(&events).unwrap().extension, None);
    }

    #[test]
    fn a_decided_extension_stays_on_the_closed_case() {
        let mut events = handled();
        events.push(ComplaintEvent::ExtensionRequested {
            unit: unit(),
            working_days: 5,
            reason: "site visit".into(),
            at: at(4, 1),
        });
        events.push(ComplaintEvent::ExtensionDenied {
            note: "no".into(),
            at: at(4, 2),
        });
        events.push(ComplaintEvent::ComplaintReplied {
            unit: unit(),
            content: "Fixed.".into(),
            at: at(4, 3),
        });
        assert_eq!(fold(&events).unwrap().extension.unwrap().status, "denied");
    }

    #[test]
    fn a_new_dispatch_forgets_the_previous_extension() {
        let mut events = handled();
        events.push(ComplaintEvent::ExtensionRequested {
            unit: unit(),
            working_days: 5,
            reason: "site visit".into(),
            at: at(4, 1),
        });
        events.push(ComplaintEvent::ComplaintReturned {
            unit: unit(),
            reason: "misrouted".into(),
            at: at(4, 2),
        });
        events.push(dispatched(false));
        let view = fold(&events).unwrap();
        assert_eq!(view.extension, None);
        assert_eq!(view.status, "dispatched");
    }

    #[test]
    fn a_satisfied_visit_closes_the_case() {
        let mut events = handled();
        events.push(ComplaintEvent::ComplaintReplied {
            unit: unit(),
            content: "Fixed.".into(),
            at: at(5, 1),
        });
        let replied = fold(&events).unwrap();
        assert_eq!(replied.status, "replied");
        assert_eq!(replied.reply.as_deref(), Some("Fixed."));
        events.push(ComplaintEvent::FollowUpVisited {
            satisfied: true,
            comment: "thanks".into(),
            at: at(6, 1),
        });
        events.push(ComplaintEvent::ComplaintClosed {
            because: ClosedBecause::Satisfied,
            at: at(6, 1),
        });
        let closed = fold(&events).unwrap();
        assert_eq!(closed.status, "closed");
        assert_eq!(closed.satisfied, Some(true));
        assert_eq!(closed.closed_because.as_deref(), Some("satisfied"));
        assert_eq!(closed.version, 7);
    }

    #[test]
    fn an_anonymous_case_closes_on_reply() {
        let events = vec![
            filed(true),
            dispatched(false),
            ComplaintEvent::ComplaintReplied {
                unit: unit(),
                content: "Done.".into(),
                at: at(5, 1),
            },
            ComplaintEvent::ComplaintClosed {
                because: ClosedBecause::AnonymousReplied,
                at: at(5, 1),
            },
        ];
        let view = fold(&events).unwrap();
        assert!(view.anonymous);
        assert_eq!(view.status, "closed");
        assert_eq!(view.closed_because.as_deref(), Some("anonymous_replied"));
        assert_eq!(view.satisfied, None);
    }

    #[test]
    fn an_unsatisfied_visit_reopens_with_a_new_reply_deadline() {
        let mut events = handled();
        events.push(ComplaintEvent::ComplaintReplied {
            unit: unit(),
            content: "Fixed.".into(),
            at: at(5, 1),
        });
        events.push(ComplaintEvent::FollowUpVisited {
            satisfied: false,
            comment: "not fixed".into(),
            at: at(6, 1),
        });
        events.push(ComplaintEvent::ComplaintReopened {
            reply_due: Deadline {
                due: date(3, 20),
                provisional: false,
            },
            at: at(6, 1),
        });
        let view = fold(&events).unwrap();
        assert_eq!(view.status, "in_progress");
        assert_eq!(view.satisfied, Some(false));
        assert_eq!(view.reply_due, Some(date(3, 20)));
        assert_eq!(view.reply.as_deref(), Some("Fixed."));
    }

    #[test]
    fn merging_names_the_surviving_case() {
        let view = fold(&[
            filed(false),
            ComplaintEvent::ComplaintMerged {
                into: "c-0".into(),
                at: at(2, 4),
            },
        ])
        .unwrap();
        assert_eq!(view.status, "merged");
        assert_eq!(view.merged_into.as_deref(), Some("c-0"));
        assert!(!view.overdue);
    }

    #[test]
    fn an_erasure_moves_only_the_version() {
        let events = handled();
        let before = fold(&events).unwrap();
        let mut erased = events.clone();
        erased.push(ComplaintEvent::ReporterErased {
            key_id: "k".into(),
            reason: "request".into(),
            at: at(27, 1),
        });
        let after = fold(&erased).unwrap();
        assert_eq!(after.version, before.version + 1);
        assert_eq!(
            ComplaintView {
                version: before.version,
                ..after
            },
            before
        );
    }

    #[test]
    fn supervision_is_counted() {
        let mut events = handled();
        for day in [25, 26] {
            events.push(ComplaintEvent::ComplaintSupervised {
                note: "hurry".into(),
                at: at(day, 1),
            });
        }
        let view = fold(&events).unwrap();
        assert_eq!(view.supervision_count, 2);
        assert!(view.overdue);
        assert_eq!(view.updated_at, at(26, 1));
    }

    #[test]
    fn overdue_markings_flag_the_case_and_an_overdue_reply_puts_it_under_supervision() {
        let mut events = handled()[..3].to_vec();
        events.push(ComplaintEvent::DeadlineDueSoon {
            kind: probity_domain::complaint::DeadlineKind::Sign,
            due: date(3, 3),
            at: at(2, 5),
        });
        let reminded = fold(&events).unwrap();
        assert!(!reminded.overdue_marked && !reminded.supervised);
        assert_eq!(
            (
                reminded.version,
                reminded.updated_at,
                reminded.status.as_str()
            ),
            (4, at(2, 5), "dispatched")
        );
        events.push(ComplaintEvent::SignOverdue {
            unit: unit(),
            due: date(3, 3),
            at: at(4, 1),
        });
        let sign_late = fold(&events).unwrap();
        assert!(sign_late.overdue_marked && sign_late.overdue);
        assert!(!sign_late.supervised, "a late signature alone is not 督办");
        assert_eq!(sign_late.status, "dispatched");
        events.push(ComplaintEvent::ComplaintSigned {
            unit: unit(),
            at: at(5, 1),
        });
        events.push(ComplaintEvent::ReplyOverdue {
            unit: unit(),
            due: date(3, 23),
            at: at(24, 1),
        });
        let reply_late = fold(&events).unwrap();
        assert!(reply_late.overdue_marked && reply_late.supervised);
        assert_eq!(
            (reply_late.status.as_str(), reply_late.updated_at),
            ("in_progress", at(24, 1))
        );
        events.push(ComplaintEvent::ComplaintReturned {
            unit: unit(),
            reason: "misrouted".into(),
            at: at(25, 1),
        });
        let returned = fold(&events).unwrap();
        assert!(!returned.overdue_marked, "a return ends the round");
        assert!(returned.supervised, "the supervision stays on record");
    }

    #[test]
    fn a_stored_view_without_the_marking_flags_still_loads() {
        let view = fold(&handled()).unwrap();
        let mut doc = serde_json::to_value(&view).unwrap();
        let map = doc.as_object_mut().unwrap();
        map.remove("overdue_marked");
        map.remove("supervised");
        let back: ComplaintView = serde_json::from_value(doc).unwrap();
        assert_eq!(back, view);
    }

    #[test]
    fn overdue_follows_the_open_deadline_of_the_status() {
        let mut dispatched_view = fold(&handled()[..3]).unwrap();
        // Sign due 3 Mar, reply due 23 Mar.
        dispatched_view.refresh_overdue(date(3, 3));
        assert!(
            !dispatched_view.overdue,
            "the due day itself is not overdue"
        );
        dispatched_view.refresh_overdue(date(3, 4));
        assert!(dispatched_view.overdue, "unsigned after the sign deadline");

        let mut signed = fold(&handled()).unwrap();
        signed.refresh_overdue(date(3, 4));
        assert!(
            !signed.overdue,
            "the sign deadline no longer counts once signed"
        );
        signed.refresh_overdue(date(3, 24));
        assert!(signed.overdue);

        let mut events = handled();
        events.push(ComplaintEvent::ComplaintReplied {
            unit: unit(),
            content: "Fixed.".into(),
            at: at(5, 1),
        });
        let mut replied = fold(&events).unwrap();
        replied.refresh_overdue(date(12, 1));
        assert!(!replied.overdue, "a replied case owes nothing");
    }

    #[test]
    fn a_stored_filing_folds_through_its_wire_form_and_ciphertext_never_decodes_as_wire() {
        let mut payload = serde_json::to_value(filed(false)).unwrap();
        payload["ComplaintFiled"]["reporter"] =
            serde_json::json!({"key_id": "k1", "ciphertext": "AAAA"});
        let wire = StoredEvent::wire_payload(&payload);
        let event: ComplaintWireEvent = crate::fold::decode_wire(COMPLAINT_TYPE, &wire).unwrap();
        assert!(matches!(
            event,
            ComplaintEvent::ComplaintFiled { reporter: Some(ref r), .. }
                if *r == probity_domain::wire::Redacted::of("k1")
        ));
        assert!(
            crate::fold::decode_wire::<ComplaintWireEvent>(COMPLAINT_TYPE, &payload).is_err(),
            "a sealed block with its ciphertext is not the wire form"
        );
        let stored = |sequence: i64, payload: serde_json::Value| StoredEvent {
            position: sequence,
            tx_id: sequence,
            aggregate_type: COMPLAINT_TYPE.into(),
            aggregate_id: "c-1".into(),
            sequence,
            event_type: "x".into(),
            event_version: "1".into(),
            payload,
            metadata: serde_json::json!({}),
            recorded_at: at(2, 1),
        };
        let events = vec![
            stored(1, payload),
            stored(
                2,
                serde_json::to_value(ComplaintEvent::<SealedReporter>::ComplaintAccepted {
                    at: at(2, 2),
                })
                .unwrap(),
            ),
        ];
        let view = ComplaintView::from_stored("c-1", &events).unwrap().unwrap();
        assert_eq!(view.status, "accepted");
        assert_eq!(view.version, 2);
        assert!(ComplaintView::from_stored("c-1", &events[..0])
            .unwrap()
            .is_none());
        let broken = vec![stored(1, serde_json::json!({"Nope": {}}))];
        assert!(ComplaintView::from_stored("c-1", &broken).is_err());
    }
}
