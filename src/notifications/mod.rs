//! Telling buyers what happened: an outbox written in the caller's transaction, delivered by jobs
//! over the channels a fulfillment worker has configured (a signed webhook, email over SMTP).
//!
//! [`record`] writes the notification and enqueues its dispatch in the caller's transaction, so the
//! fact and the promise to tell it commit or roll back together. A worker then fans it out: one
//! delivery job per configured channel (queue [`QUEUE`]), each retried on its own with exponential
//! backoff until the configured `max_attempts`, after which the notification reads `failed` and
//! its job shows in `GET /api/admin/jobs?status=failed`. Delivery is at least once; every attempt
//! carries the notification's id so receivers can drop duplicates.
//!
//! The payload is the caller's; these keys are rendered when present (see [`render`]):
//! - every kind: `event_title`, `performance_starts_at` (RFC 3339), `venue_name`, `reservation_id`,
//!   `quantity`;
//! - `tickets_issued`: `ticket_codes` (array of strings);
//! - `waitlist_offer`: `offer_expires_at` (RFC 3339).

mod config;
mod deliver;
mod email;
mod notifier;
pub mod render;
mod store;
mod webhook;
pub mod worker;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use config::{NotificationConfig, Secret, SmtpTls};
pub use notifier::Notifier;
pub use store::reopen;

/// The delivery jobs' queue.
pub const QUEUE: &str = "notifications";
/// Dispatching only touches the database: a few attempts cover a hiccup.
const DISPATCH_MAX_ATTEMPTS: i32 = 10;

/// What happened, which decides the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationKind {
    /// A reservation's tickets exist: the message carries their codes.
    TicketsIssued,
    /// A hold ended before it was confirmed.
    HoldExpired,
    /// Tickets freed for someone on a waiting list, held for them until the offer expires.
    WaitlistOffer,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::TicketsIssued => "tickets_issued",
            NotificationKind::HoldExpired => "hold_expired",
            NotificationKind::WaitlistOffer => "waitlist_offer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::TicketsIssued, Self::HoldExpired, Self::WaitlistOffer].into_iter().find(|k| k.as_str() == s)
    }
}

/// A notification to record.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub kind: NotificationKind,
    /// The buyer told; their email is read from `users` at delivery time.
    pub user_id: String,
    /// What the message needs (see the module's documentation for the keys rendered).
    pub payload: serde_json::Value,
    /// Names the fact reported (e.g. `tickets_issued:<reservation id>`): recording it again is a
    /// no-op that returns the first notification's id.
    pub dedupe_key: String,
}

/// A delivery channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Webhook,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Webhook => "webhook",
            Channel::Email => "email",
        }
    }
}

/// The job on [`QUEUE`]: without a channel it dispatches (one delivery job per configured
/// channel); with one it delivers over that channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliverNotification {
    pub notification_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
}

/// [`record`] for many notifications: two statements whatever their number (an expiry or a wave of
/// offers tells thousands of buyers at once, inside the transaction that holds the item's lock).
/// Those whose fact was already recorded are left as they are.
pub async fn record_many(conn: &mut sqlx::PgConnection, notifications: &[NewNotification]) -> sqlx::Result<()> {
    if notifications.is_empty() {
        return Ok(());
    }
    let created = store::insert_many(conn, notifications).await?;
    let jobs: Vec<(Option<String>, Vec<u8>)> = created
        .iter()
        .map(|&notification_id| {
            let job = DeliverNotification { notification_id, channel: None };
            (Some(format!("dispatch:{notification_id}")), serde_json::to_vec(&job).expect("job payloads serialize"))
        })
        .collect();
    crate::db::jobs::enqueue_many(conn, QUEUE, &jobs, DISPATCH_MAX_ATTEMPTS).await?;
    tracing::debug!(notifications = created.len(), "notifications recorded");
    Ok(())
}

/// Writes the outbox row and enqueues its delivery in the caller's transaction. Idempotent by
/// `dedupe_key`. Returns the notification id (the existing one if deduplicated).
pub async fn record(conn: &mut sqlx::PgConnection, n: NewNotification) -> sqlx::Result<Uuid> {
    let (id, created) = store::insert(conn, &n).await?;
    if created {
        let job = DeliverNotification { notification_id: id, channel: None };
        let key = format!("dispatch:{id}");
        crate::jobs::enqueue(conn, QUEUE, &job, None, DISPATCH_MAX_ATTEMPTS, Some(&key)).await?;
        tracing::debug!(notification.id = %id, notification.kind = n.kind.as_str(), user.id = %n.user_id, "notification recorded");
    }
    Ok(id)
}
