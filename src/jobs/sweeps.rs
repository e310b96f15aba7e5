//! The scheduler's periodic sweeps (and, every ten minutes, pruning of finished jobs and of
//! idempotency keys past their 24 hours). Each is set-based, takes item locks with `skip locked`, and is
//! harmless when two scheduler replicas run it at the same moment.

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::services;
pub use crate::services::sweeps::{prune_finished_jobs, requeue_stalled_issuance, wake_stale_pending};

/// How often the sweeps run.
pub const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Runs every sweep each tick until `shutdown`.
pub async fn run(pool: PgPool, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks: u64 = 0;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        ticks += 1;
        if let Err(e) = services::expiry::sweep(&pool).await {
            tracing::warn!(error = ?e, "expiry sweep failed");
        }
        if let Err(e) = wake_stale_pending(&pool).await {
            tracing::warn!(error = ?e, "pending sweep failed");
        }
        if let Err(e) = services::virtual_queue::admission::sweep(&pool).await {
            tracing::warn!(error = ?e, "queue admission sweep failed");
        }
        if ticks % 5 == 1
            && let Err(e) = services::sweeps::record_queue_gauges(&pool).await
        {
            tracing::warn!(error = ?e, "reading the queues for the metrics failed");
        }
        // issuance runs out of attempts in an hour, not a second: every ten ticks is plenty
        if ticks % 10 == 1
            && let Err(e) = requeue_stalled_issuance(&pool).await
        {
            tracing::warn!(error = ?e, "issuance sweep failed");
        }
        if ticks % 600 == 1 {
            if let Err(e) = prune_finished_jobs(&pool).await {
                tracing::warn!(error = ?e, "pruning finished jobs failed");
            }
            if let Err(e) = services::sweeps::prune_idempotency_keys(&pool).await {
                tracing::warn!(error = ?e, "pruning idempotency keys failed");
            }
        }
    }
}
