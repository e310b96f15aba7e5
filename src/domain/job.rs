//! The jobs put on the queue for later, in one place: each job type says its queue, its attempts,
//! its timeout and what makes two of them the same (`dedupe_key`). Enqueueing them is SQL
//! (`db::jobs::enqueue`); running them is the workers' (`jobs::runtime`, which registers one worker
//! per queue of [`QUEUES`]).
//!
//! Payloads are small and stay compatible: a payload a worker cannot decode would stop it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::notification::Channel;

/// A job type of the queue.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static {
    /// The queue's name: explicit, so that renaming a type strands no job.
    const QUEUE: &'static str;
    /// Attempts before the job is failed for good.
    const MAX_ATTEMPTS: i32;
    /// How long one run may take before it counts as failed (`jobs::guard` cuts it short then).
    const TIMEOUT: Duration = DEFAULT_TIMEOUT;

    /// Jobs with the same key are one job: enqueueing it again does nothing.
    fn dedupe_key(&self) -> Option<String> {
        None
    }
}

/// How long a run of a job type that says nothing else may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Every queue, for the workers to serve and the operators to watch (even when empty).
pub const QUEUES: &[&str] = &[AllocateItem::QUEUE, ExpireHolds::QUEUE, IssueTickets::QUEUE, DeliverNotification::QUEUE];

/// Exponential: `base`, twice that, four times... at most `cap`. The one backoff of every retry.
pub fn backoff(base: Duration, attempt: usize, cap: Duration) -> Duration {
    let doublings = attempt.clamp(1, 31) as u32 - 1;
    base.saturating_mul(1u32 << doublings).min(cap)
}

/// Decide the pending reservations of one item. Deciding nothing is fine: a duplicate costs one
/// empty run, a missing one is caught by the scheduler's sweep.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AllocateItem {
    pub offer_id: String,
    pub representation_id: String,
    /// The HTTP request that woke the item (the first of its batch), for the logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl Job for AllocateItem {
    const QUEUE: &'static str = "reservations";
    const MAX_ATTEMPTS: i32 = 10;
}

/// End the holds of one item due at `due_at` (and any other due by then). One per item and due
/// time: holds decided together end together.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExpireHolds {
    pub offer_id: String,
    pub representation_id: String,
    pub due_at: DateTime<Utc>,
}

impl Job for ExpireHolds {
    const QUEUE: &'static str = "expirations";
    const MAX_ATTEMPTS: i32 = 10;

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("expire:{}:{}:{}", self.offer_id, self.representation_id, self.due_at.timestamp_micros()))
    }
}

/// Issue the tickets of one confirmed reservation. Once per reservation, in the confirming
/// transaction; generous attempts (about an hour with the backoff), then the scheduler puts it back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssueTickets {
    pub reservation_id: Uuid,
    /// The confirm request that caused it, for the logs (`None` when a sweep put it back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl Job for IssueTickets {
    const QUEUE: &'static str = "fulfillment";
    const MAX_ATTEMPTS: i32 = 20;

    fn dedupe_key(&self) -> Option<String> {
        Some(Self::key(self.reservation_id))
    }
}

impl IssueTickets {
    /// The key that makes a reservation's issuance one job.
    pub fn key(reservation_id: Uuid) -> String {
        format!("issue:{reservation_id}")
    }
}

/// Without a channel: dispatch a notification (one delivery job per channel the worker has).
/// With one: deliver it over that channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliverNotification {
    pub notification_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
}

impl Job for DeliverNotification {
    const QUEUE: &'static str = "notifications";
    /// Dispatching only touches the database: a few attempts cover a hiccup. Deliveries are
    /// enqueued with the attempts the worker's settings give.
    const MAX_ATTEMPTS: i32 = 10;

    fn dedupe_key(&self) -> Option<String> {
        Some(match self.channel {
            None => format!("dispatch:{}", self.notification_id),
            Some(channel) => format!("deliver:{}:{}", self.notification_id, channel.as_str()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let second = Duration::from_secs(1);
        let cap = Duration::from_secs(300);
        assert_eq!(backoff(second, 1, cap), Duration::from_secs(1));
        assert_eq!(backoff(second, 2, cap), Duration::from_secs(2));
        assert_eq!(backoff(second, 4, cap), Duration::from_secs(8));
        assert_eq!(backoff(second, 30, cap), cap);
    }
}

/// Where a job of the queue stands (apalis's states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting for its time or a worker.
    Pending,
    /// Taken by a worker, not started.
    Queued,
    Running,
    Done,
    /// Its last attempt failed; it runs again while attempts remain.
    Failed,
    /// Failed for good.
    Killed,
}

impl JobStatus {
    /// The name the admin API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Killed => "killed",
        }
    }
}
