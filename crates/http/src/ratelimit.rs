//! The public rate limit (issue 10, item 11; ADR 0018): requests without a bearer token
//! (the public disclosure under `/api/v1/public/` and the restriction check, and anything else called without a
//! token) are limited per client address, by default to 20 a second on average with a
//! burst of 100, enough for a person and a polite crawler. Past it a request is 429
//! `rate_limited` with `Retry-After`, before any handler runs.
//!
//! The bucket is `governor`'s GCRA (a maintained crate, not a hand-written token
//! bucket), keyed by the client address:
//! - the TCP peer's address, unless the peer is one of the configured trusted proxies
//!   (`PROBITY_TRUSTED_PROXIES`, `[http] trusted_proxies`);
//! - behind a trusted proxy, the right-most address of `X-Forwarded-For` that is not
//!   itself a trusted proxy (each proxy appends the address it saw, so everything to the
//!   left of it was written by the client and may be forged). A `X-Forwarded-For` from
//!   any other peer is ignored.
//!
//! Requests with a token (staff tools, auditors' scripts) are not limited here: they
//! are authenticated and answerable. Public paths are limited even with a token.
//!
//! The public web pages (`/disclosure`, `/subjects/{code}`, `/sector-lists…`,
//! `/ranking`, `/restrictions`) take from the same per-client bucket through
//! `probity_web::limit`, which answers an HTML 429 page with `Retry-After` (ADR 0030).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;
use crate::AppState;

/// The limit of requests without a token.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitConfig {
    /// Requests per second one client address may make on average (may be a fraction:
    /// `0.2` is one every five seconds).
    pub per_second: f64,
    /// Requests it may make at once before the rate applies.
    pub burst: u32,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for RateLimitConfig {
    /// The shipped limit: 20 requests a second, bursts of 100, no trusted proxy.
    fn default() -> Self {
        Self {
            per_second: 20.0,
            burst: 100,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Checks between two sweeps of the addresses whose buckets are full again.
const SWEEP_EVERY: u64 = 4096;

/// The per-address buckets of one server.
pub struct PublicRateLimit {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    trusted_proxies: Vec<IpAddr>,
    checks: AtomicU64,
}

impl std::fmt::Debug for PublicRateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicRateLimit")
            .field("addresses", &self.limiter.len())
            .field("trusted_proxies", &self.trusted_proxies)
            .finish_non_exhaustive()
    }
}

impl PublicRateLimit {
    /// Buckets of `config` (a rate that is not positive counts as one a second, a zero
    /// burst as one; the settings refuse both).
    pub fn new(config: &RateLimitConfig) -> Self {
        let period = if config.per_second.is_finite() && config.per_second > 0.0 {
            std::time::Duration::from_secs_f64(1.0 / config.per_second)
        } else {
            std::time::Duration::from_secs(1)
        };
        let quota = Quota::with_period(period.max(std::time::Duration::from_nanos(1)))
            .expect("a period above zero")
            .allow_burst(NonZeroU32::new(config.burst).unwrap_or(NonZeroU32::MIN));
        Self {
            limiter: RateLimiter::keyed(quota),
            trusted_proxies: config.trusted_proxies.clone(),
            checks: AtomicU64::new(0),
        }
    }

    /// The client of a request from `peer` with `headers` (see the module docs). A
    /// request without a known peer (a router called in-process) counts as the
    /// unspecified address.
    pub fn client_address(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> IpAddr {
        let Some(peer) = peer else {
            return IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        };
        if !self.trusted_proxies.contains(&peer) {
            return peer;
        }
        let mut client = peer;
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for hop in forwarded.into_iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(address) => {
                    client = address;
                    if !self.trusted_proxies.contains(&address) {
                        break;
                    }
                }
                // Not an address: stop at the last proxy we trust.
                Err(_) => break,
            }
        }
        client
    }

    /// Takes one request of the client of `request` (its peer from `ConnectInfo`, see
    /// [`client_address`](Self::client_address)); `Err(seconds)` to wait when its
    /// bucket is empty. The API's middleware and the public pages' use this.
    pub fn check_request(&self, request: &Request) -> Result<(), u64> {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        self.check(self.client_address(peer, request.headers()))
    }

    /// Takes one request of `client`'s bucket; `Err(seconds)` to wait when it is empty.
    pub fn check(&self, client: IpAddr) -> Result<(), u64> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter.check_key(&client).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.limiter.clock().now());
            // Whole seconds, rounded up: a client that waits that long is taken.
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }
}

/// Whether a request falls under the public limit: a public path, or no token at all.
fn is_limited(request: &Request) -> bool {
    request.uri().path().starts_with("/api/v1/public/")
        || request.uri().path() == crate::restrictions::PATH
        || !request
            .headers()
            .contains_key(axum::http::header::AUTHORIZATION)
}

/// The middleware: 429 `rate_limited` with `Retry-After` when the client's bucket is
/// empty, before the request reaches a handler.
pub async fn limit_public(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if is_limited(&request) {
        if let Err(retry_after_seconds) = state.rate_limit.check_request(&request) {
            tracing::info!(retry_after_seconds, "rate limited a client without a token");
            return ApiError::RateLimited {
                retry_after_seconds,
            }
            .into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", forwarded.parse().unwrap());
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_peer_that_is_not_a_trusted_proxy_is_the_client_whatever_it_forwards() {
        let limit = PublicRateLimit::new(&RateLimitConfig::default());
        assert_eq!(
            limit.client_address(Some(ip("203.0.113.9")), &headers("198.51.100.1")),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_client_is_the_rightmost_untrusted_forwarded_address() {
        let limit = PublicRateLimit::new(&RateLimitConfig {
            trusted_proxies: vec![ip("10.0.0.1"), ip("10.0.0.2")],
            ..RateLimitConfig::default()
        });
        // The client forged the first entry; the proxies appended the rest.
        assert_eq!(
            limit.client_address(
                Some(ip("10.0.0.1")),
                &headers("1.2.3.4, 198.51.100.7, 10.0.0.2")
            ),
            ip("198.51.100.7")
        );
        // No header: the proxy itself.
        assert_eq!(
            limit.client_address(Some(ip("10.0.0.1")), &HeaderMap::new()),
            ip("10.0.0.1")
        );
        // Garbage where the proxy should have written an address: the last trusted hop.
        assert_eq!(
            limit.client_address(Some(ip("10.0.0.1")), &headers("198.51.100.7, junk")),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn a_client_gets_its_burst_then_waits_and_others_are_not_affected() {
        let limit = PublicRateLimit::new(&RateLimitConfig {
            per_second: 1.0,
            burst: 3,
            trusted_proxies: Vec::new(),
        });
        let a = ip("198.51.100.1");
        for _ in 0..3 {
            assert_eq!(limit.check(a), Ok(()));
        }
        assert_eq!(limit.check(a), Err(1));
        assert_eq!(limit.check(ip("198.51.100.2")), Ok(()));
    }
}
