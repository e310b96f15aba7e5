//! Wiring apalis workers: which queue, how they poll, how many at once, how they stop.

use std::time::Duration;

use apalis::prelude::BackendExt;
use apalis::prelude::{IntervalStrategy, Monitor, PollWith, WorkerBuilder, WorkerBuilderExt};
use apalis_postgres::{Config, PostgresStorage, Pubsub};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::handlers;
use crate::domain::job::{AllocateItem, ExpireHolds, IssueTickets};
use crate::domain::job::{DeliverNotification, Job};
use crate::notifications::Notifier;

use super::deliver;
use super::wakeups::Wakeups;

/// A queue's storage woken by its notifications (see [`Wakeups`]), and polled every `interval`
/// for what no notification announces (retries, delayed jobs).
fn notified<J: Job>(pool: &PgPool, config: Config, interval: Duration) -> Notified<J> {
    let notifications = Pubsub::new(pool.clone(), J::QUEUE.to_string());
    PollWith::new(PostgresStorage::<J>::new(pool).with_config(config), Wakeups::new(notifications))
        .poll_with_interval(interval)
}

type Notified<J> = PollWith<PollWith<PostgresStorage<J>, Wakeups<Pubsub>>, IntervalStrategy>;

/// Unique per process, so a restart never reuses the name of a worker whose jobs are still
/// marked running (apalis would leave them so forever).
pub fn worker_name(role: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let suffix: u32 = rand::random();
    format!("{role}-{}-{}-{suffix:08x}", host.trim(), std::process::id())
}

/// A dead worker's jobs go back to the queue after 6 missed heartbeats (5 s x 6 = 30 s by
/// default), not apalis's 5 minutes.
fn config(queue: &str, batch_size: usize, heartbeat: Duration) -> Config {
    Config::default().queue(queue).batch_size(batch_size).heartbeat_interval(heartbeat).missed_heartbeats(6)
}

/// How often workers tell they are alive, by default.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// Which workers a process runs.
#[derive(Debug, Clone)]
pub struct Roles {
    /// Decide reservations, and end holds when their time comes.
    pub reservations: bool,
    /// Issue tickets and deliver notifications.
    pub fulfillment: bool,
    /// The channels and retry policy notifications are delivered with (fulfillment only).
    pub notifier: Notifier,
    /// How often the workers tell they are alive; a worker silent for 6 of these is taken for
    /// dead and its jobs go back to the queue.
    pub heartbeat: Duration,
}

impl Default for Roles {
    fn default() -> Self {
        Roles { reservations: false, fulfillment: false, notifier: Notifier::default(), heartbeat: HEARTBEAT }
    }
}

/// Runs the workers of `roles` until `shutdown`, letting in-flight jobs finish.
pub async fn run(pool: PgPool, roles: Roles, shutdown: CancellationToken) -> Result<(), apalis::prelude::MonitorError> {
    let mut monitor = Monitor::new().shutdown_timeout(Duration::from_secs(20)).should_restart(|ctx, error| {
        tracing::warn!(worker = %ctx.name(), %error, "worker stopped on an error; restarting it");
        true
    });
    let heartbeat = roles.heartbeat;
    if roles.reservations {
        let halls = crate::services::halls::Halls::of_this_process();
        tokio::spawn(crate::services::halls::keep_warm(pool.clone(), halls, shutdown.clone()));
        let p = pool.clone();
        monitor = monitor.register(move |_| {
            // new reservations notify at once; the interval catches retries and anything missed
            let backend =
                notified::<AllocateItem>(&p, config(AllocateItem::QUEUE, 20, heartbeat), Duration::from_secs(1));
            WorkerBuilder::new(worker_name(AllocateItem::QUEUE))
                .backend(backend)
                .data(p.clone())
                .concurrency(4)
                .build(handlers::allocate)
        });
        let p = pool.clone();
        monitor = monitor.register(move |_| {
            // expiry jobs are inserted already delayed: no notification reaches a worker when they
            // come due, so only a short polling interval keeps the expiry lag small
            let backend = PostgresStorage::<ExpireHolds>::new(&p)
                .with_config(config(ExpireHolds::QUEUE, 50, heartbeat))
                .poll_with_interval(Duration::from_millis(200));
            WorkerBuilder::new(worker_name(ExpireHolds::QUEUE))
                .backend(backend)
                .data(p.clone())
                .concurrency(8)
                .build(handlers::expire)
        });
    }
    if roles.fulfillment {
        let p = pool.clone();
        monitor = monitor.register(move |_| {
            // a confirm notifies at once; the interval picks up retries whose backoff has passed
            let backend =
                notified::<IssueTickets>(&p, config(IssueTickets::QUEUE, 10, heartbeat), Duration::from_secs(1));
            WorkerBuilder::new(worker_name(IssueTickets::QUEUE))
                .backend(backend)
                .data(p.clone())
                .concurrency(4)
                .build(handlers::issue_tickets)
        });
        monitor = register_notifications(monitor, &pool, &roles.notifier, heartbeat);
    }
    monitor
        .run_with_signal(async move {
            shutdown.cancelled().await;
            Ok(())
        })
        .await
}

/// New notifications wake the worker at once; retries are delayed jobs, which only polling sees,
/// so the interval bounds how late a retry can start after its backoff.
const NOTIFICATIONS_POLL: Duration = Duration::from_millis(250);

/// Adds the notifications' delivery worker to `monitor`.
fn register_notifications(monitor: Monitor, pool: &PgPool, notifier: &Notifier, heartbeat: Duration) -> Monitor {
    let channels: Vec<_> = notifier.channels().iter().map(|c| c.as_str()).collect();
    if channels.is_empty() {
        tracing::warn!("no notification channel configured: notifications are recorded and logged, not sent");
    } else {
        tracing::info!(?channels, max_attempts = notifier.max_attempts(), "notification channels");
    }
    let pool = pool.clone();
    let notifier = notifier.clone();
    monitor.register(move |_| {
        let backend = notified::<DeliverNotification>(
            &pool,
            config(DeliverNotification::QUEUE, 10, heartbeat),
            NOTIFICATIONS_POLL,
        );
        WorkerBuilder::new(worker_name(DeliverNotification::QUEUE))
            .backend(backend)
            .data(pool.clone())
            .data(notifier.clone())
            // deliveries wait on receivers, not on the CPU
            .concurrency(8)
            .build(deliver::handle)
    })
}
