//! The buyer-facing facts worth telling, written to the outbox in the transaction that makes them
//! true: tickets issued, a hold expired, a waiting-list offer. Each is recorded once (its dedupe key
//! names the fact), whatever retries happen around it.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::notifications::{self, NewNotification, NotificationKind};

/// What every message says: which event, which performance, for whom.
#[derive(Debug, sqlx::FromRow)]
struct Context {
    id: Uuid,
    user_id: String,
    quantity: i32,
    hold_expires_at: Option<DateTime<Utc>>,
    event_title: String,
    venue_name: String,
    performance_starts_at: DateTime<Utc>,
}

async fn contexts(conn: &mut PgConnection, reservations: &[Uuid]) -> sqlx::Result<Vec<Context>> {
    sqlx::query_as(
        "select r.id, r.user_id, r.quantity, r.hold_expires_at, e.title as event_title, e.venue_name,
                rp.starts_at as performance_starts_at
         from reservations r
         join representations rp on rp.id = r.representation_id
         join events e on e.id = rp.event_id
         where r.id = any($1)",
    )
    .bind(reservations)
    .fetch_all(conn)
    .await
}

async fn record_each(
    conn: &mut PgConnection,
    kind: NotificationKind,
    reservations: &[Uuid],
    extra: impl Fn(&Context) -> serde_json::Value,
) -> sqlx::Result<()> {
    if reservations.is_empty() {
        return Ok(());
    }
    let mut all = Vec::with_capacity(reservations.len());
    for c in contexts(conn, reservations).await? {
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
        let dedupe_key = format!("{}:{}", kind.as_str(), c.id);
        all.push(NewNotification { kind, user_id: c.user_id.clone(), payload, dedupe_key });
    }
    notifications::record_many(conn, &all).await
}

pub async fn tickets_issued(conn: &mut PgConnection, reservation: Uuid, codes: &[String]) -> sqlx::Result<()> {
    record_each(conn, NotificationKind::TicketsIssued, &[reservation], |_| json!({"ticket_codes": codes})).await
}

pub async fn holds_expired(conn: &mut PgConnection, reservations: &[Uuid]) -> sqlx::Result<()> {
    record_each(conn, NotificationKind::HoldExpired, reservations, |_| json!({})).await
}

pub async fn waitlist_offers(conn: &mut PgConnection, reservations: &[Uuid]) -> sqlx::Result<()> {
    record_each(
        conn,
        NotificationKind::WaitlistOffer,
        reservations,
        |c| json!({"offer_expires_at": c.hold_expires_at.map(|t| t.to_rfc3339())}),
    )
    .await
}
