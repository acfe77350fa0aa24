//! The deadline engine's actions: what the engine (`probity_deadlines`) does when a
//! deadline of the board passes or nears, as commands on the case's aggregate run
//! through its executor. The engine schedules; the application layer decides what
//! "overdue" and "remind" mean for each case kind and runs the command.
//!
//! [`complaint::register`], [`integrity::register`] and [`supervision::register`] add the actions to a
//! [`probity_deadlines::Registry`]; [`run_command`] runs one engine command and takes
//! the aggregate's typed "nothing to do" refusals as [`Outcome::Settled`].

pub mod complaint;
pub mod integrity;
pub mod supervision;

use probity_deadlines::Outcome;

/// The `actor` recorded in the metadata of the engine's commands.
pub const ACTOR: &str = "deadline-engine";

/// Runs an engine command on the case through `executor` (actor `deadline-engine`):
/// [`Outcome::Fired`] when it records an event, [`Outcome::Settled`] when the aggregate
/// refuses with one of the typed "nothing to do" errors `settled` names; any other error
/// is returned (logged by the engine, retried at the next tick).
#[tracing::instrument(name = "deadline_command", skip(executor, command, settled), fields(aggregate_type = A::TYPE))]
pub async fn run_command<A>(
    executor: &probity_store::Executor<A>,
    case_id: &str,
    command: A::Command,
    settled: fn(&A::Error) -> bool,
) -> anyhow::Result<Outcome>
where
    A: cqrs_es::Aggregate,
    A::Command: Clone,
    A::Error: std::error::Error + Send + Sync + 'static,
{
    let metadata = crate::system_metadata(ACTOR, "system");
    match executor.execute(case_id, command, None, metadata).await {
        Ok(_) => Ok(Outcome::Fired),
        Err(probity_store::ExecuteError::Domain(e)) if settled(&e) => {
            tracing::debug!(refusal = %e, "settled by the aggregate");
            Ok(Outcome::Settled)
        }
        Err(other) => Err(anyhow::Error::new(other)),
    }
}
