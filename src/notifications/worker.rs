//! The apalis worker of the `notifications` queue, registered by fulfillment workers.

use std::time::Duration;

use apalis::prelude::{BackendExt, Monitor, WorkerBuilder, WorkerBuilderExt};
use apalis_postgres::PostgresStorage;
use sqlx::PgPool;

use super::{DeliverNotification, Notifier, QUEUE, deliver};
use crate::jobs::runtime::{config, worker_name};

/// New notifications wake the worker at once; retries are delayed jobs, which only polling sees,
/// so the interval bounds how late a retry can start after its backoff.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Adds the delivery worker to `monitor`.
pub fn register(monitor: Monitor, pool: &PgPool, notifier: &Notifier, heartbeat: Duration) -> Monitor {
    let channels: Vec<_> = notifier.channels().iter().map(|c| c.as_str()).collect();
    if channels.is_empty() {
        tracing::warn!("no notification channel configured: notifications are recorded and logged, not sent");
    } else {
        tracing::info!(?channels, max_attempts = notifier.max_attempts(), "notification channels");
    }
    let pool = pool.clone();
    let notifier = notifier.clone();
    monitor.register(move |_| {
        let backend = PostgresStorage::<DeliverNotification>::new(&pool)
            .with_config(config(QUEUE, 10, heartbeat))
            .with_pubsub()
            .poll_with_interval(POLL_INTERVAL);
        WorkerBuilder::new(worker_name(QUEUE))
            .backend(backend)
            .data(pool.clone())
            .data(notifier.clone())
            // deliveries wait on receivers, not on the CPU
            .concurrency(8)
            .build(deliver::handle)
    })
}
