//! What every request goes through: a request id, a size limit on the body, idempotency keys on
//! POSTs, the error envelope, panic capture, and one log line per request.
//!
//! poem's own middleware is used where it does what we promise: panics are caught by its
//! `CatchPanic` (see `http::app`). The rest is ours because poem's would break a promise:
//! - Request id: poem's `RequestId` (feature `requestid`) takes a caller's id as it comes, of any
//!   length and bytes, into our logs, and sets the header on successful answers only. Ours keeps a
//!   caller's id only if it is a sane token, and every answer, the error envelope included, carries
//!   it (tests/api/errors.rs).
//! - Body limit: poem's `SizeLimit` trusts `Content-Length` and answers 411 without one (a chunked
//!   body; a GET). Ours counts the bytes read, chunked bodies included, and answers 413 in our
//!   envelope.
//! - Request log: poem's `Tracing` logs the whole URI, whose query strings carry user ids, and sees
//!   the answer before our envelope replaces an error. Ours logs the path with the request id and
//!   the status actually sent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use poem::http::{HeaderValue, StatusCode};
use poem::{Endpoint, IntoResponse, Request, Response};
use sqlx::PgPool;
use tracing::Instrument;

use super::error::{Described, RequestInfo, describe};
use super::idempotency::{self, Begin};
use super::input;
use super::rate_limit::{RateLimits, Verdict};
use super::{AllowedMethods, Limits};
use crate::services::{self, auth::KeyCache};

/// The id of the request being served, for handlers and logs.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Put on the response by the panic handler, so the envelope can replace it.
#[derive(Debug, Clone, Copy)]
pub struct Panicked;

const REQUEST_ID: &str = "x-request-id";

/// A caller's id is kept if it is a sane token; otherwise we make one.
fn request_id(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// When the request must be answered by: handlers that wait (`?wait=`) stop waiting before it.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(pub Instant);

/// `keys` is where idempotency keys are kept and callers authenticated; without them,
/// `Idempotency-Key` is ignored.
pub async fn around<E: Endpoint + 'static>(
    next: Arc<E>,
    mut req: Request,
    limits: Limits,
    keys: Option<(PgPool, Arc<KeyCache>)>,
    allowed: AllowedMethods,
    rates: Arc<RateLimits>,
) -> poem::Result<Response> {
    let info =
        RequestInfo { id: request_id(&req), method: req.method().to_string(), path: req.uri().path().to_string() };
    req.extensions_mut().insert(RequestId(info.id.clone()));
    let started = Instant::now();
    req.extensions_mut().insert(Deadline(started + limits.deadline));
    let span =
        tracing::info_span!("request", request.id = %info.id, http.method = %info.method, http.path = %info.path);

    let known = keys.as_ref().and_then(|(_, cache)| {
        let token = idempotency::bearer_token(&req)?;
        services::auth::cached(cache, token)
    });
    let verdict = rates.check(&req, known.as_ref());
    let mut resp = async {
        if let Verdict::Limited { headers, retry_after } = &verdict {
            tracing::debug!(scope = headers.scope.as_str(), "rate limited");
            metrics::counter!("rate_limited_total", "scope" => headers.scope.as_str()).increment(1);
            return info.envelope(Described::rate_limited(headers.scope, *retry_after));
        }
        // Buffering here gives one limit for every route, chunked bodies included.
        let body = match req.take_body().into_bytes_limit(limits.body_bytes).await {
            Ok(body) => body,
            Err(e) => return info.envelope(describe(&e.into())),
        };
        if let Some(refused) = input::unstorable(&req, &body) {
            return info.envelope(refused);
        }
        let claim = match idempotency::begin(keys.as_ref(), &mut req, &body, &info).await {
            Begin::Serve(claim) => claim,
            Begin::Answered(resp) => return resp,
        };
        req.set_body(body);
        let Some(claim) = claim else { return serve(&*next, req, &info, limits.deadline).await };
        // Spawned, so that a caller hanging up cannot cancel the request between its effects and
        // the stored answer (its retry would find the key in progress, then run it again).
        let task_info = info.clone();
        let task = async move {
            let resp = serve(&*next, req, &task_info, limits.deadline).await;
            claim.finish(resp, &task_info).await
        };
        tokio::spawn(task.in_current_span()).await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "request task failed");
            info.envelope(Described::internal())
        })
    }
    .instrument(span.clone())
    .await;

    if let Verdict::Allowed(headers) | Verdict::Limited { headers, .. } = verdict {
        resp.headers_mut().insert("ratelimit-policy", headers.policy);
        resp.headers_mut().insert("ratelimit", headers.state);
    }
    if let Ok(v) = HeaderValue::from_str(&info.id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED
        && let Some(methods) = allowed.for_path(&info.path)
        && let Ok(v) = HeaderValue::from_str(methods)
    {
        resp.headers_mut().insert(poem::http::header::ALLOW, v);
    }
    if resp.status() == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(poem::http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    let route = route_label(&allowed, &info.path);
    let method = info.method.clone();
    metrics::histogram!("http_request_duration_seconds", "route" => route.clone(), "method" => method.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("http_requests_total", "route" => route, "method" => method, "status" => resp.status().as_u16().to_string())
        .increment(1);
    span.in_scope(|| {
        tracing::info!(
            http.status = resp.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "served"
        );
    });
    Ok(resp)
}

/// A request's route as metrics name it: its template, never the path (ids would make a series
/// per buyer, and a scanner's made-up paths a series each).
fn route_label(allowed: &AllowedMethods, path: &str) -> String {
    match allowed.template_of(path) {
        Some(template) => template.to_string(),
        None if path == "/metrics" || path == "/openapi.json" => path.to_string(),
        None if path == "/docs" || path.starts_with("/docs/") => "/docs".to_string(),
        None => "unmatched".to_string(),
    }
}

/// The route's answer, with errors and panics in the envelope, cut short at the deadline (the
/// handler's future is dropped: its transaction rolls back).
async fn serve<E: Endpoint>(next: &E, req: Request, info: &RequestInfo, deadline: Duration) -> Response {
    let call = crate::observe::in_request(info.id.clone(), next.call(req));
    let Ok(answer) = tokio::time::timeout(deadline, call).await else {
        tracing::warn!(deadline_secs = deadline.as_secs(), "request cut short at its deadline");
        return info.envelope(Described::deadline_exceeded(deadline));
    };
    match answer.map(IntoResponse::into_response) {
        Ok(resp) if resp.extensions().get::<Panicked>().is_some() => info.envelope(Described::internal()),
        Ok(resp) => resp,
        Err(err) => info.envelope(describe(&err)),
    }
}

/// Turns a panic into a marked 500; `around` writes the envelope. The cause is logged, never sent.
pub fn on_panic(cause: Box<dyn std::any::Any + Send>) -> Response {
    let message = cause
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| cause.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    tracing::error!(panic = %message, "request handler panicked");
    let mut resp = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    resp.extensions_mut().insert(Panicked);
    resp
}
