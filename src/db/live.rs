//! The change feed of live streams: notifications of the statements that change what a stream
//! shows (see migration 0016), one channel, payloads `kind:id`.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};

/// The channel the triggers notify.
pub const CHANNEL: &str = "boxoffice_live";

/// A connection listening to [`CHANNEL`].
pub async fn listen(pool: &PgPool) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// When the counts or seats of a representation's pools last changed, by the database's clock
/// (strictly increasing per pool); the epoch for a representation without pools.
pub async fn representation_changed_at(
    conn: &mut PgConnection,
    representation_id: &str,
) -> sqlx::Result<DateTime<Utc>> {
    sqlx::query_scalar("select coalesce(max(changed_at), 'epoch'::timestamptz) from pools where representation_id = $1")
        .bind(representation_id)
        .fetch_one(conn)
        .await
}

/// When a reservation's tickets were issued, and when it was cancelled.
pub async fn reservation_times(
    conn: &mut PgConnection,
    id: uuid::Uuid,
) -> sqlx::Result<Option<(Option<DateTime<Utc>>, Option<DateTime<Utc>>)>> {
    sqlx::query_as("select fulfilled_at, cancelled_at from reservations where id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The statuses of `ids` now (of those that exist), a hold past its time read as expired, as
/// `reservations::find` reads it.
pub async fn reservation_statuses(
    conn: &mut PgConnection,
    ids: &[uuid::Uuid],
) -> sqlx::Result<Vec<(uuid::Uuid, crate::domain::ReservationStatus)>> {
    sqlx::query_as(
        "select id, case when status = 'held' and hold_expires_at <= now() then 'expired' else status end
         from reservations where id = any($1)",
    )
    .bind(ids)
    .fetch_all(conn)
    .await
}
