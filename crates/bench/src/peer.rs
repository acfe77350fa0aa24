//! The peer baseline of issue 9: what a naive program built on the same stack by the book
//! does on this machine. cqrs-es' `CqrsFramework` over postgres-es' repository on
//! postgres-es' own schema, Probity's complaint aggregate, and a `GenericQuery` view
//! (`PostgresViewRepository`) updated inline after each commit — no HTTP, no relay, no
//! bus, no projector, no sealing. 16 tasks file new complaints (and, in the lifecycle
//! workload, accept and dispatch them) for `--seconds`, with and without the view.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cqrs_es::persist::{GenericQuery, PersistedEventStore};
use cqrs_es::{CqrsFramework, DomainEvent, EventEnvelope, Query, View};
use postgres_es::{PostgresEventRepository, PostgresViewRepository};
use probity_domain::complaint::{
    Category, Channel, Complaint, ComplaintCommand, ComplaintServices,
};
use probity_domain::{CreditCode, TimeLimits, WorkingCalendar};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPoolOptions;
use sqlx::Executor;

use crate::{drop_database, fresh_database, Args, UNIT};

/// The inline view of the naive program: status and event count per case.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct CaseView {
    last_event: String,
    events: u64,
}

impl View<Complaint> for CaseView {
    fn update(&mut self, event: &EventEnvelope<Complaint>) {
        self.last_event = event.payload.event_type();
        self.events += 1;
    }
}

const SCHEMA: &str = "
CREATE TABLE events (
    aggregate_type text NOT NULL, aggregate_id text NOT NULL,
    sequence bigint CHECK (sequence >= 0) NOT NULL, event_type text NOT NULL,
    event_version text NOT NULL, payload json NOT NULL, metadata json NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence));
CREATE TABLE case_view (
    view_id text NOT NULL, version bigint CHECK (version >= 0) NOT NULL,
    payload json NOT NULL, PRIMARY KEY (view_id));";

type Framework = CqrsFramework<Complaint, PersistedEventStore<PostgresEventRepository, Complaint>>;

fn file_command() -> ComplaintCommand {
    ComplaintCommand::FileComplaint {
        category: Category::Complaint,
        channel: Channel::Hotline,
        subject_code: None,
        title: "bench".into(),
        description: "benchmark case".into(),
        anonymous: true,
        reporter: None,
        at: chrono::Utc::now(),
    }
}

/// Runs the peer program and prints its figures.
pub async fn peer(args: &Args) -> anyhow::Result<()> {
    for (with_view, lifecycle) in [(true, false), (false, false), (true, true)] {
        let url = fresh_database(&args.admin_url).await?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(&url)
            .await?;
        pool.execute(SCHEMA).await?;
        let services = ComplaintServices {
            calendar: Arc::new(WorkingCalendar::china()),
            limits: TimeLimits::default(),
        };
        let store =
            PersistedEventStore::new_event_store(PostgresEventRepository::new(pool.clone()));
        let queries: Vec<Box<dyn Query<Complaint>>> = if with_view {
            let repo = Arc::new(PostgresViewRepository::<CaseView, Complaint>::new(
                "case_view",
                pool.clone(),
            ));
            vec![Box::new(GenericQuery::<_, CaseView, Complaint>::new(repo))]
        } else {
            Vec::new()
        };
        let cqrs: Arc<Framework> = Arc::new(CqrsFramework::new(store, queries, services));
        let count = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let end = Instant::now() + Duration::from_secs(args.seconds);
        let unit = CreditCode::parse(UNIT)?;
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (cqrs, count, errors, unit) =
                    (cqrs.clone(), count.clone(), errors.clone(), unit.clone());
                tokio::spawn(async move {
                    while Instant::now() < end {
                        let id = uuid::Uuid::now_v7().to_string();
                        let mut commands = vec![file_command()];
                        if lifecycle {
                            let at = chrono::Utc::now();
                            commands.push(ComplaintCommand::AcceptComplaint { at });
                            commands.push(ComplaintCommand::DispatchComplaint {
                                unit: unit.clone(),
                                above: Vec::new(),
                                at,
                            });
                        }
                        for command in commands {
                            match cqrs.execute(&id, command).await {
                                Ok(()) => count.fetch_add(1, Ordering::Relaxed),
                                Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                            };
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await?;
        }
        let cps = count.load(Ordering::Relaxed) as f64 / args.seconds as f64;
        println!(
            "peer (naive cqrs-es + postgres-es, 16 tasks, {}{}): {cps:.0} commands/s, {} errors",
            if lifecycle {
                "file+accept+dispatch"
            } else {
                "file"
            },
            if with_view {
                ", view updated inline"
            } else {
                ", no view"
            },
            errors.load(Ordering::Relaxed)
        );
        pool.close().await;
        drop_database(&args.admin_url, &url).await?;
    }
    Ok(())
}
