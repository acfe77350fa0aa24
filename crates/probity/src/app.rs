//! Wiring: the store, the bus (NATS relay and consumers, or the in-process bus), the
//! projectors and the HTTP server, started together and stopped together.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use probity_domain::access::AccessLog;
use probity_domain::complaint::{Complaint, ComplaintServices};
use probity_domain::WorkingCalendar;
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
    match &settings.database_url {
        Some(url) => Db::connect_postgres(url.expose())
            .await
            .context("connecting to Postgres (DATABASE_URL)"),
        None => Db::open_sqlite(&settings.data_dir).await.with_context(|| {
            format!(
                "opening the embedded store in {}",
                settings.data_dir.display()
            )
        }),
    }
}

/// Starts everything on `listener` and returns at once; the server runs in background
/// tasks until [`RunningApp::stop`].
pub async fn start(settings: &Settings, listener: TcpListener) -> anyhow::Result<RunningApp> {
    let db = open_db(settings).await?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let shutdown = CancellationToken::new();
    let mut tasks = Vec::new();

    let first_admin_token = if probity_http::count_tokens(&db)
        .await
        .context("counting tokens")?
        == 0
    {
        Some(
            probity_http::create_token(
                &db,
                probity_http::Role::Admin,
                None,
                Some("first admin".into()),
            )
            .await
            .context("creating the first admin token")?,
        )
    } else {
        None
    };

    let log = EventLog::new(db.clone());
    let calendar = Arc::new(WorkingCalendar::china());
    let complaints = Arc::new(Executor::<Complaint>::new(
        db.clone(),
        ComplaintServices {
            calendar: calendar.clone(),
            limits: settings.policy.time_limits.clone(),
        },
    ));
    let access = Arc::new(Executor::<AccessLog>::new(db.clone(), ()));
    let projectors: Vec<Arc<dyn Projector>> = probity_views::projectors(&db);

    // The bus: NATS JetStream with the relay, or the in-process bus.
    let nats = match &settings.nats_url {
        Some(url) => {
            let client = async_nats::ConnectOptions::new()
                .retry_on_initial_connect()
                .connect(url.as_str())
                .await
                .with_context(|| format!("connecting to NATS at {url}"))?;
            let js = async_nats::jetstream::new(client.clone());
            let cfg = probity_bus::BusConfig::new(settings.nats_prefix.clone())
                .context("PROBITY_NATS_PREFIX is not a valid subject prefix")?;
            probity_bus::ensure_stream(&js, &cfg)
                .await
                .context("creating the JetStream stream")?;
            {
                let (log, js, cfg, token) =
                    (log.clone(), js.clone(), cfg.clone(), shutdown.clone());
                tasks.push(tokio::spawn(async move {
                    if let Err(error) = probity_bus::run_relay(log, js, cfg, token).await {
                        tracing::error!(%error, "the relay stopped");
                    }
                }));
            }
            for projector in &projectors {
                let (js, cfg, p, token) =
                    (js.clone(), cfg.clone(), projector.clone(), shutdown.clone());
                tasks.push(tokio::spawn(async move {
                    let name = p.name();
                    if let Err(error) = probity_bus::run_nats_projector(js, cfg, p, token).await {
                        tracing::error!(%error, projector = name, "a projector stopped");
                    }
                }));
            }
            Some(client)
        }
        None => {
            for projector in &projectors {
                let (log, p, token) = (log.clone(), projector.clone(), shutdown.clone());
                tasks.push(tokio::spawn(async move {
                    let name = p.name();
                    if let Err(error) = probity_bus::run_local_projector(log, p, token).await {
                        tracing::error!(%error, projector = name, "a projector stopped");
                    }
                }));
            }
            None
        }
    };

    let readiness = Arc::new(Readiness {
        db: db.clone(),
        nats,
    });
    let state = probity_http::AppState::new(probity_http::AppParts {
        db: db.clone(),
        log,
        keys: KeyStore::new(db.clone()),
        complaints,
        access,
        calendar,
        clock: probity_http::Clock::new(settings.clock_offset),
        config: probity_http::HttpConfig {
            body_limit_bytes: settings.policy.http.body_limit_bytes,
            max_projection_lag: settings.policy.http.max_projection_lag(),
        },
        readiness,
    });
    let router = probity_http::router(state);
    let token = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        let server = axum::serve(listener, router).with_graceful_shutdown(async move {
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

/// `/readyz`: the store answers and, with NATS, the connection is up.
struct Readiness {
    db: Db,
    nats: Option<async_nats::Client>,
}

#[async_trait::async_trait]
impl probity_http::Readiness for Readiness {
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
        Ok(())
    }
}
