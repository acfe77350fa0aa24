//! Bearer tokens: roles, creation (for the CLI and the first admin token), listing and
//! revocation, verification on every request, and the [`Caller`] a token stands for.
//!
//! A token is 32 random bytes (base64url) shown once at creation; only its SHA-256 is
//! stored (`api_tokens`, migration 0020). The token's `id` is the actor recorded in
//! every event's metadata. Extracting the token from a request is the adapter's job
//! (the HTTP crate's `Auth` extractor); deciding who it is happens here.
//!
//! Every token ends (issue 10, ADR 0018): it expires `expires_at` (by default
//! [`DEFAULT_TOKEN_LIFETIME`] after its creation; `probity token create --expires`) and
//! can be revoked (`probity token revoke <id>`). Both are judged on every request
//! against the stored row, on the machine's real clock (never the drill offset
//! `PROBITY_CLOCK_OFFSET`): there is no cache of valid tokens, so a revocation or an
//! expiry refuses the very next request on every server sharing the store. When a token
//! was last used is written at most once per [`LAST_USED_GRANULARITY`] per token and
//! server, in the background, never by the request that uses it.

use std::str::FromStr;

use base64::Engine as _;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use probity_domain::CreditCode;
use probity_store::Db;
use rand::RngCore as _;
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// What a token may do (see the role table of the API contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Hotline staff: file, accept, decline, dispatch, visit, merge; sees reporters.
    Intake,
    /// Staff of one unit (the token's `unit`): sign, return, extension, reply.
    Handler,
    /// The credit office (unbound) or one authority (bound to a unit).
    Supervisor,
    /// Reads everything, including reporters and histories; never writes.
    Auditor,
    /// Reference data and administration.
    Admin,
    /// A third-party evaluator (§3 of the city's opinions): reads the open data in bulk
    /// and submits third-party information as record proposals; nothing else.
    Evaluator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Intake => "intake",
            Role::Handler => "handler",
            Role::Supervisor => "supervisor",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::Evaluator => "evaluator",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "intake" => Ok(Role::Intake),
            "handler" => Ok(Role::Handler),
            "supervisor" => Ok(Role::Supervisor),
            "auditor" => Ok(Role::Auditor),
            "admin" => Ok(Role::Admin),
            "evaluator" => Ok(Role::Evaluator),
            other => Err(format!(
                "unknown role {other:?}: expected intake, handler, supervisor, auditor, admin or evaluator"
            )),
        }
    }
}

/// Why a token could not be created or counted.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// A handler token must name its unit.
    #[error("a handler token needs --unit <credit code>")]
    HandlerNeedsUnit,
    /// A lifetime must be positive (every token ends; none is created already expired).
    #[error("a token's lifetime must be positive, found {0}")]
    LifetimeNotPositive(String),
    /// No token has this id.
    #[error("no token has the id {0:?}")]
    NotFound(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// How long a token lives when neither `--expires` nor the configuration
/// (`PROBITY_TOKEN_LIFETIME`, `[tokens] default_lifetime`) says otherwise; also the
/// lifetime of a token stored without an expiry (one created by a binary older than
/// migration 0070 during a rolling upgrade), counted from its creation.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::days(90);

/// A token's `last_used_at` is written at most once per this interval per token and
/// server (so it is that coarse), never on the request's own path.
pub const LAST_USED_GRANULARITY: std::time::Duration = std::time::Duration::from_secs(60);

/// Parses a lifetime such as `90d`, `12h`, `30m` or `45s` (positive).
pub fn parse_lifetime(text: &str) -> Result<Duration, String> {
    let lifetime = crate::Clock::parse_offset(text)
        .map_err(|_| format!("invalid lifetime {text:?}: expected e.g. 90d, 12h, 30m or 45s"))?;
    if lifetime <= Duration::zero() {
        return Err(format!("invalid lifetime {text:?}: it must be positive"));
    }
    Ok(lifetime)
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_instant(id: &str, what: &str, text: &str) -> Result<DateTime<Utc>, AppError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| AppError::internal(format!("token {id}: {what} {text:?}: {e}")))
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates a token that expires [`DEFAULT_TOKEN_LIFETIME`] from now and returns it; it
/// is not stored anywhere in the clear and cannot be shown again.
pub async fn create_token(
    db: &Db,
    role: Role,
    unit: Option<CreditCode>,
    label: Option<String>,
) -> Result<String, TokenError> {
    create_token_expiring(db, role, unit, label, DEFAULT_TOKEN_LIFETIME)
        .await
        .map(|created| created.token)
}

/// A token just created: the secret (shown once) and what `probity token list` shows.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    pub token: String,
    pub id: String,
    pub expires_at: DateTime<Utc>,
}

