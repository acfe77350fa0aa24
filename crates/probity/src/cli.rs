//! The command line: `probity serve`, `probity token create`, `probity rebuild`,
//! `probity erase reporter`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tokio::net::TcpListener;

use crate::settings::{parse_clock_offset, Policy, Secret, Settings};

#[derive(Debug, Parser)]
#[command(
    name = "probity",
    version,
    about = "Event-sourced case management for government integrity work (政务诚信)"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the store and the bus are; shared by every subcommand.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Directory of the embedded SQLite store (used when no DATABASE_URL is given).
    #[arg(
        long,
        env = "PROBITY_DATA_DIR",
        default_value = "./probity-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Postgres URL; absent means the embedded SQLite store.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,
    /// NATS URL; absent means the in-process bus.
    #[arg(long, env = "NATS_URL", global = true)]
    pub nats_url: Option<String>,
    /// Subject prefix on the bus.
    #[arg(
        long,
        env = "PROBITY_NATS_PREFIX",
        default_value = "probity",
        global = true
    )]
    pub nats_prefix: String,
    /// Shift of the server's clock (e.g. 30d, -12h) for drills and tests.
    #[arg(long, env = "PROBITY_CLOCK_OFFSET", default_value = "0", global = true)]
    pub clock_offset: String,
    /// Policy file (TOML): time limits and operational limits.
    #[arg(long, env = "PROBITY_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Ed25519 secret key (from `probity keys generate`) that signs the audit chain.
    #[arg(long, env = "PROBITY_AUDIT_KEY", global = true)]
    pub audit_key: Option<PathBuf>,
    /// Seconds between signed audit checkpoints.
    #[arg(
        long,
        env = "PROBITY_AUDIT_SIGN_INTERVAL",
        default_value_t = 60,
        global = true
    )]
    pub audit_sign_interval: u64,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the HTTP API, the relay and the projectors.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "PROBITY_BIND", default_value = "127.0.0.1:8080")]
        bind: String,
    },
    /// Manage bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Rebuild every projection from position zero.
    Rebuild,
    /// Erase personal data (crypto-shredding).
    #[command(subcommand)]
    Erase(EraseCommand),
    /// Audit signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Prove the log untampered; export and check verifiable bundles.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Bulk imports of existing lists.
    #[command(subcommand)]
    Import(ImportCommand),
    /// The working-day calendar: load a new year's official holiday schedule.
    #[command(subcommand)]
    Calendar(CalendarCommand),
}

