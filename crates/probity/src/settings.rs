//! Typed settings from flags, environment and an optional TOML policy file.
//!
//! Flags and environment (`--bind`/`PROBITY_BIND`, `--data-dir`/`PROBITY_DATA_DIR`,
//! `DATABASE_URL`, `NATS_URL`, `PROBITY_NATS_PREFIX`, `PROBITY_CLOCK_OFFSET`,
//! `PROBITY_CONFIG`) choose where things are; the policy file holds the rules that are
//! local practice (time limits) and operational limits. Secrets never print.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use probity_domain::TimeLimits;
use serde::Deserialize;

/// A value that must never appear in logs or `Debug` output (a database URL may carry a
/// password).
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Everything `probity serve` needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on (port 0 picks a free port: the tests do).
    pub bind: SocketAddr,
    /// Where the embedded SQLite store lives when no `DATABASE_URL` is given.
    pub data_dir: PathBuf,
    /// Postgres URL; `None` means embedded SQLite in `data_dir`.
    pub database_url: Option<Secret>,
    /// NATS URL; `None` means the in-process bus.
    pub nats_url: Option<String>,
    /// Subject prefix on the bus (`<prefix>.events.<type>.<id>`).
    pub nats_prefix: String,
    /// Shift of the server's clock, for drills and tests.
    pub clock_offset: chrono::Duration,
    /// Rules and limits from the policy file (defaults when no file is given).
    pub policy: Policy,
    /// Ed25519 secret key that signs the audit chain's head; `None`: seal, never sign.
    pub audit_key: Option<PathBuf>,
    /// How often the chain head is signed (when it moved).
    pub audit_sign_interval: Duration,
}

/// The policy file (`PROBITY_CONFIG`, TOML). Every field has a shipped default.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    pub time_limits: TimeLimits,
    pub http: HttpPolicy,
    /// The deadline engine (`[deadlines]`; `PROBITY_DEADLINE_TICK` and
    /// `PROBITY_REMINDER_WORKING_DAYS` override the file).
    pub deadlines: DeadlinePolicy,
    /// Publicity table, repair and objection limits, sanction periods (`[integrity]`).
    pub integrity: probity_domain::integrity::IntegrityPolicy,
    /// The assessment formula (`[assessment]`; docs/assessment.md).
    pub assessment: probity_domain::assessment::AssessmentFormula,
    /// The event store (`[store]`; `PROBITY_GROUP_COMMIT` overrides the file).
    pub store: StorePolicy,
    /// Bearer tokens (`[tokens]`; `PROBITY_TOKEN_LIFETIME` overrides the file).
    pub tokens: TokenPolicy,
    /// The NATS bus's streams, consumers and projection partitions (`[bus]`;
    /// `PROBITY_NATS_*` override the file).
    pub bus: BusPolicy,
}

/// The NATS bus: stream replication, projection partitions and consumer limits
/// (ADR 0026). Only used with `NATS_URL`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusPolicy {
    /// Replicas of the event and work streams: 1 on one NATS server, 3 on a 3-node
    /// cluster (`PROBITY_NATS_REPLICAS`).
    pub replicas: usize,
    /// Projection partitions shared by the servers; 0 turns partitioning off (every
    /// server consumes everything) (`PROBITY_NATS_PARTITIONS`).
    pub partitions: u16,
    /// Redelivery of a message whose ack never came, in seconds
    /// (`PROBITY_NATS_ACK_WAIT`).
    pub ack_wait_secs: u64,
    /// Unacknowledged messages per consumer (`PROBITY_NATS_MAX_ACK_PENDING`).
    pub max_ack_pending: i64,
    /// How long the work stream keeps a message, in hours (`PROBITY_NATS_WORK_MAX_AGE_HOURS`).
    pub work_max_age_hours: u64,
    /// Lifetime of a partition lease without renewal, in milliseconds; a dead server's
    /// partitions move after at most this plus a second (`PROBITY_PARTITION_LEASE_MS`).
    pub lease_ttl_ms: u64,
    /// Idle heartbeat of a consumer's pull, in milliseconds: a pull whose node died is
    /// noticed after two missed heartbeats (`PROBITY_NATS_HEARTBEAT_MS`).
    pub heartbeat_ms: u64,
    /// How long a JetStream API request (stream and consumer management) or a publish's
    /// ack is awaited before it is given up and retried, in milliseconds: a request sent
    /// while the JetStream leader it needs is being elected after a node loss is dropped
    /// unanswered, so this bounds the stall (`PROBITY_NATS_REQUEST_TIMEOUT_MS`).
    pub request_timeout_ms: u64,
}

