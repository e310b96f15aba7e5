//! The load: one reservation request per buyer, as fast as a fixed number of keep-alive
//! connections allow (each connection sends its next request when the previous answer is in),
//! timing every request from send to last body byte. Without `wait` the answer is the 202 of a
//! queued request (the open loop of the on-sale: requests go out whatever the decisions); with
//! it, each buyer waits for the decision (`?wait=N`, a 200) before the connection's next buyer.
//! Any 5xx answer or transport error fails the run.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;

use crate::catalog::{self, Item};
use crate::report::Report;
use crate::setup::Environment;

/// A request that takes this long is counted as a transport error: the API is stuck.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What to send.
pub struct Plan<'a> {
    pub item: &'a Item,
    /// Requests in all, buyer `i` sending the `i`-th.
    pub requests: u32,
    pub connections: u32,
    pub quantity: i32,
    /// Hold time asked for; `None` keeps the event's default.
    pub hold_minutes: Option<i32>,
    /// Seconds each request asks to wait for its decision (`?wait=`); `None` does not wait.
    pub wait: Option<u32>,
}

/// What came back.
pub struct Outcome {
    pub sent: u64,
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Decided answers (200, with `wait`) by the reservation status they carry.
    pub decided: BTreeMap<String, u64>,
    /// The wait asked for, to name the figures.
    pub wait: Option<u32>,
    /// Requests that got no answer (refused, reset, timed out).
    pub transport_errors: u64,
    /// The first body seen for each unexpected status, and the first transport error, to say why.
    pub samples: BTreeMap<String, String>,
    /// Microseconds from sending a request to having its whole answer.
    pub latency_us: Histogram<u64>,
    /// Wall time of the whole load phase.
    pub wall: Duration,
}

pub async fn run(env: &Environment, plan: &Plan<'_>) -> anyhow::Result<Outcome> {
    let connections = plan.connections.min(plan.requests.max(1));
    let client = reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(connections as usize)
        .timeout(REQUEST_TIMEOUT)
        .build()?;
    let mut url = env.api.join("/api/reservations")?;
    if let Some(wait) = plan.wait {
        url.query_pairs_mut().append_pair("wait", &wait.to_string());
    }
    let shared = Arc::new(Shared {
        client,
        url,
        key: env.client_key.clone(),
        offer_id: plan.item.offer_id.clone(),
        representation_id: plan.item.representation_id.clone(),
        quantity: plan.quantity,
        hold_minutes: plan.hold_minutes,
        requests: plan.requests,
        next: AtomicU32::new(0),
    });
    let waiting = plan.wait.map(|w| format!(", each waiting up to {w} s for its decision")).unwrap_or_default();
    note!("sending {} reservation requests over {connections} connections{waiting}", plan.requests);
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections).map(|_| tokio::spawn(connection(Arc::clone(&shared)))).collect();
    let mut outcome = Outcome::empty(plan.wait);
    for task in tasks {
        let part = task.await?;
        outcome.sent += part.sent;
        outcome.transport_errors += part.transport_errors;
        for (status, n) in part.statuses {
            *outcome.statuses.entry(status).or_default() += n;
        }
        for (status, n) in part.decided {
            *outcome.decided.entry(status).or_default() += n;
        }
        for (key, body) in part.samples {
            outcome.samples.entry(key).or_insert(body);
        }
        outcome.latency_us.add(&part.latency_us)?;
    }
    outcome.wall = started.elapsed();
    note!("load done in {:.1} s", outcome.wall.as_secs_f64());
    Ok(outcome)
}

/// What every connection task reads; `next` hands out buyers so each is sent exactly once.
struct Shared {
    client: reqwest::Client,
    url: reqwest::Url,
    key: String,
    offer_id: String,
    representation_id: String,
    quantity: i32,
    hold_minutes: Option<i32>,
    requests: u32,
    next: AtomicU32,
}

