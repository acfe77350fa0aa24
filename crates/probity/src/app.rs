//! Wiring: the store, the application layer ([`probity_app::App`]), the bus (NATS relay
//! and consumers, or the in-process bus), the projectors, the deadline engine and the
//! HTTP server (the JSON API and Open311), started together and stopped together.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use probity_domain::access::AccessLog;
use probity_domain::complaint::{Complaint, ComplaintServices};
use probity_store::{Db, EventLog, Executor, KeyStore, Projector};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::settings::Settings;

/// A started server: its address, the first admin token when the store was new, and the
/// handle that stops it.
pub struct RunningApp {
    pub addr: SocketAddr,
    /// Printed once by `probity serve` on a new store.
    pub first_admin_token: Option<String>,
    pub db: Db,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningApp {
    /// The base URL, e.g. `http://127.0.0.1:8080`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A token that is cancelled when the app stops.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops accepting requests, lets in-flight ones finish, stops the relay and the
    /// projectors, and waits for all of them (at most 10 s).
    pub async fn stop(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }

    /// Waits until the server stops by itself (after the shutdown token is cancelled).
    pub async fn wait(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Opens the store the settings name: Postgres when a URL is given, else SQLite.
pub async fn open_db(settings: &Settings) -> anyhow::Result<Db> {
    let db = match &settings.database_url {
        Some(url) => Db::connect_postgres(url.expose())
            .await
            .context("connecting to Postgres (DATABASE_URL)")?,
        None => Db::open_sqlite(&settings.data_dir).await.with_context(|| {
            format!(
                "opening the embedded store in {}",
                settings.data_dir.display()
            )
        })?,
    };
    db.set_group_commit(settings.policy.store.group_commit);
    // Every event recorded on a shifted clock says so (issue 10, item 12).
    db.set_clock_offset(settings.clock_offset);
    Ok(db)
}

/// Starts everything on `listener` and returns at once; the server runs in background
/// tasks until [`RunningApp::stop`].
pub async fn start(settings: &Settings, listener: TcpListener) -> anyhow::Result<RunningApp> {
    let db = open_db(settings).await?;
    if let Some(offset) = db.clock_offset() {
        tracing::warn!(
            clock_offset = %offset,
            "{}",
            probity_http::ops::clock_offset_warning(&offset)
        );
    }
    let addr = listener.local_addr().context("reading the bound address")?;
    let shutdown = CancellationToken::new();
    let mut tasks = Vec::new();

    // A migration that added a view to a database with projected views asks for a
    // rebuild (the projectors' positions would otherwise skip the events already
    // applied): done here, before anything projects or serves.
    let requested = probity_views::rebuild_requested(&db)
        .await
        .context("reading the view rebuild requests")?;
    if !requested.is_empty() {
        tracing::warn!(reasons = ?requested, "rebuilding the views before serving");
        let started = std::time::Instant::now();
        let events = probity_views::rebuild(&EventLog::new(db.clone()), &db, &|_, _| {})
            .await
            .context("rebuilding the views a migration asked for")?;
        tracing::warn!(
            events,
            seconds = started.elapsed().as_secs_f64(),
            "views rebuilt"
        );
    }

    let first_admin_token = if probity_app::count_tokens(&db)
        .await
        .context("counting tokens")?
        == 0
    {
        Some(
            probity_app::create_token_expiring(
                &db,
                probity_app::Role::Admin,
                None,
                Some("first admin".into()),
                settings.policy.tokens.default_lifetime()?,
            )
            .await
            .context("creating the first admin token")?
            .token,
        )
    } else {
        None
    };

    let log = EventLog::new(db.clone());
    // The shipped years plus every loaded one; a year loaded later counts after a restart.
    let calendar = Arc::new(
        crate::calendar::calendar_in_force(&db)
            .await
            .context("reading the calendar in force")?,
    );
    let complaints = Arc::new(Executor::<Complaint>::new(
        db.clone(),
        ComplaintServices {
            calendar: calendar.clone(),
            limits: settings.policy.time_limits.clone(),
        },
    ));
    let access = Arc::new(Executor::<AccessLog>::new(db.clone(), ()));
    // Each applied event is a span in the trace of its command (ADR 0027).
    let projectors: Vec<Arc<dyn Projector>> = probity_views::projectors(&db)
        .into_iter()
        .map(probity_store::trace::traced)
        .collect();

    // The bus: NATS JetStream with the relay, or the in-process bus.
    let mut samplers: Vec<probity_app::MetricsSampler> = Vec::new();
    let mut feeds = Vec::new();
    let nats = match &settings.nats_url {
        Some(url) => {
            // One URL or several seed URLs of a cluster (the client learns the others).
            let servers = probity_bus::parse_server_list(url).context("NATS_URL")?;
            let client = async_nats::ConnectOptions::new()
                .retry_on_initial_connect()
                .connect(servers)
                .await
                .with_context(|| format!("connecting to NATS at {url}"))?;
            let bus = &settings.policy.bus;
            // Not the client's 10 s request timeout: a JetStream API request or publish
            // sent while a leader is elected after a node loss gets no answer at all, and
            // the retry (which then succeeds) would come only when it expires.
            let mut js = async_nats::jetstream::new(client.clone());
            js.set_timeout(bus.request_timeout());
            let cfg = bus.bus_config(&settings.nats_prefix)?;
            // A cluster started a moment ago answers only once it has elected its
            // leaders: wait for it rather than exit (deploy/local/up after down).
            probity_bus::ensure_stream_patiently(&js, &cfg, STREAM_START_PATIENCE)
                .await
                .context("creating the JetStream streams")?;
            let relay = probity_bus::Relay::new(log.clone(), js.clone(), cfg.clone());
            samplers.push(relay_sampler(relay.metrics()));
            let token = shutdown.clone();
            tasks.push(tokio::spawn(async move {
                if let Err(error) = relay.run(token).await {
                    tracing::error!(%error, "the relay stopped");
                }
            }));
            if cfg.partitions > 0 {
                // Partitions shared with the other servers (ADR 0026).
                let shared: Vec<_> = projectors
                    .iter()
                    .map(|projector| {
                        let metrics = Arc::new(probity_bus::ProjectorMetrics::default());
                        feeds.push((projector.name(), metrics.clone()));
                        (projector.clone(), metrics)
                    })
                    .collect();
                let partitioned =
                    probity_bus::PartitionedProjection::new(db.clone(), js.clone(), cfg, shared)
                        .with_consumer_options(bus.consumer_options())
                        .with_lease_options(bus.lease_options());
                samplers.push(partitions_sampler(partitioned.metrics()));
                let token = shutdown.clone();
                tasks.push(tokio::spawn(async move {
                    if let Err(error) = partitioned.run(token).await {
                        tracing::error!(%error, "the partitioned projection stopped");
                    }
                }));
            } else {
                for projector in &projectors {
                    let name = projector.name();
                    let feed =
                        probity_bus::NatsProjector::new(js.clone(), cfg.clone(), projector.clone())
                            .with_options(bus.consumer_options());
                    feeds.push((name, feed.metrics()));
                    let token = shutdown.clone();
                    tasks.push(tokio::spawn(async move {
                        if let Err(error) = feed.run(token).await {
                            tracing::error!(%error, projector = name, "a projector stopped");
                        }
                    }));
                }
            }
            Some(client)
        }
        None => {
            for projector in &projectors {
                let name = projector.name();
                let feed = probity_bus::LocalProjector::new(log.clone(), projector.clone());
                feeds.push((name, feed.metrics()));
                let token = shutdown.clone();
                tasks.push(tokio::spawn(async move {
                    if let Err(error) = feed.run(token).await {
                        tracing::error!(%error, projector = name, "a projector stopped");
                    }
                }));
            }
            None
        }
    };

    // Tamper evidence: seal every committed event into the hash chain; sign its head now
    // and then when a key is configured.
    {
        let sealer = probity_audit::Sealer::new(log.clone());
        let token = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(error) = sealer.run(token).await {
                tracing::error!(%error, "the audit sealer stopped");
            }
        }));
    }
    if let Some(path) = &settings.audit_key {
        let key = probity_audit::load_signing_key(path)
            .with_context(|| format!("reading the audit signing key {}", path.display()))?;
        let signer = probity_audit::Signer::new(
            db.clone(),
            key,
            settings.audit_sign_interval,
            nats.clone()
                .map(|client| (client, settings.nats_prefix.clone())),
        );
        let token = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(error) = signer.run(token).await {
                tracing::error!(%error, "the audit signer stopped");
            }
        }));
    }

    // The integrity aggregates (records, rectifications, repairs, objections, ...).
    let integrity_services = probity_domain::integrity::IntegrityServices {
        calendar: calendar.clone(),
        policy: settings.policy.integrity.clone(),
    };
    let integrity = Arc::new(probity_app::IntegrityCommands::new(
        db.clone(),
        integrity_services.clone(),
    ));

    // Deadlines: mark passed ones overdue and remind near ones, on the server's clock.
    {
        let clock = probity_app::Clock::new(settings.clock_offset);
        let deadlines = &settings.policy.deadlines;
        let engine = probity_deadlines::DeadlineEngine::new(
            db.clone(),
            probity_app::deadlines::supervision::register(
                probity_app::deadlines::integrity::register(
                    probity_app::deadlines::complaint::register(
                        probity_deadlines::Registry::new(),
                        complaints.clone(),
                    ),
                    integrity.records.clone(),
                    integrity.rectifications.clone(),
                    integrity.repairs.clone(),
                    integrity.objections.clone(),
                ),
                integrity.supervision_items.clone(),
            ),
            calendar.clone(),
            Arc::new(move || clock.now()),
            probity_deadlines::EngineConfig {
                tick: deadlines.tick(),
                reminder_working_days: deadlines.reminder_working_days,
                ..probity_deadlines::EngineConfig::default()
            },
        );
        let metrics = engine.metrics();
        samplers.push(Arc::new(move || metrics.record()));
        tasks.push(tokio::spawn(engine.run(shutdown.clone())));
    }

    // Tell the operator, once a day, when a holiday schedule the deadlines need is missing.
    let schedule_watch = Arc::new(crate::calendar::ScheduleWatchState::default());
    {
        let clock = probity_http::Clock::new(settings.clock_offset);
        tasks.push(tokio::spawn(crate::calendar::watch_schedule(
            db.clone(),
            calendar.clone(),
            Arc::new(move || clock.now()),
            schedule_watch.clone(),
            crate::calendar::SCHEDULE_WATCH_INTERVAL,
            shutdown.clone(),
        )));
        let watch = schedule_watch.clone();
        samplers.push(Arc::new(move || watch.record()));
        let db = db.clone();
        samplers.push(Arc::new(move || db.group_commit_stats().record()));
    }

    let readiness = Arc::new(Readiness {
        schedule_watch,
        db: db.clone(),
        nats,
        projectors: projectors
            .iter()
            .map(|p| (p.name(), p.aggregate_types()))
            .collect(),
        max_lag: settings.policy.http.max_projection_lag(),
    });
    let app = probity_app::App::new(probity_app::AppParts {
        db: db.clone(),
        log,
        keys: KeyStore::new(db.clone()),
        complaints,
        access,
        calendar,
        clock: probity_app::Clock::new(settings.clock_offset),
        integrity,
    });
    // §13 debt risk warnings: re-evaluate every government with a debt record or a
    // raised warning on the server's clock, once per deadline tick across the servers on
    // this store (the store lease `debt-warning-sweep`; ADR 0028, ADR 0034).
    {
        let app = app.clone();
        let token = shutdown.clone();
        let tick = settings.policy.deadlines.tick();
        use std::sync::atomic::Ordering;
        let metrics = Arc::new(DebtSweepMetrics::default());
        samplers.push(debt_sweep_sampler(metrics.clone()));
        tasks.push(tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = interval.tick() => {}
                }
                match app.sweep_debt_warnings_once(tick).await {
                    Ok(Some(sweep)) => {
                        metrics.swept.fetch_add(1, Ordering::Relaxed);
                        if sweep.raised + sweep.cleared > 0 {
                            tracing::info!(
                                evaluated = sweep.evaluated,
                                raised = sweep.raised,
                                cleared = sweep.cleared,
                                "debt warnings re-evaluated"
                            )
                        }
                    }
                    Ok(None) => {
                        metrics.skipped.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(error) => tracing::warn!(%error, "the debt warning sweep failed"),
                }
            }
        }));
    }
    let state = probity_http::AppState::new(probity_http::AppParts {
        app,
        config: probity_http::HttpConfig {
            body_limit_bytes: settings.policy.http.body_limit_bytes,
            max_projection_lag: settings.policy.http.max_projection_lag(),
            public_rate_limit: settings.policy.http.public_rate_limit(),
        },
        readiness,
        assessment: settings.policy.assessment.clone(),
    });
    samplers.push(projectors_sampler(feeds));
    for sampler in samplers {
        state.metrics.register(sampler);
    }
    // The JSON API, Open311 GeoReport v2 under /open311/v2/ and the pages at / over the
    // same state (the API's router keeps the fallback: a path of none is its 404).
    let router = probity_http::router(state.clone())
        .merge(probity_open311::router(state.clone()))
        .merge(probity_web::router(state));
    let token = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        // The peer's address reaches the handlers (the public rate limit is per client).
        let server = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            token.cancelled().await;
        });
        if let Err(error) = server.await {
            tracing::error!(%error, "http server stopped with an error");
        }
    }));
    tracing::info!(%addr, backend = ?db.backend, "probity is serving");

    Ok(RunningApp {
        addr,
        first_admin_token,
        db,
        shutdown,
        tasks,
    })
}