impl Default for BusPolicy {
    fn default() -> Self {
        Self {
            replicas: 1,
            partitions: 8,
            ack_wait_secs: 15,
            max_ack_pending: 8192,
            work_max_age_hours: 7 * 24,
            lease_ttl_ms: 3_000,
            heartbeat_ms: 1_000,
            request_timeout_ms: 2_000,
        }
    }
}

impl BusPolicy {
    /// Applies the `PROBITY_NATS_*` variables from `var` over the file's values and checks
    /// them.
    fn override_from(mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        fn num<T: std::str::FromStr>(
            var: &impl Fn(&str) -> Option<String>,
            name: &str,
            slot: &mut T,
        ) -> anyhow::Result<()> {
            if let Some(v) = var(name).filter(|v| !v.trim().is_empty()) {
                *slot = v
                    .trim()
                    .parse()
                    .map_err(|_| anyhow::anyhow!("{name} {v:?}: expected a whole number"))?;
            }
            Ok(())
        }
        num(&var, "PROBITY_NATS_REPLICAS", &mut self.replicas)?;
        num(&var, "PROBITY_NATS_PARTITIONS", &mut self.partitions)?;
        num(&var, "PROBITY_NATS_ACK_WAIT", &mut self.ack_wait_secs)?;
        num(
            &var,
            "PROBITY_NATS_MAX_ACK_PENDING",
            &mut self.max_ack_pending,
        )?;
        num(
            &var,
            "PROBITY_NATS_WORK_MAX_AGE_HOURS",
            &mut self.work_max_age_hours,
        )?;
        num(&var, "PROBITY_PARTITION_LEASE_MS", &mut self.lease_ttl_ms)?;
        num(&var, "PROBITY_NATS_HEARTBEAT_MS", &mut self.heartbeat_ms)?;
        num(
            &var,
            "PROBITY_NATS_REQUEST_TIMEOUT_MS",
            &mut self.request_timeout_ms,
        )?;
        anyhow::ensure!(
            (1..=5).contains(&self.replicas),
            "PROBITY_NATS_REPLICAS or [bus] replicas: 1 to 5, not {}",
            self.replicas
        );
        anyhow::ensure!(
            self.partitions <= 1024,
            "PROBITY_NATS_PARTITIONS or [bus] partitions: at most 1024, not {}",
            self.partitions
        );
        anyhow::ensure!(
            self.ack_wait_secs >= 1,
            "PROBITY_NATS_ACK_WAIT or [bus] ack_wait_secs: at least 1 second"
        );
        anyhow::ensure!(
            self.max_ack_pending >= 1,
            "PROBITY_NATS_MAX_ACK_PENDING or [bus] max_ack_pending: at least 1"
        );
        anyhow::ensure!(
            self.work_max_age_hours >= 1,
            "PROBITY_NATS_WORK_MAX_AGE_HOURS or [bus] work_max_age_hours: at least 1 hour"
        );
        anyhow::ensure!(
            (100..=10_000).contains(&self.heartbeat_ms),
            "PROBITY_NATS_HEARTBEAT_MS or [bus] heartbeat_ms: 100 to 10000 ms"
        );
        anyhow::ensure!(
            (250..=60_000).contains(&self.request_timeout_ms),
            "PROBITY_NATS_REQUEST_TIMEOUT_MS or [bus] request_timeout_ms: 250 to 60000 ms"
        );
        anyhow::ensure!(
            self.lease_ttl_ms >= 1_000,
            "PROBITY_PARTITION_LEASE_MS or [bus] lease_ttl_ms: at least 1000 ms"
        );
        Ok(self)
    }

