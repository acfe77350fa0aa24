//! What to do when a deadline passes or nears: actions keyed by `(case_type, kind)`.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

/// Why the engine acts on a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Trigger {
    /// The due day has passed (`due < today`, Asia/Shanghai).
    Overdue,
    /// The due day is near: within the reminder window, not yet passed.
    DueSoon,
}

impl Trigger {
    /// The name stored in `deadline_firings.action` and used in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Overdue => "overdue",
            Self::DueSoon => "due_soon",
        }
    }
}

/// One open deadline the engine acts on, as read from `deadline_entries`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DueDeadline {
    /// Aggregate type of the case, e.g. `complaint`.
    pub case_type: String,
    /// Aggregate id of the case.
    pub case_id: String,
    /// Deadline kind, e.g. `complaint_sign`.
    pub kind: String,
    /// The due day as the board has it (it may lag the aggregate).
    pub due: NaiveDate,
    /// Why the engine acts.
    pub trigger: Trigger,
}

/// How an action ended when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The command was accepted: the event is recorded.
    Fired,
    /// The aggregate refused with a typed "nothing to do": already marked or reminded
    /// (by this or another server), no longer open, or the due day moved. Success.
    Settled,
}

impl Outcome {
    /// The name stored in `deadline_firings.outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fired => "fired",
            Self::Settled => "settled",
        }
    }
}

/// Issues the command for one deadline. Errors other than the typed refusals (which are
/// [`Outcome::Settled`]) are returned: the engine logs them and retries at the next tick.
#[async_trait::async_trait]
pub trait DeadlineAction: Send + Sync {
    /// Acts on `deadline` at `at` (the engine's now).
    async fn fire(&self, deadline: &DueDeadline, at: DateTime<Utc>) -> anyhow::Result<Outcome>;
}

type BoxedFuture = Pin<Box<dyn Future<Output = anyhow::Result<Outcome>> + Send>>;

struct FnAction<F>(F);

#[async_trait::async_trait]
impl<F> DeadlineAction for FnAction<F>
where
    F: Fn(DueDeadline, DateTime<Utc>) -> BoxedFuture + Send + Sync,
{
    async fn fire(&self, deadline: &DueDeadline, at: DateTime<Utc>) -> anyhow::Result<Outcome> {
        (self.0)(deadline.clone(), at).await
    }
}

/// An action from an async closure, e.g.
/// `action_fn(move |d, at| { let x = x.clone(); async move { … } })`.
pub fn action_fn<F, Fut>(f: F) -> Arc<dyn DeadlineAction>
where
    F: Fn(DueDeadline, DateTime<Utc>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<Outcome>> + Send + 'static,
{
    Arc::new(FnAction(move |d, at| -> BoxedFuture { Box::pin(f(d, at)) }))
}

/// The actions, keyed by `(case_type, kind)` and trigger.
#[derive(Clone, Default)]
pub struct Registry {
    actions: BTreeMap<(String, String, Trigger), Arc<dyn DeadlineAction>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.actions.keys()).finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Acts with `action` when a `(case_type, kind)` deadline is overdue (replaces an
    /// earlier registration).
    pub fn on_overdue(
        mut self,
        case_type: &str,
        kind: &str,
        action: Arc<dyn DeadlineAction>,
    ) -> Self {
        self.actions
            .insert((case_type.into(), kind.into(), Trigger::Overdue), action);
        self
    }

    /// Acts with `action` when a `(case_type, kind)` deadline is due soon.
    pub fn on_due_soon(
        mut self,
        case_type: &str,
        kind: &str,
        action: Arc<dyn DeadlineAction>,
    ) -> Self {
        self.actions
            .insert((case_type.into(), kind.into(), Trigger::DueSoon), action);
        self
    }

    /// The registered `(case_type, kind, trigger)` keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = (&str, &str, Trigger)> + '_ {
        self.actions
            .keys()
            .map(|(t, k, trigger)| (t.as_str(), k.as_str(), *trigger))
    }

    /// The action for one deadline, if registered.
    pub fn action(
        &self,
        case_type: &str,
        kind: &str,
        trigger: Trigger,
    ) -> Option<&Arc<dyn DeadlineAction>> {
        self.actions
            .get(&(case_type.to_string(), kind.to_string(), trigger))
    }
}
