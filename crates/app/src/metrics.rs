//! Process metrics in the Prometheus text format (served at `GET /metrics` by the HTTP
//! adapter), kept with the `metrics` facade's Prometheus exporter: commands by outcome (counted here, on the command path of the application
//! layer, whoever issued them), personal-data reads, idempotent replays, the adapter's
//! responses by status class, plus gauges other components register (bus lag, projector
//! positions) as render callbacks.

use std::sync::{Arc, RwLock};

use metrics::{Counter, Key, KeyName, Label, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

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

/// Counters shared by every request, kept in a `metrics` Prometheus recorder of their own
/// (not the process-global one: several applications may share a test process), whose
/// exposition `/metrics` serves, followed by what the registered renderers add.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// Responses by status class: index 0 = 1xx ... 4 = 5xx.
    requests: [Counter; 5],
    /// Commands by outcome, indexed like `CommandOutcome::ALL`.
    commands: [Counter; 5],
    /// Version and concurrency conflicts together.
    conflicts: Counter,
    /// Personal-data reads recorded in the access log.
    personal_data_reads: Counter,
    /// Idempotent requests answered from a stored response.
    idempotent_replays: Counter,
    /// Extra renderers registered by other components.
    renderers: RwLock<Vec<MetricsRenderer>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

const HTTP_RESPONSES: &str = "probity_http_responses_total";
const COMMANDS: &str = "probity_commands_total";
const CONFLICTS: &str = "probity_command_conflicts_total";
const PERSONAL_DATA_READS: &str = "probity_personal_data_reads_total";
const IDEMPOTENT_REPLAYS: &str = "probity_idempotent_replays_total";

impl Metrics {
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let describe = |name: &'static str, help: &'static str| {
            recorder.describe_counter(KeyName::from_const_str(name), None, help.into());
        };
        describe(HTTP_RESPONSES, "HTTP responses by status class.");
        describe(COMMANDS, "Commands by outcome.");
        describe(
            CONFLICTS,
            "Commands that hit a version or concurrency conflict.",
        );
        describe(
            PERSONAL_DATA_READS,
            "Reads of personal data recorded in the access log.",
        );
        describe(
            IDEMPOTENT_REPLAYS,
            "Requests answered from a stored idempotent response.",
        );
        // Every series is registered up front, so each is shown (at 0) from the start.
        let counter = |name: &'static str, label: Option<(&'static str, String)>| {
            let key = match label {
                Some((k, v)) => Key::from_parts(name, vec![Label::new(k, v)]),
                None => Key::from_static_name(name),
            };
            recorder.register_counter(&key, &METADATA)
        };
        let requests = std::array::from_fn(|i| {
            counter(HTTP_RESPONSES, Some(("class", format!("{}xx", i + 1))))
        });
        let commands = std::array::from_fn(|i| {
            counter(
                COMMANDS,
                Some(("outcome", CommandOutcome::ALL[i].label().to_string())),
            )
        });
        Self {
            requests,
            commands,
            conflicts: counter(CONFLICTS, None),
            personal_data_reads: counter(PERSONAL_DATA_READS, None),
            idempotent_replays: counter(IDEMPOTENT_REPLAYS, None),
            renderers: RwLock::new(Vec::new()),
            recorder,
            handle,
        }
    }

    /// Counts one response with this status code.
    pub fn record_response(&self, status: u16) {
        let class = (status / 100).clamp(1, 5) as usize - 1;
        self.requests[class].increment(1);
    }

    /// Counts one command outcome.
    pub fn record_command(&self, outcome: CommandOutcome) {
        let i = CommandOutcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or(4);
        self.commands[i].increment(1);
        if matches!(
            outcome,
            CommandOutcome::VersionConflict | CommandOutcome::Conflict
        ) {
            self.conflicts.increment(1);
        }
    }

    /// Counts one recorded personal-data read.
    pub fn record_personal_data_read(&self) {
        self.personal_data_reads.increment(1);
    }

    /// Counts one idempotent replay.
    pub fn record_idempotent_replay(&self) {
        self.idempotent_replays.increment(1);
    }

    /// Adds a renderer whose output is appended to `/metrics`.
    pub fn register(&self, renderer: MetricsRenderer) {
        self.renderers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(renderer);
    }

    /// The Prometheus text exposition of every metric: the recorder's, then the
    /// registered renderers'.
    pub fn render(&self) -> String {
        // The recorder is kept alive for the handle (it owns the registry).
        let _ = &self.recorder;
        let mut out = self.handle.render();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
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

/// The metadata of every series (the Prometheus recorder does not filter on it).
static METADATA: metrics::Metadata<'static> =
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

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

    #[test]
    fn it_should_describe_every_counter_and_show_it_at_zero_from_the_start() {
        let text = Metrics::new().render();
        for (name, help) in [
            (
                "probity_http_responses_total",
                "HTTP responses by status class.",
            ),
            ("probity_commands_total", "Commands by outcome."),
            (
                "probity_command_conflicts_total",
                "Commands that hit a version or concurrency conflict.",
            ),
            (
                "probity_personal_data_reads_total",
                "Reads of personal data recorded in the access log.",
            ),
            (
                "probity_idempotent_replays_total",
                "Requests answered from a stored idempotent response.",
            ),
        ] {
            assert!(text.contains(&format!("# HELP {name} {help}\n")), "{text}");
            assert!(text.contains(&format!("# TYPE {name} counter\n")), "{text}");
        }
        assert!(text.contains("probity_http_responses_total{class=\"5xx\"} 0\n"));
        assert!(text.contains("probity_commands_total{outcome=\"error\"} 0\n"));
        assert!(text.contains("probity_personal_data_reads_total 0\n"));
    }
}
