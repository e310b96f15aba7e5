//! `Idempotency-Key` on POSTs: a retry with the same key and request gets the first answer again
//! instead of doing the thing twice.
//!
//! The first request claims the key (a row, in its own short transaction; the primary key decides
//! between two racing requests, not a lock in this process), is served, and its answer, as sent,
//! envelope included, is stored. Then a retry with the same request gets that answer replayed; a
//! retry with another request is a 422 `IDEMPOTENCY_KEY_REUSED`; a retry while the first is still
//! being served is a 409 `IDEMPOTENCY_KEY_IN_PROGRESS` with `Retry-After`.
//!
//! Keys are scoped to the caller by the sha-256 of its `Authorization` header, so claiming needs
//! no key lookup. Requests without one are not idempotent: every POST that changes state needs a
//! key, so they are refused anyway, and one shared anonymous scope would let strangers be replayed
//! each other's answers.
//!
//! Answers that ask for a retry (5xx, 429) or name no caller (401) are not kept: the claim is
//! released, so the retry runs again. A claim whose process died before storing the answer stays in
//! progress until [`crate::domain::idempotency::ABANDONED_AFTER`], then may be claimed again.
//!
//! Running again must not do twice what the first attempt did without being able to say so: a
//! 503 for a connection lost between a commit and its acknowledgement (a failover) comes after
//! the row was written. So the claim also fixes the id of what the request creates ([`NewId`]);
//! the same request taking the claim over (released or abandoned) gets the same id, and the
//! primary key of what it creates turns the second insert into finding the first.

use chrono::{DateTime, Utc};
use std::sync::Arc;

use poem::http::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION};
use poem::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use poem::{Request, Response};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::error::{ApiError, Described, RequestInfo, describe};
use crate::domain::Principal;
use crate::domain::idempotency::StoredAnswer;
use crate::services::idempotency::{self, Claimed};
use crate::services::{self, Error, auth::KeyCache};

const HEADER: &str = "Idempotency-Key";
/// On a replayed answer, so the caller can tell it was not served again.
const REPLAYED: &str = "idempotent-replayed";
const MAX_KEY_LEN: usize = 255;

/// What to do with a request once its `Idempotency-Key` has been looked at.
pub enum Begin {
    /// Serve it; with a claim, hand the answer to [`Claim::finish`].
    Serve(Option<Claim>),
    /// Answered without serving it: a replay, or a refusal in the envelope.
    Answered(Response),
}

/// A key held by the request being served.
#[derive(Clone)]
pub struct Claim {
    pool: PgPool,
    scope: [u8; 32],
    key: String,
    /// Identifies this claim, so a request that outlived it (abandoned, taken over) cannot store
    /// its answer over the next one's.
    claimed_at: DateTime<Utc>,
}

/// Claims the key of a POST that has one, or answers it from an earlier claim. The caller is
/// authenticated first: a request without a valid API key claims nothing (the route answers it
/// 401), and an answer is replayed only to the key that made the request, while it is valid.
pub async fn begin(
    keys: Option<&(PgPool, Arc<KeyCache>)>,
    req: &mut Request,
    body: &[u8],
    info: &RequestInfo,
) -> Begin {
    let Some((pool, cache)) = keys.filter(|_| req.method() == Method::POST) else { return Begin::Serve(None) };
    let Some(key) = req.headers().get(HEADER) else { return Begin::Serve(None) };
    let key = match valid_key(key) {
        Ok(key) => key.to_string(),
        Err(reason) => return Begin::Answered(info.envelope(Described::invalid_header(HEADER, reason))),
    };
    let Some(token) = bearer_token(req) else { return Begin::Serve(None) };
    let principal = match services::auth::authenticate_cached(pool, cache, token).await {
        Ok(principal) => principal,
        Err(Error::Unauthenticated(_)) => return Begin::Serve(None),
        Err(e) => return Begin::Answered(info.envelope(describe(&ApiError(e).into()))),
    };
    let scope: [u8; 32] = Sha256::digest(principal.key_id.as_bytes()).into();
    req.extensions_mut().insert(Authenticated(principal));
    match claim_or_answer(pool, scope, key, &request_hash(req, body), info).await {
        Ok((begin, creates)) => {
            if let Some(creates) = creates {
                req.extensions_mut().insert(NewId(creates));
            }
            begin
        }
        // described as any database error is: an unreachable database (a failover) is a 503 to
        // retry, with nothing done; anything else a 500, logged there
        Err(e) => {
            let error = poem::Error::from(super::error::ApiError(crate::services::Error::from(e)));
            Begin::Answered(info.envelope(super::error::describe(&error)))
        }
    }
}

/// The id to give what this request creates: fixed by its claim on an `Idempotency-Key`, so that a
/// retry finds what an attempt whose answer was lost created (see the module). Absent without a
/// key: the route makes a new one.
#[derive(Debug, Clone, Copy)]
pub struct NewId(pub uuid::Uuid);

impl NewId {
    /// The id fixed by the request's claim, else a new time-ordered one.
    pub fn of(req: &Request) -> uuid::Uuid {
        req.extensions().get::<NewId>().map_or_else(uuid::Uuid::now_v7, |id| id.0)
    }
}

/// The caller an earlier step of this request authenticated, so the route does not look again.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

/// The token of `Authorization: Bearer TOKEN`.
pub(super) fn bearer_token(req: &Request) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn valid_key(key: &HeaderValue) -> Result<&str, &'static str> {
    match key.to_str() {
        Ok("") => Err("must not be empty"),
        Ok(key) if key.len() > MAX_KEY_LEN => Err("must be at most 255 characters"),
        Ok(key) => Ok(key),
        Err(_) => Err("must be visible ASCII"),
    }
}

