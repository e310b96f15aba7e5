//! What every request goes through: a request id, a size limit on the body, the error envelope,
//! panic capture, and one log line per request.

use std::time::Instant;

use chrono::{SecondsFormat, Utc};
use poem::http::{HeaderValue, StatusCode};
use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument;

use super::error::{Described, ErrorBody, ErrorEnvelope, describe};

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

pub async fn around<E: Endpoint>(next: E, mut req: Request, body_limit: usize) -> poem::Result<Response> {
    let id = request_id(&req);
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request.id = %id, http.method = %method, http.path = %path);
    let started = Instant::now();

    let outcome = async {
        // Buffering here gives one limit for every route, chunked bodies included.
        let body = req.take_body().into_bytes_limit(body_limit).await;
        match body {
            Ok(bytes) => {
                req.set_body(bytes);
                next.call(req).await.map(IntoResponse::into_response)
            }
            Err(e) => Err(e.into()),
        }
    }
    .instrument(span.clone())
    .await;

    let mut resp = match outcome {
        Ok(resp) if resp.extensions().get::<Panicked>().is_some() => {
            envelope(Described::internal(), &id, &method, &path)
        }
        Ok(resp) => resp,
        Err(err) => span.in_scope(|| envelope(describe(&err), &id, &method, &path)),
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    span.in_scope(|| {
        tracing::info!(
            http.status = resp.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "served"
        );
    });
    Ok(resp)
}

fn envelope(d: Described, request_id: &str, method: &str, path: &str) -> Response {
    let body = ErrorEnvelope {
        error: ErrorBody {
            status: d.status,
            code: d.code.as_u16(),
            message: d.message,
            details: d.details,
            request_id: request_id.to_string(),
            method: method.to_string(),
            path: path.to_string(),
            timestamp: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        },
    };
    let json = serde_json::to_vec(&body).unwrap_or_default();
    Response::builder().status(d.code).content_type("application/json").body(json)
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