/// Creates a token that expires `lifetime` from now (real time).
#[tracing::instrument(name = "token_create", skip(db, label), fields(role = %role))]
pub async fn create_token_expiring(
    db: &Db,
    role: Role,
    unit: Option<CreditCode>,
    label: Option<String>,
    lifetime: Duration,
) -> Result<CreatedToken, TokenError> {
    if role == Role::Handler && unit.is_none() {
        return Err(TokenError::HandlerNeedsUnit);
    }
    if lifetime <= Duration::zero() {
        return Err(TokenError::LifetimeNotPositive(lifetime.to_string()));
    }
    let mut secret = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut secret);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let id = uuid::Uuid::now_v7().to_string();
    let now = Utc::now();
    let expires_at = now + lifetime;
    sqlx::query(
        "INSERT INTO api_tokens (id, token_hash, role, unit, label, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(hash_token(&token))
    .bind(role.as_str())
    .bind(unit.map(String::from))
    .bind(label)
    .bind(rfc3339(now))
    .bind(rfc3339(expires_at))
    .execute(&db.any)
    .await?;
    Ok(CreatedToken {
        token,
        id,
        expires_at,
    })
}

/// A token as `probity token list` shows it: never the token, never its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: String,
    pub label: Option<String>,
    pub role: String,
    pub unit: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Coarse: to [`LAST_USED_GRANULARITY`].
    pub last_used_at: Option<DateTime<Utc>>,
}

impl TokenInfo {
    /// `active`, `expired` or `revoked` at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at <= now {
            "expired"
        } else {
            "active"
        }
    }
}

/// The stored columns of a token (all but its hash).
type TokenRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

const TOKEN_COLUMNS: &str =
    "id, role, unit, label, created_at, expires_at, revoked_at, last_used_at";

fn token_info(row: TokenRow) -> Result<TokenInfo, AppError> {
    let (id, role, unit, label, created_at, expires_at, revoked_at, last_used_at) = row;
    let created_at = parse_instant(&id, "created_at", &created_at)?;
    let expires_at = match expires_at {
        Some(t) => parse_instant(&id, "expires_at", &t)?,
        None => created_at + DEFAULT_TOKEN_LIFETIME,
    };
    let revoked_at = revoked_at
        .map(|t| parse_instant(&id, "revoked_at", &t))
        .transpose()?;
    let last_used_at = last_used_at
        .map(|t| parse_instant(&id, "last_used_at", &t))
        .transpose()?;
    Ok(TokenInfo {
        id,
        label,
        role,
        unit,
        created_at,
        expires_at,
        revoked_at,
        last_used_at,
    })
}

/// Every token, oldest first.
pub async fn list_tokens(db: &Db) -> Result<Vec<TokenInfo>, AppError> {
    let rows: Vec<TokenRow> = sqlx::query_as(&format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at, id"
    ))
    .fetch_all(&db.any)
    .await?;
    rows.into_iter().map(token_info).collect()
}

/// What a revocation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// The token was revoked now.
    Revoked,
    /// It had been revoked before (at this instant); nothing changed.
    AlreadyRevoked(DateTime<Utc>),
}

/// Revokes the token `id`: every server refuses it from its next request on.
#[tracing::instrument(name = "token_revoke", skip(db))]
pub async fn revoke_token(db: &Db, id: &str) -> Result<Revocation, TokenError> {
    let changed =
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(rfc3339(Utc::now()))
            .bind(id)
            .execute(&db.any)
            .await?
            .rows_affected();
    if changed == 1 {
        return Ok(Revocation::Revoked);
    }
    let revoked: Option<(Option<String>,)> =
        sqlx::query_as("SELECT revoked_at FROM api_tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(&db.any)
            .await?;
    match revoked {
        Some((Some(at),)) => Ok(Revocation::AlreadyRevoked(
            DateTime::parse_from_rfc3339(&at)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default(),
        )),
        // Revoked between the two statements by someone else: it is revoked.
        Some((None,)) => Ok(Revocation::Revoked),
        None => Err(TokenError::NotFound(id.to_string())),
    }
}

/// How many tokens exist (the binary prints a first admin token when there are none).
pub async fn count_tokens(db: &Db) -> Result<i64, TokenError> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM api_tokens")
        .fetch_one(&db.any)
        .await?;
    Ok(n)
}

/// The authenticated caller of a use-case: who it is (the `actor` of its events), in
/// which role, bound to which unit.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's public id: the `actor` of everything this caller does.
    pub token_id: String,
    pub label: Option<String>,
    pub role: Role,
    /// The unit a handler (or bound supervisor) belongs to.
    pub unit: Option<CreditCode>,
}

impl Caller {
    /// Refuses with 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), AppError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "the {} role may not do this",
                self.role.as_str()
            )))
        }
    }

    /// The unit of a handler token (always present: checked at authentication).
    pub fn handler_unit(&self) -> Result<CreditCode, AppError> {
        self.unit
            .clone()
            .ok_or_else(|| AppError::Forbidden("this token is not bound to a unit".into()))
    }
}