    /// The bus configuration for `prefix`.
    pub fn bus_config(&self, prefix: &str) -> anyhow::Result<probity_bus::BusConfig> {
        let mut cfg = probity_bus::BusConfig::new(prefix)
            .context("PROBITY_NATS_PREFIX is not a valid subject prefix")?
            .with_replicas(self.replicas)?
            .with_partitions(self.partitions)?;
        cfg.work_max_age = Duration::from_secs(self.work_max_age_hours * 3600);
        Ok(cfg)
    }

    /// The wait for a JetStream API answer or a publish's ack.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// Consumer options with this policy's limits.
    pub fn consumer_options(&self) -> probity_bus::ConsumerOptions {
        probity_bus::ConsumerOptions {
            ack_wait: Duration::from_secs(self.ack_wait_secs),
            max_ack_pending: self.max_ack_pending,
            heartbeat: Duration::from_millis(self.heartbeat_ms),
            ..probity_bus::ConsumerOptions::default()
        }
    }

    /// Lease timing with this policy's TTL (a tick a third of it, at most a second).
    pub fn lease_options(&self) -> probity_bus::LeaseOptions {
        let ttl = Duration::from_millis(self.lease_ttl_ms);
        probity_bus::LeaseOptions {
            ttl,
            tick: (ttl / 3).min(Duration::from_secs(1)),
        }
    }
}

/// How long tokens live.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenPolicy {
    /// Lifetime of a token created without `--expires` (`90d`, `12h`, `30m`, `45s`).
    pub default_lifetime: String,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            default_lifetime: "90d".into(),
        }
    }
}

impl TokenPolicy {
    /// The default lifetime, checked at load.
    pub fn default_lifetime(&self) -> anyhow::Result<chrono::Duration> {
        probity_app::tokens::parse_lifetime(&self.default_lifetime)
            .map_err(|e| anyhow::anyhow!("[tokens] default_lifetime: {e}"))
    }

    /// Applies `PROBITY_TOKEN_LIFETIME` from `var` over the file's value and checks it.
    fn override_from(mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        if let Some(v) = var("PROBITY_TOKEN_LIFETIME").filter(|v| !v.trim().is_empty()) {
            self.default_lifetime = v.trim().to_string();
        }
        self.default_lifetime()
            .context("PROBITY_TOKEN_LIFETIME or [tokens] default_lifetime")?;
        Ok(self)
    }
}

/// How the event store writes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorePolicy {
    /// Concurrent commands' events are appended together in one transaction (ADR 0010);
    /// `false` writes one transaction per command.
    pub group_commit: bool,
}

impl Default for StorePolicy {
    fn default() -> Self {
        Self { group_commit: true }
    }
}

impl StorePolicy {
    /// Applies `PROBITY_GROUP_COMMIT` (`on`/`off`, `true`/`false`, `1`/`0`) from `var`.
    fn override_from(mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        if let Some(v) = var("PROBITY_GROUP_COMMIT").filter(|v| !v.trim().is_empty()) {
            self.group_commit = match v.trim().to_ascii_lowercase().as_str() {
                "on" | "true" | "1" => true,
                "off" | "false" | "0" => false,
                _ => anyhow::bail!("PROBITY_GROUP_COMMIT {v:?}: expected on or off"),
            };
        }
        Ok(self)
    }
}

/// How the deadline engine runs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeadlinePolicy {
    /// Seconds between two passes over the deadline board (may be fractional, > 0).
    pub tick_seconds: f64,
    /// A deadline with at most this many working days left is reminded once; 0: never.
    pub reminder_working_days: u32,
}

impl Default for DeadlinePolicy {
    fn default() -> Self {
        Self {
            tick_seconds: 1.0,
            reminder_working_days: 1,
        }
    }
}

impl DeadlinePolicy {
    /// The tick as a duration.
    pub fn tick(&self) -> Duration {
        Duration::from_secs_f64(self.tick_seconds)
    }

