//! Process metrics in the Prometheus text format (served at `GET /metrics` by the HTTP
//! adapter), kept with the `metrics` facade's Prometheus exporter: commands by outcome
//! (counted here, on the command path of the application layer, whoever issued them),
//! personal-data reads, idempotent replays, the adapter's responses by status class, plus
//! what other components record through the facade (relay, partitions, projectors,
//! deadline engine, group committer, calendar watch) from samplers run just before each
//! rendering (ADR 0032). Every line of `/metrics` is the exporter's; none is written by hand.

use std::sync::{Arc, RwLock};

use metrics::{Counter, Key, KeyName, Label, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

/// A callback recording a component's values through the `metrics` facade
/// (`describe_counter!`, `counter!(..).absolute(..)`, `gauge!(..).set(..)`, ...); it runs
/// just before each rendering with this server's recorder in force (ADR 0032).
pub type MetricsSampler = Arc<dyn Fn() + Send + Sync>;

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
/// exposition `/metrics` serves; the registered samplers record into the same recorder
/// (through the facade, with [`Metrics::record`]) just before it renders.
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
    /// Samplers registered by other components.
    samplers: RwLock<Vec<MetricsSampler>>,
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
            samplers: RwLock::new(Vec::new()),
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

    /// Runs `f` with this server's recorder in force: the facade's macros (`counter!`,
    /// `gauge!`, `describe_*!`) called in it record here, not in the process-global
    /// recorder (handles they return keep recording here afterwards).
    pub fn record<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&self.recorder, f)
    }

    /// Adds a sampler, run (with this server's recorder in force) now and before every
    /// rendering, so its metrics are shown from the start.
    pub fn register(&self, sampler: MetricsSampler) {
        self.record(|| sampler());
        self.samplers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(sampler);
    }

    /// The Prometheus text exposition of every metric, after the registered samplers
    /// recorded their values.
    pub fn render(&self) -> String {
        {
            let samplers = self
                .samplers
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            self.record(|| samplers.iter().for_each(|sample| sample()));
        }
        self.handle.render()
    }
}

/// The metadata of every series (the Prometheus recorder does not filter on it).
static METADATA: metrics::Metadata<'static> =
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_should_count_responses_by_class_and_show_what_samplers_record() {
        let m = Metrics::new();
        m.record_response(201);
        m.record_response(404);
        m.record_response(404);
        m.record_command(CommandOutcome::VersionConflict);
        let lag = Arc::new(std::sync::atomic::AtomicU64::new(3));
        let sampled = lag.clone();
        m.register(Arc::new(move || {
            metrics::describe_gauge!("probity_bus_lag", "Bus lag.");
            metrics::gauge!("probity_bus_lag")
                .set(sampled.load(std::sync::atomic::Ordering::Relaxed) as f64);
        }));
        let text = m.render();
        assert!(text.contains("probity_http_responses_total{class=\"2xx\"} 1\n"));
        assert!(text.contains("probity_http_responses_total{class=\"4xx\"} 2\n"));
        assert!(text.contains("probity_commands_total{outcome=\"version_conflict\"} 1\n"));
        assert!(text.contains("probity_command_conflicts_total 1\n"));
        assert!(text.contains("# HELP probity_bus_lag Bus lag.\n"), "{text}");
        assert!(text.contains("# TYPE probity_bus_lag gauge\n"), "{text}");
        assert!(text.contains("probity_bus_lag 3\n"), "{text}");
        lag.store(5, std::sync::atomic::Ordering::Relaxed);
        assert!(m.render().contains("probity_bus_lag 5\n"));
    }

    #[test]
    fn it_should_keep_each_servers_values_apart_in_one_process() {
        let (one, two) = (Metrics::new(), Metrics::new());
        for (m, value) in [(&one, 1.0), (&two, 2.0)] {
            m.register(Arc::new(move || {
                metrics::gauge!("probity_relay_leader").set(value);
                metrics::counter!("probity_relay_published_total").absolute(value as u64);
            }));
        }
        one.record_response(200);
        // The facade outside `record` reaches the process-global recorder, not a server's.
        metrics::counter!("probity_relay_published_total").increment(10);
        let (a, b) = (one.render(), two.render());
        assert!(a.contains("probity_relay_leader 1\n"), "{a}");
        assert!(b.contains("probity_relay_leader 2\n"), "{b}");
        assert!(a.contains("probity_relay_published_total 1\n"), "{a}");
        assert!(b.contains("probity_relay_published_total 2\n"), "{b}");
        assert!(a.contains("probity_http_responses_total{class=\"2xx\"} 1\n"));
        assert!(b.contains("probity_http_responses_total{class=\"2xx\"} 0\n"));
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
