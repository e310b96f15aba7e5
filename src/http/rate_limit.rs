//! Rate limits, decided in this process's memory with GCRA (`governor`), so a flood is turned
//! away before it costs a database round trip.
//!
//! - Requests without a key this process knows are limited per client IP (the public routes, and
//!   anyone guessing keys). A person browsing never meets the default quota; a scraper does.
//! - Requests with a known key are limited only if that key has its own quota
//!   (`keys create --rate`): a shop's client key speaks for thousands of buyers.
//!
//! Every limited request is answered with the IETF `RateLimit` / `RateLimit-Policy` headers; over
//! the limit, a 429 `RATE_LIMITED` with `Retry-After`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use poem::Request;
use poem::http::HeaderValue;

use crate::domain::{Principal, RatePolicy};

type PerIp = RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock, StateInformationMiddleware>;
type PerKey = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

/// How often the per-IP table forgets clients whose buckets are full again.
const FORGET_EVERY: u64 = 10_000;

/// The limiters of one API process.
pub struct RateLimits {
    per_ip: Option<(RatePolicy, PerIp)>,
    trust_forwarded: bool,
    per_key: Mutex<HashMap<uuid::Uuid, Arc<PerKey>>>,
    checks: AtomicU64,
    clock: DefaultClock,
}

/// What the limiter says of one request.
pub enum Verdict {
    /// No limit applies.
    Unlimited,
    /// Within its quota: the headers to add to the answer.
    Allowed(Headers),
    /// Over its quota: answer 429 with these headers after `retry_after`.
    Limited { headers: Headers, retry_after: Duration },
}

/// Whose quota a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The client address (requests without a key this process knows).
    Ip,
    /// An API key with a quota of its own.
    Key,
}

impl Scope {
    /// As the `RateLimit` headers and the metrics name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ip => "ip",
            Scope::Key => "key",
        }
    }
}

/// `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers).
pub struct Headers {
    pub scope: Scope,
    pub policy: HeaderValue,
    pub state: HeaderValue,
}

fn quota(policy: RatePolicy) -> Quota {
    let requests = NonZeroU32::new(policy.requests).unwrap_or(NonZeroU32::MIN);
    let window = Duration::from_secs(u64::from(policy.window_secs));
    Quota::with_period(window / requests.get()).unwrap_or_else(|| Quota::per_second(requests)).allow_burst(requests)
}

impl RateLimits {
    pub fn new(per_ip: Option<RatePolicy>, trust_forwarded: bool) -> RateLimits {
        RateLimits {
            per_ip: per_ip.map(|p| (p, RateLimiter::keyed(quota(p)).with_middleware())),
            trust_forwarded,
            per_key: Mutex::new(HashMap::new()),
            checks: AtomicU64::new(0),
            clock: DefaultClock::default(),
        }
    }

    /// Checks a request whose caller is `known` (a key this process has seen valid) or unknown.
    pub fn check(&self, req: &Request, known: Option<&Principal>) -> Verdict {
        match known {
            Some(principal) => match principal.rate {
                Some(policy) => {
                    let limiter = self.key_limiter(principal.key_id, policy);
                    self.verdict(Scope::Key, policy, limiter.check())
                }
                None => Verdict::Unlimited,
            },
            None => {
                let Some((policy, limiter)) = &self.per_ip else { return Verdict::Unlimited };
                if self.checks.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
                    limiter.retain_recent();
                }
                self.verdict(Scope::Ip, *policy, limiter.check_key(&self.client_ip(req)))
            }
        }
    }

    fn key_limiter(&self, key_id: uuid::Uuid, policy: RatePolicy) -> Arc<PerKey> {
        let mut keys = self.per_key.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        keys.entry(key_id).or_insert_with(|| Arc::new(RateLimiter::direct(quota(policy)).with_middleware())).clone()
    }

    fn verdict(
        &self,
        scope: Scope,
        policy: RatePolicy,
        outcome: Result<governor::middleware::StateSnapshot, governor::NotUntil<governor::clock::QuantaInstant>>,
    ) -> Verdict {
        let per_request = f64::from(policy.window_secs) / f64::from(policy.requests);
        let policy_header = format!("\"{}\";q={};w={}", scope.as_str(), policy.requests, policy.window_secs);
        let headers = |remaining: u32, reset_secs: u64| Headers {
            scope,
            policy: HeaderValue::from_str(&policy_header).unwrap_or(HeaderValue::from_static("")),
            state: HeaderValue::from_str(&format!("\"{}\";r={remaining};t={reset_secs}", scope.as_str()))
                .unwrap_or(HeaderValue::from_static("")),
        };
        match outcome {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                // seconds until the quota is whole again
                let reset = (f64::from(policy.requests - remaining.min(policy.requests)) * per_request).ceil() as u64;
                Verdict::Allowed(headers(remaining, reset))
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let retry = wait.as_secs_f64().ceil().max(1.0) as u64;
                Verdict::Limited { headers: headers(0, retry), retry_after: Duration::from_secs(retry) }
            }
        }
    }

    /// The peer's address; behind a trusted proxy, the first address of `X-Forwarded-For`.
    fn client_ip(&self, req: &Request) -> IpAddr {
        let forwarded = || {
            let header = req.headers().get("x-forwarded-for")?.to_str().ok()?;
            header.split(',').next()?.trim().parse().ok()
        };
        let peer = || req.remote_addr().as_socket_addr().map(|a| a.ip());
        let ip = if self.trust_forwarded { forwarded().or_else(peer) } else { peer() };
        ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }
}
