//! Where the bus lives in NATS: the prefix, the stream and subject names derived from it,
//! and the stream itself ([`ensure_stream`]).

use std::time::Duration;

use async_nats::jetstream::{self, stream};

use crate::BusError;

/// How long JetStream remembers a `Nats-Msg-Id` to drop a re-published duplicate.
///
/// Ten minutes: it must outlast the longest plausible gap between a publish whose ack
/// was lost and its re-publish from the saved checkpoint (relay backoff is capped at
/// 10 s, a standby relay takes over within a few seconds, a restarted NATS server
/// rebuilds the window from the stream). Beyond the window a duplicate still reaches the
/// projectors, which report it `AlreadyApplied`. The cost is one map entry per message
/// published in the window (about 300 000 at 500 events/s).
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(10 * 60);

/// How long the work stream keeps a message by default (it only feeds Probity's own
/// projectors, which are caught up within seconds; a week covers any outage).
pub const DEFAULT_WORK_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// The bus namespace. `prefix` (default `probity`) starts every subject; tests use a
/// unique prefix each so they never see each other's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusConfig {
    /// One or more subject tokens separated by `.`, without wildcards or whitespace.
    pub prefix: String,
    /// Replicas of the streams (1 on a single server, 3 on a 3-node cluster).
    pub replicas: usize,
    /// Projection partitions (ADR 0026): with `n > 0` the relay also publishes every event
    /// on the work stream, on `<prefix>.work.<partition>.<type>.<id>`, and each partition
    /// is consumed by one server at a time. 0: no work stream (every projector consumer
    /// reads the contract stream, as before).
    pub partitions: u16,
    /// How long the work stream keeps a message.
    pub work_max_age: Duration,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            prefix: "probity".into(),
            replicas: 1,
            partitions: 0,
            work_max_age: DEFAULT_WORK_MAX_AGE,
        }
    }
}