/// `/readyz`: the store answers, with NATS the connection is up, and every projector has
/// applied the recent events of its aggregate types within the configured lag.
struct Readiness {
    /// What the schedule watch found (a missing holiday schedule is a warning, not a
    /// reason to refuse traffic).
    schedule_watch: Arc<crate::calendar::ScheduleWatchState>,
    db: Db,
    nats: Option<async_nats::Client>,
    projectors: Vec<(&'static str, &'static [&'static str])>,
    max_lag: Duration,
}

/// How far back `/readyz` looks for unapplied events (it must stay cheap).
const READINESS_WINDOW: i64 = 1_000;

impl Readiness {
    /// Age in milliseconds of the oldest event among the last [`READINESS_WINDOW`] of
    /// `aggregate_type` that `projector` has not applied yet (0 when none).
    async fn lag_ms(&self, projector: &str, aggregate_type: &str) -> Result<f64, sqlx::Error> {
        let age = match self.db.backend {
            probity_store::Backend::Postgres => {
                "(EXTRACT(EPOCH FROM (clock_timestamp() - MIN(e.recorded_at))) * 1000)::float8"
            }
            probity_store::Backend::Sqlite => {
                "(julianday('now') - julianday(MIN(e.recorded_at))) * 86400000.0"
            }
        };
        let sql = format!(
            "SELECT COALESCE({age}, 0.0) FROM events e \
             LEFT JOIN projection_positions p ON p.projector = $1 \
               AND p.aggregate_type = e.aggregate_type AND p.aggregate_id = e.aggregate_id \
             WHERE e.aggregate_type = $2 \
               AND e.position > (SELECT COALESCE(MAX(position), 0) FROM events) - $3 \
               AND e.sequence > COALESCE(p.last_sequence, 0)"
        );
        let (lag,): (f64,) = sqlx::query_as(&sql)
            .bind(projector)
            .bind(aggregate_type)
            .bind(READINESS_WINDOW)
            .fetch_one(&self.db.any)
            .await?;
        Ok(lag)
    }
}

#[async_trait::async_trait]
impl probity_http::Readiness for Readiness {
    fn warnings(&self) -> Vec<String> {
        self.schedule_watch.warning().into_iter().collect()
    }

    async fn check(&self) -> Result<(), String> {
        sqlx::query("SELECT 1")
            .execute(&self.db.any)
            .await
            .map_err(|_| "the store does not answer".to_string())?;
        if let Some(client) = &self.nats {
            if client.connection_state() != async_nats::connection::State::Connected {
                return Err("the bus (NATS) is not connected".into());
            }
        }
        for (projector, types) in &self.projectors {
            for aggregate_type in *types {
                let lag = self
                    .lag_ms(projector, aggregate_type)
                    .await
                    .map_err(|error| {
                        tracing::warn!(%error, projector, "readiness: lag query failed");
                        format!("the lag of projector {projector} cannot be read")
                    })?;
                if lag > self.max_lag.as_millis() as f64 {
                    return Err(format!(
                        "projector {projector} is {lag:.0} ms behind on {aggregate_type} events"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// How long a starting server waits for JetStream to answer its first request (the
/// streams' creation) before it gives up: a freshly started or restarted cluster elects
/// its leaders first.
const STREAM_START_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// Records the relay's counters and gauges through the `metrics` facade (ADR 0032).
fn relay_sampler(metrics: Arc<probity_bus::RelayMetrics>) -> probity_app::MetricsSampler {
    use ::metrics::{counter, describe_counter, describe_gauge, gauge};
    Arc::new(move || {
        describe_counter!(
            "probity_relay_published_total",
            "Events the relay published to JetStream."
        );
        describe_counter!(
            "probity_relay_duplicates_total",
            "Re-publishes JetStream recognised as duplicates."
        );
        describe_counter!("probity_relay_errors_total", "Failed relay batches.");
        describe_gauge!(
            "probity_relay_checkpoint_position",
            "Global position of the relay checkpoint."
        );
        describe_gauge!(
            "probity_relay_lag_milliseconds",
            "Recording-to-ack time of the last published event."
        );
        describe_gauge!(
            "probity_relay_leader",
            "1 when this server's relay holds the lock."
        );
        let s = metrics.snapshot();
        counter!("probity_relay_published_total").absolute(s.published);
        counter!("probity_relay_duplicates_total").absolute(s.duplicates);
        counter!("probity_relay_errors_total").absolute(s.errors);
        gauge!("probity_relay_checkpoint_position").set(s.last_checkpoint.position as f64);
        gauge!("probity_relay_lag_milliseconds").set(s.last_lag_ms as f64);
        gauge!("probity_relay_leader").set(f64::from(u8::from(s.leader)));
    })
}

/// The debt-warning sweep's ticks on this server: swept (it held the store lease) or
/// skipped (another server swept this tick).
#[derive(Debug, Default)]
struct DebtSweepMetrics {
    swept: std::sync::atomic::AtomicU64,
    skipped: std::sync::atomic::AtomicU64,
}

/// Records the debt-warning sweep's counters of this server through the `metrics` facade.
fn debt_sweep_sampler(metrics: Arc<DebtSweepMetrics>) -> probity_app::MetricsSampler {
    use ::metrics::{counter, describe_counter};
    use std::sync::atomic::Ordering;
    Arc::new(move || {
        describe_counter!(
            "probity_debt_sweeps_total",
            "Debt-warning sweeps this server ran (it held the lease)."
        );
        describe_counter!(
            "probity_debt_sweeps_skipped_total",
            "Ticks another server swept."
        );
        counter!("probity_debt_sweeps_total").absolute(metrics.swept.load(Ordering::Relaxed));
        counter!("probity_debt_sweeps_skipped_total")
            .absolute(metrics.skipped.load(Ordering::Relaxed));
    })
}

/// Records the partition leases of this server (ADR 0026) through the `metrics` facade.
fn partitions_sampler(metrics: Arc<probity_bus::LeaseMetrics>) -> probity_app::MetricsSampler {
    use ::metrics::{counter, describe_counter, describe_gauge, gauge};
    use std::sync::atomic::Ordering;
    Arc::new(move || {
        describe_gauge!(
            "probity_partitions_held",
            "Projection partitions this server consumes."
        );
        describe_gauge!(
            "probity_partition_members",
            "Live servers sharing the projection partitions."
        );
        describe_counter!(
            "probity_partitions_acquired_total",
            "Partitions this server took."
        );
        describe_counter!(
            "probity_partitions_released_total",
            "Partitions this server handed back or lost."
        );
        gauge!("probity_partitions_held").set(metrics.held.load(Ordering::Relaxed) as f64);
        gauge!("probity_partition_members").set(metrics.members.load(Ordering::Relaxed) as f64);
        counter!("probity_partitions_acquired_total")
            .absolute(metrics.acquired.load(Ordering::Relaxed));
        counter!("probity_partitions_released_total")
            .absolute(metrics.released.load(Ordering::Relaxed));
    })
}

/// Records the projector feeds' counters through the `metrics` facade, one series per
/// projector (label `projector`).
fn projectors_sampler(
    feeds: Vec<(&'static str, Arc<probity_bus::ProjectorMetrics>)>,
) -> probity_app::MetricsSampler {
    use ::metrics::{counter, describe_counter, describe_gauge, gauge};
    Arc::new(move || {
        describe_counter!(
            "probity_projector_applied_total",
            "Events that changed a view."
        );
        describe_counter!(
            "probity_projector_redelivered_total",
            "Redeliveries already applied."
        );
        describe_counter!(
            "probity_projector_gaps_total",
            "Events that arrived before their predecessor."
        );
        describe_counter!(
            "probity_projector_errors_total",
            "Projector or transport errors."
        );
        describe_gauge!(
            "probity_projector_lag_milliseconds",
            "Recording-to-handling time of the last event."
        );
        for (name, m) in &feeds {
            let s = m.snapshot();
            let name = *name;
            counter!("probity_projector_applied_total", "projector" => name).absolute(s.applied);
            counter!("probity_projector_redelivered_total", "projector" => name)
                .absolute(s.already_applied);
            counter!("probity_projector_gaps_total", "projector" => name).absolute(s.gaps);
            counter!("probity_projector_errors_total", "projector" => name).absolute(s.errors);
            gauge!("probity_projector_lag_milliseconds", "projector" => name)
                .set(s.last_lag_ms as f64);
        }
    })
}
