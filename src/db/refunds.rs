//! Refunds: one row per cancelled reservation or voided ticket, what the report adds up.

use sqlx::PgConnection;
use uuid::Uuid;

/// A refund to record.
#[derive(Debug, Clone)]
pub struct NewRefund<'a> {
    pub reservation_id: Uuid,
    /// The ticket voided alone; `None` for a whole reservation.
    pub ticket_code: Option<&'a str>,
    pub offer_id: &'a str,
    pub representation_id: &'a str,
    pub units: i32,
    pub reason: &'a str,
    pub reference: Option<&'a str>,
}

/// Records a refund priced at the offer's price per unit (prices are bounded: no overflow).
pub async fn insert(conn: &mut PgConnection, r: &NewRefund<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "insert into refunds (reservation_id, ticket_code, offer_id, representation_id, units, amount_minor, reason, reference)
         select $1, $2, $3, $4, $5, $5::bigint * coalesce(o.price_minor, 0), $6, $7 from offers o where o.id = $3",
    )
    .bind(r.reservation_id)
    .bind(r.ticket_code)
    .bind(r.offer_id)
    .bind(r.representation_id)
    .bind(r.units)
    .bind(r.reason)
    .bind(r.reference)
    .execute(conn)
    .await?;
    Ok(())
}

/// Units of the reservation already given back by voids of single tickets.
pub async fn units_refunded(conn: &mut PgConnection, reservation_id: Uuid) -> sqlx::Result<i32> {
    sqlx::query_scalar("select coalesce(sum(units), 0)::int from refunds where reservation_id = $1")
        .bind(reservation_id)
        .fetch_one(conn)
        .await
}
