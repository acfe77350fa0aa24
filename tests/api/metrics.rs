//! `/metrics`: every metric operators' dashboards use, by name, type and help, with its
//! labels, and each server's values its own when several run in one process.

use probity_tests::{Mode, TestApp};

crate::both_modes!(
    every_metric_is_served_with_its_type_and_help,
    two_servers_in_one_process_count_their_own_work,
);

/// (name, type, help) of the metrics every server serves.
const EVERY_SERVER: &[(&str, &str, &str)] = &[
    (
        "probity_http_responses_total",
        "counter",
        "HTTP responses by status class.",
    ),
    ("probity_commands_total", "counter", "Commands by outcome."),
    (
        "probity_command_conflicts_total",
        "counter",
        "Commands that hit a version or concurrency conflict.",
    ),
    (
        "probity_personal_data_reads_total",
        "counter",
        "Reads of personal data recorded in the access log.",
    ),
    (
        "probity_idempotent_replays_total",
        "counter",
        "Requests answered from a stored idempotent response.",
    ),
    (
        "probity_group_commit_batches_total",
        "counter",
        "Transactions the group committer wrote (rewrites after a conflict included).",
    ),
    (
        "probity_group_commit_appends_total",
        "counter",
        "Commands whose events the group committer committed.",
    ),
    (
        "probity_group_commit_conflicts_total",
        "counter",
        "Appends refused as optimistic-lock conflicts (then retried by their command).",
    ),
    (
        "probity_deadline_fired_total",
        "counter",
        "Deadline events this server's engine recorded.",
    ),
    (
        "probity_deadline_settled_total",
        "counter",
        "Deadlines the aggregate refused as already done, closed or moved.",
    ),
    (
        "probity_deadline_errors_total",
        "counter",
        "Failed deadline actions or reads (retried next tick).",
    ),
    (
        "probity_deadline_ticks_total",
        "counter",
        "Ticks of the deadline engine.",
    ),
    (
        "probity_deadline_tick_lag_milliseconds",
        "gauge",
        "How late the last tick started.",
    ),
    (
        "probity_deadline_tick_duration_milliseconds",
        "gauge",
        "How long the last tick took.",
    ),
    (
        "probity_deadline_last_tick_timestamp_seconds",
        "gauge",
        "When the last tick ended (Unix time).",
    ),
    (
        "probity_calendar_schedule_missing",
        "gauge",
        "1 while an official holiday schedule the servers need (this year, or next year from December) is not in force.",
    ),
    (
        "probity_debt_sweeps_total",
        "counter",
        "Debt-warning sweeps this server ran (it held the lease).",
    ),
    (
        "probity_debt_sweeps_skipped_total",
        "counter",
        "Ticks another server swept.",
    ),
    (
        "probity_projector_applied_total",
        "counter",
        "Events that changed a view.",
    ),
    (
        "probity_projector_redelivered_total",
        "counter",
        "Redeliveries already applied.",
    ),
    (
        "probity_projector_gaps_total",
        "counter",
        "Events that arrived before their predecessor.",
    ),
    (
        "probity_projector_errors_total",
        "counter",
        "Projector or transport errors.",
    ),
    (
        "probity_projector_lag_milliseconds",
        "gauge",
        "Recording-to-handling time of the last event.",
    ),
];

/// (name, type, help) of the metrics of a server on NATS (relay and partitions).
const ON_NATS: &[(&str, &str, &str)] = &[
    (
        "probity_relay_published_total",
        "counter",
        "Events the relay published to JetStream.",
    ),
    (
        "probity_relay_duplicates_total",
        "counter",
        "Re-publishes JetStream recognised as duplicates.",
    ),
    (
        "probity_relay_errors_total",
        "counter",
        "Failed relay batches.",
    ),
    (
        "probity_relay_checkpoint_position",
        "gauge",
        "Global position of the relay checkpoint.",
    ),
    (
        "probity_relay_lag_milliseconds",
        "gauge",
        "Recording-to-ack time of the last published event.",
    ),
    (
        "probity_relay_leader",
        "gauge",
        "1 when this server's relay holds the lock.",
    ),
    (
        "probity_partitions_held",
        "gauge",
        "Projection partitions this server consumes.",
    ),
    (
        "probity_partition_members",
        "gauge",
        "Live servers sharing the projection partitions.",
    ),
    (
        "probity_partitions_acquired_total",
        "counter",
        "Partitions this server took.",
    ),
    (
        "probity_partitions_released_total",
        "counter",
        "Partitions this server handed back or lost.",
    ),
];

async fn scrape(app: &TestApp) -> String {
    let r = app
        .client
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    r.text().await.unwrap()
}

/// The value of the sample `series` (name and labels as written), if served.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        line.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

