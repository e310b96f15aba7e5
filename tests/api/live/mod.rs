//! Live streams (Server-Sent Events), read as a browser's EventSource reads them.

mod availability;
mod reservations;
mod seatmap;

use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use poem::http::{Method, StatusCode};
use poem::{Endpoint, Request};
use serde_json::Value;

use crate::support::TestApp;

/// One event as received.
#[derive(Debug)]
pub struct Received {
    pub event: String,
    pub id: String,
    pub data: Value,
}

/// An open stream: its events as they come.
pub struct Events {
    bytes: BoxStream<'static, std::io::Result<Vec<u8>>>,
    buffer: String,
}

impl Events {
    /// The next event, or `None` if none comes within `wait` (comment lines are skipped).
    pub async fn next_within(&mut self, wait: Duration) -> Option<Received> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse(&frame) {
                    return Some(event);
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.bytes.next()).await.ok()??;
            self.buffer.push_str(&String::from_utf8(chunk.expect("the stream reads")).unwrap());
        }
    }

    /// Whether the server ends the stream within `wait`, sending no event before.
    pub async fn ends_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            assert!(!self.buffer.contains("event:"), "an event came instead of the end: {}", self.buffer);
            match tokio::time::timeout_at(deadline, self.bytes.next()).await {
                Ok(None) => return true,
                Ok(Some(chunk)) => self.buffer.push_str(&String::from_utf8(chunk.expect("the stream reads")).unwrap()),
                Err(_) => return false,
            }
        }
    }

    /// The next event (within five seconds).
    pub async fn next(&mut self) -> Received {
        self.next_within(Duration::from_secs(5)).await.expect("an event within 5 s")
    }
}

fn parse(frame: &str) -> Option<Received> {
    let (mut event, mut id, mut data) = (String::new(), String::new(), String::new());
    for line in frame.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            event = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("id:") {
            id = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.trim_start());
        }
    }
    (!event.is_empty()).then(|| Received { event, id, data: serde_json::from_str(&data).expect("JSON data") })
}

/// Opens `path` as a stream, resuming after `last_event_id` if given.
pub async fn open(app: &TestApp, path: &str, last_event_id: Option<&str>) -> Events {
    open_with(app, path, None, last_event_id).await
}

/// [`open`] with an API key.
pub async fn open_with(app: &TestApp, path: &str, key: Option<&str>, last_event_id: Option<&str>) -> Events {
    let mut req = Request::builder().method(Method::GET).uri(path.parse().unwrap());
    if let Some(key) = key {
        req = req.header("authorization", format!("Bearer {key}"));
    }
    if let Some(id) = last_event_id {
        req = req.header("last-event-id", id);
    }
    let resp = app.endpoint().call(req.finish()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "the stream opens");
    assert_eq!(resp.content_type(), Some("text/event-stream"));
    let bytes = resp.into_body().into_bytes_stream().map(|chunk| chunk.map(|b| b.to_vec())).boxed();
    Events { bytes, buffer: String::new() }
}
