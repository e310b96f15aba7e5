//! Tickets: issued once per unit of a reservation (the table's unique keys see to it), read by
//! code, reservation or holder, and checked in once.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::ReservationStatus;
use crate::domain::records::Ticket;

/// The columns of [`Ticket`].
macro_rules! columns {
    () => {
        "t.code, t.seq,
         coalesce((select r.order_id from reservations r where r.id = t.reservation_id), t.reservation_id)
             as reservation_id,
         t.reservation_id as line_id, t.unit, t.user_id, t.event_id, t.representation_id, t.offer_id,
         t.seat_label, t.payload, t.signature, t.issued_at, t.checked_in_at, t.voided_at,
         (select e.organization_id from events e where e.id = t.event_id) as organization_id"
    };
}

/// One line of a reservation as issuance sees it, its row locked. Tickets belong to the line's
/// row (the table's keys tie each ticket to a row and its quantity); they name the reservation
/// (the order) when read.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Issuable {
    /// The line's row.
    pub id: Uuid,
    /// The stored status (a confirmed reservation has no expiry to account for).
    pub status: ReservationStatus,
    pub quantity: i32,
    pub seat_labels: Option<Vec<String>>,
    pub user_id: String,
    pub offer_id: String,
    pub representation_id: String,
    pub event_id: String,
    /// The transaction's time: every ticket of the reservation is issued at it.
    pub now: DateTime<Utc>,
}

/// Locks the reservation's rows, every line of an order (only them: the pools stay free for the
/// reservation workers), so concurrent issuances of one reservation run one after the other.
/// Its lines in order; empty when there is no such reservation.
pub async fn lock_issuable(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Vec<Issuable>> {
    sqlx::query_as(
        "select r.id, r.status, r.quantity, r.seat_labels, r.user_id, r.offer_id, r.representation_id, i.event_id,
                now() as now
         from reservations r join inventory i using (offer_id, representation_id)
         where r.id = $1 or r.order_id = $1
         order by r.line_no nulls first
         for update of r",
    )
    .bind(id)
    .fetch_all(conn)
    .await
}

/// A ticket about to be issued.
#[derive(Debug, Clone)]
pub struct NewTicket {
    pub code: String,
    pub unit: i32,
    pub seat_label: Option<String>,
    pub payload: String,
    pub signature: Vec<u8>,
}

/// Inserts the units not issued yet; a unit already issued keeps its ticket (and the new code
/// drawn for it is dropped). Returns how many were inserted.
pub async fn insert_missing(conn: &mut PgConnection, r: &Issuable, tickets: &[NewTicket]) -> sqlx::Result<u64> {
    let codes: Vec<&str> = tickets.iter().map(|t| t.code.as_str()).collect();
    let units: Vec<i32> = tickets.iter().map(|t| t.unit).collect();
    let seats: Vec<Option<&str>> = tickets.iter().map(|t| t.seat_label.as_deref()).collect();
    let payloads: Vec<&str> = tickets.iter().map(|t| t.payload.as_str()).collect();
    let signatures: Vec<&[u8]> = tickets.iter().map(|t| t.signature.as_slice()).collect();
    let done = sqlx::query(
        "insert into tickets (code, reservation_id, quantity, unit, user_id, event_id, representation_id, offer_id,
             seat_label, payload, signature, issued_at)
         select code, $6, $7, unit, $8, $9, $10, $11, seat_label, payload, signature, $12
         from unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::bytea[])
             as t(code, unit, seat_label, payload, signature)
         on conflict (reservation_id, unit) do nothing",
    )
    .bind(&codes)
    .bind(&units)
    .bind(&seats)
    .bind(&payloads)
    .bind(&signatures)
    .bind(r.id)
    .bind(r.quantity)
    .bind(&r.user_id)
    .bind(&r.event_id)
    .bind(&r.representation_id)
    .bind(&r.offer_id)
    .bind(r.now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// A reservation's tickets, line by line in unit order (seats in the order they were asked for).
pub async fn for_reservation(conn: &mut PgConnection, reservation_id: Uuid) -> sqlx::Result<Vec<Ticket>> {
    sqlx::query_as(concat!(
        "select ",
        columns!(),
        " from tickets t join reservations l on l.id = t.reservation_id
         where l.id = $1 or l.order_id = $1
         order by l.line_no nulls first, t.unit"
    ))
    .bind(reservation_id)
    .fetch_all(conn)
    .await
}

pub async fn find(conn: &mut PgConnection, code: &str) -> sqlx::Result<Option<Ticket>> {
    sqlx::query_as(concat!("select ", columns!(), " from tickets t where t.code = $1"))
        .bind(code)
        .fetch_optional(conn)
        .await
}

/// Checks the ticket in if nobody has and it is not voided. The condition is in the update
/// itself: of two scans at once, exactly one gets the row back.
pub async fn check_in(conn: &mut PgConnection, code: &str) -> sqlx::Result<Option<Ticket>> {
    sqlx::query_as(concat!(
        "update tickets t set checked_in_at = now()
         where t.code = $1 and t.checked_in_at is null and t.voided_at is null
         returning ",
        columns!()
    ))
    .bind(code)
    .fetch_optional(conn)
    .await
}

/// A holder's tickets, most recent first, after the `(issued_at, seq)` cursor.
pub async fn for_user(
    conn: &mut PgConnection,
    user_id: &str,
    organization: Option<&str>,
    after: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> sqlx::Result<Vec<Ticket>> {
    let (after_at, after_seq) = after.unzip();
    sqlx::query_as(concat!(
        "select ",
        columns!(),
        " from tickets t
         where t.user_id = $1 and ($2::timestamptz is null or (t.issued_at, t.seq) < ($2, $3::int8))
           and ($5::text is null or t.event_id in (select id from events where organization_id = $5))
         order by t.issued_at desc, t.seq desc
         limit $4"
    ))
    .bind(user_id)
    .bind(after_at)
    .bind(after_seq)
    .bind(limit)
    .bind(organization)
    .fetch_all(conn)
    .await
}

/// Voids every ticket of a reservation not voided yet; their codes.
pub async fn void_of_reservation(
    conn: &mut PgConnection,
    reservation_id: Uuid,
    reason: &str,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "update tickets set voided_at = clock_timestamp(), void_reason = $2
         where reservation_id in (select id from reservations where id = $1 or order_id = $1) and voided_at is null
         returning code",
    )
    .bind(reservation_id)
    .bind(reason)
    .fetch_all(conn)
    .await
}

/// Voids one ticket unless it is voided already; whether it was voided now.
pub async fn void_one(conn: &mut PgConnection, code: &str, reason: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update tickets set voided_at = clock_timestamp(), void_reason = $2 where code = $1 and voided_at is null",
    )
    .bind(code)
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