    /// Applies `PROBITY_DEADLINE_TICK` (seconds) and `PROBITY_REMINDER_WORKING_DAYS`
    /// from `var` (the environment) over the file's values, and checks the result.
    fn override_from(mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        if let Some(tick) = var("PROBITY_DEADLINE_TICK").filter(|v| !v.trim().is_empty()) {
            self.tick_seconds = tick.trim().parse().with_context(|| {
                format!("PROBITY_DEADLINE_TICK {tick:?}: expected seconds, e.g. 1 or 0.5")
            })?;
        }
        if let Some(days) = var("PROBITY_REMINDER_WORKING_DAYS").filter(|v| !v.trim().is_empty()) {
            self.reminder_working_days = days.trim().parse().with_context(|| {
                format!("PROBITY_REMINDER_WORKING_DAYS {days:?}: expected a whole number of working days")
            })?;
        }
        anyhow::ensure!(
            self.tick_seconds.is_finite()
                && self.tick_seconds >= 0.01
                && self.tick_seconds <= 86_400.0,
            "the deadline tick must be between 0.01 and 86400 seconds, found {}",
            self.tick_seconds
        );
        Ok(self)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpPolicy {
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// `/readyz` fails when the projections lag the log by more than this.
    pub max_projection_lag_ms: u64,
    /// Requests per second one client address may make without a token (public
    /// endpoints and anything else called without one), on average; may be a fraction
    /// (`PROBITY_PUBLIC_RATE` overrides the file; ADR 0018).
    pub public_rate_per_second: f64,
    /// How many such requests a client may make at once before the rate applies
    /// (`PROBITY_PUBLIC_BURST`).
    pub public_burst: u32,
    /// Peers (reverse proxies) whose `X-Forwarded-For` names the client; any other
    /// peer is the client itself (`PROBITY_TRUSTED_PROXIES`, comma-separated IP
    /// addresses).
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        Self {
            body_limit_bytes: 64 * 1024,
            max_projection_lag_ms: 5_000,
            public_rate_per_second: 20.0,
            public_burst: 100,
            trusted_proxies: Vec::new(),
        }
    }
}

impl HttpPolicy {
    pub fn max_projection_lag(&self) -> Duration {
        Duration::from_millis(self.max_projection_lag_ms)
    }

    /// Applies `PROBITY_PUBLIC_RATE`, `PROBITY_PUBLIC_BURST` and
    /// `PROBITY_TRUSTED_PROXIES` from `var` over the file's values, and checks them.
    fn override_from(mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        if let Some(v) = var("PROBITY_PUBLIC_RATE").filter(|v| !v.trim().is_empty()) {
            self.public_rate_per_second = v.trim().parse().with_context(|| {
                format!("PROBITY_PUBLIC_RATE {v:?}: expected requests per second, e.g. 20 or 0.5")
            })?;
        }
        if let Some(v) = var("PROBITY_PUBLIC_BURST").filter(|v| !v.trim().is_empty()) {
            self.public_burst = v.trim().parse().with_context(|| {
                format!("PROBITY_PUBLIC_BURST {v:?}: expected a whole number of requests")
            })?;
        }
        if let Some(v) = var("PROBITY_TRUSTED_PROXIES") {
            self.trusted_proxies = v
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    p.parse().with_context(|| {
                        format!("PROBITY_TRUSTED_PROXIES: {p:?} is not an IP address")
                    })
                })
                .collect::<anyhow::Result<_>>()?;
        }
        anyhow::ensure!(
            self.public_rate_per_second.is_finite()
                && self.public_rate_per_second > 0.0
                && self.public_burst > 0,
            "the public rate limit needs a rate and a burst above zero, found {}/s and {}",
            self.public_rate_per_second,
            self.public_burst
        );
        Ok(self)
    }

    /// The rate limit of requests without a token.
    pub fn public_rate_limit(&self) -> probity_http::ratelimit::RateLimitConfig {
        probity_http::ratelimit::RateLimitConfig {
            per_second: self.public_rate_per_second,
            burst: self.public_burst,
            trusted_proxies: self.trusted_proxies.clone(),
        }
    }
}

impl Policy {
    pub fn load(path: Option<&Path>) -> anyhow::Result<Policy> {
        let mut policy: Policy = match path {
            None => Policy::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading policy file {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("parsing policy file {}", path.display()))?
            }
        };
        policy.deadlines = policy
            .deadlines
            .override_from(|name| std::env::var(name).ok())?;
        policy.store = policy
            .store
            .override_from(|name| std::env::var(name).ok())?;
        policy.tokens = policy
            .tokens
            .override_from(|name| std::env::var(name).ok())?;
        policy.http = policy.http.override_from(|name| std::env::var(name).ok())?;
        policy.bus = policy.bus.override_from(|name| std::env::var(name).ok())?;
        Ok(policy)
    }
}