/// What makes two requests the same: method, path with query, and body.
fn request_hash(req: &Request, body: &[u8]) -> [u8; 32] {
    let target = req.uri().path_and_query().map_or("", |p| p.as_str());
    let mut hasher = Sha256::new();
    // neither the method nor the target can contain a newline: the parts cannot run together
    for part in [req.method().as_str().as_bytes(), b"\n", target.as_bytes(), b"\n", body] {
        hasher.update(part);
    }
    hasher.finalize().into()
}

async fn claim_or_answer(
    pool: &PgPool,
    scope: [u8; 32],
    key: String,
    request_hash: &[u8],
    info: &RequestInfo,
) -> sqlx::Result<(Begin, Option<uuid::Uuid>)> {
    let answer = match idempotency::claim(pool, &scope, &key, request_hash).await? {
        Claimed::Claimed { at, creates } => {
            let claim = Claim { pool: pool.clone(), scope, key, claimed_at: at };
            return Ok((Begin::Serve(Some(claim)), Some(creates)));
        }
        Claimed::Held { same_request: false, .. } => info.envelope(Described::idempotency_key_reused()),
        Claimed::Held { same_request: true, answer: Some(answer) } => replay(answer, info),
        Claimed::Held { same_request: true, answer: None } => in_progress(info),
        // the row went away just now: a retry will claim it
        Claimed::Dropped => in_progress(info),
    };
    Ok((Begin::Answered(answer), None))
}

fn in_progress(info: &RequestInfo) -> Response {
    info.envelope(Described::idempotency_key_in_progress())
}

fn replay(answer: StoredAnswer, info: &RequestInfo) -> Response {
    let Some(status) = u16::try_from(answer.status_code).ok().and_then(|s| StatusCode::from_u16(s).ok()) else {
        tracing::error!(status = answer.status_code, "a stored answer has an impossible status");
        return info.envelope(Described::internal());
    };
    let mut resp = Response::builder().status(status).header(REPLAYED, "true").body(answer.body);
    let headers = resp.headers_mut();
    for (name, value) in [(CONTENT_TYPE, answer.content_type), (LOCATION, answer.location)] {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, value);
        }
    }
    resp
}

/// Whether an answer is the one every retry should get.
fn worth_keeping(status: StatusCode) -> bool {
    !(status.is_server_error() || status == StatusCode::UNAUTHORIZED || status == StatusCode::TOO_MANY_REQUESTS)
}

impl Claim {
    /// Stores the answer for retries (or releases the claim, see [`worth_keeping`]) and gives it back.
    pub async fn finish(self, mut resp: Response, info: &RequestInfo) -> Response {
        if !worth_keeping(resp.status()) {
            self.release().await;
            return resp;
        }
        let body = match resp.take_body().into_vec().await {
            Ok(body) => body,
            Err(e) => {
                tracing::error!(error = %e, "an answer could not be read to be kept");
                self.release().await;
                return info.envelope(Described::internal());
            }
        };
        let answer = StoredAnswer {
            status_code: i32::from(resp.status().as_u16()),
            content_type: header(resp.headers(), CONTENT_TYPE),
            body,
            location: header(resp.headers(), LOCATION),
        };
        match self.store(&answer).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(idempotency.key = %self.key, "the claim was taken over before its answer"),
            // the caller still gets its answer; it is written again once the database answers
            Err(e) => {
                tracing::warn!(error = %e, idempotency.key = %self.key, "an answer could not be kept yet");
                let (claim, answer) = (self.clone(), answer.clone());
                write_later("the answer", self.key.clone(), move || {
                    let (claim, answer) = (claim.clone(), answer.clone());
                    async move { claim.store(&answer).await.map(|_| ()) }
                });
            }
        }
        resp.set_body(answer.body);
        resp
    }

    async fn store(&self, answer: &StoredAnswer) -> sqlx::Result<bool> {
        idempotency::keep(&self.pool, &self.scope, &self.key, self.claimed_at, answer).await
    }

    async fn write_release(&self) -> sqlx::Result<()> {
        idempotency::release(&self.pool, &self.scope, &self.key, self.claimed_at).await
    }

    async fn release(&self) {
        if let Err(e) = self.write_release().await {
            tracing::warn!(error = %e, idempotency.key = %self.key, "an idempotency claim could not be released yet");
            let claim = self.clone();
            write_later("the claim's release", self.key.clone(), move || {
                let claim = claim.clone();
                async move { claim.write_release().await }
            });
        }
    }
}

/// How often, and how many times, a claim's answer or release that could not be written (the
/// database was lost mid-request: a failover) is written again in the background. A new primary
/// answers within seconds; the buyer's retry then gets the answer, or goes through, instead of a
/// 409 `IDEMPOTENCY_KEY_IN_PROGRESS` until the claim counts as abandoned (two minutes).
const WRITE_AGAIN_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
const WRITE_AGAIN_TIMES: u32 = 90;

fn write_later<F, Fut>(what: &'static str, key: String, mut write: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = sqlx::Result<()>> + Send,
{
    tokio::spawn(async move {
        for _ in 0..WRITE_AGAIN_TIMES {
            tokio::time::sleep(WRITE_AGAIN_EVERY).await;
            if write().await.is_ok() {
                tracing::info!(idempotency.key = %key, what, "written once the database answered");
                return;
            }
        }
        tracing::error!(idempotency.key = %key, what, "could not be written: retries wait until the claim is abandoned");
    });
}

fn header(headers: &HeaderMap, name: HeaderName) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}
