//! Counters of one engine, cheap to update and to render for `/metrics`.

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

    /// Prometheus text exposition of the counters (HELP and TYPE once per metric).
    pub fn render(&self) -> String {
        let s = self.snapshot();
        format!(
            "# HELP probity_deadline_fired_total Deadline events this server's engine recorded.\n\
             # TYPE probity_deadline_fired_total counter\n\
             probity_deadline_fired_total{{action=\"overdue\"}} {}\n\
             probity_deadline_fired_total{{action=\"due_soon\"}} {}\n\
             # HELP probity_deadline_settled_total Deadlines the aggregate refused as already done, closed or moved.\n\
             # TYPE probity_deadline_settled_total counter\n\
             probity_deadline_settled_total {}\n\
             # HELP probity_deadline_errors_total Failed deadline actions or reads (retried next tick).\n\
             # TYPE probity_deadline_errors_total counter\n\
             probity_deadline_errors_total {}\n\
             # HELP probity_deadline_ticks_total Ticks of the deadline engine.\n\
             # TYPE probity_deadline_ticks_total counter\n\
             probity_deadline_ticks_total {}\n\
             # HELP probity_deadline_tick_lag_milliseconds How late the last tick started.\n\
             # TYPE probity_deadline_tick_lag_milliseconds gauge\n\
             probity_deadline_tick_lag_milliseconds {}\n\
             # HELP probity_deadline_tick_duration_milliseconds How long the last tick took.\n\
             # TYPE probity_deadline_tick_duration_milliseconds gauge\n\
             probity_deadline_tick_duration_milliseconds {}\n\
             # HELP probity_deadline_last_tick_timestamp_seconds When the last tick ended (Unix time).\n\
             # TYPE probity_deadline_last_tick_timestamp_seconds gauge\n\
             probity_deadline_last_tick_timestamp_seconds {}\n",
            s.fired_overdue,
            s.fired_due_soon,
            s.settled,
            s.errors,
            s.ticks,
            s.last_tick_lag_ms,
            s.last_tick_duration_ms,
            s.last_tick_unix,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_declared_once_and_sampled() {
        let m = DeadlineMetrics::default();
        m.fired_overdue.store(3, Ordering::Relaxed);
        let text = m.render();
        assert!(text.contains("probity_deadline_fired_total{action=\"overdue\"} 3\n"));
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
