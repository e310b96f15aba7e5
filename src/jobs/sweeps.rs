//! The scheduler's periodic sweeps (and, every ten minutes, pruning of finished jobs and of
//! idempotency keys past their 24 hours). Each is set-based, takes item locks with `skip locked`, and is
//! harmless when two scheduler replicas run it at the same moment.

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::domain::job::{AllocateItem, IssueTickets, Job};
use crate::{db, services};

/// How often the sweeps run.
pub const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// A reservation pending longer than this lost its wake-up (a worker crashed...): wake its item.
const STALE_PENDING_MS: i64 = 5_000;
/// Finished jobs are kept this long for inspection, then deleted.
const KEEP_FINISHED_JOBS_HOURS: i32 = 24;

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
            if let Err(e) = db::idempotency::prune(&pool).await {
                tracing::warn!(error = ?e, "pruning idempotency keys failed");
            }
        }
    }
}

/// Enqueues an allocation for items whose reservations wait too long: a lost wake-up costs
/// seconds, not a stuck buyer.
pub async fn wake_stale_pending(pool: &PgPool) -> sqlx::Result<usize> {
    let mut tx = pool.begin().await?;
    let items = db::reservations::items_with_stale_pending(&mut tx, STALE_PENDING_MS).await?;
    for (offer_id, representation_id) in &items {
        let job = AllocateItem { offer_id: offer_id.clone(), representation_id: representation_id.clone() };
        db::jobs::enqueue(&mut tx, &job, None).await?;
    }
    tx.commit().await?;
    if !items.is_empty() {
        tracing::warn!(items = items.len(), "woke items with stale pending reservations");
    }
    Ok(items.len())
}

/// A buyer who paid gets tickets even when issuance ran out of attempts (a long outage of the
/// signing key, the database...): confirmed reservations without tickets whose job will not run
/// again are put back in the queue, each with a backoff of its own. Two schedulers skip each
/// other's rows.
pub async fn requeue_stalled_issuance(pool: &PgPool) -> sqlx::Result<usize> {
    let mut tx = pool.begin().await?;
    let stalled = db::reservations::stalled_issuance(&mut tx, IssueTickets::QUEUE, 100).await?;
    if stalled.is_empty() {
        return Ok(0);
    }
    let jobs: Vec<IssueTickets> = stalled.iter().map(|&reservation_id| IssueTickets { reservation_id }).collect();
    db::jobs::requeue(&mut tx, &jobs).await?;
    db::reservations::count_issuance_requeue(&mut tx, &stalled).await?;
    tx.commit().await?;
    tracing::warn!(reservations = stalled.len(), "requeued the issuance of confirmed reservations without tickets");
    Ok(stalled.len())
}

/// apalis never deletes finished jobs nor dead workers' rows.
pub async fn prune_finished_jobs(pool: &PgPool) -> sqlx::Result<u64> {
    db::jobs::prune(pool, KEEP_FINISHED_JOBS_HOURS).await
}