/// One connection's loop: at most `requests` iterations in all tasks together, each bounded by
/// the request timeout. Each task keeps its own counts and histogram, merged at the end, so the
/// hot path shares nothing but the counter.
async fn connection(shared: Arc<Shared>) -> Outcome {
    let mut out = Outcome::empty(None);
    loop {
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        if i >= shared.requests {
            return out;
        }
        let mut body = json!({
            "user_id": catalog::user_id(i),
            "offer_id": shared.offer_id,
            "representation_id": shared.representation_id,
            "quantity": shared.quantity,
        });
        if let Some(minutes) = shared.hold_minutes {
            body["hold_minutes"] = json!(minutes);
        }
        let started = Instant::now();
        let answer = shared.client.post(shared.url.clone()).bearer_auth(&shared.key).json(&body).send().await;
        out.sent += 1;
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => {
                out.transport_errors += 1;
                out.samples.entry("transport".to_string()).or_insert_with(|| format!("{e:#}"));
                continue;
            }
        };
        let status = answer.status().as_u16();
        // read the whole body: the connection is only reused once it is drained
        match answer.bytes().await {
            Ok(bytes) => {
                let elapsed = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                out.latency_us.saturating_record(elapsed.max(1));
                *out.statuses.entry(status).or_default() += 1;
                if status == 200 {
                    // after the clock: what the buyer was told, to compare with the books
                    let decided = serde_json::from_slice::<serde_json::Value>(&bytes).ok();
                    let decided = decided.as_ref().and_then(|v| v["status"].as_str()).unwrap_or("unreadable");
                    *out.decided.entry(decided.to_string()).or_default() += 1;
                } else if status != 202 {
                    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
                    out.samples.entry(status.to_string()).or_insert(text);
                }
            }
            Err(e) => {
                out.transport_errors += 1;
                out.samples.entry("transport".to_string()).or_insert_with(|| format!("{e:#}"));
            }
        }
    }
}

/// 1 µs to 1 h at 3 significant digits: far wider than any answer, so nothing is clipped.
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant bounds are valid")
}

impl Outcome {
    fn empty(wait: Option<u32>) -> Outcome {
        Outcome {
            sent: 0,
            statuses: BTreeMap::new(),
            decided: BTreeMap::new(),
            wait,
            transport_errors: 0,
            samples: BTreeMap::new(),
            latency_us: new_histogram(),
            wall: Duration::ZERO,
        }
    }

    /// Answers that promise a stored reservation: 202 (queued) and, with `wait`, 200 (decided).
    pub fn accepted(&self) -> u64 {
        self.statuses.get(&202).copied().unwrap_or(0) + self.statuses.get(&200).copied().unwrap_or(0)
    }

    /// Percentile of the answer latency, in ms.
    pub fn latency_ms(&self, quantile: f64) -> f64 {
        self.latency_us.value_at_quantile(quantile) as f64 / 1000.0
    }

    /// The client's side of the run. Answers other than 202 are counted by status, with the first
    /// body seen; a server error or a transport error fails the run: the figures of a system that
    /// dropped requests are not figures of a working on-sale.
    pub fn report(&self, report: &mut Report) {
        let secs = self.wall.as_secs_f64();
        report.int("requests_sent", i64::try_from(self.sent).unwrap_or(i64::MAX));
        let queued = self.statuses.get(&202).copied().unwrap_or(0);
        report.int("answers_202", i64::try_from(queued).unwrap_or(i64::MAX));
        for (status, n) in self.statuses.iter().filter(|(s, _)| **s != 202) {
            report.int(&format!("answers_{status}"), i64::try_from(*n).unwrap_or(i64::MAX));
        }
        report.int("transport_errors", i64::try_from(self.transport_errors).unwrap_or(i64::MAX));
        for (what, body) in &self.samples {
            report.text(&format!("first_answer_{what}"), body.replace('\n', " "));
        }
        let server_errors: u64 = self.statuses.iter().filter(|(s, _)| **s >= 500).map(|(_, n)| n).sum();
        if server_errors > 0 {
            report.fail(format!("{server_errors} answers 5xx"));
        }
        if self.transport_errors > 0 {
            report.fail(format!("{} requests got no answer (transport errors)", self.transport_errors));
        }
        for (status, n) in &self.decided {
            report.int(&format!("answered_{status}"), i64::try_from(*n).unwrap_or(i64::MAX));
        }
        report.float("load_seconds", secs, 2);
        report.float("requests_per_sec", self.sent as f64 / secs, 1);
        report.float("accepted_per_sec", self.accepted() as f64 / secs, 1);
        // with `wait` the answer is the decision (or the end of the wait), not the acceptance
        let latency = if self.wait.is_some() {
            let answers: u64 = self.statuses.values().sum();
            report.float("answers_per_sec", answers as f64 / secs, 1);
            "answer_latency"
        } else {
            "accept_latency"
        };
        for (name, quantile) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
            report.float(&format!("{latency}_{name}_ms"), self.latency_ms(quantile), 2);
        }
        report.float(&format!("{latency}_max_ms"), self.latency_us.max() as f64 / 1000.0, 2);
    }
}
