//! The job on the `notifications` queue: dispatch a notification to the channels configured, or
//! deliver it over one channel (the adapters of `notifications`). Each run is one attempt, counted
//! in the outbox.

use apalis::prelude::{Attempt, BoxDynError, Data, TaskId};
use sqlx::PgPool;
use uuid::Uuid;

use super::{JobError, guard};
use crate::domain::job::DeliverNotification;
use crate::domain::{Attempted, Channel, DeliveryState};
use crate::notifications::{Notifier, render};
use crate::services::delivery;
use crate::services::queue;

pub async fn handle(
    job: DeliverNotification,
    pool: Data<PgPool>,
    notifier: Data<Notifier>,
    id: TaskId,
    attempt: Attempt,
) -> Result<(), BoxDynError> {
    let job_id = id.to_string();
    let attempt = attempt.current();
    match job.channel {
        // dispatching only touches the database: the usual short backoff
        None => {
            let delay = guard::backoff(attempt);
            let id = job.notification_id;
            // a dispatch that gives up leaves no delivery to say so: the notification does
            let gave_up = async |error: String| {
                if let Err(e) = delivery::dispatch_failed(&pool, id, &error).await {
                    tracing::error!(notification.id = %id, error = %e, "could not mark the notification failed");
                }
            };
            let work = dispatch(&pool, &notifier, id);
            let run = guard::JobRun { id: &job_id, attempt, what: "notify.dispatch", request_id: None };
            guard::guard_then(&pool, run, delay, work, gave_up).await
        }
        Some(channel) => {
            let delay = notifier.backoff(attempt);
            let work = deliver(&pool, &notifier, &job_id, attempt, job.notification_id, channel);
            let run = guard::JobRun { id: &job_id, attempt, what: channel_job(channel), request_id: None };
            guard::guard_with(&pool, run, delay, work).await
        }
    }
}

fn channel_job(channel: Channel) -> &'static str {
    match channel {
        Channel::Webhook => "notify.webhook",
        Channel::Email => "notify.email",
    }
}

/// One delivery job per channel this worker has; none configured: the notification is kept as
/// `unsent` and logged.
async fn dispatch(pool: &PgPool, notifier: &Notifier, id: Uuid) -> Result<(), JobError> {
    let channels = notifier.channels();
    if delivery::dispatch(pool, id, &channels, notifier.max_attempts()).await? && channels.is_empty() {
        // the worker said at start that no channel is configured; once per notification is noise
        tracing::debug!(notification.id = %id, "notification not sent: no delivery channel configured (kept as unsent)");
    }
    Ok(())
}

/// One attempt over one channel, counted in the outbox whatever its outcome.
async fn deliver(
    pool: &PgPool,
    notifier: &Notifier,
    job_id: &str,
    attempt: usize,
    id: Uuid,
    channel: Channel,
) -> Result<(), JobError> {
    let Some(n) = delivery::load(pool, id, channel).await? else {
        return Err(JobError::Permanent(anyhow::anyhow!("notification {id} does not exist")));
    };
    if n.delivery_state == Some(DeliveryState::Delivered) {
        return Ok(()); // a repeated run after the delivery was counted
    }
    let kind = n.kind;
    let outcome = match channel {
        Channel::Webhook => match notifier.webhook() {
            Some(webhook) => {
                let body = render::webhook_body(n.id, kind, &n.user_id, n.created_at, &n.payload);
                webhook.send(&id.to_string(), &body).await.map_err(JobError::from)
            }
            None => Err(JobError::Permanent(anyhow::anyhow!("this worker has no webhook channel configured"))),
        },
        Channel::Email => match notifier.email() {
            Some(email) => {
                let message = render::email(n.id, kind, &n.first_name, &n.payload);
                email.send(&id.to_string(), &n.email, &message).await.map_err(JobError::from)
            }
            None => Err(JobError::Permanent(anyhow::anyhow!("this worker has no email channel configured"))),
        },
    };
    let error = match outcome {
        Ok(()) => {
            delivery::record(pool, id, channel, Attempted::Delivered).await?;
            tracing::info!(notification.id = %id, channel = channel.as_str(), attempt, "notification delivered");
            return Ok(());
        }
        Err(e) => e,
    };
    let max_attempts = queue::max_attempts(pool, job_id).await?.unwrap_or(notifier.max_attempts());
    let (last, message) = match &error {
        JobError::Permanent(e) => (true, format!("{e:#}")),
        JobError::Transient(e) => (attempt >= max_attempts as usize, format!("{e:#}")),
    };
    delivery::record(pool, id, channel, Attempted::Failed { error: &message, last }).await?;
    // a transient failure stays one on the last attempt: the job then rests `Failed` (not
    // `Killed`, which the scheduler prunes after a day), listed until an admin retries it
    Err(error)
}