/// Verifies bearer tokens against the store on every request (no cache of valid
/// tokens: a revocation must bite at once on every server) and keeps `last_used_at`
/// coarse: it remembers when this server last wrote it for each token.
#[derive(Debug, Default)]
pub struct TokenVerifier {
    /// Token id → when this server last wrote its `last_used_at`.
    last_written: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

/// Tokens whose last write is remembered at most; forgotten all at once past this (the
/// cost is one early write per token).
const LAST_WRITTEN_MAX: usize = 10_000;

impl TokenVerifier {
    /// The caller for `token`; `None` when it is unknown, expired or revoked.
    #[tracing::instrument(name = "token_verify", skip_all)]
    pub async fn authenticate(&self, db: &Db, token: &str) -> Result<Option<Caller>, AppError> {
        let row: Option<TokenRow> = sqlx::query_as(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1"
        ))
        .bind(hash_token(token))
        .fetch_optional(&db.any)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let info = token_info(row)?;
        let now = Utc::now();
        match info.state(now) {
            "active" => {}
            state => {
                tracing::info!(token_id = %info.id, state, "refused a token that has ended");
                return Ok(None);
            }
        }
        self.touch(db, &info, now);
        let role = Role::from_str(&info.role).map_err(AppError::internal)?;
        let unit = match &info.unit {
            Some(u) => Some(
                CreditCode::parse(u)
                    .map_err(|e| AppError::internal(format!("token {}: {e}", info.id)))?,
            ),
            None => None,
        };
        Ok(Some(Caller {
            token_id: info.id,
            label: info.label,
            role,
            unit,
        }))
    }

    /// Writes `last_used_at` in the background when the stored one is older than
    /// [`LAST_USED_GRANULARITY`] and this server has not written it within that time.
    fn touch(&self, db: &Db, info: &TokenInfo, now: DateTime<Utc>) {
        let granularity =
            Duration::from_std(LAST_USED_GRANULARITY).unwrap_or_else(|_| Duration::minutes(1));
        if info.last_used_at.is_some_and(|at| now - at < granularity) {
            return;
        }
        {
            let mut written = self.last_written.lock().unwrap_or_else(|p| p.into_inner());
            if written
                .get(&info.id)
                .is_some_and(|at| at.elapsed() < LAST_USED_GRANULARITY)
            {
                return;
            }
            if written.len() >= LAST_WRITTEN_MAX {
                written.clear();
            }
            written.insert(info.id.clone(), std::time::Instant::now());
        }
        let db = db.clone();
        let id = info.id.clone();
        tokio::spawn(async move {
            if let Err(error) = sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(rfc3339(now))
                .bind(&id)
                .execute(&db.any)
                .await
            {
                tracing::warn!(%error, token_id = %id, "recording when a token was last used failed");
            }
        });
    }
}

/// Looks a bearer token up with a verifier of its own; `None` when unknown, expired or
/// revoked.
pub async fn authenticate(db: &Db, token: &str) -> Result<Option<Caller>, AppError> {
    TokenVerifier::default().authenticate(db, token).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_should_parse_every_role_and_refuse_others() {
        for role in [
            Role::Intake,
            Role::Handler,
            Role::Supervisor,
            Role::Auditor,
            Role::Admin,
            Role::Evaluator,
        ] {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert_eq!("Supervisor".parse::<Role>(), Ok(Role::Supervisor));
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn it_should_parse_positive_lifetimes_only() {
        assert_eq!(parse_lifetime("90d"), Ok(Duration::days(90)));
        assert_eq!(parse_lifetime("12h"), Ok(Duration::hours(12)));
        assert_eq!(parse_lifetime("45s"), Ok(Duration::seconds(45)));
        for bad in ["0", "-1d", "0d", "90", "1w", "never", ""] {
            assert!(parse_lifetime(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn a_token_is_active_until_it_expires_or_is_revoked() {
        let created_at = Utc::now();
        let token = TokenInfo {
            id: "t".into(),
            label: None,
            role: "auditor".into(),
            unit: None,
            created_at,
            expires_at: created_at + Duration::days(90),
            revoked_at: None,
            last_used_at: None,
        };
        assert_eq!(token.state(created_at), "active");
        assert_eq!(token.state(created_at + Duration::days(90)), "expired");
        let revoked = TokenInfo {
            revoked_at: Some(created_at),
            ..token.clone()
        };
        assert_eq!(revoked.state(created_at), "revoked");
    }

    #[test]
    fn a_token_stored_without_an_expiry_lives_the_default_lifetime_from_its_creation() {
        let info = token_info((
            "t".into(),
            "admin".into(),
            None,
            None,
            "2026-01-01T00:00:00.000000Z".into(),
            None,
            None,
            None,
        ))
        .expect("a valid row");
        assert_eq!(info.expires_at, info.created_at + DEFAULT_TOKEN_LIFETIME);
    }

    #[test]
    fn it_should_store_a_hash_not_the_token() {
        let h = hash_token("abc");
        assert_eq!(h.len(), 64);
        assert_ne!(h, "abc");
    }
}