/// Scrapes until `pred` holds of the text (at most 15 s), then returns the text.
async fn scrape_until(app: &TestApp, pred: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let text = scrape(app).await;
        if pred(&text) || std::time::Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn every_metric_is_served_with_its_type_and_help(mode: Mode) {
    let app = probity_tests::spawn_app(mode).await;
    let id = app.file("help").await;
    let path = format!("/api/v1/complaints/{id}");
    app.eventually(&path, &app.supervisor, |_| true).await;
    // The deadline engine ticks at start; its gauges are there from the first tick.
    let text = scrape_until(&app, |text| {
        sample(text, "probity_deadline_ticks_total").is_some_and(|ticks| ticks >= 1.0)
    })
    .await;
    let expected: Vec<_> = match mode {
        Mode::PostgresNats => EVERY_SERVER.iter().chain(ON_NATS).collect(),
        Mode::Embedded => EVERY_SERVER.iter().collect(),
    };
    for (name, kind, help) in expected {
        assert_eq!(
            text.matches(&format!("# TYPE {name} {kind}\n")).count(),
            1,
            "{name} is declared once as a {kind}: {text}"
        );
        assert_eq!(
            text.matches(&format!("# HELP {name} {help}\n")).count(),
            1,
            "{name} is described once: {text}"
        );
        assert!(
            text.lines()
                .any(|line| line.starts_with(&format!("{name} "))
                    || line.starts_with(&format!("{name}{{"))),
            "{name} has a sample: {text}"
        );
    }
    if mode == Mode::Embedded {
        for (name, _, _) in ON_NATS {
            assert!(!text.contains(name), "no {name} without NATS: {text}");
        }
    }
    // The labels dashboards select on.
    for series in [
        "probity_http_responses_total{class=\"1xx\"}",
        "probity_http_responses_total{class=\"5xx\"}",
        "probity_commands_total{outcome=\"ok\"}",
        "probity_commands_total{outcome=\"rejected\"}",
        "probity_commands_total{outcome=\"version_conflict\"}",
        "probity_commands_total{outcome=\"conflict\"}",
        "probity_commands_total{outcome=\"error\"}",
        "probity_deadline_fired_total{action=\"overdue\"}",
        "probity_deadline_fired_total{action=\"due_soon\"}",
        "probity_projector_applied_total{projector=\"complaints\"}",
        "probity_projector_redelivered_total{projector=\"complaints\"}",
        "probity_projector_gaps_total{projector=\"complaints\"}",
        "probity_projector_errors_total{projector=\"complaints\"}",
        "probity_projector_lag_milliseconds{projector=\"complaints\"}",
        // In March of a year with data no schedule is missing.
        "probity_calendar_schedule_missing",
    ] {
        assert!(sample(&text, series).is_some(), "{series}: {text}");
    }
    assert_eq!(
        sample(&text, "probity_calendar_schedule_missing"),
        Some(0.0),
        "{text}"
    );
    // The filing went through the command path and the group committer.
    assert!(
        sample(&text, "probity_commands_total{outcome=\"ok\"}").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        sample(&text, "probity_group_commit_appends_total").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        sample(&text, "probity_deadline_last_tick_timestamp_seconds").is_some_and(|t| t > 0.0),
        "{text}"
    );
    app.app.stop().await;
}

async fn two_servers_in_one_process_count_their_own_work(mode: Mode) {
    let busy = probity_tests::spawn_app(mode).await;
    let idle = probity_tests::spawn_app(mode).await;
    for _ in 0..3 {
        busy.file("help").await;
    }
    let text = scrape_until(&busy, |text| {
        sample(text, "probity_group_commit_appends_total").is_some_and(|n| n >= 3.0)
    })
    .await;
    assert!(
        sample(&text, "probity_commands_total{outcome=\"ok\"}").is_some_and(|n| n >= 3.0),
        "{text}"
    );
    let busy_appends = sample(&text, "probity_group_commit_appends_total").unwrap_or(0.0);
    assert!(busy_appends >= 3.0, "{text}");
    let idle_text = scrape(&idle).await;
    // The idle server committed no command: its counters are its own, not the busy one's.
    assert_eq!(
        sample(&idle_text, "probity_commands_total{outcome=\"ok\"}"),
        Some(0.0),
        "{idle_text}"
    );
    assert!(
        sample(&idle_text, "probity_group_commit_appends_total").is_some_and(|n| n < busy_appends),
        "{idle_text}"
    );
    if mode == Mode::PostgresNats {
        // Each server holds its own relay lock (separate streams and stores).
        let leaders = |text: &str| sample(text, "probity_relay_leader");
        let busy_text = scrape_until(&busy, |t| leaders(t) == Some(1.0)).await;
        let idle_text = scrape_until(&idle, |t| leaders(t) == Some(1.0)).await;
        assert_eq!(leaders(&busy_text), Some(1.0), "{busy_text}");
        assert_eq!(leaders(&idle_text), Some(1.0), "{idle_text}");
    }
    busy.app.stop().await;
    idle.app.stop().await;
}
