//! The notification outbox as deliveries see it: dispatching a notification to channels, reading
//! it for one channel, and counting each attempt (the sending itself is `notifications`, run by
//! `jobs::deliver`).

use sqlx::PgPool;
use uuid::Uuid;

use crate::db;
use crate::domain::job::DeliverNotification;
use crate::domain::records::StoredNotification;
use crate::domain::{Attempted, Channel, DeliveryState};

/// One delivery (and one job, of `max_attempts`) per channel; no channel: the notification is
/// kept as `unsent`. Returns whether it was dispatched now (false: gone, decided, or already
/// dispatched). Safe to run twice: rows and jobs are inserted only when missing.
pub async fn dispatch(pool: &PgPool, id: Uuid, channels: &[Channel], max_attempts: i32) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    if db::notifications::lock(&mut tx, id).await? != Some(DeliveryState::Pending) {
        return Ok(false);
    }
    if channels.is_empty() {
        db::notifications::mark_unsent(&mut tx, id).await?;
    } else {
        db::notifications::add_deliveries(&mut tx, id, channels).await?;
        for &channel in channels {
            let job = DeliverNotification { notification_id: id, channel: Some(channel) };
            db::jobs::enqueue_with_attempts(&mut tx, &job, None, max_attempts).await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// A dispatch that gave up leaves no delivery to say so: the notification does.
pub async fn dispatch_failed(pool: &PgPool, id: Uuid, error: &str) -> sqlx::Result<()> {
    db::notifications::mark_failed(pool, id, error).await
}

/// The notification as a delivery over `channel` needs it, with that delivery's state.
pub async fn load(pool: &PgPool, id: Uuid, channel: Channel) -> sqlx::Result<Option<StoredNotification>> {
    db::notifications::load(&mut *pool.acquire().await?, id, Some(channel)).await
}

/// Counts an attempt over `channel` and what came of it.
pub async fn record(pool: &PgPool, id: Uuid, channel: Channel, outcome: Attempted<'_>) -> sqlx::Result<()> {
    db::notifications::record_attempt(&mut *pool.acquire().await?, id, channel, outcome).await
}
