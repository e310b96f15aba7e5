//! Runs a job's work with what apalis 1.0 does not do reliably itself: a timeout, panic capture,
//! and retries with backoff that respect `max_attempts`.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use apalis::prelude::{AbortError, BoxDynError};
use futures::FutureExt;
use sqlx::PgPool;
use tracing::Instrument;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth trying again later (database hiccup, receiver down...).
    #[error(transparent)]
    Transient(anyhow::Error),
    /// Will never succeed: the job is killed, not retried.
    #[error(transparent)]
    Permanent(anyhow::Error),
}

impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> Self {
        JobError::Transient(e.into())
    }
}

impl From<crate::services::Error> for JobError {
    /// What the data decides (missing, in the wrong state, invalid) will not change by retrying;
    /// what the system decides (the database, a timeout) may.
    fn from(e: crate::services::Error) -> Self {
        use crate::services::Error;
        match e {
            Error::Internal(_) | Error::Unavailable(_) => JobError::Transient(e.into()),
            Error::Validation(_)
            | Error::BadRequest { .. }
            | Error::Unauthenticated(_)
            | Error::PermissionDenied(_)
            | Error::Forbidden { .. }
            | Error::NotFound { .. }
            | Error::Conflict { .. } => JobError::Permanent(e.into()),
        }
    }
}

impl From<crate::notifications::SendError> for JobError {
    fn from(e: crate::notifications::SendError) -> Self {
        use crate::notifications::SendError;
        match e {
            SendError::Transient(e) => JobError::Transient(e),
            SendError::Permanent(e) => JobError::Permanent(e),
        }
    }
}

impl From<anyhow::Error> for JobError {
    fn from(e: anyhow::Error) -> Self {
        JobError::Transient(e)
    }
}

/// The queue a kind of job runs on (as the metrics name it), and how long one run may take.
fn kind_of(what: &str) -> (&'static str, Duration) {
    use crate::domain::job::{AllocateItem, DEFAULT_TIMEOUT, DeliverNotification, ExpireHolds, IssueTickets, Job};
    match what {
        "allocate" => (AllocateItem::QUEUE, AllocateItem::TIMEOUT),
        "expire" => (ExpireHolds::QUEUE, ExpireHolds::TIMEOUT),
        "issue_tickets" => (IssueTickets::QUEUE, IssueTickets::TIMEOUT),
        w if w.starts_with("notify") => (DeliverNotification::QUEUE, DeliverNotification::TIMEOUT),
        _ => ("other", DEFAULT_TIMEOUT),
    }
}

/// The wait before a failed job's next attempt: 1 s, 2 s, 4 s... at most 5 minutes.
pub fn backoff(attempt: usize) -> Duration {
    crate::domain::job::backoff(Duration::from_secs(1), attempt, Duration::from_secs(300))
}

/// Runs `work`; on a transient failure, timeout or panic, moves the job's `run_at` forward by the
/// backoff and returns the error (apalis marks it failed and fetches it again once due, until
/// `max_attempts`); on a permanent failure, aborts it.
pub async fn guard<F>(pool: &PgPool, job: JobRun<'_>, work: F) -> Result<(), BoxDynError>
where
    F: Future<Output = Result<(), JobError>>,
{
    let delay = backoff(job.attempt);
    guard_then(pool, job, delay, work, async |_| {}).await
}

/// One run of a job, as its log lines and metrics name it.
#[derive(Debug, Clone, Copy)]
pub struct JobRun<'a> {
    pub id: &'a str,
    pub attempt: usize,
    /// The kind of job (`allocate`, `issue_tickets`, `notify.email`...).
    pub what: &'a str,
    /// The HTTP request that caused it, if one did.
    pub request_id: Option<&'a str>,
}

/// [`guard`] with the wait before the next attempt chosen by the caller (notifications have their
/// own policy).
pub async fn guard_with<F>(pool: &PgPool, job: JobRun<'_>, delay: Duration, work: F) -> Result<(), BoxDynError>
where
    F: Future<Output = Result<(), JobError>>,
{
    guard_then(pool, job, delay, work, async |_| {}).await
}

/// [`guard_with`], calling `exhausted` with the error when the job fails for good (no attempt
/// left, or a permanent error), so what it stood for can say so.
pub async fn guard_then<F>(
    pool: &PgPool,
    job: JobRun<'_>,
    delay: Duration,
    work: F,
    exhausted: impl AsyncFnOnce(String),
) -> Result<(), BoxDynError>
where
    F: Future<Output = Result<(), JobError>>,
{
    let JobRun { id: job_id, attempt, what, request_id } = job;
    let (queue, timeout) = kind_of(what);
    metrics::counter!("job_runs_total", "queue" => queue).increment(1);
    if attempt > 1 {
        metrics::counter!("job_retries_total", "queue" => queue).increment(1);
    }
    // every line the job logs carries its id, queue and attempt
    let span = tracing::info_span!(
        "job",
        job.id = job_id,
        job.queue = queue,
        job.kind = what,
        job.attempt = attempt,
        request.id = request_id.unwrap_or("")
    );
    let outcome = tokio::time::timeout(timeout, AssertUnwindSafe(work.instrument(span)).catch_unwind()).await;
    if !matches!(outcome, Ok(Ok(Ok(())))) {
        metrics::counter!("job_failures_total", "queue" => queue).increment(1);
    }
    let error = match outcome {
        Ok(Ok(Ok(()))) => return Ok(()),
        Ok(Ok(Err(JobError::Permanent(e)))) => {
            tracing::error!(job.id = job_id, job.kind = what, error = ?e, "job failed for good");
            exhausted(format!("{e:#}")).await;
            return Err(AbortError::new(e.to_string()).into());
        }
        Ok(Ok(Err(JobError::Transient(e)))) => e,
        Ok(Err(panic)) => {
            let message =
                panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned());
            anyhow::anyhow!("job panicked: {}", message.unwrap_or_default())
        }
        Err(_) => anyhow::anyhow!("job timed out after {timeout:?}"),
    };
    let moved = crate::services::queue::postpone(pool, job_id, delay).await;
    match moved {
        // apalis will not fetch it again: it stays `Failed`, listed for an admin to retry
        Ok(Some(max)) if attempt >= max as usize => {
            tracing::error!(job.id = job_id, job.kind = what, attempt, error = %error, "job failed for good: no attempt left");
            exhausted(format!("{error:#}")).await;
        }
        Ok(_) => {
            tracing::warn!(job.id = job_id, job.kind = what, attempt, retry_in = ?delay, error = %error, "job failed, will retry");
        }
        Err(e) => {
            tracing::warn!(job.id = job_id, job.kind = what, attempt, error = %error, "job failed, will retry");
            tracing::warn!(job.id = job_id, error = %e, "could not schedule the retry");
        }
    }
    Err(error.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(4), Duration::from_secs(8));
        assert_eq!(backoff(30), Duration::from_secs(300));
    }
}
