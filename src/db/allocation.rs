//! What a reservation worker reads and writes to decide a pool's pending requests. The caller
//! holds the locks of the pools it decides ([`super::pools::lock`]) for the whole transaction, so
//! the decisions of a pool are serialized, and arrival order holds by construction.

use std::collections::BTreeMap;

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{RejectionReason, ReservationStatus};

/// A pending row: a reservation of one line, or one line of an order.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Pending {
    pub id: Uuid,
    pub seq: i64,
    pub order_id: Option<Uuid>,
    pub line_no: Option<i16>,
    pub offer_id: String,
    pub representation_id: String,
    pub pool_id: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub quantity: i32,
    pub seat_labels: Option<Vec<String>>,
    pub hold_minutes: i32,
    pub best_available: bool,
    pub best_section: Option<String>,
    pub best_together: bool,
}

macro_rules! pending_columns {
    () => {
        "id, seq, order_id, line_no, offer_id, representation_id, pool_id, created_at, quantity,
         seat_labels, hold_minutes, best_available, best_section, best_together"
    };
}

/// The oldest pending rows of any of `pools` after `after` and before `before` (by `seq`), in
/// arrival order: one pool caught up to a request's turn, or the pools one run has locked,
/// decided as one stream.
pub async fn pending(
    conn: &mut PgConnection,
    pools: &[String],
    after: i64,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<Pending>> {
    sqlx::query_as(concat!(
        "select ",
        pending_columns!(),
        " from reservations
         where pool_id = any($1) and status = 'pending' and seq > $2 and ($3::int8 is null or seq < $3)
         order by seq limit $4"
    ))
    .bind(pools)
    .bind(after)
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Every line of these orders, in order.
pub async fn order_lines(conn: &mut PgConnection, orders: &[Uuid]) -> sqlx::Result<Vec<Pending>> {
    sqlx::query_as(concat!(
        "select ",
        pending_columns!(),
        " from reservations where order_id = any($1) and status = 'pending'
         order by order_id, line_no"
    ))
    .bind(orders)
    .fetch_all(conn)
    .await
}

/// The decisions of one batch, one entry per row, in parallel arrays.
#[derive(Debug, Default)]
pub struct Decisions {
    pub ids: Vec<Uuid>,
    pub statuses: Vec<ReservationStatus>,
    pub reasons: Vec<Option<RejectionReason>>,
    /// For the rows of a rejected order: the first line that did not fit.
    pub rejected_lines: Vec<Option<i16>>,
    pub hold_minutes: Vec<i32>,
    /// Units granted per pool (its books move by this).
    pub granted: BTreeMap<String, i32>,
    /// Seats of granted seated rows: (row, seat, the seat's pool).
    pub seat_holds: Vec<(Uuid, Uuid, String)>,
    /// The labels picked for each best-available row granted (null for the others).
    pub picked: Vec<Option<Vec<String>>>,
}

impl Decisions {
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Writes a batch of decisions, the books and the seat holds. The checks on `pools` and the
/// unique index on active seats refuse anything that would oversell, whatever the code above did.
/// Returns the seat version of each pool it took seats of (see [`crate::db::seats::changes`]).
pub async fn apply(conn: &mut PgConnection, d: &Decisions) -> sqlx::Result<Vec<(String, i64)>> {
    if d.is_empty() {
        return Ok(vec![]);
    }
    sqlx::query(
        // the decision's own time, once for the batch: now() is when this transaction began, which
        // can be before a reservation it decides was even stored
        "with clock as materialized (select clock_timestamp() as at)
         update reservations r
         set status = d.status, reason = d.reason, rejected_line = d.line, decided_at = clock.at,
             hold_expires_at = case when d.status = 'held' then clock.at + make_interval(mins => d.hold_minutes) end,
             seat_labels = case when d.picked is null then r.seat_labels
                                else array(select jsonb_array_elements_text(d.picked)) end
         from unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::jsonb[], $6::int2[])
                  as d(id, status, reason, hold_minutes, picked, line),
              clock
         where r.id = d.id and r.status = 'pending'",
    )
    .bind(&d.ids)
    .bind(&d.statuses)
    .bind(&d.reasons)
    .bind(&d.hold_minutes)
    // arrays of arrays must be rectangular in PostgreSQL: labels travel as JSON
    .bind(d.picked.iter().map(|p| p.as_ref().map(|labels| serde_json::json!(labels))).collect::<Vec<_>>())
    .bind(&d.rejected_lines)
    .execute(&mut *conn)
    .await?;
    let moves: Vec<(String, i32, i32, i32)> = d.granted.iter().map(|(pool, &n)| (pool.clone(), -n, n, 0)).collect();
    super::pools::adjust(conn, &moves).await?;
    if d.seat_holds.is_empty() {
        return Ok(vec![]);
    }
    let reservations: Vec<Uuid> = d.seat_holds.iter().map(|h| h.0).collect();
    let seats: Vec<Uuid> = d.seat_holds.iter().map(|h| h.1).collect();
    let pools: Vec<&str> = d.seat_holds.iter().map(|h| h.2.as_str()).collect();
    sqlx::query_as(
        "with bumped as (
             update pools set seats_version = seats_version + 1 where id = any($3) returning id, seats_version
         ), held as (
             insert into reservation_seats (reservation_id, seat_id, pool_id, changed_version)
             select t.r, t.s, t.p, b.seats_version
             from unnest($1::uuid[], $2::uuid[], $3::text[]) as t(r, s, p) join bumped b on b.id = t.p
         )
         select id, seats_version from bumped",
    )
    .bind(&reservations)
    .bind(&seats)
    .bind(&pools)
    .fetch_all(&mut *conn)
    .await
}

/// When the holds of a batch end, per item: one expiry job per item and distinct time.
pub async fn hold_ends(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> sqlx::Result<Vec<(String, String, chrono::DateTime<chrono::Utc>)>> {
    sqlx::query_as(
        "select distinct offer_id, representation_id, hold_expires_at from reservations
         where id = any($1) and status = 'held'",
    )
    .bind(ids)
    .fetch_all(conn)
    .await
}