impl BusConfig {
    /// A validated configuration.
    pub fn new(prefix: impl Into<String>) -> Result<Self, BusError> {
        let cfg = Self {
            prefix: prefix.into(),
            ..Self::default()
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// With `replicas` stream replicas (1 to 5, JetStream's limit).
    pub fn with_replicas(mut self, replicas: usize) -> Result<Self, BusError> {
        if !(1..=5).contains(&replicas) {
            return Err(BusError::Config(format!(
                "stream replicas must be 1 to 5, not {replicas}"
            )));
        }
        self.replicas = replicas;
        Ok(self)
    }

    /// With `partitions` projection partitions (0: none; at most 1024).
    pub fn with_partitions(mut self, partitions: u16) -> Result<Self, BusError> {
        if partitions > 1024 {
            return Err(BusError::Config(format!(
                "at most 1024 projection partitions, not {partitions}"
            )));
        }
        self.partitions = partitions;
        Ok(self)
    }

    /// The work stream: `<PREFIX>_WORK`.
    pub fn work_stream_name(&self) -> String {
        format!("{}_WORK", sanitize_name(&self.prefix).to_uppercase())
    }

    /// The subjects the work stream captures: `<prefix>.work.>`.
    pub fn work_subjects(&self) -> String {
        format!("{}.work.>", self.prefix)
    }

    /// The partition of an aggregate: FNV-1a (32 bit) of `<type>:<id>` modulo
    /// `partitions` (0 when unpartitioned). Stable across processes and releases.
    pub fn partition_of(&self, aggregate_type: &str, aggregate_id: &str) -> u16 {
        if self.partitions == 0 {
            return 0;
        }
        let mut hash: u32 = 0x811c_9dc5;
        for byte in aggregate_type
            .bytes()
            .chain(std::iter::once(b':'))
            .chain(aggregate_id.bytes())
        {
            hash ^= u32::from(byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        (hash % u32::from(self.partitions)) as u16
    }

    /// `<prefix>.work.<partition>.<aggregate_type>.<aggregate_id>` (tokens as in
    /// [`BusConfig::subject_for`]).
    pub fn work_subject_for(&self, aggregate_type: &str, aggregate_id: &str) -> String {
        format!(
            "{}.work.{}.{}.{}",
            self.prefix,
            self.partition_of(aggregate_type, aggregate_id),
            subject_token(aggregate_type),
            subject_token(aggregate_id)
        )
    }

    /// The filter of one partition: `<prefix>.work.<partition>.>`.
    pub fn partition_filter(&self, partition: u16) -> String {
        format!("{}.work.{partition}.>", self.prefix)
    }

    /// The durable consumer of one projector on one partition:
    /// `<prefix>_<projector>_p<partition>`, sanitised.
    pub fn partition_consumer_name(&self, projector: &str, partition: u16) -> String {
        sanitize_name(&format!("{}_{}_p{partition}", self.prefix, projector))
    }

    /// Checks that `prefix` is usable as the leading tokens of a NATS subject.
    pub fn validate(&self) -> Result<(), BusError> {
        let bad = self.prefix.is_empty()
            || self
                .prefix
                .split('.')
                .any(|token| token.is_empty() || token.chars().any(|c| !is_subject_char(c)));
        if bad {
            return Err(BusError::Config(format!(
                "bus prefix {:?} is not a valid subject prefix (tokens of letters, digits, '_' or '-' separated by '.')",
                self.prefix
            )));
        }
        Ok(())
    }

    /// The JetStream stream holding the events: `<PREFIX>_EVENTS`, upper-cased, with every
    /// character a stream name may not contain replaced by `_`.
    pub fn stream_name(&self) -> String {
        format!("{}_EVENTS", sanitize_name(&self.prefix).to_uppercase())
    }

    /// The subjects the stream captures: `<prefix>.events.>`.
    pub fn subjects(&self) -> String {
        format!("{}.events.>", self.prefix)
    }

    /// `<prefix>.events.<aggregate_type>.<aggregate_id>`; characters a subject token may
    /// not hold (`.`, `*`, `>`, whitespace) are replaced by `_` (the exact id travels in
    /// the message itself).
    pub fn subject_for(&self, aggregate_type: &str, aggregate_id: &str) -> String {
        format!(
            "{}.events.{}.{}",
            self.prefix,
            subject_token(aggregate_type),
            subject_token(aggregate_id)
        )
    }

    /// The aggregate type token of a subject made by [`BusConfig::subject_for`] (`None`
    /// for any other subject).
    pub fn aggregate_type_token<'s>(&self, subject: &'s str) -> Option<&'s str> {
        let rest = subject.strip_prefix(self.prefix.as_str())?;
        if let Some(events) = rest.strip_prefix(".events.") {
            return events.split('.').next();
        }
        // A work subject: `<prefix>.work.<partition>.<type>.<id>`.
        rest.strip_prefix(".work.")?.split('.').nth(1)
    }

    /// The durable consumer of one projector: `<prefix>_<projector name>`, sanitised.
    pub fn consumer_name(&self, projector: &str) -> String {
        sanitize_name(&format!("{}_{}", self.prefix, projector))
    }
}

fn is_subject_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Stream and consumer names: letters, digits, `_` and `-` only.
fn sanitize_name(raw: &str) -> String {
    raw.chars()
        .map(|c| if is_subject_char(c) { c } else { '_' })
        .collect()
}

pub(crate) fn subject_token(raw: &str) -> String {
    if raw.is_empty() {
        return "_".into();
    }
    raw.chars()
        .map(|c| {
            if c == '.' || c == '*' || c == '>' || c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// The stream configuration Probity relies on: file storage, [`DUPLICATE_WINDOW`], no
/// limits (no maximum age, count or size: the log is the source of truth and the stream
/// its replayable copy), limits retention so several consumers read independently.
pub fn stream_config(cfg: &BusConfig) -> stream::Config {
    stream::Config {
        name: cfg.stream_name(),
        description: Some("Probity committed events (CloudEvents 1.0 JSON)".into()),
        subjects: vec![cfg.subjects()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        discard: stream::DiscardPolicy::Old,
        duplicate_window: DUPLICATE_WINDOW,
        max_messages: -1,
        max_bytes: -1,
        max_messages_per_subject: -1,
        max_consumers: -1,
        max_age: Duration::ZERO,
        num_replicas: cfg.replicas,
        ..Default::default()
    }
}

/// The work stream (only with partitions): `<prefix>.work.>`, file storage, the same
/// duplicate window, replicated like the event stream, messages kept
/// [`BusConfig::work_max_age`] (the log stays the source of truth; a rebuild never needs
/// this stream).
pub fn work_stream_config(cfg: &BusConfig) -> stream::Config {
    stream::Config {
        name: cfg.work_stream_name(),
        description: Some("Probity projection work, partitioned by aggregate (ADR 0026)".into()),
        subjects: vec![cfg.work_subjects()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        discard: stream::DiscardPolicy::Old,
        duplicate_window: DUPLICATE_WINDOW,
        max_messages: -1,
        max_bytes: -1,
        max_messages_per_subject: -1,
        max_consumers: -1,
        max_age: cfg.work_max_age,
        num_replicas: cfg.replicas,
        ..Default::default()
    }
}

/// Creates the stream, or brings an existing one to [`stream_config`]. Idempotent; the
/// relay and every consumer call it at start.
#[tracing::instrument(skip_all, fields(stream = %cfg.stream_name()))]
pub async fn ensure_stream(
    js: &jetstream::Context,
    cfg: &BusConfig,
) -> Result<stream::Info, BusError> {
    cfg.validate()?;
    if cfg.partitions > 0 {
        js.create_or_update_stream(work_stream_config(cfg))
            .await
            .map_err(BusError::nats("ensure work stream"))?;
    }
    js.create_or_update_stream(stream_config(cfg))
        .await
        .map_err(BusError::nats("ensure stream"))
}

/// [`ensure_stream`] at a server's start, retried while JetStream does not answer yet.
///
/// A JetStream request waits only the short request timeout (2 s by default, so a node
/// loss does not stall the relay), but a cluster that has just been started, or
/// restarted from its store directories, answers its first API request only once its
/// meta leader is elected and the streams are recovered, which can take longer. So a
/// NATS error here is retried, with a back-off from 100 ms doubling to 2 s, until
/// `patience` has passed; the last error is returned then. A configuration that cannot
/// work is refused at once.
pub async fn ensure_stream_patiently(
    js: &jetstream::Context,
    cfg: &BusConfig,
    patience: Duration,
) -> Result<stream::Info, BusError> {
    cfg.validate()?;
    let started = tokio::time::Instant::now();
    let mut backoff = Duration::from_millis(100);
    loop {
        match ensure_stream(js, cfg).await {
            Ok(info) => return Ok(info),
            Err(error @ BusError::Nats { .. }) if started.elapsed() + backoff < patience => {
                tracing::warn!(
                    %error,
                    retry_in_ms = backoff.as_millis() as u64,
                    "JetStream does not answer yet; retrying"
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            Err(error) => return Err(error),
        }
    }
}

/// After a transport failure: checks that the streams are there with a stream info
/// request each (answered by the stream's leader) and calls [`ensure_stream`] only when
/// one is missing. Unlike [`ensure_stream`] (a create-or-update, which the JetStream meta
/// leader must answer), it does not wait for the meta leader's election after the loss of
/// the NATS node that led it (docs/deploy.md).
pub async fn check_stream(js: &jetstream::Context, cfg: &BusConfig) -> Result<(), BusError> {
    cfg.validate()?;
    let mut names = Vec::with_capacity(2);
    if cfg.partitions > 0 {
        names.push(work_stream_config(cfg).name);
    }
    names.push(cfg.stream_name());
    for name in names {
        match js.get_stream(&name).await {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    jetstream::context::GetStreamErrorKind::JetStream(ref j)
                        if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
                ) =>
            {
                return ensure_stream(js, cfg).await.map(|_| ());
            }
            Err(e) => return Err(BusError::nats("check stream")(e)),
        }
    }
    Ok(())
}

/// Parses `NATS_URL`: one URL or several seed URLs separated by commas (as NATS clients
/// take them); blanks around a URL are ignored, an empty entry is refused.
pub fn parse_server_list(urls: &str) -> Result<Vec<async_nats::ServerAddr>, BusError> {
    urls.split(',')
        .map(str::trim)
        .map(|url| {
            if url.is_empty() {
                return Err(BusError::Config(format!(
                    "NATS_URL {urls:?} has an empty entry"
                )));
            }
            url.parse::<async_nats::ServerAddr>()
                .map_err(|e| BusError::Config(format!("NATS_URL entry {url:?}: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_derives_stream_subject_and_consumer_names_from_the_prefix() {
        let cfg = BusConfig::new("probity").unwrap();
        assert_eq!(cfg.stream_name(), "PROBITY_EVENTS");
        assert_eq!(cfg.subjects(), "probity.events.>");
        assert_eq!(
            cfg.subject_for("complaint", "0190a1b2-c3d4"),
            "probity.events.complaint.0190a1b2-c3d4"
        );
        assert_eq!(
            cfg.consumer_name("complaint_list"),
            "probity_complaint_list"
        );
    }

    #[test]
    fn it_sanitises_a_dotted_prefix_for_names_but_keeps_it_in_subjects() {
        let cfg = BusConfig::new("gov.jj-probity").unwrap();
        assert_eq!(cfg.stream_name(), "GOV_JJ-PROBITY_EVENTS");
        assert_eq!(cfg.subjects(), "gov.jj-probity.events.>");
        assert_eq!(cfg.consumer_name("views"), "gov_jj-probity_views");
    }

    #[test]
    fn it_replaces_characters_a_subject_token_may_not_hold() {
        let cfg = BusConfig::default();
        assert_eq!(
            cfg.subject_for("access_log", "a.b*c>d e"),
            "probity.events.access_log.a_b_c_d_e"
        );
    }

    #[test]
    fn it_places_an_aggregate_in_one_stable_partition() {
        let cfg = BusConfig::new("probity")
            .unwrap()
            .with_partitions(8)
            .unwrap();
        let p = cfg.partition_of("complaint", "0190a1b2-c3d4");
        assert!(p < 8);
        assert_eq!(p, cfg.partition_of("complaint", "0190a1b2-c3d4"));
        assert_eq!(
            cfg.work_subject_for("complaint", "0190a1b2-c3d4"),
            format!("probity.work.{p}.complaint.0190a1b2-c3d4")
        );
        assert_eq!(cfg.partition_filter(3), "probity.work.3.>");
        assert_eq!(
            cfg.partition_consumer_name("complaint_list", 3),
            "probity_complaint_list_p3"
        );
        assert_eq!(cfg.work_stream_name(), "PROBITY_WORK");
        assert_eq!(
            cfg.aggregate_type_token(&cfg.work_subject_for("complaint", "x")),
            Some("complaint")
        );
        // Many aggregates spread over every partition.
        let used: std::collections::BTreeSet<u16> = (0..200)
            .map(|n| cfg.partition_of("complaint", &format!("case-{n}")))
            .collect();
        assert_eq!(used.len(), 8);
    }

    #[test]
    fn it_takes_one_or_several_comma_separated_server_urls() {
        assert_eq!(parse_server_list("nats://127.0.0.1:4222").unwrap().len(), 1);
        assert_eq!(
            parse_server_list("nats://a:4222, nats://b:4222,nats://c:4222")
                .unwrap()
                .len(),
            3
        );
        assert!(matches!(
            parse_server_list("nats://a:4222,,nats://b:4222"),
            Err(BusError::Config(_))
        ));
    }

    #[test]
    fn it_refuses_replicas_and_partitions_out_of_range() {
        assert!(BusConfig::default().with_replicas(0).is_err());
        assert!(BusConfig::default().with_replicas(6).is_err());
        assert_eq!(BusConfig::default().with_replicas(3).unwrap().replicas, 3);
        assert!(BusConfig::default().with_partitions(1025).is_err());
    }

    #[test]
    fn it_rejects_prefixes_that_are_not_subject_tokens() {
        for bad in ["", "a..b", "a.*", "a>", "with space", ".lead", "trail."] {
            assert!(
                matches!(BusConfig::new(bad), Err(BusError::Config(_))),
                "{bad:?} accepted"
            );
        }
    }
}
