//! Sign-in and CSRF. Signing in with a bearer token sets the session cookie
//! [`SESSION_COOKIE`] to that token (`HttpOnly`, `SameSite=Strict`, `Path=/`, and
//! `Secure` when the request came over TLS), so a page authenticates exactly as the API
//! does, through the application's token cache: roles, units, revocation and expiry all
//! apply unchanged. Every form carries a CSRF field: signed in, the SHA-256 of a
//! constant and the session's token (a page of another origin can neither read the
//! cookie nor compute it); on the sign-in form, before there is a session, a random
//! value also set as the cookie [`SIGN_IN_COOKIE`] (double submit).

use axum::http::{header, HeaderMap, HeaderValue};
use probity_app::{Caller, Role};
use probity_http::{ApiError, AppState};
use sha2::{Digest, Sha256};

/// The session cookie: the bearer token the user signed in with.
pub const SESSION_COOKIE: &str = "probity_session";
/// The sign-in form's double-submit cookie.
pub const SIGN_IN_COOKIE: &str = "probity_sign_in";
/// The hidden field of every form.
pub const CSRF_FIELD: &str = "csrf";

/// The value of cookie `name` in the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Whether the request came over TLS (directly or through a proxy that says so).
pub fn over_tls(headers: &HeaderMap, scheme: Option<&str>) -> bool {
    scheme == Some("https")
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value with the flags every cookie of the pages has.
pub fn set_cookie(name: &str, value: &str, tls: bool, max_age: Option<i64>) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if tls {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The CSRF value of a session.
pub fn csrf_of(token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"probity-web-csrf\n");
    h.update(token.as_bytes());
    hex::encode(h.finalize())
}

/// Whether `given` equals `expected` (compared in constant time).
pub fn same(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// A signed-in user: who, and the CSRF value their forms carry.
#[derive(Clone)]
pub struct Session {
    pub caller: Caller,
    pub csrf: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("actor", &self.caller.token_id)
            .field("role", &self.caller.role)
            .finish_non_exhaustive()
    }
}

/// The caller a token stands for, as the API's `Auth` extractor decides it.
pub async fn caller_of(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    let caller = state
        .app
        .tokens
        .authenticate(&state.db, token.trim())
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    if caller.role == Role::Handler && caller.unit.is_none() {
        return Err(ApiError::Forbidden(
            "a handler token must be bound to a unit".into(),
        ));
    }
    Ok(caller)
}

/// The session of a request, if it has a valid one.
pub async fn session(state: &AppState, headers: &HeaderMap) -> Result<Option<Session>, ApiError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    match caller_of(state, &token).await {
        Ok(caller) => Ok(Some(Session {
            caller,
            csrf: csrf_of(&token),
        })),
        Err(ApiError::Unauthenticated) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_is_found_among_others_and_flags_are_set() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; probity_session=tok; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("tok"));
        assert_eq!(cookie(&h, "c"), None);
        let plain = set_cookie(SESSION_COOKIE, "tok", false, None);
        let plain = plain.to_str().unwrap();
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
        assert!(!plain.contains("Secure"));
        let tls = set_cookie(SESSION_COOKIE, "tok", true, None);
        assert!(tls.to_str().unwrap().ends_with("; Secure"));
    }

    #[test]
    fn the_csrf_value_depends_on_the_session_and_compares_exactly() {
        assert_ne!(csrf_of("a"), csrf_of("b"));
        assert!(same(&csrf_of("a"), &csrf_of("a")));
        assert!(!same(&csrf_of("a"), &csrf_of("b")));
        assert!(!same("", &csrf_of("a")));
    }
}
