//! What a process tells Prometheus: one recorder per process (the `metrics` facade, rendered in
//! the Prometheus text format by `metrics-exporter-prometheus`), served at `GET /metrics` by the
//! API and, with `METRICS_BIND`, by each worker. Histograms have buckets, not quantiles, so the
//! replicas of a process can be added up. No label carries a secret or a buyer's data: routes are
//! templates, queues and outcomes are names from a short list.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latencies and lags, in seconds: from a millisecond to a minute.
const SECONDS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
/// Decisions per allocation batch.
const BATCH: &[f64] = &[1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use (tests of one process share it).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full("allocation_batch_decisions".into()), BATCH))
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full("hall_changes_applied".into()), BATCH))
            .expect("bucket lists are not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // another recorder (an embedder's) wins; ours then renders nothing, which is harmless
        let _ = metrics::set_global_recorder(recorder);
        describe();
        handle
    })
}

/// The Prometheus text of everything recorded so far.
pub fn render() -> String {
    let handle = handle();
    handle.run_upkeep();
    handle.render()
}

/// Every family's HELP text, in one place: a family recorded anywhere must be described here.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!("http_requests_total", "HTTP requests by route template, method and status");
    describe_histogram!("http_request_duration_seconds", "HTTP request latency by route template and method");
    describe_counter!("reservations_total", "Reservations by outcome: accepted (queued), held, rejected");
    describe_histogram!("reservation_decision_seconds", "From a reservation's acceptance to its decision");
    describe_gauge!("job_queue_depth", "Jobs waiting to run, per queue");
    describe_gauge!("job_queue_oldest_age_seconds", "Age of the oldest job waiting to run, per queue");
    describe_counter!("job_runs_total", "Job runs per queue");
    describe_counter!("job_failures_total", "Job runs that failed, per queue");
    describe_counter!("job_retries_total", "Job runs that were a retry (attempt > 1), per queue");
    describe_histogram!("hold_expiry_lag_seconds", "From a hold's end to its stock's return");
    describe_histogram!("waitlist_promotion_lag_seconds", "From stock freed to its offer to the waiting list");
    describe_histogram!("allocation_batch_decisions", "Reservations decided per allocation transaction");
    describe_counter!(
        "hall_copies_total",
        "A worker's copy of a seated pool's hall at a batch, by outcome: kept, updated, read whole, warmed ahead"
    );
    describe_histogram!("hall_changes_applied", "Seats taken or freed by others applied to a kept hall at a batch");
    describe_counter!(
        "db_invariant_violations_total",
        "Writes the database refused by a check constraint: should read 0"
    );
    describe_counter!("rate_limited_total", "Requests answered 429, by scope (ip, key)");
    describe_counter!("queue_admitted_total", "Virtual queue entries admitted to buy, by this process's sweeps");
    describe_gauge!(
        "replica_lag_seconds",
        "How far the read replica (DATABASE_REPLICA_URL) replays behind the primary, at its last check"
    );
    describe_gauge!("replica_usable", "1 while public reads go to the replica, 0 while they go to the primary");
    describe_gauge!("live_subscribers", "Live stream (Server-Sent Events) subscribers of this process");
    describe_counter!("replica_reads_total", "Public reads, by where they were served (replica, primary)");
    // counters that should read 0 are shown at 0, not missing until the first bad moment
    metrics::counter!("db_invariant_violations_total").increment(0);
    // and every family is there from the start, so a dashboard (and promtool) sees all of them
    metrics::counter!("queue_admitted_total").increment(0);
    for queue in crate::domain::job::QUEUES {
        for family in ["job_runs_total", "job_failures_total", "job_retries_total"] {
            metrics::counter!(family, "queue" => *queue).increment(0);
        }
    }
    for scope in ["ip", "key"] {
        metrics::counter!("rate_limited_total", "scope" => scope).increment(0);
    }
}

/// Serves `GET /metrics` on `addr` until the process ends (the workers' endpoint).
pub async fn serve(addr: SocketAddr) -> std::io::Result<()> {
    use poem::{Route, Server, get, handler, listener::TcpListener};
    #[handler]
    fn metrics_text() -> String {
        render()
    }
    handle();
    tracing::info!(%addr, "serving metrics");
    Server::new(TcpListener::bind(addr)).run(Route::new().at("/metrics", get(metrics_text))).await
}

tokio::task_local! {
    /// The id of the HTTP request being served, where a service wants to hand it on (to a job).
    static REQUEST_ID: String;
}

/// Runs `work` as part of the request `id`.
pub async fn in_request<F: std::future::Future>(id: String, work: F) -> F::Output {
    REQUEST_ID.scope(id, work).await
}

/// The id of the request this task serves, if it serves one.
pub fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Seconds since `earlier`, never negative.
pub fn seconds_since(earlier: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> f64 {
    (now - earlier).to_std().unwrap_or(Duration::ZERO).as_secs_f64()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_family_shown_has_help_text() {
        let text = super::render();
        let families: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next()).collect();
        assert!(!families.is_empty(), "{text}");
        for family in families {
            assert!(text.contains(&format!("# HELP {family} ")), "no HELP for {family}:\n{text}");
        }
    }
}
