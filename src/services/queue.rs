//! What the job runtime asks of the queue besides what apalis does: moving a failed job's next
//! attempt to its backoff, and reading its attempt budget.

use std::time::Duration;

use sqlx::PgPool;

use crate::db;

/// Moves the job's next run `delay` ahead; its `max_attempts`, or `None` if it is gone.
pub async fn postpone(pool: &PgPool, job_id: &str, delay: Duration) -> sqlx::Result<Option<i32>> {
    db::jobs::postpone(pool, job_id, delay).await
}

/// The job's attempt budget, or `None` if it is gone.
pub async fn max_attempts(pool: &PgPool, job_id: &str) -> sqlx::Result<Option<i32>> {
    db::jobs::max_attempts(&mut *pool.acquire().await?, job_id).await
}
