//! Operating the job queues: depth and age per queue, jobs that failed for good, and retrying one
//! (with the notification it delivers, which goes back to `pending`). Admin keys only.

use sqlx::PgPool;
use tracing::instrument;

use super::{Error, Result};
use crate::db::jobs;
use crate::domain::job::{DeliverNotification, Job};
use crate::domain::records::{JobRecord, QueueStats};
use crate::domain::{Principal, Role};

/// Queues listed even before their first job, so dashboards see a stable set.
const KNOWN_QUEUES: &[&str] = crate::domain::job::QUEUES;

/// The most jobs one listing returns.
pub const MAX_JOBS_LISTED: i64 = 500;

fn require_admin(p: &Principal) -> Result<()> {
    if p.role == Role::Admin {
        Ok(())
    } else {
        Err(Error::PermissionDenied("only admin keys may operate the job queues".into()))
    }
}

/// The queues, and the buyers who paid and still wait for tickets.
#[derive(Debug)]
pub struct Overview {
    pub queues: Vec<QueueStats>,
    /// Confirmed reservations whose tickets are not issued yet.
    pub confirmed_without_tickets: i64,
    /// Of those, the ones whose issuance ran out of attempts and was put back by the scheduler.
    pub issuance_requeued: i64,
}

pub async fn queues(pool: &PgPool, principal: &Principal) -> Result<Overview> {
    require_admin(principal)?;
    let mut conn = pool.acquire().await?;
    let queues = jobs::queue_stats(&mut conn, KNOWN_QUEUES).await?;
    let (confirmed_without_tickets, issuance_requeued) = crate::db::reservations::issuance_backlog(&mut conn).await?;
    Ok(Overview { queues, confirmed_without_tickets, issuance_requeued })
}

/// Jobs failed for good, most recent first; `limit` is 1 to [`MAX_JOBS_LISTED`].
pub async fn failed_jobs(
    pool: &PgPool,
    principal: &Principal,
    queue: Option<&str>,
    limit: i64,
) -> Result<Vec<JobRecord>> {
    require_admin(principal)?;
    let mut conn = pool.acquire().await?;
    let limit = limit.clamp(1, MAX_JOBS_LISTED);
    Ok(jobs::failed(&mut conn, DeliverNotification::QUEUE, queue, limit).await?)
}

/// Puts a job failed for good back in its queue, due now, with all its attempts; a notification
/// it delivers reads `pending` again. Refused for a job that is not failed for good (409).
#[instrument(skip_all, fields(job.id = %id))]
pub async fn retry_job(pool: &PgPool, principal: &Principal, id: &str) -> Result<JobRecord> {
    require_admin(principal)?;
    let mut tx = pool.begin().await?;
    let Some(job) = jobs::retry(&mut tx, DeliverNotification::QUEUE, id).await? else {
        return Err(match jobs::find(&mut tx, DeliverNotification::QUEUE, id).await? {
            Some(job) => Error::conflict(
                "JOB_NOT_FAILED",
                format!("job {id} is {}: only jobs that failed for good can be retried", job.status.as_str()),
            ),
            None => Error::not_found("job", id),
        });
    };
    if let Some(notification) = job.notification_id {
        crate::db::notifications::reopen(&mut tx, notification, job.channel).await?;
    }
    tx.commit().await?;
    tracing::info!(job.id = %id, job.queue = %job.queue, notification.id = ?job.notification_id, "job put back in its queue by an admin");
    Ok(job)
}
