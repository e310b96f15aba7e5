//! Telling buyers what happened, over the channels a fulfillment worker has configured: a signed
//! webhook, email over SMTP. These are the adapters: the settings, the rendering and the sending.
//!
//! The rest of the story lives where its layer is: `services::notify::record` writes the outbox
//! row and enqueues its dispatch in the caller's transaction, so the fact and the promise to tell
//! it commit or roll back together; the `notifications` queue's worker (`jobs::deliver`) fans it
//! out, one delivery job per configured channel, each retried on its own with exponential backoff
//! until the configured `max_attempts`, after which the notification reads `failed` and its job
//! shows in `GET /api/admin/jobs?status=failed`. Delivery is at least once; every attempt carries
//! the notification's id so receivers can drop duplicates.
//!
//! The payload is the caller's; these keys are rendered when present (see [`render`]):
//! - every kind: `event_title`, `performance_starts_at` (RFC 3339), `venue_name`, `reservation_id`,
//!   `quantity`;
//! - `tickets_issued`: `ticket_codes` (array of strings);
//! - `waitlist_offer`: `offer_expires_at` (RFC 3339).

mod config;
mod email;
mod notifier;
pub mod render;
mod webhook;

pub use config::{NotificationConfig, Secret, SmtpTls};
pub use notifier::Notifier;

/// A channel setting that cannot work, in one line an operator can act on.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ConfigError {
    fn new(message: impl Into<String>) -> Self {
        ConfigError(message.into())
    }
}

/// Why a channel could not take a message.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later (the receiver is down...).
    #[error(transparent)]
    Transient(anyhow::Error),
    /// Will never succeed (an address no server takes...).
    #[error(transparent)]
    Permanent(anyhow::Error),
}