/// Parses a clock offset such as `30d`, `12h`, `-5m`, `90s` or `0`.
pub fn parse_clock_offset(s: &str) -> anyhow::Result<chrono::Duration> {
    let s = s.trim();
    if s.is_empty() || s == "0" {
        return Ok(chrono::Duration::zero());
    }
    let (number, unit) = s.split_at(s.len() - 1);
    let n: i64 = number
        .parse()
        .with_context(|| format!("clock offset {s:?}: expected e.g. 30d, 12h, -5m, 90s"))?;
    let d = match unit {
        "d" => chrono::Duration::days(n),
        "h" => chrono::Duration::hours(n),
        "m" => chrono::Duration::minutes(n),
        "s" => chrono::Duration::seconds(n),
        _ => anyhow::bail!("clock offset {s:?}: unit must be d, h, m or s"),
    };
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_offsets_parse_in_days_hours_minutes_and_seconds() {
        assert_eq!(
            parse_clock_offset("30d").unwrap(),
            chrono::Duration::days(30)
        );
        assert_eq!(
            parse_clock_offset("-5m").unwrap(),
            chrono::Duration::minutes(-5)
        );
        assert_eq!(parse_clock_offset("0").unwrap(), chrono::Duration::zero());
        assert!(parse_clock_offset("5w").is_err());
        assert!(parse_clock_offset("xd").is_err());
    }

    #[test]
    fn the_bus_has_one_replica_eight_partitions_and_the_environment_overrides_the_file() {
        let defaults = BusPolicy::default()
            .override_from(|_| None)
            .expect("defaults are valid");
        assert_eq!(defaults.replicas, 1);
        assert_eq!(defaults.partitions, 8);
        assert_eq!(defaults.ack_wait_secs, 15);
        assert_eq!(defaults.request_timeout(), Duration::from_secs(2));
        let env = |name: &str| match name {
            "PROBITY_NATS_REPLICAS" => Some("3".to_string()),
            "PROBITY_NATS_PARTITIONS" => Some("16".to_string()),
            "PROBITY_PARTITION_LEASE_MS" => Some("2000".to_string()),
            "PROBITY_NATS_REQUEST_TIMEOUT_MS" => Some("1000".to_string()),
            _ => None,
        };
        let tuned = BusPolicy::default().override_from(env).unwrap();
        assert_eq!((tuned.replicas, tuned.partitions), (3, 16));
        assert_eq!(tuned.request_timeout(), Duration::from_secs(1));
        assert_eq!(tuned.lease_options().ttl, Duration::from_secs(2));
        let cfg = tuned.bus_config("probity").unwrap();
        assert_eq!((cfg.replicas, cfg.partitions), (3, 16));
        for (name, bad) in [
            ("PROBITY_NATS_REPLICAS", "0"),
            ("PROBITY_NATS_REPLICAS", "7"),
            ("PROBITY_NATS_PARTITIONS", "-1"),
            ("PROBITY_NATS_ACK_WAIT", "soon"),
            ("PROBITY_PARTITION_LEASE_MS", "10"),
            ("PROBITY_NATS_REQUEST_TIMEOUT_MS", "100"),
            ("PROBITY_NATS_REQUEST_TIMEOUT_MS", "600000"),
        ] {
            let var = |n: &str| (n == name).then(|| bad.to_string());
            assert!(
                BusPolicy::default().override_from(var).is_err(),
                "{name}={bad} accepted"
            );
        }
    }

    #[test]
    fn a_secret_never_prints() {
        let s = Secret::new("postgres://u:pw@h/db");
        assert_eq!(format!("{s:?}"), "Secret(***)");
    }

    #[test]
    fn the_deadline_engine_ticks_every_second_and_reminds_one_working_day_ahead_by_default() {
        let p = Policy::default();
        assert_eq!(p.deadlines.tick(), Duration::from_secs(1));
        assert_eq!(p.deadlines.reminder_working_days, 1);
        let p: Policy =
            toml::from_str("[deadlines]\ntick_seconds = 5\nreminder_working_days = 2\n").unwrap();
        assert_eq!(p.deadlines.tick(), Duration::from_secs(5));
        let env = |tick: &'static str, days: &'static str| {
            move |name: &str| match name {
                "PROBITY_DEADLINE_TICK" => Some(tick.to_string()),
                "PROBITY_REMINDER_WORKING_DAYS" => Some(days.to_string()),
                _ => None,
            }
        };
        let d = p.deadlines.clone().override_from(env("0.5", "0")).unwrap();
        assert_eq!(d.tick(), Duration::from_millis(500));
        assert_eq!(d.reminder_working_days, 0);
        assert_eq!(
            p.deadlines.clone().override_from(env("", "")).unwrap(),
            p.deadlines
        );
        assert!(p.deadlines.clone().override_from(env("0", "1")).is_err());
        assert!(p.deadlines.clone().override_from(env("1s", "1")).is_err());
        assert!(p.deadlines.clone().override_from(env("1", "-1")).is_err());
        let group = |v: &'static str| {
            p.store
                .clone()
                .override_from(move |name| (name == "PROBITY_GROUP_COMMIT").then(|| v.to_string()))
        };
        assert!(group("").unwrap().group_commit);
        assert!(!group("off").unwrap().group_commit);
        assert!(group("ON").unwrap().group_commit);
        assert!(group("sometimes").is_err());
    }

    #[test]
    fn tokens_live_90_days_by_default_and_the_environment_overrides_the_file() {
        let p = Policy::default();
        assert_eq!(
            p.tokens.default_lifetime().unwrap(),
            chrono::Duration::days(90)
        );
        let p: Policy = toml::from_str("[tokens]\ndefault_lifetime = \"30d\"\n").unwrap();
        assert_eq!(
            p.tokens.default_lifetime().unwrap(),
            chrono::Duration::days(30)
        );
        let env = |v: &'static str| {
            move |name: &str| (name == "PROBITY_TOKEN_LIFETIME").then(|| v.to_string())
        };
        let t = p.tokens.clone().override_from(env("12h")).unwrap();
        assert_eq!(t.default_lifetime().unwrap(), chrono::Duration::hours(12));
        assert_eq!(p.tokens.clone().override_from(env("")).unwrap(), p.tokens);
        assert!(p.tokens.clone().override_from(env("-1d")).is_err());
        assert!(p.tokens.clone().override_from(env("forever")).is_err());
    }

    #[test]
    fn requests_without_a_token_are_limited_to_20_a_second_with_a_burst_of_100_by_default() {
        let p = Policy::default();
        assert_eq!(p.http.public_rate_per_second, 20.0);
        assert_eq!(p.http.public_burst, 100);
        assert!(p.http.trusted_proxies.is_empty());
        let env = |rate: &'static str, burst: &'static str, proxies: &'static str| {
            move |name: &str| match name {
                "PROBITY_PUBLIC_RATE" => Some(rate.to_string()),
                "PROBITY_PUBLIC_BURST" => Some(burst.to_string()),
                "PROBITY_TRUSTED_PROXIES" => Some(proxies.to_string()),
                _ => None,
            }
        };
        let h = p
            .http
            .clone()
            .override_from(env("5", "10", "10.0.0.1, ::1"))
            .unwrap();
        assert_eq!((h.public_rate_per_second, h.public_burst), (5.0, 10));
        assert_eq!(
            h.trusted_proxies,
            vec![
                "10.0.0.1".parse::<std::net::IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        assert!(p.http.clone().override_from(env("0", "10", "")).is_err());
        assert!(p.http.clone().override_from(env("5", "x", "")).is_err());
        assert!(p
            .http
            .clone()
            .override_from(env("5", "10", "proxy"))
            .is_err());
    }

    #[test]
    fn the_policy_file_overrides_time_limits_and_rejects_unknown_keys() {
        let p: Policy = toml::from_str("[time_limits]\ncomplaint_working_days = 20\n").unwrap();
        assert_eq!(p.time_limits.complaint_working_days, 20);
        assert_eq!(p.time_limits.sign_working_days, 1);
        assert!(toml::from_str::<Policy>("[time_limits]\nnope = 1\n").is_err());
    }
}
