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

/// The bus namespace. `prefix` (default `probity`) starts every subject; tests use a
/// unique prefix each so they never see each other's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusConfig {
    /// One or more subject tokens separated by `.`, without wildcards or whitespace.
    pub prefix: String,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            prefix: "probity".into(),
        }
    }
}

impl BusConfig {
    /// A validated configuration.
    pub fn new(prefix: impl Into<String>) -> Result<Self, BusError> {
        let cfg = Self {
            prefix: prefix.into(),
        };
        cfg.validate()?;
        Ok(cfg)
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
        subject
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix(".events.")?
            .split('.')
            .next()
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
    js.create_or_update_stream(stream_config(cfg))
        .await
        .map_err(BusError::nats("ensure stream"))
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
    fn it_rejects_prefixes_that_are_not_subject_tokens() {
        for bad in ["", "a..b", "a.*", "a>", "with space", ".lead", "trail."] {
            assert!(
                matches!(BusConfig::new(bad), Err(BusError::Config(_))),
                "{bad:?} accepted"
            );
        }
    }
}
