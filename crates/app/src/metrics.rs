//! Process metrics in the Prometheus text format (served at `GET /metrics` by the HTTP
//! adapter): commands by outcome (counted here, on the command path of the application
//! layer, whoever issued them), personal-data reads, idempotent replays, the adapter's
//! responses by status class, plus gauges other components register (bus lag, projector
//! positions) as render callbacks.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// A callback rendering extra metric lines (complete with `# HELP`/`# TYPE`).
pub type MetricsRenderer = Arc<dyn Fn() -> String + Send + Sync>;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandOutcome {
    /// Committed.
    Ok,
    /// Refused by the domain rules (4xx).
    Rejected,
    /// `If-Match` was stale (412).
    VersionConflict,
    /// Concurrency conflicts survived the executor's retries (409 `conflict`).
    Conflict,
    /// A technical failure (500).
    Error,
}

impl CommandOutcome {
    const ALL: [CommandOutcome; 5] = [
        CommandOutcome::Ok,
        CommandOutcome::Rejected,
        CommandOutcome::VersionConflict,
        CommandOutcome::Conflict,
        CommandOutcome::Error,
    ];
    fn label(self) -> &'static str {
        match self {
            CommandOutcome::Ok => "ok",
            CommandOutcome::Rejected => "rejected",
            CommandOutcome::VersionConflict => "version_conflict",
            CommandOutcome::Conflict => "conflict",
            CommandOutcome::Error => "error",
        }
    }
}

/// Counters shared by every request.
#[derive(Default)]
pub struct Metrics {
    /// Responses by status class: index 0 = 1xx ... 4 = 5xx.
    requests: [AtomicU64; 5],
    /// Commands by outcome, indexed like `CommandOutcome::ALL`.
    commands: [AtomicU64; 5],
    /// Personal-data reads recorded in the access log.
    personal_data_reads: AtomicU64,
    /// Idempotent requests answered from a stored response.
    idempotent_replays: AtomicU64,
    /// Extra renderers registered by other components.
    renderers: RwLock<Vec<MetricsRenderer>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one response with this status code.
    pub fn record_response(&self, status: u16) {
        let class = (status / 100).clamp(1, 5) as usize - 1;
        self.requests[class].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one command outcome.
    pub fn record_command(&self, outcome: CommandOutcome) {
        let i = CommandOutcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or(4);
        self.commands[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one recorded personal-data read.
    pub fn record_personal_data_read(&self) {
        self.personal_data_reads.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one idempotent replay.
    pub fn record_idempotent_replay(&self) {
        self.idempotent_replays.fetch_add(1, Ordering::Relaxed);
    }

    /// Current count of commands with `outcome`.
    pub fn commands(&self, outcome: CommandOutcome) -> u64 {
        let i = CommandOutcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or(4);
        self.commands[i].load(Ordering::Relaxed)
    }

    /// Adds a renderer whose output is appended to `/metrics`.
    pub fn register(&self, renderer: MetricsRenderer) {
        self.renderers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(renderer);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP probity_http_responses_total HTTP responses by status class.\n");
        out.push_str("# TYPE probity_http_responses_total counter\n");
        for (i, counter) in self.requests.iter().enumerate() {
            let _ = writeln!(
                out,
                "probity_http_responses_total{{class=\"{}xx\"}} {}",
                i + 1,
                counter.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP probity_commands_total Commands by outcome.\n");
        out.push_str("# TYPE probity_commands_total counter\n");
        for (outcome, counter) in CommandOutcome::ALL.iter().zip(self.commands.iter()) {
            let _ = writeln!(
                out,
                "probity_commands_total{{outcome=\"{}\"}} {}",
                outcome.label(),
                counter.load(Ordering::Relaxed)
            );
        }
        out.push_str(
            "# HELP probity_command_conflicts_total Commands that hit a version or concurrency conflict.\n",
        );
        out.push_str("# TYPE probity_command_conflicts_total counter\n");
        let conflicts = self.commands(CommandOutcome::VersionConflict)
            + self.commands(CommandOutcome::Conflict);
        let _ = writeln!(out, "probity_command_conflicts_total {conflicts}");
        out.push_str("# HELP probity_personal_data_reads_total Reads of personal data recorded in the access log.\n");
        out.push_str("# TYPE probity_personal_data_reads_total counter\n");
        let _ = writeln!(
            out,
            "probity_personal_data_reads_total {}",
            self.personal_data_reads.load(Ordering::Relaxed)
        );
        out.push_str("# HELP probity_idempotent_replays_total Requests answered from a stored idempotent response.\n");
        out.push_str("# TYPE probity_idempotent_replays_total counter\n");
        let _ = writeln!(
            out,
            "probity_idempotent_replays_total {}",
            self.idempotent_replays.load(Ordering::Relaxed)
        );
        let renderers = self
            .renderers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for renderer in renderers.iter() {
            let extra = renderer();
            out.push_str(&extra);
            if !extra.is_empty() && !extra.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_should_count_responses_by_class_and_append_registered_gauges() {
        let m = Metrics::new();
        m.record_response(201);
        m.record_response(404);
        m.record_response(404);
        m.record_command(CommandOutcome::VersionConflict);
        m.register(Arc::new(|| {
            "# TYPE probity_bus_lag gauge\nprobity_bus_lag 3".to_string()
        }));
        let text = m.render();
        assert!(text.contains("probity_http_responses_total{class=\"2xx\"} 1\n"));
        assert!(text.contains("probity_http_responses_total{class=\"4xx\"} 2\n"));
        assert!(text.contains("probity_commands_total{outcome=\"version_conflict\"} 1\n"));
        assert!(text.contains("probity_command_conflicts_total 1\n"));
        assert!(text.ends_with("probity_bus_lag 3\n"));
    }
}
