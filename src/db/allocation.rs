//! What a reservation worker reads and writes to decide one item's pending reservations. The
//! caller holds the item's lock ([`super::inventory::lock`]) for the whole transaction, so the
//! decisions of one item are serialized, and FIFO holds by construction.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{RejectionReason, ReservationStatus};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Pending {
    pub id: Uuid,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub quantity: i32,
    pub seat_labels: Option<Vec<String>>,
    pub hold_minutes: i32,
    pub best_available: bool,
    pub best_section: Option<String>,
    pub best_together: bool,
}

/// The oldest pending reservations of the item, in arrival order.
pub async fn pending(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    limit: i64,
) -> sqlx::Result<Vec<Pending>> {
    sqlx::query_as(
        "select id, created_at, quantity, seat_labels, hold_minutes, best_available, best_section, best_together
         from reservations
         where offer_id = $1 and representation_id = $2 and status = 'pending'
         order by seq limit $3",
    )
    .bind(offer_id)
    .bind(representation_id)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The decisions of one batch, in parallel arrays.
#[derive(Debug, Default)]
pub struct Decisions {
    pub ids: Vec<Uuid>,
    pub statuses: Vec<ReservationStatus>,
    pub reasons: Vec<Option<RejectionReason>>,
    pub hold_minutes: Vec<i32>,
    /// Units granted in total (the item's books move by this).
    pub granted: i32,
    /// Seats of granted seated reservations: (reservation, seat).
    pub seat_holds: Vec<(Uuid, Uuid)>,
    /// The labels picked for each best-available reservation granted (null for the others).
    pub picked: Vec<Option<Vec<String>>>,
}

/// Writes a batch of decisions, the books and the seat holds. The checks on `inventory` and the
/// unique index on active seats refuse anything that would oversell, whatever the code above did.
pub async fn apply(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    d: &Decisions,
) -> sqlx::Result<()> {
    sqlx::query(
        // the decision's own time, once for the batch: now() is when this transaction began, which
        // can be before a reservation it decides was even stored
        "with clock as materialized (select clock_timestamp() as at)
         update reservations r
         set status = d.status, reason = d.reason, decided_at = clock.at,
             hold_expires_at = case when d.status = 'held' then clock.at + make_interval(mins => d.hold_minutes) end,
             seat_labels = case when d.picked is null then r.seat_labels
                                else array(select jsonb_array_elements_text(d.picked)) end
         from unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::jsonb[])
                  as d(id, status, reason, hold_minutes, picked),
              clock
         where r.id = d.id and r.status = 'pending'",
    )
    .bind(&d.ids)
    .bind(&d.statuses)
    .bind(&d.reasons)
    .bind(&d.hold_minutes)
    // arrays of arrays must be rectangular in PostgreSQL: labels travel as JSON
    .bind(d.picked.iter().map(|p| p.as_ref().map(|labels| serde_json::json!(labels))).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    if d.granted > 0 {
        super::inventory::hold_units(conn, offer_id, representation_id, d.granted).await?;
    }
    if !d.seat_holds.is_empty() {
        let (reservations, seats): (Vec<Uuid>, Vec<Uuid>) = d.seat_holds.iter().copied().unzip();
        sqlx::query(
            "insert into reservation_seats (reservation_id, seat_id) select * from unnest($1::uuid[], $2::uuid[])",
        )
        .bind(&reservations)
        .bind(&seats)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// When the holds of a batch end: one expiry job per distinct time.
pub async fn hold_ends(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Vec<chrono::DateTime<chrono::Utc>>> {
    sqlx::query_scalar("select distinct hold_expires_at from reservations where id = any($1) and status = 'held'")
        .bind(ids)
        .fetch_all(conn)
        .await
}
