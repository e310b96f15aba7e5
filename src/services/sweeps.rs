//! The use cases behind the scheduler's periodic sweeps (`jobs::sweeps` runs them). Each is
//! set-based and harmless when two scheduler replicas run it at the same moment.

use sqlx::PgPool;

use crate::db;
use crate::domain::job::{AllocateItem, IssueTickets, Job};

/// A reservation pending longer than this lost its wake-up (a worker crashed...): wake its item.
const STALE_PENDING_MS: i64 = 5_000;
/// Finished jobs are kept this long for inspection, then deleted.
const KEEP_FINISHED_JOBS_HOURS: i32 = 24;

/// Enqueues an allocation for items whose reservations wait too long: a lost wake-up costs
/// seconds, not a stuck buyer.
pub async fn wake_stale_pending(pool: &PgPool) -> sqlx::Result<usize> {
    let mut tx = pool.begin().await?;
    let items = db::reservations::items_with_stale_pending(&mut tx, STALE_PENDING_MS).await?;
    for (offer_id, representation_id) in &items {
        let job =
            AllocateItem { offer_id: offer_id.clone(), representation_id: representation_id.clone(), request_id: None };
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
    let jobs: Vec<IssueTickets> =
        stalled.iter().map(|&reservation_id| IssueTickets { reservation_id, request_id: None }).collect();
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

/// Idempotency keys past their 24 hours.
pub async fn prune_idempotency_keys(pool: &PgPool) -> sqlx::Result<u64> {
    db::idempotency::prune(pool).await
}

/// Sets the queue gauges (`job_queue_depth`, `job_queue_oldest_age_seconds`) of this process's
/// metrics from the queue table; replicas report the same values (dashboards take the max).
pub async fn record_queue_gauges(pool: &PgPool) -> sqlx::Result<()> {
    let mut conn = pool.acquire().await?;
    for q in db::jobs::queue_stats(&mut conn, crate::domain::job::QUEUES).await? {
        metrics::gauge!("job_queue_depth", "queue" => q.queue.clone()).set((q.pending + q.retrying) as f64);
        metrics::gauge!("job_queue_oldest_age_seconds", "queue" => q.queue)
            .set(q.oldest_pending_age_secs.unwrap_or(0.0));
    }
    Ok(())
}