#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// Record a year's official holiday schedule (JSON, or TOML for a `.toml` file:
    /// `year`, `holidays`, `makeup_workdays`), then recompute once every open
    /// provisional deadline. Servers count on the new year after a restart.
    Load {
        /// The schedule file.
        file: PathBuf,
        /// Where it comes from, e.g. the State Council notice number (default: the file name).
        #[arg(long)]
        source: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import the city's penalty and sanction lists as dishonesty records. FILE is UTF-8
    /// CSV with the header
    /// `subject_code,subject_name,source,source_ref,decision_date,severity,sector,summary,ban_years`.
    /// Invalid rows are quarantined to the report; re-running a file imports nothing twice.
    /// Exits non-zero only when the file cannot be read or the store fails.
    Records {
        /// The CSV file.
        file: PathBuf,
        /// Where to write the quarantined rows (default `<FILE>.report.csv`).
        #[arg(long)]
        report: Option<PathBuf>,
        /// Credit code of the recording authority (default: the municipal credit office).
        #[arg(long)]
        recorded_by: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new Ed25519 key pair: `audit-signing.key` (secret, 0600) and `audit-signing.pub`.
    Generate {
        /// Directory to write them to.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the whole log against the latest signed checkpoint; name the first event
    /// that does not match. Exits non-zero on a mismatch.
    Verify {
        /// The public key to trust (`audit-signing.pub`).
        #[arg(long)]
        public_key: PathBuf,
    },
    /// Write a verifiable bundle of one aggregate's events.
    Export {
        /// `TYPE/ID`, e.g. `complaint/01a2…`.
        #[arg(long)]
        aggregate: String,
        /// The bundle file to write.
        #[arg(long)]
        out: PathBuf,
        /// Who exports (recorded in the access log as `BundleExported`, role `auditor`).
        #[arg(long, default_value = "cli")]
        actor: String,
        /// Why the bundle is exported (recorded in the access log).
        #[arg(long, default_value = "export")]
        purpose: String,
    },
    /// Check a bundle offline (no database). Exits non-zero when it does not verify.
    VerifyBundle {
        /// The bundle file.
        file: PathBuf,
        /// The public key to trust; without it, the key inside the bundle is used.
        #[arg(long)]
        public_key: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum EraseCommand {
    /// Erase a complaint's reporter: record `ReporterErased`, then destroy the key.
    Reporter {
        /// Id of the complaint.
        id: String,
        /// Why (the legal ground or the request's reference).
        #[arg(long)]
        reason: String,
        /// Who erases (recorded as the event's actor).
        #[arg(long, default_value = "cli")]
        actor: String,
    },
    /// Erase a civil servant's name and identity number: record
    /// `CivilServantDataErased`, destroy their key, drop their index entry.
    CivilServant {
        /// The civil servant's opaque id.
        id: String,
        /// Why (the legal ground or the request's reference).
        #[arg(long)]
        reason: String,
        /// Who erases (recorded as the event's actor).
        #[arg(long, default_value = "cli")]
        actor: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it alone on stdout (it is stored hashed).
    Create {
        /// intake, handler, supervisor, auditor, admin or evaluator.
        #[arg(long)]
        role: String,
        /// Credit code of the unit (required for handler; binds a supervisor).
        #[arg(long)]
        unit: Option<String>,
        /// A label to recognise the token by.
        #[arg(long)]
        label: Option<String>,
        /// How long the token lives (`90d`, `12h`, `30m`, `45s`); default
        /// `PROBITY_TOKEN_LIFETIME` (`[tokens] default_lifetime`, shipped 90d).
        #[arg(long)]
        expires: Option<String>,
    },
    /// List every token: id, label, role, unit, created, expires, last used, state.
    /// Never the token or its hash.
    List,
    /// Revoke a token by its id (from `token list`): every server refuses it from its
    /// next request on.
    Revoke {
        /// The token's id.
        id: String,
    },
}

impl CommonArgs {
    pub fn settings(&self, bind: &str) -> anyhow::Result<Settings> {
        Ok(Settings {
            bind: bind
                .parse()
                .with_context(|| format!("--bind {bind:?} is not an address:port"))?,
            data_dir: self.data_dir.clone(),
            database_url: self
                .database_url
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(Secret::new),
            nats_url: self.nats_url.clone().filter(|s| !s.is_empty()),
            nats_prefix: self.nats_prefix.clone(),
            clock_offset: parse_clock_offset(&self.clock_offset)?,
            policy: Policy::load(self.config.as_deref())?,
            audit_key: self.audit_key.clone(),
            audit_sign_interval: std::time::Duration::from_secs(self.audit_sign_interval.max(1)),
        })
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { bind } => serve(cli.common.settings(&bind)?).await,
        Command::Token(TokenCommand::Create {
            role,
            unit,
            label,
            expires,
        }) => {
            let settings = cli.common.settings("127.0.0.1:0")?;
            let created =
                token_create(&settings, &role, unit.as_deref(), label, expires.as_deref()).await?;
            eprintln!(
                "token {} expires {}",
                created.id,
                created
                    .expires_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            println!("{}", created.token);
            Ok(())
        }
        Command::Token(TokenCommand::List) => {
            let settings = cli.common.settings("127.0.0.1:0")?;
            print!(
                "{}",
                token_table(&token_list(&settings).await?, chrono::Utc::now())
            );
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { id }) => {
            let settings = cli.common.settings("127.0.0.1:0")?;
            match token_revoke(&settings, &id).await? {
                probity_app::Revocation::Revoked => println!("revoked token {id}"),
                probity_app::Revocation::AlreadyRevoked(at) => println!(
                    "token {id} was already revoked at {}",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            }
            Ok(())
        }
        Command::Rebuild => rebuild(cli.common.settings("127.0.0.1:0")?).await,
        Command::Keys(KeysCommand::Generate { out }) => {
            let (secret, public) = probity_audit::generate_keys(&out)
                .with_context(|| format!("writing keys to {}", out.display()))?;
            println!("secret key: {}", secret.display());
            println!("public key: {}", public.display());
            Ok(())
        }
        Command::Audit(command) => audit(cli.common.settings("127.0.0.1:0")?, command).await,
        Command::Import(ImportCommand::Records {
            file,
            report,
            recorded_by,
        }) => {
            let settings = cli.common.settings("127.0.0.1:0")?;
            crate::import::run(&settings, &file, report, recorded_by).await?;
            Ok(())
        }
        Command::Calendar(CalendarCommand::Load { file, source }) => {
            let settings = cli.common.settings("127.0.0.1:0")?;
            crate::calendar::run(&settings, &file, source).await
        }
        Command::Erase(EraseCommand::Reporter { id, reason, actor }) => {
            let settings = cli.common.settings("127.0.0.1:0")?;
            let erasure = erase_reporter(&settings, &id, &reason, &actor).await?;
            println!(
                "erased the reporter of complaint {id} (key {}, version {})",
                erasure.key_id, erasure.version
            );
            Ok(())
        }
        Command::Erase(EraseCommand::CivilServant { id, reason, actor }) => {
            let settings = cli.common.settings("127.0.0.1:0")?;
            let erasure = erase_civil_servant(&settings, &id, &reason, &actor).await?;
            println!(
                "erased the personal data of civil servant {id} (key {}, version {})",
                erasure.key_id, erasure.version
            );
            Ok(())
        }
    }
}

/// Creates a token on the store `settings` name (what `probity token create` runs):
/// `expires` is a lifetime (`90d`), by default the configured one.
pub async fn token_create(
    settings: &Settings,
    role: &str,
    unit: Option<&str>,
    label: Option<String>,
    expires: Option<&str>,
) -> anyhow::Result<probity_app::CreatedToken> {
    let role: probity_app::Role = role.parse().map_err(|_| {
        anyhow::anyhow!(
            "--role {role:?}: expected intake, handler, supervisor, auditor, admin or evaluator"
        )
    })?;
    let unit = unit
        .map(probity_domain::CreditCode::parse)
        .transpose()
        .context("--unit is not a valid unified social credit code")?;
    let lifetime = match expires {
        Some(text) => probity_app::tokens::parse_lifetime(text)
            .map_err(|e| anyhow::anyhow!("--expires: {e}"))?,
        None => settings.policy.tokens.default_lifetime()?,
    };
    let db = crate::app::open_db(settings).await?;
    probity_app::create_token_expiring(&db, role, unit, label, lifetime)
        .await
        .context("storing the token")
}

/// Every token on the store `settings` name (what `probity token list` shows).
pub async fn token_list(settings: &Settings) -> anyhow::Result<Vec<probity_app::TokenInfo>> {
    let db = crate::app::open_db(settings).await?;
    probity_app::list_tokens(&db)
        .await
        .map_err(|e| anyhow::anyhow!("listing the tokens: {e}"))
}

/// Revokes token `id` on the store `settings` name (what `probity token revoke` runs).
pub async fn token_revoke(
    settings: &Settings,
    id: &str,
) -> anyhow::Result<probity_app::Revocation> {
    let db = crate::app::open_db(settings).await?;
    probity_app::revoke_token(&db, id)
        .await
        .with_context(|| format!("revoking token {id}"))
}

/// The table `probity token list` prints: one line per token, columns separated by
/// two spaces and aligned; times in UTC to the second, `-` for none.
pub fn token_table(
    tokens: &[probity_app::TokenInfo],
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_else(|| "-".into())
    };
    let mut rows = vec![[
        "ID",
        "LABEL",
        "ROLE",
        "UNIT",
        "CREATED",
        "EXPIRES",
        "LAST USED",
        "STATE",
    ]
    .map(String::from)];
    for t in tokens {
        rows.push([
            t.id.clone(),
            t.label.clone().unwrap_or_else(|| "-".into()),
            t.role.clone(),
            t.unit.clone().unwrap_or_else(|| "-".into()),
            time(Some(t.created_at)),
            time(Some(t.expires_at)),
            time(t.last_used_at),
            t.state(now).to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect::<Vec<_>>()
            .join("  ");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The application layer over the store `settings` name (the CLI's commands run its
/// use-cases, on the server's clock, with the shipped calendar).
async fn app(settings: &Settings) -> anyhow::Result<probity_app::App> {
    let db = crate::app::open_db(settings).await?;
    Ok(probity_app::App::over_db(
        db,
        std::sync::Arc::new(probity_domain::WorkingCalendar::china()),
        settings.policy.time_limits.clone(),
        settings.policy.integrity.clone(),
        probity_app::Clock::new(settings.clock_offset),
    ))
}

/// Erases the reporter of complaint `id` on the store `settings` name (what
/// `probity erase reporter` runs).
pub async fn erase_reporter(
    settings: &Settings,
    id: &str,
    reason: &str,
    actor: &str,
) -> anyhow::Result<probity_app::erasure::Erasure> {
    app(settings)
        .await?
        .erase_reporter(id, reason, actor)
        .await
        .map_err(|e| anyhow::anyhow!("erasing the reporter of complaint {id}: {e}"))
}

/// Erases civil servant `id`'s personal data on the store `settings` name (what
/// `probity erase civil-servant` runs).
pub async fn erase_civil_servant(
    settings: &Settings,
    id: &str,
    reason: &str,
    actor: &str,
) -> anyhow::Result<probity_app::erasure::Erasure> {
    app(settings)
        .await?
        .erase_civil_servant(id, reason, actor)
        .await
        .map_err(|e| anyhow::anyhow!("erasing civil servant {id}: {e}"))
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let listener = TcpListener::bind(settings.bind)
        .await
        .with_context(|| format!("binding {}", settings.bind))?;
    let app = crate::app::start(&settings, listener).await?;
    println!("Probity is serving at {}", app.url());
    if let Some(token) = &app.first_admin_token {
        println!("First admin token (shown once): {token}");
    }
    let token = app.shutdown_token();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        token.cancel();
    });
    app.wait().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn rebuild(settings: Settings) -> anyhow::Result<()> {
    let db = crate::app::open_db(&settings).await?;
    let log = probity_store::EventLog::new(db.clone());
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} rebuilding [{bar:40}] {pos}/{len} events ({per_sec}, eta {eta})",
        )
        .expect("a valid progress template")
        .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let n = probity_views::rebuild(&log, &db, &progress)
        .await
        .context("rebuilding the projections")?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "Rebuilt every projection from {n} events in {secs:.2} s ({:.0} events/s)",
        n as f64 / secs.max(1e-9)
    );
    Ok(())
}

/// `probity audit …`.
async fn audit(settings: Settings, command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify { public_key } => {
            let key = probity_audit::load_verifying_key(&public_key)
                .with_context(|| format!("reading {}", public_key.display()))?;
            let db = crate::app::open_db(&settings).await?;
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} verifying [{bar:40}] {pos}/{len} events ({per_sec}, eta {eta})",
                )
                .expect("a valid progress template")
                .progress_chars("=> "),
            );
            let started = std::time::Instant::now();
            let progress = |done: u64, total: u64| {
                bar.set_length(total);
                bar.set_position(done);
            };
            let report = probity_audit::verify_log(&db, &key, &progress)
                .await
                .context("verifying the log")?;
            bar.finish_and_clear();
            let secs = started.elapsed().as_secs_f64();
            match &report.checkpoint {
                Some(c) => println!(
                    "latest signed checkpoint: chain index {} (position {}), key {}, signed {}",
                    c.chain_index, c.position, c.key_id, c.signed_at
                ),
                None => println!("no signed checkpoint yet"),
            }
            println!(
                "{} events checked in {secs:.2} s ({:.0} events/s): {} sealed, {} not sealed yet",
                report.events,
                report.events as f64 / secs.max(1e-9),
                report.sealed,
                report.unsealed
            );
            match &report.mismatch {
                None => {
                    println!("OK: every event matches its seal and the signed chain");
                    Ok(())
                }
                Some(m) => anyhow::bail!("TAMPERED: {m}"),
            }
        }
        AuditCommand::Export {
            aggregate,
            out,
            actor,
            purpose,
        } => {
            let (aggregate_type, aggregate_id) = aggregate
                .split_once('/')
                .filter(|(t, i)| !t.is_empty() && !i.is_empty())
                .ok_or_else(|| {
                    anyhow::anyhow!("--aggregate must be TYPE/ID, e.g. complaint/<id>")
                })?;
            let db = crate::app::open_db(&settings).await?;
            let bundle = probity_audit::export_bundle(&db, aggregate_type, aggregate_id)
                .await
                .context("exporting the bundle")?;
            let bytes = bundle.to_bytes().context("encoding the bundle")?;
            // Every export is an access event, recorded before the file is written.
            let access =
                probity_store::Executor::<probity_domain::access::AccessLog>::new(db.clone(), ());
            let mut metadata = std::collections::HashMap::new();
            metadata.insert("actor".to_string(), actor.clone());
            metadata.insert("role".to_string(), "auditor".to_string());
            access
                .execute(
                    &format!("{aggregate_type}-{aggregate_id}"),
                    probity_domain::access::AccessCommand::RecordExport {
                        aggregate_type: aggregate_type.to_string(),
                        aggregate_id: aggregate_id.to_string(),
                        actor,
                        role: "auditor".to_string(),
                        purpose,
                        at: chrono::Utc::now(),
                    },
                    None,
                    metadata,
                )
                .await
                .map_err(|e| anyhow::anyhow!("recording the export in the access log: {e}"))?;
            std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
            println!(
                "wrote {} ({} events of {aggregate}, {} bytes)",
                out.display(),
                bundle.events.len(),
                bytes.len()
            );
            Ok(())
        }
        AuditCommand::VerifyBundle { file, public_key } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let report = match public_key {
                Some(path) => {
                    let key = probity_audit::load_verifying_key(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    probity_audit::verify_bundle_with_key(&bytes, Some(&key))
                }
                None => probity_audit::verify_bundle(&bytes),
            }
            .map_err(|e| anyhow::anyhow!("DOES NOT VERIFY: {e}"))?;
            println!(
                "OK: {} events of {}/{} verify against checkpoint {} signed by key {} at {}",
                report.events,
                report.aggregate_type,
                report.aggregate_id,
                report.checkpoint_chain_index,
                report.key_id,
                report.signed_at
            );
            Ok(())
        }
    }
}
