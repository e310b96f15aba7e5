//! Operating the job queues: depth and age, jobs that failed for good, retrying one. Admin keys only.

use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};
use sqlx::PgPool;
use uuid::Uuid;

use super::Tag;
use super::error::ApiError;
use super::security::ApiKey;
use crate::domain::records::{JobRecord, QueueStats};
use crate::services;

pub struct AdminApi {
    pub pool: PgPool,
}

/// One queue's jobs by state.
#[derive(Object)]
struct Queue {
    /// The queue's name (`reservations`, `expirations`, `notifications`...).
    queue: String,
    /// Waiting for their first run (delayed ones included).
    pending: i64,
    /// Failed, waiting for their next attempt after a backoff.
    retrying: i64,
    /// Taken by a worker.
    running: i64,
    /// Failed for good: listed by `GET /admin/jobs?status=failed`.
    failed: i64,
    /// Done (kept 24 hours).
    done: i64,
    /// Seconds the longest-waiting due job (pending or retrying) has waited past its time; null
    /// when none is waiting.
    #[oai(nullable)]
    oldest_pending_age_secs: Option<f64>,
}

#[derive(Object)]
struct QueueList {
    queues: Vec<Queue>,
    /// Confirmed reservations whose tickets are not issued yet (normally issued within seconds).
    confirmed_without_tickets: i64,
    /// Of those, the ones whose issuance ran out of attempts and that the scheduler put back in
    /// the `fulfillment` queue (with a backoff of its own: 1, 2, 4... minutes, at most an hour).
    issuance_requeued: i64,
}

/// A job of the queue.
#[derive(Object)]
struct Job {
    id: String,
    queue: String,
    /// `pending`, `queued`, `running`, `done`, `failed` or `killed` (failed permanently).
    status: String,
    attempts: i32,
    max_attempts: i32,
    /// The error of its last attempt.
    #[oai(nullable)]
    last_error: Option<String>,
    /// When it runs, or ran last.
    run_at: DateTime<Utc>,
    #[oai(nullable)]
    done_at: Option<DateTime<Utc>>,
    /// For notification jobs: the notification delivered.
    #[oai(nullable)]
    notification_id: Option<Uuid>,
    /// For notification jobs: `webhook` or `email`; null for the dispatch to channels.
    #[oai(nullable)]
    channel: Option<String>,
}

#[derive(Object)]
struct JobList {
    jobs: Vec<Job>,
}

/// Which jobs to list.
#[derive(Enum)]
#[oai(rename_all = "lowercase")]
enum JobStatus {
    /// Failed for good: killed by a permanent error, or failed with no attempt left.
    Failed,
}

impl From<QueueStats> for Queue {
    fn from(s: QueueStats) -> Self {
        Queue {
            queue: s.queue,
            pending: s.pending,
            retrying: s.retrying,
            running: s.running,
            failed: s.failed,
            done: s.done,
            oldest_pending_age_secs: s.oldest_pending_age_secs,
        }
    }
}

impl From<JobRecord> for Job {
    fn from(j: JobRecord) -> Self {
        Job {
            id: j.id,
            queue: j.queue,
            status: j.status.as_str().to_owned(),
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            last_error: j.last_error,
            run_at: j.run_at,
            done_at: j.done_at,
            notification_id: j.notification_id,
            channel: j.channel.map(|c| c.as_str().to_owned()),
        }
    }
}

#[OpenApi(tag = "Tag::Admin")]
impl AdminApi {
    /// Queue depth and age
    ///
    /// Every queue with jobs (and the known ones, even empty): counts by state and how late the
    /// most overdue waiting job is.
    #[oai(path = "/admin/queues", method = "get")]
    async fn queues(&self, key: ApiKey) -> Result<Json<QueueList>, ApiError> {
        let o = services::admin::queues(&self.pool, &key.0).await?;
        Ok(Json(QueueList {
            queues: o.queues.into_iter().map(Into::into).collect(),
            confirmed_without_tickets: o.confirmed_without_tickets,
            issuance_requeued: o.issuance_requeued,
        }))
    }

    /// Jobs that failed for good
    ///
    /// Most recent first. A notification's jobs name it, so a failed delivery can be traced to
    /// what the buyer was not told.
    #[oai(path = "/admin/jobs", method = "get")]
    async fn jobs(
        &self,
        key: ApiKey,
        /// Only `failed` (the default).
        status: Query<Option<JobStatus>>,
        /// Only this queue's jobs.
        queue: Query<Option<String>>,
        /// Jobs listed, 1 to 500 (default 50).
        #[oai(validator(minimum(value = "0", exclusive), maximum(value = "500")))]
        limit: Query<Option<i64>>,
    ) -> Result<Json<JobList>, ApiError> {
        let JobStatus::Failed = status.0.unwrap_or(JobStatus::Failed);
        let queue = queue.0.as_deref().map(str::trim).filter(|q| !q.is_empty());
        let jobs = services::admin::failed_jobs(&self.pool, &key.0, queue, limit.0.unwrap_or(50)).await?;
        Ok(Json(JobList { jobs: jobs.into_iter().map(Into::into).collect() }))
    }

    /// Retry a failed job
    ///
    /// Puts a job that failed for good back in its queue: due now, with all its attempts again.
    /// A notification it delivers reads `pending` until the new attempts decide. 409
    /// `JOB_NOT_FAILED` for a job that is not failed for good.
    #[oai(path = "/admin/jobs/:id/retry", method = "post")]
    async fn retry(&self, key: ApiKey, id: Path<String>) -> Result<Json<Job>, ApiError> {
        Ok(Json(services::admin::retry_job(&self.pool, &key.0, &id).await?.into()))
    }
}
