//! Bearer tokens: roles, creation (for the CLI and the first admin token), lookup with a
//! short-lived cache, and the [`Caller`] a token stands for.
//!
//! A token is 32 random bytes (base64url) shown once at creation; only its SHA-256 is
//! stored (`api_tokens`, migration 0020). The token's `id` is the actor recorded in
//! every event's metadata. Extracting the token from a request is the adapter's job
//! (the HTTP crate's `Auth` extractor); deciding who it is happens here.

use std::str::FromStr;

use base64::Engine as _;
use chrono::{SecondsFormat, Utc};
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
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Intake => "intake",
            Role::Handler => "handler",
            Role::Supervisor => "supervisor",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
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
            other => Err(format!(
                "unknown role {other:?}: expected intake, handler, supervisor, auditor or admin"
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
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates a token and returns it; it is not stored anywhere in the clear and cannot be
/// shown again.
#[tracing::instrument(name = "token_create", skip(db, label), fields(role = %role))]
pub async fn create_token(
    db: &Db,
    role: Role,
    unit: Option<CreditCode>,
    label: Option<String>,
) -> Result<String, TokenError> {
    if role == Role::Handler && unit.is_none() {
        return Err(TokenError::HandlerNeedsUnit);
    }
    let mut secret = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut secret);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    sqlx::query(
        "INSERT INTO api_tokens (id, token_hash, role, unit, label, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(hash_token(&token))
    .bind(role.as_str())
    .bind(unit.map(String::from))
    .bind(label)
    .bind(Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true))
    .execute(&db.any)
    .await?;
    Ok(token)
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

/// Known tokens, remembered for [`TOKEN_CACHE_TTL`] so that a request costs no token
/// query. Unknown tokens are never remembered (a token created a moment ago by the CLI
/// works at once); a remembered token is at most the TTL out of date, which bounds how
/// long a future revocation takes to bite.
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (Caller, std::time::Instant)>>,
}

/// How long a known token is served from memory.
pub const TOKEN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// Tokens remembered at most; the cache is emptied when it would grow past this.
const TOKEN_CACHE_MAX: usize = 10_000;

impl TokenCache {
    /// The caller for `token`, from memory or from the store.
    #[tracing::instrument(name = "token_verify", skip_all)]
    pub async fn authenticate(&self, db: &Db, token: &str) -> Result<Option<Caller>, AppError> {
        let key = hash_token(token);
        if let Some(auth) = self.get(&key) {
            return Ok(Some(auth));
        }
        let found = authenticate(db, token).await?;
        if let Some(auth) = &found {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if entries.len() >= TOKEN_CACHE_MAX {
                entries.clear();
            }
            entries.insert(key, (auth.clone(), std::time::Instant::now()));
        }
        Ok(found)
    }

    fn get(&self, key: &str) -> Option<Caller> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(_, at)| at.elapsed() < TOKEN_CACHE_TTL)
            .map(|(auth, _)| auth.clone())
    }
}

/// Looks a bearer token up; `None` when unknown.
pub async fn authenticate(db: &Db, token: &str) -> Result<Option<Caller>, AppError> {
    let row: Option<(String, String, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT id, role, unit, label FROM api_tokens WHERE token_hash = $1")
            .bind(hash_token(token))
            .fetch_optional(&db.any)
            .await?;
    let Some((id, role, unit, label)) = row else {
        return Ok(None);
    };
    let role = Role::from_str(&role).map_err(AppError::internal)?;
    let unit = match unit {
        Some(u) => Some(
            CreditCode::parse(&u).map_err(|e| AppError::internal(format!("token {id}: {e}")))?,
        ),
        None => None,
    };
    Ok(Some(Caller {
        token_id: id,
        label,
        role,
        unit,
    }))
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
        ] {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert_eq!("Supervisor".parse::<Role>(), Ok(Role::Supervisor));
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn it_should_store_a_hash_not_the_token() {
        let h = hash_token("abc");
        assert_eq!(h.len(), 64);
        assert_ne!(h, "abc");
    }
}
