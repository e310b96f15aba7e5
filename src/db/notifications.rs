//! The notifications outbox (`notifications`, `notification_deliveries`): what buyers are told,
//! and how each channel's delivery went. Every change of a delivery and the summary on its
//! notification happen in one transaction that first locks the notification row, so two channels
//! finishing at once still leave the right summary.

use chrono::{DateTime, Utc};
use sqlx::{Acquire, PgConnection};
use uuid::Uuid;

use crate::domain::records::StoredNotification;
use crate::domain::{Attempted, Channel, DeliveryState, NewNotification};

/// Inserts the notification unless its `dedupe_key` is known. Returns its id and whether it is new.
pub async fn insert(conn: &mut PgConnection, n: &NewNotification) -> sqlx::Result<(Uuid, bool)> {
    let inserted: Option<Uuid> = sqlx::query_scalar(
        "insert into notifications (id, kind, user_id, payload, dedupe_key) values ($1, $2, $3, $4, $5)
         on conflict (dedupe_key) do nothing returning id",
    )
    .bind(Uuid::new_v4())
    .bind(n.kind)
    .bind(&n.user_id)
    .bind(&n.payload)
    .bind(&n.dedupe_key)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = inserted {
        return Ok((id, true));
    }
    // a separate statement: it sees a row that a concurrent transaction committed meanwhile
    let existing = sqlx::query_scalar("select id from notifications where dedupe_key = $1")
        .bind(&n.dedupe_key)
        .fetch_one(&mut *conn)
        .await?;
    Ok((existing, false))
}

/// Inserts the notifications whose `dedupe_key` is new, in one statement; returns their ids.
pub async fn insert_many(conn: &mut PgConnection, notifications: &[NewNotification]) -> sqlx::Result<Vec<Uuid>> {
    let ids: Vec<Uuid> = notifications.iter().map(|_| Uuid::now_v7()).collect();
    let kinds: Vec<&str> = notifications.iter().map(|n| n.kind.as_str()).collect();
    let users: Vec<&str> = notifications.iter().map(|n| n.user_id.as_str()).collect();
    let payloads: Vec<&serde_json::Value> = notifications.iter().map(|n| &n.payload).collect();
    let keys: Vec<&str> = notifications.iter().map(|n| n.dedupe_key.as_str()).collect();
    sqlx::query_scalar(
        "insert into notifications (id, kind, user_id, payload, dedupe_key)
         select * from unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::text[])
         on conflict (dedupe_key) do nothing returning id",
    )
    .bind(&ids)
    .bind(&kinds)
    .bind(&users)
    .bind(&payloads)
    .bind(&keys)
    .fetch_all(conn)
    .await
}

pub async fn load(
    conn: &mut PgConnection,
    id: Uuid,
    channel: Option<Channel>,
) -> sqlx::Result<Option<StoredNotification>> {
    sqlx::query_as(
        "select n.id, n.kind, n.user_id, n.payload, n.created_at, u.email, u.first_name,
                d.state as delivery_state
         from notifications n
         join users u on u.id = n.user_id
         left join notification_deliveries d on d.notification_id = n.id and d.channel = $2
         where n.id = $1",
    )
    .bind(id)
    .bind(channel)
    .fetch_optional(conn)
    .await
}

/// Locks the notification for the rest of the transaction; returns its state.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<DeliveryState>> {
    sqlx::query_scalar("select state from notifications where id = $1 for update").bind(id).fetch_optional(conn).await
}

/// Marks a notification no channel could take (it stays, with its payload, for the record).
pub async fn mark_unsent(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "update notifications set state = 'unsent', last_error = 'no delivery channel configured' where id = $1",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a notification whose dispatch gave up: no channel will take it until an admin retries.
pub async fn mark_failed(pool: &sqlx::PgPool, id: Uuid, error: &str) -> sqlx::Result<()> {
    sqlx::query("update notifications set state = 'failed', last_error = $2 where id = $1 and state = 'pending'")
        .bind(id)
        .bind(error)
        .execute(pool)
        .await?;
    Ok(())
}

/// One delivery row per channel; existing rows are kept as they are.
pub async fn add_deliveries(conn: &mut PgConnection, id: Uuid, channels: &[Channel]) -> sqlx::Result<()> {
    let names: Vec<&str> = channels.iter().map(|c| c.as_str()).collect();
    sqlx::query(
        "insert into notification_deliveries (notification_id, channel) select $1, unnest($2::text[])
         on conflict (notification_id, channel) do nothing",
    )
    .bind(id)
    .bind(names)
    .execute(conn)
    .await?;
    Ok(())
}

/// Counts an attempt on the delivery and its notification, and sums up the notification's state:
/// `failed` if a channel gave up, `delivered` once every channel is, `pending` otherwise.
pub async fn record_attempt(
    conn: &mut PgConnection,
    id: Uuid,
    channel: Channel,
    outcome: Attempted<'_>,
) -> sqlx::Result<()> {
    let (state, error) = match outcome {
        Attempted::Delivered => (DeliveryState::Delivered, None),
        Attempted::Failed { error, last: true } => (DeliveryState::Failed, Some(error)),
        Attempted::Failed { error, last: false } => (DeliveryState::Pending, Some(error)),
    };
    let mut tx = conn.begin().await?;
    lock(&mut tx, id).await?;
    sqlx::query(
        "insert into notification_deliveries as d (notification_id, channel, state, attempts, last_error, delivered_at)
         values ($1, $2, $3, 1, $4, case when $3 = 'delivered' then now() end)
         on conflict (notification_id, channel) do update set state = excluded.state, attempts = d.attempts + 1,
            last_error = coalesce(excluded.last_error, d.last_error), delivered_at = excluded.delivered_at",
    )
    .bind(id)
    .bind(channel)
    .bind(state)
    .bind(error)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "update notifications n set attempts = n.attempts + 1, last_error = coalesce($2, n.last_error),
            state = s.state, delivered_at = case when s.state = 'delivered' then now() end
         from (select case when bool_or(state = 'failed') then 'failed'
                           when bool_and(state = 'delivered') then 'delivered'
                           else 'pending' end as state
               from notification_deliveries where notification_id = $1) s
         where n.id = $1",
    )
    .bind(id)
    .bind(error)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Puts a notification whose job an admin retries back to `pending` (and the channel's delivery,
/// when the job was a channel's), in the admin's transaction.
pub async fn reopen(conn: &mut PgConnection, id: Uuid, channel: Option<Channel>) -> sqlx::Result<()> {
    lock(conn, id).await?;
    if let Some(channel) = channel {
        sqlx::query(
            "update notification_deliveries set state = 'pending', delivered_at = null
             where notification_id = $1 and channel = $2 and state = 'failed'",
        )
        .bind(id)
        .bind(channel)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "update notifications set state = 'pending', delivered_at = null where id = $1 and state <> 'delivered'",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What every message says: which event, which performance, for whom.
#[derive(Debug, sqlx::FromRow)]
pub struct Context {
    pub id: Uuid,
    pub user_id: String,
    pub quantity: i32,
    pub hold_expires_at: Option<DateTime<Utc>>,
    pub event_title: String,
    pub venue_name: String,
    pub performance_starts_at: DateTime<Utc>,
}

pub async fn contexts(conn: &mut PgConnection, reservations: &[Uuid]) -> sqlx::Result<Vec<Context>> {
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
