//! A closed loop of HTTP requests over keep-alive connections: each connection sends its next
//! request when the previous answer is in, every request timed from send to last body byte.
//! The on-sale's own load (`load.rs`) predates it; the full on-sale's phases use this one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use reqwest::Method;

use crate::report::Report;

/// One request, built before the clock starts.
pub struct Request {
    pub method: Method,
    pub path: String,
    pub body: Option<Vec<u8>>,
}

/// What a phase's requests got.
pub struct Phase {
    pub name: &'static str,
    pub sent: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub transport_errors: u64,
    /// The first body seen for each status other than `ok`.
    pub samples: BTreeMap<u16, String>,
    pub latency_us: Histogram<u64>,
    pub wall: Duration,
}

impl Phase {
    pub fn per_sec(&self) -> f64 {
        self.sent as f64 / self.wall.as_secs_f64()
    }

    /// `{name}_per_sec`, latencies, and answers by status. Answers other than `ok` are counted
    /// by status with the first body seen, so a surprise shows.
    pub fn report(&self, report: &mut Report, ok: u16) {
        let name = self.name;
        report.int(&format!("{name}_requests"), i64::try_from(self.sent).unwrap_or(i64::MAX));
        for (status, n) in &self.statuses {
            report.int(&format!("{name}_answers_{status}"), i64::try_from(*n).unwrap_or(i64::MAX));
        }
        report.int(&format!("{name}_transport_errors"), i64::try_from(self.transport_errors).unwrap_or(i64::MAX));
        for (status, body) in self.samples.iter().filter(|(s, _)| **s != ok) {
            report.text(&format!("{name}_first_answer_{status}"), body.replace('\n', " "));
        }
        // A server error or a request left unanswered is never part of an on-sale: the run fails,
        // whatever else it measured.
        let server_errors: u64 = self.statuses.range(500..).map(|(_, n)| n).sum();
        if server_errors > 0 {
            report.fail(format!("{name}: {server_errors} answers 5xx"));
        }
        if self.transport_errors > 0 {
            report.fail(format!("{name}: {} requests got no answer (transport errors)", self.transport_errors));
        }
        report.float(&format!("{name}_seconds"), self.wall.as_secs_f64(), 2);
        report.float(&format!("{name}_per_sec"), self.per_sec(), 1);
        for (label, quantile) in [("p50", 0.5), ("p99", 0.99)] {
            let ms = self.latency_us.value_at_quantile(quantile) as f64 / 1000.0;
            report.float(&format!("{name}_latency_{label}_ms"), ms, 2);
        }
    }
}

/// Sends `requests` to `api` with `key` over `connections` connections.
pub async fn run(
    name: &'static str,
    api: &reqwest::Url,
    key: &str,
    requests: Vec<Request>,
    connections: u32,
) -> anyhow::Result<Phase> {
    let connections = (connections as usize).min(requests.len().max(1));
    let client = reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(30))
        .build()?;
    let shared =
        Arc::new(Shared { client, api: api.clone(), key: key.to_string(), requests, next: AtomicUsize::new(0) });
    note!("{name}: {} requests over {connections} connections", shared.requests.len());
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections).map(|_| tokio::spawn(connection(name, Arc::clone(&shared)))).collect();
    let mut phase = empty(name);
    for task in tasks {
        let part = task.await??;
        phase.sent += part.sent;
        phase.transport_errors += part.transport_errors;
        for (status, n) in part.statuses {
            *phase.statuses.entry(status).or_default() += n;
        }
        for (status, body) in part.samples {
            phase.samples.entry(status).or_insert(body);
        }
        phase.latency_us.add(&part.latency_us)?;
    }
    phase.wall = started.elapsed();
    note!("{name}: done in {:.1} s", phase.wall.as_secs_f64());
    Ok(phase)
}

struct Shared {
    client: reqwest::Client,
    api: reqwest::Url,
    key: String,
    requests: Vec<Request>,
    next: AtomicUsize,
}

fn empty(name: &'static str) -> Phase {
    Phase {
        name,
        sent: 0,
        statuses: BTreeMap::new(),
        transport_errors: 0,
        samples: BTreeMap::new(),
        latency_us: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant bounds are valid"),
        wall: Duration::ZERO,
    }
}

async fn connection(name: &'static str, shared: Arc<Shared>) -> anyhow::Result<Phase> {
    let mut out = empty(name);
    loop {
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        let Some(request) = shared.requests.get(i) else { return Ok(out) };
        let mut builder =
            shared.client.request(request.method.clone(), shared.api.join(&request.path)?).bearer_auth(&shared.key);
        if let Some(body) = &request.body {
            builder = builder.header("content-type", "application/json").body(body.clone());
        }
        let started = Instant::now();
        out.sent += 1;
        let answer = match builder.send().await {
            Ok(answer) => answer,
            Err(_) => {
                out.transport_errors += 1;
                continue;
            }
        };
        let status = answer.status().as_u16();
        match answer.bytes().await {
            Ok(bytes) => {
                let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                out.latency_us.saturating_record(us.max(1));
                *out.statuses.entry(status).or_default() += 1;
                out.samples
                    .entry(status)
                    .or_insert_with(|| String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into());
            }
            Err(_) => out.transport_errors += 1,
        }
    }
}
