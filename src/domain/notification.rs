//! What buyers are told: the kinds of notification, one to record, and the channels it goes out on.

use serde::{Deserialize, Serialize};

/// What happened, which decides the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum NotificationKind {
    /// A reservation's tickets exist: the message carries their codes.
    TicketsIssued,
    /// A hold ended before it was confirmed.
    HoldExpired,
    /// Tickets freed for someone on a waiting list, held for them until the offer expires.
    WaitlistOffer,
    /// Tickets voided: a reservation cancelled, or one ticket voided, by the organizer.
    TicketsVoided,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::TicketsIssued => "tickets_issued",
            NotificationKind::HoldExpired => "hold_expired",
            NotificationKind::WaitlistOffer => "waitlist_offer",
            NotificationKind::TicketsVoided => "tickets_voided",
        }
    }
}

/// A notification to record.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub kind: NotificationKind,
    /// The buyer told; their email is read from `users` at delivery time.
    pub user_id: String,
    /// What the message needs (see `notifications` for the keys rendered).
    pub payload: serde_json::Value,
    /// Names the fact reported (e.g. `tickets_issued:<reservation id>`): recording it again is a
    /// no-op.
    pub dedupe_key: String,
}

/// A delivery channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
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

/// Where a notification (or its delivery on one channel) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not delivered yet; attempts may remain.
    Pending,
    Delivered,
    /// A channel gave up.
    Failed,
    /// No channel was configured when it was dispatched (a notification's state only).
    Unsent,
}

/// What one delivery attempt came to.
#[derive(Debug)]
pub enum Attempted<'a> {
    Delivered,
    /// Failed; `last` when no attempt will follow.
    Failed {
        error: &'a str,
        last: bool,
    },
}
