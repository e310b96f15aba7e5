//! The buyer-facing facts worth telling, written to the outbox in the transaction that makes them
//! true: tickets issued, a hold expired, a waiting-list offer. Each is recorded once (its dedupe key
//! names the fact), whatever retries happen around it.

use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::{self, notifications::Context};
use crate::domain::job::DeliverNotification;
use crate::domain::{NewNotification, NotificationKind};

/// Writes the outbox row and enqueues its dispatch in the caller's transaction, so the fact and
/// the promise to tell it commit or roll back together. Idempotent by `dedupe_key`. Returns the
/// notification's id (the existing one when the fact was recorded before).
pub async fn record(conn: &mut PgConnection, n: NewNotification) -> sqlx::Result<Uuid> {
    let (id, created) = db::notifications::insert(conn, &n).await?;
    if created {
        db::jobs::enqueue(conn, &DeliverNotification { notification_id: id, channel: None }, None).await?;
        tracing::debug!(notification.id = %id, notification.kind = n.kind.as_str(), user.id = %n.user_id, "notification recorded");
    }
    Ok(id)
}

/// [`record`] for many notifications: two statements whatever their number (an expiry or a wave of
/// offers tells thousands of buyers at once, inside the transaction that holds the item's lock).
pub async fn record_many(conn: &mut PgConnection, notifications: &[NewNotification]) -> sqlx::Result<()> {
    if notifications.is_empty() {
        return Ok(());
    }
    let created = db::notifications::insert_many(conn, notifications).await?;
    let jobs: Vec<DeliverNotification> =
        created.iter().map(|&notification_id| DeliverNotification { notification_id, channel: None }).collect();
    db::jobs::enqueue_many(conn, &jobs).await?;
    tracing::debug!(notifications = created.len(), "notifications recorded");
    Ok(())
}

async fn record_each(
    conn: &mut PgConnection,
    kind: NotificationKind,
    reservations: &[Uuid],
    key: &str,
    extra: impl Fn(&Context) -> serde_json::Value,
) -> sqlx::Result<()> {
    if reservations.is_empty() {
        return Ok(());
    }
    let mut all = Vec::with_capacity(reservations.len());
    for c in db::notifications::contexts(conn, reservations).await? {
        let mut payload = json!({
            "event_title": c.event_title,
            "venue_name": c.venue_name,
            "performance_starts_at": c.performance_starts_at.to_rfc3339(),
            "reservation_id": c.id,
            "quantity": c.quantity,
        });
        if let (Some(fields), Some(more)) = (payload.as_object_mut(), extra(&c).as_object()) {
            fields.extend(more.clone());
        }
        // one notification per kind and reservation (and `key`, for kinds that happen more than once)
        let dedupe_key = if key.is_empty() {
            format!("{}:{}", kind.as_str(), c.id)
        } else {
            format!("{}:{}:{key}", kind.as_str(), c.id)
        };
        all.push(NewNotification { kind, user_id: c.user_id.clone(), payload, dedupe_key });
    }
    record_many(conn, &all).await
}

pub async fn tickets_issued(conn: &mut PgConnection, reservation: Uuid, codes: &[String]) -> sqlx::Result<()> {
    record_each(conn, NotificationKind::TicketsIssued, &[reservation], "", |_| json!({"ticket_codes": codes})).await
}

/// The buyer's tickets `codes` were voided (a cancellation, or one ticket); `key` makes each
/// voiding one notification however often it is retried.
pub async fn tickets_voided(
    conn: &mut PgConnection,
    reservation: Uuid,
    key: &str,
    codes: &[String],
    reason: &str,
    refund_reference: Option<&str>,
) -> sqlx::Result<()> {
    let extra = |_: &Context| json!({"quantity": codes.len(), "ticket_codes": codes, "reason": reason, "refund_reference": refund_reference});
    record_each(conn, NotificationKind::TicketsVoided, &[reservation], key, extra).await
}

pub async fn holds_expired(conn: &mut PgConnection, reservations: &[Uuid]) -> sqlx::Result<()> {
    record_each(conn, NotificationKind::HoldExpired, reservations, "", |_| json!({})).await
}

pub async fn waitlist_offers(conn: &mut PgConnection, reservations: &[Uuid]) -> sqlx::Result<()> {
    record_each(
        conn,
        NotificationKind::WaitlistOffer,
        reservations,
        "",
        |c| json!({"offer_expires_at": c.hold_expires_at.map(|t| t.to_rfc3339())}),
    )
    .await
}
