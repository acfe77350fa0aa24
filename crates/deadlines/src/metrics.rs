//! Counters of one engine, cheap to update, recorded for `/metrics` through the `metrics`
//! facade (ADR 0032).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Shared counters of a [`crate::DeadlineEngine`].
#[derive(Debug, Default)]
pub struct DeadlineMetrics {
    /// Overdue markings this engine recorded.
    pub fired_overdue: AtomicU64,
    /// Reminders this engine recorded.
    pub fired_due_soon: AtomicU64,
    /// Deadlines the aggregate refused as already done, no longer open or moved.
    pub settled: AtomicU64,
    /// Failed actions or queries (retried at the next tick).
    pub errors: AtomicU64,
    /// Ticks run.
    pub ticks: AtomicU64,
    /// How late the last tick started after it was due, in milliseconds.
    pub last_tick_lag_ms: AtomicI64,
    /// How long the last tick took, in milliseconds.
    pub last_tick_duration_ms: AtomicI64,
    /// When the last tick ended (Unix seconds, real time); 0 before the first.
    pub last_tick_unix: AtomicI64,
}

/// A plain copy of [`DeadlineMetrics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeadlineStats {
    /// Overdue markings recorded.
    pub fired_overdue: u64,
    /// Reminders recorded.
    pub fired_due_soon: u64,
    /// Deadlines settled by a refusal.
    pub settled: u64,
    /// Failures.
    pub errors: u64,
    /// Ticks run.
    pub ticks: u64,
    /// Start delay of the last tick.
    pub last_tick_lag_ms: i64,
    /// Duration of the last tick.
    pub last_tick_duration_ms: i64,
    /// End of the last tick, Unix seconds.
    pub last_tick_unix: i64,
}

impl DeadlineMetrics {
    /// A consistent-enough copy of the counters.
    pub fn snapshot(&self) -> DeadlineStats {
        DeadlineStats {
            fired_overdue: self.fired_overdue.load(Ordering::Relaxed),
            fired_due_soon: self.fired_due_soon.load(Ordering::Relaxed),
            settled: self.settled.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            ticks: self.ticks.load(Ordering::Relaxed),
            last_tick_lag_ms: self.last_tick_lag_ms.load(Ordering::Relaxed),
            last_tick_duration_ms: self.last_tick_duration_ms.load(Ordering::Relaxed),
            last_tick_unix: self.last_tick_unix.load(Ordering::Relaxed),
        }
    }

    /// Records the counters through the `metrics` facade, into the recorder in force
    /// (the server's, while it samples before rendering `/metrics`).
    pub fn record(&self) {
        use metrics::{counter, describe_counter, describe_gauge, gauge};
        let s = self.snapshot();
        describe_counter!(
            "probity_deadline_fired_total",
            "Deadline events this server's engine recorded."
        );
        describe_counter!(
            "probity_deadline_settled_total",
            "Deadlines the aggregate refused as already done, closed or moved."
        );
        describe_counter!(
            "probity_deadline_errors_total",
            "Failed deadline actions or reads (retried next tick)."
        );
        describe_counter!(
            "probity_deadline_ticks_total",
            "Ticks of the deadline engine."
        );
        describe_gauge!(
            "probity_deadline_tick_lag_milliseconds",
            "How late the last tick started."
        );
        describe_gauge!(
            "probity_deadline_tick_duration_milliseconds",
            "How long the last tick took."
        );
        describe_gauge!(
            "probity_deadline_last_tick_timestamp_seconds",
            "When the last tick ended (Unix time)."
        );
        counter!("probity_deadline_fired_total", "action" => "overdue").absolute(s.fired_overdue);
        counter!("probity_deadline_fired_total", "action" => "due_soon").absolute(s.fired_due_soon);
        counter!("probity_deadline_settled_total").absolute(s.settled);
        counter!("probity_deadline_errors_total").absolute(s.errors);
        counter!("probity_deadline_ticks_total").absolute(s.ticks);
        gauge!("probity_deadline_tick_lag_milliseconds").set(s.last_tick_lag_ms as f64);
        gauge!("probity_deadline_tick_duration_milliseconds").set(s.last_tick_duration_ms as f64);
        gauge!("probity_deadline_last_tick_timestamp_seconds").set(s.last_tick_unix as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_declared_once_and_sampled() {
        let m = DeadlineMetrics::default();
        m.fired_overdue.store(3, Ordering::Relaxed);
        let server = probity_app::Metrics::new();
        server.record(|| m.record());
        m.ticks.store(2, Ordering::Relaxed);
        server.record(|| m.record());
        let text = server.render();
        assert!(text.contains("probity_deadline_fired_total{action=\"overdue\"} 3\n"));
        assert!(text.contains("probity_deadline_ticks_total 2\n"), "{text}");
        for name in [
            "probity_deadline_fired_total",
            "probity_deadline_settled_total",
            "probity_deadline_errors_total",
            "probity_deadline_tick_lag_milliseconds",
        ] {
            assert_eq!(
                text.matches(&format!("# TYPE {name} ")).count(),
                1,
                "{name}"
            );
        }
    }
}
